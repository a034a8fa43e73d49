"""The YAML tags of Timeloop v4 specifications (timeloopfe), read by the importer's YAML loader.

A v4 architecture is a list of nodes written with tags: ``!Component``, ``!Container``,
``!Hierarchical``, ``!Parallel``, ``!Pipelined``, ``!Nothing``; a constraint may be written
``!Temporal``, ``!Spatial`` or ``!Dataspace``. :func:`add_tags` teaches a PyYAML loader
these tags: each tagged mapping becomes a :class:`Tagged` dict that remembers its tag
and line. Any other tag is refused in one line with the nearest known one.

timeloopfe also merges hierarchically: ``<<<: *anchor`` (or a list of anchors, the
earlier first) merges the anchored mapping into the one holding the key, nested
mappings key by key and lists by appending theirs after the own ones, the own value
winning otherwise; a value tagged ``!nomerge`` is never merged into
(:func:`merge_hierarchical`).
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, Callable

from energysim.errors import ConfigError

NODE_TAGS = ("!Component", "!Container", "!Hierarchical", "!Parallel", "!Pipelined", "!Nothing")
"""Tags of v4 architecture nodes."""
CONSTRAINT_TAGS = {"!Temporal": "temporal", "!Spatial": "spatial", "!Dataspace": "dataspace"}
"""Tags of v4 constraints -> the constraint type they stand for."""


MERGE_KEY = "<<<"
"""timeloopfe's hierarchical merge key."""
MAX_MERGED_ITEMS = 100_000
"""Most entries a list built by ``<<<`` merges may hold (each merge may append a list to itself)."""


class Tagged(dict):
    """A YAML mapping written with a v4 tag: a dict with its ``tag`` (``"!Component"``) and 1-based ``line``."""

    tag: str = ""
    line: int = 0


class NoMergeList(list):
    """A list tagged ``!nomerge``: a ``<<<`` merge keeps it as it is."""


class NoMergeDict(dict):
    """A mapping tagged ``!nomerge``: a ``<<<`` merge keeps it as it is."""


def merge_hierarchical(mapping: dict, path: Path, line: int) -> dict:
    """``mapping`` with its ``<<<`` entry merged in (module docstring); the same type (a :class:`Tagged` stays one).

    Raises
    ------
    ConfigError
        A ``<<<`` value that is not a mapping or a list of mappings (naming the file and line).
    """
    sources = mapping[MERGE_KEY]
    sources = sources if isinstance(sources, list) else [sources]
    if not all(isinstance(source, dict) for source in sources):
        raise ConfigError(f"{path}: line {line}: {MERGE_KEY} must merge a mapping or a list of mappings (an *anchor) "
                          f"(got {sources!r:.60})")
    out = _copy_like(mapping, {k: v for k, v in mapping.items() if k != MERGE_KEY})
    for source in sources:
        for key, value in source.items():
            out[key] = _combine(out[key], value, path, line) if key in out else value
    return out


def _combine(mine: Any, theirs: Any, path: Path, line: int) -> Any:
    if isinstance(mine, dict) and isinstance(theirs, dict) and not isinstance(mine, NoMergeDict):
        out = _copy_like(mine, dict(mine))
        for key, value in theirs.items():
            out[key] = _combine(out[key], value, path, line) if key in out else value
        return out
    if isinstance(mine, list) and isinstance(theirs, list) and not isinstance(mine, NoMergeList):
        if len(mine) + len(theirs) > MAX_MERGED_ITEMS:     # merges of merges can double a list at each step
            raise ConfigError(f"{path}: line {line}: {MERGE_KEY} would build a list of {len(mine) + len(theirs)} "
                              f"entries; merged lists may hold at most {MAX_MERGED_ITEMS}")
        return mine + theirs
    return mine


def _copy_like(original: dict, items: dict) -> dict:
    out = type(original)(items)
    if isinstance(original, Tagged):
        out.tag, out.line = original.tag, original.line
    return out


def add_tags(loader: type, yaml: Any, path: Path, construct_mapping: Callable[..., dict]) -> None:
    """Register the v4 tags on ``loader`` (a SafeLoader subclass); refuse any other ``!tag``.

    Parameters
    ----------
    loader
        The loader class to extend.
    yaml
        The PyYAML module.
    path
        The file being read, named in refusals.
    construct_mapping
        The loader's mapping constructor (it refuses a key given twice).
    """
    known = NODE_TAGS + tuple(CONSTRAINT_TAGS) + ("!nomerge",)

    def tagged(tag: str) -> Callable[[Any, Any], Tagged]:
        def construct(inner: Any, node: Any) -> Tagged:
            if not isinstance(node, yaml.MappingNode):
                kind = "a list" if isinstance(node, yaml.SequenceNode) else f"{node.value!r}"
                raise ConfigError(f"{path}: line {node.start_mark.line + 1}: {tag} must tag a mapping of keys "
                                  f"(name, class, attributes, nodes, ...) (got {kind})")
            out = Tagged(construct_mapping(inner, node, deep=True))
            out.tag, out.line = tag, node.start_mark.line + 1
            return out
        return construct

    def unknown(inner: Any, suffix: str, node: Any) -> None:
        tag = "!" + suffix
        near = difflib.get_close_matches(tag, known, n=1, cutoff=0.6)
        hint = f"; did you mean '{near[0]}'?" if near else ""
        raise ConfigError(f"{path}: line {node.start_mark.line + 1}: YAML tag {tag!r} is not one Timeloop v4 reads "
                          f"(known: {', '.join(known)}) (got {tag}){hint}")

    def nomerge(inner: Any, node: Any) -> NoMergeList | NoMergeDict:
        if isinstance(node, yaml.SequenceNode):
            return NoMergeList(inner.construct_sequence(node, deep=True))
        if isinstance(node, yaml.MappingNode):
            return NoMergeDict(construct_mapping(inner, node, deep=True))
        raise ConfigError(f"{path}: line {node.start_mark.line + 1}: !nomerge must tag a list or a mapping "
                          f"(got {node.value!r})")

    for tag in known:
        loader.add_constructor(tag, tagged(tag))
    loader.add_constructor("!nomerge", nomerge)
    loader.add_multi_constructor("!", unknown)
