"""Pruning masks out to PyTorch: a state dict that ``torch.nn.utils.prune.custom_from_mask`` applies.

:func:`workload_masks` gives one keep-mask per weight layer of a workload,
keyed ``<layer>.weight_mask`` -- the name ``torch.nn.utils.prune`` gives its own
mask buffer -- as float32 0/1 arrays in the layer's weight layout ((out, in)
for linear, (out, in / groups, kh, kw) for convolutions, which is PyTorch's
``nn.Linear`` / ``nn.Conv2d`` layout). A layer with a stored mask
(``mask_key``) exports that mask; a layer with weights but no mask exports
its non-zero pattern; a layer without tensors (geometry only, or an activation
matmul) exports nothing.

:func:`save_masks` writes them with ``torch.save`` (needs torch); in torch::

    masks = torch.load("masks.pt")
    energysim.formats.torch_masks.apply_masks(model, masks)
    # i.e. for every "<module>.weight_mask": prune.custom_from_mask(model.get_submodule(module), "weight", mask)

Layer names are module paths when the workload came from :func:`energysim.from_torch`
or ``energysim import model.pt``; other workloads keep their own layer names,
which then name the modules the masks are for.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from energysim.errors import InputError
from energysim.workloads.workload import Workload

MASK_SUFFIX = ".weight_mask"
"""Key suffix of an exported mask (``torch.nn.utils.prune``'s buffer name)."""


def workload_masks(workload: Workload) -> dict[str, np.ndarray]:
    """Keep-masks of a workload's weight layers, ``<layer>.weight_mask`` -> float32 0/1 array in its weight layout.

    Raises
    ------
    InputError
        If the workload carries no tensors (a geometry-only workload has no masks to export).
    """
    masks: dict[str, np.ndarray] = {}
    for layer in workload.layers:
        tensors = workload.layer_tensors(layer.name)
        if tensors is None:
            continue
        keep = tensors.mask if tensors.mask is not None else tensors.weights != 0
        masks[f"{layer.name}{MASK_SUFFIX}"] = np.asarray(keep, dtype=np.float32).reshape(layer.weight_shape)
    if not masks:
        raise InputError(f"workload '{workload.name}' carries no weight tensors, so it has no masks to export "
                         "(a geometry-only workload's sparsity is statistical)")
    return masks


def save_masks(workload: Workload, path: str | Path) -> dict[str, np.ndarray]:
    """Write :func:`workload_masks` to ``path`` with ``torch.save`` (float32 tensors); return the masks.

    Raises
    ------
    InputError
        If torch is missing (saying how to install it), ``path`` does not end in
        ``.pt`` / ``.pth``, or the file cannot be written.
    """
    from energysim.atomic_files import write_atomic
    from energysim.workloads.torch_trace import require_torch

    torch = require_torch()
    path = Path(path)
    if path.suffix.lower() not in (".pt", ".pth"):
        raise InputError(f"{path}: a mask file must end in .pt or .pth (got {path.suffix or 'no suffix'!r})")
    masks = workload_masks(workload)
    state = {key: torch.from_numpy(mask.copy()) for key, mask in masks.items()}
    write_atomic(path, lambda handle: torch.save(state, handle))
    return masks


def apply_masks(module, masks: dict) -> list[str]:
    """Apply ``<module>.weight_mask`` entries to a torch module with ``prune.custom_from_mask``; return the module paths.

    A mask is reshaped to the parameter's shape where only the layout differs
    (a 1-D convolution's (out, in, kw) weight against the stored (out, in, 1, kw)).

    Raises
    ------
    InputError
        If a key names no submodule with a ``weight``, or a mask's size differs from the weight's.
    """
    from energysim.workloads.torch_trace import require_torch

    torch = require_torch()
    from torch.nn.utils import prune

    applied = []
    for key, mask in masks.items():
        if not key.endswith(MASK_SUFFIX):
            raise InputError(f"mask key {key!r} must end in {MASK_SUFFIX!r}")
        path = key[: -len(MASK_SUFFIX)]
        try:
            target = module.get_submodule(path)
        except AttributeError:
            raise InputError(f"mask key {key!r}: the module has no submodule {path!r}") from None
        weight = getattr(target, "weight", None)
        if weight is None:
            raise InputError(f"mask key {key!r}: submodule {path!r} has no weight")
        mask = torch.as_tensor(np.asarray(mask), dtype=weight.dtype)
        if mask.numel() != weight.numel():
            raise InputError(f"mask key {key!r}: {mask.numel()} mask elements for a weight of shape {tuple(weight.shape)}")
        prune.custom_from_mask(target, "weight", mask.reshape(weight.shape))
        applied.append(path)
    return applied
