"""Read TOML (and JSON) files and turn pydantic validation errors into one line per problem.

This is the one place that formats configuration errors. A problem reads
``hwconfigs/x.toml: memory[1].capacity_bytes: must be > 0 (got 0)``; unknown keys
get a "did you mean" hint drawn from the model's field names. :func:`parse_json`
holds JSON to TOML's rules: a key given twice is an error, not the last one winning.
"""

from __future__ import annotations

import difflib
import json
import math
import re
import tomllib
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from energysim.errors import ConfigError
from energysim.limits import OPERAND_BITS, TEXT_FILE_BYTES, read_bounded

ModelT = TypeVar("ModelT", bound=BaseModel)

SCHEMA_VERSION = 1
"""The only ``schema_version`` this release reads."""


def load_toml(path: str | Path) -> dict[str, Any]:
    """Read a TOML file into a dict, reading at most :data:`energysim.limits.TEXT_FILE_BYTES`.

    Parameters
    ----------
    path
        The file; named in every message.

    Returns
    -------
    dict[str, Any]
        The parsed document, as :mod:`tomllib` returns it.

    Raises
    ------
    ConfigError
        If the file is missing, a folder, unreadable, larger than the text-file
        limit, nested too deeply, or not valid TOML (duplicate keys included).
        A UTF-8 byte-order mark at the start (Windows editors write one) is skipped.
    """
    path = Path(path)
    if "\x00" in str(path):  # os.stat would raise ValueError("embedded null byte"): no file system path holds one
        raise ConfigError(f"{str(path)!r}: not a file name (it holds a NUL character)")
    if path.is_dir():
        raise ConfigError(f"{path}: is a folder, not a TOML file")
    try:
        text = read_bounded(path, TEXT_FILE_BYTES, ConfigError).decode("utf-8-sig")  # a byte-order mark is no content
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.strerror or exc.__class__.__name__})") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: cannot be read as UTF-8 text (byte {exc.start}: {exc.reason})") from None
    if "\x00" in text:
        raise ConfigError(f"{path}: not valid TOML: holds a NUL character (a binary file?)")
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{path}: not valid TOML: arrays or tables are nested too deeply to read") from None


def parse_json(text: str | bytes, source: str, error: type[Exception] = ConfigError, allow_nan: bool = False) -> Any:
    """Parse JSON text as strictly as TOML is parsed.

    Python's ``json`` keeps the last of two equal keys in one object (so a
    safetensors header naming a tensor twice, or a ``model.json`` with two
    ``layers``, silently loses one), reads ``NaN`` and ``Infinity``, and raises
    RecursionError on arrays nested thousands deep. Here each is one line.

    Parameters
    ----------
    text
        The JSON text (bytes are decoded as UTF-8).
    source
        The file (and line), for messages.
    error
        Exception class raised.
    allow_nan
        Accept ``NaN`` / ``Infinity`` (a results journal writes NaN for a missing figure).

    Returns
    -------
    Any
        The parsed value (objects as dicts).

    Raises
    ------
    error
        For text that is not JSON, a key twice in one object, a non-finite
        number (unless ``allow_nan``) or nesting too deep to read.
    """
    def unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for key, value in pairs:
            if key in found:
                raise error(f"{source}: not valid JSON: key {key!r} appears twice in one object")
            found[key] = value
        return found

    def constant(name: str) -> float:
        if not allow_nan:
            raise error(f"{source}: not valid JSON: {name} is not a JSON number")
        return float(name.replace("Infinity", "inf"))

    try:
        return json.loads(text, object_pairs_hook=unique, parse_constant=constant)
    except UnicodeDecodeError as exc:
        raise error(f"{source}: not valid JSON: not UTF-8 text (byte {exc.start}: {exc.reason})") from None
    except json.JSONDecodeError as exc:
        raise error(f"{source}: not valid JSON: {exc}") from None
    except RecursionError:
        raise error(f"{source}: not valid JSON: arrays or objects are nested too deeply to read") from None


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


_MEMBER_TAG = re.compile(r"^(constrained-)?(int|float|str|bool|none)$|^(literal|function-(after|before|wrap|plain)|list|dict|tuple)\[")
"""Location steps pydantic adds for the members of a plain union (``int | Literal['all']``)."""


def _is_member_tag(part: Any) -> bool:
    return isinstance(part, str) and _MEMBER_TAG.match(part) is not None


def _either(errors: list[dict[str, Any]], model: type[BaseModel]) -> str:
    """One problem for a value that matches no member of a union: every member's rule, then the value."""
    rules = [_describe({**error, "input": None}, model).removesuffix(" (got None)").removeprefix("must be ") for error in errors]
    return f"must be one of: {'; '.join(dict.fromkeys(rules))} (got {_as_given(errors[0].get('input'))})"


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


_BOUND_ERRORS = {"greater_than", "greater_than_equal", "less_than", "less_than_equal", "multiple_of"}
"""Pydantic error types of a number's bounds: a boolean that fails one was taken as 0 or 1."""


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
    if isinstance(value, bool) and kind in _BOUND_ERRORS:
        return f"must be a number, not a boolean (got {_as_given(value)})"
    message = error["msg"]
    for prefix in ("Value error, ", "Assertion failed, "):
        if message.startswith(prefix):
            message = message[len(prefix):]
    message = message[0].lower() + message[1:] if message else message
    message = message.replace("input should be", "must be")
    if isinstance(value, (dict, list)):
        return message
    return f"{message} (got {_as_given(value)})"


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
        Passed to pydantic as validation context (e.g. the file's folder), with
        ``source`` and ``prefix`` added, so a model that checks more later (the
        mapper's constraints, against a layer) can still name its file.
    prefix
        Dotted location of ``data`` inside its file (``engine``), for sub-tables
        validated on their own.

    Returns
    -------
    ModelT
        The validated model instance.

    Raises
    ------
    ConfigError
        One line per problem: ``source: dotted.location: rule (got value)``.
    """
    try:
        instance = model.model_validate(data, context={"source": str(source), "prefix": prefix, **(context or {})})
    except ValidationError as exc:
        tags = _union_tags(model)
        lines = []
        errors = exc.errors()
        inner = {tuple(e["loc"][:cut]) for e in errors for cut in range(len(e["loc"]))}  # proper prefixes, linear time
        alternatives: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
        for error in errors:
            loc = tuple(error["loc"])
            if loc and _is_member_tag(loc[-1]):
                alternatives.setdefault(loc[:-1], []).append(error)
        for error in errors:
            if error["type"] == "too_short" and tuple(error["loc"]) in inner:
                continue  # a list emptied by its own bad items: the item errors say it
            loc = tuple(error["loc"])
            if loc and _is_member_tag(loc[-1]) and len(alternatives[loc[:-1]]) > 1:
                lines.append(f"{source}: {_where(_strip_union_tags(loc[:-1], tags), prefix)}: "
                             f"{_either(alternatives[loc[:-1]], model)}")
                continue
            loc = _strip_union_tags(loc, tags)
            lines.append(f"{source}: {_where(loc, prefix)}: {_describe(error, model)}")
        raise ConfigError("\n".join(dict.fromkeys(lines))) from None
    except RecursionError:
        raise ConfigError(f"{source}: {prefix or '(top level)'}: nested too deeply to validate") from None
    coerced = _coerced_values(instance, data, ())
    if coerced:
        raise ConfigError("\n".join(f"{source}: {_where(loc, prefix)}: {rule} (got {_as_given(raw)})" for loc, rule, raw in coerced))
    return instance


def _where(loc: tuple[Any, ...], prefix: str) -> str:
    where = _location(loc)
    if prefix:
        where = prefix if where == "(top level)" else f"{prefix}{'' if where.startswith('[') else '.'}{where}"
    return where


def _as_given(raw: Any) -> str:
    """A value as the user typed it in TOML (``true``, ``inf``, ``nan``), else its repr."""
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, float) and not math.isfinite(raw):
        return str(raw)
    return repr(raw)


def _coerced_values(value: Any, raw: Any, loc: tuple[Any, ...]) -> list[tuple[tuple[Any, ...], str, Any]]:
    """Values that pydantic accepted but that would silently change meaning: the strictness pass.

    Walks the validated ``value`` next to the ``raw`` data it came from, for every
    model (so engine tables validated on their own are covered too), and reports

    - a boolean where a number is expected (``rows = true`` would be taken as 1);
    - a string where a number is expected (``rows = "16"``: a quoted number is a typo, not a number);
    - a float that is not finite (``clock_ghz = inf`` would give zero latency);
    - a width (a key ending in ``_bits``: word, metadata, pointer, payload bits) over
      :data:`energysim.limits.OPERAND_BITS` (``metadata_bits = 99999999999`` would price every
      compressed tile at gigabits and report kiloseconds).
    """
    if isinstance(raw, bool) and not isinstance(value, bool):
        return [(loc, "must be a number, not a boolean", raw)]
    if isinstance(raw, str) and isinstance(value, (int, float)):
        return [(loc, "must be a number, not a string", raw)]
    if isinstance(value, float) and not math.isfinite(value):
        return [(loc, "must be a finite number", raw)]
    if isinstance(value, (int, float)) and loc and str(loc[-1]).endswith("_bits") and value > OPERAND_BITS.value:
        return [(loc, f"must be at most the {OPERAND_BITS.what} limit of {OPERAND_BITS.stated} ({OPERAND_BITS.advice})", raw)]
    found: list[tuple[tuple[Any, ...], str, Any]] = []
    if isinstance(value, BaseModel) and isinstance(raw, dict):
        for name, field in type(value).model_fields.items():
            key = field.alias or name
            if key in raw:
                found += _coerced_values(getattr(value, name), raw[key], loc + (key,))
    elif isinstance(value, dict) and isinstance(raw, dict):
        for key, item in value.items():
            if key in raw:
                found += _coerced_values(item, raw[key], loc + (key,))
    elif isinstance(value, (list, tuple)) and isinstance(raw, (list, tuple)) and len(value) == len(raw):
        for index, (item, raw_item) in enumerate(zip(value, raw)):
            found += _coerced_values(item, raw_item, loc + (index,))
    return found


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
    """Refuse a file whose ``schema_version`` is missing or not :data:`SCHEMA_VERSION`.

    Parameters
    ----------
    data
        The parsed file.
    source
        The file, named in the message.

    Raises
    ------
    ConfigError
        If ``schema_version`` is missing or another version.
    """
    version = data.get("schema_version")
    if version is None:
        raise ConfigError(f"{source}: schema_version: is required but missing (this release reads {SCHEMA_VERSION})")
    if version != SCHEMA_VERSION:
        raise ConfigError(f"{source}: schema_version: must be {SCHEMA_VERSION} (got {version!r})")


def load_model_file(path: str | Path, model: type[ModelT], data: dict[str, Any] | None = None) -> ModelT:
    """Read a TOML file, check its ``schema_version`` and validate it against ``model``.

    Parameters
    ----------
    path
        The file; named in every message.
    model
        The pydantic model of the file's top level.
    data
        The file's contents as :func:`load_toml` returned them, when the caller has read
        it already (``energysim validate`` reads it once to tell its kind); None: read here.

    Returns
    -------
    ModelT
        The validated model.

    Raises
    ------
    ConfigError
        One line per problem, naming the file, the field, the rule and the value.
    """
    if data is None:
        data = load_toml(path)
    check_schema_version(data, path)
    return validate_model(model, data, path)
