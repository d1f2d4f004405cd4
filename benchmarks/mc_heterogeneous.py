"""Monte Carlo of team-specific persistence: bias and coverage, pooled vs mean group.

``nice -n 19 python benchmarks/mc_heterogeneous.py --reps 60 --weeks 13 26 39 104 --workers 1``
prints, per cell (spread 0.3 and clean), the relative bias of short run, persistence and long
run, 95% coverage with its Monte Carlo SE, and the rejection rate of the homogeneity test.
"""

from __future__ import annotations

import argparse
import sys
import time
from multiprocessing import Pool

import numpy as np
import pandas as pd

from cts.estimators.dynamic import dynamic_panel
from cts.validation.monte_carlo import simulate_and_load

X = ["ai_usage_rate", "rollback_rate"]
OUTCOMES = ("cr_velocity", "deploy_velocity")
CELLS = {"spread_0.3": {"persistence_spread": 0.3}, "clean": {}}


def replicate(job: tuple[str, int, int, int]) -> list[dict]:
    cell, n_teams, n_weeks, seed = job
    sim, panel = simulate_and_load(n_teams, n_weeks, seed, CELLS[cell])
    rows = []
    for outcome in OUTCOMES:
        truth = sim.truth[outcome]
        for label, options in (("bias_corrected", {}), ("team", {"team_persistence": True})):
            start = time.perf_counter()
            result = dynamic_panel(panel, outcome, X, "team_id", "week", **options)
            seconds = time.perf_counter() - start
            persistence = result.sum_of(result.lag_terms, "persistence")
            table = result.table
            terms = {
                "short_run": table.loc["ai_usage_rate"],
                "persistence": persistence,
                "long_run": table.loc["long_run.ai_usage_rate"],
            }
            for term, row in terms.items():
                rows.append(
                    {
                        "cell": cell,
                        "n_weeks": n_weeks,
                        "outcome": outcome,
                        "method": label,
                        "term": term,
                        "seed": seed,
                        "truth": truth[term],
                        "estimate": row["estimate"],
                        "se": row["se"],
                        "covered": row["ci_low"] <= truth[term] <= row["ci_high"],
                        "rejected": np.nan
                        if result.homogeneity is None
                        else float(result.homogeneity.rejected),
                        "test_missing": label == "team" and result.homogeneity is None,
                        "seconds": seconds,
                    }
                )
    return rows


def summarize(draws: pd.DataFrame) -> pd.DataFrame:
    keys = ["cell", "n_weeks", "outcome", "method", "term"]
    grouped = draws.groupby(keys, sort=False)
    out = grouped.apply(
        lambda g: pd.Series(
            {
                "reps": len(g),
                "rel_bias_%": 100 * (g["estimate"] - g["truth"]).mean() / g["truth"].mean(),
                "mc_se_bias_%": 100 * g["estimate"].std() / np.sqrt(len(g)) / g["truth"].mean(),
                "sd": g["estimate"].std(),
                "mean_se": g["se"].mean(),
                "coverage_%": 100 * g["covered"].mean(),
                "mc_se_cov_%": 100
                * np.sqrt(g["covered"].mean() * (1 - g["covered"].mean()) / len(g)),
            }
        ),
        include_groups=False,
    )
    return out


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=60)
    parser.add_argument("--teams", type=int, default=200)
    parser.add_argument("--weeks", type=int, nargs="+", default=[39, 104])
    parser.add_argument("--cells", nargs="+", default=list(CELLS))
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--seed", type=int, default=5000)
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    jobs = [
        (cell, args.teams, weeks, args.seed + rep)
        for cell in args.cells
        for weeks in args.weeks
        for rep in range(args.reps)
    ]
    with Pool(args.workers) as pool:
        draws = pd.DataFrame([r for rows in pool.imap_unordered(replicate, jobs) for r in rows])
    if args.out:
        draws.to_parquet(args.out)
    pd.set_option("display.width", 200)
    print(summarize(draws).round(2).to_string())
    team = draws[(draws["method"] == "team") & (draws["term"] == "persistence")]
    print("\nhomogeneity test rejection rate (5%), per cell/weeks/outcome:")
    print(team.groupby(["cell", "n_weeks", "outcome"])["rejected"].agg(["mean", "count"]).round(3))
    print("\nmedian seconds per fit:")
    print(draws.groupby(["n_weeks", "method"])["seconds"].median().round(3))


if __name__ == "__main__":
    main(sys.argv[1:])
