"""Property tests (hypothesis) of the dense engine: path equality and conservation laws on random cases."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from energysim.engines import build_engine
from energysim.engines.result import check_invariants
from energysim.workloads.layers import GemmLayer
from tests.conftest import make_dense_hw

cases = st.tuples(
    st.integers(1, 12), st.integers(1, 12), st.integers(1, 20),          # m, n, k
    st.integers(1, 4), st.integers(1, 4),                               # rows, cols
    st.sampled_from(["output_stationary", "weight_stationary"]),
    st.sampled_from([0.5, 1, 2, 3, 64]), st.sampled_from([0.25, 1, 5]),  # SRAM, DRAM bandwidth
    st.sampled_from([256, 1024, 65536]),                                 # SRAM bytes
)


@settings(max_examples=60, deadline=None)
@given(cases)
def test_paths_agree_and_conserve(case):
    """On random small cases both paths agree, MACs = m*n*k, every input word filled into SRAM came from DRAM."""
    m, n, k, rows, cols, dataflow, sram_bw, dram_bw, sram_bytes = case
    hw = make_dense_hw(rows, cols, dataflow, sram_bytes=sram_bytes, sram_bw=sram_bw, dram_bw=dram_bw)
    engine = build_engine(hw)
    layer = GemmLayer(name="g", m=m, n=n, k=k)
    fast, cycle = engine.simulate(layer), engine.simulate(layer, path="cycle")
    assert fast.counts == cycle.counts and fast.cycles == cycle.cycles
    check_invariants(fast)
    assert fast.macs == m * n * k
    for tensor in ("weights", "inputs"):
        assert fast.count("SRAM", tensor, "fill") == fast.count("DRAM", tensor, "read")
    assert fast.count("DRAM", "outputs", "write") == m * n
    assert fast.count("RF", "weights", "read") == m * n * k
