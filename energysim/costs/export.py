"""Cost tables as DataFrames shaped like the lecture's (Operation, Energy [pJ], Relative Cost)."""

from __future__ import annotations

import pandas as pd

from energysim.costs.table import CostTable
from energysim.errors import InputError


def operation_table(table: CostTable, bits: int | None = None) -> pd.DataFrame:
    """The table's entries with energy and cost relative to its reference entry.

    Parameters
    ----------
    table
        A built-in or user cost table.
    bits
        If given, every entry is priced at this width through the scaling rules
        (sources say which rule), and relative costs use the reference at this width.

    Returns
    -------
    pandas.DataFrame
        Columns: Operation, Energy [pJ], Relative Cost, Source.
    """
    if bits is not None and bits <= 0:
        raise InputError(f"bits must be > 0 (got {bits})")
    reference = table.reference_entry()
    if bits is not None:
        reference = table.lookup(reference.component, reference.action, bits)
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
            size = f", {entry.capacity_bytes // 1024} KB" if entry.capacity_bytes else ""
            label = f"{bits}-bit {entry.component.replace('_', ' ')} {entry.action}{size}"
        rows.append({
            "Operation": label,
            "Energy [pJ]": priced.energy_pj,
            "Relative Cost": priced.energy_pj / reference.energy_pj if reference.energy_pj else float("nan"),
            "Source": priced.source if bits is not None else entry.source,
        })
    return pd.DataFrame(rows)
