"""A tiny digits split and a briefly trained MLP, shared by the energy-aware tests (seconds, not minutes)."""

from __future__ import annotations

import pytest

from energysim.prune.data import Dataset, load_digits_dataset
from energysim.prune.models import build_model
from energysim.prune.training import TrainConfig, train


@pytest.fixture(scope="session")
def tiny_data() -> Dataset:
    """400 training and 120 test images of the digits split."""
    data = load_digits_dataset()
    return Dataset(data.x_train[:400], data.y_train[:400], data.x_test[:120], data.y_test[:120])


@pytest.fixture(scope="session")
def tiny_mlp(tiny_data):
    """The digits MLP after 4 epochs on the tiny split (seed 0)."""
    model = build_model("mlp", seed=0)
    train(model, tiny_data.x_train, tiny_data.y_train, TrainConfig(epochs=4, learning_rate=3e-3, seed=0))
    return model
