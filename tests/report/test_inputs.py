"""`energysim report` reads everything energysim writes: run/estimate folders in csv, json and md, compare folders, single files."""

from __future__ import annotations

import argparse
import io
import re

import numpy as np
import pandas as pd
import pytest
from report_fixtures import write_results

from energysim.cli import main
from energysim.errors import InputError
from energysim.report.html import read_table, render_report
from energysim.report.report_commands import register


def _sections(text: str) -> list[str]:
    return re.findall(r'<section id="([^"]+)"', text)


def _title(text: str) -> str:
    return re.search(r"<title>([^<]*)</title>", text).group(1)


@pytest.mark.parametrize("fmt", ["csv", "json", "md"])
def test_run_output_in_every_format_renders(tmp_path, fmt):
    """`run --format csv|json|md --out` gives a report with the summary and energy sections, titled by workload and hardware."""
    folder = tmp_path / fmt
    assert main(["run", "lecture-array", "lenet-300-100", "--out", str(folder), "--format", fmt],
                out=io.StringIO(), err=io.StringIO()) == 0
    text = render_report(folder)
    assert _sections(text) == ["summary", "energy"]
    assert _title(text) == "energysim report: lenet-300-100 on lecture-array"
    assert "<td>fc1</td>" in text and "<td>fc3</td>" in text


def test_markdown_numbers_read_back_as_numbers(tmp_path):
    """A Markdown table as energysim writes it reads back with thousands separators removed, '' as NaN and escaped pipes kept."""
    path = tmp_path / "summary.md"
    path.write_text("| layer | macs | note |\n|---|---:|---|\n| fc1 | 1,234,567 | a \\| b |\n| fc2 | 0.0042 |  |\n")
    frame = read_table(path)
    assert frame["macs"].tolist() == [1234567.0, 0.0042]
    assert frame["note"].iloc[0] == "a | b" and pd.isna(frame["note"].iloc[1])


def test_estimate_output_renders(tmp_path):
    """`estimate --out` gives estimate, summary and energy sections, and the title names the workload and hardware run."""
    folder = tmp_path / "est"
    assert main(["estimate", "lenet-300-100", "--hw", "lecture-array", "--out", str(folder)],
                out=io.StringIO(), err=io.StringIO()) == 0
    text = render_report(folder)
    assert _sections(text) == ["estimate", "summary", "energy"]
    assert _title(text).startswith("energysim report: lenet-300-100 on lecture-array")


def test_sensitivity_csv_under_any_name_renders(tmp_path):
    """A `sensitivity --csv` file (layer, target_sparsity, measured_sparsity, accuracy, accuracy_dense) under any name is a report."""
    path = tmp_path / "scan-mlp.csv"
    rows = [{"layer": layer, "target_sparsity": s, "measured_sparsity": s, "accuracy": 0.97 - s / 10, "accuracy_dense": 0.97}
            for layer in ("fc1", "fc2") for s in (0.5, 0.9)]
    pd.DataFrame(rows).to_csv(path, index=False)
    text = render_report(path)
    assert _sections(text) == ["sensitivity"]
    assert "<th>accuracy at 90%</th>" in text


def test_report_command_on_a_file_writes_next_to_it(tmp_path):
    """`energysim report FILE` writes FILE-report.html next to the file."""
    folder = write_results(tmp_path / "r", files=("sensitivity.csv",))
    path = folder / "sensitivity.csv"
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["report", str(path)])
    assert args.handler(args, io.StringIO()) == 0
    assert (folder / "sensitivity-report.html").is_file()


def test_unrecognised_file_is_refused(tmp_path):
    """A CSV that is no energysim table is refused in one sentence naming the file."""
    path = tmp_path / "other.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(InputError, match=r"other\.csv: is not a result table energysim writes"):
        render_report(path)


def test_compare_folder_title_names_model_and_runs(tmp_path):
    """A compare folder's report is titled by its model and hardware runs."""
    folder = write_results(tmp_path / "cmp", files=("compare.csv",))
    assert _title(render_report(folder)) == "energysim report: mlp on lecture-array, eie-lecture, a100:sparse_2_4"


def test_prune_table_csv_renders(tmp_path):
    """A `prune-table --csv` file (model, granularity, criterion, target_sparsity, accuracies, note) renders with its plot; n/a rows stay in the table."""
    rows = []
    for granularity, criterion, note in (("fine", "magnitude", ""), ("nm", "magnitude", ""), ("kernel", "magnitude", "n/a: no conv")):
        for sparsity in (0.5, 0.9):
            accuracy = np.nan if note else 0.98 - sparsity / 10
            rows.append({"model": "mlp", "granularity": granularity, "criterion": criterion, "target_sparsity": sparsity,
                         "pattern": "", "measured_sparsity": np.nan if note else sparsity, "accuracy_dense": 0.98,
                         "accuracy_pruned": accuracy, "accuracy_finetuned": accuracy, "note": note})
    path = tmp_path / "accuracy-table.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    text = render_report(path)
    assert _sections(text) == ["accuracy"] and text.count("<img ") == 1
    assert "n/a: no conv" in text
    from energysim.report import plots

    axis = [a for a in plots.accuracy_table_figure(pd.DataFrame(rows)).axes if a.get_visible()][0]
    colours = {line.get_label(): line.get_color() for line in axis.get_lines()}
    assert colours["nm / magnitude"] == plots.PATTERN_COLOURS["nm:2:4"] and "kernel / magnitude" not in colours


@pytest.mark.parametrize(("name", "text", "message"), [
    ("summary.csv", "layer,latency_s,energy_pj\nfc1,abc,1\n", r"summary\.csv: column 'latency_s' must hold finite numbers \(row 1 of the data holds 'abc'\)"),
    ("summary.csv", "layer,latency_s,energy_pj\nfc1,1e-6,1\nfc2,inf,1\n", r"column 'latency_s' must hold finite numbers \(row 2 of the data holds inf\)"),
    ("energy.csv", "layer,component,energy_pj\nfc1,DRAM,x\n", r"energy\.csv: column 'energy_pj' must hold finite numbers"),
    ("sensitivity.csv", "layer,sparsity,accuracy\nfc1,x,0.5\n", r"sensitivity\.csv: column 'sparsity' must hold finite numbers"),
    ("summary.json", '{"layer": "fc1"}', r"summary\.json: must hold a JSON list of records"),
    ("summary.json", "[{", r"summary\.json: is not valid JSON"),
])
def test_bad_cells_are_one_sentence_errors(tmp_path, name, text, message):
    """Text in a number column, an infinity, a JSON object instead of records and broken JSON each give one InputError naming the file."""
    (tmp_path / name).write_text(text)
    with pytest.raises(InputError, match=message):
        render_report(tmp_path)


def test_numbers_written_as_json_strings_are_read_as_numbers(tmp_path):
    """JSON records whose numbers are strings ("1e-6") render like numbers."""
    (tmp_path / "summary.json").write_text('[{"layer": "fc1", "latency_s": "1e-6", "energy_pj": "5e6"}]')
    assert "<td>fc1</td>" in render_report(tmp_path)


def test_a_missing_results_path_is_named_as_file_or_folder(tmp_path):
    """`report scan.csv` on a missing path says 'no such file or folder' (a file is a valid input), exit 2."""
    out, err = io.StringIO(), io.StringIO()
    assert main(["report", str(tmp_path / "scan.csv")], out=out, err=err) == 2
    assert err.getvalue() == (f"energysim: results '{tmp_path / 'scan.csv'}': no such file or folder (give a folder "
                              "energysim wrote or one of its result tables)\n")
