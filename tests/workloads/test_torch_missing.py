"""Without torch installed, the PyTorch entry points refuse in one line that says how to install it."""

from __future__ import annotations

import sys

import pytest

import energysim
from energysim.errors import InputError


def test_from_torch_without_torch_names_the_extra(monkeypatch):
    """energysim.from_torch raises one InputError line naming pip install 'energysim[torch]' when torch cannot be imported."""
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(InputError, match=r"need the 'torch' package.*pip install 'energysim\[torch\]'") as caught:
        energysim.from_torch(object(), None)
    assert "\n" not in str(caught.value)


def test_import_of_a_torch_file_without_torch_exits_2(tmp_path, monkeypatch):
    """`energysim import model.pt` without torch exits 2 with one line saying how to install it, and writes nothing."""
    import io

    from energysim.cli import main

    monkeypatch.setitem(sys.modules, "torch", None)
    (tmp_path / "model.pt").write_bytes(b"x")
    err = io.StringIO()
    assert main(["import", str(tmp_path / "model.pt"), "-o", str(tmp_path / "out")], out=io.StringIO(), err=err) == 2
    assert len(err.getvalue().splitlines()) == 1 and "pip install 'energysim[torch]'" in err.getvalue()
    assert not (tmp_path / "out").exists()
