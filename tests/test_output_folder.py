"""Output folders are checked before any work: a folder that cannot be written is refused up front."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from energysim.cli import main
from energysim.errors import InputError
from energysim.output_folder import check_can_write, claim_paths

UNWRITABLE = Path("/proc/self")
"""A folder of a pseudo file system in which nothing can be created, even by root."""

needs_proc = pytest.mark.skipif(not UNWRITABLE.is_dir(), reason="needs Linux's /proc to have an unwritable folder")


def test_the_probe_leaves_nothing_behind(tmp_path):
    """Checking a new folder under a writable one creates nothing: neither the folder nor a probe entry."""
    check_can_write(tmp_path / "a" / "b")
    check_can_write(tmp_path)
    assert list(tmp_path.iterdir()) == []


@needs_proc
def test_a_folder_under_an_unwritable_one_is_refused_naming_both():
    """A folder whose nearest existing ancestor takes no new entry is refused with the option, path and reason."""
    with pytest.raises(InputError, match=r"^--out /proc/self/x/y: cannot be written \(in /proc/self\): "):
        check_can_write(UNWRITABLE / "x" / "y")
    with pytest.raises(InputError, match=r"^-o /proc/self/new: cannot be written \(in /proc/self\)"):
        claim_paths({"-o": [UNWRITABLE / "new" / "workload.toml"]}, force=True)


@needs_proc
def test_run_refuses_an_unwritable_out_before_simulating():
    """`run --out` in an unwritable place exits 2 in one line and prints no table (nothing was simulated)."""
    out, err = io.StringIO(), io.StringIO()
    code = main(["run", "lecture-array", "lenet-300-100-han2015", "--out", str(UNWRITABLE / "x")], out=out, err=err)
    assert code == 2 and out.getvalue() == ""
    assert err.getvalue().count("\n") == 1 and "cannot be written" in err.getvalue()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a read-only folder; the test needs a normal user")
def test_a_read_only_folder_is_refused(tmp_path):
    """A folder without write permission is refused up front."""
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        with pytest.raises(InputError, match="cannot be written"):
            check_can_write(locked / "out")
    finally:
        locked.chmod(0o755)


@pytest.mark.parametrize("where", ["file", "held", "model-file"])
def test_prune_refuses_its_outputs_before_loading_the_data_set(tmp_path, monkeypatch, where):
    """`prune --out` on a file or a folder holding a workload, or `--save-model` on a file, exits 2 before any data loads."""
    import energysim.prune.data as data

    def no_data(*_args, **_kwargs):
        raise AssertionError("the data set was loaded")

    monkeypatch.setattr(data, "load_digits_dataset", no_data)
    (tmp_path / "afile").write_text("x")
    (tmp_path / "held").mkdir()
    (tmp_path / "held" / "workload.toml").write_text("")
    argv = {"file": ["--out", str(tmp_path / "afile")], "held": ["--out", str(tmp_path / "held")],
            "model-file": ["--out", str(tmp_path / "new"), "--save-model", str(tmp_path / "afile")]}[where]
    out, err = io.StringIO(), io.StringIO()
    code = main(["prune", "--granularity", "fine", "--sparsity", "0.5", *argv], out=out, err=err)
    assert code == 2 and out.getvalue() == "" and err.getvalue().count("\n") == 1
    assert ("already exists" if where == "held" else "is a file, not a folder") in err.getvalue()
    assert not (tmp_path / "new").exists()
