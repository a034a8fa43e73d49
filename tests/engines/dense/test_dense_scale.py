"""Dense engine at scale: the fast path's skipped repeats match the cycle path, and memory does not grow with the GEMM."""

from __future__ import annotations

import tracemalloc

import pytest

from energysim.engines.dense import fast as dense_fast
from energysim.engines.dense.schedule import input_tile_words, input_words_once, Tiling
from energysim.api import workload
from energysim.engines import build_engine
from energysim.errors import UnsupportedError
from energysim.workloads.lowering import ConvFootprint
from energysim.workloads.layers import Conv2dLayer, GemmLayer
from tests.conftest import make_dense_hw

CASES = [
    ("output_stationary", GemmLayer(name="g", m=30, n=40, k=24), 512, 2, 0.5),
    ("weight_stationary", GemmLayer(name="g", m=30, n=40, k=24), 512, 2, 0.5),
    ("output_stationary", GemmLayer(name="g", m=30, n=40, k=24), 512, 8, 16),
    ("output_stationary", Conv2dLayer(name="c", in_channels=2, out_channels=6, in_height=6, in_width=5,
                                      kernel_height=3, kernel_width=3, padding=1, batch=6), 512, 2, 1),
    ("weight_stationary", Conv2dLayer(name="c", in_channels=2, out_channels=6, in_height=6, in_width=5,
                                      kernel_height=3, kernel_width=3, padding=1, batch=12), 512, 1, 4),
]


@pytest.mark.parametrize("dataflow,layer,sram_bytes,sram_bw,dram_bw", CASES)
def test_skipped_repeats_equal_cycle_path(monkeypatch, dataflow, layer, sram_bytes, sram_bw, dram_bw):
    """With many tiles (rows of m tiles, blocks of n tiles, images of a batch) the fast path steps only some and still equals the cycle path."""
    hw = make_dense_hw(2, 3, dataflow, sram_bytes=sram_bytes, sram_bw=sram_bw, dram_bw=dram_bw)
    engine = build_engine(hw)
    stepped = []
    step = dense_fast._Timeline.step

    def counting(self, tiles):
        stepped.append(len(tiles))
        step(self, tiles)

    monkeypatch.setattr(dense_fast._Timeline, "step", counting)
    fast = engine.simulate(layer, path="fast")
    cycle = engine.simulate(layer, path="cycle")
    assert fast.counts == cycle.counts
    assert fast.cycles == cycle.cycles
    assert fast.stats == cycle.stats
    assert sum(stepped) < fast.stats["tiles"]  # repeats were really skipped


def test_conv_input_words_once_equal_the_tile_grid_sum():
    """The per-class input-word total of a batched conv equals the sum over its whole tile grid."""
    layer = Conv2dLayer(name="c", in_channels=5, out_channels=4, in_height=9, in_width=7, kernel_height=3,
                        kernel_width=2, stride=2, padding=1, batch=5)
    footprint = ConvFootprint.of(layer)
    shape = layer.gemm_shape()
    for tk, tn in [(1, 1), (4, 7), (9, 16), (45, 13), (6, 200)]:
        grid = int(input_tile_words(shape.k, shape.n, Tiling(1, tn, tk), footprint).sum())
        assert input_words_once(shape.k, shape.n, tk, tn, footprint) == grid


def test_huge_gemm_memory_is_flat():
    """A 65536^3 GEMM on a 16x16 array (2^30 SRAM tiles) runs the fast path within 20 MB of Python allocations."""
    engine = build_engine(make_dense_hw(16, 16, sram_bytes=131072))
    tracemalloc.start()
    try:
        result = engine.simulate(GemmLayer(name="g", m=65536, n=65536, k=65536))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.macs == 65536 ** 3
    assert result.stats["tiles"] > 10 ** 8
    assert peak < 20 * 2 ** 20


def test_cycle_path_refuses_a_huge_tile_list_up_front():
    """The cycle-level path refuses a 65536^3 GEMM before building its tile list, naming the tile count and its memory."""
    engine = build_engine(make_dense_hw(16, 16, sram_bytes=131072))
    with pytest.raises(UnsupportedError, match=r"path 'cycle' holds every SRAM tile.*tiles \(about [\d,]+ MB\)"):
        engine.simulate(GemmLayer(name="g", m=65536, n=65536, k=65536), path="cycle")


def test_vgg16_batch_1024_memory_is_flat():
    """VGG-16 at batch 1024 (conv1_1: 51 M output pixels) runs every layer's fast path, tiler included, within 20 MB of Python allocations."""
    engine = build_engine(make_dense_hw(16, 16, sram_bytes=131072))
    peaks = []
    for layer in workload("vgg16").layers:
        tracemalloc.start()
        try:
            result = engine.simulate(layer.model_copy(update={"batch": 1024}))
            peaks.append(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()
        assert result.macs == 1024 * layer.gemm_shape().m * layer.gemm_shape().n * layer.gemm_shape().k
    assert max(peaks) < 20 * 2 ** 20
