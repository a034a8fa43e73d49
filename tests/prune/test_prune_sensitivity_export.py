"""Sensitivity scan, workload export round trip and the TOML writer."""

from __future__ import annotations

import tomllib

import numpy as np
import pytest

from energysim.errors import InputError
from energysim.prune.export import dumps_toml, export_workload
from energysim.prune.pruner import PruneRequest, prune_model
from energysim.prune.schedules import run_schedule
from energysim.prune.sensitivity import plot_sensitivity, sensitivity_scan
from energysim.workloads import load_workload


def test_sensitivity_scan_is_flat_then_collapses(trained_cnn, digits, tmp_path):
    """conv1 keeps accuracy at 40 % but collapses by 90 %; the input model is untouched; the PNG is written."""
    before = {k: v.copy() for k, v in trained_cnn.parameters().items()}
    table = sensitivity_scan(trained_cnn, digits)
    assert len(table) == 3 * 6 and set(table["layer"]) == {"conv1", "conv2", "fc"}
    conv1 = table[table["layer"] == "conv1"].set_index("target_sparsity")["accuracy"]
    dense = table["accuracy_dense"].iloc[0]
    assert conv1[0.4] >= dense - 0.03
    assert conv1[0.9] < dense - 0.3
    # only the scanned layer is pruned at each point
    assert np.allclose(table["measured_sparsity"], table["target_sparsity"], atol=0.01)
    assert all(np.array_equal(v, before[k]) for k, v in trained_cnn.parameters().items())
    png = plot_sensitivity(table, tmp_path / "s.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_sensitivity_rejects_global_granularity(trained_mlp, digits):
    """A per-layer scan cannot use fine_global (one global count)."""
    with pytest.raises(InputError, match="granularity 'fine_global' cannot"):
        sensitivity_scan(trained_mlp, digits, granularity="fine_global")


def test_export_round_trips_through_load_workload(trained_cnn, digits, tmp_path):
    """export -> load_workload gives the same weights, masks, inputs, densities and provenance."""
    model = trained_cnn.copy()
    run_schedule(model, PruneRequest("nm", "magnitude"), digits, "one_shot", finetune_epochs=1)
    calibration = digits.calibration(64)
    path = export_workload(model, tmp_path / "wl", calibration)
    workload = load_workload(path)
    assert [layer.name for layer in workload.layers] == ["conv1", "conv2", "fc"]
    assert workload.provenance.granularity == "nm" and workload.provenance.criterion == "magnitude"
    assert workload.provenance.accuracy_finetuned == pytest.approx(model.metadata["accuracy_finetuned"])
    model.forward(calibration, record=True)
    for layer in workload.layers:
        tensors = workload.layer_tensors(layer.name)
        assert np.array_equal(tensors.weights, model.weights(layer.name))
        assert np.array_equal(tensors.mask, model.weight_mask(layer.name))
        inputs = model.recorded_inputs[layer.name]
        assert np.array_equal(tensors.activations.reshape(inputs.shape), inputs)
        assert layer.activation_density == pytest.approx(np.count_nonzero(inputs) / inputs.size)
        assert layer.measured_sparsity == pytest.approx(np.mean(model.weights(layer.name) == 0))
        assert layer.target_sparsity == 0.5
    conv2 = workload.layers[1]
    assert (conv2.in_height, conv2.out_channels, conv2.gemm_shape().k) == (4, 32, 144)
    assert sorted(p.name for p in (tmp_path / "wl").iterdir()) == ["tensors.npz", "workload.toml"]


def test_export_of_channel_pruned_model_loads(trained_mlp, digits, tmp_path):
    """A channel-pruned MLP exports zero rows and matching zero input columns that the loader accepts."""
    model = trained_mlp.copy()
    prune_model(model, PruneRequest("channel", "l1", 0.5))
    workload = load_workload(export_workload(model, tmp_path, digits.calibration(16)))
    fc2 = workload.layer_tensors("fc2").weights
    assert np.count_nonzero(np.all(fc2 == 0, axis=0)) == 128


def test_toml_writer_round_trips_awkward_strings():
    """Quotes, backslashes, newlines and control characters survive dumps_toml -> tomllib."""
    document = {"name": 'a "q" \\ b\nc\x01', "x": 1.5e-07, "flag": True, "t": {"k": [1, 2]}, "rows": [{"a": 1}, {"a": 2}]}
    assert tomllib.loads(dumps_toml(document)) == document


def test_toml_writer_rejects_nan():
    """NaN cannot be written (TOML has nan, but the workload schema wants finite numbers)."""
    with pytest.raises(InputError, match="finite"):
        dumps_toml({"x": float("nan")})
