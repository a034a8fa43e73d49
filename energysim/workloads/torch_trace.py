"""Read the weight layers of a PyTorch program traced by ``torch.export``.

:func:`layers_from_program` walks the ATen graph of an ``ExportedProgram``
(the training IR that ``torch.export.export`` returns keeps ``aten.linear`` and
``aten.conv*`` whole) in graph order; shapes come from the graph's tensor
metadata, weights from the program's parameters and buffers. A value is a
*constant* when no user input reaches it (parameters, buffers and anything
computed from them only, such as ``weight_orig * weight_mask``), an
*activation* otherwise.

Mapping
-------
``aten.linear(x, W)``, ``W`` constant (out, in)
    ``linear``: ``batch`` = product of ``x``'s leading dimensions (tokens).
``aten.conv1d`` / ``aten.conv2d`` / ``aten.convolution`` (not transposed)
    ``conv2d`` or ``grouped_conv2d`` by :func:`energysim.workloads.import_layers.conv_entry`
    (any groups, strides, padding -- including ``"same"`` -- and dilation); a
    1-D weight (out, in, kw) is stored as (out, in, 1, kw).
``aten.matmul`` / ``mm`` / ``bmm`` / ``addmm`` / ``baddbmm``
    A 2-D constant right operand ``W`` (k, m): ``linear`` with weights ``W.T``;
    a 2-D constant left operand with a 2-D activation: ``gemm``; two
    activations (attention's ``Q K^T`` and ``P V``): ``batched_matmul``.
``aten.scaled_dot_product_attention(q, k, v)``
    Two ``batched_matmul`` layers, ``<module>.scores`` (``q @ k^T``: m = query
    length, k = head size, n = key length) and ``<module>.context`` (``P @ v``),
    ``<module>`` being the calling module's path (``attention`` at the top level);
    grouped-query attention (``enable_gqa``) counts every query head.

Before the walk the program is inlined (:func:`_inlined`: ``run_decompositions``
keeping the ops above whole), so layers inside ``with torch.no_grad():``
blocks are seen and ``einsum`` arrives as ``bmm`` (a constant operand with
leading unit dimensions counts as a 2-D weight). Other nodes (activations,
normalisation, pooling, reshapes) are skipped and listed; so are transposed
and 3-D convolutions, with their reason.

Masks
-----
A weight computed as ``W_orig * M`` where ``M`` is a constant of the weight's
shape holding only 0 and 1 -- ``torch.nn.utils.prune``'s ``weight_orig *
weight_mask`` and a parametrisation such as ``torch.ao.pruning``'s
``FakeSparsity`` (``mask * original``) -- stores ``M`` as the layer's
``<layer>.mask`` (``mask_key``) and ``W_orig * M`` as its weights. Masks of
2:4 semi-structured weights are passed in by the caller (``extra_masks``).

Layer names are the weight's parameter name without its role suffix
(``fc1.weight`` -> ``fc1``; ``fc1.weight_orig`` and
``fc1.parametrizations.weight.original`` -> ``fc1``; ``attn.in_proj_weight``
-> ``attn.in_proj``); activation matmuls are named after their module and
graph node.
"""

from __future__ import annotations

import contextlib
import logging
import math
import re
import warnings
from dataclasses import dataclass, field

import numpy as np

from energysim.errors import InputError
from energysim.workloads.import_layers import GeometryError, batched_matmul_entry, conv_entry
from energysim.workloads.writing import safe_name

TORCH_VERSION = "2.13.0"
"""The torch release the importer is tested with; the install hint names it (a CPU wheel)."""

INSTALL_HINT = f"pip install 'energysim[torch]' (or pip install torch=={TORCH_VERSION} for the tested release)"
"""How to install the optional PyTorch dependency, for one-line refusals."""

_SUFFIXES = (".parametrizations.weight.original", ".weight_orig", ".weight", "_weight")
"""Role suffixes stripped from a weight's parameter name to name its layer (first match)."""

_PASS_THROUGH = ("to", "_to_copy", "alias", "detach", "clone", "contiguous", "type_as", "lift_fresh_copy", "view",
                 "reshape", "unsqueeze", "squeeze", "permute", "t", "transpose", "expand")
"""Single-tensor ATen ops a mask or weight may pass through on its way from a buffer or parameter (for its name)."""


def require_torch():
    """Import torch, or raise a one-line InputError saying how to install it."""
    try:
        import torch
    except ImportError:
        raise InputError(f"PyTorch models need the 'torch' package, which is not installed: {INSTALL_HINT}") from None
    return torch


class _Held(logging.Handler):
    """Keeps the records torch logs, unprinted."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextlib.contextmanager
def torch_logs_held():
    """Hold what torch logs during the block; yield the list of held records.

    torch prints some failures as a log line with a traceback on stderr before
    raising (``torch.export.load`` of a bad file: "Ran into the following error
    when deserializing"). Every ``torch`` / ``torch.*`` logger with handlers has
    them replaced (as has one that does not propagate: else Python's last-resort
    handler prints) by one that keeps the records, and gets them back when the
    block ends. If the block raises, the records are dropped: the one-line
    error says what failed (:func:`torch_failure` reads the cause from them).
    If it succeeds, they are handed to torch's own handlers, as if never held.
    """
    held = _Held()
    loggers = [logging.getLogger("torch")] + [
        logger for name, logger in list(logging.Logger.manager.loggerDict.items())
        if name.startswith("torch.") and isinstance(logger, logging.Logger) and (logger.handlers or not logger.propagate)]
    saved = [(logger, logger.handlers) for logger in loggers]
    for logger in loggers:
        logger.handlers = [held]
    try:
        yield held.records
    finally:
        for logger, handlers in saved:
            logger.handlers = handlers
    for record in held.records:  # only on success: a raise above skips this
        logging.getLogger(record.name).handle(record)


def torch_failure(exc: BaseException, records: list[logging.LogRecord]) -> str:
    """``Type: first line`` of the error behind a torch failure: a held record's exception if torch logged one, else ``exc``.

    torch.export.load logs the real error (a version it cannot read, a missing
    record) and raises a generic one that points at "the warnings above".
    """
    cause = next((r.exc_info[1] for r in reversed(records) if r.exc_info and r.exc_info[1] is not None), exc)
    text = str(cause).strip().splitlines()[0] if str(cause).strip() else ""
    text = re.sub(r"^\[enforce fail at [^\]]*\] \.? *", "", text)  # c10's location prefix
    if cause is exc and "warnings above" in text:  # torch logged nothing: no program record it could read
        return "torch found no exported program in the archive"
    return f"{cause.__class__.__name__}: {text[:200]}" if text else cause.__class__.__name__


@dataclass
class TracedLayers:
    """Workload entries read from one program.

    Attributes
    ----------
    layers
        ``[[layers]]`` entries in graph order (with ``weight_key`` / ``mask_key``).
    arrays
        Arrays for ``tensors.npz`` by key: weights as float64, masks as uint8.
    skipped
        ``(node, reason)`` pairs of nodes not imported.
    notes
        Import notes (e.g. padding folded into an input size).
    program
        The inlined ``ExportedProgram`` the layers were read from (None until read).
    inputs
        Graph node name of each weight layer's input activation, by layer name
        (what :func:`measure_activation_densities` counts the non-zeros of).
    """

    layers: list[dict] = field(default_factory=list)
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    program: object = None
    inputs: dict[str, str] = field(default_factory=dict)


def _op_name(node) -> str:
    """``linear`` for ``aten.linear.default`` (the overload packet's short name), '' for non-ATen targets."""
    packet = getattr(node.target, "overloadpacket", None)
    return getattr(packet, "__name__", "") if packet is not None else ""


def _shape(node) -> tuple[int | None, ...] | None:
    value = node.meta.get("val") if hasattr(node, "meta") else None
    shape = getattr(value, "shape", None)
    if shape is None:
        return None
    return tuple(int(d) if isinstance(d, int) or str(d).isdigit() else None for d in shape)


class _Program:
    """Constants, activations and names of one ``ExportedProgram``."""

    def __init__(self, torch, program, label: str):
        from torch.export.graph_signature import InputKind

        self.torch, self.label = torch, label
        self.graph = program.graph
        self.values: dict[str, object] = {}
        self.origin: dict[str, tuple[str, str]] = {}  # placeholder name -> (kind, parameter/buffer name)
        user_inputs: set[str] = set()
        for spec in program.graph_signature.input_specs:
            name = spec.arg.name if hasattr(spec.arg, "name") else None
            if name is None:
                continue
            if spec.kind == InputKind.USER_INPUT:
                user_inputs.add(name)
                continue
            if spec.kind in (InputKind.PARAMETER, InputKind.BUFFER, InputKind.CONSTANT_TENSOR) and spec.target is not None:
                value = program.state_dict.get(spec.target, program.constants.get(spec.target))
                if value is not None:
                    self.values[name] = value
                    self.origin[name] = (spec.kind.name.lower(), spec.target)
        self.dynamic: set[str] = set()  # nodes a user input reaches
        for node in self.graph.nodes:
            if node.op == "placeholder":
                if node.name in user_inputs or node.name not in self.values:
                    self.dynamic.add(node.name)
            elif any(arg.name in self.dynamic for arg in node.all_input_nodes):
                self.dynamic.add(node.name)

    def is_constant(self, node) -> bool:
        return hasattr(node, "op") and node.name not in self.dynamic

    def value(self, node):
        """The tensor a constant node computes (parameters, buffers, and ops on them only)."""
        if node.name in self.values:
            return self.values[node.name]
        from torch.fx.node import map_arg

        if node.op != "call_function":
            raise InputError(f"{self.label}: node {node.name!r} ({node.op}) cannot be evaluated as a constant weight")
        args = map_arg(node.args, self.value)
        kwargs = map_arg(node.kwargs, self.value)
        with self.torch.no_grad():
            result = node.target(*args, **kwargs)
        self.values[node.name] = result
        return result

    def source(self, node) -> tuple[str, str] | None:
        """(kind, name) of the parameter or buffer a constant comes from through pass-through ops, or None."""
        while node.op == "call_function" and _op_name(node) in _PASS_THROUGH and node.args and hasattr(node.args[0], "op"):
            node = node.args[0]
        return self.origin.get(node.name)

    def module_path(self, node) -> str:
        """The dotted path of the module that issued ``node`` ('' at the top level)."""
        stack = node.meta.get("nn_module_stack") or {}
        if not stack:
            return ""
        path = list(stack.values())[-1][0]
        return str(path).replace("L['self'].", "").replace("L__self__.", "") if path not in ("", "L['self']") else ""


def _array(torch, tensor) -> np.ndarray:
    return tensor.detach().to("cpu", torch.float64).numpy().copy()


def _is_mask(torch, tensor, shape) -> bool:
    if tuple(tensor.shape) != tuple(shape):
        return False
    values = tensor.detach()
    return bool(torch.all((values == 0) | (values == 1)))


def _layer_name(source: tuple[str, str] | None, fallback: str) -> str:
    if source is None:
        return fallback
    name = source[1]
    for suffix in _SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


def _weight_and_mask(program: _Program, node, extra_masks: dict[str, np.ndarray]):
    """(weights, mask or None, source) of a constant weight node; the mask is split off a ``W * M`` product."""
    torch = program.torch
    weights = program.value(node)
    if _op_name(node) == "mul" and len(node.args) == 2 and all(hasattr(a, "op") for a in node.args):
        left, right = node.args
        masks = [a for a in (left, right) if _is_mask(torch, program.value(a), weights.shape)]
        if len(masks) == 2:  # both 0/1: the mask is the buffer, the weight the parameter
            masks = [a for a in masks if (program.source(a) or ("buffer",))[0] != "parameter"] or masks[1:]
        if len(masks) == 1:
            other = right if masks[0] is left else left
            return weights, program.value(masks[0]).detach().to(torch.bool), program.source(other)
    source = program.source(node)
    mask = extra_masks.get(source[1]) if source is not None else None
    return weights, (torch.as_tensor(mask, dtype=torch.bool) if mask is not None else None), source


def _conv_parameters(node) -> tuple[list[int], list[int] | str, list[int], int, bool]:
    """(stride, padding, dilation, groups, transposed) of an ATen convolution node, as lists per spatial axis."""
    op, args = _op_name(node), list(node.args)
    if op == "convolution":
        _, _, _, stride, padding, dilation, transposed, _, groups = (args + [None] * 9)[:9]
        return list(stride), list(padding), list(dilation), int(groups), bool(transposed)
    names = ["input", "weight", "bias", "stride", "padding", "dilation", "groups"]
    values = (args + [None, None, None, 1, 0, 1, 1][len(args):])[:7]  # aten.conv1d / conv2d defaults
    for index, key in enumerate(names):
        if key in node.kwargs:
            values[index] = node.kwargs[key]
    _, _, _, stride, padding, dilation, groups = values
    return stride, padding, dilation, int(groups), False


def _per_axis(value, spatial: int) -> list[int]:
    values = [int(v) for v in value] if isinstance(value, (list, tuple)) else [int(value)]
    return values * spatial if len(values) == 1 else values


def _pads(padding, kernel: list[int], dilation: list[int]) -> list[int]:
    """Begin pads then end pads per axis; ``"same"`` puts the odd pixel at the end, as PyTorch does."""
    if padding == "valid":
        return [0] * (2 * len(kernel))
    if padding == "same":
        totals = [d * (k - 1) for k, d in zip(kernel, dilation)]
        return [t // 2 for t in totals] + [t - t // 2 for t in totals]
    per_axis = _per_axis(padding, len(kernel))
    return per_axis + per_axis


PRESERVED_OPS = ("linear.default", "conv1d.default", "conv2d.default", "conv1d.padding", "conv2d.padding",
                 "matmul.default", "scaled_dot_product_attention.default")
"""ATen ops kept whole when a program is inlined (the rest decompose to core ATen, e.g. ``einsum`` to ``bmm``)."""


def _inlined(torch, program, label: str):
    """The program with higher-order wrappers (``torch.no_grad()`` blocks, autocast) inlined into one graph.

    ``run_decompositions`` with :data:`PRESERVED_OPS` kept: layers inside a
    ``with torch.no_grad():`` block are otherwise hidden in a sub-graph.
    """
    table = torch.export.default_decompositions()
    for name in PRESERVED_OPS:
        packet, overload = name.split(".")
        op = getattr(getattr(torch.ops.aten, packet), overload)
        if op in table:
            del table[op]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return program.run_decompositions(table)
    except Exception as exc:  # torch raises many types; the first line says what failed
        first = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
        raise InputError(f"{label}: torch could not inline the traced program ({exc.__class__.__name__}: {first})") from None


def layers_from_program(program, label: str, extra_masks: dict[str, np.ndarray] | None = None) -> TracedLayers:
    """Walk an ``ExportedProgram``'s graph into workload layer entries (see the module docstring).

    Parameters
    ----------
    program
        A ``torch.export.ExportedProgram``.
    label
        What to call the model in messages (a file name or ``"the module"``).
    extra_masks
        Keep-masks by parameter name (e.g. of 2:4 semi-structured weights).

    Returns
    -------
    TracedLayers

    Raises
    ------
    InputError
        If a layer's geometry fits no layer kind (naming the model, the node,
        the rule and the value), or the program has no weight layer.
    """
    torch = require_torch()
    inlined = _inlined(torch, program, label)
    prog = _Program(torch, inlined, label)
    out = TracedLayers(program=inlined)
    used: set[str] = set()
    masks = extra_masks or {}

    def add(entry: dict, weights=None, mask=None, x=None) -> None:
        if weights is not None:
            if x is not None and hasattr(x, "name"):
                out.inputs[entry["name"]] = x.name
            array = _array(torch, weights).reshape(entry_weight_shape(entry))
            if not np.all(np.isfinite(array)):
                raise InputError(f"{label}: layer '{entry['name']}': weights must be finite (found NaN or inf)")
            entry["weight_key"] = f"{entry['name']}.weight"
            out.arrays[entry["weight_key"]] = array
            if mask is not None:
                entry["mask_key"] = f"{entry['name']}.mask"
                out.arrays[entry["mask_key"]] = mask.detach().cpu().numpy().reshape(array.shape).astype(np.uint8)
                entry["measured_sparsity"] = float(np.count_nonzero(array == 0) / array.size)
        out.layers.append(entry)

    for node in prog.graph.nodes:
        if node.op != "call_function":
            continue
        op = _op_name(node)
        where = f"{label}: node {node.name!r} ({op or node.target})"
        try:
            if op == "linear":
                _linear(prog, node, used, add, out, masks)
            elif op in ("conv1d", "conv2d", "convolution"):
                _conv(prog, node, used, add, out, masks)
            elif op in ("matmul", "mm", "bmm", "addmm", "baddbmm"):
                _matmul(prog, node, op, used, add, out, masks)
            elif op == "scaled_dot_product_attention":
                _attention(prog, node, used, add)
            elif op in ("conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d"):
                out.skipped.append((node.name, f"{op}: not a supported layer kind, left out"))
            elif prog.is_constant(node) or op in ("_assert_tensor_metadata", "getitem", "sym_size"):
                continue
            else:
                out.skipped.append((node.name, f"{op or node.target}: no weight GEMM"))
        except GeometryError as exc:
            raise InputError(f"{where}: {exc}") from None
    if not out.layers:
        ops = sorted({_op_name(n) or str(n.target) for n in prog.graph.nodes if n.op == "call_function"})
        raise InputError(f"{label}: no weight layer (linear, conv1d/conv2d, matmul or attention) in the traced graph "
                         f"(operators found: {', '.join(ops) or 'none'})")
    return out


def measure_activation_densities(traced: TracedLayers, args: tuple, label: str = "the module",
                                 calibration: str | None = None) -> int:
    """Run the traced program on ``args`` and set each weight layer's ``activation_density`` from its real input.

    A layer's activation density is the fraction of non-zero elements of its
    input tensor over the whole example batch (padding zeros of a convolution
    are not counted), the same field the bundled pruned exports carry. A layer
    whose input is all zero on the example keeps the default 1.0 and gets a
    note. If the program cannot run on ``args`` (an operator without a CPU
    kernel, ...), no layer is changed and a note says why; with
    ``calibration`` (the user's file the arguments came from) that is an
    InputError instead, as is a shape that differs from the traced input's.

    Parameters
    ----------
    traced
        What :func:`layers_from_program` returned (its ``program`` and ``inputs``).
    args
        The example tensors, the program's positional user inputs.
    label
        What to call the model in notes.
    calibration
        The file ``args`` were read from (``--calibration``), or None for
        ``from_torch``'s example input.

    Returns
    -------
    int
        The number of layers whose activation density was set.

    Raises
    ------
    InputError
        Only with ``calibration``: a shape that is not the traced input's, or a
        program that cannot run on it.
    """
    torch = require_torch()
    from torch.export.graph_signature import InputKind

    program = traced.program
    wanted = set(traced.inputs.values())
    counts: dict[str, tuple[int, int]] = {}  # node name -> (non-zero elements, elements)

    class _Counter(torch.fx.Interpreter):
        def run_node(self, node):
            result = super().run_node(node)
            if node.name in wanted and isinstance(result, torch.Tensor):
                counts[node.name] = (int(torch.count_nonzero(result)), int(result.numel()))
            return result

    if calibration is not None:
        _check_calibration_shapes(program, args, label, calibration)
    user = iter(args)
    flat = []
    try:
        for spec in program.graph_signature.input_specs:
            if spec.kind == InputKind.USER_INPUT:
                flat.append(next(user))
            elif spec.kind in (InputKind.PARAMETER, InputKind.BUFFER, InputKind.CONSTANT_TENSOR):
                flat.append(program.state_dict.get(spec.target, program.constants.get(spec.target)))
            else:
                raise ValueError(f"input kind {spec.kind.name} cannot be fed")
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _Counter(program.graph_module).run(*flat)
    except Exception as exc:  # torch raises many types; the note says what failed and nothing is changed
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
        if calibration is not None:
            raise InputError(f"{calibration}: --calibration: {label} cannot run on this input "
                             f"({exc.__class__.__name__}: {first})") from None
        traced.notes.append(f"{label}: activation densities not measured: running the traced program on the example "
                            f"failed ({exc.__class__.__name__}: {first}); every layer keeps activation_density 1.0")
        return 0
    measured = 0
    for entry in traced.layers:
        node = traced.inputs.get(entry["name"])
        if node not in counts:
            continue
        nonzero, total = counts[node]
        if nonzero == 0:
            traced.notes.append(f"layer {entry['name']!r}: its input is all zero on the example input, so its "
                                "activation_density stays 1.0 (give an example with real data)")
            continue
        entry["activation_density"] = nonzero / total
        measured += 1
    return measured


def _check_calibration_shapes(program, args: tuple, label: str, calibration: str) -> None:
    """Refuse calibration tensors whose count or shapes differ from the program's user inputs (static dimensions)."""
    from torch.export.graph_signature import InputKind

    names = [spec.arg.name for spec in program.graph_signature.input_specs if spec.kind == InputKind.USER_INPUT]
    nodes = {node.name: node for node in program.graph.nodes if node.op == "placeholder"}
    if len(names) != len(args):
        raise InputError(f"{calibration}: --calibration holds {len(args)} input(s) but {label} takes {len(names)}")
    for name, arg in zip(names, args):
        expected = _shape(nodes[name]) if name in nodes else None
        got = tuple(int(d) for d in arg.shape)
        if expected is not None and (len(expected) != len(got) or any(e is not None and e != g for e, g in zip(expected, got))):
            shown = "x".join("?" if d is None else str(d) for d in expected)
            raise InputError(f"{calibration}: --calibration array has shape {'x'.join(map(str, got))} but {label} takes "
                             f"an input of shape {shown}")


def entry_weight_shape(entry: dict) -> tuple[int, ...]:
    """The stored weight shape of an entry: (out, in) for linear, (out, in / groups, kh, kw) for convolutions, (m, k) for gemm."""
    kind = entry["kind"]
    if kind == "linear":
        return (entry["out_features"], entry["in_features"])
    if kind == "gemm":
        return (entry["m"], entry["k"])
    groups = entry.get("groups", 1)
    return (entry["out_channels"], entry["in_channels"] // groups, entry["kernel_height"], entry["kernel_width"])


def _named(prog: _Program, used: set[str], source, node, suffix: str = "") -> str:
    path = prog.module_path(node)
    fallback = f"{path}.{node.name}" if path else node.name
    return safe_name(_layer_name(source, fallback) + suffix, used)


def _linear(prog: _Program, node, used, add, out: TracedLayers, masks) -> None:
    x, w = node.args[0], node.args[1]
    if not prog.is_constant(w):
        a_shape, w_shape = _shape(x), _shape(w)
        add(batched_matmul_entry(_named(prog, used, None, node), a_shape, (*w_shape[:-2], w_shape[-1], w_shape[-2])))
        return
    weights, mask, source = _weight_and_mask(prog, w, masks)
    if weights.dim() != 2:
        raise GeometryError(f"a linear weight must be 2-D (got shape {tuple(weights.shape)})")
    x_shape = _shape(x) or ()
    batch = math.prod(d or 1 for d in x_shape[:-1]) if len(x_shape) > 1 else 1
    entry = {"kind": "linear", "name": _named(prog, used, source, node), "in_features": int(weights.shape[1]),
             "out_features": int(weights.shape[0]), "batch": int(batch)}
    add(entry, weights, mask, x)


def _conv(prog: _Program, node, used, add, out: TracedLayers, masks) -> None:
    x, w = node.args[0], node.args[1]
    stride, padding, dilation, groups, transposed = _conv_parameters(node)
    if transposed:
        out.skipped.append((node.name, "transposed convolution: not a supported layer kind, left out"))
        return
    if not prog.is_constant(w):
        out.skipped.append((node.name, "convolution whose weight is an activation: left out"))
        return
    weights, mask, source = _weight_and_mask(prog, w, masks)
    spatial = weights.dim() - 2
    if spatial not in (1, 2):
        out.skipped.append((node.name, f"{spatial}-D convolution: not a supported layer kind, left out"))
        return
    x_shape = _shape(x)
    if x_shape is not None and len(x_shape) == spatial + 1:  # an unbatched input (C, *spatial)
        x_shape = (1, *x_shape)
    kernel = [int(k) for k in weights.shape[2:]]
    dilations = _per_axis(dilation, spatial)
    name = _named(prog, used, source, node)
    entry, notes = conv_entry(name, tuple(weights.shape), x_shape or (), _per_axis(stride, spatial),
                              _pads(padding, kernel, dilations), dilations, groups)
    out.notes.extend(notes)
    add(entry, weights, mask, x)


def _squeezed(tensor):
    """A constant operand without its leading unit dimensions (``bmm`` of a weight that ``einsum`` unsqueezed)."""
    while tensor.dim() > 2 and tensor.shape[0] == 1:
        tensor = tensor[0]
    return tensor


def _matmul(prog: _Program, node, op: str, used, add, out: TracedLayers, masks) -> None:
    a, b = (node.args[1], node.args[2]) if op in ("addmm", "baddbmm") else (node.args[0], node.args[1])
    a_const, b_const = prog.is_constant(a), prog.is_constant(b)
    if a_const and b_const:
        out.skipped.append((node.name, f"{op} of two constants: no activation, left out"))
        return
    if b_const:
        weights, mask, source = _weight_and_mask(prog, b, masks)
        weights, mask = _squeezed(weights), (_squeezed(mask) if mask is not None else None)
        if weights.dim() == 2:
            a_shape = _shape(a) or ()
            batch = math.prod(d or 1 for d in a_shape[:-1]) if len(a_shape) > 1 else 1
            entry = {"kind": "linear", "name": _named(prog, used, source, node), "in_features": int(weights.shape[0]),
                     "out_features": int(weights.shape[1]), "batch": int(batch)}
            add(entry, weights.T, mask.T if mask is not None else None, a)
            return
    if a_const:
        weights, mask, source = _weight_and_mask(prog, a, masks)
        weights, mask = _squeezed(weights), (_squeezed(mask) if mask is not None else None)
        b_shape = tuple(d for i, d in enumerate(_shape(b) or ()) if i >= len(_shape(b) or ()) - 2 or d != 1)
        if weights.dim() == 2 and len(b_shape) == 2:
            entry = {"kind": "gemm", "name": _named(prog, used, source, node), "m": int(weights.shape[0]),
                     "k": int(weights.shape[1]), "n": int(b_shape[1] or 1)}
            add(entry, weights, mask, b)
            return
    add(batched_matmul_entry(_named(prog, used, None, node), _shape(a) or (), _shape(b) or ()))


def _attention(prog: _Program, node, used, add) -> None:
    q, k, v = (_shape(n) or () for n in node.args[:3])
    if len(q) < 2 or len(k) < 2 or len(v) < 2:
        raise GeometryError(f"attention query, key and value must be at least 2-D (got {q}, {k}, {v})")
    enable_gqa = bool(node.kwargs.get("enable_gqa", node.args[7] if len(node.args) > 7 else False))
    if enable_gqa and len(q) >= 3 and len(k) >= 3 and q[-3] and k[-3] and q[-3] != k[-3]:
        k = (*k[:-3], q[-3], *k[-2:])  # grouped-query attention: each key head serves q_heads / kv_heads query heads
        v = (*v[:-3], q[-3], *v[-2:])
    base = prog.module_path(node) or "attention"
    add(batched_matmul_entry(safe_name(f"{base}.scores", used), q, (*k[:-2], k[-1], k[-2])))
    scores = (*q[:-1], k[-2])
    add(batched_matmul_entry(safe_name(f"{base}.context", used), scores, v))
