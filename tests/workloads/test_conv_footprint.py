"""Conv input footprint: an upper bound on unique pixels, below im2col, used by both dense paths."""

from __future__ import annotations

import numpy as np
import pytest

from energysim.workloads.lowering import ConvFootprint
from energysim.engines import build_engine
from energysim.workloads.layers import Conv2dLayer
from tests.conftest import make_dense_hw


def _unique_pixels(layer: Conv2dLayer, k0: int, k1: int, n0: int, n1: int) -> int:
    """Brute force: distinct real (non-padding) input pixels read by im2col rows k0..k1, columns n0..n1."""
    seen = set()
    area = layer.kernel_height * layer.kernel_width
    for kk in range(k0, k1):
        c, rest = divmod(kk, area)
        dy, dx = divmod(rest, layer.kernel_width)
        for nn in range(n0, n1):
            b, pix = divmod(nn, layer.out_height * layer.out_width)
            oy, ox = divmod(pix, layer.out_width)
            iy, ix = oy * layer.stride - layer.padding + dy, ox * layer.stride - layer.padding + dx
            if 0 <= iy < layer.in_height and 0 <= ix < layer.in_width:
                seen.add((b, c, iy, ix))
    return len(seen)


@pytest.mark.parametrize("stride,padding,kernel,batch", [(1, 1, 3, 1), (2, 0, 3, 2), (4, 0, 5, 1), (1, 2, 5, 2)])
def test_footprint_bounds_unique_pixels(stride, padding, kernel, batch):
    """For random tiles, unique pixels <= footprint <= im2col words."""
    layer = Conv2dLayer(name="c", in_channels=3, out_channels=4, in_height=11, in_width=9, kernel_height=kernel,
                        kernel_width=kernel, stride=stride, padding=padding, batch=batch)
    fp = ConvFootprint.of(layer)
    shape = layer.gemm_shape()
    rng = np.random.default_rng(0)
    for _ in range(60):
        k0, k1 = sorted(rng.choice(shape.k + 1, 2, replace=False))
        n0, n1 = sorted(rng.choice(shape.n + 1, 2, replace=False))
        words = int(fp.words(k0, k1, n0, n1))
        assert _unique_pixels(layer, k0, k1, n0, n1) <= words <= (k1 - k0) * (n1 - n0)


def test_conv_dram_inputs_between_compulsory_and_im2col():
    """A 3x3 conv moves fewer input words from DRAM than im2col, and no fewer than the input itself."""
    layer = Conv2dLayer(name="c", in_channels=8, out_channels=16, in_height=16, in_width=16,
                        kernel_height=3, kernel_width=3, padding=1)
    result = build_engine(make_dense_hw(4, 4, sram_bytes=65536)).simulate(layer)
    shape = layer.gemm_shape()
    moved = result.count("DRAM", "inputs", "read")
    assert 8 * 16 * 16 <= moved < shape.k * shape.n


@pytest.mark.parametrize("dataflow", ["output_stationary", "weight_stationary"])
def test_conv_cycle_path_equals_fast_path(dataflow):
    """The equality of the two dense paths holds on a conv layer with window-sized input tiles."""
    layer = Conv2dLayer(name="c", in_channels=2, out_channels=5, in_height=6, in_width=5,
                        kernel_height=3, kernel_width=3, stride=1, padding=1)
    engine = build_engine(make_dense_hw(3, 2, dataflow, sram_bytes=512, sram_bw=2, dram_bw=1))
    fast, cycle = engine.simulate(layer, path="fast"), engine.simulate(layer, path="cycle")
    assert fast.counts == cycle.counts and fast.cycles == cycle.cycles
