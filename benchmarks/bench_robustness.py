"""Speed of heterogeneous effects and power on the default panel, against named peers.

On ``simulate_org(1000, 156, seed=0)`` (the panel ``make data`` writes), in the same run:

* ``cts.heterogeneous_effects`` (two-way demeaning, CausalForestDML ranking with linear nuisance
  models, LinearDML group effects) against the peer **econml CausalForestDML** fitted once on the
  same rows as they are (outcome, usage, lag and controls, the same team traits, 200 trees,
  linear nuisance models: with econml's defaults it ran over 11 minutes at 13 GB without
  finishing on this machine).
* ``cts.power`` (+2% long-run effect, 200 simulated panels, every core) and
  ``cts.minimum_detectable_effect`` (100 panels per evaluated effect), against the peer **a serial
  loop of simulate_org + linearmodels PanelOLS** (the naive dynamic FE fit with clustered SEs),
  compared per simulated panel because the peer would take many minutes for 200.

Each contender runs in its own process; peak RSS is that process's (VmHWM), plus the largest of
its worker processes' for the parallel runs. Medians of ``--repeats`` runs. Targets:
heterogeneity, power and the minimum detectable effect each under 2 minutes on 2 cores.
"""

import argparse
import json
import statistics
import subprocess
import sys
import time
import warnings

import numpy as np
from _measure import WorkerPeak, peak_rss_mib

import cts

N_TEAMS, N_WEEKS = 1000, 156
CONTROLS = ["rollback_rate", "interventions_per_deploy"]


def _panel():
    warnings.simplefilter("ignore")
    return cts.load_panel(cts.simulate_org(N_TEAMS, N_WEEKS, seed=0).panel)


def _heterogeneity_peer(panel) -> None:
    from econml.dml import CausalForestDML

    data = panel.assign(lagged=cts.lag(panel, "cr_velocity")).dropna(subset=["lagged"])
    traits = (
        data.groupby("team_id")
        .agg(architecture=("architecture", "first"), n_builders=("n_builders", "mean"))
        .reset_index()
    )
    x = traits.set_index("team_id").loc[data["team_id"]]
    x = np.column_stack(
        [(x["architecture"] == kind).to_numpy(float) for kind in ("service", "monolith", "trunk")]
        + [x["n_builders"].to_numpy(float)]
    )
    from sklearn.linear_model import LinearRegression

    # econml's default nuisance models ran over 11 minutes at 13 GB RSS here without finishing,
    # so the peer uses linear ones, like cts: the comparison is cts's own overhead.
    CausalForestDML(
        model_y=LinearRegression(),
        model_t=LinearRegression(),
        n_estimators=200,
        min_samples_leaf=20,
        cv=3,
        random_state=0,
    ).fit(
        data["cr_velocity"].to_numpy(),
        data["ai_usage_rate"].to_numpy(),
        X=x,
        W=data[["lagged", *CONTROLS]].to_numpy(),
    )


def _power_peer(panel, reps: int) -> None:
    from linearmodels import PanelOLS

    for seed in range(reps):
        sim_panel = cts.load_panel(cts.simulate_org(N_TEAMS, N_WEEKS, seed=seed).panel)
        data = sim_panel.assign(lagged=cts.lag(sim_panel, "cr_velocity")).dropna(subset=["lagged"])
        data = data.set_index(["team_id", "week"])
        PanelOLS(
            data["cr_velocity"],
            data[["lagged", "ai_usage_rate", *CONTROLS]],
            entity_effects=True,
            time_effects=True,
        ).fit(cov_type="clustered", cluster_entity=True)


def _run(contender: str, repeats: int, peer_reps: int) -> dict:
    panel = _panel()
    calibration = cts.calibrate(panel)
    tasks = {
        "heterogeneity": lambda: cts.heterogeneous_effects(panel, "cr_velocity"),
        "forest_peer": lambda: _heterogeneity_peer(panel),
        "power": lambda: cts.power(panel, 0.02, calibration=calibration, progress=False),
        "mde": lambda: cts.minimum_detectable_effect(
            panel, calibration=calibration, progress=False
        ),
        "power_peer": lambda: _power_peer(panel, peer_reps),
    }
    seconds, outputs = [], []
    with WorkerPeak() as workers:
        for _ in range(repeats):
            started = time.perf_counter()
            outputs.append(tasks[contender]())
            seconds.append(time.perf_counter() - started)
    result = {
        "median_s": statistics.median(seconds),
        "peak_rss_mib": peak_rss_mib(),
        "children_peak_rss_mib": workers.mib,
    }
    if contender == "power":
        result["power"] = outputs[-1].power
    if contender == "mde":
        mde, curve = outputs[-1]
        result["mde"], result["evaluations"] = mde, len(curve)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--peer-reps", type=int, default=20, help="panels in the PanelOLS loop")
    parser.add_argument("--contender", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.contender:
        print(json.dumps(_run(args.contender, args.repeats, args.peer_reps)))
        return

    results = {}
    for contender in ("forest_peer", "heterogeneity", "power_peer", "power", "mde"):
        command = [sys.executable, __file__, "--contender", contender]
        command += ["--repeats", str(args.repeats), "--peer-reps", str(args.peer_reps)]
        out = subprocess.run(command, capture_output=True, text=True, check=True)
        results[contender] = json.loads(out.stdout.strip().splitlines()[-1])

    def line(label: str, run: dict, note: str = "") -> None:
        rss = f"peak RSS {run['peak_rss_mib']:,.0f} MiB"
        if run["children_peak_rss_mib"] > 1:
            rss += f", each worker <= {run['children_peak_rss_mib']:,.0f} MiB"
        print(f"  {label:<58} median {run['median_s']:7.1f} s  {rss}{note}")

    print(f"default panel: {N_TEAMS:,} teams x {N_WEEKS} weeks; medians of {args.repeats} runs")
    forest, ours = results["forest_peer"], results["heterogeneity"]
    line("econml CausalForestDML on the raw rows (peer)", forest)
    line("cts.heterogeneous_effects", ours)
    print(
        f"  ratio cts / econml: {ours['median_s'] / forest['median_s']:.2f}x; "
        f"target < 120 s: {'met' if ours['median_s'] < 120 else 'MISSED'}"
    )
    loop, power, mde = results["power_peer"], results["power"], results["mde"]
    line(f"serial simulate_org + linearmodels PanelOLS, {args.peer_reps} panels (peer)", loop)
    line("cts.power, 200 panels, all cores", power, f"  power {power['power']:.2f}")
    line(
        "cts.minimum_detectable_effect, 100 panels per effect",
        mde,
        f"  MDE {mde['mde']:+.2%} in {mde['evaluations']} evaluations",
    )
    per_panel_peer = loop["median_s"] / args.peer_reps
    per_panel_ours = power["median_s"] / 200
    print(
        f"  per simulated panel: cts {per_panel_ours:.2f} s vs PanelOLS loop {per_panel_peer:.2f} s"
        f" = {per_panel_ours / per_panel_peer:.2f}x; targets < 120 s: power "
        f"{'met' if power['median_s'] < 120 else 'MISSED'}, MDE "
        f"{'met' if mde['median_s'] < 120 else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
