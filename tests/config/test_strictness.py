"""validate_model's strictness pass: for ANY model, no boolean or string taken as a number and no inf/nan accepted."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict

from energysim.config.loading import validate_model
from energysim.errors import ConfigError


class Inner(BaseModel):
    model_config = ConfigDict(extra="forbid")

    count: int
    scale: float = 1.0
    flag: bool = False


class Outer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rate: float
    items: list[Inner] = []
    table: dict[str, Any] = {}


@pytest.mark.parametrize("data, line", [
    ({"rate": True}, "f.toml: rate: must be a number, not a boolean (got true)"),
    ({"rate": "2.5"}, "f.toml: rate: must be a number, not a string (got '2.5')"),
    ({"rate": float("inf")}, "f.toml: rate: must be a finite number (got inf)"),
    ({"rate": 1.0, "items": [{"count": 1}, {"count": False}]}, "f.toml: items[1].count: must be a number, not a boolean (got false)"),
    ({"rate": 1.0, "items": [{"count": 1, "scale": float("-inf")}]}, "f.toml: items[0].scale: must be a finite number (got -inf)"),
    ({"rate": 1.0, "table": {"x": {"y": float("nan")}}}, "f.toml: table.x.y: must be a finite number (got nan)"),
])
def test_coerced_or_non_finite_values_are_refused_where_they_are(data, line):
    """The refusal names the file, the dotted location, the rule and the value as the user wrote it."""
    with pytest.raises(ConfigError) as info:
        validate_model(Outer, data, "f.toml")
    assert str(info.value) == line


def test_booleans_stay_booleans_and_numbers_stay_numbers():
    """A real boolean field takes true; ints in float fields and numbers in a free table are untouched."""
    model = validate_model(Outer, {"rate": 2, "items": [{"count": 3, "flag": True}], "table": {"k": True, "n": 1.5}}, "f.toml")
    assert model.rate == 2.0 and model.items[0].flag is True and model.table == {"k": True, "n": 1.5}


def test_prefix_is_kept_for_sub_tables():
    """A sub-table validated on its own (an engine table) reports under its prefix."""
    with pytest.raises(ConfigError, match=r"^f\.toml: engine\.count: must be a number, not a boolean \(got true\)$"):
        validate_model(Inner, {"count": True}, "f.toml", prefix="engine")
