"""Axis point counts and overlaps equal brute-force set arithmetic, including gapped (strided) windows."""

from __future__ import annotations

import itertools
import random

from energysim.engines.loopnest.geometry import overlap, points


def test_points_and_overlap_match_sets() -> None:
    """2000 seeded (coefficient, extent) pairs and shifts: closed form and interval fast path equal the sets."""
    rng = random.Random(7)
    gapped = 0
    for _ in range(2000):
        terms = tuple((rng.randint(1, 5), rng.randint(1, 7)) for _ in range(rng.choice([1, 2])))
        pts = {sum(c * i for (c, _), i in zip(terms, idx)) for idx in itertools.product(*(range(e) for _, e in terms))}
        gapped += len(pts) != max(pts) + 1
        assert points(terms) == len(pts), terms
        shift = rng.randint(-12, 12)
        assert overlap(terms, shift) == len(pts & {p + shift for p in pts}), (terms, shift)
    assert gapped > 100
