"""The CLI: exit codes, one-line errors, tables on stdout, atomic output files."""

from __future__ import annotations

import io
import json

from energysim.cli import main


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_costs_prints_lecture_table():
    """`energysim costs` prints the lecture's table with Operation, Energy [pJ], Relative Cost."""
    code, out, _ = run("costs")
    assert code == 0
    assert "| Operation | Energy [pJ] | Relative Cost |" in out
    assert "| 32-bit DRAM access | 640 | 6,400 |" in out


def test_costs_json_and_hw():
    """`costs --format json` is valid JSON; `costs --hw` lists every level and unit with a source."""
    code, out, _ = run("costs", "--table", "horowitz-45nm", "--format", "json")
    assert code == 0 and len(json.loads(out)) == 12
    code, out, _ = run("costs", "--hw", "lecture-array", "--format", "csv")
    assert code == 0
    assert "GlobalBuffer,sram,read,32,5.0" in out and "MAC,unit,mult,32,3.7" in out


def test_run_writes_tables(tmp_path):
    """`energysim run HW WORKLOAD --out DIR` prints per-layer rows and writes energy and summary files."""
    code, out, err = run("run", "lecture-array", "lenet-300-100", "--out", str(tmp_path), "--format", "json")
    assert code == 0, err
    assert "| fc1 |" in out and "total:" in out
    rows = json.loads((tmp_path / "energy.json").read_text())
    assert {"layer", "component", "tensor", "action", "count", "pj_per_action", "energy_pj", "source"} <= set(rows[0])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["energy.json", "summary.json"]


def test_bad_arguments_exit_2_one_line():
    """Unknown subcommand, unknown hwconfig and a bad choice each exit 2 with one line and no traceback."""
    for argv in (["nope"], ["run", "no-such-hw", "vgg16"], ["list", "things"], ["costs", "--bits", "x"]):
        code, out, err = run(*argv)
        assert code == 2, argv
        assert err.startswith("energysim: ") and err.count("\n") == 1, err
        assert "Traceback" not in err


def test_list_names_bundled_files():
    """`energysim list` shows engines, tables, hwconfigs and workloads."""
    assert "dense" in run("list", "engines")[1].split()
    assert "lecture-45nm" in run("list", "tables")[1].split()
    assert "lecture-array" in run("list", "hwconfigs")[1].split()
    assert "vgg16" in run("list", "workloads")[1].split()


def test_run_failure_leaves_no_output(tmp_path):
    """A run that fails on bad input writes nothing to --out."""
    target = tmp_path / "out"
    code, _, err = run("run", "lecture-array", str(tmp_path / "missing.toml"), "--out", str(target))
    assert code == 2 and "does not exist" in err
    assert not target.exists()


def test_engine_option_unknown_to_engine_is_refused():
    """`run --mode` on an engine without modes exits 2 naming the engine and the options it takes."""
    code, _, err = run("run", "lecture-array", "gemm-square", "--mode", "sparse_2_4")
    assert code == 2
    assert "engine 'dense' of hardware 'lecture-array' has no option 'mode' (it takes: path)" in err


def test_run_mode_reaches_the_sparse_tensor_core():
    """`run a100 --mode sparse_2_4` runs the 2:4 mode: fewer MACs issued than dense mode."""
    dense = run("run", "a100", "gemm-square")
    sparse = run("run", "a100", "gemm-square", "--mode", "sparse_2_4")
    assert dense[0] == sparse[0] == 0
    assert dense[1] != sparse[1]
