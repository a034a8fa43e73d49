"""Shared-weight codebooks: 1-D k-means with linear initialisation (Deep Compression).

A :class:`Codebook` has ``2**bits`` entries. Entry 0 is always 0.0: EIE stores
padding entries with code 0, and its ALU counts a multiply-accumulate as useful
only when the code is non-zero. The other ``2**bits - 1`` entries are the
centroids of a 1-D k-means over the non-zero weights, started from centroids
spaced linearly between the smallest and largest weight (the initialisation
Deep Compression found best for accuracy, because it keeps the rare large
weights).

References
----------
.. [1] S. Han, H. Mao, W. J. Dally, "Deep Compression: Compressing Deep Neural
   Networks with Pruning, Trained Quantization and Huffman Coding", ICLR 2016,
   Sec. 3 (weight sharing, linear initialisation).
.. [2] S. Han et al., "EIE: Efficient Inference Engine on Compressed Deep Neural
   Network", ISCA 2016, Sec. III (4-bit index into a 16-entry codebook).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from energysim.errors import InputError
from energysim.formats import eie_csc_kernel

DEFAULT_BITS = 4
"""Codebook index width in bits (EIE: 4, so 16 entries)."""


@dataclass(frozen=True)
class Codebook:
    """A shared-weight codebook.

    Attributes
    ----------
    centroids
        ``2**bits`` weight values; ``centroids[0] == 0.0`` (padding / pruned).
        Entries 1.. are sorted ascending.
    bits
        Index width in bits.
    iterations
        Lloyd iterations the fit ran.
    """

    centroids: np.ndarray
    bits: int
    iterations: int = 0

    @property
    def size(self) -> int:
        """Number of entries, ``2**bits``."""
        return int(self.centroids.size)

    def quantise(self, weights: np.ndarray) -> np.ndarray:
        """Codes of ``weights``: 0 for exact zeros, else the nearest non-zero centroid.

        Parameters
        ----------
        weights
            Any-shaped array of weights (dimensionless).

        Returns
        -------
        numpy.ndarray
            ``uint8`` codes of the same shape.
        """
        weights = np.asarray(weights, dtype=np.float64)
        midpoints = 0.5 * (self.centroids[2:] + self.centroids[1:-1])   # at most 254 (bits <= 8): fits uint8
        if eie_csc_kernel.use_compiled() and weights.size >= 1 << 16:
            codes = np.empty(weights.size, dtype=np.uint8)
            eie_csc_kernel.jit(_codes_of)(np.ascontiguousarray(weights).ravel(), midpoints, codes)
            return codes.reshape(weights.shape)
        codes = np.zeros(weights.shape, dtype=np.uint8)
        nonzero = weights != 0
        codes[nonzero] = _count_below(midpoints, weights[nonzero]) + 1
        return codes

    def decode(self, codes: np.ndarray) -> np.ndarray:
        """Weight values of ``codes`` (float64)."""
        codes = np.asarray(codes)
        if codes.size and (codes.min() < 0 or codes.max() >= self.size):
            raise InputError(f"codebook of {self.size} entries: codes must lie in 0..{self.size - 1} (got {codes.min()}..{codes.max()})")
        return self.centroids[codes]


def _count_below(midpoints: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``uint8`` count of the ascending ``midpoints`` strictly below each value: the index of its nearest centroid.

    A value on a midpoint goes to the lower centroid. One comparison per midpoint (15 for
    EIE's codebook), branch-free: several times faster than a binary search per value on
    large arrays.
    """
    index = np.zeros(values.shape, dtype=np.uint8)
    above = np.empty(values.shape, dtype=bool)
    for midpoint in midpoints:
        np.greater(values, midpoint, out=above)
        index += above
    return index


def _codes_of(values, midpoints, codes):  # pragma: no cover - compiled
    """``codes[i]``: 0 for a zero value, else 1 + midpoints strictly below it; plain Python, compiled by numba.

    The numpy path's codes in one pass, without its mask and copies of the non-zero values: blocks
    of 512 values, one midpoint at a time over the block (a loop the compiler vectorises).
    """
    n = values.size
    count = np.empty(512, np.uint8)             # 1 + at most 254 midpoints (bits <= 8)
    for lo in range(0, n, 512):
        width = min(n, lo + 512) - lo
        block = values[lo:lo + width]
        for i in range(width):
            count[i] = 1
        for midpoint in midpoints:
            for i in range(width):
                count[i] += np.uint8(block[i] > midpoint)
        for i in range(width):
            codes[lo + i] = count[i] if block[i] != 0 else 0


def fit_codebook(
    weights: np.ndarray,
    bits: int = DEFAULT_BITS,
    max_iterations: int = 300,
    max_fit_samples: int | None = None,
    seed: int = 0,
) -> Codebook:
    """Fit a codebook to the non-zero weights by 1-D k-means with linear initialisation.

    Weights that are already quantised (at most ``2**bits - 1`` distinct non-zero
    values, e.g. a Deep Compression layer given as ``codebook[codes]``) keep their
    values exactly: the codebook is those values, ascending, and nothing is
    clustered. Only more distinct values than codes are clustered by k-means.

    Parameters
    ----------
    weights
        Any-shaped weight array; zeros are pruned weights and are not clustered.
    bits
        Index width in bits (>= 1): ``2**bits - 1`` non-zero centroids plus the zero entry.
    max_iterations
        Upper bound on Lloyd iterations (the fit stops earlier when assignments settle).
    max_fit_samples
        When there are more non-zero weights than this, the centroids are fitted on a
        seeded uniform sample of this many (quantisation still uses every weight);
        None (default) fits on all of them. Each Lloyd iteration costs O(2**bits log n)
        on the sorted weights, so fitting all of a VGG-6 layer takes well under a second.
    seed
        Seed of that sample.

    Returns
    -------
    Codebook
        Entry 0 is 0.0; entries 1.. are ascending. Empty clusters keep their
        initial (linear) value. With no non-zero weight, every entry is 0.0. For
        already-quantised weights, entries 1.. are the distinct values, the
        largest repeated to fill the table, and ``iterations`` is 0.

    Raises
    ------
    InputError
        If ``bits`` < 1, ``max_iterations`` < 1 or the weights are not finite.
    """
    if not isinstance(bits, (int, np.integer)) or isinstance(bits, bool) or not 1 <= bits <= 8:
        raise InputError(f"codebook bits must be an integer in 1..8 (codes are stored as uint8) (got {bits!r})")
    if max_iterations < 1:
        raise InputError(f"codebook max_iterations must be >= 1 (got {max_iterations})")
    flat = np.asarray(weights, dtype=np.float64).ravel()
    if not np.all(np.isfinite(flat)):
        raise InputError("codebook weights must be finite (got NaN or inf)")
    values = flat[flat != 0]
    n_centroids = 2**bits - 1
    if values.size == 0:
        return Codebook(centroids=np.zeros(n_centroids + 1), bits=bits, iterations=0)
    if np.unique(values[: 4 * n_centroids]).size <= n_centroids:   # cheap test on a prefix first
        distinct = np.unique(values)
        if distinct.size <= n_centroids:                              # already quantised: keep it exactly
            table = np.concatenate(([0.0], distinct, np.full(n_centroids - distinct.size, distinct[-1])))
            return Codebook(centroids=table, bits=bits, iterations=0)
    if max_fit_samples is not None and values.size > max_fit_samples:
        rng = np.random.default_rng(seed)
        values = values[rng.choice(values.size, size=max_fit_samples, replace=False)]
    values.sort()  # values is this function's own copy (a mask or a sample of the weights): sorted in place
    prefix = np.empty(values.size + 1)
    prefix[0] = 0.0
    np.cumsum(values, out=prefix[1:])
    centroids = np.linspace(values[0], values[-1], n_centroids)
    edges = None
    iterations = 0
    for iterations in range(1, max_iterations + 1):
        # Sorted values: cluster i is the run (mid[i-1], mid[i]] (ties go to the lower centroid).
        midpoints = 0.5 * (centroids[1:] + centroids[:-1])
        new_edges = np.concatenate(([0], np.searchsorted(values, midpoints, side="right"), [values.size]))
        counts = np.diff(new_edges)
        sums = prefix[new_edges[1:]] - prefix[new_edges[:-1]]
        filled = counts > 0
        centroids = centroids.copy()
        centroids[filled] = sums[filled] / counts[filled]
        centroids.sort()
        if edges is not None and np.array_equal(new_edges, edges):
            break
        edges = new_edges
    return Codebook(centroids=np.concatenate(([0.0], centroids)), bits=bits, iterations=iterations)
