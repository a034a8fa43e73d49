"""One benchmark command: energysim's dense paths vs SCALE-Sim 3.0.0, and whole networks on every engine.

Run from a clone with energysim installed: ``python -m benchmarks`` (options:
``--sizes 64 128``, ``--skip-scalesim``, ``--skip-networks``, ``--skip-scale``,
``--timeout S``, ``--scale-cpu S``, ``--with-zigzag``). Prints its tables measured in the same run
on the same machine, then one line per issue-15 target (met or missed, by what
factor); quote the ratios, not the absolute times (the machine may be shared:
the load average at start is printed, and every energysim row has its process
CPU time next to its wall time).

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

2. Whole networks (VGG-16, ResNet-50, BERT-base, one BERT-base block,
   MobileNetV2; dense, and pruned where a pruned workload or mode exists:
   ``vgg16-han2015``, ``resnet50-2of4``, ``mobilenetv2-elsen2020``, the A100's
   2:4 mode) on every engine: dense array (``lecture-array``), EIE
   (``eie-64pe-lecture``), sparse tensor core (``a100``, dense and 2:4 modes) and
   the loop-nest engine (``eyeriss-like-lecture``, mapper search included), each
   in its own process: wall and CPU time of ``energysim.simulate`` and peak
   memory (after a warm-up run of both VGG-16 workloads on EIE, so that a
   fresh install's one-off numba compilation is not charged to the target
   rows; loading the cached kernels still is, in every EIE row). Then ``energysim reproduce eie`` in its own process (wall time
   including start-up, CPU time of the child).

3. Huge but valid inputs on every engine (dense array, EIE, sparse tensor core
   in both modes, loop nest): a 65536^3 GEMM and VGG-16 at batch 1024, time,
   peak memory, and whether the engine simulated it or refused it up front
   with its memory estimate (the issue allows either, under 500 MB). Each row
   has 120 CPU seconds of simulation (``--scale-cpu``; ``--timeout`` is the
   wall-clock backstop); a row stopped there is reported by its child's last
   progress line (peak memory so far, layers and share of the MACs done), and
   the verdict counts it as undecided under 500 MB, missed over it.

4. With ``--with-zigzag`` only (about 40 minutes on a loaded 2-core machine):
   :mod:`benchmarks.bench_loopnest_zigzag`, the loop-nest mapper next to ZigZag
   on VGG-16's conv layers and a 1024^3 GEMM, printed as it runs.

Targets (issue 15), judged from this run's rows: the dense fast path at least
10,000x SCALE-Sim at 512^3 and 1024^3 (smallest ratio over both dataflows);
whole VGG-16 on the three network engines (dense array, EIE, sparse tensor
core), dense and two pruned versions (Han 2015 on the dense array and EIE, 2:4
mode on the A100), under 10 s in total and under 1 GB peak; EIE on the pruned
VGG-16 under 2 s; ``reproduce eie`` under 10 s. Times are judged on CPU
seconds (a shared machine's load inflates wall time, not CPU time), with the
wall time printed beside; a refused network row gives the engine's sentence.
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
TIMEOUT_S = 600.0
"""Default seconds (wall) allowed per measurement (``--timeout``)."""
WARM_UP_MAX = 256
"""Largest N whose SCALE-Sim run gets a warm-up call first (larger runs take minutes; start-up is noise there)."""
ENGINES = ("lecture-array", "eie-64pe-lecture", "a100:dense", "a100:sparse_2_4", "eyeriss-like-lecture")
"""The network table's hardware: the A100 in both modes (its 2:4 mode is its pruned variant)."""
NETWORK_WORKLOADS = (
    # (label, dense workload, pruned workload or None, pruned variant, workload for the A100's 2:4 mode)
    ("VGG-16", "vgg16", "vgg16-han2015", "pruned (Han 2015)", "vgg16"),
    ("ResNet-50", "resnet50", "resnet50-2of4", "pruned (2:4 density)", "resnet50-2of4"),
    ("BERT-base", "bert-base", None, "", "bert-base"),
    ("BERT block", "bert-base-block", None, "", "bert-base-block"),
    ("MobileNetV2", "mobilenetv2", "mobilenetv2-elsen2020", "pruned (Elsen 2020)", "mobilenetv2"),
)


WARM_UP_WORKLOADS = ("vgg16-han2015", "vgg16")
"""Run on EIE before table 2: a fresh install compiles EIE's numba kernels (per integer width) on first use."""


def network_rows() -> list[tuple[str, str, str, str]]:
    """(label, workload, hardware, variant) for table 2: every network on every engine, dense and pruned.

    The A100's 2:4 mode runs the network's 2:4 workload (``resnet50-2of4``) or
    else its dense one (layers without tensors assumed exactly 2:4, as the engine
    documents; Han 2015's and Elsen 2020's unstructured densities are not 2:4);
    its dense mode ignores sparsity, so it runs only the dense workload.
    """
    rows = []
    for label, dense, pruned, variant, two_four in NETWORK_WORKLOADS:
        for hw in ENGINES:
            if hw == "a100:sparse_2_4":
                rows.append((label, two_four, hw, "pruned (2:4 mode)"))
                continue
            rows.append((label, dense, hw, "dense"))
            if pruned and hw != "a100:dense":
                rows.append((label, pruned, hw, variant))
    return rows


TARGET_VGG_ROWS = (
    ("vgg16", "lecture-array"), ("vgg16-han2015", "lecture-array"),
    ("vgg16", "eie-64pe-lecture"), ("vgg16-han2015", "eie-64pe-lecture"),
    ("vgg16", "a100:dense"), ("vgg16", "a100:sparse_2_4"),
)
"""The rows of the target "whole VGG-16 on all three engines, dense and two pruned versions"."""


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
    """Simulate a whole workload in this process: wall and CPU seconds, peak MB; a refusal is the row's ``error``."""
    from energysim.api import simulate
    from energysim.errors import EnergySimError

    start, cpu = time.perf_counter(), time.process_time()
    try:
        run = simulate(hw, wl, progress=False)
    except EnergySimError as exc:  # e.g. EIE on MobileNetV2's depthwise convolutions: the engine's own sentence
        return {"error": f"refused: {exc}"[:120]}
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "cpu_seconds": time.process_time() - cpu, "peak_mb": _peak_mb(),
            "layers": int(len(run.summary))}


def measure_reproduce_eie(timeout: float) -> dict:
    """``energysim reproduce eie`` in its own process: wall seconds from outside (start-up included), CPU seconds
    and peak MB of that process (imports included)."""
    start = time.perf_counter()
    row = _child(["-m", "benchmarks.run_all", "--child-reproduce-eie"], timeout)
    if "error" not in row:
        row["seconds"] = time.perf_counter() - start
    return row


def run_reproduce_eie() -> dict:
    """Run ``energysim reproduce eie --quiet`` in this process: CPU seconds and peak MB (output discarded)."""
    import io

    from energysim.cli import main as cli_main

    code = cli_main(["reproduce", "eie", "--quiet"], out=io.StringIO(), err=io.StringIO())
    if code:
        raise SystemExit(f"energysim reproduce eie: exit code {code}")
    return {"cpu_seconds": time.process_time(), "peak_mb": _peak_mb()}


SCALE_HARDWARE = ("lecture-array", "eie-64pe-lecture", "a100:dense", "a100:sparse_2_4", "lecture-array-loopnest")
"""One hardware per engine (the sparse tensor core in both modes): issue 15 asks every engine."""

SCALE_CASES = tuple((label, what, hw) for label, what in (("GEMM 65536^3", "gemm65536"),
                                                         ("VGG-16, batch 1024", "vgg16-batch1024"))
                    for hw in SCALE_HARDWARE)
"""Huge but valid inputs: each must stay under 500 MB peak or be refused up front with its estimate."""

SCALE_CPU_S = 120.0
"""Default CPU seconds of simulation allowed per table-3 row (``--scale-cpu``): VGG-16 at batch 1024 on EIE
takes about an hour of CPU, so it stops there and reports its peak so far; every other row takes under a
minute (the loop nest's mapper on VGG-16 about 45 s). CPU, not wall, so a shared machine stops it at the same
point; ``--timeout`` stays the wall-clock backstop."""

SCALE_PEAK_BOUND_MB = 500
"""Issue 15's bound on a huge input's peak memory, MB."""

PROGRESS_INTERVAL_S = 5.0
"""Seconds between two progress lines of a table-3 child (it prints one more after each layer)."""


def scale_workload(what: str):
    """The huge input ``what`` of :data:`SCALE_CASES` as a workload (``gemm65536`` or ``vgg16-batch1024``)."""
    from energysim.api import workload
    from energysim.workloads.layers import GemmLayer
    from energysim.workloads.workload import Workload

    if what == "gemm65536":
        return Workload(name="gemm65536", layers=(GemmLayer(name="gemm", m=65536, n=65536, k=65536),))
    return Workload(name="vgg16-batch1024",
                    layers=tuple(layer.model_copy(update={"batch": 1024}) for layer in workload("vgg16").layers))


def eie_estimate_mb(wl, hw) -> float | None:
    """EIE's own up-front estimate of the working arrays of ``wl``'s largest layer on ``hw``, MB (None off EIE).

    The figure :meth:`energysim.engines.eie.engine.EieEngine` checks before each
    layer (:func:`energysim.engines.eie.memory.estimate_bytes`, synthetic weights and
    inputs as table 3 runs them); the interpreter and imports come on top.
    """
    if hw.engine_kind != "eie":
        return None
    from energysim.engines import build_engine
    from energysim.engines.eie.lane_kernel import use_compiled
    from energysim.engines.eie.memory import estimate_bytes

    cfg = build_engine(hw).config
    return max(estimate_bytes(shape.m, shape.k, shape.n, n_pe=cfg.n_pe, rows_per_pass=cfg.activation_regfile_entries,
                              index_bits=cfg.index_bits, density=layer.weight_density, real_weights=False,
                              calibration_inputs=False, compiled=use_compiled())
               for layer in wl.layers for shape in (layer.gemm_shape(),)) / 2**20


def progress_line(cpu_start_s: float, layers_done: int, macs_done: int, layers: int, macs: int) -> dict:
    """One progress report of a table-3 child: CPU seconds since ``cpu_start_s`` and peak MB so far, layers
    and MAC fraction done."""
    return {"progress": {"cpu_seconds": time.process_time() - cpu_start_s, "peak_mb": _peak_mb(),
                         "layers_done": layers_done, "layers": layers,
                         "macs_done_fraction": macs_done / macs if macs else 0.0}}


def measure_scale(what: str, hw: str, cpu_budget_s: float = SCALE_CPU_S, interval_s: float = PROGRESS_INTERVAL_S) -> dict:
    """Simulate a huge input in this process: seconds and peak MB; progress lines on stdout meanwhile.

    Every ``interval_s`` seconds and after each layer, one JSON line
    (:func:`progress_line`) goes to stdout, so a parent that stops this process
    at its timeout still knows the peak so far and how far the run got. Past
    ``cpu_budget_s`` CPU seconds of simulation the process prints
    ``{"stopped": <progress>, "cpu_budget_seconds": ...}`` and exits. On EIE
    every line also carries the engine's own estimate (:func:`eie_estimate_mb`).
    """
    import threading

    from energysim import catalog
    from energysim.api import hardware
    from energysim.errors import EnergySimError
    from energysim.simulate import run_workload

    wl = scale_workload(what)
    macs = {layer.name: layer.loop_nest().macs for layer in wl.layers}
    done = {"layers": 0, "macs": 0}
    lock, stop = threading.Lock(), threading.Event()

    def report() -> dict:
        line = progress_line(cpu, done["layers"], done["macs"], len(macs), sum(macs.values()))
        line["progress"]["estimate_mb"] = estimate_mb
        with lock:
            sys.stdout.write(json.dumps(line) + "\n")
            sys.stdout.flush()
        return line

    def layer_done(name: str) -> None:
        done["layers"] += 1
        done["macs"] += macs[name]
        report()

    def tick() -> None:
        while not stop.wait(interval_s):
            line = report()
            if line["progress"]["cpu_seconds"] >= cpu_budget_s:
                with lock:
                    sys.stdout.write(json.dumps({"stopped": line["progress"], "cpu_budget_seconds": cpu_budget_s}) + "\n")
                    sys.stdout.flush()
                    os._exit(0)  # the simulation runs on in the main thread: end the process here

    path, options = catalog.hardware_spec(hw)
    hw_obj = hardware(path)
    estimate_mb = eie_estimate_mb(wl, hw_obj)
    ticker = threading.Thread(target=tick, daemon=True)
    start, cpu = time.perf_counter(), time.process_time()
    ticker.start()
    try:
        run_workload(wl, hw_obj, on_layer=layer_done, **options)
    except EnergySimError as exc:
        refused = str(exc)
    else:
        refused = ""
    finally:
        stop.set()
        ticker.join()
    return {"seconds": time.perf_counter() - start, "cpu_seconds": time.process_time() - cpu, "peak_mb": _peak_mb(),
            "refused": refused, "layers_done": done["layers"], "layers": len(macs), "estimate_mb": estimate_mb}


def scale_outcome(row: dict) -> str:
    """Table 3's outcome cell: simulated, refused (with the engine's sentence), stopped (with the peak so far)."""
    if "so_far" in row:
        so_far = row["so_far"]
        stop = f"timed out after {row['over_seconds']:.0f} s wall" if "over_seconds" in row else row["error"]
        return (f"{stop} ({so_far['cpu_seconds']:.0f} CPU s), peak so far {so_far['peak_mb']:.0f} MB "
                f"(after {so_far['layers_done']} of {so_far['layers']} layers, "
                f"{100 * so_far['macs_done_fraction']:.0f}% of the MACs)" + _estimate_note(so_far))
    if "error" in row:
        return row["error"]
    return f"refused: {row['refused'][:150]}" if row["refused"] else "simulated" + _estimate_note(row)


def _estimate_note(row: dict) -> str:
    """``; engine estimate X MB of arrays per layer at most`` when the row carries the engine's own estimate."""
    if row.get("estimate_mb") is None:
        return ""
    return f"; the engine's own estimate of its largest layer: {row['estimate_mb']:.0f} MB of arrays"


def scale_table(timeout: float, cpu_budget_s: float = SCALE_CPU_S) -> dict[tuple[str, str], dict]:
    """Print table 3; return its rows by (input, hardware)."""
    print(f"\nTable 3. Huge inputs on every engine (target: under {SCALE_PEAK_BOUND_MB} MB peak each, or refused up "
          f"front with its estimate; {cpu_budget_s:.0f} CPU s of simulation and {timeout:.0f} s wall allowed per row)")
    header = f"{'input':20s} {'hardware':22s} | {'wall s':>9s} {'cpu s':>7s} {'peak MB':>8s} | outcome"
    print(header)
    print("-" * len(header))
    rows = {}
    for label, what, hw in SCALE_CASES:
        start = time.perf_counter()
        row = rows[what, hw] = _child(["-m", "benchmarks.run_all", "--child-scale", what, hw, "--scale-cpu",
                                       str(cpu_budget_s)], timeout)
        if "so_far" in row:  # stopped at a bound: the figures so far, lower bounds
            wall, cpu, mb = (f">{time.perf_counter() - start:.0f}", f">{row['so_far']['cpu_seconds']:.3g}",
                             f">{row['so_far']['peak_mb']:.0f}")
        elif "error" in row:
            wall = cpu = mb = "-"
        else:
            wall, cpu, mb = f"{row['seconds']:.4g}", _fmt_cpu(row), f"{row['peak_mb']:.0f}"
        print(f"{label:20s} {hw:22s} | {wall:>9s} {cpu:>7s} {mb:>8s} | {scale_outcome(row)}", flush=True)
    return rows


def scale_verdict(rows: dict[tuple[str, str], dict]) -> str:
    """Issue 15's bounded-memory target judged on table 3: every row under 500 MB, simulated or refused up front.

    A row stopped at its CPU budget or timeout counts by its peak so far: over
    the bound it misses the target (a peak only grows), under it the target is
    not decided.
    """
    name = "huge inputs on every engine (65536^3 GEMM, VGG-16 at batch 1024), peak"
    bound = f"< {SCALE_PEAK_BOUND_MB} MB"
    if not rows:
        return f"{name} {bound}: not measured in this run"
    failed = sum("error" in row and "so_far" not in row for row in rows.values())
    if failed:
        return f"{name} {bound}: not decided ({failed} rows failed)"
    finished = [row for row in rows.values() if "error" not in row]
    stopped = {key: row["so_far"] for key, row in rows.items() if "so_far" in row}
    refused = sum(bool(row["refused"]) for row in finished)
    peak_mb = max([row["peak_mb"] for row in finished] + [so_far["peak_mb"] for so_far in stopped.values()])
    counts = f"{len(finished) - refused} simulated, {refused} refused up front"
    over = [f"{what} on {hw}" for (what, hw), row in rows.items()
            if row.get("peak_mb", row.get("so_far", {}).get("peak_mb", 0)) >= SCALE_PEAK_BOUND_MB]
    if over:
        counts += f"; over {SCALE_PEAK_BOUND_MB} MB: {', '.join(over)}"
    if stopped:
        counts += ", " + ", ".join(
            f"{what} on {hw} stopped at {so_far['peak_mb']:.0f} MB so far after {so_far['layers_done']} of "
            f"{so_far['layers']} layers{_estimate_note(so_far)}" for (what, hw), so_far in stopped.items())
        if peak_mb < SCALE_PEAK_BOUND_MB:
            finished_mb = max((row["peak_mb"] for row in finished), default=0.0)
            return f"{name} {bound}: not decided, largest finished {finished_mb:.4g} MB ({counts})"
    return f"{verdict(name, peak_mb, SCALE_PEAK_BOUND_MB, 'MB')} ({counts})"


def _child(args: list[str], timeout: float, python: str = sys.executable) -> dict:
    """Run a measurement in a fresh process; its last stdout line is JSON.

    Lines holding ``{"progress": ...}`` are progress reports: when the process
    is stopped at ``timeout`` the last of them is kept as ``so_far``; a last line
    ``{"stopped": ...}`` (a table-3 child past its CPU budget) is kept the same way.
    """
    try:
        done = subprocess.run([python, *args], capture_output=True, text=True, timeout=timeout, cwd=HERE.parent)
    except subprocess.TimeoutExpired as exc:
        row = {"error": f"over {timeout:.0f} s", "over_seconds": timeout}
        so_far = last_progress(exc.stdout or b"")
        return {**row, "so_far": so_far} if so_far else row
    if done.returncode != 0:
        lines = (done.stderr.strip() or done.stdout.strip() or "no output").splitlines()
        return {"error": lines[-1][:120]}
    row = json.loads(done.stdout.strip().splitlines()[-1])
    if "stopped" in row:
        return {"error": f"stopped at its budget of {row['cpu_budget_seconds']:.0f} CPU s", "so_far": row["stopped"]}
    return row


def last_progress(stdout: bytes | str) -> dict | None:
    """The last complete progress report in a stopped child's output (None if it printed none)."""
    text = stdout.decode(errors="replace") if isinstance(stdout, bytes) else stdout
    for line in reversed(text.splitlines()):
        try:
            report = json.loads(line)
        except ValueError:
            continue  # the line the child was writing when it was stopped
        if isinstance(report, dict) and "progress" in report:
            return report["progress"]
    return None


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


def _fmt_cpu(row: dict) -> str:
    return "-" if "error" in row else f"{row['cpu_seconds']:.3g}"


def gemm_table(sizes: list[int], scalesim: str | None, timeout: float,
               dataflows: tuple[str, ...] = tuple(DATAFLOWS.values())) -> dict[tuple[int, str], tuple[float, bool]]:
    """Print table 1; return (SCALE-Sim / fast-path time ratio, True if a lower bound) by (N, dataflow).

    A lower bound is the timeout over the fast path's time, when SCALE-Sim ran out of time.
    """
    print(f"\nTable 1. GEMM N^3 on a {ARRAY}x{ARRAY} array: energysim fast / cycle-level paths vs SCALE-Sim {SCALESIM_VERSION}")
    header = (f"{'N':>5s} {'flow':>4s} | {'fast s':>8s} {'cycle s':>8s} {'SCALE s':>8s} | {'SCALE/fast':>10s} "
              f"{'SCALE/cycle':>11s} {'cycle/fast':>10s} | {'fast MB':>7s} {'cycle MB':>8s} {'SCALE MB':>8s} | "
              f"{'cycles':>6s} {'reads':>5s} {'writes':>6s}")
    print(header)
    print("-" * len(header))
    module = "benchmarks.run_all"
    ratios: dict[tuple[int, str], tuple[float, bool]] = {}
    for size in sizes:
        for dataflow, short in DATAFLOWS.items():
            if short not in dataflows:
                continue
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

            if "error" not in fast and "error" not in peer:
                ratios[size, short] = (peer["seconds"] / fast["seconds"], False)
            elif "error" not in fast and "over_seconds" in peer:
                ratios[size, short] = (peer["over_seconds"] / fast["seconds"], True)

            def ratio(a: dict, b: dict) -> str:
                return f"{a['seconds'] / b['seconds']:.3g}x" if "error" not in a and "error" not in b else "-"

            def mb(row: dict) -> str:
                return f"{row['peak_mb']:.0f}" if "error" not in row else "-"

            print(f"{size:5d} {short:>4s} | {_fmt_s(fast):>8s} {_fmt_s(cycle):>8s} {_fmt_s(peer):>8s} | "
                  f"{ratio(peer, fast):>10s} {ratio(peer, cycle):>11s} {ratio(cycle, fast):>10s} | "
                  f"{mb(fast):>7s} {mb(cycle):>8s} {mb(peer):>8s} | {agree[0]:>6s} {agree[1]:>5s} {agree[2]:>6s}",
                  flush=True)
    return ratios


def network_table(timeout: float) -> dict[tuple[str, str], dict]:
    """Print table 2 and the ``reproduce eie`` row; return the rows by (workload, hardware) and ("reproduce", "eie")."""
    print("\nTable 2. Whole networks on every engine (energysim.simulate, one process each)")
    header = (f"{'network':11s} {'variant':20s} {'workload':21s} {'hardware':20s} | {'wall s':>9s} {'cpu s':>7s} "
              f"{'peak MB':>8s} {'layers':>6s}")
    print(header)
    print("-" * len(header))
    rows: dict[tuple[str, str], dict] = {}
    warm = [_child(["-m", "benchmarks.run_all", "--child-network", wl, "eie-64pe-lecture"], timeout)
            for wl in WARM_UP_WORKLOADS]
    print(f"(warm-up, left out of the rows like the GEMMs' warm-up call: {' and '.join(WARM_UP_WORKLOADS)} on EIE "
          f"first, {' + '.join(_fmt_cpu(row) for row in warm)} CPU s, so that numba compiles EIE's kernels for these "
          "shapes once per install before the rows; every EIE row still loads the cached kernels)")
    for label, wl, hw, variant in network_rows():
        row = rows[wl, hw] = _child(["-m", "benchmarks.run_all", "--child-network", wl, hw], timeout)
        mb = f"{row['peak_mb']:.0f}" if "error" not in row else "-"
        layers = str(row.get("layers", "-"))
        print(f"{label:11s} {variant:20s} {wl:21s} {hw:20s} | {_fmt_s(row):>9s} {_fmt_cpu(row):>7s} {mb:>8s} "
              f"{layers:>6s}", flush=True)
    row = rows["reproduce", "eie"] = measure_reproduce_eie(timeout)
    mb = f"{row['peak_mb']:.0f}" if "error" not in row else "-"
    print(f"{'energysim reproduce eie (own process, start-up included)':74s} | {_fmt_s(row):>9s} "
          f"{_fmt_cpu(row):>7s} {mb:>8s}", flush=True)
    return rows


def verdict(name: str, measured: float | None, target: float, unit: str, at_least: bool = False) -> str:
    """One summary line: the target, the measured figure and met or missed by the factor between them.

    Parameters
    ----------
    name : str
        What the target is about.
    measured : float or None
        The measured figure in ``unit`` (None: not measured in this run).
    target : float
        The bound in ``unit``: an upper bound, or a lower bound with ``at_least``.
    unit : str
        ``"s"``, ``"MB"`` or ``"x"`` (a ratio).
    at_least : bool
        True when the measured figure must be at least the target.

    Returns
    -------
    str
        E.g. ``"EIE pruned VGG-16 < 2 s: 29.3 s, MISSED by 14.7x"``.
    """
    suffix = unit if unit == "x" else f" {unit}"
    bound = f"{'>=' if at_least else '<'} {target:g}{suffix}"
    if measured is None:
        return f"{name} {bound}: not measured in this run"
    if at_least:
        factor = measured / target
    else:
        factor = target / measured if measured > 0 else float("inf")
    met = measured >= target if at_least else measured < target
    word = f"met with {factor:.3g}x to spare" if met else f"MISSED by {1 / factor:.3g}x"
    return f"{name} {bound}: {measured:.4g}{suffix}, {word}"


def summary(ratios: dict[tuple[int, str], tuple[float, bool]], rows: dict[tuple[str, str], dict]) -> list[str]:
    """The issue-15 targets judged from this run's rows (see the module docstring for which rows).

    A SCALE-Sim run over its timeout gives a lower bound on its ratio: enough
    to call the target met when the bound clears it, else not decided.
    """
    sizes = sorted({size for size, _ in ratios if size in (512, 1024)})
    measured = ", ".join(f"{size}^3" for size in sizes) or "512^3 and 1024^3"
    name = f"dense fast path vs SCALE-Sim at {measured} (smallest of OS/WS)"
    big = [ratios[key] for key in ratios if key[0] in sizes]
    smallest, bounded = min(big) if big else (None, False)
    if bounded and smallest < 10_000:
        lines = [f"{name} >= 10000x: not decided (SCALE-Sim over its timeout; ratio above {smallest:.3g}x)"]
    else:
        lines = [verdict(name, smallest, 10_000, "x", at_least=True)]
        if bounded:
            lines[0] += " (a lower bound: SCALE-Sim over its timeout)"
    vgg = [rows.get(key, {"error": "not run"}) for key in TARGET_VGG_ROWS]
    ok = all("error" not in row for row in vgg)
    label = "whole VGG-16, 3 engines, dense + 2 pruned (6 rows)"
    # time targets are judged on CPU seconds, which a shared machine's load does not inflate; wall is shown beside
    lines.append(verdict(f"{label}, total CPU", sum(r["cpu_seconds"] for r in vgg) if ok else None, 10, "s"))
    if ok:
        lines[-1] += f" (wall {sum(r['seconds'] for r in vgg):.3g} s)"
    lines.append(verdict(f"{label}, peak", max(r["peak_mb"] for r in vgg) if ok else None, 1024, "MB"))
    eie = rows.get(("vgg16-han2015", "eie-64pe-lecture"), {"error": "not run"})
    lines.append(verdict("EIE pruned VGG-16 (CPU)", None if "error" in eie else eie["cpu_seconds"], 2, "s"))
    if "error" not in eie:
        lines[-1] += f" (wall {eie['seconds']:.3g} s)"
    rep = rows.get(("reproduce", "eie"), {"error": "not run"})
    lines.append(verdict("energysim reproduce eie (CPU)", None if "error" in rep else rep["cpu_seconds"], 10, "s"))
    if "error" not in rep:
        lines[-1] += f" (wall {rep['seconds']:.3g} s)"
    return lines


def zigzag_table(timeout: float) -> None:
    """Table 4: run benchmarks/bench_loopnest_zigzag.py in its own process, its output printed as it comes."""
    print("\nTable 4. Loop-nest mapper vs ZigZag (benchmarks/bench_loopnest_zigzag.py)", flush=True)
    try:
        done = subprocess.run([sys.executable, str(HERE / "bench_loopnest_zigzag.py")], cwd=HERE.parent,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        print(f"ZigZag side by side: over {timeout:.0f} s, stopped")
        return
    if done.returncode != 0:
        print(f"ZigZag side by side: exit code {done.returncode}")


def numba_status() -> str:
    """``yes (VERSION)`` when numba imports, else how to get it: EIE's targets are measured on its compiled kernels."""
    try:
        import numba
    except ImportError:
        return "no: EIE runs its numpy path, several times slower (pip install '.[fast]')"
    return f"yes ({numba.__version__})"


def main(argv: list[str] | None = None) -> None:
    """Benchmark entry point (also the child measurements, by hidden flags)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES), help="GEMM sizes N (N^3)")
    parser.add_argument("--dataflows", nargs="+", choices=sorted(DATAFLOWS.values()), default=sorted(DATAFLOWS.values()),
                        help="table 1's dataflows (os: output stationary, ws: weight stationary)")
    parser.add_argument("--skip-scalesim", action="store_true", help="energysim columns only")
    parser.add_argument("--skip-networks", action="store_true", help="leave out table 2 (whole networks)")
    parser.add_argument("--skip-gemms", action="store_true", help="leave out table 1 (GEMMs vs SCALE-Sim)")
    parser.add_argument("--timeout", type=float, default=TIMEOUT_S,
                        help="seconds (wall) allowed per measurement; a table-3 row stopped there reports its peak so far")
    parser.add_argument("--scale-cpu", type=float, default=SCALE_CPU_S,
                        help="CPU seconds of simulation allowed per table-3 row; a row stopped there reports its peak so far")
    parser.add_argument("--venv", type=Path, default=Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
                        / "energysim" / "bench-venvs" / f"scalesim-{SCALESIM_VERSION}", help="SCALE-Sim's venv")
    parser.add_argument("--child-gemm", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--child-network", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--child-scale", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--child-reproduce-eie", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--skip-scale", action="store_true", help="leave out table 3 (huge inputs)")
    parser.add_argument("--with-zigzag", action="store_true",
                        help="also run the loop-nest mapper vs ZigZag side by side (about 40 min under load)")
    parser.add_argument("--zigzag-timeout", type=float, default=7200, help="seconds allowed for the ZigZag run")
    args = parser.parse_args(argv)
    if args.child_gemm:
        size, dataflow, path = args.child_gemm
        print(json.dumps(measure_gemm(int(size), dataflow, path)))
        return
    if args.child_network:
        print(json.dumps(measure_network(*args.child_network)))
        return
    if args.child_reproduce_eie:
        print(json.dumps(run_reproduce_eie()))
        return
    if args.child_scale:
        print(json.dumps(measure_scale(*args.child_scale, cpu_budget_s=args.scale_cpu)))
        return
    load = os.getloadavg()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, "
          f"Python {platform.python_version()}; load average at start {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} "
          f"(1/5/15 min); {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(f"numba (the 'fast' extra, EIE's compiled kernels): {numba_status()}")
    start, ratios, rows, scale_rows = time.perf_counter(), {}, {}, {}
    if not args.skip_gemms:
        scalesim = None if args.skip_scalesim else scalesim_python(args.venv)
        ratios = gemm_table(args.sizes, scalesim, args.timeout, tuple(args.dataflows))
    if not args.skip_networks:
        rows = network_table(args.timeout)
    if not args.skip_scale:
        scale_rows = scale_table(args.timeout, args.scale_cpu)
    if args.with_zigzag:
        zigzag_table(args.zigzag_timeout)
    print("\nTargets (issue 15 of the tracker; ratios from this run; times judged on CPU seconds, wall beside)")
    for line in [*summary(ratios, rows), scale_verdict(scale_rows)]:
        print(f"- {line}")
    load = os.getloadavg()
    print(f"whole benchmark: {time.perf_counter() - start:.0f} s wall; load average at end {load[0]:.2f}")


if __name__ == "__main__":
    main()
