"""Layer geometry and workload loading (TOML, NPZ tensors)."""

from energysim.workloads.layers import Conv2dLayer, GemmLayer, GemmShape, Layer, LinearLayer
from energysim.workloads.workload import LayerTensors, Workload, WorkloadLayer, load_workload

__all__ = [
    "Conv2dLayer",
    "GemmLayer",
    "GemmShape",
    "Layer",
    "LayerTensors",
    "LinearLayer",
    "Workload",
    "WorkloadLayer",
    "load_workload",
]
