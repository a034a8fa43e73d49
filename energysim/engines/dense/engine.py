"""Dense PE-array engine: a rows x cols systolic array, output- or weight-stationary.

The baseline every sparse engine is compared with: it executes every MAC of the
layer's GEMM, zero or not (zeros are neither skipped nor gated), so
unstructured sparsity buys it nothing while channel pruning, which shrinks the
GEMM, buys what it removes.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from energysim.engines.base import OPTIONS_CONFIG, Engine
from energysim.engines.dense.cycle import run_cycle
from energysim.engines.dense.fast import PathResult, run_fast
from energysim.engines.dense.schedule import dram_words, smallest_tile_words, tiles
from energysim.engines.dense.tiler import choose_tiling
from energysim.engines.result import Compulsory, LayerResult, StorageFit
from energysim.errors import UnsupportedError
from energysim.units import ceil_div
from energysim.hardware.hierarchy import Hardware
from energysim.workloads.lowering import ConvFootprint
from energysim.workloads.layers import BatchedMatmulLayer, Conv2dLayer, GemmLayer, GroupedConv2dLayer, Layer
from energysim.workloads.workload import LayerTensors


MAX_ARRAY_SIDE = 65_536
"""Largest PE rows or columns: 256x a TPU v1 side; the fold arithmetic holds arrays of rows + cols steps."""

MAX_CYCLE_PATH_TILES = 2_000_000
"""Most SRAM tiles the cycle-level path accepts: it holds the whole tile table (about 260 MB at this size; the whole
process stays under 500 MB: 355 MB peak resident on 2,097,152 tiles, `/usr/bin/time -v`)."""

BYTES_PER_CYCLE_PATH_TILE = 130
"""Measured peak memory per tile of the cycle-level path (tile table and per-tile cycles: 129 bytes by tracemalloc on
64,000 and on 2,097,152 tiles), bytes (for the refusal's estimate)."""

REGISTERS_PER_PE = 3
"""Words each PE's register file holds in both dataflows: a weight, an input and a partial sum."""


class DenseEngineConfig(BaseModel):
    """The ``[engine]`` table of a dense PE array."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["dense"]
    rows: int = Field(gt=0, description="PE rows (at most 65,536).")
    cols: int = Field(gt=0, description="PE columns (at most 65,536).")
    dataflow: Literal["output_stationary", "weight_stationary"] = "output_stationary"
    mac_unit: str = Field(default="MAC", description="Name of the [[units]] entries (actions mult, add) that price a MAC.")
    tiling_objective: Literal["energy", "latency", "edp"] = Field(
        default="edp", description="What the SRAM tiler minimises: memory energy (pJ), stall-free cycles, or their product.")

    @model_validator(mode="after")
    def _check(self) -> "DenseEngineConfig":
        if max(self.rows, self.cols) > MAX_ARRAY_SIDE:
            raise ValueError(f"rows and cols must each be at most {MAX_ARRAY_SIDE:,} (got rows = {self.rows}, cols = {self.cols})")
        return self


class DenseOptions(BaseModel):
    """What one run of the dense engine may choose."""

    model_config = OPTIONS_CONFIG

    path: Literal["fast", "cycle"] = Field(
        default="fast", description="fast: closed form; cycle: cycle by cycle (the reference); identical results.")


def one_group(layer: GroupedConv2dLayer) -> Conv2dLayer:
    """One group of a grouped convolution as a conv2d layer: every group is this GEMM.

    Parameters
    ----------
    layer
        The grouped convolution.

    Returns
    -------
    Conv2dLayer
        ``in_channels / groups`` to ``out_channels / groups`` channels, the same window and batch.

    Raises
    ------
    UnsupportedError
        For a dilated kernel (the window model of the dense engine's inputs has no dilation).
    """
    if layer.dilation != 1:
        raise UnsupportedError(
            f"layer '{layer.name}': the dense engine runs a grouped_conv2d with dilation 1 only (got dilation {layer.dilation})"
        )
    return Conv2dLayer(
        name=layer.name, in_channels=layer.in_channels // layer.groups, out_channels=layer.out_channels // layer.groups,
        in_height=layer.in_height, in_width=layer.in_width, kernel_height=layer.kernel_height,
        kernel_width=layer.kernel_width, stride=layer.stride, padding=layer.padding, batch=layer.batch,
    )


def independent_gemms(layer: Layer) -> tuple[Layer, int]:
    """The layer whose one GEMM runs, and how many times in a row: the dense engine's lowering.

    A grouped convolution is ``groups`` GEMMs of one group (:func:`one_group`), a
    batched matmul its ``batch`` GEMMs ``A[b] @ B[b]`` (each ``m x n x k``, ``A``
    in the weights' role), any other layer its one GEMM.

    Parameters
    ----------
    layer
        Any layer the dense engine runs.

    Returns
    -------
    tuple[Layer, int]
        The layer of one GEMM and how many of them run (a count).

    Raises
    ------
    UnsupportedError
        For a dilated grouped convolution (:func:`one_group`).
    """
    if isinstance(layer, GroupedConv2dLayer):
        return one_group(layer), layer.groups
    if isinstance(layer, BatchedMatmulLayer):
        return GemmLayer(name=layer.name, m=layer.m, n=layer.n, k=layer.k), layer.batch
    return layer, 1


class DenseEngine(Engine):
    """A systolic PE array over a DRAM -> SRAM buffer -> per-PE register file hierarchy.

    The GEMM is tiled to fit the SRAM double-buffered, tiles are fetched from DRAM
    while the previous tile computes, and the array runs skewed folds with
    SRAM-bandwidth stalls (see :mod:`energysim.engines.dense.schedule`). Two
    execution paths give identical counts and cycles: ``path="fast"`` (closed form,
    default) and ``path="cycle"`` (cycle by cycle, the reference).

    Every access is counted per (level, tensor, action); every MAC is priced as one
    multiply and one add of the hardware's ``MAC`` unit. ``storage_fit`` says whether
    each whole tensor (weights, distinct inputs, outputs) fits the SRAM buffer; one
    that does not is tiled, and its DRAM traffic (re-reads included) is in the counts.

    References
    ----------
    .. [1] H. T. Kung, "Why systolic architectures?", IEEE Computer 15(1), 1982.
    .. [2] A. Samajdar et al., "SCALE-Sim: Systolic CNN Accelerator Simulator",
       arXiv:1811.02883, 2018 (fold cycle formula).
    .. [3] Y.-H. Chen, J. Emer, V. Sze, "Eyeriss: A Spatial Architecture for
       Energy-Efficient Dataflow for Convolutional Neural Networks", ISCA 2016
       (dataflow taxonomy, per-level access counting).
    """

    kind = "dense"
    config_model = DenseEngineConfig
    options_model = DenseOptions
    level_kinds = ("dram", "sram", "regfile")

    def __init__(self, hardware: Hardware, config: DenseEngineConfig):
        super().__init__(hardware, config)
        where = self.source
        for level in hardware.levels:
            missing = [t for t in ("weights", "inputs", "outputs") if not level.holds(t)]
            if missing:
                raise UnsupportedError(
                    f"{where}: memory level '{level.name}': the dense engine needs every level to hold weights, "
                    f"inputs and outputs (bypass not modelled; missing {missing})"
                )
        widths = {level.config.word_bits for level in hardware.levels}
        if len(widths) != 1:
            raise UnsupportedError(f"{where}: memory: the dense engine needs one word_bits at every level (got {sorted(widths)})")
        rf = hardware.levels[2]
        if rf.capacity_words is not None and rf.capacity_words < REGISTERS_PER_PE:
            raise UnsupportedError(
                f"{where}: memory level '{rf.name}': capacity_bytes must hold the {REGISTERS_PER_PE} words a PE "
                f"keeps (a weight, an input and a partial sum) (got {rf.config.capacity_bytes} bytes = "
                f"{rf.capacity_words} words)"
            )
        self.levels = {"dram": hardware.levels[0], "sram": hardware.levels[1], "rf": hardware.levels[2]}
        self.prices = {(role, action): cost.energy_pj for role, level in self.levels.items() for action, cost in level.costs.items()}

    def required_costs(self) -> tuple[tuple[str, str], ...]:
        """A MAC is priced as one multiply and one add of the ``mac_unit``.

        Returns
        -------
        tuple[tuple[str, str], ...]
            ``(mac_unit, "mult")`` and ``(mac_unit, "add")``.
        """
        return (self.config.mac_unit, "mult"), (self.config.mac_unit, "add")

    def run(self, layer: Layer, tensors: LayerTensors | None, options: DenseOptions) -> LayerResult:
        """Simulate one layer.

        Parameters
        ----------
        layer
            Linear, conv2d or GEMM layer (lowered to its GEMM), a grouped conv2d or a
            batched matmul: its groups (its ``batch`` products) run one after another,
            each one GEMM from an empty pipeline (counts and cycles are one GEMM's
            times the groups; :func:`independent_gemms`).
        tensors
            Ignored for counting: a dense array executes every MAC whatever the values.
        options
            ``path``: ``fast`` (closed form) or ``cycle`` (cycle-level reference).

        Returns
        -------
        LayerResult
            Counts in words (memory) and MACs, cycles, compulsory bounds and stats.

        Raises
        ------
        UnsupportedError
            If the smallest double-buffered tile does not fit the SRAM, the ``cycle`` path
            would hold more than ``MAX_CYCLE_PATH_TILES`` tiles, or a grouped convolution is dilated.
        """
        path = options.path
        cfg = self.config
        gemm_layer, groups = independent_gemms(layer)
        shape = gemm_layer.gemm_shape()
        sram = self.levels["sram"]
        sram_bw = sram.config.bandwidth_words_per_cycle
        dram = self.levels["dram"]
        dram_bw = dram.config.bandwidth_words_per_cycle
        footprint = ConvFootprint.of(gemm_layer)
        needed = smallest_tile_words(shape.m, shape.n, shape.k, cfg.rows, cfg.cols, cfg.dataflow)
        if sram.capacity_words < needed:
            raise UnsupportedError(
                f"{self.hardware.path or self.hardware.name}: memory[{self.hardware.levels.index(sram)}].capacity_bytes "
                f"must hold the smallest double-buffered tile of layer '{layer.name}' ({needed} words of "
                f"{sram.config.word_bits} bits for a {shape.m}x{shape.n}x{shape.k} GEMM on a {cfg.rows}x{cfg.cols} array) "
                f"(got {sram.config.capacity_bytes} bytes = {sram.capacity_words} words)"
            )
        choice = choose_tiling(
            shape.m, shape.n, shape.k, cfg.rows, cfg.cols, cfg.dataflow, int(sram.capacity_words), self.prices, dram_bw,
            footprint, cfg.tiling_objective,
        )
        tiling = choice.tiling
        n_tiles = ceil_div(shape.m, tiling.m) * ceil_div(shape.n, tiling.n) * ceil_div(shape.k, tiling.k)
        if path == "cycle" and n_tiles > MAX_CYCLE_PATH_TILES:
            raise UnsupportedError(
                f"dense engine: path 'cycle' holds every SRAM tile in memory and layer '{layer.name}' has {n_tiles:,} "
                f"tiles (about {n_tiles * BYTES_PER_CYCLE_PATH_TILE / 2 ** 20:,.0f} MB), more than the "
                f"{MAX_CYCLE_PATH_TILES:,} allowed (path 'fast' gives identical counts and cycles)"
            )
        if path == "fast":
            raw = run_fast(shape.m, shape.n, shape.k, tiling, footprint, cfg.rows, cfg.cols, cfg.dataflow, sram_bw, dram_bw)
        else:
            schedule = tiles(shape.m, shape.n, shape.k, tiling, footprint)
            raw = run_cycle(schedule, cfg.rows, cfg.cols, cfg.dataflow, sram_bw, dram_bw)
        if groups > 1:
            raw = raw.repeated(groups)
        return self._result(layer, shape, groups, tiling, footprint, n_tiles, raw, choice.candidates)

    def _result(self, layer: Layer, shape: Any, groups: int, tiling: Any, footprint: ConvFootprint | None,
                n_tiles: int, raw: PathResult, candidates: int) -> LayerResult:
        counts: dict[tuple[str, str, str], int] = {}
        for (role, tensor, action), value in raw.counts.items():
            counts[(self.levels[role].name, tensor, action)] = int(value)
        counts[(self.config.mac_unit, "-", "mult")] = raw.macs
        counts[(self.config.mac_unit, "-", "add")] = raw.macs
        dram = self.levels["dram"].name
        cycles = {
            "compute": raw.cycles_compute,
            "fill_drain": raw.cycles_skew + raw.cycles_head + raw.cycles_tail,
            "stall": raw.cycles_sram_stall + raw.cycles_dram_wait,
            "total": raw.cycles_total,
        }
        weights_words, inputs_words, outputs_words = dram_words(shape.m, shape.n, shape.k, tiling, footprint)
        weights, outputs = groups * shape.m * shape.k, groups * shape.m * shape.n
        inputs_compulsory = layer.unique_input_elements()
        sram = self.levels["sram"]
        word_bits = sram.config.word_bits
        storage_fit = [
            StorageFit.at_level(sram, tensor, elements * word_bits)
            for tensor, elements in (("weights", weights), ("inputs", inputs_compulsory), ("outputs", outputs))
        ]
        return self.result(
            layer,
            counts=counts,
            cycles=cycles,
            macs=raw.macs,
            macs_peak_per_cycle=self.config.rows * self.config.cols,
            compulsory=[
                Compulsory(dram, "weights", ("read",), weights),
                Compulsory(dram, "inputs", ("read",), inputs_compulsory),
                Compulsory(dram, "outputs", ("write",), outputs),
            ],
            stats={
                "gemm_m": shape.m, "gemm_n": shape.n, "gemm_k": shape.k, "groups": groups,
                "weight_storage_bits": 0 if isinstance(layer, BatchedMatmulLayer) else weights * self.levels["dram"].config.word_bits,
                "dataflow": self.config.dataflow,
                "tile_m": tiling.m, "tile_n": tiling.n, "tile_k": tiling.k, "tiles": n_tiles * groups,
                "tiling_objective": self.config.tiling_objective, "tiling_candidates": candidates,
                "dram_words_closed_form": groups * (weights_words + inputs_words + outputs_words),
                "cycles_sram_stall": raw.cycles_sram_stall, "cycles_dram_wait": raw.cycles_dram_wait,
                "cycles_head": raw.cycles_head, "cycles_tail": raw.cycles_tail, "cycles_skew": raw.cycles_skew,
            },
            storage_fit=storage_fit,
        )
