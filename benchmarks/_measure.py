"""Timing and peak memory for the benchmarks: of this process, and of the worker processes it
starts; and the run of each contender in its own process on one simulated panel."""

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import cts


def _hwm_mib(status: Path) -> float:
    for line in status.read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def peak_rss_mib() -> float:
    """This process's peak resident set size in MiB.

    Linux's ``VmHWM`` resets when a process execs, unlike ``getrusage``'s ``ru_maxrss``, which a
    benchmark's subprocess inherits from the parent that forked it (it would report the parent's
    peak, e.g. the memory used to write the test data).
    """
    status = Path("/proc/self/status")
    if status.exists():
        return _hwm_mib(status)
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024  # macOS: bytes


class WorkerPeak:
    """Largest peak RSS (MiB) among this process's children, polled while the block runs."""

    def __init__(self, interval: float = 0.2) -> None:
        self.interval, self.mib = interval, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        me = str(os.getpid())
        while not self._stop.wait(self.interval):
            for status in Path("/proc").glob("[0-9]*/status"):
                try:
                    text = status.read_text()
                    if f"\nPPid:\t{me}\n" in text:
                        self.mib = max(self.mib, _hwm_mib(status))
                except OSError:  # the process ended meanwhile
                    continue

    def __enter__(self) -> "WorkerPeak":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


class TreePeak:
    """Peak memory of this process's whole tree of descendants (workers, their kernels), polled
    while the block runs: ``total_mib`` is the largest sum of their resident sets at one time
    (what the machine must hold), ``largest_mib`` the largest peak of any one of them."""

    def __init__(self, interval: float = 0.2) -> None:
        self.interval, self.total_mib, self.largest_mib = interval, 0.0, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        me = os.getpid()
        while not self._stop.wait(self.interval):
            parents: dict[int, int] = {}
            memory: dict[int, tuple[float, float]] = {}
            for status in Path("/proc").glob("[0-9]*/status"):
                try:
                    lines = status.read_text().splitlines()
                    fields = dict(line.split(":", 1) for line in lines if ":" in line)
                except OSError:  # the process ended meanwhile
                    continue
                pid = int(status.parent.name)
                parents[pid] = int(fields["PPid"])
                kib = [int(fields.get(k, "0 kB").split()[0]) for k in ("VmRSS", "VmHWM")]
                memory[pid] = (kib[0] / 1024, kib[1] / 1024)
            tree = {me}
            grew = True
            while grew:
                children = {pid for pid, parent in parents.items() if parent in tree} - tree
                tree |= children
                grew = bool(children)
            tree.discard(me)
            self.total_mib = max(self.total_mib, sum(memory[p][0] for p in tree))
            self.largest_mib = max([self.largest_mib, *(memory[p][1] for p in tree)])

    def __enter__(self) -> "TreePeak":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def median_seconds(fit: Callable[[], object], repeats: int, warmup: bool = True) -> float:
    """Median wall-clock seconds of ``repeats`` calls of ``fit``, after one untimed warm-up
    unless ``warmup=False``.

    The warm-up takes the JIT compilation and the imports inside the libraries out of the
    timed runs.
    """
    if warmup:
        fit()  # untimed
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        fit()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds)


def run_contenders(
    script: str, contenders: Sequence[str], n_teams: int, n_weeks: int, options: Sequence[str]
) -> dict[str, dict]:
    """Each contender in its own process on one ``simulate_org`` panel (so its peak RSS is its
    own): ``script --contender NAME --panel PATH *options``, whose last line of output is JSON.

    Parameters
    ----------
    script
        The benchmark's own file (``__file__``).
    contenders
        The names passed as ``--contender``.
    n_teams, n_weeks
        Size of the simulated panel (``seed=0``).
    options
        Further command-line arguments for every contender's run.

    Returns
    -------
    dict
        Each contender's JSON answer, by name.
    """
    with tempfile.TemporaryDirectory() as folder:
        path = cts.write_panel(
            cts.simulate_org(n_teams, n_weeks, seed=0).panel, Path(folder) / "panel.parquet"
        )
        results = {}
        for contender in contenders:
            command = [sys.executable, script, "--contender", contender, "--panel", str(path)]
            out = subprocess.run([*command, *options], capture_output=True, text=True, check=True)
            results[contender] = json.loads(out.stdout.strip().splitlines()[-1])
    return results
