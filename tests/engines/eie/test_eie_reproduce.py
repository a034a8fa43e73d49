"""EIE paper reproduction: quick mode on two layers (fast) and the full run against the paper (slow)."""

from __future__ import annotations

import math

import pytest

from energysim.reproduce.eie import reproduce

COLUMNS = ("model", "paper", "ratio", "tolerance", "ok")

NEAR_LINEAR = "parallel efficiency vs linear: 'near-linear' (ours: >= 0.80; Fig. 11 values unpublished)"

KNOWN_MISMATCHES = {
    # Table III densities give less work than the paper's theoretical time for these two layers:
    # Alex-8 has 1000/64 < 16 rows per PE, so no padding is possible, yet the paper's theoretical
    # time is 1.19x the no-padding work; VGG-6's uniform-random padding (1.56x) is below the 1.91x
    # implied by the paper. See docs/engines/eie.md.
    ("EIE Table IV", "Alex-8", "actual"),
    ("EIE Table IV", "Alex-8", "theoretical"),
    ("EIE Table IV", "VGG-6", "actual"),
    ("EIE Table IV", "VGG-6", "theoretical"),
    # The authors' rule (slot freed when the pointer stage takes the activation, reusable a cycle
    # later): depth 1 leaves ~29 % idle, not ~half (the slot-held-until-finish reading gives ~60 %,
    # reported alongside).
    ("EIE queue-depth sweep", "start", "idle share at depth 1: 'around half'"),
    # (256 vs 64 PEs on FC7 left this set with the authors' timing: 3.67x vs the quoted 3.25x, within
    # 15 %, since the 4 cycles every lane gained weigh more in the shorter lanes of 256 PEs.)
    # Near-linear speed-up (our threshold: parallel efficiency >= 0.8) fails at 256 PEs for the
    # three layers with few rows per PE there: Alex-8 and VGG-8 (1000 rows: about 4 output rows per
    # PE) 0.68 and 0.65, NT-LSTM (2400 rows, 10 % density) 0.76. Each has ~1 entry per column per PE
    # and a third of its column slices empty (each still costs a cycle), the regime of NT-We at 64
    # PEs, which the paper exempts. See docs/engines/eie.md.
    ("EIE PE-count sweep", "Alex-8", NEAR_LINEAR),
    ("EIE PE-count sweep", "VGG-8", NEAR_LINEAR),
    ("EIE PE-count sweep", "NT-LSTM", NEAR_LINEAR),
    # Line reads happen every ~5.0 cycles (each processed column starts a new 64-bit line), not
    # every 8 cycles as the derivation of the per-read cost assumes from the paper's text.
    ("EIE power and energy", "per-PE power, SpmatRead (mW)"),
    ("EIE power and energy", "per-PE power, total (mW)"),
    ("EIE power and energy", "energy per AlexNet FC7 frame (uJ)"),
}
"""Rows that miss their tolerance, each for a reason stated in the docs; the slow test pins this set."""


SECTION_PREFIXES = ("EIE Table IV", "EIE load imbalance", "EIE work inflation", "EIE queue-depth sweep",
                    "EIE PE-count sweep", "EIE power and energy")


def _failures(sections):
    """(section prefix, *row keys) of every row whose ok is False (sweep depth / PE count left out)."""
    failed = set()
    for title, frame in sections:
        prefix = next(p for p in SECTION_PREFIXES if title.startswith(p))
        keys = [c for c in frame.columns if c not in COLUMNS and c not in ("depth", "n_pe")]
        for _, row in frame.iterrows():
            if row["ok"] is False:
                failed.add((prefix, *(str(row[k]) for k in keys)))
    return failed


def test_quick_mode_sections_and_key_figures():
    """Quick mode: six titled sections, Alex-7 and NT-We latency in 15 %, near-linear judged for Alex-7 only."""
    sections = reproduce(quick=True)
    assert len(sections) == 6
    for title, frame in sections:
        assert title.startswith("EIE")
        assert all(column in frame.columns for column in COLUMNS)
    table4 = sections[0][1]
    actual = table4[table4["quantity"] == "actual"].set_index("layer")
    assert bool(actual.loc["Alex-7", "ok"]) and bool(actual.loc["NT-We", "ok"])
    imbalance = sections[1][1].set_index("layer")
    assert imbalance.loc["worst layer", "model"] == "NT-We"
    for _, row in table4.iterrows():
        assert math.isclose(row["ratio"], row["model"] / row["paper"])
    sweep = sections[4][1]
    judged = sweep[sweep["quantity"] == NEAR_LINEAR]
    assert sorted(judged["n_pe"]) == [64, 256] and set(judged["layer"]) == {"Alex-7"}
    for _, row in judged.iterrows():
        assert row["paper"] == 1.0 and row["tolerance"] == 0.2
        assert row["ok"] == (row["model"] >= 0.8)
    nt_we = sweep[(sweep["layer"] == "NT-We") & (sweep["quantity"] == "parallel efficiency")]
    assert len(nt_we) == 3 and nt_we["ok"].isna().all()


@pytest.mark.slow
def test_full_reproduction_meets_tolerances_except_known_mismatches():
    """The full reproduction misses its fixed tolerances on exactly the documented rows, and meets all others."""
    sections = reproduce(quick=False)
    assert _failures(sections) == KNOWN_MISMATCHES


def test_layer_runs_equal_independent_simulations():
    """One layer's sweep, run layer by layer with its draw and tables reused, gives each run's cycles alone."""
    from energysim.reproduce.eie import _Bench, _simulate_layer

    runs = _simulate_layer(_Bench(("NT-We",)), "NT-We", (1, 8), (16, 64, 128))
    for n_pe, cycles in runs.pe_cycles.items():
        assert cycles == _Bench(("NT-We",)).run("NT-We", n_pe=n_pe).cycles["total"]
    for (freed, depth), (cycles, idle) in runs.queue.items():
        alone = _Bench(("NT-We",)).run("NT-We", queue_depth=depth, queue_slot_freed_at=freed)
        assert (cycles, idle) == (alone.cycles["total"], alone.stats["idle_share"])
    assert runs.base.cycles == _Bench(("NT-We",)).run("NT-We").cycles
