"""Exact non-zero counts from real masks, vectorised over the mapping's loop factors.

Every dimension's index is a mixed-radix number whose digits are the indices
of that dimension's loops in the flattened nest (outer loop = most significant
digit). Reshaping a tensor axis of extent ``D`` into the factors of ``D``'s
loops therefore gives one array axis per loop; the spatial loops' axes tell the
MAC lanes apart, the temporal loops' axes are time. Summing a mask over the
axes of the loops at and below a level gives the non-zeros of every tile that
level holds; an einsum of the two operand masks over the temporal axes gives
the effectual MACs (both operands non-zero) of every lane, whose maximum is
the time of a design that skips ineffectual MACs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from energysim.engines.loopnest.mapping import Mapping
from energysim.errors import UnsupportedError
from energysim.workloads.layers import Layer
from energysim.workloads.loop_nest import LoopNest
from energysim.workloads.workload import LayerTensors

WEIGHT_AXES = ("G", "K", "C", "R", "S")
"""Dimensions of the weights mask's axes (the nest's weight projection)."""


@dataclass(frozen=True)
class OperandMasks:
    """Boolean non-zero masks of the two MAC operands in the nest's index space.

    Attributes
    ----------
    weights
        Shape (G, K, C, R, S): True where the weight is kept and non-zero.
    inputs
        Shape (N, G, C, H, W) in the padded input space (padding is zero), or None
        when the workload has no activations (the layer's ``activation_density`` is then used).
    """

    weights: np.ndarray
    inputs: np.ndarray | None


def operand_masks(layer: Layer, nest: LoopNest, tensors: LayerTensors) -> OperandMasks:
    """Lay a layer's real tensors out as the nest's weight and input masks.

    Weights of every listed kind; activations of linear and convolution layers.
    Activations of ``samples`` images fill the batch ``N`` (the first ``N``
    samples; fewer samples are repeated cyclically).

    Raises
    ------
    UnsupportedError
        For layer kinds whose tensors cannot be laid out (only ``linear``,
        ``conv2d``, ``grouped_conv2d`` and ``gemm`` are).
    """
    b = nest.bounds
    kept = tensors.weights != 0
    if tensors.mask is not None:
        kept = kept & (np.asarray(tensors.mask) != 0)
    kind = layer.kind
    if kind not in ("linear", "conv2d", "grouped_conv2d", "gemm"):
        raise UnsupportedError(f"loopnest sparse model: real masks of '{kind}' layers are not laid out (layer '{layer.name}')")
    weights = kept.reshape(b["G"], b["K"], b["C"], b["R"], b["S"])
    inputs = None
    if tensors.activations is not None:
        acts = np.asarray(tensors.activations) != 0
        samples = acts.shape[0]
        acts = acts[np.arange(b["N"]) % samples]
        if kind == "gemm":
            raise UnsupportedError(f"loopnest sparse model: activations of gemm layer '{layer.name}' are not laid out "
                                   "(its B operand is not an input activation); give activation_density instead")
        if kind == "linear":
            acts = acts.reshape(b["N"], 1, b["C"], 1, 1)
        else:
            pad = layer.padding
            acts = acts.reshape(b["N"], b["G"], b["C"], layer.in_height, layer.in_width)
            acts = np.pad(acts, ((0, 0), (0, 0), (0, 0), (pad, pad), (pad, pad)))
        inputs = acts
    return OperandMasks(weights, inputs)


def _split(array: np.ndarray, axis: int, dim: str, mapping: Mapping) -> np.ndarray:
    """Replace ``axis`` (extent = the dim's bound) by two axes: (spatial lane, time) of that dim's loops."""
    loops = [loop for loop in mapping.loops if loop.dim == dim]
    factors = [loop.factor for loop in loops]
    shape = array.shape
    array = array.reshape(shape[:axis] + tuple(factors) + shape[axis + 1:])
    spatial = [axis + i for i, loop in enumerate(loops) if loop.kind != "t"]
    temporal = [axis + i for i, loop in enumerate(loops) if loop.kind == "t"]
    order = list(range(axis)) + spatial + temporal + list(range(axis + len(factors), array.ndim))
    array = array.transpose(order)
    n_s = int(np.prod([f for f, loop in zip(factors, loops) if loop.kind != "t"], dtype=np.int64))
    n_t = int(np.prod([f for f, loop in zip(factors, loops) if loop.kind == "t"], dtype=np.int64))
    return array.reshape(shape[:axis] + (n_s, n_t) + shape[axis + 1:])


def lane_effectual(nest: LoopNest, mapping: Mapping, weights: np.ndarray | None, inputs: np.ndarray | None) -> np.ndarray:
    """MACs per lane (spatial instance) whose leader operands are all non-zero.

    Parameters
    ----------
    weights, inputs
        Operand masks (:class:`OperandMasks` layout); None means "not a leader" (treated as all ones).

    Returns
    -------
    numpy.ndarray
        Flat int64 array, one entry per lane (every combination of spatial loop
        indices); sums to the effectual MACs of the layer.
    """
    b = nest.bounds
    sp = {dim: int(np.prod([l.factor for l in mapping.loops if l.dim == dim and l.kind != "t"], dtype=np.int64))
          for dim in b}
    if weights is None:
        weights = np.ones((b["G"], b["K"], b["C"], b["R"], b["S"]), dtype=bool)
    rows = (b["P"] - 1) * nest.stride_h + 1
    cols = (b["Q"] - 1) * nest.stride_w + 1
    lanes = np.zeros((sp["R"], sp["S"], sp["N"], sp["G"], sp["K"], sp["C"], sp["P"], sp["Q"]), dtype=np.int64)
    r_lane = _split(np.arange(b["R"]), 0, "R", mapping)
    s_lane = _split(np.arange(b["S"]), 0, "S", mapping)
    r_of = {int(r_lane[i, j]): i for i in range(r_lane.shape[0]) for j in range(r_lane.shape[1])}
    s_of = {int(s_lane[i, j]): i for i in range(s_lane.shape[0]) for j in range(s_lane.shape[1])}
    for r in range(b["R"]):
        for s in range(b["S"]):
            w = weights[:, :, :, r, s].astype(np.int64)                       # G K C
            w = _split(_split(_split(w, 0, "G", mapping), 2, "K", mapping), 4, "C", mapping)
            w = w.sum(axis=3)                                                  # gs gt ks cs ct
            if inputs is None:
                i = np.ones((b["N"], b["G"], b["C"], b["P"], b["Q"]), dtype=np.int64)
            else:
                h0, w0 = r * nest.dilation_h, s * nest.dilation_w
                i = inputs[:, :, :, h0:h0 + rows:nest.stride_h, w0:w0 + cols:nest.stride_w].astype(np.int64)
            i = _split(i, 0, "N", mapping).sum(axis=1)                         # ns G C P Q
            i = _split(_split(i, 1, "G", mapping), 3, "C", mapping)            # ns gs gt cs ct P Q
            i = _split(_split(i, 5, "P", mapping), 7, "Q", mapping)            # ... ps pt qs qt
            i = i.sum(axis=(6, 8))                                             # ns gs gt cs ct ps qs
            lanes[r_of[r], s_of[s]] += np.einsum("abkcd,nabcdpq->nakcpq", w, i, optimize=True)
    return lanes.ravel()


def max_tile_nnz(mask: np.ndarray, axes_dims: tuple[str, ...], mapping: Mapping, level: int) -> int:
    """Largest non-zero count of any tile a level holds (mask axes projected one dimension each).

    Only for tensors whose axes are each one dimension (weights; inputs of
    1x1 layers): the tile of ``level`` is the box of its own and inner loops.
    """
    array = mask.astype(np.int64)
    for axis, dim in enumerate(axes_dims):
        loops = [loop for loop in mapping.loops if loop.dim == dim]
        array = array.reshape(array.shape[:axis * 2] + (
            int(np.prod([l.factor for l in loops if l.level < level], dtype=np.int64)),
            int(np.prod([l.factor for l in loops if l.level >= level], dtype=np.int64)),
        ) + array.shape[axis * 2 + 1:])
    inner = tuple(2 * a + 1 for a in range(len(axes_dims)))
    return int(array.sum(axis=inner).max())
