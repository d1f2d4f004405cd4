"""Monte Carlo of the counterfactual (imputation with dynamics): bias and coverage.

``nice -n 19 python benchmarks/mc_counterfactual.py --panels 30 --teams 200 --weeks 39``
(``--threat org_waves`` etc.: the simulator overrides of ``cts.validation.monte_carlo.THREATS``)
prints, per term of ``cts.counterfactual``'s table (short run, persistence, long run, the
average effect on the treated at observed usage, the total extra CRs), the relative bias with
its Monte Carlo SE, the SD of the estimates against the mean bootstrap SE, and 95% coverage
with its Monte Carlo SE, and the rejection rate of the cohort homogeneity test (its size: the
simulated effects are the same in every cohort).
"""

from __future__ import annotations

import argparse
import time

from cts.validation.counterfactual import counterfactual_monte_carlo
from cts.validation.monte_carlo import THREATS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--panels", type=int, default=30)
    parser.add_argument("--teams", type=int, default=200)
    parser.add_argument("--weeks", type=int, default=39)
    parser.add_argument("--reps", type=int, default=199, help="bootstrap draws per panel")
    parser.add_argument("--outcome", default="cr_velocity")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--threat", choices=sorted(THREATS), default="clean")
    args = parser.parse_args()
    start = time.perf_counter()
    draws, summary = counterfactual_monte_carlo(
        args.panels,
        args.teams,
        args.weeks,
        outcome=args.outcome,
        reps=args.reps,
        overrides=THREATS[args.threat],
        workers=args.workers,
    )
    print(
        f"{args.threat}: {args.panels} panels of {args.teams} teams x {args.weeks} weeks, "
        f"{args.outcome}, "
        f"{args.reps} bootstrap draws each ({time.perf_counter() - start:.0f} s)"
    )
    print(summary.round(3).to_string())
    rejected = draws.drop_duplicates("seed")["cohort_rejected"]
    print(f"cohort homogeneity rejected at 5%: {rejected.mean():.0%} of {rejected.count()} panels")


if __name__ == "__main__":
    main()
