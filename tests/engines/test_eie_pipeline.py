"""EIE queue and stall rules on hand-traced tiny cases (energysim.engines.eie_pipeline)."""

from __future__ import annotations

import numpy as np
import pytest

from energysim.engines.eie_pipeline import run_lanes
from energysim.errors import InputError


def _one_lane(work_rows):
    work = np.array(work_rows, dtype=np.int64)[:, None, :]
    return work, np.array([work.shape[0]])


def test_unit_work_streams_one_activation_per_cycle():
    """Every PE doing 1 cycle per activation: broadcast t at cycle t, start t+1, so A activations take A+1 cycles.

    Trace (2 PEs, 4 activations, depth 8): b = 0,1,2,3; s = 1,2,3,4 on both PEs; f(last) = 5 -> T = 5.
    """
    work, lengths = _one_lane([[1, 1]] * 4)
    timing = run_lanes(work, lengths, queue_depth=8, trace=True)
    assert timing.broadcast[:, 0].tolist() == [0, 1, 2, 3]
    assert timing.start[:, 0, 0].tolist() == [1, 2, 3, 4]
    assert timing.cycles_lane.tolist() == [5]
    assert timing.cycles_queue_full.tolist() == [0]


def test_depth_one_stalls_broadcast_until_every_pe_started_previous():
    """Depth 1 (slot freed at start), work per activation [PE0, PE1] = [3,1], [1,1], [1,3]: T = 8, 2 stall cycles.

    t0: b=0, s=(1,1), f=(4,2).
    t1: b=max(1, max s0=1)=1, s=(max(4,2), max(2,2))=(4,2), f=(5,3).
    t2: b=max(2, max s1=4)=4 (2 queue-full cycles), s=(max(5,5), max(3,5))=(5,5), f=(6,8).
    T = max f = 8.
    """
    work, lengths = _one_lane([[3, 1], [1, 1], [1, 3]])
    timing = run_lanes(work, lengths, queue_depth=1, trace=True)
    assert timing.broadcast[:, 0].tolist() == [0, 1, 4]
    assert timing.start[:, 0].tolist() == [[1, 1], [4, 2], [5, 5]]
    assert timing.cycles_lane.tolist() == [8]
    assert timing.cycles_queue_full.tolist() == [2]


def test_depth_two_absorbs_the_same_imbalance():
    """Depth 2 on the same work: t2 only waits for s0 (=1), so b=2, PE1 starts t2 at 3 and T = 6 with no stall.

    t2: b=max(2, max s0=1)=2, s=(max(5,3), max(3,3))=(5,3), f=(6,6).
    """
    work, lengths = _one_lane([[3, 1], [1, 1], [1, 3]])
    timing = run_lanes(work, lengths, queue_depth=2, trace=True)
    assert timing.broadcast[:, 0].tolist() == [0, 1, 2]
    assert timing.start[:, 0].tolist() == [[1, 1], [4, 2], [5, 3]]
    assert timing.cycles_lane.tolist() == [6]
    assert timing.cycles_queue_full.tolist() == [0]


def test_slot_freed_at_finish_is_stricter():
    """Depth 1 with the slot held until the PE finishes: T = 10 and 4 stall cycles on the same work.

    t0: b=0, s=(1,1), f=(4,2); max f0 = 4.
    t1: b=max(1, 4)=4 (3 stall), s=(max(4,5), max(2,5))=(5,5), f=(6,6).
    t2: b=max(5, max f1=6)=6 (1 stall), s=(7,7), f=(8,10). T = 10.
    """
    work, lengths = _one_lane([[3, 1], [1, 1], [1, 3]])
    timing = run_lanes(work, lengths, queue_depth=1, trace=True, slot_freed_at="finish")
    assert timing.broadcast[:, 0].tolist() == [0, 4, 6]
    assert timing.cycles_lane.tolist() == [10]
    assert timing.cycles_queue_full.tolist() == [4]


def test_lanes_of_different_lengths_are_independent():
    """Two lanes stepped together give the same cycles as each alone (lengths 3 and 1, zero-padded work)."""
    long_work = np.array([[3, 1], [1, 1], [1, 3]])
    short_work = np.array([[2, 5], [0, 0], [0, 0]])
    both = np.stack([long_work, short_work], axis=1)
    timing = run_lanes(both, np.array([3, 1]), queue_depth=1)
    alone_short = run_lanes(short_work[:1, None, :], np.array([1]), queue_depth=1)
    assert timing.cycles_lane.tolist() == [8, int(alone_short.cycles_lane[0])]
    assert alone_short.cycles_lane.tolist() == [6]


def test_empty_lane_takes_no_cycles():
    """A lane with no non-zero activation costs 0 cycles."""
    timing = run_lanes(np.zeros((0, 1, 4), dtype=np.int64), np.array([0]), queue_depth=8)
    assert timing.cycles_lane.tolist() == [0]


def test_bad_arguments_raise():
    """Depth 0, an unknown slot rule and unsorted lengths are rejected with InputError."""
    work = np.ones((2, 2, 1), dtype=np.int64)
    with pytest.raises(InputError, match="queue_depth must be >= 1"):
        run_lanes(work, np.array([2, 2]), 0)
    with pytest.raises(InputError, match="slot_freed_at"):
        run_lanes(work, np.array([2, 2]), 1, slot_freed_at="never")
    with pytest.raises(InputError, match="non-increasing"):
        run_lanes(work, np.array([1, 2]), 1)


def _cycle_by_cycle(work, depth, slot_freed_at):
    """Reference: explicit FIFOs stepped one cycle at a time (pops before the push in a cycle)."""
    from collections import deque

    n_steps, n_pe = work.shape
    queues = [deque() for _ in range(n_pe)]
    busy_until = [0] * n_pe
    next_activation, cycle, stalls = 0, 0, 0
    while True:
        for p in range(n_pe):
            if busy_until[p] <= cycle and queues[p]:
                t = queues[p].popleft()
                busy_until[p] = cycle + int(work[t, p])
        if next_activation < n_steps:
            held = [len(q) + (1 if slot_freed_at == "finish" and busy_until[p] > cycle else 0)
                    for p, q in enumerate(queues)]
            if max(held) < depth:
                for q in queues:
                    q.append(next_activation)
                next_activation += 1
            else:
                stalls += 1
        elif not any(queues) and max(busy_until) <= cycle:
            return max(busy_until), stalls
        cycle += 1


@pytest.mark.parametrize("slot_freed_at", ["start", "finish"])
@pytest.mark.parametrize("depth", [1, 2, 3, 8])
def test_recurrences_equal_a_cycle_by_cycle_fifo_model(depth, slot_freed_at):
    """Stepping per broadcast gives exactly the cycles and stalls of explicit FIFOs stepped per cycle (random cases)."""
    rng = np.random.default_rng(depth * 10 + (slot_freed_at == "finish"))
    for _ in range(20):
        work = rng.integers(1, 6, size=(int(rng.integers(1, 15)), 3))
        timing = run_lanes(work[:, None, :], np.array([work.shape[0]]), depth, slot_freed_at=slot_freed_at)
        cycles, stalls = _cycle_by_cycle(work, depth, slot_freed_at)
        assert (int(timing.cycles_lane[0]), int(timing.cycles_queue_full[0])) == (cycles, stalls)
