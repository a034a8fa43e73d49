"""Grouped convolutions on the dense array: the groups run one after another, each one group's GEMM."""

from __future__ import annotations

import pytest

import energysim
from energysim.engines import build_engine
from energysim.engines.dense.engine import one_group
from energysim.engines.result import check_invariants
from energysim.errors import UnsupportedError
from energysim.workloads.layers import GroupedConv2dLayer
from tests.conftest import make_dense_hw

LAYER = GroupedConv2dLayer(name="dw", groups=4, in_channels=8, out_channels=12, in_height=9, in_width=7,
                           kernel_height=3, kernel_width=3, stride=2, padding=1, batch=2)


@pytest.mark.parametrize("dataflow", ["output_stationary", "weight_stationary"])
def test_groups_are_one_group_times_the_groups(dataflow):
    """Counts, cycles and compulsory traffic are G times one group's conv2d; the fast path equals the cycle path."""
    engine = build_engine(make_dense_hw(4, 4, dataflow, sram_bytes=2048, sram_bw=4, dram_bw=2))
    grouped, group = engine.simulate(LAYER), engine.simulate(one_group(LAYER))
    assert grouped.counts == {key: 4 * value for key, value in group.counts.items()}
    assert grouped.cycles == {key: 4 * value for key, value in group.cycles.items()}
    assert grouped.macs == LAYER.loop_nest().macs == 12 * 2 * 3 * 3 * 5 * 4 * 2  # out x in/G x kh x kw x oh x ow x batch
    assert grouped.stats["groups"] == 4 and grouped.stats["tiles"] == 4 * group.stats["tiles"]
    assert [c.minimum for c in grouped.compulsory] == [4 * c.minimum for c in group.compulsory]
    cycle = engine.simulate(LAYER, path="cycle")
    assert (grouped.counts, grouped.cycles, grouped.stats) == (cycle.counts, cycle.cycles, cycle.stats)
    check_invariants(grouped)


def test_mobilenetv2_runs_on_lecture_array():
    """Every layer of the bundled MobileNetV2 (17 depthwise convs) runs on lecture-array with the result invariants."""
    run = energysim.simulate("lecture-array", "mobilenetv2")
    assert len(run.results) == len(energysim.workload("mobilenetv2").layers)
    assert any(result.stats["groups"] > 1 for result in run.results)
    for result in run.results:
        check_invariants(result)


def test_dilated_grouped_conv_is_refused():
    """A dilated grouped conv is refused in one sentence naming the layer and the dilation."""
    layer = LAYER.model_copy(update={"dilation": 2})
    with pytest.raises(UnsupportedError, match=r"layer 'dw': the dense engine runs a grouped_conv2d with dilation 1 only \(got dilation 2\)"):
        build_engine(make_dense_hw()).simulate(layer)
