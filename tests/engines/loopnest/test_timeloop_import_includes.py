"""A template's includes read only the folders of the files given (and their subfolders) or a --jinja-include-dir."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

pytest.importorskip("yaml")
pytest.importorskip("jinja2")

from energysim.cli import main  # noqa: E402
from energysim.engines.loopnest.timeloop_import import import_timeloop  # noqa: E402
from energysim.errors import ConfigError, InputError  # noqa: E402

from test_timeloop_import_v4 import SMALL, _files  # noqa: E402

SHAPE = SMALL[SMALL.index("problem:"):]
"""SMALL's problem, the text the included files give."""


def _design(tmp_path: Path, problem: str) -> list[Path]:
    """SMALL's architecture and ERT in tmp_path/design, with ``problem`` as prob.yaml beside them."""
    design = tmp_path / "design"
    design.mkdir()
    return _files(design, SMALL[:SMALL.index("problem:")], prob=problem)


def _refused(files: list[Path], out: Path, **options) -> str:
    with pytest.raises(ConfigError) as info:
        import_timeloop(files, out, **options)
    message = str(info.value)
    assert "\n" not in message and not out.exists()
    return message


@pytest.mark.parametrize("call", ["include_text('../elsewhere/shape.yaml')", "include('../elsewhere/shape.yaml', 'problem')",
                                  "include_all('../elsewhere/*.yaml', 'problem.shape.dimensions')",
                                  f"include_text('{'{d}'}/elsewhere/shape.yaml')"])
def test_include_outside_the_given_folders_is_refused(tmp_path: Path, call: str) -> None:
    """Each include helper reaching a folder no given file is in is refused naming the file, line, call and the option."""
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "shape.yaml").write_text(SHAPE, encoding="utf-8")
    call = call.replace("{d}", str(tmp_path))
    files = _design(tmp_path, "x_ignore: 1\n" + f"problem: {{{{ {call} }}}}\n")
    message = _refused(files, tmp_path / "out")
    outside = tmp_path / "elsewhere" if "*" in call else tmp_path / "elsewhere" / "shape.yaml"
    named = call.split(", ")[0] + (")" if ", " in call else "")       # the helper and the name it was given
    assert message == (f"{files[-1]}: line 2: {named}: {outside} is outside the folders templates may read (those of "
                       f"the files given and their subfolders: {tmp_path / 'design'}); give --jinja-include-dir "
                       f"{outside if '*' in call else outside.parent} to allow it")


def test_include_dir_option_allows_the_folder(tmp_path: Path) -> None:
    """With the folder given as a jinja include folder the same include renders and the design imports."""
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "shape.yaml").write_text(SHAPE, encoding="utf-8")
    files = _design(tmp_path, "{{ include_text('../elsewhere/shape.yaml') }}\n")
    written = import_timeloop(files, tmp_path / "out", jinja_include_dirs=[tmp_path / "elsewhere"])
    assert written["workload"].is_file()


def test_subfolders_and_other_given_folders_are_readable(tmp_path: Path) -> None:
    """A subfolder of a given file's folder, and the folder of another given file, are readable without the option."""
    (tmp_path / "design" / "shapes").mkdir(parents=True)
    (tmp_path / "design" / "shapes" / "shape.yaml").write_text(SHAPE, encoding="utf-8")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "ert.yaml").write_text("{{ include_text('../design/ert_body.yaml') }}\n", encoding="utf-8")
    files = _files(tmp_path / "design", SMALL[:SMALL.index("problem:")], prob="{{ include_text('shapes/shape.yaml') }}\n")
    (tmp_path / "design" / "ert_body.yaml").write_text(files[1].read_text(encoding="utf-8"), encoding="utf-8")
    files[1].unlink()
    written = import_timeloop([files[0], files[2], tmp_path / "other" / "ert.yaml"], tmp_path / "out")
    assert written["hardware"].is_file()


def test_symbolic_link_out_of_the_folder_is_refused(tmp_path: Path) -> None:
    """A link inside the given folder to a file outside it is refused at the file it resolves to."""
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "shape.yaml").write_text(SHAPE, encoding="utf-8")
    files = _design(tmp_path, "{{ include_text('shape.yaml') }}\n")
    (tmp_path / "design" / "shape.yaml").symlink_to(tmp_path / "elsewhere" / "shape.yaml")
    message = _refused(files, tmp_path / "out")
    assert f"include_text('shape.yaml'): {tmp_path / 'elsewhere' / 'shape.yaml'} is outside the folders" in message


@pytest.mark.parametrize("call", ["add_to_path('..')", "path_exists('../elsewhere/shape.yaml')", "find_path('/')"])
def test_path_helpers_outside_the_folders_are_refused(tmp_path: Path, call: str) -> None:
    """add_to_path, path_exists and find_path are held to the same folders (a template cannot probe the disk)."""
    files = _design(tmp_path, f"x: '{{{{ {call} }}}}'\n" + SHAPE)
    message = _refused(files, tmp_path / "out")
    assert f"prob.yaml: line 1: {call}: " in message and "is outside the folders templates may read" in message


def test_search_folder_name_leading_outside_is_passed_over_when_absent(tmp_path: Path) -> None:
    """An add_to_path folder where a name would lead outside is passed over when no file is there (found in its own)."""
    # prob.yaml in design/ adds design/ to the path, then includes sub/inc.yaml, which includes '../shape.yaml': from its
    # own folder that is design/shape.yaml; from design/ it would be tmp_path/shape.yaml, outside and absent
    (tmp_path / "design" / "sub").mkdir(parents=True)
    (tmp_path / "design" / "shape.yaml").write_text(SHAPE, encoding="utf-8")
    (tmp_path / "design" / "sub" / "inc.yaml").write_text("{{ include_text('../shape.yaml') }}\n", encoding="utf-8")
    files = _files(tmp_path / "design", SMALL[:SMALL.index("problem:")],
                   prob="{{ add_to_path(cwd()) }}{{ include_text('sub/inc.yaml') }}\n")
    assert import_timeloop(files, tmp_path / "out")["workload"].is_file()
    (tmp_path / "shape.yaml").write_text(SHAPE, encoding="utf-8")          # now there is a file outside to read
    message = _refused(files, tmp_path / "out2")
    assert f"include_text('../shape.yaml'): {tmp_path / 'shape.yaml'} is outside the folders" in message


def test_cli_option_is_repeatable_and_checked(tmp_path: Path) -> None:
    """--jinja-include-dir (repeatable) allows its folders; one that is not a folder is refused with exit 2."""
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "shape.yaml").write_text(SHAPE, encoding="utf-8")
    files = [str(p) for p in _design(tmp_path, "{{ include_text('../elsewhere/shape.yaml') }}\n")]
    out, err = io.StringIO(), io.StringIO()
    argv = ["import-timeloop", *files, "-o", str(tmp_path / "out"), "--jinja-include-dir", str(tmp_path / "design")]
    assert main([*argv, "--jinja-include-dir", str(tmp_path / "elsewhere")], out=out, err=err) == 0, err.getvalue()
    out, err = io.StringIO(), io.StringIO()
    assert main([*argv, "--jinja-include-dir", str(tmp_path / "missing"), "--force"], out=out, err=err) == 2
    assert err.getvalue() == (f"energysim: --jinja-include-dir {tmp_path / 'missing'}: not a folder (give a folder the "
                              f"templates may include from)\n")
    with pytest.raises(InputError):
        import_timeloop(files, tmp_path / "out3", jinja_include_dirs=[tmp_path / "design" / "prob.yaml"])
