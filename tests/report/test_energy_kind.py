"""Static vs dynamic energy: labelled from the action in the energy table, shown as such in the report's tables and plots."""

from __future__ import annotations

import io
import re

from report_fixtures import two_mode_frames, write_two_modes

from energysim import catalog
from energysim.cli import main
from energysim.engines import build_engine
from energysim.hardware.hierarchy import load_hardware
from energysim.report import plots
from energysim.report.html import render_report
from energysim.report.tables import ENERGY_COLUMNS, energy_kind, energy_table
from energysim.workloads.layers import GemmLayer


def test_a100_static_cycle_is_labelled_static():
    """On the A100, SM.static_cycle rows are 'static' and every other row 'dynamic'; the static part is most of a small GEMM's energy."""
    hardware = load_hardware(catalog.hwconfig_path("a100"))
    result = build_engine(hardware).simulate(GemmLayer(name="g", m=256, n=256, k=256))
    table = energy_table(result, hardware, workload="g-only", mode="dense")
    assert list(table.columns) == list(ENERGY_COLUMNS)
    static = table[table["energy_kind"] == "static"]
    assert set(zip(static["component"], static["action"])) == {("SM", "static_cycle")}
    assert set(table.loc[table["energy_kind"] != "static", "energy_kind"]) == {"dynamic"}
    assert static["energy_pj"].sum() > 0.5 * table["energy_pj"].sum()
    assert set(table["run"]) == {"a100:dense"} and set(table["workload"]) == {"g-only"}


def test_energy_kind_follows_the_action_name():
    """Actions named static* or leak* are static whatever the component; reads, writes and MACs are dynamic."""
    assert [energy_kind(a) for a in ("static_cycle", "leakage", "Leak_cycle", "read", "write", "mac")] == [
        "static", "static", "static", "dynamic", "dynamic", "dynamic"]


def test_report_tables_split_static_and_dynamic(tmp_path):
    """The report's static/dynamic table gives each run 80 % static energy; the level table labels SM's row static."""
    text = render_report(write_two_modes(tmp_path / "est"))
    body = text.split("<h3>Static and dynamic energy per run</h3>", 1)[1].split("</table>", 1)[0]
    header = re.findall(r"<th>([^<]*)</th>", body)
    rows = [dict(zip(header, re.findall(r"<td[^>]*>([^<]*)</td>", row))) for row in body.split("<tr>")[2:]]
    assert len(rows) == 4 and {r["static_share_percent"] for r in rows} == {"80"}
    levels = text.split("<h3>Energy by memory level / unit</h3>", 1)[1].split("</table>", 1)[0]
    assert re.search(r"<td>SM</td><td>static</td>", levels) and re.search(r"<td>HBM</td><td>dynamic</td>", levels)


def test_breakdown_plot_names_and_hatches_static_energy():
    """The breakdown legend names 'SM (static)' (hatched) next to 'HBM'; the title says static and dynamic."""
    _, energy = two_mode_frames()
    figure = plots.energy_breakdown_figure(energy)
    legend = figure.legends[0]
    assert [t.get_text() for t in legend.get_texts()] == ["SM (static)", "HBM"]
    assert legend.legend_handles[0].get_hatch() == "//" and not legend.legend_handles[1].get_hatch()
    assert "static and dynamic" in figure.get_suptitle()


def test_old_energy_file_gets_kinds_from_actions():
    """An energy table without energy_kind (an older file) is labelled from its action names."""
    _, energy = two_mode_frames()
    labelled = plots.with_energy_kind(energy.drop(columns=["energy_kind"]))
    assert (labelled["energy_kind"] == energy["energy_kind"]).all()


def test_run_output_on_a100_reports_static_energy(tmp_path):
    """`energysim run a100 lenet-300-100 --out` then the report: energy.csv has energy_kind and the report a static share above 0."""
    folder = tmp_path / "run"
    assert main(["run", "a100", "lenet-300-100", "--out", str(folder)], out=io.StringIO(), err=io.StringIO()) == 0
    header = (folder / "energy.csv").read_text().splitlines()[0].split(",")
    assert "energy_kind" in header
    body = render_report(folder).split("<h3>Static and dynamic energy per run</h3>", 1)[1].split("</table>", 1)[0]
    share = re.findall(r"<td[^>]*>([^<]*)</td>", body)[-1]
    assert float(share) > 50
