"""Accuracy at equal simulated-energy budgets: uniform sparsity, a global magnitude threshold, energy-aware.

For each model, hardware run and budget (a fraction of the dense original's
simulated energy):

``uniform``
    One sparsity for every layer, with each pattern the hardware rewards
    (:func:`~energysim.energy_aware.sensitivity.pattern_rewards`); the
    smallest sparsity of :data:`UNIFORM_LEVELS` whose fine-tuned model meets
    the budget when simulated. Where several patterns are rewarded, the one
    kept is the most accurate on held-out training images after a one-epoch
    fine-tune on the rest (:class:`~energysim.energy_aware.sensitivity.Validation`,
    as energy-aware chooses among its candidates); the test set only reports.
``global``
    Magnitude pruning with one threshold over all layers (``fine_global``);
    the smallest sparsity of :data:`UNIFORM_LEVELS` that meets the budget.
``energy_aware``
    :func:`~energysim.energy_aware.job.prune_for_energy`.

Every method gets the same fine-tuning: ``finetune_epochs`` plus
``step_epochs`` per weight layer, after pruning (energy-aware, with
``between_steps``, spends the latter between its layer steps instead). A method is ``unreachable`` at a budget when none of its
choices meets it; the row says the least energy it reached.
"""

from __future__ import annotations

import math
import re
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import pandas as pd

from energysim.energy_aware.candidates import UNIFORM_LEVELS
from energysim.energy_aware.job import prune_for_energy
from energysim.energy_aware.measure import simulate_model
from energysim.energy_aware.options import LayerOption, apply_allocation, parse_option_pattern
from energysim.energy_aware.sensitivity import Validation, pattern_rewards, uniform_allocation
from energysim.estimation import HardwareChoice, load_hardware_list
from energysim.progress import progress_bar
from energysim.prune.data import Dataset, load_digits_dataset
from energysim.prune.models import Model, build_model
from energysim.prune.pruner import PruneRequest, prune_model
from energysim.prune.schedules import finetune_config
from energysim.prune.training import DEFAULT_TRAINING, single_threaded_blas, train

BUDGETS = (0.7, 0.5, 0.3, 0.2)
"""The issue's budgets, fractions of dense energy."""

HARDWARE = ("lecture-array", "eie-64pe-lecture", "a100:sparse_2_4")
"""The comparison's hardware runs."""

COMPARISON_COLUMNS = ("model", "run", "budget", "method", "choice", "status", "energy_vs_dense", "accuracy",
                      "accuracy_dense", "wall_time_s")
"""Columns of the comparison table (accuracy: test, 0..1; energy simulated afresh, fraction of dense)."""

REWARD_COLUMNS = ("model", "run", "pattern", "probe", "status", "energy_vs_dense", "rewarded")
"""Columns of the pattern-reward table (:func:`~energysim.energy_aware.sensitivity.pattern_rewards` per model and run)."""


def _pruned_uniform(model: Model, option_or_sparsity, global_threshold: bool) -> tuple[Model, bool]:
    """A copy pruned uniformly (an option on every layer) or by one global magnitude threshold; whether shrunk."""
    trial = model.copy()
    if global_threshold:
        prune_model(trial, PruneRequest("fine_global", "magnitude", option_or_sparsity))
        return trial, False
    apply_allocation(trial, uniform_allocation(model, option_or_sparsity))
    return trial, option_or_sparsity.pattern == "channel"


def baseline_at_budget(model: Model, choice: HardwareChoice, budget: float, data: Dataset, calibration, dense_pj: float,
                       candidates: list, global_threshold: bool, epochs: int, seed: int = 0,
                       validation: Validation | None = None) -> dict:
    """The least-pruned candidate (in the given order) whose fine-tuned model meets the budget when simulated.

    Fine-tunes on every training image and scores on the test set; with
    ``validation``, fine-tunes on its fit images and scores on its held-out
    images instead (to choose between baselines without looking at the test set).

    Returns a row dict: ``choice``, ``status``, ``energy_vs_dense``, ``accuracy``.
    """
    if validation is None:
        fit_x, fit_y, score_x, score_y = data.x_train, data.y_train, data.x_test, data.y_test
    else:
        fit_x, fit_y, score_x, score_y = validation.fit_x, validation.fit_y, validation.x, validation.y
    least = math.inf
    for candidate in candidates:
        trial, shrink = _pruned_uniform(model, candidate, global_threshold)
        quick = simulate_model(trial, choice, calibration, shrink)
        if not quick.ok:
            continue
        least = min(least, quick.energy_pj / dense_pj)
        if quick.energy_pj > budget * dense_pj:
            continue
        if epochs:
            with single_threaded_blas():
                train(trial, fit_x, fit_y, finetune_config(epochs, seed))
        measured = simulate_model(trial, choice, calibration, shrink)
        if not measured.ok or measured.energy_pj > budget * dense_pj:
            least = min(least, measured.energy_pj / dense_pj) if measured.ok else least
            continue
        label = f"fine_global@{candidate:g}" if global_threshold else candidate.label
        return {"choice": label, "status": "ok", "energy_vs_dense": measured.energy_pj / dense_pj,
                "accuracy": trial.accuracy(score_x, score_y)}
    reached = f"least energy reached {least:.3g} of dense" if least < math.inf else "the engine refuses every candidate"
    return {"choice": "", "status": f"unreachable: {reached}", "energy_vs_dense": math.nan, "accuracy": math.nan}


def _uniform_candidates(model: Model, pattern: str) -> list[LayerOption]:
    granularity, (n, m) = parse_option_pattern(pattern)
    if granularity == "nm":
        return [LayerOption(pattern, 1 - n / m)]
    return [LayerOption(pattern, level) for level in UNIFORM_LEVELS]


def _held_out_pattern(model: Model, choice: HardwareChoice, budget: float, data: Dataset, calibration, dense_pj: float,
                      rewarded: list[str], validation: Validation, seed: int) -> str | None:
    """The rewarded pattern whose uniform baseline is most accurate held out (one fine-tune epoch); None if none.

    With one rewarded pattern it is taken as is; a pattern that cannot meet the
    budget is kept only when no other can (its row then says so).
    """
    if len(rewarded) <= 1:
        return rewarded[0] if rewarded else None
    scores = {}
    for pattern in rewarded:
        row = baseline_at_budget(model, choice, budget, data, calibration, dense_pj, _uniform_candidates(model, pattern),
                                 False, 1, seed, validation)
        scores[pattern] = row["accuracy"] if row["status"] == "ok" else -math.inf
    return max(rewarded, key=lambda pattern: scores[pattern])


def compare_at_budgets(models: tuple[str, ...] = ("mlp", "cnn"), hardware: tuple[str, ...] = HARDWARE,
                       budgets: tuple[float, ...] = BUDGETS, finetune_epochs: int = 5, step_epochs: int = 1,
                       seed: int = 0, progress: bool | None = None, work_dir: str | Path | None = None,
                       between_steps: bool = False) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The comparison table (:data:`COMPARISON_COLUMNS`), one row per model x run x budget x method, and the rewards.

    Parameters
    ----------
    models
        ``mlp`` and/or ``cnn`` (trained with their default settings and ``seed``).
    hardware
        Hardware specs (``NAME`` or ``NAME:MODE``).
    budgets
        Energy budgets, fractions of dense.
    finetune_epochs, step_epochs
        Fine-tuning (see the module text).
    seed
        Seed of training, pruning and sampling.
    progress
        Progress bar on stderr (None: only on a terminal).
    between_steps
        Energy-aware fine-tunes ``step_epochs`` after each layer's step and
        ``finetune_epochs`` at the end; False (default): all its epochs after
        pruning, one-shot, as the baselines do (same total either way).
    work_dir
        Where the energy-aware jobs keep one journal per (model, run), so the
        budgets of a run share one sensitivity measurement and an interrupted
        comparison resumes (None: a temporary folder).

    Returns
    -------
    (pandas.DataFrame, pandas.DataFrame)
        The comparison table and the pattern rewards per model and run
        (:data:`REWARD_COLUMNS`: what each pattern's probe costs on the run).
    """
    if work_dir is None:
        with tempfile.TemporaryDirectory(prefix="energysim-energy-aware-") as tmp:
            return compare_at_budgets(models, hardware, budgets, finetune_epochs, step_epochs, seed, progress, tmp,
                                      between_steps)
    data = load_digits_dataset()
    calibration = data.calibration(64, seed=seed)
    choices = load_hardware_list(list(hardware))
    validation = Validation.split(data, seed=seed)
    rows, reward_rows = [], []
    with progress_bar(len(models) * len(choices) * len(budgets), "energy-aware comparison", progress,
                      unit="run") as bar:
        for name in models:
            model = build_model(name, seed)
            with single_threaded_blas():
                train(model, data.x_train, data.y_train, replace(DEFAULT_TRAINING[name], seed=seed))
            accuracy_dense = model.accuracy(data.x_test, data.y_test)
            epochs = finetune_epochs + step_epochs * len(model.weight_layers)
            for choice in choices:
                dense = simulate_model(model, choice, calibration, shrink=False, dense_mode=True)
                rewards = pattern_rewards(model, choice, calibration, dense, seed=seed)
                rewarded = list(rewards.loc[rewards["rewarded"], "pattern"])
                reward_rows += [{"model": name, "run": choice.label, **r} for r in rewards.to_dict("records")]
                journal = Path(work_dir) / f"{name}-{re.sub(r'[^A-Za-z0-9_.-]+', '-', choice.label)}"
                for budget in budgets:
                    key = {"model": name, "run": choice.label, "budget": budget, "accuracy_dense": accuracy_dense}
                    start = time.perf_counter()
                    pattern = _held_out_pattern(model, choice, budget, data, calibration, dense.energy_pj, rewarded,
                                                validation, seed)
                    best = (baseline_at_budget(model, choice, budget, data, calibration, dense.energy_pj,
                                               _uniform_candidates(model, pattern), False, epochs, seed)
                            if pattern else {"choice": "", "status": "unreachable: the hardware rewards no pattern",
                                             "energy_vs_dense": math.nan, "accuracy": math.nan})
                    rows.append({**key, "method": "uniform", **best, "wall_time_s": time.perf_counter() - start})
                    start = time.perf_counter()
                    row = baseline_at_budget(model, choice, budget, data, calibration, dense.energy_pj, list(UNIFORM_LEVELS),
                                             True, epochs, seed)
                    rows.append({**key, "method": "global", **row, "wall_time_s": time.perf_counter() - start})
                    start = time.perf_counter()
                    schedule = (dict(finetune_epochs=finetune_epochs, step_epochs=step_epochs) if between_steps else
                                dict(finetune_epochs=epochs, step_epochs=0))
                    result = prune_for_energy(model, choice, budget, **schedule, seed=seed, data=data, progress=False,
                                              journal_dir=journal)
                    label = ", ".join(f"{r.layer} {r.option}" for r in result.allocation.itertuples())
                    rows.append({**key, "method": "energy_aware", "choice": label, "status": result.status,
                                 "energy_vs_dense": result.energy_vs_dense if result.budget_met else math.nan,
                                 "accuracy": result.accuracy if result.budget_met else math.nan,
                                 "wall_time_s": time.perf_counter() - start})
                    bar.update(1)
    return pd.DataFrame(rows, columns=list(COMPARISON_COLUMNS)), pd.DataFrame(reward_rows, columns=list(REWARD_COLUMNS))


def markdown_table(table: pd.DataFrame) -> str:
    """Accuracy (%) at each budget per model, run and method; ``-`` where the budget is unreachable."""
    lines = []
    budgets = list(dict.fromkeys(table["budget"]))
    header = "| model | run | method | " + " | ".join(f"{b:g}" for b in budgets) + " |"
    lines += [header, "|" + "---|" * (3 + len(budgets))]
    for (model, run, method), group in table.groupby(["model", "run", "method"], sort=False):
        cells = []
        for budget in budgets:
            row = group[group["budget"] == budget].iloc[0]
            cells.append(f"{100 * row['accuracy']:.1f} ({row['energy_vs_dense']:.3g})" if row["status"] == "ok" else "-")
        lines.append(f"| {model} | {run} | {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
