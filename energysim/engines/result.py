"""What an engine returns for one layer: action counts, cycles, stats, capacity; and the invariants.

Counts are kept apart from costs (Accelergy's idea): an engine only counts; the
report multiplies each count by the hardware's per-action cost. Every engine also
says, per on-chip level and tensor, whether the tensor fits (:class:`StorageFit`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from energysim.errors import InvariantError

if TYPE_CHECKING:
    from energysim.hardware.hierarchy import MemoryLevel

CYCLE_PARTS = ("compute", "fill_drain", "stall")
"""Cycle categories that add up to ``total``."""

WEIGHT_TENSORS = ("weights", "metadata")
"""Tensors that make up a layer's stored weights (values and the format's indices or pointers)."""


@dataclass(frozen=True)
class Compulsory:
    """A lower bound an engine promises on one count (e.g. DRAM reads >= weights' size).

    Attributes
    ----------
    component, tensor, action
        The count the bound applies to (summed over the given actions).
    minimum
        The least count physically possible (compulsory traffic), in accesses.
    """

    component: str
    tensor: str
    actions: tuple[str, ...]
    minimum: int


@dataclass(frozen=True)
class StorageFit:
    """Whether one tensor of a layer fits one memory level.

    Attributes
    ----------
    level
        Memory level name of the hardware (``SpmatSRAM``, ``GlobalBuffer``, ``L2``, ...).
    tensor
        ``weights``, ``metadata`` (a sparse format's pointers or indices), ``inputs`` or ``outputs``.
    needed_bits
        Capacity the tensor needs at this level, bits, as the engine lays it out. When
        the level is split into equal per-PE shares that each hold one slice (EIE's
        per-PE SRAMs), this is the largest slice x the PEs, so that ``fits`` is
        exactly ``needed_bits <= capacity_bits``.
    capacity_bits
        The level's capacity, bits: ``capacity_bytes x 8 x instances``.
    fits
        ``needed_bits <= capacity_bits``.
    """

    level: str
    tensor: str
    needed_bits: int
    capacity_bits: int
    fits: bool

    @classmethod
    def check(cls, level: str, tensor: str, needed_bits: int, capacity_bits: int) -> "StorageFit":
        """The fit of ``needed_bits`` into ``capacity_bits`` (both bits) at ``level``."""
        return cls(level, tensor, int(needed_bits), int(capacity_bits), int(needed_bits) <= int(capacity_bits))

    @classmethod
    def at_level(cls, level: "MemoryLevel", tensor: str, needed_bits: int) -> "StorageFit":
        """The fit of ``needed_bits`` into a memory level of ``capacity_bytes x 8 x instances`` bits."""
        capacity_bits = int(level.config.capacity_bytes) * 8 * level.config.instances
        return cls.check(level.name, tensor, needed_bits, capacity_bits)

    @property
    def label(self) -> str:
        """``tensor>level``, e.g. ``weights>SpmatSRAM``."""
        return f"{self.tensor}>{self.level}"


@dataclass
class LayerResult:
    """The simulation of one layer on one engine.

    Attributes
    ----------
    layer
        Layer name.
    engine
        Engine kind (``dense``, ``eie``, ``sparse_tc``).
    hardware
        Hardware name.
    clock_ghz
        Clock used to convert cycles to seconds, GHz.
    counts
        ``(component, tensor, action) -> count``; component is a memory level or a
        unit name of the hardware, tensor one of weights/inputs/outputs/metadata/...
        or ``-`` for compute.
    cycles
        ``compute``, ``fill_drain``, ``stall`` and ``total`` cycles.
    macs
        Useful multiply-accumulates performed (non-zero work for sparse engines).
    macs_peak_per_cycle
        MACs the engine can do per cycle at peak (for utilisation).
    compulsory
        Lower bounds checked by :func:`check_invariants`.
    stats
        Engine-specific figures (per-PE busy cycles, load balance, tiling, ...).
        Every engine sets ``weight_storage_bits``: the bits its weight format
        (dense words, EIE interleaved CSC, 2:4 values + metadata) occupies.
    storage_fit
        One :class:`StorageFit` per (on-chip level, tensor) the engine checks: does
        the tensor fit the level whole (the loop-nest engine: does the mapping's
        tile of it fit the capacity it may use, at the levels the mapping keeps
        it). What a misfit costs is engine-specific and
        already in the counts (EIE streams a spilled CSC part from DRAM; the dense
        and sparse tensor-core engines tile from DRAM anyway).
    """

    layer: str
    engine: str
    hardware: str
    clock_ghz: float
    counts: dict[tuple[str, str, str], int]
    cycles: dict[str, int]
    macs: int
    macs_peak_per_cycle: int
    compulsory: list[Compulsory] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)
    storage_fit: list[StorageFit] = field(default_factory=list)

    @property
    def cycles_total(self) -> int:
        """Total cycles of the layer."""
        return self.cycles["total"]

    @property
    def latency_s(self) -> float:
        """Latency in seconds at ``clock_ghz``."""
        return self.cycles["total"] / (self.clock_ghz * 1e9)

    @property
    def utilisation(self) -> float:
        """Useful MACs / (total cycles x peak MACs per cycle)."""
        denominator = self.cycles["total"] * self.macs_peak_per_cycle
        return self.macs / denominator if denominator else 0.0

    @property
    def weights_on_chip(self) -> bool | None:
        """Whether every checked weight tensor (weights, metadata) fits its level; None if none is checked."""
        checked = [fit.fits for fit in self.storage_fit if fit.tensor in WEIGHT_TENSORS]
        return all(checked) if checked else None

    @property
    def spilled(self) -> str:
        """The misfits as ``tensor>level`` joined by ``,`` (e.g. ``weights>SpmatSRAM``); '' when all fit."""
        return ",".join(fit.label for fit in self.storage_fit if not fit.fits)

    def count(self, component: str, tensor: str | None = None, action: str | None = None) -> int:
        """Sum of counts matching a component and, optionally, a tensor and an action."""
        return sum(
            value
            for (c, t, a), value in self.counts.items()
            if c == component and (tensor is None or t == tensor) and (action is None or a == action)
        )


def check_invariants(result: LayerResult) -> None:
    """Raise :class:`InvariantError` if the result breaks an invariant.

    Checks: every count is a non-negative integer; every cycle part is non-negative
    and the parts add up to ``total``; every compulsory bound holds; every storage
    fit has non-negative bits and ``fits == (needed_bits <= capacity_bits)``.
    """
    where = f"layer '{result.layer}' on {result.engine}/{result.hardware}"
    for key, value in result.counts.items():
        if not isinstance(value, int) or isinstance(value, bool):
            raise InvariantError(f"{where}: count {'.'.join(key)} must be an int (got {type(value).__name__})")
        if value < 0:
            raise InvariantError(f"{where}: count {'.'.join(key)} must be >= 0 (got {value})")
    for part in (*CYCLE_PARTS, "total"):
        if part not in result.cycles:
            raise InvariantError(f"{where}: cycles.{part} is missing")
        if result.cycles[part] < 0:
            raise InvariantError(f"{where}: cycles.{part} must be >= 0 (got {result.cycles[part]})")
    parts = sum(result.cycles[p] for p in CYCLE_PARTS)
    if parts != result.cycles["total"]:
        raise InvariantError(f"{where}: cycles compute+fill_drain+stall = {parts} must equal total {result.cycles['total']}")
    if result.macs < 0:
        raise InvariantError(f"{where}: macs must be >= 0 (got {result.macs})")
    for bound in result.compulsory:
        moved = sum(result.count(bound.component, bound.tensor, a) for a in bound.actions)
        if moved < bound.minimum:
            raise InvariantError(
                f"{where}: {bound.component} {bound.tensor} {'+'.join(bound.actions)} = {moved} "
                f"is below the compulsory traffic {bound.minimum}"
            )
    for fit in result.storage_fit:
        if fit.needed_bits < 0 or fit.capacity_bits < 0:
            raise InvariantError(f"{where}: storage fit {fit.label} must have bits >= 0 "
                                 f"(got needed {fit.needed_bits}, capacity {fit.capacity_bits})")
        if fit.fits != (fit.needed_bits <= fit.capacity_bits):
            raise InvariantError(f"{where}: storage fit {fit.label} says fits={fit.fits} for {fit.needed_bits} bits "
                                 f"needed and {fit.capacity_bits} bits of capacity")
