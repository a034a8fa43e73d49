"""EIE capacity: per-PE SRAM fit, the DRAM stream of a layer that does not fit, and the DRAM-bandwidth bound."""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import pytest

from energysim.config.hardware import HardwareFile
from energysim.engines import build_engine
from energysim.engines.result import StorageFit, check_invariants
from energysim.errors import UnsupportedError
from energysim.hardware.hierarchy import build_hardware, load_hardware
from energysim.report.tables import energy_table
from energysim.workloads.layers import LinearLayer
from energysim.workloads.workload import LayerTensors

ROOT = Path(__file__).resolve().parents[3]


def eie_hw(spmat_bytes: int | None = None, dram_words_per_cycle: float | None = None, drop_dram: bool = False,
           spmat_instances: int | None = None, **engine):
    """The lecture-priced EIE hardware with the Spmat SRAM size, the DRAM bandwidth and engine keys overridden.

    Per-PE levels get one instance per PE (``n_pe``), as in the bundled file, unless ``spmat_instances`` is given.
    """
    data = tomllib.loads((ROOT / "hwconfigs" / "eie-64pe-lecture.toml").read_text())
    data["engine"].update(engine)
    for level in data["memory"]:
        if level["kind"] != "dram":
            level["instances"] = data["engine"]["n_pe"]
        if level["name"] == "SpmatSRAM" and spmat_bytes is not None:
            level["capacity_bytes"] = spmat_bytes
        if level["name"] == "SpmatSRAM" and spmat_instances is not None:
            level["instances"] = spmat_instances
        if level["name"] == "DRAM" and dram_words_per_cycle is not None:
            level.pop("bandwidth_gbps", None)              # the file gives GB/s; the override, words per cycle
            level["bandwidth_words_per_cycle"] = dram_words_per_cycle
    if drop_dram:
        data["memory"] = [level for level in data["memory"] if level["kind"] != "dram"]
    return build_hardware(HardwareFile.model_validate(data), "test-eie-capacity")


def two_row_layer(batch: int = 1):
    """2 x 9 weights on 2 PEs: row 0 (PE 0) non-zero in all 9 columns, row 1 (PE 1) in column 0 only; inputs all 1."""
    weights = np.zeros((2, 9))
    weights[0] = np.arange(1.0, 10.0)
    weights[1, 0] = -3.0
    layer = LinearLayer(name="two-row", in_features=9, out_features=2, batch=batch)
    return layer, LayerTensors(weights=weights, activations=np.ones((batch, 9)))


def test_layer_just_over_spmat_capacity_streams_its_csc_from_dram_once_per_batch():
    """A layer one line over its PE's Spmat SRAM reads 6 + 10 DRAM words, the same for batch 1 and batch 3.

    Hand count (2 PEs, 8 entries per 64-bit line, 16-bit pointers, 32-bit DRAM words):
    PE 0 holds 9 entries = 2 lines, PE 1 holds 1 entry = 1 line; the Spmat SRAM is shrunk to 8 bytes
    (1 line) per PE, so PE 0's slice is just over: weights do not fit (needed 2 lines x 64 bits x 2
    PEs = 256 bits, capacity 8 B x 8 x 2 instances = 128). The CSC stream: 3 lines x 64 bits = 192 bits
    = 6 DRAM weight reads, 3 Spmat fills; pointers 2 PEs x (9 + 1) x 16 bits = 320 bits = 10 DRAM
    metadata reads, 10 PtrSRAM fills (32-bit words). Batch 3 (three input vectors) reads it once:
    still 6 + 10, not 18 + 30. Compulsory: 10 entries x 8 bits / 32 = 3 weight reads, 10 metadata reads.
    Extra energy on lecture costs: 16 x 640 + 3 x 10 + 10 x 5 = 10,320 pJ.
    """
    hw = eie_hw(spmat_bytes=8, n_pe=2)
    roomy = eie_hw(n_pe=2)
    for batch in (1, 3):
        layer, tensors = two_row_layer(batch)
        result = build_engine(hw).simulate(layer, tensors)
        resident = build_engine(roomy).simulate(layer, tensors)
        check_invariants(result)
        assert result.macs == 10 * batch
        assert result.count("DRAM", "weights", "read") == 6
        assert result.count("DRAM", "metadata", "read") == 10
        assert result.count("SpmatSRAM", "weights", "fill") == 3
        assert result.count("PtrSRAM", "metadata", "fill") == 10
        fits = {(f.level, f.tensor): f for f in result.storage_fit}
        assert fits[("SpmatSRAM", "weights")] == StorageFit("SpmatSRAM", "weights", 256, 128, False)
        assert fits[("PtrSRAM", "metadata")].fits
        assert result.weights_on_chip is False and result.spilled == "weights>SpmatSRAM"
        bounds = {(b.component, b.tensor): b.minimum for b in result.compulsory}
        assert bounds[("DRAM", "weights")] == 3 and bounds[("DRAM", "metadata")] == 10
        # Everything else is what the resident layer counts.
        extra = {key: value for key, value in result.counts.items() if resident.counts.get(key) != value}
        assert set(extra) == {("DRAM", "weights", "read"), ("DRAM", "metadata", "read"),
                              ("SpmatSRAM", "weights", "fill"), ("PtrSRAM", "metadata", "fill")}
        added = energy_table(result, hw)["energy_pj"].sum() - energy_table(resident, roomy)["energy_pj"].sum()
        assert added == pytest.approx(10_320.0)


def test_dram_bandwidth_bounds_the_cycles_of_a_streamed_layer():
    """At 0.25 words per cycle the 16-word stream takes 64 cycles, more than the 17-cycle pipeline: total 64.

    Pipeline (batch 1, 9 non-zero inputs, each PE 1 cycle per activation, packs of 2 each ending in a
    non-zero so no pack-load gap): broadcasts 1..9, last entry in cycle 11; compute ceil(10 entries / 2) = 5,
    fill_drain 3 + (4 + 1) = 8, stall 11 + 1 - 3 - 5 = 4, total 17. The DRAM wait adds 64 - 17 = 47 stall
    cycles; compute and fill_drain are unchanged.
    """
    layer, tensors = two_row_layer()
    resident = build_engine(eie_hw(n_pe=2)).simulate(layer, tensors)
    assert resident.cycles == {"compute": 5, "fill_drain": 8, "stall": 4, "total": 17}
    slow = build_engine(eie_hw(spmat_bytes=8, dram_words_per_cycle=0.25, n_pe=2)).simulate(layer, tensors)
    check_invariants(slow)
    assert slow.cycles == {"compute": 5, "fill_drain": 8, "stall": 51, "total": 64}
    assert slow.stats["cycles_dram_wait"] == 47 and slow.stats["cycles_dram_stream"] == 64
    fast = build_engine(eie_hw(spmat_bytes=8, dram_words_per_cycle=16, n_pe=2)).simulate(layer, tensors)
    assert fast.cycles == resident.cycles and fast.stats["cycles_dram_wait"] == 0


def test_layer_that_fits_is_unchanged_and_says_so():
    """A resident layer has no DRAM or fill counts, no DRAM wait, and both SRAM fits true."""
    layer, tensors = two_row_layer()
    result = build_engine(eie_hw(n_pe=2)).simulate(layer, tensors)
    assert not any(component == "DRAM" or action == "fill" for component, _, action in result.counts)
    assert result.stats["cycles_dram_wait"] == 0 and result.stats["weights_streamed_from_dram"] is False
    assert [(f.level, f.tensor, f.fits) for f in result.storage_fit] == [
        ("SpmatSRAM", "weights", True), ("PtrSRAM", "metadata", True)]
    assert result.weights_on_chip is True and result.spilled == ""


def test_per_pe_share_is_the_level_total_over_the_pe_count():
    """64 Spmat instances of 8 B on 2 PEs give each PE 256 B (32 lines): the 2-line slice fits, nothing streams."""
    layer, tensors = two_row_layer()
    result = build_engine(eie_hw(spmat_bytes=8, spmat_instances=64, n_pe=2)).simulate(layer, tensors)
    assert next(f for f in result.storage_fit if f.tensor == "weights") == StorageFit("SpmatSRAM", "weights", 256, 4096, True)
    assert result.count("DRAM") == 0


def test_report_only_keeps_a_too_large_layer_on_chip_and_still_reports_it():
    """capacity = "report_only": the layer one line over Spmat counts and times as if resident, yet says it does not fit."""
    layer, tensors = two_row_layer()
    reported = build_engine(eie_hw(spmat_bytes=8, n_pe=2, capacity="report_only")).simulate(layer, tensors)
    resident = build_engine(eie_hw(n_pe=2)).simulate(layer, tensors)
    assert reported.counts == resident.counts and reported.cycles == resident.cycles
    assert reported.spilled == "weights>SpmatSRAM" and reported.stats["weights_streamed_from_dram"] is False


def test_too_large_layer_without_dram_level_is_refused():
    """Entries that do not fit and no dram level to stream them from: UnsupportedError naming the layer and level."""
    layer, tensors = two_row_layer()
    engine = build_engine(eie_hw(spmat_bytes=8, drop_dram=True, n_pe=2))
    with pytest.raises(UnsupportedError, match=r"layer 'two-row'.*SpmatSRAM.*dram level"):
        engine.simulate(layer, tensors)


def test_vgg6_input_length_overflows_the_pointer_sram():
    """25,088 inputs (VGG-6's K): 25,089 pointers x 16 bit per PE do not fit 32 KB; the entries fit.

    eie-64pe (capacity = "report_only", to reproduce the paper's on-chip VGG-6): reported, not
    streamed. eie-64pe-lecture (capacity = "enforce"): the whole CSC streams; pointers 64 PEs x 25,089 x 16
    bits / 32 = 802,848 DRAM metadata reads. 64 output rows keep the layer small; the pointer count
    depends on K only.
    """
    layer = LinearLayer(name="K25088", in_features=25088, out_features=64, weight_density=0.04,
                        activation_density=0.183)
    paper = build_engine(load_hardware(ROOT / "hwconfigs" / "eie-64pe.toml")).simulate(layer)
    fits = {f.tensor: f for f in paper.storage_fit}
    assert fits["weights"].fits and fits["weights"].capacity_bits == 131072 * 8 * 64
    assert fits["metadata"] == StorageFit("PtrSRAM", "metadata", 25089 * 16 * 64, 32768 * 8 * 64, False)
    assert paper.spilled == "metadata>PtrSRAM" and paper.weights_on_chip is False
    assert paper.count("DRAM") == 0 and paper.stats["cycles_dram_wait"] == 0
    lecture = build_engine(load_hardware(ROOT / "hwconfigs" / "eie-64pe-lecture.toml")).simulate(layer)
    check_invariants(lecture)
    assert lecture.spilled == "metadata>PtrSRAM" and lecture.stats["weights_streamed_from_dram"] is True
    assert lecture.count("DRAM", "metadata", "read") == 802_848
    assert lecture.count("DRAM", "weights", "read") == 2 * lecture.count("SpmatSRAM", "weights", "fill")


@pytest.mark.slow
def test_storage_fit_of_a_too_large_eie_layer_says_it_does_not_fit():
    """A 4096 x 25088 layer at 10 % density (about 170 KB of entries per PE) does not fit 128 KB of Spmat SRAM."""
    engine = build_engine(load_hardware(ROOT / "hwconfigs" / "eie-64pe-lecture.toml"))
    layer = LinearLayer(name="big", in_features=25088, out_features=4096, weight_density=0.1,
                        activation_density=0.01)
    result = engine.simulate(layer)
    check_invariants(result)
    weights = next(f for f in result.storage_fit if f.tensor == "weights")
    assert not weights.fits and weights.needed_bits > 1.25 * weights.capacity_bits
    assert result.stats["weights_streamed_from_dram"] is True
    assert result.count("DRAM", "weights", "read") * 32 >= result.stats["storage_bits"]["values"] * 2


@pytest.mark.slow
def test_vgg16_fc6_pruned_streams_its_csc_on_the_lecture_file():
    """vgg16-han2015 fc6 (25088 -> 4096, 4 %) on eie-64pe-lecture: pointers spill, the 9.6 MB CSC streams once.

    Pointers: 64 PEs x 25,089 x 16 bits / 32 = 802,848 DRAM words; entry words = 2 per 64-bit line.
    Cycles: ceil(DRAM words / 1.3325) (the stream outlasts the PEs); DRAM energy 640 pJ per word.
    """
    from energysim.workloads.workload import load_workload

    hw = load_hardware(ROOT / "hwconfigs" / "eie-64pe-lecture.toml")
    fc6 = next(layer for layer in load_workload(ROOT / "workloads" / "vgg16-han2015.toml").layers if layer.name == "fc6")
    result = build_engine(hw).simulate(fc6)
    check_invariants(result)
    assert result.spilled == "metadata>PtrSRAM" and result.weights_on_chip is False
    words = result.count("DRAM", "weights", "read") + result.count("DRAM", "metadata", "read")
    assert result.count("DRAM", "metadata", "read") == 802_848
    assert result.count("DRAM", "weights", "read") == 2 * result.count("SpmatSRAM", "weights", "fill")
    assert 9.5e6 < words * 4 < 9.7e6
    assert result.cycles["total"] == -(-words * 10_000 // 13_325)
    energy = energy_table(result, hw)
    assert energy.loc[energy["component"] == "DRAM", "energy_pj"].sum() == pytest.approx(640.0 * words)
