"""The contract every engine keeps: what it is configured by, what a run may choose, what it returns.

An engine is a subclass of :class:`Engine` that sets

- ``kind``: the name a hardware file's ``[engine]`` table gives (``kind = "dense"``);
- ``config_model``: the strict pydantic model of that ``[engine]`` table;
- ``options_model``: the strict pydantic model of the options one run may set
  (``engine.simulate(layer, path="cycle")``, ``energysim run --mode``);
- ``level_kinds``: the memory level kinds it needs, outermost first (None: any);

and implements ``required_costs`` (every (component, action) it counts, which the
hardware file must price) and ``run``. Its class docstring describes the model
and ends with a References section. :func:`energysim.engines.build_engine`
validates the ``[engine]`` table and builds the engine; :meth:`Engine.simulate`
validates the options and runs one layer.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar, Literal, get_args, get_origin

from pydantic import BaseModel, ConfigDict, ValidationError

from energysim.engines.result import LayerResult
from energysim.errors import ConfigError, InputError
from energysim.hardware.hierarchy import Hardware
from energysim.workloads.layers import Layer
from energysim.workloads.workload import LayerTensors

OPTIONS_CONFIG = ConfigDict(frozen=True, extra="forbid", strict=True, arbitrary_types_allowed=True)
"""Model config of every options model: unknown names refused, no silent coercion (``"1"`` is not ``True``)."""


class NoOptions(BaseModel):
    """The options of an engine that takes none."""

    model_config = OPTIONS_CONFIG


class Engine(ABC):
    """A counting model of one kind of accelerator: a layer in, a :class:`LayerResult` out.

    Parameters
    ----------
    hardware
        The loaded hardware; its memory levels and units price every count.
    config
        The validated ``[engine]`` table (an instance of ``config_model``).

    Raises
    ------
    ConfigError
        If the hardware's memory levels are not the kinds the engine needs
        (``level_kinds``), or it does not price a count the engine makes
        (:meth:`required_costs`).
    """

    kind: ClassVar[str]
    config_model: ClassVar[type[BaseModel]]
    options_model: ClassVar[type[BaseModel]] = NoOptions
    level_kinds: ClassVar[tuple[str, ...] | None] = None

    def __init__(self, hardware: Hardware, config: BaseModel) -> None:
        self.hardware = hardware
        self.config = config
        self.source = str(hardware.path or hardware.name)
        kinds = tuple(level.config.kind for level in hardware.levels)
        if self.level_kinds is not None and kinds != self.level_kinds:
            raise ConfigError(f"{self.source}: memory: the {self.kind} engine needs levels {', '.join(self.level_kinds)}, "
                              f"outermost first (got {', '.join(kinds) or 'none'})")
        for component, action in self.required_costs():
            try:
                hardware.cost_of(component, action)
            except InputError as exc:
                raise ConfigError(f"{self.source}: the {self.kind} engine counts {component}.{action}, which the "
                                  f"hardware file does not price ({exc})") from None

    def required_costs(self) -> tuple[tuple[str, str], ...]:
        """Every (component, action) the engine counts; :meth:`__init__` checks the hardware prices each."""
        return ()

    def read_options(self, given: Mapping[str, Any]) -> BaseModel:
        """Validate one run's options against ``options_model``.

        Raises
        ------
        InputError
            One line naming the engine, the hardware, the option, the rule and the value.
        """
        try:
            return self.options_model.model_validate(dict(given))
        except ValidationError as exc:
            error = exc.errors()[0]
        name = str(error["loc"][0]) if error["loc"] else "(options)"
        where = f"engine '{self.kind}' of hardware '{self.hardware.name}'"
        fields = self.options_model.model_fields
        if error["type"] == "extra_forbidden":
            raise InputError(f"{where} has no option '{name}' (it takes: {', '.join(sorted(fields)) or 'none'})")
        if error["type"] == "value_error":  # a field validator's own rule, e.g. "must be a mapping TOML file, ..."
            raise InputError(f"{where}: {name} {str(error['msg']).removeprefix('Value error, ')}")
        rule = f"must be {_expected(fields[name].annotation)}" if name in fields else error["msg"]
        raise InputError(f"{where}: {name} {rule} (got {error.get('input')!r})")

    def mode(self, options: BaseModel) -> str:
        """The engine mode a run with these options uses ('' for an engine without modes)."""
        return ""

    def simulate(self, layer: Layer, tensors: LayerTensors | None = None, **options: Any) -> LayerResult:
        """Simulate one layer.

        Parameters
        ----------
        layer
            The layer (its geometry; engines lower it to what they run).
        tensors
            Real weights, mask and activations, or None (the layer's densities).
        **options
            This run's options: the fields of ``options_model``.

        Raises
        ------
        InputError
            If an option is unknown or its value breaks the options model.
        """
        return self.run(layer, tensors, self.read_options(options))

    @abstractmethod
    def run(self, layer: Layer, tensors: LayerTensors | None, options: Any) -> LayerResult:
        """Count one layer under validated options (an instance of ``options_model``)."""

    def result(self, layer: Layer, **fields: Any) -> LayerResult:
        """A :class:`LayerResult` of this engine and hardware for ``layer`` (its other fields as given)."""
        return LayerResult(layer=layer.name, engine=self.kind, hardware=self.hardware.name,
                           clock_ghz=self.hardware.clock_ghz, **fields)


def _expected(annotation: Any) -> str:
    """What a type annotation admits, in words: ``one of fast, cycle``; ``str, Path or None``."""
    values = _literal_values(annotation)
    if values:
        return f"one of {', '.join(map(str, values))}"
    names = ["None" if arg is type(None) else getattr(arg, "__name__", str(arg)) for arg in get_args(annotation) or (annotation,)]
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def _literal_values(annotation: Any) -> list[Any]:
    """The values of every ``Literal`` in a type annotation (``Literal["a", "b"] | None`` -> ``["a", "b"]``)."""
    if get_origin(annotation) is Literal:
        return list(get_args(annotation))
    return [value for arg in get_args(annotation) for value in _literal_values(arg)]
