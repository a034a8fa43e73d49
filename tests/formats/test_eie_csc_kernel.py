"""The compiled EIE CSC encoding and segment counts (numba, optional) against the numpy path."""

from __future__ import annotations

import numpy as np
import pytest

from energysim.formats import eie_csc_kernel
from energysim.errors import InputError
from energysim.formats.eie_csc import encode_codes, encode_flat, encode_positions

needs_numba = pytest.mark.skipif(not eie_csc_kernel.compiled_available(),
                                 reason="numba is not installed (the optional `fast` extra); the numpy path ran alone")


def _encoded(monkeypatch, kernel, codes, n_pe, index_bits, rows_per_pass):
    monkeypatch.setenv(eie_csc_kernel.KERNEL_ENV, kernel)
    csc = encode_codes(codes, n_pe, index_bits=index_bits)
    arrays = {name: getattr(csc, name) for name in ("v", "z", "local_rows", "pointers", "pe_offsets")}
    arrays.update(zip(("entries", "real", "starts"), csc.segment_counts(rows_per_pass)))
    return arrays


@needs_numba
@pytest.mark.parametrize("seed", range(20))
def test_compiled_encoding_equals_numpy(monkeypatch, seed):
    """v, z, local rows, pointers, PE offsets and row-pass segments: same values and dtypes on both paths.

    Random code matrices on 1-70 PEs (powers of two and not), long zero runs (padding), empty
    columns and PEs without rows, index widths 1-4.
    """
    rng = np.random.default_rng(seed)
    m, k = int(rng.integers(1, 300)), int(rng.integers(1, 60))
    codes = rng.integers(1, 16, size=(m, k)) * (rng.random((m, k)) < rng.uniform(0.0, 0.8))
    n_pe = int(rng.choice([1, 2, 3, 8, 64, 70]))
    index_bits, rows_per_pass = int(rng.integers(1, 5)), int(rng.choice([1, 2, 7, 64]))
    compiled = _encoded(monkeypatch, "numba", codes, n_pe, index_bits, rows_per_pass)
    reference = _encoded(monkeypatch, "numpy", codes, n_pe, index_bits, rows_per_pass)
    for name, array in reference.items():
        assert compiled[name].dtype == array.dtype, name
        np.testing.assert_array_equal(compiled[name], array, err_msg=name)


@needs_numba
def test_paper_example_on_the_compiled_path(monkeypatch):
    """The paper's column [0, 0, 1, 2, 0 x 18, 3] gives v = [1, 2, 0, 3], z = [2, 0, 15, 2] on the compiled path."""
    monkeypatch.setenv(eie_csc_kernel.KERNEL_ENV, "numba")
    csc = encode_codes(np.array([0, 0, 1, 2] + [0] * 18 + [3]), 1)
    assert csc.v.tolist() == [1, 2, 0, 3] and csc.z.tolist() == [2, 0, 15, 2]


def test_unsorted_positions_take_the_numpy_path_with_the_same_result(monkeypatch):
    """Positions not in column-major order encode as their sorted version does (the numpy sort handles them)."""
    rng = np.random.default_rng(5)
    codes = rng.integers(1, 16, size=(40, 9)) * (rng.random((40, 9)) < 0.3)
    columns, rows = np.nonzero(codes.T)
    shuffle = rng.permutation(rows.size)
    mixed = encode_positions(rows[shuffle], columns[shuffle], codes[rows, columns][shuffle], codes.shape, 4)
    ordered = encode_codes(codes, 4)
    for name in ("v", "z", "local_rows", "pointers", "pe_offsets"):
        np.testing.assert_array_equal(getattr(mixed, name), getattr(ordered, name), err_msg=name)


@pytest.mark.parametrize("seed", range(6))
def test_numpy_column_groups_equal_one_encoding(monkeypatch, seed):
    """The numpy path's encoding in groups of whole columns (bounded sort memory) equals encoding all at once.

    Groups of 1-40 weights, so a column holds more than a group; empty first and last columns; padding.
    """
    import energysim.formats.eie_csc as csc_module
    rng = np.random.default_rng(seed)
    m, k = int(rng.integers(20, 200)), int(rng.integers(3, 30))
    codes = rng.integers(1, 16, size=(m, k)) * (rng.random((m, k)) < rng.uniform(0.05, 0.9))
    codes[:, 0] = 0
    codes[:, -1] = 0
    n_pe = int(rng.choice([1, 3, 8]))
    monkeypatch.setenv(eie_csc_kernel.KERNEL_ENV, "numpy")
    whole = encode_codes(codes, n_pe)
    monkeypatch.setattr(csc_module, "ENCODE_GROUP_WEIGHTS", int(rng.integers(1, 40)))
    grouped = encode_codes(codes, n_pe)
    for name in ("v", "z", "local_rows", "pointers", "pe_offsets"):
        assert getattr(grouped, name).dtype == getattr(whole, name).dtype, name
        np.testing.assert_array_equal(getattr(grouped, name), getattr(whole, name), err_msg=name)


@pytest.mark.parametrize("seed", range(4))
def test_numpy_segment_counts_in_pe_blocks_equal_all_at_once(monkeypatch, seed):
    """The numpy row-pass segment counts built a few PEs at a time (bounded keys) equal those built at once."""
    import energysim.formats.eie_csc as csc_module
    rng = np.random.default_rng(50 + seed)
    m, k = int(rng.integers(20, 300)), int(rng.integers(1, 40))
    codes = rng.integers(1, 16, size=(m, k)) * (rng.random((m, k)) < rng.uniform(0.05, 0.9))
    monkeypatch.setenv(eie_csc_kernel.KERNEL_ENV, "numpy")
    csc = encode_codes(codes, int(rng.choice([1, 3, 8])))
    rows_per_pass = int(rng.choice([1, 4, 64]))
    whole = csc.segment_counts(rows_per_pass)
    monkeypatch.setattr(csc_module, "SEGMENT_BLOCK_ENTRIES", int(rng.integers(1, 30)))
    for blocked, reference in zip(csc.segment_counts(rows_per_pass), whole):
        assert blocked.dtype == reference.dtype
        np.testing.assert_array_equal(blocked, reference)


@pytest.mark.parametrize("kernel", ["numba", "numpy"])
@pytest.mark.parametrize("seed", range(6))
def test_flat_positions_encode_as_rows_and_columns(monkeypatch, kernel, seed):
    """encode_flat (ascending column x M + row, or None for every position) gives encode_positions' arrays, both paths."""
    if kernel == "numba" and not eie_csc_kernel.compiled_available():
        pytest.skip("numba is not installed (the optional `fast` extra)")
    monkeypatch.setenv(eie_csc_kernel.KERNEL_ENV, kernel)
    rng = np.random.default_rng(seed)
    m, k, n_pe = int(rng.integers(1, 90)), int(rng.integers(1, 30)), int(rng.integers(1, 9))
    dense = seed % 3 == 0
    flat = None if dense else np.flatnonzero(rng.random(m * k) < rng.uniform(0.02, 0.9))
    count = m * k if dense else flat.size
    codes = rng.integers(1, 16, size=count).astype(np.uint8)
    positions = np.arange(m * k) if dense else flat
    expected = encode_positions(positions % m, positions // m, codes, (m, k), n_pe)
    got = encode_flat(flat, codes, (m, k), n_pe)
    for name in ("v", "z", "local_rows", "pointers", "pe_offsets"):
        assert np.array_equal(getattr(got, name), getattr(expected, name)), name


def test_flat_positions_must_increase_and_match_the_codes():
    """Positions out of order, outside the matrix, or not one code each are refused as InputError."""
    with pytest.raises(InputError, match="strictly increase"):
        encode_flat(np.array([3, 2]), np.array([1, 1]), (4, 4), 2)
    with pytest.raises(InputError, match="strictly increase inside the 4x4"):
        encode_flat(np.array([3, 16]), np.array([1, 1]), (4, 4), 2)
    with pytest.raises(InputError, match="one code per position"):
        encode_flat(None, np.array([1, 1]), (4, 4), 2)


@needs_numba
@pytest.mark.parametrize("m, k, n_pe", [(200, 70, 64), (130, 3, 64), (5, 4, 70), (4096, 40, 64), (1000, 9, 3), (600, 5, 2)])
def test_compiled_dense_encoding_equals_numpy(monkeypatch, m, k, n_pe):
    """Every position present (encode_flat with None): the compiled column-tile fill gives the numpy path's arrays."""
    codes = np.random.default_rng(m + k).integers(1, 16, size=m * k).astype(np.uint8)
    arrays = {}
    for kernel in ("numba", "numpy"):
        monkeypatch.setenv(eie_csc_kernel.KERNEL_ENV, kernel)
        csc = encode_flat(None, codes, (m, k), n_pe)
        arrays[kernel] = {name: getattr(csc, name) for name in ("v", "z", "local_rows", "pointers", "pe_offsets")}
    for name, array in arrays["numpy"].items():
        assert arrays["numba"][name].dtype == array.dtype, name
        np.testing.assert_array_equal(arrays["numba"][name], array, err_msg=name)


@pytest.mark.parametrize("kernel", ["numba", "numpy"])
@pytest.mark.parametrize("m, n_pe, dtype", [(256 * 64, 64, np.uint8), (256 * 64 + 1, 64, np.uint16),
                                             (2 * 65536, 2, np.uint16), (2 * 65536 + 1, 2, np.int32)])
def test_local_rows_take_the_narrowest_type_that_holds_a_slice(monkeypatch, kernel, m, n_pe, dtype):
    """Local rows are uint8 up to 256 rows a slice, uint16 up to 65,536, else int32; the last one is exact."""
    if kernel == "numba" and not eie_csc_kernel.compiled_available():
        pytest.skip("numba not installed")
    monkeypatch.setenv(eie_csc_kernel.KERNEL_ENV, kernel)
    csc = encode_flat(None, np.ones(m, dtype=np.uint8), (m, 1), n_pe)
    assert csc.local_rows.dtype == dtype
    assert int(csc.local_rows[int(csc.pe_offsets[1]) - 1]) == -(-m // n_pe) - 1


class _Blocks:
    """Codes read through ``block(lo, hi)`` only, each read recorded."""

    def __init__(self, codes):
        self.codes, self.size, self.reads = codes, codes.size, []

    def block(self, lo, hi):
        self.reads.append((lo, hi))
        return self.codes[lo:hi]


@needs_numba
def test_dense_codes_read_column_group_by_column_group_equal_an_array(monkeypatch):
    """A dense matrix's codes read through block() in groups of whole columns give the array's CSC; bad ones refused on read."""
    m, k = 70, 30
    codes = np.random.default_rng(4).integers(1, 16, size=m * k).astype(np.uint8)
    monkeypatch.setattr(eie_csc_kernel, "DENSE_CODE_BLOCK", 3 * m + 5)           # three columns a group
    source = _Blocks(codes)
    lazy, whole = encode_flat(None, source, (m, k), 8), encode_flat(None, codes, (m, k), 8)
    assert source.reads == []                                                     # written when first read
    lazy.v
    assert source.reads == [(lo * m, min(k, lo + 3) * m) for lo in range(0, k, 3)]
    for name in ("v", "z", "local_rows", "pointers", "pe_offsets"):
        np.testing.assert_array_equal(getattr(lazy, name), getattr(whole, name), err_msg=name)
    codes[-1] = 0
    lazy = encode_flat(None, _Blocks(codes), (m, k), 8)
    with pytest.raises(InputError, match="codes must lie in 1..15"):
        lazy.v


@needs_numba
@pytest.mark.parametrize("dense", [True, False])
def test_a_lazy_csc_pickles_and_writes_the_same_entries_after(monkeypatch, dense):
    """A CSC encoded from flat positions (entries not yet written) pickles; its copy writes the same entries."""
    import pickle

    monkeypatch.setenv(eie_csc_kernel.KERNEL_ENV, "numba")
    m, k = 40, 12
    rng = np.random.default_rng(7)
    positions = None if dense else np.flatnonzero(rng.random(m * k) < 0.2)
    codes = rng.integers(1, 16, size=m * k if dense else positions.size).astype(np.uint8)
    csc = encode_flat(positions, codes, (m, k), 4)
    copy = pickle.loads(pickle.dumps(csc))
    for name in ("v", "z", "local_rows", "pointers", "pe_offsets"):
        np.testing.assert_array_equal(getattr(copy, name), getattr(csc, name), err_msg=name)
