"""Speed and memory of ``cts report`` on the default panel, against a named peer.

On the panel ``make data`` writes (``simulate_org(1000, 156, seed=0)``, 1,000 teams x 156
weeks), in the same run:

* **cts**: :func:`cts.reporting.builder.build_reports` (what ``cts report`` runs): the panel
  validated once, the notebooks run side by side on every core, each converted to HTML twice,
  and the brief.
* the peer **papermill, serially**: the same notebooks with the same parameters executed one
  after another by ``papermill.execute_notebook`` with no cts scheduling, each loading and
  validating the panel itself, and no HTML conversion.

Warm: before timing, one untimed run of the shortest notebook (00_panel_overview) warms the
file cache, compiled bytecode and kernel start-up, as a second ``make report`` would find them.
Each contender runs in its own process; peak memory is the largest sum of the resident sets of
its process tree at one time (workers and kernels included) and the largest single process.
The issue's target: under 60 s warm on 2 cores. Usage: python benchmarks/bench_report.py
[--panel data/synthetic/panel.parquet] [--repeats 1] [--only 04_robustness].
"""

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _measure import TreePeak

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_PANEL = ROOT / "data" / "synthetic" / "panel.parquet"

_CTS = """
import json, sys
from cts.reporting.builder import ANALYSES, build_reports
names = json.loads(sys.argv[3])
analyses = tuple(a for a in ANALYSES if not names or a.name in names)
runs = build_reports(sys.argv[1], sys.argv[2], analyses=analyses, progress=False)
print(json.dumps({r.analysis.name: [r.ok, r.seconds] for r in runs}))
"""

_PEER = """
import json, logging, sys, time
from pathlib import Path
import papermill as pm
from cts.reporting.builder import ANALYSES, NOTEBOOKS_DIR
logging.getLogger("papermill").setLevel(logging.WARNING)
names = json.loads(sys.argv[3])
out = Path(sys.argv[2])
out.mkdir()
seconds = {}
for a in ANALYSES:
    if names and a.name not in names:
        continue
    started = time.perf_counter()
    try:
        pm.execute_notebook(str(NOTEBOOKS_DIR / a.notebook), str(out / f"{a.name}.ipynb"),
                            parameters={"panel_path": sys.argv[1], **a.parameters},
                            cwd=str(NOTEBOOKS_DIR), progress_bar=False, log_output=False)
        ok = True
    except Exception:
        ok = False
    seconds[a.name] = [ok, time.perf_counter() - started]
print(json.dumps(seconds))
"""


def _time(code: str, panel: Path, names: list[str]) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-report-") as out:
        started = time.perf_counter()
        with TreePeak() as peak:
            done = subprocess.run(
                [
                    sys.executable,
                    "-c",
                    code,
                    str(panel),
                    str(Path(out) / "reports"),
                    json.dumps(names),
                ],
                capture_output=True,
                text=True,
                cwd=out,
            )
        wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"contender failed:\n{done.stderr[-3000:]}")
    per_notebook = json.loads(done.stdout.strip().splitlines()[-1])
    return {
        "wall": wall,
        "notebooks": per_notebook,
        "total": peak.total_mib,
        "one": peak.largest_mib,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--panel", type=Path, default=DEFAULT_PANEL)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--only", nargs="*", default=[], help="these reports only (names)")
    args = parser.parse_args()
    if not args.panel.is_file():
        print(f"simulating the default panel at {args.panel} (make data)")
        subprocess.run([sys.executable, "-m", "cts", "data", str(args.panel)], check=True)
    _time(_CTS, args.panel, ["00_panel_overview"])  # warm-up, untimed
    results = {}
    for label, code in (("cts report (build_reports)", _CTS), ("peer: papermill, serial", _PEER)):
        runs = [_time(code, args.panel, args.only) for _ in range(args.repeats)]
        results[label] = runs
    print(f"panel {args.panel}; medians of {args.repeats} run(s), warm")
    for label, runs in results.items():
        wall = statistics.median(r["wall"] for r in runs)
        total = statistics.median(r["total"] for r in runs)
        one = statistics.median(r["one"] for r in runs)
        print(
            f"  {label:<30} {wall:7.1f} s  peak RSS {total:,.0f} MiB (largest process {one:,.0f})"
        )
        for name in runs[0]["notebooks"]:
            ok = all(r["notebooks"][name][0] for r in runs)
            seconds = statistics.median(r["notebooks"][name][1] for r in runs)
            print(f"      {name:<38} {seconds:7.1f} s{'' if ok else '  FAILED'}")
    cts_wall, peer_wall = (statistics.median(r["wall"] for r in runs) for runs in results.values())
    print(f"  ratio cts / peer: {cts_wall / peer_wall:.2f} (target: cts under 60 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
