"""Progress bars for long jobs: one tqdm bar on stderr, quiet where nobody watches.

Every job that can take more than a couple of seconds (``estimate`` on VGG-16,
EIE on large layers, the reproductions) ticks one bar per simulated layer and
hardware run. The bar goes to stderr, so tables on stdout stay clean for pipes,
and it is shown only when stderr is a terminal unless the caller asks otherwise.
"""

from __future__ import annotations

import sys

from tqdm import tqdm

from energysim.errors import InputError


def progress_bar(total: int, desc: str, enabled: bool | None = None, unit: str = "layer") -> tqdm:
    """A tqdm progress bar on stderr.

    Parameters
    ----------
    total
        Number of steps (e.g. layers x hardware runs).
    desc
        Text in front of the bar, e.g. ``"estimate alexnet-han2015"``.
    enabled
        ``None``: show the bar only when stderr is a terminal (a pipe, a file or a
        test run stays quiet); ``True``: always show it (e.g. in a notebook, whose
        stderr is not a terminal); ``False``: never.
    unit
        What one step is (shown in the bar's rate).

    Returns
    -------
    tqdm.tqdm
        The bar; use it as a context manager and call ``update(1)`` per step. A
        disabled bar accepts the same calls and writes nothing.

    Raises
    ------
    InputError
        If ``enabled`` is not True, False or None (a ``"yes"`` or a ``0`` from a
        caller is refused, not taken for its truth value).
    """
    if enabled is not None and not isinstance(enabled, bool):
        raise InputError(f"progress must be True, False or None (got {enabled!r})")
    if enabled is None:
        enabled = sys.stderr.isatty()
    return tqdm(total=total, desc=desc, file=sys.stderr, disable=not enabled, leave=False, unit=unit)
