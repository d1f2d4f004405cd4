"""Speed and memory of ``cts report`` on the default panel, against a named peer.

On the panel ``make data`` writes (``simulate_org(1000, 156, seed=0)``, 1,000 teams x 156
weeks), in the same run:

* **cts, first run**: :func:`cts.reporting.builder.build_reports` (what ``cts report`` runs)
  with an empty result cache: the panel validated once, the notebooks run side by side on every
  core (the heaviest first), each converted to HTML twice, and the brief.
* **cts, re-run**: the same again on the same panel, with the cache the first run filled
  (:func:`cts.cached`: power, heterogeneity, estimator comparison, checks reused).
* the peer **papermill, serially**: the same notebooks with the same parameters executed one
  after another by ``papermill.execute_notebook`` with no cts scheduling and the cache off,
  each loading and validating the panel itself, and no HTML conversion; or, with
  ``--peer feols`` (for large panels, where the serial peer takes too long), **one pyfixest
  feols fit** of the naive dynamic model of CR velocity (two-way FE, lagged outcome, usage, the
  two controls, team-clustered SEs) on the same panel, timed after one warm-up fit.

Before timing, one untimed run of the shortest notebook (00_panel_overview) warms the file
cache, compiled bytecode and kernel start-up (its results are not cached for the others).
Each contender runs in its own process; peak memory is the largest sum of the resident sets of
its process tree at one time (workers and kernels included) and the largest single process.
Besides wall-clock seconds it prints the CPU seconds of the process tree (user + system of the
descendants that were waited for), much less sensitive than wall clock to a shared machine.
Targets on 2 cores: re-run under 60 s, first run under 120 s; 2,000 teams x 260 weeks
(``--teams 2000 --weeks 260``) under 180 s with peak RSS under 3 GB.

Measured 2,000 x 260 with ``--peer feols``, one run each, on the shared 2-core machine under a
load of 12-28 (so the wall-clock figures say little): first run 678-815 s wall, 301-305 s CPU,
peak RSS 3.15-3.24 GB (largest process 1.36 GB); re-run 324-379 s wall, 100-104 s CPU, peak
2.7-2.9 GB; one feols fit 3.7-4.0 s wall. By wall clock under that load the longest notebooks
were 04_robustness (366-509 s), 05_impact (213-260 s), the two 03_adoption_effect (154-223 s)
and 02_drivers (114-162 s, as long on the re-run: nothing of it is cached). Each alone
(``--only``, first run / re-run, CPU seconds and peak of the tree): 04_robustness 95 / 10 s,
2.75 GB on its own (its power simulations' pool); 03_adoption_effect_cr_velocity 37 / 12 s;
02_drivers 33 / 35 s. Even with perfect use of both cores, 300 CPU seconds need 150 s of wall
clock: the 180 s target is at best marginal, and the peak memory target is missed.

Usage: python benchmarks/bench_report.py [--panel PATH | --teams N --weeks T] [--repeats 1]
[--no-peer | --peer feols] [--only 04_robustness].
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _measure import TreePeak

from cts.core.cache import CACHE_ENV

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_PANEL = ROOT / "data" / "synthetic" / "panel.parquet"
PEERS = {"papermill": "peer: papermill, serial", "feols": "peer: one pyfixest feols fit"}

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

_FEOLS = """
import json, sys, time, warnings
import pyfixest as pf
import cts
warnings.simplefilter("ignore")
panel = cts.load_panel(sys.argv[1])
data = panel.assign(lagged=cts.lag(panel, "cr_velocity")).dropna(subset=["lagged"])
formula = "cr_velocity ~ lagged + ai_usage_rate + rollback_rate + interventions_per_deploy"
fit = lambda: pf.feols(formula + " | team_id + week", data, vcov={"CRV1": "team_id"})
fit()  # warm-up: the JIT compilation
started = time.perf_counter()
fit()
print(json.dumps({"one feols fit": [True, time.perf_counter() - started]}))
"""


def _time(code: str, panel: Path, names: list[str], cache: str) -> dict:
    environment = {**os.environ, CACHE_ENV: cache}
    with tempfile.TemporaryDirectory(prefix="bench-report-") as out:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
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
                env=environment,
            )
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"contender failed:\n{done.stderr[-3000:]}")
    per_notebook = json.loads(done.stdout.strip().splitlines()[-1])
    return {
        "wall": wall,
        # CPU of the descendants that were waited for (workers, kernels): under load, the
        # figure that does not grow with the other processes' share of the cores.
        "cpu": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
        "notebooks": per_notebook,
        "total": peak.total_mib,
        "one": peak.largest_mib,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--panel", type=Path, default=DEFAULT_PANEL)
    parser.add_argument("--teams", type=int, help="simulate a panel of this many teams instead")
    parser.add_argument("--weeks", type=int, default=156, help="with --teams (default 156)")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--no-peer", action="store_true", help="skip the papermill peer")
    parser.add_argument(
        "--peer",
        choices=["papermill", "feols"],
        default="papermill",
        help="papermill: the notebooks serially; feols: one naive pyfixest fit of the panel",
    )
    parser.add_argument("--only", nargs="*", default=[], help="these reports only (names)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-report-cache-") as scratch:
        scratch = Path(scratch)
        if args.teams:
            args.panel = scratch / f"panel-{args.teams}x{args.weeks}.parquet"
            command = ["-m", "cts", "data", str(args.panel), "--n-teams", str(args.teams)]
            subprocess.run([sys.executable, *command, "--n-weeks", str(args.weeks)], check=True)
        elif not args.panel.is_file():
            print(f"simulating the default panel at {args.panel} (make data)")
            subprocess.run([sys.executable, "-m", "cts", "data", str(args.panel)], check=True)
        _time(_CTS, args.panel, ["00_panel_overview"], "off")  # warm-up, untimed
        results: dict[str, list[dict]] = {"cts, first run": [], "cts, re-run": []}
        for repeat in range(args.repeats):
            cache = str(scratch / f"cache{repeat}")
            results["cts, first run"].append(_time(_CTS, args.panel, args.only, cache))
            results["cts, re-run"].append(_time(_CTS, args.panel, args.only, cache))
        if not args.no_peer:
            peer_code = _PEER if args.peer == "papermill" else _FEOLS
            results[PEERS[args.peer]] = [
                _time(peer_code, args.panel, args.only, "off") for _ in range(args.repeats)
            ]
    print(f"panel {args.panel.name}; medians of {args.repeats} run(s)")
    walls = {}
    for label, runs in results.items():
        walls[label] = statistics.median(r["wall"] for r in runs)
        total = statistics.median(r["total"] for r in runs)
        one = statistics.median(r["one"] for r in runs)
        cpu = statistics.median(r["cpu"] for r in runs)
        print(
            f"  {label:<30} {walls[label]:7.1f} s wall, {cpu:7.1f} s CPU  "
            f"peak RSS {total:,.0f} MiB (largest process {one:,.0f})"
        )
        for name in runs[0]["notebooks"]:
            ok = all(r["notebooks"][name][0] for r in runs)
            seconds = statistics.median(r["notebooks"][name][1] for r in runs)
            print(f"      {name:<38} {seconds:7.1f} s{'' if ok else '  FAILED'}")
    peer_label = PEERS[args.peer]
    if peer_label in walls:
        peer = walls[peer_label]
        if args.peer == "feols":  # the timed fit, not the process's start-up and warm-up
            peer = statistics.median(
                r["notebooks"]["one feols fit"][1] for r in results[peer_label]
            )
        for label in ("cts, first run", "cts, re-run"):
            print(f"  ratio {label} / {peer_label[6:]}: {walls[label] / peer:.1f}x")
    print("  targets: re-run < 60 s, first run < 120 s; 2,000 x 260: < 180 s, < 3 GB peak")
    return 0


if __name__ == "__main__":
    sys.exit(main())
