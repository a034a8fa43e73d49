"""The bundled hardware configs and workloads, found by name or path.

Bundled files live in the ``hwconfigs/`` and ``workloads/`` folders of the
source tree (next to the ``energysim`` package). A name such as
``lecture-array`` resolves to ``hwconfigs/lecture-array.toml``; any argument
ending in ``.toml`` (or naming an existing file or folder) is taken as a path.
"""

from __future__ import annotations

from pathlib import Path

from energysim.errors import InputError

ROOT = Path(__file__).resolve().parent.parent
HWCONFIG_DIR = ROOT / "hwconfigs"
WORKLOAD_DIR = ROOT / "workloads"


def _names(folder: Path) -> list[str]:
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.glob("*.toml"))


def hwconfig_names() -> list[str]:
    """Names of the bundled hardware configs."""
    return _names(HWCONFIG_DIR)


def workload_names() -> list[str]:
    """Names of the bundled workloads: TOML files, and folders holding a workload.toml (``pruned/NAME``)."""
    folders = sorted(str(p.parent.relative_to(WORKLOAD_DIR)) for p in WORKLOAD_DIR.glob("*/*/workload.toml"))
    return _names(WORKLOAD_DIR) + folders


def _resolve(name_or_path: str, folder: Path, what: str, names: list[str]) -> Path:
    path = Path(name_or_path)
    if path.is_dir() and (path / "workload.toml").is_file():
        return path / "workload.toml"
    if path.suffix == ".toml" or path.exists():
        if not path.is_file():
            raise InputError(f"{what} file {name_or_path!r} does not exist")
        return path
    candidate = folder / f"{name_or_path}.toml"
    if candidate.is_file():
        return candidate
    if (folder / name_or_path / "workload.toml").is_file():
        return folder / name_or_path / "workload.toml"
    listing = ", ".join(names) or "none found"
    raise InputError(f"unknown {what} {name_or_path!r}: give a .toml path or a bundled name ({listing})")


def hardware_spec(spec: str) -> tuple[Path, dict[str, str]]:
    """Split ``NAME[:MODE]`` (e.g. ``a100:sparse_2_4``) into a hwconfig path and engine options."""
    name, _, mode = spec.partition(":")
    return hwconfig_path(name), ({"mode": mode} if mode else {})


def hwconfig_path(name_or_path: str) -> Path:
    """Path of a hardware config given by bundled name or path."""
    return _resolve(name_or_path, HWCONFIG_DIR, "hardware config", hwconfig_names())


def workload_path(name_or_path: str) -> Path:
    """Path of a workload given by bundled name, path, or pruned-workload folder."""
    return _resolve(name_or_path, WORKLOAD_DIR, "workload", workload_names())
