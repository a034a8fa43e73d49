"""Storage size, in bits, of a sparse weight matrix in several formats.

Every format is a function ``(mask, value_bits) -> bits`` in the explicit
registry :data:`STORAGE_FORMATS`; :func:`storage_table` evaluates any set of
them. A mask is viewed as the (rows, K) GEMM weight operand
(:mod:`energysim.formats.mask_stats`); ``nnz`` is its number of non-zeros.

Formats
-------
``dense``
    ``rows * K * value_bits``.
``bitmap``
    One presence bit per entry plus the non-zero values:
    ``rows * K + nnz * value_bits``.
``csr``
    Values, one column index per value of ``ceil(log2 K)`` bits, and
    ``rows + 1`` row pointers of ``ceil(log2(nnz + 1))`` bits (minimum 1 bit
    for each index width).
``csc``
    The same per column: ``ceil(log2 rows)``-bit row indices and ``K + 1``
    column pointers.
``eie_csc_64pe``
    EIE's interleaved CSC over 64 PEs: 4-bit codebook index and 4-bit relative
    row index per entry (padding entries included), ``K + 1`` 16-bit pointers per
    PE, and a 16-entry codebook of ``value_bits`` values
    (:func:`energysim.formats.eie_csc.mask_storage_bits`).
``nm_<N>_<M>`` (``nm_2_4`` registered)
    N value slots per group of ``M`` along K (groups with fewer non-zeros are
    padded with explicit zeros; a short last group counts as a full one) plus a
    ``ceil(log2 M)``-bit position per slot: ``rows * ceil(K/M) * N *
    (value_bits + ceil(log2 M))``. Only defined for masks that comply with N:M
    (:func:`energysim.formats.nm_compliance.nm_compliance`); others raise
    ``UnsupportedError``.

Extending
---------
Formats owned by other modules (e.g. EIE's interleaved CSC with 4-bit values,
4-bit relative indices and padding zeros) plug in with
:func:`register_storage_format` or by passing ``extra={"eie_csc": fn}`` to
:func:`storage_table`; the function must take ``(mask, value_bits)`` and
return bits.
"""

from __future__ import annotations

import math
from functools import partial
from typing import Callable, Mapping

import numpy as np
import pandas as pd

from energysim.errors import InputError, UnsupportedError
from energysim.formats.eie_csc import mask_storage_bits
from energysim.formats.mask_stats import as_mask_matrix
from energysim.formats.nm_compliance import check_pattern, nm_compliance

StorageFunction = Callable[[np.ndarray, int], int]
"""``(mask, value_bits) -> storage bits`` of one format."""


def index_bits_for(count: int) -> int:
    """Bits of an unsigned index that can name ``count`` distinct positions (at least 1)."""
    if count < 1:
        raise InputError(f"index range must hold at least one position (got {count})")
    return max(1, math.ceil(math.log2(count)))


def _check_width(bits, name: str) -> int:
    """A field width in bits: an integer >= 1 (not a bool)."""
    if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)) or bits < 1:
        raise InputError(f"{name} must be an integer >= 1 (got {bits!r})")
    return int(bits)


def _check_value_bits(value_bits: int) -> int:
    return _check_width(value_bits, "value_bits")


def dense_bits(mask: np.ndarray, value_bits: int) -> int:
    """Dense storage: every entry, zero or not, in ``value_bits`` bits.

    Returns
    -------
    int
        Storage size in bits: ``rows * K * value_bits``.
    """
    matrix = as_mask_matrix(mask)
    return int(matrix.size) * _check_value_bits(value_bits)


def bitmap_bits(mask: np.ndarray, value_bits: int) -> int:
    """Bitmap storage: one presence bit per entry plus ``value_bits`` per non-zero.

    Returns
    -------
    int
        Storage size in bits: ``rows * K + nnz * value_bits``.
    """
    matrix = as_mask_matrix(mask)
    return int(matrix.size) + int(matrix.sum()) * _check_value_bits(value_bits)


def csr_bits(mask: np.ndarray, value_bits: int, index_bits: int | None = None, pointer_bits: int | None = None) -> int:
    """Compressed sparse rows: values + column indices + (rows + 1) row pointers.

    Parameters
    ----------
    mask
        Mask or weight array (non-zero = stored), at least 2-D.
    value_bits
        Bits per stored value (integer >= 1).
    index_bits
        Bits per column index, integer >= 1 (default ``ceil(log2 K)``, at least 1).
    pointer_bits
        Bits per row pointer, integer >= 1 (default ``ceil(log2(nnz + 1))``, at least 1).

    Returns
    -------
    int
        Storage size in bits: ``nnz * (value_bits + index_bits) + (rows + 1) * pointer_bits``.

    Raises
    ------
    InputError
        If a width is not an integer >= 1.
    """
    matrix = as_mask_matrix(mask)
    rows, cols = matrix.shape
    nnz = int(matrix.sum())
    value_bits = _check_value_bits(value_bits)
    index_bits = index_bits_for(cols) if index_bits is None else _check_width(index_bits, "index_bits")
    pointer_bits = index_bits_for(nnz + 1) if pointer_bits is None else _check_width(pointer_bits, "pointer_bits")
    return nnz * (value_bits + index_bits) + (rows + 1) * pointer_bits


def csc_bits(mask: np.ndarray, value_bits: int, index_bits: int | None = None, pointer_bits: int | None = None) -> int:
    """Compressed sparse columns: values + row indices + (K + 1) column pointers (see :func:`csr_bits`).

    Returns
    -------
    int
        Storage size in bits: ``nnz * (value_bits + index_bits) + (K + 1) * pointer_bits``.
    """
    matrix = as_mask_matrix(mask)
    return csr_bits(matrix.T, value_bits, index_bits, pointer_bits)


def nm_bits(mask: np.ndarray, value_bits: int, n: int = 2, m: int = 4, index_bits: int | None = None) -> int:
    """N:M structured storage: N slots per group of M, each a value and a ``ceil(log2 M)``-bit position.

    Parameters
    ----------
    mask
        Mask or weight array (non-zero = stored), at least 2-D.
    value_bits
        Bits per stored value (integer >= 1).
    n, m
        The pattern (1 <= N < M).
    index_bits
        Bits per position, integer >= 1 (default ``ceil(log2 M)``, at least 1).

    Returns
    -------
    int
        Storage size in bits: ``rows * ceil(K / M) * N * (value_bits + index_bits)``.

    Raises
    ------
    UnsupportedError
        If the mask has a group with more than N non-zeros.
    InputError
        If a width is not an integer >= 1 or the pattern is invalid.
    """
    n, m = check_pattern(n, m)
    value_bits = _check_value_bits(value_bits)
    index_bits = index_bits_for(m) if index_bits is None else _check_width(index_bits, "index_bits")
    compliance = nm_compliance(mask, n, m)
    if not compliance.compliant:
        raise UnsupportedError(
            f"N:M storage needs a {n}:{m}-compliant mask ({compliance.violating_groups} of "
            f"{compliance.groups} groups hold more than {n} non-zeros)"
        )
    return compliance.groups * n * (value_bits + index_bits)


STORAGE_FORMATS: dict[str, StorageFunction] = {
    "dense": dense_bits,
    "bitmap": bitmap_bits,
    "csr": csr_bits,
    "csc": csc_bits,
    "nm_2_4": partial(nm_bits, n=2, m=4),
    "eie_csc_64pe": partial(mask_storage_bits, n_pe=64),
}
"""Format name -> ``(mask, value_bits) -> bits``. Extend with :func:`register_storage_format`."""


def register_storage_format(name: str, function: StorageFunction) -> None:
    """Add a format to :data:`STORAGE_FORMATS` (e.g. ``"eie_csc"`` from the EIE engine's module).

    Raises
    ------
    InputError
        If the name is empty or already registered, or ``function`` is not callable.
    """
    if not name or name in STORAGE_FORMATS:
        raise InputError(f"storage format name must be new and non-empty (got {name!r})")
    if not callable(function):
        raise InputError(f"storage format {name!r} needs a callable (mask, value_bits) -> bits (got {function!r})")
    STORAGE_FORMATS[name] = function


def storage_table(
    mask: np.ndarray,
    value_bits: int = 16,
    formats: tuple[str, ...] | None = None,
    extra: Mapping[str, StorageFunction] | None = None,
) -> pd.DataFrame:
    """Storage of one mask in several formats, as a table.

    Parameters
    ----------
    mask
        Mask or weight array (non-zero = stored), at least 2-D.
    value_bits
        Bits per stored value.
    formats
        Registered names to evaluate (default: all of :data:`STORAGE_FORMATS`).
    extra
        Further ``name -> function`` pairs evaluated after the registered ones.

    Returns
    -------
    pandas.DataFrame
        Columns ``format``, ``bits``, ``bytes`` (bits / 8), ``bits_per_nonzero``,
        ``ratio_to_dense`` and ``note``; a format that does not apply (e.g. 2:4
        on a non-compliant mask) has NaN sizes and the reason in ``note``.
    """
    value_bits = _check_value_bits(value_bits)
    names = tuple(STORAGE_FORMATS) if formats is None else tuple(formats)
    unknown = [name for name in names if name not in STORAGE_FORMATS]
    if unknown:
        raise InputError(f"storage formats must be among {sorted(STORAGE_FORMATS)} (got {unknown})")
    functions = {name: STORAGE_FORMATS[name] for name in names}
    functions.update(dict(extra or {}))
    matrix = as_mask_matrix(mask)
    nnz = int(matrix.sum())
    dense = dense_bits(matrix, value_bits)
    rows = []
    for name, function in functions.items():
        try:
            bits = int(function(matrix, value_bits))
            note = ""
        except UnsupportedError as exc:
            bits, note = None, str(exc)
        rows.append(
            {
                "format": name,
                "bits": np.nan if bits is None else bits,
                "bytes": np.nan if bits is None else bits / 8,
                "bits_per_nonzero": np.nan if bits is None or nnz == 0 else bits / nnz,
                "ratio_to_dense": np.nan if bits is None else bits / dense,
                "note": note,
            }
        )
    return pd.DataFrame(rows)
