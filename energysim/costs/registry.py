"""The built-in cost tables, by name, and resolution of a table name or file."""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path

from energysim.costs.table import CostTable
from energysim.errors import ConfigError

BUILTIN_TABLES: tuple[str, ...] = ("lecture-45nm", "horowitz-45nm", "a100-class")
"""Names of the tables shipped in ``energysim/costs/data`` (file ``<name>.toml``)."""


@cache
def builtin_table(name: str) -> CostTable:
    """Load a built-in table by name."""
    if name not in BUILTIN_TABLES:
        raise ConfigError(f"unknown cost table '{name}' (built-in tables: {', '.join(BUILTIN_TABLES)})")
    with resources.as_file(resources.files("energysim.costs") / "data" / f"{name}.toml") as path:
        return CostTable.from_file(path)


def resolve_table(name_or_path: str, base_dir: Path | None = None) -> CostTable:
    """A built-in table by name, or a user table from a TOML path (relative to ``base_dir``)."""
    if name_or_path in BUILTIN_TABLES:
        return builtin_table(name_or_path)
    if name_or_path.endswith(".toml"):
        path = Path(name_or_path)
        if base_dir is not None and not path.is_absolute():
            path = base_dir / path
        return CostTable.from_file(path)
    raise ConfigError(
        f"unknown cost table '{name_or_path}' (built-in tables: {', '.join(BUILTIN_TABLES)}; or give a .toml file)"
    )
