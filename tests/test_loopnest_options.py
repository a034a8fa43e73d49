"""--mapping / --compat on a mixed hardware list: run, estimate and compare treat them alike."""

from __future__ import annotations

import io

import pandas as pd
import pytest

from energysim.cli import main

MIXED = "lecture-array,lecture-array-loopnest"
"""A built-in engine and a loop-nest design."""


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def _summary(folder) -> pd.DataFrame:
    return pd.read_csv(folder / "summary.csv").groupby("run")["energy_pj"].sum()


def test_run_applies_compat_to_the_loopnest_hardware_of_a_mixed_list(tmp_path):
    """`run` of a mixed list with --compat runs it on the loop-nest design, the rest without, and says so (was exit 2)."""
    code, out, err = run("run", MIXED, "lenet-300-100", "--compat", "timeloop", "--out", str(tmp_path / "mixed"), "--quiet")
    assert code == 0, err
    assert ("note: --compat timeloop applied to the loop-nest hardware only; lecture-array ran without it" in out)
    for spec, extra in (("lecture-array", ()), ("lecture-array-loopnest", ("--compat", "timeloop"))):
        assert run("run", spec, "lenet-300-100", *extra, "--out", str(tmp_path / spec), "--quiet")[0] == 0
    mixed = _summary(tmp_path / "mixed")
    assert mixed["lecture-array"] == _summary(tmp_path / "lecture-array")["lecture-array"]
    assert mixed["lecture-array-loopnest"] == _summary(tmp_path / "lecture-array-loopnest")["lecture-array-loopnest"]


def test_estimate_and_run_agree_on_a_mixed_list_with_compat(tmp_path):
    """`estimate` of the same mixed list gives each run's dense energy `run` gives, with the same note."""
    assert run("run", MIXED, "lenet-300-100", "--compat", "timeloop", "--out", str(tmp_path / "r"), "--quiet")[0] == 0
    code, out, err = run("estimate", "lenet-300-100", "--hw", MIXED, "--compat", "timeloop", "--out",
                         str(tmp_path / "e"), "--quiet")
    assert code == 0, err
    assert "note: --compat timeloop applied to the loop-nest hardware only; lecture-array ran without it" in out
    table = pd.read_csv(tmp_path / "e" / "estimate.csv")
    totals = table[table["layer"] == "TOTAL"].set_index("run")["energy_uj_dense"] * 1e6
    expected = _summary(tmp_path / "r")
    for name in expected.index:
        assert totals[name] == pytest.approx(expected[name], rel=1e-12)


@pytest.mark.parametrize("command", [("run", "lecture-array", "lenet-300-100"),
                                     ("estimate", "lenet-300-100", "--hw", "lecture-array")])
def test_loopnest_options_without_loopnest_hardware_are_refused_alike(command):
    """--mapping / --compat with no loop-nest hardware: `run` and `estimate` refuse in the same one line, exit 2."""
    code, out, err = run(*command, "--compat", "ideal", "--quiet")
    assert code == 2 and out == ""
    assert err == ('energysim: --compat applies to loop-nest hardware (engine kind "loopnest") and none of the hardware '
                   "is one (got lecture-array)\n")


def test_no_note_when_every_hardware_takes_the_options():
    """A list of loop-nest designs only gets no note (nothing ran without the option)."""
    code, out, err = run("run", "lecture-array-loopnest", "gemm-square", "--compat", "ideal", "--quiet")
    assert code == 0, err
    assert "applied to the loop-nest hardware only" not in out


def test_run_path_follows_the_same_rule_for_the_dense_engine(tmp_path):
    """`run --path` applies to the dense-array hardware of a mixed list (was exit 2 on the loop-nest one), refused without any."""
    code, out, err = run("run", MIXED, "lenet-300-100", "--path", "cycle", "--out", str(tmp_path / "mixed"), "--quiet")
    assert code == 0, err
    assert "note: --path cycle applied to the dense-array hardware only; lecture-array-loopnest ran without it" in out
    assert run("run", "lecture-array", "lenet-300-100", "--path", "cycle", "--out", str(tmp_path / "one"), "--quiet")[0] == 0
    assert _summary(tmp_path / "mixed")["lecture-array"] == _summary(tmp_path / "one")["lecture-array"]
    code, _, err = run("run", "lecture-array-loopnest", "lenet-300-100", "--path", "cycle", "--quiet")
    assert code == 2 and err == ('energysim: --path applies to dense-array hardware (engine kind "dense") and none of the '
                                 "hardware is one (got lecture-array-loopnest)\n")
