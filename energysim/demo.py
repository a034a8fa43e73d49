"""The demo: the main job on bundled defaults, end to end.

Runs the bundled VGG-16 (dense, and at Han et al.'s pruned densities) on the
bundled lecture-costed PE array, prints the per-layer energy and latency table
and the energy split by memory level, and writes the tables to a folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

from energysim.api import simulate
from energysim.report.files import render, write_table
from energysim.report.tables import energy_by


def run_demo(out_dir: Path, out: TextIO, quick: bool = False) -> None:
    """Run the demo and write its tables under ``out_dir``.

    Parameters
    ----------
    out_dir
        Folder for the CSV tables (created if missing).
    out
        Text stream for the human-readable report.
    quick
        Use LeNet-300-100 instead of VGG-16 (for tests).
    """
    network = "lenet-300-100" if quick else "vgg16"
    run = simulate("lecture-array", network)
    table = run.summary[["layer", "macs", "cycles_total", "utilisation", "energy_uj"]].copy()
    table["latency_us"] = run.summary["latency_s"] * 1e6
    out.write(f"# {run.workload} on {run.hardware} (dense engine, lecture 45 nm costs)\n\n")
    out.write(render(table, "md"))
    totals = run.totals()
    out.write(f"\ntotal: {totals['energy_uj']:.4g} uJ, {totals['latency_s'] * 1e3:.4g} ms, utilisation {totals['utilisation']:.1%}\n")
    out.write("\n## energy by memory level / unit\n\n")
    out.write(render(energy_by(run.energy, "component"), "md"))
    paths = [write_table(run.summary, out_dir, "summary", "csv"), write_table(run.energy, out_dir, "energy", "csv")]
    out.write("\nwrote " + ", ".join(str(p) for p in paths) + "\n")
