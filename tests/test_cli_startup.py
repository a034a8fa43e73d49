"""Start-up: `import energysim` and the CLI's parser load no heavy module; the public names still resolve."""

from __future__ import annotations

import json
import subprocess
import sys

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
