"""AI-assistant usage exports (-> ``ai_usage``): Amazon Q Developer, Claude Code, Cursor.

A person is AI-active on a day with any use that day (the panel counts the distinct persons
active in each week). None of these exports names a team, so each user is joined through the
identity file (:mod:`cts.sources.identity`) to their team that day; users it does not know, or
who are on no team that day, are counted in a warning, not used.

* **Amazon Q Developer** user activity report
  (https://docs.aws.amazon.com/amazonq/latest/qdeveloper-ug/q-admin-user-telemetry.html,
  metrics: .../user-activity-metrics.html): the daily ``by_user_analytic`` CSV, one row per
  user who used Amazon Q that day. Fields used: ``UserId`` (the IAM Identity Center user id:
  ``amazon_q:<UserId>`` in the identity file), ``Date``, and the metric columns
  (``Chat_MessagesSent``, ``Inline_SuggestionsCount``, ``Inline_AcceptanceCount``, ...):
  active if any is positive.
* **Claude Code** usage report (``GET /v1/organizations/usage_report/claude_code``,
  https://platform.claude.com/docs/en/api/admin/usage_report/retrieve_claude_code): JSON pages
  ``{"data": [...]}``. Fields used: ``date``, ``actor.type`` (``user_actor``; ``api_actor``
  records are API keys, not persons, and are counted), ``actor.email_address``,
  ``core_metrics.num_sessions``, ``core_metrics.commits_by_claude_code``,
  ``core_metrics.pull_requests_by_claude_code``: active if any is positive.
* **Cursor** daily usage (``POST /teams/daily-usage-data``,
  https://docs.cursor.com/account/teams/admin-api): JSON ``{"data": [...]}``. Fields used:
  ``date`` (epoch milliseconds), ``email``, ``isActive``; also ``agentRequests``,
  ``acceptedLinesAdded`` (active if ``isActive`` or either is positive).

Each reader tags its use with its ``tool`` (``q``, ``claude_code``, ``cursor``), which gives
``ai_active_builders_<tool>``. Seats come from the vendors' member lists
(:mod:`cts.sources.seats`).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterable

import pandas as pd

from cts.core.exceptions import EventError, SourceWarning
from cts.sources.identity import Identities
from cts.sources.records import (
    dig,
    expand_paths,
    frame,
    in_range,
    load_records,
    none_unusable,
    utc,
)

__all__ = ["read_amazon_q", "read_claude_code", "read_cursor"]

Paths = str | os.PathLike[str] | Iterable[str | os.PathLike[str]]
_Q_NOT_METRICS = {"userid", "date"}


def read_amazon_q(
    paths: Paths, *, identities: Identities, hasher: Callable[[str], str]
) -> dict[str, pd.DataFrame]:
    """``ai_usage`` from Amazon Q Developer ``by_user_analytic`` CSV reports."""
    uses, files = [], expand_paths(paths)
    for path in files:
        for record in load_records(path):
            user = str(dig(record, "UserId"))
            day = _q_day(dig(record, "Date"), record)
            metrics = [
                k for k in record if not k.startswith("_") and k.lower() not in _Q_NOT_METRICS
            ]
            if not metrics:
                raise EventError(
                    f"{path}: no metric columns besides UserId and Date: not a by_user_analytic "
                    "report"
                )
            active = any(_number(record[k]) > 0 for k in metrics)
            uses.append((user, "amazon_q", day, active))
    return _usage("amazon q", uses, identities, hasher, files, tool="q")


def read_claude_code(
    paths: Paths, *, identities: Identities, hasher: Callable[[str], str]
) -> dict[str, pd.DataFrame]:
    """``ai_usage`` from Claude Code usage-report pages."""
    uses, api_keys, files = [], 0, expand_paths(paths)
    for path in files:
        for record in load_records(path, wrapper="data"):
            if dig(record, "actor.type") != "user_actor":
                api_keys += 1
                continue
            email = str(dig(record, "actor.email_address"))
            day = utc(dig(record, "date"), record, "date").normalize()
            metrics = (
                "core_metrics.num_sessions",
                "core_metrics.commits_by_claude_code",
                "core_metrics.pull_requests_by_claude_code",
            )
            active = any(_number(dig(record, m, required=False)) > 0 for m in metrics)
            uses.append((email, "email", day, active))
    if api_keys:
        warnings.warn(
            f"claude code: {api_keys:,} record(s) of API keys (api_actor), not persons: not "
            "counted",
            SourceWarning,
            2,
        )
    none_unusable("claude code", files, len(uses), {"record(s) of API keys": api_keys})
    return _usage("claude code", uses, identities, hasher, files, tool="claude_code")


def read_cursor(
    paths: Paths, *, identities: Identities, hasher: Callable[[str], str]
) -> dict[str, pd.DataFrame]:
    """``ai_usage`` from Cursor daily-usage-data responses."""
    uses, files = [], expand_paths(paths)
    for path in files:
        for record in load_records(path, wrapper="data"):
            email = str(dig(record, "email"))
            day = utc(dig(record, "date"), record, "date", unit="ms").normalize()
            active = bool(dig(record, "isActive")) or any(
                _number(record.get(k)) > 0 for k in ("agentRequests", "acceptedLinesAdded")
            )
            uses.append((email, "email", day, active))
    return _usage("cursor", uses, identities, hasher, files, tool="cursor")


def _q_day(value, record) -> pd.Timestamp:
    """Amazon Q dates: ISO (``2025-04-14``) or US month-first (``04-14-2025``)."""
    for form in ("%Y-%m-%d", "%m-%d-%Y", "%m/%d/%Y"):
        try:
            return in_range(pd.to_datetime(str(value).strip()[:10], format=form), record, "Date")
        except ValueError as error:
            if isinstance(error, EventError):
                raise
            continue
    return utc(value, record, "Date").normalize()


def _number(value) -> float:
    if value is None or value == "":
        return 0.0
    if isinstance(value, bool):
        return float(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def _usage(
    what: str, uses, identities: Identities, hasher, files, *, tool: str
) -> dict[str, pd.DataFrame]:
    counts = {"inactive user-days": 0, "unknown users": 0, "user-days on no team": 0}
    unknown: set[str] = set()
    events = []
    for handle, kind, day, active in uses:
        if not active:
            counts["inactive user-days"] += 1
            continue
        person = identities.person(handle, kind)
        if person is None:
            unknown.add(handle.lower())
            continue
        events.append({"person": person, "when": day})
    counts["unknown users"] = len(unknown)
    joined = identities.teams_on(pd.DataFrame(events, columns=["person", "when"]))
    counts["user-days on no team"] = len(events) - joined.index.nunique()
    rows = [
        {"person_id": hasher(f"person:{p}"), "team_id": t, "used_at": w, "tool": tool}
        for p, t, w in zip(joined["person"], joined["team"], joined["when"], strict=True)
    ]
    none_unusable(what, files, len(rows), counts | {"inactive user-days": 0})
    text = ", ".join(f"{n:,} {why}" for why, n in counts.items() if n)
    if counts["unknown users"] or counts["user-days on no team"]:
        warnings.warn(
            f"{what}: not counted: {text} (add them to the identity file)", SourceWarning, 3
        )
    return {"ai_usage": frame("ai_usage", rows)}
