"""The hostile-input corpus (issue 13): every bad input exits 2 with one line naming it, no traceback, no new file."""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import io
import logging
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

import energysim.cli
from energysim.cli import main
from limits_guard import memory_budget, time_budget

_SPEC = importlib.util.spec_from_file_location("make_bad_corpus", Path(__file__).parents[1] / "data" / "make_bad_corpus.py")
corpus = importlib.util.module_from_spec(_SPEC)
sys.modules["make_bad_corpus"] = corpus  # dataclasses look their module up while the class is built
_SPEC.loader.exec_module(corpus)

CASES = corpus.cases()


TORCH = importlib.util.find_spec("torch") is not None

SUBPROCESS_SAMPLE = {"hw_rows_bool": False, "cli_unknown_command": True, "tensors_declared_74_gib": True, "torch_pt2_version_99": True}
"""Cases also run as ``python -m energysim`` in a child (the real exit status and stderr), by id: slow or not (a child
costs seconds of imports, so one runs by default)."""


def _param(case):
    marks = [pytest.mark.slow] if case.slow else []
    if case.kind == "torch" and not TORCH:
        marks.append(pytest.mark.skip(reason="torch is not installed (pip install 'energysim[torch]')"))
    if case.owner:
        marks.append(pytest.mark.xfail(strict=True, reason=f"fix belongs to helper {case.owner} (issue 13)"))
    return pytest.param(case, id=case.id, marks=marks)


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


_parser = functools.cache(energysim.cli.build_parser)
"""One parser for every case: main() builds the same one per call (18 ms each, a sixth of the corpus' time)."""


@contextlib.contextmanager
def _log_streams_watched():
    """Point every logging StreamHandler at one buffer for the block, and yield it.

    torch's handlers hold the stderr of the moment torch was imported, which
    pytest's capfd does not see; this catches what they would print.
    """
    buffer = io.StringIO()
    loggers = [logging.getLogger()] + [x for x in list(logging.Logger.manager.loggerDict.values()) if isinstance(x, logging.Logger)]
    handlers = {h for logger in loggers for h in logger.handlers
                if isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler)}
    saved = [(h, h.stream) for h in handlers]
    for handler in handlers:
        handler.stream = buffer  # not setStream(): it flushes the old stream, which may be a closed capture file
    try:
        yield buffer
    finally:
        for handler, stream in saved:
            handler.stream = stream


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_bad_input(case, tmp_path, monkeypatch, capfd):
    """A bad input exits with its code, prints one line holding the expected fragment and nothing else, and writes nothing."""
    folder = tmp_path / "case"
    folder.mkdir()
    case.make(folder)
    before = _files(tmp_path)
    for name, value in case.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(folder)
    monkeypatch.setattr(energysim.cli, "build_parser", _parser)
    capfd.readouterr()  # what making the case printed (torch.export) is not the command's
    out, err = io.StringIO(), io.StringIO()
    with memory_budget(), time_budget(), _log_streams_watched() as logged:
        code = main(corpus.argv_of(case, folder), out=out, err=err)
    message = err.getvalue()
    assert code == case.code, message
    assert "Traceback" not in message
    assert message.startswith("energysim: ")
    if case.lines is not None:
        assert len(message.splitlines()) == case.lines, message
    assert case.fragment in message
    assert out.getvalue() == "", "printed results before refusing"
    stray = capfd.readouterr()
    assert stray.err + logged.getvalue() == "", "printed to stderr besides the message"
    assert stray.out == "", "printed to stdout past main(out=...)"
    assert _files(tmp_path) == before, "a failed command left a file behind"


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id, marks=[*_param(c).marks, *([pytest.mark.slow] if SUBPROCESS_SAMPLE[c.id] else [])])
                                  for c in CASES if c.id in SUBPROCESS_SAMPLE])
def test_bad_input_console(case, tmp_path):
    """Through ``python -m energysim`` a bad input exits with its code and stderr is exactly the one message line."""
    folder = tmp_path / "case"
    folder.mkdir()
    case.make(folder)
    before = _files(tmp_path)
    env = {**os.environ, **case.env}
    done = subprocess.run([sys.executable, "-m", "energysim", *corpus.argv_of(case, folder)], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == case.code, done.stderr
    assert done.stderr.startswith("energysim: ") and done.stderr.count("\n") == 1 and done.stderr.endswith("\n"), done.stderr
    assert case.fragment in done.stderr
    assert done.stdout == ""
    assert _files(tmp_path) == before


def test_subprocess_sample_exists():
    """Every id of the console sample names a corpus case."""
    assert set(SUBPROCESS_SAMPLE) <= {case.id for case in CASES}


def test_corpus_size_and_kinds():
    """The corpus holds at least 200 cases over every input kind the issue names (those this suite can reach)."""
    kinds = Counter(case.kind for case in CASES)
    assert len(CASES) >= 200
    assert set(kinds) == {"hardware", "workload", "tensors", "model", "onnx", "npz", "safetensors", "cli",
                          "torch", "sparse", "timeloop", "mapping"}
