"""Sparseloop's ISCA 2021 tutorial conv1d design (weights run-length coded, input and output accesses skipped on zero
weights) imported from its published files, against its published statistics."""

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

DESIGN = Path(__file__).resolve().parents[2] / "data" / "timeloop" / "conv1d_sparse"
FILES = [DESIGN / name for name in ("arch.yaml", "prob.yaml", "map.yaml", "sparse.yaml", "ERT.yaml")]
REFERENCE = tomllib.loads((DESIGN / "reference.toml").read_text(encoding="utf-8"))
ACTIONS = ("read", "skipped_read", "fill", "update", "skipped_update", "metadata_read", "metadata_fill")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """(energy per (level, tensor) in pJ, the run's result) of the design as published, under compat 'timeloop'."""
    written = import_timeloop(FILES, tmp_path_factory.mktemp("conv1d") / "out")
    engine = build_engine(load_hardware(written["hardware"]))
    layer = load_workload(written["workload"]).layers[0]
    result = engine.simulate(layer, mapping=load_mapping(written["mapping"]).for_layer(layer.name)[1], compat="timeloop")
    hardware = tomllib.loads(written["hardware"].read_text(encoding="utf-8"))
    prices = {(u["name"], u["action"]): u["energy_pj"] for u in hardware["units"]}
    for level in hardware["memory"]:
        prices.update({(level["name"], "read"): level["read_pj"], (level["name"], "fill"): level["write_pj"],
                       (level["name"], "update"): level["write_pj"]})
    energy: dict[tuple[str, str], float] = {}
    for (component, tensor, action), count in result.counts.items():
        key = (component.removesuffix("Sparse"), tensor.split(":")[0])
        energy[key] = energy.get(key, 0.0) + count * prices[(component, action)]
    return energy, result


def test_counts_equal_sparseloop(run) -> None:
    """Every published count: weights read 9 of 27 (RLE), inputs read 9 and skipped 18, outputs read 5 / skipped 13 and
    updated 9 / skipped 18, fills, the run-length metadata, 9 computes and 9 cycles."""
    _, result = run
    for row in REFERENCE["levels"]:
        for action in ACTIONS:
            if action in row:
                unit = f"{row['level']}Sparse" if action.startswith(("skipped_", "metadata_")) else row["level"]
                assert result.counts.get((unit, row["tensor"], action), 0) == row[action], (row, action)
    assert result.counts[("MACC", "-", "compute")] == REFERENCE["computes"]
    assert result.cycles_total == REFERENCE["cycles"]


def test_energies_equal_sparseloop_where_nothing_is_skipped(run) -> None:
    """The energy of every (level, data space) without skipped accesses, and the MAC's, equal the published ones to the
    printed 0.01 pJ (the backing store's weights: one 4-word vector for the one non-zero, plus its metadata); with
    skipped ones they differ by exactly the skipped accesses at the gated price, as that Sparseloop priced them."""
    energy, result = run
    gated = REFERENCE["skipped_at_gated_price_pj"]
    for row in REFERENCE["levels"]:
        skipped = row.get("skipped_read", 0) + row.get("skipped_update", 0)
        assert abs(energy[(row["level"], row["tensor"])] + skipped * gated - row["energy_pj"]) <= 0.005 + 1e-9, row
    assert abs(energy[("MACC", "-")] - REFERENCE["mac_energy_pj"]) <= 0.005
    skipped_total = sum(row.get("skipped_read", 0) + row.get("skipped_update", 0) for row in REFERENCE["levels"])
    assert abs(sum(energy.values()) + skipped_total * gated - REFERENCE["total_energy_pj"]) <= 0.005 * 7
