"""The EIE engine's up-front memory estimate bounds what a layer then allocates (tracemalloc peak)."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from energysim import catalog
from energysim.engines import build_engine
import energysim.engines.eie.lanes as lanes_module
import energysim.engines.eie.synthetic as synthetic_module
from energysim.engines.eie import lane_kernel
from energysim.engines.eie.memory import estimate_bytes
from energysim.errors import InputError
from energysim.hardware.hierarchy import load_hardware
from energysim.workloads.layers import Conv2dLayer, LinearLayer
from energysim.workloads.workload import LayerTensors


def _engine():
    return build_engine(load_hardware(catalog.hwconfig_path("eie-64pe-lecture")))


def _layers():
    rng = np.random.default_rng(0)
    weights = rng.standard_normal((512, 1024)) * (rng.random((512, 1024)) < 0.2)
    conv_weights = rng.standard_normal((32, 16, 3, 3)) * (rng.random((32, 16, 3, 3)) < 0.5)
    return [
        ("dense linear", LinearLayer(name="dense", in_features=2048, out_features=2048, weight_density=1.0,
                                     activation_density=0.5), None),
        ("sparse linear", LinearLayer(name="sparse", in_features=4096, out_features=2304, weight_density=0.1,
                                      activation_density=0.35), None),
        ("conv, many vectors", Conv2dLayer(name="conv", in_channels=64, out_channels=128, kernel_height=3,
                                           kernel_width=3, in_height=28, in_width=28, padding=1,
                                           weight_density=0.3, activation_density=0.5), None),
        ("row passes", LinearLayer(name="tall", in_features=512, out_features=16384, weight_density=0.3,
                                   activation_density=0.5), None),
        ("real linear", LinearLayer(name="real", in_features=1024, out_features=512),
         LayerTensors(weights=weights, activations=rng.random((4, 1024)) * (rng.random((4, 1024)) < 0.4))),
        ("real conv", Conv2dLayer(name="realconv", in_channels=16, out_channels=32, kernel_height=3, kernel_width=3,
                                  in_height=20, in_width=20, padding=1, batch=2),
         LayerTensors(weights=conv_weights, activations=np.maximum(rng.standard_normal((3, 16, 20, 20)), 0.0))),
    ]


@pytest.mark.parametrize("kernel", ["numba", "numpy"])
@pytest.mark.parametrize("index", range(6), ids=[name for name, _, _ in _layers()])
def test_estimate_bounds_the_measured_peak(monkeypatch, kernel, index):
    """estimate_bytes (what the engine checks before allocating) >= the tracemalloc peak of simulating the layer.

    Dense and sparse synthetic linear layers, a conv layer with 784 input vectors, a layer of 16 row
    passes, and real weights with calibration activations (linear and conv), on both paths.
    """
    if kernel == "numba" and not lane_kernel.compiled_available():
        pytest.skip("numba is not installed (the optional `fast` extra)")
    monkeypatch.setenv(lane_kernel.KERNEL_ENV, kernel)
    _, layer, tensors = _layers()[index]
    engine = _engine()
    cfg = engine.config
    shape = layer.gemm_shape()
    estimate = estimate_bytes(shape.m, shape.k, shape.n, n_pe=cfg.n_pe, rows_per_pass=cfg.activation_regfile_entries,
                              index_bits=cfg.index_bits, density=layer.weight_density,
                              real_weights=tensors is not None,
                              calibration_inputs=tensors is not None and tensors.activations is not None,
                              compiled=kernel == "numba")
    engine.simulate(layer, tensors)                   # compile and import outside the measured window
    synthetic_module._memo.clear()                    # then draw, fit and build the tables again
    lanes_module._last_tables.clear()
    tracemalloc.start()
    try:
        engine.simulate(layer, tensors)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert estimate >= peak, f"estimate {estimate / 2**20:.0f} MiB < measured peak {peak / 2**20:.0f} MiB"


def test_dense_fc6_fits_the_default_budget_on_both_paths():
    """VGG-16's dense fc6 (103M weights) is estimated under 4 GiB with the compiled and the numpy (grouped) encoding."""
    common = dict(n_pe=64, rows_per_pass=64, index_bits=4, density=1.0, real_weights=False, calibration_inputs=False)
    assert estimate_bytes(4096, 25088, 1, compiled=True, **common) < 4 * 2**30
    assert estimate_bytes(4096, 25088, 1, compiled=False, **common) < 4 * 2**30


def test_refusal_names_the_upper_estimate(monkeypatch):
    """A budget below the estimate refuses the layer before allocating, naming 'up to' the estimate in GiB."""
    monkeypatch.setenv("ENERGYSIM_ARRAY_BYTES", str(2**20))
    layer = LinearLayer(name="small", in_features=64, out_features=64, weight_density=0.5, activation_density=0.5)
    with pytest.raises(InputError, match=r"layer 'small': the eie engine would hold up to \d+\.\d GiB"):
        _engine().simulate(layer)


@pytest.mark.parametrize("kernel", ["numba", "numpy"])
def test_keep_output_estimate_bounds_the_measured_peak(monkeypatch, kernel):
    """With keep_output, estimate_bytes bounds the peak of a tall dense layer (decode and scipy's copies included)."""
    if kernel == "numba" and not lane_kernel.compiled_available():
        pytest.skip("numba is not installed (the optional `fast` extra)")
    monkeypatch.setenv(lane_kernel.KERNEL_ENV, kernel)
    layer = LinearLayer(name="tall", in_features=128, out_features=20000, weight_density=1.0, activation_density=0.5)
    engine = _engine()
    cfg = engine.config
    estimate = estimate_bytes(20000, 128, 1, n_pe=cfg.n_pe, rows_per_pass=cfg.activation_regfile_entries,
                              index_bits=cfg.index_bits, density=1.0, real_weights=False, calibration_inputs=False,
                              compiled=kernel == "numba", keep_output=True)
    engine.simulate(layer, keep_output=True)
    synthetic_module._memo.clear()
    lanes_module._last_tables.clear()
    tracemalloc.start()
    try:
        engine.simulate(layer, keep_output=True)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert estimate >= peak, f"estimate {estimate / 2**20:.0f} MiB < measured peak {peak / 2**20:.0f} MiB"


def test_keep_output_is_refused_when_only_its_output_stage_exceeds_the_budget(monkeypatch):
    """A budget the counts fit but the output stage does not: simulate runs, keep_output is refused up front.

    100 input vectors make the (M, N) output the largest stage on either path."""
    from energysim.workloads.layers import GemmLayer

    layer = GemmLayer(name="tall", m=20000, k=128, n=100, weight_density=1.0, activation_density=0.5)
    engine = _engine()
    cfg = engine.config
    common = dict(n_pe=cfg.n_pe, rows_per_pass=cfg.activation_regfile_entries, index_bits=cfg.index_bits, density=1.0,
                  real_weights=False, calibration_inputs=False, compiled=lane_kernel.use_compiled())
    without, with_output = estimate_bytes(20000, 128, 100, **common), estimate_bytes(20000, 128, 100, keep_output=True,
                                                                                      **common)
    assert without < with_output
    monkeypatch.setenv("ENERGYSIM_ARRAY_BYTES", str((without + with_output) // 2))
    engine.simulate(layer)
    with pytest.raises(InputError, match="layer 'tall': the eie engine would hold up to"):
        engine.simulate(layer, keep_output=True)
