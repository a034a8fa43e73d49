"""Property tests of selection: exact counts, N:M compliance and monotonicity for arbitrary shapes and scores."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from energysim.formats.nm_compliance import nm_compliance
from energysim.prune.granularity import grouping, nm_prune_count, prune_count, select_mask, select_nm
from energysim.prune.pruner import PruneRequest, prune_model

shapes = st.one_of(
    st.tuples(st.integers(1, 6), st.integers(1, 13)),
    st.tuples(st.integers(1, 4), st.integers(1, 4), st.integers(1, 3), st.integers(1, 3)),
)
sparsities = st.floats(0.0, 0.99, allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(shape=shapes, sparsity=sparsities, seed=st.integers(0, 2**16), few_values=st.booleans())
def test_fine_selection_count_is_exact_for_any_scores(shape, sparsity, seed, few_values):
    """Fine-grained selection removes exactly round(s*n) weights, also with many tied scores."""
    rng = np.random.default_rng(seed)
    size = int(np.prod(shape))
    scores = rng.integers(0, 3, size).astype(float) if few_values else rng.random(size)
    mask = select_mask(scores, shape, "fine", sparsity)
    assert np.count_nonzero(~mask) == prune_count(sparsity, size)
    if 0 < np.count_nonzero(~mask) < size:
        assert scores[~mask.ravel()].max() <= scores[mask.ravel()].min()


@settings(max_examples=60, deadline=None)
@given(shape=shapes, seed=st.integers(0, 2**16), nm=st.sampled_from([(1, 2), (2, 4), (1, 4), (3, 8)]))
def test_nm_selection_is_compliant_and_exact(shape, seed, nm):
    """N:M selection always complies with N:M and removes exactly the N:M count."""
    scores = np.random.default_rng(seed).random(shape)
    mask = select_nm(scores, *nm)
    assert nm_compliance(mask, *nm).compliant
    assert np.count_nonzero(~mask) == nm_prune_count(shape, *nm)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    targets=st.lists(sparsities, min_size=2, max_size=4),
    granularity=st.sampled_from(["fine", "vector", "kernel", "channel"]),
)
def test_repeated_selection_is_monotone(seed, targets, granularity):
    """Masks from successive steps with fresh random scores only ever lose weights."""
    rng = np.random.default_rng(seed)
    shape = (4, 3, 3, 3)
    groups = grouping(shape, granularity).groups
    mask = None
    for target in targets:
        new = select_mask(rng.random(groups), shape, granularity, target, keep_mask=mask)
        if mask is not None:
            assert np.all(new <= mask)
        mask = new


def test_layer_restricted_pruning_leaves_other_layers_dense(trained_cnn):
    """PruneRequest(layers=("conv2",)) prunes conv2 only; conv1 and fc keep every weight."""
    model = trained_cnn.copy()
    report = prune_model(model, PruneRequest("fine", "magnitude", 0.7, layers=("conv2",)))
    assert report.layer_sparsity["conv1"] == 0.0 and report.layer_sparsity["fc"] == 0.0
    size = model.weights("conv2").size
    assert report.layer_sparsity["conv2"] == prune_count(0.7, size) / size


def test_iterative_regression_alternates_selection_and_refit(trained_mlp, digits):
    """An iterative regression schedule reaches the channel target and records a re-fit residual per layer."""
    from energysim.prune.schedules import run_schedule

    model = trained_mlp.copy()
    result = run_schedule(model, PruneRequest("channel", "regression", 0.5), digits, "iterative", finetune_epochs=1, steps=2)
    kept_rows = model.weight_mask("fc1").any(axis=1)
    assert np.count_nonzero(~kept_rows) == 128
    assert set(result.report.reconstruction_residual) == {"fc1", "fc2"}
    assert all(0 <= r < 1 for r in result.report.reconstruction_residual.values())
