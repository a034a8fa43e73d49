"""The public Python API; each function mirrors a CLI command and returns data, not text."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from energysim import catalog
from energysim.config.loading import load_toml
from energysim.costs.export import operation_table
from energysim.costs.registry import resolve_table
from energysim.costs.table import CostTable
from energysim.engines.registry import build_engine
from energysim.errors import ConfigError
from energysim.hardware.hierarchy import Hardware, load_hardware
from energysim.simulate import SimulationRun, run_workload
from energysim.workloads.workload import Workload, load_workload


def hardware(name_or_path: str | Path) -> Hardware:
    """Load a hardware config by bundled name or path (its engine table validated too)."""
    hw = load_hardware(catalog.hwconfig_path(str(name_or_path)))
    build_engine(hw)
    return hw


def workload(name_or_path: str | Path) -> Workload:
    """Load a workload by bundled name, TOML path or pruned-workload folder."""
    return load_workload(catalog.workload_path(str(name_or_path)))


def simulate(hw: str | Path | Hardware, wl: str | Path | Workload, **engine_options: Any) -> SimulationRun:
    """Simulate a workload on a hardware config; see :class:`energysim.simulate.SimulationRun`."""
    hw_obj = hw if isinstance(hw, Hardware) else hardware(hw)
    wl_obj = wl if isinstance(wl, Workload) else workload(wl)
    return run_workload(wl_obj, hw_obj, **engine_options)


def cost_table(name_or_path: str = "lecture-45nm", bits: int | None = None) -> pd.DataFrame:
    """A cost table shaped like the lecture's: Operation, Energy [pJ], Relative Cost, Source."""
    return operation_table(resolve_table(name_or_path), bits)


def validate_file(name_or_path: str | Path) -> str:
    """Validate a hardware, workload or cost-table file; return a one-line description.

    The kind is told by the file's tables: ``[engine]`` (hardware), ``[[layers]]``
    (workload) or ``[[entries]]`` (cost table).

    Raises
    ------
    ConfigError
        With one line per problem.
    """
    path = Path(name_or_path)
    if path.is_dir() and (path / "workload.toml").is_file():
        path = path / "workload.toml"
    data = load_toml(path)
    if "engine" in data:
        hw = load_hardware(path)
        build_engine(hw)
        return f"{path}: hardware '{hw.name}' ({hw.engine_kind} engine, {len(hw.levels)} memory levels)"
    if "layers" in data:
        wl = load_workload(path)
        return f"{path}: workload '{wl.name}' ({len(wl.layers)} layers)"
    if "entries" in data:
        table = CostTable.from_file(path)
        return f"{path}: cost table '{table.name}' ({len(table.entries)} entries)"
    raise ConfigError(f"{path}: (top level): not a hardware ([engine]), workload ([[layers]]) or cost table ([[entries]]) file")
