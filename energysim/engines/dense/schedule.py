"""The dense engine's schedule: SRAM tiling, tile order, array folds and per-fold costs.

Both execution paths of the dense engine (the cycle-level reference in
:mod:`energysim.engines.dense.cycle` and the fast path in
:mod:`energysim.engines.dense.fast`) execute the schedule planned here; the
plan itself (which tile sizes, in which order, which operands must be fetched)
is shared, the timing and counting are computed independently.

Schedule
--------
The GEMM ``C[M,N] = A[M,K] B[K,N]`` is cut into SRAM tiles ``(Mt, Nt, Kt)``
visited in loop order m (outer), n, k (inner). A tile operand is fetched from
DRAM only when it differs from the one resident in the SRAM buffer (so A stays
resident across n when K fits in one tile). Every buffer is double-buffered:
``2 * (Mt*Kt + Kt*Nt + Mt*Nt) <= SRAM capacity in words``. Output tiles stay in
SRAM across the k loop and are written to DRAM once, after their last k tile.
The tile sizes are searched by :mod:`energysim.engines.dense.tiler`.

Inside an SRAM tile the rows x cols array runs folds:

- output stationary (OS): array rows map M, columns map N; a fold reduces ``Kt``
  steps, skewed, and takes ``Kt + rows + cols - 2`` cycles without stalls
  (SCALE-Sim's fold formula, full array skew even for edge folds);
- weight stationary (WS): array rows map K, columns map M; a fold preloads the
  weights one array row per cycle (``rows`` cycles), then streams ``Nt`` input
  vectors, skewed: ``rows + Nt + rows + cols - 2`` cycles without stalls.

Input tiles of a convolution are fetched from DRAM as their sliding window
(:mod:`energysim.workloads.lowering`), not as im2col columns; the SRAM then
feeds the array the im2col stream (SRAM reads count every operand use).

SRAM-to-array bandwidth: the words entering the array edge at skewed step ``t``
must be read from SRAM at ``bandwidth_words_per_cycle``; a step whose demand
``d`` exceeds it takes ``ceil(d / bw)`` cycles (the array advances in lockstep);
the extra cycles are stall. Output drains use a separate write port.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

import math

import numpy as np

from energysim.units import ceil_div
from energysim.workloads.lowering import ConvFootprint

OUTPUT_STATIONARY = "output_stationary"


@dataclass(frozen=True)
class Tiling:
    """SRAM tile sizes in elements."""

    m: int
    n: int
    k: int


@dataclass(frozen=True)
class Tile:
    """One SRAM tile in schedule order.

    Attributes
    ----------
    m, n, k
        Sizes of this tile (edge tiles are smaller), elements.
    k_index
        Index of the tile along K (0 = first partial sum).
    fetch_weights, fetch_inputs
        Words fetched from DRAM before this tile can run (0 when resident).
    writeback
        Output words written to DRAM after this tile (non-zero after the last k tile).
    """

    m: int
    n: int
    k: int
    k_index: int
    fetch_weights: int
    fetch_inputs: int
    writeback: int


@dataclass(frozen=True)
class Fold:
    """One array fold: ``rows_used x cols_used`` PEs active for ``steps`` skewed steps.

    ``first`` is True when the fold produces the first partial sum of its outputs
    (nothing to read back from SRAM).
    """

    rows_used: int
    cols_used: int
    steps: int
    first: bool


def cycles_to_move(words: np.ndarray | int, bandwidth_words_per_cycle: float) -> np.ndarray | int:
    """Least whole cycles ``k`` with ``k * bandwidth >= words`` (0 words -> 0 cycles).

    Computed as a ceiling and corrected by one either way, so floating-point
    rounding of ``words / bandwidth`` cannot change the answer.

    Parameters
    ----------
    words
        Words to move (scalar or array), >= 0.
    bandwidth_words_per_cycle
        Words moved per cycle, > 0.

    Returns
    -------
    int or numpy.ndarray
        Cycles, of the shape of ``words`` (int64 for an array).
    """
    if np.ndim(words) == 0:
        count = math.ceil(words / bandwidth_words_per_cycle)
        if (count - 1) * bandwidth_words_per_cycle >= words:
            count -= 1
        if count * bandwidth_words_per_cycle < words:
            count += 1
        return int(count)
    w = np.asarray(words, dtype=np.float64)
    k = np.ceil(w / bandwidth_words_per_cycle)
    k = np.where((k - 1) * bandwidth_words_per_cycle >= w, k - 1, k)
    k = np.where(k * bandwidth_words_per_cycle < w, k + 1, k).astype(np.int64)
    return k


def chunks(total: int, size: int) -> list[int]:
    """Sizes of consecutive chunks of ``size`` covering ``total``.

    Parameters
    ----------
    total, size
        Extent and chunk size, elements (``size`` > 0).

    Returns
    -------
    list[int]
        ``total // size`` chunks of ``size``, then the remainder if any, elements.
    """
    full, rest = divmod(total, size)
    return [size] * full + ([rest] if rest else [])


def chunk_groups(total: int, size: int) -> list[tuple[int, int]]:
    """The chunks of :func:`chunks` as (size, how many), in order: at most two groups.

    Parameters
    ----------
    total, size
        As :func:`chunks`.

    Returns
    -------
    list[tuple[int, int]]
        ``(size, total // size)`` when non-zero, then ``(remainder, 1)`` when non-zero.
    """
    full, rest = divmod(total, size)
    return ([(size, full)] if full else []) + ([(rest, 1)] if rest else [])


def chunk_sizes(total: int, size: int, index: np.ndarray) -> np.ndarray:
    """Size of chunk number ``index`` (array) of :func:`chunks`.

    Parameters
    ----------
    total, size
        As :func:`chunks`.
    index
        Chunk numbers, each below ``ceil(total / size)``.

    Returns
    -------
    numpy.ndarray
        Elements in each chunk (int64, the shape of ``index``).
    """
    return np.minimum(size, total - np.asarray(index, dtype=np.int64) * size)


def _bounds(total: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    starts = np.arange(0, total, size, dtype=np.int64)
    return starts, np.minimum(starts + size, total)


def input_tile_words(k: int, n: int, tiling: Tiling, footprint: ConvFootprint | None) -> np.ndarray:
    """Words of each input tile B(k-chunk, n-chunk), shape (k tiles, n tiles).

    The im2col size ``Kt x Nt`` for GEMM and linear layers; the sliding-window
    footprint (:mod:`energysim.workloads.lowering`) for convolutions.

    Parameters
    ----------
    k, n
        GEMM reduction and output-column extents, elements.
    tiling
        SRAM tile sizes, elements.
    footprint
        Window model of a convolution's inputs (None: im2col-sized tiles).

    Returns
    -------
    numpy.ndarray
        Words per tile, shape ``(ceil(k / tiling.k), ceil(n / tiling.n))``.
    """
    k0, k1 = _bounds(k, tiling.k)
    n0, n1 = _bounds(n, tiling.n)
    if footprint is None:
        return np.outer(k1 - k0, n1 - n0)
    return footprint.words(k0[:, None], k1[:, None], n0[None, :], n1[None, :])


def _grouped(values: np.ndarray, widths: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Merge equal (value, width) pairs, adding their counts."""
    key = values * (int(widths.max()) + 1) + widths
    unique, inverse = np.unique(key, return_inverse=True)
    merged = np.bincount(inverse, weights=counts, minlength=unique.size).astype(np.int64)
    return unique // (int(widths.max()) + 1), unique % (int(widths.max()) + 1), merged


def _periodic_groups(total: int, tile: int, period_elements: int,
                     measure: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct tiles of a dimension cut into ``tile``-sized chunks as (measure, tile width, how many tiles).

    ``measure(start, stop)`` must be unchanged by shifting a chunk by ``period_elements``,
    so full chunks repeat every ``period_elements / gcd(tile, period_elements)``
    chunks: one period is evaluated and weighted by how often it recurs.
    """
    full, rest = divmod(total, tile)
    period = period_elements // math.gcd(tile, period_elements)
    index = np.arange(min(full, period), dtype=np.int64)
    counts = (full - index - 1) // period + 1
    starts = index * tile
    values = measure(starts, starts + tile)
    widths = np.full(index.size, tile, dtype=np.int64)
    if rest:
        values = np.append(values, measure(np.int64(full * tile), np.int64(total)))
        widths = np.append(widths, rest)
        counts = np.append(counts, 1)
    return _grouped(values.astype(np.int64), widths, counts)


@lru_cache(maxsize=256)
def _pixel_groups(n: int, tile_n: int, footprint: ConvFootprint) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct n tiles of a convolution as (input pixels per channel, tile width, how many); one image evaluated."""
    return _periodic_groups(n, tile_n, footprint.pixels_period, footprint.pixels)


@lru_cache(maxsize=256)
def _channel_groups(k: int, tile_k: int, footprint: ConvFootprint) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct k tiles of a convolution as (input channels touched, tile height, how many); one channel evaluated."""
    return _periodic_groups(k, tile_k, footprint.kernel_area, footprint.channels)


@lru_cache(maxsize=4096)
def input_words_once(k: int, n: int, tile_k: int, tile_n: int, footprint: ConvFootprint | None) -> int:
    """Words of all input tiles B(k-chunk, n-chunk), each counted once (the sum of :func:`input_tile_words`).

    Computed per distinct tile class (channels x tile height, pixels x tile width),
    never over the whole tile grid: memory and time bounded by one image.

    Parameters
    ----------
    k, n
        GEMM reduction and output-column extents, elements.
    tile_k, tile_n
        SRAM tile sizes along them, elements.
    footprint
        Window model of a convolution's inputs (None: ``k * n``).

    Returns
    -------
    int
        Words.
    """
    if footprint is None:
        return k * n
    channels, heights, k_counts = _channel_groups(k, tile_k, footprint)
    pixels, widths, n_counts = _pixel_groups(n, tile_n, footprint)
    words = np.minimum(np.outer(channels, pixels), np.outer(heights, widths))
    return int((k_counts[:, None] * n_counts[None, :] * words).sum())


def largest_input_tile_words(k: int, n: int, tile_k: int, tile_n: int,
                             footprint: ConvFootprint | None) -> dict[tuple[int, int], int]:
    """The most input words any one tile of each size (height, width) moves from DRAM, by that size.

    Exact for GEMM and linear layers (``height x width``); for convolutions the
    largest window among the distinct tile classes of :func:`input_words_once`.

    Parameters
    ----------
    k, n, tile_k, tile_n, footprint
        As :func:`input_words_once`.

    Returns
    -------
    dict[tuple[int, int], int]
        Words, keyed by tile (height, width) in elements.
    """
    if footprint is None:
        return {(h, w): h * w for h, _ in chunk_groups(k, tile_k) for w, _ in chunk_groups(n, tile_n)}
    channels, heights, _ = _channel_groups(k, tile_k, footprint)
    pixels, widths, _ = _pixel_groups(n, tile_n, footprint)
    words = np.minimum(np.outer(channels, pixels), np.outer(heights, widths))
    return {(int(h), int(w)): int(words[np.ix_(heights == h, widths == w)].max())
            for h in np.unique(heights) for w in np.unique(widths)}


def dram_words(m: int, n: int, k: int, tiling: Tiling, footprint: ConvFootprint | None = None) -> tuple[int, int, int]:
    """Closed-form DRAM traffic (weights read, inputs read, outputs written) in words.

    Follows the residency rule of the schedule: A(m,k) is re-fetched for every n
    unless K fits one tile; B(k,n) is fetched once when it is the only B tile,
    else once per m tile. Input tiles of convolutions move their window, not im2col.

    Parameters
    ----------
    m, n, k
        GEMM sizes, elements.
    tiling
        SRAM tile sizes, elements.
    footprint
        Window model of a convolution's inputs (None: im2col-sized tiles).

    Returns
    -------
    tuple[int, int, int]
        Weight words read, input words read, output words written.
    """
    tiles_m, tiles_n, tiles_k = ceil_div(m, tiling.m), ceil_div(n, tiling.n), ceil_div(k, tiling.k)
    weights = m * k * (1 if tiles_k == 1 else tiles_n)
    once = input_words_once(k, n, tiling.k, tiling.n, footprint)
    inputs = once * (1 if tiles_k == 1 and tiles_n == 1 else tiles_m)
    return weights, inputs, m * n


def _tile_bases(rows: int, cols: int, dataflow: str) -> tuple[int, int, int]:
    """The array dimension each GEMM dimension (m, n, k) is tiled in multiples of."""
    return (rows, cols, 1) if dataflow == OUTPUT_STATIONARY else (cols, 1, rows)


def smallest_tile_words(m: int, n: int, k: int, rows: int, cols: int, dataflow: str) -> int:
    """SRAM words the smallest candidate tiling needs double-buffered: ``2 (Mt Kt + Kt Nt + Mt Nt)``.

    Each dimension's smallest candidate is ``min(extent, array dimension mapped to it)``.

    Parameters
    ----------
    m, n, k
        GEMM sizes, elements.
    rows, cols
        PE array size, PEs.
    dataflow
        ``output_stationary`` or ``weight_stationary``.

    Returns
    -------
    int
        Words.
    """
    tm, tn, tk = (min(extent, base) for extent, base in zip((m, n, k), _tile_bases(rows, cols, dataflow)))
    return 2 * (tm * tk + tk * tn + tm * tn)


@dataclass(frozen=True)
class TileTable:
    """The SRAM tiles of a GEMM in schedule order, one column per :class:`Tile` field (int64 arrays, one entry per tile)."""

    m: np.ndarray
    n: np.ndarray
    k: np.ndarray
    k_index: np.ndarray
    fetch_weights: np.ndarray
    fetch_inputs: np.ndarray
    writeback: np.ndarray

    def __len__(self) -> int:
        return int(self.m.size)

    def tile(self, index: int) -> Tile:
        """Tile number ``index`` of the schedule.

        Parameters
        ----------
        index
            Position in schedule order, from 0.

        Returns
        -------
        Tile
            Its sizes (elements), K index and DRAM words.
        """
        return Tile(*(int(getattr(self, name)[index]) for name in self.__dataclass_fields__))


def tiles(m: int, n: int, k: int, tiling: Tiling, footprint: ConvFootprint | None = None) -> TileTable:
    """The SRAM tiles in schedule order (m outer, n, k inner) with their DRAM transfers.

    An operand tile is fetched unless it is the one the previous tile used
    (the resident one): compared tile by tile, all tiles at once.

    Parameters
    ----------
    m, n, k
        GEMM sizes, elements.
    tiling
        SRAM tile sizes, elements.
    footprint
        Window model of a convolution's inputs (None: im2col-sized input tiles).

    Returns
    -------
    TileTable
        Per tile: its sizes and K index, and the words fetched (weights, inputs) and written back.
    """
    tiles_m, tiles_n, tiles_k = ceil_div(m, tiling.m), ceil_div(n, tiling.n), ceil_div(k, tiling.k)
    im, jn, kk = (index.ravel() for index in np.indices((tiles_m, tiles_n, tiles_k), dtype=np.int64))
    tm, tn, tk = chunk_sizes(m, tiling.m, im), chunk_sizes(n, tiling.n, jn), chunk_sizes(k, tiling.k, kk)
    previous = np.arange(im.size) - 1  # tile 0 has no previous tile: compared with itself, then forced to fetch
    previous[0] = 0
    first = np.arange(im.size) == 0
    same_a = (im[previous] == im) & (kk[previous] == kk) & ~first
    same_b = (kk[previous] == kk) & (jn[previous] == jn) & ~first
    input_words = input_tile_words(k, n, tiling, footprint)
    return TileTable(
        m=tm, n=tn, k=tk, k_index=kk,
        fetch_weights=np.where(same_a, 0, tm * tk),
        fetch_inputs=np.where(same_b, 0, input_words[kk, jn]).astype(np.int64),
        writeback=np.where(kk == tiles_k - 1, tm * tn, 0),
    )


def folds(tile: Tile, rows: int, cols: int, dataflow: str) -> list[tuple[Fold, int]]:
    """The array folds of one SRAM tile in execution order, each run of equal consecutive folds as (fold, how many).

    The inner loop (OS: columns over N, WS: columns over M) repeats its full
    fold before the edge one, so a tile has at most two runs per outer fold row.

    Parameters
    ----------
    tile
        One SRAM tile (sizes in elements).
    rows, cols
        PE array size, PEs.
    dataflow
        ``output_stationary`` or ``weight_stationary``.

    Returns
    -------
    list[tuple[Fold, int]]
        Each run's fold and its repeat count, in execution order.
    """
    out: list[tuple[Fold, int]] = []
    if dataflow == OUTPUT_STATIONARY:
        for r in chunks(tile.m, rows):
            for c, times in chunk_groups(tile.n, cols):
                out.append((Fold(r, c, tile.k, tile.k_index == 0), times))
    else:
        for index, r in enumerate(chunks(tile.k, rows)):
            for c, times in chunk_groups(tile.m, cols):
                out.append((Fold(r, c, tile.n, tile.k_index == 0 and index == 0), times))
    return out


def skew_cycles(rows: int, cols: int, dataflow: str) -> int:
    """Fill/drain cycles of one fold without stalls: skew (and WS weight preload).

    Parameters
    ----------
    rows, cols
        PE array size, PEs (full array skew, even for edge folds).
    dataflow
        ``output_stationary`` (``rows + cols - 2``) or ``weight_stationary`` (``rows`` more).

    Returns
    -------
    int
        Cycles.
    """
    skew = rows + cols - 2
    return skew if dataflow == OUTPUT_STATIONARY else rows + skew
