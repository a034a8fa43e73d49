"""Channel pruning: propagation to batch norm and the next layer, and the physically shrunk model."""

from __future__ import annotations

import numpy as np
import pytest

from energysim.errors import InputError
from energysim.prune.pruner import PruneRequest, prune_model
from energysim.prune.structure import channel_masks, shrink_model


def test_channel_masks_reach_batchnorm_and_consumer(trained_cnn):
    """Dropping conv1 channel 3 masks its weight row, bn1 gamma/beta[3] and conv2 input channel 3."""
    keep = np.ones(16, dtype=bool)
    keep[3] = False
    masks = channel_masks(trained_cnn, "conv1", keep)
    assert sorted(masks) == ["bn1.beta", "bn1.gamma", "conv1.weight", "conv2.weight"]
    assert not masks["conv1.weight"][3].any() and masks["conv1.weight"][2].all()
    assert not masks["bn1.gamma"][3] and not masks["bn1.beta"][3]
    assert not masks["conv2.weight"][:, 3].any() and masks["conv2.weight"][:, 2].all()


def test_channel_masks_through_flatten_cover_all_features(trained_cnn):
    """conv2 channel c owns fc inputs c*4 .. c*4+3 (2x2 pooled map after flatten)."""
    keep = np.ones(32, dtype=bool)
    keep[5] = False
    fc_mask = channel_masks(trained_cnn, "conv2", keep)["fc.weight"]
    assert np.flatnonzero(~fc_mask[0]).tolist() == [20, 21, 22, 23]


def test_output_layer_cannot_be_channel_pruned(trained_mlp):
    """Channel masks on the classifier raise InputError: its channels are the classes."""
    with pytest.raises(InputError, match="output layer"):
        channel_masks(trained_mlp, "fc3", np.ones(10, dtype=bool))


@pytest.mark.parametrize("model_name", ["mlp", "cnn"])
def test_shrunk_model_equals_masked_model(model_name, trained_mlp, trained_cnn, digits):
    """After channel pruning, the physically smaller model gives the masked model's outputs."""
    model = (trained_mlp if model_name == "mlp" else trained_cnn).copy()
    prune_model(model, PruneRequest("channel", "l1", 0.5))
    shrunk = shrink_model(model)
    first = shrunk.weight_layers[0]
    assert shrunk.weights(first).shape[0] == model.weights(first).shape[0] // 2
    assert sum(shrunk.weights(n).size for n in shrunk.weight_layers) < sum(
        model.weights(n).size for n in model.weight_layers
    )
    np.testing.assert_allclose(shrunk.forward(digits.x_test), model.forward(digits.x_test), rtol=1e-12, atol=1e-12)


def test_shrink_leaves_unpruned_model_unchanged(trained_cnn, digits):
    """Shrinking a model without dead channels keeps every shape."""
    shrunk = shrink_model(trained_cnn)
    assert [shrunk.weights(n).shape for n in shrunk.weight_layers] == [
        trained_cnn.weights(n).shape for n in trained_cnn.weight_layers
    ]


def test_layer_mask_table_joins_format_statistics(trained_mlp):
    """After 2:4 pruning every layer shows sparsity 0.5, no 2:4 violation and 2:4 storage of 9/16 of dense."""
    from energysim.prune.mask_report import layer_mask_table

    model = trained_mlp.copy()
    prune_model(model, PruneRequest("nm", "magnitude"))
    table = layer_mask_table(model, value_bits=16).set_index("layer")
    assert list(table.index) == ["fc1", "fc2", "fc3"]
    assert (table["sparsity"] == 0.5).all() and (table["nm24_violating_fraction"] == 0).all()
    assert (table["nm_2_4_bits"] / table["dense_bits"] == 9 / 16).all()
