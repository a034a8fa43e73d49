"""Regression-based channel selection and least-squares reconstruction (He et al. 2017; ThiNet).

For a layer whose output channels are pruned, look at the *next* weight layer
(the consumer): with calibration inputs ``X`` and weights ``W`` its output is
``Z = X W^T = sum_c Z_c`` with ``Z_c = X_c W_c^T`` the contribution of input
channel ``c``. The problem of He et al. is

    min_beta ||Z - sum_c beta_c Z_c||_F^2   subject to   ||beta||_0 <= N_c,

which is combinatorial; like He et al., channel selection replaces the L0
constraint by an L1 penalty, the LASSO

    min_beta 1/(2 rows) ||Z - sum_c beta_c Z_c||_F^2 + alpha ||beta||_1,

and follows its exact regularisation path (LARS with the LASSO modification,
``sklearn.linear_model.lars_path(..., method="lasso")``) from the alpha at
which every ``beta_c`` is 0 down to the least-squares fit. A channel's entry
point is the largest ``alpha`` at which its ``beta_c`` is non-zero: channels
that enter early explain the most of ``Z`` per unit of L1 norm. Keeping the
``N_c`` channels that enter first is therefore the support of the LASSO
solution at the largest ``alpha`` with ``N_c`` non-zero coefficients (exactly
so when no channel has left the active set before then; on the digits models
none does) -- the L1 relaxation, *not* in general the solution of the
``||beta||_0 <= N_c`` problem above.

Score and ties: channels are ordered by (entry alpha, then ``|beta_c|`` at the
end of the path, then ``||Z_c||_F``), all ascending = less important, and the
score is the position in that order (0 = least important; equal triples share
a score). The exact path gives every channel that enters its own entry point,
so ties remain only between channels that never enter; the two secondary keys
order those, and what is still tied after them is a set of channels with no
contribution at all on the calibration data (interchangeable), which the
selection's stable tie rule takes in index order.

Reconstruction then re-fits the consumer's weights on the kept channels by
least squares, ``min_W' ||Z_ref - X_kept W'^T||_F``, against the output
``Z_ref`` of the model before the pruning step. Layers are processed front to
back, each selection seeing the already re-fitted earlier layers. Selection
and reconstruction alternate across the steps of an ``iterative`` schedule
(each step: LASSO selection on the current weights, then least squares), as
in He et al.
"""

from __future__ import annotations

import numpy as np

from energysim.errors import InputError
from energysim.prune.criteria import ScoreContext
from energysim.prune.layers import Conv2d, im2col
from energysim.prune.models import Model

def consumer_design(model: Model, layer_name: str, x_calibration: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The consumer's input patches and the per-input-feature grouping of its weight columns.

    Returns
    -------
    patches : numpy.ndarray
        Consumer inputs as rows, shape (rows, consumer fan-in): im2col patches
        for a conv2d consumer (rows = samples * positions), the input vectors
        for a linear one (rows = samples).
    channel_of_column : numpy.ndarray
        For every column of ``patches`` (and of the consumer's weight matrix),
        the output channel of ``layer_name`` it belongs to.
    """
    dep = model.channel_dependency(layer_name)
    consumer = model.layer(dep.consumer)
    model.forward(x_calibration, record=True)
    inputs = model.recorded_inputs[dep.consumer]
    if isinstance(consumer, Conv2d):
        k = consumer.kernel_size
        patches = im2col(inputs, k, k, consumer.padding).reshape(-1, consumer.in_channels * k * k)
        channel_of_column = np.repeat(np.arange(consumer.in_channels), k * k)
    else:
        patches = inputs.reshape(len(inputs), -1)
        channel_of_column = np.arange(patches.shape[1]) // dep.features_per_channel
    return patches, channel_of_column


def regression_scores(weights: np.ndarray, context: ScoreContext) -> np.ndarray:
    """Rank of each output channel by its entry point on the exact LASSO path of the next layer's output.

    Channel granularity only; needs calibration data. See the module text for
    the optimisation problem and the order (entry alpha, then ``|beta_c|`` at
    the end of the path, then the contribution norm ``||Z_c||_F``).

    Returns
    -------
    numpy.ndarray
        Per output channel, its position in that order: 0 for the least
        important, up to (channels - 1); channels equal in all three keys
        share a position (only channels with no contribution at all).

    References
    ----------
    .. [1] Y. He, X. Zhang, J. Sun, "Channel Pruning for Accelerating Very Deep
       Neural Networks", ICCV 2017.
    .. [2] J.-H. Luo, J. Wu, W. Lin, "ThiNet: A Filter Level Pruning Method for
       Deep Neural Network Compression", ICCV 2017.
    .. [3] B. Efron, T. Hastie, I. Johnstone, R. Tibshirani, "Least Angle
       Regression", Annals of Statistics 32(2), 2004 (the LASSO path).
    """
    context.require_channels("regression")
    if context.x_calibration is None:
        raise InputError("criterion 'regression' needs calibration data (context.x_calibration is None)")
    model = context.model
    dep = model.channel_dependency(context.layer)
    patches, channel_of_column = consumer_design(model, context.layer, context.x_calibration)
    consumer_matrix = model.weights(dep.consumer).reshape(model.weights(dep.consumer).shape[0], -1)
    channels = int(channel_of_column.max()) + 1
    contributions = np.stack(
        [
            (patches[:, channel_of_column == c] @ consumer_matrix[:, channel_of_column == c].T).ravel()
            for c in range(channels)
        ],
        axis=1,
    )
    if not np.any(contributions):
        return np.zeros(channels)
    entry_alpha, final_beta = lasso_path_entry(contributions, contributions.sum(axis=1))
    norms = np.linalg.norm(contributions, axis=0)
    return lexicographic_rank(entry_alpha, np.abs(final_beta), norms)


def lasso_path_entry(design: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Entry points on the exact LASSO path and the coefficients at its end.

    Parameters
    ----------
    design
        Regressors as columns, shape (rows, features).
    target
        Response, shape (rows,).

    Returns
    -------
    entry_alpha : numpy.ndarray
        Per feature, the largest ``alpha`` (sklearn's scaling, per row) at
        which its coefficient is non-zero; 0 for features that never enter.
    final_beta : numpy.ndarray
        Coefficients at the end of the path (the smallest ``alpha`` reached).
    """
    from sklearn.linear_model import lars_path

    # Gram and X^T y precomputed: the same path, without LARS re-reading the tall design at every step.
    alphas, _, coefs = lars_path(design, target, Xy=design.T @ target, Gram=design.T @ design, method="lasso")
    nonzero = coefs != 0  # (features, breakpoints), alphas decreasing
    entered = nonzero.any(axis=1)
    first = np.where(entered, nonzero.argmax(axis=1), 0)
    return np.where(entered, alphas[first], 0.0), coefs[:, -1]


def lexicographic_rank(*keys: np.ndarray) -> np.ndarray:
    """Dense rank (0 = smallest) of the tuples ``(keys[0][i], keys[1][i], ...)``, first key primary.

    Equal tuples share a rank; the result is a float array.
    """
    order = np.lexsort(tuple(reversed(keys)))  # lexsort: last key primary
    stacked = np.stack(keys, axis=1)[order]
    new_value = np.ones(len(order), dtype=bool)
    new_value[1:] = np.any(stacked[1:] != stacked[:-1], axis=1)
    rank = np.empty(len(order))
    rank[order] = np.cumsum(new_value) - 1
    return rank


def reconstruct_consumer(
    model: Model, layer_name: str, x_calibration: np.ndarray, reference_outputs: np.ndarray, ridge: float = 1e-6
) -> float:
    """Least-squares re-fit of the consumer's weights on the kept channels, in place.

    Parameters
    ----------
    model
        The pruned model; the consumer of ``layer_name`` gets new weights on
        the input columns it still keeps (its mask is respected).
    layer_name
        The channel-pruned layer.
    x_calibration
        Calibration images.
    reference_outputs
        The consumer's output *without bias* in the model before pruning,
        shape (rows, consumer outputs) matching :func:`consumer_design` rows.
    ridge
        Relative Tikhonov regulariser (times the mean diagonal of X^T X).

    Returns
    -------
    float
        Relative residual ``||Z_ref - X W'^T|| / ||Z_ref||`` after the fit.
    """
    dep = model.channel_dependency(layer_name)
    patches, _ = consumer_design(model, layer_name, x_calibration)
    weight = model.weights(dep.consumer)
    matrix = weight.reshape(weight.shape[0], -1)
    mask = model.weight_mask(dep.consumer).reshape(matrix.shape)
    kept_columns = mask.any(axis=0)
    x_kept = patches[:, kept_columns]
    gram = x_kept.T @ x_kept
    gram += ridge * max(float(np.mean(np.diag(gram))), 1e-12) * np.eye(gram.shape[0])
    solution = np.linalg.solve(gram, x_kept.T @ reference_outputs).T  # (outputs, kept columns)
    new_matrix = np.zeros_like(matrix)
    new_matrix[:, kept_columns] = solution
    new_matrix *= mask
    weight[...] = new_matrix.reshape(weight.shape)
    residual = reference_outputs - patches @ new_matrix.T
    norm = float(np.linalg.norm(reference_outputs))
    return float(np.linalg.norm(residual)) / norm if norm else 0.0


def consumer_outputs(model: Model, layer_name: str, x_calibration: np.ndarray) -> np.ndarray:
    """The consumer's output without bias, as rows matching :func:`consumer_design`."""
    dep = model.channel_dependency(layer_name)
    patches, _ = consumer_design(model, layer_name, x_calibration)
    weight = model.weights(dep.consumer)
    return patches @ weight.reshape(weight.shape[0], -1).T
