"""Cycle-level reference path of the dense engine.

Follows the schedule cycle by cycle, independently of the closed forms of the
fast path: the DRAM channel moves ``bandwidth`` words per cycle of the transfer
at the head of its queue; the PE array advances one skewed step when the SRAM
has delivered (one ``bandwidth`` per cycle, accumulated) the words the array
edge needs for that step; each PE checks on its own whether it holds a valid
operand pair at that step.

Within a fold every skewed step is evaluated at once with numpy (edge demand
per step as the running count of array lanes joining and leaving, each step's
cycles by stepping the SRAM delivery until it covers that demand, MACs per
step from the PEs' lags the same way; memory grows with the steps, not with
steps x PEs); tiles of one shape run the same folds, so each distinct shape's
folds are stepped once. Every tile and every DRAM transfer of the schedule
then runs one by one, in order, on one clock: a tile starts in the first cycle
in which the array is free and its fetch has completed, a transfer in the
first cycle in which it is issued and the channel is free; the cycles in which
the array idles are counted between them, so the cycle counts are those of
stepping every cycle. It has none of the fast path's shortcuts (no closed-form
counts or DRAM words, no no-wait check, no steady-state shift). Meant for
small and medium layers and as the reference the fast path is tested against.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from energysim.engines.dense.fast import PathResult
from energysim.engines.dense.schedule import OUTPUT_STATIONARY, Fold, Tile, TileTable, folds


def _cycles_to_deliver(words: int, bandwidth: float) -> int:
    """Cycles, stepped one at a time, until the ``cycles * bandwidth`` words delivered reach ``words``; at least one.

    The delivered amount is the product, not a running float sum: adding 0.3 ten times
    gives 2.9999999999999996, which would take an 11th cycle to deliver 3 words.
    """
    cycles = 1
    while cycles * bandwidth < words:
        cycles += 1
    return cycles


def _active_per_step(steps_total: int, first_steps: np.ndarray, steps: int, weights: np.ndarray | None = None) -> np.ndarray:
    """Per step below ``steps_total``, how many lanes are active (lane ``i`` from step ``first_steps[i]`` for ``steps`` steps).

    Each lane joins in its first step and leaves after its last: the running sum of joins
    minus leaves, so memory grows with the steps, not steps x lanes. With ``weights``, lane
    ``i`` counts ``weights[i]`` times.
    """
    weights = np.ones(first_steps.size, dtype=np.int64) if weights is None else weights
    change = np.zeros(steps_total + 1, dtype=np.int64)
    np.add.at(change, np.minimum(first_steps, steps_total), weights)
    np.subtract.at(change, np.minimum(first_steps + steps, steps_total), weights)
    return np.cumsum(change[:steps_total])


@dataclass(frozen=True)
class _FoldRun:
    """Everything one fold (or one tile's folds) adds: cycles by kind and counts by (level role, tensor, action)."""

    cycles: int
    compute: int
    skew: int
    stall: int
    macs: int
    counts: tuple[tuple[tuple[str, str, str], int], ...]


def _run_fold(fold: Fold, rows: int, cols: int, dataflow: str, sram_bw: float) -> _FoldRun:
    """Run one fold step by step (all steps at once)."""
    counts: dict[tuple[str, str, str], int] = {}

    def add(key: tuple[str, str, str], value: int) -> None:
        counts[key] = counts.get(key, 0) + int(value)

    span = fold.steps + rows + cols - 2
    rows_wanting = _active_per_step(span, np.arange(fold.rows_used), fold.steps)  # array row i: steps i .. i+steps-1
    if dataflow == OUTPUT_STATIONARY:
        weights, inputs = rows_wanting, _active_per_step(span, np.arange(fold.cols_used), fold.steps)
        preload = np.zeros(0, dtype=np.int64)
    else:
        weights, inputs = np.zeros(span, dtype=np.int64), rows_wanting
        preload = np.where(np.arange(rows) < fold.rows_used, fold.cols_used, 0)
    # Skewed steps and preload rows by the words they need from the SRAM: equal needs take equal cycles.
    steps_by_words = np.bincount(np.concatenate([weights + inputs, preload])).tolist()
    cycles = sum(steps * _cycles_to_deliver(words, sram_bw) for words, steps in enumerate(steps_by_words) if steps)
    compute = min(span, fold.steps)
    skew = span - compute + preload.size
    add(("sram", "weights", "read"), weights.sum() + preload.sum())
    add(("sram", "inputs", "read"), inputs.sum())
    # PE (i, j) fires at step t when 0 <= t - i - j < steps: count the PEs per lag i + j (row i holds lags
    # i .. i + cols_used - 1), then the PEs of lag l fire in steps l .. l + steps - 1.
    per_lag = _active_per_step(fold.rows_used + fold.cols_used - 1, np.arange(fold.rows_used), fold.cols_used)
    macs = int(_active_per_step(span, np.arange(per_lag.size), fold.steps, per_lag).sum())
    for key in (("rf", "weights", "read"), ("rf", "inputs", "fill"), ("rf", "inputs", "read"), ("rf", "outputs", "update")):
        add(key, macs)
    if dataflow == OUTPUT_STATIONARY:
        add(("rf", "weights", "fill"), macs)
        add(("rf", "outputs", "read"), macs)
        outputs = fold.rows_used * fold.cols_used
        add(("rf", "outputs", "read"), outputs)
        if not fold.first:
            add(("rf", "outputs", "fill"), outputs)
    else:
        add(("rf", "outputs", "fill"), macs)
        outputs = fold.cols_used * fold.steps
        add(("rf", "weights", "fill"), fold.rows_used * fold.cols_used)
    if fold.first:
        add(("sram", "outputs", "write"), outputs)
    else:
        add(("sram", "outputs", "read"), outputs)
        add(("sram", "outputs", "update"), outputs)
    return _FoldRun(cycles, compute, skew, cycles - compute - skew, macs, tuple(counts.items()))


def _tile_run(tile: Tile, rows: int, cols: int, dataflow: str, sram_bw: float, seen: dict[Fold, _FoldRun]) -> _FoldRun:
    """Run one tile's folds and add them up.

    ``seen`` keeps the folds already run: a fold shape runs one way, so equal folds are counted together.
    """
    busy = compute = skew = stall = macs = 0
    counts: dict[tuple[str, str, str], int] = {}
    shapes: Counter = Counter()
    for fold, times in folds(tile, rows, cols, dataflow):
        shapes[fold] += times
    for fold, times in shapes.items():
        if fold not in seen:
            seen[fold] = _run_fold(fold, rows, cols, dataflow, sram_bw)
        run = seen[fold]
        busy += run.cycles * times
        compute += run.compute * times
        skew += run.skew * times
        stall += run.stall * times
        macs += run.macs * times
        for key, value in run.counts:
            counts[key] = counts.get(key, 0) + value * times
    return _FoldRun(busy, compute, skew, stall, macs, tuple(counts.items()))


def _add_tiles(result: PathResult, runs: list[_FoldRun], ran: np.ndarray) -> None:
    """Add to ``result`` each tile shape's folds times how many tiles of that shape ran (``ran``, by shape number)."""
    for run, times in zip(runs, ran.tolist()):
        result.cycles_compute += run.compute * times
        result.cycles_skew += run.skew * times
        result.cycles_sram_stall += run.stall * times
        result.macs += run.macs * times
        for name, value in run.counts:
            result.counts[name] += value * times


def _tile_shapes(schedule: TileTable) -> tuple[list[Tile], np.ndarray]:
    """The distinct tile shapes (sizes and first-partial-sum flag) of a schedule and each tile's shape number.

    One stable sort of the tiles by shape: equal shapes end up next to each other, in schedule order.
    """
    columns = (schedule.m, schedule.n, schedule.k, schedule.k_index == 0)
    order = np.lexsort(columns[::-1])
    new_shape = np.zeros(order.size, dtype=bool)  # along ``order``: True where a shape starts
    new_shape[:1] = True
    for column in columns:
        ordered = column[order]
        new_shape[1:] |= ordered[1:] != ordered[:-1]
    shape = np.empty(order.size, dtype=np.int64)
    shape[order] = np.cumsum(new_shape) - 1
    return [schedule.tile(int(t)) for t in order[new_shape]], shape


def _transfer_cycles(words: np.ndarray, bandwidth: float) -> np.ndarray:
    """Cycles the channel spends on each transfer: the least ``n`` with ``n * bandwidth >= words`` (0 words: 0, no transfer)."""
    w = np.asarray(words, dtype=np.float64)
    n = np.ceil(w / bandwidth)
    n = np.where((n - 1) * bandwidth >= w, n - 1, n)
    return np.where(n * bandwidth < w, n + 1, n).astype(np.int64)


TIMELINE_BLOCK_TILES = 4096
"""Tiles whose cycles :func:`_run_timeline` turns into Python lists at a time (bounds those lists to about 0.5 MB)."""


def _run_timeline(busy_cycles: np.ndarray, fetch_cycles: np.ndarray, writeback_cycles: np.ndarray) -> tuple[int, int, int, int]:
    """Run the tiles and the DRAM transfers of a schedule one by one on one clock.

    The array takes the tiles in order: tile ``t`` starts in the first cycle in which the array
    is free and its fetch has completed, and keeps the array for ``busy_cycles[t]`` cycles. The
    channel serves the transfers in the order they are issued, each from the first cycle in which
    it is issued and the channel is free, for its cycles: the fetches of tiles 0 and 1 in cycle 0;
    when tile ``t`` ends, its writeback, then the fetch of tile ``t + 2``. A transfer of 0
    cycles does not happen (a tile with nothing to fetch is ready when issued).

    Parameters
    ----------
    busy_cycles
        Cycles each tile keeps the array (its folds), in schedule order, each >= 1.
    fetch_cycles, writeback_cycles
        Cycles the channel spends on each tile's fetch and writeback (0: no transfer).

    Returns
    -------
    tuple[int, int, int, int]
        Cycles: total (until the array and the channel are both done), array idle before
        the first tile (head), between tiles (DRAM wait) and after the last one (tail).
    """
    last = busy_cycles.size
    array_free_cycle = channel_free_cycle = 0  # the first cycle in which the array (channel) is free
    ready_cycle = [0, 0]  # the cycle from which the operands of the next two tiles are in the SRAM
    for t in range(min(2, last)):
        if fetch_cycles[t]:
            channel_free_cycle += int(fetch_cycles[t])
            ready_cycle[t] = channel_free_cycle
    ready_now_cycle, ready_next_cycle = ready_cycle
    cycles_head = ready_now_cycle
    cycles_idle = 0
    ahead_cycles = np.concatenate([fetch_cycles[2:], np.zeros(min(2, last), dtype=np.int64)])  # tile t's: t + 2's fetch
    for low in range(0, last, TIMELINE_BLOCK_TILES):
        high = low + TIMELINE_BLOCK_TILES
        for busy, back, ahead in zip(busy_cycles[low:high].tolist(), writeback_cycles[low:high].tolist(),
                                     ahead_cycles[low:high].tolist()):
            if ready_now_cycle > array_free_cycle:
                cycles_idle += ready_now_cycle - array_free_cycle
                array_free_cycle = ready_now_cycle
            array_free_cycle += busy
            if back:
                channel_free_cycle = (channel_free_cycle if channel_free_cycle > array_free_cycle else array_free_cycle) + back
            if ahead:
                channel_free_cycle = (channel_free_cycle if channel_free_cycle > array_free_cycle else array_free_cycle) + ahead
                ready_now_cycle, ready_next_cycle = ready_next_cycle, channel_free_cycle
            else:
                ready_now_cycle, ready_next_cycle = ready_next_cycle, array_free_cycle
    cycles_total = max(channel_free_cycle, array_free_cycle)
    return cycles_total, cycles_head, cycles_idle - cycles_head, cycles_total - array_free_cycle


def run_cycle(schedule: TileTable, rows: int, cols: int, dataflow: str, sram_bw: float, dram_bw: float) -> PathResult:
    """Execute a schedule cycle by cycle (the reference :func:`energysim.engines.dense.fast.run_fast` is tested equal to).

    Each distinct tile shape's folds are stepped once (:func:`_tile_run`); every
    tile and every DRAM transfer of the schedule then runs in order on one clock
    (:func:`_run_timeline`).

    Parameters
    ----------
    schedule
        The SRAM tiles in execution order with their DRAM transfers, words (:func:`~energysim.engines.dense.schedule.tiles`).
    rows, cols
        PE array size, PEs.
    dataflow
        ``output_stationary`` or ``weight_stationary``.
    sram_bw, dram_bw
        SRAM-to-array and DRAM-to-SRAM bandwidth, words per cycle.

    Returns
    -------
    PathResult
        Counts by (level role, tensor, action) and the cycles split into compute, skew, SRAM stall,
        head, tail and DRAM wait.
    """
    result = PathResult()
    shapes, shape_of = _tile_shapes(schedule)
    seen: dict[Fold, _FoldRun] = {}
    runs = [_tile_run(tile, rows, cols, dataflow, sram_bw, seen) for tile in shapes]
    busy = np.array([run.cycles for run in runs], dtype=np.int64)[shape_of]
    fetch = _transfer_cycles(schedule.fetch_weights + schedule.fetch_inputs, dram_bw)
    total, head, wait, tail = _run_timeline(busy, fetch, _transfer_cycles(schedule.writeback, dram_bw))
    result.cycles_total, result.cycles_head, result.cycles_dram_wait, result.cycles_tail = total, head, wait, tail
    _add_tiles(result, runs, np.bincount(shape_of, minlength=len(runs)))
    for tensor, column in (("weights", schedule.fetch_weights), ("inputs", schedule.fetch_inputs)):
        words = int(column.sum())
        result.counts[("dram", tensor, "read")] += words
        result.counts[("sram", tensor, "fill")] += words
    words = int(schedule.writeback.sum())
    result.counts[("sram", "outputs", "read")] += words
    result.counts[("dram", "outputs", "write")] += words
    return result
