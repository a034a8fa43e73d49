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

from __future__ import annotations

from energysim import _lazy_package

_EXPORTS = {
    "CRITERIA": "energysim.prune.registry",
    "CRITERION_GRANULARITIES": "energysim.prune.registry",
    "Dataset": "energysim.prune.data",
    "GRANULARITIES": "energysim.prune.granularity",
    "Model": "energysim.prune.models",
    "PruneReport": "energysim.prune.pruner",
    "PruneRequest": "energysim.prune.pruner",
    "SCHEDULES": "energysim.prune.schedules",
    "TrainConfig": "energysim.prune.training",
    "build_model": "energysim.prune.models",
    "export_workload": "energysim.prune.export",
    "load_digits_dataset": "energysim.prune.data",
    "load_model": "energysim.prune.models",
    "plot_sensitivity": "energysim.prune.sensitivity",
    "prune_model": "energysim.prune.pruner",
    "run_schedule": "energysim.prune.schedules",
    "save_model": "energysim.prune.models",
    "sensitivity_scan": "energysim.prune.sensitivity",
    "train": "energysim.prune.training",
}
"""Public name -> module defining it, imported on first use (the command line lists model and criterion names
without loading training, export or sensitivity code)."""


__getattr__, __dir__ = _lazy_package(__name__, _EXPORTS)

__all__ = sorted(_EXPORTS)
