"""The one process pool: it works from a plain script without a main guard."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "sample" / "panel_sample.csv"


def test_power_runs_from_a_plain_script_without_a_main_guard(tmp_path):
    """Spawned workers re-run a script's top level; without a guard that used to start a pool
    inside every worker and end in BrokenProcessPool."""
    script = tmp_path / "plain.py"
    script.write_text(
        "import cts\n"
        f"panel = cts.load_panel({str(SAMPLE)!r})\n"
        "result = cts.power(panel, 0.10, n_teams=20, n_weeks=26, reps=4, workers=2,"
        " progress=False)\n"
        "print('top level ran', flush=True)\n"
        "print(f'power={result.power} reps={result.reps}')\n"
    )
    done = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "BrokenProcessPool" not in done.stderr
    # The script's top level ran once: the workers did not re-run it.
    assert done.stdout.count("top level ran") == 1, done.stdout
    power = float(done.stdout.split("power=")[1].split()[0])
    assert 0.0 <= power <= 1.0 and power * 4 == round(power * 4)
    assert "reps=4" in done.stdout


def process_id(job: tuple) -> list[dict]:
    return [{"job": job[0], "pid": os.getpid()}]


def blas_threads(job: tuple) -> list[dict]:
    from threadpoolctl import threadpool_info

    return [{"threads": max(pool["num_threads"] for pool in threadpool_info())}]


def test_each_worker_gets_its_share_of_the_cores():
    from cts.core.workers import run_jobs

    rows = run_jobs(blas_threads, [(k,) for k in range(2)], workers=2, progress=False)
    assert [r["threads"] for r in rows] == [max(1, (os.cpu_count() or 1) // 2)] * 2


def test_cts_workers_caps_the_pool(monkeypatch):
    """CTS_WORKERS=1 (what the report builder gives each kernel on 2 cores when two notebooks
    run at once) keeps the jobs in this process; a bad value is refused with its name."""
    from cts.core.workers import WORKERS_ENV, default_workers, run_jobs

    monkeypatch.setenv(WORKERS_ENV, "1")
    assert default_workers() == 1
    rows = run_jobs(process_id, [(k,) for k in range(4)], progress=False)
    assert [r["job"] for r in rows] == [0, 1, 2, 3]
    assert {r["pid"] for r in rows} == {os.getpid()}
    monkeypatch.setenv(WORKERS_ENV, "two")
    with pytest.raises(ValueError, match="CTS_WORKERS"):
        default_workers()
    monkeypatch.delenv(WORKERS_ENV)
    assert default_workers() == (os.cpu_count() or 1)
