"""The A100 model's working memory stays bounded on issue 15's huge inputs (chunked per-wave sums)."""

from __future__ import annotations

import tracemalloc

import pytest

from energysim.api import workload
from energysim.catalog import hwconfig_path
from energysim.engines import build_engine
from energysim.engines.sparse_tc.schedule import WAVE_CHUNK_TILES
from energysim.hardware.hierarchy import load_hardware
from energysim.workloads.layers import GemmLayer

CHUNK_BYTES = WAVE_CHUNK_TILES * 8 * 32
"""The wave sums' chunk: at most 2^18 tiles' coordinates, keys and sums at once, as about 32 int64 arrays (64 MiB)."""

BOUND_BYTES = CHUNK_BYTES + 16 * 2**20
"""The bound on one layer's traced peak: one chunk plus 16 MiB for the per-wave arrays (about 0.5 KB per wave)."""


@pytest.fixture(scope="module")
def engine():
    """The bundled A100 engine."""
    return build_engine(load_hardware(hwconfig_path("a100")))


def _traced_peak_bytes(engine, layer, mode: str) -> int:
    """Peak bytes traced by tracemalloc while the engine simulates ``layer`` in ``mode``."""
    tracemalloc.start()
    try:
        engine.simulate(layer, mode=mode)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("mode", ["dense", "sparse_2_4"])
def test_a_65536_cubed_gemm_stays_within_one_chunk_of_tiles(engine, mode):
    """A 65536^3 GEMM (262,144 tiles of 256 x 64) peaks within one chunk of tiles plus the per-wave arrays."""
    layer = GemmLayer(name="gemm", m=65536, n=65536, k=65536)
    assert _traced_peak_bytes(engine, layer, mode) < BOUND_BYTES


def test_vgg16_first_conv_at_batch_1024_stays_within_one_chunk_of_tiles(engine):
    """VGG-16's conv1_1 at batch 1024 (N = 51 million output pixels) peaks within one chunk plus the per-wave arrays."""
    conv = next(layer for layer in workload("vgg16").layers if layer.name == "conv1_1")
    assert _traced_peak_bytes(engine, conv.model_copy(update={"batch": 1024}), "dense") < BOUND_BYTES
