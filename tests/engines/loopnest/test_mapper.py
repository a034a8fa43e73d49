"""The loop-nest mapper: exhaustive optimum against brute force, determinism, constraints, objectives."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from conftest import make_spec
from energysim.engines.loopnest.analysis import evaluate
from energysim.engines.loopnest.mapper import SearchSettings, clear_cache, map_nest, prices_of, problem_of, to_mapping
from energysim.engines.loopnest.mapper_constraints import LevelConstraint, MapperConstraints, resolve
from energysim.engines.loopnest.mapper_estimate import estimate_counts
from energysim.engines.loopnest.mapper_search import Batch, batch_keys, legal, neighbours, neighbours_batch, sample
from energysim.engines.loopnest.mapper_space import ordered_factorisations, prime_factors, stationary_orders
from energysim.engines.loopnest.mapping import LevelLoops, Mapping, check_mapping
from energysim.errors import ConfigError, InputError
from energysim.workloads.loop_nest import DIMS, TENSORS, LoopNest

SMALL = SearchSettings(samples=400, evaluate_top=8, refine_evaluations=40, refine_top=4, descend_starts=8, descend_steps=6,
                       kicks=1, kick_starts=4)
"""A small sampled search, for speed."""


def tiny_spec():
    """DRAM -> a 12-word buffer -> 2 x 1 register files of 4 words -> 1 MAC each (powers-of-ten costs)."""
    return make_spec([
        {"name": "DRAM"},
        {"name": "Buffer", "capacity_bytes": 48},
        {"name": "RegFile", "capacity_bytes": 16, "mesh_x": 2, "mesh_y": 1},
    ])


def array_spec():
    """DRAM -> a 512-word buffer -> 4 x 4 register files of 8 words (powers-of-ten costs)."""
    return make_spec([
        {"name": "DRAM"},
        {"name": "Buffer", "capacity_bytes": 2048},
        {"name": "RegFile", "capacity_bytes": 32, "mesh_x": 4, "mesh_y": 4},
    ])


def brute_force(spec, nest: LoopNest, bypass: bool) -> float:
    """Least energy over every mapping, enumerated independently of the mapper: every split of every
    dimension over the five loop slots, every order of each level's loops, every keep choice."""
    slots = [("DRAM", "t"), ("Buffer", "t"), ("Buffer", "x"), ("Buffer", "y"), ("RegFile", "t")]
    dims = [d for d in DIMS if nest.bounds[d] > 1]
    splits = [ordered_factorisations(nest.bounds[d], len(slots)) for d in dims]
    keeps = [frozenset()]
    if bypass:
        held = [(level, t) for level in ("Buffer", "RegFile") for t in TENSORS]
        keeps = [frozenset(c) for r in range(len(held) + 1) for c in itertools.combinations(held, r)]
    best = np.inf
    for choice in itertools.product(*splits):
        per_slot = {s: {d: choice[i][k] for i, d in enumerate(dims) if choice[i][k] > 1} for k, s in enumerate(slots)}
        temporal = {level: per_slot[(level, "t")] for level in ("DRAM", "Buffer", "RegFile")}
        for orders in itertools.product(*[list(itertools.permutations(temporal[l])) for l in ("DRAM", "Buffer", "RegFile")]):
            for dropped in keeps:
                levels = tuple(
                    LevelLoops(level, tuple((d, temporal[level][d]) for d in order),
                               tuple(per_slot[(level, "x")].items()) if level == "Buffer" else (),
                               tuple(per_slot[(level, "y")].items()) if level == "Buffer" else (),
                               frozenset(t for (l, t) in dropped if l == level))
                    for level, order in zip(("DRAM", "Buffer", "RegFile"), orders)
                )
                mapping = Mapping(levels, source="brute force")
                try:
                    check_mapping(spec, nest, mapping, "brute force")
                except ConfigError:
                    continue
                best = min(best, evaluate(spec, nest, mapping, check=False).energy_pj)
    return best


def test_exhaustive_search_finds_the_brute_force_optimum() -> None:
    """K=2 C=4 N=2 on DRAM -> 12-word buffer -> 2 register files: the mapper's exhaustive search equals brute force."""
    spec, nest = tiny_spec(), LoopNest.of("tiny", K=2, C=4, N=2)
    result = map_nest(spec, nest, settings=SearchSettings(exhaustive_limit=20000), progress=False)
    assert result.strategy == "exhaustive"
    assert result.energy_pj == pytest.approx(brute_force(spec, nest, bypass=False), rel=1e-12)


@pytest.mark.slow
def test_exhaustive_search_with_bypass_finds_the_brute_force_optimum() -> None:
    """K=2 C=2 N=2 with every keep/bypass choice open: the mapper's exhaustive search equals brute force."""
    spec, nest = tiny_spec(), LoopNest.of("tiny", K=2, C=2, N=2)
    result = map_nest(spec, nest, MapperConstraints(allow_bypass=True), settings=SearchSettings(exhaustive_limit=200000),
                      progress=False)
    assert result.strategy == "exhaustive"
    assert result.energy_pj == pytest.approx(brute_force(spec, nest, bypass=True), rel=1e-12)


def test_exhaustive_space_is_not_vacuous() -> None:
    """The tiny case has dozens of legal mappings (the brute-force test compares more than one point)."""
    spec, nest = tiny_spec(), LoopNest.of("tiny", K=2, C=4, N=2)
    result = map_nest(spec, nest, settings=SearchSettings(exhaustive_limit=20000), progress=False)
    assert result.evaluated > 50
    assert result.baselines["default"].energy_pj > result.energy_pj


def test_sampled_search_is_deterministic_for_a_seed() -> None:
    """The same seed gives the same mapping, figures and effort when the search runs again (cache cleared)."""
    spec, nest = array_spec(), LoopNest.of("conv", K=16, C=8, P=8, Q=8, R=3, S=3)
    first = map_nest(spec, nest, seed=7, settings=SMALL, progress=False)
    clear_cache()
    again = map_nest(spec, nest, seed=7, settings=SMALL, progress=False)
    assert first.strategy == "sampled" and not again.cached
    assert again.mapping.describe() == first.mapping.describe()
    assert again.energy_pj == first.energy_pj and again.evaluated == first.evaluated
    other = map_nest(spec, nest, seed=8, settings=SMALL, progress=False)
    check_mapping(spec, nest, other.mapping, "seed 8")


def test_repeat_call_is_served_from_the_cache() -> None:
    """A second identical request (another layer name, same geometry) is answered from the cache."""
    spec = array_spec()
    first = map_nest(spec, LoopNest.of("a", K=16, C=8, P=4, Q=4), seed=3, settings=SMALL, progress=False)
    second = map_nest(spec, LoopNest.of("b", K=16, C=8, P=4, Q=4), seed=3, settings=SMALL, progress=False)
    assert second.cached and not first.cached
    assert second.layer == "b" and second.mapping.describe() == first.mapping.describe()


def test_sampled_candidates_are_legal() -> None:
    """Every sampled candidate passes the mapping checks (capacity, fan-out, factor products)."""
    spec, nest = array_spec(), LoopNest.of("conv", K=16, C=8, P=8, Q=8, R=3, S=3)
    problem = problem_of(spec, nest)
    batch = sample(problem, resolve(MapperConstraints(), problem), 300, np.random.default_rng(0))
    assert len(batch) > 100
    for b in range(len(batch)):
        check_mapping(spec, nest, to_mapping(problem, spec, batch.factors[b], batch.orders[b], batch.keep[b]), f"sample {b}")


def test_neighbours_are_every_single_move_and_batch_equals_one_by_one() -> None:
    """Every legal one-prime move, reorder and keep flip of a candidate is a neighbour, and a batch's
    neighbours are each candidate's own, grouped by the candidate they came from."""
    spec, nest = array_spec(), LoopNest.of("conv", K=16, C=8, P=8, Q=8, R=3, S=3)
    problem = problem_of(spec, nest)
    resolved = resolve(MapperConstraints(allow_bypass=True), problem)
    batch = sample(problem, resolved, 40, np.random.default_rng(1))
    near, owner = neighbours_batch(problem, resolved, batch)
    assert (np.diff(owner) >= 0).all()
    for b in range(len(batch)):
        f, o, k = batch.factors[b], batch.orders[b], batch.keep[b]
        mine = set(batch_keys(problem, near.take(owner == b)))
        assert mine == set(batch_keys(problem, neighbours(problem, resolved, f, o, k)))
        expected = []  # written independently: every prime of every slot's bound moved to every other slot
        for slot, d in itertools.product(range(len(problem.slots)), range(len(DIMS))):
            for p in set(prime_factors(int(f[slot, d]))):
                for other in range(len(problem.slots)):
                    if other != slot:
                        moved = f.copy()
                        moved[slot, d] //= p
                        moved[other, d] *= p
                        expected.append((moved, o, k))
        for i, t in itertools.product(range(len(problem.levels)), range(len(TENSORS))):
            if i > 0:
                flipped = k.copy()
                flipped[i, t] = not flipped[i, t]
                expected.append((f, o, flipped))
        for i in range(len(problem.levels)):
            for order in stationary_orders(f[problem.temporal_slot(i)], problem.tensors):
                changed = o.copy()
                changed[i] = order
                expected.append((f, changed, k))
        one = Batch(*(np.array([e[j] for e in expected]) for j in range(3)))
        one = one.take(legal(problem, resolved, one))
        assert set(batch_keys(problem, one)) <= mine


def _level(mapping: Mapping, name: str) -> LevelLoops:
    return next(level for level in mapping.levels if level.name == name)


def test_output_stationary_constraint_is_respected() -> None:
    """output_stationary: the register file loops only over C, R, S; spatial loops split only N, G, K, P, Q."""
    spec, nest = array_spec(), LoopNest.of("conv", K=16, C=8, P=8, Q=8, R=3, S=3)
    result = map_nest(spec, nest, MapperConstraints(dataflow="output_stationary"), settings=SMALL, progress=False)
    assert {d for d, _ in _level(result.mapping, "RegFile").temporal} <= {"C", "R", "S"}
    buffer = _level(result.mapping, "Buffer")
    assert {d for d, _ in buffer.spatial_x + buffer.spatial_y} <= {"N", "G", "K", "P", "Q"}


def test_weight_stationary_constraint_is_respected() -> None:
    """weight_stationary: the register file never loops over a weight dimension; spatial loops only over them."""
    spec, nest = array_spec(), LoopNest.of("conv", K=16, C=8, P=8, Q=8, R=3, S=3)
    result = map_nest(spec, nest, MapperConstraints(dataflow="weight_stationary"), settings=SMALL, progress=False)
    assert not {d for d, _ in _level(result.mapping, "RegFile").temporal} & {"G", "K", "C", "R", "S"}
    buffer = _level(result.mapping, "Buffer")
    assert {d for d, _ in buffer.spatial_x + buffer.spatial_y} <= {"G", "K", "C", "R", "S"}


def test_fixed_factors_order_and_keep_are_respected() -> None:
    """Fixed temporal and spatial bounds, a fixed order and a fixed keep set appear as given in the result."""
    spec, nest = array_spec(), LoopNest.of("conv", K=16, C=8, P=8, Q=8, R=3, S=3)
    constraints = MapperConstraints(allow_bypass=True, levels=(
        LevelConstraint(level="Buffer", spatial_x={"K": 4}, spatial_y={"P": 4}, keep=("weights", "inputs", "outputs")),
        LevelConstraint(level="RegFile", temporal={"S": "all", "C": 2}, order=("C", "S"), keep=("outputs",)),
    ))
    result = map_nest(spec, nest, constraints, settings=SMALL, progress=False)
    buffer, rf = _level(result.mapping, "Buffer"), _level(result.mapping, "RegFile")
    assert buffer.spatial_x == (("K", 4),) and buffer.spatial_y == (("P", 4),) and not buffer.bypass
    assert dict(rf.temporal)["S"] == 3 and dict(rf.temporal)["C"] == 2
    assert [d for d, _ in rf.temporal][-2:] == ["C", "S"]
    assert rf.bypass == frozenset({"weights", "inputs"})


def test_row_stationary_puts_filter_rows_on_y() -> None:
    """row_stationary: the whole R on the Y axis, one filter row (R = 1, P = 1, all of S) per register file."""
    spec, nest = array_spec(), LoopNest.of("conv", K=16, C=8, P=8, Q=8, R=3, S=3)
    spec = make_spec([{"name": "DRAM"}, {"name": "Buffer", "capacity_bytes": 2048},
                      {"name": "RegFile", "capacity_bytes": 64, "mesh_x": 4, "mesh_y": 6}])
    result = map_nest(spec, nest, MapperConstraints(dataflow="row_stationary"), settings=SMALL, progress=False)
    buffer, rf = _level(result.mapping, "Buffer"), _level(result.mapping, "RegFile")
    assert dict(buffer.spatial_y).get("R") == 3
    assert dict(rf.temporal).get("S") == 3 and "R" not in dict(rf.temporal) and "P" not in dict(rf.temporal)


@pytest.mark.parametrize("constraints, message", [
    (MapperConstraints(levels=(LevelConstraint(level="SRAM"),)), "unknown level 'SRAM'"),
    (MapperConstraints(levels=(LevelConstraint(level="RegFile", temporal={"K": 3}),)),
     "levels[0] (RegFile).temporal.K: a loop bound must divide the dimension's size 16 (got 3)"),
    (MapperConstraints(levels=(LevelConstraint(level="RegFile", temporal={"Z": 1}),)), "unknown dimension 'Z'"),
    (MapperConstraints(levels=(LevelConstraint(level="DRAM", keep=("weights",)),)), "outermost level must keep every tensor"),
    (MapperConstraints(levels=tuple(LevelConstraint(level=name, temporal_max={"K": 1}) for name in ("DRAM", "Buffer", "RegFile"))),
     "levels[0] (DRAM).temporal_max.K: dimension 'K' of size 64 cannot be split into temporal loops of at most 1 at DRAM, "
     "1 at Buffer, 1 at RegFile and the spatial fan-outs (what is left after fixed bounds: 64, the most they reach: 16)"),
])
def test_bad_constraints_are_one_line_input_errors(constraints: MapperConstraints, message: str) -> None:
    """Constraints that do not fit the layer or hardware raise one InputError line naming the field and value."""
    spec, nest = array_spec(), LoopNest.of("conv", K=16 if "temporal_max" not in message else 64, C=8, P=8, Q=8, R=3, S=3)
    with pytest.raises(InputError) as info:
        map_nest(spec, nest, constraints, settings=SMALL, progress=False)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_batch_keys_of_an_empty_batch_is_empty() -> None:
    """An empty candidate batch (a constrained space the sampler found nothing in) has no keys, not a reshape error."""
    problem = problem_of(array_spec(), LoopNest.of("gemm", K=32, C=32, N=16))
    batch = sample(problem, resolve(MapperConstraints(), problem), 4, np.random.default_rng(1))
    assert batch_keys(problem, batch.take(np.array([], dtype=np.int64))) == []


@pytest.mark.parametrize("nest", [
    LoopNest.of("tiny", K=2, C=4, N=2),
    LoopNest.of("conv", K=16, C=8, P=8, Q=8, R=3, S=3),
    LoopNest.of("gemm", K=32, C=32, N=16),
])
def test_energy_search_is_never_beaten_by_edp_search_on_energy(nest: LoopNest) -> None:
    """With the same seed and effort, the energy objective finds no more energy than the EDP objective."""
    spec = tiny_spec() if nest.name == "tiny" else array_spec()
    settings = SearchSettings(exhaustive_limit=20000) if nest.name == "tiny" else SMALL
    energy = map_nest(spec, nest, objective="energy", settings=settings, progress=False)
    edp = map_nest(spec, nest, objective="edp", settings=settings, progress=False)
    latency = map_nest(spec, nest, objective="latency", settings=settings, progress=False)
    assert energy.energy_pj <= edp.energy_pj
    assert edp.edp_pj_cycles <= energy.edp_pj_cycles
    assert latency.cycles <= energy.cycles


def test_estimate_equals_analysis_without_sliding_windows() -> None:
    """On a GEMM (no window) with spatial multicast and reduction, the estimate's counts equal the analysis's."""
    spec, nest = array_spec(), LoopNest.of("gemm", K=32, C=32, N=16)
    problem = problem_of(spec, nest)
    batch = sample(problem, resolve(MapperConstraints(), problem), 50, np.random.default_rng(1))
    for b in range(len(batch)):
        stats = evaluate(spec, nest, to_mapping(problem, spec, batch.factors[b], batch.orders[b], batch.keep[b]))
        reads, fills, updates = estimate_counts(problem, batch.factors[b:b + 1], batch.orders[b:b + 1], batch.keep[b:b + 1])
        for i, level in enumerate(spec.levels):
            for t, tensor in enumerate(TENSORS):
                get = lambda action: stats.counts.get((level.name, tensor, action), 0)  # noqa: E731
                assert reads[0, i, t] == get("read"), (b, level.name, tensor)
                assert fills[0, i, t] == get("fill"), (b, level.name, tensor)
                assert updates[0, i, t] == get("write") + get("update"), (b, level.name, tensor)


def test_report_names_effort_and_baselines() -> None:
    """The report states the evaluations, the estimate count and each simpler strategy with ratios."""
    spec, nest = array_spec(), LoopNest.of("conv", K=16, C=8, P=8, Q=8, R=3, S=3)
    result = map_nest(spec, nest, seed=1, settings=SMALL, progress=False)
    text = result.report()
    assert f"{result.evaluated} mappings evaluated" in text and f"{result.estimated} estimated" in text
    assert set(result.baselines) == {"default", "random", "estimate"}
    for base in result.baselines.values():
        assert base.energy_pj >= result.energy_pj
        assert base.name in text
    assert prices_of(spec).mac_pj == 1.0


def test_parallel_workload_equals_sequential_and_searches_repeats_once() -> None:
    """map_workload over 2 processes gives the sequential answers; a repeated geometry is a cache hit."""
    from energysim.engines.loopnest.mapper import map_workload
    from energysim.workloads.layers import GemmLayer

    hardware = array_spec().hardware
    layers = [GemmLayer(name="a", m=32, n=16, k=32), GemmLayer(name="b", m=16, n=16, k=64),
              GemmLayer(name="c", m=32, n=16, k=32)]
    clear_cache()
    parallel = map_workload(hardware, layers, settings=SMALL, processes=2, progress=False)
    clear_cache()
    sequential = map_workload(hardware, layers, settings=SMALL, processes=1, progress=False)
    assert [r.mapping.describe() for r in parallel] == [r.mapping.describe() for r in sequential]
    assert [r.energy_pj for r in parallel] == [r.energy_pj for r in sequential]
    assert [r.cached for r in sequential] == [False, False, True] == [r.cached for r in parallel]
    assert [r.layer for r in parallel] == ["a", "b", "c"]


def test_timeloop_convention_evaluates_with_timeloops_rules() -> None:
    """compat='timeloop': the answer's figures are Timeloop-convention counts of its mapping; a bad name is refused."""
    from energysim.engines.loopnest.timeloop_compat import evaluate as evaluate_timeloop

    spec, nest = array_spec(), LoopNest.of("conv", K=16, C=8, P=8, Q=8, R=3, S=3)
    result = map_nest(spec, nest, settings=SMALL, progress=False, compat="timeloop")
    assert result.energy_pj == evaluate_timeloop(spec, nest, result.mapping).energy_pj
    with pytest.raises(InputError, match="compat must be 'ideal' or 'timeloop'"):
        map_nest(spec, nest, settings=SMALL, progress=False, compat="zigzag")


class _Halved:
    """Tiles at the register file occupy half their dense words (a compressed format), rounded up."""

    key = ("halved", 2)

    def __call__(self, level: int, tensor: str, words: np.ndarray) -> np.ndarray:
        return (words + 1) // 2 if level == 2 else words


def test_occupancy_sizes_tiles_for_the_capacity_checks() -> None:
    """With an occupancy hook, a register-file tile fits when its occupied words do, even past the dense capacity."""
    spec, nest = array_spec(), LoopNest.of("conv", K=16, C=8, P=8, Q=8, R=3, S=3)
    dense, halved = problem_of(spec, nest), problem_of(spec, nest, _Halved())
    batch = sample(halved, resolve(MapperConstraints(), halved), 400, np.random.default_rng(0))
    assert halved.level_fits(batch.factors, batch.keep, 2).all()
    assert not dense.level_fits(batch.factors, batch.keep, 2).all()
    map_nest(spec, nest, settings=SMALL, progress=False)
    assert not map_nest(spec, nest, settings=SMALL, progress=False, occupancy=_Halved()).cached  # its own cache entry
