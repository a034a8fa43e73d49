"""Mask statistics: non-zeros, density, per-row/column load imbalance, PE interleaving."""

from __future__ import annotations

import numpy as np
import pytest

from energysim.errors import InputError
from energysim.formats.mask_stats import interleaved_pe_nnz, mask_statistics


def test_statistics_of_a_hand_mask():
    """[[1,1,0,0],[1,0,0,0],[0,0,0,0]]: nnz 3, density 0.25, rows max 2 mean 1 (imbalance 2), 2 empty columns."""
    stats = mask_statistics(np.array([[1, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 0]]))
    assert (stats.rows, stats.cols, stats.nnz) == (3, 4, 3)
    assert stats.density == 0.25 and stats.sparsity == 0.75
    assert (stats.row_nnz_max, stats.row_nnz_mean, stats.row_imbalance) == (2, 1.0, 2.0)
    assert (stats.col_nnz_max, stats.col_nnz_mean, stats.col_imbalance) == (2, 0.75, pytest.approx(8 / 3))
    assert (stats.empty_rows, stats.empty_cols) == (1, 2)


def test_conv_weights_are_viewed_as_out_by_in_kh_kw():
    """A (2, 3, 3, 3) conv weight counts as 2 rows of 27 reduction entries; non-zero weights count as kept."""
    weights = np.zeros((2, 3, 3, 3))
    weights[1, 2, 2, 2] = -0.5
    stats = mask_statistics(weights)
    assert (stats.rows, stats.cols, stats.nnz, stats.row_nnz_max) == (2, 27, 1, 1)


def test_empty_mask_has_imbalance_one():
    """An all-zero mask reports imbalance 1.0 instead of dividing by zero."""
    stats = mask_statistics(np.zeros((2, 2)))
    assert stats.nnz == 0 and stats.row_imbalance == 1.0 and stats.col_imbalance == 1.0


def test_one_dimensional_mask_is_rejected():
    """A 1-D array is not a weight matrix: InputError naming the shape."""
    with pytest.raises(InputError, match=r"at least 2 dimensions .* \(got shape \(4,\)\)"):
        mask_statistics(np.ones(4))


def test_interleaved_pe_nnz_assigns_row_i_to_pe_i_mod_p():
    """Rows with 3, 1, 0, 2 non-zeros over 2 PEs give PE0 = 3 + 0, PE1 = 1 + 2."""
    mask = np.array([[1, 1, 1], [1, 0, 0], [0, 0, 0], [0, 1, 1]])
    assert interleaved_pe_nnz(mask, 2).tolist() == [3, 3]
    assert interleaved_pe_nnz(mask, 3).tolist() == [5, 1, 0]
    with pytest.raises(InputError, match="processing_elements"):
        interleaved_pe_nnz(mask, 0)
