"""The grouped (depthwise) convolution and residual shortcut layers, and the bundled residual CNN built from them."""

from __future__ import annotations

import numpy as np
import pytest

from energysim.errors import ConfigError, InputError
from energysim.prune import PruneRequest, export_workload, prune_model
from energysim.prune.export import folded_weights
from energysim.prune.layers import AddShortcut, BatchNorm2d, Conv2d, Flatten, Linear, ReLU, Shortcut
from energysim.prune.models import Model, load_model, save_model
from energysim.prune.pruner import prunable_layers
from energysim.prune.training import cross_entropy
from energysim.workloads.workload import load_workload


def _grouped_residual_model(rng) -> Model:
    return Model(
        [
            Conv2d("stem", 2, 4, 3, padding=1, rng=rng),
            Shortcut("skip"),
            Conv2d("dw", 4, 4, 3, padding=1, bias=True, rng=rng, groups=4),
            BatchNorm2d("bn", 4),
            ReLU("relu"),
            Conv2d("grouped", 4, 4, 1, padding=0, rng=rng, groups=2),
            AddShortcut("add", "skip"),
            Flatten("flat"),
            Linear("fc", 4 * 3 * 3, 3, rng=rng),
        ],
        (2, 3, 3),
    )


@pytest.mark.parametrize("square", [False, True])
def test_grouped_conv_and_shortcut_gradients_match_finite_differences(square):
    """Backward of grouped/depthwise conv and a residual shortcut match central differences (and per-sample squares)."""
    rng = np.random.default_rng(5)
    model = _grouped_residual_model(rng)
    x = rng.normal(size=(3, 2, 3, 3))
    y = rng.integers(0, 3, size=3)

    def loss(sample: slice) -> float:
        return cross_entropy(model.forward(x[sample]), y[sample])[0] * len(y[sample])

    _, grad = cross_entropy(model.forward(x), y)
    model.backward(grad * len(y), square_per_sample=square)
    analytic = {k: v.copy() for k, v in model.gradients().items()}
    for name, param in model.parameters().items():
        for index in [(0,) * param.ndim, tuple(s - 1 for s in param.shape)]:
            old = param[index]
            numeric = []
            for sample in ([slice(i, i + 1) for i in range(3)] if square else [slice(None)]):
                param[index] = old + 1e-6
                up = loss(sample)
                param[index] = old - 1e-6
                down = loss(sample)
                param[index] = old
                numeric.append((up - down) / 2e-6)
            expected = sum(v**2 for v in numeric) if square else numeric[0]
            assert np.isclose(analytic[name][index], expected, rtol=1e-4, atol=1e-7), name


def test_depthwise_conv_is_one_convolution_per_channel():
    """A depthwise conv (groups = channels) gives each output channel from its own input channel only."""
    rng = np.random.default_rng(2)
    depthwise = Conv2d("dw", 3, 3, 3, padding=1, rng=rng, groups=3)
    x = rng.normal(size=(2, 3, 5, 5))
    out = depthwise.forward(x, training=False)
    for channel in range(3):
        single = Conv2d("one", 1, 1, 3, padding=1)
        single.params["weight"] = depthwise.params["weight"][channel : channel + 1]
        assert np.allclose(out[:, channel : channel + 1], single.forward(x[:, channel : channel + 1], training=False))


def test_grouped_conv_refuses_channels_that_are_not_multiples_of_groups():
    """A grouped conv whose channel counts are not multiples of groups is refused with both counts named."""
    with pytest.raises(InputError, match="in_channels 3 and out_channels 4 must be multiples of groups"):
        Conv2d("bad", 3, 4, 3, groups=2)


def test_add_shortcut_must_name_an_earlier_shortcut():
    """An add_shortcut naming no earlier shortcut layer is refused with the shortcuts that exist."""
    with pytest.raises(InputError, match="'missing', which must be an earlier, unused shortcut layer"):
        Model([Shortcut("skip"), AddShortcut("add", "missing")], (1, 2, 2))


def test_resnet_trains_to_95_percent_and_survives_a_file_round_trip(trained_resnet, digits, tmp_path):
    """The residual CNN reaches 95 % test accuracy, and save/load keeps its logits (groups, shortcuts)."""
    assert trained_resnet.accuracy(digits.x_test, digits.y_test) >= 0.95
    loaded = load_model(save_model(trained_resnet, tmp_path / "m"))
    assert np.array_equal(loaded.forward(digits.x_test[:20]), trained_resnet.forward(digits.x_test[:20]))


def test_model_file_with_a_bad_shortcut_source_is_refused(trained_resnet, tmp_path):
    """A model.json whose add_shortcut source is not a layer name is one ConfigError naming the field."""
    import json

    folder = save_model(trained_resnet, tmp_path / "m")
    spec = json.loads((folder / "model.json").read_text())
    spec["layers"][[l["kind"] for l in spec["layers"]].index("add_shortcut")]["source"] = 7
    (folder / "model.json").write_text(json.dumps(spec))
    with pytest.raises(ConfigError, match=r"layers\[\d+\]\.source: must be the name of another layer"):
        load_model(folder)


def test_resnet_export_has_a_depthwise_layer_and_folded_batchnorm(trained_resnet, digits, tmp_path):
    """The export writes the depthwise conv as grouped_conv2d and each conv's weights times its batch-norm scale."""
    model = trained_resnet.copy()
    prune_model(model, PruneRequest("fine", "magnitude", 0.5))
    workload = load_workload(export_workload(model, tmp_path / "w", digits.calibration(16)))
    depthwise = next(l for l in workload.layers if l.name == "dw_depthwise")
    assert depthwise.kind == "grouped_conv2d" and depthwise.groups == depthwise.in_channels == 8
    bn = model.layer("stem_bn")
    scale = bn.params["gamma"] / np.sqrt(bn.buffers["running_var"] + 1e-5)
    expected = model.weights("stem") * scale[:, None, None, None]
    assert np.allclose(workload.tensors["stem"].weights, expected)
    assert np.array_equal(workload.tensors["stem"].weights == 0, model.weights("stem") == 0)
    assert "fc" not in folded_weights(model)


def test_resnet_channel_pruning_skips_grouped_and_residual_layers(trained_resnet):
    """Channel pruning touches only layers whose channels have one consumer (not the depthwise, shortcut or output ones)."""
    assert prunable_layers(trained_resnet, "channel") == ["block1_conv1", "block2_conv1"]
    model = trained_resnet.copy()
    report = prune_model(model, PruneRequest("channel", "l1", 0.5))
    assert report.layer_sparsity["block1_conv1"] == pytest.approx(0.5)
    assert report.layer_sparsity["dw_depthwise"] == 0.0


def test_bundled_resnet_2of4_export_runs_whole_on_the_2_4_core():
    """pruned/resnet-digits-2of4 (real weights, folded batch norm) has its depthwise layer and runs every layer 2:4."""
    import energysim
    from energysim import catalog

    workload = load_workload(catalog.workload_path("pruned/resnet-digits-2of4"))
    assert [l.kind for l in workload.layers].count("grouped_conv2d") == 1
    assert workload.provenance.nm_pattern == "2:4" and workload.provenance.accuracy_finetuned >= 0.95
    run = energysim.simulate("a100:sparse_2_4", workload)
    assert len(run.results) == len(workload.layers)
