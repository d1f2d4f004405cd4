"""One panel from a mixed organisation's sources, named in a short TOML file.

``cts build-panel --sources sources.toml OUT`` (or :func:`read_sources`) reads every source the
file names, with one person hasher for all of them (so the same person in git, Copilot and
PagerDuty counts once), merges their event tables and builds the panel. Paths are relative to
the TOML file; lists of files accept directories and glob patterns::

    identity = "people.csv"          # optional: roster + handles (cts.sources.identity)
    architecture = "service"         # default "monolith"; or a table team -> architecture
    tolerance = 0.10                 # overlap check, see below
    agents = ["^acme-agent"]         # further coding agents (git authors, GitHub PR authors)

    [git]                            # cts.sources.git.read_git options
    repos = ["repos/payments", "repos/ledger"]
    active_weeks = 12
    codeowners = false
    team_map = { payments = "payments" }
    team_paths = { "services/ledger/" = "ledger" }

    [[github.pull_requests]]         # one entry per export; team = whose CRs they are
    files = ["github/payments-prs.json"]
    team = "payments"

    [[github.deployments]]
    deployments = "github/deployments.json"
    statuses = "github/statuses.json"
    team = "payments"
    environment = "production"

    [copilot]
    users = ["copilot/users-1-day-*.ndjson"]
    user_teams = ["copilot/user-teams-1-day-*.ndjson"]
    seats = []
    team_map = { "payments-devs" = "payments" }

    [pagerduty]
    incidents = ["pagerduty/incidents.json"]
    oncalls = ["pagerduty/oncalls.json"]
    team_map = { "Payments" = "payments" }     # PagerDuty team -> cts team
    service_map = {}
    schedule_map = { "PSCHED1" = "payments" }

    [amazon_q]
    files = ["amazon_q/"]
    [claude_code]
    files = ["claude_code/*.json"]
    members = ["claude/users.json"]          # GET /v1/organizations/users: seats
    member_roles = ["claude_code_user"]      # optional: only these roles hold a seat
    [cursor]
    files = ["cursor/daily-usage.json"]
    members = ["cursor/members-2025-03-31.json"]   # GET /teams/members: seats that day

    [devlake]                        # cts.sources.devlake.read_events options
    url = "postgresql://devlake@db.example.com:5432/lake"   # password: PGPASSWORD / MYSQL_PWD
    project = "web"
    production = "(?i)^prod"         # which deployments are production (default PRODUCTION)
    bots = ["ci-robot"]
    main_branches = ["main", "master"]
    team_map = { "Payments" = "payments" }     # DevLake team name -> cts team
    allow_missing_ai = false

How sources combine:

* **roster**: the identity file when given (declared membership wins), else git's builders,
  else DevLake's (``team_users``, tenure from activity); one of the three is required.
* **code_reviews**: git wins for the teams it covers (its CRs carry ``shipped_at`` from release
  tags); GitHub pull requests fill the teams git does not cover, then DevLake's pull requests.
* **rollbacks** of a team come from the source its code_reviews come from (a revert is a
  merged pull request: counting it in two sources would count it twice).
* **deployments**: GitHub deployments win for the teams they cover (a deployment record is
  what ``deployed_at`` means; a release tag is a proxy); DevLake's deployments fill the teams
  GitHub does not cover, git tags the others.
* Where both sources cover a team, their totals over the weeks both cover are compared, and
  a :class:`SourceWarning` names each team whose counts differ by more than ``tolerance``
  (default 10%) of the larger.
* **ai_usage**: the union of all sources (a person counts once a week however many tools or
  commits show it), each row tagged with its tool; **seats**: Copilot seats, Claude and Cursor
  member lists; **pages**: PagerDuty for the teams it covers, DevLake's incidents for the
  others; **oncall**: PagerDuty.
* **people across sources**: every reader hashes with the one hasher, from ``person:<id>``
  of the identity file when it knows a handle; without one, git hashes authors by e-mail,
  DevLake its users by e-mail (``users.email``, else an account's) or login, Copilot users by
  login and PagerDuty users by id. So DevLake people join git's without an identity file
  when their e-mails agree, and join Copilot and PagerDuty exports through the identity file
  (its ``logins``, ``emails`` and ``vendor_ids``, e.g. ``pagerduty:PXPGF42`` for a DevLake
  account ``pagerduty:PagerDutyUser:1:PXPGF42``).
* AI use or on-call shifts of a person who is not on that team's roster that week are not
  counted (the panel bounds them by ``n_builders``), with a warning and their count.

DevLake team names must be the other sources' team ids (``team_map`` renames them).
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from cts.core.exceptions import SourceWarning
from cts.sources.contract import TABLES, EventError
from cts.sources.records import empty_table, person_hasher, read_text

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = ["SECTIONS", "TOLERANCE", "read_sources"]

#: Sections (and top-level keys) a sources file may have.
SECTIONS = (
    "identity",
    "architecture",
    "tolerance",
    "agents",
    "git",
    "github",
    "copilot",
    "pagerduty",
    "amazon_q",
    "claude_code",
    "cursor",
    "devlake",
)
_OPEN = pd.Timestamp("2200-01-01")  # an open-ended spell, far beyond any panel
#: Default relative tolerance of the overlap check (see the module docstring).
TOLERANCE = 0.10


def read_sources(path: str | os.PathLike[str]) -> dict[str, pd.DataFrame]:
    """Event tables for :func:`cts.build_panel` from the sources named in a TOML file.

    Raises
    ------
    EventError
        An unreadable file, unknown sections or keys, no roster source, or any source's own
        errors (which name the file, record and field).
    """
    path = Path(path)
    if not path.exists() and not path.is_symlink():
        raise EventError(f"sources file {path} does not exist")
    try:
        config = tomllib.loads(read_text(path))
    except tomllib.TOMLDecodeError as error:
        raise EventError(f"{path}: not valid TOML ({error})") from None
    unknown = sorted(set(config) - set(SECTIONS))
    if unknown:
        raise EventError(
            f"{path}: unknown section(s) {', '.join(unknown)}; known: {', '.join(SECTIONS)}"
        )
    base = path.parent
    hasher = person_hasher()
    identities = None
    if "identity" in config:
        from cts.sources.identity import read_identities

        identities = read_identities(base / config["identity"])
    parts: dict[str, dict[str, list[pd.DataFrame]]] = {}

    def add(source: str, tables: Mapping[str, pd.DataFrame]) -> None:
        for name, table in tables.items():
            parts.setdefault(name, {}).setdefault(source, []).append(table)

    agents = config.get("agents", [])
    if not isinstance(agents, list) or not all(isinstance(a, str) for a in agents):
        raise EventError(f"{path}: `agents` must be a list of regular expressions (strings)")
    if "git" in config:
        add("git", _git(config["git"], base, identities, hasher, path, agents))
    if "github" in config:
        for tables in _github(config["github"], base, identities, hasher, path, agents):
            add("github", tables)
    for source in _READERS:
        if source in config:
            for tables in _READERS[source](config[source], base, identities, hasher, path):
                add(source, tables)
    return _combine(parts, identities, hasher, config, path)


def _files(section: Mapping, key: str, base: Path) -> list[Path]:
    value = section.get(key, [])
    value = [value] if isinstance(value, str) else value
    return [base / v for v in value]


def _check_keys(section: Mapping, known: set[str], where: str, path: Path) -> None:
    unknown = sorted(set(section) - known)
    if unknown:
        raise EventError(
            f"{path}: [{where}] has unknown key(s) {', '.join(unknown)}; known: "
            f"{', '.join(sorted(known))}"
        )


def _git(section, base, identities, hasher, path, agents=()):
    from cts.sources.git import read_git

    known = {"repos", "active_weeks", "exclude_bots", "codeowners", "team_map", "team_paths"}
    known |= {"branch", "release_tag", "bots"}
    _check_keys(section, known, "git", path)
    options = {k: v for k, v in section.items() if k != "repos"}
    repos = _files(section, "repos", base)
    if not repos:
        raise EventError(f"{path}: [git] names no repos")
    if agents:
        options["agents"] = agents
    return read_git(repos, identities=identities, hasher=hasher, **options).tables


def _github(section, base, identities, hasher, path, agents=()):
    from cts.sources.github import read_deployments, read_pull_requests

    _check_keys(section, {"pull_requests", "deployments"}, "github", path)
    for entry in section.get("pull_requests", []):
        _check_keys(entry, {"files", "team", "base"}, "github.pull_requests", path)
        yield read_pull_requests(
            _files(entry, "files", base),
            team=entry["team"],
            base=entry.get("base"),
            agents=agents,
            identities=identities,
            hasher=hasher,
        )
    for entry in section.get("deployments", []):
        known = {"deployments", "statuses", "team", "environment"}
        _check_keys(entry, known, "github.deployments", path)
        yield read_deployments(
            _files(entry, "deployments", base),
            _files(entry, "statuses", base),
            team=entry["team"],
            environment=entry.get("environment", "production"),
        )


def _copilot(section, base, identities, hasher, path):
    from cts.sources.copilot import read_seats, read_usage

    _check_keys(section, {"users", "user_teams", "seats", "team_map"}, "copilot", path)
    team_map = section.get("team_map")
    if section.get("users"):
        yield read_usage(
            _files(section, "users", base),
            user_teams=_files(section, "user_teams", base),
            identities=identities,
            team_map=team_map,
            hasher=hasher,
        )
    if section.get("seats"):
        yield read_seats(
            _files(section, "seats", base), identities=identities, team_map=team_map, hasher=hasher
        )


def _pagerduty(section, base, identities, hasher, path):
    from cts.sources.pagerduty import read_incidents, read_oncalls

    known = {"incidents", "oncalls", "team_map", "service_map", "schedule_map", "levels"}
    _check_keys(section, known, "pagerduty", path)
    if section.get("incidents"):
        yield read_incidents(
            _files(section, "incidents", base),
            team_map=section.get("team_map"),
            service_map=section.get("service_map"),
            identities=identities,
        )
    if section.get("oncalls"):
        yield read_oncalls(
            _files(section, "oncalls", base),
            hasher=hasher,
            schedule_map=section.get("schedule_map"),
            identities=identities,
            levels=section.get("levels", (1,)),
        )


_MEMBER_KEYS = {"claude_code": {"members", "member_roles"}, "cursor": {"members", "members_as_of"}}


def _usage_reader(name: str):
    def read(section, base, identities, hasher, path):
        from cts.sources import ai_usage, seats

        _check_keys(section, {"files"} | _MEMBER_KEYS.get(name, set()), name, path)
        if identities is None:
            raise EventError(
                f"{path}: [{name}] needs an identity file (`identity = ...`): its export names "
                "no team, so users are joined to teams through it"
            )
        if section.get("files"):
            reader = getattr(ai_usage, f"read_{name}")
            yield reader(_files(section, "files", base), identities=identities, hasher=hasher)
        if section.get("members"):
            members = _files(section, "members", base)
            if name == "claude_code":
                roles = section.get("member_roles")
                yield seats.read_claude_members(
                    members, identities=identities, hasher=hasher, roles=roles
                )
            else:
                as_of = section.get("members_as_of")
                yield seats.read_cursor_members(
                    members, identities=identities, hasher=hasher, as_of=as_of
                )

    return read


def _devlake(section, base, identities, hasher, path):
    from cts.sources.devlake import read_events

    known = {"url", "project", "production", "bots", "main_branches", "team_map"}
    _check_keys(section, known | {"allow_missing_ai"}, "devlake", path)
    if not section.get("url"):
        raise EventError(
            f"{path}: [devlake] needs `url` (e.g. postgresql://devlake@host:5432/lake; the "
            "password comes from PGPASSWORD or MYSQL_PWD)"
        )
    options = {k: v for k, v in section.items() if k != "url"}
    yield read_events(section["url"], identities=identities, hasher=hasher, **options)


_READERS = {
    "copilot": _copilot,
    "pagerduty": _pagerduty,
    "amazon_q": _usage_reader("amazon_q"),
    "claude_code": _usage_reader("claude_code"),
    "cursor": _usage_reader("cursor"),
    "devlake": _devlake,
}
#: Which source's table wins for the teams it covers, first to last (see the module docstring).
_ORDER = {
    "code_reviews": ("git", "github", "devlake"),
    "deployments": ("github", "devlake", "git"),
    "pages": ("pagerduty", "devlake"),
}


def _combine(parts, identities, hasher, config, path) -> dict[str, pd.DataFrame]:
    tolerance = float(config.get("tolerance", TOLERANCE))
    tables: dict[str, pd.DataFrame] = {}
    rosters = parts.get("roster", {})
    if identities is not None:
        tables["roster"] = identities.roster(hasher)
    elif "git" in rosters or "devlake" in rosters:
        tables["roster"] = pd.concat(rosters.get("git", rosters.get("devlake")), ignore_index=True)
    else:
        raise EventError(
            f"{path}: no roster: name an identity file (`identity = ...`), [git] repositories "
            "or a [devlake] database"
        )
    owners: dict[str, str] = {}
    for name, time in (("code_reviews", "merged_at"), ("deployments", "deployed_at")):
        tables[name], chosen = _prefer(parts, name, time, _ORDER[name], tolerance)
        owners = chosen if name == "code_reviews" else owners
    tables["pages"], _ = _prefer(parts, "pages", "paged_at", _ORDER["pages"], tolerance)
    tables["rollbacks"] = _owned(parts, "rollbacks", owners)
    for name in ("interventions", "oncall", "ai_usage"):
        frames = [f for source in parts.get(name, {}).values() for f in source if len(f)]
        tables[name] = pd.concat(frames, ignore_index=True) if frames else empty_table(name)
    tables["ai_usage"] = _on_roster(tables["ai_usage"], tables["roster"], "used_at", "AI use")
    tables["oncall"] = _shifts_on_roster(tables["oncall"], tables["roster"])
    seats = [f for source in parts.get("seats", {}).values() for f in source if len(f)]
    if seats:  # no seat list read: no `ai_seats_<tool>` columns (unknown, not zero)
        seats = pd.concat(seats, ignore_index=True)
        tables["seats"] = _shifts_on_roster(seats, tables["roster"], "seats")
    teams = sorted(tables["roster"]["team_id"].unique())
    architecture = config.get("architecture", "monolith")
    kinds = architecture if isinstance(architecture, Mapping) else {}
    default = architecture if isinstance(architecture, str) else "monolith"
    tables["teams"] = pd.DataFrame(
        {"team_id": teams, "architecture": [kinds.get(t, default) for t in teams]}
    )
    return {name: tables[name] for name in TABLES if name in tables}


def _prefer(parts, name: str, time: str, order, tolerance: float):
    """``name`` of each team from the first source in ``order`` that covers it, and the
    team -> source chosen; warn where a later source also covers a team and disagrees by more
    than ``tolerance``."""
    by_source = {
        source: pd.concat(frames, ignore_index=True)
        for source, frames in parts.get(name, {}).items()
        if any(len(f) for f in frames)
    }
    if not by_source:
        return empty_table(name), {}
    ranked = [s for s in order if s in by_source] + [s for s in by_source if s not in order]
    chosen: list[pd.DataFrame] = []
    owners: dict[str, str] = {}
    for source in ranked:
        table = by_source[source]
        for team in sorted(set(owners) & set(table["team_id"])):
            winner = owners[team]
            _compare(name, time, team, winner, by_source[winner], source, table, tolerance)
        chosen.append(table.loc[~table["team_id"].isin(owners)])
        owners.update({t: source for t in table["team_id"].unique() if t not in owners})
    return pd.concat(chosen, ignore_index=True), owners


def _owned(parts, name: str, owners: Mapping[str, str]) -> pd.DataFrame:
    """``name`` of each team from the source that ``owners`` names for it (any source for a
    team no source owns)."""
    frames = [
        frame.loc[[owners.get(t, source) == source for t in frame["team_id"]]]
        for source, tables in parts.get(name, {}).items()
        for frame in tables
        if len(frame)
    ]
    return pd.concat(frames, ignore_index=True) if frames else empty_table(name)


def _compare(name, time, team, winner, first, source, other, tolerance) -> None:
    def weeks(table: pd.DataFrame) -> pd.Series:
        day = table.loc[table["team_id"] == team, time].dropna().dt.normalize()
        return day - pd.to_timedelta(day.dt.day_of_week, unit="D")

    a, b = weeks(first), weeks(other)  # compared over the whole weeks both cover
    start, end = max(a.min(), b.min()), min(a.max(), b.max())
    if pd.isna(start) or pd.isna(end) or start > end:
        return
    n_a, n_b = int(a.between(start, end).sum()), int(b.between(start, end).sum())
    if abs(n_a - n_b) > tolerance * max(n_a, n_b):
        warnings.warn(
            f"{name} of team {team!r}: {winner} has {n_a:,} and {source} {n_b:,} in the weeks "
            f"of {start:%Y-%m-%d} to {end:%Y-%m-%d}, more than {tolerance:.0%} apart; "
            f"{winner}'s are used",
            SourceWarning,
            4,
        )


def _weeks(roster: pd.DataFrame) -> pd.DataFrame:
    """Roster spells widened to whole weeks (the panel counts anyone on it any day of a week)."""
    start = roster["start_date"].dt.normalize()
    end = roster["end_date"].dt.normalize().fillna(_OPEN)
    return pd.DataFrame(
        {
            "person_id": roster["person_id"],
            "team_id": roster["team_id"],
            "from": start - pd.to_timedelta(start.dt.day_of_week, unit="D"),
            "to": end + pd.to_timedelta(6 - end.dt.day_of_week, unit="D"),
        }
    )


def _on_roster(events: pd.DataFrame, roster: pd.DataFrame, time: str, what: str):
    if events.empty:
        return events
    spells = _weeks(roster)
    keyed = events.reset_index(drop=True).reset_index(names="_row")
    joined = keyed.merge(spells, on=["person_id", "team_id"])
    day = pd.Timedelta(days=1)
    inside = joined.loc[(joined[time] >= joined["from"]) & (joined[time] < joined["to"] + day)]
    kept = keyed["_row"].isin(inside["_row"])
    if (~kept).any():
        warnings.warn(
            f"{what}: {int((~kept).sum()):,} record(s) of persons not on that team's roster "
            "that week: not counted (the panel bounds them by n_builders); add them to the "
            "identity file if they belong to the team",
            SourceWarning,
            3,
        )
    return keyed.loc[kept].drop(columns="_row").reset_index(drop=True)


def _shifts_on_roster(
    oncall: pd.DataFrame, roster: pd.DataFrame, what: str = "on-call"
) -> pd.DataFrame:
    """On-call shifts (or seats) clipped to the weeks their person is on the team's roster."""
    if oncall.empty:
        return oncall
    keyed = oncall.reset_index(drop=True).reset_index(names="_row")
    joined = keyed.merge(_weeks(roster), on=["person_id", "team_id"])
    end = joined["end_date"].fillna(_OPEN)
    start = joined[["start_date", "from"]].max(axis=1)
    stop = pd.concat([end, joined["to"] + pd.Timedelta(days=1)], axis=1).min(axis=1)
    stop = stop.where(stop < _OPEN)  # still on call, still on the team: open-ended
    joined = joined.assign(start_date=start, end_date=stop).loc[stop.isna() | (start <= stop)]
    lost = int((~keyed["_row"].isin(joined["_row"])).sum())
    if lost:
        held = "on call" if what == "on-call" else "holding it"
        warnings.warn(
            f"{what}: {lost:,} {'shift' if what == 'on-call' else 'seat'}(s) of persons never "
            f"on that team's roster while {held}: not counted",
            SourceWarning,
            3,
        )
    columns: list[Any] = ["person_id", "team_id", "start_date", "end_date"]
    columns += [c for c in oncall.columns if c not in columns]  # a seat's `tool`
    return joined[columns].astype({"start_date": "datetime64[s]", "end_date": "datetime64[s]"})
