"""Result folders: refuse to write over results already there unless asked to (``--force``).

A folder "holds results" when it has a file energysim writes as a result table
(:data:`RESULT_STEMS` with a table suffix), a sweep journal or the notes of a run
(:data:`NOTES_NAME`). Writing into such a folder is refused with one sentence
naming the files, so that the results of one run are never silently mixed with,
or replaced by, another's; ``force=True`` replaces them, and the result files the
new run did not rewrite are removed so the folder never mixes two runs
(:func:`remove_stale`).
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

from energysim.errors import InputError

RESULT_STEMS = ("energy", "summary", "estimate", "breakdown", "compare", "sensitivity")
"""Stems of the result tables the commands write."""
TABLE_SUFFIXES = (".csv", ".json", ".md", ".tex")
"""Suffixes of result tables."""
JOURNAL_NAME = "points.jsonl"
"""The sweep journal (``energysim compare``)."""
NOTES_NAME = "notes.txt"
"""The notes a command printed, one per paragraph (``run`` / ``estimate --out``, ``compare``; :mod:`energysim.report.files`)."""
PLOT_SUFFIXES = (".png", ".svg", ".pdf")
"""Suffixes of plot files (``--plots DIR``)."""


def result_files(folder: str | Path, option: str = "--out") -> list[Path]:
    """The result files in ``folder`` (sorted; empty when the folder does not exist).

    Raises
    ------
    InputError
        If ``folder`` cannot be a folder: a file is there, the system refuses the
        path (a name too long, a file on the way), or nothing can be written there
        (:func:`check_can_write`), so a job is refused before it runs, not after.
    """
    folder = Path(folder)
    try:
        mode = folder.stat().st_mode
    except FileNotFoundError:
        check_can_write(folder, option)
        return []
    except OSError as exc:
        raise InputError(f"{option} {folder}: cannot be used as an output folder ({exc.strerror})") from None
    if not stat.S_ISDIR(mode):
        raise InputError(f"{option} {folder}: is a file, not a folder")
    check_can_write(folder, option)
    return sorted(p for p in folder.iterdir()
                  if p.is_file() and (p.name in (JOURNAL_NAME, NOTES_NAME)
                                      or (p.stem in RESULT_STEMS and p.suffix in TABLE_SUFFIXES)))


def check_can_write(folder: str | Path, option: str = "--out") -> None:
    """Refuse a folder in which nothing could be created: its nearest existing ancestor refuses a new entry.

    The test is a real one (an empty folder made and removed at once), because
    permission bits do not tell a read-only mount (``/sys``, ``/proc``) from a
    writable one for root.

    Raises
    ------
    InputError
        Naming the option, the path and the system's reason.
    """
    folder = Path(folder)
    ancestor = folder
    while not _exists(ancestor) and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        return  # a file on the way: the caller's stat reports it, or the write names it
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".energysim-probe-", dir=ancestor))
    except OSError as exc:
        where = "" if ancestor == folder else f" (in {ancestor})"
        raise InputError(f"{option} {folder}: cannot be written{where}: {exc.strerror}") from None


def claim(folder: str | Path, force: bool, option: str = "--out", own: tuple[str, ...] = ()) -> list[Path]:
    """Check that results may be written into ``folder``; return the result files already there.

    Parameters
    ----------
    folder
        The output folder (need not exist).
    force
        Allow writing over results already in the folder.
    option
        The command-line option that named the folder (for the message).
    own
        Names of files the command rewrites as a whole (``compare --workload``: ``compare.csv``
        and ``notes.txt``): alone, they do not make the folder one of another command's results.

    Raises
    ------
    InputError
        If the folder holds results (other than ``own`` files only) and ``force`` is False.
    """
    existing = result_files(folder, option)
    if any(p.name not in own for p in existing) and not force:
        names = ", ".join(p.name for p in existing[:4]) + (", ..." if len(existing) > 4 else "")
        raise InputError(f"{option} {folder}: folder already holds results ({names}); "
                         f"give a new folder or add --force to replace them")
    return existing


def remove_stale(existing: list[Path], written: list[Path]) -> list[Path]:
    """Delete the files of ``existing`` that are not in ``written`` (results of an earlier run); return them."""
    keep = {Path(p).resolve() for p in written}
    stale = [p for p in existing if p.resolve() not in keep and p.exists()]
    for path in stale:
        path.unlink()
    return stale


def claim_plots(folder: str | Path, force: bool) -> None:
    """Refuse a ``--plots`` folder that already holds plot files unless ``force``.

    Raises
    ------
    InputError
        If ``folder`` holds ``.png``, ``.svg`` or ``.pdf`` files and ``force`` is False.
    """
    folder = Path(folder)
    result_files(folder, "--plots")  # refuses a path that cannot be a folder
    plots = sorted(p.name for p in folder.iterdir() if p.suffix in PLOT_SUFFIXES) if folder.is_dir() else []
    if plots and not force:
        names = ", ".join(plots[:3]) + (", ..." if len(plots) > 3 else "")
        raise InputError(f"--plots {folder}: folder already holds plots ({names}); "
                         f"give a new folder or add --force to replace them")


def claim_paths(paths: dict[str, list[Path]], force: bool) -> None:
    """Refuse to write over files that exist unless ``force``.

    Parameters
    ----------
    paths
        Option as typed (``--out``, ``--csv``) -> the files that option would write.
    force
        Allow replacing them.

    Raises
    ------
    InputError
        Naming the option and the first existing file, if any exists and ``force`` is False,
        or a folder in which the files could not be created (:func:`check_can_write`).
    """
    for option, files in paths.items():
        for parent in dict.fromkeys(Path(f).parent for f in files):
            check_can_write(parent, option)
    if force:
        return
    for option, files in paths.items():
        taken = [Path(f) for f in files if _exists(Path(f))]
        if taken:
            raise InputError(f"{option}: {taken[0]} already exists; give another path or add --force to replace it")


def _exists(path: Path) -> bool:
    """Whether ``path`` exists; a path the system cannot even look up (name too long) does not."""
    try:
        return path.exists()
    except OSError:
        return False  # the write itself then reports the path as bad input
