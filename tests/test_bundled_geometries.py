"""Bundled geometry-only workloads (ResNet-18/50, MobileNetV2, BERT-base and GPT-2 small blocks): sizes and files."""

import importlib.util
import math
from pathlib import Path

import pytest

from energysim import catalog
from energysim.workloads.workload import load_workload

ROOT = Path(__file__).resolve().parent.parent


def _totals(name: str) -> tuple[int, int]:
    """(MACs, stored weights) of a bundled workload; attention's activation operands are not stored weights."""
    workload = load_workload(catalog.workload_path(name))
    macs = sum(layer.loop_nest().macs for layer in workload.layers)
    weights = sum(math.prod(layer.weight_shape) for layer in workload.layers if layer.kind != "batched_matmul")
    return macs, weights


@pytest.mark.parametrize("name, gmacs, mweights", [
    ("resnet18", 1.814, 11.68),     # torchvision: 1.81 GFLOPS (MACs), 11.69 M parameters (with BN and biases)
    ("resnet50", 4.089, 25.50),     # torchvision: 4.09 GFLOPS (MACs), 25.56 M parameters
    ("mobilenetv2", 0.3008, 3.47),  # Sandler et al. 2018, Table 4: 300 M multiply-adds, 3.4 M parameters
])
def test_cnn_geometries_match_published_sizes(name, gmacs, mweights):
    """ResNet-18/50 and MobileNetV2 have the published MAC and weight counts (to 0.5 %)."""
    macs, weights = _totals(name)
    assert macs / 1e9 == pytest.approx(gmacs, rel=5e-3)
    assert weights / 1e6 == pytest.approx(mweights, rel=5e-3)


def test_mobilenetv2_depthwise_layers_are_grouped_with_groups_equal_channels():
    """MobileNetV2's 17 depthwise convolutions are grouped_conv2d layers with groups = in = out channels."""
    workload = load_workload(catalog.workload_path("mobilenetv2"))
    depthwise = [layer for layer in workload.layers if layer.kind == "grouped_conv2d"]
    assert len(depthwise) == 17
    assert all(layer.groups == layer.in_channels == layer.out_channels for layer in depthwise)


@pytest.mark.parametrize("name, tokens, fused", [("bert-base-block", 384, False), ("gpt2-small-block", 1024, True)])
def test_transformer_blocks_carry_the_attention_matmuls(name, tokens, fused):
    """Each transformer block has 7.08 M weights and 12-head score (T x 64 x T) and context (T x T x 64) matmuls."""
    workload = load_workload(catalog.workload_path(name))
    matmuls = [layer for layer in workload.layers if layer.kind == "batched_matmul"]
    assert [(l.batch, l.m, l.k, l.n) for l in matmuls] == [(12, tokens, 64, tokens), (12, tokens, tokens, 64)]
    macs, weights = _totals(name)
    assert weights == 4 * 768 * 768 + 2 * 768 * 3072
    assert macs == tokens * weights + 2 * 12 * tokens * tokens * 64


@pytest.mark.parametrize("sparse, dense, density", [("resnet50-2of4", "resnet50", 0.5),
                                                     ("mobilenetv2-elsen2020", "mobilenetv2", 0.2)])
def test_statistical_variants_are_their_dense_geometry_with_densities(sparse, dense, density):
    """The statistical-mask variants keep the dense geometry and set only the cited weight densities."""
    a, b = load_workload(catalog.workload_path(sparse)), load_workload(catalog.workload_path(dense))
    assert [l.model_copy(update={"weight_density": 1.0}) for l in a.layers] == list(b.layers)
    assert {l.weight_density for l in a.layers} == {1.0, density}


def test_generator_script_reproduces_the_bundled_files():
    """scripts/make_bundled_geometries.py --check finds every bundled geometry file as it would write it."""
    spec = importlib.util.spec_from_file_location("make_bundled_geometries", ROOT / "scripts" / "make_bundled_geometries.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(["--check", "--out", str(ROOT / "workloads")]) == 0
