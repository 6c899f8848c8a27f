"""Process memory policy for large tensors on a CPU: keep freed memory for reuse.

glibc's ``malloc`` serves every request above 32 MiB with a fresh ``mmap`` and returns it to
the system on ``free``. PyTorch's CPU allocator has no cache, so each large activation of a
training step (MNIST at batch 1024 and 32 channels: 100 MB per tensor, about a hundred per
step) is mapped anew and its pages are faulted in and zeroed by the kernel: millions of page
faults per step, the larger part of the step's time. :func:`retain_freed_memory` makes
``malloc`` serve all requests from its heap (``M_MMAP_MAX = 0``) and keep freed memory there
(``M_TRIM_THRESHOLD`` at its maximum), so after a few steps the same pages are reused.

The price is memory: the process keeps its peak heap until it exits, plus what fragmentation
adds (glibc places the 64-byte-aligned blocks torch asks for in fresh heap for the first few
rounds of a repeated pattern before it reuses freed ones, so the heap settles above the peak).
The ``cbn`` command line sets it at start-up; library users call it themselves. Elsewhere than
glibc (macOS, musl) it does nothing and says so. Numbers are unaffected: only where tensors live
changes.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["malloc_policy", "retain_freed_memory"]

#: ``mallopt`` parameters and glibc's defaults for them (``malloc.h``).
_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4
_DEFAULT_TRIM_THRESHOLD, _DEFAULT_MMAP_MAX = 128 * 1024, 65536
#: Largest value ``mallopt`` takes (a C ``int``): freed memory is never trimmed in practice.
_RETAINED_TRIM_THRESHOLD = 2**31 - 1

_state = {"retained": False}


def _libc() -> ctypes.CDLL | None:
    """The C library if it is glibc (the only one with these ``mallopt`` options)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.gnu_get_libc_version  # noqa: B018 -- present only in glibc
    except (OSError, AttributeError):
        return None
    return libc


def _set(retain: bool) -> bool:
    libc = _libc()
    if libc is None:
        return False
    trim = _RETAINED_TRIM_THRESHOLD if retain else _DEFAULT_TRIM_THRESHOLD
    mmap_max = 0 if retain else _DEFAULT_MMAP_MAX
    ok = libc.mallopt(_M_MMAP_MAX, mmap_max) == 1 and libc.mallopt(_M_TRIM_THRESHOLD, trim) == 1
    if not retain:
        libc.malloc_trim(0)  # hand back what the heap kept, so the default is really measured
    _state["retained"] = retain and ok
    return ok


def retain_freed_memory() -> bool:
    """Serve every allocation from the heap and keep freed memory (module docstring).

    Returns
    -------
    True when glibc accepted the settings; False where they do not exist (nothing changed)
    """
    return _set(True)


@contextmanager
def malloc_policy(retain: bool) -> Iterator[None]:
    """The policy ``retain`` inside the block, the previous one after it.

    ``retain=False`` is glibc's default for new large blocks (mapped per request, unmapped on
    free), which the benchmarks use to time a baseline as a default process runs it. Blocks
    the heap already holds from a retained phase are still reused (their pages are handed back
    on entry, so each faults in once more), so time such a baseline before retained work."""
    was = _state["retained"]
    _set(retain)
    try:
        yield
    finally:
        if was != retain:
            _set(was)
