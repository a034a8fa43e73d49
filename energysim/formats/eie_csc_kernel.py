"""EIE's interleaved CSC encoding and segment counts, compiled with numba when it is installed.

numba is optional (the ``fast`` extra). With it, :func:`encode_sorted` encodes
column-major positions in two passes over the weights (entries per PE and column,
then the entries themselves: :func:`sorted_pointers`, :func:`fill_sorted`),
:func:`fill_dense` a dense matrix in one, column tile by column tile (its entries per
PE and column known in closed form, its codes read one group of columns at a time),
and :func:`segment_counts` counts a CSC's row-pass
segments in one pass over its entries, instead of numpy's sorts, repeats and
bincounts. The arrays are those of the numpy path exactly (same values and
dtypes; checked by ``tests/formats/test_eie_csc_kernel.py``). Without numba, or with
``ENERGYSIM_EIE_KERNEL=numpy``, :mod:`energysim.formats.eie_csc` uses numpy; any other value
of that variable is refused (:func:`kernel_choice`).
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from typing import Callable

import numpy as np

from energysim.errors import InputError
from energysim.limits import EIE_KERNEL_ENV, eie_kernel_asked

KERNEL_ENV = EIE_KERNEL_ENV
"""Environment variable choosing the EIE paths (:data:`energysim.limits.EIE_KERNEL_ENV`)."""


@lru_cache(maxsize=1)
def compiled_available() -> bool:
    """Whether the compiled paths can run (numba installed; it is imported only when a kernel first runs)."""
    return importlib.util.find_spec("numba") is not None


def kernel_choice() -> str:
    """``"numba"`` or ``"numpy"``: the paths :data:`KERNEL_ENV` asks for (unset or empty: numba when installed).

    Raises
    ------
    InputError
        If :data:`KERNEL_ENV` holds anything but ``numba`` or ``numpy`` (any case), or asks for
        ``numba`` where numba is not installed.
    """
    asked = eie_kernel_asked()
    if asked == "numba" and not compiled_available():
        raise InputError(f"environment variable {KERNEL_ENV}=numba asks for the compiled EIE paths, but numba is not "
                         f"installed (pip install 'energysim[fast]', or unset {KERNEL_ENV})")
    return asked or ("numba" if compiled_available() else "numpy")


def use_compiled() -> bool:
    """Whether the compiled paths are used (:func:`kernel_choice` is ``"numba"``)."""
    return kernel_choice() == "numba"


_compiled: dict[Callable, Callable] = {}


def jit(function: Callable) -> Callable:
    """``function`` compiled by numba (``njit``, cached on disk), compiled and numba imported on first use."""
    compiled = _compiled.get(function)
    if compiled is None:
        import numba
        compiled = _compiled[function] = numba.njit(cache=True, nogil=True)(function)
    return compiled


def _position_segments(positions, m, n_pe, k, shift, index_bits, rows_per_pass, passes, counts):  # pragma: no cover - compiled
    """Entries per (row pass, PE, column) into ``counts`` from ascending flat column-major positions.

    The encoding's walk (:func:`_fill`) without writing it: per weight, its PE and local row, the
    padding entries its gap costs (each in the pass of the zero it stands in for) and the weight
    itself, each counted into its (pass, PE, column). With one pass of at least a slice's rows,
    ``counts[0]`` is every (PE, column)'s entries (the pointers). Plain Python, compiled by numba.
    Returns the real entries ``(P, K)`` and the number of non-empty segments.
    """
    span = 1 << index_bits
    column_real = np.zeros((passes, k), np.int64)
    previous = np.full(n_pe, -1, np.int64)
    segments = 0
    column = -1
    column_start = -m
    for i in range(positions.size):
        position = positions[i]
        if position >= column_start + m:
            while position >= column_start + m:
                column += 1
                column_start += m
            previous[:] = -1
        row = position - column_start
        if shift >= 0:
            pe = row & (n_pe - 1)
            local = row >> shift
        else:
            pe = row % n_pe
            local = row // n_pe
        before = previous[pe]
        for rank in range((local - before - 1) >> index_bits):
            rpass = min((before + span * (rank + 1)) // rows_per_pass, passes - 1)
            if counts[rpass, pe, column] == 0:
                segments += 1
            counts[rpass, pe, column] += 1
        rpass = min(local // rows_per_pass, passes - 1)
        if counts[rpass, pe, column] == 0:
            segments += 1
        counts[rpass, pe, column] += 1
        column_real[rpass, column] += 1
        previous[pe] = local
    return column_real, segments


def _fill(positions, count, m, codes, cursor_base, v, z, local_rows, n_pe, shift, index_bits):  # pragma: no cover - compiled
    """Write every entry (padding first) at its PE's cursor in its column; plain Python, compiled by numba."""
    span = 1 << index_bits
    previous = np.full(n_pe, -1, np.int64)
    cursor = np.zeros(n_pe, np.int64)
    column = -1
    column_start = -m
    for i in range(count):
        position = positions[i]
        if position >= column_start + m:
            while position >= column_start + m:
                column += 1
                column_start += m
            previous[:] = -1
            for pe in range(n_pe):
                cursor[pe] = cursor_base[pe, column]
        row = position - column_start
        if shift >= 0:
            pe = row & (n_pe - 1)
            local = row >> shift
        else:
            pe = row % n_pe
            local = row // n_pe
        before = previous[pe]
        gap = local - before - 1
        at = cursor[pe]
        for rank in range(gap >> index_bits):
            v[at] = 0
            z[at] = span - 1
            local_rows[at] = before + span * (rank + 1)
            at += 1
        v[at] = codes[i]
        z[at] = gap & (span - 1)
        local_rows[at] = local
        cursor[pe] = at + 1
        previous[pe] = local


def _fill_dense(codes, m, column_lo, column_hi, n_pe, pe_offsets, v, local_rows):  # pragma: no cover - compiled
    """Every position of columns ``column_lo .. column_hi - 1`` present (``codes`` holds theirs, column-major): PE
    ``p``'s rows of each column in order, no padding; plain Python, compiled by numba.

    Columns in tiles of about 128 KB of codes (read from cache), each PE's run of a tile written in one go.
    """
    tile = max(1, (1 << 17) // m)
    for first in range(column_lo, column_hi, tile):
        last = min(column_hi, first + tile)
        for pe in range(min(n_pe, m)):
            rows = (m - pe + n_pe - 1) // n_pe
            at = pe_offsets[pe] + first * rows
            for column in range(first, last):
                source = (column - column_lo) * m + pe
                for local in range(rows):
                    v[at] = codes[source + local * n_pe]
                    local_rows[at] = local
                    at += 1


def _segments(v, local_rows, pointers, pe_offsets, rows_per_pass, passes):  # pragma: no cover - compiled
    """Entries and real entries per (pass, column, PE); plain Python, compiled by numba."""
    n_pe, k1 = pointers.shape
    k = k1 - 1
    entries = np.zeros((passes, n_pe, k), np.int64)     # PE by PE: reads and writes both sequential
    real = np.zeros((passes, n_pe, k), np.int64)
    for pe in range(n_pe):
        base = pe_offsets[pe]
        for column in range(k):
            rpass = 0                   # local rows ascend within a segment: walk the pass boundaries
            limit = rows_per_pass
            for at in range(base + pointers[pe, column], base + pointers[pe, column + 1]):
                while local_rows[at] >= limit and rpass < passes - 1:
                    rpass += 1
                    limit += rows_per_pass
                entries[rpass, pe, column] += 1
                if v[at] != 0:
                    real[rpass, pe, column] += 1
    return entries, real


def pointer_layout(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pointers and PE offsets of ``counts[pe, column]`` entries (padding included).

    Returns
    -------
    pointers, pe_offsets
        ``(N, K + 1)`` int64 cumulative entries per PE and ``(N + 1,)`` int64 first entry of each PE.
    """
    n_pe, k = counts.shape
    pointers = np.zeros((n_pe, k + 1), dtype=np.int64)
    np.cumsum(counts, axis=1, out=pointers[:, 1:])
    pe_offsets = np.zeros(n_pe + 1, dtype=np.int64)
    np.cumsum(pointers[:, -1], out=pe_offsets[1:])
    return pointers, pe_offsets


def slice_rows(m: int, n_pe: int) -> np.ndarray:
    """``(N,)`` int64 rows of each PE's slice of ``M`` rows (row ``i`` to PE ``i mod N``)."""
    return (m - np.arange(n_pe, dtype=np.int64) + n_pe - 1) // n_pe


def dense_pointers(m: int, k: int, n_pe: int) -> tuple[np.ndarray, np.ndarray]:
    """Pointers and PE offsets of a matrix with every position non-zero: no padding, rows split evenly."""
    return pointer_layout(np.repeat(slice_rows(m, n_pe)[:, None], k, axis=1))


def sorted_pointers(positions: np.ndarray, m: int, k: int, n_pe: int, index_bits: int) -> tuple[np.ndarray, np.ndarray]:
    """Pointers and PE offsets of strictly increasing flat column-major positions, in one compiled pass."""
    counts = np.zeros((1, n_pe, k), np.int64)
    position_segments(positions, m, n_pe, k, index_bits, max(1, -(-m // n_pe)), 1, counts)
    return pointer_layout(counts[0])


def position_segments(positions: np.ndarray, m: int, n_pe: int, k: int, index_bits: int, rows_per_pass: int,
                      passes: int, counts: np.ndarray) -> tuple[np.ndarray, int]:
    """Count the entries of flat column-major positions per (row pass, PE, column) into ``counts``, compiled.

    Parameters
    ----------
    positions
        Strictly increasing flat positions ``column x M + row`` (int64).
    m, n_pe, k, index_bits
        Matrix rows, PEs, columns and ``z`` width.
    rows_per_pass, passes
        Local rows per row pass and passes ``P``.
    counts
        ``(P, N, K)`` zeros, int32 or int64, filled in place.

    Returns
    -------
    column_real, segments
        ``(P, K)`` int64 real entries per (pass, column) and the number of non-zero ``counts``.
    """
    shift = n_pe.bit_length() - 1 if n_pe & (n_pe - 1) == 0 else -1
    column_real, segments = jit(_position_segments)(np.ascontiguousarray(positions, dtype=np.int64), int(m), int(n_pe),
                                                    int(k), int(shift), int(index_bits), int(rows_per_pass),
                                                    int(passes), counts)
    return column_real, int(segments)


DENSE_CODE_BLOCK = 1 << 22
"""Codes of whole columns read at once by :func:`fill_dense` (at least one column)."""


def fill_dense(read_codes: Callable[[int, int], np.ndarray], m: int, k: int, n_pe: int, pe_offsets: np.ndarray,
               local_dtype: type) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The entries of a matrix with every position non-zero, its codes read column group by column group.

    No gap, so no padding and ``z = 0`` (left to ``calloc``: its pages are not allocated until
    written or read); each group of whole columns (:data:`DENSE_CODE_BLOCK` codes) is written in place.

    Parameters
    ----------
    read_codes
        ``read_codes(lo, hi)``: the codes of flat column-major positions ``lo .. hi - 1``
        (uint8), called once per column group, in order.
    m, k, n_pe, pe_offsets
        Matrix shape, PEs and each PE's first entry (:func:`dense_pointers`).
    local_dtype
        dtype of the local rows.

    Returns
    -------
    v, z, local_rows
        As the attributes of :class:`energysim.formats.eie_csc.EieCsc`.
    """
    total = int(pe_offsets[-1])
    v, z, local_rows = np.empty(total, np.uint8), np.zeros(total, np.uint8), np.empty(total, local_dtype)
    group = max(1, DENSE_CODE_BLOCK // max(1, m))
    for lo in range(0, k, group):
        hi = min(k, lo + group)
        codes = np.ascontiguousarray(read_codes(lo * m, hi * m), dtype=np.uint8)
        jit(_fill_dense)(codes, m, lo, hi, n_pe, pe_offsets, v, local_rows)
    return v, z, local_rows


def fill_sorted(positions: np.ndarray, codes: np.ndarray, m: int, n_pe: int, index_bits: int, pointers: np.ndarray,
                pe_offsets: np.ndarray, local_dtype: type) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The entries of strictly increasing flat column-major positions (:func:`sorted_pointers` gave the layout).

    Returns
    -------
    v, z, local_rows
        As the attributes of :class:`energysim.formats.eie_csc.EieCsc`.
    """
    shift = n_pe.bit_length() - 1 if n_pe & (n_pe - 1) == 0 else -1
    flat = np.ascontiguousarray(positions, dtype=np.int64)
    total = int(pe_offsets[-1])
    v, z, local_rows = np.empty(total, np.uint8), np.empty(total, np.uint8), np.empty(total, local_dtype)
    jit(_fill)(flat, flat.size, m, np.ascontiguousarray(codes, dtype=np.uint8), pointers + pe_offsets[:-1, None],
               v, z, local_rows, n_pe, shift, index_bits)
    return v, z, local_rows


def encode_sorted(positions: np.ndarray, codes: np.ndarray, m: int, k: int, n_pe: int,
                  index_bits: int, local_dtype: type) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Interleaved CSC arrays of validated positions in column-major order (flat index strictly increasing).

    Parameters
    ----------
    positions
        Flat column-major index ``column x M + row`` of every non-zero weight (int64), strictly increasing.
    codes
        Codebook index of each.
    m, k, n_pe, index_bits
        Matrix shape, PEs and ``z`` width.
    local_dtype
        dtype of the local rows (the numpy path's: int32 when ``max(M, K) x N < 2**30``).

    Returns
    -------
    v, z, local_rows, pointers, pe_offsets
        As the attributes of :class:`energysim.formats.eie_csc.EieCsc`.
    """
    pointers, pe_offsets = sorted_pointers(positions, m, k, n_pe, index_bits)
    return (*fill_sorted(positions, codes, m, n_pe, index_bits, pointers, pe_offsets, local_dtype), pointers, pe_offsets)


def segment_counts(v: np.ndarray, local_rows: np.ndarray, pointers: np.ndarray, pe_offsets: np.ndarray,
                   rows_per_pass: int, passes: int) -> tuple[np.ndarray, np.ndarray]:
    """``(P, K, N)`` int64 entries and real entries per (row pass, column, PE) of a CSC's arrays."""
    entries, real = segment_counts_by_pe(v, local_rows, pointers, pe_offsets, rows_per_pass, passes)
    return np.ascontiguousarray(entries.transpose(0, 2, 1)), np.ascontiguousarray(real.transpose(0, 2, 1))


def segment_counts_by_pe(v: np.ndarray, local_rows: np.ndarray, pointers: np.ndarray, pe_offsets: np.ndarray,
                         rows_per_pass: int, passes: int) -> tuple[np.ndarray, np.ndarray]:
    """``(P, N, K)`` int64 entries and real entries per (row pass, PE, column): :func:`segment_counts` PE-major."""
    return jit(_segments)(v, local_rows, pointers, pe_offsets, int(rows_per_pass), int(passes))
