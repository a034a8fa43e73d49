"""Import weight files (NumPy ``.npz`` or ``.safetensors``) as an energysim workload folder.

A weight file has no graph, so layers are found by a naming scheme.

Naming scheme
-------------
``<layer>.weight``
    One array per weight layer; ``<layer>`` (anything before the final
    ``.weight``, e.g. ``features.0`` or ``fc1``) becomes the layer name, made
    safe to be an archive member by :func:`energysim.workloads.writing.safe_name`
    (``../../x`` becomes ``x``; a name taken twice gets ``_2``).

    - 2 dimensions (out_features, in_features): a ``linear`` layer (PyTorch's
      ``nn.Linear`` layout; batch 1);
    - 4 dimensions (out_channels, in_channels, kh, kw): a ``conv2d`` layer
      (PyTorch's ``nn.Conv2d`` layout; batch 1);
    - 1 dimension (normalisation scales such as BatchNorm's ``weight``): skipped;
    - 3 or 5+ dimensions (1-D or 3-D convolutions): refused with an InputError.
``<layer>.mask`` (optional)
    A 0/1 keep-mask of the weight's shape; stored as the layer's ``mask_key``.
``<layer>.weight_orig`` + ``<layer>.weight_mask``
    A layer pruned with ``torch.nn.utils.prune`` (its state dict saved with
    ``np.savez``): read as ``<layer>.weight = weight_orig * weight_mask`` and
    ``<layer>.mask = weight_mask`` (:func:`unpruned_arrays`). Likewise
    ``<layer>.parametrizations.weight.original`` with a 0/1
    ``<layer>.parametrizations.weight.<i>.mask`` of its shape (a mask
    parametrisation such as ``torch.ao.pruning``'s).
``<layer>.input_size``, ``<layer>.stride``, ``<layer>.padding`` (optional, conv2d only)
    Integer arrays overriding the geometry of one convolution: the input
    (height, width) in pixels, the stride, and the zero padding on each side
    in pixels. Defaults: stride 1, padding 0.

Every other array (biases, running statistics, ...) is skipped and listed.

Spatial sizes
    The first conv2d layer's input size is ``<layer>.input_size`` or else the
    ``input_size`` argument (``--input-size H W``). Each later conv2d layer
    without its own ``<layer>.input_size`` takes the previous conv2d layer's
    output size, i.e. the scheme assumes no pooling between convolutions: give
    ``<layer>.input_size`` after a pooling layer.

Chaining check
    A weight file holds no graph, so the import checks what it can: each layer
    should take what the layer before it gives (conv2d: input channels = the
    previous conv2d layer's output channels; linear: in_features = the previous
    linear layer's out_features, or the previous conv2d layer's output, whole or
    pooled to one value per channel). A layer that does not chain gets a note
    naming both layers and the figures: the defaults of the scheme (stride 1,
    padding 0, groups 1, no pooling) may not be the model's, and its MACs may be
    wrong. Branches, grouped convolutions and pooling also break the chain
    legitimately, so it is a note, not a refusal.

Layer order (``order``)
    ``"file"`` keeps the order of the arrays in the file: for ``.npz`` that is
    the order in which they were saved (``np.savez(path, **state_dict)`` keeps a
    PyTorch state dict's module order). ``"natural"`` sorts layer names with
    digit runs compared as numbers (``layer2`` before ``layer10``). The default
    is ``"file"`` for ``.npz`` and ``"natural"`` for ``.safetensors``, whose
    writers do not keep the model's order in the header.

Safetensors
-----------
Read by a small reader of the documented layout (no ``safetensors`` package):
an 8-byte little-endian unsigned header length ``N``; ``N`` bytes of UTF-8 JSON
mapping each tensor name to ``{"dtype", "shape", "data_offsets": [begin, end]}``
(offsets in bytes, relative to the data buffer that follows the header), plus
an optional ``"__metadata__"`` string map; then the raw little-endian, C-order
data buffer. Dtypes F64, F32, F16, BF16, I64, I32, I16, I8, U64, U32, U16, U8
and BOOL are read; any other dtype, offsets outside the buffer or a byte count
that does not match the shape is refused with an InputError.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np

from energysim.config.loading import parse_json
from energysim.errors import InputError
from energysim.limits import ARRAY_BYTES, read_bounded
from energysim.npz_archive import NpzArchive
from energysim.workloads.import_layers import activation_notes
from energysim.workloads.onnx_import import ImportResult
from energysim.workloads.writing import safe_name, write_workload_folder

ORDERS = ("file", "natural")
"""Layer-order rules of :func:`import_weights`."""

SAFETENSORS_DTYPES = {
    "F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1",
    "U64": "<u8", "U32": "<u4", "U16": "<u2", "U8": "u1", "BOOL": "?",
}
"""Safetensors dtype names read directly, mapped to little-endian NumPy dtypes (BF16 is widened separately)."""

MAX_HEADER_BYTES = 100_000_000
"""Largest safetensors JSON header accepted, bytes (the format's own limit)."""

_GEOMETRY_SUFFIXES = ("input_size", "stride", "padding")


def read_safetensors(path: str | Path) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Read every tensor of a ``.safetensors`` file.

    Parameters
    ----------
    path
        The file.

    Returns
    -------
    arrays, metadata
        Tensors by name in header order (BF16 widened to float32), and the
        ``__metadata__`` string map (empty if absent).

    Raises
    ------
    InputError
        If the file is missing or breaks the layout (naming the file, the
        tensor, the rule and the value).
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: weight file not found")
    if not path.is_file():
        raise InputError(f"{path}: weight file must be a regular file (got a folder or a device)")
    ARRAY_BYTES.check(f"{path}: the weight file", path.stat().st_size)
    try:
        data = read_bounded(path, ARRAY_BYTES)
    except OSError as exc:
        raise InputError(f"{path}: weight file cannot be read ({exc.strerror or exc})") from None
    if len(data) < 8:
        raise InputError(f"{path}: not a safetensors file (shorter than its 8-byte header length; got {len(data)} bytes)")
    header_bytes = int.from_bytes(data[:8], "little")
    if header_bytes > MAX_HEADER_BYTES or 8 + header_bytes > len(data):
        raise InputError(
            f"{path}: not a safetensors file (header length {header_bytes} bytes does not fit the {len(data)}-byte file)"
        )
    header = parse_json(bytes(data[8:8 + header_bytes]), f"{path}: safetensors header", InputError)
    if not isinstance(header, dict):
        raise InputError(f"{path}: safetensors header must be a JSON object (got {type(header).__name__})")
    buffer = memoryview(data)[8 + header_bytes:]
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise InputError(f"{path}: safetensors __metadata__ must map strings to strings (got {metadata!r})")
    arrays: dict[str, np.ndarray] = {}
    for name, info in header.items():
        if not isinstance(info, dict) or set(info) - {"dtype", "shape", "data_offsets"} or len(info) != 3:
            raise InputError(f"{path}: tensor {name!r}: header entry must have exactly dtype, shape and data_offsets (got {info!r})")
        dtype, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
        if not (isinstance(shape, list) and all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)):
            raise InputError(f"{path}: tensor {name!r}: shape must be a list of non-negative integers (got {shape!r})")
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)
                and 0 <= offsets[0] <= offsets[1] <= len(buffer)):
            raise InputError(
                f"{path}: tensor {name!r}: data_offsets must be [begin, end] with 0 <= begin <= end <= {len(buffer)} "
                f"(the data buffer size in bytes; got {offsets!r})"
            )
        if dtype == "BF16":
            itemsize = 2
        elif dtype in SAFETENSORS_DTYPES:
            itemsize = np.dtype(SAFETENSORS_DTYPES[dtype]).itemsize
        else:
            raise InputError(f"{path}: tensor {name!r}: dtype must be one of {', '.join([*SAFETENSORS_DTYPES, 'BF16'])} (got {dtype!r})")
        expected = math.prod(shape) * itemsize
        if offsets[1] - offsets[0] != expected:
            raise InputError(
                f"{path}: tensor {name!r}: {dtype} of shape {shape} needs {expected} bytes but data_offsets span "
                f"{offsets[1] - offsets[0]}"
            )
        raw = buffer[offsets[0]:offsets[1]]
        if dtype == "BF16":
            array = (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            array = np.frombuffer(raw, dtype=SAFETENSORS_DTYPES[dtype])
        arrays[name] = array.reshape(shape).copy()
    return arrays, dict(metadata)


def read_npz(path: str | Path) -> dict[str, np.ndarray]:
    """Read every array of an ``.npz`` file in the order stored in the file.

    The archive is read by :class:`energysim.npz_archive.NpzArchive`: every
    member's header is checked (numeric dtype, declared sizes within
    :data:`energysim.limits.ARRAY_BYTES`) before any data is read; no pickles.

    Raises
    ------
    InputError
        If the file is missing, not an ``.npz`` archive, truncated, over the
        memory budget, or holds an array that is not bool, integer or float.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: weight file not found")
    with NpzArchive(path, InputError) as archive:
        for key in archive.files:
            archive.check_dtype(key)
        return {key: archive.read(key) for key in archive.files}


def read_weight_file(path: str | Path) -> dict[str, np.ndarray]:
    """Read an ``.npz`` or ``.safetensors`` file into arrays by name, in file order.

    Raises
    ------
    InputError
        If the suffix is neither ``.npz`` nor ``.safetensors`` or the file is unreadable.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".npz":
        return read_npz(path)
    if suffix == ".safetensors":
        return read_safetensors(path)[0]
    raise InputError(f"{path}: weight file suffix must be .npz or .safetensors (got {path.suffix or 'none'!r})")


def unpruned_arrays(arrays: dict[str, np.ndarray], path: str | Path) -> dict[str, np.ndarray]:
    """Arrays with PyTorch pruning pairs turned into ``<layer>.weight`` and ``<layer>.mask`` (see the naming scheme).

    ``<layer>.weight_orig`` + ``<layer>.weight_mask`` (``torch.nn.utils.prune``) and
    ``<layer>.parametrizations.weight.original`` + ``<layer>.parametrizations.weight.<i>.mask``
    become ``<layer>.weight`` (the masked weights) and ``<layer>.mask``, at the
    place of the original weight in the order; every other array is kept as it is.

    Raises
    ------
    InputError
        If a ``weight_orig`` has no ``weight_mask`` of its shape, or a mask holds
        values other than 0 and 1.
    """
    path = Path(path)
    out: dict[str, np.ndarray] = {}
    consumed: set[str] = set()
    for key, array in arrays.items():
        layer, mask_keys = None, []
        if key.endswith(".weight_orig"):
            layer = key[: -len(".weight_orig")]
            mask_keys = [f"{layer}.weight_mask"]
            if mask_keys[0] not in arrays:
                raise InputError(f"{path}: array {key!r} (torch.nn.utils.prune) has no {mask_keys[0]!r} beside it")
        elif key.endswith(".parametrizations.weight.original"):
            layer = key[: -len(".parametrizations.weight.original")]
            prefix = f"{layer}.parametrizations.weight."
            mask_keys = [k for k in arrays if k.startswith(prefix) and k.endswith(".mask")
                         and np.shape(arrays[k]) == np.shape(array)]
        if layer is None:
            if key not in consumed:
                out[key] = array
            continue
        weights = np.asarray(array, dtype=np.float64)
        mask = np.ones(weights.shape, dtype=bool)
        for mask_key in mask_keys:
            values = np.asarray(arrays[mask_key])
            if values.shape != weights.shape:
                raise InputError(f"{path}: array {mask_key!r} must have the shape of {key!r} {weights.shape} (got {values.shape})")
            if not np.isin(values, (0, 1)).all():
                raise InputError(f"{path}: array {mask_key!r} must hold only 0 and 1 (a pruning mask)")
            mask &= values.astype(bool)
            consumed.add(mask_key)
            out.pop(mask_key, None)
        out[f"{layer}.weight"] = np.where(mask, weights, 0.0)
        if mask_keys:
            out[f"{layer}.mask"] = mask.astype(np.uint8)
    return out


def natural_key(name: str) -> tuple:
    """Sort key comparing digit runs as numbers: ``layer2`` < ``layer10``, ``features.9`` < ``features.10``."""
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", name) if part != "")


def _int_values(path: Path, key: str, array: np.ndarray, count: int, minimum: int) -> list[int]:
    flat = np.asarray(array).reshape(-1)
    if flat.size != count or flat.dtype.kind not in "iuf" or not np.all(np.isfinite(flat)) or not np.all(flat == np.round(flat)):
        raise InputError(f"{path}: array {key!r} must hold {count} integer value(s) (got {flat.tolist()!r})")
    values = [int(v) for v in flat]
    if any(v < minimum for v in values):
        raise InputError(f"{path}: array {key!r} must hold values >= {minimum} (got {values})")
    return values


def chain_notes(layers: list[dict]) -> list[str]:
    """Notes on consecutive layers that do not chain (see the module docstring's chaining check).

    Parameters
    ----------
    layers
        ``[[layers]]`` entries in import order (``kind`` linear or conv2d, with their geometry).

    Returns
    -------
    list of str
        One sentence per break: both layers, what one gives and the other takes, and what to check.
    """
    notes: list[str] = []
    advice = ("the naming scheme's defaults (stride 1, padding 0, groups 1, no pooling) may not be the model's, so its "
              "MACs may be wrong: give '<layer>.padding' / '.stride' / '.input_size', or import the model with its "
              "graph (.pt2, --arch, .onnx); a branch or a grouped convolution also breaks the chain")
    for before, layer in zip(layers, layers[1:]):
        if before["kind"] == "conv2d":
            out_height = (before["in_height"] + 2 * before["padding"] - before["kernel_height"]) // before["stride"] + 1
            out_width = (before["in_width"] + 2 * before["padding"] - before["kernel_width"]) // before["stride"] + 1
            channels = before["out_channels"]
            if layer["kind"] == "conv2d" and layer["in_channels"] != channels:
                notes.append(f"layer {layer['name']!r} takes {layer['in_channels']} input channels but {before['name']!r} "
                             f"gives {channels}: {advice}")
            elif layer["kind"] == "linear" and layer["in_features"] not in (channels * out_height * out_width, channels):
                pooled = layer["in_features"] < channels * out_height * out_width and layer["in_features"] % channels == 0
                notes.append(f"layer {layer['name']!r} takes {layer['in_features']} inputs but {before['name']!r} gives "
                             f"{channels} x {out_height} x {out_width} = {channels * out_height * out_width}"
                             f"{' (a pooling layer between them may explain it)' if pooled else ''}: {advice}")
        elif layer["kind"] == "linear" and layer["in_features"] != before["out_features"]:
            notes.append(f"layer {layer['name']!r} takes {layer['in_features']} inputs but {before['name']!r} gives "
                         f"{before['out_features']}: {advice}")
    return notes


def weight_layers(
    arrays: dict[str, np.ndarray],
    path: str | Path,
    input_size: tuple[int, int] | None = None,
    order: str = "file",
) -> tuple[list[dict], dict[str, np.ndarray], list[tuple[str, str]]]:
    """Apply the naming scheme to arrays by name.

    Parameters
    ----------
    arrays
        Arrays by name, in file order.
    path
        The file they came from (for messages).
    input_size
        (height, width) in pixels of the first conv2d layer's input.
    order
        ``"file"`` or ``"natural"`` (see the module docstring).

    Returns
    -------
    layers, tensors, skipped
        ``[[layers]]`` entries, the arrays for ``tensors.npz``, and
        ``(array, reason)`` pairs of arrays not used.

    Raises
    ------
    InputError
        If an array breaks the scheme, a conv2d layer has no input size, or no
        weight layer is found.
    """
    path = Path(path)
    if order not in ORDERS:
        raise InputError(f"layer order must be one of {', '.join(ORDERS)} (got {order!r})")
    weight_names = [key[: -len(".weight")] for key in arrays if key.endswith(".weight") and len(key) > len(".weight")]
    used_keys: set[str] = set()
    skipped: list[tuple[str, str]] = []
    candidates = []
    for layer in weight_names:
        key = f"{layer}.weight"
        weights = arrays[key]
        if weights.dtype.kind not in "fiub":
            raise InputError(f"{path}: array {key!r} must be numeric (got dtype {weights.dtype})")
        if weights.ndim == 1:
            skipped.append((key, "1-D .weight (a normalisation scale, not a weight layer)"))
            used_keys.add(key)
            continue
        if weights.ndim not in (2, 4):
            raise InputError(
                f"{path}: array {key!r} has {weights.ndim} dimensions (shape {weights.shape}); the naming scheme maps only "
                f"2-D weights to linear and 4-D weights to conv2d layers"
            )
        if min(weights.shape) == 0:
            raise InputError(f"{path}: array {key!r} must have no empty dimension (got shape {weights.shape})")
        candidates.append(layer)
    if order == "natural":
        candidates.sort(key=natural_key)
    layers: list[dict] = []
    tensors: dict[str, np.ndarray] = {}
    names: set[str] = set()
    next_size: tuple[int, int] | None = None
    if input_size is not None:
        height, width = (int(v) for v in input_size)
        if height <= 0 or width <= 0:
            raise InputError(f"input size must be two positive integers H W (got {height} {width})")
        next_size = (height, width)
    for layer in candidates:
        key = f"{layer}.weight"
        weights = np.asarray(arrays[key], dtype=np.float64)
        if not np.all(np.isfinite(weights)):
            raise InputError(f"{path}: array {key!r} must be finite (has NaN or inf)")
        used_keys.add(key)
        name = safe_name(layer, names)  # the layer name becomes an archive member: never a path
        entry: dict = {"name": name, "weight_key": f"{name}.weight"}
        if weights.ndim == 2:
            entry.update(kind="linear", out_features=int(weights.shape[0]), in_features=int(weights.shape[1]), batch=1)
            for suffix in _GEOMETRY_SUFFIXES:
                if f"{layer}.{suffix}" in arrays:
                    raise InputError(f"{path}: array '{layer}.{suffix}' applies only to conv2d layers, but {key!r} is 2-D (linear)")
        else:
            geometry = {s: arrays.get(f"{layer}.{s}") for s in _GEOMETRY_SUFFIXES}
            for suffix, value in geometry.items():
                if value is not None:
                    used_keys.add(f"{layer}.{suffix}")
            if geometry["input_size"] is not None:
                size = _int_values(path, f"{layer}.input_size", geometry["input_size"], 2, 1)
                next_size = (size[0], size[1])
            if next_size is None:
                raise InputError(
                    f"{path}: conv2d layer {layer!r} needs an input size: give --input-size H W or an array '{layer}.input_size'"
                )
            stride = _int_values(path, f"{layer}.stride", geometry["stride"], 1, 1)[0] if geometry["stride"] is not None else 1
            padding = _int_values(path, f"{layer}.padding", geometry["padding"], 1, 0)[0] if geometry["padding"] is not None else 0
            out_channels, in_channels, kernel_height, kernel_width = (int(d) for d in weights.shape)
            height, width = next_size
            out_height = (height + 2 * padding - kernel_height) // stride + 1
            out_width = (width + 2 * padding - kernel_width) // stride + 1
            if out_height < 1 or out_width < 1:
                raise InputError(
                    f"{path}: conv2d layer {layer!r}: kernel {kernel_height}x{kernel_width} does not fit its input "
                    f"{height}x{width} with padding {padding} (give '{layer}.input_size' if a pooling layer precedes it)"
                )
            entry.update(kind="conv2d", in_channels=in_channels, out_channels=out_channels, in_height=height, in_width=width,
                         kernel_height=kernel_height, kernel_width=kernel_width, stride=stride, padding=padding, batch=1)
            next_size = (out_height, out_width)
        mask_key = f"{layer}.mask"
        if mask_key in arrays:
            mask = np.asarray(arrays[mask_key])
            if mask.shape != weights.shape:
                raise InputError(f"{path}: array {mask_key!r} must have the weight shape {weights.shape} (got {mask.shape})")
            if not np.isin(mask, (0, 1)).all():
                raise InputError(f"{path}: array {mask_key!r} must hold only 0 and 1")
            tensors[f"{name}.mask"] = mask.astype(np.uint8)
            entry["mask_key"] = f"{name}.mask"
            used_keys.add(mask_key)
            weights = np.where(mask.astype(bool), weights, 0.0)
            measured = float(np.count_nonzero(weights == 0) / weights.size)
            entry["measured_sparsity"] = measured
        tensors[entry["weight_key"]] = weights
        layers.append(entry)
    for key in arrays:
        if key not in used_keys:
            skipped.append((key, "not <layer>.weight / .mask / .input_size / .stride / .padding of a weight layer"))
    if not layers:
        raise InputError(
            f"{path}: no weight layer found: the naming scheme needs 2-D or 4-D arrays named '<layer>.weight' "
            f"(got {len(arrays)} arrays{': ' + ', '.join(list(arrays)[:5]) if arrays else ''})"
        )
    return layers, tensors, skipped


def import_weights(
    path: str | Path,
    out_dir: str | Path,
    input_size: tuple[int, int] | None = None,
    name: str | None = None,
    order: str | None = None,
) -> ImportResult:
    """Turn an ``.npz`` or ``.safetensors`` weight file into a workload folder by the naming scheme.

    Parameters
    ----------
    path
        The weight file.
    out_dir
        Output folder (created); ``workload.toml`` and ``tensors.npz`` in it are
        replaced atomically, nothing is written if the import fails.
    input_size
        (height, width) in pixels of the first conv2d layer's input.
    name
        Workload name (default: the file stem).
    order
        ``"file"`` or ``"natural"``; default ``"file"`` for ``.npz`` and
        ``"natural"`` for ``.safetensors``.

    Returns
    -------
    ImportResult
        The loaded workload, the TOML path and the skipped arrays.
    """
    path = Path(path)
    arrays = unpruned_arrays(read_weight_file(path), path)
    if order is None:
        order = "natural" if path.suffix.lower() == ".safetensors" else "file"
    layers, tensors, skipped = weight_layers(arrays, path, input_size, order)
    workload = write_workload_folder(
        out_dir,
        name or path.stem,
        layers,
        tensors,
        description=f"imported from {path.name} by energysim import ({order} layer order): {len(layers)} weight layers, batch 1",
        source=f"weight file {path.name}",
    )
    notes = chain_notes(layers) + activation_notes(layers)
    kinds = [layer["kind"] for layer in layers]
    if order == "natural" and "conv2d" in kinds and kinds.index("linear" if "linear" in kinds else "conv2d") < (
            len(kinds) - 1 - kinds[::-1].index("conv2d")):
        first_linear = layers[kinds.index("linear")]["name"]
        notes.insert(0, f"layer order: names sorted naturally (the default for .safetensors, whose writers do not keep "
                        f"the model's order) put linear layer {first_linear!r} before a conv2d layer: check the order "
                        f"above, or give --order file")
    return ImportResult(workload=workload, path=Path(out_dir) / "workload.toml", skipped=skipped, notes=notes)
