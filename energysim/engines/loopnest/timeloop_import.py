"""Read Timeloop/Accelergy YAML designs and write energysim's loop-nest files.

``import_timeloop(files, out_dir)`` merges the top-level keys of every file (each
key may come from one file only, and once in its mapping), checks every key against the keys
Timeloop reads at its place (:mod:`.timeloop_keys`: an unknown key is refused with the nearest
known one; a known key energysim does not model is listed in a note), and reads:

- a file holding Jinja syntax is first rendered as timeloopfe renders it (:mod:`.timeloop_v4_jinja`: jinja2's
  sandbox, ``include_text`` bounded and confined to the given files' folders and ``jinja_include_dirs``,
  ``jinja_vars`` as timeloopfe's ``jinja_parse_data``).
- a Timeloop v4 specification (``architecture.nodes`` of tagged nodes, ``variables``, node
  constraints): rewritten by :mod:`.timeloop_v4` as the v0.4 keys below, as timeloopfe hands it
  to Timeloop, its keys checked against :data:`~.timeloop_keys.TOP_V4` first and refusals naming
  its own paths.
- ``architecture``: the tree of ``subtree`` and ``local`` nodes (v0.3/v0.4), each
  with ``name`` (``X[0..N-1]`` stamps out N copies), ``class`` and
  ``attributes`` (inherited by the nodes below, overridden by their own; the
  defaults of a class given under ``compound_components.classes`` or
  ``components`` come first). Storage levels in tree order (outermost first),
  then one compute component (``intmac``, ``mac``, ``compute``, ...).
  ``word-bits``/``datawidth`` (else ``width`` / ``block_size``), ``block-size`` (or
  ``width`` / word bits), ``depth`` (capacity = depth x block words; ``depth: 0`` is
  Timeloop's placeholder for a fan-out: a zero-cost level that keeps nothing),
  ``meshX``/``meshY``, ``read_bandwidth``/``write_bandwidth`` (words/cycle; absent =
  unlimited), ``global_cycle_seconds`` (the clock; else 1 GHz).
- ``problem``: ``shape`` (``dimensions``, ``data-spaces`` with ``projection``,
  ``read-write``) and ``instance`` (bounds, ``Hstride``-style coefficients):
  a convolution whose data spaces are Weights, Inputs and Outputs over
  N, (G,) K (or M), C, P, Q, R, S, or a GEMM / dot product of other names.
- ``mapping`` (a list of directives; an empty one is none): ``temporal``/``spatial`` with
  ``factors`` (``DIM=0``: the rest of DIM) and ``permutation`` (inner to outer, spaces
  ignored; ``split`` sends the first dimensions of a spatial permutation to X, the rest
  to Y), ``bypass`` / ``datatype`` with ``keep``/``bypass``; or a ``.txt`` file holding
  Timeloop's printed mapping (map.txt or stats.txt, :mod:`.timeloop_map_text`).
- ``mapspace_constraints`` (or ``mapspace.constraints``): the same directives as
  mapper constraints (``[engine.mapper]``).
- ``ERT`` (Accelergy's energy reference table): per-action energies. A table whose
  actions come in argument variants (2020), or a v0.2 one, is priced as the Timeloop of
  that time priced it: every access of a component at its most expensive entry. Any
  other table: read = ``random_read``/``read``, fill = ``random_fill``/``random_write``/
  ``fill``/``write``, update = ``random_update``/``random_write``/``update``/``write``,
  ``leak`` per cycle, compute = ``compute`` (else the most expensive entry).

It writes ``hardware.toml`` (``engine.compat = "timeloop"``; per-word costs =
vector energy / block words, with their source), ``workload.toml`` (one layer)
and, when a mapping is given, ``mapping.toml``, after loading them as ``run`` would
(nothing is written when that refuses them). Every problem is one sentence naming the
file, the key, the rule and the value (:class:`ConfigError`), or
:class:`UnsupportedError` for Timeloop features energysim does not model.
"""

from __future__ import annotations

import copy
import math
import re
from pathlib import Path
from typing import Any

from energysim.config.toml_writer import toml_key, toml_value
from energysim.engines.loopnest.sparse_import import default_metadata_bits, densities, sparse_table
from energysim.engines.loopnest.timeloop_keys import TOP_V4, check_keys
from energysim.engines.loopnest.timeloop_map_text import read_map_text
from energysim.engines.loopnest.timeloop_v4 import is_v4, read_v4, rename
from energysim.engines.loopnest.timeloop_v4_jinja import INCLUDE_TAG, find_template, render
from energysim.engines.loopnest.timeloop_v4_tags import MERGE_KEY, add_tags, merge_hierarchical
from energysim.errors import ConfigError, EnergySimError, InputError, UnsupportedError
from energysim.limits import DIMENSION, read_bounded

TENSOR_OF = {"weights": "weights", "inputs": "inputs", "outputs": "outputs"}
"""Timeloop data-space names (lower-cased) -> energysim tensors."""

DIM_OF = {"N": "N", "G": "G", "K": "K", "M": "K", "C": "C", "P": "P", "Q": "Q", "R": "R", "S": "S"}
"""Timeloop dimension names -> energysim loop dimensions."""

_EXPONENT_FLOAT = re.compile(r"^[-+]?[0-9]+[eE][-+]?[0-9]+$")
"""A YAML 1.2 float with an exponent and no dot (``2e-06``), which YAML 1.1 reads as text."""
_RANGE = re.compile(r"^(?P<base>[^\[\]]+)\[(?P<lo>\d+)\.\.(?P<hi>\d+)\]$")
_COMPUTE_WORDS = ("mac", "compute", "mult", "adder", "alu")
_READ_KEYS = ("random_read", "read")
_FILL_KEYS = ("random_fill", "random_write", "fill", "write")
_UPDATE_KEYS = ("random_update", "random_write", "update", "write")
_SPARSE_ACTIONS = ("gated_", "skipped_", "metadata_", "decompression", "compression")
"""ERT actions of Sparseloop's sparse model, priced apart (sparse_import), never as a data access."""
MAX_TREE_NODES = 10_000
"""Most architecture-tree nodes walked (a YAML alias can repeat a subtree exponentially often)."""
UNLIMITED_BANDWIDTH = 1e18
"""Words per cycle written for a level whose Timeloop attributes give no bandwidth (Timeloop: unlimited)."""
CONSTRAINT_KEYS = ("architecture_constraints", "mapspace_constraints", "mapspace")
"""Top-level keys whose directives become mapper constraints."""
MAX_YAML_DEPTH = 100
"""Deepest nesting of YAML collections read (Timeloop's files nest about ten deep; deeper input would overflow the stack)."""
MAX_EXPANDED_CHARS = 4_000_000
"""Largest size of a YAML file's values with every alias written out, in characters (each scalar its length plus one,
each list or mapping two): a few hundred bytes of aliases to aliases expand exponentially ("billion laughs"), and
everything that walks or prints the values afterwards pays for the expansion. Timeloop's files are under 100 kB."""


def _fail(where: str, message: str) -> ConfigError:
    return ConfigError(f"{where}: {message}")


def _read_text(path: Path) -> str:
    """The file's UTF-8 text, within the size limit; a missing, unreadable or non-UTF-8 file refused in one line."""
    try:
        return read_bounded(path, error=ConfigError).decode("utf-8")
    except OSError as exc:
        raise InputError(f"{path}: cannot read the file ({exc.strerror or exc})") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start}: {exc.reason})") from None


def _load_yaml(path: Path, variables: dict[str, Any] | None = None, include_dirs: list[Path] | None = None) -> dict:
    """A YAML file's top-level mapping; a file with Jinja syntax is rendered first, as timeloopfe renders it
    (:mod:`.timeloop_v4_jinja`, with ``variables`` as its ``jinja_parse_data``, its includes held to ``include_dirs``)."""
    try:
        import yaml
    except ImportError:
        raise UnsupportedError("import-timeloop needs PyYAML: pip install 'energysim[timeloop]'") from None
    text = _read_text(path)
    loaded: dict[str, Any] = {}
    rendered = find_template(text) is not None
    if rendered:
        text = render(path, text, variables, lambda where, body: _parse_yaml(yaml, where, body, loaded, True), loaded,
                      include_dirs)
    data = _parse_yaml(yaml, path, text, loaded, rendered)
    if data is None:
        raise ConfigError(f"{path}: the file is empty (a Timeloop YAML file holds top-level keys such as architecture, "
                          f"problem, mapping)")
    if not isinstance(data, dict):
        kind = {"str": "text", "list": "a list"}.get(type(data).__name__, type(data).__name__)
        raise ConfigError(f"{path}: not a Timeloop YAML file: the top level must be a mapping of keys such as "
                          f"architecture, problem, mapping (got {kind})")
    return data


def _parse_yaml(yaml: Any, path: Path, text: str, loaded: dict[str, Any], rendered: bool) -> Any:
    """``text`` (of ``path``) read as YAML with the importer's loader; ``loaded``: what ``!include_loaded NAME`` (a
    template's ``include``) stands for; ``rendered``: the text is what the file's template rendered to."""
    try:
        _check_depth(yaml, text, path)
        return yaml.load(text, Loader=_unique_key_loader(yaml, path, loaded))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        at += " of the text its Jinja template renders to" if rendered and at else ""
        raise ConfigError(f"{path}: not valid YAML{at} ({getattr(exc, 'problem', None) or exc})") from None


def _load_map_text(path: Path) -> dict:
    """``{"mapping": directives}`` from a Timeloop ``map.txt`` (:mod:`~energysim.engines.loopnest.timeloop_map_text`)."""
    text = _read_text(path)
    return {"mapping": read_map_text(text, path)}


def _unique_key_loader(yaml: Any, path: Path, loaded: dict[str, Any] | None = None) -> type:
    """A safe YAML loader that refuses a key given twice in one mapping (YAML would keep the last one silently).

    Raises
    ------
    ConfigError
        When loading: the file, the line of the second key, the key and the line of the first.
    """
    def construct_mapping(loader: Any, node: Any, deep: bool = False) -> dict:
        first: dict[Any, int] = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                continue                       # `<<` merges (its keys may be overridden); other keys: the constructor
            key = loader.construct_object(key_node, deep=True)
            seen = first.get(key)
            if seen is not None:
                raise ConfigError(f"{path}: line {key_node.start_mark.line + 1}: key {key!r} appears twice in one mapping "
                                  f"(also at line {seen}); YAML would keep the last silently, give it once")
            first[key] = key_node.start_mark.line + 1
        if MERGE_KEY not in first:
            return yaml.SafeLoader.construct_mapping(loader, node, deep)
        mapping = yaml.SafeLoader.construct_mapping(loader, node, deep=True)      # merged whole: built whole
        return merge_hierarchical(mapping, path, node.start_mark.line + 1)

    def eager(self: Any, stream: Any) -> None:
        yaml.SafeLoader.__init__(self, stream)
        self.deep_construct = True             # lists whole when built: a <<< merge reads its anchors' lists complete

    def composed(self: Any) -> Any:
        node = yaml.SafeLoader.get_single_node(self)
        if node is not None:
            _check_expansion(yaml, node, path, loaded)  # aliases share their node here: counted before they expand
        return node

    loader = type("UniqueKeyLoader", (yaml.SafeLoader,), {"__init__": eager, "get_single_node": composed})
    loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)
    # YAML 1.2 floats without a dot (2e-06, 1e-9), as Accelergy writes ERT energies and yaml-cpp (Timeloop) reads them;
    # PyYAML's YAML 1.1 rules would keep them as text
    loader.add_implicit_resolver("tag:yaml.org,2002:float", _EXPONENT_FLOAT, list("-+0123456789"))
    add_tags(loader, yaml, path, construct_mapping)        # Timeloop v4's !Component, !Container, ...

    def construct_loaded(inner: Any, node: Any) -> Any:
        if not isinstance(node, yaml.ScalarNode):
            kind = "a mapping" if isinstance(node, yaml.MappingNode) else "a list"
            raise ConfigError(f"{path}: line {node.start_mark.line + 1}: !include_loaded must tag a name (got {kind})")
        name = str(node.value)
        if loaded is None or name not in loaded:
            raise ConfigError(f"{path}: line {node.start_mark.line + 1}: !include_loaded {name!r} names nothing a "
                              f"template's include() loaded")
        return copy.deepcopy(loaded[name])

    loader.add_constructor(INCLUDE_TAG, construct_loaded)  # what a template's include(path, key) put in place
    return loader


def _check_depth(yaml: Any, text: str, path: Path) -> None:
    """Refuse YAML whose collections nest deeper than :data:`MAX_YAML_DEPTH`, from the event stream (which does not recurse)."""
    depth = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            depth += 1
            if depth > MAX_YAML_DEPTH:
                raise ConfigError(f"{path}: line {event.start_mark.line + 1}: nested too deeply: YAML lists and mappings "
                                  f"may nest at most {MAX_YAML_DEPTH} levels (got more than {MAX_YAML_DEPTH})")
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1


def _value_size(value: Any) -> tuple[int, int]:
    """(characters written out, nesting depth) of a loaded value, counted as :func:`_check_expansion` counts nodes:
    a scalar its text + 1, a list or mapping 2 + its parts; iterative, so a deep value cannot recurse."""
    total, deepest = 0, 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            total += 2
            deepest = max(deepest, depth + 1)
            stack.extend((part, depth + 1) for pair in item.items() for part in pair)
        elif isinstance(item, (list, tuple)):
            total += 2
            deepest = max(deepest, depth + 1)
            stack.extend((part, depth + 1) for part in item)
        else:
            total += len(str(item)) + 1
    return total, deepest


def _check_expansion(yaml: Any, root: Any, path: Path, loaded: dict[str, Any] | None = None) -> None:
    """Refuse a composed YAML document whose aliases, written out, exceed :data:`MAX_EXPANDED_CHARS` or nest deeper
    than :data:`MAX_YAML_DEPTH`, or that holds a recursive alias; measured on the node graph, where an alias is the
    node it names, so in time linear in the file's text.

    Raises
    ------
    ConfigError
        Naming the file, the top-level key (and its line) holding the expansion, the rule and the measured value.
    """
    measured: dict[int, tuple[int, int]] = {}          # id(node) -> (characters written out, nesting depth)
    open_nodes: set[int] = set()                       # collections whose children are being measured
    stack: list[Any] = [root]
    while stack:
        node = stack[-1]
        if id(node) in measured:
            stack.pop()
            continue
        if isinstance(node, yaml.ScalarNode):
            included = loaded.get(str(node.value)) if node.tag == INCLUDE_TAG and loaded else None
            # an include stands for the value it loaded: counted at that size, not at its short name's
            measured[id(node)] = _value_size(included) if included is not None else (len(node.value) + 1, 0)
            stack.pop()
            continue
        children = [part for pair in node.value for part in pair] if isinstance(node, yaml.MappingNode) else node.value
        if id(node) not in open_nodes:
            open_nodes.add(id(node))
            for child in children:
                if id(child) in open_nodes:
                    raise ConfigError(f"{path}: line {node.start_mark.line + 1}: a YAML alias here names the "
                                      f"collection at line {child.start_mark.line + 1}, which holds it; an alias "
                                      f"must not recur inside its own anchor (it never ends when expanded)")
                stack.append(child)
            continue
        sizes = [measured[id(child)] for child in children]
        measured[id(node)] = (2 + sum(size for size, _ in sizes), 1 + max((depth for _, depth in sizes), default=0))
        open_nodes.discard(id(node))
        stack.pop()
    size, depth = measured[id(root)]
    if size <= MAX_EXPANDED_CHARS and depth <= MAX_YAML_DEPTH:
        return
    pairs = root.value if isinstance(root, yaml.MappingNode) else [(None, root)]
    rule = 0 if size > MAX_EXPANDED_CHARS else 1
    key, value = max(pairs, key=lambda pair: measured[id(pair[1])][rule])
    where = f"{key.value}" if isinstance(key, yaml.ScalarNode) else "the top level"
    line = value.start_mark.line + 1
    if rule == 0:
        raise ConfigError(f"{path}: {where}: with its YAML aliases written out the file would hold {size:,} characters "
                          f"(the largest part from line {line}); aliases may expand a file to at most "
                          f"{MAX_EXPANDED_CHARS:,} characters (aliases to aliases grow exponentially)")
    raise ConfigError(f"{path}: {where}: with its YAML aliases written out, lists and mappings nest {depth} levels deep "
                      f"(the deepest from line {line}); they may nest at most {MAX_YAML_DEPTH} levels")


def merge_files(files: list[str | Path], variables: dict[str, Any] | None = None,
                include_dirs: list[str | Path] = ()) -> tuple[dict[str, Any], dict[str, Path]]:
    """Merge the top-level keys of YAML files as Timeloop does (a file with Jinja syntax rendered first, with
    ``variables``, as timeloopfe renders it, its includes read from the folders of ``files`` and ``include_dirs``).

    Returns
    -------
    (merged, origin)
        The merged keys and, for each key, the file it came from.

    Raises
    ------
    ConfigError
        If a file is not a YAML mapping, or two files give the same top-level key.
    """
    merged: dict[str, Any] = {}
    origin: dict[str, Path] = {}
    seen: set[Path] = set()
    folders = [Path(raw).resolve().parent for raw in files] + [_include_dir(Path(raw)) for raw in include_dirs]
    folders = list(dict.fromkeys(folders))
    for raw in files:
        path = Path(raw)
        if path.resolve() in seen:
            raise ConfigError(f"{path}: the file is given twice (give each Timeloop file once)")
        seen.add(path.resolve())
        for key, value in (_load_map_text(path) if path.suffix == ".txt" else _load_yaml(path, variables, folders)).items():
            if value in (None, [], {}) and key in merged:
                continue                      # an empty key (the tutorials' `mapping: []`) gives nothing
            if key in merged and merged[key] not in (None, [], {}):
                raise ConfigError(f"{path}: {key}: a top-level key may come from one file only (also in {origin[key]})")
            merged[key] = value
            origin[key] = path
    return merged, origin


def _include_dir(folder: Path) -> Path:
    """A ``--jinja-include-dir`` folder, resolved; one that is not a folder refused naming it."""
    if not folder.is_dir():
        raise InputError(f"--jinja-include-dir {folder}: not a folder (give a folder the templates may include from)")
    return folder.resolve()


def _number(value: Any, where: str, integer: bool = False, minimum: float | None = None,
            positive: bool = False) -> float | int:
    """A finite number from a YAML value; ``where`` names the file and key in every refusal.

    ``integer``: a positive whole number; ``minimum``: at least this; ``positive``: above 0.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _fail(where, f"must be a number (got {value!r})")
    if isinstance(value, float) and not math.isfinite(value):
        raise _fail(where, f"must be a finite number (got {value!r})")
    if integer and (not float(value).is_integer() or value <= 0):
        raise _fail(where, f"must be a positive integer (got {value!r})")
    if minimum is not None and value < minimum:
        raise _fail(where, f"must be at least {minimum:g} (got {value!r})")
    if positive and value <= 0:
        raise _fail(where, f"must be greater than 0 (got {value!r})")
    return int(value) if integer else float(value)


def _attr(attributes: dict, names: tuple[str, ...]) -> Any:
    for name in names:
        if name in attributes:
            return attributes[name]
    return None


def _class_defaults(merged: dict) -> dict[str, dict]:
    """Attribute defaults per component class from ``compound_components``/``components``."""
    defaults: dict[str, dict] = {}
    for key in ("compound_components", "components"):
        block = merged.get(key)
        classes = block.get("classes") if isinstance(block, dict) else block
        for entry in classes or []:
            if isinstance(entry, dict) and isinstance(entry.get("name"), str):
                attributes = entry.get("attributes")
                defaults[entry["name"]] = {k: v for k, v in (attributes or {}).items() if not isinstance(v, (dict, list))}
    return defaults


def _split_name(name: Any, where: str) -> tuple[str, int]:
    if not isinstance(name, str) or not name:
        raise _fail(where, f"name must be a non-empty string (got {name!r})")
    match = _RANGE.match(name)
    if not match:
        return name, 1
    lo, hi = int(match["lo"]), int(match["hi"])
    if hi < lo:
        raise _fail(where, f"name range must be [lo..hi] with hi >= lo (got {name!r})")
    return match["base"], hi - lo + 1


def _components(merged: dict, origin: dict[str, Path]) -> list[dict]:
    """Flatten the architecture tree: one dict per component, outermost first, with its copies and attributes."""
    if "architecture" not in merged:
        raise ConfigError("timeloop files: architecture: no file gives the architecture")
    where = f"{origin['architecture']}: architecture"
    defaults = _class_defaults(merged)
    out: list[dict] = []

    visited = [0]

    def walk(node: dict, at: str, inherited: dict, copies: int, mesh: tuple[int, int]) -> None:
        visited[0] += 1
        if visited[0] > MAX_TREE_NODES:
            raise _fail(where, f"the tree must have at most {MAX_TREE_NODES} nodes (YAML aliases can multiply them)")
        if not isinstance(node, dict):
            raise _fail(at, f"must be a mapping with name, attributes, local, subtree (got {type(node).__name__})")
        attributes = {**inherited, **(node.get("attributes") or {})}
        for index, local in enumerate(node.get("local") or []):
            here = f"{at}.local[{index}]"
            if not isinstance(local, dict):
                raise _fail(here, f"must be a mapping with name, class, attributes (got {type(local).__name__})")
            base, count = _split_name(local.get("name"), f"{here}.name")
            cls = local.get("class")
            if not isinstance(cls, str):
                raise _fail(f"{here}.class", f"must name the component class (got {cls!r})")
            attrs = {**attributes, **defaults.get(cls, {}), **(local.get("attributes") or {})}
            mesh_x = attrs.get("meshX")
            mesh_y = attrs.get("meshY")
            total = copies * count
            mx = int(_number(mesh_x, f"{here}.attributes.meshX", integer=True)) if mesh_x is not None else None
            my = int(_number(mesh_y, f"{here}.attributes.meshY", integer=True)) if mesh_y is not None else None
            if mx is None and my is None:
                mx, my = total // mesh[1], mesh[1]
            elif mx is None:
                mx = total // my
            elif my is None:
                my = total // mx
            if mx * my != total:
                raise _fail(f"{here}.attributes", f"meshX x meshY must equal the {total} instances (got {mx} x {my})")
            out.append({"name": base, "class": cls, "attributes": attrs, "instances": total, "mesh": (mx, my), "where": here})
        for index, child in enumerate(node.get("subtree") or []):
            here = f"{at}.subtree[{index}]"
            _, count = _split_name(child.get("name") if isinstance(child, dict) else None, f"{here}.name")
            walk(child, here, attributes, copies * count, mesh)

    arch = merged["architecture"]
    if not isinstance(arch, dict) or not (arch.get("subtree") or arch.get("local")):
        raise _fail(where, "must hold a subtree (or local) list of components (v0.3/v0.4 tree format)")
    walk(arch, where, {}, 1, (1, 1))
    return out


def _is_compute(component: dict) -> bool:
    cls = component["class"].lower()
    return any(word in cls for word in _COMPUTE_WORDS) and "buffer" not in cls


def _ert_entries(merged: dict, origin: dict[str, Path]) -> tuple[dict[str, dict[str, list[float]]], str, str]:
    """Per component (last name segment, range dropped): action -> energies; the ERT version and file."""
    ert = merged.get("ERT")
    if ert is None:
        return {}, "", ""
    where = f"{origin['ERT']}: ERT"
    if not isinstance(ert, dict) or "tables" not in ert:
        raise _fail(where, "must hold 'tables' (an Accelergy energy reference table)")
    version = str(ert.get("version", ""))
    tables = ert["tables"]
    items = tables.items() if isinstance(tables, dict) else ((t.get("name"), t.get("actions")) for t in tables)
    out: dict[str, dict[str, list[float]]] = {}
    variants = False
    for index, (name, actions) in enumerate(items):
        if not isinstance(name, str):
            raise _fail(f"{where}.tables[{index}].name", f"must be the component's dotted name (got {name!r})")
        base = re.sub(r"\[\d+\.\.\d+\]", "", name).rsplit(".", 1)[-1]
        per_action: dict[str, list[float]] = {}
        entries = actions.items() if isinstance(actions, dict) else ((a.get("name"), a) for a in actions or [])
        for action, entry in entries:
            for item in (entry if isinstance(entry, list) else [entry]):
                if not isinstance(item, dict) or "energy" not in item:
                    raise _fail(f"{where}.tables[{index}].actions.{action}", "must give an energy (pJ)")
                variants = variants or str(action) in per_action
                per_action.setdefault(str(action), []).append(
                    float(_number(item["energy"], f"{where}.tables[{index}].actions.{action}.energy", minimum=0.0)))
        out[base] = per_action
    # The 2020 Timeloop priced every access at a component's dearest entry; its ERTs list actions in argument variants
    # (address_delta / data_delta). A v0.3 table with one entry per action (Sparseloop 2021) is priced per action.
    legacy = variants or version.startswith("0.2")
    return out, ("0.3" if legacy else "0.4"), str(origin["ERT"])


def _priced(actions: dict[str, list[float]], keys: tuple[str, ...]) -> tuple[str, float] | None:
    for key in keys:
        if key in actions:
            return key, max(actions[key])
    return None


def _costs(component: dict, ert: dict, version: str, ert_file: str, block: int) -> dict[str, Any]:
    """Per-word read/write costs (and leak) of a storage component from the ERT."""
    name = component["name"]
    if component.get("placeholder"):
        return {"read_pj": 0.0, "write_pj": 0.0,
                "cost_source": f"{name}: depth 0, a Timeloop placeholder that holds no data (every data space bypasses "
                               f"it, it only carries the spatial fan-out): never accessed"}
    actions = ert.get(name)
    if actions is None and "dummy" in component["class"].lower():
        return {"read_pj": 0.0, "write_pj": 0.0,
                "cost_source": f"{name}: class {component['class']} has no ERT entry (a fan-out placeholder: no accesses priced)"}
    if actions is None:
        raise ConfigError(f"{component['where']}: {name}: no Accelergy ERT entry prices this component "
                          f"(give the ERT file, e.g. timeloop-model.ERT.yaml, with the other files)")
    if version == "0.3":
        energy = max(e for action, values in actions.items() if not action.startswith(_SPARSE_ACTIONS) for e in values)
        source = (f"Accelergy ERT {ert_file} (v0.3): {name} most expensive action {energy} pJ per access of "
                  f"{block} words / {block} (Timeloop 2020 prices every access so)")
        return {"read_pj": energy / block, "write_pj": energy / block, "cost_source": source}
    read, fill, update = (_priced(actions, keys) for keys in (_READ_KEYS, _FILL_KEYS, _UPDATE_KEYS))
    for label, found in (("read", read), ("fill", fill), ("update", update)):
        if found is None:
            raise ConfigError(f"{ert_file}: ERT: {name}: no action prices a {label} (actions: {', '.join(actions)})")
    if fill[1] != update[1]:
        raise UnsupportedError(f"{ert_file}: ERT: {name}: fill ({fill[0]} {fill[1]} pJ) and update ({update[0]} "
                               f"{update[1]} pJ) differ; energysim prices both as one write cost")
    out = {"read_pj": read[1] / block, "write_pj": fill[1] / block,
           "cost_source": f"Accelergy ERT {ert_file}: {name} {read[0]} {read[1]} pJ / {fill[0]} {fill[1]} pJ "
                          f"per access of {block} words, / {block}"}
    leak = _priced(actions, ("leak",))
    if leak is not None and leak[1] > 0:
        out["leak_pj_per_cycle"] = leak[1]
        out["leak_source"] = f"Accelergy ERT {ert_file}: {name} leak {leak[1]} pJ per cycle"
    return out


def _hardware(components: list[dict], ert: dict, version: str, ert_file: str, name: str) -> tuple[dict, list[dict]]:
    if not components or not _is_compute(components[-1]):
        last = components[-1]["where"] if components else "architecture"
        raise ConfigError(f"{last}: the innermost component must be the compute unit (a MAC class)")
    compute = components[-1]
    storage = components[:-1]
    if not storage:
        raise ConfigError(f"{compute['where']}: the architecture needs at least one storage level above the compute unit")
    levels = []
    for index, component in enumerate(storage):
        at = component["where"]
        if _is_compute(component):
            raise UnsupportedError(f"{at}: {component['name']}: only one compute unit, innermost, is supported")
        attrs = component["attributes"]
        word_bits = _attr(attrs, ("word-bits", "word_bits", "datawidth"))
        block = _attr(attrs, ("block-size", "block_size"))
        width = _attr(attrs, ("width", "data_storage_width"))   # data_storage_*: Sparseloop's smartbuffer_metadata
        if word_bits is None and block is not None and width is not None:    # Timeloop: word bits = width / block size
            word_bits = int(_number(width, f"{at}.attributes.width", integer=True)) // int(
                _number(block, f"{at}.attributes.block_size", integer=True)) or None
        if word_bits is None:
            raise ConfigError(f"{at}.attributes: word-bits (or datawidth, or width and block_size) is required for "
                              f"storage '{component['name']}'")
        word_bits = int(_number(word_bits, f"{at}.attributes.word-bits", integer=True))
        if block is None and width is not None:
            block = int(_number(width, f"{at}.attributes.width", integer=True)) // word_bits
        block = int(_number(block, f"{at}.attributes.block-size", integer=True)) if block is not None else 1
        cluster = attrs.get("cluster-size", attrs.get("cluster_size", 1))
        if cluster not in (1, None):
            raise UnsupportedError(f"{at}.attributes.cluster-size: clusters of instances are not modelled (got {cluster})")
        cls = component["class"].lower()
        kind = "dram" if "dram" in cls else "regfile" if ("reg" in cls or cls.endswith("rf")) else "sram"
        if index == 0 and kind != "dram":
            kind = "dram" if _attr(attrs, ("depth", "data_storage_depth")) is None else kind
        if index > 0 and kind == "dram":
            raise UnsupportedError(f"{at}.class: only the outermost level may be DRAM (got '{component['class']}')")
        level: dict[str, Any] = {"name": component["name"], "kind": kind, "word_bits": word_bits}
        depth = _attr(attrs, ("depth", "data_storage_depth"))
        if kind != "dram":
            if depth is None:
                raise ConfigError(f"{at}.attributes.depth: required for on-chip storage '{component['name']}' (capacity = depth x block)")
            if depth == 0 and not isinstance(depth, bool):
                component["placeholder"] = True     # Timeloop: holds nothing; the mapping must bypass it (checked there)
                level["capacity_bytes"] = 1
            else:
                words = int(_number(depth, f"{at}.attributes.depth", integer=True)) * block
                level["capacity_bytes"] = max(1, -(-words * word_bits // 8))    # whole words of any width fit
        parent_mesh = storage[index - 1]["mesh"] if index else (1, 1)
        mesh = component["mesh"]
        if mesh[0] % parent_mesh[0] or mesh[1] % parent_mesh[1]:
            raise ConfigError(f"{at}.attributes: meshX x meshY {mesh[0]} x {mesh[1]} must be multiples of the outer level's "
                              f"{parent_mesh[0]} x {parent_mesh[1]}")
        if mesh[0] // parent_mesh[0] > 1:
            level["mesh_x"] = mesh[0] // parent_mesh[0]
        if mesh[1] // parent_mesh[1] > 1:
            level["mesh_y"] = mesh[1] // parent_mesh[1]
        if block > 1:
            level["block_words"] = block
        read_bw = _attr(attrs, ("read_bandwidth", "read-bandwidth"))
        write_bw = _attr(attrs, ("write_bandwidth", "write-bandwidth"))
        level["bandwidth_words_per_cycle"] = (float(_number(read_bw, f"{at}.attributes.read_bandwidth", positive=True))
                                              if read_bw is not None else UNLIMITED_BANDWIDTH)
        level["write_bandwidth_words_per_cycle"] = (float(_number(write_bw, f"{at}.attributes.write_bandwidth", positive=True))
                                                    if write_bw is not None else UNLIMITED_BANDWIDTH)
        level.update(_costs(component, ert, version, ert_file, block))
        levels.append(level)
    inner_mesh = storage[-1]["mesh"]
    cmesh = compute["mesh"]
    if cmesh[0] % inner_mesh[0] or cmesh[1] % inner_mesh[1]:
        raise ConfigError(f"{compute['where']}.attributes: the compute mesh {cmesh[0]} x {cmesh[1]} must be a multiple of the "
                          f"innermost storage mesh {inner_mesh[0]} x {inner_mesh[1]}")
    actions = ert.get(compute["name"])
    if actions is None:
        raise ConfigError(f"{compute['where']}: {compute['name']}: no Accelergy ERT entry prices this component "
                          f"(give the ERT file with the other files)")
    found = None if version == "0.3" else _priced(actions, ("compute",))
    energy = found[1] if found else max(e for action, values in actions.items()
                                        if not action.startswith(_SPARSE_ACTIONS) for e in values)
    how = f"action {found[0]}" if found else "most expensive action (as Timeloop 2020)"
    engine = {"kind": "loopnest", "mac_unit": compute["name"], "compat": "timeloop",
              "timeloop_version": "2020" if version == "0.3" else "current",
              "mac_mesh_x": cmesh[0] // inner_mesh[0], "mac_mesh_y": cmesh[1] // inner_mesh[1]}
    units = [{"name": compute["name"], "action": "compute", "energy_pj": energy,
              "source": f"Accelergy ERT {ert_file}: {compute['name']} {how}, {energy} pJ"}]
    document = {
        "schema_version": 1, "name": name,
        "description": (f"Imported from Timeloop/Accelergy YAML (ERT v{version}); levels without a Timeloop bandwidth "
                        f"get {UNLIMITED_BANDWIDTH:g} words/cycle (unlimited); clock_ghz from global_cycle_seconds, else "
                        f"1.0 assumed (Timeloop counts cycles and has no clock)"),
        "clock_ghz": _clock_ghz(compute),
    }
    return {"document": document, "engine": engine, "memory": levels, "units": units}, storage


def _clock_ghz(compute: dict) -> float:
    """The clock from Accelergy's ``global_cycle_seconds`` (inherited down the tree), else 1 GHz (Timeloop has no clock).

    Raises
    ------
    ConfigError
        A cycle time that is not a positive finite number of seconds (naming the file and key).
    """
    value = compute["attributes"].get("global_cycle_seconds")
    if value is None:
        return 1.0
    where = f"{compute['where']}.attributes.global_cycle_seconds"
    if isinstance(value, str):                 # YAML 1.1 reads 1e-9 (no dot) as text
        try:
            value = float(value)
        except ValueError:
            raise _fail(where, f"must be a cycle time in seconds (got {value!r})") from None
    return 1e-9 / float(_number(value, where, positive=True))


def _gemm_roles(shape: dict, where: str) -> tuple[dict[str, str], dict[str, str], list[str]] | None:
    """Dims and tensors of a GEMM whose data spaces are not named Weights/Inputs/Outputs (Sparseloop's Z[M,N] =
    A[M,K] B[K,N]): the read-write space is the outputs, the first read-only one the weights (its output dimension
    becomes K), the second the inputs (its output dimension becomes N), the shared one the reduction C. A dot product
    (A[K] B[K] -> Z[M], Sparseloop's tutorial) has an operand without an output dimension: a dimension only Z indexes
    takes the free role, and must have size 1 (the third element lists such dimensions). None when the names are
    Weights, Inputs and Outputs."""
    spaces = [s for s in shape.get("data-spaces") or shape.get("data_spaces") or [] if isinstance(s, dict)]
    if all(str(s.get("name", "")).lower() in TENSOR_OF for s in spaces):
        return None

    def dims(space: dict) -> list[str]:
        out = []
        for axis in space.get("projection") or []:
            terms = axis if isinstance(axis, list) else [[axis]]
            if len(terms) != 1 or not isinstance(terms[0], list) or len(terms[0]) != 1:
                raise UnsupportedError(f"{where}.shape.data-spaces: '{space.get('name')}' axis {axis!r}: data spaces not "
                                       "named Weights/Inputs/Outputs are read as a GEMM (one dimension per axis)")
            out.append(terms[0][0])
        return out

    writes = [s for s in spaces if s.get("read-write", s.get("read_write", False))]
    reads = [s for s in spaces if s not in writes]
    if len(writes) != 1 or len(reads) != 2:
        raise UnsupportedError(f"{where}.shape.data-spaces: a GEMM needs two read-only data spaces and one read-write "
                               f"(got {[s.get('name') for s in spaces]})")
    z, a, b = dims(writes[0]), dims(reads[0]), dims(reads[1])
    out_a, out_b = [d for d in a if d in z], [d for d in b if d in z]
    shared = [d for d in a if d in b and d not in z]
    only_z = [d for d in z if d not in a and d not in b]
    free = [role for role, out in (("K", out_a), ("N", out_b)) if not out]
    if len(out_a) > 1 or len(out_b) > 1 or len(shared) != 1 or len(only_z) > len(free) or len(set(z)) != len(z) \
            or sorted(a) != sorted(out_a + shared) or sorted(b) != sorted(out_b + shared):
        raise UnsupportedError(f"{where}.shape.data-spaces: {reads[0].get('name')}{a} x {reads[1].get('name')}{b} -> "
                               f"{writes[0].get('name')}{z} is not a GEMM Z[M,N] = A[M,K] B[K,N]")
    dim_of = {shared[0]: "C", **{d: "K" for d in out_a}, **{d: "N" for d in out_b}, **dict(zip(only_z, free))}
    tensors = {str(reads[0]["name"]): "weights", str(reads[1]["name"]): "inputs", str(writes[0]["name"]): "outputs"}
    return dim_of, tensors, only_z


def _problem(merged: dict, origin: dict[str, Path]) -> tuple[dict, dict[str, str], dict[str, str]]:
    """The layer entry, Timeloop dim -> energysim dim, and energysim tensor -> Timeloop data-space name."""
    if "problem" not in merged:
        raise ConfigError("timeloop files: problem: no file gives the problem")
    where = f"{origin['problem']}: problem"
    problem = merged["problem"]
    shape = problem.get("shape") if isinstance(problem, dict) else None
    instance = problem.get("instance") if isinstance(problem, dict) else None
    if not isinstance(shape, dict) or not isinstance(instance, dict):
        raise _fail(where, "must hold shape and instance")
    dims = shape.get("dimensions")
    if not isinstance(dims, list) or not dims:
        raise _fail(f"{where}.shape.dimensions", f"must list the dimensions (got {dims!r})")
    roles = _gemm_roles(shape, where)
    dim_of = {}
    for dim in dims:
        if roles is not None:
            if dim not in roles[0]:
                raise UnsupportedError(f"{where}.shape.dimensions: '{dim}' is not a GEMM dimension of the data spaces")
            dim_of[dim] = roles[0][dim]
            continue
        if dim not in DIM_OF:
            raise UnsupportedError(f"{where}.shape.dimensions: '{dim}' is not a convolution dimension "
                                   f"({', '.join(DIM_OF)}); energysim runs convolutions, GEMMs and their groups")
        dim_of[dim] = DIM_OF[dim]
    bounds = {d: 1 for d in ("N", "G", "K", "C", "P", "Q", "R", "S")}
    for dim in dims:
        bounds[dim_of[dim]] = int(_number(instance.get(dim, 1), f"{where}.instance.{dim}", integer=True))
        DIMENSION.check(f"{where}.instance.{dim}", bounds[dim_of[dim]], ConfigError)
        if roles is not None and dim in roles[2] and bounds[dim_of[dim]] != 1:
            raise UnsupportedError(f"{where}.instance.{dim}: a dimension only the output indexes must have size 1 "
                                   f"(a dot product; got {bounds[dim_of[dim]]})")
    coefficient_defaults = {c.get("name"): c.get("default", 1) for c in shape.get("coefficients") or [] if isinstance(c, dict)}

    def coef(name: str) -> int:
        value = instance.get(name, coefficient_defaults.get(name, 1))
        return int(_number(value, f"{where}.instance.{name}", integer=True))

    names: dict[str, str] = {}
    strides = {"P": 1, "Q": 1}
    dilations = {"R": 1, "S": 1}
    for index, space in enumerate(shape.get("data-spaces") or shape.get("data_spaces") or []):
        at = f"{where}.shape.data-spaces[{index}]"
        tensor = roles[1].get(str(space.get("name"))) if roles else TENSOR_OF.get(str(space.get("name", "")).lower())
        if tensor is None:
            raise UnsupportedError(f"{at}.name: data spaces must be Weights, Inputs and Outputs (got {space.get('name')!r})")
        names[tensor] = space["name"]
        if bool(space.get("read-write", space.get("read_write", False))) != (tensor == "outputs"):
            raise ConfigError(f"{at}.read-write: only Outputs is read-write (got {space.get('read-write')!r} for {space['name']})")
        for axis in space.get("projection") or []:
            terms = axis if isinstance(axis, list) else [[axis]]
            if tensor == "inputs" and len(terms) == 2:
                pair = {}
                for term in terms:
                    dim = dim_of.get(term[0])
                    pair[dim] = coef(term[1]) if len(term) > 1 else 1
                if set(pair) == {"P", "R"} or set(pair) == {"Q", "S"}:
                    out, kern = ("P", "R") if "P" in pair else ("Q", "S")
                    strides[out], dilations[kern] = pair[out], pair[kern]
                    continue
            if len(terms) != 1 or len(terms[0]) != 1 or terms[0][0] not in dim_of:
                raise UnsupportedError(f"{at}.projection: axis {axis!r} is not a convolution projection")
    if set(names) != {"weights", "inputs", "outputs"}:
        raise ConfigError(f"{where}.shape.data-spaces: must name Weights, Inputs and Outputs (got {sorted(names.values())})")
    if strides["P"] != strides["Q"] and bounds["Q"] > 1:
        raise UnsupportedError(f"{where}.instance: different H and W strides ({strides['P']}, {strides['Q']}) are not modelled")
    if dilations["R"] != dilations["S"] and bounds["S"] > 1:
        raise UnsupportedError(f"{where}.instance: different H and W dilations ({dilations['R']}, {dilations['S']}) are not modelled")
    stride, dilation = strides["P"], dilations["R"]
    height = (bounds["P"] - 1) * stride + (bounds["R"] - 1) * dilation + 1
    width = (bounds["Q"] - 1) * stride + (bounds["S"] - 1) * dilation + 1
    name = str(shape.get("name") or "layer")
    layer: dict[str, Any] = {"kind": "conv2d", "name": re.sub(r"[^A-Za-z0-9_.-]", "_", name),
                             "in_channels": bounds["C"] * bounds["G"], "out_channels": bounds["K"] * bounds["G"],
                             "in_height": height, "in_width": width, "kernel_height": bounds["R"],
                             "kernel_width": bounds["S"], "stride": stride, "batch": bounds["N"]}
    if bounds["G"] > 1 or dilation > 1:
        layer.update(kind="grouped_conv2d", groups=bounds["G"], dilation=dilation)
    return layer, dim_of, names


def _factors(value: Any, where: str, dim_of: dict[str, str], residual: dict[str, int] | None = None) -> dict[str, int]:
    """``K=4 P=2`` as energysim dimension -> factor; with ``residual`` (a mapping), ``K=0`` is Timeloop's "the rest of
    K" and takes ``residual[K]`` (None there: 0 kept, for :func:`_residuals` to count)."""
    if value is None:
        return {}
    items = value.replace(",", " ").split() if isinstance(value, str) else list(value) if isinstance(value, list) else None
    if items is None:
        raise _fail(where, f"must be a string like 'K=4 P=2' or a list of 'K=4' (got {value!r})")
    out = {}
    lowest = 0 if residual is not None else 1
    for item in items:
        dim, _, number = str(item).partition("=")
        if dim not in dim_of or not number.strip().isdigit() or int(number) < lowest:
            rule = "N >= 0 (0: the rest of DIM)" if residual is not None else "N >= 1"
            raise _fail(where, f"each factor must be DIM=N with DIM one of {', '.join(dim_of)} and {rule} (got {item!r})")
        factor = int(number)
        if factor == 0 and dim_of[dim] in residual:
            factor = residual[dim_of[dim]]
        out[dim_of[dim]] = out.get(dim_of[dim], 1) * factor
    return out


def _hold_nothing(directives: list[dict], where: str, levels: list[str], placeholders: list[str]) -> None:
    """Make every level of depth 0 keep nothing (Timeloop: it holds no data); refuse directives that keep data there.

    Raises
    ------
    ConfigError
        A directive keeping a data space at a level of depth 0 (naming the file, the level and what it keeps).
    """
    for name in placeholders:
        slot = directives[levels.index(name)]
        if slot["keep"] is None and slot["bypass"] is None:
            slot["keep"] = []
            continue
        kept = slot["keep"] if slot["keep"] is not None else [t for t in ("weights", "inputs", "outputs")
                                                               if t not in slot["bypass"]]
        if kept:
            raise ConfigError(f"{where}: {name}: a level of depth 0 holds no data (Timeloop's placeholder for a "
                              f"fan-out), so every data space must bypass it (got keep {sorted(kept)})")


def _residuals(entries: Any, where: str, dim_of: dict[str, str], sizes: dict[str, int]) -> dict[str, int]:
    """Per dimension, the factor a mapping's ``DIM=0`` stands for (Timeloop: the problem's size over the other factors),
    and a check that each dimension's factors multiply to its size.

    Raises
    ------
    ConfigError
        A dimension with two 0 factors, factors that do not divide or do not multiply to the size (naming the file).
    """
    product = dict.fromkeys(sizes, 1)
    zeros: dict[str, list[str]] = {dim: [] for dim in sizes}
    for index, entry in enumerate(entries if isinstance(entries, list) else []):
        if isinstance(entry, dict) and entry.get("type") in ("temporal", "spatial"):
            for dim, factor in _factors(entry.get("factors"), f"{where}[{index}].factors", dim_of, {}).items():
                if factor == 0:
                    zeros[dim].append(f"{where}[{index}]")
                else:
                    product[dim] *= factor
    out = {}
    for dim, size in sizes.items():
        name = next((d for d, e in dim_of.items() if e == dim), dim)
        if len(zeros[dim]) > 1:
            raise ConfigError(f"{zeros[dim][1]}.factors: {name}=0 (the rest of {name}) may appear once per mapping "
                              f"(also in {zeros[dim][0]})")
        if zeros[dim]:
            if size % product[dim]:
                raise ConfigError(f"{zeros[dim][0]}.factors: {name}=0 must be the rest of the problem's {name} = {size}, "
                                  f"which the other factors ({product[dim]}) do not divide")
            out[dim] = size // product[dim]
        elif product[dim] != size:
            raise ConfigError(f"{where}: the factors of {name} over all levels must multiply to the problem's "
                              f"{name} = {size} (got {product[dim]})")
    return out


def _permutation(value: Any, where: str, dim_of: dict[str, str]) -> list[str]:
    if value is None:
        return []
    dims = list(value.replace(" ", "")) if isinstance(value, str) else value if isinstance(value, list) else None
    if dims is None or any(d not in dim_of for d in dims):
        raise _fail(where, f"must list dimensions of {', '.join(dim_of)}, inner to outer (got {value!r})")
    return [dim_of[d] for d in dims]


def _blank_slot() -> dict:
    """One level's directives before any is read: no factors or bounds, no order, no spatial loops, keep and bypass
    unset."""
    return {"factors": {}, "max": {}, "order": None, "spatial_x": {}, "spatial_y": {}, "spatial_ones": {}, "keep": None,
            "bypass": None}


def _max_factors(value: Any, where: str, dim_of: dict[str, str]) -> tuple[Any, dict[str, int]]:
    """Timeloop's factor bounds (``M<=8``: the mapper's largest loop bound) split from the factors: the other factors
    and, per energysim dimension, the bound."""
    if value is None:
        return None, {}
    items = value.replace(",", " ").split() if isinstance(value, str) else list(value) if isinstance(value, list) else None
    if items is None:
        return value, {}
    rest, bounds = [], {}
    for item in items:
        dim, sep, number = str(item).replace(" ", "").partition("<=")
        if not sep:
            rest.append(item)
            continue
        if dim not in dim_of or not number.isdigit() or int(number) < 1:
            raise _fail(where, f"a factor bound must be DIM<=N with DIM one of {', '.join(dim_of)} and N >= 1 "
                               f"(got {item!r})")
        bounds[dim_of[dim]] = min(int(number), bounds.get(dim_of[dim], int(number)))
    return rest, bounds


Clamp = tuple[dict[str, int], dict[str, str], list[str]]
"""For mapper constraints: the problem's sizes and Timeloop's name of each energysim dimension, and a list for notes."""


def _clamped(factors: dict[str, int], where: str, clamp: Clamp | None) -> dict[str, int]:
    """``factors`` with each one above its dimension's size set to the size, noted (Timeloop's mapper constraints)."""
    if clamp is None:
        return factors
    sizes, names, notes = clamp
    out = dict(factors)
    for dim, factor in factors.items():
        if dim in sizes and factor > sizes[dim]:
            out[dim] = sizes[dim]
            name = names.get(dim, dim)
            notes.append(f"{where}: {name}={factor} exceeds the problem's {name} = {sizes[dim]}, set to {sizes[dim]} "
                         f"(as Timeloop's mapper sets it, with a warning)")
    return out


def _directives(entries: Any, where: str, levels: list[str], dim_of: dict[str, str],
                tensor_of: dict[str, str] | None = None, residual: dict[str, int] | None = None,
                clamp: Clamp | None = None) -> list[dict]:
    """Per level: temporal factors and order (outer to inner), spatial X/Y factors, keep/bypass. With ``clamp``
    (mapper constraints: the problem's sizes and a list for notes), a factor above its dimension's size is set to the
    size and noted, as Timeloop's mapper does (its ``WARNING: Constraint K=32 exceeds problem dimension K=1``)."""
    out = [_blank_slot() for _ in levels]
    if not isinstance(entries, list):
        raise _fail(where, f"must be a list of directives with target and type (got {type(entries).__name__})")
    for index, entry in enumerate(entries):
        at = f"{where}[{index}]"
        if not isinstance(entry, dict):
            raise _fail(at, f"must be a mapping with target and type (got {type(entry).__name__})")
        target = entry.get("target")
        if target not in levels and "source" in entry:        # a level header of Timeloop's printed map.txt
            raise ConfigError(f"{entry['source']}: level name {target!r} is not a storage level of the architecture "
                              f"({', '.join(levels)})")
        if target not in levels:
            raise _fail(f"{at}.target", f"must name a storage level ({', '.join(levels)}) (got {target!r})")
        slot = out[levels.index(target)]
        kind = entry.get("type")
        if kind == "temporal":
            given = entry.get("factors")
            if clamp is not None:                # mapper constraints: M<=8 is the largest bound the mapper may choose
                given, slot["max"] = _max_factors(given, f"{at}.factors", dim_of)
            slot["factors"] = _clamped(_factors(given, f"{at}.factors", dim_of, residual), f"{at}.factors", clamp)
            perm = _permutation(entry.get("permutation"), f"{at}.permutation", dim_of)
            slot["order"] = list(reversed(perm)) if perm else None
        elif kind == "spatial":
            factors = _clamped(_factors(entry.get("factors"), f"{at}.factors", dim_of, residual), f"{at}.factors", clamp)
            perm = _permutation(entry.get("permutation"), f"{at}.permutation", dim_of) or list(factors)
            perm += [d for d in factors if d not in perm]
            split = entry.get("split", len(perm))
            split = int(_number(split, f"{at}.split")) if split is not None else len(perm)
            # the permutation is inner to outer; energysim's spatial tables are written outer to inner
            slot["spatial_x"] = {d: factors[d] for d in reversed(perm[:split]) if factors.get(d, 1) > 1}
            slot["spatial_y"] = {d: factors[d] for d in reversed(perm[split:]) if factors.get(d, 1) > 1}
            slot["spatial_ones"] = {d: 1 for d, f in factors.items() if f == 1}
        elif kind in ("bypass", "datatype", "dataspace"):
            for key in ("keep", "bypass"):
                names = entry.get(key)
                if names is None:
                    continue
                known = {k.lower(): v for k, v in (tensor_of or TENSOR_OF).items()}
                if not isinstance(names, list) or any(str(n).lower() not in known for n in names):
                    spaces = ", ".join(tensor_of or ("Weights", "Inputs", "Outputs"))
                    raise _fail(f"{at}.{key}", f"must list the problem's data spaces ({spaces}) (got {names!r})")
                slot[key] = [known[str(n).lower()] for n in names]
        else:
            raise UnsupportedError(f"{at}.type: directive type {kind!r} is not read (temporal, spatial, bypass, datatype)")
    return out


def _constraints(merged: dict, origin: dict[str, Path], levels: list[str], dim_of: dict[str, str],
                 tensor_of: dict[str, str] | None = None,
                 clamp: Clamp | None = None) -> list[dict] | None:
    """Per-level constraints from ``mapspace_constraints``, ``mapspace.constraints`` and ``architecture_constraints``
    (a list of directives, or a table with ``targets``); directives for the same level combine; ``clamp`` as for
    :func:`_directives`."""
    found = []
    for key in CONSTRAINT_KEYS:
        value = merged.get(key)
        if key == "mapspace":
            value = value.get("constraints") if isinstance(value, dict) else None
        if isinstance(value, dict):
            value = value.get("targets")
        if value is not None:
            found.append(_directives(value, f"{origin[key]}: {key}", levels, dim_of, tensor_of, clamp=clamp))
    if not found:
        return None
    combined = found[0]
    for extra in found[1:]:
        for slot, more in zip(combined, extra):
            for field, value in more.items():
                if value:
                    slot[field] = {**slot[field], **value} if isinstance(value, dict) else value
    return combined


def _mapping_toml(directives: list[dict], levels: list[str], layer: str) -> str:
    lines = ["# Imported Timeloop mapping (permutations are written outer to inner).", "schema_version = 1", "",
             "[[mappings]]", f"layer = {toml_value(layer)}"]
    for name, slot in zip(levels, directives):
        factors = {d: f for d, f in slot["factors"].items() if f > 1}
        order = [d for d in (slot["order"] or []) if d in factors]
        order += [d for d in factors if d not in order]
        bypass = slot["bypass"] or []
        if slot["keep"] is not None:
            bypass = sorted(set(bypass) | ({"weights", "inputs", "outputs"} - set(slot["keep"])))
        lines += ["", "[[mappings.levels]]", f"name = {toml_value(name)}", f"factors = {_inline(factors)}",
                  f"order = {toml_value(order)}"]
        for axis in ("spatial_x", "spatial_y"):
            if slot[axis]:
                lines.append(f"{axis} = {_inline(slot[axis])}")
        if bypass:
            lines.append(f"bypass = {toml_value(sorted(bypass))}")
    return "\n".join(lines) + "\n"


def _inline(table: dict) -> str:
    return "{ " + ", ".join(f"{toml_key(k)} = {toml_value(v)}" for k, v in table.items()) + " }" if table else "{}"


def _table(lines: list[str], header: str, entries: dict) -> None:
    lines += ["", header]
    for key, value in entries.items():
        if value is None:
            continue
        if isinstance(value, dict):
            text = _inline(value)
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            text = "[" + ", ".join(_inline(v) for v in value) + "]"
        else:
            text = toml_value(value)
        lines.append(f"{toml_key(key)} = {text}")


def _hardware_toml(hardware: dict, constraints: list[dict] | None, levels: list[str], sparse: tuple) -> str:
    lines = [f"{toml_key(k)} = {toml_value(v)}" for k, v in hardware["document"].items()]
    _table(lines, "[engine]", hardware["engine"])
    if constraints is not None:
        _table(lines, "[engine.mapper]", {"allow_bypass": any(s["keep"] is None and s["bypass"] is None for s in constraints[1:])})
        for name, slot in zip(levels, constraints):
            entry: dict[str, Any] = {"level": name}
            if slot["factors"]:
                entry["temporal"] = slot["factors"]
            if slot["max"]:
                entry["temporal_max"] = slot["max"]
            if slot["spatial_x"] or slot["spatial_ones"]:
                entry["spatial_x"] = {**slot["spatial_ones"], **slot["spatial_x"]}
            if slot["spatial_y"] or slot["spatial_ones"]:
                entry["spatial_y"] = {**slot["spatial_ones"], **slot["spatial_y"]}
            if slot["order"]:
                entry["order"] = slot["order"]
            if slot["keep"] is not None or slot["bypass"] is not None:
                keep = slot["keep"] if slot["keep"] is not None else [t for t in ("weights", "inputs", "outputs")
                                                                       if t not in (slot["bypass"] or [])]
                entry["keep"] = keep
            if len(entry) > 1:
                _table(lines, "[[engine.mapper.levels]]", entry)
    table, entries, _ = sparse
    if table is not None:
        _table(lines, "[engine.sparse]", table)
        for header, entry in entries:
            _table(lines, header, entry)
    for level in hardware["memory"]:
        _table(lines, "[[memory]]", level)
    for unit in hardware["units"] + sparse[2]:
        _table(lines, "[[units]]", unit)
    return "\n".join(lines) + "\n"


def import_timeloop(files: list[str | Path], out_dir: str | Path, notes: list[str] | None = None,
                    jinja_vars: dict[str, Any] | None = None, sparseloop_pricing: str | None = None,
                    jinja_include_dirs: list[str | Path] = ()) -> dict[str, Path]:
    """Convert Timeloop/Accelergy YAML files into energysim loop-nest files.

    Parameters
    ----------
    files
        YAML files (architecture, problem, mapping, constraints, ERT, component
        classes) whose top-level keys are merged; a ``.txt`` file is Timeloop's
        printed mapping (``map.txt``, :mod:`~energysim.engines.loopnest.timeloop_map_text`).
    out_dir
        Folder to write into (created if missing).
    notes
        When given, sentences for the user are appended: where the mapping comes from
        (a file, or energysim's mapper at ``run``), the Timeloop keys ignored (known to Timeloop,
        not modelled), the levels of depth 0, the assumed clock.
    jinja_vars
        timeloopfe's ``jinja_parse_data``: the names a file's Jinja template may use (:mod:`.timeloop_v4_jinja`).
    sparseloop_pricing
        ``"2021"`` or ``"current"``, Sparseloop's rule for the prices of gated and skipped accesses; None: ``"2021"``
        for an Accelergy v0.2/v0.3 ERT, else ``"current"``.
    jinja_include_dirs
        Folders (with their subfolders) a template's includes may read besides those of ``files``.

    Returns
    -------
    dict
        ``{"hardware": path, "workload": path}`` and ``"mapping"`` when the files give a mapping.

    Raises
    ------
    ConfigError
        One line naming the file, the key, the rule and the value: among them a key Timeloop does not read at
        its place (with the nearest known key), a key given twice in one mapping, an empty file.
    UnsupportedError
        For Timeloop features energysim does not model (clusters, non-convolution problems, ...).
    """
    if not files:
        raise InputError("import-timeloop: give at least one Timeloop YAML file")
    merged, origin = merge_files(files, jinja_vars, jinja_include_dirs)
    ignored: set[str] = set()
    if not is_v4(merged):
        check_keys(merged, origin, ignored)    # a key Timeloop does not read is refused before any is used
        return _import(merged, origin, Path(out_dir), notes, ignored, [], sparseloop_pricing)
    check_keys(merged, origin, ignored, TOP_V4)
    design = read_v4(merged, origin)           # the v0.4 keys Timeloop's front end would hand Timeloop
    own: list[str] = []
    try:
        written = _import(design.merged, design.origin, Path(out_dir), own, ignored, design.notes, sparseloop_pricing)
    except EnergySimError as exc:              # name the v4 file's paths, not the converted ones
        raise type(exc)(rename(str(exc), design.renames)) from None
    if notes is not None:
        notes += [rename(note, design.renames) for note in own]
    return written


def _import(merged: dict, origin: dict[str, Path], out: Path, notes: list[str] | None, ignored: set[str],
            read_notes: list[str], pricing: str | None = None) -> dict[str, Path]:
    """Read checked v0.4 keys, write the loop-nest files (:func:`import_timeloop`); ``read_notes`` go with the notes,
    ``pricing`` is Sparseloop's rule for gated and skipped accesses (None: from the ERT's version)."""
    layer, dim_of, names = _problem(merged, origin)
    tensor_of = {name: tensor for tensor, name in names.items()}
    layer.update(densities(merged, origin, tensor_of))
    ert, version, ert_file = _ert_entries(merged, origin)
    components = _components(merged, origin)
    hardware, storage = _hardware(components, ert, version, ert_file, out.name or "timeloop")
    arch_version = str(merged["architecture"].get("version", ""))
    if arch_version.startswith(("0.2", "0.3")):
        # a v0.3 architecture is read by a Timeloop that counts each partial sum's first fill (Sparseloop's
        # eyeriss_like_w_gating reference: psum_spad fills = 2 x its partition), whatever the ERT's version
        hardware["engine"]["timeloop_version"] = "2020"
    levels = [component["name"] for component in storage]
    blocks = {level["name"]: level.get("block_words", 1) for level in hardware["memory"]}
    bounds = {d: v for d, v in merged["problem"]["instance"].items() if d in dim_of and isinstance(v, int)}
    sparse_notes: list[str] = []
    sparse = sparse_table(merged, origin, [{**c, "block": blocks[c["name"]]} for c in storage], components[-1], ert,
                          ert_file, tensor_of, dim_of, default_metadata_bits(bounds or {"N": 2}), pricing=pricing,
                          notes=sparse_notes)
    placeholders = [component["name"] for component in storage if component.get("placeholder")]
    instance = merged["problem"]["instance"]
    clamped: list[str] = []
    constraints = _constraints(merged, origin, levels, dim_of, tensor_of,
                               ({energysim: int(instance.get(dim, 1)) for dim, energysim in dim_of.items()},
                                {energysim: dim for dim, energysim in dim_of.items()}, clamped))
    if placeholders:
        constraints = constraints or [_blank_slot() for _ in levels]
        files = ", ".join(sorted({str(origin[key]) for key in CONSTRAINT_KEYS if key in origin}))
        _hold_nothing(constraints, f"{files}: constraints", levels, placeholders)
    mapping = None
    if merged.get("mapping"):                  # `mapping: []` (Timeloop's tutorials): none given
        where = f"{origin['mapping']}: mapping"
        sizes = {energysim: int(instance.get(dim, 1)) for dim, energysim in dim_of.items()}
        _directives(merged["mapping"], where, levels, dim_of, tensor_of, {})      # targets, types, names first
        residual = _residuals(merged["mapping"], where, dim_of, sizes)
        mapping = _directives(merged["mapping"], where, levels, dim_of, tensor_of, residual)
        _hold_nothing(mapping, where, levels, placeholders)
    workload = ["schema_version = 1", f"name = {toml_value(layer['name'])}",
                f"source = {toml_value('Timeloop problem ' + str(origin['problem']))}"]
    _table(workload, "[[layers]]", layer)
    texts = {"hardware": _hardware_toml(hardware, constraints, levels, sparse), "workload": "\n".join(workload) + "\n"}
    if mapping is not None:
        texts["mapping"] = _mapping_toml(mapping, levels, layer["name"])
    _check_as_run(texts, sorted({str(path) for path in origin.values()}))
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"{out}: cannot create the output folder ({exc.strerror or exc})") from None
    written = {}
    for kind, text in texts.items():
        written[kind] = out / f"{kind}.toml"
        written[kind].write_text(text, encoding="utf-8")
    if notes is not None:
        if mapping is not None:
            kind = "Timeloop's printed map.txt" if origin["mapping"].suffix == ".txt" else "a mapping YAML"
            notes.append(f"mapping: from {origin['mapping']} ({kind})")
        else:
            notes.append("mapping: none given; `run` without --mapping searches one with energysim's mapper"
                         + (" under the imported [engine.mapper] constraints" if constraints is not None else "")
                         + ", which need not be the mapping Timeloop's mapper would find")
        if ignored:
            notes.append("ignored (Timeloop/Accelergy keys energysim does not model): " + ", ".join(sorted(ignored)))
        notes += read_notes + clamped + sparse_notes
        notes += [f"{name}: depth 0, Timeloop's placeholder for a fan-out: a zero-cost level that holds no data"
                  for name in placeholders]
        clock = hardware["document"]["clock_ghz"]
        notes.append(f"clock: {clock:g} GHz from global_cycle_seconds" if "global_cycle_seconds" in components[-1]["attributes"]
                     else "clock: 1 GHz assumed (Timeloop has no clock); compare cycles, or set clock_ghz in hardware.toml")
    return written


def _check_as_run(texts: dict[str, str], sources: list[str]) -> None:
    """Load the files to be written as ``run`` loads them (hardware, engine, workload, the mapping checked against the
    layer, compressed tiles at their statistical size), so that nothing the import accepts fails only at ``run``.

    Raises
    ------
    EnergySimError
        ``run``'s own one-line refusal, the YAML files named and the temporary file named as what they convert to
        (``the mapping.toml these files convert to``: nothing is written).
    """
    import tempfile

    from energysim.engines import build_engine
    from energysim.engines.loopnest.mapping import check_mapping, load_mapping
    from energysim.engines.loopnest.sparse import occupancy_for, statistical
    from energysim.errors import EnergySimError
    from energysim.hardware.hierarchy import load_hardware
    from energysim.workloads.workload import load_workload

    with tempfile.TemporaryDirectory(prefix="energysim-import-") as folder:
        paths = {kind: Path(folder) / f"{kind}.toml" for kind in texts}
        for kind, text in texts.items():
            paths[kind].write_text(text, encoding="utf-8")
        try:
            engine = build_engine(load_hardware(paths["hardware"]))
            layer = load_workload(paths["workload"]).layers[0]
            if "mapping" in paths:
                nest = layer.loop_nest()
                where, chosen = load_mapping(paths["mapping"]).for_layer(layer.name)
                occupancy = None
                if engine.config.sparse is not None:
                    densities = statistical(layer.weight_density, layer.activation_density, layer.output_density)
                    occupancy = occupancy_for(engine.spec, nest, densities)
                check_mapping(engine.spec, nest, chosen, where, occupancy)
        except EnergySimError as exc:
            message = str(exc)
            for kind, path in paths.items():      # the temporary file: name what it holds (nothing is written)
                message = message.replace(str(path), f"the {kind}.toml these files convert to")
            raise type(exc)(f"{', '.join(sources)}: import refused (nothing written), as run would refuse it: "
                            f"{message}") from None

