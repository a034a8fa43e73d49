"""Write the bundled geometry-only workloads of the networks people ask about.

Writes into ``workloads/`` (run from the repository root)::

    python scripts/make_bundled_geometries.py            # all files
    python scripts/make_bundled_geometries.py --check    # exit 1 if a file differs from what it would write

Files (all batch 1; every weight layer, no pooling, batch norm or activation functions):

- ``resnet18.toml``, ``resnet50.toml``: He et al., CVPR 2016, as in torchvision
  (ResNet-50 v1.5: the stride of a bottleneck sits on its 3x3 convolution), 224x224 input;
- ``resnet50-2of4.toml``: ResNet-50 with every convolution and the classifier at weight
  density 0.5 (2:4 fine-grained structured sparsity, Mishra et al., "Accelerating Sparse
  Deep Neural Networks", arXiv:2104.08378, 2021) except ``conv1``, whose 3 input channels
  2:4 tooling leaves dense;
- ``mobilenetv2.toml``: Sandler et al., CVPR 2018 (width 1.0, 224x224): depthwise
  convolutions are ``grouped_conv2d`` with ``groups`` = channels;
- ``mobilenetv2-elsen2020.toml``: the 1x1 (pointwise expand/project) convolutions at weight
  density 0.2 (the 80 %-sparse MobileNetV2 of Elsen et al., "Fast Sparse ConvNets", CVPR 2020,
  which keeps the first full convolution and the depthwise convolutions dense); the final
  1x1 conv (320 -> 1280) is pointwise and pruned too; the classifier is kept dense here;
- ``bert-base-block.toml``: one BERT-base encoder block (Devlin et al., NAACL 2019: hidden 768,
  12 heads of 64, FFN 3072), one sequence of 384 tokens, with the attention score
  (``Q K^T``) and context (``P V``) matmuls as ``batched_matmul`` layers;
- ``gpt2-small-block.toml``: one GPT-2 small decoder block (Radford et al., 2019: hidden 768,
  12 heads, FFN 3072), a full 1024-token context, fused ``c_attn`` (768 -> 2304) as in the
  released model, the causal score and context matmuls computed in full (as dense kernels do).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from energysim.config.toml_writer import dumps_toml

OUT = Path(__file__).resolve().parent.parent / "workloads"
IMAGE_PIXELS = 224


def conv(name: str, cin: int, cout: int, size: int, kernel: int, stride: int = 1, groups: int = 1,
         density: float = 1.0) -> tuple[dict, int]:
    """One conv layer entry (``conv2d``, or ``grouped_conv2d`` when ``groups`` > 1) and its output size, pixels."""
    padding = kernel // 2
    entry = {"kind": "conv2d" if groups == 1 else "grouped_conv2d", "name": name}
    if groups > 1:
        entry["groups"] = groups
    entry.update(in_channels=cin, out_channels=cout, in_height=size, in_width=size, kernel_height=kernel,
                 kernel_width=kernel, stride=stride, padding=padding)
    if density < 1.0:
        entry["weight_density"] = density
    return entry, (size + 2 * padding - kernel) // stride + 1


def linear(name: str, cin: int, cout: int, batch: int = 1, density: float = 1.0) -> dict:
    """One linear layer entry."""
    entry = {"kind": "linear", "name": name, "in_features": cin, "out_features": cout, "batch": batch}
    if density < 1.0:
        entry["weight_density"] = density
    return entry


def resnet(blocks: list[int], bottleneck: bool, density: float = 1.0) -> list[dict]:
    """ResNet-18/34 (basic blocks) or -50/101 (bottlenecks) at 224x224; ``density`` on every layer but conv1."""
    layers = []
    entry, size = conv("conv1", 3, 64, IMAGE_PIXELS, 7, 2)
    layers.append(entry)
    size = (size + 2 - 3) // 2 + 1  # 3x3 max pool, stride 2, padding 1
    cin = 64
    for stage, (count, width) in enumerate(zip(blocks, (64, 128, 256, 512)), start=1):
        cout = width * 4 if bottleneck else width
        for block in range(count):
            stride = 2 if stage > 1 and block == 0 else 1
            prefix = f"layer{stage}.{block}"
            if bottleneck:
                a, _ = conv(f"{prefix}.conv1", cin, width, size, 1, 1, density=density)
                b, out = conv(f"{prefix}.conv2", width, width, size, 3, stride, density=density)
                c, _ = conv(f"{prefix}.conv3", width, cout, out, 1, 1, density=density)
                parts = [a, b, c]
            else:
                a, out = conv(f"{prefix}.conv1", cin, width, size, 3, stride, density=density)
                b, _ = conv(f"{prefix}.conv2", width, width, out, 3, 1, density=density)
                parts = [a, b]
            if stride != 1 or cin != cout:
                parts.append(conv(f"{prefix}.downsample", cin, cout, size, 1, stride, density=density)[0])
            layers.extend(parts)
            cin, size = cout, out
    layers.append(linear("fc", cin, 1000, density=density))
    return layers


MOBILENET_V2_BLOCKS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
                       (6, 320, 1, 1))
"""(expansion t, output channels c, repeats n, first stride s) of Sandler et al. 2018, Table 2."""


def mobilenet_v2(pointwise_density: float = 1.0) -> list[dict]:
    """MobileNetV2 1.0 at 224x224; ``pointwise_density`` on the 1x1 convolutions."""
    entry, size = conv("features.0", 3, 32, IMAGE_PIXELS, 3, 2)
    layers, cin, index = [entry], 32, 1
    for t, c, n, s in MOBILENET_V2_BLOCKS:
        for repeat in range(n):
            stride = s if repeat == 0 else 1
            hidden = cin * t
            prefix = f"features.{index}"
            if t != 1:
                layers.append(conv(f"{prefix}.expand", cin, hidden, size, 1, density=pointwise_density)[0])
            entry, out = conv(f"{prefix}.depthwise", hidden, hidden, size, 3, stride, groups=hidden)
            layers.append(entry)
            layers.append(conv(f"{prefix}.project", hidden, c, out, 1, density=pointwise_density)[0])
            cin, size, index = c, out, index + 1
    layers.append(conv(f"features.{index}", cin, 1280, size, 1, density=pointwise_density)[0])
    layers.append(linear("classifier", 1280, 1000))
    return layers


def transformer_block(tokens: int, hidden: int, heads: int, ffn: int, fused_qkv: bool) -> list[dict]:
    """One transformer block on one sequence of ``tokens``: projections, attention matmuls, FFN."""
    head = hidden // heads
    if fused_qkv:
        layers = [linear("attn.c_attn", hidden, 3 * hidden, tokens)]
    else:
        layers = [linear(f"attention.{x}", hidden, hidden, tokens) for x in ("query", "key", "value")]
    prefix = "attn" if fused_qkv else "attention"
    layers += [
        {"kind": "batched_matmul", "name": f"{prefix}.scores", "batch": heads, "m": tokens, "k": head, "n": tokens},
        {"kind": "batched_matmul", "name": f"{prefix}.context", "batch": heads, "m": tokens, "k": tokens, "n": head},
        linear(f"{prefix}.c_proj" if fused_qkv else "attention.output", hidden, hidden, tokens),
        linear("mlp.c_fc" if fused_qkv else "intermediate", hidden, ffn, tokens),
        linear("mlp.c_proj" if fused_qkv else "output", ffn, hidden, tokens),
    ]
    return layers


RESNET_SOURCE = "He et al., CVPR 2016, as torchvision builds it (v1.5: bottleneck stride on the 3x3 conv); 224x224 input, batch 1"
MOBILENET_SOURCE = "Sandler et al., CVPR 2018 (MobileNetV2 1.0, Table 2), as torchvision builds it; 224x224 input, batch 1"

FILES = {
    "resnet18": ("ResNet-18: conv1 + 8 basic blocks (16 conv3x3, 3 downsample conv1x1) + fc, dense, batch 1; "
                 "weight layers only (no pooling, batch norm or ReLU)", RESNET_SOURCE,
                 lambda: resnet([2, 2, 2, 2], bottleneck=False)),
    "resnet50": ("ResNet-50: conv1 + 16 bottlenecks (1x1, 3x3, 1x1; 4 downsample 1x1) + fc, dense, batch 1; "
                 "weight layers only", RESNET_SOURCE, lambda: resnet([3, 4, 6, 3], bottleneck=True)),
    "resnet50-2of4": ("ResNet-50 with 2:4 sparsity's weight density 0.5 in every conv and the fc except conv1 "
                      "(3 input channels, left dense); statistical masks (no tensors)",
                      RESNET_SOURCE + "; density: Mishra et al., Accelerating Sparse Deep Neural Networks, "
                      "arXiv:2104.08378, 2021", lambda: resnet([3, 4, 6, 3], bottleneck=True, density=0.5)),
    "mobilenetv2": ("MobileNetV2 1.0: 3x3 stem, 17 inverted residuals (1x1 expand, 3x3 depthwise as grouped_conv2d "
                    "with groups = channels, 1x1 project), 1x1 to 1280, classifier; dense, batch 1",
                    MOBILENET_SOURCE, mobilenet_v2),
    "mobilenetv2-elsen2020": ("MobileNetV2 1.0 with its 1x1 (pointwise) convolutions at weight density 0.2 "
                              "(80 % sparse); stem, depthwise convs and classifier dense; statistical masks",
                              MOBILENET_SOURCE + "; density: Elsen, Dukhan, Gale, Simonyan, Fast Sparse ConvNets, "
                              "CVPR 2020 (sparse 1x1 convolutions, first conv and depthwise dense)",
                              lambda: mobilenet_v2(pointwise_density=0.2)),
    "bert-base-block": ("One BERT-base encoder block on one 384-token sequence: query, key, value (768->768), "
                        "attention scores Q K^T and context P V (12 heads x 64, batched_matmul), attention "
                        "output (768->768), FFN 768->3072->768",
                        "Devlin et al., NAACL 2019 (BERT-base: hidden 768, 12 heads, FFN 3072); sequence 384 as in SQuAD",
                        lambda: transformer_block(384, 768, 12, 3072, fused_qkv=False)),
    "gpt2-small-block": ("One GPT-2 small decoder block on a full 1024-token context: c_attn (768->2304, fused QKV), "
                         "causal attention scores and context (12 heads x 64, batched_matmul, computed in full), "
                         "c_proj (768->768), MLP 768->3072->768",
                         "Radford et al., Language Models are Unsupervised Multitask Learners, 2019 (GPT-2 small: "
                         "hidden 768, 12 heads, context 1024)",
                         lambda: transformer_block(1024, 768, 12, 3072, fused_qkv=True)),
}
"""Bundled file name -> (description, source, layer builder)."""


def document(name: str) -> str:
    """The TOML text of one bundled geometry."""
    description, source, build = FILES[name]
    return dumps_toml({"schema_version": 1, "name": name, "description": description, "source": source,
                       "layers": build()})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help="folder to write into (default: workloads/)")
    parser.add_argument("--check", action="store_true", help="only compare: exit 1 if a file differs")
    args = parser.parse_args(argv)
    stale = []
    for name in FILES:
        path = args.out / f"{name}.toml"
        text = document(name)
        if args.check:
            if not path.is_file() or path.read_text() != text:
                stale.append(path.name)
        else:
            path.write_text(text)
    if stale:
        print(f"out of date (run scripts/make_bundled_geometries.py): {', '.join(stale)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
