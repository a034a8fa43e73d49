"""The ``energysim report`` subcommand: one self-contained HTML file from a results folder.

``energysim report RESULTS [-o report.html]`` renders whichever of
``estimate.csv``, ``summary.csv``, ``energy.csv``, ``compare.csv`` and ``sensitivity.csv`` the
folder ``RESULTS`` holds (see :mod:`energysim.report.html`); without ``-o`` the
report is written to ``RESULTS/report.html``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TextIO

from energysim.errors import InputError


def run_report(args: argparse.Namespace, out: TextIO) -> int:
    """Handler of ``energysim report``: build the HTML file, write one summary line to ``out``; return 0."""
    from energysim.report.html import RESULT_FILES, build_report

    results = Path(args.results)
    out_path = Path(args.out) if args.out else results / "report.html"
    if out_path.suffix.lower() not in (".html", ".htm"):
        raise InputError(f"report output file must end in .html (got {str(out_path)!r})")
    path = build_report(results, out_path)
    used = [name for name in RESULT_FILES if (results / name).is_file()]
    out.write(f"wrote {path} ({path.stat().st_size / 1024:.0f} KiB, self-contained) from {', '.join(used)}\n")
    return 0


def register(subparsers) -> None:
    """Add the ``report`` subcommand to an argparse subparsers object."""
    parser = subparsers.add_parser(
        "report",
        help="write one self-contained HTML report (tables + plots) of a results folder",
        description="Render estimate.csv, summary.csv, energy.csv, compare.csv and sensitivity.csv (whichever exist) of a results "
        "folder as one HTML file with embedded plots that opens offline (see docs/reports.md).",
    )
    parser.add_argument("results", help="results folder (written by energysim run/estimate --out or energysim compare)")
    parser.add_argument("-o", "--out", help="output .html file (default RESULTS/report.html)")
    parser.set_defaults(handler=run_report)
