"""Criteria: pure scoring functions ``(weights, context) -> scores``, one score per group.

Every criterion receives the layer's weight array and a :class:`ScoreContext`
(the model, the grouping chosen by the granularity, data) and returns one
score per group, higher = more important; the selection removes the lowest.
Criteria never modify the model's parameters or masks.

Which criterion fits which granularity is declared in
:data:`energysim.prune.registry.CRITERION_GRANULARITIES`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from energysim.errors import InputError
from energysim.prune.granularity import Grouping
from energysim.prune.models import Model


@dataclass
class ScoreContext:
    """Everything a criterion may look at besides the weights.

    Attributes
    ----------
    model
        The model being pruned (read only).
    layer
        Name of the layer whose weights are scored.
    grouping
        Group of every weight (from the granularity).
    granularity
        Granularity name.
    x_train, y_train
        Training data (OBD's Hessian).
    x_calibration
        Calibration images (APoZ, regression).
    seed
        Seed for the random criterion.
    cache
        Shared between calls of one pruning step (e.g. the Hessian diagonal).
    """

    model: Model
    layer: str
    grouping: Grouping
    granularity: str
    x_train: np.ndarray | None = None
    y_train: np.ndarray | None = None
    x_calibration: np.ndarray | None = None
    seed: int = 0
    cache: dict = field(default_factory=dict)

    def group_sum(self, values: np.ndarray) -> np.ndarray:
        """Sum a weight-shaped array over each group, shape (groups,)."""
        return np.bincount(self.grouping.group_index.ravel(), weights=np.ravel(values), minlength=self.grouping.groups)

    def require_channels(self, criterion: str) -> None:
        """Raise unless the grouping is one group per output channel."""
        if self.granularity != "channel":
            raise InputError(f"criterion {criterion!r} scores channels and needs granularity 'channel' (got {self.granularity!r})")


def magnitude(weights: np.ndarray, context: ScoreContext) -> np.ndarray:
    """Magnitude ``|w|`` of each single weight (element granularities: fine, fine_global, nm).

    Parameters
    ----------
    weights
        The layer's weights (any shape).
    context
        Its grouping must have one weight per group.

    Returns
    -------
    numpy.ndarray
        ``|w|`` per weight, flattened in C order.

    References
    ----------
    .. [1] S. Han, J. Pool, J. Tran, W. J. Dally, "Learning both Weights and
       Connections for Efficient Neural Networks", NeurIPS 2015.
    """
    if context.grouping.groups != np.size(weights):
        raise InputError(
            f"criterion 'magnitude' scores single weights; use 'l1' or 'l2' for granularity {context.granularity!r}"
        )
    return np.abs(np.asarray(weights, dtype=np.float64)).ravel()


def l1_norm(weights: np.ndarray, context: ScoreContext) -> np.ndarray:
    """L1 norm ``sum |w|`` of each group (vector, kernel, channel).

    Returns
    -------
    numpy.ndarray
        One norm per group.

    References
    ----------
    .. [1] H. Li, A. Kadav, I. Durdanovic, H. Samet, H. P. Graf, "Pruning
       Filters for Efficient ConvNets", ICLR 2017.
    """
    return context.group_sum(np.abs(weights))


def l2_norm(weights: np.ndarray, context: ScoreContext) -> np.ndarray:
    """L2 norm ``sqrt(sum w^2)`` of each group (vector, kernel, channel).

    Returns
    -------
    numpy.ndarray
        One norm per group.

    References
    ----------
    .. [1] H. Mao, S. Han, J. Pool, W. Li, X. Liu, Y. Wang, W. J. Dally,
       "Exploring the Granularity of Sparsity in Convolutional Neural
       Networks", CVPR Workshops 2017.
    .. [2] W. Wen, C. Wu, Y. Wang, Y. Chen, H. Li, "Learning Structured
       Sparsity in Deep Neural Networks", NeurIPS 2016.
    """
    return np.sqrt(context.group_sum(np.asarray(weights, dtype=np.float64) ** 2))


def network_slimming(weights: np.ndarray, context: ScoreContext) -> np.ndarray:
    """Magnitude ``|gamma|`` of the batch-norm scale of each output channel.

    Meant for a model trained (or fine-tuned) with an L1 penalty on the
    batch-norm scales (``TrainConfig.batchnorm_l1``), which drives unimportant
    channels' scales towards zero. Channel granularity only, and only for
    layers followed by batch norm.

    Returns
    -------
    numpy.ndarray
        ``|gamma_c|`` per output channel.

    References
    ----------
    .. [1] Z. Liu, J. Li, Z. Shen, G. Huang, S. Yan, C. Zhang, "Learning
       Efficient Convolutional Networks through Network Slimming", ICCV 2017.
    """
    context.require_channels("slimming")
    dep = context.model.channel_dependency(context.layer)
    if dep.batchnorm is None:
        raise InputError(f"criterion 'slimming' needs a batch norm after layer {context.layer!r} (there is none)")
    return np.abs(context.model.layer(dep.batchnorm).params["gamma"]).copy()


def optimal_brain_damage(weights: np.ndarray, context: ScoreContext) -> np.ndarray:
    """Saliency ``1/2 h_ii w_i^2`` summed over each group (any granularity).

    ``h_ii`` is the diagonal of the Hessian of the mean training cross-entropy
    (:func:`energysim.prune.hessian.diagonal_hessian`, computed once per
    pruning step on ``context.x_train`` and cached). The saliency estimates the
    loss increase, in nats, of setting the weight to zero at a minimum.

    For ``channel`` the group is the layer's weight row only: the bias, the
    batch-norm gamma/beta and the next layer's input weights that channel
    pruning removes too are not in the sum, so the score is a lower estimate
    of the channel's full saliency (a modelling simplification).

    Returns
    -------
    numpy.ndarray
        Summed saliency per group, nats.

    References
    ----------
    .. [1] Y. LeCun, J. S. Denker, S. A. Solla, "Optimal Brain Damage",
       NeurIPS 1989.
    """
    if context.x_train is None:
        raise InputError("criterion 'obd' needs training data (context.x_train is None)")
    if "hessian" not in context.cache:
        from energysim.prune.hessian import diagonal_hessian

        context.cache["hessian"] = diagonal_hessian(context.model, context.x_train, context.y_train)
    h = context.cache["hessian"][f"{context.layer}.weight"]
    return context.group_sum(0.5 * h * np.asarray(weights, dtype=np.float64) ** 2)


def apoz(weights: np.ndarray, context: ScoreContext) -> np.ndarray:
    """One minus the Average Percentage of Zeros of each channel's ReLU output on calibration data.

    APoZ_c is the fraction of zero activations of channel (or neuron) ``c``
    after the ReLU that follows the layer, over calibration samples and
    spatial positions; channels that are mostly zero (high APoZ) get low
    scores and go first. Channel granularity only.

    Returns
    -------
    numpy.ndarray
        ``1 - APoZ_c`` per output channel, in [0, 1].

    References
    ----------
    .. [1] H. Hu, R. Peng, Y.-W. Tai, C.-K. Tang, "Network Trimming: A
       Data-Driven Neuron Pruning Approach towards Efficient Deep
       Architectures", arXiv:1607.03250, 2016.
    """
    context.require_channels("apoz")
    if context.x_calibration is None:
        raise InputError("criterion 'apoz' needs calibration data (context.x_calibration is None)")
    dep = context.model.channel_dependency(context.layer)
    if dep.relu is None:
        raise InputError(f"criterion 'apoz' needs a ReLU after layer {context.layer!r} (there is none)")
    context.model.forward(context.x_calibration, record=True)
    activations = context.model.recorded_outputs[dep.relu]
    axes = tuple(i for i in range(activations.ndim) if i != 1)
    return 1.0 - np.mean(activations == 0, axis=axes)


def random_scores(weights: np.ndarray, context: ScoreContext) -> np.ndarray:
    """Uniform random scores per group from a generator seeded by ``context.seed`` and the layer name.

    The baseline every criterion must beat.

    Returns
    -------
    numpy.ndarray
        Scores in [0, 1), one per group.

    References
    ----------
    .. [1] D. Blalock, J. J. Gonzalez Ortiz, J. Frankle, J. Guttag, "What is
       the State of Neural Network Pruning?", MLSys 2020 (random pruning as
       the baseline).
    """
    layer_salt = sum(ord(ch) * (i + 1) for i, ch in enumerate(context.layer))
    rng = np.random.default_rng([int(context.seed), layer_salt])
    return rng.random(context.grouping.groups)
