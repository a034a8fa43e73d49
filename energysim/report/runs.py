"""The run key of result tables: which rows belong to one run, and a label for each run.

Every result table names its run with ``workload``, ``hardware``, ``mode`` and
``run`` (``hardware`` or ``hardware:mode``); estimate tables add ``variant``
(``dense`` or ``pruned``). The report groups by (workload, run, variant) and
never adds up rows of two different runs. Files written before the run key
existed are read too: ``run`` is then derived from ``hardware`` (and ``mode``
where present), and a file in which one layer appears twice under the same key
is refused, since its runs cannot be told apart.
"""

from __future__ import annotations

from typing import Sequence

import pandas as pd

from energysim.errors import InputError

RUN_KEY = ("workload", "run", "variant")
"""Columns that together name one run of a result table (those present are used)."""


def with_run_key(frame: pd.DataFrame, table: str, unique: Sequence[str] = ("layer",)) -> pd.DataFrame:
    """A copy of ``frame`` with a ``run`` column, checked to hold each ``unique`` tuple once per run.

    Parameters
    ----------
    frame
        A result table (summary, energy, estimate, compare).
    table
        Its name in messages, e.g. ``"summary.csv"``.
    unique
        Columns that name one row within a run (``layer`` for a summary; ``layer``,
        ``component``, ``tensor``, ``action`` for an energy table). Absent ones are skipped.

    Raises
    ------
    InputError
        If two rows share the run key and every ``unique`` column: the file mixes runs
        (for example two modes of one hardware) without naming them.
    """
    frame = frame.copy()
    if "run" not in frame.columns or frame["run"].isna().all():
        if "hardware" in frame.columns:
            hardware = frame["hardware"].fillna("").astype(str)
            if "mode" in frame.columns:
                mode = frame["mode"].fillna("").astype(str)
                named = (mode == "") | hardware.str.contains(":", regex=False)  # compare.csv: hardware is already NAME:MODE
                frame["run"] = hardware.where(named, hardware + ":" + mode)
            else:
                frame["run"] = hardware
        elif "engine" in frame.columns:
            frame["run"] = frame["engine"].fillna("").astype(str)
    for column in RUN_KEY:
        if column in frame.columns:
            frame[column] = frame[column].fillna("").astype(str)
    within = [c for c in unique if c in frame.columns]
    if within:
        key = [c for c in RUN_KEY if c in frame.columns]
        clashes = frame[frame.duplicated(subset=[*key, *within], keep=False)]
        if len(clashes):
            row = clashes.iloc[0]
            named = ", ".join(f"{c} {row[c]!r}" for c in (*key, *within))
            raise InputError(f"{table}: two rows have the same {named}, so they belong to two runs the file does not tell "
                             "apart (each row needs the run key columns workload, hardware, mode and run; "
                             "re-run the command that wrote it)")
    return frame


def key_columns(frame: pd.DataFrame) -> list[str]:
    """The run key columns ``frame`` has, in :data:`RUN_KEY` order."""
    return [c for c in RUN_KEY if c in frame.columns]


def run_labels(frame: pd.DataFrame, with_variant: bool = True) -> pd.Series:
    """One label per row naming its run: ``run (engine)``, prefixed by ``workload:`` when the table holds several.

    Parameters
    ----------
    frame
        A table with some of ``workload``, ``run`` (or ``hardware``), ``engine``, ``variant``.
    with_variant
        Append ``, VARIANT model`` where a ``variant`` column exists (``a100:dense (sparse_tc), pruned
        model``: the run ``a100:dense`` on the pruned model; ``: dense`` after ``a100:dense`` read as a typo).
    """
    run_column = "run" if "run" in frame.columns else "hardware" if "hardware" in frame.columns else None
    if run_column is not None:
        label = frame[run_column].astype(str)
        if "engine" in frame.columns:
            label = label + " (" + frame["engine"].astype(str) + ")"
    elif "engine" in frame.columns:
        label = frame["engine"].astype(str)
    else:
        label = pd.Series(["run"] * len(frame), index=frame.index)
    if "workload" in frame.columns and frame["workload"].astype(str).nunique() > 1:
        label = frame["workload"].astype(str) + ": " + label
    if with_variant and "variant" in frame.columns:
        label = label + ", " + frame["variant"].astype(str) + " model"
    return label
