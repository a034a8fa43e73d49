"""Run a workload on a hardware configuration and price it.

The one entry point the CLI and the Python API share: load -> engine.simulate
per layer -> invariants -> priced long-form table and per-layer summary.
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass
from typing import Any

import pandas as pd

from energysim.engines.registry import build_engine
from energysim.engines.result import LayerResult, check_invariants
from energysim.errors import InputError, InvariantError
from energysim.hardware.hierarchy import Hardware
from energysim.report.tables import SUMMARY_COLUMNS, check_energy_totals, energy_table, layer_summary
from energysim.units import PJ_PER_UJ
from energysim.workloads.workload import Workload


@dataclass
class SimulationRun:
    """A priced simulation of a workload on one hardware.

    Attributes
    ----------
    workload, hardware
        Names of what was simulated.
    results
        Engine results, one per layer, in order.
    energy
        Long-form table: layer, engine, hardware, component, tensor, action, count,
        pj_per_action, energy_pj, source.
    summary
        One row per layer: macs, cycles by part, latency_s, utilisation, energy_pj, energy_uj.
    """

    workload: str
    hardware: str
    results: list[LayerResult]
    energy: pd.DataFrame
    summary: pd.DataFrame

    def totals(self) -> dict[str, Any]:
        """Network totals: energy (pJ, uJ), cycles, latency (s), MACs, utilisation."""
        energy_pj = math.fsum(self.summary["energy_pj"])
        cycles = int(self.summary["cycles_total"].sum())
        macs = int(self.summary["macs"].sum())
        peak = sum(r.cycles["total"] * r.macs_peak_per_cycle for r in self.results)
        return {
            "workload": self.workload,
            "hardware": self.hardware,
            "layers": len(self.results),
            "macs": macs,
            "cycles_total": cycles,
            "latency_s": float(self.summary["latency_s"].sum()),
            "utilisation": macs / peak if peak else 0.0,
            "energy_pj": energy_pj,
            "energy_uj": energy_pj / PJ_PER_UJ,
        }


def run_workload(workload: Workload, hardware: Hardware, **engine_options: Any) -> SimulationRun:
    """Simulate every layer of ``workload`` on ``hardware`` and price the counts.

    Parameters
    ----------
    workload
        Loaded workload (layers, optional tensors).
    hardware
        Loaded hardware; its ``[engine]`` table selects the engine.
    **engine_options
        Passed to ``engine.simulate`` (e.g. ``path="cycle"`` for the dense engine).

    Raises
    ------
    InputError
        If an option is not a parameter of the engine's ``simulate``.
    InvariantError
        If any result breaks an invariant (a bug in an engine, reported with the layer).
    """
    engine = build_engine(hardware)
    accepted = {name for name, p in inspect.signature(engine.simulate).parameters.items()
                if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)} - {"layer", "tensors"}
    for option in engine_options:
        if option not in accepted:
            raise InputError(
                f"engine '{engine.kind}' of hardware '{hardware.name}' has no option '{option}' "
                f"(it takes: {', '.join(sorted(accepted)) or 'none'})"
            )
    results, frames, rows = [], [], []
    for layer in workload.layers:
        result = engine.simulate(layer, workload.layer_tensors(layer.name), **engine_options)
        check_invariants(result)
        energy = energy_table(result, hardware)
        results.append(result)
        frames.append(energy)
        rows.append(layer_summary(result, energy))
    energy_df = pd.concat(frames, ignore_index=True)
    summary = pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))
    check_energy_totals(energy_df, summary)
    run = SimulationRun(workload.name, hardware.name, results, energy_df, summary)
    total = run.totals()["energy_pj"]
    if not math.isclose(total, math.fsum(energy_df["energy_pj"]), rel_tol=1e-9, abs_tol=1e-9):
        raise InvariantError(f"workload '{workload.name}': network energy {total} pJ differs from the sum of its rows")
    return run
