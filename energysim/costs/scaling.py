"""Named scaling rules that derive a cost not published in a table.

Each rule is a pure function and carries a name; a derived cost's ``source``
names the rule and the published point it started from, so every derived pJ
is traceable.

Rules
-----
``adder-linear-bits``
    Adder energy grows linearly with operand width: ``E(b) = E(b0) * b / b0``.
    Check on Horowitz's table: 8-bit 0.03 pJ -> 32-bit 0.12 pJ (published 0.1).
``multiplier-quadratic-bits``
    Array-multiplier energy grows with the square of the width:
    ``E(b) = E(b0) * (b / b0)**2``. Check: 8-bit 0.2 pJ -> 32-bit 3.2 pJ (published 3.1).
``memory-linear-width``
    A memory access moves ``b`` bits at a fixed energy per bit for a given array:
    ``E(b) = E(b0) * b / b0``.
``sram-capacity-loglog``
    SRAM access energy versus capacity is interpolated linearly in log-log space
    between published capacities (Horowitz: 8 KB 10 pJ, 32 KB 20 pJ, 1 MB 100 pJ per
    64b: slope ~0.5, the usual square-root rule). Outside the published range the
    nearest segment's slope is extended and the source says "extrapolated".
"""

from __future__ import annotations

import math

from energysim.errors import InputError

ADDER_RULE = "adder-linear-bits"
MULTIPLIER_RULE = "multiplier-quadratic-bits"
MEMORY_WIDTH_RULE = "memory-linear-width"
SRAM_CAPACITY_RULE = "sram-capacity-loglog"

_WIDTH_EXPONENT = {ADDER_RULE: 1.0, MULTIPLIER_RULE: 2.0, MEMORY_WIDTH_RULE: 1.0}


def width_rule_for(component: str) -> str:
    """The bit-width rule that applies to a component, by its name.

    Components whose name ends in ``_mult`` scale quadratically, ``_add`` linearly,
    everything else (memories, register files, wires) linearly in bits moved.
    """
    if component.endswith("_mult") or component.endswith("mult"):
        return MULTIPLIER_RULE
    if component.endswith("_add") or component.endswith("add"):
        return ADDER_RULE
    return MEMORY_WIDTH_RULE


def scale_width(energy_pj: float, from_bits: int, to_bits: int, rule: str) -> float:
    """Scale an energy from one operand width to another by a named width rule.

    Parameters
    ----------
    energy_pj
        Energy at ``from_bits``, in pJ.
    from_bits, to_bits
        Operand or word widths in bits (> 0).
    rule
        One of ``adder-linear-bits``, ``multiplier-quadratic-bits``, ``memory-linear-width``.
    """
    return energy_pj * (to_bits / from_bits) ** _WIDTH_EXPONENT[rule]


def scale_capacity(points: list[tuple[int, float]], capacity_bytes: int) -> tuple[float, bool]:
    """Interpolate SRAM access energy at a capacity from published (capacity, pJ) points.

    Parameters
    ----------
    points
        At least two (capacity_bytes, energy_pj) pairs at one word width.
    capacity_bytes
        The capacity to price, in bytes (> 0).

    Returns
    -------
    (energy_pj, extrapolated)
        The log-log interpolated energy in pJ, and whether it lies outside the points.
    """
    pts = sorted(points)
    if capacity_bytes <= pts[0][0]:
        (c0, e0), (c1, e1) = pts[0], pts[1]
    elif capacity_bytes >= pts[-1][0]:
        (c0, e0), (c1, e1) = pts[-2], pts[-1]
    else:
        idx = next(i for i in range(len(pts) - 1) if pts[i][0] <= capacity_bytes <= pts[i + 1][0])
        (c0, e0), (c1, e1) = pts[idx], pts[idx + 1]
    if e0 <= 0 or e1 <= 0:
        raise InputError(
            f"{SRAM_CAPACITY_RULE} needs positive energies at the published capacities (got {e0:g} pJ at {c0} B "
            f"and {e1:g} pJ at {c1} B)"
        )
    slope = math.log(e1 / e0) / math.log(c1 / c0)
    energy = e0 * (capacity_bytes / c0) ** slope
    extrapolated = capacity_bytes < pts[0][0] or capacity_bytes > pts[-1][0]
    return energy, extrapolated
