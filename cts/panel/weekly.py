"""Daily team rows to the weekly panel: ``to_weekly(daily)``."""

from __future__ import annotations

import pandas as pd

from cts.panel.load import require_columns
from cts.panel.schema import COUNT_COLUMNS, OPTIONAL_COLUMNS, source_columns

__all__ = ["HEADCOUNT_COLUMNS", "to_weekly"]

#: Counts of people: a week's value is its largest day's (see :func:`to_weekly`).
HEADCOUNT_COLUMNS: tuple[str, ...] = ("n_builders", "oncall_builders", "ai_active_builders")


def to_weekly(daily: pd.DataFrame, *, day: str = "day") -> pd.DataFrame:
    """Aggregate one row per team and day to one row per team and Monday-start week.

    Event counts (CRs, deployments, rollbacks, interventions, pages, shipped units) are summed.
    Headcounts (:data:`HEADCOUNT_COLUMNS`) take the week's largest day: daily counts cannot say
    how many distinct people a week had, and the largest day is the closest lower bound (recount
    from the source when it has person-level data). ``architecture`` takes the week's first
    value, ``cost_per_builder_week`` and any other numeric column their mean.

    Parameters
    ----------
    daily
        One row per ``team_id`` and date, the date in column ``day`` (or ``week``, as a loader
        that found daily rows would have it).
    day
        The date column (default ``"day"``; ``"week"`` is used when ``day`` is absent).

    Returns
    -------
    pandas.DataFrame
        The weekly panel, ``week`` the Monday each day's week starts on; pass it to
        :func:`cts.load_panel`.
    """
    if day not in daily.columns and "week" in daily.columns:
        day = "week"
    require_columns(daily, ("team_id", day), "the daily rows")
    dates = pd.to_datetime(daily[day], format="mixed", utc=True).dt.tz_localize(None)
    frame = daily.drop(columns=[day]).assign(
        week=dates.dt.normalize().dt.to_period("W-SUN").dt.start_time
    )
    counts = [*COUNT_COLUMNS, *source_columns()]
    # Per-tool active builders and seats are headcounts too; agent CRs and lines are summed.
    heads = [*HEADCOUNT_COLUMNS, *(c for c in source_columns() if c.startswith("ai_"))]
    sums = [c for c in counts if c in frame and c not in heads]
    rules = {c: "sum" for c in sums}
    rules |= {c: "max" for c in heads if c in frame}
    for column in ("architecture", "org"):
        if column in frame:
            rules[column] = "first"
    others = [
        c
        for c in frame.columns
        if c not in rules
        and c not in ("team_id", "week")
        and c not in OPTIONAL_COLUMNS
        and pd.api.types.is_numeric_dtype(frame[c])
    ]
    rules |= {c: "mean" for c in [*others, "cost_per_builder_week"] if c in frame}
    weekly = frame.groupby(["team_id", "week"], sort=True).agg(rules).reset_index()
    # min_count semantics for optional counts: a week without any value stays missing.
    for column in sums:
        if daily[column].isna().any():
            observed = frame[column].notna().groupby([frame["team_id"], frame["week"]]).any()
            weekly.loc[~observed.to_numpy(), column] = float("nan")
    return weekly
