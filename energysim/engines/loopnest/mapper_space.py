"""The mapper's map space: which mappings of a layer onto a hierarchy are legal.

A mapping is written here as three arrays over the *slots* of the hierarchy,
outermost first. Every storage level ``i`` has one temporal slot ``T_i``; a level
whose instances form a mesh ``X x Y`` under their parent (a fan-out) has two
spatial slots ``X_i``, ``Y_i`` just above ``T_i`` (they belong to the parent's
loops, as in Timeloop); the compute level's mesh under the innermost level gives
the last spatial slots. For example DRAM -> GlobalBuffer -> 16 x 16 RegFile -> MAC
has slots ``T_DRAM, T_GlobalBuffer, X_RegFile, Y_RegFile, T_RegFile``.

- ``factors[slot, dim]``: the loop bound of ``dim`` in that slot; the product over
  slots of each column is the dimension's size.
- ``orders[level]``: the temporal loops of that level, outer to inner (dimension
  indices; factor-1 dimensions are placed outermost, where they change nothing).
- ``keep[level, tensor]``: whether the level keeps the tensor (else bypassed).

A mapping is legal when the factors multiply to the sizes, every spatial axis
uses at most its mesh size, every level's tile of the tensors it keeps fits its
capacity (shared, in words), and the :class:`~energysim.engines.loopnest.mapper_constraints.Resolved`
constraints hold (fixed factors, allowed spatial dimensions, fixed keep/bypass,
fixed loop orders).

The tile of a level is the set of points touched by its own loops and every loop
below it; the footprint of a tensor over a tile is the product over its ranks
of the distinct coordinates its axis takes (:func:`~energysim.engines.loopnest.geometry.points`:
an input row under ``P`` and ``R`` with stride 1 spans ``p + r - 1`` points, with
stride 2 and ``r = 1`` only ``p``).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable

import numpy as np

from energysim.engines.loopnest.geometry import points


@dataclass(frozen=True)
class TensorIndexing:
    """How one tensor is indexed by the loop dimensions.

    Attributes
    ----------
    name
        Tensor name (``weights``, ``inputs``, ``outputs``).
    ranks
        One entry per rank (axis) of the tensor: ``((dim index, coefficient), ...)``.
    is_output
        Whether the tensor is written (partial sums) rather than only read.
    """

    name: str
    ranks: tuple[tuple[tuple[int, int], ...], ...]
    is_output: bool = False

    @property
    def relevant(self) -> frozenset[int]:
        """Indices of the dimensions that index the tensor."""
        return frozenset(d for rank in self.ranks for d, _ in rank)

    def footprint(self, extents: np.ndarray) -> np.ndarray:
        """Points of the tensor touched by tiles of the given extents.

        Parameters
        ----------
        extents
            Tile extents, shape ``(..., n_dims)``.

        Returns
        -------
        numpy.ndarray
            Points (words), shape ``(...)``, int64.
        """
        total = np.ones(extents.shape[:-1], dtype=np.int64)
        for rank in range(len(self.ranks)):
            total = total * self.rank_points(extents, rank)
        return total


    def rank_points(self, extents: np.ndarray, rank: int) -> np.ndarray:
        """Distinct coordinates of one rank (axis) touched by tiles of the given extents (shape ``(...)``)."""
        terms = self.ranks[rank]
        if len(terms) == 1:
            return extents[..., terms[0][0]].astype(np.int64)
        columns = [extents[..., d] for d, _ in terms]
        largest = tuple(1 << int(col.max(initial=1) - 1).bit_length() for col in columns)  # powers of two: few tables
        return _points_table(tuple(c for _, c in terms), largest)[tuple(columns)]

    def rank_of(self, dim: int) -> tuple[int, int] | None:
        """(rank index, coefficient) of a dimension in the tensor, or None if it does not index it."""
        for index, terms in enumerate(self.ranks):
            for d, coefficient in terms:
                if d == dim:
                    return index, coefficient
        return None


@dataclass(frozen=True)
class LevelSlots:
    """A storage level as the map space sees it.

    Attributes
    ----------
    name
        Level name (as in the hardware file).
    capacity_words
        Words one instance can hold for all the tensors it keeps (None = unbounded).
    tensor_capacity_words
        Per tensor, words of a partition reserved for it (None = only the shared capacity).
    mesh
        ``(x, y)``: instances of this level under one instance of its parent.
    keeps
        Per tensor, whether the level keeps it by default.
    """

    name: str
    capacity_words: int | None
    tensor_capacity_words: tuple[int | None, ...]
    mesh: tuple[int, int] = (1, 1)
    keeps: tuple[bool, ...] = ()


@dataclass(frozen=True)
class MapProblem:
    """One layer on one hierarchy: everything the map space needs, nothing priced.

    Attributes
    ----------
    dims, sizes
        Loop dimension names and their sizes.
    tensors
        How each tensor is indexed.
    levels
        Storage levels, outermost first.
    compute_mesh
        ``(x, y)``: compute units under one instance of the innermost level.
    occupancy
        Words a tile really occupies, ``occupancy(level index, tensor name, dense words)``
        (vectorised; compressed tiles of a sparse design), or None: a tile occupies its
        dense footprint.
    """

    dims: tuple[str, ...]
    sizes: tuple[int, ...]
    tensors: tuple[TensorIndexing, ...]
    levels: tuple[LevelSlots, ...]
    compute_mesh: tuple[int, int] = (1, 1)
    occupancy: Callable[[int, str, np.ndarray], np.ndarray] | None = None
    slots: tuple[tuple[str, int], ...] = field(init=False)

    def __post_init__(self) -> None:
        slots: list[tuple[str, int]] = []
        for i, level in enumerate(self.levels):
            if level.mesh != (1, 1):
                slots += [("X", i), ("Y", i)]
            slots.append(("T", i))
        if self.compute_mesh != (1, 1):
            slots += [("X", len(self.levels)), ("Y", len(self.levels))]
        object.__setattr__(self, "slots", tuple(slots))

    @property
    def n_dims(self) -> int:
        """Number of loop dimensions."""
        return len(self.dims)

    def temporal_slot(self, level: int) -> int:
        """Slot index of a level's temporal loops."""
        return self.slots.index(("T", level))

    def mesh_of(self, level: int) -> tuple[int, int]:
        """Mesh of a level under its parent (``level == len(levels)`` is the compute level)."""
        return self.compute_mesh if level == len(self.levels) else self.levels[level].mesh

    def tile_extents(self, factors: np.ndarray, level: int) -> np.ndarray:
        """Extents of a level's tile: the product of every slot from its temporal slot inward.

        ``factors`` has shape ``(..., n_slots, n_dims)``; the result ``(..., n_dims)``.
        """
        return np.prod(factors[..., self.temporal_slot(level):, :], axis=-2)

    def level_fits(self, factors: np.ndarray, keep: np.ndarray, level: int) -> np.ndarray:
        """Whether one instance of ``level`` holds the tiles it keeps (shape ``(...)``), each tile
        occupying its footprint or what :attr:`occupancy` says.

        ``keep`` is ``(n_levels, n_tensors)`` or batched like ``factors``.
        """
        spec = self.levels[level]
        extents = self.tile_extents(factors, level)
        ok = np.ones(extents.shape[:-1], dtype=bool)
        total = np.zeros(extents.shape[:-1], dtype=np.int64)
        for t, tensor in enumerate(self.tensors):
            kept = np.broadcast_to(keep[..., level, t], extents.shape[:-1])
            if not kept.any():
                continue
            words = tensor.footprint(extents)
            if self.occupancy is not None:
                words = self.occupancy(level, tensor.name, words)
            size = np.where(kept, words, 0)
            own = spec.tensor_capacity_words[t]
            if own is not None:
                ok &= size <= own
            total = total + size
        if spec.capacity_words is not None:
            ok &= total <= spec.capacity_words
        return ok

    def fits(self, factors: np.ndarray, keep: np.ndarray) -> np.ndarray:
        """Whether every level's tile fits its capacity and every spatial axis its mesh (shape ``(...)``)."""
        ok = np.ones(factors.shape[:-2], dtype=bool)
        for i in range(len(self.levels)):
            ok &= self.level_fits(factors, keep, i)
        for s, (kind, level) in enumerate(self.slots):
            if kind != "T":
                limit = self.mesh_of(level)[0 if kind == "X" else 1]
                ok &= np.prod(factors[..., s, :], axis=-1) <= limit
        return ok

    def utilisation(self, factors: np.ndarray) -> np.ndarray:
        """Fraction of compute units busy: product of spatial factors over product of meshes."""
        used = np.ones(factors.shape[:-2], dtype=np.float64)
        total = 1
        for s, (kind, level) in enumerate(self.slots):
            if kind != "T":
                used = used * np.prod(factors[..., s, :], axis=-1)
                total *= self.mesh_of(level)[0 if kind == "X" else 1]
        return used / total


@lru_cache(maxsize=1024)
def _points_table(coefficients: tuple[int, ...], largest: tuple[int, ...]) -> np.ndarray:
    """``table[e1, e2, ...]``: distinct coordinates of an axis with these coefficients and extents."""
    table = np.zeros(tuple(n + 1 for n in largest), dtype=np.int64)
    for index in itertools.product(*[range(1, n + 1) for n in largest]):
        table[index] = points(tuple(zip(coefficients, index)))
    return table


@lru_cache(maxsize=4096)
def prime_factors(n: int) -> tuple[int, ...]:
    """Prime factors of ``n`` with multiplicity, ascending (``()`` for 1)."""
    out, p = [], 2
    while p * p <= n:
        while n % p == 0:
            out.append(p)
            n //= p
        p += 1
    if n > 1:
        out.append(n)
    return tuple(out)


@lru_cache(maxsize=4096)
def divisors(n: int) -> tuple[int, ...]:
    """Divisors of ``n``, ascending."""
    small = [d for d in range(1, int(n**0.5) + 1) if n % d == 0]
    return tuple(sorted(set(small + [n // d for d in small])))


def factorisation_count(n: int, parts: int) -> int:
    """How many ``parts``-tuples of positive integers multiply to ``n``, counted without listing them.

    Each prime ``p`` with exponent ``e`` in ``n`` spreads over the parts in
    ``C(e + parts - 1, parts - 1)`` ways, independently of the other primes (the
    count :func:`ordered_factorisations` would list; a dimension of about 10^9 with
    many small primes has tens of millions of them).

    Parameters
    ----------
    n
        The product, a positive integer.
    parts
        Number of factors, at least 1.

    Returns
    -------
    int
        The number of ordered factorisations (a count).
    """
    primes = prime_factors(n)
    return math.prod(math.comb(primes.count(p) + parts - 1, parts - 1) for p in set(primes))


@lru_cache(maxsize=4096)
def ordered_factorisations(n: int, parts: int) -> tuple[tuple[int, ...], ...]:
    """Every ``parts``-tuple of positive integers whose product is ``n`` (lexicographic)."""
    if parts == 1:
        return ((n,),)
    return tuple((d,) + rest for d in divisors(n) for rest in ordered_factorisations(n // d, parts - 1))


def canonical_order(factors_row: np.ndarray, inner_first: tuple[int, ...]) -> tuple[int, ...]:
    """A full loop order (outer to inner) from the non-trivial loops listed inner to outer.

    Dimensions with factor 1 go outermost, in index order; they change nothing.
    """
    nontrivial = [d for d in inner_first if factors_row[d] > 1]
    rest = [d for d in range(len(factors_row)) if d not in nontrivial]
    return tuple(rest + nontrivial[::-1])


def distinct_orders(factors_row: np.ndarray) -> list[tuple[int, ...]]:
    """Every loop order of one slot that differs in its non-trivial loops (outer to inner)."""
    nontrivial = [d for d in range(len(factors_row)) if factors_row[d] > 1]
    return [canonical_order(factors_row, perm) for perm in itertools.permutations(nontrivial)]


def stationary_orders(factors_row: np.ndarray, tensors: tuple[TensorIndexing, ...]) -> list[tuple[int, ...]]:
    """The loop orders that matter for reuse (see :func:`_stationary_orders`); a new list each call."""
    return list(_stationary_orders(tuple(bool(f > 1) for f in factors_row), tensors))


@lru_cache(maxsize=4096)
def _stationary_orders(nontrivial: tuple[bool, ...], tensors: tuple[TensorIndexing, ...]) -> tuple[tuple[int, ...], ...]:
    """The loop orders that matter for reuse: one per ranking of the tensors by stationarity.

    For a ranking ``(t1, t2, t3)`` the innermost loops are those irrelevant to ``t1``
    (``t1``'s tile below stays put while they run), then those irrelevant to ``t2``,
    then the rest; within a group dimensions keep index order. Returns distinct
    orders, outer to inner.
    """
    factors_row = np.array([2 if flag else 1 for flag in nontrivial])
    seen: dict[tuple[int, ...], None] = {}
    n = len(factors_row)
    for ranking in itertools.permutations(range(len(tensors))):
        placed: list[int] = []
        for t in ranking:
            placed += [d for d in range(n) if d not in placed and d not in tensors[t].relevant]
        placed += [d for d in range(n) if d not in placed]
        seen[canonical_order(factors_row, tuple(placed))] = None
    return tuple(seen)
