"""One self-contained HTML report of a results folder.

:func:`build_report` reads whichever of these files a results folder holds
(columns as in ``docs/reports.md``) and renders a section for each:

``estimate.csv`` (written by ``energysim estimate --out``)
    The dense original vs pruned table: its ``TOTAL`` rows per hardware, then every row.
``summary.csv``
    Totals per run (and savings vs the ``dense`` variant where a ``variant``
    column names one), the per-layer table and dense vs sparse latency bars.
``energy.csv``
    Energy per layer stacked by memory level, energy by level and by tensor,
    and the per-action costs with their sources.
``compare.csv``
    The accuracy vs energy Pareto plot and front table per hardware, accuracy
    vs sparsity, latency relative to dense, the sweep table, and the points that
    could not run with their reasons.
``sensitivity.csv``
    Per-layer sensitivity curves and an accuracy table (layer x sparsity).

The page has no scripts and no external references: plots are PNG data URIs,
styles are inline, so it opens offline in any browser. All text from the
tables is HTML-escaped. The file is written atomically.
"""

from __future__ import annotations

import base64
import html
import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

import energysim
from energysim.errors import InputError
from energysim.report import plots
from energysim.atomic_files import write_text_atomic
from energysim.units import PJ_PER_UJ

RESULT_FILES = ("estimate.csv", "summary.csv", "energy.csv", "compare.csv", "sensitivity.csv")
"""Files of a results folder that the report renders."""

MAX_TABLE_ROWS = 300
"""Most rows of one HTML table; longer tables are cut with a note pointing to the CSV."""

_TEXT_COLUMNS = ("source", "status", "description")

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2em auto;max-width:1200px;padding:0 1em;color:#222}
h1{font-size:1.6em;margin-bottom:.2em} h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:2em}
h3{margin-top:1.4em} nav a{margin-right:1em} .meta{color:#666;font-size:.9em}
table{border-collapse:collapse;margin:.6em 0 1.2em;font-size:.85em}
th,td{border:1px solid #ccc;padding:.25em .6em;white-space:nowrap} th{background:#f2f2f2;text-align:left}
td.text{white-space:normal;min-width:16em} .scroll{overflow-x:auto;max-width:100%}
td.num{text-align:right;font-variant-numeric:tabular-nums} tr:nth-child(even) td{background:#fafafa}
td.bad{color:#a00} img{max-width:100%;height:auto;border:1px solid #eee;margin:.4em 0}
figure{margin:1em 0} figcaption{color:#555;font-size:.9em} .note{color:#666;font-size:.85em}
"""


@dataclass
class _Page:
    """Sections of the report as they are built: (anchor id, heading, HTML parts)."""

    sections: list[tuple[str, str, list[str]]]


def _read_csv(path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path)
    except pd.errors.EmptyDataError:
        raise InputError(f"{path}: is empty (expected a CSV header and rows)") from None
    except (pd.errors.ParserError, UnicodeDecodeError, OSError) as exc:
        raise InputError(f"{path}: cannot be read as CSV ({str(exc).splitlines()[0]})") from None


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
    """
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
            cells.append(f"<td{attr}>{html.escape(_format(value))}</td>")
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


def _add_image(page: _Page, parts: list[str], figure, alt: str, caption: str) -> None:
    parts.append(_image(figure, alt, caption))


def _run_columns(frame: pd.DataFrame) -> list[str]:
    return [c for c in ("variant", "hardware", "engine") if c in frame.columns]


def _estimate_section(page: _Page, estimate: pd.DataFrame) -> None:
    plots.require_columns(estimate, ("hardware", "layer"), "estimate.csv")
    parts: list[str] = []
    totals = estimate[estimate["layer"].astype(str) == "TOTAL"]
    if len(totals):
        _add_table(page, parts, "Totals per hardware", totals, "estimate.csv")
        parts.append('<p class="note">Savings and speed-ups are dense / pruned on the same hardware (above 1 = the pruned '
                     "model is better).</p>")
    _add_table(page, parts, "Per layer", estimate[estimate["layer"].astype(str) != "TOTAL"], "estimate.csv")
    page.sections.append(("estimate", "Dense original vs pruned", parts))


def _summary_section(page: _Page, summary: pd.DataFrame) -> None:
    plots.require_columns(summary, ("layer", "latency_s", "energy_pj"), "summary.csv")
    parts: list[str] = []
    keys = _run_columns(summary)
    frame = summary.copy()
    frame["energy_uj"] = frame["energy_pj"] / PJ_PER_UJ
    aggregations = {"layers": ("layer", "count"), "energy_uj": ("energy_uj", "sum"), "latency_s": ("latency_s", "sum")}
    for column in ("macs", "cycles_total"):
        if column in frame.columns:
            aggregations[column] = (column, "sum")
    grouped = frame.groupby(keys, sort=False) if keys else frame.groupby(lambda _: "all")
    totals = grouped.agg(**aggregations).reset_index()
    if not keys:
        totals = totals.drop(columns=["index"])
    if "utilisation" in frame.columns and "cycles_total" in frame.columns:
        weighted = frame.assign(_w=frame["utilisation"] * frame["cycles_total"])
        sums = weighted.groupby(keys, sort=False)[["_w", "cycles_total"]].sum() if keys else weighted[["_w", "cycles_total"]].sum().to_frame().T
        totals["utilisation"] = (sums["_w"] / sums["cycles_total"]).to_numpy()
    totals["latency_us"] = totals.pop("latency_s") * 1e6
    if "variant" in keys and (totals["variant"].astype(str) == "dense").any():
        others = [k for k in keys if k != "variant"]
        dense = totals[totals["variant"].astype(str) == "dense"].set_index(others) if others else totals[totals["variant"].astype(str) == "dense"]
        energy_ref, latency_ref = [], []
        for _, row in totals.iterrows():
            match = dense.loc[tuple(row[k] for k in others)] if others else dense.iloc[0]
            if isinstance(match, pd.DataFrame):
                match = match.iloc[0]
            energy_ref.append(match["energy_uj"])
            latency_ref.append(match["latency_us"])
        totals["energy_saving_x"] = pd.Series(energy_ref, index=totals.index) / totals["energy_uj"]
        totals["speedup_x"] = pd.Series(latency_ref, index=totals.index) / totals["latency_us"]
    _add_table(page, parts, "Totals per run", totals, "summary.csv")
    if "energy_saving_x" in totals.columns:
        parts.append('<p class="note">energy_saving_x and speedup_x are the dense variant\'s energy and latency '
                     "divided by this row's, on the same hardware (above 1 = better than dense).</p>")
    _add_image(page, parts, plots.latency_figure(summary), "latency per layer",
               "Latency per inference per layer; bars per variant where the summary names dense and pruned runs.")
    shown = [c for c in ("variant", "hardware", "engine", "layer", "macs", "cycles_compute", "cycles_fill_drain", "cycles_stall",
                         "cycles_total", "latency_s", "utilisation", "energy_uj") if c in frame.columns]
    per_layer = frame[shown].copy()
    per_layer["latency_us"] = per_layer.pop("latency_s") * 1e6
    _add_table(page, parts, "Per layer", per_layer, "summary.csv")
    page.sections.append(("summary", "Energy and latency per layer", parts))


def _energy_section(page: _Page, energy: pd.DataFrame) -> None:
    plots.require_columns(energy, ("layer", "component", "energy_pj"), "energy.csv")
    parts: list[str] = []
    _add_image(page, parts, plots.energy_breakdown_figure(energy, "component"), "energy breakdown per layer and level",
               "Energy per inference per layer (uJ), stacked by memory level / arithmetic unit.")
    keys = _run_columns(energy)
    frame = energy.assign(energy_uj=energy["energy_pj"] / PJ_PER_UJ)
    for level in ("component", "tensor"):
        if level not in frame.columns:
            continue
        table = frame.groupby([*keys, level], sort=False)["energy_uj"].sum().reset_index()
        total = table.groupby(keys, sort=False)["energy_uj"].transform("sum") if keys else table["energy_uj"].sum()
        table["share_percent"] = 100 * table["energy_uj"] / total
        table = table.sort_values([*keys, "energy_uj"], ascending=[*([True] * len(keys)), False], kind="stable")
        _add_table(page, parts, f"Energy by {'memory level / unit' if level == 'component' else 'tensor'}", table, "energy.csv")
    cost_columns = [c for c in ("hardware", "component", "action", "pj_per_action", "source") if c in frame.columns]
    if {"action", "pj_per_action"} <= set(cost_columns):
        costs = frame[cost_columns].drop_duplicates().reset_index(drop=True)
        _add_table(page, parts, "Per-action costs and their sources", costs, "energy.csv")
    page.sections.append(("energy", "Energy breakdown", parts))


def _compare_section(page: _Page, compare: pd.DataFrame) -> None:
    plots.require_columns(compare, ("pattern", "hardware", "accuracy"), "compare.csv")
    if "energy_uj" not in compare.columns:
        plots.require_columns(compare, ("energy_pj",), "compare.csv")
    parts: list[str] = []
    frame = compare.copy()
    if "energy_uj" not in frame.columns:
        frame["energy_uj"] = frame["energy_pj"] / PJ_PER_UJ
    ok = frame[frame["status"].astype(str).str.strip().str.lower() == "ok"] if "status" in frame.columns else frame
    has_points = ok[["accuracy", "energy_uj"]].apply(pd.to_numeric, errors="coerce").notna().all(axis=1).any()
    for column, what in (("energy_ratio_vs_dense", "energy"), ("latency_ratio_vs_dense", "latency")):
        if column in ok.columns and pd.to_numeric(ok[column], errors="coerce").notna().any():
            best = (ok.assign(_ratio=pd.to_numeric(ok[column], errors="coerce"))
                    .pivot_table(index="pattern", columns="hardware", values="_ratio", aggfunc="min", sort=False)
                    .reindex(index=list(dict.fromkeys(frame["pattern"])), columns=list(dict.fromkeys(frame["hardware"]))))
            best.columns = [str(c) for c in best.columns]
            _add_table(page, parts, f"Best {what} ratio vs dense (pattern x hardware)", best.reset_index(), "compare.csv")
    if any(title in "".join(parts) for title in ("Best energy ratio", "Best latency ratio")):
        parts.append('<p class="note">The lowest pruned / dense ratio any runnable point of the pattern reached on that '
                     "hardware (below 1 = a saving); an empty cell means no point of the pattern ran there.</p>")
    if has_points:
        _add_image(page, parts, plots.pareto_figure(frame), "accuracy vs energy Pareto plot",
                   "Accuracy vs energy per inference, one panel per hardware config; the Pareto front (points no other "
                   "point beats on energy without losing accuracy, or on accuracy without costing energy) is ringed.")
        fronts = []
        for hardware, part in ok.groupby("hardware", sort=False):
            part = part.dropna(subset=["accuracy", "energy_uj"])
            if len(part):
                fronts.append(part[plots.pareto_mask(part["energy_uj"], part["accuracy"])].sort_values("energy_uj"))
        if fronts:
            front_columns = [c for c in ("hardware", "engine", "pattern", "criterion", "sparsity_target", "sparsity_measured",
                                         "accuracy", "energy_uj", "energy_ratio_vs_dense", "latency_s", "latency_ratio_vs_dense")
                             if c in frame.columns]
            _add_table(page, parts, "Pareto front per hardware", pd.concat(fronts)[front_columns], "compare.csv")
    if any(c in frame.columns for c in ("sparsity_measured", "sparsity_target")) and has_points:
        _add_image(page, parts, plots.accuracy_vs_sparsity_figure(frame), "accuracy vs sparsity",
                   "Accuracy vs measured weight sparsity, one line per pattern.")
    if "latency_ratio_vs_dense" in frame.columns and pd.to_numeric(ok["latency_ratio_vs_dense"], errors="coerce").notna().any():
        _add_image(page, parts, plots.latency_ratio_figure(frame), "sparse vs dense latency",
                   "Latency relative to the dense model on the same hardware (below 1 = faster).")
    if "status" in frame.columns:
        failed = frame[frame["status"].astype(str).str.strip().str.lower() != "ok"]
        if len(failed):
            columns = [c for c in ("model", "pattern", "criterion", "sparsity_target", "hardware", "engine", "status") if c in frame.columns]
            _add_table(page, parts, "Points that could not run", failed[columns], "compare.csv", bad_column="status")
    _add_table(page, parts, "All sweep points", frame, "compare.csv", bad_column="status" if "status" in frame.columns else None)
    page.sections.append(("compare", "Sparsity patterns compared", parts))


def _sensitivity_section(page: _Page, sensitivity: pd.DataFrame) -> None:
    plots.require_columns(sensitivity, ("layer", "sparsity", "accuracy"), "sensitivity.csv")
    parts: list[str] = []
    _add_image(page, parts, plots.sensitivity_figure(sensitivity), "per-layer sensitivity",
               "Accuracy when only one layer is pruned, one line per layer.")
    index = [c for c in ("model", "layer") if c in sensitivity.columns]
    table = sensitivity.pivot_table(index=index, columns="sparsity", values="accuracy", aggfunc="mean", sort=False)
    table.columns = [f"accuracy at {100 * float(c):g}%" for c in table.columns]
    _add_table(page, parts, "Accuracy by layer and sparsity", table.reset_index(), "sensitivity.csv")
    page.sections.append(("sensitivity", "Per-layer sensitivity", parts))


_SECTIONS = {"estimate.csv": _estimate_section, "summary.csv": _summary_section, "energy.csv": _energy_section,
             "compare.csv": _compare_section, "sensitivity.csv": _sensitivity_section}


def render_report(results_dir: str | Path) -> str:
    """The report of a results folder as HTML text (see :func:`build_report`)."""
    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        raise InputError(f"results folder {str(results_dir)!r} does not exist or is not a folder")
    found = [name for name in RESULT_FILES if (results_dir / name).is_file()]
    if not found:
        raise InputError(f"results folder {str(results_dir)!r} holds none of {', '.join(RESULT_FILES)}")
    page = _Page(sections=[])
    for name in found:
        frame = _read_csv(results_dir / name)
        if frame.empty:
            page.sections.append((name.removesuffix(".csv"), name, [f'<p class="note">{html.escape(name)} has no rows.</p>']))
            continue
        try:
            _SECTIONS[name](page, frame)
        except InputError as exc:
            message = str(exc)
            for prefix in (f"{name}: ", f"{name.replace('.csv', '')} table: "):
                if message.startswith(prefix):
                    message = message[len(prefix):]
            raise InputError(f"{results_dir / name}: {message}") from None
    title = f"energysim report: {results_dir.resolve().name}"
    nav = " ".join(f'<a href="#{anchor}">{html.escape(heading)}</a>' for anchor, heading, _ in page.sections)
    body = []
    for anchor, heading, parts in page.sections:
        body.append(f'<section id="{anchor}"><h2>{html.escape(heading)}</h2>{"".join(parts)}</section>')
    version = getattr(energysim, "__version__", "")
    meta = f"Rendered from {', '.join(found)} in {results_dir} by energysim {version}. Energies are counts x per-action costs"
    meta = html.escape(meta + ("; every cost names its source in energy.csv." if "energy.csv" in found else "."))
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head>\n<body>"
        f"<h1>{html.escape(title)}</h1><p class=\"meta\">{meta}</p><nav>{nav}</nav>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )


def build_report(results_dir: Path, out_path: Path) -> Path:
    """Write one self-contained HTML report of a results folder.

    Parameters
    ----------
    results_dir
        Folder holding any of ``estimate.csv``, ``summary.csv``, ``energy.csv``,
        ``compare.csv``, ``sensitivity.csv``.
    out_path
        The ``.html`` file to write (atomically; its folder is created).

    Returns
    -------
    pathlib.Path
        ``out_path``.

    Raises
    ------
    InputError
        If the folder holds none of the files, a file is not CSV, or a file
        lacks a column its section needs (naming the file and the column).
    """
    text = render_report(results_dir)
    out_path = Path(out_path)
    write_text_atomic(out_path, text)
    return out_path
