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
    factorisation_count,
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
    if not count:
        return []
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
    if resolved.maxima is not None and resolved.maxima.any():
        ok &= ((resolved.maxima == 0) | (factors <= resolved.maxima)).all(axis=(-2, -1))
    if resolved.min_utilisation > 0:
        ok &= problem.utilisation(factors) >= resolved.min_utilisation - 1e-12
    return ok


def _default_orders(problem: MapProblem, resolved: Resolved, count: int) -> np.ndarray:
    base = np.array([resolved.orders[i] or tuple(range(problem.n_dims)) for i in range(len(problem.levels))])
    return np.broadcast_to(base, (count,) + base.shape).copy()


def _free_splits(problem: MapProblem, resolved: Resolved) -> list[tuple[np.ndarray, np.ndarray, int]]:
    """Per dimension: its constraint-fixed column of loop bounds, the free slots and what they must multiply to."""
    out = []
    for d, size in enumerate(problem.sizes):
        fixed = resolved.fixed[:, d]
        free = np.flatnonzero(fixed == 0)
        out.append((fixed, free, size // int(np.prod(np.where(fixed > 0, fixed, 1)))))
    return out


def factor_options(problem: MapProblem, resolved: Resolved) -> list[np.ndarray]:
    """Per dimension, every column of loop bounds over the slots the constraints allow, ``(n_options, n_slots)``."""
    out = []
    for fixed, free, left in _free_splits(problem, resolved):
        rows = []
        for split in (ordered_factorisations(left, len(free)) if len(free) else ((),)):
            column = fixed.copy()
            column[free] = split
            rows.append(column)
        out.append(np.array(rows, dtype=np.int64))
    return out


def space_size(problem: MapProblem, resolved: Resolved) -> int:
    """Factorisations x keep choices before any capacity or fan-out check (an upper bound), counted without listing
    the factorisations (their number grows with the dimensions' prime factors, not with memory's patience)."""
    size = len(_keep_choices(resolved))
    for _, free, left in _free_splits(problem, resolved):
        size *= factorisation_count(left, len(free)) if len(free) else 1
    return size


def enumerate_all(problem: MapProblem, resolved: Resolved, limit: int) -> Batch | None:
    """Every legal candidate, or None when there are more than ``limit`` (counting distinct orders).

    The space is counted first (:func:`space_size`) and listed only when it holds at
    most ``50 * limit`` factorisations x keep choices, so a large space costs no memory.
    """
    if space_size(problem, resolved) > 50 * limit:
        return None
    options = factor_options(problem, resolved)
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
    limits = [problem.mesh_of(problem.slots[s][1])[0 if problem.slots[s][0] == "X" else 1] for s in spatial]
    # breadth first over (slot, dimension), values ascending: the rows come out in lexicographic order
    rows = base[None].copy()
    used = np.array([[int(np.prod(base[s])) for s in spatial]], dtype=np.int64)
    rest = np.array([left], dtype=np.int64)
    for k, s in enumerate(spatial):
        for d in range(problem.n_dims):
            if resolved.fixed[s, d] > 0:
                continue
            options = np.array(divisors(left[d]), dtype=np.int64)
            options = options[options <= limits[k]]
            n, v = len(rows), len(options)
            value = np.tile(options, n)
            parent = np.repeat(np.arange(n), v)
            ok = (rest[parent, d] % value == 0) & (used[parent, k] * value <= limits[k])
            parent, value = parent[ok], value[ok]
            rows, used, rest = rows[parent], used[parent], rest[parent]
            rows[:, s, d] = value
            used[:, k] *= value
            rest[:, d] //= value
    return rows


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
    table = _DivisorTable(problem.sizes)
    for i in range(n_levels - 1, -1, -1):
        slot = temporal[i]
        drawn = [d for d in range(n_dims) if fixed[slot, d] == 0 and sink[d] != i]
        if drawn:
            pending = np.ones(count, dtype=bool)
            for _ in range(REDRAWS):
                left = sizes // np.prod(factors, axis=1)
                values = table.random_divisors(left[pending][:, drawn], rng)
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
                    step = table.smallest_prime(left)
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
        codes = (factors[:, temporal[i], :] > 1).astype(np.int64) @ (1 << np.arange(n_dims))
        patterns, first, inverse = np.unique(codes, return_index=True, return_inverse=True)
        for k in range(len(patterns)):
            choices = np.array(stationary_orders(factors[first[k], temporal[i]], problem.tensors))
            rows = np.flatnonzero(inverse.reshape(-1) == k)
            orders[rows, i] = choices[np.minimum((draws[rows, i] * len(choices)).astype(np.int64), len(choices) - 1)]
    ok = _legal(problem, resolved, factors, keep) & (np.prod(factors, axis=1) == sizes).all(axis=1)
    return unique(problem, Batch(factors[ok], orders[ok], keep[ok]))


class _DivisorTable:
    """Divisors and smallest prime factors of every divisor of the given sizes, looked up by value (the
    values the sampler meets are what is left of a dimension: always a divisor of its size)."""

    def __init__(self, sizes: tuple[int, ...]):
        self.values = np.array(sorted(set().union(*(divisors(int(n)) for n in sizes))), dtype=np.int64)
        options = [divisors(int(v)) for v in self.values]
        self.counts = np.array([len(o) for o in options], dtype=np.int64)
        self.table = np.ones((len(options), int(self.counts.max())), dtype=np.int64)
        for u, o in enumerate(options):
            self.table[u, : len(o)] = o
        self.smallest = np.array([prime_factors(int(v))[0] if v > 1 else 1 for v in self.values], dtype=np.int64)

    def smallest_prime(self, values: np.ndarray) -> np.ndarray:
        """Smallest prime factor of every entry (1 for 1)."""
        return self.smallest[np.searchsorted(self.values, values)]

    def random_divisors(self, values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """A uniformly drawn divisor of every entry."""
        draws = rng.random(values.shape)
        where = np.searchsorted(self.values, values)
        n = self.counts[where]
        return self.table[where, np.minimum((draws * n).astype(np.int64), n - 1)]


def _moves(problem: MapProblem, resolved: Resolved) -> tuple[np.ndarray, np.ndarray]:
    """Every factor move the constraints allow, whatever the candidate: ``(dim, source, target, prime)``
    rows (a prime of what the fixed bounds leave of the dimension, between two free slots), ordered by
    dimension, source, prime, target; and the pairs ``(m1, m2)`` of moves in opposite directions
    between the same two slots for two dimensions (trades)."""
    rows = []
    for d, size in enumerate(problem.sizes):
        free = np.flatnonzero(resolved.fixed[:, d] == 0).tolist()
        left = size // int(np.prod(np.where(resolved.fixed[:, d] > 0, resolved.fixed[:, d], 1)))
        rows += [(d, a, b, p) for a in free for p in sorted(set(prime_factors(left))) for b in free if b != a]
    moves = np.array(rows, dtype=np.int64).reshape(-1, 4)
    dim, source, target = moves[:, 0], moves[:, 1], moves[:, 2]
    pairs = np.argwhere(np.triu((dim[:, None] != dim[None, :]) & (source[:, None] == target[None, :])
                                & (target[:, None] == source[None, :]), 1))
    return moves, pairs


def _nontrivial_rank(factors: np.ndarray, orders: np.ndarray, temporal: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Per candidate and level, each dimension's place among the level's non-trivial loops (0 = outermost,
    -1 for a factor-1 loop), ``(B, n_levels, n_dims)``, and how many non-trivial loops each level has."""
    rows = np.arange(len(factors))[:, None, None]
    nontrivial = factors[:, temporal, :][rows, np.arange(len(temporal))[None, :, None], orders] > 1  # by position
    place = np.where(nontrivial, np.cumsum(nontrivial, axis=2) - 1, -1)
    rank = np.empty_like(place)
    np.put_along_axis(rank, orders, place, axis=2)
    return rank, nontrivial.sum(axis=2)


def _order_of_keys(keys: np.ndarray) -> np.ndarray:
    """Loop orders (outer to inner) sorting dimensions by key; ties (factor-1 loops, key -1) in index order."""
    return np.argsort(keys, axis=-1, kind="stable")


def neighbours_batch(problem: MapProblem, resolved: Resolved, batch: Batch, check: bool = True) -> tuple[Batch, np.ndarray]:
    """Every candidate one move away from each candidate of ``batch`` (see the module docstring), and
    the index of the candidate each came from (ascending: each candidate's neighbours are contiguous).

    Only the legal ones unless ``check`` is False (then filter with :func:`legal`). Built as array
    blocks over the whole batch: factor moves and trades, a loop new to a level placed anew, reorders,
    keep flips.
    """
    n_levels, n_dims, count = len(problem.levels), problem.n_dims, len(batch)
    factors, orders, keep = batch.factors, batch.orders, batch.keep
    temporal = [problem.temporal_slot(i) for i in range(n_levels)]
    free_order = np.array([resolved.orders[i] is None for i in range(n_levels)])
    rank, n_loops = _nontrivial_rank(factors, orders, temporal)
    moves, pairs = _moves(problem, resolved)
    dim, source, target, prime = moves.T
    blocks: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []  # (owner, factors, orders, keep)

    # one prime factor moved between two slots, or two in opposite directions (a trade)
    possible = factors[:, source, dim] % prime == 0  # (B, n_moves)
    owner, m = np.nonzero(possible)
    moved = factors[owner].copy()
    moved[np.arange(len(m)), source[m], dim[m]] //= prime[m]
    moved[np.arange(len(m)), target[m], dim[m]] *= prime[m]
    blocks.append((owner, moved, orders[owner], keep[owner]))
    if len(pairs):
        owner_p, k = np.nonzero(possible[:, pairs[:, 0]] & possible[:, pairs[:, 1]])
        traded = factors[owner_p].copy()
        for m2 in (pairs[k, 0], pairs[k, 1]):
            traded[np.arange(len(k)), source[m2], dim[m2]] //= prime[m2]
            traded[np.arange(len(k)), target[m2], dim[m2]] *= prime[m2]
        blocks.append((owner_p, traded, orders[owner_p], keep[owner_p]))

    # a loop new to a level, placed inside each of the level's loops in turn (outermost it lands anyway)
    level_of = np.full(len(problem.slots), -1)
    level_of[temporal] = np.arange(n_levels)
    level = level_of[target[m]]
    new = (level >= 0) & free_order[np.maximum(level, 0)] & (factors[owner, target[m], dim[m]] == 1)
    for j in range(n_dims - 1):
        rows = np.flatnonzero(new & (j < n_loops[owner, np.maximum(level, 0)]))
        if len(rows) == 0:
            continue
        who, at = owner[rows], level[rows]
        keys = 2 * rank[who, at].astype(np.float64)
        keys[np.arange(len(rows)), dim[m[rows]]] = 2 * j + 1
        placed = orders[who].copy()
        placed[np.arange(len(rows)), at] = _order_of_keys(keys)
        blocks.append((who, moved[rows], placed, keep[who]))

    # another order at one level: a reuse order, or two adjacent loops swapped
    for i in np.flatnonzero(free_order):
        row = factors[:, temporal[i], :] > 1
        codes = row.astype(np.int64) @ (1 << np.arange(n_dims))
        for code in np.unique(codes):
            who = np.flatnonzero(codes == code)
            options = np.array(stationary_orders(factors[who[0], temporal[i]], problem.tensors))
            placed = np.repeat(orders[who], len(options), axis=0)
            placed[:, i] = np.tile(options, (len(who), 1))
            who = np.repeat(who, len(options))
            blocks.append((who, factors[who], placed, keep[who]))
        for j in range(n_dims - 1):
            who = np.flatnonzero(j + 1 < n_loops[:, i])
            if len(who) == 0:
                continue
            keys = rank[who, i].astype(np.float64)
            keys = np.where(keys == j, j + 1.5, keys)  # the j-th loop moves just inside the (j+1)-th
            placed = orders[who].copy()
            placed[:, i] = _order_of_keys(keys)
            blocks.append((who, factors[who], placed, keep[who]))

    # one keep/bypass choice flipped
    for i, t in np.argwhere(resolved.keep < 0):
        flipped = keep.copy()
        flipped[:, i, t] ^= True
        blocks.append((np.arange(count), factors, orders, flipped))

    owner = np.concatenate([block[0] for block in blocks])
    by_owner = np.argsort(owner, kind="stable")
    out = Batch(*(np.concatenate([block[k] for block in blocks])[by_owner] for k in (1, 2, 3)))
    owner = owner[by_owner]
    if check:
        ok = legal(problem, resolved, out)
        return out.take(ok), owner[ok]
    return out, owner


def neighbours(problem: MapProblem, resolved: Resolved, factors: np.ndarray, orders: np.ndarray,
               keep: np.ndarray, check: bool = True) -> Batch:
    """Every candidate one move away from the given one (see :func:`neighbours_batch`)."""
    return neighbours_batch(problem, resolved, Batch(factors[None], orders[None], keep[None]), check)[0]


def legal(problem: MapProblem, resolved: Resolved, batch: Batch) -> np.ndarray:
    """Which candidates of a batch fit every capacity and fan-out, keep under every loop-bound maximum and reach the
    least utilisation."""
    return _legal(problem, resolved, batch.factors, batch.keep)

