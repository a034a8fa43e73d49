"""Report plots: what each figure draws, PNG output, and the Pareto front rule."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from energysim.errors import InputError
from energysim.report import plots
from energysim.report.runs import run_labels

from report_fixtures import compare_frame, energy_frame, sensitivity_frame, summary_frame

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _visible_axes(figure: Figure) -> list:
    return [axis for axis in figure.axes if axis.get_visible()]


def test_pareto_mask_hand_case():
    """Of (energy, accuracy) = (1, .9), (2, .95), (2, .90), (3, .95), (1, .9): the dominated (2, .90) and (3, .95) are off the front, the duplicate stays on."""
    energy = [1, 2, 2, 3, 1]
    accuracy = [0.9, 0.95, 0.90, 0.95, 0.9]
    assert plots.pareto_mask(energy, accuracy).tolist() == [True, True, False, False, True]


def test_pareto_mask_rejects_unequal_lengths():
    """Unequal energy and accuracy lengths raise InputError naming both sizes."""
    with pytest.raises(InputError, match=r"as many energies as accuracies \(got 2 and 3\)"):
        plots.pareto_mask([1, 2], [0.1, 0.2, 0.3])


def test_energy_breakdown_stacks_components_per_layer():
    """One panel per variant; each panel has layers x components bar patches whose heights sum to the variant's energy in uJ."""
    energy = energy_frame()
    figure = plots.energy_breakdown_figure(energy)
    axes = _visible_axes(figure)
    assert [axis.get_title() for axis in axes] == ["lecture-array (dense), dense model",
                                                     "lecture-array (dense), pruned model"]
    for axis, variant in zip(axes, ("dense", "pruned")):
        heights = [patch.get_height() for patch in axis.patches]
        assert len(heights) == 3 * 4
        expected_uj = energy.loc[energy["variant"] == variant, "energy_pj"].sum() / 1e6
        assert sum(heights) == pytest.approx(expected_uj)
    assert [text.get_text() for text in figure.legends[0].get_texts()][0] == "DRAM"


def test_energy_breakdown_variants_of_a_run_share_a_y_scale():
    """The dense and pruned panels of one run get one y limit (the taller stack's), so bar heights compare."""
    axes = _visible_axes(plots.energy_breakdown_figure(energy_frame()))
    assert axes[0].get_ylim() == axes[1].get_ylim()
    tallest = max(patch.get_y() + patch.get_height() for axis in axes for patch in axis.patches)
    assert axes[0].get_ylim()[1] == pytest.approx(1.05 * tallest)


def test_latency_figure_groups_dense_and_pruned():
    """Dense and pruned bars per layer; the pruned fc1 bar is 1.2 us (0.4 x 3 us)."""
    figure = plots.latency_figure(summary_frame())
    (axis,) = _visible_axes(figure)
    assert [label.get_text() for label in axis.get_xticklabels()] == ["fc1", "fc2", "fc3"]
    assert len(axis.patches) == 6
    pruned = [p.get_height() for p in axis.patches][3:]
    assert pruned == pytest.approx([1.2, 0.8, 0.4])
    assert axis.get_ylabel() == "latency per inference [us]"
    assert figure.get_suptitle() == "Dense vs sparse latency per layer"


def test_pareto_figure_panels_and_front():
    """One panel per hardware with runnable points; the non-ok a100 point is not drawn; the EIE front has 3 ringed points."""
    figure = plots.pareto_figure(compare_frame())
    axes = _visible_axes(figure)
    assert [axis.get_title() for axis in axes] == ["lecture-array", "eie-lecture"]
    eie = axes[1]
    ringed = [c for c in eie.collections if c.get_label() == "Pareto front"]
    assert len(ringed) == 1 and len(ringed[0].get_offsets()) == 3


def test_accuracy_vs_sparsity_draws_each_point_once():
    """Accuracy is hardware-independent: each pattern line has 3 points (not 6), x in percent of measured sparsity."""
    figure = plots.accuracy_vs_sparsity_figure(compare_frame())
    (axis,) = _visible_axes(figure)
    lines = {line.get_label(): line for line in axis.get_lines()}
    assert set(lines) == {"unstructured", "channel"}
    np.testing.assert_allclose(lines["channel"].get_xdata(), [50.1, 75.1, 90.1])
    np.testing.assert_allclose(lines["channel"].get_ydata(), [95, 88, 70])


def test_ratio_and_sensitivity_figures_render_to_png():
    """The fraction-of-dense and sensitivity figures render to non-trivial PNG bytes."""
    for figure in (plots.ratio_figure(compare_frame()), plots.sensitivity_figure(sensitivity_frame())):
        png = plots.figure_png(figure)
        assert png.startswith(PNG_SIGNATURE) and len(png) > 5_000


def test_missing_column_is_named():
    """A table without a needed column raises InputError naming the table and the column."""
    with pytest.raises(InputError, match=r"compare table: column 'accuracy' is required"):
        plots.pareto_figure(compare_frame().drop(columns=["accuracy"]))


def test_no_runnable_points_is_an_input_error():
    """A compare table whose points all failed has nothing to plot and says so."""
    frame = compare_frame().assign(status="not 2:4")
    with pytest.raises(InputError, match=r"no 'ok' points"):
        plots.pareto_figure(frame)


def test_save_figure_writes_files_atomically(tmp_path):
    """save_figure writes s.png, s.svg and s.pdf and leaves no temporary file in the folder."""
    paths = plots.save_figure(plots.sensitivity_figure(sensitivity_frame()), tmp_path / "plots" / "s")
    assert paths[0].read_bytes().startswith(PNG_SIGNATURE)
    assert sorted(p.name for p in paths[0].parent.iterdir()) == ["s.pdf", "s.png", "s.svg"]


def test_save_figure_refuses_unknown_format(tmp_path):
    """An unknown plot format is an InputError naming the formats."""
    with pytest.raises(InputError, match=r"plot format must be one of png, svg, pdf \(got 'gif'\)"):
        plots.save_figure(plots.sensitivity_figure(sensitivity_frame()), tmp_path / "s", ("gif",))


def test_time_scale_picks_readable_units():
    """Latencies up to 10 ms show in us, up to 10 s in ms, beyond in s (VGG-16's 0.105 s shows as 104.8 ms)."""
    assert plots.time_scale(5e-3) == (1e6, "us")
    assert plots.time_scale(0.105) == (1e3, "ms")
    assert plots.time_scale(12.0) == (1.0, "s")


def test_run_labels_without_run_columns():
    """A table with no variant/engine/hardware columns labels every row 'run'."""
    assert run_labels(pd.DataFrame({"layer": ["a", "b"]})).tolist() == ["run", "run"]
