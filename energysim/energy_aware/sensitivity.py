"""Per-layer energy sensitivity from the simulator, next to the accuracy cost of the same pruning.

For one model and one hardware run, every (layer, option) pair is measured on
its own: a copy of the model has only that layer pruned with that option (the
other layers keep the *base* allocation: dense, or the pattern the engine
requires of every layer, e.g. 2:4 on ``a100:sparse_2_4``), the copy is
exported and simulated (:func:`energysim.energy_aware.measure.simulate_model`),
and its energy and latency are compared with the base model's. The accuracy
cost of the same copy is the increase of the mean cross-entropy (nats) on a
held-out part of the training images (:class:`Validation`; the test set is
kept for reporting) after a short recovery fine-tune (``recovery_epochs`` on
the rest of the training images; the base model gets the same fine-tune, so
the increase is the pruning's alone). Without that fine-tune a layer pruned
past recovery saturates near chance and can look *cheaper* than a milder
choice (conv1 of the digits CNN: channel@0.9 3.75 nats, channel@0.5 4.44), and
the allocation then prefers the destroyed layer.

Which patterns a hardware rewards is measured too (:func:`pattern_rewards`):
every candidate pattern prunes every layer it applies to at a probe sparsity;
a pattern is rewarded when the engine runs it and the energy falls to at most
:data:`REWARD_THRESHOLD` of the dense original.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from energysim.energy_aware.measure import Measurement, simulate_model
from energysim.energy_aware.options import (
    PATTERNS,
    LayerOption,
    apply_allocation,
    has_channels,
    layer_options,
    parse_option_pattern,
)
from energysim.errors import InputError
from energysim.estimation import HardwareChoice
from energysim.progress import progress_bar
from energysim.prune.models import Model
from energysim.prune.pruner import prunable_layers
from energysim.prune.schedules import finetune_config
from energysim.prune.training import dataset_loss, single_threaded_blas, train

REWARD_THRESHOLD = 0.99
"""A pattern is rewarded when its probe's energy is at most this fraction of dense."""

PROBE_SPARSITY = {"fine": 0.5, "channel": 0.5}
"""Probe sparsity per pattern (N:M probes at 1 - N/M)."""

SENSITIVITY_COLUMNS = (
    "layer", "pattern", "option", "target_sparsity", "measured_sparsity", "status",
    "energy_pj", "latency_s", "energy_saved_pj", "latency_saved_s", "energy_saved_vs_dense",
    "energy_saved_per_sparsity", "loss", "loss_increase", "accuracy_validation",
)
"""Columns of the sensitivity table. ``energy_saved_vs_dense`` is the saving as a fraction
of the dense original's energy; ``energy_saved_per_sparsity`` divides it by the layer's
measured sparsity (fraction of its weights removed): the energy one unit of sparsity buys."""


@dataclass(frozen=True)
class Validation:
    """A seeded split of the training images: ``x``/``y`` held out to score, ``fit_x``/``fit_y`` to fine-tune on.

    The held-out images never train the copies that are scored on them, and the
    test set is never used: it is kept for reporting.
    """

    x: np.ndarray
    y: np.ndarray
    fit_x: np.ndarray
    fit_y: np.ndarray

    @classmethod
    def split(cls, data, samples: int = 360, seed: int = 0) -> "Validation":
        """``samples`` training images held out (drawn without replacement, seeded); the rest to fine-tune on.

        At least one image is left on each side.
        """
        count = min(max(int(samples), 1), len(data.x_train) - 1)
        order = np.random.default_rng(seed + 1).permutation(len(data.x_train))
        held, rest = np.sort(order[:count]), np.sort(order[count:])
        return cls(data.x_train[held], data.y_train[held], data.x_train[rest], data.y_train[rest])

    def recover(self, model: Model, epochs: int, seed: int) -> Model:
        """``model`` fine-tuned in place for ``epochs`` on the fit images (masks fixed); returned for chaining."""
        if epochs:
            with single_threaded_blas():
                train(model, self.fit_x, self.fit_y, finetune_config(epochs, seed))
        return model

    def loss(self, model: Model) -> float:
        """Mean cross-entropy of ``model`` on the sample, nats."""
        with single_threaded_blas():
            return dataset_loss(model, self.x, self.y)

    def accuracy(self, model: Model) -> float:
        """Fraction of the sample classified correctly."""
        with single_threaded_blas():
            return model.accuracy(self.x, self.y)


def probe_option(model: Model, pattern: str) -> LayerOption:
    """The option a pattern is probed with (:data:`PROBE_SPARSITY`, or 1 - N/M)."""
    granularity, (n, m) = parse_option_pattern(pattern)
    return LayerOption(pattern, 1 - n / m if granularity == "nm" else PROBE_SPARSITY[granularity])


def uniform_allocation(model: Model, option: LayerOption) -> dict[str, LayerOption]:
    """``option`` on every layer its pattern applies to."""
    granularity, _ = parse_option_pattern(option.pattern)
    return {name: option for name in prunable_layers(model, granularity)}


def measure_allocation(model: Model, allocation: dict[str, LayerOption], choice: HardwareChoice,
                       x_calibration: np.ndarray, seed: int = 0) -> tuple[Model, Measurement]:
    """A pruned copy of ``model`` (no fine-tuning) and its simulated measurement."""
    trial = model.copy()
    apply_allocation(trial, allocation, seed=seed)
    return trial, simulate_model(trial, choice, x_calibration, shrink=has_channels(allocation))


def pattern_rewards(model: Model, choice: HardwareChoice, x_calibration: np.ndarray, dense: Measurement,
                    patterns: tuple[str, ...] = PATTERNS, seed: int = 0) -> pd.DataFrame:
    """Which patterns the hardware rewards: each pattern on every layer at its probe sparsity, simulated.

    Returns
    -------
    pandas.DataFrame
        Columns ``pattern``, ``probe`` (option label), ``status`` (``ok`` or the
        engine's refusal), ``energy_vs_dense`` and ``rewarded`` (ran and at most
        :data:`REWARD_THRESHOLD` of dense).
    """
    rows = []
    for pattern in patterns:
        option = probe_option(model, pattern)
        _, measured = measure_allocation(model, uniform_allocation(model, option), choice, x_calibration, seed)
        ratio = measured.energy_pj / dense.energy_pj if measured.ok else float("nan")
        rows.append({"pattern": pattern, "probe": option.label, "status": "ok" if measured.ok else f"unsupported: {measured.refused}",
                     "energy_vs_dense": ratio, "rewarded": bool(measured.ok and ratio <= REWARD_THRESHOLD)})
    return pd.DataFrame(rows, columns=["pattern", "probe", "status", "energy_vs_dense", "rewarded"])


def base_allocation(model: Model, choice: HardwareChoice, x_calibration: np.ndarray, rewards: pd.DataFrame,
                    seed: int = 0) -> dict[str, LayerOption]:
    """The allocation every layer starts from: none (dense) if the engine runs the dense model in the run's mode.

    Otherwise (the 2:4 sparse tensor core refuses a dense mask) the first rewarded
    pattern the engine runs on every layer at its probe sparsity.

    Raises
    ------
    InputError
        If the engine refuses the dense model and every pattern.
    """
    if simulate_model(model, choice, x_calibration, shrink=False).ok:
        return {}
    for row in rewards.itertuples():
        if row.rewarded and not row.pattern == "channel":
            return uniform_allocation(model, probe_option(model, row.pattern))
    raise InputError(f"hardware run '{choice.label}' refuses the dense model and every pattern of "
                     f"{list(rewards['pattern'])}; nothing to allocate")


def energy_sensitivity(model: Model, choice: HardwareChoice, x_calibration: np.ndarray, validation: Validation,
                       patterns: tuple[str, ...], base: dict[str, LayerOption], dense: Measurement,
                       seed: int = 0, progress: bool | None = False,
                       recovery_epochs: int = 1) -> tuple[pd.DataFrame, Measurement]:
    """Energy, latency and accuracy cost of every (layer, option), each pruned alone on top of ``base``.

    Energy and latency are simulated right after pruning; the loss is measured
    on the held-out images after ``recovery_epochs`` of fine-tuning on the fit
    images, against the base model fine-tuned the same way.

    Parameters
    ----------
    model
        The trained model (not modified).
    choice
        The hardware run.
    x_calibration
        Calibration images of the exports.
    validation
        Where the loss increase is measured.
    patterns
        Patterns whose options are offered (see :func:`energysim.energy_aware.options.layer_options`).
    base
        The allocation the other layers keep.
    dense
        The dense original's measurement (the ratios' denominator).
    seed
        Seed of the pruning requests.
    progress
        Progress bar on stderr (None: only on a terminal).
    recovery_epochs
        Fine-tuning epochs before the loss is measured (0: none).

    Returns
    -------
    (pandas.DataFrame, Measurement)
        The table (:data:`SENSITIVITY_COLUMNS`; refused options have
        ``status = "unsupported: ..."`` and NaN numbers) and the base measurement.
    """
    base_model, base_measure = measure_allocation(model, base, choice, x_calibration, seed)
    if not base_measure.ok:
        raise InputError(f"hardware run '{choice.label}' refuses the base allocation: {base_measure.refused}")
    base_loss = validation.loss(validation.recover(base_model.copy(), recovery_epochs, seed))
    jobs = [(name, option) for name in model.weight_layers for option in layer_options(model, name, patterns)]
    rows = []
    with progress_bar(len(jobs), f"energy sensitivity on {choice.label}", progress, unit="probe") as bar:
        for name, option in jobs:
            if base.get(name) == option:
                bar.update(1)
                continue
            allocation = {**base, name: option}
            trial, measured = measure_allocation(model, allocation, choice, x_calibration, seed)
            row = {"layer": name, "pattern": option.pattern, "option": option.label, "target_sparsity": option.sparsity,
                   "measured_sparsity": trial.sparsity(name)}
            if measured.ok:
                saved = base_measure.energy_pj - measured.energy_pj
                validation.recover(trial, recovery_epochs, seed)
                loss = validation.loss(trial)
                row.update(status="ok", energy_pj=measured.energy_pj, latency_s=measured.latency_s, energy_saved_pj=saved,
                           latency_saved_s=base_measure.latency_s - measured.latency_s,
                           energy_saved_vs_dense=saved / dense.energy_pj,
                           energy_saved_per_sparsity=(saved / dense.energy_pj / row["measured_sparsity"]
                                                      if row["measured_sparsity"] > 0 else float("nan")),
                           loss=loss, loss_increase=loss - base_loss, accuracy_validation=validation.accuracy(trial))
            else:
                row["status"] = f"unsupported: {measured.refused}"
            rows.append(row)
            bar.update(1)
    return pd.DataFrame(rows, columns=list(SENSITIVITY_COLUMNS)), base_measure


def plot_energy_sensitivity(table: pd.DataFrame, path, title: str = "Energy saved vs accuracy cost, per layer"):
    """Per layer and pattern: energy saved (fraction of dense) against the loss increase, to a PNG (Agg backend).

    One line per (layer, pattern) through its sparsity levels: a layer far to the
    right and low carries energy and little accuracy; high and to the left, the
    reverse (fewer weights is not less energy).

    Returns
    -------
    pathlib.Path
        The written file.
    """
    from pathlib import Path

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from energysim.atomic_files import write_atomic

    path = Path(path)
    rows = table[table["status"] == "ok"]
    figure, axes = plt.subplots(figsize=(6, 4))
    try:
        for (layer, pattern), group in rows.groupby(["layer", "pattern"], sort=False):
            group = group.sort_values("target_sparsity")
            axes.plot(group["energy_saved_vs_dense"], group["loss_increase"], marker="o", label=f"{layer} {pattern}")
        axes.set_xlabel("energy saved (fraction of dense)")
        axes.set_ylabel("loss increase (nats, held out, after recovery)")
        axes.set_yscale("symlog", linthresh=1e-3)
        axes.set_title(title)
        axes.grid(True, alpha=0.3)
        axes.legend(fontsize=7)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, lambda handle: figure.savefig(handle, format="png", dpi=100, bbox_inches="tight"))
    finally:
        plt.close(figure)
    return path
