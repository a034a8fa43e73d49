"""Import an ONNX model's weight layers (and its activation matmuls) as an energysim workload folder.

Every ``Gemm``, ``MatMul`` and ``Conv`` node of the main graph whose weight is a
constant (a graph initializer or a ``Constant`` node, possibly passed through
``Identity``, ``Cast`` or ``Transpose``) becomes one workload
layer, in graph (topological) order, with its real weights stored in
``tensors.npz`` under ``<layer>.weight``. A ``MatMul`` between two activations
(attention's ``Q K^T`` and ``P V``) becomes a ``batched_matmul`` layer with no
stored tensor. Other nodes (activations, pooling, normalisation, reshapes)
carry no GEMM and are skipped.

Mapping
-------
``Gemm`` (``Y = alpha * A' @ B' + beta * C``, ``A' = A.T`` if ``transA``, ``B' = B.T`` if ``transB``)
    With ``B`` constant: ``linear`` with ``out_features`` = columns of ``B'``,
    ``in_features`` = rows of ``B'``, ``batch`` = rows of ``A'``, and weights
    ``alpha * B'.T`` of shape (out, in). With only ``A`` constant: ``gemm`` with
    ``m, k`` = shape of ``A'``, ``n`` = columns of ``B'``, weights ``alpha * A'``.
    The bias ``C`` is not a GEMM operand and is left out.
``MatMul`` (``Y = A @ B``)
    With a 2-D constant ``B`` of shape (k, m): ``linear`` with weights ``B.T``
    (m, k) and ``batch`` = product of ``A``'s leading dimensions (all but the
    last; e.g. tokens of a sequence). With only a 2-D constant ``A`` (m, k) and a
    2-D activation ``B`` (k, n): ``gemm`` with weights ``A``. With two
    activations: ``batched_matmul`` (:func:`energysim.workloads.import_layers.batched_matmul_entry`:
    batch = product of the broadcast leading dimensions).
``Conv``
    1-D or 2-D, any ``group``, ``dilations``, ``pads`` and ``auto_pad``:
    ``conv2d`` (``group = 1``, no dilation) or ``grouped_conv2d`` by
    :func:`energysim.workloads.import_layers.conv_entry`, with the input height
    and width from ONNX shape inference; a 1-D weight (out, in, kw) is stored
    as (out, in, 1, kw). Padding that differs between sides is folded into the
    input size (listed in the result's ``notes``). Strides or dilations that
    differ between height and width, 3-D convolutions and a kernel larger than
    the padded input are refused with a ConfigError naming the file, the node,
    the rule and the value.

Sizes are those of one run of the model: a fixed batch dimension is kept, a
symbolic (named) dimension such as a dynamic batch counts as 1. Where a convolution's input height or width is symbolic, give
``input_size=(height, width)``: it fixes the last two dimensions of the
model's 4-D graph input before shape inference.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from energysim.errors import ConfigError, InputError
from energysim.limits import ARRAY_BYTES
from energysim.workloads.import_layers import GeometryError, activation_notes, batched_matmul_entry, conv_entry
from energysim.workloads.workload import Workload
from energysim.workloads.writing import safe_name, write_workload_folder

SUPPORTED_OPS = ("Gemm", "MatMul", "Conv")
"""ONNX operator types that become workload layers."""

FOLDED_OPS = ("Identity", "Cast", "Transpose")
"""Operators whose output is still a constant when their input is (e.g. an exporter's ``Transpose`` of a weight)."""


@dataclass
class ImportResult:
    """What an import produced.

    Attributes
    ----------
    workload
        The written workload folder, loaded back with ``load_workload``.
    path
        Path of the written ``workload.toml``.
    skipped
        ``(node or array name, reason)`` pairs for everything not imported.
    notes
        What the import changed on the way (e.g. uneven padding folded into an input size).
    """

    workload: Workload
    path: Path
    skipped: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _require_onnx():
    try:
        import onnx
    except ImportError:
        raise InputError(
            "ONNX import needs the 'onnx' package, which is not installed (install energysim[import] or pip install onnx)"
        ) from None
    return onnx


class _Graph:
    """Constants, shapes and names of an ONNX graph, with error messages that name the file."""

    def __init__(self, onnx, model, path: Path):
        from onnx import numpy_helper

        self.path = path
        graph = model.graph
        self.constants: dict[str, np.ndarray] = {}
        for tensor in graph.initializer:
            self.constants[tensor.name] = self._to_array(numpy_helper, tensor, tensor.name)
        for node in graph.node:  # topological order, so a folded input is known before its users
            if node.op_type == "Constant" and node.output:
                for attribute in node.attribute:
                    if attribute.name == "value":
                        self.constants[node.output[0]] = self._to_array(numpy_helper, attribute.t, node.output[0])
            elif node.op_type in FOLDED_OPS and node.input and node.input[0] in self.constants and node.output:
                value = self.constants[node.input[0]]
                if node.op_type == "Transpose":
                    perm = next((list(a.ints) for a in node.attribute if a.name == "perm"), None)
                    try:
                        value = np.transpose(value, perm or None)
                    except ValueError:
                        raise ConfigError(
                            f"{path}: node {node.name or node.output[0]!r}: Transpose attribute perm must be a permutation "
                            f"of the {value.ndim} axes of {node.input[0]!r} (got {perm})"
                        ) from None
                self.constants[node.output[0]] = value  # Identity and Cast keep the values (weights are read as float64)
        self.shapes: dict[str, tuple[int | None, ...]] = {}
        for info in [*graph.input, *graph.value_info, *graph.output]:
            tensor_type = info.type.tensor_type
            if not tensor_type.HasField("shape"):
                continue
            dims = []
            for dim in tensor_type.shape.dim:
                dims.append(dim.dim_value if dim.HasField("dim_value") and dim.dim_value > 0 else None)
            self.shapes[info.name] = tuple(dims)
        for name, array in self.constants.items():
            self.shapes[name] = tuple(int(d) for d in array.shape)

    def _to_array(self, numpy_helper, tensor, name: str) -> np.ndarray:
        try:
            array = numpy_helper.to_array(tensor, base_dir=str(self.path.parent))
        except Exception as exc:  # external data missing, unknown dtype, ...
            raise ConfigError(f"{self.path}: initializer {name!r} cannot be read as an array ({exc})") from None
        if array.dtype.kind in "cOUS":
            raise ConfigError(
                f"{self.path}: initializer {name!r} must hold real numbers (got dtype {array.dtype}"
                f"{'; complex weights are not supported' if array.dtype.kind == 'c' else ''})"
            )
        if array.dtype.kind not in "fiub":  # bfloat16 and float8 come as NumPy extension dtypes
            try:
                array = array.astype(np.float64)
            except (TypeError, ValueError):
                raise ConfigError(f"{self.path}: initializer {name!r} must be numeric (got dtype {array.dtype})") from None
        return array

    def shape(self, node_label: str, name: str, role: str) -> tuple[int | None, ...]:
        if name not in self.shapes:
            raise ConfigError(
                f"{self.path}: node {node_label}: the shape of {role} {name!r} is unknown after ONNX shape inference"
            )
        return self.shapes[name]


def _attributes(onnx, node) -> dict:
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _count(dims: tuple[int | None, ...]) -> int:
    """Product of the concrete dimensions; a symbolic dimension counts as 1."""
    return int(math.prod(d for d in dims if d is not None)) if dims else 1


def _weight(array: np.ndarray) -> np.ndarray:
    weights = np.asarray(array, dtype=np.float64)
    return np.ascontiguousarray(weights)


def _gemm(onnx, graph: _Graph, node, label: str, name: str) -> tuple[dict, np.ndarray] | str:
    attrs = _attributes(onnx, node)
    trans_a, trans_b = int(attrs.get("transA", 0)), int(attrs.get("transB", 0))
    alpha = float(attrs.get("alpha", 1.0))
    a_name, b_name = node.input[0], node.input[1]
    if b_name in graph.constants:
        b = graph.constants[b_name]
        if b.ndim != 2:
            raise ConfigError(f"{graph.path}: node {label}: Gemm weight {b_name!r} must be 2-D (got shape {b.shape})")
        b_prime = b.T if trans_b else b  # (k, n)
        a_shape = graph.shape(label, a_name, "input")
        if len(a_shape) != 2:
            raise ConfigError(f"{graph.path}: node {label}: Gemm input {a_name!r} must be 2-D (got shape {a_shape})")
        rows = a_shape[1] if trans_a else a_shape[0]
        k = a_shape[0] if trans_a else a_shape[1]
        if k is not None and k != b_prime.shape[0]:
            raise ConfigError(
                f"{graph.path}: node {label}: Gemm reduction length of input {a_name!r} ({k}) must equal the weight's ({b_prime.shape[0]})"
            )
        entry = {"kind": "linear", "name": name, "in_features": int(b_prime.shape[0]),
                 "out_features": int(b_prime.shape[1]), "batch": rows or 1}
        return entry, _weight(alpha * b_prime.T)
    if a_name in graph.constants:
        a = graph.constants[a_name]
        if a.ndim != 2:
            raise ConfigError(f"{graph.path}: node {label}: Gemm weight {a_name!r} must be 2-D (got shape {a.shape})")
        a_prime = a.T if trans_a else a  # (m, k)
        b_shape = graph.shape(label, b_name, "input")
        if len(b_shape) != 2:
            raise ConfigError(f"{graph.path}: node {label}: Gemm input {b_name!r} must be 2-D (got shape {b_shape})")
        n = b_shape[0] if trans_b else b_shape[1]
        entry = {"kind": "gemm", "name": name, "m": int(a_prime.shape[0]), "k": int(a_prime.shape[1]), "n": n or 1}
        return entry, _weight(alpha * a_prime)
    return "Gemm between two activations (no constant weight)"


def _matmul(graph: _Graph, node, label: str, name: str) -> tuple[dict, np.ndarray] | str:
    a_name, b_name = node.input[0], node.input[1]
    if b_name in graph.constants:
        b = graph.constants[b_name]
        if b.ndim != 2:
            raise ConfigError(f"{graph.path}: node {label}: MatMul weight {b_name!r} must be 2-D (got shape {b.shape})")
        a_shape = graph.shape(label, a_name, "input")
        if len(a_shape) < 1:
            raise ConfigError(f"{graph.path}: node {label}: MatMul input {a_name!r} must have at least 1 dimension (got a scalar)")
        k = a_shape[-1]
        if k is not None and k != b.shape[0]:
            raise ConfigError(
                f"{graph.path}: node {label}: MatMul reduction length of input {a_name!r} ({k}) must equal the weight's ({b.shape[0]})"
            )
        entry = {"kind": "linear", "name": name, "in_features": int(b.shape[0]), "out_features": int(b.shape[1]),
                 "batch": _count(a_shape[:-1])}
        return entry, _weight(b.T)
    if a_name in graph.constants:
        a = graph.constants[a_name]
        b_shape = graph.shape(label, b_name, "input")
        if a.ndim != 2 or len(b_shape) != 2:
            raise ConfigError(
                f"{graph.path}: node {label}: MatMul with a constant left operand needs a 2-D weight and a 2-D input "
                f"(got {a.shape} and {b_shape})"
            )
        entry = {"kind": "gemm", "name": name, "m": int(a.shape[0]), "k": int(a.shape[1]), "n": b_shape[1] or 1}
        return entry, _weight(a)
    if a_name not in graph.shapes or b_name not in graph.shapes:
        return "MatMul between two activations whose shapes ONNX shape inference did not find"
    try:
        return batched_matmul_entry(name, graph.shapes[a_name], graph.shapes[b_name]), None
    except GeometryError as exc:
        raise ConfigError(f"{graph.path}: node {label}: MatMul {exc}") from None


def _conv(onnx, graph: _Graph, node, label: str, name: str) -> tuple[dict, np.ndarray, list[str]] | str:
    attrs = _attributes(onnx, node)
    x_name, w_name = node.input[0], node.input[1]
    if w_name not in graph.constants:
        return "Conv whose weight is not a constant"
    weights = graph.constants[w_name]
    if weights.ndim not in (3, 4):
        raise ConfigError(
            f"{graph.path}: node {label}: only 1-D and 2-D convolutions are supported, so the weight must be 3-D or 4-D "
            f"(got shape {weights.shape})"
        )
    spatial = weights.ndim - 2
    kernel = [int(k) for k in weights.shape[2:]]
    kernel_shape = [int(k) for k in attrs.get("kernel_shape", kernel)]
    if kernel_shape != kernel:
        raise ConfigError(f"{graph.path}: node {label}: Conv attribute kernel_shape must match the weight's kernel {kernel} "
                          f"(got {kernel_shape})")
    strides = [int(v) for v in attrs.get("strides", [1] * spatial)]
    dilations = [int(v) for v in attrs.get("dilations", [1] * spatial)]
    x_shape = graph.shape(label, x_name, "input")
    if len(x_shape) != spatial + 2:
        raise ConfigError(f"{graph.path}: node {label}: the input {x_name!r} of a {spatial}-D Conv must be {spatial + 2}-D "
                          f"(got shape {x_shape})")
    sizes = x_shape[2:]
    if any(size is None for size in sizes):
        raise ConfigError(
            f"{graph.path}: node {label}: the input height and width of Conv input {x_name!r} are symbolic "
            f"(got shape {x_shape}); give the model input size (--input-size H W)"
        )
    auto_pad = attrs.get("auto_pad", b"NOTSET")
    auto_pad = auto_pad.decode() if isinstance(auto_pad, bytes) else str(auto_pad)
    if auto_pad in ("NOTSET", ""):
        pads = [int(p) for p in attrs.get("pads", [0] * (2 * spatial))]
    elif auto_pad == "VALID":
        pads = [0] * (2 * spatial)
    elif auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        begins, ends = [], []
        for size, k, stride, dilation in zip(sizes, kernel, strides, dilations):
            total = max(0, (-(-size // stride) - 1) * stride + dilation * (k - 1) + 1 - size)
            small, large = total // 2, total - total // 2
            begins.append(small if auto_pad == "SAME_UPPER" else large)  # SAME_UPPER puts the odd pixel at the end
            ends.append(large if auto_pad == "SAME_UPPER" else small)
        pads = begins + ends
    else:
        raise ConfigError(f"{graph.path}: node {label}: Conv attribute auto_pad must be NOTSET, VALID, SAME_UPPER or SAME_LOWER (got {auto_pad!r})")
    try:
        entry, notes = conv_entry(name, weights.shape, x_shape, strides, pads, dilations, int(attrs.get("group", 1)))
    except GeometryError as exc:
        raise ConfigError(f"{graph.path}: node {label}: Conv {exc}") from None
    return entry, _weight(weights[:, :, None, :] if spatial == 1 else weights), notes  # 1-D: kernel height 1


def _fix_input_size(model, input_size: tuple[int, int], constants: set[str], path: Path) -> None:
    height, width = (int(v) for v in input_size)
    if height <= 0 or width <= 0:
        raise InputError(f"input size must be two positive integers H W (got {height} {width})")
    candidates = [i for i in model.graph.input if i.name not in constants and len(i.type.tensor_type.shape.dim) == 4]
    if len(candidates) != 1:
        raise ConfigError(
            f"{path}: --input-size needs exactly one 4-D graph input (N, C, H, W) to apply to (got {len(candidates)})"
        )
    dims = candidates[0].type.tensor_type.shape.dim
    for dim, value in ((dims[2], height), (dims[3], width)):
        if dim.HasField("dim_value") and dim.dim_value not in (0, value):
            raise ConfigError(
                f"{path}: graph input {candidates[0].name!r} has fixed size {dims[2].dim_value}x{dims[3].dim_value}, "
                f"which --input-size {height} {width} contradicts"
            )
        dim.dim_value = value


def _check_opset(onnx, model, path: Path) -> None:
    """Refuse a model whose default-domain opset is newer than the installed ``onnx`` package knows."""
    supported = onnx.defs.onnx_opset_version()
    for opset in model.opset_import:
        if opset.domain in ("", "ai.onnx") and not 1 <= opset.version <= supported:
            raise ConfigError(
                f"{path}: opset_import: the default-domain opset must be between 1 and {supported}, the newest the "
                f"installed onnx package supports (got {opset.version})"
            )


def read_onnx_layers(path: str | Path, input_size: tuple[int, int] | None = None) -> tuple[list[dict], dict[str, np.ndarray], list[tuple[str, str]]]:
    """Read the weight layers of an ONNX file.

    Parameters
    ----------
    path
        An ``.onnx`` model file (external data is read from its folder).
    input_size
        (height, width) in pixels for the model's 4-D input, where its spatial
        dimensions are symbolic; None to use the sizes in the file.

    Returns
    -------
    layers, arrays, skipped
        ``[[layers]]`` entries in graph order, their weight arrays keyed by
        ``<layer>.weight``, and ``(node, reason)`` pairs of skipped nodes.

    Raises
    ------
    InputError
        If the file is missing or is not an ONNX model.
    ConfigError
        If a node breaks a rule of the mapping (naming file, node, rule and value),
        or the model has no supported weight layer.
    """
    layers, arrays, skipped, _, _ = _read(Path(path), input_size)
    return layers, arrays, skipped


def _read(path: Path, input_size: tuple[int, int] | None) -> tuple[list[dict], dict[str, np.ndarray], list[tuple[str, str]], list[str], str]:
    onnx = _require_onnx()
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: ONNX model file not found")
    ARRAY_BYTES.check(f"{path}: the ONNX file", path.stat().st_size)
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # protobuf DecodeError, ...
        raise InputError(f"{path}: not an ONNX model (protobuf parse failed: {exc.__class__.__name__})") from None
    try:
        onnx.external_data_helper.load_external_data_for_model(model, str(path.parent))
    except Exception as exc:  # a missing or short external-data file, a location outside the folder, ...
        detail = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else exc.__class__.__name__
        raise ConfigError(f"{path}: external weight data cannot be read ({detail})") from None
    if not model.HasField("graph") or model.ir_version <= 0:
        raise InputError(f"{path}: not an ONNX model (no graph or IR version in the file)")
    _check_opset(onnx, model, path)
    _check_single_producer(model, path)
    initializer_names = {t.name for t in model.graph.initializer}
    if input_size is not None:
        _fix_input_size(model, input_size, initializer_names, path)
    try:
        model = onnx.shape_inference.infer_shapes(model, data_prop=True)  # data_prop: Shape -> Concat -> Reshape chains
    except Exception as exc:
        raise ConfigError(f"{path}: ONNX shape inference failed ({exc.__class__.__name__}: {str(exc).splitlines()[0] if str(exc) else ''})") from None
    graph = _Graph(onnx, model, path)
    layers: list[dict] = []
    arrays: dict[str, np.ndarray] = {}
    skipped: list[tuple[str, str]] = []
    notes: list[str] = []
    used: set[str] = set()
    for index, node in enumerate(model.graph.node):
        label = f"{node.name!r} ({node.op_type} #{index})" if node.name else f"#{index} ({node.op_type})"
        if node.op_type not in SUPPORTED_OPS or node.domain not in ("", "ai.onnx"):
            if node.op_type != "Constant" and not (node.op_type in FOLDED_OPS and node.output and node.output[0] in graph.constants):
                skipped.append((node.name or f"#{index}", f"{node.op_type}: no weight GEMM"))
            continue
        if len(node.input) < 2:
            raise ConfigError(f"{path}: node {label}: {node.op_type} needs two inputs (got {len(node.input)})")
        name = safe_name(node.name or f"{node.op_type.lower()}_{index}", used)
        if node.op_type == "Gemm":
            made = _gemm(onnx, graph, node, label, name)
        elif node.op_type == "MatMul":
            made = _matmul(graph, node, label, name)
        else:
            made = _conv(onnx, graph, node, label, name)
        if isinstance(made, str):
            used.discard(name)
            skipped.append((node.name or f"#{index}", made))
            continue
        entry, weights, *more = made
        notes.extend(more[0] if more else [])
        layers.append(entry)
        if weights is None:  # an activation x activation matmul: nothing stored
            continue
        entry["weight_key"] = f"{name}.weight"
        if not np.all(np.isfinite(weights)):
            raise ConfigError(f"{path}: node {label}: weights must be finite (found NaN or inf)")
        arrays[entry["weight_key"]] = weights
    if not layers:
        ops = sorted({n.op_type for n in model.graph.node})
        raise ConfigError(
            f"{path}: no supported weight layer ({', '.join(SUPPORTED_OPS)} with a constant weight) in the graph "
            f"(operators found: {', '.join(ops) or 'none'})"
        )
    producer = " ".join(p for p in (model.producer_name, model.producer_version) if p)
    source = f"ONNX model {path.name}" + (f" (producer {producer})" if producer else "")
    return layers, arrays, skipped, notes, source


def _check_single_producer(model, path: Path) -> None:
    """Refuse a graph in which one tensor is written twice (ONNX graphs are single-assignment; the checker refuses it too).

    Raises
    ------
    InputError
        Naming the file, the tensor and the two nodes.
    """
    producer: dict[str, int] = {name: -1 for name in (t.name for t in model.graph.input)}
    for index, node in enumerate(model.graph.node):
        for name in node.output:
            if not name:
                continue
            if name in producer:
                first = "a graph input" if producer[name] < 0 else f"node #{producer[name]}"
                raise InputError(f"{path}: not a valid ONNX graph: tensor {name!r} is written by {first} and again by "
                                 f"node #{index} ({node.op_type}); each tensor has one producer")
            producer[name] = index


def import_onnx(
    path: str | Path,
    out_dir: str | Path,
    input_size: tuple[int, int] | None = None,
    name: str | None = None,
) -> ImportResult:
    """Turn an ONNX model into a workload folder (``workload.toml`` + ``tensors.npz``).

    Parameters
    ----------
    path
        The ``.onnx`` file.
    out_dir
        Output folder (created); its ``workload.toml`` and ``tensors.npz`` are
        replaced atomically, nothing is written if the import fails.
    input_size
        (height, width) in pixels for a model input with symbolic spatial size.
    name
        Workload name (default: the file stem).

    Returns
    -------
    ImportResult
        The loaded workload, the TOML path and the skipped nodes.
    """
    path = Path(path)
    layers, arrays, skipped, notes, source = _read(path, input_size)
    workload_name = name or path.stem
    workload = write_workload_folder(
        out_dir,
        workload_name,
        layers,
        arrays,
        description=f"imported from {path.name} by energysim import: {len(layers)} weight layers",
        source=source,
    )
    return ImportResult(workload=workload, path=Path(out_dir) / "workload.toml", skipped=skipped,
                        notes=notes + activation_notes(layers))
