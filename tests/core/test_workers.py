"""The one process pool: it works from a plain script without a main guard."""

import os
import subprocess
import sys
from pathlib import Path

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
