"""Simulate a model on a hardware run: export the (pruned) model as a workload and run every layer.

This is where the pruning engine meets the simulator: the model is exported
with :func:`energysim.prune.export.export_workload` (real weights, masks and
calibration activations; a channel-pruned model is first physically shrunk
with :func:`energysim.prune.structure.shrink_model`, since only a smaller
geometry lets a dense engine save anything) and simulated with
:func:`energysim.simulate.run_workload`. Nothing is estimated from a proxy
such as the weight count.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from energysim.errors import UnsupportedError
from energysim.estimation import HardwareChoice
from energysim.prune.export import export_workload
from energysim.prune.models import Model
from energysim.prune.structure import shrink_model
from energysim.simulate import SimulationRun, run_workload
from energysim.workloads.workload import load_workload


@dataclass(frozen=True)
class Measurement:
    """Simulated totals of one model on one run.

    Attributes
    ----------
    energy_pj
        Network energy, pJ (None when the engine refused the model).
    latency_s
        Network latency, s (None when refused).
    layer_energy_pj
        Energy per exported layer, pJ.
    refused
        The engine's reason when it refused a layer ('' when it ran).
    """

    energy_pj: float | None
    latency_s: float | None
    layer_energy_pj: dict[str, float]
    refused: str = ""

    @property
    def ok(self) -> bool:
        """Whether the engine ran every layer."""
        return not self.refused


def exported_model(model: Model, shrink: bool) -> Model:
    """The model as exported: physically shrunk when asked (dead channels removed), else itself."""
    return shrink_model(model) if shrink else model


def simulate_model(model: Model, choice: HardwareChoice, x_calibration: np.ndarray, shrink: bool,
                   dense_mode: bool = False) -> Measurement:
    """Export ``model`` to a temporary workload folder and simulate it on ``choice``.

    Parameters
    ----------
    model
        The (pruned) model; not modified.
    choice
        The hardware run (its options, e.g. ``mode="sparse_2_4"``, apply unless ``dense_mode``).
    x_calibration
        Calibration images whose layer inputs the workload carries.
    shrink
        Remove dead channels first (an allocation with channel pruning).
    dense_mode
        Run in the engine's configured (dense) mode: the dense original's baseline.

    Returns
    -------
    Measurement
        Totals, or the reason nothing ran: the engine's refusal
        (:class:`~energysim.errors.UnsupportedError`) or a layer left without weights.
    """
    empty = [name for name in model.weight_layers if not np.any(model.weights(name))]
    if empty:
        return Measurement(None, None, {}, f"layer '{empty[0]}' has no non-zero weight left (the model collapsed)")
    exported = exported_model(model, shrink)
    options = choice.variant_options("dense" if dense_mode else "pruned")
    with tempfile.TemporaryDirectory(prefix="energysim-energy-aware-") as tmp:
        workload = load_workload(export_workload(exported, Path(tmp) / "workload", x_calibration, layer_targets=not shrink))
        try:
            run: SimulationRun = run_workload(workload, choice.hardware, **options)
        except UnsupportedError as exc:
            return Measurement(None, None, {}, str(exc))
    totals = run.totals()
    return Measurement(totals["energy_pj"], totals["latency_s"], dict(zip(run.summary["layer"], run.summary["energy_pj"])))
