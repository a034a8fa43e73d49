"""`--set KEY=V1,V2` hardware variants on run, estimate and compare, and api.hardware_variants."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest

from energysim import api
from energysim.cli import main
from energysim.errors import InputError
from energysim.hardware_settings import apply, clock_note, combinations, parse_settings


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_parse_settings_reads_toml_values_and_bare_words():
    """Values are TOML (int, float, bool, quoted string) or a bare word; repeated keys are refused."""
    assert parse_settings(["engine.n_pe=8,16", "a.b=0.5,true", "engine.compat=timeloop"]) == {
        "engine.n_pe": [8, 16], "a.b": [0.5, True], "engine.compat": ["timeloop"]}
    for bad in (["engine.n_pe"], ["=3"], ["engine.n_pe="], ["engine.n_pe=8", "engine.n_pe=16"], ["a..b=1"]):
        with pytest.raises(InputError):
            parse_settings(bad)
    assert combinations({"a": [1, 2], "b": [3]}) == [{"a": 1, "b": 3}, {"a": 2, "b": 3}]


@pytest.mark.parametrize(("item", "position"), [("engine.rows=4,,8", 2), ("engine.rows=4,", 2), ("engine.rows=,4", 1)])
def test_an_empty_value_between_commas_is_refused(item, position):
    """`--set engine.rows=4,,8` names the empty value's position instead of dropping it silently."""
    values = item.partition("=")[2]
    with pytest.raises(InputError, match=rf"--set engine.rows: value {position} of {values!r} is empty"):
        parse_settings([item])


def test_apply_sets_nested_keys_and_array_entries_on_a_copy():
    """Dotted keys reach tables and `name[i]` array entries; the original data is untouched; a missing table is refused."""
    data = {"engine": {"n_pe": 64}, "memory": [{"name": "DRAM"}, {"name": "SRAM", "size_kib": 1}]}
    changed = apply(data, {"engine.n_pe": 8, "memory[1].size_kib": 4}, "f.toml")
    assert changed["engine"]["n_pe"] == 8 and changed["memory"][1]["size_kib"] == 4
    assert data["engine"]["n_pe"] == 64 and data["memory"][1]["size_kib"] == 1
    with pytest.raises(InputError, match=r"--set memory\[5\]\.x=1: f.toml has no table 'memory\[5\]'"):
        apply(data, {"memory[5].x": 1}, "f.toml")


def test_run_set_sweeps_and_names_each_variant(tmp_path):
    """`run --set engine.n_pe=8,64`: one run per value named NAME[key=value], a column of the values; 64 equals the file."""
    code, out, err = run("run", "eie-64pe-lecture", "lenet-300-100", "--set", "engine.n_pe=8,64", "--out", str(tmp_path),
                         "--quiet")
    assert code == 0, err
    assert "lenet-300-100 on eie-64pe-lecture[engine.n_pe=8]\n" in out
    summary = pd.read_csv(tmp_path / "summary.csv")
    assert list(dict.fromkeys(summary["run"])) == ["eie-64pe-lecture[engine.n_pe=8]", "eie-64pe-lecture[engine.n_pe=64]"]
    assert list(summary.columns[:6]) == ["layer", "workload", "hardware", "mode", "run", "engine.n_pe"]
    energy = pd.read_csv(tmp_path / "energy.csv")
    assert set(energy["engine.n_pe"]) == {8, 64}
    plain = api.simulate("eie-64pe-lecture", "lenet-300-100", progress=False).summary
    at_64 = summary[summary["engine.n_pe"] == 64]
    assert list(at_64["energy_pj"]) == list(plain["energy_pj"])
    at_8 = summary[summary["engine.n_pe"] == 8]
    assert (at_8["cycles_total"].to_numpy() > at_64["cycles_total"].to_numpy()).all()  # fewer PEs, more cycles


def test_set_errors_name_the_key_and_value_in_one_line(tmp_path):
    """A value the schema refuses, an unknown key, a missing table: exit 2, one line naming the setting, nothing written."""
    cases = {
        "engine.n_pe=0": "--set engine.n_pe=0: ",
        "engine.n_pe=x": "--set engine.n_pe=x: ",
        "engine.bogus=3": "--set engine.bogus=3: ",
        "nothing.x=1": "--set nothing.x=1: ",
    }
    for setting, start in cases.items():
        code, _, err = run("run", "eie-64pe-lecture", "lenet-300-100", "--set", setting, "--out", str(tmp_path / "o"))
        assert code == 2 and err.startswith("energysim: " + start) and err.count("\n") == 1, err
    code, _, err = run("estimate", "pruned/mlp-digits-fine-80", "--hw", "lecture-array", "--set", "engine.n_pe=8")
    assert code == 2 and "engine.n_pe: unknown key" in err
    assert not (tmp_path / "o").exists()


def test_estimate_set_columns_and_api_variants_agree(tmp_path):
    """`estimate --set` adds the column to every table; api.hardware_variants + api.estimate give the same TOTAL ratios."""
    code, out, err = run("estimate", "pruned/mlp-digits-fine-80", "--hw", "eie-64pe-lecture", "--set", "engine.n_pe=8,16",
                         "--out", str(tmp_path), "--quiet")
    assert code == 0, err
    assert "eie-64pe-lecture[engine.n_pe=16]: energy" in out
    for name in ("estimate", "summary", "energy", "breakdown"):
        assert set(pd.read_csv(tmp_path / f"{name}.csv")["engine.n_pe"]) == {8, 16}, name
    table = pd.read_csv(tmp_path / "estimate.csv")
    variants = api.hardware_variants("eie-64pe-lecture", {"engine.n_pe": [8, 16]})
    frame = api.estimate("pruned/mlp-digits-fine-80", variants, progress=False)
    totals = frame[frame["layer"] == "TOTAL"]
    assert list(totals["engine.n_pe"]) == [8, 16]
    assert list(totals["energy_vs_dense"]) == pytest.approx(list(table[table["layer"] == "TOTAL"]["energy_vs_dense"]))
    assert totals["energy_vs_dense"].iloc[0] != pytest.approx(totals["energy_vs_dense"].iloc[1])


def test_compare_set_values_are_columns_and_part_of_the_resume_key(tmp_path):
    """`compare --set`: a column per key, one baseline per variant, and a new value runs while the old ones are reused."""
    argv = ["compare", "--patterns", "fine", "--sparsities", "0.5", "--criteria", "magnitude", "--finetune-epochs", "0",
            "--jobs", "1", "--hw", "eie-64pe-lecture", "--out", str(tmp_path), "--quiet"]
    code, out, err = run(*argv, "--set", "engine.n_pe=8,16")
    assert code == 0, err
    frame = pd.read_csv(tmp_path / "compare.csv")
    assert list(frame["engine.n_pe"]) == [8, 16, 8, 16]
    assert list(frame["energy_vs_dense"][:2]) == [1.0, 1.0]  # each variant is its own dense baseline
    code, out, err = run(*argv, "--set", "engine.n_pe=8,16,32")
    assert code == 0, err
    assert "Reused 4 of 6 results" in " ".join(out.split())
    assert list(pd.read_csv(tmp_path / "compare.csv")["engine.n_pe"]) == [8, 16, 32, 8, 16, 32]


def test_mapping_and_compat_reach_both_variants_of_a_loopnest_estimate(tmp_path):
    """`estimate --mapping default` on a loop-nest hardware equals `run --mapping default` for the dense variant; no loop-nest --hw is refused."""
    code, _, err = run("estimate", "lenet-300-100-han2015", "--hw", "lecture-array-loopnest,lecture-array", "--mapping",
                       "default", "--out", str(tmp_path / "e"), "--quiet")
    assert code == 0, err
    code, _, err = run("run", "lecture-array-loopnest", "lenet-300-100-han2015", "--mapping", "default", "--out",
                       str(tmp_path / "r"), "--quiet")
    assert code == 0, err
    estimate = pd.read_csv(tmp_path / "e" / "summary.csv")
    dense = estimate[(estimate["run"] == "lecture-array-loopnest") & (estimate["variant"] == "dense")]
    ran = pd.read_csv(tmp_path / "r" / "summary.csv")
    assert list(dense["cycles_total"]) == list(ran["cycles_total"])
    # the default mapping's cycles (the 'default' baselines of `energysim map`); the mapper's choice takes 16,712
    assert list(dense["cycles_total"]) == [15680, 3000, 100]
    code, _, err = run("estimate", "lenet-300-100-han2015", "--hw", "lecture-array", "--compat", "timeloop")
    assert code == 2 and "--compat applies to loop-nest hardware" in err and err.count("\n") == 1


def test_explicit_variants_change_keys_together():
    """A list of {key: value} variants changes its keys together (no cross product); a mix with strings is refused."""
    variants = api.hardware_variants("eie-64pe-lecture", [{"engine.n_pe": 8, "memory[1].instances": 8},
                                                          {"engine.n_pe": 16, "memory[1].instances": 16}])
    assert [c.hardware.name for c in variants] == ["eie-64pe-lecture[engine.n_pe=8,memory[1].instances=8]",
                                                   "eie-64pe-lecture[engine.n_pe=16,memory[1].instances=16]"]
    assert [(c.hardware.engine_table["n_pe"], c.hardware.levels[1].config.instances) for c in variants] == [(8, 8), (16, 16)]
    with pytest.raises(InputError, match="not a mix"):
        api.hardware_variants("eie-64pe-lecture", ["engine.n_pe=8", {"engine.n_pe": 16}])


def test_at_key_follows_another_swept_key_on_the_command_line(tmp_path):
    """`--set engine.n_pe=8,16 --set memory[1].instances=@engine.n_pe`: two variants, the instances following the PE count."""
    assert combinations({"a": [1, 2], "b": ["@a"]}) == [{"a": 1, "b": 1}, {"a": 2, "b": 2}]
    for bad in ({"a": [1], "b": ["@c"]}, {"a": ["@b"], "b": ["@a"]}, {"a": [1], "b": ["@a", 2]}):
        with pytest.raises(InputError):
            combinations(bad)
    code, out, err = run("run", "eie-64pe-lecture", "lenet-300-100", "--set", "engine.n_pe=8,16", "--set",
                         "memory[1].instances=@engine.n_pe", "--out", str(tmp_path), "--quiet")
    assert code == 0, err
    summary = pd.read_csv(tmp_path / "summary.csv")
    assert sorted(set(zip(summary["engine.n_pe"], summary["memory[1].instances"]))) == [(8, 8), (16, 16)]


def test_a_sweep_of_too_many_variants_is_refused_before_any_is_built(monkeypatch):
    """The product of the --set value lists is held to limits.HARDWARE_VARIANTS, naming the keys and how to raise it."""
    settings = {"engine.rows": list(range(1, 65)), "engine.cols": list(range(1, 65)), "clock_ghz": [1.0, 2.0]}
    with pytest.raises(InputError, match=r"--set engine.rows \(64\) x engine.cols \(64\) x clock_ghz \(2\) is 8,192 "
                                         r"variants, over .* 4,096 variants .*ENERGYSIM_HARDWARE_VARIANTS"):
        combinations(settings)
    monkeypatch.setenv("ENERGYSIM_HARDWARE_VARIANTS", "8192")
    assert len(combinations(settings)) == 8192


def _leaky_pj_per_cycle(tmp_path) -> str:
    """lecture-array-loopnest with Timeloop-style leakage (5 pJ per cycle) on its GlobalBuffer, as a file path."""
    text = (Path(__file__).parent.parent / "hwconfigs" / "lecture-array-loopnest.toml").read_text()
    line = "bandwidth_words_per_cycle = 32   # both edges of the 16x16 array per cycle"
    assert line in text
    path = tmp_path / "leaky.toml"
    path.write_text(text.replace(line, f'{line}\nleak_pj_per_cycle = 5.0\nleak_source = "Timeloop-style"', 1)
                    .replace('name = "lecture-array-loopnest"', 'name = "leaky"', 1))
    return str(path)


def test_clock_note_names_the_energies_that_stay_at_the_files_clock(tmp_path):
    """A changed clock on fixed per-cycle static costs, EIE or a DRAM in words per cycle gets one note naming them;
    power-priced costs, a DRAM in GB/s or unchanged clocks none."""
    leaky = _leaky_pj_per_cycle(tmp_path)
    note = clock_note([*api.hardware_variants(leaky, {"clock_ghz": [1.0, 0.5, 0.25]}),
                       *api.hardware_variants("eie-64pe", {"clock_ghz": [0.4]})])
    assert note.startswith("note: --set clock_ghz changes the cycle time but not every energy or bandwidth: ")
    assert "\n" not in note
    assert ("on leaky (1.0 GHz in its file, run at 0.5, 0.25 GHz) the static energy of GlobalBuffer.leak stays the "
            "file's fixed energy per cycle (a power in W, leak_power_w instead of leak_pj_per_cycle, makes it power x "
            "time)") in note
    assert "on eie-64pe (0.8 GHz in its file, run at 0.4 GHz) the per-access energies stay those of the file's clock" in note
    a100 = (Path(__file__).parent.parent / "hwconfigs" / "a100.toml").read_text()
    assert "\npower_w = 2.8756386\n" in a100
    (tmp_path / "a100-per-cycle.toml").write_text(a100.replace("\npower_w = 2.8756386\n", "\nenergy_pj = 2039.46\n", 1))
    assert ("the static energy of SM.static_cycle stays the file's fixed energy per cycle (a power in W, a unit's "
            "power_w, makes it power x time)") in clock_note(api.hardware_variants(str(tmp_path / "a100-per-cycle.toml"),
                                                                                   {"clock_ghz": [0.705]}))
    assert clock_note(api.hardware_variants(leaky, {"clock_ghz": [1.0]})) == ""  # the file's own clock
    assert clock_note(api.hardware_variants(leaky, {"engine.mac_mesh_x": [1]})) == ""  # clock not set
    # SM static priced by power_w, HBM in GB/s: nothing stays at the file's clock
    assert clock_note(api.hardware_variants("a100", {"clock_ghz": [0.705]})) == ""
    a100_per_cycle = a100.replace("\nbandwidth_gbps = 1555.2\n", "\nbandwidth_words_per_cycle = 34.468\n", 1)
    assert a100_per_cycle != a100
    (tmp_path / "a100-hbm-per-cycle.toml").write_text(a100_per_cycle)
    assert clock_note(api.hardware_variants(str(tmp_path / "a100-hbm-per-cycle.toml"), {"clock_ghz": [0.705]})) == (
        "note: --set clock_ghz changes the cycle time but not every energy or bandwidth: on a100 (1.41 GHz in its file, "
        "run at 0.705 GHz) HBM's bandwidth stays in words per cycle, so its GB/s follows the clock (bandwidth_gbps "
        "keeps it fixed)")
    assert clock_note(api.hardware_variants("lecture-array-loopnest", {"clock_ghz": [0.5]})) == ""  # DRAM in GB/s


def test_run_and_estimate_print_the_clock_note(tmp_path):
    """`run` and `estimate` with --set clock_ghz print the note (compare shares cli.clock_note); without --set they do not."""
    leaky = _leaky_pj_per_cycle(tmp_path)
    code, out, err = run("run", leaky, "lenet-300-100", "--mapping", "default", "--set", "clock_ghz=0.5", "--quiet")
    assert code == 0, err
    assert "note: --set clock_ghz changes the cycle time but not every energy or bandwidth: on leaky" in " ".join(out.split())
    code, out, err = run("estimate", "lenet-300-100-han2015", "--hw", "eie-64pe", "--set", "clock_ghz=0.4", "--quiet")
    assert code == 0, err
    assert "on eie-64pe (0.8 GHz in its file, run at 0.4 GHz) the per-access energies" in " ".join(out.split())
    code, out, err = run("run", leaky, "lenet-300-100", "--mapping", "default", "--quiet")
    assert code == 0, err
    assert "clock_ghz" not in out


def test_among_bundled_designs_only_eie_keeps_energies_at_the_files_clock():
    """At half its clock every bundled design's static energy follows the clock, except eie-64pe's explicit
    per-access energies (eie-64pe-lecture's come from a cost table, with no clock); every DRAM bandwidth but the four
    64 GB/s arrays', the A100's 1555.2 GB/s HBM and the EIE files' 4.264 GB/s stays in words per cycle."""
    from energysim import catalog

    notes = {name: clock_note(api.hardware_variants(name, {"clock_ghz": [api.hardware(name).clock_ghz / 2]}))
             for name in catalog.hwconfig_names()}
    assert sorted(name for name, note in notes.items() if "energies stay" in note or "static energy" in note) == \
        ["eie-64pe"]
    assert sorted(name for name, note in notes.items() if "bandwidth stays in words per cycle" not in note) == \
        ["a100", "eie-64pe", "eie-64pe-lecture", "eie-like-loopnest", "horowitz-array", "horowitz-array-loopnest",
         "lecture-array", "lecture-array-loopnest"]
