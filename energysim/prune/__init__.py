"""The numpy pruning engine: train small models on real digits, prune them, export pruned workloads.

Modules: :mod:`~energysim.prune.data` (digits split), :mod:`~energysim.prune.layers`
and :mod:`~energysim.prune.models` (numpy networks and their NPZ+JSON files),
:mod:`~energysim.prune.training` (Adam or SGD, masks held fixed),
:mod:`~energysim.prune.granularity` (groups and exact selection),
:mod:`~energysim.prune.criteria` and :mod:`~energysim.prune.regression`
(scoring functions), :mod:`~energysim.prune.registry` (criterion registry),
:mod:`~energysim.prune.structure` (channel propagation, shrinking),
:mod:`~energysim.prune.pruner` (one pruning step),
:mod:`~energysim.prune.schedules` (one-shot, iterative, gradual),
:mod:`~energysim.prune.sensitivity`, :mod:`~energysim.prune.export`,
:mod:`~energysim.prune.mask_report` (per-layer format statistics),
:mod:`~energysim.prune.experiments` (the accuracy table) and
:mod:`~energysim.prune.commands` (CLI sub-commands).
"""

from energysim.prune.data import Dataset, load_digits_dataset
from energysim.prune.export import export_workload
from energysim.prune.granularity import GRANULARITIES
from energysim.prune.models import Model, build_model, load_model, save_model
from energysim.prune.pruner import PruneReport, PruneRequest, prune_model
from energysim.prune.registry import CRITERIA, CRITERION_GRANULARITIES
from energysim.prune.schedules import SCHEDULES, run_schedule
from energysim.prune.sensitivity import plot_sensitivity, sensitivity_scan
from energysim.prune.training import TrainConfig, train

__all__ = [
    "CRITERIA",
    "CRITERION_GRANULARITIES",
    "Dataset",
    "GRANULARITIES",
    "Model",
    "PruneReport",
    "PruneRequest",
    "SCHEDULES",
    "TrainConfig",
    "build_model",
    "export_workload",
    "load_digits_dataset",
    "load_model",
    "plot_sensitivity",
    "prune_model",
    "run_schedule",
    "save_model",
    "sensitivity_scan",
    "train",
]
