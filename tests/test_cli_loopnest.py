"""The loop-nest commands through energysim.cli.main: `map` and `import-timeloop`."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest

from energysim.cli import main

TIMELOOP = Path(__file__).resolve().parent / "data" / "timeloop" / "ex03"


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_map_writes_a_mapping_that_run_reproduces(tmp_path):
    """`map --out` prints the layer's report, writes mapping.toml + mapper.csv, and `run --mapping` gives the same energy."""
    code, out, err = run("map", "lecture-array-loopnest", "lenet-300-100", "--objective", "edp",
                         "--out", str(tmp_path), "--quiet")
    assert code == 0, err
    assert "fc3 on lecture-array-loopnest: edp search" in out and "best:" in out and err == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mapper.csv", "mapping.toml"]
    table = pd.read_csv(tmp_path / "mapper.csv")
    assert list(table["layer"]) == ["fc1", "fc2", "fc3"] and set(table["objective"]) == {"edp"}
    assert set(table["energy_unit"]) == {"pJ"}
    code, out, err = run("run", "lecture-array-loopnest", "lenet-300-100", "--mapping", str(tmp_path / "mapping.toml"),
                         "--out", str(tmp_path / "r"), "--quiet")
    assert code == 0, err
    summary = pd.read_csv(tmp_path / "r" / "summary.csv")
    assert list(summary["energy_pj"]) == pytest.approx(list(table["energy_pj"]), rel=1e-9)
    assert list(summary["cycles_total"]) == list(table["cycles"])


def test_map_refusals_are_one_line(tmp_path):
    """A dense hardware, an unknown layer, a bad objective and a used --out folder each exit 2 in one line."""
    (tmp_path / "mapping.toml").write_text("x")
    cases = {
        ("map", "lecture-array", "lenet-300-100"): "engine kind 'dense'; the mapper needs kind = \"loopnest\"",
        ("map", "lecture-array-loopnest", "lenet-300-100", "--layers", "fc9"): "no layer 'fc9' (it has: fc1, fc2, fc3)",
        ("map", "lecture-array-loopnest", "lenet-300-100", "--objective", "power"): "invalid choice: 'power'",
        ("map", "lecture-array-loopnest", "lenet-300-100", "--processes", "0"): "must be an integer >= 1 (got 0)",
        ("map", "lecture-array-loopnest", "lenet-300-100", "--out", str(tmp_path)): "already exists",
    }
    for argv, message in cases.items():
        code, out, err = run(*argv)
        assert code == 2 and err.count("\n") == 1 and message in err, (argv, err)
    assert (tmp_path / "mapping.toml").read_text() == "x"


def test_map_help_lists_objectives_default_and_example():
    """`map --help` lists the objectives, the default and a runnable example."""
    code, out, _ = run("map", "--help")
    assert code == 0
    assert "{energy,latency,edp}" in out and "(default: energy)" in out
    assert "seed of the sampled search (default: 0)" in " ".join(out.split())
    assert "example:\n  energysim map lecture-array-loopnest" in out


def test_import_timeloop_writes_the_three_files_and_says_what_next(tmp_path):
    """`import-timeloop FILES -o DIR` writes hardware, workload and mapping TOML and prints the run command."""
    pytest.importorskip("yaml")
    files = [str(TIMELOOP / name) for name in ("arch.yaml", "prob.yaml", "ERT.yaml", "map-bypass.yaml")]
    code, out, err = run("import-timeloop", *files, "-o", str(tmp_path / "d"))
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "d").iterdir()) == ["hardware.toml", "mapping.toml", "workload.toml"]
    assert f"--mapping {tmp_path / 'd' / 'mapping.toml'} --compat timeloop" in out
    assert f"note: mapping: from {TIMELOOP / 'map-bypass.yaml'}" in out and "note: clock: " in out
    code, _, err = run("validate", str(tmp_path / "d" / "hardware.toml"), str(tmp_path / "d" / "workload.toml"))
    assert code == 0, err
    code, _, err = run("import-timeloop", *files, "-o", str(tmp_path / "d"))
    assert code == 2 and "already exists" in err and err.count("\n") == 1


def test_import_timeloop_bad_files_exit_2(tmp_path):
    """A missing file and two files giving one top-level key each exit 2 in one line, writing nothing."""
    pytest.importorskip("yaml")
    code, _, err = run("import-timeloop", str(tmp_path / "none.yaml"), "-o", str(tmp_path / "d"))
    assert code == 2 and "none.yaml" in err and err.count("\n") == 1
    code, _, err = run("import-timeloop", str(TIMELOOP / "map-bypass.yaml"), str(TIMELOOP / "map-no-bypass.yaml"),
                       "-o", str(tmp_path / "d"))
    assert code == 2 and "from one file only" in err and err.count("\n") == 1
    assert not (tmp_path / "d").exists()


def test_map_on_mac_normalised_hardware_reports_mac_equivalents():
    """`map` on a file in MAC units (energy_unit = "MAC") reports MAC-equivalents, never mJ."""
    code, out, err = run("map", "eyeriss-like", "lenet-300-100", "--layers", "fc3", "--quiet")
    assert code == 0, err
    assert "best: " in out and "MAC-equivalents" in out and " mJ" not in out


def test_map_searches_under_the_hardware_files_own_constraints():
    """Without --constraints `map` searches under the file's [engine.mapper] table, as `run` does (it used none)."""
    from energysim.api import hardware, workload
    from energysim.engines.loopnest.mapper import map_workload, spec_of
    from energysim.engines.loopnest.mapper_constraints import MapperConstraints

    hw = hardware("eyeriss-like")
    layers = [layer for layer in workload("alexnet").layers if layer.name == "conv5"]
    own = spec_of(hw).config.mapper
    assert own.dataflow == "row_stationary"
    found = map_workload(hw, layers, progress=False)[0]
    assert found.mapping == map_workload(hw, layers, own, progress=False)[0].mapping
    assert found.mapping != map_workload(hw, layers, MapperConstraints(), progress=False)[0].mapping


def test_import_timeloop_force_removes_a_mapping_it_no_longer_writes(tmp_path):
    """Re-importing with --force and no mapping removes the earlier mapping.toml (run would have paired it silently)."""
    pytest.importorskip("yaml")
    files = [str(TIMELOOP / name) for name in ("arch.yaml", "prob.yaml", "ERT.yaml")]
    code, _, err = run("import-timeloop", *files, str(TIMELOOP / "map-bypass.yaml"), "-o", str(tmp_path / "d"))
    assert code == 0 and (tmp_path / "d" / "mapping.toml").is_file(), err
    code, out, err = run("import-timeloop", *files, "-o", str(tmp_path / "d"), "--force")
    assert code == 0, err
    assert not (tmp_path / "d" / "mapping.toml").exists() and "removed the earlier mapping.toml" in out


def test_validate_knows_mapping_files(tmp_path):
    """`validate` accepts the mapping file import-timeloop writes and refuses a bad one in one line naming the field."""
    pytest.importorskip("yaml")
    files = [str(TIMELOOP / name) for name in ("arch.yaml", "prob.yaml", "ERT.yaml", "map-bypass.yaml")]
    assert run("import-timeloop", *files, "-o", str(tmp_path / "d"))[0] == 0
    code, out, err = run("validate", str(tmp_path / "d" / "mapping.toml"))
    assert code == 0 and "mapping file (1 entry" in out, err
    bad = tmp_path / "bad.toml"
    bad.write_text('schema_version = 1\n[[mappings]]\n[[mappings.levels]]\nname = "A"\nfactors = {K = 0}\n')
    code, _, err = run("validate", str(bad))
    assert code == 2 and "mappings[0].levels[0]: factors.K: must be >= 1 (got 0)" in err and err.count("\n") == 1


def test_map_csv_names_mac_equivalents_on_a_mac_unit_design(tmp_path):
    """mapper.csv of an Eyeriss-like design (costs normalised to one MAC) says its energies are MAC-equivalents."""
    code, _, err = run("map", "eyeriss-like", "lenet-300-100", "--layers", "fc3", "--out", str(tmp_path), "--quiet")
    assert code == 0, err
    assert set(pd.read_csv(tmp_path / "mapper.csv")["energy_unit"]) == {"MAC"}
