"""A first-order estimate of a batch of mappings, used only to rank candidates.

The mapper scores tens of thousands of candidate mappings with this estimate,
vectorised over the batch, and hands only the most promising ones to the
analysis (:mod:`energysim.engines.loopnest.analysis`), whose figures are the only
ones it reports. The estimate is the classic reuse model:

- a keeper ``c`` of a tensor receives its tile once per iteration of the loops
  above it, except the innermost run of loops that do not index the tensor
  (the tile stays put while they run); summed over the instances of ``c``;
  when the innermost loop that does index it slides a window (an input row
  under ``P`` or ``R``), each of its steps but the first delivers only the new
  rows: the fraction ``min(1, shift / rows of the tile)``;
- its parent keeper reads each delivery once per group of sibling instances
  that need the same data (multicast): spatial loops over dimensions that do
  not index the tensor share one read;
- the innermost keeper serves every MAC (once per group of MACs that share the
  operand); a keeper of the outputs receives a partial sum once per MAC (the
  innermost) or per value its inner keeper drains (after spatial reduction):
  each arrival is written (first arrival) or read and updated, and every value
  but those of the outermost keeper is read again to drain it; inner keepers
  start each point from zero (never filled), as in the analysis;
- cycles: the MACs over the busy compute units, slowed by the level whose
  per-instance traffic over its bandwidth takes longest.

It ignores what the analysis adds (exact set differences, Timeloop's quirks,
vector rounding, network and leakage energy):
a ranking error only costs the mapper search time, never a wrong figure.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from energysim.engines.loopnest.mapper_space import MapProblem


@dataclass(frozen=True)
class Prices:
    """Per-word costs and bandwidths the estimate needs, per storage level.

    Attributes
    ----------
    read_pj, fill_pj, update_pj
        Energy of one word read, filled, updated, per level (pJ).
    read_words_per_cycle, write_words_per_cycle
        Per-instance bandwidths, per level (words per cycle).
    mac_pj
        Energy of one MAC (pJ).
    """

    read_pj: tuple[float, ...]
    fill_pj: tuple[float, ...]
    update_pj: tuple[float, ...]
    read_words_per_cycle: tuple[float, ...]
    write_words_per_cycle: tuple[float, ...]
    mac_pj: float


def _order_rank(orders: np.ndarray) -> np.ndarray:
    """``orders[b, level, position] = dim`` -> ``rank[b, level, dim] = position`` (0 = outermost)."""
    rank = np.empty_like(orders)
    b, levels, dims = orders.shape
    np.put_along_axis(rank, orders, np.broadcast_to(np.arange(dims), orders.shape), axis=2)
    return rank


def estimate(problem: MapProblem, prices: Prices, factors: np.ndarray, orders: np.ndarray,
             keep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Estimated energy (pJ) and cycles of a batch of mappings.

    Parameters
    ----------
    factors
        ``(B, n_slots, n_dims)`` loop bounds.
    orders
        ``(B, n_levels, n_dims)`` temporal loop order per level, outer to inner.
    keep
        ``(B, n_levels, n_tensors)`` bool.

    Returns
    -------
    tuple of numpy.ndarray
        Energy (pJ) and cycles, each ``(B,)`` float64.
    """
    reads, fills, updates = estimate_counts(problem, factors, orders, keep)
    macs = float(np.prod(problem.sizes))
    energy = macs * prices.mac_pj + (reads.sum(axis=2) @ np.array(prices.read_pj)
                                     + fills.sum(axis=2) @ np.array(prices.fill_pj)
                                     + updates.sum(axis=2) @ np.array(prices.update_pj))
    before = _spatial_before(problem, factors.astype(np.float64).prod(axis=2))
    cycles = macs / before[:, len(problem.slots)]
    for i in range(len(problem.levels)):
        count = before[:, problem.temporal_slot(i)]
        cycles = np.maximum(cycles, reads[:, i].sum(axis=1) / count / prices.read_words_per_cycle[i])
        cycles = np.maximum(cycles, (fills[:, i] + updates[:, i]).sum(axis=1) / count / prices.write_words_per_cycle[i])
    return energy, cycles


def estimate_counts(problem: MapProblem, factors: np.ndarray, orders: np.ndarray,
                    keep: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Estimated words read, filled and updated, each ``(B, n_levels, n_tensors)`` summed over instances.

    Outputs arriving at a level for the first time count as updates here (the
    analysis calls them writes; every bundled table prices both alike).
    """
    batch = factors.shape[0]
    n_levels = len(problem.levels)
    f = factors.astype(np.float64)
    macs = float(np.prod(problem.sizes))
    rank = _order_rank(orders)
    ts = [problem.temporal_slot(i) for i in range(n_levels)]
    slot_product = f.prod(axis=2)  # (B, n_slots)
    level_product = slot_product[:, ts]  # (B, L)
    cum_above = np.cumprod(np.concatenate([np.ones((batch, 1)), level_product[:, :-1]], axis=1), axis=1)
    n_tensors = len(problem.tensors)
    reads = np.zeros((batch, n_levels, n_tensors))
    fills = np.zeros((batch, n_levels, n_tensors))
    updates = np.zeros((batch, n_levels, n_tensors))

    # the keep choices present in the batch, as one integer per candidate (bit i: level i keeps the tensor)
    bits = 1 << np.arange(n_levels)
    extents = [np.prod(factors[:, ts[c]:, :], axis=1) for c in range(n_levels)]  # tile extents per level
    before = _spatial_before(problem, slot_product)  # before[:, s]: instances in use at slot s
    is_spatial = np.array([kind != "T" for kind, _ in problem.slots])
    for t, tensor in enumerate(problem.tensors):
        # a tile reaches keeper c once per iteration of the loops above it, down to the innermost one
        # that indexes the tensor: refetch[b, c], per instance of c
        rel = np.zeros(problem.n_dims, dtype=bool)
        rel[list(tensor.relevant)] = True
        relevant_product = np.where(is_spatial, np.where(rel, f, 1.0).prod(axis=2), 1.0)  # spatial slots only
        other_product = np.where(is_spatial, slot_product, 1.0) / relevant_product
        codes = keep[:, :, t].astype(np.int64) @ bits
        n_outputs = float(np.prod([problem.sizes[d] for d in range(problem.n_dims) if rel[d]]))
        # and the innermost such loop: its level (-1: none) and dimension, per child c
        refetch = np.ones((batch, n_levels))
        inner_level = np.full((batch, n_levels), -1)
        inner_dim = np.zeros((batch, n_levels), dtype=np.int64)
        current, current_level, current_dim = np.ones(batch), np.full(batch, -1), np.zeros(batch, dtype=np.int64)
        for c in range(1, n_levels):
            level = c - 1
            nontrivial = (f[:, ts[level], :] > 1) & rel
            has = nontrivial.any(axis=1)
            positions = np.where(nontrivial, rank[:, level, :], -1)
            pos = positions.max(axis=1)
            partial = np.prod(np.where(rank[:, level, :] <= pos[:, None], f[:, ts[level], :], 1.0), axis=1)
            current = np.where(has, cum_above[:, level] * partial, current)
            current_level = np.where(has, level, current_level)
            current_dim = np.where(has, positions.argmax(axis=1), current_dim)
            refetch[:, c] = current
            inner_level[:, c] = current_level
            inner_dim[:, c] = current_dim
        arrivals: dict[int, np.ndarray] = {}  # per child: words delivered to one instance over the run

        def delivered(child: int) -> np.ndarray:
            if child not in arrivals:
                tile = tensor.footprint(extents[child]).astype(np.float64)
                if not tensor.is_output:
                    tile = tile * _window_share(tensor, f, extents[child], inner_level[:, child], inner_dim[:, child], ts)
                arrivals[child] = tile * refetch[:, child]
            return arrivals[child]

        present = np.unique(codes)
        for code in present:
            rows = slice(None) if len(present) == 1 else codes == code
            kept = [i for i in range(n_levels) if code >> i & 1]
            for parent, child in zip(kept, kept[1:]):
                per_child = delivered(child)[rows]
                share = relevant_product[rows, ts[parent] + 1: ts[child]].prod(axis=1)
                per_parent = per_child * before[rows, ts[parent]] * share
                if tensor.is_output:
                    updates[rows, parent, t] += per_parent
                    reads[rows, parent, t] += per_parent - (n_outputs if parent == kept[0] else 0.0)
                else:
                    fills[rows, child, t] += per_child * before[rows, ts[child]]
                    reads[rows, parent, t] += per_parent
            inner = kept[-1]
            served = macs / other_product[rows, ts[inner] + 1:].prod(axis=1)
            if tensor.is_output:
                updates[rows, inner, t] += served
                reads[rows, inner, t] += served - (n_outputs if inner == kept[0] else 0.0)
            else:
                reads[rows, inner, t] += served
    return reads, fills, updates


def _window_share(tensor, f: np.ndarray, extents: np.ndarray, level: np.ndarray, dim: np.ndarray,
                  ts: list[int]) -> np.ndarray:
    """Average share of a tile delivered per step of the innermost loop that indexes it (1: no overlap)."""
    share = np.ones(f.shape[0])
    if (level < 0).all():
        return share
    for d in np.unique(dim[level >= 0]):
        found = tensor.rank_of(int(d))
        if found is None or len(tensor.ranks[found[0]]) < 2:
            continue
        rank, coefficient = found
        rows = np.flatnonzero((dim == d) & (level >= 0))
        slot = np.array(ts)[level[rows]]
        steps = f[rows, slot, d]
        inward = np.cumprod(f[rows, ::-1, d], axis=1)[:, ::-1]  # inward[:, s] = product of slots s and below
        below = np.concatenate([inward, np.ones((len(rows), 1))], axis=1)[np.arange(len(rows)), slot + 1]
        span = tensor.rank_points(extents[rows], rank).astype(np.float64)
        new = np.minimum(1.0, coefficient * below / span)
        share[rows] = (1.0 + (steps - 1.0) * new) / steps
    return share


def _spatial_before(problem: MapProblem, slot_product: np.ndarray) -> np.ndarray:
    """``before[:, s]``: instances in use at slot ``s``, the product of every spatial loop above it
    (``s = n_slots``: the compute units in use), ``(B, n_slots + 1)``."""
    is_spatial = np.array([kind != "T" for kind, _ in problem.slots])
    spatial = np.where(is_spatial, slot_product, 1.0)
    return np.concatenate([np.ones((len(slot_product), 1)), np.cumprod(spatial, axis=1)], axis=1)
