"""The loop-nest mapper: the best mapping of a layer on a loop-nest hardware.

:func:`map_layer` (a layer and a hardware) and :func:`map_nest` (a loop nest and
a :class:`~energysim.engines.loopnest.spec.Spec`, for the engine) search the map
space of :mod:`~energysim.engines.loopnest.mapper_space` under
:class:`~energysim.engines.loopnest.mapper_constraints.MapperConstraints` for the
least energy (pJ), latency (cycles) or energy-delay product (pJ x cycles), as
the analysis (:func:`~energysim.engines.loopnest.analysis.evaluate`) counts them:

1. **Exhaustive** when the space has at most ``exhaustive_limit`` legal mappings
   (factorisations x keep/bypass choices x distinct loop orders): every one is
   evaluated.
2. Otherwise **pruned, sampled, refined**: ``samples`` legal candidates are drawn
   (:func:`~energysim.engines.loopnest.mapper_search.sample`: capacity-pruned tiles,
   busy arrays first, reuse-relevant loop orders), all are ranked by a
   vectorised first-order estimate (:mod:`~energysim.engines.loopnest.mapper_estimate`);
   ``descend_starts`` of them (the best of each distinct per-PE tile first) are
   improved by local search on the estimate, perturbed ``kicks`` times and
   improved again (iterated local search); the ``evaluate_top`` best samples and
   the ``evaluate_top`` best optima are evaluated by the analysis, and from the
   ``refine_starts`` best of those a local search (:func:`~energysim.engines.loopnest.mapper_search.neighbours`:
   move one prime factor, change one level's order, flip one bypass) evaluates
   the ``refine_top`` best-estimated unseen neighbours per step and moves while
   the objective improves, up to ``refine_evaluations`` evaluations in all.

The search is deterministic for a seed (all draws come from one
``numpy.random.Generator``; ties are broken by energy, cycles, then the
candidate's text). The result reports how many mappings the analysis evaluated
and how many the estimate ranked, and compares the best with simpler
strategies: the engine's default mapping, the best of as many random legal
mappings as the search evaluated at its first step, and the best of the
estimate's top candidates before refinement.

Results are cached in memory, keyed on the layer's loop nest (not its name), the
hardware's levels, units and engine table, the constraints, the objective, the
seed and the settings.
"""

from __future__ import annotations

import json
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from typing import Any, Callable, Literal

import numpy as np

from energysim.config.loading import validate_model
from energysim.engines.loopnest.analysis import LoopNestStats, evaluate
from energysim.engines.loopnest.mapper_constraints import MapperConstraints, Resolved, resolve
from energysim.engines.loopnest.mapper_estimate import Prices, estimate
from energysim.engines.loopnest.mapper_search import (
    Batch, candidate_key, enumerate_all, neighbours, neighbours_batch, sample, space_size, unique,
)
from energysim.engines.loopnest.mapper_space import LevelSlots, MapProblem, TensorIndexing
from energysim.engines.loopnest.mapping import LevelLoops, Mapping, default_mapping
from energysim.engines.loopnest.spec import LoopNestConfig, Spec
from energysim.errors import ConfigError, InputError, UnsupportedError
from energysim.hardware.hierarchy import Hardware
from energysim.workers import init_worker
from energysim.workloads.loop_nest import DIMS, TENSORS, LoopNest

Objective = Literal["energy", "latency", "edp"]
DESCEND_CHUNK = 32
"""Candidates whose neighbours are built and estimated at once in a local search (bounds memory)."""
OBJECTIVES: tuple[str, ...] = ("energy", "latency", "edp")


@dataclass(frozen=True)
class SearchSettings:
    """How hard the mapper searches (counts, never time, so results are reproducible).

    Attributes
    ----------
    exhaustive_limit
        Evaluate every legal mapping when there are at most this many.
    samples
        Candidates drawn and ranked by the estimate.
    evaluate_top
        Best-estimated candidates the analysis evaluates (also the size of the
        random baseline).
    refine_starts
        Evaluated candidates the local search starts from.
    refine_top
        Best-estimated unseen neighbours evaluated per local step.
    refine_evaluations
        Analysis evaluations the local search may spend in all.
    descend_starts
        Best-estimated candidates each refined on the estimate alone before the analysis sees them.
    descend_steps
        Most moves of each of those estimate-only local searches.
    kicks
        Rounds of perturbation: the ``kick_starts`` best optima each take ``kick_moves``
        random moves and descend again (iterated local search on the estimate).
    kick_starts, kick_moves
        See ``kicks``.
    """

    exhaustive_limit: int = 3000
    samples: int = 20000
    evaluate_top: int = 64
    refine_starts: int = 4
    refine_top: int = 12
    refine_evaluations: int = 2000
    descend_starts: int = 128
    descend_steps: int = 40
    kicks: int = 4
    kick_starts: int = 32
    kick_moves: int = 3


@dataclass(frozen=True)
class Baseline:
    """A simpler strategy's best mapping, as the analysis prices it."""

    name: str
    energy_pj: float
    cycles: int
    mapping: str


@dataclass(frozen=True)
class MapResult:
    """The mapper's answer for one layer.

    Attributes
    ----------
    layer, hardware
        Names.
    objective
        ``energy``, ``latency`` or ``edp``.
    mapping
        The best mapping found.
    stats
        Its analysis (counts, cycles, energy).
    strategy
        ``exhaustive`` or ``sampled``.
    evaluated
        Mappings the analysis evaluated (baselines included).
    estimated
        Candidates the first-order estimate ranked (0 when exhaustive).
    space_size
        Factorisations x keep choices before capacity and fan-out checks (orders not counted).
    baselines
        Simpler strategies, by name: ``default``, ``random``, ``estimate`` (absent when exhaustive).
    seed
        The seed of the search.
    wall_s
        Wall time of the search, seconds (a cached answer keeps the time of the search that found it).
    cpu_s
        CPU time of the process during the search, seconds (the fair figure on a shared machine).
    cached
        Whether this answer came from the cache.
    """

    layer: str
    hardware: str
    objective: str
    mapping: Mapping
    stats: LoopNestStats
    strategy: str
    evaluated: int
    estimated: int
    space_size: int
    baselines: dict[str, Baseline]
    seed: int
    wall_s: float
    cpu_s: float
    cached: bool = False

    @property
    def energy_pj(self) -> float:
        """Energy of the best mapping, pJ."""
        return self.stats.energy_pj

    @property
    def cycles(self) -> int:
        """Total cycles of the best mapping."""
        return self.stats.cycles_total

    @property
    def edp_pj_cycles(self) -> float:
        """Energy-delay product, pJ x cycles."""
        return self.stats.energy_pj * self.stats.cycles_total

    def report(self, energy_unit: str = "pJ") -> str:
        """A few lines: the best mapping, its figures, the search effort and the baselines.

        ``energy_unit`` is the hardware's (:attr:`~energysim.hardware.hierarchy.Hardware.energy_unit`):
        energies are shown in mJ, or as MAC-equivalents when the costs are normalised to one MAC.
        """
        def energy(value_pj: float) -> str:
            return f"{value_pj:.4g} MAC-equivalents" if energy_unit == "MAC" else f"{value_pj * 1e-9:.4g} mJ"

        lines = [
            f"{self.layer} on {self.hardware}: {self.objective} search ({self.strategy}, seed {self.seed}), "
            f"{self.evaluated} mappings evaluated, {self.estimated} estimated, {self.wall_s:.2f} s "
            f"({self.cpu_s:.2f} s CPU)",
            f"  best: {energy(self.energy_pj)}, {self.cycles} cycles, "
            f"utilisation {self.stats.utilisation:.3f}: {self.mapping.describe()}",
        ]
        for base in self.baselines.values():
            lines.append(f"  {base.name}: {energy(base.energy_pj)}, {base.cycles} cycles "
                         f"(best / this: energy {self.energy_pj / base.energy_pj:.3g}, cycles {self.cycles / base.cycles:.3g})")
        return "\n".join(lines)


_CACHE: dict[str, MapResult] = {}


def clear_cache() -> None:
    """Forget every cached answer (the next request searches again)."""
    _CACHE.clear()


def problem_of(spec: Spec, nest: LoopNest, occupancy: Callable[[int, str, np.ndarray], np.ndarray] | None = None) -> MapProblem:
    """The map space's view of a loop nest on a loop-nest hardware (``occupancy``: see :class:`MapProblem`)."""
    tensors = tuple(
        TensorIndexing(t, tuple(tuple((DIMS.index(d), c) for d, c in axis) for axis in nest.axes(t)), t == "outputs")
        for t in TENSORS
    )
    levels = []
    for i, level in enumerate(spec.levels):
        config = level.level.config
        capacity = None if config.capacity_bytes is None else config.capacity_bytes * 8 // config.word_bits
        mesh = (1, 1) if i == 0 else (spec.levels[i - 1].fanout_x, spec.levels[i - 1].fanout_y)
        levels.append(LevelSlots(level.name, capacity, tuple(level.level.tensor_capacity_words(t) for t in TENSORS),
                                 mesh, tuple(level.holds(t) for t in TENSORS)))
    return MapProblem(DIMS, tuple(nest.bounds[d] for d in DIMS), tensors, tuple(levels),
                      (spec.levels[-1].fanout_x, spec.levels[-1].fanout_y), occupancy)


def prices_of(spec: Spec) -> Prices:
    """Per-word costs and bandwidths of each level, and the MAC's energy, for the estimate."""
    hw = spec.hardware
    cost = {a: tuple(hw.cost_of(level.name, a).energy_pj for level in spec.levels) for a in ("read", "fill", "update")}
    configs = [level.level.config for level in spec.levels]
    return Prices(
        read_pj=cost["read"], fill_pj=cost["fill"], update_pj=cost["update"],
        read_words_per_cycle=tuple(c.bandwidth_words_per_cycle for c in configs),
        write_words_per_cycle=tuple(c.write_bandwidth_words_per_cycle or c.bandwidth_words_per_cycle for c in configs),
        mac_pj=sum(hw.cost_of(spec.config.mac_unit, a).energy_pj for a in spec.mac_actions),
    )


def to_mapping(problem: MapProblem, spec: Spec, factors: np.ndarray, orders: np.ndarray, keep: np.ndarray) -> Mapping:
    """One candidate as the analysis's :class:`Mapping`."""
    levels = []
    for i, level in enumerate(spec.levels):
        row = factors[problem.temporal_slot(i)]
        temporal = tuple((DIMS[d], int(row[d])) for d in orders[i] if row[d] > 1)
        spatial = []
        for axis in ("X", "Y"):
            if (axis, i + 1) in problem.slots:
                srow = factors[problem.slots.index((axis, i + 1))]
                spatial.append(tuple((DIMS[d], int(srow[d])) for d in range(len(DIMS)) if srow[d] > 1))
            else:
                spatial.append(())
        bypass = frozenset(t for k, t in enumerate(TENSORS) if level.holds(t) and not keep[i, k])
        levels.append(LevelLoops(level.name, temporal, spatial[0], spatial[1], bypass))
    return Mapping(tuple(levels), source="mapper")


def _as_batch(problem: MapProblem, mapping: Mapping) -> Batch:
    """A mapping built by :func:`to_mapping` back as a one-candidate batch."""
    n_levels = len(problem.levels)
    factors = np.ones((1, len(problem.slots), len(DIMS)), dtype=np.int64)
    orders = np.zeros((1, n_levels, len(DIMS)), dtype=np.int64)
    keep = np.zeros((1, n_levels, len(TENSORS)), dtype=bool)
    for i, level in enumerate(mapping.levels):
        slot = problem.temporal_slot(i)
        inner = [DIMS.index(d) for d, _ in level.temporal]
        for d, f in level.temporal:
            factors[0, slot, DIMS.index(d)] = f
        orders[0, i] = [d for d in range(len(DIMS)) if d not in inner] + inner
        for axis, loops in (("X", level.spatial_x), ("Y", level.spatial_y)):
            for d, f in loops:
                factors[0, problem.slots.index((axis, i + 1)), DIMS.index(d)] = f
        keep[0, i] = [problem.levels[i].keeps[t] and name not in level.bypass for t, name in enumerate(TENSORS)]
    return Batch(factors, orders, keep)


def _score(objective: str, energy: np.ndarray | float, cycles: np.ndarray | float):
    if objective == "energy":
        return energy
    if objective == "latency":
        return cycles
    return energy * cycles


class _Evaluator:
    """Evaluates candidates once each with the analysis and keeps the best (deterministic ties)."""

    def __init__(self, problem: MapProblem, spec: Spec, nest: LoopNest, objective: str, progress: Any,
                 count: Callable[..., LoopNestStats]):
        self.problem, self.spec, self.nest, self.objective, self.progress = problem, spec, nest, objective, progress
        self.count = count
        self.done: dict[bytes, tuple[tuple, LoopNestStats]] = {}
        self.best: tuple[tuple, LoopNestStats] | None = None

    def rank(self, stats: LoopNestStats) -> tuple:
        score = _score(self.objective, stats.energy_pj, stats.cycles_total)
        return (score, stats.energy_pj, stats.cycles_total, stats.mapping.describe())

    def __call__(self, factors: np.ndarray, orders: np.ndarray, keep: np.ndarray) -> tuple[tuple, LoopNestStats]:
        key = candidate_key(self.problem, factors, orders, keep)
        if key not in self.done:
            mapping = to_mapping(self.problem, self.spec, factors, orders, keep)
            stats = self.count(self.spec, self.nest, mapping)
            self.done[key] = (self.rank(stats), stats)
            if self.best is None or self.done[key][0] < self.best[0]:
                self.best = self.done[key]
            if self.progress is not None:
                self.progress.update(1)
        return self.done[key]

    def batch(self, batch: Batch) -> list[tuple[tuple, LoopNestStats]]:
        return [self(batch.factors[b], batch.orders[b], batch.keep[b]) for b in range(len(batch))]


def _baseline(name: str, results: list[tuple[tuple, LoopNestStats]]) -> Baseline | None:
    if not results:
        return None
    _, stats = min(results, key=lambda r: r[0])
    return Baseline(name, stats.energy_pj, stats.cycles_total, stats.mapping.describe())


def _best_per_owner(owner: np.ndarray, objective: str, energy: np.ndarray, cycles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each distinct owner (ascending), the index of its best row (objective, energy, cycles, then
    the first) and that row's score."""
    scores = _score(objective, energy, cycles)
    ranked = np.lexsort((np.arange(len(owner)), cycles, energy, scores, owner))
    _, first = np.unique(owner[ranked], return_index=True)
    best = ranked[first]
    return best, scores[best]


def _descend(problem: MapProblem, resolved: Resolved, prices: Prices, objective: str, starts: Batch,
             max_steps: int) -> tuple[Batch, int]:
    """Local search on the estimate alone, all starts in lockstep: each moves to its best-estimated
    neighbour while that is better. Returns the final candidates and how many were estimated."""
    energy, cycles = estimate(problem, prices, starts.factors, starts.orders, starts.keep)
    scores = np.asarray(_score(objective, energy, cycles), dtype=np.float64).copy()
    current = starts.take(np.arange(len(starts)))  # a copy, moved in place
    active = np.arange(len(starts))
    estimated = 0
    for _ in range(max_steps):
        if len(active) == 0:
            break
        still = []
        for chunk in np.array_split(active, -(-len(active) // DESCEND_CHUNK)):  # bounded memory
            near, owner = neighbours_batch(problem, resolved, current.take(chunk))
            if len(near) == 0:
                continue
            energy, cycles = estimate(problem, prices, near.factors, near.orders, near.keep)
            estimated += len(near)
            best, best_scores = _best_per_owner(owner, objective, energy, cycles)
            who = chunk[np.unique(owner)]
            better = best_scores < scores[who] * (1 - 1e-9)
            moved = near.take(best[better])
            current.factors[who[better]], current.orders[who[better]], current.keep[who[better]] = \
                moved.factors, moved.orders, moved.keep
            scores[who[better]] = best_scores[better]
            still.append(who[better])
        active = np.concatenate(still) if still else np.zeros(0, dtype=np.int64)
    return current, estimated


def _diverse_starts(problem: MapProblem, pool: Batch, ranking: np.ndarray, count: int) -> np.ndarray:
    """Up to ``count`` rows of ``pool``: the best-ranked candidate of each distinct innermost tile (the
    per-PE loops and keep choice, which separate the basins of the local search), best first, then the
    best-ranked of the rest."""
    inner = problem.temporal_slot(len(problem.levels) - 1)
    keys = np.concatenate([pool.factors[:, inner, :], pool.keep[:, -1, :].astype(np.int64)], axis=1)
    _, first = np.unique(keys[ranking], axis=0, return_index=True)
    leaders = ranking[np.sort(first)][: count // 2]
    rest = ranking[~np.isin(ranking, leaders)][: count - len(leaders)]
    return np.concatenate([leaders, rest])


def _kick(problem: MapProblem, resolved: Resolved, batch: Batch, moves: int, rng: np.random.Generator) -> Batch:
    """Each candidate after ``moves`` random legal moves (a perturbation to leave a local optimum)."""
    current = batch.take(np.arange(len(batch)))
    for _ in range(moves):
        near, owner = neighbours_batch(problem, resolved, current)
        counts = np.bincount(owner, minlength=len(current))
        draws = rng.random(len(current))
        has = np.flatnonzero(counts)
        pick = (np.cumsum(counts) - counts)[has] + np.minimum((draws[has] * counts[has]).astype(np.int64), counts[has] - 1)
        chosen = near.take(pick)
        current.factors[has], current.orders[has], current.keep[has] = chosen.factors, chosen.orders, chosen.keep
    return current


def _iterated_descent(problem: MapProblem, resolved: Resolved, prices: Prices, objective: str, starts: Batch,
                      settings: SearchSettings, rng: np.random.Generator) -> tuple[Batch, int]:
    """Descend from every start, then ``kicks`` times perturb the ``kick_starts`` best optima and descend again,
    keeping every optimum found. Returns all optima and how many candidates were estimated."""
    optima, estimated = _descend(problem, resolved, prices, objective, starts, settings.descend_steps)
    for _ in range(settings.kicks):
        optima = unique(problem, optima)
        energy, cycles = estimate(problem, prices, optima.factors, optima.orders, optima.keep)
        best = optima.take(np.lexsort((cycles, energy, _score(objective, energy, cycles)))[: settings.kick_starts])
        found, count = _descend(problem, resolved, prices, objective, _kick(problem, resolved, best, settings.kick_moves, rng),
                                settings.descend_steps)
        optima, estimated = Batch.concat([optima, found]), estimated + count
    return unique(problem, optima), estimated


def _busiest_least_energy(problem: MapProblem, resolved: Resolved, prices: Prices, pool: Batch,
                          settings: SearchSettings, rng: np.random.Generator) -> tuple[Batch, int]:
    """Least-energy candidates among those that keep the most compute units busy: an iterated descent on
    energy, constrained to the pool's highest spatial utilisation, from the least-energy samples that reach
    it. Latency and EDP searches add these (the fewest compute cycles at the least energy, which their own
    descents, trading energy against cycles, can miss). Returns them best first and how many were estimated."""
    utilisation = problem.utilisation(pool.factors)
    busiest = float(utilisation.max())
    rows = np.flatnonzero(utilisation >= busiest - 1e-12)
    busy = pool.take(rows)
    energy, cycles = estimate(problem, prices, busy.factors, busy.orders, busy.keep)
    starts = busy.take(_diverse_starts(problem, busy, np.lexsort((cycles, energy)), settings.descend_starts))
    constrained = replace(resolved, min_utilisation=max(resolved.min_utilisation, busiest))
    optima, count = _iterated_descent(problem, constrained, prices, "energy", starts, settings, rng)
    energy, cycles = estimate(problem, prices, optima.factors, optima.orders, optima.keep)
    return optima.take(np.lexsort((cycles, energy))), count + len(rows)


def _refine(problem: MapProblem, resolved: Resolved, prices: Prices, run: _Evaluator, starts: Batch,
            settings: SearchSettings, seen: set[bytes]) -> int:
    """Local search from each start, round robin, until no start improves or the budget is spent."""
    estimated = 0
    current = [(run(starts.factors[b], starts.orders[b], starts.keep[b]), starts.take([b])) for b in range(len(starts))]
    active = list(range(len(current)))
    spent = 0
    while active and spent < settings.refine_evaluations:
        still = []
        for s in active:
            (rank, _), cand = current[s]
            near = unique(problem, neighbours(problem, resolved, cand.factors[0], cand.orders[0], cand.keep[0]), seen)
            if len(near) == 0:
                continue
            energy, cycles = estimate(problem, prices, near.factors, near.orders, near.keep)
            estimated += len(near)
            order = np.lexsort((cycles, energy, _score(run.objective, energy, cycles)))[: settings.refine_top]
            best_rank, best_b = rank, None
            for b in order:
                result = run(near.factors[b], near.orders[b], near.keep[b])
                spent += 1
                if result[0] < best_rank:
                    best_rank, best_b = result[0], b
            if best_b is not None:
                current[s] = ((best_rank, None), near.take([best_b]))
                still.append(s)
            if spent >= settings.refine_evaluations:
                break
        active = still
    return estimated


def counting(compat: str) -> Callable[..., LoopNestStats]:
    """The analysis of a counting convention: ``ideal`` (the closed form) or ``timeloop`` (Timeloop's rules).

    Raises
    ------
    InputError
        An unknown convention.
    UnsupportedError
        ``timeloop`` when its module is not installed.
    """
    if compat == "ideal":
        return lambda spec, nest, mapping: evaluate(spec, nest, mapping, check=False)
    if compat == "timeloop":
        try:
            from energysim.engines.loopnest.timeloop_compat import evaluate as evaluate_timeloop
        except ImportError:
            raise UnsupportedError("mapper: compat 'timeloop' counting is not available in this build") from None
        return lambda spec, nest, mapping: evaluate_timeloop(spec, nest, mapping, check=False)
    raise InputError(f"mapper: compat must be 'ideal' or 'timeloop' (got {compat!r})")


def map_nest(spec: Spec, nest: LoopNest, constraints: MapperConstraints | None = None, objective: str = "energy",
             seed: int = 0, settings: SearchSettings | None = None, progress: bool | None = None,
             compat: str | None = None, occupancy: Callable[[int, str, np.ndarray], np.ndarray] | None = None) -> MapResult:
    """The best mapping of a loop nest on a loop-nest hardware (see the module docstring).

    Parameters
    ----------
    spec
        The loop-nest hardware.
    nest
        The layer's loop nest.
    constraints
        What the mapper may choose (default: anything legal, keep as the hardware says).
    objective
        ``energy`` (pJ), ``latency`` (cycles) or ``edp`` (pJ x cycles).
    seed
        Seed of every random draw.
    settings
        Search effort (default :class:`SearchSettings`).
    progress
        Show a progress bar on stderr (None: only when stderr is a terminal).
    compat
        Counting convention the candidates are evaluated with, ``ideal`` or
        ``timeloop`` (default: the hardware's ``engine.compat``); the estimate that
        ranks them is the same for both.
    occupancy
        Words a tile really occupies, ``occupancy(level index, tensor, dense words)``
        (vectorised, with a hashable ``key`` for the cache), for the capacity checks of a
        design that stores compressed tiles; None: dense footprints.

    Raises
    ------
    InputError
        An unknown objective or convention, constraints that do not fit the layer
        or the hardware, or a map space with no legal mapping.
    UnsupportedError
        ``timeloop`` counting when its module is not installed.
    """
    if objective not in OBJECTIVES:
        raise InputError(f"mapper: objective must be one of {', '.join(OBJECTIVES)} (got {objective!r})")
    constraints = constraints or MapperConstraints()
    settings = settings or SearchSettings()
    compat = compat or spec.config.compat
    analyse = counting(compat)
    key = _cache_key(spec, nest, constraints, objective, seed, settings) + compat
    if occupancy is not None:
        key += repr(occupancy.key)
    if key in _CACHE:
        return replace(_CACHE[key], layer=nest.name, cached=True)
    start, cpu = time.perf_counter(), time.process_time()
    problem = problem_of(spec, nest, occupancy)
    resolved = resolve(constraints, problem)
    rng = np.random.default_rng(seed)
    prices = prices_of(spec)
    from energysim.progress import progress_bar

    everything = enumerate_all(problem, resolved, settings.exhaustive_limit)
    total = len(everything) if everything is not None else \
        2 * settings.evaluate_top + settings.refine_evaluations + settings.refine_starts + 1
    with progress_bar(total, f"map {nest.name}", progress) as bar:
        bar.unit = "mapping"
        run = _Evaluator(problem, spec, nest, objective, bar, analyse)
        baselines: dict[str, Baseline] = {}
        estimated = 0
        if everything is not None:
            strategy = "exhaustive"
            run.batch(everything)
        else:
            strategy = "sampled"
            seen: set[bytes] = set()
            pool = sample(problem, resolved, settings.samples, rng)
            pool = unique(problem, pool, seen)
            if len(pool) == 0:
                raise InputError(f"mapper: no legal mapping of layer '{nest.name}' on '{spec.hardware.name}' "
                                 f"under the constraints (sampled {settings.samples} candidates, none fits)")
            energy, cycles = estimate(problem, prices, pool.factors, pool.orders, pool.keep)
            estimated = len(pool)
            baselines["random"] = _baseline("random", run.batch(pool.take(np.arange(min(settings.evaluate_top, len(pool))))))
            ranking = np.lexsort((cycles, energy, _score(objective, energy, cycles)))
            top = pool.take(ranking[: settings.evaluate_top])
            baselines["estimate"] = _baseline("estimate", run.batch(top))
            optima, count = _iterated_descent(problem, resolved, prices, objective,
                                              pool.take(_diverse_starts(problem, pool, ranking, settings.descend_starts)),
                                              settings, rng)
            estimated += count
            if objective != "energy":
                busy, count = _busiest_least_energy(problem, resolved, prices, pool, settings, rng)
                run.batch(unique(problem, busy.take(np.arange(min(settings.refine_starts, len(busy)))), seen))
                optima, estimated = Batch.concat([optima, busy]), estimated + count
            energy, cycles = estimate(problem, prices, optima.factors, optima.orders, optima.keep)
            optima = optima.take(np.lexsort((cycles, energy, _score(objective, energy, cycles))))
            fresh = unique(problem, optima, seen)
            run.batch(fresh.take(np.arange(min(settings.evaluate_top, len(fresh)))))
            ranked = sorted(run.done.values(), key=lambda item: item[0])[: settings.refine_starts]
            starts = Batch.concat([_as_batch(problem, stats.mapping) for _, stats in ranked])
            estimated += _refine(problem, resolved, prices, run, starts, settings, seen)
        bar.total = len(run.done)  # the search stops when it stops improving: show what it did
        bar.refresh()
        if run.best is None:
            raise InputError(f"mapper: no legal mapping of layer '{nest.name}' on '{spec.hardware.name}' under the constraints")
        try:
            default = analyse(spec, nest, default_mapping(spec, nest))
            baselines = {"default": Baseline("default", default.energy_pj, default.cycles_total, default.mapping.describe()),
                         **baselines}
        except ConfigError:  # no default mapping fits this hardware: no such baseline
            pass
    _, stats = run.best
    result = MapResult(
        layer=nest.name, hardware=spec.hardware.name, objective=objective, mapping=stats.mapping, stats=stats,
        strategy=strategy, evaluated=len(run.done), estimated=estimated, space_size=space_size(problem, resolved),
        baselines=baselines, seed=seed, wall_s=time.perf_counter() - start, cpu_s=time.process_time() - cpu,
    )
    _CACHE[key] = result
    return result


def _cache_key(spec: Spec, nest: LoopNest, constraints: MapperConstraints, objective: str, seed: int,
               settings: SearchSettings) -> str:
    hw = spec.hardware
    return json.dumps({
        "nest": [sorted(nest.bounds.items()), nest.stride_h, nest.stride_w, nest.dilation_h, nest.dilation_w,
                 nest.a_is_activation],
        "levels": [level.level.config.model_dump(mode="json") for level in spec.levels],
        "costs": [[level.name, {a: c.energy_pj for a, c in level.level.costs.items()}] for level in spec.levels],
        "units": sorted([name, action, entry.energy_pj] for (name, action), entry in hw.unit_costs.items()),
        "engine": spec.config.model_dump(mode="json"),
        "constraints": constraints.model_dump(mode="json"), "objective": objective, "seed": seed,
        "settings": settings.__dict__,
    }, sort_keys=True)


def spec_of(hardware: Hardware) -> Spec:
    """The loop-nest view of a hardware.

    Raises
    ------
    ConfigError
        If the hardware's ``[engine]`` table is not a valid loop-nest engine table.
    """
    config = validate_model(LoopNestConfig, hardware.engine_table, hardware.path or hardware.name, prefix="engine")
    return Spec.build(hardware, config)


def map_layer(hardware: Hardware, layer, constraints: MapperConstraints | None = None, objective: str = "energy",
              seed: int = 0, settings: SearchSettings | None = None, progress: bool | None = None) -> MapResult:
    """The best mapping of one workload layer on a loop-nest hardware (see :func:`map_nest`)."""
    return map_nest(spec_of(hardware), layer.loop_nest(), constraints, objective, seed, settings, progress)


def _map_one(args: tuple) -> MapResult:
    return map_layer(*args)


def map_workload(hardware: Hardware, layers, constraints: MapperConstraints | None = None, objective: str = "energy",
                 seed: int = 0, settings: SearchSettings | None = None, processes: int = 1,
                 progress: bool | None = None) -> list[MapResult]:
    """The best mapping of every layer (a workload or its ``layers``), in order.

    Layers with the same loop nest are searched once (the others are cache hits).

    Parameters
    ----------
    constraints
        The search's constraints; None: the hardware's own ``[engine.mapper]`` table (as ``run``
        searches), or none when it has no such table.
    processes
        Worker processes; distinct layers are mapped in parallel when > 1 (each
        layer's search is the one a single process runs, so results do not depend on it);
        at most :data:`energysim.limits.PROCESSES`, and never more than the layers to search.

    See :func:`map_nest` for the other parameters.
    """
    from energysim.limits import PROCESSES

    layers = list(getattr(layers, "layers", layers))
    if processes < 1:
        raise InputError(f"mapper: processes must be >= 1 (got {processes})")
    PROCESSES.check("processes", processes)
    spec = spec_of(hardware)
    constraints, settings = constraints or spec.config.mapper, settings or SearchSettings()
    keys = [_cache_key(spec, layer.loop_nest(), constraints, objective, seed, settings) + spec.config.compat
            for layer in layers]
    from energysim.progress import progress_bar

    with progress_bar(len(layers), f"map {hardware.name}", progress) as bar:
        results: list[MapResult | None] = [None] * len(layers)
        todo = [i for i, key in enumerate(keys) if key not in _CACHE and key not in keys[:i]]
        if processes > 1 and len(todo) > 1:
            with ProcessPoolExecutor(max_workers=min(processes, len(todo)), initializer=init_worker,
                                     initargs=(os.getpid(),)) as pool:
                jobs = [(hardware, layers[i], constraints, objective, seed, settings, False) for i in todo]
                for i, result in zip(todo, pool.map(_map_one, jobs)):
                    results[i] = _CACHE[keys[i]] = result
                    bar.update(1)
        for i, layer in enumerate(layers):
            if results[i] is None:
                results[i] = map_layer(hardware, layer, constraints, objective, seed, settings, False)
                bar.update(1)
    return results
