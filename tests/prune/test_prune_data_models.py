"""Data split, layer gradients, model accuracy, determinism and the model file format."""

from __future__ import annotations

import json

import numpy as np
import pytest

from energysim.errors import ConfigError, InputError
from energysim.prune.data import load_digits_dataset
from energysim.prune.layers import BatchNorm2d, Conv2d, Flatten, Linear, MaxPool2d, ReLU, col2im, im2col
from energysim.prune.models import Model, build_model, load_model, save_model
from energysim.prune.training import TrainConfig, cross_entropy, train


def test_digits_split_is_stratified_scaled_and_fixed():
    """The split has 1437/360 images in [0, 1], every class in both parts, and is identical for the same seed."""
    a, b = load_digits_dataset(), load_digits_dataset()
    assert a.x_train.shape == (1437, 1, 8, 8) and a.x_test.shape == (360, 1, 8, 8)
    assert a.x_train.min() == 0.0 and a.x_train.max() == 1.0
    assert set(np.unique(a.y_test)) == set(range(10))
    assert np.array_equal(a.x_train, b.x_train) and np.array_equal(a.y_test, b.y_test)
    assert not np.array_equal(load_digits_dataset(split_seed=1).y_test, a.y_test)


def test_calibration_sample_rejects_bad_size(digits):
    """Asking for more calibration images than training images raises InputError naming the range."""
    with pytest.raises(InputError, match=r"calibration samples must be in \[1, 1437\] \(got 5000\)"):
        digits.calibration(5000)


def test_im2col_and_col2im_are_adjoint():
    """<im2col(x), c> equals <x, col2im(c)>, so the conv backward pass is the exact transpose."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 3, 5, 5))
    cols = im2col(x, 3, 3, 1)
    c = rng.normal(size=cols.shape)
    assert np.isclose(np.sum(cols * c), np.sum(x * col2im(c, x.shape, 3, 3, 1)))


@pytest.mark.parametrize("training", [True, False])
def test_layer_gradients_match_finite_differences(training):
    """Backward passes of conv, batch norm, ReLU, max-pool and linear match central differences of the loss."""
    rng = np.random.default_rng(3)
    model = Model(
        [
            Conv2d("conv", 1, 2, 3, padding=1, bias=True, rng=rng),
            BatchNorm2d("bn", 2),
            ReLU("relu"),
            MaxPool2d("pool", 2),
            Flatten("flat"),
            Linear("fc", 8, 3, rng=rng),
        ],
        (1, 4, 4),
    )
    model.layer("bn").buffers["running_mean"] = rng.normal(size=2)
    model.layer("bn").buffers["running_var"] = rng.uniform(0.5, 2, size=2)
    x = rng.normal(size=(5, 1, 4, 4))
    y = rng.integers(0, 3, size=5)
    state = {k: v.copy() for k, v in model.layer("bn").buffers.items()}

    def loss():
        model.layer("bn").buffers.update({k: v.copy() for k, v in state.items()})
        return cross_entropy(model.forward(x, training=training), y)[0]

    model.layer("bn").buffers.update({k: v.copy() for k, v in state.items()})
    _, grad = cross_entropy(model.forward(x, training=training), y)
    model.backward(grad)
    analytic = {k: v.copy() for k, v in model.gradients().items()}
    for name, param in model.parameters().items():
        for index in [(0,) * param.ndim, tuple(s - 1 for s in param.shape)]:
            old = param[index]
            param[index] = old + 1e-6
            up = loss()
            param[index] = old - 1e-6
            down = loss()
            param[index] = old
            assert np.isclose(analytic[name][index], (up - down) / 2e-6, rtol=1e-4, atol=1e-7), name


def test_both_models_reach_95_percent(trained_mlp, trained_cnn, digits):
    """The default MLP and CNN reach at least 95 % test accuracy on the digits."""
    assert trained_mlp.accuracy(digits.x_test, digits.y_test) >= 0.95
    assert trained_cnn.accuracy(digits.x_test, digits.y_test) >= 0.95


def test_training_is_deterministic_for_a_seed(digits):
    """Two runs with the same seed give bit-identical parameters; another seed differs."""
    runs = []
    for seed in (0, 0, 1):
        model = build_model("mlp", seed)
        train(model, digits.x_train[:200], digits.y_train[:200], TrainConfig(epochs=2, seed=seed))
        runs.append(model.parameters()["fc1.weight"].copy())
    assert np.array_equal(runs[0], runs[1])
    assert not np.array_equal(runs[0], runs[2])


def test_save_load_round_trip_keeps_outputs_and_masks(trained_cnn, digits, tmp_path):
    """A saved and reloaded model gives identical logits and keeps masks, buffers and metadata."""
    model = trained_cnn.copy()
    mask = np.ones(model.weights("conv2").shape, dtype=bool)
    mask[0, 0] = False
    model.set_mask("conv2.weight", mask)
    model.metadata["note"] = "x"
    save_model(model, tmp_path / "m")
    again = load_model(tmp_path / "m")
    assert np.array_equal(again.forward(digits.x_test), model.forward(digits.x_test))
    assert np.array_equal(again.masks["conv2.weight"], mask)
    assert again.metadata["note"] == "x"
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["model.json", "model.npz"]


def test_load_rejects_foreign_json(tmp_path, trained_mlp):
    """A model.json with another format name raises ConfigError naming the expected format."""
    save_model(trained_mlp, tmp_path)
    spec = json.loads((tmp_path / "model.json").read_text())
    spec["format"] = "something-else"
    (tmp_path / "model.json").write_text(json.dumps(spec))
    with pytest.raises(ConfigError, match="format must be 'energysim-numpy-model'"):
        load_model(tmp_path)


def test_load_missing_folder_raises_config_error(tmp_path):
    """Loading a folder without model.json raises ConfigError, not FileNotFoundError."""
    with pytest.raises(ConfigError, match="model.json: file not found"):
        load_model(tmp_path / "nothing")


def test_unknown_model_name_raises():
    """build_model names the allowed models and the bad value."""
    with pytest.raises(InputError, match=r"model must be one of \['cnn', 'mlp', 'resnet'\] \(got 'vgg'\)"):
        build_model("vgg")


def _rewrite_npz(folder, change):
    with np.load(folder / "model.npz") as archive:
        arrays = {key: archive[key] for key in archive.files}
    change(arrays)
    np.savez(folder / "model.npz", **arrays)


def test_load_rejects_a_mask_of_the_wrong_shape(tmp_path, trained_mlp):
    """A (64,) mask for fc1 (which would broadcast and zero all of fc1) raises ConfigError naming both shapes."""
    save_model(trained_mlp, tmp_path)
    _rewrite_npz(tmp_path, lambda arrays: arrays.update({"mask/fc1.weight": np.ones(64, np.uint8)}))
    message = f"{tmp_path}: array 'mask/fc1.weight' must have shape (256, 64) (got (64,))"
    with pytest.raises(ConfigError) as error:
        load_model(tmp_path)
    assert str(error.value) == message


def test_load_rejects_a_mask_for_an_unknown_parameter(tmp_path, trained_mlp):
    """A mask for fc9.weight (no such parameter) raises ConfigError instead of a raw KeyError."""
    save_model(trained_mlp, tmp_path)
    _rewrite_npz(tmp_path, lambda arrays: arrays.update({"mask/fc9.weight": np.ones((2, 2), np.uint8)}))
    with pytest.raises(ConfigError, match=r"array 'mask/fc9\.weight' must name a parameter of the model"):
        load_model(tmp_path)


def test_load_rejects_a_mask_with_values_other_than_0_and_1(tmp_path, trained_mlp):
    """A mask entry of 2 raises ConfigError (masks are stored as uint8 0/1)."""
    save_model(trained_mlp, tmp_path)
    mask = np.ones((10, 128), np.uint8)
    mask[0, 0] = 2
    _rewrite_npz(tmp_path, lambda arrays: arrays.update({"mask/fc3.weight": mask}))
    with pytest.raises(ConfigError, match=r"array 'mask/fc3\.weight' must hold only 0 and 1 \(got 2\)"):
        load_model(tmp_path)


def test_failed_save_keeps_the_old_model_files(tmp_path, trained_mlp, monkeypatch):
    """If writing model.npz fails, the earlier model.json and model.npz stay byte for byte, with no temporary file."""
    save_model(trained_mlp, tmp_path)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", broken)
    with pytest.raises(OSError, match="disk full"):
        save_model(build_model("mlp", seed=1), tmp_path)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
