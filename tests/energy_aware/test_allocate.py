"""Budgeted allocation: the exact multiple-choice knapsack against brute force, and the greedy rule."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from energysim.energy_aware.allocate import (
    BASE,
    Choice,
    Intractable,
    exact_allocation,
    greedy_allocation,
    totals,
)
from energysim.errors import InputError


def brute_force(choices, need_e, need_t=0.0):
    """Least cost (then most energy saved) over every pick, or None."""
    best = None
    for pick in itertools.product(*(range(len(layer)) for layer in choices)):
        total = totals(choices, list(pick))
        if total.energy_saved_pj >= need_e and total.latency_saved_s >= need_t:
            key = (total.cost, -total.energy_saved_pj)
            if best is None or key < best[0]:
                best = (key, list(pick))
    return best


def random_instance(rng, layers, options):
    """Random layers of choices: savings 0..100 pJ and 0..10 s, costs 0..1."""
    return [[BASE] + [Choice(float(rng.integers(1, 100)), float(rng.integers(0, 10)), float(rng.random()))
                      for _ in range(options)] for _ in range(layers)]


def test_exact_matches_brute_force_on_random_instances():
    """On 200 random 3-4 layer instances the exact solver's cost equals brute force's least cost (or both find none)."""
    rng = np.random.default_rng(0)
    for _ in range(200):
        choices = random_instance(rng, int(rng.integers(2, 5)), int(rng.integers(1, 4)))
        need_e, need_t = float(rng.integers(0, 250)), float(rng.integers(0, 20))
        exact = exact_allocation(choices, need_e, need_t)
        brute = brute_force(choices, need_e, need_t)
        if brute is None:
            assert exact is None
            continue
        total = totals(choices, exact)
        assert total.energy_saved_pj >= need_e and total.latency_saved_s >= need_t
        assert total.cost == pytest.approx(brute[0][0])


def test_greedy_and_exact_agree_with_brute_force_on_a_tiny_case():
    """Two layers, need 60 pJ: layer 0 saves 40 pJ for 0.1 or 70 pJ for 0.5; layer 1 saves 30 pJ for 0.05.

    Worked out: picks (1, 1) save 70 for 0.15 -- the cheapest pick saving >= 60
    ((2, 0) costs 0.5, (2, 1) costs 0.55, (1, 0) saves only 40). Greedy scores
    (share of the need met) / cost: layer 1 (30/60 / 0.05 = 10) before layer 0's
    options (40/60 / 0.1 = 6.7, 60/60 / 0.5 = 2); then, 30 pJ still needed,
    layer 0's 40 pJ option (1 / 0.1 = 10 vs 1 / 0.5 = 2): the same pick.
    """
    choices = [[BASE, Choice(40.0, 0.0, 0.1), Choice(70.0, 0.0, 0.5)], [BASE, Choice(30.0, 0.0, 0.05)]]
    brute = brute_force(choices, 60.0)
    assert brute[1] == [1, 1]
    assert exact_allocation(choices, 60.0) == [1, 1]
    assert greedy_allocation(choices, 60.0) == [1, 1]


def test_greedy_meets_the_need_or_reports_none():
    """Greedy picks always meet the need when brute force can; an unreachable need gives None from both."""
    rng = np.random.default_rng(1)
    for _ in range(100):
        choices = random_instance(rng, 3, 3)
        need = float(rng.integers(0, 320))
        picked = greedy_allocation(choices, need, layer_energy_pj=[3.0, 2.0, 1.0])
        if brute_force(choices, need) is None:
            assert picked is None and exact_allocation(choices, need) is None
        else:
            assert totals(choices, picked).energy_saved_pj >= need


def test_greedy_ties_go_to_the_layer_with_more_dense_energy():
    """Two identical layers: the one listed with more dense energy is pruned first."""
    choices = [[BASE, Choice(10.0, 0.0, 1.0)], [BASE, Choice(10.0, 0.0, 1.0)]]
    assert greedy_allocation(choices, 5.0, layer_energy_pj=[1.0, 2.0]) == [0, 1]
    assert greedy_allocation(choices, 5.0, layer_energy_pj=[2.0, 1.0]) == [1, 0]


def test_exact_refuses_beyond_its_state_cap():
    """More non-dominated partial solutions than the cap raise Intractable (an InputError)."""
    rng = np.random.default_rng(2)
    choices = random_instance(rng, 6, 6)
    with pytest.raises(Intractable, match="cap 3"):
        exact_allocation(choices, 1e9, 1e9, max_states=3)


def test_choice_zero_must_be_the_base():
    """A layer whose first choice saves something is refused with the layer's index."""
    with pytest.raises(InputError, match="layer 0: choice 0 must be the base"):
        greedy_allocation([[Choice(1.0, 0.0, 0.0)]], 1.0)
