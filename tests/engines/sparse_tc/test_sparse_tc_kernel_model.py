"""The library kernel model of the sparse tensor-core engine: its terms, padding rule, wiring and refusals."""

from __future__ import annotations

import math

import numpy as np
import pytest

from energysim.catalog import hwconfig_path
from energysim.config.hardware import HardwareFile
from energysim.config.loading import load_toml
from energysim.engines import build_engine
from energysim.engines.result import check_invariants
from energysim.engines.sparse_tc.kernel_model import KernelModelConfig, LibraryConstants, kernel_cycles, kernel_time
from energysim.engines.sparse_tc.schedule import GemmProblem, choose_schedule, mma_shape
from energysim.errors import ConfigError, InputError
from energysim.hardware.hierarchy import build_hardware, load_hardware
from energysim.workloads.layers import GemmLayer, LinearLayer

A100 = hwconfig_path("a100")


@pytest.fixture(scope="module")
def engine():
    """The bundled A100 engine (with its [engine.kernel_model] table)."""
    return build_engine(load_hardware(A100))


def engine_from(data: dict):
    """An engine built from a modified copy of the A100 file's data."""
    return build_engine(build_hardware(HardwareFile.model_validate(data), A100, A100.parent))


def bound_plan(engine, m: int, n: int, k: int, sparse: bool):
    """The hardware-bound schedule the engine would pick for this GEMM."""
    problem = GemmProblem(m=m, n=n, k=k, mma=mma_shape("fp16", sparse), input_unique_elements=k * n)
    return choose_schedule(problem, engine.gpu_spec("fp16"), 1.0)


def test_terms_by_hand_from_the_schedule(engine):
    """Main loop = sum over waves of ceil(max(math/eta_mma, smem/eta_op, l2, hbm)); plus fill/drain and waves x overhead."""
    plan = bound_plan(engine, 3072, 49152, 768, sparse=True)
    library = LibraryConstants(operand_efficiency=0.5, wave_overhead_cycles=1000.0)
    time = kernel_time(plan, 0.75, library, padded_call_cycles=123.0)
    w = plan.wave_resource_cycles
    by_hand = sum(math.ceil(max(w["math"][i] / 0.75, w["smem"][i] / 0.5, w["l2"][i], w["hbm"][i])) for i in range(plan.waves))
    assert plan.waves > 1 and time.cycles_main_loop == by_hand
    assert time.cycles_fill_drain == plan.cycles_fill + plan.cycles_drain
    assert time.cycles_wave_overhead == plan.waves * 1000 and time.cycles_padded_call == 123
    assert time.cycles_total == by_hand + plan.cycles_fill + plan.cycles_drain + plan.waves * 1000 + 123
    assert time.bound == "smem"  # 2:4 at half the operand rate: the B loads bind, not the math
    assert kernel_cycles(plan, 0.75, library, 123.0) == pytest.approx(time.cycles_total, abs=plan.waves)


def test_operand_efficiency_moves_sparse_not_dense(engine):
    """Lowering operand_efficiency slows the 2:4 main loop (smem-bound) and leaves the math-bound dense one alone."""
    fast, slow = (LibraryConstants(operand_efficiency=e, wave_overhead_cycles=0.0) for e in (1.0, 0.7))
    dense, sparse = bound_plan(engine, 3072, 3072, 10240, False), bound_plan(engine, 3072, 3072, 10240, True)
    assert kernel_time(dense, 0.8, fast).cycles_total == kernel_time(dense, 0.8, slow).cycles_total
    assert kernel_time(sparse, 0.8, slow).cycles_main_loop > 1.15 * kernel_time(sparse, 0.8, fast).cycles_main_loop


def test_needs_the_hardware_bound_schedule(engine):
    """A schedule already scaled by a kernel efficiency is refused (its math would be scaled twice)."""
    problem = GemmProblem(m=512, n=512, k=512, mma=mma_shape("fp16", False), input_unique_elements=512 * 512)
    plan = choose_schedule(problem, engine.gpu_spec("fp16"), 0.8)
    with pytest.raises(ValueError, match="hardware-bound schedule"):
        kernel_time(plan, 0.8, LibraryConstants(operand_efficiency=1.0, wave_overhead_cycles=0.0))


def test_gemv_comes_out_slower_only_through_the_padded_call(engine):
    """With the fitted constants the padded 2:4 GEMV is slower than dense; without the padded-call cost it is faster."""
    layer = LinearLayer(name="gemv", in_features=4096, out_features=4096, batch=1)
    dense = engine.simulate(layer, mode="dense", timing="kernel_model")
    sparse = engine.simulate(layer, mode="sparse_2_4", timing="kernel_model")
    assert sparse.stats["kernel_model"]["cycles_padded_call"] == engine.config.kernel_model.padded_call_cycles > 0
    assert dense.stats["kernel_model"]["cycles_padded_call"] == 0
    assert dense.cycles_total / sparse.cycles_total < 1
    data = load_toml(A100)
    data["engine"]["kernel_model"]["padded_call_cycles"] = 0
    unpadded = engine_from(data).simulate(layer, mode="sparse_2_4", timing="kernel_model")
    assert dense.cycles_total / unpadded.cycles_total > 1


def test_inputs_a_multiple_of_32_rows_are_not_padded(engine):
    """A 2:4 GEMM with N = 6144 (BERT, batch 16 x 384) pays no padded-call cost."""
    result = engine.simulate(LinearLayer(name="ffn", in_features=768, out_features=3072, batch=6144), mode="sparse_2_4",
                             timing="kernel_model")
    assert result.stats["kernel_model"]["cycles_padded_call"] == 0


def test_kernel_model_timing_is_wired_and_keeps_invariants(engine):
    """timing='kernel_model' carries the model's total in cycles (parts add up, static count follows it); the other figures stay in stats."""
    layer = GemmLayer(name="g", m=3072, n=12288, k=768)
    result = engine.simulate(layer, mode="sparse_2_4", timing="kernel_model")
    check_invariants(result)
    figures = result.stats["figures"]
    assert set(figures) == {"hardware_bound", "library_calibrated", "kernel_model"}
    parts = result.stats["kernel_model"]
    total = parts["cycles_main_loop"] + parts["cycles_fill_drain"] + parts["cycles_wave_overhead"] + parts["cycles_padded_call"]
    assert result.cycles_total == figures["kernel_model"]["cycles_total"] == total
    assert result.cycles["compute"] + result.cycles["fill_drain"] + result.cycles["stall"] == result.cycles_total
    assert figures["kernel_model"]["cycles_total"] > figures["hardware_bound"]["cycles_total"]
    assert result.counts[("SM", "-", "static_cycle")] == result.cycles_total * 108
    assert parts["library"] == "cutlass"
    assert engine.simulate(layer, mode="sparse_2_4").stats["figures"]["kernel_model"] == figures["kernel_model"]


def test_library_setting_selects_the_constant_set(engine):
    """sparse_library = 'cusparselt' times 2:4 kernels with the cuSPARSELt constants; dense is unchanged."""
    data = load_toml(A100)
    data["engine"]["kernel_model"]["sparse_library"] = "cusparselt"
    other = engine_from(data)
    layer = GemmLayer(name="g", m=3072, n=12288, k=768)
    assert other.simulate(layer, mode="sparse_2_4", timing="kernel_model").stats["kernel_model"]["library"] == "cusparselt"
    assert (other.simulate(layer, mode="sparse_2_4", timing="kernel_model").cycles_total
            != engine.simulate(layer, mode="sparse_2_4", timing="kernel_model").cycles_total)
    assert (other.simulate(layer, mode="dense", timing="kernel_model").cycles_total
            == engine.simulate(layer, mode="dense", timing="kernel_model").cycles_total)


def test_refusals_name_the_problem():
    """No [engine.kernel_model] table: timing='kernel_model' is refused per run and in the file; an unknown library is refused."""
    data = load_toml(A100)
    table = data["engine"].pop("kernel_model")
    without = engine_from(data)
    layer = GemmLayer(name="g", m=64, n=64, k=64)
    assert "kernel_model" not in without.simulate(layer).stats["figures"]
    with pytest.raises(InputError, match=r"timing 'kernel_model' needs an \[engine.kernel_model\] table"):
        without.simulate(layer, timing="kernel_model")
    data["engine"]["timing"] = "kernel_model"
    with pytest.raises(ConfigError, match="kernel_model"):
        engine_from(data)
    with pytest.raises(ValueError, match="sparse_library must be one of cusparselt, cutlass"):
        KernelModelConfig.model_validate({**table, "sparse_library": "cublas"})


def test_kernel_cycles_is_smooth_in_the_constants(engine):
    """The unrounded total moves with a tiny change of a constant (the fit's finite differences need it)."""
    plan = bound_plan(engine, 768, 12288, 3072, sparse=True)
    a = kernel_cycles(plan, 0.8, LibraryConstants(operand_efficiency=0.6, wave_overhead_cycles=2000.0))
    b = kernel_cycles(plan, 0.8, LibraryConstants(operand_efficiency=0.6, wave_overhead_cycles=2000.001))
    assert b - a == pytest.approx(plan.waves * 0.001)
    assert np.isfinite(a)
