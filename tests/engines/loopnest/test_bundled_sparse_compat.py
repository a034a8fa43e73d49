"""Every bundled sparse loop-nest design runs under both counting conventions on a pruned workload."""

from __future__ import annotations

import pytest

from energysim import api

SPARSE_DESIGNS = ("eyeriss-like-gating", "eyeriss-v2-like-skipping", "eie-like-loopnest", "sparse-tc-like-2-4")


@pytest.mark.parametrize("design", SPARSE_DESIGNS)
@pytest.mark.parametrize("compat", ["ideal", "timeloop"])
def test_bundled_sparse_design_runs_under_each_convention(design, compat):
    """A bundled sparse design prices every action its convention counts (compat timeloop once refused 3 of 4)."""
    run = api.simulate(design, "lenet-300-100-han2015", mapping="default", compat=compat)
    assert run.totals()["energy_pj"] > 0 and len(run.results) == 3
