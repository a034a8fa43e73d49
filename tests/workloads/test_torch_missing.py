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
