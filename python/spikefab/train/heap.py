"""Keep freed memory in the process: the host-side twin of a caching allocator.

The layer-major engines (``snn.fused``, ``snn.fused_cnn``) work on whole-``[T, B, ...]``
tensors: a conv student's first stage at ``T = 16``, batch 64 is 25 MB per tensor, and a
training step allocates and frees several. glibc returns such blocks to the kernel when they
are freed (``mmap`` for blocks above a threshold, heap trimming for the rest), so the next
step takes a page fault on every 4 kB page it touches again. On the benchmark machine that
costs more than the arithmetic: the MNIST conv student at ``T = 16`` trains 1.8x faster
with freed memory kept (``docs/speed.md``). A step-by-step loop (snnTorch's) allocates
``[B, ...]`` tensors that glibc already recycles, and gains little.

``keep_freed_memory()`` tells glibc (``mallopt``) to serve blocks up to 32 MB (its maximum)
from the heap and never to trim it, so freed blocks are reused. The process's resident memory
then stays at its peak, as with PyTorch's CUDA caching allocator. ``train_model`` and
``train_student`` call it once when they start; elsewhere it is a no-op (not glibc).
"""

from __future__ import annotations

import ctypes
import ctypes.util

__all__ = ["keep_freed_memory"]

_M_TRIM_THRESHOLD = -1  # glibc malloc.h
_M_MMAP_THRESHOLD = -3
_MMAP_MAX = 32 * 2**20  # DEFAULT_MMAP_THRESHOLD_MAX on 64-bit glibc
_state = {"done": None}


def keep_freed_memory() -> bool:
    """Make glibc keep freed memory for reuse (idempotent); ``True`` where it took effect."""
    if _state["done"] is None:
        _state["done"] = False
        name = ctypes.util.find_library("c")
        try:
            libc = ctypes.CDLL(name) if name else None
            mallopt = libc.mallopt if libc is not None else None
        except (OSError, AttributeError):
            mallopt = None
        if mallopt is not None:
            mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
            ok = mallopt(_M_MMAP_THRESHOLD, _MMAP_MAX) == 1
            ok = mallopt(_M_TRIM_THRESHOLD, 2**31 - 1) == 1 and ok
            _state["done"] = ok
    return _state["done"]
