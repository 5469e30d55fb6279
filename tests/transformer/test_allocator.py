import ctypes
import platform
import resource

import pytest
import torch

from transformer import allocator


def page_faults_of_a_fresh_tensor(shape: tuple[int, ...]) -> int:
    """Minor page faults while a tensor of shape is allocated and filled (every page written)."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    x = torch.full(shape, 2.0)
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    del x
    return faults


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_freed_memory_is_reused_without_page_faults():
    shape = (512, 11, 1024)  # 22 MiB: above glibc's default mmap threshold
    pages = 512 * 11 * 1024 * 4 // 4096
    assert allocator.keep_freed_memory()
    page_faults_of_a_fresh_tensor(shape)  # the heap grows once
    # glibc's default would mmap the block afresh and fault in each of its 5,632 pages again.
    assert page_faults_of_a_fresh_tensor(shape) < pages // 10


def test_another_c_library_changes_nothing(monkeypatch):
    def no_libc(name):
        raise OSError(f"{name}: cannot open shared object file")

    monkeypatch.setattr(ctypes, "CDLL", no_libc)
    assert allocator.keep_freed_memory() is False
