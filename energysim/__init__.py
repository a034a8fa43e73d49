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

from __future__ import annotations

import importlib
import sys
from types import ModuleType

_EXPORTS = {
    "Estimate": "energysim.estimation",
    "SimulationRun": "energysim.simulate",
    "compare": "energysim.api",
    "cost_table": "energysim.api",
    "estimate": "energysim.api",
    "estimate_details": "energysim.api",
    "from_torch": "energysim.workloads.torch_import",
    "hardware": "energysim.api",
    "hardware_costs": "energysim.api",
    "hardware_variants": "energysim.api",
    "layer_cost_table": "energysim.api",
    "prune_for_energy": "energysim.api",
    "simulate": "energysim.api",
    "validate_file": "energysim.api",
    "workload": "energysim.api",
}
"""Public name -> module defining it, imported on first use (``import energysim`` loads neither pandas nor an engine)."""


def __getattr__(name: str):
    """The public name ``name`` from its module on first access (PEP 562), then cached in this module; another
    name is the submodule of that name, imported (``energysim.api``, as when this package imported it eagerly)."""
    if name == "__version__":
        value = _version()
    elif name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
    else:
        return _submodule(__name__, name)
    globals()[name] = value
    return value


def _lazy_package(package: str, exports: dict[str, str]):
    """The PEP 562 ``__getattr__`` and ``__dir__`` of a subpackage whose public names are imported on first use.

    Parameters
    ----------
    package
        The subpackage's name (its ``__name__``).
    exports
        Public name -> module defining it; another name is the submodule of that name (:func:`_submodule`).
    """
    module = sys.modules[package]

    def __getattr__(name: str):
        if name not in exports:
            return _submodule(package, name)
        value = getattr(importlib.import_module(exports[name]), name)
        setattr(module, name, value)
        return value

    def __dir__() -> list[str]:
        return sorted({*vars(module), *exports})

    return __getattr__, __dir__


def _submodule(package: str, name: str) -> ModuleType:
    """The submodule ``package.name``, imported; AttributeError (as for any missing attribute) when there is none.

    Names starting with ``_`` are never imported this way (``energysim.__main__`` runs the command line).
    """
    if not name.startswith("_"):
        try:
            return importlib.import_module(f"{package}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{package}.{name}":
                raise  # the submodule exists and needs a module that is missing
    raise AttributeError(f"module {package!r} has no attribute {name!r}")


class _Package(ModuleType):
    """This package's module type: a public name keeps its function when a submodule of the same name is imported.

    ``energysim.simulate`` and ``energysim.hardware`` are functions of :mod:`energysim.api` and
    also submodules; importing the submodule binds its name on the package, which here is ignored.
    """

    def __setattr__(self, name: str, value: object) -> None:
        if name in _EXPORTS and isinstance(value, ModuleType):
            return  # the import system binding energysim.simulate (the module) over the public function
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


def __dir__() -> list[str]:
    """The package's names, the public ones included before their first use."""
    return sorted({*globals(), *_EXPORTS, "__version__"})


def _version() -> str:
    """The installed distribution's version ("0+unknown" from a source tree that was never installed)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("energysim")
    except PackageNotFoundError:
        return "0+unknown"


__all__ = sorted(_EXPORTS)
