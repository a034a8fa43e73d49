"""Sparseloop's ISCA 2021 tutorial designs (``tests/data/timeloop/{spmspm,spmspm_tiled,conv1d_sparse,dot_gating,
dot_cp_skip}``) imported and run as published, with their energy per (level, data space) as count x price from the
imported hardware file, for the tests that compare them with the published statistics."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import NamedTuple

from energysim.engines import build_engine
from energysim.engines.loopnest.mapping import load_mapping
from energysim.engines.loopnest.timeloop_import import import_timeloop
from energysim.engines.result import LayerResult
from energysim.hardware.hierarchy import load_hardware
from energysim.workloads.workload import load_workload

DATA = Path(__file__).resolve().parents[2] / "data" / "timeloop"
"""The restated designs (see the folder's README)."""

PRINTED_PJ = 0.005 + 1e-9
"""Half the 0.01 pJ to which Sparseloop's stats print an energy (plus float slack)."""


class Run(NamedTuple):
    """One design imported and run under ``compat = "timeloop"``."""

    energy_pj: dict[tuple[str, str], float]
    """pJ per (level or compute unit, data space; ``"-"`` for the MAC): its count x price rows summed, a level's
    ``<level>Sparse`` unit counted with the level."""
    result: LayerResult
    hardware: dict
    """The imported ``hardware.toml``, parsed."""


def with_ert_version(ert: Path, folder: Path, version: str) -> Path:
    """A copy of ``ert`` in ``folder`` labelled Accelergy ``version`` (e.g. ``0.4``: current Sparseloop's pricing rule
    is then chosen by default); the tables are unchanged."""
    text = ert.read_text(encoding="utf-8")
    label = next(line for line in text.splitlines() if line.strip().startswith("version:"))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / ert.name
    path.write_text(text.replace(label, label.split("version:")[0] + f"version: {version}", 1), encoding="utf-8")
    return path


def run_design(files: list[Path], folder: Path) -> Run:
    """Import ``files`` into ``folder / "out"`` and run the layer with its imported mapping, counting as Timeloop.

    Returns
    -------
    Run
        Energies per (level, data space) in pJ, the result, the hardware table.
    """
    written = import_timeloop(files, folder / "out")
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
    return Run(energy, result, hardware)


def published_differences(run: Run, reference: dict) -> list[tuple]:
    """Each published energy (per level and data space, the MAC's, the total) that ``run`` misses by more than the
    stats' print rounding, as ``(what, modelled pJ, published pJ)``; empty when all are equal."""
    out = []
    for row in reference["levels"]:
        if "energy_pj" in row:
            modelled = run.energy_pj.get((row["level"], row["tensor"]), 0.0)
            if abs(modelled - row["energy_pj"]) > PRINTED_PJ:
                out.append(((row["level"], row["tensor"]), modelled, row["energy_pj"]))
    mac = next(key for key in run.energy_pj if key[1] == "-")
    if abs(run.energy_pj[mac] - reference["mac_energy_pj"]) > PRINTED_PJ:
        out.append((mac, run.energy_pj[mac], reference["mac_energy_pj"]))
    total = sum(run.energy_pj.values())
    if "total_energy_pj" in reference and abs(total - reference["total_energy_pj"]) > PRINTED_PJ:
        out.append(("total", total, reference["total_energy_pj"]))
    return out
