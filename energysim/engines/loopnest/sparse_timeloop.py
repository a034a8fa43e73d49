"""Sparseloop's counting on a sparse loop-nest design (``compat = "timeloop"`` with ``[engine.sparse]``).

Starting from Timeloop's dense per-instance counts
(:func:`~energysim.engines.loopnest.timeloop_compat.dense_actions`), the rules of
``shared/reference/timeloop_conventions.md`` 9-14, per level L, tensor d kept at L,
per instance (``rho`` = d's density, statistical: Sparseloop's ``fixed-structured``):

- **Format** (rule 10): a level keeping d compressed (a format with a CP, RLE or B
  rank, or any energysim format but ``uncompressed``) reads, fills and updates
  ``count - floor(count x (1 - rho))``; the removed accesses are not reported.
- **Gating / skipping** of d at L on leaders (rule 11), ``p = 1 - prod(leader
  densities)``: ``floor(reads x p)`` reads (``ceil`` for outputs) and ``floor(updates
  x p)`` updates are optimised away, fills never; they are counted as
  ``gated_read``/``skipped_read``/``gated_update``/``skipped_update`` on the level's
  ``action_units`` entry. A rule at a level that bypasses d applies at the next
  outer keeper. Gated accesses take bandwidth, skipped ones do not.
- **Metadata** (rule 13): a format with ``ranks`` gives them to L's loops as Sparseloop
  does (:mod:`~energysim.engines.loopnest.sparse_ranks`: outer ranks take L's loops, a
  compressed L takes its inner keeper's ranks as its innermost ones, a fiber per rank
  spans the points its loops alone touch): per traversal of L's tile, UOP ``F' x (e + 1)``
  offsets, CP and RLE ``F' x o`` coordinates (and as many payloads above the innermost
  rank), B ``F' x e`` flags, UB ``F x e``. Each action moves ``dense count / tile
  points`` traversals: ``metadata_<action>`` = ``ceil(bits / metadata_word_bits)`` per
  instance (Sparseloop's energy accesses: bits from each rank's ``ceil(units x dense count /
  tile points)`` metadata and payload accesses), and the stats give Sparseloop's printed
  scalar count, ``metadata_scalar_<action>_<level>_<tensor>`` = ``ceil(units x dense
  count / tile points)`` per instance. A format without ranks uses the ideal model's
  bits per point (``sparse.py``). Where a rule (rule 11) optimises d's reads or updates
  at L, ``floor(metadata words x p)`` (``ceil`` for output reads) of them are
  ``gated_metadata_<action>`` (they keep their bandwidth) or ``skipped_metadata_<action>``
  (they do not); the rest stay ``metadata_<action>``, so the parts add up to the words
  the unoptimised traffic would move.
- **Computes** (rule 12): for each read-only tensor, the innermost keeper with a rule
  on it removes ``floor(computes x p)``; the removed computes cost nothing, are not
  reported and take no compute cycle (Sparseloop's eyeriss_like_w_gating reference:
  0 gated computes, compute cycles from the actual ones; gated *reads* still stretch
  their level's cycles). Without such rules a ``unit`` rule (Sparseloop's
  compute-optimization) acts once and its computes are counted ``gated_<mac action>``
  (kept in the cycles) or ``skipped_<mac action>``. Compute cycles =
  ceil((actual + gated) / utilised MACs).
- **(De)compression** (rule 14): a child with a ``codec_units`` entry keeping d
  uncompressed under a compressed parent counts ``decompress`` = its actual fills
  and, for outputs, ``compress`` = the parent's actual updates (raw, no vectors).
- **Vectors** (rules 6 and 15): data accesses rounded up to ``block_words`` per
  instance and action (``<d>:vector_padding``); for a compressed tile that is not dense,
  with a block Timeloop's table lists, smaller (in blocks) than the table's threshold
  for its density, the vectors are ``ceil(ceil(count / block) x ratio)``, ``ratio`` the
  expected blocks its non-zeros occupy over the ideal (:func:`vector_ratio`; Timeloop keeps
  the product unrounded, energysim rounds it up to a whole vector).
- **Cycles, leakage** as the dense Timeloop rules: level cycles from actual + gated
  accesses + metadata words (actual and gated) per instance at the level's bandwidths,
  as Timeloop's slowdown in double precision (rule 8); with ``metadata_bandwidth = false``
  the data accesses only (the older Sparseloop of the published onchip_compression outputs).

Real masks give their measured densities here (the counts stay Sparseloop's
statistical ones). Not reproduced: temporal reductions (energysim has no adder action),
Sparseloop's gated/skipped *metadata read* rule of its current source (which adds the
level's own ranks per tile, once, whatever the read count; its older source takes
``ceil(metadata reads x (1 - density))``; here the data's rule-11 rounding), a compressed tile's capacity from these ranks (the mapping check
uses the ideal model's occupancy).
"""

from __future__ import annotations

import math

from energysim.engines.loopnest.analysis import LoopNestStats, priced_stats
from energysim.engines.loopnest.mapping import Mapping, check_mapping
from energysim.engines.loopnest.sparse import (Densities, _data_ratio, _metadata_bits_per_point, metadata_problem,
                                              occupancy_for)
from energysim.engines.loopnest.sparse_config import ActionOptimisation
from energysim.engines.loopnest.sparse_ranks import action_metadata, level_ranks, tensor_points, tile_metadata
from energysim.engines.loopnest.spec import Spec
from energysim.engines.loopnest.timeloop_compat import PADDING_SUFFIX, dense_actions, level_cycles_for
from energysim.errors import ConfigError
from energysim.hardware.hierarchy import LEAK_ACTION
from energysim.workloads.loop_nest import TENSORS, LoopNest

DATA_ACTIONS = ("read", "fill", "update")
"""Timeloop's per-level actions."""

OPTIMISED_ACTIONS = ("read", "update")
"""Actions an action optimisation removes (fills never are: rule 11)."""


def formatted(count: int, ratio: float) -> int:
    """Rule 10: accesses left by a compressed format, ``count - floor(count x (1 - ratio))``.

    Parameters
    ----------
    count
        Dense (uncompressed) accesses, a count.
    ratio
        Fraction of them the compressed tile keeps (the tensor's density), in [0, 1].

    Returns
    -------
    int
        Accesses of the compressed tile, a count.
    """
    return count - math.floor(count * (1.0 - ratio) + 1e-9)


def optimised(count: int, p: float, outputs: bool = False) -> int:
    """Rule 11: accesses a rule removes, ``floor(count x p)`` (``ceil`` for output reads).

    Parameters
    ----------
    count
        Accesses before the rule, a count.
    p
        Probability that a leader is zero (``1 - product of the leaders' densities``), in [0, 1].
    outputs
        True for output reads, which Sparseloop rounds up.

    Returns
    -------
    int
        Accesses gated or skipped, a count.
    """
    return math.ceil(count * p - 1e-9) if outputs else math.floor(count * p + 1e-9)


def points_of(nest: LoopNest, tensor: str, extents: dict[str, int]) -> int:
    """Points of ``tensor`` in a tile of loop ``extents``.

    Parameters
    ----------
    nest
        The layer's loop nest.
    tensor
        ``"weights"``, ``"inputs"`` or ``"outputs"``.
    extents
        Dimension -> loop bound of the tile (a dimension left out spans 1).

    Returns
    -------
    int
        Points of the tensor in the tile, a count.
    """
    return tensor_points(nest, tensor, list(extents.items()))


VECTOR_THRESHOLDS = {2: (251, 125, 84, 63, 51, 42, 36, 32, 28, 1), 4: (375, 188, 125, 94, 75, 63, 54, 47, 42, 1),
                     8: (438, 219, 146, 110, 88, 73, 63, 55, 49, 1), 16: (469, 235, 157, 118, 94, 79, 67, 59, 52, 1),
                     32: (485, 243, 162, 122, 97, 81, 70, 61, 52, 1)}
"""Rule 15: Timeloop's ``VectorWidthCoefficientTable`` (``model/buffer.hpp``): per block size, the tile size in
blocks (at densities 0.1, 0.2, ..., 1.0) from which a compressed tile's vector accesses need no correction."""


def vector_ratio(block: int, tile: int, density: float) -> float:
    """Rule 15: the factor on a compressed tile's vector accesses ``ceil(count / block)``.

    When the level's block is in :data:`VECTOR_THRESHOLDS`, the tile is compressed and not dense, and its
    size in blocks (``tile // block``) is below the threshold for its density (index ``floor(density / 0.1) - 1``,
    0 below 0.1): the expected blocks a tile's non-zeros occupy over its fixed-structured occupancies (floor
    and ceil of ``tile x density``), ``sum ceil(nnz / block) x P(nnz)``, over the ideal ``tile x density /
    block``. Otherwise 1 (also for a block size Timeloop's table does not list, where Timeloop stops).

    Parameters
    ----------
    block
        The level's ``block_size``, words per vector access.
    tile
        Points of the tile, a count.
    density
        Fraction of non-zero points, in [0, 1].

    Returns
    -------
    float
        The factor (>= 1, dimensionless).
    """
    if block <= 1 or tile == 0 or density >= 1.0 or block not in VECTOR_THRESHOLDS:
        return 1.0
    index = math.floor(density / 0.1 + 1e-9) - 1 if density >= 0.1 else 0
    if VECTOR_THRESHOLDS[block][index] <= tile // block:
        return 1.0
    exact = tile * density
    low, high = math.floor(exact), math.ceil(exact)
    expected = (1.0 - (exact - low)) * math.ceil(low / block) + (exact - low) * math.ceil(high / block)
    return expected / (exact / block)


def resolve_rules(spec: Spec, mapping: Mapping) -> dict[tuple[int, str], ActionOptimisation]:
    """Level rules by the (level index, tensor) they act on: at the level, or its next outer keeper when it bypasses.

    Parameters
    ----------
    spec
        The hardware, with ``[engine.sparse]`` actions.
    mapping
        The mapping (which levels keep which tensor).

    Returns
    -------
    dict[tuple[int, str], ActionOptimisation]
        ``(level index, target tensor)`` -> the first rule acting there (compute-unit rules are left out).
    """
    names = [level.name for level in spec.levels]
    out: dict[tuple[int, str], ActionOptimisation] = {}
    for rule in spec.config.sparse.actions:
        if rule.level is None:
            continue
        index = names.index(rule.level)
        while not mapping.keeps(spec, index, rule.target):
            index -= 1
        out.setdefault((index, rule.target), rule)
    return out


def evaluate(spec: Spec, nest: LoopNest, mapping: Mapping, densities: Densities,
             check: bool = True) -> tuple[LoopNestStats, dict]:
    """Count, time and price one mapping of a sparse design with Sparseloop's rules (module docstring).

    Parameters
    ----------
    spec
        A loop-nest hardware with ``engine.sparse``.
    densities
        The operands' densities (statistical, or measured on real masks).
    check
        Check the mapping, compressed tiles occupying non-zeros plus metadata.

    Returns
    -------
    tuple
        The stats (counts summed over utilised instances, cycles, energy in pJ;
        ``macs`` = the computes performed) and the sparse statistics for the result.

    Raises
    ------
    ConfigError
        If a count has no ``[[units]]`` entry pricing it (one line naming the entry).
    """
    if check:
        where = f"mapping {mapping.source or '(in memory)'}"
        check_mapping(spec, nest, mapping, where, occupancy_for(spec, nest, densities))

        def rank_bits(index: int, tensor: str, fmt) -> float:
            tile = points_of(nest, tensor, mapping.tile_extents(index))
            if fmt.ranks is None:
                return tile * _metadata_bits_per_point(fmt, densities.of(tensor), nest, mapping, index) \
                    if fmt.compressed else 0.0
            fullest = math.ceil(tile * densities.of(tensor) - 1e-9) / tile   # Sparseloop checks the fullest tile
            return tile_metadata(fmt, level_ranks(spec, nest, mapping, index, tensor), tile, fullest)[1]

        problem = metadata_problem(spec, nest, mapping, densities, rank_bits)
        if problem is not None:
            raise ConfigError(f"{where}: {problem}")
    config = spec.config.sparse
    flat, actions = dense_actions(spec, nest, mapping)
    rules = resolve_rules(spec, mapping)
    density = {tensor: densities.of(tensor) for tensor in TENSORS}
    counts: dict[tuple[str, str, str], int] = {}
    per_instance = {level.name: [0.0, 0.0] for level in spec.levels}
    actual_of: dict[tuple[int, str], dict[str, int]] = {}
    scalar: dict[str, int] = {}

    def add(component: str, tensor: str, action: str, value: int) -> None:
        if value:
            counts[(component, tensor, action)] = counts.get((component, tensor, action), 0) + int(value)

    def leaders_p(rule: ActionOptimisation) -> float:
        return 1.0 - math.prod(density[leader] for leader in rule.leaders)

    for (index, tensor), dense in actions.items():
        level = spec.levels[index]
        used = flat.used(index)
        fmt = config.ranks_of(level.name, tensor)
        compressed = fmt is not None and fmt.compressed
        ratio = _data_ratio(fmt, density[tensor]) if compressed else 1.0
        kept = {a: formatted(v, ratio) if compressed else v for a, v in dense.items()}
        rule = rules.get((index, tensor))
        removed = dict.fromkeys(DATA_ACTIONS, 0)
        if rule is not None:
            p = leaders_p(rule)
            removed["read"] = optimised(kept["read"], p, outputs=tensor == "outputs")
            removed["update"] = optimised(kept["update"], p)
        actual = {a: kept[a] - removed[a] for a in DATA_ACTIONS}
        actual_of[(index, tensor)] = actual
        block = level.level.config.block_words or 1
        ratio15 = vector_ratio(block, points_of(nest, tensor, mapping.tile_extents(index)), ratio) if compressed else 1.0
        for action, value in actual.items():
            vectors = math.ceil(math.ceil(value / block) * ratio15 - 1e-9)
            add(level.name, tensor, action, value * used)
            add(level.name, tensor + PADDING_SUFFIX, action, (vectors * block - value) * used)
        unit = _unit(spec, level.name) if rule is not None or fmt is not None else ""
        kind = rule.kind if rule is not None else ""
        prefix = "gated" if kind == "gating" else "skipped"
        for action in OPTIMISED_ACTIONS:
            if removed[action]:
                add(unit, tensor, f"{prefix}_{action}", removed[action] * used)
        meta_words = dict.fromkeys(DATA_ACTIONS, 0)
        meta_gated = dict.fromkeys(DATA_ACTIONS, 0)
        width = (fmt.metadata_word_bits if fmt is not None else None) or level.level.config.word_bits
        if fmt is not None:
            tile = points_of(nest, tensor, mapping.tile_extents(index))
            shapes = level_ranks(spec, nest, mapping, index, tensor) if fmt.ranks is not None else None
            per_point = _metadata_bits_per_point(fmt, density[tensor], nest, mapping, index) \
                if shapes is None and compressed else 0.0
            for action in DATA_ACTIONS:
                if shapes is not None and tile and dense[action]:
                    units, bits = action_metadata(fmt, shapes, tile, density[tensor], dense[action] / tile)
                    scalar[f"metadata_scalar_{action}_{level.name}_{tensor}"] = units
                    total = math.ceil(bits / width)
                else:
                    total = math.ceil(dense[action] * per_point / width - 1e-9)
                gone = 0
                if rule is not None and action in OPTIMISED_ACTIONS:
                    gone = optimised(total, leaders_p(rule), outputs=tensor == "outputs" and action == "read")
                meta_words[action] = total - gone
                add(unit, tensor, f"metadata_{action}", (total - gone) * used)
                add(unit, tensor, f"{prefix}_metadata_{action}", gone * used)
                if kind == "gating":
                    meta_gated[action] = gone
        word = {a: math.ceil((meta_words[a] + meta_gated[a]) * width / level.level.config.word_bits)
                if config.metadata_bandwidth else 0 for a in DATA_ACTIONS}
        gated = removed if kind == "gating" else dict.fromkeys(DATA_ACTIONS, 0)
        per_instance[level.name][0] += actual["read"] + gated["read"] + word["read"]
        per_instance[level.name][1] += actual["fill"] + actual["update"] + gated["update"] + word["fill"] + word["update"]

    _codecs(spec, mapping, flat, actual_of, add)
    effectual, gated_computes, skipped = _computes(spec, nest.macs, rules, leaders_p)
    mac = spec.config.mac_unit
    for action in spec.mac_actions:
        add(mac, "-", action, effectual)
        add(mac, "-", f"gated_{action}", gated_computes)
        add(mac, "-", f"skipped_{action}", skipped)
    utilised = flat.used(len(spec.levels))
    cycles_compute = math.ceil((effectual + gated_computes) / utilised)
    level_cycles = level_cycles_for(spec, per_instance, cycles_compute)
    cycles_total = max(level_cycles.values())
    for level in spec.levels:
        if LEAK_ACTION in level.level.costs:
            add(level.name, "-", LEAK_ACTION, cycles_total * flat.used(level.index))
    where = spec.hardware.path or spec.hardware.name
    for component, _, action in counts:
        if (component, action) not in spec.prices:
            raise ConfigError(f"{where}: engine.sparse: compat 'timeloop' counts '{action}' of '{component}': needs a "
                              f"[[units]] entry name = '{component}', action = '{action}' (energy_pj with source; 0 is "
                              "Sparseloop's default)")
    stats = priced_stats(spec, counts, effectual, cycles_compute, level_cycles, cycles_total, mapping)
    sparse_stats = {"density_model": f"{densities.model}; compat timeloop: Sparseloop's fixed-structured counts",
                    "density_weights": densities.weights, "density_inputs": densities.inputs,
                    "effectual_fraction": effectual / nest.macs, **scalar}
    return stats, sparse_stats


def _unit(spec: Spec, level: str) -> str:
    """The ``[[units]]`` name counting a level's sparse actions (``action_units``), or a one-line error."""
    unit = spec.config.sparse.action_units.get(level)
    if unit is None:
        where = spec.hardware.path or spec.hardware.name
        raise ConfigError(f"{where}: engine.sparse.action_units: level '{level}' needs a [[units]] name pricing its "
                          "sparse actions (compat 'timeloop' counts its metadata, gated and skipped accesses there)")
    return unit


def _codecs(spec: Spec, mapping: Mapping, flat, actual_of: dict, add) -> None:
    """Rule 14: decompressions into, and compressions out of, uncompressed children of compressed parents."""
    config = spec.config.sparse
    for tensor in TENSORS:
        keepers = [i for i in range(len(spec.levels)) if mapping.keeps(spec, i, tensor)]
        for parent, child in zip(keepers, keepers[1:]):
            unit = config.codec_units.get(spec.levels[child].name)
            if unit is None or config.format_of(spec.levels[child].name, tensor) is not None \
                    or config.format_of(spec.levels[parent].name, tensor) is None:
                continue
            add(unit, tensor, "decompress", actual_of[(child, tensor)]["fill"] * flat.used(child))
            if tensor == "outputs":
                add(unit, tensor, "compress", actual_of[(parent, tensor)]["update"] * flat.used(parent))


def _computes(spec: Spec, macs: int, rules: dict, leaders_p) -> tuple[int, int, int]:
    """Rule 12: (actual, gated, skipped) computes; storage rules eliminate, a unit rule gates or skips."""
    actual, gated, skipped = macs, 0, 0
    chosen = []
    for tensor in ("weights", "inputs"):
        found = [(index, rule) for (index, t), rule in rules.items() if t == tensor]
        if found:
            chosen.append(max(found, key=lambda item: item[0])[1])
    if not chosen:
        chosen = [rule for rule in spec.config.sparse.actions if rule.unit is not None][:1]
    for rule in chosen:
        removed = optimised(actual, leaders_p(rule))
        actual -= removed
        if rule.unit is None:
            continue                                  # eliminated by the operands' storage rules: not reported
        if rule.kind == "gating":
            gated += removed
        else:
            skipped += removed
    return actual, gated, skipped
