import ctypes
import platform
import subprocess
import sys

import pytest

from transformer import allocator

# Allocates a 4 MiB block with malloc and prints how many blocks glibc serves with their own mmap
# (mallinfo2's hblks): with glibc's defaults (mmap above 128 KiB) one, with the setting none: the
# block comes from the heap, whose freed memory stays in the process. Run in a fresh interpreter,
# so that no earlier test's allocations count.
MMAPPED_BLOCKS = """
import ctypes, ctypes.util, sys
from transformer import allocator
if sys.argv[1] == "keep":
    assert allocator.keep_freed_memory()
class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]
libc = ctypes.CDLL(ctypes.util.find_library("c"))
libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
libc.mallinfo2.restype = MallInfo2
before = libc.mallinfo2().hblks
block = libc.malloc(4 << 20)
print(libc.mallinfo2().hblks - before)
"""


def mmapped_blocks(setting: str) -> int:
    done = subprocess.run([sys.executable, "-c", MMAPPED_BLOCKS, setting], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return int(done.stdout)


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_blocks_below_the_new_threshold_come_from_the_heap():
    assert mmapped_blocks("default") == 1
    assert mmapped_blocks("keep") == 0


def test_another_c_library_changes_nothing(monkeypatch):
    def no_libc(name):
        raise OSError(f"{name}: cannot open shared object file")

    monkeypatch.setattr(ctypes, "CDLL", no_libc)
    assert allocator.keep_freed_memory() is False
