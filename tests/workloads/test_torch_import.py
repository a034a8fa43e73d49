"""energysim.from_torch: small torch models built here, traced with torch.export into workloads."""

from __future__ import annotations

import numpy as np
import pytest

from energysim.errors import InputError

torch = pytest.importorskip("torch", reason="the torch importer's tests need PyTorch (pip install 'energysim[torch]')")
from torch import nn  # noqa: E402
from torch.nn.utils import parametrize, prune  # noqa: E402

from energysim.workloads.torch_import import from_torch  # noqa: E402


def _array(tensor) -> np.ndarray:
    return tensor.detach().double().numpy()


class _ConvNet(nn.Module):
    """conv (stride 2, pad 1) -> depthwise conv -> dilated 1-D conv on a reshaped map -> linear."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, stride=2, padding=1)
        self.depthwise = nn.Conv2d(8, 8, 3, padding=1, groups=8)
        self.grouped = nn.Conv1d(8, 4, 3, dilation=2, groups=2, padding=2)
        self.fc = nn.Linear(4 * 16, 10)

    def forward(self, x):
        y = torch.relu(self.conv(x))
        y = self.depthwise(y).flatten(2)  # (N, 8, 16)
        return self.fc(self.grouped(y).flatten(1))


@pytest.fixture(scope="module")
def convnet():
    torch.manual_seed(0)
    model = _ConvNet().eval()
    return model, from_torch(model, torch.randn(2, 3, 8, 8), name="convnet")


def test_layers_shapes_and_weights_are_traced(convnet):
    """Conv2d, depthwise Conv2d, a dilated grouped Conv1d and Linear become conv2d / grouped_conv2d / linear with traced sizes and exact weights."""
    model, workload = convnet
    assert workload.name == "convnet" and workload.path is None
    conv, depthwise, grouped, fc = workload.layers
    assert [l.name for l in workload.layers] == ["conv", "depthwise", "grouped", "fc"]
    assert (conv.kind, conv.in_height, conv.stride, conv.padding, conv.batch, conv.out_height) == ("conv2d", 8, 2, 1, 2, 4)
    assert (depthwise.kind, depthwise.groups, depthwise.in_channels, depthwise.in_height, depthwise.padding) == (
        "grouped_conv2d", 8, 8, 4, 1)
    assert (grouped.kind, grouped.groups, grouped.dilation, grouped.in_height, grouped.kernel_height,
            grouped.in_width, grouped.out_width) == ("grouped_conv2d", 2, 2, 1, 1, 20, 16)
    assert (fc.kind, fc.in_features, fc.out_features, fc.batch) == ("linear", 64, 10, 2)
    np.testing.assert_array_equal(workload.tensors["conv"].weights, _array(model.conv.weight))
    np.testing.assert_array_equal(workload.tensors["grouped"].weights, _array(model.grouped.weight)[:, :, None, :])
    np.testing.assert_array_equal(workload.tensors["fc"].weights, _array(model.fc.weight))


def test_traced_macs_match_the_modules(convnet):
    """Each layer's MACs equal the module's own count: output elements x (in_channels / groups) x kernel taps."""
    model, workload = convnet
    x = torch.randn(2, 3, 8, 8)
    a = torch.relu(model.conv(x))
    b = model.depthwise(a).flatten(2)
    c = model.grouped(b)
    expected = [a.numel() * 3 * 9, model.depthwise(a).numel() * 1 * 9, c.numel() * 4 * 3, 2 * 64 * 10]
    assert [layer.loop_nest().macs for layer in workload.layers] == expected


def test_torch_prune_masks_are_read():
    """l1_unstructured on a Linear and random_structured on a Conv2d: masks equal weight_mask and weights equal weight_orig * mask."""
    torch.manual_seed(1)
    model = nn.Sequential(nn.Conv2d(2, 6, 3), nn.ReLU(), nn.Flatten(), nn.Linear(6 * 4 * 4, 5)).eval()
    prune.l1_unstructured(model[3], "weight", amount=0.6)
    prune.random_structured(model[0], "weight", amount=0.5, dim=0)
    workload = from_torch(model, torch.randn(1, 2, 6, 6))
    for index, name in ((0, "0"), (3, "3")):
        tensors = workload.tensors[name]
        np.testing.assert_array_equal(tensors.mask, model[index].weight_mask.bool().numpy())
        np.testing.assert_array_equal(tensors.weights, _array(model[index].weight_orig * model[index].weight_mask))
    layer = workload.layers[1]
    assert layer.mask_key == "3.mask" and layer.measured_sparsity == pytest.approx(0.6, abs=1 / 480)


class _Mask(nn.Module):
    def __init__(self, mask) -> None:
        super().__init__()
        self.register_buffer("mask", mask)

    def forward(self, weight):
        return weight * self.mask


def test_parametrized_mask_is_read():
    """A register_parametrization mask (weight * mask) gives the layer its mask and masked weights, named after the module."""
    torch.manual_seed(2)
    model = nn.Sequential(nn.Linear(12, 8)).eval()
    keep = (torch.rand(8, 12) > 0.7).float()
    parametrize.register_parametrization(model[0], "weight", _Mask(keep))
    workload = from_torch(model, torch.randn(3, 12))
    (layer,) = workload.layers
    assert (layer.name, layer.batch, layer.mask_key) == ("0", 3, "0.mask")
    np.testing.assert_array_equal(workload.tensors["0"].mask, keep.bool().numpy())
    np.testing.assert_array_equal(workload.tensors["0"].weights,
                                  _array(model[0].parametrizations.weight.original * keep))


class _Attention(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(16, 4, batch_first=True)
        self.head = nn.Linear(16, 3)

    def forward(self, x):
        y, _ = self.attn(x, x, x, need_weights=False)
        q = y.view(2, 6, 4, 4).transpose(1, 2)
        scores = q @ q.transpose(-1, -2)  # an explicit activation x activation matmul
        return self.head(y), scores


def test_attention_matmuls_are_batched_matmuls():
    """MultiheadAttention gives in_proj/out_proj linears over 2 x 6 tokens and scores/context batched matmuls (8 = batch x heads); q @ k^T too."""
    workload = from_torch(_Attention().eval(), torch.randn(2, 6, 16))
    kinds = {l.name: l for l in workload.layers}
    assert (kinds["attn.in_proj"].kind, kinds["attn.in_proj"].out_features, kinds["attn.in_proj"].batch) == ("linear", 48, 12)
    scores, context = kinds["attn.scores"], kinds["attn.context"]
    assert (scores.kind, scores.batch, scores.m, scores.k, scores.n) == ("batched_matmul", 8, 6, 4, 6)
    assert (context.batch, context.m, context.k, context.n) == (8, 6, 6, 4)
    assert (kinds["matmul"].kind, kinds["matmul"].batch, kinds["matmul"].m, kinds["matmul"].k) == ("batched_matmul", 8, 6, 4)
    assert scores.weight_key is None and "attn.scores" not in (workload.tensors or {})


def test_shrunk_model_keeps_its_geometry():
    """A channel-pruned (Torch-Pruning-style, physically smaller) conv + linear import with their smaller shapes and sliced weights."""
    torch.manual_seed(3)
    full = nn.Sequential(nn.Conv2d(3, 8, 3), nn.Flatten(), nn.Linear(8 * 4 * 4, 4))
    keep = torch.tensor([0, 2, 3, 7])
    shrunk = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten(), nn.Linear(4 * 4 * 4, 4)).eval()
    with torch.no_grad():
        shrunk[0].weight.copy_(full[0].weight[keep])
        shrunk[2].weight.copy_(full[2].weight.view(4, 8, 16)[:, keep].reshape(4, 64))
    workload = from_torch(shrunk, torch.randn(1, 3, 6, 6))
    conv, fc = workload.layers
    assert (conv.out_channels, fc.in_features) == (4, 64)
    np.testing.assert_array_equal(workload.tensors["0"].weights, _array(full[0].weight[keep]))


def test_semi_structured_weights_give_their_mask():
    """A Linear whose weight is a 2:4 semi-structured tensor imports with that 2:4 pattern as its mask."""
    from torch.sparse import to_sparse_semi_structured

    dense = torch.tensor([[1.0, 0.0, 2.0, 0.0] * 16] * 64, dtype=torch.float16)
    try:
        sparse = to_sparse_semi_structured(dense)
    except (RuntimeError, ValueError) as exc:  # CPU builds of torch refuse semi-structured tensors
        pytest.skip(f"to_sparse_semi_structured is not available here: {str(exc).splitlines()[0]}")
    model = nn.Sequential(nn.Linear(64, 64, bias=False))
    model[0].weight = nn.Parameter(sparse, requires_grad=False)
    workload = from_torch(model, torch.randn(8, 64, dtype=torch.float16))
    np.testing.assert_array_equal(workload.tensors["0"].mask, (dense != 0).numpy())


def test_bad_arguments_are_one_line_input_errors():
    """A non-module, a non-tensor input and a model torch.export cannot trace each raise one InputError line."""

    class Branchy(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(4, 4)

        def forward(self, x):
            return self.fc(x) if x.sum() > 0 else x  # data-dependent control flow

    with pytest.raises(InputError, match=r"must be a torch\.nn\.Module \(got str\)"):
        from_torch("model", torch.randn(1, 4))
    with pytest.raises(InputError, match=r"example_input must be a tensor.*got list"):
        from_torch(nn.Linear(4, 4), [[1.0, 2.0]])
    with pytest.raises(InputError, match=r"torch\.export could not trace the model") as caught:
        from_torch(Branchy(), torch.randn(1, 4))
    assert "\n" not in str(caught.value)


def test_out_dir_writes_a_loadable_folder(tmp_path):
    """from_torch(out_dir=...) writes workload.toml + tensors.npz that load back with the same layers and masks."""
    from energysim.workloads import load_workload

    model = nn.Sequential(nn.Linear(6, 4))
    prune.random_unstructured(model[0], "weight", amount=0.5)
    workload = from_torch(model, torch.randn(1, 6), out_dir=tmp_path / "w")
    loaded = load_workload(tmp_path / "w" / "workload.toml")
    assert loaded.layers == workload.layers
    np.testing.assert_array_equal(loaded.tensors["0"].mask, model[0].weight_mask.bool().numpy())


class _Wrapped(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.frozen = nn.Linear(4, 4)
        self.w = nn.Parameter(torch.randn(4, 6))

    def forward(self, x):
        with torch.no_grad():  # a higher-order wrapper in the exported graph
            y = self.frozen(x)
        return torch.einsum("btj,jk->btk", y, self.w), torch.einsum("bij,bkj->bik", y, y), nn.functional.linear(y, y[0])


def test_no_grad_blocks_and_einsum_are_traced():
    """A Linear inside `with torch.no_grad()` is found; einsum with a weight is a linear (weights W.T), between activations a batched matmul; F.linear by an activation too."""
    model = _Wrapped()
    workload = from_torch(model, torch.randn(2, 3, 4))
    frozen, weight, pairwise, by_activation = workload.layers
    assert (by_activation.kind, by_activation.batch, by_activation.m, by_activation.k, by_activation.n) == (
        "batched_matmul", 2, 3, 4, 3)
    assert (frozen.name, frozen.kind, frozen.batch) == ("frozen", "linear", 6)
    assert (weight.name, weight.in_features, weight.out_features, weight.batch) == ("w", 4, 6, 6)
    np.testing.assert_array_equal(workload.tensors["w"].weights, _array(model.w).T)
    assert (pairwise.kind, pairwise.batch, pairwise.m, pairwise.k, pairwise.n) == ("batched_matmul", 2, 3, 4, 3)


def test_torch_pruning_shrunk_model():
    """A model channel-pruned by Torch-Pruning (DepGraph, 50 %) imports with its shrunk conv, depthwise and linear shapes and weights."""
    tp = pytest.importorskip("torch_pruning", reason="needs Torch-Pruning (CI installs torch-pruning==1.6.1)")
    torch.manual_seed(9)
    model = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
                          nn.Conv2d(16, 16, 3, padding=1, groups=16), nn.ReLU(), nn.Conv2d(16, 32, 1), nn.ReLU(),
                          nn.Flatten(), nn.Linear(32 * 8 * 8, 10)).eval()
    x = torch.randn(1, 3, 8, 8)
    tp.pruner.MagnitudePruner(model, x, importance=tp.importance.MagnitudeImportance(p=1), pruning_ratio=0.5,
                              ignored_layers=[model[8]]).step()
    workload = from_torch(model, x)
    assert [(l.name, l.kind, l.weight_shape) for l in workload.layers] == [
        ("0", "conv2d", (8, 3, 3, 3)), ("3", "grouped_conv2d", (8, 1, 3, 3)), ("5", "conv2d", (16, 8, 1, 1)),
        ("8", "linear", (10, 1024))]
    np.testing.assert_array_equal(workload.tensors["5"].weights, _array(model[5].weight))


def _identity_relu_mlp() -> nn.Module:
    """Linear(4, 4) = identity, ReLU, Linear(4, 2): the second layer's input is relu(x) exactly."""
    model = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2)).eval()
    with torch.no_grad():
        model[0].weight.copy_(torch.eye(4))
        model[0].bias.zero_()
    return model


def test_activation_densities_are_measured_on_the_example(tmp_path):
    """from_torch records each weight layer's input non-zero fraction over the example batch (7/8 into fc1, 4/8 after the ReLU), in the written TOML too."""
    from energysim.workloads import load_workload

    x = torch.tensor([[1.0, -1.0, 0.0, 2.0], [-3.0, 4.0, 5.0, -6.0]])  # 7 of 8 non-zero; relu keeps 4
    workload = from_torch(_identity_relu_mlp(), x, out_dir=tmp_path / "w")
    assert [layer.activation_density for layer in workload.layers] == [7 / 8, 4 / 8]
    assert "activation_density of 2 weight layers measured on the example input (2x4)" in workload.description
    loaded = load_workload(tmp_path / "w" / "workload.toml")
    assert [layer.activation_density for layer in loaded.layers] == [7 / 8, 4 / 8]


def test_conv_activation_density_counts_the_relu_output():
    """A conv after a ReLU gets the ReLU output's non-zero fraction (an identity 1x1 conv, then ReLU, then a 3x3 conv)."""
    model = nn.Sequential(nn.Conv2d(2, 2, 1, bias=False), nn.ReLU(), nn.Conv2d(2, 3, 3, padding=1)).eval()
    with torch.no_grad():
        model[0].weight.copy_(torch.eye(2).reshape(2, 2, 1, 1))
    x = torch.randn(3, 2, 5, 5)
    workload = from_torch(model, x)
    expected = float(torch.count_nonzero(torch.relu(x))) / x.numel()
    assert [layer.activation_density for layer in workload.layers] == [1.0, pytest.approx(expected, rel=1e-12)]
    assert 0.2 < expected < 0.8


def test_all_zero_example_keeps_density_one_with_a_note():
    """An all-zero example cannot give a density (the field must be > 0): every layer keeps 1.0 and the description says why."""
    workload = from_torch(_identity_relu_mlp(), torch.zeros(2, 4))
    assert [layer.activation_density for layer in workload.layers] == [1.0, 1.0]
    assert "its input is all zero on the example input" in workload.description
