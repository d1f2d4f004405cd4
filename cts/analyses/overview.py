"""Describe a panel before analysing it: coverage, gaps, team sizes, adoption and outcome trends."""

from __future__ import annotations

import pandas as pd

from cts.panel import DERIVED_COLUMNS, windowed

__all__ = ["adoption_curve", "coverage", "coverage_rows", "gaps", "weekly_outcomes"]


def coverage(panel: pd.DataFrame) -> pd.Series:
    """Headline counts of a panel as loaded, before small-team suppression: teams and their
    lifetimes, telemetry gaps, team-weeks suppressed for privacy, builders.

    Three things are counted apart, because they mean different things to a reader:

    - a team's *lifetime* runs from its first to its last week with a row; weeks before a team
      starts or after it ends are not missing, the team did not exist (or was not yet tracked);
    - a *telemetry gap* is a week inside a team's lifetime without a row;
    - a *suppressed* team-week has a row but fewer builders than ``min_team_size``
      (``panel.attrs``), so the reports leave it out (:func:`cts.suppress_small_teams`).

    Parameters
    ----------
    panel
        The panel as :func:`cts.load_panel` returns it, not after
        :func:`cts.suppress_small_teams` (whose dropped rows would count as gaps).

    Returns
    -------
    pandas.Series
        ``teams, weeks, first_week, last_week, team_weeks`` (rows), ``lifetime_weeks`` (the
        teams' lifetimes added up), ``teams_starting_late`` / ``teams_ending_early`` (lifetimes
        that start after the panel's first week / end before its last), ``gap_weeks`` and
        ``gap_share`` (of ``lifetime_weeks``), ``teams_with_gaps``, ``min_team_size``,
        ``suppressed_team_weeks``, ``suppressed_share`` (of rows), ``suppressed_teams``
        (teams with every row suppressed), ``reported_team_weeks``, ``reported_teams``,
        ``builders_per_week_median`` and ``team_size_median`` (over reported team-weeks).
    """
    _refuse_suppressed(panel)
    panel = windowed(panel)
    span = panel.groupby("team_id")["week"].agg(["min", "max", "size"])
    lifetimes = ((span["max"] - span["min"]) / pd.Timedelta(weeks=1) + 1).astype(int)
    gap_weeks = lifetimes - span["size"]
    min_team_size = int(panel.attrs.get("min_team_size", 5))
    small = panel["n_builders"] < min_team_size
    reported = panel.loc[~small]
    weekly_builders = reported.groupby("week")["n_builders"].sum()
    n_teams = len(span)
    return pd.Series(
        {
            "teams": n_teams,
            "weeks": panel["week"].nunique(),
            "first_week": panel["week"].min().date(),
            "last_week": panel["week"].max().date(),
            "team_weeks": len(panel),
            "lifetime_weeks": int(lifetimes.sum()),
            "teams_starting_late": int((span["min"] > panel["week"].min()).sum()),
            "teams_ending_early": int((span["max"] < panel["week"].max()).sum()),
            "gap_weeks": int(gap_weeks.sum()),
            "gap_share": float(gap_weeks.sum() / lifetimes.sum()),
            "teams_with_gaps": int((gap_weeks > 0).sum()),
            "min_team_size": min_team_size,
            "suppressed_team_weeks": int(small.sum()),
            "suppressed_share": float(small.mean()),
            "suppressed_teams": n_teams - reported["team_id"].nunique(),
            "reported_team_weeks": len(reported),
            "reported_teams": reported["team_id"].nunique(),
            "builders_per_week_median": float(weekly_builders.median()),
            "team_size_median": float(reported["n_builders"].median()),
        }
    )


def coverage_rows(counts: pd.Series) -> pd.DataFrame:
    """:func:`coverage` as rows a reader takes in: ``what``, ``count`` (formatted) and
    ``meaning``, lifetimes, gaps and privacy suppression apart."""
    size = counts["min_team_size"]
    rows = [
        ("teams", f"{counts['teams']:,}", "teams in the data"),
        (
            "team lifetimes",
            f"{counts['lifetime_weeks']:,}",
            "weeks from each team's first to its last week with data, added up; "
            f"{counts['teams_starting_late']:,} teams start after the first week and "
            f"{counts['teams_ending_early']:,} end before the last (not missing: they did not "
            "exist or were not tracked yet)",
        ),
        ("team-weeks with data", f"{counts['team_weeks']:,}", "rows of the panel"),
        (
            "telemetry gaps",
            f"{counts['gap_weeks']:,}",
            f"weeks inside a lifetime without data: {counts['gap_share']:.1%} of the "
            f"lifetimes, in {counts['teams_with_gaps']:,} teams",
        ),
        (
            "left out for privacy",
            f"{counts['suppressed_team_weeks']:,}",
            f"team-weeks with data but fewer than {size} builders "
            f"({counts['suppressed_share']:.1%} of those with data); "
            f"{counts['suppressed_teams']:,} teams have no other team-week",
        ),
        (
            "analysed",
            f"{counts['reported_team_weeks']:,}",
            f"team-weeks of {counts['reported_teams']:,} teams, what every report and model uses",
        ),
        (
            "team size",
            f"{counts['team_size_median']:,.0f}",
            "builders in the median analysed team-week",
        ),
        (
            "builders a week",
            f"{counts['builders_per_week_median']:,.0f}",
            "builders in the analysed teams in the median week",
        ),
    ]
    return pd.DataFrame(rows, columns=["what", "count", "meaning"])


def gaps(panel: pd.DataFrame) -> pd.DataFrame:
    """Telemetry gaps: one row per run of weeks without a row inside a team's lifetime.

    ``panel`` is the panel as loaded, not after :func:`cts.suppress_small_teams` (whose
    dropped team-weeks are privacy suppression, not gaps: see :func:`coverage`).
    """
    _refuse_suppressed(panel)
    panel = windowed(panel)
    weeks = panel[["team_id", "week"]].sort_values(["team_id", "week"])
    step = weeks.groupby("team_id")["week"].diff() / pd.Timedelta(weeks=1)
    found = weeks.assign(missing_weeks=step - 1).loc[step > 1]
    return pd.DataFrame(
        {
            "team_id": found["team_id"].to_numpy(),
            "first_missing": (
                found["week"] - pd.to_timedelta(7 * found["missing_weeks"], unit="D")
            ).to_numpy(),
            "missing_weeks": found["missing_weeks"].astype(int).to_numpy(),
        }
    )


def _refuse_suppressed(panel: pd.DataFrame) -> None:
    if panel.attrs.get("suppressed"):
        raise ValueError(
            "this panel has had its small team-weeks removed (cts.suppress_small_teams), so "
            "they would count as telemetry gaps: pass the panel as loaded"
        )


def adoption_curve(
    panel: pd.DataFrame, treatment_count: str = "ai_active_builders"
) -> pd.DataFrame:
    """Per week: the share of builders using the assistant and the share of teams with any user."""
    panel = windowed(panel)
    grouped = panel.groupby("week")
    return pd.DataFrame(
        {
            "share_of_builders": grouped[treatment_count].sum() / grouped["n_builders"].sum(),
            "share_of_teams": grouped[treatment_count].apply(lambda used: (used > 0).mean()),
        }
    )


def weekly_outcomes(
    panel: pd.DataFrame, outcomes: tuple[str, ...] = ("cr_velocity", "deploy_velocity")
) -> pd.DataFrame:
    """Organization-level outcome per week, as a ratio of sums (builder-weighted)."""
    panel = windowed(panel)
    grouped = panel.groupby("week")
    return pd.DataFrame(
        {
            name: grouped[DERIVED_COLUMNS[name][0]].sum()
            / grouped[DERIVED_COLUMNS[name][1]].sum().clip(lower=1)
            for name in outcomes
        }
    )
