"""Storage bits of dense, bitmap, CSR, CSC and N:M, and the format registry."""

from __future__ import annotations

import numpy as np
import pytest

from energysim.errors import InputError, UnsupportedError
from energysim.formats import storage
from energysim.formats.storage import (
    STORAGE_FORMATS,
    bitmap_bits,
    csc_bits,
    csr_bits,
    dense_bits,
    nm_bits,
    register_storage_format,
    storage_table,
)

MASK = np.array([[1, 0, 1, 0, 0, 0, 0, 1], [0, 1, 0, 0, 1, 1, 0, 0]])
"""2 x 8, nnz 6, 2:4-compliant (group counts 2, 1, 1, 2)."""


def test_dense_and_bitmap_by_hand():
    """Dense: 16 entries x 8 bits = 128; bitmap: 16 presence bits + 6 x 8 = 64."""
    assert dense_bits(MASK, 8) == 128
    assert bitmap_bits(MASK, 8) == 64


def test_csr_and_csc_by_hand():
    """CSR: 6 x (8 + 3-bit column) + 3 pointers x ceil(log2 7) = 75; CSC: 6 x (8 + 1-bit row) + 9 x 3 = 81."""
    assert csr_bits(MASK, 8) == 6 * (8 + 3) + 3 * 3 == 75
    assert csc_bits(MASK, 8) == 6 * (8 + 1) + 9 * 3 == 81
    assert csr_bits(MASK, 8, index_bits=16, pointer_bits=32) == 6 * 24 + 3 * 32


def test_two_four_storage_is_half_the_values_plus_two_bit_metadata():
    """2:4 of a 2 x 8 matrix: 4 groups x 2 slots x (16 + 2) bits = 144 = 9/16 of dense."""
    assert nm_bits(MASK, 16) == 144
    assert nm_bits(MASK, 16) / dense_bits(MASK, 16) == 9 / 16


def test_nm_storage_refuses_non_compliant_masks():
    """Three kept in a group of four cannot be stored as 2:4: UnsupportedError says how many groups fail."""
    with pytest.raises(UnsupportedError, match="1 of 2 groups hold more than 2"):
        nm_bits(np.array([[1, 1, 1, 0, 0, 0, 0, 0]]), 8)


def test_one_eight_uses_three_bit_indices():
    """1:8 stores one slot per 8 with a ceil(log2 8) = 3-bit index."""
    assert nm_bits(np.eye(2, 16), 8, n=1, m=8) == 2 * 2 * 1 * (8 + 3)


def test_storage_table_marks_inapplicable_formats():
    """The table lists every registered format; 2:4 on a non-compliant mask has NaN bits and a note."""
    table = storage_table(np.ones((2, 8)), 8).set_index("format")
    assert list(table.index) == list(STORAGE_FORMATS)
    assert table.loc["dense", "bits"] == 128 and table.loc["dense", "ratio_to_dense"] == 1.0
    assert np.isnan(table.loc["nm_2_4", "bits"]) and "2:4-compliant" in table.loc["nm_2_4", "note"]


def test_extra_and_registered_formats_plug_in(monkeypatch):
    """A format given as extra= or registered (e.g. EIE CSC later) appears in the table; duplicates are refused."""
    table = storage_table(MASK, 8, formats=("dense",), extra={"toy": lambda mask, bits: 7})
    assert table["format"].tolist() == ["dense", "toy"] and table["bits"].tolist() == [128, 7]
    monkeypatch.setattr(storage, "STORAGE_FORMATS", dict(STORAGE_FORMATS))
    register_storage_format("toy", lambda mask, bits: 1)
    assert "toy" in storage.STORAGE_FORMATS
    with pytest.raises(InputError, match="must be new"):
        register_storage_format("dense", lambda mask, bits: 1)


def test_bad_value_bits_rejected():
    """value_bits must be a positive integer."""
    with pytest.raises(InputError, match=r"value_bits must be an integer >= 1 \(got 0\)"):
        dense_bits(MASK, 0)


@pytest.mark.parametrize("field", ["index_bits", "pointer_bits"])
@pytest.mark.parametrize("bits", [0, -3, 2.5])
def test_csr_and_csc_reject_widths_below_one(field, bits):
    """csr_bits / csc_bits refuse an index or pointer width that is not an integer >= 1 (index_bits=0 was accepted)."""
    for function in (csr_bits, csc_bits):
        with pytest.raises(InputError, match=rf"{field} must be an integer >= 1 \(got {bits!r}\)"):
            function(MASK, 8, **{field: bits})


def test_nm_bits_rejects_index_width_below_one():
    """nm_bits(index_bits=0) raises InputError naming the field and the value."""
    with pytest.raises(InputError, match=r"index_bits must be an integer >= 1 \(got 0\)"):
        nm_bits(MASK, 16, index_bits=0)
