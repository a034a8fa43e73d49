"""The closing-note experiment: test accuracy for every granularity x criterion x sparsity.

For each model (trained once, then copied), each granularity and criterion of
the grid and each target sparsity, :func:`accuracy_table` prunes with a
schedule (one-shot by default), records the test accuracy right after pruning
and after fine-tuning with masks held fixed, and the measured sparsity.
Combinations that do not make sense are kept as rows marked ``n/a`` with the
reason: a criterion not declared for the granularity
(:data:`~energysim.prune.registry.CRITERION_GRANULARITIES`), a granularity
with no layer in the model (``kernel`` on an MLP), or network slimming on a
model without batch norm. For ``nm`` the pattern is chosen per sparsity by
:func:`~energysim.prune.granularity.nm_for_sparsity` (50 % -> 2:4, 70 % ->
3:10, 90 % -> 1:10).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from energysim.errors import InputError
from energysim.progress import progress_bar
from energysim.prune.data import Dataset, load_digits_dataset
from energysim.prune.granularity import GRANULARITIES, check_sparsity, nm_for_sparsity
from energysim.prune.models import Model, build_model
from energysim.prune.pruner import PruneRequest, prunable_layers
from energysim.prune.registry import CRITERIA, CRITERION_GRANULARITIES
from energysim.prune.schedules import check_schedule, run_schedule
from energysim.prune.training import DEFAULT_TRAINING, single_threaded_blas, train

TABLE_SPARSITIES = (0.5, 0.7, 0.9)
"""Target sparsities of the closing-note table."""


@dataclass(frozen=True)
class AccuracyTable:
    """The result of :func:`accuracy_table`.

    Attributes
    ----------
    rows
        Long form: one row per (model, granularity, criterion, target_sparsity)
        with ``pattern``, ``measured_sparsity``, ``accuracy_dense``,
        ``accuracy_pruned``, ``accuracy_finetuned`` (fractions 0..1, NaN when
        n/a) and ``note`` (the n/a reason, else empty).
    wall_time_s
        Wall-clock time of the whole table, seconds (training included).
    settings
        The settings the table was made with.
    """

    rows: pd.DataFrame
    wall_time_s: float
    settings: dict

    def markdown(self, include_not_applicable: bool = True) -> str:
        """The table as Markdown: one section per model, accuracies in percent (see :func:`accuracy_markdown`)."""
        return accuracy_markdown(self.rows, self.wall_time_s, self.settings, include_not_applicable)


def not_applicable_reason(model: Model, granularity: str, criterion: str) -> str:
    """Why a combination is n/a for a model ('' when it applies)."""
    if granularity not in CRITERION_GRANULARITIES[criterion]:
        return f"{criterion} does not score {granularity} groups"
    if not prunable_layers(model, granularity):
        return f"{model.name} has no layer for {granularity}"
    if criterion == "slimming" and not any(name.endswith(".gamma") for name in model.parameters()):
        return f"{model.name} has no batch norm"
    return ""


def accuracy_table(
    models: tuple[str, ...] = ("mlp", "cnn"),
    sparsities: tuple[float, ...] = TABLE_SPARSITIES,
    granularities: tuple[str, ...] = GRANULARITIES,
    criteria: tuple[str, ...] = tuple(CRITERIA),
    schedule: str = "one_shot",
    finetune_epochs: int = 10,
    seed: int = 0,
    data: Dataset | None = None,
    progress: bool | None = False,
) -> AccuracyTable:
    """Prune every combination and measure test accuracy before and after fine-tuning.

    Parameters
    ----------
    models
        Model names (``mlp``, ``cnn``).
    sparsities
        Target sparsities in [0, 1).
    granularities, criteria
        The grid (defaults: every registered one).
    schedule
        Pruning schedule (see :mod:`energysim.prune.schedules`).
    finetune_epochs
        Fine-tuning epochs after pruning.
    seed
        Seed of model initialisation, training and random scores.
    data
        The digits split (default: :func:`load_digits_dataset`).
    progress
        Progress bar on stderr (None: only on a terminal).

    Returns
    -------
    AccuracyTable
    """
    start = time.perf_counter()
    sparsities = tuple(check_sparsity(s) for s in sparsities)
    check_schedule(schedule, finetune_epochs, steps=3)
    for name in granularities:
        if name not in GRANULARITIES:
            raise InputError(f"granularity must be one of {list(GRANULARITIES)} (got {name!r})")
    for name in criteria:
        if name not in CRITERIA:
            raise InputError(f"criterion must be one of {sorted(CRITERIA)} (got {name!r})")
    data = data or load_digits_dataset()
    rows = []
    total = len(models) * len(granularities) * len(criteria) * len(sparsities)
    with single_threaded_blas(), progress_bar(total, "prune table", progress, unit="cell") as bar:
        for model_name in models:
            dense = build_model(model_name, seed)
            config = DEFAULT_TRAINING[model_name]
            train(dense, data.x_train, data.y_train, replace(config, seed=seed))
            dense_accuracy = dense.accuracy(data.x_test, data.y_test)
            for granularity in granularities:
                for criterion in criteria:
                    bar.set_postfix_str(f"{model_name} {granularity} {criterion}", refresh=False)
                    reason = not_applicable_reason(dense, granularity, criterion)
                    for sparsity in sparsities:
                        row = {
                            "model": model_name,
                            "granularity": granularity,
                            "criterion": criterion,
                            "target_sparsity": sparsity,
                            "pattern": "",
                            "measured_sparsity": np.nan,
                            "accuracy_dense": dense_accuracy,
                            "accuracy_pruned": np.nan,
                            "accuracy_finetuned": np.nan,
                            "note": reason,
                        }
                        nm = (2, 4)
                        if not reason and granularity == "nm":
                            try:
                                nm = nm_for_sparsity(sparsity)
                                row["pattern"] = f"{nm[0]}:{nm[1]}"
                            except InputError as exc:
                                row["note"] = str(exc)
                        if not row["note"]:
                            model = dense.copy()
                            request = PruneRequest(granularity, criterion, sparsity, nm=nm, seed=seed)
                            result = run_schedule(model, request, data, schedule, finetune_epochs)
                            row.update(
                                measured_sparsity=result.report.total_sparsity,
                                accuracy_pruned=result.accuracy_pruned,
                                accuracy_finetuned=result.accuracy_finetuned,
                            )
                        rows.append(row)
                        bar.update(1)
    settings = {
        "models": list(models),
        "sparsities": list(sparsities),
        "schedule": schedule,
        "finetune_epochs": finetune_epochs,
        "seed": seed,
        "dataset": data.name,
    }
    return AccuracyTable(pd.DataFrame(rows), time.perf_counter() - start, settings)


def _percent(value: float) -> str:
    return "n/a" if value is None or (isinstance(value, float) and np.isnan(value)) else f"{100 * value:.1f}"


def accuracy_markdown(
    rows: pd.DataFrame, wall_time_s: float, settings: dict, include_not_applicable: bool = True
) -> str:
    """Render the long-form table as Markdown (one table per model; percent; n/a marked).

    Columns per target sparsity: accuracy right after pruning, after
    fine-tuning, and the measured sparsity of all weight layers together.
    With ``include_not_applicable=False`` pairs that are n/a at every sparsity
    are left out (a line under the table says how many).
    """
    lines = [
        f"Test accuracy (%) on {settings.get('dataset', 'digits')}, schedule {settings.get('schedule')}, "
        f"{settings.get('finetune_epochs')} fine-tuning epochs, seed {settings.get('seed')}; "
        f"wall time {wall_time_s:.1f} s.",
        "",
    ]
    for model_name, frame in rows.groupby("model", sort=False):
        dense = frame["accuracy_dense"].iloc[0]
        lines += [f"### {model_name} (dense {_percent(dense)} %)", ""]
        sparsities = list(dict.fromkeys(frame["target_sparsity"]))
        header = ["granularity", "criterion"]
        for s in sparsities:
            label = f"{round(100 * s)}%"
            header += [f"{label} pruned", f"{label} tuned", f"{label} measured"]
        header.append("note")
        lines.append("| " + " | ".join(header) + " |")
        lines.append("|" + "|".join(["---"] * 2 + ["---:"] * (3 * len(sparsities)) + ["---"]) + "|")
        hidden = 0
        for (granularity, criterion), group in frame.groupby(["granularity", "criterion"], sort=False):
            if not include_not_applicable and group["accuracy_pruned"].isna().all():
                hidden += 1
                continue
            cells = [granularity, criterion]
            notes = []
            for s in sparsities:
                row = group[group["target_sparsity"] == s].iloc[0]
                measured = row["measured_sparsity"]
                cells += [
                    _percent(row["accuracy_pruned"]),
                    _percent(row["accuracy_finetuned"]),
                    _percent(measured) + (f" ({row['pattern']})" if row["pattern"] else ""),
                ]
                if row["note"] and row["note"] not in notes:
                    notes.append(row["note"])
            cells.append("; ".join(notes))
            lines.append("| " + " | ".join(cells) + " |")
        if hidden:
            lines += ["", f"({hidden} granularity x criterion pairs that are n/a at every sparsity are not shown.)"]
        lines.append("")
    return "\n".join(lines)
