"""Issue 11's mapper targets on lecture-array-loopnest (default settings, seed 0): slow, run with -m slow."""

from __future__ import annotations

import pytest

from energysim.api import workload
from energysim.catalog import hwconfig_path
from energysim.engines.loopnest.mapper import map_layer
from energysim.engines.loopnest.mapper_constraints import MapperConstraints
from energysim.hardware.hierarchy import load_hardware


def _layer(name: str):
    if name == "gemm1024":
        return next(l for l in workload("gemm-square").layers if l.name == name)
    return next(l for l in workload("vgg16").layers if l.name == name)


@pytest.mark.slow
@pytest.mark.parametrize("name, constraints, peer_mj", [
    ("conv3_1", MapperConstraints(min_utilisation=1.0), 12.1),   # AccelForge 1.0.467, EDP search; ZigZag 16.0
    ("gemm1024", MapperConstraints(), 22.0),                     # AccelForge, every level keeps every tensor
    ("gemm1024", MapperConstraints(allow_bypass=True), 16.6),    # AccelForge with bypass
])
def test_mapper_matches_or_beats_the_peers(name: str, constraints: MapperConstraints, peer_mj: float) -> None:
    """The energy found is at most the peer's figure, compared at the peer's precision (0.1 mJ)."""
    hw = load_hardware(hwconfig_path("lecture-array-loopnest"))
    result = map_layer(hw, _layer(name), constraints, "energy", seed=0, progress=False)
    assert round(result.energy_pj * 1e-9, 1) <= peer_mj
    if constraints.min_utilisation == 1.0:
        assert result.stats.spatial_utilisation == 1.0


@pytest.mark.slow
@pytest.mark.parametrize("name, constraints", [
    ("conv1_1", MapperConstraints()),
    ("conv2_2", MapperConstraints()),
    ("conv3_1", MapperConstraints(min_utilisation=1.0)),
    ("conv5_1", MapperConstraints()),
    ("gemm1024", MapperConstraints(allow_bypass=True)),
])
def test_energy_search_is_never_beaten_by_the_edp_search(name: str, constraints: MapperConstraints) -> None:
    """On real layers (default settings, seed 0) the energy search's energy is at most the EDP search's, and
    the EDP search's energy-delay product at most the energy search's."""
    hw = load_hardware(hwconfig_path("lecture-array-loopnest"))
    energy = map_layer(hw, _layer(name), constraints, "energy", seed=0, progress=False)
    edp = map_layer(hw, _layer(name), constraints, "edp", seed=0, progress=False)
    assert energy.energy_pj <= edp.energy_pj
    assert edp.edp_pj_cycles <= energy.edp_pj_cycles
