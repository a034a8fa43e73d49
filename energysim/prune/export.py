"""Export a pruned model as an energysim workload folder (``workload.toml`` + ``tensors.npz``).

The folder follows the workload schema of :mod:`energysim.workloads.workload`
(``schema_version = 1``) so ``energysim.workloads.load_workload`` and
``energysim run`` read it as a workload with real tensors:

``workload.toml``
    ``name``, ``description``, ``tensors_file = "tensors.npz"``, a
    ``[provenance]`` table (model, dataset, criterion, granularity, schedule,
    target and measured sparsity, accuracies before/after fine-tuning as
    fractions, fine-tune epochs, seed), and one ``[[layers]]`` entry per weight
    layer with its geometry (``kind = "linear"``, ``"conv2d"`` or, for a grouped or
    depthwise conv, ``"grouped_conv2d"``; batch 1),
    ``weight_key``, ``mask_key``, ``activations_key``, ``activation_density``
    (fraction of non-zero *inputs* of the layer on the calibration images),
    ``weight_density``, ``target_sparsity`` (the layer's own target, see
    below) and ``measured_sparsity`` (fraction of zero weights).
``tensors.npz``
    ``<layer>.weight`` (float64, the layer's weight shape, pruned entries 0; for a
    model whose ``metadata["fold_batchnorm_at_export"]`` is true, such as the
    residual CNN, each conv's following batch-norm scale is folded in, see
    :func:`folded_weights`),
    ``<layer>.mask`` (uint8 0/1, same shape) and ``<layer>.inputs`` (float64,
    the calibration inputs of the layer: (samples, in_features) for linear,
    (samples, channels, height, width) for conv2d).

Per-layer targets
-----------------
A layer's ``target_sparsity`` is the target the pruning steps set for that
layer (``model.metadata["layer_target_sparsity"]``, recorded by
:func:`energysim.prune.pruner.prune_model`): the requested sparsity for a
layer the granularity pruned, 0.0 for a layer it never touched (e.g. the
CNN's classifier under ``kernel``), ``nm_prune_count / size`` for N:M (4/9
for a 3x3 conv with one input channel under 2:4), and none for
``fine_global`` (one count over all layers). A model without recorded
targets, or a physically shrunk one, gets no per-layer target. The overall
target stays in ``[provenance]``.

The dense original
------------------
``energysim prune --out`` of a dense model also writes that model, before
pruning, with :func:`write_dense_model`: ``dense-original.toml`` and
``dense-original.npz`` hold its own weights and the inputs it records on the
calibration images, the workload ``energysim compare`` simulates as its dense
point, so ``estimate`` and ``compare`` report one baseline.

Without the dense model, a physically shrunk model (``--shrink``) has lost its original geometry, so a
dense twin of the exported layers would compare the small model with itself.
Given the model before shrinking (``original``), the export also writes
``dense-original.toml`` (:data:`DENSE_ORIGINAL_FILE`): a workload without
tensors holding the original geometry with every weight present
(``weight_density = 1``) and the activation densities the unshrunk model
measures on the same calibration images. ``energysim estimate`` uses it as the
dense original, and refuses a shrunk workload that has none. An export
without ``original`` removes a ``dense-original.toml`` left by an earlier
export into the same folder, so a stale original is never paired with new layers.

Writing
-------
The folder is written by :func:`energysim.workloads.writing.write_workload_folder`:
the whole document (layers and provenance) is validated against the workload
schema, both files are staged as temporary files, read back with
``load_workload``, and only then moved into place (tensors first, TOML last),
so a failure leaves neither a partial file nor new tensors next to an old TOML.
``dense-original.toml`` is written (atomically) after them.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from energysim.atomic_files import write_bytes_atomic, write_text_atomic
from energysim.config.loading import validate_model
from energysim.config.toml_writer import dumps_toml
from energysim.errors import InputError
from energysim.prune.layers import BATCHNORM_EPSILON, BatchNorm2d, Conv2d, Linear
from energysim.prune.models import FOLD_BATCHNORM_KEY, Model
from energysim.prune.pruner import LAYER_TARGETS_KEY
from energysim.workloads.workload import WorkloadFile, load_workload
from energysim.workloads.writing import WORKLOAD_FILE, workload_toml, write_workload_folder

DENSE_ORIGINAL_FILE = "dense-original.toml"
"""File name, inside an export's folder, of its dense original: the unshrunk geometry of a shrunk export, or
the dense model itself (:func:`write_dense_model`)."""

DENSE_ORIGINAL_TENSORS = "dense-original.npz"
"""The tensors of a dense original written by :func:`write_dense_model`, beside :data:`DENSE_ORIGINAL_FILE`."""

PROVENANCE_FIELDS = (
    "model",
    "dataset",
    "criterion",
    "granularity",
    "schedule",
    "target_sparsity",
    "measured_sparsity",
    "accuracy_dense",
    "accuracy_pruned",
    "accuracy_finetuned",
    "finetune_epochs",
    "seed",
    "nm_pattern",
    "vector_block",
    "shrunk",
    "calibration_samples",
)
"""The fields of ``energysim.workloads.workload.Provenance``, in order."""


def layer_entry(model: Model, name: str, input_shape: tuple[int, ...]) -> dict:
    """The geometry part of a ``[[layers]]`` entry for a weight layer (batch 1)."""
    layer = model.layer(name)
    if isinstance(layer, Conv2d):
        grouped = {"kind": "grouped_conv2d", "groups": layer.groups} if layer.groups > 1 else {"kind": "conv2d"}
        return {
            **grouped,
            "name": name,
            "in_channels": layer.in_channels,
            "out_channels": layer.out_channels,
            "in_height": int(input_shape[1]),
            "in_width": int(input_shape[2]),
            "kernel_height": layer.kernel_size,
            "kernel_width": layer.kernel_size,
            "stride": 1,
            "padding": layer.padding,
            "batch": 1,
        }
    if isinstance(layer, Linear):
        return {"kind": "linear", "name": name, "in_features": layer.in_features, "out_features": layer.out_features, "batch": 1}
    raise InputError(f"layer {name!r} of kind {layer.kind!r} is not a weight layer")


def export_workload(
    model: Model,
    folder: str | Path,
    x_calibration: np.ndarray,
    name: str | None = None,
    description: str = "",
    provenance: dict | None = None,
    layer_targets: bool | Mapping[str, float | None] = True,
    original: Model | None = None,
) -> Path:
    """Write a pruned model as a workload folder (``tensors.npz`` is zip-compressed).

    Parameters
    ----------
    model
        The (pruned) model; every weight layer becomes a workload layer.
    folder
        Output folder (created).
    x_calibration
        Calibration images, shape (samples, 1, 8, 8); their per-layer inputs
        are stored and give each layer's activation density. Keep it small
        (e.g. 64 samples).
    name
        Workload name (default: the model name plus granularity and sparsity).
    description
        Free text.
    provenance
        Values for the ``[provenance]`` table; missing fields are taken from
        ``model.metadata`` where present. Only the Provenance fields are written.
    layer_targets
        True: write each layer's own target from
        ``model.metadata["layer_target_sparsity"]`` (none where not recorded);
        False: no per-layer target (a physically shrunk model, whose layers
        are dense at their new size); a mapping: layer name -> target.
    original
        For a physically shrunk ``model``: the model before shrinking (same
        weight layer names). Its geometry is written to ``dense-original.toml``
        as the dense original (see the module docstring).

    Returns
    -------
    pathlib.Path
        The path of ``workload.toml``.
    """
    folder = Path(folder)
    if len(x_calibration) == 0:
        raise InputError("export needs at least one calibration image (got 0)")
    merged = {k: model.metadata.get(k) for k in PROVENANCE_FIELDS}
    merged["model"] = merged["model"] or model.name
    merged["calibration_samples"] = len(x_calibration)
    merged.update({k: v for k, v in (provenance or {}).items() if k in PROVENANCE_FIELDS and v is not None})
    unknown = sorted(set(provenance or {}) - set(PROVENANCE_FIELDS))
    if unknown:
        raise InputError(f"provenance fields must be among {list(PROVENANCE_FIELDS)} (got {unknown})")
    if name is None:
        target = merged.get("target_sparsity")
        suffix = f"-{merged.get('granularity')}-{round(100 * target)}" if target is not None and merged.get("granularity") else ""
        name = f"{model.name}-digits{suffix}"
    if isinstance(layer_targets, Mapping):
        targets = dict(layer_targets)
    elif layer_targets:
        targets = dict(model.metadata.get(LAYER_TARGETS_KEY) or {})
    else:
        targets = {}
    unknown_layers = sorted(set(targets) - set(model.weight_layers))
    if isinstance(layer_targets, Mapping) and unknown_layers:
        raise InputError(f"layer_targets must name weight layers of model {model.name!r} (got {unknown_layers})")
    if original is not None and list(original.weight_layers) != list(model.weight_layers):
        raise InputError(f"original model {original.name!r} must have the weight layers of {model.name!r} in order "
                         f"(got {list(original.weight_layers)} vs {list(model.weight_layers)})")
    if original is None:
        for stale in (DENSE_ORIGINAL_FILE, DENSE_ORIGINAL_TENSORS):  # an earlier export's original does not fit these layers
            if (folder / stale).is_file():
                (folder / stale).unlink()
    layers, arrays = layer_entries(model, x_calibration, targets)
    write_workload_folder(
        folder,
        name,
        layers,
        arrays,
        description=description or f"{model.name} trained on scikit-learn digits, pruned by energysim.prune",
        source="energysim.prune (scikit-learn load_digits, 8x8 handwritten digits)",
        provenance={k: merged.get(k) for k in PROVENANCE_FIELDS},
        compressed=True,
    )
    if original is not None:
        write_dense_original(original, folder / DENSE_ORIGINAL_FILE, x_calibration, f"{name} (dense original)")
    return folder / WORKLOAD_FILE


def layer_entries(model: Model, x_calibration: np.ndarray,
                  targets: Mapping[str, float | None]) -> tuple[list[dict], dict[str, np.ndarray]]:
    """The ``[[layers]]`` entries and tensors of every weight layer of ``model`` on the calibration images.

    Each layer keeps its (batch-norm folded) weights, mask and recorded inputs; its activation
    density is the fraction of non-zero inputs, its weight density the fraction of non-zero
    weights; ``targets`` gives each layer's target sparsity (none where absent).

    Raises
    ------
    InputError
        If a layer's inputs are all zero or its weights all pruned.
    """
    model.forward(x_calibration, record=True)
    shapes = model.shapes()
    layers, arrays = [], {}
    folded = folded_weights(model) if model.metadata.get(FOLD_BATCHNORM_KEY) else {}
    for layer_name in model.weight_layers:
        weights = folded.get(layer_name, model.weights(layer_name))
        mask = model.weight_mask(layer_name)
        inputs = model.recorded_inputs[layer_name]
        activation_density = float(np.count_nonzero(inputs) / inputs.size)
        if activation_density == 0:
            raise InputError(f"layer {layer_name!r} has only zero inputs on the calibration images (activation density 0)")
        measured = float(np.count_nonzero(weights == 0) / weights.size)
        entry = layer_entry(model, layer_name, shapes[layer_name])
        entry.update(
            {
                "weight_key": f"{layer_name}.weight",
                "mask_key": f"{layer_name}.mask",
                "activations_key": f"{layer_name}.inputs",
                "activation_density": activation_density,
                "weight_density": 1.0 - measured,
                "target_sparsity": targets.get(layer_name),
                "measured_sparsity": measured,
            }
        )
        if measured == 1.0:
            raise InputError(f"layer {layer_name!r} has no non-zero weight left (measured sparsity 1.0)")
        layers.append(entry)
        arrays[f"{layer_name}.weight"] = np.where(mask, weights, 0.0)
        arrays[f"{layer_name}.mask"] = mask.astype(np.uint8)
        arrays[f"{layer_name}.inputs"] = np.asarray(inputs, dtype=np.float64).reshape(len(inputs), *shapes[layer_name])
    return layers, arrays


def write_dense_model(dense: Model, folder: str | Path, x_calibration: np.ndarray, name: str) -> Path:
    """Write the dense model a pruned export came from as its dense original, with its own tensors.

    ``dense-original.toml`` (:data:`DENSE_ORIGINAL_FILE`) names every weight layer of
    ``dense`` with its weights, its all-true mask and the inputs it records on the
    calibration images, in ``dense-original.npz`` (:data:`DENSE_ORIGINAL_TENSORS`):
    the workload ``energysim compare`` simulates as the dense point of the same model,
    so ``estimate`` and ``compare`` share one baseline. Tensors first, TOML last, both atomic.

    Parameters
    ----------
    dense
        The trained model before pruning (no weight masked).
    folder
        The pruned export's folder (holding ``workload.toml``).
    x_calibration
        The export's calibration images.
    name
        Workload name.

    Returns
    -------
    pathlib.Path
        The path of ``dense-original.toml``.

    Raises
    ------
    InputError
        If ``dense`` has a masked weight (it is not dense).
    """
    masked = next((n for n in dense.weight_layers if not dense.weight_mask(n).all()), None)
    if masked is not None:
        raise InputError(f"the dense original of model {dense.name!r} must have no masked weight (layer {masked!r} has)")
    layers, arrays = layer_entries(dense, x_calibration, {})
    folder = Path(folder)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    write_bytes_atomic(folder / DENSE_ORIGINAL_TENSORS, buffer.getvalue())
    text = workload_toml(name, layers, f"the dense original: {dense.name} before pruning, with its own weights and "
                         "activations", "energysim.prune export (the model before pruning)",
                         tensors_file=DENSE_ORIGINAL_TENSORS)
    path = write_text_atomic(folder / DENSE_ORIGINAL_FILE, text)
    load_workload(path)  # read back: a file estimate could not load is an error here, not there
    return path


def folded_weights(model: Model) -> dict[str, np.ndarray]:
    """Weights of every conv followed directly by a batch norm, with the batch norm's scale folded in.

    Inference folds ``y = gamma * (W x - mean) / sqrt(var + eps) + beta`` into one convolution with
    weights ``W * gamma / sqrt(var + eps)`` per output channel (the shift goes to a bias, which
    workloads do not carry). Pruned weights stay exactly 0.

    Returns
    -------
    dict
        Layer name -> folded weight array (new arrays; the model is not changed).
    """
    out = {}
    for before, after in zip(model.layers, model.layers[1:]):
        if isinstance(before, Conv2d) and isinstance(after, BatchNorm2d):
            scale = after.params["gamma"] / np.sqrt(after.buffers["running_var"] + BATCHNORM_EPSILON)
            out[before.name] = before.params["weight"] * scale[:, None, None, None]
    return out


def write_dense_original(original: Model, path: Path, x_calibration: np.ndarray, name: str) -> Path:
    """Write the dense original of a shrunk export: ``original``'s geometry, every weight present, no tensors.

    Parameters
    ----------
    original
        The model before shrinking (its masks may hold pruned channels; they are
        ignored: the dense original has every weight, ``weight_density = 1``).
    path
        The TOML file to write (atomically).
    x_calibration
        The calibration images of the export; each layer's ``activation_density``
        is the fraction of non-zero inputs ``original`` gives that layer on them.
    name
        Workload name.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    original.forward(x_calibration, record=True)
    shapes = original.shapes()
    layers = []
    for layer_name in original.weight_layers:
        inputs = original.recorded_inputs[layer_name]
        entry = layer_entry(original, layer_name, shapes[layer_name])
        entry["activation_density"] = float(np.count_nonzero(inputs) / inputs.size)
        entry["weight_density"] = 1.0
        if entry["activation_density"] == 0:
            raise InputError(f"layer {layer_name!r} of the original model has only zero inputs on the calibration images "
                             "(activation density 0)")
        layers.append(entry)
    document = {
        "schema_version": 1,
        "name": name,
        "description": f"the dense original of a shrunk export: {original.name}'s geometry with every weight present",
        "source": "energysim.prune export (original geometry before shrinking)",
        "layers": layers,
    }
    validate_model(WorkloadFile, document, path)
    return write_text_atomic(path, dumps_toml(document))
