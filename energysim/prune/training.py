"""Training: softmax cross-entropy, Adam and SGD, and a deterministic mini-batch loop that respects masks.

Determinism: the initialisation and the shuffling use ``numpy.random.default_rng``
seeded by the caller, so a seed gives the same model on the same machine.

Masks are held fixed: after every optimiser step each masked parameter is
multiplied by its mask, so pruned weights stay exactly 0.0 whatever the
optimiser's moments hold (their gradients are zeroed too).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from energysim.errors import InputError
from energysim.progress import progress_bar
from energysim.prune.models import Model


def single_threaded_blas():
    """Context manager limiting BLAS to one thread (via threadpoolctl, a scikit-learn dependency).

    The matrices here are tiny (batch 32 x a few hundred), so threads only add
    synchronisation; on a loaded 2-core machine multi-threaded OpenBLAS was
    measured 20x slower. One thread also makes results independent of the
    machine's core count (summation order).
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl ships with scikit-learn
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax, numerically stable (shifted by the row maximum)."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def cross_entropy(logits: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean softmax cross-entropy and its gradient with respect to the logits.

    Returns
    -------
    loss : float
        Mean over samples, in nats.
    grad : numpy.ndarray
        d(loss)/d(logits), shape (samples, classes).
    """
    probs = softmax(logits)
    samples = len(labels)
    loss = -np.log(np.clip(probs[np.arange(samples), labels], 1e-300, None)).mean()
    grad = probs.copy()
    grad[np.arange(samples), labels] -= 1.0
    return float(loss), grad / samples


def dataset_loss(model: Model, x: np.ndarray, y: np.ndarray, batch_size: int = 512) -> float:
    """Mean cross-entropy of the model (evaluation mode) on a data set, in nats."""
    total = 0.0
    for start in range(0, len(x), batch_size):
        loss, _ = cross_entropy(model.forward(x[start : start + batch_size]), y[start : start + batch_size])
        total += loss * len(y[start : start + batch_size])
    return total / len(x)


class Adam:
    """The Adam optimiser (Kingma & Ba, ICLR 2015) over a model's parameter dict.

    Parameters
    ----------
    learning_rate
        Step size.
    beta1, beta2
        Decay rates of the first and second moment estimates.
    epsilon
        Added to the root of the second moment.
    """

    def __init__(self, learning_rate: float = 3e-3, beta1: float = 0.9, beta2: float = 0.999, epsilon: float = 1e-8):
        if not learning_rate > 0:
            raise InputError(f"learning_rate must be > 0 (got {learning_rate})")
        self.learning_rate = learning_rate
        self.beta1, self.beta2, self.epsilon = beta1, beta2, epsilon
        self.first: dict[str, np.ndarray] = {}
        self.second: dict[str, np.ndarray] = {}
        self.steps = 0

    def step(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> None:
        """Update every parameter in place from its gradient."""
        self.steps += 1
        correction1 = 1.0 - self.beta1**self.steps
        correction2 = 1.0 - self.beta2**self.steps
        for name, grad in grads.items():
            first = self.first.setdefault(name, np.zeros_like(grad))
            second = self.second.setdefault(name, np.zeros_like(grad))
            first *= self.beta1
            first += (1.0 - self.beta1) * grad
            second *= self.beta2
            second += (1.0 - self.beta2) * grad * grad
            params[name] -= self.learning_rate * (first / correction1) / (np.sqrt(second / correction2) + self.epsilon)


class SGD:
    """Stochastic gradient descent with heavy-ball momentum.

    Parameters
    ----------
    learning_rate
        Step size.
    momentum
        Momentum coefficient in [0, 1).
    """

    def __init__(self, learning_rate: float = 0.05, momentum: float = 0.9):
        if not learning_rate > 0:
            raise InputError(f"learning_rate must be > 0 (got {learning_rate})")
        if not 0.0 <= momentum < 1.0:
            raise InputError(f"momentum must be in [0, 1) (got {momentum})")
        self.learning_rate = learning_rate
        self.momentum = momentum
        self.velocity: dict[str, np.ndarray] = {}

    def step(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> None:
        """Update every parameter in place from its gradient."""
        for name, grad in grads.items():
            velocity = self.velocity.setdefault(name, np.zeros_like(grad))
            velocity *= self.momentum
            velocity += grad
            params[name] -= self.learning_rate * velocity


OPTIMIZERS = {"adam": Adam, "sgd": SGD}
"""Optimiser name -> class taking ``learning_rate``."""


@dataclass
class TrainConfig:
    """Settings of a training or fine-tuning run.

    Attributes
    ----------
    epochs
        Passes over the training set.
    batch_size
        Samples per step.
    learning_rate
        Step size of the chosen optimiser (Adam or SGD).
    seed
        Seed of the shuffling.
    batchnorm_l1
        Weight of the L1 penalty on batch-norm scales (network slimming); 0 disables it.
    weight_decay
        L2 penalty weight on weights (not on biases or batch-norm parameters).
    optimizer
        ``"adam"`` or ``"sgd"`` (momentum 0.9). Network slimming uses SGD so the
        L1 subgradient competes with the loss gradient by magnitude (Adam's
        per-parameter normalisation would mute it).
    """

    epochs: int = 20
    batch_size: int = 32
    learning_rate: float = 3e-3
    seed: int = 0
    batchnorm_l1: float = 0.0
    weight_decay: float = 0.0
    optimizer: str = "adam"

    def __post_init__(self):
        if self.optimizer not in OPTIMIZERS:
            raise InputError(f"optimizer must be one of {sorted(OPTIMIZERS)} (got {self.optimizer!r})")
        if self.epochs < 0:
            raise InputError(f"epochs must be >= 0 (got {self.epochs})")
        if self.batch_size < 1:
            raise InputError(f"batch_size must be >= 1 (got {self.batch_size})")
        if self.batchnorm_l1 < 0 or self.weight_decay < 0:
            raise InputError(
                f"batchnorm_l1 and weight_decay must be >= 0 (got {self.batchnorm_l1}, {self.weight_decay})"
            )


@dataclass
class TrainHistory:
    """Per-epoch mean training loss (nats) of a run."""

    losses: list[float] = field(default_factory=list)


StepHook = Callable[[Model, int], None]
"""Called after every optimiser step with (model, global step index starting at 1)."""


def train(
    model: Model,
    x: np.ndarray,
    y: np.ndarray,
    config: TrainConfig | None = None,
    step_hook: StepHook | None = None,
    progress: bool | None = False,
) -> TrainHistory:
    """Train (or fine-tune) a model in place with the configured optimiser (Adam or SGD), keeping its masks fixed.

    Parameters
    ----------
    model
        The model; its ``masks`` are re-applied after every step.
    x, y
        Training images (samples, 1, 8, 8) and labels (samples,).
    config
        Epochs, batch size, learning rate, seed, penalties (default: the
        tested settings of :data:`DEFAULT_TRAINING` for ``mlp``/``cnn``/``resnet``,
        else ``TrainConfig()``).
    step_hook
        Optional callable run after every step (gradual pruning uses it).
    progress
        Show a progress bar (None: only on a terminal).

    Returns
    -------
    TrainHistory
        Mean training loss per epoch.
    """
    if config is None:
        config = DEFAULT_TRAINING.get(model.name, TrainConfig())
    if len(x) != len(y) or len(x) == 0:
        raise InputError(f"training data must be non-empty with as many labels as images (got {len(x)} and {len(y)})")
    rng = np.random.default_rng(config.seed)
    optimizer = OPTIMIZERS[config.optimizer](config.learning_rate)
    history = TrainHistory()
    params = model.parameters()
    step = 0
    batches = -(-len(x) // config.batch_size)
    with single_threaded_blas(), progress_bar(config.epochs * batches, f"train {model.name}", progress, unit="batch") as bar:
        for _ in range(config.epochs):
            order = rng.permutation(len(x))
            epoch_loss = 0.0
            for start in range(0, len(x), config.batch_size):
                index = order[start : start + config.batch_size]
                logits = model.forward(x[index], training=True)
                loss, grad = cross_entropy(logits, y[index])
                model.backward(grad)
                grads = model.gradients()
                _add_penalties(model, params, grads, config)
                for name, mask in model.masks.items():
                    grads[name] = grads[name] * mask
                optimizer.step(params, grads)
                model.apply_masks()
                step += 1
                epoch_loss += loss * len(index)
                if step_hook is not None:
                    step_hook(model, step)
                bar.update(1)
            history.losses.append(epoch_loss / len(x))
    return history


def _add_penalties(model: Model, params: dict, grads: dict, config: TrainConfig) -> None:
    if config.batchnorm_l1:
        for name in params:
            if name.endswith(".gamma"):
                grads[name] = grads[name] + config.batchnorm_l1 * np.sign(params[name])
    if config.weight_decay:
        for name in params:
            if name.endswith(".weight"):
                grads[name] = grads[name] + config.weight_decay * params[name]


DEFAULT_TRAINING = {
    "mlp": TrainConfig(epochs=30, batch_size=32, learning_rate=2e-3),
    "cnn": TrainConfig(epochs=15, batch_size=32, learning_rate=3e-3),
    "resnet": TrainConfig(epochs=5, batch_size=32, learning_rate=3e-3),
}
"""Training settings that reach >= 95 % test accuracy on the digits in seconds."""
