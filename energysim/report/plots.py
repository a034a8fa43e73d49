"""Plots of result tables, drawn with matplotlib's Agg canvas (no display, no pyplot state).

Every ``*_figure`` function takes a long-form pandas table with the columns of
the result files (``summary.csv``, ``energy.csv``, ``compare.csv``,
``sensitivity.csv``; see ``docs/reports.md``) and returns a
:class:`matplotlib.figure.Figure`; :func:`figure_png` turns a figure into PNG
bytes. Figures are built with ``Figure()`` and ``FigureCanvasAgg`` directly,
so they are safe to make from worker threads and never open a window.

Energies are plotted in microjoules (uJ) and latencies in microseconds (us);
accuracies and sparsities are fractions 0..1 shown as percentages; ratios are
fractions of the dense model (pruned / dense, lower is better) on axes from 0.

Colours: a sparsity pattern has one fixed colour in every report
(:func:`pattern_colour`); within one breakdown no two components share a
colour (:func:`distinct_colours`), and static (time-proportional) energy is
hatched and named ``(static)``. :func:`plots_of` lists every plot of a set of
result tables; :func:`write_plot_files` writes them as PNG, SVG and PDF.
"""

from __future__ import annotations

import io
import math
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import hsv_to_rgb, to_hex
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from energysim.atomic_files import write_bytes_atomic
from energysim.errors import InputError
from energysim.report.runs import run_labels, with_run_key
from energysim.report.tables import energy_kind, energy_units
from energysim.units import PJ_PER_UJ

MAX_PANELS = 12
"""Most sub-plots one figure draws; further groups are left out with a note in the title."""

_PALETTE = tuple(to_hex(c) for c in (*colormaps["tab10"].colors, *colormaps["tab20"].colors[1::2],
                                      *colormaps["Dark2"].colors, *colormaps["Set1"].colors))
_PALETTE = tuple(dict.fromkeys(_PALETTE))  # unique colours, strongest first

PATTERN_COLOURS = {
    "dense": "#7f7f7f",
    "fine": "#1f77b4",
    "unstructured": "#1f77b4",
    "fine_global": "#17becf",
    "nm:2:4": "#d62728",
    "vector": "#2ca02c",
    "kernel": "#9467bd",
    "channel": "#ff7f0e",
}
"""The fixed colour of each sparsity pattern, the same in every report (``unstructured`` is ``fine``'s other name)."""

_OTHER_PATTERN_COLOURS = ("#8c564b", "#e377c2", "#bcbd22", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173")

FORMATS = ("png", "svg", "pdf")
"""File formats :func:`save_figure` writes."""

SPARSE_2_4_BOUND = 0.5
"""The line on a 2:4 run's ratio plots (fraction of dense): 2:4 keeps half the weights, so its math is at most halved."""


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


def require_numbers(frame: pd.DataFrame, columns: Iterable[str], table: str) -> None:
    """Raise InputError naming the table, the column, the row and the value of the first non-numeric cell.

    Empty cells are allowed (a point that did not run); booleans and infinities are not numbers.

    Parameters
    ----------
    frame
        The table.
    columns
        Columns that must hold numbers where present (absent ones are skipped).
    table
        Its name in messages, e.g. ``"summary.csv"``.
    """
    for column in columns:
        if column not in frame.columns:
            continue
        values = frame[column]
        parsed = pd.to_numeric(values, errors="coerce")
        bad = parsed.isna() & values.notna() & (values.astype(str).str.strip() != "")
        bad |= values.map(lambda v: isinstance(v, (bool, np.bool_))) | np.isinf(parsed.astype(float))
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            value = values.iloc[row]
            shown = repr(value) if isinstance(value, str) else str(value)
            raise InputError(f"{table}: column {column!r} must hold finite numbers (row {row + 1} of the data holds {shown})")


def color_of(index: int) -> str:
    """A stable colour for the ``index``-th series (lines of one plot)."""
    return _PALETTE[index % len(_PALETTE)]


def distinct_colours(count: int) -> list[str]:
    """``count`` colours, no two alike: the palette first, evenly spaced hues beyond it."""
    if count <= len(_PALETTE):
        return list(_PALETTE[:count])
    hues = np.arange(count) / count
    values = np.where(np.arange(count) % 2 == 0, 0.85, 0.6)
    return [to_hex(hsv_to_rgb((h, 0.75, v))) for h, v in zip(hues, values)]


def pattern_colour(pattern: str) -> str:
    """The fixed colour of a sparsity pattern (:data:`PATTERN_COLOURS`; other names get a colour from a hash of the name)."""
    if pattern in PATTERN_COLOURS:
        return PATTERN_COLOURS[pattern]
    return _OTHER_PATTERN_COLOURS[zlib.crc32(pattern.encode("utf-8")) % len(_OTHER_PATTERN_COLOURS)]


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


def save_figure(figure: Figure, stem: str | Path, formats: Sequence[str] = FORMATS, dpi: int = 150) -> list[Path]:
    """Write a figure as ``stem.png``, ``stem.svg`` and ``stem.pdf`` (each atomically) and return the paths.

    Parameters
    ----------
    figure
        The figure.
    stem
        Output path without suffix (its folder is created).
    formats
        Any of :data:`FORMATS`.
    dpi
        Resolution of the PNG in dots per inch (SVG and PDF are vector).
    """
    if not isinstance(figure.canvas, FigureCanvasAgg):
        FigureCanvasAgg(figure)
    unknown = [fmt for fmt in formats if fmt not in FORMATS]
    if unknown:
        raise InputError(f"plot format must be one of {', '.join(FORMATS)} (got {unknown[0]!r})")
    paths = []
    for fmt in formats:
        buffer = io.BytesIO()
        figure.savefig(buffer, format=fmt, dpi=dpi, metadata={"Creator": "energysim"} if fmt != "png" else None)
        paths.append(write_bytes_atomic(Path(f"{stem}.{fmt}"), buffer.getvalue()))
    return paths


def time_scale(largest_s: float) -> tuple[float, str]:
    """Factor and unit name (us, ms or s) to show times up to ``largest_s`` seconds with at most 4 integer digits."""
    if not math.isfinite(largest_s) or largest_s < 1e-2:
        return 1e6, "us"
    if largest_s < 10:
        return 1e3, "ms"
    return 1.0, "s"


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


def with_energy_kind(energy: pd.DataFrame) -> pd.DataFrame:
    """``energy`` with an ``energy_kind`` column (static or dynamic), derived from ``action`` in files that lack it."""
    if "energy_kind" in energy.columns and energy["energy_kind"].notna().all():
        return energy
    if "action" not in energy.columns:
        return energy.assign(energy_kind="dynamic")
    return energy.assign(energy_kind=energy["action"].astype(str).map(energy_kind))


def segment_names(energy: pd.DataFrame, level: str = "component") -> pd.Series:
    """The name of each row's bar segment: the ``level`` value, with `` (static)`` added for static energy."""
    energy = with_energy_kind(energy)
    names = energy[level].astype(str)
    return names.where(energy["energy_kind"].astype(str) != "static", names + " (static)")


def energy_axis_label(panel: pd.DataFrame) -> str:
    """The energy axis of one run's panel: ``[uJ]``, or ``[million MAC-equivalents]`` for rows in MAC units.

    Hardware whose costs are normalised to one MAC (``energy_unit`` ``MAC``, see
    :mod:`energysim.report.tables`) has MAC-equivalents in its ``energy_pj`` column, so
    its ``/ 1e6`` axis counts millions of MAC-equivalents, not microjoules.
    """
    return "energy per inference [" + ("million MAC-equivalents" if energy_units(panel) == ["MAC"] else "uJ") + "]"


def energy_breakdown_figure(energy: pd.DataFrame, level: str = "component") -> Figure:
    """Stacked bars of energy per layer (uJ), one stack segment per memory level / unit, a panel per run.

    Static (time-proportional) energy is its own segment, named ``COMPONENT (static)``
    and hatched; no two segments share a colour.

    Parameters
    ----------
    energy
        Long-form energy table (``energy.csv``): ``layer``, ``energy_pj`` and the
        ``level`` column (default ``component``); runs are told apart by the run key
        (``workload``, ``run``, ``variant``) and drawn as separate panels.
    level
        Column that splits each bar (``component``, ``tensor`` or ``action``).
    """
    require_columns(energy, ("layer", level, "energy_pj"), "energy table")
    if energy.empty:
        raise InputError("energy table: has no rows to plot")
    frame = with_run_key(energy, "energy table", ("layer", "component", "tensor", "action"))
    frame = frame.assign(_run=run_labels(frame), _segment=segment_names(frame, level))
    static = set(frame.loc[with_energy_kind(frame)["energy_kind"].astype(str) == "static", "_segment"])
    runs, note = _limit(_ordered_unique(frame["_run"]), "runs")
    levels = _ordered_unique(frame.groupby("_segment", sort=False)["energy_pj"].sum().sort_values(ascending=False).index)
    colours = dict(zip(levels, distinct_colours(len(levels))))
    figure, axes = _grid(len(runs))
    # the variants (dense, pruned) of one run share a y scale, so their bars compare by height
    base = dict(zip(frame["_run"], run_labels(frame, with_variant=False)))
    stacks_uj = frame.groupby(["_run", "layer"], sort=False)["energy_pj"].sum() / PJ_PER_UJ
    top_uj = stacks_uj.groupby(level="_run").max().groupby(lambda r: base[r]).transform("max")
    for axis, run in zip(axes, runs):
        part = frame[frame["_run"] == run]
        layers = _ordered_unique(part["layer"])
        table = part.pivot_table(index="layer", columns="_segment", values="energy_pj", aggfunc="sum", fill_value=0.0)
        table = table.reindex(index=layers, columns=[l for l in levels if l in table.columns]) / PJ_PER_UJ
        bottom = np.zeros(len(layers))
        positions = np.arange(len(layers))
        for name in table.columns:
            values = table[name].to_numpy()
            axis.bar(positions, values, bottom=bottom, color=colours[name], label=str(name), width=0.7,
                     hatch="//" if name in static else None, edgecolor="white" if name in static else None)
            bottom += values
        axis.set_xticks(positions, [str(l) for l in layers], rotation=45 if len(layers) > 4 else 0, ha="right" if len(layers) > 4 else "center")
        axis.set_ylabel(energy_axis_label(part))
        axis.set_title(str(run), fontsize=10)
        axis.grid(axis="y", alpha=0.3)
        if top_uj[run] > 0:
            axis.set_ylim(0, 1.05 * top_uj[run])
    handles = [Patch(facecolor=colours[n], hatch="//" if n in static else None, edgecolor="white" if n in static else None,
                     label=str(n)) for n in levels]
    title = level + ("\n(static = time-proportional)" if static else "")
    figure.legend(handles, [str(n) for n in levels], loc="outside right upper", title=title, fontsize=8)
    figure.suptitle(f"Energy per layer by {level}{' (static and dynamic)' if static else ''}{note}")
    return figure


def latency_figure(summary: pd.DataFrame) -> Figure:
    """Grouped bars of latency per layer (us): one bar per variant (dense vs pruned) in each run's panel.

    Parameters
    ----------
    summary
        Per-layer summary table (``summary.csv``): ``layer``, ``latency_s``;
        ``variant`` (e.g. dense / pruned) gives the bars of a group, the run key
        (``workload``, ``run``) the panels. The time unit (us, ms or s) follows the
        largest latency.
    """
    require_columns(summary, ("layer", "latency_s"), "summary table")
    if summary.empty:
        raise InputError("summary table: has no rows to plot")
    frame = with_run_key(summary, "summary table")
    frame["_panel"] = run_labels(frame, with_variant=False)
    frame["_series"] = frame["variant"].astype(str) if "variant" in frame.columns else "latency"
    panels, note = _limit(_ordered_unique(frame["_panel"]), "runs")
    series = _ordered_unique(frame["_series"])
    colours = {name: color_of(i) for i, name in enumerate(series)}
    factor, unit = time_scale(float(pd.to_numeric(frame["latency_s"], errors="coerce").max()))
    figure, axes = _grid(len(panels))
    for axis, panel in zip(axes, panels):
        part = frame[frame["_panel"] == panel]
        layers = _ordered_unique(part["layer"])
        table = part.pivot_table(index="layer", columns="_series", values="latency_s", aggfunc="first").reindex(layers)
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
    panel = panel_column(frame)
    panels, note = _limit(_ordered_unique(frame[panel].astype(str)), "hardware configs")
    patterns = _ordered_unique(frame["pattern"].astype(str))
    figure, axes = _grid(len(panels))
    for axis, hardware in zip(axes, panels):
        part = frame[frame[panel].astype(str) == hardware]
        on_front = pareto_mask(part["_energy_uj"], part["_accuracy"])
        for pattern in patterns:
            points = part[part["pattern"].astype(str) == pattern]
            if len(points):
                axis.scatter(points["_energy_uj"], points["_accuracy"] * 100, color=pattern_colour(pattern), label=pattern, s=28, alpha=0.85)
        front = part[on_front].sort_values("_energy_uj")
        axis.scatter(front["_energy_uj"], front["_accuracy"] * 100, facecolors="none", edgecolors="black", s=90, linewidths=1.4,
                     label="Pareto front")
        axis.step(front["_energy_uj"], front["_accuracy"] * 100, where="post", color="black", linewidth=1, alpha=0.6)
        if part["_energy_uj"].min() > 0 and part["_energy_uj"].max() / part["_energy_uj"].min() > 30:
            axis.set_xscale("log")
        axis.set_xlabel(energy_axis_label(part))
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
    styles = {name: style for name, style in zip(_ordered_unique(frame["criterion"].astype(str)) if criteria else [],
                                                 ("-", "--", ":", "-.") * 8)}
    figure, (axis,) = _grid(1, width_in=7.0, height_in=4.2)
    for line, points in frame.groupby("_line", sort=False):
        points = points.sort_values("_sparsity")
        first = points.iloc[0]
        axis.plot(points["_sparsity"] * 100, points["_accuracy"] * 100, marker="o", color=pattern_colour(str(first["pattern"])),
                  linestyle=styles.get(str(first["criterion"]), "-") if criteria else "-", label=line)
    axis.set_xlabel("weight sparsity [%] (measured)")
    axis.set_ylabel("accuracy [%]")
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    figure.suptitle("Accuracy vs sparsity per pattern")
    return figure


def panel_column(compare: pd.DataFrame) -> str:
    """The column naming a compare table's hardware runs: ``run`` where present, else ``hardware`` (already NAME:MODE)."""
    return "run" if "run" in compare.columns and compare["run"].notna().all() else "hardware"


def ratio_column(compare: pd.DataFrame, quantity: str) -> str | None:
    """The column holding ``quantity`` (``energy``, ``latency``) as a fraction of dense, or None.

    ``QUANTITY_vs_dense`` is the current name; ``QUANTITY_ratio_vs_dense`` (same meaning:
    pruned / dense) is read from older files.
    """
    for column in (f"{quantity}_vs_dense", f"{quantity}_ratio_vs_dense"):
        if column in compare.columns and pd.to_numeric(compare[column], errors="coerce").notna().any():
            return column
    return None


def is_sparse_2_4(run: str) -> bool:
    """Whether a run name is a 2:4 structured-sparse mode (``...:sparse_2_4``)."""
    return str(run).endswith("2_4") or str(run).endswith("2:4")


def ratio_figure(compare: pd.DataFrame) -> Figure:
    """Energy and latency as a fraction of dense, side by side: one row per hardware run, bars per pattern and sparsity.

    Energy (the headline metric) is on the left, latency on the right. Both axes start at
    0; the dashed line at 1 is the dense model on the same hardware, and on a 2:4 run a
    dotted line marks 0.5 (2:4 keeps half the weights, so its math is at most halved). Bars are
    grouped by ``sparsity_target`` (``sparsity_measured`` where no target is given) and
    coloured by pattern (:func:`pattern_colour`).

    Parameters
    ----------
    compare
        Sweep table (``compare.csv``): ``hardware`` (or ``run``), ``pattern``, a sparsity
        column and ``energy_vs_dense`` and/or ``latency_vs_dense`` (fractions of dense;
        ``*_ratio_vs_dense`` in older files).
    """
    require_columns(compare, ("hardware", "pattern"), "compare table")
    columns = [(q, ratio_column(compare, q)) for q in ("energy", "latency")]
    columns = [(q, c) for q, c in columns if c is not None]
    if not columns:
        raise InputError("compare table: column 'energy_vs_dense' or 'latency_vs_dense' is required "
                         f"(columns present: {', '.join(map(str, compare.columns))})")
    frame = _ok_points(compare).assign(_sparsity=lambda f: _sparsity(f, prefer_target=True))
    frame = frame.dropna(subset=["_sparsity"])
    frame = frame[frame["pattern"].astype(str) != "dense"]
    if frame.empty or not any(pd.to_numeric(frame[c], errors="coerce").notna().any() for _, c in columns):
        raise InputError("compare table: has no 'ok' pruned points with a ratio to dense to plot")
    panel = panel_column(frame)
    runs, note = _limit(_ordered_unique(frame[panel].astype(str)), "hardware configs")
    patterns = _ordered_unique(frame["pattern"].astype(str))
    figure = Figure(figsize=(6.0 * len(columns), 3.2 * len(runs)), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(len(runs), len(columns), squeeze=False)
    top = 1.0
    for row, run in enumerate(runs):
        part = frame[frame[panel].astype(str) == run]
        for col, (quantity, column) in enumerate(columns):
            axis = axes[row][col]
            table = (part.assign(_ratio=pd.to_numeric(part[column], errors="coerce"))
                     .pivot_table(index="_sparsity", columns="pattern", values="_ratio", aggfunc="min").sort_index())
            width = 0.8 / max(len(table.columns), 1)
            positions = np.arange(len(table.index))
            for i, pattern in enumerate(table.columns):
                axis.bar(positions + (i - (len(table.columns) - 1) / 2) * width, table[pattern].to_numpy(), width=width,
                         color=pattern_colour(str(pattern)), label=str(pattern))
            if len(table):
                top = max(top, float(np.nanmax(table.to_numpy())))
            axis.axhline(1.0, color="black", linestyle="--", linewidth=1, zorder=3)
            if is_sparse_2_4(run):
                axis.axhline(SPARSE_2_4_BOUND, color="black", linestyle=":", linewidth=1.8, zorder=3)
            axis.set_xticks(positions, [f"{100 * s:.0f}%" for s in table.index])
            axis.set_xlabel("target weight sparsity")
            axis.set_ylabel(f"{quantity} / dense {quantity}")
            axis.set_title(f"{run}: {quantity} vs dense", fontsize=10)
            axis.grid(axis="y", alpha=0.3)
    for axis in axes.ravel():
        axis.set_ylim(0, top * 1.08)
    handles = [Patch(color=pattern_colour(name), label=name) for name in patterns]
    handles.append(Line2D([], [], color="black", linestyle="--", linewidth=1, label="dense = 1"))
    if any(is_sparse_2_4(run) for run in runs):
        handles.append(Line2D([], [], color="black", linestyle=":", linewidth=1.8, label="0.5: 2:4 keeps half the weights"))
    figure.legend(handles=handles, loc="outside right upper", title="pattern", fontsize=8)
    figure.suptitle(f"Energy and latency as a fraction of dense (lower is better){note}")
    return figure


def estimate_ratio_figure(estimate: pd.DataFrame) -> Figure:
    """Energy and latency of the pruned model as a fraction of the dense original, per layer, one row per hardware run.

    Energy is on the left, latency on the right; axes start at 0, the dashed line at 1 is
    the dense original and, on a 2:4 run, a dotted line marks 0.5. The ``TOTAL`` bar is
    the whole network.

    Parameters
    ----------
    estimate
        Estimate table (``estimate.csv``): ``layer``, ``run`` (or ``hardware``) and
        ``energy_vs_dense`` and/or ``latency_vs_dense`` (pruned / dense).
    """
    require_columns(estimate, ("layer",), "estimate table")
    columns = [(q, f"{q}_vs_dense") for q in ("energy", "latency") if f"{q}_vs_dense" in estimate.columns]
    if not columns:
        raise InputError("estimate table: column 'energy_vs_dense' or 'latency_vs_dense' is required "
                         f"(columns present: {', '.join(map(str, estimate.columns))})")
    frame = with_run_key(estimate, "estimate table")
    frame = frame[pd.concat([pd.to_numeric(frame[c], errors="coerce").notna() for _, c in columns], axis=1).any(axis=1)]
    if frame.empty:
        raise InputError("estimate table: has no run with a ratio to dense to plot")
    runs, note = _limit(_ordered_unique(frame["run"].astype(str)), "hardware runs")
    figure = Figure(figsize=(6.0 * len(columns), 3.0 * len(runs)), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(len(runs), len(columns), squeeze=False)
    top = 1.0
    for row, run in enumerate(runs):
        part = frame[frame["run"].astype(str) == run]
        layers = part["layer"].astype(str).tolist()
        positions = np.arange(len(layers))
        for col, (quantity, column) in enumerate(columns):
            axis = axes[row][col]
            values = pd.to_numeric(part[column], errors="coerce").to_numpy(dtype=float)
            colours = ["#444444" if layer == "TOTAL" else color_of(0) for layer in layers]
            axis.bar(positions, values, color=colours, width=0.7)
            if np.isfinite(values).any():
                top = max(top, float(np.nanmax(values)))
            axis.axhline(1.0, color="black", linestyle="--", linewidth=1, zorder=3)
            if is_sparse_2_4(run):
                axis.axhline(SPARSE_2_4_BOUND, color="black", linestyle=":", linewidth=1.8, zorder=3)
            axis.set_xticks(positions, layers, rotation=45 if len(layers) > 5 else 0, ha="right" if len(layers) > 5 else "center")
            axis.set_ylabel(f"{quantity} / dense {quantity}")
            axis.set_title(f"{run}: {quantity} vs dense", fontsize=10)
            axis.grid(axis="y", alpha=0.3)
    for axis in axes.ravel():
        axis.set_ylim(0, top * 1.08)
    handles = [Line2D([], [], color="black", linestyle="--", linewidth=1, label="dense = 1")]
    if any(is_sparse_2_4(run) for run in runs):
        handles.append(Line2D([], [], color="black", linestyle=":", linewidth=1.8, label="0.5: 2:4 keeps half the weights"))
    figure.legend(handles=handles, loc="outside right upper", fontsize=8)
    figure.suptitle(f"Pruned vs dense original per layer, as a fraction of dense (lower is better){note}")
    return figure


def _granularity_pattern(granularity: str) -> str:
    """The compare pattern name of a pruning granularity (``nm`` is drawn in the N:M colour)."""
    return "nm:2:4" if granularity == "nm" else granularity


def accuracy_table_figure(accuracy: pd.DataFrame) -> Figure:
    """Accuracy after pruning (and fine-tuning) vs target sparsity, a line per granularity and criterion, a panel per model.

    The dashed line is the dense model's accuracy. Lines are coloured by granularity with the
    pattern colours (``nm`` as ``nm:2:4``) and styled by criterion; rows marked not applicable
    (no accuracy) are left out.

    Parameters
    ----------
    accuracy
        ``energysim prune-table --csv`` table: ``model``, ``granularity``, ``criterion``,
        ``target_sparsity``, ``accuracy_dense`` and ``accuracy_finetuned`` (else
        ``accuracy_pruned``), fractions 0..1.
    """
    require_columns(accuracy, ("model", "granularity", "criterion", "target_sparsity", "accuracy_dense"), "accuracy table")
    column = next((c for c in ("accuracy_finetuned", "accuracy_pruned")
                   if c in accuracy.columns and pd.to_numeric(accuracy[c], errors="coerce").notna().any()), None)
    if column is None:
        raise InputError("accuracy table: has no row with 'accuracy_finetuned' or 'accuracy_pruned' to plot")
    frame = accuracy.assign(_accuracy=pd.to_numeric(accuracy[column], errors="coerce")).dropna(subset=["_accuracy"])
    panels, note = _limit(_ordered_unique(frame["model"].astype(str)), "models")
    criteria = _ordered_unique(frame["criterion"].astype(str))
    styles = {c: (("-", "--", ":", "-.")[i % 4], "osD^vPX*"[i % 8]) for i, c in enumerate(criteria)}
    figure, axes = _grid(len(panels), width_in=7.5, height_in=4.2)
    for axis, model in zip(axes, panels):
        part = frame[frame["model"].astype(str) == model]
        for (granularity, criterion), points in part.groupby(["granularity", "criterion"], sort=False):
            points = points.sort_values("target_sparsity")
            linestyle, marker = styles[str(criterion)]
            axis.plot(points["target_sparsity"] * 100, points["_accuracy"] * 100, marker=marker,
                      color=pattern_colour(_granularity_pattern(str(granularity))), linestyle=linestyle,
                      label=f"{granularity} / {criterion}")
        dense = pd.to_numeric(part["accuracy_dense"], errors="coerce").dropna()
        if len(dense):
            axis.axhline(float(dense.iloc[0]) * 100, color="black", linestyle="--", linewidth=1, label="dense")
        axis.set_xlabel("target weight sparsity [%]")
        axis.set_ylabel(f"accuracy [%] ({'after fine-tuning' if column == 'accuracy_finetuned' else 'after pruning'})")
        axis.set_title(model, fontsize=10)
        axis.grid(alpha=0.3)
        axis.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    figure.suptitle(f"Accuracy vs sparsity per granularity and criterion{note}")
    return figure


def sensitivity_with_sparsity(sensitivity: pd.DataFrame) -> pd.DataFrame:
    """A sensitivity table with a ``sparsity`` column (from ``target_sparsity`` where the file names it so)."""
    if "sparsity" not in sensitivity.columns and "target_sparsity" in sensitivity.columns:
        return sensitivity.assign(sparsity=sensitivity["target_sparsity"])
    return sensitivity


def sensitivity_figure(sensitivity: pd.DataFrame) -> Figure:
    """Per-layer pruning sensitivity: accuracy vs the sparsity of one layer, a line per layer, a panel per model.

    Parameters
    ----------
    sensitivity
        ``sensitivity.csv``: ``layer``, ``sparsity`` (or ``target_sparsity``, as
        ``energysim sensitivity --csv`` writes) and ``accuracy`` (fractions), optional
        ``model``.
    """
    sensitivity = sensitivity_with_sparsity(sensitivity)
    require_columns(sensitivity, ("layer", "sparsity", "accuracy"), "sensitivity table")
    frame = sensitivity.dropna(subset=["sparsity", "accuracy"])
    if frame.empty:
        raise InputError("sensitivity table: has no rows to plot")
    named = next((c for c in ("workload", "model") if c in frame.columns), None)
    frame = frame.assign(_model=frame[named].astype(str) if named else "model")
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


@dataclass(frozen=True)
class Plot:
    """One plot of a result table.

    Attributes
    ----------
    name
        File stem, e.g. ``energy_breakdown``.
    table
        The result table it draws (``summary``, ``energy``, ``compare``, ``sensitivity``).
    figure
        The matplotlib figure.
    alt, caption
        Alternative text and caption in the HTML report.
    """

    name: str
    table: str
    figure: Figure
    alt: str
    caption: str


def _has_points(compare: pd.DataFrame, *columns: str) -> bool:
    ok = _ok_points(compare)
    present = [c for c in columns if c in ok.columns]
    return len(present) == len(columns) and bool(ok[present].apply(pd.to_numeric, errors="coerce").notna().all(axis=1).any())


def plots_of(tables: Mapping[str, pd.DataFrame]) -> list[Plot]:
    """Every plot the report draws of some result tables, in report order.

    Parameters
    ----------
    tables
        Result tables by name: any of ``summary``, ``energy``, ``compare``,
        ``sensitivity`` (``estimate`` is shown as tables only). Empty tables are skipped.
    """
    made = []
    estimate = tables.get("estimate")
    if estimate is not None and len(estimate) and any(f"{q}_vs_dense" in estimate.columns for q in ("energy", "latency")):
        made.append(Plot("estimate_vs_dense", "estimate", estimate_ratio_figure(estimate),
                         "pruned energy and latency as a fraction of dense per layer",
                         "Energy (left) and latency (right) of the pruned model as a fraction of its dense original on the "
                         "same hardware run, per layer and in total (lower is better; 1 = no gain; on a 2:4 run the "
                         "dotted line marks 0.5: 2:4 keeps half the weights)."))
    summary, energy = tables.get("summary"), tables.get("energy")
    compare, sensitivity = tables.get("compare"), tables.get("sensitivity")
    if summary is not None and len(summary):
        made.append(Plot("latency", "summary", latency_figure(summary), "latency per layer",
                         "Latency per inference per layer, one panel per run; bars per variant where the summary "
                         "names dense and pruned runs."))
    if energy is not None and len(energy):
        made.append(Plot("energy_breakdown", "energy", energy_breakdown_figure(energy, "component"),
                         "energy breakdown per layer and level",
                         "Energy per inference per layer (uJ; millions of MAC-equivalents on hardware in MAC units), "
                         "one panel per run, stacked by memory level / arithmetic unit; hatched segments are static "
                         "(time-proportional) energy."))
    if compare is not None and len(compare):
        energy_column = "energy_uj" if "energy_uj" in compare.columns else "energy_pj"
        if _has_points(compare, "accuracy", energy_column):
            made.append(Plot("pareto", "compare", pareto_figure(compare), "accuracy vs energy Pareto plot",
                             "Accuracy vs energy per inference, one panel per hardware config; the Pareto front (points "
                             "no other point beats on energy without losing accuracy, or on accuracy without costing "
                             "energy) is ringed."))
        if any(ratio_column(_ok_points(compare), q) for q in ("energy", "latency")) and (
                _ok_points(compare)["pattern"].astype(str) != "dense").any():
            made.append(Plot("vs_dense", "compare", ratio_figure(compare), "energy and latency as a fraction of dense",
                             "Energy (left) and latency (right) of each pruned model as a fraction of the dense model "
                             "on the same hardware (lower is better; 1 = no gain); on a 2:4 run the dotted line marks "
                             "0.5: 2:4 sparsity keeps half the weights, so its math is at most halved."))
        from energysim.report import methods

        if methods.has_methods(compare):
            points = methods.method_points(compare, "compare")
            if len(points):
                made.append(Plot("method_curves", "compare", methods.method_curves_figure(points), methods.CURVES_ALT,
                                 methods.CURVES_CAPTION))
        sparsity_columns = [c for c in ("sparsity_measured", "sparsity_target") if c in compare.columns]
        if sparsity_columns and _has_points(compare, "accuracy", sparsity_columns[0]):
            made.append(Plot("accuracy_vs_sparsity", "compare", accuracy_vs_sparsity_figure(compare), "accuracy vs sparsity",
                             "Accuracy vs measured weight sparsity, one line per pattern."))
    if sensitivity is not None and len(sensitivity):
        made.append(Plot("sensitivity", "sensitivity", sensitivity_figure(sensitivity), "per-layer sensitivity",
                         "Accuracy when only one layer is pruned, one line per layer."))
    comparison = tables.get("comparison")
    if comparison is not None and len(comparison):
        from energysim.report import methods

        points = methods.method_points(comparison, "comparison")
        if len(points):
            dense = {(m, r): a for m, r, a in comparison[["model", "run", "accuracy_dense"]].itertuples(index=False)} \
                if "accuracy_dense" in comparison.columns else None
            made.append(Plot("method_curves", "comparison", methods.method_curves_figure(points, dense), methods.CURVES_ALT,
                             methods.CURVES_CAPTION))
    accuracy = tables.get("accuracy")
    if accuracy is not None and len(accuracy):
        made.append(Plot("accuracy_table", "accuracy", accuracy_table_figure(accuracy), "accuracy vs sparsity per granularity",
                         "Test accuracy after pruning and fine-tuning vs target sparsity, one line per granularity and "
                         "criterion, one panel per model; the dashed line is the dense model."))
    return made


def write_plot_files(tables: Mapping[str, pd.DataFrame], folder: str | Path, formats: Sequence[str] = FORMATS) -> list[Path]:
    """Write every plot of some result tables as PNG, SVG and PDF files (for papers) and return the paths.

    Parameters
    ----------
    tables
        Result tables by name, as for :func:`plots_of` (``summary``, ``energy``,
        ``compare``, ``sensitivity``).
    folder
        Output folder (created); files are ``NAME.png``, ``NAME.svg``, ``NAME.pdf``
        with the names of :func:`plots_of` (``estimate_vs_dense``, ``latency``,
        ``energy_breakdown``, ``pareto``, ``vs_dense``, ``method_curves``, ``accuracy_vs_sparsity``,
        ``sensitivity``, ``accuracy_table``).
    formats
        Any of :data:`FORMATS`.

    Raises
    ------
    InputError
        If no table has anything to plot, or a table lacks a column its plot needs.
    """
    made = plots_of(tables)
    if not made:
        raise InputError(f"no plot to write: the tables given ({', '.join(tables) or 'none'}) have no rows to plot")
    paths = []
    for plot in made:
        paths += save_figure(plot.figure, Path(folder) / plot.name, formats)
        plot.figure.clear()
    return paths
