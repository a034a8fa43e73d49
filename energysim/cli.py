"""The ``energysim`` command line: the only module that prints or picks exit codes.

Exit codes: 0 success; 2 bad input (one line per problem on stderr, no
traceback, no partial output file); 1 a broken simulator invariant (a bug).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Callable, Sequence, TextIO

import pandas as pd

from energysim import catalog
from energysim.errors import EnergySimError, InputError, InvariantError

Handler = Callable[[argparse.Namespace, TextIO], int]


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors become one-line InputErrors (exit 2)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise InputError(f"{self.prog}: {message}")


def _print_table(frame: pd.DataFrame, out: TextIO, fmt: str = "md") -> None:
    from energysim.report.files import render

    out.write(render(frame, fmt))


def _cmd_run(args: argparse.Namespace, out: TextIO) -> int:
    from energysim.api import simulate
    from energysim.report.files import write_table

    run = simulate(args.hw, args.workload, path=args.path)
    table = run.summary[["layer", "macs", "cycles_total", "latency_s", "utilisation", "energy_uj"]].copy()
    table["latency_us"] = table.pop("latency_s") * 1e6
    out.write(f"# {run.workload} on {run.hardware}\n\n")
    _print_table(table, out, "md")
    totals = run.totals()
    out.write(
        f"\ntotal: {totals['energy_uj']:.4g} uJ, {totals['cycles_total']:,} cycles, "
        f"{totals['latency_s'] * 1e3:.4g} ms, utilisation {totals['utilisation']:.1%}\n"
    )
    if args.out:
        folder = Path(args.out)
        paths = [write_table(run.energy, folder, "energy", args.format), write_table(run.summary, folder, "summary", args.format)]
        out.write("wrote " + ", ".join(str(p) for p in paths) + "\n")
    return 0


def _cmd_costs(args: argparse.Namespace, out: TextIO) -> int:
    from energysim.costs.export import operation_table
    from energysim.costs.registry import resolve_table
    from energysim.hardware.hierarchy import load_hardware

    if args.hw:
        hardware = load_hardware(catalog.hwconfig_path(args.hw))
        frame = pd.DataFrame(hardware.cost_rows())
        frame = frame.rename(columns={"energy_pj": "Energy [pJ]"})
    else:
        frame = operation_table(resolve_table(args.table), args.bits)
        if args.format == "md" and not args.sources:
            frame = frame.drop(columns=["Source"])
    _print_table(frame, out, args.format)
    return 0


def _cmd_list(args: argparse.Namespace, out: TextIO) -> int:
    from energysim.costs.registry import BUILTIN_TABLES
    from energysim.engines.registry import ENGINES

    items = {
        "engines": sorted(ENGINES),
        "tables": list(BUILTIN_TABLES),
        "hwconfigs": catalog.hwconfig_names(),
        "workloads": catalog.workload_names(),
    }[args.what]
    out.write("\n".join(items) + "\n")
    return 0


def _cmd_validate(args: argparse.Namespace, out: TextIO) -> int:
    from energysim.api import validate_file

    problems = []
    for name in args.files:
        try:
            out.write(f"ok: {validate_file(name)}\n")
        except EnergySimError as exc:
            problems.append(str(exc))
    if problems:
        raise InputError("\n".join(problems))
    return 0


def _cmd_demo(args: argparse.Namespace, out: TextIO) -> int:
    from energysim.demo import run_demo

    run_demo(Path(args.out), out, quick=args.quick)
    return 0


def _cmd_reproduce(args: argparse.Namespace, out: TextIO) -> int:
    from energysim.reproduce import reproduce

    for title, frame in reproduce(args.which, quick=args.quick):
        out.write(f"\n## {title}\n\n")
        _print_table(frame, out, "md")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = _Parser(prog="energysim", description="Energy and latency of (pruned) DNN layers on modelled hardware.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = sub.add_parser("run", help="simulate a workload on a hardware config")
    run.add_argument("hw", help="hardware config: bundled name or .toml path")
    run.add_argument("workload", help="workload: bundled name, .toml path or pruned-workload folder")
    run.add_argument("--out", help="folder for energy.* and summary.* tables")
    run.add_argument("--format", choices=("csv", "json", "md"), default="csv", help="file format with --out (default csv)")
    run.add_argument("--path", choices=("fast", "cycle"), default="fast", help="dense engine path (cycle: slow reference)")
    run.set_defaults(handler=_cmd_run)

    costs = sub.add_parser("costs", help="print a cost table or a hardware config's per-access costs")
    costs.add_argument("--table", default="lecture-45nm", help="built-in table name or .toml file (default lecture-45nm)")
    costs.add_argument("--hw", help="print every level's and unit's cost of this hardware config instead")
    costs.add_argument("--bits", type=int, help="price every entry at this width via the scaling rules")
    costs.add_argument("--format", choices=("md", "csv", "json"), default="md")
    costs.add_argument("--sources", action="store_true", help="include the Source column in Markdown")
    costs.set_defaults(handler=_cmd_costs)

    listing = sub.add_parser("list", help="list engines, cost tables, bundled hwconfigs or workloads")
    listing.add_argument("what", choices=("engines", "tables", "hwconfigs", "workloads"))
    listing.set_defaults(handler=_cmd_list)

    validate = sub.add_parser("validate", help="check hardware, workload or cost-table files")
    validate.add_argument("files", nargs="+")
    validate.set_defaults(handler=_cmd_validate)

    demo = sub.add_parser("demo", help="the main job on bundled defaults")
    demo.add_argument("--out", default="energysim-demo", help="folder for the demo's tables (default ./energysim-demo)")
    demo.add_argument("--quick", action="store_true", help="smaller network, for tests")
    demo.set_defaults(handler=_cmd_demo)

    from energysim.reproduce import REPRODUCTIONS

    reproduce = sub.add_parser("reproduce", help="model vs published figures")
    reproduce.add_argument("which", choices=sorted(REPRODUCTIONS))
    reproduce.add_argument("--quick", action="store_true", help="a subset, for tests")
    reproduce.set_defaults(handler=_cmd_reproduce)

    for module in _command_modules():
        module.register(sub)
    return parser


def _command_modules() -> list:
    """Feature packages that add their own subcommands (``register(subparsers)``)."""
    modules = []
    try:
        from energysim.prune import commands as prune_commands
    except ImportError:
        return modules
    modules.append(prune_commands)
    return modules


def main(argv: Sequence[str] | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run the CLI; return the exit code (0 ok, 2 bad input, 1 invariant breach)."""
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        args = build_parser().parse_args(list(argv) if argv is not None else None)
        return int(args.handler(args, out))
    except InvariantError as exc:
        err.write(f"energysim: internal invariant broken (please report): {exc}\n")
        return 1
    except EnergySimError as exc:
        err.write(f"energysim: {exc}\n")
        return 2
    except KeyboardInterrupt:
        err.write("energysim: interrupted\n")
        return 130


def main_entry() -> None:
    """Console-script entry point."""
    sys.exit(main())
