"""energysim: what does pruning a neural network buy in energy and latency on real hardware?

The Python API mirrors the command line; each function returns pandas DataFrames
(``simulate`` returns a :class:`~energysim.simulate.SimulationRun` holding them):

- :func:`simulate` -- ``energysim run``: per-layer summary and count x cost rows;
- :func:`estimate` -- ``energysim estimate``: a pruned model next to its dense original;
- :func:`compare` -- ``energysim compare``: patterns x sparsities x criteria x hardware;
- :func:`cost_table`, :func:`hardware_costs`, :func:`layer_cost_table` -- ``energysim costs``.
"""

from energysim.api import (
    compare,
    cost_table,
    estimate,
    estimate_details,
    hardware,
    hardware_costs,
    layer_cost_table,
    simulate,
    validate_file,
    workload,
)

__version__ = "0.1.0"

__all__ = [
    "compare",
    "cost_table",
    "estimate",
    "estimate_details",
    "hardware",
    "hardware_costs",
    "layer_cost_table",
    "simulate",
    "validate_file",
    "workload",
]
