"""Read a Timeloop v4 specification (timeloopfe's format) into the v0.4 files the importer reads.

A v4 specification gives ``architecture.nodes``, a list of tagged nodes (:mod:`.timeloop_v4_tags`),
with ``variables``, top-level ``constraints.targets`` and ``mapping``, the same ``problem`` as
v0.4, and ``components`` (compound component classes). :func:`read_v4` rewrites it as Timeloop's
front end (timeloopfe) hands it to Timeloop, so that every later check, note and refusal of
:mod:`.timeloop_import` is the one of v0.4 files:

- nodes are read in order, ``!Hierarchical`` and ``!Pipelined`` lists in place, ``!Parallel``
  lists in place too (their components become consecutive levels; noted), ``!Nothing`` and
  ``enabled: false`` nodes left out (the latter noted);
- a ``!Container`` gives its attributes to every component after it; the first one names
  the top level (``<name>_top_level``), whose attributes are the ``variables`` and its own;
- a node with a ``spatial: {meshX, meshY}`` fan-out puts a ``dummy_storage`` level
  ``inter_<name>_spatial`` above it, which takes the node's spatial constraint, keeps no data
  space and has no temporal loops (factors 1); the nodes after it get ``meshX x meshY``
  times the instances (``name[1..N]``, ``meshX``/``meshY`` attributes);
- a component's constraints (``temporal``, ``spatial``, ``dataspace``), the top-level
  ``constraints.targets`` and ``mapping`` entries become directives per (target, type); two
  entries for one target and type combine, and a factor, permutation or split given twice
  with different values is refused, as in timeloopfe. With a non-empty ``mapping`` they all
  are the mapping (timeloop-model's input; a factor bound ``M<=8`` is refused); else they are
  ``architecture_constraints`` (a temporal ``M<=8`` kept as the mapper's largest loop bound, other bounds left
  out, noted),
  and a mapping printed by Timeloop (``map.txt``) is read as printed; a spatial permutation gets the
  dimensions it omits whose factor or problem size is 1 inserted first, as timeloopfe's
  PermutationOptimizer does (it moves the X/Y ``split``);
- attribute, variable, spatial and instance strings are evaluated as arithmetic over the
  variables and the attributes above (:mod:`.timeloop_v4_expressions`, never ``eval``);
- a component's ``sparse_optimizations`` become a Sparseloop target named after it.

Refusals name the v4 file and path (``architecture.nodes[3].attributes.depth``); the
importer maps the converted paths back with :attr:`V4Design.renames`.
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from energysim.engines.loopnest.timeloop_keys import ATTRIBUTES
from energysim.engines.loopnest.timeloop_v4_expressions import evaluate
from energysim.engines.loopnest.timeloop_v4_tags import CONSTRAINT_TAGS, NODE_TAGS
from energysim.errors import ConfigError, UnsupportedError

DUMMY_ATTRIBUTES = {"width": 1, "depth": 1, "datawidth": 1, "technology": -1}
"""Attributes of the fan-out level timeloopfe inserts (its dummy_storage)."""
KINDS = ("temporal", "spatial", "dataspace")
"""Constraint types a directive may have (``bypass``/``datatype`` are read as dataspace)."""
NETWORK_CLASSES = ("XY_NoC", "Legacy", "ReductionTree", "SimpleMulticast")
"""Component classes timeloopfe makes networks (its arch.py), not levels."""
_DIRECTIVE_FIELDS = ("factors", "permutation", "split", "keep", "bypass")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass
class V4Design:
    """A v4 specification rewritten as v0.4 top-level keys.

    Attributes
    ----------
    merged, origin
        The v0.4 keys and, for each, the file it is named after in messages.
    renames
        ``"file: converted path"`` -> ``"file: v4 path"`` for every converted place a refusal may name.
    notes
        Sentences for the user: what was flattened, left out or not evaluated.
    """

    merged: dict[str, Any]
    origin: dict[str, Path]
    renames: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def is_v4(merged: dict[str, Any]) -> bool:
    """True when the architecture is a v4 list of nodes (``architecture.nodes``)."""
    arch = merged.get("architecture")
    return isinstance(arch, dict) and "nodes" in arch


def rename(message: str, renames: dict[str, str]) -> str:
    """``message`` with every converted path of ``renames`` replaced by its v4 path (longest first)."""
    for old in sorted(renames, key=len, reverse=True):
        message = re.sub(re.escape(old) + r"(?![\d\]])", renames[old].replace("\\", "\\\\"), message)
    return message


def read_v4(merged: dict[str, Any], origin: dict[str, Path]) -> V4Design:
    """Rewrite a v4 specification as the v0.4 keys the importer reads (see the module docstring).

    Parameters
    ----------
    merged, origin
        The merged top-level keys of the files (keys already checked) and the file of each.

    Returns
    -------
    V4Design
        The v0.4 keys, their files, the path renames and the notes.

    Raises
    ------
    ConfigError
        A malformed node, an unknown constraint target, conflicting constraints, arithmetic that cannot be evaluated.
    UnsupportedError
        What Timeloop's front end refuses too (a container or fan-out inside ``!Parallel``), or an expression that
        is not arithmetic where energysim reads the value.
    """
    arch_file = origin["architecture"]
    symbols = _variables(merged, origin)
    problem = _problem(merged, origin, symbols)
    printed = origin.get("mapping", Path()).suffix == ".txt"         # Timeloop's map.txt: read as it is printed
    given = merged.get("mapping") not in (None, []) and not printed
    flat = _Flatten(arch_file, symbols, problem, for_model=given)
    flat.walk(merged["architecture"].get("nodes"), "architecture.nodes", parallel=False)
    if not flat.locals:
        raise ConfigError(f"{arch_file}: architecture.nodes: must list the components (!Component), outermost first "
                          f"(got none)")
    for key, where in (("constraints", "constraints.targets"), ("mapping", "mapping")):
        entries = merged.get(key) if not (printed and key == "mapping") else None
        if key == "constraints":
            entries = entries.get("targets") if isinstance(entries, dict) else entries
        if entries in (None, []):
            continue
        if not isinstance(entries, list):
            raise ConfigError(f"{origin[key]}: {where}: must be a list of entries with target and type "
                              f"(got {type(entries).__name__})")
        for index, entry in enumerate(entries):
            flat.top_level(entry, f"{origin[key]}: {where}[{index}]")
    out = {key: value for key, value in merged.items()
           if key not in ("architecture", "variables", "constraints") and (key != "mapping" or printed)}
    out_origin = {key: path for key, path in origin.items() if key in out}
    out["architecture"] = {"version": "0.4", "subtree": [{"name": flat.top_name, "attributes": flat.top_attributes,
                                                          "local": flat.locals}]}
    out_origin["architecture"] = arch_file
    if problem is not None:
        out["problem"] = problem
    if flat.bounds:
        flat.notes.append("left out (factor bounds energysim's mapper does not take: a lower bound, or one on a "
                          "spatial loop): " + ", ".join(flat.bounds))
    if flat.unevaluated:
        flat.notes.append("not evaluated, passed on as text (attributes energysim does not read; it evaluates "
                          "arithmetic only): " + ", ".join(flat.unevaluated))
    design = V4Design(out, out_origin, notes=flat.notes)
    for index, path in enumerate(flat.paths):
        design.renames[f"{arch_file}: architecture.subtree[0].local[{index}]"] = f"{arch_file}: {path}"
    directives, sources = flat.directives()
    key = "mapping" if given else "architecture_constraints"
    if directives:
        out[key] = directives if given else {"targets": directives}
        out_origin[key] = origin["mapping"] if given else origin.get("constraints", arch_file)
        for index, source in enumerate(sources):
            design.renames[f"{out_origin[key]}: {key}[{index}]"] = source
    if flat.sparse:
        block = out.get("sparse_optimizations")
        targets = list((block.get("targets") if isinstance(block, dict) else block) or [])
        out["sparse_optimizations"] = {"targets": targets + [entry for entry, _ in flat.sparse]}
        out_origin.setdefault("sparse_optimizations", arch_file)
        for index, (_, path) in enumerate(flat.sparse, start=len(targets)):
            design.renames[f"{out_origin['sparse_optimizations']}: sparse_optimizations.targets[{index}]"] = \
                f"{arch_file}: {path}"
    return design


def _variables(merged: dict[str, Any], origin: dict[str, Path]) -> dict[str, Any]:
    """The ``variables``, each evaluated over those before it."""
    given = merged.get("variables")
    if given is None:
        return {}
    if not isinstance(given, dict):
        raise ConfigError(f"{origin['variables']}: variables: must be a mapping of names to values "
                          f"(got {type(given).__name__})")
    symbols: dict[str, Any] = {}
    for name, value in given.items():
        if name != "version":
            symbols[str(name)] = evaluate(value, symbols, f"{origin['variables']}: variables.{name}")
    return symbols


def _problem(merged: dict[str, Any], origin: dict[str, Path], symbols: dict[str, Any]) -> dict | None:
    """The problem with its instance's expressions evaluated (sizes and coefficients must be numbers)."""
    problem = merged.get("problem")
    if not isinstance(problem, dict) or not isinstance(problem.get("instance"), dict):
        return problem
    where = f"{origin['problem']}: problem.instance"
    instance = {key: value if key == "densities" else evaluate(value, symbols, f"{where}.{key}", strict=True)
                for key, value in problem["instance"].items()}
    return {**problem, "instance": instance}


class _Flatten:
    """The walk over ``architecture.nodes``: the v0.4 components, their v4 paths, the directives, the notes."""

    def __init__(self, arch_file: Path, variables: dict[str, Any], problem: Any, for_model: bool) -> None:
        self.file = arch_file
        self.for_model = for_model
        self.variables = variables
        shape = problem.get("shape") if isinstance(problem, dict) else None
        shape = shape if isinstance(shape, dict) else {}
        self.dims = [str(d) for d in shape.get("dimensions") or [] if isinstance(d, (str, int))]
        instance = problem.get("instance") if isinstance(problem, dict) else None
        self.unit_dims = [d for d in self.dims if isinstance(instance, dict) and instance.get(d) == 1]
        spaces = shape.get("data_spaces") or shape.get("data-spaces") or []
        self.spaces = [str(s.get("name")) for s in spaces if isinstance(s, dict)]
        self.locals: list[dict] = []
        self.paths: list[str] = []
        self.inherited: dict[str, Any] = {}
        self.mesh = (1, 1)
        self.top_name = "top_level"
        self.top_attributes = {k: v for k, v in variables.items() if not isinstance(v, (dict, list))}
        self.first = True
        self.nodes: dict[str, dict] = {}
        self.merged: dict[tuple[str, str], dict] = {}
        self.sparse: list[tuple[dict, str]] = []
        self.notes: list[str] = []
        self.unevaluated: list[str] = []
        self.bounds: list[str] = []

    def walk(self, nodes: Any, at: str, parallel: bool) -> None:
        """Read a list of nodes in order (``parallel``: the entries of a ``!Parallel``)."""
        if not isinstance(nodes, list):
            raise ConfigError(f"{self.file}: {at}: must be a list of tagged nodes ({', '.join(NODE_TAGS)}) "
                              f"(got {type(nodes).__name__})")
        for index, node in enumerate(nodes):
            here = f"{at}[{index}]"
            tag = getattr(node, "tag", None)
            if tag not in NODE_TAGS:
                got = f"tag {tag}" if tag else (f"an untagged mapping with keys {', '.join(map(str, node))}"
                                                if isinstance(node, dict) else repr(node))
                raise ConfigError(f"{self.file}: {here}: each node must be a mapping tagged {', '.join(NODE_TAGS)} "
                                  f"(got {got})")
            if node.get("enabled", True) is False:
                self.notes.append(f"{self.file}: {here} ({node.get('name')}): enabled: false, left out (as Timeloop's "
                                  f"front end does)")
                continue
            if tag in ("!Hierarchical", "!Pipelined", "!Parallel"):
                if tag != "!Hierarchical":
                    names = [str(n.get("name")) for n in node.get("nodes") or [] if isinstance(n, dict) and "name" in n]
                    self.notes.append(f"{self.file}: {here}: {tag} read as Timeloop's front end gives it to Timeloop: "
                                      f"its components ({', '.join(names)}) become consecutive levels, each holding "
                                      f"only what its dataspace constraint keeps")
                self.walk(node.get("nodes", []), f"{here}.nodes", parallel or tag == "!Parallel")
            elif tag != "!Nothing":
                self.leaf(node, tag, here, parallel)

    def leaf(self, node: dict, tag: str, here: str, parallel: bool) -> None:
        """A ``!Component`` or ``!Container``: its fan-out level, its component, its constraints."""
        name = node.get("name")
        if not isinstance(name, str) or not _NAME.match(name):
            raise ConfigError(f"{self.file}: {here}.name: must be a name of letters, digits and _ (got {name!r})")
        if name in self.nodes:
            raise ConfigError(f"{self.file}: {here}.name: {name!r} names two nodes (also {self.nodes[name]['path']}); "
                              f"constraints and the ERT find nodes by name")
        container = tag == "!Container"
        attributes = self.attributes(node.get("attributes"), f"{here}.attributes")
        mesh_x, mesh_y = self.fanout(node.get("spatial"), f"{here}.spatial")
        fanout = mesh_x * mesh_y > 1
        if container:
            self.inherited.update(attributes)
            if self.first:
                self.top_name = f"{name}_top_level"
                self.top_attributes.update(attributes)
        self.first = False
        if parallel and (container or fanout):
            what = "a !Container" if container else "a component with a spatial fan-out"
            raise UnsupportedError(f"{self.file}: {here}: {what} inside a !Parallel is not read (Timeloop's front end "
                                   f"refuses it too); put it before the !Parallel")
        constraints = node.get("constraints") or {}
        if not isinstance(constraints, dict):
            raise ConfigError(f"{self.file}: {here}.constraints: must be a mapping of temporal, spatial, dataspace "
                              f"(got {type(constraints).__name__})")
        dummy = f"inter_{name}_spatial" if fanout else None
        self.nodes[name] = {"container": container, "dummy": dummy, "path": here}
        if dummy:
            self.nodes[dummy] = {"container": False, "dummy": None, "path": f"{here}.spatial"}
            self.place(dummy, "dummy_storage", dict(DUMMY_ATTRIBUTES), f"{here}.spatial")
            self.add(dummy, "temporal", {"factors": [f"{d}=1" for d in self.dims], "permutation": list(self.dims)},
                     f"{self.file}: {here}.spatial (the fan-out level {dummy}: no temporal loops)")
            self.add(dummy, "dataspace", {"bypass": list(self.spaces)},
                     f"{self.file}: {here}.spatial (the fan-out level {dummy} keeps no data)")
            self.mesh = (self.mesh[0] * mesh_x, self.mesh[1] * mesh_y)
        for kind, entry in constraints.items():
            source = f"{self.file}: {here}.constraints.{kind}"
            if kind not in KINDS or entry in (None, {}):
                continue                                   # max_overbooked_proportion, utilization: noted as ignored
            if kind == "spatial" and dummy:
                self.add(dummy, kind, self.fields(entry, kind, source), source)
            elif container:
                self.notes.append(f"{source}: left out: Timeloop's front end keeps no {kind} constraint of a "
                                  f"!Container" + ("" if kind != "spatial" else " without a spatial fan-out"))
            else:
                self.add(name, kind, self.fields(entry, kind, source), source)
        if container:
            return
        cls = node.get("class")
        if not isinstance(cls, str) or not cls:
            raise ConfigError(f"{self.file}: {here}.class: must name the component class (got {cls!r})")
        if any(kind in cls for kind in NETWORK_CLASSES):
            raise UnsupportedError(f"{self.file}: {here}.class: {cls!r} is a network, which energysim does not model "
                                   f"(it would be read as a storage level); leave it out, its energy uncounted")
        self.place(name, cls, attributes, here)
        if node.get("sparse_optimizations"):
            if not isinstance(node["sparse_optimizations"], dict):
                raise ConfigError(f"{self.file}: {here}.sparse_optimizations: must be a mapping of representation_format, "
                                  f"action_optimization, compute_optimization (got {node['sparse_optimizations']!r})")
            self.sparse.append(({"name": name, **node["sparse_optimizations"]}, f"{here}.sparse_optimizations"))

    def attributes(self, given: Any, at: str) -> dict[str, Any]:
        """A node's attributes, each evaluated over the variables, the containers' attributes and those before it."""
        if given is None:
            return {}
        if not isinstance(given, dict):
            raise ConfigError(f"{self.file}: {at}: must be a mapping of attribute names to values "
                              f"(got {type(given).__name__})")
        out: dict[str, Any] = {}
        for key, value in given.items():
            if str(key) in ("meshX", "meshY"):
                raise ConfigError(f"{self.file}: {at}.{key}: a v4 node gives its fan-out as spatial: {{meshX: N, "
                                  f"meshY: M}}; the front end computes the attributes meshX and meshY (got {key}: {value!r})")
            symbols = {**self.variables, **self.inherited, **out}
            strict = str(key).replace("-", "_") in ATTRIBUTES.used
            out[str(key)] = evaluate(value, symbols, f"{self.file}: {at}.{key}", strict=strict,
                                     unevaluated=self.unevaluated)
        return out

    def fanout(self, spatial: Any, at: str) -> tuple[int, int]:
        """``meshX`` and ``meshY`` of a node's ``spatial`` (1 when absent); each a positive integer."""
        if spatial is None:
            return 1, 1
        if not isinstance(spatial, dict):
            raise ConfigError(f"{self.file}: {at}: must be a mapping with meshX and meshY (got {type(spatial).__name__})")
        out = []
        for key in ("meshX", "meshY"):
            value = evaluate(spatial.get(key, 1), {**self.variables, **self.inherited}, f"{self.file}: {at}.{key}",
                             strict=True)
            if isinstance(value, float) and not math.isfinite(value):
                raise ConfigError(f"{self.file}: {at}.{key}: must be a finite number (got {value!r})")
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 1 or value != int(value):
                raise ConfigError(f"{self.file}: {at}.{key}: must be a positive integer (got {value!r})")
            out.append(int(value))
        return out[0], out[1]

    def place(self, name: str, cls: str, attributes: dict[str, Any], path: str) -> None:
        """Append one v0.4 component at the current mesh, with the containers' attributes it does not set."""
        attrs = {**attributes, "meshX": self.mesh[0], "meshY": self.mesh[1]}
        attrs.update({k: v for k, v in self.inherited.items() if k not in attrs})
        self.locals.append({"name": f"{name}[1..{self.mesh[0] * self.mesh[1]}]", "class": cls, "attributes": attrs})
        self.paths.append(path)

    def fields(self, entry: Any, kind: str, source: str) -> dict[str, Any]:
        """The directive fields of one v4 constraint (factors and permutation as lists)."""
        if not isinstance(entry, dict):
            raise ConfigError(f"{source}: must be a mapping of factors, permutation, keep, bypass ... "
                              f"(got {type(entry).__name__})")
        out: dict[str, Any] = {}
        for key in _DIRECTIVE_FIELDS:
            value = entry.get(key)
            if value is None:
                continue
            if key == "factors":
                value = _factor_list(value, f"{source}.factors", None if self.for_model else self.bounds,
                                     keep_max=kind == "temporal" and not self.for_model)
                self.check_factors(value, f"{source}.factors")
            elif key == "permutation":
                value = _permutation_list(value, f"{source}.permutation")
            out[key] = value
        return out

    def check_factors(self, factors: list[str], where: str) -> None:
        """Refuse a factor that is not ``DIM=N`` (a problem dimension, a whole number) where it is written, before it is
        combined with the other entries for its node."""
        for item in factors:
            dim, sign, number = item.replace("<=", "=").partition("=")
            if not sign or not number.isdigit() or (self.dims and dim not in self.dims):
                dims = f" one of {', '.join(self.dims)}" if self.dims else ""
                raise ConfigError(f"{where}: each factor must be DIM=N with DIM{dims} and N a whole number (got {item!r})")

    def add(self, target: str, kind: str, fields: dict[str, Any], source: str) -> None:
        """Combine ``fields`` into the directive for (target, kind), refusing what the two give differently."""
        if not fields:
            return
        slot = self.merged.setdefault((target, kind), {"fields": {}, "sources": []})
        have = slot["fields"]
        for key, value in fields.items():
            if key == "factors":
                known = {item.partition("=")[0]: item for item in have.get("factors", [])}
                for item in value:
                    dim = item.partition("=")[0]
                    if dim in known and known[dim] != item:
                        raise ConfigError(f"{source}.factors: {item} conflicts with {known[dim]} for {target} "
                                          f"({', '.join(slot['sources'])}); give each factor once")
                    known[dim] = item
                have["factors"] = list(known.values())
            elif key in ("keep", "bypass"):
                if not isinstance(value, list):
                    raise ConfigError(f"{source}.{key}: must list data spaces (got {value!r})")
                have[key] = list(dict.fromkeys(have.get(key, []) + value))      # each data space once
                other = set(have.get("bypass" if key == "keep" else "keep", []))
                if other & set(value):
                    raise ConfigError(f"{source}.{key}: {sorted(other & set(value))} both kept and bypassed at {target} "
                                      f"({', '.join(slot['sources'])})")
            elif key in have and have[key] != value:
                raise ConfigError(f"{source}.{key}: {value!r} conflicts with {have[key]!r} for {target} "
                                  f"({', '.join(slot['sources'])}); give it once")
            else:
                have[key] = value
        slot["sources"].append(source)

    def top_level(self, entry: Any, at: str) -> None:
        """One entry of ``constraints.targets`` or ``mapping``: found by its target's name, combined into its slot."""
        if not isinstance(entry, dict):
            raise ConfigError(f"{at}: must be a mapping with target and type (got {type(entry).__name__})")
        tagged = CONSTRAINT_TAGS.get(getattr(entry, "tag", ""))
        kind = entry.get("type", tagged)
        kind = "dataspace" if kind in ("bypass", "datatype") else kind
        if kind not in KINDS or (tagged and kind != tagged):
            raise ConfigError(f"{at}.type: must be one of {', '.join(KINDS)}" + (" and agree with its tag" if tagged else "")
                              + f" (got {entry.get('type')!r})")
        target = entry.get("target")
        node = self.nodes.get(target) if isinstance(target, str) else None
        if node is None:
            near = difflib.get_close_matches(str(target), list(self.nodes), n=1, cutoff=0.6)
            hint = f"; did you mean '{near[0]}'?" if near else ""
            raise ConfigError(f"{at}.target: must name a node of the architecture ({', '.join(self.nodes)}) "
                              f"(got {target!r}){hint}")
        if kind == "spatial" and node["dummy"]:
            target = node["dummy"]
        elif node["container"]:
            self.notes.append(f"{at}: left out: Timeloop's front end keeps no {kind} constraint of the !Container "
                              f"{target}" + (" without a spatial fan-out" if kind == "spatial" else ""))
            return
        self.add(target, kind, self.fields(entry, kind, at), at)

    def directives(self) -> tuple[list[dict], list[str]]:
        """The combined directives (v0.4 form, in order of first appearance) and the sources of each."""
        out, sources = [], []
        for (target, kind), slot in self.merged.items():
            fields = dict(slot["fields"])
            if kind == "spatial" and ("permutation" in fields or "split" in fields):
                fields["permutation"] = self.front_filled(fields.get("permutation", []), fields.get("factors", []))
            out.append({"target": target, "type": "bypass" if kind == "dataspace" else kind, **fields})
            sources.append(" + ".join(slot["sources"]))
        return out, sources

    def front_filled(self, permutation: list[str], factors: list[str]) -> list[str]:
        """A spatial permutation as timeloopfe's PermutationOptimizer leaves it: each dimension with a factor of 1, then
        each of problem size 1, that it does not list is inserted first (innermost), which moves the X/Y ``split``."""
        out = list(permutation)
        for dim in [item.partition("=")[0] for item in factors if item.partition("=")[2] == "1"] + self.unit_dims:
            if dim not in out:
                out.insert(0, dim)
        return out


def _factor_list(value: Any, where: str, bounds: list[str] | None, keep_max: bool = False) -> list[str]:
    """``[M=8, C=1]``, ``"M=8,C=1"`` or ``"M=8 C=1"`` as a list of ``DIM=N``. A bound (``M<=8``, ``N>=2``) is a mapper
    search range: with ``keep_max`` (temporal mapper constraints) an upper one stays in the list, as Timeloop's mapper
    takes it; other bounds, with ``bounds`` (mapper constraints), are left out and listed there, else (a mapping)
    refused."""
    items = value if isinstance(value, list) else str(value).replace(",", " ").split()
    out = []
    for item in items:
        text = str(item).replace(" ", "")
        if keep_max and "<=" in text:
            out.append(text)
            continue
        if "<=" in text or ">=" in text:
            if bounds is None:
                raise UnsupportedError(f"{where}: {text}: a factor bound (<=, >=) is a mapper search range, not a "
                                       f"mapping; give DIM=N")
            bounds.append(f"{where} {text}")
            continue
        out.append(text)
    return out


def _permutation_list(value: Any, where: str) -> list[str]:
    """``[N, C, M]``, ``"N,C,M"`` or ``"NCM"`` as a list of dimension names (inner to outer)."""
    if isinstance(value, list):
        return [str(v) for v in value]
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()] if "," in value else [c for c in value if c != " "]
    raise ConfigError(f"{where}: must list dimensions, inner to outer (got {value!r})")
