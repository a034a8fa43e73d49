"""`energysim validate` reads each file's TOML once: it tells the kind and hands the parsed data to the loader."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from energysim.api import validate_file
from energysim.config.loading import load_toml
from energysim.costs.table import CostTable
from energysim.engines import build_engine
from energysim.engines.loopnest.mapping import load_mapping
from energysim.errors import ConfigError
from energysim.hardware import load_hardware
from energysim.workloads.workload import load_workload

ROOT = Path(__file__).resolve().parents[2]
BAD = sorted((ROOT / "tests" / "data" / "bad").glob("*.toml"))
MAPPING = """\
schema_version = 1

[[mappings]]
[[mappings.levels]]
name = "DRAM"
[[mappings.levels]]
name = "RegFile"
"""


def _hardware_and_engine(path: Path) -> None:
    """What validate checks of a hardware file: the file, then its [engine] table through the registry."""
    build_engine(load_hardware(path))


LOADERS = {"engine": _hardware_and_engine, "layers": load_workload, "entries": CostTable.from_file, "mappings": load_mapping}
"""The loader of each kind, by the top-level key that tells it (validate_file's order)."""


def _files(tmp_path: Path) -> list[Path]:
    """One file of each kind validate reads: hardware, workload, workload folder, cost table, mapping."""
    mapping = tmp_path / "map.toml"
    mapping.write_text(MAPPING)
    return [ROOT / "hwconfigs" / "a100.toml", ROOT / "workloads" / "vgg16.toml",
            ROOT / "workloads" / "pruned" / "cnn-digits-2of4", ROOT / "energysim" / "costs" / "data" / "a100-class.toml",
            mapping]


def test_validate_parses_each_file_once(tmp_path, monkeypatch):
    """Counting tomllib.loads: validate_file parses the validated file's text exactly once, for every kind."""
    texts: list[str] = []
    real = tomllib.loads
    monkeypatch.setattr(tomllib, "loads", lambda text, **kwargs: texts.append(text) or real(text, **kwargs))
    for path in _files(tmp_path):
        texts.clear()
        validate_file(path)
        file = path / "workload.toml" if path.is_dir() else path
        assert texts.count(file.read_bytes().decode("utf-8-sig")) == 1, file


@pytest.mark.parametrize("path", BAD, ids=[p.stem for p in BAD])
def test_validate_refuses_with_the_message_the_loader_gives_alone(path):
    """For every bad file of a known kind, validate_file's message equals its loader's when the loader reads the file itself."""
    try:
        data = load_toml(path)
    except ConfigError:
        pytest.skip("not TOML: refused by load_toml before any loader")
    kind = next((key for key in LOADERS if key in data), None)
    if kind is None:
        pytest.skip("no kind: refused by validate_file itself")
    with pytest.raises(ConfigError) as alone:
        LOADERS[kind](path)
    with pytest.raises(ConfigError) as validated:
        validate_file(path)
    assert str(validated.value) == str(alone.value)
