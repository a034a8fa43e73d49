"""Plots of result tables, drawn with matplotlib's Agg canvas (no display, no pyplot state).

Every ``*_figure`` function takes a long-form pandas table with the columns of
the result files (``summary.csv``, ``energy.csv``, ``compare.csv``,
``sensitivity.csv``; see ``docs/reports.md``) and returns a
:class:`matplotlib.figure.Figure`; :func:`figure_png` turns a figure into PNG
bytes. Figures are built with ``Figure()`` and ``FigureCanvasAgg`` directly,
so they are safe to make from worker threads and never open a window.

Energies are plotted in microjoules (uJ) and latencies in microseconds (us);
accuracies and sparsities are fractions 0..1 shown as percentages.
"""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from energysim.atomic_files import write_bytes_atomic
from energysim.errors import InputError
from energysim.units import PJ_PER_UJ

RUN_COLUMNS = ("variant", "engine", "hardware")
"""Columns that, where present, tell runs apart in summary and energy tables."""

MAX_PANELS = 12
"""Most sub-plots one figure draws; further groups are left out with a note in the title."""

_PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")


def require_columns(frame: pd.DataFrame, columns: Iterable[str], table: str) -> None:
    """Raise InputError naming the table and the first missing column, if any is missing.

    Parameters
    ----------
    frame
        The table.
    columns
        Column names it must have.
    table
        Its name in messages, e.g. ``"compare.csv"``.
    """
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(f"{table}: column {missing[0]!r} is required (columns present: {', '.join(map(str, frame.columns))})")


def color_of(index: int) -> str:
    """A stable colour for the ``index``-th series."""
    return _PALETTE[index % len(_PALETTE)]


def figure_png(figure: Figure, dpi: int = 110) -> bytes:
    """Render a figure to PNG bytes with the Agg canvas.

    Parameters
    ----------
    figure
        The figure.
    dpi
        Resolution in dots per inch.
    """
    if not isinstance(figure.canvas, FigureCanvasAgg):
        FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def save_png(figure: Figure, path: str | Path, dpi: int = 110) -> Path:
    """Write a figure as a PNG file atomically (temporary file, then rename) and return its path.

    Parameters
    ----------
    figure
        The figure.
    path
        Output ``.png`` path (its folder is created).
    dpi
        Resolution in dots per inch.
    """
    return write_bytes_atomic(path, figure_png(figure, dpi))


def time_scale(largest_s: float) -> tuple[float, str]:
    """Factor and unit name (us, ms or s) to show times up to ``largest_s`` seconds with at most 4 integer digits."""
    if not math.isfinite(largest_s) or largest_s < 1e-2:
        return 1e6, "us"
    if largest_s < 10:
        return 1e3, "ms"
    return 1.0, "s"


def run_labels(frame: pd.DataFrame) -> pd.Series:
    """One label per row naming its run: ``hardware (engine)``, plus ``: variant`` where a variant column exists."""
    parts = []
    if "hardware" in frame.columns:
        hardware = frame["hardware"].astype(str)
        parts.append(hardware + (" (" + frame["engine"].astype(str) + ")" if "engine" in frame.columns else ""))
    elif "engine" in frame.columns:
        parts.append(frame["engine"].astype(str))
    if "variant" in frame.columns:
        parts.append(frame["variant"].astype(str))
    if not parts:
        return pd.Series(["run"] * len(frame), index=frame.index)
    label = parts[0]
    for part in parts[1:]:
        label = label + ": " + part
    return label


def _grid(count: int, width_in: float = 6.4, height_in: float = 3.6, columns: int = 2) -> tuple[Figure, list]:
    columns = 1 if count == 1 else columns
    rows = math.ceil(count / columns)
    figure = Figure(figsize=(width_in * columns, height_in * rows), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(rows, columns, squeeze=False).ravel().tolist()
    for extra in axes[count:]:
        extra.set_visible(False)
    return figure, axes[:count]


def _limit(groups: list, what: str) -> tuple[list, str]:
    if len(groups) <= MAX_PANELS:
        return groups, ""
    return groups[:MAX_PANELS], f" (first {MAX_PANELS} of {len(groups)} {what})"


def _ordered_unique(values: Sequence) -> list:
    return list(dict.fromkeys(values))


def energy_breakdown_figure(energy: pd.DataFrame, level: str = "component") -> Figure:
    """Stacked bars of energy per layer (uJ), one stack segment per memory level / unit.

    Parameters
    ----------
    energy
        Long-form energy table (``energy.csv``): ``layer``, ``energy_pj`` and the
        ``level`` column (default ``component``); runs are told apart by
        ``variant``/``engine``/``hardware`` and drawn as separate panels.
    level
        Column that splits each bar (``component``, ``tensor`` or ``action``).
    """
    require_columns(energy, ("layer", level, "energy_pj"), "energy table")
    if energy.empty:
        raise InputError("energy table: has no rows to plot")
    frame = energy.assign(_run=run_labels(energy))
    runs, note = _limit(_ordered_unique(frame["_run"]), "runs")
    levels = _ordered_unique(frame.groupby(level, sort=False)["energy_pj"].sum().sort_values(ascending=False).index)
    colours = {name: color_of(i) for i, name in enumerate(levels)}
    figure, axes = _grid(len(runs))
    for axis, run in zip(axes, runs):
        part = frame[frame["_run"] == run]
        layers = _ordered_unique(part["layer"])
        table = part.pivot_table(index="layer", columns=level, values="energy_pj", aggfunc="sum", fill_value=0.0)
        table = table.reindex(index=layers, columns=[l for l in levels if l in table.columns]) / PJ_PER_UJ
        bottom = np.zeros(len(layers))
        positions = np.arange(len(layers))
        for name in table.columns:
            values = table[name].to_numpy()
            axis.bar(positions, values, bottom=bottom, color=colours[name], label=str(name), width=0.7)
            bottom += values
        axis.set_xticks(positions, [str(l) for l in layers], rotation=45 if len(layers) > 4 else 0, ha="right" if len(layers) > 4 else "center")
        axis.set_ylabel("energy per inference [uJ]")
        axis.set_title(str(run), fontsize=10)
        axis.grid(axis="y", alpha=0.3)
    handles = [Patch(color=colours[n], label=str(n)) for n in levels]
    figure.legend(handles, [str(n) for n in levels], loc="outside right upper", title=level, fontsize=8)
    figure.suptitle(f"Energy per layer by {level}{note}")
    return figure


def latency_figure(summary: pd.DataFrame) -> Figure:
    """Grouped bars of latency per layer (us): one bar per variant (dense vs pruned) in each hardware panel.

    Parameters
    ----------
    summary
        Per-layer summary table (``summary.csv``): ``layer``, ``latency_s``;
        ``variant`` (e.g. dense / pruned) gives the bars of a group,
        ``engine``/``hardware`` the panels. The time unit (us, ms or s) follows the
        largest latency.
    """
    require_columns(summary, ("layer", "latency_s"), "summary table")
    if summary.empty:
        raise InputError("summary table: has no rows to plot")
    frame = summary.copy()
    panel_columns = [c for c in ("hardware", "engine") if c in frame.columns]
    frame["_panel"] = run_labels(frame.drop(columns=["variant"], errors="ignore")) if panel_columns else "all"
    frame["_series"] = frame["variant"].astype(str) if "variant" in frame.columns else "latency"
    panels, note = _limit(_ordered_unique(frame["_panel"]), "hardware configs")
    series = _ordered_unique(frame["_series"])
    colours = {name: color_of(i) for i, name in enumerate(series)}
    factor, unit = time_scale(float(pd.to_numeric(frame["latency_s"], errors="coerce").max()))
    figure, axes = _grid(len(panels))
    for axis, panel in zip(axes, panels):
        part = frame[frame["_panel"] == panel]
        layers = _ordered_unique(part["layer"])
        table = part.pivot_table(index="layer", columns="_series", values="latency_s", aggfunc="sum").reindex(layers)
        width = 0.8 / max(len(series), 1)
        positions = np.arange(len(table.index))
        for i, name in enumerate(series):
            if name not in table.columns:
                continue
            axis.bar(positions + (i - (len(series) - 1) / 2) * width, table[name].to_numpy() * factor, width=width,
                     color=colours[name], label=str(name))
        axis.set_xticks(positions, [str(l) for l in table.index], rotation=45 if len(positions) > 5 else 0,
                        ha="right" if len(positions) > 5 else "center")
        axis.set_ylabel(f"latency per inference [{unit}]")
        axis.set_title(str(panel), fontsize=10)
        axis.grid(axis="y", alpha=0.3)
        if len(series) > 1:
            axis.legend(fontsize=8)
    figure.suptitle(("Dense vs sparse latency per layer" if len(series) > 1 else "Latency per layer") + note)
    return figure


def _ok_points(compare: pd.DataFrame) -> pd.DataFrame:
    frame = compare
    if "status" in frame.columns:
        frame = frame[frame["status"].astype(str).str.strip().str.lower() == "ok"]
    return frame


def _energy_uj(frame: pd.DataFrame) -> pd.Series:
    if "energy_uj" in frame.columns and frame["energy_uj"].notna().any():
        return pd.to_numeric(frame["energy_uj"], errors="coerce")
    return pd.to_numeric(frame["energy_pj"], errors="coerce") / PJ_PER_UJ


def _sparsity(frame: pd.DataFrame, prefer_target: bool = False) -> pd.Series:
    order = ("sparsity_target", "sparsity_measured") if prefer_target else ("sparsity_measured", "sparsity_target")
    for column in (*order, "sparsity"):
        if column in frame.columns and frame[column].notna().any():
            return pd.to_numeric(frame[column], errors="coerce")
    raise InputError(f"compare table: column 'sparsity_measured' or 'sparsity_target' is required (columns present: {', '.join(frame.columns)})")


def pareto_mask(energy: Sequence[float], accuracy: Sequence[float]) -> np.ndarray:
    """Which points are on the accuracy-vs-energy Pareto front (lower energy, higher accuracy).

    A point is on the front unless another point has energy <= and accuracy >=
    with at least one strict; identical points are all on the front.

    Parameters
    ----------
    energy
        Energy per point (any unit, lower is better).
    accuracy
        Accuracy per point (higher is better).

    Returns
    -------
    numpy.ndarray
        Boolean mask, True on the front.
    """
    energy = np.asarray(energy, dtype=float)
    accuracy = np.asarray(accuracy, dtype=float)
    if energy.shape != accuracy.shape:
        raise InputError(f"pareto front needs as many energies as accuracies (got {energy.size} and {accuracy.size})")
    no_worse = (energy[None, :] <= energy[:, None]) & (accuracy[None, :] >= accuracy[:, None])
    better = (energy[None, :] < energy[:, None]) | (accuracy[None, :] > accuracy[:, None])
    return ~(no_worse & better).any(axis=1)


def pareto_figure(compare: pd.DataFrame) -> Figure:
    """Accuracy vs energy per inference, one panel per hardware config, Pareto front highlighted.

    Parameters
    ----------
    compare
        Sweep table (``compare.csv``): ``hardware``, ``pattern``, ``accuracy``
        (fraction), ``energy_uj`` or ``energy_pj``, optional ``status`` (only
        ``ok`` points are drawn). Points are coloured by pattern; front points
        are ringed in black and joined by a step line.
    """
    require_columns(compare, ("hardware", "pattern", "accuracy"), "compare table")
    if "energy_uj" not in compare.columns:
        require_columns(compare, ("energy_pj",), "compare table")
    frame = _ok_points(compare).assign(_energy_uj=lambda f: _energy_uj(f), _accuracy=lambda f: pd.to_numeric(f["accuracy"], errors="coerce"))
    frame = frame.dropna(subset=["_energy_uj", "_accuracy"])
    if frame.empty:
        raise InputError("compare table: has no 'ok' points with both accuracy and energy to plot")
    panels, note = _limit(_ordered_unique(frame["hardware"].astype(str)), "hardware configs")
    patterns = _ordered_unique(frame["pattern"].astype(str))
    colours = {name: color_of(i) for i, name in enumerate(patterns)}
    figure, axes = _grid(len(panels))
    for axis, hardware in zip(axes, panels):
        part = frame[frame["hardware"].astype(str) == hardware]
        on_front = pareto_mask(part["_energy_uj"], part["_accuracy"])
        for pattern in patterns:
            points = part[part["pattern"].astype(str) == pattern]
            if len(points):
                axis.scatter(points["_energy_uj"], points["_accuracy"] * 100, color=colours[pattern], label=pattern, s=28, alpha=0.85)
        front = part[on_front].sort_values("_energy_uj")
        axis.scatter(front["_energy_uj"], front["_accuracy"] * 100, facecolors="none", edgecolors="black", s=90, linewidths=1.4,
                     label="Pareto front")
        axis.step(front["_energy_uj"], front["_accuracy"] * 100, where="post", color="black", linewidth=1, alpha=0.6)
        if part["_energy_uj"].min() > 0 and part["_energy_uj"].max() / part["_energy_uj"].min() > 30:
            axis.set_xscale("log")
        axis.set_xlabel("energy per inference [uJ]")
        axis.set_ylabel("accuracy [%]")
        axis.set_title(hardware, fontsize=10)
        axis.grid(alpha=0.3)
        axis.legend(fontsize=7)
    figure.suptitle(f"Accuracy vs energy (Pareto front ringed){note}")
    return figure


def accuracy_vs_sparsity_figure(compare: pd.DataFrame) -> Figure:
    """Accuracy vs sparsity, one line per pattern (and criterion where several are present).

    Accuracy does not depend on the hardware, so each (pattern, criterion,
    sparsity target) point is drawn once.

    Parameters
    ----------
    compare
        Sweep table (``compare.csv``): ``pattern``, ``accuracy`` (fraction) and
        ``sparsity_measured`` (else ``sparsity_target``), fractions 0..1.
    """
    require_columns(compare, ("pattern", "accuracy"), "compare table")
    frame = _ok_points(compare).assign(_sparsity=lambda f: _sparsity(f), _accuracy=lambda f: pd.to_numeric(f["accuracy"], errors="coerce"))
    frame = frame.dropna(subset=["_sparsity", "_accuracy"])
    if frame.empty:
        raise InputError("compare table: has no 'ok' points with both accuracy and sparsity to plot")
    criteria = "criterion" in frame.columns and frame["criterion"].nunique() > 1
    frame["_line"] = frame["pattern"].astype(str) + ((" / " + frame["criterion"].astype(str)) if criteria else "")
    key = ["_line", "sparsity_target"] if "sparsity_target" in frame.columns else ["_line", "_sparsity"]
    frame = frame.drop_duplicates(subset=key)
    figure, (axis,) = _grid(1, width_in=7.0, height_in=4.2)
    for i, (line, points) in enumerate(frame.groupby("_line", sort=False)):
        points = points.sort_values("_sparsity")
        axis.plot(points["_sparsity"] * 100, points["_accuracy"] * 100, marker="o", color=color_of(i), label=line)
    axis.set_xlabel("weight sparsity [%] (measured)")
    axis.set_ylabel("accuracy [%]")
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    figure.suptitle("Accuracy vs sparsity per pattern")
    return figure


def latency_ratio_figure(compare: pd.DataFrame) -> Figure:
    """Sparse latency relative to dense (``latency_ratio_vs_dense``) per pattern and target sparsity, one panel per hardware.

    Bars below the dashed line at 1 are faster than the dense model on the
    same hardware. Bars are grouped by ``sparsity_target`` (the grid axis;
    ``sparsity_measured`` where no target is given).

    Parameters
    ----------
    compare
        Sweep table (``compare.csv``): ``hardware``, ``pattern``,
        ``latency_ratio_vs_dense`` and a sparsity column (fractions).
    """
    require_columns(compare, ("hardware", "pattern", "latency_ratio_vs_dense"), "compare table")
    frame = _ok_points(compare).assign(_sparsity=lambda f: _sparsity(f, prefer_target=True),
                                       _ratio=lambda f: pd.to_numeric(f["latency_ratio_vs_dense"], errors="coerce"))
    frame = frame.dropna(subset=["_ratio", "_sparsity"])
    if frame.empty:
        raise InputError("compare table: has no 'ok' points with a latency ratio to plot")
    panels, note = _limit(_ordered_unique(frame["hardware"].astype(str)), "hardware configs")
    patterns = _ordered_unique(frame["pattern"].astype(str))
    colours = {name: color_of(i) for i, name in enumerate(patterns)}
    figure, axes = _grid(len(panels))
    for axis, hardware in zip(axes, panels):
        part = frame[frame["hardware"].astype(str) == hardware]
        table = part.pivot_table(index="_sparsity", columns="pattern", values="_ratio", aggfunc="mean").sort_index()
        width = 0.8 / max(len(table.columns), 1)
        positions = np.arange(len(table.index))
        for i, pattern in enumerate(table.columns):
            axis.bar(positions + (i - (len(table.columns) - 1) / 2) * width, table[pattern].to_numpy(), width=width,
                     color=colours[str(pattern)], label=str(pattern))
        axis.axhline(1.0, color="black", linestyle="--", linewidth=1)
        axis.set_xticks(positions, [f"{100 * s:.0f}%" for s in table.index])
        axis.set_xlabel("target weight sparsity")
        axis.set_ylabel("latency / dense latency")
        axis.set_title(hardware, fontsize=10)
        axis.grid(axis="y", alpha=0.3)
    handles = [Patch(color=colours[name], label=name) for name in patterns]
    handles.append(Line2D([], [], color="black", linestyle="--", linewidth=1, label="dense = 1"))
    figure.legend(handles=handles, loc="outside right upper", title="pattern", fontsize=8)
    figure.suptitle(f"Sparse vs dense latency{note}")
    return figure


def sensitivity_figure(sensitivity: pd.DataFrame) -> Figure:
    """Per-layer pruning sensitivity: accuracy vs the sparsity of one layer, a line per layer, a panel per model.

    Parameters
    ----------
    sensitivity
        ``sensitivity.csv``: ``layer``, ``sparsity`` and ``accuracy`` (fractions),
        optional ``model``.
    """
    require_columns(sensitivity, ("layer", "sparsity", "accuracy"), "sensitivity table")
    frame = sensitivity.dropna(subset=["sparsity", "accuracy"])
    if frame.empty:
        raise InputError("sensitivity table: has no rows to plot")
    frame = frame.assign(_model=frame["model"].astype(str) if "model" in frame.columns else "model")
    panels, note = _limit(_ordered_unique(frame["_model"]), "models")
    figure, axes = _grid(len(panels))
    for axis, model in zip(axes, panels):
        part = frame[frame["_model"] == model]
        for i, (layer, points) in enumerate(part.groupby("layer", sort=False)):
            points = points.sort_values("sparsity")
            axis.plot(points["sparsity"] * 100, points["accuracy"] * 100, marker=".", color=color_of(i), label=str(layer))
        axis.set_xlabel("sparsity of this layer only [%]")
        axis.set_ylabel("accuracy [%]")
        axis.set_title(model, fontsize=10)
        axis.grid(alpha=0.3)
        axis.legend(fontsize=7)
    figure.suptitle(f"Per-layer pruning sensitivity{note}")
    return figure
