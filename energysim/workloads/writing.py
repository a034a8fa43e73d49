"""Write a workload folder (``workload.toml`` + ``tensors.npz``) atomically.

Used by the importers (:mod:`energysim.workloads.onnx_import`,
:mod:`energysim.workloads.npz_import`). The folder is exactly what
:func:`energysim.workloads.load_workload` reads: every layer entry is validated
against the workload schema *before* anything is written, both files are
written to temporary files in the output folder and read back with
``load_workload``, and only then moved into place with ``os.replace`` (tensors
first, TOML last). A failure at any step leaves no new or partial file behind.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from energysim.config.loading import validate_model
from energysim.config.toml_writer import dumps_toml
from energysim.errors import InputError
from energysim.workloads.workload import Workload, WorkloadFile, load_workload

WORKLOAD_FILE = "workload.toml"
"""Name of the workload TOML file inside a workload folder."""

TENSORS_FILE = "tensors.npz"
"""Name of the tensors archive inside a workload folder."""


def workload_toml(name: str, layers: list[dict], description: str = "", source: str = "", tensors_file: str = TENSORS_FILE) -> str:
    """The text of a ``workload.toml`` naming ``tensors.npz`` (``schema_version = 1``).

    Parameters
    ----------
    name
        Workload name.
    layers
        One dict per ``[[layers]]`` entry (scalar values only; ``None`` values are left out).
    description, source
        Free text for the ``description`` and ``source`` fields.
    tensors_file
        File name written as ``tensors_file`` (relative to the TOML file).
    """
    return dumps_toml({"schema_version": 1, "name": name, "description": description, "source": source,
                       "tensors_file": tensors_file, "layers": layers})


def write_workload_folder(
    folder: str | Path,
    name: str,
    layers: list[dict],
    arrays: dict[str, np.ndarray],
    description: str = "",
    source: str = "",
) -> Workload:
    """Validate, write and read back a workload folder; return the loaded workload.

    Parameters
    ----------
    folder
        Output folder (created if missing); ``workload.toml`` and
        ``tensors.npz`` in it are replaced, other files are left alone.
    name
        Workload name.
    layers
        ``[[layers]]`` entries: ``kind``, ``name``, geometry, ``weight_key`` (and
        optionally ``mask_key``).
    arrays
        Arrays for ``tensors.npz`` keyed by the names the layers refer to.
    description, source
        Free text.

    Returns
    -------
    Workload
        The written folder as loaded by :func:`energysim.workloads.load_workload`.

    Raises
    ------
    InputError
        If the entries do not form a valid workload (naming the field and value)
        or the folder cannot be written.
    """
    folder = Path(folder)
    document = {"schema_version": 1, "name": name, "description": description, "source": source,
                "tensors_file": TENSORS_FILE, "layers": [{k: v for k, v in e.items() if v is not None} for e in layers]}
    # The same schema load_workload applies, so a bad entry fails before any file exists.
    validate_model(WorkloadFile, document, folder / WORKLOAD_FILE)
    text = workload_toml(name, layers, description, source)
    created = not folder.exists()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"output folder {str(folder)!r} cannot be created ({exc.strerror or exc})") from None
    staged: list[str] = []
    done = False
    try:
        tensors_tmp = _stage(folder, TENSORS_FILE, lambda handle: np.savez(handle, **arrays))
        staged.append(tensors_tmp)
        staged_text = workload_toml(name, layers, description, source, tensors_file=Path(tensors_tmp).name)
        toml_tmp = _stage(folder, WORKLOAD_FILE, lambda handle: handle.write(staged_text.encode("utf-8")))
        staged.append(toml_tmp)
        load_workload(toml_tmp)  # read the staged pair back before anything is moved into place
        with open(toml_tmp, "wb") as handle:
            handle.write(text.encode("utf-8"))
        os.replace(tensors_tmp, folder / TENSORS_FILE)
        staged.remove(tensors_tmp)
        os.replace(toml_tmp, folder / WORKLOAD_FILE)
        staged.remove(toml_tmp)
        done = True
    except OSError as exc:
        raise InputError(f"output folder {str(folder)!r} cannot be written ({exc.strerror or exc})") from None
    finally:
        for tmp in staged:
            Path(tmp).unlink(missing_ok=True)
        if created and not done:
            try:
                folder.rmdir()  # only succeeds if nothing else appeared in it
            except OSError:
                pass
    return load_workload(folder / WORKLOAD_FILE)


def _stage(folder: Path, final_name: str, write) -> str:
    handle_fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{final_name}.", suffix=".tmp")
    try:
        with os.fdopen(handle_fd, "wb") as handle:
            write(handle)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; a workload folder is ordinary readable output
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return tmp
