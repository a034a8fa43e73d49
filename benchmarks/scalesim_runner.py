"""Run SCALE-Sim 3.0.0 on one GEMM and print its figures as JSON (runs inside SCALE-Sim's own venv).

Usage: ``python scalesim_runner.py M N K DATAFLOW ROWS COLS WORKDIR warm-up|once``. Writes SCALE-Sim's
own config (``bench.cfg``) and GEMM topology (``gemm.csv``) into WORKDIR, runs it
without traces on disk (after a warm-up call with ``warm-up``), and prints wall time, peak resident memory and the reports'
total cycles and SRAM reads/writes. Imports nothing from energysim.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import resource
import sys
import time
from pathlib import Path

CONFIG = """[general]
run_name = bench

[architecture_presets]
ArrayHeight : {rows}
ArrayWidth : {cols}
IfmapSramSzkB : 1048576
FilterSramSzkB : 1048576
OfmapSramSzkB : 1048576
IfmapOffset : 0
FilterOffset : 10000000
OfmapOffset : 20000000
Dataflow : {dataflow}
ReadRequestBuffer : 32
WriteRequestBuffer : 32
Bandwidth : 10

[layout]
IfmapCustomLayout : False
IfmapSRAMBankBandwidth : 10
IfmapSRAMBankNum : 10
IfmapSRAMBankPort : 2
FilterCustomLayout : False
FilterSRAMBankBandwidth : 10
FilterSRAMBankNum : 10
FilterSRAMBankPort : 2

[sparsity]
SparsitySupport : false
SparseRep : ellpack_block
OptimizedMapping : false
BlockSize : 8
RandomNumberGeneratorSeed : 40

[run_presets]
InterfaceBandwidth : CALC
UseRamulatorTrace : False
"""


def _report(path: Path) -> dict[str, str]:
    with path.open() as handle:
        rows = list(csv.reader(handle))
    return {key.strip(): value.strip() for key, value in zip(rows[0], rows[1]) if key.strip()}


def main() -> None:
    """Run one GEMM and print the JSON line."""
    m, n, k, dataflow, rows, cols, workdir, warm_up = sys.argv[1:9]
    work = Path(workdir)
    work.mkdir(parents=True, exist_ok=True)
    config = work / "bench.cfg"
    config.write_text(CONFIG.format(rows=rows, cols=cols, dataflow=dataflow))
    topology = work / "gemm.csv"
    topology.write_text(f"Layer, M, N, K,\ngemm, {m}, {n}, {k},\n")
    layout = work / "layout.csv"  # SCALE-Sim 3 reads a layout file even with custom layouts off
    layout.write_text("Layer,\n")
    from scalesim.scale_sim import scalesim

    seconds = []
    runs = ("warm-up", "timed") if warm_up == "warm-up" else ("timed",)
    for run in runs:  # with a warm-up, the second call is timed: one-off start-up costs are not SCALE-Sim's speed
        start = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            sim = scalesim(save_disk_space=True, verbose=False, config=str(config), topology=str(topology),
                           layout=str(layout), input_type_gemm=True)
            sim.run_scale(top_path=str(work / run))
        seconds.append(time.perf_counter() - start)
    reports = next(p for p in (work / "timed").iterdir() if p.is_dir() and (p / "COMPUTE_REPORT.csv").exists())
    compute = _report(reports / "COMPUTE_REPORT.csv")
    access = _report(reports / "DETAILED_ACCESS_REPORT.csv")
    print(json.dumps({
        "seconds": seconds[-1],
        "first_call_seconds": seconds[0],
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "total_cycles": int(float(compute["Total Cycles"])),
        "sram_ifmap_reads": int(float(access["SRAM IFMAP Reads"])),
        "sram_filter_reads": int(float(access["SRAM Filter Reads"])),
        "sram_ofmap_writes": int(float(access["SRAM OFMAP Writes"])),
    }))


if __name__ == "__main__":
    main()
