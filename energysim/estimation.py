"""Estimate what pruning buys: a pruned workload next to its dense original, per layer and in total.

The dense original is, in order of preference:

1. the workload given as ``dense`` (``--dense``);
2. ``dense-original.toml`` next to the pruned workload folder's ``workload.toml``,
   written by the pruning export of a physically shrunk model (:mod:`energysim.prune.export`);
3. the pruned workload's own geometry with every weight present and the same
   input-activation densities (weight tensors dropped, ``weight_density = 1``).

A shrunk workload (``provenance.shrunk = true``) without 1 or 2 is refused: its
own geometry is the small model, and densifying it would compare the model with
itself.

Every table of an :class:`Estimate` carries the run key: ``workload`` (the
pruned workload's name, for both variants), ``hardware`` (the config's name),
``mode`` (the engine mode of the pruned run; '' for an engine without modes)
and ``run`` (``hardware`` or ``hardware:mode``); the long-form tables add
``variant`` (``dense`` or ``pruned``). The dense variant of a ``NAME:MODE`` run
is simulated in the engine's configured (dense) mode and is that run's
baseline. Ratios are fractions of dense: pruned / dense, lower is better.

A geometry-only workload can be estimated at statistical weight densities
instead (``estimate --density 0.5,0.3,0.1``, :func:`estimate_densities`):
each density is the geometry with that ``weight_density`` on every weight
layer, against the same dense original.
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd

from energysim import catalog
from energysim.engines import build_engine
from energysim.errors import InputError, UnsupportedError
from energysim.hardware.hierarchy import Hardware, load_hardware
from energysim.hardware_settings import with_setting_columns
from energysim.progress import progress_bar
from energysim.prune.export import DENSE_ORIGINAL_FILE
from energysim.report.tables import ENERGY_COLUMNS, SUMMARY_COLUMNS, run_name
from energysim.simulate import SimulationRun, engine_mode, run_workload
from energysim.units import BITS_PER_BYTE, PJ_PER_UJ
from energysim.workloads.workload import Workload, load_workload
from energysim.workloads.writing import WORKLOAD_FILE

RUN_KEY = ("workload", "hardware", "mode", "run")
"""Columns naming the run of every estimate row."""

VARIANTS = ("dense", "pruned")
"""The two variants of every run: the dense original and the pruned workload."""

DENSE_REFUSED = "the dense original: "
"""Before a refusal reason that only the dense original met (e.g. a dense layer on a design storing weights 2:4)."""

ESTIMATE_COLUMNS = (
    *RUN_KEY, "layer", "status",
    "energy_uj_dense", "energy_uj_pruned", "energy_unit", "energy_vs_dense",
    "latency_us_dense", "latency_us_pruned", "latency_vs_dense",
    "utilisation_dense", "utilisation_pruned",
    "storage_bytes_dense", "storage_bytes_pruned", "storage_vs_dense", "note",
)
"""Columns of :attr:`Estimate.layers`, in order."""

@dataclass(frozen=True)
class HardwareChoice:
    """A hardware config as named on the command line, with the engine options of the pruned run.

    Attributes
    ----------
    label
        The spec as given (``a100:sparse_2_4``).
    hardware
        The loaded config.
    options
        Engine options of the run (e.g. ``mode``, ``mapping``). The dense original
        gets all but ``mode``: it runs in the engine's configured (dense) mode.
    settings
        Hardware-file values this variant sets (``{'engine.n_pe': 8}``,
        :mod:`energysim.hardware_settings`); empty for the file as written.
    """

    def variant_options(self, variant: str) -> dict[str, Any]:
        """The engine options of one variant: all for ``pruned``, all but ``mode`` for ``dense``."""
        return dict(self.options) if variant == "pruned" else {k: v for k, v in self.options.items() if k != "mode"}

    label: str
    hardware: Hardware
    options: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)


@dataclass
class Estimate:
    """Dense and pruned runs on each hardware, with the side-by-side tables.

    Attributes
    ----------
    layers
        The estimate table, columns :data:`ESTIMATE_COLUMNS`: one row per (run,
        layer) and a ``TOTAL`` row per run. ``energy_uj``, ``latency_us``,
        ``utilisation`` (fraction) and ``storage_bytes`` (weights in the engine's
        own format) of each variant; ``energy_unit`` says what ``energy_uj_*`` hold
        (``pJ``: microjoules; ``MAC``: MAC-equivalents x 1e-6, for hardware whose
        costs are normalised to one MAC), and ``energy_vs_dense``, ``latency_vs_dense``,
        ``storage_vs_dense`` = pruned / dense. ``status`` is ``ok``, or
        ``unsupported: <reason>`` on a layer the engine refused (in either variant;
        its numbers are NaN; ``unsupported: the dense original: <reason>`` when only the
        dense original was refused) or on the one ``TOTAL`` row of a run whose every layer
        it refused. A run with some refused layers has a ``TOTAL`` over the layers
        both variants ran, with status ``partial: K of N layers refused; ...``.
        ``note`` on a run's ``TOTAL`` row holds what its figures must be read with
        (:func:`run_note`: assumed 2:4 pruning, A100 timing), '' on every other row.
    breakdown
        Energy in pJ (MAC-equivalents where ``energy_unit`` is ``MAC``) by run key, variant, layer,
        component, tensor and energy_kind, with its ``energy_unit``.
    summary
        Per-layer summaries of every run that ran, with the run key and ``variant``: the
        layers both variants ran (those its ``TOTAL`` covers), so each variant's rows add
        up to its ``TOTAL`` and a layer only the dense original ran is not counted. ``note``
        on every row holds its run's :func:`run_note` ('' when there is none).
    energy
        Every count x cost row of those layers, with the run key and ``variant``.
    runs
        The :class:`SimulationRun` of each (run, variant) that ran, over the same layers as
        ``summary`` (those its ``TOTAL`` covers), so notes drawn from it speak of those layers.
    """

    layers: pd.DataFrame
    breakdown: pd.DataFrame
    summary: pd.DataFrame
    energy: pd.DataFrame
    runs: dict[tuple[str, str], SimulationRun]

    @property
    def components(self) -> pd.DataFrame:
        """Energy per run and component (and energy kind), both variants side by side.

        Columns: ``workload``, ``run``, ``component``, ``energy_kind``, ``energy_unit``, ``energy_uj_dense``,
        ``energy_uj_pruned``, ``energy_vs_dense`` (pruned / dense); runs are never added together.
        """
        index = ["workload", "run", "component", "energy_kind", "energy_unit"]
        columns = [*index, "energy_uj_dense", "energy_uj_pruned", "energy_vs_dense"]
        if self.breakdown.empty:
            return pd.DataFrame(columns=columns)
        table = self.breakdown.pivot_table(index=index, columns="variant", values="energy_pj", aggfunc="sum",
                                           sort=False, fill_value=0.0).reset_index()
        table.columns.name = None
        table["energy_uj_dense"] = table.get("dense", 0.0) / PJ_PER_UJ
        table["energy_uj_pruned"] = table.get("pruned", 0.0) / PJ_PER_UJ
        table["energy_vs_dense"] = [_fraction(p, d) for p, d in zip(table["energy_uj_pruned"], table["energy_uj_dense"])]
        return table[columns]

    @property
    def refused(self) -> dict[str, str]:
        """Runs an engine refused as a whole (every layer), by ``run``, with the reason."""
        rows = self.layers[(self.layers["layer"] == "TOTAL") & self.layers["status"].str.startswith("unsupported")]
        return dict(zip(rows["run"], rows["status"]))

    @property
    def refused_layers(self) -> dict[tuple[str, str], str]:
        """Layers an engine refused in a run that ran the others, by (``run``, layer), with the reason."""
        rows = self.layers[(self.layers["layer"] != "TOTAL") & (self.layers["status"] != "ok")]
        return {(run, layer): status for run, layer, status in zip(rows["run"], rows["layer"], rows["status"])}

    def __repr__(self) -> str:
        totals = self.layers[self.layers["layer"] == "TOTAL"]
        workloads = ", ".join(dict.fromkeys(totals["workload"]))
        parts = [f"{row.run} refused" if row.status.startswith("unsupported")
                 else f"{row.run}: energy {_significant(row.energy_vs_dense)} of dense"
                 + ("" if row.status == "ok" else f" ({row.status.split(';')[0]})") for row in totals.itertuples()]
        return f"<Estimate {workloads!r}: {'; '.join(parts)}>"

    def _repr_html_(self) -> str:
        """A notebook's view: the TOTAL row of every run."""
        import html

        totals = self.layers[self.layers["layer"] == "TOTAL"].drop(columns=["layer"])
        return (f"<p><b>{html.escape(repr(self))}</b> (per layer: <code>.layers</code>)</p>"
                + totals.to_html(index=False, float_format=lambda v: f"{v:.4g}"))


def _fraction(pruned: float, dense: float) -> float:
    """pruned / dense, NaN when the dense value is 0 or missing."""
    return pruned / dense if dense and not math.isnan(dense) else math.nan


def _significant(value: float) -> str:
    from energysim.report.terminal import ratio

    return ratio(value) or "n/a"


def densified(workload: Workload) -> Workload:
    """The dense counterpart: same layers and activation densities, every weight present."""
    layers = tuple(
        layer.model_copy(update={"weight_density": 1.0, "weight_key": None, "mask_key": None, "activations_key": None,
                                 "target_sparsity": None, "measured_sparsity": None})
        for layer in workload.layers
    )
    return replace(workload, name=f"{workload.name} (dense original)", layers=layers, tensors=None, provenance=None)


def dense_original(pruned: Workload) -> Workload:
    """The dense original of ``pruned`` when none is given (see the module docstring, cases 2 and 3).

    Raises
    ------
    InputError
        If ``pruned`` was physically shrunk and no ``dense-original.toml`` lies next to it.
    """
    beside = _dense_original_file(pruned)
    if beside is not None:
        return load_workload(beside)
    if pruned.provenance is not None and pruned.provenance.shrunk:
        where = f" ({pruned.path})" if pruned.path is not None else ""
        raise InputError(
            f"workload '{pruned.name}'{where} was physically shrunk (provenance.shrunk = true), so its own geometry "
            "is not the dense original and a densified copy would compare the model with itself: give the real "
            "dense original with --dense (Python: dense=), e.g. the unpruned model folder or an export without --shrink"
        )
    return densified(pruned)


def _dense_original_file(pruned: Workload) -> Path | None:
    """``dense-original.toml`` beside the pruned export's ``workload.toml``, or None (case 2 of the module docstring)."""
    in_folder = pruned.path is not None and pruned.path.name == WORKLOAD_FILE  # an export's folder, not a shared one
    beside = pruned.path.parent / DENSE_ORIGINAL_FILE if in_folder else None
    return beside if beside is not None and beside.is_file() else None


def dense_original_source(pruned: Workload, given: str | None = None) -> str:
    """Which dense original :func:`estimate` compares ``pruned`` with, in words (cases 1-3 of the module docstring).

    ``given`` is the ``--dense`` argument, if any. A ``dense-original.toml`` with tensors is the
    model before pruning (``energysim prune --out``); one without is the original geometry of
    a shrunk export.
    """
    if given is not None:
        return f"--dense {given}"
    beside = _dense_original_file(pruned)
    if beside is None:
        return f"built from {pruned.name} (every weight present, its own activation densities)"
    if load_workload(beside).tensors:
        return f"{beside.name} beside it (the model before pruning, its own weights and activations)"
    return f"{beside.name} beside it (the original geometry, every weight present)"


def unpruned_note(pruned: Workload) -> str:
    """A note (one paragraph) that ``pruned`` carries no pruning, or ''.

    Only where the dense original is built from ``pruned`` itself (case 3: no
    ``dense-original.toml`` beside it, not shrunk), every ``weight_density`` is 1 and no
    layer has a mask or measured zero weights (an import of a torch-pruned model keeps
    ``weight_density`` 1 beside its real masks); a shrunk export keeps dense weights in a
    smaller geometry and has its own original. Call it only without ``--dense``.
    """
    shrunk = pruned.provenance is not None and pruned.provenance.shrunk
    pruned_layers = [layer for layer in pruned.layers if layer.weight_density < 1 or (layer.measured_sparsity or 0.0) > 0
                     or (layer.mask_key and layer.measured_sparsity is None)]
    if shrunk or _dense_original_file(pruned) is not None or pruned_layers:
        return ""
    return (f"note: {pruned.name} carries no pruning (every layer's weight_density is 1, no mask or measured zeros), "
            "so its dense original is the same model and every ratio is 1 by construction; give --density 0.5,0.3 to "
            "estimate statistical "
            "pruning, or a pruned workload")


def densified_note(pruned: Workload) -> str:
    """A note (one paragraph, unwrapped) that the dense original is case 3 of the module docstring, or ''."""
    if _dense_original_file(pruned) is not None:
        return ""
    return (f"note: the built dense original borrows {pruned.name}'s activation densities (no --dense, no "
            f"{DENSE_ORIGINAL_FILE} beside it); on hardware that skips zero activations (EIE, sparse loop-nest "
            "designs) a dense model's own activations can give another baseline: give it with --dense "
            "(energysim prune --out of a trained model writes it beside the pruned model; after prune --workload W, "
            "give --dense W)")


def load_source(name_or_path: str | Path) -> Workload:
    """A workload from a workload name/path/folder, or from a model folder (model.json + model.npz)."""
    path = Path(name_or_path)
    if path.is_dir() and (path / "model.json").is_file():
        from energysim.prune import export_workload, load_digits_dataset, load_model

        model = load_model(path)
        with tempfile.TemporaryDirectory() as tmp:
            return load_workload(export_workload(model, Path(tmp) / "w", load_digits_dataset().calibration(64)))
    return load_workload(catalog.workload_path(str(name_or_path)))


def _storage_bytes(run: SimulationRun) -> dict[str, float]:
    return {r.layer: r.stats["weight_storage_bits"] / BITS_PER_BYTE for r in run.results}


def estimate(pruned: Workload, hardware: list[HardwareChoice], dense: Workload | None = None,
             progress: bool | None = None, dense_runs: dict | None = None) -> Estimate:
    """Simulate the pruned workload and its dense original on every hardware.

    Parameters
    ----------
    pruned
        The pruned workload.
    hardware
        Hardware choices; each is one run (its ``run`` key must be unique).
    dense
        The dense original (default: :func:`dense_original`).
    progress
        A bar on stderr ticking once per simulated layer of every run and variant:
        ``None`` only when stderr is a terminal, ``True`` always, ``False`` never.
    dense_runs
        Simulations of ``dense`` to reuse and fill in, shared by calls with the same
        dense original and hardware (as :func:`estimate_densities` makes them).

    Returns
    -------
    Estimate
        A layer an engine refuses (:class:`~energysim.errors.UnsupportedError`, e.g. a
        grouped convolution on a one-GEMM engine) is a row with its reason in
        ``status`` and the rest of the run goes on; a run whose every layer is refused
        (e.g. a mask that is not 2:4 on ``a100:sparse_2_4``) is one ``TOTAL`` row.

    Raises
    ------
    InputError
        If no hardware is given, two choices name the same run, ``dense`` does not
        have the pruned workload's layer names, or the pruned workload is shrunk
        and has no dense original.
    """
    if not hardware:
        raise InputError("estimate needs at least one hardware config (--hw)")
    dense = dense or dense_original(pruned)
    if [l.name for l in dense.layers] != [l.name for l in pruned.layers]:
        raise InputError(
            f"dense workload '{dense.name}' must have the pruned workload's layers in order "
            f"(got {[l.name for l in dense.layers]} vs {[l.name for l in pruned.layers]})"
        )
    plan = _plan(pruned.name, hardware)
    simulations: dict[tuple, SimulationRun | UnsupportedError] = {}
    shared = simulations if dense_runs is None else dense_runs
    jobs = {_job_key(choice, variant) for choice, _ in plan for variant in VARIANTS}
    jobs -= set(shared) if shared is not simulations else set()
    runs: dict[tuple[str, str], SimulationRun] = {}
    rows, summaries, energies = [], [], []
    with progress_bar(len(jobs) * len(pruned.layers), f"estimate {pruned.name}", progress) as bar:
        for choice, key in plan:
            pair = {}
            for variant, workload in (("dense", dense), ("pruned", pruned)):
                job = _job_key(choice, variant)
                store = shared if variant == "dense" else simulations
                if job not in store:
                    try:
                        store[job] = run_workload(workload, choice.hardware, on_layer=_ticker(bar, key["run"], variant),
                                                  skip_refused=True, **choice.variant_options(variant))
                    except UnsupportedError as exc:
                        store[job] = exc
                pair[variant] = store[job]
            refusal = next((f"{DENSE_REFUSED if variant == 'dense' else ''}{pair[variant]}" for variant in ("pruned", "dense")
                            if isinstance(pair[variant], UnsupportedError)), None)
            unit = {"energy_unit": choice.hardware.energy_unit}
            if refusal is not None:
                rows.append({**key, "layer": "TOTAL", "status": f"unsupported: {refusal}", **unit})
                continue
            reasons = {**{layer: DENSE_REFUSED + why for layer, why in pair["dense"].refused.items()}, **pair["pruned"].refused}
            both = {layer.name for layer in pruned.layers} - set(reasons)
            if not both:
                rows.append({**key, "layer": "TOTAL", "status": f"unsupported: {next(iter(reasons.values()))}", **unit})
                continue
            d, p = pair["dense"].only(both), pair["pruned"].only(both)
            for variant, run in (("dense", d), ("pruned", p)):
                runs[(key["run"], variant)] = run
                summaries.append(_keyed(run.summary.assign(note=run_note(run)), key, variant))
                energies.append(_keyed(run.energy, key, variant))
            storage_d, storage_p = _storage_bytes(d), _storage_bytes(p)
            summary_d, summary_p = d.summary.set_index("layer"), p.summary.set_index("layer")
            for layer in (l.name for l in pruned.layers):
                if layer in reasons:
                    rows.append({**key, "layer": layer, "status": f"unsupported: {reasons[layer]}", **unit})
                    continue
                rows.append(_side_by_side(key, layer, summary_d.loc[layer], summary_p.loc[layer], storage_d[layer],
                                          storage_p[layer]))
            total = _side_by_side(key, "TOTAL", d.totals(), p.totals(), sum(storage_d.values()), sum(storage_p.values()))
            if reasons:
                total["status"] = (f"partial: {len(reasons)} of {len(pruned.layers)} layers refused; "
                                   f"TOTAL covers the other {len(both)}")
            total["note"] = run_note(p)
            rows.append(total)
    layers = pd.DataFrame([{"note": "", **row} for row in rows], columns=list(ESTIMATE_COLUMNS))
    summary = (pd.concat(summaries, ignore_index=True) if summaries
               else _keyed(pd.DataFrame(columns=[*SUMMARY_COLUMNS, "note"]), {}, ""))
    energy = pd.concat(energies, ignore_index=True) if energies else _keyed(pd.DataFrame(columns=ENERGY_COLUMNS), {}, "")
    tables = [with_setting_columns(frame, hardware) for frame in (layers, _breakdown(energy), summary, energy)]
    return Estimate(*tables, runs)


def assumed_2_4_note(run: SimulationRun) -> str:
    """A note that the run's layers ran in 2:4 mode without masks, or ''.

    The sparse tensor-core engine assumes such a layer pruned to exactly 2:4 (its
    ``stats`` flag :data:`~energysim.engines.sparse_tc.engine.ASSUMED_2_4`), whatever its
    ``weight_density`` says.

    Parameters
    ----------
    run
        One simulation run (any engine; only sparse tensor-core layers set the flag).

    Returns
    -------
    str
        One paragraph starting ``note:``, without a line break, naming the run and
        how many of its layers were assumed 2:4; '' when none was.
    """
    from energysim.engines.sparse_tc.engine import ASSUMED_2_4

    assumed = [r.layer for r in run.results if r.stats.get(ASSUMED_2_4)]
    if not assumed:
        return ""
    return (f"note: {run.run} ran {len(assumed)} of {len(run.results)} layers without weight masks: each is "
            "assumed pruned to exactly 2:4 (half of K kept), whatever its weight_density says, so its "
            "figures describe a 2:4-pruned model, not this workload's own pruning; give masked weights "
            "(energysim prune --granularity nm --nm 2:4) to simulate a real 2:4 model")


def run_note(run: SimulationRun) -> str:
    """What one pruned run's figures must be read with, as the ``note`` of its ``TOTAL`` row, or ''.

    Parameters
    ----------
    run
        The pruned variant's simulation run.

    Returns
    -------
    str
        :func:`assumed_2_4_note` and the A100 timing note
        (:func:`energysim.engines.sparse_tc.notes.timing_note`), each without its
        ``note:`` prefix (as ``compare.csv``'s ``note`` column), joined as sentences
        (each ends with a full stop); '' when the run has neither.
    """
    from energysim.engines.sparse_tc.notes import timing_note

    notes = (note.removeprefix("note: ").strip() for note in (assumed_2_4_note(run), timing_note(run.run, run.results)))
    return " ".join(note if note.endswith(".") else f"{note}." for note in notes if note)


def _ticker(bar, run: str, variant: str):
    """One tick of the estimate's bar per simulated layer, naming the run, variant and layer."""
    def tick(layer: str) -> None:
        bar.set_postfix_str(f"{run} {variant} {layer}", refresh=False)
        bar.update(1)

    return tick


def _plan(workload: str, hardware: list[HardwareChoice]) -> list[tuple[HardwareChoice, dict[str, str]]]:
    """Each choice with its run key; two choices naming one run are refused."""
    plan, seen = [], {}
    for choice in hardware:
        mode = engine_mode(build_engine(choice.hardware), choice.options)
        key = {"workload": workload, "hardware": choice.hardware.name, "mode": mode,
               "run": run_name(choice.hardware.name, mode)}
        if key["run"] in seen:
            raise InputError(f"hardware '{seen[key['run']]}' and '{choice.label}' are the same run '{key['run']}'; "
                             "give each hardware and mode once")
        seen[key["run"]] = choice.label
        plan.append((choice, key))
    return plan


def _job_key(choice: HardwareChoice, variant: str) -> tuple:
    """What decides a simulation: the hardware file (or object) and its --set values, the variant and its engine options."""
    hardware = (str(choice.hardware.path), choice.hardware.name) if choice.hardware.path is not None else id(choice.hardware)
    return hardware, variant, tuple(sorted((k, str(v)) for k, v in choice.variant_options(variant).items()))


def _keyed(frame: pd.DataFrame, key: dict[str, str], variant: str) -> pd.DataFrame:
    """``frame`` with the estimate's run key (workload, hardware, mode, run) and ``variant``."""
    frame = frame.assign(**key, variant=variant)
    ordered = [*RUN_KEY, "variant"]
    return frame[ordered + [c for c in frame.columns if c not in ordered]]


def _breakdown(energy: pd.DataFrame) -> pd.DataFrame:
    columns = [*RUN_KEY, "variant", "layer", "component", "tensor", "energy_kind", "energy_unit"]
    if energy.empty:
        return pd.DataFrame(columns=[*columns, "energy_pj"])
    return energy.groupby(columns, sort=False)["energy_pj"].sum().reset_index()


def _side_by_side(key: dict[str, str], layer: str, dense, pruned, storage_dense: float, storage_pruned: float) -> dict:
    return {
        **key,
        "layer": layer,
        "status": "ok",
        "energy_uj_dense": dense["energy_uj"],
        "energy_uj_pruned": pruned["energy_uj"],
        "energy_unit": pruned["energy_unit"],
        "energy_vs_dense": _fraction(pruned["energy_uj"], dense["energy_uj"]),
        "latency_us_dense": dense["latency_s"] * 1e6,
        "latency_us_pruned": pruned["latency_s"] * 1e6,
        "latency_vs_dense": _fraction(pruned["latency_s"], dense["latency_s"]),
        "utilisation_dense": dense["utilisation"],
        "utilisation_pruned": pruned["utilisation"],
        "storage_bytes_dense": storage_dense,
        "storage_bytes_pruned": storage_pruned,
        "storage_vs_dense": _fraction(storage_pruned, storage_dense),
    }


def parse_densities(text: str) -> tuple[float, ...]:
    """Weight densities from ``0.5,0.3,0.1``: each a fraction of weights kept, in (0, 1].

    Raises
    ------
    InputError
        Naming the value and the rule.
    """
    values = []
    for part in (p.strip() for p in str(text).split(",")):
        try:
            value = float(part)
        except ValueError:
            raise InputError(f"--density: each value must be a number in (0, 1], comma-separated (got {part!r})") from None
        if not 0 < value <= 1:
            raise InputError(f"--density: each value must be a fraction of weights kept in (0, 1] (got {part})")
        values.append(value)
    return tuple(dict.fromkeys(values))


def with_density(workload: Workload, density: float) -> Workload:
    """A geometry-only workload at one statistical weight density.

    Every layer that holds weights gets ``weight_density = density`` (a statistical
    mask: the engines draw or count that fraction of weights present); attention's
    activation-activation matmuls (``batched_matmul``) keep theirs. The name gets
    ``@density`` so each density is its own workload in the tables.

    Raises
    ------
    InputError
        If a layer carries real weights (``weight_key``): its own pruning is what an
        estimate of it describes (``compare --workload`` prunes real weights).
    """
    real = [layer.name for layer in workload.layers if layer.weight_key is not None]
    if real or workload.tensors:
        where = f" ({workload.path})" if workload.path is not None else ""
        raise InputError(
            f"workload '{workload.name}'{where}: --density applies to geometry-only workloads, but layer "
            f"'{(real or list(workload.tensors or {}))[0]}' carries real weights; estimate it as it is, or prune its "
            "weights with 'energysim compare --workload'"
        )
    layers = tuple(layer if layer.kind == "batched_matmul" else layer.model_copy(update={"weight_density": density})
                   for layer in workload.layers)
    return replace(workload, name=f"{workload.name}@{density:g}", layers=layers)


def estimate_densities(workload: Workload, hardware: list[HardwareChoice], densities: tuple[float, ...],
                       dense: Workload | None = None, progress: bool | None = None) -> Estimate:
    """``estimate --density``: the geometry at each statistical weight density against its dense original.

    Parameters
    ----------
    workload
        A geometry-only workload (see :func:`with_density`).
    hardware
        Hardware choices, as for :func:`estimate`.
    densities
        Fractions of weights kept, each in (0, 1] (:func:`parse_densities`).
    dense
        The dense original (default: the geometry with every weight present).
    progress
        A bar on stderr per density (``None``: only on a terminal).

    Returns
    -------
    Estimate
        The tables of every density stacked, each row's ``workload`` naming its density
        (``mobilenetv2@0.5``) and a ``weight_density`` column after the run key;
        ``runs`` is keyed by (``workload/run``, variant). The dense original runs once
        per hardware, shared by every density.
    """
    if not densities:
        raise InputError("--density needs at least one density")
    dense = dense or densified(workload)
    dense_runs: dict = {}
    parts = []
    for density in densities:
        variant = with_density(workload, density)
        parts.append((density, variant.name,
                      estimate(variant, hardware, dense, progress=progress, dense_runs=dense_runs)))

    def stacked(name: str) -> pd.DataFrame:
        frames = []
        for density, _, part in parts:
            frame = getattr(part, name)
            frames.append(frame.assign(weight_density=density) if not frame.empty else frame.assign(weight_density=[]))
        frame = pd.concat(frames, ignore_index=True)
        ordered = [*RUN_KEY, "weight_density"]
        return frame[ordered + [c for c in frame.columns if c not in ordered]]

    runs = {(f"{name}/{run}", variant): sim for _, name, part in parts for (run, variant), sim in part.runs.items()}
    return Estimate(stacked("layers"), stacked("breakdown"), stacked("summary"), stacked("energy"), runs)


def load_hardware_list(specs: list[str]) -> list[HardwareChoice]:
    """Hardware configs by bundled name or path, each optionally ``NAME:MODE`` (mode of the pruned run)."""
    choices = []
    for spec in specs:
        path, options = catalog.hardware_spec(spec)
        choices.append(HardwareChoice(spec, load_hardware(path), options))
    return choices
