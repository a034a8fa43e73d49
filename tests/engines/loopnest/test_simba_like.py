"""The bundled Simba-like design: its geometry, and a conv mapped on it by the mapper with sane results."""

from __future__ import annotations

import pytest

import energysim
from energysim.engines import build_engine
from energysim.engines.loopnest.mapper import SearchSettings, map_layer
from energysim.engines.loopnest.mapping import check_mapping
from energysim.workloads.layers import Conv2dLayer

QUICK = SearchSettings(samples=4000, descend_starts=32, kicks=2, kick_starts=8, refine_evaluations=200)
"""A lighter search than the default, for the default test suite."""


def test_simba_like_geometry() -> None:
    """16 PEs x 4 lanes x 4 MACs = 256 MACs; each level keeps the tensors Timeloop's simba_like keeps; every cost has a source."""
    hw = energysim.hardware("simba-like")
    spec = build_engine(hw).spec
    assert spec.macs_peak_per_cycle == 256
    assert [(level.name, level.instances) for level in spec.levels] == [
        ("DRAM", 1), ("GlobalBuffer", 1), ("PEInputBuffer", 16), ("PEWeightBuffer", 64), ("PEAccuBuffer", 64),
        ("PEWeightRegs", 256)]
    assert [hw.level(name).config.holds for name in ("GlobalBuffer", "PEInputBuffer", "PEWeightBuffer", "PEAccuBuffer")] \
        == [("inputs", "outputs"), ("inputs",), ("weights",), ("outputs",)]
    assert all(row["source"] for row in hw.cost_rows())
    assert "simba-like" in energysim.catalog.hwconfig_names()


@pytest.mark.parametrize("settings", [QUICK, pytest.param(None, marks=pytest.mark.slow)])
def test_simba_like_maps_a_conv_with_every_mac_busy(settings: SearchSettings | None) -> None:
    """A 3x3 conv (VGG-16 conv4_1's shape at 14 x 14) maps legally under the file's constraints, every MAC busy,
    below the default mapping's energy, MAC energy = MACs x (8-bit multiply + 24-bit add), DRAM traffic >= compulsory."""
    hw = energysim.hardware("simba-like")
    engine = build_engine(hw)
    layer = Conv2dLayer(name="conv", in_channels=256, out_channels=512, in_height=14, in_width=14,
                        kernel_height=3, kernel_width=3, padding=1)
    result = map_layer(hw, layer, engine.config.mapper, settings=settings, progress=False)
    check_mapping(engine.spec, layer.loop_nest(), result.mapping, "simba-like mapping")
    levels = {level.name: level for level in result.mapping.levels}
    assert {d for d, _ in levels["GlobalBuffer"].spatial_x} <= {"K", "C"}
    assert {d for d, _ in levels["PEInputBuffer"].spatial_y} <= {"K"}
    assert {d for d, _ in levels["PEAccuBuffer"].spatial_y} <= {"C"}
    assert result.stats.spatial_utilisation == 1.0
    assert result.energy_pj < result.baselines["default"].energy_pj
    macs = 512 * 256 * 14 * 14 * 9
    assert result.stats.energy_by_component["MAC"] == pytest.approx(macs * (0.2 + 0.075))
    counts = result.stats.counts
    assert counts[("DRAM", "weights", "read")] >= 512 * 256 * 9
    assert counts[("DRAM", "inputs", "read")] >= 256 * 14 * 14
    assert counts.get(("DRAM", "outputs", "write"), 0) + counts.get(("DRAM", "outputs", "update"), 0) >= 512 * 14 * 14
    assert ("GlobalBuffer", "weights", "read") not in counts
