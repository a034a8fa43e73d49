"""Diagonal of the Hessian of the mean cross-entropy loss with respect to every parameter.

For the softmax cross-entropy the Hessian with respect to the logits of one
sample is ``H_z = diag(p) - p p^T``, which factors as ``B B^T`` with columns
``b_k = sqrt(p_k) (e_k - p)``. The Gauss-Newton diagonal is therefore
``sum_samples sum_k (J^T b_k)^2``: one backward pass per class with the
per-sample squared gradients summed. For a network that is piecewise linear in
every single weight (linear, conv, ReLU, max-pool, batch norm in evaluation
mode) the second-derivative term of the network vanishes almost everywhere,
so this Gauss-Newton diagonal *is* the exact diagonal of the Hessian; a test
checks it against finite differences of the loss.
"""

from __future__ import annotations

import numpy as np

from energysim.prune.models import Model
from energysim.prune.training import single_threaded_blas, softmax


def diagonal_hessian(model: Model, x: np.ndarray, y: np.ndarray, batch_size: int = 256) -> dict[str, np.ndarray]:
    """Diagonal of the Hessian of the mean cross-entropy (nats) over ``(x, y)``, in evaluation mode.

    Parameters
    ----------
    model
        The model (its parameters are not changed; layer caches are).
    x, y
        Images and labels; the loss is the mean over all of them.
    batch_size
        Samples per forward pass (memory only; the result does not depend on it).

    Returns
    -------
    dict
        Parameter name -> array of the parameter's shape holding d^2 L / d theta_i^2
        (nats per unit parameter squared).
    """
    del y  # the Gauss-Newton diagonal of softmax cross-entropy does not depend on the labels
    total: dict[str, np.ndarray] = {name: np.zeros_like(value) for name, value in model.parameters().items()}
    with single_threaded_blas():
        _accumulate(model, x, batch_size, total)
    return {name: value / len(x) for name, value in total.items()}


def _accumulate(model: Model, x: np.ndarray, batch_size: int, total: dict[str, np.ndarray]) -> None:
    for start in range(0, len(x), batch_size):
        probs = softmax(model.forward(x[start : start + batch_size], training=False))
        root = np.sqrt(probs)
        for k in range(probs.shape[1]):
            direction = -probs * root[:, k : k + 1]
            direction[:, k] += root[:, k]
            model.backward(direction, square_per_sample=True)
            for name, value in model.gradients().items():
                total[name] += value
