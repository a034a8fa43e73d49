"""Plots that show the lesson: energy and latency as a fraction of dense side by side, fixed pattern colours, distinct component colours, files for papers."""

from __future__ import annotations

import argparse
import io

import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_hex
from report_fixtures import compare_frame, write_results

from energysim.report import plots
from energysim.report.findings import sweep_findings
from energysim.report.html import render_report
from energysim.report.report_commands import register


def _two_mode_compare() -> pd.DataFrame:
    """compare rows on a100:dense and a100:sparse_2_4: dense baselines, fine at 0.5/0.9 and nm:2:4 at 0.5."""
    rows = []
    for mode, nm_ratio, fine_ratio in (("dense", 1.0, 1.0), ("sparse_2_4", 0.62, None)):
        run = f"a100:{mode}"
        points = [("dense", 0.0, 1.0, "ok"), ("nm:2:4", 0.5, nm_ratio, "ok")]
        points += [("fine", s, fine_ratio, "ok" if fine_ratio else "unsupported: mask is not 2:4") for s in (0.5, 0.9)]
        for pattern, sparsity, ratio, status in points:
            rows.append({"workload": "mlp", "model": "mlp", "pattern": pattern, "criterion": "magnitude", "sparsity_target": sparsity,
                         "hardware": "a100", "mode": mode, "run": run, "engine": "sparse_tc", "status": status, "accuracy": 0.95,
                         "energy_uj": 100 * ratio if ratio else np.nan, "energy_vs_dense": ratio if ratio else np.nan,
                         "latency_vs_dense": 0.7 if ratio and pattern == "nm:2:4" and mode != "dense" else (1.0 if ratio else np.nan)})
    return pd.DataFrame(rows)


def _visible(figure):
    return [axis for axis in figure.axes if axis.get_visible()]


def test_energy_next_to_latency_with_axes_from_zero():
    """One row per run, energy on the left and latency on the right; every ratio axis starts at 0."""
    axes = _visible(plots.ratio_figure(_two_mode_compare()))
    assert [axis.get_title() for axis in axes] == ["a100:dense: energy vs dense", "a100:dense: latency vs dense",
                                                   "a100:sparse_2_4: energy vs dense", "a100:sparse_2_4: latency vs dense"]
    assert all(axis.get_ylim()[0] == 0 for axis in axes)
    assert axes[2].patches[0].get_height() == pytest.approx(0.62)


def test_half_line_only_on_the_2_4_panels():
    """A horizontal line at 0.5 is drawn on the 2:4 run's panels and on no other."""
    axes = _visible(plots.ratio_figure(_two_mode_compare()))

    def has_half(axis):
        return any(np.allclose(line.get_ydata(), 0.5) for line in axis.get_lines())

    assert [has_half(axis) for axis in axes] == [False, False, True, True]


def test_pattern_colour_is_fixed_across_reports():
    """nm:2:4 bars and points have the nm:2:4 colour whatever the order or set of patterns in the table."""
    red = plots.PATTERN_COLOURS["nm:2:4"]
    frame = _two_mode_compare()
    for table in (frame, frame.iloc[::-1], frame[frame["pattern"] != "fine"]):
        axis = _visible(plots.ratio_figure(table))[0]
        nm = [p for c in axis.containers if c.get_label() == "nm:2:4" for p in c.patches]
        assert nm and {to_hex(p.get_facecolor()) for p in nm} == {red}
    pareto = _visible(plots.pareto_figure(compare_frame()))[0]
    colours = {c.get_label(): to_hex(c.get_facecolor()[0]) for c in pareto.collections if c.get_label() in ("unstructured", "channel")}
    assert colours == {"unstructured": plots.PATTERN_COLOURS["unstructured"], "channel": plots.PATTERN_COLOURS["channel"]}
    assert len(set(plots.PATTERN_COLOURS[p] for p in ("fine", "nm:2:4", "vector", "kernel", "channel", "dense"))) == 6


def test_breakdown_with_sixteen_components_uses_sixteen_colours():
    """A breakdown of 16 components (the number that used to share a 10-colour palette) gives each its own colour."""
    rows = [{"layer": "l1", "run": "x", "component": f"C{i}", "tensor": "weights", "action": "read", "energy_pj": 1e6 * (i + 1)}
            for i in range(16)]
    axis = _visible(plots.energy_breakdown_figure(pd.DataFrame(rows)))[0]
    colours = [to_hex(patch.get_facecolor()) for patch in axis.patches]
    assert len(colours) == 16 and len(set(colours)) == 16
    assert len(set(plots.distinct_colours(40))) == 40


def test_findings_in_plain_english_inside_the_report(tmp_path):
    """The report's compare section opens with what the sweep shows: per run the best and least pattern, as fractions of dense."""
    lines = sweep_findings(compare_frame())
    assert lines == [
        "lecture-array: best channel, energy 0.1 of dense (latency 0.1) at 90 % sparsity, accuracy 70 %; least unstructured, "
        "1 of dense at best (a dense array computes every zero, so only patterns that shrink the layers save)",
        "eie-lecture: best unstructured, energy 0.1 of dense (latency 0.1) at 90 % sparsity, accuracy 90 %; least channel, "
        "0.1 of dense at best (EIE skips zero weights and activations and stores weights compressed)",
        "a100:sparse_2_4: no pruned point ran (1 refused)",
    ]
    text = render_report(write_results(tmp_path / "r", files=("compare.csv",)))
    assert "<h3>What the sweep shows</h3><ul><li>lecture-array: best channel, energy 0.1 of dense" in text


def test_findings_read_older_ratio_columns():
    """A compare.csv with the older energy_ratio_vs_dense name gives the same findings."""
    old = compare_frame().rename(columns={"energy_vs_dense": "energy_ratio_vs_dense", "latency_vs_dense": "latency_ratio_vs_dense"})
    assert sweep_findings(old) == sweep_findings(compare_frame())


def test_plot_files_for_papers(tmp_path):
    """write_plot_files writes each of the six plots as PNG, SVG and PDF; `report --plots DIR` does the same."""
    from report_fixtures import compare_frame as c, energy_frame, sensitivity_frame, summary_frame

    paths = plots.write_plot_files({"summary": summary_frame(), "energy": energy_frame(), "compare": c(),
                                    "sensitivity": sensitivity_frame()}, tmp_path / "plots")
    names = sorted(p.name for p in paths)
    stems = ("accuracy_vs_sparsity", "energy_breakdown", "latency", "pareto", "sensitivity", "vs_dense")
    assert names == sorted(f"{s}.{f}" for s in stems for f in ("pdf", "png", "svg"))
    signatures = {"png": b"\x89PNG", "pdf": b"%PDF", "svg": b"<?xml"}
    for path in paths:
        assert path.read_bytes().startswith(signatures[path.suffix[1:]]), path
    folder = write_results(tmp_path / "results", files=("compare.csv",))
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    out = io.StringIO()
    args = parser.parse_args(["report", str(folder), "--plots", str(tmp_path / "cli-plots")])
    assert args.handler(args, out) == 0
    assert len(list((tmp_path / "cli-plots").iterdir())) == 9 and "wrote 9 plot files" in out.getvalue()


def test_estimate_ratio_figure_per_run_with_half_line_on_2_4():
    """The estimate's fraction-of-dense plot: a row per run (energy | latency), bars per layer plus TOTAL, 0.5 line only on the 2:4 row."""
    rows = []
    for run, ratio in (("a100:dense", 1.0), ("a100:sparse_2_4", 0.6)):
        for layer in ("fc1", "fc2", "TOTAL"):
            rows.append({"workload": "w", "hardware": "a100", "mode": run.split(":")[1], "run": run, "layer": layer,
                         "energy_vs_dense": ratio, "latency_vs_dense": ratio})
    axes = _visible(plots.estimate_ratio_figure(pd.DataFrame(rows)))
    assert [axis.get_title() for axis in axes] == ["a100:dense: energy vs dense", "a100:dense: latency vs dense",
                                                   "a100:sparse_2_4: energy vs dense", "a100:sparse_2_4: latency vs dense"]
    assert [label.get_text() for label in axes[2].get_xticklabels()] == ["fc1", "fc2", "TOTAL"]
    assert [p.get_height() for p in axes[2].patches] == pytest.approx([0.6, 0.6, 0.6])
    assert all(axis.get_ylim()[0] == 0 for axis in axes)
    assert [any(np.allclose(line.get_ydata(), 0.5) for line in axis.get_lines()) for axis in axes] == [False, False, True, True]


def test_findings_name_the_measured_sparsity_when_it_is_not_the_target():
    """Channel pruning at a 50 % target that removed 66 % is reported at 66 % (target 50 %), not at 50 %."""
    frame = compare_frame()
    frame = frame.assign(sparsity_measured=frame["sparsity_target"].where(frame["pattern"] != "channel", 0.6624))
    lecture = next(line for line in sweep_findings(frame) if line.startswith("lecture-array: best channel"))
    assert " at 66 % sparsity (target 90 %)," in lecture
    assert " at 90 % sparsity," in sweep_findings(compare_frame())[0]


def test_findings_carry_the_best_points_timing_note():
    """A compare row's note (how the engine timed it) follows its run's findings sentence; runs without one get none."""
    frame = compare_frame().assign(note="")
    best = frame[(frame["run"] == "lecture-array") & (frame["pattern"] == "channel")].index
    frame.loc[best, "note"] = "lecture-array is timed at the bound"
    lines = sweep_findings(frame)
    assert lines[0].endswith("). lecture-array is timed at the bound")
    assert lines[1:] == sweep_findings(compare_frame())[1:]
