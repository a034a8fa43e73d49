"""Per-layer sensitivity scan: accuracy when one layer alone is pruned, the others untouched.

For each weight layer and each sparsity, a copy of the model has only that
layer pruned (no fine-tuning) and is evaluated on the test set; the original
model is never modified, so every point starts from the same weights. The
lecture's pattern is a flat curve up to a layer's critical sparsity, then a
collapse; small layers (the first conv, the classifier) collapse first.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from energysim.atomic_files import write_atomic
from energysim.errors import InputError
from energysim.progress import progress_bar
from energysim.prune.data import Dataset
from energysim.prune.granularity import check_sparsity
from energysim.prune.models import Model
from energysim.prune.pruner import PruneRequest, prune_model, prunable_layers
from energysim.prune.training import single_threaded_blas

DEFAULT_SENSITIVITY_SPARSITIES = (0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
"""Sparsities of the default scan."""


def sensitivity_scan(
    model: Model,
    data: Dataset,
    granularity: str = "fine",
    criterion: str = "magnitude",
    sparsities: tuple[float, ...] = DEFAULT_SENSITIVITY_SPARSITIES,
    calibration_samples: int = 256,
    progress: bool | None = False,
) -> pd.DataFrame:
    """Test accuracy with one layer pruned at a time.

    Parameters
    ----------
    model
        A trained model (not modified).
    data
        Digits split.
    granularity, criterion
        How each layer is pruned (not ``fine_global`` or ``nm``: one layer at a
        chosen sparsity).
    sparsities
        Target sparsities, each in [0, 1).
    calibration_samples
        Training images for data-driven criteria.
    progress
        Progress bar on stderr (None: only on a terminal).

    Returns
    -------
    pandas.DataFrame
        Columns ``layer``, ``target_sparsity``, ``measured_sparsity`` (of that
        layer), ``accuracy`` (0..1), ``accuracy_dense``; one row per (layer, sparsity).
    """
    if granularity in ("fine_global", "nm"):
        raise InputError(f"sensitivity scans prune one layer at a chosen sparsity; granularity {granularity!r} cannot")
    sparsities = tuple(check_sparsity(s) for s in sparsities)
    if not sparsities:
        raise InputError("sensitivity scan needs at least one sparsity (got none)")
    dense = model.accuracy(data.x_test, data.y_test)
    calibration = data.calibration(calibration_samples)
    rows = []
    layers = prunable_layers(model, granularity)
    with single_threaded_blas(), progress_bar(len(layers) * len(sparsities), "sensitivity", progress, unit="point") as bar:
        for layer in layers:
            for sparsity in sparsities:
                trial = model.copy()
                request = PruneRequest(granularity, criterion, sparsity, layers=(layer,))
                prune_model(trial, request, data.x_train, data.y_train, calibration)
                rows.append(
                    {
                        "layer": layer,
                        "target_sparsity": sparsity,
                        "measured_sparsity": trial.sparsity(layer),
                        "accuracy": trial.accuracy(data.x_test, data.y_test),
                        "accuracy_dense": dense,
                    }
                )
                bar.update(1)
    return pd.DataFrame(rows)


def plot_sensitivity(table: pd.DataFrame, path: str | Path, title: str = "Per-layer pruning sensitivity") -> Path:
    """Plot accuracy against sparsity, one line per layer, to a PNG (matplotlib Agg backend).

    Parameters
    ----------
    table
        The output of :func:`sensitivity_scan`.
    path
        Output PNG path (written atomically).
    title
        Figure title.

    Returns
    -------
    pathlib.Path
        The written file.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    figure, axes = plt.subplots(figsize=(6, 4))
    try:
        for layer, rows in table.groupby("layer", sort=False):
            axes.plot(rows["target_sparsity"] * 100, rows["accuracy"] * 100, marker="o", label=layer)
        if len(table):
            axes.axhline(table["accuracy_dense"].iloc[0] * 100, color="grey", linestyle="--", label="dense")
        axes.set_xlabel("sparsity of the pruned layer (%)")
        axes.set_ylabel("test accuracy (%)")
        axes.set_title(title)
        axes.legend()
        axes.grid(True, alpha=0.3)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, lambda handle: figure.savefig(handle, format="png", dpi=100, bbox_inches="tight"))
    finally:
        plt.close(figure)
    return path
