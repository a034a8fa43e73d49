"""Small numpy models (an MLP, a CNN and a residual CNN for 8x8 digits), their masks, and their file format.

A :class:`Model` is an ordered list of layers (see :mod:`energysim.prune.layers`)
plus keep-masks: ``masks[name]`` is a boolean array for the parameter
``name`` (``"<layer>.<param>"``, e.g. ``"conv1.weight"``); a masked parameter is
held at exactly zero where its mask is False (:meth:`Model.apply_masks`).

Model file format (a folder, no pickle)
---------------------------------------
``model.json``
    ``{"format": "energysim-numpy-model", "version": 1, "name": ...,
    "input_shape": [1, 8, 8], "layers": [<layer spec>, ...], "metadata": {...}}``
    where each layer spec is ``{"kind": "conv2d", "name": "conv1", ...shape
    arguments}`` (see ``Layer.spec``) and ``metadata`` holds free JSON
    (seed, epochs, test accuracy).
``model.npz``
    Arrays ``param/<layer>.<param>`` (float64), ``buffer/<layer>.<buffer>``
    (batch-norm running statistics) and ``mask/<layer>.<param>`` (uint8 0/1),
    read with ``allow_pickle=False``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from energysim.atomic_files import StagedFiles
from energysim.config.loading import parse_json
from energysim.errors import ConfigError, InputError
from energysim.limits import ARRAY_BYTES, DIMENSION, TEXT_FILE_BYTES, read_bounded
from energysim.npz_archive import NpzArchive
from energysim.prune.layers import (
    AddShortcut, BatchNorm2d, Conv2d, Flatten, Layer, Linear, MaxPool2d, ReLU, Shortcut, layer_from_spec,
)
from energysim.workloads.writing import SAFE_NAME

MODEL_FORMAT = "energysim-numpy-model"
MODEL_FORMAT_VERSION = 1
DIGITS_INPUT_SHAPE = (1, 8, 8)
"""Input shape of one digits image: (channels, height, width)."""


@dataclass(frozen=True)
class ChannelDependency:
    """What removing output channel ``c`` of a layer touches.

    Attributes
    ----------
    layer
        The pruned layer (its weight rows / output channels).
    batchnorm
        The batch norm right after it (its gamma, beta and statistics), or None.
    relu
        The ReLU whose output carries these channels (for APoZ), or None.
    consumer
        The next weight layer, whose input channels / features shrink.
    features_per_channel
        Input features of ``consumer`` per channel of ``layer``: 1 for conv -> conv
        and linear -> linear, height*width when a flatten lies between (channel
        ``c`` owns consumer features ``c*f .. c*f + f - 1``).
    """

    layer: str
    batchnorm: str | None
    relu: str | None
    consumer: str
    features_per_channel: int


class Model:
    """A sequential numpy network with keep-masks.

    Parameters
    ----------
    layers
        Layers in execution order, names unique.
    input_shape
        Shape of one input sample, e.g. (1, 8, 8).
    name
        Model name (``"mlp"``, ``"cnn"`` or anything).
    """

    def __init__(self, layers: list[Layer], input_shape: tuple[int, ...], name: str = "model"):
        names = [layer.name for layer in layers]
        if len(set(names)) != len(names):
            raise InputError(f"model layer names must be unique (got {names})")
        self.layers = list(layers)
        self.input_shape = tuple(int(d) for d in input_shape)
        self.name = name
        self.masks: dict[str, np.ndarray] = {}
        self.metadata: dict = {}
        self.recorded_inputs: dict[str, np.ndarray] = {}
        self.recorded_outputs: dict[str, np.ndarray] = {}
        _link_shortcuts(self.layers)

    # ---- structure -------------------------------------------------------------------------
    def layer(self, name: str) -> Layer:
        """The layer called ``name``."""
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise InputError(f"model {self.name!r} has no layer {name!r} (layers: {[l.name for l in self.layers]})")

    @property
    def weight_layers(self) -> list[str]:
        """Names of the prunable layers (linear and conv2d), in execution order."""
        return [layer.name for layer in self.layers if isinstance(layer, (Linear, Conv2d))]

    def parameters(self) -> dict[str, np.ndarray]:
        """All trainable arrays as ``{"<layer>.<param>": array}`` (the arrays themselves, not copies)."""
        return {f"{layer.name}.{key}": value for layer in self.layers for key, value in layer.params.items()}

    def gradients(self) -> dict[str, np.ndarray]:
        """Gradients from the last backward pass, keyed like :meth:`parameters`."""
        return {f"{layer.name}.{key}": value for layer in self.layers for key, value in layer.grads.items()}

    def weights(self, layer_name: str) -> np.ndarray:
        """The weight array of a prunable layer (the array itself)."""
        layer = self.layer(layer_name)
        if "weight" not in layer.params:
            raise InputError(f"layer {layer_name!r} has no weights (kind {layer.kind!r})")
        return layer.params["weight"]

    def weight_mask(self, layer_name: str) -> np.ndarray:
        """The keep-mask of a layer's weights (all True where none is set); a copy."""
        weights = self.weights(layer_name)
        mask = self.masks.get(f"{layer_name}.weight")
        return np.ones(weights.shape, dtype=bool) if mask is None else mask.copy()

    def shapes(self) -> dict[str, tuple[int, ...]]:
        """Input shape (without the sample axis) of every layer, by name."""
        shape = self.input_shape
        out = {}
        probe = np.zeros((1, *shape))
        for layer in self.layers:
            out[layer.name] = tuple(probe.shape[1:])
            probe = layer.forward(probe, training=False)
        return out

    def channel_dependency(self, layer_name: str) -> ChannelDependency:
        """Which batch norm, ReLU and consumer layer share the output channels of ``layer_name``.

        Raises
        ------
        InputError
            For the last weight layer (its outputs are the class scores) or an
            unsupported layer between this layer and its consumer.
        """
        order = [layer.name for layer in self.layers]
        start = order.index(self.layer(layer_name).name)
        if not isinstance(self.layers[start], (Linear, Conv2d)):
            raise InputError(f"channel pruning needs a linear or conv2d layer (got {layer_name!r})")
        if isinstance(self.layers[start], Conv2d) and self.layers[start].groups > 1:
            raise InputError(f"channel pruning of grouped conv {layer_name!r} is not supported (an output channel "
                             f"belongs to one of its {self.layers[start].groups} groups)")
        batchnorm = relu = None
        shapes = self.shapes()
        flatten_features = 1
        for layer in self.layers[start + 1 :]:
            if isinstance(layer, BatchNorm2d) and batchnorm is None and relu is None:
                batchnorm = layer.name
            elif isinstance(layer, ReLU) and relu is None:
                relu = layer.name
            elif isinstance(layer, MaxPool2d):
                continue
            elif isinstance(layer, Flatten):
                channels_shape = shapes[layer.name]
                flatten_features = int(np.prod(channels_shape[1:])) if len(channels_shape) > 1 else 1
            elif isinstance(layer, Conv2d) and layer.groups > 1:
                raise InputError(f"channel pruning of layer {layer_name!r} cannot reach into grouped conv {layer.name!r} "
                                 f"(its input channels are split over {layer.groups} groups)")
            elif isinstance(layer, (Linear, Conv2d)):
                return ChannelDependency(layer_name, batchnorm, relu, layer.name, flatten_features)
            else:
                raise InputError(f"channel pruning cannot pass layer {layer.name!r} of kind {layer.kind!r}")
        raise InputError(
            f"channel pruning of layer {layer_name!r} is not allowed: it is the output layer (its channels are the classes)"
        )

    # ---- masks -----------------------------------------------------------------------------
    def set_mask(self, param_name: str, mask: np.ndarray) -> None:
        """Set the keep-mask of a parameter, intersected with any existing mask (monotone), and apply it."""
        params = self.parameters()
        if param_name not in params:
            raise InputError(f"model {self.name!r} has no parameter {param_name!r}")
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != params[param_name].shape:
            raise InputError(
                f"mask for {param_name!r} must have shape {params[param_name].shape} (got {mask.shape})"
            )
        previous = self.masks.get(param_name)
        self.masks[param_name] = mask if previous is None else (mask & previous)
        params[param_name] *= self.masks[param_name]

    def apply_masks(self) -> None:
        """Zero every masked-out parameter in place (exact zeros)."""
        params = self.parameters()
        for name, mask in self.masks.items():
            params[name] *= mask

    def sparsity(self, layer_name: str) -> float:
        """Measured fraction of zero weights of a layer (counts zeros, masked or not)."""
        weights = self.weights(layer_name)
        return float(np.count_nonzero(weights == 0) / weights.size)

    def total_sparsity(self) -> float:
        """Fraction of zero weights over all prunable layers together."""
        zeros = sum(int(np.count_nonzero(self.weights(n) == 0)) for n in self.weight_layers)
        total = sum(self.weights(n).size for n in self.weight_layers)
        return zeros / total

    # ---- execution -------------------------------------------------------------------------
    def forward(self, x: np.ndarray, training: bool = False, record: bool = False) -> np.ndarray:
        """Class scores (logits), shape (samples, classes).

        With ``record=True`` the input and output of every layer are kept in
        ``recorded_inputs`` / ``recorded_outputs`` (by layer name).
        """
        if x.shape[1:] != self.input_shape:
            raise InputError(f"model {self.name!r} expects inputs of shape (samples, {self.input_shape}) (got {x.shape})")
        if record:
            self.recorded_inputs, self.recorded_outputs = {}, {}
        for layer in self.layers:
            if record:
                self.recorded_inputs[layer.name] = x
            x = layer.forward(x, training)
            if record:
                self.recorded_outputs[layer.name] = x
        return x

    def backward(self, grad_logits: np.ndarray, square_per_sample: bool = False) -> None:
        """Back-propagate d(loss)/d(logits); fills every layer's ``grads``."""
        grad = grad_logits
        for layer in reversed(self.layers):
            grad = layer.backward(grad, square_per_sample=square_per_sample)

    def predict(self, x: np.ndarray, batch_size: int = 512) -> np.ndarray:
        """Predicted classes (evaluation mode), shape (samples,)."""
        return np.concatenate(
            [self.forward(x[i : i + batch_size]).argmax(axis=1) for i in range(0, len(x), batch_size)]
        )

    def accuracy(self, x: np.ndarray, y: np.ndarray) -> float:
        """Fraction of correctly classified samples (0..1)."""
        return float(np.mean(self.predict(x) == y))

    # ---- copies and files ------------------------------------------------------------------
    def spec(self) -> dict:
        """The JSON description of the architecture (no arrays)."""
        return {
            "format": MODEL_FORMAT,
            "version": MODEL_FORMAT_VERSION,
            "name": self.name,
            "input_shape": list(self.input_shape),
            "layers": [layer.spec() for layer in self.layers],
            "metadata": self.metadata,
        }

    def arrays(self) -> dict[str, np.ndarray]:
        """Every array of the model as the ``model.npz`` keys."""
        out = {f"param/{k}": v for k, v in self.parameters().items()}
        for layer in self.layers:
            for key, value in layer.buffers.items():
                out[f"buffer/{layer.name}.{key}"] = value
        for key, mask in self.masks.items():
            out[f"mask/{key}"] = mask.astype(np.uint8)
        return out

    def copy(self) -> "Model":
        """A deep copy (parameters, buffers, masks, metadata)."""
        return model_from_parts(json.loads(json.dumps(self.spec())), {k: v.copy() for k, v in self.arrays().items()})


def _link_shortcuts(layers: list[Layer]) -> None:
    """Point every :class:`AddShortcut` at the earlier :class:`Shortcut` it names (each shortcut used once)."""
    seen: dict[str, Shortcut] = {}
    for layer in layers:
        if isinstance(layer, Shortcut):
            seen[layer.name] = layer
        elif isinstance(layer, AddShortcut):
            if layer.source not in seen:
                raise InputError(f"layer {layer.name!r} adds shortcut {layer.source!r}, which must be an earlier, "
                                 f"unused shortcut layer (earlier shortcuts: {sorted(seen) or 'none'})")
            layer.shortcut = seen.pop(layer.source)


def model_from_parts(spec: dict, arrays: dict[str, np.ndarray], origin: str = "model") -> Model:
    """Rebuild a model from its JSON spec and its arrays (the inverse of ``spec``/``arrays``).

    Every array is checked: ``param/`` and ``buffer/`` keys must name an
    existing parameter or buffer, ``mask/<layer>.<param>`` keys an existing
    parameter; each array must have exactly that parameter's shape (no
    broadcasting) and a mask only 0/1 values.

    Raises
    ------
    ConfigError
        Naming ``origin`` and the offending array, e.g.
        ``"<folder>: array 'mask/fc1.weight' must have shape (256, 64) (got (64,))"``.
    """
    _check_spec(spec, origin)
    try:
        layers = [layer_from_spec(s) for s in spec["layers"]]
        model = Model(layers, tuple(spec["input_shape"]), name=str(spec.get("name", "model")))
    except (KeyError, TypeError, ValueError, InputError) as exc:
        raise ConfigError(f"{origin}: invalid model description ({exc})") from None
    try:
        model.shapes()
    except (ValueError, InputError) as exc:
        raise ConfigError(f"{origin}: layers: the layers do not chain from input_shape {model.input_shape} ({exc})") from None
    if not isinstance(spec.get("metadata", {}), dict):
        raise ConfigError(f"{origin}: metadata: must be a JSON object (got {type(spec['metadata']).__name__})")
    model.metadata = dict(spec.get("metadata", {}))
    by_layer = {layer.name: layer for layer in layers}
    parameter_shapes = {name: value.shape for name, value in model.parameters().items()}
    for key, value in arrays.items():
        group, _, full = key.partition("/")
        layer_name, _, field = full.rpartition(".")
        layer = by_layer.get(layer_name)
        store = {"param": getattr(layer, "params", None), "buffer": getattr(layer, "buffers", None)}.get(group)
        if group == "mask":
            model.masks[full] = _mask_array(origin, key, full, value, parameter_shapes)
            continue
        if store is None or field not in store:
            raise ConfigError(f"{origin}: array {key!r} matches no parameter or buffer of the model")
        if store[field].shape != value.shape:
            raise ConfigError(f"{origin}: array {key!r} must have shape {store[field].shape} (got {value.shape})")
        if np.asarray(value).dtype.kind not in "biuf":
            raise ConfigError(f"{origin}: array {key!r} must hold real numbers (got dtype {np.asarray(value).dtype})")
        store[field] = np.array(value, dtype=np.float64)
        if not np.all(np.isfinite(store[field])):
            raise ConfigError(f"{origin}: array {key!r} must be finite (has NaN or inf)")
    model.apply_masks()
    return model


_SPEC_FLAGS = ("bias",)
"""Layer-spec arguments that are booleans; every other argument but ``kind``, ``name`` and :data:`_SPEC_NAMES` is a size."""

_SPEC_NAMES = ("source",)
"""Layer-spec arguments that name another layer (an add_shortcut's shortcut)."""


def _check_spec(spec, origin: str) -> None:
    """Check a model.json document before anything is built from it.

    The format and version, ``input_shape`` and every layer argument: sizes are
    integers (not booleans or floats) within :data:`energysim.limits.DIMENSION`,
    names are safe archive-member names (they become ``param/<name>.weight``),
    and the parameters the layers would allocate fit :data:`energysim.limits.ARRAY_BYTES`.
    """
    if not isinstance(spec, dict):
        raise ConfigError(f"{origin}: model.json must hold a JSON object (got {type(spec).__name__})")
    version = spec.get("version")
    if spec.get("format") != MODEL_FORMAT or type(version) is not int or version != MODEL_FORMAT_VERSION:
        raise ConfigError(
            f"{origin}: format must be {MODEL_FORMAT!r} version {MODEL_FORMAT_VERSION} "
            f"(got {spec.get('format')!r} version {version!r})"
        )
    shape = spec.get("input_shape")
    if not isinstance(shape, list) or not shape or not all(_is_size(d, 1) for d in shape):
        raise ConfigError(f"{origin}: input_shape: must be a list of positive integers (got {shape!r})")
    layers = spec.get("layers")
    if not isinstance(layers, list) or not layers:
        raise ConfigError(f"{origin}: layers: must be a non-empty list of layer objects (got {layers!r})")
    parameters = math.prod(shape)
    for index, layer in enumerate(layers):
        if not isinstance(layer, dict):
            raise ConfigError(f"{origin}: layers[{index}]: must be a JSON object (got {layer!r})")
        name = layer.get("name")
        if not isinstance(name, str) or not SAFE_NAME.fullmatch(name) or ".." in name:
            raise ConfigError(
                f"{origin}: layers[{index}].name: must be letters, digits, '_', '.' and '-', not starting with '.' "
                f"and without '..' (got {name!r})"
            )
        for key, value in layer.items():
            if key in ("kind", "name"):
                continue
            if key in _SPEC_NAMES:
                if not isinstance(value, str) or not SAFE_NAME.fullmatch(value):
                    raise ConfigError(f"{origin}: layers[{index}].{key}: must be the name of another layer (got {value!r})")
            elif key in _SPEC_FLAGS:
                if not isinstance(value, bool):
                    raise ConfigError(f"{origin}: layers[{index}].{key}: must be true or false (got {value!r})")
            elif not _is_size(value, 0 if key == "padding" else 1):
                raise ConfigError(
                    f"{origin}: layers[{index}].{key}: must be an integer from {0 if key == 'padding' else 1} to "
                    f"{DIMENSION.value:,} (got {value!r})"
                )
        sizes = [v for k, v in layer.items() if k in ("in_features", "out_features", "in_channels", "out_channels")]
        parameters += math.prod(sizes) * layer.get("kernel_size", 1) ** 2
    ARRAY_BYTES.check(f"{origin}: the float64 parameters its layers declare", 8 * parameters, ConfigError)


def _is_size(value, minimum: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and minimum <= value <= DIMENSION.value


def _mask_array(origin: str, key: str, param_name: str, value, parameter_shapes: dict) -> np.ndarray:
    """A stored keep-mask checked against its parameter: known name, exactly equal shape, values 0/1."""
    if param_name not in parameter_shapes:
        raise ConfigError(
            f"{origin}: array {key!r} must name a parameter of the model (one of {sorted(parameter_shapes)})"
        )
    value = np.asarray(value)
    expected = parameter_shapes[param_name]
    if value.shape != expected:
        raise ConfigError(f"{origin}: array {key!r} must have shape {expected} (got {value.shape})")
    if value.dtype != bool and not np.all((value == 0) | (value == 1)):
        bad = value[(value != 0) & (value != 1)].ravel()[0].item()
        raise ConfigError(f"{origin}: array {key!r} must hold only 0 and 1 (got {bad!r})")
    return value.astype(bool)


def save_model(model: Model, folder: str | Path) -> Path:
    """Write ``model.json`` and ``model.npz`` into ``folder`` (created), each atomically.

    Both files are staged first and only then moved into place (``model.npz``
    first), so a failure while writing either leaves the old pair untouched.

    Returns
    -------
    pathlib.Path
        The folder.
    """
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"{folder}: output folder cannot be created ({exc.strerror or exc.__class__.__name__})") from None
    text = (json.dumps(model.spec(), indent=2) + "\n").encode("utf-8")
    arrays = model.arrays()
    with StagedFiles(folder) as staged:
        staged.add("model.npz", lambda handle: np.savez(handle, **arrays))
        staged.add("model.json", lambda handle: handle.write(text))
        staged.commit()
    return folder


def load_model(folder: str | Path) -> Model:
    """Read a model folder written by :func:`save_model`.

    Raises
    ------
    ConfigError
        If a file is missing, unreadable, or does not describe a valid model.
    """
    folder = Path(folder)
    json_path, npz_path = folder / "model.json", folder / "model.npz"
    try:
        text = read_bounded(json_path, TEXT_FILE_BYTES, ConfigError)
    except FileNotFoundError:
        raise ConfigError(f"{json_path}: file not found") from None
    except OSError as exc:
        raise ConfigError(f"{json_path}: cannot be read ({exc.strerror or exc.__class__.__name__})") from None
    spec = parse_json(text, str(json_path))
    _check_spec(spec, str(folder))
    if not npz_path.exists():
        raise ConfigError(f"{npz_path}: file not found")
    with NpzArchive(npz_path, ConfigError) as archive:
        arrays = {key: archive.read(key) for key in archive.files}
    return model_from_parts(spec, arrays, origin=str(folder))


def build_mlp(seed: int = 0, hidden: tuple[int, ...] = (256, 128), classes: int = 10) -> Model:
    """An MLP for 8x8 digits: flatten -> 64 -> hidden... -> classes, ReLU between (layers fc1, fc2, ...).

    Parameters
    ----------
    seed
        Seed of the He-normal weight initialisation.
    hidden
        Widths of the hidden layers.
    classes
        Number of outputs.
    """
    rng = np.random.default_rng(seed)
    layers: list[Layer] = [Flatten("flatten")]
    width = int(np.prod(DIGITS_INPUT_SHAPE))
    for index, size in enumerate(hidden, start=1):
        layers += [Linear(f"fc{index}", width, size, rng=rng), ReLU(f"relu{index}")]
        width = size
    layers.append(Linear(f"fc{len(hidden) + 1}", width, classes, rng=rng))
    return Model(layers, DIGITS_INPUT_SHAPE, name="mlp")


def build_cnn(seed: int = 0, channels: tuple[int, int] = (16, 32), classes: int = 10) -> Model:
    """A small CNN for 8x8 digits.

    conv1 (1 -> c1, 3x3, pad 1) -> bn1 -> relu1 -> pool1 (2x2) ->
    conv2 (c1 -> c2, 3x3, pad 1) -> bn2 -> relu2 -> pool2 (2x2) -> flatten (c2*2*2) -> fc (classes).

    Parameters
    ----------
    seed
        Seed of the He-normal weight initialisation.
    channels
        Output channels of conv1 and conv2.
    classes
        Number of outputs.
    """
    rng = np.random.default_rng(seed)
    c1, c2 = channels
    layers: list[Layer] = [
        Conv2d("conv1", 1, c1, 3, padding=1, rng=rng),
        BatchNorm2d("bn1", c1),
        ReLU("relu1"),
        MaxPool2d("pool1", 2),
        Conv2d("conv2", c1, c2, 3, padding=1, rng=rng),
        BatchNorm2d("bn2", c2),
        ReLU("relu2"),
        MaxPool2d("pool2", 2),
        Flatten("flatten"),
        Linear("fc", c2 * 2 * 2, classes, rng=rng),
    ]
    return Model(layers, DIGITS_INPUT_SHAPE, name="cnn")


FOLD_BATCHNORM_KEY = "fold_batchnorm_at_export"
"""Key of ``Model.metadata``: when true, the export folds each conv's following batch norm into its weights."""


def build_resnet(seed: int = 0, channels: tuple[int, int] = (8, 16), classes: int = 10) -> Model:
    """A small residual CNN for 8x8 digits with a depthwise-separable block (batch norm folded at export).

    stem (conv 1 -> c1, 3x3) -> residual block 1 (two 3x3 convs at c1, identity shortcut) -> pool1 (2x2) ->
    depthwise-separable block (3x3 depthwise conv, groups = c1; 1x1 pointwise c1 -> c2) ->
    residual block 2 (two 3x3 convs at c2, identity shortcut) -> pool2 (2x2) -> flatten (c2*2*2) -> fc (classes).
    Every conv is followed by batch norm; ReLU after each batch norm except the second of a residual
    block, whose ReLU follows the addition.

    Parameters
    ----------
    seed
        Seed of the He-normal weight initialisation.
    channels
        Channels before and after the depthwise-separable block.
    classes
        Number of outputs.
    """
    rng = np.random.default_rng(seed)
    c1, c2 = channels

    def conv_bn(name: str, cin: int, cout: int, kernel: int = 3, groups: int = 1, relu: bool = True) -> list[Layer]:
        layers = [Conv2d(name, cin, cout, kernel, padding=kernel // 2, rng=rng, groups=groups),
                  BatchNorm2d(f"{name}_bn", cout)]
        return layers + [ReLU(f"{name}_relu")] if relu else layers

    def residual(name: str, width: int) -> list[Layer]:
        return [Shortcut(f"{name}_in"), *conv_bn(f"{name}_conv1", width, width),
                *conv_bn(f"{name}_conv2", width, width, relu=False),
                AddShortcut(f"{name}_add", f"{name}_in"), ReLU(f"{name}_relu")]

    layers: list[Layer] = [
        *conv_bn("stem", 1, c1),
        *residual("block1", c1),
        MaxPool2d("pool1", 2),
        *conv_bn("dw_depthwise", c1, c1, groups=c1),
        *conv_bn("dw_pointwise", c1, c2, kernel=1),
        *residual("block2", c2),
        MaxPool2d("pool2", 2),
        Flatten("flatten"),
        Linear("fc", c2 * 2 * 2, classes, rng=rng),
    ]
    model = Model(layers, DIGITS_INPUT_SHAPE, name="resnet")
    model.metadata[FOLD_BATCHNORM_KEY] = True
    return model


MODEL_BUILDERS = {"mlp": build_mlp, "cnn": build_cnn, "resnet": build_resnet}
"""Model name -> builder taking ``seed``."""


def build_model(name: str, seed: int = 0) -> Model:
    """Build an untrained model by name (``"mlp"``, ``"cnn"`` or ``"resnet"``)."""
    if name not in MODEL_BUILDERS:
        raise InputError(f"model must be one of {sorted(MODEL_BUILDERS)} (got {name!r})")
    return MODEL_BUILDERS[name](seed=seed)
