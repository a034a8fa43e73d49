"""Mapping TOML files: loading, per-layer entries, and one-line errors naming file, field, rule and value."""

from __future__ import annotations

from pathlib import Path

import pytest

import energysim
from energysim.engines.loopnest.mapping import load_mapping
from energysim.errors import ConfigError
from energysim.workloads.layers import GemmLayer
from energysim.workloads.workload import Workload

WORKLOAD = Workload("two", (GemmLayer(name="a", m=32, n=32, k=64), GemmLayer(name="b", m=16, n=16, k=16)))

GOOD = """\
schema_version = 1

[[mappings]]
layer = "a"
[[mappings.levels]]
name = "DRAM"
factors = { K = 2, N = 2 }
order = ["K", "N"]
[[mappings.levels]]
name = "GlobalBuffer"
factors = { C = 64 }
spatial_x = { K = 16 }
spatial_y = { N = 16 }
[[mappings.levels]]
name = "RegFile"

[[mappings]]
[[mappings.levels]]
name = "DRAM"
[[mappings.levels]]
name = "GlobalBuffer"
factors = { C = 16 }
spatial_x = { K = 16 }
spatial_y = { N = 16 }
[[mappings.levels]]
name = "RegFile"
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "map.toml"
    path.write_text(text)
    return path


def test_named_and_fallback_entries(tmp_path: Path) -> None:
    """Layer 'a' takes its own entry, layer 'b' the entry without a layer; stats name the entry used."""
    run = energysim.simulate("lecture-array-loopnest", WORKLOAD, mapping=_write(tmp_path, GOOD))
    a, b = run.results
    assert a.stats["mapping_source"].endswith("map.toml: mappings[0]")
    assert b.stats["mapping_source"].endswith("map.toml: mappings[1]")
    assert a.stats["mapping"] == "DRAM[K2 N2] GlobalBuffer[C64 | x:K16 y:N16] RegFile[]"
    assert a.cycles["compute"] == 2 * 2 * 64


def test_default_mapping_is_named() -> None:
    """mapping="default" takes the default mapping and says so."""
    run = energysim.simulate("lecture-array-loopnest", WORKLOAD, mapping="default")
    assert {r.stats["mapping_source"] for r in run.results} == {"default"}


def test_no_mapping_runs_the_mapper() -> None:
    """Without a mapping the mapper chooses one, never worse in energy than the default mapping, and stats say so."""
    mapped = energysim.simulate("lecture-array-loopnest", WORKLOAD)
    default = energysim.simulate("lecture-array-loopnest", WORKLOAD, mapping="default")
    assert all(r.stats["mapping_source"].startswith("mapper (energy") for r in mapped.results)
    for a, b in zip(mapped.summary["energy_pj"], default.summary["energy_pj"]):
        assert a <= b


@pytest.mark.parametrize("edits, message", [
    ([('factors = { K = 2, N = 2 }', 'factors = { K = 2, Z = 2 }')],
     "mappings[0].levels[0]: factors: 'Z' is not a dimension (N, G, K, C, P, Q, R, S)"),
    ([('factors = { K = 2, N = 2 }', 'factors = { K = 2.0, N = 2 }')],
     "mappings[0].levels[0].factors.K: must be a valid integer (got 2.0)"),
    ([('order = ["K", "N"]', 'order = ["K"]')],
     "mappings[0].levels[0]: order: must list every dimension with a temporal factor > 1 (missing ['N'])"),
    ([('factors = { C = 64 }', 'factors = { C = 32 }')],
     "mappings[0]: dimension C: factors must multiply to the layer's C = 64 for layer 'a' (got 32)"),
    ([('factors = { K = 2, N = 2 }\norder = ["K", "N"]', 'factors = { K = 2 }'), ('spatial_y = { N = 16 }', 'spatial_y = { N = 32 }')],
     "mappings[0].levels[1].spatial_y: fan-out must be at most the 16 instances below 'GlobalBuffer' (got 32)"),
    ([('name = "RegFile"\n\n[[mappings]]', 'name = "RegFile"\nbypass = ["weights", "bias"]\n\n[[mappings]]')],
     "mappings[0].levels[2]: bypass: 'bias' is not a tensor (weights, inputs, outputs)"),
])
def test_errors_are_one_line(tmp_path: Path, edits: list[tuple[str, str]], message: str) -> None:
    """Each broken mapping file gives one line that starts with the file and names the field, rule and value."""
    text = GOOD
    for old, new in edits:
        assert old in text
        text = text.replace(old, new, 1)
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        energysim.simulate("lecture-array-loopnest", WORKLOAD, mapping=path)
    text = str(info.value)
    assert "\n" not in text and text.startswith(str(path)) and message in text


def test_capacity_error_names_level_and_sizes(tmp_path: Path) -> None:
    """A register-file tile too large for 16 words is refused naming the level, the tiles and the capacity."""
    text = GOOD.replace('factors = { C = 64 }\nspatial_x', 'factors = { C = 4 }\nspatial_x').replace(
        'name = "RegFile"\n\n[[mappings]]', 'name = "RegFile"\nfactors = { C = 16 }\n\n[[mappings]]')
    with pytest.raises(ConfigError) as info:
        energysim.simulate("lecture-array-loopnest", WORKLOAD, mapping=_write(tmp_path, text))
    assert str(info.value).endswith(
        "mappings[0].levels[2]: tiles (weights 16, inputs 16, outputs 1) must fit the 16-word capacity of 'RegFile' (got 33 words)")


def test_missing_layer_entry(tmp_path: Path) -> None:
    """A file with no entry for a layer and no fallback entry names the layers it has."""
    text = GOOD[: GOOD.index("[[mappings]]\n[[mappings.levels]]")]
    mappings = load_mapping(_write(tmp_path, text))
    with pytest.raises(ConfigError, match=r"mappings: no entry for layer 'b' and none without a layer \(layers: a\)"):
        mappings.for_layer("b")


def test_documented_example_is_valid(tmp_path: Path) -> None:
    """The mapping file shown in docs/engines/loopnest.md runs VGG-16 conv3_1 on lecture-array-loopnest."""
    doc = (Path(__file__).parents[3] / "docs" / "engines" / "loopnest.md").read_text()
    block = doc.split("```toml\n", 1)[1].split("```", 1)[0]
    conv = [layer for layer in energysim.workload("vgg16").layers if layer.name == "conv3_1"]
    run = energysim.simulate("lecture-array-loopnest", Workload("one", tuple(conv)), mapping=_write(tmp_path, block))
    assert run.results[0].stats["mapping"] == "DRAM[K16 P4 Q14] GlobalBuffer[Q2 C64 R3 | x:K16 y:P14] RegFile[Q2 C2 S3]"
