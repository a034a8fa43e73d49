"""The bundled hardware configs and workloads, shipped as package data.

The files live in the repository's top-level ``hwconfigs/`` and ``workloads/``
folders, where users see them; ``setup.py`` maps those folders into this
package as ``energysim.bundled.hwconfigs`` and ``energysim.bundled.workloads``,
so that a wheel, a ``pip install .`` and an editable install all find them
through :mod:`importlib.resources` (see :mod:`energysim.catalog`).
"""
