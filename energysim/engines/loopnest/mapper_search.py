"""Candidate mappings in bulk: exhaustive enumeration, seeded sampling and local moves.

Candidates are batches of the map space's arrays (see
:mod:`energysim.engines.loopnest.mapper_space`): ``factors (B, n_slots, n_dims)``,
``orders (B, n_levels, n_dims)`` (a full permutation per level, outer to inner)
and ``keep (B, n_levels, n_tensors)``. Every function here is deterministic for a
given ``numpy.random.Generator`` state and returns only legal candidates (factors
multiply to the sizes, fan-outs and capacities hold, constraints hold).

- :func:`enumerate_all`: every legal factorisation x keep choice x distinct loop
  order (orders that differ only in factor-1 loops are one), or None when the
  space exceeds a limit.
- :func:`sample`: spatial splits are enumerated once and drawn with weight
  ``utilisation ** 4`` (busy arrays first); the temporal factors of each level,
  innermost first, are drawn uniformly among the divisors of what is left and
  redrawn (up to 8 times) while the level's tile overflows; half of the
  candidates then grow each level's tile greedily, factor by factor, while it
  fits (tiles as large as the level allows); the outermost free slot of each
  dimension takes the remainder. Loop orders are drawn from the orders that
  matter for reuse (:func:`~energysim.engines.loopnest.mapper_space.stationary_orders`).
- :func:`neighbours`: every candidate one move away: a prime factor moved
  between two free slots of one dimension (a loop new to a level tried at every
  place in its order); two such moves in opposite
  directions for two dimensions (a trade that keeps tiles about as large, the
  only kind of move a tile that fills its level exactly can make); another loop
  order at one level (a reuse order or two adjacent loops swapped); one
  keep/bypass choice flipped.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from energysim.engines.loopnest.mapper_constraints import Resolved
from energysim.engines.loopnest.mapper_space import (
    MapProblem,
    distinct_orders,
    divisors,
    ordered_factorisations,
    prime_factors,
    stationary_orders,
)

GROW_FRACTION = 0.5
"""Fraction of sampled candidates whose tiles are grown to the largest that fit."""

REDRAWS = 8
"""Times a level's temporal factors are redrawn while its tile overflows."""


@dataclass(frozen=True)
class Batch:
    """Candidate mappings as arrays (see the module docstring)."""

    factors: np.ndarray
    orders: np.ndarray
    keep: np.ndarray

    def __len__(self) -> int:
        return int(self.factors.shape[0])

    def take(self, rows) -> "Batch":
        """The candidates at ``rows`` (indices or a mask)."""
        return Batch(self.factors[rows], self.orders[rows], self.keep[rows])

    @staticmethod
    def concat(batches: list["Batch"]) -> "Batch":
        """One batch from several (at least one)."""
        return Batch(np.concatenate([b.factors for b in batches]), np.concatenate([b.orders for b in batches]),
                     np.concatenate([b.keep for b in batches]))


def batch_keys(problem: MapProblem, batch: Batch) -> list[bytes]:
    """Identity of each candidate: factors, keep, and each level's order of its non-trivial loops."""
    count = len(batch)
    temporal = batch.factors[:, [problem.temporal_slot(i) for i in range(len(problem.levels))], :]
    nontrivial = np.take_along_axis(temporal, batch.orders, axis=2) > 1
    moved = np.argsort(nontrivial, axis=2, kind="stable")  # trivial loops first: their place changes nothing
    loops = np.where(np.take_along_axis(nontrivial, moved, axis=2), np.take_along_axis(batch.orders, moved, axis=2), -1)
    rows = np.concatenate([batch.factors.reshape(count, -1), batch.keep.reshape(count, -1).astype(np.int64),
                           loops.reshape(count, -1)], axis=1).astype(np.int64)
    return [row.tobytes() for row in rows]


def candidate_key(problem: MapProblem, factors: np.ndarray, orders: np.ndarray, keep: np.ndarray) -> bytes:
    """Identity of one candidate (see :func:`batch_keys`)."""
    return batch_keys(problem, Batch(factors[None], orders[None], keep[None]))[0]


def unique(problem: MapProblem, batch: Batch, seen: set[bytes] | None = None) -> Batch:
    """Drop repeated candidates (and those in ``seen``, which is updated), keeping first occurrences."""
    seen = set() if seen is None else seen
    rows = []
    for b, key in enumerate(batch_keys(problem, batch)):
        if key not in seen:
            seen.add(key)
            rows.append(b)
    return batch.take(np.array(rows, dtype=np.int64))


def _keep_choices(resolved: Resolved) -> np.ndarray:
    """Every keep array the constraints allow, ``(n_choices, n_levels, n_tensors)`` bool."""
    free = np.argwhere(resolved.keep < 0)
    out = []
    for bits in itertools.product((True, False), repeat=len(free)):
        keep = resolved.keep == 1
        for (i, t), bit in zip(free, bits):
            keep[i, t] = bit
        out.append(keep)
    return np.array(out, dtype=bool)


def _legal(problem: MapProblem, resolved: Resolved, factors: np.ndarray, keep: np.ndarray) -> np.ndarray:
    ok = problem.fits(factors, keep)
    if resolved.min_utilisation > 0:
        ok &= problem.utilisation(factors) >= resolved.min_utilisation - 1e-12
    return ok


def _default_orders(problem: MapProblem, resolved: Resolved, count: int) -> np.ndarray:
    base = np.array([resolved.orders[i] or tuple(range(problem.n_dims)) for i in range(len(problem.levels))])
    return np.broadcast_to(base, (count,) + base.shape).copy()


def factor_options(problem: MapProblem, resolved: Resolved) -> list[np.ndarray]:
    """Per dimension, every column of loop bounds over the slots the constraints allow, ``(n_options, n_slots)``."""
    out = []
    for d, size in enumerate(problem.sizes):
        fixed = resolved.fixed[:, d]
        free = np.flatnonzero(fixed == 0)
        left = size // int(np.prod(np.where(fixed > 0, fixed, 1)))
        rows = []
        for split in (ordered_factorisations(left, len(free)) if len(free) else ((),)):
            column = fixed.copy()
            column[free] = split
            rows.append(column)
        out.append(np.array(rows, dtype=np.int64))
    return out


def space_size(problem: MapProblem, resolved: Resolved) -> int:
    """Factorisations x keep choices before any capacity or fan-out check (an upper bound)."""
    size = len(_keep_choices(resolved))
    for options in factor_options(problem, resolved):
        size *= len(options)
    return size


def enumerate_all(problem: MapProblem, resolved: Resolved, limit: int) -> Batch | None:
    """Every legal candidate, or None when there are more than ``limit`` (counting distinct orders)."""
    options = factor_options(problem, resolved)
    if space_size(problem, resolved) > 50 * limit:
        return None
    grids = np.meshgrid(*[np.arange(len(o)) for o in options], indexing="ij")
    index = [g.ravel() for g in grids]
    factors = np.stack([options[d][index[d]] for d in range(problem.n_dims)], axis=2)  # (M, n_slots, n_dims)
    batches = []
    total = 0
    for keep in _keep_choices(resolved):
        ok = _legal(problem, resolved, factors, keep)
        for b in np.flatnonzero(ok):
            per_level = []
            for i in range(len(problem.levels)):
                fixed = resolved.orders[i]
                per_level.append([fixed] if fixed is not None else distinct_orders(factors[b, problem.temporal_slot(i)]))
            combos = list(itertools.product(*per_level))
            total += len(combos)
            if total > limit:
                return None
            orders = np.array(combos, dtype=np.int64)
            batches.append(Batch(np.broadcast_to(factors[b], (len(combos),) + factors[b].shape).copy(), orders,
                                 np.broadcast_to(keep, (len(combos),) + keep.shape).copy()))
    if not batches:
        return Batch(np.zeros((0,) + factors.shape[1:], dtype=np.int64),
                     np.zeros((0, len(problem.levels), problem.n_dims), dtype=np.int64),
                     np.zeros((0, len(problem.levels), len(problem.tensors)), dtype=bool))
    return Batch.concat(batches)


def spatial_choices(problem: MapProblem, resolved: Resolved) -> np.ndarray:
    """Every legal assignment of the spatial slots, ``(n, n_slots, n_dims)`` with temporal slots at 1.

    Constraint-fixed spatial bounds are kept; every other spatial bound is a
    divisor of what the fixed bounds leave of the dimension, the product on each
    axis at most its mesh.
    """
    spatial = [s for s, (kind, _) in enumerate(problem.slots) if kind != "T"]
    base = np.ones((len(problem.slots), problem.n_dims), dtype=np.int64)
    for s in spatial:
        base[s] = np.where(resolved.fixed[s] > 0, resolved.fixed[s], 1)
    left = [problem.sizes[d] // int(np.prod(np.where(resolved.fixed[:, d] > 0, resolved.fixed[:, d], 1)))
            for d in range(problem.n_dims)]
    results: list[np.ndarray] = []
    limits = [problem.mesh_of(problem.slots[s][1])[0 if problem.slots[s][0] == "X" else 1] for s in spatial]
    used = [int(np.prod(base[s])) for s in spatial]
    current = base.copy()

    def walk(position: int) -> None:
        if position == len(spatial) * problem.n_dims:
            results.append(current.copy())
            return
        k, d = divmod(position, problem.n_dims)
        s = spatial[k]
        if resolved.fixed[s, d] > 0:
            walk(position + 1)
            return
        for value in divisors(left[d]):
            if used[k] * value > limits[k]:
                break
            current[s, d] = value
            left[d] //= value
            used[k] *= value
            walk(position + 1)
            used[k] //= value
            left[d] *= value
        current[s, d] = 1

    walk(0)
    return np.array(results, dtype=np.int64)


def sample(problem: MapProblem, resolved: Resolved, count: int, rng: np.random.Generator) -> Batch:
    """About ``count`` legal candidates drawn as described in the module docstring (fewer if many fail)."""
    n_levels, n_dims = len(problem.levels), problem.n_dims
    keeps = _keep_choices(resolved)
    keep = keeps[rng.integers(len(keeps), size=count)]
    spatial = spatial_choices(problem, resolved)
    if len(spatial) == 0:
        return unique(problem, Batch(np.zeros((0, len(problem.slots), n_dims), np.int64),
                                     np.zeros((0, n_levels, n_dims), np.int64), keep[:0]))
    weight = problem.utilisation(spatial) ** 4
    weight = weight / weight.sum()
    factors = spatial[rng.choice(len(spatial), size=count, p=weight)].copy()
    fixed = resolved.fixed
    temporal = [problem.temporal_slot(i) for i in range(n_levels)]
    for i in range(n_levels):
        factors[:, temporal[i], :] = np.where(fixed[temporal[i]] > 0, fixed[temporal[i]], 1)
    # the outermost free temporal slot of each dimension takes the remainder
    sink = np.full(n_dims, -1)
    for d in range(n_dims):
        free = [i for i in range(n_levels) if fixed[temporal[i], d] == 0]
        sink[d] = free[0] if free else -1
    sizes = np.array(problem.sizes, dtype=np.int64)
    grow = rng.random(count) < GROW_FRACTION
    for i in range(n_levels - 1, -1, -1):
        slot = temporal[i]
        drawn = [d for d in range(n_dims) if fixed[slot, d] == 0 and sink[d] != i]
        if drawn:
            pending = np.ones(count, dtype=bool)
            for _ in range(REDRAWS):
                left = sizes // np.prod(factors, axis=1)
                values = _random_divisors(left[pending][:, drawn], rng)
                block = factors[pending]
                block[:, slot, drawn] = values
                factors[pending] = block
                pending[pending] = ~problem.level_fits(block, keep[pending], i)
                if not pending.any():
                    break
            block = factors[pending]
            block[:, slot, drawn] = 1
            factors[pending] = block
            for d in rng.permutation(drawn):
                rows = np.flatnonzero(grow)
                while len(rows):
                    left = sizes[d] // np.prod(factors[rows, :, d], axis=1)
                    step = _smallest_prime(left)
                    rows, step = rows[step > 1], step[step > 1]
                    trial = factors[rows]
                    trial[:, slot, d] *= step
                    fits = problem.level_fits(trial, keep[rows], i)
                    rows = rows[fits]
                    factors[rows] = trial[fits]
    left = sizes // np.prod(factors, axis=1)
    for d in range(n_dims):
        if sink[d] >= 0:
            factors[:, temporal[sink[d]], d] *= left[:, d]
    orders = _default_orders(problem, resolved, count)
    draws = rng.random((count, n_levels))
    for i in range(n_levels):
        if resolved.orders[i] is not None:
            continue
        nontrivial = factors[:, temporal[i], :] > 1
        patterns, inverse = np.unique(nontrivial, axis=0, return_inverse=True)
        for k, pattern in enumerate(patterns):
            choices = np.array(stationary_orders(pattern.astype(np.int64) + 1, problem.tensors))
            rows = np.flatnonzero(inverse.reshape(-1) == k)
            orders[rows, i] = choices[np.minimum((draws[rows, i] * len(choices)).astype(np.int64), len(choices) - 1)]
    ok = _legal(problem, resolved, factors, keep) & (np.prod(factors, axis=1) == sizes).all(axis=1)
    return unique(problem, Batch(factors[ok], orders[ok], keep[ok]))


def _smallest_prime(values: np.ndarray) -> np.ndarray:
    """Smallest prime factor of every entry (1 for 1)."""
    out = np.ones_like(values)
    for value in np.unique(values):
        if value > 1:
            out[values == value] = prime_factors(int(value))[0]
    return out


def _random_divisors(left: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A uniformly drawn divisor of every entry of ``left``."""
    out = np.ones_like(left)
    draws = rng.random(left.shape)
    for value in np.unique(left):
        options = np.array(divisors(int(value)), dtype=np.int64)
        where = left == value
        out[where] = options[np.minimum((draws[where] * len(options)).astype(np.int64), len(options) - 1)]
    return out


def neighbours(problem: MapProblem, resolved: Resolved, factors: np.ndarray, orders: np.ndarray,
               keep: np.ndarray, check: bool = True) -> Batch:
    """Every candidate one move away from the given one (see the module docstring); only the
    legal ones unless ``check`` is False (then filter the batch with :func:`legal`)."""
    n_levels = len(problem.levels)
    free_slots = [np.flatnonzero(resolved.fixed[:, d] == 0) for d in range(problem.n_dims)]
    moves = [(d, a, b, p) for d in range(problem.n_dims) for a in free_slots[d]
             for p in sorted(set(prime_factors(int(factors[a, d])))) for b in free_slots[d] if b != a]
    dim, source, target, prime = (np.array(column, dtype=np.int64).reshape(-1) for column in zip(*moves)) if moves \
        else (np.zeros(0, dtype=np.int64),) * 4
    first, second = np.nonzero(np.triu((dim[:, None] != dim[None, :]) & (source[:, None] == target[None, :])
                                       & (target[:, None] == source[None, :]), 1))
    count = len(moves) + len(first)
    moved = np.broadcast_to(factors, (count,) + factors.shape).copy()
    single = np.arange(len(moves))
    moved[single, source, dim] //= prime
    moved[single, target, dim] *= prime
    pair = np.arange(len(moves), count)
    for m in (first, second):
        moved[pair, source[m], dim[m]] //= prime[m]
        moved[pair, target[m], dim[m]] *= prime[m]
    out_f, out_o, out_k = list(moved), [orders] * count, [keep] * count
    level_of = {problem.temporal_slot(i): i for i in range(n_levels)}
    for m in range(len(moves)):
        i = level_of.get(int(target[m]))
        if i is None or resolved.orders[i] is not None or factors[target[m], dim[m]] > 1:
            continue
        loops = [d for d in orders[i] if factors[target[m], d] > 1]
        for position in range(len(loops)):  # the new loop at every place but outermost (where it lands anyway)
            placed = loops[: position + 1] + [int(dim[m])] + loops[position + 1:]
            changed = orders.copy()
            changed[i] = [d for d in range(problem.n_dims) if d not in placed] + placed
            out_f.append(moved[m])
            out_o.append(changed)
            out_k.append(keep)
    for i in range(n_levels):
        if resolved.orders[i] is not None:
            continue
        row = factors[problem.temporal_slot(i)]
        loops = [d for d in orders[i] if row[d] > 1]
        options = stationary_orders(row, problem.tensors)
        for j in range(len(loops) - 1):
            swapped = loops.copy()
            swapped[j], swapped[j + 1] = swapped[j + 1], swapped[j]
            options.append(tuple([d for d in range(problem.n_dims) if d not in swapped] + swapped))
        for option in options:
            changed = orders.copy()
            changed[i] = option
            out_f.append(factors)
            out_o.append(changed)
            out_k.append(keep)
    for i, t in np.argwhere(resolved.keep < 0):
        flipped = keep.copy()
        flipped[i, t] = not flipped[i, t]
        out_f.append(factors)
        out_o.append(orders)
        out_k.append(flipped)
    if not out_f:
        return Batch(factors[None][:0], orders[None][:0], keep[None][:0])
    batch = Batch(np.array(out_f), np.array(out_o), np.array(out_k))
    return batch.take(legal(problem, resolved, batch)) if check else batch


def legal(problem: MapProblem, resolved: Resolved, batch: Batch) -> np.ndarray:
    """Which candidates of a batch fit every capacity and fan-out and reach the least utilisation."""
    return _legal(problem, resolved, batch.factors, batch.keep)

