"""The dense engine's SRAM tiler: a search over its own constraint space, each candidate priced in closed form.

The constraint space is the engine's, not a general loop nest's: tiles are
visited m (outer), n, k (inner) with the output tile stationary in the SRAM,
every buffer is double-buffered (``2 (Mt Kt + Kt Nt + Mt Nt) <= capacity``),
and an operand tile is fetched only when it differs from the resident one
(:mod:`energysim.engines.dense.schedule`). Within it the search is complete
over the two tile sides the array maps (every multiple of the array side
mapped to them, up to a bound, and the full extent; a geometric ladder of
multiples beyond 128 of them): output stationary maps m and n, weight
stationary m and k. The third side takes the largest size that fits double
buffered, its balanced equivalent (same tile count, equal tiles) and, for a
convolution's k, the largest whole number of kernel windows (fewer channels
straddled): for a fixed pair of mapped sides a larger third side never adds
DRAM, partial-sum or skew traffic.

Each candidate's counts (every (level, tensor, action) of
:mod:`energysim.engines.dense.fast`, whose ``run_fast`` gives the same numbers;
``tests/engines/dense/test_dense_tiler.py`` checks it) are closed forms in the
tile counts ``ceil(M / Mt)`` ... and the array folds along each side; the
convolution input windows are summed per distinct tile class, vectorised over
all candidates. Energy is those counts times the hardware's per-access costs
(MAC energy does not depend on the tiling and is left out); cycles are the
stall-free estimate ``max(compute + skew, DRAM words / bandwidth)``. The
objective is the engine's ``tiling_objective``: ``edp`` (energy x cycles,
the engine's default: less energy than a fixed tiler at about its latency),
``energy`` (least energy, then fewest cycles, as the loop-nest mapper's
default; latency can double) or ``latency``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from energysim.engines.dense.schedule import OUTPUT_STATIONARY, Tiling, skew_cycles, smallest_tile_words
from energysim.errors import UnsupportedError
from energysim.workloads.lowering import ConvFootprint

OBJECTIVES = ("energy", "latency", "edp")
"""What the tiler minimises: memory energy (pJ), stall-free cycles, or their product."""

DENSE_MULTIPLES = 128
"""Multiples of the array side tried one by one; above this many the ladder is geometric."""

LADDER_RATIO = 1.0625
"""Ratio between successive tile sides of the geometric ladder beyond :data:`DENSE_MULTIPLES` multiples."""

Prices = dict[tuple[str, str], float]
"""pJ per access by (level role ``dram``/``sram``/``rf``, action)."""


@dataclass(frozen=True)
class TilingChoice:
    """The tiling the search chose, its estimates and the size of the space searched."""

    tiling: Tiling
    energy_pj: float
    cycles: float
    candidates: int


def _cdiv(a: np.ndarray | int, b: np.ndarray | int) -> np.ndarray:
    return -(-np.asarray(a, dtype=np.int64) // b)


def folds_along(total: int, tile: np.ndarray, side: int) -> np.ndarray:
    """Array folds along one dimension of ``total`` cut into SRAM tiles of ``tile`` (array), ``side`` PEs wide.

    Parameters
    ----------
    total
        The dimension's extent, elements.
    tile
        Tile sizes per candidate, elements.
    side
        PEs the array maps along this dimension.

    Returns
    -------
    numpy.ndarray
        Folds per candidate (int64, the shape of ``tile``).
    """
    full, rest = np.divmod(total, tile)
    return full * _cdiv(tile, side) + _cdiv(rest, side)


def tile_sides(extent: int, base: int) -> np.ndarray:
    """Candidate tile sides along a dimension the array maps with ``base`` PEs.

    Every multiple of ``base`` up to :data:`DENSE_MULTIPLES` of them, then a
    geometric ladder of multiples, and the extent itself; none above the extent.

    Parameters
    ----------
    extent
        The dimension's extent, elements.
    base
        PEs the array maps along it.

    Returns
    -------
    numpy.ndarray
        Sorted distinct sides, elements (int64).
    """
    dense = np.arange(base, min(extent, base * DENSE_MULTIPLES) + 1, base, dtype=np.int64)
    top = base * DENSE_MULTIPLES
    ladder = []
    side = float(top)
    while side * LADDER_RATIO < extent:
        side *= LADDER_RATIO
        ladder.append(int(side) // base * base)
    return np.unique(np.concatenate([dense, np.array(ladder, dtype=np.int64), [extent]]))


def _pairs(a_sides: np.ndarray, b_sides: np.ndarray, half: int) -> tuple[np.ndarray, np.ndarray]:
    """All (a, b) with room for a third side of at least 1: ``a b + a + b <= half``."""
    b_max = (half - a_sides) // (a_sides + 1)
    counts = np.searchsorted(b_sides, b_max, side="right")
    a = np.repeat(a_sides, counts)
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    b = b_sides[np.arange(a.size) - starts]
    return a, b


def candidates(m: int, n: int, k: int, rows: int, cols: int, dataflow: str, capacity_words: int,
               footprint: ConvFootprint | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Candidate tilings (arrays of Mt, Nt, Kt) that fit the SRAM double-buffered.

    Parameters
    ----------
    m, n, k
        GEMM sizes, elements.
    rows, cols
        PE array size, PEs.
    dataflow
        ``output_stationary`` or ``weight_stationary``.
    capacity_words
        SRAM capacity, words.
    footprint
        Window model of a convolution's inputs (None: im2col-sized input tiles).

    Returns
    -------
    tuple[numpy.ndarray, numpy.ndarray, numpy.ndarray]
        ``Mt``, ``Nt``, ``Kt`` per candidate, elements (empty when none fits).
    """
    half = capacity_words // 2
    if dataflow == OUTPUT_STATIONARY:
        a, b = _pairs(tile_sides(m, rows), tile_sides(n, cols), half)
        free_extent = k
    else:
        a, b = _pairs(tile_sides(m, cols), tile_sides(k, rows), half)
        free_extent = n
    largest = np.minimum((half - a * b) // (a + b), free_extent)
    variants = [largest, _cdiv(free_extent, _cdiv(free_extent, largest))]
    if footprint is not None and dataflow == OUTPUT_STATIONARY:
        area = footprint.kernel_area
        variants.append(np.where(largest >= area, largest // area * area, largest))
    free = np.concatenate(variants)
    a, b = np.tile(a, len(variants)), np.tile(b, len(variants))
    order = np.lexsort((free, b, a))
    a, b, free = a[order], b[order], free[order]
    keep = np.ones(a.size, dtype=bool)
    keep[1:] = (a[1:] != a[:-1]) | (b[1:] != b[:-1]) | (free[1:] != free[:-1])  # drop repeated candidates
    a, b, free = a[keep], b[keep], free[keep]
    if dataflow == OUTPUT_STATIONARY:
        return a, b, free
    return a, free, b


def _chunk_classes(total: int, sizes: np.ndarray, period_elements: int, measure) -> tuple[np.ndarray, ...]:
    """Distinct chunks of ``total`` cut into each of ``sizes``: (owner size index, measure, width, how many).

    ``measure(start, stop)`` must be unchanged by shifting a chunk by ``period_elements``,
    so full chunks repeat every ``period_elements / gcd(size, period_elements)`` chunks.
    """
    full, rest = np.divmod(total, sizes)
    period = period_elements // np.gcd(sizes, period_elements)
    listed = np.minimum(full, period)
    owner = np.repeat(np.arange(sizes.size), listed)
    index = np.arange(owner.size) - np.repeat(np.cumsum(listed) - listed, listed)
    count = (full[owner] - index - 1) // period[owner] + 1
    start = index * sizes[owner]
    value = measure(start, start + sizes[owner])
    width = sizes[owner]
    edge = np.flatnonzero(rest)
    owner = np.concatenate([owner, edge])
    value = np.concatenate([value, measure(full[edge] * sizes[edge], np.full(edge.size, total))])
    width = np.concatenate([width, rest[edge]])
    count = np.concatenate([count, np.ones(edge.size, dtype=np.int64)])
    edge_flag = np.concatenate([np.zeros(owner.size - edge.size, dtype=np.int64), np.ones(edge.size, dtype=np.int64)])
    key = (owner * 2 + edge_flag) * (int(value.max()) + 1) + value  # equal chunks of one size merge (sorted by owner)
    unique, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    merged = np.bincount(inverse.ravel(), weights=count, minlength=unique.size).astype(np.int64)
    return owner[first], value[first], width[first], merged


def input_words_many(k: int, n: int, tk: np.ndarray, tn: np.ndarray, footprint: ConvFootprint | None) -> np.ndarray:
    """Words of all input tiles of each tiling, each tile counted once: vectorised ``input_words_once``.

    Parameters
    ----------
    k, n
        GEMM reduction and output-column extents, elements.
    tk, tn
        Tile sizes per candidate, elements.
    footprint
        Window model of a convolution's inputs (None: ``k * n`` for every candidate).

    Returns
    -------
    numpy.ndarray
        Words per candidate (int64).
    """
    if footprint is None:
        return np.full(tk.shape, k * n, dtype=np.int64)
    k_sizes, k_of = np.unique(tk, return_inverse=True)
    n_sizes, n_of = np.unique(tn, return_inverse=True)
    k_owner, channels, heights, k_count = _chunk_classes(k, k_sizes, footprint.kernel_area, footprint.channels)
    n_owner, pixels, widths, n_count = _chunk_classes(n, n_sizes, footprint.pixels_period, footprint.pixels)
    k_start = np.searchsorted(k_owner, np.arange(k_sizes.size))
    k_len = np.bincount(k_owner, minlength=k_sizes.size)
    n_start = np.searchsorted(n_owner, np.arange(n_sizes.size))
    n_len = np.bincount(n_owner, minlength=n_sizes.size)
    a0, a_len, b0, b_len = k_start[k_of], k_len[k_of], n_start[n_of], n_len[n_of]
    pairs = a_len * b_len
    candidate = np.repeat(np.arange(tk.size), pairs)
    offset = np.arange(candidate.size) - np.repeat(np.cumsum(pairs) - pairs, pairs)
    a = a0[candidate] + offset // b_len[candidate]
    b = b0[candidate] + offset % b_len[candidate]
    words = np.minimum(channels[a] * pixels[b], heights[a] * widths[b]) * k_count[a] * n_count[b]
    return np.bincount(candidate, weights=words, minlength=tk.size).round().astype(np.int64)


def tiling_counts(m: int, n: int, k: int, tm: np.ndarray, tn: np.ndarray, tk: np.ndarray, rows: int, cols: int,
                  dataflow: str, footprint: ConvFootprint | None) -> dict[tuple[str, str, str], np.ndarray]:
    """Every memory count of the dense schedule per tiling, by (level role, tensor, action), in closed form.

    Parameters
    ----------
    m, n, k
        GEMM sizes, elements.
    tm, tn, tk
        Tile sizes per candidate (arrays of one shape), elements.
    rows, cols
        PE array size.
    dataflow
        ``output_stationary`` or ``weight_stationary``.
    footprint
        Window model of a convolution's inputs (None: im2col-sized input tiles).

    Returns
    -------
    dict[tuple[str, str, str], numpy.ndarray]
        Accesses in the level's words per candidate, by (``dram``/``sram``/``rf``, tensor, action).
    """
    tm, tn, tk = (np.asarray(v, dtype=np.int64) for v in (tm, tn, tk))
    tiles_m, tiles_n, tiles_k = _cdiv(m, tm), _cdiv(n, tn), _cdiv(k, tk)
    macs, outputs = m * n * k + 0 * tm, m * n + 0 * tm
    counts: dict[tuple[str, str, str], np.ndarray] = {}
    if dataflow == OUTPUT_STATIONARY:
        counts[("sram", "weights", "read")] = m * k * folds_along(n, tn, cols)
        counts[("sram", "inputs", "read")] = k * n * folds_along(m, tm, rows)
        counts[("rf", "outputs", "read")] = macs + outputs * tiles_k  # accumulate + one drain per fold
        counts[("rf", "outputs", "fill")] = outputs * (tiles_k - 1)  # partial sums reloaded
        counts[("rf", "weights", "fill")] = macs
        revisits = tiles_k - 1
    else:
        counts[("sram", "weights", "read")] = m * k * tiles_n
        counts[("sram", "inputs", "read")] = k * n * folds_along(m, tm, cols)
        counts[("rf", "outputs", "fill")] = macs
        counts[("rf", "weights", "fill")] = m * k * tiles_n
        revisits = folds_along(k, tk, rows) - 1
    for key in (("rf", "weights", "read"), ("rf", "inputs", "fill"), ("rf", "inputs", "read"), ("rf", "outputs", "update")):
        counts[key] = macs
    weights = m * k * np.where(tiles_k == 1, 1, tiles_n)
    inputs = input_words_many(k, n, tk, tn, footprint) * np.where((tiles_k == 1) & (tiles_n == 1), 1, tiles_m)
    counts[("dram", "weights", "read")] = counts[("sram", "weights", "fill")] = weights
    counts[("dram", "inputs", "read")] = counts[("sram", "inputs", "fill")] = inputs
    counts[("dram", "outputs", "write")] = outputs
    counts[("sram", "outputs", "write")] = outputs
    counts[("sram", "outputs", "update")] = outputs * revisits
    counts[("sram", "outputs", "read")] = outputs * revisits + outputs  # partial-sum reloads + the writeback
    return counts


def tiling_cycles(m: int, n: int, k: int, tm: np.ndarray, tn: np.ndarray, tk: np.ndarray, rows: int, cols: int,
                  dataflow: str, dram_words: np.ndarray, dram_bw: float) -> np.ndarray:
    """Stall-free cycle estimate per tiling: ``max(compute + skew, DRAM words / bandwidth)`` (ranking only).

    Parameters
    ----------
    m, n, k
        GEMM sizes, elements.
    tm, tn, tk
        Tile sizes per candidate, elements.
    rows, cols
        PE array size, PEs.
    dataflow
        ``output_stationary`` or ``weight_stationary``.
    dram_words
        DRAM words each candidate moves.
    dram_bw
        DRAM bandwidth, words per cycle.

    Returns
    -------
    numpy.ndarray
        Cycles per candidate (float).
    """
    skew = skew_cycles(rows, cols, dataflow)
    if dataflow == OUTPUT_STATIONARY:
        folds = folds_along(m, tm, rows) * folds_along(n, tn, cols)
        compute = folds * k + folds * _cdiv(k, tk) * skew
    else:
        folds = folds_along(k, tk, rows) * folds_along(m, tm, cols)
        compute = folds * n + folds * _cdiv(n, tn) * skew
    return np.maximum(compute, dram_words / dram_bw)


def choose_tiling(m: int, n: int, k: int, rows: int, cols: int, dataflow: str, capacity_words: int, prices: Prices,
                  dram_bw: float, footprint: ConvFootprint | None = None, objective: str = "edp") -> TilingChoice:
    """Search the SRAM tiling of one GEMM under the dense engine's constraints.

    Parameters
    ----------
    m, n, k
        GEMM sizes, elements.
    rows, cols
        PE array size.
    dataflow
        ``output_stationary`` or ``weight_stationary``.
    capacity_words
        SRAM capacity, words (tiles fit it double-buffered).
    prices
        pJ per access by (level role, action) for roles ``dram``, ``sram``, ``rf``.
    dram_bw
        DRAM bandwidth, words per cycle.
    footprint
        Window model of a convolution's inputs (None: im2col-sized input tiles).
    objective
        ``energy``, ``latency`` or ``edp`` (see :data:`OBJECTIVES`); ties go to fewer
        cycles, then less energy, then fewer and larger tiles.

    Returns
    -------
    TilingChoice
        The tiling (elements), its estimated energy (pJ) and cycles, and how many candidates were ranked.

    Raises
    ------
    UnsupportedError
        If not even the smallest tile fits the SRAM.
    """
    tm, tn, tk = candidates(m, n, k, rows, cols, dataflow, capacity_words, footprint)
    if tm.size == 0:
        raise UnsupportedError(
            f"SRAM of {capacity_words} words cannot hold even the smallest double-buffered tile "
            f"({smallest_tile_words(m, n, k, rows, cols, dataflow)} words) of a {m}x{n}x{k} GEMM on a {rows}x{cols} array"
        )
    counts = tiling_counts(m, n, k, tm, tn, tk, rows, cols, dataflow, footprint)
    energy = sum(value * prices[(role, action)] for (role, _, action), value in counts.items())
    dram = counts[("dram", "weights", "read")] + counts[("dram", "inputs", "read")] + m * n
    cycles = tiling_cycles(m, n, k, tm, tn, tk, rows, cols, dataflow, dram, dram_bw)
    score = {"energy": energy, "latency": cycles, "edp": energy * cycles}[objective]
    tiles = _cdiv(m, tm) * _cdiv(n, tn) * _cdiv(k, tk)
    best = np.lexsort((-tm, -tn, -tk, tiles, energy, cycles, score))[0]
    return TilingChoice(Tiling(int(tm[best]), int(tn[best]), int(tk[best])), float(energy[best]), float(cycles[best]), int(tm.size))
