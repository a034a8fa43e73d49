"""The ``energysim report`` subcommand: one self-contained HTML file from what energysim wrote.

``energysim report RESULTS [-o report.html] [--plots DIR]`` renders the result
tables of ``RESULTS`` (see :mod:`energysim.report.html`): a folder written by
``run --out`` (csv, json or md), ``estimate --out``, ``compare`` or ``demo``, or
one result file such as ``sensitivity --csv`` output. Without ``-o`` the report is
written to ``RESULTS/report.html`` (next to the file for a single file).
``--plots DIR`` also writes each plot as PNG, SVG and PDF.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TextIO

from energysim.errors import InputError


def run_report(args: argparse.Namespace, out: TextIO) -> int:
    """Handler of ``energysim report``: build the HTML file (and plot files), write a summary line to ``out``; return 0."""
    results = Path(args.results)
    if not results.exists():  # before the report's modules (matplotlib: seconds) are imported
        raise InputError(f"results {str(results)!r}: no such file or folder (give a folder energysim wrote or one of its result tables)")
    from energysim.output_folder import NOTES_NAME
    from energysim.report.files import read_notes
    from energysim.report.html import build_report, find_tables
    from energysim.report.plots import write_plot_files

    default = results.with_name(f"{results.stem}-report.html") if results.is_file() else results / "report.html"
    out_path = Path(args.out) if args.out else default
    if out_path.suffix.lower() not in (".html", ".htm"):
        raise InputError(f"report output file must end in .html (got {str(out_path)!r})")
    path = build_report(results, out_path, progress=False if args.quiet else None)
    found = find_tables(results)
    used = [str(p.name) for p, _ in found.values()] + ([NOTES_NAME] if results.is_dir() and read_notes(results) else [])
    out.write(f"wrote {path} ({path.stat().st_size / 1024:.0f} KiB, self-contained) from {', '.join(used)}\n")
    if getattr(args, "plots", None):
        written = write_plot_files({name: frame for name, (_, frame) in found.items()}, Path(args.plots))
        out.write(f"wrote {len(written)} plot files (PNG, SVG, PDF) to {args.plots}\n")
    return 0


def register(subparsers) -> None:
    """Add the ``report`` subcommand to an argparse subparsers object."""
    parser = subparsers.add_parser(
        "report",
        help="write one self-contained HTML report (tables + plots) of a results folder or file",
        description="Render the result tables (estimate, summary, energy, compare, sensitivity; as .csv, .json or .md) of "
        "a results folder, or one result file, as one HTML file with embedded plots that opens offline "
        "(see docs/reports.md). Example: energysim report est --plots est/plots",
    )
    parser.add_argument("results", help="results folder (written by energysim run/estimate --out, compare or demo) "
                        "or one result file (e.g. energysim sensitivity --csv output)")
    parser.add_argument("-o", "--out", help="output .html file (default RESULTS/report.html, or FILE-report.html next to a file)")
    parser.add_argument("--plots", metavar="DIR", help="also write each plot as PNG, SVG and PDF into DIR")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr (a bar on a terminal, else a line "
                        "every 30 s of a long report)")
    parser.set_defaults(handler=run_report)
