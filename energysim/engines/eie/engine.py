"""EIE-style sparse engine: compressed sparse matrix x sparse vector, cycle-level.

A layer's weight matrix (``M x K``; conv2d and gemm layers lowered to GEMM) is
quantised to a 16-entry codebook and stored in EIE's interleaved CSC format
(:mod:`energysim.formats.eie_csc`): output row ``i`` belongs to PE ``i mod N``.
Each of the GEMM's ``N`` input columns is one sparse input vector, processed in
turn. The timing of one vector follows :mod:`energysim.engines.eie.pipeline`
(broadcast of non-zero activations, bounded activation queues, PEs spending
``max(1, entries)`` cycles per activation).

Register-file capacity. A PE's destination register file holds
``activation_regfile_entries`` accumulators. When a PE's slice has more rows
(``ceil(M / N)`` larger than that), the layer runs as *row passes*: pass ``r``
handles local rows ``[E r, E (r + 1))`` of every slice (``E`` the entries), re-broadcasting the
input vector and re-reading each column's pointers; each pass's outputs are
written to the activation SRAM at its end. When the input vector is longer than
the source register files hold (``K > N x entries``), it is staged through the
activation SRAM in batches (read from the SRAM, filled into the register files);
this costs energy, not cycles (the paper overlaps it).

Cycle accounting of a layer, summed over vectors and passes (lanes):

- ``compute``: ``ceil(entries / N)`` per lane, the entries (padding included) of
  the processed columns spread perfectly over the PEs; the paper's "theoretical"
  time;
- ``fill_drain``: per lane, the 3 cycles before the first entry (load of
  activation pack 0, first broadcast, pointer stage) plus ``pipeline_depth + 1``
  cycles after the last entry until its accumulator write lands (the authors'
  simulator: 6 cycles after the last entry with the paper's 4 stages);
- ``stall``: everything else: load imbalance, i.e. cycles the slowest PE is
  waiting (starved) or the broadcast is blocked by a full queue or by the
  leading-non-zero detector loading the next pack of activations, and the single
  pointer-read cycle an empty column slice costs; and, for a layer streamed from
  DRAM, the cycles the stream needs beyond the pipeline's (``cycles_dram_wait``).

Counts (component, tensor, action), every one priced by the hardware file:

- ``SpmatSRAM, weights, read``: 64-bit line reads; a line is read only when the
  entry stream enters a new line (a line kept from the previous processed column
  is reused);
- ``PtrSRAM, metadata, read``: one read of ``(p_j, p_{j+1})`` (two banks, one cycle)
  per PE per processed column per pass;
- ``ActQueue, inputs, push|pop``: one per PE per broadcast non-zero activation;
- ``Codebook, weights, lookup``: one per entry processed, padding included;
- ``ArithmUnit, -, mult|add``: one each per useful entry (code != 0);
  ``ArithmUnit, padding, mult|add`` per padding entry (wasted work);
- ``ActRegFile, outputs, read|update``: the accumulator read-modify-write of every
  entry; ``ActRegFile, inputs, read``: the leading-non-zero detection reads every
  input activation once per lane;
- ``ActSRAM, inputs, read`` and ``ActRegFile, inputs, fill``: input batches staged
  through the activation SRAM (only when ``K > N x entries``);
  ``ActRegFile, outputs, read`` and ``ActSRAM, outputs, write``: pass results
  written out (only with more than one row pass).

Capacity (:mod:`energysim.engines.eie.storage`). A layer whose entries fit each
PE's share of ``SpmatSRAM`` and whose pointers fit its share of ``PtrSRAM`` keeps
its weights on chip; I/O-mode loading is not counted. One that does not reads
its whole CSC stream from the ``dram`` level once per batch (unless ``capacity =
"report_only"``, the paper's assumption: misfits reported, nothing streamed):

- ``DRAM, weights, read`` and ``SpmatSRAM, weights, fill``: every PE's entry
  lines; ``DRAM, metadata, read`` and ``PtrSRAM, metadata, fill``: every PE's
  pointers, once per row pass;
- cycles: at least the DRAM words / DRAM bandwidth, the excess being stall.

``LayerResult.storage_fit`` says whether the entries fit ``SpmatSRAM`` and the
pointers ``PtrSRAM``. The LNZD tree (outside the PEs) is not counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from energysim.engines.base import OPTIONS_CONFIG, Engine
from energysim.engines.eie.lane_kernel import use_compiled
from energysim.engines.eie.lanes import simulate_lanes
from energysim.engines.eie.memory import estimate_bytes
from energysim.engines.eie.storage import place_weights
from energysim.engines.eie.synthetic import SyntheticInputs, dense_inputs, synthetic_inputs, synthetic_weights
from energysim.engines.result import Compulsory, LayerResult
from energysim.errors import ConfigError, InputError, UnsupportedError
from energysim.formats.codebook import Codebook, fit_codebook
from energysim.formats.eie_csc import EieCsc, encode_codes, encode_flat
from energysim.hardware.hierarchy import Hardware
from energysim.limits import ARRAY_BYTES
from energysim.units import ceil_div
from energysim.workloads.layers import Conv2dLayer, GemmLayer, Layer, LinearLayer
from energysim.workloads.workload import LayerTensors

REQUIRED_COSTS = (
    ("SpmatSRAM", "read"),
    ("PtrSRAM", "read"),
    ("ActSRAM", "read"),
    ("ActSRAM", "write"),
    ("ActRegFile", "read"),
    ("ActRegFile", "update"),
    ("ActRegFile", "fill"),
    ("ActQueue", "push"),
    ("ActQueue", "pop"),
    ("Codebook", "lookup"),
    ("ArithmUnit", "mult"),
    ("ArithmUnit", "add"),
)
"""Every (component, action) the engine counts; the hardware file must price each."""

_LEAD_IN_CYCLES = 3
"""Cycles of a lane before its first entry can be processed: load of activation pack 0,
first broadcast, pointer stage (the authors' simulator)."""

class EieEngineConfig(BaseModel):
    """The ``[engine]`` table of an EIE-style engine (defaults: the paper's 64-PE design)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["eie"]
    n_pe: int = Field(default=64, gt=0, le=4096, description="Processing elements N; row i goes to PE i mod N.")
    queue_depth: int = Field(
        default=8, gt=0,
        description="Usable activation queue (FIFO) depth per PE, entries; the authors' simulator's ring buffer "
                    "of B slots has depth B - 1.",
    )
    index_bits: int = Field(default=4, ge=1, le=8, description="Relative row index z width, bits.")
    value_bits: int = Field(default=4, ge=1, le=8, description="Codebook index v width, bits (2**bits entries).")
    spmat_line_bits: int = Field(default=64, gt=0, description="Sparse-matrix SRAM line width, bits.")
    pointer_bits: int = Field(default=16, gt=0, le=64, description="Column pointer width, bits.")
    activation_regfile_entries: int = Field(
        default=64, gt=0, description="Entries of each PE's source and destination activation register files."
    )
    queue_slot_freed_at: Literal["start", "finish"] = Field(
        default="start",
        description="When a PE frees its queue slot: when its pointer stage takes the activation (default, the authors' "
                    "simulator) or when the PE takes the next one.",
    )
    pipeline_depth: int = Field(
        default=4, gt=0,
        description="Arithmetic pipeline stages; the last accumulator write lands pipeline_depth + 2 cycles after the last entry.",
    )
    seed: int = Field(default=0, description="Seed for synthetic layers, calibration-sample choice and codebook fitting.")
    capacity: Literal["enforce", "report_only"] = Field(
        default="enforce",
        description="enforce: a layer whose CSC does not fit SpmatSRAM/PtrSRAM streams it from DRAM; "
                    "report_only: every layer stays on chip, misfits only reported (the paper's evaluation).",
    )
    codebook_fit_samples: int | None = Field(
        default=None, gt=0,
        description="Non-zero weights sampled (seeded) to fit the codebook's k-means; absent = all of them.",
    )

    @model_validator(mode="after")
    def _check(self) -> "EieEngineConfig":
        entry_bits = self.index_bits + self.value_bits
        if self.spmat_line_bits % entry_bits:
            raise ValueError(
                f"spmat_line_bits must be a multiple of index_bits + value_bits = {entry_bits} (got {self.spmat_line_bits})"
            )
        return self

    @property
    def entries_per_line(self) -> int:
        """Sparse-matrix entries per SRAM line."""
        return self.spmat_line_bits // (self.index_bits + self.value_bits)


@dataclass(frozen=True)
class PreparedLayer:
    """A layer ready to run: its compressed weights and its input vectors.

    Attributes
    ----------
    csc
        The weights in interleaved CSC (codes, padding, pointers).
    codebook
        The codebook the codes index.
    inputs
        ``(K, N)`` input activations, one column per input vector; or, for seeded
        synthetic ones of more than one vector, a :class:`SyntheticInputs` that draws
        them block by block when used (``numpy.asarray`` gives the dense array).
    synthetic_weights, synthetic_inputs
        Whether weights / inputs were synthesised (seeded) rather than given.
    column_nonzeros
        ``(K,)`` non-zero weights per input column, counted from the weights
        before encoding (the quantised dense matrix, or the synthetic positions);
        the engine bounds its useful-MAC count with it independently of the
        encoded format. None: counted by decoding :attr:`csc`.
    """

    csc: EieCsc
    codebook: Codebook
    inputs: np.ndarray | SyntheticInputs
    synthetic_weights: bool
    synthetic_inputs: bool
    column_nonzeros: np.ndarray | None = None


class EieOptions(BaseModel):
    """What one run of the EIE engine may choose."""

    model_config = OPTIONS_CONFIG

    keep_output: bool = Field(
        default=False, description="Also compute the layer output from the compressed weights (stats['output']).")
    prepared: Any = Field(
        default=None, description="A PreparedLayer from EieEngine.prepare to reuse (skips encoding; checked as an instance, not copied).")

    @field_validator("prepared")
    @classmethod
    def _a_prepared_layer(cls, value: Any) -> Any:
        """None or a :class:`PreparedLayer` (typed ``Any`` so pydantic never builds a schema of its arrays)."""
        if value is not None and not isinstance(value, PreparedLayer):
            raise ValueError(f"must be a PreparedLayer from EieEngine.prepare (got {type(value).__name__})")
        return value


def _im2col(images: np.ndarray, layer: Conv2dLayer) -> np.ndarray:
    """``(C*kh*kw, B*Ho*Wo)`` patches of ``(B, C, H, W)`` images, column order (b, y, x)."""
    pad = layer.padding
    x = np.pad(images, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    b, c = x.shape[:2]
    kh, kw, s = layer.kernel_height, layer.kernel_width, layer.stride
    ho, wo = layer.out_height, layer.out_width
    windows = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(2, 3))[:, :, ::s, ::s][:, :, :ho, :wo]
    # windows: (B, C, Ho, Wo, kh, kw) -> (C, kh, kw, B, Ho, Wo)
    return windows.transpose(1, 4, 5, 0, 2, 3).reshape(c * kh * kw, b * ho * wo)


class EieEngine(Engine):
    """EIE: a cycle-level model of the Efficient Inference Engine (sparse matrix x sparse vector).

    ``N`` processing elements each own the rows ``i mod N`` of the compressed weight
    matrix (4-bit codebook index, 4-bit relative row index, padding entries for
    long zero runs, 16-bit column pointers in two banks). A leading-non-zero
    detector broadcasts one non-zero input activation per cycle into every PE's
    activation queue; the broadcast stalls while any queue is full; a PE spends
    ``max(1, entries)`` cycles on each activation, one multiply-accumulate per
    cycle. Cycles, per-PE busy and starved cycles, load balance, padding share and
    every SRAM, register-file, queue, codebook and arithmetic access are counted
    on the real compressed weights (quantised by k-means to the codebook) and
    real activations, or on seeded synthetic layers at the layer's densities.

    Parameters
    ----------
    hardware
        Hardware whose memory levels and units price every count the engine
        makes (see ``REQUIRED_COSTS``); clock in GHz.
    config
        The validated ``[engine]`` table.

    Raises
    ------
    ConfigError
        If the hardware does not price a count the engine makes, or its
        ``SpmatSRAM`` memory level's ``word_bits`` differs from
        ``spmat_line_bits`` (one line read is one SRAM word).

    References
    ----------
    .. [1] S. Han, X. Liu, H. Mao, J. Pu, A. Pedram, M. A. Horowitz, W. J. Dally,
       "EIE: Efficient Inference Engine on Compressed Deep Neural Network",
       ISCA 2016, arXiv:1602.01528.
    .. [2] S. Han, H. Mao, W. J. Dally, "Deep Compression", ICLR 2016 (codebook
       by k-means with linear initialisation).
    """

    kind = "eie"
    config_model = EieEngineConfig
    options_model = EieOptions

    def __init__(self, hardware: Hardware, config: EieEngineConfig):
        super().__init__(hardware, config)
        where = self.source
        spmat = next((level for level in hardware.levels if level.name == "SpmatSRAM"), None)
        if spmat is not None and spmat.config.word_bits != config.spmat_line_bits:
            raise ConfigError(
                f"{where}: engine.spmat_line_bits must equal the word_bits of memory level 'SpmatSRAM', since one "
                f"line read is one SRAM word (got {config.spmat_line_bits} and {spmat.config.word_bits})"
            )

    # ------------------------------------------------------------------ inputs
    def prepare(self, layer: Layer, tensors: LayerTensors | None = None) -> PreparedLayer:
        """Quantise and encode the layer's weights and build its input vectors.

        With ``tensors``: the weights (masked) are quantised to a codebook fitted by
        k-means; activations, if given, supply one seeded calibration sample per
        input column (linear/gemm) or per batch image (conv2d, lowered by im2col).
        Without them: weights are i.i.d. Bernoulli(``weight_density``) positions
        with standard-normal values, and each input column has exactly
        ``round(activation_density * K)`` non-zeros at random positions with
        values uniform in (0, 1], all seeded by ``config.seed``.

        Raises
        ------
        InputError
            If a tensor's shape does not fit the layer, a weight or an activation
            is NaN or infinite, or the layer's working arrays would exceed the
            memory budget (:meth:`_check_working_memory`).
        """
        cfg = self.config
        shape = layer.gemm_shape()
        m, k, n = shape.m, shape.k, shape.n
        self._check_working_memory(layer, m, k, n, tensors is not None,
                                   tensors is not None and tensors.activations is not None)
        rng = np.random.default_rng(cfg.seed)
        if tensors is not None:
            matrix = tensors.weight_matrix()
            if matrix.shape != (m, k):
                raise InputError(f"layer '{layer.name}': weights must reshape to the GEMM's ({m}, {k}) (got {matrix.shape})")
            _check_finite(layer, "weights", matrix)
            codebook = fit_codebook(matrix, cfg.value_bits, max_fit_samples=cfg.codebook_fit_samples, seed=cfg.seed)
            codes = codebook.quantise(matrix)
            column_nonzeros = np.count_nonzero(codes, axis=0).astype(np.int64)
            csc = encode_codes(codes, cfg.n_pe, cfg.index_bits, cfg.value_bits, cfg.pointer_bits)
            synthetic_weights = False
        else:
            csc, codebook, column_nonzeros = self._synthetic_weights(m, k, layer.weight_density, rng)
            synthetic_weights = True
        activations = tensors.activations if tensors is not None else None
        if activations is not None:
            inputs = self._calibration_inputs(layer, activations, k, n, rng)
            synthetic = False
        else:
            inputs = synthetic_inputs(k, n, layer.activation_density, rng)
            synthetic = True
        return PreparedLayer(csc=csc, codebook=codebook, inputs=inputs, synthetic_weights=synthetic_weights,
                             synthetic_inputs=synthetic, column_nonzeros=column_nonzeros)

    def _check_working_memory(self, layer: Layer, m: int, k: int, n: int, real_weights: bool,
                              calibration_inputs: bool, keep_output: bool = False) -> None:
        """Refuse a layer whose working arrays would exceed the memory budget, before allocating them.

        The estimate (:func:`energysim.engines.eie.memory.estimate_bytes`) is an upper
        bound of the largest stage: the weights being drawn or quantised and fitted, their
        encoding, the input vectors, the per-(row pass, column, PE) tables and the lane
        blocks, and with ``keep_output`` the decoded weights and the output. The budget is
        :data:`energysim.limits.ARRAY_BYTES`.

        Raises
        ------
        InputError
            If the estimate exceeds the budget (the message gives it in GiB).
        """
        cfg = self.config
        needed = estimate_bytes(m, k, n, n_pe=cfg.n_pe, rows_per_pass=cfg.activation_regfile_entries,
                                index_bits=cfg.index_bits, density=layer.weight_density, real_weights=real_weights,
                                calibration_inputs=calibration_inputs, compiled=use_compiled(),
                                keep_output=keep_output)
        if needed > ARRAY_BYTES.value:
            raise InputError(
                f"layer '{layer.name}': the eie engine would hold up to {needed / 2**30:.1f} GiB of working arrays "
                f"({k} x {n} input vectors, the {m} x {k} weights being fitted and encoded, the column tables), "
                f"over the {ARRAY_BYTES.what} of {ARRAY_BYTES.stated} ({ARRAY_BYTES.advice})"
            )

    def _synthetic_weights(self, m: int, k: int, density: float,
                           rng: np.random.Generator) -> tuple[EieCsc, Codebook, np.ndarray]:
        """Seeded Bernoulli(``density``) weights: the encoded matrix, its codebook and non-zeros per column."""
        cfg = self.config
        drawn = synthetic_weights(m, k, density, cfg.value_bits, cfg.codebook_fit_samples, cfg.seed, rng)
        csc = encode_flat(drawn.positions, drawn.codes, (m, k), cfg.n_pe, cfg.index_bits, cfg.value_bits,
                          cfg.pointer_bits)
        if drawn.positions is None:
            column_nonzeros = np.full(k, m, dtype=np.int64)
        else:
            column_nonzeros = np.diff(np.searchsorted(drawn.positions, np.arange(k + 1, dtype=np.int64) * m))
        return csc, drawn.codebook, column_nonzeros

    def _calibration_inputs(self, layer: Layer, activations: np.ndarray, k: int, n: int, rng: np.random.Generator) -> np.ndarray:
        """``(K, N)`` input vectors drawn (seeded) from calibration samples; conv2d samples lowered by im2col."""
        acts = np.asarray(activations, dtype=np.float64)
        samples = acts.shape[0] if acts.ndim else 0
        if samples < 1:
            raise InputError(f"layer '{layer.name}': calibration activations must have at least one sample (got shape {acts.shape})")
        _check_finite(layer, "calibration activations", acts)
        if isinstance(layer, Conv2dLayer):
            expected = (layer.in_channels, layer.in_height, layer.in_width)
            if acts.shape[1:] != expected:
                raise InputError(f"layer '{layer.name}': conv activations must have shape (samples, {expected}) (got {acts.shape})")
            pick = rng.choice(samples, size=layer.batch, replace=samples < layer.batch)
            return _im2col(acts[pick], layer)
        if acts.shape[1:] == (k,):
            pick = rng.choice(samples, size=n, replace=samples < n)
            return acts[pick].T.copy()
        if isinstance(layer, GemmLayer) and acts.shape[1:] == (k, n):
            return acts[int(rng.integers(samples))].copy()
        raise InputError(f"layer '{layer.name}': activations must have shape (samples, {k}) (got {acts.shape})")

    # ------------------------------------------------------------- functional
    @staticmethod
    def functional_output(prepared: PreparedLayer) -> np.ndarray:
        """The layer output ``(M, N)`` computed from the compressed representation.

        Rows are recovered by walking each PE's ``z`` run lengths from its column
        pointers; weights by codebook lookup of ``v``; padding contributes nothing.
        """
        import scipy.sparse          # only the functional check needs it (an import of a few tenths of a second)

        rows, cols, codes = prepared.csc.decode()
        matrix = scipy.sparse.csc_matrix((prepared.codebook.decode(codes), (rows, cols)), shape=prepared.csc.shape)
        return np.asarray(matrix @ dense_inputs(prepared.inputs))

    def required_costs(self) -> tuple[tuple[str, str], ...]:
        """Every (component, action) the engine counts (``REQUIRED_COSTS``)."""
        return REQUIRED_COSTS

    # -------------------------------------------------------------- simulate
    def run(self, layer: Layer, tensors: LayerTensors | None, options: EieOptions) -> LayerResult:
        """Simulate one layer cycle by cycle.

        Parameters
        ----------
        layer
            Linear, conv2d or gemm layer (conv2d/gemm lowered to GEMM: weights
            ``M x K``, each of the ``N`` input columns one sparse vector).
        tensors
            Real weights (and calibration activations); None for a seeded synthetic
            layer at the layer's ``weight_density`` and ``activation_density``.
        options
            ``keep_output``: also compute the layer output from the compressed weights
            and put it in ``stats["output"]`` (``(M, N)`` array). ``prepared``: a
            :class:`PreparedLayer` from :meth:`prepare` to reuse (skips encoding).

        Returns
        -------
        LayerResult
            Counts, cycles (compute, fill_drain, stall, total), useful MACs and stats.

        Raises
        ------
        UnsupportedError
            If the layer is not linear, conv2d or gemm.
        InputError
            If the tensors do not fit the layer, a weight or an activation is NaN
            or infinite, or ``prepared`` does not match the engine and the layer.
        """
        if not isinstance(layer, (LinearLayer, Conv2dLayer, GemmLayer)):
            raise UnsupportedError(f"layer '{getattr(layer, 'name', layer)}': {_unsupported_reason(layer)}")
        cfg = self.config
        prepared = options.prepared
        if options.keep_output:           # the output stage's memory, checked before anything is allocated
            gemm = layer.gemm_shape()
            self._check_working_memory(layer, gemm.m, gemm.k, gemm.n, tensors is not None and prepared is None,
                                       tensors is not None and tensors.activations is not None, keep_output=True)
        prep = prepared if prepared is not None else self.prepare(layer, tensors)
        csc, inputs = prep.csc, prep.inputs
        m, k = csc.shape
        n_pe = cfg.n_pe
        shape = layer.gemm_shape()
        if csc.n_pe != n_pe or csc.shape != (shape.m, shape.k) or inputs.shape != (shape.k, shape.n):
            raise InputError(
                f"layer '{layer.name}': the prepared layer must match the engine's {n_pe} PEs and the layer's GEMM "
                f"(M={shape.m}, K={shape.k}, N={shape.n}) (got {csc.n_pe} PEs, weights {csc.shape}, inputs {inputs.shape})"
            )
        widths = (csc.index_bits, csc.value_bits, csc.pointer_bits)
        if widths != (cfg.index_bits, cfg.value_bits, cfg.pointer_bits):
            raise InputError(
                f"layer '{layer.name}': the prepared layer must be encoded with the engine's index_bits, value_bits and "
                f"pointer_bits ({cfg.index_bits}, {cfg.value_bits}, {cfg.pointer_bits}) (got {widths[0]}, {widths[1]}, "
                f"{widths[2]})"
            )
        if prepared is not None and not isinstance(inputs, SyntheticInputs):
            _check_finite(layer, "prepared input activations", inputs)
        regfile = cfg.activation_regfile_entries
        passes = max(1, ceil_div(csc.rows_per_pe, regfile))
        columns = inputs.shape[1]
        lanes = simulate_lanes(csc, inputs, regfile, cfg.entries_per_line, cfg.queue_depth, cfg.queue_slot_freed_at)
        # A lane's last entry is at cycle T. Before the first entry: cycle 0 loads activation pack 0, cycle 1
        # broadcasts, cycle 2 the pointer stage takes it (_LEAD_IN_CYCLES); after the last entry,
        # pipeline_depth + 1 more cycles until the last accumulator write lands.
        window = lanes.cycles_last_entry + lanes.lanes_run * (1 - _LEAD_IN_CYCLES)   # cycles 3 .. last entry
        cycles = {
            "compute": lanes.cycles_compute,
            "fill_drain": lanes.lanes_run * (_LEAD_IN_CYCLES + cfg.pipeline_depth + 1),
            "stall": window - lanes.cycles_compute,
        }
        cycles["total"] = cycles["compute"] + cycles["fill_drain"] + cycles["stall"]
        placement = place_weights(csc, self.hardware, cfg.spmat_line_bits, cfg.entries_per_line, passes, layer.name,
                                  cfg.capacity == "enforce")
        dram_wait = max(0, placement.cycles_dram - cycles["total"])
        cycles["stall"] += dram_wait
        cycles["total"] += dram_wait

        broadcasts = lanes.broadcasts
        processed = lanes.entries
        useful = lanes.useful
        padding = processed - useful
        lanes_run = lanes.lanes_run
        counts: dict[tuple[str, str, str], int] = {
            ("SpmatSRAM", "weights", "read"): lanes.line_reads,
            ("PtrSRAM", "metadata", "read"): broadcasts * n_pe,
            ("ActQueue", "inputs", "push"): broadcasts * n_pe,
            ("ActQueue", "inputs", "pop"): broadcasts * n_pe,
            ("Codebook", "weights", "lookup"): processed,
            ("ArithmUnit", "-", "mult"): useful,
            ("ArithmUnit", "-", "add"): useful,
            ("ArithmUnit", "padding", "mult"): padding,
            ("ArithmUnit", "padding", "add"): padding,
            ("ActRegFile", "outputs", "read"): processed,
            ("ActRegFile", "outputs", "update"): processed,
            ("ActRegFile", "inputs", "read"): lanes_run * k,
        }
        input_batches = ceil_div(k, regfile * n_pe)
        if input_batches > 1:
            counts[("ActSRAM", "inputs", "read")] = lanes_run * k
            counts[("ActRegFile", "inputs", "fill")] = lanes_run * k
        if passes > 1:
            counts[("ActRegFile", "outputs", "read")] += columns * m
            counts[("ActSRAM", "outputs", "write")] = columns * m
        counts.update(placement.counts)

        busy_pe = lanes.busy_per_pe
        starved_pe = window - busy_pe
        busy_total = int(busy_pe.sum())
        theoretical = processed / n_pe
        stats: dict[str, Any] = {
            "n_pe": n_pe,
            "queue_depth": cfg.queue_depth,
            "row_passes": passes,
            "input_batches": input_batches,
            "input_vectors": columns,
            "activations_broadcast": broadcasts,
            "activation_density_measured": broadcasts / (columns * k) if columns * k else 0.0,
            "weight_density_measured": csc.n_nonzero / (m * k),
            "entries_processed": processed,
            "padding_processed": padding,
            "padding_share": padding / processed if processed else 0.0,
            "padding_share_stored": csc.padding_share,
            "storage_bits": csc.storage_bits(),
            "weight_storage_bits": csc.storage_bits()["total"],
            "pointer_overflow": csc.pointer_overflow,
            "pointers_per_pe": k + 1,
            "max_pointer": csc.max_pointer,
            "cycles_theoretical": theoretical,
            "cycles_theoretical_no_padding": useful / n_pe,
            "cycles_busy_per_pe": busy_pe.tolist(),
            "cycles_starved_per_pe": starved_pe.tolist(),
            "cycles_queue_full_stall": lanes.cycles_queue_full,
            "cycles_fetch_stall": lanes.cycles_fetch,
            "load_balance_efficiency": useful / (n_pe * cycles["total"]) if cycles["total"] else 0.0,
            "busy_fraction": busy_total / (n_pe * window) if window else 0.0,
            "actual_over_theoretical": cycles["total"] / theoretical if theoretical else float("nan"),
            "idle_share": 1.0 - busy_total / (n_pe * window) if window else 0.0,
            "codebook": prep.codebook.centroids.tolist(),
            "synthetic_weights": prep.synthetic_weights,
            "synthetic_inputs": prep.synthetic_inputs,
            "cycles_dram_wait": dram_wait,
            **placement.stats,
        }
        if options.keep_output:
            stats["output"] = self.functional_output(prep)
        compulsory = _compulsory(prep, lanes.uses, lanes.line_bound, n_pe) + placement.compulsory
        return self.result(
            layer,
            counts=counts,
            cycles=cycles,
            macs=useful,
            macs_peak_per_cycle=n_pe,
            compulsory=compulsory,
            stats=stats,
            storage_fit=placement.storage_fit,
        )


def _check_finite(layer: Layer, what: str, values: np.ndarray) -> None:
    """Raise :class:`InputError` naming the layer if ``values`` holds a NaN or an infinity."""
    finite = np.isfinite(values)
    if not finite.all():
        raise InputError(
            f"layer '{layer.name}': {what} must be finite (got {int(finite.size - np.count_nonzero(finite))} NaN or inf values)"
        )


def _compulsory(prep: PreparedLayer, uses: np.ndarray, line_bound: int, n_pe: int) -> list[Compulsory]:
    """Lower bounds on three counts, computed from the inputs, not from the simulated lanes.

    Parameters
    ----------
    prep
        The prepared layer: per-column non-zero weights (from the weights before
        encoding, or by decoding the format).
    uses
        ``(K,)`` input vectors in which input ``j`` is non-zero (counted from the inputs).
    line_bound
        Sum over input vectors ``c`` and PEs of ``ceil(entries of the PE in the columns
        active in c / entries_per_line)``, computed block by block from the inputs'
        activity and the encoded per-PE column entries
        (:attr:`energysim.engines.eie.lanes.LaneTotals.line_bound`).
    n_pe
        Processing elements.

    Returns
    -------
    list of Compulsory
        - useful multiplies >= pairs (non-zero weight ``W[i, j]``, non-zero input
          ``x[j, c]``) over all input columns ``c``;
        - queue pushes >= ``n_pe`` x non-zero input activations (every PE receives
          each one at least once; row passes repeat them);
        - sparse-matrix line reads >= ``line_bound`` (every entry processed sits in a
          line read for that input vector; row passes can only add reads).
    """
    column_nonzeros = prep.column_nonzeros
    if column_nonzeros is None:
        column_nonzeros = np.bincount(prep.csc.decode()[1], minlength=prep.csc.shape[1])
    pairs = int(np.dot(np.asarray(column_nonzeros, dtype=np.int64), uses.astype(np.int64)))
    return [
        Compulsory("SpmatSRAM", "weights", ("read",), int(line_bound)),
        Compulsory("ActQueue", "inputs", ("push",), n_pe * int(uses.sum())),
        Compulsory("ArithmUnit", "-", ("mult",), pairs),
    ]


def _unsupported_reason(layer) -> str:
    """Why EIE, one stored sparse weight matrix times activation vectors per layer, cannot run this layer."""
    kind = getattr(layer, "kind", type(layer).__name__)
    if kind == "grouped_conv2d":
        return (f"the eie engine stores one sparse weight matrix per layer and interleaves its rows over all PEs; "
                f"a grouped_conv2d is {layer.groups} separate matrices of {layer.out_channels // layer.groups} "
                f"row{'s' if layer.out_channels // layer.groups != 1 else ''}, "
                f"which EIE's paper does not map (run it on a loopnest, dense or a100 hardware)")
    if kind == "batched_matmul":
        return ("the eie engine multiplies stored (compressed) weights by activations; a batched_matmul multiplies "
                "two activations, so there is no weight matrix to compress (run it on a loopnest or a100 hardware)")
    return f"the eie engine runs linear, conv2d and gemm layers (got {kind})"

