"""N:M compliance of any mask: which groups hold more than N non-zeros out of M, and by how much.

Groups are ``M`` consecutive entries along the reduction axis of the (rows, K)
view (see :mod:`energysim.formats.mask_stats`); when ``K`` is not a multiple
of ``M`` the last group of each row is shorter (as if padded with zeros). A
mask complies with N:M when no group holds more than ``N`` non-zeros. The
distance of a non-compliant mask from N:M is the number of non-zeros that
would have to be removed to comply, ``sum_groups max(0, nnz_group - N)``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from energysim.errors import InputError
from energysim.formats.mask_stats import as_mask_matrix


def check_pattern(n: int, m: int) -> tuple[int, int]:
    """Validate an N:M pattern: integers with 1 <= N < M."""
    if any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) for v in (n, m)) or not 1 <= n < m:
        raise InputError(f"N:M pattern needs integers 1 <= N < M (got {n}:{m})")
    return int(n), int(m)


def group_nnz(mask: np.ndarray, m: int) -> np.ndarray:
    """Non-zeros of every group of ``m`` along the reduction axis, shape (rows, ceil(K / m)).

    Raises
    ------
    InputError
        If ``m`` is not an integer >= 1, or the mask has fewer than 2 dimensions.
    """
    if isinstance(m, bool) or not isinstance(m, (int, np.integer)) or m < 1:
        raise InputError(f"N:M group size m must be an integer >= 1 (got {m!r})")
    m = int(m)
    matrix = as_mask_matrix(mask)
    rows, k = matrix.shape
    pad = (-k) % m
    if pad:
        matrix = np.concatenate([matrix, np.zeros((rows, pad), dtype=bool)], axis=1)
    return matrix.reshape(rows, -1, m).sum(axis=2)


@dataclass(frozen=True)
class NMCompliance:
    """How far a mask is from an N:M pattern.

    Attributes
    ----------
    n, m
        The pattern.
    groups
        Groups examined (rows x ceil(K / m)).
    violating_groups
        Groups with more than ``n`` non-zeros.
    violating_fraction
        ``violating_groups / groups``.
    excess_nonzeros
        Non-zeros that must be removed to comply (``sum max(0, nnz_group - n)``).
    excess_fraction
        ``excess_nonzeros / nnz`` (0 when nnz = 0): the share of kept weights an
        N:M projection would lose.
    max_group_nnz
        Largest non-zero count of any group.
    compliant
        True when no group violates.
    """

    n: int
    m: int
    groups: int
    violating_groups: int
    violating_fraction: float
    excess_nonzeros: int
    excess_fraction: float
    max_group_nnz: int
    compliant: bool

    def as_dict(self) -> dict:
        """The fields as a plain dict."""
        return asdict(self)


def nm_compliance(mask: np.ndarray, n: int = 2, m: int = 4) -> NMCompliance:
    """Measure the N:M compliance of a mask (2:4 by default).

    Parameters
    ----------
    mask
        Mask or weight array (non-zero = kept), at least 2-D.
    n, m
        Keep at most ``n`` of every ``m``.

    Returns
    -------
    NMCompliance
    """
    n, m = check_pattern(n, m)
    counts = group_nnz(mask, m)
    excess = np.maximum(counts - n, 0)
    violating = int(np.count_nonzero(excess))
    nnz = int(counts.sum())
    excess_total = int(excess.sum())
    return NMCompliance(
        n=n,
        m=m,
        groups=int(counts.size),
        violating_groups=violating,
        violating_fraction=violating / counts.size,
        excess_nonzeros=excess_total,
        excess_fraction=excess_total / nnz if nnz else 0.0,
        max_group_nnz=int(counts.max()),
        compliant=violating == 0,
    )
