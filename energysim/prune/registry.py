"""The registries: every criterion by name, and which granularities each criterion fits.

Both are explicit dicts; a test checks that every criterion has a numpydoc
docstring with a References section and that every pairing is declared.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from energysim.errors import InputError
from energysim.prune.criteria import (
    ScoreContext,
    apoz,
    l1_norm,
    l2_norm,
    magnitude,
    network_slimming,
    optimal_brain_damage,
    random_scores,
)
from energysim.prune.granularity import GRANULARITIES
from energysim.prune.regression import regression_scores

Criterion = Callable[[np.ndarray, ScoreContext], np.ndarray]
"""A scoring function ``(weights, context) -> scores`` (one per group, higher = keep)."""

CRITERIA: dict[str, Criterion] = {
    "magnitude": magnitude,
    "l1": l1_norm,
    "l2": l2_norm,
    "slimming": network_slimming,
    "obd": optimal_brain_damage,
    "apoz": apoz,
    "regression": regression_scores,
    "random": random_scores,
}
"""Criterion name -> scoring function."""

ELEMENT_GRANULARITIES = ("fine", "fine_global", "nm")
GROUP_GRANULARITIES = ("vector", "kernel", "channel")

CRITERION_GRANULARITIES: dict[str, tuple[str, ...]] = {
    "magnitude": ELEMENT_GRANULARITIES,
    "l1": GROUP_GRANULARITIES,
    "l2": GROUP_GRANULARITIES,
    "slimming": ("channel",),
    "obd": GRANULARITIES,
    "apoz": ("channel",),
    "regression": ("channel",),
    "random": GRANULARITIES,
}
"""Criterion name -> granularities it makes sense for.

``magnitude`` scores single weights (for a group use ``l1``/``l2``, which on a
single weight equal ``|w|``); ``slimming``, ``apoz`` and ``regression`` score
output channels; ``obd`` and ``random`` score any group (OBD sums the saliency).
"""


def criterion(name: str) -> Criterion:
    """The scoring function registered as ``name``."""
    if name not in CRITERIA:
        raise InputError(f"criterion must be one of {sorted(CRITERIA)} (got {name!r})")
    return CRITERIA[name]


def check_combination(criterion_name: str, granularity: str) -> None:
    """Raise InputError unless the criterion is declared for the granularity."""
    criterion(criterion_name)
    if granularity not in GRANULARITIES:
        raise InputError(f"granularity must be one of {list(GRANULARITIES)} (got {granularity!r})")
    allowed = CRITERION_GRANULARITIES[criterion_name]
    if granularity not in allowed:
        raise InputError(
            f"criterion {criterion_name!r} works with granularities {list(allowed)} (got {granularity!r})"
        )
