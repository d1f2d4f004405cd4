"""GitHub Copilot usage-metrics reports (-> ``ai_usage``) and seat snapshots.

Reports (https://docs.github.com/en/copilot/reference/copilot-usage-metrics/copilot-usage-metrics
and .../team-level-metrics): NDJSON files downloaded from the signed links of
``GET /orgs/{org}/copilot/metrics/reports/users-1-day?day=YYYY-MM-DD`` and
``.../user-teams-1-day?day=YYYY-MM-DD`` (the per-team metrics API was shut down on 2026-04-02;
team metrics are now built by this join).

* ``users-1-day``, one record per user and day: ``day``, ``user_id``, ``user_login``, activity
  counts (``user_initiated_interaction_count``, ``code_generation_activity_count``,
  ``code_acceptance_activity_count``) and flags (``used_agent``, ``used_chat``, ``used_cli``).
  A user is AI-active that day if any count is positive or any flag true.
* ``user-teams-1-day``: ``user_id``, ``user_login``, ``day``, ``team_id``, ``slug``, one record
  per user and team that day: a dated team membership. A user active in two teams that day is
  AI-active in both.

Team of a user-day: the team slug from ``user-teams-1-day`` (mapped by ``team_map`` when given),
else the identity file's team that day; user-days with neither are counted in a warning, not
used. Persons are hashed at read time (through the identity file when it knows the login or
``copilot:<user_id>``, so they match the same person in git and other sources).

Seat snapshots (``GET /orgs/{org}/copilot/billing/seats``,
https://docs.github.com/en/rest/copilot/copilot-user-management): ``seats[].assignee.login``,
``seats[].last_activity_at`` and ``seats[].assigning_team.slug``; each seat's last activity is
one AI-active day (a snapshot says nothing about the days before it). Each seat is also a
``seats`` spell (``ai_seats_copilot``) from ``created_at`` (when access was last granted) to
``pending_cancellation_date`` (empty: still held), on the assigning team, else on the identity
file's teams while the seat is held (:mod:`cts.sources.seats`).

All AI use read here is ``tool`` ``copilot``.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterable, Mapping

import pandas as pd

from cts.core.exceptions import SourceWarning
from cts.sources.identity import Identities
from cts.sources.records import dig, expand_paths, frame, load_records, none_unusable, utc
from cts.sources.seats import seat_table

__all__ = ["ACTIVITY_COUNTS", "ACTIVITY_FLAGS", "read_seats", "read_usage"]

ACTIVITY_COUNTS = (
    "user_initiated_interaction_count",
    "code_generation_activity_count",
    "code_acceptance_activity_count",
)
ACTIVITY_FLAGS = ("used_agent", "used_chat", "used_cli")

Paths = str | os.PathLike[str] | Iterable[str | os.PathLike[str]]


def read_usage(
    users: Paths,
    *,
    user_teams: Paths | None = None,
    identities: Identities | None = None,
    team_map: Mapping[str, str] | None = None,
    hasher: Callable[[str], str],
) -> dict[str, pd.DataFrame]:
    """``ai_usage`` from ``users-1-day`` reports joined to ``user-teams-1-day`` (or the
    identity file) for the team.

    Raises
    ------
    EventError
        A record without ``day``, ``user_id`` or ``user_login`` (not a ``users-1-day`` report)
        or with none of the activity fields, or a ``day`` that does not parse; the message
        names file, record and field.
    """
    memberships: dict[tuple[str, pd.Timestamp], list[str]] = {}
    for path in expand_paths(user_teams or []):
        for record in load_records(path):
            day = utc(dig(record, "day"), record, "day").normalize()
            slug = str(dig(record, "slug"))
            team = (team_map or {}).get(slug, slug)
            memberships.setdefault((str(dig(record, "user_id")), day), []).append(team)
    rows: list[dict] = []
    unassigned: set[str] = set()
    counts = {"inactive user-days": 0, "user-days on no team": 0}
    files = expand_paths(users)
    for path in files:
        for record in load_records(path):
            day = utc(dig(record, "day"), record, "day").normalize()
            user, login = str(dig(record, "user_id")), str(dig(record, "user_login"))
            if not _active(record):
                counts["inactive user-days"] += 1
                continue
            person = _person(identities, login, user)
            teams = memberships.get((user, day)) or _identity_teams(identities, person, day)
            if not teams:
                counts["user-days on no team"] += 1
                unassigned.add(user)
                continue
            key = hasher(f"person:{person}" if person else f"login:{login.lower()}")
            rows += [
                {"person_id": key, "team_id": t, "used_at": day, "tool": "copilot"} for t in teams
            ]
    none_unusable("copilot users-1-day", files, len(rows), counts | {"inactive user-days": 0})
    _warn("copilot users-1-day", counts, len(unassigned))
    return {"ai_usage": frame("ai_usage", rows)}


def read_seats(
    paths: Paths,
    *,
    identities: Identities | None = None,
    team_map: Mapping[str, str] | None = None,
    hasher: Callable[[str], str],
) -> dict[str, pd.DataFrame]:
    """``ai_usage`` from seat snapshots (one AI-active day per seat, at ``last_activity_at``)
    and ``seats``: each seat from ``created_at`` to ``pending_cancellation_date``."""
    rows: list[dict] = []
    spells = []
    counts = {"seats never used": 0, "seats on no team": 0}
    files = expand_paths(paths)
    for path in files:
        for record in load_records(path, wrapper="seats"):
            login = str(dig(record, "assignee.login"))
            ident = str(dig(record, "assignee.id", required=False) or "")
            person = _person(identities, login, ident)
            key = hasher(f"person:{person}" if person else f"login:{login.lower()}")
            slug = dig(record, "assigning_team.slug", required=False)
            team = (team_map or {}).get(slug, slug) if slug else ""
            spells.append((key, person, team, *_seat_days(record)))
            last = dig(record, "last_activity_at", required=False)
            if not last:
                counts["seats never used"] += 1
                continue
            when = utc(last, record, "last_activity_at")
            teams = [team] if team else _identity_teams(identities, person, when.normalize())
            if not teams:
                counts["seats on no team"] += 1
                continue
            rows += [
                {"person_id": key, "team_id": t, "used_at": when, "tool": "copilot"} for t in teams
            ]
    _warn("copilot seats as AI use", counts, None)  # each seat is still a seat
    seats = seat_table(
        spells, tool="copilot", identities=identities, what="copilot seats", files=files
    )
    never = {"seats never used": 0}  # a seat never used is still a seat
    none_unusable("copilot seats", files, len(rows) + len(seats), counts | never)
    return {"ai_usage": frame("ai_usage", rows), "seats": seats}


def _seat_days(record: dict) -> tuple[pd.Timestamp, pd.Timestamp | None]:
    """A seat's first day (``created_at``) and last (the day before its cancellation)."""
    start = utc(dig(record, "created_at"), record, "created_at").normalize()
    cancel = dig(record, "pending_cancellation_date", required=False)
    if not cancel:
        return start, None
    end = utc(cancel, record, "pending_cancellation_date").normalize() - pd.Timedelta(days=1)
    return start, max(start, end)


def _active(record: dict) -> bool:
    present = [f for f in (*ACTIVITY_COUNTS, *ACTIVITY_FLAGS) if f in record]
    if not present:
        dig(record, ACTIVITY_COUNTS[0])  # raises, naming the file, record and field
    counts = (float(record[f] or 0) > 0 for f in ACTIVITY_COUNTS if f in record)
    flags = (bool(record[f]) for f in ACTIVITY_FLAGS if f in record)
    return any(counts) or any(flags)


def _person(identities: Identities | None, login: str, user_id: str) -> str | None:
    if identities is None:
        return None
    return identities.person(login, "login") or identities.person(user_id, "copilot")


def _identity_teams(identities: Identities | None, person: str | None, day) -> list[str]:
    if identities is None or person is None:
        return []
    events = pd.DataFrame({"person": [person], "when": [pd.Timestamp(day)]})
    return identities.teams_on(events)["team"].tolist()


def _warn(what: str, counts: dict[str, int], users: int | None) -> None:
    text = ", ".join(f"{n:,} {why}" for why, n in counts.items() if n)
    if counts.get("user-days on no team") or counts.get("seats on no team"):
        who = f" ({users:,} distinct users)" if users else ""
        text += f"{who}: give their teams in user-teams-1-day or an identity file"
    if text:
        warnings.warn(f"{what}: not counted: {text}", SourceWarning, 3)
