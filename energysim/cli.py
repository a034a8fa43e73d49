"""The ``energysim`` command line: the only module that prints or picks exit codes.

Exit codes: 0 success; 2 bad input (one line per problem on stderr, no
traceback, no partial output file); 1 a broken simulator invariant (a bug).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence, TextIO

import pandas as pd

from energysim import catalog
from energysim.errors import EnergySimError, InputError, InvariantError

class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors become one-line InputErrors (exit 2)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        command = self.prog.removeprefix("energysim").strip()
        raise InputError(f"{command}: {message}" if command else message)


def _print_table(frame: pd.DataFrame, out: TextIO, fmt: str = "md") -> None:
    from energysim.report.files import render

    out.write(render(frame, fmt))


def _cmd_run(args: argparse.Namespace, out: TextIO) -> int:
    from energysim.api import simulate
    from energysim.report.files import write_table

    options = {"path": args.path} if args.path else {}
    if args.mode:
        options["mode"] = args.mode
    run = simulate(args.hw, args.workload, **options)
    table = run.summary[["layer", "macs", "cycles_total", "latency_s", "utilisation", "energy_uj"]].copy()
    table["latency_us"] = table.pop("latency_s") * 1e6
    out.write(f"# {run.workload} on {run.hardware}\n\n")
    _print_table(table, out, "md")
    totals = run.totals()
    out.write(
        f"\ntotal: {totals['energy_uj']:,.4f} uJ, {totals['cycles_total']:,} cycles, "
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

    if args.workload:
        from energysim.api import layer_cost_table

        frame = layer_cost_table(args.workload, args.hw or ["lecture-array"])
    elif args.hw:
        if len(args.hw) != 1:
            raise InputError("costs --hw takes one hardware config unless --workload is given")
        hardware = load_hardware(catalog.hwconfig_path(args.hw[0]))
        frame = pd.DataFrame(hardware.cost_rows())
        frame = frame.rename(columns={"energy_pj": "Energy [pJ]"})
    else:
        frame = operation_table(resolve_table(args.table), args.bits, args.reference)
    if args.format in ("md", "tex") and not args.sources and "Source" in frame:
        frame = frame.drop(columns=["Source"])
    if args.format in ("md", "tex") and not args.sources and "source" in frame:
        frame = frame.drop(columns=["source"])
    _print_table(frame, out, args.format)
    return 0


def _cmd_estimate(args: argparse.Namespace, out: TextIO) -> int:
    from energysim.estimation import estimate, load_hardware_list, load_source
    from energysim.report.files import write_table

    pruned = load_source(args.source)
    dense = load_source(args.dense) if args.dense else None
    result = estimate(pruned, load_hardware_list(args.hw), dense)
    table = result.layers.copy()
    out.write(f"# {pruned.name}: dense original vs pruned\n\n")
    _print_table(table, out, "md")
    split = result.breakdown.pivot_table(index=["hardware", "component"], columns="variant", values="energy_pj",
                                         aggfunc="sum", sort=False).reset_index()
    split["dense_uj"], split["pruned_uj"] = split.pop("dense") / 1e6, split.pop("pruned") / 1e6
    out.write("\n## energy by level / unit (uJ)\n\n")
    _print_table(split, out, "md")
    totals = table[table["layer"] == "TOTAL"]
    for row in totals.itertuples():
        out.write(f"\n{row.hardware}: energy saving {row.energy_saving:.2f}x, speed-up {row.speedup:.2f}x, "
                  f"storage saving {row.storage_saving:.2f}x")
    out.write("\n\n")
    if args.out:
        folder = Path(args.out)
        paths = [write_table(table, folder, "estimate", args.format), write_table(result.breakdown, folder, "breakdown", args.format)]
        summary = pd.concat([run.summary.assign(variant=variant) for (_, variant), run in result.runs.items()], ignore_index=True)
        energy = pd.concat([run.energy.assign(variant=variant) for (_, variant), run in result.runs.items()], ignore_index=True)
        paths += [write_table(summary, folder, "summary", args.format), write_table(energy, folder, "energy", args.format)]
        out.write("wrote " + ", ".join(str(p) for p in paths) + "\n")
    return 0


def _cmd_compare(args: argparse.Namespace, out: TextIO) -> int:
    from energysim.sweep import grid, pareto_front, run_sweep

    points = grid(args.model, _split(args.patterns), _fractions(args.sparsities), _split(args.criteria),
                  finetune_epochs=args.finetune_epochs, seed=args.seed)
    frame = run_sweep(points, _split(args.hw), args.out, jobs=args.jobs, scheduler=args.scheduler,
                      progress=None if not args.quiet else False)
    shown = frame[["pattern", "criterion", "sparsity_target", "hardware", "status", "accuracy", "energy_uj",
                   "latency_s", "energy_ratio_vs_dense", "latency_ratio_vs_dense"]].copy()
    shown["status"] = shown["status"].str.split(":").str[0]
    _print_table(shown, out, "md")
    refused = frame[frame["status"] != "ok"]
    if len(refused):
        out.write(f"\n{len(refused)} points could not run (reasons in the status column of compare.csv), "
                  f"e.g. {refused['hardware'].iloc[0]}: {refused['status'].iloc[0]}\n")
    front = pareto_front(frame)
    out.write(f"\nPareto front (accuracy vs energy), {len(front)} points; wrote {Path(args.out) / 'compare.csv'}\n")
    return 0


def _fractions(text: str) -> list[float]:
    values = []
    for item in _split(text):
        try:
            values.append(float(item))
        except ValueError:
            raise InputError(f"--sparsities must be comma-separated numbers in [0, 1) (got {item!r})") from None
    return values


def _split(text: str) -> list[str]:
    items = [item.strip() for item in text.split(",") if item.strip()]
    if not items:
        raise InputError(f"expected a comma-separated list (got {text!r})")
    return items


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
    run.add_argument("--path", choices=("fast", "cycle"), help="dense engine path (default fast; cycle: slow reference)")
    run.add_argument("--mode", help="engine mode, e.g. sparse_2_4 or dense for the sparse tensor core")
    run.set_defaults(handler=_cmd_run)

    costs = sub.add_parser("costs", help="print a cost table or a hardware config's per-access costs")
    costs.add_argument("--table", default="lecture-45nm", help="built-in table name or .toml file (default lecture-45nm)")
    costs.add_argument("--hw", action="append", help="per-access costs of this hardware config (with --workload: repeatable)")
    costs.add_argument("--workload", action="append", help="per-layer energy per inference of this workload (repeatable)")
    costs.add_argument("--bits", type=int, help="price every entry at this width via the scaling rules")
    costs.add_argument("--reference", help="express relative cost against component.action[.bits], e.g. float_add.op.32")
    costs.add_argument("--format", choices=("md", "csv", "json", "tex"), default="md")
    costs.add_argument("--sources", action="store_true", help="include the Source column in Markdown and LaTeX")
    costs.set_defaults(handler=_cmd_costs)

    est = sub.add_parser("estimate", help="energy and latency of a pruned model next to its dense original")
    est.add_argument("source", help="pruned workload (folder, .toml or bundled name) or model folder")
    est.add_argument("--hw", action="append", required=True, help="hardware config (repeatable)")
    est.add_argument("--dense", help="the dense original workload (default: the same geometry with every weight present)")
    est.add_argument("--out", help="folder for estimate.*, breakdown.*, summary.* and energy.* tables")
    est.add_argument("--format", choices=("csv", "json", "md"), default="csv")
    est.set_defaults(handler=_cmd_estimate)

    cmp_ = sub.add_parser("compare", help="sweep patterns x sparsities x criteria x hardware on a digits model")
    cmp_.add_argument("--model", choices=("mlp", "cnn"), default="mlp")
    cmp_.add_argument("--patterns", default="fine,nm:2:4,vector,kernel,channel", help="comma-separated (nm:N:M for N:M)")
    cmp_.add_argument("--sparsities", default="0.5,0.75,0.9", help="comma-separated fractions removed")
    cmp_.add_argument("--criteria", default="magnitude,l1", help="comma-separated criteria (pairs that do not apply are skipped)")
    cmp_.add_argument("--hw", default="lecture-array,eie-64pe-lecture,a100,a100:sparse_2_4",
                      help="comma-separated hardware (NAME or NAME:MODE)")
    cmp_.add_argument("--finetune-epochs", type=int, default=2)
    cmp_.add_argument("--seed", type=int, default=0)
    cmp_.add_argument("--jobs", type=int, help="local worker processes (default: CPU count)")
    cmp_.add_argument("--scheduler", help="Dask distributed scheduler address, e.g. tcp://127.0.0.1:8786")
    cmp_.add_argument("--out", default="energysim-compare", help="output folder (resumes a sweep already there)")
    cmp_.add_argument("--quiet", action="store_true", help="no progress bar")
    cmp_.set_defaults(handler=_cmd_compare)

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
    from energysim.prune import commands as prune_commands
    from energysim.report import report_commands
    from energysim.workloads import import_commands

    return [prune_commands, import_commands, report_commands]


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
