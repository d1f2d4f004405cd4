"""The event-log contract: the tables every source produces and :func:`cts.build_panel` reads.

One table per event kind; docs/sources/event-logs.md's table mirrors :data:`TABLES` (a test
checks it). Every
table has ``team_id``; times are UTC (a naive time is read as UTC) and an event counts in the
week (Monday-Sunday) it falls in.
"""

from __future__ import annotations

from dataclasses import dataclass

from cts.core.exceptions import EventError

__all__ = ["PERSON_TABLES", "TABLES", "WEEKLY_COLUMNS", "EventError", "Table"]


@dataclass(frozen=True)
class Table:
    """One table of the event-log contract."""

    columns: tuple[str, ...]  # required columns
    time: str | None = None  # the timestamp that dates an event (week = its Monday, UTC)
    optional_times: tuple[str, ...] = ()  # further timestamps, may be missing or empty
    optional: tuple[str, ...] = ()  # further columns a source may provide (not timestamps)
    required: bool = True
    meaning: str = ""


#: The event-log contract: table -> columns (docs/sources/event-logs.md mirrors it; a test checks).
TABLES: dict[str, Table] = {
    "roster": Table(
        ("person_id", "team_id", "start_date"),
        optional_times=("end_date",),
        meaning="who is on which team, from `start_date` to `end_date` (empty: still there); "
        "`n_builders` counts distinct persons on the team on any day of the week",
    ),
    "code_reviews": Table(
        ("team_id", "merged_at"),
        time="merged_at",
        optional_times=("shipped_at",),
        optional=("is_agent", "additions", "deletions"),
        meaning="merged CRs -> `crs_merged`; `shipped_at` (when it reached customers, empty if "
        "not yet) -> `crs_shipped`; `is_agent` (true: authored by a coding agent) -> "
        "`agent_crs`; `additions` + `deletions` (lines) -> `lines_changed`",
    ),
    "deployments": Table(("team_id", "deployed_at"), time="deployed_at", meaning="`deployments`"),
    "rollbacks": Table(("team_id", "rolled_back_at"), time="rolled_back_at", meaning="`rollbacks`"),
    "interventions": Table(
        ("team_id", "occurred_at"),
        time="occurred_at",
        meaning="manual pipeline interventions -> `manual_interventions`",
    ),
    "pages": Table(("team_id", "paged_at"), time="paged_at", meaning="`pages`"),
    "oncall": Table(
        ("person_id", "team_id", "start_date"),
        optional_times=("end_date",),
        meaning="on-call shifts -> `oncall_builders` (distinct persons on call in the week)",
    ),
    "ai_usage": Table(
        ("person_id", "team_id", "used_at"),
        time="used_at",
        optional=("tool",),
        meaning="AI-assistant use -> `ai_active_builders` (distinct persons using any tool in "
        "the week); `tool` (one of `cts.AI_TOOLS`) -> `ai_active_builders_<tool>`",
    ),
    "seats": Table(
        ("person_id", "team_id", "tool", "start_date"),
        optional_times=("end_date",),
        required=False,
        meaning="AI-tool seats (licences) held from `start_date` to `end_date` (empty: still "
        "held) -> `ai_seats_<tool>` (distinct persons holding one on any day of the week)",
    ),
    "commits": Table(
        ("team_id", "shipped_at"),
        time="shipped_at",
        required=False,
        meaning="commits that reached customers -> `commits_shipped` (optional)",
    ),
    "teams": Table(
        ("team_id",),
        required=False,
        meaning="one row per team: `architecture`, `cost_per_builder_week` or any team "
        "covariate (optional)",
    ),
    "outages": Table(
        ("team_id", "week"),
        optional_times=("week",),
        required=False,
        meaning="team-weeks without telemetry: absent from the panel, not zero (optional)",
    ),
}
PERSON_TABLES = ("roster", "oncall", "ai_usage", "seats")
#: Panel columns counted per team and week from one timestamp of one table (persons distinct in
#: person tables); ``crs_shipped`` and ``commits_shipped`` only when the logs hold them.
WEEKLY_COLUMNS: dict[str, tuple[str, str]] = {
    "crs_merged": ("code_reviews", "merged_at"),
    "deployments": ("deployments", "deployed_at"),
    "rollbacks": ("rollbacks", "rolled_back_at"),
    "manual_interventions": ("interventions", "occurred_at"),
    "pages": ("pages", "paged_at"),
    "ai_active_builders": ("ai_usage", "used_at"),
    "crs_shipped": ("code_reviews", "shipped_at"),
    "commits_shipped": ("commits", "shipped_at"),
}
