"""transformer/threads.py: the threads follow the idle cores this process may use, and the governor
gives them back to other work."""

import os

import pytest
import torch

from transformer import threads
from transformer.threads import ThreadGovernor, configure_threads, idle_cores


def fake_cpu_times(monkeypatch, idle_fraction: float) -> None:
    """/proc/stat as if the cores were idle this fraction of the sampling window."""
    readings = iter([(0, 0), (int(1000 * idle_fraction), 1000)])
    monkeypatch.setattr(threads, "_cpu_times", lambda: next(readings))
    monkeypatch.setattr(threads, "_own_cpu_seconds", lambda: 0.0)  # this process was idle meanwhile


def test_threads_follow_the_idle_cores(monkeypatch):
    cores = len(os.sched_getaffinity(0))
    before = torch.get_num_threads()
    try:
        fake_cpu_times(monkeypatch, 1.0)
        assert idle_cores(window=0) == cores
        fake_cpu_times(monkeypatch, 0.0)
        assert idle_cores(window=0) == 1  # all busy: still one
        fake_cpu_times(monkeypatch, 0.0)
        assert configure_threads(None) == 1 and torch.get_num_threads() == 1
        assert configure_threads(3) == 3 and torch.get_num_threads() == 3  # asked for: obeyed
        monkeypatch.setattr(threads, "_cpu_times", lambda: None)  # no /proc/stat: the load average
        monkeypatch.setattr(os, "getloadavg", lambda: (cores + 3.0, 0.0, 0.0))
        assert idle_cores() == 1
    finally:
        torch.set_num_threads(before)


def test_only_the_cores_this_process_may_use_are_counted(monkeypatch, tmp_path):
    """Pinned to core 1 of three: cores 0 and 2 being busy leaves it its core; guest time
    (the last two fields) is inside user time already and is not counted twice."""
    stat = tmp_path / "stat"
    monkeypatch.setattr(threads, "PROC_STAT", stat)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {1})
    lines = ["cpu  {0} 0 0 {1} 0 0 0 0 0 0", "cpu0 {0} 0 0 0 0 0 0 0 0 0", "cpu1 {2} 0 0 {1} 5 0 0 0 {2} 0"]
    lines += ["cpu2 {0} 0 0 0 0 0 0 0 0 0", "intr 12 3 4", "ctxt 99"]
    stat.write_text("\n".join(lines).format(1000, 400, 10) + "\n")
    before = threads._cpu_times()
    assert before == (405, 415)
    stat.write_text("\n".join(lines).format(2000, 800, 20) + "\n")
    assert threads._busy_cores(before, threads._cpu_times()) == pytest.approx(10 / 410)  # 10 busy of 410
    stat.write_text("no cpu lines here\n")
    assert threads._cpu_times() is None


def test_a_sampling_window_spent_loading_does_not_count_our_own_work(monkeypatch):
    """The CLI measures the idle cores while it loads the checkpoint: the cores it kept busy
    itself are not load, another process's are."""
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1})
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    clock, stat, own = [0.0], [(0, 0)], [0.0]
    monkeypatch.setattr(threads.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(threads.time, "sleep", lambda seconds: clock.__setitem__(0, clock[0] + seconds))
    monkeypatch.setattr(threads, "_cpu_times", lambda: stat[0])
    monkeypatch.setattr(threads, "_own_cpu_seconds", lambda: own[0])
    for ours, others, expected in ((1.5, 0.0, 2), (1.0, 1.0, 1), (0.0, 2.0, 1)):
        window = threads.CoreSample()
        clock[0] += 0.4  # loading ...
        own[0] += ours * 0.4
        stat[0] = (stat[0][0] + int(100 * 0.4 * (2 - ours - others)), stat[0][1] + int(100 * 0.4 * 2))
        before_wall = clock[0]
        assert idle_cores(since=window) == expected
        assert clock[0] == before_wall  # the load lasted longer than the window: no waiting
    window = threads.CoreSample()
    assert idle_cores(window=0.1, since=window) == 2 and clock[0] - window.wall == pytest.approx(0.1)


def test_the_governor_gives_cores_to_other_work_and_takes_them_back(monkeypatch):
    """Two cores. Our own busy threads are not load; another process's are."""
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1})
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    clock, stat, own = [0.0], [(0, 0)], [0.0]
    monkeypatch.setattr(threads.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(threads, "_cpu_times", lambda: stat[0])
    monkeypatch.setattr(threads, "_own_cpu_seconds", lambda: own[0])

    def after(seconds: float, busy_cores: float, ours: float) -> int:
        """`seconds` later, with `busy_cores` busy in all, `ours` of them this process."""
        clock[0] += seconds
        idle_jiffies = int(100 * seconds * (2 - busy_cores))
        stat[0] = (stat[0][0] + idle_jiffies, stat[0][1] + int(100 * seconds * 2))
        own[0] += ours * seconds
        return governor.check()

    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        governor = ThreadGovernor(every=10)
        assert after(5, 2.0, 0.0) == 2  # not yet time to look (a busy neighbour for 5 s ...
        assert after(35, 2.0, 2.0) == 2  # ... then 35 s of only us: a quarter core of others, keep both
        assert after(10, 2.0, 1.0) == 1 and torch.get_num_threads() == 1  # another process took a core
        assert after(10, 1.0, 1.0) == 2 and torch.get_num_threads() == 2  # ... and gave it back
        assert after(10, 2.0, 0.2) == 1  # the machine is full of others: still one
    finally:
        torch.set_num_threads(before)
