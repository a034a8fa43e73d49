"""Timeloop's printed mapping (``timeloop-model.map.txt`` / ``timeloop-mapper.map.txt``) as mapping directives.

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
MAX_LINES = 10_000
"""Most lines read from a printed mapping (Timeloop prints a few per level)."""


def read_map_text(text: str, path: Path) -> list[dict]:
    """The mapping directives of a Timeloop ``map.txt``.

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
        when the level has spatial loops (X dimensions first, ``split`` = their
        number) and a ``bypass`` entry whose ``keep`` lists the data spaces printed.

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
    levels: list[dict] = []
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line or set(line) <= {"-", "="} or "<< Compute >>" in line:
            continue
        header = _HEADER.match(line)
        if header:
            spaces = [m["name"] for m in _SPACE.finditer(header["spaces"])]
            levels.append({"name": header["name"], "keep": spaces, "temporal": [], "x": [], "y": []})
            continue
        loop = _LOOP.match(line)
        if loop is None:
            raise ConfigError(f"{path}: line {number}: must be a level header 'Name [ Space:size ... ]' or a loop "
                              f"'for D in [0:N)' with an optional (Spatial-X) or (Spatial-Y) (got {line!r})")
        if not levels:
            raise ConfigError(f"{path}: line {number}: a loop must follow a level header (got {line!r})")
        if int(loop["lo"]) != 0:
            raise ConfigError(f"{path}: line {number}: loops must start at 0 (imperfect factorisation is not "
                              f"modelled) (got {line!r})")
        entry = (loop["dim"], int(loop["hi"]))
        slot = {"Spatial-X": "x", "Spatial-Y": "y"}.get(loop["kind"] or "", "temporal")
        levels[-1][slot].append(entry)
    if not levels:
        raise ConfigError(f"{path}: no level header found: not a Timeloop map.txt (expected lines like "
                          f"'DRAM [ Weights:96 Inputs:18 ]' followed by 'for K in [0:2)')")
    directives: list[dict] = []
    for level in levels:
        temporal = level["temporal"]
        directives.append({"target": level["name"], "type": "temporal",
                           "factors": [f"{d}={n}" for d, n in temporal],
                           "permutation": [d for d, _ in reversed(temporal)]})
        spatial = level["x"] + level["y"]
        if spatial:
            directives.append({"target": level["name"], "type": "spatial",
                               "factors": [f"{d}={n}" for d, n in spatial],
                               "permutation": [d for d, _ in spatial], "split": len(level["x"])})
        directives.append({"target": level["name"], "type": "bypass", "keep": level["keep"]})
    return directives
