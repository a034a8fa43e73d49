"""EIE at network scale, before and after the lane-block engine, side by side in one run.

Run from a clone: ``python benchmarks/bench_eie.py`` (options: ``--baseline COMMIT``,
``--skip-before``, ``--case NAME`` repeated). Each case is one ``energysim`` command
run in its own process, once with the baseline commit's package (extracted with
``git archive`` into a temporary folder) and once with this checkout's, one after
the other on the same machine. Printed per case: wall time, CPU time (user +
system of the process) and peak resident memory, before and after, with the
before / after ratios, and whether the two printed the same output. Quote the
ratios, not the absolute times: on a shared machine the wall time of either side
can stretch many times over, while the CPU time and peak memory move much less.

The baseline ``2348feb`` is main just before the EIE speed work (lanes stepped one
activation at a time over the whole ``(activations, lanes, PEs)`` work array,
the held sparse-matrix line stepped alongside, one ``choice`` call per synthetic
input vector). Outputs agree where every layer has one input vector (the Table
III layers, ``reproduce eie``); a conv layer's synthetic input vectors are now
drawn in blocks, a different (equally distributed) draw, so the VGG-16 figures
differ slightly while the model is unchanged (checked on real tensors by
``tests/engines/eie/test_eie_lanes.py``).
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASELINE = "2348feb"
"""main before the EIE speed work."""

CASES = {
    "vgg16-pruned": ("VGG-16 pruned (Han 2015) on eie-64pe-lecture", ["run", "eie-64pe-lecture", "vgg16-han2015", "--quiet"]),
    "reproduce": ("energysim reproduce eie", ["reproduce", "eie"]),
    "table3": ("Table III layers on eie-64pe-lecture", ["run", "eie-64pe-lecture", "eie-table3", "--quiet"]),
}
"""Case name -> (label, energysim arguments)."""


def measure(package_root: Path, arguments: list[str]) -> dict:
    """Run ``energysim ARGUMENTS`` with the package at ``package_root``: wall s, CPU s, peak MB, output."""
    env = {**os.environ, "PYTHONPATH": str(package_root)}
    code = "import runpy, sys; sys.argv = ['energysim', *sys.argv[1:]]; runpy.run_module('energysim', run_name='__main__')"
    start = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-c", code, *arguments], cwd=package_root, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    output = process.stdout.read()
    process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        return {"wall_s": wall, "cpu_s": float("nan"), "peak_mb": float("nan"), "output": b"", "failed": True}
    return {"wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime, "peak_mb": usage.ru_maxrss / 1024,
            "output": output, "failed": False}


def extract(commit: str, folder: Path) -> Path:
    """The package tree of ``commit`` (``git archive``) in ``folder``."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", commit], capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data") if hasattr(tarfile, "data_filter") else tar.extractall(folder)
    return folder


def main(argv: list[str] | None = None) -> None:
    """Benchmark entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default=BASELINE, help=f"commit measured as 'before' (default {BASELINE})")
    parser.add_argument("--skip-before", action="store_true", help="measure this checkout only")
    parser.add_argument("--case", action="append", choices=sorted(CASES), help="case to run (default: all)")
    args = parser.parse_args(argv)
    cases = args.case or list(CASES)
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; before = {args.baseline}, "
          f"after = this checkout")
    header = (f"{'case':46s} {'wall before':>11s} {'after':>7s} {'ratio':>7s} {'CPU before':>10s} {'after':>7s} "
              f"{'ratio':>7s} {'peak MB before':>14s} {'after':>7s} {'same output':>11s}")
    with tempfile.TemporaryDirectory() as scratch:
        baseline = None if args.skip_before else extract(args.baseline, Path(scratch))
        print(header)
        for name in cases:
            label, arguments = CASES[name]
            after = measure(ROOT, arguments)
            before = measure(baseline, arguments) if baseline else None
            if before is None:
                print(f"{label:46s} {'-':>11s} {after['wall_s']:7.1f} {'-':>7s} {'-':>10s} {after['cpu_s']:7.1f} {'-':>7s} "
                      f"{'-':>14s} {after['peak_mb']:7.0f} {'-':>11s}")
                continue
            same = "failed" if before["failed"] or after["failed"] else ("yes" if before["output"] == after["output"] else "no")
            print(f"{label:46s} {before['wall_s']:11.1f} {after['wall_s']:7.1f} {before['wall_s'] / after['wall_s']:6.1f}x "
                  f"{before['cpu_s']:10.1f} {after['cpu_s']:7.1f} {before['cpu_s'] / after['cpu_s']:6.1f}x "
                  f"{before['peak_mb']:14.0f} {after['peak_mb']:7.0f} {same:>11s}", flush=True)


if __name__ == "__main__":
    main()
