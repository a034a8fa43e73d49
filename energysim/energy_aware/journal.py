"""The resume journal of an energy-aware pruning job: ``energy-aware.jsonl`` in the output folder.

One JSON record per line, appended and flushed as work finishes:

``{"kind": "sensitivity", "key": K, "rows": [...], "base": {...}, "rewards": [...]}``
    The measured sensitivity table of job key ``K``.
``{"kind": "step", "key": K, "plan": P, "round": r, "step": i, "model": "steps/<P>-<i>"}``
    Step ``i`` of the prune-and-fine-tune plan ``P`` (a digest of the layers,
    their options and the epochs) is done; the model after it is saved in that
    sub-folder (``model.json`` + ``model.npz``). Only the same plan reuses it.

The key covers the trained model's arrays, the hardware run's fingerprint and
every setting, so a record is reused only by the same job. A cut last line
(no newline) is ignored and its work redone.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from energysim.config.loading import parse_json
from energysim.errors import InputError
from energysim.prune.models import Model

JOURNAL_FILE = "energy-aware.jsonl"
"""Name of the journal inside the output folder."""


def job_key(model: Model, hardware_print: str, settings: dict) -> str:
    """A digest of the model's arrays, the hardware run and the job settings."""
    digest = hashlib.sha256()
    for name, array in sorted(model.arrays().items()):
        digest.update(name.encode())
        digest.update(np.ascontiguousarray(array).tobytes())
    digest.update(hardware_print.encode())
    digest.update(json.dumps(settings, sort_keys=True, default=str).encode())
    return digest.hexdigest()[:20]


def read_journal(folder: Path | None) -> list[dict]:
    """The complete records of the folder's journal (none without a folder or journal).

    Raises
    ------
    InputError
        Naming the journal and line, for a complete line that is not a record (not JSON, a
        key twice, nested too deeply); naming the journal, if it is there but not a file.
    """
    if folder is None:
        return []
    path = folder / JOURNAL_FILE
    if path.exists() and not path.is_file():
        raise InputError(f"{path}: is not a file (a folder?); remove it or give a new output folder")
    if not path.is_file():
        return []
    lines = path.read_text(encoding="utf-8", errors="replace").split("\n")
    records = []
    for number, line in enumerate(lines[:-1], start=1):
        try:  # NaN is a missing figure
            record = parse_json(line, f"{path}: line {number}", InputError, allow_nan=True)
        except InputError:
            record = None
        if not isinstance(record, dict) or "kind" not in record or "key" not in record:
            raise InputError(f"{path}: line {number} is not an energy-aware journal record (got {line[:40]!r}); "
                             "remove the file or give a new output folder")
        records.append(record)
    return records


def append_record(folder: Path | None, record: dict) -> None:
    """Append one record to the folder's journal and flush it to disk (no-op without a folder)."""
    if folder is None:
        return
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / JOURNAL_FILE).open("a", encoding="utf-8") as stream:
        stream.write(json.dumps(record, default=_plain) + "\n")
        stream.flush()
        os.fsync(stream.fileno())


def _plain(value):
    """JSON for numpy scalars."""
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
