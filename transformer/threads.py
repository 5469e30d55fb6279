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

PROC_STAT = Path("/proc/stat")


def _allowed_cores() -> set[int]:
    """The cores this process may run on (its affinity: taskset, a container's cpuset)."""
    return os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set(range(os.cpu_count() or 1))


def _cores() -> int:
    return len(_allowed_cores())


def _cpu_times() -> tuple[int, int] | None:
    """(idle, total) jiffies since boot of the cores this process may run on, from /proc/stat
    (Linux); None elsewhere. Load on cores it may not use is none of its business."""
    allowed, idle, total = _allowed_cores(), 0, 0
    try:
        for line in PROC_STAT.read_text().splitlines():
            name, _, rest = line.partition(" ")
            if name[:3] == "cpu" and name[3:].isdigit() and int(name[3:]) in allowed:
                # user nice system idle iowait irq softirq steal; the guest fields after them
                # are counted in user and nice already.
                fields = [int(x) for x in rest.split()[:8]]
                idle, total = idle + fields[3] + fields[4], total + sum(fields)
    except (OSError, ValueError, IndexError):
        return None
    return (idle, total) if total else None


def _busy_cores(before: tuple[int, int], after: tuple[int, int]) -> float:
    """How many of our cores were busy between two /proc/stat readings."""
    idle, total = after[0] - before[0], after[1] - before[1]
    return _cores() * (1 - idle / total) if total > 0 else 0.0


def _free(busy: float) -> int:
    cores = _cores()
    return max(1, min(cores, round(cores - busy)))


def _own_cpu_seconds() -> float:
    """CPU time this process has used (all its threads)."""
    times = os.times()
    return times.user + times.system


class CoreSample:
    """The machine's CPU counters and this process's CPU time, read now; a later sample tells
    how many cores the *other* processes kept busy in between. Our own threads are busy too, so
    the load they add (this process's CPU time over the interval) is taken off."""

    def __init__(self):
        self.wall, self.stat, self.own = time.monotonic(), _cpu_times(), _own_cpu_seconds()

    def others_busy(self, later: "CoreSample") -> float | None:
        """Cores busy with other work between this sample and `later`; None without /proc/stat."""
        elapsed = later.wall - self.wall
        if self.stat is None or later.stat is None or elapsed <= 0:
            return None
        return max(0.0, _busy_cores(self.stat, later.stat) - (later.own - self.own) / elapsed)


def idle_cores(window: float = 0.1, since: CoreSample | None = None) -> int:
    """Cores this process may use that other work left idle over at least the last `window`
    seconds, at least 1; counted from `since` when given, so the wait can overlap other work (the
    CLI loads its checkpoint meanwhile). Without /proc/stat: the cores minus the 1-minute load average."""
    start = since or CoreSample()
    if start.stat is None:
        return _free(os.getloadavg()[0])
    time.sleep(max(0.0, window - (time.monotonic() - start.wall)))
    others = start.others_busy(CoreSample())
    return _free(others) if others is not None else _free(os.getloadavg()[0])


def configure_threads(requested: int | None = None, since: CoreSample | None = None) -> int:
    """Set torch's intra-op threads to `requested` (when > 0) or to the idle cores (measured from
    `since`, see idle_cores); return it."""
    threads = requested if requested and requested > 0 else idle_cores(since=since)
    torch.set_num_threads(threads)
    return threads


class ThreadGovernor:
    """For a long job (training): every `every` seconds, set torch's threads to the cores that
    the *other* processes leave free (see CoreSample)."""

    def __init__(self, every: float = 20.0):
        self.every = every
        self.sample = CoreSample()

    def check(self) -> int:
        """The thread count to use now; changed (and set in torch) when the load changed."""
        if self.sample.stat is None or time.monotonic() - self.sample.wall < self.every:
            return torch.get_num_threads()
        before, self.sample = self.sample, CoreSample()
        others = before.others_busy(self.sample)
        if others is None:
            return torch.get_num_threads()
        threads = _free(others)
        if threads != torch.get_num_threads():
            torch.set_num_threads(threads)
        return threads
