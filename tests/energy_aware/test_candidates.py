"""Candidate allocations: the held-out split, monotone costs, the choice by held-out accuracy, the greedy's termination."""

from __future__ import annotations

import math

import pandas as pd

from energysim.energy_aware.allocate import BASE, Choice, greedy_allocation
from energysim.energy_aware.candidates import Candidate, Limits, best
from energysim.energy_aware.job import _choices
from energysim.energy_aware.sensitivity import Validation


def test_validation_split_holds_out_images_the_fit_never_sees(tiny_data):
    """64 training images are held out, the other 336 are the fit set, and no image is in both."""
    split = Validation.split(tiny_data, 64, seed=0)
    assert len(split.x) == 64 and len(split.fit_x) == len(tiny_data.x_train) - 64
    held = {image.tobytes() for image in split.x}
    assert not held & {image.tobytes() for image in split.fit_x}
    assert not held & {image.tobytes() for image in tiny_data.x_test}


def test_option_costs_never_fall_as_a_layer_is_pruned_more():
    """A measured loss increase that drops at higher sparsity (a layer past recovery) is raised to the lower level's."""
    table = pd.DataFrame([
        {"layer": "fc1", "pattern": "channel", "target_sparsity": s, "status": "ok", "energy_saved_pj": e,
         "latency_saved_s": 0.0, "loss_increase": c}
        for s, e, c in ((0.5, 10.0, 4.4), (0.9, 20.0, 3.7), (0.1, 2.0, 0.03))
    ] + [{"layer": "fc1", "pattern": "fine", "target_sparsity": 0.5, "status": "ok", "energy_saved_pj": 1.0,
          "latency_saved_s": 0.0, "loss_increase": 0.01}])
    options, choices = _choices(["fc1"], table, ("fine", "channel"))
    costs = {option.label: choice.cost for option, choice in zip(options[0][1:], choices[0][1:])}
    assert costs == {"channel@0.1": 0.03, "channel@0.5": 4.4, "channel@0.9": 4.4, "fine@0.5": 0.01}


def test_best_prefers_within_limits_then_held_out_accuracy():
    """A more accurate candidate that left the limits after fine-tuning loses to one inside; ties go to lower loss."""
    limits = Limits(100.0, None)

    def candidate(source, accuracy, loss, tuned_pj):
        return Candidate(source, {}, math.nan, 90.0, accuracy, loss, tuned_pj, 1.0)

    pool = [candidate("a", 0.99, 0.1, 120.0), candidate("b", 0.95, 0.3, 99.0), candidate("c", 0.95, 0.2, 80.0)]
    assert best(pool, limits).source == "c"


def test_greedy_ends_when_latency_is_not_asked_and_savings_trade_off():
    """Options that save energy but cost latency (negative saving) with no latency need: greedy meets the energy need."""
    choices = [[BASE, Choice(10.0, -1.0, 0.1), Choice(5.0, 1.0, 0.05)], [BASE, Choice(8.0, -2.0, 0.1)]]
    picked = greedy_allocation(choices, 15.0, 0.0)
    assert picked is not None
    assert sum(choices[l][j].energy_saved_pj for l, j in enumerate(picked)) >= 15.0


def test_greedy_reports_none_instead_of_cycling():
    """Energy and latency needs that two options trade back and forth end in None, not an endless loop."""
    choices = [[BASE, Choice(10.0, -5.0, 0.1), Choice(0.0, 5.0, 0.1)]]
    assert greedy_allocation(choices, 10.0, 5.0) is None
