"""Strict schema of a hardware TOML file (``hwconfigs/*.toml``).

A hardware file names a clock, a cost table, an ordered memory hierarchy
(outermost first: DRAM, SRAM buffers, per-PE register files), priced compute
units, and an ``[engine]`` table whose ``kind`` selects the engine and whose other
keys are validated by that engine's own config model (see
:mod:`energysim.engines`).

A level gives each bandwidth in one of two forms: in words per cycle
(``bandwidth_words_per_cycle``), which scales with the clock as an on-chip SRAM's does,
or in GB/s (``bandwidth_gbps``), fixed whatever the clock as an off-chip DRAM's is; the
GB/s form is converted to words per cycle at the file's clock and ``word_bits`` when the
hardware is built (:meth:`MemoryLevelConfig.in_words_per_cycle`), so every engine reads
words per cycle and ``--set clock_ghz`` keeps GB/s fixed.

Levels of a ``kind = "loopnest"`` hardware may also give a spatial fan-out
(``mesh_x`` x ``mesh_y`` copies under one instance of the next outer level), a
vector size (``block_words``), separate write and shared bandwidths, capacities
per tensor, leakage (a static power ``leak_power_w``, priced per cycle at the file's
clock so that it follows ``--set clock_ghz``, or Timeloop's fixed ``leak_pj_per_cycle``)
and a network unit; other engines refuse these keys.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator, model_validator

TENSORS = ("weights", "inputs", "outputs")
"""Tensors a memory level can hold; partial sums live wherever outputs do."""

_DEFAULT_TABLE_COMPONENT = {"dram": "dram", "sram": "sram", "regfile": "register_file"}

LOOPNEST_LEVEL_KEYS = (
    "mesh_x", "mesh_y", "block_words", "write_bandwidth_words_per_cycle", "shared_bandwidth_words_per_cycle",
    "write_bandwidth_gbps", "shared_bandwidth_gbps", "tensor_capacity_bytes", "leak_pj_per_cycle", "leak_power_w",
    "leak_source", "network_unit",
)
"""Memory-level keys only the loop-nest engine reads (refused for other engines)."""

Tensor = Literal["weights", "inputs", "outputs"]


MIN_BANDWIDTH_WORDS_PER_CYCLE = 2.0 ** -20
"""Smallest bandwidth a level may declare, words per cycle (about one word per million cycles): below it
cycle counts pass 2**53 on ordinary layers and stop being exact (1e-300 printed a 300-digit cycle count)."""
BANDWIDTH_FORMS = (
    ("bandwidth_words_per_cycle", "bandwidth_gbps"),
    ("write_bandwidth_words_per_cycle", "write_bandwidth_gbps"),
    ("shared_bandwidth_words_per_cycle", "shared_bandwidth_gbps"),
)
"""Each bandwidth of a level as (key in words per cycle, key in GB/s); a level gives at most one of each pair."""
BANDWIDTH_SIGNIFICANT_DIGITS = 12
"""Significant digits kept of a bandwidth converted from GB/s: the division's rounding error would otherwise
turn a whole number of words per cycle into one just below it (499.9 GB/s at 0.1 GHz in 8-bit words is
4998.999999999999 words per cycle) and add a cycle to a transfer that fits exactly."""
MIN_CLOCK_GHZ = 1e-6
"""Smallest clock, GHz (1 kHz): below it latencies overflow what any modelled hardware could mean."""


def _at_least(value: float | None, floor: float, what: str) -> float | None:
    """``value`` unless it is positive but below ``floor`` (zero and negatives are the field's own ``gt=0`` rule)."""
    if value is not None and 0 < value < floor:
        raise ValueError(f"must be at least {floor:.2g} {what}")
    return value


def pj_per_cycle_of_power(power_w: float, clock_ghz: float) -> float:
    """A static power's energy per cycle at a clock, pJ: ``power_w x 1000 / clock_ghz`` (W / GHz = nJ per cycle)."""
    return power_w * 1e3 / clock_ghz


MAX_PJ_PER_ACTION = 1e12
"""Largest energy one access, operation or cycle may cost, pJ (1 J): far above any circuit, and small enough
that 2**53 counts of it stay a finite total (a 1e308 W leak gave an inf price and a traceback)."""


def words_per_cycle_of_gbps(gbps: float, clock_ghz: float, word_bits: int) -> float:
    """A bandwidth in GB/s as words per cycle at a clock: ``gbps x 8 / (clock_ghz x word_bits)``.

    GB/s are 10**9 bytes per second (as DRAM data sheets count) and GHz 10**9 cycles per second,
    so ``gbps / clock_ghz`` is bytes per cycle; the result keeps
    :data:`BANDWIDTH_SIGNIFICANT_DIGITS` significant digits (16 GB/s at 1 GHz in 16-bit words is
    exactly 8.0; at 0.5 GHz, 16.0).

    Parameters
    ----------
    gbps
        Bandwidth, GB/s.
    clock_ghz
        Clock the cycles are counted at, GHz.
    word_bits
        Bits of one word of the level.

    Returns
    -------
    float
        Words per cycle (may be fractional: 4.264 GB/s at 0.8 GHz in 32-bit words is 1.3325).
    """
    return float(f"{gbps / clock_ghz * 8 / word_bits:.{BANDWIDTH_SIGNIFICANT_DIGITS}g}")  # divide first: no overflow


class MemoryLevelConfig(BaseModel):
    """One level of the memory hierarchy.

    Costs come from the hardware's cost table (component ``table_component``,
    by default ``dram``/``sram``/``register_file`` after ``kind``, at ``word_bits``
    and ``capacity_bytes``), unless ``read_pj`` and ``write_pj`` are given with
    ``cost_source``. Each bandwidth is given in words per cycle or in GB/s, not both
    (:data:`BANDWIDTH_FORMS`); the read bandwidth is required.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, description="Level name used in reports (DRAM, GlobalBuffer, RegFile).")
    kind: Literal["dram", "sram", "regfile"]
    capacity_bytes: int | None = Field(default=None, gt=0, description="Capacity in bytes (per PE for regfile); None = unbounded (DRAM only).")
    word_bits: int = Field(gt=0, description="Bits moved by one access.")
    bandwidth_words_per_cycle: float | None = Field(
        default=None, gt=0, description="Words per cycle to the level below (per PE for regfile), the same at any clock "
                                        "(so its GB/s follows --set clock_ghz, as an on-chip SRAM's); or bandwidth_gbps.")
    bandwidth_gbps: float | None = Field(
        default=None, gt=0, description="Bandwidth to the level below in GB/s (10**9 bytes per second), fixed whatever the "
                                        "clock (an off-chip DRAM's); read as words per cycle at the file's clock and word_bits.")
    holds: tuple[Literal["weights", "inputs", "outputs"], ...] = Field(
        default=TENSORS, min_length=1, description="Tensors kept at this level; others bypass it."
    )
    instances: int = Field(default=1, gt=0, description="Copies of this level (e.g. one register file per PE).")
    table_component: str | None = Field(default=None, description="Cost-table component that prices an access.")
    read_pj: float | None = Field(default=None, ge=0, description="Explicit energy per read, pJ.")
    write_pj: float | None = Field(default=None, ge=0, description="Explicit energy per write/fill/update, pJ.")
    cost_source: str | None = Field(default=None, description="Where explicit read_pj/write_pj come from.")
    mesh_x: StrictInt | None = Field(default=None, gt=0, description="loopnest: copies along X under one instance of the next outer level.")
    mesh_y: StrictInt | None = Field(default=None, gt=0, description="loopnest: copies along Y under one instance of the next outer level.")
    block_words: StrictInt | None = Field(default=None, gt=0, description="loopnest: words moved by one vector access (default 1).")
    write_bandwidth_words_per_cycle: float | None = Field(
        default=None, gt=0, description="loopnest: words written (fills, writes, updates) per cycle per instance; default = bandwidth_words_per_cycle."
    )
    shared_bandwidth_words_per_cycle: float | None = Field(
        default=None, gt=0, description="loopnest: limit on reads + writes per cycle per instance; default none."
    )
    write_bandwidth_gbps: float | None = Field(
        default=None, gt=0, description="loopnest: write_bandwidth_words_per_cycle given in GB/s (fixed whatever the clock).")
    shared_bandwidth_gbps: float | None = Field(
        default=None, gt=0, description="loopnest: shared_bandwidth_words_per_cycle given in GB/s (fixed whatever the clock).")
    @field_validator("bandwidth_words_per_cycle", "write_bandwidth_words_per_cycle", "shared_bandwidth_words_per_cycle")
    @classmethod
    def _bandwidth_not_vanishing(cls, value: float | None) -> float | None:
        return _at_least(value, MIN_BANDWIDTH_WORDS_PER_CYCLE, "words per cycle")

    tensor_capacity_bytes: dict[Tensor, StrictInt] | None = Field(
        default=None, description="loopnest: capacity per tensor in bytes per instance (a partitioned buffer)."
    )
    leak_pj_per_cycle: float | None = Field(
        default=None, ge=0,
        description="loopnest: static energy per instance per cycle, pJ (Timeloop/Accelergy's leak: fixed per cycle, so "
                    "it does not follow --set clock_ghz).")
    leak_power_w: float | None = Field(
        default=None, ge=0,
        description="loopnest: static power per instance, W; one cycle costs leak_power_w x 1000 / clock_ghz pJ at the "
                    "file's clock, so leakage energy is power x time at any clock.")
    leak_source: str | None = Field(default=None, description="Where leak_pj_per_cycle or leak_power_w comes from.")
    network_unit: str | None = Field(
        default=None, min_length=1,
        description="loopnest: [[units]] name whose 'transfer' action prices one word crossing this level's fan-out "
                    "(into or out of one instance of the next inner keeper, or one MAC at the innermost level).",
    )

    @model_validator(mode="after")
    def _check(self) -> "MemoryLevelConfig":
        explicit = (self.read_pj is not None, self.write_pj is not None)
        if any(explicit) and not all(explicit):
            raise ValueError("read_pj and write_pj must be given together")
        if all(explicit) and not self.cost_source:
            raise ValueError("cost_source is required when read_pj and write_pj are given")
        if all(explicit) and self.table_component:
            raise ValueError("give either table_component or read_pj/write_pj, not both")
        if self.kind != "dram" and self.capacity_bytes is None and self.tensor_capacity_bytes is None:
            raise ValueError(f"capacity_bytes is required for a {self.kind} level")
        for tensor, size in (self.tensor_capacity_bytes or {}).items():
            if size <= 0:
                raise ValueError(f"tensor_capacity_bytes.{tensor} must be > 0 (got {size})")
            if tensor not in self.holds:
                raise ValueError(f"tensor_capacity_bytes names '{tensor}', which the level does not hold (holds {list(self.holds)})")
        if self.leak_pj_per_cycle is not None and self.leak_power_w is not None:
            raise ValueError(f"give leak_pj_per_cycle (pJ per cycle) or leak_power_w (W), not both "
                             f"(got {self.leak_pj_per_cycle} and {self.leak_power_w})")
        for key in ("leak_pj_per_cycle", "leak_power_w"):
            if getattr(self, key) is not None and not self.leak_source:
                raise ValueError(f"leak_source is required when {key} is given (got {key} = {getattr(self, key)})")
        if self.leak_source and self.leak_pj_per_cycle is None and self.leak_power_w is None:
            raise ValueError(f"leak_source needs leak_pj_per_cycle or leak_power_w to describe "
                             f"(got leak_source = {self.leak_source!r} alone)")
        if len(set(self.holds)) != len(self.holds):
            raise ValueError(f"holds must not repeat a tensor (got {list(self.holds)})")
        for words_key, gbps_key in BANDWIDTH_FORMS:
            words, gbps = getattr(self, words_key), getattr(self, gbps_key)
            if words is not None and gbps is not None:
                raise ValueError(f"give {words_key} (follows the clock) or {gbps_key} (GB/s, fixed), not both "
                                 f"(got {words} words per cycle and {gbps} GB/s)")
        if self.bandwidth_words_per_cycle is None and self.bandwidth_gbps is None:
            raise ValueError("a bandwidth is required: give bandwidth_words_per_cycle (follows the clock) or "
                             "bandwidth_gbps (GB/s, fixed) (got neither)")
        return self

    def in_words_per_cycle(self, clock_ghz: float) -> "MemoryLevelConfig":
        """This level with each bandwidth given in GB/s converted to words per cycle at ``clock_ghz`` (GHz).

        The copy gives every bandwidth in words per cycle (the GB/s keys unset), as the engines
        read it; :func:`words_per_cycle_of_gbps` converts at ``word_bits``.
        """
        update: dict[str, float | None] = {}
        for words_key, gbps_key in BANDWIDTH_FORMS:
            gbps = getattr(self, gbps_key)
            if gbps is not None:
                update[words_key], update[gbps_key] = words_per_cycle_of_gbps(gbps, clock_ghz, self.word_bits), None
        return self.model_copy(update=update) if update else self

    @property
    def total_capacity_bytes(self) -> int | None:
        """Bytes per instance: ``capacity_bytes``, else the sum of ``tensor_capacity_bytes`` (None = unbounded)."""
        if self.capacity_bytes is not None:
            return self.capacity_bytes
        if self.tensor_capacity_bytes is not None:
            return sum(self.tensor_capacity_bytes.values())
        return None

    @property
    def cost_component(self) -> str:
        """The cost-table component that prices this level's accesses."""
        return self.table_component or _DEFAULT_TABLE_COMPONENT[self.kind]


class UnitConfig(BaseModel):
    """A priced compute action (e.g. the MAC's multiply) or any engine-specific action.

    Either ``table_component`` (looked up at ``bits`` in the cost table), ``energy_pj``
    with ``source``, or ``power_w`` with ``source``: a static (time-proportional) power of
    one instance, priced per cycle at the file's clock as ``power_w x 1000 / clock_ghz`` pJ,
    so that its energy is power x time at any clock (``--set clock_ghz=...`` included).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, description="Component name used in reports (MAC, SpmatRead, ...).")
    action: str = Field(min_length=1, description="Action name (mult, add, read, ...).")
    bits: int | None = Field(default=None, gt=0, description="Operand width for a table lookup.")
    table_component: str | None = None
    table_action: str = Field(default="op", description="Action name in the cost table.")
    energy_pj: float | None = Field(default=None, ge=0, description="Explicit energy per action, pJ.")
    power_w: float | None = Field(
        default=None, ge=0,
        description="Static power of one instance, W; one cycle costs power_w x 1000 / clock_ghz pJ at the file's clock.")
    source: str | None = None

    @model_validator(mode="after")
    def _check(self) -> "UnitConfig":
        given = [self.table_component, self.energy_pj, self.power_w]
        if sum(value is not None for value in given) != 1:
            raise ValueError("give exactly one of table_component (with bits) or energy_pj (with source) or power_w (with source)")
        if self.table_component is not None and self.bits is None:
            raise ValueError("bits is required with table_component")
        for name in ("energy_pj", "power_w"):
            if getattr(self, name) is not None and not self.source:
                raise ValueError(f"source is required with {name}")
        return self


class HardwareFile(BaseModel):
    """The strict schema of a hardware TOML file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: int
    name: str = Field(min_length=1)
    description: str = ""
    clock_ghz: float = Field(gt=0, description="Clock frequency in GHz.")
    energy_unit: Literal["pJ", "MAC"] = Field(
        default="pJ", description="Unit of every cost in the file: pJ, or MAC (normalised to one MAC's energy, as "
        "Eyeriss ISCA'16 Table IV); energies are then reported as MAC-equivalents, never as joules.")

    @field_validator("clock_ghz")
    @classmethod
    def _clock_not_vanishing(cls, value: float) -> float:
        if not math.isfinite(value):  # here, not only in the file-wide finite check: GB/s bandwidths convert at it
            raise ValueError("must be a finite number")
        return _at_least(value, MIN_CLOCK_GHZ, "GHz")

    cost_table: str | None = Field(
        default=None, min_length=1,
        description="Built-in table name or a .toml path relative to this file; needed when a level or unit is priced from a table.",
    )
    memory: list[MemoryLevelConfig] = Field(min_length=1, description="Levels, outermost (DRAM, if any) first.")
    units: list[UnitConfig] = Field(default_factory=list)
    engine: dict[str, Any] = Field(description="Engine table; its 'kind' selects the engine config model.")

    @model_validator(mode="before")
    @classmethod
    def _derive_instances(cls, data: Any) -> Any:
        """loopnest: a level without ``instances`` gets the product of the meshes down to it."""
        if not isinstance(data, dict) or not isinstance(data.get("engine"), dict) or data["engine"].get("kind") != "loopnest":
            return data
        levels = data.get("memory")
        if not isinstance(levels, list) or not all(isinstance(level, dict) for level in levels):
            return data
        product, filled = 1, []
        for level in levels:
            mesh = [level.get("mesh_x", 1), level.get("mesh_y", 1)]
            if not all(isinstance(m, int) and not isinstance(m, bool) and m > 0 for m in mesh):
                return data
            product *= mesh[0] * mesh[1]
            filled.append(level if "instances" in level else {**level, "instances": product})
        return {**data, "memory": filled}

    @model_validator(mode="after")
    def _check(self) -> "HardwareFile":
        for name, count in Counter(m.name for m in self.memory).items():
            if count > 1:
                raise ValueError(f"memory level names must be unique; '{name}' appears {count} times")
        for level in self.memory[1:]:
            if level.kind == "dram":
                raise ValueError(f"a DRAM level must come first, outermost ('{level.name}' is not first)")
        if self.cost_table is None:
            for index, level in enumerate(self.memory):
                if level.read_pj is None:
                    raise ValueError(f"cost_table is required: memory[{index}] ('{level.name}') has no read_pj/write_pj")
            for index, unit in enumerate(self.units):
                if unit.table_component is not None:
                    raise ValueError(f"cost_table is required: units[{index}] ('{unit.name}.{unit.action}') names a table_component")
        if self.energy_unit == "MAC":
            powers = [(f"memory[{i}].leak_power_w", level.leak_power_w, "leak_pj_per_cycle")
                      for i, level in enumerate(self.memory)]
            powers += [(f"units[{i}].power_w", unit.power_w, "energy_pj") for i, unit in enumerate(self.units)]
            for key, power_w, instead in powers:
                if power_w is not None:
                    raise ValueError(f'{key}: a power in W has no price in a file whose energy_unit is "MAC" '
                                     f"(got {power_w} W); give {instead} in MAC-equivalents")
        per_action = [(f"memory[{i}].{key}", getattr(level, key), "pJ") for i, level in enumerate(self.memory)
                      for key in ("read_pj", "write_pj", "leak_pj_per_cycle")]
        per_action += [(f"units[{i}].energy_pj", unit.energy_pj, "pJ") for i, unit in enumerate(self.units)]
        per_action += [(f"memory[{i}].leak_power_w", level.leak_power_w, "W") for i, level in enumerate(self.memory)]
        per_action += [(f"units[{i}].power_w", unit.power_w, "W") for i, unit in enumerate(self.units)]
        for key, value, unit in per_action:
            energy_pj = None if value is None else value if unit == "pJ" else pj_per_cycle_of_power(value, self.clock_ghz)
            # an inf or nan value itself is left to the file-wide finite check, which names it
            if energy_pj is not None and math.isfinite(value) and not energy_pj <= MAX_PJ_PER_ACTION:
                at_clock = "" if unit == "pJ" else f" W at {self.clock_ghz} GHz, {energy_pj:.3g} pJ per cycle"
                raise ValueError(f"{key}: one action or cycle may cost at most {MAX_PJ_PER_ACTION:.0e} pJ (1 J), so "
                                 f"that totals stay finite (got {value:.3g}{at_clock})")
        for index, level in enumerate(self.memory):
            for _, gbps_key in BANDWIDTH_FORMS:
                gbps = getattr(level, gbps_key)
                words = None if gbps is None else words_per_cycle_of_gbps(gbps, self.clock_ghz, level.word_bits)
                if words is not None and not MIN_BANDWIDTH_WORDS_PER_CYCLE <= words < math.inf:
                    raise ValueError(f"memory[{index}].{gbps_key}: {gbps} GB/s at {self.clock_ghz} GHz in {level.word_bits}-bit "
                                     f"words is {words:.3g} words per cycle, which must be finite and at least "
                                     f"{MIN_BANDWIDTH_WORDS_PER_CYCLE:.2g}")
        loopnest = self.engine.get("kind") == "loopnest"
        product = 1
        for index, level in enumerate(self.memory):
            if not loopnest:
                for key in LOOPNEST_LEVEL_KEYS:
                    if getattr(level, key) is not None:
                        raise ValueError(f"memory[{index}].{key}: only a loopnest engine reads it (engine.kind is {self.engine.get('kind')!r})")
                continue
            product *= (level.mesh_x or 1) * (level.mesh_y or 1)
            if level.instances != product:
                raise ValueError(
                    f"memory[{index}].instances: must equal the product of mesh_x * mesh_y of this and every outer level, "
                    f"{product} (got {level.instances})"
                )
            if level.network_unit is not None and not any(u.name == level.network_unit and u.action == "transfer" for u in self.units):
                raise ValueError(f"memory[{index}].network_unit: no [[units]] entry '{level.network_unit}' with action 'transfer'")
        for key, count in Counter((u.name, u.action) for u in self.units).items():
            if count > 1:
                raise ValueError(f"units must be unique per (name, action); {key} appears {count} times")
        return self
