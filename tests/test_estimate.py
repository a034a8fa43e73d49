"""estimate: one run per (hardware, mode), ratios as fractions of dense, refusals as rows, shrunk models, progress."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import energysim as es
from energysim.errors import InputError
from energysim.estimation import ESTIMATE_COLUMNS, densified, estimate, load_hardware_list
from energysim.workloads.workload import load_workload


def _totals(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame["layer"] == "TOTAL"].set_index("run")


def test_two_modes_of_one_hardware_are_two_runs():
    """a100 and a100:sparse_2_4 give two runs of 3 layers each, with their own ratios, in every table."""
    result = es.estimate_details("lenet-300-100-han2015", ["a100", "a100:sparse_2_4"])
    totals = _totals(result.layers)
    assert list(totals.index) == ["a100:dense", "a100:sparse_2_4"]
    assert list(totals["hardware"]) == ["a100", "a100"] and list(totals["mode"]) == ["dense", "sparse_2_4"]
    assert totals.loc["a100:dense", "energy_vs_dense"] == 1.0
    assert totals.loc["a100:sparse_2_4", "energy_vs_dense"] < 0.9
    for table in (result.summary, result.energy, result.breakdown):
        assert set(table["run"]) == {"a100:dense", "a100:sparse_2_4"}
        assert set(table["workload"]) == {"lenet-300-100-han2015"}
    sizes = result.summary.groupby(["workload", "run", "variant"]).size()
    assert len(sizes) == 4 and (sizes == 3).all()
    assert not result.summary.duplicated(["workload", "run", "variant", "layer"]).any()
    # each run's TOTAL is the sum of its own layers only, never of both modes
    for run, group in result.summary.groupby("run"):
        pruned = group[group["variant"] == "pruned"]["energy_uj"].sum()
        assert math.isclose(totals.loc[run, "energy_uj_pruned"], pruned, rel_tol=1e-12)
    components = result.components
    assert not components.duplicated(["workload", "run", "component", "energy_kind"]).any()


def test_the_same_run_named_twice_is_refused():
    """'a100' and 'a100:dense' are one run: estimate refuses rather than add them up."""
    with pytest.raises(InputError, match="same run 'a100:dense'"):
        es.estimate("lenet-300-100-han2015", ["a100", "a100:dense"])


def test_run_tables_carry_the_run_key():
    """A single simulation's summary and energy rows name workload, hardware, mode and run."""
    run = es.simulate("a100:sparse_2_4", "lenet-300-100-han2015")
    assert run.run == "a100:sparse_2_4"
    for table in (run.summary, run.energy):
        assert set(table["workload"]) == {"lenet-300-100-han2015"}
        assert set(table["run"]) == {"a100:sparse_2_4"} and set(table["mode"]) == {"sparse_2_4"}
    array = es.simulate("lecture-array", "lenet-300-100")
    assert set(array.summary["mode"]) == {""} and set(array.summary["run"]) == {"lecture-array"}


def test_ratios_are_fractions_of_dense():
    """energy/latency/storage_vs_dense = pruned / dense (EIE on LeNet at Han's densities is below 1); no saving columns."""
    table = es.estimate("lenet-300-100-han2015", ["eie-64pe-lecture"])
    assert list(table.columns) == list(ESTIMATE_COLUMNS)
    assert not {"energy_saving", "speedup", "storage_saving"} & set(table.columns)
    pd.testing.assert_series_equal(table["energy_vs_dense"], table["energy_uj_pruned"] / table["energy_uj_dense"],
                                   check_names=False)
    pd.testing.assert_series_equal(table["latency_vs_dense"], table["latency_us_pruned"] / table["latency_us_dense"],
                                   check_names=False)
    pd.testing.assert_series_equal(table["storage_vs_dense"],
                                   table["storage_bytes_pruned"] / table["storage_bytes_dense"], check_names=False)
    total = _totals(table).iloc[0]
    assert 0 < total["energy_vs_dense"] < 1 and 0 < total["storage_vs_dense"] < 1


def test_a_refused_run_is_a_row_and_the_rest_finish():
    """A fine-pruned (non-2:4) MLP on a100:sparse_2_4 is one TOTAL row with the reason; lecture-array runs in full."""
    result = es.estimate_details("pruned/mlp-digits-fine-80", ["lecture-array", "a100:sparse_2_4", "a100"])
    table = result.layers
    refused = table[table["run"] == "a100:sparse_2_4"]
    assert len(refused) == 1 and refused["layer"].iloc[0] == "TOTAL"
    assert refused["status"].iloc[0].startswith("unsupported: ") and "2:4" in refused["status"].iloc[0]
    assert refused[["energy_uj_pruned", "energy_vs_dense"]].isna().all(axis=None)
    assert result.refused == {"a100:sparse_2_4": refused["status"].iloc[0]}
    done = table[table["run"] != "a100:sparse_2_4"]
    assert (done["status"] == "ok").all() and len(done) == 2 * (3 + 1)
    assert set(result.summary["run"]) == {"lecture-array", "a100:dense"}
    assert ("a100:sparse_2_4", "pruned") not in result.runs


def _channel_pruned_cnn():
    from energysim.prune import build_model
    from energysim.prune.pruner import PruneRequest, prune_model

    model = build_model("cnn", seed=0)
    prune_model(model, PruneRequest("channel", "l1", 0.5))
    return model


def test_shrunk_export_keeps_the_dense_original(tmp_path):
    """A shrunk channel-pruned export is compared with the unshrunk geometry, as --dense with the mask export gives."""
    from energysim.prune import export_workload, load_digits_dataset
    from energysim.prune.structure import shrink_model

    model = _channel_pruned_cnn()
    calibration = load_digits_dataset().calibration(16)
    shrunk = shrink_model(model)
    shrunk_path = export_workload(shrunk, tmp_path / "shrunk", calibration, layer_targets=False, original=model)
    masked_path = export_workload(model, tmp_path / "masked", calibration)
    hardware = load_hardware_list(["lecture-array", "eie-64pe-lecture"])
    pruned = load_workload(shrunk_path)
    assert pruned.provenance.shrunk
    own = _totals(estimate(pruned, hardware).layers)
    truth = _totals(estimate(pruned, hardware, dense=densified(load_workload(masked_path))).layers)
    pd.testing.assert_frame_equal(own.drop(columns="workload"), truth.drop(columns="workload"))
    assert own.loc["lecture-array", "energy_vs_dense"] < 0.6  # half the channels gone: far below "saves nothing"
    original = load_workload(tmp_path / "shrunk" / "dense-original.toml")
    assert [l.weight_shape for l in original.layers] == [l.weight_shape for l in load_workload(masked_path).layers]
    assert all(l.weight_density == 1.0 for l in original.layers)


def test_shrunk_export_without_original_is_refused(tmp_path):
    """A shrunk workload with no dense original is refused with a message naming --dense, not compared with itself."""
    from energysim.prune import export_workload, load_digits_dataset
    from energysim.prune.structure import shrink_model

    model = _channel_pruned_cnn()
    calibration = load_digits_dataset().calibration(16)
    folder = tmp_path / "shrunk"
    export_workload(shrink_model(model), folder, calibration, layer_targets=False, original=model)
    path = export_workload(shrink_model(model), folder, calibration, layer_targets=False)  # re-export: stale original gone
    assert not (folder / "dense-original.toml").exists()
    with pytest.raises(InputError, match="--dense"):
        estimate(load_workload(path), load_hardware_list(["lecture-array"]))


def test_progress_bar_ticks_per_layer_and_run(capsys, monkeypatch):
    """progress=True draws one bar over layers x distinct simulations on stderr; None off a terminal logs lines, none for a short job."""
    import energysim.estimation
    from energysim.progress import LogLines, progress_bar

    bars = []
    monkeypatch.setattr(energysim.estimation, "progress_bar", lambda *a: bars.append(progress_bar(*a)) or bars[-1])
    es.estimate("lenet-300-100-han2015", ["lecture-array", "a100", "a100:sparse_2_4"], progress=None)
    assert capsys.readouterr().err == "" and isinstance(bars[-1], LogLines) and bars[-1].n == 15
    es.estimate("lenet-300-100-han2015", ["lecture-array", "a100", "a100:sparse_2_4"], progress=True)
    # lecture-array dense + pruned, a100 dense (shared by both runs), a100 pruned dense-mode, a100 2:4: 5 x 3 layers
    assert bars[-1].total == 15 and bars[-1].n == 15
    assert "estimate lenet-300-100-han2015" in capsys.readouterr().err


def test_progress_bar_contract(capsys):
    """progress_bar: False never writes, True always writes to stderr, None follows whether stderr is a terminal."""
    from energysim.progress import progress_bar

    for enabled in (False, None):
        with progress_bar(3, "quiet", enabled) as bar:
            bar.update(3)
    assert capsys.readouterr().err == ""
    with progress_bar(2, "shown", True) as bar:
        bar.update(2)
    captured = capsys.readouterr()
    assert "shown" in captured.err and "/2" in captured.err and captured.out == "" and bar.n == 2


@pytest.mark.parametrize("value", ["yes", 0, 1, "false"])
def test_progress_flag_must_be_a_bool_or_none(value):
    """A progress value that is not True, False or None is refused in one line, not taken for its truth value."""
    from energysim.errors import InputError

    with pytest.raises(InputError, match=rf"progress must be True, False or None \(got {value!r}\)"):
        es.simulate("lecture-array", "lenet-300-100-han2015", progress=value)


def test_results_fit_a_notebook():
    """A run's and an estimate's repr are one short line; _repr_html_ is an HTML table."""
    run = es.simulate("eie-64pe-lecture", "alexnet-han2015")
    assert len(repr(run)) < 200 and "\n" not in repr(run) and "'eie-64pe-lecture'" in repr(run)
    assert "<table" in run._repr_html_() and len(run._repr_html_()) < 10_000
    result = es.estimate_details("lenet-300-100-han2015", ["a100", "a100:sparse_2_4"])
    text = repr(result)
    assert len(text) < 300 and "a100:sparse_2_4: energy 0." in text and "of dense" in text
    assert "<table" in result._repr_html_()


def test_compare_writes_nothing_without_an_output_folder(tmp_path, monkeypatch):
    """es.compare without out_dir leaves the working folder empty (a temporary folder holds the journal)."""
    monkeypatch.chdir(tmp_path)
    frame = es.compare(model="mlp", patterns=["fine"], sparsities=[0.5], criteria=["magnitude"],
                       hardware_names=["lecture-array"], finetune_epochs=0, jobs=1, progress=False)
    assert len(frame) == 2 and list(tmp_path.iterdir()) == []
    assert np.isfinite(frame["energy_uj"]).all()


def test_dense_array_saves_nothing_and_eie_saves_on_han_densities():
    """On Han et al.'s LeNet densities the dense array needs all of dense energy and EIE less than half."""
    result = es.estimate_details("lenet-300-100-han2015", ["lecture-array", "eie-64pe-lecture"])
    totals = _totals(result.layers)
    assert totals.loc["lecture-array", "energy_vs_dense"] == pytest.approx(1.0)
    assert totals.loc["eie-64pe-lecture", "energy_vs_dense"] < 0.5
    assert set(result.breakdown["variant"]) == {"dense", "pruned"}


def test_the_pruned_variant_runs_in_the_named_mode():
    """`a100:sparse_2_4` runs the dense original in dense mode and the 2:4 workload in 2:4 mode: faster, smaller."""
    result = es.estimate_details("pruned/cnn-digits-2of4", ["a100:sparse_2_4", "a100"])
    totals = _totals(result.layers)
    assert totals.loc["a100:sparse_2_4", "latency_vs_dense"] < 1.0
    assert totals.loc["a100:sparse_2_4", "storage_vs_dense"] < 1 / 1.5
    assert totals.loc["a100:dense", "latency_vs_dense"] == pytest.approx(1.0)
    assert result.runs[("a100:sparse_2_4", "dense")].mode == "dense"
    assert result.runs[("a100:sparse_2_4", "pruned")].mode == "sparse_2_4"


def test_engine_options_other_than_mode_reach_the_dense_original():
    """A run's non-mode options (timing here; mapping for loopnest) apply to both variants, mode to the pruned only."""
    from energysim.estimation import HardwareChoice
    from energysim.hardware.hierarchy import load_hardware
    from energysim import catalog

    hardware = load_hardware(catalog.hwconfig_path("a100"))
    choice = HardwareChoice("a100:sparse_2_4", hardware, {"mode": "sparse_2_4", "timing": "library_calibrated"})
    assert choice.variant_options("dense") == {"timing": "library_calibrated"}
    result = estimate(load_workload(catalog.workload_path("lenet-300-100-han2015")), [choice])
    dense = result.runs[("a100:sparse_2_4", "dense")]
    assert {r.stats["timing"] for r in dense.results} == {"library_calibrated"}
    assert {r.stats["mode"] for r in dense.results} == {"dense"}


def test_every_run_refused_gives_empty_tables_with_their_columns():
    """When the only run is refused, the tables are empty but keep their columns (the run key among them)."""
    result = es.estimate_details("pruned/mlp-digits-fine-80", ["a100:sparse_2_4"])
    assert list(result.layers["status"].str.split(":").str[0]) == ["unsupported"]
    for table in (result.summary, result.energy, result.breakdown, result.components):
        assert table.empty and {"workload", "run"} <= set(table.columns)
    assert "refused" in repr(result)
