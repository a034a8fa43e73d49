"""Compare sweeps, estimates and the demo: rows per point and hardware, resume, refusals, lessons."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest

from energysim import api
from energysim.catalog import workload_path
from energysim.cli import main
from energysim.errors import InputError
from energysim.estimation import densified, estimate, load_hardware_list
from energysim.report.files import read_notes
from energysim.sweep import COMPARE_COLUMNS, SweepPoint, grid, pareto_front, run_notes, run_sweep
from energysim.workloads.workload import load_workload

HW = ("lecture-array", "eie-64pe-lecture", "a100:sparse_2_4")


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    """A small sweep: dense, fine 50 %, 2:4 and channel 50 % of the MLP on three hardware specs."""
    out = tmp_path_factory.mktemp("sweep")
    points = grid("mlp", ["fine", "nm:2:4", "channel"], [0.5], ["magnitude", "l1"], finetune_epochs=0)
    return out, points, run_sweep(points, HW, out, jobs=1, progress=False)


def test_grid_skips_pairs_that_do_not_apply():
    """Magnitude is not a channel criterion, L1 is not an element criterion, kernel pruning has no MLP layer."""
    points = grid("mlp", ["fine", "kernel", "channel"], [0.5], ["magnitude", "l1"])
    assert {(p.pattern, p.criterion) for p in points} == {("dense", "none"), ("fine", "magnitude"), ("channel", "l1")}
    with pytest.raises(InputError, match="criterion must be one of"):
        grid("mlp", ["fine"], [0.5], ["biggest"])
    with pytest.raises(InputError, match="nm:N:M"):
        grid("mlp", ["nm:2"], [0.5], ["magnitude"])


def test_sweep_rows_and_columns(sweep):
    """One row per point and hardware, with the documented columns, written to compare.csv."""
    out, points, frame = sweep
    assert list(frame.columns) == list(COMPARE_COLUMNS)
    assert len(frame) == len(points) * len(HW)
    assert pd.read_csv(out / "compare.csv").shape == frame.shape


def test_sweep_shows_the_lectures_lessons(sweep):
    """Dense array: fine pruning saves nothing, channel pruning saves; EIE saves on fine; 2:4 core refuses non-2:4."""
    _, _, frame = sweep
    ok = frame[frame["status"] == "ok"].set_index(["pattern", "run"])
    assert ok.loc[("fine", "lecture-array"), "energy_vs_dense"] == pytest.approx(1.0)
    assert ok.loc[("channel", "lecture-array"), "energy_vs_dense"] < 0.6
    assert ok.loc[("fine", "eie-64pe-lecture"), "energy_vs_dense"] < 0.9
    assert 0.5 <= ok.loc[("nm:2:4", "a100:sparse_2_4"), "latency_vs_dense"] < 1.0
    assert ok.loc[("nm:2:4", "a100:sparse_2_4"), "storage_vs_dense"] < 1.0
    refused = frame[(frame["pattern"] == "fine") & (frame["run"] == "a100:sparse_2_4")]
    assert refused["status"].iloc[0].startswith("unsupported: ") and "2:4" in refused["status"].iloc[0]


def test_sweep_notes_are_text_on_every_row(sweep):
    """The note column is a string on every row, '' where there is none (refused rows included), never NaN."""
    _, _, frame = sweep
    assert frame["note"].map(type).eq(str).all()
    assert (frame.loc[frame["status"] != "ok", "note"] == "").all()


def test_sweep_resumes_from_journal(sweep, monkeypatch):
    """A second run over the same folder runs no point again and returns the same table."""
    out, points, frame = sweep
    import energysim.sweep as module

    def refuse(*_, **__):
        raise AssertionError("a finished point ran again")

    monkeypatch.setattr(module, "run_point", refuse)
    again = run_sweep(points, HW, out, jobs=1, progress=False)
    pd.testing.assert_frame_equal(again, frame)
    assert len((out / "points.jsonl").read_text().splitlines()) == len(points) * len(HW)


def test_interrupted_journal_line_is_rerun(tmp_path):
    """A journal whose last line was cut mid-write resumes: the cut point is run again, the others are not."""
    points = grid("mlp", ["fine"], [0.5], ["magnitude"], finetune_epochs=0)
    run_sweep(points, ("lecture-array",), tmp_path, jobs=1, progress=False)
    journal = tmp_path / "points.jsonl"
    lines = journal.read_text().splitlines()
    journal.write_text(lines[0] + "\n" + lines[1][: len(lines[1]) // 2])
    frame = run_sweep(points, ("lecture-array",), tmp_path, jobs=1, progress=False)
    assert len(frame) == 2 and (frame["status"] == "ok").all()


def test_pareto_front_is_non_dominated(sweep):
    """No point on the front is beaten in both accuracy and energy by another point of its hardware."""
    _, _, frame = sweep
    front = pareto_front(frame)
    assert len(front) >= len(HW) - 1
    ok = frame[frame["status"] == "ok"]
    for _, row in front.iterrows():
        same = ok[ok["run"] == row["run"]]
        assert not ((same["accuracy"] > row["accuracy"]) & (same["energy_pj"] < row["energy_pj"])).any()


def test_point_key_is_stable():
    """A point's key depends only on its settings."""
    a = SweepPoint("mlp", "fine", "magnitude", 0.5, 2)
    assert a.key == SweepPoint("mlp", "fine", "magnitude", 0.5, 2).key != SweepPoint("mlp", "fine", "magnitude", 0.6, 2).key


def test_estimate_dense_vs_pruned():
    """On Han et al.'s LeNet densities EIE saves energy and the dense array saves nothing."""
    pruned = load_workload(workload_path("lenet-300-100-han2015"))
    result = estimate(pruned, load_hardware_list(["lecture-array", "eie-64pe-lecture"]))
    totals = result.layers[result.layers["layer"] == "TOTAL"].set_index("run")
    assert totals.loc["lecture-array", "energy_vs_dense"] == pytest.approx(1.0)
    assert totals.loc["eie-64pe-lecture", "energy_vs_dense"] < 0.5
    assert set(result.breakdown["variant"]) == {"dense", "pruned"}


def test_densified_keeps_geometry_and_activation_density():
    """The default dense original has every weight present and the pruned workload's activation densities."""
    pruned = load_workload(workload_path("alexnet-han2015"))
    dense = densified(pruned)
    assert [l.name for l in dense.layers] == [l.name for l in pruned.layers]
    assert all(l.weight_density == 1.0 for l in dense.layers)
    assert [l.activation_density for l in dense.layers] == [l.activation_density for l in pruned.layers]


def test_compare_cli_and_demo(tmp_path):
    """`energysim compare` and `energysim demo --quick` run end to end and write compare.csv."""
    out = io.StringIO()
    code = main(["compare", "--patterns", "fine", "--sparsities", "0.5", "--criteria", "magnitude",
                 "--hw", "lecture-array", "--finetune-epochs", "0", "--jobs", "1", "--out", str(tmp_path / "c"), "--quiet"], out=out)
    assert code == 0 and (tmp_path / "c" / "compare.csv").is_file()
    out = io.StringIO()
    assert main(["demo", "--quick", "--out", str(tmp_path / "d")], out=out) == 0
    assert "what the sweep shows" in out.getvalue()
    assert (tmp_path / "d" / "compare.csv").is_file()


def test_estimate_cli_writes_tables(tmp_path):
    """`energysim estimate` prints savings per hardware and writes estimate and breakdown tables."""
    out = io.StringIO()
    code = main(["estimate", "lenet-300-100-han2015", "--hw", "eie-64pe-lecture", "--out", str(tmp_path), "--format", "json"], out=out)
    assert code == 0
    assert "eie-64pe-lecture: energy 0." in out.getvalue()
    rows = json.loads((tmp_path / "estimate.json").read_text())
    assert rows[-1]["layer"] == "TOTAL"


def test_costs_latex_and_layer_table():
    """`costs --format tex` is a LaTeX tabular; `costs --workload` gives energy per layer per hardware."""
    out = io.StringIO()
    assert main(["costs", "--format", "tex"], out=out) == 0
    assert out.getvalue().startswith("\\begin{tabular}{lrr}") and "32-bit DRAM access & 640 & 6,400" in out.getvalue()
    out = io.StringIO()
    assert main(["costs", "--workload", "lenet-300-100", "--hw", "lecture-array", "--format", "csv"], out=out) == 0
    frame = pd.read_csv(io.StringIO(out.getvalue()))
    assert list(frame["layer"]) == ["fc1", "fc2", "fc3"] and (frame["pj_per_mac"] > 0).all()


def test_bad_hardware_spec_writes_nothing(tmp_path):
    """A mode the engine lacks is refused before the output folder, model cache or journal exist."""
    out = tmp_path / "out"
    with pytest.raises(InputError, match="mode must be one of dense, sparse_2_4 \\(got 'bogus'\\)"):
        run_sweep(grid("mlp", ["fine"], [0.5], ["magnitude"]), ("a100:bogus",), out, jobs=1, progress=False)
    assert not out.exists()


def test_non_numeric_sparsity_is_one_line_exit_2(tmp_path):
    """`compare --sparsities 0.5,x` exits 2 with one line naming the bad item."""
    err = io.StringIO()
    assert main(["compare", "--sparsities", "0.5,x", "--out", str(tmp_path / "c")], out=io.StringIO(), err=err) == 2
    assert err.getvalue() == "energysim: --sparsities must be comma-separated numbers in [0, 1) (got 'x')\n"


def test_estimate_runs_the_pruned_variant_in_the_named_mode():
    """`a100:sparse_2_4` runs the dense original in dense mode and the 2:4 workload in 2:4 mode: faster, smaller."""
    pruned = load_workload(workload_path("pruned/cnn-digits-2of4"))
    result = estimate(pruned, load_hardware_list(["a100:sparse_2_4", "a100"]))
    totals = result.layers[result.layers["layer"] == "TOTAL"].set_index("run")
    assert totals.loc["a100:sparse_2_4", "latency_vs_dense"] < 1.0
    assert totals.loc["a100:sparse_2_4", "storage_vs_dense"] < 1 / 1.5
    assert totals.loc["a100:dense", "latency_vs_dense"] == pytest.approx(1.0)


# ------------------------------------------------------------------ issue 10: run key, ratios, stale reuse


def test_compare_rows_carry_the_run_key(sweep):
    """Every compare row names workload, hardware (the config), mode and run; the ratios are pruned / dense."""
    _, _, frame = sweep
    tc = frame[frame["run"] == "a100:sparse_2_4"]
    assert set(tc["hardware"]) == {"a100"} and set(tc["mode"]) == {"sparse_2_4"}
    assert set(frame.loc[frame["run"] == "lecture-array", "mode"]) == {""}
    assert set(frame["workload"]) == {"mlp"}
    ok = frame[frame["status"] == "ok"]
    dense = ok[ok["pattern"] == "dense"].set_index("run")["energy_pj"]
    assert (ok["energy_vs_dense"] == ok["energy_pj"] / ok["run"].map(dense)).all()


def test_a100_rows_carry_the_timing_note(sweep):
    """A100 rows name the timing; the 2:4 point (batch-1 MLP, padded calls) has the kernel model's figure, others none."""
    _, _, frame = sweep
    ok = frame[frame["status"] == "ok"]
    tc = ok[ok["run"] == "a100:sparse_2_4"]
    assert tc["note"].str.startswith("a100:sparse_2_4 is timed at the hardware bound").all()
    two_four = tc.loc[tc["pattern"] == "nm:2:4", "note"].iloc[0]
    assert "the kernel model gives" in two_four and "pads" in two_four and "extrapolation" in two_four
    assert "kernel model gives" not in tc.loc[tc["pattern"] == "dense", "note"].iloc[0]
    assert (ok.loc[ok["run"] != "a100:sparse_2_4", "note"].fillna("") == "").all()


def test_run_notes_take_the_best_pruned_point(sweep):
    """run_notes gives each noted run its lowest-energy pruned point's note (2:4 here); runs without notes are left out."""
    _, _, frame = sweep
    ok = frame[frame["status"] == "ok"]
    two_four = ok[(ok["run"] == "a100:sparse_2_4") & (ok["pattern"] != "dense")]
    best = two_four.loc[two_four["energy_vs_dense"].idxmin(), "note"]
    assert run_notes(frame) == {"a100:sparse_2_4": best}
    assert run_notes(frame.drop(columns="note")) == {}


def test_compare_cli_prints_the_a100_timing_note_and_writes_it_to_notes_txt(tmp_path):
    """`compare` on a100:sparse_2_4 prints that run's note under the table (timing, kernel model's figure), wrapped,
    and writes the notes it printed, unwrapped, to notes.txt in its --out folder (named on the last line)."""
    out = io.StringIO()
    assert main(["compare", "--patterns", "nm:2:4", "--sparsities", "0.5", "--criteria", "magnitude", "--hw",
                 "a100:sparse_2_4", "--finetune-epochs", "0", "--jobs", "1", "--out", str(tmp_path / "c"), "--quiet"],
                out=out) == 0
    notes = read_notes(tmp_path / "c")
    timing = [note for note in notes if note.startswith("note: a100:sparse_2_4 is timed")]
    assert len(timing) == 1 and "the kernel model gives" in timing[0]
    printed = out.getvalue()
    assert " ".join(notes) in " ".join(printed.split()) and "compare.csv and notes.txt" in " ".join(printed.split())


def test_resume_tells_how_many_results_were_reused(sweep):
    """Running the same sweep again reuses every (point, hardware) result and says so."""
    out, points, _ = sweep
    again = run_sweep(points, HW, out, jobs=1, progress=False)
    assert again.attrs == {"results_reused": len(points) * len(HW), "results_total": len(points) * len(HW)}


def test_other_hardware_in_the_same_folder_is_refused_then_forced(tmp_path):
    """A journal made with other hardware is not reused: refused without --force, with it only the new rows return."""
    points = grid("mlp", ["fine"], [0.5], ["magnitude"], finetune_epochs=0)
    run_sweep(points, ("lecture-array",), tmp_path, jobs=1, progress=False)
    with pytest.raises(InputError, match=r"(\d+) of its \1 results are not in this sweep .*--force drops them, the "
                                         r"other 0 are reused"):
        run_sweep(points, ("eie-64pe-lecture",), tmp_path, jobs=1, progress=False)
    frame = run_sweep(points, ("eie-64pe-lecture",), tmp_path, jobs=1, progress=False, force=True)
    assert set(frame["run"]) == {"eie-64pe-lecture"} and frame.attrs["results_reused"] == 0
    assert len((tmp_path / "points.jsonl").read_text().splitlines()) == len(points)


def test_changed_hardware_file_content_is_not_reused(tmp_path):
    """Editing a cost in the hardware file changes the resume key: the old rows are never returned."""
    from energysim.catalog import hwconfig_path

    hw = tmp_path / "array.toml"
    text = hwconfig_path("lecture-array").read_text()
    hw.write_text(text)
    points = grid("mlp", ["fine"], [0.5], ["magnitude"], finetune_epochs=0)
    first = run_sweep(points, (str(hw),), tmp_path / "out", jobs=1, progress=False)
    hw.write_text(text.replace("schema_version", "# edited\nschema_version", 1))
    with pytest.raises(InputError, match="results are not in this sweep"):
        run_sweep(points, (str(hw),), tmp_path / "out", jobs=1, progress=False)
    again = run_sweep(points, (str(hw),), tmp_path / "out", jobs=1, progress=False, force=True)
    assert again.attrs["results_reused"] == 0
    assert list(again["energy_pj"]) == list(first["energy_pj"])  # a comment changes the key, not the numbers


def test_a_larger_grid_reuses_the_common_points(tmp_path):
    """Adding a sparsity to a finished sweep runs only the new points."""
    small = grid("mlp", ["fine"], [0.5], ["magnitude"], finetune_epochs=0)
    run_sweep(small, ("lecture-array",), tmp_path, jobs=1, progress=False)
    large = grid("mlp", ["fine"], [0.5, 0.9], ["magnitude"], finetune_epochs=0)
    frame = run_sweep(large, ("lecture-array",), tmp_path, jobs=1, progress=False)
    assert frame.attrs == {"results_reused": 2, "results_total": 3}


def test_compare_into_a_folder_of_other_results_is_refused(tmp_path):
    """compare refuses a folder holding run/estimate results, before training anything."""
    (tmp_path / "summary.csv").write_text("layer\nfc1\n")
    with pytest.raises(InputError, match="already holds results \\(summary.csv\\)"):
        run_sweep(grid("mlp", ["fine"], [0.5], ["magnitude"]), ("lecture-array",), tmp_path, jobs=1, progress=False)
    assert not (tmp_path / "models").exists()


def test_compare_cli_prints_aligned_rows_and_reuse(tmp_path, monkeypatch):
    """`compare` prints an aligned table within COLUMNS and says how many results it reused."""
    monkeypatch.setenv("COLUMNS", "100")
    argv = ["compare", "--patterns", "fine", "--sparsities", "0.5", "--criteria", "magnitude", "--hw", "lecture-array",
            "--hw", "eie-64pe-lecture", "--finetune-epochs", "0", "--jobs", "1", "--out", str(tmp_path / "c")]
    main(argv, out=io.StringIO())
    out = io.StringIO()
    assert main(argv, out=out) == 0
    text = out.getvalue()
    assert max(map(len, text.splitlines())) <= 100
    assert "Reused 4 of 4 results" in text
    assert {line.split()[4] for line in text.splitlines()[2:6]} == {"lecture-array", "eie-64pe-lecture"}


def test_corrupt_journal_line_is_refused_but_a_cut_last_line_is_not(tmp_path):
    """A complete journal line that is not a record is refused by line number; only a cut last line is rerun."""
    (tmp_path / "points.jsonl").write_text("{not json\n")
    with pytest.raises(InputError, match="points.jsonl: line 1 is not a sweep journal record"):
        run_sweep(grid("mlp", ["fine"], [0.5], ["magnitude"]), ("lecture-array",), tmp_path, jobs=1, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["points.jsonl"]


def test_compare_counts_are_checked_at_the_edge():
    """`compare --jobs 0`, `--seed -1` and `--finetune-epochs -1` exit 2 naming the option, before any training."""
    for option, value in (("--jobs", "0"), ("--seed", "-1"), ("--finetune-epochs", "-1")):
        err = io.StringIO()
        assert main(["compare", option, value, "--out", "never-written"], out=io.StringIO(), err=err) == 2
        assert f"argument {option}: must be an integer >= " in err.getvalue()


def test_layer_costs_divide_by_one_dense_mac_count_per_layer():
    """costs --workload: pj_per_dense_mac divides every engine's energy by the layer's dense MACs (EIE executes fewer; its pj_per_mac uses those)."""
    frame = api.layer_cost_table(["lenet-300-100-han2015"], ["lecture-array", "eie-64pe-lecture"])
    lecture, eie = (frame[frame["run"] == run].set_index("layer") for run in ("lecture-array", "eie-64pe-lecture"))
    assert list(lecture["dense_macs"]) == list(eie["dense_macs"]) == [784 * 300, 300 * 100, 100 * 10]
    assert (eie["macs"] < eie["dense_macs"]).all()
    assert np.allclose(eie["pj_per_dense_mac"], eie["energy_pj"] / eie["dense_macs"])
    assert np.allclose(eie["pj_per_mac"], eie["energy_pj"] / eie["macs"])
