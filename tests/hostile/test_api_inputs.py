"""Hostile values given to the Python API (not the CLI): refused with an EnergySimError naming the value."""

from __future__ import annotations

import numpy as np
import pytest

from energysim.errors import InputError
from energysim.prune.data import load_digits_dataset
from energysim.workloads import LayerTensors


@pytest.mark.parametrize("samples, seed", [(True, 0), (2.0, 0), (0, 0), (4, -1), (4, 1.5), (4, False)])
def test_calibration_refuses_boolean_float_and_negative_arguments(samples, seed):
    """calibration(samples, seed) takes integers only: True is not one sample and -1 is not a seed."""
    with pytest.raises(InputError, match=r"\(got "):
        load_digits_dataset().calibration(samples, seed)


@pytest.mark.parametrize("seed", [-1, True, 2**40])
def test_digits_split_refuses_seeds_scikit_learn_cannot_take(seed):
    """A split seed outside [0, 2**32) is refused by energysim, not by a scikit-learn traceback."""
    with pytest.raises(InputError, match="split seed"):
        load_digits_dataset(split_seed=seed)


@pytest.mark.parametrize("field", ["weights", "mask", "activations"])
def test_layer_tensors_refuse_complex_and_object_arrays(field):
    """Complex weights would be truncated to their real part and object arrays need pickles: both refused."""
    arrays = {"weights": np.ones((2, 4)), "mask": None, "activations": None}
    arrays[field] = np.ones((2, 4)) + 1j
    with pytest.raises(InputError, match=f"{field} must be bool, integer or float"):
        LayerTensors(**arrays)
    arrays[field] = np.array([[None] * 4] * 2, dtype=object)
    with pytest.raises(InputError, match=f"{field} must be bool, integer or float"):
        LayerTensors(**arrays)


def test_sweep_refuses_bad_scheduler_and_budget_before_probing_hardware(monkeypatch, tmp_path):
    """An unreachable --scheduler or a bad energy budget is refused before any hardware probe simulates (seconds on EIE)."""
    from energysim import sweep

    def probe(choices):
        raise AssertionError("the hardware probe ran before the cheap checks")

    monkeypatch.setattr(sweep, "_check_hardware", probe)
    with pytest.raises(InputError, match="cannot reach the Dask scheduler at 'nowhere:1'"):
        sweep.run_sweep([], ["lecture-array"], tmp_path / "o", scheduler="nowhere:1")
    with pytest.raises(InputError, match=r"energy budgets must be fractions of dense energy in \(0, 1\] \(got 2\)"):
        sweep.run_sweep([], ["lecture-array"], tmp_path / "o", energy_budgets=[2])
    assert not (tmp_path / "o").exists()


def test_sweep_starts_no_more_workers_than_points(monkeypatch):
    """A process pool forks all its workers at once: --jobs 64 with two points to run starts two processes, not 64."""
    from energysim import sweep

    started = []

    class Pool:
        def __init__(self, max_workers, **kwargs):
            started.append(max_workers)
            raise RuntimeError("stop before any work")

    monkeypatch.setattr(sweep, "ProcessPoolExecutor", Pool)
    todo = [(object(), ()), (object(), ())]
    with pytest.raises(RuntimeError, match="stop before any work"):
        next(sweep._execute(todo, "cache", 64, None))
    assert started == [2]


def test_sweep_refuses_jobs_over_the_process_limit(tmp_path):
    """run_sweep(jobs=100000) is refused naming the limit and its variable, before anything is written."""
    from energysim import sweep

    with pytest.raises(InputError, match=r"jobs is 100,000 processes, over the most worker processes limit of 256 .*ENERGYSIM_PROCESSES"):
        sweep.run_sweep([], ["lecture-array"], tmp_path / "o", jobs=100_000)
    assert not (tmp_path / "o").exists()
