"""Sparseloop's ISCA 2021 tutorial conv1d design (weights run-length coded, input and output accesses skipped on zero
weights) imported from its published files, against its published statistics."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

pytest.importorskip("yaml")

from tests.engines.loopnest.sparseloop_tutorial import DATA, published_differences, run_design, with_ert_version  # noqa: E402

DESIGN = DATA / "conv1d_sparse"
FILES = [DESIGN / name for name in ("arch.yaml", "prob.yaml", "map.yaml", "sparse.yaml", "ERT.yaml")]
REFERENCE = tomllib.loads((DESIGN / "reference.toml").read_text(encoding="utf-8"))
ACTIONS = ("read", "skipped_read", "fill", "update", "skipped_update", "metadata_read", "metadata_fill")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """The design as published, imported and run under compat 'timeloop'."""
    return run_design(FILES, tmp_path_factory.mktemp("conv1d"))


def test_counts_equal_sparseloop(run) -> None:
    """Every published count: weights read 9 of 27 (RLE), inputs read 9 and skipped 18, outputs read 5 / skipped 13 and
    updated 9 / skipped 18, fills, the run-length metadata, 9 computes and 9 cycles."""
    for row in REFERENCE["levels"]:
        for action in ACTIONS:
            if action in row:
                unit = f"{row['level']}Sparse" if action.startswith(("skipped_", "metadata_")) else row["level"]
                assert run.result.counts.get((unit, row["tensor"], action), 0) == row[action], (row, action)
    assert run.result.counts[("MACC", "-", "compute")] == REFERENCE["computes"]
    assert run.result.cycles_total == REFERENCE["cycles"]


def test_every_energy_equals_sparseloop(run) -> None:
    """Every published conv1d energy (each level and data space, the MAC, the 57.70 pJ total) equals Sparseloop's to 0.01 pJ."""
    # Skipped reads and updates are priced at the gated_read / gated_write entries (0.00441 pJ), the ERT having no
    # skipped_* ones: buffer inputs 8.48 = 20 x 0.42018 + 18 x 0.00441 pJ; the backing store's weights are one
    # 4-word vector for the one non-zero plus its metadata.
    assert published_differences(run, REFERENCE) == []
    units = {(u["name"], u["action"]): u for u in run.hardware["units"]}
    assert units[("BufferSparse", "skipped_read")]["energy_pj"] == 0.00441
    assert "Buffer gated_read 0.00441 pJ" in units[("BufferSparse", "skipped_read")]["source"]


def test_both_rules_price_this_design_alike(run, tmp_path: Path) -> None:
    """Both Sparseloop pricing rules give this design the same energies, each source naming its rule."""
    # Current Sparseloop's rule (the ERT labelled v0.4) also prices a skipped access without its own entry at the
    # gated one, and the design has no skipped metadata.
    current = run_design([*FILES[:-1], with_ert_version(FILES[-1], tmp_path / "ert", "0.4")], tmp_path)
    assert current.energy_pj == pytest.approx(run.energy_pj, abs=1e-12)
    assert all(u["source"].startswith("Sparseloop current pricing of ") for u in current.hardware["units"]
               if u["action"].startswith(("gated_", "skipped_")) and u["name"].endswith("Sparse"))
