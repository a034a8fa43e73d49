"""Packaging: bundled hwconfigs and workloads are package data found through importlib.resources,
and a wheel built from the repository runs the demo outside the checkout."""

from __future__ import annotations

import os
import subprocess
import venv
import zipfile
from importlib.resources import files
from pathlib import Path

import pytest

from energysim import catalog
from energysim.errors import InputError

REPO = Path(__file__).resolve().parents[1]


def test_bundled_names_are_the_package_data_files():
    """Every bundled name resolves to the file importlib.resources finds in energysim.bundled.*."""
    hwconfigs = files("energysim.bundled.hwconfigs")
    workloads = files("energysim.bundled.workloads")
    assert catalog.hwconfig_names() and catalog.workload_names()
    for name in catalog.hwconfig_names():
        assert catalog.hwconfig_path(name) == hwconfigs / f"{name}.toml"
    for name in catalog.workload_names():
        expected = workloads / name / "workload.toml" if name.startswith("pruned/") else workloads / f"{name}.toml"
        assert catalog.workload_path(name) == expected
    assert "pruned/mlp-digits-fine-80" in catalog.workload_names()


def test_catalog_looks_nowhere_but_importlib_resources(monkeypatch, tmp_path):
    """With importlib.resources pointed at another folder, the catalog lists and finds only that folder's files."""
    (tmp_path / "only-here.toml").write_text("")
    (tmp_path / "pruned" / "tiny").mkdir(parents=True)
    (tmp_path / "pruned" / "tiny" / "workload.toml").write_text("")
    asked: list[str] = []
    monkeypatch.setattr(catalog, "files", lambda package: asked.append(package) or tmp_path)
    assert catalog.hwconfig_names() == ["only-here"]
    assert catalog.workload_names() == ["only-here", "pruned/tiny"]
    assert catalog.hwconfig_path("only-here") == tmp_path / "only-here.toml"
    assert catalog.workload_path("pruned/tiny") == tmp_path / "pruned" / "tiny" / "workload.toml"
    with pytest.raises(InputError, match="unknown hardware config 'lecture-array'"):
        catalog.hwconfig_path("lecture-array")
    assert set(asked) == {"energysim.bundled.hwconfigs", "energysim.bundled.workloads"}


def _repository_data_files() -> set[str]:
    """Bundled data files of the checkout, as wheel member names under energysim/bundled/."""
    names = set()
    for folder in ("hwconfigs", "workloads"):
        for path in (REPO / folder).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts:
                names.add(f"energysim/bundled/{path.relative_to(REPO).as_posix()}")
    return names


def _index_reachable(python: Path, folder: Path) -> bool:
    """Whether pip can fetch the build backend (setuptools) from its package index."""
    probe = subprocess.run([str(python), "-m", "pip", "download", "--quiet", "--no-deps", "--dest", str(folder),
                            "setuptools>=68"], capture_output=True, text=True, timeout=300)
    return probe.returncode == 0


@pytest.mark.slow
def test_wheel_runs_the_demo_from_an_empty_folder(tmp_path):
    """A wheel of the repository holds every bundled file; installed in a fresh venv it lists the
    hwconfigs, finds them inside its site-packages and runs `energysim demo --quick` from an empty folder."""
    if not (REPO / "pyproject.toml").is_file():
        pytest.skip("not run from a source checkout: there is no repository to build a wheel from")
    env_dir = tmp_path / "venv"
    try:
        venv.create(env_dir, with_pip=True)
    except (OSError, subprocess.CalledProcessError) as error:
        pytest.skip(f"cannot create a venv with pip here ({error})")
    python = env_dir / "bin" / "python"
    if not _index_reachable(python, tmp_path / "probe"):
        pytest.skip("pip cannot reach a package index (no network?): the wheel build needs setuptools from it")
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "VIRTUAL_ENV")}

    def check(*argv: str | Path, cwd: Path = tmp_path, timeout_s: int = 900) -> str:
        done = subprocess.run([str(a) for a in argv], cwd=cwd, env=env, capture_output=True, text=True,
                              timeout=timeout_s)
        assert done.returncode == 0, f"{argv} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
        return done.stdout

    check(python, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", tmp_path / "dist", REPO)
    (wheel,) = (tmp_path / "dist").glob("energysim-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        missing = _repository_data_files() - set(archive.namelist())
    assert not missing, f"bundled files left out of the wheel: {sorted(missing)}"
    check(python, "-m", "pip", "install", "--quiet", wheel)

    empty = tmp_path / "empty"
    empty.mkdir()
    energysim = env_dir / "bin" / "energysim"
    listed = check(energysim, "list", "hwconfigs", cwd=empty).split()
    assert set(catalog.hwconfig_names()) <= set(listed)
    folder = Path(check(python, "-c", "from energysim import catalog; print(catalog.hwconfig_folder())", cwd=empty)
                  .strip())
    assert folder.is_relative_to(env_dir) and not folder.is_relative_to(REPO)
    check(energysim, "demo", "--quick", cwd=empty)
    assert (empty / "energysim-demo" / "report.html").stat().st_size > 0
