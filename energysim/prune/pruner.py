"""One pruning step: score every layer with a criterion, select by granularity, set monotone masks.

Which layers a step touches
---------------------------
All weight layers (linear and conv2d) the granularity applies to: ``kernel``
only applies to conv2d layers, ``channel`` to every weight layer whose output
channels can go with their consumer's inputs (not the output layer, whose
channels are the classes, a grouped conv, or a layer whose channels reach a
residual shortcut), the others to every weight layer.
Layers a granularity does not apply to are left as they are; the per-layer and
total measured sparsities are reported next to the target.

Per-layer targets
-----------------
Each step also records the target of every weight layer in
``PruneReport.layer_target_sparsity`` and in
``model.metadata["layer_target_sparsity"]`` (which the export writes as each
layer's ``target_sparsity``): the requested sparsity for a layer the step
pruned, ``nm_prune_count / size`` for N:M (below ``1 - N/M`` when a short
tail group keeps ``min(N, L)``), None for ``fine_global`` (one count over all
layers, no per-layer target), and 0.0 for a layer no step has pruned (a layer
pruned by an earlier step keeps that step's target).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from energysim.errors import InputError
from energysim.prune.criteria import ScoreContext
from energysim.formats.nm_compliance import check_pattern
from energysim.prune.granularity import (
    DEFAULT_FC_BLOCK,
    check_block,
    check_rounding,
    check_sparsity,
    grouping,
    nm_prune_count,
    select_global,
    select_mask,
    select_nm,
)
from energysim.prune.layers import Conv2d
from energysim.prune.models import Model
from energysim.prune.registry import check_combination, criterion
from energysim.prune.regression import consumer_outputs, reconstruct_consumer
from energysim.prune.structure import channel_masks


@dataclass(frozen=True)
class PruneRequest:
    """What to prune and how.

    Attributes
    ----------
    granularity
        One of :data:`energysim.prune.granularity.GRANULARITIES`.
    criterion
        A key of :data:`energysim.prune.registry.CRITERIA`.
    sparsity
        Target fraction of groups removed per layer (of all weights for
        ``fine_global``), in [0, 1). Ignored for ``nm`` (it is 1 - N/M).
    nm
        (N, M) for the ``nm`` granularity.
    block
        Linear vector block length, weights.
    seed
        Seed of the random criterion.
    layers
        Restrict pruning to these layers (None: every layer the granularity applies to).
    rounding
        How ``sparsity x groups`` is rounded to a count: ``"exact"`` (default,
        halves up on the exact decimal) or ``"torch"`` (``torch.nn.utils.prune``'s
        ``round(amount * n)``, halves to even); see
        :func:`energysim.prune.granularity.prune_count`.
    """

    granularity: str
    criterion: str
    sparsity: float = 0.5
    nm: tuple[int, int] = (2, 4)
    block: int = DEFAULT_FC_BLOCK
    seed: int = 0
    layers: tuple[str, ...] | None = None
    rounding: str = "exact"

    def __post_init__(self):
        check_combination(self.criterion, self.granularity)
        check_sparsity(self.sparsity)
        check_rounding(self.rounding)
        if not isinstance(self.nm, (tuple, list)) or len(self.nm) != 2:
            raise InputError(f"nm must be a pair (N, M) (got {self.nm!r})")
        check_pattern(*self.nm)
        check_block(self.block)

    @property
    def target_sparsity(self) -> float:
        """The sparsity the request aims at (``1 - N/M`` for nm)."""
        if self.granularity == "nm":
            return 1.0 - self.nm[0] / self.nm[1]
        return self.sparsity


@dataclass
class PruneReport:
    """Target and measured sparsity of one step.

    Attributes
    ----------
    target_sparsity
        The requested fraction removed.
    layer_sparsity
        Layer name -> measured fraction of zero weights after the step.
    total_sparsity
        Measured fraction of zero weights over all weight layers.
    reconstruction_residual
        Regression criterion only: layer -> relative residual of the consumer re-fit.
    layer_target_sparsity
        Layer name -> target fraction of zero weights of that layer (see the
        module text; None where there is no per-layer target).
    """

    target_sparsity: float
    layer_sparsity: dict[str, float] = field(default_factory=dict)
    total_sparsity: float = 0.0
    reconstruction_residual: dict[str, float] = field(default_factory=dict)
    layer_target_sparsity: dict[str, float | None] = field(default_factory=dict)


LAYER_TARGETS_KEY = "layer_target_sparsity"
"""Key of ``Model.metadata`` holding the per-layer targets (layer -> fraction or None)."""


def layer_target(model: Model, name: str, request: PruneRequest) -> float | None:
    """The target fraction of zero weights of one layer pruned by ``request`` (see the module text)."""
    if request.granularity == "fine_global":
        return None
    if request.granularity == "nm":
        shape = model.weights(name).shape
        return nm_prune_count(shape, *request.nm) / int(np.prod(shape))
    return float(request.sparsity)


def prunable_layers(model: Model, granularity: str) -> list[str]:
    """The weight layers a granularity applies to (see the module text)."""
    names = model.weight_layers
    if granularity == "kernel":
        return [n for n in names if isinstance(model.layer(n), Conv2d)]
    if granularity == "channel":
        return [n for n in names if _has_channel_dependency(model, n)]
    return names


def _has_channel_dependency(model: Model, name: str) -> bool:
    """Whether removing an output channel of ``name`` is defined (not the output layer, a grouped conv, or
    a layer whose channels feed a residual addition)."""
    try:
        model.channel_dependency(name)
    except InputError:
        return False
    return True


def prune_model(
    model: Model,
    request: PruneRequest,
    x_train: np.ndarray | None = None,
    y_train: np.ndarray | None = None,
    x_calibration: np.ndarray | None = None,
) -> PruneReport:
    """Prune a model in place to the request's target (masks only shrink: monotone).

    Parameters
    ----------
    model
        The model; its masks and masked weights change.
    request
        Granularity, criterion, sparsity.
    x_train, y_train
        Training data (OBD).
    x_calibration
        Calibration images (APoZ, regression).

    Returns
    -------
    PruneReport
        Target and measured sparsities.
    """
    layers = prunable_layers(model, request.granularity)
    if request.layers is not None:
        unknown = [name for name in request.layers if name not in layers]
        if unknown:
            raise InputError(
                f"layers {unknown} cannot be pruned with granularity {request.granularity!r} (prunable: {layers})"
            )
        layers = [name for name in layers if name in request.layers]
    if not layers:
        raise InputError(f"granularity {request.granularity!r} applies to no layer of model {model.name!r}")
    score = criterion(request.criterion)
    cache: dict = {}
    report = PruneReport(target_sparsity=request.target_sparsity)

    def context(name: str, group_kind: str) -> ScoreContext:
        return ScoreContext(
            model=model,
            layer=name,
            grouping=grouping(model.weights(name).shape, group_kind, request.block),
            granularity=request.granularity,
            x_train=x_train,
            y_train=y_train,
            x_calibration=x_calibration,
            seed=request.seed,
            cache=cache,
        )

    if request.granularity == "fine_global":
        all_scores = [score(model.weights(n), context(n, "fine")).reshape(model.weights(n).shape) for n in layers]
        masks = select_global(all_scores, request.sparsity, [model.weight_mask(n) for n in layers], request.rounding)
        for name, mask in zip(layers, masks):
            model.set_mask(f"{name}.weight", mask)
    elif request.granularity == "nm":
        for name in layers:
            scores = score(model.weights(name), context(name, "fine")).reshape(model.weights(name).shape)
            model.set_mask(f"{name}.weight", select_nm(scores, *request.nm, keep_mask=model.weight_mask(name)))
    elif request.granularity == "channel":
        reference = model.copy() if request.criterion == "regression" else None
        if reference is not None and x_calibration is None:
            raise InputError("criterion 'regression' needs calibration data (x_calibration is None)")
        if request.criterion != "regression":
            # score every layer on the unpruned model first, then apply
            all_scores = {n: score(model.weights(n), context(n, "channel")) for n in layers}
        for name in layers:
            if request.criterion == "regression":
                channel_scores = score(model.weights(name), context(name, "channel"))
            else:
                channel_scores = all_scores[name]
            weights = model.weights(name)
            keep_rows = select_mask(
                channel_scores, (weights.shape[0], 1), "fine", request.sparsity,
                keep_mask=model.weight_mask(name).reshape(weights.shape[0], -1).any(axis=1)[:, None],
                rounding=request.rounding,
            )[:, 0]
            for param, mask in channel_masks(model, name, keep_rows).items():
                model.set_mask(param, mask)
            if reference is not None:
                target = consumer_outputs(reference, name, x_calibration)
                report.reconstruction_residual[name] = reconstruct_consumer(model, name, x_calibration, target)
    else:
        for name in layers:
            weights = model.weights(name)
            scores = score(weights, context(name, request.granularity))
            mask = select_mask(
                scores, weights.shape, request.granularity, request.sparsity, model.weight_mask(name), request.block,
                request.rounding,
            )
            model.set_mask(f"{name}.weight", mask)
    model.apply_masks()
    report.layer_sparsity = {n: model.sparsity(n) for n in model.weight_layers}
    report.total_sparsity = model.total_sparsity()
    previous = model.metadata.get(LAYER_TARGETS_KEY) or {}
    report.layer_target_sparsity = {
        n: layer_target(model, n, request) if n in layers else previous.get(n, 0.0) for n in model.weight_layers
    }
    model.metadata[LAYER_TARGETS_KEY] = dict(report.layer_target_sparsity)
    return report
