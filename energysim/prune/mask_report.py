"""Per-layer mask report of a pruned model: sparsity, load imbalance, 2:4 distance, storage.

Joins the shared format statistics of :mod:`energysim.formats` for every
weight layer, so the pruning engine reports the same numbers the engines use.
"""

from __future__ import annotations

import pandas as pd

from energysim.formats.mask_stats import mask_statistics
from energysim.formats.nm_compliance import nm_compliance
from energysim.formats.storage import storage_table
from energysim.prune.models import Model


def layer_mask_table(model: Model, value_bits: int = 16) -> pd.DataFrame:
    """One row per weight layer with mask statistics and storage bits.

    Parameters
    ----------
    model
        A (pruned) model; a weight counts as kept when it is non-zero.
    value_bits
        Bits per stored weight value.

    Returns
    -------
    pandas.DataFrame
        Columns ``layer``, ``rows``, ``cols`` (the GEMM view (M, K)), ``nnz``,
        ``sparsity``, ``row_imbalance``, ``col_imbalance``,
        ``nm24_violating_fraction``, ``nm24_excess_nonzeros`` and, for every
        registered storage format, ``<format>_bits`` (NaN where it does not
        apply).
    """
    rows = []
    for name in model.weight_layers:
        weights = model.weights(name)
        stats = mask_statistics(weights)
        compliance = nm_compliance(weights, 2, 4)
        row = {
            "layer": name,
            "rows": stats.rows,
            "cols": stats.cols,
            "nnz": stats.nnz,
            "sparsity": stats.sparsity,
            "row_imbalance": stats.row_imbalance,
            "col_imbalance": stats.col_imbalance,
            "nm24_violating_fraction": compliance.violating_fraction,
            "nm24_excess_nonzeros": compliance.excess_nonzeros,
        }
        for _, entry in storage_table(weights, value_bits).iterrows():
            row[f"{entry['format']}_bits"] = entry["bits"]
        rows.append(row)
    return pd.DataFrame(rows)
