"""EIE lanes in blocks (energysim.engines.eie.lanes) against lane-by-lane references, and synthetic inputs."""

from __future__ import annotations

import numpy as np
import pytest

import energysim.engines.eie.lanes as lanes_module
import energysim.engines.eie.synthetic as synthetic_module
from energysim.engines.eie.lane_kernel import KERNEL_ENV, compiled_available
from energysim.engines.eie.lanes import simulate_lanes
from energysim.engines.eie.pipeline import fetch_gaps, run_lanes
from energysim.engines.eie.synthetic import synthetic_inputs
from energysim.formats.eie_csc import encode_codes


def _random_layer(rng, m, k, n_vectors, n_pe, weight_density, input_density):
    codes = rng.integers(1, 16, size=(m, k)) * (rng.random((m, k)) < weight_density)
    inputs = (rng.random((k, n_vectors)) < input_density) * rng.random((k, n_vectors))
    return encode_codes(codes, n_pe), inputs


def _reference(csc, inputs, rows_per_pass, entries_per_line, depth, slot_freed_at):
    """Lane by lane: run_lanes on the full (A, 1, N) work, and a held-line register stepped per PE."""
    entries, real, starts = csc.segment_counts(rows_per_pass)
    cycles = lines = 0
    for vector in range(inputs.shape[1]):
        active = np.flatnonzero(inputs[:, vector])
        for pass_entries, pass_starts in zip(entries, starts):              # one row pass: (K, N)
            if active.size:
                work = np.maximum(pass_entries[active], 1)[:, None, :]
                timing = run_lanes(work, np.array([active.size]), depth, gaps=fetch_gaps(active[:, None], csc.n_pe),
                                   slot_freed_at=slot_freed_at)
                cycles += int(timing.cycles_lane[0])
            for pe in range(csc.n_pe):
                held = None
                for column in active:
                    count = pass_entries[column, pe]
                    if count == 0:
                        continue
                    first = pass_starts[column, pe] // entries_per_line
                    last = (pass_starts[column, pe] + count - 1) // entries_per_line
                    lines += last - first + 1 - (first == held)
                    held = last
    return cycles, lines


@pytest.mark.parametrize("case", range(8))
def test_blocks_equal_stepping_every_lane_alone(case):
    """Cycles and line reads of all lanes in blocks equal each lane stepped alone with a held-line register per PE.

    Random layers with row passes, padding (long zero runs), empty columns and inputs, 1 to 5 PEs,
    queue depths 1 to 4 and both slot rules; among them layers with at most one entry per column
    and PE, where one PE stands for all.
    """
    rng = np.random.default_rng(100 + case)
    n_pe = int(rng.integers(1, 6))
    m = n_pe if case % 3 == 0 else int(rng.integers(1, 90))
    k = int(rng.integers(1, 40))
    csc, inputs = _random_layer(rng, m, k, int(rng.integers(1, 6)), n_pe, rng.uniform(0.05, 0.9), rng.uniform(0.1, 1.0))
    rows_per_pass = int(rng.choice([1, 3, 64]))
    depth = int(rng.integers(1, 5))
    freed = "finish" if case % 2 else "start"
    totals = simulate_lanes(csc, inputs, rows_per_pass, 8, depth, freed)
    assert (totals.cycles_last_entry, totals.line_reads) == _reference(csc, inputs, rows_per_pass, 8, depth, freed)


def test_small_blocks_change_no_total(monkeypatch):
    """Blocks of one input vector and one-word bit chunks give the same totals as the default blocks."""
    rng = np.random.default_rng(7)
    csc, inputs = _random_layer(rng, 50, 30, 9, 4, 0.3, 0.5)
    whole = simulate_lanes(csc, inputs, 4, 8, 2, "start")
    monkeypatch.setattr(lanes_module, "WORK_BUDGET_ELEMENTS", 1)
    monkeypatch.setattr(lanes_module, "INDEX_BUDGET_ELEMENTS", 1)
    blocked = simulate_lanes(csc, inputs, 4, 8, 2, "start")
    assert blocked.busy_per_pe.tolist() == whole.busy_per_pe.tolist()
    assert _scalars(blocked) == _scalars(whole)


def _scalars(totals):
    return {key: (value.tolist() if isinstance(value, np.ndarray) else value) for key, value in vars(totals).items()}


def test_synthetic_inputs_have_exact_nonzeros_per_column():
    """Every vector has exactly round(density x K) non-zeros, values in (0, 1], for one and for many vectors."""
    for n, density in ((1, 0.3), (7, 0.3), (7, 0.8)):
        inputs = np.asarray(synthetic_inputs(50, n, density, np.random.default_rng(0)))
        assert inputs.shape == (50, n)
        assert (np.count_nonzero(inputs, axis=0) == round(density * 50)).all()
        assert inputs.max() <= 1.0 and inputs[inputs != 0].min() > 0.0
    assert (np.count_nonzero(synthetic_inputs(50, 3, 1.0, np.random.default_rng(0)), axis=0) == 50).all()
    assert not np.asarray(synthetic_inputs(50, 3, 0.0, np.random.default_rng(0))).any()


def test_one_synthetic_vector_is_numpys_choice_draw():
    """One vector (every Table III layer) is the draw of choice(K, nnz, replace=False) then 1 - random(nnz)."""
    rng = np.random.default_rng(3)
    where = rng.choice(40, size=12, replace=False)
    expected = np.zeros(40)
    expected[where] = 1.0 - rng.random(12)
    assert synthetic_inputs(40, 1, 0.3, np.random.default_rng(3))[:, 0].tolist() == expected.tolist()


@pytest.mark.parametrize("density", [0.3, 0.8])
def test_many_synthetic_vectors_are_floyd_draws_block_by_block(monkeypatch, density):
    """Block b's vectors are Floyd draws (zeros past half density) with t = floor(U (j + 1)) from default_rng([seed, b, 0])."""
    # Blocks of 2 vectors; the reference walks Floyd's steps vector by vector in Python over the
    # block's (step, vector) uniforms.
    monkeypatch.setattr(synthetic_module, "DRAW_BLOCK_ELEMENTS", 60)               # 2 vectors of 30 per block
    inputs = synthetic_inputs(30, 5, density, np.random.default_rng(4))
    active = np.asarray(inputs) != 0
    nonzero = round(density * 30)
    size = min(nonzero, 30 - nonzero)
    for block in range(3):
        vectors = range(2 * block, min(5, 2 * block + 2))
        rng = np.random.default_rng([inputs.seed, block, 0])
        draws = np.floor(rng.random((size, len(vectors))) * np.arange(31 - size, 31)[:, None])  # step-major
        for column, vector in enumerate(vectors):
            chosen = set()
            for step, j in enumerate(range(30 - size, 30)):
                t = int(draws[step, column])
                chosen.add(j if t in chosen else t)
            expected = chosen if nonzero <= 15 else set(range(30)) - chosen
            assert set(np.flatnonzero(active[:, vector]).tolist()) == expected


def test_synthetic_vector_sets_are_uniform():
    """In 60,000 two-of-four draws each of the 6 pairs comes up a sixth of the time (within 4 sd)."""
    active = np.asarray(synthetic_inputs(4, 60000, 0.5, np.random.default_rng(1))) != 0
    assert (active.sum(axis=0) == 2).all()
    pair_counts = np.bincount(active.T.astype(int) @ np.array([1, 2, 4, 8]), minlength=16)
    pair_counts = pair_counts[pair_counts > 0]
    assert pair_counts.size == 6
    assert np.all(np.abs(pair_counts - 10000) < 4 * np.sqrt(60000 * (1 / 6) * (5 / 6)))


def test_streamed_inputs_equal_their_dense_array():
    """Simulating the block-by-block synthetic inputs equals simulating their dense array (values drawn once)."""
    rng = np.random.default_rng(21)
    csc, _ = _random_layer(rng, 40, 25, 1, 3, 0.4, 0.5)
    streamed = synthetic_inputs(25, 9, 0.4, np.random.default_rng(2))
    dense = np.asarray(streamed)
    assert np.array_equal(dense, np.asarray(streamed))
    lanes_module._last_tables.clear()
    first = simulate_lanes(csc, streamed, 4, 8, 2, "start")
    lanes_module._last_tables.clear()
    assert _scalars(first) == _scalars(simulate_lanes(csc, dense, 4, 8, 2, "start"))


def test_reused_weight_draw_equals_a_fresh_one_and_advances_the_generator_alike():
    """Drawing the same layer from the same generator state twice (a PE sweep) reuses the draw, generator included."""
    from energysim.engines.eie.synthetic import _memo, synthetic_weights

    _memo.clear()
    first_rng = np.random.default_rng(9)
    first = synthetic_weights(30, 20, 0.2, 4, None, 0, first_rng)
    assert len(_memo) == 1
    again_rng = np.random.default_rng(9)
    again = synthetic_weights(30, 20, 0.2, 4, None, 0, again_rng)
    assert again.rows.tolist() == first.rows.tolist() and np.asarray(again.codes).tolist() == np.asarray(first.codes).tolist()
    assert again_rng.random() == first_rng.random()
    other = synthetic_weights(30, 20, 0.2, 4, None, 0, np.random.default_rng(10))
    assert other.rows.tolist() != first.rows.tolist()


def test_reused_tables_and_line_counts_equal_fresh_ones():
    """Simulating one CSC and input array again (another depth, other inputs) equals building everything afresh."""
    rng = np.random.default_rng(12)
    csc, inputs = _random_layer(rng, 40, 25, 6, 3, 0.4, 0.5)
    other_inputs = (rng.random(inputs.shape) < 0.3) * 1.0
    runs = [(inputs, 2), (inputs, 5), (other_inputs, 5), (inputs, 1)]
    reused = [simulate_lanes(csc, x, 4, 8, depth, "start") for x, depth in runs]
    fresh = []
    for x, depth in runs:
        lanes_module._last_tables.clear()
        fresh.append(simulate_lanes(csc, x, 4, 8, depth, "start"))
    assert [_scalars(r) for r in reused] == [_scalars(f) for f in fresh]


def test_synthetic_codes_come_from_their_own_quantile_stream_after_the_fit_sample(monkeypatch):
    """Dense codes = code_table of a PCG64 seeded after the FIT_SAMPLES fit values, in any blocks; rng ends there."""
    from energysim.engines.eie.synthetic import _memo, code_table, synthetic_weights
    from energysim.formats.codebook import fit_codebook

    monkeypatch.setattr(synthetic_module, "FIT_SAMPLES", 100)
    reference = np.random.default_rng(5)
    book = fit_codebook(reference.standard_normal(100), 4)
    raw = np.random.PCG64(int(reference.integers(2**63))).random_raw(150)          # 600 weights, four per output
    bins = np.array([(int(word) >> (16 * part)) & 0xFFFF for word in raw for part in range(4)])
    expected = code_table(book)[bins]
    for block in (1 << 22, 64, 7):
        monkeypatch.setattr(synthetic_module, "QUANTISE_BLOCK", block)
        _memo.clear()
        rng = np.random.default_rng(5)
        drawn = synthetic_weights(30, 20, 1.0, 4, None, 0, rng)
        assert drawn.positions is None and np.asarray(drawn.codes).tolist() == expected.tolist()
        assert drawn.codebook.centroids.tolist() == book.centroids.tolist()
        assert rng.bit_generator.state == reference.bit_generator.state


def test_code_table_is_the_codebook_quantising_each_bins_middle_quantile():
    """code_table[u] = Codebook.quantise(Phi^-1((u + 1/2) / 2**16)), the quantile from scipy's ndtri."""
    from scipy.special import ndtri

    from energysim.engines.eie.synthetic import code_table
    from energysim.formats.codebook import fit_codebook

    for bits, seed in ((4, 0), (2, 1), (8, 2)):
        book = fit_codebook(np.random.default_rng(seed).standard_normal(5000), bits)
        quantiles = ndtri((np.arange(1 << 16) + 0.5) / (1 << 16))
        assert code_table(book).tolist() == book.quantise(quantiles).tolist()


def test_synthetic_code_frequencies_match_the_quantised_normal():
    """Over 2**20 drawn codes, each code's share is the normal mass of its cell within 5 standard errors."""
    from scipy.special import ndtr

    from energysim.engines.eie.synthetic import _memo, synthetic_weights

    _memo.clear()
    drawn = synthetic_weights(1024, 1024, 1.0, 4, None, 0, np.random.default_rng(3))
    midpoints = 0.5 * (drawn.codebook.centroids[2:] + drawn.codebook.centroids[1:-1])
    mass = np.diff(np.concatenate(([0.0], ndtr(midpoints), [1.0])))
    codes = np.asarray(drawn.codes)
    share = np.bincount(codes, minlength=16)[1:] / codes.size
    assert np.bincount(codes, minlength=16)[0] == 0
    assert np.all(np.abs(share - mass) <= 5 * np.sqrt(mass * (1 - mass) / codes.size) + 2**-16)


def test_synthetic_codes_read_in_any_blocks_equal_reading_them_whole():
    """SyntheticCodes.block over any cut (odd offsets included) equals the same range of all codes read at once."""
    from energysim.engines.eie.synthetic import SyntheticCodes

    codes = SyntheticCodes(seed=17, table=np.arange(1 << 16, dtype=np.uint64).astype(np.uint8) | 1, size=1001)
    whole = np.asarray(codes)
    cuts = [0, 1, 2, 7, 8, 13, 500, 999, 1000, 1001]
    assert np.concatenate([codes.block(lo, hi) for lo, hi in zip(cuts, cuts[1:])]).tolist() == whole.tolist()
    assert codes.block(3, 3).size == 0
    with pytest.raises(ValueError):
        codes.block(5, 1002)


def test_block_of_identical_vectors_equals_stepping_each():
    """Seven identical input vectors (one stepped, counted seven times) give each lane stepped alone, summed."""
    rng = np.random.default_rng(41)
    csc, single = _random_layer(rng, 60, 30, 1, 4, 0.3, 0.6)
    inputs = np.repeat(single, 7, axis=1)
    totals = simulate_lanes(csc, inputs, 4, 8, 2, "start")
    assert (totals.cycles_last_entry, totals.line_reads) == _reference(csc, inputs, 4, 8, 2, "start")
    lanes_module._last_tables.clear()
    one = simulate_lanes(csc, single, 4, 8, 2, "start")
    assert totals.broadcasts == 7 * one.broadcasts and totals.line_bound == 7 * one.line_bound


@pytest.mark.skipif(not compiled_available(), reason="numba not installed")
@pytest.mark.parametrize("seed", range(12))
def test_tables_from_flat_positions_equal_tables_from_the_written_entries(monkeypatch, seed):
    """layer_tables from a CSC's flat positions (no entries written) equal those from its entries, padding and passes included."""
    import dataclasses

    monkeypatch.delenv(KERNEL_ENV, raising=False)
    from energysim.engines.eie.lane_kernel import layer_tables
    from energysim.formats.eie_csc import encode_flat

    rng = np.random.default_rng(seed)
    m, k = int(rng.integers(1, 300)), int(rng.integers(1, 40))
    n_pe = int(rng.choice([1, 2, 3, 4, 7, 8, 64]))
    density = float(rng.choice([0.02, 0.1, 0.5, 1.0]))
    index_bits = int(rng.integers(1, 5))
    rows_per_pass = int(rng.integers(1, 20))
    positions = None if density == 1.0 else np.flatnonzero(rng.random(m * k) < density)
    count = m * k if positions is None else positions.size
    lazy = encode_flat(positions, rng.integers(1, 16, size=count).astype(np.uint8), (m, k), n_pe, index_bits)
    assert lazy.flat is not None
    passes = max(1, -(-lazy.rows_per_pe // rows_per_pass))
    from_flat = layer_tables(lazy, rows_per_pass, passes, 8)
    written = dataclasses.replace(lazy, entries=(lazy.v, lazy.z, lazy.local_rows), flat=None)
    from_entries = layer_tables(written, rows_per_pass, passes, 8)
    for got, expected in zip(from_flat, from_entries):
        np.testing.assert_array_equal(got, expected)
    assert lazy.n_padding == int(np.count_nonzero(lazy.v == 0))
