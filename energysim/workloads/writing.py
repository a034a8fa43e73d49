"""Write a workload folder (``workload.toml`` + ``tensors.npz``) atomically.

Used by the importers (:mod:`energysim.workloads.onnx_import`,
:mod:`energysim.workloads.npz_import`) and the pruning export
(:mod:`energysim.prune.export`). The folder is exactly what
:func:`energysim.workloads.load_workload` reads: the whole document (layer
entries and the optional ``[provenance]`` table) is validated against the
workload schema *before* anything is written, both files are staged as
temporary files in the output folder (:class:`energysim.atomic_files.StagedFiles`)
and read back with ``load_workload``, and only then moved into place with
``os.replace`` (tensors first, TOML last). A failure at any step leaves no new
or partial file behind.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from energysim.atomic_files import StagedFiles
from energysim.config.loading import validate_model
from energysim.config.toml_writer import dumps_toml
from energysim.errors import InputError
from energysim.workloads.workload import Workload, WorkloadFile, load_workload

WORKLOAD_FILE = "workload.toml"
"""Name of the workload TOML file inside a workload folder."""

TENSORS_FILE = "tensors.npz"
"""Name of the tensors archive inside a workload folder."""

SAFE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*")
"""What a layer or array name that becomes an archive member may look like: letters, digits, ``_ . -``,
not starting with a dot (so never ``..``, never a path)."""


def safe_name(raw: str, used: set[str]) -> str:
    """A name from a file (an ONNX node, an ``.npz`` key) made safe to become an archive member, and unique.

    Every run of characters other than letters, digits, ``_``, ``.`` and ``-``
    (``/``, ``\\``, spaces, ...) becomes ``_``; leading and trailing ``_`` and
    ``.`` are dropped (so ``../../x`` becomes ``x``); an empty result becomes
    ``layer``; a name already in ``used`` gets ``_2``, ``_3``, ... The result is
    added to ``used``.
    """
    name = re.sub(r"[^A-Za-z0-9_.\-]+", "_", raw).strip("_.") or "layer"
    candidate, suffix = name, 2
    while candidate in used:
        candidate, suffix = f"{name}_{suffix}", suffix + 1
    used.add(candidate)
    return candidate


def check_member_names(arrays: dict[str, np.ndarray], folder: Path) -> None:
    """Refuse an array name that is not :data:`SAFE_NAME` (it would become a path inside ``tensors.npz``).

    Raises
    ------
    InputError
        Naming the array and the rule.
    """
    for key in arrays:
        if not isinstance(key, str) or not SAFE_NAME.fullmatch(key) or ".." in key:
            raise InputError(
                f"{folder / TENSORS_FILE}: array name {key!r} must be letters, digits, '_', '.' and '-' only, not starting "
                f"with '.' and without '..' (it becomes a member of the archive, never a path)"
            )


def workload_toml(
    name: str,
    layers: list[dict],
    description: str = "",
    source: str = "",
    tensors_file: str = TENSORS_FILE,
    provenance: dict | None = None,
) -> str:
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
    provenance
        Optional ``[provenance]`` table (``None`` values are left out; an empty
        or missing table is not written).
    """
    return dumps_toml(_document(name, layers, description, source, tensors_file, provenance))


def _document(name, layers, description, source, tensors_file, provenance) -> dict:
    document = {"schema_version": 1, "name": name, "description": description, "source": source,
                "tensors_file": tensors_file}
    kept = {k: v for k, v in (provenance or {}).items() if v is not None}
    if kept:
        document["provenance"] = kept
    document["layers"] = [{k: v for k, v in entry.items() if v is not None} for entry in layers]
    return document


def write_workload_folder(
    folder: str | Path,
    name: str,
    layers: list[dict],
    arrays: dict[str, np.ndarray],
    description: str = "",
    source: str = "",
    provenance: dict | None = None,
    compressed: bool = False,
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
        optionally ``mask_key``, ``activations_key``, densities, sparsities).
    arrays
        Arrays for ``tensors.npz`` keyed by the names the layers refer to.
    description, source
        Free text.
    provenance
        Optional ``[provenance]`` table (fields of
        :class:`energysim.workloads.workload.Provenance`), validated with the
        rest of the document.
    compressed
        Write ``tensors.npz`` zip-compressed (``numpy.savez_compressed``).

    Returns
    -------
    Workload
        The written folder as loaded by :func:`energysim.workloads.load_workload`.

    Raises
    ------
    ConfigError
        If the entries or the provenance do not form a valid workload (naming
        the field and value).
    InputError
        If an array name is unsafe (:func:`check_member_names`) or the folder cannot be written.
    """
    folder = Path(folder)
    check_member_names(arrays, folder)
    # The same schema load_workload applies, so a bad entry fails before any file exists.
    validate_model(WorkloadFile, _document(name, layers, description, source, TENSORS_FILE, provenance),
                   folder / WORKLOAD_FILE)
    text = workload_toml(name, layers, description, source, provenance=provenance)
    save = np.savez_compressed if compressed else np.savez
    try:
        created = not folder.exists()
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"output folder {str(folder)!r} cannot be created ({exc.strerror or exc})") from None
    done = False
    try:
        with StagedFiles(folder) as staged:
            tensors_tmp = staged.add(TENSORS_FILE, lambda handle: save(handle, **arrays))
            staged_text = workload_toml(name, layers, description, source, tensors_file=tensors_tmp.name,
                                        provenance=provenance)
            toml_tmp = staged.add(WORKLOAD_FILE, lambda handle: handle.write(staged_text.encode("utf-8")))
            load_workload(toml_tmp)  # read the staged pair back before anything is moved into place
            staged.add(WORKLOAD_FILE, lambda handle: handle.write(text.encode("utf-8")))
            staged.commit()  # tensors first, TOML last
        done = True
    except OSError as exc:
        raise InputError(f"output folder {str(folder)!r} cannot be written ({exc.strerror or exc})") from None
    finally:
        if created and not done:
            try:
                folder.rmdir()  # only succeeds if nothing else appeared in it
            except OSError:
                pass
    return load_workload(folder / WORKLOAD_FILE)
