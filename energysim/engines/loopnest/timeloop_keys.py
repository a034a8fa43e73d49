"""The keys Timeloop, Accelergy and Sparseloop read at each place of their YAML, and the check that refuses others.

:func:`check_keys` walks the merged top-level keys of the imported files before anything
is read from them. At every mapping it compares the keys with the :class:`Place` for
that position (hyphens and underscores are the same key, as in Timeloop's parsers):

- a key energysim reads (``used``) passes;
- a key Timeloop reads but energysim does not model (``ignored``) passes, and its path
  (list indices written ``[]``) is added to the ``ignored`` set the importer turns into a note;
- ``version`` passes anywhere (the format's version);
- any other key is refused in one line naming the file, the key's path, the rule and
  the value, with the nearest known key (:func:`difflib.get_close_matches`) suggested.

Component ``attributes`` are open in Accelergy (a compound class declares its own and
estimator plug-ins read what they like), so there an unknown key is refused only when
it is close to a known one (a misspelling such as ``dept`` or ``meshx``); any other is
passed on to Accelergy, which energysim does not run, and noted as ignored. A name that
a class of the files' own ``compound_components`` (or ``components``) declares among its
attributes is known there, however close to a built-in one.

Timeloop v4 specifications (timeloopfe: ``architecture.nodes`` of tagged nodes, top-level
``constraints`` and ``variables``) are checked against :data:`TOP_V4`; each node by the
place of its tag (:data:`V4_NODE`).

The key lists restate what Timeloop's parsers look up (``mapping/parser.cpp``,
``mapping/constraints.cpp``, the storage and arithmetic specs of ``model/``), Accelergy's
ERT and component formats, and Sparseloop's ``sparse_optimizations``.
"""

from __future__ import annotations

import difflib
import reprlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from energysim.errors import ConfigError

MAX_NODES = 100_000
"""Most YAML mappings checked (a YAML alias can repeat a subtree exponentially often)."""


@dataclass(frozen=True)
class Place:
    """The keys accepted in one kind of YAML mapping.

    Attributes
    ----------
    name
        What the mapping is, for messages ("a mapping directive").
    used
        Keys energysim reads.
    ignored
        Keys Timeloop (or Accelergy, Sparseloop) reads that energysim does not model.
    children
        Key -> the place of its value (a mapping, or each mapping of a list).
    open
        Unknown keys pass unless close to a known one (Accelergy attributes).
    list_of
        The place of each entry when the value is a list rather than a mapping.
    list_only
        A mapping given here is keyed by names (an ERT's tables by component), not checked.
    by_tag
        YAML tag (``!Component``) -> the place of a mapping written with it (Timeloop v4's architecture nodes).
    """

    name: str
    used: frozenset[str]
    ignored: frozenset[str] = frozenset()
    children: dict[str, "Place"] = field(default_factory=dict)
    open: bool = False
    list_of: "Place | None" = None
    list_only: bool = False
    by_tag: dict[str, "Place"] = field(default_factory=dict)


def _keys(*names: str) -> frozenset[str]:
    return frozenset(_norm(n) for n in names)


def _norm(key: str) -> str:
    return key.replace("-", "_")


ATTRIBUTES = Place(
    "component attributes",
    used=_keys("word-bits", "datawidth", "block-size", "width", "data_storage_width", "depth", "data_storage_depth",
               "meshX", "meshY", "read_bandwidth", "write_bandwidth", "global_cycle_seconds", "cluster-size",
               "metadata_storage_width", "metadata_storage_depth", "metadata_datawidth", "decompression_supported",
               "compression_supported"),
    ignored=_keys("instances", "memory_depth", "memory_width", "num-ports", "num-banks", "n_banks", "multiple-buffering",
                  "min_utilization", "network", "network_read", "network_fill", "network_update", "network_drain",
                  "technology", "latency", "n_rdwr_ports", "n_rd_ports", "n_wr_ports", "n_rw_ports", "type", "version",
                  "adder_width", "multiplier_width", "metadata_block_size", "concordant_compressed_tile_traversal",
                  "tile_partition_supported", "allow_overbooking", "reduction_supported", "shared_bandwidth",
                  "action_latency_cycles", "cycle_seconds", "resolution"),
    open=True)

COMPONENT = Place("an architecture component (local entry)", used=_keys("name", "class", "attributes"),
                  ignored=_keys("subclass", "required_actions", "area_share", "actions", "enabled", "description"),
                  children={"attributes": ATTRIBUTES})

NODE = Place("an architecture node", used=_keys("name", "attributes", "local", "subtree"), ignored=_keys("version"),
             children={"attributes": ATTRIBUTES, "local": COMPONENT})
NODE.children["subtree"] = NODE

ARCHITECTURE = Place("architecture", used=_keys("subtree", "local", "attributes", "name"),
                     children={"subtree": NODE, "local": COMPONENT, "attributes": ATTRIBUTES})

COMPONENT_CLASS = Place("a component class", used=_keys("name", "attributes"),
                        ignored=_keys("subcomponents", "actions", "version", "description"))
COMPONENT_CLASSES = Place("compound_components", used=_keys("classes"), ignored=_keys("version"),
                          children={"classes": COMPONENT_CLASS})

DATA_SPACE = Place("a problem data space", used=_keys("name", "projection", "read-write"))
COEFFICIENT = Place("a problem coefficient", used=_keys("name", "default"))
SHAPE = Place("problem.shape", used=_keys("name", "dimensions", "data-spaces", "coefficients"),
              children={"data_spaces": DATA_SPACE, "coefficients": COEFFICIENT})
DENSITY = Place("a data space's density", used=_keys("density", "distribution"),
                ignored=_keys("band_width", "workload_tensor"))
PROBLEM = Place("problem", used=_keys("shape", "instance"), ignored=_keys("version"), children={"shape": SHAPE})
INSTANCE_EXTRA = _keys("H", "W", "Hpad", "Wpad")
"""Instance values of Timeloop's cnn-layer problem that no projection reads (its frontend writes them out)."""

DIRECTIVE_KEYS = _keys("target", "type", "factors", "permutation", "split", "keep", "bypass")
"""Mapping directive keys (Timeloop's mapping parser)."""
MAPPING_DIRECTIVE = Place("a mapping directive", used=DIRECTIVE_KEYS)
CONSTRAINT = Place("a mapspace constraint", used=DIRECTIVE_KEYS,
                   ignored=_keys("min", "max", "no_link_transfer", "no_multicast_no_reduction", "no_temporal_reuse",
                                 "skew", "default_max_factor", "default_min_factor", "max_overbooking",
                                 "min_parallelism"))
CONSTRAINT_TABLE = Place("a constraints table", used=_keys("targets"), ignored=_keys("version"),
                         children={"targets": CONSTRAINT})
MAPSPACE = Place("mapspace", used=_keys("constraints"), ignored=_keys("version", "template", "split"),
                 children={"constraints": CONSTRAINT})

RANK = Place("a Sparseloop rank", used=_keys("format", "metadata-word-bits", "payload-word-bits", "flattened-rankIDs",
                                             "flattened-rankids"))
SPARSE_SPACE = Place("a Sparseloop data space", used=_keys("name", "ranks"),
                     ignored=_keys("rank-application-order", "compressed"), children={"ranks": RANK})
FORMAT = Place("representation-format", used=_keys("data-spaces"), children={"data_spaces": SPARSE_SPACE},
               list_of=SPARSE_SPACE)
OPTION = Place("an action-optimization option", used=_keys("target", "condition-on"))
ACTION_OPT = Place("an action-optimization", used=_keys("type", "options", "target", "condition-on"),
                   children={"options": OPTION})
COMPUTE_OPT = Place("a compute-optimization", used=_keys("type", "zero-gating"))
SPARSE_TARGET = Place("a sparse_optimizations target",
                      used=_keys("name", "target", "representation-format", "compression", "action-optimization",
                                 "compute-optimization"),
                      children={"representation_format": FORMAT, "compression": FORMAT, "action_optimization": ACTION_OPT,
                                "compute_optimization": COMPUTE_OPT})
SPARSE = Place("sparse_optimizations", used=_keys("targets"), ignored=_keys("version"),
               children={"targets": SPARSE_TARGET}, list_of=SPARSE_TARGET)

ERT_ACTION = Place("an ERT action", used=_keys("name", "energy", "arguments"), ignored=_keys("estimator"),
                   list_only=True)
ERT_TABLE = Place("an ERT table", used=_keys("name", "actions"), ignored=_keys("primitive_estimations"),
                  children={"actions": ERT_ACTION}, list_only=True)
ERT = Place("ERT", used=_keys("tables"), ignored=_keys("version"), children={"tables": ERT_TABLE})

TOP = Place("the top level",
            used=_keys("architecture", "problem", "mapping", "mapspace", "mapspace_constraints", "architecture_constraints",
                       "sparse_optimizations", "ERT", "compound_components", "components"),
            ignored=_keys("mapper", "model", "globals", "variables", "ART", "ERT_summary", "ART_summary", "constraints",
                          "arch", "simulator", "environment_variables"),
            children={"architecture": ARCHITECTURE, "problem": PROBLEM, "mapping": MAPPING_DIRECTIVE,
                      "mapspace": MAPSPACE, "mapspace_constraints": CONSTRAINT, "architecture_constraints": CONSTRAINT,
                      "sparse_optimizations": SPARSE, "ERT": ERT, "compound_components": COMPONENT_CLASSES,
                      "components": COMPONENT_CLASSES})
"""Top-level keys of Timeloop's inputs (timeloop-model, timeloop-mapper, Accelergy's outputs, Sparseloop)."""

V4_DIRECTIVE = Place("a v4 constraint or mapping entry", used=DIRECTIVE_KEYS,
                     ignored=_keys("default_max_factor", "default_min_factor", "remainders", "no_reuse", "no_link_transfer",
                                   "rmw_first_update", "no_coalesce", "proportion", "min"))
V4_CONSTRAINT_GROUP = Place("a node's constraints", used=_keys("spatial", "temporal", "dataspace"),
                            ignored=_keys("max_overbooked_proportion", "utilization"),
                            children={"spatial": V4_DIRECTIVE, "temporal": V4_DIRECTIVE, "dataspace": V4_DIRECTIVE})
V4_SPATIAL = Place("a node's spatial fan-out", used=_keys("meshX", "meshY"))
V4_SPARSE_GROUP = Place("a node's sparse_optimizations",
                        used=_keys("representation-format", "action-optimization", "compute-optimization"),
                        children=SPARSE_TARGET.children)
V4_COMPONENT = Place("a !Component node", used=_keys("name", "class", "attributes", "spatial", "constraints",
                                                     "sparse_optimizations", "enabled"),
                     ignored=_keys("subclass", "required_actions", "area_share", "description"),
                     children={"attributes": ATTRIBUTES, "spatial": V4_SPATIAL, "constraints": V4_CONSTRAINT_GROUP,
                               "sparse_optimizations": V4_SPARSE_GROUP})
V4_CONTAINER = Place("a !Container node", used=_keys("name", "attributes", "spatial", "constraints", "enabled"),
                     ignored=_keys("networks", "description"),
                     children={"attributes": ATTRIBUTES, "spatial": V4_SPATIAL, "constraints": V4_CONSTRAINT_GROUP})
V4_BRANCH = Place("a !Hierarchical, !Parallel or !Pipelined node", used=_keys("nodes"), ignored=_keys("description"))
V4_NOTHING = Place("a !Nothing node", used=frozenset(), ignored=_keys("name", "class", "description"))
V4_NODE = Place("an architecture node", used=V4_COMPONENT.used | V4_CONTAINER.used | V4_BRANCH.used,
                by_tag={"!Component": V4_COMPONENT, "!Container": V4_CONTAINER, "!Hierarchical": V4_BRANCH,
                        "!Parallel": V4_BRANCH, "!Pipelined": V4_BRANCH, "!Nothing": V4_NOTHING})
"""A v4 architecture node: its keys are those of its tag's place (the reader refuses an untagged node)."""
V4_BRANCH.children["nodes"] = V4_NODE
V4_ARCHITECTURE = Place("architecture (v4)", used=_keys("nodes"), children={"nodes": V4_NODE})
V4_CONSTRAINTS = Place("constraints", used=_keys("targets"), children={"targets": V4_DIRECTIVE})

TOP_V4 = Place("the top level of a v4 specification",
               used=_keys("architecture", "problem", "mapping", "constraints", "variables", "components",
                          "compound_components", "sparse_optimizations", "ERT"),
               ignored=_keys("mapper", "mapspace", "globals", "model", "ART", "ERT_summary", "ART_summary"),
               children={"architecture": V4_ARCHITECTURE, "problem": PROBLEM, "mapping": V4_DIRECTIVE,
                         "constraints": V4_CONSTRAINTS, "components": COMPONENT_CLASSES,
                         "compound_components": COMPONENT_CLASSES, "sparse_optimizations": SPARSE, "ERT": ERT})
"""Top-level keys of a Timeloop v4 specification (timeloopfe's Specification) and the files given with it."""


class _InOrder(reprlib.Repr):
    """:class:`reprlib.Repr` keeping a mapping's keys in the file's order (reprlib sorts them)."""

    def repr_dict(self, x: dict, level: int) -> str:
        if not x:
            return "{}"
        if level <= 0:
            return "{...}"
        parts = [f"{self.repr1(k, level - 1)}: {self.repr1(v, level - 1)}" for k, v in list(x.items())[:self.maxdict]]
        return "{" + ", ".join(parts) + (", ..." if len(x) > self.maxdict else "") + "}"


_SHORTENER = _InOrder()
_SHORTENER.maxstring = _SHORTENER.maxother = 80


def _short(value: Any) -> str:
    """``repr(value)`` cut to 60 characters; built by :mod:`reprlib`, which reads only the first few items of each
    collection (a full repr of a large value took seconds and gigabytes before being cut)."""
    text = _SHORTENER.repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _path(at: str, key: str) -> str:
    return f"{at}.{key}" if at else key


def check_keys(merged: dict[str, Any], origin: dict[str, Path], ignored: set[str], top: Place = TOP) -> None:
    """Refuse any key Timeloop does not read at its place; collect the known keys energysim ignores.

    Parameters
    ----------
    merged
        The merged top-level keys of the imported files.
    origin
        For each top-level key, the file it came from (named in refusals).
    ignored
        Filled with the paths (list indices as ``[]``) of keys Timeloop reads that energysim does not model.
    top
        The place of the top level: :data:`TOP` (v0.3/v0.4 files) or :data:`TOP_V4` (a v4 specification).

    Raises
    ------
    ConfigError
        A key not known at its place: file, path, rule, value and the nearest known key.
    """
    budget = [MAX_NODES]
    declared = _declared_attributes(merged)
    for key in merged:
        if origin.get(key, Path()).suffix == ".txt":     # directives read from Timeloop's printed map.txt
            continue
        _check_one(key, merged[key], top, "", "", origin.get(key, Path("timeloop files")), ignored, budget, merged,
                   declared)


def _declared_attributes(merged: dict[str, Any]) -> frozenset[str]:
    """The attribute names the classes of ``compound_components`` / ``components`` declare (hyphens as underscores)."""
    names: set[str] = set()
    for key in ("compound_components", "components"):
        block = merged.get(key)
        classes = block.get("classes") if isinstance(block, dict) else block
        for entry in classes if isinstance(classes, list) else []:
            if isinstance(entry, dict) and isinstance(entry.get("attributes"), dict):
                names.update(_norm(str(name)) for name in entry["attributes"])
    return frozenset(names)


def _check_one(key: Any, value: Any, place: Place, at: str, shape_at: str, path: Path, ignored: set[str],
               budget: list[int], merged: dict[str, Any], declared: frozenset[str] = frozenset()) -> None:
    name = _norm(str(key))
    here, shape_here = _path(at, str(key)), _path(shape_at, str(key))
    if name == "version":                      # every Timeloop/Accelergy mapping may carry its format version
        return
    if "ignore" in name.lower():               # timeloopfe skips a key holding "ignore" (problem_base_ignore: &base)
        ignored.add(shape_here)
        return
    if name in place.ignored:
        ignored.add(shape_here)
        return
    if place.open and name not in place.used and name in declared:
        ignored.add(f"{shape_here} (declared by a compound component class)")
        return
    if name not in place.used:
        known = sorted(place.used | place.ignored)
        near = difflib.get_close_matches(name, known, n=1, cutoff=0.6 if not place.open else 0.8)
        if place.open and not near:
            ignored.add(f"{shape_at}.{key} (an Accelergy attribute)")
            return
        near = [k for k in known if k.lower() == name.lower()] or near      # meshx: meshX before meshY
        hint = f"; did you mean '{near[0]}'?" if near else ""
        raise ConfigError(f"{path}: {here}: '{key}' is not a key Timeloop reads in {place.name} (known: "
                          f"{', '.join(known)}) (got {key}: {_short(value)}){hint}")
    child = place.children.get(name)
    if name == "instance" and place is PROBLEM:
        _check_instance(value, here, path, merged)
    if child is not None:
        _walk(value, child, here, shape_here, path, ignored, budget, merged, declared)


def _walk(value: Any, place: Place, at: str, shape_at: str, path: Path, ignored: set[str], budget: list[int],
          merged: dict[str, Any], declared: frozenset[str] = frozenset()) -> None:
    """Check a mapping (or each mapping of a list) against ``place``; other values are left to the readers."""
    if isinstance(value, list) and place.list_of is not None:
        place = place.list_of
    if isinstance(value, dict) and place is CONSTRAINT:       # constraints given as a table of targets
        place = CONSTRAINT_TABLE
    if isinstance(value, dict) and place.list_only:
        return
    items = [(f"{at}[{i}]", f"{shape_at}[]", v) for i, v in enumerate(value)] if isinstance(value, list) else \
        [(at, shape_at, value)]
    for where, shape_where, node in items:
        if not isinstance(node, dict):
            continue
        budget[0] -= 1
        if budget[0] < 0:
            raise ConfigError(f"{path}: {where}: the files must hold at most {MAX_NODES} YAML mappings "
                              f"(YAML aliases can multiply them)")
        node_place = place.by_tag.get(getattr(node, "tag", ""), place)
        for key, child in node.items():
            _check_one(key, child, node_place, where, shape_where, path, ignored, budget, merged, declared)


def _check_instance(instance: Any, at: str, path: Path, merged: dict[str, Any]) -> None:
    """``problem.instance`` keys: the shape's dimensions and coefficients, ``densities`` and the cnn-layer extras."""
    if not isinstance(instance, dict):
        return
    shape = merged["problem"].get("shape") if isinstance(merged.get("problem"), dict) else None
    shape = shape if isinstance(shape, dict) else {}
    dims = shape.get("dimensions") if isinstance(shape.get("dimensions"), list) else []
    coefficients = [c.get("name") for c in shape.get("coefficients") or [] if isinstance(c, dict)] \
        if isinstance(shape.get("coefficients"), list) else []
    known = {str(d) for d in dims} | {str(c) for c in coefficients} | {"densities", "Hstride", "Wstride", "Hdilation",
                                                                        "Wdilation"} | set(INSTANCE_EXTRA)
    for key, value in instance.items():
        if str(key) not in known:
            near = difflib.get_close_matches(str(key), sorted(known), n=1, cutoff=0.6)
            hint = f"; did you mean '{near[0]}'?" if near else ""
            raise ConfigError(f"{path}: {at}.{key}: '{key}' is not a key Timeloop reads in problem.instance (known: the "
                              f"shape's dimensions and coefficients and densities: {', '.join(sorted(known))}) "
                              f"(got {key}: {_short(value)}){hint}")
        if key == "densities" and isinstance(value, dict):
            for name, entry in value.items():
                if isinstance(entry, dict):
                    _walk(entry, DENSITY, f"{at}.densities.{name}", "problem.instance.densities.*", path, set(), [MAX_NODES],
                          merged)
