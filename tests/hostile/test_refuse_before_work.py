"""Bad input refused before any work (issue 13, class 5), and argument values taken silently before (class 1).

Each test makes the first piece of work fail loudly (an AssertionError is not an
EnergySimError, so main() lets it through) and expects the one-line refusal instead.
"""

from __future__ import annotations

import io

import pytest

from energysim.cli import main
from energysim.errors import InputError

WORKLOAD = 'schema_version = 1\nname = "tiny"\n\n[[layers]]\nkind = "linear"\nname = "fc"\nin_features = 8\nout_features = 4\n'


@pytest.fixture
def no_dataset(monkeypatch):
    """Loading the digits dataset (seconds: scikit-learn's import) fails the test."""
    import energysim.prune.data

    def load(*args, **kwargs):
        raise AssertionError("the dataset was loaded before the refusal")

    monkeypatch.setattr(energysim.prune.data, "load_digits_dataset", load)


def _refused(argv: list[str]) -> str:
    err = io.StringIO()
    assert main(argv, out=io.StringIO(), err=err) == 2, err.getvalue()
    assert len(err.getvalue().splitlines()) == 1
    return err.getvalue()


def test_prune_out_holding_results_refused_before_the_dataset(no_dataset, tmp_path):
    """prune --out DIR holding workload.toml is refused before the dataset loads (it took 11 s first; LEAD, 241acd4)."""
    (tmp_path / "o").mkdir()
    (tmp_path / "o" / "workload.toml").write_text("x")
    assert "workload.toml already exists" in _refused(["prune", "--out", str(tmp_path / "o"), "--quiet"])


def test_prune_out_a_file_refused_before_training(no_dataset, tmp_path):
    """prune --out FILE is refused up front (it trained a model for 35 s, then could not create the folder; LEAD, 241acd4)."""
    (tmp_path / "afile").write_text("x")
    assert "afile" in _refused(["prune", "--out", str(tmp_path / "afile"), "--quiet"])


def test_prune_bad_model_dir_refused_before_the_dataset(no_dataset, tmp_path):
    """prune --model-dir MISSING is refused before the dataset loads."""
    assert "model.json: file not found" in _refused(["prune", "--model-dir", str(tmp_path / "nope"), "--out", str(tmp_path / "o")])


def test_set_empty_item_refused_naming_the_value(tmp_path):
    """--set engine.rows=4,,8 names its empty item instead of silently sweeping 4 and 8 (LEAD, 927c998)."""
    (tmp_path / "w.toml").write_text(WORKLOAD)
    for value in ("4,,8", "4,"):
        message = _refused(["run", "lecture-array", str(tmp_path / "w.toml"), "--set", f"engine.rows={value}"])
        assert "engine.rows" in message and repr(value) in message


@pytest.mark.parametrize("progress", ["yes", "no", 1])
def test_api_progress_must_be_a_bool(progress, tmp_path):
    """simulate(progress=...) takes True, False or None: "no" was taken as true, 1 as true (LEAD, 927c998)."""
    from energysim import simulate

    (tmp_path / "w.toml").write_text(WORKLOAD)
    with pytest.raises(InputError, match=f"progress.*{progress!r}"):
        simulate("lecture-array", tmp_path / "w.toml", progress=progress)


def test_report_missing_folder_refused_before_matplotlib(monkeypatch, tmp_path):
    """report MISSING is refused before the HTML report's modules (matplotlib, 2-3 s) are imported."""
    import sys

    monkeypatch.setitem(sys.modules, "energysim.report.html", None)  # importing it raises ImportError
    assert "nothing" in _refused(["report", str(tmp_path / "nothing")])


def test_prune_energy_budget_without_hw_refused_before_the_dataset(no_dataset, tmp_path):
    """prune --energy-budget without --hw is refused before the dataset loads (it took 3.6 s first)."""
    assert "--energy-budget needs --hw HW" in _refused(["prune", "--energy-budget", "0.5", "--out", str(tmp_path / "o")])
