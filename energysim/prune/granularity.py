"""Granularities: how weights are grouped for pruning, and exact top-k selection of groups.

A granularity turns a weight tensor into groups; a criterion scores each group;
the selection prunes exactly ``round(sparsity x number of groups)`` groups with
the lowest scores (halves rounded up, computed exactly on the decimal value of
the sparsity, so 0.29 of 50 groups is 14.5 -> 15; with ``rounding="torch"``,
``torch.nn.utils.prune``'s count instead: Python's ``round`` of the float product,
halves to even, so 14), or, for N:M, exactly ``M - N`` weights of every full group
of ``M``.

Groups (weights of shape (out, in) for linear, (out, in, kh, kw) for conv2d)
----------------------------------------------------------------------------
``fine``
    Every weight is its own group (per layer).
``fine_global``
    Every weight is a group, and the count is taken over all weight layers
    together (so layers end up with different sparsities).
``nm``
    N:M along the reduction (input) axis: the weight is viewed as the GEMM
    operand (out, K) with ``K = in`` (linear) or ``K = in*kh*kw`` (conv2d, C
    order: input channel, then kernel row, then kernel column), cut into
    consecutive groups of ``M``; the ``N`` highest-scoring weights of every
    group are kept. A shorter tail group of ``L = K mod M`` weights keeps
    ``min(N, L)``. The sparsity argument is not used: it is ``1 - N/M``.
``vector``
    conv2d: each row of a kernel (``kw`` weights at fixed out, in, kernel row);
    linear: blocks of ``block`` consecutive input weights of one output row
    (a shorter tail block when ``in`` is not a multiple of ``block``).
``kernel``
    conv2d only: a whole ``kh x kw`` kernel (one input-output channel pair).
``channel``
    An output channel (conv2d) or neuron (linear): a whole weight row, with its
    bias and batch-norm parameters; the next layer's matching input channels
    are masked too (see :mod:`energysim.prune.structure`).

Tie rule
--------
Selection sorts groups by score with a stable sort, so among equal scores the
group with the lower index (C order of the group grid; in ``fine_global``, the
earlier layer first) is pruned first. Groups already fully pruned (mask all
False) are pruned first whatever their score: masks are monotone, and if
earlier steps pruned more than the new target the old pruning is kept (the
measured sparsity then exceeds the target and is reported as measured).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from energysim.errors import InputError
from energysim.formats.nm_compliance import check_pattern

GRANULARITIES = ("fine", "fine_global", "nm", "vector", "kernel", "channel")
"""Every granularity name, from finest to coarsest."""

DEFAULT_FC_BLOCK = 4
"""Default length (weights) of a linear layer's vector block."""


@dataclass(frozen=True)
class Grouping:
    """Weights of one tensor assigned to groups.

    Attributes
    ----------
    group_index
        Integer array of the weight shape: the group of every weight (0 .. groups-1).
    groups
        Number of groups.
    """

    group_index: np.ndarray
    groups: int

    @property
    def group_sizes(self) -> np.ndarray:
        """Weights per group, shape (groups,)."""
        return np.bincount(self.group_index.ravel(), minlength=self.groups)


def check_sparsity(sparsity: float) -> float:
    """Validate a target sparsity (fraction of weights removed) in [0, 1)."""
    try:
        value = float(sparsity)
    except (TypeError, ValueError):
        raise InputError(f"sparsity must be a number in [0, 1) (got {sparsity!r})") from None
    if not 0.0 <= value < 1.0:
        raise InputError(f"sparsity must be in [0, 1) (got {sparsity})")
    return value


ROUNDINGS = ("exact", "torch")
"""How :func:`prune_count` rounds ``sparsity x groups``."""


def prune_count(sparsity: float, groups: int, rounding: str = "exact") -> int:
    """Number of groups to prune: ``round(sparsity * groups)``.

    Parameters
    ----------
    sparsity
        Fraction of groups to prune, in [0, 1).
    groups
        Number of groups.
    rounding
        ``"exact"`` (default): the product is computed exactly on the shortest
        decimal form of ``sparsity`` (``Fraction(str(sparsity))``) and halves
        round up, so a half is a half: 0.29 of 50 is 14.5 -> 15, where the float
        product 14.499999999999998 would round down. ``"torch"``: the count
        ``torch.nn.utils.prune`` uses for a float amount, Python's
        ``round(sparsity * groups)`` on the float product, halves to even
        (0.29 of 50 -> 14, 0.5 of 5 = 2.5 -> 2, 0.3 of 5 = 1.5 -> 2).

    Raises
    ------
    InputError
        If ``sparsity`` is outside [0, 1), ``groups`` is not an integer >= 0, or
        ``rounding`` is not one of :data:`ROUNDINGS`.
    """
    sparsity = check_sparsity(sparsity)
    groups = check_count(groups, "number of groups")
    rounding = check_rounding(rounding)
    if rounding == "torch":
        return int(round(float(sparsity) * groups))
    return math.floor(Fraction(str(sparsity)) * groups + Fraction(1, 2))


def check_rounding(rounding) -> str:
    """Validate a rounding rule name (one of :data:`ROUNDINGS`); return it."""
    if rounding not in ROUNDINGS:
        raise InputError(f"rounding must be one of {', '.join(ROUNDINGS)} (got {rounding!r})")
    return rounding


def check_count(value, what: str, minimum: int = 0) -> int:
    """Validate an integer count (not a bool, not a float) of at least ``minimum``; return it as ``int``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise InputError(f"{what} must be an integer >= {minimum} (got {value!r})")
    return int(value)


def check_block(block) -> int:
    """Validate a linear layer's vector block length: an integer >= 1 weight."""
    if isinstance(block, bool) or not isinstance(block, (int, np.integer)) or block < 1:
        raise InputError(f"vector block must be an integer >= 1 weight (got {block!r})")
    return int(block)


def check_keep_mask(keep_mask, shape: tuple[int, ...], what: str = "keep_mask") -> np.ndarray | None:
    """A keep-mask as a boolean array of exactly ``shape`` (None stays None).

    Raises
    ------
    InputError
        If the mask's shape differs from ``shape``.
    """
    if keep_mask is None:
        return None
    mask = np.asarray(keep_mask)
    if mask.shape != tuple(shape):
        raise InputError(f"{what} must have the weight shape {tuple(shape)} (got {mask.shape})")
    return mask.astype(bool)


def grouping(shape: tuple[int, ...], granularity: str, block: int = DEFAULT_FC_BLOCK) -> Grouping:
    """Group the weights of a tensor of ``shape`` for a granularity.

    Parameters
    ----------
    shape
        Weight shape: (out, in) for linear or (out, in, kh, kw) for conv2d.
    granularity
        ``fine``, ``fine_global``, ``vector``, ``kernel`` or ``channel`` (``nm``
        has no groups of its own; see :func:`select_nm`).
    block
        Block length of a linear layer's vectors, in weights (an integer >= 1).

    Returns
    -------
    Grouping

    Raises
    ------
    InputError
        For a shape that is not 2-D or 4-D, a granularity that does not fit
        it, an unknown granularity, or a block that is not an integer >= 1.
    """
    shape = tuple(int(s) for s in shape)
    if len(shape) not in (2, 4):
        raise InputError(f"weight shape must be (out, in) or (out, in, kh, kw) (got {shape})")
    size = int(np.prod(shape))
    if granularity in ("fine", "fine_global"):
        return Grouping(np.arange(size).reshape(shape), size)
    if granularity == "channel":
        index = np.broadcast_to(np.arange(shape[0]).reshape((-1,) + (1,) * (len(shape) - 1)), shape)
        return Grouping(np.ascontiguousarray(index), shape[0])
    if granularity == "kernel":
        if len(shape) != 4:
            raise InputError(f"kernel granularity needs a conv2d weight (out, in, kh, kw) (got shape {shape})")
        index = np.arange(shape[0] * shape[1]).reshape(shape[0], shape[1], 1, 1)
        return Grouping(np.ascontiguousarray(np.broadcast_to(index, shape)), shape[0] * shape[1])
    if granularity == "vector":
        if len(shape) == 4:
            index = np.arange(shape[0] * shape[1] * shape[2]).reshape(shape[0], shape[1], shape[2], 1)
            return Grouping(np.ascontiguousarray(np.broadcast_to(index, shape)), shape[0] * shape[1] * shape[2])
        block = check_block(block)
        blocks_per_row = -(-shape[1] // block)
        index = np.arange(shape[0])[:, None] * blocks_per_row + (np.arange(shape[1]) // block)[None, :]
        return Grouping(index, shape[0] * blocks_per_row)
    if granularity == "nm":
        raise InputError("granularity 'nm' has no fixed groups; use select_nm")
    raise InputError(f"granularity must be one of {list(GRANULARITIES)} (got {granularity!r})")


def _check_scores(scores: np.ndarray, count: int) -> np.ndarray:
    scores = np.asarray(scores, dtype=np.float64).ravel()
    if scores.shape != (count,):
        raise InputError(f"scores must hold one value per group ({count}) (got {scores.size})")
    if not np.all(np.isfinite(scores)):
        raise InputError("scores must be finite (got NaN or inf)")
    return scores


def select_groups(scores: np.ndarray, prune: int, already_pruned: np.ndarray | None = None) -> np.ndarray:
    """Pick exactly ``prune`` groups to remove: lowest scores first, stable ties, already-pruned first.

    Parameters
    ----------
    scores
        One score per group (higher = more important).
    prune
        Number of groups to remove (0 .. groups).
    already_pruned
        Boolean per group: groups removed by earlier steps (always kept removed).

    Returns
    -------
    numpy.ndarray
        Boolean per group, True = pruned; ``max(prune, already_pruned.sum())`` are True.
    """
    scores = np.asarray(scores, dtype=np.float64).ravel()
    scores = _check_scores(scores, scores.size)
    groups = scores.size
    if isinstance(prune, bool) or not isinstance(prune, (int, np.integer)) or not 0 <= prune <= groups:
        raise InputError(f"number of groups to prune must be an integer in [0, {groups}] (got {prune!r})")
    if already_pruned is None:
        forced = np.zeros(groups, dtype=bool)
    else:
        forced = np.asarray(already_pruned, dtype=bool).ravel()
        if forced.size != groups:
            raise InputError(
                f"already_pruned must hold one flag per group ({groups}) (got {forced.size})"
            )
    # lexsort: last key is primary -> already-pruned first, then lowest score, then lowest index
    order = np.lexsort((np.arange(groups), scores, ~forced))
    count = max(prune, int(forced.sum()))
    pruned = np.zeros(groups, dtype=bool)
    pruned[order[:count]] = True
    return pruned


def group_keep_mask(grouping_: Grouping, pruned_groups: np.ndarray) -> np.ndarray:
    """Expand a per-group pruned flag to a weight-shaped keep-mask."""
    return ~np.asarray(pruned_groups, dtype=bool)[grouping_.group_index]


def fully_pruned_groups(grouping_: Grouping, keep_mask: np.ndarray | None) -> np.ndarray:
    """Boolean per group: True where every weight of the group is already masked out."""
    if keep_mask is None:
        return np.zeros(grouping_.groups, dtype=bool)
    kept = np.bincount(grouping_.group_index.ravel(), weights=keep_mask.ravel().astype(float), minlength=grouping_.groups)
    return kept == 0


def select_mask(
    scores: np.ndarray,
    shape: tuple[int, ...],
    granularity: str,
    sparsity: float,
    keep_mask: np.ndarray | None = None,
    block: int = DEFAULT_FC_BLOCK,
    rounding: str = "exact",
) -> np.ndarray:
    """Keep-mask of one tensor for a group granularity (not ``nm``).

    Parameters
    ----------
    scores
        One score per group of :func:`grouping` (higher = more important).
    shape
        Weight shape.
    granularity
        ``fine``, ``vector``, ``kernel`` or ``channel``.
    sparsity
        Target fraction of groups removed, in [0, 1).
    keep_mask
        Existing keep-mask (monotone: what it removes stays removed).
    block
        Linear vector block length, weights.
    rounding
        How the number of groups to prune is rounded (:func:`prune_count`).

    Returns
    -------
    numpy.ndarray
        Boolean keep-mask of ``shape`` (already intersected with ``keep_mask``).
    """
    groups = grouping(shape, granularity, block)
    scores = _check_scores(scores, groups.groups)
    keep_mask = check_keep_mask(keep_mask, groups.group_index.shape)
    pruned = select_groups(scores, prune_count(sparsity, groups.groups, rounding), fully_pruned_groups(groups, keep_mask))
    mask = group_keep_mask(groups, pruned)
    return mask if keep_mask is None else (mask & keep_mask)


def select_global(
    scores: list[np.ndarray], sparsity: float, keep_masks: list[np.ndarray | None] | None = None,
    rounding: str = "exact",
) -> list[np.ndarray]:
    """Fine-grained keep-masks across several tensors with one global count.

    Parameters
    ----------
    scores
        Per-weight scores of every tensor (any shapes), in model order.
    sparsity
        Target fraction of all their weights removed, in [0, 1).
    keep_masks
        Existing keep-masks (or None) of the same shapes.
    rounding
        How the global count is rounded (:func:`prune_count`).

    Returns
    -------
    list of numpy.ndarray
        Keep-masks of the tensors' shapes; exactly ``round(sparsity * total)``
        weights are removed overall (more if earlier masks removed more).
    """
    scores = [np.asarray(s, dtype=np.float64) for s in scores]
    if not scores:
        raise InputError("global selection needs at least one tensor of scores (got 0)")
    if keep_masks is None:
        keep_masks = [None] * len(scores)
    elif len(keep_masks) != len(scores):
        raise InputError(
            f"keep_masks must hold one mask (or None) per tensor of scores ({len(scores)}) (got {len(keep_masks)})"
        )
    keep_masks = [check_keep_mask(m, s.shape, f"keep_masks[{i}]") for i, (s, m) in enumerate(zip(scores, keep_masks))]
    flat = np.concatenate([s.ravel() for s in scores])
    forced = np.concatenate([np.zeros(s.size, bool) if m is None else ~m.ravel() for s, m in zip(scores, keep_masks)])
    pruned = select_groups(flat, prune_count(sparsity, flat.size, rounding), forced)
    out, start = [], 0
    for s in scores:
        size = np.size(s)
        out.append(~pruned[start : start + size].reshape(np.shape(s)))
        start += size
    return out


def nm_prune_count(shape: tuple[int, ...], n: int, m: int) -> int:
    """Exact number of weights an N:M selection removes from a fresh tensor of ``shape``.

    Each row of the (out, K) view loses ``M - N`` of every full group of ``M``
    and ``max(L - N, 0)`` of a tail group of ``L = K mod M`` weights.

    Raises
    ------
    InputError
        If the pattern is invalid or ``shape`` has fewer than 2 axes (no reduction axis).
    """
    n, m = check_pattern(n, m)
    shape = tuple(int(s) for s in shape)
    if len(shape) < 2:
        raise InputError(f"N:M needs a weight shape (out, in, ...) with a reduction axis (got {shape})")
    rows = shape[0]
    k = int(np.prod(shape[1:]))
    tail = k % m
    return rows * ((k // m) * (m - n) + max(tail - n, 0))


def select_nm(scores: np.ndarray, n: int = 2, m: int = 4, keep_mask: np.ndarray | None = None) -> np.ndarray:
    """N:M keep-mask along the reduction axis: keep the N best of every M consecutive weights.

    Parameters
    ----------
    scores
        Per-weight scores of the weight's shape (higher = more important).
    n, m
        Keep ``n`` of every ``m`` (1 <= n < m); 2:4 by default.
    keep_mask
        Existing keep-mask; weights it removes are removed first (monotone),
        so a group may keep fewer than ``n``.

    Returns
    -------
    numpy.ndarray
        Boolean keep-mask of the weight's shape. Among equal scores inside a
        group the lower index is removed first.
    """
    n, m = check_pattern(n, m)
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim < 2:
        raise InputError(
            f"N:M scores need the weight shape (out, in, ...) with a reduction axis (got shape {scores.shape})"
        )
    if not np.all(np.isfinite(scores)):
        raise InputError("scores must be finite (got NaN or inf)")
    shape = scores.shape
    keep_mask = check_keep_mask(keep_mask, shape)
    matrix = scores.reshape(shape[0], -1)
    rows, k = matrix.shape
    forced = np.zeros_like(matrix, dtype=bool) if keep_mask is None else ~keep_mask.reshape(rows, k)
    keep = np.ones((rows, k), dtype=bool)
    full = (k // m) * m
    for start, stop, width in ((0, full, m), (full, k, k - full)):
        if stop <= start:
            continue
        block_scores = matrix[:, start:stop].reshape(rows, -1, width)
        block_forced = forced[:, start:stop].reshape(rows, -1, width)
        position = np.broadcast_to(np.arange(width), block_scores.shape)
        # sort inside each group: forced first, then score, then position (stable tie rule)
        order = np.lexsort((position, block_scores, ~block_forced), axis=-1)
        remove = max(width - n, 0)
        block_keep = np.ones(block_scores.shape, dtype=bool)
        np.put_along_axis(block_keep, order[..., :remove], False, axis=-1)
        block_keep &= ~block_forced
        keep[:, start:stop] = block_keep.reshape(rows, -1)
    return keep.reshape(shape)


def nm_for_sparsity(sparsity: float, max_m: int = 16) -> tuple[int, int]:
    """The N:M pattern with the smallest M (M >= 4) whose sparsity ``1 - N/M`` equals the target.

    0.5 -> 2:4, 0.75 -> 1:4, 0.7 -> 3:10, 0.9 -> 1:10.

    Raises
    ------
    InputError
        If no M up to ``max_m`` matches exactly.
    """
    sparsity = check_sparsity(sparsity)
    for m in range(4, max_m + 1):
        pruned = sparsity * m
        if abs(pruned - round(pruned)) < 1e-9 and 1 <= m - round(pruned) < m:
            return m - int(round(pruned)), m
    raise InputError(f"no N:M pattern with 4 <= M <= {max_m} has sparsity exactly {sparsity}")
