"""End to end: Timeloop YAML -> import -> `energysim run --compat timeloop` -> energy.csv and summary.csv equal Timeloop's."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pandas as pd
import pytest

pytest.importorskip("yaml")

from energysim.cli import main  # noqa: E402
from energysim.engines.loopnest.timeloop_import import import_timeloop  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "data" / "timeloop"
CASE = next(c for c in tomllib.loads((DATA / "reference.toml").read_text())["case"] if c["name"].startswith("04"))


def test_run_reports_timeloop_counts_and_energy(tmp_path: Path) -> None:
    """Exercise 04 (cp): one energy.csv row per (level, data space, action) with Timeloop's totals; summary cycles and energy."""
    design = tmp_path / "design"
    import_timeloop([DATA / name for name in CASE["files"]], design)
    out = tmp_path / "R"
    code = main(["run", str(design / "hardware.toml"), str(design / "workload.toml"), "--mapping", str(design / "mapping.toml"),
                 "--compat", "timeloop", "--out", str(out)])
    assert code in (0, None)
    energy = pd.read_csv(out / "energy.csv")
    counts = {(r.component, r.tensor, r.action): r.count for r in energy.itertuples()}
    for row in CASE["levels"]:
        for key, action in (("reads", "read"), ("fills", "fill"), ("updates", "update")):
            assert counts.get((row["level"], row["dataspace"].lower(), action), 0) == row[key] * row["instances"]
    assert counts[("MACC", "-", "compute")] == 49152
    summary = pd.read_csv(out / "summary.csv")
    assert int(summary["cycles_total"].iloc[0]) == CASE["cycles"]
    assert abs(float(summary["energy_pj"].iloc[0]) - CASE["energy_pj"]) <= 0.005 + 1e-9
