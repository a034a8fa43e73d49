"""N:M compliance of arbitrary masks."""

from __future__ import annotations

import numpy as np
import pytest

from energysim.errors import InputError
from energysim.formats.nm_compliance import check_pattern, group_nnz, nm_compliance


def test_compliant_two_four_mask():
    """A mask with exactly two of every four kept is 2:4-compliant with no excess."""
    result = nm_compliance(np.array([[1, 0, 1, 0, 0, 1, 1, 0]]))
    assert result.compliant and result.violating_groups == 0 and result.excess_nonzeros == 0
    assert result.groups == 2 and result.max_group_nnz == 2


def test_distance_of_an_unstructured_mask_from_two_four():
    """Groups with 4, 3, 1 non-zeros: 2 of 3 groups violate, 2 + 1 = 3 non-zeros must go (3/8 of the kept)."""
    result = nm_compliance(np.array([[1, 1, 1, 1, 1, 1, 1, 0, 1, 0, 0, 0]]), 2, 4)
    assert not result.compliant
    assert result.violating_groups == 2 and result.violating_fraction == pytest.approx(2 / 3)
    assert result.excess_nonzeros == 3 and result.excess_fraction == pytest.approx(3 / 8)
    assert result.max_group_nnz == 4


def test_short_tail_group_is_padded():
    """K = 6 under 2:4 gives groups of 4 and a padded tail of 2; a full tail of 2 is still compliant."""
    result = nm_compliance(np.array([[1, 1, 0, 0, 1, 1]]), 2, 4)
    assert result.groups == 2 and result.compliant


def test_unstructured_half_sparse_random_mask_is_far_from_two_four():
    """A random 50 % mask violates 2:4 in roughly 5/16 of groups (P(>2 of 4 kept) = 5/16)."""
    rng = np.random.default_rng(0)
    result = nm_compliance(rng.random((256, 256)) < 0.5)
    assert result.violating_fraction == pytest.approx(5 / 16, abs=0.02)


def test_bad_pattern_is_rejected():
    """N must be below M."""
    with pytest.raises(InputError, match=r"1 <= N < M \(got 3:2\)"):
        nm_compliance(np.ones((2, 4)), 3, 2)


@pytest.mark.parametrize("m", [0, -4, 2.0, True])
def test_group_nnz_rejects_group_sizes_below_one_and_non_integers(m):
    """group_nnz(m=0) (and any m that is not an integer >= 1) raises InputError instead of ZeroDivisionError."""
    with pytest.raises(InputError, match=r"N:M group size m must be an integer >= 1"):
        group_nnz(np.ones((2, 4)), m)


def test_group_nnz_counts_a_padded_tail():
    """K = 6 in groups of 4: counts of the full group and the 2-wide tail, per row."""
    assert group_nnz(np.array([[1, 1, 1, 0, 1, 0], [0, 0, 0, 0, 1, 1]]), 4).tolist() == [[3, 1], [0, 2]]


def test_check_pattern_rejects_bools_and_floats():
    """True:2 or 2.0:4 are not integer patterns."""
    with pytest.raises(InputError, match="N:M pattern needs integers"):
        check_pattern(True, 2)
    with pytest.raises(InputError, match="N:M pattern needs integers"):
        check_pattern(2.0, 4)
