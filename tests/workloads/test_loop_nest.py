"""Every layer kind as a loop nest; grouped convolutions and batched matmuls run on the loop-nest engine only."""

from __future__ import annotations

import pytest

import energysim
from energysim.errors import UnsupportedError
from energysim.workloads.layers import (
    BatchedMatmulLayer, Conv2dLayer, GemmLayer, GroupedConv2dLayer, LinearLayer, covered_pixels,
)
from energysim.workloads.workload import Workload


def test_existing_kinds_keep_their_macs() -> None:
    """linear, conv2d and gemm nests have the GEMM's MAC count and the documented dimension names."""
    layers = [
        LinearLayer(name="fc", in_features=300, out_features=100, batch=4),
        Conv2dLayer(name="c", in_channels=3, out_channels=8, in_height=9, in_width=7, kernel_height=3,
                    kernel_width=2, stride=2, padding=1, batch=2),
        GemmLayer(name="g", m=5, n=6, k=7),
    ]
    for layer in layers:
        assert layer.loop_nest().macs == layer.gemm_shape().macs
    conv = layers[1].loop_nest()
    assert conv.bounds == {"N": 2, "G": 1, "K": 8, "C": 3, "P": 5, "Q": 4, "R": 3, "S": 2}
    assert conv.axes("inputs")[3] == (("P", 2), ("R", 1))
    assert layers[2].loop_nest().bounds["K"] == 5 and layers[2].loop_nest().bounds["N"] == 6


def test_depthwise_conv_is_grouped() -> None:
    """A depthwise 3x3 conv of 32 channels is G=32 groups of K=C=1; MACs = 32 x 112 x 112 x 9."""
    layer = GroupedConv2dLayer(name="dw", groups=32, in_channels=32, out_channels=32, in_height=112, in_width=112,
                               kernel_height=3, kernel_width=3, padding=1)
    nest = layer.loop_nest()
    assert (nest.bounds["G"], nest.bounds["K"], nest.bounds["C"]) == (32, 1, 1)
    assert nest.macs == 32 * 112 * 112 * 9
    assert layer.weight_shape == (32, 1, 3, 3)
    with pytest.raises(UnsupportedError, match="32 separate GEMMs, not one"):
        layer.gemm_shape()


def test_dilation_sets_output_size_and_window() -> None:
    """Dilation 2 on a 3x3 kernel spans 5 pixels: a 10-pixel input gives 6 outputs, and the window coefficient is 2."""
    layer = GroupedConv2dLayer(name="d", groups=1, in_channels=2, out_channels=2, in_height=10, in_width=10,
                               kernel_height=3, kernel_width=3, dilation=2)
    assert layer.out_height == 6
    assert layer.loop_nest().axes("inputs")[3] == (("P", 1), ("R", 2))


def test_groups_must_divide_channels() -> None:
    """in_channels and out_channels must be multiples of groups."""
    with pytest.raises(ValueError, match="in_channels must be a multiple of groups 4"):
        GroupedConv2dLayer(name="bad", groups=4, in_channels=6, out_channels=8, in_height=4, in_width=4,
                           kernel_height=1, kernel_width=1)


def test_batched_matmul_runs_on_loopnest_and_dense() -> None:
    """Attention's Q K^T (12 heads of 128x128x64) runs on lecture-array-loopnest and on the dense engine (its 12 GEMMs), storing no weights on either."""
    layer = BatchedMatmulLayer(name="qk", batch=12, m=128, n=128, k=64)
    assert layer.loop_nest().a_is_activation and layer.loop_nest().macs == 12 * 128 * 128 * 64
    workload = Workload("attn", (layer,))
    run = energysim.simulate("lecture-array-loopnest", workload, mapping="default")
    assert run.results[0].macs == 12 * 128 * 128 * 64
    assert run.results[0].stats["weight_storage_bits"] == 0
    dense = energysim.simulate("lecture-array", workload).results[0]
    assert dense.macs == 12 * 128 * 128 * 64 and dense.stats["groups"] == 12
    assert dense.stats["weight_storage_bits"] == 0


def test_covered_pixels_skips_unused_rows() -> None:
    """Stride 2 with a 3-tap kernel on 10 pixels (no padding) reads rows 0..8 only: 9 pixels; stride 3 with 2 taps on 9: 6."""
    assert covered_pixels(10, 4, 3, 2, 1, 0) == 9
    assert covered_pixels(9, 3, 2, 3, 1, 0) == 6
    assert covered_pixels(224, 224, 3, 1, 1, 1) == 224


def test_covered_pixels_matches_brute_force() -> None:
    """Seeded sizes, kernels, strides, dilations and paddings: covered pixels equal the set of real taps."""
    import random

    rng = random.Random(3)
    for _ in range(1500):
        size, k, s, d, pad = rng.randint(1, 20), rng.randint(1, 5), rng.randint(1, 4), rng.randint(1, 3), rng.randint(0, 3)
        out = (size + 2 * pad - d * (k - 1) - 1) // s + 1
        if out < 1:
            continue
        taps = {o * s + j * d for o in range(out) for j in range(k)}
        assert covered_pixels(size, out, k, s, d, pad) == sum(1 for t in taps if pad <= t < pad + size)
