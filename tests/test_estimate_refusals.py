"""estimate refuses per layer: a layer an engine cannot run is a row with its reason, the rest of the run is totalled."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from energysim.errors import UnsupportedError
from energysim.estimation import HardwareChoice, estimate, load_hardware_list
from energysim.hardware.hierarchy import load_hardware
from energysim import catalog
from energysim.simulate import run_workload
from energysim.workloads.layers import BatchedMatmulLayer, LinearLayer
from energysim.workloads.workload import LayerTensors, Workload, load_workload


def _half_2_4_workload() -> Workload:
    """Two linear layers: ``ok`` pruned 2:4, ``fine`` fine-pruned (not 2:4 along K)."""
    rng = np.random.default_rng(0)
    weights = rng.normal(size=(64, 64))
    nm_mask = np.tile(np.array([True, True, False, False]), (64, 16))
    fine_mask = np.zeros((64, 64), dtype=bool)
    fine_mask[:, :32] = True  # half the weights, but four kept in a row
    layers = (LinearLayer(name="ok", in_features=64, out_features=64, batch=16),
              LinearLayer(name="fine", in_features=64, out_features=64, batch=16))
    tensors = {"ok": LayerTensors(weights=weights * nm_mask, mask=nm_mask),
               "fine": LayerTensors(weights=weights * fine_mask, mask=fine_mask)}
    return Workload(name="half-2-4", layers=layers, tensors=tensors)


def test_a_refused_layer_is_a_row_and_the_total_covers_the_layers_that_ran():
    """On a100:sparse_2_4 the non-2:4 layer is refused with its reason; TOTAL is the 2:4 layer alone, marked partial."""
    result = estimate(_half_2_4_workload(), load_hardware_list(["a100:sparse_2_4"]), progress=False)
    table = result.layers.set_index("layer")
    assert table.loc["fine", "status"].startswith("unsupported: ") and "2:4" in table.loc["fine", "status"]
    assert math.isnan(table.loc["fine", "energy_vs_dense"])
    assert table.loc["ok", "status"] == "ok"
    assert table.loc["TOTAL", "status"] == "partial: 1 of 2 layers refused; TOTAL covers the other 1"
    for column in ("energy_uj_dense", "energy_uj_pruned", "latency_us_pruned", "storage_bytes_pruned"):
        assert table.loc["TOTAL", column] == pytest.approx(table.loc["ok", column], rel=1e-12)
    assert result.refused == {}
    assert list(result.refused_layers) == [("a100:sparse_2_4", "fine")]
    assert "partial: 1 of 2 layers refused" in repr(result)


def test_run_workload_skips_refused_layers_only_when_asked():
    """run_workload raises on a refused layer by default; with skip_refused it keeps the reason and runs the rest."""
    hardware = load_hardware(catalog.hwconfig_path("a100"))
    workload = _half_2_4_workload()
    with pytest.raises(UnsupportedError, match="2:4"):
        run_workload(workload, hardware, mode="sparse_2_4")
    run = run_workload(workload, hardware, mode="sparse_2_4", skip_refused=True)
    assert [r.layer for r in run.results] == ["ok"] and list(run.refused) == ["fine"]
    assert list(run.summary["layer"]) == ["ok"]


def test_a_run_with_every_layer_refused_is_still_refused():
    """skip_refused with every layer refused raises the first layer's reason (a whole-run refusal)."""
    hardware = load_hardware(catalog.hwconfig_path("a100"))
    workload = _half_2_4_workload()
    only_fine = Workload(name="fine", layers=workload.layers[1:], tensors={"fine": workload.tensors["fine"]})
    with pytest.raises(UnsupportedError, match="layer 'fine'"):
        run_workload(only_fine, hardware, mode="sparse_2_4", skip_refused=True)


def _check_mobilenetv2(specs: list[str], layers: int | None = None, **options) -> None:
    choices = [choice if not options or choice.hardware.engine_kind != "loopnest"
               else HardwareChoice(choice.label, choice.hardware, {**choice.options, **options})
               for choice in load_hardware_list(specs)]
    workload = load_workload(catalog.workload_path("mobilenetv2"))
    workload = replace(workload, layers=workload.layers[:layers])
    one_gemm = sum(layer.kind != "grouped_conv2d" for layer in workload.layers)
    result = estimate(workload, choices, progress=False)
    assert result.refused == {}
    table = result.layers[result.layers["layer"] != "TOTAL"]
    for run, block in table.groupby("run"):
        assert (block["status"] == "ok").sum() >= one_gemm, run  # every layer but the depthwise ones, at least
        for layer, status in zip(block["layer"], block["status"]):
            assert status == "ok" or f"layer '{layer}'" in status


def test_mobilenetv2_runs_on_each_engine_kind_with_per_layer_refusals():
    """MobileNetV2's first block runs on dense, EIE, A100 and loop-nest hardware; a refusal names its layer."""
    _check_mobilenetv2(["lecture-array", "eie-64pe-lecture", "a100", "lecture-array-loopnest"], layers=4,
                       mapping="default")


@pytest.mark.slow
def test_mobilenetv2_runs_on_every_bundled_hardware():
    """The whole MobileNetV2 runs on every bundled hardware (default mapping on loop-nest ones); refusals per layer."""
    _check_mobilenetv2(catalog.hwconfig_names(), mapping="default")


def test_run_prints_refused_layers_and_totals_the_rest():
    """energysim run on EIE runs BERT's linears, prints each refused attention matmul and says so."""
    import io

    from energysim.cli import main

    out = io.StringIO()
    assert main(["run", "eie-64pe-lecture", "bert-base-block", "--quiet"], out=out) == 0
    text = out.getvalue()
    assert "refused: layer 'attention.scores'" in text and "refused: layer 'attention.context'" in text
    assert "(the 6 layers that ran; 2 refused)" in text


def test_compare_tells_a_refusal_of_the_pruning_from_one_of_the_layer_kind():
    """compare's points: a layer refused dense too (attention matmul on EIE) is left out alike;
    a layer refused only for its mask (not 2:4 on the 2:4 core) refuses the point with that reason."""
    from energysim.estimation import load_hardware_list
    from energysim.sweep import _pattern_refusal

    base = _half_2_4_workload()
    with_matmul = Workload(name="mixed", layers=(*base.layers, BatchedMatmulLayer(name="scores", batch=2, m=8, k=8, n=8)),
                           tensors=base.tensors)
    eie = load_hardware_list(["eie-64pe-lecture"])[0]
    run = run_workload(with_matmul, eie.hardware, skip_refused=True)
    assert list(run.refused) == ["scores"] and _pattern_refusal(with_matmul, run, eie) is None
    sparse = load_hardware_list(["a100:sparse_2_4"])[0]
    run = run_workload(base, sparse.hardware, skip_refused=True, **sparse.options)
    assert "2:4" in _pattern_refusal(base, run, sparse)


def test_a_refusal_only_the_dense_original_meets_is_named_as_such():
    """On a design storing weights 2:4 the dense original is refused: the status says so (it read as the pruned model's)."""
    pruned = load_workload(catalog.workload_path("lenet-300-100-han2015"))
    result = estimate(pruned, load_hardware_list(["sparse-tc-like-2-4"]), progress=False)
    status = result.refused["sparse-tc-like-2-4"]
    assert status.startswith("unsupported: the dense original: ") and "weight density 1" in status
    assert all(layer.weight_density < 1 for layer in pruned.layers)


def test_partial_run_tables_hold_the_layers_the_total_covers():
    """A layer only the dense original ran is left out of summary, energy, breakdown and runs, so each adds up to TOTAL."""
    result = estimate(_half_2_4_workload(), load_hardware_list(["a100:sparse_2_4"]), progress=False)
    total = result.layers.set_index("layer").loc["TOTAL"]
    for variant in ("dense", "pruned"):
        summary = result.summary[result.summary["variant"] == variant]
        assert list(summary["layer"]) == ["ok"]
        assert summary["energy_uj"].sum() == pytest.approx(total[f"energy_uj_{variant}"], rel=1e-12)
        for name in ("energy", "breakdown"):
            frame = getattr(result, name)
            assert frame.loc[frame["variant"] == variant, "energy_pj"].sum() / 1e6 == pytest.approx(
                total[f"energy_uj_{variant}"], rel=1e-12)
    assert [r.layer for r in result.runs[("a100:sparse_2_4", "dense")].results] == ["ok"]   # runs cover what TOTAL does
