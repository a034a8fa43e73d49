"""The YAML tags of Timeloop v4 specifications (timeloopfe), read by the importer's YAML loader.

A v4 architecture is a list of nodes written with tags: ``!Component``, ``!Container``,
``!Hierarchical``, ``!Parallel``, ``!Pipelined``, ``!Nothing``; a constraint may be written
``!Temporal``, ``!Spatial`` or ``!Dataspace``. :func:`add_tags` teaches a PyYAML loader
these tags: each tagged mapping becomes a :class:`Tagged` dict that remembers its tag
and line. Any other tag is refused in one line with the nearest known one.
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


class Tagged(dict):
    """A YAML mapping written with a v4 tag: a dict with its ``tag`` (``"!Component"``) and 1-based ``line``."""

    tag: str = ""
    line: int = 0


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
    known = NODE_TAGS + tuple(CONSTRAINT_TAGS)

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

    for tag in known:
        loader.add_constructor(tag, tagged(tag))
    loader.add_multi_constructor("!", unknown)
