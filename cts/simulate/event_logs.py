"""The raw event logs behind a :func:`cts.simulate_org` panel, in the event-log contract.

Each builder is a roster entry: a team's builders fill seats ``0 .. size - 1`` and the last to
join is the first to leave, so a seat held for a run of weeks is one person. The first ``k``
seats are on call (``k`` the team's on-call count) and the first ``a`` seats used the assistant
in a week with ``a`` active builders. Counts become events spread over the working week. CRs
ship in the release the simulator shipped them in (the same week for services and trunk teams,
the next fortnightly release for monoliths). Times come from a generator of their own, so the
panel is the same whether or not events are drawn, and :func:`cts.build_panel` on them
reproduces the panel exactly (a test checks this on DuckDB and on Spark).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

__all__ = ["event_logs"]

_WORK_WEEK = np.timedelta64(5 * 24 * 3600, "s")  # events fall Monday to Friday
_POINT_EVENTS = {  # table -> (timestamp column, simulated count)
    "deployments": ("deployed_at", "deployments"),
    "rollbacks": ("rolled_back_at", "rollbacks"),
    "interventions": ("occurred_at", "manual_interventions"),
    "pages": ("paged_at", "pages"),
    "commits": ("shipped_at", "commits_shipped"),
}


def event_logs(source: dict, seed: int) -> dict[str, pd.DataFrame]:
    """Event tables (``roster``, ``code_reviews``, ..., ``teams``, ``outages``) of a simulation."""
    rng = np.random.default_rng([seed, 7])  # a stream of its own: the panel does not change
    teams, weeks, counts = source["teams"], source["weeks"], source["counts"]
    n, n_weeks = counts["n_builders"].shape
    week_start = weeks.to_numpy().astype("datetime64[s]")
    alive = (np.arange(n_weeks) >= teams["first"][:, None]) & (
        np.arange(n_weeks) <= teams["last"][:, None]
    )
    ids = teams["id"]

    def times(week_index: np.ndarray) -> np.ndarray:
        offsets = (rng.random(len(week_index)) * _WORK_WEEK.astype(float)).astype("timedelta64[s]")
        return week_start[week_index] + offsets

    def repeat(count: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(team, week) of each event, for a team x week matrix of counts in the lifetimes."""
        count = np.where(alive, count, 0)
        flat = np.repeat(np.arange(n * n_weeks), count.ravel())
        return flat // n_weeks, flat % n_weeks

    seat_person, roster = _roster(counts["n_builders"], alive)
    last_week_open = teams["last"] == n_weeks - 1
    roster_table = pd.DataFrame(
        {
            "person_id": [f"person-{p:06d}" for p in roster["person"]],
            "team_id": ids[roster["team"]],
            "start_date": week_start[roster["start"]].astype("datetime64[D]"),
            "end_date": (week_start[roster["end"]] + np.timedelta64(6, "D")).astype(
                "datetime64[D]"
            ),
        }
    )
    # Builders still on a team in the last week have no end date yet.
    still_there = last_week_open[roster["team"]] & (roster["end"] == n_weeks - 1)
    roster_table["end_date"] = roster_table["end_date"].where(~still_there)
    on_call = roster["seat"] < teams["oncall"][roster["team"]]

    team, week = repeat(counts["ai_active_builders"])
    seat = _rank_within(team * n_weeks + week)
    usage = pd.DataFrame(
        {
            "person_id": [f"person-{p:06d}" for p in seat_person[team, seat, week]],
            "team_id": ids[team],
            "used_at": times(week),
        }
    )

    def point_events(column: str, count: str) -> pd.DataFrame:
        team, week = repeat(counts[count])
        return pd.DataFrame({"team_id": ids[team], column: times(week)})

    tables = {
        "roster": roster_table,
        "code_reviews": _code_reviews(counts, source["pending_at_start"], alive, ids, times),
        **{table: point_events(*spec) for table, spec in _POINT_EVENTS.items()},
        "oncall": roster_table.loc[on_call].reset_index(drop=True),
        "ai_usage": usage,
        "teams": pd.DataFrame(
            {
                "team_id": ids,
                "architecture": source["architecture"],
                "cost_per_builder_week": teams["cost"].astype(float),
                **({"org": source["org"]} if "org" in source else {}),
            }
        ),
    }
    gap_team, gap_week = np.nonzero(source["missing"])
    tables["outages"] = pd.DataFrame(
        {"team_id": ids[gap_team], "week": week_start[gap_week].astype("datetime64[D]")}
    )
    return tables


def _roster(size: np.ndarray, alive: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Persons per seat and week (team x seat x week, -1 when empty) and each person's tenure."""
    seats = int(size.max())
    occupied = (np.arange(seats)[None, :, None] < size[:, None, :]) & alive[:, None, :]
    before = np.concatenate([np.zeros_like(occupied[:, :, :1]), occupied[:, :, :-1]], axis=2)
    starts = occupied & ~before
    person = np.cumsum(starts.ravel()).reshape(occupied.shape) - 1
    seat_person = np.where(occupied, person, -1)
    team, seat, start = np.nonzero(starts)
    after = np.concatenate([occupied[:, :, 1:], np.zeros_like(occupied[:, :, :1])], axis=2)
    end_team, end_seat, end = np.nonzero(occupied & ~after)  # same (team, seat, week) order
    assert np.array_equal(team, end_team) and np.array_equal(seat, end_seat)
    roster = {"person": person[team, seat, start], "team": team, "seat": seat}
    return seat_person, {**roster, "start": start, "end": end}


def _rank_within(group: np.ndarray) -> np.ndarray:
    """0, 1, 2, ... within runs of equal, sorted group keys."""
    first = np.concatenate([[True], group[1:] != group[:-1]])
    starts = np.flatnonzero(first)
    return np.arange(len(group)) - np.repeat(starts, np.diff(np.append(starts, len(group))))


def _code_reviews(
    counts: dict[str, np.ndarray],
    pending_at_start: np.ndarray,
    alive: np.ndarray,
    ids: np.ndarray,
    times: Callable[[np.ndarray], np.ndarray],
) -> pd.DataFrame:
    """Merged CRs with the week they shipped in: the first shipping week at or after merging.

    Kept: CRs merged in the team's lifetime and those that ship into it (merged just before it
    starts, or in the burn-in, which are dated the week before the panel).
    """
    merged, ships = counts["crs_merged"], counts["ships"].astype(bool)
    n, n_weeks = merged.shape
    # next_ship[i, t]: the first week >= t in which team i ships (n_weeks: not in the panel).
    candidates = np.where(ships, np.arange(n_weeks), n_weeks)
    next_ship = np.minimum.accumulate(candidates[:, ::-1], axis=1)[:, ::-1]
    alive_or_never = np.concatenate([alive, np.zeros((n, 1), bool)], axis=1)
    ships_into_life = np.take_along_axis(alive_or_never, next_ship, axis=1)
    count = np.where(alive | ships_into_life, merged, 0)
    flat = np.repeat(np.arange(n * n_weeks), count.ravel())
    team, week = flat // n_weeks, flat % n_weeks
    burn_in = np.where(ships_into_life[:, 0], pending_at_start, 0)
    early_team = np.repeat(np.arange(n), burn_in)

    team = np.concatenate([early_team, team])
    week = np.concatenate([np.full(len(early_team), -1), week])
    merged_at = times(np.maximum(week, 0)) - np.where(week < 0, np.timedelta64(7, "D"), 0)
    shipped_week = next_ship[team, np.maximum(week, 0)]
    shipped_at = times(np.minimum(shipped_week, n_weeks - 1))
    shipped_at = np.where(shipped_at < merged_at, merged_at, shipped_at)  # same-week releases
    frame = pd.DataFrame({"team_id": ids[team], "merged_at": merged_at, "shipped_at": shipped_at})
    frame.loc[shipped_week >= n_weeks, "shipped_at"] = pd.NaT  # not shipped yet
    return frame
