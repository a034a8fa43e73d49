"""The dense engine's output-stationary schedule, written as a loop-nest mapping, gives the dense engine's counts.

The dense engine on ``lecture-array`` tiles a GEMM ``C[m,n] = A[m,k] B[k,n]``
into SRAM tiles (tm, tn, tk) visited m, n, k (k inner), sized by its tiler's
search (a loop-nest mapping needs factors that divide the dimensions, so the
shapes below are ones whose chosen tiles divide them; the tests assert it);
inside a tile the 16 x 16 array runs folds (rows over m, columns over n), each
streaming tk steps, with a 3-word register file per PE. On ``lecture-array-loopnest`` (same levels, sizes
and costs) that is the nest (loop-nest names: K = m, N = n, C = k)::

    DRAM          K m/tm, N n/tn, C k/tk
    GlobalBuffer  K tm/16, N tn/16, C tk     | x: K16  y: N16
    RegFile       (no loops: one weight, one input, one partial sum)

Every DRAM and GlobalBuffer count, the register file's weight and input counts
and the MACs are equal. The register file's partial sums differ by convention,
and each difference is pinned below:

1. The dense engine reads the accumulator at every MAC, even the first of a
   fold (read = MACs + drains, update = MACs); the loop-nest engine writes the
   first product of a point in its tile (``write``) without reading a zero.
2. The dense engine reloads the partial sum into the register file when a fold
   continues an earlier k tile (``fill``) and the buffer's read of it is the
   reload; the loop-nest engine starts the register at zero and the buffer adds
   the drained value (its ``read`` + ``update``): same buffer counts, no
   register fill.
"""

from __future__ import annotations

import pytest

import energysim
from energysim.engines.loopnest.mapping import LevelLoops, Mapping
from energysim.workloads.layers import GemmLayer
from energysim.workloads.workload import Workload

ROWS = COLS = 16


def _as_mapping(m: int, n: int, k: int, tm: int, tn: int, tk: int) -> Mapping:
    """The dense output-stationary schedule of an (m, n, k) GEMM with SRAM tiles (tm, tn, tk)."""
    return Mapping((
        LevelLoops("DRAM", (("K", m // tm), ("N", n // tn), ("C", k // tk))),
        LevelLoops("GlobalBuffer", (("K", tm // ROWS), ("N", tn // COLS), ("C", tk)), (("K", ROWS),), (("N", COLS),)),
        LevelLoops("RegFile"),
    ), source="dense output-stationary schedule")


@pytest.mark.parametrize("m, n, k", [(64, 128, 4608), (128, 192, 1024), (128, 128, 576)])
def test_dense_schedule_counts(m: int, n: int, k: int) -> None:
    """DRAM, SRAM, RF weight/input and MAC counts equal the dense engine's; RF psum counts differ as stated."""
    workload = Workload("gemm", (GemmLayer(name="g", m=m, n=n, k=k),))
    dense = energysim.simulate("lecture-array", workload).results[0]
    tm, tn, tk = dense.stats["tile_m"], dense.stats["tile_n"], dense.stats["tile_k"]
    assert m % tm == 0 and n % tn == 0 and k % tk == 0 and tm % ROWS == 0 and tn % COLS == 0, "schedule not expressible"
    mapping = _as_mapping(m, n, k, tm, tn, tk)
    loop = energysim.simulate("lecture-array-loopnest", workload, mapping=mapping).results[0]

    def part(result, keep) -> dict:
        return {key: value for key, value in result.counts.items() if keep(key)}

    same = lambda key: not (key[0] == "RegFile" and key[1] == "outputs")  # noqa: E731
    assert part(loop, same) == part(dense, same)
    first = loop.count("RegFile", "outputs", "write")
    assert first > 0
    assert dense.count("RegFile", "outputs", "read") == loop.count("RegFile", "outputs", "read") + first
    assert dense.count("RegFile", "outputs", "update") == loop.count("RegFile", "outputs", "update") + first
    assert dense.count("RegFile", "outputs", "fill") == first - m * n
    assert dense.count("RegFile", "outputs", "write") == 0 and loop.count("RegFile", "outputs", "fill") == 0
    assert loop.stats["mapping_source"] == "dense output-stationary schedule"


def test_psum_reload_case_is_exercised() -> None:
    """The (64, 64, 4096) case has k tiles after the first, so difference 2 (register fills) is non-zero there."""
    workload = Workload("gemm", (GemmLayer(name="g", m=64, n=64, k=4096),))
    dense = energysim.simulate("lecture-array", workload).results[0]
    assert dense.count("RegFile", "outputs", "fill") > 0
    assert dense.count("GlobalBuffer", "outputs", "update") > 0


def _as_ws_mapping(m: int, n: int, k: int, tm: int, tn: int, tk: int) -> Mapping:
    """The dense weight-stationary schedule: array rows over k, columns over m, each fold streaming tn inputs."""
    return Mapping((
        LevelLoops("DRAM", (("K", m // tm), ("N", n // tn), ("C", k // tk))),
        LevelLoops("GlobalBuffer", (("C", tk // ROWS), ("K", tm // COLS), ("N", tn)), (("C", ROWS),), (("K", COLS),)),
        LevelLoops("RegFile"),
    ), source="dense weight-stationary schedule")


@pytest.mark.parametrize("m, n, k", [(128, 256, 1152), (192, 192, 576)])
def test_dense_weight_stationary_schedule(m: int, n: int, k: int) -> None:
    """horowitz-array's WS schedule: all counts equal but the RF psums, which move as often under other names; equal energy.

    3. In the dense weight-stationary array a partial sum enters each PE of a
       column from the PE above (``fill``) and leaves updated (``update``); the
       loop-nest engine reduces the column's products spatially, so each PE
       writes its product (``write``) and drains it (``read``): as many
       register-file accesses, under other actions, and, with horowitz-array's
       equal read and write costs, the same energy.
    """
    workload = Workload("gemm", (GemmLayer(name="g", m=m, n=n, k=k),))
    dense_run = energysim.simulate("horowitz-array", workload)
    dense = dense_run.results[0]
    tm, tn, tk = dense.stats["tile_m"], dense.stats["tile_n"], dense.stats["tile_k"]
    assert m % tm == 0 and n % tn == 0 and k % tk == 0 and tm % COLS == 0 and tk % ROWS == 0, "schedule not expressible"
    loop_run = energysim.simulate("horowitz-array-loopnest", workload, mapping=_as_ws_mapping(m, n, k, tm, tn, tk))
    loop = loop_run.results[0]
    psums = lambda key: key[0] == "RegFile" and key[1] == "outputs"  # noqa: E731
    assert {k_: v for k_, v in loop.counts.items() if not psums(k_)} == {k_: v for k_, v in dense.counts.items() if not psums(k_)}
    macs = m * n * k
    assert dense.count("RegFile", "outputs", "fill") == dense.count("RegFile", "outputs", "update") == macs
    assert loop.count("RegFile", "outputs", "write") == loop.count("RegFile", "outputs", "read") == macs
    assert loop_run.summary["energy_pj"].iloc[0] == pytest.approx(dense_run.summary["energy_pj"].iloc[0], rel=1e-12)
