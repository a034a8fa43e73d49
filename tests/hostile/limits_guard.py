"""Budgets for hostile-input tests: an input that allocates gigabytes or blocks (a FIFO) fails the test, not the machine."""

from __future__ import annotations

import contextlib
import resource
import signal

BUDGET_BYTES = 6 * 2**30
"""Address space a hostile case may use (the interpreter, numpy and pandas take about 1.5 GiB of it)."""


@contextlib.contextmanager
def memory_budget(budget_bytes: int = BUDGET_BYTES):
    """Lower the soft address-space limit for the block (a MemoryError instead of the OOM killer), then restore it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = budget_bytes if hard == resource.RLIM_INFINITY else min(budget_bytes, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


@contextlib.contextmanager
def time_budget(seconds: int = 120):
    """Fail the block with TimeoutError after ``seconds`` (a blocking open of a FIFO would otherwise hang the suite)."""
    def expire(signum, frame):
        raise TimeoutError(f"hostile case still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
