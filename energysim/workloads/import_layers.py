"""Workload layer entries from a convolution's or an activation matmul's geometry.

The ONNX importer (:mod:`energysim.workloads.onnx_import`) and the PyTorch
importer (:mod:`energysim.workloads.torch_trace`) read the same facts from two
kinds of graph (weight shape, input shape, strides, pads, dilations, groups;
the two operand shapes of a matmul); this module turns them into the same
``[[layers]]`` entries, so a model gives the same workload by either path.

Convolutions
------------
1-D convolutions (weight (out, in / groups, kw)) become 2-D ones of input
height 1 and kernel height 1. A convolution with ``groups = 1`` and dilation 1
is a ``conv2d`` layer; any other groups or dilation is a ``grouped_conv2d``
layer (``groups = 1`` for a dilated ordinary convolution). Both kinds hold one
stride and one padding for height and width:

- strides must be equal in height and width where the kernel and the input
  both span more than one pixel (otherwise the unused axis's stride is
  irrelevant);
- dilations likewise;
- padding that is the same on all sides is the layer's ``padding``; padding
  that differs between sides (or between height and width, as a 1-D
  convolution's does) is folded into the input size: ``in_height = H + top +
  bottom``, ``in_width = W + left + right``, ``padding = 0``. Output sizes and
  MACs are exact; the padded zeros count as input elements, so the layer's
  unique input elements are over by the padded border (reported as a note).

Activation matmuls
------------------
``A[..., m, k] @ B[..., k, n]`` with both operands activations (attention's
``Q K^T`` and ``P V``) is a ``batched_matmul`` with ``batch`` = the product of
the broadcast leading dimensions; a 1-D operand counts as one row (``A``) or
one column (``B``), as in NumPy's matmul. A symbolic dimension (None) counts as 1.
"""

from __future__ import annotations

import math
from typing import Sequence


NO_ACTIVATION_DATA = (
    "no activation data: engines that skip zero activations (EIE, gating/skipping designs) take every input as "
    "non-zero (activation_density 1.0, no ReLU sparsity); energysim.from_torch(model, example_input), or "
    "--calibration FILE.npz for a torch file that runs, measures them (docs/import.md, 'Activation density')"
)
"""The note an import without activation data prints (ONNX, torch files, weight files)."""


def activation_notes(layers: list[dict]) -> list[str]:
    """``[NO_ACTIVATION_DATA]`` when no entry carries an ``activation_density``, else ``[]``.

    Importers set the field only from data (a measured input, ``--calibration``,
    or a bundled architecture's stated densities below 1.0).
    """
    return [] if any("activation_density" in entry for entry in layers) else [NO_ACTIVATION_DATA]


class GeometryError(ValueError):
    """A layer geometry no workload layer kind holds; the message names the rule and the value."""


def _one(values: Sequence[int], kernel: Sequence[int], sizes: Sequence[int], what: str) -> int:
    """The single value of ``what`` along the axes where it matters (kernel or input wider than one pixel)."""
    used = {int(v) for v, k, s in zip(values, kernel, sizes) if k > 1 or s > 1}
    if len(used) > 1:
        raise GeometryError(f"{what} must be equal in height and width (got {list(values)})")
    return used.pop() if used else int(values[-1])


def conv_entry(
    name: str,
    weight_shape: Sequence[int],
    input_shape: Sequence[int | None],
    strides: Sequence[int],
    pads: Sequence[int],
    dilations: Sequence[int],
    groups: int,
) -> tuple[dict, list[str]]:
    """The ``conv2d`` or ``grouped_conv2d`` entry of a 1-D or 2-D convolution.

    Parameters
    ----------
    name
        Layer name.
    weight_shape
        (out_channels, in_channels / groups, kw) or (..., kh, kw), elements.
    input_shape
        (batch, channels, W) or (batch, channels, H, W); batch and channels may
        be None (symbolic: batch counts 1, channels are not checked).
    strides, dilations
        One per spatial axis, pixels.
    pads
        Begin pads of every spatial axis, then end pads (ONNX order:
        ``[top, left, bottom, right]``, or ``[left, right]`` in 1-D), pixels.
    groups
        Convolution groups.

    Returns
    -------
    entry, notes
        The ``[[layers]]`` entry (no ``weight_key``) and notes for the import
        summary (padding folded into the input size).

    Raises
    ------
    GeometryError
        If the geometry breaks a rule of the module docstring.
    """
    spatial = len(weight_shape) - 2
    if spatial not in (1, 2):
        raise GeometryError(f"only 1-D and 2-D convolutions are supported, so the weight must be 3-D or 4-D "
                            f"(got shape {tuple(weight_shape)})")
    if len(input_shape) != spatial + 2:
        raise GeometryError(f"the input of a {spatial}-D convolution must be {spatial + 2}-D (got shape {tuple(input_shape)})")
    if len(strides) != spatial or len(dilations) != spatial or len(pads) != 2 * spatial:
        raise GeometryError(f"a {spatial}-D convolution needs {spatial} strides, {spatial} dilations and {2 * spatial} pads "
                            f"(got {list(strides)}, {list(dilations)}, {list(pads)})")
    sizes = [int(s) if s is not None else None for s in input_shape[2:]]
    if any(s is None for s in sizes):
        raise GeometryError(f"the input's spatial size is symbolic (got shape {tuple(input_shape)})")
    kernel = [int(k) for k in weight_shape[2:]]
    pads = [int(p) for p in pads]
    if spatial == 1:  # a row of height 1: kernel height 1, no padding above or below
        sizes, kernel = [1, *sizes], [1, *kernel]
        strides, dilations, pads = [1, *strides], [1, *dilations], [0, pads[0], 0, pads[1]]
    if groups < 1:
        raise GeometryError(f"groups must be a positive integer (got {groups})")
    out_channels, group_channels = int(weight_shape[0]), int(weight_shape[1])
    in_channels = group_channels * groups
    channels = input_shape[1]
    if channels is not None and int(channels) != in_channels:
        raise GeometryError(f"the input has {channels} channels but the weight expects {group_channels} x {groups} groups "
                            f"= {in_channels}")
    if out_channels % groups:
        raise GeometryError(f"out_channels must be a multiple of groups {groups} (got {out_channels})")
    if any(int(s) < 1 for s in strides) or any(int(d) < 1 for d in dilations) or any(p < 0 for p in pads):
        raise GeometryError(f"strides and dilations must be >= 1 and pads >= 0 (got {list(strides)}, {list(dilations)}, {pads})")
    stride = _one(strides, kernel, sizes, "strides")
    dilation = _one(dilations, kernel, [1, 1], "dilations")
    notes: list[str] = []
    if len(set(pads)) == 1:
        padding, height, width = pads[0], sizes[0], sizes[1]
    else:
        padding, height, width = 0, sizes[0] + pads[0] + pads[2], sizes[1] + pads[1] + pads[3]
        notes.append(f"{name}: padding {pads} (top, left, bottom, right) is not the same on all sides, so it is folded "
                     f"into the input size {height}x{width} (padded zeros count as input elements)")
    for size, k, axis in ((height, kernel[0], "height"), (width, kernel[1], "width")):
        if size + 2 * padding - dilation * (k - 1) - 1 < 0:
            raise GeometryError(f"the (dilated) kernel {k} is larger than the padded input {axis} {size + 2 * padding}")
    entry = {"name": name, "in_channels": in_channels, "out_channels": out_channels, "in_height": height,
             "in_width": width, "kernel_height": kernel[0], "kernel_width": kernel[1], "stride": stride,
             "padding": padding, "batch": int(input_shape[0] or 1)}
    if groups == 1 and dilation == 1:
        return {"kind": "conv2d", **entry}, notes
    return {"kind": "grouped_conv2d", "groups": int(groups), "dilation": dilation, **entry}, notes


def batched_matmul_entry(name: str, a_shape: Sequence[int | None], b_shape: Sequence[int | None]) -> dict:
    """The ``batched_matmul`` entry of ``A @ B`` between two activations (NumPy matmul semantics).

    Raises
    ------
    GeometryError
        If an operand is a scalar, the reduction lengths differ, or the leading
        dimensions do not broadcast.
    """
    if not a_shape or not b_shape:
        raise GeometryError(f"matmul operands must have at least 1 dimension (got {tuple(a_shape)} and {tuple(b_shape)})")
    a = [1, *a_shape] if len(a_shape) == 1 else list(a_shape)
    b = [*b_shape, 1] if len(b_shape) == 1 else list(b_shape)
    if a[-1] is not None and b[-2] is not None and a[-1] != b[-2]:
        raise GeometryError(f"matmul reduction lengths must be equal (got {tuple(a_shape)} @ {tuple(b_shape)})")
    lead_a, lead_b = a[:-2], b[:-2]
    width = max(len(lead_a), len(lead_b))
    lead_a, lead_b = [1] * (width - len(lead_a)) + lead_a, [1] * (width - len(lead_b)) + lead_b
    batch = []
    for x, y in zip(lead_a, lead_b):
        known = {d for d in (x, y) if d is not None and d != 1}
        if len(known) > 1:
            raise GeometryError(f"matmul leading dimensions must broadcast (got {tuple(a_shape)} @ {tuple(b_shape)})")
        batch.append(known.pop() if known else 1)
    return {"kind": "batched_matmul", "name": name, "batch": int(math.prod(batch)), "m": int(a[-2] or 1),
            "k": int(a[-1] or b[-2] or 1), "n": int(b[-1] or 1)}
