"""Shared fixtures: small in-memory hardware configs for engine tests."""

from __future__ import annotations

import pytest

from energysim.config.hardware import HardwareFile
from energysim.hardware.hierarchy import Hardware, build_hardware


def make_dense_hw(
    rows: int = 4,
    cols: int = 4,
    dataflow: str = "output_stationary",
    sram_bytes: int = 65536,
    sram_bw: float = 8,
    dram_bw: float = 16,
    table: str = "lecture-45nm",
) -> Hardware:
    """A DRAM -> SRAM -> RegFile dense array with lecture costs (32-bit words, fp32 MACs)."""
    spec = HardwareFile.model_validate({
        "schema_version": 1,
        "name": f"test-{rows}x{cols}",
        "clock_ghz": 1.0,
        "cost_table": table,
        "engine": {"kind": "dense", "rows": rows, "cols": cols, "dataflow": dataflow},
        "memory": [
            {"name": "DRAM", "kind": "dram", "word_bits": 32, "bandwidth_words_per_cycle": dram_bw},
            {"name": "SRAM", "kind": "sram", "capacity_bytes": sram_bytes, "word_bits": 32, "bandwidth_words_per_cycle": sram_bw},
            {"name": "RF", "kind": "regfile", "capacity_bytes": 64, "word_bits": 32, "bandwidth_words_per_cycle": 4},
        ],
        "units": [
            {"name": "MAC", "action": "mult", "table_component": "float_mult", "bits": 32},
            {"name": "MAC", "action": "add", "table_component": "float_add", "bits": 32},
        ],
    })
    return build_hardware(spec, "test-hw")


@pytest.fixture
def dense_hw() -> Hardware:
    """The 4x4 output-stationary array of :func:`make_dense_hw`."""
    return make_dense_hw()
