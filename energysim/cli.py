"""The ``energysim`` command line: the only module that prints or picks exit codes.

Exit codes: 0 success (a bare ``energysim`` prints the help); 2 bad input (one
line per problem on stderr, no traceback, no partial output file); 1 a broken
simulator invariant (a bug); 141 stdout closed early (``energysim run ... | head``).

Conventions shared by every command:

- ``--hw`` is repeatable and comma-separated (``--hw a100 --hw lecture-array,a100:sparse_2_4``);
  each item is a bundled name or a ``.toml`` path, optionally ``NAME:MODE`` for an engine
  mode. Specs are parsed once, here, into :class:`energysim.estimation.HardwareChoice`.
- Tables on stdout are aligned and fit the terminal (:mod:`energysim.report.terminal`);
  ``--wide`` shows every column. Files written with ``--out`` keep exact numbers.
- Ratios are fractions of dense (pruned / dense; 0.6 means 60 % of the dense energy).
- ``--out`` refuses a folder that already holds results unless ``--force``.
- Progress goes to stderr, never with ``--quiet``: a bar on a terminal; elsewhere (CI logs, pipes) a plain
  line every 30 s of a long job (:mod:`energysim.progress`).
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Sequence, TextIO

from energysim import catalog
from energysim.argument_types import count as _count, seed as seed_type
from energysim.limits import check_environment
from energysim.errors import EnergySimError, InputError, InvariantError
from energysim.report.terminal import (Column, guess_kind, in_energy_units, percent, ratio, render_key_values, render_table, si,
                                       terminal_width)

if TYPE_CHECKING:  # pandas is imported by the commands that build tables, not by `energysim --help`
    import pandas as pd

EXIT_BROKEN_PIPE = 141
"""Exit code when stdout is closed early (128 + SIGPIPE), as shell tools do."""

DEFAULT_COMPARE_HW = ("lecture-array", "eie-64pe-lecture", "a100", "a100:sparse_2_4")

EXAMPLES: dict[str, str] = {
    "run": "energysim run lecture-array,a100:sparse_2_4 lenet-300-100 --out runs/lenet",
    "costs": "energysim costs --hw eie-64pe-lecture",
    "estimate": "energysim estimate alexnet-han2015 --hw lecture-array,eie-64pe-lecture --hw a100:sparse_2_4",
    "compare": "energysim compare --patterns fine,nm:2:4 --hw lecture-array,a100:sparse_2_4 --out cmp",
    "list": "energysim list hwconfigs",
    "validate": "energysim validate my-accelerator.toml my-network.toml",
    "demo": "energysim demo --out demo",
    "reproduce": "energysim reproduce eie --quick",
    "train": "energysim train --model mlp --out models/mlp",
    "prune": ("energysim prune --model mlp --granularity nm --nm 2:4 --out pruned/mlp-2of4\n"
              "  energysim prune --model mlp --energy-budget 0.5 --hw eie-64pe-lecture --out pruned/mlp-half-energy"),
    "sensitivity": "energysim sensitivity --model mlp --granularity fine --png sensitivity.png",
    "prune-table": "energysim prune-table --models mlp --sparsities 0.5,0.9",
    "import": "energysim import examples/tiny-cnn.onnx -o imported/tiny-cnn",
    "export-masks": "energysim export-masks imported/tiny-cnn -o masks.pt",
    "report": "energysim report est -o est/report.html",
    "map": "energysim map lecture-array-loopnest lenet-300-100 --objective edp --out maps/lenet",
    "import-timeloop": "energysim import-timeloop tests/data/timeloop/ex04/*.yaml -o design",
}
"""One example per subcommand, shown at the end of its ``--help``."""


class _HelpFormatter(argparse.HelpFormatter):
    """Help that ends each option with its default (unless None or False) and keeps example lines as written."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        import textwrap

        return "\n".join(indent + line if line[:1].isspace() or not line else
                         textwrap.fill(line, width, initial_indent=indent, subsequent_indent=indent)
                         for line in text.splitlines())

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        hidden = action.default is None or action.default is False or action.default == argparse.SUPPRESS
        if "%(default)" in text or hidden or not action.option_strings:  # `is`: a default of 0 is still shown
            return text
        return f"{text} (default: %(default)s)"


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors become one-line InputErrors (exit 2)."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:  # type: ignore[override]
        command = self.prog.removeprefix("energysim").strip()
        raise InputError(f"{command}: {message}" if command else message)


# ---------------------------------------------------------------- shared options


def split_items(values: Sequence[str] | str, option: str) -> list[str]:
    """Items of a repeatable, comma-separated option, in order, each once (``['a,b', 'c'] -> [a, b, c]``)."""
    values = [values] if isinstance(values, str) else list(values)
    items = [item.strip() for value in values for item in value.split(",") if item.strip()]
    if not items:
        raise InputError(f"{option} needs at least one item (got {', '.join(map(repr, values)) or 'nothing'})")
    return list(dict.fromkeys(items))


def _hw_help(what: str, several: str = "repeatable and comma-separated") -> str:
    names = ", ".join(catalog.hwconfig_names()) or "none bundled"
    return f"{what}: a bundled name ({names}) or a .toml path; NAME:MODE picks an engine mode (a100:sparse_2_4); {several}"


def _hardware_choices(specs: list[str], mode: str | None = None, args: argparse.Namespace | None = None):
    """Parse hardware specs once: NAME[:MODE] -> HardwareChoice; ``mode`` (``run --mode``) fills specs without one.

    With ``args``: ``--set`` makes one choice per combination of values
    (:mod:`energysim.hardware_settings`), and each option of :data:`KIND_OPTIONS` given
    (``--mapping`` / ``--compat``; ``run --path``) becomes an engine option of the choices of
    its engine kind, in ``run``, ``estimate`` and ``compare`` alike: refused when no choice
    is of that kind; in a mixed list the other engines run without it
    (:func:`kind_options_notes` says so).
    """
    from dataclasses import replace

    from energysim.estimation import load_hardware_list
    from energysim.hardware_settings import hardware_variants, parse_settings

    if mode:
        conflicting = [s for s in specs if ":" in s and s.partition(":")[2] != mode]
        if conflicting:
            raise InputError(f"--mode {mode} contradicts the mode named in {conflicting[0]!r}; give one of them")
        specs = [s if ":" in s else f"{s}:{mode}" for s in specs]
    settings = parse_settings(getattr(args, "set", None) or [])
    choices = [c for spec in specs for c in hardware_variants(spec, settings)] if settings else load_hardware_list(specs)
    for kind, (names, what) in KIND_OPTIONS.items():
        options = {name: value for name in names if (value := getattr(args, name, None)) is not None}
        if not options:
            continue
        if not any(c.hardware.engine_kind == kind for c in choices):
            flags = " and ".join(f"--{name}" for name in options)
            raise InputError(f"{flags} applies to {what} hardware (engine kind \"{kind}\") and none of the "
                             f"hardware is one (got {', '.join(c.label for c in choices)})")
        choices = [replace(c, options={**c.options, **options}) if c.hardware.engine_kind == kind else c
                   for c in choices]
    return choices


KIND_OPTIONS = {"loopnest": (("mapping", "compat"), "loop-nest"), "dense": (("path",), "dense-array")}
"""Engine options given once for a hardware list, by the engine kind that takes them: (option names, kind in words)."""


def _add_settings(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--set", action="append", metavar="KEY=V1,V2",
                        help="set a dotted key of the hardware file (engine.n_pe=8,16,32); several values make a sweep, "
                             "the values become columns of the results; repeatable (cross product); a value @KEY follows "
                             "another swept key (memory[1].instances=@engine.n_pe)")


def _add_loopnest_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--mapping", metavar="FILE",
                        help="loop-nest hardware only (other hardware in the list runs without it; refused when none is "
                             "loop-nest): mapping TOML file (its entry per layer, e.g. from 'energysim map'), "
                             "or 'default' for the simple default mapping; without it the mapper chooses")
    parser.add_argument("--compat", choices=("ideal", "timeloop"),
                        help="loop-nest hardware only (as --mapping): counting convention, overriding the hardware "
                             "file's engine.compat")


def kind_options_notes(choices, args: argparse.Namespace) -> list[str]:
    """Notes naming the hardware that ran without an option of :data:`KIND_OPTIONS` (another engine kind), one per kind."""
    notes = []
    for kind, (names, what) in KIND_OPTIONS.items():
        given = [f"--{name} {value}" for name in names if (value := getattr(args, name, None)) is not None]
        others = list(dict.fromkeys(c.label for c in choices if c.hardware.engine_kind != kind))
        if given and others:
            notes.append(f"note: {' and '.join(given)} applied to the {what} hardware only; "
                         f"{', '.join(others)} ran without {'them' if len(given) > 1 else 'it'}")
    return notes


def _hardware_notes(choices, args: argparse.Namespace) -> list[str]:
    """The notes on a list of hardware choices: MAC-normalised energies, options other engine kinds ran without, and
    what a ``--set clock_ghz`` leaves at the file's clock (:func:`energysim.hardware_settings.clock_note`)."""
    from energysim.hardware_settings import clock_note

    return [energy_unit_note(choice.hardware for choice in choices), *kind_options_notes(choices, args),
            clock_note(choices)]


def _add_output(parser: argparse.ArgumentParser, what: str, formats: tuple[str, ...] = ("csv", "json", "md")) -> None:
    parser.add_argument("--out", help=f"folder for {what} (refused if it already holds results, unless --force)")
    parser.add_argument("--format", choices=formats, default="csv", help="file format of the tables with --out")
    parser.add_argument("--force", action="store_true", help="replace results already in the --out (and --plots) folder")
    parser.add_argument("--plots", metavar="DIR", help="also write every plot as PNG, SVG and PDF into this folder")


def _add_display(parser: argparse.ArgumentParser, progress: bool = True) -> None:
    parser.add_argument("--wide", action="store_true", help="show every column, whatever the terminal width")
    if progress:
        parser.add_argument("--quiet", action="store_true", help="no progress on stderr (a bar on a terminal, "
                            "else a line every 30 s of a long job)")


def _progress(args: argparse.Namespace) -> bool | None:
    """False with --quiet; None (a bar on a terminal, occasional lines elsewhere) otherwise."""
    return False if getattr(args, "quiet", False) else None


def _write_tables(tables: dict[str, pd.DataFrame], folder: Path, fmt: str, existing: list[Path], out: TextIO,
                  notes: Sequence[str] = ()) -> None:
    """Write the tables and the printed ``notes`` (one paragraph each; none: no notes file) into ``folder``."""
    from energysim.output_folder import remove_stale
    from energysim.report.files import write_notes, write_table

    paths = [write_table(frame, folder, stem, fmt) for stem, frame in tables.items()]
    paths += [path for path in [write_notes(notes, folder)] if path is not None]
    removed = remove_stale(existing, paths)
    out.write("wrote " + ", ".join(str(p) for p in paths) + "\n")
    if removed:
        out.write("removed earlier results this command did not write: " + ", ".join(p.name for p in removed) + "\n")


def _claim(args: argparse.Namespace) -> list[Path]:
    """Refuse --out / --plots folders holding results or plots (before anything runs); the results already there."""
    from energysim.output_folder import claim, claim_plots

    if getattr(args, "plots", None):
        claim_plots(args.plots, args.force)
    return claim(args.out, args.force) if args.out else []


def _write_plots(tables: dict[str, pd.DataFrame], args: argparse.Namespace, out: TextIO) -> None:
    """With --plots DIR: every plot of the tables as PNG, SVG and PDF."""
    if not args.plots:
        return
    from energysim.report.plots import write_plot_files

    paths = write_plot_files(tables, args.plots)
    _prose(f"wrote {len(paths)} plot files to {args.plots}: " + ", ".join(sorted({p.stem for p in paths})), out)


# ---------------------------------------------------------------- run

RUN_COLUMNS = (
    Column("layer"),
    Column("energy_pj", "energy_pj", "energy"),
    Column("latency_s", "time_s", "latency"),
    Column("utilisation", "percent"),
    Column("weights_on_chip", "text", "weights on chip"),
    Column("macs", "count", "MACs"),
    Column("cycles_total", "count", "cycles"),
    Column("spilled", compact=False),
    Column("cycles_compute", "count", "compute", compact=False),
    Column("cycles_fill_drain", "count", "fill/drain", compact=False),
    Column("cycles_stall", "count", "stall", compact=False),
    Column("engine", compact=False),
)


def _cmd_run(args: argparse.Namespace, out: TextIO) -> int:
    import pandas as pd

    from energysim.api import workload as load_workload_by_name
    from energysim.progress import progress_bar
    from energysim.simulate import run_workload

    choices = _hardware_choices(split_items(args.hw, "HW"), args.mode, args)
    existing = _claim(args)
    workload = load_workload_by_name(args.workload)
    runs = []
    with progress_bar(len(choices) * len(workload.layers), f"run {workload.name}", _progress(args)) as bar:
        for choice in choices:
            def tick(layer: str, label: str = choice.label) -> None:
                bar.set_postfix_str(f"{label} {layer}", refresh=False)
                bar.update(1)

            runs.append(run_workload(workload, choice.hardware, on_layer=tick, skip_refused=True, **choice.options))
    for index, run in enumerate(runs):
        totals = run.totals()
        out.write(("\n" if index else "") + f"{run.workload} on {run.run}\n")
        in_macs = run.energy_unit == "MAC"
        out.write(render_table(*in_energy_units(_on_chip_words(run.summary), RUN_COLUMNS), wide=args.wide))
        for layer, reason in run.refused.items():
            out.write(f"refused: {reason}\n" if f"'{layer}'" in reason else f"refused: {layer}: {reason}\n")
        covered = f" (the {len(run.results)} layers that ran; {len(run.refused)} refused)" if run.refused else ""
        energy = f"{si(totals['energy_pj'], '')} MAC-equivalents" if in_macs else si(totals['energy_pj'] * 1e-12, 'J')
        out.write(f"total: {energy}, {si(totals['latency_s'], 's')}, "
                  f"{totals['cycles_total']:,} cycles, utilisation {percent(totals['utilisation'])}{covered}\n")
    notes = _print_notes([*_hardware_notes(choices, args), *_assumed_2_4_notes(runs), *_timing_notes(runs)], out)
    from energysim.estimation import run_note
    from energysim.hardware_settings import with_setting_columns

    frames = {"energy": [run.energy for run in runs], "summary": [run.summary.assign(note=run_note(run)) for run in runs]}
    tables = {name: with_setting_columns(pd.concat(parts, ignore_index=True), choices) for name, parts in frames.items()}
    if args.out:
        _write_tables(tables, Path(args.out), args.format, existing, out, notes)
    _write_plots(tables, args, out)
    return 0


def _on_chip_words(summary: pd.DataFrame) -> pd.DataFrame:
    """``summary`` with ``weights_on_chip`` as words: ``yes``, ``no: <what does not fit>`` (its ``spilled``),
    ``tiles fit`` (loop nest), or ''.

    "no" alone read as "the weights do not fit" where only a layer's metadata overflows (EIE's
    pointers of VGG-6 in PtrSRAM while every weight entry fits SpmatSRAM). A loop-nest result checks
    the mapping's weight tiles, not whole tensors (VGG-16's fc6 streams its 411 MB of weights through a
    128 KiB buffer), so its ``True`` reads ``tiles fit``, never ``yes``.
    """
    engines = summary["engine"] if "engine" in summary.columns else [None] * len(summary)

    def words(on_chip, spilled, engine) -> str:
        if on_chip is None or (isinstance(on_chip, float) and math.isnan(on_chip)):
            return ""
        if on_chip:
            return "tiles fit" if engine == "loopnest" else "yes"
        return f"no: {spilled}" if isinstance(spilled, str) and spilled else "no"

    return summary.assign(weights_on_chip=[words(*row) for row in zip(summary["weights_on_chip"], summary["spilled"],
                                                                       engines)])


def energy_unit_note(hardware) -> str:
    """A note naming the hardware whose costs are normalised to one MAC (``energy_unit = "MAC"``), or ''.

    Their rows in files say ``energy_unit`` = ``MAC``: their ``energy_pj`` / ``energy_uj`` columns hold
    MAC-equivalents (x 1e-6 for uJ), not joules; ratios to dense are unit-free and hold as printed.
    """
    names = list(dict.fromkeys(hw.name for hw in hardware if hw.energy_unit == "MAC"))
    if not names:
        return ""
    its = "its" if len(names) == 1 else "their"
    return (f"note: {', '.join(names)} price{'s' if len(names) == 1 else ''} every action in units of one MAC "
            f"(energy_unit = \"MAC\"): {its} energies are MAC-equivalents; in the files {its} rows have "
            "energy_unit MAC and their energy_pj / energy_uj columns hold MAC-equivalents (x 1e-6 for uJ), not "
            "joules; ratios to dense hold as printed")


def _assumed_2_4_notes(runs) -> list[str]:
    """A note per run whose layers ran in 2:4 mode without masks (:func:`energysim.estimation.assumed_2_4_note`)."""
    from energysim.estimation import assumed_2_4_note

    return [assumed_2_4_note(run) for run in runs]


def _timing_notes(runs) -> list[str]:
    """A note per A100 run: which timing ran, and what library kernels give where 2:4 is padded or slower."""
    from energysim.engines.sparse_tc.notes import timing_note

    return [timing_note(run.run, run.results) for run in runs]


# ---------------------------------------------------------------- costs


LAYER_COST_COLUMNS = (
    Column("workload"),
    Column("run"),
    Column("layer"),
    Column("energy_pj", "energy_pj", "energy per inference"),
    Column("pj_per_dense_mac", "number", "pJ per dense MAC"),
    Column("latency_s", "time_s", "latency"),
    Column("dense_macs", "count", "dense MACs"),
    Column("macs", "count", "executed MACs"),
    Column("pj_per_mac", "number", "pJ per executed MAC", compact=False),
    Column("engine", compact=False),
)


def _cmd_costs(args: argparse.Namespace, out: TextIO) -> int:
    import pandas as pd

    from energysim.costs.export import operation_table
    from energysim.costs.registry import resolve_table
    from energysim.report.files import render

    specs = split_items(args.hw, "--hw") if args.hw else []
    if args.workload:
        from energysim.api import layer_cost_table

        frame = layer_cost_table(split_items(args.workload, "--workload"), specs or ["lecture-array"])
        if args.format == "text":
            out.write(render_table(*in_energy_units(frame, LAYER_COST_COLUMNS), wide=args.wide))
            _print_notes([energy_unit_note(choice.hardware for choice in _hardware_choices(specs or ["lecture-array"]))],
                         out)
        else:
            out.write(render(frame, args.format))
        return 0
    if specs:
        for index, choice in enumerate(_hardware_choices(specs)):
            unit = "MAC-eq" if choice.hardware.energy_unit == "MAC" else "pJ"
            frame = pd.DataFrame(choice.hardware.cost_rows()).rename(columns={"energy_pj": f"Energy [{unit}]"})
            title = f"per-access costs of {choice.label} ({choice.hardware.path or choice.hardware.name})"
            if args.format == "text":
                out.write(("\n" if index else "") + title + "\n")
            _print_costs(frame, args, out)
        if args.format == "text":
            _print_notes([energy_unit_note(choice.hardware for choice in _hardware_choices(specs))], out)
        return 0
    _print_costs(operation_table(resolve_table(args.table), args.bits, args.reference), args, out)
    return 0


def _print_costs(frame: pd.DataFrame, args: argparse.Namespace, out: TextIO) -> None:
    """A cost table: in text, sources as numbered notes under the table; in md/tex only with --sources."""
    import pandas as pd

    from energysim.report.files import render

    source = "Source" if "Source" in frame else "source"
    if args.format == "text":
        numbers: dict[str, int] = {}
        refs = [f"[{numbers.setdefault(text, len(numbers) + 1)}]" for text in frame[source]]
        shown = frame.drop(columns=[source]).assign(source=refs)
        columns = [Column(str(c), "number" if pd.api.types.is_float_dtype(shown[c]) else
                          "count" if pd.api.types.is_integer_dtype(shown[c]) else "text") for c in shown.columns]
        out.write(render_table(shown, columns, wide=args.wide))
        import textwrap

        width = terminal_width()
        out.write("sources:\n" + "".join(textwrap.fill(f"[{n}] {text}", width, subsequent_indent="    ",
                                                        break_long_words=False) + "\n" for text, n in numbers.items()))
        return
    if args.format in ("md", "tex") and not args.sources:
        frame = frame.drop(columns=[source])
    out.write(render(frame, args.format))


# ---------------------------------------------------------------- estimate

ESTIMATE_COLUMNS = (
    Column("layer"),
    Column("energy_uj_dense", "energy_uj", "energy dense"),
    Column("energy_uj_pruned", "energy_uj", "energy pruned"),
    Column("energy_vs_dense", "ratio"),
    Column("latency_vs_dense", "ratio"),
    Column("storage_vs_dense", "ratio"),
    Column("latency_us_dense", "time_us", "latency dense", compact=False),
    Column("latency_us_pruned", "time_us", "latency pruned", compact=False),
    Column("utilisation_dense", "percent", "util dense", compact=False),
    Column("utilisation_pruned", "percent", "util pruned", compact=False),
    Column("storage_bytes_dense", "bytes", "storage dense", compact=False),
    Column("storage_bytes_pruned", "bytes", "storage pruned", compact=False),
)


def _cmd_estimate(args: argparse.Namespace, out: TextIO) -> int:
    from energysim.estimation import (dense_original_source, densified_note, estimate, estimate_densities, load_source,
                                      parse_densities, unpruned_note)

    densities = parse_densities(args.density) if args.density is not None else None
    choices = _hardware_choices(split_items(args.hw, "--hw"), args=args)
    pruned = load_source(args.source)
    dense = load_source(args.dense) if args.dense else None
    if densities is not None:
        from energysim.estimation import with_density

        with_density(pruned, densities[0])  # refuses real weights before any folder is claimed
    existing = _claim(args)
    if densities is None:
        result = estimate(pruned, choices, dense, progress=_progress(args))
    else:
        result = estimate_densities(pruned, choices, densities, dense, progress=_progress(args))
    table = result.layers
    what = pruned.name if densities is None else f"{pruned.name} at weight densities {', '.join(f'{d:g}' for d in densities)}"
    out.write(f"{what} vs its dense original; *_vs_dense = pruned / dense, lower is better\n")
    if densities is None:
        out.write(_wrapped(f"dense original: {dense_original_source(pruned, args.dense)}"))
    components = result.components
    several = table["workload"].nunique() > 1
    for (workload, run), block in table.groupby(["workload", "run"], sort=False):
        out.write(f"\n{workload} on {run}\n" if several else f"\n{run}\n")
        if (block["status"] != "ok").all():
            out.write(f"not run: {block['status'].iloc[0]}\n")
            continue
        out.write(render_table(*in_energy_units(block, ESTIMATE_COLUMNS), wide=args.wide))
        for row in block[(block["status"] != "ok") & (block["layer"] != "TOTAL")].itertuples():
            out.write(f"  {row.layer}: {row.status}\n")
        if args.wide:
            out.write("energy by level / unit\n")
            out.write(render_table(*in_energy_units(components[(components["run"] == run)
                                                               & (components["workload"] == workload)], COMPONENT_COLUMNS),
                                   wide=True))
    out.write("\n")
    totals = table[table["layer"] == "TOTAL"]
    out.write(render_key_values(
        (f"{row.workload} on {row.run}" if several else row.run, row.status if row.status.startswith("unsupported") else
         f"energy {_ratio(row.energy_vs_dense)} of dense, latency {_ratio(row.latency_vs_dense)} of dense, "
         f"weight storage {_ratio(row.storage_vs_dense)} of dense" + ("" if row.status == "ok" else f" ({row.status})"))
        for row in totals.itertuples()))
    note = (unpruned_note(pruned) or densified_note(pruned)) if dense is None and densities is None else ""
    pruned_runs = [run for (_, variant), run in result.runs.items() if variant == "pruned"]
    notes = _print_notes([note, *_assumed_2_4_notes(pruned_runs), *_timing_notes(pruned_runs),
                          *_hardware_notes(choices, args)], out)
    tables = {"estimate": table, "breakdown": result.breakdown, "summary": result.summary, "energy": result.energy}
    if args.out:
        _write_tables(tables, Path(args.out), args.format, existing, out, notes)
    _write_plots({name: tables[name] for name in ("estimate", "summary", "energy")}, args, out)
    return 0


COMPONENT_COLUMNS = (
    Column("component"),
    Column("energy_kind", header="kind"),
    Column("energy_uj_dense", "energy_uj", "energy dense"),
    Column("energy_uj_pruned", "energy_uj", "energy pruned"),
    Column("energy_vs_dense", "ratio"),
)


def _ratio(value: float) -> str:
    return ratio(value) or "n/a"


# ---------------------------------------------------------------- compare

_COMPARE_KEYS = (
    Column("pattern"),
    Column("criterion"),
    Column("sparsity_target", "percent", "target"),
    Column("run"),
    Column("status"),
    Column("accuracy", "percent"),
)
_COMPARE_COSTS = (
    Column("energy_vs_dense", "ratio"),
    Column("latency_vs_dense", "ratio"),
    Column("energy_pj", "energy_pj", "energy"),
    Column("latency_s", "time_s", "latency"),
    Column("sparsity_measured", "percent", "measured", compact=False),
    Column("storage_vs_dense", "ratio", compact=False),
)

COMPARE_SHOWN = _COMPARE_KEYS + _COMPARE_COSTS + (
    Column("accuracy_before_finetune", "percent", "acc. before tuning", compact=False),
    Column("cycles_total", "count", "cycles", compact=False),
)
"""The table ``compare`` prints (the rest of compare.csv is in the file)."""

WORKLOAD_COMPARE_SHOWN = _COMPARE_KEYS + (Column("weight_error", "number", "weight error"),) + _COMPARE_COSTS + (
    Column("layers_refused", "count", "layers refused", compact=False),
)
"""The table ``compare --workload`` prints (``accuracy`` only with --eval-data)."""


def _cmd_compare_workload(args: argparse.Namespace, out: TextIO) -> int:
    """``compare --workload W``: prune W's own weights with data-free criteria, simulate, compare with dense."""
    from energysim.estimation import load_source
    from energysim.output_folder import NOTES_NAME, claim, remove_stale
    from energysim.report.files import write_notes
    from energysim.workload_compare import compare_workload, write_compare

    for flag, default in (("model", None), ("jobs", None), ("scheduler", None), ("finetune_epochs", None),
                          ("energy_aware", None)):
        if getattr(args, flag) != default:
            raise InputError(f"compare: --{flag.replace('_', '-')} is not used with --workload (a workload brings "
                             "its own weights and no training data)")
    evaluate = None
    if args.eval_data:
        source = Path(args.workload)
        if not (source.is_dir() and (source / "model.json").is_file()):
            raise InputError(f"compare: --eval-data needs --workload to be a numpy model folder (model.json + model.npz, "
                             f"from 'energysim train' or 'prune --save-model') that energysim can run (got {args.workload!r}); "
                             "without it the quality column is the weight-reconstruction error")
        from energysim.prune.workload_pruning import model_evaluation

        evaluate = model_evaluation(source, args.eval_data)
    choices = _hardware_choices(split_items(args.hw or DEFAULT_COMPARE_HW, "--hw"), args=args)
    existing = claim(args.out, args.force, own=("compare.csv", NOTES_NAME))  # another command's results: --force
    workload = load_source(args.workload)
    frame = compare_workload(workload, choices, split_items(args.patterns, "--patterns"), _fractions(args.sparsities),
                             split_items(args.criteria, "--criteria"), evaluate=evaluate, seed=args.seed,
                             progress=_progress(args))
    shown = frame.assign(status=_status_words(frame["status"]))
    columns = WORKLOAD_COMPARE_SHOWN if evaluate else tuple(c for c in WORKLOAD_COMPARE_SHOWN if c.name != "accuracy")
    out.write(render_table(*in_energy_units(shown, columns), wide=args.wide))
    from energysim.sweep import run_notes as notes_of

    run_notes = _print_notes([f"note: {note}" for note in notes_of(frame).values()], out)
    quality = ("accuracy on " + str(args.eval_data) if evaluate else
               "no evaluation given, so the quality column is the weight-reconstruction error ||W - W_pruned|| / ||W|| "
               "over all weight layers (a proxy, not an accuracy)")
    note = _not_run_note(frame)
    note = f" {note}." if note else ""
    baseline = frame.loc[frame["pattern"] == "dense", "sparsity_measured"].dropna()
    if len(baseline) and baseline.iloc[0] > 0:
        note += (f" The baseline rows (pattern dense) are the workload as given, already {percent(baseline.iloc[0])} "
                 "sparse: the *_vs_dense ratios are to it, not to a dense model, and a target it already meets prunes "
                 "nothing more.")
    written = write_compare(frame, args.out)
    hardware_notes = _unique_notes(_hardware_notes(choices, args))
    notes_file = write_notes(_unique_notes([*run_notes, *hardware_notes]), Path(args.out))
    remove_stale(existing, [written, *([notes_file] if notes_file else [])])  # an earlier run's notes, or --force's
    _prose(f"{workload.name}: {quality}.{note} Wrote {written}" + (f" and {notes_file.name}" if notes_file else ""), out)
    _print_notes(hardware_notes, out)
    return 0


def _with_swept_keys(frame: pd.DataFrame, columns: tuple, args: argparse.Namespace) -> tuple[pd.DataFrame, list]:
    """For ``--set`` sweeps: the base hardware and one column per swept key in place of the long ``run`` name.

    ``eie-64pe-lecture[engine.n_pe=8,engine.queue_depth=2]`` would be cut on a terminal, hiding the
    values that tell the variants apart; the run name stays in the ``--wide`` layout.
    """
    from energysim.hardware_settings import parse_settings

    keys = [key for key in parse_settings(getattr(args, "set", None) or []) if key in frame.columns]
    if not keys:
        return frame, list(columns)
    frame = frame.assign(base_hardware=frame["run"].str.split("[", n=1, regex=False).str[0])
    out: list = []
    for column in columns:
        if column.name == "run":
            last = [key.rsplit(".", 1)[-1] for key in keys]  # "n_pe" for "engine.n_pe", unless two keys share it
            headers = [short if last.count(short) == 1 else key for key, short in zip(keys, last)]
            out += [Column("base_hardware", header="hardware"),
                    *(Column(key, guess_kind(key, frame[key]), header) for key, header in zip(keys, headers)),
                    Column("run", compact=False)]
        else:
            out.append(column)
    return frame, out


def _budget_targets(frame: pd.DataFrame, columns: tuple[Column, ...]) -> tuple[pd.DataFrame, tuple[Column, ...]]:
    """An energy-aware row's target is its energy budget (``budget 0.5``), not a blank sparsity; others as percent."""
    if "energy_budget" not in frame.columns or frame["energy_budget"].isna().all():
        return frame, columns
    import pandas as pd

    target = [f"budget {budget:g}" if pd.notna(budget) else percent(sparsity)
              for budget, sparsity in zip(frame["energy_budget"], frame["sparsity_target"])]
    return (frame.assign(sparsity_target=target),
            tuple(Column(c.name, "shown", c.title, c.compact) if c.name == "sparsity_target" else c for c in columns))


def _status_words(status: pd.Series) -> pd.Series:
    """A point's status for the terminal: ``ok`` or its kind before the colon (``unsupported``, ``not pruned``)."""
    return status.where(status == "ok", status.str.split(":").str[0])


def _not_run_note(frame: pd.DataFrame) -> str:
    """How many points could not run, by kind, each with one example reason ("" when all ran)."""
    failed = frame[frame["status"] != "ok"]
    if failed.empty:
        return ""
    parts = []
    for kind, group in failed.groupby(_status_words(failed["status"]), sort=True):
        parts.append(f"{len(group)} {kind} (e.g. {group['run'].iloc[0]}: {group['status'].iloc[0]})")
    return f"{len(failed)} point{'s' if len(failed) != 1 else ''} could not run: " + "; ".join(parts)


def _cmd_compare(args: argparse.Namespace, out: TextIO) -> int:
    from energysim.sweep import grid, pareto_front, run_notes, run_sweep

    if args.workload is not None:
        return _cmd_compare_workload(args, out)
    if args.eval_data is not None:
        raise InputError("compare: --eval-data needs --workload (the digits models are evaluated on the digits test split)")
    args.model = args.model or "mlp"
    args.finetune_epochs = 2 if args.finetune_epochs is None else args.finetune_epochs
    choices = _hardware_choices(split_items(args.hw or DEFAULT_COMPARE_HW, "--hw"), args=args)
    if args.plots:
        from energysim.output_folder import claim_plots

        claim_plots(args.plots, args.force)
    points = grid(args.model, split_items(args.patterns, "--patterns"), _fractions(args.sparsities),
                  split_items(args.criteria, "--criteria"), finetune_epochs=args.finetune_epochs, seed=args.seed)
    frame = run_sweep(points, choices, args.out, jobs=args.jobs, scheduler=args.scheduler, progress=_progress(args),
                      force=args.force, energy_budgets=_budgets(args.energy_aware) if args.energy_aware else ())
    shown = frame.assign(status=_status_words(frame["status"]))
    out.write(render_table(*_with_swept_keys(*in_energy_units(*_budget_targets(shown, COMPARE_SHOWN)), args),
                           wide=args.wide))
    notes = _print_notes([f"note: {note}" for note in run_notes(frame).values()], out)
    note = _not_run_note(frame)
    if note:
        _prose(f"{note} (the reasons are in the status column of compare.csv)", out)
    notes_file = _replace_notes(_unique_notes(notes + _print_notes(_hardware_notes(choices, args), out)), args.out)
    front = pareto_front(frame)
    reused, total = frame.attrs["results_reused"], frame.attrs["results_total"]
    aware = " (energy-aware rows resume from their own journal)" if (frame["pattern"] == "energy_aware").any() else ""
    _prose(f"Pareto front (accuracy vs energy): {len(front)} points. Reused {reused} of {total} results "
           f"(point x hardware) from {Path(args.out) / 'points.jsonl'}{aware}; wrote {Path(args.out) / 'compare.csv'}"
           + (f" and {notes_file.name}" if notes_file else ""), out)
    _write_plots({"compare": frame}, args, out)
    return 0


def _wrapped(line: str) -> str:
    """One line wrapped to the terminal width, its continuation lines indented two spaces."""
    import textwrap

    return textwrap.fill(line, width=terminal_width(), subsequent_indent="  ", break_long_words=False,
                         break_on_hyphens=False) + "\n"


def _unique_notes(notes: Sequence[str]) -> list[str]:
    """The notes (one paragraph each, ``note: ...``), each once, in order, without empty ones or edge whitespace."""
    return list(dict.fromkeys(note.strip() for note in notes if note.strip()))


def _print_notes(notes: Sequence[str], out: TextIO) -> list[str]:
    """Print each note wrapped to the terminal (:func:`_wrapped`); return them unwrapped (:func:`_unique_notes`).

    The list returned is what ``--out`` writes to ``notes.txt``
    (:func:`energysim.report.files.write_notes`), so a file never depends on how the
    terminal wrapped its notes.
    """
    kept = _unique_notes(notes)
    out.write("".join(_wrapped(note) for note in kept))
    return kept


def _replace_notes(notes: list[str], folder: str | Path) -> Path | None:
    """``compare``: write its notes into its output folder (``notes.txt``), or remove an earlier run's when it has none.

    Returns
    -------
    pathlib.Path or None
        The notes file written, or None when there are no notes.
    """
    from energysim.output_folder import NOTES_NAME
    from energysim.report.files import write_notes

    written = write_notes(notes, Path(folder))
    if written is None:
        (Path(folder) / NOTES_NAME).unlink(missing_ok=True)
    return written


def _prose(text: str, out: TextIO) -> None:
    """A paragraph after a blank line, wrapped to the terminal width."""
    import textwrap

    out.write("\n" + textwrap.fill(text, width=terminal_width(), break_long_words=False, break_on_hyphens=False) + "\n")


def _numbers(text: str, option: str, what: str) -> list[float]:
    """``0.7,0.5`` -> ``[0.7, 0.5]``; an item that is not a number is refused naming ``option`` and ``what`` it takes."""
    values = []
    for item in split_items(text, option):
        try:
            values.append(float(item))
        except ValueError:
            raise InputError(f"{option} must be comma-separated {what} (got {item!r})") from None
    return values


def _budgets(text: str) -> list[float]:
    """``--energy-aware 0.7,0.5``: the budgets as numbers (their (0, 1] range is checked by run_sweep)."""
    return _numbers(text, "--energy-aware", "energy budgets in (0, 1]")


def _fractions(text: str) -> list[float]:
    """``--sparsities 0.5,0.9``: the target sparsities as numbers (their range is checked by the grid)."""
    return _numbers(text, "--sparsities", "numbers in [0, 1)")


# ---------------------------------------------------------------- small commands


def _cmd_list(args: argparse.Namespace, out: TextIO) -> int:
    out.write("\n".join(_listing(args.what)) + "\n")
    return 0


def _listing(what: str) -> list[str]:
    """The names ``energysim list WHAT`` prints (importing only what that listing needs)."""
    if what == "engines":
        from energysim.engines import ENGINES

        return sorted(ENGINES)
    if what == "tables":
        from energysim.costs.registry import BUILTIN_TABLES

        return list(BUILTIN_TABLES)
    return catalog.hwconfig_names() if what == "hwconfigs" else catalog.workload_names()


def _cmd_validate(args: argparse.Namespace, out: TextIO) -> int:
    from energysim.api import validate_file

    problems = []
    for name in args.files:
        try:
            out.write(f"ok: {validate_file(name)}\n")
        except EnergySimError as exc:
            problems.append(str(exc))
    if problems:  # one line per bad file, each prefixed like the first (the handler prefixes the message once)
        raise InputError("\nenergysim: ".join(problems))
    return 0


def _cmd_demo(args: argparse.Namespace, out: TextIO) -> int:
    from energysim.demo import run_demo

    run_demo(Path(args.out), out, quick=args.quick, progress=_progress(args))
    return 0


def _cmd_reproduce(args: argparse.Namespace, out: TextIO) -> int:
    from energysim.reproduce import reproduce

    for title, frame in reproduce(args.which, quick=args.quick, progress=_progress(args)):
        _prose(title, out)
        names = [next((c for c in REPRODUCE_NAMES if c in frame.columns), frame.columns[0])]
        first = names + [c for c in REPRODUCE_FIRST if c in frame.columns and c not in names]
        out.write(render_table(frame[first + [c for c in frame.columns if c not in first]], wide=args.wide))
    return 0


REPRODUCE_NAMES = ("quantity", "layer", "figure")
"""Columns naming a reproduction row; the first present is shown first."""
REPRODUCE_FIRST = ("model", "published", "ratio", "ok")
"""Reproduction columns shown next (and so dropped last to fit the width): model, paper, verdict."""


# ---------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    from energysim import __version__

    parser = _Parser(prog="energysim", description="Energy and latency of (pruned) DNN layers on modelled hardware.",
                     epilog="example:\n  energysim run lecture-array lenet-300-100\n\n"
                            "'energysim COMMAND --help' lists each command's options, valid values and defaults.")
    parser.add_argument("--version", action="version", version=f"energysim {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    run = sub.add_parser("run", help="simulate a workload on one or more hardware configs")
    run.add_argument("hw", metavar="HW", help=_hw_help("hardware config", several="several comma-separated"))
    run.add_argument("workload", help="workload: bundled name (energysim list workloads), .toml path, a folder energysim "
                     "wrote (prune --out, import -o) or a numpy model folder (train --out)")
    _add_output(run, "energy.* and summary.* tables")
    run.add_argument("--path", choices=("fast", "cycle"), help="dense engine path (fast by default; cycle: slow reference)")
    run.add_argument("--mode", help="engine mode for every HW without its own :MODE (sparse tensor core: dense, sparse_2_4)")
    _add_loopnest_options(run)
    _add_settings(run)
    _add_display(run)
    run.set_defaults(handler=_cmd_run)

    costs = sub.add_parser("costs", help="print a cost table, a hardware config's per-access costs, or energy per layer")
    costs.add_argument("--table", default="lecture-45nm", help="built-in table name (energysim list tables) or .toml file")
    costs.add_argument("--hw", action="append", help=_hw_help("per-access costs of this hardware"))
    costs.add_argument("--workload", action="append",
                       help="energy per inference per layer of this workload on each --hw (lecture-array if none); "
                            "repeatable and comma-separated")
    costs.add_argument("--bits", type=int, help="price every entry at this width via the scaling rules")
    costs.add_argument("--reference", help="express relative cost against component.action[.bits], e.g. float_add.op.32")
    costs.add_argument("--format", choices=("text", "md", "csv", "json", "tex"), default="text",
                       help="text: aligned table with numbered sources; md/tex for documents")
    costs.add_argument("--sources", action="store_true", help="include the Source column in Markdown and LaTeX")
    _add_display(costs, progress=False)
    costs.set_defaults(handler=_cmd_costs)

    est = sub.add_parser("estimate", help="energy and latency of a pruned model next to its dense original")
    est.add_argument("source", help="pruned workload (.toml, bundled name or a folder energysim wrote: prune --out, "
                     "import -o) or numpy model folder (train --out)")
    est.add_argument("--hw", action="append", required=True, help=_hw_help("hardware config"))
    est.add_argument("--dense", help="the dense original workload (default: the same geometry with every weight present)")
    est.add_argument("--density", metavar="D1,D2",
                     help="geometry-only workloads: estimate at these statistical weight densities (fractions kept, "
                          "e.g. 0.5,0.3,0.1), each on every weight layer")
    _add_output(est, "estimate.*, breakdown.*, summary.* and energy.* tables")
    _add_loopnest_options(est)
    _add_settings(est)
    _add_display(est)
    est.set_defaults(handler=_cmd_estimate)

    from energysim.prune.choices import CRITERION_NAMES, MODEL_NAMES
    from energysim.pruning_patterns import PATTERNS

    cmp_ = sub.add_parser("compare", help="sweep patterns x sparsities x criteria x hardware on a digits model "
                                          "or any workload's own weights")
    cmp_.add_argument("--model", choices=MODEL_NAMES,
                      help="digits model to train and prune (default: mlp)")
    cmp_.add_argument("--workload", metavar="W",
                      help="prune this workload's own weights instead (imported model folder, .toml, bundled name or "
                           "numpy model folder) with data-free criteria (magnitude, l1, l2, random), no fine-tuning")
    cmp_.add_argument("--eval-data", metavar="NPZ",
                      help="with --workload MODEL_FOLDER: labelled .npz (arrays inputs, targets) for accuracy; "
                           "otherwise the weight-reconstruction error is reported")
    cmp_.add_argument("--patterns", default="fine,nm:2:4,vector,kernel,channel",
                      help=f"comma-separated, of: {', '.join(p for p in PATTERNS if p != 'dense')}, nm:N:M")
    cmp_.add_argument("--sparsities", default="0.5,0.75,0.9", help="comma-separated fractions removed, each in [0, 1)")
    cmp_.add_argument("--criteria", default="magnitude,l1",
                      help=f"comma-separated, of: {', '.join(CRITERION_NAMES)} (pairs that do not apply are skipped)")
    cmp_.add_argument("--hw", action="append",
                      help=_hw_help("hardware") + f" (default: {','.join(DEFAULT_COMPARE_HW)})")
    _add_loopnest_options(cmp_)
    _add_settings(cmp_)
    cmp_.add_argument("--finetune-epochs", type=_count(0), help="fine-tuning epochs after pruning, masks fixed (default: 2)")
    cmp_.add_argument("--energy-aware", metavar="BUDGETS",
                      help="also prune energy-aware to these budgets (fractions of dense energy, e.g. 0.7,0.5) on "
                           "every hardware: rows of pattern energy_aware (docs/energy_aware.md)")
    cmp_.add_argument("--seed", type=seed_type, default=0, help="seed of training and pruning, in [0, 2**32)")
    cmp_.add_argument("--jobs", type=_count(1), help="local worker processes (default: CPU count)")
    cmp_.add_argument("--scheduler", help="Dask distributed scheduler address, e.g. tcp://127.0.0.1:8786")
    cmp_.add_argument("--out", default="energysim-compare",
                      help="output folder; the same sweep run again resumes from its points.jsonl")
    cmp_.add_argument("--force", action="store_true",
                      help="write into a folder holding other results (another sweep's rows are dropped)")
    cmp_.add_argument("--plots", metavar="DIR", help="also write every plot as PNG, SVG and PDF into this folder")
    _add_display(cmp_)
    cmp_.set_defaults(handler=_cmd_compare)

    listing = sub.add_parser("list", help="list engines, cost tables, bundled hwconfigs or workloads")
    listing.add_argument("what", choices=("engines", "tables", "hwconfigs", "workloads"), help="what to list")
    listing.set_defaults(handler=_cmd_list)

    validate = sub.add_parser("validate", help="check hardware, workload or cost-table files")
    validate.add_argument("files", nargs="+", help="hardware, workload or cost-table .toml files (or workload folders)")
    validate.set_defaults(handler=_cmd_validate)

    demo = sub.add_parser("demo", help="the main job on bundled defaults")
    demo.add_argument("--out", default="energysim-demo", help="folder for the demo's tables")
    demo.add_argument("--quick", action="store_true", help="smaller network, for tests")
    demo.add_argument("--quiet", action="store_true", help="no progress bar on stderr")
    demo.set_defaults(handler=_cmd_demo)

    from energysim.reproduce import REPRODUCTIONS

    reproduce = sub.add_parser("reproduce", help="model vs published figures")
    reproduce.add_argument("which", choices=sorted(REPRODUCTIONS), help="which paper to reproduce")
    reproduce.add_argument("--quick", action="store_true", help="a subset, for tests")
    _add_display(reproduce)
    reproduce.set_defaults(handler=_cmd_reproduce)

    for module in _command_modules():
        module.register(sub)
    for name, command in sub.choices.items():
        command.epilog = f"example:\n  {EXAMPLES[name]}"
    return parser


def _command_modules() -> list:
    """Feature packages that add their own subcommands (``register(subparsers)``)."""
    from energysim import loopnest_commands
    from energysim.prune import commands as prune_commands
    from energysim.report import report_commands
    from energysim.workloads import import_commands

    return [prune_commands, import_commands, report_commands, loopnest_commands]


def main(argv: Sequence[str] | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run the CLI; return the exit code (0 ok, 2 bad input, 1 invariant breach, 141 stdout closed)."""
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        check_environment()  # a bad ENERGYSIM_* limit is refused by every command, not only by the one that reads it
        parser = build_parser()
        with contextlib.redirect_stdout(out):  # --help and --version print through argparse
            try:
                args = parser.parse_args(list(argv) if argv is not None else None)
            except SystemExit as exc:
                return int(exc.code or 0)
        if args.command is None:
            out.write(parser.format_help())
            return 0
        code = int(args.handler(args, out))
        out.flush()  # a closed pipe surfaces here, inside the handler below, not at interpreter exit
        return code
    except InvariantError as exc:
        err.write(f"energysim: internal invariant broken (please report): {exc}\n")
        return 1
    except EnergySimError as exc:
        err.write(f"energysim: {exc}\n")
        return 2
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except KeyboardInterrupt:
        err.write("energysim: interrupted\n")
        return 130


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush into a closed pipe raises nothing."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass  # stdout is not a real file (a test's StringIO): nothing left to flush


def main_entry() -> None:
    """Console-script entry point."""
    sys.exit(main())
