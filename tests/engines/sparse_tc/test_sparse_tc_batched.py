"""The A100 model's batched GEMMs: grouped / depthwise convolutions and attention's batched matmuls."""

from __future__ import annotations

import numpy as np
import pytest

from energysim.catalog import hwconfig_path
from energysim.engines import build_engine
from energysim.engines.result import check_invariants
from energysim.engines.sparse_tc.engine import batched_gemm
from energysim.engines.sparse_tc.schedule import GemmProblem, choose_schedule, mma_shape, schedule
from energysim.errors import UnsupportedError
from energysim.hardware.hierarchy import load_hardware
from energysim.workloads.layers import BatchedMatmulLayer, GroupedConv2dLayer
from energysim.workloads.workload import LayerTensors


@pytest.fixture(scope="module")
def engine():
    """The bundled A100 engine."""
    return build_engine(load_hardware(hwconfig_path("a100")))


def _grouped(groups: int, channels: int = 64, size: int = 28) -> GroupedConv2dLayer:
    return GroupedConv2dLayer(name="g", groups=groups, in_channels=channels, out_channels=channels, in_height=size,
                              in_width=size, kernel_height=3, kernel_width=3, padding=1)


def test_grouped_conv_is_groups_gemms_of_the_group_shape():
    """A grouped conv lowers to `groups` GEMMs of M = out/G, K = in/G*9, N = out_h*out_w; depthwise has M = 1."""
    shape, batch = batched_gemm(_grouped(4))
    assert (shape.m, shape.k, shape.n, batch) == (16, 144, 784, 4)
    shape, batch = batched_gemm(_grouped(64))
    assert (shape.m, shape.k, shape.n, batch) == (1, 9, 784, 64)


def test_a_batched_schedule_has_every_gemms_tiles_and_traffic(engine):
    """Batch G: G times the tiles and instructions of one GEMM, each A and B panel from HBM once when they fit L2,
    and no more waves than G separate launches."""
    gpu = engine.gpu_spec("fp16")
    one = GemmProblem(m=16, n=784, k=144, mma=mma_shape("fp16", False), input_unique_elements=144 * 784)
    four = GemmProblem(m=16, n=784, k=144, mma=one.mma, input_unique_elements=4 * 144 * 784, batch=4)
    single = choose_schedule(one, gpu)
    batched = schedule(four, gpu, single.tile)
    alone = schedule(one, gpu, single.tile)
    assert batched.tiles == 4 * alone.tiles and batched.instructions == 4 * alone.instructions
    assert batched.l2_fits
    assert batched.hbm_read_bits["weights"] == four.weight_value_bits == 4 * one.weight_value_bits
    assert batched.hbm_read_bits["inputs"] == four.input_matrix_bits
    assert batched.hbm_write_bits == four.output_bits
    assert batched.waves <= 4 * alone.waves
    assert alone.cycles_total <= batched.cycles_total <= 4 * alone.cycles_total


def test_grouped_conv_runs_with_the_layers_macs_and_compulsory_traffic(engine):
    """A depthwise conv runs in dense mode: MACs = the layer's, invariants (compulsory traffic) hold."""
    layer = _grouped(64)
    result = engine.simulate(layer, None)
    check_invariants(result)
    assert result.macs == layer.loop_nest().macs
    assert result.stats["gemm_batch"] == 64 and result.stats["tiles"] % 64 == 0


def test_grouped_conv_with_2_4_masks_runs_sparse_and_refuses_other_masks(engine):
    """Grouped-conv weights pruned 2:4 along each group's K run on mma.sp; a 3-of-4 row is refused naming the layer."""
    layer = _grouped(4)
    rng = np.random.default_rng(0)
    weights = rng.normal(size=(64, 16, 3, 3))
    keep = np.zeros((64, 144), dtype=bool)
    keep[:, 0::4] = keep[:, 1::4] = True
    masked = LayerTensors(weights=np.where(keep.reshape(weights.shape), weights, 0.0), mask=keep.reshape(weights.shape))
    result = engine.simulate(layer, masked, mode="sparse_2_4")
    check_invariants(result)
    assert result.macs == 64 * 72 * 784  # the kept half of every group's K
    keep[0, 2] = True
    bad = LayerTensors(weights=weights, mask=keep.reshape(weights.shape))
    with pytest.raises(UnsupportedError, match="layer 'g'"):
        engine.simulate(layer, bad, mode="sparse_2_4")


def test_batched_matmul_runs_dense_and_is_refused_in_2_4_mode(engine):
    """Attention's Q K^T runs as 12 batched GEMMs in dense mode; 2:4 mode refuses it (A is an activation)."""
    layer = BatchedMatmulLayer(name="scores", batch=12, m=128, k=64, n=128)
    result = engine.simulate(layer, None)
    check_invariants(result)
    assert result.macs == 12 * 128 * 64 * 128
    with pytest.raises(UnsupportedError, match="A operand is an activation"):
        engine.simulate(layer, None, mode="sparse_2_4")
