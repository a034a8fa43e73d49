"""Sparse loop-nest model: density-1 equivalence, gating vs skipping, invariants, real vs statistical densities."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from pydantic import ValidationError

from energysim.config.hardware import HardwareFile
from energysim.engines.loopnest.analysis import evaluate
from energysim.engines.loopnest.engine import LoopNestEngine
from energysim.engines.loopnest.mapping import default_mapping
from energysim.engines.loopnest.sparse import check_sparse, evaluate_sparse, from_masks, statistical
from energysim.engines.loopnest.sparse_masks import OperandMasks, lane_effectual, operand_masks
from energysim.engines.loopnest.spec import LoopNestConfig, Spec
from energysim.engines.result import check_invariants
from energysim.errors import ConfigError
from energysim.hardware.hierarchy import build_hardware
from energysim.workloads.layers import Conv2dLayer, LinearLayer
from energysim.workloads.workload import LayerTensors

from conftest import mapping_of

PRICED = [("Buf", "metadata_read"), ("Buf", "metadata_fill"), ("Buf", "gated_read"), ("Dram", "metadata_read"),
          ("Dram", "metadata_fill"), ("Dram", "metadata_write"), ("Dram", "metadata_update"), ("PEs", "gated_read"), ("PEs", "metadata_read"), ("PEs", "metadata_fill"),
          ("MAC", "gated_mac")]


def sparse_spec(formats: list[dict], actions: list[dict], bandwidth: float = 1e9) -> Spec:
    """DRAM -> Buffer (4 KB) -> 2 x 2 PEs (256 B each) -> 1 MAC each; 16-bit words; every sparse action priced."""
    levels = [
        {"name": "DRAM", "kind": "dram", "read_pj": 100.0, "write_pj": 100.0},
        {"name": "Buffer", "kind": "sram", "capacity_bytes": 4096, "read_pj": 10.0, "write_pj": 10.0},
        {"name": "PE", "kind": "regfile", "capacity_bytes": 256, "mesh_x": 2, "mesh_y": 2, "read_pj": 1.0, "write_pj": 1.0},
    ]
    for level in levels:
        level.update(word_bits=16, bandwidth_words_per_cycle=bandwidth, cost_source="test")
    units = [{"name": "MAC", "action": "mac", "energy_pj": 2.0, "source": "test"}]
    units += [{"name": n, "action": a, "energy_pj": 0.5, "source": "test"} for n, a in PRICED]
    data = HardwareFile.model_validate({
        "schema_version": 1, "name": "sparse-test", "clock_ghz": 1.0,
        "engine": {"kind": "loopnest", "sparse": {
            "formats": formats, "actions": actions,
            "action_units": {"DRAM": "Dram", "Buffer": "Buf", "PE": "PEs"}}},
        "memory": levels, "units": units,
    })
    hardware = build_hardware(data, "sparse-test")
    spec = Spec.build(hardware, LoopNestConfig.model_validate(hardware.engine_table))
    check_sparse(spec)
    return spec


COMPRESSED = [
    {"level": "DRAM", "tensor": "weights", "format": "csr", "metadata_bits": 4, "pointer_bits": 8},
    {"level": "DRAM", "tensor": "inputs", "format": "rle", "metadata_bits": 4},
    {"level": "Buffer", "tensor": "weights", "format": "bitmap"},
    {"level": "Buffer", "tensor": "inputs", "format": "coordinate", "metadata_bits": 6},
]
OPTIMISED = [
    {"kind": "gating", "level": "PE", "target": "weights", "leaders": ["inputs"]},
    {"kind": "skipping", "level": "Buffer", "target": "inputs", "leaders": ["weights"]},
    {"kind": "skipping", "unit": "MAC", "leaders": ["weights", "inputs"]},
]
CONV = Conv2dLayer(name="c", in_channels=4, out_channels=8, in_height=6, in_width=6, kernel_height=3, kernel_width=3,
                   padding=1, stride=1)
CONV_MAPPING = mapping_of(("DRAM", {"K": 2}), ("Buffer", {"C": 4, "P": 3}, {"K": 2}, {"P": 2}),
                          ("PE", {"K": 2, "Q": 6, "R": 3, "S": 3}))


def data_counts(counts: dict) -> dict:
    """Counts without metadata."""
    return {k: v for k, v in counts.items() if not k[2].startswith("metadata_")}


@pytest.mark.parametrize("real", [False, True])
def test_density_one_gives_dense_counts(real: bool) -> None:
    """At density 1 the compressed, gated and skipping design counts exactly as its dense mapping (metadata aside)."""
    spec = sparse_spec(COMPRESSED, OPTIMISED)
    nest = CONV.loop_nest()
    dense = evaluate(spec, nest, CONV_MAPPING)
    if real:
        tensors = LayerTensors(np.ones((8, 4, 3, 3)), activations=np.ones((1, 4, 6, 6)))
        masks = operand_masks(CONV, nest, tensors)
        # padding makes the real input density < 1: drop it from the comparison by using all-ones padded inputs
        masks = OperandMasks(masks.weights, np.ones_like(masks.inputs))
        densities = from_masks(masks, 1.0)
    else:
        densities = statistical(1.0, 1.0)
    stats, extra = evaluate_sparse(spec, nest, CONV_MAPPING, densities)
    assert data_counts(stats.counts) == dense.counts
    assert sum(v for k, v in stats.counts.items() if k[2].startswith("metadata_")) > 0
    assert stats.cycles_total == dense.cycles_total and stats.macs == dense.macs
    assert all(v == 0 for k, v in extra.items() if k.startswith("skipped"))


def test_gating_keeps_cycles_skipping_saves_them() -> None:
    """Gated MACs cost their gated_mac entry and keep their cycles; skipped MACs cost nothing and free their cycles."""
    nest = CONV.loop_nest()
    densities = statistical(0.5, 1.0)
    gate = sparse_spec([], [{"kind": "gating", "unit": "MAC", "leaders": ["weights"]}])
    skip = sparse_spec([], [{"kind": "skipping", "unit": "MAC", "leaders": ["weights"]}])
    dense = evaluate(gate, nest, CONV_MAPPING)
    gated, _ = evaluate_sparse(gate, nest, CONV_MAPPING, densities)
    skipped, extra = evaluate_sparse(skip, nest, CONV_MAPPING, densities)
    half = nest.macs // 2
    assert gated.counts[("MAC", "-", "mac")] == half and gated.counts[("MAC", "-", "gated_mac")] == half
    assert gated.cycles_total == dense.cycles_total
    assert skipped.counts[("MAC", "-", "mac")] == half and ("MAC", "-", "gated_mac") not in skipped.counts
    assert extra["skipped_mac"] == half
    assert skipped.cycles_total == math.ceil(dense.cycles_compute / 2)
    assert gated.energy_pj - skipped.energy_pj == pytest.approx(half * 0.5)


def test_gated_reads_use_bandwidth_skipped_do_not() -> None:
    """A bandwidth-bound buffer: gating its reads leaves the cycles, skipping them shortens the run."""
    nest = CONV.loop_nest()
    densities = statistical(0.25, 1.0)
    rule = {"level": "Buffer", "target": "inputs", "leaders": ["weights"]}
    gate = sparse_spec([], [{"kind": "gating", **rule}], bandwidth=0.05)
    skip = sparse_spec([], [{"kind": "skipping", **rule}], bandwidth=0.05)
    dense = evaluate(gate, nest, CONV_MAPPING)
    gated, _ = evaluate_sparse(gate, nest, CONV_MAPPING, densities)
    skipped, _ = evaluate_sparse(skip, nest, CONV_MAPPING, densities)
    assert dense.bottleneck != "compute"
    assert gated.level_cycles == dense.level_cycles
    assert skipped.level_cycles["Buffer"] < dense.level_cycles["Buffer"]
    reads = dense.counts[("Buffer", "inputs", "read")]
    assert gated.counts[("Buffer", "inputs", "read")] + gated.counts[("Buf", "inputs", "gated_read")] == reads


def test_counts_are_integers_and_energy_adds_up() -> None:
    """Through the engine: every count a non-negative int, cycle parts add to the total, energy = sum of count x price."""
    spec = sparse_spec(COMPRESSED, OPTIMISED)
    engine = LoopNestEngine(spec.hardware, spec.config)
    layer = CONV.model_copy(update={"weight_density": 0.3, "activation_density": 0.6})
    result = engine.simulate(layer, mapping=CONV_MAPPING)
    check_invariants(result)
    stats, _ = evaluate_sparse(spec, layer.loop_nest(), CONV_MAPPING, statistical(0.3, 0.6))
    assert stats.energy_pj == pytest.approx(sum(v * spec.prices[(c, a)] for (c, _, a), v in result.counts.items()))
    assert math.fsum(stats.energy_by_component.values()) == pytest.approx(stats.energy_pj)
    assert result.stats["density_model"] == "statistical (uniform random)"


def brute_lanes(nest, mapping, weights: np.ndarray, inputs: np.ndarray) -> np.ndarray:
    """Effectual MACs per lane by visiting every MAC (lane = spatial digits of R, S, N, G, K, C, P, Q in that order)."""
    b = nest.bounds
    order = ("R", "S", "N", "G", "K", "C", "P", "Q")
    digits = {d: [lp for lp in mapping.loops if lp.dim == d] for d in order}

    def lane_of(dim: str, value: int) -> tuple[int, int]:
        flat, size = 0, 1
        for lp in reversed(digits[dim]):
            digit = value % lp.factor
            value //= lp.factor
            if lp.kind != "t":
                flat += digit * size
                size *= lp.factor
        return flat, size

    shape = tuple(lane_of(d, 0)[1] for d in order)
    lanes = np.zeros(shape, dtype=np.int64)
    for n, g, k, c, p, q, r, s in itertools.product(*(range(b[d]) for d in ("N", "G", "K", "C", "P", "Q", "R", "S"))):
        h, w = p * nest.stride_h + r * nest.dilation_h, q * nest.stride_w + s * nest.dilation_w
        if weights[g, k, c, r, s] and inputs[n, g, c, h, w]:
            idx = {"N": n, "G": g, "K": k, "C": c, "P": p, "Q": q, "R": r, "S": s}
            lanes[tuple(lane_of(d, idx[d])[0] for d in order)] += 1
    return lanes.ravel()


def test_lane_effectual_matches_every_mac() -> None:
    """The vectorised per-lane effectual count equals visiting each MAC of a strided, padded conv (spatial R, K, P)."""
    layer = Conv2dLayer(name="s", in_channels=3, out_channels=4, in_height=7, in_width=7, kernel_height=3,
                        kernel_width=3, padding=1, stride=2, batch=2)
    nest = layer.loop_nest()
    mapping = mapping_of(("DRAM", {"N": 2, "K": 2}), ("Buffer", {"C": 3, "Q": 4}, {"K": 2}, {"R": 3}),
                         ("PE", {"P": 2, "S": 3}, {"P": 2}))
    rng = np.random.default_rng(3)
    tensors = LayerTensors(rng.random((4, 3, 3, 3)) * (rng.random((4, 3, 3, 3)) < 0.5),
                           activations=rng.random((2, 3, 7, 7)) * (rng.random((2, 3, 7, 7)) < 0.6))
    masks = operand_masks(layer, nest, tensors)
    fast = lane_effectual(nest, mapping, masks.weights, masks.inputs)
    assert np.array_equal(fast, brute_lanes(nest, mapping, masks.weights, masks.inputs))
    assert len(fast) == 2 * 3 * 2


def test_real_and_statistical_agree_in_expectation() -> None:
    """Random masks (weights 40 %, inputs 70 %): real-mask effectual MACs and reads match the statistical model.

    Tolerance: the effectual count X = sum over MACs of w_i x a_j is a function of
    independent Bernoulli mask entries; changing one weight changes X by at most
    its uses u_w = P Q (here), one input by at most u_a = K R S. Efron-Stein gives
    Var X <= sum_w d_w (1 - d_w) u_w^2 + sum_a d_a (1 - d_a) u_a^2, so a 4-sigma
    bound (Chebyshev: fails with probability < 1/16 for a wrong seed, and the seed
    is fixed) is a justified, not fitted, tolerance. Reads scale the same way.
    """
    layer = Conv2dLayer(name="e", in_channels=64, out_channels=64, in_height=16, in_width=16, kernel_height=3,
                        kernel_width=3, batch=1)
    nest = layer.loop_nest()
    spec = sparse_spec([], [{"kind": "skipping", "unit": "MAC", "leaders": ["weights", "inputs"]},
                            {"kind": "gating", "level": "PE", "target": "weights", "leaders": ["inputs"]}])
    mapping = default_mapping(spec, nest)
    d_w, d_a = 0.4, 0.7
    rng = np.random.default_rng(11)
    weights = (rng.random((64, 64, 3, 3)) < d_w).astype(float)
    acts = (rng.random((1, 64, 16, 16)) < d_a).astype(float)
    masks = operand_masks(layer, nest, LayerTensors(weights, activations=acts))
    real, real_extra = evaluate_sparse(spec, nest, mapping, from_masks(masks, 1.0))
    stat, stat_extra = evaluate_sparse(spec, nest, mapping, statistical(d_w, d_a))
    b = nest.bounds
    u_w, u_a = b["P"] * b["Q"], b["K"] * b["R"] * b["S"]
    var = weights.size * d_w * (1 - d_w) * u_w ** 2 + acts.size * d_a * (1 - d_a) * u_a ** 2
    tolerance = 4 * math.sqrt(var)                     # 7.6 % of the expected 2.02 M effectual MACs
    assert abs(real.macs - stat.macs) <= tolerance
    assert real.macs != stat.macs                     # the real path really counted
    gated = ("PEs", "weights", "gated_read")
    assert abs(real.counts[gated] - stat.counts[gated]) <= 4 * math.sqrt(acts.size * d_a * (1 - d_a) * u_a ** 2)
    assert real_extra["density_model"] == "real masks" and stat_extra["density_model"].startswith("statistical")


def test_imbalance_shows_only_with_real_masks() -> None:
    """Weights 50 % dense on average, all in the rows of one PE: the real path takes the dense time, the statistical half."""
    layer = LinearLayer(name="fc", in_features=16, out_features=8, batch=4)
    nest = layer.loop_nest()
    spec = sparse_spec([], [{"kind": "skipping", "unit": "MAC", "leaders": ["weights"]}])
    mapping = mapping_of(("DRAM", {}), ("Buffer", {"N": 4}, {"K": 2}), ("PE", {"K": 4, "C": 16}))
    weights = np.zeros((8, 16))
    weights[:4] = 1.0                                  # K 0..3: the lane with spatial K digit 0 (outer digit)
    masks = operand_masks(layer, nest, LayerTensors(weights))
    real, extra = evaluate_sparse(spec, nest, mapping, from_masks(masks, 1.0))
    stat, _ = evaluate_sparse(spec, nest, mapping, statistical(0.5, 1.0))
    dense = evaluate(spec, nest, mapping)
    assert real.macs == stat.macs == nest.macs // 2
    assert real.cycles_compute == dense.cycles_compute
    assert stat.cycles_compute == dense.cycles_compute // 2
    assert extra["lane_imbalance"] == pytest.approx(2.0)


def test_compressed_tile_capacity_counts_nonzeros_and_metadata() -> None:
    """A weight tile twice the PE's capacity fits when 25 % dense in a bitmap, and is refused at 75 %."""
    layer = LinearLayer(name="fc", in_features=64, out_features=8)
    nest = layer.loop_nest()
    spec = sparse_spec([{"level": "PE", "tensor": "weights", "format": "bitmap"}], [])
    mapping = mapping_of(("DRAM", {}), ("Buffer", {}, {"K": 2}, {"K": 2}), ("PE", {"K": 2, "C": 64}))
    with pytest.raises(ConfigError):
        evaluate(spec, nest, mapping)                  # 128 + 64 + 2 words > 128 dense
    evaluate_sparse(spec, nest, mapping, statistical(0.25, 1.0))
    with pytest.raises(ConfigError, match="weights"):
        evaluate_sparse(spec, nest, mapping, statistical(0.75, 1.0))


@pytest.mark.parametrize(("table", "match"), [
    ({"formats": [{"level": "PE", "tensor": "weights", "format": "zip"}]}, "format"),
    ({"formats": [{"level": "PE", "tensor": "weights", "format": "rle"}]}, "metadata_bits"),
    ({"actions": [{"kind": "clockgating", "unit": "MAC", "leaders": ["inputs"]}]}, "kind"),
    ({"actions": [{"kind": "gating", "level": "PE", "unit": "MAC", "leaders": ["inputs"]}]}, "exactly one"),
    ({"actions": [{"kind": "gating", "unit": "MAC", "leaders": ["outputs"]}]}, "leaders"),
])
def test_bad_sparse_tables_fail_in_one_line(table: dict, match: str) -> None:
    """Unknown formats or kinds, missing widths, ambiguous targets and bad leaders are refused by validation."""
    with pytest.raises(ValidationError, match=match):
        LoopNestConfig.model_validate({"kind": "loopnest", "sparse": table})


def test_unknown_level_and_unpriced_action_are_config_errors() -> None:
    """A format at a level that does not exist, or gating with no gated_read price, is one ConfigError line."""
    with pytest.raises(ConfigError, match=r"formats\[0\]\.level"):
        sparse_spec([{"level": "L9", "tensor": "weights", "format": "bitmap"}], [])
    with pytest.raises(ConfigError, match="gated_read"):
        sparse_spec([], [{"kind": "gating", "level": "DRAM", "target": "weights", "leaders": ["inputs"]}])


def test_real_weights_with_statistical_inputs_keep_the_imbalance() -> None:
    """Without activations, each lane's weight-effectual count is scaled by the input density: imbalance stays, time halves."""
    layer = LinearLayer(name="fc", in_features=16, out_features=8, batch=4, activation_density=0.5)
    nest = layer.loop_nest()
    spec = sparse_spec([], [{"kind": "skipping", "unit": "MAC", "leaders": ["weights", "inputs"]}])
    mapping = mapping_of(("DRAM", {}), ("Buffer", {"N": 4}, {"K": 2}), ("PE", {"K": 4, "C": 16}))
    weights = np.zeros((8, 16))
    weights[:4] = 1.0
    masks = operand_masks(layer, nest, LayerTensors(weights))
    real, extra = evaluate_sparse(spec, nest, mapping, from_masks(masks, 0.5))
    dense = evaluate(spec, nest, mapping)
    assert extra["density_model"] == "real weights, statistical inputs"
    assert real.macs == nest.macs // 4
    assert real.cycles_compute == dense.cycles_compute // 2 and extra["lane_imbalance"] == pytest.approx(2.0)


def test_engine_checks_a_given_mapping_with_compressed_tiles() -> None:
    """Through the engine, a mapping whose dense weight tile overflows the PE runs at 25 % density and is refused at 100 %."""
    spec = sparse_spec([{"level": "PE", "tensor": "weights", "format": "bitmap"}], [])
    engine = LoopNestEngine(spec.hardware, spec.config)
    mapping = mapping_of(("DRAM", {}), ("Buffer", {}, {"K": 2}, {"K": 2}), ("PE", {"K": 2, "C": 64}))
    layer = LinearLayer(name="fc", in_features=64, out_features=8)
    result = engine.simulate(layer.model_copy(update={"weight_density": 0.25}), mapping=mapping)
    assert result.stats["mapping_source"] == "test"
    with pytest.raises(ConfigError, match="weights"):
        engine.simulate(layer, mapping=mapping)


def test_decompression_counts_the_uncompressed_childs_fills() -> None:
    """CSR weights in DRAM, uncompressed in the buffer with a decoder: one decompress per buffer weight fill, priced."""
    formats = [{"level": "DRAM", "tensor": "weights", "format": "csr", "metadata_bits": 4, "pointer_bits": 8}]
    levels = sparse_spec(formats, []).hardware
    data = HardwareFile.model_validate({
        "schema_version": 1, "name": "codec", "clock_ghz": 1.0,
        "engine": {"kind": "loopnest", "sparse": {"formats": formats, "action_units": {"DRAM": "Dram"},
                                                  "codec_units": {"Buffer": "Decoder"}}},
        "memory": [level.config.model_dump(exclude_none=True) for level in levels.levels],
        "units": [{"name": "MAC", "action": "mac", "energy_pj": 2.0, "source": "test"},
                  {"name": "Dram", "action": "metadata_read", "energy_pj": 0.5, "source": "test"},
                  {"name": "Dram", "action": "metadata_fill", "energy_pj": 0.5, "source": "test"},
                  {"name": "Decoder", "action": "decompress", "energy_pj": 0.25, "source": "test"}],
    })
    hardware = build_hardware(data, "codec")
    spec = Spec.build(hardware, LoopNestConfig.model_validate(hardware.engine_table))
    check_sparse(spec)
    stats, _ = evaluate_sparse(spec, CONV.loop_nest(), CONV_MAPPING, statistical(0.5, 1.0))
    fills = stats.counts[("Buffer", "weights", "fill")]
    assert stats.counts[("Decoder", "weights", "decompress")] == fills > 0
    assert stats.energy_by_component["Decoder"] == pytest.approx(0.25 * fills)
    assert ("Decoder", "inputs", "decompress") not in stats.counts      # inputs are uncompressed in DRAM


def test_mapper_occupancy_estimate_matches_the_exact_rule() -> None:
    """OccupancyWords (the mapper's vectorised sizes) equals occupancy_for on tiles that span the whole coordinate axis."""
    from energysim.engines.loopnest.mapping import Mapping
    from energysim.engines.loopnest.sparse import OccupancyWords, occupancy_for
    layer = LinearLayer(name="fc", in_features=64, out_features=8)
    nest = layer.loop_nest()
    spec = sparse_spec(COMPRESSED, [])
    mapping = mapping_of(("DRAM", {}), ("Buffer", {"K": 2}), ("PE", {"K": 4, "C": 64}))
    densities = statistical(0.3, 0.6)
    exact, estimate = occupancy_for(spec, nest, densities), OccupancyWords(spec, nest, densities)
    checked = 0
    for index in range(len(spec.levels)):
        for tensor in ("weights", "inputs"):
            if not isinstance(mapping, Mapping) or not mapping.keeps(spec, index, tensor):
                continue
            words = int(np.prod([mapping.tile_extents(index)[d] for d in ("K", "C")])) if tensor == "weights" \
                else mapping.tile_extents(index)["C"]
            assert int(estimate(index, tensor, np.array([words]))[0]) == exact(mapping, index, tensor, words), (index, tensor)
            checked += 1
    assert checked >= 4 and hash(estimate.key) is not None


def test_compressed_outputs_store_final_values_at_the_output_density() -> None:
    """DRAM keeping outputs in RLE writes each output's final value at output_density (+ 4-bit runs); partial sums stay dense."""
    layer = LinearLayer(name="fc", in_features=64, out_features=8, batch=4)
    nest = layer.loop_nest()
    spec = sparse_spec([{"level": "DRAM", "tensor": "outputs", "format": "rle", "metadata_bits": 4}], [])
    # DRAM[C2 K2]: the Buffer's outputs tile (half of K) leaves at each K step and comes back for the second C half,
    # so every output arrives twice at DRAM: a write (partial) then an update (the final value)
    mapping = mapping_of(("DRAM", {"C": 2, "K": 2}), ("Buffer", {"N": 4, "K": 4, "C": 32}), ("PE", {}))
    dense = evaluate(spec, nest, mapping).counts
    assert dense[("DRAM", "outputs", "write")] == 32 and dense[("DRAM", "outputs", "update")] == 32
    counts = evaluate_sparse(spec, nest, mapping, statistical(1.0, 1.0, 0.25))[0].counts
    assert counts[("DRAM", "outputs", "write")] == 32          # the first (partial) arrival: dense
    assert counts[("DRAM", "outputs", "update")] == 8          # 32 final values x 0.25
    assert counts[("Dram", "outputs", "metadata_update")] == 2  # 8 runs x 4 bits = 32 bits = 2 words
    assert counts[("Dram", "outputs", "metadata_write")] == 8   # 32 dense partial sums x 4 bits = 8 words
    assert counts[("Buffer", "outputs", "write")] == dense[("Buffer", "outputs", "write")]
    unsplit = mapping_of(("DRAM", {}), ("Buffer", {"N": 4, "K": 8, "C": 64}), ("PE", {}))
    counts = evaluate_sparse(spec, nest, unsplit, statistical(1.0, 1.0, 0.25))[0].counts
    assert counts[("DRAM", "outputs", "write")] == 8 and ("DRAM", "outputs", "update") not in counts
