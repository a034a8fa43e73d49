"""sweep_findings on sparse loop-nest designs: the design file's own account of its zeros (issue 12, item 5)."""

from __future__ import annotations

import pandas as pd

import energysim
from energysim.engines import build_engine
from energysim.engines.loopnest.sparse_summary import zero_handling
from energysim.report.findings import loopnest_zero_handling, sweep_findings


def _rows(hardware: str, engine: str) -> pd.DataFrame:
    return pd.DataFrame([
        {"hardware": hardware, "run": hardware, "engine": engine, "pattern": "dense", "status": "ok", "energy_vs_dense": 1.0},
        {"hardware": hardware, "run": hardware, "engine": engine, "pattern": "channel", "status": "ok", "energy_vs_dense": 0.4},
        {"hardware": hardware, "run": hardware, "engine": engine, "pattern": "fine", "status": "ok", "energy_vs_dense": 1.0},
    ])


def test_sparse_loopnest_design_adds_its_own_sentence():
    """A compare table on eyeriss-like-gating carries the design's zero_handling sentence after its numbers."""
    expected = zero_handling(build_engine(energysim.hardware("eyeriss-like-gating")).config.sparse)
    lines = sweep_findings(_rows("eyeriss-like-gating", "loopnest"))
    assert len(lines) == 1 and lines[0].startswith("eyeriss-like-gating: best channel, energy 0.4 of dense")
    assert expected in lines[0]


def test_dense_design_or_unknown_file_adds_none():
    """A loop-nest design without [engine.sparse], and a hardware path that no longer loads, add no sentence."""
    assert loopnest_zero_handling("eyeriss-like") is None
    assert loopnest_zero_handling("/nonexistent/design.toml") is None
    assert sweep_findings(_rows("/nonexistent/design.toml", "loopnest"))[0].endswith("1 of dense at best")
