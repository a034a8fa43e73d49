"""`energysim reproduce a100`: every like-for-like row meets its tolerance, or is a declared miss with its reason.

The reproduction runs once per module (a fixture, not at collection time). Declared misses are
strict xfails, grouped by cause, each group's reason in its test's docstring: if the model changes
so that one passes, the test fails and the declaration must be revisited.
"""

from __future__ import annotations

import pandas as pd
import pytest

from energysim.reproduce.a100 import COLUMNS, DECLARED_MISS_PREFIXES, DECLARED_MISSES, declared_miss_reason, reproduce

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
_SMALL_N = "pr90119_cusparselt_768x3072x3072 2:4 speed-up (cusparselt, m=768 n=3072 k=3072)"
_CLS57 = "cls57_4096cubed 2:4 speed-up (cusparselt, m=4096 n=4096 k=4096)"
KERNEL_MODEL_MISSES = (
    f"{_SMALL_N}/kernel model, fitted",
    f"{_SMALL_N}/kernel model, held out (leave-one-out)",
    f"{_SMALL_N}/kernel model, held out (leave-one-shape-out)",
    f"{_CLS57}/kernel model, full fit",
    f"{_CLS57}/kernel model, held out (not in the fit)",
    "gemv_4096x4096 2:4 speed-up (cusparselt, m=4096 n=1 k=4096)/kernel model, held out (not in the fit)",
    "cutlass408_16384cubed 2:4 effective TFLOPS (cutlass)/kernel model, held out (not in the fit)",
)
KNOWN_MISSES = set(SPEEDUP_CALIBRATION_MISSES + SMALL_SHAPE_MISSES + DENSE_VALIDATION_MISSES + ENERGY_MISSES
                   + KERNEL_MODEL_MISSES)
BERT_BATCH_4 = "BERT-base bs 4 x seq 384 end-to-end 2:4 speed-up"


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
    assert len(sections) == 11
    for title, frame in sections:
        assert title and list(frame.columns) == list(COLUMNS) and len(frame) > 0


def test_every_declared_miss_exists(rows):
    """Each declared miss names a real checked row (so a renamed row cannot silently drop out of the list)."""
    assert KNOWN_MISSES <= set(rows)
    assert all(rows[key]["ok"] is not None for key in KNOWN_MISSES)
    assert len([key for key, r in rows.items() if key.startswith(BERT_BATCH_4) and r["ok"] is not None]) == 1


def test_printed_declarations_are_the_tested_ones(rows):
    """The reasons energysim reproduce a100 prints (DECLARED_MISSES) cover exactly the misses declared here."""
    assert set(DECLARED_MISSES) == KNOWN_MISSES
    assert set(DECLARED_MISS_PREFIXES) == {BERT_BATCH_4}
    printed = [r for key, r in rows.items() if r["source"].startswith("declared miss: ")]
    assert len(printed) == len(KNOWN_MISSES) + 1 and all(r["ok"] is None for r in printed)


def test_every_other_row_meets_its_tolerance(rows):
    """Every like-for-like row that is not a declared miss has ok True (informative rows have ok None)."""
    failing = [key for key, row in rows.items() if row["ok"] is not None and not row["ok"] and declared_miss_reason(key) is None]
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
    """SM.static_cycle's power_w is (400 W - modelled dynamic power of dense 3072x3072x10240 at the hardware bound) / 108 SMs.

    At 1.41 GHz one SM-cycle then costs static_w / (108 x 1.41 GHz). The derivation carries 6
    significant digits, hence rel 1e-5; the dense dynamic power is recomputed from the model's
    own counts, so a change to any energy or count that moves it fails here.
    """
    from energysim.catalog import hwconfig_path
    from energysim.config.loading import load_toml
    from energysim.engines.sparse_tc.engine import STATIC_UNIT
    from energysim.reproduce.a100 import _hardware, static_energy_derivation

    derivation = static_energy_derivation()
    assert derivation["static_w"] == pytest.approx(derivation["board_w"] - derivation["dynamic_w"])
    (unit,) = [u for u in load_toml(hwconfig_path("a100"))["units"] if (u["name"], u["action"]) == STATIC_UNIT]
    assert derivation["static_w_per_sm"] == pytest.approx(derivation["static_w"] / 108)
    assert unit["power_w"] == pytest.approx(derivation["static_w_per_sm"], rel=1e-5)
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


@pytest.mark.xfail(strict=True, reason="declared miss: the kernel model misses these measured 2:4 rows")
@pytest.mark.parametrize("key", KERNEL_MODEL_MISSES)
def test_kernel_model_declared_miss(rows, key):
    """Kernel-model 2:4 rows outside 0.15 of the measured speed-up (or 15% of the measured throughput).

    Reasons: cuSPARSELt 768x3072x3072 is the fit set's only one-wave shape (288 tiles): its modelled 2:4 time fits
    (51.9 vs 51.5 us) but the modelled dense time is 9.5% short (68.9 vs 76.1 us), so the speed-up lands
    0.15-0.18 low (the CUTLASS twin is short on both sides alike and passes); CLS#57 is its own 2022 set-up (cuSPARSELt
    sample vs the CUTLASS profiler's dense kernel); the GEMV is the only padded row, so without it the
    padded-call cost is unknown; CUTLASS#408's 484 TFLOPS is the profiler's best kernel at a locked clock,
    not the configuration PyTorch's CUTLASS path ran in the fitted rows.
    """
    assert bool(rows[key]["ok"])


@pytest.mark.xfail(strict=True, reason="declared miss: BERT-base at batch 4 loses end to end outside the GEMM kernels")
def test_bert_batch_4_end_to_end_declared_miss(rows):
    """BERT-base batch 4: measured 0.71x end to end, model 1.00x.

    Reason: the measured 2:4 run is 4.4 ms slower than dense, while the 72 modelled linears are 0.05 ms
    faster; the loss lies outside the GEMM kernels, and the model puts no per-call cost on unpadded
    inputs (a fixed cost large enough for this would break batch 16, where 2:4 is 1.23x faster).
    """
    (key,) = [key for key, r in rows.items() if key.startswith(BERT_BATCH_4) and r["ok"] is not None]
    assert bool(rows[key]["ok"])


def test_bert_end_to_end_rows_hold_at_batch_16_and_up(rows):
    """The kernel model keeps BERT-base's measured end-to-end 2:4 speed-ups at batch 16, 64 and 256 within 0.15."""
    bert = {key: r for key, r in rows.items() if key.startswith("BERT-base bs ") and "end-to-end" in key
            and not key.startswith(BERT_BATCH_4) and not r["source"].startswith("declared miss")}
    assert len(bert) == 3 and all(r["ok"] for r in bert.values())


def test_kernel_model_constants_are_the_fit():
    """hwconfigs/a100.toml [engine.kernel_model] equals full_fit() to rel 1e-3 (typed values are rounded)."""
    from energysim.reproduce.a100 import _engine
    from energysim.reproduce.a100_kernel_fit import full_fit

    configured, fitted = _engine().config.kernel_model, full_fit()
    assert configured.mma_efficiency == pytest.approx(fitted.mma_efficiency, rel=1e-3)
    assert configured.dense.wave_overhead_cycles == pytest.approx(fitted.dense.wave_overhead_cycles, rel=1e-3)
    assert configured.padded_call_cycles == pytest.approx(fitted.padded_call_cycles, rel=1e-3)
    for library, constants in fitted.sparse.items():
        assert configured.sparse[library].operand_efficiency == pytest.approx(constants.operand_efficiency, rel=1e-3)
        assert configured.sparse[library].wave_overhead_cycles == pytest.approx(constants.wave_overhead_cycles, rel=1e-3)


def test_held_out_rows_are_predicted_without_themselves():
    """A leave-one-out prediction really drops its row: refitting on all rows but TUT moves TUT's predicted speed-up."""
    from energysim.reproduce.a100_kernel_fit import fit_table

    table = fit_table().set_index("row")
    tut = table.loc["tut_3072x3072x10240"]
    assert tut["in_fit"] and tut["held_out"] != tut["fitted"]
    assert tut["shape_out"] == tut["held_out"]  # no other row shares TUT's dense measurement
    twin = table.loc["pr90119_cutlass_3072x49152x768"]
    assert twin["shape_out"] != twin["held_out"]  # its cuSPARSELt twin (same dense time) leaves the fit too
    gemv = table.loc["gemv_4096x4096"]
    assert gemv["fitted"] < 1 < gemv["held_out"]  # the padded-call cost comes from this row alone


def test_every_ok_cell_prints_yes_no_or_blank():
    """A section mixing judged and informative rows prints its ok column as yes / no / blank, like all-judged ones."""
    from energysim.reproduce.a100 import _frame, _row
    from energysim.report.terminal import render_table

    frame = _frame([_row("a", "hardware bound", 1.0, 2.0, "", None, "s"),
                    _row("b", "fitted", 1.0, 1.0, "within 0.15", True, "s"),
                    _row("c", "fitted", 1.0, 2.0, "within 0.15", False, "s")])
    lines = render_table(frame[["quantity", "ok"]], wide=True).splitlines()
    assert [line.split()[1:] for line in lines[-3:]] == [[], ["yes"], ["no"]]


def test_declared_reasons_quote_the_figures_the_model_gives():
    """The figures the declared-miss reasons quote (small-N times and errors, CLS#57 1.71x, GEMV 1.22x, BERT batch 4,
    efficiency 0.805) are the ones the fit and the engine compute now, to the digits quoted."""
    from energysim.reproduce.a100 import DECLARED_MISS_PREFIXES, _engine
    from energysim.reproduce.a100_kernel_fit import BERT_EAGER_MS, bert_linear_ms, fit_table

    table = fit_table().set_index("row")
    small = table.loc["pr90119_cusparselt_768x3072x3072"]
    reason = DECLARED_MISSES[f"{_SMALL_N}/kernel model, fitted"]
    assert f"{small['sparse_fitted_us']:.1f} vs {small['sparse_us']:.1f} us" in reason  # 51.9 vs 51.5
    assert f"{small['dense_fitted_us']:.1f} vs {small['dense_us']:.1f} us" in reason  # 68.9 vs 76.1
    assert f"{100 * (1 - small['dense_fitted_us'] / small['dense_us']):.1f}% short" in reason
    errors = [small[c] for c in ("fitted_error", "held_out_error", "shape_out_error")]
    assert "0.15-0.18 low" in reason and all(-0.185 <= e <= -0.15 for e in errors)
    twin = [table.loc["pr90119_cutlass_768x3072x3072"][c] for c in ("fitted_error", "held_out_error", "shape_out_error")]
    assert "0.03-0.06 high" in reason and all(0.025 <= e < 0.065 for e in twin)
    assert f"predict {table.loc['cls57_4096cubed', 'fitted']:.2f}x" in DECLARED_MISSES[f"{_CLS57}/kernel model, full fit"]
    gemv = "gemv_4096x4096 2:4 speed-up (cusparselt, m=4096 n=1 k=4096)/kernel model, held out (not in the fit)"
    assert f"says {table.loc['gemv_4096x4096', 'held_out']:.2f}x, not {table.loc['gemv_4096x4096', 'measured']:.2f}x" \
        in DECLARED_MISSES[gemv]
    dense_ms, sparse_ms = BERT_EAGER_MS[4]
    linear_dense, linear_sparse = bert_linear_ms(4)
    bert = DECLARED_MISS_PREFIXES[BERT_BATCH_4]
    assert f"{sparse_ms - dense_ms:.1f} ms slower" in bert and f"({dense_ms / sparse_ms:.2f}x)" in bert
    assert f"{linear_dense - linear_sparse:.2f} ms faster" in bert
    efficiency = DECLARED_MISSES["cls57_4096cubed dense FP16 TFLOPS/library-calibrated"]
    assert f"efficiency to {_engine().config.kernel_efficiency:.3f}" in efficiency
