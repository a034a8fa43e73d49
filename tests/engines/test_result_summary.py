"""The per-layer summary carries each engine's capacity verdict: weights_on_chip and spilled."""

from __future__ import annotations

import numpy as np

from energysim.engines import build_engine
from energysim.report.tables import SUMMARY_COLUMNS, energy_table, layer_summary
from energysim.workloads.layers import GemmLayer, LinearLayer
from energysim.workloads.workload import LayerTensors
from tests.conftest import make_dense_hw
from tests.engines.eie.test_eie_storage import eie_hw


def _summary(hardware, layer, tensors=None) -> dict:
    result = build_engine(hardware).simulate(layer, tensors)
    return layer_summary(result, energy_table(result, hardware))


def test_summary_columns_in_order_with_capacity():
    """layer_summary's keys are SUMMARY_COLUMNS, in order, ending with weights_on_chip and spilled."""
    row = _summary(make_dense_hw(), GemmLayer(name="g", m=8, n=8, k=8))
    assert tuple(row) == SUMMARY_COLUMNS
    assert SUMMARY_COLUMNS[-2:] == ("weights_on_chip", "spilled")
    assert row["weights_on_chip"] is True and row["spilled"] == ""


def test_summary_names_a_spilled_eie_layer_and_a_dense_layer_over_its_buffer():
    """EIE one line over SpmatSRAM: False, 'weights>SpmatSRAM'; dense 128x256 weights in 64 KB: False, 'weights>SRAM,inputs>SRAM'."""
    weights = np.zeros((2, 9))
    weights[0] = np.arange(1.0, 10.0)
    weights[1, 0] = -3.0
    tensors = LayerTensors(weights=weights, activations=np.ones((1, 9)))
    row = _summary(eie_hw(spmat_bytes=8, n_pe=2), LinearLayer(name="l", in_features=9, out_features=2), tensors)
    assert row["weights_on_chip"] is False and row["spilled"] == "weights>SpmatSRAM"
    row = _summary(make_dense_hw(sram_bytes=65536), GemmLayer(name="g", m=128, n=128, k=256))
    assert row["weights_on_chip"] is False and row["spilled"] == "weights>SRAM,inputs>SRAM"
