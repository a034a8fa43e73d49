"""The A100 model's working memory grows with its waves, not its tiles, on issue 15's huge inputs (closed-form wave sums)."""

from __future__ import annotations

import tracemalloc

import pytest

from energysim.api import workload
from energysim.catalog import hwconfig_path
from energysim.engines import build_engine
from energysim.hardware.hierarchy import load_hardware
from energysim.workloads.layers import GemmLayer

BASE_BYTES = 2**20
"""Working memory of one layer apart from its per-wave arrays (config, stats, the search's bookkeeping)."""

BYTES_PER_WAVE = 1024
"""Per-wave arrays of the schedules tried (measured about 0.8 KB per wave): far below one int64 per tile."""


@pytest.fixture(scope="module")
def engine():
    """The bundled A100 engine."""
    return build_engine(load_hardware(hwconfig_path("a100")))


def _traced_peak_bytes_and_waves(engine, layer, mode: str) -> tuple[int, int]:
    """Peak bytes traced by tracemalloc while the engine simulates ``layer`` in ``mode``, and its waves."""
    tracemalloc.start()
    try:
        result = engine.simulate(layer, mode=mode)
        return tracemalloc.get_traced_memory()[1], result.stats["waves"]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("mode", ["dense", "sparse_2_4"])
def test_a_65536_cubed_gemm_stays_within_its_per_wave_arrays(engine, mode):
    """A 65536^3 GEMM (262,144 tiles of 256 x 64, 1,214 waves) peaks within 1 MiB plus 1 KiB per wave."""
    peak, waves = _traced_peak_bytes_and_waves(engine, GemmLayer(name="gemm", m=65536, n=65536, k=65536), mode)
    assert peak < BASE_BYTES + BYTES_PER_WAVE * waves


@pytest.mark.slow  # about 1 s of CPU untraced, 10-30 s under tracemalloc
def test_a_262144_squared_small_k_gemm_stays_within_its_per_wave_arrays(engine):
    """262144 x 262144 x 64 (4,194,304 tiles, 19,419 waves) peaks within 1 MiB plus 1 KiB per wave, under 8 B per tile."""
    peak, waves = _traced_peak_bytes_and_waves(engine, GemmLayer(name="gemm", m=262144, n=262144, k=64), "dense")
    assert peak < BASE_BYTES + BYTES_PER_WAVE * waves < 8 * 4194304


def test_vgg16_first_conv_at_batch_1024_stays_within_its_per_wave_arrays(engine):
    """VGG-16's conv1_1 at batch 1024 (N = 51 million output pixels) peaks within 1 MiB plus 1 KiB per wave."""
    conv = next(layer for layer in workload("vgg16").layers if layer.name == "conv1_1")
    peak, waves = _traced_peak_bytes_and_waves(engine, conv.model_copy(update={"batch": 1024}), "dense")
    assert peak < BASE_BYTES + BYTES_PER_WAVE * waves
