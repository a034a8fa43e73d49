"""Turn engine results into priced, long-form pandas tables.

``energy_table`` multiplies every count by the hardware's per-action cost:
one row per (layer, component, tensor, action) with ``count``, ``pj_per_action``,
``energy_pj`` and ``source``. ``layer_summary`` adds cycles, latency and
utilisation; totals are group-by sums of these rows, checked against the parts.
"""

from __future__ import annotations

import math

import pandas as pd

from energysim.engines.result import LayerResult
from energysim.errors import InvariantError
from energysim.hardware.hierarchy import Hardware
from energysim.units import PJ_PER_UJ

ENERGY_COLUMNS = ("layer", "engine", "hardware", "component", "tensor", "action", "count", "pj_per_action", "energy_pj", "source")
"""Columns of the long-form energy table, in order."""

SUMMARY_COLUMNS = (
    "layer", "engine", "hardware", "macs", "cycles_compute", "cycles_fill_drain", "cycles_stall", "cycles_total",
    "latency_s", "utilisation", "energy_pj", "energy_uj",
)
"""Columns of the per-layer summary, in order."""


def energy_table(result: LayerResult, hardware: Hardware) -> pd.DataFrame:
    """Price every count of a layer result: count x cost = energy, with the cost's source."""
    rows = []
    for (component, tensor, action), count in sorted(result.counts.items()):
        cost = hardware.cost_of(component, action)
        rows.append((result.layer, result.engine, result.hardware, component, tensor, action, count,
                     cost.energy_pj, count * cost.energy_pj, cost.source))
    return pd.DataFrame(rows, columns=list(ENERGY_COLUMNS))


def layer_summary(result: LayerResult, energy: pd.DataFrame) -> dict:
    """One summary row for a layer: MACs, cycles by part, latency (s), utilisation, energy (pJ, uJ)."""
    energy_pj = math.fsum(energy["energy_pj"]) if len(energy) else 0.0
    return {
        "layer": result.layer,
        "engine": result.engine,
        "hardware": result.hardware,
        "macs": result.macs,
        "cycles_compute": result.cycles["compute"],
        "cycles_fill_drain": result.cycles["fill_drain"],
        "cycles_stall": result.cycles["stall"],
        "cycles_total": result.cycles["total"],
        "latency_s": result.latency_s,
        "utilisation": result.utilisation,
        "energy_pj": energy_pj,
        "energy_uj": energy_pj / PJ_PER_UJ,
    }


def check_energy_totals(energy: pd.DataFrame, summary: pd.DataFrame) -> None:
    """Raise InvariantError unless each layer's energy equals the sum of its rows, and
    the energy split by component adds up to the same total."""
    for layer, group in energy.groupby("layer", sort=False):
        parts = math.fsum(group["energy_pj"])
        by_component = math.fsum(group.groupby("component")["energy_pj"].sum())
        stated = float(summary.loc[summary["layer"] == layer, "energy_pj"].sum())
        for name, value in (("sum of rows", parts), ("sum by component", by_component)):
            if not math.isclose(value, stated, rel_tol=1e-9, abs_tol=1e-9):
                raise InvariantError(f"layer '{layer}': energy total {stated} pJ differs from its {name} {value} pJ")
        if (group["count"] < 0).any():
            raise InvariantError(f"layer '{layer}': a priced count is negative")
        if not (group["energy_pj"] >= 0).all():
            raise InvariantError(f"layer '{layer}': a priced energy is negative or NaN")
