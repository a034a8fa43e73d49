"""Energy-aware points in a ``compare`` sweep (``energysim compare --energy-aware 0.7,0.5``).

For every hardware run of the sweep and every budget, :func:`energysim.energy_aware.job.prune_for_energy`
prunes the sweep's own trained model (from its model cache), and the result is
added to the compare table as one row of pattern ``energy_aware``: its test
accuracy, its energy and latency simulated afresh, and the ``*_vs_dense``
ratios against the sweep's dense row of the same run. Two columns are added
to the table: ``energy_budget`` (the budget asked, fraction of dense) and
``allocation`` (the option per layer the job kept); both are empty on the
sweep's other rows.

Each (run, budget) job writes its tables and workload to
``OUT/energy-aware/RUN/budget-B/``; the jobs of one run share one journal in
``OUT/energy-aware/RUN/`` (one sensitivity measurement per run, and an
interrupted sweep resumes there).
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pandas as pd

from energysim.energy_aware.job import EnergyAwareResult, prune_for_energy
from energysim.estimation import HardwareChoice
from energysim.prune.models import Model
from energysim.units import PJ_PER_UJ

PATTERN = "energy_aware"
"""The ``pattern`` of an energy-aware row."""

EXTRA_COLUMNS = ("energy_budget", "allocation")
"""Columns the energy-aware rows add to the compare table."""


def _folder_name(run: str) -> str:
    """A run label as a folder name (``a100:sparse_2_4`` -> ``a100-sparse_2_4``)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", run)


def energy_aware_row(result: EnergyAwareResult, model_name: str, choice: HardwareChoice, finetune_epochs: int,
                     seed: int, weights_dense: int) -> dict:
    """One compare row for one job (see the module text); the ratios are filled in by :func:`add_energy_aware_points`."""
    from energysim.sweep import run_label

    hardware, mode, run = run_label(choice)
    row = {"workload": model_name, "hardware": hardware, "mode": mode, "run": run, "model": model_name,
           "pattern": PATTERN, "criterion": "energy-aware", "sparsity_target": math.nan,
           "finetune_epochs": finetune_epochs, "engine": choice.hardware.engine_kind, "seed": seed,
           "energy_budget": result.energy_budget,
           "allocation": ", ".join(f"{r.layer} {r.option}" for r in result.allocation.itertuples())}
    if not result.budget_met:
        return {**row, "status": result.status}
    kept = sum(int(np.count_nonzero(result.model.weights(name))) for name in result.model.weight_layers)
    return {**row, "status": "ok", "accuracy": result.accuracy, "energy_pj": result.energy_pj,
            "energy_uj": result.energy_pj / PJ_PER_UJ, "latency_s": result.latency_s,
            "sparsity_measured": 1 - kept / weights_dense}


def add_energy_aware_points(frame: pd.DataFrame, model: Model, choices: tuple[HardwareChoice, ...],
                            budgets: list[float], out_dir: str | Path, finetune_epochs: int, seed: int = 0,
                            progress: bool | None = None) -> pd.DataFrame:
    """The compare table with one energy-aware row per hardware run and budget appended.

    Parameters
    ----------
    frame
        The sweep's compare table (it has a ``dense`` row per run).
    model
        The sweep's trained model (not modified).
    choices
        The sweep's hardware runs.
    budgets
        Energy budgets, fractions of dense, each in (0, 1].
    out_dir
        The sweep's output folder (the jobs write under ``energy-aware/``).
    finetune_epochs
        The sweep's fine-tuning epochs: each job fine-tunes this many epochs
        after pruning, and none between its layer steps, so its points and the
        sweep's get the same fine-tuning.
    seed
        The sweep's seed.
    progress
        Progress bars on stderr (None: only on a terminal).

    Returns
    -------
    pandas.DataFrame
        ``frame`` (with :data:`EXTRA_COLUMNS`) and the new rows, ratios against the sweep's dense rows.
    """
    weights_dense = sum(model.weights(name).size for name in model.weight_layers)
    rows = []
    for choice in choices:
        journal = Path(out_dir) / "energy-aware" / _folder_name(choice.label)
        for budget in budgets:
            result = prune_for_energy(model, choice, budget, finetune_epochs=finetune_epochs, step_epochs=0, seed=seed,
                                      out_dir=journal / f"budget-{budget:g}", journal_dir=journal, progress=progress)
            rows.append(energy_aware_row(result, model.name, choice, finetune_epochs, seed, weights_dense))
    added = pd.DataFrame(rows)
    table = frame.copy()
    for column in EXTRA_COLUMNS:
        if column not in table.columns:
            table[column] = math.nan if column == "energy_budget" else ""
    table = pd.concat([table, added.reindex(columns=table.columns)], ignore_index=True)
    dense = table[(table["pattern"] == "dense") & (table["status"] == "ok")].set_index("run")
    new = table["pattern"] == PATTERN
    for column, ratio in (("energy_pj", "energy_vs_dense"), ("latency_s", "latency_vs_dense")):
        if ratio in table.columns and len(dense):
            table.loc[new, ratio] = table.loc[new, column] / table.loc[new, "run"].map(dense[column])
    return table
