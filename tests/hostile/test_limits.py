"""The limits module (issue 13): one place, every limit documented, every refusal names the limit and how to raise it."""

from __future__ import annotations

import pytest

from energysim import limits
from energysim.errors import InputError


@pytest.mark.parametrize("limit", limits.LIMITS, ids=[limit.env for limit in limits.LIMITS])
def test_every_limit_is_documented_and_refusals_say_how_to_raise_it(limit, monkeypatch):
    """Each limit's environment variable is in the module docstring; its refusal quotes the value, the limit and the variable."""
    assert limit.env in limits.__doc__
    monkeypatch.delenv(limit.env, raising=False)
    assert limit.value == limit.default
    with pytest.raises(InputError) as info:
        limit.check("the thing", limit.default + 1)
    message = str(info.value)
    assert f"{limit.default + 1:,} {limit.unit}" in message and limit.stated in message and limit.env in message


@pytest.mark.parametrize("raw", ["lots", "0", "-5", "1.5"])
def test_a_bad_environment_value_is_refused_by_name(raw, monkeypatch):
    """ENERGYSIM_ARRAY_BYTES=lots is an InputError naming the variable, not a silent default."""
    monkeypatch.setenv("ENERGYSIM_ARRAY_BYTES", raw)
    with pytest.raises(InputError, match="environment variable ENERGYSIM_ARRAY_BYTES must be a positive integer"):
        limits.ARRAY_BYTES.value


def test_environment_raises_a_limit(monkeypatch):
    """Setting the variable raises the limit for the process (underscores allowed: 8_000)."""
    monkeypatch.setenv("ENERGYSIM_DIMENSION", "8_000")
    assert limits.DIMENSION.value == 8000
    limits.DIMENSION.check("x", 8000)


def test_read_bounded_stops_at_the_limit(tmp_path, monkeypatch):
    """A file one byte over the text limit is refused after reading limit + 1 bytes, naming the file and the limit."""
    monkeypatch.setenv("ENERGYSIM_TEXT_FILE_BYTES", "10")
    path = tmp_path / "big.toml"
    path.write_bytes(b"x" * 11)
    with pytest.raises(InputError, match=r"big\.toml: the file holds more than 10 bytes"):
        limits.read_bounded(path)
    path.write_bytes(b"x" * 10)
    assert limits.read_bounded(path) == b"x" * 10


@pytest.mark.parametrize("shape, fragment", [
    ((200_000, 200_000), "the array of shape (200000, 200000) is 320,000,000,000 bytes, over the array memory budget"),
    ((2**40, 1), "over the largest layer dimension limit"),
    ((0, 3), "shape must be positive integers (got (0, 3))"),
    ((True, 3), "shape must be positive integers (got (True, 3))"),
    ((1.5, 2), "shape must be positive integers (got (1.5, 2))"),
])
def test_check_shape_refuses_a_declared_shape_before_allocation(shape, fragment):
    """check_shape refuses a zero, boolean or float size, a size over DIMENSION and bytes over ARRAY_BYTES, naming the shape."""
    with pytest.raises(InputError) as info:
        limits.check_shape("tensor 'w'", shape)
    assert str(info.value).startswith("tensor 'w': ") and fragment in str(info.value)


def test_check_shape_counts_elements():
    """A shape within the limits returns its element count (numpy integers accepted)."""
    import numpy as np

    assert limits.check_shape("w", (np.int64(3), 4), itemsize=4) == 12


def test_toml_with_byte_order_mark_reads_like_without(tmp_path):
    """A UTF-8 byte-order mark before a TOML file (Windows editors write one) is skipped, not 'Invalid statement'."""
    from energysim.config.loading import load_toml

    (tmp_path / "bom.toml").write_bytes("\ufeffname = 'x'\n[t]\na = 1\n".encode("utf-8"))
    (tmp_path / "plain.toml").write_bytes(b"name = 'x'\n[t]\na = 1\n")
    assert load_toml(tmp_path / "bom.toml") == load_toml(tmp_path / "plain.toml") == {"name": "x", "t": {"a": 1}}


def test_read_bounded_allocates_the_file_not_the_limit(tmp_path):
    """A 1 kB file is read with about 1 kB of memory, not the 64 MiB text-file limit (read(n) allocates n first)."""
    import tracemalloc

    path = tmp_path / "small.toml"
    path.write_bytes(b"x" * 1000)
    tracemalloc.start()
    try:
        assert limits.read_bounded(path) == b"x" * 1000
        peak_bytes = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak_bytes < 1 << 20
