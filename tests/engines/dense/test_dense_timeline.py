"""The fast path's no-wait shortcut of the DRAM timeline: exact when taken, taken on the bundled array's layers."""

from __future__ import annotations

import random

import pytest

import energysim
from energysim.engines.dense import fast as dense_fast
from energysim.engines import build_engine
from energysim.errors import EnergySimError
from energysim.workloads.layers import Conv2dLayer, GemmLayer
from tests.conftest import make_dense_hw


def _cases(count: int, seed: int) -> list[tuple]:
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        dataflow = rng.choice(["output_stationary", "weight_stationary"])
        rows, cols = rng.choice([(2, 2), (3, 5), (4, 4), (8, 8)])
        hw = (rows, cols, dataflow, rng.choice([256, 1024, 4096, 16384]), rng.choice([1, 2, 8, 32]),
              rng.choice([0.5, 1, 4, 16, 64]))
        if rng.random() < 0.5:
            layer = GemmLayer(name="g", m=rng.randint(1, 200), n=rng.randint(1, 200), k=rng.randint(1, 200))
        else:
            layer = Conv2dLayer(name="c", in_channels=rng.randint(1, 12), out_channels=rng.randint(1, 40),
                                in_height=rng.randint(3, 12), in_width=rng.randint(3, 12), kernel_height=3,
                                kernel_width=rng.choice([1, 3]), stride=rng.choice([1, 2]), padding=1,
                                batch=rng.randint(1, 3))
        out.append((hw, layer))
    return out


def test_shortcut_equals_stepping(monkeypatch):
    """Where the no-wait condition holds, the closed-form cycles equal stepping the timeline tile by tile (random grid)."""
    taken = 0
    for (rows, cols, dataflow, sram_bytes, sram_bw, dram_bw), layer in _cases(80, seed=3):
        engine = build_engine(make_dense_hw(rows, cols, dataflow, sram_bytes=sram_bytes, sram_bw=sram_bw, dram_bw=dram_bw))
        try:
            shortcut = engine.simulate(layer)
        except EnergySimError:
            continue  # SRAM too small for this layer
        verdicts = []
        check = dense_fast._never_waits
        monkeypatch.setattr(dense_fast, "_never_waits", lambda *args: verdicts.append(check(*args)) or False)
        stepped = engine.simulate(layer)
        monkeypatch.undo()
        taken += verdicts[0]
        assert (shortcut.cycles, shortcut.stats) == (stepped.cycles, stepped.stats), layer
    assert taken >= 15  # the shortcut really ran on many cases


@pytest.mark.parametrize("dataflow", ["output_stationary", "weight_stationary"])
def test_shortcut_equals_cycle_path(monkeypatch, dataflow):
    """Where the shortcut is taken, the fast path still equals the cycle-level path (multi-row GEMM and batched conv)."""
    engine = build_engine(make_dense_hw(4, 4, dataflow, sram_bytes=2048, sram_bw=8, dram_bw=16))
    for layer in (GemmLayer(name="g", m=70, n=90, k=120),
                  Conv2dLayer(name="c", in_channels=6, out_channels=20, in_height=10, in_width=9, kernel_height=3,
                              kernel_width=3, padding=1, batch=2)):
        verdicts = []
        check = dense_fast._never_waits
        monkeypatch.setattr(dense_fast, "_never_waits", lambda *args: verdicts.append(check(*args)) or verdicts[-1])
        fast = engine.simulate(layer)
        monkeypatch.undo()
        cycle = engine.simulate(layer, path="cycle")
        assert fast.stats["tiles"] > 10 and verdicts == [True]
        assert (fast.counts, fast.cycles, fast.stats) == (cycle.counts, cycle.cycles, cycle.stats)


def test_shortcut_taken_on_lecture_array(monkeypatch):
    """The 1024^3 GEMM and VGG-16 conv4_2 on lecture-array take the shortcut (no tile is stepped)."""
    stepped = []
    step = dense_fast._Timeline.step
    monkeypatch.setattr(dense_fast._Timeline, "step", lambda self, tiles: stepped.append(len(tiles)) or step(self, tiles))
    engine = build_engine(energysim.hardware("lecture-array"))
    conv = next(layer for layer in energysim.workload("vgg16").layers if layer.name == "conv4_2")
    for layer in (GemmLayer(name="g", m=1024, n=1024, k=1024), conv):
        assert engine.simulate(layer).stats["tiles"] > 1000
    assert stepped == []
