"""N:M structured-sparse storage: kept values plus a small index per kept value.

An N:M pattern keeps at most ``n`` non-zeros in every group of ``m`` consecutive
elements along the reduction axis (the columns of an ``(rows, K)`` matrix, i.e.
``K`` of the GEMM's weight operand ``A[M, K]``). The compressed form stores, per
row and group, exactly ``n`` value slots (groups with fewer non-zeros are padded
with explicit zeros, as the A100 sparse tensor core requires) and, per slot, the
position of the value inside its group, in ``index_bits`` bits.

Metadata size
-------------
By default ``index_bits = ceil(log2(m))``: 2 bits for 2:4, so a 16-bit 2:4
matrix takes ``1/2`` of the dense value bytes plus ``2 * 2 / (4 * 16) = 1/16``
of metadata: ``9/16`` of the dense bytes; 8-bit 2:4 takes ``1/2 + 4/32 = 10/16``.
The A100's TF32 1:2 mode stores a 4-bit index per kept value (PTX ISA,
"Sparse matrix storage": a 4-bit index per 2-wide chunk of 32-bit elements),
more than ``ceil(log2 2) = 1``; pass ``index_bits=4`` for it.

When ``K`` is not a multiple of ``m`` the matrix is padded on the right with
zeros up to the next multiple (hardware kernels pad the same way); the
compressed form records the original ``K`` and :func:`decompress` drops the pad.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from energysim.formats.nm_compliance import check_pattern, group_nnz
from energysim.errors import InputError, UnsupportedError

BITS_PER_BYTE = 8


def default_index_bits(m: int) -> int:
    """Bits needed to name one position of a group of ``m``: ``ceil(log2(m))`` (at least 1)."""
    check_pattern(1, m)
    return max(1, math.ceil(math.log2(m)))


def _as_matrix(array: np.ndarray, what: str) -> np.ndarray:
    array = np.asarray(array)
    if array.ndim < 2:
        raise InputError(f"{what}: must have at least 2 dimensions (rows, reduction...) (got shape {array.shape})")
    return array.reshape(array.shape[0], -1)


def _pad_groups(matrix: np.ndarray, m: int) -> np.ndarray:
    k = matrix.shape[1]
    pad = (-k) % m
    if pad:
        matrix = np.concatenate([matrix, np.zeros((matrix.shape[0], pad), dtype=matrix.dtype)], axis=1)
    return matrix


@dataclass(frozen=True)
class NMViolation:
    """The first group that breaks an N:M pattern (row-major order: row, then group).

    Attributes
    ----------
    row
        Row of the matrix (``M`` index of the weight operand).
    group
        Group index along the reduction axis; the group covers columns
        ``group * m`` to ``group * m + m - 1``.
    nonzeros
        Kept (non-zero) elements found in the group.
    n, m
        The pattern that was required.
    """

    row: int
    group: int
    nonzeros: int
    n: int
    m: int

    def message(self, what: str = "mask") -> str:
        """One sentence naming the object, the rule and the offending value."""
        first = self.group * self.m
        return (
            f"{what}: row {self.row}, group {self.group} (columns {first}-{first + self.m - 1} of the reduction axis) "
            f"must keep at most {self.n} of {self.m} elements for {self.n}:{self.m} sparsity (got {self.nonzeros})"
        )


def first_violation(keep: np.ndarray, n: int, m: int) -> NMViolation | None:
    """The first group of a keep pattern with more than ``n`` kept elements in ``m``, or None.

    Parameters
    ----------
    keep
        Array of shape ``(rows, ...)``; non-zero / True entries count as kept. Trailing
        dimensions are flattened into the reduction axis (conv weights
        ``(out, in, kh, kw)`` group along ``in * kh * kw``).
    n, m
        The pattern, e.g. 2 and 4.
    """
    check_pattern(n, m)
    counts = group_nnz(_as_matrix(keep, "keep pattern") != 0, m)
    bad = np.argwhere(counts > n)
    if bad.size == 0:
        return None
    row, group = (int(v) for v in bad[0])
    return NMViolation(row=row, group=group, nonzeros=int(counts[row, group]), n=n, m=m)


def is_compliant(keep: np.ndarray, n: int, m: int) -> bool:
    """Whether every group of ``m`` along the reduction axis keeps at most ``n`` elements."""
    return first_violation(keep, n, m) is None


def require_compliant(keep: np.ndarray, n: int, m: int, what: str = "mask") -> None:
    """Raise :class:`UnsupportedError` naming the first group that breaks ``n:m``.

    Raises
    ------
    UnsupportedError
        ``mask: row 3, group 7 (columns 28-31 of the reduction axis) must keep at most
        2 of 4 elements for 2:4 sparsity (got 3)``.
    """
    violation = first_violation(keep, n, m)
    if violation is not None:
        raise UnsupportedError(violation.message(what))


@dataclass(frozen=True)
class NMCompressed:
    """A matrix in N:M compressed form.

    Attributes
    ----------
    values
        Kept values, shape ``(rows, groups * n)``; slot ``j`` belongs to group ``j // n``.
        Padding slots (groups with fewer than ``n`` non-zeros) hold 0.
    indices
        Position of each slot inside its group (``0 .. m-1``), same shape, ``uint8``;
        strictly increasing within a group (the A100 refuses repeated indices).
    n, m
        The pattern.
    k
        Reduction length of the original (uncompressed) matrix, in elements.
    value_bits
        Storage width of one value in bits (16 for FP16/BF16, 8 for INT8, 32 for TF32).
    index_bits
        Bits of metadata per kept slot (2 for 2:4; 4 for the A100's TF32 1:2).
    """

    values: np.ndarray
    indices: np.ndarray
    n: int
    m: int
    k: int
    value_bits: int
    index_bits: int

    @property
    def rows(self) -> int:
        """Rows of the matrix (``M``)."""
        return int(self.values.shape[0])

    @property
    def groups(self) -> int:
        """Groups per row along the reduction axis, ``ceil(k / m)``."""
        return int(self.values.shape[1] // self.n)

    @property
    def slots(self) -> int:
        """Stored value slots, ``rows * groups * n``."""
        return int(self.values.size)

    @property
    def value_bytes(self) -> int:
        """Bytes of the stored values (padding slots included), rounded up to whole bytes."""
        return math.ceil(self.slots * self.value_bits / BITS_PER_BYTE)

    @property
    def metadata_bits(self) -> int:
        """Bits of index metadata, ``slots * index_bits``."""
        return self.slots * self.index_bits

    @property
    def metadata_bytes(self) -> int:
        """Bytes of index metadata, rounded up to whole bytes."""
        return math.ceil(self.metadata_bits / BITS_PER_BYTE)

    @property
    def footprint_bytes(self) -> int:
        """Values plus metadata, bytes."""
        return self.value_bytes + self.metadata_bytes

    @property
    def dense_bytes(self) -> int:
        """Bytes of the same matrix stored dense (``rows * k`` values of ``value_bits``)."""
        return math.ceil(self.rows * self.k * self.value_bits / BITS_PER_BYTE)

    @property
    def footprint_ratio(self) -> float:
        """Compressed / dense bytes (9/16 for 16-bit 2:4 when k is a multiple of 4)."""
        return self.footprint_bytes / self.dense_bytes

    @property
    def nonzeros(self) -> int:
        """Non-zero stored values."""
        return int(np.count_nonzero(self.values))

    def column_indices(self) -> np.ndarray:
        """Absolute reduction-axis column of every slot, shape of ``values`` (int64)."""
        group = np.arange(self.values.shape[1], dtype=np.int64) // self.n
        return group[None, :] * self.m + self.indices.astype(np.int64)


def compressed_fraction(n: int, m: int, value_bits: int, index_bits: int | None = None) -> float:
    """Compressed bytes / dense bytes of an N:M matrix whose ``K`` is a multiple of ``m``.

    ``n/m`` of the values plus ``n * index_bits`` metadata bits per ``m * value_bits``
    dense bits: 2:4 at 16 bits gives ``1/2 + 4/64 = 9/16``; at 8 bits ``10/16``.
    """
    check_pattern(n, m)
    if value_bits <= 0:
        raise InputError(f"N:M footprint: value_bits must be > 0 (got {value_bits})")
    bits = default_index_bits(m) if index_bits is None else index_bits
    return n / m + n * bits / (m * value_bits)


def compress(matrix: np.ndarray, n: int, m: int, value_bits: int = 16, index_bits: int | None = None,
             keep: np.ndarray | None = None, what: str | None = None) -> NMCompressed:
    """Compress a matrix whose kept elements follow ``n:m`` along the reduction axis.

    Parameters
    ----------
    matrix
        Array of shape ``(rows, ...)``; trailing dimensions are flattened into ``K``.
    n, m
        The pattern (2 and 4 for the A100's FP16/BF16/INT8 mode; 1 and 2 for TF32).
    value_bits
        Storage width of one value in bits.
    index_bits
        Metadata bits per kept slot; default ``ceil(log2(m))``.
    keep
        Optional keep-mask of the same shape; default: the non-zero pattern of ``matrix``.
        Kept entries are stored even when their value is zero.
    what
        Names the object in the refusal message (default ``keep-mask`` or ``matrix``),
        e.g. ``layer 'fc' mask on the 2:4 sparse tensor core``.

    Raises
    ------
    UnsupportedError
        If a group keeps more than ``n`` elements (the first such group is named).
    """
    check_pattern(n, m)
    values = _as_matrix(matrix, "matrix").astype(np.float64, copy=False)
    k = values.shape[1]
    if keep is None:
        kept = values != 0
    else:
        keep = np.asarray(keep)
        if keep.shape != np.asarray(matrix).shape:
            raise InputError(f"keep-mask: must have the matrix shape {np.asarray(matrix).shape} (got {keep.shape})")
        kept = _as_matrix(keep, "keep-mask") != 0
    require_compliant(kept, n, m, what or ("keep-mask" if keep is not None else "matrix"))
    bits = default_index_bits(m) if index_bits is None else int(index_bits)
    if bits < default_index_bits(m):
        raise InputError(f"N:M format {n}:{m}: index_bits must be >= {default_index_bits(m)} to name {m} positions (got {bits})")
    padded_values = _pad_groups(np.where(kept, values, 0.0), m)
    padded_kept = _pad_groups(kept, m)
    rows, groups = padded_values.shape[0], padded_values.shape[1] // m
    grouped_kept = padded_kept.reshape(rows, groups, m)
    # Fill each group's n slots with its kept positions first, then the lowest unused
    # positions (explicit zeros), and sort so indices increase within a group.
    position = np.arange(m)
    order_key = np.where(grouped_kept, position, position + m)  # kept first, then unused, each ascending
    chosen = np.sort(np.argsort(order_key, axis=2, kind="stable")[:, :, :n], axis=2)
    gathered = np.take_along_axis(padded_values.reshape(rows, groups, m), chosen, axis=2)
    return NMCompressed(
        values=gathered.reshape(rows, groups * n),
        indices=chosen.reshape(rows, groups * n).astype(np.uint8),
        n=n,
        m=m,
        k=k,
        value_bits=int(value_bits),
        index_bits=bits,
    )


def decompress(compressed: NMCompressed) -> np.ndarray:
    """The dense ``(rows, k)`` matrix of a compressed one (pad columns dropped)."""
    rows = compressed.rows
    dense = np.zeros((rows, compressed.groups * compressed.m), dtype=np.float64)
    np.put_along_axis(dense, compressed.column_indices(), compressed.values, axis=1)
    return dense[:, : compressed.k]


def matmul(compressed: NMCompressed, dense_operand: np.ndarray, rows_per_chunk: int = 256) -> np.ndarray:
    """``C = A @ B`` computed from the compressed ``A`` the way a sparse tensor core does it.

    For every kept slot the metadata index selects the matching row of ``B`` (the
    dense operand is read in full; only the selected elements are multiplied), so
    the work is ``rows * groups * n * N`` multiply-accumulates instead of ``rows * k * N``.

    Parameters
    ----------
    compressed
        The sparse operand ``A`` (``M x K``) in N:M form.
    dense_operand
        ``B`` of shape ``(K, N)`` (or ``(K,)``).
    rows_per_chunk
        Rows of ``A`` processed at once (bounds temporary memory).

    Returns
    -------
    numpy.ndarray
        ``C`` of shape ``(M, N)`` (``(M,)`` for a vector ``B``), float64.
    """
    b = np.asarray(dense_operand, dtype=np.float64)
    vector = b.ndim == 1
    if vector:
        b = b[:, None]
    if b.ndim != 2 or b.shape[0] != compressed.k:
        raise InputError(f"dense operand: must have shape ({compressed.k}, N) to match K of the sparse operand (got {b.shape})")
    pad = compressed.groups * compressed.m - compressed.k
    if pad:
        b = np.concatenate([b, np.zeros((pad, b.shape[1]))], axis=0)
    columns = compressed.column_indices()
    out = np.empty((compressed.rows, b.shape[1]), dtype=np.float64)
    for start in range(0, compressed.rows, rows_per_chunk):
        stop = min(start + rows_per_chunk, compressed.rows)
        selected = b[columns[start:stop]]  # (rows, slots, N): the hardware's operand select
        out[start:stop] = np.einsum("rs,rsn->rn", compressed.values[start:stop], selected)
    return out[:, 0] if vector else out
