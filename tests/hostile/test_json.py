"""JSON read as strictly as TOML (issue 13): a key twice, NaN and deep nesting are one-line errors, not silent or a traceback."""

from __future__ import annotations

import math

import pytest

from energysim.config.loading import parse_json
from energysim.errors import ConfigError


@pytest.mark.parametrize("text, rule", [
    ('{"layers": [1], "layers": [2]}', "key 'layers' appears twice in one object"),
    ('{"a": {"b": 1, "b": 1}}', "key 'b' appears twice in one object"),
    ("[NaN]", "NaN is not a JSON number"),
    ('{"x": -Infinity}', "-Infinity is not a JSON number"),
    ("[" * 100_000 + "]" * 100_000, "nested too deeply to read"),
    (b"\xff{}", "not UTF-8 text (byte 0"),
    ("{not json", "Expecting property name"),
], ids=["duplicate", "nested_duplicate", "nan", "minus_infinity", "deep", "not_utf8", "garbage"])
def test_parse_json_refuses_what_python_json_lets_through(text, rule):
    """A duplicate key (json keeps the last), NaN, deep nesting (RecursionError) and bad text each give one line naming the source."""
    with pytest.raises(ConfigError) as info:
        parse_json(text, "m.json")
    message = str(info.value)
    assert message.startswith("m.json: not valid JSON: ") and rule in message and "\n" not in message


def test_parse_json_reads_valid_json_and_nan_when_allowed():
    """Valid JSON reads as json.loads reads it; allow_nan=True reads a journal's NaN and infinities as floats."""
    assert parse_json('{"a": [1, 2.5, "x", null, true]}', "m.json") == {"a": [1, 2.5, "x", None, True]}
    values = parse_json("[NaN, Infinity, -Infinity]", "points.jsonl: line 1", allow_nan=True)
    assert math.isnan(values[0]) and values[1:] == [math.inf, -math.inf]
