"""Builders for small loop-nest designs and mappings used across the loop-nest tests."""

from __future__ import annotations

import pytest

from energysim.config.hardware import HardwareFile
from energysim.engines.loopnest.mapping import LevelLoops, Mapping
from energysim.engines.loopnest.spec import LoopNestConfig, Spec
from energysim.hardware.hierarchy import build_hardware


def make_spec(levels: list[dict], mac_mesh: tuple[int, int] = (1, 1), units: list[dict] | None = None) -> Spec:
    """A loop-nest Spec from level tables (name, kind, capacity_bytes, mesh, holds, ...); 32-bit words, explicit costs."""
    memory = []
    for index, level in enumerate(levels):
        table = {"kind": "dram" if index == 0 else "sram", "word_bits": 32, "bandwidth_words_per_cycle": 1e9,
                 "read_pj": float(10 ** (len(levels) - index)), "write_pj": float(10 ** (len(levels) - index)),
                 "cost_source": "test: powers of ten"}
        table.update(level)
        memory.append(table)
    spec = HardwareFile.model_validate({
        "schema_version": 1, "name": "test-loopnest", "clock_ghz": 1.0,
        "engine": {"kind": "loopnest", "mac_mesh_x": mac_mesh[0], "mac_mesh_y": mac_mesh[1]},
        "memory": memory,
        "units": units or [{"name": "MAC", "action": "mac", "energy_pj": 1.0, "source": "test"}],
    })
    hardware = build_hardware(spec, "test-loopnest")
    return Spec.build(hardware, LoopNestConfig.model_validate(hardware.engine_table))


def mapping_of(*levels: tuple) -> Mapping:
    """A Mapping from (name, temporal, spatial_x, spatial_y[, bypass]) tuples; factors as dicts in loop order."""
    out = []
    for level in levels:
        name, temporal = level[0], level[1]
        sx = level[2] if len(level) > 2 else {}
        sy = level[3] if len(level) > 3 else {}
        bypass = frozenset(level[4]) if len(level) > 4 else frozenset()
        out.append(LevelLoops(name, tuple(temporal.items()), tuple(sx.items()), tuple(sy.items()), bypass))
    return Mapping(tuple(out), source="test")


@pytest.fixture
def two_level_spec() -> Spec:
    """DRAM -> a 64-word buffer -> 1 MAC."""
    return make_spec([{"name": "DRAM"}, {"name": "Buffer", "capacity_bytes": 256}])
