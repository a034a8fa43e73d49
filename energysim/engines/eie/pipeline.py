"""The cycle-level core of the EIE engine: activation broadcast, queues and PEs.

The rules are those of the EIE authors' public cycle-accurate simulator
(github.com/RalphMao/EIE-simulator, ``src/nzfetch.cpp``, ``src/ptrvec.cpp``,
``src/spmat.cpp``, ``src/arithm.cpp``, read at commit 04364e3 and later; no code
copied). One *lane* = one input vector processed on one row pass; lanes run one
after another, each starting with empty queues and idle PEs. Cycles are counted
from 0 at the start of a lane.

- **Fetch.** The leading-non-zero detector (LNZD) holds one *pack* of ``N``
  activations (``N`` = PEs; pack ``r`` = activations ``rN .. rN + N - 1``).
  Cycle 0 loads pack 0. Each later cycle it either broadcasts the next non-zero
  of its pack or, when the pack holds no further non-zero, loads the next pack
  (a cycle without a broadcast). A broadcast of the pack's last activation
  (position ``N - 1``) loads the next pack in the same cycle. So the broadcast of
  non-zero ``t`` (index ``i_t``, pack ``r_t``) waits ``g_t`` extra cycles after
  the previous broadcast: ``g_0 = r_0``; for ``t >= 1``, ``g_t = 0`` within a pack,
  else ``r_t - r_{t-1} - 1`` (all-zero packs, one cycle each) plus 1 unless
  ``i_{t-1}`` sat at position ``N - 1``.
- **Queues.** Each PE's activation queue is a ring buffer of ``B`` slots of which
  ``B - 1`` are usable: ``queue_depth`` ``D`` is the usable depth, ``D = B - 1``.
  "Full" is judged on the state at the start of a cycle, so a slot freed by a pop
  in cycle ``c`` takes a push only from cycle ``c + 1``. A broadcast waits while
  any PE's queue is full; those are *queue-full stall* cycles.
- **PEs.** The pointer stage pops the head of the queue when it takes the
  activation (cycle ``s``), at the earliest the cycle after its broadcast. A PE
  spends ``w = max(1, k)`` cycles on it (``k`` its entries in that column, padding
  included): its entries pass cycles ``s + 1 .. s + k`` and the pointer stage takes
  the next activation in the cycle of the last entry (an empty column holds the
  pointer stage one cycle). With the slot freed at finish (a reading the authors'
  simulator does not support, kept for the paper's Fig. 8 discussion) the
  activation keeps its queue slot until the PE takes the next one.

As recurrences over the non-zero activations ``t = 0 .. A - 1`` of a lane, with
``b_{-1} = 0`` and ``f[-1, p] = 0``::

    b_t     = max(b_{t-1} + 1 + g_t, max_p m[t - D, p] + 1)   (second term for t >= D)
    s[t, p] = max(b_t + 1, f[t-1, p])
    f[t, p] = s[t, p] + w[t, p]
    T       = max_p f[A-1, p]            (cycle of the last entry; the engine adds the drain)

with ``m = s`` (slot freed when the pointer stage takes the activation, the
authors' rule) or ``m = f`` (freed at finish). The engine adds ``pipeline_depth +
2`` cycles after ``T``: the last accumulator write lands 6 cycles after the last
entry in the authors' simulator with the paper's 4 arithmetic stages.

These are exactly the cycle-by-cycle rules stepped once per broadcast instead of
once per cycle, vectorised over PEs and lanes (checked against an explicit
per-cycle ring-buffer model in ``tests/engines/eie/test_eie_pipeline.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from energysim.errors import InputError


@dataclass(frozen=True)
class LaneTiming:
    """Timing of a set of lanes.

    Attributes
    ----------
    cycles_lane
        ``(L,)`` cycle of the last entry of each lane (``T``; 0 for a lane without
        a non-zero activation).
    cycles_queue_full
        ``(L,)`` cycles the broadcast waited on a full queue.
    cycles_fetch
        ``(L,)`` cycles the broadcast waited on pack loads of the LNZD (the ``g_t``).
    broadcast
        ``(A, L)`` broadcast cycle of each activation (only with ``trace=True``).
    start
        ``(A, L, N)`` cycle each PE's pointer stage took each activation (only with ``trace=True``).
    """

    cycles_lane: np.ndarray
    cycles_queue_full: np.ndarray
    cycles_fetch: np.ndarray
    broadcast: np.ndarray | None = None
    start: np.ndarray | None = None


def fetch_gaps(index: np.ndarray, n_pe: int) -> np.ndarray:
    """Extra cycles the LNZD spends on pack loads before each broadcast (the ``g_t``).

    Parameters
    ----------
    index
        ``(A, L)`` input index of the ``t``-th non-zero activation of each lane,
        ascending along axis 0 (entries past a lane's length are ignored by
        :func:`run_lanes`).
    n_pe
        PEs ``N``, the pack size.

    Returns
    -------
    numpy.ndarray
        ``(A, L)`` int64: ``g_0 = r_0`` (all-zero packs before the first non-zero);
        ``g_t = 0`` within a pack, else ``r_t - r_{t-1} - 1 + [i_{t-1} mod N != N - 1]``.
    """
    index = np.asarray(index)
    index = index.astype(np.int32 if index.size == 0 or int(index.max()) < 2**31 - 1 else np.int64, copy=False)
    pack = index // n_pe
    gaps = np.zeros(pack.shape, dtype=np.int64)
    if pack.shape[0]:
        gaps[0] = pack[0]
        jump = pack[1:] - pack[:-1]
        # jump - 1 + [previous position not last in its pack], only where the pack changes
        jump += (index[:-1] % n_pe != n_pe - 1).view(np.int8)
        jump -= 1
        np.maximum(jump, 0, out=jump)
        gaps[1:] = jump
    return gaps


def run_lanes(work: np.ndarray, lengths: np.ndarray, queue_depth: int, gaps: np.ndarray | None = None,
              trace: bool = False, slot_freed_at: str = "start") -> LaneTiming:
    """Step the broadcast/queue/PE recurrences for lanes sorted by length, longest first.

    Parameters
    ----------
    work
        ``(A, L, N)`` cycles PE ``n`` spends on activation ``a`` of lane ``l``
        (>= 1 where ``a < lengths[l]``; ignored elsewhere).
    lengths
        ``(L,)`` non-zero activations per lane, non-increasing.
    queue_depth
        Usable activation queue depth ``D`` in entries (>= 1); the authors'
        ring buffer of ``B`` slots has ``D = B - 1``.
    gaps
        ``(A, L)`` pack-load cycles before each broadcast (:func:`fetch_gaps`);
        None for none (every pack holds a non-zero ending at position ``N - 1``).
    trace
        Also return every broadcast and start cycle (for hand-traced tests).
    slot_freed_at
        ``"start"`` (default, the authors' simulator): the pointer stage pops the
        head when it takes it, so the broadcast of ``t`` waits until every PE has
        *taken* ``t - D``, plus one cycle. ``"finish"``: the activation keeps its
        slot until the PE takes the next one.

    Returns
    -------
    LaneTiming
    """
    work = np.asarray(work)
    n_steps, n_lanes, n_pe = work.shape
    rows = np.arange(n_steps * n_lanes, dtype=np.int64).reshape(n_steps, n_lanes)
    return step_lanes(work.reshape(n_steps * n_lanes, n_pe), rows, lengths, queue_depth, gaps, trace, slot_freed_at)


def check_queue_rules(queue_depth: int, slot_freed_at: str) -> None:
    """Raise :class:`InputError` unless ``queue_depth >= 1`` and ``slot_freed_at`` is ``"start"`` or ``"finish"``."""
    if slot_freed_at not in ("start", "finish"):
        raise InputError(f"EIE slot_freed_at must be 'start' or 'finish' (got {slot_freed_at!r})")
    if queue_depth < 1:
        raise InputError(f"EIE queue_depth must be >= 1 (got {queue_depth})")


def step_lanes(table: np.ndarray, rows: np.ndarray, lengths: np.ndarray, queue_depth: int,
               gaps: np.ndarray | None = None, trace: bool = False, slot_freed_at: str = "start") -> LaneTiming:
    """:func:`run_lanes` with the work given as rows of a table: ``work[t, l] = table[rows[t, l]]``.

    The engine's lanes share one table per row pass (``max(1, entries)`` per column
    and PE), so the ``(A, L, N)`` work is never built: each step gathers its ``L``
    rows. Times are kept in int16 or int32 when the cycle bound allows (int64 otherwise),
    and each step costs four whole-block operations (gather, start, finish, the
    slowest PE).

    Parameters
    ----------
    table
        ``(R, N)`` cycles per activation, one row per (column, row pass) and one
        column per PE (>= 1 on every row a lane uses).
    rows
        ``(A, L)`` table row of activation ``a`` of lane ``l`` (any valid row past
        the lane's length).
    lengths, queue_depth, gaps, trace, slot_freed_at
        As in :func:`run_lanes`.

    Returns
    -------
    LaneTiming
    """
    check_queue_rules(queue_depth, slot_freed_at)
    table = np.asarray(table)
    rows = np.asarray(rows)
    lengths = np.asarray(lengths, dtype=np.int64)
    n_steps, n_lanes = rows.shape
    n_pe = table.shape[1]
    if lengths.shape != (n_lanes,):
        raise InputError(f"EIE lanes: lengths must have one entry per lane ({n_lanes}) (got shape {lengths.shape})")
    if n_lanes and (np.any(np.diff(lengths) > 0) or lengths.max() > n_steps or lengths.min() < 0):
        raise InputError(
            f"EIE lanes: lengths must be non-increasing and within 0..{n_steps} (got {lengths.tolist()[:8]}...)"
        )
    if gaps is None:
        gaps = np.zeros((n_steps, n_lanes), dtype=np.int64)
    elif np.shape(gaps) != (n_steps, n_lanes):
        raise InputError(f"EIE lanes: gaps must have shape {(n_steps, n_lanes)} (got {np.shape(gaps)})")
    gaps = np.asarray(gaps, dtype=np.int64)
    # active[t]: lanes with more than t activations (a prefix, as lengths are sorted descending)
    active = np.searchsorted(-lengths, -np.arange(n_steps), side="left")
    running = np.arange(n_steps)[:, None] < lengths[None, :]
    fetch = np.where(running, gaps, 0).sum(axis=0)
    # Every cycle is at most 1 + gap + the largest work per step after the previous one.
    if queue_depth >= CHUNKED_MIN_DEPTH and n_lanes * n_pe <= CHUNKED_MAX_ELEMENTS:
        return _step_in_chunks(table, rows, lengths, active, running, queue_depth, gaps, fetch, trace,
                               slot_freed_at == "finish")
    bound = n_steps * (2 + (int(table.max()) if table.size else 0)) + int(fetch.max(initial=0)) + 4
    dtype = np.int16 if bound < 2**15 - 1 else np.int32 if bound < 2**31 - 1 else np.int64
    table = table.astype(dtype, copy=False)
    broadcast_prev = np.zeros(n_lanes, dtype=np.int64)
    finish = np.zeros((n_lanes, n_pe), dtype=dtype)
    start = np.empty_like(finish)
    work = np.empty_like(finish)
    freed = np.zeros((max(n_steps, 1), n_lanes), dtype=np.int64)
    queue_full = np.zeros(n_lanes, dtype=np.int64)
    broadcast_trace = np.full((n_steps, n_lanes), -1, dtype=np.int64) if trace else None
    start_trace = np.full((n_steps, n_lanes, n_pe), -1, dtype=np.int64) if trace else None
    depth = queue_depth
    on_finish = slot_freed_at == "finish"
    for t in range(n_steps):
        lanes = int(active[t])
        if lanes == 0:
            break
        earliest = broadcast_prev[:lanes] + 1 + gaps[t, :lanes]
        broadcast = np.maximum(earliest, freed[t - depth, :lanes] + 1) if t >= depth else earliest
        queue_full[:lanes] += broadcast - earliest
        broadcast_prev[:lanes] = broadcast
        done, taken, cost = finish[:lanes], start[:lanes], work[:lanes]
        np.take(table, rows[t, :lanes], axis=0, out=cost, mode="clip")  # rows are valid: clip skips buffering
        np.maximum(done, (broadcast + 1).astype(dtype)[:, None], out=taken)
        np.add(taken, cost, out=done)
        freed[t, :lanes] = (done if on_finish else taken).max(axis=1)
        if trace:
            broadcast_trace[t, :lanes] = broadcast
            start_trace[t, :lanes] = taken
    cycles = finish.max(axis=1).astype(np.int64) if n_pe else np.zeros(n_lanes, dtype=np.int64)
    cycles = np.where(lengths > 0, cycles, 0)
    return LaneTiming(cycles_lane=cycles, cycles_queue_full=queue_full, cycles_fetch=fetch,
                      broadcast=broadcast_trace, start=start_trace)


CHUNKED_MIN_DEPTH = 4
"""Smallest queue depth stepped in chunks of steps (:func:`_step_in_chunks`)."""

CHUNKED_MAX_ELEMENTS = 4096
"""Largest lanes x PEs block stepped in chunks: below it the per-step operations' fixed cost dominates."""

_CHUNK_STEPS_MAX = 256
"""Longest chunk of steps (bounds its (steps, lanes, PEs) arrays)."""

_NEVER = -(2**62)
"""A time before any cycle (padding steps past a lane's end)."""


def _step_in_chunks(table: np.ndarray, rows: np.ndarray, lengths: np.ndarray, active: np.ndarray,
                    running: np.ndarray, depth: int, gaps: np.ndarray, fetch: np.ndarray, trace: bool,
                    on_finish: bool) -> LaneTiming:
    """The recurrences of :func:`step_lanes`, ``C <= D`` steps at a time in closed form.

    The broadcast of step ``t`` depends on the queues only through the slots freed at
    step ``t - D``, which is before the chunk, so within a chunk both recurrences are
    max-plus scans: with ``G`` and ``W`` the running sums over the chunk of ``1 + g``
    and of each PE's work, ``b_t = G_t + max(b_{t0-1}, max_{u<=t}(h_u - G_u))``
    (``h_u`` = the freed time at ``u - D`` plus 1) and ``f[t, p] = W[t, p] +
    max(f[t0-1, p], max_{u<=t}(b_u + 1 - W[u-1, p]))``. Steps past a lane's end get no
    work and no broadcast, so they leave its times alone. Same results as one step at a
    time with a few whole-chunk operations instead of a dozen per step.
    """
    n_steps, n_lanes = rows.shape
    n_pe = table.shape[1]
    table = table.astype(np.int64, copy=False)
    finish = np.zeros((n_lanes, n_pe), dtype=np.int64)
    broadcast_prev = np.zeros(n_lanes, dtype=np.int64)
    freed = np.zeros((max(n_steps, 1), n_lanes), dtype=np.int64)
    queue_full = np.zeros(n_lanes, dtype=np.int64)
    broadcast_trace = np.full((n_steps, n_lanes), -1, dtype=np.int64) if trace else None
    start_trace = np.full((n_steps, n_lanes, n_pe), -1, dtype=np.int64) if trace else None
    chunk = min(depth, _CHUNK_STEPS_MAX)
    for t0 in range(0, n_steps, chunk):
        lanes = int(active[t0])
        if lanes == 0:
            break
        t1 = min(n_steps, t0 + chunk)
        valid = running[t0:t1, :lanes]                                          # (C, L)
        steps = np.cumsum(1 + gaps[t0:t1, :lanes], axis=0)                      # G
        held = np.full(valid.shape, _NEVER, dtype=np.int64)                     # h: queue slots
        late = np.arange(t0, t1) >= depth
        held[late] = freed[np.arange(t0, t1)[late] - depth, :lanes] + 1
        broadcast = steps + np.maximum(np.maximum.accumulate(held - steps, axis=0), broadcast_prev[None, :lanes])
        earliest = np.concatenate((broadcast_prev[None, :lanes], broadcast[:-1])) + 1 + gaps[t0:t1, :lanes]
        queue_full[:lanes] += np.where(valid, broadcast - earliest, 0).sum(axis=0)
        work = np.where(valid[:, :, None], table[rows[t0:t1, :lanes]], 0)       # (C, L, N)
        total = np.cumsum(work, axis=0)                                         # W
        ready = np.where(valid, broadcast + 1, _NEVER)[:, :, None] - (total - work)
        done = total + np.maximum(np.maximum.accumulate(ready, axis=0), finish[None, :lanes])
        taken = done - work
        freed[t0:t1, :lanes] = (done if on_finish else taken).max(axis=2)
        finish[:lanes] = done[-1]
        broadcast_prev[:lanes] = broadcast[-1]
        if trace:
            broadcast_trace[t0:t1, :lanes] = np.where(valid, broadcast, -1)
            start_trace[t0:t1, :lanes] = np.where(valid[:, :, None], taken, -1)
    cycles = finish.max(axis=1) if n_pe else np.zeros(n_lanes, dtype=np.int64)
    cycles = np.where(lengths > 0, cycles, 0)
    return LaneTiming(cycles_lane=cycles, cycles_queue_full=queue_full, cycles_fetch=fetch,
                      broadcast=broadcast_trace, start=start_trace)
