"""The public Python API; each function mirrors a CLI command and returns data, not text.

Nothing here writes a file unless it is given an output folder. Long jobs take
``progress``: a bar on stderr (``None``: only when stderr is a terminal, ``True``:
always, e.g. in a notebook, ``False``: never).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import pandas as pd

from energysim import catalog
from energysim.config.loading import load_toml
from energysim.costs.export import operation_table
from energysim.costs.registry import resolve_table
from energysim.costs.table import CostTable
from energysim.engines import build_engine
from energysim.errors import ConfigError, InputError
from energysim.estimation import HardwareChoice
from energysim.hardware.hierarchy import Hardware, load_hardware
from energysim.hardware_settings import with_setting_columns
from energysim.simulate import SimulationRun, run_workload
from energysim.workloads.workload import Workload, load_workload


def hardware(name_or_path: str | Path) -> Hardware:
    """Load a hardware config by bundled name or path (its engine table validated too)."""
    hw = load_hardware(catalog.hwconfig_path(str(name_or_path)))
    build_engine(hw)
    return hw


def workload(name_or_path: str | Path) -> Workload:
    """Load a workload by bundled name, TOML path, a folder energysim wrote (``prune --out``, ``import -o``;
    :data:`energysim.catalog.WORKLOAD_IN_FOLDER`) or a numpy model folder (``train --out``, exported on 64
    calibration images of the digits), as ``estimate`` and ``compare --workload`` take it."""
    from energysim.estimation import load_source

    return load_source(name_or_path)


def simulate(hw: str | Path | Hardware, wl: str | Path | Workload, progress: bool | None = None,
             **engine_options: Any) -> SimulationRun:
    """Simulate a workload on a hardware config; see :class:`energysim.simulate.SimulationRun`.

    ``hw`` may be ``NAME:MODE`` (``a100:sparse_2_4``) or a choice of :func:`hardware_variants`
    (its set values become columns of ``summary`` and ``energy``); ``progress`` ticks once per layer;
    ``engine_options`` go to the engine (e.g. ``mode="sparse_2_4"``, ``path="cycle"``).
    """
    if isinstance(hw, HardwareChoice):  # e.g. from hardware_variants: its --set values become columns
        run = run_workload(wl if isinstance(wl, Workload) else workload(wl), hw.hardware, progress=progress,
                           **{**hw.options, **engine_options})
        run.summary, run.energy = (with_setting_columns(frame, [hw]) for frame in (run.summary, run.energy))
        return run
    if isinstance(hw, Hardware):
        hw_obj, options = hw, {}
    elif Path(hw).is_file():  # a path is never split at ':'
        hw_obj, options = hardware(hw), {}
    else:
        path, options = catalog.hardware_spec(str(hw))
        hw_obj = hardware(path)
    wl_obj = wl if isinstance(wl, Workload) else workload(wl)
    return run_workload(wl_obj, hw_obj, progress=progress, **{**options, **engine_options})


def cost_table(name_or_path: str = "lecture-45nm", bits: int | None = None) -> pd.DataFrame:
    """A cost table shaped like the lecture's: Operation, Energy [pJ], Relative Cost, Source."""
    if bits is not None and (isinstance(bits, bool) or not isinstance(bits, int)):
        raise InputError(f"cost_table: bits must be a whole number of bits (got {bits!r})")
    return operation_table(resolve_table(name_or_path), bits)


def layer_cost_table(workloads: list[str], hardware_names: list[str]) -> pd.DataFrame:
    """Energy per inference per layer for each workload (e.g. pruning patterns) on each hardware.

    ``hardware_names`` take ``NAME:MODE``. Columns: workload, hardware, mode, run, layer, engine,
    macs (the MACs the engine executed: a sparse engine counts only non-zero work), dense_macs (the layer's
    dense MACs, the same for every engine), energy_pj, energy_uj, latency_s, pj_per_dense_mac (energy / dense_macs:
    one denominator per layer, so engines compare on it), pj_per_mac (energy / executed MACs), energy_unit (``MAC``:
    the energies and per-MAC figures hold MAC-equivalents); one block of rows per (workload, run).
    """
    frames = []
    workloads = _listed(workloads, "layer_cost_table: workloads", (str, Path))
    hardware_names = _listed(hardware_names, "layer_cost_table: hardware_names", (str, Path))
    for name in workloads:
        wl = workload(name)
        for hw_name in hardware_names:
            run = simulate(hw_name, wl, progress=False)
            frame = run.summary[["workload", "hardware", "mode", "run", "layer", "engine", "macs", "energy_pj", "energy_uj",
                                 "latency_s"]].copy()
            dense = {layer.name: layer.loop_nest().macs for layer in wl.layers}
            frame.insert(frame.columns.get_loc("macs") + 1, "dense_macs", frame["layer"].map(dense).astype("int64"))
            frame["pj_per_dense_mac"] = frame["energy_pj"] / frame["dense_macs"]
            frame["pj_per_mac"] = frame["energy_pj"] / frame["macs"].where(frame["macs"] > 0)
            frame["energy_unit"] = run.energy_unit
            frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def hardware_variants(spec: str, settings: dict[str, list[Any]] | list[str]) -> list[HardwareChoice]:
    """One hardware choice per combination of set values, e.g. ``hardware_variants("eie-64pe-lecture", {"engine.n_pe": [8, 16]})``.

    Mirrors ``--set KEY=V1,V2`` (``settings`` may also be such strings). Each variant is
    validated like a file and named ``NAME[key=value]``; pass the list as ``hardware_names``
    of :func:`estimate` / :func:`compare` or one item to :func:`simulate`: the values become columns.
    """
    from energysim.hardware_settings import hardware_variants as variants

    return variants(spec, settings)


def _listed(value: Any, argument: str, kinds: tuple[type, ...]) -> list | None:
    """``value`` as a list: one item (a name, a number, ...) becomes a list of it; None stays None.

    Any iterable that is not a string (list, tuple, range, numpy array, generator) gives its items;
    numpy numbers become Python numbers where ``kinds`` holds ``float``.

    Raises
    ------
    InputError
        If ``value`` is neither one of ``kinds`` nor a list or tuple of them (naming the argument).
    """
    if value is None:
        return None
    numbers = float in kinds
    if numbers and isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    if numbers and isinstance(value, np.number):
        value = value.item()
    if isinstance(value, kinds) and not isinstance(value, bool):
        return [value]
    items = None if isinstance(value, (str, bytes, dict)) or not isinstance(value, Iterable) else list(value)
    if items is not None and numbers:
        items = [item.item() if isinstance(item, np.number) else item for item in items]
    if items is None or any(isinstance(item, bool) or not isinstance(item, kinds) for item in items):
        names = " or ".join(kind.__name__ for kind in kinds)
        raise InputError(f"{argument}: must be a {names} or a list of them (got {value!r})")
    return items


def _loaded(value: str | Path | Workload) -> Workload:
    """A Workload in memory (e.g. from energysim.from_torch) as it is; else loaded by name, path or folder."""
    from energysim.estimation import load_source

    return value if isinstance(value, Workload) else load_source(value)


def estimate_details(source: str | Path | Workload, hardware_names: list[str | HardwareChoice],
                     dense: str | Path | Workload | None = None, progress: bool | None = None,
                     densities: list[float] | None = None):
    """Dense original vs pruned on each hardware: the :class:`energysim.estimation.Estimate` with every run.

    ``densities`` (``estimate --density``): a geometry-only ``source`` at each statistical
    weight density (:func:`energysim.estimation.estimate_densities`).
    """
    from energysim.estimation import estimate as run_estimate, estimate_densities, load_hardware_list

    hardware_names = _listed(hardware_names, "estimate: hardware_names", (str, Path, HardwareChoice))
    densities = _listed(densities, "estimate: densities", (float, int))
    choices = [h if isinstance(h, HardwareChoice) else load_hardware_list([str(h)])[0] for h in hardware_names]
    original = _loaded(dense) if dense is not None else None
    if densities is not None:
        return estimate_densities(_loaded(source), choices, tuple(densities), original, progress=progress)
    return run_estimate(_loaded(source), choices, original, progress=progress)


def estimate(source: str | Path | Workload, hardware_names: list[str | HardwareChoice],
             dense: str | Path | Workload | None = None, progress: bool | None = None,
             densities: list[float] | None = None) -> pd.DataFrame:
    """Dense original vs pruned, per layer and in total (``TOTAL`` rows), one block per run.

    ``source`` and ``dense`` are names, paths or folders, or workloads in memory
    (``estimate(energysim.from_torch(model, x), ["a100"])``); ``densities=[0.5, 0.1]``
    estimates a geometry-only source at those statistical weight densities.
    Mirrors ``energysim estimate``; ``hardware_names`` take ``NAME:MODE``; ratios are
    fractions of dense (``energy_vs_dense`` = pruned / dense). Columns are described in
    :class:`energysim.estimation.Estimate`.
    """
    return estimate_details(source, hardware_names, dense, progress, densities).layers


def hardware_costs(name_or_path: str | Path) -> pd.DataFrame:
    """Per-access cost of every memory level and unit of a hardware config (``energysim costs --hw``).

    ``energy_unit`` says what ``energy_pj`` holds: ``pJ``, or ``MAC`` (MAC-equivalents) for a file
    whose costs are normalised to one MAC.
    """
    loaded = hardware(name_or_path)
    return pd.DataFrame(loaded.cost_rows()).assign(energy_unit=loaded.energy_unit)


def compare(model: str = "mlp", patterns: list[str] | None = None, sparsities: list[float] | None = None,
            criteria: list[str] | None = None, hardware_names: list[str | HardwareChoice] | None = None, out_dir: str | Path | None = None,
            finetune_epochs: int = 2, jobs: int | None = None, scheduler: str | None = None,
            progress: bool | None = None, energy_budgets: list[float] | None = None,
            workload: str | Path | Workload | None = None, evaluate: Callable[[Workload], float] | None = None,
            ) -> pd.DataFrame:
    """Run (or resume) a pattern comparison sweep; returns the tidy compare table (see :mod:`energysim.sweep`).

    ``out_dir`` keeps the journal, model cache and ``compare.csv`` (and lets a later call
    resume); without it the sweep runs in a temporary folder that is removed afterwards.
    ``energy_budgets`` (``compare --energy-aware``) adds one energy-aware pruning per
    hardware and budget (pattern ``energy_aware``).

    ``workload`` (``compare --workload``): prune that workload's own weights with the
    data-free criteria instead of a digits model, no fine-tuning
    (:func:`energysim.workload_compare.compare_workload`; ``model``, ``finetune_epochs``,
    ``jobs``, ``scheduler`` and ``energy_budgets`` do not apply). ``evaluate(pruned_workload)
    -> accuracy`` fills the ``accuracy`` column; without it ``weight_error`` (the
    weight-reconstruction error) is the only quality measure. ``out_dir`` gets ``compare.csv``.
    """
    from energysim.sweep import grid, run_sweep

    patterns = _listed(patterns, "compare: patterns", (str,))
    sparsities = _listed(sparsities, "compare: sparsities", (float, int))
    criteria = _listed(criteria, "compare: criteria", (str,))
    hardware_names = _listed(hardware_names, "compare: hardware_names", (str, HardwareChoice))
    energy_budgets = _listed(energy_budgets, "compare: energy_budgets", (float, int))
    if workload is not None:
        from energysim.workload_compare import compare_workload, write_compare

        frame = compare_workload(_loaded(workload), hardware_names or ["lecture-array", "eie-64pe-lecture", "a100",
                                                                       "a100:sparse_2_4"],
                                 patterns or ["fine", "nm:2:4", "vector", "kernel", "channel"],
                                 sparsities or [0.5, 0.75, 0.9], criteria or ["magnitude", "l1"], evaluate=evaluate,
                                 progress=progress)
        if out_dir is not None:
            write_compare(frame, out_dir)
        return frame
    if evaluate is not None:
        raise InputError("compare: evaluate= needs workload= (the digits models are evaluated on the digits test split)")

    points = grid(model, patterns or ["fine", "nm:2:4", "vector", "kernel", "channel"], sparsities or [0.5, 0.75, 0.9],
                  criteria or ["magnitude", "l1"], finetune_epochs=finetune_epochs)
    specs = hardware_names or ["lecture-array", "eie-64pe-lecture", "a100", "a100:sparse_2_4"]
    budgets = energy_budgets or ()
    if out_dir is not None:
        return run_sweep(points, specs, out_dir, jobs=jobs, scheduler=scheduler, progress=progress, energy_budgets=budgets)
    with tempfile.TemporaryDirectory(prefix="energysim-compare-") as tmp:
        return run_sweep(points, specs, tmp, jobs=jobs, scheduler=scheduler, progress=progress, energy_budgets=budgets)


def prune_for_energy(model, hardware: str, energy_budget: float, latency_budget: float | None = None, **options: Any):
    """Prune a model to a fraction of its simulated energy on one hardware (``energysim prune --energy-budget``).

    ``model`` is a trained model, a model folder, or ``"mlp"`` / ``"cnn"``; ``hardware`` takes
    ``NAME:MODE``; budgets are fractions of dense. Returns an
    :class:`energysim.energy_aware.EnergyAwareResult`; ``options`` are those of
    :func:`energysim.energy_aware.job.prune_for_energy` (``patterns``, ``method``, ``out_dir``, ``seed``, ...).
    """
    from energysim.energy_aware.job import prune_for_energy as run_job

    return run_job(model, hardware, energy_budget, latency_budget, **options)


def validate_file(name_or_path: str | Path) -> str:
    """Validate a hardware, workload, cost-table or mapping file; return a one-line description.

    The kind is told by the file's tables: ``[engine]`` (hardware), ``[[layers]]``
    (workload), ``[[entries]]`` (cost table) or ``[[mappings]]`` (a loop-nest mapping,
    checked on its own rules only: whether its levels and factors fit a hardware and a
    layer is checked by ``run --mapping``).

    Raises
    ------
    ConfigError
        With one line per problem.
    """
    path = Path(name_or_path)
    if path.is_dir() and (path / "workload.toml").is_file():
        path = path / "workload.toml"
    data = load_toml(path)  # read once: it tells the kind, and the loader validates this same data
    if "engine" in data:
        hw = load_hardware(path, data)
        build_engine(hw)
        return f"{path}: hardware '{hw.name}' ({hw.engine_kind} engine, {len(hw.levels)} memory levels)"
    if "layers" in data:
        wl = load_workload(path, data)
        return f"{path}: workload '{wl.name}' ({len(wl.layers)} layers)"
    if "entries" in data:
        table = CostTable.from_file(path, data)
        return f"{path}: cost table '{table.name}' ({len(table.entries)} entries)"
    if "mappings" in data:
        from energysim.engines.loopnest.mapping import load_mapping

        mappings = load_mapping(path, data)
        count = len(mappings.by_layer) + (mappings.fallback is not None)
        return (f"{path}: mapping file ({count} {'entry' if count == 1 else 'entries'}; levels and factors are checked "
                "against a hardware and a layer by run --mapping)")
    raise ConfigError(f"{path}: (top level): not a hardware ([engine]), workload ([[layers]]) or cost table ([[entries]]) "
                      "file, nor a mapping ([[mappings]])")
