"""Speed of the bias-corrected adoption effect against one naive linearmodels PanelOLS fit.

On a 5,000-team x 260-week ``simulate_org`` panel, in the same run: ``cts.estimate_adoption_effect``
(bias_corrected: three two-way demeanings, jackknife, influence-function SEs) against a single
``linearmodels.PanelOLS`` fit of the naive dynamic model with entity and time effects and
clustered SEs. Each contender runs in its own process, so its peak RSS is its own (both include
the loaded panel). Medians of ``--repeats`` runs. Target: ratio <= 3, peak RSS < 3 GB.
"""

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

from _measure import peak_rss_mib

import cts

CONTROLS = ["rollback_rate", "interventions_per_deploy"]


def _run(contender: str, path: str, repeats: int) -> dict:
    warnings.simplefilter("ignore")
    panel = cts.load_panel(path)
    if contender == "cts":

        def fit():
            cts.estimate_adoption_effect(panel, method="bias_corrected")
    else:
        from linearmodels import PanelOLS

        data = panel.assign(lagged=cts.lag(panel, "cr_velocity")).dropna(subset=["lagged"])
        data = data.set_index(["team_id", "week"])

        def fit():
            PanelOLS(
                data["cr_velocity"],
                data[["lagged", "ai_usage_rate", *CONTROLS]],
                entity_effects=True,
                time_effects=True,
            ).fit(cov_type="clustered", cluster_entity=True)

    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        fit()
        seconds.append(time.perf_counter() - started)
    return {
        "median_s": statistics.median(seconds),
        "rows": len(panel),
        "peak_rss_mib": peak_rss_mib(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n-teams", type=int, default=5000)
    parser.add_argument("--n-weeks", type=int, default=260)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--contender", choices=["cts", "linearmodels"], help=argparse.SUPPRESS)
    parser.add_argument("--panel", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.contender:
        print(json.dumps(_run(args.contender, args.panel, args.repeats)))
        return

    with tempfile.TemporaryDirectory() as folder:
        path = cts.write_panel(
            cts.simulate_org(args.n_teams, args.n_weeks, seed=0).panel,
            Path(folder) / "panel.parquet",
        )
        results = {}
        for contender in ("linearmodels", "cts"):
            out = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--contender",
                    contender,
                    "--panel",
                    str(path),
                    "--repeats",
                    str(args.repeats),
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            results[contender] = json.loads(out.stdout.strip().splitlines()[-1])
    cts_run, peer = results["cts"], results["linearmodels"]
    print(f"panel: {cts_run['rows']:,} team-weeks ({args.n_teams:,} teams x {args.n_weeks} weeks)")
    print(
        f"linearmodels PanelOLS, naive, clustered   median {peer['median_s']:6.2f} s  "
        f"peak RSS {peer['peak_rss_mib']:,.0f} MiB  (peer)"
    )
    print(
        f"cts estimate_adoption_effect, corrected   median {cts_run['median_s']:6.2f} s  "
        f"peak RSS {cts_run['peak_rss_mib']:,.0f} MiB"
    )
    print(f"ratio cts / linearmodels: {cts_run['median_s'] / peer['median_s']:.2f}x (target <= 3)")


if __name__ == "__main__":
    main()
