"""The mapper counts its map space without listing it, so a dimension with many prime factors costs no memory."""

from __future__ import annotations

import math
import tracemalloc

import pytest

from conftest import make_spec
from energysim.engines.loopnest.mapper import problem_of
from energysim.engines.loopnest.mapper_constraints import MapperConstraints, resolve
from energysim.engines.loopnest.mapper_search import _keep_choices, enumerate_all, factor_options, space_size
from energysim.engines.loopnest.mapper_space import factorisation_count, ordered_factorisations
from energysim.workloads.loop_nest import LoopNest

COMPOSITE = 2**3 * 3**2 * 5 * 7 * 11 * 13 * 17 * 19
"""1,163,962,800: a valid dimension (under 2**31) with 768 divisors, 8.2 million ordered splits over five slots."""


def _array_spec():
    """DRAM -> a 512-word buffer -> 4 x 4 register files of 8 words (powers-of-ten costs)."""
    return make_spec([
        {"name": "DRAM"},
        {"name": "Buffer", "capacity_bytes": 2048},
        {"name": "RegFile", "capacity_bytes": 32, "mesh_x": 4, "mesh_y": 4},
    ])


@pytest.mark.parametrize("n", [1, 2, 12, 97, 720, 65536])
@pytest.mark.parametrize("parts", [1, 2, 3, 5])
def test_factorisation_count_is_the_number_of_ordered_factorisations(n: int, parts: int) -> None:
    """The closed-form count equals the length of the listed factorisations."""
    assert factorisation_count(n, parts) == len(ordered_factorisations(n, parts))


def test_space_size_is_the_product_of_the_listed_options() -> None:
    """On a small layer the counted space equals keep choices x the listed options of every dimension."""
    spec = _array_spec()
    problem = problem_of(spec, LoopNest.of("small", K=12, C=8, P=6, R=3))
    resolved = resolve(MapperConstraints(), problem)
    listed = len(_keep_choices(resolved)) * math.prod(len(o) for o in factor_options(problem, resolved))
    assert space_size(problem, resolved) == listed


def test_a_dimension_with_many_prime_factors_is_counted_in_little_memory() -> None:
    """K = 1,163,962,800: counting its space and declining the exhaustive search hold under 5 MB (listing took GBs)."""
    spec = _array_spec()
    problem = problem_of(spec, LoopNest.of("composite", K=COMPOSITE))
    resolved = resolve(MapperConstraints(), problem)
    tracemalloc.start()
    try:
        size = space_size(problem, resolved)
        everything = enumerate_all(problem, resolved, limit=3000)
        peak_bytes = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert everything is None
    assert size >= factorisation_count(COMPOSITE, 5) > 8_000_000
    assert peak_bytes < 5 * 2**20
