"""Units and conversions used across energysim.

Energies are carried in picojoules (``_pj``), time in clock cycles
(``_cycles``) or seconds (``_s``), sizes in bits and bytes, clocks in GHz.
"""

from __future__ import annotations

PJ_PER_UJ = 1.0e6
"""Picojoules in one microjoule."""

BITS_PER_BYTE = 8


def ceil_div(numerator: int, denominator: int) -> int:
    """Integer ceiling division for non-negative numerator and positive denominator."""
    return -(-numerator // denominator)
