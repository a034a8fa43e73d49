"""Workload files: a network as an ordered list of layers, optionally with real tensors.

A workload is a TOML file (``schema_version = 1``)::

    name = "vgg16"
    source = "Simonyan & Zisserman, ICLR 2015"
    tensors_file = "tensors.npz"      # optional, relative to this file

    [provenance]                      # optional, written by the pruning engine
    criterion = "magnitude_l1"

    [[layers]]
    kind = "conv2d"                   # linear | conv2d | gemm
    name = "conv1_1"
    in_channels = 3
    ...
    weight_key = "conv1_1.weight"     # optional: real weights in tensors_file
    mask_key = "conv1_1.mask"         # optional: 0/1 keep-mask, same shape
    activation_density = 0.53         # optional: fraction of non-zero inputs

The tensors file is a NumPy ``.npz`` read by :class:`energysim.npz_archive.NpzArchive`
(headers checked against each layer's shape before any data is read; no pickles). Weight
arrays have the layer's ``weight_shape``: (out, in) for linear, (out, in, kh, kw)
for conv2d, (m, k) for gemm.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from energysim.config.loading import load_model_file
from energysim.errors import ConfigError, InputError
from energysim.npz_archive import NpzArchive
from energysim.limits import DIMENSION, LAYER_MACS
from energysim.workloads.layers import Layer


class Provenance(BaseModel):
    """Where a pruned workload came from (all fields optional; accuracies are fractions 0..1)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str | None = None
    dataset: str | None = None
    criterion: str | None = None
    granularity: str | None = None
    schedule: str | None = None
    target_sparsity: float | None = Field(default=None, ge=0.0, le=1.0)
    measured_sparsity: float | None = Field(default=None, ge=0.0, le=1.0)
    accuracy_dense: float | None = Field(default=None, ge=0.0, le=1.0)
    accuracy_pruned: float | None = Field(default=None, ge=0.0, le=1.0)
    accuracy_finetuned: float | None = Field(default=None, ge=0.0, le=1.0)
    finetune_epochs: int | None = Field(default=None, ge=0)
    seed: int | None = None
    nm_pattern: str | None = Field(default=None, pattern=r"^[1-9][0-9]*:[1-9][0-9]*$", description="N:M pattern, e.g. '2:4'.")
    vector_block: int | None = Field(default=None, ge=1, description="Vector (block) length of vector pruning, weights.")
    shrunk: bool | None = Field(default=None, description="Channel-pruned layers were physically removed.")
    calibration_samples: int | None = Field(default=None, ge=1, description="Images the activation densities were measured on.")


class WorkloadFile(BaseModel):
    """The strict schema of a workload TOML file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: int
    name: str = Field(min_length=1)
    description: str = ""
    source: str = ""
    tensors_file: str | None = None
    provenance: Provenance | None = None
    layers: list[Layer] = Field(min_length=1)

    @model_validator(mode="after")
    def _check(self) -> "WorkloadFile":
        seen: set[str] = set()
        for index, layer in enumerate(self.layers):
            if layer.name in seen:
                raise ValueError(f"layer names must be unique; '{layer.name}' appears twice")
            seen.add(layer.name)
            _check_limits(layer, index)
        return self


def _check_limits(layer: Layer, index: int) -> None:
    """Refuse a layer with a dimension or a MAC count over :mod:`energysim.limits` (named, with how to raise it)."""
    for field, value in layer:
        if isinstance(value, int) and not isinstance(value, bool):
            DIMENSION.check(f"layers[{index}].{field}", value, ValueError)
    LAYER_MACS.check(f"layers[{index}] ('{layer.name}'), a {layer.kind} layer,", layer.loop_nest().macs, ValueError)


WorkloadLayer = Layer
"""A layer entry of a workload (geometry plus sparsity and tensor keys)."""


@dataclass(frozen=True)
class LayerTensors:
    """Real tensors of one layer.

    Attributes
    ----------
    weights
        Weight array in the layer's ``weight_shape`` (already multiplied by the mask).
    mask
        Boolean keep-mask of the same shape, or None (all kept where weights are non-zero).
    activations
        Calibration input activations, shape (samples, *input shape), or None.
    """

    weights: np.ndarray
    mask: np.ndarray | None = None
    activations: np.ndarray | None = None

    def __post_init__(self) -> None:
        weights = np.asarray(self.weights)
        for name, array in (("weights", weights), ("mask", self.mask), ("activations", self.activations)):
            if array is not None and np.asarray(array).dtype.kind not in "biuf":
                raise InputError(f"layer tensors: {name} must be bool, integer or float (got dtype {np.asarray(array).dtype})")
        if weights.ndim < 2:
            raise InputError(f"layer tensors: weights must have at least 2 dimensions (got shape {weights.shape})")
        if not np.all(np.isfinite(weights)):
            raise InputError("layer tensors: weights must be finite (got NaN or inf)")
        if self.mask is not None and np.shape(self.mask) != weights.shape:
            raise InputError(f"layer tensors: mask must have the weight shape {weights.shape} (got {np.shape(self.mask)})")
        if self.activations is not None and not np.all(np.isfinite(self.activations)):
            raise InputError("layer tensors: activations must be finite (got NaN or inf)")

    def weight_matrix(self) -> np.ndarray:
        """Weights as the GEMM's A operand, shape (M, K), with masked entries zeroed."""
        w = self.weights if self.mask is None else np.where(self.mask, self.weights, 0.0)
        return w.reshape(w.shape[0], -1)

    def keep_matrix(self) -> np.ndarray:
        """Boolean (M, K) matrix of weights that are present (kept and non-zero)."""
        return self.weight_matrix() != 0


@dataclass(frozen=True)
class Workload:
    """A loaded workload: its layers in order and, where given, their tensors."""

    name: str
    layers: tuple[Layer, ...]
    path: Path | None = None
    description: str = ""
    source: str = ""
    provenance: Provenance | None = None
    tensors: dict[str, LayerTensors] | None = None

    def layer_tensors(self, layer_name: str) -> LayerTensors | None:
        """Real tensors of a layer, or None where the workload has none for it."""
        if self.tensors is None:
            return None
        return self.tensors.get(layer_name)


def _load_tensors(spec: WorkloadFile, path: Path) -> dict[str, LayerTensors] | None:
    wanted = [l for l in spec.layers if l.weight_key or l.mask_key or l.activations_key]
    if not wanted:
        return None
    if spec.tensors_file is None:
        raise ConfigError(f"{path}: tensors_file: is required when a layer names weight_key, mask_key or activations_key")
    tensors_path = (path.parent / spec.tensors_file).resolve()
    if not tensors_path.exists():
        raise ConfigError(f"{path}: tensors_file: file not found (got {str(tensors_path)!r})")
    out: dict[str, LayerTensors] = {}
    with NpzArchive(tensors_path, ConfigError, label=f"{path}: tensors_file {spec.tensors_file!r}",
                    owner=str(path)) as archive:
        for index, layer in enumerate(spec.layers):
            if layer.weight_key is None:
                if layer.mask_key or layer.activations_key:
                    raise ConfigError(f"{path}: layers[{index}].weight_key: is required when mask_key or activations_key is given")
                continue
            shapes = {"weight_key": layer.weight_shape, "mask_key": layer.weight_shape, "activations_key": None}
            arrays = {}
            for field, shape in shapes.items():
                key = getattr(layer, field)
                if key is None:
                    continue
                if key not in archive.members:
                    raise ConfigError(f"{path}: layers[{index}].{field}: no array {key!r} in {spec.tensors_file}")
                arrays[field] = archive.read(key, f"layers[{index}].{field}", shape)
            weights = np.asarray(arrays["weight_key"], dtype=np.float64)
            if not np.all(np.isfinite(weights)):
                raise ConfigError(f"{path}: layers[{index}].weight_key: array {layer.weight_key!r} must be finite (has NaN or inf)")
            mask = None
            if "mask_key" in arrays:
                raw = arrays["mask_key"]
                if not np.isin(raw, (0, 1)).all():
                    raise ConfigError(f"{path}: layers[{index}].mask_key: array {layer.mask_key!r} must hold only 0 and 1")
                mask = raw.astype(bool)
                weights = np.where(mask, weights, 0.0)
            activations = None
            if "activations_key" in arrays:
                activations = np.asarray(arrays["activations_key"], dtype=np.float64)
                if activations.ndim < 2 or activations.shape[0] < 1:
                    raise ConfigError(
                        f"{path}: layers[{index}].activations_key: array {layer.activations_key!r} must have shape "
                        f"(samples, *input shape) with at least one sample (got {activations.shape})"
                    )
                if not np.all(np.isfinite(activations)):
                    raise ConfigError(
                        f"{path}: layers[{index}].activations_key: array {layer.activations_key!r} must be finite (has NaN or inf)"
                    )
            out[layer.name] = LayerTensors(weights=weights, mask=mask, activations=activations)
    return out


def load_workload(path: str | Path, data: dict | None = None) -> Workload:
    """Load a workload TOML file (and its tensors file, if it names one).

    ``data`` is the file's parsed TOML when the caller has read it already (None: read here).

    Raises
    ------
    ConfigError
        With one line per problem, each naming the file, the field, the rule and the value.
    """
    path = Path(path)
    spec = load_model_file(path, WorkloadFile, data)
    return Workload(
        name=spec.name,
        layers=tuple(spec.layers),
        path=path,
        description=spec.description,
        source=spec.source,
        provenance=spec.provenance,
        tensors=_load_tensors(spec, path),
    )
