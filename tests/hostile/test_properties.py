"""Property tests (issue 13): random valid and hostile configs and layer geometries through energysim.simulate.

Every example ends in one of two ways: a run whose every layer passes the
invariants below, or an :class:`~energysim.errors.EnergySimError`. Anything else
(a traceback, a MemoryError under the 6 GiB budget, a result for an impossible
layer such as a kernel larger than its padded input, whose two negative output
sizes would multiply to a positive MAC count) fails the test.
"""

from __future__ import annotations

import math
import tomllib

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import energysim
from energysim import catalog
from energysim.errors import EnergySimError
from limits_guard import memory_budget

HARDWARE = ("lecture-array", "eie-64pe-lecture", "a100", "lecture-array-loopnest")
"""One bundled config per engine kind (dense, eie, sparse_tc, loopnest)."""

HOSTILE = (True, False, 0, -1, 0.5, math.inf, -math.inf, math.nan, 2**62, "16", "", [], {})
"""Values a careless or hostile user puts where a number or a name is expected."""


def _toml(value) -> str:
    """A TOML value, including the inf/nan/bool/inline-table spellings the writer of real files refuses."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return "{" + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + "}"


def _document(data: dict) -> str:
    return "".join(f"{key} = {_toml(value)}\n" for key, value in data.items())


def _leaves(data: dict) -> list[tuple]:
    """Paths of every scalar in a hardware document: ('clock_ghz',), ('engine', 'rows'), ('memory', 1, 'word_bits'), ..."""
    paths = []
    for key, value in data.items():
        if isinstance(value, dict):
            paths += [(key, sub) for sub, item in value.items() if not isinstance(item, (dict, list))]
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            paths += [(key, index, sub) for index, entry in enumerate(value) for sub in entry]
        else:
            paths.append((key,))
    return paths


def _set(data: dict, path: tuple, value) -> None:
    target = data
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value


SIZE = st.one_of(st.integers(1, 12), st.sampled_from(HOSTILE))
"""A layer dimension: mostly small and valid, sometimes hostile."""


@st.composite
def layers(draw) -> dict:
    kind = draw(st.sampled_from(("linear", "conv2d", "gemm")))
    if kind == "linear":
        return {"kind": kind, "name": "l", "in_features": draw(SIZE), "out_features": draw(SIZE), "batch": draw(SIZE)}
    if kind == "gemm":
        return {"kind": kind, "name": "l", "m": draw(SIZE), "n": draw(SIZE), "k": draw(SIZE)}
    return {"kind": kind, "name": "l", "in_channels": draw(SIZE), "out_channels": draw(SIZE), "in_height": draw(SIZE),
            "in_width": draw(SIZE), "kernel_height": draw(st.integers(1, 4)), "kernel_width": draw(st.integers(1, 4)),
            "stride": draw(st.integers(1, 3)), "padding": draw(st.integers(0, 2))}


def _expected_macs(layer: dict) -> int:
    if layer["kind"] == "linear":
        return layer["in_features"] * layer["out_features"] * layer["batch"]
    if layer["kind"] == "gemm":
        return layer["m"] * layer["n"] * layer["k"]
    out_h = (layer["in_height"] + 2 * layer["padding"] - layer["kernel_height"]) // layer["stride"] + 1
    out_w = (layer["in_width"] + 2 * layer["padding"] - layer["kernel_width"]) // layer["stride"] + 1
    return layer["out_channels"] * layer["in_channels"] * layer["kernel_height"] * layer["kernel_width"] * out_h * out_w


def _simulate(tmp_path, hw_data: dict, layer: dict):
    hw_path, wl_path = tmp_path / "hw.toml", tmp_path / "w.toml"
    hw_path.write_text(_document(hw_data), encoding="utf-8")
    wl_path.write_text(_document({"schema_version": 1, "name": "p", "layers": [layer]}), encoding="utf-8")
    with memory_budget():
        return energysim.simulate(str(hw_path), str(wl_path), progress=False)


def _check_run(run, layer: dict) -> None:
    """The invariants of an accepted run: the geometry's MACs, finite positive energy and latency, whole cycles."""
    summary = run.summary
    assert len(summary) == 1
    row = summary.iloc[0]
    assert int(row["macs"]) == _expected_macs(layer)
    assert math.isfinite(row["energy_pj"]) and row["energy_pj"] > 0
    assert math.isfinite(row["latency_s"]) and row["latency_s"] > 0
    assert int(row["cycles_total"]) >= 1 and float(row["cycles_total"]).is_integer()
    assert 0 < row["utilisation"] <= 1 + 1e-9


_SETTINGS = settings(max_examples=25, deadline=None, derandomize=True, phases=[Phase.explicit, Phase.generate],
                     suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
"""Deterministic examples and no shrinking: a failure reports the example as drawn, at once."""



@pytest.mark.parametrize("name", HARDWARE)
@_SETTINGS
@given(data=st.data())
def test_hostile_hardware_field_gives_result_or_energysim_error(name, tmp_path, data):
    """One hardware field set to a hostile value: a run passing every invariant, or an EnergySimError, nothing else."""
    hw_data = tomllib.loads(catalog.hwconfig_path(name).read_text(encoding="utf-8"))
    path = data.draw(st.sampled_from(_leaves(hw_data)), label="field")
    _set(hw_data, path, data.draw(st.sampled_from(HOSTILE), label="value"))
    layer = {"kind": "gemm", "name": "l", "m": 8, "n": 4, "k": 8}
    try:
        run = _simulate(tmp_path, hw_data, layer)
    except EnergySimError:
        return
    _check_run(run, layer)


@pytest.mark.parametrize("name", HARDWARE)
@settings(_SETTINGS, max_examples=15)
@given(layer=layers())
def test_random_layer_gives_result_or_energysim_error(name, tmp_path, layer):
    """A random (often hostile) layer geometry on each engine: a run passing every invariant, or an EnergySimError."""
    hw_data = tomllib.loads(catalog.hwconfig_path(name).read_text(encoding="utf-8"))
    try:
        run = _simulate(tmp_path, hw_data, layer)
    except EnergySimError:
        return
    _check_run(run, layer)


def test_loopnest_maps_a_small_padded_conv(tmp_path):
    """A 10->1 channel conv on a 1x10 input, 1x2 kernel, padding 1 runs or is refused (the property above found an IndexError here)."""
    hw_data = tomllib.loads(catalog.hwconfig_path("lecture-array-loopnest").read_text(encoding="utf-8"))
    layer = {"kind": "conv2d", "name": "l", "in_channels": 10, "out_channels": 1, "in_height": 1, "in_width": 10,
             "kernel_height": 1, "kernel_width": 2, "stride": 1, "padding": 1}
    try:
        run = _simulate(tmp_path, hw_data, layer)
    except EnergySimError:
        return
    _check_run(run, layer)


DTYPES = ("<f8", "<f4", "<f2", ">f8", "<i8", "u1", "?", "<c16", "O", "<U3", "<M8[s]", "V8", "<f8,<f8")
"""Array dtypes a tensors.npz member may carry: numeric ones load, the rest must be refused."""


@settings(_SETTINGS, max_examples=60)
@given(dtype=st.sampled_from(DTYPES), shape=st.one_of(st.just((2, 3)), st.lists(st.integers(0, 9), max_size=3).map(tuple)),
       mask=st.sampled_from((None, "bool", "twos", "halves")))
def test_random_tensors_file_loads_or_is_refused(tmp_path, dtype, shape, mask):
    """A tensors.npz with a random dtype and shape (and mask): weights of the layer's shape as finite floats, or an EnergySimError."""
    weights = np.empty(shape, dtype=object) if dtype == "O" else np.zeros(shape, dtype=np.dtype(dtype))
    arrays = {"fc.weight": weights}
    entry = {"kind": "linear", "name": "fc", "in_features": 3, "out_features": 2, "weight_key": "fc.weight"}
    if mask is not None:
        arrays["fc.mask"] = {"bool": np.ones(shape, bool), "twos": np.full(shape, 2), "halves": np.full(shape, 0.5)}[mask]
        entry["mask_key"] = "fc.mask"
    np.savez(tmp_path / "tensors.npz", **arrays)
    (tmp_path / "w.toml").write_text(
        _document({"schema_version": 1, "name": "t", "tensors_file": "tensors.npz", "layers": [entry]}), encoding="utf-8"
    )
    try:
        with memory_budget():
            loaded = energysim.workload(str(tmp_path / "w.toml"))
    except EnergySimError:
        return
    tensors = loaded.layer_tensors("fc")
    assert tensors.weights.shape == (2, 3) and tensors.weights.dtype == np.float64
    assert np.all(np.isfinite(tensors.weights))
    assert np.dtype(dtype).kind in "biuf" and mask in (None, "bool")
