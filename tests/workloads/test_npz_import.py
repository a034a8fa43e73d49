"""Weight-file import (.npz and .safetensors) by the documented naming scheme."""

from __future__ import annotations

import argparse
import io
import json
import struct

import numpy as np
import pytest

from energysim.errors import InputError
from energysim.workloads import load_workload
from energysim.workloads.import_commands import register
from energysim.workloads.import_layers import NO_ACTIVATION_DATA
from energysim.workloads.npz_import import import_weights, natural_key, read_safetensors

RNG = np.random.default_rng(3)

_DTYPES = {np.dtype("<f4"): "F32", np.dtype("<f8"): "F64", np.dtype("<f2"): "F16", np.dtype("<i8"): "I64", np.dtype("u1"): "U8"}


def write_safetensors(path, arrays: dict, metadata: dict | None = None, bf16: tuple = ()) -> None:
    """A minimal writer of the documented layout; names in ``bf16`` are stored as BF16 (truncated float32)."""
    header, chunks, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for name, array in arrays.items():
        if name in bf16:
            raw = (np.ascontiguousarray(array, dtype="<f4").view("<u4") >> 16).astype("<u2").tobytes()
            dtype = "BF16"
        else:
            array = np.ascontiguousarray(array)
            raw, dtype = array.tobytes(), _DTYPES[array.dtype]
        header[name] = {"dtype": dtype, "shape": list(array.shape), "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    text = json.dumps(header).encode("utf-8")
    text += b" " * (-len(text) % 8)
    path.write_bytes(struct.pack("<Q", len(text)) + text + b"".join(chunks))


def test_npz_linear_layers_keep_file_order_and_weights(tmp_path):
    """A state-dict-like npz (fc2 saved before fc1, biases, a BatchNorm 1-D weight) gives linear layers in file order."""
    fc2, fc1 = RNG.standard_normal((10, 300)), RNG.standard_normal((300, 784))
    np.savez(tmp_path / "mlp.npz", **{"fc2.weight": fc2, "fc2.bias": np.zeros(10), "bn.weight": np.ones(300),
                                      "fc1.weight": fc1, "fc1.bias": np.zeros(300)})
    result = import_weights(tmp_path / "mlp.npz", tmp_path / "out")
    workload = load_workload(tmp_path / "out" / "workload.toml")
    assert [(l.name, l.kind, l.out_features, l.in_features) for l in workload.layers] == [
        ("fc2", "linear", 10, 300), ("fc1", "linear", 300, 784)]
    np.testing.assert_array_equal(workload.tensors["fc1"].weights, fc1)
    assert {name for name, _ in result.skipped} == {"fc2.bias", "bn.weight", "fc1.bias"}


def test_natural_order_sorts_digit_runs_as_numbers(tmp_path):
    """order='natural' puts features.2 before features.10 whatever the file order."""
    arrays = {f"features.{i}.weight": RNG.standard_normal((4, 4)) for i in (10, 2, 1)}
    np.savez(tmp_path / "w.npz", **arrays)
    workload = import_weights(tmp_path / "w.npz", tmp_path / "out", order="natural").workload
    assert [l.name for l in workload.layers] == ["features.1", "features.2", "features.10"]
    assert sorted(["layer10", "layer2", "layer1b"], key=natural_key) == ["layer1b", "layer2", "layer10"]


def test_conv_sizes_propagate_and_per_layer_geometry_overrides(tmp_path):
    """conv1 (3x3, pad 1 via conv1.padding) keeps 16x16; conv2 (stride 2) inherits 16x16 -> 7x7; conv3.input_size resets to 4x4."""
    arrays = {
        "conv1.weight": RNG.standard_normal((8, 3, 3, 3)), "conv1.padding": np.array(1),
        "conv2.weight": RNG.standard_normal((8, 8, 3, 3)), "conv2.stride": np.array([2]),
        "conv3.weight": RNG.standard_normal((4, 8, 1, 1)), "conv3.input_size": np.array([4, 4]),
        "fc.weight": RNG.standard_normal((10, 64)),
    }
    np.savez(tmp_path / "cnn.npz", **arrays)
    workload = import_weights(tmp_path / "cnn.npz", tmp_path / "out", input_size=(16, 16)).workload
    conv1, conv2, conv3, fc = workload.layers
    assert (conv1.in_height, conv1.padding, conv1.out_height) == (16, 1, 16)
    assert (conv2.in_height, conv2.stride, conv2.padding, conv2.out_height) == (16, 2, 0, 7)
    assert (conv3.in_height, conv3.in_width, conv3.kernel_height) == (4, 4, 1)
    assert (fc.kind, fc.in_features) == ("linear", 64)


def test_conv_without_input_size_is_refused(tmp_path):
    """A 4-D weight with neither --input-size nor <layer>.input_size raises InputError naming the layer and both remedies."""
    np.savez(tmp_path / "c.npz", **{"c.weight": RNG.standard_normal((2, 2, 3, 3))})
    with pytest.raises(InputError, match=r"c\.npz: conv2d layer 'c' needs an input size: give --input-size H W or an array 'c\.input_size'"):
        import_weights(tmp_path / "c.npz", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_mask_is_stored_and_applied(tmp_path):
    """<layer>.mask becomes the layer's mask_key; masked weights load as zero and measured sparsity is recorded."""
    weights = np.arange(1.0, 9.0).reshape(2, 4)
    mask = np.array([[1, 0, 1, 0], [0, 0, 1, 1]], dtype=np.uint8)
    np.savez(tmp_path / "m.npz", **{"fc.weight": weights, "fc.mask": mask})
    workload = import_weights(tmp_path / "m.npz", tmp_path / "out").workload
    layer = workload.layers[0]
    assert layer.mask_key == "fc.mask" and layer.measured_sparsity == 0.5
    np.testing.assert_array_equal(workload.tensors["fc"].weights, weights * mask)


@pytest.mark.parametrize(
    ("arrays", "pattern"),
    [
        ({"conv1d.weight": np.ones((2, 2, 3))}, r"array 'conv1d\.weight' has 3 dimensions"),
        ({"fc.bias": np.ones(3)}, r"no weight layer found.*'<layer>\.weight'.*fc\.bias"),
        ({"fc.weight": np.ones((2, 2)), "fc.mask": np.full((2, 2), 2)}, r"array 'fc\.mask' must hold only 0 and 1"),
        ({"fc.weight": np.ones((2, 2)), "fc.stride": np.array(2)}, r"'fc\.stride' applies only to conv2d layers"),
        ({"fc.weight": np.array([[np.nan, 1.0]])}, r"array 'fc\.weight' must be finite"),
    ],
)
def test_scheme_violations_are_refused(tmp_path, arrays, pattern):
    """Each breach of the naming scheme raises one InputError naming the file and the array."""
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(InputError, match=r"bad\.npz: .*" + pattern):
        import_weights(tmp_path / "bad.npz", tmp_path / "out")


def test_safetensors_round_trip_with_f16_bf16_and_metadata(tmp_path):
    """The own reader returns F32/F16/BF16/I64 tensors and __metadata__; BF16 equals float32 truncated to its top 16 bits."""
    f32 = RNG.standard_normal((3, 5)).astype("<f4")
    bf = np.array([[1.0, -2.5], [3.140625, 0.0]], dtype="<f4")  # exactly representable in bfloat16
    arrays = {"b.weight": f32, "a.weight": f32.astype("<f2"), "c.weight": bf, "c.input_size": np.array([8, 8], dtype="<i8")}
    write_safetensors(tmp_path / "w.safetensors", arrays, metadata={"format": "pt"}, bf16=("c.weight",))
    read, metadata = read_safetensors(tmp_path / "w.safetensors")
    assert metadata == {"format": "pt"}
    np.testing.assert_array_equal(read["b.weight"], f32)
    np.testing.assert_array_equal(read["a.weight"], f32.astype("<f2"))
    np.testing.assert_array_equal(read["c.weight"], bf)
    np.testing.assert_array_equal(read["c.input_size"], [8, 8])


def test_safetensors_import_uses_natural_order_by_default(tmp_path):
    """A .safetensors file imports with natural layer order and its values round-trip through load_workload."""
    w10, w2 = RNG.standard_normal((4, 6)).astype("<f4"), RNG.standard_normal((6, 3)).astype("<f4")
    write_safetensors(tmp_path / "m.safetensors", {"layer10.weight": w10, "layer2.weight": w2})
    import_weights(tmp_path / "m.safetensors", tmp_path / "out")
    workload = load_workload(tmp_path / "out" / "workload.toml")
    assert [l.name for l in workload.layers] == ["layer2", "layer10"]
    np.testing.assert_array_equal(workload.tensors["layer10"].weights, w10.astype(np.float64))


@pytest.mark.parametrize(
    ("mutate", "pattern"),
    [
        (lambda h: h["w"].update(data_offsets=[0, 999]), r"tensor 'w': data_offsets must be \[begin, end\] with 0 <= begin <= end <= 16"),
        (lambda h: h["w"].update(shape=[2, 3]), r"tensor 'w': F32 of shape \[2, 3\] needs 24 bytes but data_offsets span 16"),
        (lambda h: h["w"].update(dtype="F8_E4M3"), r"tensor 'w': dtype must be one of .* \(got 'F8_E4M3'\)"),
    ],
)
def test_corrupt_safetensors_header_is_refused(tmp_path, mutate, pattern):
    """Offsets past the buffer, a byte count that does not match the shape, and an unknown dtype each raise InputError."""
    header = {"w": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]}}
    mutate(header)
    text = json.dumps(header).encode()
    (tmp_path / "bad.safetensors").write_bytes(struct.pack("<Q", len(text)) + text + bytes(16))
    with pytest.raises(InputError, match=r"bad\.safetensors: " + pattern):
        read_safetensors(tmp_path / "bad.safetensors")


def test_truncated_safetensors_is_refused(tmp_path):
    """A header length larger than the file raises InputError instead of reading past the end."""
    (tmp_path / "t.safetensors").write_bytes(struct.pack("<Q", 10_000) + b"{}")
    with pytest.raises(InputError, match=r"t\.safetensors: not a safetensors file \(header length 10000 bytes"):
        read_safetensors(tmp_path / "t.safetensors")


def test_import_command_dispatches_on_suffix(tmp_path):
    """The import handler reads .npz by the naming scheme and refuses an unknown suffix with InputError."""
    np.savez(tmp_path / "w.npz", **{"fc.weight": np.ones((3, 4))})
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    out = io.StringIO()
    args = parser.parse_args(["import", str(tmp_path / "w.npz"), "-o", str(tmp_path / "out")])
    assert args.handler(args, out) == 0
    assert "fc: linear weight (3, 4), GEMM m=3 k=4 n=1, 12 MACs" in out.getvalue()
    (tmp_path / "w.h5").write_bytes(b"x")
    args = parser.parse_args(["import", str(tmp_path / "w.h5"), "-o", str(tmp_path / "out2")])
    with pytest.raises(InputError, match=r"w\.h5: model file suffix must be \.onnx, \.pt, \.pth, \.pt2, \.npz or \.safetensors \(got '\.h5'\)"):
        args.handler(args, out)


def test_torch_prune_pairs_become_masked_weights(tmp_path):
    """A state dict of torch.nn.utils.prune (fc.weight_orig + fc.weight_mask) and of a mask parametrisation imports with masks, not 'no weight layer found'."""
    orig, mask = RNG.standard_normal((4, 6)), (RNG.random((4, 6)) > 0.5).astype(np.float32)
    conv_orig, conv_mask = RNG.standard_normal((3, 2, 1, 1)), np.array([1.0, 0.0, 1.0]).reshape(3, 1, 1, 1) * np.ones((3, 2, 1, 1))
    np.savez(tmp_path / "pruned.npz", **{
        "conv.bias": np.zeros(3), "conv.parametrizations.weight.original": conv_orig,
        "conv.parametrizations.weight.0.mask": conv_mask, "fc.bias": np.zeros(4), "fc.weight_orig": orig, "fc.weight_mask": mask})
    result = import_weights(tmp_path / "pruned.npz", tmp_path / "out", input_size=(5, 5))
    workload = load_workload(tmp_path / "out" / "workload.toml")
    assert [(l.name, l.kind, l.mask_key) for l in workload.layers] == [("conv", "conv2d", "conv.mask"), ("fc", "linear", "fc.mask")]
    np.testing.assert_array_equal(workload.tensors["fc"].weights, orig * mask)
    np.testing.assert_array_equal(workload.tensors["fc"].mask, mask.astype(bool))
    np.testing.assert_array_equal(workload.tensors["conv"].mask, conv_mask.astype(bool))
    assert {name for name, _ in result.skipped} == {"conv.bias", "fc.bias"}


def test_prune_orig_without_mask_is_refused(tmp_path):
    """fc.weight_orig without fc.weight_mask beside it is one InputError naming both arrays."""
    np.savez(tmp_path / "half.npz", **{"fc.weight_orig": np.ones((2, 2))})
    with pytest.raises(InputError, match=r"half\.npz: array 'fc\.weight_orig'.*has no 'fc\.weight_mask'"):
        import_weights(tmp_path / "half.npz", tmp_path / "out")


def test_layers_that_do_not_chain_get_a_note(tmp_path):
    """A state dict whose defaults (padding 0) contradict it: conv in-channels, conv-to-linear and linear-to-linear breaks each get a note naming both layers."""
    arrays = {
        "conv0.weight": RNG.standard_normal((16, 1, 3, 3)),
        "conv1.weight": RNG.standard_normal((16, 1, 3, 3)),   # depthwise in the model: takes 16 channels
        "conv2.weight": RNG.standard_normal((32, 16, 1, 1)),
        "fc1.weight": RNG.standard_normal((10, 2048)),        # 32 x 8 x 8 with padding 1; 32 x 4 x 4 without
        "fc2.weight": RNG.standard_normal((5, 7)),
    }
    np.savez(tmp_path / "w.npz", **arrays)
    notes = import_weights(tmp_path / "w.npz", tmp_path / "out", input_size=(8, 8)).notes[:-1]
    assert len(notes) == 3
    assert notes[0].startswith("layer 'conv1' takes 1 input channels but 'conv0' gives 16: the naming scheme's defaults")
    assert notes[1].startswith("layer 'fc1' takes 2048 inputs but 'conv2' gives 32 x 4 x 4 = 512")
    assert notes[2].startswith("layer 'fc2' takes 7 inputs but 'fc1' gives 10")


def test_layers_that_chain_get_no_note(tmp_path):
    """Convolutions that chain, a linear layer after a global pooling (in_features = channels) and an MLP give no note."""
    arrays = {"conv0.weight": RNG.standard_normal((8, 3, 3, 3)), "conv0.padding": np.array(1),
              "conv1.weight": RNG.standard_normal((4, 8, 3, 3)),
              "fc0.weight": RNG.standard_normal((6, 4)), "fc1.weight": RNG.standard_normal((2, 6))}
    np.savez(tmp_path / "w.npz", **arrays)
    assert import_weights(tmp_path / "w.npz", tmp_path / "out", input_size=(8, 8)).notes == [NO_ACTIVATION_DATA]
    np.savez(tmp_path / "g.npz", **{"conv.weight": RNG.standard_normal((4, 3, 3, 3)), "a.weight": RNG.standard_normal((5, 4 * 6 * 6))})
    assert import_weights(tmp_path / "g.npz", tmp_path / "out3", input_size=(8, 8)).notes == [NO_ACTIVATION_DATA]


def test_a_linear_layer_smaller_than_the_conv_output_may_be_pooled(tmp_path):
    """in_features below the conv output and a multiple of its channels gets the pooling hint; above it does not."""
    arrays = {"conv.weight": RNG.standard_normal((4, 3, 3, 3)), "fc.weight": RNG.standard_normal((5, 4 * 3 * 3))}
    np.savez(tmp_path / "w.npz", **arrays)
    (note, _) = import_weights(tmp_path / "w.npz", tmp_path / "out", input_size=(8, 8)).notes
    assert "gives 4 x 6 x 6 = 144 (a pooling layer between them may explain it): " in note


def test_natural_order_that_puts_a_classifier_first_gets_a_note(tmp_path):
    """A torchvision-style safetensors file (classifier.* sorts before features.*) gets a layer-order note first; features-only files do not."""
    arrays = {"features.0.weight": RNG.standard_normal((4, 3, 3, 3)).astype("<f4"),
              "classifier.0.weight": RNG.standard_normal((10, 4 * 6 * 6)).astype("<f4")}
    write_safetensors(tmp_path / "m.safetensors", arrays)
    result = import_weights(tmp_path / "m.safetensors", tmp_path / "out", input_size=(8, 8))
    assert [l.name for l in result.workload.layers] == ["classifier.0", "features.0"]
    assert result.notes[0].startswith("layer order: names sorted naturally (the default for .safetensors")
    assert "put linear layer 'classifier.0' before a conv2d layer" in result.notes[0]
    write_safetensors(tmp_path / "f.safetensors", {"features.0.weight": arrays["features.0.weight"]})
    assert import_weights(tmp_path / "f.safetensors", tmp_path / "out2", input_size=(8, 8)).notes == [NO_ACTIVATION_DATA]


def test_a_weight_file_import_says_it_has_no_activation_data(tmp_path):
    """A weight file holds no activations: its import ends with the one 'no activation data' note every import path prints."""
    np.savez(tmp_path / "w.npz", **{"fc.weight": np.ones((3, 4))})
    notes = import_weights(tmp_path / "w.npz", tmp_path / "out").notes
    assert notes == [NO_ACTIVATION_DATA] and notes[0].startswith("no activation data: engines that skip zero activations")
