"""Sensitivity scan, workload export round trip and the TOML writer."""

from __future__ import annotations

import tomllib

import numpy as np
import pytest

from energysim.errors import ConfigError, InputError
from energysim.config.toml_writer import dumps_toml
from energysim.prune.export import export_workload
from energysim.prune.granularity import nm_prune_count, prune_count
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
    # only the scanned layer is pruned at each point, by exactly prune_count weights
    sizes = {name: trained_cnn.weights(name).size for name in ("conv1", "conv2", "fc")}
    expected = [prune_count(t, sizes[l]) / sizes[l] for l, t in zip(table["layer"], table["target_sparsity"])]
    assert table["measured_sparsity"].tolist() == expected
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
        shape = model.weights(layer.name).shape
        assert layer.target_sparsity == nm_prune_count(shape, 2, 4) / np.prod(shape)
    assert [layer.target_sparsity for layer in workload.layers] == [4 / 9, 0.5, 0.5]
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


def test_failed_export_leaves_no_partial_files(trained_mlp, digits, tmp_path, monkeypatch):
    """If writing the tensors fails, InputError is raised and no folder, file or temporary file is left behind."""
    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez_compressed", broken)
    with pytest.raises(InputError, match=r"output folder .*wl' cannot be written \(disk full\)"):
        export_workload(trained_mlp, tmp_path / "wl", digits.calibration(8))
    assert list(tmp_path.iterdir()) == []


def test_failed_re_export_keeps_the_old_pair(trained_mlp, digits, tmp_path, monkeypatch):
    """If the staged pair fails to read back, the previous tensors.npz and workload.toml stay byte for byte."""
    import energysim.workloads.writing as writing

    export_workload(trained_mlp, tmp_path / "wl", digits.calibration(8))
    before = {p.name: p.read_bytes() for p in (tmp_path / "wl").iterdir()}
    model = trained_mlp.copy()
    prune_model(model, PruneRequest("fine", "magnitude", 0.5))

    def broken_load(path):
        raise ConfigError(f"{path}: read-back failed")

    monkeypatch.setattr(writing, "load_workload", broken_load)
    with pytest.raises(ConfigError, match="read-back failed"):
        export_workload(model, tmp_path / "wl", digits.calibration(8))
    assert {p.name: p.read_bytes() for p in (tmp_path / "wl").iterdir()} == before


def test_layer_targets_are_per_layer(trained_cnn, trained_mlp, digits, tmp_path):
    """Kernel pruning leaves the CNN's fc untouched (target 0.0); fine_global has no per-layer target."""
    cnn = trained_cnn.copy()
    run_schedule(cnn, PruneRequest("kernel", "l1", 0.5), digits, "one_shot", finetune_epochs=0)
    workload = load_workload(export_workload(cnn, tmp_path / "kernel", digits.calibration(8)))
    assert {l.name: l.target_sparsity for l in workload.layers} == {"conv1": 0.5, "conv2": 0.5, "fc": 0.0}
    assert workload.provenance.target_sparsity == 0.5
    mlp = trained_mlp.copy()
    run_schedule(mlp, PruneRequest("fine_global", "magnitude", 0.7), digits, "one_shot", finetune_epochs=0)
    workload = load_workload(export_workload(mlp, tmp_path / "global", digits.calibration(8)))
    assert [l.target_sparsity for l in workload.layers] == [None, None, None]
    assert workload.provenance.target_sparsity == 0.7


def test_export_without_recorded_targets_or_with_targets_off(trained_mlp, digits, tmp_path):
    """An unpruned model has no per-layer targets; layer_targets=False writes none after pruning either."""
    workload = load_workload(export_workload(trained_mlp, tmp_path / "dense", digits.calibration(8)))
    assert all(l.target_sparsity is None for l in workload.layers)
    model = trained_mlp.copy()
    prune_model(model, PruneRequest("fine", "magnitude", 0.5))
    workload = load_workload(export_workload(model, tmp_path / "off", digits.calibration(8), layer_targets=False))
    assert all(l.target_sparsity is None for l in workload.layers)


def test_export_rejects_provenance_outside_the_schema(trained_mlp, digits, tmp_path):
    """A provenance value the workload schema refuses (accuracy 1.5) raises ConfigError before any file is written."""
    with pytest.raises(ConfigError, match=r"provenance\.accuracy_dense"):
        export_workload(trained_mlp, tmp_path / "wl", digits.calibration(8), provenance={"accuracy_dense": 1.5})
    assert not (tmp_path / "wl").exists()


def test_export_rejects_unknown_provenance_fields(trained_mlp, digits, tmp_path):
    """Provenance keys outside the workload schema raise InputError before anything is written."""
    with pytest.raises(InputError, match=r"provenance fields must be among .* \(got \['lr'\]\)"):
        export_workload(trained_mlp, tmp_path / "wl", digits.calibration(8), provenance={"lr": 0.1})
    assert not (tmp_path / "wl").exists()


def test_bundled_pruned_workloads_load_and_match_their_patterns():
    """workloads/pruned: the 2:4 CNN complies with 2:4 in every layer; the MLP prunes exactly round(0.8 n) per layer within 1 point of dense."""
    from pathlib import Path

    from energysim.formats.nm_compliance import nm_compliance

    root = Path(__file__).resolve().parents[2] / "workloads" / "pruned"
    nm = load_workload(root / "cnn-digits-2of4" / "workload.toml")
    for layer in nm.layers:
        assert nm_compliance(nm.layer_tensors(layer.name).mask, 2, 4).compliant
    fine = load_workload(root / "mlp-digits-fine-80" / "workload.toml")
    for layer in fine.layers:
        mask = fine.layer_tensors(layer.name).mask
        assert np.count_nonzero(mask == 0) == prune_count(0.8, mask.size)
        assert layer.measured_sparsity == prune_count(0.8, mask.size) / mask.size
    assert fine.provenance.accuracy_finetuned >= fine.provenance.accuracy_dense - 0.01
