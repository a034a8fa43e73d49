"""Per-layer pruning choices and how an allocation of them is applied to a model.

A :class:`LayerOption` is one discrete choice for one weight layer: a pattern
(``fine``, ``channel`` or ``nm:N:M``) and a target sparsity (for N:M the
sparsity is 1 - N/M). An *allocation* maps layer names to options; layers it
does not name stay as they are. :func:`apply_allocation` prunes in a fixed
order (channel steps first, then fine, then N:M) with the criterion each
pattern is registered with (``l1`` for channels, ``magnitude`` otherwise), so
the same allocation always gives the same masks.
"""

from __future__ import annotations

from dataclasses import dataclass

from energysim.errors import InputError
from energysim.prune.granularity import check_sparsity
from energysim.prune.models import Model
from energysim.prune.pruner import PruneRequest, prunable_layers, prune_model

PATTERNS = ("fine", "channel", "nm:2:4")
"""Patterns the allocation can give a layer; which of them a hardware rewards is measured (see sensitivity)."""

PATTERN_LEVELS = {
    "fine": (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95),
    "channel": (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9),
    "nm:2:4": (0.5,),
}
"""Target sparsities offered per pattern (N:M has the one sparsity 1 - N/M)."""

PATTERN_CRITERION = {"fine": "magnitude", "channel": "l1", "nm": "magnitude"}
"""The criterion each granularity is pruned with."""

APPLY_ORDER = ("channel", "fine", "nm")
"""Granularities in the order an allocation applies them."""


@dataclass(frozen=True, order=True)
class LayerOption:
    """One pruning choice for one layer.

    Attributes
    ----------
    pattern
        ``fine``, ``channel`` or ``nm:N:M``.
    sparsity
        Target fraction of the layer's groups removed (weights for ``fine``,
        output channels for ``channel``, 1 - N/M for N:M).
    """

    pattern: str
    sparsity: float

    def __post_init__(self):
        granularity, nm = parse_option_pattern(self.pattern)
        check_sparsity(self.sparsity)
        if granularity == "nm" and abs(self.sparsity - (1 - nm[0] / nm[1])) > 1e-12:
            raise InputError(f"pattern {self.pattern!r} has sparsity {1 - nm[0] / nm[1]:g} (got {self.sparsity})")

    @property
    def label(self) -> str:
        """``fine@0.8``, ``channel@0.5``, ``nm:2:4``."""
        return self.pattern if self.pattern.startswith("nm:") else f"{self.pattern}@{self.sparsity:g}"


def parse_option_pattern(pattern: str) -> tuple[str, tuple[int, int]]:
    """Split ``nm:N:M`` into ('nm', (N, M)); ``fine`` and ``channel`` map to themselves with (2, 4)."""
    if pattern in ("fine", "channel"):
        return pattern, (2, 4)
    parts = pattern.split(":")
    if len(parts) == 3 and parts[0] == "nm" and parts[1].isdigit() and parts[2].isdigit() and 0 < int(parts[1]) < int(parts[2]):
        return "nm", (int(parts[1]), int(parts[2]))
    raise InputError(f"pattern must be 'fine', 'channel' or nm:N:M with 0 < N < M (got {pattern!r})")


def layer_options(model: Model, layer: str, patterns: tuple[str, ...]) -> list[LayerOption]:
    """Every option of ``patterns`` that applies to ``layer`` (no channel option for the output layer)."""
    options = []
    for pattern in patterns:
        granularity, _ = parse_option_pattern(pattern)
        if layer not in prunable_layers(model, granularity):
            continue
        options.extend(LayerOption(pattern, level) for level in PATTERN_LEVELS.get(pattern, (1 - _nm_keep(pattern),)))
    return options


def _nm_keep(pattern: str) -> float:
    _, (n, m) = parse_option_pattern(pattern)
    return n / m


def apply_allocation(model: Model, allocation: dict[str, LayerOption], x_calibration=None, seed: int = 0) -> None:
    """Prune ``model`` in place to an allocation (masks only shrink).

    Parameters
    ----------
    model
        The model; layers the allocation does not name are untouched (except
        that channel pruning of a layer also removes its consumer's inputs).
    allocation
        Layer name -> option.
    x_calibration
        Calibration images (unused by the criteria chosen here; passed on for completeness).
    seed
        Seed of the pruning requests.
    """
    unknown = sorted(set(allocation) - set(model.weight_layers))
    if unknown:
        raise InputError(f"allocation names layers {unknown} that model {model.name!r} lacks (layers: {model.weight_layers})")
    for stage in APPLY_ORDER:
        for name in model.weight_layers:
            option = allocation.get(name)
            if option is None:
                continue
            granularity, nm = parse_option_pattern(option.pattern)
            if granularity != stage:
                continue
            request = PruneRequest(granularity, PATTERN_CRITERION[granularity], option.sparsity if granularity != "nm" else 0.5,
                                   nm=nm, seed=seed, layers=(name,))
            prune_model(model, request, x_calibration=x_calibration)


def has_channels(allocation: dict[str, LayerOption]) -> bool:
    """Whether any layer of the allocation is channel-pruned (the export is then physically shrunk)."""
    return any(option.pattern == "channel" for option in allocation.values())
