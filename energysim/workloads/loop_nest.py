"""A layer as its loop nest: seven dimensions plus groups, and the three tensors' projections.

Every layer kind is the nest

    for n < N, g < G, k < K, c < C, p < P, q < Q, r < R, s < S:
        outputs[n, g, k, p, q] += weights[g, k, c, r, s] * inputs[n, g, c, p*sh + r*dh, q*sw + s*dw]

with ``sh, sw`` the strides and ``dh, dw`` the dilations. Each tensor axis is a
sum of dimensions times coefficients (its projection); only the inputs' rows
and columns combine two dimensions (the sliding window). Inputs live in the
padded coordinate space: rows ``0 .. (P-1)*sh + (R-1)*dh``, as in Timeloop.
A linear layer is ``N=batch, K=out, C=in``; a GEMM ``C[m,n] = A[m,k] B[k,n]``
is ``K=m, C=k, N=n``; a batched matmul adds ``G=batch`` with A an activation.
"""

from __future__ import annotations

from dataclasses import dataclass

DIMS = ("N", "G", "K", "C", "P", "Q", "R", "S")
"""The loop dimensions: batch, groups, output channels, input channels, output rows and
columns, kernel rows and columns."""

TENSORS = ("weights", "inputs", "outputs")
"""The tensors of every nest (``weights`` is the A operand, an activation for batched matmuls)."""

Axis = tuple[tuple[str, int], ...]
"""One tensor axis: (dimension, coefficient) pairs whose weighted sum is the coordinate."""


@dataclass(frozen=True)
class LoopNest:
    """One layer as a loop nest.

    Attributes
    ----------
    name
        Layer name.
    bounds
        Extent of each of :data:`DIMS` (1 when the layer does not use it).
    stride_h, stride_w, dilation_h, dilation_w
        Window strides and kernel dilations, pixels.
    a_is_activation
        True when the ``weights`` tensor is an activation (batched matmul).
    """

    name: str
    bounds: dict[str, int]
    stride_h: int = 1
    stride_w: int = 1
    dilation_h: int = 1
    dilation_w: int = 1
    a_is_activation: bool = False

    @classmethod
    def of(cls, name: str, stride_h: int = 1, stride_w: int = 1, dilation_h: int = 1, dilation_w: int = 1,
           a_is_activation: bool = False, **bounds: int) -> "LoopNest":
        """A nest from the dimensions that are not 1 (``N=4, K=64, ...``)."""
        unknown = set(bounds) - set(DIMS)
        if unknown:
            raise ValueError(f"unknown loop dimensions {sorted(unknown)} (dimensions: {', '.join(DIMS)})")
        full = {dim: int(bounds.get(dim, 1)) for dim in DIMS}
        return cls(name, full, stride_h, stride_w, dilation_h, dilation_w, a_is_activation)

    @property
    def macs(self) -> int:
        """Multiply-accumulates: the product of all bounds."""
        total = 1
        for dim in DIMS:
            total *= self.bounds[dim]
        return total

    def axes(self, tensor: str) -> tuple[Axis, ...]:
        """The projection of a tensor: its axes, each a tuple of (dimension, coefficient)."""
        if tensor == "weights":
            return (("G", 1),), (("K", 1),), (("C", 1),), (("R", 1),), (("S", 1),)
        if tensor == "inputs":
            return ((("N", 1),), (("G", 1),), (("C", 1),),
                    (("P", self.stride_h), ("R", self.dilation_h)), (("Q", self.stride_w), ("S", self.dilation_w)))
        if tensor == "outputs":
            return (("N", 1),), (("G", 1),), (("K", 1),), (("P", 1),), (("Q", 1),)
        raise ValueError(f"unknown tensor {tensor!r} (tensors: {', '.join(TENSORS)})")

    def describe(self) -> str:
        """Compact text, e.g. ``K64 C3 P224 Q224 R3 S3 (stride 1)``."""
        parts = [f"{dim}{self.bounds[dim]}" for dim in DIMS if self.bounds[dim] > 1]
        extra = []
        if (self.stride_h, self.stride_w) != (1, 1):
            extra.append(f"stride {self.stride_h}x{self.stride_w}")
        if (self.dilation_h, self.dilation_w) != (1, 1):
            extra.append(f"dilation {self.dilation_h}x{self.dilation_w}")
        return " ".join(parts) + (f" ({', '.join(extra)})" if extra else "")
