"""The dense engine's tiler: closed-form counts equal the fast path's, the search is complete over its space, targets."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import energysim
from energysim.catalog import hwconfig_path
from energysim.engines.dense.fast import run_fast
from energysim.engines.dense.schedule import Tiling, input_words_once
from energysim.engines.dense.tiler import candidates, choose_tiling, input_words_many, tiling_counts
from energysim.engines import build_engine
from energysim.errors import InputError
from energysim.hardware_settings import variant
from energysim.workloads.layers import Conv2dLayer, GemmLayer
from energysim.workloads.lowering import ConvFootprint
from energysim.workloads.workload import Workload
from tests.conftest import make_dense_hw

LAYERS = [
    GemmLayer(name="g", m=37, n=50, k=29),
    Conv2dLayer(name="c", in_channels=5, out_channels=12, in_height=9, in_width=7, kernel_height=3, kernel_width=2,
                stride=2, padding=1, batch=3),
    Conv2dLayer(name="c3", in_channels=4, out_channels=8, in_height=8, in_width=8, kernel_height=3, kernel_width=3,
                padding=1, batch=2),
]


@pytest.mark.parametrize("dataflow", ["output_stationary", "weight_stationary"])
@pytest.mark.parametrize("layer", LAYERS, ids=lambda layer: layer.name)
def test_closed_form_counts_equal_the_fast_path(dataflow, layer):
    """Every (level, tensor, action) count of the tiler's closed form equals run_fast's, on a grid of tilings."""
    shape, footprint = layer.gemm_shape(), ConvFootprint.of(layer)
    grid = list(itertools.product((1, 3, 8, shape.m), (1, 4, 7, shape.n), (1, 2, 9, shape.k)))
    tm, tn, tk = (np.array(values) for values in zip(*grid))
    closed = tiling_counts(shape.m, shape.n, shape.k, tm, tn, tk, 3, 4, dataflow, footprint)
    for index, (a, b, c) in enumerate(grid):
        raw = run_fast(shape.m, shape.n, shape.k, Tiling(a, b, c), footprint, 3, 4, dataflow, 2.0, 1.0)
        mine = {key: int(values[index]) for key, values in closed.items() if values[index]}
        assert mine == {key: value for key, value in raw.counts.items() if value}, (a, b, c)


def test_vectorised_input_words_equal_the_scalar_sum():
    """input_words_many equals input_words_once (the per-class scalar sum) for every tiling of a batched strided conv."""
    layer = LAYERS[1]
    shape, footprint = layer.gemm_shape(), ConvFootprint.of(layer)
    grid = list(itertools.product((1, 4, 6, 9, 45, shape.k), (1, 7, 13, 16, 200, shape.n)))
    tk, tn = (np.array(values) for values in zip(*grid))
    many = input_words_many(shape.k, shape.n, tk, tn, footprint)
    assert many.tolist() == [input_words_once(shape.k, shape.n, a, b, footprint) for a, b in grid]


def _memory_energy_pj(result, hw) -> float:
    return sum(count * hw.cost_of(level, action).energy_pj for (level, _, action), count in result.counts.items()
               if level != "MAC")


@pytest.mark.parametrize("dataflow", ["output_stationary", "weight_stationary"])
@pytest.mark.parametrize("layer", LAYERS[:2], ids=lambda layer: layer.name)
def test_search_is_exhaustive_over_its_space(dataflow, layer):
    """No tiling with mapped sides a multiple of the array side (or the extent) that fits double-buffered beats the energy choice.

    Brute force over every such (Mt, Nt, Kt), priced by the closed form (equal to the
    fast path's counts, above); the engine's (default, edp) tiling's estimate is its
    real memory energy.
    """
    rows, cols, capacity = 3, 4, 400
    hw = make_dense_hw(rows, cols, dataflow, sram_bytes=4 * capacity)
    engine = build_engine(hw)
    shape, footprint = layer.gemm_shape(), ConvFootprint.of(layer)
    default = choose_tiling(shape.m, shape.n, shape.k, rows, cols, dataflow, capacity, engine.prices, 16.0, footprint, "edp")
    chosen = engine.simulate(layer)
    assert (chosen.stats["tile_m"], chosen.stats["tile_n"], chosen.stats["tile_k"]) == tuple(vars(default.tiling).values())
    assert _memory_energy_pj(chosen, hw) == pytest.approx(default.energy_pj, rel=1e-12)
    choice = choose_tiling(shape.m, shape.n, shape.k, rows, cols, dataflow, capacity, engine.prices, 16.0, footprint, "energy")
    base_m, base_n, base_k = (rows, cols, 1) if dataflow == "output_stationary" else (cols, 1, rows)

    def sides(extent: int, base: int) -> list[int]:
        return sorted({*range(base, extent + 1, base), extent}) if base > 1 else list(range(1, extent + 1))

    tm, tn, tk = candidates(shape.m, shape.n, shape.k, rows, cols, dataflow, capacity, footprint)
    grid = np.array([(a, b, c) for a, b, c in itertools.product(sides(shape.m, base_m), sides(shape.n, base_n),
                                                              sides(shape.k, base_k))
                     if 2 * (a * c + c * b + a * b) <= capacity])
    counts = tiling_counts(shape.m, shape.n, shape.k, grid[:, 0], grid[:, 1], grid[:, 2], rows, cols, dataflow, footprint)
    best = min(sum(value * engine.prices[(role, action)] for (role, _, action), value in counts.items()))
    assert choice.energy_pj == pytest.approx(best, rel=1e-12)
    assert tm.size == choice.candidates


def test_objectives_rank_as_named():
    """The energy objective's tiling spends no more energy, the latency objective's no more estimated cycles."""
    engine = build_engine(energysim.hardware("lecture-array"))
    picks = {objective: choose_tiling(512, 784, 1152, 16, 16, "output_stationary", 32768, engine.prices, 16.0,
                                      objective=objective) for objective in ("energy", "latency", "edp")}
    assert picks["energy"].energy_pj <= min(p.energy_pj for p in picks.values())
    assert picks["latency"].cycles <= min(p.cycles for p in picks.values())
    edp = {name: p.energy_pj * p.cycles for name, p in picks.items()}
    assert edp["edp"] <= min(edp.values())


def test_gemm1024_reaches_the_peer_figure():
    """Issue 11: 1024^3 on lecture-array, energy objective, at most AccelForge's 27.4 mJ (the old tiler: 34.6)."""
    hw = variant(hwconfig_path("lecture-array"), {"engine.tiling_objective": "energy"})
    run = energysim.simulate(hw, Workload("g", (GemmLayer(name="g", m=1024, n=1024, k=1024),)))
    assert round(run.summary["energy_pj"].iloc[0] * 1e-9, 1) <= 27.4


def test_default_edp_cuts_energy_without_slowing_down():
    """The default (edp) on lecture-array: 1024^3 under the old tiler's 34.6 mJ within 3 % of its 6.16 ms; VGG-16 under its 432 mJ and 105 ms."""
    gemm = energysim.simulate("lecture-array", Workload("g", (GemmLayer(name="g", m=1024, n=1024, k=1024),))).summary
    assert gemm["energy_pj"].iloc[0] * 1e-9 < 34.6 and gemm["latency_s"].iloc[0] * 1e3 < 6.16 * 1.03
    vgg = energysim.simulate("lecture-array", "vgg16").summary
    assert vgg["energy_pj"].sum() * 1e-9 < 432 and vgg["latency_s"].sum() * 1e3 < 105


def test_unknown_objective_is_refused_in_one_line():
    """A tiling_objective outside energy/latency/edp is refused naming the file, the field, the choices and the value."""
    with pytest.raises(InputError, match=r"lecture-array\.toml: engine\.tiling_objective: must be 'energy', 'latency' or "
                                         r"'edp' \(got 'fast'\)"):
        variant(hwconfig_path("lecture-array"), {"engine.tiling_objective": "fast"})
