"""Progress for long jobs: one tqdm bar on a terminal, occasional plain lines in logs.

Every job that can take more than a couple of seconds (``estimate`` on VGG-16,
``compare``, EIE on large layers, the reproductions) ticks one bar per simulated
layer and hardware run. Progress goes to stderr, so tables on stdout stay clean
for pipes. On a terminal it is a tqdm bar. Where stderr is not a terminal (a CI
log, a pipe, a file) a bar's carriage returns would be noise, so a job that is
still running after :data:`LOG_INTERVAL_S` seconds prints one plain line then
and at most one per interval after that, and a last line when it ends; a job
that ends sooner prints nothing.
"""

from __future__ import annotations

import math
import sys
import time
from typing import Callable

from tqdm import tqdm

from energysim.errors import InputError

LOG_INTERVAL_S = 30.0
"""Seconds between two progress lines off a terminal (and before the first one)."""


class LogLines:
    """Progress as a plain stderr line every :data:`LOG_INTERVAL_S` seconds, for logs; the calls of a tqdm bar.

    Parameters
    ----------
    total
        Number of steps.
    desc
        What runs, e.g. ``"estimate vgg16-han2015"``.
    unit
        What one step is (``layer``, ``batch``).
    interval_s
        Seconds between lines, in s (default :data:`LOG_INTERVAL_S`).
    clock
        Time source in s (default ``time.monotonic``; a test passes its own).
    """

    def __init__(self, total: int, desc: str, unit: str = "layer", interval_s: float | None = None,
                 clock: Callable[[], float] | None = None) -> None:
        self.total, self.desc, self.unit, self.n = total, desc, unit, 0
        self.disable = False
        self._interval_s = LOG_INTERVAL_S if interval_s is None else interval_s
        self._clock = clock or time.monotonic
        self._start = self._clock()
        self._next = self._start + self._interval_s
        self._postfix = ""
        self._lines = 0

    def update(self, n: int = 1) -> None:
        """Count ``n`` steps done; print a line if the interval has passed since the last one."""
        self.n += n
        now = self._clock()
        if now >= self._next:
            self._write(now)
            self._next = now + self._interval_s

    def set_postfix_str(self, text: str, refresh: bool = True) -> None:
        """What runs now (e.g. ``a100 pruned conv3``), named in the next line."""
        self._postfix = text

    def refresh(self) -> None:
        """Nothing to redraw: lines are printed on :meth:`update`."""

    def close(self) -> None:
        """A last line with the time taken, only if a line was printed before (a short job stays silent)."""
        if self._lines:
            elapsed = self._clock() - self._start
            sys.stderr.write(f"energysim: {self.desc}: done, {self.n}/{self.total} {_plural(self.unit)} in {_duration(elapsed)}\n")
            sys.stderr.flush()
            self._lines = 0

    def __enter__(self) -> "LogLines":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def _write(self, now: float) -> None:
        elapsed = now - self._start
        share = self.n / self.total if self.total else 0.0
        left = f", about {_duration(elapsed * (1 - share) / share)} left" if 0 < share < 1 else ""
        where = f" (at {self._postfix})" if self._postfix else ""
        sys.stderr.write(f"energysim: {self.desc}: {self.n}/{self.total} {_plural(self.unit)} ({100 * share:.0f} %) "
                         f"after {_duration(elapsed)}{left}{where}\n")
        sys.stderr.flush()
        self._lines += 1


def _duration(seconds: float) -> str:
    """``75.2 -> '1 min 15 s'``, ``12.4 -> '12 s'``, ``3900 -> '1 h 5 min'``."""
    seconds = max(0, math.floor(seconds + 0.5))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


def _plural(unit: str) -> str:
    """``batch`` -> ``batches``, ``layer`` -> ``layers``."""
    return unit + ("es" if unit.endswith(("s", "sh", "ch", "x")) else "s")


def progress_bar(total: int, desc: str, enabled: bool | None = None, unit: str = "layer") -> tqdm | LogLines:
    """Progress of a job on stderr: a tqdm bar on a terminal, occasional lines (:class:`LogLines`) in a log.

    Parameters
    ----------
    total
        Number of steps (e.g. layers x hardware runs).
    desc
        Text in front of the bar, e.g. ``"estimate alexnet-han2015"``.
    enabled
        ``None``: a bar when stderr is a terminal, else a line every
        :data:`LOG_INTERVAL_S` seconds (a job shorter than that, such as a test run,
        prints nothing); ``True``: always a bar (e.g. in a notebook, whose stderr is
        not a terminal); ``False``: nothing (``--quiet``).
    unit
        What one step is (shown in the bar's rate).

    Returns
    -------
    tqdm.tqdm or LogLines
        Use it as a context manager and call ``update(1)`` per step. A disabled bar
        accepts the same calls and writes nothing.

    Raises
    ------
    InputError
        If ``enabled`` is not True, False or None (a ``"yes"`` or a ``0`` from a
        caller is refused, not taken for its truth value).
    """
    if enabled is not None and not isinstance(enabled, bool):
        raise InputError(f"progress must be True, False or None (got {enabled!r})")
    if enabled is None:
        if not sys.stderr.isatty():
            return LogLines(total, desc, unit)
        enabled = True
    return tqdm(total=total, desc=desc, file=sys.stderr, disable=not enabled, leave=False, unit=unit)
