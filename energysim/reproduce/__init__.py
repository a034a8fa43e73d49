"""Paper reproductions: model figures printed next to published ones.

Each module named in :data:`REPRODUCTIONS` exposes
``reproduce(quick: bool = False) -> list[tuple[str, pandas.DataFrame]]``: titled
sections whose rows carry the model figure, the published one, their ratio, the
tolerance and whether it is met (``ok``: True, False, or None on informative
rows that are not judged).

:func:`reproduce` returns those sections followed by one closing section whose
title is the verdict, "k of n figures within tolerance; worst: ...", and whose
table lists every figure outside its tolerance.
"""

from __future__ import annotations

import importlib
import math
from typing import TYPE_CHECKING

from energysim.errors import InputError

if TYPE_CHECKING:  # imported where a table is built, so that `energysim --help` (which lists REPRODUCTIONS) does not
    import pandas as pd

REPRODUCTIONS: dict[str, str] = {
    "eie": "energysim.reproduce.eie",
    "a100": "energysim.reproduce.a100",
}
"""Reproduction name -> module."""

VALUE_COLUMNS = ("model", "paper", "published", "ratio", "tolerance", "ok", "source")
"""Columns of a section that hold the comparison; the others name the figure (layer, quantity, ...)."""

MISSES_COLUMNS = ("figure", "model", "published", "ratio", "tolerance", "section")
"""Columns of the closing table of misses."""


def _text(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


NAME_COLUMNS = ("layer", "quantity", "figure")
"""Naming columns shown as their bare value; others (``depth``, ``n_pe``, ...) as ``column=value``."""


def _figure(row: pd.Series, names: list[str]) -> str:
    """The row's naming values, bare ones first, then ``(column=value, ...)``: "Alex-7 throughput ... (n_pe=256)".

    A ``figure`` column (which timing figure, e.g. "hardware bound") leads, as "figure: ...", so rows that
    differ only in it stay apart when a narrow terminal cuts the text.
    """
    lead = _text(row["figure"]) if "figure" in names else ""
    bare = " ".join(_text(row[c]) for c in names if c in NAME_COLUMNS and c != "figure" and _text(row[c]))
    bare = f"{lead}: {bare}" if lead and bare else lead or bare
    keyed = ", ".join(f"{c}={_text(row[c])}" for c in names if c not in NAME_COLUMNS and _text(row[c]))
    return f"{bare} ({keyed})" if keyed and bare else bare or keyed


def _tolerance(value: object) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return "" if math.isnan(value) else f"{100 * value:g} %"
    return _text(value)


def judged_rows(sections: list[tuple[str, pd.DataFrame]]) -> pd.DataFrame:
    """Every judged row (``ok`` True or False) of the sections, one line each.

    Returns
    -------
    pandas.DataFrame
        Columns ``section``, ``figure`` (the row's naming columns joined, e.g. "Alex-8
        actual"), ``model``, ``published``, ``ratio``, ``tolerance`` (text) and ``ok``.
    """
    import pandas as pd

    rows = []
    for title, frame in sections:
        names = [c for c in frame.columns if c not in VALUE_COLUMNS]
        published = "published" if "published" in frame.columns else "paper"
        for _, row in frame.iterrows():
            if row["ok"] is None or (isinstance(row["ok"], float) and math.isnan(row["ok"])):
                continue
            rows.append({
                "section": title,
                "figure": _figure(row, names),
                "model": row["model"],
                "published": row[published],
                "ratio": row["ratio"],
                "tolerance": _tolerance(row["tolerance"]),
                "ok": bool(row["ok"]),
            })
    return pd.DataFrame(rows, columns=[*MISSES_COLUMNS, "ok"])


def _distance(ratio: object) -> float:
    """How far a ratio is from 1 on a log scale (inf when there is no ratio)."""
    if isinstance(ratio, (int, float)) and not isinstance(ratio, bool) and ratio > 0 and math.isfinite(ratio):
        return abs(math.log(ratio))
    return math.inf


def summary_line(sections: list[tuple[str, pd.DataFrame]]) -> str:
    """The verdict of a reproduction: "k of n figures within tolerance; worst: FIGURE (model M vs published P, ratio R)".

    The worst miss is the one whose ratio is farthest from 1 (a miss without a numeric
    ratio, such as the name of the worst layer, counts as farthest).
    """
    judged = judged_rows(sections)
    within = int(judged["ok"].sum()) if len(judged) else 0
    line = f"{within} of {len(judged)} figures within tolerance"
    misses = judged[~judged["ok"].astype(bool)]
    if misses.empty:
        return line + "; no misses"
    worst = misses.iloc[max(range(len(misses)), key=lambda i: _distance(misses["ratio"].iloc[i]))]
    detail = f"model {_text(worst['model'])} vs published {_text(worst['published'])}"
    if _text(worst["ratio"]):
        detail += f", ratio {_text(worst['ratio'])}"
    if worst["tolerance"]:
        detail += f", tolerance {worst['tolerance']}"
    return f"{line}; worst: {worst['figure']} in '{worst['section']}' ({detail})"


def misses_table(sections: list[tuple[str, pd.DataFrame]]) -> pd.DataFrame:
    """The judged rows outside their tolerance, worst first (columns :data:`MISSES_COLUMNS`)."""
    import pandas as pd

    judged = judged_rows(sections)
    misses = judged[~judged["ok"].astype(bool)].copy()
    misses["_distance"] = [_distance(r) for r in misses["ratio"]]
    misses = misses.sort_values("_distance", ascending=False, kind="stable")
    for column in ("model", "published"):  # numbers stay numbers; a column mixing in names is shown as text
        values = misses[column].tolist()
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
        misses[column] = pd.Series([float(v) for v in values] if numeric else [_text(v) for v in values],
                                   index=misses.index, dtype=float if numeric else object)
    return misses[list(MISSES_COLUMNS)].reset_index(drop=True)


def reproduce(name: str, quick: bool = False, progress: bool | None = None) -> list[tuple[str, pd.DataFrame]]:
    """Run one reproduction by name: its sections, then the verdict (as title) over the table of misses.

    Parameters
    ----------
    name
        One of :data:`REPRODUCTIONS`.
    quick
        The reproduction's smaller subset (for tests).
    progress
        Progress bar on stderr while it runs (None: only when stderr is a terminal; False: never).
    """
    if name not in REPRODUCTIONS:
        raise InputError(f"unknown reproduction {name!r} (known: {', '.join(sorted(REPRODUCTIONS))})")
    module = importlib.import_module(REPRODUCTIONS[name])
    sections = module.reproduce(quick=quick, progress=progress)
    return [*sections, (summary_line(sections), misses_table(sections))]
