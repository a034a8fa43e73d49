"""Each reproduction ends with its verdict, "k of n figures within tolerance; worst: ...", over a table of its misses."""

from __future__ import annotations

import io
import math

import pandas as pd
import pytest

from energysim.cli import main
from energysim.reproduce import misses_table, summary_line


def _sections():
    latency = pd.DataFrame({"layer": ["A", "B", "C"], "quantity": ["actual"] * 3, "model": [10.0, 14.0, 3.0],
                            "paper": [10.0, 10.0, 2.0], "ratio": [1.0, 1.4, 1.5], "tolerance": [0.15] * 3,
                            "ok": [True, False, False]})
    info = pd.DataFrame({"quantity": ["idle share"], "model": [0.3], "paper": [math.nan], "ratio": [math.nan],
                         "tolerance": [math.nan], "ok": [None]})
    return [("Latency (us)", latency), ("Informative", info)]


def test_verdict_counts_judged_rows_and_names_the_worst():
    """1 of 3 judged rows within 15 %; the informative row is not counted; the worst miss is C (ratio 1.5 beats 1.4)."""
    assert summary_line(_sections()) == ("1 of 3 figures within tolerance; worst: C actual in 'Latency (us)' "
                                         "(model 3 vs published 2, ratio 1.5, tolerance 15 %)")


def test_misses_table_lists_the_misses_worst_first():
    """The misses table has B and C only, worst first, numbers kept as numbers, tolerance as text."""
    table = misses_table(_sections())
    assert list(table.columns) == ["figure", "model", "published", "ratio", "tolerance", "section"]
    assert table["figure"].tolist() == ["C actual", "B actual"]
    assert table["model"].tolist() == [3.0, 14.0] and table["tolerance"].tolist() == ["15 %", "15 %"]


def test_no_misses_says_so():
    """With every judged row within tolerance the verdict says 'no misses' and the table is empty."""
    sections = [("Latency (us)", _sections()[0][1].assign(ok=True))]
    assert summary_line(sections) == "3 of 3 figures within tolerance; no misses"
    assert misses_table(sections).empty


@pytest.mark.parametrize("which", ["eie", "a100"])
def test_cli_output_ends_with_the_verdict_and_has_no_none_or_tracker_words(which):
    """`energysim reproduce eie|a100 --quick`: the last section is the verdict over the misses; no 'None' cell, no 'issue' wording."""
    out = io.StringIO()
    assert main(["reproduce", which, "--quick"], out=out, err=io.StringIO()) == 0
    text = out.getvalue()
    verdict = [line for line in text.splitlines() if "figures within tolerance" in line]
    assert len(verdict) == 1 and verdict[0].lstrip("# ").split(" of ")[0].isdigit()
    assert "; worst: " in verdict[0] or verdict[0].endswith("no misses")
    tail = text.split(verdict[0], 1)[1]
    assert "figure" in tail and "published" in tail  # the misses table follows the verdict
    assert "None" not in text
    assert "issue" not in text.lower()


def test_progress_bar_on_stderr_only_when_asked(capsys):
    """reproduce('a100', progress=True) shows a bar of 8 sections on stderr; progress=False writes nothing to stderr or stdout."""
    from energysim.reproduce import reproduce

    reproduce("a100", quick=True, progress=True)
    shown = capsys.readouterr()
    assert "reproduce a100" in shown.err and "/8 [" in shown.err and shown.out == ""
    reproduce("a100", quick=True, progress=False)
    quiet = capsys.readouterr()
    assert quiet.err == "" and quiet.out == ""


def test_misses_that_differ_only_in_their_timing_figure_stay_apart():
    """A section's 'figure' column leads the miss's name, so two timing figures of one quantity read differently."""
    frame = pd.DataFrame({"quantity": ["gemv speed-up", "gemv speed-up"], "figure": ["hardware bound", "library-calibrated"],
                          "model": [1.7, 1.7], "published": [0.11, 0.11], "ratio": [15.5, 15.5], "tolerance": ["a", "b"],
                          "ok": [False, False], "source": ["s", "s"]})
    table = misses_table([("Speed-up", frame)])
    assert table["figure"].tolist() == ["hardware bound: gemv speed-up", "library-calibrated: gemv speed-up"]
