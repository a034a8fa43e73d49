"""The compiled lane kernel (numba, optional) against the numpy path, on the same cases."""

from __future__ import annotations

import numpy as np
import pytest

import energysim.engines.eie.lanes as lanes_module
from energysim.engines.eie import lane_kernel
from energysim.engines.eie.lanes import simulate_lanes
from energysim.formats.eie_csc import encode_codes

needs_numba = pytest.mark.skipif(not lane_kernel.compiled_available(),
                                 reason="numba is not installed (the optional `fast` extra); the numpy path ran alone")


def _case(seed):
    """A random layer (row passes, padding, empty columns, uniform one-entry PEs among them) and a queue rule."""
    rng = np.random.default_rng(seed)
    n_pe = int(rng.integers(1, 9))
    m = n_pe if seed % 4 == 0 else int(rng.integers(1, 200))
    k = int(rng.integers(1, 120))
    vectors = int(rng.integers(1, 12))
    codes = rng.integers(1, 16, size=(m, k)) * (rng.random((m, k)) < rng.uniform(0.02, 0.9))
    inputs = (rng.random((k, vectors)) < rng.uniform(0.05, 1.0)) * rng.random((k, vectors))
    inputs[:, 0] = 0.0 if seed % 5 == 0 else inputs[:, 0]                # an all-zero vector now and then
    rows_per_pass = int(rng.choice([1, 3, 8, 64]))
    depth = int(rng.choice([1, 2, 3, 4, 7, 8, 300]))
    freed = "finish" if seed % 2 else "start"
    return encode_codes(codes, n_pe), inputs, rows_per_pass, depth, freed


def _totals(monkeypatch, kernel, csc, inputs, rows_per_pass, depth, freed):
    monkeypatch.setenv(lane_kernel.KERNEL_ENV, kernel)
    lanes_module._last_tables.clear()
    totals = simulate_lanes(csc, inputs, rows_per_pass, 8, depth, freed)
    return {key: (value.tolist() if isinstance(value, np.ndarray) else value) for key, value in vars(totals).items()}


@pytest.mark.parametrize("value", ["fast", "numbaa", "1", "numpy numba"])
def test_a_bad_kernel_choice_is_refused_naming_the_variable(monkeypatch, value):
    """ENERGYSIM_EIE_KERNEL other than numba / numpy is an InputError naming the variable and the value."""
    from energysim.errors import InputError
    monkeypatch.setenv(lane_kernel.KERNEL_ENV, value)
    with pytest.raises(InputError, match=f"ENERGYSIM_EIE_KERNEL must be 'numba' or 'numpy' \\(got '{value}'\\)"):
        lane_kernel.use_compiled()


def test_asking_for_numba_without_it_is_refused(monkeypatch):
    """ENERGYSIM_EIE_KERNEL=numba where numba is missing says so (no silent numpy); with numba it selects it."""
    from energysim.errors import InputError
    from energysim.formats import eie_csc_kernel
    monkeypatch.setenv(lane_kernel.KERNEL_ENV, " NUMBA ")
    monkeypatch.setattr(eie_csc_kernel, "compiled_available", lambda: False)
    with pytest.raises(InputError, match="numba is not installed"):
        lane_kernel.use_compiled()
    monkeypatch.setattr(eie_csc_kernel, "compiled_available", lambda: True)
    assert lane_kernel.use_compiled()


def test_kernel_switch_names_the_path(monkeypatch):
    """ENERGYSIM_EIE_KERNEL=numpy selects the numpy path; otherwise numba runs exactly when it is importable."""
    monkeypatch.setenv(lane_kernel.KERNEL_ENV, "numpy")
    assert lane_kernel.kernel_name() == "numpy"
    monkeypatch.delenv(lane_kernel.KERNEL_ENV)
    assert lane_kernel.kernel_name() == ("numba" if lane_kernel.compiled_available() else "numpy")


@needs_numba
@pytest.mark.parametrize("seed", range(24))
def test_compiled_equals_numpy(monkeypatch, seed):
    """Every lane total (cycles, waits, compute, broadcasts, entries, line reads, per-PE busy) is identical on both paths.

    Random layers on 1-8 PEs with row passes, padding, empty columns and all-zero vectors, queue
    depths 1-300 (the numpy path's one-step and chunked recurrences) and both slot rules.
    """
    case = _case(seed)
    assert _totals(monkeypatch, "numba", *case) == _totals(monkeypatch, "numpy", *case)


@needs_numba
def test_compiled_equals_numpy_on_a_table3_layer(monkeypatch):
    """Alex-7's shape (4096 x 4096, 9 % weights, 35 % inputs) on 64 PEs at depth 8: identical totals on both paths."""
    rng = np.random.default_rng(3)
    codes = rng.integers(1, 16, size=(4096, 4096)) * (rng.random((4096, 4096)) < 0.09)
    inputs = (rng.random((4096, 2)) < 0.353) * rng.random((4096, 2))
    case = (encode_codes(codes, 64), inputs, 64, 8, "start")
    assert _totals(monkeypatch, "numba", *case) == _totals(monkeypatch, "numpy", *case)


def test_bad_queue_rule_refused_on_either_path(monkeypatch):
    """A queue depth below 1 or an unknown slot rule is an InputError naming it, whichever path is selected."""
    from energysim.errors import InputError
    csc, inputs, *_ = _case(1)
    for kernel in ("numba", "numpy") if lane_kernel.compiled_available() else ("numpy",):
        monkeypatch.setenv(lane_kernel.KERNEL_ENV, kernel)
        with pytest.raises(InputError, match="queue_depth"):
            simulate_lanes(csc, inputs, 8, 8, 0, "start")
        with pytest.raises(InputError, match="slot_freed_at"):
            simulate_lanes(csc, inputs, 8, 8, 2, "never")


@needs_numba
@pytest.mark.parametrize("seed", range(12))
def test_compiled_tables_equal_numpy(monkeypatch, seed):
    """Work, column, line-step and line-group tables (members, group starts, spans) are identical on both paths."""
    csc, _, rows_per_pass, _, _ = _case(seed)
    built = {}
    for kernel in ("numba", "numpy"):
        monkeypatch.setenv(lane_kernel.KERNEL_ENV, kernel)
        built[kernel] = lanes_module._build_tables(csc, rows_per_pass, int(1 + seed % 8))
    for name in ("work", "column_entries", "column_real", "line_steps", "members", "group_start", "spans_in"):
        compiled, reference = getattr(built["numba"], name), getattr(built["numpy"], name)
        assert compiled.dtype == reference.dtype, name
        np.testing.assert_array_equal(compiled, reference, err_msg=name)


@needs_numba
def test_compiled_equals_numpy_over_several_bit_words(monkeypatch):
    """150 input vectors (three 64-bit words of activity per input): fresh lines and the line bound agree on both paths."""
    rng = np.random.default_rng(31)
    codes = rng.integers(1, 16, size=(70, 40)) * (rng.random((70, 40)) < 0.3)
    inputs = (rng.random((40, 150)) < 0.4) * 1.0
    case = (encode_codes(codes, 4), inputs, 8, 3, "start")
    assert _totals(monkeypatch, "numba", *case) == _totals(monkeypatch, "numpy", *case)


@needs_numba
def test_compiled_line_bound_counts_from_either_side(monkeypatch):
    """Vectors none, few, half, most and all active (the compiled bound subtracts the inactive past half): same bound."""
    rng = np.random.default_rng(41)
    codes = rng.integers(1, 16, size=(90, 30)) * (rng.random((90, 30)) < 0.5)
    shares = np.array([0.0, 0.1, 0.5, 0.53, 0.9, 1.0])
    inputs = (rng.random((30, shares.size)) < shares) * 1.0
    inputs[:15, 2], inputs[15:, 2] = 1.0, 0.0                                  # exactly half
    case = (encode_codes(codes, 8), inputs, 64, 8, "start")
    assert _totals(monkeypatch, "numba", *case)["line_bound"] == _totals(monkeypatch, "numpy", *case)["line_bound"]
