"""Workload arguments: the folders energysim writes are taken by run, estimate and compare alike (F7)."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest

import energysim
from energysim import catalog
from energysim.cli import main
from energysim.errors import InputError
from energysim.prune.models import build_model, save_model

BUNDLED = Path(__file__).resolve().parents[2] / "workloads" / "pruned" / "mlp-digits-fine-80"


def _copy_workload(folder: Path) -> Path:
    """A copy of a bundled pruned workload (workload.toml + its tensors) in ``folder``."""
    shutil.copytree(BUNDLED, folder)
    return folder


def _cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    return main(list(argv), out=out, err=err), out.getvalue(), err.getvalue()


def test_prune_out_folder_resolves_to_its_workload_toml(tmp_path):
    """A folder holding workload.toml (plain prune --out) resolves to that file."""
    folder = _copy_workload(tmp_path / "plain")
    assert catalog.workload_path(str(folder)) == folder / "workload.toml"


def test_energy_aware_out_folder_resolves_to_workload_subfolder(tmp_path):
    """A folder holding workload/workload.toml (prune --energy-budget --out) resolves to that file."""
    _copy_workload(tmp_path / "ea" / "workload")
    assert catalog.workload_path(str(tmp_path / "ea")) == tmp_path / "ea" / "workload" / "workload.toml"


def test_folder_without_a_workload_names_what_it_should_hold(tmp_path):
    """An empty folder is refused in one sentence naming workload.toml, workload/workload.toml and model.json."""
    with pytest.raises(InputError, match=r"holding no workload: a workload folder holds workload\.toml or "
                                         r"workload/workload\.toml .* or model\.json"):
        catalog.workload_path(str(tmp_path))


def test_hardware_folder_is_still_refused_as_a_folder(tmp_path):
    """A folder given as hardware says it is a folder, even when it holds a workload.toml."""
    _copy_workload(tmp_path / "hw")
    with pytest.raises(InputError, match="hardware config .* is a folder, not a .toml file"):
        catalog.hwconfig_path(str(tmp_path / "hw"))


def test_run_and_estimate_take_an_energy_aware_out_folder(tmp_path):
    """`run` and `estimate` accept the top folder prune --energy-budget --out writes (they said 'is a folder')."""
    _copy_workload(tmp_path / "ea" / "workload")
    code, out, err = _cli("run", "lecture-array", str(tmp_path / "ea"))
    assert code == 0, err
    assert "fc1" in out
    code, out, err = _cli("estimate", str(tmp_path / "ea"), "--hw", "lecture-array")
    assert code == 0, err
    assert "TOTAL" in out


def test_run_takes_a_numpy_model_folder_as_estimate_does(tmp_path):
    """`run HW MODEL_FOLDER` (train --out) exports and simulates the model, as estimate does (it was refused)."""
    save_model(build_model("mlp", seed=0), tmp_path / "mlp")
    run = energysim.simulate("lecture-array", tmp_path / "mlp", progress=False)
    assert list(run.summary["layer"]) == build_model("mlp", seed=0).weight_layers
    code, out, err = _cli("run", "lecture-array", str(tmp_path / "mlp"))
    assert code == 0, err
