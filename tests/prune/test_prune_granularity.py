"""Granularity group shapes, exact counts, the tie rule, monotone masks, N:M selection."""

from __future__ import annotations

import numpy as np
import pytest

from energysim.errors import InputError
from energysim.formats.nm_compliance import nm_compliance
from energysim.prune.granularity import (
    ROUNDINGS,
    grouping,
    nm_for_sparsity,
    nm_prune_count,
    prune_count,
    select_global,
    select_groups,
    select_mask,
    select_nm,
)


def test_prune_count_rounds_half_up():
    """round(sparsity * size) with halves rounded up: 0.5 of 5 -> 3, 0.3 of 10 -> 3, 0.7 of 144 -> 101, 0.29 of 50 -> 15."""
    assert prune_count(0.5, 5) == 3
    assert prune_count(0.3, 10) == 3
    assert prune_count(0.7, 144) == 101
    assert prune_count(0.0, 7) == 0
    assert 0.29 * 50 < 14.5  # the float product falls just short of the half
    assert prune_count(0.29, 50) == 15
    assert prune_count(0.15, 10) == 2 and prune_count(0.45, 10) == 5


def test_prune_count_rejects_non_integer_group_counts():
    """The number of groups must be an integer >= 0."""
    with pytest.raises(InputError, match=r"number of groups must be an integer >= 0 \(got 2\.5\)"):
        prune_count(0.5, 2.5)


@pytest.mark.parametrize("bad", [1.0, -0.1, 1.2, float("nan")])
def test_sparsity_out_of_range_raises(bad):
    """A sparsity outside [0, 1) raises InputError quoting the value."""
    with pytest.raises(InputError, match=r"sparsity must be in \[0, 1\)"):
        prune_count(bad, 10)


def test_equal_scores_prune_lowest_index_first():
    """With all scores equal, the groups with the lowest flat indices are pruned (stable tie rule)."""
    mask = select_mask(np.ones(6), (2, 3), "fine", 0.5)
    assert mask.tolist() == [[False, False, False], [True, True, True]]


def test_fine_selection_prunes_exactly_the_smallest():
    """Fine-grained selection removes exactly round(s*n) weights, the lowest scores."""
    rng = np.random.default_rng(0)
    scores = rng.random(200)
    mask = select_mask(scores, (10, 20), "fine", 0.37)
    assert np.count_nonzero(~mask) == 74
    assert scores[~mask.ravel()].max() < scores[mask.ravel()].min()


def test_selection_is_monotone():
    """An existing mask's pruned weights stay pruned even when their new scores are the highest."""
    scores = np.arange(12, dtype=float)
    old = np.ones((3, 4), dtype=bool)
    old[2, 3] = False  # the highest-scoring weight was pruned earlier
    mask = select_mask(scores, (3, 4), "fine", 0.5, keep_mask=old)
    assert not mask[2, 3]
    assert np.count_nonzero(~mask) == 6
    assert np.all(mask <= old)


def test_monotone_keeps_more_than_target_when_already_pruned():
    """If earlier steps pruned more than the new target, nothing is un-pruned (measured > target)."""
    old = np.zeros((2, 2), dtype=bool)
    old[0, 0] = True
    mask = select_mask(np.ones(4), (2, 2), "fine", 0.25, keep_mask=old)
    assert np.array_equal(mask, old)


def test_group_shapes_for_conv_and_linear():
    """Vector = one kernel row (kw weights) in conv, 1xB blocks in linear; kernel = kh*kw; channel = a row."""
    conv = (4, 3, 3, 5)
    assert set(grouping(conv, "vector").group_sizes) == {5}
    assert grouping(conv, "vector").groups == 4 * 3 * 3
    assert set(grouping(conv, "kernel").group_sizes) == {15}
    assert set(grouping(conv, "channel").group_sizes) == {45}
    linear = grouping((2, 10), "vector", block=4)
    assert linear.group_sizes.tolist() == [4, 4, 2, 4, 4, 2]
    assert linear.group_index[0].tolist() == [0, 0, 0, 0, 1, 1, 1, 1, 2, 2]


def test_kernel_granularity_rejects_linear_weights():
    """Kernel granularity on a (out, in) weight raises InputError naming the shape."""
    with pytest.raises(InputError, match=r"kernel granularity needs a conv2d weight .* \(got shape \(3, 4\)\)"):
        grouping((3, 4), "kernel")


@pytest.mark.parametrize("granularity", ["vector", "kernel", "channel"])
def test_group_selection_prunes_whole_groups_exactly(granularity):
    """Structured selection removes exactly round(s*groups) whole groups of a conv weight."""
    shape = (6, 4, 3, 3)
    groups = grouping(shape, granularity)
    rng = np.random.default_rng(5)
    mask = select_mask(rng.random(groups.groups), shape, granularity, 0.6)
    kept_per_group = np.bincount(groups.group_index.ravel(), mask.ravel(), groups.groups)
    assert set(np.unique(kept_per_group)) <= {0, groups.group_sizes[0]}
    assert np.count_nonzero(kept_per_group == 0) == prune_count(0.6, groups.groups)


def test_nm_keeps_n_best_of_every_group_along_reduction_axis():
    """2:4 keeps the two largest of each 4 consecutive inputs; ties drop the lower index."""
    scores = np.array([[1, 4, 3, 2, 5, 5, 5, 5]], dtype=float)
    assert select_nm(scores, 2, 4).astype(int).tolist() == [[0, 1, 1, 0, 0, 0, 1, 1]]


def test_nm_on_conv_uses_flattened_in_kh_kw_and_tail_group():
    """For conv the groups run over in*kh*kw in C order; a 9-long row keeps 2+2+1 under 2:4."""
    rng = np.random.default_rng(2)
    scores = rng.random((5, 1, 3, 3))
    mask = select_nm(scores, 2, 4)
    assert np.count_nonzero(~mask) == nm_prune_count(scores.shape, 2, 4) == 5 * 4
    assert nm_compliance(mask, 2, 4).compliant
    assert mask.reshape(5, 9).sum(axis=1).tolist() == [5] * 5


def test_nm_is_monotone_and_rejects_bad_patterns():
    """N:M respects an existing mask (may keep fewer than N) and rejects N >= M."""
    old = np.ones((1, 4), dtype=bool)
    old[0, 3] = False
    mask = select_nm(np.array([[1.0, 2.0, 0.5, 9.0]]), 2, 4, keep_mask=old)
    assert mask.tolist() == [[True, True, False, False]]
    with pytest.raises(InputError, match=r"1 <= N < M \(got 4:4\)"):
        select_nm(np.ones((1, 4)), 4, 4)


def test_global_selection_counts_across_layers_with_layer_order_ties():
    """Global fine-grained selection removes round(s*total) weights overall; ties go to the earlier layer."""
    masks = select_global([np.ones((2, 2)), np.ones((2, 3))], 0.5)
    assert sum(np.count_nonzero(~m) for m in masks) == 5
    assert not masks[0].any() and np.count_nonzero(~masks[1]) == 1


def test_select_groups_rejects_non_finite_scores():
    """NaN scores raise InputError rather than silently sorting."""
    with pytest.raises(InputError, match="scores must be finite"):
        select_groups(np.array([1.0, np.nan]), 1)


def test_nm_for_sparsity_picks_smallest_m():
    """0.5 -> 2:4, 0.75 -> 1:4, 0.7 -> 3:10, 0.9 -> 1:10; 0.33 has no exact pattern."""
    assert nm_for_sparsity(0.5) == (2, 4)
    assert nm_for_sparsity(0.75) == (1, 4)
    assert nm_for_sparsity(0.7) == (3, 10)
    assert nm_for_sparsity(0.9) == (1, 10)
    with pytest.raises(InputError, match="no N:M pattern"):
        nm_for_sparsity(0.33)


def test_select_mask_rejects_a_keep_mask_of_another_shape():
    """A keep-mask whose shape differs from the weight shape raises InputError (no broadcasting, no reshaping)."""
    with pytest.raises(InputError, match=r"keep_mask must have the weight shape \(2, 3\) \(got \(3, 2\)\)"):
        select_mask(np.ones(6), (2, 3), "fine", 0.5, keep_mask=np.ones((3, 2), bool))


def test_select_nm_rejects_a_keep_mask_of_another_shape_and_1d_scores():
    """select_nm needs a keep-mask of the scores' shape, and scores with a reduction axis (not 1-D)."""
    with pytest.raises(InputError, match=r"keep_mask must have the weight shape \(2, 4\) \(got \(4, 2\)\)"):
        select_nm(np.ones((2, 4)), 2, 4, keep_mask=np.ones((4, 2), bool))
    with pytest.raises(InputError, match=r"N:M scores need the weight shape \(out, in, \.\.\.\) .* \(got shape \(8,\)\)"):
        select_nm(np.ones(8), 2, 4)


def test_select_global_rejects_mismatched_keep_masks():
    """select_global refuses a keep_masks list of another length (zip would truncate) or a mask of another shape."""
    scores = [np.ones((2, 2)), np.ones((2, 3))]
    with pytest.raises(InputError, match=r"keep_masks must hold one mask \(or None\) per tensor of scores \(2\) \(got 1\)"):
        select_global(scores, 0.5, [np.ones((2, 2), bool)])
    with pytest.raises(InputError, match=r"keep_masks\[1\] must have the weight shape \(2, 3\) \(got \(3, 2\)\)"):
        select_global(scores, 0.5, [None, np.ones((3, 2), bool)])
    with pytest.raises(InputError, match="at least one tensor"):
        select_global([], 0.5)


def test_select_groups_rejects_already_pruned_of_another_length_and_fractional_counts():
    """already_pruned needs one flag per group; the count to prune must be an integer."""
    with pytest.raises(InputError, match=r"already_pruned must hold one flag per group \(3\) \(got 2\)"):
        select_groups(np.ones(3), 1, np.array([True, False]))
    with pytest.raises(InputError, match=r"number of groups to prune must be an integer in \[0, 3\] \(got 1\.5\)"):
        select_groups(np.ones(3), 1.5)


def test_nm_prune_count_rejects_1d_shapes():
    """nm_prune_count on a shape without a reduction axis raises InputError naming the shape."""
    with pytest.raises(InputError, match=r"N:M needs a weight shape \(out, in, \.\.\.\) with a reduction axis \(got \(8,\)\)"):
        nm_prune_count((8,), 2, 4)


@pytest.mark.parametrize("block", [2.5, 0, True])
def test_prune_request_and_grouping_reject_non_integer_blocks(block):
    """PruneRequest(block=...) and grouping(..., block=...) need an integer block >= 1."""
    from energysim.prune.pruner import PruneRequest

    with pytest.raises(InputError, match=r"vector block must be an integer >= 1 weight"):
        PruneRequest("vector", "l1", 0.5, block=block)
    with pytest.raises(InputError, match=r"vector block must be an integer >= 1 weight"):
        grouping((2, 8), "vector", block=block)


def test_prune_request_rejects_a_malformed_nm_pair():
    """PruneRequest(nm=...) must be a pair (N, M) with 1 <= N < M."""
    from energysim.prune.pruner import PruneRequest

    with pytest.raises(InputError, match=r"nm must be a pair \(N, M\) \(got \(2,\)\)"):
        PruneRequest("nm", "magnitude", nm=(2,))
    with pytest.raises(InputError, match=r"1 <= N < M \(got 4:4\)"):
        PruneRequest("nm", "magnitude", nm=(4, 4))


def _torch_count(amount: float, tensor_size: int) -> int:
    """torch.nn.utils.prune's count for a float amount, written out: round(amount * tensor_size), halves to even."""
    return round(amount * tensor_size)


def test_torch_rounding_equals_torchs_rule_and_differs_from_exact_only_on_halves():
    """rounding='torch' gives round(amount * n) for every amount k/200 and n in 1..300; exact differs only on exact halves.

    Where the two differ, the exact decimal product ends in exactly one half and exact prunes one more
    (or the float product fell below the half, e.g. 0.29 x 50 = 14.499999999999998).
    """
    from fractions import Fraction

    differ = 0
    for k in range(200):
        amount = k / 200
        for n in range(1, 301):
            torch_count = prune_count(amount, n, rounding="torch")
            assert torch_count == _torch_count(amount, n)
            exact = prune_count(amount, n)
            if exact != torch_count:
                differ += 1
                assert Fraction(str(amount)) * n % 1 == Fraction(1, 2) and exact == torch_count + 1
    assert differ > 0


def test_torch_rounding_hand_cases():
    """Halves to even on the float product: 0.5 of 5 -> 2 (exact 3), 0.1 of 25 -> 2 (3), 0.45 of 10 -> 4 (5),
    0.29 of 50 = 14.499999999999998 -> 14 (15), 0.3 of 5 = 1.5 -> 2 (2), 0.7 of 5 = 3.5 -> 4 (4)."""
    cases = {(0.5, 5): (2, 3), (0.1, 25): (2, 3), (0.45, 10): (4, 5), (0.29, 50): (14, 15), (0.3, 5): (2, 2),
             (0.7, 5): (4, 4)}
    for (amount, n), (torch_count, exact) in cases.items():
        assert (prune_count(amount, n, "torch"), prune_count(amount, n, "exact")) == (torch_count, exact)
    assert ROUNDINGS == ("exact", "torch")


def test_unknown_rounding_is_refused():
    """A rounding other than exact or torch raises InputError naming the choices, in prune_count and PruneRequest."""
    with pytest.raises(InputError, match=r"rounding must be one of exact, torch \(got 'bankers'\)"):
        prune_count(0.5, 4, rounding="bankers")
    from energysim.prune.pruner import PruneRequest

    with pytest.raises(InputError, match="rounding must be one of"):
        PruneRequest("fine", "magnitude", 0.5, rounding="up")


def test_torch_rounding_reaches_masks_per_layer_global_and_channel():
    """select_mask (fine, and channels as rows like ln_structured) and select_global prune the torch count."""
    scores = np.arange(5.0).reshape(5, 1)
    assert np.count_nonzero(~select_mask(scores, (5, 1), "fine", 0.5, rounding="torch")) == 2
    assert np.count_nonzero(~select_mask(scores, (5, 1), "fine", 0.5)) == 3
    masks = select_global([np.arange(4.0).reshape(2, 2), np.arange(6.0).reshape(2, 3)], 0.25, rounding="torch")
    assert sum(np.count_nonzero(~m) for m in masks) == 2           # 0.25 x 10 = 2.5 -> 2 (exact: 3)
    masks = select_global([np.arange(4.0).reshape(2, 2), np.arange(6.0).reshape(2, 3)], 0.25)
    assert sum(np.count_nonzero(~m) for m in masks) == 3


def test_prune_model_passes_rounding_to_every_layer(trained_mlp):
    """MLP fc1 (16,384 weights) at 9829/32768: 4914.5 exactly -> torch prunes 4914 (even), exact 4915."""
    from energysim.prune.pruner import PruneRequest, prune_model

    sparsity = 9829 / 32768
    counts = {}
    for rounding in ("exact", "torch"):
        model = trained_mlp.copy()
        prune_model(model, PruneRequest("fine", "magnitude", sparsity, rounding=rounding))
        counts[rounding] = int(np.count_nonzero(~model.weight_mask("fc1")))
    assert counts == {"exact": 4915, "torch": 4914}
