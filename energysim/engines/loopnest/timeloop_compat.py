"""Counts, cycles and energy of one mapping the way Timeloop counts them (``compat = "timeloop"``).

The rules are those of ``shared/reference/timeloop_conventions.md`` as Timeloop's
published reference outputs show them (the 2020 ISPASS tutorial exercises and two
current designs, ``tests/data/timeloop/README.md``), per storage level L and
dataspace d that L keeps:

- **Deliveries** into one instance of L: the first tile whole; then, for each step
  of the temporal loops above L (outer to inner, odometer order): nothing if the
  tile did not move (but a move of zero is remembered); the set difference if it
  moved by the same translation as the step before (or by any translation when
  none is remembered); otherwise the **whole** tile again, and the remembered
  translation is forgotten. (So a real move right after a stationary step
  refetches the whole tile: Timeloop's eyeriss_like reference, global-buffer
  input fills 8 x 19575 = 156600, not 151875.)
- **Accesses by the MACs** at the innermost keeper: one per cycle per distinct operand
  among the MACs below one instance when the nest's innermost loop is temporal (Timeloop
  counts every iteration of its innermost loop); when it is spatial (a fan-out to the
  MACs), the deliveries of the MAC array's operand tile over the temporal loops, so an
  operand stays at the MACs across the innermost temporal loops that do not move it (the
  2024 tutorial's ``buffer[C64 Q32 M8] inter_PE_spatial[x:M8]``: inputs read once per 8
  cycles; simple_os's ``weight_reg[Q2 P7]``, innermost temporal: weights read every cycle).
- **Accesses by the children**: the next inner keeper's deliveries times the
  distinct tiles among the instances the spatial loops in between create (per fan-out
  level: sibling instances under one parent)
  (identical deltas are read once: multicast; outputs of instances that share
  points are reduced: spatial reduction); at the innermost keeper, one access
  per cycle per distinct operand among the MACs below one instance.
- **Read-only d**: ``read`` = accesses by the children; ``fill`` = deliveries
  (none at the outermost level).
- **Outputs**: ``update`` = accesses by the children; ``read`` = updates minus
  the partition size (the points one instance holds over the run: first-read
  elision); ``fill`` = deliveries minus the partition size (current Timeloop,
  ``timeloop_version = "current"``), or the deliveries (``"2020"``: the 2020
  tutorial outputs count the first fill of a partial sum); none at the outermost level.
- **Bypass**: a level that does not keep d is transparent; its fan-out is
  fan-out of the next outer keeper.
- Counts are per instance; the totals reported are per instance x the utilised
  instances (the product of the spatial factors above L).
- **Vectors**: a level of ``block_words`` B accesses B words at a time, rounded up
  per instance, dataspace and action; the unused word slots are counted as
  tensor ``"<d>:vector_padding"`` with the same action, priced per word like the
  data (the hardware's per-word cost is Timeloop's vector energy / B).
- **Cycles**: compute cycles = product of the temporal factors; each level's
  slowdown ``s = min(1, read_bw / reads_per_cycle, write_bw / (fills + updates)_per_cycle,
  shared_bw / both)`` per instance; level cycles = ceil(compute / s); total = max.
- **Leakage**: ``leak`` = total cycles x utilised instances of the level.
- **Compute**: every action priced for the MAC unit once per MAC.

:mod:`energysim.engines.loopnest.analysis` is the default (ideal-buffer) convention;
``docs/engines/timeloop.md`` sets the two side by side.
"""

from __future__ import annotations

import math
from functools import lru_cache

from energysim.engines.loopnest.analysis import LoopNestStats, cycles_for, priced_stats
from energysim.engines.loopnest.geometry import overlap, points
from energysim.engines.loopnest.mapping import Mapping, check_mapping
from energysim.engines.loopnest.spec import Spec
from energysim.errors import UnsupportedError
from energysim.hardware.hierarchy import LEAK_ACTION
from energysim.workloads.loop_nest import DIMS, TENSORS, LoopNest

PADDING_SUFFIX = ":vector_padding"
"""Appended to a tensor name for the unused word slots of rounded-up vector accesses."""


class _Loops:
    """The flattened nest with each loop's stride (the product of the factors of the same dimension inside it)."""

    def __init__(self, nest: LoopNest, mapping: Mapping):
        self.nest = nest
        loops = mapping.loops
        inner = dict.fromkeys(DIMS, 1)
        strides = []
        for loop in reversed(loops):
            strides.append(inner[loop.dim])
            inner[loop.dim] *= loop.factor
        self.entries = [(loop.level, loop.dim, loop.factor, stride, loop.kind) for loop, stride in zip(loops, strides[::-1])]
        self.cycles = math.prod(f for _, _, f, _, kind in self.entries if kind == "t")

    def used(self, index: int) -> int:
        """Utilised instances of level ``index``: product of the spatial factors above it."""
        return math.prod(f for level, _, f, _, kind in self.entries if kind != "t" and level < index)

    def distinct(self, tensor: str, first: int, last: int) -> int:
        """Distinct offsets of ``tensor`` among the instances the spatial loops at levels first..last-1 create.

        Fan-out by fan-out, as Timeloop compares the deltas of the siblings under one parent: the product over
        the levels of the distinct offsets each level's own spatial loops give (a sliding window whose two loops
        are spatial at two levels, e.g. ``x:Q`` above ``y:S``, shares no tile: Sparseloop's
        eyeriss_like_onchip_compression reference reads 18690048 inputs from its global buffer, multicast 2).
        """
        count = 1
        for level in range(first, last):
            for axis in self.nest.axes(tensor):
                coefs = dict(axis)
                count *= points(tuple((coefs[dim] * stride, f) for lvl, dim, f, stride, kind in self.entries
                                      if kind != "t" and lvl == level and dim in coefs))
        return count

    def axis_terms(self, tensor: str, extents: dict[str, int]) -> list[tuple[dict[str, int], tuple]]:
        """Per axis of ``tensor``: its coefficients and the (coefficient, extent) terms of a box of loop extents."""
        return [(dict(axis), tuple((coef, extents[dim]) for dim, coef in axis)) for axis in self.nest.axes(tensor)]

    def spatial_terms(self, tensor: str, index: int) -> list[tuple[dict[str, int], tuple]]:
        """Per axis of ``tensor``: its coefficients and the terms of the operands the MACs below one instance of
        level ``index`` touch in one cycle (its spatial loops and those below, with their strides)."""
        out = []
        for axis in self.nest.axes(tensor):
            coefs = dict(axis)
            out.append((coefs, tuple((coefs[dim] * stride, f) for lvl, dim, f, stride, kind in self.entries
                                     if kind != "t" and lvl >= index and dim in coefs)))
        return out

    def deliveries(self, tensor: str, index: int, extents: dict[str, int] | None,
                   axes: list[tuple[dict[str, int], tuple]] | None = None) -> int:
        """Points delivered into one instance of level ``index`` over the run (whole-tile refetch rule), of the
        box of loop ``extents`` or of explicit ``axes`` terms."""
        axes = axes if axes is not None else self.axis_terms(tensor, extents)
        size = math.prod(points(terms) for _, terms in axes)
        above = [(dim, f, stride) for level, dim, f, stride, kind in self.entries if kind == "t" and level < index]
        translations = []
        for j, (dim, _, stride) in enumerate(above):
            delta = {dim: stride}
            for dim_i, f_i, stride_i in above[j + 1:]:
                delta[dim_i] = delta.get(dim_i, 0) - (f_i - 1) * stride_i
            translations.append(tuple(sum(c * delta.get(d, 0) for d, c in coefs.items()) for coefs, _ in axes))

        def moved_cost(shift: tuple[int, ...]) -> int:
            kept = 1
            for (_, terms), s in zip(axes, shift):
                kept *= overlap(terms, s) if s else points(terms)
            return size - kept

        @lru_cache(maxsize=None)
        def run(j: int, state: tuple | None) -> tuple[int, tuple | None]:
            if j == len(above):
                return 0, state
            total, state = run(j + 1, state)
            shift = translations[j]
            for _ in range(above[j][1] - 1):
                if not any(shift):
                    state = shift
                elif state is None or state == shift:
                    total += moved_cost(shift)
                    state = shift
                else:
                    total += size
                    state = None
                cost, state = run(j + 1, state)
                total += cost
            return total, state

        return size + run(0, None)[0]


def dense_actions(spec: Spec, nest: LoopNest, mapping: Mapping) -> tuple[_Loops, dict[tuple[int, str], dict[str, int]]]:
    """Per instance of each level and each tensor it keeps: its ``read``, ``fill`` and ``update`` counts (rules above).

    Returns
    -------
    (loops, actions)
        The flattened nest (its ``cycles`` and ``used(index)``) and ``(level index, tensor) -> {action: count}``,
        keepers only, outermost first.
    """
    n_levels = len(spec.levels)
    flat = _Loops(nest, mapping)
    out: dict[tuple[int, str], dict[str, int]] = {}
    innermost_temporal = not flat.entries or flat.entries[-1][4] == "t"
    for tensor in TENSORS:
        keepers = [i for i in range(n_levels) if mapping.keeps(spec, i, tensor)]
        delivered = {i: flat.deliveries(tensor, i, mapping.tile_extents(i)) for i in keepers}
        for position, index in enumerate(keepers):
            child = keepers[position + 1] if position + 1 < len(keepers) else None
            if child is None and innermost_temporal:
                accesses = flat.cycles * flat.distinct(tensor, index, n_levels)
            elif child is None:                       # operands held at the MACs across the temporal loops
                accesses = flat.deliveries(tensor, n_levels, None, flat.spatial_terms(tensor, index))
            else:
                accesses = delivered[child] * flat.distinct(tensor, index, child)
            fills = delivered[index] if position > 0 else 0
            if tensor == "outputs":
                whole = {dim: mapping.tile_extents(index)[dim] * math.prod(
                    f for lvl, d, f, _, kind in flat.entries if kind == "t" and lvl < index and d == dim) for dim in DIMS}
                partition = math.prod(points(terms) for _, terms in flat.axis_terms(tensor, whole))
                if fills and spec.config.timeloop_version == "current":
                    fills -= partition
                out[(index, tensor)] = {"read": accesses - partition, "fill": fills, "update": accesses}
            else:
                out[(index, tensor)] = {"read": accesses, "fill": fills, "update": 0}
    return flat, out


def level_cycles_for(spec: Spec, per_instance: dict[str, list[float]], cycles_compute: int) -> dict[str, int]:
    """Cycles of each level as Timeloop computes them, in double precision: the slowdown
    ``s = min(1, read_bw / read_need, write_bw / write_need, shared_bw / (read_need + write_need))``, with
    ``need`` = per-instance ``[read, write]`` words / ``cycles_compute``, and ``ceil(cycles_compute / s)``.

    (Timeloop's own rounding: its eyeriss_like_w_gating reference gives 1916929 cycles for 3833856 reads at
    2 words per cycle over 1054311 compute cycles, one more than the exact quotient.)
    """
    level_cycles = {}
    for level in spec.levels:
        config = level.level.config
        reads, writes = per_instance[level.name]
        if cycles_compute <= 0:
            level_cycles[level.name] = max(cycles_for(reads, config.bandwidth_words_per_cycle),
                                           cycles_for(writes, config.write_bandwidth_words_per_cycle
                                                      or config.bandwidth_words_per_cycle))
            continue
        read_need, write_need = reads / cycles_compute, writes / cycles_compute
        slowdown = 1.0
        if read_need:
            slowdown = min(slowdown, config.bandwidth_words_per_cycle / read_need)
        if write_need:
            slowdown = min(slowdown, (config.write_bandwidth_words_per_cycle or config.bandwidth_words_per_cycle) / write_need)
        if config.shared_bandwidth_words_per_cycle and read_need + write_need:
            slowdown = min(slowdown, config.shared_bandwidth_words_per_cycle / (read_need + write_need))
        level_cycles[level.name] = math.ceil(cycles_compute / slowdown)
    return level_cycles


def evaluate(spec: Spec, nest: LoopNest, mapping: Mapping, check: bool = True) -> LoopNestStats:
    """Count, time and price one mapping of one loop nest with Timeloop's rules.

    Parameters
    ----------
    spec
        The loop-nest hardware (its per-word costs, ``block_words``, bandwidths, leakage).
    nest
        The layer's loop nest.
    mapping
        Loops per level; checked first unless ``check`` is False.
    check
        Run :func:`~energysim.engines.loopnest.mapping.check_mapping`.

    Returns
    -------
    LoopNestStats
        Counts ``(level, tensor, read|fill|update)`` summed over the utilised
        instances (plus ``<tensor>:vector_padding`` word slots at levels with
        ``block_words`` > 1, ``leak`` and one count per MAC action), cycles and energy (pJ).
        A sparse design (``[engine.sparse]``) is counted dense when ``check`` is False
        (the mapper ranks its candidates so); its Sparseloop counts are
        :func:`energysim.engines.loopnest.sparse_timeloop.evaluate`'s.

    Raises
    ------
    ConfigError
        If ``check`` and the mapping breaks a rule.
    UnsupportedError
        If ``check`` and the hardware is a sparse design (its counts are sparse_timeloop's, never silently dense).
    """
    if check and spec.config.sparse is not None:
        raise UnsupportedError(f"{spec.hardware.path or spec.hardware.name}: engine.sparse: a sparse design's Timeloop "
                               "counts are Sparseloop's (energysim.engines.loopnest.sparse_timeloop.evaluate), not dense")
    if check:
        check_mapping(spec, nest, mapping, f"mapping {mapping.source or '(in memory)'}")
    flat, actions = dense_actions(spec, nest, mapping)
    counts: dict[tuple[str, str, str], int] = {}
    per_instance = {level.name: [0, 0] for level in spec.levels}

    def add(component: str, tensor: str, action: str, value: int) -> None:
        if value:
            counts[(component, tensor, action)] = counts.get((component, tensor, action), 0) + int(value)

    for (index, tensor), values in actions.items():
        level = spec.levels[index]
        used = flat.used(index)
        block = level.level.config.block_words or 1
        for action, value in values.items():
            add(level.name, tensor, action, value * used)
            add(level.name, tensor + PADDING_SUFFIX, action, (-value % block) * used)
        per_instance[level.name][0] += values["read"]
        per_instance[level.name][1] += values["fill"] + values["update"]
    macs = nest.macs
    for action in spec.mac_actions:
        add(spec.config.mac_unit, "-", action, macs)

    level_cycles = level_cycles_for(spec, per_instance, flat.cycles)
    cycles_total = max(level_cycles.values())
    for level in spec.levels:
        if LEAK_ACTION in level.level.costs:
            add(level.name, "-", LEAK_ACTION, cycles_total * flat.used(level.index))

    return priced_stats(spec, counts, macs, flat.cycles, level_cycles, cycles_total, mapping)
