"""`energysim reproduce a100`: every like-for-like row meets its tolerance, or is a declared miss with its reason.

The reproduction runs once per module (a fixture, not at collection time). Declared misses are
strict xfails, grouped by cause, each group's reason in its test's docstring: if the model changes
so that one passes, the test fails and the declaration must be revisited.
"""

from __future__ import annotations

import pandas as pd
import pytest

from energysim.reproduce.a100 import COLUMNS, reproduce

SPEEDUP_CALIBRATION_MISSES = (
    "tut_3072x3072x10240 2:4 speed-up/library-calibrated",
    "cls57_4096cubed 2:4 speed-up/library-calibrated",
    "cls57_4096cubed 2:4 speed-up/library-calibrated, 2:4 kernels fitted separately (efficiency 0.557)",
)
SMALL_SHAPE_MISSES = ("gemv_4096x4096 2:4 speed-up vs measured/library-calibrated",)
DENSE_VALIDATION_MISSES = ("cls57_4096cubed dense FP16 TFLOPS/library-calibrated",)
ENERGY_MISSES = tuple(
    f"{shape} energy ratio dense/2:4 vs speed-up/{figure}"
    for shape in ("small_k_4096x4096x64", "small_batch_4096x4096_b16", "gemv_4096x4096")
    for figure in ("hardware bound", "library-calibrated")
)
KNOWN_MISSES = set(SPEEDUP_CALIBRATION_MISSES + SMALL_SHAPE_MISSES + DENSE_VALIDATION_MISSES + ENERGY_MISSES)


@pytest.fixture(scope="module")
def sections() -> list[tuple[str, pd.DataFrame]]:
    """The full reproduction (VGG-16 included), computed once for the module."""
    return reproduce(quick=False)


@pytest.fixture(scope="module")
def rows(sections) -> dict[str, dict]:
    """Every row by ``quantity/figure``."""
    return {f"{r['quantity']}/{r['figure']}": r for _, frame in sections for r in frame.to_dict("records")}


def test_sections_have_the_contract_columns(sections):
    """Every section is titled and has quantity, figure, model, published, ratio, tolerance, ok, source."""
    assert len(sections) == 8
    for title, frame in sections:
        assert title and list(frame.columns) == list(COLUMNS) and len(frame) > 0


def test_every_declared_miss_exists(rows):
    """Each declared miss names a real checked row (so a renamed row cannot silently drop out of the list)."""
    assert KNOWN_MISSES <= set(rows)
    assert all(rows[key]["ok"] is not None for key in KNOWN_MISSES)


def test_every_other_row_meets_its_tolerance(rows):
    """Every like-for-like row that is not a declared miss has ok True (informative rows have ok None)."""
    failing = [key for key, row in rows.items() if row["ok"] is not None and not row["ok"] and key not in KNOWN_MISSES]
    assert failing == []


@pytest.mark.xfail(strict=True, reason="declared miss: library 2:4 kernels are slower than one efficiency predicts")
@pytest.mark.parametrize("key", SPEEDUP_CALIBRATION_MISSES)
def test_library_calibrated_speedup_declared_miss(rows, key):
    """Library-calibrated 2:4 speed-ups miss the measured 1.38x / 1.11x.

    Reason: the calibration scales the mma rate of both kernels by the dense efficiency, but the
    measured sparse kernels reach about 49% of the sparse peak vs 71% dense; fitting the 2:4 kernels
    separately on TUT (0.557) then predicts 1.38x at 4096^3 against the measured 1.11x, so one
    efficiency per kernel family does not carry across sizes either.
    """
    assert bool(rows[key]["ok"])


@pytest.mark.xfail(strict=True, reason="declared miss: the model has no fixed per-call cost of the 2:4 path")
@pytest.mark.parametrize("key", SMALL_SHAPE_MISSES)
def test_gemv_speedup_vs_measured_declared_miss(rows, key):
    """The modelled GEMV 2:4 speed-up (1.74x) is far from the measured 0.111x slowdown.

    Reason: the measured sparse GEMV takes 0.196 ms for 4096x4096 weights, about 15x its HBM
    time; the model times the kernel alone (weight bytes, fill and drain) and has no fixed
    per-call cost of the library path (padding the 1-wide input to 32, launch, slicing), so it
    cannot say "slower" here. A fixed cost of about 0.2 ms per call would fit the three measured
    single GEMMs, but the same tutorial's BERT runs (72 linears, 2:4 faster end to end at batch 16)
    rule out 0.2 ms per call there, so no such constant is put into the model.
    """
    assert bool(rows[key]["ok"])


@pytest.mark.xfail(strict=True, reason="declared miss: whole-wave quantisation raises the fitted dense efficiency")
@pytest.mark.parametrize("key", DENSE_VALIDATION_MISSES)
def test_dense_validation_declared_miss(rows, key):
    """Calibrated dense 4096^3 lands at about 235 TFLOPS, above the 220-230 band.

    Reason: with issue 6's rule (a partial wave costs a whole wave) the calibration shape
    3072x3072x10240 runs 288 tiles of 128x256 on 108 SMs, 2.67 waves charged as 3, so the fitted
    kernel efficiency rises to about 0.805 and carries to 4096^3, which loses less to waves. With
    ``partial_wave = "per_sm_tiles"`` the validation passes (227 TFLOPS at efficiency 0.738).
    """
    assert bool(rows[key]["ok"])


@pytest.mark.xfail(strict=True, reason="declared miss: energy ratio above speed-up where time is not math")
@pytest.mark.parametrize("key", ENERGY_MISSES)
def test_energy_ratio_declared_miss(rows, key):
    """Energy ratio exceeds the speed-up on the small-K, small-batch and GEMV shapes (both figures).

    Reason: there the time is fill/drain latency (small K: speed-up 1.005) or HBM weight bytes
    (ratio at most 16/9, diluted by fixed latency), while the dynamic energy still halves the
    tensor-core multiplies and their register/shared-memory operand traffic, which cost no time
    there. Static energy (charged per SM-cycle) pulls the ratio toward the speed-up but cannot put
    it below: (S*Td + Dd)/(S*Ts + Ds) < Td/Ts exactly when Dd/Ds < Td/Ts. On the compute-bound
    GEMMs (TUT, 4096^3, the BERT layers) the ratio is now below the speed-up: the time-optimal
    dense tile there is 128x256 with little L2 traffic, and static energy follows time.
    """
    assert bool(rows[key]["ok"])


def test_kernel_efficiency_is_the_dense_fit():
    """hwconfigs/a100.toml's kernel_efficiency equals fit_kernel_efficiency on TUT's dense time to 1e-3 (typed value is rounded)."""
    from energysim.reproduce.a100 import _engine, fit_kernel_efficiency

    assert _engine().config.kernel_efficiency == pytest.approx(fit_kernel_efficiency("tut_3072x3072x10240", "dense"), abs=1e-3)


def test_static_energy_is_derived_from_the_board_power():
    """SM.static_cycle equals (400 W - modelled dynamic power of dense 3072x3072x10240 at the hardware bound) / (108 x 1.41 GHz).

    The TOML carries 6 significant digits, hence rel 1e-5; the dense dynamic power is recomputed
    from the model's own counts, so a change to any energy or count that moves it fails here.
    """
    from energysim.engines.sparse_tc.engine import STATIC_UNIT
    from energysim.reproduce.a100 import _hardware, static_energy_derivation

    derivation = static_energy_derivation()
    assert derivation["static_w"] == pytest.approx(derivation["board_w"] - derivation["dynamic_w"])
    expected = derivation["static_w"] / (108 * 1.41e9) * 1e12
    assert derivation["static_pj_per_sm_cycle"] == pytest.approx(expected)
    assert _hardware().unit_costs[STATIC_UNIT].energy_pj == pytest.approx(expected, rel=1e-5)


def test_compare_modes_totals_add_up():
    """compare_modes' total row is the sum of its layers and its ratios are total dense / total sparse."""
    from energysim.reproduce.a100 import compare_modes
    from energysim.workloads.layers import GemmLayer

    frame = compare_modes([GemmLayer(name="a", m=512, n=512, k=512), GemmLayer(name="b", m=1024, n=64, k=2048)])
    total = frame.iloc[-1]
    assert total["layer"] == "total"
    assert total["dense_us"] == pytest.approx(frame["dense_us"].iloc[:-1].sum())
    assert total["energy_ratio"] == pytest.approx(frame["dense_uj"].iloc[:-1].sum() / frame["sparse_uj"].iloc[:-1].sum())
    assert (frame["speedup_hw"] > 1).all()
