"""Sparseloop's published eyeriss_like_w_gating design imported as published and run end to end (depth-0 DummyBuffer,
DIM=0 factors, a mapping given as YAML or as Timeloop's map.txt), against the published per-instance counts."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

pytest.importorskip("yaml")

from energysim.engines import build_engine  # noqa: E402
from energysim.engines.loopnest.mapping import load_mapping  # noqa: E402
from energysim.engines.loopnest.timeloop_import import import_timeloop  # noqa: E402
from energysim.engines.loopnest.timeloop_map_text import read_map_text  # noqa: E402
from energysim.errors import ConfigError  # noqa: E402
from energysim.hardware.hierarchy import load_hardware  # noqa: E402
from energysim.workloads.workload import load_workload  # noqa: E402

DESIGN = Path(__file__).resolve().parents[2] / "data" / "timeloop" / "sparse_eyeriss"
FILES = [DESIGN / name for name in ("arch.yaml", "prob.yaml", "sparse.yaml", "ERT.yaml")]
REFERENCE = tomllib.loads((DESIGN / "reference.toml").read_text(encoding="utf-8"))


def _run(written: dict[str, Path]):
    engine = build_engine(load_hardware(written["hardware"]))
    layer = load_workload(written["workload"]).layers[0]
    mapping = load_mapping(written["mapping"]).for_layer(layer.name)[1]
    return mapping, engine.simulate(layer, mapping=mapping, compat="timeloop")


def test_published_files_import_as_published(tmp_path: Path) -> None:
    """The design's own mapping (DIM=0 rests, spaced permutations, DummyBuffer of depth 0 bypassing everything) gives
    the loop nest Timeloop printed for it (ref-output/timeloop-model.map.txt, spatial loops outer to inner), and runs: 164472423 computes (598081536
    x 0.275 kept), 1054311 actual and 2779545 gated weight-scratchpad reads per PE, 1916929 cycles (the gated reads
    hold the scratchpad's 2 words per cycle)."""
    written = import_timeloop([*FILES, DESIGN / "map.yaml"], tmp_path / "out")
    mapping, result = _run(written)
    assert mapping.describe() == ("DRAM[K6 C64] shared_glb[N4 P13 | x:Q13 bypass:weights] "
                                  "DummyBuffer[y:K4 y:S3 bypass:inputs,outputs,weights] ifmap_spad[ bypass:outputs,weights] "
                                  "weights_spad[R3 C4 bypass:inputs,outputs] psum_spad[K16 bypass:inputs,weights]")
    counts = result.counts
    assert counts[("MACs", "-", "compute")] == REFERENCE["computes"]
    assert counts[("weights_spad", "weights", "read")] == 1054311 * 156
    assert counts[("weights_spadSparse", "weights", "gated_read")] == 2779545 * 156
    assert result.cycles_total == REFERENCE["cycles"]
    assert not any(key[0] == "DummyBuffer" and value for key, value in counts.items())


def test_map_txt_mapping_reproduces_the_published_counts(tmp_path: Path) -> None:
    """Under the mapping Timeloop's mapper found (given as map.txt), every per-instance actual read, fill and update,
    the gated reads, the (de)compressions, DRAM's scalar metadata, the computes and the cycles equal Sparseloop's
    published statistics."""
    written = import_timeloop([*FILES, DESIGN / "mapper.map.txt"], tmp_path / "out")
    _, result = _run(written)
    counts = result.counts
    for row in REFERENCE["levels"]:
        unit = {"gated_read": f"{row['level']}Sparse", "decompress": f"{row['level']}Codec",
                "compress": f"{row['level']}Codec"}
        for action in ("read", "fill", "update", "gated_read", "decompress", "compress"):
            if action in row:
                key = (unit.get(action, row["level"]), row["tensor"], action)
                assert counts.get(key, 0) == row[action] * row["instances"], (key, counts.get(key, 0))
    assert counts[("MACs", "-", "compute")] == REFERENCE["computes"]
    assert result.cycles_total == REFERENCE["cycles"]
    assert {k: v for k, v in result.stats.items() if k.startswith("metadata_scalar_")} == REFERENCE["metadata_scalars"]
    # the same metadata in DRAM's 60-bit words (metadata_datawidth 5 bits): ceil(380215 x 5 / 60) = 31685 reads and
    # ceil(78679 x 5 / 60) = 6557 updates, as docs/engines/timeloop.md says
    assert counts[("DRAMSparse", "inputs", "metadata_read")] == 31685
    assert counts[("DRAMSparse", "outputs", "metadata_update")] == 6557


def test_depth_zero_level_is_free_and_keeps_nothing(tmp_path: Path) -> None:
    """DummyBuffer (depth 0) becomes a zero-cost level the mapping must bypass; the mapper is told to keep nothing there."""
    written = import_timeloop(FILES, tmp_path / "out")
    hardware = tomllib.loads(written["hardware"].read_text(encoding="utf-8"))
    dummy = next(level for level in hardware["memory"] if level["name"] == "DummyBuffer")
    assert dummy["read_pj"] == dummy["write_pj"] == 0 and "depth 0" in dummy["cost_source"]
    assert dummy["mesh_x"] == 14 and "mapping" not in written
    assert {"level": "DummyBuffer", "keep": []} in hardware["engine"]["mapper"]["levels"]


def test_depth_zero_level_keeping_data_is_refused(tmp_path: Path) -> None:
    """A mapping that keeps a data space in a level of depth 0 is refused naming the file, the level and what it keeps."""
    text = (DESIGN / "map.yaml").read_text(encoding="utf-8").replace(
        "{target: DummyBuffer, type: bypass, bypass: [Inputs, Outputs, Weights]}",
        "{target: DummyBuffer, type: bypass, bypass: [Outputs, Weights], keep: [Inputs]}")
    path = tmp_path / "map.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=r"map\.yaml: mapping: DummyBuffer: a level of depth 0 holds no data .* "
                                          r"\(got keep \['inputs'\]\)"):
        import_timeloop([*FILES, path], tmp_path / "out")


def test_map_txt_directives() -> None:
    """A map.txt block (loops printed outer to inner) becomes temporal and spatial permutations inner to outer (X
    first, split after them) and keep directives."""
    text = "Buf [ Weights:4 (4) Outputs:2 ]\n------\n| for K in [0:2)\n|   for C in [0:4)\n" \
           "|     for N in [0:2) (Spatial-Y)\n|     for Q in [0:2) (Spatial-Y)\n|     for P in [0:3) (Spatial-X)\n" \
           "\nReg [ ]\n|   << Compute >>\n"
    buf, reg = "m.txt: line 1", "m.txt: line 9"
    assert read_map_text(text, Path("m.txt")) == [
        {"target": "Buf", "type": "temporal", "factors": ["K=2", "C=4"], "permutation": ["C", "K"], "source": buf},
        {"target": "Buf", "type": "spatial", "factors": ["P=3", "Q=2", "N=2"], "permutation": ["P", "Q", "N"], "split": 1,
         "source": buf},
        {"target": "Buf", "type": "bypass", "keep": ["Weights", "Outputs"], "source": buf},
        {"target": "Reg", "type": "temporal", "factors": [], "permutation": [], "source": reg},
        {"target": "Reg", "type": "bypass", "keep": [], "source": reg},
    ]


@pytest.mark.parametrize(("text", "message"), [
    ("Buf [ Weights:4 ]\n| while K < 2\n", "m.txt: line 2: must be a level header"),
    ("| for K in [0:2)\n", "m.txt: line 1: a loop must follow a level header"),
    ("Buf [ ]\n| for K in [1:2)\n", "m.txt: line 2: loops must start at 0"),
    ("\n\n", "m.txt: no level header found"),
])
def test_map_txt_refusals(text: str, message: str) -> None:
    """A malformed map.txt is one line naming the file, the line and the rule."""
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        read_map_text(text, Path("m.txt"))


def test_map_txt_and_yaml_mapping_are_one_key(tmp_path: Path) -> None:
    """A map.txt and a mapping YAML together are refused as two sources of the top-level key `mapping`."""
    with pytest.raises(ConfigError, match=r"mapping: a top-level key may come from one file only"):
        import_timeloop([*FILES, DESIGN / "map.yaml", DESIGN / "mapper.map.txt"], tmp_path / "out")


def test_notes_say_where_the_mapping_comes_from(tmp_path: Path) -> None:
    """The import tells the user the mapping's source (a file, or energysim's mapper at run), each depth-0 level and the
    assumed 1 GHz clock."""
    notes: list[str] = []
    import_timeloop(FILES, tmp_path / "a", notes)
    assert notes[0].startswith("mapping: none given; `run` without --mapping searches one with energysim's mapper")
    assert any(note.startswith("DummyBuffer: depth 0") for note in notes) and notes[-1].startswith("clock: 1 GHz assumed")
    notes = []
    import_timeloop([*FILES, DESIGN / "mapper.map.txt"], tmp_path / "b", notes)
    assert notes[0] == f"mapping: from {DESIGN / 'mapper.map.txt'} (Timeloop's printed map.txt)"


def test_metadata_of_gated_and_skipped_accesses_is_priced(tmp_path: Path) -> None:
    """Each level's Sparse unit prices gated/skipped metadata reads and updates from the ERT's entries of those names
    (per metadata access), 0 pJ with the absent-entry source otherwise."""
    ert = (DESIGN / "ERT.yaml").read_text(encoding="utf-8").replace(
        "    - {name: gated_read, energy: 0.0}", "    - {name: gated_read, energy: 0.0}\n    - {name: gated_metadata_read, energy: 0.125}")
    path = tmp_path / "ERT.yaml"
    path.write_text(ert, encoding="utf-8")
    written = import_timeloop([*FILES[:3], path], tmp_path / "out")
    units = {(u["name"], u["action"]): u for u in tomllib.loads(written["hardware"].read_text(encoding="utf-8"))["units"]}
    assert units[("weights_spadSparse", "gated_metadata_read")]["energy_pj"] == 0.125
    for level in ("DRAM", "shared_glb", "ifmap_spad", "weights_spad", "psum_spad"):
        for action in ("gated_metadata_read", "skipped_metadata_read", "gated_metadata_update", "skipped_metadata_update"):
            assert (f"{level}Sparse", action) in units
    absent = units[("psum_spadSparse", "skipped_metadata_update")]
    assert absent["energy_pj"] == 0 and "0 pJ (Sparseloop's default for an absent entry)" in absent["source"]


def _stats_block(level: str, loops: list[str], spaces: list[str]) -> str:
    lines = [f"Level\n-------\n=== {level} ===\n", "    SPECS\n    -----\n        Word bits : 16\n",
             "    MAPPING\n    -------\n    Loop nest:"]
    lines += [f"      {'  ' * i}{loop}" for i, loop in enumerate(loops)]
    lines += ["\n    STATS\n    -----\n    Cycles               : 1916929"]
    for space in spaces:
        lines += [f"    {space}:", "        Partition size : 1", "        Actual scalar reads (per-instance) : 1"]
    return "\n".join(lines) + "\n"


def test_stats_txt_loop_nests_give_the_map_txt_mapping() -> None:
    """A stats.txt (levels innermost first, loops under MAPPING, kept spaces under STATS, a compute level without a
    MAPPING, the operational-intensity section repeating level headers) gives the directives of the same map.txt."""
    text = ("Buffer and Arithmetic Levels\n----------------------------\nLevel 0\n-------\n=== MACs ===\n\n    SPECS\n"
            "    -----\n    Word bits             : 16\n\n    STATS\n    -----\n    Utilized instances           : 156\n"
            + _stats_block("psum_spad", ["for M in [0:16)"], ["Outputs"])
            + _stats_block("weights_spad", ["for R in [0:3)", "for C in [0:2)"], ["Weights"])
            + _stats_block("ifmap_spad", ["for Q in [0:1)"], ["Inputs"])
            + _stats_block("DummyBuffer", ["for Q in [0:1)", "for M in [0:2) (Spatial-Y)", "for C in [0:2) (Spatial-Y)",
                                           "for S in [0:3) (Spatial-Y)"], [])
            + _stats_block("shared_glb", ["for M in [0:2)", "for P in [0:13)", "for C in [0:32)",
                                          "for Q in [0:13) (Spatial-X)"], ["Inputs", "Outputs"])
            + _stats_block("DRAM", ["for N in [0:4)", "for M in [0:6)", "for C in [0:2)"], ["Weights", "Inputs", "Outputs"])
            + "\nNetworks\n--------\n\nOperational Intensity Stats\n---------------------------\n=== DRAM ===\n"
              "    Total scalar accesses : 1\n")
    expected = read_map_text((DESIGN / "mapper.map.txt").read_text(encoding="utf-8"), Path("m.txt"))
    def located(directives: list[dict]) -> list[dict]:       # the same directives, the header lines apart
        return [{k: v for k, v in d.items() if k != "source"} for d in directives]

    assert located(read_map_text(text, Path("stats.txt"))) == located(expected)


def test_constraints_keeping_data_at_depth_zero_are_refused(tmp_path: Path) -> None:
    """Mapper constraints that keep a data space at a level of depth 0 are refused naming the constraints file."""
    path = tmp_path / "cons.yaml"
    path.write_text("mapspace_constraints:\n- {target: DummyBuffer, type: bypass, keep: [Inputs], bypass: [Weights, Outputs]}\n",
                    encoding="utf-8")
    with pytest.raises(ConfigError, match=r"cons\.yaml: constraints: DummyBuffer: a level of depth 0 holds no data"):
        import_timeloop([*FILES, path], tmp_path / "out")
