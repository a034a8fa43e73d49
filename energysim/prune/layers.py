"""Numpy layers with forward and backward passes (the building blocks of the models).

Every layer holds its trainable arrays in ``params`` (name -> array) and, after
``backward``, their gradients in ``grads``. Convolution is im2col + matrix
product (one per group for a grouped or depthwise convolution); batch norm
normalises over (samples, height, width) per channel. A residual connection
is a :class:`Shortcut` (keeps its input, passes it on) and a later
:class:`AddShortcut` naming it (adds the kept tensor); the model links the pair.

Backward passes take ``square_per_sample``: when true, ``grads`` receives the
sum over samples of the *squared per-sample* gradients instead of the summed
gradient. That is what the diagonal Gauss-Newton (= diagonal Hessian for
piecewise-linear networks) needs for Optimal Brain Damage; it is only
supported in evaluation mode (batch norm with running statistics), where every
layer acts on each sample independently.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from energysim.errors import InputError

BATCHNORM_EPSILON = 1e-5
"""Added to the variance in batch norm before the square root."""


class Layer:
    """Base class: a named layer with parameters, buffers and a JSON spec."""

    kind = "layer"

    def __init__(self, name: str):
        self.name = name
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.buffers: dict[str, np.ndarray] = {}

    def spec(self) -> dict:
        """JSON-serialisable description (kind, name and shape arguments)."""
        return {"kind": self.kind, "name": self.name}

    def forward(self, x: np.ndarray, training: bool) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def backward(self, grad_out: np.ndarray, square_per_sample: bool = False) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError


class Linear(Layer):
    """Fully connected layer ``y = x W^T + b``, weight shape (out_features, in_features).

    Parameters
    ----------
    name
        Layer name, unique in its model (parameters are ``<name>.weight`` and ``<name>.bias``).
    in_features
        Input features per sample (count).
    out_features
        Output features (neurons) per sample (count).
    rng
        Generator for the He-normal initialisation (standard deviation
        ``sqrt(2 / in_features)``); default ``numpy.random.default_rng(0)``.
        The bias starts at 0.
    """

    kind = "linear"

    def __init__(self, name: str, in_features: int, out_features: int, rng: np.random.Generator | None = None):
        super().__init__(name)
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        rng = rng or np.random.default_rng(0)
        scale = np.sqrt(2.0 / self.in_features)
        self.params["weight"] = rng.normal(0.0, scale, (self.out_features, self.in_features))
        self.params["bias"] = np.zeros(self.out_features)

    def spec(self) -> dict:
        return {**super().spec(), "in_features": self.in_features, "out_features": self.out_features}

    def forward(self, x, training):
        self._x = x
        return x @ self.params["weight"].T + self.params["bias"]

    def backward(self, grad_out, square_per_sample=False):
        x = self._x
        if square_per_sample:
            self.grads["weight"] = (grad_out**2).T @ (x**2)
            self.grads["bias"] = (grad_out**2).sum(axis=0)
        else:
            self.grads["weight"] = grad_out.T @ x
            self.grads["bias"] = grad_out.sum(axis=0)
        return grad_out @ self.params["weight"]


def im2col(x: np.ndarray, kernel_height: int, kernel_width: int, padding: int) -> np.ndarray:
    """Unfold images into patches for a stride-1 convolution.

    Parameters
    ----------
    x
        Images, shape (samples, channels, height, width).
    kernel_height, kernel_width
        Kernel size in pixels.
    padding
        Zero padding on each side in pixels.

    Returns
    -------
    numpy.ndarray
        Patches of shape (samples, out_height * out_width, channels * kh * kw);
        the last axis is ordered (channel, kernel row, kernel column), the same
        order as a weight of shape (out, in, kh, kw) flattened to (out, in*kh*kw).
    """
    if padding:
        x = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    windows = sliding_window_view(x, (kernel_height, kernel_width), axis=(2, 3))
    samples, channels, out_h, out_w = windows.shape[:4]
    cols = windows.transpose(0, 2, 3, 1, 4, 5).reshape(samples, out_h * out_w, channels * kernel_height * kernel_width)
    return np.ascontiguousarray(cols)


def col2im(cols: np.ndarray, x_shape: tuple[int, ...], kernel_height: int, kernel_width: int, padding: int) -> np.ndarray:
    """Fold patch gradients back onto images (the adjoint of :func:`im2col`)."""
    samples, channels, height, width = x_shape
    out_h = height + 2 * padding - kernel_height + 1
    out_w = width + 2 * padding - kernel_width + 1
    patches = cols.reshape(samples, out_h, out_w, channels, kernel_height, kernel_width)
    padded = np.zeros((samples, channels, height + 2 * padding, width + 2 * padding))
    for row in range(kernel_height):
        for col in range(kernel_width):
            padded[:, :, row : row + out_h, col : col + out_w] += patches[:, :, :, :, row, col].transpose(0, 3, 1, 2)
    if padding:
        return padded[:, :, padding:-padding, padding:-padding]
    return padded


class Conv2d(Layer):
    """Stride-1 2-D convolution, weight shape (out_channels, in_channels / groups, kh, kw) as in PyTorch.

    Parameters
    ----------
    name
        Layer name, unique in its model (parameters are ``<name>.weight`` and, with a bias, ``<name>.bias``).
    in_channels
        Input channels (count).
    out_channels
        Output channels (count).
    kernel_size
        Square kernel side ``kh = kw``, in pixels.
    padding
        Zero padding on each side of height and width, in pixels (1 with a
        3x3 kernel keeps the image size).
    bias
        Whether the layer has a bias; False (the default) when batch norm follows.
    rng
        Generator for the He-normal initialisation (standard deviation
        ``sqrt(2 / (in_channels / groups * kernel_size**2))``); default
        ``numpy.random.default_rng(0)``.
    groups
        Groups: output channels ``g*O/groups ..`` see only input channels
        ``g*C/groups ..`` (count; both channel counts are multiples of it). A
        depthwise convolution has ``groups = in_channels = out_channels``.
    """

    kind = "conv2d"

    def __init__(
        self,
        name: str,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        padding: int = 1,
        bias: bool = False,
        rng: np.random.Generator | None = None,
        groups: int = 1,
    ):
        super().__init__(name)
        self.in_channels = int(in_channels)
        self.out_channels = int(out_channels)
        self.kernel_size = int(kernel_size)
        self.padding = int(padding)
        self.has_bias = bool(bias)
        self.groups = int(groups)
        if self.groups < 1 or self.in_channels % self.groups or self.out_channels % self.groups:
            raise InputError(
                f"layer {name!r}: in_channels {self.in_channels} and out_channels {self.out_channels} must be "
                f"multiples of groups (got groups {groups})"
            )
        rng = rng or np.random.default_rng(0)
        fan_in = self.in_channels // self.groups * self.kernel_size**2
        self.params["weight"] = rng.normal(
            0.0, np.sqrt(2.0 / fan_in),
            (self.out_channels, self.in_channels // self.groups, self.kernel_size, self.kernel_size),
        )
        if self.has_bias:
            self.params["bias"] = np.zeros(self.out_channels)

    def spec(self) -> dict:
        spec = {
            **super().spec(),
            "in_channels": self.in_channels,
            "out_channels": self.out_channels,
            "kernel_size": self.kernel_size,
            "padding": self.padding,
            "bias": self.has_bias,
        }
        if self.groups != 1:
            spec["groups"] = self.groups
        return spec

    def _grouped_weight(self) -> np.ndarray:
        """The weight as (groups, out / groups, in / groups * kh * kw)."""
        return self.params["weight"].reshape(self.groups, self.out_channels // self.groups, -1)

    def forward(self, x, training):
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise InputError(
                f"layer {self.name!r} expects inputs of shape (samples, {self.in_channels}, height, width) (got {x.shape})"
            )
        k = self.kernel_size
        cols = im2col(x, k, k, self.padding)
        self._x_shape = x.shape
        self._cols = cols
        if self.groups == 1:
            out = cols @ self.params["weight"].reshape(self.out_channels, -1).T
        else:
            grouped = cols.reshape(cols.shape[0], cols.shape[1], self.groups, -1)
            out = np.einsum("npgk,gok->npgo", grouped, self._grouped_weight()).reshape(cols.shape[0], cols.shape[1], -1)
        if self.has_bias:
            out = out + self.params["bias"]
        out_h = x.shape[2] + 2 * self.padding - k + 1
        out_w = x.shape[3] + 2 * self.padding - k + 1
        return out.reshape(x.shape[0], out_h, out_w, self.out_channels).transpose(0, 3, 1, 2)

    def backward(self, grad_out, square_per_sample=False):
        samples = grad_out.shape[0]
        grad_flat = grad_out.transpose(0, 2, 3, 1).reshape(samples, -1, self.out_channels)
        shape = self.params["weight"].shape
        if self.groups == 1:
            grads, pattern = grad_flat, "npo,npk->{}ok"
            cols = self._cols
        else:
            grads, pattern = grad_flat.reshape(samples, grad_flat.shape[1], self.groups, -1), "npgo,npgk->{}gok"
            cols = self._cols.reshape(samples, self._cols.shape[1], self.groups, -1)
        if square_per_sample:
            per_sample = np.einsum(pattern.format("n"), grads, cols)
            self.grads["weight"] = (per_sample**2).sum(axis=0).reshape(shape)
            if self.has_bias:
                self.grads["bias"] = (grad_flat.sum(axis=1) ** 2).sum(axis=0)
        else:
            self.grads["weight"] = np.einsum(pattern.format(""), grads, cols).reshape(shape)
            if self.has_bias:
                self.grads["bias"] = grad_flat.sum(axis=(0, 1))
        if self.groups == 1:
            grad_cols = grad_flat @ self.params["weight"].reshape(self.out_channels, -1)
        else:
            grad_cols = np.einsum("npgo,gok->npgk", grads, self._grouped_weight()).reshape(self._cols.shape)
        k = self.kernel_size
        return col2im(grad_cols, self._x_shape, k, k, self.padding)


class BatchNorm2d(Layer):
    """Batch norm over (samples, height, width) per channel, with scale ``gamma`` and shift ``beta``.

    Training mode normalises with batch statistics and updates running
    statistics with momentum 0.1; evaluation mode uses the running statistics.
    """

    kind = "batchnorm2d"
    momentum = 0.1

    def __init__(self, name: str, channels: int):
        super().__init__(name)
        self.channels = int(channels)
        self.params["gamma"] = np.ones(self.channels)
        self.params["beta"] = np.zeros(self.channels)
        self.buffers["running_mean"] = np.zeros(self.channels)
        self.buffers["running_var"] = np.ones(self.channels)

    def spec(self) -> dict:
        return {**super().spec(), "channels": self.channels}

    def forward(self, x, training):
        gamma = self.params["gamma"][None, :, None, None]
        beta = self.params["beta"][None, :, None, None]
        if training:
            mean = x.mean(axis=(0, 2, 3))
            var = x.var(axis=(0, 2, 3))
            m = self.momentum
            count = x.shape[0] * x.shape[2] * x.shape[3]
            unbiased = var * count / max(count - 1, 1)
            self.buffers["running_mean"] = (1 - m) * self.buffers["running_mean"] + m * mean
            self.buffers["running_var"] = (1 - m) * self.buffers["running_var"] + m * unbiased
        else:
            mean = self.buffers["running_mean"]
            var = self.buffers["running_var"]
        inv_std = 1.0 / np.sqrt(var + BATCHNORM_EPSILON)
        x_hat = (x - mean[None, :, None, None]) * inv_std[None, :, None, None]
        self._x_hat = x_hat
        self._inv_std = inv_std
        self._training = training
        return gamma * x_hat + beta

    def backward(self, grad_out, square_per_sample=False):
        x_hat = self._x_hat
        gamma = self.params["gamma"]
        if square_per_sample:
            if self._training:
                raise InputError(f"layer {self.name!r}: per-sample squared gradients need evaluation mode (got training mode)")
            self.grads["gamma"] = ((grad_out * x_hat).sum(axis=(2, 3)) ** 2).sum(axis=0)
            self.grads["beta"] = (grad_out.sum(axis=(2, 3)) ** 2).sum(axis=0)
        else:
            self.grads["gamma"] = (grad_out * x_hat).sum(axis=(0, 2, 3))
            self.grads["beta"] = grad_out.sum(axis=(0, 2, 3))
        scale = (gamma * self._inv_std)[None, :, None, None]
        if not self._training:
            return grad_out * scale
        mean_grad = grad_out.mean(axis=(0, 2, 3), keepdims=True)
        mean_grad_xhat = (grad_out * x_hat).mean(axis=(0, 2, 3), keepdims=True)
        return scale * (grad_out - mean_grad - x_hat * mean_grad_xhat)


class ReLU(Layer):
    """Rectified linear unit, ``max(x, 0)``; the gradient at exactly 0 is taken as 0."""

    kind = "relu"

    def forward(self, x, training):
        self._positive = x > 0
        return np.where(self._positive, x, 0.0)

    def backward(self, grad_out, square_per_sample=False):
        return np.where(self._positive, grad_out, 0.0)


class MaxPool2d(Layer):
    """Non-overlapping max pooling over ``size`` x ``size`` windows (height and width divisible by size).

    Among equal values in a window the first (row-major) one receives the gradient.
    """

    kind = "maxpool2d"

    def __init__(self, name: str, size: int = 2):
        super().__init__(name)
        self.size = int(size)

    def spec(self) -> dict:
        return {**super().spec(), "size": self.size}

    def forward(self, x, training):
        samples, channels, height, width = x.shape
        s = self.size
        if height % s or width % s:
            raise InputError(f"layer {self.name!r} needs height and width divisible by {s} (got {height}x{width})")
        windows = x.reshape(samples, channels, height // s, s, width // s, s).transpose(0, 1, 2, 4, 3, 5)
        windows = windows.reshape(samples, channels, height // s, width // s, s * s)
        winner = windows.argmax(axis=-1)
        self._winner = winner
        self._x_shape = x.shape
        return np.take_along_axis(windows, winner[..., None], axis=-1)[..., 0]

    def backward(self, grad_out, square_per_sample=False):
        samples, channels, height, width = self._x_shape
        s = self.size
        grad_windows = np.zeros((samples, channels, height // s, width // s, s * s))
        np.put_along_axis(grad_windows, self._winner[..., None], grad_out[..., None], axis=-1)
        grad = grad_windows.reshape(samples, channels, height // s, width // s, s, s).transpose(0, 1, 2, 4, 3, 5)
        return grad.reshape(samples, channels, height, width)


class Flatten(Layer):
    """Flatten (samples, *shape) to (samples, features) in C order (channel-major for images)."""

    kind = "flatten"

    def forward(self, x, training):
        self._x_shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, grad_out, square_per_sample=False):
        return grad_out.reshape(self._x_shape)


class Shortcut(Layer):
    """The start of a residual connection: passes its input on unchanged and keeps it for an :class:`AddShortcut`.

    Backward adds the gradient the matching :class:`AddShortcut` sent back along the skip path.
    """

    kind = "shortcut"

    def forward(self, x, training):
        self.kept = x
        return x

    def backward(self, grad_out, square_per_sample=False):
        return grad_out + self.skip_grad


class AddShortcut(Layer):
    """The end of a residual connection: adds the input kept by the :class:`Shortcut` named ``source``.

    Parameters
    ----------
    name
        Layer name.
    source
        Name of the earlier :class:`Shortcut` layer (the model links them; shapes must match).
    """

    kind = "add_shortcut"

    def __init__(self, name: str, source: str):
        super().__init__(name)
        self.source = str(source)
        self.shortcut: Shortcut | None = None

    def spec(self) -> dict:
        return {**super().spec(), "source": self.source}

    def forward(self, x, training):
        kept = self.shortcut.kept
        if kept.shape != x.shape:
            raise InputError(f"layer {self.name!r} adds shortcut {self.source!r} of shape {kept.shape[1:]} "
                             f"to an input of shape {x.shape[1:]}: they must match")
        return x + kept

    def backward(self, grad_out, square_per_sample=False):
        self.shortcut.skip_grad = grad_out
        return grad_out


LAYER_KINDS: dict[str, type[Layer]] = {
    "linear": Linear,
    "conv2d": Conv2d,
    "batchnorm2d": BatchNorm2d,
    "relu": ReLU,
    "maxpool2d": MaxPool2d,
    "flatten": Flatten,
    "shortcut": Shortcut,
    "add_shortcut": AddShortcut,
}
"""Layer kind (as written in a model's JSON spec) -> class."""


def layer_from_spec(spec: dict) -> Layer:
    """Build a layer from its JSON spec (parameters get a deterministic placeholder init)."""
    spec = dict(spec)
    kind = spec.pop("kind", None)
    if kind not in LAYER_KINDS:
        raise InputError(f"layer kind must be one of {sorted(LAYER_KINDS)} (got {kind!r})")
    try:
        return LAYER_KINDS[kind](**spec)
    except TypeError as exc:
        raise InputError(f"layer spec for kind {kind!r} has wrong arguments ({exc})") from None
