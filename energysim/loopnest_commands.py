"""CLI sub-commands of the loop-nest engine: ``map`` (the mapper) and ``import-timeloop``.

``energysim.cli`` calls :func:`register` with its sub-parser collection. Handlers
take ``(args, out)``, write text to ``out`` and raise ``InputError`` /
``ConfigError`` / ``UnsupportedError`` (one line, exit 2) for bad input.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import TextIO

from energysim.argument_types import count
from energysim.errors import InputError

MAP_FILES = ("mapping.toml", "mapper.csv")
"""What ``map --out DIR`` writes."""
TIMELOOP_FILES = ("hardware.toml", "workload.toml", "mapping.toml")
"""What ``import-timeloop -o DIR`` may write."""
MAP_OBJECTIVES = ("energy", "latency", "edp")
"""What ``map --objective`` minimises: :data:`energysim.engines.loopnest.mapper.OBJECTIVES`, written out so that
building the command line loads no engine (a test pins the two equal)."""


def cmd_map(args: argparse.Namespace, out: TextIO) -> int:
    """Search the best mapping of each layer; print each report; with --out write mapping.toml and mapper.csv."""
    from energysim.api import hardware as load_hardware, workload as load_workload
    from energysim.atomic_files import write_text_atomic
    from energysim.catalog import hwconfig_path
    from energysim.engines.loopnest.mapper import map_workload
    from energysim.engines.loopnest.mapper_files import load_constraints, mappings_toml, results_table
    from energysim.output_folder import claim_paths

    hw = load_hardware(hwconfig_path(args.hw))
    if hw.engine_kind != "loopnest":
        raise InputError(f"map: hardware '{args.hw}' has engine kind '{hw.engine_kind}'; the mapper needs kind = \"loopnest\"")
    if args.out:
        claim_paths({"--out": [Path(args.out) / name for name in MAP_FILES]}, args.force)
    constraints = load_constraints(args.constraints) if args.constraints else None
    workload = load_workload(args.workload)
    layers = list(workload.layers)
    if args.layers:
        names = [layer.name for layer in layers]
        unknown = [name for name in args.layers if name not in names]
        if unknown:
            raise InputError(f"map: --layers: workload '{workload.name}' has no layer {unknown[0]!r} "
                             f"(it has: {', '.join(names)})")
        layers = [layer for layer in layers if layer.name in args.layers]
    results = map_workload(hw, layers, constraints, args.objective, args.seed, processes=args.processes,
                           progress=False if args.quiet else None)
    out.write("\n\n".join(result.report(hw.energy_unit).rstrip("\n") for result in results) + "\n")
    if args.out:
        folder = Path(args.out)
        folder.mkdir(parents=True, exist_ok=True)
        mapping = write_text_atomic(folder / "mapping.toml", mappings_toml(results))
        table = write_text_atomic(folder / "mapper.csv", results_table(results).assign(energy_unit=hw.energy_unit).to_csv(index=False))
        out.write(f"\nwrote {mapping}, {table}\n")
        out.write(f"reproduce: energysim run {args.hw} {args.workload} --mapping {mapping}\n")
    return 0


def cmd_import_timeloop(args: argparse.Namespace, out: TextIO) -> int:
    """Turn Timeloop/Accelergy YAML files into hardware.toml, workload.toml (and mapping.toml)."""
    from energysim.engines.loopnest.timeloop_import import import_timeloop
    from energysim.output_folder import claim_paths

    claim_paths({"--out": [Path(args.out) / name for name in TIMELOOP_FILES]}, args.force)
    notes: list[str] = []
    written = import_timeloop(args.files, args.out, notes, jinja_vars=dict(args.jinja_var or []),
                              sparseloop_pricing=args.sparseloop_pricing, jinja_include_dirs=args.jinja_include_dir or [])
    stale = [Path(args.out) / name for name in TIMELOOP_FILES
             if (Path(args.out) / name) not in written.values() and (Path(args.out) / name).is_file()]
    for path in stale:  # --force: a mapping.toml of an earlier import would pair with this design
        path.unlink()
    out.write("wrote " + ", ".join(str(path) for path in written.values())
              + (f"; removed the earlier {', '.join(p.name for p in stale)}" if stale else "") + "\n")
    for note in notes:
        out.write(f"note: {note}\n")
    command = f"energysim run {written['hardware']} {written['workload']}"
    if "mapping" in written:
        command += f" --mapping {written['mapping']}"
    out.write(f"next: {command} --compat timeloop --out {Path(args.out) / 'results'}\n")
    return 0


def _jinja_var(text: str) -> tuple[str, object]:
    """``NAME=VALUE`` of ``--jinja-var``: VALUE an int, a float, true/false, or else text."""
    name, sep, value = text.partition("=")
    if not sep or not name.strip().isidentifier():
        raise argparse.ArgumentTypeError(f"must be NAME=VALUE with NAME a template name (got {text!r})")
    lowered = value.strip().lower()
    if lowered in ("true", "false"):
        return name.strip(), lowered == "true"
    for kind in (int, float):
        try:
            number = kind(value)
        except ValueError:
            continue
        if kind is int or math.isfinite(number):
            return name.strip(), number
    return name.strip(), value


def register(subparsers) -> None:
    """Add ``map`` and ``import-timeloop`` to the CLI's sub-parsers."""
    mapper = subparsers.add_parser("map", help="search the best mapping of each layer on a loop-nest hardware")
    mapper.add_argument("hw", metavar="HW", help="loop-nest hardware config: bundled name (e.g. lecture-array-loopnest) or .toml path")
    mapper.add_argument("workload", help="workload: bundled name, .toml path or pruned-workload folder")
    mapper.add_argument("--constraints", metavar="FILE", help="mapper constraints TOML (dataflow, levels, ...); default: the "
                        "hardware file's own [engine.mapper] table, as run searches")
    mapper.add_argument("--objective", choices=MAP_OBJECTIVES, default="energy", help="what the search minimises")
    mapper.add_argument("--seed", type=count(0), default=0, help="seed of the sampled search")
    mapper.add_argument("--processes", type=count(1), default=1, help="worker processes (distinct layers in parallel)")
    mapper.add_argument("--layers", nargs="+", metavar="NAME", help="map only these layers")
    mapper.add_argument("--out", metavar="DIR", help="write DIR/mapping.toml (for run --mapping) and DIR/mapper.csv")
    mapper.add_argument("--force", action="store_true", help="replace mapping.toml / mapper.csv already in --out")
    mapper.add_argument("--quiet", action="store_true", help="no progress bar on stderr")
    mapper.set_defaults(handler=cmd_map)

    timeloop = subparsers.add_parser(
        "import-timeloop", help="turn Timeloop/Accelergy YAML files into hardware, workload and mapping TOML files",
        description="Merge Timeloop YAML files (architecture, problem, mapping, constraints, Accelergy ERT) by top-level "
                    "key and write FOLDER/hardware.toml, workload.toml and, when a mapping is given, mapping.toml. "
                    "Reads v0.3/v0.4 files and Timeloop v4 specifications (timeloopfe's architecture: nodes:).")
    timeloop.add_argument("files", nargs="+", metavar="FILE.yaml",
                          help="Timeloop / Accelergy YAML files (v0.3, v0.4 or a v4 specification; Jinja templates "
                               "rendered first); a .txt file is Timeloop's printed mapping (map.txt)")
    timeloop.add_argument("-o", "--out", required=True, metavar="FOLDER", help="output folder")
    timeloop.add_argument("--force", action="store_true", help="replace files already in the output folder")
    timeloop.add_argument("--jinja-var", action="append", type=_jinja_var, metavar="NAME=VALUE",
                          help="a name the files' Jinja templates use (timeloopfe's jinja_parse_data); a number, true, "
                               "false or text; repeat for more")
    timeloop.add_argument("--jinja-include-dir", action="append", metavar="DIR",
                          help="a folder (with its subfolders) the templates' include_text, include and include_all may "
                               "read besides the folders of the given files; repeat for more")
    timeloop.add_argument("--sparseloop-pricing", choices=("2021", "current"),
                          help="Sparseloop's prices of gated and skipped accesses: 2021 (the ISCA 2021 tutorial's) or "
                               "current; default: 2021 for an Accelergy v0.2/v0.3 ERT, else current")
    timeloop.set_defaults(handler=cmd_import_timeloop)
