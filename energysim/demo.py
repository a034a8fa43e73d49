"""The demo: the main job on bundled defaults, end to end.

Trains (or loads from ``OUT/models``) the numpy MLP on the bundled digits,
prunes it with three patterns (fine-grained, 2:4, channel) at 50/75/90 %,
simulates every point on the three engines (the lecture-costed dense array,
EIE priced with the same table, the A100 model in dense and in 2:4 mode),
prints the comparison table and the lecture's lessons as measured, and writes
``compare.csv`` (and ``report.html`` when the report module is installed) to
the output folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

import pandas as pd

from energysim.report.files import render
from energysim.sweep import grid, run_sweep

DEMO_HARDWARE = ("lecture-array", "eie-64pe-lecture", "a100", "a100:sparse_2_4")
DEMO_PATTERNS = ("fine", "nm:2:4", "channel")


def _lessons(frame: pd.DataFrame) -> list[str]:
    ok = frame[frame["status"] == "ok"]

    def best(pattern: str, hardware: str, column: str = "energy_ratio_vs_dense") -> float:
        rows = ok[(ok["pattern"] == pattern) & (ok["hardware"] == hardware)]
        return float(rows[column].min()) if len(rows) else float("nan")

    dense_hw, eie_hw, gpu_hw, tc_hw = DEMO_HARDWARE
    lines = [
        f"dense array, fine-grained pruning: best energy ratio {best('fine', dense_hw):.2f} of dense (zeros are still computed)",
        f"dense array, channel pruning: best energy ratio {best('channel', dense_hw):.2f} (the layers really shrink)",
        f"EIE, fine-grained pruning: best energy ratio {best('fine', eie_hw):.2f} (zeros skipped, weights compressed)",
        f"A100 dense mode, fine-grained pruning: best energy ratio {best('fine', gpu_hw):.2f}; channel pruning: "
        f"{best('channel', gpu_hw):.2f}",
        f"A100 2:4 mode: energy ratio {best('nm:2:4', tc_hw):.2f}, latency ratio "
        f"{best('nm:2:4', tc_hw, 'latency_ratio_vs_dense'):.2f} (at most 2x math, less end to end); non-2:4 masks: "
        f"{int(((frame['hardware'] == tc_hw) & frame['status'].str.startswith('unsupported')).sum())} points refused",
    ]
    return lines


def run_demo(out_dir: Path, out: TextIO, quick: bool = False) -> pd.DataFrame:
    """Run the demo and write its outputs under ``out_dir``.

    Parameters
    ----------
    out_dir
        Output folder (created; a second run resumes from its journal and model cache).
    out
        Text stream for the human-readable report.
    quick
        One sparsity (75 %) and no fine-tuning, for tests.

    Returns
    -------
    pandas.DataFrame
        The compare table.
    """
    sparsities = [0.75] if quick else [0.5, 0.75, 0.9]
    points = grid("mlp", list(DEMO_PATTERNS), sparsities, ["magnitude", "l1"], finetune_epochs=0 if quick else 2)
    frame = run_sweep(points, DEMO_HARDWARE, out_dir, progress=None)
    shown = frame[["pattern", "sparsity_target", "hardware", "accuracy", "energy_uj", "latency_s",
                   "energy_ratio_vs_dense", "status"]].copy()
    shown["latency_us"] = shown.pop("latency_s") * 1e6
    shown["status"] = shown["status"].where(shown["status"] == "ok", "not 2:4")
    out.write("# digits MLP: pruning patterns on three engines (lecture 45 nm costs; A100 in 2:4 mode)\n\n")
    out.write(render(shown, "md"))
    out.write("\n## what the sweep shows\n\n")
    for line in _lessons(frame):
        out.write(f"- {line}\n")
    written = [out_dir / "compare.csv"]
    try:
        from energysim.report.html import build_report
    except ImportError:
        build_report = None
    if build_report is not None:
        written.append(build_report(out_dir, out_dir / "report.html"))
    out.write("\nwrote " + ", ".join(str(p) for p in written) + "\n")
    return frame
