"""EIE engine: hand-traced layer, functional check on compressed weights, counts, passes, configs."""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

import numpy as np
import pytest

from energysim.config.hardware import HardwareFile
from energysim.engines.eie import EieEngine
from energysim.engines import ENGINES, build_engine
from energysim.engines.result import check_invariants
from energysim.errors import ConfigError, InputError, InvariantError
from energysim.hardware.hierarchy import build_hardware, load_hardware
from energysim.report.tables import energy_table
from energysim.workloads.layers import Conv2dLayer, GemmLayer, LinearLayer
from energysim.workloads.workload import LayerTensors, load_workload

ROOT = Path(__file__).resolve().parents[3]


def make_eie_hw(drop_unit: str | None = None, **engine):
    """The lecture-priced EIE hardware with engine keys overridden (e.g. n_pe=2)."""
    data = tomllib.loads((ROOT / "hwconfigs" / "eie-64pe-lecture.toml").read_text())
    data["engine"].update(engine)
    if drop_unit:
        data["units"] = [u for u in data["units"] if u["name"] != drop_unit]
    return build_hardware(HardwareFile.model_validate(data), "test-eie")


def engine_for(**engine):
    hw = make_eie_hw(**engine)
    return build_engine(hw), hw


def test_registered_under_kind_eie():
    """The registry maps kind 'eie' to EieEngine, whose docstring has a References section."""
    assert ENGINES["eie"] is EieEngine
    assert "References" in EieEngine.__doc__ and "ISCA 2016" in EieEngine.__doc__


def test_hand_traced_layer_cycles_counts_and_energy():
    """6x2 layer on 2 PEs, x=[1,2]: 12 cycles (compute 2, fill_drain 8, stall 2), bounds and 58.3 pJ on lecture costs.

    W rows: r0=[1,0], r2=[2,0], r4=[4,0] (PE0 local rows 0,1,2, column 0), r3=[0,3] (PE1 local row 1,
    column 1). Work per activation: PE0 = [3, 1 (empty slice)], PE1 = [1 (empty), 1].
    Trace (depth 8, the authors' timing): cycle 0 loads pack 0 (x0, x1; no pack-load gap, both in pack 0);
    b=1,2. PE0: s=2 f=5; s=max(3,5)=5 f=6. PE1: s=2 f=3; s=max(3,3)=3 f=4. T=6 (last entry).
    Cycles: compute ceil(4 entries / 2) = 2; fill_drain 3 + (4+1) = 8; stall 6+1-3-2 = 2; total 12
    (= T + pipeline_depth + 2).
    Busy PE0 4, PE1 2 over the 4-cycle window 3..6: starved [0, 2], busy fraction (Fig. 8) 6/8.
    Load-balance efficiency (the issue's definition): 4 useful MACs / (12 cycles x 2 PEs) = 1/6.
    Counts: Spmat lines 2 (one per PE), pointer reads 4, queue push 4 / pop 4, lookups 4, mult 4, add 4,
    accumulator read 4 / update 4, LNZD input reads 2.
    Compulsory bounds from the inputs: Spmat lines ceil(3/8) + ceil(1/8) = 2 (PE0 holds 3 entries of the
    active columns, PE1 1); queue pushes 2 PEs x 2 non-zero inputs = 4; multiplies: 3 weights in column 0
    x 1 + 1 in column 1 x 1 = 4 (non-zero weight, non-zero input) pairs.
    Energy (lecture): 2x10 + 4x5 + 8x1 + 4x0.5 + 4x0.775 + 4x0.05 + 10x0.5 = 58.3 pJ.
    """
    engine, hw = engine_for(n_pe=2)
    weights = np.zeros((6, 2))
    weights[[0, 2, 4], 0] = [1.0, 2.0, 4.0]
    weights[3, 1] = 3.0
    tensors = LayerTensors(weights=weights, activations=np.array([[1.0, 2.0]]))
    layer = LinearLayer(name="tiny", in_features=2, out_features=6)
    result = engine.simulate(layer, tensors, keep_output=True)
    check_invariants(result)
    assert result.cycles == {"compute": 2, "fill_drain": 8, "stall": 2, "total": 12}
    assert result.stats["cycles_busy_per_pe"] == [4, 2]
    assert result.stats["cycles_starved_per_pe"] == [0, 2]
    assert result.stats["busy_fraction"] == pytest.approx(0.75)
    assert result.stats["load_balance_efficiency"] == pytest.approx(1 / 6)
    bounds = {(b.component, b.actions): b.minimum for b in result.compulsory}
    assert bounds == {("SpmatSRAM", ("read",)): 2, ("ActQueue", ("push",)): 4, ("ArithmUnit", ("mult",)): 4}
    assert result.count("SpmatSRAM") == 2 and result.count("PtrSRAM") == 4
    assert result.count("ActQueue", action="push") == 4 and result.count("ActQueue", action="pop") == 4
    assert result.count("ArithmUnit", "-", "mult") == 4 and result.count("ArithmUnit", "padding") == 0
    assert result.count("ActRegFile", "outputs") == 8 and result.count("ActRegFile", "inputs") == 2
    assert result.macs == 4
    assert energy_table(result, hw)["energy_pj"].sum() == pytest.approx(58.3)
    assert result.stats["output"][:, 0].tolist() == pytest.approx([1.0, 0.0, 2.0, 6.0, 4.0, 0.0])


def test_functional_output_matches_dense_quantised_matvec():
    """Output from the compressed format equals numpy's dense product of the quantised weights (linear, batch 3)."""
    rng = np.random.default_rng(7)
    weights = rng.standard_normal((70, 90)) * (rng.random((70, 90)) < 0.2)
    activations = np.maximum(rng.standard_normal((1, 90)), 0.0)
    engine, _ = engine_for(n_pe=4)
    layer = LinearLayer(name="fc", in_features=90, out_features=70)
    tensors = LayerTensors(weights=weights, activations=activations)
    prepared = engine.prepare(layer, tensors)
    result = engine.simulate(layer, tensors, keep_output=True)
    check_invariants(result)
    quantised = prepared.codebook.decode(prepared.codebook.quantise(weights))
    expected = quantised @ activations[0]
    assert np.allclose(result.stats["output"][:, 0], expected, rtol=1e-12, atol=1e-12)
    active = activations[0] != 0
    assert result.macs == int(np.count_nonzero(weights[:, active]))


def test_conv_layer_lowered_to_gemm_matches_direct_convolution():
    """A 2->3 channel 3x3 conv (stride 2, pad 1) lowered by im2col equals a direct loop convolution."""
    rng = np.random.default_rng(3)
    layer = Conv2dLayer(name="conv", in_channels=2, out_channels=3, in_height=5, in_width=5,
                        kernel_height=3, kernel_width=3, stride=2, padding=1)
    weights = rng.standard_normal((3, 2, 3, 3)) * (rng.random((3, 2, 3, 3)) < 0.5)
    images = np.maximum(rng.standard_normal((1, 2, 5, 5)), 0.0)
    engine, _ = engine_for(n_pe=2)
    tensors = LayerTensors(weights=weights, activations=images)
    prepared = engine.prepare(layer, tensors)
    result = engine.simulate(layer, tensors, keep_output=True)
    check_invariants(result)
    q = prepared.codebook.decode(prepared.codebook.quantise(weights))
    padded = np.pad(images[0], ((0, 0), (1, 1), (1, 1)))
    expected = np.zeros((3, 3, 3))
    for o in range(3):
        for y in range(3):
            for x in range(3):
                expected[o, y, x] = np.sum(q[o] * padded[:, 2 * y:2 * y + 3, 2 * x:2 * x + 3])
    assert np.allclose(result.stats["output"].reshape(3, 3, 3), expected)
    assert result.stats["input_vectors"] == 9


def test_padding_is_wasted_work_not_macs():
    """A 40-row single-column layer with one non-zero at row 20 (1 PE) processes 2 entries, 1 useful MAC."""
    weights = np.zeros((40, 1))
    weights[20, 0] = 0.5
    engine, _ = engine_for(n_pe=1)
    result = engine.simulate(LinearLayer(name="pad", in_features=1, out_features=40),
                             LayerTensors(weights=weights, activations=np.ones((1, 1))))
    check_invariants(result)
    assert result.macs == 1
    assert result.count("ArithmUnit", "padding", "mult") == 1
    assert result.stats["padding_share"] == pytest.approx(0.5)


def test_zero_input_costs_nothing():
    """An all-zero input vector broadcasts nothing: 0 cycles, no queue, pointer or MAC counts."""
    engine, _ = engine_for(n_pe=4)
    result = engine.simulate(LinearLayer(name="z", in_features=8, out_features=8),
                             LayerTensors(weights=np.ones((8, 8)), activations=np.zeros((1, 8))))
    check_invariants(result)
    assert result.cycles["total"] == 0
    assert sum(result.counts.values()) == 0


def test_row_passes_and_input_batches_use_the_activation_sram():
    """With 4 accumulators per PE and 2 PEs, 20 outputs need 3 row passes and 12 inputs 2 SRAM batches."""
    rng = np.random.default_rng(5)
    weights = rng.standard_normal((20, 12)) * (rng.random((20, 12)) < 0.4)
    activations = rng.random((1, 12)) + 0.1
    engine, _ = engine_for(n_pe=2, activation_regfile_entries=4)
    layer = LinearLayer(name="big", in_features=12, out_features=20)
    tensors = LayerTensors(weights=weights, activations=activations)
    result = engine.simulate(layer, tensors, keep_output=True)
    check_invariants(result)
    assert result.stats["row_passes"] == 3 and result.stats["input_batches"] == 2
    assert result.count("ActSRAM", "outputs", "write") == 20
    assert result.count("ActSRAM", "inputs", "read") == 3 * 12
    assert result.count("PtrSRAM") == 3 * 12 * 2
    prepared = engine.prepare(layer, tensors)
    quantised = prepared.codebook.decode(prepared.codebook.quantise(weights))
    assert np.allclose(result.stats["output"][:, 0], quantised @ activations[0])


def test_synthetic_layer_is_seeded_and_at_density():
    """Synthetic layers repeat exactly for one seed, change with the seed, and sit at the layer's densities."""
    layer = LinearLayer(name="syn", in_features=2000, out_features=1000, weight_density=0.1, activation_density=0.3)
    first = engine_for(n_pe=16)[0].simulate(layer)
    again = engine_for(n_pe=16)[0].simulate(layer)
    other = engine_for(n_pe=16, seed=1)[0].simulate(layer)
    check_invariants(first)
    assert first.counts == again.counts and first.cycles == again.cycles
    assert first.cycles != other.cycles
    assert first.stats["activation_density_measured"] == pytest.approx(0.3)
    assert first.stats["weight_density_measured"] == pytest.approx(0.1, rel=0.02)
    assert first.stats["synthetic_weights"] and first.stats["synthetic_inputs"]


def test_gemm_columns_are_processed_in_turn():
    """A gemm with n=3 costs the sum of its three columns run as batch-1 layers (same weights, each column)."""
    rng = np.random.default_rng(9)
    weights = rng.standard_normal((16, 10)) * (rng.random((16, 10)) < 0.5)
    inputs = (rng.random((10, 3)) < 0.6) * rng.random((10, 3))
    engine, _ = engine_for(n_pe=4)
    gemm = engine.simulate(GemmLayer(name="g", m=16, n=3, k=10),
                           LayerTensors(weights=weights, activations=inputs[None, :, :]))
    total = 0
    for c in range(3):
        single = engine.simulate(LinearLayer(name="l", in_features=10, out_features=16),
                                 LayerTensors(weights=weights, activations=inputs[:, c][None, :]))
        total += single.cycles["total"]
    assert gemm.cycles["total"] == total


def test_deeper_queue_never_slower():
    """On a synthetic Alex-7-like layer, cycles do not increase with queue depth (1, 2, 8, 64)."""
    layer = LinearLayer(name="a7", in_features=1024, out_features=1024, weight_density=0.09, activation_density=0.35)
    cycles = [engine_for(n_pe=16, queue_depth=d)[0].simulate(layer).cycles["total"] for d in (1, 2, 8, 64)]
    assert cycles == sorted(cycles, reverse=True)
    assert cycles[0] > cycles[-1]


def test_config_rejects_unknown_keys_and_bad_line_width():
    """The [engine] table is strict: an unknown key, the removed arithmetic_bits and a 60-bit line raise ConfigError."""
    with pytest.raises(ConfigError, match="queue_dept"):
        build_engine(make_eie_hw(queue_dept=4))
    with pytest.raises(ConfigError, match="arithmetic_bits"):
        build_engine(make_eie_hw(arithmetic_bits=16))
    with pytest.raises(ConfigError, match="spmat_line_bits"):
        build_engine(make_eie_hw(spmat_line_bits=60))


def test_line_width_must_match_the_spmat_sram_word():
    """A 128-bit spmat_line_bits on hardware whose SpmatSRAM level has 64-bit words raises ConfigError naming both."""
    with pytest.raises(ConfigError, match=r"engine\.spmat_line_bits must equal the word_bits of memory level 'SpmatSRAM'"
                                          r".*\(got 128 and 64\)"):
        build_engine(make_eie_hw(spmat_line_bits=128))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_activations_raise(bad):
    """A NaN or infinite activation reaching the engine raises InputError naming the layer and the finiteness rule.

    LayerTensors checks its arrays when built; the value is written in place afterwards, which the
    engine must catch itself (otherwise it counts NaN as a non-zero and returns a NaN output).
    """
    engine, _ = engine_for(n_pe=2)
    activations = np.ones((2, 4))
    tensors = LayerTensors(weights=np.eye(4), activations=activations)
    activations[1, 2] = bad
    layer = LinearLayer(name="nan-in", in_features=4, out_features=4)
    with pytest.raises(InputError, match=r"layer 'nan-in': calibration activations must be finite \(got 1 NaN or inf"):
        engine.simulate(layer, tensors)


def test_non_finite_weights_and_prepared_inputs_raise():
    """A NaN weight written after LayerTensors checked it, or a NaN in a prepared layer's inputs, raises InputError."""
    engine, _ = engine_for(n_pe=2)
    layer = LinearLayer(name="nan-w", in_features=4, out_features=4, weight_density=0.5, activation_density=0.5)
    weights = np.eye(4)
    tensors = LayerTensors(weights=weights)
    weights[0, 1] = np.nan
    with pytest.raises(InputError, match=r"layer 'nan-w': weights must be finite"):
        engine.simulate(layer, tensors)
    prepared = engine.prepare(layer)
    inputs = prepared.inputs.copy()
    inputs[0, 0] = np.nan
    with pytest.raises(InputError, match=r"layer 'nan-w': prepared input activations must be finite"):
        engine.simulate(layer, prepared=dataclasses.replace(prepared, inputs=inputs))


def test_misspelled_option_is_refused():
    """simulate takes no catch-all options: a misspelled keep_output is an InputError naming it, there and in run_workload."""
    from energysim.simulate import run_workload

    engine, hw = engine_for(n_pe=2)
    layer = LinearLayer(name="opt", in_features=4, out_features=4, weight_density=0.5, activation_density=0.5)
    with pytest.raises(InputError, match="has no option 'keep_outptu' \\(it takes: keep_output, prepared\\)"):
        engine.simulate(layer, keep_outptu=True)
    workload = load_workload(ROOT / "workloads" / "eie-table3.toml")
    with pytest.raises(InputError, match="has no option 'keep_outptu'"):
        run_workload(workload, hw, keep_outptu=True)


def test_compulsory_bounds_come_from_the_inputs_not_the_counts():
    """With 3 row passes the bounds sit below the counts, the MAC bound equals the dense pair count and binds.

    20x12 layer, 2 PEs, 4 accumulators per PE (3 row passes): queue pushes are 3 passes x 2 PEs x 12
    non-zero inputs = 72, the bound 2 x 12 = 24; useful multiplies equal the (non-zero weight, non-zero
    input) pairs counted from the dense array, and one multiply fewer breaks the invariant. The bound is
    the same when it is recovered by decoding the format (a prepared layer without column_nonzeros).
    """
    rng = np.random.default_rng(5)
    weights = rng.standard_normal((20, 12)) * (rng.random((20, 12)) < 0.4)
    activations = rng.random((1, 12)) + 0.1
    engine, _ = engine_for(n_pe=2, activation_regfile_entries=4)
    layer = LinearLayer(name="big", in_features=12, out_features=20)
    tensors = LayerTensors(weights=weights, activations=activations)
    result = engine.simulate(layer, tensors)
    check_invariants(result)
    bounds = {b.component: b.minimum for b in result.compulsory}
    pairs = int(np.count_nonzero(weights[:, activations[0] != 0]))
    assert bounds == {"SpmatSRAM": bounds["SpmatSRAM"], "ActQueue": 24, "ArithmUnit": pairs}
    assert result.count("ActQueue", action="push") == 72
    assert 0 < bounds["SpmatSRAM"] <= result.count("SpmatSRAM")
    assert result.macs == pairs
    result.counts[("ArithmUnit", "-", "mult")] -= 1
    with pytest.raises(InvariantError, match="ArithmUnit - mult"):
        check_invariants(result)
    prepared = dataclasses.replace(engine.prepare(layer, tensors), column_nonzeros=None)
    again = engine.simulate(layer, prepared=prepared)
    assert [b.minimum for b in again.compulsory] == [b.minimum for b in engine.simulate(layer, tensors).compulsory]


def test_hardware_must_price_every_count():
    """Hardware without ActQueue units is rejected when the engine is built, naming the missing cost."""
    with pytest.raises(ConfigError, match="ActQueue.push"):
        build_engine(make_eie_hw(drop_unit="ActQueue"))


def test_weight_shape_mismatch_raises():
    """Weights that do not reshape to the layer's (M, K) raise InputError naming the layer."""
    engine, _ = engine_for(n_pe=2)
    with pytest.raises(InputError, match="layer 'bad'"):
        engine.simulate(LinearLayer(name="bad", in_features=3, out_features=4), LayerTensors(weights=np.ones((4, 5))))


def test_bundled_table3_layers_pass_invariants_on_both_hwconfigs():
    """Alex-7, NT-We and NT-Wd from the bundled workload run on both bundled EIE hwconfigs with invariants intact."""
    workload = load_workload(ROOT / "workloads" / "eie-table3.toml")
    layers = {layer.name: layer for layer in workload.layers}
    for name in ("eie-64pe", "eie-64pe-lecture"):
        hw = load_hardware(ROOT / "hwconfigs" / f"{name}.toml")
        engine = build_engine(hw)
        for layer_name in ("Alex-7", "NT-We", "NT-Wd"):
            result = engine.simulate(layers[layer_name])
            check_invariants(result)
            assert energy_table(result, hw)["energy_pj"].sum() > 0
            assert result.macs_peak_per_cycle == 64


def test_workload_with_npz_tensors_runs_through_run_workload(tmp_path):
    """A workload file with real weights, mask and activations in an .npz runs end to end on eie-64pe-lecture."""
    from energysim.simulate import run_workload

    rng = np.random.default_rng(11)
    weights = rng.standard_normal((128, 200))
    mask = (rng.random((128, 200)) < 0.1).astype(np.int8)
    activations = np.maximum(rng.standard_normal((4, 200)), 0.0)
    np.savez(tmp_path / "t.npz", w=weights, m=mask, a=activations)
    (tmp_path / "w.toml").write_text(
        'schema_version = 1\nname = "tiny"\ntensors_file = "t.npz"\n\n[[layers]]\nkind = "linear"\nname = "fc"\n'
        'in_features = 200\nout_features = 128\nweight_key = "w"\nmask_key = "m"\nactivations_key = "a"\n'
    )
    workload = load_workload(tmp_path / "w.toml")
    run = run_workload(workload, load_hardware(ROOT / "hwconfigs" / "eie-64pe-lecture.toml"))
    result = run.results[0]
    assert not result.stats["synthetic_weights"] and not result.stats["synthetic_inputs"]
    assert result.stats["weight_density_measured"] == pytest.approx(mask.mean())
    assert run.totals()["energy_pj"] > 0


@pytest.mark.parametrize(("inputs", "lines"), [([1, 1, 1], 3), ([1, 0, 1], 2), ([0, 1, 1], 3), ([0, 0, 1], 1)])
def test_line_reads_reuse_the_held_line(inputs, lines):
    """1 PE, columns of 3, 14 and 3 entries at addresses [0,3), [3,17), [17,20): 8-entry lines read once each when entered.

    Lines: column 0 -> line 0; column 1 -> lines 0-2; column 2 -> line 2.
    All active: 1 + (3 - 1 held) + (1 - 1 held) = 3. Columns 0 and 2: 1 + 1 (line 2 not held) = 2.
    Columns 1 and 2: 3 + 0 = 3. Column 2 alone: 1.
    """
    weights = np.zeros((16, 3))
    weights[:3, 0] = 1.0
    weights[:14, 1] = 2.0
    weights[:3, 2] = 3.0
    engine, _ = engine_for(n_pe=1)
    result = engine.simulate(LinearLayer(name="lines", in_features=3, out_features=16),
                             LayerTensors(weights=weights, activations=np.array([inputs], dtype=float)))
    check_invariants(result)
    assert result.count("SpmatSRAM", "weights", "read") == lines


def test_prepared_layer_must_match_engine_and_layer():
    """Reusing a layer prepared for 4 PEs on a 2-PE engine, or for another layer, raises InputError."""
    layer = LinearLayer(name="p", in_features=20, out_features=16, weight_density=0.3, activation_density=0.5)
    prepared = engine_for(n_pe=4)[0].prepare(layer)
    with pytest.raises(InputError, match="must match the engine's 2 PEs"):
        engine_for(n_pe=2)[0].simulate(layer, prepared=prepared)
    other = LinearLayer(name="q", in_features=21, out_features=16)
    with pytest.raises(InputError, match="K=21"):
        engine_for(n_pe=4)[0].simulate(other, prepared=prepared)


def test_prepared_layer_must_match_the_engines_bit_widths():
    """A layer prepared with 4-bit v and z run on an 8-bit engine is refused naming the widths (it ran, miscounted, before)."""
    layer = LinearLayer(name="p", in_features=20, out_features=64, weight_density=0.1, activation_density=0.5)
    prepared = engine_for(n_pe=4)[0].prepare(layer)
    wide, _ = engine_for(n_pe=4, index_bits=8, value_bits=8)
    with pytest.raises(InputError, match=r"index_bits, value_bits and pointer_bits \(8, 8, 16\) \(got 4, 4, 16\)"):
        wide.simulate(layer, prepared=prepared)
    assert wide.simulate(layer, prepared=wide.prepare(layer)).cycles["total"] > 0


def test_small_work_budget_gives_the_same_result(monkeypatch):
    """Stepping lanes and computing the line-read bound in tiny blocks (budget 8 elements) changes no figure."""
    import energysim.engines.eie.lanes as lanes_module

    rng = np.random.default_rng(13)
    weights = rng.standard_normal((24, 10)) * (rng.random((24, 10)) < 0.3)
    inputs = (rng.random((10, 5)) < 0.5) * rng.random((10, 5))
    layer = GemmLayer(name="g", m=24, n=5, k=10)
    tensors = LayerTensors(weights=weights, activations=inputs[None, :, :])
    engine, _ = engine_for(n_pe=3, activation_regfile_entries=4)
    whole = engine.simulate(layer, tensors)
    monkeypatch.setattr(lanes_module, "WORK_BUDGET_ELEMENTS", 8)
    monkeypatch.setattr(lanes_module, "INDEX_BUDGET_ELEMENTS", 8)
    blocked = engine.simulate(layer, tensors)
    check_invariants(blocked)
    assert blocked.counts == whole.counts and blocked.cycles == whole.cycles
    assert [b.minimum for b in blocked.compulsory] == [b.minimum for b in whole.compulsory]


def test_working_memory_over_budget_is_refused_before_allocating(monkeypatch):
    """A 65536^3 GEMM (its 4.3 G dense weights take over 24 GiB encoded) is refused in GiB naming the budget; a 1 KB budget refuses a 64x64 layer."""
    engine, _ = engine_for()
    with pytest.raises(InputError, match=r"layer 'huge': the eie engine would hold up to ([2-9]\d|\d{3,})\.\d GiB .*ENERGYSIM_ARRAY_BYTES"):
        engine.simulate(GemmLayer(name="huge", m=65536, n=65536, k=65536))
    small = LinearLayer(name="small", in_features=64, out_features=64, weight_density=0.5, activation_density=0.5)
    engine.simulate(small)
    monkeypatch.setenv("ENERGYSIM_ARRAY_BYTES", "1000")
    with pytest.raises(InputError, match="layer 'small'"):
        engine.simulate(small)


def test_already_quantised_layer_keeps_its_codebook_and_output():
    """A layer given as codebook[codes] (15 values, Deep Compression style) runs with that codebook: exact output.

    No re-clustering: the engine's codebook equals [0, *table] and the output equals the float64 product of
    the given weights to 1e-12, although the table is skewed enough that k-means would merge its small values.
    """
    rng = np.random.default_rng(11)
    table = np.concatenate((np.linspace(-0.07, -0.01, 7), np.linspace(0.01, 0.07, 7), [1.5]))
    codes = rng.integers(0, 16, size=(40, 30)) * (rng.random((40, 30)) < 0.3)
    weights = np.where(codes > 0, table[np.maximum(codes, 1) - 1], 0.0)
    activations = np.maximum(rng.standard_normal((1, 30)), 0.0)
    engine, _ = engine_for(n_pe=4)
    layer = LinearLayer(name="dc", in_features=30, out_features=40)
    result = engine.simulate(layer, LayerTensors(weights=weights, activations=activations), keep_output=True)
    check_invariants(result)
    assert result.stats["codebook"] == [0.0, *table.tolist()]
    assert np.allclose(result.stats["output"][:, 0], weights @ activations[0], rtol=1e-12, atol=1e-12)


def test_grouped_conv_and_batched_matmul_are_refused_with_eie_reasons():
    """EIE refuses a depthwise conv and an activation x activation matmul per layer, each with why EIE cannot map it."""
    from energysim.errors import UnsupportedError
    from energysim.workloads.layers import BatchedMatmulLayer, GroupedConv2dLayer

    engine, _ = engine_for()
    dw = GroupedConv2dLayer(name="dw", groups=8, in_channels=8, out_channels=8, in_height=6, in_width=6,
                            kernel_height=3, kernel_width=3, padding=1)
    with pytest.raises(UnsupportedError, match=r"layer 'dw': .*grouped_conv2d is 8 separate matrices of 1 row, "):
        engine.simulate(dw)
    attn = BatchedMatmulLayer(name="qk", batch=2, m=4, n=4, k=8)
    with pytest.raises(UnsupportedError, match=r"layer 'qk': .*multiplies two activations, so there is no weight matrix"):
        engine.simulate(attn)


def test_prepared_option_must_be_a_prepared_layer():
    """`prepared` takes a PreparedLayer (kept as the same object) or None; anything else is one InputError naming it."""
    layer = LinearLayer(name="p", in_features=8, out_features=8, weight_density=0.5, activation_density=0.5)
    engine, _ = engine_for(n_pe=2)
    with pytest.raises(InputError, match="prepared must be a PreparedLayer from EieEngine.prepare \\(got int\\)"):
        engine.simulate(layer, prepared=5)
    prepared = engine.prepare(layer)
    assert engine.simulate(layer, prepared=prepared).cycles == engine.simulate(layer).cycles
