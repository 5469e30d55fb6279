"""Keep freed memory in the process instead of handing it back to the operating system.

glibc serves every block above 128 KiB with a fresh `mmap` and unmaps it on free (or trims the
heap once 128 KiB sit free at its top). A decoder step allocates the same large tensors again and
again ((B, S, d_ff) activations, (B, V) logits), so each step paid for them in page faults: the
first write to each fresh 4 KiB page traps into the kernel. On this project's CPU machine a ReLU
over a (512, 11, 1024) tensor took 55 ms, about 0.4 GB/s, and translating 2,000 sentences spent
a fifth of its time there (issue #11). With the limits below, freed blocks are reused instead.
"""

import ctypes
import ctypes.util

# mallopt(3) parameters (glibc's malloc.h).
M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD = -1, -2, -3
MMAP_THRESHOLD = 32 << 20  # blocks below 32 MiB (glibc's largest allowed value) come from the heap
TRIM_THRESHOLD = 1 << 30  # give memory back only once 1 GiB sits free at the heap's top
TOP_PAD = 64 << 20  # grow the heap 64 MiB at a time


def keep_freed_memory() -> bool:
    """Tune glibc's malloc for reuse (see the module docstring). Returns False, changing nothing,
    where the C library is not glibc (macOS, musl) or refuses a setting."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    settings = ((M_MMAP_THRESHOLD, MMAP_THRESHOLD), (M_TRIM_THRESHOLD, TRIM_THRESHOLD), (M_TOP_PAD, TOP_PAD))
    return all(mallopt(parameter, value) == 1 for parameter, value in settings)
