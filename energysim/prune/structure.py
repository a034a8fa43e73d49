"""Channel structure: propagate a channel mask to its neighbours, and physically shrink a model.

Removing output channel ``c`` of a layer means: its weight row (and bias), the
scale and shift of the batch norm after it (so the channel's output is exactly
0 after batch norm and ReLU), and the input channel ``c`` (or the flattened
features ``c*f .. c*f+f-1``) of the next weight layer. :func:`channel_masks`
builds those masks; :func:`shrink_model` then deletes every channel whose row,
bias, gamma and beta are all exactly zero, giving a smaller model with the same
outputs as the masked one.
"""

from __future__ import annotations

import json

import numpy as np

from energysim.errors import InputError
from energysim.prune.layers import Conv2d, Linear
from energysim.prune.models import Model, model_from_parts


def channel_masks(model: Model, layer_name: str, keep_channels: np.ndarray) -> dict[str, np.ndarray]:
    """Keep-masks of every parameter touched by keeping only ``keep_channels`` of a layer.

    Parameters
    ----------
    model
        The model (not modified).
    layer_name
        A linear or conv2d layer that is not the output layer.
    keep_channels
        Boolean per output channel, True = kept.

    Returns
    -------
    dict
        Parameter name (``"conv1.weight"``, ``"bn1.gamma"``, ``"conv2.weight"``, ...) -> keep-mask.
    """
    dep = model.channel_dependency(layer_name)
    layer = model.layer(layer_name)
    keep = np.asarray(keep_channels, dtype=bool).ravel()
    weight = layer.params["weight"]
    if keep.size != weight.shape[0]:
        raise InputError(f"keep_channels of layer {layer_name!r} must have {weight.shape[0]} entries (got {keep.size})")
    out = {f"{layer_name}.weight": np.broadcast_to(keep.reshape((-1,) + (1,) * (weight.ndim - 1)), weight.shape).copy()}
    if "bias" in layer.params:
        out[f"{layer_name}.bias"] = keep.copy()
    if dep.batchnorm is not None:
        out[f"{dep.batchnorm}.gamma"] = keep.copy()
        out[f"{dep.batchnorm}.beta"] = keep.copy()
    consumer_weight = model.weights(dep.consumer)
    feature_keep = np.repeat(keep, dep.features_per_channel)
    if feature_keep.size != consumer_weight.shape[1]:
        raise InputError(
            f"layer {dep.consumer!r} has {consumer_weight.shape[1]} inputs but layer {layer_name!r} provides "
            f"{feature_keep.size} (channels x features per channel)"
        )
    shape = (1, -1) + (1,) * (consumer_weight.ndim - 2)
    out[f"{dep.consumer}.weight"] = np.broadcast_to(feature_keep.reshape(shape), consumer_weight.shape).copy()
    return out


def removable_channels(model: Model, layer_name: str) -> np.ndarray:
    """Boolean per output channel: True where the channel provably outputs 0 (row, bias, gamma, beta all 0)."""
    dep = model.channel_dependency(layer_name)
    layer = model.layer(layer_name)
    weight = layer.params["weight"]
    dead = np.all(weight.reshape(weight.shape[0], -1) == 0, axis=1)
    if "bias" in layer.params:
        dead &= layer.params["bias"] == 0
    if dep.batchnorm is not None:
        bn = model.layer(dep.batchnorm)
        dead &= (bn.params["gamma"] == 0) & (bn.params["beta"] == 0)
    return dead


def shrink_model(model: Model) -> Model:
    """A physically smaller copy of the model without its dead channels.

    A channel is dead when :func:`removable_channels` says so; it is deleted
    from its layer (weight rows, bias), its batch norm (gamma, beta, running
    statistics) and the consumer's inputs. Masks are sliced the same way. The
    output layer is never shrunk. The result gives the same outputs as the
    masked model (up to floating-point summation order).

    Returns
    -------
    Model
        A new model; the input model is not modified.
    """
    spec = json.loads(json.dumps(model.spec()))
    arrays = {k: v.copy() for k, v in model.arrays().items()}
    layer_specs = {s["name"]: s for s in spec["layers"]}
    for name in model.weight_layers[:-1]:
        try:
            dep = model.channel_dependency(name)
        except InputError:
            continue
        keep = ~removable_channels(model, name)
        if keep.all():
            continue
        if not keep.any():
            keep[0] = True  # keep one (zero) channel so every layer stays non-empty
        _slice_rows(arrays, name, keep)
        if dep.batchnorm is not None:
            _slice_rows(arrays, dep.batchnorm, keep)
            layer_specs[dep.batchnorm]["channels"] = int(keep.sum())
        feature_keep = np.repeat(keep, dep.features_per_channel)
        for key in (f"param/{dep.consumer}.weight", f"mask/{dep.consumer}.weight"):
            if key in arrays:
                arrays[key] = arrays[key][:, feature_keep]
        own, consumer = layer_specs[name], layer_specs[dep.consumer]
        if isinstance(model.layer(name), Conv2d):
            own["out_channels"] = int(keep.sum())
        else:
            own["out_features"] = int(keep.sum())
        if isinstance(model.layer(dep.consumer), Conv2d):
            consumer["in_channels"] = int(keep.sum())
        elif isinstance(model.layer(dep.consumer), Linear):
            consumer["in_features"] = int(feature_keep.sum())
    shrunk = model_from_parts(spec, arrays, origin=f"shrunk {model.name}")
    shrunk.metadata = dict(model.metadata, shrunk_from=model.name, shrunk=True)
    return shrunk


def _slice_rows(arrays: dict[str, np.ndarray], layer_name: str, keep: np.ndarray) -> None:
    prefixes = ("param/", "buffer/", "mask/")
    for key in list(arrays):
        if key.startswith(prefixes) and key.split("/", 1)[1].rpartition(".")[0] == layer_name:
            arrays[key] = arrays[key][keep]


__all__ = ["channel_masks", "removable_channels", "shrink_model"]
