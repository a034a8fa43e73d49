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
    """On lenet-300-100, bound on chip at both clocks, c / 2 keeps every count, doubles latency and static energy
    exactly and keeps dynamic energy (an HBM-bound layer does not double: see the GB/s tests below)."""
    _, full, half = runs_at_clock_and_half
    assert all(r.stats["bound"] != "hbm" for run in (full, half) for r in run.results)  # the premise of doubling
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


HBM_GBPS = 1555.2
"""The A100 40 GB's HBM bandwidth, GB/s, as hwconfigs/a100.toml gives it (bandwidth_gbps)."""


@pytest.fixture(scope="module")
def gemms_at_clock_and_half():
    """The a100-gemms layers on a100 at 1.41 GHz and at 0.705 GHz, dense, hardware bound, by layer name."""
    full, half = api.hardware_variants("a100", {"clock_ghz": [1.41, 0.705]})
    return ({r.layer: r for r in api.simulate(full, "a100-gemms").results},
            {r.layer: r for r in api.simulate(half, "a100-gemms").results})


@pytest.mark.parametrize("clock_ghz", [1.41, 0.705, 2.0])
def test_hbm_bandwidth_is_fixed_in_gbps(clock_ghz):
    """The HBM's words per cycle x 32 B x the clock is 1555.2 GB/s at any --set clock_ghz (not at the file's clock only)."""
    (hardware,) = api.hardware_variants("a100", {"clock_ghz": [clock_ghz]})
    hbm = hardware.hardware.levels[0]
    assert hbm.name == "HBM" and hbm.config.word_bits == 256
    assert hbm.config.bandwidth_words_per_cycle * 32 * clock_ghz == pytest.approx(HBM_GBPS, rel=1e-11)


def test_compute_bound_layer_doubles_in_time_at_half_clock(gemms_at_clock_and_half):
    """The math-bound 3072x3072x10240 GEMM keeps its cycles at half the clock, so its latency doubles exactly."""
    full, half = (runs["tut_3072x3072x10240"] for runs in gemms_at_clock_and_half)
    assert full.stats["bound"] == half.stats["bound"] == "math"
    assert half.cycles == full.cycles
    assert half.stats["figures"]["hardware_bound"]["latency_s"] == \
        pytest.approx(2 * full.stats["figures"]["hardware_bound"]["latency_s"], rel=1e-12)


def test_hbm_bound_layer_keeps_its_hbm_time_in_seconds(gemms_at_clock_and_half):
    """The HBM-bound 4096x4096 GEMV: at half the clock its HBM time halves in cycles (the same seconds), its body is
    that time rounded up, and its latency is far below double (only the fill and drain, in cycles, double)."""
    full, half = (runs["gemv_4096x4096"] for runs in gemms_at_clock_and_half)
    assert full.stats["bound"] == half.stats["bound"] == "hbm" and full.stats["waves"] == half.stats["waves"] == 1
    assert full.stats["hbm_bytes"] == half.stats["hbm_bytes"]
    hbm_bytes = sum(full.stats["hbm_bytes"].values())
    for run, ghz in ((full, 1.41), (half, 0.705)):
        hbm_cycles = run.stats["resource_cycles"]["hbm"]
        assert hbm_cycles == pytest.approx(hbm_bytes / (HBM_GBPS / ghz), rel=1e-9)  # bytes / (bytes per cycle)
        body = run.cycles["total"] - run.stats["cycles_fill"] - run.stats["cycles_drain"]
        assert body == math.ceil(hbm_cycles)
    assert half.stats["resource_cycles"]["hbm"] / 0.705 == pytest.approx(full.stats["resource_cycles"]["hbm"] / 1.41,
                                                                         rel=1e-9)
    fill_drain = full.stats["cycles_fill"] + full.stats["cycles_drain"]
    assert half.stats["cycles_fill"] + half.stats["cycles_drain"] == fill_drain
    ratio = half.stats["figures"]["hardware_bound"]["latency_s"] / full.stats["figures"]["hardware_bound"]["latency_s"]
    assert ratio == pytest.approx((2 * fill_drain + math.ceil(half.stats["resource_cycles"]["hbm"]) * 2)
                                  / (fill_drain + math.ceil(full.stats["resource_cycles"]["hbm"])), rel=1e-12)
    assert ratio < 1.1
