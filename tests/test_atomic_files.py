"""energysim.atomic_files: temporary file in the same folder, then os.replace; staged multi-file writes."""

from __future__ import annotations

import os
import stat

import pytest

from energysim.atomic_files import StagedFiles, write_atomic, write_bytes_atomic, write_text_atomic
from energysim.errors import InputError


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_text_and_bytes_land_with_ordinary_permissions(tmp_path):
    """write_text_atomic / write_bytes_atomic create parents, write the content, and give 0666 minus the umask (not 0600)."""
    umask = os.umask(0o022)
    os.umask(umask)
    text = write_text_atomic(tmp_path / "a" / "t.txt", "héllo\n")
    data = write_bytes_atomic(tmp_path / "b.bin", b"\x00\x01")
    assert text.read_text(encoding="utf-8") == "héllo\n" and data.read_bytes() == b"\x00\x01"
    assert _mode(text) == _mode(data) == 0o666 & ~umask
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["a", "b.bin", "t.txt"]


def test_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    """An exception inside the writer leaves the previous file byte for byte and no .tmp file."""
    path = write_text_atomic(tmp_path / "f.txt", "old")

    def broken(handle):
        handle.write(b"partial")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_atomic(path, broken)
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.txt"]


def test_staged_files_commit_in_order_and_discard_on_error(tmp_path):
    """StagedFiles moves files in the order added on commit; an error before commit leaves old files and no temporaries."""
    write_text_atomic(tmp_path / "a.txt", "old a")
    with pytest.raises(RuntimeError, match="check failed"):
        with StagedFiles(tmp_path) as staged:
            staged.add("a.txt", lambda h: h.write(b"new a"))
            staged.add("b.txt", lambda h: h.write(b"new b"))
            raise RuntimeError("check failed")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"] and (tmp_path / "a.txt").read_text() == "old a"
    with StagedFiles(tmp_path) as staged:
        staged.add("b.txt", lambda h: h.write(b"first b"))
        staged.add("a.txt", lambda h: h.write(b"new a"))
        staged.add("b.txt", lambda h: h.write(b"new b"))  # re-staging replaces the earlier temporary
        assert staged.path("a.txt").name.startswith(".a.txt.")
        assert [p.name for p in staged.commit()] == ["a.txt", "b.txt"]
    assert (tmp_path / "a.txt").read_text() == "new a" and (tmp_path / "b.txt").read_text() == "new b"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.txt"]


def test_staged_files_refuse_paths_outside_the_folder(tmp_path):
    """A staged name with a folder part raises InputError naming the folder and the name."""
    with StagedFiles(tmp_path) as staged:
        with pytest.raises(InputError, match=r"staged file name must be a plain file name inside .* \(got '\.\./x'\)"):
            staged.add("../x", lambda h: h.write(b""))
