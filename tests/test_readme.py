"""The README: it opens with the install+demo and test commands, CI runs that test command, and
every `energysim` line in it parses and names files that exist."""

from __future__ import annotations

import glob
import re
import shlex
from pathlib import Path

import pytest

from energysim.cli import build_parser

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
INPUT_SUFFIXES = (".onnx", ".toml", ".npz", ".safetensors")
OUTPUT_OPTIONS = ("-o", "--out", "--png", "--plots")

pytestmark = pytest.mark.skipif(not README.is_file(), reason="not run from a source checkout (no README.md)")


def _bash_blocks() -> list[list[str]]:
    """Lines of every ```bash block of the README, in order."""
    return [block.strip().splitlines() for block in re.findall(r"```bash\n(.*?)```", README.read_text(), re.S)]


def _energysim_commands() -> list[list[str]]:
    """Each `energysim ...` README line as argv (after `energysim`), comments dropped, globs expanded."""
    commands = []
    for line in (line for block in _bash_blocks() for line in block):
        words = shlex.split(line, comments=True)
        if not words or words[0] != "energysim":
            continue
        argv = []
        for word in words[1:]:
            matches = sorted(glob.glob(word, root_dir=REPO)) if any(c in word for c in "*?[") else []
            argv += matches or [word]
        commands.append(argv)
    return commands


def test_readme_opens_with_install_demo_and_test_commands():
    """The first two bash blocks are the install+demo and the install-test-extras+suite commands."""
    first, second = _bash_blocks()[:2]
    assert first == ["pip install . && energysim demo"]
    assert second == ["pip install '.[test]' && python -m pytest -q"]


def test_ci_runs_the_readme_test_command():
    """.ci/run runs the README's test command verbatim."""
    command = _bash_blocks()[1][0]
    assert any(line.strip() == command for line in (REPO / ".ci" / "run").read_text().splitlines())


def test_every_energysim_line_parses_and_names_real_files():
    """Each README `energysim` line is accepted by the CLI parser (no `a|b` pseudo-pipelines) and every
    input file it names (.onnx, .toml, .npz, .safetensors, not after an output option) is in the repository."""
    commands = _energysim_commands()
    assert len(commands) >= 15
    parser = build_parser()
    for argv in commands:
        assert not any("|" in word for word in argv), argv
        try:
            parser.parse_args(argv)
        except SystemExit as stop:
            pytest.fail(f"README line `energysim {' '.join(argv)}` does not parse (exit {stop.code})")
        for before, word in zip([""] + argv, argv):
            if word.endswith(INPUT_SUFFIXES) and before not in OUTPUT_OPTIONS:
                assert (REPO / word).is_file(), f"README line `energysim {' '.join(argv)}` names missing {word}"
