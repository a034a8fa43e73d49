"""Bundled sparse loop-nest designs: they load, reduce to their dense counterparts, and cross-check sparse_tc and eie."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

import energysim
from energysim.cli import main
from energysim.engines.loopnest.analysis import evaluate
from energysim.engines.loopnest.mapping import LevelLoops, Mapping, default_mapping
from energysim.engines import build_engine
from energysim.engines.result import check_invariants
from energysim.errors import UnsupportedError
from energysim.workloads.layers import Conv2dLayer, GemmLayer, LinearLayer
from energysim.workloads.workload import LayerTensors, Workload

SPARSE_DESIGNS = ["eyeriss-like-gating", "eyeriss-v2-like-skipping", "sparse-tc-like-2-4", "eie-like-loopnest"]
CONV3 = Conv2dLayer(name="conv3", in_channels=256, out_channels=384, in_height=13, in_width=13,
                    kernel_height=3, kernel_width=3, padding=1)


@pytest.mark.parametrize("name", ["eyeriss-like-gating", "eyeriss-v2-like-skipping"])
def test_eyeriss_designs_at_density_one_equal_eyeriss_like(name: str) -> None:
    """At density 1 both Eyeriss-based sparse files give eyeriss-like's counts and compute cycles (metadata aside).

    Both run eyeriss-like's default mapping (it fits eyeriss-v2-like's larger scratchpads with their metadata).
    """
    base = build_engine(energysim.hardware("eyeriss-like"))
    mapping = default_mapping(base.spec, CONV3.loop_nest())
    dense = base.simulate(CONV3, mapping=mapping)
    sparse = build_engine(energysim.hardware(name)).simulate(CONV3, mapping=mapping)
    data = {k: v for k, v in sparse.counts.items() if not k[2].startswith("metadata_") and k[2] != "leak"}
    assert data == dense.counts
    assert sparse.cycles["compute"] == dense.cycles["compute"] and sparse.macs == dense.macs
    assert sparse.cycles["total"] >= dense.cycles["total"]       # metadata words take bandwidth too


@pytest.mark.parametrize("name", SPARSE_DESIGNS)
def test_sparse_designs_run_a_sparse_layer(name: str) -> None:
    """Each design runs a 30 %-weight, 50 %-input layer with valid counts; less energy than at density 1 (0.5 for 2:4,
    whose slots are fixed: the same energy)."""
    layer = LinearLayer(name="fc", in_features=256, out_features=128, batch=4)
    sparse = layer.model_copy(update={"weight_density": 0.3, "activation_density": 0.5})
    engine = build_engine(energysim.hardware(name))
    if name == "sparse-tc-like-2-4":
        layer = layer.model_copy(update={"weight_density": 0.5})
    full = engine.simulate(layer, mapping="default")
    thin = engine.simulate(sparse, mapping="default")
    check_invariants(thin)
    priced = lambda r: sum(v * engine.spec.prices[(c, a)] for (c, _, a), v in r.counts.items())  # noqa: E731
    if name == "sparse-tc-like-2-4":
        assert priced(thin) == priced(full)          # two slots of four stored and multiplied at any density
    else:
        assert priced(thin) < priced(full)
    assert thin.stats["density_model"] == "statistical (uniform random)"


def test_eyeriss_gating_saves_energy_not_cycles() -> None:
    """eyeriss-like-gating on AlexNet CONV3 with 50 % zero inputs: half the MACs and PE weight reads gated, same cycles."""
    workload = Workload("one", (CONV3.model_copy(update={"activation_density": 0.5}),))
    dense = energysim.simulate("eyeriss-like", workload, mapping="default").results[0]
    gated = energysim.simulate("eyeriss-like-gating", workload, mapping="default").results[0]
    assert gated.count("MAC", action="gated_mac") == dense.macs // 2
    assert gated.count("PESparse", "weights", "gated_read") == dense.count("PE", "weights", "read") // 2
    assert gated.cycles["compute"] == dense.cycles["compute"]
    assert gated.count("DRAM", "inputs", "read") == dense.count("DRAM", "inputs", "read") // 2


def gemm_mapping(spec) -> Mapping:
    """sparse-tc-like-2-4, GEMM 256 x 128 x 512: DRAM runs no loop (each operand read once), 16 x 16 MACs over K and N."""
    return Mapping((LevelLoops("DRAM"),
                    LevelLoops("GlobalBuffer", temporal=(("K", 16), ("N", 8), ("C", 512)),
                               spatial_x=(("K", 16),), spatial_y=(("N", 16),))), source="test")


def two_four_mask(rng: np.random.Generator, rows: int, cols: int) -> np.ndarray:
    """A random 2:4 mask along the columns (two kept of every four)."""
    keep = np.zeros((rows, cols // 4, 4), dtype=bool)
    order = rng.random((rows, cols // 4, 4)).argsort(axis=2)
    np.put_along_axis(keep, order[:, :, :2], True, axis=2)
    return keep.reshape(rows, cols)


@pytest.mark.parametrize(("real", "density"), [(False, 0.5), (False, 0.3), (True, 0.5)])
def test_sparse_tc_like_matches_sparse_tc_engine(real: bool, density: float) -> None:
    """Same 2:4 GEMM: DRAM/HBM weight-value, metadata and input bits and the MAC count agree with the sparse_tc engine.

    At weight density 0.3 both still store and multiply two slots of every four.

    Only the off-chip traffic is compared: the array reads each operand once from
    DRAM here, as the A100 does for a GEMM whose operands fit its 40 MB L2 (the
    sparse_tc engine's HBM counts); on-chip traffic differs by construction (GPU
    tiles, warp-wide registers, L2 sectors vs one buffer and a MAC array).
    """
    layer = GemmLayer(name="g", m=256, n=128, k=512, weight_density=density)
    gpu = energysim.simulate("a100:sparse_2_4", Workload("g", (layer,))).results[0]
    engine = build_engine(energysim.hardware("sparse-tc-like-2-4"))
    tensors = None
    if real:
        rng = np.random.default_rng(0)
        tensors = LayerTensors(rng.standard_normal((256, 512)) * two_four_mask(rng, 256, 512))
    ours = engine.simulate(layer, tensors, mapping=gemm_mapping(engine.spec))
    sector_bits = 256
    assert ours.count("DRAM", "weights", "read") * 16 == gpu.count("HBM", "weights", "read") * sector_bits
    assert ours.count("DRAMMeta", "weights", "metadata_read") * 16 == gpu.count("HBM", "metadata", "read") * sector_bits
    assert ours.count("DRAM", "inputs", "read") * 16 == gpu.count("HBM", "inputs", "read") * sector_bits
    assert ours.macs == gpu.macs == 256 * 128 * 512 // 2
    assert ours.cycles["compute"] == 256 * 128 * 512 // 2 // 256
    assert ours.stats["density_model"] == ("real weights, statistical inputs" if real else "statistical (uniform random)")


def test_eie_like_matches_eie_engine() -> None:
    """Same fc layer and tensors: weight entries read and MACs equal the eie engine's; pointer storage and reads relate.

    Pointers: both store 16 bits x (512 columns + 1) per PE. The eie engine reads a
    32-bit pointer pair per (non-zero activation, PE); the loop nest reads each
    16-bit offset once per column pass, scaled like the entries by the share of
    non-zero weights that meet a non-zero input (Sparseloop's rule 13). So ours is
    half the eie engine's pointer bits times 513/512, up to the difference between
    the weight-weighted and the per-column share of non-zero inputs: with about 64
    weights per column (coefficient of variation 0.11) that difference has a
    standard deviation of sqrt(0.24 / 512) x 0.11 = 0.0023 on a share of 0.39
    (0.6 %); 5 % is a bound of about 8 sigma. Cycles differ by design (queues and
    broadcast in the eie engine, docs/engines/sparse.md).
    """
    rng = np.random.default_rng(5)
    weights = rng.standard_normal((256, 512)) * (rng.random((256, 512)) < 0.25)
    acts = rng.standard_normal((1, 512)) * (rng.random((1, 512)) < 0.4)
    tensors = LayerTensors(weights, activations=acts)
    layer = LinearLayer(name="fc", in_features=512, out_features=256)
    eie = build_engine(energysim.hardware("eie-64pe")).simulate(layer, tensors)
    engine = build_engine(energysim.hardware("eie-like-loopnest"))
    mapping = Mapping((LevelLoops("DRAM", spatial_x=(("K", 64),)),
                       LevelLoops("SpmatSRAM", temporal=(("K", 4), ("C", 512))), LevelLoops("ActSRAM")), source="test")
    ours = engine.simulate(layer, tensors, mapping=mapping)
    effectual = int(((weights != 0) & (acts[0] != 0)[None, :]).sum())
    assert eie.stats["padding_processed"] == 0          # no zero-run padding entries at this density
    entries = ours.count("SpmatSRAM", "weights", "read")
    assert entries == eie.stats["entries_processed"] == effectual
    assert ours.macs == eie.macs == effectual
    assert eie.stats["storage_bits"]["pointers"] == 16 * (512 + 1) * 64
    pointer_bits = ours.count("SpmatMeta", "weights", "metadata_read") * 4 - 4 * entries
    eie_pair_bits = eie.count("PtrSRAM", "metadata", "read") * 32
    assert pointer_bits / (eie_pair_bits / 2) == pytest.approx(513 / 512, rel=0.05)
    dense = evaluate(engine.spec, layer.loop_nest(), mapping)
    assert dense.counts[("SpmatSRAM", "weights", "read")] == 256 * 512
    per_pe = np.bincount(np.nonzero((weights != 0) & (acts[0] != 0)[None, :])[0] // 4, minlength=64)
    assert ours.cycles["compute"] == per_pe.max()       # the busiest PE (rows 4p .. 4p+3) sets the time


def test_two_four_design_refuses_a_non_compliant_mask() -> None:
    """sparse-tc-like-2-4 with real weights that keep 3 of some group of 4: one UnsupportedError line, as the sparse_tc engine."""
    layer = GemmLayer(name="g", m=8, n=8, k=16)
    weights = np.ones((8, 16))
    weights[:, 1::4] = 0.0                            # 3 of 4 kept in every group
    engine = build_engine(energysim.hardware("sparse-tc-like-2-4"))
    with pytest.raises(UnsupportedError, match="2:4"):
        engine.simulate(layer, LayerTensors(weights), mapping="default")


def test_docs_gating_vs_skipping_example() -> None:
    """docs/engines/sparse.md's CONV3 table (weights 30 %, inputs 50 %, eyeriss-like's default mapping)."""
    conv = CONV3.model_copy(update={"activation_density": 0.5, "weight_density": 0.3})
    mapping = default_mapping(build_engine(energysim.hardware("eyeriss-like")).spec, conv.loop_nest())
    assert mapping.describe() == "DRAM[P13] GlobalBuffer[K2 Q13 C256 | x:K12] PE[K16 R3 S3]"
    rows = {}
    for name in ("eyeriss-like", "eyeriss-like-gating", "eyeriss-v2-like-skipping"):
        r = build_engine(energysim.hardware(name)).simulate(conv, mapping=mapping)
        rows[name] = (r.macs, r.count("MAC", action="gated_mac"), r.stats.get("skipped_mac", 0),
                      r.count("PE", "weights", "read"), r.cycles["compute"], r.cycles["total"])
    assert rows == {
        "eyeriss-like": (149_520_384, 0, 0, 149_520_384, 12_460_032, 37_394_496),
        "eyeriss-like-gating": (74_760_192, 74_760_192, 0, 74_760_192, 12_460_032, 37_389_546),
        "eyeriss-v2-like-skipping": (22_428_058, 0, 127_092_326, 22_428_058, 1_869_005, 20_257_054),
    }


def test_docs_real_vs_statistical_example() -> None:
    """docs/engines/sparse.md's fc table on eie-like-loopnest: same work, 1.00 / 1.17 / 4.00 lane imbalance."""
    engine = build_engine(energysim.hardware("eie-like-loopnest"))
    mapping = Mapping((LevelLoops("DRAM", spatial_x=(("K", 64),)),
                       LevelLoops("SpmatSRAM", temporal=(("K", 4), ("C", 512))), LevelLoops("ActSRAM")), source="docs")
    layer = LinearLayer(name="fc", in_features=512, out_features=256, weight_density=0.25, activation_density=0.4)
    rng = np.random.default_rng(0)
    uniform = rng.standard_normal((256, 512)) * (rng.random((256, 512)) < 0.25)
    rows = np.zeros((256, 512))
    rows[:64] = 1.0
    acts = rng.standard_normal((1, 512)) * (rng.random((1, 512)) < 0.4)
    got = []
    for tensors in (None, LayerTensors(uniform, activations=acts), LayerTensors(rows, activations=acts)):
        r = engine.simulate(layer, tensors, mapping=mapping)
        got.append((r.macs, r.count("SpmatSRAM", "weights", "read"), r.count("SpmatMeta", "weights", "metadata_read"),
                    r.cycles["compute"], round(r.stats.get("lane_imbalance", 1.0), 2)))
    assert got == [(13_107, 13_108, 65_639, 205, 1.0), (12_991, 12_991, 65_119, 238, 1.17),
                   (13_056, 13_056, 65_382, 816, 4.0)]


@pytest.mark.parametrize(("old", "new", "message"), [
    ('kind = "gating"\nlevel = "PE"', 'kind = "clockgating"\nlevel = "PE"',
     "engine.sparse.actions[0].kind: must be 'gating' or 'skipping' (got 'clockgating')"),
    ('target = "weights"', 'target = "psums"', "engine.sparse.actions[0].target"),
    ('format = "rle"', 'format = "zip"', "engine.sparse.formats[0].format"),
    ('name = "PESparse"', 'name = "PESparseX"', "needs a [[units]] entry name = 'PESparse', action = 'gated_read'"),
])
def test_bad_sparse_file_is_one_line(tmp_path, old: str, new: str, message: str) -> None:
    """`energysim validate` on a broken eyeriss-like-gating copy: exit 2 and one line naming the file and the field."""
    text = Path(energysim.hardware("eyeriss-like-gating").path).read_text()
    assert old in text
    path = tmp_path / "bad.toml"
    path.write_text(text.replace(old, new, 1))
    out, err = io.StringIO(), io.StringIO()
    assert main(["validate", str(path)], out, err) == 2
    lines = err.getvalue().strip().splitlines()
    assert len(lines) == 1 and str(path) in lines[0] and message in lines[0]


def test_mapper_sizes_compressed_tiles() -> None:
    """On eyeriss-v2-like-skipping the mapper, sized dense, picks a conv mapping whose CSC tiles overflow; sized by
    OccupancyWords (what the engine passes) its mapping fits as it is, so nothing is shrunk."""
    from energysim.engines.loopnest.mapper import map_nest
    from energysim.engines.loopnest.mapping import capacity_problem
    from energysim.engines.loopnest.sparse import occupancy_for, statistical
    from energysim.workloads.layers import Conv2dLayer
    engine = build_engine(energysim.hardware("eyeriss-v2-like-skipping"))
    layer = Conv2dLayer(name="c", in_channels=64, out_channels=64, in_height=14, in_width=14, kernel_height=3,
                        kernel_width=3, padding=1, weight_density=0.9, activation_density=0.9)
    nest = layer.loop_nest()
    occupancy = occupancy_for(engine.spec, nest, statistical(0.9, 0.9))
    dense = map_nest(engine.spec, nest, engine.config.mapper, engine.config.mapper_objective, seed=0, progress=False)
    assert any(capacity_problem(engine.spec, nest, dense.mapping, i, occupancy) for i in range(len(engine.spec.levels)))
    result = engine.simulate(layer)
    assert result.stats["mapping_source"].startswith("mapper (") and "shrunk" not in result.stats["mapping_source"]


def test_a_2_4_design_refuses_weights_denser_than_2_of_4():
    """A dense layer on the 2:4 file is refused in one line, not silently counted as 2:4 (its MACs were halved)."""
    engine = build_engine(energysim.hardware("sparse-tc-like-2-4"))
    layer = LinearLayer(name="fc", in_features=256, out_features=128, batch=4)
    with pytest.raises(UnsupportedError, match=r"layer 'fc' has weight density 1, but .* keeps weights 2:4, which holds "
                                               r"at most 0.5 of them"):
        engine.simulate(layer, mapping="default")
