"""The CLI: exit codes, one-line errors, tables on stdout, atomic output files."""

from __future__ import annotations

import io
import json

import pytest

from energysim import api
from energysim.cli import main
from energysim.errors import InputError


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_costs_prints_lecture_table():
    """`energysim costs` prints the lecture's table with Operation, Energy [pJ], Relative Cost."""
    code, out, _ = run("costs", "--format", "md")
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
    assert "\nfc1 " in out and "total:" in out
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


# ------------------------------------------------------------------ issue 10, item 9: one --hw convention


def test_run_takes_several_hardware_and_name_mode():
    """`run A,B:MODE W` runs each; NAME:MODE equals --mode; a --mode contradicting NAME:MODE exits 2."""
    code, out, err = run("run", "lecture-array,a100:sparse_2_4", "gemm-square")
    assert code == 0, err
    assert "gemm-square on lecture-array\n" in out and "gemm-square on a100:sparse_2_4\n" in out
    assert run("run", "a100:sparse_2_4", "gemm-square")[1] == run("run", "a100", "gemm-square", "--mode", "sparse_2_4")[1]
    code, _, err = run("run", "a100:dense", "gemm-square", "--mode", "sparse_2_4")
    assert code == 2 and "contradicts" in err


def test_hw_is_repeatable_and_comma_separated_in_every_command(monkeypatch):
    """estimate, compare and costs each take `--hw A,B --hw C` as three hardware choices, in order."""
    import energysim.estimation
    import energysim.sweep

    seen = {}

    def fake_estimate(pruned, choices, dense=None, progress=None):
        seen["estimate"] = [c.label for c in choices]
        raise InputError("stop")

    def fake_sweep(points, choices, *args, **kwargs):
        seen["compare"] = [c.label for c in choices]
        raise InputError("stop")

    monkeypatch.setattr(energysim.estimation, "estimate", fake_estimate)
    monkeypatch.setattr(energysim.sweep, "run_sweep", fake_sweep)
    hw = ["--hw", "lecture-array,a100:sparse_2_4", "--hw", "eie-64pe-lecture"]
    expected = ["lecture-array", "a100:sparse_2_4", "eie-64pe-lecture"]
    assert run("estimate", "lenet-300-100-han2015", *hw)[0] == 2
    assert run("compare", "--patterns", "fine", "--sparsities", "0.5", *hw)[0] == 2
    assert seen == {"estimate": expected, "compare": expected}
    code, out, _ = run("costs", *hw)
    assert code == 0
    assert [line.split()[3] for line in out.splitlines() if line.startswith("per-access costs of")] == expected


# ------------------------------------------------------------------ item 10: readable terminal output


def test_run_table_is_aligned_si_scaled_and_fits_the_terminal(monkeypatch):
    """`run` prints SI energies, times and % utilisation in lines no wider than COLUMNS; --wide adds columns."""
    monkeypatch.setenv("COLUMNS", "60")
    code, out, _ = run("run", "lecture-array", "lenet-300-100")
    assert code == 0
    assert max(map(len, out.splitlines())) <= 60, out
    fc1 = next(line for line in out.splitlines() if line.startswith("fc1"))
    assert fc1.split()[:5] == ["fc1", "156", "uJ", "16.3", "us"] and "5.64 %" in fc1
    assert "total: 177 uJ, 19.7 us, 19,730 cycles, utilisation 5.27 %" in out
    assert "stall" not in out.splitlines()[1] and "stall" in run("run", "lecture-array", "lenet-300-100", "--wide")[1]


def test_estimate_speaks_in_fractions_of_dense(monkeypatch):
    """`estimate` prints 'energy X of dense' per run (pruned / dense) and never a saving or speed-up."""
    monkeypatch.setenv("COLUMNS", "100")
    code, out, _ = run("estimate", "lenet-300-100-han2015", "--hw", "lecture-array,eie-64pe-lecture")
    assert code == 0
    assert "lecture-array:    energy 1.00 of dense, latency 1.00 of dense" in out
    eie = next(line for line in out.splitlines() if line.startswith("eie-64pe-lecture: energy"))
    assert float(eie.split()[2]) < 0.5
    assert "saving" not in out and "speed" not in out and max(map(len, out.splitlines())) <= 100


def test_costs_text_lists_every_source_it_cites():
    """`costs --hw` (default text) numbers each row's source and prints every numbered source under the table."""
    code, out, _ = run("costs", "--hw", "lecture-array")
    assert code == 0
    table, sources = out.split("sources:\n")
    cited = {word for line in table.splitlines()[3:] for word in line.split() if word.startswith("[")}
    listed = {line.split()[0] for line in sources.splitlines() if line.startswith("[")}
    assert cited and cited == listed
    assert "lecture" in sources


# ------------------------------------------------------------------ item 12: no silent overwrites


def test_out_folder_with_results_needs_force(tmp_path):
    """A second `run --out` into the same folder exits 2; --force replaces it and removes stale formats."""
    assert run("run", "lecture-array", "gemm-square", "--out", str(tmp_path))[0] == 0
    before = (tmp_path / "summary.csv").read_text()
    code, _, err = run("run", "a100", "gemm-square", "--out", str(tmp_path))
    assert code == 2 and "--force" in err and "summary.csv" in err
    assert (tmp_path / "summary.csv").read_text() == before
    code, out, _ = run("run", "a100", "gemm-square", "--out", str(tmp_path), "--force", "--format", "json")
    assert code == 0 and sorted(p.name for p in tmp_path.iterdir()) == ["energy.json", "notes.txt", "summary.json"]
    assert "removed earlier results this command did not write: energy.csv, summary.csv" in out


def test_estimate_out_refused_before_simulating(tmp_path, monkeypatch):
    """`estimate --out` into a folder of results is refused before any simulation runs."""
    import energysim.estimation

    (tmp_path / "estimate.csv").write_text("x\n1\n")
    monkeypatch.setattr(energysim.estimation, "estimate", lambda *a, **k: pytest.fail("simulated anyway"))
    code, _, err = run("estimate", "lenet-300-100-han2015", "--hw", "lecture-array", "--out", str(tmp_path))
    assert code == 2 and "already holds results (estimate.csv)" in err


# ------------------------------------------------------------------ item 15: version, help, pipes


def test_version_and_bare_command_print_help(capsys):
    """`energysim --version` names the version; a bare `energysim` prints the help and exits 0."""
    from energysim import __version__

    code, out, _ = run("--version")
    assert code == 0 and out == f"energysim {__version__}\n"
    code, out, err = run()
    assert code == 0 and out.startswith("usage: energysim") and "example:" in out and err == ""


def test_every_help_lists_values_defaults_and_an_example():
    """Each subcommand's --help ends with an example, shows choices and states defaults."""
    from energysim.cli import build_parser

    commands = build_parser()._subparsers._group_actions[0].choices
    for name, parser in commands.items():
        text = parser.format_help()
        assert f"example:\n  energysim {name}" in text, name
        flat = " ".join(text.split())
        for action in parser._actions:
            if action.option_strings and action.default not in (None, False, "==SUPPRESS=="):
                assert action.help and f"(default: {action.default})" in flat, (name, action.dest)
    assert "{fast,cycle}" in commands["run"].format_help() and "lecture-array" in commands["run"].format_help()
    assert "(default: csv)" in commands["estimate"].format_help()


def test_closed_stdout_pipe_exits_quietly():
    """`energysim run ... | head` with the reader gone: no traceback on stderr, exit 141."""
    import os
    import subprocess
    import sys

    read, write = os.pipe()
    os.close(read)
    try:
        done = subprocess.run([sys.executable, "-m", "energysim", "run", "lecture-array", "vgg16"], stdout=write,
                              stderr=subprocess.PIPE, timeout=120)
    finally:
        os.close(write)
    assert done.stderr == b"" and done.returncode == 141


# ------------------------------------------------------------------ item 8: progress on stderr


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_run_progress_bar_counts_layers_times_hardware(monkeypatch):
    """On a terminal `run` draws one bar over layers x hardware on stderr; --quiet draws none; stdout stays clean."""
    import sys

    stderr = _Terminal()
    monkeypatch.setattr(sys, "stderr", stderr)
    code, out, _ = run("run", "lecture-array,a100", "lenet-300-100")
    assert code == 0 and "0/6" in stderr.getvalue() and "run lenet-300-100" in stderr.getvalue()
    assert "0/6" not in out
    stderr.seek(0)
    stderr.truncate()
    assert run("run", "lecture-array,a100", "lenet-300-100", "--quiet")[0] == 0
    assert stderr.getvalue() == ""


def test_estimate_quiet_reaches_the_library(monkeypatch):
    """`estimate --quiet` asks the library for no bar; without it the library decides by the terminal (None)."""
    import energysim.estimation

    asked = []

    def fake_estimate(pruned, choices, dense=None, progress="unset"):
        asked.append(progress)
        raise InputError("stop")

    monkeypatch.setattr(energysim.estimation, "estimate", fake_estimate)
    run("estimate", "lenet-300-100-han2015", "--hw", "lecture-array", "--quiet")
    run("estimate", "lenet-300-100-han2015", "--hw", "lecture-array")
    assert asked == [False, None]


# ------------------------------------------------------------------ flags other helpers offer


def test_plots_flag_writes_each_plot_in_three_formats(tmp_path):
    """`run --plots DIR` writes PNG, SVG and PDF of every plot; a second time into the same DIR needs --force."""
    code, out, err = run("run", "lecture-array", "lenet-300-100", "--plots", str(tmp_path / "p"))
    assert code == 0, err
    names = sorted(p.name for p in (tmp_path / "p").iterdir())
    assert {"latency.png", "latency.svg", "latency.pdf"} <= set(names) and len(names) % 3 == 0
    code, _, err = run("run", "lecture-array", "lenet-300-100", "--plots", str(tmp_path / "p"))
    assert code == 2 and "already holds plots" in err


def test_loopnest_options_reach_the_engine():
    """`run --mapping/--compat` reach the loopnest engine; without loop-nest hardware they are refused by name."""
    code, _, err = run("run", "lecture-array", "gemm-square", "--compat", "ideal")
    assert code == 2 and "--compat applies to loop-nest hardware" in err
    code, _, err = run("run", "lecture-array-loopnest", "gemm-square", "--mapping", "no-such-mapping.toml")
    assert code == 2 and "no-such-mapping.toml" in err


def test_prune_commands_refuse_overwrites_and_shrunk_export_keeps_its_dense_original(tmp_path):
    """prune --out into an existing workload exits 2 before training; --shrink exports a dense original estimate uses."""
    model, shrunk = tmp_path / "m", tmp_path / "shrunk"
    assert run("train", "--model", "mlp", "--epochs", "1", "--out", str(model), "--quiet")[0] == 0
    code, _, err = run("train", "--model", "mlp", "--epochs", "1", "--out", str(model), "--quiet")
    assert code == 2 and "model.json already exists" in err and "--force" in err
    argv = ["prune", "--model-dir", str(model), "--granularity", "channel", "--criterion", "l1", "--sparsity", "0.5",
            "--finetune-epochs", "0", "--shrink", "--out", str(shrunk), "--quiet"]
    code, out, err = run(*argv)
    assert code == 0, err
    assert "\nlayer " in out and "measured sparsity" in out
    assert run(*argv)[0] == 2
    code, out, err = run("estimate", str(shrunk), "--hw", "lecture-array")
    assert code == 0, err
    ratio = float(out.split("lecture-array: energy ")[1].split()[0])
    assert ratio < 0.9


def test_long_commands_take_quiet(monkeypatch):
    """demo and reproduce pass --quiet to the library as progress=False (None without it)."""
    import energysim.demo
    import energysim.reproduce

    asked = []

    def record(*_, progress="unset", **__):
        asked.append(progress)
        return []

    monkeypatch.setattr(energysim.demo, "run_demo", record)
    monkeypatch.setattr(energysim.reproduce, "reproduce", record)
    for argv in (["demo", "--quiet"], ["demo"], ["reproduce", "eie", "--quiet"], ["reproduce", "eie"]):
        assert run(*argv)[0] == 0, argv
    assert asked == [False, None, False, None]


def test_prune_table_prints_aligned_text_and_writes_markdown(tmp_path, monkeypatch):
    """prune-table prints an aligned table (no Markdown pipes) within COLUMNS; --out gets the Markdown; no overwrite."""
    monkeypatch.setenv("COLUMNS", "80")
    target = tmp_path / "table.md"
    argv = ("prune-table", "--models", "mlp", "--sparsities", "0.5", "--finetune-epochs", "0", "--quiet", "--out", str(target))
    code, out, err = run(*argv)
    assert code == 0, err
    shown = out.split("table written to")[0]
    assert "|" not in shown and max(map(len, shown.splitlines())) <= 80
    assert any(line.split()[:2] == ["fine", "magnitude"] and line.endswith("%") for line in out.splitlines())
    assert "| granularity | criterion |" in target.read_text()
    assert run(*argv)[0] == 2


def test_prune_budget_arguments_are_checked_before_training(tmp_path, monkeypatch):
    """Bad --energy-budget, a missing --hw, --hw alone, a bad pattern, calibration or steps 0: exit 2 in one line, no training."""
    import energysim.prune.commands as commands

    def no_training(*args, **kwargs):
        raise AssertionError("trained before the arguments were checked")

    monkeypatch.setattr(commands, "_load_or_train", no_training)
    out = str(tmp_path / "o")
    cases = {
        ("--energy-budget", "0", "--hw", "a100"): "--energy-budget: must be a fraction of dense in (0, 1] (got 0)",
        ("--energy-budget", "0.5", "--latency-budget", "2", "--hw", "a100"): "--latency-budget: must be a fraction",
        ("--energy-budget", "0.5"): "--energy-budget needs --hw HW",
        ("--hw", "a100"): "--hw needs --energy-budget",
        ("--energy-budget", "0.5", "--hw", "a100", "--patterns", "fine,kernel"): "of: fine, channel, nm:2:4 (got 'fine,kernel')",
        ("--energy-budget", "0.5", "--hw", "no-such-hw"): "unknown hardware config 'no-such-hw'",
        ("--calibration-samples", "0"): "--calibration-samples: must be an integer >= 1 (got 0)",
        ("--calibration-samples", "100000"): "calibration samples must be in [1, ",
        ("--schedule", "iterative", "--steps", "0"): "--steps: must be an integer >= 1 (got 0)",
    }
    for extra, message in cases.items():
        code, _, err = run("prune", "--model", "mlp", *extra, "--out", out)
        assert code == 2 and message in err and err.count("\n") == 1, (extra, err)
    assert not (tmp_path / "o").exists()


@pytest.mark.slow
def test_prune_to_an_energy_budget_meets_it_and_resumes(tmp_path):
    """`prune --energy-budget 0.5 --hw eie-64pe-lecture` prints the allocation, meets the budget, and `run` simulates its export."""
    argv = ["prune", "--model", "mlp", "--energy-budget", "0.5", "--hw", "eie-64pe-lecture", "--finetune-epochs", "1",
            "--out", str(tmp_path / "eb"), "--quiet"]
    code, out, err = run(*argv)
    assert code == 0, err
    assert "allocation (" in out and "of dense (budget 0.5)" in out
    achieved = float(out.split("\nenergy ")[1].split(" of dense")[0])
    assert 0 < achieved <= 0.5
    assert {"allocation.csv", "patterns.csv", "energy-aware.jsonl", "workload"} <= {p.name for p in (tmp_path / "eb").iterdir()}
    code, again, err = run(*argv)
    assert code == 0 and again.split("\nenergy ")[1] == out.split("\nenergy ")[1], err
    code, _, err = run("run", "eie-64pe-lecture", str(tmp_path / "eb" / "workload"), "--quiet")
    assert code == 0, err


def test_compare_refuses_an_unreachable_scheduler_at_once(tmp_path, monkeypatch):
    """`compare --scheduler` to a closed port exits 2 in one line before Dask's 10 s connect retry starts, writing nothing."""
    distributed = pytest.importorskip("dask.distributed")

    def no_client(*args, **kwargs):
        raise AssertionError("Dask's Client was asked to connect to a closed port")

    monkeypatch.setattr(distributed, "Client", no_client)
    code, _, err = run("compare", "--scheduler", "tcp://127.0.0.1:1", "--jobs", "1", "--hw", "lecture-array",
                       "--out", str(tmp_path / "s"))
    assert code == 2 and "cannot reach the Dask scheduler at 'tcp://127.0.0.1:1'" in err and err.count("\n") == 1
    assert not (tmp_path / "s").exists()


def test_prune_rounding_torch_prunes_one_weight_less_on_a_half(tmp_path):
    """`prune --rounding torch` at 0.299957275390625 of fc1's 16,384 weights (4914.5) prunes 4914; the exact default 4915."""
    import numpy as np

    model = tmp_path / "m"
    assert run("train", "--model", "mlp", "--epochs", "1", "--out", str(model), "--quiet")[0] == 0
    zeros = {}
    for rounding in ("torch", "exact"):
        out = tmp_path / rounding
        code, _, err = run("prune", "--model-dir", str(model), "--granularity", "fine", "--sparsity", "0.299957275390625",
                           "--rounding", rounding, "--finetune-epochs", "0", "--out", str(out), "--quiet")
        assert code == 0, err
        with np.load(out / "tensors.npz") as tensors:
            assert tensors["fc1.mask"].size == 16384
            zeros[rounding] = int((tensors["fc1.mask"] == 0).sum())
    assert zeros == {"torch": 4914, "exact": 4915}
    code, _, err = run("prune", "--model-dir", str(model), "--rounding", "even", "--out", str(tmp_path / "x"))
    assert code == 2 and "invalid choice: 'even'" in err


def test_two_four_without_masks_is_labelled_an_assumption():
    """run/estimate on a100:sparse_2_4 say when layers had no masks (assumed 2:4), and stay silent for a masked 2:4 model."""
    import io

    from energysim.cli import main

    out = io.StringIO()
    assert main(["estimate", "lenet-300-100-han2015", "--hw", "a100:sparse_2_4", "--quiet"], out, io.StringIO()) == 0
    assert "note: a100:sparse_2_4 ran 3 of 3 layers without weight masks" in out.getvalue()
    out = io.StringIO()
    assert main(["run", "a100:sparse_2_4", "pruned/cnn-digits-2of4", "--quiet"], out, io.StringIO()) == 0
    assert "without weight masks" not in out.getvalue()


def test_a100_runs_say_which_timing_ran():
    """run/estimate print one timing note per A100 run; a padded 2:4 run at the bound gets the kernel model's figure."""
    import io

    from energysim.cli import main

    out = io.StringIO()
    assert main(["estimate", "pruned/cnn-digits-2of4", "--hw", "a100:sparse_2_4", "--quiet"], out, io.StringIO()) == 0
    flat = " ".join(out.getvalue().split())  # notes are wrapped to the terminal
    note = flat[flat.index("note: a100:sparse_2_4 is timed"):]
    assert flat.count("note: a100:sparse_2_4 is timed") == 1
    assert "at the hardware bound" in note.split("note: ")[1] and "the kernel model gives" in note.split("note: ")[1]
    out = io.StringIO()
    assert main(["run", "a100", "gemm-square", "--set", "engine.timing=kernel_model", "--quiet"], out, io.StringIO()) == 0
    assert "note: a100[engine.timing=kernel_model]:dense is timed by the kernel model" in out.getvalue()


def test_compare_terminal_status_keeps_the_kind_of_each_failure():
    """A point that could not run shows 'unsupported' or 'not pruned' (its status before the colon), counted by kind."""
    import pandas as pd

    from energysim.cli import _not_run_note, _status_words

    frame = pd.DataFrame({"run": ["a", "b", "c", "d"],
                          "status": ["ok", "unsupported: 2:4 needs a pruned mask", "not pruned: layer 'x' would have no weight left",
                                     "unsupported: depthwise on EIE"]})
    assert list(_status_words(frame["status"])) == ["ok", "unsupported", "not pruned", "unsupported"]
    note = _not_run_note(frame)
    assert note.startswith("3 points could not run: ")
    assert "1 not pruned (e.g. c: not pruned: layer 'x' would have no weight left)" in note
    assert "2 unsupported (e.g. b: unsupported: 2:4 needs a pruned mask)" in note
    assert _not_run_note(frame.iloc[:1]) == ""


def test_estimate_prints_the_reason_under_a_layer_the_engine_refuses(tmp_path):
    """A layer refused per layer (a depthwise conv on EIE) gets its reason printed under the table, not a blank row."""
    (tmp_path / "w.toml").write_text(
        'schema_version = 1\nname = "mix"\n\n'
        '[[layers]]\nkind = "linear"\nname = "fc"\nin_features = 64\nout_features = 32\nweight_density = 0.5\n\n'
        '[[layers]]\nkind = "grouped_conv2d"\nname = "dw"\ngroups = 8\nin_channels = 8\nout_channels = 8\n'
        'in_height = 6\nin_width = 6\nkernel_height = 3\nkernel_width = 3\npadding = 1\n')
    code, out, err = run("estimate", str(tmp_path / "w.toml"), "--hw", "eie-64pe-lecture")
    assert code == 0, err
    assert "  dw: unsupported: layer 'dw': the eie engine stores one sparse weight matrix per layer" in out


def test_compare_terminal_shows_swept_keys_in_place_of_the_long_run_name():
    """With --set, the compare table shows the base hardware and one column per swept key; run moves to --wide."""
    import argparse

    import pandas as pd

    from energysim.cli import COMPARE_SHOWN, _with_swept_keys

    frame = pd.DataFrame({"run": ["eie[engine.n_pe=8,engine.queue_depth=2]", "eie[engine.n_pe=8,engine.queue_depth=8]"],
                          "engine.n_pe": [8, 8], "engine.queue_depth": [2, 8]})
    args = argparse.Namespace(set=["engine.n_pe=8", "engine.queue_depth=2,8"])
    shown, columns = _with_swept_keys(frame, COMPARE_SHOWN, args)
    compact = [(c.name, c.title) for c in columns if c.compact]
    assert ("base_hardware", "hardware") in compact and ("engine.n_pe", "n_pe") in compact
    assert ("engine.queue_depth", "queue_depth") in compact and "run" not in [name for name, _ in compact]
    assert shown["base_hardware"].tolist() == ["eie", "eie"]
    assert _with_swept_keys(frame, COMPARE_SHOWN, argparse.Namespace(set=None))[1] == list(COMPARE_SHOWN)


def test_mac_normalised_hardware_never_prints_joules():
    """On a file whose costs are in units of one MAC (energy_unit = "MAC") run and estimate show MAC-equivalents and say so."""
    code, out, err = run("run", "eyeriss-like", "lenet-300-100-han2015", "--quiet")
    assert code == 0, err
    total = next(line for line in out.splitlines() if line.startswith("total: "))
    assert "MAC-equivalents" in total and " J," not in total and "energy (MAC-eq)" in out
    assert 'note: eyeriss-like prices every action in units of one MAC (energy_unit = "MAC")' in out
    code, out, err = run("estimate", "lenet-300-100-han2015", "--hw", "eyeriss-like,lecture-array", "--quiet")
    assert code == 0, err
    eyeriss, lecture = out.split("\nlecture-array\n")
    assert "energy dense (MAC-eq)" in eyeriss and "mJ" not in eyeriss.split("note:")[0]
    assert "J" in lecture.split("\n\n")[0] and "MAC-eq" not in lecture.split("\n\n")[0]
    assert out.count("note: eyeriss-like prices") == 1
    assert "MAC-equivalents" in repr(api.simulate("eyeriss-like", "lenet-300-100-han2015"))


def test_hardware_in_picojoules_gets_no_unit_note():
    """A file in pJ (the default energy_unit) prints joules and no MAC-unit note."""
    code, out, err = run("run", "lecture-array", "lenet-300-100-han2015", "--quiet")
    assert code == 0 and "MAC-eq" not in out and "note: " not in out


def test_validate_prefixes_every_bad_file_line(tmp_path):
    """`validate a b` with two bad files prints two lines, each starting 'energysim: ' and naming its file; exit 2."""
    out, err = io.StringIO(), io.StringIO()
    assert main(["validate", str(tmp_path / "a.toml"), str(tmp_path / "b.toml")], out=out, err=err) == 2
    assert err.getvalue().splitlines() == [f"energysim: {tmp_path / 'a.toml'}: file not found",
                                           f"energysim: {tmp_path / 'b.toml'}: file not found"]
