"""Energy-aware pruning: the pruning engine with the simulator in the loop (a job above ``prune`` and the engines).

Modules: :mod:`~energysim.energy_aware.options` (per-layer choices and how an
allocation is applied), :mod:`~energysim.energy_aware.measure` (export and
simulate a model), :mod:`~energysim.energy_aware.sensitivity` (which patterns
a hardware rewards; per-layer energy and accuracy sensitivity),
:mod:`~energysim.energy_aware.allocate` (greedy and exact budgeted allocation),
:mod:`~energysim.energy_aware.journal` (resume), :mod:`~energysim.energy_aware.job`
(:func:`prune_for_energy`) and :mod:`~energysim.energy_aware.comparison`
(uniform vs global threshold vs energy-aware at equal budgets).
"""

from energysim.energy_aware.job import EnergyAwareResult, prune_for_energy

__all__ = ["EnergyAwareResult", "prune_for_energy"]
