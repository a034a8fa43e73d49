"""Schedules: when to prune and how to recover (fine-tuning with masks held fixed).

``one_shot``
    Prune once to the target, then fine-tune.
``iterative``
    ``steps`` prune steps at linearly increasing targets ``s * i / steps``,
    fine-tuning ``finetune_epochs`` between steps (and after the last).
``gradual``
    Zhu & Gupta's cubic schedule during training:
    ``s_t = s_f + (s_i - s_f) (1 - (t - t_0) / (n dt))^3`` for
    ``t_0 <= t <= t_0 + n dt``, pruning every ``dt`` optimiser steps, then
    fine-tuning for the remaining epochs. The pruning phase lasts
    ``finetune_epochs`` epochs of the fine-tuning settings
    (:func:`finetune_config`: its batch size sets the optimiser steps per
    epoch), so ``gradual`` needs ``finetune_epochs >= 1``.

Every schedule keeps masks monotone and fine-tunes with masks held fixed, so a
pruned weight stays exactly zero. ``nm`` has one fixed sparsity (1 - N/M), so
iterative and gradual schedules reach it in one step.

References
----------
.. [1] S. Han, J. Pool, J. Tran, W. J. Dally, "Learning both Weights and
   Connections for Efficient Neural Networks", NeurIPS 2015 (iterative).
.. [2] M. Zhu, S. Gupta, "To prune, or not to prune: exploring the efficacy of
   pruning for model compression", ICLR Workshops 2018, arXiv:1710.01878 (gradual).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from energysim.errors import InputError
from energysim.prune.data import Dataset
from energysim.prune.models import Model
from energysim.prune.pruner import PruneReport, PruneRequest, prune_model
from energysim.prune.training import TrainConfig, single_threaded_blas, train

SCHEDULES = ("one_shot", "iterative", "gradual")
"""Schedule names."""

SLIMMING_L1 = 3e-2
"""Default L1 weight on batch-norm scales during network-slimming sparsity training (per mean-loss step)."""

SLIMMING_LEARNING_RATE = 0.05
"""SGD step size of the sparsity training (momentum 0.9)."""


@dataclass(frozen=True)
class ScheduleResult:
    """Outcome of a schedule.

    Attributes
    ----------
    accuracy_dense
        Test accuracy before pruning (0..1).
    accuracy_pruned
        Test accuracy right after the last prune step, before the final fine-tuning.
    accuracy_finetuned
        Test accuracy after the final fine-tuning (equals ``accuracy_pruned`` with 0 epochs).
    report
        Sparsities after the last step.
    """

    accuracy_dense: float
    accuracy_pruned: float
    accuracy_finetuned: float
    report: PruneReport


def cubic_sparsity(step: int, final_sparsity: float, start_step: int, end_step: int, initial_sparsity: float = 0.0) -> float:
    """Zhu & Gupta's gradual target at optimiser step ``step``.

    Parameters
    ----------
    step
        Current step.
    final_sparsity, initial_sparsity
        ``s_f`` and ``s_i``.
    start_step, end_step
        ``t_0`` and ``t_0 + n dt`` (end > start).

    Returns
    -------
    float
        ``s_i`` before ``start_step``, ``s_f`` after ``end_step``, the cubic in between.
    """
    if end_step <= start_step:
        raise InputError(f"gradual pruning needs end_step > start_step (got {start_step} and {end_step})")
    progress = min(max((step - start_step) / (end_step - start_step), 0.0), 1.0)
    return final_sparsity + (initial_sparsity - final_sparsity) * (1.0 - progress) ** 3


def slimming_sparsity_training(model: Model, data: Dataset, epochs: int = 5, l1: float = SLIMMING_L1, seed: int = 0) -> None:
    """Train a model with an L1 penalty on its batch-norm scales (network slimming), in place.

    Uses SGD with momentum (lr :data:`SLIMMING_LEARNING_RATE`) so the L1
    subgradient ``l1 * sign(gamma)`` competes with the loss gradient by
    magnitude; on the digits CNN 5 epochs at ``l1 = 0.03`` drive most
    batch-norm scales of unneeded channels below 0.01 at a cost of about
    2 points of accuracy, which fine-tuning recovers.

    Raises
    ------
    InputError
        If the model has no batch norm.
    """
    if not any(name.endswith(".gamma") for name in model.parameters()):
        raise InputError(f"network slimming needs batch-norm scales; model {model.name!r} has none")
    config = TrainConfig(
        epochs=epochs, batchnorm_l1=l1, seed=seed, learning_rate=SLIMMING_LEARNING_RATE, optimizer="sgd"
    )
    train(model, data.x_train, data.y_train, config)


def finetune_config(epochs: int, seed: int = 0) -> TrainConfig:
    """Fine-tuning settings: Adam at 1e-3, batch 32."""
    return TrainConfig(epochs=epochs, batch_size=32, learning_rate=1e-3, seed=seed)


def check_schedule(schedule: str, finetune_epochs: int, steps: int) -> None:
    """Validate a schedule name and its epoch and step counts (see :func:`run_schedule`).

    Raises
    ------
    InputError
        For an unknown schedule, negative epochs, fewer than 1 step, or
        ``gradual`` with 0 epochs (its pruning phase would have no step).
    """
    if schedule not in SCHEDULES:
        raise InputError(f"schedule must be one of {list(SCHEDULES)} (got {schedule!r})")
    if isinstance(finetune_epochs, bool) or not isinstance(finetune_epochs, (int, np.integer)) or finetune_epochs < 0:
        raise InputError(f"finetune_epochs must be an integer >= 0 (got {finetune_epochs!r})")
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise InputError(f"steps must be an integer >= 1 (got {steps!r})")
    if schedule == "gradual" and finetune_epochs == 0:
        raise InputError(
            "schedule 'gradual' prunes during finetune_epochs epochs of training, so finetune_epochs must be >= 1 (got 0)"
        )


def run_schedule(
    model: Model,
    request: PruneRequest,
    data: Dataset,
    schedule: str = "one_shot",
    finetune_epochs: int = 3,
    steps: int = 3,
    calibration_samples: int = 256,
    slimming_epochs: int = 5,
    progress: bool | None = False,
) -> ScheduleResult:
    """Prune a trained model in place following a schedule, with fine-tuning.

    Parameters
    ----------
    model
        A trained model (modified in place).
    request
        Granularity, criterion and final target.
    data
        Digits split (training data for fine-tuning and OBD; test data for the accuracies).
    schedule
        ``one_shot``, ``iterative`` or ``gradual``.
    finetune_epochs
        Epochs of fine-tuning after the last prune step (0: none); also the
        epochs between iterative steps, and the length of the gradual pruning
        phase (which is then followed by ``finetune_epochs`` more; ``gradual``
        needs at least 1).
    steps
        Prune steps of ``iterative``; ``gradual`` prunes ``4 * steps`` times
        over its pruning phase.
    calibration_samples
        Training images used for APoZ and regression.
    slimming_epochs
        Epochs of L1 sparsity training before scoring with ``slimming``.
    progress
        Progress bars on stderr (None: only on a terminal).

    Returns
    -------
    ScheduleResult

    Raises
    ------
    InputError
        See :func:`check_schedule`.
    """
    check_schedule(schedule, finetune_epochs, steps)
    with single_threaded_blas():
        return _run_schedule(model, request, data, schedule, finetune_epochs, steps, calibration_samples, slimming_epochs, progress)


def _run_schedule(model, request, data, schedule, finetune_epochs, steps, calibration_samples, slimming_epochs, progress):
    calibration = data.calibration(calibration_samples, seed=request.seed)
    accuracy_dense = model.accuracy(data.x_test, data.y_test)
    if request.criterion == "slimming":
        slimming_sparsity_training(model, data, slimming_epochs, seed=request.seed)

    def prune(target: float) -> PruneReport:
        return prune_model(model, replace(request, sparsity=target), data.x_train, data.y_train, calibration)

    if schedule == "one_shot" or request.granularity == "nm":
        report = prune(request.sparsity)
    elif schedule == "iterative":
        for step in range(1, steps):
            prune(request.sparsity * step / steps)
            train(model, data.x_train, data.y_train, finetune_config(finetune_epochs, request.seed + step), progress=progress)
        report = prune(request.sparsity)
    else:
        config = finetune_config(finetune_epochs, request.seed)
        batches = -(-len(data.x_train) // config.batch_size)
        end_step = finetune_epochs * batches
        interval = max(end_step // (4 * steps), 1)
        current = {"target": -1.0}

        def hook(m: Model, step: int) -> None:
            if step % interval == 0 and step <= end_step:
                target = cubic_sparsity(step, request.sparsity, 0, end_step)
                if target > current["target"]:
                    prune(target)
                    current["target"] = target

        train(model, data.x_train, data.y_train, config, step_hook=hook, progress=progress)
        report = prune(request.sparsity)
    accuracy_pruned = model.accuracy(data.x_test, data.y_test)
    if finetune_epochs:
        train(model, data.x_train, data.y_train, finetune_config(finetune_epochs, request.seed), progress=progress)
        report.layer_sparsity = {n: model.sparsity(n) for n in model.weight_layers}
        report.total_sparsity = model.total_sparsity()
    accuracy_finetuned = model.accuracy(data.x_test, data.y_test)
    model.metadata.update(
        {
            "model": model.name,
            "dataset": data.name,
            "criterion": request.criterion,
            "granularity": request.granularity,
            "schedule": schedule,
            "target_sparsity": request.target_sparsity,
            "measured_sparsity": report.total_sparsity,
            "accuracy_dense": accuracy_dense,
            "accuracy_pruned": accuracy_pruned,
            "accuracy_finetuned": accuracy_finetuned,
            "finetune_epochs": finetune_epochs,
            "seed": request.seed,
            "nm_pattern": f"{request.nm[0]}:{request.nm[1]}" if request.granularity == "nm" else None,
            "vector_block": request.block if request.granularity == "vector" else None,
        }
    )
    return ScheduleResult(accuracy_dense, accuracy_pruned, accuracy_finetuned, report)


__all__ = [
    "SCHEDULES",
    "ScheduleResult",
    "check_schedule",
    "cubic_sparsity",
    "finetune_config",
    "run_schedule",
    "slimming_sparsity_training",
]
