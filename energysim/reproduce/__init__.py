"""Paper reproductions: model figures printed next to published ones.

Each module named in :data:`REPRODUCTIONS` exposes
``reproduce(quick: bool = False) -> list[tuple[str, pandas.DataFrame]]``: titled
sections whose rows carry the model figure, the published one, their ratio, the
tolerance and whether it is met.
"""

from __future__ import annotations

import importlib

import pandas as pd

from energysim.errors import InputError

REPRODUCTIONS: dict[str, str] = {
    "eie": "energysim.reproduce.eie",
    "a100": "energysim.reproduce.a100",
}
"""Reproduction name -> module."""


def reproduce(name: str, quick: bool = False) -> list[tuple[str, pd.DataFrame]]:
    """Run one reproduction by name."""
    if name not in REPRODUCTIONS:
        raise InputError(f"unknown reproduction {name!r} (known: {', '.join(sorted(REPRODUCTIONS))})")
    module = importlib.import_module(REPRODUCTIONS[name])
    return module.reproduce(quick=quick)
