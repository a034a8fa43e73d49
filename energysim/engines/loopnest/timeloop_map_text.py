"""Timeloop's printed mapping (``map.txt``, or the loop nests of ``stats.txt``) as mapping directives.

Timeloop prints the mapping it evaluated as one block per storage level, outermost
first: a header naming the level and the data spaces it keeps, then its loops,
outer to inner, spatial ones marked::

    DRAM [ Weights:884736 (884736) Inputs:230400 (63361) Outputs:259584 (78654) ]
    -----------------------------------------------------------------------------
    | for M in [0:6)
    |   for C in [0:64)

    shared_glb [ Inputs:3600 (3600) Outputs:43264 (43264) ]
    -------------------------------------------------------
    |     for N in [0:4)
    |         for Q in [0:13) (Spatial-X)

    DummyBuffer [ ]

A ``timeloop-model.stats.txt`` / ``timeloop-mapper.stats.txt`` (recognised by its ``=== name ===``
level headers) gives the same: each level's ``Loop nest:`` under ``MAPPING`` and the data spaces
listed under its ``STATS``, innermost level printed first. (Timeloop leaves out of stats.txt a
level it gives no statistics, such as a dummy fan-out level of a dense design; its spatial loops
are then missing, and the factors no longer multiply to the problem's sizes: refused at import.)

:func:`read_map_text` turns this into the list of directives a mapping YAML holds
(``temporal`` with factors and a permutation inner to outer, ``spatial`` with the X
dimensions first and ``split`` after them, ``bypass`` with ``keep``), so that the
importer checks and converts it the same way. A level that lists no data space keeps
nothing; the compute line (``<< Compute >>``) and the dashed rules are skipped.
"""

from __future__ import annotations

import re
from pathlib import Path

from energysim.errors import ConfigError

_HEADER = re.compile(r"^(?P<name>[A-Za-z_][\w.\-]*)\s*\[(?P<spaces>[^\]]*)\]\s*$")
_LOOP = re.compile(r"^\|?\s*for\s+(?P<dim>\w+)\s+in\s+\[(?P<lo>\d+)\s*:\s*(?P<hi>\d+)\s*\)\s*(?:\((?P<kind>Spatial-[XY])\))?\s*$")
_SPACE = re.compile(r"(?P<name>[A-Za-z_]\w*)\s*:\s*\d+")
_STATS_LEVEL = re.compile(r"^=== (?P<name>\S+) ===$")
_STATS_SPACE = re.compile(r"^ {4}(?P<name>[A-Za-z_]\w*):\s*$")
_STATS_END = ("Networks", "Operational Intensity Stats", "Summary Stats")
MAX_LINES = 10_000
"""Most lines read from a printed mapping (Timeloop prints a few per level)."""


def read_map_text(text: str, path: Path) -> list[dict]:
    """The mapping directives of a Timeloop ``map.txt`` (or of the loop nests of a ``stats.txt``).

    Parameters
    ----------
    text
        The file's text.
    path
        The file, for messages.

    Returns
    -------
    list of dict
        Directives as a mapping YAML gives them: per level a ``temporal`` entry
        (``factors`` ["M=6", "C=64"], ``permutation`` inner to outer), a ``spatial`` entry
        when the level has spatial loops (``permutation`` inner to outer, X dimensions
        first, ``split`` = their number) and a ``bypass`` entry whose ``keep`` lists the data spaces printed.

    Raises
    ------
    ConfigError
        A line that is neither a level header, a loop nor a rule; a loop before any
        level; a loop not starting at 0 (Timeloop's imperfect factorisation, not
        modelled); no level at all. Each message names the file and the line.
    """
    lines = text.splitlines()
    if len(lines) > MAX_LINES:
        raise ConfigError(f"{path}: a Timeloop map.txt must have at most {MAX_LINES} lines (got {len(lines)})")
    if any(_STATS_LEVEL.match(line.strip()) for line in lines):
        return _directives(_stats_levels(lines, path))
    levels: list[dict] = []
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line or set(line) <= {"-", "="} or "<< Compute >>" in line:
            continue
        header = _HEADER.match(line)
        if header:
            spaces = [m["name"] for m in _SPACE.finditer(header["spaces"])]
            levels.append({"name": header["name"], "keep": spaces, "temporal": [], "x": [], "y": [],
                           "source": f"{path}: line {number}"})
            continue
        loop = _loop(line, number, path)
        if loop is None:
            raise ConfigError(f"{path}: line {number}: must be a level header 'Name [ Space:size ... ]' or a loop "
                              f"'for D in [0:N)' with an optional (Spatial-X) or (Spatial-Y) (got {line!r})")
        if not levels:
            raise ConfigError(f"{path}: line {number}: a loop must follow a level header (got {line!r})")
        levels[-1][loop[2]].append(loop[:2])
    if not levels:
        raise ConfigError(f"{path}: no level header found: not a Timeloop map.txt (expected lines like "
                          f"'DRAM [ Weights:96 Inputs:18 ]' followed by 'for K in [0:2)')")
    return _directives(levels)


def _loop(line: str, number: int, path: Path) -> tuple[str, int, str] | None:
    """(dimension, factor, 'temporal' | 'x' | 'y') of a loop line, None for another line."""
    loop = _LOOP.match(line)
    if loop is None:
        return None
    if int(loop["lo"]) != 0:
        raise ConfigError(f"{path}: line {number}: loops must start at 0 (imperfect factorisation is not "
                          f"modelled) (got {line!r})")
    return loop["dim"], int(loop["hi"]), {"Spatial-X": "x", "Spatial-Y": "y"}.get(loop["kind"] or "", "temporal")


def _stats_levels(lines: list[str], path: Path) -> list[dict]:
    """The levels of a Timeloop ``stats.txt`` (innermost printed first): each level's ``Loop nest:`` under MAPPING and
    the data spaces its STATS list; levels without a MAPPING section (the compute level) are left out."""
    levels: list[dict] = []
    section = ""
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if line in _STATS_END:
            break
        header = _STATS_LEVEL.match(line)
        if header:
            levels.append({"name": header["name"], "keep": [], "temporal": [], "x": [], "y": [], "mapped": False,
                           "source": f"{path}: line {number}"})
            section = ""
            continue
        if not levels or not line:
            continue
        if line in ("SPECS", "MAPPING", "STATS"):
            section = line
            levels[-1]["mapped"] |= line == "MAPPING"
        elif section == "MAPPING":
            loop = _loop(line, number, path)
            if loop is not None:
                levels[-1][loop[2]].append(loop[:2])
        elif section == "STATS" and _STATS_SPACE.match(raw):
            levels[-1]["keep"].append(_STATS_SPACE.match(raw)["name"])
    mapped = [level for level in reversed(levels) if level["mapped"]]
    if not mapped:
        raise ConfigError(f"{path}: no level with a MAPPING section: not a Timeloop stats.txt with loop nests")
    return mapped


def _directives(levels: list[dict]) -> list[dict]:
    """Mapping-YAML directives from levels (outermost first) with their loops and kept data spaces; each also carries
    ``source``, the file and line of its level header (named when the level is not in the architecture)."""
    directives: list[dict] = []
    for level in levels:
        temporal = level["temporal"]
        directives.append({"target": level["name"], "type": "temporal", "source": level["source"],
                           "factors": [f"{d}={n}" for d, n in temporal],
                           "permutation": [d for d, _ in reversed(temporal)]})
        spatial = level["x"][::-1] + level["y"][::-1]        # a permutation lists loops inner to outer, X first
        if spatial:
            directives.append({"target": level["name"], "type": "spatial", "source": level["source"],
                               "factors": [f"{d}={n}" for d, n in spatial],
                               "permutation": [d for d, _ in spatial], "split": len(level["x"])})
        directives.append({"target": level["name"], "type": "bypass", "keep": level["keep"], "source": level["source"]})
    return directives
