"""energysim: what does pruning a neural network buy in energy and latency on real hardware?

The Python API mirrors the command line; each function returns data, and none
writes a file unless it is given an output folder:

- :func:`simulate` -- ``energysim run``: a :class:`SimulationRun` (per-layer summary
  and count x cost rows, each naming its run: workload, hardware, mode, run);
- :func:`estimate` -- ``energysim estimate``: a pruned model next to its dense original,
  ratios as fractions of dense (:func:`estimate_details` gives the :class:`Estimate`);
- :func:`compare` -- ``energysim compare``: patterns x sparsities x criteria x hardware;
- :func:`prune_for_energy` -- ``energysim prune --energy-budget``: prune to a fraction of the
  simulated energy on one hardware, with the least accuracy lost;
- :func:`cost_table`, :func:`hardware_costs`, :func:`layer_cost_table` -- ``energysim costs``;
- :func:`from_torch` -- ``energysim import model.pt``: a PyTorch module (with its pruning masks) as a
  :class:`~energysim.workloads.Workload` (needs ``pip install 'energysim[torch]'``).

Long jobs take ``progress=``: a bar on stderr (None: only on a terminal, True: always).
"""

from importlib.metadata import PackageNotFoundError, version

from energysim.api import (
    compare,
    cost_table,
    estimate,
    estimate_details,
    hardware,
    hardware_costs,
    hardware_variants,
    layer_cost_table,
    prune_for_energy,
    simulate,
    validate_file,
    workload,
)
from energysim.estimation import Estimate
from energysim.workloads.torch_import import from_torch
from energysim.simulate import SimulationRun

try:
    __version__ = version("energysim")
except PackageNotFoundError:  # imported from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = [
    "Estimate",
    "SimulationRun",
    "compare",
    "cost_table",
    "estimate",
    "estimate_details",
    "from_torch",
    "hardware",
    "hardware_costs",
    "hardware_variants",
    "layer_cost_table",
    "prune_for_energy",
    "simulate",
    "validate_file",
    "workload",
]
