"""One process pool for every embarrassingly parallel loop (Monte Carlo, power)."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor

from tqdm import tqdm

__all__ = ["run_jobs"]


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
    in this process. Results come back in job order, with a tqdm bar when ``progress``.
    """
    workers = workers or os.cpu_count() or 1
    if workers == 1 or len(jobs) <= 1:
        return _collect(map(task, jobs), len(jobs), progress, desc)
    # spawn, not fork: forking a process whose native libraries (pyfixest's Rust demeaner,
    # BLAS) already run threads can deadlock the children.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        results = pool.map(task, jobs, chunksize=max(1, min(4, len(jobs) // (8 * workers))))
        return _collect(results, len(jobs), progress, desc)


def _collect(results: Iterable[list[dict]], total: int, progress: bool, desc: str) -> list[dict]:
    bar = tqdm(results, total=total, disable=not progress, desc=desc)
    return [row for result in bar for row in result]
