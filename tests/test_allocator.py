import ctypes
import platform

import pytest
import torch

from transformer import allocator


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_glibc_accepts_the_settings_and_tensors_still_work():
    assert allocator.keep_freed_memory()
    x = torch.ones(512, 11, 1024)  # above glibc's default mmap threshold
    del x
    assert torch.ones(512, 11, 1024).sum().item() == 512 * 11 * 1024


def test_another_c_library_changes_nothing(monkeypatch):
    def no_libc(name):
        raise OSError(f"{name}: cannot open shared object file")

    monkeypatch.setattr(ctypes, "CDLL", no_libc)
    assert allocator.keep_freed_memory() is False
