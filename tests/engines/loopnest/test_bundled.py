"""Bundled loop-nest designs: lecture-array-loopnest mirrors lecture-array; both Eyeriss-like pricings count alike."""

from __future__ import annotations

import pytest

import energysim
from energysim.engines import build_engine
from energysim.workloads.layers import Conv2dLayer
from energysim.workloads.workload import Workload


@pytest.mark.parametrize("name", ["lecture-array", "horowitz-array"])
def test_loopnest_versions_mirror_dense_arrays(name: str) -> None:
    """Same levels, sizes, bandwidths and every priced cost as the dense array; 256 register files under the buffer."""
    dense, loop = energysim.hardware(name), energysim.hardware(f"{name}-loopnest")
    assert dense.cost_rows() == loop.cost_rows()
    for a, b in zip(dense.levels, loop.levels):
        assert (a.name, a.capacity_words, a.config.bandwidth_words_per_cycle, a.config.instances) == \
               (b.name, b.capacity_words, b.config.bandwidth_words_per_cycle, b.config.instances)
    assert build_engine(loop).spec.macs_peak_per_cycle == 16 * 16


def test_eyeriss_like_geometry() -> None:
    """168 PEs (14 x 12) with 224/12/24-word scratchpads; the buffer keeps inputs and psums; the mapper is row-stationary."""
    hw = energysim.hardware("eyeriss-like")
    spec = build_engine(hw).spec
    assert spec.macs_peak_per_cycle == 168
    pe = hw.level("PE")
    assert [pe.tensor_capacity_words(t) for t in ("weights", "inputs", "outputs")] == [224, 12, 24]
    assert hw.level("GlobalBuffer").config.holds == ("inputs", "outputs")
    assert hw.level("GlobalBuffer").capacity_words == 108 * 1024 // 2
    for name in ("eyeriss-like", "eyeriss-like-lecture"):
        assert build_engine(energysim.hardware(name)).config.mapper.dataflow == "row_stationary"


def test_eyeriss_pricings_share_counts() -> None:
    """The relative-cost and lecture-priced Eyeriss-like files give the same memory counts for AlexNet CONV3 (costs only differ)."""
    layer = Conv2dLayer(name="conv3", in_channels=256, out_channels=384, in_height=13, in_width=13,
                        kernel_height=3, kernel_width=3, padding=1)
    workload = Workload("one", (layer,))
    relative = energysim.simulate("eyeriss-like", workload, mapping="default").results[0]
    lecture = energysim.simulate("eyeriss-like-lecture", workload, mapping="default").results[0]
    memory = lambda r: {k: v for k, v in r.counts.items() if k[0] in ("DRAM", "GlobalBuffer", "PE")}  # noqa: E731
    assert memory(relative) == memory(lecture)
    assert relative.cycles == lecture.cycles
    assert relative.count("ArrayNoC") > 0 and lecture.count("ArrayNoC") == 0


def test_storage_fit_reports_the_mappings_tiles() -> None:
    """conv3 on eyeriss-like: one fit per on-chip level and kept tensor; the outputs are tiled through the buffer, not spilled."""
    # conv3 of AlexNet, default mapping: each tile (words x 16 bits x instances) is set against its partition or the
    # shared buffer; the whole 169 x 384 outputs, larger than the 108 KB buffer, are tiled through it, not spilled.
    result = energysim.simulate("eyeriss-like", "alexnet", mapping="default").results[2]
    fits = {(f.level, f.tensor): f for f in result.storage_fit}
    assert set(fits) == {("GlobalBuffer", "inputs"), ("GlobalBuffer", "outputs"),
                         ("PE", "weights"), ("PE", "inputs"), ("PE", "outputs")}
    for (level, tensor), fit in fits.items():
        instances = 168 if level == "PE" else 1
        assert fit.needed_bits == result.stats[f"tile_words_{level}_{tensor}"] * 16 * instances, fit
    assert fits[("GlobalBuffer", "outputs")].capacity_bits == 108 * 1024 * 8
    assert fits[("PE", "weights")].capacity_bits == 448 * 8 * 168
    assert result.spilled == "" and result.weights_on_chip is True


@pytest.mark.parametrize("hardware", ["lecture-array-loopnest", "eyeriss-like"])
def test_every_bundled_workload_runs(hardware: str) -> None:
    """Every bundled workload runs with the default mapping; run_workload checks every result's invariants."""
    from energysim.catalog import workload_names

    for name in workload_names():
        run = energysim.simulate(hardware, name, mapping="default")
        assert all(r.stats["mapping_source"] == "default" for r in run.results)
        assert run.totals()["energy_pj"] > 0
