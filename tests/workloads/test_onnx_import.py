"""ONNX import: small models built with the onnx package, round-tripped through load_workload."""

from __future__ import annotations

import argparse
import io

import numpy as np
import pytest

from energysim.errors import ConfigError, EnergySimError, InputError
from energysim.workloads import load_workload

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from energysim.workloads.import_commands import register  # noqa: E402
from energysim.workloads.onnx_import import import_onnx  # noqa: E402

RNG = np.random.default_rng(7)


def _weights(*shape: int) -> np.ndarray:
    return RNG.standard_normal(shape).astype(np.float32)


def _save(path, nodes, inputs, outputs, initializers, opset: int = 17):
    graph = helper.make_graph(nodes, "test-graph", inputs, outputs, initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="pytest")
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def _conv_model(path, conv_attrs: dict, x_shape=("N", 3, 8, 8), w_shape=(4, 3, 3, 3)):
    w = _weights(*w_shape)
    node = helper.make_node("Conv", ["x", "w"], ["y"], name="conv", **conv_attrs)
    _save(path, [node], [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x_shape))],
          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", w_shape[0], "h", "w"])], [numpy_helper.from_array(w, "w")])
    return w


def test_cnn_round_trips_shapes_and_weights(tmp_path):
    """Conv(stride 2, pad 1) -> Relu -> Conv -> Flatten -> Gemm(transB=1): shapes inferred (conv2 sees 4x4), weights exact."""
    w1, w2, w3 = _weights(8, 3, 3, 3), _weights(6, 8, 1, 1), _weights(10, 6 * 4 * 4)
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], name="conv1", strides=[2, 2], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
        helper.make_node("Conv", ["r1", "w2"], ["c2"], name="conv2"),
        helper.make_node("Flatten", ["c2"], ["f"], name="flatten"),
        helper.make_node("Gemm", ["f", "w3", "b3"], ["y"], name="fc", transB=1),
    ]
    inits = [numpy_helper.from_array(a, n) for a, n in ((w1, "w1"), (w2, "w2"), (w3, "w3"),
                                                       (_weights(8), "b1"), (_weights(10), "b3"))]
    model = _save(tmp_path / "cnn.onnx", nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 8, 8])],
                  [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 10])], inits)
    result = import_onnx(model, tmp_path / "out")
    workload = load_workload(tmp_path / "out" / "workload.toml")
    assert [layer.name for layer in workload.layers] == ["conv1", "conv2", "fc"]
    conv1, conv2, fc = workload.layers
    assert (conv1.kind, conv1.in_height, conv1.in_width, conv1.stride, conv1.padding, conv1.batch) == ("conv2d", 8, 8, 2, 1, 1)
    assert (conv1.out_height, conv1.out_width) == (4, 4)
    assert (conv2.in_channels, conv2.out_channels, conv2.in_height, conv2.in_width, conv2.kernel_height) == (8, 6, 4, 4, 1)
    assert (fc.kind, fc.in_features, fc.out_features, fc.batch) == ("linear", 96, 10, 1)
    np.testing.assert_array_equal(workload.tensors["conv1"].weights, w1.astype(np.float64))
    np.testing.assert_array_equal(workload.tensors["conv2"].weights, w2.astype(np.float64))
    np.testing.assert_array_equal(workload.tensors["fc"].weights, w3.astype(np.float64))
    assert {name for name, _ in result.skipped} == {"relu1", "flatten"}
    assert "cnn.onnx" in workload.source and "pytest" in workload.source


def test_gemm_without_transb_and_alpha(tmp_path):
    """Gemm with transB=0 stores B.T as (out, in), folds alpha into the weights and keeps a fixed batch of 5."""
    b = _weights(12, 7)  # (k, n)
    node = helper.make_node("Gemm", ["a", "b"], ["y"], name="g", alpha=0.5)
    model = _save(tmp_path / "g.onnx", [node], [helper.make_tensor_value_info("a", TensorProto.FLOAT, [5, 12])],
                  [helper.make_tensor_value_info("y", TensorProto.FLOAT, [5, 7])], [numpy_helper.from_array(b, "b")])
    layer = import_onnx(model, tmp_path / "out").workload.layers[0]
    workload = load_workload(tmp_path / "out" / "workload.toml")
    assert (layer.kind, layer.in_features, layer.out_features, layer.batch) == ("linear", 12, 7, 5)
    np.testing.assert_allclose(workload.tensors["g"].weights, 0.5 * b.T.astype(np.float64))


def test_matmul_weight_right_and_left(tmp_path):
    """MatMul x(1, 16, 32) @ W(32, 24) -> linear (24, 32) with batch 16 tokens; W(6, 24) @ act(24, 16) -> gemm m=6 k=24 n=16."""
    w_right, w_left = _weights(32, 24), _weights(6, 24)
    nodes = [
        helper.make_node("MatMul", ["x", "wr"], ["h"], name="proj"),
        helper.make_node("Reshape", ["h", "shape"], ["h2"], name="reshape"),
        helper.make_node("Transpose", ["h2"], ["ht"], name="transpose", perm=[1, 0]),
        helper.make_node("MatMul", ["wl", "ht"], ["y"], name="mix"),
    ]
    inits = [numpy_helper.from_array(w_right, "wr"), numpy_helper.from_array(w_left, "wl"),
             numpy_helper.from_array(np.array([16, 24], dtype=np.int64), "shape")]
    model = _save(tmp_path / "mm.onnx", nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16, 32])],
                  [helper.make_tensor_value_info("y", TensorProto.FLOAT, [6, 16])], inits)
    import_onnx(model, tmp_path / "out", name="matmuls")
    workload = load_workload(tmp_path / "out" / "workload.toml")
    proj, mix = workload.layers
    assert workload.name == "matmuls"
    assert (proj.kind, proj.in_features, proj.out_features, proj.batch) == ("linear", 32, 24, 16)
    assert (mix.kind, mix.m, mix.k, mix.n) == ("gemm", 6, 24, 16)
    np.testing.assert_array_equal(workload.tensors["proj"].weights, w_right.T.astype(np.float64))
    np.testing.assert_array_equal(workload.tensors["mix"].weights, w_left.astype(np.float64))


def test_activation_matmul_is_a_batched_matmul(tmp_path):
    """A MatMul between two activations (attention scores, 2 heads x 4 tokens) becomes a batched_matmul with no stored tensor."""
    nodes = [helper.make_node("MatMul", ["x", "w"], ["q"], name="q_proj"),
             helper.make_node("MatMul", ["q", "k"], ["s"], name="scores")]
    model = _save(tmp_path / "att.onnx", nodes,
                  [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 4, 8]),
                   helper.make_tensor_value_info("k", TensorProto.FLOAT, [2, 8, 4])],
                  [helper.make_tensor_value_info("s", TensorProto.FLOAT, [2, 4, 4])], [numpy_helper.from_array(_weights(8, 8), "w")])
    result = import_onnx(model, tmp_path / "out")
    proj, scores = load_workload(tmp_path / "out" / "workload.toml").layers
    assert (proj.kind, proj.batch) == ("linear", 8)
    assert (scores.name, scores.kind, scores.batch, scores.m, scores.k, scores.n) == ("scores", "batched_matmul", 2, 4, 8, 4)
    assert scores.weight_key is None and result.skipped == []


def test_grouped_dilated_and_uneven_padding_convs_import(tmp_path):
    """group=3 gives grouped_conv2d (groups 3), dilations [2, 2] grouped_conv2d groups 1 dilation 2, pads [0, 1, 1, 1] a folded 9x10 input."""
    _conv_model(tmp_path / "g.onnx", {"group": 3}, w_shape=(3, 1, 3, 3))
    grouped = import_onnx(tmp_path / "g.onnx", tmp_path / "g").workload.layers[0]
    assert (grouped.kind, grouped.groups, grouped.in_channels, grouped.out_channels) == ("grouped_conv2d", 3, 3, 3)
    _conv_model(tmp_path / "d.onnx", {"dilations": [2, 2]})
    dilated = import_onnx(tmp_path / "d.onnx", tmp_path / "d").workload.layers[0]
    assert (dilated.kind, dilated.groups, dilated.dilation, dilated.out_height) == ("grouped_conv2d", 1, 2, 4)
    _conv_model(tmp_path / "p.onnx", {"pads": [0, 1, 1, 1]})
    result = import_onnx(tmp_path / "p.onnx", tmp_path / "p")
    padded = result.workload.layers[0]
    assert (padded.kind, padded.in_height, padded.in_width, padded.padding, padded.out_height, padded.out_width) == (
        "conv2d", 9, 10, 0, 7, 8)
    assert any("folded into the input size 9x10" in note for note in result.notes)


def test_conv1d_is_a_conv2d_of_height_one(tmp_path):
    """A 1-D Conv (weight (4, 3, 5), input length 12) is a conv2d of height 1 with weights stored (4, 3, 1, 5)."""
    w = _weights(4, 3, 5)
    node = helper.make_node("Conv", ["x", "w"], ["y"], name="conv1d", strides=[2])
    model = _save(tmp_path / "c1.onnx", [node], [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 12])],
                  [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 4])], [numpy_helper.from_array(w, "w")])
    import_onnx(model, tmp_path / "out")
    workload = load_workload(tmp_path / "out" / "workload.toml")
    (layer,) = workload.layers
    assert (layer.kind, layer.in_height, layer.in_width, layer.kernel_height, layer.stride, layer.out_width) == (
        "conv2d", 1, 12, 1, 2, 4)
    np.testing.assert_array_equal(workload.tensors["conv1d"].weights, w[:, :, None, :].astype(np.float64))


def test_symbolic_spatial_size_needs_input_size(tmp_path):
    """A conv input of symbolic H, W is refused with a hint, and accepted with input_size=(10, 12)."""
    _conv_model(tmp_path / "dyn.onnx", {"pads": [1, 1, 1, 1]}, x_shape=("N", 3, "H", "W"))
    with pytest.raises(ConfigError, match=r"dyn\.onnx: node 'conv'.*symbolic.*--input-size H W"):
        import_onnx(tmp_path / "dyn.onnx", tmp_path / "out")
    layer = import_onnx(tmp_path / "dyn.onnx", tmp_path / "out", input_size=(10, 12)).workload.layers[0]
    assert (layer.in_height, layer.in_width, layer.padding) == (10, 12, 1)


def test_auto_pad_same_upper_is_symmetric_for_odd_kernels(tmp_path):
    """auto_pad=SAME_UPPER with a 3x3 kernel at stride 1 becomes padding 1."""
    _conv_model(tmp_path / "same.onnx", {"auto_pad": "SAME_UPPER"})
    layer = import_onnx(tmp_path / "same.onnx", tmp_path / "out").workload.layers[0]
    assert (layer.padding, layer.out_height) == (1, 8)


@pytest.mark.parametrize(
    ("attrs", "w_shape", "pattern"),
    [
        ({"group": 2}, (4, 1, 3, 3), r"g\.onnx: node 'conv'.*input has 3 channels but the weight expects 1 x 2 groups = 2"),
        ({"strides": [1, 2]}, (4, 3, 3, 3), r"g\.onnx: node 'conv'.*strides must be equal.*\[1, 2\]"),
        ({"dilations": [1, 2]}, (4, 3, 3, 3), r"g\.onnx: node 'conv'.*dilations must be equal.*\[1, 2\]"),
        ({"dilations": [5, 5]}, (4, 3, 3, 3), r"g\.onnx: node 'conv'.*dilated\) kernel 3 is larger than the padded input height 8"),
    ],
)
def test_unsupported_conv_attributes_are_refused(tmp_path, attrs, w_shape, pattern):
    """Groups that do not divide the input, unequal strides or dilations and an oversized dilated kernel each raise one ConfigError naming file, node, rule and value."""
    _conv_model(tmp_path / "g.onnx", attrs, w_shape=w_shape)
    with pytest.raises(ConfigError, match=pattern):
        import_onnx(tmp_path / "g.onnx", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_not_an_onnx_file_is_an_input_error(tmp_path):
    """Bytes that are not an ONNX protobuf raise InputError naming the file; nothing is written."""
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\xff\xfe this is not a protobuf \x00\x01" * 10)
    with pytest.raises(InputError, match=r"bad\.onnx: not an ONNX model"):
        import_onnx(bad, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_no_supported_layers_is_refused(tmp_path):
    """A graph with only Relu raises ConfigError listing the operators it found."""
    model = _save(tmp_path / "relu.onnx", [helper.make_node("Relu", ["x"], ["y"])],
                  [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                  [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])], [])
    with pytest.raises(ConfigError, match=r"relu\.onnx: no supported weight layer.*operators found: Relu"):
        import_onnx(model, tmp_path / "out")


def test_failed_import_leaves_existing_folder_untouched(tmp_path):
    """A refused import into a folder holding an earlier workload keeps the earlier files byte for byte."""
    _conv_model(tmp_path / "ok.onnx", {})
    import_onnx(tmp_path / "ok.onnx", tmp_path / "out")
    before = {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir()}
    _conv_model(tmp_path / "g.onnx", {"strides": [1, 2]})
    with pytest.raises(EnergySimError):
        import_onnx(tmp_path / "g.onnx", tmp_path / "out")
    assert {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir()} == before


def test_import_command_writes_summary(tmp_path):
    """`energysim import MODEL -o OUT` (the registered handler) returns 0 and summarises layers to the text stream."""
    _conv_model(tmp_path / "m.onnx", {"pads": [1, 1, 1, 1]})
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["import", str(tmp_path / "m.onnx"), "-o", str(tmp_path / "out"), "--name", "tiny"])
    out = io.StringIO()
    assert args.handler(args, out) == 0
    text = out.getvalue()
    assert "imported 1 layers" in text and "'tiny'" in text and "conv: conv2d weight (4, 3, 3, 3)" in text
    assert load_workload(tmp_path / "out" / "workload.toml").name == "tiny"


def test_constant_node_weight_and_trans_a(tmp_path):
    """A Gemm whose weight comes from a Constant node and whose input is transposed (transA=1, A of shape (k, batch)) imports with batch 3."""
    w = _weights(5, 4)  # (n, k) with transB=1
    nodes = [helper.make_node("Constant", [], ["w"], value=numpy_helper.from_array(w, "w_value")),
             helper.make_node("Gemm", ["a", "w"], ["y"], name="fc", transA=1, transB=1)]
    model = _save(tmp_path / "c.onnx", nodes, [helper.make_tensor_value_info("a", TensorProto.FLOAT, [4, 3])],
                  [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3, 5])], [])
    import_onnx(model, tmp_path / "out")
    workload = load_workload(tmp_path / "out" / "workload.toml")
    (layer,) = workload.layers
    assert (layer.in_features, layer.out_features, layer.batch) == (4, 5, 3)
    np.testing.assert_array_equal(workload.tensors["fc"].weights, w.astype(np.float64))


def test_unnamed_nodes_get_op_index_names(tmp_path):
    """Nodes without names become '<op>_<index>' layers, unique within the workload."""
    nodes = [helper.make_node("MatMul", ["x", "w1"], ["h"]), helper.make_node("MatMul", ["h", "w2"], ["y"])]
    model = _save(tmp_path / "u.onnx", nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                  [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])],
                  [numpy_helper.from_array(_weights(4, 3), "w1"), numpy_helper.from_array(_weights(3, 2), "w2")])
    assert [l.name for l in import_onnx(model, tmp_path / "out").workload.layers] == ["matmul_0", "matmul_1"]


def test_missing_onnx_package_is_named(tmp_path, monkeypatch):
    """Without the onnx package the import raises InputError naming the extra to install."""
    import sys

    monkeypatch.setitem(sys.modules, "onnx", None)
    (tmp_path / "m.onnx").write_bytes(b"x")
    with pytest.raises(InputError, match=r"needs the 'onnx' package.*energysim\[import\]"):
        import_onnx(tmp_path / "m.onnx", tmp_path / "out")


def test_weight_through_transpose_is_folded(tmp_path):
    """A MatMul weight given as Transpose(initializer (m, k)) is folded to (k, m) and imported as linear with weights (m, k)."""
    w = _weights(6, 4)  # stored (out, in), transposed in the graph
    nodes = [helper.make_node("Transpose", ["w"], ["wt"], name="t", perm=[1, 0]),
             helper.make_node("MatMul", ["x", "wt"], ["y"], name="fc")]
    model = _save(tmp_path / "t.onnx", nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 4])],
                  [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 6])], [numpy_helper.from_array(w, "w")])
    result = import_onnx(model, tmp_path / "out")
    workload = load_workload(tmp_path / "out" / "workload.toml")
    (layer,) = workload.layers
    assert (layer.in_features, layer.out_features, layer.batch) == (4, 6, 2)
    np.testing.assert_array_equal(workload.tensors["fc"].weights, w.astype(np.float64))
    assert result.skipped == []


def test_import_command_summarises_grouped_and_batched_layers(tmp_path):
    """The import summary names a grouped conv's groups and a batched matmul's sizes (neither is one GEMM)."""
    _conv_model(tmp_path / "g.onnx", {"group": 3}, w_shape=(3, 1, 3, 3))
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    out = io.StringIO()
    args = parser.parse_args(["import", str(tmp_path / "g.onnx"), "-o", str(tmp_path / "out")])
    assert args.handler(args, out) == 0
    assert "conv: grouped_conv2d weight (3, 1, 3, 3), 3 groups, dilation 1, 972 MACs" in out.getvalue()


def test_torch_options_are_refused_for_onnx(tmp_path):
    """--input-shape / --arch / --trust on an ONNX model is one InputError naming the options and the file."""
    _conv_model(tmp_path / "m.onnx", {})
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["import", str(tmp_path / "m.onnx"), "-o", str(tmp_path / "out"), "--trust", "--arch", "x"])
    with pytest.raises(InputError, match=r"--arch, --trust applies to PyTorch files.*not to m\.onnx"):
        args.handler(args, io.StringIO())


def test_import_says_once_that_there_is_no_activation_data(tmp_path):
    """An ONNX import prints exactly one 'no activation data' note (engines that skip zeros assume dense inputs) and leaves activation_density 1.0."""
    _conv_model(tmp_path / "m.onnx", {"pads": [1, 1, 1, 1]})
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["import", str(tmp_path / "m.onnx"), "-o", str(tmp_path / "out")])
    out = io.StringIO()
    assert args.handler(args, out) == 0
    notes = [line for line in out.getvalue().splitlines() if "no activation data" in line]
    assert len(notes) == 1 and notes[0].startswith("note: ") and "EIE" in notes[0] and "from_torch" in notes[0]
    assert [layer.activation_density for layer in load_workload(tmp_path / "out" / "workload.toml").layers] == [1.0]
