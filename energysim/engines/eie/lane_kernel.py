"""The lane recurrences of :mod:`energysim.engines.eie.pipeline`, compiled with numba when it is installed.

numba is optional (the ``fast`` extra: ``pip install 'energysim[fast]'``). With it,
:func:`run_block` steps every lane of a block one after another in compiled code:
per lane and row pass, one pass over its non-zero activations, each step one loop
over the PEs (``s = max(b + 1, f)``, ``f = s + w``, the slowest PE's ``s`` kept in a
ring of ``D`` slots for the broadcast ``D`` steps later). The numbers are those of
:func:`energysim.engines.eie.pipeline.step_lanes` exactly (same recurrences, same
integer arithmetic, int64 throughout; checked on the same cases by
``tests/engines/eie/test_eie_lane_kernel.py``). Without numba, or with
``ENERGYSIM_EIE_KERNEL=numpy`` in the environment, the engine uses the numpy path
(lanes stepped together, vectorised over lanes x PEs).

numba is imported, and each kernel compiled, when an EIE layer first needs it; the
compiled code is cached on disk (numba's ``cache=True``, in ``__pycache__`` or
``NUMBA_CACHE_DIR``): the first run in a fresh environment pays a few seconds of
compilation for all kernels (``benchmarks/bench_eie.py`` measures it, "numba cold"),
later runs load it.
"""

from __future__ import annotations

import numpy as np

from energysim.formats.eie_csc_kernel import (KERNEL_ENV, compiled_available, jit, position_segments, segment_counts_by_pe,
                                              slice_rows, use_compiled)

__all__ = ["KERNEL_ENV", "compiled_available", "floyd_subsets", "fresh_line_count", "kernel_name", "layer_tables", "run_block", "use_compiled"]


def kernel_name() -> str:
    """``"numba"`` or ``"numpy"``: the path :func:`energysim.engines.eie.lanes.simulate_lanes` takes now."""
    return "numba" if use_compiled() else "numpy"


def _block_totals(table, column_entries, active, passes, n_pe, depth, on_finish, finish):  # pragma: no cover - compiled
    """Sums over the lanes of one block (see :func:`run_block`); plain Python, compiled by numba.

    ``finish`` (one per PE column of ``table``, of the table's type) sets the type of the per-PE
    times: int16 when every time of a lane fits (16 PEs per AVX2 operation), else int32 (8) or int64.
    """
    width = table.shape[1]
    k1 = column_entries.shape[1]
    vectors, k = active.shape
    cast = np.zeros(1, finish.dtype)
    ring = np.zeros(depth, np.int64)
    positions = np.empty(k + 1, np.int64)
    pack_of = np.empty(k, np.int64)             # no division per step: each input's pack, and whether it ends it
    ends_pack = np.empty(k, np.bool_)
    for j in range(k):
        pack_of[j] = j // n_pe
        ends_pack[j] = j % n_pe == n_pe - 1
    lanes_run = 0
    cycles_last = 0
    compute = 0
    queue_full = 0
    fetch = 0
    broadcasts = 0
    for vector in range(vectors):
        length = 0
        for j in range(k):                      # branch-free: the activity is random
            positions[length] = j
            length += active[vector, j]
        if length == 0:
            continue
        for rpass in range(passes):
            base = rpass * k1
            for p in range(width):
                finish[p] = 0
            previous_b = 0
            previous_position = -1
            entries = 0
            slot = 0
            for t in range(length):
                position = positions[t]
                pack = pack_of[position]
                if t == 0:
                    gap = pack
                else:
                    gap = pack - pack_of[previous_position] - 1
                    if not ends_pack[previous_position]:
                        gap += 1
                    if gap < 0:
                        gap = 0
                previous_position = position
                fetch += gap
                earliest = previous_b + 1 + gap
                b = earliest
                if t >= depth:
                    held = ring[slot] + 1
                    if held > b:
                        b = held
                queue_full += b - earliest
                previous_b = b
                cast[0] = b + 1
                ready = cast[0]
                row = base + position
                slowest = ready
                if on_finish:
                    for p in range(width):
                        f = max(finish[p], ready) + table[row, p]
                        finish[p] = f
                        slowest = max(slowest, f)
                else:
                    for p in range(width):
                        s = max(finish[p], ready)
                        finish[p] = s + table[row, p]
                        slowest = max(slowest, s)
                ring[slot] = slowest
                slot += 1
                if slot == depth:
                    slot = 0
                entries += column_entries[rpass, position]
            last = finish[0]
            for p in range(1, width):
                if finish[p] > last:
                    last = finish[p]
            lanes_run += 1
            cycles_last += last
            compute += (entries + n_pe - 1) // n_pe
            broadcasts += length
    return lanes_run, cycles_last, compute, queue_full, fetch, broadcasts


def run_block(table: np.ndarray, column_entries: np.ndarray, active: np.ndarray, passes: int, n_pe: int,
              depth: int, on_finish: bool) -> tuple[int, int, int, int, int, int]:
    """Step every lane of a block of input vectors with the compiled kernel.

    Parameters
    ----------
    table
        ``(P * (K + 1), W)`` cycles per activation (``max(1, entries)``, cast to int16 when the times fit it), one row per
        (row pass, column), one column per PE (``W = 1`` when every PE's row is 1).
    column_entries
        ``(P, K + 1)`` int64 entries per (row pass, column) over all PEs.
    active
        ``(C, K)`` bool, C-contiguous: input ``j`` of vector ``c`` is non-zero.
    passes, n_pe, depth
        Row passes ``P``, PEs ``N`` (the pack size) and usable queue depth ``D`` (>= 1).
    on_finish
        Slot freed when the PE takes the next activation (else when it takes this one).

    Returns
    -------
    tuple of int
        Lanes run (vector x pass with a non-zero activation), sum of their last-entry
        cycles ``T``, sum of ``ceil(entries / N)``, queue-full and pack-load wait cycles,
        broadcasts (all summed over lanes).
    """
    k = active.shape[1]
    # A lane's times grow by at most 1 + its pack gap + the largest work per activation.
    bound = k * (2 + (int(table.max()) if table.size else 0)) + k // max(1, n_pe) + 4
    times = np.int16 if bound < 2**15 - 1 else np.int32 if bound < 2**31 - 1 else np.int64
    table = np.ascontiguousarray(table, dtype=np.int16 if times is np.int16 else np.int32)
    finish = np.zeros(table.shape[1], times)
    totals = jit(_block_totals)(table, np.ascontiguousarray(column_entries, dtype=np.int64),
                                np.ascontiguousarray(active, dtype=np.bool_), int(passes), int(n_pe), int(depth),
                                bool(on_finish), finish)
    return tuple(int(value) for value in totals)


def _segment_tables(counts, pointers, passes, entries_per_line, segments):  # pragma: no cover - compiled
    """Work, column and line-group tables from the entries per (pass, PE, column); compiled by numba.

    Pass by pass, PE by PE, column by column: the work table, column entries, line steps and line
    groups, each segment's first address carried per (PE, column) from one pass to the next (pointer
    plus the entries of the earlier passes).
    """
    n_pe, k1 = pointers.shape
    k = k1 - 1
    work = np.ones((passes, k1, n_pe), np.int32)
    column_entries = np.zeros((passes, k1), np.int64)
    line_steps = np.zeros((passes, k), np.int64)
    members = np.empty(segments, np.int64)
    group_start = np.empty(segments, np.int64)
    spans_in = np.empty(segments, np.int64)
    start_of = pointers[:, :k].copy()           # (N, K) first address of each segment of the current pass
    most = 0
    at = 0
    groups = 0
    for rpass in range(passes):
        for pe in range(n_pe):
            previous_first = -1
            previous_last = -1
            previous_column = -1
            for column in range(k):
                count = counts[rpass, pe, column]
                if count == 0:
                    continue
                work[rpass, column, pe] = count
                column_entries[rpass, column] += count
                most = max(most, count)
                start = start_of[pe, column]
                start_of[pe, column] = start + count
                first = start // entries_per_line
                last = (start + count - 1) // entries_per_line
                line_steps[rpass, column] += last - first
                if previous_column < 0 or first != previous_first:
                    group_start[groups] = at
                    spans_in[groups] = previous_column if previous_column >= 0 and previous_last == first else k
                    groups += 1
                members[at] = column
                at += 1
                previous_first = first
                previous_last = last
                previous_column = column
    return work, column_entries, line_steps, members, group_start[:groups].copy(), spans_in[:groups].copy(), most


def segment_table(csc, rows_per_pass: int, passes: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Entries per (row pass, PE, column) of a CSC, real entries per (pass, column) and non-empty segments.

    From the weights' flat positions when the CSC keeps them (:attr:`EieCsc.flat`: a dense
    matrix in closed form, else one compiled walk over the positions), so its entries are never
    written; else one compiled walk over its entries (:func:`energysim.formats.eie_csc_kernel.segment_counts_by_pe`).

    Returns
    -------
    counts, column_real, segments
        ``(P, N, K)`` int32 (int64 when a PE's entries do not fit) entries, padding included;
        ``(P, K)`` int64 real entries; and the number of non-zero ``counts``.
    """
    n_pe, k = csc.n_pe, csc.shape[1]
    m = csc.shape[0]
    dtype = np.int32 if csc.pointers.size == 0 or csc.max_pointer < 2**31 else np.int64
    flat = csc.flat
    if flat is not None and flat.positions is None:       # every position: each PE's rows split into passes
        first_row = np.arange(passes, dtype=np.int64)[:, None] * rows_per_pass
        per_pass = np.clip(slice_rows(m, n_pe)[None, :] - first_row, 0, None)
        per_pass[:-1] = np.minimum(per_pass[:-1], rows_per_pass)        # the last pass takes the rest
        counts = np.ascontiguousarray(np.broadcast_to(per_pass[:, :, None], (passes, n_pe, k)), dtype=dtype)
        column_real = np.repeat(per_pass.sum(axis=1, dtype=np.int64)[:, None], k, axis=1)
        return counts, column_real, int(np.count_nonzero(per_pass)) * k
    counts = np.zeros((passes, n_pe, k), dtype)
    if flat is not None:
        column_real, segments = position_segments(flat.positions, m, n_pe, k, csc.index_bits, rows_per_pass, passes,
                                                  counts)
    else:
        entries, real = segment_counts_by_pe(csc.v, csc.local_rows, np.ascontiguousarray(csc.pointers, dtype=np.int64),
                                             np.ascontiguousarray(csc.pe_offsets, dtype=np.int64), rows_per_pass, passes)
        counts[...] = entries
        column_real, segments = real.sum(axis=1), np.count_nonzero(entries)
    return counts, column_real, int(segments)


def layer_tables(csc, rows_per_pass: int, passes: int, entries_per_line: int) -> tuple:
    """A layer's work, column and line-group tables from its CSC, with the compiled kernels.

    Parameters
    ----------
    csc
        The layer's :class:`energysim.formats.eie_csc.EieCsc`.
    rows_per_pass, passes
        Local rows per row pass and row passes ``P``.
    entries_per_line
        Sparse-matrix entries per SRAM line.

    Returns
    -------
    work, column_entries, column_real, line_steps, members, group_start, spans_in, most
        ``(P, K + 1, N)`` int32 cycles per activation ``max(1, entries)`` (row ``K`` of each
        pass: 1); ``(P, K + 1)`` int64 entries per column over all PEs (0 in column ``K``);
        ``(P, K)`` int64 real entries; ``(P, K)`` int64 sum over PEs of ``last line - first
        line``; the line groups as the fields of :class:`energysim.engines.eie.lanes._Tables`
        (int64); and the most entries of one segment (int).
    """
    counts, column_real, segments = segment_table(csc, rows_per_pass, passes)
    work, column_entries, line_steps, members, group_start, spans_in, most = jit(_segment_tables)(
        counts, np.ascontiguousarray(csc.pointers, dtype=np.int64), int(passes), int(entries_per_line), int(segments))
    return work, column_entries, column_real, line_steps, members, group_start, spans_in, int(most)


_M1 = np.uint64(0x5555555555555555)
_M2 = np.uint64(0x3333333333333333)
_M4 = np.uint64(0x0F0F0F0F0F0F0F0F)
_H01 = np.uint64(0x0101010101010101)
_ONE = np.uint64(1)
_TWO = np.uint64(2)
_FOUR = np.uint64(4)
_SHIFT = np.uint64(56)


def _fresh_totals(bits, members, group_start, spans_in):  # pragma: no cover - compiled
    """Set bits of (OR of each group's member rows) AND NOT its spans-in row; plain Python, compiled by numba."""
    groups = group_start.size
    words = bits.shape[1]
    acc = np.zeros(words, np.uint64)
    total = np.uint64(0)
    for g in range(groups):
        begin = group_start[g]
        end = group_start[g + 1] if g + 1 < groups else members.size
        first = members[begin]
        for w in range(words):
            acc[w] = bits[first, w]
        for i in range(begin + 1, end):
            row = members[i]
            for w in range(words):
                acc[w] |= bits[row, w]
        held = spans_in[g]
        for w in range(words):
            x = acc[w] & ~bits[held, w]
            x = x - ((x >> _ONE) & _M1)
            x = (x & _M2) + ((x >> _TWO) & _M2)
            x = (x + (x >> _FOUR)) & _M4
            total += (x * _H01) >> _SHIFT
    return total


def fresh_line_count(bits: np.ndarray, members: np.ndarray, group_start: np.ndarray, spans_in: np.ndarray) -> int:
    """Lines entered fresh over a block of vectors, with the compiled kernel.

    Parameters
    ----------
    bits
        ``(K + 1, W)`` uint64: bit ``c`` of row ``j`` set when input ``j`` of vector ``c`` is
        non-zero (row ``K`` all zero).
    members, group_start, spans_in
        The line groups of :class:`energysim.engines.eie.lanes._Tables`.

    Returns
    -------
    int
        Sum over groups and vectors of [some member of the group active and its spans-in column not].
    """
    return int(jit(_fresh_totals)(np.ascontiguousarray(bits), np.ascontiguousarray(members, dtype=np.int64),
                                  np.ascontiguousarray(group_start, dtype=np.int64),
                                  np.ascontiguousarray(spans_in, dtype=np.int64)))


def _floyd_fill(uniform, k, chosen):  # pragma: no cover - compiled
    """Floyd's algorithm per vector from uniform draws; plain Python, compiled by numba (see :func:`floyd_subsets`).

    Vectors in tiles of 64, step by step within a tile: the tile's rows stay in cache and
    each step reads a contiguous run of ``uniform``.
    """
    size, vectors = uniform.shape
    for lo in range(0, vectors, 64):
        hi = min(vectors, lo + 64)
        for step in range(size):
            j = k - size + step
            for vector in range(lo, hi):
                t = min(int(uniform[step, vector] * (j + 1)), j)
                if chosen[vector, t]:
                    t = j
                chosen[vector, t] = True


def floyd_subsets(uniform: np.ndarray, k: int) -> np.ndarray:
    """``(C, K)`` bool: per vector, the ``s``-subset Floyd's algorithm picks with the given draws.

    Parameters
    ----------
    uniform
        ``(s, C)`` float64 in [0, 1): at step ``i`` (``j = K - s + i``), vector ``c`` picks
        ``t = min(floor(u (j + 1)), j)`` in ``0 .. j``.
    k
        Set size ``K``.

    Returns
    -------
    numpy.ndarray
        Step ``i`` takes ``t``, or ``j`` when ``t`` is already taken. Compiled with numba
        when available (``t`` computed as it is used; a vector's row stays in cache); else
        numpy, one step for all vectors at a time. Same result either way.
    """
    size, vectors = uniform.shape
    chosen = np.zeros((vectors, k), dtype=bool)
    if use_compiled():
        jit(_floyd_fill)(np.ascontiguousarray(uniform, dtype=np.float64), int(k), chosen)
        return chosen
    steps = np.arange(k - size, k, dtype=np.int64)
    draws = np.minimum((uniform * (steps + 1)[:, None]).astype(np.int64), steps[:, None])   # t = floor(u (j + 1))
    flat = chosen.ravel()
    base = np.arange(vectors, dtype=np.int64) * k
    for step in range(size):
        at = base + draws[step]
        taken = flat[at]
        at[taken] = base[taken] + (k - size + step)
        flat[at] = True
    return chosen


def _line_bound_totals(active, entries_t, totals, entries_per_line):  # pragma: no cover - compiled
    """Sum over vectors and PEs of ceil(entries in the vector's active columns / line); compiled by numba.

    A vector with more active than inactive columns starts from ``totals`` (every column) and
    takes the inactive ones off: exact integers either way, at most ``K / 2`` rows added per vector.
    """
    vectors, k = active.shape
    n_pe = entries_t.shape[1]
    per_pe = np.zeros(n_pe, entries_t.dtype)    # int16 / int32 when every sum fits: 16 / 8 PEs per AVX2 add
    on = np.empty(k + 1, np.int64)
    off = np.empty(k + 1, np.int64)
    lines = 0
    for vector in range(vectors):
        length = 0
        zeros = 0
        for j in range(k):                      # branch-free, as in _block_totals
            on[length] = j
            off[zeros] = j
            length += active[vector, j]
            zeros += 1 - active[vector, j]
        if length <= zeros:
            for p in range(n_pe):
                per_pe[p] = 0
            for t in range(length):
                j = on[t]
                for p in range(n_pe):
                    per_pe[p] += entries_t[j, p]
        else:
            for p in range(n_pe):
                per_pe[p] = totals[p]
            for t in range(zeros):
                j = off[t]
                for p in range(n_pe):
                    per_pe[p] -= entries_t[j, p]
        for p in range(n_pe):
            lines += (per_pe[p] + entries_per_line - 1) // entries_per_line
    return lines


def line_bound(active: np.ndarray, entries_t: np.ndarray, entries_per_line: int) -> int:
    """Compiled :func:`energysim.engines.eie.lanes._line_bound`: exact integer sums, one vector at a time.

    Parameters
    ----------
    active
        ``(C, K)`` bool, C-contiguous activity of a block of vectors.
    entries_t
        ``(K, N)`` entries per column and PE, int16, int32 or int64: the sums are kept in its type, so
        int16 or int32 only when a PE's entries over all columns fit it.
    entries_per_line
        Sparse-matrix entries per SRAM line.
    """
    entries_t = np.ascontiguousarray(entries_t)
    return int(jit(_line_bound_totals)(np.ascontiguousarray(active, dtype=np.bool_), entries_t,
                                       entries_t.sum(axis=0, dtype=entries_t.dtype), int(entries_per_line)))


def _pack_columns(active, bits):  # pragma: no cover - compiled
    """Set bit ``c % 64`` of word ``c // 64`` in row ``j`` where vector ``c`` has input ``j`` non-zero; compiled by numba."""
    vectors, k = active.shape
    for vector in range(vectors):
        word = vector >> 6
        shift = np.uint64(vector & 63)
        for j in range(k):                      # branch-free: the activity is random
            bits[j, word] |= np.uint64(active[vector, j]) << shift


def pack_columns(active: np.ndarray) -> np.ndarray:
    """``(K + 1, ceil(C / 64))`` uint64 bit rows of a ``(C, K)`` activity block (row ``K`` all zero), compiled."""
    vectors, k = active.shape
    bits = np.zeros((k + 1, max(1, -(-vectors // 64))), dtype=np.uint64)
    jit(_pack_columns)(np.ascontiguousarray(active, dtype=np.bool_), bits)
    return bits
