"""The CLI sub-commands and the accuracy-table experiment."""

from __future__ import annotations

import argparse
import io

import numpy as np
import pytest

from energysim.cli import main
from energysim.errors import InputError
from energysim.prune import commands
from energysim.prune.experiments import accuracy_table
from energysim.prune.granularity import prune_count
from energysim.prune.models import build_model
from energysim.workloads import load_workload


def _run(argv):
    out, err = io.StringIO(), io.StringIO()
    return main(argv, out=out, err=err), out.getvalue(), err.getvalue()


def test_register_adds_the_four_subcommands():
    """register() adds train, prune, sensitivity and prune-table, each with a handler."""
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    commands.register(sub)
    for argv in (["train", "--out", "x"], ["prune", "--out", "x"], ["sensitivity"], ["prune-table"]):
        assert callable(parser.parse_args(argv).handler)


def test_train_then_prune_writes_a_loadable_workload(tmp_path):
    """energysim train + prune (2:4, magnitude) write a model and a workload whose masks are 2:4."""
    code, out, err = _run(["train", "--model", "mlp", "--epochs", "5", "--out", str(tmp_path / "m"), "--quiet"])
    assert code == 0, err
    assert "test accuracy" in out
    code, out, err = _run(
        ["prune", "--model-dir", str(tmp_path / "m"), "--granularity", "nm", "--criterion", "magnitude",
         "--finetune-epochs", "1", "--out", str(tmp_path / "wl"), "--quiet"]
    )
    assert code == 0, err
    assert "measured 0.500" in out
    workload = load_workload(tmp_path / "wl" / "workload.toml")
    mask = workload.layer_tensors("fc1").mask
    assert np.all(mask.reshape(mask.shape[0], -1, 4).sum(axis=2) == 2)


def test_bad_sparsity_exits_2_with_one_line(tmp_path):
    """A sparsity of 1.2 gives exit code 2 and the one-line InputError message."""
    code, out, err = _run(["prune", "--model", "mlp", "--sparsity", "1.2", "--out", str(tmp_path), "--quiet"])
    assert code == 2
    assert err.strip() == "energysim: sparsity must be in [0, 1) (got 1.2)"


def test_sensitivity_command_writes_csv_and_png(tmp_path):
    """energysim sensitivity prints the per-layer table and writes the CSV and PNG it was asked for."""
    code, out, err = _run(
        ["sensitivity", "--model", "mlp", "--sparsities", "0.5,0.9", "--csv", str(tmp_path / "s.csv"),
         "--png", str(tmp_path / "s.png"), "--quiet"]
    )
    assert code == 0, err
    assert "fc1" in out and (tmp_path / "s.csv").exists() and (tmp_path / "s.png").exists()
    header, rule = out.splitlines()[2:4]  # after the training and title lines
    assert header.split()[:2] == ["sparsity", "fc1"] and set(rule) <= {"-", " "} and "layer" not in header


def test_parse_nm_rejects_malformed_patterns():
    """--nm must look like N:M; the 1 <= N < M rule is nm_compliance.check_pattern's (same message)."""
    assert commands.parse_nm("1:8") == (1, 8)
    with pytest.raises(InputError, match="N:M pattern must look like 2:4"):
        commands.parse_nm("2-4")
    with pytest.raises(InputError, match=r"^N:M pattern needs integers 1 <= N < M \(got 4:2\)$"):
        commands.parse_nm("4:2")


def test_gradual_with_zero_epochs_is_refused_before_training(digits):
    """prune-table with schedule gradual and 0 epochs raises InputError at once (no silent 1-epoch phase)."""
    with pytest.raises(InputError, match=r"schedule 'gradual' .* finetune_epochs must be >= 1 \(got 0\)"):
        accuracy_table(models=("mlp",), sparsities=(0.5,), schedule="gradual", finetune_epochs=0, data=digits)


def test_accuracy_table_marks_not_applicable_and_reports_time(digits):
    """The table has a row per grid cell, n/a rows carry a reason, and applicable rows have accuracies."""
    table = accuracy_table(
        models=("mlp",), sparsities=(0.5,), granularities=("fine", "kernel", "channel"),
        criteria=("magnitude", "l1", "slimming"), finetune_epochs=1, data=digits,
    )
    rows = table.rows.set_index(["granularity", "criterion"])
    assert len(rows) == 9
    assert rows.loc[("kernel", "l1"), "note"] == "mlp has no layer for kernel"
    assert rows.loc[("channel", "slimming"), "note"] == "mlp has no batch norm"
    assert rows.loc[("fine", "l1"), "note"] == "l1 does not score fine groups"
    assert np.isnan(rows.loc[("fine", "l1"), "accuracy_pruned"])
    mlp = build_model("mlp")
    sizes = [mlp.weights(name).size for name in mlp.weight_layers]
    expected = sum(prune_count(0.5, size) for size in sizes) / sum(sizes)
    assert rows.loc[("fine", "magnitude"), "measured_sparsity"] == expected
    assert rows.loc[("channel", "l1"), "accuracy_finetuned"] > 0.9
    assert table.wall_time_s > 0
    text = table.markdown()
    assert "| fine | magnitude |" in text and "n/a" in text and "wall time" in text
    compact = table.markdown(include_not_applicable=False)
    assert "| fine | l1 |" not in compact and "(7 granularity x criterion pairs" in compact


def test_accuracy_table_progress_counts_entries_and_names_them(digits, monkeypatch):
    """prune-table's progress off a terminal counts table cells (not layers) and names the model, granularity, criterion."""
    import io

    import energysim.progress

    monkeypatch.setattr(energysim.progress, "LOG_INTERVAL_S", 0.0)
    stderr = io.StringIO()
    monkeypatch.setattr("sys.stderr", stderr)
    accuracy_table(models=("mlp",), sparsities=(0.5,), granularities=("fine",), criteria=("magnitude", "l1"),
                   finetune_epochs=0, data=digits, progress=None)
    lines = stderr.getvalue().splitlines()
    assert lines[0].startswith("energysim: prune table: 1/2 cells (50 %)") and "(at mlp fine magnitude)" in lines[0]
    assert lines[-1].startswith("energysim: prune table: done, 2/2 cells")
