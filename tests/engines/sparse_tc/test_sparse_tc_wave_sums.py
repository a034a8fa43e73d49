"""The closed-form per-wave sums of the A100 schedule equal a tile-by-tile walk of the launch order."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from energysim.catalog import hwconfig_path
from energysim.engines import build_engine
from energysim.engines.sparse_tc import schedule as gpu_schedule
from energysim.engines.sparse_tc.schedule import GemmProblem, Tile, _wave_sums, mma_shape
from energysim.hardware.hierarchy import load_hardware


def tiles_walked(m: int, n: int, tile_m: int, tile_n: int, batch: int, group_rows: int, slots: int, l2_fits: bool,
                 a_row_bits: int, b_col_bits: int, warps_n: int, warps_m: int) -> tuple[np.ndarray, ...]:
    """The same five per-wave arrays as ``_wave_sums``, from every tile's coordinates in launch order (the reference)."""
    tiles_m, tiles_n = -(-m // tile_m), -(-n // tile_n)
    rows_real = np.minimum(tile_m, m - np.arange(tiles_m) * tile_m)
    cols_real = np.minimum(tile_n, n - np.arange(tiles_n) * tile_n)
    tiles = batch * tiles_m * tiles_n
    waves = -(-tiles // slots)
    new_rows, new_cols = np.zeros(waves, dtype=np.int64), np.zeros(waves, dtype=np.int64)
    outputs, l2_bits, biggest = np.zeros(waves), np.zeros(waves), np.zeros(waves, dtype=np.int64)
    seen: set = set()
    for wave in range(waves):
        in_wave: set = set()
        for index in range(wave * slots, min((wave + 1) * slots, tiles)):
            gemm, local = divmod(index, tiles_m * tiles_n)
            group = local // (group_rows * tiles_n)
            rows_here = min(group_rows, tiles_m - group * group_rows)
            within = local - group * group_rows * tiles_n
            row, col = group * group_rows + within % rows_here, within // rows_here
            r, c = int(rows_real[row]), int(cols_real[col])
            for panel, real, target in ((("A", gemm, row), r, new_rows), (("B", gemm, col), c, new_cols)):
                used = seen if l2_fits else in_wave
                if panel not in used:
                    used.add(panel)
                    target[wave] += real
            outputs[wave] += r * c
            l2_bits[wave] += r * a_row_bits + c * b_col_bits
            biggest[wave] = max(biggest[wave], r * a_row_bits * (1 + warps_n) + c * b_col_bits * (1 + warps_m))
    return new_rows, new_cols, outputs, l2_bits, biggest


@st.composite
def launches(draw):
    """A grid (edge tiles smaller or not), a raster group, a batch, slots per wave and the L2 reuse rule."""
    tile_m, tile_n = draw(st.sampled_from([64, 128, 256])), draw(st.sampled_from([16, 64, 256]))
    m, n = draw(st.integers(1, 12 * tile_m)), draw(st.integers(1, 12 * tile_n))
    tiles_m, tiles_n = -(-m // tile_m), -(-n // tile_n)
    batch = draw(st.integers(1, 4))
    tiles = batch * tiles_m * tiles_n
    slots = draw(st.integers(1, tiles + 3))
    group_rows = draw(st.sampled_from(sorted({1, 2, 4, 8, 16, tiles_m})))
    return dict(m=m, n=n, tile_m=tile_m, tile_n=tile_n, batch=batch, group_rows=group_rows, slots=slots,
                l2_fits=draw(st.booleans()), a_row_bits=draw(st.sampled_from([16, 544, 4096])),
                b_col_bits=draw(st.sampled_from([16, 1024, 8192])), warps_n=draw(st.integers(1, 4)),
                warps_m=draw(st.integers(1, 4)))


@settings(max_examples=400, deadline=None)
@given(launches())
def test_closed_form_wave_sums_equal_the_tile_walk(launch):
    """Per wave: first-used A/B panel rows and columns, outputs, L2 bits and the biggest tile equal the tile walk."""
    for closed, walked in zip(_wave_sums(**launch), tiles_walked(**launch), strict=True):
        assert closed.dtype == walked.dtype
        assert closed.tolist() == walked.tolist()


@pytest.fixture(scope="module")
def gpu():
    """The bundled A100's scheduler view, FP16."""
    return build_engine(load_hardware(hwconfig_path("a100"))).gpu_spec("fp16")


@settings(max_examples=60, deadline=None)
@given(m=st.integers(1, 5000), n=st.integers(1, 5000), k=st.integers(1, 3000), batch=st.integers(1, 3),
       sparse=st.booleans(), tile=st.sampled_from([(64, 16), (128, 64), (256, 128), (128, 256)]),
       group_rows=st.sampled_from([1, 2, 3, 8]), partial_wave=st.sampled_from(["whole_wave", "per_sm_tiles"]),
       l2_capacity_bytes=st.sampled_from([40 * 2**20, 2**16]))
def test_schedules_of_random_gemms_equal_the_tile_walk(gpu, monkeypatch_module, m, n, k, batch, sparse, tile,
                                                       group_rows, partial_wave, l2_capacity_bytes):
    """A random GEMM's whole schedule (counts' traffic, per-wave and total cycles) is the same with the tile walk."""
    import dataclasses

    mma = mma_shape("fp16", sparse)
    tile_k = 64 if sparse else 32
    problem = GemmProblem(m=m, n=n, k=k, mma=mma, input_unique_elements=batch * k * n, batch=batch)
    spec = dataclasses.replace(gpu, partial_wave=partial_wave, l2_capacity_bytes=l2_capacity_bytes)
    closed = gpu_schedule.schedule(problem, spec, Tile(*tile, tile_k), 0.8, group_rows)
    with monkeypatch_module.context() as patch:
        patch.setattr(gpu_schedule, "_wave_sums", tiles_walked)
        walked = gpu_schedule.schedule(problem, spec, Tile(*tile, tile_k), 0.8, group_rows)
    assert closed.waves == walked.waves
    for name in ("cycles_body", "cycles_math", "cycles_fill", "cycles_drain", "wave_cycles", "hbm_read_bits",
                 "hbm_write_bits", "l2_read_bits", "smem_read_bits", "resource_cycles", "l2_fits"):
        assert getattr(closed, name) == getattr(walked, name), name
    for name, values in closed.wave_resource_cycles.items():
        assert values.tolist() == walked.wave_resource_cycles[name].tolist(), name


@pytest.fixture(scope="module")
def monkeypatch_module():
    """A monkeypatch usable inside a hypothesis test (the function-scoped fixture is refused there)."""
    with pytest.MonkeyPatch.context() as patch:
        yield patch


@pytest.mark.parametrize("shape", [(3000, 2500, 256), (4096, 3000, 2048)], ids=["l2-resident", "not-l2-resident"])
@pytest.mark.parametrize("mode", ["dense", "sparse_2_4"])
def test_engine_results_equal_the_tile_walk(monkeypatch, shape, mode):
    """A whole A100 run (tile and raster search, counts, cycles, every stat) is the same with the tile walk."""
    from energysim.workloads.layers import GemmLayer

    engine = build_engine(load_hardware(hwconfig_path("a100")))
    layer = GemmLayer(name="g", m=shape[0], n=shape[1], k=shape[2])
    closed = engine.simulate(layer, mode=mode)
    monkeypatch.setattr(gpu_schedule, "_wave_sums", tiles_walked)
    walked = engine.simulate(layer, mode=mode)
    assert closed.counts == walked.counts and closed.cycles == walked.cycles
    assert closed.stats == walked.stats
    assert closed.stats["waves"] > 2 and closed.stats["l2_fits_operands"] == (shape[2] == 256)
