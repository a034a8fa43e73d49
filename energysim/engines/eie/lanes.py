"""All the lanes of one EIE layer, in blocks: cycles, line reads and per-PE work.

One *lane* is one input vector (a column of the GEMM's ``K x N`` inputs) on one
row pass. Lanes are independent (each starts from empty queues and idle PEs), so
a layer's figures are sums over lanes, and the lanes are streamed in blocks of
input columns: the memory held is one block's tables, whatever the batch.

- **Work and line tables, built once per layer.** Per row pass, column and PE:
  the cycles per activation ``max(1, entries)`` and the first and last
  sparse-matrix line of the segment. Every lane of every block reuses them, and
  so does the next simulation of the same prepared layer (e.g. another queue depth).
- **Timing.** Each block's lanes (sorted by length, longest first) are stepped
  together by :func:`energysim.engines.eie.pipeline.step_lanes`, gathering each
  step's work rows from the table. When no PE ever holds more than one entry of
  a column (every work row is 1 on every PE), all PEs follow the same
  recurrence, so one stands for all (exact; e.g. a conv layer with as many
  output channels as PEs).
- **Line reads, without stepping.** A line is read when the entry stream of a
  PE enters it, and addresses only grow along a lane, so a lane reads each line
  its processed segments touch exactly once. Per pass and PE, write ``S`` for
  the non-empty columns whose segment starts in line ``l`` and ``h`` for the
  non-empty column just before them if its segment ends in ``l`` (it spans into
  ``l``). Then a lane's reads are the sum over its active non-empty columns of
  ``last line - first line`` plus the number of lines ``l`` where some column of
  ``S`` is active and ``h`` is not (``l`` entered fresh). The second term is
  counted 64 lanes at a time on bit-packed activity (OR over ``S``, AND NOT
  ``h``, population count), once per prepared layer and inputs (it does not
  depend on the queues). This equals stepping a held-line register through
  every lane.
- **Per-PE busy cycles, entries, useful entries**: per pass, how many lanes
  process each column times the column's per-PE figures (no stepping).
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field

import numpy as np

from energysim.engines.eie.lane_kernel import fresh_line_count, layer_tables, pack_columns, run_block, use_compiled
from energysim.engines.eie.lane_kernel import line_bound as compiled_line_bound
from energysim.engines.eie.pipeline import check_queue_rules, fetch_gaps, step_lanes
from energysim.engines.eie.synthetic import SyntheticInputs
from energysim.errors import InputError
from energysim.formats.eie_csc import EieCsc
from energysim.units import ceil_div

WORK_BUDGET_ELEMENTS = 1 << 16
"""Lanes x PEs stepped at once (about 256 KB per int32 state array: fits the caches)."""

INDEX_BUDGET_ELEMENTS = 4_000_000
"""Largest (activations x lanes) index block and (segments x 8-byte words) bit block; bounds memory."""

_POPCOUNT = np.array([bin(value).count("1") for value in range(256)], dtype=np.uint8)
"""Set bits of every byte value."""


@dataclass(frozen=True)
class LaneTotals:
    """Sums over the lanes of one layer.

    Attributes
    ----------
    lanes_run
        Lanes with at least one non-zero activation.
    cycles_last_entry
        Sum over those lanes of the cycle of the lane's last entry (``T``).
    cycles_compute
        Sum over lanes of ``ceil(entries of the lane / N)``.
    cycles_queue_full, cycles_fetch
        Cycles the broadcast waited on a full queue / on pack loads, summed.
    broadcasts
        Non-zero activations broadcast, summed over lanes (row passes repeat them).
    entries, useful
        Entries processed (padding included) and real entries processed.
    line_reads
        Sparse-matrix line reads (a held line reused).
    busy_per_pe
        ``(N,)`` cycles each PE spends on activations, ``max(1, entries)`` each.
    uses
        ``(K,)`` input vectors in which input ``j`` is non-zero.
    line_bound
        Sum over vectors and PEs of ``ceil(entries of the PE in the vector's non-zero
        columns / entries per line)``, computed from the activity and the per-PE column
        entries by its own formula (the engine's compulsory line-read bound).
    """

    lanes_run: int
    cycles_last_entry: int
    cycles_compute: int
    cycles_queue_full: int
    cycles_fetch: int
    broadcasts: int
    entries: int
    useful: int
    line_reads: int
    busy_per_pe: np.ndarray
    uses: np.ndarray
    line_bound: int


@dataclass(frozen=True)
class _Tables:
    """Per-layer tables every lane block reuses."""

    work: np.ndarray          # (P * (K + 1), N_eff) max(1, entries); row K of each pass is padding; N_eff = 1 when all 1
    column_entries: np.ndarray  # (P, K + 1) entries per column over all PEs (0 in the padding column)
    column_real: np.ndarray     # (P, K) real entries per column
    line_steps: np.ndarray      # (P, K) sum over PEs of last line - first line of non-empty segments
    members: np.ndarray         # columns of every line group S, grouped (pass by pass, PE by PE, line by line)
    group_start: np.ndarray     # index in members of each group's first column
    spans_in: np.ndarray        # column h of each group (K when none)
    fresh: dict = field(default_factory=dict)  # id(inputs) -> (weakref, lines entered fresh, uses, line bound): depth-independent


_last_tables: list[tuple[weakref.ref, int, int, _Tables]] = []
"""The tables of the last CSC seen (a queue-depth sweep simulates one prepared layer many times)."""


def _tables(csc: EieCsc, rows_per_pass: int, entries_per_line: int) -> _Tables:
    """Work, column and line-group tables of a layer from its CSC (reused while the same CSC object lives)."""
    for ref, rows, per_line, tables in _last_tables:
        if ref() is csc and rows == rows_per_pass and per_line == entries_per_line:
            return tables
    tables = _build_tables(csc, rows_per_pass, entries_per_line)
    _last_tables[:] = [(weakref.ref(csc), rows_per_pass, entries_per_line, tables)]
    return tables


def _build_tables(csc: EieCsc, rows_per_pass: int, entries_per_line: int) -> _Tables:
    """Work, column and line-group tables of a layer from its CSC."""
    if rows_per_pass < 1:
        raise InputError(f"EIE CSC segment_counts: rows_per_pass must be >= 1 (got {rows_per_pass})")
    if use_compiled():                 # one compiled walk: no (P, K, N) int64 temporaries
        passes = max(1, ceil_div(csc.rows_per_pe, rows_per_pass))
        work, column_entries, column_real, line_steps, members, group_start, spans_in, most = layer_tables(
            csc, rows_per_pass, passes, entries_per_line)
        if most <= 1:                  # every PE's work is 1 on every column: one stands for all
            work = np.ones((passes, work.shape[1], 1), dtype=np.int32)
        return _Tables(work=work.reshape(-1, work.shape[2]), column_entries=column_entries, column_real=column_real,
                       line_steps=line_steps, members=members, group_start=group_start, spans_in=spans_in)
    entries, real, starts = csc.segment_counts(rows_per_pass)      # (P, K, N)
    passes, k, n_pe = entries.shape
    busy = np.maximum(entries, 1)
    uniform = bool(np.all(busy == 1))
    work = np.ones((passes, k + 1, 1 if uniform else n_pe), dtype=np.int32)
    if not uniform:
        work[:, :k] = busy
    column_entries = np.zeros((passes, k + 1), dtype=np.int64)
    column_entries[:, :k] = entries.sum(axis=2)
    nonempty = entries > 0
    first = np.where(nonempty, starts // entries_per_line, 0)
    last = np.where(nonempty, (starts + entries - 1) // entries_per_line, 0)
    # Line groups: the non-empty segments in (pass, PE, column) order; a group = equal (pass, PE, first line).
    where = np.flatnonzero(nonempty.transpose(0, 2, 1).ravel())
    pass_pe, column = np.divmod(where, k)
    first_s = first.transpose(0, 2, 1).ravel()[where]
    last_s = last.transpose(0, 2, 1).ravel()[where]
    new_group = np.ones(where.size, dtype=bool)
    new_group[1:] = (pass_pe[1:] != pass_pe[:-1]) | (first_s[1:] != first_s[:-1])
    group_start = np.flatnonzero(new_group)
    spans_in = np.full(group_start.size, k, dtype=np.int64)
    previous = group_start - 1
    ok = previous >= 0
    ok[ok] = (pass_pe[previous[ok]] == pass_pe[group_start[ok]]) & (last_s[previous[ok]] == first_s[group_start[ok]])
    spans_in[ok] = column[previous[ok]]
    return _Tables(work=work.reshape(passes * (k + 1), -1), column_entries=column_entries,
                   column_real=real.sum(axis=2), line_steps=(last - first).sum(axis=2),
                   members=column, group_start=group_start, spans_in=spans_in)


def _fresh_lines(tables: _Tables, active: np.ndarray) -> int:
    """Lines entered fresh over a block of input vectors: groups with an active column of ``S`` and ``h`` inactive.

    ``active`` is ``(C, K)`` bool; the count is summed over the ``C`` vectors (each pass's groups see
    the same vectors).
    """
    vectors, k = active.shape
    if use_compiled():
        return fresh_line_count(pack_columns(active), tables.members, tables.group_start, tables.spans_in)
    packed = np.packbits(active.T, axis=1)                                 # (K, ceil(C / 8)) bytes
    words = ceil_div(packed.shape[1], 8)
    bits = np.zeros((k + 1, words * 8), dtype=np.uint8)                    # row K: no column (never active)
    bits[:k, :packed.shape[1]] = packed
    bits = bits.view(np.uint64)
    groups = tables.group_start.size
    fresh = 0
    chunk = max(1, INDEX_BUDGET_ELEMENTS // max(1, words))
    lo = 0
    while lo < groups:
        hi = min(groups, lo + chunk)
        begin = tables.group_start[lo]
        end = tables.group_start[hi] if hi < groups else tables.members.size
        any_active = np.bitwise_or.reduceat(bits[tables.members[begin:end]], tables.group_start[lo:hi] - begin, axis=0)
        any_active &= ~bits[tables.spans_in[lo:hi]]
        fresh += int(_POPCOUNT[any_active.view(np.uint8)].sum(dtype=np.int64))
        lo = hi
    return fresh


def activity_blocks(inputs: "np.ndarray | SyntheticInputs", vectors_per_block: int):
    """Yield the ``(C, K)`` bool activity (C-contiguous) of blocks of at most ``vectors_per_block`` input vectors.

    Given inputs are read column block by column block; synthetic ones are drawn block by
    block (:class:`energysim.engines.eie.synthetic.SyntheticInputs`), each draw block split
    further when larger.
    """
    vectors_per_block = max(1, vectors_per_block)
    if isinstance(inputs, SyntheticInputs):
        for _, active in inputs.active_blocks():
            for lo in range(0, active.shape[0], vectors_per_block):
                yield active[lo:lo + vectors_per_block]
        return
    for lo in range(0, inputs.shape[1], vectors_per_block):
        yield np.ascontiguousarray((inputs[:, lo:lo + vectors_per_block] != 0).T)


def _line_bound(active: np.ndarray, column_entries_t: np.ndarray, entries_per_line: int) -> int:
    """Sum over a block's vectors and PEs of ``ceil(entries of the PE in the vector's active columns / line)``.

    ``column_entries_t`` is ``(K, N)`` float32 or float64 entries per column and PE, exact (every
    partial sum of integers stays below the mantissa's range: checked by the caller).
    """
    per_pe = np.rint(active.astype(column_entries_t.dtype) @ column_entries_t).astype(np.int64)   # (C, N)
    return int(ceil_div(per_pe, entries_per_line).sum())


def simulate_lanes(csc: EieCsc, inputs: "np.ndarray | SyntheticInputs", rows_per_pass: int, entries_per_line: int,
                   queue_depth: int, slot_freed_at: str) -> LaneTotals:
    """Cycles and counts of every lane of a layer, streamed in blocks of input vectors.

    Parameters
    ----------
    csc
        The layer's interleaved CSC on ``N`` PEs.
    inputs
        ``(K, V)`` input activations, one column per input vector, or seeded synthetic
        ones drawn block by block (:class:`~energysim.engines.eie.synthetic.SyntheticInputs`).
    rows_per_pass
        Local rows of a PE slice per row pass (the destination register file's entries).
    entries_per_line
        Sparse-matrix entries per SRAM line.
    queue_depth, slot_freed_at
        Usable activation queue depth and when a slot frees (see :func:`step_lanes`).

    Returns
    -------
    LaneTotals
    """
    n_pe = csc.n_pe
    tables = _tables(csc, rows_per_pass, entries_per_line)
    passes, k1 = tables.column_entries.shape
    k = k1 - 1
    width = tables.work.shape[1]
    known = tables.fresh.get(id(inputs))
    count_fresh = known is None or known[0]() is not inputs
    uses = np.zeros(k, dtype=np.int64)          # input vectors with input j non-zero (each pass processes them)
    lanes_run = cycles_last = compute = queue_full = fetch = broadcasts = fresh = line_bound = 0
    check_queue_rules(queue_depth, slot_freed_at)
    compiled = use_compiled()
    if count_fresh:
        # (K, N); int16 or int32 when a PE's entries over every column fit (the compiled bound sums in this type)
        per_pe_entries = np.ascontiguousarray(csc.column_entries.T, dtype=np.int16 if csc.max_pointer < 2**15 else
                                              np.int32 if csc.max_pointer < 2**31 else np.int64)
        exact32 = csc.max_pointer < 2**24
        column_entries_t = per_pe_entries.astype(np.float32 if exact32 else np.float64) if not compiled else None
    if compiled:        # one lane at a time: a block only bounds the activity arrays
        block = max(1, INDEX_BUDGET_ELEMENTS // max(1, k))
    else:
        block = max(1, min(WORK_BUDGET_ELEMENTS // width, INDEX_BUDGET_ELEMENTS // max(1, k)) // passes)
    for active in activity_blocks(inputs, block):                           # (C, K)
        # A block of identical vectors (e.g. every input non-zero) is one vector's lanes C times: lanes are
        # independent and every figure is a sum over them.
        repeats = 1
        if active.shape[0] > 1 and np.array_equal(active[-1], active[0]) and bool((active == active[:1]).all()):
            repeats, active = active.shape[0], active[:1]
        if count_fresh:
            uses += repeats * active.sum(axis=0)
            fresh += repeats * _fresh_lines(tables, active)
            line_bound += repeats * (compiled_line_bound(active, per_pe_entries, entries_per_line) if compiled
                                     else _line_bound(active, column_entries_t, entries_per_line))
        if compiled:
            sums = run_block(tables.work, tables.column_entries, active, passes, n_pe,
                             queue_depth, slot_freed_at == "finish")
            lanes_run, cycles_last, compute, queue_full, fetch, broadcasts = (
                total + repeats * value
                for total, value in zip((lanes_run, cycles_last, compute, queue_full, fetch, broadcasts), sums))
            continue
        lengths = active.sum(axis=1)
        order = np.argsort(-lengths, kind="stable")
        lengths = lengths[order]
        steps = int(lengths[0]) if lengths.size else 0
        if steps == 0:
            continue
        lane, position = np.nonzero(active[order])                          # lane-major, positions ascending
        rank = np.arange(lane.size) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        index = np.full((steps, lengths.size), k, dtype=np.int32 if passes * k1 < 2**31 else np.int64)
        index[rank, lane] = position
        # Lanes (vector, pass), every pass of a vector next to each other: lengths stay non-increasing.
        index = np.repeat(index, passes, axis=1)
        lane_pass = np.tile(np.arange(passes), lengths.size)
        lane_lengths = np.repeat(lengths, passes)
        rows = index + (lane_pass * k1).astype(index.dtype) if passes > 1 else index   # table rows
        timing = step_lanes(tables.work, rows, lane_lengths, queue_depth,
                            gaps=fetch_gaps(index, n_pe), slot_freed_at=slot_freed_at)
        ran = lane_lengths > 0
        entries_lane = np.take(tables.column_entries.ravel(), rows).sum(axis=0)
        lanes_run += repeats * int(ran.sum())
        cycles_last += repeats * int(timing.cycles_lane.sum())
        compute += repeats * int(ceil_div(entries_lane, n_pe).sum())
        queue_full += repeats * int(timing.cycles_queue_full.sum())
        fetch += repeats * int(timing.cycles_fetch.sum())
        broadcasts += repeats * int(lane_lengths.sum())
    if count_fresh:
        tables.fresh.clear()
        tables.fresh[id(inputs)] = (weakref.ref(inputs), fresh, uses, line_bound)
    else:
        fresh, uses, line_bound = known[1:]
    spans = int((tables.line_steps @ uses).sum())
    return LaneTotals(
        lanes_run=lanes_run,
        cycles_last_entry=cycles_last,
        cycles_compute=compute,
        cycles_queue_full=queue_full,
        cycles_fetch=fetch,
        broadcasts=broadcasts,
        entries=int((tables.column_entries[:, :k] @ uses).sum()),
        useful=int((tables.column_real @ uses).sum()),
        line_reads=spans + fresh,
        busy_per_pe=np.broadcast_to(np.einsum("k,pkn->n", uses, tables.work.reshape(passes, k1, -1)[:, :k]),
                                    (n_pe,)).copy(),
        uses=uses.copy(),
        line_bound=line_bound,
    )
