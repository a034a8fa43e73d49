"""Unique input words a tile of a lowered convolution needs (sliding-window reuse).

A conv layer runs as the GEMM ``C[M, N] = A[M, K] B[K, N]`` with ``K`` ordered
(channel, kernel row, kernel column) and ``N`` ordered (image, output row,
output column). The im2col operand ``B`` repeats each input pixel up to
``kh * kw`` times; a buffer that holds the input window instead moves each
pixel once. For a tile covering reduction rows ``[k0, k1)`` and output pixels
``[n0, n1)`` this module counts the input words of the window: channels touched
x input rows touched x input columns touched (a whole input row when the tile
spans several output rows), never more than the im2col count. Padding rows
are not counted beyond the real input height and width.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from energysim.workloads.layers import Conv2dLayer


@dataclass(frozen=True)
class ConvFootprint:
    """Window geometry of one conv layer (sizes in elements / pixels)."""

    kernel_area: int
    kernel_height: int
    kernel_width: int
    stride: int
    in_height: int
    in_width: int
    out_height: int
    out_width: int

    @classmethod
    def of(cls, layer: object) -> "ConvFootprint | None":
        """The footprint model of a conv layer whose kernel is larger than 1x1, else None."""
        if not isinstance(layer, Conv2dLayer) or layer.kernel_height * layer.kernel_width == 1 and layer.stride == 1:
            return None
        return cls(
            kernel_area=layer.kernel_height * layer.kernel_width,
            kernel_height=layer.kernel_height,
            kernel_width=layer.kernel_width,
            stride=layer.stride,
            in_height=layer.in_height,
            in_width=layer.in_width,
            out_height=layer.out_height,
            out_width=layer.out_width,
        )

    def _rows_in(self, out_rows: np.ndarray) -> np.ndarray:
        return np.minimum(self.in_height, (out_rows - 1) * self.stride + self.kernel_height)

    def channels(self, k0, k1) -> np.ndarray:
        """Input channels the reduction rows ``[k0, k1)`` touch (broadcasting arrays of ints)."""
        k0, k1 = np.asarray(k0, dtype=np.int64), np.asarray(k1, dtype=np.int64)
        return (k1 - 1) // self.kernel_area - k0 // self.kernel_area + 1

    def pixels(self, n0, n1) -> np.ndarray:
        """Input pixels per channel (rows x columns of the window) the output pixels ``[n0, n1)`` touch."""
        n0, n1 = np.asarray(n0, dtype=np.int64), np.asarray(n1, dtype=np.int64)
        first_row, last_row = n0 // self.out_width, (n1 - 1) // self.out_width
        first_image, last_image = first_row // self.out_height, last_row // self.out_height
        same_image = first_image == last_image
        rows_single = self._rows_in(last_row - first_row + 1)
        head = self._rows_in(self.out_height - first_row % self.out_height)
        tail = self._rows_in(last_row % self.out_height + 1)
        middle = np.maximum(last_image - first_image - 1, 0) * self.in_height
        rows_in = np.where(same_image, rows_single, head + tail + middle)
        one_row = first_row == last_row
        cols_in = np.where(
            one_row, np.minimum(self.in_width, (n1 - n0 - 1) * self.stride + self.kernel_width), self.in_width
        )
        return rows_in * cols_in

    @property
    def pixels_period(self) -> int:
        """Output pixels after which :meth:`pixels` repeats (one image): shifting ``n0, n1`` by it changes nothing."""
        return self.out_height * self.out_width

    def words(self, k0, k1, n0, n1) -> np.ndarray:
        """Input words of the tiles ``[k0, k1) x [n0, n1)`` (broadcasting arrays of ints)."""
        k0, k1, n0, n1 = (np.asarray(v, dtype=np.int64) for v in (k0, k1, n0, n1))
        window = self.channels(k0, k1) * self.pixels(n0, n1)
        return np.minimum(window, (k1 - k0) * (n1 - n0))
