"""What the mapper may choose: user constraints and dataflows written as constraints.

A :class:`MapperConstraints` is read from a TOML table (``[mapper]`` of a loop-nest
hardware file, or given to :func:`~energysim.engines.loopnest.mapper.map_layer`)
and resolved against one layer and hierarchy into a :class:`Resolved` (arrays
over the map space's slots, see :mod:`energysim.engines.loopnest.mapper_space`).

A level's spatial constraints (``spatial_x``, ``spatial_y`` and the allowed
dimensions) concern its spatial loops, which fan out over the next inner
level's mesh (the MACs' at the innermost level), as in a mapping file.

A dataflow is nothing but constraints on the innermost storage level (the
per-PE level) and on the spatial fan-outs:

``output_stationary``
    the innermost level's temporal loops run only over dimensions that do not
    index the outputs (a partial sum stays in the PE while its reduction runs),
    and spatial loops only over dimensions that index the outputs (no spatial
    reduction);
``weight_stationary``
    likewise with the weights: the innermost level's temporal loops do not
    touch the weight index, spatial loops split only weight dimensions;
``row_stationary`` (Eyeriss; convolutions only)
    each PE runs a 1-D convolution of one filter row and one input row: at the
    innermost level ``R = 1``, ``P = 1`` and the whole ``S``; the PE columns (Y)
    take the whole ``R`` (and may add ``C`` or ``K``), the rows (X) take ``P``
    (and may add ``K`` or ``N``).

Factors are loop bounds; ``"all"`` means the dimension's full size (so the
other slots get 1); ``temporal_max`` caps a temporal loop bound the mapper
chooses (Timeloop's factor bound ``M<=8``). Keep and bypass may only drop tensors a level keeps in the
hardware file; the outermost level always keeps every tensor.

Constraints are checked against a layer only when it is mapped, long after
their file was read, so a :class:`MapperConstraints` validated from a file
(:func:`energysim.config.loading.validate_model` puts the file in the
validation context) remembers where it came from, and every error
:func:`resolve` raises starts with it: ``c.toml: levels[0] (L9): ...`` for a
constraints file, ``hw.toml: engine.mapper.levels[0] (L9): ...`` for the
``[engine.mapper]`` table of a hardware file, ``mapper constraints: ...`` for
constraints built in Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationInfo, model_validator

from energysim.engines.loopnest.mapper_space import MapProblem
from energysim.errors import InputError

Dataflow = Literal["output_stationary", "weight_stationary", "row_stationary"]
Tensor = Literal["weights", "inputs", "outputs"]
Factor = Annotated[int, Field(gt=0)] | Literal["all"]
"""A loop bound (a positive integer) or ``"all"`` (the dimension's full size)."""


class LevelConstraint(BaseModel):
    """Constraints on one storage level's loops: its temporal loops and its spatial loops, which fan
    out over the next inner level's mesh (or the MACs), as in a mapping file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    level: str = Field(min_length=1, description="Storage level name, as in the hardware file.")
    temporal: dict[str, Factor] = Field(default_factory=dict, description="Fixed temporal loop bounds at this level, by dimension.")
    temporal_max: dict[str, Annotated[int, Field(gt=0)]] = Field(
        default_factory=dict, description="Largest temporal loop bound the mapper may choose at this level, by dimension "
                                          "(Timeloop's factor bound M<=8).")
    spatial_x: dict[str, Factor] = Field(default_factory=dict, description="Fixed spatial bounds along X of the fan-out below.")
    spatial_y: dict[str, Factor] = Field(default_factory=dict, description="Fixed spatial bounds along Y of the fan-out below.")
    spatial_x_dims: tuple[str, ...] | None = Field(default=None, description="Dimensions allowed on the X axis (None = any).")
    spatial_y_dims: tuple[str, ...] | None = Field(default=None, description="Dimensions allowed on the Y axis (None = any).")
    order: tuple[str, ...] | None = Field(
        default=None, description="Temporal loop order at this level, outer to inner; unlisted dimensions go outermost."
    )
    keep: tuple[Tensor, ...] | None = Field(
        default=None, description="Exactly these tensors are kept (the rest bypass); None = the mapper chooses."
    )


class MapperConstraints(BaseModel):
    """Everything that narrows the map space of a layer."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    dataflow: Dataflow | None = Field(default=None, description="A dataflow, expanded into level constraints.")
    allow_bypass: bool = Field(
        default=False, description="Whether the mapper may bypass tensors a level keeps (False: keep as the hardware says)."
    )
    min_utilisation: float = Field(default=0.0, ge=0.0, le=1.0, description="Least fraction of compute units busy.")
    levels: tuple[LevelConstraint, ...] = Field(default=(), description="Per-level constraints.")
    _origin: str = PrivateAttr(default="mapper constraints: ")
    """What every error of :func:`resolve` starts with: the file and the table these constraints were read from."""

    @model_validator(mode="after")
    def _remember_file(self, info: ValidationInfo) -> "MapperConstraints":
        """Keep the file (and the ``[engine.mapper]`` table, inside a hardware file) validation was told of."""
        context = info.context or {}
        if "source" in context:
            prefix = context.get("prefix", "")
            self._origin = f"{context['source']}: {prefix}.mapper." if prefix else f"{context['source']}: "
        return self

    def key(self) -> str:
        """A stable text of the constraints, for cache keys."""
        return self.model_dump_json()


@dataclass(frozen=True)
class Resolved:
    """Constraints resolved against one :class:`MapProblem`.

    Attributes
    ----------
    fixed
        ``(n_slots, n_dims)``: a fixed loop bound, or 0 where the mapper chooses.
    maxima
        ``(n_slots, n_dims)``: the largest loop bound the mapper may choose, or 0 for no bound.
    keep
        ``(n_levels, n_tensors)``: 1 kept, 0 bypassed, -1 the mapper chooses.
    orders
        Per level, a fixed full loop order (outer to inner), or None.
    min_utilisation
        Least fraction of compute units busy.
    """

    fixed: np.ndarray
    keep: np.ndarray
    orders: tuple[tuple[int, ...] | None, ...]
    min_utilisation: float
    maxima: np.ndarray | None = None


def _dataflow_levels(problem: MapProblem, dataflow: Dataflow, origin: str) -> list[LevelConstraint]:
    """The level constraints a dataflow stands for on this problem."""
    inner = problem.levels[-1].name
    # the level that owns each fan-out's spatial loops: the parent of the level (or MACs) fanned out
    names = [problem.levels[level - 1].name for level in sorted({level for kind, level in problem.slots if kind != "T"})]
    if dataflow in ("output_stationary", "weight_stationary"):
        t = next(x for x in problem.tensors if x.name == ("outputs" if dataflow == "output_stationary" else "weights"))
        fixed = {problem.dims[d]: 1 for d in t.relevant}
        stationary = tuple(problem.dims[d] for d in sorted(t.relevant))
        out = [LevelConstraint(level=inner, temporal=fixed)]
        out += [LevelConstraint(level=name, spatial_x_dims=stationary, spatial_y_dims=stationary) for name in names]
        return out
    missing = [d for d in ("R", "S", "P") if d not in problem.dims]
    if missing:
        raise InputError(f"{origin}dataflow: 'row_stationary' needs dimensions R, S and P (the layer lacks {', '.join(missing)})")
    spatial = names
    if not spatial:
        raise InputError(f"{origin}dataflow: 'row_stationary' needs a level with a spatial fan-out (the hierarchy has none)")
    out = [LevelConstraint(level=inner, temporal={"R": 1, "P": 1, "S": "all"})]
    out.append(LevelConstraint(level=spatial[-1], spatial_y={"R": "all"},
                               spatial_x_dims=tuple(d for d in ("P", "K", "N") if d in problem.dims),
                               spatial_y_dims=tuple(d for d in ("R", "C", "K") if d in problem.dims)))
    return out


def _dim_index(problem: MapProblem, name: str, where: str) -> int:
    """The index of dimension ``name``; ``where`` is the full location (origin included) for the error."""
    if name not in problem.dims:
        raise InputError(f"{where}: unknown dimension '{name}' (dimensions: {', '.join(problem.dims)})")
    return problem.dims.index(name)


def _set_fixed(problem: MapProblem, fixed: np.ndarray, slot: int, factors: dict[str, Factor], where: str) -> None:
    for name, value in factors.items():
        d = _dim_index(problem, name, where)
        size = problem.sizes[d]
        bound = size if value == "all" else int(value)
        if bound < 1 or size % bound != 0:
            raise InputError(f"{where}.{name}: a loop bound must divide the dimension's size {size} (got {value})")
        if fixed[slot, d] not in (0, bound):
            raise InputError(f"{where}.{name}: conflicts with an earlier constraint ({fixed[slot, d]}) (got {value})")
        fixed[slot, d] = bound
        if value == "all":
            for other in range(fixed.shape[0]):
                if other != slot and fixed[other, d] == 0:
                    fixed[other, d] = 1


def _check_fan_out(problem: MapProblem, fixed: np.ndarray, slot: int, where: str) -> None:
    """Refuse fixed spatial bounds on one axis that multiply to more instances than the fan-out has along it."""
    axis, level = problem.slots[slot]
    limit = problem.mesh_of(level)[0 if axis == "X" else 1]
    given = {problem.dims[d]: int(fixed[slot, d]) for d in range(problem.n_dims) if fixed[slot, d] > 1}
    product = int(np.prod(list(given.values()), dtype=np.int64)) if given else 1
    if product > limit:
        below = problem.levels[level].name if level < len(problem.levels) else "the compute units"
        text = " x ".join(f"{name}={value}" for name, value in given.items())
        raise InputError(f"{where}: fixed spatial bounds {text} need {product} instances along {axis}, but the fan-out "
                         f"to {below} has {limit} along {axis}, so no mapping can meet them")


def resolve(constraints: MapperConstraints, problem: MapProblem) -> Resolved:
    """Turn constraints into slot arrays for ``problem``.

    Raises
    ------
    InputError
        An unknown level, dimension or tensor, a bound that does not divide its
        dimension, a kept tensor the hardware level does not keep, or constraints
        that contradict each other or leave no legal factorisation, or fixed spatial bounds that
        need more instances than a fan-out has.
    """
    n_slots, n_dims = len(problem.slots), problem.n_dims
    fixed = np.zeros((n_slots, n_dims), dtype=np.int64)
    maxima = np.zeros((n_slots, n_dims), dtype=np.int64)
    tensor_names = [t.name for t in problem.tensors]
    keep = np.array([[1 if k else 0 for k in level.keeps] for level in problem.levels], dtype=np.int64)
    if constraints.allow_bypass:
        keep[1:] = np.where(keep[1:] == 1, -1, 0)
    orders: list[tuple[int, ...] | None] = [None] * len(problem.levels)
    level_names = [level.name for level in problem.levels]
    origin = constraints._origin
    capped_at: dict[tuple[int, int], str] = {}
    items = [(f"{origin}levels[{n}] ({item.level})", item) for n, item in enumerate(constraints.levels)]
    if constraints.dataflow is not None:
        items = [(f"{origin}dataflow ({constraints.dataflow!r} at {item.level})", item)
                 for item in _dataflow_levels(problem, constraints.dataflow, origin)] + items
    for where, item in items:
        if item.level not in level_names:
            raise InputError(f"{where}: unknown level '{item.level}' (levels: {', '.join(level_names)})")
        i = level_names.index(item.level)
        _set_fixed(problem, fixed, problem.temporal_slot(i), item.temporal, f"{where}.temporal")
        for name, bound in item.temporal_max.items():
            slot, d = problem.temporal_slot(i), _dim_index(problem, name, f"{where}.temporal_max")
            if fixed[slot, d] > bound:
                raise InputError(f"{where}.temporal_max.{name}: the fixed temporal bound {fixed[slot, d]} is above it "
                                 f"(got {bound})")
            maxima[slot, d] = bound if maxima[slot, d] == 0 else min(maxima[slot, d], bound)
            capped_at[(slot, d)] = f"{where}.temporal_max.{name}"
        for axis, factors, allowed in (("X", item.spatial_x, item.spatial_x_dims), ("Y", item.spatial_y, item.spatial_y_dims)):
            if (axis, i + 1) not in problem.slots:
                if factors or allowed:
                    raise InputError(f"{where}.spatial_{axis.lower()}: nothing fans out below level '{item.level}'")
                continue
            slot = problem.slots.index((axis, i + 1))
            _set_fixed(problem, fixed, slot, factors, f"{where}.spatial_{axis.lower()}")
            _check_fan_out(problem, fixed, slot, f"{where}.spatial_{axis.lower()}")
            if allowed is not None:
                allowed_idx = {_dim_index(problem, name, f"{where}.spatial_{axis.lower()}_dims") for name in allowed}
                for d in range(n_dims):
                    if d not in allowed_idx:
                        if fixed[slot, d] > 1:
                            raise InputError(f"{where}.spatial_{axis.lower()}: dimension "
                                             f"'{problem.dims[d]}' is not among the allowed ones (got {fixed[slot, d]})")
                        fixed[slot, d] = 1
        if item.order is not None:
            idx = [_dim_index(problem, name, f"{where}.order") for name in item.order]
            if len(set(idx)) != len(idx):
                raise InputError(f"{where}.order: repeats a dimension (got {list(item.order)})")
            orders[i] = tuple([d for d in range(n_dims) if d not in idx] + idx)
        if item.keep is not None:
            for t, name in enumerate(tensor_names):
                if name in item.keep and problem.levels[i].keeps[t] is False:
                    raise InputError(f"{where}.keep: the hardware level does not keep '{name}'")
                if i == 0 and name not in item.keep:
                    raise InputError(f"{where}.keep: the outermost level must keep every tensor (got {list(item.keep)})")
                keep[i, t] = 1 if name in item.keep else 0
    for d in range(n_dims):
        product = int(np.prod(np.where(fixed[:, d] > 0, fixed[:, d], 1)))
        free = int(np.sum(fixed[:, d] == 0))
        size = problem.sizes[d]
        if size % product != 0 or (free == 0 and product != size):
            raise InputError(f"{origin}dimension '{problem.dims[d]}': fixed loop bounds multiply to {product}, "
                             f"which cannot complete its size {size}")
    _check_reachable(problem, fixed, maxima, capped_at)
    return Resolved(fixed=fixed, keep=keep, orders=tuple(orders), min_utilisation=constraints.min_utilisation,
                    maxima=maxima)


def _check_reachable(problem: MapProblem, fixed: np.ndarray, maxima: np.ndarray, capped_at: dict[tuple[int, int], str]) -> None:
    """Refuse a dimension whose free temporal slots are all capped by ``temporal_max`` so tightly that,
    with the largest spatial fan-outs, their loops cannot multiply up to what the fixed bounds leave of it."""
    for d in range(problem.n_dims):
        free = np.flatnonzero(fixed[:, d] == 0).tolist()
        temporal = [s for s in free if problem.slots[s][0] == "T"]
        if not any((s, d) in capped_at for s in temporal) or any(maxima[s, d] == 0 for s in temporal):
            continue
        left = problem.sizes[d] // int(np.prod(np.where(fixed[:, d] > 0, fixed[:, d], 1)))
        reach = 1
        for s in free:
            kind, level = problem.slots[s]
            reach *= int(maxima[s, d]) if kind == "T" else problem.mesh_of(level)[0 if kind == "X" else 1]
        if reach < left:
            caps = [capped_at[(s, d)] for s in temporal if (s, d) in capped_at]
            bounds = ", ".join(f"{int(maxima[s, d])} at {problem.levels[problem.slots[s][1]].name}" for s in temporal)
            raise InputError(f"{caps[0]}: dimension '{problem.dims[d]}' of size {problem.sizes[d]} cannot be split "
                             f"into temporal loops of at most {bounds} and the spatial fan-outs "
                             f"(what is left after fixed bounds: {left}, the most they reach: {reach}), "
                             f"so no mapping can meet {'these limits' if len(caps) > 1 else 'this limit'}")
