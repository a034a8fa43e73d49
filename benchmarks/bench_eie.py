"""EIE at network scale, before and after, side by side in one run: CPU time and peak memory.

Run from a clone: ``python benchmarks/bench_eie.py`` (options: ``--baseline COMMIT``,
``--skip-before``, ``--skip-numpy``, ``--case NAME`` repeated, ``--dense-before``). Each case is one
``energysim`` command run in its own process: once with the baseline commit's package
(extracted with ``git archive`` into a temporary folder) and then with this checkout's
package three ways, one after the other on the same machine:

- ``numpy``: ``ENERGYSIM_EIE_KERNEL=numpy``, the fallback without numba;
- ``numba cold``: numba's on-disk cache in a fresh empty folder (``NUMBA_CACHE_DIR``),
  so the run pays every JIT compilation it needs;
- ``numba warm``: the same cache folder again, compiled code loaded from disk.

Printed per case and variant: wall time, CPU time (user + system of the process) and
peak resident memory, the CPU ratio before / variant, and whether the output is
byte-identical to the baseline's. Quote the ratios, not the absolute times: on a shared
machine the wall time can stretch many times over, while CPU time and peak memory move
much less. The load average is printed before and after.

The baseline ``6c11bb7`` is main before this round (synthetic input vectors held whole and
drawn by ``argpartition``, the codebook fitted on every drawn weight, line reads entered fresh
counted in numpy). Its outputs differ from this checkout's where the synthetic input draw
changed (layers of several input vectors: conv layers, batches; see docs/engines/eie.md),
so "same output" is "no" there by design; ``reproduce`` and the Table III layers draw one vector
each and stay byte-identical. The dense VGG-16 case is run only on this checkout unless
``--dense-before`` is given (the baseline peaks at 2.7 GB on it).
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
BASELINE = "6c11bb7"
"""main before this round of EIE speed and memory work."""

CASES = {
    "vgg16-pruned": ("VGG-16 pruned (Han 2015), eie-64pe-lecture", ["run", "eie-64pe-lecture", "vgg16-han2015", "--quiet"]),
    "reproduce": ("energysim reproduce eie", ["reproduce", "eie"]),
    "table3": ("Table III layers, eie-64pe-lecture", ["run", "eie-64pe-lecture", "eie-table3", "--quiet"]),
    "vgg16-dense": ("VGG-16 dense, eie-64pe-lecture", ["run", "eie-64pe-lecture", "vgg16", "--quiet"]),
    "bert-base": ("BERT-base, eie-64pe-lecture", ["run", "eie-64pe-lecture", "bert-base", "--quiet"]),
}
"""Case name -> (label, energysim arguments)."""

AFTER_ONLY_BY_DEFAULT = ("vgg16-dense",)
"""Cases whose baseline run is skipped unless --dense-before (it needs about 2.7 GB)."""


def measure(package_root: Path, arguments: list[str], extra_env: dict[str, str] | None = None) -> dict:
    """Run ``energysim ARGUMENTS`` with the package at ``package_root``: wall s, CPU s, peak MB, output."""
    env = {**os.environ, "PYTHONPATH": str(package_root), **(extra_env or {})}
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


def _numba_installed() -> bool:
    """Whether this interpreter can import numba (the `fast` extra)."""
    return subprocess.run([sys.executable, "-c", "import numba"], capture_output=True).returncode == 0


def main(argv: list[str] | None = None) -> None:
    """Benchmark entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default=BASELINE, help=f"commit measured as 'before' (default {BASELINE})")
    parser.add_argument("--skip-before", action="store_true", help="measure this checkout only")
    parser.add_argument("--dense-before", action="store_true", help="also run the baseline on dense VGG-16 (~2.7 GB)")
    parser.add_argument("--skip-numpy", action="store_true", help="skip the numpy-path variant")
    parser.add_argument("--case", action="append", choices=sorted(CASES), help="case to run (default: all)")
    args = parser.parse_args(argv)
    cases = args.case or list(CASES)
    numba = _numba_installed()
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; before = {args.baseline}, "
          f"after = this checkout; numba {'installed' if numba else 'not installed: numpy path only'}")
    print(f"{'case':44s} {'variant':11s} {'wall s':>7s} {'CPU s':>7s} {'CPU before/this':>15s} {'peak MB':>8s} "
          f"{'same output':>11s}")
    with tempfile.TemporaryDirectory() as scratch:
        baseline = None if args.skip_before else extract(args.baseline, Path(scratch) / "baseline")
        for name in cases:
            label, arguments = CASES[name]
            runs = []
            if baseline is not None and (name not in AFTER_ONLY_BY_DEFAULT or args.dense_before):
                runs.append(("before", measure(baseline, arguments)))
            if not args.skip_numpy or not numba:
                runs.append(("numpy", measure(ROOT, arguments, {"ENERGYSIM_EIE_KERNEL": "numpy"})))
            if numba:
                cache = Path(scratch) / f"numba-cache-{name}"
                cache.mkdir()
                runs.append(("numba cold", measure(ROOT, arguments, {"NUMBA_CACHE_DIR": str(cache)})))
                runs.append(("numba warm", measure(ROOT, arguments, {"NUMBA_CACHE_DIR": str(cache)})))
            before = runs[0][1] if runs[0][0] == "before" else None
            for variant, run in runs:
                ratio = f"{before['cpu_s'] / run['cpu_s']:14.1f}x" if before and not run["failed"] else f"{'-':>15s}"
                if run["failed"]:
                    same = "failed"
                elif before is None or variant == "before":
                    same = "-"
                else:
                    same = "yes" if run["output"] == before["output"] else "no"
                print(f"{label:44s} {variant:11s} {run['wall_s']:7.1f} {run['cpu_s']:7.1f} {ratio} "
                      f"{run['peak_mb']:8.0f} {same:>11s}", flush=True)
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
