"""Notes as data: compare writes notes.txt like run and estimate; summary.* carries each run's note."""

from __future__ import annotations

import io

import pandas as pd
import pytest

from energysim.cli import main
from energysim.report.files import read_notes, write_notes
from energysim.report.html import render_report

ASSUMED_2_4 = "ran 3 of 3 layers without weight masks: each is assumed pruned to exactly 2:4"
"""The start of the note on a 2:4 run of lenet-300-100-han2015 (no masks)."""

COMPARE = ["compare", "--patterns", "nm:2:4", "--sparsities", "0.5", "--criteria", "magnitude", "--finetune-epochs", "0",
           "--jobs", "1", "--quiet"]
"""The smallest digits sweep (one 2:4 point)."""


def _main(*argv: str) -> str:
    out, err = io.StringIO(), io.StringIO()
    assert main(list(argv), out=out, err=err) == 0, err.getvalue()
    return out.getvalue()


def test_compare_resumes_beside_its_notes_and_replaces_them(tmp_path):
    """A compare folder's own notes.txt does not stop the sweep resuming; a rerun with --force and no notes removes it."""
    folder = str(tmp_path / "c")
    _main(*COMPARE, "--hw", "a100:sparse_2_4", "--out", folder)
    first = (tmp_path / "c" / "notes.txt").read_text()
    assert "note: a100:sparse_2_4 is timed" in first
    printed = _main(*COMPARE, "--hw", "a100:sparse_2_4", "--out", folder)  # resumed: same notes, rewritten
    assert "Reused 2 of 2 results" in " ".join(printed.split())
    assert (tmp_path / "c" / "notes.txt").read_text() == first
    printed = _main(*COMPARE, "--hw", "lecture-array", "--out", folder, "--force")
    assert "note:" not in printed and not (tmp_path / "c" / "notes.txt").exists()
    assert "compare.csv and notes.txt" not in " ".join(printed.split())


def test_compare_refuses_a_folder_holding_only_another_runs_notes(tmp_path):
    """notes.txt without a sweep journal is another command's result: compare refuses the folder without --force."""
    write_notes(["note: from estimate"], tmp_path)
    out, err = io.StringIO(), io.StringIO()
    assert main([*COMPARE, "--hw", "lecture-array", "--out", str(tmp_path)], out=out, err=err) == 2
    assert "notes.txt" in err.getvalue() and "--force" in err.getvalue()


def test_compare_workload_writes_its_notes(tmp_path):
    """compare --workload writes the notes it printed (the A100 timing note) to notes.txt and names it; none, no file."""
    argv = ["compare", "--workload", "pruned/mlp-digits-fine-80", "--patterns", "fine", "--sparsities", "0.5",
            "--criteria", "magnitude", "--out", str(tmp_path / "c"), "--quiet"]
    printed = _main(*argv, "--hw", "a100:sparse_2_4")
    notes = read_notes(tmp_path / "c")
    assert len(notes) == 1 and notes[0].startswith("note: a100:sparse_2_4 is timed at the hardware bound")
    assert notes[0] in " ".join(printed.split()) and "compare.csv and notes.txt" in " ".join(printed.split())
    _main(*argv, "--hw", "lecture-array")
    assert not (tmp_path / "c" / "notes.txt").exists()


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory):
    """run --out of lenet-300-100-han2015 on a100:sparse_2_4 and lecture-array."""
    folder = tmp_path_factory.mktemp("run") / "run"
    _main("run", "a100:sparse_2_4,lecture-array", "lenet-300-100-han2015", "--out", str(folder), "--quiet")
    return folder


def test_run_summary_rows_carry_their_runs_note(run_folder):
    """run --out: every summary.csv row of the 2:4 run has its note (assumed 2:4, then timing, no 'note:'); others ''."""
    summary = pd.read_csv(run_folder / "summary.csv", keep_default_na=False)
    notes = dict(summary.groupby("run")["note"].unique().map(list))
    assert list(summary.columns).index("note") == len(summary.columns) - 1
    assert notes["lecture-array"] == [""] and len(notes["a100:sparse_2_4"]) == 1
    note = notes["a100:sparse_2_4"][0]
    assert note.startswith(f"a100:sparse_2_4 {ASSUMED_2_4}") and "is timed at the hardware bound" in note
    assert "note:" not in note and "real 2:4 model. a100:sparse_2_4 is timed" in note  # two notes, two sentences


def test_report_totals_per_run_show_the_note(run_folder):
    """The report's summary totals (one row per run) give the run's note from summary.csv below the table, named by run."""
    page = render_report(run_folder)
    section = page[page.index('<section id="summary">'):]
    totals = section[section.index("Totals per run"):section.index("Per layer")]
    table, after = totals[:totals.index("</table>")], totals[totals.index("</table>"):]
    assert ASSUMED_2_4 not in table and ">note<" not in table
    assert f'<p class="note">a100:sparse_2_4: a100:sparse_2_4 {ASSUMED_2_4}' in after


def test_estimate_summary_rows_carry_the_note_of_their_run(tmp_path):
    """estimate --out: summary.csv's pruned rows of a run hold the note of its TOTAL row in estimate.csv."""
    _main("estimate", "lenet-300-100-han2015", "--hw", "a100:sparse_2_4", "--out", str(tmp_path / "e"), "--quiet")
    summary = pd.read_csv(tmp_path / "e" / "summary.csv", keep_default_na=False)
    table = pd.read_csv(tmp_path / "e" / "estimate.csv", keep_default_na=False)
    total = table.loc[table["layer"] == "TOTAL", "note"].item()
    assert total.startswith(f"a100:sparse_2_4 {ASSUMED_2_4}")
    assert set(summary.loc[summary["variant"] == "pruned", "note"]) == {total}
    assert ASSUMED_2_4 not in " ".join(summary.loc[summary["variant"] == "dense", "note"])



def test_compare_workload_leaves_another_commands_folder_alone(tmp_path):
    """compare --workload into a run's folder is refused (its notes.txt and tables kept); --force replaces them."""
    folder = tmp_path / "shared"
    _main("run", "a100:sparse_2_4", "lenet-300-100", "--out", str(folder), "--quiet")
    before = (folder / "notes.txt").read_bytes()
    argv = ["compare", "--workload", "pruned/mlp-digits-fine-80", "--patterns", "fine", "--sparsities", "0.5",
            "--criteria", "magnitude", "--hw", "eie-64pe-lecture", "--out", str(folder), "--quiet"]
    out, err = io.StringIO(), io.StringIO()
    assert main(argv, out=out, err=err) == 2 and "already holds results" in err.getvalue()
    assert (folder / "notes.txt").read_bytes() == before and not (folder / "compare.csv").exists()
    _main(*argv, "--force")
    assert sorted(p.name for p in folder.iterdir()) == ["compare.csv"]  # the run's tables and notes removed
