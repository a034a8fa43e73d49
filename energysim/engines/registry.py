"""The engine registry: engine kind -> engine class (with its config model).

Each engine class has ``kind`` (str), ``config_model`` (a strict pydantic model of
the hardware file's ``[engine]`` table), a docstring with a References section,
``__init__(hardware, config)`` and ``simulate(layer, tensors=None) -> LayerResult``.
"""

from __future__ import annotations

from typing import Any

from energysim.config.loading import validate_model
from energysim.engines.dense import DenseEngine
from energysim.engines.eie import EieEngine
from energysim.engines.loopnest import LoopNestEngine
from energysim.engines.sparse_tc import SparseTensorCoreEngine
from energysim.errors import ConfigError
from energysim.hardware.hierarchy import Hardware

ENGINES: dict[str, type] = {
    DenseEngine.kind: DenseEngine,
    EieEngine.kind: EieEngine,
    LoopNestEngine.kind: LoopNestEngine,
    SparseTensorCoreEngine.kind: SparseTensorCoreEngine,
}
"""Every engine, by the ``kind`` a hardware file's ``[engine]`` table names."""


def build_engine(hardware: Hardware) -> Any:
    """Validate the hardware's ``[engine]`` table and build the engine it names.

    Raises
    ------
    ConfigError
        If the kind is unknown or the table breaks the engine's config model.
    """
    source = hardware.path or hardware.name
    kind = hardware.engine_table.get("kind")
    if not isinstance(kind, str) or kind not in ENGINES:
        raise ConfigError(f"{source}: engine.kind: must be one of {', '.join(sorted(ENGINES))} (got {kind!r})")
    engine_cls = ENGINES[kind]
    config = validate_model(engine_cls.config_model, hardware.engine_table, source, prefix="engine")
    return engine_cls(hardware, config)
