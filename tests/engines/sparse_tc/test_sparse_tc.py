"""The A100-class sparse tensor-core engine: mma arithmetic, tiles, waves, 2:4 refusal, invariants."""

from __future__ import annotations

import numpy as np
import pytest

from energysim.catalog import hwconfig_path, workload_path
from energysim.engines.sparse_tc.schedule import mma_shape
from energysim.engines import ENGINES, build_engine
from energysim.engines.result import check_invariants
from energysim.engines.sparse_tc import SparseTensorCoreEngine
from energysim.errors import ConfigError, InputError, UnsupportedError
from energysim.hardware.hierarchy import build_hardware, load_hardware
from energysim.config.hardware import HardwareFile
from energysim.config.loading import load_toml
from energysim.report.tables import energy_table
from energysim.workloads.layers import Conv2dLayer, GemmLayer, LinearLayer
from energysim.workloads.workload import LayerTensors

A100 = hwconfig_path("a100")
GEMMS = workload_path("a100-gemms")


@pytest.fixture(scope="module")
def hardware():
    """The bundled A100 hardware."""
    return load_hardware(A100)


@pytest.fixture(scope="module")
def engine(hardware):
    """The engine built through the registry from the bundled A100 file."""
    return build_engine(hardware)


def engine_with(**engine_overrides) -> SparseTensorCoreEngine:
    """An A100 engine whose [engine] table is changed by ``engine_overrides``."""
    data = load_toml(A100)
    data["engine"] = {**data["engine"], **engine_overrides}
    return build_engine(build_hardware(HardwareFile.model_validate(data), A100, A100.parent))


def two_four_weights(rows: int, k: int, seed: int = 0) -> np.ndarray:
    """Random weights with the two largest of every four along K kept."""
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((rows, k)).reshape(rows, -1, 4)
    order = np.argsort(-np.abs(w), axis=2)
    keep = np.zeros_like(w, dtype=bool)
    np.put_along_axis(keep, order[:, :, :2], True, axis=2)
    return np.where(keep, w, 0.0).reshape(rows, k)


def test_registered_with_docstring_and_references():
    """The registry maps 'sparse_tc' to the engine, whose docstring cites the WP and Mishra et al."""
    assert ENGINES["sparse_tc"] is SparseTensorCoreEngine
    doc = SparseTensorCoreEngine.__doc__
    assert "References" in doc and "A100 Tensor Core GPU Architecture" in doc and "Mishra" in doc


def test_peak_rates_match_published(engine):
    """Peak dense/sparse rates: FP16 311.87/623.74 TFLOPS, TF32 155.93/311.87, INT8 623.74/1247.48 TOPS."""
    assert engine.peak_tflops("fp16", "dense") == pytest.approx(108 * 1024 * 2 * 1.41e9 / 1e12)
    for dtype, dense, sparse in (("fp16", 312, 624), ("bf16", 312, 624), ("tf32", 156, 312), ("int8", 624, 1248)):
        assert engine.peak_tflops(dtype, "dense") == pytest.approx(dense, rel=0.01)
        assert engine.peak_tflops(dtype, "sparse_2_4") == pytest.approx(sparse, rel=0.01)


@pytest.mark.parametrize(
    "dtype, sparse, shape, a_bytes, meta_bytes, b_bytes",
    [
        ("fp16", False, (16, 8, 16), 512, 0, 256),
        ("fp16", True, (16, 8, 32), 512, 64, 512),
        ("tf32", False, (16, 8, 8), 512, 0, 256),
        ("tf32", True, (16, 8, 16), 512, 64, 512),
        ("int8", False, (16, 8, 32), 512, 0, 256),
        ("int8", True, (16, 8, 64), 512, 128, 512),
    ],
)
def test_per_instruction_operand_bytes(dtype, sparse, shape, a_bytes, meta_bytes, b_bytes):
    """mma/mma.sp shapes and operand bytes per warp instruction (PTX): FP16 sparse m16n8k32 = A 512, E 64, B 512 B."""
    mma = mma_shape(dtype, sparse)
    assert (mma.m, mma.n, mma.k) == shape
    assert (mma.a_bits // 8, mma.metadata_bits // 8, mma.b_bits // 8) == (a_bytes, meta_bytes, b_bytes)
    assert mma.macs_effective == 2 * mma.macs_executed if sparse else mma.macs_effective == mma.macs_executed


def test_hand_computed_single_tile_dense(engine):
    """One 128x128x32 FP16 tile on one SM: 256 m16n8k16, 512 math cycles, fill 466+29, drain 512+262.

    Math: 128*128*32 MACs / 1024 per cycle = 512. Shared memory: (A 8 KB + B 8 KB) x (1 fill + 2 warp
    reads) / 128 B = 384 < 512, so math-bound. compute = ceil(524288 / (108*1024)) = 5; the other
    507 math cycles are lost to the 107 idle SMs (wave quantisation).
    """
    e = engine_with(tile_m=128, tile_n=128, tile_k=32)
    r = e.simulate(GemmLayer(name="t", m=128, n=128, k=32))
    check_invariants(r)
    assert r.stats["instructions"] == 256
    assert r.count("TensorCore", "-", "mac_fp16") == 128 * 128 * 32
    assert r.count("RegFile", "weights", "read") == 256 * 4
    assert r.count("RegFile", "inputs", "read") == 256 * 2
    assert r.count("HBM", "weights", "read") == 128 * 32 * 2 // 32
    assert r.cycles == {"compute": 5, "fill_drain": 466 + 29 + 512 + 262, "stall": 507, "total": 1781}
    assert (r.stats["cycles_stall_memory"], r.stats["cycles_stall_tile_padding"], r.stats["cycles_stall_wave_quantisation"]) == (0, 0, 507)


def test_hand_computed_single_tile_sparse(engine):
    """The same 128x128 outputs with K=64 in 2:4: 256 m16n8k32, 512 math cycles, metadata 2 bits per kept value.

    Math: 256 instructions x 4096 effective MACs / (1024 x sparse_math_speedup 2) = 512 cycles.
    Metadata registers: each mma.sp reads 16 x 16 kept values x 2 bits = 512 bits = 64 B of metadata,
    half of a 1024-bit warp register, so 256 x 512 / 1024 = 128 register words.
    """
    e = engine_with(tile_m=128, tile_n=128, tile_k=64)
    r = e.simulate(GemmLayer(name="t", m=128, n=128, k=64), mode="sparse_2_4")
    check_invariants(r)
    assert r.stats["instructions"] == (128 // 16) * (128 // 8) * (64 // 32) == 256
    assert r.count("TensorCore", "-", "mac_fp16") == 128 * 128 * 64 // 2
    assert r.stats["cycles_math"] == 512
    assert r.count("RegFile", "metadata", "read") == 256 * 512 // 1024 == 128
    assert r.count("RegFile", "inputs", "read") == 256 * 4
    assert r.stats["hbm_bytes"]["weights"] == 128 * 32 * 2
    assert r.stats["hbm_bytes"]["metadata"] == 128 * 32 * 2 // 8
    assert r.stats["weight_footprint_ratio"] == 9 / 16


def test_wave_quantisation_with_partial_wave():
    """217 tiles on 216 slots (108 SMs x 2 blocks): the partial second wave (one tile) costs a whole wave's time.

    Issue 6's rule (default ``partial_wave = "whole_wave"``). K = 1024 keeps both waves math-bound:
    a 128x128x1024 tile is 128 x 128 x 1024 / 1024 = 16384 math cycles and each wave charges every SM
    2 tiles, so both waves last 32768 cycles and cycles_math = 65536. Wave quantisation is the rest:
    65536 - compute, compute = ceil(896 x 3968 x 1024 / (108 x 1024)) = 32920 (no tile padding).
    """
    e = engine_with(tile_m=128, tile_n=128, tile_k=32)
    r = e.simulate(GemmLayer(name="w", m=128 * 7, n=128 * 31, k=1024))
    check_invariants(r)
    assert (r.stats["blocks_per_sm"], r.stats["wave_slots"], r.stats["waves"], r.stats["last_wave_tiles"]) == (2, 216, 2, 1)
    assert r.stats["partial_wave"] == "whole_wave" and r.stats["bound"] == "math"
    assert r.stats["wave_cycles"] == [32768, 32768]
    assert r.stats["cycles_math"] == 65536
    compute = -(-(896 * 3968 * 1024) // (108 * 1024))
    assert r.cycles["compute"] == compute == 32920
    assert r.stats["cycles_stall_tile_padding"] == 0
    assert r.stats["cycles_stall_wave_quantisation"] == 65536 - compute


def test_per_sm_tiles_option_is_the_documented_deviation():
    """partial_wave = "per_sm_tiles" charges the last wave only its busiest SM's one tile: 32768 + 16384 math cycles."""
    e = engine_with(tile_m=128, tile_n=128, tile_k=32, partial_wave="per_sm_tiles")
    r = e.simulate(GemmLayer(name="w", m=128 * 7, n=128 * 31, k=1024))
    check_invariants(r)
    assert r.stats["partial_wave"] == "per_sm_tiles"
    assert r.stats["wave_cycles"] == [32768, 16384]
    assert r.stats["cycles_math"] == 32768 + 16384
    assert r.stats["cycles_stall_wave_quantisation"] == 49152 - 32920


def test_grid_smaller_than_a_wave_uses_fewer_blocks_per_sm():
    """A grid of 64 tiles (fewer than 108 SMs) is one wave of one block per SM: occupancy 1, not the resident limit."""
    e = engine_with(tile_m=64, tile_n=16, tile_k=32)
    r = e.simulate(LinearLayer(name="gemv", in_features=4096, out_features=4096, batch=1))
    check_invariants(r)
    assert r.stats["tiles"] == 64 and r.stats["blocks_per_sm"] > 1
    assert (r.stats["occupancy"], r.stats["waves"], r.stats["wave_slots"]) == (1, 1, 108)
    assert r.stats["bound"] == "hbm"


def test_sparse_math_speedup_moves_peak_and_timing_together():
    """sparse_math_speedup is the one sparse math rate: 1 halves both the sparse peak and the sparse math speed.

    Hand tile as above (256 mma.sp of 4096 effective MACs on one SM): 256 x 4096 / (1024 x 1) = 1024
    math cycles at speedup 1 vs 512 at 2; the dense figures do not move.
    """
    layer = GemmLayer(name="t", m=128, n=128, k=64)
    fast, slow = engine_with(tile_m=128, tile_n=128, tile_k=64), engine_with(tile_m=128, tile_n=128, tile_k=64,
                                                                               sparse_math_speedup=1)
    assert fast.peak_tflops("fp16", "sparse_2_4") == pytest.approx(2 * slow.peak_tflops("fp16", "sparse_2_4"))
    assert slow.peak_tflops("fp16", "sparse_2_4") == pytest.approx(slow.peak_tflops("fp16", "dense"))
    assert fast.simulate(layer, mode="sparse_2_4").stats["cycles_math"] == 512
    assert slow.simulate(layer, mode="sparse_2_4").stats["cycles_math"] == 1024
    assert fast.simulate(layer).stats["cycles_math"] == slow.simulate(layer).stats["cycles_math"]
    big = GemmLayer(name="big", m=4096, n=4096, k=4096)
    for e in (fast, slow):  # hardware-bound sparse throughput never exceeds the configured sparse peak
        stats = e.simulate(big, mode="sparse_2_4").stats
        assert stats["effective_tflops"] <= stats["peak_tflops"] == e.peak_tflops("fp16", "sparse_2_4")
    with pytest.raises(ConfigError, match="sparse_math_speedup"):
        engine_with(sparse_math_speedup=3)


def test_static_energy_is_counted_per_sm_cycle(engine):
    """The SM.static_cycle count is cycles_total x 108 SMs for either timing figure."""
    layer = GemmLayer(name="g", m=1024, n=1024, k=1024)
    for timing in ("hardware_bound", "library_calibrated"):
        r = engine.simulate(layer, mode="sparse_2_4", timing=timing)
        assert r.count("SM", "-", "static_cycle") == r.cycles_total * 108 == r.stats["sm_cycles"]


def test_tensor_cores_are_reported(engine):
    """stats report 4 tensor cores per SM (432) and 256 dense / 512 effective 2:4 FP16 MACs per tensor core per cycle (WP 4.1)."""
    layer = GemmLayer(name="g", m=256, n=256, k=256)
    dense, sparse = engine.simulate(layer).stats, engine.simulate(layer, mode="sparse_2_4").stats
    assert (dense["tensor_cores_per_sm"], dense["tensor_cores"]) == (4, 432)
    assert (dense["peak_macs_per_cycle_per_tensor_core"], sparse["peak_macs_per_cycle_per_tensor_core"]) == (256, 512)


def test_compulsory_bounds_come_from_geometry(engine):
    """Bounds for the hand tile: weights 128x64/2x2 B, metadata 128x32x2 bit, outputs 128x128x2 B (32-B sectors), MACs 128x128x64/2."""
    r = engine.simulate(GemmLayer(name="t", m=128, n=128, k=64), mode="sparse_2_4")
    bounds = {(b.component, b.tensor, b.actions): b.minimum for b in r.compulsory}
    assert bounds[("HBM", "weights", ("read",))] == 128 * 32 * 2 // 32
    assert bounds[("HBM", "metadata", ("read",))] == 128 * 32 * 2 // 8 // 32
    assert bounds[("HBM", "outputs", ("write",))] == 128 * 128 * 2 // 32
    assert bounds[("HBM", "inputs", ("read",))] == 64 * 128 * 2 // 32
    assert bounds[("TensorCore", "-", ("mac_fp16",))] == 128 * 128 * 64 // 2


def test_compulsory_bounds_catch_a_lost_output_write(engine):
    """A result whose HBM output writes fall one sector short of M x N x 2 B is refused by check_invariants."""
    from energysim.errors import InvariantError

    r = engine.simulate(GemmLayer(name="t", m=128, n=128, k=64))
    r.counts[("HBM", "outputs", "write")] -= 1
    with pytest.raises(InvariantError, match="HBM outputs write = 1023 is below the compulsory traffic 1024"):
        check_invariants(r)


def test_compulsory_weight_bound_uses_the_compressed_tensor(engine):
    """With a real tensor the weight and metadata bounds are the compressed tensor's value and metadata bytes."""
    w = two_four_weights(64, 128, seed=3)
    r = engine.simulate(LinearLayer(name="fc", in_features=128, out_features=64, batch=32),
                        LayerTensors(weights=w), mode="sparse_2_4")
    check_invariants(r)
    bounds = {(b.component, b.tensor): b.minimum for b in r.compulsory if b.actions == ("read",)}
    assert bounds[("HBM", "weights")] == 64 * 64 * 2 // 32
    assert bounds[("HBM", "metadata")] == 64 * 64 * 2 // 8 // 32


def test_noncompliant_mask_is_refused(engine):
    """A mask with 3 kept in group 5 of row 2 is refused in sparse mode, naming the group; dense mode accepts it."""
    w = two_four_weights(16, 64)
    mask = w != 0
    mask[2, 20:24] = [True, True, True, False]
    w = np.where(mask, 1.0, 0.0)
    layer = LinearLayer(name="fc", in_features=64, out_features=16, batch=8)
    tensors = LayerTensors(weights=w, mask=mask)
    with pytest.raises(UnsupportedError, match=r"layer 'fc'.*row 2, group 5 \(columns 20-23.*at most 2 of 4.*\(got 3\)"):
        engine.simulate(layer, tensors, mode="sparse_2_4")
    check_invariants(engine.simulate(layer, tensors, mode="dense"))


def test_compliant_mask_counts_useful_macs(engine):
    """With a compliant 2:4 tensor the useful MACs are non-zeros x N; stored slots are K/2 per row."""
    w = two_four_weights(64, 128, seed=5)
    w[0, :4] = [1.0, 0.0, 0.0, 0.0]  # a group with one non-zero still takes two slots
    layer = LinearLayer(name="fc", in_features=128, out_features=64, batch=32)
    r = engine.simulate(layer, LayerTensors(weights=w, mask=w != 0), mode="sparse_2_4")
    check_invariants(r)
    assert r.macs == np.count_nonzero(w) * 32
    assert r.stats["compressed_footprint_bytes"] == 64 * 64 * 2 + 64 * 64 * 2 // 8


def test_functional_check_against_numpy(engine):
    """C = A B computed from the compressed values and metadata equals numpy to 1e-12 (FP16 2:4 and TF32 1:2)."""
    a = two_four_weights(64, 96, seed=7)
    b = np.random.default_rng(8).standard_normal((96, 24))
    np.testing.assert_allclose(engine.matmul(a, b, mode="sparse_2_4"), a @ b, rtol=1e-12, atol=1e-12)
    one_two = np.where(np.arange(96) % 2 == 0, a + 0.5, 0.0)
    tf32 = engine_with(dtype="tf32")
    np.testing.assert_allclose(tf32.matmul(one_two, b, mode="sparse_2_4"), one_two @ b, rtol=1e-12, atol=1e-12)
    with pytest.raises(UnsupportedError):
        tf32.matmul(a, b, mode="sparse_2_4")  # 2:4 is not 1:2


@pytest.mark.parametrize("mode", ["dense", "sparse_2_4"])
@pytest.mark.parametrize("layer", [
    GemmLayer(name="big", m=3072, n=3072, k=10240),
    GemmLayer(name="odd", m=1000, n=77, k=330),
    LinearLayer(name="gemv", in_features=4096, out_features=4096, batch=1),
    Conv2dLayer(name="conv", in_channels=64, out_channels=128, in_height=56, in_width=56,
                kernel_height=3, kernel_width=3, padding=1, batch=2),
])
def test_invariants_and_pricing(engine, hardware, layer, mode):
    """Every result passes check_invariants, has compute+fill_drain+stall=total, and every count is priced."""
    r = engine.simulate(layer, mode=mode)
    check_invariants(r)
    table = energy_table(r, hardware)
    assert len(table) == len(r.counts) and (table["energy_pj"] > 0).all()
    split = r.stats["cycles_stall_memory"] + r.stats["cycles_stall_wave_quantisation"] + r.stats["cycles_stall_tile_padding"]
    assert split == r.cycles["stall"]
    assert r.count("HBM", "inputs", "read") * 32 >= r.stats["hbm_bytes"]["inputs"] > 0


def test_hbm_weight_traffic_is_compressed(engine):
    """When operands fit in L2, HBM weight+metadata bytes are exactly 9/16 of the dense weight bytes."""
    layer = GemmLayer(name="g", m=2048, n=512, k=2048)
    dense = engine.simulate(layer, mode="dense").stats["hbm_bytes"]
    sparse = engine.simulate(layer, mode="sparse_2_4").stats["hbm_bytes"]
    assert dense["weights"] == 2048 * 2048 * 2
    assert sparse["weights"] + sparse["metadata"] == dense["weights"] * 9 // 16
    assert sparse["inputs"] == dense["inputs"]


def test_large_gemm_speedup_below_two_and_gemv_below_byte_ratio(engine):
    """2:4 speeds a large GEMM up by less than 2x and a GEMV by less than 16/9 (weight bytes ratio)."""
    big = GemmLayer(name="big", m=4096, n=4096, k=4096)
    gemv = LinearLayer(name="gemv", in_features=4096, out_features=4096, batch=1)
    for layer, bound in ((big, 2.0), (gemv, 16 / 9)):
        d, s = engine.simulate(layer, mode="dense"), engine.simulate(layer, mode="sparse_2_4")
        assert 1.0 < d.cycles_total / s.cycles_total < bound
    assert engine.simulate(gemv).stats["bound"] == "hbm"


def test_library_calibrated_figure_is_slower_and_labelled(engine):
    """The library-calibrated figure (the configured kernel_efficiency) is slower than the hardware bound on a math-bound GEMM."""
    r = engine.simulate(GemmLayer(name="big", m=4096, n=4096, k=4096))
    hw, lib = r.stats["figures"]["hardware_bound"], r.stats["figures"]["library_calibrated"]
    assert r.stats["timing"] == "hardware_bound" and r.cycles_total == hw["cycles_total"]
    assert lib["cycles_total"] > hw["cycles_total"] and lib["kernel_efficiency"] == engine.config.kernel_efficiency < 1
    calibrated = engine.simulate(GemmLayer(name="big", m=4096, n=4096, k=4096), timing="library_calibrated")
    assert calibrated.cycles_total == lib["cycles_total"]


def test_bad_options_and_config(engine):
    """Unknown mode/timing raise InputError; an unknown engine key raises ConfigError naming it."""
    layer = GemmLayer(name="g", m=64, n=64, k=64)
    with pytest.raises(InputError, match="mode must be one of dense, sparse_2_4"):
        engine.simulate(layer, mode="sparse_1_4")
    with pytest.raises(InputError, match="timing must be one of"):
        engine.simulate(layer, timing="fast")
    with pytest.raises(ConfigError, match=r"engine\.tile_mm: unknown key; did you mean 'tile_m'"):
        engine_with(tile_mm=128)


def test_hardware_without_static_unit_is_refused():
    """A sparse_tc hardware file without the SM.static_cycle unit is a ConfigError naming the unit and action."""
    data = load_toml(A100)
    data["units"] = [u for u in data["units"] if u["name"] != "SM"]
    with pytest.raises(ConfigError, match=r"the sparse_tc engine counts SM\.static_cycle, which the hardware file does not price"):
        build_engine(build_hardware(HardwareFile.model_validate(data), A100, A100.parent))


def test_misspelled_option_is_refused(engine, hardware):
    """simulate takes no catch-all: a misspelled option is an InputError naming it, there and through run_workload."""
    from energysim.simulate import run_workload
    from energysim.workloads.workload import load_workload

    with pytest.raises(InputError, match="has no option 'mdoe' \\(it takes: mode, timing\\)"):
        engine.simulate(GemmLayer(name="g", m=64, n=64, k=64), mdoe="sparse_2_4")
    workload = load_workload(GEMMS)
    with pytest.raises(InputError, match="has no option 'mdoe'"):
        run_workload(workload, hardware, mdoe="sparse_2_4")


def test_tile_that_does_not_fit_is_refused():
    """A 256x256 tile with 5 stages of 256x256 K-steps cannot fit 164 KB of shared memory."""
    e = engine_with(tile_m=256, tile_n=256, tile_k=256, pipeline_stages=5)
    with pytest.raises(UnsupportedError, match="must fit in 167936 B of shared memory"):
        e.simulate(GemmLayer(name="g", m=512, n=512, k=512))


def test_sparse_kernel_efficiency_only_changes_sparse_calibrated_figure():
    """sparse_kernel_efficiency slows the 2:4 calibrated figure and leaves dense and the hardware bound alone."""
    layer = GemmLayer(name="big", m=4096, n=4096, k=4096)
    base, slow = engine_with(), engine_with(sparse_kernel_efficiency=0.5)
    for mode in ("dense", "sparse_2_4"):
        a, b = base.simulate(layer, mode=mode).stats["figures"], slow.simulate(layer, mode=mode).stats["figures"]
        assert a["hardware_bound"] == b["hardware_bound"]
        if mode == "dense":
            assert a["library_calibrated"] == b["library_calibrated"]
        else:
            assert b["library_calibrated"]["cycles_total"] > a["library_calibrated"]["cycles_total"]
            assert b["library_calibrated"]["kernel_efficiency"] == 0.5


@pytest.mark.parametrize("dtype, footprint", [("tf32", 9 / 16), ("int8", 10 / 16), ("bf16", 9 / 16)])
def test_other_dtypes_store_and_price_their_macs(dtype, footprint):
    """TF32 (1:2, 4-bit index), INT8 and BF16 runs pass the invariants, price mac_<dtype> and store the right footprint."""
    e = engine_with(dtype=dtype)
    r = e.simulate(GemmLayer(name="g", m=1024, n=512, k=1024), mode="sparse_2_4")
    check_invariants(r)
    assert r.stats["weight_footprint_ratio"] == footprint
    assert r.count("TensorCore", "-", f"mac_{dtype}") == 1024 * 512 * 1024 // 2


def test_tf32_refuses_a_two_four_mask_that_is_not_one_two():
    """TF32's sparse mode is 1:2: a 2:4 mask that keeps two adjacent values is refused, naming the pair."""
    w = np.zeros((4, 8))
    w[0, [0, 1, 4, 6]] = 1.0  # 2:4-compliant, but columns 0-1 hold two values
    layer = GemmLayer(name="g", m=4, n=8, k=8)
    with pytest.raises(UnsupportedError, match=r"row 0, group 0 \(columns 0-1.*at most 1 of 2.*\(got 2\)"):
        engine_with(dtype="tf32").simulate(layer, LayerTensors(weights=w), mode="sparse_2_4")


def test_edge_tiles_count_as_padding():
    """A 1000x77x330 GEMM pads its edge tiles: the padding stall is positive and the stall parts add up."""
    r = engine_with(tile_m=128, tile_n=64, tile_k=32).simulate(GemmLayer(name="odd", m=1000, n=77, k=330))
    check_invariants(r)
    assert r.stats["cycles_stall_tile_padding"] > 0
    assert r.count("TensorCore", "-", "mac_fp16") > 1000 * 77 * 330


def test_conv_input_traffic_is_the_feature_map():
    """An implicit-GEMM conv reads its feature map from HBM once (operands fit in L2), not the 9x larger im2col matrix."""
    conv = Conv2dLayer(name="c", in_channels=64, out_channels=64, in_height=56, in_width=56,
                       kernel_height=3, kernel_width=3, padding=1)
    r = engine_with().simulate(conv)
    assert r.stats["l2_fits_operands"]
    assert r.stats["hbm_bytes"]["inputs"] == 64 * 56 * 56 * 2


def test_run_workload_end_to_end(hardware):
    """simulate.run_workload prices the bundled validation GEMMs in both modes with consistent totals."""
    from energysim.simulate import run_workload
    from energysim.workloads.workload import load_workload

    workload = load_workload(GEMMS)
    dense = run_workload(workload, hardware)
    sparse = run_workload(workload, hardware, mode="sparse_2_4")
    assert dense.totals()["layers"] == sparse.totals()["layers"] == 9
    assert sparse.totals()["energy_pj"] < dense.totals()["energy_pj"]
    assert set(sparse.energy["tensor"]) >= {"weights", "inputs", "outputs", "metadata", "-"}
    assert "metadata" not in set(dense.energy["tensor"])


def test_storage_fit_of_a_too_large_layer_says_it_does_not_fit_l2(engine):
    """FP16 8192x8192 weights (128 MiB) do not fit the 40 MB L2; 2:4 mode halves values and adds metadata."""
    layer = GemmLayer(name="big", m=8192, n=64, k=8192)
    dense = engine.simulate(layer, mode="dense")
    check_invariants(dense)
    fits = {f.tensor: f for f in dense.storage_fit}
    assert set(fits) == {"weights", "inputs", "outputs"} and {f.level for f in dense.storage_fit} == {"L2"}
    assert fits["weights"].needed_bits == 8192 * 8192 * 16 and fits["weights"].capacity_bits == 41943040 * 8
    assert not fits["weights"].fits and fits["inputs"].fits and fits["outputs"].fits
    assert dense.weights_on_chip is False and dense.spilled == "weights>L2"
    sparse = engine.simulate(layer, mode="sparse_2_4")
    fits = {f.tensor: f for f in sparse.storage_fit}
    assert fits["weights"].needed_bits == 8192 * 4096 * 16 and fits["metadata"].needed_bits == 8192 * 4096 * 2
    assert not fits["weights"].fits and fits["metadata"].fits
    small = engine.simulate(GemmLayer(name="small", m=1024, n=64, k=1024))
    assert small.weights_on_chip is True and small.spilled == ""


def test_column_major_raster_is_tried_when_tile_rows_are_few(engine):
    """With 3 tile rows (M = 768) the raster search includes column-major order, so each input panel leaves HBM once.

    Groups of 1, 2, 4, ... only: 2 re-reads a third of the panels and 4 is not below 3, so before
    column-major was tried the 2:4 bound of this GEMM was HBM-bound at 1941 us instead of 1624 us.
    """
    from energysim.engines.sparse_tc.schedule import raster_groups

    assert raster_groups(3) == [2, 3] and raster_groups(4) == [2, 4] and raster_groups(32) == [2, 4, 8, 16]
    assert raster_groups(1) == []
    result = engine.simulate(GemmLayer(name="a", m=768, n=196608, k=3072), mode="sparse_2_4")
    stats = result.stats
    assert stats["tiles_m"] == 3 and stats["raster_group_rows"] == 3
    assert stats["hbm_bytes"]["inputs"] == 196608 * 3072 * 2  # every input byte read from HBM exactly once


ENGINE_READ_FIELDS = {
    "kind", "mode", "dtype", "tensor_cores_per_sm", "dense_macs_per_cycle_per_sm", "shared_memory_bytes_per_sm",
    "tile_m", "tile_n", "tile_k", "kernel_efficiency", "sparse_kernel_efficiency", "timing", "kernel_model",
    "board_power_w",
}
"""Config fields the engine reads itself, or derives a GpuSpec field from (per-dtype rate, shared-memory cap)."""


def test_every_config_field_reaches_the_gpu_spec_or_the_engine():
    """Each [engine] field is either read by the engine or is a GpuSpec field of the same name (a new field must pick one)."""
    import dataclasses

    from energysim.engines.sparse_tc.engine import SparseTensorCoreConfig
    from energysim.engines.sparse_tc.schedule import GpuSpec

    config_fields = set(SparseTensorCoreConfig.model_fields)
    spec_fields = {f.name for f in dataclasses.fields(GpuSpec)}
    assert ENGINE_READ_FIELDS <= config_fields
    assert config_fields - ENGINE_READ_FIELDS <= spec_fields, config_fields - ENGINE_READ_FIELDS - spec_fields


def test_gpu_spec_carries_each_config_value_and_the_levels():
    """Every shared field's configured (non-default) value is in the spec; bandwidths and capacities come from the levels."""
    import dataclasses

    from energysim.engines.sparse_tc.schedule import GpuSpec

    e = engine_with(max_blocks_per_sm=7, max_warps_per_sm=48, accumulator_register_fraction=0.25, warp_tile_m=32,
                    warp_tile_n=16, pipeline_stages=3, hbm_latency_cycles=11, l2_latency_cycles=12,
                    smem_latency_cycles=13, partial_wave="per_sm_tiles", sparse_math_speedup=1,
                    shared_memory_bytes_per_sm=1024)
    spec = e.gpu_spec("int8")
    shared = {f.name for f in dataclasses.fields(GpuSpec)} & set(type(e.config).model_fields) - {"dense_macs_per_cycle_per_sm"}
    assert len(shared) == 12
    assert {name: getattr(spec, name) for name in shared} == {name: getattr(e.config, name) for name in shared}
    assert spec.dense_macs_per_cycle_per_sm == e.config.dense_macs_per_cycle_per_sm.int8
    assert spec.smem_capacity_bytes == 1024
    assert spec.hbm_bits_per_cycle == e.hbm.config.bandwidth_words_per_cycle * e.hbm.config.word_bits
    assert spec.l2_capacity_bytes == int(e.l2.config.capacity_bytes)
    assert spec.register_file_bytes == int(e.regs.config.capacity_bytes)


SEARCH_SHAPES = [(64, 1, 4096, 1), (4096, 16, 4096, 1), (768, 3072, 3072, 1), (1000, 999, 520, 1), (3000, 2500, 256, 1),
                 (8192, 8192, 2048, 1), (768, 24576, 3072, 1), (64, 3136, 576, 32)]
"""GEMMs (m, n, k, batch) for the schedule search tests: a GEMV, skinny, ragged edges, L2-resident and not, and a
batch of 32 whose inputs are a convolution's feature map (a ninth of the im2col elements)."""


def _search_problem(m, n, k, batch, sparse):
    """The GemmProblem of one SEARCH_SHAPES entry (a batch's inputs: 1/9 distinct, as a 3x3 convolution's)."""
    from energysim.engines.sparse_tc.schedule import GemmProblem

    unique = k * n if batch == 1 else batch * k * n // 9
    return GemmProblem(m=m, n=n, k=k, mma=mma_shape("fp16", sparse), input_unique_elements=unique, batch=batch)


def _exhaustive_choice(problem, gpu, efficiency):
    """Every fitting candidate tile with every raster order, the first minimal key wins (the search without bounds)."""
    from energysim.engines.sparse_tc.schedule import Tile, blocks_per_sm, default_tile_k, raster_groups, schedule
    from energysim.engines.sparse_tc.schedule import tile_candidates

    best = best_key = None
    for tile in dict.fromkeys(Tile(c.m, c.n, default_tile_k(problem.mma)) for c in tile_candidates(problem)):
        if blocks_per_sm(problem, gpu, tile) < 1:
            continue
        plans = [schedule(problem, gpu, tile, efficiency)]
        if not plans[0].l2_fits:
            plans += [schedule(problem, gpu, tile, efficiency, g) for g in raster_groups(plans[0].tiles_m)]
        for plan in plans:
            key = (plan.cycles_total, sum(plan.hbm_read_bits.values()), -tile.m * tile.n, plan.group_rows)
            if best_key is None or key < best_key:
                best, best_key = plan, key
    return best


@pytest.mark.parametrize("partial_wave", ["whole_wave", "per_sm_tiles"])
def test_bounded_schedule_search_chooses_what_the_full_search_chooses(partial_wave):
    """choose_schedule (tiles by lower bound, stopping past the best) picks the exhaustive search's tile, order and cycles."""
    from energysim.engines.sparse_tc.schedule import choose_schedule

    gpu = engine_with(partial_wave=partial_wave).gpu_spec("fp16")
    for m, n, k, batch in SEARCH_SHAPES:
        for sparse in (False, True):
            for efficiency in (1.0, 0.6):
                problem = _search_problem(m, n, k, batch, sparse)
                chosen, full = choose_schedule(problem, gpu, efficiency), _exhaustive_choice(problem, gpu, efficiency)
                assert (chosen.tile, chosen.group_rows, chosen.cycles_total) == (full.tile, full.group_rows,
                                                                                full.cycles_total), (m, n, k, sparse)


@pytest.mark.parametrize("partial_wave", ["whole_wave", "per_sm_tiles"])
def test_cycles_lower_bound_holds_for_every_tile_and_raster_order(partial_wave):
    """cycles_total_lower_bound never exceeds a schedule's cycles_total (any tile, group, mode), and is tight when math-bound."""
    from energysim.engines.sparse_tc.schedule import (Tile, blocks_per_sm, cycles_total_lower_bound, default_tile_k,
                                                      raster_groups, schedule, tile_candidates)

    gpu = engine_with(partial_wave=partial_wave).gpu_spec("fp16")
    tight = 0
    for m, n, k, batch in SEARCH_SHAPES:
        for sparse in (False, True):
            problem = _search_problem(m, n, k, batch, sparse)
            for c in tile_candidates(problem):
                tile = Tile(c.m, c.n, default_tile_k(problem.mma))
                if blocks_per_sm(problem, gpu, tile) < 1:
                    continue
                bound = cycles_total_lower_bound(problem, gpu, tile)
                for group in (1, *raster_groups(-(-m // tile.m))):
                    plan = schedule(problem, gpu, tile, 1.0, group)
                    assert bound <= plan.cycles_total, (m, n, k, sparse, tile, group)
                    tight += bound == plan.cycles_total
    assert tight > 0


def test_bounded_schedule_search_skips_tiles(monkeypatch):
    """On a large GEMM the bounded search schedules fewer (tile, raster order) pairs than the full search does."""
    import energysim.engines.sparse_tc.schedule as gpu_schedule

    gpu = engine_with().gpu_spec("fp16")
    problem = gpu_schedule.GemmProblem(m=8192, n=8192, k=2048, mma=mma_shape("fp16", True),
                                       input_unique_elements=2048 * 8192)
    calls = []
    real = gpu_schedule.schedule
    monkeypatch.setattr(gpu_schedule, "schedule", lambda *args: calls.append(args) or real(*args))
    gpu_schedule.choose_schedule(problem, gpu)
    bounded = len(calls)
    calls.clear()
    _exhaustive_choice(problem, gpu, 1.0)
    assert 0 < bounded < len(calls) / 2, (bounded, len(calls))
