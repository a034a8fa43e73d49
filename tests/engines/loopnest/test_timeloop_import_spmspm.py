"""Sparseloop's ISCA 2021 tutorial spMspM designs (A and B compressed UOP-CP, A and B skipped on each other, Z on both;
and the tiled one, B pretiled UOP-UOP-CP in the backing store) imported from their published files, against their
published statistics."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

pytest.importorskip("yaml")

from energysim.engines import build_engine  # noqa: E402
from energysim.engines.loopnest.mapping import load_mapping  # noqa: E402
from energysim.engines.loopnest.timeloop_import import import_timeloop  # noqa: E402
from energysim.hardware.hierarchy import load_hardware  # noqa: E402
from energysim.workloads.workload import load_workload  # noqa: E402

DESIGN = Path(__file__).resolve().parents[2] / "data" / "timeloop" / "spmspm"
TILED = DESIGN.parent / "spmspm_tiled"
NAMES = ("arch.yaml", "prob.yaml", "map.yaml", "sparse.yaml", "ERT.yaml")
REFERENCE = tomllib.loads((DESIGN / "reference.toml").read_text(encoding="utf-8"))
ACTIONS = ("read", "skipped_read", "fill", "update", "skipped_update", "metadata_read", "skipped_metadata_read",
           "metadata_fill")


def _import(folder: Path, design: Path = DESIGN) -> dict[str, Path]:
    """The design imported as published (the tiled one shares the untiled one's problem)."""
    files = []
    for name in NAMES:
        files.append((design if (design / name).exists() else DESIGN) / name)
    return import_timeloop(files, folder / "out")


def _run(written: dict[str, Path]):
    engine = build_engine(load_hardware(written["hardware"]))
    layer = load_workload(written["workload"]).layers[0]
    mapping = load_mapping(written["mapping"]).for_layer(layer.name)[1]
    return engine.simulate(layer, mapping=mapping, compat="timeloop")


def _unit(level: str, action: str) -> str:
    return f"{level}Sparse" if action.startswith(("skipped_", "metadata_")) else level


def _check_counts(result, reference: dict) -> None:
    for row in reference["levels"]:
        for action in ACTIONS:
            if action in row:
                key = (_unit(row["level"], action), row["tensor"], action)
                assert result.counts.get(key, 0) == row[action], (key, result.counts.get(key, 0))
    assert result.counts[("MAC", "-", "compute")] == reference["computes"]
    assert result.cycles_total == reference["cycles"]


def _check_energies(written: dict[str, Path], result, reference: dict) -> None:
    units = {(u["name"], u["action"]): u["energy_pj"]
             for u in tomllib.loads(written["hardware"].read_text(encoding="utf-8"))["units"]}
    memory = {m["name"]: m for m in tomllib.loads(written["hardware"].read_text(encoding="utf-8"))["memory"]}
    prices = {"read": memory["BackingStorage"]["read_pj"], "update": memory["BackingStorage"]["write_pj"]}
    for row in reference["levels"]:
        if "energy_pj" not in row:
            continue
        energy = sum(count * (prices[action] if component == "BackingStorage" else units[(component, action)])
                     for (component, tensor, action), count in result.counts.items()
                     if component.startswith("BackingStorage") and tensor.split(":")[0] == row["tensor"])
        assert abs(energy - row["energy_pj"]) <= 0.005 + 1e-9, (row, energy)
    assert abs(result.counts[("MAC", "-", "compute")] * units[("MAC", "compute")] - reference["mac_energy_pj"]) <= 0.005


def test_counts_equal_sparseloop(tmp_path: Path) -> None:
    """As published (a 128-word buffer holding A 16 + B 32 + Z 64 values, their metadata in its own storage): every
    published count (actual and skipped reads and updates, fills, the scalar metadata reads, skipped metadata reads and
    fills), the 64 computes and 64 cycles."""
    _check_counts(_run(_import(tmp_path)), REFERENCE)


def test_backing_store_and_mac_energies_equal_sparseloop(tmp_path: Path) -> None:
    """The backing store's energy per data space (data per action at a v0.3 one-entry-per-action ERT, metadata in
    4-bit words) and the MAC's equal the published ones to their printed 0.01 pJ."""
    written = _import(tmp_path)
    _check_energies(written, _run(written), REFERENCE)


def test_tiled_design_as_published_equals_sparseloop(tmp_path: Path) -> None:
    """The tiled design, as published (a 64-word buffer): every count, B's three-rank pretiled metadata in the backing
    store (5 + 36 + 32 = 73 scalars), the computes, cycles and the backing store's and MAC's energies."""
    reference = tomllib.loads((TILED / "reference.toml").read_text(encoding="utf-8"))
    written = _import(tmp_path, design=TILED)
    result = _run(written)
    _check_counts(result, reference)
    _check_energies(written, result, reference)


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
