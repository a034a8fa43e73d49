"""Seeded synthetic layers for the EIE engine (run without tensors): weights and input vectors."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from energysim.formats.codebook import Codebook, fit_codebook

DRAW_BLOCK_ELEMENTS = 1 << 22
"""Keys drawn at once (vectors x K) when several vectors are drawn: bounds the draw's memory (fixed, so
the draw does not depend on the machine)."""


def synthetic_inputs(k: int, n: int, density: float, rng: np.random.Generator) -> np.ndarray:
    """``(K, N)`` inputs with exactly ``round(density * K)`` non-zeros per column, values in (0, 1].

    The positions of each column are a uniformly random subset of that size and the
    values ``1 - U`` with ``U`` uniform in [0, 1). One input vector (``N = 1``, a
    linear layer at batch 1, e.g. every Table III layer) is drawn with numpy's
    ``choice`` without replacement; several are drawn together, as the
    ``round(density * K)`` smallest of ``K`` uniform keys per column, in blocks of
    :data:`DRAW_BLOCK_ELEMENTS` keys rather than one call per vector (a conv layer has
    one vector per output pixel: 50,176 for VGG-16's conv1_2), from the same distribution.

    Parameters
    ----------
    k, n
        Input length and number of input vectors.
    density
        Share of non-zero inputs per vector, in [0, 1].
    rng
        The seeded generator (advanced).

    Returns
    -------
    numpy.ndarray
        ``(K, N)`` float64 in Fortran order (each input vector contiguous, as the lanes read them).
    """
    nonzero = int(round(density * k))
    vectors = np.zeros((n, k))                         # vector by vector in memory: inputs = vectors.T
    block = max(1, DRAW_BLOCK_ELEMENTS // k)
    if nonzero >= k:
        for lo in range(0, n, block):                  # vector by vector, as one (N, K) draw
            vectors[lo:lo + block] = 1.0 - rng.random((min(n, lo + block) - lo, k))
    elif n == 1:
        where = rng.choice(k, size=nonzero, replace=False)
        vectors[0, where] = 1.0 - rng.random(where.size)
    elif nonzero > 0:
        for lo in range(0, n, block):
            hi = min(n, lo + block)
            keys = rng.random((hi - lo, k), dtype=np.float32)
            where = np.argpartition(keys, nonzero - 1, axis=1)[:, :nonzero]
            np.put_along_axis(vectors[lo:hi], where, (1.0 - rng.random((nonzero, hi - lo))).T, axis=1)
    return vectors.T


@dataclass(frozen=True)
class SyntheticWeights:
    """Seeded Bernoulli weights of an ``M x K`` layer, before encoding.

    Attributes
    ----------
    rows, columns
        Position of every non-zero weight, column-major order.
    codes
        Codebook index of each (``uint8``).
    codebook
        The codebook fitted to the drawn values.
    """

    rows: np.ndarray
    columns: np.ndarray
    codes: np.ndarray
    codebook: Codebook


MEMO_MAX_WEIGHTS = 1 << 23
"""Largest draw (non-zero weights) kept for reuse by :func:`synthetic_weights`, about 9 bytes each."""

QUANTISE_BLOCK = 1 << 22
"""Weights quantised at once (bounds the quantiser's temporaries to a few tens of MB)."""

_memo: dict[tuple, tuple[np.ndarray | None, np.ndarray, Codebook, dict]] = {}


def synthetic_weights(m: int, k: int, density: float, value_bits: int, fit_samples: int | None, seed: int,
                      rng: np.random.Generator) -> SyntheticWeights:
    """Seeded Bernoulli(``density``) positions with standard-normal values, quantised to a fitted codebook.

    The draw does not depend on the PE count, so the last one (up to
    :data:`MEMO_MAX_WEIGHTS` non-zeros) is kept: the same layer drawn again from a
    generator in the same state (a PE-count sweep) returns it and leaves the
    generator where the draw would have left it, without drawing or fitting again.

    Memory, bytes per drawn weight at the peak (the codebook fit): 8 for the
    positions (none when ``density >= 1``: every position), 8 for the values and about
    25 inside :func:`energysim.formats.codebook.fit_codebook` (its non-zero copy, sorted
    copy and prefix sums). The values are quantised in blocks of :data:`QUANTISE_BLOCK`
    and dropped before the rows and columns (int32 when ``M`` and ``K`` fit) are made.

    Parameters
    ----------
    m, k
        Rows and columns of the weight matrix.
    density
        Probability of a non-zero weight.
    value_bits, fit_samples, seed
        Codebook index width, k-means sample size (None: all) and seed of the fit.
    rng
        The seeded generator (advanced past the draw).
    """
    key = (m, k, density, value_bits, fit_samples, seed, repr(rng.bit_generator.state))
    hit = _memo.get(key)
    total = m * k
    if hit is not None:
        positions, codes, codebook, state = hit
        rng.bit_generator.state = state
    else:
        expected = total * density
        if density >= 1.0:
            positions = None                           # every position, in column-major order
            values = rng.standard_normal(total)
        else:
            draw = int(expected + 6 * math.sqrt(expected) + 16)
            positions = np.cumsum(rng.geometric(density, size=draw), dtype=np.int64) - 1
            while positions[-1] < total - 1 and positions.size:
                more = np.cumsum(rng.geometric(density, size=draw), dtype=np.int64) + positions[-1]
                positions = np.concatenate((positions, more))
            positions = positions[positions < total]
            values = rng.standard_normal(positions.size)
        codebook = fit_codebook(values, value_bits, max_fit_samples=fit_samples, seed=seed)
        codes = np.empty(values.size, dtype=np.uint8)
        for lo in range(0, values.size, QUANTISE_BLOCK):
            codes[lo:lo + QUANTISE_BLOCK] = codebook.quantise(values[lo:lo + QUANTISE_BLOCK])
        del values
        kept = {key: (positions, codes, codebook, rng.bit_generator.state)} if codes.size <= MEMO_MAX_WEIGHTS else {}
        _memo.clear()
        _memo.update(kept)
    index = np.int32 if max(m, k) < 2**31 else np.int64
    if positions is None:
        columns = np.repeat(np.arange(k, dtype=index), m)
        rows = np.tile(np.arange(m, dtype=index), k)
    else:
        columns, rows = np.divmod(positions, m)        # column-major order
        columns, rows = columns.astype(index, copy=False), rows.astype(index, copy=False)
    return SyntheticWeights(rows=rows, columns=columns, codes=codes, codebook=codebook)
