"""Layer geometry: linear, conv2d and GEMM layers, each lowered to one GEMM.

Every layer is executed as ``C[M, N] = A[M, K] @ B[K, N]`` where ``A`` is the
weight operand (``weights``), ``B`` the input operand (``inputs``) and ``C`` the
output (``outputs``):

- linear: ``M = out_features``, ``K = in_features``, ``N = batch``;
- conv2d: ``M = out_channels``, ``K = in_channels * kernel_height * kernel_width``,
  ``N = batch * out_height * out_width`` (im2col by geometry only: nothing is
  materialised);
- gemm: ``M``, ``N``, ``K`` as given (``A`` is the stationary/weight operand).

Two kinds are not one GEMM and run only on the loop-nest engine: a grouped
(or depthwise) convolution, ``grouped_conv2d``, is ``groups`` independent
convolutions; a batched matmul, ``batched_matmul``, is ``batch`` GEMMs whose A
operand is an activation (attention's ``Q K^T`` and ``P V``). Every kind also
gives its loop nest (:meth:`loop_nest`, see :mod:`energysim.workloads.loop_nest`).
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from energysim.errors import UnsupportedError
from energysim.workloads.loop_nest import LoopNest


class GemmShape(BaseModel):
    """The GEMM a layer lowers to: ``C[m, n] = A[m, k] @ B[k, n]`` (sizes in elements)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    m: int = Field(gt=0, description="Rows of the weight operand and of the output.")
    n: int = Field(gt=0, description="Columns of the input operand and of the output.")
    k: int = Field(gt=0, description="Reduction length.")

    @property
    def macs(self) -> int:
        """Dense multiply-accumulates, ``m * n * k``."""
        return self.m * self.n * self.k


def covered_pixels(size: int, out: int, kernel: int, stride: int, dilation: int, padding: int) -> int:
    """Input pixels along one axis that some output's window touches (padding excluded).

    Window ``o`` covers padded positions ``o*stride + j*dilation`` for ``j < kernel``;
    real pixels are the padded positions ``padding .. padding+size-1``.
    """
    span = dilation * (kernel - 1) + 1
    if dilation == 1 and stride <= kernel:
        return max(0, min(padding + size, (out - 1) * stride + span) - padding)
    taps = np.unique((np.arange(out)[:, None] * stride + np.arange(kernel)[None, :] * dilation).ravel())
    return int(np.count_nonzero((taps >= padding) & (taps < padding + size)))


class _LayerBase(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, description="Layer name, unique in its workload.")
    weight_density: float = Field(
        default=1.0, gt=0.0, le=1.0,
        description="Fraction of non-zero weights when no real tensor is given (synthetic sparsity).",
    )
    activation_density: float = Field(
        default=1.0, gt=0.0, le=1.0,
        description="Fraction of non-zero input activations (measured on calibration data or assumed).",
    )
    output_density: float = Field(
        default=1.0, gt=0.0, le=1.0,
        description="Fraction of non-zero final outputs (after the layer's activation function); a sparse design that "
                    "writes outputs compressed stores only these. Partial sums are dense.",
    )
    weight_key: str | None = Field(default=None, description="Array name of the weights in the workload's tensors file.")
    mask_key: str | None = Field(default=None, description="Array name of the 0/1 keep-mask in the tensors file.")
    activations_key: str | None = Field(
        default=None, description="Array name of calibration input activations, shape (samples, *input shape)."
    )
    target_sparsity: float | None = Field(default=None, ge=0.0, le=1.0, description="Pruning target (fraction removed).")
    measured_sparsity: float | None = Field(default=None, ge=0.0, le=1.0, description="Measured fraction of zero weights.")


class LinearLayer(_LayerBase):
    """A fully connected layer ``y = W x`` with ``W`` of shape (out_features, in_features)."""

    kind: Literal["linear"] = "linear"
    in_features: int = Field(gt=0)
    out_features: int = Field(gt=0)
    batch: int = Field(default=1, gt=0, description="Input vectors per inference.")

    def unique_input_elements(self) -> int:
        """Distinct input elements the layer reads: the whole input operand, ``batch * in_features``."""
        return self.batch * self.in_features

    def gemm_shape(self) -> GemmShape:
        """Lower to GEMM: M = out_features, K = in_features, N = batch."""
        return GemmShape(m=self.out_features, n=self.batch, k=self.in_features)

    @property
    def weight_shape(self) -> tuple[int, ...]:
        """Shape of the weight tensor, (out_features, in_features)."""
        return (self.out_features, self.in_features)

    def loop_nest(self) -> LoopNest:
        """N = batch, K = out_features, C = in_features."""
        return LoopNest.of(self.name, N=self.batch, K=self.out_features, C=self.in_features)


class Conv2dLayer(_LayerBase):
    """A 2-D convolution with weights of shape (out_channels, in_channels, kh, kw)."""

    kind: Literal["conv2d"] = "conv2d"
    in_channels: int = Field(gt=0)
    out_channels: int = Field(gt=0)
    in_height: int = Field(gt=0, description="Input feature-map height in pixels.")
    in_width: int = Field(gt=0, description="Input feature-map width in pixels.")
    kernel_height: int = Field(gt=0)
    kernel_width: int = Field(gt=0)
    stride: int = Field(default=1, gt=0)
    padding: int = Field(default=0, ge=0, description="Zero padding on each side, pixels.")
    batch: int = Field(default=1, gt=0)

    @model_validator(mode="after")
    def _kernel_fits(self) -> "Conv2dLayer":
        if self.out_height < 1 or self.out_width < 1:
            raise ValueError(
                f"kernel {self.kernel_height}x{self.kernel_width} must fit the input {self.in_height}x{self.in_width} "
                f"padded by {self.padding} on each side (output would be {self.out_height}x{self.out_width})"
            )
        return self

    @property
    def out_height(self) -> int:
        """Output feature-map height in pixels."""
        return (self.in_height + 2 * self.padding - self.kernel_height) // self.stride + 1

    @property
    def out_width(self) -> int:
        """Output feature-map width in pixels."""
        return (self.in_width + 2 * self.padding - self.kernel_width) // self.stride + 1

    def unique_input_elements(self) -> int:
        """Distinct input elements some window reads (never more than the feature maps or im2col's ``K * N``)."""
        rows = covered_pixels(self.in_height, self.out_height, self.kernel_height, self.stride, 1, self.padding)
        cols = covered_pixels(self.in_width, self.out_width, self.kernel_width, self.stride, 1, self.padding)
        return self.batch * self.in_channels * rows * cols

    def gemm_shape(self) -> GemmShape:
        """Lower to GEMM: M = out_channels, K = C_in*kh*kw, N = batch*H_out*W_out."""
        return GemmShape(
            m=self.out_channels,
            n=self.batch * self.out_height * self.out_width,
            k=self.in_channels * self.kernel_height * self.kernel_width,
        )

    @property
    def weight_shape(self) -> tuple[int, ...]:
        """Shape of the weight tensor, (out_channels, in_channels, kh, kw)."""
        return (self.out_channels, self.in_channels, self.kernel_height, self.kernel_width)

    def loop_nest(self) -> LoopNest:
        """N = batch, K = out_channels, C = in_channels, P x Q = output map, R x S = kernel, both strides = stride."""
        return LoopNest.of(
            self.name, N=self.batch, K=self.out_channels, C=self.in_channels, P=self.out_height, Q=self.out_width,
            R=self.kernel_height, S=self.kernel_width, stride_h=self.stride, stride_w=self.stride,
        )


class GemmLayer(_LayerBase):
    """A plain GEMM ``C[m, n] = A[m, k] @ B[k, n]``; ``A`` plays the weight role."""

    kind: Literal["gemm"] = "gemm"
    m: int = Field(gt=0)
    n: int = Field(gt=0)
    k: int = Field(gt=0)

    def unique_input_elements(self) -> int:
        """Distinct input elements the layer reads: the whole B operand, ``k * n``."""
        return self.k * self.n

    def gemm_shape(self) -> GemmShape:
        """The GEMM itself."""
        return GemmShape(m=self.m, n=self.n, k=self.k)

    @property
    def weight_shape(self) -> tuple[int, ...]:
        """Shape of the A operand, (m, k)."""
        return (self.m, self.k)

    def loop_nest(self) -> LoopNest:
        """K = m (rows of A), C = k (reduction), N = n (columns of B)."""
        return LoopNest.of(self.name, N=self.n, K=self.m, C=self.k)


class GroupedConv2dLayer(_LayerBase):
    """A grouped 2-D convolution: ``groups`` independent convolutions side by side.

    Weights have shape (out_channels, in_channels / groups, kh, kw) as in PyTorch.
    A depthwise convolution has ``groups = in_channels = out_channels``. Not one
    GEMM: the loop-nest engine runs it as its G loop, the dense engine group after
    group, the A100 model as batched GEMMs; EIE refuses it.
    """

    kind: Literal["grouped_conv2d"] = "grouped_conv2d"
    groups: int = Field(gt=0, description="Groups; in_channels and out_channels are multiples of it.")
    in_channels: int = Field(gt=0)
    out_channels: int = Field(gt=0)
    in_height: int = Field(gt=0, description="Input feature-map height in pixels.")
    in_width: int = Field(gt=0, description="Input feature-map width in pixels.")
    kernel_height: int = Field(gt=0)
    kernel_width: int = Field(gt=0)
    stride: int = Field(default=1, gt=0)
    dilation: int = Field(default=1, gt=0, description="Spacing between kernel taps, pixels.")
    padding: int = Field(default=0, ge=0, description="Zero padding on each side, pixels.")
    batch: int = Field(default=1, gt=0)

    @model_validator(mode="after")
    def _check(self) -> "GroupedConv2dLayer":
        for name in ("in_channels", "out_channels"):
            if getattr(self, name) % self.groups:
                raise ValueError(f"{name} must be a multiple of groups {self.groups} (got {getattr(self, name)})")
        if self.out_height < 1 or self.out_width < 1:
            raise ValueError("the dilated kernel must fit the padded input (output would be empty)")
        return self

    def _extent(self, size: int, kernel: int) -> int:
        return (size + 2 * self.padding - self.dilation * (kernel - 1) - 1) // self.stride + 1

    @property
    def out_height(self) -> int:
        """Output feature-map height in pixels."""
        return self._extent(self.in_height, self.kernel_height)

    @property
    def out_width(self) -> int:
        """Output feature-map width in pixels."""
        return self._extent(self.in_width, self.kernel_width)

    def unique_input_elements(self) -> int:
        """Distinct input elements some (dilated) window reads."""
        rows = covered_pixels(self.in_height, self.out_height, self.kernel_height, self.stride, self.dilation, self.padding)
        cols = covered_pixels(self.in_width, self.out_width, self.kernel_width, self.stride, self.dilation, self.padding)
        return self.batch * self.in_channels * rows * cols

    def gemm_shape(self) -> GemmShape:
        """Refused: a grouped convolution is ``groups`` GEMMs, not one."""
        raise UnsupportedError(
            f"layer '{self.name}': a grouped_conv2d is {self.groups} separate GEMMs, not one"
        )

    @property
    def weight_shape(self) -> tuple[int, ...]:
        """Shape of the weight tensor, (out_channels, in_channels / groups, kh, kw)."""
        return (self.out_channels, self.in_channels // self.groups, self.kernel_height, self.kernel_width)

    def loop_nest(self) -> LoopNest:
        """G = groups, K and C per group, P x Q output map, R x S kernel, strides and dilations."""
        return LoopNest.of(
            self.name, N=self.batch, G=self.groups, K=self.out_channels // self.groups,
            C=self.in_channels // self.groups, P=self.out_height, Q=self.out_width, R=self.kernel_height,
            S=self.kernel_width, stride_h=self.stride, stride_w=self.stride, dilation_h=self.dilation,
            dilation_w=self.dilation,
        )


class BatchedMatmulLayer(_LayerBase):
    """``batch`` GEMMs ``C[b] = A[b] @ B[b]`` of two activations (attention's two matmuls).

    ``A`` (batch, m, k) plays the weight role in counts (tensor ``weights``) but is
    an activation: nothing of it is stored with the model. The loop-nest engine,
    the A100 model (dense mode) and the dense array (its ``batch`` GEMMs one after
    another) run it; EIE, whose weights are compressed ahead of time, refuses it.
    """

    kind: Literal["batched_matmul"] = "batched_matmul"
    batch: int = Field(gt=0, description="Independent matrix products (e.g. heads x sequences).")
    m: int = Field(gt=0)
    n: int = Field(gt=0)
    k: int = Field(gt=0)

    def unique_input_elements(self) -> int:
        """Distinct elements of the B operand, ``batch * k * n``."""
        return self.batch * self.k * self.n

    def gemm_shape(self) -> GemmShape:
        """Refused: a batched matmul is ``batch`` GEMMs, not one."""
        raise UnsupportedError(f"layer '{self.name}': a batched_matmul is {self.batch} separate GEMMs, not one")

    @property
    def weight_shape(self) -> tuple[int, ...]:
        """Shape of the A operand, (batch, m, k)."""
        return (self.batch, self.m, self.k)

    def loop_nest(self) -> LoopNest:
        """G = batch, K = m, C = k, N = n; A is an activation (``a_is_activation``)."""
        return LoopNest.of(self.name, G=self.batch, N=self.n, K=self.m, C=self.k, a_is_activation=True)


Layer = Annotated[
    Union[LinearLayer, Conv2dLayer, GemmLayer, GroupedConv2dLayer, BatchedMatmulLayer], Field(discriminator="kind")
]
"""Any layer geometry, discriminated by its ``kind`` field."""
