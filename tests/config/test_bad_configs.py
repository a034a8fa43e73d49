"""The bad-config corpus: each file in tests/data/bad gets its one-line message, exit code 2."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from energysim.api import validate_file
from energysim.cli import main
from energysim.errors import ConfigError
from energysim.hardware import load_hardware

BAD = sorted((Path(__file__).parent.parent / "data" / "bad").glob("*.toml"))


def _expected(path: Path) -> str:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("# expect: ")
    return f"{path}: {first[len('# expect: '):]}"


@pytest.mark.parametrize("path", BAD, ids=[p.stem for p in BAD])
def test_bad_config_message(path):
    """Validating a bad config raises ConfigError whose lines include the expected 'file: field: rule (got value)'."""
    with pytest.raises(ConfigError) as info:
        validate_file(path)
    assert _expected(path) in str(info.value).splitlines()


@pytest.mark.parametrize("path", BAD, ids=[p.stem for p in BAD])
def test_bad_config_cli_exit_code(path):
    """`energysim validate BAD` exits 2 with the message on stderr and no traceback."""
    out, err = io.StringIO(), io.StringIO()
    assert main(["validate", str(path)], out=out, err=err) == 2
    assert _expected(path) in err.getvalue()
    assert "Traceback" not in err.getvalue()


def test_corpus_is_not_empty():
    """The corpus holds the cases the foundation issue asks for."""
    assert len(BAD) >= 15


def test_all_bundled_files_validate():
    """Every bundled hwconfig and workload validates."""
    root = Path(__file__).resolve().parents[2]
    files = sorted((root / "hwconfigs").glob("*.toml")) + sorted((root / "workloads").glob("*.toml"))
    files += sorted((root / "workloads").glob("*/*/workload.toml"))
    assert files
    for path in files:
        assert validate_file(path).startswith(str(path))


@pytest.mark.parametrize(("old", "new", "message"), [
    ("clock_ghz = 1.0", "clock_ghz = 1e-300", "clock_ghz: must be at least 1e-06 GHz (got 1e-300)"),
    ("bandwidth_words_per_cycle = 32", "bandwidth_words_per_cycle = 1e-300",
     "bandwidth_words_per_cycle: must be at least 9.5e-07 words per cycle (got 1e-300)"),
])
def test_a_vanishing_clock_or_bandwidth_is_refused(tmp_path, old, new, message):
    """A positive but vanishing clock or bandwidth (1e-300 printed a 300-digit cycle count) is refused at load."""
    text = (Path(__file__).parents[2] / "hwconfigs" / "lecture-array.toml").read_text()
    assert old in text
    path = tmp_path / "hw.toml"
    path.write_text(text.replace(old, new, 1))
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_hardware(path)
