"""The exception hierarchy of energysim.

Every error raised on purpose by the library derives from :class:`EnergySimError`,
so callers can catch one type. Messages are one sentence naming the object, the
rule and the offending value; the CLI prints them as they are and exits with 2
(bad input) or 1 (a broken invariant, which is a bug in energysim).
"""

from __future__ import annotations


class EnergySimError(Exception):
    """Root of every error energysim raises on purpose."""


class ConfigError(EnergySimError, ValueError):
    """A configuration, workload or cost-table file (or its in-memory twin) is invalid."""


class InputError(EnergySimError, ValueError):
    """An argument given to the API or the CLI is invalid (a value, a name, a shape)."""


class UnsupportedError(EnergySimError, ValueError):
    """A valid request that an engine cannot execute (e.g. a non-2:4 mask on a 2:4 core)."""


class InvariantError(EnergySimError, RuntimeError):
    """A simulation result broke an invariant (negative count, totals, compulsory traffic)."""
