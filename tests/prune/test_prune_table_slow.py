"""The full closing-note table (slow: about 2.5-3.5 minutes on 2 cores) and the lecture's lessons in it."""

from __future__ import annotations

import pytest

from energysim.prune.experiments import accuracy_table


@pytest.fixture(scope="module")
def table(digits):
    """The default table: both models, 50/70/90 %, one-shot, 10 fine-tuning epochs."""
    return accuracy_table(data=digits).rows


@pytest.mark.slow
def test_fine_grained_recovers_better_than_channel_pruning_at_90_percent(table):
    """At 90 % the best fine-grained result after fine-tuning beats the best channel-pruned one, per model."""
    tuned = table[table["target_sparsity"] == 0.9].dropna(subset=["accuracy_finetuned"])
    for _, rows in tuned.groupby("model"):
        fine = rows[rows["granularity"].isin(["fine", "fine_global"])]["accuracy_finetuned"].max()
        channel = rows[rows["granularity"] == "channel"]["accuracy_finetuned"].max()
        assert fine > channel


@pytest.mark.slow
def test_random_is_worse_than_magnitude_before_finetuning(table):
    """At 70 % fine-grained, random scores lose more accuracy than magnitude before fine-tuning, on both models."""
    rows = table[(table["granularity"] == "fine") & (table["target_sparsity"] == 0.7)].set_index(["model", "criterion"])
    for model in ("mlp", "cnn"):
        assert rows.loc[(model, "random"), "accuracy_pruned"] < rows.loc[(model, "magnitude"), "accuracy_pruned"] - 0.2


@pytest.mark.slow
def test_regression_is_the_best_channel_criterion_before_finetuning(table):
    """At 50 % channels, selection + least-squares re-fit keeps the most accuracy before fine-tuning."""
    rows = table[(table["granularity"] == "channel") & (table["target_sparsity"] == 0.5)].dropna(subset=["accuracy_pruned"])
    for _, group in rows.groupby("model"):
        assert group.set_index("criterion")["accuracy_pruned"].idxmax() == "regression"
