"""The benchmark command's row list and target verdicts (benchmarks/run_all.py; its timings are never tested)."""

from __future__ import annotations

import json

from benchmarks.run_all import (ENGINES, SCALE_CASES, TARGET_VGG_ROWS, _child, last_progress, network_rows, progress_line,
                                scale_outcome, scale_verdict, summary, verdict)
from energysim.api import hardware, workload
from energysim.engines import ENGINES as ENGINE_KINDS


def test_every_network_runs_on_every_engine_dense_and_pruned():
    """Table 2 has each network on every engine, and a pruned row on every non-A100 engine where a pruned workload exists."""
    rows = network_rows()
    for label in ("VGG-16", "ResNet-50", "BERT-base", "BERT block", "MobileNetV2"):
        assert {hw for lab, _, hw, _ in rows if lab == label} == set(ENGINES)
    pruned = {(wl, hw) for _, wl, hw, _ in rows}
    for wl in ("vgg16-han2015", "resnet50-2of4", "mobilenetv2-elsen2020"):
        assert {(wl, hw) for hw in ("lecture-array", "eie-64pe-lecture", "eyeriss-like-lecture")} <= pruned
    assert ("resnet50-2of4", "a100:sparse_2_4") in pruned
    assert set(TARGET_VGG_ROWS) <= pruned


def test_every_benchmarked_workload_is_bundled():
    """Every workload the network table names loads."""
    for wl in {wl for _, wl, _, _ in network_rows()}:
        assert workload(wl).layers


def test_verdict_states_the_factor_of_a_missed_upper_bound():
    """29.3 s against < 2 s is missed by 29.3 / 2."""
    assert verdict("EIE", 29.3, 2, "s") == "EIE < 2 s: 29.3 s, MISSED by 14.7x"


def test_verdict_states_the_margin_of_a_met_lower_bound():
    """A 25,000x ratio against >= 10,000x is met with 2.5x to spare; 5,000x is missed by 2x."""
    assert verdict("fast", 25_000, 10_000, "x", at_least=True) == "fast >= 10000x: 2.5e+04x, met with 2.5x to spare"
    assert verdict("fast", 5_000, 10_000, "x", at_least=True).endswith("MISSED by 2x")


def test_summary_says_not_measured_when_a_row_is_missing():
    """Without SCALE-Sim ratios or network rows every target reads 'not measured', never met."""
    lines = summary({}, {})
    assert len(lines) == 5
    assert all(line.endswith("not measured in this run") for line in lines)


def test_summary_sums_the_six_vgg_rows():
    """The VGG-16 total is the sum of the six target rows' CPU times (wall beside); the peak is their largest."""
    rows = {key: {"seconds": 3.0, "cpu_seconds": 1.0, "peak_mb": 100.0 + i} for i, key in enumerate(TARGET_VGG_ROWS)}
    lines = summary({}, rows)
    assert "total CPU < 10 s: 6 s, met with 1.67x to spare (wall 18 s)" in lines[1]
    assert "peak < 1024 MB: 105 MB" in lines[2]


def test_summary_judges_the_fast_path_on_the_smallest_large_ratio():
    """The 10,000x target takes the smallest SCALE-Sim / fast ratio at 512^3 and 1024^3 and names the sizes."""
    lines = summary({(256, "os"): (10.0, False), (512, "os"): (30_000.0, False), (512, "ws"): (20_000.0, False)}, {})
    assert lines[0].startswith("dense fast path vs SCALE-Sim at 512^3 (smallest of OS/WS) >= 10000x: 2e+04x, met")


def test_summary_treats_a_timed_out_scalesim_as_a_lower_bound():
    """A SCALE-Sim timeout bounds its ratio from below: met if the bound clears 10,000x, else not decided."""
    met = summary({(1024, "os"): (5e5, True), (512, "os"): (2e4, False)}, {})[0]
    assert "2e+04x, met" in met and "lower bound" not in met
    bound = summary({(1024, "os"): (5e4, True), (512, "os"): (2e5, False)}, {})[0]
    assert "5e+04x, met" in bound and bound.endswith("(a lower bound: SCALE-Sim over its timeout)")
    assert "not decided" in summary({(1024, "ws"): (5e3, True)}, {})[0]


def test_huge_inputs_run_on_every_engine():
    """Table 3 puts both huge inputs on every engine kind the package has."""
    kinds = {hardware(hw.split(":")[0]).engine_kind for _, _, hw in SCALE_CASES}
    assert kinds == set(ENGINE_KINDS)
    assert {what for what, _ in {(w, h) for _, w, h in SCALE_CASES}} == {"gemm65536", "vgg16-batch1024"}


def test_scale_verdict_counts_refusals_and_judges_the_peak():
    """An up-front refusal counts as bounded; the verdict is on the largest peak; a failed row leaves it undecided."""
    rows = {("g", "a"): {"peak_mb": 120.0, "refused": ""}, ("g", "b"): {"peak_mb": 90.0, "refused": "too big"}}
    assert scale_verdict(rows).endswith("120 MB, met with 4.17x to spare (1 simulated, 1 refused up front)")
    rows["v", "c"] = {"peak_mb": 900.0, "refused": ""}
    assert "MISSED by 1.8x" in scale_verdict(rows) and scale_verdict(rows).endswith("; over 500 MB: v on c)")
    rows["v", "d"] = {"error": "over 600 s"}
    assert "not decided" in scale_verdict(rows)


def _timed_out(peak_mb: float, layers_done: int) -> dict:
    """A table-3 row stopped at a 240 s wall timeout after its child reported ``peak_mb`` so far."""
    return {"error": "over 240 s", "over_seconds": 240.0,
            "so_far": {"cpu_seconds": 200.0, "peak_mb": peak_mb, "layers_done": layers_done, "layers": 16,
                       "macs_done_fraction": 0.25}}


def test_a_timed_out_row_under_the_bound_leaves_the_verdict_undecided():
    """A row stopped under 500 MB so far is named with its peak and layers; the verdict is not decided, never met."""
    rows = {("g", "a"): {"peak_mb": 120.0, "refused": ""}, ("vgg", "eie"): _timed_out(262.0, 4)}
    line = scale_verdict(rows)
    assert "not decided, largest finished 120 MB" in line
    assert "vgg on eie stopped at 262 MB so far after 4 of 16 layers" in line
    assert "met" not in line


def test_a_timed_out_row_over_the_bound_misses_the_target():
    """A peak only grows, so a row stopped at 900 MB so far misses the 500 MB target by 1.8x."""
    rows = {("g", "a"): {"peak_mb": 120.0, "refused": ""}, ("vgg", "eie"): _timed_out(900.0, 1)}
    assert "900 MB, MISSED by 1.8x" in scale_verdict(rows)


def test_a_timed_out_row_states_its_peak_so_far():
    """The outcome cell of a stopped row gives the timeout, the CPU time, the peak so far and the progress."""
    assert scale_outcome(_timed_out(262.0, 4)) == (
        "timed out after 240 s wall (200 CPU s), peak so far 262 MB (after 4 of 16 layers, 25% of the MACs)")


def test_last_progress_skips_the_line_cut_by_the_stop():
    """The last complete progress line wins; a line cut off by the kill and other output are skipped."""
    first, second = progress_line(0.0, 0, 0, 16, 100), progress_line(0.0, 1, 25, 16, 100)
    out = f"note\n{json.dumps(first)}\n{json.dumps(second)}\n{{\"progress\": {{\"cpu".encode()
    assert last_progress(out) == second["progress"]
    assert second["progress"]["macs_done_fraction"] == 0.25
    assert last_progress(b"no report\n") is None


def test_a_child_past_its_cpu_budget_stops_with_its_progress():
    """A table-3 child given 0 CPU s stops at its first progress tick and the row keeps its peak and progress."""
    row = _child(["-m", "benchmarks.run_all", "--child-scale", "vgg16-batch1024", "lecture-array-loopnest",
                  "--scale-cpu", "0"], timeout=600)
    assert row["error"] == "stopped at its budget of 0 CPU s"
    assert row["so_far"]["layers"] == 16 and row["so_far"]["layers_done"] < 16
    assert row["so_far"]["peak_mb"] > 0


def test_a_stopped_row_carries_the_engines_own_estimate():
    """A stopped EIE row names the engine's estimate of its largest layer in its cell and in the verdict."""
    row = _timed_out(262.0, 4)
    row["so_far"]["estimate_mb"] = 701.0
    note = "the engine's own estimate of its largest layer: 701 MB of arrays"
    assert scale_outcome(row).endswith(note)
    assert note in scale_verdict({("vgg", "eie"): row})


def test_help_shows_every_default(capsys):
    """`python -m benchmarks --help` states the defaults of --sizes, --dataflows, --timeout, --scale-cpu, --zigzag-timeout."""
    import pytest

    from benchmarks.run_all import main

    with pytest.raises(SystemExit):
        main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    for shown in ("(default: [64, 128, 256, 512, 1024])", "(default: ['os', 'ws'])", "(default: 600.0)",
                  "(default: 120.0)", "(default: 7200)"):
        assert shown in text


def test_benchmark_header_says_whether_numba_is_installed(monkeypatch):
    """The header names numba's state: without it EIE's targets are measured on the slower numpy path."""
    import sys

    from benchmarks.run_all import numba_status

    monkeypatch.setitem(sys.modules, "numba", None)  # import numba now raises ImportError
    assert numba_status().startswith("no: EIE runs its numpy path") and "pip install '.[fast]'" in numba_status()


def test_a_refused_network_row_gives_the_engines_sentence_not_a_traceback_line():
    """A network an engine refuses (BERT-base block on EIE) is a 'refused: ...' row, not an exception class name."""
    from benchmarks.run_all import measure_network

    row = measure_network("bert-base-block", "eie-64pe-lecture")
    assert row["error"].startswith("refused: ") and "UnsupportedError" not in row["error"]
