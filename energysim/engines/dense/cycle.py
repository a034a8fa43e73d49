"""Cycle-level reference path of the dense engine.

Follows the schedule cycle by cycle, independently of the closed forms of the
fast path: the DRAM channel moves ``bandwidth`` words per cycle of the transfer
at the head of its queue; the PE array advances one skewed step when the SRAM
has delivered (one ``bandwidth`` per cycle, accumulated) the words the array
edge needs for that step; each PE checks on its own whether it holds a valid
operand pair at that step.

Within a fold every skewed step is evaluated at once with numpy (edge demand
per step from a lane-by-step mask, cycles per step by accumulating the SRAM
bandwidth, MACs per step from the PEs' lags); tiles of one shape run the same
folds, so each distinct shape's folds are stepped once. Every tile and every
DRAM transfer of the schedule then runs one by one in an event loop on one
clock. Between events (a tile finishing, a transfer starting or completing, a
tile becoming ready) nothing changes, so the clock jumps to the next event and
the idle cycles in between are counted in bulk: the cycle counts are those of
stepping every cycle. Meant for small and medium layers and as the reference
the fast path is tested against.
"""

from __future__ import annotations

from collections import Counter, deque
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


def _lanes_active(steps_total: int, lanes: int, steps: int) -> np.ndarray:
    """Per skewed step, how many of ``lanes`` lanes (lane i runs steps i .. i+steps-1) want an operand."""
    lag = np.arange(steps_total)[:, None] - np.arange(lanes)[None, :]
    return ((lag >= 0) & (lag < steps)).sum(axis=1)


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
    rows_wanting = _lanes_active(span, fold.rows_used, fold.steps)
    if dataflow == OUTPUT_STATIONARY:
        weights, inputs = rows_wanting, _lanes_active(span, fold.cols_used, fold.steps)
        preload = np.zeros(0, dtype=np.int64)
    else:
        weights, inputs = np.zeros(span, dtype=np.int64), rows_wanting
        preload = np.where(np.arange(rows) < fold.rows_used, fold.cols_used, 0)
    demand = weights + inputs
    levels, which = np.unique(np.concatenate([demand, preload]), return_inverse=True)
    per_level = np.array([_cycles_to_deliver(int(d), sram_bw) for d in levels], dtype=np.int64)
    step_cycles, preload_cycles = per_level[which[:demand.size]], per_level[which[demand.size:]]
    compute = min(span, fold.steps)
    skew = span - compute + preload.size
    cycles = int(step_cycles.sum() + preload_cycles.sum())
    add(("sram", "weights", "read"), weights.sum() + preload.sum())
    add(("sram", "inputs", "read"), inputs.sum())
    # PE (i, j) fires at step t when 0 <= t - i - j < steps: count PEs per lag i + j, slide the step window.
    per_lag = np.bincount((np.arange(fold.rows_used)[:, None] + np.arange(fold.cols_used)[None, :]).ravel())
    macs = int(np.convolve(per_lag, np.ones(fold.steps, dtype=np.int64))[:span].sum())
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
    """The distinct tile shapes (sizes and first-partial-sum flag) of a schedule and each tile's shape number."""
    shape = np.zeros(len(schedule), dtype=np.int64)
    for column in (schedule.m, schedule.n, schedule.k, schedule.k_index == 0):
        values, index = np.unique(column, return_inverse=True)
        _, shape = np.unique(shape * values.size + index.ravel(), return_inverse=True)
        shape = shape.ravel()
    first_of = np.zeros(int(shape.max()) + 1 if shape.size else 0, dtype=np.int64)
    first_of[shape[::-1]] = np.arange(shape.size - 1, -1, -1)  # the first tile of each shape
    return [schedule.tile(int(t)) for t in first_of], shape


def _transfer_cycles(words: np.ndarray, bandwidth: float) -> np.ndarray:
    """Cycles the channel spends on each transfer: the least ``n`` with ``n * bandwidth >= words`` (0 words: 0, no transfer)."""
    w = np.asarray(words, dtype=np.float64)
    n = np.ceil(w / bandwidth)
    n = np.where((n - 1) * bandwidth >= w, n - 1, n)
    return np.where(n * bandwidth < w, n + 1, n).astype(np.int64)


def _shared_list(values: np.ndarray) -> list[int]:
    """``values`` as a list of Python ints, equal values sharing one object (a handful of distinct values: 8 bytes each)."""
    distinct, index = np.unique(values, return_inverse=True)
    table = distinct.tolist()
    return [table[i] for i in index.ravel().tolist()]


def run_cycle(schedule: TileTable, rows: int, cols: int, dataflow: str, sram_bw: float, dram_bw: float) -> PathResult:
    """Execute a schedule cycle by cycle (the reference :func:`energysim.engines.dense.fast.run_fast` is tested equal to).

    Each distinct tile shape's folds are stepped once (:func:`_tile_run`); the
    event loop then runs every tile and every transfer of the schedule in
    order on one clock, jumping from event to event.

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
    last = len(schedule)
    shapes, shape_of = _tile_shapes(schedule)
    seen: dict[Fold, _FoldRun] = {}
    runs = [_tile_run(tile, rows, cols, dataflow, sram_bw, seen) for tile in shapes]
    busy = _shared_list(np.array([run.cycles for run in runs], dtype=np.int64)[shape_of])
    fetch = _shared_list(_transfer_cycles(schedule.fetch_weights + schedule.fetch_inputs, dram_bw))
    writeback = _shared_list(_transfer_cycles(schedule.writeback, dram_bw))
    never = 1 << 62  # a time that has not happened yet
    fetch_done: dict[int, int] = {}  # tiles fetched but not started: the cycle from which their operands are in the SRAM
    queue: deque[tuple[int, int, int]] = deque()  # transfers waiting for the channel: (issue cycle, tile, cycles); a writeback's tile is ~t
    fetched, written = bytearray(last), bytearray(last)  # 1 where the tile's fetch (writeback) has completed
    for t in range(min(2, last)):
        if fetch[t]:
            queue.append((0, t, fetch[t]))
        else:
            fetch_done[t] = 0
    moving = False  # the channel is busy with a transfer of tile ``moving_tile`` until cycle ``moving_done``
    moving_tile = moving_done = 0
    array_done = -1  # the cycle in which the array finishes the running tile (-1: no tile running)
    next_tile = cycle = 0
    head = wait = tail = 0
    while next_tile < last or queue or moving:
        # Cycle ``cycle``: start what can start, complete what completes; then start in cycle + 1 what can
        # (exactly what the next cycle would do first: nothing else happens in between).
        if array_done < 0 and fetch_done.get(next_tile, never) <= cycle:
            array_done = cycle + busy[next_tile] - 1
            del fetch_done[next_tile]
        occupied = array_done >= 0
        if not moving and queue and queue[0][0] <= cycle:
            _, moving_tile, cycles = queue.popleft()
            moving, moving_done = True, cycle + cycles - 1
        if moving and moving_done == cycle:
            if moving_tile >= 0:
                fetch_done[moving_tile] = cycle + 1
                fetched[moving_tile] = 1
            else:
                written[~moving_tile] = 1
            moving = False
        if array_done == cycle:
            if writeback[next_tile]:
                queue.append((cycle + 1, ~next_tile, writeback[next_tile]))
            ahead = next_tile + 2
            if ahead < last:
                if fetch[ahead]:
                    queue.append((cycle + 1, ahead, fetch[ahead]))
                else:
                    fetch_done[ahead] = cycle + 1
            next_tile += 1
            array_done = -1
        if array_done < 0 and fetch_done.get(next_tile, never) <= cycle + 1:
            array_done = cycle + busy[next_tile]
            del fetch_done[next_tile]
        if not moving and queue and queue[0][0] <= cycle + 1:
            _, moving_tile, cycles = queue.popleft()
            moving, moving_done = True, cycle + cycles
        # Jump to the next cycle in which something can change; the cycles skipped repeat this one's idling.
        following = array_done if array_done >= 0 else never
        if moving:
            if moving_done < following:
                following = moving_done
        elif queue and queue[0][0] < following:
            following = queue[0][0]
        if array_done < 0 and fetch_done.get(next_tile, never) < following:
            following = fetch_done[next_tile]
        if following == never:
            following = cycle + 1
        idle_cycles = (0 if occupied else 1) + (0 if array_done >= 0 else following - cycle - 1)
        if idle_cycles:
            if next_tile == 0:
                head += idle_cycles
            elif next_tile < last:
                wait += idle_cycles
            else:
                tail += idle_cycles
        cycle = following
    result.cycles_total, result.cycles_head, result.cycles_dram_wait, result.cycles_tail = cycle, head, wait, tail
    _add_tiles(result, runs, np.bincount(shape_of[:next_tile], minlength=len(runs)))
    for tensor, column in (("weights", schedule.fetch_weights), ("inputs", schedule.fetch_inputs)):
        words = int(column[np.frombuffer(fetched, dtype=np.uint8) == 1].sum())
        result.counts[("dram", tensor, "read")] += words
        result.counts[("sram", tensor, "fill")] += words
    words = int(schedule.writeback[np.frombuffer(written, dtype=np.uint8) == 1].sum())
    result.counts[("sram", "outputs", "read")] += words
    result.counts[("dram", "outputs", "write")] += words
    return result
