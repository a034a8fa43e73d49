"""Validation work grows linearly with the input (issue 13, class 4): no quadratic duplicate checks."""

from __future__ import annotations

import time

import pytest

from energysim.api import validate_file
from energysim.errors import EnergySimError

HEAD = """\
schema_version = 1
name = "many-levels"
clock_ghz = 1.0
cost_table = "lecture-45nm"

[engine]
kind = "dense"
rows = 4
cols = 4
dataflow = "output_stationary"

[[memory]]
name = "DRAM"
kind = "dram"
word_bits = 32
bandwidth_words_per_cycle = 16
"""

LEVEL = '\n[[memory]]\nname = "L{index}"\nkind = "sram"\ncapacity_bytes = 1024\nword_bits = 32\nbandwidth_words_per_cycle = 8\n'


def _validate_seconds(tmp_path, levels: int) -> float:
    path = tmp_path / f"levels-{levels}.toml"
    path.write_text(HEAD + "".join(LEVEL.format(index=i) for i in range(levels)), encoding="utf-8")
    start = time.perf_counter()
    with pytest.raises(EnergySimError):  # the dense engine takes exactly three levels; the time is what is measured
        validate_file(path)
    return time.perf_counter() - start


@pytest.mark.slow
def test_validation_time_is_linear_in_memory_levels(tmp_path):
    """Four times the memory levels take at most eight times as long to validate (a quadratic check takes sixteen)."""
    small = min(_validate_seconds(tmp_path, 3000) for _ in range(2))
    large = _validate_seconds(tmp_path, 12000)
    assert large < 8 * small, f"3000 levels: {small:.2f} s, 12000 levels: {large:.2f} s"
