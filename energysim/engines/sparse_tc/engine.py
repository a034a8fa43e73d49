"""An A100-class GPU running a layer's GEMM on dense or 2:4 sparse tensor cores.

Both modes share one memory hierarchy (HBM -> L2 -> shared memory -> registers)
and one cost table, so a dense and a 2:4 run of the same layer compare like for
like. The schedule (tiles, waves, per-wave bottleneck) is in
:mod:`energysim.engines.sparse_tc.schedule`; the 2:4 storage format is
:mod:`energysim.formats.nm_compressed`.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, Literal, get_args

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from energysim.engines.base import OPTIONS_CONFIG, Engine
from energysim.engines.sparse_tc.kernel_model import KernelModelConfig, KernelTime, input_is_padded, model_time
from energysim.engines.sparse_tc.schedule import (
    DTYPES,
    GemmProblem,
    GpuSpec,
    PartialWave,
    Schedule,
    choose_schedule,
    effective_macs_per_cycle_per_sm,
    mma_shape,
    schedule,
)
from energysim.engines.result import Compulsory, LayerResult, StorageFit
from energysim.errors import ConfigError, InputError, UnsupportedError
from energysim.formats import nm_compressed
from energysim.hardware.hierarchy import Hardware
from energysim.units import ceil_div
from energysim.workloads.layers import GemmShape, Layer
from energysim.workloads.workload import LayerTensors

Mode = Literal["dense", "sparse_2_4"]
"""Tensor-core modes: dense ``mma`` or 2:4 structured-sparse ``mma.sp`` (1:2 for TF32)."""

MODES: tuple[str, ...] = get_args(Mode)
"""The values of :data:`Mode`, for the check of a mode given to a method by name."""

Timing = Literal["hardware_bound", "library_calibrated", "kernel_model"]
"""The timing figures: which one ``LayerResult.cycles`` carries (the others go to stats)."""

TIMING_LABELS: dict[str, str] = {"hardware_bound": "hardware bound", "library_calibrated": "library-calibrated",
                                 "kernel_model": "kernel model"}
"""The words a report shows for each timing (``stats["timing_label"]``)."""

STATIC_UNIT = ("SM", "static_cycle")
"""The priced unit of time-proportional energy: static and clock power of one SM for one cycle.

Counted as ``cycles_total x sm_count`` for every layer (all SMs are powered for the
whole layer, busy or idle). The bundled A100 file gives it as a power (``power_w`` per
SM), priced per cycle at the file's clock (``power_w x 1000 / clock_ghz`` pJ), so the
energy is power x latency at any clock."""


class DtypeRates(BaseModel):
    """Dense tensor-core MACs per cycle per SM for each data type."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    fp16: int = Field(gt=0)
    bf16: int = Field(gt=0)
    tf32: int = Field(gt=0)
    int8: int = Field(gt=0)


class SparseTensorCoreConfig(BaseModel):
    """The ``[engine]`` table of an A100-class hardware file (``kind = "sparse_tc"``).

    Memory bandwidths, capacities and word sizes come from the hardware's four
    memory levels, outermost first: DRAM (HBM), L2, shared memory (one instance per
    SM), register file (one instance per SM).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["sparse_tc"]
    mode: Mode = Field(default="dense", description="Tensor-core mode.")
    dtype: Literal["fp16", "bf16", "tf32", "int8"] = Field(default="fp16", description="Operand data type.")
    sm_count: int = Field(gt=0, description="Streaming multiprocessors.")
    tensor_cores_per_sm: int = Field(gt=0, description="Tensor cores per SM (reported in stats; rates are per SM).")
    dense_macs_per_cycle_per_sm: DtypeRates = Field(description="Dense tensor-core MACs per cycle per SM, per dtype.")
    sparse_math_speedup: int = Field(
        default=2, ge=1, le=2,
        description="Dense-equivalent MAC-rate factor of mma.sp (2 on A100); sets both the sparse peak and the "
                    "schedule's sparse math time. At most 2: the kept half of A cannot be multiplied faster than "
                    "the dense multipliers run.")
    shared_memory_bytes_per_sm: int = Field(gt=0, description="Shared memory available to blocks per SM, bytes.")
    max_blocks_per_sm: int = Field(default=32, gt=0)
    max_warps_per_sm: int = Field(default=64, gt=0)
    accumulator_register_fraction: float = Field(default=0.5, gt=0.0, le=1.0,
                                                 description="Share of the register file the accumulators may use.")
    warp_tile_m: int = Field(default=64, gt=0, description="Output rows per warp.")
    warp_tile_n: int = Field(default=64, gt=0, description="Output columns per warp.")
    tile_m: int | None = Field(default=None, gt=0, description="Thread-block tile rows (None: chosen).")
    tile_n: int | None = Field(default=None, gt=0, description="Thread-block tile columns (None: chosen).")
    tile_k: int | None = Field(default=None, gt=0, description="Dense K per pipeline step (None: 64 B of A values).")
    pipeline_stages: int = Field(default=2, ge=2, description="Shared-memory buffers per block (2 = double buffering).")
    hbm_latency_cycles: int = Field(ge=0, description="HBM load latency, cycles.")
    l2_latency_cycles: int = Field(ge=0, description="L2 latency, cycles.")
    smem_latency_cycles: int = Field(ge=0, description="Shared-memory latency, cycles.")
    partial_wave: PartialWave = Field(
        default="whole_wave",
        description="whole_wave: a partial last wave costs a whole wave's time (issue 6); per_sm_tiles: "
                    "a documented deviation charging only the tiles the busiest SM holds.")
    kernel_efficiency: float = Field(default=1.0, gt=0.0, le=1.0,
                                     description="Sustained / peak mma issue rate of library kernels (calibrated figure).")
    sparse_kernel_efficiency: float | None = Field(
        default=None, gt=0.0, le=1.0,
        description="Efficiency of the 2:4 kernels for the calibrated figure (None: kernel_efficiency).")
    timing: Timing = Field(
        default="hardware_bound", description="Figure carried by LayerResult.cycles (the others go to stats).")
    kernel_model: KernelModelConfig | None = Field(
        default=None, description="Constants of the library kernel model (sparse_tc.kernel_model); None: no kernel_model figure.")
    board_power_w: float | None = Field(default=None, gt=0.0, description="Board power limit, W (for reports).")

    @model_validator(mode="after")
    def _kernel_model_for_its_timing(self) -> "SparseTensorCoreConfig":
        if self.timing == "kernel_model" and self.kernel_model is None:
            raise ValueError("timing = 'kernel_model' needs an [engine.kernel_model] table of constants")
        return self


class SparseTensorCoreOptions(BaseModel):
    """What one run of the sparse tensor-core engine may choose (default: the configured value)."""

    model_config = OPTIONS_CONFIG

    mode: Mode | None = Field(default=None, description="Tensor-core mode.")
    timing: Timing | None = Field(
        default=None, description="Figure carried by LayerResult.cycles (the others go to stats).")


ASSUMED_2_4 = "weights_assumed_2_4"
"""Stats key: True when a layer without weight tensors ran in 2:4 mode, assumed pruned to exactly 2:4."""


def batched_gemm(layer: Layer) -> tuple[GemmShape, int]:
    """The GEMM shape of one launch and how many equal GEMMs it batches.

    A grouped (or depthwise) convolution is ``groups`` GEMMs of ``M = out / groups``,
    ``K = in / groups * kh * kw``, ``N = batch * out_h * out_w``, each with its own
    weights and input channels, launched together as a batched GEMM (as cuDNN's
    grouped implicit GEMM does); a ``batched_matmul`` is its ``batch`` GEMMs; every
    other kind is one GEMM (``layer.gemm_shape()``).

    Parameters
    ----------
    layer
        Any layer kind with a GEMM lowering.

    Returns
    -------
    tuple[GemmShape, int]
        One GEMM's ``m``, ``n``, ``k`` (elements) and the GEMMs per launch (a count).
    """
    if layer.kind == "grouped_conv2d":
        groups = layer.groups
        return GemmShape(m=layer.out_channels // groups, n=layer.batch * layer.out_height * layer.out_width,
                         k=layer.in_channels // groups * layer.kernel_height * layer.kernel_width), groups
    if layer.kind == "batched_matmul":
        return GemmShape(m=layer.m, n=layer.n, k=layer.k), layer.batch
    return layer.gemm_shape(), 1


@functools.lru_cache(maxsize=512)
def _dense_bound_plan(problem: GemmProblem, gpu: GpuSpec, tile_m: int | None, tile_n: int | None,
                      tile_k: int | None) -> Schedule:
    """:func:`choose_schedule` at the hardware bound, remembered per (problem, GPU, tile sizes).

    Only the 2:4 runs' dense comparison uses it (read, never changed), so a network's repeated
    layer shapes and a sweep's repeated points search each dense shape once per process.
    """
    return choose_schedule(problem, gpu, 1.0, tile_m, tile_n, tile_k)


class SparseTensorCoreEngine(Engine):
    """A100-class GPU: GEMM, linear and conv layers on dense or 2:4 sparse tensor cores.

    A layer is lowered to ``C[M, N] = A[M, K] @ B[K, N]`` with the weights as ``A``; a
    grouped convolution or a batched matmul to a batch of such GEMMs launched together
    (:func:`batched_gemm`).
    In ``sparse_2_4`` mode ``A`` is stored compressed along ``K`` (the kept half of
    the values plus a 2-bit index per kept value; TF32 uses 1:2 with a 4-bit index),
    each ``mma.sp`` instruction covers twice the dense ``K`` of ``mma`` (FP16
    m16n8k32 vs m16n8k16), so the math time halves; ``B`` is read in full and the
    hardware selects the elements that match the metadata; metadata travels through
    every level and costs energy.

    Parameters
    ----------
    hardware
        A hardware with four levels (DRAM, L2, shared memory, register file, outermost
        first) and ``TensorCore`` units priced per ``mac_<dtype>``.
    config
        The validated ``[engine]`` table.

    Notes
    -----
    *Counts* (``(component, tensor, action)``, in each level's words):
    HBM ``read`` of weights/metadata/inputs and ``write`` of outputs; L2 ``fill``
    (from HBM), ``read`` (to shared memory; reads minus fills are L2 hits), outputs
    ``write`` (from the SMs) and ``read`` (write-back); SharedMem ``fill``
    (``cp.async``) and ``read`` (``ldmatrix``), outputs ``write``/``read`` (epilogue
    staging); RegFile ``fill`` (fragments loaded), ``read`` (mma operands: A, metadata,
    B, C) and outputs ``update`` (D); ``TensorCore`` ``mac_<dtype>`` = multiplications
    executed, tile padding included.

    ``SM`` ``static_cycle`` = ``cycles_total x sm_count``: the time-proportional
    (static and clock) energy, priced per SM-cycle by the hardware file; on the
    bundled A100 a static power per SM at the run's clock (``power_w x 1000 /
    clock_ghz`` pJ), so static energy is power x latency at any clock. Halving the clock
    doubles the latency of a layer bound on chip (math, shared memory, L2: all in cycles);
    an HBM given in GB/s (``bandwidth_gbps``, as the bundled A100's) keeps its time in
    seconds, so an HBM-bound layer's body does not double.

    *Cycles*: ``compute`` = useful work at full rate on every SM
    (``ceil(M * N * K_stored / (SMs * rate))``); ``fill_drain`` = per wave, the first
    K step's load latency and the epilogue; ``stall`` = everything else: memory stall
    (a wave's memory time beyond its math), tile padding and wave quantisation (a
    partial last wave costs a whole wave's time, issue 6; ``partial_wave =
    "per_sm_tiles"`` is a documented deviation). ``stats`` splits the stall into these three.

    *Without tensors* in sparse mode the layer is assumed to be exactly 2:4 compliant
    (``K`` padded to a multiple of 4); ``weight_density`` is ignored because the
    hardware stores half of ``K`` whatever the density. Such a result says so in
    ``stats["weights_assumed_2_4"]``, and ``energysim run``/``estimate`` print a note:
    it describes the layer pruned to 2:4, not the workload's own (unstructured) pruning. With tensors the mask (or the
    non-zero pattern) must comply with 2:4 along ``K`` or :class:`UnsupportedError`
    names the first offending group. Dense mode ignores sparsity.

    *Which timing ran* is in ``stats["timing"]`` and, in a report's words, in
    ``stats["timing_label"]`` (:data:`TIMING_LABELS`). A 2:4 layer also carries the
    kernel model's time of the same GEMM in dense mode and the ratio
    (``stats["kernel_model"]["dense_cycles_total"]``, ``["vs_dense"]``) and whether
    the PyTorch path pads its input (``["input_padded"]``), so that a run timed at the
    hardware bound can say what library kernels would give
    (:func:`energysim.engines.sparse_tc.notes.timing_note`).

    Not modelled: split-K, L2 compression, instruction issue energy as its own
    action (it is inside the static/clock figure), bank conflicts, clock throttling.

    References
    ----------
    .. [1] NVIDIA, "NVIDIA A100 Tensor Core GPU Architecture", whitepaper, 2020
       (SM and tensor-core rates, 2:4 sparsity, memory hierarchy).
    .. [2] A. Mishra, J. A. Latorre, J. Pool, D. Stosic, D. Stosic, G. Venkatesh,
       C. Yu, P. Micikevicius, "Accelerating Sparse Deep Neural Networks",
       arXiv:2104.08378, 2021.
    .. [3] NVIDIA, "Parallel Thread Execution ISA", mma / mma.sp shapes and
       "Sparse matrix storage" (metadata layout).
    """

    kind = "sparse_tc"
    config_model = SparseTensorCoreConfig
    options_model = SparseTensorCoreOptions
    level_kinds = ("dram", "sram", "sram", "regfile")

    def __init__(self, hardware: Hardware, config: SparseTensorCoreConfig):
        super().__init__(hardware, config)
        source = self.source
        self.hbm, self.l2, self.smem, self.regs = hardware.levels
        for level in (self.smem, self.regs):
            if level.config.instances != config.sm_count:
                raise ConfigError(f"{source}: memory level '{level.name}': instances must equal engine.sm_count "
                                  f"{config.sm_count} (one per SM) (got {level.config.instances})")

    def required_costs(self) -> tuple[tuple[str, str], ...]:
        """A ``TensorCore`` MAC of every dtype, and the static and clock energy per SM-cycle (``STATIC_UNIT``).

        Returns
        -------
        tuple[tuple[str, str], ...]
            (component, action) pairs the hardware must price.
        """
        return (*(("TensorCore", f"mac_{dtype}") for dtype in DTYPES), STATIC_UNIT)

    # ------------------------------------------------------------------ helpers
    def gpu_spec(self, dtype: str) -> GpuSpec:
        """The scheduler's view of the hardware for one data type.

        The fields derived from the memory levels and the data type are computed here;
        every other :class:`GpuSpec` field is the ``[engine]`` config field of the same
        name, read by name (so a field added to both cannot be left behind).

        Parameters
        ----------
        dtype
            ``fp16``, ``bf16``, ``tf32`` or ``int8``.

        Returns
        -------
        GpuSpec
            Bandwidths in bits per cycle, capacities in bytes, latencies in cycles.
        """
        c = self.config
        derived = {
            "dense_macs_per_cycle_per_sm": getattr(c.dense_macs_per_cycle_per_sm, dtype),
            "hbm_bits_per_cycle": self.hbm.config.bandwidth_words_per_cycle * self.hbm.config.word_bits,
            "l2_bits_per_cycle": self.l2.config.bandwidth_words_per_cycle * self.l2.config.word_bits,
            "smem_bits_per_cycle_per_sm": self.smem.config.bandwidth_words_per_cycle * self.smem.config.word_bits,
            "smem_capacity_bytes": min(c.shared_memory_bytes_per_sm, int(self.smem.config.capacity_bytes)),
            "register_file_bytes": int(self.regs.config.capacity_bytes),
            "l2_capacity_bytes": int(self.l2.config.capacity_bytes),
        }
        from_config = {f.name: getattr(c, f.name) for f in dataclasses.fields(GpuSpec) if f.name not in derived}
        return GpuSpec(**derived, **from_config)

    def peak_macs_per_cycle(self, dtype: str | None = None, mode: str | None = None) -> int:
        """Dense-equivalent (effective) MACs per cycle of the whole GPU.

        The same rate the schedule's math time uses
        (:func:`~energysim.engines.sparse_tc.schedule.effective_macs_per_cycle_per_sm`).

        Parameters
        ----------
        dtype
            ``fp16``, ``bf16``, ``tf32`` or ``int8`` (default: the configured one).
        mode
            ``dense`` or ``sparse_2_4`` (default: the configured one).

        Returns
        -------
        int
            Dense-equivalent MACs per cycle, all SMs.

        Raises
        ------
        InputError
            If ``mode`` is not a tensor-core mode.
        """
        dtype = dtype or self.config.dtype
        mode = self._mode(mode)
        mma = mma_shape(dtype, mode == "sparse_2_4")
        return self.config.sm_count * effective_macs_per_cycle_per_sm(self.gpu_spec(dtype), mma)

    def peak_tflops(self, dtype: str | None = None, mode: str | None = None) -> float:
        """Peak dense-equivalent throughput, TFLOPS (TOPS for int8): 2 x MACs/cycle x clock.

        Parameters
        ----------
        dtype, mode
            As :meth:`peak_macs_per_cycle`.

        Returns
        -------
        float
            TFLOPS (TOPS for int8).
        """
        return 2 * self.peak_macs_per_cycle(dtype, mode) * self.hardware.clock_ghz * 1e9 / 1e12

    def compress(self, weights: np.ndarray, keep: np.ndarray | None = None, dtype: str | None = None,
                 what: str | None = None) -> nm_compressed.NMCompressed:
        """Weights in the hardware's sparse storage for ``dtype`` (2:4 with 2-bit indices; TF32 1:2 with 4-bit).

        Parameters
        ----------
        weights
            ``A`` of shape ``(M, ...)`` (trailing dimensions flattened into ``K``).
        keep
            Keep-mask of ``weights``' shape (None: the non-zeros).
        dtype
            Data type whose pattern and bit widths apply (default: the configured one).
        what
            Names the object in the refusal message (default: the matrix or keep-mask).

        Returns
        -------
        NMCompressed
            Kept values and their in-group indices (the metadata), with storage widths in bits.

        Raises
        ------
        UnsupportedError
            If the keep pattern breaks the pattern along the reduction axis.
        """
        spec = DTYPES[dtype or self.config.dtype]
        kept, group = spec.pattern
        return nm_compressed.compress(weights, kept, group, value_bits=spec.value_bits,
                                      index_bits=spec.metadata_bits_per_kept, keep=keep, what=what)

    def matmul(self, weights: np.ndarray, inputs: np.ndarray, mode: str | None = None,
               keep: np.ndarray | None = None) -> np.ndarray:
        """Functional model: ``C = A @ B`` as the tensor cores compute it (float64 arithmetic).

        In sparse mode ``A`` is compressed first (refusing non-compliant patterns) and
        ``C`` is computed from the compressed values and metadata only.

        Parameters
        ----------
        weights
            ``A`` of shape ``(M, ...)`` (trailing dimensions flattened into ``K``).
        inputs
            ``B`` of shape ``(K, N)``.
        mode
            ``dense`` or ``sparse_2_4`` (default: the configured mode).
        keep
            Optional keep-mask of ``weights``' shape.

        Returns
        -------
        numpy.ndarray
            ``C`` of shape ``(M, N)``, float64.

        Raises
        ------
        UnsupportedError
            In sparse mode, if the keep pattern breaks 2:4 (TF32: 1:2) along ``K``.
        """
        mode = self._mode(mode)
        a = np.asarray(weights, dtype=np.float64)
        if mode == "dense":
            matrix = a.reshape(a.shape[0], -1)
            if keep is not None:
                matrix = np.where(np.asarray(keep).reshape(matrix.shape) != 0, matrix, 0.0)
            return matrix @ np.asarray(inputs, dtype=np.float64)
        return nm_compressed.matmul(self.compress(a, keep), inputs)

    def _mode(self, mode: str | None) -> str:
        mode = self.config.mode if mode is None else mode
        if mode not in MODES:
            raise InputError(f"sparse_tc engine: mode must be one of {', '.join(MODES)} (got {mode!r})")
        return mode

    def mode(self, options: SparseTensorCoreOptions) -> str:
        """The run's ``mode`` option, else the configured mode.

        Parameters
        ----------
        options
            One run's validated options.

        Returns
        -------
        str
            ``dense`` or ``sparse_2_4``.
        """
        return options.mode or self.config.mode

    # ------------------------------------------------------------------ simulate
    def run(self, layer: Layer, tensors: LayerTensors | None, options: SparseTensorCoreOptions) -> LayerResult:
        """Simulate one layer's GEMM in dense or 2:4 mode.

        Parameters
        ----------
        layer
            A linear, conv2d or gemm layer (lowered by ``layer.gemm_shape()``), or a
            grouped conv or batched matmul, run as a batched GEMM (:func:`batched_gemm`;
            a batched matmul only in dense mode: its A operand is an activation).
        tensors
            Real weights and mask; in sparse mode their keep pattern must be 2:4 along
            ``K`` (TF32: 1:2). Without tensors a compliant layer is assumed.
        options
            ``mode``: ``dense`` or ``sparse_2_4``; ``timing``: ``hardware_bound``,
            ``library_calibrated`` or ``kernel_model`` (the others are reported in
            ``stats["figures"]``; ``kernel_model`` only when the hardware file has an
            ``[engine.kernel_model]`` table); each defaults to the configured one.

        Returns
        -------
        LayerResult
            Counts in each level's words, cycles, MACs, compulsory bounds and stats.

        Raises
        ------
        UnsupportedError
            If the mask breaks 2:4 along ``K`` (naming the first offending group), or no
            tile fits on chip.
        """
        mode = self.mode(options)
        timing = options.timing or self.config.timing
        if timing == "kernel_model" and self.config.kernel_model is None:
            raise InputError(f"layer '{layer.name}': timing 'kernel_model' needs an [engine.kernel_model] table in the "
                             "hardware file (hwconfigs/a100.toml has one)")
        dtype = self.config.dtype
        sparse = mode == "sparse_2_4"
        shape, batch = batched_gemm(layer)
        if sparse and layer.kind == "batched_matmul":
            raise UnsupportedError(f"layer '{layer.name}': a batched_matmul's A operand is an activation, computed at run "
                                   "time, not weights stored 2:4-compressed; run it in dense mode")
        mma = mma_shape(dtype, sparse)
        spec = DTYPES[dtype]

        nonzero_weights = None
        compressed = None
        if tensors is not None:
            matrix = tensors.weight_matrix()
            if matrix.shape != (batch * shape.m, shape.k):
                raise InputError(f"layer '{layer.name}': weights must reshape to the GEMMs' A operands "
                                 f"({batch * shape.m}, {shape.k}) (got {matrix.shape})")
            keep = tensors.mask.reshape(matrix.shape) if tensors.mask is not None else matrix != 0
            nonzero_weights = int(np.count_nonzero(matrix))
            if sparse:
                kept, group = spec.pattern
                compressed = self.compress(matrix, keep,
                                           what=f"layer '{layer.name}' mask on the {kept}:{group} sparse tensor core")

        problem = GemmProblem(m=shape.m, n=shape.n, k=shape.k, mma=mma, input_unique_elements=layer.unique_input_elements(),
                              batch=batch)
        gpu = self.gpu_spec(dtype)
        library = self.config.kernel_efficiency
        if sparse and self.config.sparse_kernel_efficiency is not None:
            library = self.config.sparse_kernel_efficiency
        calibrated = timing == "library_calibrated"
        plan = choose_schedule(problem, gpu, library if calibrated else 1.0, self.config.tile_m, self.config.tile_n,
                               self.config.tile_k)
        other = schedule(problem, gpu, plan.tile, 1.0 if calibrated else library, plan.group_rows)
        bound_plan = other if calibrated else plan
        kernel = (model_time(bound_plan, shape.n, sparse, self.config.kernel_model)
                  if self.config.kernel_model is not None else None)
        dense_kernel = self._dense_kernel_time(problem, gpu) if sparse and kernel is not None else None

        counts = self._counts(problem, plan, mma)
        if sparse:
            useful = (nonzero_weights * shape.n if nonzero_weights is not None
                      else batch * shape.m * shape.n * problem.k_slots)
        else:
            useful = batch * shape.macs
        compulsory = self._compulsory(layer, problem, compressed)

        compute = plan.cycles_compute_ideal
        if timing == "kernel_model":
            fill_drain = kernel.cycles_fill_drain + kernel.cycles_wave_overhead + kernel.cycles_padded_call
            total = kernel.cycles_total
        else:
            fill_drain = plan.cycles_fill + plan.cycles_drain
            total = plan.cycles_total
        counts[(STATIC_UNIT[0], "-", STATIC_UNIT[1])] = total * self.config.sm_count
        cycles = {"compute": compute, "fill_drain": fill_drain, "stall": total - compute - fill_drain, "total": total}
        stats = self._stats(problem, bound_plan, other if not calibrated else plan, kernel, mode, timing,
                            compressed, useful)
        stats[ASSUMED_2_4] = sparse and tensors is None
        if dense_kernel is not None:
            stats["kernel_model"] |= {"input_padded": input_is_padded(shape.n, sparse, self.config.kernel_model),
                                      "layer_kind": layer.kind,
                                      "pad_input_multiple": self.config.kernel_model.pad_input_multiple,
                                      "dense_cycles_total": dense_kernel.cycles_total,
                                      "vs_dense": kernel.cycles_total / dense_kernel.cycles_total}
        return self.result(
            layer,
            counts=counts,
            cycles=cycles,
            macs=int(useful),
            macs_peak_per_cycle=self.config.sm_count * getattr(self.config.dense_macs_per_cycle_per_sm, dtype),
            compulsory=compulsory,
            stats=stats,
            storage_fit=self._storage_fit(problem),
        )

    # ------------------------------------------------------------------ parts
    def _dense_kernel_time(self, problem: GemmProblem, gpu: GpuSpec) -> KernelTime:
        """The kernel model's time of the same GEMM in dense mode, as a dense hardware-bound or kernel-model run gives it.

        The dense hardware-bound schedule (the tile a dense run chooses), re-weighed by
        the dense library constants: the baseline a 2:4 run's kernel-model figure is
        compared with (``stats["kernel_model"]["vs_dense"]``). One more schedule search
        per 2:4 layer (a few ms).
        """
        dense = dataclasses.replace(problem, mma=mma_shape(problem.mma.dtype.name, False))
        plan = _dense_bound_plan(dense, gpu, self.config.tile_m, self.config.tile_n, self.config.tile_k)
        return model_time(plan, dense.n, False, self.config.kernel_model)

    def _storage_fit(self, problem: GemmProblem) -> list[StorageFit]:
        """Whether each whole tensor (weights, metadata when sparse, distinct inputs, outputs) fits L2 alone.

        The schedule's HBM reuse rule is joint (all operands together,
        ``stats["l2_fits_operands"]``): when they do not fit together, panels are
        re-read from HBM per wave, and those reads are in the counts. A tensor that
        does not fit alone never fits jointly.
        """
        tensors = [("weights", problem.weight_value_bits), ("inputs", problem.input_unique_bits),
                   ("outputs", problem.output_bits)]
        if problem.mma.sparse:
            tensors.insert(1, ("metadata", problem.metadata_bits))
        return [StorageFit.at_level(self.l2, tensor, bits) for tensor, bits in tensors]

    def _counts(self, problem: GemmProblem, plan: Schedule, mma) -> dict[tuple[str, str, str], int]:
        hbm_w, l2_w = self.hbm.config.word_bits, self.l2.config.word_bits
        smem_w, reg_w = self.smem.config.word_bits, self.regs.config.word_bits
        hbm, l2, smem, regs = self.hbm.name, self.l2.name, self.smem.name, self.regs.name
        operands = ("weights", "metadata", "inputs") if mma.sparse else ("weights", "inputs")
        counts: dict[tuple[str, str, str], int] = {}
        for tensor in operands:
            hbm_bits = plan.hbm_read_bits[tensor]
            counts[(hbm, tensor, "read")] = ceil_div(hbm_bits, hbm_w)
            counts[(l2, tensor, "fill")] = ceil_div(hbm_bits, l2_w)
            counts[(l2, tensor, "read")] = ceil_div(plan.l2_read_bits[tensor], l2_w)
            counts[(smem, tensor, "fill")] = ceil_div(plan.l2_read_bits[tensor], smem_w)
            counts[(smem, tensor, "read")] = ceil_div(plan.smem_read_bits[tensor], smem_w)
            counts[(regs, tensor, "fill")] = ceil_div(plan.smem_read_bits[tensor], reg_w)
        instructions = plan.instructions
        words = lambda registers: ceil_div(registers * 1024, reg_w)  # noqa: E731 - warp registers -> level words
        counts[(regs, "weights", "read")] = instructions * words(mma.a_registers)
        counts[(regs, "inputs", "read")] = instructions * words(mma.b_registers)
        if mma.sparse:
            # Only the selected threads' e operand carries metadata: 64 B per FP16 mma.sp, half a warp register.
            counts[(regs, "metadata", "read")] = ceil_div(instructions * mma.metadata_bits, reg_w)
        accumulator_bits = problem.batch * problem.m * problem.n * mma.dtype.accumulator_bits
        counts[(regs, "outputs", "read")] = instructions * words(mma.c_registers) + ceil_div(accumulator_bits, reg_w)
        counts[(regs, "outputs", "update")] = instructions * words(mma.c_registers)
        out_bits = problem.output_bits
        counts[(smem, "outputs", "write")] = ceil_div(out_bits, smem_w)
        counts[(smem, "outputs", "read")] = ceil_div(out_bits, smem_w)
        counts[(l2, "outputs", "write")] = ceil_div(out_bits, l2_w)
        counts[(l2, "outputs", "read")] = ceil_div(plan.hbm_write_bits, l2_w)
        counts[(hbm, "outputs", "write")] = ceil_div(plan.hbm_write_bits, hbm_w)
        counts[("TensorCore", "-", f"mac_{mma.dtype.name}")] = instructions * mma.macs_executed
        return counts

    def _compulsory(self, layer: Layer, problem: GemmProblem, compressed) -> list[Compulsory]:
        """Lower bounds from the layer's geometry and the stored tensor, not from the schedule.

        Weights (and metadata): the compressed tensor's value and metadata bits when
        given, else ``M * K * kept / group`` values (``M * K`` dense) and 2 bits (TF32: 4)
        per kept value; inputs: the distinct input elements (``K * N`` for a GEMM, the
        feature map for a convolution); outputs: ``M * N`` elements; tensor-core
        multiplies: ``M * N * K * kept / group`` (``M * N * K`` dense). The weights and
        inputs must also each cross L2 to the SMs at least once.
        """
        mma = problem.mma
        spec = mma.dtype
        m, n, k = problem.batch * problem.m, problem.n, problem.k  # a batch's A rows stack; each GEMM has its own B
        kept, group = spec.pattern if mma.sparse else (1, 1)
        if compressed is not None:
            weight_bits, metadata_bits = compressed.slots * compressed.value_bits, compressed.metadata_bits
        else:
            weight_bits = ceil_div(m * k * kept * spec.value_bits, group)
            metadata_bits = ceil_div(m * k * kept * spec.metadata_bits_per_kept, group) if mma.sparse else 0
        input_bits = layer.unique_input_elements() * spec.value_bits
        hbm, hbm_w = self.hbm.name, self.hbm.config.word_bits
        l2, l2_w = self.l2.name, self.l2.config.word_bits
        bounds = [
            Compulsory(hbm, "weights", ("read",), ceil_div(weight_bits, hbm_w)),
            Compulsory(hbm, "inputs", ("read",), ceil_div(input_bits, hbm_w)),
            Compulsory(hbm, "outputs", ("write",), ceil_div(m * n * spec.output_bits, hbm_w)),
            Compulsory(l2, "weights", ("read",), ceil_div(weight_bits, l2_w)),
            Compulsory(l2, "inputs", ("read",), ceil_div(problem.input_matrix_bits, l2_w)),
            Compulsory("TensorCore", "-", (f"mac_{spec.name}",), ceil_div(m * n * k * kept, group)),
        ]
        if mma.sparse:
            bounds.append(Compulsory(hbm, "metadata", ("read",), ceil_div(metadata_bits, hbm_w)))
        return bounds

    def _stats(self, problem: GemmProblem, bound_plan: Schedule, calibrated_plan: Schedule, kernel: KernelTime | None,
               mode: str, timing: str, compressed, useful: int) -> dict[str, Any]:
        """Stats of the run; ``bound_plan`` is the hardware-bound schedule, ``calibrated_plan`` the library-calibrated one."""
        clock_hz = self.hardware.clock_ghz * 1e9
        flops = 2 * problem.batch * problem.m * problem.n * problem.k
        dtype = problem.mma.dtype.name
        peak = self.peak_tflops(dtype, mode)

        def figure(cycles_total: int, efficiency: float, bound: str) -> dict[str, Any]:
            seconds = cycles_total / clock_hz
            tflops = flops / seconds / 1e12 if seconds else 0.0
            return {"cycles_total": cycles_total, "latency_s": seconds, "effective_tflops": tflops,
                    "fraction_of_peak": tflops / peak if peak else 0.0, "kernel_efficiency": efficiency,
                    "bound": bound}

        figures = {"hardware_bound": figure(bound_plan.cycles_total, bound_plan.efficiency, bound_plan.bound),
                   "library_calibrated": figure(calibrated_plan.cycles_total, calibrated_plan.efficiency,
                                                calibrated_plan.bound)}
        if kernel is not None:
            config = self.config.kernel_model
            figures["kernel_model"] = figure(kernel.cycles_total, config.mma_efficiency, kernel.bound)
        plan = calibrated_plan if timing == "library_calibrated" else bound_plan
        l2_hits = {t: max(0, ceil_div(plan.l2_read_bits[t], self.l2.config.word_bits) - ceil_div(plan.hbm_read_bits[t], self.l2.config.word_bits))
                   for t in plan.hbm_read_bits}
        weight_bytes_dense = ceil_div(problem.batch * problem.m * problem.k * problem.mma.dtype.value_bits, 8)
        weight_bytes_stored = ceil_div(problem.weight_value_bits + problem.metadata_bits, 8)
        stats: dict[str, Any] = {
            "mode": mode,
            "dtype": dtype,
            "gemm_m": problem.m, "gemm_n": problem.n, "gemm_k": problem.k, "gemm_batch": problem.batch,
            "mma_shape": f"m{problem.mma.m}n{problem.mma.n}k{problem.mma.k}" + (".sp" if problem.mma.sparse else ""),
            "timing": timing,
            "timing_label": TIMING_LABELS[timing],
            "figures": figures,
            "bound": figures[timing]["bound"],
            "bound_kind": "math-bound" if figures[timing]["bound"] == "math" else "memory-bound",
            "resource_cycles": dict(plan.resource_cycles),
            "peak_tflops": peak,
            "effective_tflops": figures[timing]["effective_tflops"],
            "macs_dense_equivalent": problem.batch * problem.m * problem.n * problem.k,
            "macs_useful": useful,
            "tile_m": plan.tile.m, "tile_n": plan.tile.n, "tile_k": plan.tile.k,
            "tiles": plan.tiles, "tiles_m": plan.tiles_m, "tiles_n": plan.tiles_n, "k_steps": plan.k_steps,
            "raster_group_rows": plan.group_rows,
            "blocks_per_sm": plan.blocks_per_sm, "warps_per_block": plan.warps_per_block,
            "smem_bytes_per_block": plan.smem_bytes_per_block,
            "waves": plan.waves, "last_wave_tiles": plan.last_wave_tiles,
            "occupancy": plan.occupancy,
            "wave_slots": self.config.sm_count * plan.occupancy,
            "wave_cycles": list(plan.wave_cycles),
            "partial_wave": self.config.partial_wave,
            "tensor_cores_per_sm": self.config.tensor_cores_per_sm,
            "tensor_cores": self.config.sm_count * self.config.tensor_cores_per_sm,
            "peak_macs_per_cycle_per_tensor_core": self.peak_macs_per_cycle(dtype, mode)
            / (self.config.sm_count * self.config.tensor_cores_per_sm),
            "sm_cycles": figures[timing]["cycles_total"] * self.config.sm_count,
            "instructions": plan.instructions,
            "cycles_math": plan.cycles_math,
            "cycles_stall_memory": plan.cycles_stall_memory,
            "cycles_stall_wave_quantisation": plan.cycles_stall_wave_quantisation,
            "cycles_stall_tile_padding": plan.cycles_stall_tile_padding,
            "cycles_fill": plan.cycles_fill, "cycles_drain": plan.cycles_drain,
            "l2_fits_operands": plan.l2_fits,
            "l2_hits": l2_hits,
            "hbm_bytes": {t: ceil_div(b, 8) for t, b in plan.hbm_read_bits.items()} | {"outputs": ceil_div(plan.hbm_write_bits, 8)},
            "weight_bytes_dense": weight_bytes_dense,
            "weight_bytes_stored": weight_bytes_stored,
            "weight_storage_bits": 8 * weight_bytes_stored,
            "weight_footprint_ratio": weight_bytes_stored / weight_bytes_dense,
        }
        if kernel is not None:
            stats["kernel_model"] = {
                "library": self.config.kernel_model.sparse_library if problem.mma.sparse else "dense",
                "cycles_main_loop": kernel.cycles_main_loop, "cycles_fill_drain": kernel.cycles_fill_drain,
                "cycles_wave_overhead": kernel.cycles_wave_overhead, "cycles_padded_call": kernel.cycles_padded_call,
            }
        if compressed is not None:
            stats["compressed_nonzeros"] = compressed.nonzeros
            stats["compressed_footprint_bytes"] = compressed.footprint_bytes
        return stats
