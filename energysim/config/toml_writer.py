"""A small TOML writer (``tomllib`` only reads): scalars, lists, tables and arrays of tables.

Used wherever energysim writes a workload (pruning export, model import).
"""

from __future__ import annotations

import math

import numpy as np

from energysim.errors import InputError


def toml_value(value) -> str:
    """One TOML value: string, bool, int, finite float, or a list of those.

    Parameters
    ----------
    value
        The value (numpy integers and floats too).

    Returns
    -------
    str
        Its TOML text.

    Raises
    ------
    InputError
        For NaN/inf floats or unsupported types.
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        number = float(value)
        if not math.isfinite(number):
            raise InputError(f"TOML values must be finite numbers (got {number})")
        return repr(number)
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise InputError(f"TOML writer supports str, bool, int, float and lists (got {type(value).__name__})")


def toml_string(text: str) -> str:
    """A TOML basic string with backslash, quote and control characters escaped.

    Parameters
    ----------
    text
        Any string.

    Returns
    -------
    str
        The quoted TOML string.
    """
    out = []
    for ch in text:
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def toml_key(key: str) -> str:
    """A bare key when possible, else a quoted key.

    Parameters
    ----------
    key
        The key.

    Returns
    -------
    str
        ``key`` itself when it is ASCII letters, digits, ``_`` and ``-`` only, else :func:`toml_string` of it.
    """
    if key and all(ch.isascii() and (ch.isalnum() or ch in "_-") for ch in key):
        return key
    return toml_string(key)


def dumps_toml(document: dict) -> str:
    """Serialise a dict of scalars, lists, one level of tables and arrays of tables to TOML text.

    Keys holding a dict become ``[table]``; keys holding a list of dicts become
    ``[[array]]`` entries; ``None`` values are left out.

    Parameters
    ----------
    document
        The document; scalars first, then its tables and arrays of tables in order.

    Returns
    -------
    str
        TOML text ending in a newline.

    Raises
    ------
    InputError
        For a value :func:`toml_value` cannot write.
    """
    lines: list[str] = []
    scalars = {k: v for k, v in document.items() if not isinstance(v, dict) and not _is_table_list(v)}
    for key, value in scalars.items():
        if value is not None:
            lines.append(f"{toml_key(key)} = {toml_value(value)}")
    for key, value in document.items():
        if isinstance(value, dict):
            lines += ["", f"[{toml_key(key)}]"]
            lines += [f"{toml_key(k)} = {toml_value(v)}" for k, v in value.items() if v is not None]
        elif _is_table_list(value):
            for entry in value:
                lines += ["", f"[[{toml_key(key)}]]"]
                lines += [f"{toml_key(k)} = {toml_value(v)}" for k, v in entry.items() if v is not None]
    return "\n".join(lines) + "\n"


def _is_table_list(value) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)
