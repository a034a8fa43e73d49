"""Done-when check of issue 17: a torch.nn.utils.prune model in by one call estimates the same as its ONNX export."""

from __future__ import annotations

import warnings
from dataclasses import replace

import pandas as pd
import pytest

torch = pytest.importorskip("torch", reason="the torch importer's tests need PyTorch (pip install 'energysim[torch]')")
pytest.importorskip("onnx", reason="the ONNX side of the comparison needs the onnx package (pip install 'energysim[import]')")
from torch import nn  # noqa: E402
from torch.nn import functional as F  # noqa: E402
from torch.nn.utils import prune  # noqa: E402

import energysim  # noqa: E402
from energysim.workloads.onnx_import import import_onnx  # noqa: E402


class _Net(nn.Module):
    """conv -> depthwise conv (stride 2) -> pointwise conv -> 16 tokens of self-attention (2 heads) -> linear."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.dw = nn.Conv2d(8, 8, 3, padding=1, groups=8, stride=2)
        self.pw = nn.Conv2d(8, 16, 1)
        self.q, self.k, self.v = nn.Linear(16, 16), nn.Linear(16, 16), nn.Linear(16, 16)
        self.fc = nn.Linear(16 * 16, 10)

    def forward(self, x):
        tokens = self.pw(F.relu(self.dw(F.relu(self.conv(x))))).flatten(2).transpose(1, 2)  # (1, 16, 16)
        heads = [f(tokens).view(1, 16, 2, 8).transpose(1, 2) for f in (self.q, self.k, self.v)]
        return self.fc(F.scaled_dot_product_attention(*heads).transpose(1, 2).reshape(1, -1))


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    """The pruned model through energysim.from_torch and through torch.onnx.export + import_onnx."""
    folder = tmp_path_factory.mktemp("parity")
    torch.manual_seed(0)
    model = _Net().eval()
    for module in (model.conv, model.pw, model.q, model.fc):
        prune.l1_unstructured(module, "weight", amount=0.7)
    prune.ln_structured(model.k, "weight", amount=0.5, n=2, dim=0)
    x = torch.randn(1, 3, 8, 8)
    from_torch = energysim.from_torch(model, x, out_dir=folder / "torch")  # the one call
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript-based exporter is deprecated, but needs no onnxscript
        torch.onnx.export(model, (x,), str(folder / "net.onnx"), dynamo=False)
    from_onnx = import_onnx(folder / "net.onnx", folder / "onnx").workload
    return folder, from_torch, from_onnx


def test_same_layers_and_weights(both):
    """Both paths give the same kinds, geometry and weights layer by layer (names aside: ONNX names nodes, torch modules; activation densities only from_torch measures)."""
    _, a, b = both
    assert [l.kind for l in a.layers] == ["conv2d", "grouped_conv2d", "conv2d", "linear", "linear", "linear",
                                          "batched_matmul", "batched_matmul", "linear"]
    assert all(l.activation_density == 1.0 for l in b.layers)
    assert any(l.activation_density < 1.0 for l in a.layers)  # the ReLU outputs measured on the example
    skip = {"name", "weight_key", "mask_key", "measured_sparsity", "activation_density"}
    assert [l.model_dump(exclude=skip) for l in a.layers] == [l.model_dump(exclude=skip) for l in b.layers]
    for la, lb in zip(a.layers, b.layers):
        if la.weight_key:
            assert (a.tensors[la.name].weight_matrix() == b.tensors[lb.name].weight_matrix()).all(), la.name


def _estimate(folder, hardware: list[str], names: dict[str, str] | None = None) -> pd.DataFrame:
    table = energysim.estimate(folder, hardware, progress=False).drop(columns=["workload"])
    for old, new in (names or {}).items():  # ONNX layer names -> torch layer names, in the layer and status columns
        table["layer"] = table["layer"].replace(old, new)
        table["status"] = table["status"].str.replace(f"'{old}'", f"'{new}'", regex=False)
    return table


def _names(a, b) -> dict[str, str]:
    return {lb.name: la.name for la, lb in zip(a.layers, b.layers)}


def test_estimates_match(both):
    """estimate on the dense array, the A100 and its 2:4 mode: the same table row for row (refusals included)."""
    folder, a, b = both
    hardware = ["lecture-array", "a100", "a100:sparse_2_4"]
    pd.testing.assert_frame_equal(_estimate(folder / "torch", hardware), _estimate(folder / "onnx", hardware, _names(a, b)))


def test_eie_skips_the_measured_zero_activations(both):
    """On EIE, which skips zero inputs, from_torch's measured densities lower exactly the layers whose input density is below 1; the rest match ONNX."""
    folder, a, b = both
    torch_table = _estimate(folder / "torch", ["eie-64pe-lecture"]).set_index("layer")
    onnx_table = _estimate(folder / "onnx", ["eie-64pe-lecture"], _names(a, b)).set_index("layer")
    sparse_inputs = {l.name for l in a.layers if l.activation_density < 1.0}
    ran = torch_table.index[torch_table["status"] == "ok"]
    lowered = {name for name in ran if torch_table.loc[name, "energy_uj_dense"] < onnx_table.loc[name, "energy_uj_dense"]}
    assert lowered and lowered == sparse_inputs & set(ran)
    same = [name for name in ran if name not in sparse_inputs]
    pd.testing.assert_frame_equal(torch_table.loc[same], onnx_table.loc[same])


def test_in_memory_workload_estimates_like_its_folder(both):
    """energysim.estimate takes the Workload from_torch returns (no folder) and gives the folder's table."""
    folder, a, _ = both
    in_memory = replace(a, path=None)  # what from_torch returns without out_dir
    hardware = ["lecture-array", "eie-64pe-lecture"]
    pd.testing.assert_frame_equal(energysim.estimate(in_memory, hardware, progress=False),
                                  energysim.estimate(folder / "torch", hardware, progress=False))


@pytest.mark.slow
def test_estimates_match_on_the_loop_nest_engine(both):
    """On the loop-nest engine, which runs the grouped conv and the attention matmuls, the tables match too (~35 s)."""
    folder, a, b = both
    hardware = ["lecture-array-loopnest"]
    torch_table = _estimate(folder / "torch", hardware)
    assert (torch_table["status"] == "ok").all()
    pd.testing.assert_frame_equal(torch_table, _estimate(folder / "onnx", hardware, _names(a, b)))
