"""How many CPU cores this process may use.

``os.cpu_count()`` counts the machine's cores, not the ones this process is allowed to run on:
under ``taskset``, a cgroup cpuset or a container pinned to 2 of 64 cores it says 64, and
threads sized by it oversubscribe the two. The affinity mask is what the scheduler honours.
"""

from __future__ import annotations

import os


def available_cores() -> int:
    """The cores this process may run on (at least 1)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1
