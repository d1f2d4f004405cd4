"""Describe a panel before analysing it: coverage, gaps, team sizes, adoption and outcome trends."""

from __future__ import annotations

import pandas as pd

from cts.panel import DERIVED_COLUMNS, windowed

__all__ = ["adoption_curve", "coverage", "gaps", "weekly_outcomes"]


def coverage(panel: pd.DataFrame) -> pd.Series:
    """Headline counts: teams, weeks, team-weeks, missing team-weeks, builders, small teams.

    A team-week is *missing* when it lies between a team's first and last observed week but has
    no row (a telemetry gap); weeks before a team starts or after it ends are not missing.
    """
    panel = windowed(panel)
    span = panel.groupby("team_id")["week"].agg(["min", "max"])
    expected = int(((span["max"] - span["min"]) / pd.Timedelta(weeks=1) + 1).sum())
    min_team_size = panel.attrs.get("min_team_size", 5)
    weekly_builders = panel.groupby("week")["n_builders"].sum()
    return pd.Series(
        {
            "teams": panel["team_id"].nunique(),
            "weeks": panel["week"].nunique(),
            "first_week": panel["week"].min().date(),
            "last_week": panel["week"].max().date(),
            "team_weeks": len(panel),
            "missing_team_weeks": expected - len(panel),
            "missing_share": (expected - len(panel)) / expected,
            "builders_per_week_median": float(weekly_builders.median()),
            "team_size_median": float(panel["n_builders"].median()),
            f"team_weeks_below_{min_team_size}_builders": int(
                (panel["n_builders"] < min_team_size).sum()
            ),
        }
    )


def gaps(panel: pd.DataFrame) -> pd.DataFrame:
    """Telemetry gaps: one row per run of missing weeks inside a team's observed span."""
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
