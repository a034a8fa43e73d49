"""Seeded synthetic input vectors for the EIE engine (a layer run without calibration activations)."""

from __future__ import annotations

import numpy as np


def synthetic_inputs(k: int, n: int, density: float, rng: np.random.Generator) -> np.ndarray:
    """``(K, N)`` inputs with exactly ``round(density * K)`` non-zeros per column, values in (0, 1].

    The positions of each column are a uniformly random subset of that size and the
    values ``1 - U`` with ``U`` uniform in [0, 1). One input vector (``N = 1``, a
    linear layer at batch 1, e.g. every Table III layer) is drawn with numpy's
    ``choice`` without replacement; several are drawn together, as the
    ``round(density * K)`` smallest of ``K`` uniform keys per column, in one call
    whatever ``N`` (a conv layer has one vector per output pixel: 50,176 for VGG-16's
    conv1_2), from the same distribution.

    Parameters
    ----------
    k, n
        Input length and number of input vectors.
    density
        Share of non-zero inputs per vector, in [0, 1].
    rng
        The seeded generator (advanced).
    """
    nonzero = int(round(density * k))
    inputs = np.zeros((k, n))
    if nonzero >= k:
        inputs[:] = 1.0 - rng.random((n, k)).T
    elif n == 1:
        where = rng.choice(k, size=nonzero, replace=False)
        inputs[where, 0] = 1.0 - rng.random(where.size)
    elif nonzero > 0:
        keys = rng.random((n, k), dtype=np.float32)
        where = np.argpartition(keys, nonzero - 1, axis=1)[:, :nonzero]
        inputs[where.T, np.arange(n)] = 1.0 - rng.random((nonzero, n))
    return inputs
