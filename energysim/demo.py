"""The demo: the main job on bundled defaults, end to end.

Trains (or loads from ``OUT/models``) the numpy MLP on the bundled digits,
prunes it with three patterns (fine-grained, 2:4, channel) at 50/75/90 %,
simulates every point on the three engines (the lecture-costed dense array,
EIE priced with the same table, the A100 model in dense and in 2:4 mode),
prints the comparison table and what the sweep shows (the same sentences the
HTML report shows, :func:`energysim.report.findings.sweep_findings`), and writes
``compare.csv`` and ``report.html`` to the output folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

import pandas as pd

from energysim.report.findings import sweep_findings
from energysim.report.html import build_report
from energysim.report.terminal import Column, render_table
from energysim.sweep import grid, run_sweep

DEMO_HARDWARE = ("lecture-array", "eie-64pe-lecture", "a100", "a100:sparse_2_4")
"""The demo's hardware specs (runs ``lecture-array``, ``eie-64pe-lecture``, ``a100:dense``, ``a100:sparse_2_4``)."""
DEMO_PATTERNS = ("fine", "nm:2:4", "channel")
"""The demo's pruning patterns (sweep syntax)."""

DEMO_COLUMNS = (
    Column("pattern"),
    Column("sparsity_target", "percent", "target"),
    Column("run"),
    Column("status"),
    Column("accuracy", "percent"),
    Column("energy_vs_dense", "ratio"),
    Column("latency_vs_dense", "ratio"),
    Column("energy_uj", "energy_uj", "energy"),
    Column("latency_s", "time_s", "latency"),
)
"""Columns of the printed comparison, most important first (the rest are in compare.csv)."""


def run_demo(out_dir: Path, out: TextIO, quick: bool = False, progress: bool | None = None) -> pd.DataFrame:
    """Run the demo and write its outputs under ``out_dir``.

    Parameters
    ----------
    out_dir
        Output folder (created; a second run resumes from its journal and model cache).
    out
        Text stream for the human-readable report.
    quick
        One sparsity (75 %) and no fine-tuning, for tests.
    progress
        Progress bar on stderr: None only on a terminal, True always, False never.

    Returns
    -------
    pandas.DataFrame
        The compare table.
    """
    sparsities = [0.75] if quick else [0.5, 0.75, 0.9]
    points = grid("mlp", list(DEMO_PATTERNS), sparsities, ["magnitude", "l1"], finetune_epochs=0 if quick else 2)
    out.write("digits MLP: pruning patterns on three engines (lecture 45 nm costs; A100 in dense and 2:4 mode, timed at\n"
              "the hardware bound: its notes give the measured-kernel model's figure);\n"
              "*_vs_dense = pruned / dense on the same run (0.25 = a quarter of dense); absolute energies use each\n"
              "engine's own costs (the A100's include its static power), so compare engines by *_vs_dense\n\n")
    out.write(f"training the MLP on the bundled digits (or loading it from {Path(out_dir) / 'models'}), then pruning "
              f"and simulating {len(points)} points on {len(DEMO_HARDWARE)} hardware runs ...\n\n")
    out.flush()
    frame = run_sweep(points, DEMO_HARDWARE, out_dir, progress=progress)
    if frame.attrs.get("results_reused"):
        out.write(f"reused {frame.attrs['results_reused']} of {frame.attrs['results_total']} results (point x hardware) "
                  f"from an earlier run in {out_dir} (points.jsonl)\n\n")
    shown = frame.copy()
    shown["status"] = shown["status"].str.split(":").str[0]
    out.write(render_table(shown, DEMO_COLUMNS))
    out.write("\nwhat the sweep shows\n\n")
    for line in sweep_findings(frame):
        out.write(f"- {line}\n")
    written = [out_dir / "compare.csv", build_report(out_dir, out_dir / "report.html")]
    out.write("\nwrote " + ", ".join(str(p) for p in written) + "\n")
    return frame
