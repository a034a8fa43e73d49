"""Cost tables: (component, action, bits[, capacity]) -> energy in pJ with its source.

A table is data (built-in TOML files under ``energysim/costs/data`` or a user's
TOML file with the same schema). :meth:`CostTable.lookup` returns a published
entry as it is, or derives one by a named rule of :mod:`energysim.costs.scaling`
and says so in the entry's ``source``.
"""

from __future__ import annotations

import math
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from energysim.config.loading import load_model_file
from energysim.costs import scaling
from energysim.errors import InputError
from energysim.limits import OPERAND_BITS

MEMORY_ACTIONS = ("read", "write", "fill", "update")
"""Memory actions priced by a table's ``access`` entry when it has no action-specific one."""


class CostEntry(BaseModel):
    """One priced action.

    Attributes
    ----------
    component
        What performs the action (``int_add``, ``float_mult``, ``sram``, ``dram``, ...).
    action
        ``op`` for arithmetic, ``access`` (any memory action) or ``read``/``write``/...
    bits
        Operand or word width in bits.
    energy_pj
        Energy of one action in pJ.
    source
        Where the number comes from (paper, table, and any scaling rule applied).
    capacity_bytes
        For memories whose cost depends on size: the capacity the entry was published at.
    label
        Human label for tables (``32-bit int add``).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    component: str = Field(min_length=1)
    action: str = Field(min_length=1)
    bits: int = Field(gt=0)
    energy_pj: float = Field(ge=0.0)
    source: str = Field(min_length=1)
    capacity_bytes: int | None = Field(default=None, gt=0)
    label: str = ""

    @model_validator(mode="after")
    def _finite(self) -> "CostEntry":
        if not math.isfinite(self.energy_pj):
            raise ValueError(f"energy_pj must be finite (got {self.energy_pj})")
        return self


class ReferenceKey(BaseModel):
    """The entry other costs are expressed relative to (the lecture uses the 32-bit int add)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    component: str
    action: str
    bits: int = Field(gt=0)


class CostTableFile(BaseModel):
    """Strict schema of a cost-table TOML file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: int
    name: str = Field(min_length=1)
    description: str = ""
    reference: ReferenceKey | None = None
    entries: list[CostEntry] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> "CostTableFile":
        seen = set()
        for entry in self.entries:
            key = (entry.component, entry.action, entry.bits, entry.capacity_bytes)
            if key in seen:
                raise ValueError(f"entries must be unique per (component, action, bits, capacity_bytes); {key} appears twice")
            seen.add(key)
        return self


class CostTable:
    """A named set of :class:`CostEntry` with width and capacity scaling at lookup.

    Parameters
    ----------
    name
        Table name, quoted in every source it produces.
    entries
        The published entries.
    description
        One line on what the table is.
    reference
        Entry that relative costs are computed against (default: the first entry).
    """

    def __init__(self, name: str, entries: list[CostEntry], description: str = "", reference: ReferenceKey | None = None):
        self.name = name
        self.entries = tuple(entries)
        self.description = description
        self.reference = reference

    @classmethod
    def from_file(cls, path: str | Path, data: dict | None = None) -> "CostTable":
        """Load a cost table from a TOML file (``schema_version = 1``, ``[[entries]]``).

        ``data`` is the file's parsed TOML when the caller has read it already (None: read here).
        """
        spec = load_model_file(path, CostTableFile, data)
        return cls(spec.name, list(spec.entries), spec.description, spec.reference)

    def components(self) -> list[str]:
        """Component names the table prices, in first-seen order."""
        return list(dict.fromkeys(e.component for e in self.entries))

    def _candidates(self, component: str, action: str) -> list[CostEntry]:
        exact = [e for e in self.entries if e.component == component and e.action == action]
        if exact:
            return exact
        if action in MEMORY_ACTIONS or action == "access":
            return [e for e in self.entries if e.component == component and e.action == "access"]
        return []

    def lookup(self, component: str, action: str, bits: int, capacity_bytes: int | None = None) -> CostEntry:
        """Price one action; derive it by a named scaling rule when it is not published.

        Parameters
        ----------
        component, action
            What is priced; memory actions (read/write/fill/update) fall back to the
            component's ``access`` entry, and the source says which entry was used.
        bits
            Operand or word width in bits.
        capacity_bytes
            Memory capacity in bytes, for components published at several capacities.

        Raises
        ------
        InputError
            If the table has no entry for the component and action.
        """
        if isinstance(bits, bool) or bits <= 0:
            raise InputError(f"cost lookup {component}.{action}: bits must be > 0 (got {bits})")
        OPERAND_BITS.check(f"cost lookup {component}.{action}: the width", bits)
        candidates = self._candidates(component, action)
        if not candidates:
            known = ", ".join(sorted({f"{e.component}.{e.action}" for e in self.entries}))
            raise InputError(f"cost table '{self.name}' has no entry for {component}.{action} (it has: {known})")
        capacities = sorted({e.capacity_bytes for e in candidates if e.capacity_bytes is not None})
        notes: list[str] = []
        if capacity_bytes is not None and len(capacities) >= 2:
            width = _nearest_width(sorted({e.bits for e in candidates}), bits)
            points = [(e.capacity_bytes, e.energy_pj) for e in candidates if e.bits == width and e.capacity_bytes]
            exact = [e for e in candidates if e.bits == width and e.capacity_bytes == capacity_bytes]
            if exact:
                base = exact[0]
                base_pj = base.energy_pj
                notes.append(f"{self.name}: {base.label or component} {base.energy_pj:g} pJ ({base.source})")
            else:
                base_pj, extrapolated = scaling.scale_capacity(points, capacity_bytes)
                rule = scaling.SRAM_CAPACITY_RULE + (" (extrapolated)" if extrapolated else "")
                sizes = "/".join(_fmt_bytes(c) for c, _ in sorted(points))
                notes.append(f"{self.name}: {component} {width}b at {sizes}, scaled to {_fmt_bytes(capacity_bytes)} by {rule}")
            from_bits = width
        else:
            width = _nearest_width(sorted({e.bits for e in candidates}), bits)
            pick = [e for e in candidates if e.bits == width]
            base = pick[0]
            base_pj = base.energy_pj
            from_bits = width
            cap_note = ""
            if capacity_bytes is not None and base.capacity_bytes is None:
                cap_note = " (single-size entry: capacity not scaled)"
            label = base.label or f"{component} {width}b"
            notes.append(f"{self.name}: {label} {base.energy_pj:g} pJ{cap_note} ({base.source})")
        energy = base_pj
        if from_bits != bits:
            rule = scaling.width_rule_for(component)
            energy = scaling.scale_width(base_pj, from_bits, bits, rule)
            notes.append(f"scaled {from_bits}b->{bits}b by {rule}")
        if not math.isfinite(energy):
            raise InputError(f"cost lookup {component}.{action}: scaling to {bits} bits gives a non-finite energy ({energy})")
        return CostEntry(
            component=component,
            action=action,
            bits=bits,
            energy_pj=energy,
            source="; ".join(notes),
            capacity_bytes=capacity_bytes,
        )

    def reference_entry(self) -> CostEntry:
        """The entry relative costs are computed against."""
        if self.reference is None:
            return self.entries[0]
        return self.lookup(self.reference.component, self.reference.action, self.reference.bits)


def _nearest_width(widths: list[int], bits: int) -> int:
    """Published width closest to ``bits`` in log distance; ties go to the wider one."""
    return min(widths, key=lambda w: (abs(math.log(w / bits)), -w))


def _fmt_bytes(size: int) -> str:
    for unit, scale in (("MB", 1 << 20), ("KB", 1 << 10)):
        if size >= scale and size % scale == 0:
            return f"{size // scale} {unit}"
    return f"{size} B"
