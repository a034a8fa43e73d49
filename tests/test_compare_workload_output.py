"""compare --workload: what its rows and notes say about the baseline they are measured against."""

from __future__ import annotations

import io

from energysim import api
from energysim.cli import main
from energysim.errors import UnsupportedError
from energysim.workload_compare import _figures


def test_an_already_pruned_baseline_is_named_in_the_note(tmp_path):
    """On a workload already 80 % sparse, compare says its 'dense' baseline is the workload as given, not a dense model."""
    out, err = io.StringIO(), io.StringIO()
    argv = ["compare", "--workload", "pruned/mlp-digits-fine-80", "--hw", "lecture-array", "--patterns", "fine",
            "--sparsities", "0.5", "--criteria", "magnitude", "--out", str(tmp_path / "c"), "--quiet"]
    assert main(argv, out=out, err=err) == 0, err.getvalue()
    text = " ".join(out.getvalue().split())
    assert "The baseline rows (pattern dense) are the workload as given, already 80.0 % sparse" in text


def test_a_refusal_of_the_dense_run_only_is_named_as_such():
    """A point whose dense run was refused says 'the dense original'; a refused pruned run keeps its own reason."""
    ran = api.simulate("lecture-array", "lenet-300-100")
    assert _figures(UnsupportedError("too dense"), ran)["status"] == "unsupported: the dense original: too dense"
    assert _figures(UnsupportedError("too dense"), UnsupportedError("not 2:4"))["status"] == "unsupported: not 2:4"
    assert _figures(ran, UnsupportedError("not 2:4"))["status"] == "unsupported: not 2:4"


def test_compare_workload_rows_carry_the_timing_note(tmp_path):
    """compare --workload on a100:sparse_2_4 prints the run's timing note and writes it in compare.csv; one refusal is '1 point'."""
    import pandas as pd

    out, err = io.StringIO(), io.StringIO()
    argv = ["compare", "--workload", "pruned/mlp-digits-fine-80", "--hw", "a100:sparse_2_4", "--patterns", "fine,nm:2:4",
            "--sparsities", "0.5", "--criteria", "magnitude", "--out", str(tmp_path / "c"), "--quiet"]
    assert main(argv, out=out, err=err) == 0, err.getvalue()
    assert "note: a100:sparse_2_4 is timed at the hardware bound" in out.getvalue()
    assert "1 point could not run: 1 unsupported" in " ".join(out.getvalue().split())
    frame = pd.read_csv(tmp_path / "c" / "compare.csv")
    ok = frame[frame["status"] == "ok"]
    assert ok["note"].str.startswith("a100:sparse_2_4 is timed at the hardware bound").all()


def test_energy_aware_rows_show_their_budget_as_target():
    """In compare's table an energy-aware row's target reads 'budget 0.5' (it was blank), other rows keep their percent."""
    import pandas as pd

    from energysim.cli import COMPARE_SHOWN, _budget_targets
    from energysim.report.terminal import render_table

    frame = pd.DataFrame({"pattern": ["fine", "energy_aware"], "criterion": ["magnitude", "energy-aware"],
                          "sparsity_target": [0.5, float("nan")], "run": ["eie", "eie"], "status": ["ok", "ok"],
                          "accuracy": [0.97, 0.96], "energy_vs_dense": [0.7, 0.49], "latency_vs_dense": [0.7, 0.5],
                          "energy_pj": [1.0, 1.0], "latency_s": [1.0, 1.0], "sparsity_measured": [0.5, 0.6],
                          "storage_vs_dense": [0.5, 0.4], "accuracy_before_finetune": [0.9, 0.9],
                          "cycles_total": [1, 1], "energy_budget": [float("nan"), 0.5]})
    rows = render_table(*_budget_targets(frame, COMPARE_SHOWN), wide=True).splitlines()[2:]
    assert " 50.0 % " in rows[0] and " budget 0.5 " in rows[1]
    assert _budget_targets(frame.drop(columns="energy_budget"), COMPARE_SHOWN)[1] == COMPARE_SHOWN
