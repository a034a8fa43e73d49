"""Published A100 FP16 GEMM timings, dense and 2:4, that the 2:4 kernel model is fitted on and checked against.

Every row is a number read in a public source (quoted in ``source``); none is derived
except the GEMM shape, which follows from the source's own convention (stated per
source below). Convention here: ``C[m, n] = A[m, k] @ B[k, n]`` with ``A`` the 2:4
weights (sparse along ``k``) and ``B`` the inputs; ``n`` counts input rows (tokens).

Sources (the exact places are in each row's ``source``):

- TUT: PyTorch semi-structured (2:4) sparsity tutorial, A100 80GB; ``nn.Linear(10240, 3072)``
  on a ``3072 x 10240`` input, so ``m = 3072, k = 10240, n = 3072``.
- CLS#57: NVIDIA/CUDALibrarySamples issue 57 (A100, CUDA 11.5): cuSPARSELt sample at
  ``m = n = k = 4096`` against the CUTLASS profiler's dense GEMM.
- pytorch#111339: PyTorch issue 111339, a ``4096 x 4096`` linear on a ``1 x 4096`` input,
  which the semi-structured path pads to 32 rows (maintainer's reply).
- PR#90119: pytorch/pytorch pull request 90119, comment by alexsamardzic of 2023-04-07
  ("Benchmarking results" table: dense linear vs cuSPARSELt-based vs CUTLASS-based, times
  in microseconds). The same author's comment of 2023-03-21 in that thread gives the GPU
  ("distilbert shapes (on A100)") for the same shapes and harness. Its rows are
  ``m, k, n, batch_size``: a linear with weight ``m x k`` on a ``batch_size x n x k``
  input, so the GEMM has ``n * batch_size`` input rows (checked: the dense 768/3072/768
  row at batch 256 runs at 2 * 768 * 3072 * 196608 / 3919.5 us = 237 TFLOPS, 76% of the
  312 TFLOPS peak). Only the six rows shown in the stored copy of that comment were read.
- CUTLASS#408: NVIDIA/cutlass issue 408, 16384^3 FP16 on an A100 SXM4. The dense and
  sparse figures come from two different users and builds, so the pair is not a
  speed-up; the sparse figure (hwu36: "484 tflops", clock locked at 1410 MHz) is kept as a
  throughput check only.

Read but not used, with the reason:

- PR#90119, 2023-03-21 comment: an earlier CUTLASS integration that ran slower than dense
  (e.g. 768/3072/768 batch 256: 4753.6 us sparse vs 3973.9 us dense), superseded by the
  same author's 2023-04-07 table after the kernel configuration was fixed.
- pytorch/pytorch PR 96147 (2023-03): an early cuSPARSELt integration whose every call
  took about 300 us (e.g. 768/3072/768 batch 1: 308.3 us sparse, 343.6 us dense),
  dominated by per-call overheads of that prototype; no GPU named in the part read.
- torchao sparsity training README (ViT-L MLP on A100, 1.660793 -> 1.341983 ms): forward
  plus backward with run-time sparsification, not one inference GEMM.
"""

from __future__ import annotations

from dataclasses import dataclass

LIBRARIES = ("cutlass", "cusparselt")
"""Sparse-kernel libraries with a fitted constant set in the kernel model."""

TUT = "TUT [M]: pytorch.org/tutorials/prototype/semi_structured_sparse.html (A100 80GB, CUTLASS backend)"
CLS57 = "CLS#57 [M]: NVIDIA/CUDALibrarySamples #57 (A100, CUDA 11.5; cuSPARSELt sample vs CUTLASS profiler dense)"
PT111339 = ("pytorch#111339 [M]: pytorch/pytorch #111339, jcaip 2023-10-17 (A100; 'Dense: 0.022ms Sparse: 0.196ms'; "
            "the 1 x 4096 input padded to 32 x 4096)")
PR90119 = ("PR#90119 [M]: github.com/pytorch/pytorch/pull/90119, alexsamardzic 2023-04-07 'Benchmarking results' "
           "(A100 per the same author's 2023-03-21 comment; times in us)")
CUTLASS408 = ("CUTLASS#408 [M]: NVIDIA/cutlass #408, hwu36 2022-02-16 ('i got 484 tflops from sparse fp16 tensor core "
              "gemm', cutlass_profiler m=n=k=16384, clock locked at 1410 MHz)")


@dataclass(frozen=True)
class MeasuredGemm:
    """One published dense and 2:4 timing pair of an FP16 GEMM on an A100.

    Attributes
    ----------
    name
        Row name (unique).
    m, n, k
        GEMM shape, ``C[m, n] = A[m, k] @ B[k, n]``; ``A`` is the 2:4 operand.
    dense_us, sparse_us
        Measured dense and 2:4 times, microseconds.
    library
        Library of the 2:4 kernel: ``cutlass`` or ``cusparselt`` (selects the fitted constants).
    setup
        The measurement set-up: rows of one set-up share a harness and software versions.
    source
        Where the numbers were read.
    fitted
        Whether the row is in the fit set (``False``: held out entirely, see ``why_held_out``).
    padded_input
        Whether the PyTorch semi-structured path padded the input rows (``n`` not a multiple of 32).
    why_held_out
        Why a row is not in the fit set (empty when it is).
    """

    name: str
    m: int
    n: int
    k: int
    dense_us: float
    sparse_us: float
    library: str
    setup: str
    source: str
    fitted: bool = True
    padded_input: bool = False
    why_held_out: str = ""

    @property
    def speedup(self) -> float:
        """Measured 2:4 speed-up, dense time / sparse time (dimensionless)."""
        return self.dense_us / self.sparse_us


def _pr90119(m: int, k: int, n: int, batch: int, dense_us: float, cusparselt_us: float, cutlass_us: float) -> list[MeasuredGemm]:
    """The cuSPARSELt and CUTLASS rows of one PR#90119 table line (``m, k, n, batch_size`` as printed there)."""
    shape = f"{m}x{n * batch}x{k}"
    return [MeasuredGemm(f"pr90119_{lib}_{shape}", m, n * batch, k, dense_us, sparse_us, lib, "PR#90119 (PyTorch linear, 2023)",
                         f"{PR90119}: row 'm: {m}, k: {k}, n: {n}, batch_size: {batch}'")
            for lib, sparse_us in (("cusparselt", cusparselt_us), ("cutlass", cutlass_us))]


MEASURED_GEMMS: tuple[MeasuredGemm, ...] = (
    MeasuredGemm("tut_3072x3072x10240", 3072, 3072, 10240, 870.0, 630.0, "cutlass", "TUT (PyTorch tutorial, A100 80GB)", TUT),
    *_pr90119(768, 3072, 768, 4, 76.1, 51.5, 69.9),
    *_pr90119(768, 3072, 768, 16, 264.7, 163.9, 188.6),
    *_pr90119(768, 3072, 768, 64, 990.1, 612.0, 696.3),
    *_pr90119(768, 3072, 768, 256, 3919.5, 2359.7, 2691.8),
    *_pr90119(3072, 768, 3072, 4, 273.7, 214.6, 207.1),
    *_pr90119(3072, 768, 3072, 16, 1019.5, 826.4, 795.5),
    MeasuredGemm("cls57_4096cubed", 4096, 4096, 4096, 607.959, 545.792, "cusparselt", "CLS#57 (cuSPARSELt sample, 2022)",
                 CLS57, fitted=False,
                 why_held_out="its own set-up: a 2022 cuSPARSELt sample timed against a different tool's dense kernel "
                              "(the CUTLASS profiler); no other row shares either"),
    MeasuredGemm("gemv_4096x4096", 4096, 1, 4096, 22.0, 196.0, "cusparselt", "pytorch#111339 (PyTorch 2.1 semi-structured)",
                 PT111339, fitted=False, padded_input=True,
                 why_held_out="the only row whose input is padded: it alone fits the padded-call cost"),
)
"""The measured dense/2:4 pairs, fit set first."""

SPARSE_THROUGHPUT_ONLY = (
    ("cutlass408_16384cubed", 16384, 16384, 16384, 484.0, "cutlass", CUTLASS408),
)
"""(name, m, n, k, measured effective 2:4 TFLOPS, library, source): sparse throughput without a same-set-up dense time."""
