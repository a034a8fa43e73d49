"""Session fixtures for the pruning tests: the digits split and trained models (trained once)."""

from __future__ import annotations

import pytest

from energysim.prune.data import load_digits_dataset
from energysim.prune.models import build_model
from energysim.prune.training import DEFAULT_TRAINING, train


@pytest.fixture(scope="session")
def digits():
    """The default seeded digits split."""
    return load_digits_dataset()


def _trained(name, digits):
    model = build_model(name, seed=0)
    train(model, digits.x_train, digits.y_train, DEFAULT_TRAINING[name])
    return model


@pytest.fixture(scope="session")
def trained_mlp(digits):
    """The MLP trained with its default settings (do not modify: copy first)."""
    return _trained("mlp", digits)


@pytest.fixture(scope="session")
def trained_cnn(digits):
    """The CNN trained with its default settings (do not modify: copy first)."""
    return _trained("cnn", digits)


@pytest.fixture(scope="session")
def trained_resnet(digits):
    """The residual CNN trained with its default settings (do not modify: copy first)."""
    return _trained("resnet", digits)
