"""Budgeted allocation: one option per layer, meeting energy (and latency) savings at the least accuracy cost.

The problem
-----------
Layer ``l`` has choices ``j = 0 .. J_l - 1``; choice 0 is the base (nothing
more pruned: saving 0, cost 0). Choice ``j`` saves ``e[l][j]`` pJ of energy
and ``t[l][j]`` s of latency and costs ``c[l][j]`` (loss increase, nats),
each measured with that layer pruned alone (:mod:`energysim.energy_aware.sensitivity`).
Savings are assumed additive across layers; the job checks the real total by
simulating the pruned model from scratch. Find one choice per layer with
``sum e >= need_energy`` and ``sum t >= need_latency`` and the least ``sum c``:
a multiple-choice knapsack.

Two solvers
-----------
:func:`greedy_allocation`
    Energy-per-accuracy rule: from the base, repeatedly move one layer to the
    choice with the largest (normalised saving still needed) / (extra cost),
    until both needs are met; ties go to the layer with more dense energy
    (Yang, Chen and Sze's order), then the earlier layer, then the cheaper choice.
:func:`exact_allocation`
    Exact, by merging layers one at a time and keeping only non-dominated
    partial solutions (savings capped at the need, since more is worth
    nothing): a solution is dropped when another saves at least as much of
    both and costs no more. Tractable while the kept set stays below
    ``max_states``; beyond that it raises :class:`Intractable`.

Both return None when no allocation meets the needs.

References
----------
.. [1] T.-J. Yang, Y.-H. Chen, V. Sze, "Designing Energy-Efficient
   Convolutional Neural Networks using Energy-Aware Pruning", CVPR 2017.
.. [2] P. Sinha, A. A. Zoltners, "The multiple-choice knapsack problem",
   Operations Research 27(3), 1979.
"""

from __future__ import annotations

from dataclasses import dataclass

from energysim.errors import InputError

COST_FLOOR = 1e-9
"""Smallest extra cost the greedy rule divides by (a free or cost-lowering move ranks first)."""

MAX_STATES = 200_000
"""Default cap on the non-dominated partial solutions the exact solver keeps."""


class Intractable(InputError):
    """The exact solver's non-dominated set outgrew its cap."""


@dataclass(frozen=True)
class Choice:
    """One choice of one layer.

    Attributes
    ----------
    energy_saved_pj
        Energy saved against the base, pJ.
    latency_saved_s
        Latency saved against the base, s.
    cost
        Accuracy cost (loss increase, nats; may be negative).
    """

    energy_saved_pj: float
    latency_saved_s: float
    cost: float


BASE = Choice(0.0, 0.0, 0.0)
"""Choice 0 of every layer: the base."""


def _check(choices: list[list[Choice]]) -> None:
    for index, layer in enumerate(choices):
        if not layer or layer[0] != BASE:
            raise InputError(f"layer {index}: choice 0 must be the base (0 saved, 0 cost) (got {layer[:1]})")


def _met(energy: float, latency: float, need_energy: float, need_latency: float) -> bool:
    """Whether both needs are met; a need <= 0 is met whatever the saving (which may be negative)."""
    return (need_energy <= 0 or energy >= need_energy) and (need_latency <= 0 or latency >= need_latency)


def totals(choices: list[list[Choice]], picked: list[int]) -> Choice:
    """Summed savings and cost of one pick per layer."""
    rows = [choices[l][j] for l, j in enumerate(picked)]
    return Choice(sum(r.energy_saved_pj for r in rows), sum(r.latency_saved_s for r in rows), sum(r.cost for r in rows))


def greedy_allocation(choices: list[list[Choice]], need_energy_pj: float, need_latency_s: float = 0.0,
                      layer_energy_pj: list[float] | None = None) -> list[int] | None:
    """The energy-per-accuracy greedy (see the module text).

    Parameters
    ----------
    choices
        Per layer, its choices; choice 0 is :data:`BASE`.
    need_energy_pj, need_latency_s
        Savings required (<= 0: none).
    layer_energy_pj
        Dense energy per layer, pJ: the tie order (default: layer order).

    Returns
    -------
    list of int or None
        The chosen index per layer, or None if the needs cannot be met.
    """
    _check(choices)
    order = layer_energy_pj or [0.0] * len(choices)
    picked = [0] * len(choices)
    seen = {tuple(picked)}
    energy = latency = 0.0
    while not _met(energy, latency, need_energy_pj, need_latency_s):
        best, best_key = None, None
        for l, layer in enumerate(choices):
            current = layer[picked[l]]
            for j, option in enumerate(layer):
                gain = 0.0
                for saved, now, have, need in ((option.energy_saved_pj, current.energy_saved_pj, energy, need_energy_pj),
                                               (option.latency_saved_s, current.latency_saved_s, latency, need_latency_s)):
                    if 0 < need and have < need:
                        gain += min(saved - now, need - have) / (need - have)
                if gain <= 0:
                    continue
                score = gain / max(option.cost - current.cost, COST_FLOOR)
                key = (-score, -order[l], l, option.cost)
                if best_key is None or key < best_key:
                    best, best_key = (l, j), key
        if best is None:
            return None
        l, j = best
        energy += choices[l][j].energy_saved_pj - choices[l][picked[l]].energy_saved_pj
        latency += choices[l][j].latency_saved_s - choices[l][picked[l]].latency_saved_s
        picked[l] = j
        if tuple(picked) in seen:  # a move traded one saving for the other and back: no progress
            return None
        seen.add(tuple(picked))
    return picked


def exact_allocation(choices: list[list[Choice]], need_energy_pj: float, need_latency_s: float = 0.0,
                     max_states: int = MAX_STATES) -> list[int] | None:
    """The least-cost pick meeting both needs, exactly (see the module text).

    Among picks of equal least cost, the one saving more energy, then the
    lexicographically smallest pick, is returned.

    Raises
    ------
    Intractable
        If more than ``max_states`` non-dominated partial solutions arise.
    """
    _check(choices)
    need_e, need_t = max(need_energy_pj, 0.0), max(need_latency_s, 0.0)
    states: list[tuple[float, float, float, tuple[int, ...]]] = [(0.0, 0.0, 0.0, ())]
    for layer in choices:
        merged = [(min(e + o.energy_saved_pj, need_e), min(t + o.latency_saved_s, need_t), c + o.cost, p + (j,))
                  for e, t, c, p in states for j, o in enumerate(layer)]
        states = _non_dominated(merged)
        if len(states) > max_states:
            raise Intractable(f"exact allocation keeps {len(states)} partial solutions (cap {max_states}); "
                              "use the greedy rule (method='greedy') or fewer options per layer")
    feasible = [s for s in states if _met(s[0], s[1], need_e, need_t)]
    if not feasible:
        return None
    return list(min(feasible, key=lambda s: (s[2], -s[0], s[3]))[3])


def _non_dominated(states):
    """States no other state beats: saves at least as much energy and latency at no more cost.

    Sorted by cost (then more savings, then pick), a state is kept unless an
    earlier kept state saves at least as much of both.
    """
    states = sorted(states, key=lambda s: (s[2], -s[0], -s[1], s[3]))
    kept = []
    for state in states:
        if not any(k[0] >= state[0] and k[1] >= state[1] for k in kept):
            kept.append(state)
    return kept
