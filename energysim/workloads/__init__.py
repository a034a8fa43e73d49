"""Layer geometry and workload loading (TOML, NPZ tensors)."""

from __future__ import annotations

from energysim import _lazy_package

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


__getattr__, __dir__ = _lazy_package(__name__, _EXPORTS)

__all__ = sorted(_EXPORTS)
