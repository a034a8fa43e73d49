"""Prune a model to a fraction of its simulated energy on one hardware, with the least accuracy lost.

The job (``energysim.prune_for_energy``, ``energysim prune --energy-budget``):

1. Simulate the dense original on the hardware run (in the engine's dense mode):
   the budget is ``energy_budget`` x its energy (and ``latency_budget`` x its latency).
2. Measure which patterns the hardware rewards and the per-layer energy and
   accuracy sensitivity of every option of those patterns
   (:mod:`energysim.energy_aware.sensitivity`; the accuracy cost is the
   held-out loss increase after a short recovery fine-tune, made monotone in
   sparsity per layer and pattern).
3. Allocate one option per layer (:mod:`energysim.energy_aware.allocate`):
   exact where tractable (``method="auto"`` or ``"exact"``), else the greedy rule.
4. Simulate each allocation (before fine-tuning): savings are not additive, so
   while the simulation misses the budget the target goes just below this
   allocation's prediction and the next allocation (more predicted saving, no
   less cost) is tried; the first that meets the budget is kept. The other
   solver, each single rewarded pattern, and the uniform allocation of each
   rewarded pattern propose candidates too; each is fine-tuned
   ``candidate_epochs`` on the fit images and the most accurate on the
   held-out images is taken (:mod:`energysim.energy_aware.candidates`).
5. Prune layer by layer in decreasing order of the layer's dense energy (Yang,
   Chen and Sze's order), fine-tuning ``step_epochs`` after each layer, then
   ``finetune_epochs`` at the end.
6. Simulate the pruned model from scratch. Fine-tuning changes activation
   densities, so the energy may move; if it misses the budget, that drift
   becomes a margin below the budget and steps 3-6 run again from the trained
   model (at most ``max_rounds`` rounds).

Deterministic for a seed (seeded pruning and fine-tuning, one BLAS thread).
With ``out_dir`` every finished measurement and step is journalled
(:mod:`energysim.energy_aware.journal`), so an interrupted job resumes.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd

from energysim.energy_aware.allocate import BASE, Choice, Intractable
from energysim.energy_aware.candidates import Candidate, Limits, best, restrict, score, uniform_candidate, walk_down
from energysim.energy_aware.journal import append_record, job_key, read_journal
from energysim.energy_aware.measure import Measurement, exported_model, simulate_model
from energysim.energy_aware.options import PATTERNS, LayerOption, apply_allocation, has_channels, parse_option_pattern
from energysim.energy_aware.sensitivity import (
    SENSITIVITY_COLUMNS,
    Validation,
    base_allocation,
    energy_sensitivity,
    pattern_rewards,
    plot_energy_sensitivity,
)
from energysim.errors import InputError
from energysim.estimation import HardwareChoice, load_hardware_list
from energysim.progress import progress_bar
from energysim.prune.data import Dataset, load_digits_dataset
from energysim.prune.models import Model, load_model, save_model
from energysim.prune.schedules import finetune_config
from energysim.prune.training import single_threaded_blas, train

CANDIDATE_COLUMNS = ("round", "source", "allocation", "predicted_energy_vs_dense", "quick_energy_vs_dense",
                     "tuned_energy_vs_dense", "accuracy_holdout", "loss_holdout", "kept")
"""Columns of :attr:`EnergyAwareResult.candidates` (energies simulated, fractions of dense; held-out scores after
the short fine-tune)."""

METHODS = ("auto", "greedy", "exact")
"""Allocation solvers: exact where tractable (auto), or one of them."""

ALLOCATION_COLUMNS = ("order", "layer", "option", "pattern", "target_sparsity", "measured_sparsity",
                      "layer_energy_pj_dense", "layer_energy_pj", "energy_saved_pj", "energy_saved_vs_dense",
                      "loss_increase")
"""Columns of :attr:`EnergyAwareResult.allocation`. ``layer_energy_pj_dense`` and ``layer_energy_pj`` are the
layer's simulated energy (pJ) in the dense original and in the final pruned, fine-tuned model (NaN before one is
simulated). ``energy_saved_pj``, ``energy_saved_vs_dense`` (fraction of the dense network's energy) and
``loss_increase`` (nats of held-out cross-entropy) are the sensitivity's, with this layer pruned alone: the saving
includes the layer's consumer (channel pruning shrinks its inputs), so these do not add up to the allocation's."""


@dataclass
class EnergyAwareResult:
    """The outcome of :func:`prune_for_energy`.

    Attributes
    ----------
    model
        The pruned, fine-tuned model (masked; None when the budget is unreachable).
    run
        The hardware run, ``hardware`` or ``hardware:mode``.
    status
        ``ok`` (budget met when simulated afresh), ``unreachable: ...`` (no
        allocation of the offered options predicts the budget) or ``missed: ...``
        (every round's fresh simulation stayed above the budget).
    energy_budget, latency_budget
        The budgets, fractions of dense (latency None when not asked).
    energy_vs_dense, latency_vs_dense
        The pruned model's simulated energy and latency as fractions of the
        dense original's (simulated from scratch; NaN when unreachable).
    predicted_energy_vs_dense
        What the additive sensitivity model predicted for the final allocation
        (NaN for a uniform candidate, which is not predicted).
    base_energy_vs_dense
        The base allocation's simulated energy (every layer dense, or at the
        pattern the engine requires), fraction of dense: the additive model
        predicts it minus the sum of ``allocation["energy_saved_vs_dense"]``.
    accuracy_dense, accuracy
        Test accuracy (0..1) before and after.
    allocation
        One row per pruned layer (:data:`ALLOCATION_COLUMNS`).
    sensitivity
        The per-(layer, option) table (:data:`~energysim.energy_aware.sensitivity.SENSITIVITY_COLUMNS`).
    patterns
        Which patterns the hardware rewards, with the probe's energy.
    method
        The solver used (``greedy`` or ``exact``).
    source
        Which candidate was kept (``exact``, ``greedy``, ``exact:PATTERN``, ``uniform:OPTION``).
    candidates
        Every candidate of every round with its held-out scores
        (:data:`CANDIDATE_COLUMNS`).
    rounds
        Allocate-prune-simulate rounds run.
    wall_time_s
        Wall time of the job, s.
    energy_pj_dense
        The dense original's simulated energy, pJ.
    energy_pj, latency_s
        The pruned model's simulated energy (pJ) and latency (s), from scratch.
    layer_energy_pj_dense, layer_energy_pj
        Every layer's simulated energy (pJ) in the dense original and in the pruned
        model (empty when none was simulated); each adds up to its total.
    notes
        One line per round: the candidate kept and its energy before and after fine-tuning.
    """

    model: Model | None
    run: str
    status: str
    energy_budget: float
    latency_budget: float | None
    energy_vs_dense: float
    latency_vs_dense: float
    predicted_energy_vs_dense: float
    accuracy_dense: float
    accuracy: float
    allocation: pd.DataFrame
    sensitivity: pd.DataFrame
    patterns: pd.DataFrame
    method: str
    rounds: int
    wall_time_s: float
    energy_pj_dense: float = math.nan
    energy_pj: float = math.nan
    latency_s: float = math.nan
    notes: list[str] = field(default_factory=list)
    source: str = ""
    base_energy_vs_dense: float = math.nan
    layer_energy_pj_dense: dict[str, float] = field(default_factory=dict)
    layer_energy_pj: dict[str, float] = field(default_factory=dict)
    candidates: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=list(CANDIDATE_COLUMNS)))

    @property
    def budget_met(self) -> bool:
        """Whether the pruned model, simulated afresh, meets every budget."""
        return self.status == "ok"

    def __repr__(self) -> str:
        if not self.budget_met:
            return f"<EnergyAwareResult on {self.run!r}: {self.status}>"
        return (f"<EnergyAwareResult on {self.run!r}: energy {self.energy_vs_dense:.3g} of dense "
                f"(budget {self.energy_budget:g}), accuracy {100 * self.accuracy:.1f} % "
                f"(dense {100 * self.accuracy_dense:.1f} %)>")


def _fraction(name: str, value, allow_none: bool = False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
        raise InputError(f"{name} must be a fraction of dense energy in (0, 1] (got {value!r})")
    return float(value)


def _count(name: str, value, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise InputError(f"{name} must be an integer >= {low} (got {value!r})")
    return value


def resolve_model(model: Model | str | Path, data: Dataset, seed: int, progress: bool | None) -> Model:
    """A trained model: given, loaded from a model folder, or ``mlp``/``cnn`` trained with its default settings."""
    if isinstance(model, Model):
        return model
    from energysim.prune.models import MODEL_BUILDERS, build_model
    from energysim.prune.training import DEFAULT_TRAINING

    if isinstance(model, str) and model in MODEL_BUILDERS:
        network = build_model(model, seed)
        config = DEFAULT_TRAINING[model]
        with single_threaded_blas():
            train(network, data.x_train, data.y_train, replace(config, seed=seed), progress=progress)
        return network
    return load_model(model)


def prune_for_energy(model: Model | str | Path, hardware: str | HardwareChoice, energy_budget: float,
                     latency_budget: float | None = None, *, patterns: tuple[str, ...] | None = None,
                     method: str = "auto", finetune_epochs: int = 5, step_epochs: int = 1, seed: int = 0,
                     out_dir: str | Path | None = None, max_rounds: int = 4, calibration_samples: int = 64,
                     validation_samples: int = 360, recovery_epochs: int = 1, candidate_epochs: int = 1,
                     data: Dataset | None = None, progress: bool | None = None,
                     journal_dir: str | Path | None = None) -> EnergyAwareResult:
    """Prune ``model`` to ``energy_budget`` of its dense energy on ``hardware`` (see the module text).

    Parameters
    ----------
    model
        A trained :class:`~energysim.prune.models.Model` (not modified), a model
        folder, or ``"mlp"`` / ``"cnn"`` (trained first with the default settings).
    hardware
        A hardware spec (bundled name or path, optionally ``NAME:MODE``) or a
        :class:`~energysim.estimation.HardwareChoice`.
    energy_budget
        Target energy as a fraction of the dense original's, in (0, 1].
    latency_budget
        Target latency as a fraction of dense, in (0, 1], or None.
    patterns
        Patterns offered per layer (``fine``, ``channel``, ``nm:2:4``); None: the
        ones the simulator finds the hardware rewards.
    method
        ``auto`` (exact where tractable), ``greedy`` or ``exact``.
    finetune_epochs
        Fine-tuning epochs after the last step.
    step_epochs
        Fine-tuning epochs after each layer's step.
    seed
        Seed of training, pruning, calibration and validation samples.
    out_dir
        Folder for the journal (resume), step checkpoints, the tables and the
        pruned workload (``workload/``); None: nothing is written.
    max_rounds
        Allocate-prune-simulate rounds at most.
    calibration_samples
        Training images whose activations the exports carry.
    validation_samples
        Training images held out: the accuracy cost and the candidates are
        scored on them; the rest are the fit images of the short fine-tunes.
        The final fine-tune uses every training image (as the baselines do).
    recovery_epochs
        Fine-tuning epochs (fit images) before a layer's loss increase is measured.
    candidate_epochs
        Fine-tuning epochs (fit images) before a candidate allocation is scored.
    data
        The digits split (default: :func:`~energysim.prune.data.load_digits_dataset`).
    progress
        Progress bars on stderr (None: only on a terminal).
    journal_dir
        Folder for the journal and step checkpoints when they should not live
        in ``out_dir`` (jobs at several budgets sharing one journal reuse one
        sensitivity measurement); None: ``out_dir``.

    Returns
    -------
    EnergyAwareResult

    Raises
    ------
    InputError
        For a budget outside (0, 1], an unknown method or pattern, or a
        hardware run that refuses the dense model and every pattern.
    """
    start = time.perf_counter()
    energy_budget = _fraction("energy_budget", energy_budget)
    latency_budget = _fraction("latency_budget", latency_budget, allow_none=True)
    if method not in METHODS:
        raise InputError(f"method must be one of {list(METHODS)} (got {method!r})")
    for name, value, low in (("finetune_epochs", finetune_epochs, 0), ("step_epochs", step_epochs, 0),
                             ("max_rounds", max_rounds, 1), ("seed", seed, 0), ("recovery_epochs", recovery_epochs, 0),
                             ("candidate_epochs", candidate_epochs, 0), ("validation_samples", validation_samples, 1)):
        _count(name, value, low)
    if patterns is not None:
        patterns = tuple(patterns)
        unknown = [p for p in patterns if p not in PATTERNS]
        if unknown or not patterns:
            raise InputError(f"patterns must be among {list(PATTERNS)} (got {list(patterns)})")
    data = data or load_digits_dataset()
    choice = hardware if isinstance(hardware, HardwareChoice) else load_hardware_list([str(hardware)])[0]
    model = resolve_model(model, data, seed, progress)
    out = Path(out_dir) if out_dir is not None else None
    journal = Path(journal_dir) if journal_dir is not None else out
    calibration = data.calibration(calibration_samples, seed=seed)
    validation = Validation.split(data, validation_samples, seed)
    dense = simulate_model(model, choice, calibration, shrink=False, dense_mode=True)
    if not dense.ok:
        raise InputError(f"hardware run '{choice.label}' refuses the dense model in its dense mode: {dense.refused}")
    run = choice.label
    from energysim.sweep import hardware_fingerprint

    settings = {"patterns": patterns, "seed": seed, "calibration": calibration_samples, "validation": validation_samples,
                "recovery_epochs": recovery_epochs, "version": 2}
    key = job_key(model, hardware_fingerprint(choice), settings)
    records = read_journal(journal)
    rewards, base, table, base_measure = _sensitivity(model, choice, calibration, validation, dense, patterns, seed,
                                                      key, records, journal, progress, recovery_epochs)
    offered = patterns or tuple(rewards.loc[rewards["rewarded"], "pattern"])
    layers = model.weight_layers
    layer_energy = [dense.layer_energy_pj.get(name, 0.0) for name in layers]
    options, choices = _choices(layers, table, offered)
    accuracy_dense = model.accuracy(data.x_test, data.y_test)
    budget_pj = energy_budget * dense.energy_pj
    budget_s = latency_budget * dense.latency_s if latency_budget is not None else None
    target_pj, target_s = budget_pj, budget_s
    limits = Limits(budget_pj, budget_s)  # lowered by the drift fine-tuning showed in a missed round
    used_method, notes, scored, source = method, [], [], ""
    result = dict(model=None, status="", energy_vs_dense=math.nan, latency_vs_dense=math.nan,
                  predicted_energy_vs_dense=math.nan, accuracy=math.nan,
                  allocation=_allocation_table({}, base, model, dense, table), energy_pj=math.nan, latency_s=math.nan,
                  layer_energy_pj={})
    rounds = 0
    for round_index in range(max_rounds):
        rounds = round_index + 1
        found = walk_down(model, choice, calibration, base, base_measure, options, choices, layers, layer_energy,
                          target_pj, target_s, limits, method, seed)
        if isinstance(found, str):
            pool, used_method = [], "greedy" if method == "greedy" else "exact"
        else:
            pool, used_method = [found[0]], found[1]
        pool = _dedupe(pool + _more_candidates(model, choice, calibration, base, base_measure, options, choices, layers,
                                               layer_energy, target_pj, target_s, limits, used_method, offered, seed))
        if not pool:
            floor = (base_measure.energy_pj - sum(max(c.energy_saved_pj for c in layer) for layer in choices)) / dense.energy_pj
            result["status"] = (f"unreachable: {found}; the offered options ({', '.join(offered) or 'none'}) predict at "
                                f"best energy {floor:.3g} of dense, and no uniform level meets it")
            break
        for candidate in pool:
            _score_journalled(candidate, model, choice, calibration, validation, candidate_epochs, seed, key, records,
                              journal)
        kept = best(pool, limits)
        scored += [(round_index, candidate, candidate is kept) for candidate in pool]
        source = kept.source
        allocation = kept.allocation
        pruned = _prune_steps(model, allocation, layers, layer_energy, data, step_epochs, finetune_epochs, seed,
                              key, round_index, records, journal, progress)
        measured = simulate_model(pruned, choice, calibration, shrink=has_channels(allocation))
        result.update(model=pruned, predicted_energy_vs_dense=kept.predicted_pj / dense.energy_pj,
                      accuracy=pruned.accuracy(data.x_test, data.y_test),
                      allocation=_allocation_table(allocation, base, pruned, dense, table))
        if not measured.ok:
            result["status"] = f"missed: the engine refused the pruned model ({measured.refused})"
            break
        result.update(energy_vs_dense=measured.energy_pj / dense.energy_pj, latency_vs_dense=measured.latency_s / dense.latency_s,
                      energy_pj=measured.energy_pj, latency_s=measured.latency_s,
                      allocation=_allocation_table(allocation, base, pruned, dense, table, measured),
                      layer_energy_pj=dict(measured.layer_energy_pj))
        notes.append(f"round {rounds}: kept {kept.source} ({kept.label}) of {len(pool)} candidates; simulated before "
                     f"fine-tuning {kept.quick_pj / dense.energy_pj:.4g}, after {result['energy_vs_dense']:.4g} of dense energy")
        energy_ok = measured.energy_pj <= budget_pj * (1 + 1e-12)
        latency_ok = budget_s is None or measured.latency_s <= budget_s * (1 + 1e-12)
        if energy_ok and latency_ok:
            result["status"] = "ok"
            break
        # fine-tuning moved the energy (activation densities): demand that much margin, and a new allocation
        limit_pj, limit_s = limits.energy_pj, limits.latency_s
        if not energy_ok:
            limit_pj -= max(measured.energy_pj - kept.quick_pj, measured.energy_pj - budget_pj)
            target_pj = min(target_pj, limit_pj)
        if not latency_ok:
            limit_s -= measured.latency_s - budget_s
            target_s = min(target_s, limit_s)
        limits = Limits(limit_pj, limit_s)
        result["status"] = (f"missed: simulated energy {result['energy_vs_dense']:.3g} / latency "
                            f"{result['latency_vs_dense']:.3g} of dense after {rounds} rounds")
    outcome = EnergyAwareResult(
        run=run, energy_budget=energy_budget, latency_budget=latency_budget, accuracy_dense=accuracy_dense,
        sensitivity=table, patterns=rewards, method=used_method, rounds=rounds, energy_pj_dense=dense.energy_pj,
        notes=notes, wall_time_s=0.0, source=source, candidates=_candidate_table(scored, dense.energy_pj),
        layer_energy_pj_dense=dict(dense.layer_energy_pj), base_energy_vs_dense=base_measure.energy_pj / dense.energy_pj,
        **result)
    if out is not None:
        _write_outputs(outcome, out, calibration, seed, finetune_epochs, model)
    outcome.wall_time_s = time.perf_counter() - start
    return outcome


def _sensitivity(model, choice, calibration, validation, dense, patterns, seed, key, records, out, progress,
                 recovery_epochs):
    """The rewards, base allocation, sensitivity table and base measurement: from the journal, or measured."""
    for record in records:
        if record["kind"] == "sensitivity" and record["key"] == key:
            base = {name: LayerOption(**option) for name, option in record["base"].items()}
            measure = Measurement(**record["base_measure"])
            return (pd.DataFrame(record["rewards"]), base,
                    pd.DataFrame(record["rows"], columns=list(SENSITIVITY_COLUMNS)), measure)
    candidates = tuple(dict.fromkeys(PATTERNS + (patterns or ())))
    rewards = pattern_rewards(model, choice, calibration, dense, candidates, seed)
    base = base_allocation(model, choice, calibration, rewards, seed)
    offered = patterns or tuple(rewards.loc[rewards["rewarded"], "pattern"])
    table, measure = energy_sensitivity(model, choice, calibration, validation, offered, base, dense, seed, progress,
                                        recovery_epochs)
    append_record(out, {"kind": "sensitivity", "key": key, "rewards": rewards.to_dict("records"),
                        "base": {name: {"pattern": o.pattern, "sparsity": o.sparsity} for name, o in base.items()},
                        "base_measure": measure.__dict__, "rows": table.astype(object).where(table.notna(), None).to_dict("records")})
    return rewards, base, table, measure


def _choices(layers: list[str], table: pd.DataFrame, offered: tuple[str, ...]):
    """Per layer: the options (index 0 = keep the base) and their :class:`Choice` (savings and cost).

    The cost of an option is the largest loss increase measured at its sparsity
    or below in the same layer and pattern: pruning more of a layer removes a
    superset of the weights, so it cannot cost less, and a lower measurement
    (a layer past recovery saturating near chance) is noise the allocation must
    not prefer.
    """
    options, choices = [], []
    for name in layers:
        rows = table[(table["layer"] == name) & (table["status"] == "ok") & table["pattern"].isin(offered)]
        rows = rows.sort_values(["pattern", "target_sparsity"], kind="stable")
        costs = pd.to_numeric(rows["loss_increase"]).astype(float).groupby(rows["pattern"]).cummax()
        options.append([None] + [LayerOption(r.pattern, float(r.target_sparsity)) for r in rows.itertuples()])
        choices.append([BASE] + [Choice(float(r.energy_saved_pj), float(r.latency_saved_s), float(cost))
                                 for r, cost in zip(rows.itertuples(), costs)])
    return options, choices


def _more_candidates(model, choice, calibration, base, base_measure, options, choices, layers, layer_energy,
                     target_pj, target_s, limits: Limits, used_method: str, offered: tuple[str, ...], seed: int) -> list[Candidate]:
    """The other solver's, each single pattern's and each uniform allocation that meet the limits (duplicates dropped)."""
    pool: list[Candidate] = []
    other = "greedy" if used_method == "exact" else "exact"
    tries = [(other, options, choices, None)]
    if len(offered) > 1:
        tries += [(used_method, *restrict(options, choices, pattern), f"{used_method}:{pattern}") for pattern in offered]
    for solver, kept_options, kept_choices, source in tries:
        try:
            found = walk_down(model, choice, calibration, base, base_measure, kept_options, kept_choices, layers,
                              layer_energy, target_pj, target_s, limits, solver, seed, source=source)
        except Intractable:  # the exact solver outgrew its cap: the greedy one is already in the pool
            continue
        if not isinstance(found, str):
            pool.append(found[0])
    for pattern in offered:
        if parse_option_pattern(pattern)[0] == "nm" and base:
            continue  # the base is already this pattern everywhere
        candidate = uniform_candidate(model, choice, calibration, base, pattern, limits, seed)
        if candidate is not None:
            pool.append(candidate)
    return pool


def _dedupe(pool: list[Candidate]) -> list[Candidate]:
    """The first candidate of each distinct allocation."""
    seen, kept = set(), []
    for candidate in pool:
        signature = tuple(sorted((name, option.label) for name, option in candidate.allocation.items()))
        if signature not in seen:
            seen.add(signature)
            kept.append(candidate)
    return kept


def _score_journalled(candidate: Candidate, model, choice, calibration, validation, epochs: int, seed: int, key: str,
                      records: list[dict], out: Path | None) -> None:
    """Score a candidate (:func:`energysim.energy_aware.candidates.score`), or take its journalled score."""
    signature = sorted((name, option.label) for name, option in candidate.allocation.items())
    for record in records:
        if record["kind"] == "candidate" and record["key"] == key and record["allocation"] == [list(p) for p in signature] \
                and record["epochs"] == epochs:
            for name in ("accuracy_holdout", "loss_holdout", "tuned_pj", "tuned_s"):
                setattr(candidate, name, math.inf if record[name] is None else record[name])
            return
    score(candidate, model, choice, calibration, validation, epochs, seed)
    record = {"kind": "candidate", "key": key, "allocation": [list(p) for p in signature], "epochs": epochs,
              **{name: (None if math.isinf(getattr(candidate, name)) else getattr(candidate, name))
                 for name in ("accuracy_holdout", "loss_holdout", "tuned_pj", "tuned_s")}}
    records.append(record)
    append_record(out, record)


def _candidate_table(scored: list[tuple[int, Candidate, bool]], dense_pj: float) -> pd.DataFrame:
    """One row per scored candidate (:data:`CANDIDATE_COLUMNS`)."""
    rows = [{"round": index + 1, "source": c.source, "allocation": c.label,
             "predicted_energy_vs_dense": c.predicted_pj / dense_pj, "quick_energy_vs_dense": c.quick_pj / dense_pj,
             "tuned_energy_vs_dense": c.tuned_pj / dense_pj, "accuracy_holdout": c.accuracy_holdout,
             "loss_holdout": c.loss_holdout, "kept": kept} for index, c, kept in scored]
    return pd.DataFrame(rows, columns=list(CANDIDATE_COLUMNS))


PLAN_VERSION = 2
"""Part of a step plan's digest: bumped when the steps' seeds change, so older journalled steps are not reused."""


def _prune_steps(model: Model, allocation: dict[str, LayerOption], layers: list[str], layer_energy: list[float],
                 data: Dataset, step_epochs: int, finetune_epochs: int, seed: int, key: str, round_index: int,
                 records: list[dict], out: Path | None, progress) -> Model:
    """Prune layer by layer in decreasing dense energy, fine-tuning between steps; resume from the journal.

    A journalled step is reused only by the same job key and the same plan (the
    layers, their options and the epochs, in order), whatever the budget or round.
    """
    ordered = sorted((name for name in layers if name in allocation), key=lambda n: (-layer_energy[layers.index(n)], layers.index(n)))
    steps = [(name, step_epochs) for name in ordered] + [(None, finetune_epochs)]
    plan = hashlib.sha256(json.dumps([PLAN_VERSION] + [(name, allocation[name].label if name else None, epochs)
                                                       for name, epochs in steps]).encode()).hexdigest()[:12]
    done = {r["step"]: r["model"] for r in records
            if r["kind"] == "step" and r["key"] == key and r.get("plan") == plan and out is not None
            and (out / r["model"] / "model.json").is_file()}
    start = max(done, default=-1)
    pruned = load_model(out / done[start]) if start >= 0 else model.copy()
    with single_threaded_blas(), progress_bar(len(steps), f"energy-aware steps (round {round_index + 1})", progress,
                                                    unit="step") as bar:
        bar.update(start + 1)
        for index in range(start + 1, len(steps)):
            name, epochs = steps[index]
            if name is not None:
                apply_allocation(pruned, {name: allocation[name]}, seed=seed)
            if epochs:
                # the final fine-tune uses the job's seed (as a one-shot baseline does), each layer step its own
                train(pruned, data.x_train, data.y_train, finetune_config(epochs, seed if name is None else seed + 1 + index))
            if out is not None:
                folder = f"steps/{plan}-{index}"
                save_model(pruned, out / folder)
                append_record(out, {"kind": "step", "key": key, "plan": plan, "round": round_index, "step": index,
                                    "model": folder})
            bar.update(1)
    return pruned


def _allocation_table(allocation: dict[str, LayerOption], base: dict[str, LayerOption], model: Model,
                      dense: Measurement, table: pd.DataFrame, final: Measurement | None = None) -> pd.DataFrame:
    """One row per pruned layer, in execution order: what the sensitivity predicted for its option (pruned alone)
    and the layer's energy in ``dense`` and ``final`` (the pruned model's simulation; None: NaN).

    A layer left at its base option predicts 0; an option the sensitivity did
    not measure (a uniform level off its grid) predicts NaN.
    """
    rows = []
    for order, name in enumerate(model.weight_layers):
        option = allocation.get(name)
        if option is None:
            continue
        match = table[(table["layer"] == name) & (table["option"] == option.label) & (table["status"] == "ok")]
        if base.get(name) == option:
            predicted = {"energy_saved_pj": 0.0, "energy_saved_vs_dense": 0.0, "loss_increase": 0.0}
        elif len(match):
            predicted = match.iloc[0]
        else:
            predicted = {"energy_saved_pj": math.nan, "energy_saved_vs_dense": math.nan, "loss_increase": math.nan}
        rows.append({"order": order, "layer": name, "option": option.label, "pattern": option.pattern,
                     "target_sparsity": option.sparsity, "measured_sparsity": model.sparsity(name),
                     "layer_energy_pj_dense": dense.layer_energy_pj.get(name, math.nan),
                     "layer_energy_pj": final.layer_energy_pj.get(name, math.nan) if final is not None else math.nan,
                     "energy_saved_pj": predicted["energy_saved_pj"],
                     "energy_saved_vs_dense": predicted["energy_saved_vs_dense"],
                     "loss_increase": predicted["loss_increase"]})
    return pd.DataFrame(rows, columns=list(ALLOCATION_COLUMNS))


def _write_outputs(result: EnergyAwareResult, out: Path, calibration, seed: int, finetune_epochs: int,
                   dense: Model) -> None:
    """``sensitivity.csv`` and ``.png``, ``patterns.csv``, ``allocation.csv``, ``candidates.csv`` and, when a model was
    produced, ``workload/`` with the dense model before pruning as its dense original (when ``dense`` has no mask),
    so ``estimate`` of it has the baseline this job measured against."""
    from energysim.atomic_files import write_text_atomic
    from energysim.prune.export import export_workload, write_dense_model

    out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out / "sensitivity.csv", result.sensitivity.to_csv(index=False))
    write_text_atomic(out / "patterns.csv", result.patterns.to_csv(index=False))
    write_text_atomic(out / "allocation.csv", result.allocation.to_csv(index=False))
    write_text_atomic(out / "candidates.csv", result.candidates.to_csv(index=False))
    plot_energy_sensitivity(result.sensitivity, out / "sensitivity.png", title=f"Energy saved vs accuracy cost on {result.run}")
    if result.model is None:
        return
    shrink = bool((result.allocation["pattern"] == "channel").any())
    export_workload(exported_model(result.model, shrink), out / "workload", calibration, layer_targets=not shrink,
                    provenance={"criterion": "energy-aware", "schedule": "energy_aware", "seed": seed,
                                "accuracy_dense": result.accuracy_dense, "accuracy_finetuned": result.accuracy,
                                "finetune_epochs": finetune_epochs, "shrunk": shrink or None})
    if all(dense.weight_mask(name).all() for name in dense.weight_layers):
        write_dense_model(dense, out / "workload", calibration, f"{dense.name} (dense original)")
