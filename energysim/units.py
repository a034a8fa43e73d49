"""Units and conversions used across energysim.

Energies are carried in picojoules (``_pj``), time in clock cycles
(``_cycles``) or seconds (``_s``), sizes in bits and bytes, clocks in GHz.
"""

from __future__ import annotations

PJ_PER_UJ = 1.0e6
"""Picojoules in one microjoule."""

PJ_PER_MJ = 1.0e9
"""Picojoules in one millijoule."""

BITS_PER_BYTE = 8


def pj_to_uj(energy_pj: float) -> float:
    """Convert picojoules to microjoules."""
    return energy_pj / PJ_PER_UJ


def cycles_to_seconds(cycles: float, clock_ghz: float) -> float:
    """Convert a cycle count to seconds at a clock given in GHz."""
    return cycles / (clock_ghz * 1.0e9)


def ceil_div(numerator: int, denominator: int) -> int:
    """Integer ceiling division for non-negative numerator and positive denominator."""
    return -(-numerator // denominator)
