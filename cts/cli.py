"""The ``cts`` command line (also ``python -m cts``): ``data``, ``build-panel``, ``report`` and
``validate``."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

# The subcommands of the parser (argparse names no public type for it).
_Commands = argparse._SubParsersAction


def _data(args: argparse.Namespace) -> int:
    from cts.simulate import simulate_org, write_simulation

    started = time.perf_counter()
    extra = {"tools": args.tools} if args.tools else {}
    sim = simulate_org(n_teams=args.n_teams, n_weeks=args.n_weeks, seed=args.seed, **extra)
    panel_path, truth_path = write_simulation(sim, args.out)
    print(
        f"wrote {panel_path} ({len(sim.panel):,} team-weeks, {sim.panel['team_id'].nunique():,} "
        f"teams) and {truth_path} in {time.perf_counter() - started:.1f} s"
    )
    return 0


def _validate(args: argparse.Namespace) -> int:
    from cts.validation.monte_carlo import (
        bootstrap_coverage,
        control_bias,
        exogeneity_size,
        few_cluster_size,
        monte_carlo,
        summarize_monte_carlo,
        threats,
        validation_report,
    )

    started = time.perf_counter()
    draws = None
    if args.reps:
        draws = monte_carlo(
            n_weeks=args.n_weeks,
            n_teams=args.n_teams,
            reps=args.reps,
            outcomes=args.outcomes,
            method_reps={"gmm": min(args.gmm_reps, args.reps)},
        )
    exogeneity = None
    if args.exogeneity_reps:
        exogeneity = exogeneity_size(n_teams=args.n_teams, reps=args.exogeneity_reps)
    few_clusters = few_cluster_size(reps=args.few_cluster_reps) if args.few_cluster_reps else None
    threat_options = {
        key: value
        for key, value in (
            ("reps", args.threat_reps),
            ("n_teams", args.threat_teams),
            ("n_weeks", args.threat_weeks),
            ("cells", args.threat_cells),
        )
        if value is not None
    }
    threat_cells = threats(**threat_options) if args.threat_reps != 0 else None
    control_cells = control_bias(reps=args.control_reps) if args.control_reps else None
    coverage_cells = bootstrap_coverage(reps=args.coverage_reps) if args.coverage_reps else None
    report = validation_report(
        None if draws is None else summarize_monte_carlo(draws),
        exogeneity,
        few_clusters,
        threat_cells,
        control_cells=control_cells,
        coverage_cells=coverage_cells,
        n_teams=args.n_teams,
        seconds=time.perf_counter() - started,
    )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report)
    print(report)
    print(f"wrote {out}")
    return 0


def _build_panel(args: argparse.Namespace) -> int:
    """``cts build-panel``: read the events (a folder, git repositories, a sources file or a
    DevLake database), build the panel, check it against the contract, write it.

    Prints the warnings of those steps and the panel's size; returns the exit code (2 on bad
    input, with the reason on stderr, never a password).
    """
    import warnings

    from cts.core.exceptions import EventError, PanelError, PanelWarning
    from cts.panel import load_panel, write_panel
    from cts.sources.build import build_panel

    started = time.perf_counter()
    *sources, out = args.paths
    problem = _build_panel_usage(args, sources)
    if problem:
        print(f"cts build-panel: {problem}", file=sys.stderr)
        return 2
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", PanelWarning)
        try:
            events, origin = _panel_events(args, sources)
            panel = build_panel(events, engine=args.engine, progress=True)
            load_panel(panel)  # the built panel must pass the contract before it is written
            path = write_panel(panel, out)
        except (EventError, PanelError) as error:
            print(f"cts build-panel: {error}", file=sys.stderr)
            return 2
    for warning in caught:
        print(f"warning: {warning.message}", file=sys.stderr)
    print(
        f"wrote {path} ({len(panel):,} team-weeks, {panel['team_id'].nunique():,} teams, "
        f"{panel['week'].min():%Y-%m-%d} to {panel['week'].max():%Y-%m-%d}) {origin} "
        f"in {time.perf_counter() - started:.1f} s"
    )
    return 0


def _build_panel_usage(args: argparse.Namespace, sources: list[str]) -> str | None:
    """What is wrong with the arguments of ``cts build-panel``, or None."""
    if args.devlake:
        return "with --devlake give only OUT" if sources else None
    if args.sources:
        return "with --sources give only OUT" if sources else None
    if not sources or (len(sources) > 1 and not args.git):
        return "give EVENTS_DIR OUT (or --git REPO [REPO ...] OUT)"
    return None


def _panel_events(
    args: argparse.Namespace, sources: list[str]
) -> tuple[str | os.PathLike[str] | Mapping[str, Any], str]:
    """The events ``cts build-panel`` was pointed at (tables, or the folder holding them) and
    where they came from, in words for its closing line."""
    if args.devlake:
        from cts.sources.devlake import database_url, read_events, shown_url

        events = read_events(
            args.devlake,
            project=args.project,
            production=args.production,
            allow_missing_ai=args.allow_missing_ai,
            progress=True,
        )
        return events, f"from DevLake {shown_url(database_url(args.devlake))}"
    if args.sources:
        from cts.sources.config import read_sources

        return read_sources(args.sources), f"with {args.engine}"
    if args.git:
        from cts.sources.git import read_events as read_git

        return read_git(
            sources, team_map=_team_map(args.team_map), architecture=args.architecture
        ), f"with {args.engine}"
    return sources[0], f"with {args.engine}"


def _team_map(path: str | None) -> dict[str, str] | None:
    if path is None:
        return None
    import io

    import pandas as pd

    from cts.sources.records import csv_header, read_text

    text = read_text(path)  # a folder, a looping link, a latin-1 file: one message naming it
    csv_header(path, text)
    frame = pd.read_csv(io.StringIO(text), dtype=str) if text.strip() else pd.DataFrame()
    if list(frame.columns[:2]) != ["repository", "team_id"]:
        raise SystemExit(f"cts build-panel: {path} needs columns repository,team_id")
    return dict(zip(frame["repository"], frame["team_id"], strict=True))


def tool_prices(text: str) -> dict[str, float]:
    """``copilot=19,cursor=40`` -> ``{"copilot": 19.0, "cursor": 40.0}`` (per builder-month)."""
    prices = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        tool, _, price = item.partition("=")
        try:
            prices[tool.strip()] = float(price)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{item!r} is not tool=price; write e.g. copilot=19,cursor=40"
            ) from None
        if not prices[tool.strip()] >= 0 or not tool.strip():
            raise argparse.ArgumentTypeError(f"{item!r}: a tool and a price >= 0, e.g. copilot=19")
    if not prices:
        raise argparse.ArgumentTypeError("give prices as tool=price, e.g. copilot=19,cursor=40")
    return prices


#: ``cts report --unit`` names -> panel columns.
_UNIT_COLUMNS = {"deployments": "deployments", "crs": "crs_shipped", "commits": "commits_shipped"}


def _report(args: argparse.Namespace) -> int:
    from cts.core.exceptions import PanelError
    from cts.reporting.builder import NoSpaceError, build_reports

    started = time.perf_counter()
    parameters = {"seed": args.seed}
    if args.start:
        parameters["start"] = args.start
    if args.end:
        parameters["end"] = args.end
    if args.unit != "auto":
        parameters["unit"] = _UNIT_COLUMNS.get(args.unit, args.unit)
    if args.currency is not None:  # checked by build_reports: an ISO 4217 code
        parameters["currency"] = args.currency
    if args.seat_cost:
        parameters["seat_cost"] = args.seat_cost
    if args.no_cache:
        from cts.core.cache import CACHE_ENV

        os.environ[CACHE_ENV] = "off"  # the notebooks' kernels inherit it
    try:
        runs = build_reports(args.panel, args.out, parameters=parameters, workers=args.workers)
    except (FileNotFoundError, PanelError, ValueError) as error:
        print(f"cts report: {error}", file=sys.stderr)
        return 2
    except NoSpaceError as error:
        print(f"cts report: {error.strerror}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(
            f"cts report: interrupted; notebooks and kernels stopped, {args.out} left as it was",
            file=sys.stderr,
        )
        return 130
    for run in runs:
        status = "ok" if run.ok else "FAILED: " + run.error.replace("\n", "\n" + " " * 56)
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
    for add in (_add_data, _add_build_panel, _add_report, _add_validate):
        add(commands)
    args = parser.parse_args(argv)
    return args.run(args)


def _add_data(commands: _Commands) -> None:
    """``cts data``: simulate an organization."""
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
    data.add_argument(
        "--tools",
        type=tool_prices,
        help="several AI tools, each with its effect multiplier: copilot=1,cursor=2 (adds "
        "ai_active_builders_<tool> and ai_seats_<tool>; default: one assistant)",
    )
    data.set_defaults(run=_data)


def _add_build_panel(commands: _Commands) -> None:
    """``cts build-panel``: the panel from event logs, git, a sources file or DevLake."""
    build = commands.add_parser(
        "build-panel",
        help="build the team-week panel from event logs (or git repositories)",
        description="Build the team-week panel from an event-log directory (one table per "
        "event kind, see docs/sources/event-logs.md) or, with --git, from local git repositories.",
    )
    build.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help="EVENTS_DIR OUT, or with --git: REPO [REPO ...] OUT",
    )
    build.add_argument("--engine", choices=["duckdb", "spark"], default="duckdb")
    build.add_argument("--git", action="store_true", help="read local git repositories")
    build.add_argument(
        "--sources",
        metavar="TOML",
        help="read the sources a TOML file names (docs/sources/exports.md)",
    )
    build.add_argument(
        "--team-map", help="CSV with columns repository,team_id (default: a team per repository)"
    )
    build.add_argument(
        "--architecture",
        choices=["service", "monolith", "trunk"],
        default="monolith",
        help="with --git: the teams' architecture, which picks the CTS-SW unit (default: "
        "%(default)s, i.e. changes shipped in release tags)",
    )
    build.add_argument(
        "--devlake",
        metavar="URL",
        help="read an Apache DevLake database (then give only OUT): postgresql://... or "
        "mysql://... (password from PGPASSWORD/MYSQL_PWD, never printed)",
    )
    build.add_argument("--project", help="with --devlake: only this DevLake project")
    build.add_argument(
        "--production",
        metavar="REGEX",
        help="with --devlake: deployments whose environment or name matches this Python regex "
        "are production ones (default: PRODUCTION in any case)",
    )
    build.add_argument(
        "--allow-missing-ai",
        action="store_true",
        help="with --devlake: build without AI-assistant data (ai_active_builders = 0)",
    )
    build.set_defaults(run=_build_panel)


def _add_report(commands: _Commands) -> None:
    """``cts report``: every analysis notebook to HTML."""
    report = commands.add_parser("report", help="run every analysis notebook -> HTML reports")
    report.add_argument(
        "--panel", default="data/synthetic/panel.parquet", help="panel file (default: %(default)s)"
    )
    report.add_argument("--out", default="reports", help="output folder (default: %(default)s)")
    report.add_argument("--start", help="first week analysed (default: all)")
    report.add_argument("--end", help="last week analysed (default: all)")
    report.add_argument("--seed", type=int, default=0)
    report.add_argument("--workers", type=int, help="notebooks at once (default: all cores)")
    report.add_argument(
        "--unit",
        choices=["auto", *_UNIT_COLUMNS, "crs_merged"],
        default="auto",
        help="the unit of CTS-SW: deployments, crs (shipped CRs), commits (shipped commits) or "
        "crs_merged; auto follows the `architecture` column, so a panel without one needs a unit "
        "(default: %(default)s)",
    )
    report.add_argument(
        "--currency", help="currency of cost_per_builder_week in the reports (default: USD)"
    )
    report.add_argument(
        "--seat-cost",
        type=tool_prices,
        help="price of an AI seat per builder-month, by tool: copilot=19,cursor=40 (tools: "
        "copilot, cursor, claude_code, q, other; one price for a panel with one usage column); "
        "without it the brief assumes 19 and says so",
    )
    report.add_argument(
        "--no-cache",
        action="store_true",
        help="recompute everything; by default results of an earlier run with the same panel, "
        "parameters and code are reused (cts.cached; CTS_CACHE_DIR sets the folder)",
    )
    report.set_defaults(run=_report)


def _add_validate(commands: _Commands) -> None:
    """``cts validate``: the Monte Carlo of the estimators."""
    validate = commands.add_parser(
        "validate", help="Monte Carlo of the adoption-effect methods and their inference"
    )
    validate.add_argument("--out", default="reports/validation.md")
    validate.add_argument("--n-weeks", type=int, nargs="+", default=[26, 39, 104])
    validate.add_argument("--n-teams", type=int, default=500)
    # The defaults keep the whole run under 40 minutes on 2 cores: about 63 CPU minutes, ~32 on
    # 2 idle cores (per block in VALIDATE_CPU_MINUTES of cts.validation.monte_carlo, measured in
    # CPU time), at Monte Carlo SEs of 1.1 points (400 reps) and 1.3 points (300) on a 95% and
    # a 5% rate, and 1.8 points on the threat cells' coverage.
    validate.add_argument(
        "--reps",
        type=int,
        default=400,
        help="panels per length of the main block; 0 skips it (default: %(default)s)",
    )
    validate.add_argument(
        "--gmm-reps", type=int, default=200, help="of which gmm runs on (default: %(default)s)"
    )
    validate.add_argument(
        "--exogeneity-reps",
        type=int,
        default=200,
        help="panels per setting for the exogeneity_checks size; 0 skips it (default: %(default)s)",
    )
    validate.add_argument(
        "--few-cluster-reps",
        type=int,
        default=300,
        help="30-team panels per design for the size of few-cluster inference; 0 skips it "
        "(default: %(default)s)",
    )
    validate.add_argument(
        "--threat-reps",
        type=int,
        help="panels per threat cell and length (feedback, AR(1) shocks, heterogeneous "
        "persistence, clean, effects that differ by team, org waves, learning); 0 skips them "
        "(default: THREAT_REPS of cts.validation.monte_carlo, 150)",
    )
    validate.add_argument(
        "--threat-cells", nargs="+", help="the threat cells to run (default: all of THREATS)"
    )
    validate.add_argument(
        "--control-reps",
        type=int,
        default=60,
        help="panels per row of the deployment-velocity controls cell (old default controls "
        "against none, 200 teams x 39 weeks); 0 skips it (default: %(default)s)",
    )
    validate.add_argument(
        "--coverage-reps",
        type=int,
        default=100,
        help="20-team panels for the coverage of the clustered, wild-bootstrap (fixed and "
        "recursive design, bootstrap-t and inverted) and randomization intervals, about 1.5 "
        "CPU seconds a panel, 1.0 of it the recursive inverted interval (37 s of wall clock on "
        "a loaded machine); 0 skips it (default: %(default)s)",
    )
    validate.add_argument("--threat-teams", type=int, help="default: 200")
    validate.add_argument("--threat-weeks", type=int, nargs="+", help="default: 13 26 39 104")
    validate.add_argument("--outcomes", nargs="+", default=["cr_velocity", "deploy_velocity"])
    validate.set_defaults(run=_validate)


if __name__ == "__main__":
    sys.exit(main())
