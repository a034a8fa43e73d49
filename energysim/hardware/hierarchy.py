"""The priced memory hierarchy: levels and compute units bound to a cost table.

:func:`load_hardware` reads a hardware TOML file, resolves every per-access and
per-operation cost against the named cost table at load time (so a missing
cost fails before any simulation), and returns a :class:`Hardware`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from energysim.config.hardware import BANDWIDTH_FORMS, HardwareFile, MemoryLevelConfig, pj_per_cycle_of_power
from energysim.config.loading import load_model_file
from energysim.costs.registry import resolve_table
from energysim.costs.table import CostEntry, CostTable
from energysim.errors import ConfigError, EnergySimError, InputError

MEMORY_ACTIONS = ("read", "write", "fill", "update")
"""read: data leaves the level; write: results arrive from below; fill: data arrives
from the level above; update: a partial sum is written back (read-modify-write's write)."""

LEAK_ACTION = "leak"
"""Static energy of one instance of a level for one cycle (levels with ``leak_pj_per_cycle`` or ``leak_power_w``)."""


@dataclass(frozen=True)
class MemoryLevel:
    """A memory level with its resolved per-access costs.

    Attributes
    ----------
    config
        The validated level table from the hardware file, every bandwidth in words per cycle
        (one given in GB/s converted at the hardware's clock; see ``Hardware.bandwidth_gbps``).
    costs
        Cost of one access of ``word_bits`` per action (read, write, fill, update;
        ``leak`` per instance-cycle when the file gives leakage).
    """

    config: MemoryLevelConfig
    costs: dict[str, CostEntry]

    @property
    def name(self) -> str:
        """Level name."""
        return self.config.name

    @property
    def capacity_words(self) -> int | None:
        """Capacity in words of ``word_bits`` (None = unbounded)."""
        total = self.config.total_capacity_bytes
        if total is None:
            return None
        return total * 8 // self.config.word_bits

    def tensor_capacity_words(self, tensor: str) -> int | None:
        """Words of a tensor's own partition (``tensor_capacity_bytes``), or None when the capacity is shared."""
        per_tensor = self.config.tensor_capacity_bytes or {}
        if tensor not in per_tensor:
            return None
        return per_tensor[tensor] * 8 // self.config.word_bits

    def holds(self, tensor: str) -> bool:
        """Whether the level keeps ``tensor`` (weights, inputs or outputs)."""
        return tensor in self.config.holds


@dataclass(frozen=True)
class Hardware:
    """A hardware configuration with every cost resolved.

    Attributes
    ----------
    name, description
        From the file.
    clock_ghz
        Clock in GHz.
    table
        The cost table the file names (None when every cost is explicit).
    levels
        Memory levels, outermost (DRAM) first.
    unit_costs
        ``(unit name, action) -> CostEntry`` for compute and engine-specific units.
    engine_table
        The raw ``[engine]`` table; the engine registry validates it.
    path
        The file it came from (None when built in memory).
    energy_unit
        Unit of every cost: ``pJ``, or ``MAC`` (normalised to one MAC's energy): the
        ``*_pj`` figures of its runs are then MAC-equivalents.
    static_power_w
        ``(component, action) -> W`` for each cost priced from a static power at ``clock_ghz``
        (a unit's ``power_w``, a level's ``leak_power_w``); every other cost is a fixed
        energy per action, whatever the clock.
    bandwidth_gbps
        ``(level name, key) -> GB/s`` for each bandwidth the file gives in GB/s (``bandwidth_gbps``,
        ``write_bandwidth_gbps``, ``shared_bandwidth_gbps``), which the level's config holds in
        words per cycle at ``clock_ghz``; every other bandwidth is a fixed number of words per cycle,
        whatever the clock.
    """

    name: str
    description: str
    clock_ghz: float
    table: CostTable | None
    levels: tuple[MemoryLevel, ...]
    unit_costs: dict[tuple[str, str], CostEntry]
    engine_table: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None
    energy_unit: str = "pJ"
    static_power_w: dict[tuple[str, str], float] = field(default_factory=dict)
    bandwidth_gbps: dict[tuple[str, str], float] = field(default_factory=dict)

    @property
    def engine_kind(self) -> str:
        """The ``kind`` of the engine table."""
        return str(self.engine_table.get("kind", ""))

    def level(self, name: str) -> MemoryLevel:
        """A memory level by name."""
        for level in self.levels:
            if level.name == name:
                return level
        raise InputError(f"hardware '{self.name}' has no memory level '{name}' (it has: {', '.join(l.name for l in self.levels)})")

    def cost_of(self, component: str, action: str) -> CostEntry:
        """Cost of one ``action`` of ``component`` (a memory level or a unit).

        Raises
        ------
        InputError
            If the hardware prices no such component and action.
        """
        for level in self.levels:
            if level.name == component:
                if action not in level.costs:
                    raise InputError(f"memory level '{component}' has no action '{action}' (actions: {', '.join(level.costs)})")
                return level.costs[action]
        if (component, action) in self.unit_costs:
            return self.unit_costs[(component, action)]
        known = ", ".join(f"{n}.{a}" for n, a in self.unit_costs)
        raise InputError(f"hardware '{self.name}' prices no '{component}.{action}' (units: {known or 'none'})")

    def cost_rows(self) -> list[dict[str, Any]]:
        """Every priced (component, action) as rows: component, kind, action, bits, energy_pj, source."""
        rows = []
        for level in self.levels:
            for action in (*MEMORY_ACTIONS, LEAK_ACTION):
                if action not in level.costs:
                    continue
                entry = level.costs[action]
                rows.append({"component": level.name, "kind": level.config.kind, "action": action,
                             "bits": level.config.word_bits, "energy_pj": entry.energy_pj, "source": entry.source})
        for (name, action), entry in self.unit_costs.items():
            rows.append({"component": name, "kind": "unit", "action": action, "bits": entry.bits,
                         "energy_pj": entry.energy_pj, "source": entry.source})
        return rows


def _level_costs(level: MemoryLevelConfig, table: CostTable | None, where: str, clock_ghz: float) -> dict[str, CostEntry]:
    """Per-access costs of a level (from ``read_pj``/``write_pj`` or the table) and its leakage per instance-cycle.

    Leakage given as ``leak_power_w`` (W) is priced at ``clock_ghz`` (GHz) by :func:`per_cycle_of_power`;
    ``leak_pj_per_cycle`` (pJ) is taken as written.
    """
    if level.read_pj is not None:
        read = CostEntry(component=level.name, action="read", bits=level.word_bits, energy_pj=level.read_pj,
                         source=str(level.cost_source))
        write = CostEntry(component=level.name, action="write", bits=level.word_bits, energy_pj=level.write_pj,
                          source=str(level.cost_source))
    else:
        capacity = level.total_capacity_bytes if level.kind == "sram" else None
        try:
            read = table.lookup(level.cost_component, "read", level.word_bits, capacity)
            write = table.lookup(level.cost_component, "write", level.word_bits, capacity)
        except EnergySimError as exc:
            raise ConfigError(f"{where}: {exc}") from None
    costs = {
        "read": read,
        "write": write,
        "fill": write.model_copy(update={"action": "fill"}),
        "update": write.model_copy(update={"action": "update"}),
    }
    if level.leak_power_w is not None:
        costs[LEAK_ACTION] = per_cycle_of_power(level.name, LEAK_ACTION, level.word_bits, level.leak_power_w,
                                                str(level.leak_source), clock_ghz)
    elif level.leak_pj_per_cycle is not None:
        costs[LEAK_ACTION] = CostEntry(component=level.name, action=LEAK_ACTION, bits=level.word_bits,
                                       energy_pj=level.leak_pj_per_cycle, source=str(level.leak_source))
    return costs


def per_cycle_of_power(component: str, action: str, bits: int, power_w: float, source: str,
                       clock_ghz: float) -> CostEntry:
    """A static power priced per cycle at a clock: ``power_w x 1000 / clock_ghz`` pJ (W / GHz = nJ per cycle).

    Energy = power x time whatever the clock: at half the clock a cycle lasts twice as long
    and costs twice as much. Prices a unit's ``power_w`` and a level's ``leak_power_w``.

    Parameters
    ----------
    component, action
        What the entry prices (``SM``, ``static_cycle``; a level's name, ``leak``).
    bits
        Width the entry is listed at, bits.
    power_w
        Static power of one instance, W.
    source
        Where the power comes from.
    clock_ghz
        The clock the cycle is priced at, GHz.

    Returns
    -------
    CostEntry
        Energy per instance-cycle, pJ; its source names the power's own source, the rule and the clock.
    """
    energy_pj = pj_per_cycle_of_power(power_w, clock_ghz)
    return CostEntry(component=component, action=action, bits=bits, energy_pj=energy_pj,
                     source=f"{source}; per cycle = static power x cycle time = {power_w} W x 1000 / "
                            f"{clock_ghz} GHz = {energy_pj:.6g} pJ")


def build_hardware(spec: HardwareFile, source: str | Path, base_dir: Path | None = None) -> Hardware:
    """Resolve a validated hardware spec against its cost table, and its GB/s bandwidths at its clock.

    Parameters
    ----------
    spec
        The validated hardware file.
    source
        The file (or a label), named in messages and kept as ``Hardware.path`` when a path.
    base_dir
        Folder a cost-table path is relative to (None: the working directory).

    Returns
    -------
    Hardware
        Every cost priced (static powers per cycle at ``spec.clock_ghz``) and every bandwidth in
        words per cycle (:meth:`~energysim.config.hardware.MemoryLevelConfig.in_words_per_cycle`).

    Raises
    ------
    ConfigError
        If the cost table is unknown or does not price a level or unit.
    """
    table = None
    if spec.cost_table is not None:
        try:
            table = resolve_table(spec.cost_table, base_dir)
        except ConfigError as exc:
            raise ConfigError(f"{source}: cost_table: {exc}") from None
    levels = tuple(
        MemoryLevel(config=level.in_words_per_cycle(spec.clock_ghz),
                    costs=_level_costs(level, table, f"{source}: memory[{i}]", spec.clock_ghz))
        for i, level in enumerate(spec.memory)
    )
    unit_costs: dict[tuple[str, str], CostEntry] = {}
    for i, unit in enumerate(spec.units):
        if unit.power_w is not None:
            entry = per_cycle_of_power(unit.name, unit.action, unit.bits or 1, unit.power_w, str(unit.source), spec.clock_ghz)
        elif unit.energy_pj is not None:
            entry = CostEntry(component=unit.name, action=unit.action, bits=unit.bits or 1, energy_pj=unit.energy_pj,
                              source=str(unit.source))
        else:
            try:
                entry = table.lookup(str(unit.table_component), unit.table_action, int(unit.bits))
            except EnergySimError as exc:
                raise ConfigError(f"{source}: units[{i}]: {exc}") from None
        unit_costs[(unit.name, unit.action)] = entry
    static_power_w = {(level.name, LEAK_ACTION): level.leak_power_w for level in spec.memory if level.leak_power_w is not None}
    static_power_w.update({(unit.name, unit.action): unit.power_w for unit in spec.units if unit.power_w is not None})
    bandwidth_gbps = {(level.name, key): getattr(level, key) for level in spec.memory for _, key in BANDWIDTH_FORMS
                      if getattr(level, key) is not None}
    return Hardware(
        name=spec.name,
        description=spec.description,
        clock_ghz=spec.clock_ghz,
        table=table,
        levels=levels,
        unit_costs=unit_costs,
        engine_table=dict(spec.engine),
        path=Path(source) if isinstance(source, (str, Path)) else None,
        energy_unit=spec.energy_unit,
        static_power_w=static_power_w,
        bandwidth_gbps=bandwidth_gbps,
    )


def load_hardware(path: str | Path, data: dict[str, Any] | None = None) -> Hardware:
    """Load and price a hardware TOML file.

    ``data`` is the file's parsed TOML when the caller has read it already (None: read here).

    Raises
    ------
    ConfigError
        One line per problem, naming the file, the field, the rule and the value.
    """
    path = Path(path)
    spec = load_model_file(path, HardwareFile, data)
    return build_hardware(spec, path, path.parent)
