"""Pattern x sparsity x criterion x hardware sweeps: prune, measure accuracy, simulate.

Each point of the grid trains (or loads from the cache) the digits model,
prunes a copy with one pattern, criterion and sparsity (fine-tuning when
asked), measures test accuracy, exports the pruned workload and simulates it
on every hardware of the grid. A point whose pattern an engine cannot run (a
non-2:4 mask on the sparse tensor core) gets a row whose ``status`` says why.

Points run in local worker processes (default) or on a Dask distributed
cluster (``scheduler=ADDRESS``). Every finished point is appended to
``points.jsonl`` in the output folder as it completes, so an interrupted sweep
resumes where it stopped; ``compare.csv`` is rewritten atomically at the end.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pandas as pd

from energysim import catalog
from energysim.errors import InputError, UnsupportedError
from energysim.hardware.hierarchy import load_hardware
from energysim.report.files import write_table
from energysim.simulate import run_workload
from energysim.workloads.workload import load_workload

COMPARE_COLUMNS: tuple[str, ...] = (
    "model", "pattern", "criterion", "sparsity_target", "sparsity_measured", "finetune_epochs", "hardware", "engine",
    "mode", "status", "accuracy", "accuracy_before_finetune", "energy_pj", "energy_uj", "latency_s", "cycles_total",
    "storage_bits", "energy_ratio_vs_dense", "latency_ratio_vs_dense",
)
"""Columns of ``compare.csv``. ``sparsity_measured`` is 1 - non-zero weights left / weights of the
dense model (so channel pruning, which shrinks the model, counts what it removed). Ratios are
pruned / dense original on the same hardware spec (< 1 is a saving); the dense original runs in
the engine's dense mode."""

PATTERNS = ("dense", "fine", "fine_global", "vector", "kernel", "channel")
"""Pattern names besides ``nm:N:M`` (e.g. ``nm:2:4``)."""


@dataclass(frozen=True)
class SweepPoint:
    """One pruning configuration of the grid (simulated on every hardware of the sweep)."""

    model: str
    pattern: str
    criterion: str
    sparsity: float
    finetune_epochs: int
    seed: int = 0

    @property
    def key(self) -> str:
        """A stable identifier of the point (for resuming)."""
        text = json.dumps(asdict(self), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def parse_pattern(pattern: str) -> tuple[str, tuple[int, int]]:
    """Split ``nm:N:M`` into ('nm', (N, M)); other patterns map to themselves."""
    if pattern.startswith("nm:"):
        parts = pattern.split(":")
        if len(parts) != 3 or not all(p.isdigit() for p in parts[1:]):
            raise InputError(f"pattern {pattern!r} must be written nm:N:M, e.g. nm:2:4")
        n, m = int(parts[1]), int(parts[2])
        if not 0 < n < m:
            raise InputError(f"pattern {pattern!r} needs 0 < N < M (got N={n}, M={m})")
        return "nm", (n, m)
    if pattern not in PATTERNS:
        raise InputError(f"pattern must be one of {', '.join(PATTERNS)} or nm:N:M (got {pattern!r})")
    return pattern, (2, 4)


def parse_hardware(spec: str) -> tuple[str, dict[str, Any]]:
    """Split ``NAME[:MODE]`` (e.g. ``a100:sparse_2_4``) into a hwconfig name and engine options."""
    _, options = catalog.hardware_spec(spec)
    return spec.partition(":")[0], options


def grid(model: str, patterns: list[str], sparsities: Iterable[float], criteria: Iterable[str],
         finetune_epochs: int = 0, seed: int = 0) -> list[SweepPoint]:
    """The sweep points: patterns x sparsities x criteria, plus the dense baseline.

    N:M patterns fix their own sparsity (1 - N/M), so they appear once per criterion.
    Criterion-pattern pairs the pruning engine does not define (magnitude of a
    whole channel, say) are left out; a grid left with no pruned point is refused.
    """
    from energysim.prune import build_model
    from energysim.prune.pruner import prunable_layers
    from energysim.prune.registry import CRITERION_GRANULARITIES

    network = build_model(model, seed=seed)
    points = [SweepPoint(model, "dense", "none", 0.0, 0, seed)]
    criteria = list(criteria)
    for criterion in criteria:
        if criterion not in CRITERION_GRANULARITIES:
            raise InputError(f"criterion must be one of {', '.join(CRITERION_GRANULARITIES)} (got {criterion!r})")
    for pattern in patterns:
        granularity, (n, m) = parse_pattern(pattern)
        if granularity == "dense" or not prunable_layers(network, granularity):
            continue  # e.g. kernel pruning of an MLP: no layer to prune
        for criterion in criteria:
            if granularity not in CRITERION_GRANULARITIES[criterion]:
                continue
            if granularity == "nm":
                points.append(SweepPoint(model, pattern, criterion, 1 - n / m, finetune_epochs, seed))
                continue
            for sparsity in sparsities:
                if not 0 <= sparsity < 1:
                    raise InputError(f"sparsity must be in [0, 1) (got {sparsity})")
                points.append(SweepPoint(model, pattern, criterion, float(sparsity), finetune_epochs, seed))
    if len(points) == 1:
        raise InputError(f"no pattern of {list(patterns)} can be pruned with criteria {criteria}")
    return list(dict.fromkeys(points))


def cached_model(name: str, seed: int, cache_dir: Path):
    """The trained digits model ``name`` for ``seed``: loaded from the cache, or trained and cached."""
    from energysim.prune import build_model, load_digits_dataset, load_model, save_model, train

    folder = cache_dir / f"{name}-seed{seed}"
    if (folder / "model.json").is_file():
        return load_model(folder)
    data = load_digits_dataset()
    model = build_model(name, seed=seed)
    train(model, data.x_train, data.y_train)
    save_model(model, folder)
    return model


def run_point(point: SweepPoint, hardware_specs: tuple[str, ...], cache_dir: str) -> list[dict[str, Any]]:
    """Prune, evaluate and simulate one point on every hardware; one row per hardware."""
    from energysim.prune import PruneRequest, export_workload, load_digits_dataset, run_schedule
    from energysim.prune.structure import shrink_model

    data = load_digits_dataset()
    model = cached_model(point.model, point.seed, Path(cache_dir))
    weights_dense = sum(model.weights(name).size for name in model.weight_layers)
    accuracy_before = accuracy = model.accuracy(data.x_test, data.y_test)
    granularity, nm = parse_pattern(point.pattern)
    if granularity != "dense":
        request = PruneRequest(granularity=granularity, criterion=point.criterion, sparsity=point.sparsity, nm=nm,
                               seed=point.seed)
        outcome = run_schedule(model, request, data, schedule="one_shot", finetune_epochs=point.finetune_epochs)
        accuracy, accuracy_before = outcome.accuracy_finetuned, outcome.accuracy_pruned
        if granularity == "channel":
            model = shrink_model(model)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        path = export_workload(model, Path(tmp) / "workload", data.calibration(64, seed=point.seed),
                               provenance={"target_sparsity": point.sparsity}, layer_targets=granularity != "channel")
        workload = load_workload(path)
        kept = sum(int(np.count_nonzero(workload.tensors[l.name].weights)) for l in workload.layers)
        for spec in hardware_specs:
            name, options = parse_hardware(spec)
            if granularity == "dense":
                options = {}  # the dense original runs in the engine's dense mode
            hardware = load_hardware(catalog.hwconfig_path(name))
            row = {
                "model": point.model, "pattern": point.pattern, "criterion": point.criterion,
                "sparsity_target": point.sparsity, "sparsity_measured": 1 - kept / weights_dense,
                "finetune_epochs": point.finetune_epochs, "hardware": spec, "engine": hardware.engine_kind,
                "mode": options.get("mode", str(hardware.engine_table.get("mode", ""))), "accuracy": accuracy, "accuracy_before_finetune": accuracy_before,
                "point": point.key,
            }
            try:
                run = run_workload(workload, hardware, **options)
            except UnsupportedError as exc:
                row["status"] = f"unsupported: {exc}"
                rows.append(row)
                continue
            totals = run.totals()
            row.update(
                status="ok", energy_pj=totals["energy_pj"], energy_uj=totals["energy_uj"],
                latency_s=totals["latency_s"], cycles_total=totals["cycles_total"],
                storage_bits=sum(int(r.stats["weight_storage_bits"]) for r in run.results),
            )
            rows.append(row)
    return rows


def _check_hardware(specs: tuple[str, ...]) -> None:
    """Refuse a bad hardware spec (unknown name, mode the engine lacks) before anything is written.

    Each spec runs one 16x16x16 GEMM with its options, so the engine itself judges them.
    """
    from energysim.workloads.layers import GemmLayer
    from energysim.workloads.workload import Workload

    probe = Workload(name="probe", layers=(GemmLayer(name="probe", m=16, n=16, k=16),))
    for spec in specs:
        name, options = parse_hardware(spec)
        run_workload(probe, load_hardware(catalog.hwconfig_path(name)), **options)


def _completed(journal: Path) -> dict[str, list[dict]]:
    done: dict[str, list[dict]] = {}
    if not journal.is_file():
        return done
    for line in journal.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut by an interruption: that point is simply run again
        done[record["point"]] = record["rows"]
    return done


def _append(journal: Path, key: str, rows: list[dict]) -> None:
    with journal.open("a", encoding="utf-8") as stream:
        stream.write(json.dumps({"point": key, "rows": rows}) + "\n")
        stream.flush()
        os.fsync(stream.fileno())


def _with_ratios(frame: pd.DataFrame) -> pd.DataFrame:
    dense = frame[(frame["pattern"] == "dense") & (frame["status"] == "ok")].set_index("hardware")
    for column, ratio in (("energy_pj", "energy_ratio_vs_dense"), ("latency_s", "latency_ratio_vs_dense")):
        base = frame["hardware"].map(dense[column]) if len(dense) else math.nan
        frame[ratio] = frame[column] / base
    return frame


def run_sweep(points: list[SweepPoint], hardware_specs: Iterable[str], out_dir: str | Path, jobs: int | None = None,
              scheduler: str | None = None, cache_dir: str | Path | None = None, progress: bool | None = None) -> pd.DataFrame:
    """Run (or resume) a sweep and return the tidy compare table (also written to ``compare.csv``).

    Parameters
    ----------
    points
        From :func:`grid`.
    hardware_specs
        Hardware names (bundled or paths), optionally ``NAME:MODE`` for the sparse tensor core.
    out_dir
        Folder for ``points.jsonl`` (the resume journal) and ``compare.csv``.
    jobs
        Local worker processes (default: CPU count; 1 runs in this process).
    scheduler
        Address of a Dask distributed scheduler (``tcp://host:port``); overrides ``jobs``.
    cache_dir
        Where trained models are cached (default ``out_dir/models``).
    progress
        Progress bar on stderr (None: only on a terminal).
    """
    from tqdm import tqdm

    specs = tuple(hardware_specs)
    if not specs:
        raise InputError("a sweep needs at least one hardware config")
    _check_hardware(specs)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cache = Path(cache_dir) if cache_dir else out / "models"
    cache.mkdir(parents=True, exist_ok=True)
    # train the shared models once, before fanning out
    for model, seed in dict.fromkeys((p.model, p.seed) for p in points):
        cached_model(model, seed, cache)
    journal = out / "points.jsonl"
    done = _completed(journal)
    todo = [p for p in points if p.key not in done]
    enabled = (os.isatty(2) if progress is None else progress)
    with tqdm(total=len(points), initial=len(points) - len(todo), desc="compare", disable=not enabled) as bar:
        for key, rows in _execute(todo, specs, str(cache), jobs, scheduler):
            done[key] = rows
            _append(journal, key, rows)
            bar.update(1)
    rows = [row for p in points for row in done[p.key]]
    frame = pd.DataFrame(rows)
    for column in COMPARE_COLUMNS:
        if column not in frame:
            frame[column] = math.nan
    frame = _with_ratios(frame)[list(COMPARE_COLUMNS)]
    write_table(frame, out, "compare", "csv")
    return frame


def _one_blas_thread() -> None:
    """Worker initialiser: one BLAS thread per process, so N workers do not oversubscribe N cores."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)


def _execute(todo: list[SweepPoint], specs: tuple[str, ...], cache: str, jobs: int | None, scheduler: str | None):
    """Yield (point key, rows) as points finish, locally or on Dask."""
    if not todo:
        return
    if scheduler:
        try:
            from dask.distributed import Client, as_completed as dask_completed
        except ImportError:
            raise InputError("--scheduler needs dask.distributed: pip install 'energysim[distributed]'") from None
        try:
            client = Client(scheduler, timeout="10s")
        except (OSError, TimeoutError) as exc:
            raise InputError(f"cannot reach the Dask scheduler at {scheduler!r} ({exc})") from None
        with client:
            futures = {client.submit(run_point, p, specs, cache, pure=False): p for p in todo}
            for future in dask_completed(futures):
                yield futures[future].key, future.result()
        return
    workers = jobs or os.cpu_count() or 1
    if workers == 1:
        for point in todo:
            yield point.key, run_point(point, specs, cache)
        return
    with ProcessPoolExecutor(max_workers=workers, initializer=_one_blas_thread) as pool:
        futures = {pool.submit(run_point, p, specs, cache): p for p in todo}
        for future in as_completed(futures):
            yield futures[future].key, future.result()


def pareto_front(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows on the accuracy-vs-energy Pareto front of each hardware (higher accuracy, lower energy).

    A point is on the front unless another point of its hardware is no worse in
    both and better in one; identical points are all kept
    (:func:`energysim.report.plots.pareto_mask`, the rule the report draws).
    """
    from energysim.report.plots import pareto_mask

    fronts = []
    for _, group in frame[frame["status"] == "ok"].groupby("hardware", sort=False):
        fronts.append(group[pareto_mask(group["energy_pj"], group["accuracy"])])
    return pd.concat(fronts) if fronts else frame.iloc[0:0]
