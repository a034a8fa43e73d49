"""Turn engine results into priced, long-form pandas tables.

``energy_table`` multiplies every count by the hardware's per-action cost:
one row per (layer, component, tensor, action) with ``count``, ``pj_per_action``,
``energy_pj``, ``energy_unit``, ``source`` and ``energy_kind`` (``static`` or ``dynamic``).
``layer_summary`` adds cycles, latency and utilisation; totals are group-by sums
of these rows, checked against the parts.

Every row carries the run key: ``workload``, ``hardware``, ``mode`` ('' when the
engine has no mode) and ``run`` (``hardware`` or ``hardware:mode``). Nothing
downstream may add up rows of different (workload, run) pairs.

Every row with an energy also names its unit in ``energy_unit``: ``pJ``, or ``MAC``
for hardware whose costs are normalised to one MAC (``energy_unit = "MAC"`` in the
file): the ``energy_pj`` / ``pj_per_action`` columns of those rows hold
MAC-equivalents, and ``energy_uj`` MAC-equivalents x 1e-6. Rows of two units are
never added or compared (:func:`energy_units`).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from energysim.engines.result import LayerResult
from energysim.errors import InvariantError
from energysim.hardware.hierarchy import Hardware
from energysim.units import PJ_PER_UJ

RUN_KEY_COLUMNS = ("workload", "hardware", "mode", "run")
"""Columns naming the run a row belongs to (``run`` is ``hardware`` or ``hardware:mode``)."""

ENERGY_COLUMNS = ("layer", *RUN_KEY_COLUMNS, "engine", "component", "tensor", "action", "energy_kind", "count", "pj_per_action",
                  "energy_pj", "energy_unit", "source")
"""Columns of the long-form energy table, in order (``energy_unit``: what ``pj_per_action`` and ``energy_pj`` hold)."""


STATIC_ACTION_PREFIXES = ("static", "leak")
"""An action whose name starts with one of these is time-proportional (static: leakage, clock) energy,
e.g. ``SM.static_cycle`` of ``hwconfigs/a100.toml``; every other action is dynamic (per access or operation)."""

SUMMARY_COLUMNS = (
    "layer", *RUN_KEY_COLUMNS, "engine", "macs", "cycles_compute", "cycles_fill_drain", "cycles_stall", "cycles_total",
    "latency_s", "utilisation", "energy_pj", "energy_uj", "energy_unit", "weights_on_chip", "spilled",
)
"""Columns of the per-layer summary, in order (``energy_unit``: what ``energy_pj`` / ``energy_uj`` hold, ``pJ``
or ``MAC``, see the module docstring). ``weights_on_chip`` and ``spilled`` come from
``LayerResult.weights_on_chip`` / ``.spilled`` (capacity owns them)."""


def run_name(hardware: str, mode: str = "") -> str:
    """The ``run`` of the run key: ``hardware`` when ``mode`` is '' else ``hardware:mode``."""
    return f"{hardware}:{mode}" if mode else hardware


def energy_kind(action: str) -> str:
    """``static`` for a time-proportional action (name starts with one of :data:`STATIC_ACTION_PREFIXES`), else ``dynamic``."""
    return "static" if action.lower().startswith(STATIC_ACTION_PREFIXES) else "dynamic"


def energy_table(result: LayerResult, hardware: Hardware, *, workload: str = "", mode: str = "") -> pd.DataFrame:
    """Price every count of a layer result: count x cost = energy, with the cost's source.

    Parameters
    ----------
    result
        The engine's counts for one layer.
    hardware
        The priced hardware (``cost_of(component, action)`` in pJ per action).
    workload
        Name of the workload the layer belongs to (the run key's ``workload``).
    mode
        Engine mode of the run ('' for engines without modes); ``run`` is ``hardware:mode``.

    Returns
    -------
    pandas.DataFrame
        One row per count, columns :data:`ENERGY_COLUMNS`; ``energy_kind`` is
        ``static`` or ``dynamic`` (see :func:`energy_kind`).
    """
    return pd.DataFrame(energy_rows(result, hardware, workload=workload, mode=mode), columns=list(ENERGY_COLUMNS))


def energy_rows(result: LayerResult, hardware: Hardware, *, workload: str = "", mode: str = "") -> list[tuple]:
    """The rows of :func:`energy_table` as tuples in :data:`ENERGY_COLUMNS` order (one frame per run, not per layer)."""
    rows = []
    run = run_name(result.hardware, mode)
    for (component, tensor, action), count in sorted(result.counts.items()):
        cost = hardware.cost_of(component, action)
        rows.append((result.layer, workload, result.hardware, mode, run, result.engine, component, tensor, action,
                     energy_kind(action), count, cost.energy_pj, count * cost.energy_pj, hardware.energy_unit, cost.source))
    return rows


def layer_summary(result: LayerResult, energy: pd.DataFrame | list[tuple], *, workload: str = "", mode: str = "",
                  energy_unit: str = "pJ") -> dict:
    """One summary row for a layer: run key, MACs, cycles by part, latency (s), utilisation, energy (pJ, uJ),
    whether its weights fit on chip and which tensors do not fit a level (``tensor>level``, '' if none).

    ``energy`` is the layer's :func:`energy_table` or its :func:`energy_rows`; ``workload`` and ``mode`` are the
    run key's (see :func:`energy_table`); ``energy_unit`` is the hardware's (``pJ`` or ``MAC``).
    """
    if isinstance(energy, pd.DataFrame):
        energy_pj = math.fsum(energy["energy_pj"]) if len(energy) else 0.0
    else:
        energy_pj = math.fsum(row[ENERGY_COLUMNS.index("energy_pj")] for row in energy)
    return {
        "layer": result.layer,
        "workload": workload,
        "hardware": result.hardware,
        "mode": mode,
        "run": run_name(result.hardware, mode),
        "engine": result.engine,
        "macs": result.macs,
        "cycles_compute": result.cycles["compute"],
        "cycles_fill_drain": result.cycles["fill_drain"],
        "cycles_stall": result.cycles["stall"],
        "cycles_total": result.cycles["total"],
        "latency_s": result.latency_s,
        "utilisation": result.utilisation,
        "energy_pj": energy_pj,
        "energy_uj": energy_pj / PJ_PER_UJ,
        "energy_unit": energy_unit,
        "weights_on_chip": result.weights_on_chip,
        "spilled": result.spilled,
    }


def energy_units(frame: pd.DataFrame) -> list[str]:
    """The energy units a table's rows hold (``energy_unit`` values, in order; ``["pJ"]`` for a table without the column)."""
    if "energy_unit" not in frame.columns:
        return ["pJ"]
    return list(dict.fromkeys(frame["energy_unit"].fillna("pJ").astype(str))) or ["pJ"]


def with_energy_unit(frame: pd.DataFrame, choices) -> pd.DataFrame:
    """``frame`` with an ``energy_unit`` column after its energy columns, read from each row's ``hardware`` name.

    ``choices`` are the hardware choices of the rows (anything with ``.hardware.name`` and
    ``.hardware.energy_unit``); a row whose hardware is not among them is ``pJ``.
    """
    units = {choice.hardware.name: choice.hardware.energy_unit for choice in choices}
    frame = frame.copy()
    column = frame["hardware"].map(lambda name: units.get(name, "pJ")) if "hardware" in frame.columns else "pJ"
    if "energy_unit" in frame.columns:
        frame["energy_unit"] = column
        return frame
    after = next((c for c in ("energy_uj", "energy_pj") if c in frame.columns), None)
    frame.insert(list(frame.columns).index(after) + 1 if after else len(frame.columns), "energy_unit", column)
    return frame


def check_energy_totals(energy: pd.DataFrame, summary: pd.DataFrame) -> None:
    """Raise InvariantError unless each layer's energy equals the sum of its rows, and
    the energy split by component adds up to the same total.

    Layers are checked per run (``workload``, ``run`` where the tables have them), so
    the rows of two runs are never added together.
    """
    keys = [c for c in ("workload", "run") if c in energy.columns and c in summary.columns]
    group_by = [*keys, "layer"]
    if energy.empty:
        return
    parts = energy.groupby(group_by, sort=False)["energy_pj"].sum()
    by_component = energy.groupby([*group_by, "component"], sort=False)["energy_pj"].sum().groupby(level=group_by).sum()
    stated = summary.groupby(group_by, sort=False)["energy_pj"].sum().reindex(parts.index, fill_value=0.0)
    negative_count = (energy["count"] < 0).groupby([energy[c] for c in group_by], sort=False).any()
    bad_energy = ~(energy["energy_pj"] >= 0).groupby([energy[c] for c in group_by], sort=False).all()
    for name, value in (("sum of rows", parts), ("sum by component", by_component.reindex(parts.index))):
        off = ~np.isclose(value.to_numpy(float), stated.to_numpy(float), rtol=1e-9, atol=1e-9)
        if off.any():
            key = parts.index[int(np.argmax(off))]
            raise InvariantError(f"{_where(key, keys)}: energy total {stated[key]} pJ differs from its {name} "
                                 f"{value[key]} pJ")
    for flags, rule in ((negative_count, "a priced count is negative"),
                        (bad_energy, "a priced energy is negative or NaN")):
        if flags.any():
            raise InvariantError(f"{_where(flags.index[int(np.argmax(flags.to_numpy()))], keys)}: {rule}")


def _where(key, keys: list[str]) -> str:
    """``layer 'L'`` (of run W, R where the tables have run keys), for an invariant message."""
    key = key if isinstance(key, tuple) else (key,)
    return f"layer '{key[-1]}'" + (f" of run {', '.join(map(str, key[:-1]))}" if keys else "")
