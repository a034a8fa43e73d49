"""Speed of the dense engine: fast path on VGG-16 and a 1024^3 GEMM; fast vs cycle-level path.

Run: ``python benchmarks/bench_dense.py``. Prints wall times (best of N runs) and,
for the small layer both paths can run, the cycle/fast time ratio measured side
by side in the same process.
"""

from __future__ import annotations

import time

from energysim.api import hardware, simulate, workload
from energysim.engines import build_engine
from energysim.workloads.layers import GemmLayer


def best_of(repeats: int, fn) -> float:
    """Least wall time of ``repeats`` calls, seconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    """Print the benchmark table."""
    hw = hardware("lecture-array")
    vgg = workload("vgg16")
    engine = build_engine(hw)
    big = GemmLayer(name="gemm1024", m=1024, n=1024, k=1024)
    small = GemmLayer(name="gemm48", m=48, n=40, k=64)
    rows = [
        ("VGG-16, 16 layers, fast path (simulate + price)", best_of(3, lambda: simulate(hw, vgg))),
        ("GEMM 1024^3, fast path", best_of(3, lambda: engine.simulate(big))),
    ]
    fast = best_of(5, lambda: engine.simulate(small, path="fast"))
    cycle = best_of(2, lambda: engine.simulate(small, path="cycle"))
    rows += [("GEMM 48x40x64, fast path", fast), ("GEMM 48x40x64, cycle-level path", cycle)]
    for name, seconds in rows:
        print(f"{name:55s} {seconds * 1e3:10.1f} ms")
    print(f"{'cycle-level / fast path time ratio (48x40x64)':55s} {cycle / fast:10.0f} x")


if __name__ == "__main__":
    main()
