"""Cost tables: per-action energies in pJ, each with its source, and scaling rules."""

from energysim.costs.registry import BUILTIN_TABLES, builtin_table, resolve_table
from energysim.costs.table import CostEntry, CostTable

__all__ = ["BUILTIN_TABLES", "CostEntry", "CostTable", "builtin_table", "resolve_table"]
