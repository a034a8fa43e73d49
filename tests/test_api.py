"""The top-level Python API mirrors the CLI and returns DataFrames."""

from __future__ import annotations

import pandas as pd

import energysim as es


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
