"""Candidate allocations that meet the budget in simulation, and the choice among them on held-out images.

Why candidates
--------------
The knapsack (:mod:`energysim.energy_aware.allocate`) is exact for its model
of the problem, but that model is only a guide: savings are not additive
(channel pruning of a layer also shrinks its consumer) and a loss increase
measured per layer does not add up to the loss of the whole pruned model. So
one round proposes a few allocations, each simulated (before fine-tuning)
within the limits:

``exact`` / ``greedy``
    The solver's least-cost allocation, walked down until the simulation meets
    the limits (:func:`walk_down`); the other solver's as well.
``exact:PATTERN``
    The same with the options restricted to one rewarded pattern (only when
    the hardware rewards more than one).
``uniform:OPTION``
    The least level of :data:`UNIFORM_LEVELS` that, on every layer the pattern
    applies to, meets the limits (one per rewarded pattern): the allocation a
    per-layer search should beat, kept in the pool so the choice never does
    worse on the held-out images than this simple one.

Each candidate is pruned on a copy, fine-tuned ``candidate_epochs`` on the fit
images, scored on the held-out images (:class:`~energysim.energy_aware.sensitivity.Validation`;
never the test set) and simulated again (fine-tuning moves the activation
densities EIE skips). :func:`best` takes the candidate that still meets the
limits, then the higher held-out accuracy, then the lower held-out loss, then
the earlier candidate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from energysim.energy_aware.allocate import Intractable, exact_allocation, greedy_allocation
from energysim.energy_aware.measure import Measurement, simulate_model
from energysim.energy_aware.options import LayerOption, apply_allocation, has_channels, parse_option_pattern
from energysim.energy_aware.sensitivity import Validation, uniform_allocation
from energysim.estimation import HardwareChoice
from energysim.prune.models import Model

UNIFORM_LEVELS = tuple(round(0.05 * i, 2) for i in range(1, 20)) + (0.97, 0.99)
"""Sparsities a uniform allocation tries, in increasing order (also the comparison's uniform and global baselines)."""

TARGET_STEP_PJ = 1e-6
"""How far below the current prediction a corrected energy target goes at least, pJ (forces a new allocation)."""

INNER_ITERATIONS = 200
"""Allocate-and-simulate steps at most per walk-down."""


@dataclass
class Candidate:
    """One allocation that met the limits in simulation before fine-tuning.

    Attributes
    ----------
    source
        Where it came from: ``exact``, ``greedy``, ``exact:PATTERN`` or ``uniform:OPTION``.
    allocation
        Layer name -> option (the base included).
    predicted_pj
        The knapsack's additive prediction of its energy, pJ (NaN for a uniform candidate).
    quick_pj
        Simulated energy right after pruning, pJ.
    accuracy_holdout, loss_holdout
        Held-out accuracy (0..1) and mean cross-entropy (nats) after the short fine-tune.
    tuned_pj, tuned_s
        Simulated energy (pJ) and latency (s) after the short fine-tune.
    """

    source: str
    allocation: dict[str, LayerOption]
    predicted_pj: float
    quick_pj: float
    accuracy_holdout: float = math.nan
    loss_holdout: float = math.nan
    tuned_pj: float = math.nan
    tuned_s: float = math.nan

    @property
    def label(self) -> str:
        """``layer option, ...`` in allocation order."""
        return ", ".join(f"{name} {option.label}" for name, option in self.allocation.items())


@dataclass(frozen=True)
class Limits:
    """What a candidate must meet in simulation: energy (pJ) and latency (s, None when not asked)."""

    energy_pj: float
    latency_s: float | None

    def met(self, energy_pj: float, latency_s: float) -> bool:
        """Whether a simulated energy and latency are within the limits."""
        return energy_pj <= self.energy_pj and (self.latency_s is None or latency_s <= self.latency_s)


def solve(choices, need_pj: float, need_s: float, layer_energy: list[float], method: str):
    """The picked choice per layer (or None) and the solver that found it (``auto``: exact where tractable)."""
    if method in ("auto", "exact"):
        try:
            return exact_allocation(choices, need_pj, need_s), "exact"
        except Intractable:
            if method == "exact":
                raise
    return greedy_allocation(choices, need_pj, need_s, layer_energy), "greedy"


def restrict(options: list[list], choices: list[list], pattern: str) -> tuple[list[list], list[list]]:
    """The per-layer options and choices with only ``pattern``'s options (and the base) left."""
    kept_options, kept_choices = [], []
    for layer_options, layer_choices in zip(options, choices):
        keep = [j for j, option in enumerate(layer_options) if j == 0 or option.pattern == pattern]
        kept_options.append([layer_options[j] for j in keep])
        kept_choices.append([layer_choices[j] for j in keep])
    return kept_options, kept_choices


def walk_down(model: Model, choice: HardwareChoice, calibration, base: dict[str, LayerOption], base_measure: Measurement,
              options: list[list], choices: list[list], layers: list[str], layer_energy: list[float], target_pj: float,
              target_s: float | None, limits: Limits, method: str, seed: int, source: str | None = None):
    """Allocate for a target, simulate the pruned (not yet fine-tuned) model, and walk the target down until it fits.

    Savings are not additive, so each allocation is simulated; when it exceeds
    the energy limit by some amount, the target goes that far below this
    allocation's prediction (at least :data:`TARGET_STEP_PJ`), so the solver
    returns an allocation with more predicted saving (and no less cost). The
    first one whose simulation meets the limits is taken.

    Returns
    -------
    (Candidate, str) or str
        The candidate and the solver used, or the reason there is none.
    """
    for _ in range(INNER_ITERATIONS):
        need_s = base_measure.latency_s - target_s if target_s is not None else 0.0
        picked, used = solve(choices, base_measure.energy_pj - target_pj, need_s, layer_energy, method)
        if picked is None:
            return "no allocation predicts the budget"
        allocation = {**base, **{layers[l]: options[l][j] for l, j in enumerate(picked) if j > 0}}
        predicted = base_measure.energy_pj - sum(choices[l][j].energy_saved_pj for l, j in enumerate(picked))
        quick = simulate_allocation(model, allocation, choice, calibration, seed)
        if not quick.ok:
            return f"the engine refuses the allocation ({quick.refused})"
        if limits.met(quick.energy_pj, quick.latency_s):
            return Candidate(source or used, allocation, predicted, quick.energy_pj), used
        if quick.energy_pj > limits.energy_pj:
            target_pj = min(target_pj, predicted - max(quick.energy_pj - limits.energy_pj, TARGET_STEP_PJ))
        if limits.latency_s is not None and quick.latency_s > limits.latency_s:
            predicted_s = base_measure.latency_s - sum(choices[l][j].latency_saved_s for l, j in enumerate(picked))
            target_s = min(target_s, predicted_s * (1 - 1e-9))
    return f"no allocation met the budget in simulation after {INNER_ITERATIONS} steps"


def simulate_allocation(model: Model, allocation: dict[str, LayerOption], choice: HardwareChoice, calibration,
                        seed: int) -> Measurement:
    """A pruned copy of ``model`` (no fine-tuning), simulated."""
    trial = model.copy()
    apply_allocation(trial, allocation, seed=seed)
    return simulate_model(trial, choice, calibration, shrink=has_channels(allocation))


def uniform_candidate(model: Model, choice: HardwareChoice, calibration, base: dict[str, LayerOption], pattern: str,
                      limits: Limits, seed: int) -> Candidate | None:
    """The least uniform level of ``pattern`` (on top of ``base``) whose simulation meets the limits, or None."""
    granularity, (n, m) = parse_option_pattern(pattern)
    levels = (1 - n / m,) if granularity == "nm" else UNIFORM_LEVELS
    for level in levels:
        option = LayerOption(pattern, level)
        allocation = {**base, **uniform_allocation(model, option)}
        quick = simulate_allocation(model, allocation, choice, calibration, seed)
        if quick.ok and limits.met(quick.energy_pj, quick.latency_s):
            return Candidate(f"uniform:{option.label}", allocation, math.nan, quick.energy_pj)
    return None


def score(candidate: Candidate, model: Model, choice: HardwareChoice, calibration, validation: Validation,
          epochs: int, seed: int) -> Candidate:
    """Prune a copy, fine-tune it ``epochs`` on the fit images, and fill in its held-out scores and fresh simulation."""
    trial = model.copy()
    apply_allocation(trial, candidate.allocation, seed=seed)
    validation.recover(trial, epochs, seed)
    candidate.accuracy_holdout = validation.accuracy(trial)
    candidate.loss_holdout = validation.loss(trial)
    measured = simulate_model(trial, choice, calibration, shrink=has_channels(candidate.allocation))
    candidate.tuned_pj = measured.energy_pj if measured.ok else math.inf
    candidate.tuned_s = measured.latency_s if measured.ok else math.inf
    return candidate


def best(candidates: list[Candidate], limits: Limits) -> Candidate:
    """Still within the limits after the short fine-tune, then higher held-out accuracy, lower loss, earlier."""
    def key(item):
        index, candidate = item
        return (not limits.met(candidate.tuned_pj, candidate.tuned_s), -candidate.accuracy_holdout,
                candidate.loss_holdout, index)

    return min(enumerate(candidates), key=key)[1]
