"""PagerDuty exports: incidents (-> ``pages``) and on-calls (-> ``oncall``).

Both are the REST API's list responses, saved as JSON (the ``{"incidents": [...]}`` /
``{"oncalls": [...]}`` page, a bare array, or NDJSON):

* ``GET /incidents`` (https://developer.pagerduty.com/api-reference/9d0b4b12e36f9-list-incidents):
  fields used ``created_at`` (ISO 8601 with offset; converted to UTC), ``teams[].id`` /
  ``teams[].summary``, ``service.id`` / ``service.summary`` and
  ``assignments[].assignee.id``. An incident is one page for each team it names; an incident
  with no team is the page of its service's team (``service_map``), else of its first
  assignee's team in the identity file; incidents with none of these are counted in a warning.
* ``GET /oncalls`` (https://developer.pagerduty.com/api-reference/3a6b910f11050-list-all-of-the-on-calls):
  fields used ``user.id``, ``schedule.id`` / ``schedule.summary``, ``escalation_level``,
  ``start``, ``end``. Only ``levels`` (default: level 1, the primary) count. The shift is
  on the schedule's team (``schedule_map``), else the user's team in the identity file at its
  start.

``team_map`` renames PagerDuty team names or ids to cts team ids (default: the team's name).
User names (``summary``) are never read: persons are ``pagerduty:<user id>`` in the identity
file, hashed at read time.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterable, Mapping

import pandas as pd

from cts.core.exceptions import SourceWarning
from cts.sources.identity import Identities
from cts.sources.records import dig, expand_paths, frame, load_records, none_unusable, utc

__all__ = ["read_incidents", "read_oncalls"]

Paths = str | os.PathLike[str] | Iterable[str | os.PathLike[str]]


def read_incidents(
    paths: Paths,
    *,
    team_map: Mapping[str, str] | None = None,
    service_map: Mapping[str, str] | None = None,
    identities: Identities | None = None,
) -> dict[str, pd.DataFrame]:
    """``pages`` from incident exports (one page per incident and team)."""
    rows, unassigned = [], 0
    team_map, service_map = team_map or {}, service_map or {}
    files = expand_paths(paths)
    for path in files:
        for record in load_records(path, wrapper="incidents"):
            when = utc(dig(record, "created_at"), record, "created_at")
            teams = [_named(t, team_map) for t in dig(record, "teams", required=False) or []]
            if not teams:
                service = dig(record, "service", required=False) or {}
                team = _named(service, service_map) if _in(service, service_map) else None
                teams = [team] if team else _assignee_teams(record, identities, when)
            if not teams:
                unassigned += 1
                continue
            rows += [{"team_id": team, "paged_at": when} for team in dict.fromkeys(teams)]
    none_unusable("pagerduty incidents", files, len(rows), {"on no team": unassigned})
    if unassigned:
        warnings.warn(
            f"pagerduty incidents: {unassigned:,} incident(s) name no team, no mapped service "
            "and no assignee on a team: not counted (give service_map or an identity file)",
            SourceWarning,
            2,
        )
    return {"pages": frame("pages", rows)}


def read_oncalls(
    paths: Paths,
    *,
    hasher: Callable[[str], str],
    schedule_map: Mapping[str, str] | None = None,
    identities: Identities | None = None,
    levels: Iterable[int] = (1,),
) -> dict[str, pd.DataFrame]:
    """``oncall`` shifts from on-call exports (persons hashed)."""
    rows, counts = [], {"other escalation level": 0, "on no team": 0}
    schedule_map, levels = schedule_map or {}, set(levels)
    files = expand_paths(paths)
    for path in files:
        for record in load_records(path, wrapper="oncalls"):
            if int(dig(record, "escalation_level")) not in levels:
                counts["other escalation level"] += 1
                continue
            user = str(dig(record, "user.id"))
            start = utc(dig(record, "start"), record, "start")
            end_value = dig(record, "end", required=False)
            end = utc(end_value, record, "end") if end_value else None
            schedule = dig(record, "schedule", required=False) or {}
            person = identities.person(user, "pagerduty") if identities else None
            if _in(schedule, schedule_map):
                teams = [_named(schedule, schedule_map)]
            elif identities is not None and person is not None:
                found = identities.teams_on(pd.DataFrame({"person": [person], "when": [start]}))
                teams = found["team"].tolist()
            else:
                teams = []
            if not teams:
                counts["on no team"] += 1
                continue
            key = hasher(f"person:{person}" if person else f"pagerduty:{user.lower()}")
            rows += [
                {"person_id": key, "team_id": t, "start_date": start, "end_date": end}
                for t in teams
            ]
    none_unusable("pagerduty on-calls", files, len(rows), counts)
    text = ", ".join(f"{n:,} {why}" for why, n in counts.items() if n)
    if counts["on no team"]:
        warnings.warn(
            f"pagerduty on-calls: not counted: {text} (give schedule_map or an identity file)",
            SourceWarning,
            2,
        )
    return {"oncall": frame("oncall", rows)}


def _in(reference: Mapping, mapping: Mapping[str, str]) -> bool:
    return reference.get("id") in mapping or reference.get("summary") in mapping


def _named(reference: Mapping, mapping: Mapping[str, str]) -> str:
    """A PagerDuty team/service/schedule reference as a cts team id."""
    for key in (reference.get("id"), reference.get("summary")):
        if key is not None and key in mapping:
            return mapping[key]
    return str(reference.get("summary") or reference.get("id"))


def _assignee_teams(record: dict, identities: Identities | None, when) -> list[str]:
    if identities is None:
        return []
    for assignment in dig(record, "assignments", required=False) or []:
        person = identities.person(str((assignment.get("assignee") or {}).get("id")), "pagerduty")
        if person is not None:
            found = identities.teams_on(pd.DataFrame({"person": [person], "when": [when]}))
            if len(found):
                return found["team"].tolist()
    return []
