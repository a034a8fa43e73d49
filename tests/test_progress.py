"""Progress off a terminal: occasional plain lines on stderr, none for a short job, never on stdout."""

from __future__ import annotations

import io
import re

import pytest
from tqdm import tqdm

import energysim.progress
from energysim.cli import main
from energysim.progress import LogLines, progress_bar


class _Clock:
    """A clock that moves only when told to (seconds)."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_lines_come_once_per_interval_with_count_share_and_time_left(capsys):
    """LogLines prints nothing before the interval, then one line per interval (count, %, time left, what runs), and a done line."""
    clock = _Clock()
    with LogLines(100, "estimate vgg16", interval_s=30, clock=clock) as bar:
        for step in range(100):
            clock.now = step * 1.0  # one step per second: 100 s in all
            bar.set_postfix_str(f"a100 pruned conv{step}")
            bar.update(1)
        clock.now = 100.0
    lines = capsys.readouterr().err.splitlines()
    assert lines == [
        "energysim: estimate vgg16: 31/100 layers (31 %) after 30 s, about 1 min 7 s left (at a100 pruned conv30)",
        "energysim: estimate vgg16: 61/100 layers (61 %) after 1 min 0 s, about 38 s left (at a100 pruned conv60)",
        "energysim: estimate vgg16: 91/100 layers (91 %) after 1 min 30 s, about 9 s left (at a100 pruned conv90)",
        "energysim: estimate vgg16: done, 100/100 layers in 1 min 40 s",
    ]


def test_a_job_shorter_than_the_interval_prints_nothing(capsys):
    """A job that ends before the first interval (a test, a small workload) leaves the log clean."""
    clock = _Clock()
    with LogLines(5, "run lenet", interval_s=30, clock=clock) as bar:
        for step in range(5):
            clock.now = 5.0 * step
            bar.update(1)
    assert capsys.readouterr().err == ""


def test_progress_bar_picks_by_stderr(monkeypatch):
    """None: a tqdm bar on a terminal, LogLines elsewhere; True: always a bar; False: a disabled bar."""
    monkeypatch.setattr("sys.stderr", _Terminal())
    with progress_bar(1, "t") as bar:
        assert isinstance(bar, tqdm) and not bar.disable
    monkeypatch.setattr("sys.stderr", io.StringIO())
    assert isinstance(progress_bar(1, "t"), LogLines)
    with progress_bar(1, "t", True) as bar:
        assert isinstance(bar, tqdm) and not bar.disable
    with progress_bar(1, "t", False) as bar:
        assert isinstance(bar, tqdm) and bar.disable


@pytest.mark.parametrize("argv, desc, unit", [
    (("estimate", "lenet-300-100-han2015", "--hw", "lecture-array,a100"), "estimate lenet-300-100-han2015", "layers"),
    (("compare", "--workload", "pruned/mlp-digits-fine-80", "--hw", "lecture-array", "--patterns", "fine",
      "--sparsities", "0.5", "--criteria", "magnitude"), "compare mlp-digits-fine-80", "simulations"),
])
def test_estimate_and_compare_log_progress_off_a_terminal(monkeypatch, tmp_path, argv, desc, unit):
    """estimate and compare print progress lines to a non-terminal stderr (here every step), none on stdout; --quiet none."""
    monkeypatch.setattr(energysim.progress, "LOG_INTERVAL_S", 0.0)
    monkeypatch.chdir(tmp_path)
    stderr = io.StringIO()
    monkeypatch.setattr("sys.stderr", stderr)
    out, err = io.StringIO(), io.StringIO()
    assert main([*argv, *(["--out", "c"] if argv[0] == "compare" else [])], out=out, err=err) == 0, err.getvalue()
    lines = stderr.getvalue().splitlines()
    assert lines and all(line.startswith(f"energysim: {desc}: ") for line in lines)
    counts = [tuple(map(int, m.groups())) for m in (re.search(rf"(\d+)/(\d+) {unit}", line) for line in lines)]
    assert [done for done, _ in counts] == list(range(1, len(lines))) + [len(lines) - 1]
    assert lines[-1].startswith(f"energysim: {desc}: done, ")
    assert "energysim: " + desc not in out.getvalue()
    stderr.seek(0)
    stderr.truncate()
    assert main([*argv, "--quiet", *(["--out", "c", "--force"] if argv[0] == "compare" else [])], out=out, err=err) == 0
    assert stderr.getvalue() == ""


def test_report_logs_progress_per_table_off_a_terminal(monkeypatch, tmp_path):
    """`energysim report` ticks once per table on stderr (it was silent for ~53 s on VGG-16); --quiet prints nothing."""
    assert main(["run", "lecture-array", "lenet-300-100", "--out", str(tmp_path / "r"), "--quiet"], out=io.StringIO()) == 0
    monkeypatch.setattr(energysim.progress, "LOG_INTERVAL_S", 0.0)
    stderr = io.StringIO()
    monkeypatch.setattr("sys.stderr", stderr)
    assert main(["report", str(tmp_path / "r")], out=io.StringIO()) == 0
    lines = stderr.getvalue().splitlines()
    assert lines[0].startswith("energysim: report r: 1/2 tables (50 %)") and "(at summary.csv)" in lines[0]
    assert lines[-1].startswith("energysim: report r: done, 2/2 tables")
    stderr.seek(0)
    stderr.truncate()
    assert main(["report", str(tmp_path / "r"), "--quiet"], out=io.StringIO()) == 0
    assert stderr.getvalue() == ""


def test_compare_training_stage_reports_progress(monkeypatch, tmp_path):
    """compare's shared model training ticks its own progress off a terminal (it was silent before the sweep's bar)."""
    from energysim.sweep import cached_model

    monkeypatch.setattr(energysim.progress, "LOG_INTERVAL_S", 0.0)
    stderr = io.StringIO()
    monkeypatch.setattr("sys.stderr", stderr)
    cached_model("mlp", 0, tmp_path, progress=None)
    assert stderr.getvalue().startswith("energysim: train mlp: 1/")
    stderr.seek(0)
    stderr.truncate()
    cached_model("mlp", 0, tmp_path, progress=None)  # from the cache: nothing to report
    assert stderr.getvalue() == ""


def test_units_are_pluralised_as_words(capsys):
    """The done line names its steps in plural: 3/3 batches, 2/2 layers (not 'batchs')."""
    clock = _Clock()
    for unit, plural in (("batch", "batches"), ("layer", "layers")):
        with LogLines(2, "train cnn", unit=unit, interval_s=1, clock=clock) as bar:
            clock.now += 5.0
            bar.update(2)
        assert f"2/2 {plural} in" in capsys.readouterr().err
