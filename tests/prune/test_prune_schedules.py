"""Schedules: cubic targets, masks held fixed during fine-tuning, monotone steps, accuracy recovery."""

from __future__ import annotations

import numpy as np
import pytest

from energysim.errors import InputError
from energysim.prune import schedules
from energysim.prune.granularity import prune_count
from energysim.prune.pruner import PruneRequest, prune_model
from energysim.prune.schedules import cubic_sparsity, finetune_config, run_schedule
from energysim.prune.training import TrainConfig, train


def test_cubic_schedule_values():
    """Zhu & Gupta: s_i before t0, s_f after the end, and s_f*(1 - (1-1/2)^3) = 0.7 at the midpoint for s_f = 0.8."""
    assert cubic_sparsity(0, 0.8, 10, 20) == 0.0
    assert cubic_sparsity(15, 0.8, 10, 20) == pytest.approx(0.8 * (1 - 0.5**3))
    assert cubic_sparsity(25, 0.8, 10, 20) == pytest.approx(0.8)
    with pytest.raises(InputError, match="end_step > start_step"):
        cubic_sparsity(0, 0.8, 5, 5)


def test_finetuning_keeps_pruned_weights_exactly_zero(trained_cnn, digits):
    """Training with masks set leaves every pruned weight, gamma and beta exactly 0.0 (not merely small)."""
    model = trained_cnn.copy()
    prune_model(model, PruneRequest("channel", "l2", 0.5))
    prune_model(model, PruneRequest("fine", "magnitude", 0.6))
    before = {k: v.copy() for k, v in model.masks.items()}
    train(model, digits.x_train, digits.y_train, TrainConfig(epochs=2, learning_rate=1e-2))
    params = model.parameters()
    for name, mask in before.items():
        assert np.all(params[name][~mask] == 0.0), name
        assert np.array_equal(model.masks[name], mask)
    assert np.any(params["conv2.weight"][model.masks["conv2.weight"]] != trained_cnn.parameters()["conv2.weight"][model.masks["conv2.weight"]])


def test_iterative_steps_only_add_pruned_weights(trained_mlp):
    """Each step at a higher target prunes a superset of the previous step's weights (monotone masks)."""
    model = trained_mlp.copy()
    previous = None
    for target in (0.2, 0.5, 0.8):
        report = prune_model(model, PruneRequest("fine", "magnitude", target))
        mask = model.masks["fc2.weight"]
        if previous is not None:
            assert np.all(mask <= previous)
        assert report.layer_sparsity["fc2"] == prune_count(target, mask.size) / mask.size
        previous = mask.copy()
        model.weights("fc2")[...] += 0.01  # perturb: masked weights must not come back
        model.apply_masks()


@pytest.mark.parametrize("schedule", ["one_shot", "iterative", "gradual"])
def test_schedules_reach_the_target_and_record_provenance(schedule, trained_mlp, digits):
    """Every schedule ends at the exact target sparsity and records accuracies in the model metadata."""
    model = trained_mlp.copy()
    result = run_schedule(model, PruneRequest("fine", "magnitude", 0.6), digits, schedule, finetune_epochs=1, steps=2)
    size = model.weights("fc1").size
    assert result.report.layer_sparsity["fc1"] == prune_count(0.6, size) / size
    assert model.metadata["schedule"] == schedule
    assert model.metadata["accuracy_finetuned"] == result.accuracy_finetuned


def test_gradual_prunes_at_rising_cubic_targets_with_shrinking_masks(trained_mlp, digits, monkeypatch):
    """Gradual (2 epochs, steps=2) prunes every end_step // 8 steps at cubic_sparsity targets, then at s; masks only shrink."""
    calls = []
    real_prune = schedules.prune_model

    def spy(model, request, *args, **kwargs):
        report = real_prune(model, request, *args, **kwargs)
        calls.append((request.sparsity, {k: v.copy() for k, v in model.masks.items()}))
        return report

    monkeypatch.setattr(schedules, "prune_model", spy)
    model = trained_mlp.copy()
    run_schedule(model, PruneRequest("fine", "magnitude", 0.6), digits, "gradual", finetune_epochs=2, steps=2)
    end_step = 2 * -(-len(digits.x_train) // finetune_config(2).batch_size)
    interval = end_step // 8
    expected = [cubic_sparsity(t, 0.6, 0, end_step) for t in range(interval, end_step + 1, interval)] + [0.6]
    assert [target for target, _ in calls] == expected
    assert len(expected) >= 5 and all(a < b for a, b in zip(expected, expected[1:]))
    for (_, before), (_, after) in zip(calls, calls[1:]):
        assert all(np.all(after[name] <= before[name]) for name in before)
    for target, masks in calls:
        mask = masks["fc1.weight"]
        assert np.count_nonzero(~mask) == prune_count(target, mask.size)


def test_gradual_refuses_zero_epochs(trained_mlp, digits):
    """Gradual with finetune_epochs=0 raises InputError instead of silently training one epoch."""
    with pytest.raises(InputError, match=r"finetune_epochs must be >= 1 \(got 0\)"):
        run_schedule(trained_mlp.copy(), PruneRequest("fine", "magnitude", 0.5), digits, "gradual", finetune_epochs=0)


def test_iterative_with_zero_epochs_trains_nothing(trained_mlp, digits):
    """Iterative with finetune_epochs=0 only prunes: every kept weight equals the trained model's weight."""
    model = trained_mlp.copy()
    result = run_schedule(model, PruneRequest("fine", "magnitude", 0.6), digits, "iterative", finetune_epochs=0, steps=3)
    for name in model.weight_layers:
        kept = model.weight_mask(name)
        assert np.array_equal(model.weights(name)[kept], trained_mlp.weights(name)[kept])
    assert result.accuracy_finetuned == result.accuracy_pruned


def test_fine_magnitude_80_percent_with_finetuning_stays_within_one_point(trained_mlp, digits):
    """Fine-grained magnitude pruning to 80 % plus 10 fine-tuning epochs loses at most 1 point of test accuracy."""
    model = trained_mlp.copy()
    result = run_schedule(model, PruneRequest("fine", "magnitude", 0.8), digits, "one_shot", finetune_epochs=10)
    sizes = [model.weights(name).size for name in model.weight_layers]
    assert result.report.total_sparsity == sum(prune_count(0.8, size) for size in sizes) / sum(sizes)
    assert result.accuracy_finetuned >= result.accuracy_dense - 0.01
    assert result.accuracy_pruned < result.accuracy_finetuned


def test_unknown_schedule_raises(trained_mlp, digits):
    """An unknown schedule name raises InputError listing the known ones."""
    with pytest.raises(InputError, match=r"schedule must be one of \['one_shot', 'iterative', 'gradual'\]"):
        run_schedule(trained_mlp.copy(), PruneRequest("fine", "magnitude", 0.5), digits, "cyclic")


def test_slimming_sparsity_training_makes_batchnorm_scales_prunable(trained_cnn, digits):
    """L1 training on gamma drives many bn2 scales below 0.05, and slimming then beats L1 norms before fine-tuning."""
    from energysim.prune.schedules import slimming_sparsity_training

    assert np.count_nonzero(np.abs(trained_cnn.layer("bn2").params["gamma"]) < 0.05) == 0
    slim = trained_cnn.copy()
    slimming_sparsity_training(slim, digits, epochs=5)
    assert np.count_nonzero(np.abs(slim.layer("bn2").params["gamma"]) < 0.05) >= 8
    plain = trained_cnn.copy()
    prune_model(slim, PruneRequest("channel", "slimming", 0.5))
    prune_model(plain, PruneRequest("channel", "l1", 0.5))
    assert slim.accuracy(digits.x_test, digits.y_test) > plain.accuracy(digits.x_test, digits.y_test) + 0.2
