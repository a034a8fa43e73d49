"""Speed and tiling of the dense engine, side by side in one run.

Run: ``python benchmarks/bench_dense.py``. Prints

1. CPU times (best of N runs, ``time.process_time``: on a shared machine wall
   time mostly measures the neighbours) of the fast path on VGG-16, its
   slowest layer and GEMMs up to 65536^3, and the cycle-level / fast time
   ratio on the layers both paths run;
2. the SRAM tiler's objectives side by side on ``lecture-array``: energy and
   latency of the 1024^3 GEMM, VGG-16 conv3_1 and all of VGG-16 under
   ``tiling_objective`` = energy, latency and edp (the default). Before the search
   (powers-of-two tiles ranked by estimated EDP) the same rows read 34.6 mJ /
   6.16 ms, 21.1 mJ / 5.31 ms and 466 mJ / 111 ms (docs/engines/dense.md).
"""

from __future__ import annotations

import time

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
    """Print table 2: the tiler's objectives side by side."""
    vgg = workload("vgg16")
    cases = [("GEMM 1024^3", Workload("gemm1024", (GemmLayer(name="gemm1024", m=1024, n=1024, k=1024),))),
             ("VGG-16 conv3_1", Workload("conv3_1", tuple(x for x in vgg.layers if x.name == "conv3_1"))),
             ("VGG-16, 16 layers", vgg)]
    objectives = ("energy", "latency", "edp")
    print("\nTable 2. SRAM tiler objectives on lecture-array: energy mJ / latency ms (tiles of the first layer)")
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


def main() -> None:
    """Print both tables."""
    speed_table()
    tiling_table()


if __name__ == "__main__":
    main()
