"""One process pool for every embarrassingly parallel loop (Monte Carlo, power)."""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import signal
import sys
import types
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor

from threadpoolctl import threadpool_limits
from tqdm import tqdm

__all__ = ["WORKERS_ENV", "default_workers", "die_with_parent", "job_pool", "run_jobs"]

#: Environment variable capping the processes of :func:`run_jobs` (the report builder sets it
#: for its kernels so that notebooks running side by side do not each start a pool per core).
WORKERS_ENV = "CTS_WORKERS"


def default_workers() -> int:
    """Processes :func:`run_jobs` uses by default: ``$CTS_WORKERS``, else every core."""
    value = os.environ.get(WORKERS_ENV, "").strip()
    if value:
        try:
            return max(1, int(value))
        except ValueError:
            raise ValueError(f"{WORKERS_ENV} must be a whole number, not {value!r}") from None
    return os.cpu_count() or 1


def run_jobs(
    task: Callable[[tuple], list[dict]],
    jobs: list[tuple],
    *,
    workers: int | None = None,
    progress: bool = True,
    desc: str = "jobs",
) -> list[dict]:
    """Run ``task`` on every job, in ``workers`` processes, and concatenate the returned rows.

    ``task`` must be a module-level function (it is pickled to the workers). ``workers=1`` runs
    in this process; the default is :func:`default_workers`. Results come back in job order,
    with a tqdm bar when ``progress``.

    Works from a plain script without an ``if __name__ == "__main__":`` guard, and from a
    notebook, as long as ``task`` is not defined in the script itself: the workers are started
    without re-running the caller's ``__main__`` (see :func:`_main_not_rerun`).
    """
    workers = workers or default_workers()
    if len(jobs) <= 1:
        workers = 1
    with job_pool(workers) as run:
        return run(task, jobs, progress=progress, desc=desc)


@contextlib.contextmanager
def job_pool(workers: int | None = None) -> Iterator[Callable[..., list[dict]]]:
    """One pool of ``workers`` processes for several rounds of jobs: yields
    ``run(task, jobs, progress=False, desc="jobs")``, which works as :func:`run_jobs` on the
    same processes. Each spawned worker imports the libraries first (about 2 s of CPU), so a
    loop that decides after each round whether to go on (power that stops once pinned down)
    starts them once. ``workers=1`` runs every round in this process.
    """
    workers = workers or default_workers()
    if workers == 1:
        yield lambda task, jobs, progress=False, desc="jobs": _collect(
            map(task, jobs), len(jobs), progress, desc
        )
        return
    # spawn, not fork: forking a process whose native libraries (pyfixest's Rust demeaner,
    # BLAS) already run threads can deadlock the children.
    context = multiprocessing.get_context("spawn")
    threads = max(1, (os.cpu_count() or 1) // workers)
    with ProcessPoolExecutor(
        max_workers=workers,
        mp_context=context,
        initializer=_limit_threads,
        initargs=(threads,),
    ) as pool:

        def run(
            task: Callable[[tuple], list[dict]],
            jobs: list[tuple],
            progress: bool = False,
            desc: str = "jobs",
        ) -> list[dict]:
            chunksize = max(1, min(4, len(jobs) // (8 * workers)))
            # map submits every job at once, so any worker still to start starts in this block.
            with _main_not_rerun(task):
                results = pool.map(task, jobs, chunksize=chunksize)
            return _collect(results, len(jobs), progress, desc)

        yield run


_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def die_with_parent(parent: int | None = None) -> None:
    """Have the kernel kill this process (SIGKILL) when its parent dies, on Linux.

    A worker or kernel whose parent was killed (``kill -9``, out of memory) would otherwise
    compute on for seconds to minutes, orphaned. ``parent``: the pid the caller expects as its
    parent; if it is gone already (it died before this call), exit now. A no-op elsewhere.
    Through ``prctl(PR_SET_PDEATHSIG)`` with ctypes: the standard library has no binding.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # pragma: no cover - a libc without prctl
        return
    if parent is not None and os.getppid() != parent:
        os._exit(1)


def _limit_threads(threads: int) -> None:
    """Give each worker its share of the cores: BLAS, OpenMP and pyfixest's Rayon pool
    (``RAYON_NUM_THREADS`` is read when that pool first starts, after this runs). Without this each
    worker's libraries start a thread per core, and on 2 cores two workers ran four busy
    threads (load average 3.9 during ``make validate``)."""
    die_with_parent()
    # Libraries loaded later read the variables; those loaded already are limited at run time.
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "RAYON_NUM_THREADS"):
        os.environ[name] = str(threads)
    import numpy  # noqa: F401  (loads BLAS now, so that the limit below reaches it)

    threadpool_limits(threads)


@contextlib.contextmanager
def _main_not_rerun(task: Callable) -> Iterator[None]:
    """Start spawned workers without re-running the caller's ``__main__``.

    A spawned worker re-imports the parent's main script (by path) before it unpickles its
    task; a script that calls :func:`cts.power` at top level, without an
    ``if __name__ == "__main__":`` guard, would then start a pool inside every worker, which
    multiprocessing refuses, and the pool breaks (``BrokenProcessPool``). Our tasks live in cts
    modules, which the workers import by name, so they never need the script: while the workers
    start, ``__main__`` is a bare module without a path or spec, which multiprocessing's spawn
    preparation then skips. Hand-written because neither multiprocessing nor concurrent.futures
    has an option for it. A task defined in ``__main__`` itself needs the script: left as is.
    """
    if getattr(task, "__module__", "__main__") == "__main__":
        yield
        return
    main = sys.modules["__main__"]
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        sys.modules["__main__"] = main


def _collect(results: Iterable[list[dict]], total: int, progress: bool, desc: str) -> list[dict]:
    bar = tqdm(results, total=total, disable=not progress, desc=desc)
    return [row for result in bar for row in result]
