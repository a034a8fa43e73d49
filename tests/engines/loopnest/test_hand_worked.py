"""Hand-worked loop-nest cases: each docstring carries the arithmetic the counts must equal."""

from __future__ import annotations

import pytest

from conftest import make_spec, mapping_of
from energysim.engines.loopnest.analysis import evaluate
from energysim.engines.loopnest.reference import reference_counts
from energysim.errors import ConfigError
from energysim.workloads.loop_nest import LoopNest


def _counts(spec, nest, mapping) -> dict:
    """Counts of the closed form, after checking the interpreter agrees (MAC counts aside)."""
    counts = evaluate(spec, nest, mapping).counts
    assert {k: v for k, v in counts.items() if k[0] != "MAC"} == reference_counts(spec, nest, mapping)
    return counts


def test_one_level_1d_conv() -> None:
    """1-D conv P=4, R=3 straight from one level: every MAC reads a weight and an input; 4 outputs written, 8 RMW.

    Only DRAM, loops P4 R3 (R inner): 12 cycles, 1 MAC each. Weights and inputs:
    the innermost keeper is read once per MAC, 12 each. Outputs: 12 arrivals; the
    first arrival of each of the 4 points is a write (4), the other 8 are a read
    and an update each. The outermost level is never filled nor drained.
    """
    spec = make_spec([{"name": "DRAM"}])
    nest = LoopNest.of("conv1d", P=4, R=3)
    counts = _counts(spec, nest, mapping_of(("DRAM", {"P": 4, "R": 3})))
    assert counts == {
        ("DRAM", "weights", "read"): 12, ("DRAM", "inputs", "read"): 12,
        ("DRAM", "outputs", "write"): 4, ("DRAM", "outputs", "read"): 8, ("DRAM", "outputs", "update"): 8,
        ("MAC", "-", "mac"): 12,
    }


TWO_LEVEL = [{"name": "DRAM"}, {"name": "Buffer", "capacity_bytes": 128}]
CONV_K = LoopNest.of("conv1d_k", K=4, P=8, R=3)


def test_two_levels_output_stationary() -> None:
    """K=4 P=8 R=3, DRAM[K4 P8] Buffer[R3]: each output stays put for its 3 MACs; inputs refetched per k.

    Buffer tiles: weights 3 (one k), inputs a 3-wide window, outputs 1 point.
    Weights: filled on each K step only: 3 + 3 x 3 = 12 = all weights once.
    Inputs: first window 3; each of the 3 K steps jumps back (new 3), each of the
    4 x 7 = 28 P steps slides one (new 1): 3 + 9 + 28 = 40 = 4 x (P+R-1).
    Outputs: 96 MACs arrive at the buffer; 32 points enter it once each (writes),
    96 - 32 = 64 read-modify-writes, 32 drain reads; DRAM writes 32, no psum traffic.
    """
    spec = make_spec(TWO_LEVEL)
    counts = _counts(spec, CONV_K, mapping_of(("DRAM", {"K": 4, "P": 8}), ("Buffer", {"R": 3})))
    assert counts[("Buffer", "weights", "fill")] == counts[("DRAM", "weights", "read")] == 12
    assert counts[("Buffer", "inputs", "fill")] == counts[("DRAM", "inputs", "read")] == 40
    assert counts[("Buffer", "weights", "read")] == counts[("Buffer", "inputs", "read")] == 96
    assert counts[("Buffer", "outputs", "write")] == 32
    assert counts[("Buffer", "outputs", "update")] == 64
    assert counts[("Buffer", "outputs", "read")] == 64 + 32
    assert counts[("DRAM", "outputs", "write")] == 32
    assert ("DRAM", "outputs", "update") not in counts


def test_two_levels_weight_stationary() -> None:
    """K=4 P=8 R=3, DRAM[R3 K4] Buffer[P8]: each weight stays for 8 MACs; inputs read once; psums spill to DRAM.

    Buffer tiles: weights 1, inputs an 8-wide window, outputs 8 points (one k).
    Weights: every step above changes the weight: 1 + 2 + 3 x 3 = 12.
    Inputs: 8, then each of the 2 R steps slides one (new 1), K steps change
    nothing: 8 + 2 = 10 = P+R-1, a quarter of output-stationary's 40.
    Outputs: the 12 steps each bring 8 new points: 96 entries = writes; every
    MAC is the first of its point in its tile (96 arrivals), so no RMW in the
    buffer; 96 drains reach DRAM: 32 first writes, 64 read-modify-writes there.
    """
    spec = make_spec(TWO_LEVEL)
    counts = _counts(spec, CONV_K, mapping_of(("DRAM", {"R": 3, "K": 4}), ("Buffer", {"P": 8})))
    assert counts[("Buffer", "weights", "fill")] == 12
    assert counts[("Buffer", "inputs", "fill")] == counts[("DRAM", "inputs", "read")] == 10
    assert counts[("Buffer", "outputs", "write")] == 96
    assert ("Buffer", "outputs", "update") not in counts
    assert counts[("Buffer", "outputs", "read")] == 96
    assert counts[("DRAM", "outputs", "write")] == 32
    assert counts[("DRAM", "outputs", "read")] == counts[("DRAM", "outputs", "update")] == 64


def test_tiling_halves_input_refetch() -> None:
    """Moving a factor 2 of K into the buffer halves DRAM input reads (40 -> 20) but needs an 11-word buffer.

    DRAM[K2 P8] Buffer[K2 R3]: buffer tiles weights 6, inputs 3, outputs 2 (11
    words; the untiled DRAM[K4 P8] Buffer[R3] needs 3 + 3 + 1 = 7). Inputs:
    3 + 1 K step x 3 + 2 x 7 P steps x 1 = 20, half of 40. In an 8-word buffer
    (32 bytes) the tiled mapping is refused with the sizes in the message.
    """
    counts = _counts(make_spec(TWO_LEVEL), CONV_K, mapping_of(("DRAM", {"K": 2, "P": 8}), ("Buffer", {"K": 2, "R": 3})))
    assert counts[("DRAM", "inputs", "read")] == 20
    small = make_spec([{"name": "DRAM"}, {"name": "Buffer", "capacity_bytes": 32}])
    assert evaluate(small, CONV_K, mapping_of(("DRAM", {"K": 4, "P": 8}), ("Buffer", {"R": 3}))).counts
    with pytest.raises(ConfigError, match=r"levels\[1\]: tiles \(weights 6, inputs 3, outputs 2\) must fit the 8-word "
                                          r"capacity of 'Buffer' \(got 11 words\)"):
        evaluate(small, CONV_K, mapping_of(("DRAM", {"K": 2, "P": 8}), ("Buffer", {"K": 2, "R": 3})))


THREE_LEVEL = [{"name": "DRAM"}, {"name": "GB", "capacity_bytes": 1024}, {"name": "RF", "capacity_bytes": 64}]


def test_bypassed_level() -> None:
    """K=2 P=4 R=3, DRAM[K2] GB[P4] RF[R3]: with inputs bypassing GB, RF fills (12) come from DRAM instead of GB.

    Kept: GB input tile is the 6-wide window; K steps leave it: GB fills 6 = DRAM
    reads. RF window 3: K step jumps back (new 3), 2 x 3 P steps slide (new 1):
    RF fills 3 + 3 + 6 = 12, served by 12 GB reads. Bypassed: GB has no input
    counts and DRAM is read 12 times (once per RF fill) instead of 6.
    """
    spec = make_spec(THREE_LEVEL)
    nest = LoopNest.of("conv1d", K=2, P=4, R=3)
    kept = _counts(spec, nest, mapping_of(("DRAM", {"K": 2}), ("GB", {"P": 4}), ("RF", {"R": 3})))
    assert kept[("GB", "inputs", "fill")] == kept[("DRAM", "inputs", "read")] == 6
    assert kept[("RF", "inputs", "fill")] == kept[("GB", "inputs", "read")] == 12
    bypass = _counts(spec, nest, mapping_of(("DRAM", {"K": 2}), ("GB", {"P": 4}, {}, {}, ["inputs"]), ("RF", {"R": 3})))
    assert not any(c == "GB" and t == "inputs" for c, t, _ in bypass)
    assert bypass[("RF", "inputs", "fill")] == bypass[("DRAM", "inputs", "read")] == 12
    assert {k: v for k, v in bypass.items() if k[1] != "inputs"} == {k: v for k, v in kept.items() if k[1] != "inputs"}


PES = [{"name": "DRAM"}, {"name": "RF", "capacity_bytes": 64, "mesh_x": 2}]
GEMM = LoopNest.of("gemm", K=2, C=2, P=4)


def test_spatial_split_multicasts_inputs() -> None:
    """K=2 C=2 P=4 over 2 PEs split on K: both PEs need the same inputs, so DRAM reads each once (8, not 16).

    DRAM[P4 | x:K2] RF[C2]: each RF holds 2 inputs (C2) for one p; 1 + 3 P steps
    bring 2 new each: 8 fills per PE, 16 in all, but the two PEs receive
    identical deltas: DRAM inputs read 8. Weights differ per PE: each RF keeps its
    k's 2 weights for the whole run: 2 fills per PE, DRAM weights read 4.
    Outputs: each RF takes 4 points in turn (4 writes, 4 RMW, 4 drains); the two
    PEs hold different k, so DRAM receives 8 distinct points: 8 writes.
    """
    counts = _counts(make_spec(PES), GEMM, mapping_of(("DRAM", {"P": 4}, {"K": 2}), ("RF", {"C": 2})))
    assert counts[("RF", "inputs", "fill")] == 16
    assert counts[("DRAM", "inputs", "read")] == 8
    assert counts[("RF", "weights", "fill")] == counts[("DRAM", "weights", "read")] == 4
    assert counts[("RF", "outputs", "write")] == 8 and counts[("RF", "outputs", "update")] == 8
    assert counts[("DRAM", "outputs", "write")] == 8


def test_spatial_split_reduces_outputs() -> None:
    """K=2 C=2 P=4 over 2 PEs split on C: PEs read different inputs (16) and their 16 partial sums reduce to 8 at DRAM.

    DRAM[P4 K2 | x:C2] RF[]: each RF holds one weight, one input, one output.
    Inputs: K steps change nothing, 3 P steps bring 1: 4 fills per PE; the PEs
    hold different c, so DRAM reads 8 (= 2 x 4, no multicast). Outputs: 8 steps,
    each a new point: 8 writes and 8 drains per PE, 16 in all; both PEs drain the
    same (k, p), reduced on the way: DRAM receives 8 points, 8 writes, no RMW.
    """
    counts = _counts(make_spec(PES), GEMM, mapping_of(("DRAM", {"P": 4, "K": 2}, {"C": 2}), ("RF", {})))
    assert counts[("RF", "inputs", "fill")] == counts[("DRAM", "inputs", "read")] == 8
    assert counts[("RF", "outputs", "write")] == 16 and counts[("RF", "outputs", "read")] == 16
    assert counts[("DRAM", "outputs", "write")] == 8
    assert ("DRAM", "outputs", "update") not in counts


def test_mapping_errors_name_field_rule_and_value() -> None:
    """Factors, fan-out and level list errors are one line naming the field, the rule and the value."""
    spec = make_spec(PES)
    cases = [
        (mapping_of(("DRAM", {"P": 2}, {"K": 2}), ("RF", {"C": 2})),
         "mapping test: dimension P: factors must multiply to the layer's P = 4 for layer 'gemm' (got 2)"),
        (mapping_of(("DRAM", {"P": 4}, {"K": 2, "C": 2}), ("RF", {})),
         "mapping test.levels[0].spatial_x: fan-out must be at most the 2 instances below 'DRAM' (got 4)"),
        (mapping_of(("RF", {"C": 2}), ("DRAM", {"P": 4}, {"K": 2})),
         "mapping test.levels: must name every hardware level once, outermost first, ['DRAM', 'RF'] (got ['RF', 'DRAM'])"),
        (mapping_of(("DRAM", {"P": 4}, {"K": 2}, {}, ["inputs"]), ("RF", {"C": 2})),
         "mapping test.levels[0].bypass: the outermost level keeps every tensor (got ['inputs'])"),
    ]
    for mapping, message in cases:
        with pytest.raises(ConfigError) as info:
            evaluate(spec, GEMM, mapping)
        assert str(info.value) == message
        assert "\n" not in str(info.value)
