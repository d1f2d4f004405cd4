"""The ``cts`` command line (also ``python -m cts``): ``data``, ``report`` and ``validate``."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from cts.data import write_simulation
from cts.simulate import simulate_org


def _data(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    sim = simulate_org(n_teams=args.n_teams, n_weeks=args.n_weeks, seed=args.seed)
    panel_path, truth_path = write_simulation(sim, args.out)
    print(
        f"wrote {panel_path} ({len(sim.panel):,} team-weeks, {sim.panel['team_id'].nunique():,} "
        f"teams) and {truth_path} in {time.perf_counter() - started:.1f} s"
    )
    return 0


def _validate(args: argparse.Namespace) -> int:
    from cts.validation import (
        exogeneity_size,
        monte_carlo,
        summarize_monte_carlo,
        validation_report,
    )

    started = time.perf_counter()
    draws = monte_carlo(
        n_weeks=args.n_weeks,
        n_teams=args.n_teams,
        reps=args.reps,
        outcomes=args.outcomes,
        method_reps={"gmm": min(args.gmm_reps, args.reps)},
    )
    exogeneity = exogeneity_size(n_teams=args.n_teams, reps=args.exogeneity_reps)
    report = validation_report(
        summarize_monte_carlo(draws),
        exogeneity,
        n_teams=args.n_teams,
        seconds=time.perf_counter() - started,
    )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report)
    print(report)
    print(f"wrote {out}")
    return 0


def _report(args: argparse.Namespace) -> int:
    from cts.report import build_reports

    started = time.perf_counter()
    parameters = {"seed": args.seed}
    if args.start:
        parameters["start"] = args.start
    if args.end:
        parameters["end"] = args.end
    try:
        runs = build_reports(args.panel, args.out, parameters=parameters, workers=args.workers)
    except FileNotFoundError as error:
        print(f"cts report: {error}", file=sys.stderr)
        return 2
    for run in runs:
        status = "ok" if run.ok else f"FAILED: {run.error}"
        print(f"  {run.analysis.name:<36} {run.seconds:5.1f} s  {status}")
    print(f"wrote {Path(args.out) / 'index.html'} in {time.perf_counter() - started:.0f} s")
    failed = [run.analysis.name for run in runs if not run.ok]
    if failed:
        print(
            f"cts report: {len(failed)} notebook(s) failed: {', '.join(failed)}; executed copies "
            f"with the error are in {Path(args.out) / 'failed'}",
            file=sys.stderr,
        )
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = argparse.ArgumentParser(prog="cts", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    data = commands.add_parser("data", help="simulate an organization and write its panel")
    data.add_argument(
        "out",
        nargs="?",
        default="data/synthetic/panel.parquet",
        help="panel path, .parquet or .csv (default: %(default)s)",
    )
    data.add_argument("--n-teams", type=int, default=1000)
    data.add_argument("--n-weeks", type=int, default=156)
    data.add_argument("--seed", type=int, default=0)
    data.set_defaults(run=_data)

    report = commands.add_parser("report", help="run every analysis notebook -> HTML reports")
    report.add_argument(
        "--panel", default="data/synthetic/panel.parquet", help="panel file (default: %(default)s)"
    )
    report.add_argument("--out", default="reports", help="output folder (default: %(default)s)")
    report.add_argument("--start", help="first week analysed (default: all)")
    report.add_argument("--end", help="last week analysed (default: all)")
    report.add_argument("--seed", type=int, default=0)
    report.add_argument("--workers", type=int, help="notebooks at once (default: all cores)")
    report.set_defaults(run=_report)

    validate = commands.add_parser("validate", help="Monte Carlo of the adoption-effect methods")
    validate.add_argument("--out", default="reports/validation.md")
    validate.add_argument("--n-weeks", type=int, nargs="+", default=[26, 39, 104])
    validate.add_argument("--n-teams", type=int, default=500)
    validate.add_argument(
        "--reps", type=int, default=1000, help="panels per length (default: %(default)s)"
    )
    validate.add_argument(
        "--gmm-reps", type=int, default=200, help="of which gmm runs on (default: %(default)s)"
    )
    validate.add_argument(
        "--exogeneity-reps",
        type=int,
        default=200,
        help="panels per setting for the exogeneity_checks size (default: %(default)s)",
    )
    validate.add_argument("--outcomes", nargs="+", default=["cr_velocity", "deploy_velocity"])
    validate.set_defaults(run=_validate)

    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
