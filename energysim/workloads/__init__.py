"""Layer geometry and workload loading (TOML, NPZ tensors)."""

from __future__ import annotations

import importlib

from energysim import _submodule

_EXPORTS = {
    "Conv2dLayer": "energysim.workloads.layers",
    "GemmLayer": "energysim.workloads.layers",
    "GemmShape": "energysim.workloads.layers",
    "Layer": "energysim.workloads.layers",
    "LayerTensors": "energysim.workloads.workload",
    "LinearLayer": "energysim.workloads.layers",
    "Workload": "energysim.workloads.workload",
    "WorkloadLayer": "energysim.workloads.workload",
    "load_workload": "energysim.workloads.workload",
}
"""Public name -> module defining it, imported on first use (the command line reaches
:mod:`energysim.workloads.import_commands` without loading numpy)."""


def __getattr__(name: str):
    """The public name ``name`` from its module on first access (PEP 562), then cached in this package; another
    name is the submodule of that name, imported (as when this package imported its modules eagerly)."""
    if name not in _EXPORTS:
        return _submodule(__name__, name)
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The package's names, the public ones included before their first use."""
    return sorted({*globals(), *_EXPORTS})


__all__ = sorted(_EXPORTS)
