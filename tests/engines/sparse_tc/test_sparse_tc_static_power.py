"""The A100's static energy is its static power x time: the SM.static_cycle cost follows the run's clock (finding F12)."""

from __future__ import annotations

import math

import pytest

from energysim import api
from energysim.engines.sparse_tc.engine import STATIC_UNIT

WORKLOAD = "lenet-300-100"


def energy_by_kind(run) -> dict[str, float]:
    """A run's static and dynamic energy, pJ (sums of its energy rows)."""
    kinds = run.energy.groupby("energy_kind")["energy_pj"].apply(math.fsum)
    return {"static": float(kinds["static"]), "dynamic": float(kinds["dynamic"])}


def test_default_clock_run_is_unchanged():
    """lenet-300-100 on a100 at its 1.41 GHz: the totals measured before static energy became power x time.

    Pinned from `energysim run a100 lenet-300-100` at 69c80ae (before F12's change): pricing the
    static part as a power must leave the default-clock figures exactly as they were.
    """
    run = api.simulate("a100", WORKLOAD)
    kinds = energy_by_kind(run)
    assert run.totals()["cycles_total"] == 4698
    assert run.totals()["latency_s"] == pytest.approx(3.331914893617021e-06, rel=1e-12)
    assert kinds["static"] == pytest.approx(1034789372.64, rel=1e-12)
    assert kinds["dynamic"] == pytest.approx(23049352.64, rel=1e-12)
    assert run.totals()["energy_pj"] == pytest.approx(1057838725.28, rel=1e-12)


def test_default_clock_static_cost_is_the_derived_figure():
    """At 1.41 GHz one SM-cycle of static power costs the 2039.46 pJ of the board-power derivation (hwconfigs/a100.toml)."""
    assert api.hardware("a100").cost_of(*STATIC_UNIT).energy_pj == pytest.approx(2039.46, rel=1e-12)
