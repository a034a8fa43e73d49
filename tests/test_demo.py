"""The demo prints one aligned row per (pattern, run) and the report's own findings."""

from __future__ import annotations

import io

from energysim.demo import run_demo
from energysim.report.findings import sweep_findings


def test_demo_keeps_runs_apart_and_says_what_the_report_says(tmp_path):
    """Each pattern has a row on a100:dense and on a100:sparse_2_4; the findings are sweep_findings' sentences."""
    out = io.StringIO()
    frame = run_demo(tmp_path, out, quick=True, progress=False)
    text = out.getvalue()
    lines = text.splitlines()
    for pattern in ("fine", "nm:2:4", "channel"):
        rows = [line for line in lines if line.startswith(f"{pattern} ")]
        assert sum(" a100:dense " in line for line in rows) == 1 and sum(" a100:sparse_2_4 " in line for line in rows) == 1
    findings = sweep_findings(frame)
    assert findings and all(f"- {line}" in lines for line in findings)
    assert any(line.startswith("a100:sparse_2_4: ") for line in findings)
    assert "|" not in text  # an aligned table, not Markdown
    report = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "a100:sparse_2_4" in report
    assert "reused" not in text
    again = io.StringIO()
    run_demo(tmp_path, again, quick=True, progress=False)  # the second run in the same folder says what it reused
    assert f"reused {len(frame)} of {len(frame)} results" in again.getvalue()
