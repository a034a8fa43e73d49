"""The top-level Python API mirrors the CLI and returns DataFrames."""

from __future__ import annotations

import pandas as pd
import pytest

import energysim as es
from energysim.errors import InputError


def test_top_level_functions_return_dataframes(tmp_path):
    """estimate, compare, cost_table, hardware_costs and layer_cost_table return DataFrames; simulate holds them."""
    assert isinstance(es.estimate("lenet-300-100-han2015", ["eie-64pe-lecture"]), pd.DataFrame)
    frame = es.compare(model="mlp", patterns=["fine"], sparsities=[0.5], criteria=["magnitude"],
                       hardware_names=["lecture-array"], out_dir=tmp_path, finetune_epochs=0, jobs=1)
    assert isinstance(frame, pd.DataFrame) and len(frame) == 2
    assert isinstance(es.cost_table("horowitz-45nm", bits=16), pd.DataFrame)
    assert set(es.hardware_costs("lecture-array")["component"]) == {"DRAM", "GlobalBuffer", "RegFile", "MAC"}
    assert list(es.layer_cost_table(["lenet-300-100"], ["lecture-array"])["layer"]) == ["fc1", "fc2", "fc3"]
    run = es.simulate("lecture-array", "lenet-300-100")
    assert isinstance(run.summary, pd.DataFrame) and isinstance(run.energy, pd.DataFrame)


def test_all_names_exist():
    """Every name in energysim.__all__ is importable from the package."""
    for name in es.__all__:
        assert callable(getattr(es, name))


def test_layer_cost_table_keeps_two_modes_apart():
    """layer_cost_table on a100 and a100:sparse_2_4 gives two runs of LeNet's three layers, named by run."""
    frame = es.layer_cost_table(["lenet-300-100-han2015"], ["a100", "a100:sparse_2_4"])
    assert frame.groupby("run").size().to_dict() == {"a100:dense": 3, "a100:sparse_2_4": 3}
    assert set(frame["hardware"]) == {"a100"} and set(frame["workload"]) == {"lenet-300-100-han2015"}


def test_simulate_ticks_a_bar_per_layer(capsys):
    """simulate(progress=True) draws its bar on stderr and nothing on stdout; progress=False draws nothing."""
    es.simulate("lecture-array", "lenet-300-100", progress=False)
    assert capsys.readouterr().err == ""
    es.simulate("lecture-array", "lenet-300-100", progress=True)
    captured = capsys.readouterr()
    assert "lenet-300-100 on lecture-array" in captured.err and "/3" in captured.err and captured.out == ""


def test_one_name_or_number_where_a_list_goes_is_one_item():
    """estimate(source, "lecture-array") runs one hardware (the string was read letter by letter: 'l'), and layer_cost_table takes single names."""
    one = es.estimate("lenet-300-100-han2015", "lecture-array", progress=False)
    listed = es.estimate("lenet-300-100-han2015", ["lecture-array"], progress=False)
    pd.testing.assert_frame_equal(one, listed)
    assert set(es.layer_cost_table("lenet-300-100", "lecture-array")["run"]) == {"lecture-array"}


@pytest.mark.parametrize(("call", "message"), [
    (lambda: es.cost_table("horowitz-45nm", bits="16"), "cost_table: bits must be a whole number of bits (got '16')"),
    (lambda: es.compare(sparsities="0.5"), "compare: sparsities: must be a float or int or a list of them (got '0.5')"),
    (lambda: es.compare(patterns=["fine", 3]), "compare: patterns: must be a str or a list of them (got ['fine', 3])"),
    (lambda: es.estimate("lenet-300-100-han2015", 5), "estimate: hardware_names: must be a str or Path or HardwareChoice"),
    (lambda: es.estimate("lenet-300-100-han2015", "lecture-array", densities=True), "estimate: densities: must be a float"),
])
def test_wrong_argument_types_name_the_argument(call, message):
    """A wrong type where the API takes a list (or bits) is an InputError naming the argument, not a TypeError."""
    with pytest.raises(InputError) as info:
        call()
    assert str(info.value).startswith(message)


def test_numpy_arrays_numbers_and_ranges_are_lists_too():
    """compare/estimate take numpy arrays and scalars, ranges and tuples of numbers where they take a list."""
    import numpy as np

    from energysim.api import _listed

    assert _listed(np.linspace(0.5, 0.75, 2), "s", (float, int)) == [0.5, 0.75]
    assert _listed(np.float64(0.5), "s", (float, int)) == [0.5]
    assert _listed(np.array(0.25), "s", (float, int)) == [0.25]
    assert _listed([np.int64(2), 3], "s", (float, int)) == [2, 3]
    assert _listed(range(2), "s", (float, int)) == [0, 1]
    assert _listed(("fine", "channel"), "p", (str,)) == ["fine", "channel"]
    with pytest.raises(InputError, match=r"^p: must be a str or a list of them \(got \{'a': 1\}\)"):
        _listed({"a": 1}, "p", (str,))
