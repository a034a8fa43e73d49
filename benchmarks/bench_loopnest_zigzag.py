"""energysim's loop-nest mapper against ZigZag on lecture-array: energy per level and wall time.

Run: ``python benchmarks/bench_loopnest_zigzag.py`` (all 13 VGG-16 conv layers and a
1024^3 GEMM), or ``--layers conv3_1 gemm1024`` for a subset, ``--skip-zigzag`` or
``--skip-energysim`` for one side only.

ZigZag (PyPI ``zigzag-dse``, default version 3.9.1) is never a dependency of
energysim: the benchmark creates its own venv for it (default
``~/.cache/energysim/bench-venvs/zigzag-dse-VERSION``, ``--venv`` to change) with
``python -m venv`` and ``pip install zigzag-dse==VERSION six`` on first use (3.9.1
imports ``six`` without declaring it), and runs
``bench_loopnest_zigzag_runner.py`` in it. The runner writes ZigZag's own input files
(accelerator, workload and mapping YAML) into the job folder (``--keep DIR`` keeps
them), so the translation can be read and re-run with ZigZag alone.

The translation of ``lecture-array`` (read from energysim's bundled file, every
cost from its cost table, so both tools price the same actions):

- DRAM, the global buffer (``capacity_bytes``) and the per-PE register file
  (``capacity_bytes`` per PE, ``served_dimensions: []``) each hold all three
  operands in one shared capacity, as in energysim;
- a 16 x 16 operational array (``engine.rows`` x ``engine.cols``), one MAC =
  the hardware's ``MAC.mult`` + ``MAC.add`` (pJ);
- ZigZag prices an access of ``bandwidth_max`` bits at ``r_cost``/``w_cost`` and
  rounds accesses to ``bandwidth_min`` bits; with ``bandwidth_min`` = one word and
  ``r_cost`` = per-word cost x words per access, one word costs exactly the
  energysim per-word cost (read -> ``read``, write -> ``write``);
- 32-bit operands and partial sums (``word_bits``).

The energysim side maps the same layers with its loop-nest mapper
(:func:`energysim.engines.loopnest.mapper.map_layer`, default settings, seed 0,
energy objective, one process) on ``lecture-array-loopnest`` (the same levels,
capacities, bandwidths and costs, with a free mapping; a tile may use the whole
buffer, as in AccelForge) in up to three variants (``--variants``):

- ``energysim``: every level keeps every tensor (as in the hardware file);
- ``es-bypass``: the mapper may also bypass tensors at the buffer and register file;
- ``es-busy``: every PE busy (``min_utilisation = 1``).

Times: ``wall s`` is the search's wall time, ``cpu s`` its process CPU time (the
fair figure on a shared machine; both tools run single-threaded). energysim's
answers are cached per layer shape, as in a run: VGG-16's repeated shapes
(conv3_3, conv4_3, conv5_2, conv5_3) cost no search.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import venv
from pathlib import Path

from energysim.api import hardware, workload
from energysim.catalog import hwconfig_path
from energysim.engines.loopnest.mapper import map_layer
from energysim.engines.loopnest.mapper_constraints import MapperConstraints
from energysim.hardware.hierarchy import Hardware, load_hardware
from energysim.workloads.layers import Conv2dLayer, GemmLayer

HERE = Path(__file__).resolve().parent
RUNNER = HERE / "bench_loopnest_zigzag_runner.py"
DEFAULT_VERSION = "3.9.1"
VARIANTS = {
    "energysim": MapperConstraints(),
    "es-bypass": MapperConstraints(allow_bypass=True),
    "es-busy": MapperConstraints(min_utilisation=1.0),
}
"""The energysim mapper's variants: constraints by row label."""
OPERANDS = {"weights": "I2", "inputs": "I1", "outputs": "O"}
"""ZigZag memory operand of each energysim tensor (the ``memory_operand_links`` below)."""


def default_venv(version: str) -> Path:
    """Where the ZigZag venv lives unless ``--venv`` says otherwise."""
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return cache / "energysim" / "bench-venvs" / f"zigzag-dse-{version}"


def ensure_zigzag(venv_dir: Path, version: str) -> Path:
    """Create the venv and install ``zigzag-dse==version`` if missing; return its python."""
    python = venv_dir / "bin" / "python"
    probe = [str(python), "-c", "import importlib.metadata as m; print(m.version('zigzag-dse'))"]
    if python.exists():
        found = subprocess.run(probe, capture_output=True, text=True)
        if found.returncode == 0 and found.stdout.strip() == version:
            return python
    print(f"installing zigzag-dse=={version} into {venv_dir} ...", file=sys.stderr)
    venv.EnvBuilder(with_pip=True, clear=True).create(venv_dir)
    # zigzag-dse 3.9.1 imports `six` (parser/upgraded_validator.py) without declaring it
    subprocess.run([str(python), "-m", "pip", "install", "-q", f"zigzag-dse=={version}", "six"], check=True)
    return python


def _port(name: str, kind: str, word_bits: int, words_per_cycle: float, operands: list[str], directions: list[str]) -> dict:
    """One ZigZag memory port: bandwidth in bits per cycle, allocated to (operand, direction) pairs."""
    return {
        "name": name,
        "type": kind,
        "bandwidth_min": word_bits,
        "bandwidth_max": int(word_bits * words_per_cycle),
        "allocation": [f"{op}, {d}" for op in operands for d in directions if not (op != "O" and d in ("fl", "th"))],
    }


def zigzag_accelerator(hw: Hardware) -> dict:
    """``hw`` (a dense-engine hierarchy: DRAM, buffer, per-PE register file) in ZigZag's accelerator format."""
    rows, cols = int(hw.engine_table["rows"]), int(hw.engine_table["cols"])
    memories = {}
    for level in reversed(hw.levels):  # ZigZag lists memories innermost first
        cfg = level.config
        operands = sorted(OPERANDS[t] for t in cfg.holds)
        words_per_access = cfg.bandwidth_words_per_cycle
        capacity_bits = 8 * cfg.capacity_bytes if cfg.capacity_bytes is not None else 8 * 2**40
        if cfg.kind == "dram":
            ports = [_port("rw_port_1", "read_write", cfg.word_bits, words_per_access, operands, ["fh", "tl", "fl", "th"])]
        else:
            ports = [
                _port("r_port_1", "read", cfg.word_bits, words_per_access, operands, ["tl", "th"]),
                _port("w_port_1", "write", cfg.word_bits, words_per_access, operands, ["fh", "fl"]),
            ]
        memories[level.name] = {
            "size": capacity_bits,
            "r_cost": hw.cost_of(level.name, "read").energy_pj * words_per_access,
            "w_cost": hw.cost_of(level.name, "write").energy_pj * words_per_access,
            "area": 0,
            "latency": 1,
            "operands": operands,
            "ports": ports,
            "served_dimensions": [] if cfg.instances > 1 else ["D1", "D2"],
        }
    mac_pj = sum(entry.energy_pj for (unit, _), entry in hw.unit_costs.items() if unit == "MAC")
    return {
        "name": hw.name,
        "memories": memories,
        "operational_array": {"unit_energy": mac_pj, "unit_area": 1, "dimensions": ["D1", "D2"], "sizes": [rows, cols]},
    }


def zigzag_layer(layer, layer_id: int, word_bits: int) -> list[dict]:
    """One energysim conv2d or GEMM layer as a one-layer ZigZag workload."""
    precision = {"O": word_bits, "O_final": word_bits, "W": word_bits, "I": word_bits}
    if isinstance(layer, Conv2dLayer):
        entry = {
            "id": layer_id, "name": layer.name, "operator_type": "Conv",
            "equation": "O[b][k][oy][ox]+=W[k][c][fy][fx]*I[b][c][iy][ix]",
            "dimension_relations": [f"ix={layer.stride}*ox+1*fx", f"iy={layer.stride}*oy+1*fy"],
            "loop_dims": ["B", "K", "C", "OY", "OX", "FY", "FX"],
            "loop_sizes": [layer.batch, layer.out_channels, layer.in_channels, layer.out_height, layer.out_width,
                           layer.kernel_height, layer.kernel_width],
            "pr_loop_dims": ["IY", "IX"],
            "pr_loop_sizes": [layer.in_height, layer.in_width],
            "padding": [[layer.padding, layer.padding], [layer.padding, layer.padding]],
            "operand_precision": precision,
        }
    elif isinstance(layer, GemmLayer):
        entry = {
            "id": layer_id, "name": layer.name, "operator_type": "Gemm",
            "equation": "O[b][k]+=W[k][c]*I[b][c]",
            "loop_dims": ["B", "K", "C"],
            "loop_sizes": [layer.n, layer.m, layer.k],
            "operand_precision": precision,
        }
    else:
        raise SystemExit(f"bench_loopnest_zigzag: layer '{layer.name}' is a {layer.kind}; only conv2d and gemm are translated")
    return [entry]


def zigzag_mapping() -> list[dict]:
    """ZigZag's mapping file: no fixed spatial or temporal mapping (ZigZag searches both), our operand links."""
    return [{"name": "default", "memory_operand_links": {"O": "O", "W": "I2", "I": "I1"}}]


def select_layers(names: list[str] | None) -> list:
    """VGG-16's 13 conv layers and the 1024^3 GEMM, or the named subset of them."""
    layers = [l for l in workload("vgg16").layers if isinstance(l, Conv2dLayer)]
    layers += [l for l in workload("gemm-square").layers if l.name == "gemm1024"]
    if not names:
        return layers
    known = {l.name: l for l in layers}
    missing = [n for n in names if n not in known]
    if missing:
        raise SystemExit(f"bench_loopnest_zigzag: --layers: unknown {missing} (known: {', '.join(known)})")
    return [known[n] for n in names]


def run_zigzag(python: Path, hw: Hardware, layers: list, opt: str, lpf_limit: int, spatial_mappings: int,
               folder: Path) -> dict[str, dict]:
    """Write the job and ZigZag's files into ``folder``, run the runner in ZigZag's venv; results by layer name."""
    word_bits = hw.levels[0].config.word_bits
    job = {
        "accelerator": zigzag_accelerator(hw),
        "mapping": zigzag_mapping(),
        "layers": [{"name": l.name, "workload": zigzag_layer(l, i, word_bits)} for i, l in enumerate(layers)],
        "opt": opt, "lpf_limit": lpf_limit, "spatial_mappings": spatial_mappings, "folder": str(folder),
    }
    job_path = folder / "job.json"
    job_path.write_text(json.dumps(job, indent=1), encoding="utf-8")
    done = subprocess.run([str(python), str(RUNNER), str(job_path)], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"ZigZag runner failed:\n{done.stderr[-4000:]}")
    return {row["name"]: row for row in json.loads(done.stdout)["layers"]}


def level_energy_mj(row: dict) -> dict[str, float]:
    """ZigZag's memory energy summed over operands per level, plus the MAC energy, in mJ."""
    out: dict[str, float] = {}
    for item in row["levels"]:
        out[item["level"]] = out.get(item["level"], 0.0) + item["energy_pj"] * 1e-9
    out["MAC"] = row["mac_energy_pj"] * 1e-9
    return out


def run_energysim(layers: list, variants: list[str]) -> dict[str, dict[str, dict]]:
    """Map every layer in each variant on lecture-array-loopnest; rows by variant then layer name."""
    hw = load_hardware(hwconfig_path("lecture-array-loopnest"))
    out: dict[str, dict[str, dict]] = {}
    for variant in variants:
        rows = out.setdefault(variant, {})
        for layer in layers:
            cpu, wall = time.process_time(), time.perf_counter()
            result = map_layer(hw, layer, VARIANTS[variant], "energy", seed=0, progress=False)
            wall = time.perf_counter() - wall
            rows[layer.name] = {
                "energy_pj": result.energy_pj,
                "levels_mj": {k: v * 1e-9 for k, v in result.stats.energy_by_component.items()},
                "latency_cycles": result.cycles,
                "utilisation": result.stats.spatial_utilisation,
                "wall_s": wall,
                "cpu_s": time.process_time() - cpu,
                "evaluated": result.evaluated,
                "mapping": result.mapping.describe(),
            }
    return out


def print_table(hw: Hardware, layers: list, tools: dict[str, dict[str, dict]]) -> None:
    """Side-by-side table: per layer and tool, energy per level (mJ), total (mJ), cycles, PE use and times (s)."""
    level_names = [l.name for l in hw.levels] + ["MAC"]
    head = f"{'layer':10s} {'tool':10s} " + " ".join(f"{n:>12s}" for n in level_names)
    print(head + f" {'total mJ':>9s} {'cycles':>10s} {'PEs':>5s} {'wall s':>7s} {'cpu s':>7s}")
    totals: dict[str, list[float]] = {}
    for layer in layers:
        for tool, rows in tools.items():
            if layer.name not in rows:
                continue
            row = rows[layer.name]
            per_level = level_energy_mj(row) if tool == "zigzag" else row["levels_mj"]
            total_mj = row["energy_pj"] * 1e-9
            cells = " ".join(f"{per_level.get(n, 0.0):12.3f}" for n in level_names)
            use = f"{row['utilisation']:5.2f}" if "utilisation" in row else f"{'':5s}"
            print(f"{layer.name:10s} {tool:10s} {cells} {total_mj:9.3f} {row['latency_cycles']:10.4g} {use} "
                  f"{row['wall_s']:7.2f} {row['cpu_s']:7.2f}")
            sums = totals.setdefault(tool, [0.0, 0.0, 0.0])
            sums[0] += total_mj
            sums[1] += row["wall_s"]
            sums[2] += row["cpu_s"]
    for tool, (energy_mj, wall_s, cpu_s) in totals.items():
        print(f"{'all':10s} {tool:10s} total {energy_mj:.3f} mJ, wall time {wall_s:.1f} s, CPU time {cpu_s:.1f} s")


def main(argv: list[str] | None = None) -> None:
    """Parse the options, run ZigZag (and energysim's mapper), print the side-by-side table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", nargs="*", help="layer names (default: VGG-16 conv1_1..conv5_3 and gemm1024)")
    parser.add_argument("--zigzag-version", default=DEFAULT_VERSION)
    parser.add_argument("--venv", type=Path, help="ZigZag's venv (default: under ~/.cache/energysim/bench-venvs)")
    parser.add_argument("--opt", default="energy", choices=["energy", "latency", "EDP"], help="ZigZag's objective")
    parser.add_argument("--lpf-limit", type=int, default=6, help="ZigZag LOMA's loop prime factor limit (its default 6)")
    parser.add_argument("--spatial-mappings", type=int, default=3, help="spatial mappings ZigZag generates (its default 3)")
    parser.add_argument("--keep", type=Path, help="write ZigZag's input files and job here (default: a temp folder)")
    parser.add_argument("--skip-zigzag", action="store_true")
    parser.add_argument("--skip-energysim", action="store_true")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS),
                        help="energysim mapper variants to run (default: all)")
    args = parser.parse_args(argv)

    hw = hardware("lecture-array")
    layers = select_layers(args.layers)
    zigzag: dict[str, dict] = {}
    if not args.skip_zigzag:
        python = ensure_zigzag(args.venv or default_venv(args.zigzag_version), args.zigzag_version)
        with tempfile.TemporaryDirectory() as tmp:
            folder = args.keep or Path(tmp)
            folder.mkdir(parents=True, exist_ok=True)
            start = time.perf_counter()
            zigzag = run_zigzag(python, hw, layers, args.opt, args.lpf_limit, args.spatial_mappings, folder)
            print(f"zigzag-dse {args.zigzag_version} ({args.opt} search) ran {len(layers)} layers in "
                  f"{time.perf_counter() - start:.1f} s (including start-up)", file=sys.stderr)
    tools = {"zigzag": zigzag}
    if not args.skip_energysim:
        tools.update(run_energysim(layers, args.variants))
    print_table(hw, layers, tools)


if __name__ == "__main__":
    main()
