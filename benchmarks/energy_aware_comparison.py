"""The energy-aware comparison (issue 16, item 4): accuracy at equal simulated-energy budgets.

Usage::

    python benchmarks/energy_aware_comparison.py --out energy-aware-comparison

writes ``comparison.csv``, ``rewards.csv`` (which patterns each run rewards), ``comparison.md`` and
``comparison.png`` (the three curves) into ``--out`` (the energy-aware journals in ``--out/jobs``, so a
re-run resumes) and prints the
Markdown table with the total wall time: for the digits MLP and CNN on
lecture-array, eie-64pe-lecture and a100:sparse_2_4, uniform sparsity, a
global magnitude threshold and energy-aware allocation at budgets 0.7, 0.5,
0.3 and 0.2 of dense energy (see :mod:`energysim.energy_aware.comparison`).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from energysim.atomic_files import write_text_atomic
from energysim.energy_aware.comparison import BUDGETS, HARDWARE, compare_at_budgets, markdown_table
from energysim.report.methods import method_curves_figure, method_points
from energysim.report.plots import save_figure


def main(argv: list[str] | None = None) -> int:
    """Run the comparison and write the tables; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--models", default="mlp,cnn", help="comma-separated models")
    parser.add_argument("--hw", action="append", help="hardware run (repeatable; default: the three of the issue)")
    parser.add_argument("--budgets", default=",".join(f"{b:g}" for b in BUDGETS), help="comma-separated budgets")
    parser.add_argument("--finetune-epochs", type=int, default=5)
    parser.add_argument("--step-epochs", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--between-steps", action="store_true",
                        help="energy-aware fine-tunes --step-epochs after each layer step (default: all epochs after pruning)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    table, rewards = compare_at_budgets(tuple(args.models.split(",")), tuple(args.hw or HARDWARE),
                                        tuple(float(b) for b in args.budgets.split(",")), args.finetune_epochs,
                                        args.step_epochs, args.seed, progress=None, work_dir=out / "jobs",
                                        between_steps=args.between_steps)
    seconds = time.perf_counter() - start
    write_text_atomic(out / "comparison.csv", table.to_csv(index=False))
    write_text_atomic(out / "rewards.csv", rewards.to_csv(index=False))
    text = (f"Test accuracy (%) at each energy budget (fraction of dense), simulated energy in brackets; "
            f"'-' = budget not reached. Wall time {seconds:.1f} s.\n\n{markdown_table(table)}\n")
    write_text_atomic(out / "comparison.md", text)
    dense = {(m, r): a for m, r, a in table[["model", "run", "accuracy_dense"]].itertuples(index=False)}
    save_figure(method_curves_figure(method_points(table, "comparison"), dense), out / "comparison", ("png",))
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
