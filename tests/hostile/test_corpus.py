"""The hostile-input corpus (issue 13): every bad input exits 2 with one line naming it, no traceback, no new file."""

from __future__ import annotations

import importlib.util
import io
import sys
from collections import Counter
from pathlib import Path

import pytest

from energysim.cli import main
from limits_guard import memory_budget, time_budget

_SPEC = importlib.util.spec_from_file_location("make_bad_corpus", Path(__file__).parents[1] / "data" / "make_bad_corpus.py")
corpus = importlib.util.module_from_spec(_SPEC)
sys.modules["make_bad_corpus"] = corpus  # dataclasses look their module up while the class is built
_SPEC.loader.exec_module(corpus)

CASES = corpus.cases()


TORCH = importlib.util.find_spec("torch") is not None


def _param(case):
    marks = [pytest.mark.slow] if case.slow else []
    if case.kind == "torch" and not TORCH:
        marks.append(pytest.mark.skip(reason="torch is not installed (pip install 'energysim[torch]')"))
    if case.owner:
        marks.append(pytest.mark.xfail(strict=True, reason=f"fix belongs to helper {case.owner} (issue 13)"))
    return pytest.param(case, id=case.id, marks=marks)


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_bad_input(case, tmp_path, monkeypatch):
    """A bad input exits with its code, prints one line holding the expected fragment, no traceback, and writes nothing."""
    folder = tmp_path / "case"
    folder.mkdir()
    case.make(folder)
    before = _files(tmp_path)
    for name, value in case.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(folder)
    out, err = io.StringIO(), io.StringIO()
    with memory_budget(), time_budget():
        code = main(corpus.argv_of(case, folder), out=out, err=err)
    message = err.getvalue()
    assert code == case.code, message
    assert "Traceback" not in message
    assert message.startswith("energysim: ")
    if case.lines is not None:
        assert len(message.splitlines()) == case.lines, message
    assert case.fragment in message
    assert _files(tmp_path) == before, "a failed command left a file behind"


def test_corpus_size_and_kinds():
    """The corpus holds at least 200 cases over every input kind the issue names (those this suite can reach)."""
    kinds = Counter(case.kind for case in CASES)
    assert len(CASES) >= 200
    assert set(kinds) == {"hardware", "workload", "tensors", "model", "onnx", "npz", "safetensors", "cli",
                          "torch", "sparse", "timeloop", "mapping"}
