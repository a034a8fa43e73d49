"""Cost tables as DataFrames shaped like the lecture's (Operation, Energy [pJ], Relative Cost)."""

from __future__ import annotations

import pandas as pd

from energysim.costs.table import CostTable
from energysim.errors import InputError


def operation_table(table: CostTable, bits: int | None = None, reference: str | None = None) -> pd.DataFrame:
    """The table's entries with energy and cost relative to its reference entry.

    Parameters
    ----------
    table
        A built-in or user cost table.
    bits
        If given, every entry is priced at this width through the scaling rules
        (sources say which rule), and relative costs use the reference at this width.
    reference
        ``component.action`` or ``component.action.bits`` to express costs against
        (default: the table's own reference, the 32-bit int add for the lecture).

    Returns
    -------
    pandas.DataFrame
        Columns: Operation, Energy [pJ], Relative Cost, Source.
    """
    if bits is not None and bits <= 0:
        raise InputError(f"--bits: bits must be > 0 (got {bits})")
    if reference is None:
        ref = table.reference_entry()
        ref = table.lookup(ref.component, ref.action, bits) if bits is not None else ref
    else:
        parts = reference.split(".")
        if len(parts) not in (2, 3) or (len(parts) == 3 and not parts[2].isdigit()):
            raise InputError(f"reference must be component.action or component.action.bits (got {reference!r})")
        ref_bits = int(parts[2]) if len(parts) == 3 else (bits or 32)
        ref = table.lookup(parts[0], parts[1], ref_bits)
    reference_entry = ref
    rows = []
    seen: set[tuple] = set()
    for entry in table.entries:
        if bits is None:
            priced, label = entry, entry.label or f"{entry.bits}-bit {entry.component} {entry.action}"
        else:
            key = (entry.component, entry.action, entry.capacity_bytes)
            if key in seen:
                continue
            seen.add(key)
            priced = table.lookup(entry.component, entry.action, bits, entry.capacity_bytes)
            width = f"{entry.bits}-bit"
            if entry.label.startswith(width):  # the table's own wording at the new width
                label = f"{bits}-bit{entry.label[len(width):]}"
            else:
                size = f", {entry.capacity_bytes // 1024} KB" if entry.capacity_bytes else ""
                label = f"{bits}-bit {entry.component.replace('_', ' ')} {entry.action}{size}"
        rows.append({
            "Operation": label,
            "Energy [pJ]": priced.energy_pj,
            "Relative Cost": priced.energy_pj / reference_entry.energy_pj if reference_entry.energy_pj else float("nan"),
            "Source": priced.source if bits is not None else entry.source,
        })
    return pd.DataFrame(rows)
