"""Wall time of the demo and of a 60-point compare sweep, local processes vs one process.

Run: ``python benchmarks/bench_compare.py``. Both sweeps run the same 60 points
(MLP; fine, vector and channel patterns x 10 sparsities x two criteria each:
magnitude or L1, and random) on the lecture array and EIE, side by side in one run, from an empty folder each
(model training excluded: the trained model is cached first).
"""

from __future__ import annotations

import io
import os
import tempfile
import time
from pathlib import Path

from energysim.demo import DEMO_HARDWARE, run_demo
from energysim.sweep import cached_model, grid, run_sweep

SPARSITIES = [0.1 * i for i in range(1, 10)] + [0.95]


def sixty_points():
    """60 pruned points + the dense baseline."""
    points = grid("mlp", ["fine", "vector", "channel"], SPARSITIES, ["magnitude", "l1", "random"], finetune_epochs=1)
    assert len(points) == 61, len(points)
    return points


def timed_sweep(points, jobs: int, cache: Path) -> float:
    """Seconds for one sweep into a fresh folder."""
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        run_sweep(points, ("lecture-array", "eie-64pe-lecture"), out, jobs=jobs, cache_dir=cache, progress=False)
        return time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    """Print demo time and the sweep times and ratio (``--help``: what it runs)."""
    import argparse

    argparse.ArgumentParser(prog="python benchmarks/bench_compare.py", description=__doc__,
                            formatter_class=argparse.RawDescriptionHelpFormatter).parse_args(argv)
    with tempfile.TemporaryDirectory() as demo_dir:
        start = time.perf_counter()
        demo = run_demo(Path(demo_dir), io.StringIO())
        demo_s = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as cache_dir:
        cache = Path(cache_dir)
        cached_model("mlp", 0, cache)
        points = sixty_points()
        one = timed_sweep(points, 1, cache)
        many = timed_sweep(points, os.cpu_count() or 1, cache)
    points_demo = len(demo) // len(DEMO_HARDWARE)
    print(f"demo (train + {points_demo} points x {len(DEMO_HARDWARE)} hardware, fresh folder): {demo_s:8.1f} s")
    print(f"compare, {len(points) - 1} points + dense x 2 hardware, 1 process: {one:8.1f} s")
    print(f"compare, same points, {os.cpu_count()} local processes:        {many:8.1f} s")
    print(f"speed-up of local processes over one: {one / many:.2f} x")


if __name__ == "__main__":
    main()
