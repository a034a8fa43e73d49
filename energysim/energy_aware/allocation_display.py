"""How ``prune --energy-budget`` shows the allocation: its columns, and notes saying what each number is.

The allocation table mixes two kinds of figure (F6 of the new-user pass):

* the sensitivity's, measured with one layer pruned *alone* (the others at the
  base allocation): its energy saving, as a fraction of the dense network's
  energy, includes the layer's consumer (channel pruning a layer also shrinks
  the next layer's inputs), so it can exceed the layer's own share of the
  energy, and the column does not add up to the allocation's saving; its loss
  increase is the rise of the mean cross-entropy on held-out training images
  after a short recovery fine-tune, in nats;
* the final simulation's: each layer's energy in the dense and in the pruned,
  fine-tuned model, whose drops (with those of layers not pruned whose inputs
  shrank) add up to the allocation's saving.

The notes print the additive prediction next to the simulated figures.
"""

from __future__ import annotations

import math

from energysim.report.terminal import Column, format_value, ratio, render_table

ALLOCATION_SHOWN = (
    Column("layer"),
    Column("option"),
    Column("layer_energy_pj_dense", "energy_pj", "dense energy"),
    Column("layer_energy_pj", "energy_pj", "pruned energy"),
    Column("energy_saved_vs_dense", "ratio", "saved alone (of dense)"),
    Column("loss_increase", "number", "loss increase alone (nats)"),
    Column("measured_sparsity", "percent", "measured sparsity", compact=False),
)
"""The allocation's terminal columns (``energysim prune --energy-budget``): per layer the simulated energy in the
dense and the final pruned model, then the sensitivity's saving and loss increase with the layer pruned alone."""

ALONE_NOTE = ("note: 'alone' columns are the sensitivity's, with only that layer pruned (the others at the base): the "
              "saving is a fraction of the dense network's energy and includes the layer's consumer (channel pruning "
              "shrinks the next layer's inputs), so it can exceed the layer's own share and does not add up; the loss "
              "increase is the rise of mean cross-entropy on held-out training images after a short recovery "
              "fine-tune, in nats")
"""What the sensitivity's columns hold (always printed under the table)."""


def allocation_notes(result) -> list[str]:
    """Lines (``note: ...``) under the allocation table of an :class:`~energysim.energy_aware.job.EnergyAwareResult`.

    Parameters
    ----------
    result
        The job's outcome with a non-empty allocation.

    Returns
    -------
    list of str
        :data:`ALONE_NOTE`; the additive prediction next to the simulated energy
        before and after fine-tuning (when a model was simulated); and the layers
        not in the allocation whose simulated energy changed (their inputs shrank).
    """
    notes = [ALONE_NOTE]
    if math.isnan(result.energy_vs_dense):
        return notes
    kept = result.candidates[result.candidates["kept"]]
    before = f"{ratio(float(kept['quick_energy_vs_dense'].iloc[-1]))} before fine-tuning, " if len(kept) else ""
    additive = result.base_energy_vs_dense - result.allocation["energy_saved_vs_dense"].astype(float).sum(skipna=False)
    predicted = (f"additive prediction (base {ratio(result.base_energy_vs_dense)} minus the sum of 'saved alone') "
                 f"{ratio(additive)} of dense" if not math.isnan(additive)
                 else "no additive prediction (an option was not measured alone)")
    notes.append(f"note: {predicted}; simulated {before}{ratio(result.energy_vs_dense)} after (the drops from dense "
                 "to pruned energy, with those of the layers below, add up to it)")
    shown = set(result.allocation["layer"])
    others = [(name, dense_pj, result.layer_energy_pj.get(name, math.nan))
              for name, dense_pj in result.layer_energy_pj_dense.items() if name not in shown]
    changed = [f"{name} {format_value(dense_pj, 'energy_pj')} -> {format_value(pruned_pj, 'energy_pj')}"
               for name, dense_pj, pruned_pj in others if not math.isclose(dense_pj, pruned_pj, rel_tol=1e-12)]
    if changed:
        notes.append(f"note: layers not pruned, simulated energy dense -> pruned: {', '.join(changed)} "
                     "(their inputs shrank or sparsified)")
    return notes


def render_allocation(result, wide: bool = False, width: int | None = None) -> str:
    """The allocation block of ``prune --energy-budget``: heading, table (:data:`ALLOCATION_SHOWN`) and
    :func:`allocation_notes`, one line each; empty when nothing was allocated."""
    if not len(result.allocation):
        return ""
    rounds = f"{result.rounds} round{'' if result.rounds == 1 else 's'}"
    return (f"\nallocation ({result.method}, {rounds}):\n"
            + render_table(result.allocation, ALLOCATION_SHOWN, wide=wide, width=width)
            + "".join(f"{note}\n" for note in allocation_notes(result)))
