"""Speed and tiling of the dense engine, side by side in one run.

Run: ``python benchmarks/bench_dense.py``. Prints

1. CPU times (best of N runs, ``time.process_time``: on a shared machine wall
   time mostly measures the neighbours) of the fast path on VGG-16, its
   slowest layer and GEMMs up to 65536^3, and the cycle-level / fast time
   ratio on the layers both paths run;
2. the cycle-level path against itself at commit 86cce07 (before issue 15),
   side by side in this run: the same forced 64^3 SRAM tiles on
   ``lecture-array``'s array, each version in its own child process
   (``git archive`` of that commit's package), rounds alternated, best CPU
   time of each, their ratio (issue 15 item 4 asks 10x) and whether every
   count and cycle of the two versions agrees;
3. the SRAM tiler's objectives side by side on ``lecture-array``: energy and
   latency of the 1024^3 GEMM, VGG-16 conv3_1 and all of VGG-16 under
   ``tiling_objective`` = energy, latency and edp (the default). Before the search
   (powers-of-two tiles ranked by estimated EDP) the same rows read 34.6 mJ /
   6.16 ms, 21.1 mJ / 5.31 ms and 466 mJ / 111 ms (docs/engines/dense.md).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from energysim.api import hardware, simulate, workload
from energysim.engines import build_engine
from energysim.catalog import hwconfig_path
from energysim.hardware_settings import variant
from energysim.workloads.layers import GemmLayer
from energysim.workloads.workload import Workload


def best_of(repeats: int, fn) -> float:
    """Least CPU time of ``repeats`` calls, seconds."""
    times = []
    for _ in range(repeats):
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
    return min(times)


def speed_table() -> None:
    """Print table 1: fast-path times and cycle / fast ratios."""
    hw = hardware("lecture-array")
    vgg = workload("vgg16")
    engine = build_engine(hw)
    print("Table 1. Dense engine speed on lecture-array (CPU seconds, best of runs)")
    rows = [("VGG-16, 16 layers, fast path (simulate + price)", best_of(3, lambda: simulate(hw, vgg)))]
    rows.append(("VGG-16, 16 layers, fast path (engine only)", best_of(3, lambda: [engine.simulate(x) for x in vgg.layers])))
    slowest = max(vgg.layers, key=lambda x: best_of(2, lambda: engine.simulate(x)))
    rows.append((f"VGG-16 slowest layer ({slowest.name}), fast path", best_of(3, lambda: engine.simulate(slowest))))
    for size in (1024, 4096, 65536):
        big = GemmLayer(name=f"gemm{size}", m=size, n=size, k=size)
        rows.append((f"GEMM {size}^3, fast path", best_of(3, lambda: engine.simulate(big))))
    for name, seconds in rows:
        print(f"  {name:55s} {seconds * 1e3:10.1f} ms")
    for layer in (GemmLayer(name="gemm48", m=48, n=40, k=64), GemmLayer(name="gemm512", m=512, n=512, k=512),
                  next(x for x in vgg.layers if x.name == "conv5_1")):
        fast = best_of(5, lambda: engine.simulate(layer, path="fast"))
        cycle = best_of(2, lambda: engine.simulate(layer, path="cycle"))
        print(f"  {layer.name:10s} fast {fast * 1e3:8.1f} ms   cycle-level {cycle * 1e3:8.1f} ms   cycle / fast {cycle / fast:6.0f} x")


def tiling_table() -> None:
    """Print table 3: the tiler's objectives side by side."""
    vgg = workload("vgg16")
    cases = [("GEMM 1024^3", Workload("gemm1024", (GemmLayer(name="gemm1024", m=1024, n=1024, k=1024),))),
             ("VGG-16 conv3_1", Workload("conv3_1", tuple(x for x in vgg.layers if x.name == "conv3_1"))),
             ("VGG-16, 16 layers", vgg)]
    objectives = ("energy", "latency", "edp")
    print("\nTable 3. SRAM tiler objectives on lecture-array: energy mJ / latency ms (tiles of the first layer)")
    print(f"  {'':20s}" + "".join(f"{o:>34s}" for o in objectives))
    for name, wl in cases:
        cells = []
        for objective in objectives:
            hw = variant(hwconfig_path("lecture-array"), {"engine.tiling_objective": objective})
            run = simulate(hw, wl)
            first = run.results[0].stats
            tiles = f"{first['tile_m']}x{first['tile_n']}x{first['tile_k']}"
            cells.append(f"{run.summary['energy_pj'].sum() * 1e-9:8.1f} / {run.summary['latency_s'].sum() * 1e3:6.2f} ({tiles})")
        print(f"  {name:20s}" + "".join(f"{c:>34s}" for c in cells))


BASELINE_COMMIT = "86cce07"
"""The cycle-level path before issue 15 (its 10x target is measured against this commit)."""

CYCLE_CHILD = r"""
import json, sys, time
try:
    from energysim.engines.dense.cycle import run_cycle
    from energysim.engines.dense.schedule import Tiling, tiles
    from energysim.workloads.lowering import ConvFootprint
except ImportError:  # the layout before the engines were split into subpackages
    from energysim.engines.dense_cycle import run_cycle
    from energysim.engines.dense_schedule import Tiling, tiles
    from energysim.engines.conv_footprint import ConvFootprint
from energysim.api import workload
from energysim.workloads.layers import GemmLayer

rows, cols, dataflow, sram_bw, dram_bw, side, repeats = json.loads(sys.argv[1])
conv = next(x for x in workload("vgg16").layers if x.name == "conv5_1")
out = {}
for layer in (GemmLayer(name="GEMM 512^3", m=512, n=512, k=512), GemmLayer(name="GEMM 1024^3", m=1024, n=1024, k=1024), conv):
    shape, footprint = layer.gemm_shape(), ConvFootprint.of(layer)
    best = None
    for _ in range(repeats):
        start = time.process_time()
        result = run_cycle(tiles(shape.m, shape.n, shape.k, Tiling(side, side, side), footprint), rows, cols, dataflow, sram_bw, dram_bw)
        best = min(best or 1e9, time.process_time() - start)
    counts = sorted([list(key), value] for key, value in result.counts.items() if value)
    out[layer.name] = [best, {**{key: value for key, value in vars(result).items() if key != "counts"}, "counts": counts}]
print(json.dumps(out))
"""
"""Times the cycle-level path (schedule built and run, forced square tiles) on three layers; run with either version's package first on the path."""


def _child_times(package_root: Path, arguments: list) -> dict:
    """Run :data:`CYCLE_CHILD` with ``package_root`` first on the import path; {layer: [CPU seconds, every count and cycle]}."""
    env = dict(os.environ, PYTHONPATH=str(package_root))
    done = subprocess.run([sys.executable, "-c", CYCLE_CHILD, json.dumps(arguments)], env=env, cwd=package_root,
                          capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"bench_dense: the cycle-path child on {package_root} failed (exit {done.returncode}):\n"
                         f"{done.stderr.strip()}")
    return json.loads(done.stdout)


def cycle_baseline_table(rounds: int = 3) -> None:
    """Print table 2: the cycle-level path now and at :data:`BASELINE_COMMIT`, side by side, as ratios."""
    repo = Path(__file__).resolve().parents[1]
    hw = hardware("lecture-array")
    engine = build_engine(hw)
    sram, dram = engine.levels["sram"].config, engine.levels["dram"].config
    arguments = [engine.config.rows, engine.config.cols, engine.config.dataflow, sram.bandwidth_words_per_cycle,
                 dram.bandwidth_words_per_cycle, 64, 2]
    print(f"\nTable 2. Cycle-level path, forced 64^3 tiles on lecture-array: now vs commit {BASELINE_COMMIT} "
          f"(CPU, best of {2 * rounds} in alternated child processes; load average {os.getloadavg()[0]:.1f})")
    with tempfile.TemporaryDirectory() as scratch:
        archive = Path(scratch) / "baseline.tar"
        try:
            subprocess.run(["git", "archive", "-o", str(archive), BASELINE_COMMIT, "energysim", "hwconfigs", "workloads"],
                           cwd=repo, check=True, capture_output=True)
        except (OSError, subprocess.CalledProcessError):
            print(f"  commit {BASELINE_COMMIT} is not in this clone (shallow? not a git clone?): no baseline to compare with")
            return
        baseline = Path(scratch) / "baseline"
        with tarfile.open(archive) as tar:
            safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}  # Pythons before 3.11.4 have no filters
            tar.extractall(baseline, **safe)
        for folder in ("hwconfigs", "workloads"):  # where an install puts them (setup.py maps them into energysim.bundled)
            (baseline / folder).rename(baseline / "energysim" / "bundled" / folder)
        now: dict = {}
        before: dict = {}
        for _ in range(rounds):
            for times, root in ((before, baseline), (now, repo)):
                for name, (seconds, outcome) in _child_times(root, arguments).items():
                    times[name] = (min(seconds, times.get(name, (seconds,))[0]), outcome)
    for name, (seconds, outcome) in now.items():
        old_seconds, old_outcome = before[name]
        differ = sorted(key for key in outcome if outcome[key] != old_outcome.get(key))
        agree = "same counts and cycles" if not differ else f"DIFFER: {', '.join(differ)}"
        print(f"  {name:12s} {BASELINE_COMMIT} {old_seconds * 1e3:8.1f} ms   now {seconds * 1e3:7.1f} ms   "
              f"now {old_seconds / seconds:5.1f}x faster   {agree}")


def main(argv: list[str] | None = None) -> None:
    """Print the three tables (``--help``: what they are)."""
    import argparse

    argparse.ArgumentParser(prog="python benchmarks/bench_dense.py", description=__doc__,
                            formatter_class=argparse.RawDescriptionHelpFormatter).parse_args(argv)
    speed_table()
    cycle_baseline_table()
    tiling_table()


if __name__ == "__main__":
    main()
