"""Tables for a person at a terminal: aligned columns that fit the width, SI-scaled units.

Result files (CSV, JSON) keep every number exact in its base unit; this module
only renders for reading. Each cell is scaled on its own to an SI prefix with
three significant figures (``0.4315 J`` -> ``432 mJ``, ``5.093e-06 s`` ->
``5.09 us``), utilisation is a percentage, ratios to dense are plain fractions
with three significant figures (``0.598``: the pruned run needs 0.598 of the
dense run's energy).

A table lists its :class:`Column` s most important first. The compact default
keeps the columns marked ``compact`` and then drops columns from the right
until the table fits the terminal width (``COLUMNS`` or the terminal's own);
the note under the table names what was left out. ``wide=True`` shows every
column whatever the width.
"""

from __future__ import annotations

import math
import shutil
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable, Literal

if TYPE_CHECKING:  # imported where a frame is read, so that importing this module (the CLI does) loads neither
    import pandas as pd

Kind = Literal["text", "count", "number", "energy_pj", "energy_uj", "time_s", "time_us", "percent", "ratio", "bytes",
               "bits", "flag", "shown"]
"""How a column's values are shown: ``energy_pj`` and ``energy_uj`` are energies in pJ and uJ
(shown in J with an SI prefix), ``time_s``/``time_us`` durations, ``percent`` a fraction shown
as %, ``ratio`` a plain fraction, ``bytes``/``bits`` sizes (shown in B), ``count`` integers,
``shown`` text already formatted with its unit (right-aligned, as numbers are)."""

MAC_EQUIVALENTS = "MAC-eq"
"""How a count of MAC-equivalents is labelled (hardware with ``energy_unit = "MAC"``)."""

SIGNIFICANT_FIGURES = 3
"""Significant figures of every scaled number, percentage and ratio."""
NUMBER_FIGURES = 4
"""Significant figures of a plain number without a unit (an integer-valued one is shown exactly)."""

_PREFIXES = ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"), (1.0, ""), (1e-3, "m"), (1e-6, "u"), (1e-9, "n"),
             (1e-12, "p"), (1e-15, "f"))
_TO_BASE = {"energy_pj": (1e-12, "J"), "energy_uj": (1e-6, "J"), "time_s": (1.0, "s"), "time_us": (1e-6, "s"),
            "bytes": (1.0, "B"), "bits": (1 / 8, "B"), "count": (1.0, "")}
COLUMN_GAP = "  "
"""Space between two columns."""
MAX_TEXT_COMPACT = 40
"""Longest text cell in the compact layout (longer ones end in '...')."""


def significant(value: float, figures: int = SIGNIFICANT_FIGURES) -> str:
    """``value`` with ``figures`` significant figures in fixed notation (``0.000732``, ``156``, ``20.1``).

    Integers of more digits than ``figures`` keep every digit (``4160``, not ``4.16e+03``).
    """
    if value == 0:
        return "0"
    digits = figures - 1 - math.floor(math.log10(abs(value)))
    rounded = round(value, digits)
    if rounded != 0 and math.floor(math.log10(abs(rounded))) != math.floor(math.log10(abs(value))):
        digits -= 1  # 9.996 rounds up to 10.0: one digit fewer after the point
    return f"{rounded:.{max(digits, 0)}f}"


def si(value: float, unit: str, figures: int = SIGNIFICANT_FIGURES) -> str:
    """``value`` (in the base unit ``unit``) scaled to an SI prefix: ``si(0.0004315, 'J') == '432 uJ'``.

    The mantissa is in [1, 1000); a value that rounds up to 1000 takes the next
    prefix (``999.6 -> 1.00 k``). Zero is ``0 unit``; NaN is an empty string.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if value == 0:
        return f"0 {unit}".strip()
    magnitude = abs(value)
    scale, prefix = _PREFIXES[-1]
    for candidate, name in _PREFIXES:
        if magnitude >= candidate:
            scale, prefix = candidate, name
            break
    text = significant(value / scale, figures)
    if abs(float(text)) >= 1000 and scale < _PREFIXES[0][0]:
        index = [s for s, _ in _PREFIXES].index(scale)
        scale, prefix = _PREFIXES[index - 1]
        text = f"{value / scale:.{figures - 1}f}"
    return f"{text} {prefix}{unit}".strip()


def percent(fraction: float) -> str:
    """A fraction as a percentage with three significant figures: ``0.0564 -> '5.64 %'``, ``1 -> '100 %'``."""
    if fraction is None or (isinstance(fraction, float) and math.isnan(fraction)):
        return ""
    return f"{significant(100 * fraction)} %"


def ratio(value: float) -> str:
    """A ratio to dense (pruned / dense) with three significant figures: ``0.59812 -> '0.598'``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return significant(value)


def format_value(value: object, kind: Kind) -> str:
    """One cell: ``value`` shown as ``kind`` says (missing values are empty)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if kind in ("text", "shown"):
        # a float in a text column (a reproduction's "model" column also holding a layer name) is shown as numbers are
        is_float = isinstance(value, float) and not float(value).is_integer()
        return significant(value, NUMBER_FIGURES) if is_float else str(value)
    if kind == "flag":
        return "yes" if bool(value) else "no"
    if kind == "percent":
        return percent(float(value))
    if kind == "ratio":
        return ratio(float(value))
    if kind == "number":
        number = float(value)
        return f"{int(number)}" if number.is_integer() and abs(number) < 1e15 else significant(number, NUMBER_FIGURES)
    if kind == "count" and abs(float(value)) < 1e4:
        return f"{int(value):,}" if float(value).is_integer() else significant(float(value))
    scale, unit = _TO_BASE[kind]
    return si(float(value) * scale, unit)


@dataclass(frozen=True)
class Column:
    """One column of a terminal table.

    Attributes
    ----------
    name
        Column of the DataFrame.
    header
        Heading shown (default: ``name``).
    kind
        How values are shown (:data:`Kind`).
    compact
        Shown in the compact default; ``False``: only with ``wide``.
    """

    name: str
    kind: Kind = "text"
    header: str = ""
    compact: bool = True

    @property
    def title(self) -> str:
        """The heading shown."""
        return self.header or self.name


def guess_kind(name: str, series: pd.Series) -> Kind:
    """The kind of a column named ``name``, told by its unit suffix (``_pj``, ``_uj``, ``_s``, ``_us``, ...)."""
    import numpy as np
    import pandas as pd

    if pd.api.types.is_bool_dtype(series):
        return "flag"
    if series.dtype == object:
        present = series.dropna()
        if len(present) and all(isinstance(v, (bool, np.bool_)) for v in present):
            return "flag"  # True/False with gaps (None: a row that is not judged)
    if not pd.api.types.is_numeric_dtype(series):
        return "text"
    suffixes: tuple[tuple[str, Kind], ...] = (
        ("_pj", "energy_pj"), ("_uj", "energy_uj"), ("_us", "time_us"), ("_s", "time_s"), ("_bytes", "bytes"),
        ("_bits", "bits"), ("_vs_dense", "ratio"), ("utilisation", "percent"),
    )
    for suffix, kind in suffixes:
        if name.endswith(suffix) or f"{suffix}_" in name:
            return kind
    if pd.api.types.is_integer_dtype(series):
        return "count"
    return "number"


def auto_columns(frame: pd.DataFrame) -> list[Column]:
    """A column for every column of ``frame``, its kind guessed from the name (:func:`guess_kind`)."""
    return [Column(str(name), guess_kind(str(name), frame[name])) for name in frame.columns]


def terminal_width() -> int:
    """Columns of the terminal (``COLUMNS`` if set; 100 when stdout is not a terminal)."""
    return shutil.get_terminal_size((100, 24)).columns


def render_table(frame: pd.DataFrame, columns: Iterable[Column] | None = None, *, wide: bool = False,
                 width: int | None = None) -> str:
    """An aligned text table of ``frame`` (numbers right-aligned, text left-aligned), ending in a newline.

    Parameters
    ----------
    frame
        The rows to show.
    columns
        Columns to show, most important first (default: :func:`auto_columns`).
        A column absent from ``frame`` is an error.
    wide
        Show every column, whatever the width.
    width
        Width to fit, in characters (default :func:`terminal_width`).

    Returns
    -------
    str
        Header, rule, rows; in the compact layout a last line names the columns
        left out, if any, and says ``--wide`` shows them.
    """
    columns = list(columns) if columns is not None else auto_columns(frame)
    missing = [c.name for c in columns if c.name not in frame.columns]
    if missing:
        raise KeyError(f"table has no column(s) {missing} (has {list(frame.columns)})")
    shown = columns if wide else [c for c in columns if c.compact]
    hidden = [c for c in columns if c not in shown]
    cells = {c.name: [_clip(format_value(v, c.kind), wide or c.kind != "text") for v in frame[c.name]] for c in shown}
    widths = {c.name: max([len(c.title), *map(len, cells[c.name])]) for c in shown}
    limit = width or terminal_width()
    while not wide and len(shown) > 1 and _total_width(widths, shown) > limit:
        hidden.insert(0, shown.pop())
    lines = [COLUMN_GAP.join(_align(c.title, widths[c.name], c.kind) for c in shown).rstrip(),
             COLUMN_GAP.join("-" * widths[c.name] for c in shown)]
    for row in range(len(frame)):
        lines.append(COLUMN_GAP.join(_align(cells[c.name][row], widths[c.name], c.kind) for c in shown).rstrip())
    if hidden:
        plural = "s" if len(hidden) > 1 else ""
        note = f"({len(hidden)} more column{plural}: {', '.join(c.title for c in hidden)}; --wide shows all)"
        lines.append(note if len(note) <= limit else f"({len(hidden)} more column{plural}; --wide shows all)")
    return "\n".join(lines) + "\n"


def _clip(text: str, keep: bool) -> str:
    if keep or len(text) <= MAX_TEXT_COMPACT:
        return text
    return text[: MAX_TEXT_COMPACT - 3] + "..."


def _total_width(widths: dict[str, int], shown: list[Column]) -> int:
    return sum(widths[c.name] for c in shown) + len(COLUMN_GAP) * (len(shown) - 1)


def _align(text: str, width: int, kind: Kind) -> str:
    return text.ljust(width) if kind in ("text", "flag") else text.rjust(width)


def in_energy_units(frame: pd.DataFrame, columns: Iterable[Column]) -> tuple[pd.DataFrame, tuple[Column, ...]]:
    """``frame`` and ``columns`` with every energy shown in its row's ``energy_unit`` (joules, or MAC-equivalents).

    Energy columns are those of kind ``energy_pj`` / ``energy_uj`` and the ``pj_per_*`` columns.
    A frame without MAC rows (``energy_unit == "MAC"``, see
    :mod:`energysim.report.tables`) is returned as is; one whose rows are all MAC shows
    the energies as counts headed ``(MAC-eq)`` (a ``*_uj`` column holds MAC-equivalents x 1e-6
    and is scaled back); a mixed one shows each cell with its own unit (``156 uJ``,
    ``49.2 M MAC-eq``) so no column reads as one unit across rows of two.
    """
    import pandas as pd

    columns = tuple(columns)
    units = frame["energy_unit"].astype(str) if "energy_unit" in frame.columns else pd.Series("pJ", index=frame.index)
    mac = (units == "MAC").to_numpy()
    if not mac.any():
        return frame, columns
    energy = [c for c in columns if c.name in frame.columns
              and (c.kind in ("energy_pj", "energy_uj") or c.name.startswith("pj_per_"))]
    scale = {c.name: 1e6 if c.kind == "energy_uj" else 1.0 for c in energy}
    if mac.all():
        shown = frame.assign(**{c.name: frame[c.name] * scale[c.name] for c in energy})
        return shown, tuple(Column(c.name, "count" if c.kind != "number" else "number",
                                   f"{c.title.replace('pJ ', '')} ({MAC_EQUIVALENTS})", c.compact) if c in energy else c
                            for c in columns)

    def cell(value: object, kind: Kind, in_macs: bool, name: str) -> str:
        if in_macs:
            text = format_value(float(value) * scale[name] if value is not None else value,
                                "number" if kind == "number" else "count")
            return f"{text} {MAC_EQUIVALENTS}" if text else ""
        text = format_value(value, kind)
        return f"{text} pJ" if text and kind == "number" else text

    shown = frame.assign(**{c.name: [cell(v, c.kind, m, c.name) for v, m in zip(frame[c.name], mac)] for c in energy})
    return shown, tuple(Column(c.name, "shown", c.title.replace("pJ ", ""), c.compact) if c in energy else c
                        for c in columns)


def render_key_values(pairs: Iterable[tuple[str, str]]) -> str:
    """``key: value`` lines with the values aligned (for totals under a table)."""
    pairs = list(pairs)
    if not pairs:
        return ""
    key_width = max(len(key) for key, _ in pairs)
    return "".join(f"{key + ':':<{key_width + 1}} {value}\n" for key, value in pairs)

