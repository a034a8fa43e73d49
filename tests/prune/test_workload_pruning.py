"""Pruning the weights a workload carries (prune/compare --workload): masks, quality measures, CLI."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest

from energysim.cli import main
from energysim.errors import InputError
from energysim.prune import export_workload, save_model
from energysim.prune.workload_pruning import model_evaluation, prune_workload
from energysim.workload_compare import WORKLOAD_COMPARE_COLUMNS, compare_workload
from energysim.workloads.layers import BatchedMatmulLayer, Conv2dLayer, LinearLayer
from energysim.workloads.workload import LayerTensors, Workload, load_workload


def _workload() -> Workload:
    """A conv, an attention matmul (no weights) and a linear layer with real weights; one conv weight already 0."""
    rng = np.random.default_rng(0)
    conv = rng.normal(size=(8, 4, 3, 3))
    conv[0, 0, 0, 0] = 0.0
    layers = (Conv2dLayer(name="conv", in_channels=4, out_channels=8, in_height=6, in_width=6, kernel_height=3,
                          kernel_width=3, padding=1),
              BatchedMatmulLayer(name="scores", batch=2, m=8, k=4, n=8),
              LinearLayer(name="fc", in_features=16, out_features=8))
    tensors = {"conv": LayerTensors(weights=conv), "fc": LayerTensors(weights=rng.normal(size=(8, 16)))}
    return Workload(name="small", layers=layers, tensors=tensors)


def test_fine_magnitude_prunes_every_weight_layer_and_measures_the_weight_error():
    """fine/magnitude at 0.5 halves each weight layer, keeps the largest weights, leaves the matmul, reports ||dW||/||W||."""
    source = _workload()
    result = prune_workload(source, "fine", "magnitude", 0.5)
    removed = total = 0.0
    for name in ("conv", "fc"):
        before, after = source.tensors[name].weights, result.workload.tensors[name]
        kept = after.mask
        assert kept.mean() == pytest.approx(0.5, abs=0.01)
        assert np.abs(before[kept]).min() >= np.abs(before[~kept]).max()
        assert np.array_equal(after.weights, np.where(kept, before, 0.0))
        removed, total = removed + np.sum(before[~kept] ** 2), total + np.sum(before**2)
    assert not result.workload.tensors["conv"].mask[0, 0, 0, 0]
    assert result.weight_error == pytest.approx(math.sqrt(removed / total))
    scores = next(l for l in result.workload.layers if l.name == "scores")
    assert scores == source.layers[1]
    fc = next(l for l in result.workload.layers if l.name == "fc")
    assert fc.weight_density == pytest.approx(0.5) and fc.target_sparsity == 0.5


def test_nm_pattern_gives_masks_that_follow_it():
    """nm:2:4 keeps at most 2 of every 4 consecutive weights along each row's reduction axis."""
    result = prune_workload(_workload(), "nm:2:4", "magnitude")
    for name in ("conv", "fc"):
        rows = result.workload.tensors[name].mask.reshape(8, -1)
        assert (rows.reshape(8, -1, 4).sum(axis=2) <= 2).all()
    assert result.sparsity_measured == pytest.approx(0.5, abs=0.01)


@pytest.mark.parametrize("criterion, message", [("obd", "needs data"), ("apoz", "needs data")])
def test_criteria_that_need_data_are_refused(criterion, message):
    """A criterion needing training or calibration data is refused, naming the data-free ones."""
    with pytest.raises(InputError, match=f"{message}; use one of magnitude, l1, l2, random"):
        prune_workload(_workload(), "channel", criterion)


def test_a_geometry_only_workload_is_refused():
    """A workload without weight tensors has nothing to prune and says so, naming estimate --density."""
    geometry = Workload(name="geometry", layers=_workload().layers)
    with pytest.raises(InputError, match="carries no weight tensors.*estimate --density"):
        prune_workload(geometry, "fine", "magnitude")


def test_compare_workload_reports_energy_ratios_and_the_weight_error_or_accuracy():
    """compare_workload: dense rows at ratio 1, pruned EIE rows below 1; accuracy only from a given evaluation."""
    frame = compare_workload(_workload(), ["eie-64pe-lecture"], ["fine", "kernel"], [0.5], ["magnitude", "l1"],
                             progress=False)
    assert list(frame.columns[: len(WORKLOAD_COMPARE_COLUMNS)]) == list(WORKLOAD_COMPARE_COLUMNS)
    assert list(zip(frame["pattern"], frame["criterion"])) == [("dense", "none"), ("fine", "magnitude"), ("kernel", "l1")]
    assert (frame["status"] == "ok").all() and frame["accuracy"].isna().all()
    assert frame["energy_vs_dense"].iloc[0] == 1.0 and (frame["energy_vs_dense"].iloc[1:] < 1).all()
    assert frame["weight_error"].iloc[0] == 0 and (frame["weight_error"].iloc[1:] > 0).all()
    calls = []
    scored = compare_workload(_workload(), ["eie-64pe-lecture"], ["fine"], [0.5], ["magnitude"],
                              evaluate=lambda w: calls.append(w.name) or 0.75, progress=False)
    assert list(scored["accuracy"]) == [0.75, 0.75] and len(calls) == 2


def test_an_empty_layer_is_a_row_not_a_crash():
    """A point that would empty a layer (channel pruning of 8 filters at 0.95) is a 'not pruned' row."""
    frame = compare_workload(_workload(), ["eie-64pe-lecture"], ["channel"], [0.95], ["l1"], progress=False)
    assert frame["status"].iloc[1].startswith("not pruned: layer 'conv' would have no non-zero weight left")


def test_model_folder_evaluation_gives_the_model_accuracy(trained_resnet, digits, tmp_path):
    """compare --workload MODEL --eval-data: the dense row's accuracy is the model's; the residual CNN's depthwise
    layer is a per-layer refusal or a result on the one-GEMM engine, never a refused point."""
    folder = save_model(trained_resnet, tmp_path / "model")
    np.savez(tmp_path / "test.npz", inputs=digits.x_test[:120], targets=digits.y_test[:120])
    out = io.StringIO()
    code = main(["compare", "--workload", str(folder), "--eval-data", str(tmp_path / "test.npz"), "--patterns", "fine",
                 "--sparsities", "0.5", "--criteria", "magnitude", "--hw", "lecture-array", "--out",
                 str(tmp_path / "cmp"), "--quiet"], out=out)
    assert code == 0, out.getvalue()
    import pandas as pd

    frame = pd.read_csv(tmp_path / "cmp" / "compare.csv")
    assert frame["accuracy"].iloc[0] == pytest.approx(trained_resnet.accuracy(digits.x_test[:120], digits.y_test[:120]))
    assert (frame["status"] == "ok").all() and 0 < frame["accuracy"].iloc[1] <= 1
    evaluate = model_evaluation(folder, tmp_path / "test.npz")
    workload = load_workload(export_workload(trained_resnet, tmp_path / "w", digits.calibration(8)))
    assert evaluate(prune_workload(workload, "fine", "magnitude", 0.5).workload) == pytest.approx(frame["accuracy"].iloc[1])


def test_eval_data_needs_a_model_folder(tmp_path):
    """--eval-data with a workload energysim cannot run in numpy exits 2 naming the weight-reconstruction error."""
    err = io.StringIO()
    code = main(["compare", "--workload", "pruned/mlp-digits-fine-80", "--eval-data", str(tmp_path / "x.npz"),
                 "--out", str(tmp_path / "c")], out=io.StringIO(), err=err)
    assert code == 2 and "needs --workload to be a numpy model folder" in err.getvalue()


def test_compare_and_prune_workload_on_an_imported_onnx_model(tmp_path):
    """An imported ONNX model goes through compare --workload and prune --workload (masks written and reloaded)."""
    pytest.importorskip("onnx", reason="the ONNX import needs the 'import' extra (pip install 'energysim[import]')")
    from pathlib import Path

    onnx_file = Path(__file__).resolve().parents[2] / "examples" / "tiny-cnn.onnx"
    out = io.StringIO()
    assert main(["import", str(onnx_file), "--out", str(tmp_path / "tiny")], out=out) == 0
    assert main(["compare", "--workload", str(tmp_path / "tiny"), "--patterns", "nm:2:4", "--criteria", "magnitude",
                 "--hw", "a100:sparse_2_4", "--out", str(tmp_path / "cmp"), "--quiet"], out=out) == 0
    assert "weight-reconstruction error" in out.getvalue()
    assert main(["prune", "--workload", str(tmp_path / "tiny"), "--granularity", "nm", "--out", str(tmp_path / "p")],
                out=out) == 0
    pruned = load_workload(tmp_path / "p" / "workload.toml")
    direct = prune_workload(load_workload(tmp_path / "tiny" / "workload.toml"), "nm:2:4", "magnitude").workload
    for name, tensors in pruned.tensors.items():
        assert np.array_equal(tensors.mask, direct.tensors[name].mask)
    assert pruned.provenance.nm_pattern == "2:4" and pruned.provenance.finetune_epochs == 0


def test_python_api_compare_and_estimate_take_workloads_and_densities():
    """energysim.compare(workload=..., evaluate=...) fills accuracy; energysim.estimate(densities=...) sweeps densities."""
    import energysim

    frame = energysim.compare(workload=_workload(), hardware_names=["eie-64pe-lecture"], patterns=["fine"],
                              sparsities=[0.5], criteria=["magnitude"], evaluate=lambda w: 0.5, progress=False)
    assert list(frame["accuracy"]) == [0.5, 0.5] and frame["weight_error"].iloc[1] > 0
    with pytest.raises(InputError, match="evaluate= needs workload="):
        energysim.compare(evaluate=lambda w: 1.0)
    table = energysim.estimate("lenet-300-100", ["eie-64pe-lecture"], densities=[0.5], progress=False)
    assert set(table["workload"]) == {"lenet-300-100@0.5"} and set(table["weight_density"]) == {0.5}
