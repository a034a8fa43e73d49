"""prune --energy-budget's allocation block says what each number is (F6: 'saved (of dense)' summed to 0.752 of dense)."""

from __future__ import annotations

import io
import math
from dataclasses import replace

import pytest

import energysim
from energysim.cli import main
from energysim.energy_aware import job as job_module
from energysim.energy_aware.allocation_display import ALONE_NOTE, allocation_notes, render_allocation
from energysim.prune.models import save_model
from energysim.report.terminal import ratio

FAST = dict(finetune_epochs=1, step_epochs=0, calibration_samples=16, validation_samples=64, progress=False)
"""Settings that keep one job to a couple of seconds."""


@pytest.fixture(scope="module")
def channel_job(tiny_mlp, tiny_data):
    """Channel pruning on EIE at budget 0.5: fc1/fc2 lose channels, so their consumers shrink too."""
    return energysim.prune_for_energy(tiny_mlp, "eie-64pe-lecture", 0.5, patterns=("channel",), data=tiny_data, **FAST)


def test_titles_name_what_the_columns_include(channel_job):
    """The header says dense/pruned energy, 'saved alone (of dense)' and 'loss increase alone (nats)'."""
    header = render_allocation(channel_job, width=100).splitlines()[2]
    for title in ("dense energy", "pruned energy", "saved alone (of dense)", "loss increase alone (nats)"):
        assert title in header, header
    assert "saved (of dense)" not in header


def test_alone_note_says_consumer_and_nats(channel_job):
    """The first note says the 'alone' saving includes the consumer and does not add, and the loss is in nats."""
    notes = allocation_notes(channel_job)
    assert notes[0] == ALONE_NOTE
    assert "includes the layer's consumer" in ALONE_NOTE and "does not add up" in ALONE_NOTE and "in nats" in ALONE_NOTE


def test_additive_prediction_is_printed_next_to_the_simulated_energy(channel_job):
    """The second note gives the additive prediction and the simulated energy before and after fine-tuning."""
    assert channel_job.status == "ok", channel_job.status
    kept = channel_job.candidates[channel_job.candidates["kept"]].iloc[-1]
    note = allocation_notes(channel_job)[1]
    additive = channel_job.base_energy_vs_dense - channel_job.allocation["energy_saved_vs_dense"].sum()
    assert 0 < additive < 1
    assert f"additive prediction (base {ratio(channel_job.base_energy_vs_dense)} minus the sum of 'saved alone') " \
           f"{ratio(additive)} of dense" in note
    assert f"simulated {ratio(kept['quick_energy_vs_dense'])} before fine-tuning, {ratio(channel_job.energy_vs_dense)} after" in note


def test_per_layer_energies_add_up_to_the_simulated_totals(channel_job):
    """Every layer's dense and pruned energy add up to the job's dense and pruned totals; the table shows its layers'."""
    assert math.isclose(sum(channel_job.layer_energy_pj_dense.values()), channel_job.energy_pj_dense, rel_tol=1e-9)
    assert math.isclose(sum(channel_job.layer_energy_pj.values()), channel_job.energy_pj, rel_tol=1e-9)
    for row in channel_job.allocation.itertuples():
        assert row.layer_energy_pj == channel_job.layer_energy_pj[row.layer]
        assert row.layer_energy_pj_dense == channel_job.layer_energy_pj_dense[row.layer]


def test_layer_not_pruned_whose_inputs_shrank_is_noted(channel_job):
    """fc3 (the output layer: no channels to prune) loses inputs when fc2 loses channels: the last note names its energies."""
    allocated = dict(zip(channel_job.allocation["layer"], channel_job.allocation["pattern"]))
    assert allocated.get("fc2") == "channel" and "fc3" not in allocated
    note = allocation_notes(channel_job)[-1]
    assert note.startswith("note: layers not pruned, simulated energy dense -> pruned: fc3 ")


def test_prune_command_prints_the_block(channel_job, tiny_mlp, tmp_path, monkeypatch):
    """`energysim prune --energy-budget` prints the titled table and the notes (the job itself is stubbed by a real result)."""
    save_model(tiny_mlp, tmp_path / "mlp")
    monkeypatch.setattr(job_module, "prune_for_energy", lambda *args, **kwargs: channel_job)
    out, err = io.StringIO(), io.StringIO()
    code = main(["prune", "--model-dir", str(tmp_path / "mlp"), "--energy-budget", "0.5", "--hw", "eie-64pe-lecture",
                 "--out", str(tmp_path / "ea"), "--quiet"], out=out, err=err)
    assert code == 0, err.getvalue()
    text = out.getvalue()
    assert "saved alone (of dense)" in text and ALONE_NOTE in text and "note: additive prediction" in text


def test_no_additive_prediction_when_an_option_was_not_measured_alone(channel_job):
    """A row without a 'saved alone' figure (a uniform level off the sensitivity's grid) gives no sum, and says so."""
    allocation = channel_job.allocation.copy()
    allocation.loc[0, "energy_saved_vs_dense"] = math.nan
    note = allocation_notes(replace(channel_job, allocation=allocation))[1]
    assert note.startswith("note: no additive prediction (an option was not measured alone); simulated ")


def test_prune_command_points_at_estimate_of_its_out_folder(channel_job, tiny_mlp, tmp_path, monkeypatch):
    """The last line names `energysim estimate OUT --hw HW` (OUT itself now resolves; it named `run HW OUT/workload`)."""
    save_model(tiny_mlp, tmp_path / "mlp")
    monkeypatch.setattr(job_module, "prune_for_energy", lambda *args, **kwargs: channel_job)
    out = io.StringIO()
    code = main(["prune", "--model-dir", str(tmp_path / "mlp"), "--energy-budget", "0.5", "--hw", "eie-64pe-lecture",
                 "--out", str(tmp_path / "ea"), "--quiet"], out=out, err=io.StringIO())
    assert code == 0
    assert out.getvalue().rstrip().endswith(f"(energysim estimate {tmp_path / 'ea'} --hw eie-64pe-lecture: this energy vs dense)")
