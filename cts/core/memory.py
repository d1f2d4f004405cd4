"""Give memory back to the operating system after a heavy step.

Fits leave reference cycles (pyfixest's results refer to each other) that CPython's cycle
collector frees only after enough new objects, not enough bytes: on 2,000 teams x 260 weeks a
report's kernel held ~0.5 GB of dead fits, and each worker of a power simulation as much. glibc
then keeps freed heap pages unless asked to trim them.

A full collection walks every object the process holds, most of them the imported libraries'
(~250,000 objects once pandas, scipy and pyfixest are loaded: 0.2-0.35 s of CPU each time). A
loop of many small jobs (power simulations) therefore collects with :func:`release_job_memory`,
which freezes what the process held before its first job (:func:`gc.freeze`) so that later
collections walk only what the jobs made; :func:`thaw` ends that when the loop is done. A report's
kernel freezes its heap once the libraries and the panel are loaded (:func:`freeze_heap`), so the
collection after each section walks only what the notebook made.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
import gc
from collections.abc import Callable

__all__ = ["freeze_heap", "release_job_memory", "release_memory", "thaw"]

_frozen = False  # release_job_memory froze the heap (thaw undoes it)
_heap_frozen = False  # freeze_heap froze it (a report's kernel): left frozen


def release_memory() -> None:
    """Collect reference cycles and return free heap pages to the operating system."""
    gc.collect()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


def release_job_memory() -> None:
    """:func:`release_memory` after one job of a loop: the first call in a process collects
    everything and freezes what survives, so that this and later calls collect only the objects
    made since (on 100 teams x 52 weeks a power job took 0.12 s of CPU this way against 0.29 s
    with a full collection after each). A process that runs the loop itself calls :func:`thaw`
    after it.

    Whether the heap is frozen already is kept in flags, not asked of
    :func:`gc.get_freeze_count`, which counts the frozen objects one by one (0.04-0.15 s of CPU
    per call on a worker that holds pandas, scipy and pyfixest: a third of a small power job).
    """
    global _frozen
    if not (_frozen or _heap_frozen):  # not frozen already (a report's kernel is)
        gc.collect()
        gc.freeze()
        _frozen = True
    release_memory()


def freeze_heap() -> None:
    """Collect everything, then leave what survives out of later collections (:func:`gc.freeze`):
    for a process whose long-lived objects (imported libraries, a loaded panel) are made."""
    global _heap_frozen
    gc.collect()
    gc.freeze()
    _heap_frozen = True


def thaw() -> None:
    """Undo :func:`release_job_memory`'s own freeze (not :func:`freeze_heap`'s): the objects it
    froze are collectable again."""
    global _frozen
    if _frozen:
        gc.unfreeze()
        _frozen = False


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, or None on other C libraries (macOS, musl)."""
    with contextlib.suppress(OSError, AttributeError, TypeError):
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    return None
