"""The ``energysim import`` subcommand: ONNX models, PyTorch files and weight files to workload folders.

``energysim import MODEL -o OUT_DIR [--input-size H W] [--input-shape DIMS] [--arch WORKLOAD]
[--trust] [--calibration FILE.npz] [--name NAME] [--order file|natural]`` reads ``MODEL`` by its suffix
(``.onnx``: :mod:`energysim.workloads.onnx_import`; ``.pt`` / ``.pth`` /
``.pt2``: :mod:`energysim.workloads.torch_import`; ``.npz`` / ``.safetensors``:
:mod:`energysim.workloads.npz_import`) and writes ``OUT_DIR/workload.toml`` and
``OUT_DIR/tensors.npz``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TextIO

from energysim.errors import InputError

WEIGHT_SUFFIXES = (".npz", ".safetensors")
"""Suffixes read by the weight-file naming scheme."""


def _input_shape(text: str) -> tuple[int, ...]:
    """``--input-shape 1,3,32,32`` as a tuple of positive integers."""
    try:
        shape = tuple(int(part) for part in text.replace("x", ",").split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be comma-separated positive integers such as 1,3,32,32 (got {text!r})") from None
    if not shape or any(d < 1 for d in shape):
        raise argparse.ArgumentTypeError(f"must be comma-separated positive integers such as 1,3,32,32 (got {text!r})")
    return shape


def _layer_line(layer) -> str:
    """One summary line: kind, stored weight shape (if any), the GEMM or loop-nest sizes, MACs."""
    macs = layer.loop_nest().macs
    if layer.kind == "batched_matmul":
        return (f"  {layer.name}: batched_matmul of two activations, {layer.batch} x (m={layer.m} k={layer.k} n={layer.n}), "
                f"{macs:,} MACs")
    if layer.kind == "grouped_conv2d":
        return (f"  {layer.name}: grouped_conv2d weight {tuple(layer.weight_shape)}, {layer.groups} groups, "
                f"dilation {layer.dilation}, {macs:,} MACs")
    shape = layer.gemm_shape()
    return f"  {layer.name}: {layer.kind} weight {tuple(layer.weight_shape)}, GEMM m={shape.m} k={shape.k} n={shape.n}, {macs:,} MACs"


def run_import(args: argparse.Namespace, out: TextIO) -> int:
    """Handler of ``energysim import``: import, then write a short summary to ``out``; return 0."""
    from energysim.output_folder import claim_paths

    model = Path(args.model)
    suffix = model.suffix.lower()
    torch_only = {"--input-shape": args.input_shape, "--arch": args.arch, "--trust": args.trust or None,
                  "--calibration": args.calibration}
    given = [option for option, value in torch_only.items() if value is not None]
    if given and suffix not in (".pt", ".pth", ".pt2"):
        raise InputError(f"{', '.join(given)} applies to PyTorch files (.pt, .pth, .pt2), not to {model.name}")
    claim_paths({"--out": [Path(args.out) / "workload.toml", Path(args.out) / "tensors.npz"]}, args.force)
    input_size = tuple(args.input_size) if args.input_size else None
    if suffix == ".onnx":
        if args.order is not None:
            raise InputError(f"--order applies to .npz, .safetensors and state-dict files, not to ONNX models (got {args.order!r})")
        from energysim.workloads.onnx_import import import_onnx

        result = import_onnx(model, args.out, input_size=input_size, name=args.name)
    elif suffix in WEIGHT_SUFFIXES:
        from energysim.workloads.npz_import import import_weights

        result = import_weights(model, args.out, input_size=input_size, name=args.name, order=args.order)
    elif suffix in (".pt", ".pth", ".pt2"):
        from energysim.workloads.torch_import import import_torch_file

        result = import_torch_file(model, args.out, input_shape=args.input_shape, name=args.name, trust=args.trust,
                                   arch=args.arch, input_size=input_size, order=args.order,
                                   calibration=args.calibration)
    else:
        raise InputError(f"{model}: model file suffix must be .onnx, .pt, .pth, .pt2, .npz or .safetensors "
                         f"(got {model.suffix or 'none'!r})")
    workload = result.workload
    out.write(f"imported {len(workload.layers)} layers from {model} as workload '{workload.name}'\n")
    for layer in workload.layers:
        out.write(_layer_line(layer) + "\n")
    for note in result.notes:
        out.write(f"note: {note}\n")
    if result.skipped:
        names = [name for name, _ in result.skipped]
        shown = ", ".join(names[:6]) + (", ..." if len(names) > 6 else "")
        out.write(f"skipped {len(names)} {'node/array that is not a layer' if len(names) == 1 else 'nodes/arrays that are not layers'}: {shown}\n")
    out.write(f"wrote {result.path} and {result.path.parent / 'tensors.npz'}\n")
    return 0


def run_export_masks(args: argparse.Namespace, out: TextIO) -> int:
    """Handler of ``energysim export-masks``: write the masks as a torch state dict; one line per layer to ``out``."""
    from energysim.estimation import load_source
    from energysim.formats.torch_masks import save_masks
    from energysim.output_folder import claim_paths

    claim_paths({"-o": [Path(args.out)]}, args.force)
    workload = load_source(args.source)
    masks = save_masks(workload, args.out)
    for key, mask in masks.items():
        out.write(f"  {key}: shape {mask.shape}, {int(mask.sum()):,} of {mask.size:,} kept ({mask.mean():.1%})\n")
    out.write(f"wrote {len(masks)} masks of workload '{workload.name}' to {args.out} "
              "(apply each with torch.nn.utils.prune.custom_from_mask; see docs/import.md)\n")
    return 0


def register(subparsers) -> None:
    """Add the ``import`` and ``export-masks`` subcommands to an argparse subparsers object."""
    parser = subparsers.add_parser(
        "import",
        help="turn an ONNX model, a PyTorch file or an .npz/.safetensors weight file into a workload folder",
        description="Turn an ONNX model (Gemm/MatMul/Conv), a PyTorch file (.pt/.pth state dict, TorchScript or whole "
        "module; .pt2 torch.export program; needs pip install 'energysim[torch]') or an .npz/.safetensors weight file "
        "(arrays named <layer>.weight; see docs/import.md) into a workload folder: workload.toml + tensors.npz.",
    )
    parser.add_argument("model", help="model file: .onnx, .pt, .pth, .pt2, .npz or .safetensors")
    parser.add_argument("-o", "--out", required=True, help="output folder for workload.toml and tensors.npz")
    parser.add_argument("--input-size", nargs=2, type=int, metavar=("H", "W"),
                        help="input height and width in pixels (symbolic ONNX input sizes; first conv of a weight file "
                             "or state dict)")
    parser.add_argument("--input-shape", type=_input_shape, metavar="DIMS",
                        help="shape of the input a TorchScript file, a whole module or an --arch class is traced with "
                             "(on zeros, for layer shapes), e.g. 1,3,32,32; default with --calibration: that batch's "
                             "shape")
    parser.add_argument("--arch", metavar="ARCH",
                        help="for a state dict: a bundled workload name or workload .toml whose weight layers the "
                             "tensors fill in order (shapes must match), or FILE.py:CLASS / package.module:CLASS, the "
                             "nn.Module class it belongs to (imported, built with no arguments, traced on --input-shape)")
    parser.add_argument("--trust", action="store_true",
                        help="load a torch file that can run code from it: a whole module saved with torch.save(model) "
                             "(unpickled), a .pt2 program or a TorchScript module; use it only for files you trust "
                             "(state dicts need no trust)")
    parser.add_argument("--calibration", metavar="FILE.npz",
                        help="an .npz holding one array, a batch of real inputs: a torch model that runs (.pt2, "
                             "TorchScript, whole module, state dict with --arch CLASS) is run on it and each layer's "
                             "activation_density measured (what EIE and gating/skipping designs skip)")
    parser.add_argument("--name", help="workload name (default: the file stem)")
    parser.add_argument("--force", action="store_true", help="replace a workload already in the --out folder")
    parser.add_argument("--order", choices=("file", "natural"),
                        help="layer order of a weight file or state dict (default: file for .npz and .pt, natural for "
                             ".safetensors)")
    parser.set_defaults(handler=run_import)
    register_export_masks(subparsers)


def register_export_masks(subparsers) -> None:
    """Add the ``export-masks`` subcommand to an argparse subparsers object."""
    masks = subparsers.add_parser(
        "export-masks",
        help="write a pruned workload's masks as a torch state dict for torch.nn.utils.prune.custom_from_mask",
        description="Write the keep-mask of every weight layer of a workload (a pruned folder, a workload .toml or "
        "bundled name, or a model folder) as a torch state dict: <layer>.weight_mask -> float32 0/1 tensor in the "
        "layer's weight layout, for torch.nn.utils.prune.custom_from_mask (needs pip install 'energysim[torch]').",
    )
    masks.add_argument("source", help="pruned workload folder, workload .toml, bundled workload name or model folder")
    masks.add_argument("-o", "--out", required=True, help="mask file to write (.pt or .pth)")
    masks.add_argument("--force", action="store_true", help="replace an existing mask file")
    masks.set_defaults(handler=run_export_masks)
