"""Dense engine: hand-computed energy, fold formula, and cycle-level vs fast-path equality."""

from __future__ import annotations

import itertools

import pytest

from energysim.engines.dense.schedule import dram_words, tiles
from energysim.engines.dense.tiler import choose_tiling
from energysim.engines import build_engine
from energysim.engines.result import check_invariants
from energysim.errors import ConfigError, InputError, UnsupportedError
from energysim.report.tables import energy_table
from energysim.workloads.layers import Conv2dLayer, GemmLayer, LinearLayer
from tests.conftest import make_dense_hw

LECTURE_PRICES = {(role, action): pj for role, pj in (("dram", 640.0), ("sram", 5.0), ("rf", 1.0))
                  for action in ("read", "write", "fill", "update")}
"""The lecture table's pJ per access of make_dense_hw's levels, by (level role, action)."""


def test_tiny_gemm_energy_by_hand(dense_hw):
    """A 4x4x4 GEMM on a 4x4 OS array, DRAM -> 64 KB SRAM -> RF, lecture costs, is 31,894.4 pJ and 13 cycles.

    One SRAM tile, one fold. DRAM: 16 weight + 16 input reads, 16 output writes = 48 x 640 = 30,720 pJ.
    SRAM (5 pJ): 32 fills, 16 + 16 operand reads to the array edge, 16 output writes, 16 output
    reads for the writeback = 96 x 5 = 480 pJ. RF (1 pJ): per MAC a weight fill+read, an input fill+read
    and an accumulator read+update (6 x 64 = 384) plus 16 output reads at drain = 400 pJ.
    MAC: 64 x (3.7 + 0.9) = 294.4 pJ. Total 31,894.4 pJ.
    Cycles: fetch 32 words at 16/cycle = 2, fold 4 + 4 + 4 - 2 = 10, writeback 16 words = 1: 13.
    """
    engine = build_engine(dense_hw)
    result = engine.simulate(GemmLayer(name="g", m=4, n=4, k=4))
    check_invariants(result)
    energy = energy_table(result, dense_hw)
    assert energy["energy_pj"].sum() == pytest.approx(31894.4, rel=1e-12)
    by_level = energy.groupby("component")["energy_pj"].sum()
    assert by_level["DRAM"] == pytest.approx(30720.0)
    assert by_level["SRAM"] == pytest.approx(480.0)
    assert by_level["RF"] == pytest.approx(400.0)
    assert by_level["MAC"] == pytest.approx(294.4)
    assert result.cycles == {"compute": 4, "fill_drain": 9, "stall": 0, "total": 13}


@pytest.mark.parametrize("dataflow", ["output_stationary", "weight_stationary"])
@pytest.mark.parametrize("array", [(2, 2), (3, 5), (4, 4)])
@pytest.mark.parametrize("shape", [(1, 1, 1), (4, 4, 4), (7, 3, 10), (9, 17, 5), (16, 2, 33)])
@pytest.mark.parametrize("bandwidth", [(8, 16, 65536), (1, 1, 1024), (2, 0.5, 256)])
def test_cycle_path_equals_fast_path(dataflow, array, shape, bandwidth):
    """The cycle-level path and the fast path give identical counts and cycles (incl. stalls, multi-tile SRAM)."""
    sram_bw, dram_bw, sram_bytes = bandwidth
    hw = make_dense_hw(array[0], array[1], dataflow, sram_bytes=sram_bytes, sram_bw=sram_bw, dram_bw=dram_bw)
    engine = build_engine(hw)
    layer = GemmLayer(name="g", m=shape[0], n=shape[1], k=shape[2])
    fast = engine.simulate(layer, path="fast")
    cycle = engine.simulate(layer, path="cycle")
    assert fast.counts == cycle.counts
    assert fast.cycles == cycle.cycles
    assert fast.stats == cycle.stats
    check_invariants(fast)


def test_equality_grid_exercises_stalls_and_tiles():
    """The equality grid's small-bandwidth corner really stalls and really tiles (so the grid is not vacuous)."""
    hw = make_dense_hw(3, 5, "output_stationary", sram_bytes=256, sram_bw=2, dram_bw=0.5)
    result = build_engine(hw).simulate(GemmLayer(name="g", m=9, n=17, k=5), path="cycle")
    assert result.stats["tiles"] > 1
    assert result.stats["cycles_sram_stall"] > 0
    assert result.stats["cycles_dram_wait"] > 0


@pytest.mark.parametrize("m,n,k,rows,cols", [(64, 64, 64, 16, 16), (100, 37, 250, 16, 16), (33, 65, 17, 8, 4)])
def test_output_stationary_fold_formula(m, n, k, rows, cols):
    """With ample bandwidth and one SRAM tile, OS array cycles = folds x (K + rows + cols - 2)."""
    hw = make_dense_hw(rows, cols, "output_stationary", sram_bytes=1 << 24, sram_bw=1e6, dram_bw=1e6)
    result = build_engine(hw).simulate(GemmLayer(name="g", m=m, n=n, k=k))
    assert result.stats["tiles"] == 1
    folds = -(-m // rows) * -(-n // cols)
    assert result.cycles["compute"] + result.stats["cycles_skew"] == folds * (k + rows + cols - 2)
    assert result.cycles["stall"] == 0


def test_macs_and_compulsory_traffic_on_conv():
    """A conv layer executes M*N*K MACs and reads at least every weight and im2col input once from DRAM."""
    hw = make_dense_hw(8, 8, "weight_stationary", sram_bytes=16384)
    layer = Conv2dLayer(name="c", in_channels=3, out_channels=16, in_height=12, in_width=12,
                        kernel_height=3, kernel_width=3, padding=1)
    result = build_engine(hw).simulate(layer)
    shape = layer.gemm_shape()
    assert result.macs == shape.m * shape.n * shape.k == 16 * 144 * 27
    check_invariants(result)
    assert result.count("DRAM", "weights", "read") >= shape.m * shape.k
    assert result.count("DRAM", "outputs", "write") == shape.m * shape.n


def test_dram_traffic_matches_closed_form():
    """DRAM words moved by the schedule equal the closed-form residency formula."""
    hw = make_dense_hw(4, 4, "output_stationary", sram_bytes=2048)
    layer = GemmLayer(name="g", m=40, n=24, k=70)
    result = build_engine(hw).simulate(layer)
    moved = sum(result.count("DRAM", t) for t in ("weights", "inputs", "outputs"))
    assert moved == result.stats["dram_words_closed_form"]


def test_tiling_fits_sram_double_buffered():
    """Every chosen tiling fits the SRAM with all three buffers doubled."""
    for m, n, k in itertools.product((5, 64, 300), (1, 50, 512), (9, 128, 1000)):
        tiling = choose_tiling(m, n, k, 4, 4, "output_stationary", 4096, LECTURE_PRICES, 16.0).tiling
        assert 2 * (tiling.m * tiling.k + tiling.k * tiling.n + tiling.m * tiling.n) <= 4096
        schedule = tiles(m, n, k, tiling)
        weights, inputs, outputs = dram_words(m, n, k, tiling)
        assert schedule.fetch_weights.sum() == weights
        assert schedule.fetch_inputs.sum() == inputs
        assert schedule.writeback.sum() == outputs


def test_sram_too_small_is_refused():
    """An SRAM that cannot hold the smallest tile is refused naming the field, the layer and both sizes.

    Smallest OS tile on 4x4: Mt = Nt = 4, Kt = 1: 2 (4 + 4 + 16) = 48 words; 64 bytes hold 16.
    """
    hw = make_dense_hw(4, 4, sram_bytes=64)
    with pytest.raises(UnsupportedError, match=r"memory\[1\]\.capacity_bytes must hold the smallest double-buffered "
                                               r"tile of layer 'g' \(48 words .*\(got 64 bytes = 16 words\)"):
        build_engine(hw).simulate(GemmLayer(name="g", m=64, n=64, k=64))
    with pytest.raises(UnsupportedError, match=r"cannot hold even the smallest double-buffered tile \(48 words\)"):
        choose_tiling(64, 64, 64, 4, 4, "output_stationary", 16, LECTURE_PRICES, 16.0)


def test_array_side_is_bounded():
    """rows or cols above 65,536 is refused by the engine table, naming the key (a 1e9 x 1e9 array would exhaust memory)."""
    with pytest.raises(ConfigError, match="rows"):
        build_engine(make_dense_hw(1_000_000_000, 4))


def test_unknown_path_is_refused(dense_hw):
    """path must be 'fast' or 'cycle': one line naming the option, its values and the value given."""
    with pytest.raises(InputError, match=r"engine 'dense' of hardware .*: path must be one of fast, cycle \(got 'slow'\)"):
        build_engine(dense_hw).simulate(LinearLayer(name="l", in_features=4, out_features=4), path="slow")


def test_dense_engine_ignores_weight_sparsity(dense_hw):
    """A dense array executes every MAC whatever the weight density."""
    engine = build_engine(dense_hw)
    dense = engine.simulate(LinearLayer(name="l", in_features=64, out_features=32))
    sparse = engine.simulate(LinearLayer(name="l", in_features=64, out_features=32, weight_density=0.1))
    assert dense.counts == sparse.counts and dense.cycles == sparse.cycles


def test_register_file_too_small_is_refused():
    """A register file that cannot hold a weight, an input and a partial sum per PE is refused at build time."""
    from energysim.config.hardware import HardwareFile
    from energysim.hardware.hierarchy import build_hardware

    spec = make_dense_hw()
    data = {
        "schema_version": 1, "name": "tiny-rf", "clock_ghz": 1.0, "cost_table": "lecture-45nm",
        "engine": {"kind": "dense", "rows": 2, "cols": 2},
        "memory": [lvl.config.model_dump() for lvl in spec.levels],
        "units": [{"name": "MAC", "action": a, "table_component": f"float_{a}", "bits": 32} for a in ("mult", "add")],
    }
    data["memory"][2]["capacity_bytes"] = 8
    hw = build_hardware(HardwareFile.model_validate(data), "tiny-rf.toml")
    with pytest.raises(UnsupportedError, match="capacity_bytes must hold the 3 words a PE keeps .* \\(got 8 bytes = 2 words\\)"):
        build_engine(hw)


def test_storage_fit_says_which_tensor_does_not_fit_the_sram():
    """64 KB SRAM (16,384 32-bit words): 128x256 weights and 256x128 inputs (32,768 words) do not fit; 128x128 outputs fit exactly."""
    engine = build_engine(make_dense_hw(sram_bytes=65536))
    result = engine.simulate(GemmLayer(name="g", m=128, n=128, k=256))
    check_invariants(result)
    fits = {f.tensor: f for f in result.storage_fit}
    assert fits["weights"].needed_bits == 128 * 256 * 32 and not fits["weights"].fits
    assert fits["inputs"].needed_bits == 256 * 128 * 32 and not fits["inputs"].fits
    assert fits["outputs"].needed_bits == 128 * 128 * 32 == fits["outputs"].capacity_bits and fits["outputs"].fits
    assert {f.level for f in result.storage_fit} == {"SRAM"}
    assert result.weights_on_chip is False and result.spilled == "weights>SRAM,inputs>SRAM"
    small = engine.simulate(GemmLayer(name="s", m=16, n=16, k=16))
    assert small.weights_on_chip is True and small.spilled == ""
