"""Reproduce the published A100 dense and 2:4 sparse tensor-core figures.

Every row puts the model's figure next to a published one (or a physical rule
stated in :data:`RULES`), with the ratio, the tolerance and whether it is met. Two timing figures
are reported and labelled:

- **hardware bound**: ideal kernels, the mma pipe at its peak issue rate; the model
  is then limited only by math, shared memory, L2 and HBM bandwidth, waves and
  latencies. It should sit *above* measured throughput.
- **library-calibrated**: the mma issue rate scaled by ``kernel_efficiency``
  (``hwconfigs/a100.toml``), calibrated on one measured dense GEMM (TUT,
  3072x3072x10240, 0.870 ms) with :func:`fit_kernel_efficiency` and applied
  unchanged to every other shape and to the sparse kernels.

Energy includes a time-proportional part: static and clock power per SM, charged per SM-cycle at the run's clock
(``SM.static_cycle`` in ``hwconfigs/a100.toml``), derived by
:func:`static_energy_derivation` so that the board draws its 400 W TDP on the
dense 3072x3072x10240 GEMM at the hardware bound.

Published figures are from ``../shared/reference/a100.md`` (WP = A100 whitepaper,
DS = datasheet, HB = Hopper blog A100 column, PTX = PTX ISA, TUT = PyTorch
semi-structured sparsity tutorial on A100 80GB, CLS#57 = NVIDIA/CUDALibrarySamples
issue 57, TRT = NVIDIA TensorRT sparsity blog).

Rows whose ``ok`` is None are informative (not a like-for-like comparison).
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np
import pandas as pd

from energysim.catalog import hwconfig_path, workload_path
from energysim.config.hardware import HardwareFile
from energysim.config.loading import load_toml
from energysim.engines.sparse_tc.schedule import DTYPES, GemmProblem, choose_schedule, mma_shape, schedule
from energysim.engines import build_engine
from energysim.engines.result import check_invariants
from energysim.engines.sparse_tc.engine import STATIC_UNIT
from energysim.hardware.hierarchy import Hardware, build_hardware, load_hardware
from energysim.progress import progress_bar
from energysim.reproduce.a100_kernel_fit import bert_end_to_end_section, kernel_model_section
from energysim.report.tables import energy_table
from energysim.workloads.layers import GemmLayer, Layer
from energysim.workloads.workload import load_workload

HARDWARE_NAME = "a100"
GEMMS_NAME = "a100-gemms"
VGG16_NAME = "vgg16"
POWER_CALIBRATION_LAYER = "tut_3072x3072x10240"
"""The compute-bound dense FP16 GEMM on which the board is taken to draw its TDP."""

COLUMNS = ("quantity", "figure", "model", "published", "ratio", "tolerance", "ok", "source")
"""Columns of every section, in order."""

PEAK_TFLOPS = {  # (dense, sparse); HB, DS [S]; WP 4.2.1 "312 TFLOPS" [P]
    "fp16": (312.0, 624.0),
    "bf16": (312.0, 624.0),
    "tf32": (156.0, 312.0),
    "int8": (624.0, 1248.0),
}

MEASURED_MS = {  # dense, sparse FP16 GEMM times on A100 (ms)
    "tut_3072x3072x10240": (0.870, 0.630, "TUT [M] (A100 80GB, CUTLASS backend)"),
    "cls57_4096cubed": (0.607959, 0.545792, "CLS#57 [M] (A100, CUDA 11.5, cuSPARSELt vs CUTLASS)"),
}

MEASURED_SPEEDUP_ONLY = {  # measured 2:4 speed-ups of shapes too small for a throughput or calibration row
    "gemv_4096x4096": (0.022, 0.196, "pytorch#111339 [M] (A100, PyTorch semi-structured path, CUTLASS; the 1x4096 "
                                     "input is padded to 32x4096)"),
}
"""Dense and 2:4 times (ms) checked against the library-calibrated speed-up only (within 0.15 of measured)."""

RULES = {  # speed-up rules for the shapes without a measured time: (upper bound, text)
    "small_k_4096x4096x64": (1.25, "small K gains little: speed-up <= 1.25 (threshold ours)"),
    "small_batch_4096x4096_b16": (16 / 9, "small batch is weight-bandwidth-bound: speed-up < 16/9 (byte ratio)"),
    "gemv_4096x4096": (16 / 9, "GEMV can never beat the weight byte ratio: speed-up < 16/9"),
}

TRT_PERF_PER_WATT_GAIN = 1.30  # TRT [P]: "over 30% performance/watt gain compared to dense networks"


def _row(quantity: str, figure: str, model: float, published: float, tolerance: str, ok: bool | None, source: str) -> dict:
    ratio = model / published if published and not math.isnan(published) else float("nan")
    return {"quantity": quantity, "figure": figure, "model": model, "published": published, "ratio": ratio,
            "tolerance": tolerance, "ok": ok, "source": source}


def _frame(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=list(COLUMNS))


@cache
def _hardware() -> Hardware:
    return load_hardware(hwconfig_path(HARDWARE_NAME))


def _engine():
    return build_engine(_hardware())


def _engine_with(**engine_overrides):
    """The A100 engine with some ``[engine]`` keys replaced."""
    path = hwconfig_path(HARDWARE_NAME)
    data = load_toml(path)
    data["engine"] = {**data["engine"], **engine_overrides}
    return build_engine(build_hardware(HardwareFile.model_validate(data), path, path.parent))


def fit_kernel_efficiency(layer_name: str = "tut_3072x3072x10240", mode: str = "dense") -> float:
    """The kernel efficiency that reproduces the measured time of one GEMM in one mode (bisection, 1e-6).

    Parameters
    ----------
    layer_name
        A GEMM of ``workloads/a100-gemms.toml`` with a measured time in :data:`MEASURED_MS`.
    mode
        ``dense`` (fits ``kernel_efficiency``) or ``sparse_2_4`` (fits ``sparse_kernel_efficiency``).

    Returns
    -------
    float
        Fraction of the peak mma issue rate (dimensionless). Uses the tile the engine
        picks for the hardware bound, as the engine's calibrated figure does.
    """
    engine = _engine()
    layer = _gemm_layers()[layer_name]
    shape = layer.gemm_shape()
    target_s = MEASURED_MS[layer_name][0 if mode == "dense" else 1] * 1e-3
    problem = GemmProblem(m=shape.m, n=shape.n, k=shape.k, mma=mma_shape(engine.config.dtype, mode == "sparse_2_4"),
                          input_unique_elements=shape.k * shape.n)
    gpu = engine.gpu_spec(engine.config.dtype)
    bound = choose_schedule(problem, gpu, 1.0)  # the engine keeps the hardware-bound tile for the other figure
    low, high = 1e-3, 1.0
    while high - low > 1e-6:
        middle = (low + high) / 2
        plan = schedule(problem, gpu, bound.tile, middle, bound.group_rows)
        seconds = plan.cycles_total / (engine.hardware.clock_ghz * 1e9)
        low, high = (middle, high) if seconds > target_s else (low, middle)
    return high


def fit_sparse_efficiency(layer_name: str = "tut_3072x3072x10240") -> float:
    """The 2:4 kernel efficiency that reproduces the measured sparse time of one GEMM (see :func:`fit_kernel_efficiency`).

    Parameters
    ----------
    layer_name
        A layer of the validation GEMMs with a measured time in ``MEASURED_MS``.

    Returns
    -------
    float
        Fraction of the peak mma.sp issue rate (dimensionless).
    """
    return fit_kernel_efficiency(layer_name, "sparse_2_4")


def static_energy_derivation(layer_name: str = POWER_CALIBRATION_LAYER) -> dict[str, float]:
    """Derive the static and clock power per SM from the board power (an assumption, stated).

    ASSUMPTION: the board runs at its TDP (``board_power_w``, 400 W) on a compute-bound
    dense FP16 GEMM at the hardware bound, so static + clock power = TDP - the modelled
    dynamic power there, spread over ``sm_count`` SMs at the clock.

    Parameters
    ----------
    layer_name
        The validation GEMM run dense at the hardware bound (the calibration point).

    Returns
    -------
    dict
        ``dynamic_pj`` (dense energy without the static part, pJ), ``seconds`` (hardware-bound
        latency, s), ``dynamic_w``, ``board_w``, ``static_w`` (W), ``static_w_per_sm`` (W, the
        ``power_w`` that ``SM.static_cycle`` carries) and ``static_pj_per_sm_cycle`` (pJ, what one
        SM-cycle costs at the file's clock).
    """
    engine = _engine()
    result = engine.simulate(_gemm_layers()[layer_name], mode="dense", timing="hardware_bound")
    check_invariants(result)
    table = energy_table(result, _hardware())
    static = (table["component"] == STATIC_UNIT[0]) & (table["action"] == STATIC_UNIT[1])
    dynamic_pj = math.fsum(table.loc[~static, "energy_pj"])
    seconds = result.latency_s
    dynamic_w = dynamic_pj * 1e-12 / seconds
    board_w = float(engine.config.board_power_w or 400.0)
    static_w = board_w - dynamic_w
    per_sm_cycle = static_w / (engine.config.sm_count * engine.hardware.clock_ghz * 1e9) * 1e12
    return {"dynamic_pj": dynamic_pj, "seconds": seconds, "dynamic_w": dynamic_w, "board_w": board_w,
            "static_w": static_w, "static_w_per_sm": static_w / engine.config.sm_count,
            "static_pj_per_sm_cycle": per_sm_cycle}


def _run(layer: Layer, mode: str, engine=None, timing: str = "hardware_bound") -> tuple[dict, float]:
    """Both timing figures (dicts from stats) and the energy in pJ of one layer in one mode.

    The energy's static part follows the run time of ``timing``.
    """
    engine = engine or _engine()
    result = engine.simulate(layer, mode=mode, timing=timing)
    check_invariants(result)
    energy_pj = math.fsum(energy_table(result, _hardware())["energy_pj"])
    return result.stats["figures"], energy_pj


def _simulated_math_tflops(dtype: str, mode: str) -> float:
    """Throughput of the schedule's math alone on one 128x128x64 tile, scaled to all SMs (TFLOPS).

    Dense-equivalent MACs of the tile's instructions / its math cycles x SMs x 2 x clock: the
    rate the simulated timing actually uses, not the configured peak read back.
    """
    engine = _engine_with(dtype=dtype, tile_m=128, tile_n=128, tile_k=64)
    result = engine.simulate(GemmLayer(name="tile", m=128, n=128, k=64), mode=mode)
    macs_per_cycle = result.stats["instructions"] * mma_shape(dtype, mode == "sparse_2_4").macs_effective / result.stats["cycles_math"]
    return 2 * macs_per_cycle * engine.config.sm_count * engine.hardware.clock_ghz * 1e9 / 1e12


def peak_section() -> list[dict]:
    """Peak dense and sparse rates per data type, and the rate the simulated math runs at, within 1%.

    Returns
    -------
    list[dict]
        Report rows with the keys of :data:`COLUMNS`; rates in TFLOPS (TOPS for int8).
    """
    engine = _engine()
    rows = []
    for dtype, (dense, sparse) in PEAK_TFLOPS.items():
        for mode, published in (("dense", dense), ("sparse_2_4", sparse)):
            model = engine.peak_tflops(dtype, mode)
            unit = "TOPS" if dtype == "int8" else "TFLOPS"
            rows.append(_row(f"peak {dtype} {mode} ({unit})", "hardware (peak)", model, published, "within 1%",
                             abs(model / published - 1) <= 0.01, "HB, DS [S]; WP 4.2.1 [P]"))
            simulated = _simulated_math_tflops(dtype, mode)
            rows.append(_row(f"simulated math rate {dtype} {mode} ({unit})", "hardware bound (schedule, one tile x SMs)",
                             simulated, published, "within 1%", abs(simulated / published - 1) <= 0.01,
                             "HB, DS [S]; WP 4.2.1 [P]; WP 4.3.2 (2:4 MMA in N/2 cycles)"))
    return rows


def storage_section() -> list[dict]:
    """Compressed weight footprint (from a real compressed matrix) and per-instruction operand bytes, exact.

    Returns
    -------
    list[dict]
        Report rows with the keys of :data:`COLUMNS`; footprints as a fraction of dense bytes, operands in bytes, MACs as counts.
    """
    engine = _engine()
    rng = np.random.default_rng(0)
    rows = []
    published_fraction = {"fp16": (9 / 16, "[D] from PTX: 1/2 + 4 bits per 64 (TSS factor 9)"),
                          "bf16": (9 / 16, "[D] from PTX (TSS factor 9)"),
                          "int8": (10 / 16, "[D] from PTX: 1/2 + 4 bits per 32 (TSS factor 10)"),
                          "tf32": (9 / 16, "[D] from PTX: 1:2 with a 4-bit index per kept 32-bit value")}
    for dtype, (fraction, source) in published_fraction.items():
        kept, group = DTYPES[dtype].pattern
        weights = rng.standard_normal((64, 256))
        keep = np.zeros_like(weights, dtype=bool).reshape(64, -1, group)
        keep[:, :, :kept] = True
        compressed = engine.compress(np.where(keep.reshape(64, 256), weights, 0.0), dtype=dtype)
        model = compressed.footprint_bytes / compressed.dense_bytes
        rows.append(_row(f"compressed weight footprint {dtype} {kept}:{group} (x dense bytes)", "exact", model, fraction,
                         "exact", model == fraction, source))
    sparse, dense = mma_shape("fp16", True), mma_shape("fp16", False)
    for label, model, published in (
        ("mma.sp m16n8k32 f16: A value bytes", sparse.a_bits / 8, 512),
        ("mma.sp m16n8k32 f16: metadata bytes", sparse.metadata_bits / 8, 64),
        ("mma.sp m16n8k32 f16: B bytes", sparse.b_bits / 8, 512),
        ("mma.sp m16n8k32 f16: effective MACs", sparse.macs_effective, 4096),
        ("mma m16n8k16 f16: A bytes", dense.a_bits / 8, 512),
        ("mma m16n8k16 f16: B bytes", dense.b_bits / 8, 256),
        ("mma m16n8k16 f16: MACs", dense.macs_effective, 2048),
    ):
        rows.append(_row(label, "exact", float(model), float(published), "exact", model == published,
                         "[D] from PTX fragment tables / CuTe SM80_SPARSE_16x8x32 [S]"))
    return rows


def _gemm_layers() -> dict[str, Layer]:
    return {layer.name: layer for layer in load_workload(workload_path(GEMMS_NAME)).layers}


@cache
def _gemm_runs() -> dict[str, dict]:
    out = {}
    for name, layer in _gemm_layers().items():
        dense_figures, dense_pj = _run(layer, "dense")
        sparse_figures, sparse_pj = _run(layer, "sparse_2_4")
        _, dense_lib_pj = _run(layer, "dense", timing="library_calibrated")
        _, sparse_lib_pj = _run(layer, "sparse_2_4", timing="library_calibrated")
        out[name] = {"layer": layer, "dense": dense_figures, "sparse": sparse_figures,
                     "dense_pj": dense_pj, "sparse_pj": sparse_pj,
                     "dense_lib_pj": dense_lib_pj, "sparse_lib_pj": sparse_lib_pj}
    return out


def dense_throughput_section() -> list[dict]:
    """Dense FP16 TFLOPS of the large GEMMs against the measured 220-230 TFLOPS (hardware bound, library-calibrated, kernel model).

    Returns
    -------
    list[dict]
        Report rows with the keys of :data:`COLUMNS`; throughputs in TFLOPS.
    """
    rows = []
    runs = _gemm_runs()
    for name, (dense_ms, _, source) in MEASURED_MS.items():
        layer = runs[name]["layer"]
        shape = layer.gemm_shape()
        measured = 2 * shape.m * shape.n * shape.k / (dense_ms * 1e-3) / 1e12
        hw = runs[name]["dense"]["hardware_bound"]["effective_tflops"]
        lib = runs[name]["dense"]["library_calibrated"]["effective_tflops"]
        peak = PEAK_TFLOPS["fp16"][0]
        rows.append(_row(f"{name} dense FP16 TFLOPS", "hardware bound", hw, measured,
                         f"measured <= model <= peak {peak:g}", measured <= hw <= peak, source))
        calibration = name == "tut_3072x3072x10240"
        tolerance = "within 1% (calibration point: fitted)" if calibration else "within 220-230 TFLOPS (validation)"
        ok = abs(lib / measured - 1) <= 0.01 if calibration else 220.0 <= lib <= 230.0
        rows.append(_row(f"{name} dense FP16 TFLOPS", "library-calibrated", lib, measured, tolerance, ok, source))
        kernel = runs[name]["dense"]["kernel_model"]["effective_tflops"]
        tolerance = ("within 5% (a kernel-model fit row)" if calibration
                     else "within 220-230 TFLOPS (validation: not a kernel-model fit row)")
        ok = abs(kernel / measured - 1) <= 0.05 if calibration else 220.0 <= kernel <= 230.0
        rows.append(_row(f"{name} dense FP16 TFLOPS", "kernel model", kernel, measured, tolerance, ok, source))
    return rows


def speedup_section() -> list[dict]:
    """2:4 speed-up (dense time / sparse time) across shapes, both figures.

    Returns
    -------
    list[dict]
        Report rows with the keys of :data:`COLUMNS`; speed-ups dimensionless.
    """
    rows = []
    for name, run in _gemm_runs().items():
        for figure, label in (("hardware_bound", "hardware bound"), ("library_calibrated", "library-calibrated")):
            model = run["dense"][figure]["latency_s"] / run["sparse"][figure]["latency_s"]
            if name in MEASURED_MS:
                dense_ms, sparse_ms, source = MEASURED_MS[name]
                measured = dense_ms / sparse_ms
                if figure == "hardware_bound":
                    rows.append(_row(f"{name} 2:4 speed-up", label, model, measured,
                                     "measured <= model < 2 (a bound)", measured <= model < 2.0, source))
                else:
                    rows.append(_row(f"{name} 2:4 speed-up", label, model, measured, "within 10% of measured",
                                     abs(model / measured - 1) <= 0.10, source))
            elif name in RULES:
                bound, text = RULES[name]
                rows.append(_row(f"{name} 2:4 speed-up", label, model, bound, text, model < bound if bound == 16 / 9 else model <= bound,
                                 "rule: 16/9 = dense/compressed FP16 weight bytes"))
                if name in MEASURED_SPEEDUP_ONLY and figure == "library_calibrated":
                    dense_ms, sparse_ms, source = MEASURED_SPEEDUP_ONLY[name]
                    measured = dense_ms / sparse_ms
                    rows.append(_row(f"{name} 2:4 speed-up vs measured", label, model, measured,
                                     "within 0.15 of measured", abs(model - measured) <= 0.15, source))
            else:
                rows.append(_row(f"{name} 2:4 speed-up", label, model, 2.0, "< 2 (large compute-bound GEMM)", model < 2.0,
                                 "rule: 2:4 halves the math at most"))
    return rows


def sparse_calibration_section() -> list[dict]:
    """A second calibration: 2:4 kernels fitted on TUT's sparse time, validated on CLS#57.

    Returns
    -------
    list[dict]
        Report rows with the keys of :data:`COLUMNS`; speed-ups dimensionless.
    """
    efficiency = fit_sparse_efficiency()
    engine = _engine_with(sparse_kernel_efficiency=efficiency)
    label = f"library-calibrated, 2:4 kernels fitted separately (efficiency {efficiency:.3f})"
    rows = []
    for name, (dense_ms, sparse_ms, source) in MEASURED_MS.items():
        layer = _gemm_layers()[name]
        dense, _ = _run(layer, "dense", engine)
        sparse, _ = _run(layer, "sparse_2_4", engine)
        model = dense["library_calibrated"]["latency_s"] / sparse["library_calibrated"]["latency_s"]
        calibration = name == "tut_3072x3072x10240"
        tolerance = "within 1% (calibration point: fitted)" if calibration else "within 10% of measured (validation)"
        limit = 0.01 if calibration else 0.10
        rows.append(_row(f"{name} 2:4 speed-up", label, model, dense_ms / sparse_ms, tolerance,
                         abs(model / (dense_ms / sparse_ms) - 1) <= limit, source))
    return rows


def energy_section() -> list[dict]:
    """Dense/sparse energy ratio against the speed-up of the same figure (expected: ratio < speed-up).

    Energies include the static part, charged for each figure's own run time.

    Returns
    -------
    list[dict]
        Report rows with the keys of :data:`COLUMNS`; ratios dimensionless.
    """
    rows = []
    for name, run in _gemm_runs().items():
        for figure, label, suffix in (("hardware_bound", "hardware bound", ""), ("library_calibrated", "library-calibrated", "_lib")):
            ratio = run[f"dense{suffix}_pj"] / run[f"sparse{suffix}_pj"]
            speedup = run["dense"][figure]["latency_s"] / run["sparse"][figure]["latency_s"]
            rows.append(_row(f"{name} energy ratio dense/2:4 vs speed-up", label, ratio, speedup,
                             "energy ratio < speed-up", ratio < speedup,
                             "expected: energy ratio < speed-up (published column = model speed-up)"))
    return rows


def power_section() -> list[dict]:
    """Board power of the 3072x3072x10240 FP16 GEMM: dense at the hardware bound is the static-energy calibration point.

    Returns
    -------
    list[dict]
        Report rows with the keys of :data:`COLUMNS`; powers in W.
    """
    run = _gemm_runs()[POWER_CALIBRATION_LAYER]
    derivation = static_energy_derivation()
    board = derivation["board_w"]
    source = "DS via PC2 wiki / glennklockwood [S]: SXM4 TDP 400 W"
    rows = [_row(f"{POWER_CALIBRATION_LAYER} dense dynamic power (W)", "hardware bound", derivation["dynamic_w"], board,
                 "informative: dynamic part only; static + clock = TDP - this (ASSUMPTION)", None, source)]
    for mode, key in (("dense", "dense"), ("2:4", "sparse")):
        for figure, label in (("hardware_bound", "hardware bound"), ("library_calibrated", "library-calibrated")):
            engine = _engine()
            layer = run["layer"]
            result = engine.simulate(layer, mode="dense" if key == "dense" else "sparse_2_4", timing=figure)
            watts = math.fsum(energy_table(result, _hardware())["energy_pj"]) * 1e-12 / result.latency_s
            quantity = f"{POWER_CALIBRATION_LAYER} {mode} power incl. static (W)"
            if key == "dense" and figure == "hardware_bound":
                rows.append(_row(quantity, label, watts, board,
                                 "within 0.1% of board power (calibration point: static energy derived here)",
                                 abs(watts / board - 1) <= 1e-3, source))
            elif key == "dense":
                rows.append(_row(quantity, label, watts, board, "model <= board power", watts <= board, source))
            else:  # no published 2:4 power figure: a prediction, not a check
                rule = ("informative: above the TDP a real board would lower its clock (throttling not modelled)"
                        if watts > board else "informative: no published 2:4 power figure (a prediction, at or below the TDP)")
                rows.append(_row(quantity, label, watts, board, rule, None, source))
    return rows


def _network(workload_layers: list[Layer], name: str, published: float | None, source: str) -> list[dict]:
    rows = []
    labels = {"hardware_bound": "hardware bound", "library_calibrated": "library-calibrated", "kernel_model": "kernel model"}
    totals = {(key, f): 0.0 for key in ("dense", "sparse") for f in labels}
    energy = {"dense": 0.0, "sparse": 0.0}
    for layer in workload_layers:
        for mode, key in (("dense", "dense"), ("sparse_2_4", "sparse")):
            figures, pj = _run(layer, mode)
            energy[key] += pj
            for f in labels:
                totals[(key, f)] += figures[f]["latency_s"]
    for f, label in labels.items():
        speedup = totals[("dense", f)] / totals[("sparse", f)]
        rows.append(_row(f"{name}: 2:4 speed-up over its GEMM layers ({totals[('dense', f)] * 1e3:.3f} -> "
                         f"{totals[('sparse', f)] * 1e3:.3f} ms)", label, speedup,
                         published if published is not None else float("nan"),
                         "informative: measured figure is end to end (attention, softmax, layernorm stay dense)"
                         if published is not None else "informative", None, source))
    ratio = energy["dense"] / energy["sparse"]
    rows.append(_row(f"{name}: energy ratio dense/2:4 ({energy['dense'] * 1e-9:.3f} -> {energy['sparse'] * 1e-9:.3f} mJ)",
                     "model energy", ratio, TRT_PERF_PER_WATT_GAIN,
                     "model >= 1.30 (TRT: 'over 30% performance/watt gain' on networks)", ratio >= TRT_PERF_PER_WATT_GAIN,
                     "TRT [P]"))
    return rows


def networks_section(quick: bool = False) -> list[dict]:
    """Dense vs 2:4 for the BERT-base-sized encoder layer (batch 16 x seq 384) and VGG-16.

    Parameters
    ----------
    quick
        Leave out VGG-16.

    Returns
    -------
    list[dict]
        Report rows with the keys of :data:`COLUMNS`; speed-ups and energy ratios dimensionless.
    """
    layers = _gemm_layers()
    bert = [layers[n] for n in ("bert_qkv", "bert_attn_out", "bert_ffn1", "bert_ffn2")]
    rows = _network(bert, "BERT-base encoder linears, bs 16 x seq 384", 1.23,
                    "TUT [M]: BERT-base SQuAD bs 16, eager, end to end 19.35 -> 15.74 ms")
    if not quick:
        rows += _network(list(load_workload(workload_path(VGG16_NAME)).layers), "VGG-16 batch 1 (workloads/vgg16.toml)", None,
                         "no published A100 2:4 figure for VGG-16")
    return rows


def compare_modes(layers: list[Layer], engine=None) -> pd.DataFrame:
    """Per-layer dense vs 2:4 table: latencies, speed-ups (both figures), energies, ratio and bounds.

    Parameters
    ----------
    layers
        Layers to run (no tensors: 2:4 compliance is assumed).
    engine
        A ``sparse_tc`` engine; default the bundled A100.

    Returns
    -------
    pandas.DataFrame
        One row per layer plus a ``total`` row: ``dense_us``, ``sparse_us`` (hardware bound,
        microseconds), ``speedup_hw``, ``speedup_lib``, ``speedup_km`` (kernel model, the engine's
        configured 2:4 library), ``dense_uj``, ``sparse_uj``,
        ``energy_ratio``, ``bound_dense``, ``bound_sparse``.
    """
    engine = engine or _engine()
    rows = []
    for layer in layers:
        dense, dense_pj = _run(layer, "dense", engine)
        sparse, sparse_pj = _run(layer, "sparse_2_4", engine)
        rows.append({
            "layer": layer.name,
            "dense_us": dense["hardware_bound"]["latency_s"] * 1e6,
            "sparse_us": sparse["hardware_bound"]["latency_s"] * 1e6,
            "dense_lib_us": dense["library_calibrated"]["latency_s"] * 1e6,
            "sparse_lib_us": sparse["library_calibrated"]["latency_s"] * 1e6,
            "dense_km_us": dense["kernel_model"]["latency_s"] * 1e6,
            "sparse_km_us": sparse["kernel_model"]["latency_s"] * 1e6,
            "dense_uj": dense_pj * 1e-6,
            "sparse_uj": sparse_pj * 1e-6,
            "bound_dense": dense["hardware_bound"]["bound"],
            "bound_sparse": sparse["hardware_bound"]["bound"],
        })
    frame = pd.DataFrame(rows)
    total = frame[["dense_us", "sparse_us", "dense_lib_us", "sparse_lib_us", "dense_km_us", "sparse_km_us", "dense_uj",
                   "sparse_uj"]].sum()
    frame = pd.concat([frame, pd.DataFrame([{"layer": "total", **total.to_dict(), "bound_dense": "", "bound_sparse": ""}])],
                      ignore_index=True)
    frame["speedup_hw"] = frame["dense_us"] / frame["sparse_us"]
    frame["speedup_lib"] = frame["dense_lib_us"] / frame["sparse_lib_us"]
    frame["speedup_km"] = frame["dense_km_us"] / frame["sparse_km_us"]
    frame["energy_ratio"] = frame["dense_uj"] / frame["sparse_uj"]
    return frame[["layer", "dense_us", "sparse_us", "speedup_hw", "speedup_lib", "speedup_km", "dense_uj", "sparse_uj",
                  "energy_ratio", "bound_dense", "bound_sparse"]]


_KERNEL_SMALL_N = ("the only one-wave shape of the fit set (288 tiles): the modelled cuSPARSELt time fits (51.9 vs 51.5 us) but the "
                   "modelled dense time is 9.5% short (68.9 vs 76.1 us), so the speed-up lands 0.15-0.18 low; the "
                   "CUTLASS twin is short on both sides alike and lands 0.03-0.06 high")
_KERNEL_CLS57 = ("its own set-up (2022 cuSPARSELt sample vs the CUTLASS profiler's dense kernel, CUDA 11.5): the "
                 "cuSPARSELt constants of 2023 PyTorch runs predict 1.71x; NVIDIA called 1.11x 'expected for small sizes'")
_KERNEL_TUT_LIB = ("library-calibrated scales both kernels by one dense efficiency; the measured sparse kernels run at "
                   "49-56% of the sparse peak vs 71% dense (the kernel model gives each its own constants)")

DECLARED_MISSES: dict[str, str] = {
    "tut_3072x3072x10240 2:4 speed-up/library-calibrated": _KERNEL_TUT_LIB,
    "cls57_4096cubed 2:4 speed-up/library-calibrated": _KERNEL_TUT_LIB,
    "cls57_4096cubed 2:4 speed-up/library-calibrated, 2:4 kernels fitted separately (efficiency 0.557)":
        "one 2:4 efficiency fitted on TUT's K = 10240 does not carry to 4096^3 (see the kernel model section)",
    "gemv_4096x4096 2:4 speed-up vs measured/library-calibrated":
        "the library-calibrated figure has no per-call cost; the kernel model's padded-call term has",
    "cls57_4096cubed dense FP16 TFLOPS/library-calibrated":
        "whole-wave quantisation raises the fitted dense efficiency to 0.805, which 4096^3 (fewer lost waves) then exceeds",
    **{f"{shape} energy ratio dense/2:4 vs speed-up/{figure}":
       "time is latency or HBM weight bytes there while dynamic energy still halves the multiplies"
       for shape in ("small_k_4096x4096x64", "small_batch_4096x4096_b16", "gemv_4096x4096")
       for figure in ("hardware bound", "library-calibrated")},
    "pr90119_cusparselt_768x3072x3072 2:4 speed-up (cusparselt, m=768 n=3072 k=3072)/kernel model, fitted": _KERNEL_SMALL_N,
    "pr90119_cusparselt_768x3072x3072 2:4 speed-up (cusparselt, m=768 n=3072 k=3072)/kernel model, held out (leave-one-out)":
        _KERNEL_SMALL_N,
    "pr90119_cusparselt_768x3072x3072 2:4 speed-up (cusparselt, m=768 n=3072 k=3072)/kernel model, held out "
    "(leave-one-shape-out)": _KERNEL_SMALL_N,
    "cls57_4096cubed 2:4 speed-up (cusparselt, m=4096 n=4096 k=4096)/kernel model, full fit": _KERNEL_CLS57,
    "cls57_4096cubed 2:4 speed-up (cusparselt, m=4096 n=4096 k=4096)/kernel model, held out (not in the fit)": _KERNEL_CLS57,
    "gemv_4096x4096 2:4 speed-up (cusparselt, m=4096 n=1 k=4096)/kernel model, held out (not in the fit)":
        "the only padded row: without it the padded-call cost is unknown (0), and the model says 1.22x, not 0.11x",
    "cutlass408_16384cubed 2:4 effective TFLOPS (cutlass)/kernel model, held out (not in the fit)":
        "the CUTLASS profiler's best 2:4 kernel at a locked 1410 MHz (78% of the sparse peak) is not the kernel "
        "configuration PyTorch's CUTLASS path used in the fitted rows (56%)",
}
"""Every declared miss (``quantity/figure`` of a judged row outside its tolerance) and its reason in one line.

The tests turn each into a strict xfail; :func:`declared_misses_section` prints them with the model figures.
Rows whose quantity carries a measured number (the BERT end-to-end rows) are matched by prefix, see
:data:`DECLARED_MISS_PREFIXES`."""

DECLARED_MISS_PREFIXES: dict[str, str] = {
    "BERT-base bs 4 x seq 384 end-to-end 2:4 speed-up":
        "measured 2:4 is 4.4 ms slower end to end at batch 4 (0.71x) while the modelled 72 linears are 0.05 ms "
        "faster: the loss is outside the GEMM kernels (the model puts no per-call cost on unpadded inputs)",
}
"""Declared misses named by the start of their ``quantity/figure`` key (the rest holds computed figures)."""


def declared_miss_reason(key: str) -> str | None:
    """The declared reason for a ``quantity/figure`` key, or None when the row is not a declared miss.

    Parameters
    ----------
    key
        A report row's ``quantity`` and ``figure`` joined by ``/``.

    Returns
    -------
    str or None
        The reason from :data:`DECLARED_MISSES`, else from the first matching :data:`DECLARED_MISS_PREFIXES`.
    """
    if key in DECLARED_MISSES:
        return DECLARED_MISSES[key]
    return next((reason for prefix, reason in DECLARED_MISS_PREFIXES.items() if key.startswith(prefix)), None)


def declared_misses_section(sections: list[tuple[str, pd.DataFrame]]) -> list[dict]:
    """The declared misses with their model and published figures; ``ok`` None (judged in their own section).

    Parameters
    ----------
    sections
        The titled sections already built.

    Returns
    -------
    list[dict]
        Report rows with the keys of :data:`COLUMNS`; the figure says ``declared miss (...)`` and the source gives the reason.
    """
    rows = []
    for _, frame in sections:
        for row in frame.to_dict("records"):
            reason = declared_miss_reason(f"{row['quantity']}/{row['figure']}")
            if reason is not None and row["ok"] is not None:
                rows.append({**row, "figure": f"declared miss ({row['figure']})", "ok": None,
                             "source": f"declared miss: {reason}"})
    return rows


def reproduce(quick: bool = False, progress: bool | None = None) -> list[tuple[str, pd.DataFrame]]:
    """Titled sections of model vs published A100 figures.

    Parameters
    ----------
    quick
        Skip the VGG-16 network rows (the rest is fast either way).
    progress
        Progress bar on stderr, one tick per stage (None: only on a terminal;
        see :func:`energysim.progress.progress_bar`); the kernel-model stage (its
        leave-one-out refits) and the networks stage each give two sections.

    Returns
    -------
    list of (title, DataFrame)
        Each frame has the columns of :data:`COLUMNS`; ``ok`` is None on informative rows.
        The last lists the declared misses with their reasons.
    """
    stages = [
        [("A100 peak tensor-core rates (model: SMs x MACs/cycle x 2 x clock) and the simulated math rate", peak_section)],
        [("2:4 storage and instruction operands (exact)", storage_section)],
        [("Dense FP16 throughput of large GEMMs (hardware bound vs library-calibrated)", dense_throughput_section)],
        [("2:4 speed-up across shapes (hardware bound vs library-calibrated)", speedup_section)],
        [("2:4 speed-up with the sparse kernels calibrated separately", sparse_calibration_section),
         ("2:4 kernel model vs measured GEMMs: hardware bound, fitted and held out (leave-one-out)", kernel_model_section)],
        [("Energy: dense/2:4 ratio vs speed-up (published = the model's speed-up; ok when the energy ratio is below it)", energy_section)],
        [("Board power: static energy calibrated on the dense FP16 GEMM at the hardware bound", power_section)],
        [("Dense vs 2:4 on networks (BERT-base-sized, VGG-16)", lambda: networks_section(quick)),
         ("BERT-base end to end: measured dense minus modelled dense linears plus modelled 2:4 linears",
          bert_end_to_end_section)],
    ]
    sections = []
    with progress_bar(len(stages), "reproduce a100", progress, unit="stage") as bar:
        for stage in stages:
            sections += [(title, _frame(section())) for title, section in stage]
            bar.update(1)
    sections.append(("Declared misses and why (each is a strict xfail in the sparse_tc reproduction tests)",
                     _frame(declared_misses_section(sections))))
    return sections
