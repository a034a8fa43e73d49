"""Sparseloop's ISCA 2021 tutorial spMspM designs (A and B compressed UOP-CP, A and B skipped on each other, Z on both;
and the tiled one, B pretiled UOP-UOP-CP in the backing store) imported from their published files, against their
published statistics."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

pytest.importorskip("yaml")

from energysim.engines.loopnest.timeloop_import import import_timeloop  # noqa: E402
from tests.engines.loopnest.sparseloop_tutorial import DATA, published_differences, run_design, with_ert_version  # noqa: E402

DESIGN = DATA / "spmspm"
TILED = DATA / "spmspm_tiled"
NAMES = ("arch.yaml", "prob.yaml", "map.yaml", "sparse.yaml", "ERT.yaml")
REFERENCE = tomllib.loads((DESIGN / "reference.toml").read_text(encoding="utf-8"))
ACTIONS = ("read", "skipped_read", "fill", "update", "skipped_update", "metadata_read", "skipped_metadata_read",
           "metadata_fill")


def _files(design: Path = DESIGN) -> list[Path]:
    """The design's files as published (the tiled one shares the untiled one's problem)."""
    return [(design if (design / name).exists() else DESIGN) / name for name in NAMES]


def _import(folder: Path, design: Path = DESIGN) -> dict[str, Path]:
    """The design imported as published."""
    return import_timeloop(_files(design), folder / "out")


def _check_counts(result, reference: dict) -> None:
    for row in reference["levels"]:
        for action in ACTIONS:
            if action in row:
                unit = f"{row['level']}Sparse" if action.startswith(("skipped_", "metadata_")) else row["level"]
                assert result.counts.get((unit, row["tensor"], action), 0) == row[action], (row, action)
    assert result.counts[("MAC", "-", "compute")] == reference["computes"]
    assert result.cycles_total == reference["cycles"]


def test_counts_equal_sparseloop(tmp_path: Path) -> None:
    """As published (a 128-word buffer holding A 16 + B 32 + Z 64 values, their metadata in its own storage): every
    published count (actual and skipped reads and updates, fills, the scalar metadata reads, skipped metadata reads and
    fills), the 64 computes and 64 cycles."""
    _check_counts(run_design(_files(), tmp_path).result, REFERENCE)


def test_every_energy_equals_sparseloop(tmp_path: Path) -> None:
    """Every published spMspM energy (buffer A/B/Z under the 2021 rule, backing store, MAC, 1004.73 pJ total) equals Sparseloop's."""
    # To its printed 0.01 pJ. The 2021 rule is chosen from the v0.3 ERT: buffer A 262.05, B 399.19, Z 168.07 pJ
    # (skipped metadata reads as actual ones, skipped data at gated_read); backing store: data per action at the
    # one-entry-per-action ERT, metadata in 4-bit words; MAC 35.89 pJ.
    assert published_differences(run_design(_files(), tmp_path), REFERENCE) == []


def test_tiled_design_as_published_equals_sparseloop(tmp_path: Path) -> None:
    """The tiled design, as published (a 64-word buffer): every count, B's three-rank pretiled metadata in the backing
    store (5 + 36 + 32 = 73 scalars), the computes, cycles and every published energy (buffer A 120.34, B 276.30,
    Z 81.02 pJ, total 680.22 pJ)."""
    reference = tomllib.loads((TILED / "reference.toml").read_text(encoding="utf-8"))
    run = run_design(_files(TILED), tmp_path)
    _check_counts(run.result, reference)
    assert published_differences(run, reference) == []


def test_current_rule_differs_by_the_skipped_metadata_only(tmp_path: Path) -> None:
    """With the ERT labelled v0.4 only the buffer's skipped metadata reads change (to gated_metadata_read); all else is the same."""
    # Current Sparseloop's rule: gated_metadata_read (0.00487 pJ) instead of metadata_read (0.84842 pJ).
    files = _files()
    current = run_design([*files[:-1], with_ert_version(files[-1], tmp_path / "ert", "0.4")], tmp_path / "current")
    published = run_design(files, tmp_path / "published")
    units = {(u["name"], u["action"]): u for u in current.hardware["units"]}
    skipped = units[("BufferSparse", "skipped_metadata_read")]
    assert skipped["energy_pj"] == 0.00487
    assert skipped["source"].startswith("Sparseloop current pricing of skipped_metadata_read: Accelergy ERT ")
    assert "Buffer gated_metadata_read 0.00487 pJ" in skipped["source"]
    for row in REFERENCE["levels"]:
        key = (row["level"], row["tensor"])
        saved = row.get("skipped_metadata_read", 0) * (0.84842 - 0.00487) if row["level"] == "Buffer" else 0.0
        assert abs(current.energy_pj[key] + saved - published.energy_pj[key]) <= 1e-9, key


def test_one_entry_per_action_v03_ert_is_priced_per_action(tmp_path: Path) -> None:
    """A v0.3 ERT with one entry per action (Sparseloop 2021) is priced per action: reads 2.67732 and writes 3.21261 pJ
    per 4-word block (the 2020 rule, every access at the dearest entry, is for tables in argument variants); UOP
    offsets take the level's 4-bit metadata_datawidth."""
    hardware = tomllib.loads(_import(tmp_path)["hardware"].read_text(encoding="utf-8"))
    store = hardware["memory"][0]
    assert (store["read_pj"], store["write_pj"]) == (2.67732 / 4, 3.21261 / 4)
    assert all(fmt["ranks"][0] == {"format": "UOP", "payload_bits": 4} for fmt in hardware["engine"]["sparse"]["formats"])


def test_separate_metadata_storage_is_declared(tmp_path: Path) -> None:
    """Each level's separate metadata storage (metadata_storage_depth x metadata_storage_width: 128 x 4 bits) becomes
    [engine.sparse] metadata_storage_bits, so its tiles' metadata is checked there, not in the data words."""
    hardware = tomllib.loads(_import(tmp_path)["hardware"].read_text(encoding="utf-8"))
    assert hardware["engine"]["sparse"]["metadata_storage_bits"] == {"BackingStorage": 512, "Buffer": 512}
