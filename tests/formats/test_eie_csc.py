"""EIE interleaved CSC: the paper's example, padding rule, pointers, storage and round trips."""

from __future__ import annotations


import numpy as np
import pytest

from energysim.errors import InputError
from energysim.formats.eie_csc import encode_codes, encode_positions


def test_paper_example_column():
    """The paper's column [0,0,1,2,0 x18,3] on one PE is v=[1,2,0,3], z=[2,0,15,2], pointers [0,4]."""
    csc = encode_codes(np.array([0, 0, 1, 2] + [0] * 18 + [3]), n_pe=1)
    assert csc.v.tolist() == [1, 2, 0, 3]
    assert csc.z.tolist() == [2, 0, 15, 2]
    assert csc.pointers.tolist() == [[0, 4]]
    assert csc.n_padding == 1 and csc.n_nonzero == 3


@pytest.mark.parametrize(
    ("gap", "v", "z"),
    [
        (15, [7], [15]),            # 15 zeros fit in 4 bits: no padding
        (16, [0, 7], [15, 0]),      # 16 zeros: one padding entry stands at the 16th zero
        (31, [0, 7], [15, 15]),
        (32, [0, 0, 7], [15, 15, 0]),
    ],
)
def test_padding_boundaries(gap, v, z):
    """A gap of g zeros costs g // 16 padding entries (z=15) and leaves z = g % 16 on the real entry."""
    csc = encode_codes(np.array([0] * gap + [7]), n_pe=1)
    assert csc.v.tolist() == v
    assert csc.z.tolist() == z


def test_trailing_zeros_cost_nothing():
    """Zeros after a column's last non-zero add no entry."""
    csc = encode_codes(np.array([5] + [0] * 40), n_pe=1)
    assert csc.v.tolist() == [5] and csc.z.tolist() == [0]


def test_interleaving_rows_to_pes():
    """Row i goes to PE i mod N and z counts zeros within that PE's slice (4x2 matrix on 2 PEs, hand-built).

    Column 0 = [1,0,0,2]: PE0 holds rows 0,2 -> [1,0] -> v=[1] z=[0]; PE1 rows 1,3 -> [0,2] -> v=[2] z=[1].
    Column 1 = [0,3,4,0]: PE0 -> [0,4] -> v=[4] z=[1]; PE1 -> [3,0] -> v=[3] z=[0].
    """
    codes = np.array([[1, 0], [0, 3], [0, 4], [2, 0]])
    csc = encode_codes(codes, n_pe=2)
    assert csc.pe_entries(0)[0].tolist() == [1, 4] and csc.pe_entries(0)[1].tolist() == [0, 1]
    assert csc.pe_entries(1)[0].tolist() == [2, 3] and csc.pe_entries(1)[1].tolist() == [1, 0]
    assert csc.pointers.tolist() == [[0, 1, 2], [0, 1, 2]]
    assert csc.column(1, 1)[0].tolist() == [3]


def test_pointer_differences_count_padding():
    """p_{j+1} - p_j equals the entries of column j including padding."""
    col0 = [0] * 20 + [1]          # 1 padding + 1 real
    col1 = [2, 0, 3] + [0] * 18    # 2 real
    csc = encode_codes(np.array([col0, col1]).T, n_pe=1)
    assert csc.column_entries.tolist() == [[2, 2]]
    assert csc.pointers.tolist() == [[0, 2, 4]]


@pytest.mark.parametrize("n_pe", [1, 3, 4, 64])
def test_round_trip_random(n_pe):
    """Decoding v, z and pointers reproduces the code matrix exactly (random 300x70 at 5%)."""
    rng = np.random.default_rng(n_pe)
    codes = (rng.random((300, 70)) < 0.05) * rng.integers(1, 16, (300, 70))
    csc = encode_codes(codes, n_pe)
    assert np.array_equal(csc.to_dense_codes(), codes)
    assert csc.n_nonzero == np.count_nonzero(codes)


def test_unsorted_positions_match_sorted():
    """Positions given in any order encode to the same format as column-major order."""
    rng = np.random.default_rng(1)
    codes = (rng.random((50, 30)) < 0.1) * rng.integers(1, 16, (50, 30))
    reference = encode_codes(codes, 4)
    rows, cols = np.nonzero(codes)  # row-major order
    shuffled = rng.permutation(rows.size)
    other = encode_positions(rows[shuffled], cols[shuffled], codes[rows, cols][shuffled], codes.shape, 4)
    assert np.array_equal(other.v, reference.v) and np.array_equal(other.z, reference.z)
    assert np.array_equal(other.pointers, reference.pointers)


def test_storage_bits_by_hand():
    """Storage = entries x (4 + 4) bits + N x (K + 1) x 16-bit pointers: the paper column is 4*8 + 2*16 = 64 bits."""
    csc = encode_codes(np.array([0, 0, 1, 2] + [0] * 18 + [3]), n_pe=1)
    assert csc.storage_bits() == {"values": 16, "indices": 16, "pointers": 32, "total": 64}


def test_segment_counts_split_rows_into_passes():
    """Row passes of 16 local rows split a 40-row single-PE column [1 at 0, 0 x 20, 2 at 21, 3 at 39].

    Entries: v=1 (row 0); padding at row 16 (zeros 1..20, it stands at the 16th); v=2 (row 21);
    padding at row 37 (zeros 22..38, the 16th); v=3 (row 39). Pass 0 (rows 0-15): 1 entry; pass 1 (16-31): 2 entries, one real;
    pass 2 (32-39): 2 entries, one real. Starts: 0, 1, 3.
    """
    column = np.zeros(40, dtype=int)
    column[[0, 21, 39]] = [1, 2, 3]
    csc = encode_codes(column, n_pe=1)
    assert csc.v.tolist() == [1, 0, 2, 0, 3]
    entries, real, starts = csc.segment_counts(16)
    assert entries[:, 0, 0].tolist() == [1, 2, 2]
    assert real[:, 0, 0].tolist() == [1, 1, 1]
    assert starts[:, 0, 0].tolist() == [0, 1, 3]


def test_bad_inputs_raise():
    """Out-of-range codes, repeated positions and zero PEs are rejected with InputError."""
    with pytest.raises(InputError, match="codes must lie in 1..15"):
        encode_positions([0], [0], [16], (2, 2), 1)
    with pytest.raises(InputError, match="must not repeat"):
        encode_positions([0, 0], [1, 1], [1, 2], (2, 2), 1)
    with pytest.raises(InputError, match="n_pe must be an integer >= 1 \\(got 0\\)"):
        encode_positions([0], [0], [1], (2, 2), 0)
    with pytest.raises(InputError, match="n_pe must be an integer >= 1 \\(got 2.5\\)"):
        encode_positions([0], [0], [1], (2, 2), 2.5)


@pytest.mark.slow
def test_vgg6_encodes_at_full_size():
    """VGG-6 (4096 x 25088 at 4%) encodes every non-zero (speed is measured in benchmarks/bench_eie.py)."""
    rng = np.random.default_rng(0)
    m, k, density = 4096, 25088, 0.04
    positions = np.cumsum(rng.geometric(density, size=int(m * k * density * 1.05))) - 1
    positions = positions[positions < m * k]
    cols, rows = np.divmod(positions, m)
    csc = encode_positions(rows, cols, rng.integers(1, 16, positions.size), (m, k), 64)
    assert csc.n_nonzero == positions.size
    assert sorted(zip(*csc.decode()[:2])) == sorted(zip(rows.tolist(), cols.tolist()))


def test_mask_storage_bits_counts_padding_pointers_and_codebook():
    """The paper's column [0,0,1,2,0x18,3] on 1 PE stores 4 entries (one padding) x 8 bits + 2 pointers x 16 + codebook."""
    from energysim.formats.eie_csc import mask_storage_bits
    from energysim.formats.storage import storage_table

    column = np.array([0, 0, 1, 2] + [0] * 18 + [3], dtype=float).reshape(-1, 1)
    assert mask_storage_bits(column, value_bits=16, n_pe=1) == 4 * 8 + 2 * 16 + 16 * 16
    table = storage_table(np.ones((64, 8)), value_bits=16).set_index("format")
    assert table.loc["eie_csc_64pe", "bits"] == 64 * 8 * 8 + 64 * 9 * 16 + 16 * 16


def test_mask_storage_bits_refuses_bad_input():
    """A 1-D mask or a non-positive value width is refused with the rule named."""
    from energysim.formats.eie_csc import mask_storage_bits

    with pytest.raises(InputError, match="value_bits must be an integer >= 1 \\(got 0\\)"):
        mask_storage_bits(np.ones((4, 4)), value_bits=0)
    with pytest.raises(InputError):
        mask_storage_bits(np.ones(4), value_bits=16)
