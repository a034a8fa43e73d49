"""The oracle: the ideal-buffer rules of :mod:`~energysim.engines.loopnest.analysis`, loop by loop.

It runs every iteration of the nest, keeps the actual set of points each
instance of each level holds, and counts each rule's event as it happens:
fills as set differences between consecutive tiles, parent reads once per
distinct delta among sibling instances, one read per distinct operand among
the MACs under the innermost keeper each cycle, partial sums written on first
arrival and read-modified-written after, drained when their tile moves and
reduced across siblings. Exponential in nothing but slow in everything: for
layers of a few thousand MACs, to test the closed form.
"""

from __future__ import annotations

import itertools
from collections import defaultdict

from energysim.engines.loopnest.mapping import Mapping
from energysim.engines.loopnest.spec import Spec
from energysim.workloads.loop_nest import DIMS, TENSORS, LoopNest

MAX_MACS = 200_000
"""Largest layer the interpreter accepts."""


def _point(nest: LoopNest, tensor: str, idx: dict[str, int]) -> tuple[int, ...]:
    return tuple(sum(coef * idx[dim] for dim, coef in axis) for axis in nest.axes(tensor))


def reference_counts(spec: Spec, nest: LoopNest, mapping: Mapping) -> dict[tuple[str, str, str], int]:
    """Counts per (level, tensor, action) by running every iteration (no network, MAC or leakage counts).

    Raises
    ------
    ValueError
        If the layer has more than :data:`MAX_MACS` MACs.
    """
    if nest.macs > MAX_MACS:
        raise ValueError(f"the reference interpreter takes at most {MAX_MACS} MACs (got {nest.macs})")
    loops = mapping.loops
    strides = []
    inner = dict.fromkeys(DIMS, 1)
    for loop in reversed(loops):
        strides.append(inner[loop.dim])
        inner[loop.dim] *= loop.factor
    strides = strides[::-1]
    temporal = [i for i, loop in enumerate(loops) if loop.kind == "t"]
    spatial = [i for i, loop in enumerate(loops) if loop.kind != "t"]
    n_levels = len(spec.levels)
    counts: dict[tuple[str, str, str], int] = defaultdict(int)

    def time_key(t_idx: tuple, level: int) -> tuple:
        return tuple(v for v, i in zip(t_idx, temporal) if loops[i].level < level)

    def inst_key(s_idx: tuple, level: int) -> tuple:
        return tuple(v for v, i in zip(s_idx, spatial) if loops[i].level < level)

    def dims_of(t_idx: tuple, s_idx: tuple) -> dict[str, int]:
        idx = dict.fromkeys(DIMS, 0)
        for v, i in itertools.chain(zip(t_idx, temporal), zip(s_idx, spatial)):
            idx[loops[i].dim] += v * strides[i]
        return idx

    t_space = list(itertools.product(*(range(loops[i].factor) for i in temporal)))
    s_space = list(itertools.product(*(range(loops[i].factor) for i in spatial)))
    points = {(t, s): {x: _point(nest, x, dims_of(t, s)) for x in TENSORS} for t in t_space for s in s_space}

    for tensor in TENSORS:
        keepers = [i for i in range(n_levels) if mapping.keeps(spec, i, tensor)]
        owners = {(level, parent): {inst_key(s, level): inst_key(s, parent) for s in s_space}
                  for level in keepers for parent in keepers if parent < level}
        tiles = {}
        for level in keepers:
            table: dict[tuple, set] = defaultdict(set)
            for (t, s), pts in points.items():
                table[(time_key(t, level), inst_key(s, level))].add(pts[tensor])
            tiles[level] = table
        if tensor != "outputs":
            _read_only(spec, tensor, keepers, tiles, owners, t_space, s_space, points, time_key, inst_key, counts)
        else:
            _outputs(spec, keepers, tiles, owners, t_space, s_space, points, time_key, inst_key, counts)
    return {k: v for k, v in counts.items() if v}


def _groups(t_space: list, level: int, time_key) -> list[tuple]:
    """Distinct consecutive time keys of a level, in order."""
    out: list[tuple] = []
    for t in t_space:
        key = time_key(t, level)
        if not out or out[-1] != key:
            out.append(key)
    return out


def _read_only(spec, tensor, keepers, tiles, owners, t_space, s_space, points, time_key, inst_key, counts) -> None:
    for position, level in enumerate(keepers):
        name = spec.levels[level].name
        instances = sorted({inst_key(s, level) for s in s_space})
        if position > 0:
            parent = keepers[position - 1]
            parent_name = spec.levels[parent].name
            previous = {i: set() for i in instances}
            for key in _groups(t_space, level, time_key):
                deltas = defaultdict(set)
                for inst in instances:
                    current = tiles[level][(key, inst)]
                    delta = current - previous[inst]
                    counts[(name, tensor, "fill")] += len(delta)
                    previous[inst] = current
                    if delta:
                        deltas[owners[(level, parent)][inst]].add(frozenset(delta))
                for distinct in deltas.values():
                    counts[(parent_name, tensor, "read")] += sum(len(d) for d in distinct)
        if position == len(keepers) - 1:
            for t in t_space:
                served = defaultdict(set)
                for s in s_space:
                    served[inst_key(s, level)].add(points[(t, s)][tensor])
                counts[(name, tensor, "read")] += sum(len(v) for v in served.values())


def _outputs(spec, keepers, tiles, owners, t_space, s_space, points, time_key, inst_key, counts) -> None:
    held = {level: defaultdict(set) for level in keepers}
    names = {level: spec.levels[level].name for level in keepers}

    def arrive(level: int, inst: tuple, pts: set) -> None:
        for p in pts:
            if p in held[level][inst]:
                counts[(names[level], "outputs", "read")] += 1
                counts[(names[level], "outputs", "update")] += 1
            else:
                counts[(names[level], "outputs", "write")] += 1
                held[level][inst].add(p)

    def drain(position: int, key: tuple | None) -> None:
        """Send up the points of each instance that are not in its next tile (all of them at the end)."""
        level, parent = keepers[position], keepers[position - 1]
        incoming: dict[tuple, set] = defaultdict(set)
        for inst, pts in held[level].items():
            leaving = pts if key is None else pts - tiles[level][(key, inst)]
            counts[(names[level], "outputs", "read")] += len(leaving)
            incoming[owners[(level, parent)][inst]] |= leaving
            held[level][inst] = pts - leaving
        for owner, pts in incoming.items():
            arrive(parent, owner, pts)

    innermost = keepers[-1]
    previous = None
    for t in t_space:
        if previous is not None:
            for position in range(len(keepers) - 1, 0, -1):
                key = time_key(t, keepers[position])
                if key != time_key(previous, keepers[position]):
                    drain(position, key)
        per_instance = defaultdict(set)
        for s in s_space:
            per_instance[inst_key(s, innermost)].add(points[(t, s)]["outputs"])
        for inst, pts in per_instance.items():
            arrive(innermost, inst, pts)
        previous = t
    for position in range(len(keepers) - 1, 0, -1):
        drain(position, None)
