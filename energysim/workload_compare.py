"""``compare --workload W``: prune the weights a workload carries, simulate every point on every hardware.

The grid is patterns x sparsities x data-free criteria
(:mod:`energysim.prune.workload_pruning`), plus the dense baseline; each point is
pruned (no fine-tuning: a workload brings no training data), simulated on every
hardware and compared with the dense workload on the same run. Rows carry the
run key (``workload``, ``hardware``, ``mode``, ``run``) like ``compare.csv`` of
the digits sweep (:mod:`energysim.sweep`), and two quality columns:

``accuracy``
    Only when an evaluation is given (a callable in Python; ``--eval-data`` at the
    CLI for a numpy model folder); NaN otherwise.
``weight_error``
    Always: ``||W - W_pruned||_F / ||W||_F`` over every layer with weights (a
    proxy for what pruning lost, not an accuracy).

Layers an engine refuses (e.g. a depthwise convolution on a one-GEMM engine)
are left out of both the dense and the pruned totals of that run and counted in
``layers_refused``; a point whose pruned layers are refused where the dense
ones ran (e.g. a mask that is not 2:4 on ``a100:sparse_2_4``) gets status
``unsupported: <reason>``; a point that would leave a layer without any weight
(e.g. channel pruning at 0.9 of a 4-filter layer) gets ``not pruned: <reason>``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Iterable

import pandas as pd

from energysim.engines.sparse_tc.notes import timing_note
from energysim.errors import InputError, UnsupportedError
from energysim.estimation import DENSE_REFUSED, HardwareChoice, load_hardware_list
from energysim.hardware_settings import with_setting_columns
from energysim.progress import progress_bar
from energysim.prune.workload_pruning import EmptyLayerError, Evaluation, pairs, prune_workload, weight_layers
from energysim.report.tables import with_energy_unit
from energysim.simulate import SimulationRun, run_workload
from energysim.sweep import parse_pattern, run_label
from energysim.workloads.workload import Workload

WORKLOAD_COMPARE_COLUMNS: tuple[str, ...] = (
    "workload", "hardware", "mode", "run", "pattern", "criterion", "sparsity_target", "sparsity_measured", "engine",
    "status", "accuracy", "weight_error", "layers_refused", "energy_pj", "energy_uj", "energy_unit", "latency_s",
    "cycles_total", "storage_bits", "energy_vs_dense", "latency_vs_dense", "storage_vs_dense", "note",
)
"""Columns of ``compare --workload``'s table (``compare.csv``); ratios are pruned / dense on the same run;
``energy_unit`` says what ``energy_pj`` / ``energy_uj`` hold (``pJ``, or ``MAC``: MAC-equivalents, x 1e-6 for uJ);
``note`` is the engine's word on how the run was timed (the A100's timing,
:func:`energysim.engines.sparse_tc.notes.timing_note`), empty for other engines, as in ``compare.csv``."""


def compare_workload(workload: Workload, hardware: Iterable[str | HardwareChoice], patterns: list[str],
                     sparsities: Iterable[float], criteria: list[str], evaluate: Evaluation | None = None,
                     seed: int = 0, progress: bool | None = None) -> pd.DataFrame:
    """Prune ``workload``'s weights at every grid point, simulate on every hardware, compare with dense.

    Parameters
    ----------
    workload
        A workload with weight tensors (imported model, ``from_torch``, an export).
    hardware
        Hardware choices or specs (``NAME[:MODE]``).
    patterns
        ``fine``, ``fine_global``, ``vector``, ``kernel``, ``channel``, ``nm:N:M``.
    sparsities
        Fractions removed, each in [0, 1) (``nm:N:M`` has its own).
    criteria
        Data-free criteria (``magnitude``, ``l1``, ``l2``, ``random``); pairs the
        registry does not declare are skipped.
    evaluate
        Optional: pruned workload -> accuracy (fraction); fills ``accuracy``.
    seed
        Seed of the ``random`` criterion.
    progress
        A bar on stderr (``None``: only on a terminal).

    Returns
    -------
    pandas.DataFrame
        :data:`WORKLOAD_COMPARE_COLUMNS`, one row per (point, hardware run), the dense
        baseline first (pattern ``dense``).
    """
    choices = [h if isinstance(h, HardwareChoice) else load_hardware_list([h])[0] for h in hardware]
    if not choices:
        raise InputError("compare --workload needs at least one hardware config")
    weight_layers(workload)
    sparsities = [float(s) for s in sparsities]
    for value in sparsities:
        if not 0 <= value < 1:
            raise InputError(f"sparsity must be in [0, 1) (got {value})")
    points = [("dense", "none", 0.0)]
    for pattern, criterion_name in pairs(patterns, criteria):
        granularity, (n, m) = parse_pattern(pattern)
        targets = [1 - n / m] if granularity == "nm" else sparsities
        points += [(pattern, criterion_name, target) for target in targets]
    labels = [run_label(choice) for choice in choices]
    runs = [label[2] for label in labels]
    if len(set(runs)) != len(runs):
        raise InputError(f"hardware names one run twice ({runs}); give each hardware and mode once")
    rows, dense_runs = [], {}
    with progress_bar(len(points) * len(choices), f"compare {workload.name}", progress, unit="simulation") as bar:
        for pattern, criterion_name, target in points:
            if pattern == "dense":
                pruned, sparsity, error = workload, _sparsity(workload), 0.0
            else:
                try:
                    outcome = prune_workload(workload, pattern, criterion_name, target, seed=seed)
                except EmptyLayerError as exc:
                    rows += [{"workload": workload.name, "hardware": name, "mode": mode, "run": run, "pattern": pattern,
                              "criterion": criterion_name, "sparsity_target": target, "status": f"not pruned: {exc}",
                              "engine": choice.hardware.engine_kind} for choice, (name, mode, run) in zip(choices, labels)]
                    bar.update(len(choices))
                    continue
                pruned, sparsity, error = outcome.workload, outcome.sparsity_measured, outcome.weight_error
            accuracy = evaluate(pruned) if evaluate is not None else math.nan
            for choice, (name, mode, run) in zip(choices, labels):
                row = {"workload": workload.name, "hardware": name, "mode": mode, "run": run, "pattern": pattern,
                       "criterion": criterion_name, "sparsity_target": target, "sparsity_measured": sparsity,
                       "engine": choice.hardware.engine_kind, "accuracy": accuracy, "weight_error": error}
                if run not in dense_runs:
                    dense_runs[run] = _simulate(workload, choice, "dense")
                dense = dense_runs[run]
                result = dense if pattern == "dense" else _simulate(pruned, choice, "pruned")
                if isinstance(result, SimulationRun):
                    row["note"] = timing_note(run, result.results).removeprefix("note: ").rstrip("\n")
                rows.append({**row, **_figures(dense, result)})
                bar.update(1)
    frame = pd.DataFrame(rows)
    for column in WORKLOAD_COMPARE_COLUMNS:
        if column not in frame:
            frame[column] = math.nan
    frame["note"] = frame["note"].fillna("")              # a refused or note-less row has no note: '', not NaN
    return with_setting_columns(with_energy_unit(frame[list(WORKLOAD_COMPARE_COLUMNS)], choices), choices)


def _sparsity(workload: Workload) -> float:
    tensors = [workload.layer_tensors(n) for n in weight_layers(workload)]
    total = sum(t.weights.size for t in tensors)
    return 1 - sum(int(t.keep_matrix().sum()) for t in tensors) / total


def _simulate(workload: Workload, choice: HardwareChoice, variant: str) -> SimulationRun | UnsupportedError:
    try:
        return run_workload(workload, choice.hardware, skip_refused=True, **choice.variant_options(variant))
    except UnsupportedError as exc:
        return exc


def _figures(dense: SimulationRun | UnsupportedError, pruned: SimulationRun | UnsupportedError) -> dict:
    """Status, totals over the layers both ran, and the ratios of a pruned run to its dense run."""
    if isinstance(pruned, UnsupportedError):
        return {"status": f"unsupported: {pruned}"}
    if isinstance(dense, UnsupportedError):
        return {"status": f"unsupported: {DENSE_REFUSED}{dense}"}
    extra = set(pruned.refused) - set(dense.refused)
    if extra:
        return {"status": f"unsupported: {pruned.refused[sorted(extra)[0]]}"}
    both = {r.layer for r in dense.results} & {r.layer for r in pruned.results}
    d, p = dense.only(both).totals(), pruned.only(both)
    totals = p.totals()
    storage = sum(int(r.stats["weight_storage_bits"]) for r in p.results)
    storage_dense = sum(int(r.stats["weight_storage_bits"]) for r in dense.only(both).results)
    return {
        "status": "ok", "layers_refused": len(dense.refused), "energy_pj": totals["energy_pj"],
        "energy_uj": totals["energy_uj"], "latency_s": totals["latency_s"], "cycles_total": totals["cycles_total"],
        "storage_bits": storage, "energy_vs_dense": totals["energy_pj"] / d["energy_pj"] if d["energy_pj"] else math.nan,
        "latency_vs_dense": totals["latency_s"] / d["latency_s"] if d["latency_s"] else math.nan,
        "storage_vs_dense": storage / storage_dense if storage_dense else math.nan,
    }


def write_compare(frame: pd.DataFrame, out: str | Path) -> Path:
    """Write the table as ``compare.csv`` into ``out`` (created); returns the file."""
    from energysim.report.files import write_table

    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    return write_table(frame, folder, "compare", "csv")
