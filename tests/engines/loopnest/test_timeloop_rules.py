"""compat='timeloop' closed form = a loop-by-loop interpreter of Timeloop's rules, on a seeded grid; hand-worked cases."""

from __future__ import annotations

import dataclasses
import itertools
import random
from collections import defaultdict

import pytest

from conftest import make_spec
from energysim.engines.loopnest.mapping import LevelLoops, Mapping
from energysim.engines.loopnest.timeloop_compat import evaluate
from energysim.workloads.loop_nest import DIMS, TENSORS, LoopNest
from test_analysis_vs_reference import GRID, SPEC


def _version(spec, version: str):
    """The same Spec with ``engine.timeloop_version`` set."""
    return dataclasses.replace(spec, config=spec.config.model_copy(update={"timeloop_version": version}))


def _point(nest: LoopNest, tensor: str, idx: dict[str, int]) -> tuple[int, ...]:
    return tuple(sum(coef * idx[dim] for dim, coef in axis) for axis in nest.axes(tensor))


def interpret(spec, nest: LoopNest, mapping: Mapping) -> dict[tuple[str, str, str], int]:
    """Timeloop's rules run iteration by iteration with real point sets (no closed form, no multiplication by instances)."""
    loops = mapping.loops
    inner = dict.fromkeys(DIMS, 1)
    strides = []
    for loop in reversed(loops):
        strides.append(inner[loop.dim])
        inner[loop.dim] *= loop.factor
    strides = strides[::-1]
    temporal = [i for i, loop in enumerate(loops) if loop.kind == "t"]
    spatial = [i for i, loop in enumerate(loops) if loop.kind != "t"]
    t_space = list(itertools.product(*(range(loops[i].factor) for i in temporal)))
    s_space = list(itertools.product(*(range(loops[i].factor) for i in spatial)))

    def idx(t, s):
        out = dict.fromkeys(DIMS, 0)
        for v, i in itertools.chain(zip(t, temporal), zip(s, spatial)):
            out[loops[i].dim] += v * strides[i]
        return out

    def above(key, chosen, level):
        return tuple(v for v, i in zip(key, chosen) if loops[i].level < level)

    counts: dict[tuple[str, str, str], int] = defaultdict(int)
    n = len(spec.levels)
    for tensor in TENSORS:
        keepers = [i for i in range(n) if mapping.keeps(spec, i, tensor)]
        tiles, order, deltas = {}, {}, {}
        for level in keepers:
            table = defaultdict(set)
            for t in t_space:
                for s in s_space:
                    table[(above(t, temporal, level), above(s, spatial, level))].add(_point(nest, tensor, idx(t, s)))
            tiles[level] = table
            keys = []
            for t in t_space:
                if not keys or keys[-1] != above(t, temporal, level):
                    keys.append(above(t, temporal, level))
            order[level] = keys
            per_step = defaultdict(dict)
            for inst in {above(s, spatial, level) for s in s_space}:
                previous, remembered = None, None
                for key in keys:
                    current = tiles[level][(key, inst)]
                    origin = min(current)
                    if previous is None:
                        delta = current
                    else:
                        move = tuple(a - b for a, b in zip(origin, min(previous)))
                        if current == previous:
                            delta, remembered = set(), move
                        elif remembered is None or move == remembered:
                            delta, remembered = current - previous, move
                        else:
                            delta, remembered = current, None
                    per_step[key][inst] = frozenset(delta)
                    previous = current
            deltas[level] = per_step
        for position, level in enumerate(keepers):
            name = spec.levels[level].name
            child = keepers[position + 1] if position + 1 < len(keepers) else None
            if child is None and loops and loops[-1].kind != "t":
                # the nest's innermost loop is spatial: Timeloop counts the deltas of the MAC array's operand
                # set between temporal steps (an operand stays at the MACs while it does not move), with the same
                # refetch rule as the deliveries
                accesses = 0
                for inst in {above(s, spatial, level) for s in s_space}:
                    previous, remembered = None, None
                    for t in t_space:
                        current = {_point(nest, tensor, idx(t, s)) for s in s_space if above(s, spatial, level) == inst}
                        if previous is None:
                            delta = current
                        else:
                            move = tuple(a - b for a, b in zip(min(current), min(previous)))
                            if current == previous:
                                delta, remembered = set(), move
                            elif remembered is None or move == remembered:
                                delta, remembered = current - previous, move
                            else:
                                delta, remembered = current, None
                        accesses += len(delta)
                        previous = current
            elif child is None:
                accesses = 0
                for t in t_space:
                    served = defaultdict(set)
                    for s in s_space:
                        served[above(s, spatial, level)].add(_point(nest, tensor, idx(t, s)))
                    accesses += sum(len(v) for v in served.values())
            else:
                accesses = 0
                for key, by_inst in deltas[child].items():
                    groups = defaultdict(set)
                    for inst, delta in by_inst.items():
                        if delta:
                            groups[inst[:len(above(s_space[0], spatial, level))]].add(delta)
                    accesses += sum(len(d) for distinct in groups.values() for d in distinct)
            fills = sum(len(d) for by_inst in deltas[level].values() for d in by_inst.values()) if position else 0
            if tensor == "outputs":
                held = defaultdict(set)
                for (key, inst), pts in tiles[level].items():
                    held[inst] |= pts
                partition = sum(len(p) for p in held.values())
                counts[(name, tensor, "update")] += accesses
                counts[(name, tensor, "read")] += accesses - partition
                if position and spec.config.timeloop_version == "current":
                    fills -= partition
            else:
                counts[(name, tensor, "read")] += accesses
            counts[(name, tensor, "fill")] += fills
    return {k: v for k, v in counts.items() if v}


@pytest.mark.parametrize("case", range(0, len(GRID), 2))
def test_closed_form_equals_interpreter(case: int) -> None:
    """Every (level, tensor, action) count of timeloop_compat equals the loop-by-loop interpreter's on one grid case."""
    nest, mapping = GRID[case]
    counts = {k: v for k, v in evaluate(SPEC, nest, mapping).counts.items() if k[0] != "MAC"}
    assert counts == interpret(SPEC, nest, mapping), f"{nest.describe()} / {mapping.describe()}"


def test_whole_tile_refetch_differs_from_ideal() -> None:
    """1-D conv K=2 R=3 P=4, RF[P4] under Buf[K2 R3]: each K step refetches the whole 4-input window (Timeloop 2x(4+1+1)=12)."""
    spec = make_spec([{"name": "DRAM"}, {"name": "RF", "capacity_bytes": 1024}])
    nest = LoopNest.of("c", K=2, R=3, P=4)
    mapping = Mapping((LevelLoops("DRAM", (("K", 2), ("R", 3))), LevelLoops("RF", (("P", 4),))))
    counts = evaluate(spec, nest, mapping).counts
    assert counts[("RF", "inputs", "fill")] == 12
    assert ("RF", "outputs", "fill") not in counts  # current Timeloop: each of the 8 points' first fill is elided
    spec_2020 = _version(spec, "2020")
    assert evaluate(spec_2020, nest, mapping).counts[("RF", "outputs", "fill")] == 8  # 2020: the tile arrives once per K step
    assert counts[("RF", "outputs", "read")] == 24 - 8  # updates (one per MAC) minus the 8 points held: first-read elision
    assert (counts[("RF", "outputs", "update")], counts[("DRAM", "outputs", "update")], counts[("DRAM", "inputs", "read")]) == (24, 8, 12)
    assert ("DRAM", "outputs", "read") not in counts


def test_docs_example_ideal_side() -> None:
    """The same example in the ideal convention (docs/engines/timeloop.md section 1): 10 input fills, psums write 8, RMW 16, drain 8."""
    from energysim.engines.loopnest.analysis import evaluate as ideal
    spec = make_spec([{"name": "DRAM"}, {"name": "RF", "capacity_bytes": 1024}])
    nest = LoopNest.of("c", K=2, R=3, P=4)
    mapping = Mapping((LevelLoops("DRAM", (("K", 2), ("R", 3))), LevelLoops("RF", (("P", 4),))))
    counts = ideal(spec, nest, mapping).counts
    assert counts[("RF", "inputs", "fill")] == 10
    assert (counts[("RF", "outputs", "write")], counts[("RF", "outputs", "update")], counts[("RF", "outputs", "read")]) == (8, 16, 24)
    assert counts[("DRAM", "outputs", "write")] == 8


def _window_case(seed: int) -> tuple[LoopNest, Mapping]:
    """A 1-D convolution with its P, R, K, C factors spread over DRAM, Buf and RF in random orders (sliding windows that restart)."""
    rng = random.Random(seed)
    nest = LoopNest.of("w", K=rng.choice([1, 2]), C=rng.choice([1, 2]), P=rng.choice([4, 6, 8]), R=rng.choice([2, 3]),
                       stride_h=rng.choice([1, 1, 2]))
    factors = [dict() for _ in SLIDE.levels]
    for dim in ("K", "C", "P", "R"):
        value = nest.bounds[dim]
        for prime in (2, 3):
            while value % prime == 0:
                value //= prime
                slot = rng.randrange(len(SLIDE.levels))
                factors[slot][dim] = factors[slot].get(dim, 1) * prime
    levels = []
    for index, level in enumerate(SLIDE.levels):
        temporal = list(factors[index].items())
        rng.shuffle(temporal)
        levels.append(LevelLoops(level.name, tuple(temporal)))
    return nest, Mapping(tuple(levels), source="window grid")


SLIDE = make_spec([{"name": "DRAM"}, {"name": "Buf", "capacity_bytes": 1 << 20}, {"name": "RF", "capacity_bytes": 1 << 20}])
WINDOWS = [_window_case(seed) for seed in range(60)]


@pytest.mark.parametrize("version", ["current", "2020"])
@pytest.mark.parametrize("case", range(len(WINDOWS)))
def test_sliding_windows_equal_interpreter(case: int, version: str) -> None:
    """On sliding-window mappings (restarts, strides) the closed form equals the interpreter count for count, both versions."""
    nest, mapping = WINDOWS[case]
    spec = _version(SLIDE, version)
    counts = {k: v for k, v in evaluate(spec, nest, mapping).counts.items() if k[0] != "MAC"}
    assert counts == interpret(spec, nest, mapping), f"{nest.describe()} / {mapping.describe()}"


def test_window_grid_exercises_whole_tile_refetch() -> None:
    """The window grid is not vacuous: in at least 5 cases Timeloop's input fills exceed the ideal set differences."""
    from energysim.engines.loopnest.analysis import evaluate as ideal
    more = 0
    for nest, mapping in WINDOWS:
        ours, base = evaluate(SLIDE, nest, mapping).counts, ideal(SLIDE, nest, mapping).counts
        more += any(ours.get((lvl, "inputs", "fill"), 0) > base.get((lvl, "inputs", "fill"), 0) for lvl in ("Buf", "RF"))
    assert more >= 5, more


def test_sparse_design_counts_dense_only_unchecked() -> None:
    """Unchecked (the mapper's ranking) a sparse design counts as its dense twin; checked it is refused in one line, never silently dense."""
    import energysim
    from energysim.engines.loopnest.mapping import default_mapping
    from energysim.engines import build_engine
    from energysim.errors import UnsupportedError
    sparse = build_engine(energysim.hardware("eyeriss-like-gating")).spec
    dense = build_engine(energysim.hardware("eyeriss-like")).spec
    nest = LoopNest.of("c", K=4, C=4, P=4, Q=4, R=3, S=3)
    mapping = default_mapping(dense, nest)
    assert evaluate(sparse, nest, mapping, check=False).counts == evaluate(dense, nest, mapping).counts
    with pytest.raises(UnsupportedError, match="engine.sparse: a sparse design's Timeloop counts are Sparseloop's"):
        evaluate(sparse, nest, mapping)
