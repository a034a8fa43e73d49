"""estimate --out keeps the notes it prints (notes.txt, a run's own in `note`) and the report of the folder shows them."""

from __future__ import annotations

import io
import shutil

import pandas as pd
import pytest

from energysim.cli import main
from energysim.errors import InputError
from energysim.output_folder import claim
from energysim.report.files import read_notes, write_notes
from energysim.report.html import render_report

ASSUMED_2_4 = "ran 3 of 3 layers without weight masks: each is assumed pruned to exactly 2:4"
"""The start of the note on a 2:4 run of lenet-300-100-han2015 (no masks), as printed and written."""


@pytest.fixture(scope="module")
def sparse_2_4_folder(tmp_path_factory):
    """An estimate folder of lenet-300-100-han2015 on a100:sparse_2_4 (notes: 2:4 assumed, timing, dense original)."""
    folder = tmp_path_factory.mktemp("est") / "est"
    out = io.StringIO()
    assert main(["estimate", "lenet-300-100-han2015", "--hw", "a100:sparse_2_4", "--out", str(folder), "--quiet"],
                out=out) == 0
    return folder, out.getvalue()


def test_estimate_out_writes_every_printed_note(sparse_2_4_folder):
    """notes.txt holds each note estimate printed (the 2:4 one among them), one paragraph each, in order."""
    folder, printed = sparse_2_4_folder
    written = read_notes(folder)
    assert any(f"note: a100:sparse_2_4 {ASSUMED_2_4}" in note for note in written)
    printed_notes = printed[printed.index("note:"):printed.index("\nwrote ")]
    assert " ".join(printed_notes.split()) == " ".join(" ".join(written).split())  # the same words, in order
    assert len(written) == printed.count("note:") == 3
    assert "notes.txt" in printed.splitlines()[-1]  # named among the files written


def test_the_run_total_row_carries_its_note(sparse_2_4_folder):
    """estimate.csv: the 2:4 run's TOTAL row has the assumed-2:4 and timing notes in `note`; layer rows none."""
    table = pd.read_csv(sparse_2_4_folder[0] / "estimate.csv", keep_default_na=False)
    total = table[table["layer"] == "TOTAL"]["note"].tolist()
    assert len(total) == 1 and total[0].startswith(f"a100:sparse_2_4 {ASSUMED_2_4}")
    assert "is timed at the hardware bound" in total[0] and "note:" not in total[0]
    assert (table[table["layer"] != "TOTAL"]["note"] == "").all()


def test_report_of_the_folder_shows_the_notes_in_the_estimate_section(sparse_2_4_folder):
    """The report's estimate section opens with a Notes block holding the 2:4 note (HTML-escaped)."""
    folder, _ = sparse_2_4_folder
    page = render_report(folder)
    section = page[page.index('<section id="estimate">'):]
    section = section[:section.index("</section>")]
    assert section.index('class="notes"') < section.index("<table")
    totals = section[section.index("Totals per hardware run"):section.index("Per layer")]
    assert ASSUMED_2_4 in totals  # the TOTAL row's note column
    assert f"a100:sparse_2_4 {ASSUMED_2_4}" in section
    assert "lenet-300-100-han2015&#x27;s activation densities" in section  # escaped, as every table text


def test_note_text_is_escaped_in_the_report(sparse_2_4_folder, tmp_path):
    """A note holding markup is shown as text, never as HTML."""
    folder = shutil.copytree(sparse_2_4_folder[0], tmp_path / "est")
    write_notes(["note: <script>alert(1)</script> & more"], folder)
    page = render_report(folder)
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in page and "<script>" not in page


def test_a_run_without_notes_writes_no_notes_file_and_replaces_the_old_one(sparse_2_4_folder, tmp_path):
    """A run that prints no note writes no notes.txt; with --force it removes the earlier run's, and the report has no block."""
    folder = shutil.copytree(sparse_2_4_folder[0], tmp_path / "est")
    out = io.StringIO()
    assert main(["estimate", "lenet-300-100-han2015", "--dense", "lenet-300-100", "--hw", "lecture-array",
                 "--out", str(folder), "--force", "--quiet"], out=out) == 0
    assert "note:" not in out.getvalue()
    assert not (folder / "notes.txt").exists() and "removed earlier results this command did not write: notes.txt" in out.getvalue()
    assert 'class="notes"' not in render_report(folder)
    assert (pd.read_csv(folder / "estimate.csv", keep_default_na=False)["note"] == "").all()


def test_a_folder_holding_notes_holds_results(tmp_path):
    """notes.txt alone makes a folder one of results: --out refuses it without --force."""
    write_notes(["note: a"], tmp_path)
    with pytest.raises(InputError, match="notes.txt"):
        claim(tmp_path, force=False)
    assert write_notes(["", " "], tmp_path / "none") is None  # nothing to write, no file


MANY_NOTES = ["estimate", "lenet-300-100-han2015", "--hw", "a100:sparse_2_4,eyeriss-like,lecture-array-loopnest,eie-64pe",
              "--compat", "timeloop", "--set", "clock_ghz=0.5", "--quiet"]
"""An estimate that prints six notes: dense original, assumed 2:4, A100 timing, MAC units, --compat, clock."""


def test_notes_file_does_not_depend_on_the_terminal_width(tmp_path, monkeypatch):
    """notes.txt is byte-identical at a terminal width of 40 and of 200 (six notes, one unwrapped paragraph each),
    while the printed notes are wrapped to each width."""
    written = {}
    for width in (40, 200):
        monkeypatch.setenv("COLUMNS", str(width))
        out = io.StringIO()
        assert main([*MANY_NOTES, "--out", str(tmp_path / str(width))], out=out) == 0
        written[width] = (tmp_path / str(width) / "notes.txt").read_bytes()
        printed = out.getvalue()
        block = printed[printed.index("note:"):printed.index("\nwrote ")].splitlines()
        assert max(len(line) for line in block if " " in line.strip()) <= width  # a word longer than the width stays whole
    assert written[40] == written[200]
    notes = read_notes(tmp_path / "40")
    assert len(notes) == 6 and all(note.startswith("note: ") and "\n" not in note for note in notes)
    assert written[40].decode() == "\n\n".join(notes) + "\n"


def test_read_notes_joins_hand_wrapped_lines(tmp_path):
    """Paragraphs of notes.txt are split on blank lines and their lines joined with one space."""
    (tmp_path / "notes.txt").write_text("note: one\n  two\n\n\nnote: three\n", encoding="utf-8")
    assert read_notes(tmp_path) == ["note: one two", "note: three"]
    assert read_notes(tmp_path / "missing") == []


def test_run_out_writes_its_notes_and_the_report_shows_them_first(tmp_path):
    """run --out writes the 2:4 note too; a report without an estimate section opens with a Notes section."""
    out = io.StringIO()
    assert main(["run", "a100:sparse_2_4", "lenet-300-100-han2015", "--out", str(tmp_path / "run"), "--quiet"],
                out=out) == 0
    assert any(f"note: a100:sparse_2_4 {ASSUMED_2_4}" in note for note in read_notes(tmp_path / "run"))
    out = io.StringIO()
    assert main(["report", str(tmp_path / "run"), "--quiet"], out=out) == 0
    assert out.getvalue().rstrip().endswith("from summary.csv, energy.csv, notes.txt")
    page = render_report(tmp_path / "run")
    first = page[page.index("<section"):]
    assert first.startswith('<section id="notes"><h2>Notes</h2><div class="notes"><p>') and ASSUMED_2_4 in first
