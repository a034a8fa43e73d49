"""Sparseloop's ISCA 2021 tutorial dot products (B and Z gated on zero A; A in CP with B and Z skipped), a problem whose
output has no dimension of its operands (Z[M] = A[K] B[K]), imported from their published files (the second with its
mapping given only as Timeloop's map.txt), against their published statistics."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

pytest.importorskip("yaml")

from energysim.engines import build_engine  # noqa: E402
from energysim.engines.loopnest.mapping import load_mapping  # noqa: E402
from energysim.engines.loopnest.timeloop_import import import_timeloop  # noqa: E402
from energysim.errors import UnsupportedError  # noqa: E402
from energysim.hardware.hierarchy import load_hardware  # noqa: E402
from energysim.workloads.workload import load_workload  # noqa: E402

DESIGN = Path(__file__).resolve().parents[2] / "data" / "timeloop" / "dot_gating"
FILES = [DESIGN / name for name in ("arch.yaml", "prob.yaml", "map.yaml", "sparse.yaml", "ERT.yaml")]
REFERENCE = tomllib.loads((DESIGN / "reference.toml").read_text(encoding="utf-8"))


def test_gating_counts_cycles_and_energies_equal_sparseloop(tmp_path: Path) -> None:
    """Every published count (B 4 read / 12 gated, Z 3 / 12 reads and 4 / 12 updates, 16 A reads, 4 computes), the 16
    cycles (the gated Z updates keep the buffer's 1 write per cycle), A's and the MAC's energies, and B's and Z's up to
    their gated accesses at that Sparseloop's price."""
    written = import_timeloop(FILES, tmp_path / "out")
    engine = build_engine(load_hardware(written["hardware"]))
    layer = load_workload(written["workload"]).layers[0]
    result = engine.simulate(layer, mapping=load_mapping(written["mapping"]).for_layer(layer.name)[1], compat="timeloop")
    hardware = tomllib.loads(written["hardware"].read_text(encoding="utf-8"))
    buffer = hardware["memory"][0]
    for row in REFERENCE["levels"]:
        gated = 0
        for action in ("read", "gated_read", "fill", "update", "gated_update"):
            if action in row:
                unit = "BufferSparse" if action.startswith("gated_") else "Buffer"
                assert result.counts.get((unit, row["tensor"], action), 0) == row[action], (row, action)
                gated += row[action] if action.startswith("gated_") else 0
        energy = (row["read"] * buffer["read_pj"] + (row["fill"] + row["update"]) * buffer["write_pj"]
                  + gated * REFERENCE["gated_at_pj"])
        assert abs(energy - row["energy_pj"]) <= 0.005 + 1e-9, row
    assert result.counts[("MAC", "-", "compute")] == REFERENCE["computes"]
    assert abs(result.counts[("MAC", "-", "compute")] * hardware["units"][0]["energy_pj"] - REFERENCE["mac_energy_pj"]) <= 0.005
    assert result.cycles_total == REFERENCE["cycles"]


def test_cp_and_skipping_from_the_published_map_txt(tmp_path: Path) -> None:
    """With A in CP and B, Z skipped, the mapping read from the published map.txt: every count (A 4 reads and 4 metadata
    reads, B 4 / 12 skipped, Z 3 / 12 and 4 / 12), 4 computes, 4 cycles, A's energy (data + 4-bit metadata) and the
    MAC's, and B's and Z's up to their skipped accesses at that Sparseloop's price."""
    design = DESIGN.parent / "dot_cp_skip"
    reference = tomllib.loads((design / "reference.toml").read_text(encoding="utf-8"))
    written = import_timeloop([design / n for n in ("arch.yaml", "prob.yaml", "sparse.yaml", "ERT.yaml", "map.txt")],
                              tmp_path / "out")
    engine = build_engine(load_hardware(written["hardware"]))
    layer = load_workload(written["workload"]).layers[0]
    result = engine.simulate(layer, mapping=load_mapping(written["mapping"]).for_layer(layer.name)[1], compat="timeloop")
    hardware = tomllib.loads(written["hardware"].read_text(encoding="utf-8"))
    buffer = hardware["memory"][0]
    metadata_pj = {(u["name"], u["action"]): u["energy_pj"] for u in hardware["units"]}[("BufferSparse", "metadata_read")]
    for row in reference["levels"]:
        skipped = 0
        for action in ("read", "skipped_read", "fill", "update", "skipped_update", "metadata_read"):
            if action in row:
                unit = "BufferSparse" if action.startswith(("skipped_", "metadata_")) else "Buffer"
                assert result.counts.get((unit, row["tensor"], action), 0) == row[action], (row, action)
                skipped += row[action] if action.startswith("skipped_") else 0
        energy = (row["read"] * buffer["read_pj"] + (row["fill"] + row["update"]) * buffer["write_pj"]
                  + row.get("metadata_read", 0) * metadata_pj + skipped * reference["skipped_at_pj"])
        assert abs(energy - row["energy_pj"]) <= 0.005 + 1e-9, row
    assert result.counts[("MAC", "-", "compute")] == reference["computes"]
    assert result.cycles_total == reference["cycles"]


def test_output_only_dimension_must_be_one(tmp_path: Path) -> None:
    """A dimension only the output indexes (Z[M] of A[K] B[K]) stands in for a missing GEMM dimension only at size 1."""
    prob = tmp_path / "prob.yaml"
    prob.write_text((DESIGN / "prob.yaml").read_text(encoding="utf-8").replace("M: 1", "M: 2"), encoding="utf-8")
    with pytest.raises(UnsupportedError, match=r"prob\.yaml: problem\.instance\.M: a dimension only the output indexes "
                                               r"must have size 1 \(a dot product; got 2\)"):
        import_timeloop([FILES[0], prob, *FILES[2:]], tmp_path / "out")
