"""compare --energy-aware: energy-aware rows in a sweep, and the report's three curves and pattern choice."""

from __future__ import annotations

import pandas as pd
import pytest

from energysim.errors import InputError
from energysim.report.html import render_report
from energysim.report.methods import method_points, pattern_choice_table
from energysim.sweep import grid, run_sweep


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    """A channel and global-threshold sweep of the MLP on the dense array with energy-aware points at 0.7 and 0.5."""
    out = tmp_path_factory.mktemp("compare-energy-aware")
    points = grid("mlp", ["channel", "fine_global"], [0.3, 0.6], ["l1", "magnitude"], finetune_epochs=0)
    frame = run_sweep(points, ["lecture-array"], out, jobs=1, progress=False, energy_budgets=[0.7, 0.5])
    return out, frame


def test_energy_aware_rows_are_added_within_their_budgets(swept):
    """One energy_aware row per budget, met when simulated, its ratio against the sweep's own dense row, in compare.csv."""
    out, frame = swept
    rows = frame[frame["pattern"] == "energy_aware"]
    assert sorted(rows["energy_budget"]) == [0.5, 0.7]
    assert (rows["status"] == "ok").all()
    assert (rows["energy_vs_dense"] <= rows["energy_budget"]).all()
    dense = frame[frame["pattern"] == "dense"].iloc[0]
    assert (rows["energy_vs_dense"] == rows["energy_pj"] / dense["energy_pj"]).all()
    assert rows["allocation"].str.contains("channel@").all()
    written = pd.read_csv(out / "compare.csv")
    assert (written["pattern"] == "energy_aware").sum() == 2
    assert (out / "energy-aware" / "lecture-array" / "budget-0.5" / "allocation.csv").is_file()


def test_resumed_sweep_reuses_the_energy_aware_journal(swept, monkeypatch):
    """The same sweep again trains nothing for its energy-aware points and gives the same rows."""
    from energysim.energy_aware import job as job_module

    out, frame = swept

    def refuse(*args, **kwargs):
        raise AssertionError("energy-aware work repeated on resume")

    monkeypatch.setattr(job_module, "energy_sensitivity", refuse)
    monkeypatch.setattr(job_module, "score", refuse)
    monkeypatch.setattr(job_module, "train", refuse)
    points = grid("mlp", ["channel", "fine_global"], [0.3, 0.6], ["l1", "magnitude"], finetune_epochs=0)
    again = run_sweep(points, ["lecture-array"], out, jobs=1, progress=False, energy_budgets=[0.7, 0.5])
    mine = again[again["pattern"] == "energy_aware"].reset_index(drop=True)
    before = frame[frame["pattern"] == "energy_aware"].reset_index(drop=True)
    assert mine[["allocation", "energy_pj", "accuracy"]].equals(before[["allocation", "energy_pj", "accuracy"]])


def test_bad_energy_budget_is_refused_before_anything_runs(tmp_path):
    """A budget of 0 is one sentence naming the rule, and the folder stays empty."""
    points = grid("mlp", ["channel"], [0.5], ["l1"])
    with pytest.raises(InputError, match=r"energy budgets must be fractions of dense energy in \(0, 1\] \(got 0\)"):
        run_sweep(points, ["lecture-array"], tmp_path / "out", jobs=1, progress=False, energy_budgets=[0])
    assert not (tmp_path / "out").exists()


def test_report_draws_the_three_curves_and_the_pattern_choice(swept):
    """The compare section has the method-curves figure and a pattern-choice row naming channels on the dense array."""
    out, frame = swept
    page = render_report(out)
    assert "uniform, global threshold and energy-aware" in page
    assert 'alt="accuracy vs energy per pruning method"' in page
    choice = pattern_choice_table(method_points(frame, "compare"))
    row = choice.iloc[0]
    assert row["run"] == "lecture-array" and row["chosen patterns"] == "channel"
    assert "fine_global: least 1 of dense (buys nothing here)" in row["why (what each pattern buys on this run)"]


def test_compare_cli_passes_its_energy_aware_budgets_to_the_sweep(tmp_path, monkeypatch, swept):
    """`compare --energy-aware 0.7,0.5` hands [0.7, 0.5] to run_sweep and prints the energy_aware rows it returns."""
    import io

    import energysim.sweep as sweep_module
    from energysim.cli import main

    seen = {}

    def fake(points, choices, out_dir, **options):
        seen.update(options)
        return swept[1]

    monkeypatch.setattr(sweep_module, "run_sweep", fake)
    out = io.StringIO()
    code = main(["compare", "--patterns", "channel", "--sparsities", "0.5", "--criteria", "l1", "--hw", "lecture-array",
                 "--energy-aware", "0.7,0.5", "--out", str(tmp_path / "c")], out=out, err=io.StringIO())
    assert code == 0 and seen["energy_budgets"] == [0.7, 0.5]
    assert out.getvalue().count("energy_aware") >= 2


@pytest.mark.parametrize("value", ["x", ","])
def test_compare_cli_refuses_a_budget_that_is_not_a_number(value, tmp_path):
    """A non-number budget is one line naming --energy-aware, exit 2, nothing written."""
    import io

    from energysim.cli import main

    err = io.StringIO()
    code = main(["compare", "--hw", "lecture-array", "--energy-aware", value, "--out", str(tmp_path / "c")],
                out=io.StringIO(), err=err)
    assert code == 2 and "--energy-aware" in err.getvalue() and len(err.getvalue().strip().splitlines()) == 1
    assert not (tmp_path / "c").exists()
