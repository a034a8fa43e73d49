"""Prune the weights a workload carries (any imported model) without data, and measure what pruning lost.

The pruning engine's granularities and its data-free criteria act directly on
each layer's weight tensor (:class:`energysim.workloads.workload.LayerTensors`):

- criteria that need no data: :data:`DATA_FREE_CRITERIA` (``magnitude`` for single
  weights; ``l1`` and ``l2`` for groups; ``random`` for any), paired as the
  registry declares (:data:`energysim.prune.registry.CRITERION_GRANULARITIES`);
- granularities: ``fine`` (per layer), ``fine_global`` (one threshold over every
  layer), ``nm:N:M`` (along each weight row's reduction axis), ``vector`` (blocks of
  a row), ``kernel`` (whole kh x kw kernels of conv layers) and ``channel`` (whole
  output rows, i.e. filters, of every weight layer but the last, as masks: the
  consumer's geometry is not changed, since a workload does not say which layer
  consumes which).

Layers without weight tensors (attention's activation-activation matmuls, or
geometry-only layers) are left as they are. A workload with no weight tensor at
all is refused (``estimate --density`` sweeps statistical masks on geometry).

What pruning lost is the accuracy when an evaluation is given (a callable of the
pruned workload, or a labelled ``.npz`` for a model energysim runs in numpy:
:func:`model_evaluation`), and otherwise the **weight-reconstruction error**
``||W - W_pruned||_F / ||W||_F`` over every pruned layer together (0 = nothing
lost, 1 = every weight gone), which is a proxy, not an accuracy.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from energysim.errors import InputError
from energysim.prune.criteria import ScoreContext
from energysim.prune.granularity import (
    DEFAULT_FC_BLOCK, check_sparsity, grouping, select_global, select_mask, select_nm,
)
from energysim.prune.registry import CRITERION_GRANULARITIES, check_combination, criterion
from energysim.workloads.workload import LayerTensors, Workload

DATA_FREE_CRITERIA = ("magnitude", "l1", "l2", "random")
"""Criteria that score weights alone (no training or calibration data, no model structure)."""

Evaluation = Callable[[Workload], float]
"""An evaluation: the pruned workload (with its masked tensors) -> accuracy, a fraction in [0, 1]."""


class EmptyLayerError(InputError):
    """Pruning would leave a layer without any non-zero weight."""


@dataclass(frozen=True)
class PrunedWorkload:
    """A workload with pruned weights and what the pruning removed.

    Attributes
    ----------
    workload
        The workload with masked tensors (``mask`` set) and each pruned layer's
        ``weight_density``, ``measured_sparsity`` and ``target_sparsity``.
    sparsity_measured
        Fraction of zero weights over every layer with weights.
    weight_error
        ``||W - W_pruned||_F / ||W||_F`` over every layer with weights together.
    layer_error
        The same ratio per layer with weights.
    """

    workload: Workload
    sparsity_measured: float
    weight_error: float
    layer_error: dict[str, float]


def weight_layers(workload: Workload) -> list[str]:
    """Names of the layers that carry a weight tensor, in order.

    Raises
    ------
    InputError
        If no layer carries one (a geometry-only workload).
    """
    names = [layer.name for layer in workload.layers if workload.layer_tensors(layer.name) is not None]
    if not names:
        where = f" ({workload.path})" if workload.path is not None else ""
        raise InputError(f"workload '{workload.name}'{where} carries no weight tensors, so there is nothing to prune: "
                         "import a model with its weights, or sweep statistical masks with 'estimate --density'")
    return names


def applicable_layers(workload: Workload, granularity: str) -> list[str]:
    """The layers with weights a granularity applies to (``kernel``: 4-D conv weights; ``channel``: all but the last)."""
    names = weight_layers(workload)
    if granularity == "kernel":
        return [n for n in names if workload.layer_tensors(n).weights.ndim == 4]
    if granularity == "channel":
        return names[:-1]
    return names


def pairs(patterns: list[str], criteria: list[str]) -> list[tuple[str, str]]:
    """The (pattern, criterion) pairs to run: data-free criteria only, as the registry pairs them.

    Raises
    ------
    InputError
        For a criterion that needs data (naming the data-free ones), or when no pair is left.
    """
    from energysim.sweep import parse_pattern

    for name in criteria:
        if name not in DATA_FREE_CRITERIA:
            raise InputError(f"criterion {name!r} needs training or calibration data, which a workload does not carry; "
                             f"use one of {', '.join(DATA_FREE_CRITERIA)}")
    out = []
    for pattern in patterns:
        granularity, _ = parse_pattern(pattern)
        if granularity == "dense":
            continue
        out += [(pattern, c) for c in criteria if granularity in CRITERION_GRANULARITIES[c]]
    if not out:
        raise InputError(f"no pattern of {patterns} can be pruned with criteria {criteria} "
                         "(magnitude scores single weights: fine, fine_global, nm; l1/l2 score groups: vector, kernel, channel)")
    return out


def prune_workload(workload: Workload, pattern: str, criterion_name: str, sparsity: float = 0.5, seed: int = 0,
                   block: int = DEFAULT_FC_BLOCK) -> PrunedWorkload:
    """Prune the weights of ``workload`` with one pattern and data-free criterion.

    Parameters
    ----------
    workload
        A workload with weight tensors (from ``energysim import``, ``from_torch`` or an export).
    pattern
        ``fine``, ``fine_global``, ``vector``, ``kernel``, ``channel`` or ``nm:N:M``.
    criterion_name
        One of :data:`DATA_FREE_CRITERIA` that the registry pairs with the pattern.
    sparsity
        Fraction of groups removed per layer (of all weights for ``fine_global``), in [0, 1);
        ignored for ``nm:N:M`` (it is 1 - N/M).
    seed
        Seed of the ``random`` criterion.
    block
        Vector length of the ``vector`` pattern, weights.

    Returns
    -------
    PrunedWorkload
        The pruned workload (a new object) and its measured sparsity and weight error.
        Weights already zero stay zero (masks only shrink).
    """
    from energysim.sweep import parse_pattern

    granularity, nm = parse_pattern(pattern)
    if criterion_name not in DATA_FREE_CRITERIA:
        raise InputError(f"criterion {criterion_name!r} needs data; use one of {', '.join(DATA_FREE_CRITERIA)}")
    check_combination(criterion_name, granularity)
    check_sparsity(sparsity)
    score = criterion(criterion_name)
    names = applicable_layers(workload, granularity)
    if not names:
        raise InputError(f"pattern {pattern!r} applies to no layer of workload '{workload.name}'")
    old = {n: workload.layer_tensors(n) for n in weight_layers(workload)}
    kept = {n: old[n].weight_matrix().reshape(old[n].weights.shape) != 0 for n in old}

    def scores(name: str, kind: str) -> np.ndarray:
        weights = old[name].weights
        context = ScoreContext(model=None, layer=name, grouping=grouping(weights.shape, kind, block),
                               granularity=granularity, seed=seed)
        return score(weights, context)

    masks = {}
    if granularity == "fine_global":
        chosen = select_global([scores(n, "fine").reshape(old[n].weights.shape) for n in names], sparsity,
                               [kept[n] for n in names])
        masks = dict(zip(names, chosen))
    elif granularity == "nm":
        for n in names:
            masks[n] = select_nm(scores(n, "fine").reshape(old[n].weights.shape), *nm, keep_mask=kept[n])
    else:
        for n in names:
            masks[n] = select_mask(scores(n, granularity), old[n].weights.shape, granularity, sparsity, kept[n], block)
    target = 1.0 - nm[0] / nm[1] if granularity == "nm" else sparsity
    return _apply(workload, old, {n: masks[n] & kept[n] for n in masks}, target if granularity != "fine_global" else None)


def _apply(workload: Workload, old: dict[str, LayerTensors], masks: dict[str, np.ndarray],
           target: float | None) -> PrunedWorkload:
    tensors = dict(workload.tensors or {})
    layers, errors, zeros, total, lost, energy = [], {}, 0, 0, 0.0, 0.0
    for layer in workload.layers:
        if layer.name not in old:
            layers.append(layer)
            continue
        dense = np.where(old[layer.name].mask, old[layer.name].weights, 0.0) if old[layer.name].mask is not None \
            else old[layer.name].weights
        mask = masks.get(layer.name, dense != 0)
        pruned = np.where(mask, dense, 0.0)
        tensors[layer.name] = replace(old[layer.name], weights=pruned, mask=mask)
        removed = float(np.sum((dense - pruned) ** 2))
        norm = float(np.sum(dense**2))
        errors[layer.name] = math.sqrt(removed / norm) if norm else 0.0
        lost, energy = lost + removed, energy + norm
        nonzero = int(np.count_nonzero(pruned))
        if nonzero == 0:
            raise EmptyLayerError(f"layer '{layer.name}' would have no non-zero weight left; use a lower sparsity")
        zeros, total = zeros + pruned.size - nonzero, total + pruned.size
        update = {"weight_density": nonzero / pruned.size, "measured_sparsity": 1 - nonzero / pruned.size}
        if layer.name in masks:
            update["target_sparsity"] = target
        layers.append(layer.model_copy(update=update))
    pruned_workload = replace(workload, layers=tuple(layers), tensors=tensors)
    return PrunedWorkload(pruned_workload, zeros / total, math.sqrt(lost / energy) if energy else 0.0, errors)


def read_labelled_npz(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Inputs and integer targets from a labelled ``.npz`` (arrays ``inputs`` and ``targets``, no pickles).

    Raises
    ------
    InputError
        Naming the file and the missing or malformed array.
    """
    from energysim.npz_archive import NpzArchive

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: evaluation data file not found")
    with NpzArchive(path, InputError, label=f"{path}") as archive:
        for key in ("inputs", "targets"):
            if key not in archive.members:
                raise InputError(f"{path}: needs arrays 'inputs' (samples, *input shape) and 'targets' (samples,) "
                                 f"of class indices (no array {key!r}; has {sorted(archive.members)})")
        inputs = np.asarray(archive.read("inputs", "inputs"), dtype=np.float64)
        targets = np.asarray(archive.read("targets", "targets"))
    if targets.ndim != 1 or len(targets) != len(inputs) or not len(targets) or targets.dtype.kind not in "iu":
        raise InputError(f"{path}: 'targets' must be one integer class index per input (got shape {targets.shape}, "
                         f"dtype {targets.dtype}, {len(inputs)} inputs)")
    if not np.all(np.isfinite(inputs)):
        raise InputError(f"{path}: 'inputs' must be finite (has NaN or inf)")
    return inputs, targets


def model_evaluation(model_folder: str | Path, data: str | Path) -> Evaluation:
    """An evaluation for a workload exported from a numpy model folder (``model.json`` + ``model.npz``).

    The returned callable copies the model, sets each pruned layer's mask from the
    pruned workload (same layer names and weight shapes), and returns its accuracy on
    the labelled ``data`` (:func:`read_labelled_npz`).

    Raises
    ------
    InputError
        If the inputs do not have the model's input shape.
    """
    from energysim.prune.models import load_model

    model = load_model(model_folder)
    inputs, targets = read_labelled_npz(data)
    if inputs.shape[1:] != model.input_shape:
        raise InputError(f"{data}: 'inputs' must have shape (samples, {', '.join(map(str, model.input_shape))}) for model "
                         f"{model.name!r} (got {inputs.shape})")

    def evaluate(pruned: Workload) -> float:
        copy = model.copy()
        for name in copy.weight_layers:
            tensors = pruned.layer_tensors(name)
            if tensors is not None and tensors.mask is not None:
                copy.set_mask(f"{name}.weight", tensors.mask)
        return copy.accuracy(inputs, targets)

    return evaluate


def write_pruned_workload(result: PrunedWorkload, folder: str | Path, pattern: str, criterion_name: str,
                          sparsity: float | None) -> Path:
    """Write a pruned workload as a workload folder (``workload.toml`` + ``tensors.npz`` with masks).

    Every layer keeps its geometry; a layer with weights gets ``<layer>.weight``,
    ``<layer>.mask`` (0/1) and, where the source had calibration inputs,
    ``<layer>.inputs``. ``[provenance]`` names the source workload, pattern, criterion
    and target and measured sparsity.

    Returns
    -------
    pathlib.Path
        The path of ``workload.toml``.
    """
    from energysim.sweep import parse_pattern
    from energysim.workloads.writing import WORKLOAD_FILE, safe_name, write_workload_folder

    workload = result.workload
    entries, arrays, used = [], {}, set()
    for layer in workload.layers:
        entry = layer.model_dump(exclude_none=True, exclude={"weight_key", "mask_key", "activations_key"})
        tensors = workload.layer_tensors(layer.name)
        if tensors is not None:
            key = safe_name(layer.name, used)
            entry.update(weight_key=f"{key}.weight", mask_key=f"{key}.mask")
            arrays[f"{key}.weight"] = np.asarray(tensors.weights, dtype=np.float64)
            mask = tensors.mask if tensors.mask is not None else tensors.weights != 0
            arrays[f"{key}.mask"] = np.asarray(mask).astype(np.uint8)
            if tensors.activations is not None:
                entry["activations_key"] = f"{key}.inputs"
                arrays[f"{key}.inputs"] = np.asarray(tensors.activations, dtype=np.float64)
        entries.append(entry)
    granularity, (n, m) = parse_pattern(pattern)
    provenance = {"model": workload.name, "criterion": criterion_name, "granularity": granularity,
                  "schedule": "one_shot", "target_sparsity": (1 - n / m) if granularity == "nm" else sparsity,
                  "measured_sparsity": result.sparsity_measured, "finetune_epochs": 0,
                  "nm_pattern": f"{n}:{m}" if granularity == "nm" else None}
    name = f"{workload.name}-{pattern.replace(':', '')}-{criterion_name}"
    write_workload_folder(folder, name, entries, arrays,
                          description=f"{workload.name} with its own weights pruned ({pattern}, {criterion_name}, no data)"
                                      f"; weight-reconstruction error {result.weight_error:.4g}",
                          source=workload.source or f"energysim prune --workload {workload.name}",
                          provenance=provenance, compressed=True)
    return Path(folder) / WORKLOAD_FILE
