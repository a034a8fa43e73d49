"""Sparseloop's counting (compat 'timeloop' with [engine.sparse]) on small Sparseloop-style designs, counts worked by hand.

The design (Timeloop/Sparseloop YAML in sparseloop_mv.py, imported): DRAM -> Buffer -> one MAC,
a K=4 x C=8 matrix-vector product (Weights[K][C], Inputs[C], Outputs[K]; 32 MACs), everything
mapped to the Buffer (`Buffer[K4 C8]`, C inner). Densities: Weights 0.5, Inputs 0.25
(fixed-structured). Timeloop's dense counts per instance (shared/reference/timeloop_conventions.md
rules 1-4): Buffer fills weights 32, inputs 8, outputs 4 - 4 = 0; Buffer reads weights 32, inputs
32 (one per compute), outputs updates 32 and reads 32 - 4 = 28; DRAM reads weights 32, inputs 8,
outputs updates 4, reads 4 - 4 = 0. Buffer bandwidth: 2 words per cycle for reads and for writes.
"""

from __future__ import annotations

import math
import tomllib
from pathlib import Path

import pytest

pytest.importorskip("yaml")

from energysim.engines.loopnest.mapping import load_mapping  # noqa: E402
from energysim.engines.loopnest.sparse import statistical  # noqa: E402
from energysim.engines.loopnest.sparse_timeloop import evaluate  # noqa: E402
from energysim.engines.loopnest.sparse_ranks import (RankShape, assign_ranks, rank_units, tensor_points,  # noqa: E402
                                                     tile_metadata)
from energysim.engines.loopnest.sparse_config import FormatSpec  # noqa: E402
from energysim.engines.loopnest.sparse_import import pricing_rule, sparse_table  # noqa: E402
from energysim.engines.loopnest.timeloop_compat import evaluate as evaluate_dense  # noqa: E402
from energysim.engines.loopnest.timeloop_import import import_timeloop  # noqa: E402
from energysim.engines import build_engine  # noqa: E402
from energysim.errors import ConfigError, UnsupportedError  # noqa: E402
from energysim.hardware.hierarchy import load_hardware  # noqa: E402
from energysim.workloads.loop_nest import LoopNest  # noqa: E402
from energysim.workloads.workload import load_workload  # noqa: E402
from tests.engines.loopnest.sparseloop_mv import ARCH, ERT, PROB, import_design  # noqa: E402

GATING = """
sparse_optimizations:
  targets:
  - name: Buffer
    action-optimization:
    - type: gating
      options:
      - {target: Weights, condition-on: [ Inputs ]}
"""

SKIPPING = """
sparse_optimizations:
  targets:
  - name: Buffer
    representation-format:
      data-spaces:
      - name: Inputs
        ranks:
        - {format: CP, metadata-word-bits: 3}
    action-optimization:
    - type: skipping
      options:
      - {target: Weights, condition-on: [ Inputs ]}
"""


def _design(folder: Path, sparse: str) -> tuple:
    written = import_design(folder, sparse)
    engine = build_engine(load_hardware(written["hardware"]))
    layer = load_workload(written["workload"]).layers[0]
    mapping = load_mapping(written["mapping"]).for_layer(layer.name)[1]
    return engine, layer, mapping, written


def _run(folder: Path, sparse: str):
    engine, layer, mapping, _ = _design(folder, sparse)
    densities = statistical(layer.weight_density, layer.activation_density)
    return evaluate(engine.spec, layer.loop_nest(), mapping, densities)


def test_gating_counts_worked_by_hand(tmp_path: Path) -> None:
    """Gating Buffer weight reads on Inputs: reads, gated reads, computes, cycles and energy as rules 11, 12, 8, 6 give them."""
    stats, sparse = _run(tmp_path, GATING)
    c = stats.counts
    # rule 11: p = 1 - 0.25 = 0.75; gated reads = floor(32 x 0.75) = 24, actual 32 - 24 = 8; fills never optimised
    assert c[("Buffer", "weights", "read")] == 8 and c[("BufferSparse", "weights", "gated_read")] == 24
    assert c[("Buffer", "weights", "fill")] == 32 and c[("Buffer", "inputs", "read")] == 32
    # rule 12: the weights' rule at their innermost keeper removes floor(32 x 0.75) = 24 computes; removed computes
    # cost nothing and are not reported (no gated_compute: the storage rule eliminates them)
    assert c[("MAC", "-", "compute")] == 8 and ("MAC", "-", "gated_compute") not in c
    assert sparse["effectual_fraction"] == 8 / 32
    # rule 8: compute cycles = ceil(8 / 1) = 8; but the Buffer reads 8 + 24 gated + 32 inputs + 28 outputs = 92 words
    # at 2 per cycle: slowdown 2 / (92 / 8), 46 cycles; writes 32 + 8 fills + 32 updates = 72 -> 36: total 46 -- the
    # gated reads keep their slots, so gating saves no time
    assert stats.cycles_compute == 8 and stats.level_cycles["Buffer"] == 46 and stats.cycles_total == 46
    # energy: DRAM (32 + 8 reads + 4 updates) x 64 = 2816; Buffer reads (8 + 32 + 28) x 2 = 136, fills 40 x 3 = 120,
    # updates 32 x 3 = 96; gated reads 24 x 0.2 = 4.8; computes 8 x 1
    assert stats.energy_pj == pytest.approx(2816 + 136 + 120 + 96 + 4.8 + 8)


def test_skipping_with_coordinate_payload_worked_by_hand(tmp_path: Path) -> None:
    """Skipping weight reads on Inputs kept CP-compressed: format, skipped reads, metadata and cycles as rules 10-13, 8 give them."""
    stats, sparse = _run(tmp_path, SKIPPING)
    c = stats.counts
    # rule 10: inputs at the Buffer in CP: reads 32 - floor(32 x 0.75) = 8, fills 8 - floor(8 x 0.75) = 2
    assert c[("Buffer", "inputs", "read")] == 8 and c[("Buffer", "inputs", "fill")] == 2
    assert c[("DRAM", "inputs", "read")] == 8  # DRAM keeps inputs uncompressed
    # rule 11: skipped reads = floor(32 x 0.75) = 24 (reported; without a skipped_read entry current Sparseloop prices
    # them at gated_read, 0.2 pJ)
    assert c[("Buffer", "weights", "read")] == 8 and c[("BufferSparse", "weights", "skipped_read")] == 24
    assert ("BufferSparse", "weights", "gated_read") not in c
    # rule 13: the Buffer's input tile is the 8 points of C; one CP rank keeps 8 x 0.25 = 2 coordinates of 3 bits = 6
    # bits per traversal; reads traverse it 32 / 8 = 4 times: 24 bits = ceil(24 / 16) = 2 metadata reads (16-bit
    # words), the one fill 6 bits = 1 metadata fill
    assert c[("BufferSparse", "inputs", "metadata_read")] == 2 and c[("BufferSparse", "inputs", "metadata_fill")] == 1
    # rule 12: 24 computes eliminated, 8 done; compute cycles 8
    assert c[("MAC", "-", "compute")] == 8 and stats.cycles_compute == 8
    # rule 8: Buffer reads 8 + 8 + 2 metadata + 28 = 46 -> 23 cycles; writes 32 + 2 + 1 metadata + 32 = 67 -> 33.5 -> 34
    # (the skipped reads take no slot: against the gating design's 46)
    assert stats.level_cycles["Buffer"] == 34 and stats.cycles_total == 34
    # energy: DRAM 2816; Buffer reads (8 + 8 + 28) x 2 = 88, fills 34 x 3 = 102, updates 96; metadata 2 x 1 + 1 x 1.5;
    # 24 skipped reads x 0.2; 8 computes x 1
    assert stats.energy_pj == pytest.approx(2816 + 88 + 102 + 96 + 3.5 + 24 * 0.2 + 8)
    assert sparse["density_inputs"] == 0.25


def test_density_one_gives_timeloop_dense_counts(tmp_path: Path) -> None:
    """At density 1 the gated and skipped designs count exactly what Timeloop counts dense (CP metadata aside)."""
    for sparse_yaml in (GATING, SKIPPING):
        folder = tmp_path / str(len(sparse_yaml))
        folder.mkdir()
        engine, layer, mapping, _ = _design(folder, sparse_yaml)
        nest = layer.loop_nest()
        stats, _ = evaluate(engine.spec, nest, mapping, statistical(1.0, 1.0))
        dense = evaluate_dense(engine.spec, nest, mapping, check=False)
        data = {k: v for k, v in stats.counts.items() if not k[0].endswith("Sparse")}
        assert data == dense.counts
        assert stats.cycles_compute == dense.cycles_compute


def test_import_writes_formats_rules_units_and_densities(tmp_path: Path) -> None:
    """import-timeloop writes Sparseloop's ranks, rules, priced sparse actions (a v0.4 ERT: current Sparseloop's rule, a
    skipped read at gated_read without its own entry, 0 when the ERT has neither) and the densities."""
    _, layer, _, written = _design(tmp_path, SKIPPING)
    hardware = tomllib.loads(written["hardware"].read_text())
    sparse = hardware["engine"]["sparse"]
    assert sparse["formats"] == [{"level": "Buffer", "tensor": "inputs", "format": "coordinate", "metadata_bits": 3,
                                  "ranks": [{"format": "CP", "metadata_bits": 3}]}]
    assert sparse["actions"] == [{"kind": "skipping", "level": "Buffer", "target": "weights", "leaders": ["inputs"]}]
    assert sparse["action_units"] == {"DRAM": "DRAMSparse", "Buffer": "BufferSparse"}  # every level: rules may move out
    prices = {(u["name"], u["action"]): u for u in hardware["units"]}
    assert prices[("BufferSparse", "metadata_read")]["energy_pj"] == 1.0
    assert prices[("BufferSparse", "skipped_read")]["energy_pj"] == 0.2
    assert prices[("BufferSparse", "skipped_read")]["source"].startswith("Sparseloop current pricing of skipped_read: "
                                                                         "Accelergy ERT ")
    assert "Buffer gated_read 0.2 pJ" in prices[("BufferSparse", "skipped_read")]["source"]
    assert prices[("BufferSparse", "skipped_update")]["energy_pj"] == 0.0
    assert "0 pJ (Sparseloop's default" in prices[("BufferSparse", "skipped_update")]["source"]
    assert "current rule (the ERT is Accelergy v0.4)" in sparse["source"]
    assert prices[("MAC", "gated_compute")]["energy_pj"] == 0.1
    assert (layer.weight_density, layer.activation_density) == (0.5, 0.25)


def test_pricing_rule_follows_the_ert_version_unless_told() -> None:
    """Pricing rule: 2021 for an Accelergy v0.2/v0.3 ERT, current for v0.4 or no ERT, the requested one if given; others refused."""
    # v0.2/v0.3 is the ISCA 2021 tutorial's ERT; any other request is refused naming the option and the rules.
    assert pricing_rule({"ERT": {"version": 0.3}}) == ("2021", "the ERT is Accelergy v0.3, as Sparseloop's 2021 "
                                                                "tutorial's")
    assert pricing_rule({"ERT": {"version": "0.4"}})[0] == "current"
    assert pricing_rule({}) == ("current", "no ERT given")
    assert pricing_rule({"ERT": {"version": 0.3}}, "current") == ("current", "as requested")
    with pytest.raises(ConfigError, match=r"^--sparseloop-pricing: must be one of 2021, current \(got '2020'\)$"):
        pricing_rule({}, "2020")


def test_sparse_table_prices_by_the_rule_and_says_so() -> None:
    """sparse_table prices each gated/skipped access from the entry its rule names and appends one note naming the rule."""
    # 2021 rule: skipped metadata at metadata_read, an absent gated read at the cheapest read variant;
    # current rule: gated_metadata_read, 0. The note names the rule, why, and the option for the other.
    storage = [{"name": "Buffer", "attributes": {}, "block": 1, "where": "arch.yaml: architecture"}]
    ert = {"Buffer": {"read": [0.004, 0.4], "write": [0.005, 0.5], "metadata_read": [0.3], "gated_metadata_read": [0.01]},
           "MAC": {"compute": [1.0]}}

    def prices(pricing: str | None, notes: list[str]) -> dict:
        merged = {"sparse_optimizations": {"targets": []}, "ERT": {"version": 0.3}}
        _, _, units = sparse_table(merged, {"sparse_optimizations": Path("sparse.yaml")}, storage, {"name": "MAC"}, ert,
                                   "ERT.yaml", {}, {}, 4, pricing=pricing, notes=notes)
        return {u["action"]: (u["energy_pj"], u["source"]) for u in units if u["name"] == "BufferSparse"}

    notes: list[str] = []
    old = prices(None, notes)
    assert old["skipped_metadata_read"] == (0.3, "Sparseloop 2021 pricing of skipped_metadata_read: Accelergy ERT "
                                                  "ERT.yaml: Buffer metadata_read 0.3 pJ / 1 words per metadata access")
    assert old["gated_read"][0] == 0.004 and "read cheapest of its 2 argument variants 0.004 pJ" in old["gated_read"][1]
    assert old["skipped_update"][0] == 0.005
    assert notes == ["gated and skipped accesses priced by Sparseloop's 2021 rule (the ERT is Accelergy v0.3, as "
                     "Sparseloop's 2021 tutorial's; --sparseloop-pricing current for the other): a skipped access at "
                     "its skipped_* entry, else the gated_* one, skipped metadata as actual metadata (metadata_read / "
                     "metadata_write), a gated or skipped access without an entry at the cheapest argument variant of "
                     "read / write when the ERT lists variants, else 0 pJ"]
    new = prices("current", [])
    assert new["skipped_metadata_read"][0] == 0.01 and new["gated_read"][0] == 0.0
    assert new["gated_read"][1].startswith("Sparseloop current pricing of gated_read: Buffer: the ERT has no gated_read")


def test_uop_cp_ranks_metadata_worked_by_hand() -> None:
    """Two ranks UOP, CP on a K4 C8 weight tile at density 0.5: the UOP rank takes the outer loop K4 (5 offsets of
    5 bits), the CP rank the inner loop C8 (4 fibers x 8 x 0.5 = 16 coordinates of 3 bits); 21 units, 73 bits."""
    fmt = FormatSpec(level="Buffer", tensor="weights", format="csr", metadata_bits=3, pointer_bits=5,
                     ranks=[{"format": "UOP", "payload_bits": 5}, {"format": "CP", "metadata_bits": 3}])
    nest = LoopNest.of("mv", K=4, C=8)
    assigned, left = assign_ranks(fmt.ranks, 2, [("K", 4), ("C", 8)])
    assert assigned == [(("K", 4),), (("C", 8),)] and left == []
    shapes = [RankShape(group, tensor_points(nest, "weights", group)) for group in assigned]
    assert tile_metadata(fmt, shapes, 32, 0.5) == (5 + 16, 5 * 5 + 16 * 3)


@pytest.mark.parametrize(("text", "message"), [
    ("sparse_optimizations:\n  targets:\n  - name: Nowhere\n", "targets[0].name: must name a storage level or the compute unit"),
    ("sparse_optimizations:\n  targets:\n  - name: Buffer\n    representation-format:\n      data-spaces:\n"
     "      - {name: Inputs, ranks: [{format: ZZ}]}\n", "ranks[0].format: rank format must be one of UOP, UB, CP, RLE, B"),
    ("sparse_optimizations:\n  targets:\n  - name: Buffer\n    action-optimization:\n    - {type: pruning}\n",
     "action-optimization[0].type: must be gating or skipping (got 'pruning')"),
])
def test_bad_sparse_optimizations_are_one_line(tmp_path: Path, text: str, message: str) -> None:
    """A bad sparse_optimizations entry is one line naming the file, the key and the value."""
    with pytest.raises((ConfigError, UnsupportedError), match="sparse.yaml: sparse_optimizations") as info:
        _design(tmp_path, text)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_missing_price_is_one_line(tmp_path: Path) -> None:
    """A sparse count the hardware does not price is refused in one line naming the [[units]] entry."""
    _, layer, mapping, written = _design(tmp_path, SKIPPING)
    text = written["hardware"].read_text()
    entry = text.index('name = "BufferSparse"\naction = "skipped_read"')
    start = text.rindex("[[units]]", 0, entry)
    end = text.find("[[units]]", entry)
    written["hardware"].write_text(text[:start] + (text[end:] if end >= 0 else ""))
    engine = build_engine(load_hardware(written["hardware"]))
    with pytest.raises(ConfigError, match="counts 'skipped_read' of 'BufferSparse': needs a \\[\\[units\\]\\] entry") as info:
        evaluate(engine.spec, layer.loop_nest(), mapping, statistical(0.5, 0.25))
    assert "\n" not in str(info.value)


def test_run_compat_timeloop_reports_sparse_actions(tmp_path: Path) -> None:
    """`energysim run --compat timeloop` on the imported gating design: energy.csv has the gated_read row and the
    hand-worked counts; summary.csv its 46 cycles and 3180.8 pJ (test_gating_counts_worked_by_hand)."""
    import pandas as pd
    from energysim.cli import main
    _, _, _, written = _design(tmp_path, GATING)
    out = tmp_path / "R"
    code = main(["run", str(written["hardware"]), str(written["workload"]), "--mapping", str(written["mapping"]),
                 "--compat", "timeloop", "--out", str(out)])
    assert code in (0, None)
    energy = pd.read_csv(out / "energy.csv")
    counts = {(r.component, r.tensor, r.action): r.count for r in energy.itertuples()}
    assert counts[("BufferSparse", "weights", "gated_read")] == 24 and counts[("Buffer", "weights", "read")] == 8
    assert counts[("MAC", "-", "compute")] == 8
    summary = pd.read_csv(out / "summary.csv")
    assert int(summary["cycles_total"].iloc[0]) == 46
    assert float(summary["energy_pj"].iloc[0]) == pytest.approx(3180.8)


def test_engine_counts_sparse_designs_with_sparseloop_rules(tmp_path: Path) -> None:
    """The engine under compat 'timeloop' runs Sparseloop's rules on a sparse design (skipping: 8 computes, 34 cycles),
    and under 'ideal' its own model on the same file."""
    engine, layer, mapping, _ = _design(tmp_path, SKIPPING)
    timeloop = engine.simulate(layer, mapping=mapping, compat="timeloop")
    assert timeloop.macs == 8 and timeloop.cycles["total"] == 34
    assert "compat timeloop" in timeloop.stats["density_model"]
    ideal = engine.simulate(layer, mapping=mapping, compat="ideal")
    assert ideal.stats["convention"] == "ideal" and "compat timeloop" not in ideal.stats["density_model"]
    mapped = engine.simulate(layer, compat="timeloop")            # no mapping: the mapper ranks dense, then Sparseloop counts
    assert mapped.stats["mapping_source"].startswith("mapper") and mapped.macs == 8


EYERISS_V1_STYLE = {
    "arch": """
architecture:
  version: 0.3
  subtree:
  - name: chip
    local:
    - name: DRAM
      class: DRAM
      attributes: {width: 16, datawidth: 16, metadata_storage_width: 8, metadata_datawidth: 4}
    - name: spad
      class: storage
      subclass: smartbuffer_metadata
      attributes: {data_storage_depth: 64, data_storage_width: 16, datawidth: 16}
    - name: MAC
      class: compute
      subclass: intmac
      attributes: {datawidth: 16}
""",
    "prob": """
problem:
  shape:
    name: conv1d
    dimensions: [ C, M, P, R ]
    data-spaces:
    - {name: Weights, projection: [ [[C]], [[M]], [[R]] ]}
    - {name: Inputs, projection: [ [[C]], [[P], [R]] ]}
    - {name: Outputs, projection: [ [[M]], [[P]] ], read-write: True}
  instance:
    C: 2
    M: 2
    P: 4
    R: 3
    densities: {Inputs: 0.5, Outputs: 0.25}
""",
    "map": """
mapping:
- {target: DRAM, type: temporal, factors: C=1 M=2 P=1 R=1, permutation: CPRM}
- {target: spad, type: temporal, factors: C=2 M=1 P=4 R=3, permutation: RPCM}
""",
    "ert": """
ERT:
  version: 0.4
  tables:
  - name: chip.DRAM
    actions: [{name: read, energy: 200.0}, {name: write, energy: 200.0}, {name: metadata_read, energy: 100.0},
              {name: metadata_write, energy: 100.0}]
  - name: chip.spad
    actions: [{name: read, energy: 1.0}, {name: write, energy: 1.0}]
  - name: chip.MAC
    actions: [{name: compute, energy: 1.0}]
""",
    "sparse": """
sparse_optimizations:
  targets:
  - name: DRAM
    representation-format:
      data-spaces:
      - name: Inputs
        ranks:
        - {format: UOP, payload-word-bits: 4, flattened-rankIDs: [ [R, P, C, M] ]}
        - {format: RLE, flattened-rankIDs: [ [R, P, C, M] ]}
      - name: Outputs
        ranks:
        - {format: UOP, payload-word-bits: 4, flattened-rankIDs: [ [P, M] ]}
        - {format: RLE, flattened-rankIDs: [ [P, M] ]}
  - name: spad
    action-optimization:
    - type: gating
      options:
      - {target: Weights, condition-on: [ Inputs ]}
""",
}


def test_eyeriss_v1_style_dram_rle_and_spad_gating_worked_by_hand(tmp_path: Path) -> None:
    """An Eyeriss-v1-style file (RLE under a flattened UOP rank in DRAM for inputs and outputs, gated weight reads in the
    scratchpad, Sparseloop's smartbuffer attributes): counts as rules 10-13 give them.

    Conv C2 M2 P4 R3 (48 MACs; 6-wide input rows), `DRAM[M2] spad[C2 P4 R3]`; Inputs 50 %, Outputs 25 % dense.
    Dense Timeloop counts: DRAM reads weights 12 (a new 6-weight tile per M step), inputs 12 (the spad's 2 x 6
    inputs stay for both M steps), outputs updates 8; spad reads weights and inputs 48 each.
    """
    files = []
    for name, text in EYERISS_V1_STYLE.items():
        path = tmp_path / f"{name}.yaml"
        path.write_text(text, encoding="utf-8")
        files.append(path)
    written = import_timeloop(files, tmp_path / "out")
    engine = build_engine(load_hardware(written["hardware"]))
    layer = load_workload(written["workload"]).layers[0]
    assert (layer.activation_density, layer.output_density) == (0.5, 0.25)
    mapping = load_mapping(written["mapping"]).for_layer(layer.name)[1]
    result = engine.simulate(layer, mapping=mapping, compat="timeloop")
    c = result.counts
    # rule 10: DRAM inputs in RLE: 12 - floor(12 x 0.5) = 6 reads; outputs 8 - floor(8 x 0.75) = 2 updates
    assert c[("DRAM", "inputs", "read")] == 6 and c[("DRAM", "outputs", "update")] == 2
    assert c[("DRAM", "weights", "read")] == 12
    # rule 13, inputs (ranks follow the loops; DRAM keeps them compressed above the spad, so the spad's one rank
    # over its loops C2 P4 R3, a 12-point fiber, is DRAM's inner RLE rank and the UOP rank takes DRAM's own input
    # loops: none (M2 does not index inputs), a trivial rank without metadata): RLE 12 x 0.5 = 6 runs x 4 bits
    # (metadata_datawidth) = 24 bits per traversal, one traversal (12 reads of a 12-point tile) = 3 reads of the
    # 8-bit metadata storage; Sparseloop's scalar count 6
    assert c[("DRAMSparse", "inputs", "metadata_read")] == 3
    assert result.stats["metadata_scalar_read_DRAM_inputs"] == 6
    # outputs: the UOP rank takes DRAM's M2 (a 2-point fiber: 3 offsets x 4 bits), the RLE rank the spad's P4 (2
    # fibers x 4 x 0.25 = 2 runs x 4 bits): 20 bits = 3 metadata updates; 5 scalar
    assert c[("DRAMSparse", "outputs", "metadata_update")] == 3
    assert result.stats["metadata_scalar_update_DRAM_outputs"] == 5
    # rules 11-12: spad weight reads gated on inputs, p = 0.5: 24 gated of 48; 24 computes done (24 eliminated),
    # 24 cycles (no level is bandwidth-bound)
    assert c[("spad", "weights", "read")] == 24 and c[("spadSparse", "weights", "gated_read")] == 24
    assert c[("MAC", "-", "compute")] == 24 and result.cycles["total"] == 24


SPMSPM = {
    "arch": """
architecture:
  version: 0.4
  subtree:
  - name: System
    attributes: {datawidth: 8}
    local:
    - {name: BackingStorage, class: DRAM, attributes: {width: 8}}
    - {name: Buffer, class: storage, attributes: {depth: 128, width: 8}}
    - {name: MAC, class: compute}
""",
    "prob": """
problem:
  shape:
    name: spmspm
    dimensions: [ M, N, K ]
    data-spaces:
    - {name: A, projection: [ [[M]], [[K]] ]}
    - {name: B, projection: [ [[N]], [[K]] ]}
    - {name: Z, projection: [ [[M]], [[N]] ], read-write: True}
  instance:
    M: 4
    N: 2
    K: 8
    densities: {A: 0.5, B: 0.25}
""",
    "map": """
mapping:
- {target: BackingStorage, type: temporal, factors: M=1 N=1 K=1, permutation: KNM}
- {target: Buffer, type: temporal, factors: M=4 N=2 K=8, permutation: KNM}
- {target: Buffer, type: dataspace, keep: [A, B, Z]}
""",
    "ert": """
ERT:
  version: 0.4
  tables:
  - name: System.BackingStorage
    actions: [{name: read, energy: 10.0}, {name: write, energy: 10.0}]
  - name: System.Buffer
    actions: [{name: read, energy: 1.0}, {name: write, energy: 1.0}]
  - name: System.MAC
    actions: [{name: compute, energy: 0.5}]
""",
    "sparse": """
sparse_optimizations:
  targets:
  - name: Buffer
    action-optimization:
    - type: skipping
      options:
      - {target: A, condition-on: [ B ]}
    - type: skipping
      options:
      - {target: B, condition-on: [ A ]}
""",
}


def test_spmspm_intersection_worked_by_hand(tmp_path: Path) -> None:
    """Sparseloop's spMspM tutorial shape (Z[M,N] = A[M,K] B[K,N], data spaces A, B, Z) with A and B skipped on each
    other at the Buffer: the importer reads A as weights, B as inputs; reads and computes as rules 11-12 give them.

    M4 N2 K8: 64 MACs, all tiles in the Buffer, one read of A and of B per compute. A 50 %, B 25 % dense.
    """
    files = []
    for name, text in SPMSPM.items():
        path = tmp_path / f"{name}.yaml"
        path.write_text(text, encoding="utf-8")
        files.append(path)
    written = import_timeloop(files, tmp_path / "out")
    engine = build_engine(load_hardware(written["hardware"]))
    layer = load_workload(written["workload"]).layers[0]
    assert (layer.weight_density, layer.activation_density) == (0.5, 0.25)
    assert (layer.out_channels, layer.in_channels, layer.batch) == (4, 8, 2)   # M -> K, K -> C, N -> N
    mapping = load_mapping(written["mapping"]).for_layer(layer.name)[1]
    result = engine.simulate(layer, mapping=mapping, compat="timeloop")
    c = result.counts
    # rule 11: A reads skipped where B is zero: floor(64 x 0.75) = 48, 16 left; B reads where A is zero: 32 of 64
    assert c[("Buffer", "weights", "read")] == 16 and c[("BufferSparse", "weights", "skipped_read")] == 48
    assert c[("Buffer", "inputs", "read")] == 32 and c[("BufferSparse", "inputs", "skipped_read")] == 32
    # rule 12: A's rule removes floor(64 x 0.75) = 48 computes, B's then floor(16 x 0.5) = 8: 8 = 64 x 0.5 x 0.25 left
    assert c[("MAC", "-", "compute")] == 8 and result.cycles["compute"] == 8


def test_rule_at_a_bypassing_level_acts_at_the_next_outer_keeper(tmp_path: Path) -> None:
    """Rule 11: the Buffer's weight gating, with the Buffer bypassing weights, gates DRAM's weight reads instead."""
    engine, layer, mapping, _ = _design(tmp_path, GATING)
    buffer = mapping.levels[1]
    bypassing = type(mapping)((mapping.levels[0], type(buffer)(buffer.name, buffer.temporal, buffer.spatial_x,
                                                                 buffer.spatial_y, ("weights",))), source="bypass")
    result = engine.simulate(layer, mapping=bypassing, compat="timeloop")
    c = result.counts
    # DRAM now feeds the MAC its weights: 32 reads, floor(32 x 0.75) = 24 gated there; the Buffer has no weights
    assert c[("DRAM", "weights", "read")] == 8 and c[("DRAMSparse", "weights", "gated_read")] == 24
    assert not any(k[0] == "Buffer" and k[1] == "weights" for k in c)
    assert c[("MAC", "-", "compute")] == 8


def test_sparseloop_published_eyeriss_numbers() -> None:
    """Sparseloop's own outputs for AlexNet CONV3 on its Eyeriss-like designs (Accelergy-Project/timeloop-accelergy-
    exercises, workspace/baseline_designs/example_designs/eyeriss_like_w_gating/ref-output/timeloop-mapper.map+stats.xml
    and eyeriss_like_onchip_compression/ref-output/timeloop-mapper.stats.txt; inputs 27.5 % dense, 156 PEs used),
    per instance, through the rule functions sparse_timeloop.evaluate counts with."""
    from energysim.engines.loopnest.sparse_timeloop import formatted, optimised
    from energysim.engines.loopnest.timeloop_compat import level_cycles_for
    from energysim.hardware.hierarchy import build_hardware
    from energysim.config.hardware import HardwareFile
    from energysim.engines.loopnest.spec import LoopNestConfig, Spec
    p = 1 - 0.275
    # weights_spad gated on Inputs: 3833856 algorithmic reads -> 2779545 gated, 1054311 actual
    assert optimised(3833856, p) == 2779545 and 3833856 - optimised(3833856, p) == 1054311
    # computes: 598081536 algorithmic -> 164472423 actual (0 gated, 0 skipped); MAC cycles ceil(/156) = 1054311
    computes = 598081536 - optimised(598081536, p)
    assert computes == 164472423 and -(-computes // 156) == 1054311
    # ifmap_spad keeps inputs in RLE: reads 3833856 -> 1054311, fills 239616 -> 65895; metadata (4-bit run lengths,
    # a 24-point tile: 6.6 runs of 4 bits per traversal) 1054311 reads and 65895 fills
    assert formatted(3833856, 0.275) == 1054311 and formatted(239616, 0.275) == 65895
    fmt = FormatSpec(level="spad", tensor="inputs", format="rle", metadata_bits=4, ranks=[{"format": "RLE", "metadata_bits": 4}])
    spad = [RankShape((("N", 2), ("R", 3), ("C", 4)), 24)]
    units, _ = tile_metadata(fmt, spad, 24, 0.275)
    assert -(-3833856 * units // 24) == 1054311 and -(-239616 * units // 24) == 65895
    # shared_glb and DRAM keep inputs compressed (uop rle, uop uop rle): reads 18690048 -> 5139764 and 921600 -> 253440;
    # DRAM keeps outputs compressed (30.3 % dense): 259584 updates -> 78654, the global buffer's compressions (rule 14)
    assert formatted(18690048, 0.275) == 5139764 and formatted(921600, 0.275) == 253440
    assert formatted(259584, 0.303) == 78654
    # weights_spad cycles: 1054311 actual + 2779545 gated reads (and 3833856 fills) at 2 words per cycle over 1054311
    # compute cycles: Timeloop's double-precision slowdown gives 1916929 (one above the exact quotient)
    data = HardwareFile.model_validate({
        "schema_version": 1, "name": "spad", "clock_ghz": 1.0, "engine": {"kind": "loopnest", "mac_unit": "MAC"},
        "memory": [{"name": "spad", "kind": "dram", "word_bits": 16, "read_pj": 1.0, "write_pj": 1.0, "cost_source": "t",
                    "bandwidth_words_per_cycle": 2.0, "write_bandwidth_words_per_cycle": 2.0}],
        "units": [{"name": "MAC", "action": "compute", "energy_pj": 1.0, "source": "t"}]})
    hardware = build_hardware(data, "spad")
    spec = Spec.build(hardware, LoopNestConfig.model_validate(hardware.engine_table))
    assert level_cycles_for(spec, {"spad": [1054311 + 2779545, 3833856]}, 1054311) == {"spad": 1916929}



def test_sparseloop_published_multirank_metadata() -> None:
    """Sparseloop's published metadata counts of eyeriss_like_onchip_compression (AlexNet CONV3, inputs 27.5 %,
    outputs 30.3 % dense; ref-output/timeloop-mapper.stats.txt, per instance), from ranks that follow the loops:
    shared_glb inputs (uop rle) 15389438 metadata reads and 758849 fills, DRAM inputs (uop uop rle) 758917 reads,
    DRAM outputs (uop rle) 78663 updates.

    The printed mapping, outer to inner (inputs are indexed by N, C, P, Q, R, S; outputs by N, M, P, Q): DRAM N2 M4 C8 | shared_glb M3 P13 C4 x:Q13 | DummyBuffer y:M2 C2 S3 | ifmap_spad N2 |
    weights_spad R3 C4 | psum_spad M16. The sparse_optimizations file is not published with the outputs; each UOP
    rank is taken to flatten all the loops it meets (with fewer, Sparseloop would need more ranks than the
    stats print and refuse the mapping).
    """
    nest = LoopNest.of("conv3", N=4, K=384, C=256, P=13, Q=13, R=3, S=3)
    uop, rle = {"format": "UOP"}, {"format": "RLE"}
    all_dims = ["N", "C", "P", "Q", "R", "S"]                  # every dimension indexing the inputs
    fmt = FormatSpec(level="x", tensor="inputs", format="rle", metadata_bits=4,
                     ranks=[uop | {"dims": all_dims}, uop | {"dims": all_dims}, rle])

    out_fmt = FormatSpec(level="x", tensor="outputs", format="rle", metadata_bits=4,
                         ranks=[uop | {"dims": ["N", "K", "P", "Q"]}, rle])

    def shapes(tensor: str, own: list, inner: list) -> list:
        assigned, left = assign_ranks((fmt if tensor == "inputs" else out_fmt).ranks, 1, own)
        assert left == []
        return [RankShape(group, tensor_points(nest, tensor, group)) for group in assigned] + inner

    def units(ranks: list, rank_shapes: list, tile: int, density: float) -> float:
        return sum(m + p for m, p in rank_units(ranks, rank_shapes, tile, density))

    # ifmap_spad (innermost input keeper, no format in the scratchpad's own ranks but RLE): one rank over N2 R3 C4
    spad = [RankShape((("N", 2), ("R", 3), ("C", 4)), 24)]
    # shared_glb pre-tiles (compressed above the spad): UOP over its own and DummyBuffer's input loops, RLE = spad's
    glb = shapes("inputs", [("P", 13), ("C", 4), ("Q", 13), ("C", 2), ("S", 3)], spad)
    assert [s.fiber for s in glb] == [8 * 13 * 15, 24]        # C8 x (13 rows) x (13 + 3 - 1 columns): halos per fiber
    glb_units = units(fmt.ranks[1:], glb, 14400, 0.275)       # 1561 offsets + 1560 x 6.6 runs
    assert round(glb_units, 6) == 11857
    assert math.ceil(glb_units * 18690048 / 14400) == 15389438 and math.ceil(glb_units * 921600 / 14400) == 758849
    # DRAM pre-tiles over shared_glb: UOP over N2 C8 (16 points), then the buffer's two ranks
    dram = shapes("inputs", [("N", 2), ("C", 8)], glb)
    dram_units = units(fmt.ranks, dram, 230400, 0.275)        # 17 + 16 x 1561 + 16 x 1560 x 6.6
    assert math.ceil(dram_units * 921600 / 230400) == 758917
    # outputs: DRAM (uop rle) over shared_glb, which keeps them without a format: one rank over its loops and the
    # bypassed levels' (K3 P13 x:Q13 y:K2 N2), K scaled by the psum scratchpad's 16 below it: 32448 points
    glb_out = [RankShape((("K", 3 * 32), ("P", 13), ("Q", 13), ("N", 2)), 32448)]
    dram_out = shapes("outputs", [("N", 2), ("K", 4)], glb_out)
    out_units = units(out_fmt.ranks, dram_out, 259584, 0.303)  # 9 + 8 x 32448 x 0.303
    assert math.ceil(out_units * 259584 / 259584) == 78663


CODEC = """
sparse_optimizations:
  targets:
  - name: DRAM
    representation-format:
      data-spaces:
      - name: Outputs
        ranks: [ {format: RLE, metadata-word-bits: 4} ]
      - name: Inputs
        ranks: [ {format: RLE, metadata-word-bits: 4} ]
"""


def test_compression_between_a_compressed_parent_and_a_codec_child_worked_by_hand(tmp_path: Path) -> None:
    """Rule 14: DRAM keeps inputs and outputs in RLE, the Buffer (compression_supported, decompression_supported) keeps
    them plain: decompressions = the Buffer's actual input fills, compressions = DRAM's actual output updates, priced raw."""
    folder = tmp_path / "codec"
    folder.mkdir()
    arch = ARCH.replace("read_bandwidth: 2, write_bandwidth: 2}",
                        "read_bandwidth: 2, write_bandwidth: 2, compression_supported: true, decompression_supported: true}")
    ert = ERT.replace("    - {name: metadata_write, energy: 1.5}",
                      "    - {name: metadata_write, energy: 1.5}\n    - {name: decompression_count, energy: 0.5}\n"
                      "    - {name: compression_count, energy: 0.25}")
    prob = PROB.replace("      Inputs: 0.25", "      Inputs: 0.25\n      Outputs: 0.5")
    written = import_design(folder, CODEC, arch=arch, prob=prob, ert=ert)
    engine = build_engine(load_hardware(written["hardware"]))
    layer = load_workload(written["workload"]).layers[0]
    mapping = load_mapping(written["mapping"]).for_layer(layer.name)[1]
    c = engine.simulate(layer, mapping=mapping, compat="timeloop").counts
    # DRAM inputs: 8 reads -> 8 - floor(8 x 0.75) = 2; the Buffer still fills all 8 (it keeps them plain): 8 decompressions
    assert c[("DRAM", "inputs", "read")] == 2 and c[("Buffer", "inputs", "fill")] == 8
    assert c[("BufferCodec", "inputs", "decompress")] == 8
    # DRAM outputs: 4 updates -> 4 - floor(4 x 0.5) = 2, each compressed by the Buffer on its way up
    assert c[("DRAM", "outputs", "update")] == 2 and c[("BufferCodec", "outputs", "compress")] == 2
    prices = {(u["name"], u["action"]): u["energy_pj"] for u in tomllib.loads(written["hardware"].read_text())["units"]}
    assert prices[("BufferCodec", "decompress")] == 0.5 and prices[("BufferCodec", "compress")] == 0.25
