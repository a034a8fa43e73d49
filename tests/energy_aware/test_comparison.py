"""The comparison's baselines and table rendering (the full comparison is benchmarks/energy_aware_comparison.py)."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from energysim.energy_aware.comparison import _held_out_pattern, baseline_at_budget, markdown_table
from energysim.energy_aware.measure import simulate_model
from energysim.energy_aware.options import LayerOption
from energysim.energy_aware.sensitivity import Validation
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


class _SealedTest:
    """Training images of a split whose test set raises when read (to prove a choice never looks at it)."""

    def __init__(self, data):
        self.x_train, self.y_train = data.x_train, data.y_train

    @property
    def x_test(self):
        raise AssertionError("the test set was read")

    y_test = x_test


@pytest.fixture
def sealed_run(tiny_mlp, tiny_data):
    """lecture-array, its calibration, the dense energy (pJ), a sealed split and its validation split."""
    choice = load_hardware_list(["lecture-array"])[0]
    calibration = tiny_data.calibration(16)
    dense = simulate_model(tiny_mlp, choice, calibration, shrink=False, dense_mode=True)
    sealed = _SealedTest(tiny_data)
    return choice, calibration, dense.energy_pj, sealed, Validation.split(sealed, samples=100)


def test_baseline_scored_held_out_never_reads_the_test_set(tiny_mlp, sealed_run):
    """With a validation split the baseline fine-tunes on its fit images and scores on its held-out ones only."""
    choice, calibration, dense_pj, sealed, validation = sealed_run
    candidates = [LayerOption("channel", s) for s in (0.1, 0.3, 0.5)]
    row = baseline_at_budget(tiny_mlp, choice, 0.7, sealed, calibration, dense_pj, candidates, False, 1, 0, validation)
    assert row["status"] == "ok" and row["energy_vs_dense"] <= 0.7
    assert 0.0 <= row["accuracy"] <= 1.0


def test_uniform_pattern_is_chosen_held_out(tiny_mlp, sealed_run):
    """Among several rewarded patterns the uniform baseline's is chosen without the test set; one pattern is kept as is."""
    choice, calibration, dense_pj, sealed, validation = sealed_run
    chosen = _held_out_pattern(tiny_mlp, choice, 0.7, sealed, calibration, dense_pj, ["channel", "fine"],
                               validation, 0)
    assert chosen == "channel"  # fine-grained zeros buy nothing on a dense array: only channel meets 0.7
    assert _held_out_pattern(tiny_mlp, choice, 0.7, sealed, calibration, dense_pj, ["fine"], validation, 0) == "fine"
    assert _held_out_pattern(tiny_mlp, choice, 0.7, sealed, calibration, dense_pj, [], validation, 0) is None


def test_markdown_table_marks_unreached_budgets():
    """A met budget shows accuracy (energy); an unreached one '-'."""
    table = pd.DataFrame([
        {"model": "mlp", "run": "hw", "budget": 0.5, "method": "uniform", "choice": "channel@0.4", "status": "ok",
         "energy_vs_dense": 0.45, "accuracy": 0.97, "accuracy_dense": 0.98, "wall_time_s": 1.0},
        {"model": "mlp", "run": "hw", "budget": 0.5, "method": "global", "choice": "", "status": "unreachable: x",
         "energy_vs_dense": math.nan, "accuracy": math.nan, "accuracy_dense": 0.98, "wall_time_s": 1.0},
    ])
    text = markdown_table(table)
    assert "| mlp | hw | uniform | 97.0 (0.45) |" in text
    assert "| mlp | hw | global | - |" in text


def test_a_collapsed_model_is_a_refusal_not_an_error(tiny_mlp, tiny_data):
    """A model with a layer left without weights (a global threshold at 99 %) is measured as refused, naming the layer."""
    collapsed = tiny_mlp.copy()
    collapsed.set_mask("fc2.weight", collapsed.weights("fc2") * 0 != 0)
    choice = load_hardware_list(["lecture-array"])[0]
    measured = simulate_model(collapsed, choice, tiny_data.calibration(16), shrink=False)
    assert not measured.ok and measured.refused == "layer 'fc2' has no non-zero weight left (the model collapsed)"


def test_report_renders_the_benchmark_comparison_with_its_pattern_rewards(tmp_path):
    """comparison.csv and rewards.csv give a report section with the three curves, budgets as columns and the rewards."""
    from energysim.report.html import render_report

    rows = []
    for method, accuracies in (("uniform", (0.97, 0.95)), ("global", (0.96, math.nan)), ("energy_aware", (0.98, 0.96))):
        for budget, accuracy in zip((0.7, 0.5), accuracies):
            ok = not math.isnan(accuracy)
            rows.append({"model": "cnn", "run": "eie-64pe-lecture", "budget": budget, "method": method,
                         "choice": "conv1 channel@0.3, conv2 fine@0.5" if method == "energy_aware" else "fine@0.5",
                         "status": "ok" if ok else "unreachable: least energy reached 0.78 of dense",
                         "energy_vs_dense": budget - 0.02 if ok else math.nan, "accuracy": accuracy,
                         "accuracy_dense": 0.99, "wall_time_s": 1.0})
    pd.DataFrame(rows).to_csv(tmp_path / "comparison.csv", index=False)
    pd.DataFrame([{"model": "cnn", "run": "eie-64pe-lecture", "pattern": "fine", "probe": "fine@0.5", "status": "ok",
                   "energy_vs_dense": 0.73, "rewarded": True}]).to_csv(tmp_path / "rewards.csv", index=False)
    page = render_report(tmp_path)
    assert '<section id="comparison">' in page
    assert 'alt="accuracy vs energy per pruning method"' in page
    assert "accuracy at 0.7 of dense energy" in page and "accuracy at 0.5 of dense energy" in page
    assert "fine: probe at 0.73 of dense (rewarded)" in page
    assert "channel, fine" in page


def test_pattern_choice_lists_each_models_rewards_and_runs_no_method_reached():
    """Rewards of two models on one run are not mixed; a run with no met budget still gets a row with the refusals."""
    from energysim.report.methods import method_points, pattern_choice_table

    table = pd.DataFrame([
        {"model": "mlp", "run": "eie", "budget": 0.5, "method": "energy_aware", "choice": "fc1 channel@0.5",
         "status": "ok", "energy_vs_dense": 0.49, "accuracy": 0.97},
        {"model": "mlp", "run": "a100:sparse_2_4", "budget": 0.5, "method": "energy_aware", "choice": "",
         "status": "unreachable: x", "energy_vs_dense": math.nan, "accuracy": math.nan},
    ])
    rewards = pd.DataFrame([
        {"model": "mlp", "run": "eie", "pattern": "fine", "energy_vs_dense": 0.73, "rewarded": True},
        {"model": "cnn", "run": "eie", "pattern": "fine", "energy_vs_dense": 0.888, "rewarded": True},
        {"model": "mlp", "run": "a100:sparse_2_4", "pattern": "fine", "energy_vs_dense": math.nan, "rewarded": False},
    ])
    choice = pattern_choice_table(method_points(table, "comparison"), rewards).set_index(["model", "run"])
    why = "why (what each pattern buys on this run)"
    assert choice.loc[("mlp", "eie"), why] == "fine: probe at 0.73 of dense (rewarded)"
    assert choice.loc[("mlp", "eie"), "chosen patterns"] == "channel"
    assert choice.loc[("mlp", "a100:sparse_2_4"), "chosen patterns"] == "none met a budget"
    assert choice.loc[("mlp", "a100:sparse_2_4"), why] == "fine: refused by the engine (not rewarded)"
