"""What an engine returns for one layer: action counts, cycles, stats; and the invariants.

Counts are kept apart from costs (Accelergy's idea): an engine only counts; the
report multiplies each count by the hardware's per-action cost.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from energysim.errors import InvariantError

CYCLE_PARTS = ("compute", "fill_drain", "stall")
"""Cycle categories that add up to ``total``."""


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
    and the parts add up to ``total``; every compulsory bound holds.
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
