"""Where EIE's compressed weights live: per-PE SRAM capacity, and the DRAM stream of a layer that does not fit.

The rule (``docs/engines/eie.md``, "Capacity"):

- Each PE owns an equal share of ``SpmatSRAM`` (its entries, in whole lines) and
  of ``PtrSRAM`` (its ``K + 1`` column pointers): the level's ``capacity_bytes x
  instances`` over the engine's ``n_pe`` (one instance per PE in the bundled files,
  where ``instances == n_pe``; a PE-count sweep that changes only ``n_pe`` keeps
  the chip's total storage). A part fits when the fullest PE's slice fits its
  share, i.e. ``largest slice x n_pe <= capacity_bytes x 8 x instances``.
- Both fit: the layer's weights are resident, loaded once in I/O mode (not
  counted), as in the paper.
- Either does not fit: the layer's whole compressed CSC stream, every PE's lines
  and pointers, is read from the hardware's DRAM level once per batch (one
  simulated layer: the GEMM's ``N`` input vectors all use a chunk of columns
  before the next chunk arrives) and written into ``SpmatSRAM`` / ``PtrSRAM``
  as it arrives (``fill``); the PEs then read it as usual. Pointers are
  streamed again for every row pass (each pass re-reads them).
- Time: the stream is double-buffered (the next chunk arrives while the PEs
  work on this one), so the layer takes ``max(pipeline cycles, ceil(DRAM words
  / DRAM words per cycle))``; the excess is stall (``cycles_dram_wait``).
- ``capacity = "report_only"`` (engine key; set in ``hwconfigs/eie-64pe.toml`` to
  reproduce the paper) keeps every layer on chip whatever its size, as the paper's
  evaluation does: misfits are still reported in ``storage_fit`` but nothing
  streams. The paper runs its own VGG-6 on chip with 25,089 pointers per PE
  against the 16,384 its 32 KB Ptr SRAM holds, and its PE-count sweep (Fig. 11)
  from 1 PE, whose share of the chip cannot hold VGG-6's padded CSC.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from energysim.engines.result import Compulsory, StorageFit
from energysim.errors import UnsupportedError
from energysim.formats.eie_csc import EieCsc
from energysim.hardware.hierarchy import Hardware, MemoryLevel
from energysim.units import ceil_div

SPMAT_LEVEL = "SpmatSRAM"
"""Memory level holding each PE's sparse-matrix entries."""

POINTER_LEVEL = "PtrSRAM"
"""Memory level holding each PE's column pointers."""


@dataclass(frozen=True)
class WeightPlacement:
    """Where a layer's CSC lives and what streaming it from DRAM costs (nothing when resident).

    Attributes
    ----------
    storage_fit
        Fit of the entries (``weights``) in ``SpmatSRAM`` and of the pointers
        (``metadata``) in ``PtrSRAM``, for each that is a memory level.
    counts
        DRAM reads and SRAM fills of the stream, ``(component, tensor, action) -> count``
        (empty when resident).
    compulsory
        DRAM read bounds from the stored bits (empty when resident).
    cycles_dram
        Cycles the DRAM needs to deliver the stream at its bandwidth (0 when resident).
    stats
        ``weights_streamed_from_dram``, ``dram_stream_bits`` and ``cycles_dram_stream``
        (0 when resident).
    """

    storage_fit: list[StorageFit]
    counts: dict[tuple[str, str, str], int] = field(default_factory=dict)
    compulsory: list[Compulsory] = field(default_factory=list)
    cycles_dram: int = 0
    stats: dict[str, Any] = field(default_factory=dict)


def _memory_level(hardware: Hardware, name: str) -> MemoryLevel | None:
    """The memory level called ``name``, or None when the hardware prices it as a unit."""
    return next((level for level in hardware.levels if level.name == name), None)


def _fit(level: MemoryLevel, tensor: str, slice_bits: int, n_pe: int) -> StorageFit:
    """Fit of ``n_pe`` per-PE slices (the largest ``slice_bits``) into a level shared evenly by the PEs."""
    return StorageFit.at_level(level, tensor, slice_bits * n_pe)


def place_weights(csc: EieCsc, hardware: Hardware, line_bits: int, entries_per_line: int, row_passes: int,
                  layer_name: str, enforce: bool = True) -> WeightPlacement:
    """Check the CSC against the per-PE SRAMs and, if it does not fit, count its DRAM stream.

    Parameters
    ----------
    csc
        The layer's interleaved CSC.
    hardware
        The EIE hardware; its ``dram`` level (if any) serves a layer that does not fit.
    line_bits, entries_per_line
        Sparse-matrix SRAM line width (bits) and entries per line.
    row_passes
        Row passes of the layer (pointers are streamed once per pass).
    layer_name
        For the error message.
    enforce
        Whether a misfit makes the layer stream (False: reported only).

    Returns
    -------
    WeightPlacement

    Raises
    ------
    UnsupportedError
        If the CSC does not fit and the hardware has no ``dram`` level to stream it from.
    """
    spmat, pointers = _memory_level(hardware, SPMAT_LEVEL), _memory_level(hardware, POINTER_LEVEL)
    n_pe, k = csc.n_pe, csc.shape[1]
    lines_per_pe = ceil_div(np.diff(csc.pe_offsets).astype(np.int64), entries_per_line)
    pointer_bits_per_pe = (k + 1) * csc.pointer_bits
    fits = []
    if spmat is not None:
        fits.append(_fit(spmat, "weights", int(lines_per_pe.max(initial=0)) * line_bits, n_pe))
    if pointers is not None:
        fits.append(_fit(pointers, "metadata", pointer_bits_per_pe, n_pe))
    binding = [fit for fit in fits if not fit.fits] if enforce else []
    if not binding:
        return WeightPlacement(storage_fit=fits, stats={"weights_streamed_from_dram": False, "dram_stream_bits": 0,
                                                        "cycles_dram_stream": 0})
    dram = next((level for level in hardware.levels if level.config.kind == "dram"), None)
    if dram is None:
        miss = binding[0]
        raise UnsupportedError(
            f"{hardware.path or hardware.name}: memory: layer '{layer_name}' needs {miss.needed_bits} bits of "
            f"{miss.level} for its {miss.tensor}, more than its {miss.capacity_bits}, so it must stream its CSC "
            f"from a dram level, and the hardware has none"
        )
    entry_bits = csc.value_bits + csc.index_bits
    lines = int(lines_per_pe.sum())
    weight_bits = lines * line_bits
    metadata_bits = row_passes * n_pe * pointer_bits_per_pe
    word = dram.config.word_bits
    counts = {
        (dram.name, "weights", "read"): ceil_div(weight_bits, word),
        (dram.name, "metadata", "read"): ceil_div(metadata_bits, word),
    }
    if spmat is not None:
        counts[(spmat.name, "weights", "fill")] = lines
    if pointers is not None:
        counts[(pointers.name, "metadata", "fill")] = ceil_div(metadata_bits, pointers.config.word_bits)
    words = counts[(dram.name, "weights", "read")] + counts[(dram.name, "metadata", "read")]
    cycles_dram = math.ceil(words / dram.config.bandwidth_words_per_cycle)
    compulsory = [
        Compulsory(dram.name, "weights", ("read",), ceil_div(csc.n_entries * entry_bits, word)),
        Compulsory(dram.name, "metadata", ("read",), ceil_div(n_pe * pointer_bits_per_pe, word)),
    ]
    stats = {"weights_streamed_from_dram": True, "dram_stream_bits": weight_bits + metadata_bits,
             "cycles_dram_stream": cycles_dram}
    return WeightPlacement(storage_fit=fits, counts=counts, compulsory=compulsory, cycles_dram=cycles_dram, stats=stats)
