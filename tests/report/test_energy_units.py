"""Energies in MAC-equivalents (``energy_unit = "MAC"``) are labelled as such in every file, table and plot."""

from __future__ import annotations

import io
import math
import re

import pandas as pd
import pytest

from energysim import api
from energysim.cli import main
from energysim.estimation import estimate, load_hardware_list
from energysim.report.html import render_report
from energysim.report.plots import energy_axis_label
from energysim.report.tables import energy_units
from energysim.report.terminal import Column, in_energy_units, render_table

MIXED = "eyeriss-like,lecture-array"
"""One hardware in MAC units, one in pJ."""


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def mixed_run(tmp_path_factory):
    """`run eyeriss-like,lecture-array lenet-300-100 --out DIR`: the folder."""
    folder = tmp_path_factory.mktemp("mixed") / "run"
    code, _, err = run("run", MIXED, "lenet-300-100", "--out", str(folder), "--quiet")
    assert code == 0, err
    return folder


def test_run_files_name_the_unit_of_every_row(mixed_run):
    """summary.csv and energy.csv say energy_unit MAC on the Eyeriss rows, pJ on the others, and add up per run."""
    summary, energy = pd.read_csv(mixed_run / "summary.csv"), pd.read_csv(mixed_run / "energy.csv")
    for frame in (summary, energy):
        assert dict(frame.groupby("run")["energy_unit"].unique().map(list)) == {"eyeriss-like": ["MAC"],
                                                                                "lecture-array": ["pJ"]}
    parts = energy.groupby(["run", "energy_unit"])["energy_pj"].sum()
    totals = summary.groupby(["run", "energy_unit"])["energy_pj"].sum()
    assert list(parts.index) == list(totals.index)
    assert all(math.isclose(parts[k], totals[k], rel_tol=1e-9) for k in parts.index)


def test_report_of_mixed_units_names_them_and_keeps_them_apart(mixed_run):
    """The HTML report says which runs are in MAC-equivalents and keeps energy_unit in its per-run totals."""
    page = render_report(mixed_run)
    assert "Rows with energy_unit MAC (eyeriss-like)" in page and "not joules" in page
    table = page.split("Totals per run")[1].split("</table>")[0]
    header = re.findall(r"<th>(.*?)</th>", table)
    rows = [re.findall(r"<td[^>]*>(.*?)</td>", row) for row in table.split("<tr>")[2:]]
    units = {row[header.index("run")]: row[header.index("energy_unit")] for row in rows}
    assert units == {"eyeriss-like": "MAC", "lecture-array": "pJ"}


def test_report_of_picojoule_runs_has_no_mac_note(tmp_path):
    """A report of hardware in pJ only carries no MAC-unit sentence."""
    assert run("run", "lecture-array", "lenet-300-100", "--out", str(tmp_path / "r"), "--quiet")[0] == 0
    assert "energy_unit MAC" not in render_report(tmp_path / "r")


def test_html_tables_of_picojoule_rows_leave_out_energy_unit():
    """An HTML table whose rows are all pJ drops energy_unit (beside energy_uj 1.508 it read '1.508 pJ'); mixed keeps it."""
    from energysim.report.html import html_table

    pj = pd.DataFrame({"run": ["a", "b"], "energy_uj": [1.508, 2.0], "energy_unit": ["pJ", "pJ"]})
    assert "energy_unit" not in html_table(pj) and "energy_uj" in html_table(pj)
    mixed = pj.assign(energy_unit=["pJ", "MAC"])
    assert "<th>energy_unit</th>" in html_table(mixed)


def test_energy_axis_names_mac_equivalents():
    """A panel of MAC-unit rows is labelled in millions of MAC-equivalents, a pJ (or unlabelled) panel in uJ."""
    assert energy_axis_label(pd.DataFrame({"energy_unit": ["MAC"]})) == "energy per inference [million MAC-equivalents]"
    assert energy_axis_label(pd.DataFrame({"energy_unit": ["pJ"]})) == "energy per inference [uJ]"
    assert energy_axis_label(pd.DataFrame({"energy_pj": [1.0]})) == "energy per inference [uJ]"
    assert energy_units(pd.DataFrame({"energy_unit": ["MAC", "pJ", "MAC"]})) == ["MAC", "pJ"]


def test_terminal_cells_carry_their_own_unit_in_a_mixed_table():
    """A table holding pJ and MAC rows shows each energy with its unit; an all-MAC one heads them (MAC-eq)."""
    frame = pd.DataFrame({"run": ["a", "b"], "energy_pj": [2.5e7, 2.5e7], "energy_uj": [25.0, 25.0],
                          "pj_per_mac": [3.0, 4.0], "energy_unit": ["MAC", "pJ"]})
    columns = (Column("run"), Column("energy_pj", "energy_pj", "energy"), Column("energy_uj", "energy_uj", "energy micro"),
               Column("pj_per_mac", "number", "pJ per MAC"))
    text = render_table(*in_energy_units(frame, columns), wide=True)
    mac_row, pj_row = text.splitlines()[2:4]
    assert mac_row.split()[1:] == ["25.0", "M", "MAC-eq", "25.0", "M", "MAC-eq", "3", "MAC-eq"]
    assert pj_row.split()[1:] == ["25.0", "uJ", "25.0", "uJ", "4", "pJ"]
    assert "pJ per MAC" not in text
    only_mac = render_table(*in_energy_units(frame.iloc[:1], columns), wide=True)
    assert "energy (MAC-eq)" in only_mac and "J" not in only_mac.replace("MAC-eq", "")
    assert in_energy_units(frame.iloc[1:], columns)[1] == columns


def test_costs_per_layer_never_prints_joules_for_mac_hardware():
    """`costs --workload --hw eyeriss-like,lecture-array` shows MAC-eq on Eyeriss rows (it printed '49.2 uJ', 'pJ per MAC')."""
    code, out, err = run("costs", "--workload", "lenet-300-100", "--hw", MIXED, "--wide")
    assert code == 0, err
    rows = [line for line in out.splitlines() if line.startswith("lenet-300-100 ")]
    eyeriss = [r for r in rows if " eyeriss-like " in r]
    lecture = [r for r in rows if " lecture-array " in r]
    assert len(eyeriss) == len(lecture) == 3
    assert all("MAC-eq" in r and "J " not in r and " pJ" not in r for r in eyeriss)
    assert all("MAC-eq" not in r and re.search(r" [unm]J ", r) and " pJ" in r for r in lecture)
    code, out, _ = run("costs", "--workload", "lenet-300-100", "--hw", MIXED, "--format", "csv")
    frame = pd.read_csv(io.StringIO(out))
    assert dict(zip(frame["run"], frame["energy_unit"])) == {"eyeriss-like": "MAC", "lecture-array": "pJ"}


def test_estimate_tables_carry_the_unit():
    """Every table of an estimate on MAC and pJ hardware names each row's energy_unit (TOTAL rows too)."""
    result = estimate(api.workload("lenet-300-100-han2015"), load_hardware_list(MIXED.split(",")), progress=False)
    for name in ("layers", "breakdown", "summary", "energy"):
        frame = getattr(result, name)
        assert dict(frame.groupby("run")["energy_unit"].unique().map(list)) == {"eyeriss-like": ["MAC"],
                                                                                "lecture-array": ["pJ"]}, name
    components = result.components
    assert set(zip(components["run"], components["energy_unit"])) == {("eyeriss-like", "MAC"), ("lecture-array", "pJ")}


def test_compare_workload_csv_and_note_name_the_unit(tmp_path):
    """`compare --workload` on MAC and pJ hardware writes energy_unit per row and prints the MAC-unit note."""
    code, out, err = run("compare", "--workload", "pruned/mlp-digits-fine-80", "--hw", MIXED, "--patterns", "fine",
                         "--sparsities", "0.5", "--criteria", "magnitude", "--out", str(tmp_path / "c"), "--wide",
                         "--quiet")
    assert code == 0, err
    frame = pd.read_csv(tmp_path / "c" / "compare.csv")
    assert dict(zip(frame["run"], frame["energy_unit"])) == {"eyeriss-like": "MAC", "lecture-array": "pJ"}
    assert "note: eyeriss-like prices every action in units of one MAC" in out
    eyeriss_rows = [line for line in out.splitlines() if " eyeriss-like " in line and " ok " in line]
    assert eyeriss_rows and all("MAC-eq" in line and "uJ" not in line for line in eyeriss_rows)


def test_api_hardware_costs_name_their_unit():
    """api.hardware_costs says energy_unit MAC for a design normalised to one MAC, pJ otherwise."""
    assert set(api.hardware_costs("eyeriss-like")["energy_unit"]) == {"MAC"}
    assert set(api.hardware_costs("lecture-array")["energy_unit"]) == {"pJ"}


def test_estimate_density_keeps_mac_equivalents():
    """estimate --density on MAC-unit hardware heads its energies (MAC-eq), never uJ (F5b: '61.3 uJ' for 61.3 M)."""
    code, out, err = run("estimate", "lenet-300-100", "--hw", "eyeriss-v2-like-skipping", "--density", "0.5", "--quiet")
    assert code == 0, err
    table = out.split("note:")[0]
    assert "energy dense (MAC-eq)" in table and "uJ" not in table and "nJ" not in table


def test_mac_unit_note_fits_the_terminal_and_agrees_in_number(monkeypatch):
    """The MAC-unit note is wrapped to the terminal width (it was one 330-character line) and says 'their' for several."""
    monkeypatch.setenv("COLUMNS", "100")
    code, out, err = run("costs", "--workload", "lenet-300-100", "--hw", "eyeriss-like,eyeriss-like-gating")
    assert code == 0, err
    note = out[out.index("note: eyeriss-like, eyeriss-like-gating price every action"):]
    assert all(len(line) <= 100 for line in note.splitlines())
    assert "their energies are MAC-equivalents" in " ".join(note.split())
