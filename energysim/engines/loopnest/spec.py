"""The loop-nest view of a hardware: storage levels with their fan-out, and the MAC mesh.

A ``kind = "loopnest"`` hardware file lists its ``[[memory]]`` levels outermost
first. Each level's ``mesh_x`` x ``mesh_y`` is the number of its copies under
one instance of the next outer level (``instances`` is the product down to
it); the ``[engine]`` table gives the MAC mesh under one instance of the
innermost level. A mapping's spatial loops at level ``i`` fan out over the mesh
of level ``i + 1`` (over the MAC mesh at the innermost level).

:class:`Spec` refers to :class:`~energysim.hardware.hierarchy.MemoryLevel` objects
and copies none of their fields; it adds only what follows from their order.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from energysim.engines.loopnest.mapper_constraints import MapperConstraints
from energysim.engines.loopnest.sparse_config import SPARSE_ACTION_PREFIXES, SparseConfig
from energysim.errors import ConfigError
from energysim.hardware.hierarchy import Hardware, MemoryLevel
from energysim.workloads.loop_nest import TENSORS


class LoopNestConfig(BaseModel):
    """The ``[engine]`` table of a loop-nest hardware."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["loopnest"]
    mac_unit: str = Field(default="MAC", min_length=1, description="[[units]] name priced once per MAC for each of its actions.")
    mac_mesh_x: StrictInt = Field(default=1, gt=0, description="MACs along X under one instance of the innermost level.")
    mac_mesh_y: StrictInt = Field(default=1, gt=0, description="MACs along Y under one instance of the innermost level.")
    compat: Literal["ideal", "timeloop"] = Field(
        default="ideal", description="Counting convention: 'ideal' buffers (default) or Timeloop's published model."
    )
    timeloop_version: Literal["current", "2020"] = Field(
        default="current",
        description="compat='timeloop' only: 'current' elides the first fill of a partial sum at inner levels (Timeloop "
                    "today); '2020' counts it (the 2020 ISPASS tutorial outputs).",
    )
    mapper: MapperConstraints = Field(
        default_factory=MapperConstraints, description="What the mapper may choose when a layer has no mapping ([engine.mapper])."
    )
    mapper_objective: Literal["energy", "latency", "edp"] = Field(
        default="energy", description="What the mapper minimises: energy (pJ), latency (cycles) or their product."
    )
    sparse: SparseConfig | None = Field(
        default=None, description="Formats, gating and skipping ([engine.sparse]); None = a dense design."
    )


@dataclass(frozen=True)
class LevelSpec:
    """One storage level as the analysis sees it.

    Attributes
    ----------
    level
        The priced hardware level (name, capacity, bandwidths, holds, costs).
    index
        Position, 0 = outermost.
    fanout_x, fanout_y
        Copies of the next inner level (or MACs, at the innermost level) under one
        instance of this level: the most its spatial loops may use along X and Y.
    """

    level: MemoryLevel
    index: int
    fanout_x: int
    fanout_y: int

    @property
    def name(self) -> str:
        """Level name."""
        return self.level.name

    @property
    def instances(self) -> int:
        """Copies of this level in the whole design."""
        return self.level.config.instances

    def holds(self, tensor: str) -> bool:
        """Whether the hardware can keep ``tensor`` here (a mapping may still bypass it)."""
        return self.level.holds(tensor)


@dataclass(frozen=True)
class Spec:
    """A loop-nest hardware: levels outermost first, the MAC unit and its mesh.

    Attributes
    ----------
    hardware
        The priced hardware.
    config
        Its validated ``[engine]`` table.
    levels
        :class:`LevelSpec` per memory level, outermost first.
    mac_actions
        Actions of ``config.mac_unit`` the hardware prices; each is counted once per MAC (the sparse
        model's ``gated_*`` / ``skipped_*`` / ``metadata_*`` actions are not).
    """

    hardware: Hardware
    config: LoopNestConfig
    levels: tuple[LevelSpec, ...]
    mac_actions: tuple[str, ...]

    @classmethod
    def build(cls, hardware: Hardware, config: LoopNestConfig) -> "Spec":
        """Check what the analysis needs of a hardware and bind it.

        Raises
        ------
        ConfigError
            If the outermost level does not hold every tensor, or no action prices the MAC unit.
        """
        where = hardware.path or hardware.name
        outer = hardware.levels[0]
        missing = [t for t in TENSORS if not outer.holds(t)]
        if missing:
            raise ConfigError(f"{where}: memory[0].holds: the outermost level must hold every tensor (missing {missing})")
        actions = tuple(action for (name, action) in hardware.unit_costs
                        if name == config.mac_unit and not action.startswith(SPARSE_ACTION_PREFIXES))
        if not actions:
            raise ConfigError(f"{where}: engine.mac_unit: no [[units]] entry named '{config.mac_unit}' prices the MAC")
        levels = []
        for index, level in enumerate(hardware.levels):
            if index + 1 < len(hardware.levels):
                child = hardware.levels[index + 1].config
                fan_x, fan_y = child.mesh_x or 1, child.mesh_y or 1
            else:
                fan_x, fan_y = config.mac_mesh_x, config.mac_mesh_y
            levels.append(LevelSpec(level, index, fan_x, fan_y))
        return cls(hardware, config, tuple(levels), actions)

    @cached_property
    def prices(self) -> dict[tuple[str, str], float]:
        """pJ per (component, action) for every action the hardware prices (a lookup table for the analysis)."""
        table = {(level.name, action): entry.energy_pj for level in self.hardware.levels for action, entry in level.costs.items()}
        table.update({key: entry.energy_pj for key, entry in self.hardware.unit_costs.items()})
        return table

    @property
    def macs_peak_per_cycle(self) -> int:
        """MACs in the design: innermost instances x MAC mesh."""
        return self.levels[-1].instances * self.config.mac_mesh_x * self.config.mac_mesh_y
