"""Thread-block tiling and wave scheduling of one GEMM on an A100-class GPU.

The GEMM ``C[M, N] = A[M, K] @ B[K, N]`` (``A`` = weights, possibly 2:4-compressed
along ``K``; ``B`` = inputs, dense) is cut into thread-block tiles of
``tile_m x tile_n`` outputs. Each tile walks ``K`` in steps of ``tile_k`` (dense
``K`` elements per step), streaming every step HBM -> L2 -> shared memory
(``cp.async``) -> registers (``ldmatrix``) -> tensor cores (``mma``/``mma.sp``),
with ``pipeline_stages`` shared-memory buffers so transfers overlap the math.

Tiles are issued in a grouped raster order (CUTLASS's threadblock swizzle:
``group_rows`` tile rows at a time, walked column by column; ``group_rows = 1`` is
plain row-major order) onto ``sm_count x blocks_per_sm`` slots; each group of that many tiles is a *wave*. A
wave lasts as long as its slowest resource:

``body = max(math, shared-memory transfer, L2 transfer, HBM transfer)``

plus a fill (the first K step's memory latency) and a drain (the epilogue that
stages the output tile through shared memory to L2).

Wave quantisation (issue 6: "the last partial wave costs a whole wave's time"):
a wave is ``sm_count x occupancy`` tiles, where ``occupancy`` is the number of
blocks per SM the launch fills: ``blocks_per_sm``, or ``ceil(tiles / sm_count)``
when the whole grid is smaller than one full wave. Every wave, the partial last
one included, is charged ``occupancy`` tiles of math, shared-memory and epilogue
time on every SM: a tile runs at the pace it has in a full wave, so a partial
wave lasts as long as a full one. L2 and HBM time follow each wave's actual
traffic. ``partial_wave = "per_sm_tiles"`` selects a refinement that deviates
from the issue: each wave is charged only the tiles its busiest SM holds
(``ceil(tiles in the wave / sm_count)``), i.e. an SM with fewer resident tiles
in the last wave finishes them faster.

L2 reuse: within a wave all tiles advance through ``K`` together, so an ``A`` row
panel or ``B`` column panel used by several tiles of the wave comes from HBM once
and then hits in L2. When ``A``, ``B`` and ``C`` together fit in L2, panels fetched
by an earlier wave also hit (each byte leaves HBM once); otherwise every wave
fetches its own panels again.

All sizes are exact integers in bits internally; counts are converted to each
level's word size by rounding up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, get_args

import numpy as np

from energysim.errors import InputError, UnsupportedError
from energysim.units import ceil_div


@dataclass(frozen=True)
class DtypeSpec:
    """Storage and instruction facts of one tensor-core data type.

    Attributes
    ----------
    name
        ``fp16``, ``bf16``, ``tf32`` or ``int8``.
    value_bits
        Bits of one A/B element in memory (TF32 operands are stored as 32-bit floats).
    accumulator_bits
        Bits of one accumulator element in registers (FP32 or INT32).
    output_bits
        Bits of one output element written to memory.
    dense_mma, sparse_mma
        ``(m, n, k)`` of the largest sm_80 ``mma.sync`` / ``mma.sp`` shape; ``k`` is the
        dense reduction extent one instruction covers.
    pattern
        ``(n, m)`` structured-sparsity pattern of the sparse mode (2:4, or 1:2 for TF32).
    metadata_bits_per_kept
        Metadata bits per kept value (2 for 2:4; 4 for TF32 1:2, PTX ISA).
    """

    name: str
    value_bits: int
    accumulator_bits: int
    output_bits: int
    dense_mma: tuple[int, int, int]
    sparse_mma: tuple[int, int, int]
    pattern: tuple[int, int]
    metadata_bits_per_kept: int


DTYPES: dict[str, DtypeSpec] = {
    # PTX ISA 9.7.13 (mma) and 9.7.14 (mma.sp), shapes for sm_80; "Sparse matrix storage".
    "fp16": DtypeSpec("fp16", 16, 32, 16, (16, 8, 16), (16, 8, 32), (2, 4), 2),
    "bf16": DtypeSpec("bf16", 16, 32, 16, (16, 8, 16), (16, 8, 32), (2, 4), 2),
    "tf32": DtypeSpec("tf32", 32, 32, 32, (16, 8, 8), (16, 8, 16), (1, 2), 4),
    "int8": DtypeSpec("int8", 8, 32, 8, (16, 8, 32), (16, 8, 64), (2, 4), 2),
}
"""The tensor-core data types the engine models."""

REGISTER_BITS_PER_WARP = 32 * 32
"""One warp-wide 32-bit register (32 threads x 32 bits), the unit of fragment sizes."""


@dataclass(frozen=True)
class MmaShape:
    """One warp-level tensor-core instruction and the operand bytes it consumes.

    Attributes
    ----------
    m, n, k
        Instruction shape; ``k`` is the dense reduction extent covered.
    kept_fraction
        Fraction of ``A``'s K positions stored (1 dense, 1/2 for 2:4 and 1:2).
    sparse
        Whether this is ``mma.sp``.
    dtype
        The data type.
    """

    m: int
    n: int
    k: int
    kept_fraction: float
    sparse: bool
    dtype: DtypeSpec

    @property
    def a_bits(self) -> int:
        """Bits of A values per instruction (kept values only in sparse mode)."""
        return int(self.m * self.k * self.kept_fraction) * self.dtype.value_bits

    @property
    def metadata_bits(self) -> int:
        """Bits of metadata per instruction (0 dense)."""
        if not self.sparse:
            return 0
        return int(self.m * self.k * self.kept_fraction) * self.dtype.metadata_bits_per_kept

    @property
    def b_bits(self) -> int:
        """Bits of B per instruction (the full dense ``k x n`` fragment)."""
        return self.k * self.n * self.dtype.value_bits

    @property
    def c_bits(self) -> int:
        """Bits of the accumulator fragment (read as C, written as D)."""
        return self.m * self.n * self.dtype.accumulator_bits

    @property
    def macs_effective(self) -> int:
        """Dense-equivalent MACs, ``m * n * k``."""
        return self.m * self.n * self.k

    @property
    def macs_executed(self) -> int:
        """Multiplications actually performed, ``m * n * k * kept_fraction``."""
        return int(self.m * self.n * self.k * self.kept_fraction)

    @property
    def a_registers(self) -> int:
        """Warp-wide registers holding the A fragment."""
        return ceil_div(self.a_bits, REGISTER_BITS_PER_WARP)

    @property
    def b_registers(self) -> int:
        """Warp-wide registers holding the B fragment."""
        return ceil_div(self.b_bits, REGISTER_BITS_PER_WARP)

    @property
    def c_registers(self) -> int:
        """Warp-wide registers holding the accumulator fragment."""
        return ceil_div(self.c_bits, REGISTER_BITS_PER_WARP)


PartialWave = Literal["whole_wave", "per_sm_tiles"]
"""How a partial wave is charged: a whole wave's time (issue 6, default) or per tile on the busiest SM."""

PARTIAL_WAVE_RULES: tuple[str, ...] = get_args(PartialWave)
"""The values of :data:`PartialWave`, for the check of a hand-built :class:`GpuSpec`."""


def mma_shape(dtype: str, sparse: bool) -> MmaShape:
    """The instruction the engine issues for a data type and mode.

    Parameters
    ----------
    dtype
        ``fp16``, ``bf16``, ``tf32`` or ``int8``.
    sparse
        True for ``mma.sp`` (2:4, or 1:2 for TF32), False for dense ``mma``.

    Returns
    -------
    MmaShape
        Its shape (elements) and the fraction of ``A``'s K positions stored.
    """
    spec = DTYPES[dtype]
    m, n, k = spec.sparse_mma if sparse else spec.dense_mma
    kept = spec.pattern[0] / spec.pattern[1] if sparse else 1.0
    return MmaShape(m=m, n=n, k=k, kept_fraction=kept, sparse=sparse, dtype=spec)


@dataclass(frozen=True)
class GpuSpec:
    """The GPU resources the scheduler uses (all per clock at the core clock).

    The engine builds it in one place
    (:meth:`~energysim.engines.sparse_tc.engine.SparseTensorCoreEngine.gpu_spec`): the
    fields derived from the memory levels and the data type are computed there, and every
    other field is read from the ``[engine]`` config field of the same name.

    Attributes
    ----------
    sm_count
        Streaming multiprocessors.
    dense_macs_per_cycle_per_sm
        Dense tensor-core MACs per cycle per SM for the data type.
    sparse_math_speedup
        Factor by which ``mma.sp`` raises the dense-equivalent MAC rate (2 on A100);
        see :func:`effective_macs_per_cycle_per_sm`.
    hbm_bits_per_cycle, l2_bits_per_cycle
        Aggregate bandwidths in bits per core clock.
    smem_bits_per_cycle_per_sm
        Shared-memory bandwidth per SM, bits per cycle.
    smem_capacity_bytes
        Shared memory one SM can give to thread blocks, bytes.
    register_file_bytes
        Register file per SM, bytes.
    accumulator_register_fraction
        Fraction of the register file the accumulators of resident blocks may take.
    l2_capacity_bytes
        L2 capacity, bytes.
    max_blocks_per_sm, max_warps_per_sm
        Residency limits.
    pipeline_stages
        Shared-memory buffers per block (2 = double buffering).
    warp_tile_m, warp_tile_n
        Output tile of one warp (the tile is split into warps of this size).
    hbm_latency_cycles, l2_latency_cycles, smem_latency_cycles
        Load latencies, cycles.
    partial_wave
        ``whole_wave`` (issue 6: a partial wave costs a whole wave's time) or
        ``per_sm_tiles`` (deviation: charged per tile on the busiest SM).
    """

    sm_count: int
    dense_macs_per_cycle_per_sm: int
    sparse_math_speedup: int
    hbm_bits_per_cycle: float
    l2_bits_per_cycle: float
    smem_bits_per_cycle_per_sm: float
    smem_capacity_bytes: int
    register_file_bytes: int
    accumulator_register_fraction: float
    l2_capacity_bytes: int
    max_blocks_per_sm: int
    max_warps_per_sm: int
    pipeline_stages: int
    warp_tile_m: int
    warp_tile_n: int
    hbm_latency_cycles: int
    l2_latency_cycles: int
    smem_latency_cycles: int
    partial_wave: PartialWave = "whole_wave"


def effective_macs_per_cycle_per_sm(gpu: GpuSpec, mma: MmaShape) -> int:
    """Dense-equivalent (effective) MACs per cycle per SM of an instruction: the single math rate.

    ``dense_macs_per_cycle_per_sm`` for ``mma``; times ``sparse_math_speedup`` for
    ``mma.sp``. The peak figures and the schedule's math time both come from here,
    so the published sparse peak and the simulated sparse math cannot disagree.
    The multiplies actually executed per cycle are this rate times the instruction's
    ``kept_fraction`` (equal to the dense rate on A100: 2 x 1/2).

    Parameters
    ----------
    gpu
        The GPU's dense rate and sparse speed-up.
    mma
        The instruction (only whether it is sparse matters).

    Returns
    -------
    int
        Dense-equivalent MACs per cycle per SM.
    """
    return gpu.dense_macs_per_cycle_per_sm * (gpu.sparse_math_speedup if mma.sparse else 1)


@dataclass(frozen=True)
class GemmProblem:
    """One GEMM, or a batch of equal-shaped independent GEMMs, to schedule.

    Attributes
    ----------
    m, n, k
        ``C[m, n] = A[m, k] @ B[k, n]`` (each GEMM of the batch).
    mma
        The instruction (carries data type and mode).
    input_unique_elements
        Distinct input elements in memory over the whole batch (``batch * k * n`` for
        GEMMs; the feature map for an implicit-GEMM convolution, whose im2col matrix
        repeats elements).
    batch
        Independent GEMMs in one launch, each with its own ``A`` and ``B`` (a grouped
        convolution's groups, attention's heads); 1 for a plain GEMM.
    """

    m: int
    n: int
    k: int
    mma: MmaShape
    input_unique_elements: int
    batch: int = 1

    @property
    def k_slots(self) -> int:
        """Stored A values per row: ``k`` dense; ``ceil(k / m_group) * n_kept`` sparse."""
        if not self.mma.sparse:
            return self.k
        kept, group = self.mma.dtype.pattern
        return ceil_div(self.k, group) * kept

    @property
    def weight_value_bits(self) -> int:
        """Bits of A's stored values (the whole batch)."""
        return self.batch * self.m * self.k_slots * self.mma.dtype.value_bits

    @property
    def metadata_bits(self) -> int:
        """Bits of A's metadata (0 dense)."""
        if not self.mma.sparse:
            return 0
        return self.batch * self.m * self.k_slots * self.mma.dtype.metadata_bits_per_kept

    @property
    def input_matrix_bits(self) -> int:
        """Bits of the ``k x n`` B operands (the whole batch)."""
        return self.batch * self.k * self.n * self.mma.dtype.value_bits

    @property
    def input_unique_bits(self) -> int:
        """Bits of the distinct input elements."""
        return self.input_unique_elements * self.mma.dtype.value_bits

    @property
    def output_bits(self) -> int:
        """Bits of C as written to memory (the whole batch)."""
        return self.batch * self.m * self.n * self.mma.dtype.output_bits


@dataclass(frozen=True)
class Tile:
    """A thread-block tile: ``m x n`` outputs, ``k`` dense reduction elements per step."""

    m: int
    n: int
    k: int


@dataclass
class Schedule:
    """The schedule of one GEMM: tiling, waves, cycles and traffic in bits per tensor.

    Cycle fields are integers; ``cycles_body`` per resource are the sums over waves of
    each resource's own time (the bound is the largest). ``occupancy`` is the blocks
    per SM a wave holds (``sm_count x occupancy`` tiles per wave) and ``wave_cycles``
    the body cycles of each wave (fill and drain excluded); ``wave_resource_cycles``
    holds each wave's math, smem, l2 and hbm time (float cycles, one array entry per
    wave; math at the schedule's ``efficiency``), which the kernel model re-weighs.
    """

    tile: Tile
    tiles_m: int
    tiles_n: int
    k_steps: int
    blocks_per_sm: int
    waves: int
    last_wave_tiles: int
    instructions: int
    cycles_math: int
    cycles_body: int
    cycles_fill: int
    cycles_drain: int
    cycles_compute_ideal: int
    cycles_padded_ideal: int
    resource_cycles: dict[str, float]
    hbm_read_bits: dict[str, int]
    hbm_write_bits: int
    l2_read_bits: dict[str, int]
    smem_read_bits: dict[str, int]
    l2_fits: bool
    smem_bytes_per_block: int
    accumulator_bytes_per_block: int
    warps_per_block: int
    efficiency: float
    group_rows: int = 1
    occupancy: int = 1
    wave_cycles: tuple[int, ...] = ()
    batch: int = 1
    wave_resource_cycles: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def tiles(self) -> int:
        """Thread-block tiles (every GEMM of the batch)."""
        return self.batch * self.tiles_m * self.tiles_n

    @property
    def cycles_total(self) -> int:
        """Fill + body + drain over all waves."""
        return self.cycles_fill + self.cycles_body + self.cycles_drain

    @property
    def cycles_stall_memory(self) -> int:
        """Cycles a wave waited on memory beyond its math (summed over waves)."""
        return self.cycles_body - self.cycles_math

    @property
    def cycles_stall_tile_padding(self) -> int:
        """Math spent on the zero-padded parts of edge tiles (at full occupancy)."""
        return self.cycles_padded_ideal - self.cycles_compute_ideal

    @property
    def cycles_stall_wave_quantisation(self) -> int:
        """Math time lost to idle SMs in partial waves (and to rounding per wave)."""
        return self.cycles_math - self.cycles_padded_ideal

    @property
    def bound(self) -> str:
        """The resource with the largest summed time: math, smem, l2 or hbm."""
        return max(self.resource_cycles, key=lambda name: self.resource_cycles[name])


def tile_candidates(problem: GemmProblem) -> list[Tile]:
    """Tile shapes a library would try: ``tile_m`` in 64/128/256, ``tile_n`` in 16..256.

    ``tile_k`` covers 64 bytes of stored A values per row per step (32 FP16 elements
    dense, 64 dense-K elements in 2:4 mode), a multiple of the instruction's ``k``.

    Parameters
    ----------
    problem
        The GEMM (its instruction sets ``tile_k``).

    Returns
    -------
    list[Tile]
        Fifteen tiles, ``tile_m`` outer, sizes in elements.
    """
    default_k = default_tile_k(problem.mma)
    tiles = []
    for tile_m in (64, 128, 256):
        for tile_n in (16, 32, 64, 128, 256):
            tiles.append(Tile(tile_m, tile_n, default_k))
    return tiles


def default_tile_k(mma: MmaShape) -> int:
    """Dense K per step so that one step moves 64 bytes of stored A values per row.

    Parameters
    ----------
    mma
        The instruction (data type, kept fraction, ``k``).

    Returns
    -------
    int
        Dense K elements per step, a multiple of ``mma.k`` and at least ``mma.k``.
    """
    stored_elements = 64 * 8 // mma.dtype.value_bits
    dense = int(round(stored_elements / mma.kept_fraction))
    return max(mma.k, dense - dense % mma.k)


def tile_footprint(problem: GemmProblem, gpu: GpuSpec, tile: Tile) -> tuple[int, int, int]:
    """Shared-memory bytes per block, accumulator bytes per block and warps per block.

    Parameters
    ----------
    problem, gpu, tile
        The GEMM, the GPU (pipeline stages, warp tile) and the thread-block tile.

    Returns
    -------
    tuple[int, int, int]
        Shared memory (bytes, all pipeline stages), accumulators (bytes), warps.
    """
    mma = problem.mma
    step_bits = _step_bits(mma, tile)
    smem = gpu.pipeline_stages * ceil_div(sum(step_bits), 8)
    accumulators = tile.m * tile.n * mma.dtype.accumulator_bits // 8
    warps = ceil_div(tile.m, min(gpu.warp_tile_m, tile.m)) * ceil_div(tile.n, min(gpu.warp_tile_n, tile.n))
    return smem, accumulators, warps


def blocks_per_sm(problem: GemmProblem, gpu: GpuSpec, tile: Tile) -> int:
    """Resident blocks per SM (0 when one block does not fit).

    Parameters
    ----------
    problem, gpu, tile
        The GEMM, the GPU (capacities, residency limits) and the thread-block tile.

    Returns
    -------
    int
        The least of the block limit and what shared memory, accumulator registers and warps allow.
    """
    smem, accumulators, warps = tile_footprint(problem, gpu, tile)
    budget = int(gpu.register_file_bytes * gpu.accumulator_register_fraction)
    return max(0, min(gpu.max_blocks_per_sm, gpu.smem_capacity_bytes // smem, budget // accumulators,
                      gpu.max_warps_per_sm // warps))


def _step_bits(mma: MmaShape, tile: Tile) -> tuple[int, int, int]:
    """Bits of A values, metadata and B that one full tile moves per K step."""
    kept_k = int(tile.k * mma.kept_fraction)
    a = tile.m * kept_k * mma.dtype.value_bits
    meta = tile.m * kept_k * mma.dtype.metadata_bits_per_kept if mma.sparse else 0
    b = tile.k * tile.n * mma.dtype.value_bits
    return a, meta, b


def check_tile(problem: GemmProblem, tile: Tile) -> None:
    """Refuse a tile that the instruction shape cannot cover exactly.

    Parameters
    ----------
    problem
        The GEMM (its instruction's ``m``, ``n``, ``k``).
    tile
        The thread-block tile, elements.

    Raises
    ------
    InputError
        If a tile side is not a positive multiple of the instruction's extent, naming it.
    """
    mma = problem.mma
    for name, size, step in (("tile_m", tile.m, mma.m), ("tile_n", tile.n, mma.n), ("tile_k", tile.k, mma.k)):
        if size <= 0 or size % step:
            raise InputError(f"sparse_tc tile: {name} must be a positive multiple of the {mma.dtype.name} "
                             f"{'mma.sp' if mma.sparse else 'mma'} extent {step} (got {size})")


RASTER_GROUPS = (1, 2, 4, 8, 16)
"""Tile-row group sizes tried for the raster order when the operands do not fit in L2."""


def raster_groups(tiles_m: int) -> list[int]:
    """Grouped raster orders worth trying beyond row-major for a grid of ``tiles_m`` tile rows.

    The groups of :data:`RASTER_GROUPS` smaller than ``tiles_m``, plus ``tiles_m`` itself when it is
    at most the largest group: column-major order, in which every ``B`` column panel is used by all
    tile rows in consecutive launches (e.g. ``M = 768`` in 256-row tiles: 3 rows, not 2 or 4).

    Parameters
    ----------
    tiles_m
        Tile rows of the grid.

    Returns
    -------
    list[int]
        Tile rows per group, ascending (empty for one tile row).
    """
    groups = [g for g in RASTER_GROUPS[1:] if g < tiles_m]
    if 1 < tiles_m <= RASTER_GROUPS[-1] and tiles_m not in groups:
        groups.append(tiles_m)
    return groups


class _RasterGrid:
    """Closed forms over the launch order of a batch of equal GEMMs' tiles in grouped raster order.

    Launch index ``x`` runs over ``batch x tiles_m x tiles_n`` tiles, GEMM after GEMM; inside one GEMM
    ``group_rows`` tile rows at a time, walked column by column (``rows`` tiles per column, fewer in
    the last group). Only the last tile row and the last tile column can be smaller than the tile, so
    the real rows of tile rows ``[0, r)`` are ``min(r x tile_m, m)`` (:meth:`row_sum`) and every sum
    over a run of launch indices follows in closed form: :meth:`prefix` gives the sums over indices
    ``[0, x)`` and :meth:`distinct` the panels a run ``[s, e)`` uses, each for a whole array of runs
    at once (one per wave), at a cost per run that does not grow with the GEMM.
    """

    def __init__(self, m: int, n: int, tile_m: int, tile_n: int, group_rows: int, batch: int):
        self.m, self.n, self.tile_m, self.tile_n = m, n, tile_m, tile_n
        self.tiles_m, self.tiles_n = ceil_div(m, tile_m), ceil_div(n, tile_n)
        self.group_rows, self.batch = group_rows, batch
        self.tiles = self.tiles_m * self.tiles_n
        self.groups = ceil_div(self.tiles_m, group_rows)
        self.edge_row, self.edge_col = m - (self.tiles_m - 1) * tile_m, n - (self.tiles_n - 1) * tile_n
        self.full_row = tile_m if self.tiles_m > 1 else 0  # real rows of a tile row that is not the last (none)
        self.full_col = tile_n if self.tiles_n > 1 else 0

    def row_sum(self, rows: np.ndarray) -> np.ndarray:
        """Real rows of tile rows ``[0, rows)``, ``rows`` in ``[0, tiles_m]`` (any int: no index to go out of range)."""
        return np.minimum(rows * self.tile_m, self.m)

    def col_sum(self, cols: np.ndarray) -> np.ndarray:
        """Real columns of tile columns ``[0, cols)``."""
        return np.minimum(cols * self.tile_n, self.n)

    def _group(self, local: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(group, position in the group, tile rows of the group) of local indices in ``[0, tiles]``."""
        group = np.minimum(local // (self.group_rows * self.tiles_n), self.groups - 1)
        rows = np.minimum(self.group_rows, self.tiles_m - group * self.group_rows)
        return group, local - group * self.group_rows * self.tiles_n, rows

    def _local_prefix(self, local: np.ndarray, seen: bool) -> dict[str, np.ndarray]:
        """Sums over local indices ``[0, local)`` of one GEMM (see :meth:`prefix`)."""
        group, position, rows = self._group(local)
        first_row = group * self.group_rows
        column, extra = np.divmod(position, rows)  # whole columns of the group, then tiles of the next
        row_sum, col_sum, all_cols = self.row_sum, self.col_sum, self.n
        before = row_sum(first_row)
        group_rows_real = row_sum(first_row + rows) - before
        extra_rows_real = row_sum(first_row + extra) - before
        column_real = col_sum(column + 1) - col_sum(column)  # 0 past the last column
        sums = {
            "rows": self.tiles_n * before + column * group_rows_real + extra_rows_real,
            "cols": first_row * all_cols + rows * col_sum(column) + extra * column_real,
            "outputs": before * all_cols + group_rows_real * col_sum(column) + extra_rows_real * column_real,
            # the last tile row is the last group's last row; the last column closes every group
            "edge_row": np.where(group == self.groups - 1, position // rows, 0),
            "edge_col": first_row + np.maximum(0, position - (self.tiles_n - 1) * rows),
            "corner": (local == self.tiles).astype(np.int64),  # tile (last row, last column) is the last launched
        }
        if seen:
            sums["seen_rows"] = row_sum(first_row + np.minimum(position, rows))
            sums["seen_cols"] = np.where(group > 0, all_cols, col_sum(-(-position // rows)))
        return sums

    def prefix(self, index: np.ndarray, seen: bool) -> dict[str, np.ndarray]:
        """Sums over launch indices ``[0, index)``, int64 arrays the shape of ``index``.

        ``rows``, ``cols``: real rows and columns of the tiles; ``outputs``: their real outputs;
        ``edge_row``, ``edge_col``, ``corner``: tiles in the last tile row, the last tile column,
        both; with ``seen``, also ``seen_rows``, ``seen_cols``: real rows (columns) of the distinct
        A (B) panels used.
        """
        if self.batch == 1:  # index in [0, tiles]: the local form covers the whole GEMM too
            return self._local_prefix(index, seen)
        gemm, local = np.divmod(index, self.tiles)
        whole = {"rows": self.m * self.tiles_n, "cols": self.n * self.tiles_m, "outputs": self.m * self.n,
                 "edge_row": self.tiles_n, "edge_col": self.tiles_m, "corner": 1, "seen_rows": self.m,
                 "seen_cols": self.n}  # one whole GEMM
        return {key: gemm * whole[key] + part for key, part in self._local_prefix(local, seen).items()}

    def _rows_in(self, group: np.ndarray, start: np.ndarray, length: np.ndarray) -> np.ndarray:
        """Real rows of the distinct tile rows at positions ``[start, start + length)`` of ``group``, ``length >= 1``."""
        rows = np.minimum(self.group_rows, self.tiles_m - group * self.group_rows)
        first_row, row_sum = group * self.group_rows, self.row_sum
        offset = start % rows
        end = offset + np.minimum(length, rows)
        whole = row_sum(first_row + rows) - row_sum(first_row)
        straight = row_sum(first_row + end) - row_sum(first_row + offset)
        wrapped = whole - row_sum(first_row + offset) + row_sum(first_row + end - rows)  # [offset, rows) + [0, end - rows)
        return np.where(length >= rows, whole, np.where(end > rows, wrapped, straight))

    def distinct(self, start: np.ndarray, stop: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Real rows (of A panels) and columns (of B panels) used by launch indices ``[start, stop)``, ``stop > start``.

        A panel is one GEMM's tile row (column): the same row of two GEMMs of a batch is two panels.
        """
        first_gemm, last_gemm = start // self.tiles, (stop - 1) // self.tiles
        a, b = start - first_gemm * self.tiles, stop - last_gemm * self.tiles  # local [a, T) ... [0, b)
        same = first_gemm == last_gemm
        rows_a, cols_a = self._distinct_local(a, np.where(same, b, self.tiles))
        if same.all():  # no run crosses a GEMM (always so for one GEMM)
            return rows_a, cols_a
        between = np.maximum(0, last_gemm - first_gemm - 1)
        rows_b, cols_b = self._distinct_local(np.zeros_like(b), b)
        rows = rows_a + np.where(same, 0, between * self.m + rows_b)
        cols = cols_a + np.where(same, 0, between * self.n + cols_b)
        return rows, cols

    def _distinct_local(self, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Real rows and columns of the distinct panels of local indices ``[a, b)`` of one GEMM, ``b > a``."""
        group_a, pos_a, rows_a = self._group(a)
        group_b, pos_b, rows_b = self._group(b - 1)
        pos_b = pos_b + 1
        same = group_a == group_b
        col_sum, all_cols = self.col_sum, self.n
        col_a, col_b = pos_a // rows_a, (pos_b - 1) // rows_b  # first and last column touched
        in_one = col_sum(col_b + 1) - col_sum(col_a)
        if same.all():  # every run inside one raster group
            return self._rows_in(group_a, pos_a, pos_b - pos_a), in_one
        # across groups the rows are one range: from the first row a's group has left to walk (all of them when
        # a is not in its last column) to the last row b's group has reached
        first = group_a * self.group_rows + np.where(self.tiles_n * rows_a - pos_a >= rows_a, 0, pos_a % rows_a)
        last = group_b * self.group_rows + np.minimum(pos_b, rows_b)
        rows = np.where(same, self._rows_in(group_a, pos_a, pos_b - pos_a), self.row_sum(last) - self.row_sum(first))
        # across groups: [col_a, end) of group a and [0, col_b] of group b, or every column past one whole group
        covered = (group_b - group_a >= 2) | (col_b + 1 >= col_a)
        across = np.where(covered, all_cols, all_cols - col_sum(col_a) + col_sum(col_b + 1))
        return rows, np.where(same, in_one, across)


def _wave_sums(m: int, n: int, tile_m: int, tile_n: int, batch: int, group_rows: int, slots: int, l2_fits: bool,
               a_row_bits: int, b_col_bits: int, warps_n: int, warps_m: int) -> tuple[np.ndarray, ...]:
    """Per-wave sums over the tiles in launch order, in closed form (:class:`_RasterGrid`: cost per wave, not per tile).

    A batch launches its GEMMs one after another (each GEMM's tiles in raster order);
    GEMM ``b``'s panels are its own (A row panel ``b * tiles_m + row``, B column panel
    ``b * tiles_n + column``). A tile's real rows and columns are those of the ``m x n``
    output it covers (the last tile row and column may be partial).

    Returns, per wave: real rows and columns of A/B panels first used (in the launch
    when the operands fit L2, else in the wave), output elements, L2 bits and the
    shared-memory bits of the wave's biggest tile.
    """
    grid = _RasterGrid(m, n, tile_m, tile_n, group_rows, batch)
    tiles = batch * grid.tiles
    bounds = np.minimum(np.arange(ceil_div(tiles, slots) + 1, dtype=np.int64) * slots, tiles)
    per_wave = {key: value[1:] - value[:-1] for key, value in grid.prefix(bounds, l2_fits).items()}
    if l2_fits:
        new_rows, new_cols = per_wave["seen_rows"], per_wave["seen_cols"]
    else:
        new_rows, new_cols = grid.distinct(bounds[:-1], bounds[1:])
    outputs = per_wave["outputs"].astype(np.float64)
    l2_bits = (per_wave["rows"] * a_row_bits + per_wave["cols"] * b_col_bits).astype(np.float64)
    # the biggest tile: shared-memory bits of each kind of tile (full or edge row x full or edge column) the wave holds
    corner = per_wave["corner"]
    edge_row_only, edge_col_only = per_wave["edge_row"] - corner, per_wave["edge_col"] - corner
    full = bounds[1:] - bounds[:-1] - edge_row_only - edge_col_only - corner
    row_bits, col_bits = a_row_bits * (1 + warps_n), b_col_bits * (1 + warps_m)
    biggest = np.zeros(bounds.size - 1, dtype=np.int64)
    for count, rows, cols in ((full, grid.full_row, grid.full_col), (edge_row_only, grid.edge_row, grid.full_col),
                              (edge_col_only, grid.full_row, grid.edge_col), (corner, grid.edge_row, grid.edge_col)):
        biggest = np.where(count > 0, np.maximum(biggest, rows * row_bits + cols * col_bits), biggest)
    return new_rows, new_cols, outputs, l2_bits, biggest


@dataclass(frozen=True)
class _Launch:
    """How a tile's grid fills the GPU, and the cycles that do not depend on the raster order.

    ``macs_per_cycle_per_sm`` is the multiplies executed per cycle per SM (effective rate x kept
    fraction x efficiency); ``tiles_per_sm`` holds, per wave, the tiles each SM is charged (cycles are per SM);
    ``math_cycles`` each wave's math time (rounded up); ``cycles_fill`` and
    ``cycles_drain`` the summed load latency and epilogue.
    """

    occupancy: int
    slots: int
    waves: int
    tiles_m: int
    tiles_n: int
    k_steps: int
    instructions_per_tile: int
    macs_per_cycle_per_sm: float
    math_cycles_per_tile: float
    tiles_per_sm: np.ndarray
    math_cycles: np.ndarray
    cycles_fill: int
    cycles_drain: int
    warps_m: int
    warps_n: int


def _launch(problem: GemmProblem, gpu: GpuSpec, tile: Tile, efficiency: float, residents: int) -> _Launch:
    """The grid, waves, per-SM tiles and the raster-independent cycles of one tile (``residents`` >= 1 blocks per SM)."""
    mma = problem.mma
    tiles_m, tiles_n = ceil_div(problem.m, tile.m), ceil_div(problem.n, tile.n)
    k_steps = ceil_div(problem.k, tile.k)
    tiles = problem.batch * tiles_m * tiles_n
    # Blocks per SM a wave holds: all resident slots, unless the grid is smaller than one full wave.
    occupancy = residents if gpu.partial_wave == "per_sm_tiles" else min(residents, ceil_div(tiles, gpu.sm_count))
    slots = gpu.sm_count * occupancy
    waves = ceil_div(tiles, slots)
    instructions_per_tile = (tile.m // mma.m) * (tile.n // mma.n) * (k_steps * tile.k // mma.k)
    # Multiplies executed per cycle per SM = effective (dense-equivalent) rate x kept fraction.
    macs_per_cycle_per_sm = effective_macs_per_cycle_per_sm(gpu, mma) * mma.kept_fraction * efficiency
    math_cycles_per_tile = instructions_per_tile * mma.macs_executed / macs_per_cycle_per_sm
    if gpu.partial_wave == "whole_wave":
        per_sm = np.full(waves, occupancy, dtype=np.int64)  # issue 6: a partial wave costs a whole wave
    else:
        waves_tiles = np.full(waves, slots, dtype=np.int64)
        waves_tiles[-1] = tiles - (waves - 1) * slots
        per_sm = -(-waves_tiles // gpu.sm_count)  # busiest SM's tiles
    math_cycles = np.ceil(per_sm * math_cycles_per_tile).astype(np.int64)
    epilogue_bits = per_sm * (tile.m * tile.n * mma.dtype.output_bits * 2)  # staged: write then read shared memory
    smem_bits_per_cycle = int(gpu.smem_bits_per_cycle_per_sm)
    return _Launch(
        occupancy=occupancy, slots=slots, waves=waves, tiles_m=tiles_m, tiles_n=tiles_n,
        k_steps=k_steps, instructions_per_tile=instructions_per_tile, macs_per_cycle_per_sm=macs_per_cycle_per_sm,
        math_cycles_per_tile=math_cycles_per_tile,
        tiles_per_sm=per_sm, math_cycles=math_cycles,
        cycles_fill=waves * (gpu.hbm_latency_cycles + gpu.smem_latency_cycles),
        cycles_drain=int((-(-epilogue_bits // smem_bits_per_cycle)).sum()) + waves * gpu.l2_latency_cycles,
        warps_m=ceil_div(tile.m, min(gpu.warp_tile_m, tile.m)), warps_n=ceil_div(tile.n, min(gpu.warp_tile_n, tile.n)),
    )


def _row_col_bits(problem: GemmProblem) -> tuple[int, int, int]:
    """Bits one tile moves over the whole K walk per row of A (values, metadata) and per column of B."""
    mma = problem.mma
    a_row_bits = problem.k_slots * mma.dtype.value_bits
    meta_row_bits = problem.k_slots * mma.dtype.metadata_bits_per_kept if mma.sparse else 0
    return a_row_bits, meta_row_bits, problem.k * mma.dtype.value_bits


BOUND_SLACK = 1e-9
"""Relative slack of :func:`cycles_total_lower_bound`'s memory terms (float sums in another order)."""


def cycles_total_lower_bound(problem: GemmProblem, gpu: GpuSpec, tile: Tile, efficiency: float = 1.0) -> int:
    """A lower bound of ``schedule(problem, gpu, tile, efficiency, g).cycles_total`` for every raster group ``g``.

    Fill, drain and each wave's math do not depend on the raster order and are exact. A wave's
    body is at least each of its resource times, so the summed body is at least the largest of:
    the summed math; the L2 bits of all tiles over the L2 bandwidth; the HBM bits every order
    moves at least once (each panel, the distinct inputs, the outputs) over the HBM bandwidth;
    and the shared-memory bits of all tiles over the bandwidth of all SMs (a wave's busiest SM
    carries at least its share). ``tile`` must fit (``blocks_per_sm >= 1``).

    Parameters
    ----------
    problem, gpu, tile
        The GEMM, the GPU and a thread-block tile that fits.
    efficiency
        Fraction of the peak mma issue rate, as given to :func:`schedule`.

    Returns
    -------
    int
        Cycles.
    """
    launch = _launch(problem, gpu, tile, efficiency, blocks_per_sm(problem, gpu, tile))
    a_row_bits, meta_row_bits, b_col_bits = _row_col_bits(problem)
    a_bits = a_row_bits + meta_row_bits
    rows, cols = problem.batch * problem.m, problem.batch * problem.n  # summed real rows / columns of every GEMM
    l2_bits = launch.tiles_n * rows * a_bits + launch.tiles_m * cols * b_col_bits
    smem_bits = (launch.tiles_n * rows * a_bits * (1 + launch.warps_n)
                 + launch.tiles_m * cols * b_col_bits * (1 + launch.warps_m))
    hbm_bits = rows * a_bits + problem.input_unique_bits + problem.output_bits
    memory = max(l2_bits / gpu.l2_bits_per_cycle, hbm_bits / gpu.hbm_bits_per_cycle,
                 smem_bits / (gpu.sm_count * gpu.smem_bits_per_cycle_per_sm))
    body = max(int(launch.math_cycles.sum()), int(memory * (1 - BOUND_SLACK)))
    return launch.cycles_fill + body + launch.cycles_drain


def schedule(problem: GemmProblem, gpu: GpuSpec, tile: Tile, efficiency: float = 1.0, group_rows: int = 1) -> Schedule:
    """Schedule a GEMM with a given tile.

    Parameters
    ----------
    problem
        The GEMM.
    gpu
        GPU resources.
    tile
        Thread-block tile.
    efficiency
        Fraction of the peak mma issue rate a kernel sustains (1 = hardware bound).
    group_rows
        Tile rows per raster group (1 = row-major launch order).

    Returns
    -------
    Schedule
        Tiling, waves, cycles (fill, body, drain; per resource and per wave) and traffic in bits per tensor.

    Raises
    ------
    UnsupportedError
        If one block of this tile does not fit in shared memory or registers.
    InputError
        If the tile is not a multiple of the instruction shape, or ``gpu.partial_wave`` is unknown.
    """
    check_tile(problem, tile)
    mma = problem.mma
    smem_block, accumulator_block, warps = tile_footprint(problem, gpu, tile)
    residents = blocks_per_sm(problem, gpu, tile)
    if residents < 1:
        raise UnsupportedError(
            f"sparse_tc tile {tile.m}x{tile.n}x{tile.k}: one block must fit in {gpu.smem_capacity_bytes} B of shared memory "
            f"and {int(gpu.register_file_bytes * gpu.accumulator_register_fraction)} B of accumulator registers "
            f"(got {smem_block} B and {accumulator_block} B)"
        )
    if gpu.partial_wave not in PARTIAL_WAVE_RULES:
        raise InputError(f"sparse_tc schedule: partial_wave must be one of {', '.join(PARTIAL_WAVE_RULES)} "
                         f"(got {gpu.partial_wave!r})")
    launch = _launch(problem, gpu, tile, efficiency, residents)
    tiles_m, tiles_n, waves, slots = launch.tiles_m, launch.tiles_n, launch.waves, launch.slots
    batch = problem.batch
    tiles = batch * tiles_m * tiles_n

    a_row_bits, meta_row_bits, b_col_bits = _row_col_bits(problem)
    out_elem_bits = mma.dtype.output_bits

    total_bits = problem.weight_value_bits + problem.metadata_bits + problem.input_unique_bits + problem.output_bits
    l2_fits = total_bits <= gpu.l2_capacity_bytes * 8
    last_wave_tiles = tiles - (waves - 1) * slots
    new_rows, new_cols, wave_out_elements, l2_bits, biggest = _wave_sums(
        problem.m, problem.n, tile.m, tile.n, batch, group_rows, slots, l2_fits, a_row_bits + meta_row_bits, b_col_bits,
        launch.warps_n, launch.warps_m)
    per_sm = launch.tiles_per_sm
    wave_a, wave_meta, wave_b = new_rows * a_row_bits, new_rows * meta_row_bits, new_cols * b_col_bits
    hbm_a, hbm_meta, hbm_b_matrix = (int(new_rows.sum()) * a_row_bits, int(new_rows.sum()) * meta_row_bits,
                                     int(new_cols.sum()) * b_col_bits)
    wave_b_unique = wave_b * (problem.input_unique_elements / (batch * problem.k * problem.n))
    wave_out = wave_out_elements * out_elem_bits
    math_w = per_sm * launch.math_cycles_per_tile
    smem = per_sm * biggest / gpu.smem_bits_per_cycle_per_sm
    l2 = l2_bits / gpu.l2_bits_per_cycle
    hbm = (wave_a + wave_meta + wave_b_unique + wave_out) / gpu.hbm_bits_per_cycle
    math_cycles = launch.math_cycles
    memory_cycles = np.ceil(np.maximum(np.maximum(smem, l2), hbm)).astype(np.int64)
    cycles_math = int(math_cycles.sum())
    body_cycles = np.maximum(math_cycles, memory_cycles)
    cycles_body = int(body_cycles.sum())
    cycles_fill, cycles_drain = launch.cycles_fill, launch.cycles_drain
    sum_math, sum_smem, sum_l2, sum_hbm = (float(x.sum()) for x in (math_w, smem, l2, hbm))
    instructions_per_tile, k_steps = launch.instructions_per_tile, launch.k_steps
    warps_n, warps_m = launch.warps_n, launch.warps_m

    full_rate = gpu.sm_count * launch.macs_per_cycle_per_sm
    useful_instr_macs = batch * problem.m * problem.n * problem.k_slots  # executed MACs without tile padding
    padded_macs = tiles * instructions_per_tile * mma.macs_executed
    input_unique = ceil_div(hbm_b_matrix * problem.input_unique_elements, batch * problem.k * problem.n)
    a_bits_total, meta_bits_total = problem.weight_value_bits, problem.metadata_bits
    return Schedule(
        tile=tile,
        tiles_m=tiles_m,
        tiles_n=tiles_n,
        k_steps=k_steps,
        blocks_per_sm=residents,
        waves=waves,
        last_wave_tiles=last_wave_tiles,
        instructions=tiles * instructions_per_tile,
        cycles_math=cycles_math,
        cycles_body=cycles_body,
        cycles_fill=cycles_fill,
        cycles_drain=cycles_drain,
        cycles_compute_ideal=min(int(np.ceil(useful_instr_macs / full_rate)), cycles_math),
        cycles_padded_ideal=min(int(np.ceil(padded_macs / full_rate)), cycles_math),
        resource_cycles={"math": sum_math, "smem": sum_smem, "l2": sum_l2, "hbm": sum_hbm},
        hbm_read_bits={"weights": hbm_a, "metadata": hbm_meta, "inputs": input_unique},
        hbm_write_bits=int(wave_out.sum()),
        l2_read_bits={"weights": a_bits_total * tiles_n, "metadata": meta_bits_total * tiles_n,
                      "inputs": problem.input_matrix_bits * tiles_m},
        smem_read_bits={"weights": a_bits_total * tiles_n * warps_n, "metadata": meta_bits_total * tiles_n * warps_n,
                        "inputs": problem.input_matrix_bits * tiles_m * warps_m},
        l2_fits=l2_fits,
        smem_bytes_per_block=smem_block,
        accumulator_bytes_per_block=accumulator_block,
        warps_per_block=warps,
        efficiency=efficiency,
        group_rows=group_rows,
        occupancy=launch.occupancy,
        wave_cycles=tuple(body_cycles.tolist()),
        wave_resource_cycles={"math": math_w, "smem": smem, "l2": l2, "hbm": hbm},
        batch=batch,
    )


def choose_schedule(problem: GemmProblem, gpu: GpuSpec, efficiency: float = 1.0,
                    tile_m: int | None = None, tile_n: int | None = None, tile_k: int | None = None) -> Schedule:
    """The fastest schedule over the candidate tiles that fit (given sizes are kept fixed).

    When the operands do not fit in L2, each tile is also tried with the grouped
    raster orders of :func:`raster_groups`. Ties go to fewer HBM bits, then to the
    larger tile, then to the smaller group, then to the earlier candidate. This mimics a library's
    heuristic/autotuned kernel choice; when all three sizes are given, that tile is used.

    Tiles are scheduled in order of :func:`cycles_total_lower_bound`; a tile whose bound
    exceeds the best total so far cannot win or tie, so it is not scheduled (the choice
    is the one a full search makes).

    Parameters
    ----------
    problem, gpu
        The GEMM and the GPU.
    efficiency
        Fraction of the peak mma issue rate a kernel sustains (1 = hardware bound).
    tile_m, tile_n, tile_k
        Tile sizes to keep fixed, elements (None: searched; ``tile_k`` None: :func:`default_tile_k`).

    Returns
    -------
    Schedule
        The chosen schedule.

    Raises
    ------
    UnsupportedError
        If no candidate tile fits (or the given one does not).
    InputError
        If a given size is not a multiple of the instruction shape.
    """
    candidates = tile_candidates(problem)
    given_k = tile_k if tile_k is not None else default_tile_k(problem.mma)
    candidates = [Tile(tile_m or c.m, tile_n or c.n, given_k) for c in candidates]
    candidates = list(dict.fromkeys(candidates))
    errors: list[str] = []
    fitting: list[tuple[int, int, Tile]] = []
    for position, tile in enumerate(candidates):
        try:
            check_tile(problem, tile)
        except InputError as exc:
            if tile_m or tile_n or tile_k:
                raise
            errors.append(str(exc))
            continue
        if blocks_per_sm(problem, gpu, tile) < 1:
            errors.append(f"{tile.m}x{tile.n}x{tile.k} does not fit")
            continue
        fitting.append((cycles_total_lower_bound(problem, gpu, tile, efficiency), position, tile))
    best: Schedule | None = None
    best_key = None
    for bound, position, tile in sorted(fitting, key=lambda entry: entry[:2]):
        if best_key is not None and bound > best_key[0]:
            break  # this tile and every later one (larger bounds) take longer than the best
        plan = schedule(problem, gpu, tile, efficiency)
        plans = [plan]
        if not plan.l2_fits:
            plans += [schedule(problem, gpu, tile, efficiency, g) for g in raster_groups(plan.tiles_m)]
        for plan in plans:
            key = (plan.cycles_total, sum(plan.hbm_read_bits.values()), -tile.m * tile.n, plan.group_rows, position)
            if best_key is None or key < best_key:
                best, best_key = plan, key
    if best is None:
        if tile_m and tile_n and tile_k:
            schedule(problem, gpu, Tile(tile_m, tile_n, tile_k), efficiency)  # raises with the reason
        raise UnsupportedError(f"sparse_tc: no thread-block tile fits shared memory and registers for this GEMM ({'; '.join(errors[:3])})")
    return best
