"""Estimate what pruning buys: a pruned workload next to its dense original, per layer and in total.

The dense original is, by default, the pruned workload's own geometry with every
weight present and the same input-activation densities (weight tensors dropped,
``weight_density = 1``). Give the real dense workload instead (``dense=``) when
the pruning changed the geometry (channel pruning shrinks layers).
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd

from energysim import catalog
from energysim.errors import InputError
from energysim.hardware.hierarchy import Hardware, load_hardware
from energysim.simulate import SimulationRun, run_workload
from energysim.workloads.workload import Workload, load_workload


@dataclass
class Estimate:
    """Dense and pruned runs on each hardware, with the side-by-side tables.

    Attributes
    ----------
    layers
        One row per (hardware, layer): energy_uj, latency_us, utilisation and
        storage_bytes of each variant, with ``energy_saving`` (dense / pruned) and
        ``speedup`` (dense latency / pruned latency); a ``TOTAL`` row per hardware.
    breakdown
        Energy by (hardware, variant, layer, component, tensor) in pJ.
    runs
        The :class:`SimulationRun` of each (hardware, variant).
    """

    layers: pd.DataFrame
    breakdown: pd.DataFrame
    runs: dict[tuple[str, str], SimulationRun]


def densified(workload: Workload) -> Workload:
    """The dense counterpart: same layers and activation densities, every weight present."""
    layers = tuple(
        layer.model_copy(update={"weight_density": 1.0, "weight_key": None, "mask_key": None, "activations_key": None,
                                 "target_sparsity": None, "measured_sparsity": None})
        for layer in workload.layers
    )
    return replace(workload, name=f"{workload.name} (dense original)", layers=layers, tensors=None, provenance=None)


def load_source(name_or_path: str | Path) -> Workload:
    """A workload from a workload name/path/folder, or from a model folder (model.json + model.npz)."""
    path = Path(name_or_path)
    if path.is_dir() and (path / "model.json").is_file():
        from energysim.prune import export_workload, load_digits_dataset, load_model

        model = load_model(path)
        with tempfile.TemporaryDirectory() as tmp:
            return load_workload(export_workload(model, Path(tmp) / "w", load_digits_dataset().calibration(64)))
    return load_workload(catalog.workload_path(str(name_or_path)))


def _storage_bytes(run: SimulationRun) -> dict[str, float]:
    return {r.layer: r.stats["weight_storage_bits"] / 8 for r in run.results}


@dataclass(frozen=True)
class HardwareChoice:
    """A hardware config as named on the command line, with the engine options of the pruned run.

    Attributes
    ----------
    label
        The spec as given (``a100:sparse_2_4``); used as the ``hardware`` column.
    hardware
        The loaded config.
    options
        Engine options of the pruned variant (``mode``); the dense original runs
        with none, i.e. in the engine's configured (dense) mode.
    """

    label: str
    hardware: Hardware
    options: dict[str, Any] = field(default_factory=dict)


def estimate(pruned: Workload, hardware: list[HardwareChoice], dense: Workload | None = None) -> Estimate:
    """Simulate the pruned workload and its dense original on every hardware.

    Raises
    ------
    InputError
        If no hardware is given, or ``dense`` does not have the pruned workload's layer names.
    """
    if not hardware:
        raise InputError("estimate needs at least one hardware config (--hw)")
    dense = dense or densified(pruned)
    if [l.name for l in dense.layers] != [l.name for l in pruned.layers]:
        raise InputError(
            f"dense workload '{dense.name}' must have the pruned workload's layers in order "
            f"(got {[l.name for l in dense.layers]} vs {[l.name for l in pruned.layers]})"
        )
    runs: dict[tuple[str, str], SimulationRun] = {}
    rows, parts = [], []
    for choice in hardware:
        label = choice.label
        for variant, workload, options in (("dense", dense, {}), ("pruned", pruned, choice.options)):
            run = run_workload(workload, choice.hardware, **options)
            runs[(label, variant)] = run
            part = run.energy.groupby(["layer", "component", "tensor"], sort=False)["energy_pj"].sum().reset_index()
            part.insert(0, "variant", variant)
            part.insert(0, "hardware", label)
            parts.append(part)
        d, p = runs[(label, "dense")], runs[(label, "pruned")]
        storage_d, storage_p = _storage_bytes(d), _storage_bytes(p)
        for (_, row_d), (_, row_p) in zip(d.summary.iterrows(), p.summary.iterrows()):
            rows.append(_side_by_side(label, row_d["layer"], row_d, row_p, storage_d[row_d["layer"]], storage_p[row_p["layer"]]))
        total_d, total_p = d.totals(), p.totals()
        rows.append(_side_by_side(label, "TOTAL", total_d, total_p, sum(storage_d.values()), sum(storage_p.values())))
    return Estimate(pd.DataFrame(rows), pd.concat(parts, ignore_index=True), runs)


def _side_by_side(hardware: str, layer: str, dense, pruned, storage_dense: float, storage_pruned: float) -> dict:
    def ratio(a: float, b: float) -> float:
        return a / b if b else math.nan

    return {
        "hardware": hardware,
        "layer": layer,
        "energy_uj_dense": dense["energy_uj"],
        "energy_uj_pruned": pruned["energy_uj"],
        "energy_saving": ratio(dense["energy_uj"], pruned["energy_uj"]),
        "latency_us_dense": dense["latency_s"] * 1e6,
        "latency_us_pruned": pruned["latency_s"] * 1e6,
        "speedup": ratio(dense["latency_s"], pruned["latency_s"]),
        "utilisation_dense": dense["utilisation"],
        "utilisation_pruned": pruned["utilisation"],
        "storage_bytes_dense": storage_dense,
        "storage_bytes_pruned": storage_pruned,
        "storage_saving": ratio(storage_dense, storage_pruned),
    }


def load_hardware_list(specs: list[str]) -> list[HardwareChoice]:
    """Hardware configs by bundled name or path, each optionally ``NAME:MODE`` (mode of the pruned run)."""
    choices = []
    for spec in specs:
        path, options = catalog.hardware_spec(spec)
        choices.append(HardwareChoice(spec, load_hardware(path), options))
    return choices
