"""Read TOML files and turn pydantic validation errors into one line per problem.

This is the one place that formats configuration errors. A problem reads
``hwconfigs/x.toml: memory[1].capacity_bytes: must be > 0 (got 0)``; unknown keys
get a "did you mean" hint drawn from the model's field names.
"""

from __future__ import annotations

import difflib
import tomllib
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from energysim.errors import ConfigError

ModelT = TypeVar("ModelT", bound=BaseModel)

SCHEMA_VERSION = 1
"""The only ``schema_version`` this release reads."""


def load_toml(path: str | Path) -> dict[str, Any]:
    """Read a TOML file into a dict.

    Raises
    ------
    ConfigError
        If the file is missing, unreadable or not valid TOML (duplicate keys included).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot be read as UTF-8 text ({exc.__class__.__name__})") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None


def _location(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            # discriminated unions add the tag name as a location step; drop it
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def _strip_union_tags(loc: tuple[Any, ...], tags: set[str]) -> tuple[Any, ...]:
    return tuple(p for p in loc if not (isinstance(p, str) and p in tags))


def _known_fields(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """Field names of the sub-model at ``loc`` (best effort, for hints)."""
    names: set[str] = set()
    for sub in _walk_models(model):
        names.update(sub.model_fields)
    return sorted(names)


def _walk_models(model: type[BaseModel], seen: set[type] | None = None) -> list[type[BaseModel]]:
    seen = seen if seen is not None else set()
    if model in seen:
        return []
    seen.add(model)
    found = [model]
    for field in model.model_fields.values():
        for sub in _model_types(field.annotation):
            found.extend(_walk_models(sub, seen))
    return found


def _model_types(annotation: Any) -> list[type[BaseModel]]:
    from typing import get_args

    out: list[type[BaseModel]] = []
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        out.append(annotation)
    for arg in get_args(annotation):
        out.extend(_model_types(arg))
    return out


def _describe(error: dict[str, Any], model: type[BaseModel]) -> str:
    kind = error["type"]
    value = error.get("input")
    if kind == "extra_forbidden":
        key = str(error["loc"][-1])
        hint = difflib.get_close_matches(key, _known_fields(model, error["loc"]), n=1)
        suffix = f"; did you mean '{hint[0]}'?" if hint else ""
        return f"unknown key{suffix}"
    if kind == "missing":
        return "is required but missing"
    message = error["msg"]
    for prefix in ("Value error, ", "Assertion failed, "):
        if message.startswith(prefix):
            message = message[len(prefix):]
    message = message[0].lower() + message[1:] if message else message
    message = message.replace("input should be", "must be")
    if isinstance(value, (dict, list)):
        return message
    return f"{message} (got {value!r})"


def validate_model(
    model: type[ModelT], data: Any, source: str | Path, context: dict[str, Any] | None = None, prefix: str = ""
) -> ModelT:
    """Validate ``data`` against ``model``; raise one ConfigError listing every problem.

    Parameters
    ----------
    model
        The pydantic model class (strict: ``extra="forbid"``).
    data
        The parsed TOML (or any mapping).
    source
        The file name (or a label) to prefix each problem with.
    context
        Passed to pydantic as validation context (e.g. the file's folder).
    prefix
        Dotted location of ``data`` inside its file (``engine``), for sub-tables
        validated on their own.

    Raises
    ------
    ConfigError
        One line per problem: ``source: dotted.location: rule (got value)``.
    """
    try:
        return model.model_validate(data, context=context)
    except ValidationError as exc:
        tags = _union_tags(model)
        lines = []
        for error in exc.errors():
            loc = _strip_union_tags(tuple(error["loc"]), tags)
            where = _location(loc)
            if prefix:
                where = prefix if where == "(top level)" else f"{prefix}{'' if where.startswith('[') else '.'}{where}"
            lines.append(f"{source}: {where}: {_describe(error, model)}")
        raise ConfigError("\n".join(dict.fromkeys(lines))) from None


def _union_tags(model: type[BaseModel]) -> set[str]:
    """Literal values of ``kind`` fields anywhere in the model (pydantic puts them in locations)."""
    from typing import Literal, get_args, get_origin

    tags: set[str] = set()
    for sub in _walk_models(model):
        field = sub.model_fields.get("kind")
        if field is not None and get_origin(field.annotation) is Literal:
            tags.update(str(a) for a in get_args(field.annotation))
    return tags


def check_schema_version(data: dict[str, Any], source: str | Path) -> None:
    """Refuse a file whose ``schema_version`` is missing or not :data:`SCHEMA_VERSION`."""
    version = data.get("schema_version")
    if version is None:
        raise ConfigError(f"{source}: schema_version: is required but missing (this release reads {SCHEMA_VERSION})")
    if version != SCHEMA_VERSION:
        raise ConfigError(f"{source}: schema_version: must be {SCHEMA_VERSION} (got {version!r})")
