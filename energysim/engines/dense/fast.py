"""Fast path of the dense engine: closed-form counts and a compressed DRAM timeline.

No loop over the SRAM tiles of the whole GEMM. Tiles come in a handful of
shapes (full or edge along m, n and k; first partial sum or not), so every
count is a shape's fold counts times how many tiles have that shape, and folds
of equal shape are priced once with numpy over their skewed steps.

The DRAM double-buffering timeline is a max-plus recurrence over tiles
(``start = max(compute end, fetch end)``, a transfer starts at ``max(issue,
channel free)``). It commutes with shifting every time by the same amount, so
a run of identical units (a block of k tiles, one image's worth of a
convolution's n tiles, a row of m tiles) is stepped until one unit leaves the
timeline state unchanged up to a shift; the remaining repeats then add that
shift, exactly. Memory is bounded by one row of n tiles' distinct units, never
by the tile count.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from energysim.engines.dense.schedule import (
    OUTPUT_STATIONARY, Fold, Tiling, chunk_groups, chunk_sizes, cycles_to_move, dram_words, largest_input_tile_words,
    skew_cycles,
)
from energysim.units import ceil_div
from energysim.workloads.lowering import ConvFootprint


@dataclass
class PathResult:
    """What either dense path produces: counts by (level role, tensor, action) and cycles."""

    counts: dict[tuple[str, str, str], int] = field(default_factory=lambda: defaultdict(int))
    macs: int = 0
    cycles_compute: int = 0
    cycles_skew: int = 0
    cycles_sram_stall: int = 0
    cycles_head: int = 0
    cycles_tail: int = 0
    cycles_dram_wait: int = 0
    cycles_total: int = 0

    def repeated(self, times: int) -> "PathResult":
        """This run done ``times`` times one after another, each from an empty pipeline: every count and cycle times ``times``.

        Parameters
        ----------
        times
            Repeats (a count, e.g. a grouped convolution's groups).

        Returns
        -------
        PathResult
            A new result; this one is unchanged.
        """
        out = PathResult(**{name: value * times for name, value in vars(self).items() if name != "counts"})
        for key, value in self.counts.items():
            out.counts[key] = value * times
        return out


def _active(t: np.ndarray, used: int, steps: int) -> np.ndarray:
    """How many of ``used`` skewed lanes are active at each step ``t`` (lane i: i <= t < i+steps)."""
    return np.clip(np.minimum(t, used - 1) - np.maximum(0, t - steps + 1) + 1, 0, None)


def fold_cycles(fold: Fold, rows: int, cols: int, dataflow: str, sram_bw: float) -> int:
    """Cycles of one fold: each skewed step takes max(1, ceil(edge demand / SRAM bandwidth)).

    Parameters
    ----------
    fold
        The fold (PEs used, skewed steps).
    rows, cols
        PE array size, PEs.
    dataflow
        ``output_stationary`` or ``weight_stationary`` (which adds the weight preload).
    sram_bw
        SRAM-to-array bandwidth, words per cycle.

    Returns
    -------
    int
        Cycles, skew, preload and SRAM stalls included.
    """
    span = fold.steps + rows + cols - 2
    t = np.arange(span)
    if dataflow == OUTPUT_STATIONARY:
        demand = _active(t, fold.rows_used, fold.steps) + _active(t, fold.cols_used, fold.steps)
        preload = 0
    else:
        demand = _active(t, fold.rows_used, fold.steps)
        per_row = max(1, cycles_to_move(fold.cols_used, sram_bw))
        preload = fold.rows_used * per_row + (rows - fold.rows_used)
    stream = np.maximum(1, cycles_to_move(demand, sram_bw))
    return int(stream.sum()) + preload


def _fold_counts(fold: Fold, dataflow: str, out: dict) -> int:
    """Add one fold's SRAM and register-file counts to ``out``; return its MACs."""
    r, c, s = fold.rows_used, fold.cols_used, fold.steps
    macs = r * c * s
    if dataflow == OUTPUT_STATIONARY:
        out[("sram", "weights", "read")] += r * s
        out[("sram", "inputs", "read")] += c * s
        outputs = r * c
        out[("rf", "outputs", "read")] += macs + outputs  # accumulate + drain
        if not fold.first:
            out[("rf", "outputs", "fill")] += outputs  # partial sum reloaded
        out[("rf", "weights", "fill")] += macs
    else:
        out[("sram", "weights", "read")] += r * c
        out[("sram", "inputs", "read")] += r * s
        outputs = c * s
        out[("rf", "outputs", "fill")] += macs  # partial sum arriving from above
        out[("rf", "weights", "fill")] += r * c
    out[("rf", "weights", "read")] += macs
    out[("rf", "inputs", "fill")] += macs
    out[("rf", "inputs", "read")] += macs
    out[("rf", "outputs", "update")] += macs
    if fold.first:
        out[("sram", "outputs", "write")] += outputs
    else:
        out[("sram", "outputs", "read")] += outputs
        out[("sram", "outputs", "update")] += outputs
    return macs


def fold_groups(m: int, n: int, k: int, first: bool, rows: int, cols: int, dataflow: str) -> list[tuple[Fold, int]]:
    """The folds of one SRAM tile of ``m x n x k`` as (fold, how many): the grouped form of ``folds``.

    Parameters
    ----------
    m, n, k
        The tile's sizes, elements.
    first
        Whether the tile holds the first partial sums of its outputs (K index 0).
    rows, cols
        PE array size, PEs.
    dataflow
        ``output_stationary`` or ``weight_stationary``.

    Returns
    -------
    list[tuple[Fold, int]]
        Each distinct fold and how many times the tile runs it.
    """
    if dataflow == OUTPUT_STATIONARY:
        return [(Fold(r, c, k, first), rn * cn) for r, rn in chunk_groups(m, rows) for c, cn in chunk_groups(n, cols)]
    out = []
    for index, (r, rn) in enumerate(chunk_groups(k, rows)):
        for c, cn in chunk_groups(m, cols):
            if index == 0 and first:
                out.append((Fold(r, c, n, True), cn))
                if rn > 1:
                    out.append((Fold(r, c, n, False), (rn - 1) * cn))
            else:
                out.append((Fold(r, c, n, False), rn * cn))
    return out


@dataclass
class _TileCost:
    """Cycles and counts of one SRAM tile shape."""

    cycles: int
    counts: dict
    macs: int
    steps: int
    stall: int
    folds: int


class _Timeline:
    """State of the double-buffered DRAM timeline between tiles (all times in cycles).

    ``compute_end``: the array finished the previous tile; ``channel_free``: the
    DRAM channel finished its last transfer; ``fetch_end``: the fetches of the next
    two tiles completed; ``writeback_end``: the latest output writeback completed.
    """

    def __init__(self, dram_bw: float, fetch_first: int, fetch_second: int):
        self.compute_end = 0
        self.channel_free = 0
        fetch_end = []
        for words in (fetch_first, fetch_second):
            if words:
                self.channel_free += cycles_to_move(words, dram_bw)
            fetch_end.append(self.channel_free if words else 0)
        self.fetch_end = fetch_end
        self.writeback_end = 0

    def step(self, runs: list[tuple[int, int, int, int]]) -> None:
        """Run tiles given as runs of identical tiles: (compute cycles, writeback cycles, cycles of
        the fetch issued two tiles ahead, how many tiles in a row).

        A zero means no transfer (its completion is its issue time). Within a run, once
        a tile leaves the state seen from the compute end unchanged (times at or before
        it clipped to it, as in :meth:`_relative`), every later tile of the run shifts
        all times by the same amount: they are added at once, exactly.
        """
        end, free = self.compute_end, self.channel_free
        fetch_now, fetch_next = self.fetch_end
        writeback = self.writeback_end
        for cycles, writeback_cycles, fetch_cycles, count in runs:
            left = count
            while left:
                before = (max(free - end, 0), max(fetch_now - end, 0), max(fetch_next - end, 0))
                start = end
                end = (fetch_now if fetch_now > end else end) + cycles
                if writeback_cycles:
                    free = (free if free > end else end) + writeback_cycles
                    writeback = free
                if fetch_cycles:
                    free = (free if free > end else end) + fetch_cycles
                    fetch_now, fetch_next = fetch_next, free
                else:
                    fetch_now, fetch_next = fetch_next, end
                left -= 1
                if left and (max(free - end, 0), max(fetch_now - end, 0), max(fetch_next - end, 0)) == before:
                    shift = (end - start) * left
                    end += shift
                    free, fetch_now, fetch_next = end + before[0], end + before[1], end + before[2]
                    if writeback_cycles:
                        writeback += shift
                    left = 0
        self.compute_end, self.channel_free = end, free
        self.fetch_end = [fetch_now, fetch_next]
        self.writeback_end = writeback

    def _relative(self) -> tuple[int, int, int]:
        """The state seen from ``compute_end``: a time at or before it acts as it, so it is clipped to 0."""
        end = self.compute_end
        return (max(self.channel_free - end, 0), max(self.fetch_end[0] - end, 0), max(self.fetch_end[1] - end, 0))

    def repeat(self, unit: Callable[[], None], times: int) -> None:
        """Run ``unit`` (which writes back at least once) ``times`` times, skipping the steady repeats.

        Once a unit leaves the relative state unchanged, every later one shifts all
        times by the same amount; they are added at once.
        """
        before = self._relative()
        for done in range(1, times + 1):
            start = self.compute_end
            unit()
            after = self._relative()
            if after == before and done < times:
                shift = (self.compute_end - start) * (times - done)
                self.compute_end += shift
                self.channel_free = self.compute_end + after[0]
                self.fetch_end = [self.compute_end + after[1], self.compute_end + after[2]]
                self.writeback_end += shift
                return
            before = after


class _Plan:
    """The tile grid of one GEMM, evaluated per block of k tiles on demand."""

    def __init__(self, m: int, n: int, k: int, tiling: Tiling, footprint: ConvFootprint | None,
                 cost: Callable[[int, int, int, bool], _TileCost], dram_bw: float):
        self.m, self.n, self.k, self.tiling, self.footprint = m, n, k, tiling, footprint
        self.tiles_m, self.tiles_n, self.tiles_k = ceil_div(m, tiling.m), ceil_div(n, tiling.n), ceil_div(k, tiling.k)
        self.row_tiles = self.tiles_n * self.tiles_k
        self.cost, self.dram_bw = cost, dram_bw
        self.k0 = np.arange(0, k, tiling.k, dtype=np.int64)
        self.k_sizes = np.minimum(self.k0 + tiling.k, k) - self.k0
        self._tiles: dict[tuple[int, int, int], list[tuple[int, int, int, int]]] = {}

    def fetch_words(self, im: int, jn: np.ndarray) -> np.ndarray:
        """Words fetched from DRAM before each tile of row ``im``, blocks ``jn``: shape (len(jn), k tiles)."""
        tm = int(chunk_sizes(self.m, self.tiling.m, im))
        tn = chunk_sizes(self.n, self.tiling.n, jn)
        weights = np.broadcast_to(tm * self.k_sizes[None, :], (jn.size, self.tiles_k))
        if self.tiles_k == 1:
            weights = np.where((jn > 0)[:, None], 0, weights)  # A(m, 0) stays resident across n
        if self.tiles_k == 1 and self.tiles_n == 1:
            return weights  # the only B tile stays resident after the first
        if self.footprint is None:
            inputs = tn[:, None] * self.k_sizes[None, :]
        else:
            n0 = jn * self.tiling.n
            inputs = self.footprint.words(self.k0[None, :], (self.k0 + self.k_sizes)[None, :],
                                          n0[:, None], (n0 + tn)[:, None])
        return weights + inputs

    def fetch_at(self, im: int, start: int, stop: int) -> np.ndarray:
        """Fetch words of tiles ``start..stop-1`` counted from the start of row ``im`` (spilling into later rows; 0 past the end)."""
        parts = []
        while start < stop:
            if im >= self.tiles_m:
                parts.append(np.zeros(stop - start, dtype=np.int64))
                break
            if start >= self.row_tiles:
                start, stop, im = start - self.row_tiles, stop - self.row_tiles, im + 1
                continue
            end = min(stop, self.row_tiles)
            j0, j1 = start // self.tiles_k, ceil_div(end, self.tiles_k)
            block = self.fetch_words(im, np.arange(j0, j1, dtype=np.int64)).ravel()
            parts.append(block[start - j0 * self.tiles_k:end - j0 * self.tiles_k])
            start = end
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)

    def tiles(self, im: int, j0: int, j1: int) -> list[tuple[int, int, int, int]]:
        """Timeline inputs of the tiles of row ``im``, blocks ``j0..j1-1``, as runs (see :meth:`_Timeline.step`)."""
        if (im, j0, j1) not in self._tiles:
            self._tiles[(im, j0, j1)] = self._evaluate(im, j0, j1) if j1 > j0 else []
        return self._tiles[(im, j0, j1)]

    def _evaluate(self, im: int, j0: int, j1: int) -> list[tuple[int, int, int, int]]:
        tm = int(chunk_sizes(self.m, self.tiling.m, im))
        jn = np.arange(j0, j1, dtype=np.int64)
        tn = chunk_sizes(self.n, self.tiling.n, jn)
        cycles = np.empty((jn.size, self.tiles_k), dtype=np.int64)
        for size_n in np.unique(tn).tolist():
            per_k = np.empty(self.tiles_k, dtype=np.int64)
            for size_k in np.unique(self.k_sizes).tolist():  # at most two sizes: full and the edge
                per_k[self.k_sizes == size_k] = self.cost(tm, size_n, size_k, False).cycles
            per_k[0] = self.cost(tm, size_n, int(self.k_sizes[0]), True).cycles
            cycles[tn == size_n] = per_k
        writeback = np.zeros_like(cycles)
        writeback[:, -1] = cycles_to_move(tm * tn, self.dram_bw)
        start = j0 * self.tiles_k + 2
        fetch = np.asarray(cycles_to_move(self.fetch_at(im, start, start + cycles.size), self.dram_bw))
        cycles, writeback = cycles.ravel(), writeback.ravel()
        change = (cycles[1:] != cycles[:-1]) | (writeback[1:] != writeback[:-1]) | (fetch[1:] != fetch[:-1])
        starts = np.concatenate([[0], np.flatnonzero(change) + 1])
        counts = np.diff(np.append(starts, cycles.size))
        return list(zip(cycles[starts].tolist(), writeback[starts].tolist(), fetch[starts].tolist(), counts.tolist()))

    def period(self) -> int:
        """Blocks of n tiles after which the full blocks repeat (one image of a convolution, else 1)."""
        if self.footprint is None:
            return 1
        return self.footprint.pixels_period // math.gcd(self.tiling.n, self.footprint.pixels_period)

    def run_row(self, im: int, timeline: _Timeline) -> None:
        """Step one row of n tiles: block 0, the periodic middle (steady repeats skipped), the rest."""
        period = self.period()
        full = self.n // self.tiling.n
        head = min(1, self.tiles_n)
        repeats = max(0, (full - 2 - head) // period)
        timeline.step(self.tiles(im, 0, head))
        if repeats:
            unit = self.tiles(im, head, head + period)
            timeline.repeat(lambda: timeline.step(unit), repeats)
        timeline.step(self.tiles(im, head + repeats * period, self.tiles_n))

    def run(self, timeline: _Timeline) -> None:
        """Step every row; rows alike (same size, same following rows) are one run with steady repeats skipped."""
        def signature(im: int) -> tuple:
            return tuple(int(chunk_sizes(self.m, self.tiling.m, i)) if i < self.tiles_m else 0 for i in (im, im + 1, im + 2))

        interior = max(0, self.tiles_m - 3)
        runs = [(0, interior)] if interior else []
        runs += [(im, 1) for im in range(interior, self.tiles_m)]
        merged: list[list[int]] = []
        for im, count in runs:
            if merged and signature(merged[-1][0]) == signature(im):
                merged[-1][1] += count
            else:
                merged.append([im, count])
        for im, count in merged:
            timeline.repeat(lambda im=im: self.run_row(im, timeline), count)


def run_fast(m: int, n: int, k: int, tiling: Tiling, footprint: ConvFootprint | None, rows: int, cols: int,
             dataflow: str, sram_bw: float, dram_bw: float) -> PathResult:
    """Execute the schedule of a GEMM (:mod:`energysim.engines.dense.schedule`) in closed form.

    Parameters
    ----------
    m, n, k
        GEMM sizes, elements.
    tiling
        SRAM tile sizes.
    footprint
        Window model of a convolution's inputs (None: im2col-sized input tiles).
    rows, cols
        PE array size.
    dataflow
        ``output_stationary`` or ``weight_stationary``.
    sram_bw, dram_bw
        SRAM-to-array and DRAM-to-SRAM bandwidth, words per cycle.

    Returns
    -------
    PathResult
        Counts by (level role, tensor, action) in words and MACs, and cycles by part.
    """
    result = PathResult()
    skew = skew_cycles(rows, cols, dataflow)
    costs: dict[tuple[int, int, int, bool], _TileCost] = {}

    def cost(tm: int, tn: int, tk: int, first: bool) -> _TileCost:
        key = (tm, tn, tk, first)
        if key not in costs:
            counts: dict = defaultdict(int)
            cycles = macs = steps = stall = n_folds = 0
            for fold, times in fold_groups(tm, tn, tk, first, rows, cols, dataflow):
                fc = fold_cycles(fold, rows, cols, dataflow, sram_bw)
                cycles += fc * times
                steps += fold.steps * times
                stall += (fc - fold.steps - skew) * times
                n_folds += times
                one: dict = defaultdict(int)
                macs += _fold_counts(fold, dataflow, one) * times
                for name, value in one.items():
                    counts[name] += value * times
            costs[key] = _TileCost(cycles, counts, macs, steps, stall, n_folds)
        return costs[key]

    first_k = min(k, tiling.k)
    k_groups = [(first_k, True, 1)] + [(size, False, count - (size == first_k)) for size, count in chunk_groups(k, tiling.k)]
    busy = 0
    for tm, count_m in chunk_groups(m, tiling.m):
        for tn, count_n in chunk_groups(n, tiling.n):
            for tk, first, count_k in k_groups:
                times = count_m * count_n * count_k
                if not times:
                    continue
                tile = cost(tm, tn, tk, first)
                for name, value in tile.counts.items():
                    result.counts[name] += value * times
                result.macs += tile.macs * times
                result.cycles_compute += tile.steps * times
                result.cycles_skew += tile.folds * skew * times
                result.cycles_sram_stall += tile.stall * times
                busy += tile.cycles * times
    weights, inputs, outputs = dram_words(m, n, k, tiling, footprint)
    for tensor, words in (("weights", weights), ("inputs", inputs)):
        result.counts[("dram", tensor, "read")] += words
        result.counts[("sram", tensor, "fill")] += words
    result.counts[("dram", "outputs", "write")] += outputs
    result.counts[("sram", "outputs", "read")] += outputs

    plan = _Plan(m, n, k, tiling, footprint, cost, dram_bw)
    first_fetch = int(plan.fetch_words(0, np.zeros(1, dtype=np.int64))[0, 0])
    if plan.tiles_k == 1 and plan.tiles_n == 1:  # fetch_words leaves out the B tile that stays resident
        first_fetch += int(plan.k_sizes[0]) * min(n, tiling.n) if footprint is None else int(
            footprint.words(0, int(plan.k_sizes[0]), 0, min(n, tiling.n)))
    second_fetch = int(plan.fetch_at(0, 1, 2)[0])
    timeline = _Timeline(dram_bw, first_fetch, second_fetch)
    head = timeline.fetch_end[0]
    if _never_waits(plan, second_fetch, footprint):
        compute_end = head + busy
        last = cycles_to_move(int(chunk_sizes(m, tiling.m, plan.tiles_m - 1)) * int(chunk_sizes(n, tiling.n, plan.tiles_n - 1)), dram_bw)
        total = compute_end + last
    else:
        plan.run(timeline)
        compute_end = timeline.compute_end
        total = max(compute_end, timeline.writeback_end)
    result.cycles_head = head
    result.cycles_tail = total - compute_end
    result.cycles_dram_wait = compute_end - head - busy
    result.cycles_total = total
    return result


def _edge_indices(count: int) -> list[int]:
    """Tile indices along one dimension whose windows of three consecutive tiles are all the dimension's windows.

    A tile's fetch, writeback and compute depend only on whether it is the first,
    the last (the edge size) or neither along each dimension, so the first three
    and the last three represent every run of three.
    """
    return sorted({i for i in (0, 1, 2, count - 3, count - 2, count - 1) if 0 <= i < count})


def _never_waits(plan: _Plan, second_fetch: int, footprint: ConvFootprint | None) -> bool:
    """Whether the DRAM channel keeps ahead of the array on every tile, so no tile ever waits (sufficient condition).

    By induction over tiles: when tile ``t`` ends the channel is idle and tile
    ``t + 1`` is fetched; the writeback of ``t`` and the fetch of ``t + 2``
    issued then finish within tile ``t + 1`` if ``writeback(t) + fetch(t + 2)
    <= compute(t + 1)``; the base case is ``fetch(1) <= compute(0)``. Checked
    on the tiles of :func:`_edge_indices` along m, n and k in schedule order,
    with a convolution's input words bounded by the largest window of the
    tile's size class; when it holds the array runs back to back.
    """
    tiling, dram_bw = plan.tiling, plan.dram_bw
    largest = largest_input_tile_words(plan.k, plan.n, tiling.k, tiling.n, footprint)
    resident_b_after_first = plan.tiles_k == 1 and plan.tiles_n == 1
    transfer: dict[int, int] = {0: 0}

    def cycles_of(words: int) -> int:
        if words not in transfer:
            transfer[words] = cycles_to_move(words, dram_bw)
        return transfer[words]

    sides_k = [(kk, min(tiling.k, plan.k - kk * tiling.k)) for kk in _edge_indices(plan.tiles_k)]
    compute, writeback, fetch = [], [], []
    for im in _edge_indices(plan.tiles_m):
        tm = min(tiling.m, plan.m - im * tiling.m)
        for jn in _edge_indices(plan.tiles_n):
            tn = min(tiling.n, plan.n - jn * tiling.n)
            for kk, tk in sides_k:
                compute.append(plan.cost(tm, tn, tk, kk == 0).cycles)
                writeback.append(cycles_of(tm * tn) if kk == plan.tiles_k - 1 else 0)
                words = 0 if plan.tiles_k == 1 and jn > 0 else tm * tk
                if not (resident_b_after_first and len(fetch) > 0):
                    words += largest[(tk, tn)]
                fetch.append(cycles_of(words))
    if cycles_of(second_fetch) > compute[0]:
        return False
    fetch += [0, 0]
    return all(writeback[t] + fetch[t + 2] <= compute[t + 1] for t in range(len(compute) - 1))
