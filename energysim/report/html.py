"""One self-contained HTML report of what energysim wrote.

:func:`build_report` reads a results folder (or one result file) and renders a
section for each result table it finds. Tables are read from ``NAME.csv``,
``NAME.json`` (records, as ``--format json`` writes) or ``NAME.md`` (Markdown,
numbers as printed); a single file is recognised by its name or its columns
(so ``energysim sensitivity --csv any-name.csv`` works). Columns as in
``docs/reports.md``:

``estimate`` (written by ``energysim estimate --out``)
    The dense original vs pruned table: its ``TOTAL`` rows per hardware, then every row.
``summary`` (``run --out``, ``estimate --out``)
    Totals per run (and energy and latency as a fraction of the ``dense`` variant
    where a ``variant`` column names one), the per-layer table and latency bars.
``energy``
    Energy per layer stacked by memory level, static vs dynamic energy, energy by
    level and by tensor, and the per-action costs with their sources.
``compare`` (``energysim compare``, ``energysim demo``)
    What the sweep shows in plain English, the best energy and latency as a fraction
    of dense per pattern and hardware, the accuracy vs energy Pareto plot and front,
    energy and latency vs dense, accuracy vs sparsity, the points that could not run
    and the sweep table.
``comparison`` (``benchmarks/energy_aware_comparison.py``)
    The three curves (uniform, global threshold, energy-aware: accuracy vs
    simulated energy), accuracy at each budget, which pattern each hardware
    rewards (``rewards.csv`` beside it) and what energy-aware pruning chose.
    A ``compare`` table with ``energy_aware`` rows (``compare --energy-aware``)
    gets the same curves and pattern table in its section.
``sensitivity`` (``energysim sensitivity --csv``)
    Per-layer sensitivity curves and an accuracy table (layer x sparsity).
``accuracy`` (``energysim prune-table --csv``)
    Accuracy vs sparsity per granularity and criterion, and every row with its note.

The notes a command printed with the results (``notes.txt`` in the folder;
:func:`energysim.report.files.read_notes`) open the estimate section, or a Notes
section of their own before the others when there is no estimate table.

Runs are told apart by the run key (``workload``, ``run``, ``variant``; see
:mod:`energysim.report.runs`): rows of two runs are never added up, and a file
whose runs cannot be told apart is refused. The title names the workloads and
hardware runs.

The page has no scripts and no external references: plots are PNG data URIs,
styles are inline, so it opens offline in any browser. All text from the
tables is HTML-escaped. The file is written atomically.
"""

from __future__ import annotations

import base64
import html
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

import energysim
from energysim.atomic_files import write_text_atomic
from energysim.errors import InputError
from energysim.output_folder import NOTES_NAME
from energysim.report import methods, plots
from energysim.report.files import read_notes
from energysim.report.findings import sweep_findings
from energysim.report.runs import key_columns, with_run_key
from energysim.units import PJ_PER_UJ

TABLES = ("estimate", "summary", "energy", "compare", "comparison", "sensitivity", "accuracy")
"""Result tables the report renders, in section order."""

SUFFIXES = ("csv", "json", "md")
"""File formats a result table is read from, in order of preference."""

NUMERIC_COLUMNS = {
    "summary": ("macs", "cycles_compute", "cycles_fill_drain", "cycles_stall", "cycles_total", "latency_s", "utilisation",
                "energy_pj", "energy_uj"),
    "energy": ("count", "pj_per_action", "energy_pj"),
    "compare": ("sparsity_target", "sparsity_measured", "accuracy", "energy_pj", "energy_uj", "latency_s", "energy_vs_dense",
                "latency_vs_dense", "energy_ratio_vs_dense", "latency_ratio_vs_dense"),
    "sensitivity": ("sparsity", "target_sparsity", "accuracy"),
    "accuracy": ("target_sparsity", "accuracy_dense", "accuracy_pruned", "accuracy_finetuned"),
    "estimate": (),
    "comparison": ("budget", "energy_vs_dense", "accuracy", "accuracy_dense", "wall_time_s"),
}
"""Columns of each table that must hold numbers where present (empty cells allowed)."""

RESULT_FILES = tuple(f"{table}.csv" for table in TABLES)
"""The CSV file names of the result tables (each may also be ``.json`` or ``.md``)."""

MAX_TABLE_ROWS = 300
"""Most rows of one HTML table; longer tables are cut with a note pointing to the CSV."""

_TEXT_COLUMNS = ("source", "status", "description", "note", "choice", "allocation", methods.WHY_COLUMN,
                 methods.ALLOCATION_COLUMN)

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2em auto;max-width:min(1800px,97vw);padding:0 1em;color:#222}
h1{font-size:1.6em;margin-bottom:.2em} h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:2em}
h3{margin-top:1.4em} nav a{margin-right:1em} .meta{color:#666;font-size:.9em}
table{border-collapse:collapse;margin:.6em 0 1.2em;font-size:.85em}
th,td{border:1px solid #ccc;padding:.25em .6em;white-space:nowrap} th{background:#f2f2f2;text-align:left}
td.text{white-space:normal;min-width:16em} .scroll{overflow-x:auto;max-width:100%}
td.num{text-align:right;font-variant-numeric:tabular-nums} tr:nth-child(even) td{background:#fafafa}
td.bad{color:#a00} img{max-width:100%;height:auto;border:1px solid #eee;margin:.4em 0}
figure{margin:1em 0} figcaption{color:#555;font-size:.9em} .note{color:#666;font-size:.85em}
.notes{border-left:4px solid #c90;background:#fffaf0;padding:.3em 1em;margin:.8em 0} .notes li{margin:.3em 0}
"""


@dataclass
class _Page:
    """Sections of the report as they are built: (anchor id, heading, HTML parts)."""

    sections: list[tuple[str, str, list[str]]]


def _number(text: str) -> object:
    """A Markdown cell as written by :func:`energysim.report.files.to_markdown`: '' -> NaN, '1,234.5' -> 1234.5, else text."""
    text = text.strip().replace("\\|", "|")
    if text == "":
        return math.nan
    try:
        return float(text.replace(",", ""))
    except ValueError:
        return text


def _read_markdown(path: Path) -> pd.DataFrame:
    lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip().startswith("|")]
    if len(lines) < 2:
        raise InputError(f"{path}: holds no Markdown table (expected a header row, an alignment row and rows)")

    def cells(line: str) -> list[str]:
        inner = line[1:-1] if line.endswith("|") and not line.endswith("\\|") else line[1:]
        return [cell.strip() for cell in re.split(r"(?<!\\)\|", inner)]

    header = cells(lines[0])
    rows = [[_number(cell) for cell in cells(line)] for line in lines[2:]]
    for number, row in enumerate(rows, start=3):
        if len(row) != len(header):
            raise InputError(f"{path}: table row {number} has {len(row)} cells, the header {len(header)}")
    frame = pd.DataFrame(rows, columns=header)
    for column in frame.columns:
        if all(isinstance(v, float) for v in frame[column]):
            frame[column] = frame[column].astype(float)
    return frame


def read_table(path: Path) -> pd.DataFrame:
    """A result table from a ``.csv``, ``.json`` (records) or ``.md`` (Markdown table) file.

    Raises
    ------
    InputError
        If the file is empty, cannot be parsed, or has another suffix (naming the file).
    """
    suffix = path.suffix.lower().lstrip(".")
    try:
        if suffix == "csv":
            return pd.read_csv(path)
        if suffix == "json":
            records = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
                raise InputError(f"{path}: must hold a JSON list of records (one object per row), as --format json writes")
            return pd.DataFrame.from_records(records)
        if suffix == "md":
            return _read_markdown(path)
    except pd.errors.EmptyDataError:
        raise InputError(f"{path}: is empty (expected a CSV header and rows)") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: is not valid JSON ({exc.msg} at line {exc.lineno})") from None
    except (pd.errors.ParserError, UnicodeDecodeError, OSError) as exc:
        raise InputError(f"{path}: cannot be read as {suffix.upper()} ({str(exc).splitlines()[0]})") from None
    raise InputError(f"{path}: a result file must end in .{', .'.join(SUFFIXES)} (got {path.suffix or 'no suffix'!r})")


def table_kind(name: str, frame: pd.DataFrame) -> str | None:
    """Which result table a file holds: by its stem (``summary``, ``energy``, ...), else by its columns; None if neither."""
    stem = name.lower()
    if stem in TABLES:
        return stem
    columns = set(frame.columns)
    if {"model", "run", "budget", "method", "energy_vs_dense", "accuracy"} <= columns:
        return "comparison"
    if {"model", "granularity", "criterion", "target_sparsity", "accuracy_dense"} <= columns:
        return "accuracy"
    if {"layer", "accuracy"} <= columns and columns & {"sparsity", "target_sparsity"} and "hardware" not in columns:
        return "sensitivity"
    if {"pattern", "hardware", "accuracy"} <= columns:
        return "compare"
    if {"layer", "hardware"} <= columns and any(str(c).startswith("energy_uj_") for c in columns):
        return "estimate"
    if {"layer", "component", "energy_pj"} <= columns:
        return "energy"
    if {"layer", "latency_s", "energy_pj"} <= columns:
        return "summary"
    return None


def find_tables(results: Path) -> dict[str, tuple[Path, pd.DataFrame]]:
    """The result tables of a results folder, or of one result file: table name -> (file, frame).

    Raises
    ------
    InputError
        If the path does not exist, a folder holds no result table, or a file is
        not one (naming what was looked for).
    """
    if results.is_file():
        frame = read_table(results)
        kind = table_kind(results.stem, frame)
        if kind is None:
            raise InputError(f"{results}: is not a result table energysim writes (expected the columns of one of "
                             f"{', '.join(TABLES)}; see docs/reports.md)")
        return {kind: (results, frame)}
    if not results.is_dir():
        raise InputError(f"results {str(results)!r}: no such file or folder (give a folder energysim wrote or one of its result tables)")
    found = {}
    for table in TABLES:
        path = next((results / f"{table}.{s}" for s in SUFFIXES if (results / f"{table}.{s}").is_file()), None)
        if path is not None:
            found[table] = (path, read_table(path))
    if not found:
        raise InputError(f"results folder {str(results)!r} holds none of "
                         f"{', '.join(f'{t}.csv' for t in TABLES)} (or their .json / .md forms)")
    return found


def _format(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int) or (hasattr(value, "dtype") and getattr(value, "dtype").kind in "iu"):
        return f"{int(value):,}"
    if isinstance(value, float) or (hasattr(value, "dtype") and getattr(value, "dtype").kind == "f"):
        number = float(value)
        if number == 0:
            return "0"
        if abs(number) >= 1e6 or abs(number) < 1e-3:
            return f"{number:.4g}"
        if number.is_integer() and abs(number) >= 100:
            return f"{number:,.0f}"
        return f"{number:,.4g}" if abs(number) < 1000 else f"{number:,.1f}"
    return str(value)


def html_table(frame: pd.DataFrame, source: str | None = None, bad_column: str | None = None) -> str:
    """An HTML table of a DataFrame: numbers right-aligned and formatted, all text escaped.

    Parameters
    ----------
    frame
        The table (its index is dropped).
    source
        File named in the note when the table is cut at :data:`MAX_TABLE_ROWS`.
    bad_column
        A column whose cells are marked (class ``bad``) where they are not ``ok``.

    An ``energy_unit`` column whose every row is ``pJ`` is left out: it names the unit family of
    ``energy_pj``, and beside an ``energy_uj`` value (1.508) it read as "1.508 pJ". It stays where
    MAC-equivalent rows are mixed in, which the section's note names.
    """
    if "energy_unit" in frame.columns and frame["energy_unit"].astype(str).eq("pJ").all():
        frame = frame.drop(columns="energy_unit")
    numeric = {c: pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c]) for c in frame.columns}
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    rows = []
    for values in frame.head(MAX_TABLE_ROWS).itertuples(index=False, name=None):
        cells = []
        for column, value in zip(frame.columns, values):
            classes = []
            if numeric[column]:
                classes.append("num")
            elif str(column) in _TEXT_COLUMNS:
                classes.append("text")
            if bad_column is not None and column == bad_column and str(value).strip().lower() != "ok":
                classes.append("bad")
            attr = f' class="{" ".join(classes)}"' if classes else ""
            ratio = str(column).endswith("_vs_dense") and isinstance(value, float) and math.isfinite(value)
            cells.append(f"<td{attr}>{html.escape(f'{value:.3g}' if ratio else _format(value))}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    note = ""
    if len(frame) > MAX_TABLE_ROWS:
        note = f'<p class="note">First {MAX_TABLE_ROWS} of {len(frame)} rows{f"; all rows are in {html.escape(source)}" if source else ""}.</p>'
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table></div>{note}'


def _image(figure, alt: str, caption: str) -> str:
    data = base64.b64encode(plots.figure_png(figure)).decode("ascii")
    figure.clear()
    return (f'<figure><img src="data:image/png;base64,{data}" alt="{html.escape(alt, quote=True)}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>")


def _add_table(page: _Page, parts: list[str], title: str, frame: pd.DataFrame, source: str, bad_column: str | None = None) -> None:
    parts.append(f"<h3>{html.escape(title)}</h3>")
    parts.append(html_table(frame, source, bad_column))


def _add_totals(page: _Page, parts: list[str], title: str, totals: pd.DataFrame, source: str) -> None:
    """A totals table whose runs' notes follow it as paragraphs (in a table column a long note made a row pages tall).

    Each distinct note is printed once, after the runs (``run``, else ``hardware``) that carry it.
    """
    if "note" not in totals.columns:
        _add_table(page, parts, title, totals, source)
        return
    notes = ["" if pd.isna(note) else str(note).strip() for note in totals["note"]]
    _add_table(page, parts, title, totals.drop(columns=["note"]), source)
    label = "run" if "run" in totals.columns else "hardware" if "hardware" in totals.columns else None
    runs: dict[str, list[str]] = {}
    for row, note in enumerate(notes):
        if note:
            name = str(totals[label].iloc[row]) if label else ""
            runs.setdefault(note, [])
            if name and name not in runs[note]:
                runs[note].append(name)
    for note, names in runs.items():
        prefix = f"{html.escape(', '.join(names))}: " if names else ""
        parts.append(f'<p class="note">{prefix}{html.escape(note)}</p>')


def _add_plot(parts: list[str], plot: plots.Plot) -> None:
    parts.append(_image(plot.figure, plot.alt, plot.caption))


def _plots(table: str, frame: pd.DataFrame) -> dict[str, plots.Plot]:
    return {plot.name: plot for plot in plots.plots_of({table: frame})}


def _ratios_vs_dense(totals: pd.DataFrame, keys: list[str], columns: dict[str, str]) -> pd.DataFrame:
    """Add ``NAME_vs_dense`` = this row's value / the dense variant's of the same (workload, run), for each column."""
    others = [k for k in keys if k != "variant"]
    dense = totals[totals["variant"].astype(str) == "dense"]
    if dense.empty:
        return totals
    merged = totals.merge(dense[[*others, *columns.values()]], on=others, how="left", suffixes=("", "_dense")) if others else \
        totals.assign(**{f"{c}_dense": dense[c].iloc[0] for c in columns.values()})
    for name, column in columns.items():
        totals[f"{name}_vs_dense"] = (merged[column] / merged[f"{column}_dense"]).to_numpy()
    return totals


def _estimate_section(page: _Page, estimate: pd.DataFrame, source: str) -> None:
    plots.require_columns(estimate, ("hardware", "layer"), source)
    estimate = with_run_key(estimate, source)
    parts: list[str] = []
    totals = estimate[estimate["layer"].astype(str) == "TOTAL"]
    if len(totals):
        _add_totals(page, parts, "Totals per hardware run", totals, source)
        if any(str(c).endswith("_vs_dense") for c in estimate.columns):
            parts.append('<p class="note">Columns ending in _vs_dense are pruned / dense on the same hardware run '
                         "(a fraction of dense: below 1 = the pruned model is better).</p>")
        else:
            parts.append('<p class="note">This file is from an older energysim: its savings and speed-ups are dense / pruned '
                         "(above 1 = the pruned model is better).</p>")
    for plot in _plots("estimate", estimate).values():
        _add_plot(parts, plot)
    _add_table(page, parts, "Per layer", estimate[estimate["layer"].astype(str) != "TOTAL"], source)
    page.sections.append(("estimate", "Dense original vs pruned", parts))


def _summary_section(page: _Page, summary: pd.DataFrame, source: str) -> None:
    plots.require_columns(summary, ("layer", "latency_s", "energy_pj"), source)
    frame = with_run_key(summary, source)
    parts: list[str] = []
    keys = key_columns(frame) + [c for c in ("engine", "energy_unit") if c in frame.columns]
    frame["energy_uj"] = frame["energy_pj"] / PJ_PER_UJ
    aggregations = {"layers": ("layer", "count"), "energy_uj": ("energy_uj", "sum"), "latency_s": ("latency_s", "sum")}
    for column in ("macs", "cycles_total"):
        if column in frame.columns:
            aggregations[column] = (column, "sum")
    if "note" in frame.columns:  # the run's note, the same on each of its rows
        frame["note"] = ["" if pd.isna(note) else str(note) for note in frame["note"]]
        aggregations["note"] = ("note", "first")
    grouped = frame.groupby(keys, sort=False) if keys else frame.groupby(lambda _: "all")
    totals = grouped.agg(**aggregations).reset_index()
    if not keys:
        totals = totals.drop(columns=["index"])
    if "utilisation" in frame.columns and "cycles_total" in frame.columns:
        weighted = frame.assign(_w=frame["utilisation"] * frame["cycles_total"])
        sums = weighted.groupby(keys, sort=False)[["_w", "cycles_total"]].sum() if keys else weighted[["_w", "cycles_total"]].sum().to_frame().T
        totals["utilisation"] = (sums["_w"] / sums["cycles_total"]).to_numpy()
    totals["latency_us"] = totals.pop("latency_s") * 1e6
    if "variant" in keys:
        totals = _ratios_vs_dense(totals, [k for k in keys if k != "engine"], {"energy": "energy_uj", "latency": "latency_us"})
    _add_totals(page, parts, "Totals per run", totals, source)
    if "energy_vs_dense" in totals.columns:
        parts.append('<p class="note">energy_vs_dense and latency_vs_dense are this row\'s energy and latency as a fraction '
                     "of the dense variant's on the same hardware run (below 1 = better than dense).</p>")
    for plot in _plots("summary", frame).values():
        _add_plot(parts, plot)
    shown = [c for c in ("workload", "run", "variant", "engine", "layer", "macs", "cycles_compute", "cycles_fill_drain",
                         "cycles_stall", "cycles_total", "latency_s", "utilisation", "energy_uj", "energy_unit", "weights_on_chip",
                         "spilled")
             if c in frame.columns]
    per_layer = frame[shown].copy()
    per_layer["latency_us"] = per_layer.pop("latency_s") * 1e6
    _add_table(page, parts, "Per layer", per_layer, source)
    page.sections.append(("summary", "Energy and latency per layer", parts))


def _energy_section(page: _Page, energy: pd.DataFrame, source: str) -> None:
    plots.require_columns(energy, ("layer", "component", "energy_pj"), source)
    frame = plots.with_energy_kind(with_run_key(energy, source, ("layer", "component", "tensor", "action")))
    parts: list[str] = []
    for plot in _plots("energy", frame).values():
        _add_plot(parts, plot)
    keys = key_columns(frame) + (["energy_unit"] if "energy_unit" in frame.columns else [])
    frame = frame.assign(energy_uj=frame["energy_pj"] / PJ_PER_UJ)
    kinds = frame.groupby([*keys, "energy_kind"], sort=False)["energy_uj"].sum().unstack("energy_kind", fill_value=0.0)
    kinds = kinds.reindex(columns=["static", "dynamic"], fill_value=0.0).rename(columns=lambda k: f"{k}_energy_uj")
    kinds["static_share_percent"] = 100 * kinds["static_energy_uj"] / (kinds["static_energy_uj"] + kinds["dynamic_energy_uj"])
    _add_table(page, parts, "Static and dynamic energy per run", kinds.reset_index() if keys else kinds, source)
    parts.append('<p class="note">Static energy is time-proportional, counted in cycles (leakage and clock): a unit priced '
                 "by power (the A100's SM static_cycle) or a level's leak_power_w costs power x cycle time at the run's "
                 "clock, so power x latency; a fixed energy per cycle (leak_pj_per_cycle, a unit's energy_pj) does "
                 "not follow the clock. Dynamic energy is charged per "
                 "access or operation.</p>")
    for level in ("component", "tensor"):
        if level not in frame.columns:
            continue
        by = [*keys, level, "energy_kind"]
        table = frame.groupby(by, sort=False)["energy_uj"].sum().reset_index()
        total = table.groupby(keys, sort=False)["energy_uj"].transform("sum") if keys else table["energy_uj"].sum()
        table["share_percent"] = 100 * table["energy_uj"] / total
        table = table.sort_values([*keys, "energy_uj"], ascending=[*([True] * len(keys)), False], kind="stable")
        _add_table(page, parts, f"Energy by {'memory level / unit' if level == 'component' else 'tensor'}", table, source)
    cost_columns = [c for c in ("hardware", "component", "action", "energy_kind", "pj_per_action", "energy_unit", "source")
                    if c in frame.columns]
    if {"action", "pj_per_action"} <= set(cost_columns):
        costs = frame[cost_columns].drop_duplicates().reset_index(drop=True)
        _add_table(page, parts, "Per-action costs and their sources", costs, source)
    page.sections.append(("energy", "Energy breakdown", parts))


def _compare_section(page: _Page, compare: pd.DataFrame, source: str) -> None:
    plots.require_columns(compare, ("pattern", "hardware", "accuracy"), source)
    if "energy_uj" not in compare.columns:
        plots.require_columns(compare, ("energy_pj",), source)
    parts: list[str] = []
    frame = compare.copy()
    if "energy_uj" not in frame.columns:
        frame["energy_uj"] = frame["energy_pj"] / PJ_PER_UJ
    panel = plots.panel_column(frame)
    ok = frame[frame["status"].astype(str).str.strip().str.lower() == "ok"] if "status" in frame.columns else frame
    findings = sweep_findings(frame)
    if findings:
        parts.append("<h3>What the sweep shows</h3><ul>" + "".join(f"<li>{html.escape(line)}</li>" for line in findings) + "</ul>")
    made = _plots("compare", frame)
    best_tables = 0
    for what in ("energy", "latency"):
        column = plots.ratio_column(ok, what)
        if column is None:
            continue
        pruned = ok[ok["pattern"].astype(str) != "dense"]
        best = (pruned.assign(_ratio=pd.to_numeric(pruned[column], errors="coerce"))
                .pivot_table(index="pattern", columns=panel, values="_ratio", aggfunc="min", sort=False)
                .reindex(index=[p for p in dict.fromkeys(frame["pattern"]) if str(p) != "dense"],
                         columns=list(dict.fromkeys(frame[panel]))))
        best.columns = [str(c) for c in best.columns]
        best = best.apply(lambda column: column.map(lambda v: float(f"{v:.3g}") if pd.notna(v) else v))
        _add_table(page, parts, f"Best {what} as a fraction of dense (pattern x hardware)", best.reset_index(), source)
        best_tables += 1
    if best_tables:
        parts.append('<p class="note">The lowest pruned / dense ratio any runnable point of the pattern reached on that '
                     "hardware (below 1 = a saving; 0.5 = half of dense); an empty cell means no point of the pattern ran "
                     "there.</p>")
    if "vs_dense" in made:
        _add_plot(parts, made["vs_dense"])
    if "method_curves" in made:
        _add_plot(parts, made["method_curves"])
        _add_pattern_choice(page, parts, methods.method_points(frame, "compare"), None, source)
    if "pareto" in made:
        _add_plot(parts, made["pareto"])
        fronts = []
        for _, part in ok.groupby(panel, sort=False):
            part = part.dropna(subset=["accuracy", "energy_uj"])
            if len(part):
                fronts.append(part[plots.pareto_mask(part["energy_uj"], part["accuracy"])].sort_values("energy_uj"))
        if fronts:
            front_columns = [c for c in ("hardware", "run", "engine", "pattern", "criterion", "sparsity_target", "sparsity_measured",
                                         "accuracy", "energy_uj", "energy_unit", "energy_vs_dense", "energy_ratio_vs_dense", "latency_s",
                                         "latency_vs_dense", "latency_ratio_vs_dense") if c in frame.columns]
            _add_table(page, parts, "Pareto front per hardware", pd.concat(fronts)[front_columns], source)
    if "accuracy_vs_sparsity" in made:
        _add_plot(parts, made["accuracy_vs_sparsity"])
    if "status" in frame.columns:
        failed = frame[frame["status"].astype(str).str.strip().str.lower() != "ok"]
        if len(failed):
            columns = [c for c in ("model", "pattern", "criterion", "sparsity_target", "hardware", "engine", "status") if c in frame.columns]
            _add_table(page, parts, "Points that could not run", failed[columns], source, bad_column="status")
    _add_table(page, parts, "All sweep points", frame, source, bad_column="status" if "status" in frame.columns else None)
    page.sections.append(("compare", "Sparsity patterns compared", parts))


def _add_pattern_choice(page: _Page, parts: list[str], points: pd.DataFrame, rewards: pd.DataFrame | None,
                        source: str) -> None:
    """The per-run table of the patterns energy-aware pruning chose and why."""
    _add_table(page, parts, "Which pattern each hardware rewards, and what energy-aware pruning chose",
               methods.pattern_choice_table(points, rewards), source)
    parts.append('<p class="note">A dense array only gains from a smaller geometry (channels); EIE skips zero weights '
                 "and activations (fine-grained zeros and channels); a 2:4 sparse tensor core runs only 2:4. The "
                 "allocation follows what the simulator measured on each run, not a rule naming the engine.</p>")


def _comparison_section(page: _Page, comparison: pd.DataFrame, source: str) -> None:
    plots.require_columns(comparison, ("model", "run", "budget", "method", "energy_vs_dense", "accuracy"), source)
    parts: list[str] = []
    made = _plots("comparison", comparison)
    if "method_curves" in made:
        _add_plot(parts, made["method_curves"])
    table = comparison.assign(accuracy=comparison["accuracy"].where(comparison["status"].astype(str) == "ok")) \
        if "status" in comparison.columns else comparison
    wide = table.pivot_table(index=["model", "run", "method"], columns="budget", values="accuracy", aggfunc="first",
                             sort=False, dropna=False)
    wide = wide[sorted(wide.columns, reverse=True)]
    wide.columns = [f"accuracy at {b:g} of dense energy" for b in wide.columns]
    _add_table(page, parts, "Test accuracy at each energy budget (empty: the method cannot meet it)", wide.reset_index(),
               source)
    _add_pattern_choice(page, parts, methods.method_points(comparison, "comparison"), comparison.attrs.get("rewards"),
                        source)
    _add_table(page, parts, "Every method at every budget", comparison, source,
               bad_column="status" if "status" in comparison.columns else None)
    page.sections.append(("comparison", "Pruning methods at equal energy", parts))


def _sensitivity_section(page: _Page, sensitivity: pd.DataFrame, source: str) -> None:
    sensitivity = plots.sensitivity_with_sparsity(sensitivity)
    plots.require_columns(sensitivity, ("layer", "sparsity", "accuracy"), source)
    parts: list[str] = []
    for plot in _plots("sensitivity", sensitivity).values():
        _add_plot(parts, plot)
    index = [c for c in ("workload", "model", "layer") if c in sensitivity.columns]
    table = sensitivity.pivot_table(index=index, columns="sparsity", values="accuracy", aggfunc="first", sort=False)
    table.columns = [f"accuracy at {100 * float(c):g}%" for c in table.columns]
    _add_table(page, parts, "Accuracy by layer and sparsity", table.reset_index(), source)
    page.sections.append(("sensitivity", "Per-layer sensitivity", parts))


def _accuracy_section(page: _Page, accuracy: pd.DataFrame, source: str) -> None:
    plots.require_columns(accuracy, ("model", "granularity", "criterion", "target_sparsity", "accuracy_dense"), source)
    parts: list[str] = []
    for plot in _plots("accuracy", accuracy).values():
        _add_plot(parts, plot)
    _add_table(page, parts, "Accuracy by granularity, criterion and sparsity", accuracy, source)
    page.sections.append(("accuracy", "Accuracy after pruning", parts))


_SECTIONS = {"accuracy": _accuracy_section, "estimate": _estimate_section, "summary": _summary_section, "energy": _energy_section,
             "compare": _compare_section, "comparison": _comparison_section, "sensitivity": _sensitivity_section}


def _names(frames: list[pd.DataFrame], columns: tuple[str, ...]) -> list[str]:
    """Distinct non-empty values of the first of ``columns`` each frame has, in order of appearance."""
    names: dict[str, None] = {}
    for frame in frames:
        column = next((c for c in columns if c in frame.columns), None)
        if column is not None:
            names.update(dict.fromkeys(str(v) for v in frame[column].dropna() if str(v) not in ("", "TOTAL")))
    return list(names)


def report_title(tables: dict[str, pd.DataFrame], fallback: str) -> str:
    """The report's title: the workloads and hardware runs the tables name, e.g. ``alexnet on a100, a100:sparse_2_4``."""
    frames = list(tables.values())
    workloads = _names(frames, ("workload", "model"))
    runs = _names([f for f in frames if "run" in f.columns or "hardware" in f.columns], ("run", "hardware"))
    if not workloads and not runs:
        return f"energysim report: {fallback}"
    text = ", ".join(workloads) or fallback
    return f"energysim report: {text}" + (f" on {', '.join(runs)}" if runs else "")


def mac_unit_note(tables: dict[str, pd.DataFrame]) -> str:
    """A sentence naming the runs whose energies are MAC-equivalents (``energy_unit`` ``MAC``), or ''.

    Their ``energy_pj`` / ``pj_per_action`` columns hold MAC-equivalents and ``energy_uj`` MAC-equivalents
    x 1e-6 (see :mod:`energysim.report.tables`); the report groups by unit and draws them on their own axes.
    """
    runs: dict[str, None] = {}
    for frame in tables.values():
        if "energy_unit" in frame.columns:
            mac = frame[frame["energy_unit"].astype(str) == "MAC"]
            column = next((c for c in ("run", "hardware") if c in mac.columns), None)
            runs.update(dict.fromkeys(mac[column].astype(str) if column else ["some rows"]))
    if not runs:
        return ""
    return (f" Rows with energy_unit MAC ({', '.join(runs)}) are from hardware whose costs are normalised to one MAC: "
            "their energy_pj and pj_per_action columns hold MAC-equivalents and energy_uj MAC-equivalents x 1e-6, not "
            "joules; they are never added to or drawn on one axis with rows in pJ.")


def notes_block(notes: list[str], heading: str = "<h3>Notes</h3>") -> str:
    """The notes of a results folder (:func:`energysim.report.files.read_notes`) as an escaped HTML block, or ''."""
    if not notes:
        return ""
    items = "".join(f"<li>{html.escape(note.removeprefix('note: '))}</li>" for note in notes)
    return (f'<div class="notes">{heading}<p>The notes the command printed with these results '
            f'({NOTES_NAME}); read the figures with them.</p><ul>{items}</ul></div>')


def _add_notes(page: _Page, notes: list[str]) -> None:
    """Put the notes block at the top of the estimate section, or as a section of its own before all others."""
    if not notes:
        return
    estimate = next((parts for anchor, _, parts in page.sections if anchor == "estimate"), None)
    if estimate is None:
        page.sections.insert(0, ("notes", "Notes", [notes_block(notes, heading="")]))
    else:
        estimate.insert(0, notes_block(notes))


def _render_section(page: _Page, tables: dict[str, pd.DataFrame], name: str, path: Path, frame: pd.DataFrame) -> None:
    """Add table ``name``'s section (from ``path``) to ``page`` and the frame to ``tables``; errors name the file."""
    tables[name] = frame
    if frame.empty:
        page.sections.append((name, path.name, [f'<p class="note">{html.escape(path.name)} has no rows.</p>']))
        return
    try:
        plots.require_numbers(frame, NUMERIC_COLUMNS[name], path.name)
        numeric = [c for c in NUMERIC_COLUMNS[name] if c in frame.columns]
        frame = frame.assign(**{c: pd.to_numeric(frame[c], errors="coerce") for c in numeric})
        rewards = path.parent / "rewards.csv"
        if name == "comparison" and path.is_file() and rewards.is_file():
            frame.attrs["rewards"] = read_table(rewards)
        _SECTIONS[name](page, frame, path.name)
    except InputError as exc:
        message = str(exc)
        for prefix in (f"{path.name}: ", f"{name} table: "):
            if message.startswith(prefix):
                message = message[len(prefix):]
        raise InputError(f"{path}: {message}") from None


def render_report(results: str | Path, progress: bool | None = False) -> str:
    """The report of a results folder or one result file as HTML text (see :func:`build_report`).

    ``progress``: one tick per table rendered on stderr (:func:`energysim.progress.progress_bar`;
    ``None``: a bar on a terminal, a line every 30 s elsewhere; ``False``, the default: nothing).
    """
    from energysim.progress import progress_bar

    results = Path(results)
    found = find_tables(results)
    page = _Page(sections=[])
    tables = {}
    with progress_bar(len(found), f"report {results.name}", progress, unit="table") as bar:
        for name in TABLES:
            if name in found:
                bar.set_postfix_str(found[name][0].name)
                _render_section(page, tables, name, *found[name])
                bar.update(1)
    notes = read_notes(results) if results.is_dir() else []
    _add_notes(page, notes)
    title = report_title(tables, results.resolve().name)
    nav = " ".join(f'<a href="#{anchor}">{html.escape(heading)}</a>' for anchor, heading, _ in page.sections)
    body = []
    for anchor, heading, parts in page.sections:
        body.append(f'<section id="{anchor}"><h2>{html.escape(heading)}</h2>{"".join(parts)}</section>')
    version = getattr(energysim, "__version__", "")
    used = ", ".join([path.name for path, _ in found.values()] + ([NOTES_NAME] if notes else []))
    meta = f"Rendered from {used} in {results} by energysim {version}. Energies are counts x per-action costs"
    meta = html.escape(meta + ("; every cost names its source in the energy table." if "energy" in found else ".")
                       + mac_unit_note(tables))
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head>\n<body>"
        f"<h1>{html.escape(title)}</h1><p class=\"meta\">{meta}</p><nav>{nav}</nav>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )


def build_report(results: Path, out_path: Path, progress: bool | None = False) -> Path:
    """Write one self-contained HTML report of a results folder or of one result file.

    Parameters
    ----------
    results
        A folder holding any of the :data:`TABLES` as ``NAME.csv``, ``NAME.json`` or
        ``NAME.md`` (what ``energysim run/estimate --out``, ``compare`` and ``demo``
        write), or one such file under any name (e.g. ``sensitivity --csv`` output).
    out_path
        The ``.html`` file to write (atomically; its folder is created).
    progress
        Progress on stderr, one tick per table (see :func:`render_report`).

    Returns
    -------
    pathlib.Path
        ``out_path``.

    Raises
    ------
    InputError
        If the folder holds none of the tables, a file cannot be read, a file
        lacks a column its section needs, or a file mixes runs it does not name
        (each message names the file).
    """
    text = render_report(results, progress)
    out_path = Path(out_path)
    write_text_atomic(out_path, text)
    return out_path


def report_tables(results: str | Path) -> dict[str, pd.DataFrame]:
    """The result tables of a results folder or file by name (``summary``, ``energy``, ...), as the report reads them."""
    return {name: frame for name, (_, frame) in find_tables(Path(results)).items()}
