"""EIE's interleaved compressed sparse column (CSC) format.

Row ``i`` of an ``M x K`` weight matrix belongs to processing element
``i mod N``; PE ``p`` holds the rows ``p, p + N, p + 2N, ...`` as its *slice*,
and row ``i`` is local row ``i // N`` of that slice. Per PE and per column
``j`` the non-zero weights are stored in row order as entries ``(v, z)``:

- ``v``: the ``value_bits``-wide codebook index of the weight (0 = padding);
- ``z``: the number of zeros of the slice before the entry (``index_bits`` wide).

When more zeros precede a non-zero than ``z`` can count (``> 2**index_bits - 1``),
a padding entry ``v = 0, z = 2**index_bits - 1`` stands in for the
``2**index_bits``-th zero; a gap of ``g`` zeros costs ``g // 2**index_bits``
padding entries and leaves ``z = g % 2**index_bits`` on the real entry. Trailing
zeros of a column cost nothing. Per PE, pointer ``p_j`` is the address of
column ``j``'s first entry, with one extra final pointer, so ``p_{j+1} - p_j``
counts column ``j``'s entries, padding included.

The paper's example (one PE, 4-bit ``z``): column ``[0, 0, 1, 2, 0 x 18, 3]`` is
``v = [1, 2, 0, 3]``, ``z = [2, 0, 15, 2]``.

References
----------
.. [1] S. Han, X. Liu, H. Mao, J. Pu, A. Pedram, M. A. Horowitz, W. J. Dally,
   "EIE: Efficient Inference Engine on Compressed Deep Neural Network",
   ISCA 2016, Sec. III-B and Fig. 3.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Callable

import numpy as np

from energysim.errors import InputError
from energysim.formats import eie_csc_kernel
from energysim.formats.mask_stats import as_mask_matrix
from energysim.units import ceil_div

DEFAULT_INDEX_BITS = 4
"""Width of the relative row index ``z`` (EIE: 4 bits)."""
DEFAULT_VALUE_BITS = 4
"""Width of the codebook index ``v`` (EIE: 4 bits)."""
DEFAULT_POINTER_BITS = 16
"""Width of one column pointer (EIE: 16 bits)."""


@dataclass(frozen=True)
class FlatWeights:
    """The non-zero weights a CSC was encoded from, as ascending flat column-major positions.

    Attributes
    ----------
    positions
        Flat index ``column x M + row`` of every non-zero weight (int64, strictly
        increasing); None when every position holds one (a dense matrix).
    """

    positions: np.ndarray | None


@dataclass(frozen=True)
class EieCsc:
    """A weight matrix in EIE's interleaved CSC format.

    The entry arrays :attr:`v`, :attr:`z` and :attr:`local_rows` are given, or written
    the first time one is read (``entries`` a function returning them): a CSC encoded
    from flat positions on the compiled path keeps :attr:`flat`, from which the engine
    counts everything it needs, so a simulation never writes its entries; decoding does.

    Attributes
    ----------
    shape
        ``(M, K)``: output rows and input columns of the dense matrix.
    n_pe
        Number of processing elements ``N`` the rows are interleaved over.
    pointers
        ``(N, K + 1)`` per-PE column pointers in entries, relative to the PE's
        first entry (``pointers[:, 0] == 0``).
    pe_offsets
        ``(N + 1,)`` address of each PE's first entry in :attr:`v` / :attr:`z`.
    entries
        ``(v, z, local_rows)``, or a function that writes and returns them.
    index_bits, value_bits, pointer_bits
        Widths of ``z``, ``v`` and one pointer, bits.
    flat
        The weights' flat positions (:class:`FlatWeights`) when encoded from them, else None.
    """

    shape: tuple[int, int]
    n_pe: int
    pointers: np.ndarray
    pe_offsets: np.ndarray
    entries: "tuple[np.ndarray, np.ndarray, np.ndarray] | Callable[[], tuple[np.ndarray, np.ndarray, np.ndarray]]"
    index_bits: int = DEFAULT_INDEX_BITS
    value_bits: int = DEFAULT_VALUE_BITS
    pointer_bits: int = DEFAULT_POINTER_BITS
    flat: FlatWeights | None = None

    @cached_property
    def _entry_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(v, z, local_rows)``, written on first use when :attr:`entries` is a function."""
        return self.entries() if callable(self.entries) else self.entries

    @property
    def v(self) -> np.ndarray:
        """Codebook indices of every entry (``uint8``), PE by PE, column by column."""
        return self._entry_arrays[0]

    @property
    def z(self) -> np.ndarray:
        """Zeros before each entry within its PE slice and column (``uint8``)."""
        return self._entry_arrays[1]

    @property
    def local_rows(self) -> np.ndarray:
        """Local row (within the PE slice) of each entry; for a padding entry, the zero it replaces.

        ``uint8`` when a slice has at most 256 rows, ``uint16`` at most 65,536, else int32 or
        int64; the row passes use it, :meth:`decode` does not.
        """
        return self._entry_arrays[2]

    @property
    def n_entries(self) -> int:
        """Stored entries, padding included."""
        return int(self.pe_offsets[-1])

    @cached_property
    def n_padding(self) -> int:
        """Padding entries (``v == 0``; counted once, the arrays are not modified after encoding).

        From :attr:`flat`, the entries less the weights; else counted in blocks of
        :data:`_CHECK_BLOCK` entries (no mask as long as ``v``).
        """
        if self.flat is not None:
            weights = self.shape[0] * self.shape[1] if self.flat.positions is None else self.flat.positions.size
            return self.n_entries - weights
        return sum(int(np.count_nonzero(self.v[lo:lo + _CHECK_BLOCK] == 0)) for lo in range(0, self.v.size, _CHECK_BLOCK))

    @property
    def n_nonzero(self) -> int:
        """Real (non-padding) entries."""
        return self.n_entries - self.n_padding

    @property
    def padding_share(self) -> float:
        """Padding entries / all entries (0 when there is no entry)."""
        return self.n_padding / self.n_entries if self.n_entries else 0.0

    @property
    def column_entries(self) -> np.ndarray:
        """``(N, K)`` entries per PE and column, padding included (``p_{j+1} - p_j``)."""
        return np.diff(self.pointers, axis=1)

    @property
    def rows_per_pe(self) -> int:
        """Local rows of the largest PE slice, ``ceil(M / N)``."""
        return ceil_div(self.shape[0], self.n_pe)

    @property
    def max_pointer(self) -> int:
        """Largest per-PE pointer value (entries of the fullest PE)."""
        return int(self.pointers[:, -1].max()) if self.pointers.size else 0

    @property
    def pointer_overflow(self) -> bool:
        """Whether some PE's pointer exceeds what ``pointer_bits`` can address."""
        return self.max_pointer > 2**self.pointer_bits - 1

    def pe_entries(self, pe: int) -> tuple[np.ndarray, np.ndarray]:
        """``(v, z)`` of one PE's entries, column by column."""
        lo, hi = int(self.pe_offsets[pe]), int(self.pe_offsets[pe + 1])
        return self.v[lo:hi], self.z[lo:hi]

    def column(self, pe: int, column: int) -> tuple[np.ndarray, np.ndarray]:
        """``(v, z)`` of one PE's entries in one column."""
        base = int(self.pe_offsets[pe])
        lo, hi = base + int(self.pointers[pe, column]), base + int(self.pointers[pe, column + 1])
        return self.v[lo:hi], self.z[lo:hi]

    def storage_bits(self) -> dict[str, int]:
        """Storage by part, bits: values (``v``), indices (``z``), pointers and total.

        Pointers: ``K + 1`` per PE of ``pointer_bits`` each.
        """
        values = self.n_entries * self.value_bits
        indices = self.n_entries * self.index_bits
        pointers = self.n_pe * (self.shape[1] + 1) * self.pointer_bits
        return {"values": values, "indices": indices, "pointers": pointers, "total": values + indices + pointers}

    def decode(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Walk ``v``, ``z`` and the pointers back to the non-zero weights.

        Returns
        -------
        rows, columns, codes
            Global row, column and codebook index of every real (``v != 0``) entry.
        """
        n_pe, k = self.n_pe, self.shape[1]
        counts = self.column_entries.ravel()
        steps = np.cumsum(self.z.astype(np.int64) + 1)
        starts = (self.pe_offsets[:-1, None] + self.pointers[:, :-1]).ravel()
        before = np.where(starts > 0, steps[np.maximum(starts - 1, 0)], 0) if steps.size else starts
        group = np.repeat(np.arange(n_pe * k, dtype=np.int64), counts)
        local = steps - before[group] - 1
        pe = group // k
        cols = group % k
        keep = self.v != 0
        return (local * n_pe + pe)[keep], cols[keep], self.v[keep]

    def to_dense_codes(self) -> np.ndarray:
        """The ``(M, K)`` matrix of codes the format stores (0 where no weight)."""
        rows, cols, codes = self.decode()
        dense = np.zeros(self.shape, dtype=np.uint8)
        dense[rows, cols] = codes
        return dense

    def segment_counts(self, rows_per_pass: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Entries per (row pass, column, PE) when each PE's slice is processed in row passes.

        Parameters
        ----------
        rows_per_pass
            Local rows of a PE slice handled per pass (the destination register
            file's entries); pass ``r`` covers local rows ``[r * rows_per_pass,
            (r + 1) * rows_per_pass)``. A padding entry belongs to the pass of
            the zero it stands in for.

        Returns
        -------
        entries, real, starts
            ``(P, K, N)`` entries (padding included) and real entries per pass,
            column and PE; and ``(P, K, N)`` the address (relative to the PE's
            first entry) of each segment's first entry. ``P = ceil(rows_per_pe /
            rows_per_pass)``.
        """
        if rows_per_pass < 1:
            raise InputError(f"EIE CSC segment_counts: rows_per_pass must be >= 1 (got {rows_per_pass})")
        n_pe, k = self.n_pe, self.shape[1]
        passes = max(1, ceil_div(self.rows_per_pe, rows_per_pass))
        if eie_csc_kernel.use_compiled():
            entries, real = eie_csc_kernel.segment_counts(self.v, self.local_rows, self.pointers, self.pe_offsets,
                                                          rows_per_pass, passes)
            before = np.cumsum(entries, axis=0) - entries
            return entries, real, self.pointers[:, :-1].T[None, :, :] + before
        size = passes * k * n_pe
        entries = np.zeros(size, dtype=np.int64)
        real = np.zeros(size, dtype=np.int64)
        column_entries = self.column_entries
        first_pe = 0
        while first_pe < n_pe:                 # PEs in groups of about SEGMENT_BLOCK_ENTRIES entries: bounded keys
            last_pe = max(first_pe + 1, int(np.searchsorted(self.pe_offsets, self.pe_offsets[first_pe]
                                                            + SEGMENT_BLOCK_ENTRIES, side="right")) - 1)
            last_pe = min(last_pe, n_pe)
            lo, hi = int(self.pe_offsets[first_pe]), int(self.pe_offsets[last_pe])
            pe = np.repeat(np.arange(first_pe, last_pe, dtype=np.int64), np.diff(self.pe_offsets[first_pe:last_pe + 1]))
            col = np.repeat(np.tile(np.arange(k, dtype=np.int64), last_pe - first_pe),
                            column_entries[first_pe:last_pe].ravel())
            rpass = np.minimum(self.local_rows[lo:hi].astype(np.int64) // rows_per_pass, passes - 1)
            key = (rpass * k + col) * n_pe + pe
            entries += np.bincount(key, minlength=size)
            real += np.bincount(key[self.v[lo:hi] != 0], minlength=size)
            first_pe = last_pe
        entries = entries.reshape(passes, k, n_pe)
        real = real.reshape(passes, k, n_pe)
        # Within a column the passes are contiguous, in pass order.
        before = np.cumsum(entries, axis=0) - entries
        starts = self.pointers[:, :-1].T[None, :, :] + before
        return entries.astype(np.int64), real.astype(np.int64), starts.astype(np.int64)


def encode_positions(
    rows: np.ndarray,
    columns: np.ndarray,
    codes: np.ndarray,
    shape: tuple[int, int],
    n_pe: int,
    index_bits: int = DEFAULT_INDEX_BITS,
    value_bits: int = DEFAULT_VALUE_BITS,
    pointer_bits: int = DEFAULT_POINTER_BITS,
) -> EieCsc:
    """Encode non-zero weights given by position into interleaved CSC.

    Parameters
    ----------
    rows, columns
        Global row and column of each non-zero weight (each position once).
    codes
        Codebook index of each, in ``1 .. 2**value_bits - 1``.
    shape
        ``(M, K)`` of the dense matrix.
    n_pe
        Processing elements ``N`` (>= 1).
    index_bits, value_bits, pointer_bits
        Widths of ``z``, ``v`` and a pointer, bits.

    Raises
    ------
    InputError
        On a bad width, PE count, shape, out-of-range position or code.
    """
    m, k = int(shape[0]), int(shape[1])
    if m < 1 or k < 1:
        raise InputError(f"EIE CSC shape must be positive (got {shape})")
    if not isinstance(n_pe, (int, np.integer)) or isinstance(n_pe, bool) or n_pe < 1:
        raise InputError(f"EIE CSC n_pe must be an integer >= 1 (got {n_pe!r})")
    for name, bits in (("index_bits", index_bits), ("value_bits", value_bits), ("pointer_bits", pointer_bits)):
        if not isinstance(bits, (int, np.integer)) or not 1 <= bits <= (8 if name != "pointer_bits" else 64):
            raise InputError(f"EIE CSC {name} must be in 1..{8 if name != 'pointer_bits' else 64} (got {bits})")
    rows, columns = _index_array(rows), _index_array(columns)
    codes = np.asarray(codes).ravel()
    if not rows.size == columns.size == codes.size:
        raise InputError(f"EIE CSC rows, columns and codes must have one length (got {rows.size}, {columns.size}, {codes.size})")
    if rows.size:
        if rows.min() < 0 or rows.max() >= m or columns.min() < 0 or columns.max() >= k:
            raise InputError(
                f"EIE CSC positions must lie inside the {m}x{k} matrix (got rows {rows.min()}..{rows.max()}, "
                f"columns {columns.min()}..{columns.max()})"
            )
        if codes.min() < 1 or codes.max() > 2**value_bits - 1:
            raise InputError(f"EIE CSC codes must lie in 1..{2**value_bits - 1} (got {codes.min()}..{codes.max()})")
    itype = np.int32 if max(m, k) * max(n_pe, 1) < 2**30 else np.int64
    column_major = _column_major(rows, columns, m)
    if column_major and eie_csc_kernel.use_compiled():
        v, z, local_rows, pointers, pe_offsets = eie_csc_kernel.encode_sorted(columns.astype(np.int64) * m + rows,
                                                                             codes, m, k, n_pe, index_bits,
                                                                             _local_dtype(m, n_pe, itype))
        return EieCsc(
            shape=(m, k), n_pe=n_pe, entries=(v, z, local_rows), pointers=pointers, pe_offsets=pe_offsets,
            index_bits=index_bits, value_bits=value_bits, pointer_bits=pointer_bits,
        )
    if column_major and rows.size > ENCODE_GROUP_WEIGHTS:
        v, z, local_rows, pointers, pe_offsets = _encode_in_column_groups(rows, columns, codes, m, k, n_pe,
                                                                          index_bits, itype)
    else:
        v, z, local_rows, pointers, pe_offsets = _encode_numpy(rows, columns, codes, m, k, n_pe, index_bits, itype,
                                                               column_major)
    local_rows = local_rows.astype(_local_dtype(m, n_pe, itype), copy=False)
    return EieCsc(
        shape=(m, k), n_pe=n_pe, entries=(v, z, local_rows), pointers=pointers, pe_offsets=pe_offsets,
        index_bits=index_bits, value_bits=value_bits, pointer_bits=pointer_bits,
    )


def encode_flat(
    positions: np.ndarray | None,
    codes: np.ndarray,
    shape: tuple[int, int],
    n_pe: int,
    index_bits: int = DEFAULT_INDEX_BITS,
    value_bits: int = DEFAULT_VALUE_BITS,
    pointer_bits: int = DEFAULT_POINTER_BITS,
) -> EieCsc:
    """Encode non-zero weights given by ascending flat column-major positions (``column x M + row``).

    Parameters
    ----------
    positions
        Strictly increasing flat positions (int64), or None for every position (a dense
        matrix: no position array is made on the compiled path).
    codes
        Codebook index of each position, in ``1 .. 2**value_bits - 1``: an array, or an object
        with ``size`` and ``block(lo, hi)`` giving codes ``lo .. hi - 1`` (e.g. synthetic codes
        drawn when read), which a dense matrix on the compiled path reads one group of columns
        at a time, checked as it is read, and anything else reads whole.
    shape, n_pe, index_bits, value_bits, pointer_bits
        As in :func:`encode_positions`.

    Returns
    -------
    EieCsc
        On the compiled path, the pointers only: the entries are written when first read
        (:attr:`EieCsc.v` etc.), and the CSC keeps ``positions`` (not a copy: do not modify
        them) as :attr:`EieCsc.flat`, from which the engine counts what it simulates.

    Raises
    ------
    InputError
        As :func:`encode_positions`, and if the positions do not strictly increase or fall
        outside the matrix, or the codes do not match them in number.
    """
    m, k = int(shape[0]), int(shape[1])
    count = m * k if positions is None else int(np.size(positions))
    size = codes.size if hasattr(codes, "block") else int(np.size(codes))
    if size != count:
        raise InputError(f"EIE CSC: one code per position (got {size} codes for {count} positions)")
    if positions is not None and positions.size and (positions[0] < 0 or positions[-1] >= m * k
                                                     or not _strictly_increasing(positions)):
        raise InputError(f"EIE CSC flat positions must strictly increase inside the {m}x{k} matrix")
    compiled = eie_csc_kernel.use_compiled() and m >= 1 and k >= 1 and (1 <= index_bits <= 8 and 1 <= value_bits <= 8
                                                                        and 1 <= pointer_bits <= 64)
    if not hasattr(codes, "block") or not (compiled and positions is None):
        codes = np.asarray(codes).ravel()
        _check_codes(codes, value_bits)
    if not compiled:
        if positions is None:
            columns, rows = np.divmod(np.arange(m * k, dtype=np.int64), m)
        else:
            columns, rows = np.divmod(positions, m)
        return encode_positions(rows, columns, codes, shape, n_pe, index_bits, value_bits, pointer_bits)
    if not isinstance(n_pe, (int, np.integer)) or isinstance(n_pe, bool) or n_pe < 1:
        raise InputError(f"EIE CSC n_pe must be an integer >= 1 (got {n_pe!r})")
    itype = np.int32 if max(m, k) * max(n_pe, 1) < 2**30 else np.int64
    local_dtype = _local_dtype(m, n_pe, itype)
    if positions is None:
        pointers, pe_offsets = eie_csc_kernel.dense_pointers(m, k, n_pe)
    else:
        pointers, pe_offsets = eie_csc_kernel.sorted_pointers(positions, m, k, n_pe, index_bits)
    writer = _EntryWriter(positions=positions, codes=codes, m=m, k=k, n_pe=n_pe, index_bits=index_bits,
                          value_bits=value_bits, pointers=pointers, pe_offsets=pe_offsets, local_dtype=local_dtype)
    return EieCsc(
        shape=(m, k), n_pe=n_pe, entries=writer, pointers=pointers, pe_offsets=pe_offsets,
        index_bits=index_bits, value_bits=value_bits, pointer_bits=pointer_bits, flat=FlatWeights(positions),
    )


@dataclass(frozen=True, eq=False)
class _EntryWriter:
    """Writes the entries of a CSC encoded from flat positions, when first read (a module-level class: picklable).

    Attributes are those :func:`encode_flat` validated: the positions (None: every position), their
    codes (an array, or a source with ``block(lo, hi)``, checked as read), the shape, PEs and widths,
    the pointers and PE offsets, and the local rows' dtype.
    """

    positions: np.ndarray | None
    codes: object
    m: int
    k: int
    n_pe: int
    index_bits: int
    value_bits: int
    pointers: np.ndarray
    pe_offsets: np.ndarray
    local_dtype: type

    def _read_codes(self, lo: int, hi: int) -> np.ndarray:
        """Codes ``lo .. hi - 1`` (uint8), checked."""
        block = self.codes.block(lo, hi) if hasattr(self.codes, "block") else np.asarray(self.codes).ravel()[lo:hi]
        _check_codes(block, self.value_bits)
        return block

    def __call__(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(v, z, local_rows)``."""
        if self.positions is None:
            return eie_csc_kernel.fill_dense(self._read_codes, self.m, self.k, self.n_pe, self.pe_offsets, self.local_dtype)
        return eie_csc_kernel.fill_sorted(self.positions, self.codes, self.m, self.n_pe, self.index_bits, self.pointers,
                                          self.pe_offsets, self.local_dtype)


def _check_codes(codes: np.ndarray, value_bits: int) -> None:
    """Raise :class:`InputError` unless every code lies in ``1 .. 2**value_bits - 1``."""
    if codes.size and (codes.min() < 1 or codes.max() > 2**value_bits - 1):
        raise InputError(f"EIE CSC codes must lie in 1..{2**value_bits - 1} (got {codes.min()}..{codes.max()})")


def _local_dtype(m: int, n_pe: int, itype: type) -> type:
    """dtype of the stored local rows: uint8 / uint16 when a PE slice has at most 256 / 65,536 rows, else ``itype``."""
    rows = ceil_div(m, n_pe)
    return np.uint8 if rows <= 2**8 else np.uint16 if rows <= 2**16 else itype


def _strictly_increasing(positions: np.ndarray) -> bool:
    """Whether ``positions`` strictly increase (checked block by block)."""
    for lo in range(0, positions.size, _CHECK_BLOCK):
        block = positions[max(0, lo - 1):lo + _CHECK_BLOCK]
        if not bool(np.all(block[1:] > block[:-1])):
            return False
    return True


def _encode_numpy(rows: np.ndarray, columns: np.ndarray, codes: np.ndarray, m: int, k: int, n_pe: int,
                  index_bits: int, itype: type, column_major: bool) -> tuple[np.ndarray, ...]:
    """The numpy encoding of validated positions: sort by (PE, column, local row), then gaps and padding.

    Returns ``v, z, local_rows, pointers, pe_offsets`` as the attributes of :class:`EieCsc`.
    """
    if n_pe & (n_pe - 1) == 0:
        shift = n_pe.bit_length() - 1
        pe = (rows & (n_pe - 1)).astype(itype)
        local = (rows >> shift).astype(itype)
    else:
        pe = (rows % n_pe).astype(itype)
        local = (rows // n_pe).astype(itype)
    if column_major:
        # Column-major already: a stable sort by PE keeps (column, row) order within each PE.
        order = np.argsort(pe.astype(np.uint16) if n_pe <= 65535 else pe, kind="stable")
    else:
        rows_per_pe = ceil_div(m, n_pe)
        order = np.argsort((pe.astype(np.int64) * k + columns) * rows_per_pe + local, kind="stable")
    pe_s, col_s, loc_s = pe[order], columns[order].astype(itype), local[order]
    code_s = codes[order].astype(np.uint8)
    group = pe_s.astype(np.int64) * k + col_s if itype is np.int64 else pe_s * itype(k) + col_s
    first = np.ones(group.size, dtype=bool)
    first[1:] = group[1:] != group[:-1]
    prev = np.empty_like(loc_s)
    if loc_s.size:
        prev[0] = -1
        prev[1:] = loc_s[:-1]
    prev[first] = -1
    gap = loc_s - prev - 1
    if np.any(gap < 0):
        raise InputError("EIE CSC positions must not repeat (a (row, column) appears twice)")
    span = 2**index_bits
    padding = gap >> index_bits
    has_padding = bool(padding.any())
    if has_padding:
        reps = padding + 1
        end = np.cumsum(reps, dtype=np.int64)
        total = int(end[-1])
        last = end - 1
        v = np.zeros(total, dtype=np.uint8)
        z = np.full(total, span - 1, dtype=np.uint8)
        v[last] = code_s
        z[last] = (gap & (span - 1)).astype(np.uint8)
        # A padding entry stands at prev + span * (its rank in the run + 1).
        local_rows = np.repeat(prev, reps) + span * (np.arange(total, dtype=itype) - np.repeat((last - padding).astype(itype), reps) + 1)
        local_rows[last] = loc_s
        entry_group = np.repeat(group, reps)
    else:
        v = code_s.copy()
        z = gap.astype(np.uint8)
        local_rows = loc_s
        entry_group = group
    counts = np.bincount(entry_group, minlength=n_pe * k).reshape(n_pe, k)
    pointers = np.zeros((n_pe, k + 1), dtype=np.int64)
    np.cumsum(counts, axis=1, out=pointers[:, 1:])
    pe_offsets = np.zeros(n_pe + 1, dtype=np.int64)
    np.cumsum(pointers[:, -1], out=pe_offsets[1:])
    return v, z, local_rows, pointers, pe_offsets


SEGMENT_BLOCK_ENTRIES = 1 << 22
"""Entries whose row-pass keys the numpy :meth:`EieCsc.segment_counts` builds at once (whole PEs)."""

ENCODE_GROUP_WEIGHTS = 1 << 22
"""Most weights the numpy path encodes at once when they come column-major (bounds its sort's memory)."""


def _encode_in_column_groups(rows: np.ndarray, columns: np.ndarray, codes: np.ndarray, m: int, k: int, n_pe: int,
                             index_bits: int, itype: type) -> tuple[np.ndarray, ...]:
    """The numpy encoding of many column-major positions, whole columns at a time, laid out PE by PE after.

    Each (PE, column) segment depends on that column alone, so groups of whole columns (about
    :data:`ENCODE_GROUP_WEIGHTS` weights each) are encoded alone and their PE slices copied into
    place: the same arrays as one encoding, holding one group's sort at a time.
    """
    starts = [0]                                   # first position of each group, at a column boundary
    while starts[-1] < rows.size:
        cut = starts[-1] + ENCODE_GROUP_WEIGHTS
        if cut >= rows.size:
            break
        cut = int(np.searchsorted(columns, columns[cut], side="left"))
        if cut <= starts[-1]:                     # one column holds more than a group
            cut = int(np.searchsorted(columns, columns[starts[-1]], side="right"))
        if cut >= rows.size:
            break
        starts.append(cut)
    first_columns = [0] + [int(columns[start]) for start in starts[1:]] + [k]
    parts = []
    counts = np.zeros((n_pe, k), dtype=np.int64)
    for index, start in enumerate(starts):
        stop = starts[index + 1] if index + 1 < len(starts) else rows.size
        c0, c1 = first_columns[index], first_columns[index + 1]
        part = _encode_numpy(rows[start:stop], columns[start:stop] - c0, codes[start:stop], m, c1 - c0, n_pe,
                             index_bits, itype, True)
        counts[:, c0:c1] = np.diff(part[3], axis=1)
        parts.append((c0, part))
    pointers, pe_offsets = eie_csc_kernel.pointer_layout(counts)
    total = int(pe_offsets[-1])
    v, z, local_rows = np.empty(total, np.uint8), np.empty(total, np.uint8), np.empty(total, parts[0][1][2].dtype)
    for c0, (part_v, part_z, part_local, _, part_offsets) in parts:
        for pe in range(n_pe):
            lo, hi = int(part_offsets[pe]), int(part_offsets[pe + 1])
            at = int(pe_offsets[pe] + pointers[pe, c0])
            v[at:at + hi - lo] = part_v[lo:hi]
            z[at:at + hi - lo] = part_z[lo:hi]
            local_rows[at:at + hi - lo] = part_local[lo:hi]
    return v, z, local_rows, pointers, pe_offsets


_CHECK_BLOCK = 1 << 22
"""Positions checked for order at once (bounds the check's temporaries)."""


def _index_array(values) -> np.ndarray:
    """Flat integer positions: int32 and int64 arrays as given (no copy), anything else as int64."""
    array = np.asarray(values)
    if array.dtype not in (np.int32, np.int64):
        array = array.astype(np.int64)
    return array.ravel()


def _column_major(rows: np.ndarray, columns: np.ndarray, m: int) -> bool:
    """Whether the flat indices ``column * M + row`` strictly increase (block by block, int64)."""
    previous = None
    for lo in range(0, rows.size, _CHECK_BLOCK):
        flat = columns[lo:lo + _CHECK_BLOCK].astype(np.int64) * m + rows[lo:lo + _CHECK_BLOCK]
        if (previous is not None and flat[0] <= previous) or not bool(np.all(flat[1:] > flat[:-1])):
            return False
        previous = flat[-1]
    return True


def encode_codes(
    codes: np.ndarray,
    n_pe: int,
    index_bits: int = DEFAULT_INDEX_BITS,
    value_bits: int = DEFAULT_VALUE_BITS,
    pointer_bits: int = DEFAULT_POINTER_BITS,
) -> EieCsc:
    """Encode a dense ``(M, K)`` matrix of codebook indices (0 = no weight).

    A 1-D array is taken as a single column.
    """
    codes = np.asarray(codes)
    if codes.ndim == 1:
        codes = codes[:, None]
    if codes.ndim != 2:
        raise InputError(f"EIE CSC code matrix must be 2-D (M, K) (got {codes.ndim} dimensions)")
    cols, rows = np.nonzero(codes.T)  # column-major order
    return encode_positions(rows, cols, codes[rows, cols], codes.shape, n_pe, index_bits, value_bits, pointer_bits)


def mask_storage_bits(mask: np.ndarray, value_bits: int, n_pe: int = 64) -> int:
    """Bits to store a weight matrix's non-zeros in EIE's interleaved CSC on ``n_pe`` PEs.

    Every non-zero becomes a 4-bit codebook index ``v`` and a 4-bit relative row
    index ``z`` (padding entries inserted where a gap exceeds 15 zeros), each PE
    keeps ``K + 1`` 16-bit column pointers, and the 16-entry codebook holds values
    of ``value_bits``. Which codebook entry a weight gets does not change the size.

    Parameters
    ----------
    mask
        Mask or weight array (non-zero = stored), shape (M, ...) flattened to (M, K).
    value_bits
        Bits of one codebook value (the weights' precision).
    n_pe
        Processing elements the rows are interleaved over.
    """
    if not isinstance(value_bits, (int, np.integer)) or value_bits < 1:
        raise InputError(f"EIE CSC storage: value_bits must be an integer >= 1 (got {value_bits!r})")
    matrix = as_mask_matrix(mask)
    rows, columns = np.nonzero(matrix)
    csc = encode_positions(rows, columns, np.ones(rows.size, dtype=np.int64), matrix.shape, n_pe)
    return csc.storage_bits()["total"] + (2**DEFAULT_VALUE_BITS) * value_bits
