"""Masks back to PyTorch: a state dict that torch.nn.utils.prune.custom_from_mask applies, reproducing the masks."""

from __future__ import annotations

import argparse
import copy
import io

import numpy as np
import pytest

from energysim.errors import InputError

torch = pytest.importorskip("torch", reason="mask export to torch needs PyTorch (pip install 'energysim[torch]')")
from torch import nn  # noqa: E402
from torch.nn.utils import prune  # noqa: E402

from energysim import from_torch  # noqa: E402
from energysim.formats.torch_masks import apply_masks, save_masks, workload_masks  # noqa: E402
from energysim.workloads import load_workload  # noqa: E402
from energysim.workloads.import_commands import register_export_masks  # noqa: E402


def _model() -> nn.Module:
    torch.manual_seed(8)
    return nn.Sequential(nn.Conv2d(2, 6, 3, groups=2), nn.ReLU(), nn.Conv1d(6, 4, 1), nn.Flatten(), nn.Linear(4 * 16, 5))


class _Reshape(nn.Module):
    def forward(self, x):
        return x.flatten(2)


@pytest.fixture(scope="module")
def pruned():
    """A model pruned three ways, its unpruned twin, and the workload energysim reads from it."""
    model = _model()
    model[2] = nn.Sequential(_Reshape(), nn.Conv1d(6, 4, 1))
    dense = copy.deepcopy(model)
    prune.l1_unstructured(model[0], "weight", amount=0.5)
    prune.ln_structured(model[2][1], "weight", amount=0.5, n=2, dim=0)
    prune.random_unstructured(model[4], "weight", amount=0.8)
    return model, dense, from_torch(model.eval(), torch.randn(1, 2, 6, 6))


def _masks_of(model) -> dict[str, np.ndarray]:
    return {name: buffer.numpy() for name, buffer in model.named_buffers() if name.endswith("weight_mask")}


def test_custom_from_mask_reproduces_the_masks(pruned, tmp_path):
    """The saved state dict, applied to the unpruned twin with prune.custom_from_mask per key, gives the original weight_mask buffers."""
    model, dense, workload = pruned
    dense = copy.deepcopy(dense)
    save_masks(workload, tmp_path / "masks.pt")
    state = torch.load(tmp_path / "masks.pt", weights_only=True)
    assert set(state) == {"0.weight_mask", "2.1.weight_mask", "4.weight_mask"}
    for key, mask in state.items():
        module = dense.get_submodule(key[: -len(".weight_mask")])
        prune.custom_from_mask(module, "weight", mask.reshape(module.weight.shape))
    expected, got = _masks_of(model), _masks_of(dense)
    assert set(got) == set(expected)
    for name in expected:
        np.testing.assert_array_equal(got[name], expected[name])
    torch.testing.assert_close(dense[4].weight, model[4].weight)


def test_apply_masks_helper_and_unmasked_layers(pruned):
    """apply_masks does the same for every key; a layer with weights but no mask exports its non-zero pattern."""
    model, dense, workload = pruned
    masks = workload_masks(workload)
    twin = copy.deepcopy(dense)
    assert apply_masks(twin, masks) == ["0", "2.1", "4"]
    for name, mask in _masks_of(model).items():
        np.testing.assert_array_equal(_masks_of(twin)[name], mask)
    plain = from_torch(nn.Sequential(nn.Linear(3, 2)), torch.randn(1, 3))
    weights = plain.tensors["0"].weights
    np.testing.assert_array_equal(workload_masks(plain)["0.weight_mask"], (weights != 0).astype(np.float32))


def test_export_masks_command(pruned, tmp_path):
    """`energysim export-masks FOLDER -o masks.pt` writes the masks of an imported workload folder and lists each layer."""
    model, _, workload = pruned
    from_torch(model, torch.randn(1, 2, 6, 6), out_dir=tmp_path / "w")
    parser = argparse.ArgumentParser()
    register_export_masks(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["export-masks", str(tmp_path / "w"), "-o", str(tmp_path / "m.pt")])
    out = io.StringIO()
    assert args.handler(args, out) == 0
    state = torch.load(tmp_path / "m.pt", weights_only=True)
    np.testing.assert_array_equal(state["4.weight_mask"].numpy(), model[4].weight_mask.numpy())
    assert "4.weight_mask: shape (5, 64), 64 of 320 kept (20.0%)" in out.getvalue()
    with pytest.raises(InputError, match=r"-o: .*m\.pt already exists"):
        args.handler(args, out)


def test_export_masks_through_the_cli(pruned, tmp_path):
    """`energysim export-masks` is a registered subcommand: exit 0 and a file; a geometry-only source exits 2 with one line."""
    from energysim.cli import main

    model, _, _ = pruned
    from_torch(model, torch.randn(1, 2, 6, 6), out_dir=tmp_path / "w")
    out, err = io.StringIO(), io.StringIO()
    assert main(["export-masks", str(tmp_path / "w"), "-o", str(tmp_path / "m.pt")], out=out, err=err) == 0, err.getvalue()
    assert set(torch.load(tmp_path / "m.pt", weights_only=True)) == {"0.weight_mask", "2.1.weight_mask", "4.weight_mask"}
    err = io.StringIO()
    assert main(["export-masks", "lenet-300-100", "-o", str(tmp_path / "g.pt")], out=io.StringIO(), err=err) == 2
    assert len(err.getvalue().splitlines()) == 1 and "carries no weight tensors" in err.getvalue()
    assert not (tmp_path / "g.pt").exists()


def test_geometry_only_workload_and_bad_suffix_are_refused(tmp_path):
    """A workload without tensors has no masks to export; a mask file not ending in .pt/.pth is refused."""
    geometry = load_workload(__import__("energysim").catalog.workload_path("lenet-300-100"))
    with pytest.raises(InputError, match=r"workload 'lenet-300-100' carries no weight tensors"):
        workload_masks(geometry)
    plain = from_torch(nn.Sequential(nn.Linear(3, 2)), torch.randn(1, 3))
    with pytest.raises(InputError, match=r"masks\.npz: a mask file must end in \.pt or \.pth"):
        save_masks(plain, tmp_path / "masks.npz")
