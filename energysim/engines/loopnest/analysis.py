"""Counts, cycles and energy of one mapping of one loop nest, in closed form (ideal buffers).

The convention (``compat = "ideal"``), for a tensor at a level that keeps it:

- **Tiles.** A level's tile is every point its own loops and all loops below
  it touch. Instances of a level are told apart by the spatial loops above it;
  its tile moves with the temporal loops above it.
- **Fills (weights, inputs).** The first tile is filled whole; afterwards each
  step fills the set difference from the tile held before (an unchanged tile
  costs nothing: stationarity; a sliding window fills only its new rows and
  columns). The outermost level is never filled.
- **Reads (weights, inputs).** A level is read for what its next inner keeper
  is filled with; instances below one parent that receive identical data at
  the same step are served by one read (multicast). The innermost keeper is
  read once per cycle for each distinct operand among the MACs below it.
- **Outputs.** A partial sum arriving at a level where that point holds no
  value yet in the current tile is a ``write``; otherwise the level ``read``\\ s
  the old value and ``update``\\ s it (read-modify-write). Points leave a tile
  when it moves (and at the end): each is read and sent to the next outer
  keeper (drain), so inner levels always start a point from zero. Instances
  holding the same points (split over C, R or S) are reduced on the way up:
  the parent receives one value per distinct point (spatial reduction). MACs
  below one instance that produce the same point in a cycle are reduced first.
- **Bypass.** A level that does not keep a tensor is transparent for it: the
  next inner keeper fills from the next outer keeper, and the spatial loops of
  the bypassed levels are fan-out of that keeper.
- **Network.** A level's ``network_unit`` counts one ``transfer`` per word
  crossing its fan-out per destination (or source) instance: fills of and
  drains from the next inner keeper whose parent hop it is, or MAC operands
  and results at the innermost level. Multicast saves parent reads, not hops.
- **Leakage.** A level with ``leak_pj_per_cycle`` counts ``leak`` = total
  cycles x all its instances (used or not).
- **Cycles.** Compute cycles = product of all temporal factors (every used MAC
  does one MAC a cycle). A level needing more than its bandwidth per instance
  stretches the run: level cycles = max(compute, reads / read bandwidth,
  writes / write bandwidth, both / shared bandwidth); total = max over levels.

:mod:`energysim.engines.loopnest.reference` interprets the same rules loop by
loop on tiny layers; the tests hold this module to it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from energysim.engines.loopnest.geometry import overlap, points
from energysim.engines.loopnest.mapping import Mapping, check_mapping
from energysim.engines.loopnest.spec import Spec
from energysim.hardware.hierarchy import LEAK_ACTION
from energysim.workloads.loop_nest import DIMS, TENSORS, LoopNest

NETWORK_ACTION = "transfer"
"""Action of a network unit: one word crossing a level's fan-out to or from one instance below it."""


@dataclass
class LoopNestStats:
    """What one evaluation produces.

    Attributes
    ----------
    counts
        ``(component, tensor, action) -> count`` over all instances; component is a
        level or unit name, tensor ``-`` for compute and leakage.
    macs
        Multiply-accumulates of the layer.
    macs_peak_per_cycle
        MACs in the design.
    cycles_compute
        Product of the temporal factors: cycles if no level were bandwidth-bound.
    level_cycles
        Cycles each level needs at its bandwidth (at least ``cycles_compute``).
    cycles_total
        Max of ``level_cycles``.
    energy_pj
        Sum of count x cost over ``counts`` (dynamic and leakage), pJ.
    energy_by_component
        The same split by component, pJ.
    mapping
        The mapping evaluated.
    """

    counts: dict[tuple[str, str, str], int]
    macs: int
    macs_peak_per_cycle: int
    cycles_compute: int
    level_cycles: dict[str, int]
    cycles_total: int
    energy_pj: float
    energy_by_component: dict[str, float] = field(default_factory=dict)
    mapping: Mapping | None = None

    @property
    def utilisation(self) -> float:
        """MACs / (total cycles x MACs in the design)."""
        return self.macs / (self.cycles_total * self.macs_peak_per_cycle)

    @property
    def spatial_utilisation(self) -> float:
        """Fraction of the design's MACs the mapping's spatial loops use."""
        return self.macs / (self.cycles_compute * self.macs_peak_per_cycle)

    @property
    def bottleneck(self) -> str:
        """The level that sets the cycles, or ``compute``."""
        if self.cycles_total == self.cycles_compute:
            return "compute"
        return max(self.level_cycles, key=self.level_cycles.get)


def cycles_for(words: float, bandwidth: float) -> int:
    """Least whole cycles ``k`` with ``k x bandwidth >= words`` (robust to float rounding)."""
    k = math.ceil(words / bandwidth)
    if k > 0 and (k - 1) * bandwidth >= words:
        k -= 1
    if k * bandwidth < words:
        k += 1
    return k


def bandwidth_cycles(spec: Spec, used: list[int], moved: dict[str, list[float]], cycles_compute: int) -> dict[str, int]:
    """Cycles each level needs: at least ``cycles_compute``, and its per-instance words at its bandwidths.

    ``used[i]`` is the number of instances of level ``i`` the mapping uses;
    ``moved[name] = [read words, written words]`` over all of them.
    """
    level_cycles = {}
    for level in spec.levels:
        reads, writes = (words / used[level.index] for words in moved[level.name])
        config = level.level.config
        need = [cycles_compute, cycles_for(reads, config.bandwidth_words_per_cycle),
                cycles_for(writes, config.write_bandwidth_words_per_cycle or config.bandwidth_words_per_cycle)]
        if config.shared_bandwidth_words_per_cycle:
            need.append(cycles_for(reads + writes, config.shared_bandwidth_words_per_cycle))
        level_cycles[level.name] = max(need)
    return level_cycles


class _Nest:
    """The flattened loops of a mapping with the strides every rule needs."""

    def __init__(self, nest: LoopNest, mapping: Mapping, n_levels: int):
        self.nest = nest
        self.loops = mapping.loops
        strides = []
        inner = dict.fromkeys(DIMS, 1)
        for loop in reversed(self.loops):
            strides.append(inner[loop.dim])
            inner[loop.dim] *= loop.factor
        self.strides = strides[::-1]
        self.temporal = [(loop.level, loop.dim, loop.factor, stride)
                         for loop, stride in zip(self.loops, self.strides) if loop.kind == "t"]
        self.spatial = [(loop.level, loop.dim, loop.factor, stride)
                        for loop, stride in zip(self.loops, self.strides) if loop.kind != "t"]
        self.cycles = 1
        for loop in self.loops:
            if loop.kind == "t":
                self.cycles *= loop.factor
        self.used = [1] * (n_levels + 1)
        for index in range(n_levels + 1):
            for loop in self.loops:
                if loop.kind != "t" and loop.level < index:
                    self.used[index] *= loop.factor
        self.extents = [mapping.tile_extents(index) for index in range(n_levels)]

    def tile(self, tensor: str, index: int) -> tuple[list, int]:
        """Per-axis terms of the tile at a level, and its size in points."""
        terms, size = [], 1
        extents = self.extents[index]
        for axis in self.nest.axes(tensor):
            t = tuple((coef, extents[dim]) for dim, coef in axis)
            terms.append((axis, t))
            size *= points(t)
        return terms, size

    def entries(self, tensor: str, index: int) -> int:
        """Points entering one instance's tile over the run: the first tile plus each step's set difference."""
        terms, size = self.tile(tensor, index)
        above = [(dim, factor, stride) for level, dim, factor, stride in self.temporal if level < index]
        total, before = size, 1
        for j, (dim, factor, stride) in enumerate(above):
            steps = before * (factor - 1)
            before *= factor
            delta = {dim: stride}
            for dim_i, factor_i, stride_i in above[j + 1:]:
                delta[dim_i] = delta.get(dim_i, 0) - (factor_i - 1) * stride_i
            kept = size
            for axis, t in terms:
                shift = sum(coef * delta.get(d, 0) for d, coef in axis)
                if shift:
                    kept = kept // points(t) * overlap(t, shift)
                    if kept == 0:
                        break
            total += steps * (size - kept)
        return total

    def distinct(self, tensor: str, first: int, last: int) -> int:
        """Distinct tensor offsets among the instances created by spatial loops at levels first..last-1."""
        count = 1
        for axis in self.nest.axes(tensor):
            coefs = dict(axis)
            terms = tuple((coefs[dim] * stride, factor) for level, dim, factor, stride in self.spatial
                          if first <= level < last and dim in coefs)
            count *= points(terms)
        return count

    def below(self, index: int) -> int:
        """Spatial instances (MACs) under one instance of a level."""
        return self.used[-1] // self.used[index]


def evaluate(spec: Spec, nest: LoopNest, mapping: Mapping, check: bool = True) -> LoopNestStats:
    """Count, time and price one mapping of one loop nest (ideal-buffer convention).

    Parameters
    ----------
    spec
        The loop-nest hardware.
    nest
        The layer's loop nest.
    mapping
        Loops per level; checked first unless ``check`` is False.
    check
        Run :func:`~energysim.engines.loopnest.mapping.check_mapping` (the mapper may skip it).

    Raises
    ------
    ConfigError
        If ``check`` and the mapping breaks a rule.
    """
    if check:
        check_mapping(spec, nest, mapping, f"mapping {mapping.source or '(in memory)'}")
    n_levels = len(spec.levels)
    flat = _Nest(nest, mapping, n_levels)
    counts: dict[tuple[str, str, str], int] = {}

    moved = {level.name: [0, 0] for level in spec.levels}

    def add(component: str, tensor: str, action: str, value: int) -> None:
        if value:
            key = (component, tensor, action)
            counts[key] = counts.get(key, 0) + int(value)
            if component in moved and action != LEAK_ACTION:
                moved[component][action != "read"] += int(value)

    for tensor in TENSORS:
        keepers = [i for i in range(n_levels) if mapping.keeps(spec, i, tensor)]
        entries = {i: flat.entries(tensor, i) for i in keepers}
        for position, index in enumerate(keepers):
            name = spec.levels[index].name
            used = flat.used[index]
            child = keepers[position + 1] if position + 1 < len(keepers) else None
            network = spec.levels[(n_levels if child is None else child) - 1].level.config.network_unit
            if child is None:
                per_instance = flat.cycles * flat.distinct(tensor, index, n_levels)
                sent = flat.cycles * flat.below(index) * used
            else:
                per_instance = entries[child] * flat.distinct(tensor, index, child)
                sent = entries[child] * flat.used[child]
            if tensor != "outputs":
                add(name, tensor, "read", per_instance * used)
                if position > 0:
                    add(name, tensor, "fill", entries[index] * used)
            else:
                first = entries[index]
                add(name, tensor, "write", first * used)
                add(name, tensor, "read", (per_instance - first) * used)
                add(name, tensor, "update", (per_instance - first) * used)
                if position > 0:
                    add(name, tensor, "read", first * used)
            if network:
                add(network, tensor, NETWORK_ACTION, sent)
    macs = nest.macs
    for action in spec.mac_actions:
        add(spec.config.mac_unit, "-", action, macs)

    level_cycles = bandwidth_cycles(spec, flat.used, moved, flat.cycles)
    cycles_total = max(level_cycles.values())
    for level in spec.levels:
        if LEAK_ACTION in level.level.costs:
            add(level.name, "-", LEAK_ACTION, cycles_total * level.instances)

    return priced_stats(spec, counts, macs, flat.cycles, level_cycles, cycles_total, mapping)


def priced_stats(spec: Spec, counts: dict[tuple[str, str, str], int], macs: int, cycles_compute: int,
                 level_cycles: dict[str, int], cycles_total: int, mapping: Mapping) -> LoopNestStats:
    """Counts priced at the spec's per-action costs (pJ), summed per component: the stats of one evaluation.

    Shared by both counting conventions (:func:`evaluate` and
    :func:`energysim.engines.loopnest.timeloop_compat.evaluate`).
    """
    by_component: dict[str, float] = {}
    for (component, _, action), value in counts.items():
        by_component[component] = by_component.get(component, 0.0) + value * spec.prices[(component, action)]
    return LoopNestStats(
        counts=counts,
        macs=macs,
        macs_peak_per_cycle=spec.macs_peak_per_cycle,
        cycles_compute=cycles_compute,
        level_cycles=level_cycles,
        cycles_total=cycles_total,
        energy_pj=math.fsum(by_component.values()),
        energy_by_component=by_component,
        mapping=mapping,
    )
