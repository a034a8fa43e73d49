"""Batched matmuls (attention's Q K^T and P V) on the dense array: the batch's GEMMs run one after another."""

from __future__ import annotations

import pytest

import energysim
from energysim.engines import build_engine
from energysim.engines.result import check_invariants
from energysim.workloads.layers import BatchedMatmulLayer, GemmLayer
from tests.conftest import make_dense_hw

LAYER = BatchedMatmulLayer(name="scores", batch=3, m=10, n=9, k=7)


@pytest.mark.parametrize("dataflow", ["output_stationary", "weight_stationary"])
def test_batched_matmul_is_its_gemms_in_a_row(dataflow):
    """Counts, cycles and compulsory traffic are batch x one m x n x k GEMM's; A stores nothing; the fast path equals the cycle path."""
    engine = build_engine(make_dense_hw(4, 4, dataflow, sram_bytes=2048, sram_bw=4, dram_bw=2))
    batched, one = engine.simulate(LAYER), engine.simulate(GemmLayer(name="g", m=10, n=9, k=7))
    assert batched.counts == {key: 3 * value for key, value in one.counts.items()}
    assert batched.cycles == {key: 3 * value for key, value in one.cycles.items()}
    assert batched.macs == LAYER.loop_nest().macs == 3 * 10 * 9 * 7
    assert batched.stats["groups"] == 3 and batched.stats["tiles"] == 3 * one.stats["tiles"]
    assert batched.stats["weight_storage_bits"] == 0 < one.stats["weight_storage_bits"]
    assert [c.minimum for c in batched.compulsory] == [3 * c.minimum for c in one.compulsory]
    cycle = engine.simulate(LAYER, path="cycle")
    assert (batched.counts, batched.cycles, batched.stats) == (cycle.counts, cycle.cycles, cycle.stats)
    check_invariants(batched)


def test_bert_block_runs_on_lecture_array():
    """Every layer of the bundled BERT-base block, its two attention matmuls included, runs on lecture-array."""
    run = energysim.simulate("lecture-array", "bert-base-block")
    kinds = [layer.kind for layer in energysim.workload("bert-base-block").layers]
    assert len(run.results) == len(kinds) and kinds.count("batched_matmul") == 2
    for result in run.results:
        check_invariants(result)
