"""Sparseloop's ISCA 2021 tutorial dot products (B and Z gated on zero A; A in CP with B and Z skipped), a problem whose
output has no dimension of its operands (Z[M] = A[K] B[K]), imported from their published files (the second with its
mapping given only as Timeloop's map.txt), against their published statistics."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

pytest.importorskip("yaml")

from energysim.engines.loopnest.timeloop_import import import_timeloop  # noqa: E402
from energysim.errors import UnsupportedError  # noqa: E402
from tests.engines.loopnest.sparseloop_tutorial import DATA, published_differences, run_design, with_ert_version  # noqa: E402

DESIGN = DATA / "dot_gating"
FILES = [DESIGN / name for name in ("arch.yaml", "prob.yaml", "map.yaml", "sparse.yaml", "ERT.yaml")]
REFERENCE = tomllib.loads((DESIGN / "reference.toml").read_text(encoding="utf-8"))


def _check_counts(result, reference: dict, actions: tuple[str, ...]) -> None:
    for row in reference["levels"]:
        for action in actions:
            if action in row:
                unit = "BufferSparse" if action.startswith(("gated_", "skipped_", "metadata_")) else "Buffer"
                assert result.counts.get((unit, row["tensor"], action), 0) == row[action], (row, action)
    assert result.counts[("MAC", "-", "compute")] == reference["computes"]
    assert result.cycles_total == reference["cycles"]


def test_gating_counts_cycles_and_energies_equal_sparseloop(tmp_path: Path) -> None:
    """Every published count (B 4 read / 12 gated, Z 3 / 12 reads and 4 / 12 updates, 16 A reads, 4 computes), the 16
    cycles (the gated Z updates keep the buffer's 1 write per cycle) and every published energy: the gated accesses, the
    v0.3 ERT of argument variants having no gated_* entry, at the cheapest read / write variant (the 2021 rule:
    B 1.73 = 4 x 0.42018 + 12 x 0.00441 pJ), the MAC's and the total 13.75 pJ."""
    run = run_design(FILES, tmp_path)
    _check_counts(run.result, REFERENCE, ("read", "gated_read", "fill", "update", "gated_update"))
    assert published_differences(run, REFERENCE) == []
    gated = {(u["name"], u["action"]): u for u in run.hardware["units"]}[("BufferSparse", "gated_read")]
    assert gated["energy_pj"] == 0.00441
    assert gated["source"].startswith("Sparseloop 2021 pricing of gated_read: Accelergy ERT ")
    assert "Buffer read cheapest of its 4 argument variants 0.00441 pJ" in gated["source"]


def test_current_rule_prices_absent_gated_entries_at_zero(tmp_path: Path) -> None:
    """Current rule (ERT v0.4) prices a gated access lacking a gated_* entry at 0 pJ: B and Z lose 12 and 24 x 0.00441 pJ."""
    # Against the published energies, B loses exactly its 12 gated accesses x 0.00441 pJ and Z its 24.
    current = run_design([*FILES[:-1], with_ert_version(FILES[-1], tmp_path / "ert", "0.4")], tmp_path)
    for row in REFERENCE["levels"]:
        gated = row.get("gated_read", 0) + row.get("gated_update", 0)
        assert abs(current.energy_pj[("Buffer", row["tensor"])] + gated * 0.00441 - row["energy_pj"]) <= 0.005 + 1e-9, row


def test_cp_and_skipping_from_the_published_map_txt(tmp_path: Path) -> None:
    """With A in CP and B, Z skipped, the mapping read from the published map.txt: every count (A 4 reads and 4 metadata
    reads, B 4 / 12 skipped, Z 3 / 12 and 4 / 12), 4 computes, 4 cycles and every published energy (A's data + 4-bit
    metadata 2.41, B's and Z's skipped accesses at the gated_* entries, 0.00441 pJ, the MAC's, the total 9.43 pJ)."""
    design = DESIGN.parent / "dot_cp_skip"
    reference = tomllib.loads((design / "reference.toml").read_text(encoding="utf-8"))
    run = run_design([design / n for n in ("arch.yaml", "prob.yaml", "sparse.yaml", "ERT.yaml", "map.txt")], tmp_path)
    _check_counts(run.result, reference, ("read", "skipped_read", "fill", "update", "skipped_update", "metadata_read"))
    assert published_differences(run, reference) == []


def test_output_only_dimension_must_be_one(tmp_path: Path) -> None:
    """A dimension only the output indexes (Z[M] of A[K] B[K]) stands in for a missing GEMM dimension only at size 1."""
    prob = tmp_path / "prob.yaml"
    prob.write_text((DESIGN / "prob.yaml").read_text(encoding="utf-8").replace("M: 1", "M: 2"), encoding="utf-8")
    with pytest.raises(UnsupportedError, match=r"prob\.yaml: problem\.instance\.M: a dimension only the output indexes "
                                               r"must have size 1 \(a dot product; got 2\)"):
        import_timeloop([FILES[0], prob, *FILES[2:]], tmp_path / "out")
