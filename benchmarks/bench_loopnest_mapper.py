"""Speed and memory of the loop-nest mapper: every VGG-16 conv layer and a 1024^3 GEMM on lecture-array-loopnest.

Run: ``python benchmarks/bench_loopnest_mapper.py [--processes N] [--objective energy|latency|edp]
[--bypass] [--busy]``. Maps each layer with default settings and seed 0 (the cache is
cleared first, so every distinct geometry is searched once; VGG-16's repeated layers
are answered from the cache, as in a run), then prints per layer the energy found,
the default mapping's energy, the analysis evaluations, the estimate count, the
search's wall and CPU time, the totals and the peak resident memory of the process
(ru_maxrss). Also times one analysis evaluation of conv3_1's best mapping (best of
200 calls).
"""

from __future__ import annotations

import argparse
import resource
import time

from energysim.api import workload
from energysim.catalog import hwconfig_path
from energysim.engines.loopnest.analysis import evaluate
from energysim.engines.loopnest.mapper import clear_cache, map_layer, map_workload, spec_of
from energysim.engines.loopnest.mapper_constraints import MapperConstraints
from energysim.hardware.hierarchy import load_hardware
from energysim.workloads.layers import Conv2dLayer


def main(argv: list[str] | None = None) -> None:
    """Map the layers and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--objective", default="energy", choices=["energy", "latency", "edp"])
    parser.add_argument("--bypass", action="store_true", help="let the mapper bypass tensors at inner levels")
    parser.add_argument("--busy", action="store_true", help="require every PE busy (min_utilisation = 1)")
    args = parser.parse_args(argv)
    hw = load_hardware(hwconfig_path("lecture-array-loopnest"))
    constraints = MapperConstraints(allow_bypass=args.bypass, min_utilisation=1.0 if args.busy else 0.0)
    convs = [layer for layer in workload("vgg16").layers if isinstance(layer, Conv2dLayer)]
    gemm = [layer for layer in workload("gemm-square").layers if layer.name == "gemm1024"]
    clear_cache()
    start, cpu = time.perf_counter(), time.process_time()
    results = map_workload(hw, convs, constraints, args.objective, seed=0, processes=args.processes, progress=None)
    wall_all, cpu_all = time.perf_counter() - start, time.process_time() - cpu
    print(f"{'layer':10s} {'energy mJ':>10s} {'default mJ':>10s} {'cycles':>10s} {'PEs':>5s} {'evaluated':>9s} "
          f"{'estimated':>9s} {'wall s':>7s} {'cached':>6s}")
    for r in results:
        print(f"{r.layer:10s} {r.energy_pj * 1e-9:10.3f} {r.baselines['default'].energy_pj * 1e-9:10.3f} {r.cycles:10d} "
              f"{r.stats.spatial_utilisation:5.2f} {r.evaluated:9d} {r.estimated:9d} {r.wall_s:7.2f} {str(r.cached):>6s}")
    print(f"VGG-16, 13 conv layers: wall {wall_all:.1f} s, CPU of this process {cpu_all:.1f} s "
          f"({args.processes} process{'es' if args.processes > 1 else ''}; with more than one, CPU is the workers')")
    cpu = time.process_time()
    big = map_layer(hw, gemm[0], constraints, args.objective, seed=0, progress=False)
    print(f"gemm1024: {big.energy_pj * 1e-9:.3f} mJ, default {big.baselines['default'].energy_pj * 1e-9:.3f} mJ, "
          f"{big.evaluated} evaluated, wall {big.wall_s:.2f} s, CPU {time.process_time() - cpu:.2f} s")
    conv3_1 = next(r for r in results if r.layer == "conv3_1")
    spec, nest = spec_of(hw), next(l for l in convs if l.name == "conv3_1").loop_nest()
    times = []
    for _ in range(200):
        t = time.perf_counter()
        evaluate(spec, nest, conv3_1.mapping, check=False)
        times.append(time.perf_counter() - t)
    print(f"one analysis evaluation of conv3_1: {min(times) * 1e3:.2f} ms (best of 200)")
    print(f"peak resident memory: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
