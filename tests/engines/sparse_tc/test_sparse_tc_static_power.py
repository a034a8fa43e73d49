"""The A100's static energy is its static power x time: the SM.static_cycle cost follows the run's clock (finding F12)."""

from __future__ import annotations

import math

import pytest

from energysim import api
from energysim.catalog import hwconfig_path
from energysim.config.loading import load_toml
from energysim.engines.sparse_tc.engine import STATIC_UNIT

WORKLOAD = "lenet-300-100"


def static_power_w() -> float:
    """The SM static power hwconfigs/a100.toml gives (W per SM)."""
    (unit,) = [u for u in load_toml(hwconfig_path("a100"))["units"] if (u["name"], u["action"]) == STATIC_UNIT]
    return unit["power_w"]


def energy_by_kind(run) -> dict[str, float]:
    """A run's static and dynamic energy, pJ (sums of its energy rows)."""
    kinds = run.energy.groupby("energy_kind")["energy_pj"].apply(math.fsum)
    return {"static": float(kinds["static"]), "dynamic": float(kinds["dynamic"])}


def test_default_clock_run_is_unchanged():
    """lenet-300-100 on a100 at its 1.41 GHz keeps the totals measured before static energy became power x time."""
    # Pinned from `energysim run a100 lenet-300-100` at 69c80ae (before F12's change): pricing the
    # static part as a power must leave the default-clock figures exactly as they were.
    run = api.simulate("a100", WORKLOAD)
    kinds = energy_by_kind(run)
    assert run.totals()["cycles_total"] == 4698
    assert run.totals()["latency_s"] == pytest.approx(3.331914893617021e-06, rel=1e-12)
    assert kinds["static"] == pytest.approx(108 * 4698 * 2039.46, rel=1e-12)   # SMs x cycles x pJ per SM-cycle
    assert kinds["dynamic"] == pytest.approx(23049352.64, rel=1e-12)
    assert run.totals()["energy_pj"] == pytest.approx(1057838725.28, rel=1e-12)


def test_default_clock_static_cost_is_the_derived_figure():
    """At 1.41 GHz one SM-cycle of static power costs the 2039.46 pJ of the board-power derivation (hwconfigs/a100.toml)."""
    assert api.hardware("a100").cost_of(*STATIC_UNIT).energy_pj == pytest.approx(2039.46, rel=1e-12)


@pytest.fixture(scope="module", params=[1.41, 1.0], ids=["1.41GHz", "1GHz"])
def runs_at_clock_and_half(request):
    """lenet-300-100 on a100 at a clock c and at c / 2 (`--set clock_ghz=...`), dense, hardware bound."""
    clock = request.param
    full, half = api.hardware_variants("a100", {"clock_ghz": [clock, clock / 2]})
    return clock, api.simulate(full, WORKLOAD), api.simulate(half, WORKLOAD)


def test_halving_the_clock_doubles_static_energy_and_keeps_dynamic(runs_at_clock_and_half):
    """At c / 2 every count is the same, latency and static energy double exactly, dynamic energy is unchanged."""
    _, full, half = runs_at_clock_and_half
    assert half.energy["count"].tolist() == full.energy["count"].tolist()
    assert half.totals()["latency_s"] == pytest.approx(2 * full.totals()["latency_s"], rel=1e-12)
    full_kinds, half_kinds = energy_by_kind(full), energy_by_kind(half)
    assert half_kinds["static"] == 2 * full_kinds["static"]
    assert half_kinds["dynamic"] == full_kinds["dynamic"]


def test_static_energy_is_static_power_times_latency(runs_at_clock_and_half):
    """Each layer's static energy is 108 SMs x the file's power_w x its latency, at any clock; the cost's source names the rule and clock."""
    clock, full, half = runs_at_clock_and_half
    power_w = static_power_w()
    for run, ghz in ((full, clock), (half, clock / 2)):
        static = run.energy[run.energy["energy_kind"] == "static"]
        by_layer = static.groupby("layer")["energy_pj"].apply(math.fsum)
        for row in run.summary.itertuples():
            assert by_layer[row.layer] == pytest.approx(108 * power_w * row.latency_s * 1e12, rel=1e-12)
        assert set(static["source"].str.split("; ").str[-1]) == {
            f"per cycle = static power x cycle time = {power_w} W x 1000 / {ghz} GHz = {power_w * 1e3 / ghz:.6g} pJ"}
