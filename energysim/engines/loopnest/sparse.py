"""The sparse model on top of the dense loop-nest analysis: formats, gating, skipping, real or statistical densities.

Starting from the dense counts of :func:`~energysim.engines.loopnest.analysis.evaluate`
(same mapping), for each level, tensor and action:

1. **Format.** A level keeping a tensor compressed (any format but
   ``uncompressed``) reads, fills, writes and updates only its non-zeros:
   ``data = round(dense x rho)`` with ``rho`` the tensor's density (``n/m`` for
   ``nm``: the structured slots are stored whatever the density). Its metadata
   moves with it: ``metadata_<action> = ceil(dense x bits per dense point /
   metadata_word_bits)`` (bitmap 1 bit per point; rle / coordinate ``rho x
   metadata_bits``; csr that plus ``pointer_bits x (fibers + 1) / tile points``;
   nm ``n/m x metadata_bits``), priced by the level's ``action_units`` entry.
   A compressed tile occupies its non-zeros plus metadata (capacity check).
2. **Action optimisation** of a level's reads of ``target`` with leaders ``L``:
   of the reads left by the format, the fraction whose leader operands are
   not all non-zero is optimised away: ``floor(data x (1 - e(L + C) / e(C)))``,
   ``e(X)`` the fraction of MACs whose operands in X are all non-zero, ``C``
   the target itself when compressed (its zeros are already gone). Gated ones
   are counted as ``gated_read`` (priced; they keep their bandwidth slot),
   skipped ones only in the stats (no energy, no bandwidth).
3. **Compute.** Gating the MAC on ``L``: ``e(L) x MACs`` MACs run, the rest
   are ``gated_mac`` (priced; same cycles). When the innermost level keeping the
   weights stores them N:M, the weights' share is ``n/m`` whatever their density
   (every stored slot is multiplied, as a sparse tensor core does). Skipping: the rest cost nothing
   and take no cycle: each MAC lane (a combination of the spatial loops' indices)
   runs only its effectual MACs, so compute cycles = the busiest lane's count
   (real masks: load imbalance shows; real weights without activations: each
   lane's count times the input density) or ``ceil(dense cycles x e(L))``
   (statistical: perfectly balanced).
4. **(De)compression.** A level with a ``codec_units`` entry that keeps a tensor
   uncompressed under a compressed parent counts ``decompress`` per word it is
   filled with (its actual fills) and, for outputs, ``compress`` per word it sends
   up (its drains: reads minus updates); without an entry the conversion is free.
5. **Cycles** per level from actual + gated + metadata words at its bandwidth
   (as in the dense analysis), at least the compute cycles; leakage over the total.

Densities: with real tensors (``tensors`` given), the weights' mask and the
input activations (zero padding included) give the densities and ``e(L)``
exactly, lane by lane (:func:`~energysim.engines.loopnest.sparse_masks.lane_effectual`);
without activations, inputs use the layer's ``activation_density`` (uniform
random). Without tensors every density is the layer's field (uniform random:
``e(L)`` = product of the leaders' densities). ``stats['density_model']`` says which.
Outputs: partial sums are dense; a compressed format at the outermost level stores each
output's final value at the layer's ``output_density`` (the last arrival of every output
point there: its ``update`` when partial sums were spilled, else its ``write``), with that
value's metadata. Network transfers are not reduced.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from energysim.engines.loopnest.analysis import LoopNestStats, bandwidth_cycles, evaluate
from energysim.engines.loopnest.geometry import points
from energysim.engines.loopnest.mapping import LevelLoops, Mapping, Occupancy, capacity_problem, check_mapping, tile_words
from energysim.engines.loopnest.sparse_config import FormatSpec, SparseConfig
from energysim.engines.loopnest.sparse_masks import WEIGHT_AXES, OperandMasks, lane_effectual, max_tile_nnz
from energysim.engines.loopnest.spec import Spec
from energysim.errors import ConfigError, UnsupportedError
from energysim.hardware.hierarchy import LEAK_ACTION
from energysim.workloads.loop_nest import LoopNest

DATA_ACTIONS = ("read", "fill", "write", "update")
"""Level actions a format and an optimisation act on."""

ROUNDING_SLACK = 1e-9
"""Added before flooring a count computed in floating point (an exact ``n - e`` must not become ``n - e - 1``)."""


@dataclass(frozen=True)
class Densities:
    """What the sparse model knows of the operands' zeros.

    Attributes
    ----------
    model
        ``real masks``, ``real weights, statistical inputs`` or ``statistical (uniform random)``.
    weights, inputs
        Fraction of non-zeros (inputs over the padded input space with real activations).
    masks
        The real masks, or None.
    outputs
        Fraction of non-zero final outputs (the layer's ``output_density``: after its
        activation function); partial sums are dense.
    """

    model: str
    weights: float
    inputs: float
    masks: OperandMasks | None = None
    outputs: float = 1.0

    def of(self, tensor: str) -> float:
        """Density of a tensor (outputs: of the final values)."""
        return {"weights": self.weights, "inputs": self.inputs, "outputs": self.outputs}[tensor]


def statistical(weight_density: float, activation_density: float, output_density: float = 1.0) -> Densities:
    """Densities of a workload that has only its fields (uniform random zeros)."""
    return Densities("statistical (uniform random)", float(weight_density), float(activation_density),
                     outputs=float(output_density))


def from_masks(masks: OperandMasks, activation_density: float, output_density: float = 1.0) -> Densities:
    """Densities measured on real masks (inputs from the layer's field when there are no activations)."""
    weights = float(masks.weights.mean())
    if masks.inputs is None:
        return Densities("real weights, statistical inputs", weights, float(activation_density), masks,
                         float(output_density))
    return Densities("real masks", weights, float(masks.inputs.mean()), masks, float(output_density))


def shrink_to_fit(spec: Spec, nest: LoopNest, mapping: Mapping, occupancy: Occupancy) -> Mapping | None:
    """The mapping with temporal factors moved outwards until every level's compressed tiles fit, or None.

    A mapping sized for dense tiles (the mapper's) can overflow a level once
    metadata is added. While a level's tiles do not fit, one prime factor of one
    of its temporal loops moves to the next outer level (merged with that level's
    loop of the dimension, placed innermost or outermost there); of the choices,
    the one whose dense evaluation costs least energy is taken. Tiles of the other
    levels do not change; spatial loops and bypasses are kept.
    """
    levels = [list(level.temporal) for level in mapping.levels]

    def build(temporal: list[list]) -> Mapping:
        return Mapping(tuple(LevelLoops(old.name, tuple(temporal[i]), old.spatial_x, old.spatial_y, old.bypass)
                             for i, old in enumerate(mapping.levels)), source=mapping.source)

    def moved(index: int, j: int, outermost: bool) -> list[list]:
        temporal = [list(t) for t in levels]
        dim, factor = temporal[index][j]
        prime = next(p for p in range(2, factor + 1) if factor % p == 0)
        temporal[index][j] = (dim, factor // prime)
        parent = temporal[index - 1]
        at = next((k for k, (d, _) in enumerate(parent) if d == dim), None)
        if at is not None:
            prime *= parent.pop(at)[1]
        parent.insert(0 if outermost else len(parent), (dim, prime))
        return temporal

    current = mapping
    for index in range(1, len(spec.levels)):
        while capacity_problem(spec, nest, current, index, occupancy) is not None:
            options = [moved(index, j, outermost) for j, (_, f) in enumerate(levels[index]) if f > 1
                       for outermost in (False, True)]
            if not options:
                return None
            levels = min(options, key=lambda t: evaluate(spec, nest, build(t), check=False).energy_pj)
            current = build(levels)
    return current


def stored_bits(spec: Spec, nest: LoopNest, mapping: Mapping, densities: Densities, tensor: str, points_dense: int) -> int:
    """Bits a tensor occupies at the outermost level in its format there: non-zeros x word bits plus metadata."""
    fmt = spec.config.sparse.format_of(spec.levels[0].name, tensor)
    word_bits = spec.levels[0].level.config.word_bits
    if fmt is None:
        return points_dense * word_bits
    density = densities.of(tensor)
    values = round(points_dense * _data_ratio(fmt, density)) * word_bits
    return values + math.ceil(points_dense * _metadata_bits_per_point(fmt, density, nest, mapping, 0))


def outer_minimum(spec: Spec, tensor: str, points_dense: int, densities: Densities) -> int:
    """Compulsory accesses of a tensor at the outermost level: its stored non-zeros (0 when reads there are optimised)."""
    config = spec.config.sparse
    outer = spec.levels[0].name
    if any(o.level == outer and o.target == tensor for o in config.actions):
        return 0
    return math.floor(points_dense * _data_ratio(config.format_of(outer, tensor), densities.of(tensor)))


def check_sparse(spec: Spec) -> None:
    """Check that the ``[engine.sparse]`` table names real levels, tensors and priced actions.

    Raises
    ------
    ConfigError
        One line naming the file, the field, the rule and the value.
    """
    config = spec.config.sparse
    if config is None:
        return
    where = spec.hardware.path or spec.hardware.name
    levels = {level.name: level for level in spec.levels}
    priced = set(spec.prices)

    def unit_for(level: str, field: str) -> str:
        unit = config.action_units.get(level)
        if unit is None:
            raise ConfigError(f"{where}: engine.sparse.action_units: level '{level}' needs a [[units]] name pricing its "
                              f"sparse actions ({field})")
        return unit

    def need(component: str, action: str, field: str) -> None:
        if (component, action) not in priced:
            raise ConfigError(f"{where}: {field}: needs a [[units]] entry name = '{component}', action = '{action}' "
                              "(energy_pj with source; 0 is allowed)")

    for index, fmt in enumerate(config.formats):
        field = f"engine.sparse.formats[{index}]"
        if fmt.level not in levels:
            raise ConfigError(f"{where}: {field}.level: must be a memory level ({', '.join(levels)}) (got '{fmt.level}')")
        if not levels[fmt.level].holds(fmt.tensor):
            raise ConfigError(f"{where}: {field}.tensor: level '{fmt.level}' does not hold '{fmt.tensor}'")
        if fmt.compressed:
            unit = unit_for(fmt.level, field)
            actions = ("read", "fill") if fmt.tensor != "outputs" else ("read", "write", "update")
            for action in actions:
                need(unit, f"metadata_{action}", field)
    for level in config.metadata_storage_bits:
        if level not in levels:
            raise ConfigError(f"{where}: engine.sparse.metadata_storage_bits.{level}: must be a memory level "
                              f"({', '.join(levels)}) (got '{level}')")
    for level, unit in config.codec_units.items():
        field = f"engine.sparse.codec_units.{level}"
        if level not in levels:
            raise ConfigError(f"{where}: {field}: must be a memory level ({', '.join(levels)}) (got '{level}')")
        need(unit, "decompress", field)
        if any(fmt.tensor == "outputs" and fmt.compressed for fmt in config.formats):
            need(unit, "compress", field)
    for index, opt in enumerate(config.actions):
        field = f"engine.sparse.actions[{index}]"
        if opt.unit is not None:
            if opt.unit != spec.config.mac_unit:
                raise ConfigError(f"{where}: {field}.unit: must be the MAC unit '{spec.config.mac_unit}' (got '{opt.unit}')")
            if opt.kind == "gating":
                need(opt.unit, "gated_mac", field)
            continue
        if opt.level not in levels:
            raise ConfigError(f"{where}: {field}.level: must be a memory level ({', '.join(levels)}) (got '{opt.level}')")
        if not levels[opt.level].holds(opt.target):
            raise ConfigError(f"{where}: {field}.target: level '{opt.level}' does not hold '{opt.target}'")
        if opt.kind == "gating":
            need(unit_for(opt.level, field), "gated_read", field)


def check_convention(spec: Spec, convention: str) -> None:
    """Refuse, before any mapping work, what the counting convention cannot count on a sparse design.

    Parameters
    ----------
    spec
        The design; only its ``[engine.sparse]`` actions are read.
    convention
        ``ideal`` or ``timeloop`` (the run's ``compat``).

    Raises
    ------
    UnsupportedError
        Under ``ideal``, an action optimisation whose target is ``outputs`` (one line naming the entry; compat
        'timeloop' counts Sparseloop's output gating and skipping).
    """
    if convention != "ideal" or spec.config.sparse is None:
        return
    for index, opt in enumerate(spec.config.sparse.actions):
        if opt.target == "outputs":
            raise UnsupportedError(f"{spec.hardware.path or spec.hardware.name}: engine.sparse.actions[{index}].target: "
                                   "compat 'ideal' optimises reads of weights and inputs (got 'outputs'; compat "
                                   "'timeloop' counts Sparseloop's output gating and skipping)")


class _Effectual:
    """``e(L)``: fraction of MACs whose leader operands are all non-zero, and its per-lane counts (cached)."""

    def __init__(self, nest: LoopNest, mapping: Mapping, densities: Densities):
        self.nest, self.mapping, self.d = nest, mapping, densities
        self._lanes: dict[frozenset, np.ndarray] = {}

    def lanes(self, leaders: frozenset) -> np.ndarray | None:
        """Effectual MACs per lane from the real masks (None on the statistical path)."""
        masks = self.d.masks
        if masks is None:
            return None
        if leaders not in self._lanes:
            weights = masks.weights if "weights" in leaders else None
            inputs = masks.inputs if "inputs" in leaders else None
            self._lanes[leaders] = lane_effectual(self.nest, self.mapping, weights, inputs)
        return self._lanes[leaders]

    def fraction(self, leaders: frozenset) -> float:
        """e(L) in [0, 1]; e(empty) = 1."""
        if not leaders:
            return 1.0
        lanes = self.lanes(leaders)
        if lanes is None:
            return math.prod(self.d.of(t) for t in leaders)
        value = float(lanes.sum()) / self.nest.macs
        if "inputs" in leaders and self.d.masks.inputs is None:
            value *= self.d.inputs
        return value


def _data_ratio(fmt: FormatSpec | None, density: float) -> float:
    if fmt is None:
        return 1.0
    if fmt.format == "nm":
        return fmt.n / fmt.m
    return density


def _metadata_bits_per_point(fmt: FormatSpec, density: float, nest: LoopNest, mapping: Mapping, index: int) -> float:
    """Metadata bits per dense point of a level's tile (see the module docstring)."""
    if fmt.format == "bitmap":
        return 1.0
    if fmt.format in ("rle", "coordinate"):
        return density * fmt.metadata_bits
    if fmt.format == "nm":
        return fmt.n / fmt.m * fmt.metadata_bits
    extents = mapping.tile_extents(index)
    sizes = [points(tuple((coef, extents[dim]) for dim, coef in axis)) for axis in nest.axes(fmt.tensor)]
    tile = math.prod(sizes)
    axis = fmt.coordinate_axis
    if axis is None:
        axis = max((i for i, size in enumerate(sizes) if size > 1), default=len(sizes) - 1)
    fibers = tile // sizes[axis]
    return density * fmt.metadata_bits + fmt.pointer_bits * (fibers + 1) / tile


def occupancy_for(spec: Spec, nest: LoopNest, densities: Densities) -> Occupancy:
    """The capacity rule of a compressed tile: its non-zeros plus metadata, in the level's words.

    Real weights masks give the fullest tile's non-zeros (the one that must fit);
    otherwise ``ceil(points x density)``.
    """
    config = spec.config.sparse

    def occupancy(mapping: Mapping, index: int, tensor: str, words: int) -> int:
        level = spec.levels[index]
        fmt = config.format_of(level.name, tensor)
        if fmt is None:
            return words
        density = densities.of(tensor) if tensor != "outputs" else 1.0   # a tile of outputs holds partial sums
        if fmt.format == "nm":
            nonzeros = math.ceil(words * fmt.n / fmt.m)
        elif tensor == "weights" and densities.masks is not None:
            nonzeros = max_tile_nnz(densities.masks.weights, WEIGHT_AXES, mapping, index)
        else:
            nonzeros = math.ceil(words * density)
        if level.name in config.metadata_storage_bits:
            return nonzeros                                   # metadata in its own storage: metadata_problem
        meta_bits = words * _metadata_bits_per_point(fmt, density, nest, mapping, index)
        return nonzeros + math.ceil(meta_bits / level.level.config.word_bits)

    return occupancy


def metadata_problem(spec: Spec, nest: LoopNest, mapping: Mapping, densities: Densities,
                     bits_of=None) -> str | None:
    """Why a level's tiles' metadata does not fit its separate metadata storage, or None.

    For each level in ``engine.sparse.metadata_storage_bits``: the metadata bits of every tile it
    keeps with a format (``bits_of(index, tensor, fmt)`` when given, as compat 'timeloop' counts them
    from Sparseloop's ranks at the fullest tile's ``ceil(points x density)`` non-zeros; else the
    default model's bits per point x tile points, at the tensor's density, partial sums dense) must
    fit the storage's bits.

    Parameters
    ----------
    spec, nest, mapping
        The design, the layer's loop nest and its mapping.
    densities
        Fraction of non-zeros per tensor, in [0, 1] (``densities.of(tensor)``).
    bits_of
        ``(level index, tensor, format) -> bits`` of the fullest tile's metadata (None: the default model).

    Returns
    -------
    str or None
        One line naming the first level whose tiles' metadata (all its tensors, bits) exceeds its storage's
        bits, and both figures; None when every level's fits.
    """
    config = spec.config.sparse
    for index, level in enumerate(spec.levels):
        capacity = config.metadata_storage_bits.get(level.name)
        if capacity is None:
            continue
        extents = mapping.tile_extents(index)
        total = 0.0
        for tensor in ("weights", "inputs", "outputs"):
            fmt = config.ranks_of(level.name, tensor)
            if fmt is None or not mapping.keeps(spec, index, tensor):
                continue
            if bits_of is not None:
                total += bits_of(index, tensor, fmt)
            elif fmt.compressed:
                density = densities.of(tensor) if tensor != "outputs" else 1.0
                total += tile_words(nest, extents, tensor) * _metadata_bits_per_point(fmt, density, nest, mapping, index)
        if math.ceil(total - ROUNDING_SLACK) > capacity:
            return (f"'{level.name}': its tiles' metadata ({math.ceil(total - ROUNDING_SLACK)} bits) must fit its "
                    f"{capacity}-bit metadata storage (engine.sparse.metadata_storage_bits)")
    return None


class OccupancyWords:
    """Vectorised words a compressed tile occupies, for the mapper's capacity check (``map_nest(occupancy=...)``).

    ``self(level_index, tensor, words)`` maps an array of dense tile sizes to
    ``ceil(words x data ratio) + ceil(words x metadata bits per point / word bits)``: the
    statistical size at the tensor's density (the mean density of real masks). csr's
    pointers are counted as if the tile spanned the whole coordinate axis. An estimate
    that ranks the search; :func:`occupancy_for` (the fullest real tile, exact csr
    fibers) checks the chosen mapping, and :func:`shrink_to_fit` repairs it if needed.
    ``key`` is hashable (the mapper's cache key).
    """

    def __init__(self, spec: Spec, nest: LoopNest, densities: Densities):
        config = spec.config.sparse
        self._scale: dict[tuple[int, str], tuple[float, float]] = {}
        for level in spec.levels:
            for tensor in ("weights", "inputs", "outputs"):
                fmt = config.format_of(level.name, tensor)
                if fmt is None:
                    continue
                density = densities.of(tensor) if tensor != "outputs" else 1.0   # partial sums
                if fmt.format == "csr":
                    sizes = [points(tuple((coef, nest.bounds[dim]) for dim, coef in axis)) for axis in nest.axes(tensor)]
                    axis = fmt.coordinate_axis
                    if axis is None:
                        axis = max((i for i, size in enumerate(sizes) if size > 1), default=len(sizes) - 1)
                    meta = density * fmt.metadata_bits + fmt.pointer_bits / sizes[axis]
                elif fmt.format == "bitmap":
                    meta = 1.0
                else:
                    meta = (fmt.n / fmt.m if fmt.format == "nm" else density) * fmt.metadata_bits
                if level.name in config.metadata_storage_bits:
                    meta = 0.0                                # metadata in its own storage
                self._scale[(level.index, tensor)] = (_data_ratio(fmt, density), meta / level.level.config.word_bits)
        self.key = tuple(sorted(self._scale.items()))

    def __call__(self, level_index: int, tensor: str, words: np.ndarray) -> np.ndarray:
        """Words the tiles of ``words`` dense points occupy at a level (same shape, int64)."""
        scale = self._scale.get((level_index, tensor))
        if scale is None:
            return words
        data, meta = scale
        return (np.ceil(words * data - ROUNDING_SLACK) + np.ceil(words * meta - ROUNDING_SLACK)).astype(np.int64)


def evaluate_sparse(spec: Spec, nest: LoopNest, mapping: Mapping, densities: Densities,
                    check: bool = True) -> tuple[LoopNestStats, dict]:
    """Count, time and price one mapping on a sparse design (steps 1-5 of the module docstring).

    Parameters
    ----------
    spec
        A loop-nest hardware whose ``engine.sparse`` is set (checked by :func:`check_sparse`).
    densities
        :func:`statistical` or :func:`from_masks`.
    check
        Check the mapping, with compressed tiles occupying non-zeros plus metadata.

    Returns
    -------
    tuple
        The stats (counts with ``metadata_*`` and ``gated_*`` actions, sparse
        cycles, ``macs`` = the MACs performed, energy in pJ) and a dict of sparse
        statistics for the result (``density_model``, densities, ``effectual_fraction``,
        ``skipped_*`` counts, ``lane_imbalance``).
    """
    check_convention(spec, "ideal")
    if check:
        where = f"mapping {mapping.source or '(in memory)'}"
        check_mapping(spec, nest, mapping, where, occupancy_for(spec, nest, densities))
        problem = metadata_problem(spec, nest, mapping, densities)
        if problem is not None:
            raise ConfigError(f"{where}: {problem}")
    dense = evaluate(spec, nest, mapping, check=False)
    run = _SparseCounts(spec, nest, mapping, densities)
    run.levels(dense.counts)
    run.codecs()
    cycles_compute = run.compute(dense.cycles_compute)
    used = [math.prod(l.factor for l in mapping.loops if l.kind != "t" and l.level < level.index) for level in spec.levels]
    level_cycles = bandwidth_cycles(spec, used, run.moved, cycles_compute)
    cycles_total = max(level_cycles.values())
    for level in spec.levels:
        if LEAK_ACTION in level.level.costs:
            run.add(level.name, "-", LEAK_ACTION, cycles_total * level.instances)
    by_component: dict[str, float] = {}
    for (component, _, action), value in run.counts.items():
        by_component[component] = by_component.get(component, 0.0) + value * spec.prices[(component, action)]
    result = replace(dense, counts=run.counts, macs=run.effectual, cycles_compute=cycles_compute,
                     level_cycles=level_cycles, cycles_total=cycles_total,
                     energy_pj=math.fsum(by_component.values()), energy_by_component=by_component)
    return result, run.stats


class _SparseCounts:
    """The counts of one sparse evaluation as they are built, with the words each level moves and the stats."""

    def __init__(self, spec: Spec, nest: LoopNest, mapping: Mapping, densities: Densities):
        self.spec, self.nest, self.mapping, self.densities = spec, nest, mapping, densities
        self.config: SparseConfig = spec.config.sparse
        self.eff = _Effectual(nest, mapping, densities)
        self.counts: dict[tuple[str, str, str], int] = {}
        self.moved = {level.name: [0.0, 0.0] for level in spec.levels}
        self.effectual = nest.macs
        self.stats: dict = {"density_model": densities.model, "density_weights": densities.weights,
                            "density_inputs": densities.inputs}

    def add(self, component: str, tensor: str, action: str, value: int) -> None:
        """Add a count (zeros are not stored)."""
        if value:
            key = (component, tensor, action)
            self.counts[key] = self.counts.get(key, 0) + int(value)

    def levels(self, dense_counts: dict[tuple[str, str, str], int]) -> None:
        """Steps 1-2: each level's data counts through its format and its read optimisation; other counts kept."""
        index_of = {level.name: level.index for level in self.spec.levels}
        optimisations = {(o.level, o.target): o for o in self.config.actions if o.level is not None}
        for (component, tensor, action), value in dense_counts.items():
            if component not in index_of or action not in DATA_ACTIONS:
                if action != LEAK_ACTION and component != self.spec.config.mac_unit:
                    self.add(component, tensor, action, value)
                continue
            index = index_of[component]
            word_bits = self.spec.levels[index].level.config.word_bits
            fmt = self.config.format_of(component, tensor)
            density = self.densities.of(tensor) if tensor != "outputs" else 1.0
            data = round(value * _data_ratio(fmt, density))
            meta_bits = value * _metadata_bits_per_point(fmt, density, self.nest, self.mapping, index) if fmt else 0.0
            if fmt is not None and tensor == "outputs" and index == 0 and action == self._final_action(dense_counts):
                data, meta_bits = self._final_outputs(fmt, value)
            opt = optimisations.get((component, tensor)) if action == "read" else None
            optimised = 0
            if opt is not None:
                own = frozenset({tensor}) if fmt is not None else frozenset()
                base = self.eff.fraction(own)
                survive = self.eff.fraction(frozenset(opt.leaders) | own) / base if base else 0.0
                optimised = math.floor(data * (1.0 - survive) + ROUNDING_SLACK)
                meta_bits *= survive
                data -= optimised
            self.add(component, tensor, action, data)
            unit = self.config.action_units.get(component)
            meta_word_bits = (fmt.metadata_word_bits if fmt else None) or word_bits
            meta_words = math.ceil(meta_bits / meta_word_bits)
            self.add(unit, tensor, f"metadata_{action}", meta_words)
            gated = optimised if opt is not None and opt.kind == "gating" else 0
            self.add(unit, tensor, "gated_read", gated)
            if optimised and not gated:
                self.stats[f"skipped_read_{component}_{tensor}"] = optimised
            self.moved[component][action != "read"] += data + gated + meta_words * meta_word_bits / word_bits

    def _final_action(self, dense_counts: dict[tuple[str, str, str], int]) -> str:
        """The action carrying each output's last arrival at the outermost level: update after spilled partial sums, else write."""
        return "update" if dense_counts.get((self.spec.levels[0].name, "outputs", "update"), 0) else "write"

    def _final_outputs(self, fmt: FormatSpec, value: int) -> tuple[int, float]:
        """Step 1 for the outermost level's final outputs: of ``value`` arrivals, one per output point is its final value,
        stored at the layer's output density; the rest are dense partial sums. Returns (data words, metadata bits)."""
        b = self.nest.bounds
        final = b["N"] * b["G"] * b["K"] * b["P"] * b["Q"]
        density = self.densities.outputs
        data = value - final + round(final * _data_ratio(fmt, density))
        bits = ((value - final) * _metadata_bits_per_point(fmt, 1.0, self.nest, self.mapping, 0)
                + final * _metadata_bits_per_point(fmt, density, self.nest, self.mapping, 0))
        return data, bits

    def codecs(self) -> None:
        """Step 4: decompressions into, and compressions out of, uncompressed levels under compressed parents."""
        for tensor in ("weights", "inputs", "outputs"):
            keepers = [level.name for level in self.spec.levels if self.mapping.keeps(self.spec, level.index, tensor)]
            for parent, child in zip(keepers, keepers[1:]):
                unit = self.config.codec_units.get(child)
                if unit is None or self.config.format_of(child, tensor) is not None \
                        or self.config.format_of(parent, tensor) is None:
                    continue
                if tensor == "outputs":
                    drained = self.counts.get((child, tensor, "read"), 0) - self.counts.get((child, tensor, "update"), 0)
                    self.add(unit, tensor, "compress", drained)
                else:
                    self.add(unit, tensor, "decompress", self.counts.get((child, tensor, "fill"), 0))

    def _structured_weight_share(self) -> float | None:
        """``n/m`` when the innermost level keeping weights stores them N:M (the MACs see its slots), else None."""
        keepers = [level.name for level in self.spec.levels if self.mapping.keeps(self.spec, level.index, "weights")]
        fmt = self.config.format_of(keepers[-1], "weights")
        return fmt.n / fmt.m if fmt is not None and fmt.format == "nm" else None

    def compute(self, cycles_dense: int) -> int:
        """Step 3: MACs performed, gated or skipped; returns the compute cycles."""
        macs = self.nest.macs
        opt = next((o for o in self.config.actions if o.unit is not None), None)
        cycles = cycles_dense
        if opt is not None:
            leaders = frozenset(opt.leaders)
            slots = self._structured_weight_share() if "weights" in leaders else None
            if slots is not None:
                leaders -= {"weights"}                        # N:M: every stored slot is multiplied, zero or not
            lanes = self.eff.lanes(leaders) if self.densities.masks is not None else None
            scale = (slots or 1.0) * (self.densities.inputs if "inputs" in leaders and lanes is not None
                                      and self.densities.masks.inputs is None else 1.0)
            if lanes is not None and scale != 1.0:
                lanes = lanes * scale                          # structured slots; inputs at their density
            fraction = self.eff.fraction(leaders) * (slots or 1.0)
            self.effectual = round(macs * fraction) if lanes is None else round(float(lanes.sum()))
            self.stats["effectual_fraction"] = self.effectual / macs
            if opt.kind == "gating":
                self.add(self.spec.config.mac_unit, "-", "gated_mac", macs - self.effectual)
            else:
                self.stats["skipped_mac"] = macs - self.effectual
                if lanes is not None:
                    cycles = math.ceil(float(lanes.max()) - ROUNDING_SLACK)
                    self.stats["lane_imbalance"] = float(lanes.max() / lanes.mean()) if lanes.mean() else 1.0
                else:
                    cycles = math.ceil(cycles_dense * self.effectual / macs)
        for action in self.spec.mac_actions:
            self.add(self.spec.config.mac_unit, "-", action, self.effectual)
        return cycles
