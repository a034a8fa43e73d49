"""The comparison's baselines and table rendering (the full comparison is benchmarks/energy_aware_comparison.py)."""

from __future__ import annotations

import math

import pandas as pd

from energysim.energy_aware.comparison import baseline_at_budget, markdown_table, plot_comparison
from energysim.energy_aware.measure import simulate_model
from energysim.energy_aware.options import LayerOption
from energysim.estimation import load_hardware_list


def test_global_threshold_cannot_save_energy_on_the_dense_array(tiny_mlp, tiny_data):
    """Fine-grained zeros buy nothing on a dense array: the global threshold is unreachable at 0.9, least energy 1."""
    choice = load_hardware_list(["lecture-array"])[0]
    calibration = tiny_data.calibration(16)
    dense = simulate_model(tiny_mlp, choice, calibration, shrink=False, dense_mode=True)
    row = baseline_at_budget(tiny_mlp, choice, 0.9, tiny_data, calibration, dense.energy_pj, [0.5, 0.9], True, 0)
    assert row["status"] == "unreachable: least energy reached 1 of dense"
    assert math.isnan(row["accuracy"])


def test_uniform_channels_meet_a_budget_on_the_dense_array(tiny_mlp, tiny_data):
    """Uniform channel pruning takes the least candidate that meets 0.7; its simulated energy is within the budget."""
    choice = load_hardware_list(["lecture-array"])[0]
    calibration = tiny_data.calibration(16)
    dense = simulate_model(tiny_mlp, choice, calibration, shrink=False, dense_mode=True)
    candidates = [LayerOption("channel", s) for s in (0.1, 0.3, 0.5)]
    row = baseline_at_budget(tiny_mlp, choice, 0.7, tiny_data, calibration, dense.energy_pj, candidates, False, 0)
    assert row["status"] == "ok" and row["energy_vs_dense"] <= 0.7
    assert row["choice"] in ("channel@0.1", "channel@0.3", "channel@0.5")


def test_markdown_table_marks_unreached_budgets(tmp_path):
    """A met budget shows accuracy (energy); an unreached one '-'; the plot is written."""
    table = pd.DataFrame([
        {"model": "mlp", "run": "hw", "budget": 0.5, "method": "uniform", "choice": "channel@0.4", "status": "ok",
         "energy_vs_dense": 0.45, "accuracy": 0.97, "accuracy_dense": 0.98, "wall_time_s": 1.0},
        {"model": "mlp", "run": "hw", "budget": 0.5, "method": "global", "choice": "", "status": "unreachable: x",
         "energy_vs_dense": math.nan, "accuracy": math.nan, "accuracy_dense": 0.98, "wall_time_s": 1.0},
    ])
    text = markdown_table(table)
    assert "| mlp | hw | uniform | 97.0 (0.45) |" in text
    assert "| mlp | hw | global | - |" in text
    assert plot_comparison(table, tmp_path / "c.png").stat().st_size > 0


def test_a_collapsed_model_is_a_refusal_not_an_error(tiny_mlp, tiny_data):
    """A model with a layer left without weights (a global threshold at 99 %) is measured as refused, naming the layer."""
    collapsed = tiny_mlp.copy()
    collapsed.set_mask("fc2.weight", collapsed.weights("fc2") * 0 != 0)
    choice = load_hardware_list(["lecture-array"])[0]
    measured = simulate_model(collapsed, choice, tiny_data.calibration(16), shrink=False)
    assert not measured.ok and measured.refused == "layer 'fc2' has no non-zero weight left (the model collapsed)"
