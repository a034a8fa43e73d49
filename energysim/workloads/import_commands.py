"""The ``energysim import`` subcommand: ONNX models and weight files to workload folders.

``energysim import MODEL -o OUT_DIR [--input-size H W] [--name NAME] [--order file|natural]``
reads ``MODEL`` by its suffix (``.onnx``: :mod:`energysim.workloads.onnx_import`;
``.npz`` / ``.safetensors``: :mod:`energysim.workloads.npz_import`) and writes
``OUT_DIR/workload.toml`` and ``OUT_DIR/tensors.npz``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TextIO

from energysim.errors import InputError

WEIGHT_SUFFIXES = (".npz", ".safetensors")
"""Suffixes read by the weight-file naming scheme."""


def run_import(args: argparse.Namespace, out: TextIO) -> int:
    """Handler of ``energysim import``: import, then write a short summary to ``out``; return 0."""
    from energysim.output_folder import claim_paths

    model = Path(args.model)
    suffix = model.suffix.lower()
    claim_paths({"--out": [Path(args.out) / "workload.toml", Path(args.out) / "tensors.npz"]}, args.force)
    input_size = tuple(args.input_size) if args.input_size else None
    if suffix == ".onnx":
        if args.order is not None:
            raise InputError(f"--order applies to .npz and .safetensors weight files, not to ONNX models (got {args.order!r})")
        from energysim.workloads.onnx_import import import_onnx

        result = import_onnx(model, args.out, input_size=input_size, name=args.name)
    elif suffix in WEIGHT_SUFFIXES:
        from energysim.workloads.npz_import import import_weights

        result = import_weights(model, args.out, input_size=input_size, name=args.name, order=args.order)
    else:
        raise InputError(f"{model}: model file suffix must be .onnx, .npz or .safetensors (got {model.suffix or 'none'!r})")
    workload = result.workload
    out.write(f"imported {len(workload.layers)} weight layers from {model} as workload '{workload.name}'\n")
    for layer in workload.layers:
        shape = layer.gemm_shape()
        out.write(f"  {layer.name}: {layer.kind} weight {tuple(layer.weight_shape)}, GEMM m={shape.m} k={shape.k} n={shape.n}, {shape.macs:,} MACs\n")
    if result.skipped:
        names = [name for name, _ in result.skipped]
        shown = ", ".join(names[:6]) + (", ..." if len(names) > 6 else "")
        out.write(f"skipped {len(names)} nodes/arrays that are not weight layers: {shown}\n")
    out.write(f"wrote {result.path} and {result.path.parent / 'tensors.npz'}\n")
    return 0


def register(subparsers) -> None:
    """Add the ``import`` subcommand to an argparse subparsers object."""
    parser = subparsers.add_parser(
        "import",
        help="turn an ONNX model or an .npz/.safetensors weight file into a workload folder",
        description="Turn an ONNX model (Gemm/MatMul/Conv with constant weights) or an .npz/.safetensors weight file "
        "(arrays named <layer>.weight; see docs/import.md) into a workload folder: workload.toml + tensors.npz.",
    )
    parser.add_argument("model", help="model file: .onnx, .npz or .safetensors")
    parser.add_argument("-o", "--out", required=True, help="output folder for workload.toml and tensors.npz")
    parser.add_argument("--input-size", nargs=2, type=int, metavar=("H", "W"),
                        help="input height and width in pixels (symbolic ONNX input sizes; first conv of a weight file)")
    parser.add_argument("--name", help="workload name (default: the file stem)")
    parser.add_argument("--force", action="store_true", help="replace a workload already in the --out folder")
    parser.add_argument("--order", choices=("file", "natural"),
                        help="layer order of a weight file (default: file for .npz, natural for .safetensors)")
    parser.set_defaults(handler=run_import)
