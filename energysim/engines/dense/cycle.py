"""Cycle-level reference path of the dense engine.

Follows the schedule cycle by cycle, independently of the closed forms of the
fast path: the DRAM channel moves ``bandwidth`` words per cycle of the transfer
at the head of its queue; the PE array advances one skewed step when the SRAM
has delivered (one ``bandwidth`` per cycle, accumulated) the words the array
edge needs for that step; each PE checks on its own whether it holds a valid
operand pair at that step.

Within a fold every skewed step is evaluated at once with numpy (edge demand
per step from a lane-by-step mask, cycles per step by accumulating the SRAM
bandwidth, MACs per step from the PEs' lags). Between events (a fold sequence
ending, a transfer starting or completing, a tile becoming ready) nothing
changes, so the clock jumps to the next event and the idle cycles in between
are counted in bulk: the cycle counts are those of stepping every cycle.
Meant for small and medium layers and as the reference the fast path is
tested against.
"""

from __future__ import annotations

import math
from collections import Counter, deque
from dataclasses import dataclass

import numpy as np

from energysim.engines.dense.fast import PathResult
from energysim.engines.dense.schedule import OUTPUT_STATIONARY, Fold, Tile, folds


@dataclass
class _Transfer:
    issue: int
    tile: int
    fetch: bool
    weights: int
    inputs: int
    outputs: int

    @property
    def words(self) -> int:
        return self.weights + self.inputs + self.outputs


def _cycles_to_deliver(words: int, bandwidth: float) -> int:
    """Cycles until ``bandwidth`` added once per cycle (from 0.0) reaches ``words``; at least one."""
    delivered, cycles = bandwidth, 1
    while delivered < words:
        delivered += bandwidth
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
    shapes = Counter((fold.rows_used, fold.cols_used, fold.steps, fold.first) for fold in folds(tile, rows, cols, dataflow))
    for shape, times in shapes.items():
        fold = Fold(*shape)
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


def _add_tiles(result: PathResult, runs: dict[tuple[int, int, int, bool], _FoldRun], ran: Counter) -> None:
    """Add to ``result`` each tile shape's folds times how many tiles of that shape ran."""
    for key, times in ran.items():
        run = runs[key]
        result.cycles_compute += run.compute * times
        result.cycles_skew += run.skew * times
        result.cycles_sram_stall += run.stall * times
        result.macs += run.macs * times
        for name, value in run.counts:
            result.counts[name] += value * times


def _transfer_cycles(words: int, bandwidth: float) -> int:
    """Cycles the channel spends on a transfer: the first ``n`` with ``n * bandwidth >= words``."""
    n = max(1, math.ceil(words / bandwidth))
    while n > 1 and (n - 1) * bandwidth >= words:
        n -= 1
    while n * bandwidth < words:
        n += 1
    return n


def run_cycle(schedule: list[Tile], rows: int, cols: int, dataflow: str, sram_bw: float, dram_bw: float) -> PathResult:
    """Execute a schedule cycle by cycle (same arguments as :func:`energysim.engines.dense.fast.run_fast`)."""
    result = PathResult()
    queue: deque[_Transfer] = deque()
    fetch_done: dict[int, int] = {}
    seen: dict[Fold, _FoldRun] = {}
    seen_tiles: dict[tuple[int, int, int, bool], _FoldRun] = {}  # a tile of the same sizes and first flag runs the same folds
    ran: Counter = Counter()
    moved = {"weights": 0, "inputs": 0, "outputs": 0}
    last = len(schedule)

    def issue_fetch(t: int, when: int) -> None:
        tile = schedule[t]
        if tile.fetch_weights + tile.fetch_inputs == 0:
            fetch_done[t] = when
        else:
            queue.append(_Transfer(when, t, True, tile.fetch_weights, tile.fetch_inputs, 0))

    for t in range(min(2, len(schedule))):
        issue_fetch(t, 0)
    current: _Transfer | None = None
    current_done = 0  # the cycle in which the current transfer moves its last words
    array_done: int | None = None  # the cycle in which the array finishes the running tile
    next_tile = 0
    previous_end = 0
    cycle = 0
    while next_tile < last or queue or current is not None:
        if array_done is None and next_tile < last and fetch_done.get(next_tile, cycle + 1) <= cycle \
                and previous_end <= cycle:
            tile = schedule[next_tile]
            key = (tile.m, tile.n, tile.k, tile.k_index == 0)
            if key not in seen_tiles:
                seen_tiles[key] = _tile_run(tile, rows, cols, dataflow, sram_bw, seen)
            ran[key] += 1
            array_done = cycle + seen_tiles[key].cycles - 1
        if current is None and queue and queue[0].issue <= cycle:
            current = queue.popleft()
            current_done = cycle + _transfer_cycles(current.words, dram_bw) - 1
        if current is not None and current_done == cycle:
            if current.fetch:
                fetch_done[current.tile] = cycle + 1
            moved["weights"] += current.weights
            moved["inputs"] += current.inputs
            moved["outputs"] += current.outputs
            current = None
        if array_done == cycle:
            previous_end = cycle + 1
            if schedule[next_tile].writeback:
                queue.append(_Transfer(cycle + 1, next_tile, False, 0, 0, schedule[next_tile].writeback))
            if next_tile + 2 < last:
                issue_fetch(next_tile + 2, cycle + 1)
            next_tile += 1
            array_done = None
            idle = 0
        else:
            idle = 1 if array_done is None else 0
        # Jump to the next cycle in which something can change; the cycles skipped repeat this one's idling.
        events = [array_done] if array_done is not None else []
        if current is not None:
            events.append(current_done)
        elif queue:
            events.append(max(cycle + 1, queue[0].issue))
        if array_done is None and next_tile < last and next_tile in fetch_done:
            events.append(max(cycle + 1, fetch_done[next_tile], previous_end))
        following = max(cycle + 1, min(events)) if events else cycle + 1
        idle_cycles = idle + (following - cycle - 1 if array_done is None else 0)
        if next_tile == 0:
            result.cycles_head += idle_cycles
        elif next_tile < last:
            result.cycles_dram_wait += idle_cycles
        else:
            result.cycles_tail += idle_cycles
        cycle = following
    result.cycles_total = cycle
    _add_tiles(result, seen_tiles, ran)
    for tensor in ("weights", "inputs"):
        result.counts[("dram", tensor, "read")] += moved[tensor]
        result.counts[("sram", tensor, "fill")] += moved[tensor]
    result.counts[("sram", "outputs", "read")] += moved["outputs"]
    result.counts[("dram", "outputs", "write")] += moved["outputs"]
    return result
