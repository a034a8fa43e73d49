"""A kernel model of library GEMMs (dense and 2:4) on an A100-class GPU: named terms, fitted constants.

The hardware bound (:mod:`energysim.engines.sparse_tc.schedule`) times ideal kernels. Library
kernels are slower, and the 2:4 ones more so, by amounts that depend on the shape. This
model re-weighs the hardware-bound schedule (same tile, waves and per-wave traffic) with a
few constants per kernel library, each attached to a term one can name:

``cycles = main loop + fill/drain + waves x wave overhead + padded call``

- **main loop**: per wave, ``max(math / mma_efficiency, smem / operand_efficiency, l2, hbm)``.
  ``math`` is the tensor-core issue time, ``smem`` the time to move the wave's A values,
  2:4 metadata and B operand out of shared memory at 128 B per cycle per SM. 2:4 halves
  the math of a K step but not its B loads (and adds metadata), so a 2:4 main loop sits
  on the shared-memory side where a dense one sits on the math side; ``operand_efficiency``
  is the share of that shared-memory rate a library's sparse main loop sustains.
- **fill/drain**: the schedule's per-wave load latency and epilogue (unchanged).
- **wave overhead**: per wave, cycles outside the main loop that neither the latencies nor
  the epilogue traffic account for (prologue set-up, pipeline fill of the first stages,
  epilogue conversion). Charged once per wave: co-resident blocks hide each other's. It is
  what makes a short K loop (K = 768: 12 K steps per 2:4 tile) lose more than a long one;
  2:4 halves the K steps per tile, so the same overhead is a larger share.
- **padded call**: a per-call cost when the PyTorch semi-structured path pads the input
  rows to a multiple of 32 and slices the result (pytorch#111339); the only term that can
  make a small 2:4 GEMM slower than dense.

The constants are fitted on published measurements by
:mod:`energysim.reproduce.a100_kernel_fit`; their values, with the fit, are in
``hwconfigs/a100.toml`` ``[engine.kernel_model]``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from energysim.engines.sparse_tc.schedule import Schedule


class LibraryConstants(BaseModel):
    """The fitted constants of one kernel library's main loop and waves."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    operand_efficiency: float = Field(gt=0.0, le=1.0, description="Sustained / peak shared-memory operand rate of the main loop.")
    wave_overhead_cycles: float = Field(ge=0.0, description="Cycles per wave outside the main loop, latencies and epilogue traffic.")


class KernelModelConfig(BaseModel):
    """``[engine.kernel_model]``: constants of the kernel model and which 2:4 library they describe."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sparse_library: str = Field(description="Constant set used for 2:4 kernels (a key of `sparse`).")
    mma_efficiency: float = Field(gt=0.0, le=1.0, description="Sustained / peak mma issue rate (dense and 2:4).")
    dense: LibraryConstants = Field(description="Dense library (cuBLAS) constants.")
    sparse: dict[str, LibraryConstants] = Field(description="2:4 constants per library (cutlass, cusparselt).")
    pad_input_multiple: int = Field(default=32, gt=0, description="Input rows the 2:4 path pads to (FP16: 32).")
    padded_call_cycles: float = Field(default=0.0, ge=0.0, description="Per-call cycles of a padded 2:4 call (pad + slice).")

    @model_validator(mode="after")
    def _known_library(self) -> "KernelModelConfig":
        if self.sparse_library not in self.sparse:
            raise ValueError(f"sparse_library must be one of {', '.join(sorted(self.sparse))} (got {self.sparse_library!r})")
        return self

    def library(self, sparse: bool) -> LibraryConstants:
        """The constants of the dense library, or of the configured 2:4 library.

        Parameters
        ----------
        sparse
            True: the 2:4 library named by ``sparse_library``; False: the dense library.

        Returns
        -------
        LibraryConstants
            Its ``operand_efficiency`` (dimensionless) and ``wave_overhead_cycles`` (cycles).
        """
        return self.sparse[self.sparse_library] if sparse else self.dense


@dataclass(frozen=True)
class KernelTime:
    """The kernel model's cycles of one GEMM, split into its terms (all cycles, at the core clock).

    Attributes
    ----------
    cycles_main_loop
        Sum over waves of ``max(math / mma_efficiency, smem / operand_efficiency, l2, hbm)``.
    cycles_fill_drain
        The schedule's fill and drain.
    cycles_wave_overhead
        Waves x ``wave_overhead_cycles``.
    cycles_padded_call
        ``padded_call_cycles`` when the input is padded, else 0.
    bound
        The main loop's largest summed term: ``math``, ``smem``, ``l2`` or ``hbm``.
    """

    cycles_main_loop: int
    cycles_fill_drain: int
    cycles_wave_overhead: int
    cycles_padded_call: int
    bound: str

    @property
    def cycles_total(self) -> int:
        """All terms added."""
        return self.cycles_main_loop + self.cycles_fill_drain + self.cycles_wave_overhead + self.cycles_padded_call


def kernel_time(plan: Schedule, mma_efficiency: float, library: LibraryConstants, padded_call_cycles: float = 0.0) -> KernelTime:
    """Cycles of a library kernel on the hardware-bound schedule ``plan``.

    Parameters
    ----------
    plan
        A schedule at efficiency 1 (the hardware bound): its tile, waves and per-wave
        resource cycles are reused.
    mma_efficiency
        Sustained / peak mma issue rate (dimensionless, (0, 1]).
    library
        The library's ``operand_efficiency`` (dimensionless) and ``wave_overhead_cycles`` (cycles).
    padded_call_cycles
        Cycles added once for a padded 2:4 call (0 when the input needs no padding).

    Returns
    -------
    KernelTime
        The terms and their total, in cycles.

    Raises
    ------
    ValueError
        If ``plan`` was not scheduled at efficiency 1 (its math would be scaled twice).
    """
    terms = _main_loop_terms(plan, mma_efficiency, library)
    per_wave = np.maximum.reduce(list(terms.values()))
    bound = max(terms, key=lambda name: float(terms[name].sum()))
    return KernelTime(
        cycles_main_loop=int(np.ceil(per_wave).sum()),
        cycles_fill_drain=plan.cycles_fill + plan.cycles_drain,
        cycles_wave_overhead=int(round(plan.waves * library.wave_overhead_cycles)),
        cycles_padded_call=int(round(padded_call_cycles)),
        bound=bound,
    )


def kernel_cycles(plan: Schedule, mma_efficiency: float, library: LibraryConstants, padded_call_cycles: float = 0.0) -> float:
    """:func:`kernel_time`'s total without rounding any term: smooth in the constants, for fitting.

    Parameters
    ----------
    plan, mma_efficiency, library, padded_call_cycles
        As :func:`kernel_time` (a hardware-bound schedule; dimensionless efficiencies; cycles).

    Returns
    -------
    float
        Main loop + fill/drain + waves x wave overhead + padded call, in cycles (unrounded).
    """
    terms = _main_loop_terms(plan, mma_efficiency, library)
    return (float(np.maximum.reduce(list(terms.values())).sum()) + plan.cycles_fill + plan.cycles_drain
            + plan.waves * library.wave_overhead_cycles + padded_call_cycles)


def _main_loop_terms(plan: Schedule, mma_efficiency: float, library: LibraryConstants) -> dict[str, np.ndarray]:
    """Per-wave main-loop terms (float cycles): math / mma_efficiency, smem / operand_efficiency, l2, hbm."""
    if plan.efficiency != 1.0:
        raise ValueError(f"kernel model: needs the hardware-bound schedule (efficiency 1), got {plan.efficiency}")
    waves = plan.wave_resource_cycles
    return {"math": waves["math"] / mma_efficiency, "smem": waves["smem"] / library.operand_efficiency,
            "l2": waves["l2"], "hbm": waves["hbm"]}


def input_is_padded(n: int, sparse: bool, config: KernelModelConfig) -> bool:
    """Whether the 2:4 path pads this GEMM's input rows.

    Parameters
    ----------
    n
        The GEMM's input rows (columns of B), a count.
    sparse
        True for the 2:4 path (dense kernels never pad).
    config
        Its ``pad_input_multiple`` (rows).

    Returns
    -------
    bool
        ``sparse`` and ``n`` not a multiple of ``pad_input_multiple``.
    """
    return sparse and n % config.pad_input_multiple != 0


def model_time(plan: Schedule, n: int, sparse: bool, config: KernelModelConfig) -> KernelTime:
    """:func:`kernel_time` with the configured constants of the mode's library and the padding rule.

    Parameters
    ----------
    plan
        The hardware-bound schedule (efficiency 1).
    n
        The GEMM's input rows, a count (decides :func:`input_is_padded`).
    sparse
        True: the 2:4 library's constants (``config.sparse_library``); False: the dense ones.
    config
        The ``[engine.kernel_model]`` constants.

    Returns
    -------
    KernelTime
        The terms and their total, in cycles (``padded_call_cycles`` only for a padded 2:4 call).
    """
    padded = config.padded_call_cycles if input_is_padded(n, sparse, config) else 0.0
    return kernel_time(plan, config.mma_efficiency, config.library(sparse), padded)
