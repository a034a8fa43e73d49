"""The cycle-level core of the EIE engine: activation broadcast, queues and PEs.

Timing rules (one *lane* = one input vector processed on one row pass; lanes run
one after another, each starting with empty queues and idle PEs):

- The central control unit (CCU) broadcasts the non-zero activations of the
  lane in index order, at most one per cycle, to every PE's activation queue.
  The first is broadcast in cycle 0. Zero activations are skipped at no cost.
- A queue holds at most ``D`` (``queue_depth``) activations waiting to be
  processed. A PE pops the head when it starts processing it, so the activation
  being processed no longer occupies a queue slot; a pop and a push may happen
  in the same cycle. The broadcast of activation ``t`` therefore waits until
  every PE has started activation ``t - D``. Cycles the CCU waits are
  *queue-full stall* cycles.
- An activation broadcast in cycle ``b`` can be started by a PE in cycle
  ``b + 1`` at the earliest. PE ``p`` spends ``w[t, p] = max(1, k)`` cycles on
  activation ``t``, ``k`` being its entries (padding included) in that column.
- The lane ends when every PE has finished its last activation.

As recurrences, with ``b_{-1} = -1`` and ``f[-1, p] = 0``::

    b_t     = max(b_{t-1} + 1, max_p s[t - D, p])      (second term for t >= D;
                                                         f instead of s when the
                                                         slot is freed at finish)
    s[t, p] = max(b_t + 1, f[t-1, p])
    f[t, p] = s[t, p] + w[t, p]
    T       = max_p f[A-1, p]                            (lane cycles, before drain)

These are exactly the cycle-by-cycle rules stepped once per broadcast instead of
once per cycle, vectorised over PEs and lanes.
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
        ``(L,)`` cycles from the first broadcast to the last PE finishing (``T``).
    cycles_queue_full
        ``(L,)`` cycles the broadcast waited on a full queue.
    broadcast
        ``(A, L)`` broadcast cycle of each activation (only with ``trace=True``).
    start
        ``(A, L, N)`` cycle each PE started each activation (only with ``trace=True``).
    """

    cycles_lane: np.ndarray
    cycles_queue_full: np.ndarray
    broadcast: np.ndarray | None = None
    start: np.ndarray | None = None


def run_lanes(work: np.ndarray, lengths: np.ndarray, queue_depth: int, trace: bool = False,
              slot_freed_at: str = "start") -> LaneTiming:
    """Step the broadcast/queue/PE recurrences for lanes sorted by length, longest first.

    Parameters
    ----------
    work
        ``(A, L, N)`` cycles PE ``n`` spends on activation ``a`` of lane ``l``
        (>= 1 where ``a < lengths[l]``; ignored elsewhere).
    lengths
        ``(L,)`` non-zero activations per lane, non-increasing.
    queue_depth
        Activation queue depth ``D`` in entries (>= 1).
    trace
        Also return every broadcast and start cycle (for hand-traced tests).
    slot_freed_at
        ``"start"`` (default): a PE pops the head when it starts processing it, so
        the broadcast of ``t`` waits for every PE to *start* ``t - D``.
        ``"finish"``: the activation keeps its queue slot until the PE finishes it
        (the queue also holds the activation in process), so the broadcast of
        ``t`` waits for every PE to *finish* ``t - D``. The paper does not say
        which; the sweep reports both.

    Returns
    -------
    LaneTiming
    """
    if slot_freed_at not in ("start", "finish"):
        raise InputError(f"EIE slot_freed_at must be 'start' or 'finish' (got {slot_freed_at!r})")
    if queue_depth < 1:
        raise InputError(f"EIE queue_depth must be >= 1 (got {queue_depth})")
    work = np.asarray(work)
    lengths = np.asarray(lengths, dtype=np.int64)
    n_steps, n_lanes, n_pe = work.shape
    if lengths.shape != (n_lanes,):
        raise InputError(f"EIE lanes: lengths must have one entry per lane ({n_lanes}) (got shape {lengths.shape})")
    if n_lanes and (np.any(np.diff(lengths) > 0) or lengths.max() > n_steps or lengths.min() < 0):
        raise InputError(
            f"EIE lanes: lengths must be non-increasing and within 0..{n_steps} (got {lengths.tolist()[:8]}...)"
        )
    # active[t]: lanes with more than t activations (a prefix, as lengths are sorted descending)
    active = np.searchsorted(-lengths, -np.arange(n_steps), side="left")
    broadcast_prev = np.full(n_lanes, -1, dtype=np.int64)
    finish = np.zeros((n_lanes, n_pe), dtype=np.int64)
    start_max = np.zeros((max(n_steps, 1), n_lanes), dtype=np.int64)
    queue_full = np.zeros(n_lanes, dtype=np.int64)
    broadcast_trace = np.full((n_steps, n_lanes), -1, dtype=np.int64) if trace else None
    start_trace = np.full((n_steps, n_lanes, n_pe), -1, dtype=np.int64) if trace else None
    depth = queue_depth
    on_finish = slot_freed_at == "finish"
    for t in range(n_steps):
        lanes = int(active[t])
        if lanes == 0:
            break
        earliest = broadcast_prev[:lanes] + 1
        broadcast = np.maximum(earliest, start_max[t - depth, :lanes]) if t >= depth else earliest
        queue_full[:lanes] += broadcast - earliest
        start = np.maximum(finish[:lanes], (broadcast + 1)[:, None])
        finish[:lanes] = start + work[t, :lanes]
        start_max[t, :lanes] = (finish[:lanes] if on_finish else start).max(axis=1)
        broadcast_prev[:lanes] = broadcast
        if trace:
            broadcast_trace[t, :lanes] = broadcast
            start_trace[t, :lanes] = start
    cycles = finish.max(axis=1) if n_pe else np.zeros(n_lanes, dtype=np.int64)
    cycles = np.where(lengths > 0, cycles, 0)
    return LaneTiming(cycles_lane=cycles, cycles_queue_full=queue_full, broadcast=broadcast_trace, start=start_trace)
