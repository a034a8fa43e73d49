"""Codebook: zero entry, linear initialisation, k-means convergence and quantisation."""

from __future__ import annotations

import numpy as np
import pytest

from energysim.errors import InputError
from energysim.formats.codebook import Codebook, fit_codebook


def test_entry_zero_is_zero_and_size_is_two_to_bits():
    """A 4-bit codebook has 16 entries, entry 0 is 0.0 and the rest ascend."""
    rng = np.random.default_rng(0)
    book = fit_codebook(rng.standard_normal(5000), bits=4)
    assert book.size == 16 and book.centroids[0] == 0.0
    assert np.all(np.diff(book.centroids[1:]) >= 0)


def test_exact_clusters_are_recovered():
    """Weights drawn from 3 values are fitted exactly by a 2-bit codebook (3 non-zero centroids)."""
    weights = np.repeat([-1.0, 0.5, 2.0], 100)
    book = fit_codebook(weights, bits=2)
    assert book.centroids.tolist() == [0.0, -1.0, 0.5, 2.0]
    assert book.decode(book.quantise(weights)).tolist() == weights.tolist()


def test_linear_init_keeps_extremes():
    """Linear initialisation places centroids over the full range, so a rare large weight keeps its own centroid."""
    weights = np.concatenate((np.linspace(-0.1, 0.1, 1000), [5.0]))
    book = fit_codebook(weights, bits=4)
    assert book.centroids[-1] == pytest.approx(5.0)


def test_zeros_stay_zero_and_nonzeros_get_nonzero_codes():
    """Pruned (zero) weights get code 0; every non-zero weight gets a code in 1..15."""
    rng = np.random.default_rng(2)
    weights = rng.standard_normal((40, 40)) * (rng.random((40, 40)) < 0.2)
    book = fit_codebook(weights)
    codes = book.quantise(weights)
    assert np.array_equal(codes == 0, weights == 0)
    assert codes.max() <= 15


def test_quantisation_picks_nearest_centroid():
    """Each weight maps to its nearest centroid (checked against brute force)."""
    rng = np.random.default_rng(3)
    weights = rng.standard_normal(2000)
    book = fit_codebook(weights)
    codes = book.quantise(weights)
    brute = np.argmin(np.abs(weights[:, None] - book.centroids[None, 1:]), axis=1) + 1
    assert np.allclose(book.centroids[codes], book.centroids[brute])


def test_k_means_lowers_error_below_linear_grid():
    """Fitted centroids quantise Gaussian weights with less squared error than the linear start grid."""
    rng = np.random.default_rng(4)
    weights = rng.standard_normal(20000)
    book = fit_codebook(weights)
    grid = np.linspace(weights.min(), weights.max(), 15)
    grid_error = np.min((weights[:, None] - grid[None, :]) ** 2, axis=1).mean()
    fit_error = ((book.decode(book.quantise(weights)) - weights) ** 2).mean()
    assert fit_error < 0.8 * grid_error


def test_nan_weights_raise():
    """Non-finite weights are rejected with InputError."""
    with pytest.raises(InputError, match="finite"):
        fit_codebook(np.array([1.0, np.nan]))


@pytest.mark.parametrize("bits", [0, 9, 2.5])
def test_codebook_width_outside_uint8_codes_is_refused(bits):
    """Codes are uint8: widths outside 1..8 (or not integers) are refused instead of wrapping silently."""
    with pytest.raises(InputError, match="codebook bits must be an integer in 1..8"):
        fit_codebook(np.linspace(-1, 1, 50), bits=bits)


def test_already_quantised_weights_keep_their_codebook_exactly():
    """15 distinct non-zero values (a 4-bit Deep Compression layer as codebook[codes]) are kept, not re-clustered.

    The values are skewed (14 in [-0.07, 0.06], one at 1.5): k-means from a linear grid leaves 11 centroids
    between 0.15 and 1.4 empty and merges the 14 small values into 2 (error up to 0.03, checked by hand with a
    16th value added); the exact path reproduces every weight.
    """
    rng = np.random.default_rng(5)
    table = np.array([-0.07, -0.06, -0.05, -0.04, -0.03, -0.02, -0.01, 0.01, 0.02, 0.03, 0.04, 0.05, 0.055,
                      0.06, 1.5])
    codes = rng.integers(0, table.size + 1, size=(60, 50))
    weights = np.where(codes > 0, table[np.maximum(codes, 1) - 1], 0.0)
    book = fit_codebook(weights, bits=4)
    assert book.iterations == 0
    assert book.centroids.tolist() == [0.0, *table.tolist()]
    assert np.array_equal(book.decode(book.quantise(weights)), weights)


def test_fewer_values_than_codes_fill_the_table_with_the_largest():
    """3 distinct values in a 4-bit codebook: entries 1..3 are the values, 4..15 repeat the largest; codes 1..3 only."""
    weights = np.array([[0.0, -2.0, 0.5], [3.0, 0.0, 0.5]])
    book = fit_codebook(weights, bits=4)
    assert book.centroids.tolist() == [0.0, -2.0, 0.5] + [3.0] * 13
    assert book.quantise(weights).tolist() == [[0, 1, 2], [3, 0, 2]]


def test_more_distinct_values_than_codes_are_clustered():
    """16 distinct non-zero values do not fit 15 codes (code 0 is padding), so k-means runs (iterations >= 1)."""
    weights = np.arange(1.0, 17.0)
    book = fit_codebook(weights, bits=4)
    assert book.iterations >= 1
    assert np.unique(book.decode(book.quantise(weights))).size == 15


def test_quantisation_sends_midpoint_ties_to_the_lower_centroid():
    """Values exactly on a midpoint take the lower code, values next to it the side they fall on (searchsorted 'left')."""
    book = Codebook(centroids=np.array([0.0, -1.0, 1.0, 2.0, 4.0]), bits=2)
    weights = np.array([0.0, 1.5, np.nextafter(1.5, 2.0), 3.0, -5.0, 9.0, np.nextafter(0.0, -1.0)])
    assert book.quantise(weights).tolist() == [0, 2, 3, 3, 1, 4, 1]


def test_compiled_quantiser_equals_numpy(monkeypatch):
    """On 70,000 values (the compiled count runs from 65,536) both paths give the same codes."""
    from energysim.formats import eie_csc_kernel

    weights = np.random.default_rng(8).standard_normal(70_000)
    book = fit_codebook(weights[:5000])
    monkeypatch.setenv(eie_csc_kernel.KERNEL_ENV, "numpy")
    expected = book.quantise(weights)
    monkeypatch.delenv(eie_csc_kernel.KERNEL_ENV)
    assert book.quantise(weights).tolist() == expected.tolist()


def test_compiled_quantiser_keeps_zeros_and_shape(monkeypatch):
    """A 2-D, non-contiguous array with exact zeros (the compiled path's zero test) quantises as on the numpy path."""
    from energysim.formats import eie_csc_kernel

    rng = np.random.default_rng(9)
    weights = (rng.standard_normal((400, 300)) * (rng.random((400, 300)) < 0.4)).T
    book = fit_codebook(weights)
    monkeypatch.setenv(eie_csc_kernel.KERNEL_ENV, "numpy")
    expected = book.quantise(weights)
    monkeypatch.delenv(eie_csc_kernel.KERNEL_ENV)
    got = book.quantise(weights)
    assert got.shape == weights.shape and np.array_equal(got, expected) and np.array_equal(got == 0, weights == 0)
