"""Names of the pruning patterns a sweep takes, and their parsing (``fine``, ``nm:2:4``, ...).

Kept apart from :mod:`energysim.sweep` so that the command line lists the patterns in
its help without importing the sweep machinery (pandas, the engines).
"""

from __future__ import annotations

from energysim.errors import InputError

PATTERNS = ("dense", "fine", "fine_global", "vector", "kernel", "channel")
"""Pattern names besides ``nm:N:M`` (e.g. ``nm:2:4``)."""


def parse_nm(text: str) -> tuple[int, int]:
    """Parse an ``N:M`` pattern such as ``2:4`` (the 1 <= N < M rule is :func:`~energysim.formats.nm_compliance.check_pattern`'s).

    The one N:M parser of the CLI: ``prune --nm`` and the ``nm:N:M`` patterns of ``compare``.
    """
    from energysim.formats.nm_compliance import check_pattern

    try:
        n, m = (int(p) for p in text.split(":"))
    except ValueError:
        raise InputError(f"N:M pattern must look like 2:4 (got {text!r})") from None
    return check_pattern(n, m)


def parse_pattern(pattern: str) -> tuple[str, tuple[int, int]]:
    """Split ``nm:N:M`` into ('nm', (N, M)) with :func:`parse_nm`; other patterns map to themselves."""
    if pattern.startswith("nm:"):
        try:
            return "nm", parse_nm(pattern[3:])
        except InputError as exc:
            raise InputError(f"pattern {pattern!r} must be written nm:N:M, e.g. nm:2:4 ({exc})") from None
    if pattern not in PATTERNS:
        raise InputError(f"pattern must be one of {', '.join(PATTERNS)} or nm:N:M (got {pattern!r})")
    return pattern, (2, 4)
