"""Fast path of the dense engine: closed-form counts, vectorised stall sums.

Folds of equal shape cost the same, so each distinct fold is priced once with
numpy over its skewed steps and multiplied by its multiplicity; the DRAM
double-buffering timeline is a recurrence over SRAM tiles.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

import numpy as np

from energysim.engines.dense_schedule import OUTPUT_STATIONARY, Fold, Tile, cycles_to_move, folds, skew_cycles


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


def _active(t: np.ndarray, used: int, steps: int) -> np.ndarray:
    """How many of ``used`` skewed lanes are active at each step ``t`` (lane i: i <= t < i+steps)."""
    return np.clip(np.minimum(t, used - 1) - np.maximum(0, t - steps + 1) + 1, 0, None)


def fold_cycles(fold: Fold, rows: int, cols: int, dataflow: str, sram_bw: float) -> int:
    """Cycles of one fold: each skewed step takes max(1, ceil(edge demand / SRAM bandwidth))."""
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


def run_fast(schedule: list[Tile], rows: int, cols: int, dataflow: str, sram_bw: float, dram_bw: float) -> PathResult:
    """Execute a schedule in closed form.

    Parameters
    ----------
    schedule
        SRAM tiles in order (:func:`energysim.engines.dense_schedule.tiles`).
    rows, cols
        PE array size.
    dataflow
        ``output_stationary`` or ``weight_stationary``.
    sram_bw, dram_bw
        SRAM-to-array and DRAM-to-SRAM bandwidth, words per cycle.
    """
    result = PathResult()
    per_tile: dict[tuple, tuple[int, dict]] = {}
    skew = skew_cycles(rows, cols, dataflow)
    tile_cycles = []
    for tile in schedule:
        key = (tile.m, tile.n, tile.k, tile.k_index == 0)
        if key not in per_tile:
            counts: dict = defaultdict(int)
            cycles = macs = steps = stall = n_folds = 0
            for fold, times in Counter(folds(tile, rows, cols, dataflow)).items():
                fc = fold_cycles(fold, rows, cols, dataflow, sram_bw)
                cycles += fc * times
                steps += fold.steps * times
                stall += (fc - fold.steps - skew) * times
                n_folds += times
                one: dict = defaultdict(int)
                macs += _fold_counts(fold, dataflow, one) * times
                for k, v in one.items():
                    counts[k] += v * times
            per_tile[key] = (cycles, {"counts": counts, "macs": macs, "steps": steps, "stall": stall, "folds": n_folds})
        cycles, info = per_tile[key]
        tile_cycles.append(cycles)
        for k, v in info["counts"].items():
            result.counts[k] += v
        result.macs += info["macs"]
        result.cycles_compute += info["steps"]
        result.cycles_skew += info["folds"] * skew
        result.cycles_sram_stall += info["stall"]
        for tensor, words in (("weights", tile.fetch_weights), ("inputs", tile.fetch_inputs)):
            result.counts[("dram", tensor, "read")] += words
            result.counts[("sram", tensor, "fill")] += words
        result.counts[("dram", "outputs", "write")] += tile.writeback
        result.counts[("sram", "outputs", "read")] += tile.writeback
    _timeline(schedule, tile_cycles, dram_bw, result)
    return result


def _timeline(schedule: list[Tile], tile_cycles: list[int], dram_bw: float, result: PathResult) -> None:
    """Double-buffered DRAM timeline: fetch(t+2) and writeback(t) issue when compute(t) ends."""
    channel_free = 0

    def transfer(issue: int, words: int) -> int:
        nonlocal channel_free
        if words == 0:
            return issue
        start = max(issue, channel_free)
        channel_free = start + cycles_to_move(words, dram_bw)
        return channel_free

    count = len(schedule)
    fetch_end = [0] * count
    for t in range(min(2, count)):
        fetch_end[t] = transfer(0, schedule[t].fetch_weights + schedule[t].fetch_inputs)
    compute_end = 0
    last_end = 0
    first_start = None
    busy = 0
    for t in range(count):
        start = max(compute_end, fetch_end[t])
        if first_start is None:
            first_start = start
        compute_end = start + tile_cycles[t]
        busy += tile_cycles[t]
        last_end = max(last_end, transfer(compute_end, schedule[t].writeback))
        if t + 2 < count:
            fetch_end[t + 2] = transfer(compute_end, schedule[t + 2].fetch_weights + schedule[t + 2].fetch_inputs)
    total = max(compute_end, last_end)
    result.cycles_head = first_start or 0
    result.cycles_tail = total - compute_end
    result.cycles_dram_wait = compute_end - result.cycles_head - busy
    result.cycles_total = total
