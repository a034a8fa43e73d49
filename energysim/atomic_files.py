"""Atomic file writes: write a temporary file in the target's folder, then ``os.replace`` it into place.

Every refusal of the operating system (a file where a folder is needed, a
read-only folder, a name longer than the file system allows) becomes an
:class:`~energysim.errors.InputError` naming the path. Readers of ``path`` see either the old file or the complete new one, never a
partial file, because ``os.replace`` within one folder (one file system) is
atomic. On any error the temporary file is removed and ``path`` is left as it
was. New files get the usual permissions (0666 minus the process umask), not
the 0600 that :func:`tempfile.mkstemp` gives.

- :func:`write_atomic` takes a callable that writes to the open binary file
  (``np.savez``, ``figure.savefig``, ...); :func:`write_bytes_atomic` and
  :func:`write_text_atomic` are its shortcuts.
- :class:`StagedFiles` writes several files of one folder: each is staged as a
  temporary file, the caller may check the staged set (e.g. read it back), and
  :meth:`StagedFiles.commit` moves them into place in staging order; whatever
  is not committed is removed when the ``with`` block ends.

This is the only module that creates temporary output files; every writer of
result, model and workload files uses it.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import BinaryIO, Callable

from energysim.errors import InputError

Writer = Callable[[BinaryIO], object]
"""A callable that writes a file's content to an open binary file."""


def _umask() -> int:
    """The process umask, read without changing it where the OS allows (Linux /proc), else by setting it back."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _unwritable(path: Path, exc: OSError) -> InputError:
    """The one-line refusal of an output path the operating system will not write (naming path and reason)."""
    reason = exc.strerror or exc.__class__.__name__
    if isinstance(exc, (FileExistsError, NotADirectoryError)):
        reason += "; a file stands where a folder is needed"
    return InputError(f"{path}: cannot be written ({reason})")


def _stage(folder: Path, final_name: str, write: Writer) -> Path:
    """Write a temporary file ``.<final_name>.*.tmp`` in ``folder`` with ``write``; removed again on error.

    The temporary name keeps at most 100 characters of ``final_name``, so a final
    name close to the file system's limit does not fail on its longer temporary twin.
    """
    try:
        handle_fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{final_name[:100]}.", suffix=".tmp")
    except OSError as exc:
        raise _unwritable(folder / final_name, exc) from None
    try:
        with os.fdopen(handle_fd, "wb") as handle:
            write(handle)
        os.chmod(tmp, 0o666 & ~_umask())
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(tmp)


def write_atomic(path: str | Path, write: Writer) -> Path:
    """Write a file through a temporary sibling and ``os.replace`` it into place.

    Parameters
    ----------
    path
        Final path; missing parent folders are created.
    write
        Callable receiving the open binary temporary file.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    InputError
        If the operating system refuses the path (a file where a folder is
        needed, no permission, a name too long), naming the path and the reason.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _unwritable(path, exc) from None
    tmp = _stage(path.parent, path.name, write)
    try:
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise _unwritable(path, exc) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def write_bytes_atomic(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (see :func:`write_atomic`) and return ``path``."""
    return write_atomic(path, lambda handle: handle.write(data))


def write_text_atomic(path: str | Path, text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically in ``encoding`` (see :func:`write_atomic`) and return ``path``."""
    return write_bytes_atomic(path, text.encode(encoding))


class StagedFiles:
    """Several files of one folder staged as temporary files and moved into place together.

    Parameters
    ----------
    folder
        The folder of every file (must exist).

    Use as a context manager::

        with StagedFiles(folder) as staged:
            tensors = staged.add("tensors.npz", lambda h: np.savez(h, **arrays))
            text = staged.add("workload.toml", lambda h: h.write(data))
            check(text)         # read the staged files back
            staged.commit()     # os.replace each into place, in the order added

    Files not committed (an exception before or during :meth:`commit`) are
    removed when the block ends, so a failure leaves no temporary file. Each
    ``os.replace`` is atomic; the set is not (a crash between two replaces
    leaves the earlier files new), so add the file that readers open first
    (e.g. the TOML naming the others) last.
    """

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self._staged: dict[str, Path] = {}

    def add(self, final_name: str, write: Writer) -> Path:
        """Stage ``final_name`` (a plain file name in the folder) and return the temporary file's path.

        Staging a name again replaces its earlier temporary file and moves it
        to the end of the commit order.
        """
        if Path(final_name).name != final_name or final_name in ("", ".", ".."):
            raise InputError(f"staged file name must be a plain file name inside {str(self.folder)!r} (got {final_name!r})")
        previous = self._staged.pop(final_name, None)
        if previous is not None:
            previous.unlink(missing_ok=True)
        self._staged[final_name] = _stage(self.folder, final_name, write)
        return self._staged[final_name]

    def path(self, final_name: str) -> Path:
        """The temporary path of a staged file."""
        return self._staged[final_name]

    def commit(self) -> list[Path]:
        """Move every staged file into place in the order added; return the final paths."""
        done = []
        for final_name in list(self._staged):
            target = self.folder / final_name
            try:
                os.replace(self._staged[final_name], target)
            except OSError as exc:
                raise _unwritable(target, exc) from None
            del self._staged[final_name]
            done.append(target)
        return done

    def discard(self) -> None:
        """Remove every staged file not yet committed."""
        for tmp in self._staged.values():
            tmp.unlink(missing_ok=True)
        self._staged.clear()

    def __enter__(self) -> "StagedFiles":
        return self

    def __exit__(self, *exc_info) -> None:
        self.discard()


__all__ = ["StagedFiles", "write_atomic", "write_bytes_atomic", "write_text_atomic"]
