"""One benchmark command: energysim's dense paths vs SCALE-Sim 3.0.0, and whole networks on every engine.

Run from a clone with energysim installed: ``python -m benchmarks`` (options:
``--sizes 64 128``, ``--skip-scalesim``, ``--skip-networks``, ``--timeout S``).
Prints two tables measured in the same run on the same machine; quote the
ratios, not the absolute times (the machine may be shared).

1. GEMMs ``N^3`` (64 to 1024) on a 32x32 array, output and weight stationary:
   energysim's fast and cycle-level paths and SCALE-Sim 3.0.0, each in its own
   process (wall time of a simulation call after a warm-up call in that
   process, so one-off start-up costs such as imports and JIT compiles are left
   out; energysim's calls take milliseconds, so the best of three is reported;
   SCALE-Sim above N = 256 runs once, its minutes dwarfing start-up;
   peak resident memory of the process, imports included). SCALE-Sim is never a dependency: the benchmark
   creates its venv (default ``~/.cache/energysim/bench-venvs/scalesim-3.0.0``)
   with ``pip install scalesim==3.0.0 "numpy<2.4"`` on first use and runs
   :mod:`benchmarks.scalesim_runner` in it (its config: 32x32, 1 GiB per SRAM,
   CALC bandwidth, no traces on disk). energysim runs a DRAM -> SRAM -> RF array
   with the lecture costs, an SRAM large enough for one tile (so K is never split
   and no partial sums return) and SRAM bandwidth rows + cols (no stalls).
   Agreement, after normalisations stated here:

   - cycles: energysim's array cycles (compute + fold fill/drain + SRAM stalls;
     DRAM head and tail excluded) = SCALE-Sim's ``Total Cycles`` + 1 (SCALE-Sim
     reports the index of the last busy cycle, counting from 0);
   - SRAM reads: energysim's weight + input SRAM reads = SCALE-Sim's IFMAP +
     FILTER SRAM reads (the two tools name the GEMM operands differently);
   - SRAM output writes: output stationary, SCALE-Sim's OFMAP writes - (rows +
     cols) x folds = energysim's (SCALE-Sim counts a write for every drain cycle
     of the skewed array, R + C per fold more than there are outputs); weight
     stationary, energysim's writes + partial-sum updates.

2. Whole networks (VGG-16, BERT-base; dense, and pruned where the workload or
   the mode exists) on every engine: dense array (``lecture-array``), EIE
   (``eie-64pe-lecture``), sparse tensor core (``a100``, dense and 2:4 modes) and
   the loop-nest engine (``eyeriss-like-lecture``, mapper search included), each
   in its own process: wall time of ``energysim.simulate`` and peak memory.

3. Huge but valid inputs on the dense array and the sparse tensor core: a
   65536^3 GEMM and VGG-16 at batch 1024, time and peak memory.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import venv
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCALESIM_VERSION = "3.0.0"
SIZES = (64, 128, 256, 512, 1024)
DATAFLOWS = {"output_stationary": "os", "weight_stationary": "ws"}
ARRAY = 32
WARM_UP_MAX = 256
"""Largest N whose SCALE-Sim run gets a warm-up call first (larger runs take minutes; start-up is noise there)."""
NETWORKS = (
    # (label, workload, hardware, variant)
    ("VGG-16", "vgg16", "lecture-array", "dense"),
    ("VGG-16", "vgg16-han2015", "lecture-array", "pruned (Han 2015)"),
    ("VGG-16", "vgg16", "eie-64pe-lecture", "dense"),
    ("VGG-16", "vgg16-han2015", "eie-64pe-lecture", "pruned (Han 2015)"),
    ("VGG-16", "vgg16", "a100:dense", "dense"),
    ("VGG-16", "vgg16", "a100:sparse_2_4", "pruned (2:4)"),
    ("VGG-16", "vgg16", "eyeriss-like-lecture", "dense"),
    ("VGG-16", "vgg16-han2015", "eyeriss-like-lecture", "pruned (Han 2015)"),
    ("BERT-base", "bert-base", "lecture-array", "dense"),
    ("BERT-base", "bert-base", "eie-64pe-lecture", "dense"),
    ("BERT-base", "bert-base", "a100:dense", "dense"),
    ("BERT-base", "bert-base", "a100:sparse_2_4", "pruned (2:4)"),
    ("BERT-base", "bert-base", "eyeriss-like-lecture", "dense"),
)


def _peak_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def gemm_hardware(dataflow: str, size: int):
    """The energysim array of the SCALE-Sim comparison: 32x32, one SRAM tile for the whole GEMM, no stalls."""
    from energysim.config.hardware import HardwareFile
    from energysim.hardware.hierarchy import build_hardware

    spec = HardwareFile.model_validate({
        "schema_version": 1,
        "name": f"bench-{ARRAY}x{ARRAY}-{dataflow}",
        "clock_ghz": 1.0,
        "cost_table": "lecture-45nm",
        "engine": {"kind": "dense", "rows": ARRAY, "cols": ARRAY, "dataflow": dataflow},
        "memory": [
            {"name": "DRAM", "kind": "dram", "word_bits": 32, "bandwidth_words_per_cycle": 2 * ARRAY},
            {"name": "SRAM", "kind": "sram", "capacity_bytes": 4 * 8 * size * size, "word_bits": 32,
             "bandwidth_words_per_cycle": 2 * ARRAY},
            {"name": "RF", "kind": "regfile", "capacity_bytes": 64, "word_bits": 32, "bandwidth_words_per_cycle": 4},
        ],
        "units": [
            {"name": "MAC", "action": "mult", "table_component": "float_mult", "bits": 32},
            {"name": "MAC", "action": "add", "table_component": "float_add", "bits": 32},
        ],
    })
    return build_hardware(spec, "benchmarks/run_all.py")


def measure_gemm(size: int, dataflow: str, path: str) -> dict:
    """Run one energysim GEMM in this process: best seconds of three calls after a warm-up, peak MB and figures."""
    from energysim.engines import build_engine
    from energysim.workloads.layers import GemmLayer

    engine = build_engine(gemm_hardware(dataflow, size))
    layer = GemmLayer(name="gemm", m=size, n=size, k=size)
    timings = []
    for _ in range(4):  # a warm-up call, then the best of three (noise on a shared machine only adds time)
        start = time.perf_counter()
        result = engine.simulate(layer, path=path)
        timings.append(time.perf_counter() - start)
    seconds = min(timings[1:])
    stats = result.stats
    return {
        "seconds": seconds, "peak_mb": _peak_mb(), "tiles": stats["tiles"],
        "array_cycles": result.cycles["compute"] + stats["cycles_skew"] + stats["cycles_sram_stall"],
        "folds_skew": stats["cycles_skew"],
        "sram_reads": result.count("SRAM", "weights", "read") + result.count("SRAM", "inputs", "read"),
        "sram_out_writes": result.count("SRAM", "outputs", "write"),
        "sram_out_updates": result.count("SRAM", "outputs", "update"),
    }


def measure_network(wl: str, hw: str) -> dict:
    """Simulate a whole workload in this process: seconds and peak MB."""
    from energysim.api import simulate

    start = time.perf_counter()
    run = simulate(hw, wl, progress=False)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "peak_mb": _peak_mb(), "layers": int(len(run.summary))}


SCALE_CASES = (
    # (label, what, hardware)
    ("GEMM 65536^3", "gemm65536", "lecture-array"),
    ("GEMM 65536^3", "gemm65536", "a100:dense"),
    ("VGG-16, batch 1024", "vgg16-batch1024", "lecture-array"),
    ("VGG-16, batch 1024", "vgg16-batch1024", "a100:dense"),
)
"""Huge but valid inputs: each must stay under 500 MB peak."""


def measure_scale(what: str, hw: str) -> dict:
    """Simulate a huge input in this process: seconds and peak MB."""
    from energysim.api import simulate, workload
    from energysim.workloads.layers import GemmLayer
    from energysim.workloads.workload import Workload

    if what == "gemm65536":
        wl = Workload(name="gemm65536", layers=(GemmLayer(name="gemm", m=65536, n=65536, k=65536),))
    else:
        wl = Workload(name="vgg16-batch1024",
                      layers=tuple(layer.model_copy(update={"batch": 1024}) for layer in workload("vgg16").layers))
    start = time.perf_counter()
    simulate(hw, wl, progress=False)
    return {"seconds": time.perf_counter() - start, "peak_mb": _peak_mb()}


def scale_table(timeout: float) -> None:
    """Print table 3."""
    print("\nTable 3. Huge inputs on the dense array and the sparse tensor core (target: under 500 MB peak each)")
    header = f"{'input':20s} {'hardware':16s} | {'time s':>9s} {'peak MB':>8s}"
    print(header)
    print("-" * len(header))
    for label, what, hw in SCALE_CASES:
        row = _child(["-m", "benchmarks.run_all", "--child-scale", what, hw], timeout)
        mb = f"{row['peak_mb']:.0f}" if "error" not in row else "-"
        print(f"{label:20s} {hw:16s} | {_fmt_s(row):>9s} {mb:>8s}", flush=True)


def _child(args: list[str], timeout: float, python: str = sys.executable) -> dict:
    """Run a measurement in a fresh process; its last stdout line is JSON."""
    try:
        done = subprocess.run([python, *args], capture_output=True, text=True, timeout=timeout, cwd=HERE.parent)
    except subprocess.TimeoutExpired:
        return {"error": f"over {timeout:.0f} s"}
    if done.returncode != 0:
        lines = (done.stderr.strip() or done.stdout.strip() or "no output").splitlines()
        return {"error": lines[-1][:120]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def scalesim_python(venv_dir: Path) -> str:
    """SCALE-Sim's own venv (created with pip on first use); never a dependency of energysim."""
    python = venv_dir / "bin" / "python"
    if not python.exists() or subprocess.run([str(python), "-c", "import scalesim"], capture_output=True).returncode:
        print(f"creating SCALE-Sim {SCALESIM_VERSION} venv in {venv_dir} ...", file=sys.stderr)
        venv.create(venv_dir, with_pip=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", f"scalesim=={SCALESIM_VERSION}", "numpy<2.4"],
                       check=True)
    return str(python)


def _fmt_s(row: dict) -> str:
    return row["error"] if "error" in row else f"{row['seconds']:.4g}"


def gemm_table(sizes: list[int], scalesim: str | None, timeout: float) -> None:
    """Print table 1."""
    print(f"\nTable 1. GEMM N^3 on a {ARRAY}x{ARRAY} array: energysim fast / cycle-level paths vs SCALE-Sim {SCALESIM_VERSION}")
    header = (f"{'N':>5s} {'flow':>4s} | {'fast s':>8s} {'cycle s':>8s} {'SCALE s':>8s} | {'SCALE/fast':>10s} "
              f"{'SCALE/cycle':>11s} {'cycle/fast':>10s} | {'fast MB':>7s} {'cycle MB':>8s} {'SCALE MB':>8s} | "
              f"{'cycles':>6s} {'reads':>5s} {'writes':>6s}")
    print(header)
    print("-" * len(header))
    module = "benchmarks.run_all"
    for size in sizes:
        for dataflow, short in DATAFLOWS.items():
            fast = _child(["-m", module, "--child-gemm", str(size), dataflow, "fast"], timeout)
            cycle = _child(["-m", module, "--child-gemm", str(size), dataflow, "cycle"], timeout)
            peer: dict = {"error": "skipped"}
            if scalesim:
                with tempfile.TemporaryDirectory() as work:
                    warm = "warm-up" if size <= WARM_UP_MAX else "once"
                    peer = _child([str(HERE / "scalesim_runner.py"), str(size), str(size), str(size), short, str(ARRAY),
                                   str(ARRAY), work, warm], timeout, python=scalesim)
            agree = ["-", "-", "-"]
            if "error" not in fast and "error" not in peer:
                folds = fast["folds_skew"] // ((2 * ARRAY - 2) if dataflow == "output_stationary" else (3 * ARRAY - 2))
                agree[0] = "yes" if fast["array_cycles"] == peer["total_cycles"] + 1 else "NO"
                agree[1] = "yes" if fast["sram_reads"] == peer["sram_ifmap_reads"] + peer["sram_filter_reads"] else "NO"
                if dataflow == "output_stationary":
                    ok = fast["sram_out_writes"] == peer["sram_ofmap_writes"] - 2 * ARRAY * folds
                else:
                    ok = fast["sram_out_writes"] + fast["sram_out_updates"] == peer["sram_ofmap_writes"]
                agree[2] = "yes" if ok else "NO"
            if "error" not in fast and "error" not in cycle and fast["array_cycles"] != cycle["array_cycles"]:
                agree[0] += "(fast!=cycle)"

            def ratio(a: dict, b: dict) -> str:
                return f"{a['seconds'] / b['seconds']:.3g}x" if "error" not in a and "error" not in b else "-"

            def mb(row: dict) -> str:
                return f"{row['peak_mb']:.0f}" if "error" not in row else "-"

            print(f"{size:5d} {short:>4s} | {_fmt_s(fast):>8s} {_fmt_s(cycle):>8s} {_fmt_s(peer):>8s} | "
                  f"{ratio(peer, fast):>10s} {ratio(peer, cycle):>11s} {ratio(cycle, fast):>10s} | "
                  f"{mb(fast):>7s} {mb(cycle):>8s} {mb(peer):>8s} | {agree[0]:>6s} {agree[1]:>5s} {agree[2]:>6s}",
                  flush=True)


def network_table(timeout: float) -> None:
    """Print table 2."""
    print("\nTable 2. Whole networks on every engine (energysim.simulate, one process each)")
    header = f"{'network':10s} {'variant':18s} {'hardware':22s} | {'time s':>9s} {'peak MB':>8s} {'layers':>6s}"
    print(header)
    print("-" * len(header))
    for label, wl, hw, variant in NETWORKS:
        row = _child(["-m", "benchmarks.run_all", "--child-network", wl, hw], timeout)
        mb = f"{row['peak_mb']:.0f}" if "error" not in row else "-"
        layers = str(row.get("layers", "-"))
        print(f"{label:10s} {variant:18s} {hw:22s} | {_fmt_s(row):>9s} {mb:>8s} {layers:>6s}", flush=True)


def main(argv: list[str] | None = None) -> None:
    """Benchmark entry point (also the child measurements, by hidden flags)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES), help="GEMM sizes N (N^3)")
    parser.add_argument("--skip-scalesim", action="store_true", help="energysim columns only")
    parser.add_argument("--skip-networks", action="store_true", help="table 1 only")
    parser.add_argument("--skip-gemms", action="store_true", help="table 2 only")
    parser.add_argument("--timeout", type=float, default=600, help="seconds allowed per measurement")
    parser.add_argument("--venv", type=Path, default=Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
                        / "energysim" / "bench-venvs" / f"scalesim-{SCALESIM_VERSION}", help="SCALE-Sim's venv")
    parser.add_argument("--child-gemm", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--child-network", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--child-scale", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--skip-scale", action="store_true", help="leave out table 3 (huge inputs)")
    args = parser.parse_args(argv)
    if args.child_gemm:
        size, dataflow, path = args.child_gemm
        print(json.dumps(measure_gemm(int(size), dataflow, path)))
        return
    if args.child_network:
        print(json.dumps(measure_network(*args.child_network)))
        return
    if args.child_scale:
        print(json.dumps(measure_scale(*args.child_scale)))
        return
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, "
          f"Python {platform.python_version()}")
    if not args.skip_gemms:
        scalesim = None if args.skip_scalesim else scalesim_python(args.venv)
        gemm_table(args.sizes, scalesim, args.timeout)
    if not args.skip_networks:
        network_table(args.timeout)
    if not args.skip_scale:
        scale_table(args.timeout)


if __name__ == "__main__":
    main()
