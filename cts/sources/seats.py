"""AI-tool seats (licences) from vendors' seat and member lists (-> the ``seats`` table).

A seat list is a snapshot: who holds a seat on the day it was taken, with the day each seat
was granted where the vendor records it. Each reader turns one vendor's list into seat spells
(person, tool, first day, last day or open) and :func:`seat_table` places them on teams.

* **GitHub Copilot** (``GET /orgs/{org}/copilot/billing/seats``): ``seats[].created_at`` (when
  the assignee was last granted access) to ``pending_cancellation_date`` (empty: still held),
  the team from ``assigning_team.slug`` or the identity file (:mod:`cts.sources.copilot`).
* **Claude** (``GET /v1/organizations/users``,
  https://platform.claude.com/docs/en/api/admin/users/list): ``data[]`` with ``email``,
  ``added_at`` and ``role``; a member holds a seat from ``added_at`` on (``roles=`` keeps only
  some roles, e.g. ``["claude_code_user"]`` in a Console organization).
* **Cursor** (``GET /teams/members``, https://cursor.com/docs/account/teams/admin-api):
  ``teamMembers[]`` with ``email``, ``role`` and ``isRemoved``; it records no dates, so a member
  not removed holds a seat on the day of the list only: ``as_of``, or the ``YYYY-MM-DD`` date in
  the file name (``cursor-members-2025-03-31.json``). Export it weekly for a weekly series.

Seats of persons the identity file does not know, or who are on no team while they hold the
seat, are counted in a warning, not used. A seat list only names the seats held when it was
taken: seats given up before then are not in it, so earlier weeks' counts are lower bounds
unless older lists are read too.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import pandas as pd

from cts.core.exceptions import EventError, SourceWarning
from cts.sources.identity import Identities
from cts.sources.records import dig, expand_paths, load_records, none_unusable, utc

__all__ = ["read_claude_members", "read_cursor_members", "seat_table"]

Paths = str | os.PathLike[str] | Iterable[str | os.PathLike[str]]
_DATE_IN_NAME = re.compile(r"(\d{4}-\d{2}-\d{2})")
_COLUMNS = ["person_id", "team_id", "tool", "start_date", "end_date"]


def seat_table(
    spells: Sequence[tuple[str | None, str | None, str, pd.Timestamp, pd.Timestamp | None]],
    *,
    tool: str,
    identities: Identities | None,
    what: str,
    files: Iterable[Path] = (),
) -> pd.DataFrame:
    """The ``seats`` table from ``(person_id, person, team, first day, last day)`` spells
    (``person_id`` hashed, ``None``: an unknown user; ``person`` the identity file's): a spell
    with a team (from the vendor) is kept as it is; one without is split over the person's
    identity spells it overlaps."""
    rows, unknown, off_team = [], 0, 0
    for key, person, team, start, end in spells:
        if key is None:
            unknown += 1
            continue
        if team:
            rows.append([key, team, tool, start, end])
            continue
        placed = _on_teams(identities, person, start, end)
        off_team += not placed
        rows += [[key, t, tool, s, e] for t, s, e in placed]
    counts = {"seats of unknown users": unknown, "seats held while on no team": off_team}
    none_unusable(what, files, len(rows), counts)  # all left out: refused, never read as zero
    if any(counts.values()):
        text = ", ".join(f"{n:,} {why}" for why, n in counts.items() if n)
        warnings.warn(
            f"{what}: not counted: {text} (add them to the identity file)", SourceWarning, 3
        )
    table = pd.DataFrame(rows, columns=_COLUMNS)
    return table.astype({"start_date": "datetime64[s]", "end_date": "datetime64[s]"})


def _on_teams(
    identities: Identities | None, person: str | None, start: pd.Timestamp, end: pd.Timestamp | None
) -> list[tuple[str, pd.Timestamp, pd.Timestamp | None]]:
    if identities is None:
        return []
    spells = identities.memberships.loc[identities.memberships["person"] == person]
    placed = []
    for team, first, last in zip(spells["team"], spells["start"], spells["end"], strict=True):
        lo = max(start, first)
        ends = [x for x in (end, last) if not pd.isna(x)]
        hi = min(ends) if ends else None
        if hi is None or lo <= hi:
            placed.append((team, lo, hi))
    return placed


def read_claude_members(
    paths: Paths,
    *,
    identities: Identities,
    hasher: Callable[[str], str],
    roles: Iterable[str] | None = None,
) -> dict[str, pd.DataFrame]:
    """``seats`` (tool ``claude_code``) from ``GET /v1/organizations/users`` pages."""
    wanted = None if roles is None else set(roles)
    spells = []
    files = expand_paths(paths)
    for path in files:
        for record in load_records(path, wrapper="data"):
            if wanted is not None and dig(record, "role") not in wanted:
                continue
            email = str(dig(record, "email"))
            added = utc(dig(record, "added_at"), record, "added_at").normalize()
            spells.append((*_known(identities, email, hasher), "", added, None))
    table = seat_table(
        spells, tool="claude_code", identities=identities, what="claude members", files=files
    )
    return {"seats": table}


def read_cursor_members(
    paths: Paths,
    *,
    identities: Identities,
    hasher: Callable[[str], str],
    as_of: str | None = None,
) -> dict[str, pd.DataFrame]:
    """``seats`` (tool ``cursor``) from ``GET /teams/members`` responses: members not removed
    hold a seat on the list's day (``as_of`` or the date in the file name)."""
    spells = []
    files = expand_paths(paths)
    for path in files:
        day = _snapshot_day(path, as_of)
        for record in load_records(path, wrapper="teamMembers"):
            if dig(record, "isRemoved", required=False):
                continue
            email = str(dig(record, "email"))
            spells.append((*_known(identities, email, hasher), "", day, day))
    table = seat_table(
        spells, tool="cursor", identities=identities, what="cursor members", files=files
    )
    return {"seats": table}


def _known(identities: Identities, email: str, hasher) -> tuple[str | None, str | None]:
    person = identities.person(email, "email")
    return (None, None) if person is None else (hasher(f"person:{person}"), person)


def _snapshot_day(path: Path, as_of: str | None) -> pd.Timestamp:
    found = _DATE_IN_NAME.search(path.name)
    text = as_of or (found.group(1) if found else None)
    if text is None:
        raise EventError(
            f"{path}: a Cursor member list records no dates: name the day it was taken in the "
            "file name (cursor-members-2025-03-31.json) or as `members_as_of`"
        )
    try:
        return pd.Timestamp(text).normalize()
    except ValueError:
        raise EventError(f"{path}: {text!r} is not a date (YYYY-MM-DD)") from None
