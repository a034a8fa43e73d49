"""CLI sub-commands of the pruning engine: ``train``, ``prune``, ``sensitivity``, ``prune-table``.

``energysim.cli`` calls :func:`register` with its sub-parser collection. Every
handler takes ``(args, out)``, writes human-readable text to the stream
``out`` (never to stdout directly), returns 0, and raises ``InputError`` /
``ConfigError`` for bad input. Progress bars go to stderr and only show on a
terminal, never with ``--quiet``.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path
from typing import TextIO

from energysim.argument_types import count, fraction_of_dense, seed
from energysim.atomic_files import write_text_atomic
from energysim.errors import InputError
from energysim.prune.choices import CRITERION_NAMES, GRANULARITY_NAMES, MODEL_NAMES, ROUNDING_NAMES, SCHEDULE_NAMES
from energysim.pruning_patterns import parse_nm
from energysim.report.terminal import Column, percent, ratio, render_table, terminal_width


def _progress(args: argparse.Namespace) -> bool | None:
    return False if getattr(args, "quiet", False) else None


MODEL_FILES = ("model.json", "model.npz")
WORKLOAD_FILES = ("workload.toml", "tensors.npz", "dense-original.toml", "dense-original.npz")


def _refuse_overwrites(args: argparse.Namespace, folders: dict[str, tuple[str, ...]], files: tuple[str, ...] = ()) -> None:
    """Before any work: refuse output folders/files that already hold results, unless --force.

    ``folders`` maps an option's dest to the file names written into that folder;
    ``files`` are dests of single output files.
    """
    from energysim.output_folder import claim_paths, result_files

    for dest in folders:
        if getattr(args, dest, None):
            result_files(getattr(args, dest), f"--{dest.replace('_', '-')}")  # a file there, or nothing writable
    wanted = {f"--{dest.replace('_', '-')}": [Path(getattr(args, dest)) / name for name in names]
              for dest, names in folders.items() if getattr(args, dest, None)}
    wanted.update({f"--{dest.replace('_', '-')}": [Path(getattr(args, dest))] for dest in files if getattr(args, dest, None)})
    claim_paths(wanted, args.force)


def _float_list(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise InputError(f"sparsities must be comma-separated numbers like 0.5,0.7 (got {text!r})") from None
    if not values:
        raise InputError(f"sparsities must list at least one number (got {text!r})")
    return values


def _load_or_train(args: argparse.Namespace, out: TextIO):
    from energysim.prune.data import load_digits_dataset
    from energysim.prune.models import build_model, load_model
    from energysim.prune.training import DEFAULT_TRAINING, train

    data = load_digits_dataset()
    if args.model_dir:
        model = load_model(args.model_dir)
        out.write(f"loaded {model.name} from {args.model_dir}\n")
    else:
        model = build_model(args.model, args.seed)
        config = DEFAULT_TRAINING[args.model]
        train(model, data.x_train, data.y_train, replace(config, seed=args.seed), progress=_progress(args))
        out.write(f"trained {model.name} (seed {args.seed}): test accuracy {100 * model.accuracy(data.x_test, data.y_test):.1f} %\n")
    return model, data


def _add_model_source(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--model-dir", help="folder of a model saved by 'energysim train'")
    source.add_argument("--model", choices=MODEL_NAMES, default="cnn", help="train this model first")
    parser.add_argument("--seed", type=seed, default=0, help="seed of initialisation, training and random scores")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.add_argument("--force", action="store_true", help="replace output files that already exist")


def cmd_train(args: argparse.Namespace, out: TextIO) -> int:
    """Train a model on the digits and save it (model.json + model.npz)."""
    from energysim.prune.data import load_digits_dataset
    from energysim.prune.models import build_model, save_model
    from energysim.prune.training import DEFAULT_TRAINING, TrainConfig, train

    _refuse_overwrites(args, {"out": MODEL_FILES})
    data = load_digits_dataset()
    model = build_model(args.model, args.seed)
    defaults = DEFAULT_TRAINING[args.model]
    config = TrainConfig(
        epochs=defaults.epochs if args.epochs is None else args.epochs,
        batch_size=defaults.batch_size,
        learning_rate=defaults.learning_rate,
        seed=args.seed,
    )
    start = time.perf_counter()
    train(model, data.x_train, data.y_train, config, progress=_progress(args))
    seconds = time.perf_counter() - start
    accuracy = model.accuracy(data.x_test, data.y_test)
    model.metadata.update({"seed": args.seed, "epochs": config.epochs, "accuracy_dense": accuracy, "dataset": data.name})
    save_model(model, args.out)
    out.write(f"trained {model.name} for {config.epochs} epochs in {seconds:.1f} s: test accuracy {100 * accuracy:.1f} %\n")
    out.write(f"saved to {args.out}/model.json and model.npz\n")
    return 0


MASK_COLUMNS = (
    Column("layer"),
    Column("sparsity", "percent", "measured sparsity"),
    Column("nnz", "count", "non-zeros"),
    Column("dense_bits", "bits", "dense"),
    Column("csr_bits", "bits", "CSR"),
    Column("nm_2_4_bits", "bits", "2:4"),
    Column("rows", "count"),
    Column("cols", "count"),
    Column("row_imbalance", "number", "row imbalance", compact=False),
    Column("nm24_violating_fraction", "percent", "groups breaking 2:4", compact=False),
)
"""The mask table ``prune`` prints (storage in bytes, from the bit counts)."""


def cmd_prune(args: argparse.Namespace, out: TextIO) -> int:
    """Prune a model with a schedule and export the pruned workload folder (or to an energy budget)."""
    from energysim.prune.data import load_digits_dataset
    from energysim.prune.export import export_workload, write_dense_model
    from energysim.prune.models import save_model
    from energysim.prune.pruner import PruneRequest
    from energysim.prune.schedules import run_schedule

    if args.workload is not None:
        return cmd_prune_workload(args, out)
    if args.energy_budget is None:
        for flag in ("hw", "latency_budget", "patterns", "method", "step_epochs"):
            if getattr(args, flag) is not None:
                raise InputError(f"prune: --{flag.replace('_', '-')} needs --energy-budget (pruning to a budget on --hw)")
        request = PruneRequest(
            granularity=args.granularity,
            criterion=args.criterion,
            sparsity=args.sparsity,
            nm=parse_nm(args.nm),
            block=args.block,
            seed=args.seed,
            rounding=args.rounding,
        )
        _refuse_overwrites(args, {"out": WORKLOAD_FILES, "save_model": MODEL_FILES})  # before the data set loads
    elif not args.hw:
        raise InputError("prune: --energy-budget needs --hw HW (the hardware run whose energy the budget is a fraction of)")
    elif args.out:
        from energysim.energy_aware.journal import read_journal
        from energysim.output_folder import result_files

        result_files(args.out)  # refuses a file or an unwritable path; the job's own files resume
        read_journal(Path(args.out))  # a journal that is no journal is refused before any training
    if args.model_dir:
        from energysim.prune.models import load_model

        load_model(args.model_dir)  # a bad folder is refused at once, before the data set loads (seconds)
    load_digits_dataset().calibration(args.calibration_samples, seed=args.seed)  # its range, before any training
    if args.energy_budget is not None:
        return cmd_prune_for_energy(args, out)
    model, data = _load_or_train(args, out)
    dense = model.copy() if all(model.weight_mask(n).all() for n in model.weight_layers) else None
    result = run_schedule(
        model, request, data, args.schedule, finetune_epochs=args.finetune_epochs, steps=args.steps, progress=_progress(args)
    )
    out.write(
        f"{request.granularity} / {request.criterion} / {args.schedule}: target sparsity {request.target_sparsity:.3f}, "
        f"measured {result.report.total_sparsity:.3f} (all weight layers)\n"
    )
    out.write(
        f"test accuracy: dense {100 * result.accuracy_dense:.1f} %, pruned {100 * result.accuracy_pruned:.1f} %, "
        f"fine-tuned ({args.finetune_epochs} epochs) {100 * result.accuracy_finetuned:.1f} %\n"
    )
    from energysim.prune.mask_report import layer_mask_table

    out.write("\nmasks (16-bit values; weight storage in each format, blank = the format does not apply):\n")
    out.write(render_table(layer_mask_table(model, value_bits=16), MASK_COLUMNS, wide=args.wide))
    calibration = data.calibration(args.calibration_samples, seed=args.seed)
    exported, description = model, ""
    if args.shrink:
        from energysim.prune.structure import shrink_model

        exported = shrink_model(model)
        description = (
            f"{model.name} trained on scikit-learn digits, {request.granularity}-pruned by energysim.prune "
            "and physically shrunk (dead channels removed)"
        )
        shapes = ", ".join(f"{n} {exported.weights(n).shape}" for n in exported.weight_layers)
        out.write(f"shrunk model: {shapes}\n")
    path = export_workload(exported, args.out, calibration, description=description, layer_targets=not args.shrink,
                           original=model if args.shrink and dense is None else None)
    out.write(f"workload written to {path}\n")
    if dense is not None:  # the model before pruning: estimate's baseline is then the dense model compare runs
        written = write_dense_model(dense, args.out, calibration, f"{model.name} (dense original)")
        out.write(f"dense original (the model before pruning, its own weights and activations) written to {written}\n")
    if args.save_model:
        save_model(model, args.save_model)
        out.write(f"pruned model saved to {args.save_model}\n")
    return 0


def cmd_prune_workload(args: argparse.Namespace, out: TextIO) -> int:
    """``prune --workload W``: prune the weights W carries (data-free criterion, no fine-tuning) and export them."""
    from energysim.estimation import load_source
    from energysim.prune.workload_pruning import prune_workload, write_pruned_workload

    for flag in ("model_dir", "shrink", "save_model", "energy_budget", "hw"):
        if getattr(args, flag) not in (None, False):
            raise InputError(f"prune: --{flag.replace('_', '-')} is not used with --workload (it prunes the weights the "
                             "workload carries, with no training data)")
    pattern = f"nm:{args.nm}" if args.granularity == "nm" else args.granularity
    _refuse_overwrites(args, {"out": WORKLOAD_FILES})
    workload = load_source(args.workload)
    result = prune_workload(workload, pattern, args.criterion, args.sparsity, seed=args.seed, block=args.block)
    out.write(f"{workload.name}: {pattern} / {args.criterion} (no data, no fine-tuning): measured sparsity "
              f"{result.sparsity_measured:.3f} over {len(result.layer_error)} weight layers; weight-reconstruction error "
              f"||W - W_pruned|| / ||W|| = {result.weight_error:.4g} (not an accuracy)\n")
    for name, error in result.layer_error.items():
        layer = next(l for l in result.workload.layers if l.name == name)
        out.write(f"  {name}: sparsity {layer.measured_sparsity:.3f}, weight error {error:.4g}\n")
    path = write_pruned_workload(result, args.out, pattern, args.criterion, args.sparsity)
    out.write(f"workload written to {path} (simulate it with 'energysim estimate {args.out} --hw ...')\n")
    return 0


PATTERN_COLUMNS = (
    Column("pattern"),
    Column("status"),
    Column("energy_vs_dense", "ratio"),
    Column("rewarded", "flag"),
)
"""Which patterns the hardware rewards (energy-aware pruning's probe)."""


def cmd_prune_for_energy(args: argparse.Namespace, out: TextIO) -> int:
    """``prune --energy-budget F --hw HW``: pick each layer's pattern and sparsity to meet the budget at least loss."""
    from energysim.energy_aware.allocation_display import render_allocation
    from energysim.energy_aware.job import prune_for_energy
    from energysim.energy_aware.options import PATTERNS
    from energysim.estimation import load_hardware_list

    if not args.hw:
        raise InputError("prune: --energy-budget needs --hw HW (the hardware run whose energy the budget is a fraction of)")
    patterns = None
    if args.patterns:
        patterns = tuple(dict.fromkeys(p.strip() for p in args.patterns.split(",") if p.strip()))
        unknown = [p for p in patterns if p not in PATTERNS]
        if unknown or not patterns:
            raise InputError(f"prune: --patterns must be comma-separated, of: {', '.join(PATTERNS)} (got {args.patterns!r})")
    choice = load_hardware_list([args.hw])[0]
    model, data = _load_or_train(args, out)
    result = prune_for_energy(model, choice, args.energy_budget, args.latency_budget, patterns=patterns,
                              method=args.method or "auto", finetune_epochs=args.finetune_epochs,
                              step_epochs=1 if args.step_epochs is None else args.step_epochs, seed=args.seed,
                              out_dir=args.out, calibration_samples=args.calibration_samples, data=data,
                              progress=_progress(args))
    out.write(f"\npatterns on {result.run} (probe: every layer pruned at the probe sparsity, energy of dense):\n")
    out.write(render_table(result.patterns, PATTERN_COLUMNS, wide=args.wide))
    out.write(render_allocation(result, wide=args.wide))
    for note in result.notes:
        out.write(f"note: {note}\n")
    if not result.budget_met:
        out.write(f"\nbudget not met: {result.status}\n")
        return 0
    latency = "" if result.latency_budget is None else f", latency {ratio(result.latency_vs_dense)} of dense (budget {result.latency_budget:g})"
    out.write(f"\nenergy {ratio(result.energy_vs_dense)} of dense (budget {result.energy_budget:g}){latency}, "
              f"accuracy {100 * result.accuracy:.1f} % (dense {100 * result.accuracy_dense:.1f} %)\n")
    if args.out:
        out.write(f"wrote the tables to {args.out} and the pruned workload with its dense original to "
                  f"{Path(args.out) / 'workload'} (energysim estimate {args.out} --hw {args.hw}: this energy vs dense)\n")
    return 0


def cmd_sensitivity(args: argparse.Namespace, out: TextIO) -> int:
    """Per-layer sensitivity scan: table to ``out``, optional CSV and PNG plot."""
    from energysim.prune.sensitivity import plot_sensitivity, sensitivity_scan

    sparsities = _float_list(args.sparsities)
    _refuse_overwrites(args, {}, ("csv", "png"))
    model, data = _load_or_train(args, out)
    table = sensitivity_scan(model, data, args.granularity, args.criterion, sparsities, progress=_progress(args))
    table.insert(0, "model", model.name)
    wide = table.pivot(index="target_sparsity", columns="layer", values="accuracy")[list(dict.fromkeys(table["layer"]))]
    out.write(f"test accuracy (%) with one layer pruned ({args.granularity}, {args.criterion}); "
              f"dense {100 * table['accuracy_dense'].iloc[0]:.1f} %\n")
    shown = (wide * 100).round(1).reset_index()
    columns = [Column("target_sparsity", "number", "sparsity")] + [Column(str(c), "number") for c in wide.columns]
    out.write(render_table(shown.rename(columns=str), columns, wide=True))
    if args.csv:
        write_text_atomic(args.csv, table.to_csv(index=False))
        out.write(f"table written to {args.csv}\n")
    if args.png:
        plot_sensitivity(table, args.png, title=f"{model.name}: per-layer sensitivity ({args.granularity}, {args.criterion})")
        out.write(f"plot written to {args.png}\n")
    return 0


def cmd_prune_table(args: argparse.Namespace, out: TextIO) -> int:
    """Accuracy for every granularity x criterion x sparsity, before and after fine-tuning."""
    from energysim.prune.experiments import accuracy_table

    models = tuple(m.strip() for m in args.models.split(",") if m.strip())
    for name in models:
        if name not in MODEL_NAMES:
            raise InputError(f"models must be among {list(MODEL_NAMES)} (got {name!r})")
    _refuse_overwrites(args, {}, ("out", "csv"))
    result = accuracy_table(
        models=models,
        sparsities=_float_list(args.sparsities),
        schedule=args.schedule,
        finetune_epochs=args.finetune_epochs,
        seed=args.seed,
        progress=_progress(args),
    )
    text = result.markdown(include_not_applicable=not args.hide_na)
    out.write(_accuracy_text(result, args.wide))
    if args.out:
        write_text_atomic(args.out, text + "\n")
        out.write(f"table written to {args.out}\n")
    if args.csv:
        write_text_atomic(args.csv, result.rows.to_csv(index=False))
        out.write(f"long-form table written to {args.csv}\n")
    return 0


def _accuracy_text(result, wide: bool) -> str:
    """The accuracy table for a terminal: per model, one aligned row per applicable (granularity, criterion).

    Compact: accuracy after fine-tuning per target sparsity; ``wide`` adds the
    accuracy right after pruning and the measured sparsity. Pairs that are n/a
    at every sparsity are counted under the table (the Markdown lists them).
    """
    import textwrap

    import pandas as pd

    rows = result.rows
    settings = result.settings

    heading = (f"test accuracy on {settings.get('dataset', 'digits')}, schedule {settings.get('schedule')}, "
               f"{settings.get('finetune_epochs')} fine-tuning epochs, seed {settings.get('seed')}; "
               f"wall time {result.wall_time_s:.1f} s")
    parts = [textwrap.fill(heading, terminal_width()) + "\n"]
    for model_name, frame in rows.groupby("model", sort=False):
        sparsities = list(dict.fromkeys(frame["target_sparsity"]))
        table, skipped = [], 0
        for (granularity, criterion), group in frame.groupby(["granularity", "criterion"], sort=False):
            if group["accuracy_pruned"].isna().all():
                skipped += 1
                continue
            row = {"granularity": granularity, "criterion": criterion}
            for index, sparsity in enumerate(sparsities):
                cell = group[group["target_sparsity"] == sparsity].iloc[0]
                row.update({f"tuned{index}": cell["accuracy_finetuned"], f"pruned{index}": cell["accuracy_pruned"],
                            f"measured{index}": cell["measured_sparsity"]})
            table.append(row)
        labels = [f"{100 * s:.3g}%" for s in sparsities]
        columns = [Column("granularity"), Column("criterion")]
        columns += [Column(f"tuned{i}", "percent", f"{label} tuned") for i, label in enumerate(labels)]
        columns += [Column(f"pruned{i}", "percent", f"{label} pruned", compact=False) for i, label in enumerate(labels)]
        columns += [Column(f"measured{i}", "percent", f"{label} measured", compact=False) for i, label in enumerate(labels)]
        parts.append(f"\n{model_name} (dense {percent(frame['accuracy_dense'].iloc[0])})\n")
        parts.append(render_table(pd.DataFrame(table, columns=[c.name for c in columns]), columns, wide=wide))
        if skipped:
            parts.append(f"({skipped} criterion/granularity pairs do not apply; --out writes them with reasons)\n")
    return "".join(parts)


def register(subparsers) -> None:
    """Add ``train``, ``prune``, ``sensitivity`` and ``prune-table`` to the CLI's sub-parsers."""
    train = subparsers.add_parser("train", help="train a numpy MLP, CNN or ResNet on the bundled digits")
    train.add_argument("--model", choices=MODEL_NAMES, default="cnn", help="model")
    train.add_argument("--epochs", type=count(1), help="training epochs (default: the model's tested setting)")
    train.add_argument("--seed", type=seed, default=0, help="seed")
    train.add_argument("--out", required=True, help="output folder for model.json and model.npz")
    train.add_argument("--quiet", action="store_true", help="no progress bars")
    train.add_argument("--force", action="store_true", help="replace a model already saved in --out")
    train.set_defaults(handler=cmd_train)

    prune = subparsers.add_parser("prune", help="prune a model and export the pruned workload (workload.toml + tensors.npz)")
    _add_model_source(prune)
    prune.add_argument("--workload", metavar="W",
                       help="prune the weights this workload carries instead (imported model folder, .toml or bundled "
                            "name) with a data-free criterion (magnitude, l1, l2, random), no fine-tuning")
    prune.add_argument("--granularity", choices=GRANULARITY_NAMES, default="fine", help="what is pruned together")
    prune.add_argument("--criterion", choices=CRITERION_NAMES, default="magnitude", help="importance score")
    prune.add_argument("--sparsity", type=float, default=0.8, help="target fraction removed, in [0, 1)")
    prune.add_argument("--rounding", choices=ROUNDING_NAMES, default="exact",
                       help="how sparsity x groups rounds to a count: exact (halves up on the exact decimal) or torch "
                            "(torch.nn.utils.prune's round(amount * n), halves to even)")
    prune.add_argument("--nm", default="2:4", help="N:M pattern for --granularity nm")
    prune.add_argument("--block", type=count(1), default=4, help="vector block length of linear layers, weights")
    prune.add_argument("--schedule", choices=SCHEDULE_NAMES, default="one_shot", help="how pruning and fine-tuning alternate")
    prune.add_argument("--steps", type=count(1), default=3, help="prune steps of the iterative schedule")
    prune.add_argument("--finetune-epochs", type=count(0), default=10,
                       help="fine-tuning epochs, masks fixed (with --energy-budget: after the last step)")
    prune.add_argument("--calibration-samples", type=count(1), default=64, help="calibration images stored in the export")
    prune.add_argument("--out", required=True,
                       help="output folder of the pruned workload (with --energy-budget: the job's journal, tables and "
                            "workload/; the same command again resumes)")
    prune.add_argument(
        "--shrink", action="store_true",
        help="export the physically smaller model (dead channels removed) instead of masks on the original shapes",
    )
    prune.add_argument("--save-model", help="also save the pruned model (model.json + model.npz) to this folder")
    prune.add_argument("--wide", action="store_true", help="show every column of the mask table")
    budget = prune.add_argument_group(
        "energy-aware pruning", "prune to a fraction of the dense model's simulated energy on one hardware "
        "(--granularity, --sparsity, --nm, --schedule are then not used)")
    budget.add_argument("--energy-budget", type=fraction_of_dense, metavar="F",
                        help="target energy as a fraction of dense, in (0, 1], e.g. 0.5")
    budget.add_argument("--latency-budget", type=fraction_of_dense, metavar="F",
                        help="also a latency target, fraction of dense in (0, 1]")
    budget.add_argument("--hw", metavar="HW", help="the hardware run (bundled name or .toml path, NAME:MODE), required "
                                                   "with --energy-budget, e.g. a100:sparse_2_4")
    budget.add_argument("--patterns", metavar="P,..",
                        help="patterns offered per layer, of: fine, channel, nm:2:4 (default: those the hardware rewards)")
    budget.add_argument("--method", choices=("auto", "greedy", "exact"),
                        help="allocation solver (default auto: exact where tractable)")
    budget.add_argument("--step-epochs", type=count(0), help="fine-tuning epochs after each layer's step (default 1)")
    prune.set_defaults(handler=cmd_prune)

    sensitivity = subparsers.add_parser("sensitivity", help="per-layer pruning sensitivity scan (table and plot)")
    _add_model_source(sensitivity)
    sensitivity.add_argument("--granularity", choices=("fine", "vector", "kernel", "channel"), default="fine",
                             help="what is pruned together")
    sensitivity.add_argument("--criterion", choices=CRITERION_NAMES, default="magnitude", help="importance score")
    sensitivity.add_argument("--sparsities", default="0.4,0.5,0.6,0.7,0.8,0.9", help="comma-separated")
    sensitivity.add_argument("--csv", help="write the long-form table to this CSV file")
    sensitivity.add_argument("--png", help="write the plot to this PNG file")
    sensitivity.set_defaults(handler=cmd_sensitivity)

    table = subparsers.add_parser("prune-table", help="test accuracy for every granularity x criterion x sparsity")
    table.add_argument("--models", default="mlp,cnn", help="comma-separated models")
    table.add_argument("--sparsities", default="0.5,0.7,0.9", help="comma-separated")
    table.add_argument("--schedule", choices=SCHEDULE_NAMES, default="one_shot", help="how pruning and fine-tuning alternate")
    table.add_argument("--finetune-epochs", type=count(0), default=10, help="fine-tuning epochs")
    table.add_argument("--seed", type=seed, default=0, help="seed of training and pruning")
    table.add_argument("--out", help="also write the Markdown table to this file")
    table.add_argument("--csv", help="also write the long-form table to this CSV file")
    table.add_argument("--hide-na", action="store_true", help="--out: leave out pairs that are n/a at every sparsity")
    table.add_argument("--wide", action="store_true", help="also show accuracy right after pruning and measured sparsity")
    table.add_argument("--quiet", action="store_true", help="no progress bars")
    table.add_argument("--force", action="store_true", help="replace --out / --csv files that already exist")
    table.set_defaults(handler=cmd_prune_table)
