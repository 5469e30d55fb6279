"""How many CPU threads torch should use.

Two OpenMP threads on two cores that another process is also using do not run at half speed:
each thread spins waiting for the other at every operation, and a 2-core machine under load
ran our CLI 4-6x slower with 2 threads than with 1 (issue #11). So unless told, we take the
cores that are idle now, at least one. A busy machine then slows us down in proportion, not by
an order of magnitude.
"""

import os
import time
from pathlib import Path

import torch


def _cpu_times() -> tuple[int, int] | None:
    """(idle, total) jiffies of all cores since boot, from /proc/stat (Linux); None elsewhere."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None
    return fields[3] + fields[4], sum(fields)  # idle + iowait, everything


def idle_cores(window: float = 0.1) -> int:
    """Cores this process may use that were idle over the last `window` seconds, at least 1.
    Without /proc/stat: the cores minus the 1-minute load average."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    before = _cpu_times()
    if before is None:
        busy = os.getloadavg()[0]
    else:
        time.sleep(window)
        after = _cpu_times()
        idle, total = after[0] - before[0], after[1] - before[1]
        busy = (os.cpu_count() or cores) * (1 - idle / total) if total > 0 else 0.0
    return max(1, min(cores, round(cores - busy)))


def configure_threads(requested: int | None = None) -> int:
    """Set torch's intra-op threads to `requested` (when > 0) or to the idle cores; return it."""
    threads = requested if requested and requested > 0 else idle_cores()
    torch.set_num_threads(threads)
    return threads
