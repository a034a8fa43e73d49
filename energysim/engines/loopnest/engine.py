"""The loop-nest engine: any storage hierarchy and any mapping, counted by the ideal-buffer analysis."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from energysim.engines.base import OPTIONS_CONFIG, Engine
from energysim.engines.loopnest.analysis import LoopNestStats, evaluate
from energysim.engines.loopnest.mapper import map_nest
from energysim.engines.loopnest.mapping import (Mapping, MappingSet, Occupancy, capacity_problem, check_mapping,
                                               default_mapping, load_mapping, tile_words)
from energysim.engines.loopnest.sparse import (Densities, OccupancyWords, check_convention, check_sparse, evaluate_sparse,
                                              from_masks, occupancy_for, outer_minimum, shrink_to_fit, statistical,
                                              stored_bits)
from energysim.engines.loopnest.sparse_masks import operand_masks
from energysim.engines.loopnest.sparse_timeloop import evaluate as evaluate_timeloop_sparse
from energysim.engines.loopnest.timeloop_compat import evaluate as evaluate_timeloop
from energysim.engines.loopnest.spec import LoopNestConfig, Spec
from energysim.engines.result import Compulsory, LayerResult, StorageFit
from energysim.errors import UnsupportedError
from energysim.formats.nm_compressed import require_compliant
from energysim.hardware.hierarchy import Hardware
from energysim.workloads.layers import Layer
from energysim.workloads.loop_nest import DIMS
from energysim.workloads.workload import LayerTensors


DEFAULT = "default"
"""The ``mapping`` option value that selects :func:`default_mapping` instead of the mapper."""


class LoopNestOptions(BaseModel):
    """What one run of the loop-nest engine may choose."""

    model_config = OPTIONS_CONFIG

    # Typed Any and checked below: a schema for the Mapping dataclass needs its forward references
    # resolved, which pydantic 2.5 (the oldest declared) cannot do from here.
    mapping: Any = Field(
        default=None, description="A mapping TOML file, a Mapping, 'default' for the default mapping, or None: the mapper.")
    compat: Literal["ideal", "timeloop"] | None = Field(
        default=None, description="Counting convention, overriding the hardware's engine.compat.")

    @field_validator("mapping")
    @classmethod
    def _mapping_kind(cls, value: Any) -> Any:
        """A path (str or Path), a Mapping, or None."""
        if value is None or isinstance(value, (str, Path, Mapping)):
            return value
        raise ValueError(f"must be a mapping TOML file, a Mapping, 'default' or None (got {type(value).__name__})")


class LoopNestEngine(Engine):
    """Storage levels of any number, sizes and fan-outs, running a layer's loop nest as a mapping says.

    Each layer is written as its loop nest (N, G, K, C, P, Q, R, S); a mapping
    assigns its loops to levels (temporal, with order) and to the fan-out below
    each level (spatial over X and Y); the analysis
    (:mod:`energysim.engines.loopnest.analysis`) counts every level's reads,
    fills, writes and updates per tensor in closed form, the cycles (compute,
    slowed by the most bandwidth-starved level) and, through the hardware's
    costs, the energy. The mapping comes from the ``mapping`` option (a mapping
    TOML file or a :class:`~energysim.engines.loopnest.mapping.Mapping`); without
    one the mapper (:func:`~energysim.engines.loopnest.mapper.map_nest`, under the
    hardware's ``[engine.mapper]`` constraints and ``mapper_objective``, seed 0,
    cached) finds one; ``mapping="default"`` takes the simple
    :func:`~energysim.engines.loopnest.mapping.default_mapping` instead. The
    result's stats say which (``mapping_source``) and show the mapping. ``storage_fit``
    says, for each on-chip level and each tensor the mapping keeps there, whether the
    mapping's tile fits the capacity it may use (its partition when the level gives one,
    else the shared capacity), as Timeloop's "utilized capacity" against its size:
    ``needed_bits`` = the tile's words (a compressed tile's non-zeros plus metadata) x word
    bits x instances, ``capacity_bits`` = that capacity x 8 x instances. A level the
    mapping bypasses, or that holds nothing (Timeloop's depth-0 fan-out), is not listed; the
    DRAM is not. A mapping whose kept tiles do not fit is refused before it runs, so a
    result lists fits only (``spilled`` is empty, ``weights_on_chip`` says every weight tile
    the mapping keeps on chip fits); whole tensors larger than a buffer are tiled through
    it, their refetches in the counts.

    References
    ----------
    .. [1] A. Parashar et al., "Timeloop: A Systematic Approach to DNN Accelerator
       Evaluation", ISPASS 2019 (loop-nest mappings, tile analysis, multicast).
    .. [2] Y. N. Wu, J. S. Emer, V. Sze, "Accelergy: An Architecture-Level Energy
       Estimation Methodology for Accelerator Designs", ICCAD 2019 (counts apart from costs).
    .. [3] Y.-H. Chen, J. Emer, V. Sze, "Eyeriss: A Spatial Architecture for
       Energy-Efficient Dataflow for Convolutional Neural Networks", ISCA 2016
       (per-level access counting, row-stationary dataflow).
    .. [4] L. Mei et al., "ZigZag: Enlarging Joint Architecture-Mapping Design Space
       Exploration for DNN Accelerators", IEEE TC 2021 (uneven mappings, bypass).
    """

    kind = "loopnest"
    config_model = LoopNestConfig
    options_model = LoopNestOptions

    def __init__(self, hardware: Hardware, config: LoopNestConfig):
        super().__init__(hardware, config)
        self.spec = Spec.build(hardware, config)
        check_sparse(self.spec)
        self._files: dict[Path, MappingSet] = {}

    def _mapping_for(self, layer: Layer, nest: Any, mapping: str | Path | Mapping | None,
                     densities: Densities | None = None, convention: str = "ideal") -> tuple[Mapping, str]:
        occupancy = None if densities is None else occupancy_for(self.spec, nest, densities)
        if mapping is None:
            found = map_nest(self.spec, nest, self.config.mapper, self.config.mapper_objective, seed=0, progress=False,
                             compat=convention,
                             occupancy=None if densities is None else OccupancyWords(self.spec, nest, densities))
            where = f"mapper ({self.config.mapper_objective}, {found.strategy}, {found.evaluated} evaluated)"
            if densities is None:
                return found.mapping, where
            if all(capacity_problem(self.spec, nest, found.mapping, i, occupancy) is None for i in range(len(self.spec.levels))):
                return found.mapping, where
            # The mapper sizes compressed tiles statistically; the fullest real tile can be larger.
            shrunk = shrink_to_fit(self.spec, nest, found.mapping, occupancy)
            if shrunk is not None:
                return shrunk, f"{where}, shrunk to fit compressed tiles"
            return default_mapping(self.spec, nest, occupancy), f"{DEFAULT} (the {where} mapping does not fit compressed tiles)"
        if mapping == DEFAULT:
            return default_mapping(self.spec, nest, occupancy), DEFAULT
        if isinstance(mapping, Mapping):
            check_mapping(self.spec, nest, mapping, f"mapping {mapping.source or '(in memory)'}", occupancy)
            return mapping, mapping.source or "(in memory)"
        path = Path(mapping)
        if path not in self._files:
            self._files[path] = load_mapping(path)
        where, chosen = self._files[path].for_layer(layer.name)
        check_mapping(self.spec, nest, chosen, where, occupancy)
        return chosen, where

    def run(self, layer: Layer, tensors: LayerTensors | None, options: LoopNestOptions) -> LayerResult:
        """Simulate one layer under a mapping.

        Parameters
        ----------
        layer
            Any layer kind (lowered by ``layer.loop_nest()``).
        tensors
            Real weights (mask) and activations: a sparse design (``[engine.sparse]``) counts
            from them (:mod:`~energysim.engines.loopnest.sparse`); without them it uses the
            layer's densities (statistical). A dense design ignores them.
        options
            ``mapping``: a mapping TOML file (its entry for the layer, else its entry
            without a layer), a :class:`Mapping`, ``"default"`` for the default mapping,
            or None to let the mapper choose. ``compat``: the counting convention,
            overriding the hardware's ``engine.compat``: ``ideal``
            (:mod:`~energysim.engines.loopnest.analysis`) or ``timeloop``
            (:func:`energysim.engines.loopnest.timeloop_compat.evaluate`, same signature; a sparse
            design: Sparseloop's rules, :func:`energysim.engines.loopnest.sparse_timeloop.evaluate`).

        Raises
        ------
        ConfigError
            If the mapping file or the mapping breaks a rule (one line naming file, field, rule, value).
        """
        convention = options.compat or self.config.compat
        check_convention(self.spec, convention)  # before any mapping work
        nest = layer.loop_nest()
        sparse = self.config.sparse is not None
        densities = self._densities(layer, nest, tensors) if sparse else None
        chosen, where = self._mapping_for(layer, nest, options.mapping, densities, convention)
        occupancy = None if densities is None else occupancy_for(self.spec, nest, densities)
        sparse_stats: dict = {}
        if sparse and convention == "ideal":
            stats, sparse_stats = evaluate_sparse(self.spec, nest, chosen, densities, check=True)
        elif sparse:
            stats, sparse_stats = evaluate_timeloop_sparse(self.spec, nest, chosen, densities, check=True)
        elif convention == "ideal":
            stats = evaluate(self.spec, nest, chosen, check=False)
        else:
            stats = evaluate_timeloop(self.spec, nest, chosen)
        result = self._result(layer, nest, chosen, where, stats, convention, occupancy)
        if sparse_stats:
            result.stats.update(sparse_stats)
            if not nest.a_is_activation:
                weights = result.stats["weight_storage_bits"] // self.spec.levels[0].level.config.word_bits
                result.stats["weight_storage_bits"] = stored_bits(self.spec, nest, chosen, densities, "weights", weights)
            result.compulsory = [replace(bound, minimum=outer_minimum(self.spec, bound.tensor, bound.minimum, densities))
                                 for bound in result.compulsory]
        return result

    def _tile_fit(self, nest: Any, mapping: Mapping, index: int, tensor: str,
                  occupancy: Occupancy | None) -> StorageFit | None:
        """The fit of the tile of ``tensor`` the mapping keeps at level ``index`` (None: the level gives no capacity).

        Parameters
        ----------
        nest
            The layer's loop nest.
        mapping
            The mapping run.
        index
            Level index (0 = outermost).
        tensor
            ``"weights"``, ``"inputs"`` or ``"outputs"``, kept at the level by the mapping.
        occupancy
            Words a compressed tile occupies (non-zeros plus metadata), None for dense tiles.

        Returns
        -------
        StorageFit or None
            ``needed_bits`` = tile words x word bits x instances, ``capacity_bits`` = the tensor's partition (else
            the shared capacity) in bytes x 8 x instances.
        """
        config = self.spec.levels[index].level.config
        capacity = (config.tensor_capacity_bytes or {}).get(tensor, config.capacity_bytes)
        if capacity is None:
            return None
        words = tile_words(nest, mapping.tile_extents(index), tensor)
        if occupancy is not None:
            words = occupancy(mapping, index, tensor, words)
        return StorageFit.check(self.spec.levels[index].name, tensor, words * config.word_bits * config.instances,
                                capacity * 8 * config.instances)

    def _densities(self, layer: Layer, nest: Any, tensors: LayerTensors | None) -> Densities:
        if tensors is None:
            for fmt in self.config.sparse.formats:
                if fmt.format == "nm" and fmt.tensor == "weights" and layer.weight_density > fmt.n / fmt.m:
                    raise UnsupportedError(
                        f"{self.hardware.name}: layer '{layer.name}' has weight density {layer.weight_density:g}, but "
                        f"{fmt.level} keeps weights {fmt.n}:{fmt.m}, which holds at most {fmt.n / fmt.m:g} of them "
                        f"(give the layer {fmt.n}:{fmt.m} masks or a weight_density <= {fmt.n / fmt.m:g}; a dense "
                        "layer runs on a dense design)")
            return statistical(layer.weight_density, layer.activation_density, layer.output_density)
        masks = operand_masks(layer, nest, tensors)
        for fmt in self.config.sparse.formats:
            if fmt.format == "nm" and fmt.tensor == "weights":
                keep = masks.weights.reshape(masks.weights.shape[0] * masks.weights.shape[1], -1)
                require_compliant(keep, fmt.n, fmt.m, f"{self.hardware.name}: layer '{layer.name}' weights "
                                                      f"({fmt.level} keeps them {fmt.n}:{fmt.m} along C x R x S)")
        return from_masks(masks, layer.activation_density, layer.output_density)

    def _result(self, layer: Layer, nest: Any, mapping: Mapping, where: str, stats: LoopNestStats,
                convention: str, occupancy: Occupancy | None = None) -> LayerResult:
        outer = self.spec.levels[0].name
        bounds = nest.bounds
        weights = bounds["G"] * bounds["K"] * bounds["C"] * bounds["R"] * bounds["S"]
        outputs = bounds["N"] * bounds["G"] * bounds["K"] * bounds["P"] * bounds["Q"]
        word_bits = self.spec.levels[0].level.config.word_bits
        sizes = {"weights": weights, "inputs": layer.unique_input_elements(), "outputs": outputs}
        storage_fit = [self._tile_fit(nest, mapping, level.index, tensor, occupancy)
                       for level in self.spec.levels[1:] if level.level.config.kind != "dram"
                       for tensor in ("weights", "inputs", "outputs") if mapping.keeps(self.spec, level.index, tensor)]
        storage_fit = [fit for fit in storage_fit if fit is not None]
        tiles = {
            f"tile_words_{level.name}_{tensor}": tile_words(nest, mapping.tile_extents(level.index), tensor)
            for level in self.spec.levels[1:] for tensor in ("weights", "inputs", "outputs")
            if mapping.keeps(self.spec, level.index, tensor)
        }
        return self.result(
            layer,
            counts=dict(stats.counts),
            cycles={"compute": stats.cycles_compute, "fill_drain": 0,
                    "stall": stats.cycles_total - stats.cycles_compute, "total": stats.cycles_total},
            macs=stats.macs,
            macs_peak_per_cycle=stats.macs_peak_per_cycle,
            compulsory=[
                Compulsory(outer, "weights", ("read",), weights),
                Compulsory(outer, "inputs", ("read",), sizes["inputs"]),
                Compulsory(outer, "outputs", ("write", "update"), outputs),
            ],
            stats={
                "convention": convention,
                "mapping_source": where,
                "mapping": mapping.describe(),
                "loop_nest": nest.describe(),
                **{f"dim_{dim}": bounds[dim] for dim in DIMS},
                "weight_storage_bits": 0 if nest.a_is_activation else weights * word_bits,
                "spatial_utilisation": stats.spatial_utilisation,
                "bottleneck": stats.bottleneck,
                **{f"cycles_{name}": value for name, value in stats.level_cycles.items()},
                **tiles,
            },
            storage_fit=storage_fit,
        )
