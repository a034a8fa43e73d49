"""The closed-form analysis agrees with the loop-by-loop interpreter on a seeded grid of tiny layers and mappings."""

from __future__ import annotations

import random

import pytest

from conftest import make_spec
from energysim.engines.loopnest.analysis import evaluate
from energysim.engines.loopnest.mapping import LevelLoops, Mapping, tile_words
from energysim.engines.loopnest.reference import reference_counts
from energysim.workloads.loop_nest import DIMS, LoopNest

SPEC = make_spec(
    [{"name": "DRAM"},
     {"name": "Buf", "capacity_bytes": 1 << 20, "mesh_x": 2, "mesh_y": 2},
     {"name": "RF", "capacity_bytes": 1 << 20, "mesh_x": 2}],
    mac_mesh=(2, 2),
)

CASES = 160


def _primes(value: int) -> list[int]:
    out, p = [], 2
    while value > 1:
        while value % p == 0:
            out.append(p)
            value //= p
        p += 1
    return out


def _random_case(rng: random.Random) -> tuple[LoopNest, Mapping]:
    while True:
        nest = LoopNest.of(
            "tiny", N=rng.choice([1, 2]), G=rng.choice([1, 1, 2]), K=rng.choice([1, 2, 4]), C=rng.choice([1, 2, 3]),
            P=rng.choice([1, 2, 3, 4, 6]), Q=rng.choice([1, 2, 3]), R=rng.choice([1, 2, 3]), S=rng.choice([1, 2]),
            stride_h=rng.choice([1, 1, 2]), stride_w=rng.choice([1, 2]), dilation_h=rng.choice([1, 1, 2]),
            dilation_w=rng.choice([1, 2]),
        )
        if nest.macs <= 1500:
            break
    slots = [(level, kind) for level in range(3) for kind in ("t", "x", "y")]
    room = {(i, k): (SPEC.levels[i].fanout_x if k == "x" else SPEC.levels[i].fanout_y) for i, k in slots if k != "t"}
    factors = {slot: {} for slot in slots}
    for dim in DIMS:
        for prime in _primes(nest.bounds[dim]):
            choices = [s for s in slots if s[1] == "t" or room[s] % prime == 0]
            slot = rng.choice(choices)
            if slot[1] != "t":
                room[slot] //= prime
            factors[slot][dim] = factors[slot].get(dim, 1) * prime
    levels = []
    for index, level in enumerate(SPEC.levels):
        temporal = list(factors[(index, "t")].items())
        rng.shuffle(temporal)
        bypass = frozenset(t for t in ("weights", "inputs", "outputs") if index > 0 and rng.random() < 0.25)
        levels.append(LevelLoops(level.name, tuple(temporal), tuple(factors[(index, "x")].items()),
                                 tuple(factors[(index, "y")].items()), bypass))
    return nest, Mapping(tuple(levels), source="grid")


GRID = [_random_case(random.Random(seed)) for seed in range(CASES)]


@pytest.mark.parametrize("case", range(CASES))
def test_closed_form_equals_interpreter(case: int) -> None:
    """Every (level, tensor, action) count of the closed form equals the interpreter's on one grid case."""
    nest, mapping = GRID[case]
    stats = evaluate(SPEC, nest, mapping)
    closed = {k: v for k, v in stats.counts.items() if k[0] != "MAC"}
    assert closed == reference_counts(SPEC, nest, mapping), f"{nest.describe()} / {mapping.describe()}"


def test_grid_exercises_every_rule() -> None:
    """The grid is not vacuous: multicast, spatial reduction, partial window overlap, bypass, psum revisits, stationarity."""
    seen = dict.fromkeys(("multicast", "reduction", "partial_overlap", "bypass", "psum_revisit", "stationary"), 0)
    for nest, mapping in GRID:
        counts = evaluate(SPEC, nest, mapping).counts
        for parent, child in (("DRAM", "Buf"), ("Buf", "RF"), ("DRAM", "RF")):
            for tensor in ("weights", "inputs"):
                fills = counts.get((child, tensor, "fill"), 0)
                if 0 < counts.get((parent, tensor, "read"), 0) < fills:
                    seen["multicast"] += 1
        if any(loop.kind != "t" and loop.dim in "CRS" for loop in mapping.loops):
            seen["reduction"] += 1
        if any(level.bypass for level in mapping.levels):
            seen["bypass"] += 1
        if counts.get(("DRAM", "outputs", "update"), 0) or counts.get(("Buf", "outputs", "update"), 0):
            seen["psum_revisit"] += 1
        for index, name in ((1, "Buf"), (2, "RF")):
            tile = tile_words(nest, mapping.tile_extents(index), "inputs")
            fills = counts.get((name, "inputs", "fill"), 0)
            if fills % tile:
                seen["partial_overlap"] += 1
            steps = 1
            for loop in mapping.loops:
                steps *= loop.factor if loop.level < index else 1
            if 0 < counts.get((name, "weights", "fill"), 0) < steps * tile_words(nest, mapping.tile_extents(index), "weights"):
                seen["stationary"] += 1
    assert all(n >= 5 for n in seen.values()), seen
