"""Write ``examples/tiny-cnn.onnx``: a small real ONNX model for ``energysim import``.

The model takes one 8 x 8 greyscale image (the size of scikit-learn's digits)
through two 3 x 3 convolutions (1 -> 4 -> 8 channels, each followed by ReLU and
2 x 2 max pooling) and two fully connected layers (32 -> 16 -> 10). Its weights
are drawn from a seeded random generator (He-scaled normal), so the file is the
same byte for byte on every run; it is untrained: it exists to show what an
import reads (layer geometry and weights), not to classify digits.

Run from the repository root (needs the ``onnx`` package, ``pip install 'energysim[import]'``)::

    python scripts/make_example_onnx.py            # writes examples/tiny-cnn.onnx
    python scripts/make_example_onnx.py --out other.onnx
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

SEED = 2015
OPSET = 13
IR_VERSION = 8  # fixed (not onnx.IR_VERSION) so that every onnx release writes the same bytes
DEFAULT_OUT = Path(__file__).resolve().parent.parent / "examples" / "tiny-cnn.onnx"


def _weight(rng: np.random.Generator, name: str, shape: tuple[int, ...], fan_in: int) -> onnx.TensorProto:
    """He-scaled normal weights (float32) as a named initializer."""
    values = rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)
    return numpy_helper.from_array(values.astype(np.float32), name)


def _bias(name: str, size: int) -> onnx.TensorProto:
    """Zero bias (float32) as a named initializer."""
    return numpy_helper.from_array(np.zeros(size, dtype=np.float32), name)


def build_model() -> onnx.ModelProto:
    """The tiny CNN as a checked ONNX model (opset 13, IR version 8)."""
    rng = np.random.default_rng(SEED)
    initializers = [
        _weight(rng, "conv1.weight", (4, 1, 3, 3), 1 * 9), _bias("conv1.bias", 4),
        _weight(rng, "conv2.weight", (8, 4, 3, 3), 4 * 9), _bias("conv2.bias", 8),
        _weight(rng, "fc1.weight", (16, 32), 32), _bias("fc1.bias", 16),
        _weight(rng, "fc2.weight", (10, 16), 16), _bias("fc2.bias", 10),
    ]
    conv = {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1], "strides": [1, 1]}
    pool = {"kernel_shape": [2, 2], "strides": [2, 2]}
    nodes = [
        helper.make_node("Conv", ["image", "conv1.weight", "conv1.bias"], ["c1"], name="conv1", **conv),
        helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
        helper.make_node("MaxPool", ["r1"], ["p1"], name="pool1", **pool),
        helper.make_node("Conv", ["p1", "conv2.weight", "conv2.bias"], ["c2"], name="conv2", **conv),
        helper.make_node("Relu", ["c2"], ["r2"], name="relu2"),
        helper.make_node("MaxPool", ["r2"], ["p2"], name="pool2", **pool),
        helper.make_node("Flatten", ["p2"], ["flat"], name="flatten", axis=1),
        helper.make_node("Gemm", ["flat", "fc1.weight", "fc1.bias"], ["f1"], name="fc1", transB=1),
        helper.make_node("Relu", ["f1"], ["r3"], name="relu3"),
        helper.make_node("Gemm", ["r3", "fc2.weight", "fc2.bias"], ["logits"], name="fc2", transB=1),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny-cnn",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 1, 8, 8])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 10])],
        initializer=initializers,
    )
    model = helper.make_model(graph, producer_name="energysim scripts/make_example_onnx.py",
                              opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    return model


def main() -> None:
    """Write the model to ``--out`` (default ``examples/tiny-cnn.onnx``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where to write the .onnx file")
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(build_model().SerializeToString())
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
