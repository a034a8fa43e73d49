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

import contextlib
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

from energysim.config.loading import parse_json
from energysim.engines import build_engine
from energysim.engines.sparse_tc.notes import timing_note
from energysim.errors import InputError, UnsupportedError
from energysim.estimation import HardwareChoice, load_hardware_list
from energysim.hardware_settings import with_setting_columns
from energysim.limits import PROCESSES
from energysim.output_folder import JOURNAL_NAME, NOTES_NAME, claim, remove_stale, result_files
from energysim.progress import progress_bar
from energysim.pruning_patterns import parse_pattern
from energysim.report.files import write_table
from energysim.report.tables import run_name, with_energy_unit
from energysim.simulate import engine_mode, run_workload
from energysim.workloads.workload import load_workload
from energysim.workers import init_worker

COMPARE_COLUMNS: tuple[str, ...] = (
    "workload", "hardware", "mode", "run", "model", "pattern", "criterion", "sparsity_target", "sparsity_measured",
    "finetune_epochs", "engine", "status", "accuracy", "accuracy_before_finetune", "energy_pj", "energy_uj", "energy_unit",
    "latency_s", "cycles_total", "storage_bits", "energy_vs_dense", "latency_vs_dense", "storage_vs_dense", "layers_refused",
    "note",
)
"""Columns of ``compare.csv``. The run key: ``workload`` (the exported model), ``hardware`` (the
config's name), ``mode`` (the engine mode the pruned points run in, '' when the engine has
none) and ``run`` (``hardware`` or ``hardware:mode``). ``sparsity_measured`` is 1 - non-zero
weights left / weights of the dense model (so channel pruning, which shrinks the model,
counts what it removed). The ``*_vs_dense`` ratios are fractions of dense: pruned / dense
original on the same run (< 1 is a saving); the dense original (pattern ``dense``, the
run's baseline row) runs in the engine's dense mode. ``layers_refused`` counts layers the
engine cannot run whatever the pruning (e.g. the residual CNN's depthwise conv on a
one-GEMM engine), left out of every point's totals on that run alike. ``energy_unit`` says what the
energies hold (``pJ``, or ``MAC``: MAC-equivalents, x 1e-6 for uJ), from the hardware file. ``note``
is what the engine says about how the run was timed (A100: the timing that ran and, for a 2:4 point
timed at the hardware bound whose calls are padded or slower in library kernels, the kernel model's
figure; :func:`energysim.engines.sparse_tc.notes.timing_note`), empty for other engines."""


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


def run_label(choice: HardwareChoice) -> tuple[str, str, str]:
    """(hardware, mode, run) of a hardware choice: the config's name, the mode its pruned points run in, the run key.

    The mode is the one named in the spec (``a100:sparse_2_4``) or else the engine's
    configured mode; '' for an engine without modes (:func:`energysim.simulate.engine_mode`).
    """
    mode = engine_mode(build_engine(choice.hardware), choice.options)
    return choice.hardware.name, mode, run_name(choice.hardware.name, mode)


def hardware_fingerprint(choice: HardwareChoice) -> str:
    """A digest of everything in a hardware choice that changes a result.

    Covers the spec as given, the engine options (and the bytes of a ``mapping``
    file they name), the ``--set`` values, the config file's bytes, the engine
    table and every priced cost with its source (so a cost table the file names
    is covered too).
    """
    hardware = choice.hardware
    content = hardware.path.read_bytes() if hardware.path and hardware.path.is_file() else b""
    record = {"spec": choice.label, "options": choice.options, "file": hashlib.sha256(content).hexdigest(),
              "engine": hardware.engine_table, "costs": hardware.cost_rows()}
    if choice.settings:  # only when present, so the keys of earlier journals stay valid
        record.update(settings=choice.settings, name=hardware.name)
    mapping = Path(str(choice.options.get("mapping", "")))
    if "mapping" in choice.options and mapping.is_file():
        record["mapping"] = hashlib.sha256(mapping.read_bytes()).hexdigest()
    text = json.dumps(record, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def model_fingerprint(name: str, seed: int, cache_dir: Path) -> str:
    """A digest of the cached trained model's files (``model.json`` and ``model.npz``)."""
    folder = cache_dir / f"{name}-seed{seed}"
    digest = hashlib.sha256()
    for path in sorted(folder.glob("model.*")):
        digest.update(path.name.encode())
        with path.open("rb") as stream:  # in blocks: a cache file of any size hashes in bounded memory
            for block in iter(lambda: stream.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:16]


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


def cached_model(name: str, seed: int, cache_dir: Path, progress: bool | None = False):
    """The trained digits model ``name`` for ``seed``: loaded from the cache, or trained and cached.

    ``progress`` is the training's (:func:`energysim.progress.progress_bar`; workers pass none).
    """
    from energysim.prune import build_model, load_digits_dataset, load_model, save_model, train

    folder = cache_dir / f"{name}-seed{seed}"
    if (folder / "model.json").is_file():
        model, built = load_model(folder), build_model(name, seed=seed).spec()
        if {k: model.spec()[k] for k in ("input_shape", "layers")} != {k: built[k] for k in ("input_shape", "layers")}:
            raise InputError(f"{folder}: the cached model is not energysim's {name!r} (it holds {model.name!r} with other "
                             "layers); remove the folder to train it again, or give a new --out folder")
        return model
    data = load_digits_dataset()
    model = build_model(name, seed=seed)
    train(model, data.x_train, data.y_train, progress=progress)
    save_model(model, folder)
    return model


def run_point(point: SweepPoint, hardware: tuple[HardwareChoice, ...], cache_dir: str) -> list[dict[str, Any]]:
    """Prune, evaluate and simulate one point on every hardware; one row per hardware, in order."""
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
        for choice in hardware:
            name, mode, run = run_label(choice)
            # the dense original is the run's baseline: it runs in the engine's dense mode (other options kept)
            options = choice.variant_options("dense" if granularity == "dense" else "pruned")
            row = {
                "workload": point.model, "hardware": name, "mode": mode, "run": run, "model": point.model,
                "pattern": point.pattern, "criterion": point.criterion, "sparsity_target": point.sparsity,
                "sparsity_measured": 1 - kept / weights_dense, "finetune_epochs": point.finetune_epochs,
                "engine": choice.hardware.engine_kind, "accuracy": accuracy, "accuracy_before_finetune": accuracy_before,
                "point": point.key,
            }
            try:
                result = run_workload(workload, choice.hardware, skip_refused=True, **options)
                pattern_refusal = _pattern_refusal(workload, result, choice)
            except UnsupportedError as exc:
                pattern_refusal = str(exc)
            if pattern_refusal is not None:
                row["status"] = f"unsupported: {pattern_refusal}"
                rows.append(row)
                continue
            totals = result.totals()
            row.update(
                status="ok", layers_refused=len(result.refused), energy_pj=totals["energy_pj"], energy_uj=totals["energy_uj"],
                latency_s=totals["latency_s"], cycles_total=totals["cycles_total"],
                storage_bits=sum(int(r.stats["weight_storage_bits"]) for r in result.results),
                note=timing_note(run, result.results).removeprefix("note: ").rstrip("\n"),
            )
            rows.append(row)
    return rows


def _pattern_refusal(workload, result, choice: HardwareChoice) -> str | None:
    """The reason a run refused a layer because of its pruning, or None.

    A layer the engine also refuses dense (every weight present, the engine's dense
    mode) is a refusal of its kind (a depthwise conv on a one-GEMM engine): it is left
    out of every point's totals alike, so the ratios stay like for like. A layer it
    refuses only pruned (a mask that is not 2:4 on the 2:4 core) refuses the point.
    """
    from energysim.estimation import densified
    from energysim.workloads.workload import Workload

    if not result.refused:
        return None
    dense = densified(workload)
    layers = tuple(layer for layer in dense.layers if layer.name in result.refused)
    try:
        ran = run_workload(Workload(name=dense.name, layers=layers), choice.hardware, skip_refused=True,
                           **choice.variant_options("dense"))
    except UnsupportedError:
        return None  # every refused layer is refused dense too
    first = next(r.layer for r in ran.results)
    return result.refused[first]


def _check_hardware(choices: tuple[HardwareChoice, ...]) -> None:
    """Refuse a bad hardware choice (a mode the engine lacks) before anything is written.

    Each choice runs one 16x16x16 GEMM with its options, so the engine itself judges them.
    """
    from energysim.workloads.layers import GemmLayer
    from energysim.workloads.workload import Workload

    probe = Workload(name="probe", layers=(GemmLayer(name="probe", m=16, n=16, k=16),))
    for choice in choices:
        run_workload(probe, choice.hardware, **choice.options)
    runs = [run_label(choice)[2] for choice in choices]
    twice = sorted({run for run in runs if runs.count(run) > 1})
    if twice:
        raise InputError(f"hardware names the run {twice[0]!r} twice (a100 is a100:dense); give each run once")


def _journal_records(journal: Path) -> dict[str, list[dict]]:
    """Rows by result key from the journal.

    A last line without its newline was cut by an interruption: that result is
    simply run again. Any other line that is not a record is refused.

    Raises
    ------
    InputError
        Naming the journal and the line, for a complete line that is not a record;
        naming the journal, if it is there but not a file.
    """
    done: dict[str, list[dict]] = {}
    if journal.exists() and not journal.is_file():
        raise InputError(f"{journal}: is not a file (a folder?); remove it or give a new --out folder")
    if not journal.is_file():
        return done
    text = journal.read_text(encoding="utf-8", errors="replace")
    lines = text.split("\n")
    for number, line in enumerate(lines[:-1], start=1):  # lines[-1] is '' or the cut last line
        try:  # NaN is a missing figure; a key twice or arrays nested thousands deep are no record
            record = parse_json(line, f"{journal}: line {number}", InputError, allow_nan=True)
        except InputError:
            record = None
        if not isinstance(record, dict) or not isinstance(record.get("rows", []), list):
            raise InputError(f"{journal}: line {number} is not a sweep journal record (got {line[:40]!r}); "
                             "remove the file or give a new --out folder")
        done[str(record.get("key", f"unkeyed line {number}"))] = record.get("rows", [])
    return done


def _append(journal: Path, records: dict[str, list[dict]]) -> None:
    with journal.open("a", encoding="utf-8") as stream:
        for key, rows in records.items():
            stream.write(json.dumps({"key": key, "rows": rows}) + "\n")
        stream.flush()
        os.fsync(stream.fileno())


def _with_ratios(frame: pd.DataFrame) -> pd.DataFrame:
    dense = frame[(frame["pattern"] == "dense") & (frame["status"] == "ok")].set_index("run")
    for column, ratio in (("energy_pj", "energy_vs_dense"), ("latency_s", "latency_vs_dense"),
                          ("storage_bits", "storage_vs_dense")):
        base = frame["run"].map(dense[column]) if len(dense) else math.nan
        frame[ratio] = frame[column] / base
    return frame


def _claim_sweep_folder(out: Path, expected: set[str], force: bool) -> dict[str, list[dict]]:
    """The journal's records that belong to this sweep; refuse (or, with force, drop) anything else.

    A folder holding results of another kind (run, estimate), a ``compare.csv`` without
    a journal, or journal records of another grid, hardware, hardware content or model
    is refused unless ``force``; with ``force`` the foreign records are dropped from the
    journal (rewritten atomically). The notes ``compare`` wrote beside a journal
    (:data:`~energysim.output_folder.NOTES_NAME`) are the sweep's own.
    """
    from energysim.atomic_files import write_text_atomic

    journal = out / JOURNAL_NAME
    records = _journal_records(journal)
    foreign = [key for key in records if key not in expected]
    own = (JOURNAL_NAME, "compare.csv", NOTES_NAME) if journal.is_file() else (JOURNAL_NAME, "compare.csv")
    others = [p for p in result_files(out) if p.name not in own]
    orphan = (out / "compare.csv").is_file() and not journal.is_file()
    if not force and (foreign or others or orphan):
        if foreign:
            reason = (f"{journal}: {len(foreign)} of its {len(records)} results are not in this sweep (another grid, "
                      "hardware, hardware file content or model; --force drops them, the other "
                      f"{len(records) - len(foreign)} are reused)")
        else:
            reason = f"{out} already holds results ({', '.join(p.name for p in others) or 'compare.csv without a journal'})"
        raise InputError(f"{reason}; give a new --out folder or add --force to replace them")
    if force and foreign:
        kept = {key: rows for key, rows in records.items() if key in expected}
        write_text_atomic(journal, "".join(json.dumps({"key": k, "rows": r}) + "\n" for k, r in kept.items()))
        records = kept
    return records


def run_sweep(points: list[SweepPoint], hardware: Iterable[str | HardwareChoice], out_dir: str | Path,
              jobs: int | None = None, scheduler: str | None = None, cache_dir: str | Path | None = None,
              progress: bool | None = None, force: bool = False, energy_budgets: Iterable[float] = ()) -> pd.DataFrame:
    """Run (or resume) a sweep and return the tidy compare table (also written to ``compare.csv``).

    Each (point, hardware) result is journalled under a key that covers the point's
    settings (model, pattern, criterion, sparsity, fine-tuning, seed), the trained
    model's files and the hardware's :func:`hardware_fingerprint`; a result is reused
    only when its key matches. The returned frame's ``attrs`` hold ``results_reused``
    and ``results_total`` (counts of point x hardware results).

    Parameters
    ----------
    points
        From :func:`grid`.
    hardware
        Hardware choices, or specs to parse: names (bundled or paths), optionally
        ``NAME:MODE`` for an engine mode.
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
    force
        Write into a folder holding other results: journal records of another
        sweep are dropped and other result files removed.
    energy_budgets
        Energy budgets (fractions of dense, each in (0, 1]): per hardware and
        budget, one energy-aware pruning of the sweep's model is added as a row
        of pattern ``energy_aware`` (:mod:`energysim.energy_aware.sweep_points`).

    Raises
    ------
    InputError
        For no hardware, a bad hardware choice, or (without ``force``) a folder
        holding other results; nothing is written then.
    """
    choices = tuple(h if isinstance(h, HardwareChoice) else load_hardware_list([h])[0] for h in hardware)
    if not choices:
        raise InputError("a sweep needs at least one hardware config")
    if jobs is not None and (isinstance(jobs, bool) or jobs < 1):
        raise InputError(f"jobs must be an integer >= 1 (got {jobs!r})")
    if jobs is not None:
        PROCESSES.check("jobs", jobs)
    budgets = _energy_budgets(energy_budgets)
    with _executor(scheduler) as client:  # an unreachable scheduler is refused before the hardware probes run
        _check_hardware(choices)
        frame = _run_sweep(points, choices, Path(out_dir), jobs, client, cache_dir, progress, force)
    if budgets:
        from energysim.energy_aware.sweep_points import add_energy_aware_points

        cache = Path(cache_dir) if cache_dir else Path(out_dir) / "models"
        model = cached_model(points[0].model, points[0].seed, cache)
        epochs = max(p.finetune_epochs for p in points)
        attrs = dict(frame.attrs)
        frame = add_energy_aware_points(frame, model, choices, budgets, out_dir, epochs, points[0].seed, progress)
        frame.attrs.update(attrs)
        write_table(frame, Path(out_dir), "compare", "csv")
    return frame


def _energy_budgets(values: Iterable[float]) -> list[float]:
    """The energy budgets as floats, each checked to be a fraction of dense in (0, 1]."""
    budgets = []
    for value in values:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
            raise InputError(f"energy budgets must be fractions of dense energy in (0, 1] (got {value!r})")
        budgets.append(float(value))
    return budgets


def _run_sweep(points: list[SweepPoint], choices: tuple[HardwareChoice, ...], out: Path, jobs: int | None, client,
               cache_dir: str | Path | None, progress: bool | None, force: bool) -> pd.DataFrame:
    """:func:`run_sweep` once its inputs are checked (``client``: a Dask client or None for local processes)."""
    cache = Path(cache_dir) if cache_dir else out / "models"
    hardware_prints = {choice.label: hardware_fingerprint(choice) for choice in choices}
    pairs = list(dict.fromkeys((p.model, p.seed) for p in points))

    def result_keys() -> dict[tuple[str, str], str]:
        models = {pair: model_fingerprint(*pair, cache) for pair in pairs}
        return {(p.key, c.label): hashlib.sha256(
                    f"{p.key}/{models[(p.model, p.seed)]}/{hardware_prints[c.label]}".encode()).hexdigest()[:20]
                for p in points for c in choices}

    # refuse a folder of other results before anything is written (models not cached yet match nothing)
    existing = claim(out, force) if force else []
    _claim_sweep_folder(out, set(result_keys().values()), force)
    for folder in (out, cache):
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:  # a file in the way (FileExistsError), a read-only place
            raise InputError(f"{folder}: cannot be made a folder ({exc.strerror or exc.__class__.__name__})") from None
    for model, seed in pairs:  # train the shared models once, before fanning out
        cached_model(model, seed, cache, progress)
    keys = result_keys()
    done = {key: rows for key, rows in _journal_records(out / JOURNAL_NAME).items() if key in set(keys.values())}
    reused = len(done)
    todo = [(p, tuple(c for c in choices if keys[(p.key, c.label)] not in done)) for p in points]
    todo = [(p, missing) for p, missing in todo if missing]
    journal = out / JOURNAL_NAME
    with progress_bar(sum(len(missing) for _, missing in todo), "compare (points x hardware)", progress,
                      unit="simulation") as bar:
        for point, missing, rows in _execute(todo, str(cache), jobs, client):
            records = {keys[(point.key, c.label)]: [row] for c, row in zip(missing, rows)}
            done.update(records)
            _append(journal, records)
            bar.update(len(missing))
    rows = [row for p in points for c in choices for row in done[keys[(p.key, c.label)]]]
    frame = pd.DataFrame(rows)
    for column in COMPARE_COLUMNS:
        if column not in frame:
            frame[column] = math.nan
    frame["note"] = frame["note"].fillna("")              # a refused or note-less row has no note: '', not NaN
    frame = with_setting_columns(with_energy_unit(_with_ratios(frame)[list(COMPARE_COLUMNS)], choices), choices)
    path = write_table(frame, out, "compare", "csv")
    remove_stale(existing, [path, journal])
    frame.attrs.update(results_reused=reused, results_total=len(keys))
    return frame


@contextlib.contextmanager
def _executor(scheduler: str | None):
    """A connected Dask client for ``scheduler`` (closed afterwards), or None for local processes.

    Connecting first means an unreachable scheduler is refused before anything is written.
    """
    if not scheduler:
        yield None
        return
    try:
        from dask.distributed import Client
    except ImportError:
        raise InputError("--scheduler needs dask.distributed: pip install 'energysim[distributed]'") from None
    _check_reachable(scheduler)
    try:
        client = Client(scheduler, timeout="10s")
    except (OSError, TimeoutError, ValueError, TypeError) as exc:
        raise InputError(f"cannot reach the Dask scheduler at {scheduler!r} ({exc})") from None
    with client:
        yield client


def _check_reachable(scheduler: str, timeout_s: float = 3.0) -> None:
    """Refuse a ``tcp://`` (or bare ``host:port``) scheduler address no socket reaches, within ``timeout_s`` seconds.

    Dask's own connect retries for 10 s; an unknown host or a closed port is told at once here.
    Other protocols (``tls://``, ``inproc://``, ...) are left to Dask.
    """
    import socket

    protocol, _, address = scheduler.rpartition("://")
    if protocol not in ("", "tcp"):
        return
    host, colon, port = address.rpartition(":")
    if not colon or not port.isdigit():
        return  # Dask's default port or an address form it parses itself
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s).close()
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot reach the Dask scheduler at {scheduler!r} ({exc})") from None


def _execute(todo: list[tuple[SweepPoint, tuple[HardwareChoice, ...]]], cache: str, jobs: int | None, client):
    """Yield (point, hardware run, rows) as points finish: on the Dask ``client``, or in local processes."""
    if not todo:
        return
    if client is not None:
        from dask.distributed import as_completed as dask_completed

        futures = {client.submit(run_point, p, missing, cache, pure=False): (p, missing) for p, missing in todo}
        for future in dask_completed(futures):
            yield (*futures[future], future.result())
        return
    workers = min(jobs or os.cpu_count() or 1, len(todo))  # a pool forks every worker at once, busy or not
    if workers == 1:
        for point, missing in todo:
            yield point, missing, run_point(point, missing, cache)
        return
    with ProcessPoolExecutor(max_workers=workers, initializer=init_worker, initargs=(os.getpid(),)) as pool:
        futures = {pool.submit(run_point, p, missing, cache): (p, missing) for p, missing in todo}
        for future in as_completed(futures):
            yield (*futures[future], future.result())


def pareto_front(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows on the accuracy-vs-energy Pareto front of each run (higher accuracy, lower energy).

    A point is on the front unless another point of its run is no worse in
    both and better in one; identical points are all kept
    (:func:`energysim.report.plots.pareto_mask`, the rule the report draws).
    """
    from energysim.report.plots import pareto_mask

    fronts = []
    for _, group in frame[frame["status"] == "ok"].groupby("run", sort=False):
        fronts.append(group[pareto_mask(group["energy_pj"], group["accuracy"])])
    return pd.concat(fronts) if fronts else frame.iloc[0:0]


def run_notes(frame: pd.DataFrame) -> dict[str, str]:
    """Each run's ``note``: that of its lowest-energy pruned point, else of its dense row ('' runs left out).

    The point a reader looks at first (the best ``energy_vs_dense``, as
    :func:`energysim.report.findings.sweep_findings` names it) carries the note that
    qualifies it, e.g. an A100 2:4 saving timed at the hardware bound that library
    kernels would not give (:func:`energysim.engines.sparse_tc.notes.timing_note`).

    Parameters
    ----------
    frame
        A compare table (:data:`COMPARE_COLUMNS`; a table without ``note`` gives none).

    Returns
    -------
    dict[str, str]
        Run name -> note, in the table's run order.
    """
    if "note" not in frame.columns:
        return {}
    ok = frame[(frame["status"] == "ok") & frame["note"].fillna("").astype(str).ne("")]
    notes = {}
    for run, group in ok.groupby("run", sort=False):
        pruned = group[group["pattern"] != "dense"]
        best = pruned.loc[pd.to_numeric(pruned["energy_vs_dense"]).idxmin()] if len(pruned) else group.iloc[0]
        notes[str(run)] = str(best["note"])
    return notes
