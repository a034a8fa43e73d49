"""Pruning methods at equal energy: the three curves (uniform, global threshold, energy-aware) and the pattern choice.

Two tables feed this section of the report:

``compare`` (``energysim compare --energy-aware``)
    Each row is classified by its ``pattern`` (:func:`method_of`): ``energy_aware``
    rows are the energy-aware method, ``fine_global`` the global magnitude
    threshold, every other pruned pattern one uniform sparsity per layer.
``comparison`` (``benchmarks/energy_aware_comparison.py``)
    Rows already name their ``method``; ``patterns`` says what the hardware
    rewards (the probe's energy per pattern).

:func:`method_points` brings both to one form (model, run, method, energy as a
fraction of dense, accuracy, choice); :func:`method_curves_figure` draws, per
(model, run), each method's points and its best-accuracy envelope (the points no
other point of the same method beats with less energy);
:func:`pattern_choice_table` says per run which patterns the hardware rewards
and which the energy-aware allocation chose.
"""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure

from energysim.errors import InputError
from energysim.report.plots import _grid, _limit, _ordered_unique, pareto_mask

METHODS = ("uniform", "global", "energy_aware")
"""The three methods, in legend order."""

METHOD_COLOURS = {"uniform": "#1f77b4", "global": "#ff7f0e", "energy_aware": "#2ca02c"}
"""One colour per method in every panel."""

POINT_COLUMNS = ("model", "run", "method", "energy_vs_dense", "accuracy", "choice", "budget")
"""Columns of :func:`method_points`."""

WHY_COLUMN = "why (what each pattern buys on this run)"
ALLOCATION_COLUMN = "energy-aware allocation per budget"
"""The two text columns of :func:`pattern_choice_table`."""

CURVES_ALT = "accuracy vs energy per pruning method"
CURVES_CAPTION = ("Test accuracy against simulated energy (fraction of the dense model's on the same run), one panel per "
                  "model and hardware run: uniform, global threshold and energy-aware pruning, each method's points "
                  "faint and its best-accuracy envelope joined (higher at the same energy is better; dashed: dense).")
"""Alt text and caption of the three-curve figure in the report."""


def method_of(pattern: str) -> str | None:
    """The method a compare row's pattern belongs to (None for the dense baseline)."""
    pattern = str(pattern)
    if pattern == "dense":
        return None
    if pattern == "energy_aware":
        return "energy_aware"
    if pattern == "fine_global":
        return "global"
    return "uniform"


def has_methods(compare: pd.DataFrame) -> bool:
    """Whether a compare table holds energy-aware rows (so the three curves can be drawn)."""
    return "pattern" in compare.columns and bool((compare["pattern"].astype(str) == "energy_aware").any())


def method_points(table: pd.DataFrame, kind: str) -> pd.DataFrame:
    """The ``ok`` points of a ``compare`` or ``comparison`` table as :data:`POINT_COLUMNS`.

    Raises
    ------
    InputError
        If the table lacks a column this needs (naming it).
    """
    frame = table
    if "status" in frame.columns:
        frame = frame[frame["status"].astype(str).str.strip().str.lower() == "ok"]
    if kind == "compare":
        missing = [c for c in ("pattern", "accuracy", "energy_vs_dense") if c not in frame.columns]
        if missing:
            raise InputError(f"compare table: column {missing[0]!r} is required for the method curves")
        run = frame["run"] if "run" in frame.columns else frame["hardware"]
        model = frame["model"] if "model" in frame.columns else pd.Series("", index=frame.index)
        choice = frame["allocation"].where(frame["pattern"] == "energy_aware", None) if "allocation" in frame.columns \
            else pd.Series(None, index=frame.index, dtype=object)
        choice = choice.fillna(frame["pattern"].astype(str) + "@" + frame.get("sparsity_target", pd.Series("", index=frame.index)).astype(str))
        points = pd.DataFrame({"model": model, "run": run, "method": frame["pattern"].map(method_of),
                               "energy_vs_dense": frame["energy_vs_dense"], "accuracy": frame["accuracy"], "choice": choice,
                               "budget": frame["energy_budget"] if "energy_budget" in frame.columns else float("nan")})
    else:
        missing = [c for c in ("model", "run", "method", "energy_vs_dense", "accuracy") if c not in frame.columns]
        if missing:
            raise InputError(f"comparison table: column {missing[0]!r} is required for the method curves")
        points = frame.reindex(columns=list(POINT_COLUMNS))
    points = points.dropna(subset=["method"])
    for column in ("energy_vs_dense", "accuracy", "budget"):
        points[column] = pd.to_numeric(points[column], errors="coerce")
    return points.dropna(subset=["energy_vs_dense", "accuracy"]).reset_index(drop=True)


def method_curves_figure(points: pd.DataFrame, dense_accuracy: dict | None = None) -> Figure:
    """Accuracy vs simulated energy (fraction of dense), one panel per (model, run), one curve per method.

    Each method's points are drawn faintly; its line joins the points on its own
    best-accuracy envelope (:func:`energysim.report.plots.pareto_mask` within
    the method), so a curve higher at the same energy is the better method.

    Parameters
    ----------
    points
        From :func:`method_points`.
    dense_accuracy
        Optional (model, run) -> dense accuracy (fraction), drawn as a dashed line.
    """
    if points.empty:
        raise InputError("method curves: no 'ok' point with both energy and accuracy to draw")
    panels, note = _limit(_ordered_unique(zip(points["model"].astype(str), points["run"].astype(str))), "model x run panels")
    figure, axes = _grid(len(panels), width_in=5.2, height_in=3.6, columns=3)
    for axis, (model, run) in zip(axes, panels):
        part = points[(points["model"].astype(str) == model) & (points["run"].astype(str) == run)]
        for method in METHODS:
            mine = part[part["method"] == method]
            if mine.empty:
                continue
            colour = METHOD_COLOURS[method]
            axis.scatter(mine["energy_vs_dense"], 100 * mine["accuracy"], color=colour, alpha=0.35, s=16)
            front = mine[pareto_mask(mine["energy_vs_dense"], mine["accuracy"])].sort_values("energy_vs_dense")
            axis.plot(front["energy_vs_dense"], 100 * front["accuracy"], color=colour, marker="o", label=method)
        if dense_accuracy and (model, run) in dense_accuracy:
            axis.axhline(100 * dense_accuracy[(model, run)], color="grey", linestyle="--", linewidth=1, label="dense")
        axis.set_title(f"{model} on {run}" if model else run, fontsize=9)
        axis.set_xlabel("simulated energy (fraction of dense)")
        axis.set_ylabel("test accuracy [%]")
        axis.set_xlim(left=0)
        axis.grid(alpha=0.3)
        axis.legend(fontsize=7)
    figure.suptitle(f"Accuracy at equal simulated energy: uniform, global threshold, energy-aware{note}")
    return figure


def _patterns_in(choice: str) -> list[str]:
    """The patterns named in a choice text (``conv1 channel@0.3, conv2 fine@0.6`` -> channel, fine; ``fine_global@0.9``)."""
    items = [item.split()[-1] for item in str(choice).split(",") if item.split()]
    return list(dict.fromkeys(item.split("@")[0] for item in items))


def pattern_choice_table(points: pd.DataFrame, rewards: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per (model, run): the patterns energy-aware pruning chose, and why (what each pattern reached there).

    ``why`` lists, per pattern, the least energy (fraction of dense) that the
    uniform method reached with it in these points, or, when ``rewards`` (run,
    pattern, energy_vs_dense, rewarded) is given, the probe's energy; a pattern
    that buys nothing on the run (no point below 0.99 of dense) is marked so.
    """
    rows = []
    panels = list(dict.fromkeys(zip(points["model"], points["run"])))
    if rewards is not None and {"model", "run"} <= set(rewards.columns):
        panels += [panel for panel in dict.fromkeys(zip(rewards["model"], rewards["run"])) if panel not in panels]
    for model, run in panels:
        part = points[(points["model"] == model) & (points["run"] == run)]
        chosen = part[part["method"] == "energy_aware"].sort_values("budget", ascending=False)
        patterns: dict[str, None] = {}
        for choice in chosen["choice"]:
            patterns.update(dict.fromkeys(_patterns_in(choice)))
        reasons = []
        if rewards is not None and len(rewards):
            mine = rewards[(rewards["run"] == run) & ((rewards["model"] == model) if "model" in rewards.columns else True)]
            for row in mine.itertuples():
                verdict = "rewarded" if bool(row.rewarded) else "not rewarded"
                if pd.notna(row.energy_vs_dense):
                    reasons.append(f"{row.pattern}: probe at {row.energy_vs_dense:.3g} of dense ({verdict})")
                else:
                    reasons.append(f"{row.pattern}: refused by the engine ({verdict})")
        else:
            uniform = part[part["method"].isin(("uniform", "global"))].copy()
            uniform["pattern"] = [(_patterns_in(c) or [""])[0] for c in uniform["choice"]]
            for pattern, group in uniform.groupby("pattern", sort=False):
                least = group["energy_vs_dense"].min()
                reasons.append(f"{pattern}: least {least:.3g} of dense" + (" (buys nothing here)" if least > 0.99 else ""))
        per_budget = "; ".join(f"{b:g}: {c}" for b, c in zip(chosen["budget"], chosen["choice"]) if pd.notna(b))
        rows.append({"model": model, "run": run, "chosen patterns": ", ".join(patterns) or "none met a budget",
                     WHY_COLUMN: "; ".join(reasons), ALLOCATION_COLUMN: per_budget})
    return pd.DataFrame(rows)
