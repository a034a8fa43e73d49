"""Run a workload on a hardware configuration and price it.

The one entry point the CLI and the Python API share: load -> engine.simulate
per layer -> invariants -> priced long-form table and per-layer summary. Every
row of both tables carries the run key (``workload``, ``hardware``, ``mode``,
``run``; see :mod:`energysim.report.tables`).
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from energysim.engines import Engine, build_engine
from energysim.engines.result import LayerResult, check_invariants
from energysim.errors import InvariantError, UnsupportedError
from energysim.hardware.hierarchy import Hardware
from energysim.progress import progress_bar
from energysim.report.tables import ENERGY_COLUMNS, SUMMARY_COLUMNS, check_energy_totals, energy_rows, layer_summary, run_name
from energysim.units import PJ_PER_UJ
from energysim.workloads.workload import Workload

REPR_HTML_LAYERS = 20
"""Layers shown in a notebook's view of a run (the rest are counted, not shown)."""


@dataclass
class SimulationRun:
    """A priced simulation of a workload on one hardware in one engine mode.

    Attributes
    ----------
    workload, hardware
        Names of what was simulated.
    results
        Engine results, one per layer, in order.
    energy
        Long-form table: layer, run key (workload, hardware, mode, run), engine,
        component, tensor, action, energy_kind, count, pj_per_action, energy_pj, source.
    summary
        One row per layer: run key, macs, cycles by part, latency_s, utilisation, energy_pj, energy_uj.
    mode
        Engine mode of the run ('' for an engine without modes).
    refused
        Layers the engine refused, by name, with its reason (only with
        ``run_workload(..., skip_refused=True)``); they have no result or rows.
    energy_unit
        The hardware's cost unit: ``pJ``, or ``MAC`` when its costs are normalised to
        one MAC (the ``energy_pj`` columns then hold MAC-equivalents).
    """

    workload: str
    hardware: str
    results: list[LayerResult]
    energy: pd.DataFrame
    summary: pd.DataFrame
    mode: str = ""
    refused: dict[str, str] = field(default_factory=dict)
    energy_unit: str = "pJ"

    def only(self, layers: set[str]) -> "SimulationRun":
        """The same run restricted to ``layers`` (to total two runs over the layers both ran); itself when it ran no other."""
        if all(r.layer in layers for r in self.results) and set(self.refused) <= layers:
            return self
        return SimulationRun(
            self.workload, self.hardware, [r for r in self.results if r.layer in layers],
            self.energy[self.energy["layer"].isin(layers)].reset_index(drop=True),
            self.summary[self.summary["layer"].isin(layers)].reset_index(drop=True), self.mode,
            {k: v for k, v in self.refused.items() if k in layers}, self.energy_unit,
        )

    @property
    def run(self) -> str:
        """The run key's ``run``: ``hardware``, or ``hardware:mode`` for an engine with modes."""
        return run_name(self.hardware, self.mode)

    def totals(self) -> dict[str, Any]:
        """Network totals: run key, energy (pJ, uJ; MAC-equivalents where ``energy_unit`` is ``MAC``), its
        ``energy_unit``, cycles, latency (s), MACs, utilisation."""
        energy_pj = math.fsum(self.summary["energy_pj"])
        cycles = int(self.summary["cycles_total"].sum())
        macs = int(self.summary["macs"].sum())
        peak = sum(r.cycles["total"] * r.macs_peak_per_cycle for r in self.results)
        return {
            "workload": self.workload,
            "hardware": self.hardware,
            "mode": self.mode,
            "run": self.run,
            "layers": len(self.results),
            "macs": macs,
            "cycles_total": cycles,
            "latency_s": float(self.summary["latency_s"].sum()),
            "utilisation": macs / peak if peak else 0.0,
            "energy_pj": energy_pj,
            "energy_uj": energy_pj / PJ_PER_UJ,
            "energy_unit": self.energy_unit,
        }

    def __repr__(self) -> str:
        totals = self.totals()
        energy = (f"{_si(totals['energy_pj'], '')} MAC-equivalents" if self.energy_unit == "MAC" else
                  _si(totals['energy_pj'] * 1e-12, 'J'))
        return (f"<SimulationRun {self.workload!r} on {self.run!r}: {totals['layers']} layers, "
                f"energy {energy}, latency {_si(totals['latency_s'], 's')}, "
                f"utilisation {100 * totals['utilisation']:.3g} %>")

    def _repr_html_(self) -> str:
        """A notebook's view: the one-line totals and the first layers of the summary."""
        columns = ["layer", "engine", "macs", "cycles_total", "latency_s", "utilisation", "energy_uj", "energy_unit"]
        shown = self.summary[columns].head(REPR_HTML_LAYERS)
        more = len(self.summary) - len(shown)
        note = f"<p>{more} more layers in <code>.summary</code></p>" if more > 0 else ""
        return (f"<p><b>{html.escape(repr(self))}</b></p>"
                + shown.to_html(index=False, float_format=lambda v: f"{v:.4g}") + note)


def _si(value: float, unit: str) -> str:
    from energysim.report.terminal import si

    return si(value, unit)


def engine_mode(engine: Engine, engine_options: dict[str, Any]) -> str:
    """The engine mode a run with these options uses ('' for an engine without modes).

    Raises
    ------
    InputError
        If an option is unknown to the engine or its value is refused (:meth:`Engine.read_options`).
    """
    return engine.mode(engine.read_options(engine_options))


def run_workload(workload: Workload, hardware: Hardware, progress: bool | None = False,
                 on_layer: Callable[[str], None] | None = None, skip_refused: bool = False,
                 **engine_options: Any) -> SimulationRun:
    """Simulate every layer of ``workload`` on ``hardware`` and price the counts.

    Parameters
    ----------
    workload
        Loaded workload (layers, optional tensors).
    hardware
        Loaded hardware; its ``[engine]`` table selects the engine.
    progress
        A progress bar per layer on stderr: ``None`` only on a terminal, ``True``
        always, ``False`` (the default, as sweep workers call this) never.
    on_layer
        Called with each layer's name once it is simulated (a caller's own bar
        over several runs, as :func:`energysim.estimation.estimate` keeps).
    skip_refused
        A layer the engine refuses (:class:`~energysim.errors.UnsupportedError`, e.g. a
        grouped convolution on a one-GEMM engine) is left out and its reason kept in
        ``SimulationRun.refused``, so the other layers still run; the run is refused
        only when every layer is. False (the default): the first refusal refuses the run.
    **engine_options
        The engine's options (its ``options_model``, e.g. ``path="cycle"`` for the
        dense engine, ``mode="sparse_2_4"`` for the sparse tensor core), checked once
        before any layer runs.

    Raises
    ------
    InputError
        If an option is unknown to the engine or its value is refused.
    UnsupportedError
        If the engine refuses a layer (e.g. a mask that is not 2:4 in ``sparse_2_4`` mode), or
        with ``skip_refused`` every layer (the first layer's reason).
    InvariantError
        If any result breaks an invariant (a bug in an engine, reported with the layer).
    """
    engine = build_engine(hardware)
    options = engine.read_options(engine_options)
    mode = engine.mode(options)
    results, priced, rows, refused = [], [], [], {}
    with progress_bar(len(workload.layers), f"{workload.name} on {run_name(hardware.name, mode)}", progress) as bar:
        for layer in workload.layers:
            try:
                result = engine.run(layer, workload.layer_tensors(layer.name), options)
            except UnsupportedError as exc:
                if not skip_refused:
                    raise
                refused[layer.name] = str(exc)
                bar.update(1)
                if on_layer is not None:
                    on_layer(layer.name)
                continue
            check_invariants(result)
            energy = energy_rows(result, hardware, workload=workload.name, mode=mode)
            results.append(result)
            priced += energy
            rows.append(layer_summary(result, energy, workload=workload.name, mode=mode, energy_unit=hardware.energy_unit))
            bar.update(1)
            if on_layer is not None:
                on_layer(layer.name)
    if not results:
        raise UnsupportedError(next(iter(refused.values())))
    energy_df = pd.DataFrame(priced, columns=list(ENERGY_COLUMNS))
    summary = pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))
    check_energy_totals(energy_df, summary)
    run = SimulationRun(workload.name, hardware.name, results, energy_df, summary, mode, refused, hardware.energy_unit)
    total = run.totals()["energy_pj"]
    if not math.isclose(total, math.fsum(energy_df["energy_pj"]), rel_tol=1e-9, abs_tol=1e-9):
        raise InvariantError(f"workload '{workload.name}': network energy {total} pJ differs from the sum of its rows")
    return run
