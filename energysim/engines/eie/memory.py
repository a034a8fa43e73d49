"""Upper estimate of the simulator memory one EIE layer takes (not the chip's), before anything is allocated.

The engine's arrays live in stages, one after another; the estimate is the largest
stage, each stage counting what is alive during it, in bytes:

1. **Weights** (synthetic): the drawn gaps and their running sum (16 per drawn
   weight, none for a dense layer) and their codes (1, read at once; a dense layer's
   are drawn as the encoder reads them), at most ``W = E[weights] + 6 sd + 16`` drawn
   weights (the codebook is fitted on a fixed-size sample). With real weights: the float64 matrix (8 per
   position), the fit (25) and the quantiser's temporaries (26) per position.
2. **Encoding**: the codes (1 per weight; a dense layer on the compiled path: one
   block of columns), the flat positions (8; rows and columns on
   the numpy path, 24 with a dense layer's index), the order check's blocks, and the encoded
   entries (3 to 10 each: ``v``, ``z`` and a uint8 to int64 local row) of which there are at
   most ``W + N x K x floor(ceil(M / N) / 2**index_bits)`` (padding); the numpy
   path sorts one group of whole columns at a time (64 per weight of a group) and
   copies every group's entries into place (one more copy of the entries).
3. **Inputs**: the encoded layer, the ``(K, N)`` float64 input vectors when they are
   held whole (24 each for calibration samples lowered by im2col; a synthetic single
   vector, 8 each), and one draw block: several synthetic vectors are drawn block by
   block as the lanes use them, never held whole.
4. **Tables and lanes**: the encoded layer, the inputs, the per-(row pass, column,
   PE) tables while they are built (160 each; the numpy path's segment counts add
   64 per entry of a block of whole PEs) and the fixed-size lane and
   compulsory-bound blocks.
5. **Output** (``keep_output``): the decoded positions and the sparse matrix built from them (96 per
   entry: int64 steps, groups, local rows, PEs, columns, masks and scipy's copies), the dense
   ``(K, N)`` inputs (24 each at most) and the ``(M, N)`` float64 output.

The constants are bytes per element counted from the code, rounded up; the test
``tests/engines/eie/test_eie_memory.py`` checks estimate >= the measured
(``tracemalloc``) peak on layers of each kind, on both the compiled and the numpy path.
"""

from __future__ import annotations

import math

from energysim.engines.eie.lanes import INDEX_BUDGET_ELEMENTS, WORK_BUDGET_ELEMENTS
from energysim.engines.eie.synthetic import DRAW_BLOCK_ELEMENTS, QUANTISE_BLOCK
from energysim.formats.eie_csc import ENCODE_GROUP_WEIGHTS, SEGMENT_BLOCK_ENTRIES
from energysim.units import ceil_div

BLOCK_BYTES_PER_ELEMENT = 48
"""Bytes per element of a fixed-size block (lane activity and its transposed copy, bit-packed
groups, the numpy path's step arrays, the compulsory bound's float64 chunk, a draw or quantiser block)."""


def drawn_weights(m: int, k: int, density: float) -> int:
    """Most weights a synthetic draw of density ``density`` holds at once (all ``M x K`` when dense)."""
    total = m * k
    if density >= 1.0:
        return total
    expected = total * density
    return min(total, int(expected + 6 * math.sqrt(expected) + 16))


def estimate_bytes(m: int, k: int, n: int, *, n_pe: int, rows_per_pass: int, index_bits: int, density: float,
                   real_weights: bool, calibration_inputs: bool, compiled: bool, keep_output: bool = False) -> int:
    """Upper estimate of the peak simulator memory of one EIE layer, bytes (see the module docstring).

    Parameters
    ----------
    m, k, n
        The GEMM: weights ``M x K``, ``N`` input vectors of length ``K``.
    n_pe, rows_per_pass, index_bits
        PEs, local rows per row pass (the destination register file) and ``z`` width.
    density
        Weight density of a synthetic layer (ignored with real weights: every position may be non-zero).
    real_weights, calibration_inputs
        Whether weights / input vectors come from tensors rather than a seeded draw.
    compiled
        Whether the numba paths run (the numpy encoding sorts, holding more per weight).
    keep_output
        Whether the layer output is computed too.
    """
    positions = m * k
    sparse_draw = not real_weights and density < 1.0
    weights = positions if real_weights else drawn_weights(m, k, density)
    rows_per_pe = ceil_div(m, n_pe)
    entries = weights + n_pe * k * (rows_per_pe >> index_bits)
    local_bytes = 4 if max(m, k) * n_pe < 2**30 else 8                   # a local row while encoding
    entry_bytes = 2 + (1 if rows_per_pe <= 2**8 else 2 if rows_per_pe <= 2**16 else local_bytes)   # v, z, local row
    encoded = entry_bytes * entries + 3 * 8 * n_pe * (k + 1)
    passes = max(1, ceil_div(rows_per_pe, rows_per_pass))
    table_elements = passes * (k + 1) * n_pe
    lane_block = BLOCK_BYTES_PER_ELEMENT * (INDEX_BUDGET_ELEMENTS + WORK_BUDGET_ELEMENTS)
    draw_block = BLOCK_BYTES_PER_ELEMENT * max(DRAW_BLOCK_ELEMENTS, QUANTISE_BLOCK)
    # the numpy encoding: one group of whole columns sorted at a time, then every group's entries copied into place
    # (the groups' entries and their layout with int32/int64 local rows, narrowed after: 2 x (2 + local_bytes) in all)
    sort = 0 if compiled else 64 * min(weights, ENCODE_GROUP_WEIGHTS) + (4 + 2 * local_bytes) * entries - entry_bytes * entries
    if real_weights:
        # the masked float64 matrix and its codes; the fit's copies or the quantiser's temporaries;
        # then nonzero's int64 rows and columns (16 per weight) beside the matrix
        # (and, compiled, their flat int64 positions: 8 more)
        fit = (8 + 1 + 34) * positions
        encoding = (8 + 1) * positions + (16 + 1 + 16 + 8 * compiled) * weights + sort + encoded
    else:
        # the gaps and their running sum (sparse draw, 16) and one block of codes being read; then the positions
        # kept (8, sparse), the codes read whole (1; a dense layer on the compiled path reads one column group at a
        # time) and, on the numpy path, int64 columns and rows (and a dense arange: 24)
        read_in_groups = compiled and not sparse_draw
        fit = 17 * sparse_draw * weights + draw_block                    # a sparse draw's codes are read at once
        encoding = ((0 if read_in_groups else 1) + 8 * sparse_draw + (0 if compiled else 24)) * weights + sort + encoded
        encoding += draw_block if read_in_groups else 0
    # calibration samples lowered by im2col are held whole; synthetic vectors only one at a time (N = 1) or
    # drawn block by block (inside the lane block)
    inputs = 24 * k * n if calibration_inputs else 8 * k
    # the numpy segment counts build int64 keys for a block of whole PEs (about 64 bytes per entry)
    keys = 0 if compiled else 64 * (SEGMENT_BLOCK_ENTRIES + entries // n_pe)
    lanes = encoded + inputs + max(160 * table_elements + keys, 40 * table_elements + lane_block)
    output = encoded + 24 * k * n + 40 * table_elements + 96 * entries + 8 * m * n if keep_output else 0
    return int(max(fit, encoding, encoded + inputs + draw_block, lanes, output))
