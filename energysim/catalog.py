"""The bundled hardware configs and workloads, found by name or path.

Bundled files are package data: ``energysim.bundled.hwconfigs`` and
``energysim.bundled.workloads`` (the repository's ``hwconfigs/`` and
``workloads/`` folders, mapped there by ``setup.py``), found through
:mod:`importlib.resources` in a wheel, a ``pip install .`` or an editable
install alike. A name such as ``lecture-array`` resolves to
``lecture-array.toml`` in the bundled hwconfigs; any argument ending in
``.toml`` (or naming an existing file or folder) is taken as a path; a
workload folder is one energysim writes (:data:`WORKLOAD_IN_FOLDER`).
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from energysim.errors import InputError


def _bundled_folder(package: str) -> Path:
    """File-system folder of a bundled-data package (``energysim.bundled.*``)."""
    folder = files(package)
    if not isinstance(folder, Path):
        raise InputError(f"bundled package {package} is not on the file system ({folder}): install energysim unzipped")
    return folder


def _names(folder: Path) -> list[str]:
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.glob("*.toml"))


def hwconfig_folder() -> Path:
    """Folder of the bundled hardware configs (package ``energysim.bundled.hwconfigs``)."""
    return _bundled_folder("energysim.bundled.hwconfigs")


def workload_folder() -> Path:
    """Folder of the bundled workloads (package ``energysim.bundled.workloads``)."""
    return _bundled_folder("energysim.bundled.workloads")


def hwconfig_names() -> list[str]:
    """Names of the bundled hardware configs."""
    return _names(hwconfig_folder())


def workload_names() -> list[str]:
    """Names of the bundled workloads: TOML files, and folders holding a workload.toml (``pruned/NAME``)."""
    root = workload_folder()
    folders = sorted(p.parent.relative_to(root).as_posix() for p in root.glob("*/*/workload.toml"))
    return _names(root) + folders


WORKLOAD_IN_FOLDER = ("workload.toml", "workload/workload.toml")
"""Where a workload lies in the folders energysim writes: ``prune --out D`` (``D/workload.toml``) and
``prune --energy-budget B --out D`` (``D/workload/workload.toml``); the first found is taken."""


def workload_in_folder(folder: Path) -> Path | None:
    """The workload file of a folder energysim wrote (:data:`WORKLOAD_IN_FOLDER`), or None."""
    for relative in WORKLOAD_IN_FOLDER:
        if (folder / relative).is_file():
            return folder / relative
    return None


def _folder_refusal(what: str, name_or_path: str, path: Path) -> str:
    """Why a folder is not a config file of kind ``what``: one sentence naming what it lacks."""
    if what != "workload":
        return f"{what} {name_or_path!r} is a folder, not a .toml file"
    if (path / "model.json").is_file():
        return (f"workload {name_or_path!r} is a numpy model folder (model.json), not a workload: pass it to energysim "
                "estimate/run/compare --workload (which export it), or export it with energysim prune --out")
    return (f"workload {name_or_path!r} is a folder holding no workload: a workload folder holds "
            f"{' or '.join(WORKLOAD_IN_FOLDER)} (what energysim prune --out writes) or model.json (energysim train)")


def _resolve(name_or_path: str, folder: Path, what: str, names: list[str]) -> Path:
    path = Path(name_or_path)
    found = workload_in_folder(path) if what == "workload" and path.is_dir() else None
    if found is not None:
        return found
    if path.suffix == ".toml" or path.exists():
        if path.is_dir():
            raise InputError(_folder_refusal(what, name_or_path, path))
        if not path.is_file():
            raise InputError(f"{what} file {name_or_path!r} does not exist")
        return path
    candidate = folder / f"{name_or_path}.toml"
    if candidate.is_file():
        return candidate
    bundled = workload_in_folder(folder / name_or_path) if what == "workload" else None
    if bundled is not None:
        return bundled
    listing = ", ".join(names) or "none found"
    raise InputError(f"unknown {what} {name_or_path!r}: give a .toml path or a bundled name ({listing})")


def hardware_spec(spec: str) -> tuple[Path, dict[str, str]]:
    """Split ``NAME[:MODE]`` (e.g. ``a100:sparse_2_4``) into a hwconfig path and engine options."""
    name, _, mode = spec.partition(":")
    return hwconfig_path(name), ({"mode": mode} if mode else {})


def hwconfig_path(name_or_path: str) -> Path:
    """Path of a hardware config given by bundled name or path."""
    return _resolve(name_or_path, hwconfig_folder(), "hardware config", hwconfig_names())


def workload_path(name_or_path: str) -> Path:
    """Path of a workload given by bundled name, path, or a folder energysim wrote (:data:`WORKLOAD_IN_FOLDER`)."""
    return _resolve(name_or_path, workload_folder(), "workload", workload_names())
