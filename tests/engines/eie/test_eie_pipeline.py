"""EIE fetch, queue and stall rules (the authors' simulator's) on hand-traced tiny cases (energysim.engines.eie.pipeline)."""

from __future__ import annotations

from collections import deque

import numpy as np
import pytest

from energysim.engines.eie.pipeline import fetch_gaps, run_lanes
from energysim.errors import InputError


def _one_lane(work_rows):
    work = np.array(work_rows, dtype=np.int64)[:, None, :]
    return work, np.array([work.shape[0]])


def test_unit_work_streams_one_activation_per_cycle_after_the_pack_load():
    """Every PE doing 1 cycle per activation, depth 8: cycle 0 loads pack 0, b = 1..4, s = 2..5, last entry T = 6.

    Trace (2 PEs, 4 activations): b = 1,2,3,4; s = 2,3,4,5 on both PEs; f = s + 1; T = max f = 6.
    """
    work, lengths = _one_lane([[1, 1]] * 4)
    timing = run_lanes(work, lengths, queue_depth=8, trace=True)
    assert timing.broadcast[:, 0].tolist() == [1, 2, 3, 4]
    assert timing.start[:, 0, 0].tolist() == [2, 3, 4, 5]
    assert timing.cycles_lane.tolist() == [6]
    assert timing.cycles_queue_full.tolist() == [0]


def test_two_slot_ring_buffer_halves_the_broadcast_rate():
    """B = 2 slots (depth 1), 1 PE at 1 cycle per activation: a slot freed in cycle c takes a push from c + 1 only.

    b0 = 1; the pointer stage pops it at s0 = 2; b1 = s0 + 1 = 3 (1 queue-full cycle); s1 = 4; b2 = 5; s2 = 6;
    T = f2 = 7: one broadcast every 2 cycles, 2 stall cycles.
    """
    work, lengths = _one_lane([[1]] * 3)
    timing = run_lanes(work, lengths, queue_depth=1, trace=True)
    assert timing.broadcast[:, 0].tolist() == [1, 3, 5]
    assert timing.start[:, 0, 0].tolist() == [2, 4, 6]
    assert timing.cycles_lane.tolist() == [7]
    assert timing.cycles_queue_full.tolist() == [2]


def test_depth_one_stalls_broadcast_until_a_cycle_after_every_pe_took_the_previous():
    """Depth 1, work per activation [PE0, PE1] = [3,1], [1,1], [1,3]: T = 10, 3 stall cycles.

    t0: b=1, s=(2,2), f=(5,3).
    t1: b=max(2, max s0 + 1 = 3)=3 (1 stall), s=(max(4,5), max(4,3))=(5,4), f=(6,5).
    t2: b=max(4, max s1 + 1 = 6)=6 (2 stalls), s=(max(7,6), max(7,5))=(7,7), f=(8,10). T = 10.
    """
    work, lengths = _one_lane([[3, 1], [1, 1], [1, 3]])
    timing = run_lanes(work, lengths, queue_depth=1, trace=True)
    assert timing.broadcast[:, 0].tolist() == [1, 3, 6]
    assert timing.start[:, 0].tolist() == [[2, 2], [5, 4], [7, 7]]
    assert timing.cycles_lane.tolist() == [10]
    assert timing.cycles_queue_full.tolist() == [3]


def test_depth_two_absorbs_the_same_imbalance():
    """Depth 2 on the same work: t2 waits for s0 + 1 = 3 only, so b = 1,2,3, T = 7 and no stall.

    t1: b=2, s=(max(3,5), max(3,3))=(5,3), f=(6,4). t2: b=max(3, 2+1)=3, s=(max(4,6), max(4,4))=(6,4), f=(7,7).
    """
    work, lengths = _one_lane([[3, 1], [1, 1], [1, 3]])
    timing = run_lanes(work, lengths, queue_depth=2, trace=True)
    assert timing.broadcast[:, 0].tolist() == [1, 2, 3]
    assert timing.start[:, 0].tolist() == [[2, 2], [5, 3], [6, 4]]
    assert timing.cycles_lane.tolist() == [7]
    assert timing.cycles_queue_full.tolist() == [0]


def test_slot_freed_at_finish_is_stricter():
    """Depth 1 with the slot held until the PE takes the next activation: T = 13 and 6 stall cycles on the same work.

    t0: b=1, s=(2,2), f=(5,3); max f0 = 5.
    t1: b=max(2, 5+1)=6 (4 stalls), s=(7,7), f=(8,8).
    t2: b=max(7, 8+1)=9 (2 stalls), s=(10,10), f=(11,13). T = 13.
    """
    work, lengths = _one_lane([[3, 1], [1, 1], [1, 3]])
    timing = run_lanes(work, lengths, queue_depth=1, trace=True, slot_freed_at="finish")
    assert timing.broadcast[:, 0].tolist() == [1, 6, 9]
    assert timing.cycles_lane.tolist() == [13]
    assert timing.cycles_queue_full.tolist() == [6]


def test_fetch_gaps_count_pack_loads():
    """Packs of 4: a pack whose last non-zero is not at position 3 costs one load cycle; all-zero packs one each.

    Indices 1, 3, 4, 6, 13 -> packs 0, 0, 1, 1, 3: 3 sits at position 3, so pack 1 loads in the cycle that
    broadcasts it (gap 0); after 6 (position 2) one cycle loads pack 2 and one more (pack 2 is all zero) loads
    pack 3: gap 2. A first non-zero in pack 2 waits for two loads past pack 0: gap 2.
    """
    assert fetch_gaps(np.array([[1], [3], [4], [6], [13]]), 4)[:, 0].tolist() == [0, 0, 0, 0, 2]
    assert fetch_gaps(np.array([[9]]), 4)[:, 0].tolist() == [2]


def test_fetch_gaps_delay_the_broadcast():
    """1 PE, unit work, indices 1, 3, 4, 6, 13 in packs of 4: b = 1, 2, 3, 4, 7 (cycles 5, 6 load packs 2, 3)."""
    index = np.array([[1], [3], [4], [6], [13]])
    work, lengths = _one_lane([[1]] * 5)
    timing = run_lanes(work, lengths, queue_depth=8, gaps=fetch_gaps(index, 4), trace=True)
    assert timing.broadcast[:, 0].tolist() == [1, 2, 3, 4, 7]
    assert timing.cycles_fetch.tolist() == [2]
    assert timing.cycles_lane.tolist() == [9]


def test_lanes_of_different_lengths_are_independent():
    """Two lanes stepped together give the same cycles as each alone (lengths 3 and 1, zero-padded work)."""
    long_work = np.array([[3, 1], [1, 1], [1, 3]])
    short_work = np.array([[2, 5], [0, 0], [0, 0]])
    both = np.stack([long_work, short_work], axis=1)
    timing = run_lanes(both, np.array([3, 1]), queue_depth=1)
    alone_short = run_lanes(short_work[:1, None, :], np.array([1]), queue_depth=1)
    assert timing.cycles_lane.tolist() == [10, int(alone_short.cycles_lane[0])]
    assert alone_short.cycles_lane.tolist() == [7]


def test_empty_lane_takes_no_cycles():
    """A lane with no non-zero activation costs 0 cycles."""
    timing = run_lanes(np.zeros((0, 1, 4), dtype=np.int64), np.array([0]), queue_depth=8)
    assert timing.cycles_lane.tolist() == [0]


def test_bad_arguments_raise():
    """Depth 0, an unknown slot rule, unsorted lengths and misshapen gaps are rejected with InputError."""
    work = np.ones((2, 2, 1), dtype=np.int64)
    with pytest.raises(InputError, match="queue_depth must be >= 1"):
        run_lanes(work, np.array([2, 2]), 0)
    with pytest.raises(InputError, match="slot_freed_at"):
        run_lanes(work, np.array([2, 2]), 1, slot_freed_at="never")
    with pytest.raises(InputError, match="non-increasing"):
        run_lanes(work, np.array([1, 2]), 1)
    with pytest.raises(InputError, match="gaps must have shape"):
        run_lanes(work, np.array([2, 2]), 1, gaps=np.zeros((3, 2)))


def _cycle_by_cycle(index, work, pack_size, slots, slot_freed_at):
    """Reference: the LNZD, ring buffers of ``slots`` slots and pointer stages stepped one cycle at a time.

    Every decision in a cycle reads the state at the start of the cycle; pops and the push take
    effect at its end. Returns (cycle of the last entry, queue-full stall cycles).
    """
    nonzero = set(int(i) for i in index)
    n_steps, n_pe = work.shape
    queues = [deque() for _ in range(n_pe)]
    finish = [-1] * n_pe                    # cycle of the last entry of the activation each PE holds
    pack, position, pushed, stalls, cycle = None, 0, 0, 0, 0
    while pushed < n_steps or any(queues):
        held = [len(q) + (1 if slot_freed_at == "finish" and finish[p] >= cycle else 0) for p, q in enumerate(queues)]
        full = max(held) >= slots - 1
        push = None
        if pack is None:
            pack, position = 0, 0                                   # cycle 0: load pack 0
        elif pushed < n_steps:
            found = next((pack * pack_size + j for j in range(position, pack_size)
                          if pack * pack_size + j in nonzero), None)
            if found is None:
                pack, position = pack + 1, 0                        # nothing left: load the next pack
            elif full:
                stalls += 1
            else:
                push, position = pushed, found % pack_size + 1
                if position == pack_size:
                    pack, position = pack + 1, 0                    # last position: next pack in the same cycle
        for p, q in enumerate(queues):
            if q and finish[p] <= cycle:                            # pointer stage takes (pops) the head
                finish[p] = cycle + int(work[q.popleft(), p])
        if push is not None:
            for q in queues:
                q.append(push)
            pushed += 1
        cycle += 1
    return max(finish), stalls


@pytest.mark.parametrize("slot_freed_at", ["start", "finish"])
@pytest.mark.parametrize("depth", [1, 2, 3, 7])
def test_recurrences_equal_a_cycle_by_cycle_model(depth, slot_freed_at):
    """Stepping per broadcast gives exactly the cycles and stalls of the per-cycle LNZD/ring-buffer model (random cases)."""
    rng = np.random.default_rng(depth * 10 + (slot_freed_at == "finish"))
    for _ in range(25):
        n_inputs = int(rng.integers(1, 40))
        index = np.flatnonzero(rng.random(n_inputs) < rng.uniform(0.1, 0.9))
        if index.size == 0:
            continue
        work = rng.integers(1, 6, size=(index.size, 3))
        pack_size = int(rng.integers(1, 6))
        timing = run_lanes(work[:, None, :], np.array([index.size]), depth,
                           gaps=fetch_gaps(index[:, None], pack_size), slot_freed_at=slot_freed_at)
        cycles, stalls = _cycle_by_cycle(index, work, pack_size, depth + 1, slot_freed_at)
        assert (int(timing.cycles_lane[0]), int(timing.cycles_queue_full[0])) == (cycles, stalls)


@pytest.mark.parametrize("slot_freed_at", ["start", "finish"])
@pytest.mark.parametrize("depth", [4, 5, 8, 300])
def test_chunks_of_steps_equal_one_step_at_a_time(monkeypatch, depth, slot_freed_at):
    """Small blocks stepped D steps at a time in closed form give every broadcast, start and stall of the step loop.

    Random lanes of unequal lengths (zero work past each end), pack-load gaps, 1 to 4 PEs.
    """
    import energysim.engines.eie.pipeline as pipeline

    rng = np.random.default_rng(depth + (slot_freed_at == "finish"))
    for _ in range(10):
        n_lanes, n_pe = int(rng.integers(1, 6)), int(rng.integers(1, 5))
        lengths = np.sort(rng.integers(0, 40, size=n_lanes))[::-1]
        steps = int(lengths.max()) if lengths.max() else 1
        work = rng.integers(1, 7, size=(steps, n_lanes, n_pe)) * (np.arange(steps)[:, None, None] < lengths[None, :, None])
        index = np.sort(rng.integers(0, 200, size=(steps, n_lanes)), axis=0)
        gaps = fetch_gaps(index, 8)
        chunked = run_lanes(work, lengths, depth, gaps=gaps, trace=True, slot_freed_at=slot_freed_at)
        monkeypatch.setattr(pipeline, "CHUNKED_MAX_ELEMENTS", 0)
        stepped = run_lanes(work, lengths, depth, gaps=gaps, trace=True, slot_freed_at=slot_freed_at)
        monkeypatch.undo()
        for field in ("cycles_lane", "cycles_queue_full", "cycles_fetch", "broadcast", "start"):
            assert getattr(chunked, field).tolist() == getattr(stepped, field).tolist(), field
