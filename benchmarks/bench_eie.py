"""EIE at network scale, before and after, side by side in one run: CPU time and peak memory.

Run from a clone: ``python benchmarks/bench_eie.py`` (options: ``--baseline COMMIT``,
``--skip-before``, ``--skip-numpy``, ``--case NAME`` repeated, ``--dense-before``). Each case runs in
its own process: once with the baseline commit's package (extracted with ``git archive`` into a
temporary folder) and then with this checkout's package three ways, one after the other on the same
machine:

- ``numpy``: ``ENERGYSIM_EIE_KERNEL=numpy``, the fallback without numba;
- ``numba cold``: numba's on-disk cache in a fresh empty folder (``NUMBA_CACHE_DIR``),
  so the run pays every JIT compilation it needs;
- ``numba warm``: the same cache folder again, compiled code loaded from disk.

A network case (``run HW WORKLOAD``) is timed as ``benchmarks/run_all.py`` (issue 15) times it:
the CPU seconds of ``energysim.api.simulate(hw, wl, progress=False)`` in a fresh process after
``from energysim.api import simulate`` (so the EIE engine's import and numba's loading are inside;
the interpreter's start and energysim's import are not); its output is a SHA-256 of every layer's
counts, cycles, MACs, compulsory bounds and stats. ``reproduce`` is the command itself, timed whole.
The baseline runs twice too, cold and warm (its own cache folder). Printed per case and variant:
wall time, CPU time (the ``simulate`` call, or the whole process for ``reproduce``), process CPU
(user + system), peak resident memory, the CPU ratio before / variant (cold against before cold,
warm and numpy against before warm), and whether the output is byte-identical to that baseline run's. Quote the ratios, not the absolute
times: on a shared machine the wall time can stretch many times over, while CPU time and peak
memory move much less. The load average is printed before and after.

The baseline ``ba3ca8d`` is main before the round that kept every count and made the dense encode,
the quantiser, the table build, the input draw and the line-read bound cheaper (earlier rounds:
``6c11bb7``, whose synthetic input draw for several vectors differs, so compared with it "same
output" is "no" for conv layers and batches by design). The dense VGG-16 case is run before only
with ``--dense-before``.
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
BASELINE = "ba3ca8d"
"""main before this round of EIE speed work (counts unchanged by it)."""

CASES = {
    "vgg16-pruned": ("VGG-16 pruned (Han 2015), eie-64pe-lecture", ["run", "eie-64pe-lecture", "vgg16-han2015"]),
    "reproduce": ("energysim reproduce eie", ["reproduce", "eie"]),
    "table3": ("Table III layers, eie-64pe-lecture", ["run", "eie-64pe-lecture", "eie-table3"]),
    "vgg16-dense": ("VGG-16 dense, eie-64pe-lecture", ["run", "eie-64pe-lecture", "vgg16"]),
    "bert-base": ("BERT-base, eie-64pe-lecture", ["run", "eie-64pe-lecture", "bert-base"]),
}
"""Case name -> (label, arguments): ``run HW WORKLOAD`` times ``simulate``; anything else is an energysim command."""

AFTER_ONLY_BY_DEFAULT = ("vgg16-dense",)
"""Cases whose baseline run is skipped unless --dense-before."""

SIMULATE_CHILD = """
import hashlib, sys, time
from energysim.api import simulate
cpu = time.process_time()
run = simulate(sys.argv[1], sys.argv[2], progress=False)
cpu = time.process_time() - cpu
parts = [(r.layer, sorted(map(repr, r.counts.items())), sorted(r.cycles.items()), r.macs, repr(r.compulsory),
          repr(sorted((key, repr(value)) for key, value in r.stats.items()))) for r in run.results]
print(cpu)
print(hashlib.sha256(repr(parts).encode()).hexdigest())
"""
"""Child of a network case: CPU seconds of the simulate call, then the digest of its results."""

CLI_CHILD = "import runpy, sys; sys.argv = ['energysim', *sys.argv[1:]]; runpy.run_module('energysim', run_name='__main__')"
"""Child of a command case: the energysim command line."""


def measure(package_root: Path, arguments: list[str], extra_env: dict[str, str] | None = None) -> dict:
    """Run one case with the package at ``package_root``: wall s, CPU s, process CPU s, peak MB, output."""
    env = {**os.environ, "PYTHONPATH": str(package_root), **(extra_env or {})}
    network = arguments[0] == "run"
    child = [SIMULATE_CHILD, *arguments[1:]] if network else [CLI_CHILD, *arguments]
    start = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-c", *child], cwd=package_root, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    output = process.stdout.read()
    process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        return {"wall_s": wall, "cpu_s": float("nan"), "process_cpu_s": float("nan"), "peak_mb": float("nan"),
                "output": b"", "failed": True}
    process_cpu = usage.ru_utime + usage.ru_stime
    cpu = process_cpu
    if network:
        first, _, output = output.partition(b"\n")
        cpu = float(first)
    return {"wall_s": wall, "cpu_s": cpu, "process_cpu_s": process_cpu, "peak_mb": usage.ru_maxrss / 1024,
            "output": output, "failed": False}


def extract(commit: str, folder: Path) -> Path:
    """The package tree of ``commit`` (``git archive``) in ``folder``."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", commit], capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data") if hasattr(tarfile, "data_filter") else tar.extractall(folder)
    return folder


def _numba_installed() -> bool:
    """Whether this interpreter can import numba (the `fast` extra)."""
    return subprocess.run([sys.executable, "-c", "import numba"], capture_output=True).returncode == 0


def main(argv: list[str] | None = None) -> None:
    """Benchmark entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default=BASELINE, help=f"commit measured as 'before' (default {BASELINE})")
    parser.add_argument("--skip-before", action="store_true", help="measure this checkout only")
    parser.add_argument("--dense-before", action="store_true", help="also run the baseline on dense VGG-16")
    parser.add_argument("--skip-numpy", action="store_true", help="skip the numpy-path variant")
    parser.add_argument("--case", action="append", choices=sorted(CASES), help="case to run (default: all)")
    args = parser.parse_args(argv)
    cases = args.case or list(CASES)
    numba = _numba_installed()
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; before = {args.baseline}, "
          f"after = this checkout; numba {'installed' if numba else 'not installed: numpy path only'}")
    print(f"{'case':44s} {'variant':11s} {'wall s':>7s} {'CPU s':>7s} {'process CPU s':>13s} {'CPU before/this':>15s} "
          f"{'peak MB':>8s} {'same output':>11s}")
    with tempfile.TemporaryDirectory() as scratch:
        baseline = None if args.skip_before else extract(args.baseline, Path(scratch) / "baseline")
        for name in cases:
            label, arguments = CASES[name]
            runs = []          # (variant, run, the before run its ratio and output are compared with)
            before = {}
            if baseline is not None and (name not in AFTER_ONLY_BY_DEFAULT or args.dense_before):
                cache = Path(scratch) / f"numba-cache-before-{name}"
                cache.mkdir()
                for temperature in ("cold", "warm"):
                    before[temperature] = measure(baseline, arguments, {"NUMBA_CACHE_DIR": str(cache)})
                    runs.append((f"before {temperature}", before[temperature], None))
            if not args.skip_numpy or not numba:
                runs.append(("numpy", measure(ROOT, arguments, {"ENERGYSIM_EIE_KERNEL": "numpy"}), before.get("warm")))
            if numba:
                cache = Path(scratch) / f"numba-cache-{name}"
                cache.mkdir()
                for temperature in ("cold", "warm"):
                    runs.append((f"numba {temperature}", measure(ROOT, arguments, {"NUMBA_CACHE_DIR": str(cache)}),
                                 before.get(temperature)))
            for variant, run, reference in runs:
                ok = reference is not None and not run["failed"] and not reference["failed"]
                ratio = f"{reference['cpu_s'] / run['cpu_s']:14.1f}x" if ok else f"{'-':>15s}"
                same = "failed" if run["failed"] else "-" if reference is None else (
                    "yes" if run["output"] == reference["output"] else "no")
                print(f"{label:44s} {variant:11s} {run['wall_s']:7.1f} {run['cpu_s']:7.2f} {run['process_cpu_s']:13.1f} "
                      f"{ratio} {run['peak_mb']:8.0f} {same:>11s}", flush=True)
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
