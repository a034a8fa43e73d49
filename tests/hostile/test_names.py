"""Unsafe names (issue 13, class 6): a name from a file becomes an archive member only after it is made safe."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest

from energysim.errors import InputError
from energysim.workloads.npz_import import import_weights
from energysim.workloads.writing import SAFE_NAME, safe_name, write_workload_folder


def test_safe_name_drops_path_steps_and_keeps_names_unique():
    """'../../../../x' becomes 'x', separators become '_', a name taken twice gets '_2', an empty one 'layer'."""
    used: set[str] = set()
    assert safe_name("../../../../x", used) == "x"
    assert safe_name("a/b", used) == "a_b"
    assert safe_name("a\\b", used) == "a_b_2"
    assert safe_name("..", used) == "layer"
    assert all(SAFE_NAME.fullmatch(name) for name in used)


def test_npz_import_turns_escaping_layer_names_into_plain_members(tmp_path):
    """An .npz whose keys are '../../../../x.weight' and 'a/b.weight' imports as layers 'x' and 'a_b', members inside tensors.npz only."""
    source = tmp_path / "in" / "m.npz"
    source.parent.mkdir()
    np.savez(source, **{"../../../../x.weight": np.ones((4, 8)), "a/b.weight": np.ones((2, 4))})
    out = tmp_path / "deep" / "er" / "out"
    result = import_weights(source, out)
    assert [layer.name for layer in result.workload.layers] == ["x", "a_b"]
    with zipfile.ZipFile(out / "tensors.npz") as archive:
        assert sorted(archive.namelist()) == ["a_b.weight.npy", "x.weight.npy"]
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["m.npz", "tensors.npz", "workload.toml"]


@pytest.mark.parametrize("key", ["../evil.weight", "/abs.weight", ".hidden.weight", "a/../b.weight", "a..b"])
def test_workload_writer_refuses_unsafe_member_names(tmp_path, key):
    """Every writer of tensors.npz refuses an array name that could be a path, before writing anything."""
    layer = {"kind": "linear", "name": "fc", "in_features": 8, "out_features": 4, "weight_key": key}
    with pytest.raises(InputError, match="becomes a member of the archive, never a path"):
        write_workload_folder(tmp_path / "out", "w", [layer], {key: np.ones((4, 8))})
    assert not (tmp_path / "out").exists()
