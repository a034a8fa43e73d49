"""Write result tables as CSV, JSON or Markdown, and a run's notes as text, atomically.

Every file is written to a temporary file, then renamed (:mod:`energysim.atomic_files`).
The notes a command prints (``note: ...``) go to :data:`NOTES_NAME` beside its tables,
one note per paragraph, so a report of the folder carries them (:func:`read_notes`).
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pandas as pd

from energysim.atomic_files import write_text_atomic
from energysim.errors import InputError
from energysim.limits import read_bounded
from energysim.output_folder import NOTES_NAME

FORMATS = ("csv", "json", "md", "tex")


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        if value != 0 and (abs(value) >= 1e12 or abs(value) < 1e-3):
            return f"{value:.4g}"
        if value.is_integer():
            return f"{int(value):,}"
        return f"{value:,.1f}" if abs(value) >= 100 else f"{value:.4g}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value).replace("|", "\\|")


def to_markdown(frame: pd.DataFrame) -> str:
    """A GitHub-flavoured Markdown table of a DataFrame (numbers right-aligned)."""
    header = "| " + " | ".join(str(c) for c in frame.columns) + " |"
    align = "|" + "|".join("---:" if pd.api.types.is_numeric_dtype(frame[c]) else "---" for c in frame.columns) + "|"
    rows = ["| " + " | ".join(_cell(v) for v in row) + " |" for row in frame.itertuples(index=False, name=None)]
    return "\n".join([header, align, *rows])


_LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                  "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def _latex_escape(text: str) -> str:
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in text)


def to_latex(frame: pd.DataFrame) -> str:
    """A LaTeX ``tabular`` (booktabs rules) of a DataFrame, numbers right-aligned, text escaped."""
    spec = "".join("r" if pd.api.types.is_numeric_dtype(frame[c]) else "l" for c in frame.columns)
    lines = [f"\\begin{{tabular}}{{{spec}}}", "\\toprule",
             " & ".join(_latex_escape(str(c)) for c in frame.columns) + r" \\", "\\midrule"]
    for row in frame.itertuples(index=False, name=None):
        lines.append(" & ".join(_latex_escape(_cell(v).replace("\\|", "|")) for v in row) + r" \\")
    lines += ["\\bottomrule", "\\end{tabular}"]
    return "\n".join(lines)


def render(frame: pd.DataFrame, fmt: str) -> str:
    """Render a DataFrame as ``csv``, ``json`` (records), ``md`` or ``tex`` (LaTeX tabular) text."""
    if fmt == "csv":
        return frame.to_csv(index=False)
    if fmt == "json":
        return json.dumps(json.loads(frame.to_json(orient="records")), indent=2) + "\n"
    if fmt == "md":
        return to_markdown(frame) + "\n"
    if fmt == "tex":
        return to_latex(frame) + "\n"
    raise InputError(f"format must be one of {', '.join(FORMATS)} (got {fmt!r})")


def write_table(frame: pd.DataFrame, folder: Path, stem: str, fmt: str) -> Path:
    """Write ``frame`` to ``folder/stem.fmt`` atomically and return the path."""
    path = Path(folder) / f"{stem}.{fmt}"
    write_text_atomic(path, render(frame, fmt))
    return path


def write_notes(notes: list[str], folder: Path) -> Path | None:
    """Write ``notes`` to ``folder/notes.txt`` (:data:`NOTES_NAME`), one paragraph each, atomically.

    Parameters
    ----------
    notes
        The notes as printed, each one paragraph (``note: ...``).
    folder
        The results folder.

    Returns
    -------
    pathlib.Path or None
        The file written, or None (nothing written) when there are no notes.
    """
    paragraphs = [note.strip() for note in notes if note.strip()]
    if not paragraphs:
        return None
    path = Path(folder) / NOTES_NAME
    write_text_atomic(path, "\n\n".join(paragraphs) + "\n")
    return path


def read_notes(folder: Path) -> list[str]:
    """The notes of a results folder (:data:`NOTES_NAME`), one string per paragraph; [] when it has none.

    Lines of one paragraph are joined with a space, so a note wrapped by hand reads as one.

    Raises
    ------
    InputError
        If the file cannot be read or is larger than a text file may be (naming the file).
    """
    path = Path(folder) / NOTES_NAME
    if not path.is_file():
        return []
    try:
        text = read_bounded(path).decode("utf-8", errors="replace")
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror})") from None
    paragraphs = (" ".join(line.strip() for line in block.splitlines()) for block in re.split(r"\n\s*\n", text))
    return [paragraph for paragraph in paragraphs if paragraph]
