"""Criteria: registry documentation, hand-checked scores, the OBD Hessian against finite differences."""

from __future__ import annotations

import numpy as np
import pytest

from energysim.errors import InputError
from energysim.prune.criteria import ScoreContext, apoz, l1_norm, l2_norm, magnitude, network_slimming, random_scores
from energysim.prune.granularity import GRANULARITIES, grouping
from energysim.prune.hessian import diagonal_hessian
from energysim.prune.layers import BatchNorm2d, Conv2d, Flatten, Linear, MaxPool2d, ReLU
from energysim.prune.models import Model
from energysim.prune.pruner import PruneRequest, prune_model
from energysim.prune.registry import CRITERIA, CRITERION_GRANULARITIES, check_combination
from energysim.prune.regression import consumer_outputs, reconstruct_consumer, regression_scores
from energysim.prune.training import dataset_loss


def _context(model, layer, granularity, **kwargs):
    shape = model.weights(layer).shape
    kind = "fine" if granularity in ("fine_global", "nm") else granularity
    return ScoreContext(model=model, layer=layer, grouping=grouping(shape, kind), granularity=granularity, **kwargs)


@pytest.mark.parametrize("name", sorted(CRITERIA))
def test_every_criterion_is_documented_with_references(name):
    """Each registered criterion has a numpydoc docstring with a References section and declared granularities."""
    doc = CRITERIA[name].__doc__ or ""
    assert "References\n    ----------" in doc
    assert ".. [1]" in doc
    assert set(CRITERION_GRANULARITIES[name]) <= set(GRANULARITIES) and CRITERION_GRANULARITIES[name]


def test_check_combination_rejects_undeclared_pairs():
    """APoZ with fine granularity raises InputError listing the allowed granularities."""
    with pytest.raises(InputError, match=r"criterion 'apoz' works with granularities \['channel'\] \(got 'fine'\)"):
        check_combination("apoz", "fine")
    with pytest.raises(InputError, match="criterion must be one of"):
        check_combination("taylor", "fine")


def _tiny_linear_model(weight):
    model = Model([Flatten("f"), Linear("a", weight.shape[1], weight.shape[0]), ReLU("r"), Linear("b", weight.shape[0], 2)], (weight.shape[1],))
    model.layer("a").params["weight"][...] = weight
    return model


def test_magnitude_and_group_norms_by_hand():
    """|w| per weight; L1 and L2 per 1x2 block of [[3,-4,1,0]]: L1 = [7, 1], L2 = [5, 1]."""
    model = _tiny_linear_model(np.array([[3.0, -4.0, 1.0, 0.0]]))
    w = model.weights("a")
    assert magnitude(w, _context(model, "a", "fine")).tolist() == [3, 4, 1, 0]
    block = ScoreContext(model=model, layer="a", grouping=grouping(w.shape, "vector", block=2), granularity="vector")
    assert l1_norm(w, block).tolist() == [7.0, 1.0]
    assert l2_norm(w, block).tolist() == [5.0, 1.0]
    with pytest.raises(InputError, match="use 'l1' or 'l2'"):
        magnitude(w, block)


def test_random_scores_depend_on_seed_and_layer_only():
    """Random scores repeat for the same seed and layer and change with the seed."""
    model = _tiny_linear_model(np.ones((3, 4)))
    w = model.weights("a")
    first = random_scores(w, _context(model, "a", "fine", seed=1))
    assert np.array_equal(first, random_scores(w, _context(model, "a", "fine", seed=1)))
    assert not np.array_equal(first, random_scores(w, _context(model, "a", "fine", seed=2)))


def test_apoz_counts_zero_relu_outputs():
    """A neuron that is never positive on calibration data scores 0 (APoZ 1); an always-positive one scores 1."""
    weight = np.array([[1.0, 0.0], [-1.0, 0.0], [1.0, -1.0]])
    model = _tiny_linear_model(weight)
    x = np.array([[1.0, 0.0], [2.0, 1.0], [3.0, 4.0], [0.5, 1.0]])
    scores = apoz(model.weights("a"), _context(model, "a", "channel", x_calibration=x))
    np.testing.assert_allclose(scores, [1.0, 0.0, 0.5])


def test_slimming_scores_are_absolute_batchnorm_scales(trained_cnn):
    """Network slimming returns |gamma| of the batch norm after the layer."""
    model = trained_cnn.copy()
    model.layer("bn1").params["gamma"][:3] = [-2.0, 0.5, 0.0]
    scores = network_slimming(model.weights("conv1"), _context(model, "conv1", "channel"))
    assert scores[:3].tolist() == [2.0, 0.5, 0.0]
    with pytest.raises(InputError, match="needs granularity 'channel'"):
        network_slimming(model.weights("conv1"), _context(model, "conv1", "kernel"))


def _tiny_models():
    rng = np.random.default_rng(7)
    mlp = Model([Flatten("f"), Linear("l1", 4, 5, rng=rng), ReLU("r"), Linear("l2", 5, 3, rng=rng)], (4,))
    cnn = Model(
        [
            Conv2d("c", 1, 2, 3, padding=1, rng=rng),
            BatchNorm2d("bn", 2),
            ReLU("r"),
            MaxPool2d("p", 2),
            Flatten("f"),
            Linear("l", 8, 3, rng=rng),
        ],
        (1, 4, 4),
    )
    cnn.layer("bn").params["gamma"][...] = [1.3, 0.7]
    cnn.layer("bn").buffers["running_var"][...] = [0.8, 1.5]
    return [(mlp, rng.normal(size=(12, 4))), (cnn, rng.normal(size=(6, 1, 4, 4)))]


@pytest.mark.parametrize("case", [0, 1], ids=["mlp", "conv-bn-pool"])
def test_obd_hessian_diagonal_matches_finite_differences(case):
    """h_ii from the Gauss-Newton backward passes equals the second central difference of the mean loss."""
    model, x = _tiny_models()[case]
    y = np.arange(len(x)) % 3
    hessian = diagonal_hessian(model, x, y, batch_size=4)
    step = 1e-3
    base = dataset_loss(model, x, y)
    checked = 0
    for name, param in model.parameters().items():
        for index in np.ndindex(param.shape):
            old = param[index]
            param[index] = old + step
            up = dataset_loss(model, x, y)
            param[index] = old - step
            down = dataset_loss(model, x, y)
            param[index] = old
            numeric = (up - 2 * base + down) / step**2
            assert np.isclose(hessian[name][index], numeric, rtol=1e-4, atol=1e-6), (name, index)
            checked += 1
    assert checked == sum(p.size for p in model.parameters().values())


def test_obd_prunes_low_saliency_not_just_small_weights(trained_mlp, digits):
    """OBD on the trained MLP removes the exact count, and its pick differs from plain magnitude."""
    obd, mag = trained_mlp.copy(), trained_mlp.copy()
    prune_model(obd, PruneRequest("fine", "obd", 0.5), digits.x_train, digits.y_train)
    prune_model(mag, PruneRequest("fine", "magnitude", 0.5))
    assert np.count_nonzero(~obd.masks["fc1.weight"]) == round(0.5 * obd.weights("fc1").size)
    assert not np.array_equal(obd.masks["fc1.weight"], mag.masks["fc1.weight"])


def test_regression_scores_rank_the_channel_that_carries_the_output_first():
    """When only neuron 1 feeds the next layer, the LASSO path ranks it highest and neuron 0 (no weight out) last."""
    rng = np.random.default_rng(0)
    model = Model([Flatten("f"), Linear("a", 3, 3, rng=rng), ReLU("r"), Linear("b", 3, 2, rng=rng)], (3,))
    model.layer("a").params["weight"][...] = np.eye(3)
    model.layer("b").params["weight"][...] = [[0.0, 5.0, 0.2], [0.0, -4.0, 0.1]]
    x = np.abs(rng.normal(size=(50, 3)))
    scores = regression_scores(model.weights("a"), _context(model, "a", "channel", x_calibration=x))
    assert np.argmax(scores) == 1 and scores[0] == 0.0


def test_regression_scores_on_the_trained_mlp_tie_only_between_channels_without_contribution(trained_mlp, digits):
    """fc1 scores: every channel that feeds fc2 on the calibration data has its own score; only dead ones tie (at 0)."""
    from energysim.prune.regression import consumer_design

    model = trained_mlp.copy()
    calibration = digits.calibration(256)
    scores = regression_scores(model.weights("fc1"), _context(model, "fc1", "channel", x_calibration=calibration))
    patches, channel_of_column = consumer_design(model, "fc1", calibration)
    feeds = np.array([np.any(patches[:, channel_of_column == c]) for c in range(256)])
    assert 200 < np.count_nonzero(feeds) < 256  # some fc1 neurons never fire on these images
    assert len(np.unique(scores[feeds])) == np.count_nonzero(feeds)
    assert np.all(scores[~feeds] == 0.0) and scores[feeds].min() > 0
    assert sorted(scores[feeds]) == list(range(1, np.count_nonzero(feeds) + 1))


def test_regression_scores_follow_the_exact_lasso_entry_order():
    """The channel entering the LASSO path first scores highest; a tie in entry is broken by |beta| at the path end."""
    from energysim.prune.regression import lasso_path_entry, lexicographic_rank

    rng = np.random.default_rng(3)
    design = rng.normal(size=(200, 4)) * np.array([4.0, 1.0, 2.0, 0.5])
    entry, final = lasso_path_entry(design, design.sum(axis=1))
    assert np.argmax(entry) == 0 and np.argmin(entry) == 3
    assert np.allclose(final, 1.0)
    assert lexicographic_rank(np.array([1.0, 1.0, 0.5]), np.array([0.2, 0.9, 5.0])).tolist() == [1.0, 2.0, 0.0]


def test_least_squares_reconstruction_recovers_a_redundant_channel():
    """If neuron 2 copies neuron 0, pruning 2 and re-fitting the next layer restores its output exactly."""
    rng = np.random.default_rng(1)
    model = Model([Flatten("f"), Linear("a", 2, 3, rng=rng), ReLU("r"), Linear("b", 3, 2, rng=rng)], (2,))
    model.layer("a").params["weight"][...] = [[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]]
    x = np.abs(rng.normal(size=(40, 2)))
    reference = consumer_outputs(model, "a", x)
    from energysim.prune.structure import channel_masks

    for param, mask in channel_masks(model, "a", np.array([True, True, False])).items():
        model.set_mask(param, mask)
    residual = reconstruct_consumer(model, "a", x, reference, ridge=0.0)
    assert residual < 1e-10
    assert np.all(model.weights("b")[:, 2] == 0)


def test_regression_channel_pruning_beats_l1_before_finetuning(trained_cnn, digits):
    """On the trained CNN at 50 % channels, regression (selection + re-fit) keeps more accuracy than L1 norms."""
    calibration = digits.calibration(256)
    results = {}
    for criterion in ("regression", "l1"):
        model = trained_cnn.copy()
        prune_model(model, PruneRequest("channel", criterion, 0.5), digits.x_train, digits.y_train, calibration)
        results[criterion] = model.accuracy(digits.x_test, digits.y_test)
    assert results["regression"] > results["l1"] + 0.2
