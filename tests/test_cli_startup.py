"""Start-up: `import energysim` and the CLI's parser load no heavy module; the public names still resolve."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

PUBLIC = {
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
"""Every name `energysim` exported before it was made lazy, and the module defining it."""


def _python(code: str) -> object:
    """What a fresh interpreter running ``code`` prints as JSON on its last line."""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def test_public_names_resolve_to_their_definitions():
    """`from energysim import X` and `energysim.X` give the defining module's X for every exported name, also after
    the submodules energysim.simulate and energysim.hardware (which share a function's name) are imported."""
    checks = _python(f"""
import importlib, json
import energysim
names = {sorted(PUBLIC)!r}
modules = {PUBLIC!r}
early = {{name: getattr(energysim, name) for name in ("simulate",)}}
import energysim.simulate, energysim.hardware.hierarchy
ok = {{}}
for name in names:
    exec(f"from energysim import {{name}} as value")
    defined = getattr(importlib.import_module(modules[name]), name)
    ok[name] = value is defined and getattr(energysim, name) is defined
ok["early simulate"] = early["simulate"] is energysim.simulate
ok["__all__"] = sorted(energysim.__all__) == names
ok["dir"] = set(names) <= set(dir(energysim))
ok["__version__"] = isinstance(energysim.__version__, str) and bool(energysim.__version__)
print(json.dumps(ok))
""")
    assert checks == {name: True for name in checks} and set(PUBLIC) <= set(checks)


def test_unknown_name_is_an_attribute_error():
    """A name energysim does not export raises AttributeError naming it (hasattr is False), as for any module."""
    assert _python("import json, energysim\n"
                   "try:\n    energysim.no_such_name\n    print(json.dumps('no error'))\n"
                   "except AttributeError as exc:\n    print(json.dumps([str(exc), hasattr(energysim, 'nope')]))") == [
        "module 'energysim' has no attribute 'no_such_name'", False]


def test_import_energysim_loads_neither_pandas_nor_numpy():
    """`import energysim` and `import energysim.cli` load no pandas and no numpy (start-up of every command)."""
    loaded = _python("import json, sys, energysim, energysim.cli\n"
                     "print(json.dumps(sorted(m for m in ('pandas', 'numpy', 'numba') if m in sys.modules)))")
    assert loaded == []


def test_help_loads_no_pandas_engine_or_sweep():
    """`energysim --help` (and `reproduce --help`, `list hwconfigs`) builds the whole parser without pandas, numpy,
    pydantic, an engine, the sweep or pruning code: names for choices come from light modules."""
    loaded = _python("import io, json, sys\n"
                     "from energysim.cli import main\n"
                     "codes = [main([w for w in argv.split() if w], out=io.StringIO()) for argv in ('--help', 'reproduce --help', 'list hwconfigs')]\n"
                     "heavy = ('pandas', 'numpy', 'pydantic', 'numba', 'matplotlib', 'torch', 'energysim.engines', 'energysim.sweep',\n"
                     "         'energysim.prune.models', 'energysim.prune.training', 'energysim.prune.export', 'energysim.api')\n"
                     "print(json.dumps([codes, sorted(m for m in sys.modules if m in heavy)]))")
    assert loaded == [[0, 0, 0], []]


PRUNE_PUBLIC = {
    "CRITERIA": "energysim.prune.registry",
    "CRITERION_GRANULARITIES": "energysim.prune.registry",
    "Dataset": "energysim.prune.data",
    "GRANULARITIES": "energysim.prune.granularity",
    "Model": "energysim.prune.models",
    "PruneReport": "energysim.prune.pruner",
    "PruneRequest": "energysim.prune.pruner",
    "SCHEDULES": "energysim.prune.schedules",
    "TrainConfig": "energysim.prune.training",
    "build_model": "energysim.prune.models",
    "export_workload": "energysim.prune.export",
    "load_digits_dataset": "energysim.prune.data",
    "load_model": "energysim.prune.models",
    "plot_sensitivity": "energysim.prune.sensitivity",
    "prune_model": "energysim.prune.pruner",
    "run_schedule": "energysim.prune.schedules",
    "save_model": "energysim.prune.models",
    "sensitivity_scan": "energysim.prune.sensitivity",
    "train": "energysim.prune.training",
}
"""Every name `energysim.prune` exported before it was made lazy, and the module defining it."""


def test_map_objectives_are_the_mappers():
    """`map --objective` offers exactly the mapper's objectives (written out in loopnest_commands to keep start-up light)."""
    from energysim.engines.loopnest.mapper import OBJECTIVES
    from energysim.loopnest_commands import MAP_OBJECTIVES

    assert MAP_OBJECTIVES == OBJECTIVES


def test_prune_choices_are_the_registries_names():
    """The names the CLI offers for models, criteria, granularities, roundings and schedules are those of their registries."""
    from energysim.prune import choices
    from energysim.prune.granularity import GRANULARITIES, ROUNDINGS
    from energysim.prune.models import MODEL_BUILDERS
    from energysim.prune.registry import CRITERIA
    from energysim.prune.schedules import SCHEDULES

    assert choices.MODEL_NAMES == tuple(sorted(MODEL_BUILDERS))
    assert choices.CRITERION_NAMES == tuple(sorted(CRITERIA))
    assert (choices.GRANULARITY_NAMES, choices.ROUNDING_NAMES) == (GRANULARITIES, ROUNDINGS)
    assert choices.SCHEDULE_NAMES == SCHEDULES


WORKLOADS_PUBLIC = {
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
"""Every name `energysim.workloads` exported before it was made lazy, and the module defining it."""


@pytest.mark.parametrize("package, public", [("energysim.prune", PRUNE_PUBLIC), ("energysim.workloads", WORKLOADS_PUBLIC)])
def test_lazy_package_names_resolve_to_their_definitions(package, public):
    """`from P import X` and `P.X` give the defining module's X for every name P exported (prune, workloads)."""
    import importlib

    lazy = importlib.import_module(package)
    assert sorted(lazy.__all__) == sorted(public)
    for name, module in public.items():
        defined = getattr(importlib.import_module(module), name)
        exec(f"from {package} import {name} as value", namespace := {})
        assert namespace["value"] is defined and getattr(lazy, name) is defined, name
    assert set(public) <= set(dir(lazy))


def test_submodules_are_attributes_of_their_packages():
    """`energysim.api`, `energysim.engines`, `energysim.prune.models`, `energysim.workloads.layers` are modules after
    importing only their package (as when the packages imported them eagerly); `energysim.__main__` is never run."""
    checks = _python("import json, types, energysim, energysim.prune, energysim.workloads\n"
                     "mods = [energysim.api, energysim.engines, energysim.workloads, energysim.prune.models,\n"
                     "        energysim.workloads.layers]\n"
                     "print(json.dumps([all(isinstance(m, types.ModuleType) for m in mods), hasattr(energysim, '__main__'),\n"
                     "                  hasattr(energysim.prune, 'no_such_module'), callable(energysim.simulate)]))")
    assert checks == [True, False, False, True]
