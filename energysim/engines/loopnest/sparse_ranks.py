"""Sparseloop's per-rank metadata of a compressed tile: ranks follow the level's loops (``compat = "timeloop"``).

Sparseloop (NVlabs/timeloop, ``sparse-analysis.cpp`` ``DefineCompressionFormatModels`` and
the format models) gives the ranks of a level's representation format to the level's
*loops*, not to the tensor's axes. For tensor d kept at level L, with C the next inner
level keeping d:

- **Loops**: the non-trivial loops of L and of the levels between L and C that bypass d
  (all levels below L when d has no inner keeper), outer to inner, that index d (a loop
  over a dimension d does not depend on is left out).
- **Pre-tiling**: when L keeps d compressed in ranks and C exists, C's ranks (C's own rank shapes;
  one rank over all of C's loops when C has no ranks) become L's innermost ranks and L's
  outer ranks take L's loops only. Otherwise every dimension's factors below L are folded
  into L's innermost loop of that dimension (appended innermost when L has none: energysim
  drops loops of factor 1, whose positions Timeloop keeps), so that L's ranks cover its tile.
- **Rank assignment**, outer to inner: a rank takes the next loop; a rank with ``dims``
  (``flattened-rankIDs``) that lists that loop's dimension also takes the following loops
  while their dimensions are listed; a level without a format flattens all its loops into
  one rank. (Timeloop's loop list also holds factor-1 loops, and one of them right before a loop
  lets a flattening rank take that loop even when its dimension is not listed; energysim's
  mappings have no factor-1 loops, so that does not happen here. Spatial loops follow the
  level's temporal ones, X before Y, in the mapping's order.) Ranks left without a loop are trivial. Loops left without a rank make the
  mapping one Sparseloop refuses ("more compression ranks needed than supported"), and
  so does a child with more ranks than L.
- **Fibers**: a rank's fiber holds ``e`` coordinates, the points of d its loops alone
  span (so a sliding window over an input rank counts its halo once per fiber); ``F``,
  the fibers reaching it, is the product of the fiber shapes of the ranks above.
- **Occupancy** (fixed-structured density ``rho``; a tile of n points is empty with
  probability ``max(0, 1 - n x rho)``): with ``F' = F x P(the tile a fiber covers is
  non-empty)`` and ``o = e x P(the subtile under one coordinate is non-empty)``:
  UOP ``F' x (e + 1)`` payloads (offsets); UB ``F x e`` metadata and payloads; B ``F' x e``
  metadata, ``F' x o`` payloads; CP and RLE ``F' x o`` metadata and payloads. A rank of
  fiber shape 1 has none; the innermost rank's payloads are the data, not metadata.
  The expectation is taken over the data tile's floor and ceil occupancies, as Sparseloop's
  ``CalculateExpectedOccupancy`` does.

Sparseloop's "scalar metadata" accesses of an action are ``ceil(units per tile x dense
count / tile points)``; its energy accesses are ``ceil(bits / metadata storage width)``
with bits = metadata units x metadata width + payload units x payload width per rank.
Checked against Sparseloop's published eyeriss_like_onchip_compression outputs (AlexNet
CONV3): 15389438 global-buffer and 758917 DRAM input metadata reads, 758849 buffer
metadata fills, 78663 DRAM output metadata updates (``test_sparseloop_compat.py``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from energysim.engines.loopnest.geometry import points
from energysim.engines.loopnest.mapping import Mapping
from energysim.engines.loopnest.sparse_config import FormatSpec, RankSpec
from energysim.engines.loopnest.spec import Spec
from energysim.errors import UnsupportedError
from energysim.workloads.loop_nest import LoopNest

LoopFactor = tuple[str, int]
"""A loop of the nest: its dimension and factor."""


@dataclass(frozen=True)
class RankShape:
    """The loops one rank of a format flattens and the points of the tensor they span.

    Attributes
    ----------
    loops
        ``(dimension, factor)`` outer to inner (empty: a trivial rank).
    fiber
        Coordinates per fiber: points of the tensor the rank's loops span.
    """

    loops: tuple[LoopFactor, ...]
    fiber: int


def tensor_points(nest: LoopNest, tensor: str, loops: tuple[LoopFactor, ...] | list[LoopFactor]) -> int:
    """Points of ``tensor`` spanned by a box of loops (factors of the same dimension multiply).

    Parameters
    ----------
    nest
        The layer's loop nest (its axes say which dimensions index ``tensor``, with their coefficients).
    tensor
        ``"weights"``, ``"inputs"`` or ``"outputs"``.
    loops
        ``(dimension, factor)`` pairs; a dimension the box leaves out spans 1.

    Returns
    -------
    int
        Points of the tensor the box covers, a count (a sliding window's overlap counted once).
    """
    extents: dict[str, int] = {}
    for dim, factor in loops:
        extents[dim] = extents.get(dim, 1) * factor
    return math.prod(points(tuple((coef, extents.get(dim, 1)) for dim, coef in axis)) for axis in nest.axes(tensor))


def assign_ranks(ranks: list[RankSpec] | None, count: int, loops: list[LoopFactor]) -> tuple[list[tuple[LoopFactor, ...]], list[LoopFactor]]:
    """Sparseloop's outer-to-inner rank assignment of ``count`` ranks over ``loops`` (outer to inner).

    Parameters
    ----------
    ranks
        The format's ranks (outer to inner) whose ``dims`` flatten loops; None: one rank over every loop.
    count
        How many (outer) ranks take loops.
    loops
        Non-trivial loops, outer to inner.

    Returns
    -------
    (assigned, left)
        The loops of each rank (outer to inner) and the loops no rank took.
    """
    assigned: list[tuple[LoopFactor, ...]] = []
    position = 0
    for r in range(count):
        if ranks is None:
            assigned.append(tuple(loops[position:]))
            position = len(loops)
            continue
        if position >= len(loops):
            assigned.append(())
            continue
        taken = [loops[position]]
        position += 1
        dims = ranks[r].dims
        if dims is not None and taken[0][0] in dims:
            while position < len(loops) and loops[position][0] in dims:
                taken.append(loops[position])
                position += 1
        assigned.append(tuple(taken))
    return assigned, loops[position:]


def level_ranks(spec: Spec, nest: LoopNest, mapping: Mapping, index: int, tensor: str) -> list[RankShape]:
    """The rank shapes (outer to inner) of ``tensor`` at level ``index`` as Sparseloop builds them (module docstring).

    Parameters
    ----------
    spec
        The design (its ``[engine.sparse]`` formats by level and tensor).
    nest
        The layer's loop nest.
    mapping
        Loops per level; the level's own loops and those of the keepers inside it give the ranks.
    index
        The level, by position in ``spec.levels`` (0: outermost).
    tensor
        ``weights``, ``inputs`` or ``outputs``.

    Returns
    -------
    list[RankShape]
        Per rank, outer to inner, the loops it takes and its fiber (coordinates per fiber, a count).

    Raises
    ------
    UnsupportedError
        A mapping Sparseloop refuses: loops left over after every rank took its share, or an inner keeper
        with more ranks than this level (one line naming the level, tensor and loops).
    """
    n_levels = len(spec.levels)
    name = spec.levels[index].name
    fmt = spec.config.sparse.ranks_of(name, tensor) if spec.config.sparse is not None else None
    ranks = fmt.ranks if fmt is not None else None
    count = len(ranks) if ranks is not None else 1
    child = next((i for i in range(index + 1, n_levels) if mapping.keeps(spec, i, tensor)), None)
    last = child if child is not None else n_levels
    indexed = {dim for axis in nest.axes(tensor) for dim, coef in axis if coef}
    loops = [(loop.dim, loop.factor) for loop in mapping.loops if index <= loop.level < last and loop.dim in indexed]
    pretiled = ranks is not None and fmt.compressed and child is not None
    inner: list[RankShape] = []
    if pretiled:
        inner = level_ranks(spec, nest, mapping, child, tensor)
        if len(inner) > count:
            raise UnsupportedError(f"{spec.hardware.path or spec.hardware.name}: engine.sparse: {name}/{tensor}: its "
                                   f"{count} rank(s) cannot hold the {len(inner)} ranks of the inner level "
                                   f"{spec.levels[child].name} (Sparseloop refuses this mapping)")
    elif child is not None:
        below: dict[str, int] = {}
        for loop in mapping.loops:
            if loop.level >= child and loop.dim in indexed:
                below[loop.dim] = below.get(loop.dim, 1) * loop.factor
        for dim, factor in below.items():
            at = max((i for i, (d, _) in enumerate(loops) if d == dim), default=None)
            if at is None:
                loops.append((dim, factor))
            else:
                loops[at] = (dim, loops[at][1] * factor)
    assigned, left = assign_ranks(ranks, count - len(inner), loops)
    if left:
        text = " ".join(f"{d}{f}" for d, f in left)
        raise UnsupportedError(f"{spec.hardware.path or spec.hardware.name}: engine.sparse: {name}/{tensor}: loops "
                               f"{text} are left without a rank of its {count}-rank format (Sparseloop refuses this "
                               "mapping: flatten them into a rank with dims, or add ranks)")
    return [RankShape(group, tensor_points(nest, tensor, group)) for group in assigned] + inner


def _empty(points_: float, density: float) -> float:
    """Probability that a tile of ``points_`` points holds no non-zero (fixed-structured)."""
    return max(0.0, 1.0 - points_ * density)


def rank_units_at(ranks: list[RankSpec], shapes: list[RankShape], tile_points: int,
                  density: float) -> list[tuple[float, float]]:
    """Metadata and payload units per rank of one tile whose non-zeros sit at a fixed density (module docstring).

    Parameters
    ----------
    ranks
        The format's ranks, outer to inner.
    shapes
        Their shapes at this level (:func:`level_ranks`): each rank's fiber extent, a count.
    tile_points
        Points of the tile, a count.
    density
        Fraction of non-zero points, in [0, 1] (fixed-structured: spread evenly).

    Returns
    -------
    list[tuple[float, float]]
        Per rank, outer to inner, ``(metadata units, payload units)`` (counts, fractional in expectation; a rank of
        extent 1 holds none, the innermost rank's payload is the data, so 0).
    """
    out = []
    fibers = 1.0
    covered = [math.prod(s.fiber for s in shapes[i:]) for i in range(len(shapes))] + [1]
    for i, (rank, shape) in enumerate(zip(ranks, shapes)):
        e = shape.fiber
        if e == 1:
            out.append((0.0, 0.0))
            continue
        current = tile_points if i == 0 else covered[i]
        live = fibers * (1.0 - _empty(current, density))
        occupied = e * (1.0 - _empty(covered[i + 1], density))
        if rank.format == "UOP":
            meta, payload = 0.0, live * (e + 1)
        elif rank.format == "UB":
            meta = payload = fibers * e
        elif rank.format == "B":
            meta, payload = live * e, live * occupied
        else:
            meta = payload = live * occupied
        out.append((meta, 0.0 if i == len(shapes) - 1 else payload))
        fibers *= e
    return out


def rank_units(ranks: list[RankSpec], shapes: list[RankShape], tile_points: int,
               density: float) -> list[tuple[float, float]]:
    """Expected (metadata, payload) units per rank over the tile's floor and ceil occupancies (fixed-structured).

    Parameters
    ----------
    ranks
        The format's ranks, outer to inner.
    shapes
        Their shapes at this level (:func:`level_ranks`).
    tile_points
        Points of the tile, a count.
    density
        Fraction of non-zero points, in [0, 1].

    Returns
    -------
    list[tuple[float, float]]
        Per rank, outer to inner, the expected metadata and payload units (counts; the innermost rank's
        payload is the data, so 0): :func:`rank_units_at` at ``floor`` and ``ceil(tile_points x density)``
        non-zeros, weighted so their mean is ``tile_points x density``.
    """
    exact = tile_points * density
    low, high = math.floor(exact), math.ceil(exact)
    weights = [(low, 1.0 - (exact - low))] + ([(high, exact - low)] if high != low else [])
    total = [(0.0, 0.0)] * len(ranks)
    for nonzeros, weight in weights:
        if weight <= 0:
            continue
        at = rank_units_at(ranks, shapes, tile_points, nonzeros / tile_points if tile_points else 0.0)
        total = [(m + weight * a, p + weight * b) for (m, p), (a, b) in zip(total, at)]
    return total


def rank_widths(fmt: FormatSpec, shapes: list[RankShape], units: list[tuple[float, float]]) -> list[tuple[int, int]]:
    """Bits of one metadata unit and of one payload unit of each rank.

    Given widths first; otherwise CP and RLE coordinates ``ceil(log2 e)``, B and UB flags 1 bit, a UOP offset
    ``ceil(log2(entries + 1))`` for the entries it addresses (the next rank's units, or the ``F x e`` positions
    under it when the next rank has none), and a compressed rank's payload its metadata width.

    Parameters
    ----------
    fmt
        The format entry (its ranks' ``metadata_bits`` / ``payload_bits`` when given).
    shapes
        The ranks' shapes at this level (:func:`level_ranks`).
    units
        The ranks' ``(metadata, payload)`` units (:func:`rank_units`), counts.

    Returns
    -------
    list[tuple[int, int]]
        Per rank, outer to inner, ``(metadata bits, payload bits)`` per unit.
    """
    out = []
    fibers = 1
    for i, (rank, shape) in enumerate(zip(fmt.ranks, shapes)):
        e = shape.fiber
        if rank.format in ("CP", "RLE"):
            meta = rank.metadata_bits if rank.metadata_bits is not None else max(1, math.ceil(math.log2(max(e, 2))))
        else:
            meta = rank.metadata_bits if rank.metadata_bits is not None else (1 if rank.format in ("B", "UB") else 0)
        if rank.payload_bits is not None:
            payload = rank.payload_bits
        elif rank.format == "UOP":
            below = units[i + 1] if i + 1 < len(units) else (0.0, 0.0)
            entries = max(below[0], below[1]) or fibers * e
            payload = max(1, math.ceil(math.log2(entries + 1)))
        else:
            payload = meta
        out.append((meta, payload))
        fibers *= e
    return out


def tile_metadata(fmt: FormatSpec, shapes: list[RankShape], tile_points: int, density: float) -> tuple[float, float]:
    """Expected metadata of one traversal of a tile in ``fmt``'s ranks.

    Parameters
    ----------
    fmt
        The tensor's format at this level.
    shapes
        Its rank shapes at this level (:func:`level_ranks`).
    tile_points
        Points of the tile, a count.
    density
        Fraction of non-zero points, in [0, 1].

    Returns
    -------
    (units, bits)
        Metadata and payload units of all ranks (a count, expected) and their size in bits
        (units x :func:`rank_widths`).
    """
    units = rank_units(fmt.ranks, shapes, tile_points, density)
    widths = rank_widths(fmt, shapes, units)
    return (sum(m + p for m, p in units),
            sum(m * wm + p * wp for (m, p), (wm, wp) in zip(units, widths)))


def action_metadata(fmt: FormatSpec, shapes: list[RankShape], tile_points: int, density: float,
                    traversals: float) -> tuple[int, int]:
    """Sparseloop's metadata of one action that moves ``traversals`` (= dense count / tile points) tiles.

    Returns
    -------
    (scalar, bits)
        ``scalar`` = ``ceil(units per tile x traversals)`` (its printed "scalar metadata" count); ``bits`` =
        the sum over ranks of ``ceil(units x traversals)`` metadata and payload accesses times their widths
        (what its energy accesses ``ceil(bits / metadata storage width)`` are made of). No tolerance in the
        rounding, as Sparseloop (its floating-point noise included).
    """
    units = rank_units(fmt.ranks, shapes, tile_points, density)
    widths = rank_widths(fmt, shapes, units)
    scalar = math.ceil(sum(m + p for m, p in units) * traversals)
    bits = sum(math.ceil(m * traversals) * wm + math.ceil(p * traversals) * wp
               for (m, p), (wm, wp) in zip(units, widths))
    return scalar, bits

