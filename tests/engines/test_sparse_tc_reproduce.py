"""`energysim reproduce a100`: every row that is a like-for-like check meets its tolerance, or is a declared miss.

Declared misses (see docs/engines/sparse_tc.md, "What does not match"): the library-calibrated
2:4 speed-ups of the two measured GEMMs (model ~1.8-1.9x vs measured 1.38x and 1.11x), the
4096^3 validation of the separately fitted 2:4 kernel efficiency (1.43x vs 1.11x), and the
issue's expectation that the energy ratio stays below the speed-up on the large, small-K,
bandwidth-bound and BERT FFN-up GEMMs (the model halves MAC energy while shared-memory bandwidth keeps the
speed-up below 2). They are xfail(strict=True): if the model changes so that one passes, the
test fails and the declaration must be revisited.
"""

from __future__ import annotations

import pandas as pd
import pytest

from energysim.reproduce.a100 import COLUMNS, reproduce

KNOWN_MISSES = {
    "tut_3072x3072x10240 2:4 speed-up/library-calibrated",
    "cls57_4096cubed 2:4 speed-up/library-calibrated",
    "cls57_4096cubed 2:4 speed-up/library-calibrated, 2:4 kernels fitted separately (efficiency 0.557)",
    "tut_3072x3072x10240 energy ratio dense/2:4 vs speed-up/hardware bound",
    "cls57_4096cubed energy ratio dense/2:4 vs speed-up/hardware bound",
    "small_k_4096x4096x64 energy ratio dense/2:4 vs speed-up/hardware bound",
    "small_batch_4096x4096_b16 energy ratio dense/2:4 vs speed-up/hardware bound",
    "gemv_4096x4096 energy ratio dense/2:4 vs speed-up/hardware bound",
    "bert_ffn1 energy ratio dense/2:4 vs speed-up/hardware bound",
}


@pytest.fixture(scope="module")
def sections() -> list[tuple[str, pd.DataFrame]]:
    """The full reproduction (VGG-16 included)."""
    return reproduce(quick=False)


def _rows():
    out = []
    for title, frame in reproduce(quick=True):
        for record in frame.to_dict("records"):
            if record["ok"] is None:
                continue
            key = f"{record['quantity']}/{record['figure']}"
            marks = [pytest.mark.xfail(strict=True, reason="declared miss")] if key in KNOWN_MISSES else []
            out.append(pytest.param(record, id=key, marks=marks))
    return out


def test_sections_have_the_contract_columns(sections):
    """Every section is titled and has quantity, figure, model, published, ratio, tolerance, ok, source."""
    assert len(sections) == 8
    for title, frame in sections:
        assert title and list(frame.columns) == list(COLUMNS) and len(frame) > 0


def test_every_declared_miss_exists(sections):
    """Each declared miss names a real row (so a renamed row cannot silently drop out of the list)."""
    keys = {f"{q}/{f}" for _, frame in sections for q, f in zip(frame["quantity"], frame["figure"])}
    assert KNOWN_MISSES <= keys


@pytest.mark.parametrize("record", _rows())
def test_row_meets_its_tolerance(record):
    """A like-for-like row's ok flag is True (declared misses are strict xfails)."""
    assert bool(record["ok"])


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
