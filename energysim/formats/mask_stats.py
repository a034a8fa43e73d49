"""Statistics of a sparsity mask: non-zeros, density, and per-row / per-column load imbalance.

Any mask is viewed as the GEMM weight operand ``A[M, K]``: the first axis is
the output (rows, ``M``), everything after it is flattened in C order into the
reduction axis (``K``): (out, in) for linear, (out, in*kh*kw) for conv2d, the
same view as ``LayerTensors.keep_matrix``. A non-zero is any entry that is
not 0 / False.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from energysim.errors import InputError


def as_mask_matrix(mask: np.ndarray) -> np.ndarray:
    """A boolean (rows, K) view of a mask or weight array (non-zero = True).

    Raises
    ------
    InputError
        For arrays with fewer than 2 dimensions or no entries.
    """
    array = np.asarray(mask)
    if array.ndim < 2 or array.size == 0:
        raise InputError(f"mask must have at least 2 dimensions (rows, reduction...) and entries (got shape {array.shape})")
    return array.reshape(array.shape[0], -1) != 0


def row_nnz(mask: np.ndarray) -> np.ndarray:
    """Non-zeros of every row (output), shape (rows,)."""
    return as_mask_matrix(mask).sum(axis=1)


def col_nnz(mask: np.ndarray) -> np.ndarray:
    """Non-zeros of every column (reduction index), shape (K,)."""
    return as_mask_matrix(mask).sum(axis=0)


@dataclass(frozen=True)
class MaskStats:
    """Summary of one mask (counts in elements; ratios are fractions).

    Attributes
    ----------
    rows, cols
        ``M`` and ``K`` of the (rows, K) view.
    nnz
        Non-zero entries.
    density, sparsity
        ``nnz / (rows*cols)`` and ``1 - density``.
    row_nnz_max, row_nnz_mean
        Largest and mean non-zeros per row.
    row_imbalance
        ``row_nnz_max / row_nnz_mean`` (1.0 = perfectly balanced; 1.0 when nnz = 0).
    col_nnz_max, col_nnz_mean, col_imbalance
        The same per column.
    empty_rows, empty_cols
        Rows / columns without any non-zero.
    """

    rows: int
    cols: int
    nnz: int
    density: float
    sparsity: float
    row_nnz_max: int
    row_nnz_mean: float
    row_imbalance: float
    col_nnz_max: int
    col_nnz_mean: float
    col_imbalance: float
    empty_rows: int
    empty_cols: int

    def as_dict(self) -> dict:
        """The fields as a plain dict (for DataFrames)."""
        return asdict(self)


def _imbalance(counts: np.ndarray) -> float:
    mean = float(counts.mean())
    return float(counts.max()) / mean if mean > 0 else 1.0


def mask_statistics(mask: np.ndarray) -> MaskStats:
    """Non-zeros, density and load imbalance of a mask (see :class:`MaskStats`).

    Parameters
    ----------
    mask
        0/1 or boolean mask, or a weight array (non-zero = kept), at least 2-D.

    Returns
    -------
    MaskStats
    """
    matrix = as_mask_matrix(mask)
    rows, cols = matrix.shape
    per_row = matrix.sum(axis=1)
    per_col = matrix.sum(axis=0)
    nnz = int(per_row.sum())
    density = nnz / matrix.size
    return MaskStats(
        rows=rows,
        cols=cols,
        nnz=nnz,
        density=density,
        sparsity=1.0 - density,
        row_nnz_max=int(per_row.max()),
        row_nnz_mean=float(per_row.mean()),
        row_imbalance=_imbalance(per_row),
        col_nnz_max=int(per_col.max()),
        col_nnz_mean=float(per_col.mean()),
        col_imbalance=_imbalance(per_col),
        empty_rows=int(np.count_nonzero(per_row == 0)),
        empty_cols=int(np.count_nonzero(per_col == 0)),
    )


def interleaved_pe_nnz(mask: np.ndarray, processing_elements: int) -> np.ndarray:
    """Non-zeros per processing element when rows are interleaved over PEs (row ``i`` -> PE ``i mod P``).

    This is how EIE distributes the rows of a weight matrix; the ratio max/mean
    of the result is the PE load imbalance of a matrix-vector product.

    Parameters
    ----------
    mask
        Mask or weight array, at least 2-D.
    processing_elements
        Number of PEs (>= 1).

    Returns
    -------
    numpy.ndarray
        Non-zeros assigned to each PE, shape (processing_elements,).
    """
    if not isinstance(processing_elements, (int, np.integer)) or processing_elements < 1:
        raise InputError(f"processing_elements must be an integer >= 1 (got {processing_elements!r})")
    per_row = row_nnz(mask)
    owner = np.arange(per_row.size) % processing_elements
    return np.bincount(owner, weights=per_row, minlength=processing_elements).astype(np.int64)
