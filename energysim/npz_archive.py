"""Read ``.npz`` archives defensively: headers first, data only within the budget, never a pickle.

Every ``.npz`` energysim reads (a workload's ``tensors.npz``, an imported
weight file, a model folder's ``model.npz``) goes through :class:`NpzArchive`:

1. the file must be a zip archive whose members are ``<name>.npy`` arrays;
2. each member's shape and dtype come from its ``.npy`` header
   (:func:`numpy.lib.format.read_array_header_1_0` / ``_2_0``), read without
   its data, so a caller can check a member against the shape a layer needs,
   and the declared sizes against :data:`energysim.limits.ARRAY_BYTES`,
   before any data is read;
3. only numeric dtypes are read (bool, integer, float): object arrays (which
   would need a pickle), complex values (which would be truncated to their real
   part), strings, dates and structured records are refused;
4. a truncated or corrupt member (a short read, a bad CRC, a bad deflate
   stream) becomes a one-line error naming the file and the member.
"""

from __future__ import annotations

import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from energysim.errors import EnergySimError, InputError
from energysim.limits import ARRAY_BYTES

NUMERIC_KINDS = "biuf"
"""NumPy dtype kinds read: bool, signed and unsigned integer, float."""

_MAX_HEADER_BYTES = 10_000
"""Largest ``.npy`` header accepted (NumPy's own default limit)."""

_READ_ERRORS = (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error, NotImplementedError, RuntimeError)
"""What a corrupt or truncated archive raises while being read."""


@dataclass(frozen=True)
class Member:
    """One array of the archive as its header declares it.

    Attributes
    ----------
    name
        Array name (the member name without ``.npy``).
    shape
        Declared shape.
    dtype
        Declared dtype.
    """

    name: str
    shape: tuple[int, ...]
    dtype: np.dtype

    @property
    def nbytes(self) -> int:
        """Bytes the array takes once read."""
        count = 1
        for dim in self.shape:
            count *= int(dim)
        return count * self.dtype.itemsize


class NpzArchive:
    """An open ``.npz`` archive whose members are known by their headers only.

    Parameters
    ----------
    path
        The archive.
    error
        Exception class of every refusal (``ConfigError`` for a workload's
        tensors file, ``InputError`` for an import).
    label
        How messages name the file (default: the path).
    owner
        How messages about one array name its origin when a field is given
        (default ``label``): a workload's tensors are named by the workload
        file and the layer field, ``w.toml: layers[0].weight_key: array 'w' ...``.

    Raises
    ------
    error
        If the file is missing, not a zip archive, holds a member that is not a
        readable ``.npy`` array, or declares more than the memory budget in total.

    Use as a context manager; :meth:`read` returns one array.
    """

    def __init__(self, path: str | Path, error: type[EnergySimError] = InputError, label: str | None = None,
                 owner: str | None = None):
        self.path = Path(path)
        self.error = error
        self.label = label or str(self.path)
        self.owner = owner or self.label
        if self.path.is_dir():
            raise error(f"{self.label}: is a folder, not an .npz archive")
        if self.path.exists() and not self.path.is_file():
            raise error(f"{self.label}: is not a regular file (a device, FIFO or socket, which could be read forever or block)")
        try:
            self._zip = zipfile.ZipFile(self.path)
        except FileNotFoundError:
            raise error(f"{self.label}: file not found") from None
        except zipfile.BadZipFile:
            raise error(f"{self.label}: not an .npz archive (not a zip file, or truncated)") from None
        except _READ_ERRORS as exc:
            raise error(f"{self.label}: not a readable .npz archive ({_reason(exc)})") from None
        try:
            self.members = self._read_headers()
        except BaseException:
            self._zip.close()
            raise
        total = sum(member.nbytes for member in self.members.values())
        ARRAY_BYTES.check(f"{self.label}: the declared size of its arrays", total, error)

    def _read_headers(self) -> dict[str, Member]:
        members: dict[str, Member] = {}
        for info in self._zip.infolist():
            if info.is_dir():
                continue
            if not info.filename.endswith(".npy"):
                raise self.error(f"{self.label}: member {info.filename!r} is not a .npy array (an .npz holds only .npy members)")
            name = info.filename[: -len(".npy")]
            try:
                with self._zip.open(info) as handle:
                    version = np.lib.format.read_magic(handle)
                    if version == (1, 0):
                        shape, _, dtype = np.lib.format.read_array_header_1_0(handle, max_header_size=_MAX_HEADER_BYTES)
                    elif version == (2, 0):
                        shape, _, dtype = np.lib.format.read_array_header_2_0(handle, max_header_size=_MAX_HEADER_BYTES)
                    else:
                        raise ValueError(f".npy format version {version[0]}.{version[1]} is not read")
            except _READ_ERRORS as exc:
                raise self.error(f"{self.label}: array {name!r} has no readable .npy header ({_reason(exc)})") from None
            members[name] = Member(name, tuple(int(d) for d in shape), dtype)
        return members

    @property
    def files(self) -> list[str]:
        """Array names in archive order."""
        return list(self.members)

    def read(self, name: str, field: str = "", shape: tuple[int, ...] | None = None) -> np.ndarray:
        """Read one numeric array, after checking its declared dtype (and shape, if given).

        Parameters
        ----------
        name
            Array name.
        field
            Where the name came from (``layers[2].weight_key``), put before the rule in messages.
        shape
            The shape the caller needs; checked against the header before any data is read.

        Raises
        ------
        error
            If the array is missing, not numeric, of another shape, or corrupt.
        """
        where = self._where(name, field)
        member = self.members.get(name)
        if member is None:
            raise self.error(f"{where} is not in {self.path.name} (it has {len(self.members)} arrays)")
        self.check_dtype(name, field)
        if shape is not None and member.shape != tuple(shape):
            raise self.error(f"{where} must have shape {tuple(shape)} (got {member.shape})")
        try:
            with self._zip.open(f"{name}.npy") as handle:
                array = np.lib.format.read_array(handle, allow_pickle=False, max_header_size=_MAX_HEADER_BYTES)
        except _READ_ERRORS as exc:
            raise self.error(f"{where} cannot be read: {self.path.name} is truncated or corrupt ({_reason(exc)})") from None
        return array

    def check_dtype(self, name: str, field: str = "") -> None:
        """Refuse a member whose declared dtype is not bool, integer or float (naming the dtype)."""
        dtype = self.members[name].dtype
        if dtype.kind not in NUMERIC_KINDS or dtype.fields is not None or dtype.subdtype is not None:
            why = {"O": "object arrays need a pickle, which energysim never loads", "c": "complex values are not weights"}
            raise self.error(
                f"{self._where(name, field)} must have dtype bool, integer or float (got {dtype}{'; ' + why[dtype.kind] if dtype.kind in why else ''})"
            )

    def _where(self, name: str, field: str) -> str:
        return f"{self.owner}: {field}: array {name!r}" if field else f"{self.label}: array {name!r}"

    def close(self) -> None:
        """Close the archive."""
        self._zip.close()

    def __enter__(self) -> "NpzArchive":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{exc.__class__.__name__}: {text}" if text else exc.__class__.__name__
