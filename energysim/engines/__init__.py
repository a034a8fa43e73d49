"""The engines, one subpackage per ``kind``, around one contract (:mod:`~energysim.engines.base`).

:data:`ENGINES` names every engine by the ``kind`` a hardware file's ``[engine]``
table gives; :func:`build_engine` validates that table and builds the engine.
Each engine returns a :class:`~energysim.engines.result.LayerResult` per layer.
"""

from __future__ import annotations

from energysim.config.loading import validate_model
from energysim.engines.base import Engine
from energysim.engines.dense import DenseEngine
from energysim.engines.eie import EieEngine
from energysim.engines.loopnest import LoopNestEngine
from energysim.engines.sparse_tc import SparseTensorCoreEngine
from energysim.errors import ConfigError
from energysim.hardware.hierarchy import Hardware

ENGINES: dict[str, type[Engine]] = {
    engine.kind: engine for engine in (DenseEngine, EieEngine, LoopNestEngine, SparseTensorCoreEngine)
}
"""Every engine, by the ``kind`` a hardware file's ``[engine]`` table names."""


def build_engine(hardware: Hardware) -> Engine:
    """Validate the hardware's ``[engine]`` table and build the engine it names.

    Raises
    ------
    ConfigError
        If the kind is unknown, the table breaks the engine's config model, or the
        hardware lacks a level or a cost the engine needs.
    """
    source = hardware.path or hardware.name
    kind = hardware.engine_table.get("kind")
    if not isinstance(kind, str) or kind not in ENGINES:
        raise ConfigError(f"{source}: engine.kind: must be one of {', '.join(sorted(ENGINES))} (got {kind!r})")
    engine_cls = ENGINES[kind]
    config = validate_model(engine_cls.config_model, hardware.engine_table, source, prefix="engine")
    return engine_cls(hardware, config)


__all__ = ["ENGINES", "Engine", "build_engine"]
