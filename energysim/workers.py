"""Worker processes of energysim's process pools: one BLAS thread each, none outliving its parent.

A process pool's workers are children of the command that started them. When
that command dies without a chance to clean up (``kill -9``, the out-of-memory
killer, a closed terminal), Python's pool cannot stop them, and a worker busy on
a long point would run on, using a core nobody reads from. Every worker started
through :func:`init_worker` watches its parent and exits as soon as the parent
is gone.
"""

from __future__ import annotations

import os
import threading
import time

PARENT_POLL_S = 0.5
"""How often a worker checks that its parent is alive, seconds."""


def init_worker(parent_pid: int) -> None:
    """Process-pool initialiser: one BLAS thread, and exit when ``parent_pid`` is no longer the parent.

    Parameters
    ----------
    parent_pid
        Process id of the command that owns the pool (``os.getpid()`` there),
        passed as ``initargs=(os.getpid(),)``.
    """
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    threading.Thread(target=_exit_with_parent, args=(parent_pid,), name="energysim-parent-watch", daemon=True).start()


def _exit_with_parent(parent_pid: int) -> None:
    """Poll the parent id; when the parent has died (the worker was re-parented), end the worker at once."""
    while os.getppid() == parent_pid:
        time.sleep(PARENT_POLL_S)
    os._exit(1)
