"""N:M compressed storage: layout, metadata size, compliance refusal, round trip and matmul."""

from __future__ import annotations

import numpy as np
import pytest

from energysim.errors import InputError, UnsupportedError
from energysim.formats import nm_compressed as nm


def _two_four(rows: int, k: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    dense = rng.standard_normal((rows, k))
    groups = dense.reshape(rows, -1, 4)
    order = np.argsort(-np.abs(groups), axis=2)
    mask = np.zeros_like(groups, dtype=bool)
    np.put_along_axis(mask, order[:, :, :2], True, axis=2)
    return np.where(mask, groups, 0.0).reshape(rows, k)


def test_hand_layout_of_one_row():
    """Row [0, 5, 0, 7 | 1, 0, 0, 0] keeps (5@1, 7@3) and (1@0, padding 0@1), indices ascending."""
    c = nm.compress(np.array([[0.0, 5.0, 0.0, 7.0, 1.0, 0.0, 0.0, 0.0]]), 2, 4)
    assert c.values.tolist() == [[5.0, 7.0, 1.0, 0.0]]
    assert c.indices.tolist() == [[1, 3, 0, 1]]
    assert c.index_bits == 2


def test_metadata_size_and_footprint_fp16():
    """A 16x64 FP16 2:4 matrix stores 512 values (1024 B) and 512 x 2 bits = 128 B: 9/16 of 2048 B."""
    c = nm.compress(_two_four(16, 64), 2, 4, value_bits=16)
    assert (c.slots, c.value_bytes, c.metadata_bytes, c.dense_bytes) == (512, 1024, 128, 2048)
    assert c.footprint_ratio == 9 / 16


def test_footprint_fractions_exact():
    """Compressed/dense is 9/16 at 16 bits, 10/16 at 8 bits (2:4, 2-bit index) and 9/16 for TF32 1:2 with 4-bit index."""
    assert nm.compressed_fraction(2, 4, 16) == 9 / 16
    assert nm.compressed_fraction(2, 4, 8) == 10 / 16
    assert nm.compressed_fraction(1, 2, 32, index_bits=4) == 9 / 16


def test_default_index_bits_is_ceil_log2_m():
    """Index width is ceil(log2 M): 2 bits for M=4, 1 for M=2, 3 for M=8, 3 for M=5."""
    assert [nm.default_index_bits(m) for m in (4, 2, 8, 5)] == [2, 1, 3, 3]


def test_round_trip_is_exact():
    """decompress(compress(A)) returns A exactly for a compliant 2:4 matrix."""
    a = _two_four(32, 128, seed=1)
    assert np.array_equal(nm.decompress(nm.compress(a, 2, 4)), a)


def test_matmul_from_compressed_matches_numpy():
    """C computed from values + metadata (operand select) equals numpy A @ B to 1e-12."""
    a = _two_four(48, 96, seed=2)
    b = np.random.default_rng(3).standard_normal((96, 17))
    c = nm.matmul(nm.compress(a, 2, 4), b, rows_per_chunk=7)
    np.testing.assert_allclose(c, a @ b, rtol=1e-12, atol=1e-12)


def test_k_not_multiple_of_m_is_padded():
    """K=6 pads the last group with zeros; the pad is dropped on decompress and ignored by matmul."""
    a = np.array([[1.0, 0.0, 2.0, 0.0, 0.0, 3.0]])
    c = nm.compress(a, 2, 4)
    assert c.groups == 2 and c.k == 6
    assert np.array_equal(nm.decompress(c), a)
    np.testing.assert_allclose(nm.matmul(c, np.arange(6.0)), a @ np.arange(6.0))


def test_first_violation_names_row_group_and_count():
    """The first offending group in row-major order is reported with its non-zero count."""
    a = _two_four(4, 16)
    a[2, 9] = a[2, 10] = a[2, 11] = a[2, 8] = 1.0  # row 2, group 2 now has 4 non-zeros
    a[3, 0:4] = 1.0
    violation = nm.first_violation(a, 2, 4)
    assert (violation.row, violation.group, violation.nonzeros) == (2, 2, 4)


def test_noncompliant_compress_is_refused_with_message():
    """compress raises UnsupportedError naming row, group, columns, rule and value."""
    a = np.zeros((2, 8))
    a[1, 4:7] = 1.0
    with pytest.raises(UnsupportedError, match=r"row 1, group 1 \(columns 4-7.*at most 2 of 4.*\(got 3\)"):
        nm.compress(a, 2, 4)


def test_keep_mask_wins_over_values():
    """A kept zero is stored; compliance is judged on the mask, not on the values."""
    a = np.array([[0.0, 0.0, 3.0, 0.0]])
    keep = np.array([[1, 0, 1, 0]])
    c = nm.compress(a, 2, 4, keep=keep)
    assert c.indices.tolist() == [[0, 2]]
    with pytest.raises(UnsupportedError):
        nm.compress(a, 2, 4, keep=np.array([[1, 1, 1, 0]]))


def test_conv_weights_group_along_flattened_reduction():
    """A (out, in, kh, kw) tensor groups along in*kh*kw, the GEMM's K."""
    w = _two_four(8, 2 * 3 * 2, seed=4).reshape(8, 2, 3, 2)
    assert nm.is_compliant(w, 2, 4)
    assert nm.compress(w, 2, 4).k == 12


def test_bad_pattern_is_refused():
    """n must satisfy 1 <= n < m, and index_bits must name m positions."""
    with pytest.raises(InputError, match=r"N:M pattern needs integers 1 <= N < M \(got 4:4\)"):
        nm.compress(np.zeros((1, 4)), 4, 4)
    with pytest.raises(InputError, match="index_bits must be >= 2"):
        nm.compress(np.zeros((1, 4)), 2, 4, index_bits=1)


def test_refusal_names_the_given_object():
    """compress(..., what=...) puts the caller's object name in the one refusal sentence (one compliance check)."""
    a = np.zeros((1, 4))
    a[0, :3] = 1.0
    with pytest.raises(UnsupportedError, match=r"^layer 'fc' mask: row 0, group 0 \(columns 0-3.*\(got 3\)$"):
        nm.compress(a, 2, 4, what="layer 'fc' mask")
