"""The bundled hardware configs and workloads, shipped as package data.

The files live in the repository's top-level ``hwconfigs/`` and ``workloads/``
folders, where users see them; ``setup.py`` maps those folders into this
package as ``energysim.bundled.hwconfigs`` and ``energysim.bundled.workloads``,
so that a wheel, a ``pip install .`` and an editable install all find them
through :mod:`importlib.resources` (see :mod:`energysim.catalog`).

When this package is imported from a source checkout whose copy has no data
subfolders (tests run from the repository while a wheel is installed, or no
install at all), its submodules are also looked up in the repository root,
so ``energysim.bundled.hwconfigs`` is the top-level ``hwconfigs/`` folder.
"""

from pathlib import Path

_SOURCE_ROOT = Path(__file__).resolve().parents[2]
if not (Path(__file__).parent / "hwconfigs").is_dir() and (_SOURCE_ROOT / "hwconfigs" / "__init__.py").is_file():
    __path__.append(str(_SOURCE_ROOT))
