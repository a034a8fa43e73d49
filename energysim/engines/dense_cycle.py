"""Cycle-level reference path of the dense engine.

Steps the schedule one clock cycle at a time: the DRAM channel moves
``bandwidth`` words per cycle of the transfer at the head of its queue; the PE
array advances one skewed step when the SRAM has delivered the words the array
edge needs for that step; each PE checks on its own whether it holds a valid
operand pair at that step. Slow (Python per cycle) and meant for small layers
and as the reference the fast path is tested against.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from energysim.engines.dense_fast import PathResult
from energysim.engines.dense_schedule import OUTPUT_STATIONARY, Tile, folds


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


class _ArrayRun:
    """The PE array working through the folds of one SRAM tile, one cycle per call."""

    def __init__(self, tile: Tile, rows: int, cols: int, dataflow: str, sram_bw: float, result: PathResult):
        self.folds = folds(tile, rows, cols, dataflow)
        self.rows, self.cols, self.dataflow, self.bw, self.result = rows, cols, dataflow, sram_bw, result
        self.row_index, self.col_index = np.indices((rows, cols))
        self.fold_pos = -1
        self._next_fold()

    def _next_fold(self) -> None:
        self.fold_pos += 1
        if self.fold_pos < len(self.folds):
            self.fold = self.folds[self.fold_pos]
            self.preload_row = 0 if self.dataflow != OUTPUT_STATIONARY else self.rows
            self.step = 0
            self.delivered = 0.0
            self.cycles_in_step = 0

    def _demand(self) -> tuple[int, int]:
        """Words the array edge needs for the current step: (weights, inputs)."""
        f = self.fold
        if self.preload_row < self.rows:
            return (f.cols_used if self.preload_row < f.rows_used else 0), 0
        t = self.step
        rows_wanting = sum(1 for i in range(f.rows_used) if 0 <= t - i < f.steps)
        if self.dataflow == OUTPUT_STATIONARY:
            cols_wanting = sum(1 for j in range(f.cols_used) if 0 <= t - j < f.steps)
            return rows_wanting, cols_wanting
        return 0, rows_wanting

    def tick(self) -> bool:
        """Advance one cycle; return True when the tile's last fold completed in this cycle."""
        f, res = self.fold, self.result
        weights, inputs = self._demand()
        preloading = self.preload_row < self.rows
        if self.cycles_in_step == 0:
            if not preloading and self.step < f.steps:
                res.cycles_compute += 1
            else:
                res.cycles_skew += 1
        else:
            res.cycles_sram_stall += 1
        self.cycles_in_step += 1
        self.delivered += self.bw
        if self.delivered < weights + inputs:
            return False
        res.counts[("sram", "weights", "read")] += weights
        res.counts[("sram", "inputs", "read")] += inputs
        self.delivered = 0.0
        self.cycles_in_step = 0
        if preloading:
            self.preload_row += 1
            return False
        self._fire()
        self.step += 1
        if self.step < f.steps + self.rows + self.cols - 2:
            return False
        self._finish_fold()
        self._next_fold()
        return self.fold_pos >= len(self.folds)

    def _fire(self) -> None:
        f, res = self.fold, self.result
        lag = self.step - self.row_index - self.col_index
        active = (self.row_index < f.rows_used) & (self.col_index < f.cols_used) & (lag >= 0) & (lag < f.steps)
        macs = int(active.sum())
        res.macs += macs
        res.counts[("rf", "weights", "read")] += macs
        res.counts[("rf", "inputs", "fill")] += macs
        res.counts[("rf", "inputs", "read")] += macs
        res.counts[("rf", "outputs", "update")] += macs
        if self.dataflow == OUTPUT_STATIONARY:
            res.counts[("rf", "weights", "fill")] += macs
            res.counts[("rf", "outputs", "read")] += macs
        else:
            res.counts[("rf", "outputs", "fill")] += macs

    def _finish_fold(self) -> None:
        f, res = self.fold, self.result
        if self.dataflow == OUTPUT_STATIONARY:
            outputs = f.rows_used * f.cols_used
            res.counts[("rf", "outputs", "read")] += outputs
            if not f.first:
                res.counts[("rf", "outputs", "fill")] += outputs
        else:
            outputs = f.cols_used * f.steps
            res.counts[("rf", "weights", "fill")] += f.rows_used * f.cols_used
        if f.first:
            res.counts[("sram", "outputs", "write")] += outputs
        else:
            res.counts[("sram", "outputs", "read")] += outputs
            res.counts[("sram", "outputs", "update")] += outputs


def run_cycle(schedule: list[Tile], rows: int, cols: int, dataflow: str, sram_bw: float, dram_bw: float) -> PathResult:
    """Execute a schedule cycle by cycle (same arguments as :func:`energysim.engines.dense_fast.run_fast`)."""
    result = PathResult()
    queue: deque[_Transfer] = deque()
    fetch_done: dict[int, int] = {}

    def issue_fetch(t: int, when: int) -> None:
        tile = schedule[t]
        if tile.fetch_weights + tile.fetch_inputs == 0:
            fetch_done[t] = when
        else:
            queue.append(_Transfer(when, t, True, tile.fetch_weights, tile.fetch_inputs, 0))

    for t in range(min(2, len(schedule))):
        issue_fetch(t, 0)
    current: _Transfer | None = None
    moved_cycles = 0
    array: _ArrayRun | None = None
    next_tile = 0
    previous_end = 0
    cycle = 0
    while next_tile < len(schedule) or queue or current is not None:
        if array is None and next_tile < len(schedule) and fetch_done.get(next_tile, cycle + 1) <= cycle and previous_end <= cycle:
            array = _ArrayRun(schedule[next_tile], rows, cols, dataflow, sram_bw, result)
        if current is None and queue and queue[0].issue <= cycle:
            current = queue.popleft()
            moved_cycles = 0
        if current is not None:
            moved_cycles += 1
            if moved_cycles * dram_bw >= current.words:
                if current.fetch:
                    fetch_done[current.tile] = cycle + 1
                    for tensor, words in (("weights", current.weights), ("inputs", current.inputs)):
                        result.counts[("dram", tensor, "read")] += words
                        result.counts[("sram", tensor, "fill")] += words
                else:
                    result.counts[("sram", "outputs", "read")] += current.outputs
                    result.counts[("dram", "outputs", "write")] += current.outputs
                current = None
        if array is not None:
            if array.tick():
                previous_end = cycle + 1
                if schedule[next_tile].writeback:
                    queue.append(_Transfer(cycle + 1, next_tile, False, 0, 0, schedule[next_tile].writeback))
                if next_tile + 2 < len(schedule):
                    issue_fetch(next_tile + 2, cycle + 1)
                next_tile += 1
                array = None
        elif next_tile == 0:
            result.cycles_head += 1
        elif next_tile < len(schedule):
            result.cycles_dram_wait += 1
        else:
            result.cycles_tail += 1
        cycle += 1
    result.cycles_total = cycle
    return result
