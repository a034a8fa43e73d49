"""Eyeriss chip, AlexNet CONV1-5 at batch 4 (published_figures.md section 5) on eyeriss-like-gating: the modelled table."""

from __future__ import annotations

from pathlib import Path

import pytest

import energysim
from energysim.engines import build_engine
from energysim.workloads.layers import Conv2dLayer, GroupedConv2dLayer

ZEROS_IN_IFMAPS = {"conv1": 0.0001, "conv2": 0.387, "conv3": 0.725, "conv4": 0.793, "conv5": 0.776}
"""JSSC 2017 Table V (via FODLAM OCR): measured share of zeros in each layer's input feature maps."""

MEASURED_MB = {"conv1": (0.42e9, 18.5, 5.0), "conv2": (0.90e9, 77.6, 4.0), "conv3": (0.60e9, 50.2, 3.0),
               "conv4": (0.45e9, 37.4, 2.1), "conv5": (0.30e9, 24.9, 1.3)}
"""JSSC 2017 Table V: MACs, global-buffer and DRAM accesses (MB) per layer, batch 4."""

MEASURED_POWER = {"conv1": (332, 16.5), "conv2": (288, 39.2), "conv3": (266, 21.3), "conv4": (235, 16.0),
                  "conv5": (236, 10.0)}
"""JSSC 2017 Table V: chip power (mW) and processing latency (ms) per layer, batch 4."""

OUTPUT_DENSITY = {"conv1": 1 - 0.387, "conv2": 1 - 0.725, "conv3": 1 - 0.793, "conv4": 1 - 0.776, "conv5": 1.0}
"""Each layer's output density for the chip's run-length coded ofmaps: the next layer's measured ifmap density
(after ReLU, and after max pooling behind CONV1 and CONV2, which can only raise it); CONV5's (FC6's input) is not
published: dense."""

LAYERS = (
    Conv2dLayer(name="conv1", in_channels=3, out_channels=96, in_height=227, in_width=227, kernel_height=11,
                kernel_width=11, stride=4, batch=4),
    GroupedConv2dLayer(name="conv2", groups=2, in_channels=96, out_channels=256, in_height=27, in_width=27,
                       kernel_height=5, kernel_width=5, padding=2, batch=4),
    Conv2dLayer(name="conv3", in_channels=256, out_channels=384, in_height=13, in_width=13, kernel_height=3,
                kernel_width=3, padding=1, batch=4),
    GroupedConv2dLayer(name="conv4", groups=2, in_channels=384, out_channels=384, in_height=13, in_width=13,
                       kernel_height=3, kernel_width=3, padding=1, batch=4),
    GroupedConv2dLayer(name="conv5", groups=2, in_channels=384, out_channels=256, in_height=13, in_width=13,
                       kernel_height=3, kernel_width=3, padding=1, batch=4),
)


def docs_table() -> dict[str, list[str]]:
    """The rows of docs/engines/sparse.md's Eyeriss table, by layer name."""
    text = (Path(__file__).resolve().parents[3] / "docs" / "engines" / "sparse.md").read_text(encoding="utf-8")
    section = text[text.index("## Eyeriss chip, AlexNet CONV1-5"):]
    section = section[:section.index("\n## ", 5)]
    rows = [[c.strip() for c in line.strip().strip("|").split("|")] for line in section.splitlines()
            if line.startswith("| conv")]
    return {row[0]: row for row in rows}


@pytest.mark.slow
def test_eyeriss_alexnet_table() -> None:
    """The chip's layers (grouped CONV2/4/5, batch 4) have its MAC counts; gated MACs = the measured zero share; the
    modelled GLB and DRAM MB are docs/engines/sparse.md's table, the chip's columns the published ones.

    Run with ``-s`` to see the table (docs/engines/sparse.md explains the gap).
    """
    engine = build_engine(energysim.hardware("eyeriss-like-gating"))
    documented = docs_table()
    assert sorted(documented) == sorted(MEASURED_MB)
    print("\n| layer | MACs | zeros in ifmaps | GLB MB model | GLB MB chip | DRAM MB model | DRAM MB chip | "
          "energy model (G MAC-eq) | chip energy (mJ) | chip pJ per MAC-eq | mapping |")
    for layer in LAYERS:
        zeros = ZEROS_IN_IFMAPS[layer.name]
        result = engine.simulate(layer.model_copy(update={"activation_density": 1 - zeros,
                                                          "output_density": OUTPUT_DENSITY[layer.name]}))
        macs = result.macs + result.count("MAC", action="gated_mac")
        chip_macs, chip_glb, chip_dram = MEASURED_MB[layer.name]
        assert macs == pytest.approx(chip_macs, rel=0.01)
        assert result.count("MAC", action="gated_mac") == pytest.approx(macs * zeros, abs=1)
        glb = sum(v for (c, _, a), v in result.counts.items() if c == "GlobalBuffer") * 2 / 1e6
        dram = (result.count("DRAM") + result.count("DRAMSparse")) * 2 / 1e6
        mac_eq = sum(count * engine.spec.prices[(c, a)] for (c, _, a), count in result.counts.items())
        power_mw, latency_ms = MEASURED_POWER[layer.name]
        chip_pj = power_mw * latency_ms * 1e6          # mW x ms = uJ = 1e6 pJ
        row = [layer.name, f"{macs:,}", f"{zeros * 100:.1f} %", f"{glb:.1f}", f"{chip_glb}", f"{dram:.1f}", f"{chip_dram}",
               f"{mac_eq / 1e9:.2f}", f"{chip_pj / 1e9:.2f}", f"{chip_pj / mac_eq:.2f}"]
        print("| " + " | ".join(row) + f" | {result.stats['mapping']} |")
        assert documented[layer.name][:10] == row
