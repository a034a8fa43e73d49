"""prune_for_energy: budgets met when simulated afresh, hardware-specific allocations, determinism, resume."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import energysim
from energysim.energy_aware import job as job_module
from energysim.energy_aware.measure import exported_model
from energysim.errors import InputError
from energysim.prune.export import export_workload

FAST = dict(finetune_epochs=1, step_epochs=0, calibration_samples=16, validation_samples=64, progress=False)
"""Settings that keep one job to a couple of seconds."""


@pytest.fixture(scope="module")
def budget_half(tiny_mlp, tiny_data):
    """Results at budget 0.5 on EIE and the dense array, by hardware name (computed once per module)."""
    return {hardware: energysim.prune_for_energy(tiny_mlp, hardware, 0.5, data=tiny_data, **FAST)
            for hardware in ("eie-64pe-lecture", "lecture-array")}


def fresh_energy_ratio(result, model, hardware: str, tmp_path: Path, data) -> float:
    """Pruned / dense energy, each exported anew and simulated through the public API."""
    calibration = data.calibration(16)
    shrink = bool((result.allocation["pattern"] == "channel").any())
    pruned = export_workload(exported_model(result.model, shrink), tmp_path / "pruned", calibration,
                             layer_targets=not shrink)
    dense = export_workload(model, tmp_path / "dense", calibration)
    run, _, mode = hardware.partition(":")
    pruned_pj = energysim.simulate(hardware, pruned.parent, progress=False).totals()["energy_pj"]
    dense_pj = energysim.simulate(run, dense.parent, progress=False).totals()["energy_pj"]
    return pruned_pj / dense_pj


@pytest.mark.parametrize("hardware", ["eie-64pe-lecture", "lecture-array"])
def test_pruned_model_meets_its_budget_when_simulated_afresh(hardware, budget_half, tiny_mlp, tiny_data, tmp_path):
    """At budget 0.5 the returned model, exported and simulated from scratch, needs at most half the dense energy."""
    result = budget_half[hardware]
    assert result.status == "ok", result.status
    ratio = fresh_energy_ratio(result, tiny_mlp, hardware, tmp_path, tiny_data)
    assert ratio <= 0.5
    assert ratio == pytest.approx(result.energy_vs_dense, rel=1e-9)


def test_allocation_differs_between_eie_and_the_dense_array(budget_half):
    """The dense array rewards only channels; EIE also rewards fine-grained zeros, and the allocations differ."""
    eie, array = budget_half["eie-64pe-lecture"], budget_half["lecture-array"]
    rewarded = {r.run: set(r.patterns.loc[r.patterns["rewarded"], "pattern"]) for r in (eie, array)}
    assert rewarded["lecture-array"] == {"channel"}
    assert "fine" in rewarded["eie-64pe-lecture"]
    assert set(array.allocation["pattern"]) == {"channel"}
    assert list(eie.allocation["option"]) != list(array.allocation["option"])


def test_same_seed_same_pruning(budget_half, tiny_mlp, tiny_data):
    """A second run with seed 0 gives the same allocation, masks and simulated energy."""
    first = budget_half["lecture-array"]
    second = energysim.prune_for_energy(tiny_mlp, "lecture-array", 0.5, data=tiny_data, **FAST)
    assert first.allocation.equals(second.allocation)
    assert first.energy_vs_dense == second.energy_vs_dense
    for name in tiny_mlp.weight_layers:
        assert np.array_equal(first.model.weights(name), second.model.weights(name))


def test_resume_reuses_the_journal(tiny_mlp, tiny_data, tmp_path, monkeypatch):
    """A second run into the same folder measures no sensitivity and trains no step again, with the same result."""
    first = energysim.prune_for_energy(tiny_mlp, "lecture-array", 0.5, data=tiny_data, out_dir=tmp_path, **FAST)
    for name in ("energy-aware.jsonl", "workload/workload.toml", "sensitivity.csv", "sensitivity.png", "allocation.csv"):
        assert (tmp_path / name).is_file(), name

    def refuse(*args, **kwargs):
        raise AssertionError("work repeated on resume")

    monkeypatch.setattr(job_module, "energy_sensitivity", refuse)
    monkeypatch.setattr(job_module, "train", refuse)
    second = energysim.prune_for_energy(tiny_mlp, "lecture-array", 0.5, data=tiny_data, out_dir=tmp_path, **FAST)
    assert second.allocation.equals(first.allocation)
    assert second.energy_vs_dense == first.energy_vs_dense


def test_sparse_tensor_core_budget_below_two_four_is_unreachable(tiny_mlp, tiny_data):
    """On a100:sparse_2_4 every layer must be 2:4; a budget below what 2:4 saves is reported unreachable with the floor."""
    result = energysim.prune_for_energy(tiny_mlp, "a100:sparse_2_4", 0.5, data=tiny_data, **FAST)
    assert result.status.startswith("unreachable:")
    assert "nm:2:4" in result.status and "of dense" in result.status
    assert list(result.patterns.loc[result.patterns["rewarded"], "pattern"]) == ["nm:2:4"]


@pytest.mark.parametrize("budget", [0, 1.5, True, "half"])
def test_bad_budget_is_one_sentence(budget, tiny_mlp, tiny_data):
    """A budget outside (0, 1] is refused naming the value."""
    with pytest.raises(InputError, match=r"energy_budget must be a fraction of dense energy in \(0, 1\]"):
        energysim.prune_for_energy(tiny_mlp, "lecture-array", budget, data=tiny_data, **FAST)


def test_latency_budget_holds_when_simulated_afresh(tiny_mlp, tiny_data, tmp_path):
    """With energy budget 1 and latency budget 0.8 on the dense array, the fresh simulation's latency is <= 0.8 of dense."""
    result = energysim.prune_for_energy(tiny_mlp, "lecture-array", 1.0, latency_budget=0.8, data=tiny_data, **FAST)
    assert result.status == "ok", result.status
    assert result.latency_vs_dense <= 0.8 and result.energy_vs_dense <= 1.0
    calibration = tiny_data.calibration(16)
    pruned = export_workload(exported_model(result.model, True), tmp_path / "pruned", calibration, layer_targets=False)
    dense = export_workload(tiny_mlp, tmp_path / "dense", calibration)
    latency = [energysim.simulate("lecture-array", p.parent, progress=False).totals()["latency_s"] for p in (pruned, dense)]
    assert latency[0] / latency[1] == pytest.approx(result.latency_vs_dense, rel=1e-9)


def test_another_budget_in_the_same_folder_does_not_reuse_steps(tiny_mlp, tiny_data, tmp_path):
    """A run at 0.3 after one at 0.5 in the same folder prunes its own plan: same result as a fresh run at 0.3."""
    energysim.prune_for_energy(tiny_mlp, "lecture-array", 0.5, data=tiny_data, out_dir=tmp_path, **FAST)
    shared = energysim.prune_for_energy(tiny_mlp, "lecture-array", 0.3, data=tiny_data, out_dir=tmp_path, **FAST)
    fresh = energysim.prune_for_energy(tiny_mlp, "lecture-array", 0.3, data=tiny_data, **FAST)
    assert shared.status == "ok" and shared.energy_vs_dense <= 0.3
    assert shared.allocation.equals(fresh.allocation)
    assert shared.energy_vs_dense == fresh.energy_vs_dense


def test_kept_candidate_is_the_most_accurate_on_held_out_images(budget_half):
    """On EIE round 1 holds the knapsack's and a uniform allocation; the kept one is the most accurate held out within 0.5.

    (Later rounds, if any, demand a margin below the budget, so only round 1's limit is the budget itself.)
    """
    result = budget_half["eie-64pe-lecture"]
    pool = result.candidates
    assert pool["kept"].sum() == result.rounds
    first = pool[pool["round"] == 1]
    assert first["source"].str.startswith("uniform:").any() and first["source"].isin(["exact", "greedy"]).any()
    within = first[first["tuned_energy_vs_dense"] <= 0.5]
    kept = first[first["kept"]].iloc[0]
    assert kept["accuracy_holdout"] == within["accuracy_holdout"].max()
    assert result.source == pool[pool["kept"]].iloc[-1]["source"]


def test_out_folder_holds_the_dense_original_estimate_needs(tiny_mlp, tiny_data, tmp_path):
    """prune_for_energy's workload/ holds the dense model, so estimate of it gives the job's energy ratio (F7b: refused)."""
    result = energysim.prune_for_energy(tiny_mlp, "eie-64pe-lecture", 0.5, data=tiny_data, out_dir=tmp_path, **FAST)
    assert result.status == "ok", result.status
    assert (tmp_path / "workload" / "dense-original.toml").is_file()
    table = energysim.estimate(tmp_path, ["eie-64pe-lecture"], progress=False)  # the out folder itself (F7)
    total = table[table["layer"] == "TOTAL"].iloc[0]
    assert total["status"] == "ok" and total["energy_vs_dense"] == pytest.approx(result.energy_vs_dense, rel=1e-9)
