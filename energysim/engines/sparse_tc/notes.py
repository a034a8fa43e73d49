"""One note per A100 run: which timing ran and, for 2:4, what library kernels would give.

The engine's default timing (``hwconfigs/a100.toml``: ``timing = "hardware_bound"``)
is a lower bound on time: ideal kernels at the full tensor-core rate. At batch 1
the PyTorch 2:4 path pads the input rows and is measured slower than dense, so a
2:4 run timed at the bound can show a saving that library kernels do not give.
:func:`timing_note` reads the results' stats (the engine computes every figure;
nothing here is fitted or timed) and says so in one sentence per run, with the
kernel model's figure for the run's own layers.
"""

from __future__ import annotations

from collections.abc import Sequence

from energysim.engines.result import LayerResult

TIMING_PHRASES: dict[str, str] = {
    "hardware_bound": "at the hardware bound (ideal kernels at the full tensor-core rate: a lower bound on time, "
                      "not what a library kernel takes)",
    "library_calibrated": "library-calibrated (the hardware bound with the mma rate scaled to one measured dense "
                          "GEMM; 2:4 input padding not modelled)",
    "kernel_model": "by the kernel model (library kernels, constants fitted on measured A100 GEMMs)",
}
"""How a note names each timing of the engine (``stats["timing"]``)."""


LINEAR_KINDS = ("linear", "gemm")
"""Layer kinds PyTorch's semi-structured 2:4 path runs (a linear's matmul); convolutions it does not."""


def padded_measurement():
    """The published measurement of a padded 2:4 call (the one row the padded-call cost is fitted on).

    Returns
    -------
    energysim.reproduce.a100_measurements.MeasuredGemm
        The first row of ``MEASURED_GEMMS`` whose input the PyTorch path padded
        (shape in elements, times in us).
    """
    from energysim.reproduce.a100_measurements import MEASURED_GEMMS

    return next(row for row in MEASURED_GEMMS if row.padded_input)


def timing_note(run: str, results: Sequence[LayerResult]) -> str:
    """One note on how a run of the sparse tensor-core engine was timed, or '' for another engine.

    Every note names the timing (``stats["timing"]``). A 2:4 run not timed by the
    kernel model whose calls the PyTorch path pads, or for whose layers the kernel
    model gives more time than dense, adds the kernel model's figure (its 2:4 cycles
    over its dense cycles, summed over the run's 2:4 layers) and the published
    measurement; a run with padded calls says that the padded-call cost rests on one
    measured row.

    Parameters
    ----------
    run
        The run's name as the report shows it (``a100:sparse_2_4``).
    results
        The run's layer results (any engine; only ``sparse_tc`` ones are read).

    Returns
    -------
    str
        ``"note: ...\\n"``, or '' when no result is from the sparse tensor-core engine.
    """
    ours = [r for r in results if r.engine == "sparse_tc"]
    if not ours:
        return ""
    timing = ours[0].stats["timing"]
    sentences = [f"{run} is timed {TIMING_PHRASES[timing]}"]
    sparse = [r for r in ours if "vs_dense" in r.stats.get("kernel_model", {})]
    padded = [r for r in sparse if r.stats["kernel_model"]["input_padded"]]
    measured = padded_measurement()
    named = False  # whether a sentence already cited the measured row
    if sparse and timing != "kernel_model":
        ratio = (sum(r.stats["figures"]["kernel_model"]["cycles_total"] for r in sparse)
                 / sum(r.stats["kernel_model"]["dense_cycles_total"] for r in sparse))
        if padded or ratio > 1:
            sentences.append(_library_sentence(ratio, sparse, padded, measured))
            named = bool(padded)
    if padded:
        sentences.append(_extrapolation_sentence(padded, measured, named))
    return f"note: {'. '.join(sentences)}.\n"


def _measured_row(measured) -> str:
    """The padded measurement as cited: set-up, weight shape, input rows."""
    return f"{measured.setup}: {measured.m}x{measured.k} weights on {measured.n} input row"


def ratio_phrase(ratio: float) -> str:
    """The 2:4/dense time ratio (dimensionless) in words: ``"0.43 of dense time"``, or ``"102x the dense time
    (2:4 slower)"`` above 1, where "102 of dense time" would read like a typo."""
    if ratio > 1:
        return f"{ratio:.3g}x the dense time (2:4 slower)"
    return f"{ratio:.3g} of dense time"


def _library_sentence(ratio: float, sparse: list[LayerResult], padded: list[LayerResult], measured) -> str:
    """The kernel model's 2:4/dense time ratio (dimensionless) and, with padded calls, the measurement and the conv caveat."""
    layers = f"its {len(sparse)} 2:4 layer{'s' if len(sparse) != 1 else ''}"
    text = (f"Library kernels: the kernel model gives {ratio_phrase(ratio)} for {layers} at these sizes "
            "(--set engine.timing=kernel_model times the run with it)")
    if not padded:
        return text
    multiple = padded[0].stats["kernel_model"]["pad_input_multiple"]
    text += (f"; {len(padded)} of {len(sparse)} have input rows (N) not a multiple of {multiple}, which the PyTorch "
             f"2:4 path pads, and measured PyTorch 2:4 at batch 1 is slower than dense ({_measured_row(measured)}, "
             f"{measured.sparse_us:g} us 2:4 vs {measured.dense_us:g} us dense)")
    convs = sum(r.stats["kernel_model"]["layer_kind"] not in LINEAR_KINDS for r in padded)
    if convs:
        text += (f"; PyTorch's semi-structured path runs linear layers only, so for the {convs} padded "
                 f"convolution{'s' if convs != 1 else ''} this is what that path would cost, not a measured behaviour")
    return text


def _extrapolation_sentence(padded: list[LayerResult], measured, named: bool) -> str:
    """That the padded-call cost (us, from the stats' cycles and clock) rests on one measured row."""
    padded_us = padded[0].stats["kernel_model"]["cycles_padded_call"] / (padded[0].clock_ghz * 1e3)
    largest = max(padded, key=lambda r: r.stats["gemm_m"] * r.stats["gemm_k"])
    row = "that one measured row" if named else f"one measured row ({_measured_row(measured)})"
    return (f"The kernel model's padded-call cost ({padded_us:.0f} us per call) is fitted on {row}, so for these "
            f"layers (largest padded {largest.stats['gemm_m']}x{largest.stats['gemm_k']}) it is an extrapolation")
