"""Time to simulate the EIE paper's big layers at 64 PEs with full queue dynamics.

Run: ``python benchmarks/bench_eie.py [--repeat N]``. Prints, per layer, the best
and median wall time of ``repeat`` runs split into preparation (synthesis,
codebook fit, interleaved-CSC encoding) and the cycle-level simulation, next to
the budget (Alex-6 <= 2 s, VGG-6 <= 5 s on the project's 2-core machine), and
the modelled latency. Not a timed test.
"""

from __future__ import annotations

import argparse
import statistics
import time

from energysim.engines import build_engine
from energysim.catalog import hwconfig_path
from energysim.hardware.hierarchy import load_hardware
from energysim.workloads.layers import LinearLayer


LAYERS = (
    (LinearLayer(name="Alex-6", in_features=9216, out_features=4096, weight_density=0.09, activation_density=0.351), 2.0),
    (LinearLayer(name="VGG-6", in_features=25088, out_features=4096, weight_density=0.04, activation_density=0.183), 5.0),
    (LinearLayer(name="Alex-7", in_features=4096, out_features=4096, weight_density=0.09, activation_density=0.353), None),
)


def main() -> None:
    """Benchmark entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per layer (best and median reported)")
    args = parser.parse_args()
    hardware = load_hardware(hwconfig_path("eie-64pe"))
    engine = build_engine(hardware)
    print(f"{'layer':8s} {'total best s':>12s} {'median s':>9s} {'prepare s':>10s} {'simulate s':>11s} {'budget s':>9s} "
          f"{'latency us':>11s}")
    for layer, budget in LAYERS:
        totals, prepares, simulates = [], [], []
        result = None
        for _ in range(max(1, args.repeat)):
            start = time.perf_counter()
            prepared = engine.prepare(layer)
            middle = time.perf_counter()
            result = engine.simulate(layer, prepared=prepared)
            end = time.perf_counter()
            totals.append(end - start)
            prepares.append(middle - start)
            simulates.append(end - middle)
        budget_text = f"{budget:.1f}" if budget else "-"
        print(f"{layer.name:8s} {min(totals):12.3f} {statistics.median(totals):9.3f} {min(prepares):10.3f} "
              f"{min(simulates):11.3f} {budget_text:>9s} {result.latency_s * 1e6:11.2f}")


if __name__ == "__main__":
    main()
