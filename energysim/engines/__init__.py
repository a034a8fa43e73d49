"""The engines, one subpackage per ``kind``, around one contract (:mod:`~energysim.engines.base`).

:data:`ENGINES` names every engine by the ``kind`` a hardware file's ``[engine]``
table gives; :func:`build_engine` validates that table and builds the engine.
Each engine returns a :class:`~energysim.engines.result.LayerResult` per layer.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping

from energysim.config.loading import validate_model
from energysim.engines.base import Engine
from energysim.errors import ConfigError
from energysim.hardware.hierarchy import Hardware

ENGINE_CLASSES = {
    "dense": ("energysim.engines.dense", "DenseEngine"),
    "eie": ("energysim.engines.eie", "EieEngine"),
    "loopnest": ("energysim.engines.loopnest", "LoopNestEngine"),
    "sparse_tc": ("energysim.engines.sparse_tc", "SparseTensorCoreEngine"),
}
"""Each engine ``kind``: the subpackage and the class that implement it."""


class _EngineClasses(Mapping):
    """``kind -> engine class``, each subpackage imported the first time its kind is looked up (a run pays
    for the one engine it uses, not for all four)."""

    def __getitem__(self, kind: str) -> type[Engine]:
        module, name = ENGINE_CLASSES[kind]
        engine = getattr(importlib.import_module(module), name)
        if engine.kind != kind:
            raise AssertionError(f"{module}.{name}.kind is {engine.kind!r}, listed as {kind!r}")
        return engine

    def __iter__(self) -> Iterator[str]:
        return iter(ENGINE_CLASSES)

    def __len__(self) -> int:
        return len(ENGINE_CLASSES)


ENGINES: Mapping[str, type[Engine]] = _EngineClasses()
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
