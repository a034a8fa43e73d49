"""Seeded synthetic layers for the EIE engine (run without tensors): weights and input vectors."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from energysim.engines.eie.lane_kernel import floyd_subsets
from energysim.formats.codebook import Codebook, fit_codebook

DRAW_BLOCK_ELEMENTS = 1 << 22
"""Inputs (vectors x K) of one block of synthetic input vectors: bounds the draw's memory (fixed, so
the draw does not depend on the machine)."""


def synthetic_inputs(k: int, n: int, density: float, rng: np.random.Generator) -> "np.ndarray | SyntheticInputs":
    """Input vectors with exactly ``round(density * K)`` non-zeros each, values in (0, 1].

    One input vector (``N = 1``, a linear layer at batch 1, e.g. every Table III
    layer) is drawn at once with numpy's ``choice`` without replacement, then its
    values ``1 - U`` (``U`` uniform in [0, 1)), and returned as a ``(K, 1)`` array.
    Several (a conv layer has one per output pixel: 50,176 for VGG-16's conv1_2) are
    not drawn here: one integer is drawn from ``rng`` as the seed of a
    :class:`SyntheticInputs`, which draws them block by block when they are used, so
    memory does not grow with the batch.

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
    numpy.ndarray or SyntheticInputs
        ``(K, 1)`` float64 for one vector; else the block-by-block draw of ``(K, N)``.
    """
    nonzero = int(round(density * k))
    if n == 1:
        vector = np.zeros((k, 1))
        if nonzero >= k:
            vector[:, 0] = 1.0 - rng.random(k)
        elif nonzero > 0:
            where = rng.choice(k, size=nonzero, replace=False)
            vector[where, 0] = 1.0 - rng.random(where.size)
        return vector
    return SyntheticInputs(k=k, n=n, nonzero=nonzero, seed=int(rng.integers(2**63)))


@dataclass(frozen=True, eq=False)
class SyntheticInputs:
    """Seeded synthetic input vectors of one layer, drawn block by block when used (never held whole).

    Vectors ``[b C, (b + 1) C)`` form block ``b`` (``C`` = :attr:`block_vectors`, fixed by
    ``K`` alone, so the draw does not depend on the machine). Block ``b``'s non-zero
    positions come from ``numpy.random.default_rng([seed, b, 0])``: each vector's set is
    a uniformly random ``nonzero``-subset of ``0 .. K - 1`` drawn by Floyd's algorithm
    (for ``j = K - s .. K - 1``: ``t`` uniform in ``0 .. j``; take ``t``, or ``j`` if ``t``
    is taken), choosing the non-zeros or, when more than half are non-zero, the zeros
    (``s`` = the smaller count). A block's ``t`` are ``floor(U (j + 1))`` with ``U`` from one
    call ``random((s, C))``, step-major (cost: ``s x C`` draws, not ``K x C``; ``U`` has 53
    bits, so ``t`` is uniform to within ``K / 2**53``). The values, only
    drawn when the dense array is asked for (the layer output), are ``1 - U`` from
    ``default_rng([seed, b, 1])``, in row-major order of the block's non-zeros.

    Attributes
    ----------
    k, n
        Input length ``K`` and number of input vectors ``N``.
    nonzero
        Non-zeros per vector.
    seed
        Seed of the blocks' generators (drawn from the layer's generator).
    """

    k: int
    n: int
    nonzero: int
    seed: int

    @property
    def shape(self) -> tuple[int, int]:
        """``(K, N)``, as the dense array."""
        return (self.k, self.n)

    @property
    def block_vectors(self) -> int:
        """Vectors per draw block, ``max(1, DRAW_BLOCK_ELEMENTS // K)``."""
        return max(1, DRAW_BLOCK_ELEMENTS // max(1, self.k))

    def active_blocks(self):
        """Yield ``(first vector, active)`` per draw block: ``active`` is ``(C, K)`` bool, C-contiguous."""
        for lo in range(0, self.n, self.block_vectors):
            yield lo, self.active_block(lo)

    def active_block(self, lo: int) -> np.ndarray:
        """``(C, K)`` bool: which inputs of vectors ``lo .. lo + C - 1`` are non-zero (``lo`` starts a block)."""
        block = self.block_vectors
        if lo % block:
            raise ValueError(f"synthetic inputs: a block starts at a multiple of {block} (got {lo})")
        vectors = min(self.n, lo + block) - lo
        k, nonzero = self.k, self.nonzero
        if nonzero >= k or nonzero <= 0:
            return np.full((vectors, k), nonzero >= k and k > 0)
        rng = np.random.default_rng([self.seed, lo // block, 0])
        complement = nonzero > k - nonzero
        size = k - nonzero if complement else nonzero
        chosen = floyd_subsets(rng.random((size, vectors)), k)                # U: (step, vector)
        if complement:
            np.logical_not(chosen, out=chosen)
        return chosen

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        """The dense ``(K, N)`` float64 inputs, values drawn block by block (memory ``8 K N`` bytes)."""
        vectors = np.zeros((self.n, self.k))
        for lo, active in self.active_blocks():
            values = np.random.default_rng([self.seed, lo // self.block_vectors, 1])
            part = vectors[lo:lo + active.shape[0]]
            part[active] = 1.0 - values.random(int(np.count_nonzero(active)))
        dense = vectors.T
        return dense if dtype is None else dense.astype(dtype)


def dense_inputs(inputs: "np.ndarray | SyntheticInputs") -> np.ndarray:
    """The ``(K, N)`` float64 array of given or synthetic input vectors."""
    return np.asarray(inputs)


@dataclass(frozen=True)
class SyntheticWeights:
    """Seeded Bernoulli weights of an ``M x K`` layer, before encoding.

    Attributes
    ----------
    positions
        Flat column-major index ``column x M + row`` of every non-zero weight, ascending
        (int64); None when every position holds one (density 1).
    shape
        ``(M, K)``.
    codes
        Codebook index of each (``uint8``); for a dense layer (``positions`` None), drawn when
        read (:class:`SyntheticCodes`; ``numpy.asarray`` gives every one).
    codebook
        The codebook the codes index.
    """

    positions: np.ndarray | None
    shape: tuple[int, int]
    codes: "np.ndarray | SyntheticCodes"
    codebook: Codebook

    @property
    def columns(self) -> np.ndarray:
        """Column of every non-zero weight (int64)."""
        m, k = self.shape
        return np.repeat(np.arange(k), m) if self.positions is None else self.positions // m

    @property
    def rows(self) -> np.ndarray:
        """Row of every non-zero weight (int64)."""
        m, k = self.shape
        return np.tile(np.arange(m), k) if self.positions is None else self.positions % m


MEMO_MAX_WEIGHTS = 1 << 23
"""Largest draw (non-zero weights) kept for reuse by :func:`synthetic_weights`, 9 bytes each (positions, codes)."""

QUANTISE_BLOCK = 1 << 22
"""Codes read at once when all are asked for (bounds the read's temporaries to a few tens of MB)."""

FIT_SAMPLES = 1 << 16
"""Standard-normal values a synthetic layer's codebook is fitted on, unless ``codebook_fit_samples`` says."""

QUANTILE_BITS = 16
"""Width of the uniform integer a synthetic weight's code is read from: its value is the standard-normal
quantile at the middle of one of ``2**16`` equal-probability bins."""

_memo: dict[tuple, tuple[np.ndarray | None, "np.ndarray | SyntheticCodes", Codebook, dict]] = {}


def code_table(codebook: Codebook) -> np.ndarray:
    """``(2**QUANTILE_BITS,)`` uint8: the code of the standard-normal quantile at the middle of each bin.

    Bin ``u`` holds the value ``q = Phi^-1((u + 1/2) / 2**16)``; its code is 1 plus the number of
    the codebook's midpoints strictly below ``q`` (a value on a midpoint goes to the lower centroid,
    as :meth:`Codebook.quantise`), found as ``(u + 1/2) / 2**16 > Phi(midpoint)`` with ``Phi`` the
    standard-normal distribution function (``math.erf``).
    """
    bins = 1 << QUANTILE_BITS
    middles = (np.arange(bins, dtype=np.float64) + 0.5) / bins
    midpoints = 0.5 * (codebook.centroids[2:] + codebook.centroids[1:-1])
    below = np.array([0.5 * (1.0 + math.erf(float(midpoint) / math.sqrt(2.0))) for midpoint in midpoints])
    table = np.ones(bins, dtype=np.uint8)
    for probability in below:
        table += middles > probability
    return table


@dataclass(frozen=True, eq=False)
class SyntheticCodes:
    """The codes of a synthetic layer's non-zero weights, drawn when read: any range, in any order, alike.

    Code ``i`` is ``table[u]``, ``u`` the 16-bit integer ``i % 4`` (low first) of raw output
    ``i // 4`` of ``numpy.random.PCG64(seed)``; a range is read by advancing the bit generator
    to its first output (PCG64 jumps ahead in constant time), so nothing is held but the table.

    Attributes
    ----------
    seed
        Seed of the PCG64 bit generator.
    table
        ``(2**QUANTILE_BITS,)`` uint8 code of each quantile bin (:func:`code_table`).
    size
        Number of codes.
    """

    seed: int
    table: np.ndarray
    size: int

    def block(self, lo: int, hi: int) -> np.ndarray:
        """``(hi - lo,)`` uint8: codes ``lo .. hi - 1`` (``0 <= lo <= hi <= size``)."""
        if not 0 <= lo <= hi <= self.size:
            raise ValueError(f"synthetic codes: a block lies in 0..{self.size} (got {lo}..{hi})")
        bits = np.random.PCG64(self.seed)
        first, skip = divmod(lo, 4)
        bits.advance(first)
        raw = bits.random_raw(-(-(skip + hi - lo) // 4)).astype("<u8", copy=False)
        return self.table[raw.view("<u2")[skip:skip + hi - lo]]

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        """Every code, ``uint8`` (or ``dtype``), read :data:`QUANTISE_BLOCK` at a time."""
        codes = np.empty(self.size, dtype=np.uint8)
        for lo in range(0, self.size, QUANTISE_BLOCK):
            hi = min(self.size, lo + QUANTISE_BLOCK)
            codes[lo:hi] = self.block(lo, hi)
        return codes if dtype is None else codes.astype(dtype)


def synthetic_weights(m: int, k: int, density: float, value_bits: int, fit_samples: int | None, seed: int,
                      rng: np.random.Generator) -> SyntheticWeights:
    """Seeded Bernoulli(``density``) positions with standard-normal values, quantised to a fitted codebook.

    From ``rng``, in this order: the positions, drawn as gaps (geometric, one per
    non-zero); ``min(FIT_SAMPLES or codebook_fit_samples, non-zeros)`` standard-normal
    values the codebook is fitted on; and one integer, the seed of the codes' own
    PCG64 bit generator. Each raw 64-bit output of that generator is cut into four
    :data:`QUANTILE_BITS`-bit integers, one per non-zero, drawn only when the codes are
    read (:class:`SyntheticCodes`); an integer names a standard-normal quantile bin, and
    :func:`code_table` gives the bin's code. So the codes are those of standard-normal
    values quantised to the fitted codebook, each value's probability resolved to
    ``2**-16``, at about 4 ns per weight where drawing a standard-normal value and
    quantising it took about 25 (this machine). Past the positions, ``rng`` advances
    by the fit sample and one integer, whatever the layer's size.

    Counts and cycles depend on the positions only (every synthetic code is
    non-zero); the codes feed the functional output and the codebook the stats.

    The draw does not depend on the PE count, so the last one (up to
    :data:`MEMO_MAX_WEIGHTS` non-zeros) is kept: the same layer drawn again from a
    generator in the same state (a PE-count sweep) returns it and leaves the
    generator where the draw would have left it, without drawing or fitting again.

    Memory, bytes per drawn weight: 8 for the positions and 1 for the codes (none when
    ``density >= 1``: every position, and the codes are drawn as the encoder reads them).

    Parameters
    ----------
    m, k
        Rows and columns of the weight matrix.
    density
        Probability of a non-zero weight.
    value_bits, fit_samples, seed
        Codebook index width, k-means sample size (None: :data:`FIT_SAMPLES`) and seed of the fit.
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
        else:
            draw = int(expected + 6 * math.sqrt(expected) + 16)
            positions = np.cumsum(rng.geometric(density, size=draw), dtype=np.int64)
            positions -= 1
            while positions[-1] < total - 1 and positions.size:
                more = np.cumsum(rng.geometric(density, size=draw), dtype=np.int64) + positions[-1]
                positions = np.concatenate((positions, more))
            positions = positions[:int(np.searchsorted(positions, total))]    # ascending: cut, no mask or copy
        count = total if positions is None else positions.size
        fit_size = min(count, fit_samples if fit_samples is not None else FIT_SAMPLES)
        codebook = fit_codebook(rng.standard_normal(fit_size), value_bits, seed=seed)
        codes = SyntheticCodes(seed=int(rng.integers(2**63)), table=code_table(codebook), size=count)
        if positions is not None:                      # read whole by the encoder: read once (a PE sweep reuses them)
            codes = np.asarray(codes)
        kept = {key: (positions, codes, codebook, rng.bit_generator.state)} if count <= MEMO_MAX_WEIGHTS else {}
        _memo.clear()
        _memo.update(kept)
    return SyntheticWeights(positions=positions, shape=(m, k), codes=codes, codebook=codebook)
