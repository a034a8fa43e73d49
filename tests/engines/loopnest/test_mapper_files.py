"""The mapper's files: constraints read with one-line errors, best mappings written so that they re-evaluate exactly."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import make_spec
from energysim.engines.loopnest.analysis import evaluate
from energysim.engines.loopnest.mapper import SearchSettings, map_nest
from energysim.engines.loopnest.mapper_constraints import MapperConstraints
from energysim.engines.loopnest.mapper_files import load_constraints, mappings_toml, results_table
from energysim.engines.loopnest.mapping import load_mapping
from energysim.errors import ConfigError
from energysim.workloads.loop_nest import LoopNest

SMALL = SearchSettings(samples=400, evaluate_top=8, refine_evaluations=30, refine_top=4, descend_starts=4, descend_steps=4,
                       kicks=1, kick_starts=4)


def _spec():
    """DRAM -> a 512-word buffer -> 4 x 4 register files of 8 words."""
    return make_spec([{"name": "DRAM"}, {"name": "Buffer", "capacity_bytes": 2048},
                      {"name": "RegFile", "capacity_bytes": 32, "mesh_x": 4, "mesh_y": 4}])


def test_written_mappings_reload_and_evaluate_to_the_same_energy(tmp_path: Path) -> None:
    """mappings_toml -> load_mapping -> evaluate gives each layer's energy and cycles exactly."""
    spec = _spec()
    nests = [LoopNest.of("conv", K=16, C=8, P=8, Q=8, R=3, S=3), LoopNest.of("gemm", K=32, C=16, N=8)]
    results = [map_nest(spec, nest, MapperConstraints(allow_bypass=True), settings=SMALL, progress=False) for nest in nests]
    path = tmp_path / "best.toml"
    path.write_text(mappings_toml(results), encoding="utf-8")
    loaded = load_mapping(path)
    for nest, result in zip(nests, results):
        _, mapping = loaded.for_layer(nest.name)
        stats = evaluate(spec, nest, mapping)
        assert stats.energy_pj == result.energy_pj and stats.cycles_total == result.cycles
    table = results_table(results)
    assert list(table["layer"]) == ["conv", "gemm"]
    assert (table["energy_pj"] <= table["default_energy_pj"]).all()


def test_constraints_file_round_trip(tmp_path: Path) -> None:
    """A constraints file with a dataflow and a level table loads into the same constraints."""
    path = tmp_path / "c.toml"
    path.write_text('schema_version = 1\ndataflow = "weight_stationary"\nallow_bypass = true\n\n'
                    '[[levels]]\nlevel = "RegFile"\ntemporal = { S = "all" }\nkeep = ["weights"]\n', encoding="utf-8")
    constraints = load_constraints(path)
    assert constraints.dataflow == "weight_stationary" and constraints.allow_bypass
    assert constraints.levels[0].temporal == {"S": "all"} and constraints.levels[0].keep == ("weights",)


@pytest.mark.parametrize("text, message", [
    ('schema_version = 1\ndataflow = "diagonal"\n', "dataflow"),
    ('schema_version = 1\nmin_utilisation = 2.0\n', "min_utilisation"),
    ('schema_version = 1\n[[levels]]\nlevel = "RegFile"\ntemporal = { K = -1 }\n', "levels[0].temporal.K"),
    ('schema_version = 1\nbypass = true\n', "bypass"),
])
def test_bad_constraints_files_name_the_field(tmp_path: Path, text: str, message: str) -> None:
    """A bad constraints file raises ConfigError naming the file and the field."""
    path = tmp_path / "c.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_constraints(path)
    assert str(path) in str(info.value) and message in str(info.value)
