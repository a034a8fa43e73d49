"""The run key: two modes of one hardware are two runs in every table and plot, and a file that cannot tell runs apart is refused."""

from __future__ import annotations

import re

import pytest
from report_fixtures import A100_LAYERS, two_mode_frames, write_two_modes

from energysim.errors import InputError
from energysim.report import plots
from energysim.report.html import render_report
from energysim.report.runs import with_run_key


def _table(text: str, title: str) -> list[dict[str, str]]:
    body = text.split(f"<h3>{title}</h3>", 1)[1].split("</table>", 1)[0]
    header = re.findall(r"<th>([^<]*)</th>", body)
    return [dict(zip(header, re.findall(r"<td[^>]*>([^<]*)</td>", row))) for row in body.split("<tr>")[2:]]


def test_two_modes_are_two_runs_of_eight_layers(tmp_path):
    """a100:dense and a100:sparse_2_4 (both hardware a100) give four totals rows of 8 layers; 2:4 pruned is 0.6 of dense, dense mode 1."""
    rows = _table(render_report(write_two_modes(tmp_path / "est")), "Totals per run")
    assert [(r["run"], r["variant"], r["layers"]) for r in rows] == [
        ("a100:dense", "dense", "8"), ("a100:dense", "pruned", "8"),
        ("a100:sparse_2_4", "dense", "8"), ("a100:sparse_2_4", "pruned", "8")]
    assert [r["energy_uj"] for r in rows] == ["80", "80", "80", "48"]
    assert [r["energy_vs_dense"] for r in rows] == ["1", "1", "1", "0.6"]


def test_breakdown_bars_are_not_doubled():
    """The energy breakdown has one panel per (run, variant); fc6's bar in a100:dense is 10 uJ, not the 20 uJ of two runs added."""
    _, energy = two_mode_frames()
    figure = plots.energy_breakdown_figure(energy)
    axes = [axis for axis in figure.axes if axis.get_visible()]
    assert [axis.get_title() for axis in axes] == [
        "a100:dense (sparse_tc), dense model", "a100:dense (sparse_tc), pruned model",
        "a100:sparse_2_4 (sparse_tc), dense model", "a100:sparse_2_4 (sparse_tc), pruned model"]
    fc6 = A100_LAYERS.index("fc6")
    heights = [patch.get_height() for patch in axes[0].patches]  # HBM bars, then SM static bars, per layer
    assert heights[fc6] + heights[len(A100_LAYERS) + fc6] == pytest.approx(10.0)


def test_latency_panels_per_run():
    """The latency plot has a panel per run with dense and pruned bars of its 8 layers."""
    summary, _ = two_mode_frames()
    axes = [axis for axis in plots.latency_figure(summary).axes if axis.get_visible()]
    assert [axis.get_title() for axis in axes] == ["a100:dense (sparse_tc)", "a100:sparse_2_4 (sparse_tc)"]
    assert [len(axis.patches) for axis in axes] == [16, 16]


def test_file_without_run_key_mixing_modes_is_refused(tmp_path):
    """A summary where two modes both read hardware a100 with no mode/run columns is refused, naming the file and the clash."""
    summary, _ = two_mode_frames()
    folder = tmp_path / "old"
    folder.mkdir()
    summary.drop(columns=["mode", "run"]).to_csv(folder / "summary.csv", index=False)
    with pytest.raises(InputError, match=r"summary\.csv: two rows have the same workload 'alexnet', run 'a100', "
                                         r"variant 'dense', layer 'conv1', so they belong to two runs"):
        render_report(folder)


def test_run_derived_from_hardware_and_mode():
    """Without a run column, run is hardware:mode (hardware alone for mode ''), and an already NAME:MODE hardware is kept."""
    summary, _ = two_mode_frames()
    keyed = with_run_key(summary.drop(columns=["run"]), "summary.csv")
    assert list(dict.fromkeys(keyed["run"])) == ["a100:dense", "a100:sparse_2_4"]
    old = summary.drop(columns=["run"]).assign(hardware="a100:sparse_2_4", mode="sparse_2_4").head(1)
    assert with_run_key(old, "compare.csv")["run"].tolist() == ["a100:sparse_2_4"]


def test_energy_totals_are_checked_per_run():
    """Two runs whose per-layer errors cancel when added (+1 pJ in one, -1 pJ in the other) still break the totals check."""
    from energysim.errors import InvariantError
    from energysim.report.tables import check_energy_totals

    summary, energy = two_mode_frames()
    summary = summary[summary["variant"] == "dense"].drop(columns=["variant"])
    energy = energy[energy["variant"] == "dense"].drop(columns=["variant"])
    check_energy_totals(energy, summary)
    first = summary.index[(summary["run"] == "a100:dense") & (summary["layer"] == "conv1")][0]
    second = summary.index[(summary["run"] == "a100:sparse_2_4") & (summary["layer"] == "conv1")][0]
    summary.loc[first, "energy_pj"] += 1.0
    summary.loc[second, "energy_pj"] -= 1.0
    with pytest.raises(InvariantError, match=r"layer 'conv1' of run alexnet, a100:dense: energy total"):
        check_energy_totals(energy, summary)


@pytest.mark.parametrize(("column", "value", "rule"), [("count", -1, "a priced count is negative"),
                                                       ("energy_pj", float("nan"), "a priced energy is negative or NaN")])
def test_energy_rows_break_the_check_naming_their_layer(column, value, rule):
    """A negative count or a NaN energy in one row breaks the totals check, naming that row's layer and run."""
    from energysim.errors import InvariantError
    from energysim.report.tables import check_energy_totals

    summary, energy = two_mode_frames()
    summary = summary[summary["variant"] == "dense"].drop(columns=["variant"])
    energy = energy[energy["variant"] == "dense"].drop(columns=["variant"])
    row = energy.index[(energy["run"] == "a100:sparse_2_4") & (energy["layer"] == "conv1")][0]
    energy.loc[row, column] = value
    if column == "count":
        energy.loc[row, "energy_pj"] = 0.0
        summary.loc[(summary["run"] == "a100:sparse_2_4") & (summary["layer"] == "conv1"), "energy_pj"] = \
            energy.loc[(energy["run"] == "a100:sparse_2_4") & (energy["layer"] == "conv1"), "energy_pj"].sum()
        with pytest.raises(InvariantError, match=rf"layer 'conv1' of run alexnet, a100:sparse_2_4: {rule}"):
            check_energy_totals(energy, summary)
    else:
        with pytest.raises(InvariantError, match=r"layer 'conv1' of run alexnet, a100:sparse_2_4: "):
            check_energy_totals(energy, summary)
