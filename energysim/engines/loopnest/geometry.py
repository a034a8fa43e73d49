"""Points of one tensor axis touched by a box of loop indices, and their overlap under a shift.

An axis coordinate is a sum of terms ``coefficient x index`` with each index in
``[0, extent)`` (one term for most axes; two for the inputs' rows and columns:
``p*stride + r*dilation``). The touched coordinates are the set
``{sum_k c_k i_k}``; it can have gaps (stride larger than the kernel). Tiles of
a tensor are products of such sets over its axes, so a tile's size is the
product of the axes' point counts and the overlap of two tiles of the same
shape is the product of the axes' overlaps. Results are cached: a mapper asks
the same few shapes again and again.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

Terms = tuple[tuple[int, int], ...]
"""(coefficient, extent) per index of one axis, extents >= 1."""


def _normal(terms: Terms) -> Terms:
    return tuple(sorted((c, e) for c, e in terms if e > 1 and c != 0))


@lru_cache(maxsize=65536)
def _mask(terms: Terms) -> np.ndarray:
    span = 1 + sum(c * (e - 1) for c, e in terms)
    marks = np.zeros(span, dtype=bool)
    coords = np.zeros(1, dtype=np.int64)
    for c, e in terms:
        coords = (coords[:, None] + c * np.arange(e, dtype=np.int64)[None, :]).ravel()
    marks[coords] = True
    return marks


def _interval(terms: Terms) -> int | None:
    """Length of the set when it is a gap-free interval ``0 .. n-1`` (None when it has gaps).

    Two sorted terms ``(1, e1), (b, e2)`` tile an interval when the blocks of
    ``e1`` consecutive points start at most ``e1`` apart (``b <= e1``).
    """
    if len(terms) == 2:
        (a, e1), (b, e2) = terms
        if a == 1 and b <= e1:
            return b * (e2 - 1) + e1
    return None


@lru_cache(maxsize=65536)
def _points(terms: Terms) -> int:
    if len(terms) <= 1:
        return terms[0][1] if terms else 1
    length = _interval(terms)
    if length is not None:
        return length
    return int(np.count_nonzero(_mask(terms)))


@lru_cache(maxsize=262144)
def points(terms: Terms) -> int:
    """Distinct coordinates ``{sum c_k i_k : 0 <= i_k < e_k}``."""
    return _points(_normal(terms))


@lru_cache(maxsize=262144)
def _overlap(terms: Terms, shift: int) -> int:
    if not terms:
        return 1 if shift == 0 else 0
    if len(terms) == 1:
        c, e = terms[0]
        if shift % c:
            return 0
        return max(0, e - shift // c)
    length = _interval(terms)
    if length is not None:
        return max(0, length - shift)
    marks = _mask(terms)
    if shift >= len(marks):
        return 0
    if shift == 0:
        return int(np.count_nonzero(marks))
    return int(np.count_nonzero(marks[shift:] & marks[: len(marks) - shift]))


@lru_cache(maxsize=262144)
def overlap(terms: Terms, shift: int) -> int:
    """Points shared by the coordinate set and the same set shifted by ``shift``."""
    return _overlap(_normal(terms), abs(int(shift)))
