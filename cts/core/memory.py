"""Give memory back to the operating system after a heavy step.

Fits leave reference cycles (pyfixest's results refer to each other) that CPython's cycle
collector frees only after enough new objects, not enough bytes: on 2,000 teams x 260 weeks a
report's kernel held ~0.5 GB of dead fits, and each worker of a power simulation as much. glibc
then keeps freed heap pages unless asked to trim them.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
import gc
from collections.abc import Callable

__all__ = ["release_memory"]


def release_memory() -> None:
    """Collect reference cycles and return free heap pages to the operating system."""
    gc.collect()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, or None on other C libraries (macOS, musl)."""
    with contextlib.suppress(OSError, AttributeError, TypeError):
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    return None
