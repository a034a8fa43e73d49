"""The limits on what energysim reads and allocates, written down in one place.

A hostile or careless input (``validate /dev/zero``, a 14 MB ``.npz`` that
expands to gigabytes, a layer of 1e12 x 1e12) must be refused with a message
before any memory is spent on it. Every reader asks this module, and every
refusal names the limit, its value and how to raise it.

Limits
------
``TEXT_FILE_BYTES`` (64 MiB; ``ENERGYSIM_TEXT_FILE_BYTES``)
    Largest TOML or JSON file read (hardware, workload, cost table, model.json).
``ARRAY_BYTES`` (4 GiB; ``ENERGYSIM_ARRAY_BYTES``)
    Memory budget for the arrays read from one weight or tensors file
    (``.npz``, ``.safetensors``, ``model.npz``): the sum of the sizes their
    headers declare, checked before any array data is read.
``DIMENSION`` (2**31 - 1; ``ENERGYSIM_DIMENSION``)
    Largest integer size of one layer dimension (features, channels, pixels,
    kernel, batch, GEMM m/n/k), so that every index fits a signed 32-bit integer.
``OPERAND_BITS`` (65,536; ``ENERGYSIM_OPERAND_BITS``)
    Widest operand or memory word priced by a cost table (the width scaling
    rules are power laws; far outside the published widths they mean nothing).
``LAYER_MACS`` (2**53; ``ENERGYSIM_LAYER_MACS``)
    Largest multiply-accumulate count of one layer, so that counts stay exact
    as float64 and products never pass 2**63.
``PROCESSES`` (256; ``ENERGYSIM_PROCESSES``)
    Most worker processes one command starts (``compare --jobs``, ``map
    --processes``): a pool forks all its workers at once, so ``--jobs 100000``
    would fork a hundred thousand copies of the interpreter.
``HARDWARE_VARIANTS`` (4,096; ``ENERGYSIM_HARDWARE_VARIANTS``)
    Most hardware variants one ``--set`` sweep makes (the product of its value
    lists), counted before any variant is built.

Each limit is raised (or lowered) for one process with the environment
variable named after it, e.g. ``ENERGYSIM_ARRAY_BYTES=17179869184`` for 16 GiB.
A variable set to anything but a positive integer is refused by every CLI
command as it starts (:func:`check_environment`), not only by one that reads it.
"""

from __future__ import annotations

import math
import os
import stat
from dataclasses import dataclass

from energysim.errors import InputError


@dataclass(frozen=True)
class Limit:
    """One limit: a description, a default and the environment variable that overrides it.

    Attributes
    ----------
    what
        What is limited, for messages (``largest text file read``).
    default
        Value used when the environment variable is unset.
    unit
        Unit of the value (``bytes``, ``elements``, ``MACs``).
    env
        Name of the environment variable that overrides the default.
    """

    what: str
    default: int
    unit: str
    env: str

    @property
    def value(self) -> int:
        """The limit in force: the environment variable's value, else the default.

        Raises
        ------
        InputError
            If the environment variable is set but is not a positive integer.
        """
        raw = os.environ.get(self.env)
        if raw is None or raw.strip() == "":
            return self.default
        try:
            value = int(raw.strip().replace("_", ""))
        except ValueError:
            value = 0
        if value <= 0:
            raise InputError(f"environment variable {self.env} must be a positive integer number of {self.unit} (got {raw!r})")
        return value

    def refusal(self, subject: str, size: int | float) -> str:
        """The sentence refusing ``subject`` of ``size`` units: names the limit and how to raise it."""
        return f"{subject} is {_number(size)} {self.unit}, over the {self.what} limit of {self.stated} ({self.advice})"

    @property
    def stated(self) -> str:
        """The limit in force with its unit (``67,108,864 bytes``)."""
        return f"{_number(self.value)} {self.unit}"

    @property
    def advice(self) -> str:
        """How to raise the limit."""
        return f"set the environment variable {self.env} to raise it"

    def check(self, subject: str, size: int | float, error: type[Exception] = InputError) -> None:
        """Raise ``error`` with :meth:`refusal` if ``size`` is over the limit."""
        if size > self.value:
            raise error(self.refusal(subject, size))


def _number(size: int | float) -> str:
    if isinstance(size, int):
        digits = str(abs(size))
        return f"{size:,}" if len(digits) <= 21 else f"{'-' if size < 0 else ''}{digits[0]}.{digits[1:4]}e+{len(digits) - 1}"
    return f"{size:.3g}"


TEXT_FILE_BYTES = Limit("largest text file read", 64 * 2**20, "bytes", "ENERGYSIM_TEXT_FILE_BYTES")
"""Largest TOML or JSON file read, bytes."""

ARRAY_BYTES = Limit("array memory budget per file", 4 * 2**30, "bytes", "ENERGYSIM_ARRAY_BYTES")
"""Largest total of declared array sizes read from one weight or tensors file, bytes."""

DIMENSION = Limit("largest layer dimension", 2**31 - 1, "elements", "ENERGYSIM_DIMENSION")
"""Largest size of one layer dimension."""

LAYER_MACS = Limit("largest layer", 2**53, "MACs", "ENERGYSIM_LAYER_MACS")
"""Largest multiply-accumulate count of one layer."""

OPERAND_BITS = Limit("widest operand", 65_536, "bits", "ENERGYSIM_OPERAND_BITS")
"""Widest operand or word a cost table prices."""

PROCESSES = Limit("most worker processes", 256, "processes", "ENERGYSIM_PROCESSES")
"""Most worker processes one command starts."""

HARDWARE_VARIANTS = Limit("most hardware variants of one --set sweep", 4_096, "variants", "ENERGYSIM_HARDWARE_VARIANTS")
"""Most hardware variants one ``--set`` sweep makes."""

LIMITS = (TEXT_FILE_BYTES, ARRAY_BYTES, DIMENSION, LAYER_MACS, OPERAND_BITS, PROCESSES, HARDWARE_VARIANTS)
"""Every limit, for documentation and tests."""


def check_environment() -> None:
    """Refuse a limit's environment variable that is set but not a positive integer, whether or not this run uses it.

    ``ENERGYSIM_EIE_KERNEL`` is checked too (:func:`eie_kernel_asked`).

    A typo such as ``ENERGYSIM_ARRAY_BYTES=16GiB`` would otherwise pass unnoticed
    by every command that reads no array, and fail only the one that does.

    Raises
    ------
    InputError
        Naming the variable and its value.
    """
    for limit in LIMITS:
        limit.value  # the property raises for a bad value
    eie_kernel_asked()


EIE_KERNEL_ENV = "ENERGYSIM_EIE_KERNEL"
"""Environment variable: ``numpy`` forces the numpy paths of the EIE format and engine even where numba is
installed, ``numba`` asks for the compiled ones (unset or empty: numba when installed)."""


def eie_kernel_asked() -> str:
    """``""``, ``"numba"`` or ``"numpy"``: what :data:`EIE_KERNEL_ENV` asks for (stripped, any case).

    Raises
    ------
    InputError
        If the variable holds anything else, naming it and its value.
    """
    raw = os.environ.get(EIE_KERNEL_ENV, "")
    asked = raw.strip().lower()
    if asked not in ("", "numba", "numpy"):
        raise InputError(f"environment variable {EIE_KERNEL_ENV} must be 'numba' or 'numpy' (got {raw!r})")
    return asked


def read_bounded(path, limit: Limit = TEXT_FILE_BYTES, error: type[Exception] = InputError) -> bytes:
    """Read a whole regular file, but never more than ``limit`` bytes.

    A device, FIFO or socket (``/dev/zero``, ``<(cat x)``) is refused before it is
    opened, so nothing can read forever or block on a FIFO without a writer.

    Parameters
    ----------
    path
        The file.
    limit
        The byte limit (default :data:`TEXT_FILE_BYTES`).
    error
        Exception class raised on refusal.

    Raises
    ------
    error
        If the file is not a regular file or holds more than the limit; the
        message names the file (and the limit).
    OSError
        If the file cannot be opened or read (callers turn it into their own message).
    """
    cap = limit.value
    if not stat.S_ISREG(os.stat(path).st_mode):
        raise error(f"{path}: is not a regular file (a device, FIFO or socket, which could be read forever or block)")
    with open(path, "rb") as handle:
        # ask for the file's size, not the cap: read(n) allocates n bytes first (64 MiB for a 1 kB file);
        # one byte more than the size, or than the cap, still sees a file that grew past the cap
        size = os.fstat(handle.fileno()).st_size
        data = handle.read(min(size, cap) + 1)
        if len(data) == size + 1 and size < cap:  # it grew while being read: read the rest up to the cap
            data += handle.read(cap + 1 - len(data))
    if len(data) > cap:
        raise error(f"{path}: the file holds more than {limit.stated}, the {limit.what} limit ({limit.advice})")
    return data


def check_shape(subject: str, shape, itemsize: int = 8, error: type[Exception] = InputError) -> int:
    """Check a shape declared before its array is allocated: every size a positive integer within :data:`DIMENSION`,
    and the array's bytes within :data:`ARRAY_BYTES`.

    Parameters
    ----------
    subject
        What the shape belongs to, for messages (``tensor 'fc.weight' of big.pt``).
    shape
        The declared sizes (any sequence of integers; a bool or a float is refused).
    itemsize
        Bytes per element of the array that would be allocated (8 for float64).
    error
        Exception class raised on refusal.

    Returns
    -------
    int
        The element count.

    Raises
    ------
    error
        If a size is not a positive integer, is over the dimension limit, or the
        array would be over the memory budget; the message names the subject,
        the shape and the limit.
    """
    sizes = tuple(shape)
    if not all(hasattr(d, "__index__") and not isinstance(d, bool) and d >= 1 for d in sizes):
        raise error(f"{subject}: shape must be positive integers (got {sizes})")
    sizes = tuple(int(d) for d in sizes)
    for size in sizes:
        DIMENSION.check(f"{subject}: a size of shape {sizes}", size, error)
    count = math.prod(sizes)
    ARRAY_BYTES.check(f"{subject}: the array of shape {sizes}", count * itemsize, error)
    return count
