"""Mappings: temporal and spatial loops per level, their TOML file, checks, and the default mapping.

A mapping gives, for every storage level of the hardware (outermost first),
its temporal loop factors with their order (outer to inner), its spatial
factors along X and Y (a fan-out over the next inner level's mesh, or over
the MACs at the innermost level) and the tensors it makes bypass the level.
The full nest, outer to inner, is level 0's temporal loops, its spatial X then
Y loops, level 1's temporal loops, and so on. A mapping file::

    schema_version = 1

    [[mappings]]
    layer = "conv3_1"                 # optional: applies to every other layer when omitted

    [[mappings.levels]]
    name = "DRAM"
    factors = { K = 16, P = 4 }
    order = ["K", "P"]                # outer to inner; every factor > 1 listed

    [[mappings.levels]]
    name = "GlobalBuffer"
    factors = { C = 128 }
    order = ["C"]
    spatial_x = { K = 16 }
    spatial_y = { P = 14 }
    bypass = ["weights"]              # optional
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, StrictInt, model_validator

from energysim.config.loading import load_model_file
from energysim.engines.loopnest.geometry import points
from energysim.engines.loopnest.spec import Spec
from energysim.errors import ConfigError
from energysim.workloads.loop_nest import DIMS, TENSORS, LoopNest

Factors = tuple[tuple[str, int], ...]
"""(dimension, factor) pairs, in loop order outer to inner for temporal loops."""

Occupancy = Callable[["Mapping", int, str, int], int]
"""(mapping, level index, tensor, dense tile words) -> words the tile occupies."""


@dataclass(frozen=True)
class LevelLoops:
    """The loops one storage level runs.

    Attributes
    ----------
    name
        Hardware level name.
    temporal
        Temporal loops, outer to inner.
    spatial_x, spatial_y
        Spatial loops over the fan-out below the level.
    bypass
        Tensors this mapping does not keep at the level.
    """

    name: str
    temporal: Factors = ()
    spatial_x: Factors = ()
    spatial_y: Factors = ()
    bypass: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Loop:
    """One loop of the flattened nest: its level, dimension, factor and kind ('t', 'x' or 'y')."""

    level: int
    dim: str
    factor: int
    kind: str


@dataclass(frozen=True)
class Mapping:
    """A complete mapping: one :class:`LevelLoops` per hardware level, outermost first.

    Attributes
    ----------
    levels
        Loops per level.
    source
        Where it came from (a file and entry, ``default``, ``mapper``), reported in stats.
    """

    levels: tuple[LevelLoops, ...]
    source: str = ""

    @cached_property
    def loops(self) -> tuple[Loop, ...]:
        """The flattened nest outer to inner, loops with factor 1 dropped."""
        out = []
        for index, level in enumerate(self.levels):
            for kind, factors in (("t", level.temporal), ("x", level.spatial_x), ("y", level.spatial_y)):
                out.extend(Loop(index, dim, int(f), kind) for dim, f in factors if f > 1)
        return tuple(out)

    def keeps(self, spec: Spec, index: int, tensor: str) -> bool:
        """Whether level ``index`` keeps ``tensor`` (the hardware holds it and the mapping does not bypass it)."""
        return spec.levels[index].holds(tensor) and tensor not in self.levels[index].bypass

    def tile_extents(self, index: int) -> dict[str, int]:
        """Extent per dimension of the tile level ``index`` holds: the product of factors at it and below."""
        extents = dict.fromkeys(DIMS, 1)
        for loop in self.loops:
            if loop.level >= index:
                extents[loop.dim] *= loop.factor
        return extents

    def describe(self) -> str:
        """One line, e.g. ``DRAM[K16 P4] GlobalBuffer[C128 | x:K16 y:P14]``."""
        parts = []
        for level in self.levels:
            text = " ".join(f"{d}{f}" for d, f in level.temporal if f > 1)
            space = " ".join(f"{axis}:{d}{f}" for axis, fs in (("x", level.spatial_x), ("y", level.spatial_y))
                             for d, f in fs if f > 1)
            if space:
                text = f"{text} | {space}" if text else space
            if level.bypass:
                text += f" bypass:{','.join(sorted(level.bypass))}"
            parts.append(f"{level.name}[{text}]")
        return " ".join(parts)


def tile_words(nest: LoopNest, extents: dict[str, int], tensor: str) -> int:
    """Distinct points of ``tensor`` touched by a box of loop extents."""
    size = 1
    for axis in nest.axes(tensor):
        size *= points(tuple((coef, extents[dim]) for dim, coef in axis))
    return size


def check_mapping(spec: Spec, nest: LoopNest, mapping: Mapping, where: str,
                  occupancy: Occupancy | None = None) -> None:
    """Raise one ConfigError line for the first rule the mapping breaks.

    Rules: one entry per hardware level in order; factors of each dimension
    multiply to its bound; spatial factors fit the fan-out along X and Y; only
    held tensors are bypassed and the outermost level keeps all; every kept
    tile fits its level (its own partition, or the shared capacity).

    Parameters
    ----------
    where
        Prefix naming the file and entry, e.g. ``map.toml: mappings[0]``.
    occupancy
        Words a kept tile really occupies (a compressed tile: non-zeros plus
        metadata), see :func:`capacity_problem`; None = dense tiles.
    """
    names = [level.name for level in mapping.levels]
    wanted = [level.name for level in spec.levels]
    if names != wanted:
        raise ConfigError(f"{where}.levels: must name every hardware level once, outermost first, {wanted} (got {names})")
    product = dict.fromkeys(DIMS, 1)
    for loop in mapping.loops:
        product[loop.dim] *= loop.factor
    for dim in DIMS:
        if product[dim] != nest.bounds[dim]:
            raise ConfigError(
                f"{where}: dimension {dim}: factors must multiply to the layer's {dim} = {nest.bounds[dim]} "
                f"for layer '{nest.name}' (got {product[dim]})"
            )
    for index, (level, loops) in enumerate(zip(spec.levels, mapping.levels)):
        at = f"{where}.levels[{index}]"
        for axis, factors, fan in (("x", loops.spatial_x, level.fanout_x), ("y", loops.spatial_y, level.fanout_y)):
            used = 1
            for _, f in factors:
                used *= f
            if used > fan:
                raise ConfigError(f"{at}.spatial_{axis}: fan-out must be at most the {fan} instances below '{level.name}' (got {used})")
        for tensor in sorted(loops.bypass):
            if not level.holds(tensor):
                raise ConfigError(f"{at}.bypass: '{tensor}' is not held by '{level.name}' anyway (holds {list(level.level.config.holds)})")
            if index == 0:
                raise ConfigError(f"{at}.bypass: the outermost level keeps every tensor (got {sorted(loops.bypass)})")
        problem = capacity_problem(spec, nest, mapping, index, occupancy)
        if problem:
            raise ConfigError(f"{at}: {problem}")


class LevelMappingFile(BaseModel):
    """One ``[[mappings.levels]]`` table."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1)
    factors: dict[str, StrictInt] = Field(default_factory=dict, description="Temporal factor per dimension.")
    order: list[str] = Field(default_factory=list, description="Temporal loops, outer to inner.")
    spatial_x: dict[str, StrictInt] = Field(default_factory=dict)
    spatial_y: dict[str, StrictInt] = Field(default_factory=dict)
    bypass: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check(self) -> "LevelMappingFile":
        for key in ("factors", "spatial_x", "spatial_y"):
            for dim, value in getattr(self, key).items():
                if dim not in DIMS:
                    raise ValueError(f"{key}: '{dim}' is not a dimension ({', '.join(DIMS)})")
                if value < 1:
                    raise ValueError(f"{key}.{dim}: must be >= 1 (got {value})")
        for dim in self.order:
            if dim not in DIMS:
                raise ValueError(f"order: '{dim}' is not a dimension ({', '.join(DIMS)})")
        if len(set(self.order)) != len(self.order):
            raise ValueError(f"order: must not repeat a dimension (got {self.order})")
        unordered = [d for d, f in self.factors.items() if f > 1 and d not in self.order]
        if unordered and not (len(unordered) == 1 and not self.order):
            raise ValueError(f"order: must list every dimension with a temporal factor > 1 (missing {unordered})")
        for tensor in self.bypass:
            if tensor not in TENSORS:
                raise ValueError(f"bypass: '{tensor}' is not a tensor ({', '.join(TENSORS)})")
        return self

    def loops(self) -> LevelLoops:
        """As :class:`LevelLoops`."""
        order = self.order or [d for d, f in self.factors.items() if f > 1]
        return LevelLoops(
            name=self.name,
            temporal=tuple((d, self.factors.get(d, 1)) for d in order),
            spatial_x=tuple(self.spatial_x.items()),
            spatial_y=tuple(self.spatial_y.items()),
            bypass=frozenset(self.bypass),
        )


class LayerMappingFile(BaseModel):
    """One ``[[mappings]]`` entry: the loops of one layer (or of every layer not named elsewhere)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    layer: str | None = Field(default=None, min_length=1)
    levels: list[LevelMappingFile] = Field(min_length=1)


class MappingFile(BaseModel):
    """The strict schema of a mapping TOML file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: int
    mappings: list[LayerMappingFile] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> "MappingFile":
        layers = [m.layer for m in self.mappings]
        for layer in layers:
            if layers.count(layer) > 1:
                what = f"layer '{layer}'" if layer else "the entry without a layer"
                raise ValueError(f"mappings: {what} appears {layers.count(layer)} times")
        return self


@dataclass(frozen=True)
class MappingSet:
    """A loaded mapping file: a mapping per named layer and an optional one for the rest."""

    path: Path
    by_layer: dict[str, tuple[int, Mapping]]
    fallback: tuple[int, Mapping] | None

    def for_layer(self, name: str) -> tuple[str, Mapping]:
        """(where, mapping) for a layer: ``file: mappings[i]`` and its loops.

        Raises
        ------
        ConfigError
            If the file has neither an entry for the layer nor one without a layer.
        """
        entry = self.by_layer.get(name) or self.fallback
        if entry is None:
            raise ConfigError(
                f"{self.path}: mappings: no entry for layer '{name}' and none without a layer "
                f"(layers: {', '.join(sorted(self.by_layer)) or 'none'})"
            )
        index, mapping = entry
        return f"{self.path}: mappings[{index}]", mapping


def load_mapping(path: str | Path, data: dict | None = None) -> MappingSet:
    """Read and validate a mapping TOML file (hardware-independent rules only).

    ``data`` is the file's parsed TOML when the caller has read it already (None: read here).

    Raises
    ------
    ConfigError
        One line per problem, naming the file, the field, the rule and the value.
    """
    path = Path(path)
    spec = load_model_file(path, MappingFile, data)
    by_layer: dict[str, tuple[int, Mapping]] = {}
    fallback = None
    for index, entry in enumerate(spec.mappings):
        mapping = Mapping(tuple(level.loops() for level in entry.levels), source=f"{path.name}: mappings[{index}]")
        if entry.layer is None:
            fallback = (index, mapping)
        else:
            by_layer[entry.layer] = (index, mapping)
    return MappingSet(path, by_layer, fallback)


DEFAULT_ORDER = ("N", "G", "K", "P", "Q", "C", "R", "S")
"""Temporal loop order (outer to inner) of the default mapping at every level."""

_GROW_ORDER = ("S", "R", "C", "Q", "P", "N", "K", "G")
"""Dimensions the default mapping moves into an inner level first."""


def _prime_factors(value: int) -> list[int]:
    out, p = [], 2
    while p * p <= value:
        while value % p == 0:
            out.append(p)
            value //= p
        p += 1
    if value > 1:
        out.append(value)
    return out


def _largest_divisor_at_most(value: int, limit: int) -> int:
    return max(d for d in range(1, min(value, limit) + 1) if value % d == 0)


def default_mapping(spec: Spec, nest: LoopNest, occupancy: Occupancy | None = None) -> Mapping:
    """A simple valid mapping, used when no mapping is given and no mapper runs.

    1. Spatial: at each level with a fan-out, X takes the largest divisor of
       the still unassigned K that fits, Y the same from P, then Q, then N.
    2. Temporal: every remaining factor starts at the outermost level.
    3. From the innermost level outwards, prime factors move from the outermost
       level into the level, dimension by dimension in the order S, R, C, Q, P,
       N, K, G, while every kept tile of the levels it enlarges still fits.
    Every level runs its temporal loops in the order N, G, K, P, Q, C, R, S
    (outer to inner): reduction innermost, so partial sums stay put.
    ``occupancy`` (see :func:`capacity_problem`) sizes compressed tiles.

    Raises
    ------
    ConfigError
        If even the mapping with no temporal loop below the outermost level does not fit.
    """
    remaining = dict(nest.bounds)
    spatial: list[tuple[Factors, Factors]] = []
    for level in spec.levels:
        x = _largest_divisor_at_most(remaining["K"], level.fanout_x)
        remaining["K"] //= x
        ys, room = [], level.fanout_y
        for dim in ("P", "Q", "N"):
            y = _largest_divisor_at_most(remaining[dim], room)
            if y > 1:
                ys.append((dim, y))
                remaining[dim] //= y
                room //= y
        spatial.append(((("K", x),) if x > 1 else (), tuple(ys)))
    temporal = [dict.fromkeys(DIMS, 1) for _ in spec.levels]
    temporal[0] = dict(remaining)

    def build() -> Mapping:
        return Mapping(tuple(
            LevelLoops(level.name, tuple((d, temporal[i][d]) for d in DEFAULT_ORDER if temporal[i][d] > 1),
                       spatial[i][0], spatial[i][1])
            for i, level in enumerate(spec.levels)
        ), source="default")

    def fits(mapping: Mapping, upto: int) -> bool:
        return all(capacity_problem(spec, nest, mapping, index, occupancy) is None for index in range(1, upto + 1))

    if not fits(build(), len(spec.levels) - 1):
        check_mapping(spec, nest, build(), f"{spec.hardware.path or spec.hardware.name}: default mapping for '{nest.name}'",
                      occupancy)
    for index in range(len(spec.levels) - 1, 0, -1):
        for dim in _GROW_ORDER:
            for prime in _prime_factors(temporal[0][dim]):
                temporal[0][dim] //= prime
                temporal[index][dim] *= prime
                if not fits(build(), index):
                    temporal[0][dim] *= prime
                    temporal[index][dim] //= prime
                    break
    mapping = build()
    check_mapping(spec, nest, mapping, f"default mapping for '{nest.name}'", occupancy)
    return mapping


def capacity_problem(spec: Spec, nest: LoopNest, mapping: Mapping, index: int,
                     occupancy: Occupancy | None = None) -> str | None:
    """Why the kept tiles of level ``index`` do not fit it (rule and value), or None when they fit.

    ``occupancy(mapping, index, tensor, dense_words) -> words`` gives what a tile really
    occupies (the sparse model's compressed tiles); without it a tile occupies its points.
    """
    level = spec.levels[index]
    extents = mapping.tile_extents(index)
    words = {t: tile_words(nest, extents, t) for t in TENSORS if mapping.keeps(spec, index, t)}
    if occupancy is not None:
        words = {t: occupancy(mapping, index, t, w) for t, w in words.items()}
    for tensor, size in words.items():
        own = level.level.tensor_capacity_words(tensor)
        if own is not None and size > own:
            return f"tile of {tensor} must fit the {own}-word {tensor} capacity of '{level.name}' (got {size} words)"
    shared = level.level.config.capacity_bytes
    if shared is not None:
        capacity = shared * 8 // level.level.config.word_bits
        total = sum(words.values())
        if total > capacity:
            tiles = ", ".join(f"{t} {w}" for t, w in words.items())
            return f"tiles ({tiles}) must fit the {capacity}-word capacity of '{level.name}' (got {total} words)"
    return None
