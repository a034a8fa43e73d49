"""Time to simulate the big validation GEMMs on the A100 model, dense vs 2:4.

Run: ``python benchmarks/bench_sparse_tc.py [--repeat N]``. Prints one line per
GEMM and mode: best wall time and best CPU time (``time.process_time``) of
``repeat`` runs (tile search included), chosen tile, waves and the modelled
latency. On a shared machine quote the CPU column: wall time also measures the
neighbours. Not a timed test.
"""

from __future__ import annotations

import argparse
import time

from energysim.engines import build_engine
from energysim.catalog import hwconfig_path
from energysim.hardware.hierarchy import load_hardware
from energysim.workloads.layers import GemmLayer, LinearLayer


LAYERS = (
    GemmLayer(name="3072x3072x10240", m=3072, n=3072, k=10240),
    GemmLayer(name="4096^3", m=4096, n=4096, k=4096),
    GemmLayer(name="8192^3", m=8192, n=8192, k=8192),
    GemmLayer(name="16384x16384x4096", m=16384, n=16384, k=4096),
    LinearLayer(name="gemv 4096x4096", in_features=4096, out_features=4096, batch=1),
)


def main() -> None:
    """Benchmark entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs per case; the best is reported")
    args = parser.parse_args()
    engine = build_engine(load_hardware(hwconfig_path("a100")))
    print(f"{'layer':<20} {'mode':<11} {'best ms':>9} {'best CPU ms':>12} {'tile':>12} {'waves':>6} "
          f"{'model latency ms':>17}")
    for layer in LAYERS:
        for mode in ("dense", "sparse_2_4"):
            best = best_cpu = float("inf")
            for _ in range(args.repeat):
                start, start_cpu = time.perf_counter(), time.process_time()
                result = engine.simulate(layer, mode=mode)
                best = min(best, time.perf_counter() - start)
                best_cpu = min(best_cpu, time.process_time() - start_cpu)
            s = result.stats
            tile = f"{s['tile_m']}x{s['tile_n']}x{s['tile_k']}"
            print(f"{layer.name:<20} {mode:<11} {best * 1e3:9.2f} {best_cpu * 1e3:12.2f} {tile:>12} {s['waves']:6d} {result.latency_s * 1e3:17.4f}")


if __name__ == "__main__":
    main()
