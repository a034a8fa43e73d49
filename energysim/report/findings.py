"""What a sweep shows, in plain English: one sentence per hardware run of a compare table.

:func:`sweep_findings` is the text that ``energysim demo`` prints under "what the
sweep shows" and that the HTML report puts above the comparison plots. Every
number in it is read from the table (the lowest energy as a fraction of dense per
pattern, the latency of that point, the count of refused points); the words
after each number say what the engine does with zeros, from its documentation,
or, for a sparse loop-nest design, from the design's own file
(:func:`loopnest_zero_handling`).
"""

from __future__ import annotations

import pandas as pd

from energysim.report.plots import is_sparse_2_4, panel_column, ratio_column

ENGINE_NOTES = {
    "dense": "a dense array computes every zero, so only patterns that shrink the layers save",
    "eie": "EIE skips zero weights and activations and stores weights compressed",
    "sparse_tc": "the tensor cores compute zeros in dense mode",
}
"""What each engine does with zeros (see docs/engines/), added after its numbers."""

SPARSE_2_4_NOTE = "2:4 mode at most halves the math, to 0.5 of dense, and refuses masks that are not 2:4"


def _fraction(value: float) -> str:
    return f"{value:.3g}"


def _percent(value: float) -> str:
    return f"{100 * value:.0f} %"


def _sparsity(row: pd.Series) -> str:
    """``90 % sparsity``, or ``66 % sparsity (target 50 %)`` when the measured sparsity rounds to another percent.

    Channel pruning removes the next layer's inputs too, so its measured sparsity can
    be well above its target; naming only the target would understate what was removed.
    """
    target = _percent(float(row["sparsity_target"]))
    measured = pd.to_numeric(row.get("sparsity_measured"), errors="coerce")
    if pd.isna(measured) or _percent(float(measured)) == target:
        return f"{target} sparsity"
    return f"{_percent(float(measured))} sparsity (target {target})"


def loopnest_zero_handling(hardware: str) -> str | None:
    """The sparse loop-nest design's own account of its zeros and the patterns it rewards, or None.

    ``hardware`` is the compare row's hardware name or path; None when it is
    not a loop-nest design with an ``[engine.sparse]`` table, or cannot be
    loaded here (a path moved since the sweep).
    """
    import energysim
    from energysim.engines import build_engine
    from energysim.engines.loopnest.sparse_summary import zero_handling
    from energysim.errors import EnergySimError

    try:
        config = getattr(build_engine(energysim.hardware(hardware)), "config", None)
    except (EnergySimError, OSError):
        return None
    sparse = getattr(config, "sparse", None)
    return zero_handling(sparse) if sparse is not None else None


def sweep_findings(compare: pd.DataFrame) -> list[str]:
    """One plain-English sentence per hardware run of a sweep: which pattern saves most energy, which least.

    Parameters
    ----------
    compare
        Sweep table (``compare.csv``): ``pattern``, ``hardware`` (or ``run``),
        ``status``, ``energy_vs_dense`` (or the older ``energy_ratio_vs_dense``),
        optional ``latency_vs_dense``, ``sparsity_target``, ``sparsity_measured``,
        ``accuracy``, ``engine``, ``note`` (the engine's word on how the best point was
        timed, e.g. an A100 2:4 run at the hardware bound: added as its own sentence).

    Returns
    -------
    list of str
        E.g. ``"lecture-array: best channel, energy 0.132 of dense (latency 0.131) at
        90 % sparsity, accuracy 81 %; least fine, 1 of dense (a dense array computes
        every zero, ...)"``. Empty when no pruned point has an energy ratio.
    """
    energy_column = ratio_column(compare, "energy")
    if energy_column is None or "pattern" not in compare.columns:
        return []
    latency_column = ratio_column(compare, "latency")
    panel = panel_column(compare) if "hardware" in compare.columns or "run" in compare.columns else None
    if panel is None:
        return []
    status = compare["status"].astype(str).str.strip().str.lower() if "status" in compare.columns else pd.Series("ok", index=compare.index)
    lines = []
    for run, part in compare.groupby(panel, sort=False):
        part_status = status.loc[part.index]
        ok = part[(part_status == "ok") & (part["pattern"].astype(str) != "dense")]
        ok = ok.assign(_ratio=pd.to_numeric(ok[energy_column], errors="coerce")).dropna(subset=["_ratio"])
        refused = int((part_status != "ok").sum())
        if ok.empty:
            if refused:
                lines.append(f"{run}: no pruned point ran ({refused} refused)")
            continue
        best_per_pattern = ok.loc[ok.groupby("pattern", sort=False)["_ratio"].idxmin()].sort_values("_ratio", kind="stable")
        best, least = best_per_pattern.iloc[0], best_per_pattern.iloc[-1]
        text = f"{run}: best {best['pattern']}, energy {_fraction(best['_ratio'])} of dense"
        if latency_column is not None and pd.notna(pd.to_numeric(best.get(latency_column), errors="coerce")):
            text += f" (latency {_fraction(float(best[latency_column]))})"
        if "sparsity_target" in ok.columns and pd.notna(best.get("sparsity_target")):
            text += f" at {_sparsity(best)}"
        if "accuracy" in ok.columns and pd.notna(pd.to_numeric(best.get("accuracy"), errors="coerce")):
            text += f", accuracy {_percent(float(best['accuracy']))}"
        if len(best_per_pattern) > 1:
            text += f"; least {least['pattern']}, {_fraction(least['_ratio'])} of dense at best"
        notes = []
        if is_sparse_2_4(str(run)):
            notes.append(SPARSE_2_4_NOTE)
        elif "engine" in ok.columns and str(ok["engine"].iloc[0]) in ENGINE_NOTES:
            notes.append(ENGINE_NOTES[str(ok["engine"].iloc[0])])
        elif "engine" in ok.columns and str(ok["engine"].iloc[0]) == "loopnest" and "hardware" in ok.columns:
            account = loopnest_zero_handling(str(ok["hardware"].iloc[0]))
            if account:
                notes.append(account)
        if refused:
            notes.append(f"{refused} point{'s' if refused != 1 else ''} refused")
        if notes:
            text += f" ({'; '.join(notes)})"
        timing = str(best.get("note", "") or "").strip() if pd.notna(best.get("note", "")) else ""
        if timing:
            text += f". {timing}"
        lines.append(text)
    return lines
