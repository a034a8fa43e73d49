"""Workload files: geometry lowering, bundled networks, tensors files and their errors."""

from __future__ import annotations

import numpy as np
import pytest

from energysim.api import workload
from energysim.errors import ConfigError
from energysim.workloads.layers import Conv2dLayer, LinearLayer
from energysim.workloads.workload import load_workload


def test_conv_lowering():
    """A conv lowers to M = out channels, K = C*kh*kw, N = batch*H_out*W_out."""
    layer = Conv2dLayer(name="c", in_channels=3, out_channels=96, in_height=227, in_width=227,
                        kernel_height=11, kernel_width=11, stride=4, batch=2)
    assert (layer.out_height, layer.out_width) == (55, 55)
    assert layer.gemm_shape().model_dump() == {"m": 96, "n": 2 * 55 * 55, "k": 3 * 121}


def test_vgg16_macs():
    """The bundled VGG-16 has 15.47 G MACs (13 convs + 3 FC at 224x224) and 138.3 M weights."""
    vgg = workload("vgg16")
    macs = sum(l.gemm_shape().macs for l in vgg.layers)
    weights = sum(int(np.prod(l.weight_shape)) for l in vgg.layers)
    assert macs == 15_470_264_320
    assert weights == 138_344_128


def _write(tmp_path, layer_extra: str, arrays: dict | None) -> str:
    if arrays is not None:
        np.savez(tmp_path / "t.npz", **arrays)
    text = ('schema_version = 1\nname = "w"\ntensors_file = "t.npz"\n[[layers]]\nkind = "linear"\nname = "fc"\n'
            f'in_features = 4\nout_features = 2\n{layer_extra}')
    path = tmp_path / "w.toml"
    path.write_text(text)
    return str(path)


def test_tensors_round_trip(tmp_path):
    """Weights and a 0/1 mask load, masked entries read as zero."""
    w = np.arange(1, 9, dtype=float).reshape(2, 4)
    mask = np.array([[1, 0, 1, 0], [0, 1, 1, 1]], dtype=np.uint8)
    loaded = load_workload(_write(tmp_path, 'weight_key = "w"\nmask_key = "m"\n', {"w": w, "m": mask}))
    tensors = loaded.layer_tensors("fc")
    assert (tensors.weight_matrix() == np.where(mask, w, 0)).all()


@pytest.mark.parametrize("extra,arrays,message", [
    ('weight_key = "w"\n', {"w": np.ones((4, 2))}, "layers[0].weight_key: array 'w' must have shape (2, 4) (got (4, 2))"),
    ('weight_key = "x"\n', {"w": np.ones((2, 4))}, "layers[0].weight_key: no array 'x' in t.npz"),
    ('weight_key = "w"\nmask_key = "m"\n', {"w": np.ones((2, 4)), "m": np.full((2, 4), 2)}, "must hold only 0 and 1"),
    ('weight_key = "w"\n', {"w": np.full((2, 4), np.nan)}, "must be finite"),
    ('weight_key = "w"\n', None, "tensors_file: file not found"),
    ('activation_density = 0\n', None, "layers[0].activation_density: must be greater than 0 (got 0)"),
    ('mask_key = "m"\n', {"m": np.ones((2, 4))}, "layers[0].weight_key: is required when mask_key or activations_key is given"),
])
def test_bad_tensors_are_named(tmp_path, extra, arrays, message):
    """Each tensors-file problem is one ConfigError naming the file, the field and the value."""
    with pytest.raises(ConfigError) as info:
        load_workload(_write(tmp_path, extra, arrays))
    assert message in str(info.value)
    assert str(tmp_path / "w.toml") in str(info.value)


def test_duplicate_layer_names_refused(tmp_path):
    """Two layers with one name are refused."""
    path = tmp_path / "d.toml"
    layer = '[[layers]]\nkind = "linear"\nname = "a"\nin_features = 1\nout_features = 1\n'
    path.write_text('schema_version = 1\nname = "d"\n' + layer + layer)
    with pytest.raises(ConfigError, match="layer names must be unique; 'a' appears twice"):
        load_workload(path)


def test_linear_layer_rejects_unknown_key():
    """Layer models are strict (extra keys refused)."""
    with pytest.raises(Exception, match="extra"):
        LinearLayer(name="l", in_features=1, out_features=1, bias=True)


@pytest.mark.parametrize("kwargs,message", [
    ({"weights": np.ones((2, 3)), "mask": np.ones((3, 2))}, "mask must have the weight shape (2, 3) (got (3, 2))"),
    ({"weights": np.array([[np.inf, 1.0]])}, "weights must be finite"),
    ({"weights": np.ones(4)}, "weights must have at least 2 dimensions (got shape (4,))"),
    ({"weights": np.ones((2, 2)), "activations": np.array([[np.nan, 1.0]])}, "activations must be finite"),
])
def test_in_memory_tensors_are_checked(kwargs, message):
    """LayerTensors built in Python are checked like those loaded from a file."""
    from energysim.errors import InputError
    from energysim.workloads.workload import LayerTensors

    with pytest.raises(InputError) as info:
        LayerTensors(**kwargs)
    assert message in str(info.value)


def test_unique_input_elements():
    """Unique inputs: the feature map for a conv (capped at im2col's K*N), the whole operand for linear and GEMM."""
    from energysim.workloads.layers import GemmLayer

    conv = Conv2dLayer(name="c", in_channels=3, out_channels=8, in_height=10, in_width=10,
                       kernel_height=3, kernel_width=3, padding=1, batch=2)
    assert conv.unique_input_elements() == 2 * 3 * 10 * 10
    strided = Conv2dLayer(name="s", in_channels=4, out_channels=8, in_height=9, in_width=9,
                          kernel_height=1, kernel_width=1, stride=3)
    assert strided.unique_input_elements() == 4 * 3 * 3
    assert LinearLayer(name="l", in_features=7, out_features=2, batch=5).unique_input_elements() == 35
    assert GemmLayer(name="g", m=2, n=6, k=4).unique_input_elements() == 24
