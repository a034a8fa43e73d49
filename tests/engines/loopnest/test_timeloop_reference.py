"""compat='timeloop' reproduces Timeloop's published reference outputs (2020 ISPASS exercises 00, 02, 03, 04)."""

from __future__ import annotations

import math
import tomllib
from pathlib import Path

import pytest

pytest.importorskip("yaml")

from energysim.engines.loopnest.timeloop_compat import PADDING_SUFFIX, evaluate  # noqa: E402
from energysim.engines.loopnest.timeloop_import import import_timeloop  # noqa: E402
from energysim.engines.loopnest.mapping import load_mapping  # noqa: E402
from energysim.engines import build_engine  # noqa: E402
from energysim.hardware.hierarchy import load_hardware  # noqa: E402
from energysim.workloads.workload import load_workload  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "data" / "timeloop"
REFERENCE = tomllib.loads((DATA / "reference.toml").read_text(encoding="utf-8"))["case"]
ACTIONS = {"reads": "read", "fills": "fill", "updates": "update"}


def _run(case: dict, out: Path):
    written = import_timeloop([DATA / name for name in case["files"]], out)
    engine = build_engine(load_hardware(written["hardware"]))
    layer = load_workload(written["workload"]).layers[0]
    mapping = load_mapping(written["mapping"]).for_layer(layer.name)[1]
    return engine.spec, evaluate(engine.spec, layer.loop_nest(), mapping)


def _close(ours: float, reference: float, digits: int) -> bool:
    if digits:
        return abs(ours - reference) <= 0.5 * 10 ** -digits + 1e-9  # printed rounding (half a unit), float slack
    return math.isclose(ours, reference, rel_tol=1e-12)


@pytest.mark.parametrize("case", REFERENCE, ids=[c["name"] for c in REFERENCE])
def test_counts_equal_reference(case: dict, tmp_path: Path) -> None:
    """Every level's reads, fills and updates per data space = Timeloop's per-instance count x utilised instances."""
    _, stats = _run(case, tmp_path)
    expected, seen = {}, {}
    for row in case["levels"]:
        tensor = row["dataspace"].lower()
        for key, action in ACTIONS.items():
            expected[(row["level"], tensor, action)] = row[key] * row["instances"]
            seen[(row["level"], tensor, action)] = stats.counts.get((row["level"], tensor, action), 0)
    assert seen == expected
    listed = {(row["level"], row["dataspace"].lower()) for row in case["levels"]}
    extra = {k for k, v in stats.counts.items() if v and k[1] in ("weights", "inputs", "outputs") and k[:2] not in listed}
    assert not extra, f"counts at levels the reference does not keep: {extra}"


@pytest.mark.parametrize("case", REFERENCE, ids=[c["name"] for c in REFERENCE])
def test_energy_and_cycles_equal_reference(case: dict, tmp_path: Path) -> None:
    """Energy per (level, data space) (data + vector padding), MAC energy, total energy and cycles = Timeloop's."""
    spec, stats = _run(case, tmp_path)
    digits = case["printed_digits"]
    for row in case["levels"]:
        tensor = row["dataspace"].lower()
        energy = sum(value * spec.prices[(level, action)] for (level, t, action), value in stats.counts.items()
                     if level == row["level"] and t in (tensor, tensor + PADDING_SUFFIX))
        assert _close(energy, row["energy_pj"], digits), (row, energy)
    assert _close(stats.energy_by_component[spec.config.mac_unit], case["mac_energy_pj"], digits)
    assert _close(stats.energy_pj, case["energy_pj"], digits), stats.energy_pj
    assert stats.cycles_total == case["cycles"]


def test_padding_is_what_rounding_to_vectors_adds(tmp_path: Path) -> None:
    """18 MainMemory input reads with 32-word blocks cost one whole block: 14 padding words at the same price."""
    spec, stats = _run(next(c for c in REFERENCE if c["name"].endswith("no-bypass")), tmp_path)
    assert stats.counts[("MainMemory", "inputs", "read")] == 18
    assert stats.counts[("MainMemory", "inputs" + PADDING_SUFFIX, "read")] == 14
    assert spec.prices[("MainMemory", "read")] * 32 == 2048


def test_mapper_under_imported_constraints_matches_timeloops_mapper(tmp_path: Path) -> None:
    """Exercise 05 (freebypass): energysim's mapper on the imported constraints searches the same 64 bypass choices
    under compat='timeloop' and finds energy at most Timeloop's mapper's best (45592.11 pJ)."""
    from energysim.engines.loopnest.mapper import map_nest
    files = [DATA / name for name in ("ex03/arch.yaml", "ex03/prob.yaml", "ex03/ERT.yaml", "ex05/constraints-freebypass.yaml")]
    written = import_timeloop(files, tmp_path / "ex05")
    engine = build_engine(load_hardware(written["hardware"]))
    nest = load_workload(written["workload"]).layers[0].loop_nest()
    found = map_nest(engine.spec, nest, engine.config.mapper, "energy", seed=0, progress=False)
    best = next(c for c in REFERENCE if c["name"].startswith("05"))
    assert found.evaluated == 64
    assert evaluate(engine.spec, nest, found.mapping).energy_pj <= best["energy_pj"] + 0.005


@pytest.mark.parametrize("design", ["simple_os", "eyeriss"])
def test_current_timeloop_v04_design(design: str, tmp_path: Path) -> None:
    """v0.4 designs (simple_output_stationary: dummy fan-out level, 16 PEs on Y, stride 2, registers per operand;
    eyeriss_like: 14 x 12 PEs, multicast and spatial reduction, refetch after a stationary step): counts, and where
    given per-action vector rounding with write-priced fills, first output fills elided, leakage over utilised instances x
    cycles = Timeloop's."""
    folder = DATA / design
    reference = tomllib.loads((folder / "reference.toml").read_text(encoding="utf-8"))
    written = import_timeloop([folder / name for name in ("arch.yaml", "prob.yaml", "map.yaml", "ERT.yaml")], tmp_path / "os")
    engine = build_engine(load_hardware(written["hardware"]))
    layer = load_workload(written["workload"]).layers[0]
    stats = evaluate(engine.spec, layer.loop_nest(), load_mapping(written["mapping"]).for_layer(layer.name)[1])
    assert (stats.cycles_total, stats.macs) == (reference["cycles"], reference["computes"])
    for row in reference["levels"]:
        tensor = row["dataspace"].lower()
        got = {action: stats.counts.get((row["level"], tensor, action), 0) for action in ("read", "fill", "update")}
        fills = row["fills"]
        assert got == {"read": row["reads"] * row["instances"], "fill": fills * row["instances"],
                       "update": row["updates"] * row["instances"]}, row
        if "energy_pj" in row:
            energy = sum(v * engine.spec.prices[(lvl, a)] for (lvl, t, a), v in stats.counts.items()
                         if lvl == row["level"] and t in (tensor, tensor + PADDING_SUFFIX))
            assert _close(energy, row["energy_pj"], 2), (row, energy)
    for level, energy in reference.get("leakage_pj", {}).items():
        assert _close(stats.counts[(level, "-", "leak")] * engine.spec.prices[(level, "leak")], energy, 2)
    if "mac_energy_pj" in reference:
        assert _close(stats.energy_by_component["mac"], reference["mac_energy_pj"], 2)
