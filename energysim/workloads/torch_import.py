"""PyTorch models in: :func:`from_torch` for a live ``nn.Module``, :func:`import_torch_file` for ``.pt`` / ``.pt2`` files.

torch is an optional dependency (``pip install 'energysim[torch]'``), imported
only when one of these functions runs; without it they raise a one-line
:class:`~energysim.errors.InputError` saying how to install it.

A live module is traced with ``torch.export.export(module, example_inputs)``
and its graph read by :func:`energysim.workloads.torch_trace.layers_from_program`
(layers, shapes, weights and pruning masks). Parameters held as 2:4
semi-structured sparse tensors (``torch.sparse.to_sparse_semi_structured``)
are traced from a dense copy of the module, with their non-zero pattern as the
mask; the module passed in is not changed.

Files (:func:`import_torch_file`), told apart by their content:

``.pt2`` (``torch.export.save``)
    Loaded with ``torch.export.load`` and read as it is (shapes are in the
    program). torch unpickles parts of such a file, so only with ``trust=True``.
TorchScript (``torch.jit.save``; a zip archive with a ``code/`` folder)
    Loaded with ``torch.jit.load``, converted to an exported program with an
    input of zeros of ``input_shape`` (torch's TorchScript converter), which
    runs the stored program: only with ``trust=True``.
A state dict (``torch.save(model.state_dict())``)
    Loaded with ``torch.load(weights_only=True)`` (no code runs). With
    ``arch`` a bundled workload name or a workload TOML path, its weight
    tensors, in file order, fill that workload's weight layers, which must
    match one to one in shape; with ``arch`` a module class
    (``FILE.py:CLASS`` or ``package.module:CLASS``, built with no arguments;
    that code is imported and run), the state dict is loaded into it strictly
    and the module traced on zeros of ``input_shape``; without ``arch`` the
    ``<layer>.weight`` naming scheme of :mod:`energysim.workloads.npz_import` applies. ``torch.nn.utils.prune``
    state dicts (``<layer>.weight_orig`` + ``<layer>.weight_mask``) and
    parametrised ones (``<layer>.parametrizations.weight.original`` + a mask)
    give the masked weights and their masks.
A whole pickled module (``torch.save(model)``)
    Loading it unpickles Python objects, which can run any code in the file,
    so it is loaded (``torch.load(weights_only=False)``) only with
    ``trust=True`` (``--trust``), then traced like a live module with an input
    of zeros of ``input_shape``.

Activation density: :func:`from_torch` runs the traced program on its example
input and sets each weight layer's ``activation_density`` to the non-zero
fraction of that layer's input
(:func:`energysim.workloads.torch_trace.measure_activation_densities`). A file
import does so only with ``calibration`` (``--calibration FILE.npz``, one array
of real inputs) for a model that runs; otherwise its result carries the
:data:`energysim.workloads.import_layers.NO_ACTIVATION_DATA` note.
"""

from __future__ import annotations

import copy
import re
import tempfile
import warnings
import zipfile
from dataclasses import replace
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from energysim.errors import EnergySimError, InputError
from energysim.limits import ARRAY_BYTES, check_shape
from energysim.workloads.import_layers import activation_notes
from energysim.workloads.npz_import import read_npz, unpruned_arrays, weight_layers
from energysim.workloads.onnx_import import ImportResult
from energysim.workloads.torch_trace import (TracedLayers, layers_from_program, measure_activation_densities, require_torch,
                                             torch_failure, torch_logs_held)
from energysim.workloads.workload import Workload
from energysim.workloads.writing import write_workload_folder

TORCH_SUFFIXES = (".pt", ".pth", ".pt2")
"""File suffixes read by :func:`import_torch_file`."""


def _example_args(torch, example_input) -> tuple:
    args = tuple(example_input) if isinstance(example_input, (tuple, list)) else (example_input,)
    if not args or not all(isinstance(a, torch.Tensor) for a in args):
        raise InputError("example_input must be a tensor or a tuple of tensors (the module's positional arguments; "
                         f"got {type(example_input).__name__})")
    return args


def _dense_copy(torch, module) -> tuple[Any, dict[str, np.ndarray]]:
    """The module with 2:4 semi-structured parameters made dense (a copy, if any), and their keep-masks by name."""
    try:
        from torch.sparse import SparseSemiStructuredTensor
    except ImportError:  # a torch without semi-structured sparsity
        return module, {}
    sparse = [name for name, p in module.named_parameters() if isinstance(p, SparseSemiStructuredTensor)]
    if not sparse:
        return module, {}
    dense_module, masks = copy.deepcopy(module), {}
    for name in sparse:
        owner_path, _, attribute = name.rpartition(".")
        owner = dense_module.get_submodule(owner_path)
        dense = getattr(owner, attribute).to_dense().detach()
        masks[name] = (dense != 0).cpu().numpy()
        setattr(owner, attribute, torch.nn.Parameter(dense.cpu(), requires_grad=False))
    return dense_module, masks


def _export(torch, module, args: tuple, label: str):
    """``torch.export.export`` (non-strict), its failure as one InputError line."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return torch.export.export(module, args, strict=False)
    except EnergySimError:
        raise
    except Exception as exc:  # torch raises many types; the first line says what failed
        first = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
        raise InputError(f"{label}: torch.export could not trace the model ({exc.__class__.__name__}: {first})") from None


def trace_module(module, example_input, label: str = "the module") -> TracedLayers:
    """Trace a live ``nn.Module`` on ``example_input`` into workload entries (see the module docstring).

    Raises
    ------
    InputError
        If torch is missing, the module is not an ``nn.Module``, the input is not
        a tensor (tuple), tracing fails, or no weight layer is found.
    """
    torch = require_torch()
    if not isinstance(module, torch.nn.Module):
        raise InputError(f"{label}: must be a torch.nn.Module (got {type(module).__name__})")
    args = _example_args(torch, example_input)
    with torch_logs_held():  # a failure is our one line, not torch's log lines before it
        dense_module, masks = _dense_copy(torch, module)
        return layers_from_program(_export(torch, dense_module, args, label), label, masks)


def _write(traced: TracedLayers, out_dir: str | Path, name: str, description: str, source: str) -> Workload:
    return write_workload_folder(out_dir, name, traced.layers, traced.arrays, description=description, source=source)


def from_torch(module, example_input, name: str | None = None, out_dir: str | Path | None = None) -> Workload:
    """A workload with the real weights, masks and traced shapes of a PyTorch module.

    Parameters
    ----------
    module
        A ``torch.nn.Module`` (pruned with ``torch.nn.utils.prune``, parametrised,
        semi-structured or shrunk: see :mod:`energysim.workloads.torch_trace`).
    example_input
        A tensor, or a tuple of tensors, the module is called with; its shapes
        fix every layer's batch, token count and feature-map size.
    name
        Workload name (default: the module's class name).
    out_dir
        Write the workload folder (``workload.toml`` + ``tensors.npz``) here;
        None returns it without keeping any file.

    Returns
    -------
    Workload
        Linear, conv2d, grouped_conv2d, gemm and batched_matmul layers in graph
        order, with tensors (``path`` is None unless ``out_dir`` is given). Each
        weight layer's ``activation_density`` is the fraction of non-zero
        elements of its input when the traced program runs on ``example_input``
        (:func:`energysim.workloads.torch_trace.measure_activation_densities`),
        so engines that skip zero activations (EIE, gating/skipping designs)
        see the model's real ReLU sparsity: give a representative batch, not zeros.

    Raises
    ------
    InputError
        If torch is not installed (saying how to install it), the arguments are
        not a module and tensors, or the graph cannot be traced into layers.
    """
    traced = trace_module(module, example_input)
    torch = require_torch()
    args = _example_args(torch, example_input)
    with torch_logs_held():
        measured = measure_activation_densities(traced, args)
    name = name or type(module).__name__
    shapes = ", ".join("x".join(str(d) for d in a.shape) or "scalar" for a in args)
    description = (f"traced from a torch {type(module).__name__} by energysim.from_torch: {len(traced.layers)} layers; "
                   f"activation_density of {measured} weight layers measured on the example input ({shapes})")
    if traced.notes:
        description += "; notes: " + "; ".join(traced.notes)
    source = f"PyTorch module {type(module).__name__}"
    if out_dir is not None:
        return _write(traced, out_dir, name, description, source)
    with tempfile.TemporaryDirectory(prefix="energysim-torch-") as tmp:  # the same validation and tensors as a folder
        return replace(_write(traced, tmp, name, description, source), path=None)


def _is_torchscript(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as archive:
            return any("/code/" in member or member.startswith("code/") for member in archive.namelist())
    except (zipfile.BadZipFile, OSError):
        return False


def _zeros(torch, input_shape: Sequence[int] | None, label: str, what: str):
    if input_shape is None:
        raise InputError(f"{label}: {what} needs an example input shape to trace: give --input-shape, e.g. 1,3,32,32 "
                         "(Python: input_shape=(1, 3, 32, 32))")
    shape = tuple(int(d) for d in input_shape)
    if not shape or any(d < 1 for d in shape):
        raise InputError(f"input shape must be positive integers (got {','.join(map(str, shape)) or 'nothing'})")
    check_shape(f"{label}: --input-shape", shape, 4)  # float32 zeros, before torch allocates them
    return torch.zeros(shape)


def _state_arrays(torch, loaded, path: Path) -> dict[str, np.ndarray]:
    """A state dict's tensors as NumPy arrays by name, in file order."""
    if isinstance(loaded, dict) and not any(isinstance(v, torch.Tensor) for v in loaded.values()):
        for key in ("state_dict", "model_state_dict", "model"):  # a training checkpoint wrapping the state dict
            if isinstance(loaded.get(key), dict):
                loaded = loaded[key]
                break
    if not isinstance(loaded, dict) or not loaded:
        raise InputError(f"{path}: a torch file must hold a state dict (names to tensors), a TorchScript or torch.export "
                         f"program, or a whole module (got {type(loaded).__name__})")
    arrays = {}
    for key, value in loaded.items():  # other entries (an optimizer step count, a string) are left out
        if not isinstance(value, torch.Tensor):
            continue
        what = f"{path}: tensor {str(key)!r}"
        if value.device.type == "meta":
            raise InputError(f"{what} has no data (a meta tensor of shape {tuple(value.shape)}); save the state dict of a "
                             "module whose parameters hold values")
        if value.dtype.is_complex:
            raise InputError(f"{what} has dtype {str(value.dtype).removeprefix('torch.')}; weights must be bool, integer or float")
        if value.numel():
            check_shape(what, tuple(value.shape), 8)  # before a stride-0 view (expand) is made whole
        if value.is_quantized:
            value = value.dequantize()
        if value.layout != torch.strided:
            value = value.to_dense()
        value = value.detach().cpu()
        arrays[str(key)] = (value.to(torch.float64) if value.dtype.is_floating_point else value).numpy()
    return arrays


def _fill_architecture(arrays: dict[str, np.ndarray], arch: str, path: Path) -> tuple[list[dict], dict[str, np.ndarray], list[tuple[str, str]], str]:
    """Put a state dict's weights, in file order, into the weight layers of a bundled or given workload."""
    from energysim.api import workload as load_named_workload

    geometry = load_named_workload(arch)
    targets = [layer for layer in geometry.layers if layer.kind != "batched_matmul"]
    weights = [key for key in arrays if key.endswith(".weight") and arrays[key].ndim >= 2]
    if len(weights) != len(targets):
        raise InputError(f"{path}: the state dict has {len(weights)} weight tensors of 2 or more dimensions but architecture "
                         f"{arch!r} has {len(targets)} weight layers; they must match one to one in order")
    layers, tensors, used = [], {}, set()
    by_name = {}
    for key, layer in zip(weights, targets):
        array = arrays[key]
        shape = tuple(layer.weight_shape)
        if array.shape != shape and not (array.ndim == 3 and len(shape) == 4 and array.shape == (shape[0], shape[1], shape[3])):
            raise InputError(f"{path}: tensor {key!r} of shape {array.shape} does not fit layer '{layer.name}' of "
                             f"architecture {arch!r}, whose weight shape is {shape}")
        by_name[layer.name] = key
    for layer in geometry.layers:
        entry = layer.model_dump(exclude_none=True)
        for field in ("weight_key", "mask_key", "activations_key", "measured_sparsity", "target_sparsity"):
            entry.pop(field, None)
        entry["weight_density"] = 1.0
        if entry.get("activation_density") == 1.0:  # the default: no activation data (activation_notes says so)
            del entry["activation_density"]
        key = by_name.get(layer.name)
        if key is not None:
            array = arrays[key].reshape(layer.weight_shape)
            mask_key = key[: -len(".weight")] + ".mask"
            if mask_key in arrays:
                mask = arrays[mask_key].reshape(layer.weight_shape)
                tensors[f"{layer.name}.mask"] = mask.astype(np.uint8)
                entry["mask_key"] = f"{layer.name}.mask"
                array = np.where(mask.astype(bool), array, 0.0)
                entry["measured_sparsity"] = float(np.count_nonzero(array == 0) / array.size)
            tensors[f"{layer.name}.weight"] = np.asarray(array, dtype=np.float64)
            entry["weight_key"] = f"{layer.name}.weight"
            used.update((key, mask_key))
        layers.append(entry)
    skipped = [(key, "not a weight tensor of the architecture") for key in arrays if key not in used]
    return layers, tensors, skipped, f"{geometry.name} (architecture {arch})"


def import_torch_file(
    path: str | Path,
    out_dir: str | Path,
    input_shape: Sequence[int] | None = None,
    name: str | None = None,
    trust: bool = False,
    arch: str | None = None,
    input_size: tuple[int, int] | None = None,
    order: str | None = None,
    calibration: str | Path | None = None,
) -> ImportResult:
    """Turn a ``.pt`` / ``.pth`` / ``.pt2`` file into a workload folder (see the module docstring).

    Parameters
    ----------
    path
        The torch file.
    out_dir
        Output folder; ``workload.toml`` and ``tensors.npz`` are replaced atomically.
    input_shape
        Shape of the zeros input a TorchScript file or a whole module is traced
        with for its layer shapes, e.g. (1, 3, 32, 32); default with
        ``calibration``: the shape of that batch.
    name
        Workload name (default: the file stem).
    trust
        Allow loading a file that can run code from it: a whole pickled module,
        a ``.pt2`` program or a TorchScript module (only state dicts load without it).
    arch
        For a state dict: a bundled workload name or workload TOML path whose
        weight layers the tensors fill, in order; or ``FILE.py:CLASS`` /
        ``package.module:CLASS``, the module class the state dict belongs to.
    input_size
        For a state dict without ``arch``: (height, width) of the first conv2d
        layer's input (the naming scheme's ``--input-size``).
    order
        For a state dict without ``arch``: ``"file"`` (default) or ``"natural"``.
    calibration
        An ``.npz`` file holding one array, a batch of real model inputs: a
        model that runs (a ``.pt2`` program, TorchScript, a whole module, a
        state dict with a module-class ``arch``) is run on it and each weight
        layer's ``activation_density`` is its input's non-zero fraction; its
        shape is the trace's ``input_shape`` when that is not given.

    Returns
    -------
    ImportResult

    Raises
    ------
    InputError
        One line naming the file, the rule and the value (missing torch, an
        untrusted pickled module, a shape that does not fit, ...).
    """
    torch = require_torch()
    with torch_logs_held():  # a failure is our one line, not torch's log lines before it
        return _import_torch_file(torch, Path(path), out_dir, input_shape, name, trust, arch, input_size, order,
                                  calibration)


def _calibration_input(torch, calibration: str | Path):
    """The one array of a ``--calibration`` ``.npz`` file as a float32 tensor."""
    calibration = Path(calibration)
    if calibration.suffix.lower() != ".npz":
        raise InputError(f"{calibration}: --calibration must be an .npz file holding one array, a batch of model inputs "
                         f"(got suffix {calibration.suffix or 'none'!r})")
    if not calibration.is_file():
        raise InputError(f"{calibration}: --calibration file not found")
    arrays = read_npz(calibration)
    if len(arrays) != 1:
        raise InputError(f"{calibration}: --calibration must hold exactly one array, a batch of model inputs "
                         f"(got {len(arrays)}: {', '.join(list(arrays)[:6]) or 'none'})")
    (key, array), = arrays.items()
    if array.ndim == 0 or array.size == 0 or not np.all(np.isfinite(array)):
        raise InputError(f"{calibration}: --calibration array {key!r} must be a non-empty batch of finite numbers "
                         f"(got shape {array.shape})")
    return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))


def _import_torch_file(torch, path: Path, out_dir, input_shape, name, trust, arch, input_size, order,
                       calibration=None) -> ImportResult:
    if not path.is_file():
        raise InputError(f"{path}: torch file not found")
    calib = _calibration_input(torch, calibration) if calibration is not None else None
    if calib is not None and input_shape is None:
        input_shape = tuple(calib.shape)
    ARRAY_BYTES.check(f"{path}: the torch file", path.stat().st_size)
    ARRAY_BYTES.check(f"{path}: the torch file uncompressed", _unzipped_bytes(path))
    label = str(path)
    if path.suffix.lower() == ".pt2":
        _require_trust(path, trust, "a torch.export program: torch.export.load unpickles parts of it")
        if not zipfile.is_zipfile(path):
            raise InputError(f"{path}: not a torch.export program (a .pt2 file is a zip archive; this one is not, "
                             "or is truncated)")
        with torch_logs_held() as records:
            try:
                program = torch.export.load(str(path))
            except Exception as exc:
                raise InputError(f"{path}: not a torch.export program ({torch_failure(exc, records)})") from None
        traced, kind = layers_from_program(program, label), "torch.export program"
    elif _is_torchscript(path):
        _require_trust(path, trust, "a TorchScript module: tracing it runs the program stored in it")
        traced, kind = _trace_torchscript(torch, path, input_shape, label), "TorchScript module"
    else:
        try:
            loaded = torch.load(str(path), map_location="cpu", weights_only=True)
        except Exception as exc:
            found = re.search(r"Unsupported global: GLOBAL (\S+)", str(exc))
            if found is None:
                raise InputError(f"{path}: not a torch file (torch.load cannot read it as a state dict, TorchScript or "
                                 f"module: {exc.__class__.__name__})") from None
            if not trust:
                raise InputError(
                    f"{path}: holds pickled Python objects (such as {found.group(1)}: a whole module saved with "
                    "torch.save(model)); loading it runs code from the file, so energysim loads it only with --trust "
                    "(Python: trust=True), or save model.state_dict() instead, which needs no trust"
                ) from None
            loaded = torch.load(str(path), map_location="cpu", weights_only=False)  # the user trusts this file
        if isinstance(loaded, torch.nn.Module):
            module = loaded.eval()
            traced = trace_module(module, _zeros(torch, input_shape, label, "a whole module"), label)
            kind = f"torch {type(module).__name__} module"
        else:
            return _import_state_dict(torch, loaded, path, out_dir, name, arch, input_size, order, input_shape,
                                      calib, calibration)
    described = ""
    if calib is not None:
        measured = measure_activation_densities(traced, (calib,), label, str(calibration))
        described = f"; activation_density of {measured} weight layers measured on {Path(calibration).name}"
    workload = write_workload_folder(
        out_dir, name or path.stem, traced.layers, traced.arrays,
        description=f"imported from {path.name} by energysim import: {len(traced.layers)} layers{described}",
        source=f"{kind} {path.name}")
    return ImportResult(workload=workload, path=Path(out_dir) / "workload.toml", skipped=traced.skipped,
                        notes=traced.notes + activation_notes(traced.layers))


def _unzipped_bytes(path: Path) -> int:
    """The bytes a zip-format torch file's members declare uncompressed (0 for another format or a broken zip).

    torch.load inflates deflated members whole before any tensor can be checked:
    a 98 kB file holding 100 MB of zeros loads as 100 MB (a few MB would ask for gigabytes).
    """
    try:
        with zipfile.ZipFile(path) as archive:
            return sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError):
        return 0  # not a zip (a legacy pickle) or a broken one: torch refuses it, in one line, by itself


def _require_trust(path: Path, trust: bool, what: str) -> None:
    """Refuse a file whose loading can run code from it unless the user said ``--trust``."""
    if not trust:
        raise InputError(f"{path}: holds {what}, which can run code from the file, so energysim loads it only with "
                         "--trust (Python: trust=True); a state dict (torch.save(model.state_dict())) needs no trust")


def _trace_torchscript(torch, path: Path, input_shape, label: str) -> TracedLayers:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch.jit.load is deprecated in favour of torch.export: still read
            scripted = torch.jit.load(str(path), map_location="cpu")
    except Exception as exc:
        raise InputError(f"{path}: not a TorchScript file ({exc.__class__.__name__})") from None
    example = _zeros(torch, input_shape, label, "a TorchScript module")
    try:
        from torch._export.converter import TS2EPConverter

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            converted = TS2EPConverter(scripted, (example,)).convert()
            program = torch.export.export(converted.module(), (example,), strict=False)  # static shapes of ``example``
    except Exception as exc:
        first = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
        raise InputError(f"{path}: torch could not convert the TorchScript module to a traceable program "
                         f"({exc.__class__.__name__}: {first}); save it with torch.export.save as a .pt2 file instead") from None
    return layers_from_program(program, label)


def _arch_class(arch: str):
    """The ``nn.Module`` class named by ``FILE.py:CLASS`` or ``package.module:CLASS`` (imports that code)."""
    import importlib
    import importlib.util

    source, _, class_name = arch.rpartition(":")
    try:
        if source.endswith(".py"):
            if not Path(source).is_file():
                raise InputError(f"--arch {arch}: Python file {source!r} not found")
            spec = importlib.util.spec_from_file_location(f"energysim_arch_{Path(source).stem}", source)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
        else:
            module = importlib.import_module(source)
    except EnergySimError:
        raise
    except (Exception, SystemExit) as exc:  # the user's own code failed to import (or called sys.exit() doing so)
        raise InputError(f"--arch {arch}: {source!r} cannot be imported ({exc.__class__.__name__}: {exc})") from None
    cls = getattr(module, class_name, None)
    if cls is None:
        raise InputError(f"--arch {arch}: {source!r} has no class {class_name!r}")
    return cls


def _module_from_class(torch, arrays: dict[str, np.ndarray], arch: str, path: Path, input_shape) -> TracedLayers:
    """Build ``CLASS()``, load the (unpruned) state dict into it strictly, and trace it with masks by parameter name."""
    cls = _arch_class(arch)
    try:
        model = cls()
    except EnergySimError:
        raise
    except (Exception, SystemExit) as exc:  # the user's class may call sys.exit(): not a silent exit 0
        raise InputError(f"--arch {arch}: calling the class with no arguments failed ({exc.__class__.__name__}: {exc})") from None
    if not isinstance(model, torch.nn.Module):
        raise InputError(f"--arch {arch}: must name a torch.nn.Module class (got {type(model).__name__})")
    masks = {f"{key[: -len('.mask')]}.weight": arrays[key].astype(bool) for key in arrays
             if key.endswith(".mask") and f"{key[: -len('.mask')]}.weight" in arrays}
    state = {key: torch.from_numpy(np.ascontiguousarray(value)) for key, value in arrays.items()
             if not (key.endswith(".mask") and f"{key[: -len('.mask')]}.weight" in masks)}
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()
        raise InputError(f"{path}: the state dict does not fit --arch {arch} "
                         f"({' '.join(line.strip() for line in first[:3])[:400]})") from None
    args = (_zeros(torch, input_shape, str(path), f"--arch {arch}"),)
    return layers_from_program(_export(torch, model.eval(), args, str(path)), str(path), masks)


def _import_state_dict(torch, loaded, path: Path, out_dir, name, arch, input_size, order, input_shape,
                       calib=None, calibration=None) -> ImportResult:
    arrays = unpruned_arrays(_state_arrays(torch, loaded, path), path)
    if arch is not None and ":" in arch and not Path(arch).is_file():
        traced = _module_from_class(torch, arrays, arch, path, input_shape)
        described = ""
        if calib is not None:
            measured = measure_activation_densities(traced, (calib,), str(path), str(calibration))
            described = f"; activation_density of {measured} weight layers measured on {Path(calibration).name}"
        workload = write_workload_folder(
            out_dir, name or path.stem, traced.layers, traced.arrays, source=f"torch state dict {path.name}",
            description=f"imported from {path.name} into {arch} by energysim import: {len(traced.layers)} layers{described}")
        return ImportResult(workload=workload, path=Path(out_dir) / "workload.toml", skipped=traced.skipped,
                            notes=traced.notes + activation_notes(traced.layers))
    if calib is not None:
        raise InputError(f"{calibration}: --calibration needs a model that runs: a .pt2 program, TorchScript, a whole "
                         f"module, or a state dict with --arch FILE.py:CLASS (got a state dict {path.name} "
                         f"{'into architecture ' + repr(arch) if arch else 'without --arch'})")
    if arch is not None:
        layers, tensors, skipped, described = _fill_architecture(arrays, arch, path)
        description = f"imported from {path.name} by energysim import into {described}: {len(layers)} layers"
    else:
        order = order or "file"
        layers, tensors, skipped = weight_layers(arrays, path, input_size, order)
        description = f"imported from {path.name} by energysim import ({order} layer order): {len(layers)} weight layers, batch 1"
    workload = write_workload_folder(out_dir, name or path.stem, layers, tensors, description=description,
                                     source=f"torch state dict {path.name}")
    return ImportResult(workload=workload, path=Path(out_dir) / "workload.toml", skipped=skipped,
                        notes=activation_notes(layers))
