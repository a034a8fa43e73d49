"""The compare grid on a Dask distributed cluster (LocalCluster on loopback) gives the local result."""

from __future__ import annotations

import pandas as pd
import pytest

from energysim.errors import InputError
from energysim.sweep import grid, run_sweep

distributed = pytest.importorskip("distributed", reason="dask.distributed is in the 'distributed' extra")


def test_dask_scheduler_matches_local(tmp_path):
    """Points run through a LocalCluster scheduler address produce the same table as one local process."""
    points = grid("mlp", ["fine", "channel"], [0.5], ["magnitude", "l1"], finetune_epochs=0)
    local = run_sweep(points, ("lecture-array",), tmp_path / "local", jobs=1, progress=False)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster:
        remote = run_sweep(points, ("lecture-array",), tmp_path / "dask", scheduler=cluster.scheduler_address,
                           cache_dir=tmp_path / "local" / "models", progress=False)
    pd.testing.assert_frame_equal(local, remote)


def test_unreachable_scheduler_is_one_clear_error(tmp_path):
    """A scheduler address nobody listens on is refused with the address named."""
    points = grid("mlp", ["fine"], [0.5], ["magnitude"], finetune_epochs=0)
    with pytest.raises(InputError, match="cannot reach the Dask scheduler at 'tcp://127.0.0.1:9'"):
        run_sweep(points, ("lecture-array",), tmp_path, scheduler="tcp://127.0.0.1:9", progress=False)
