"""The cycle-level path on its own: its timeline by hand, its tile table against the residency rule, and forced tilings against the fast path."""

from __future__ import annotations

import random
import tracemalloc

import numpy as np

from energysim.engines.dense.cycle import TIMELINE_BLOCK_TILES, run_cycle
from energysim.engines.dense.fast import run_fast
from energysim.engines.dense.schedule import Fold, Tile, TileTable, Tiling, chunks, folds, input_tile_words, tiles
from energysim.workloads.layers import Conv2dLayer
from energysim.workloads.lowering import ConvFootprint


def _random_case(rng: random.Random) -> tuple:
    """A GEMM or small conv with a random forced tiling, array, dataflow and bandwidths."""
    if rng.random() < 0.5:
        m, n, k, footprint = rng.randint(1, 80), rng.randint(1, 80), rng.randint(1, 80), None
    else:
        layer = Conv2dLayer(name="c", in_channels=rng.randint(1, 6), out_channels=rng.randint(1, 20),
                            in_height=rng.randint(3, 9), in_width=rng.randint(3, 9), kernel_height=3,
                            kernel_width=rng.choice([1, 3]), stride=rng.choice([1, 2]), padding=1,
                            batch=rng.randint(1, 3))
        shape = layer.gemm_shape()
        m, n, k, footprint = shape.m, shape.n, shape.k, ConvFootprint.of(layer)
    tiling = Tiling(rng.randint(1, m), rng.randint(1, n), rng.randint(1, k))
    rows, cols = rng.choice([(1, 1), (2, 2), (3, 5), (4, 4), (8, 8)])
    dataflow = rng.choice(["output_stationary", "weight_stationary"])
    return (m, n, k, tiling, footprint, rows, cols, dataflow, rng.choice([0.3, 0.5, 1, 1.3, 2, 3, 8, 64]),
            rng.choice([0.1, 0.25, 0.3, 0.5, 1, 4, 12.8, 16, 64, 1000]))


def test_event_loop_by_hand():
    """Three one-cycle tiles on a 1x1 array, fetches of 4, 0 and 8 words and one-word writebacks at 2 words/cycle take 10 cycles.

    Cycles 0-1 fetch tile 0 (head 2); tile 0 runs in 2, tile 1 (nothing to fetch) in 3; the channel
    writes back tile 0 in 3 and fetches tile 2 in 4-7 (the array waits 4 cycles); tile 2 runs in 8
    while tile 1's writeback, queued behind the fetch, moves; tile 2's writeback is cycle 9 (tail 1).
    """
    ones = np.ones(3, dtype=np.int64)
    table = TileTable(m=ones, n=ones, k=ones, k_index=0 * ones, fetch_weights=np.array([2, 0, 4]),
                      fetch_inputs=np.array([2, 0, 4]), writeback=ones)
    result = run_cycle(table, 1, 1, "output_stationary", 2.0, 2.0)
    assert (result.cycles_total, result.cycles_head, result.cycles_dram_wait, result.cycles_tail) == (10, 2, 4, 1)
    assert (result.cycles_compute, result.cycles_skew, result.cycles_sram_stall, result.macs) == (3, 0, 0, 3)
    assert result.counts[("dram", "weights", "read")] == result.counts[("dram", "inputs", "read")] == 6
    assert result.counts[("dram", "outputs", "write")] == 3


def test_tile_table_follows_the_residency_rule():
    """Every tile of the table fetches an operand exactly when it differs from the previous tile's (a loop over tiles, random grid)."""
    rng = random.Random(5)
    for _ in range(60):
        m, n, k, tiling, footprint = _random_case(rng)[:5]
        table = tiles(m, n, k, tiling, footprint)
        words = input_tile_words(k, n, tiling, footprint)
        expected = []
        resident_a = resident_b = None
        sizes_k = chunks(k, tiling.k)
        for im, tm in enumerate(chunks(m, tiling.m)):
            for jn, tn in enumerate(chunks(n, tiling.n)):
                for kk, tk in enumerate(sizes_k):
                    expected.append((tm, tn, tk, kk, 0 if resident_a == (im, kk) else tm * tk,
                                     0 if resident_b == (kk, jn) else int(words[kk, jn]),
                                     tm * tn if kk == len(sizes_k) - 1 else 0))
                    resident_a, resident_b = (im, kk), (kk, jn)
        assert [tuple(vars(table.tile(i)).values()) for i in range(len(table))] == expected


def test_forced_tilings_equal_the_fast_path():
    """On 300 random forced tilings (GEMM and conv, both dataflows, DRAM- and SRAM-bound, bandwidths like 0.3 that
    binary floats cannot hold) the cycle path equals the fast path."""
    rng = random.Random(11)
    waited = 0
    for _ in range(300):
        m, n, k, tiling, footprint, rows, cols, dataflow, sram_bw, dram_bw = _random_case(rng)
        cycle = run_cycle(tiles(m, n, k, tiling, footprint), rows, cols, dataflow, sram_bw, dram_bw)
        fast = run_fast(m, n, k, tiling, footprint, rows, cols, dataflow, sram_bw, dram_bw)
        assert {key: value for key, value in vars(cycle).items() if key != "counts"} == \
            {key: value for key, value in vars(fast).items() if key != "counts"}
        assert {key: value for key, value in cycle.counts.items() if value} == \
            {key: value for key, value in fast.counts.items() if value}
        waited += cycle.cycles_dram_wait > 0
    assert waited >= 50  # the grid really exercises waits for DRAM


def test_fold_runs_expand_to_the_fold_order():
    """A tile's fold runs, expanded, are its folds in execution order (outer loop over array rows' chunks, inner over columns')."""
    rng = random.Random(2)
    for _ in range(200):
        tile = Tile(rng.randint(1, 70), rng.randint(1, 70), rng.randint(1, 70), rng.choice([0, 1]), 0, 0, 0)
        rows, cols = rng.randint(1, 9), rng.randint(1, 9)
        first = tile.k_index == 0
        os_order = [Fold(r, c, tile.k, first) for r in chunks(tile.m, rows) for c in chunks(tile.n, cols)]
        ws_order = [Fold(r, c, tile.n, first and i == 0) for i, r in enumerate(chunks(tile.k, rows)) for c in chunks(tile.m, cols)]
        for dataflow, order in (("output_stationary", os_order), ("weight_stationary", ws_order)):
            assert [fold for fold, times in folds(tile, rows, cols, dataflow) for _ in range(times)] == order


def test_timeline_across_list_blocks_equals_the_fast_path():
    """Schedules of more tiles than the timeline turns into lists at a time (waiting for DRAM and not) equal the fast path."""
    m = n = 2 * 8
    k = 4 * TIMELINE_BLOCK_TILES // 64 + 3  # (m / 2) (n / 2) = 64 tiles per k tile: 4 blocks and a partial one
    waited = 0
    for dataflow, dram_bw in (("output_stationary", 0.5), ("weight_stationary", 64)):
        tiling = Tiling(2, 2, 1)
        schedule = tiles(m, n, k, tiling)
        assert len(schedule) > 4 * TIMELINE_BLOCK_TILES
        cycle = run_cycle(schedule, 2, 2, dataflow, 2, dram_bw)
        fast = run_fast(m, n, k, tiling, None, 2, 2, dataflow, 2, dram_bw)
        assert vars(cycle) == vars(fast)
        waited += cycle.cycles_dram_wait > 0
    assert waited == 1


def test_fold_memory_grows_with_steps_not_pes():
    """A 4096x4096 array's fold (16.7 M PEs, 9,214 skewed steps) is stepped within 5 MB of Python allocations, all MACs counted."""
    schedule = tiles(4096, 4096, 1024, Tiling(4096, 4096, 1024))
    tracemalloc.start()
    try:
        result = run_cycle(schedule, 4096, 4096, "output_stationary", 8192, 64)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.macs == 4096 * 4096 * 1024
    assert peak < 5 * 2 ** 20
