"""The identity (roster) file that joins one person's handles across sources.

One CSV, one row per person and team spell::

    person,team,from,to,logins,emails,vendor_ids
    P-0042,payments,2024-01-01,,alice-gh,alice@corp.example;alice@gmail.example,pagerduty:PXPGF42;amazon_q:9a1b-...

* ``person``: any stable key (an employee number is best); it is hashed, never written.
* ``team``, ``from`` (first day on the team), ``to`` (last day; empty: still there). A person
  who changes team has one row per spell, all with the same ``person``.
* ``logins`` (GitHub logins), ``emails`` (git and vendor e-mail addresses) and ``vendor_ids``
  (``vendor:id`` pairs, e.g. ``pagerduty:PXPGF42``, ``amazon_q:<IAM Identity Center user id>``,
  ``copilot:<GitHub user id>``): ``;``-separated, any case. Every handle names one person.

With an identity file the roster is this file (declared membership wins over any inferred
one), and every source's events are joined to a person through it: git authors by e-mail (after
``.mailmap``) or GitHub no-reply login, Copilot users by login or id, PagerDuty users by id,
Claude Code and Cursor users by e-mail, Amazon Q users by id.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass, field

import pandas as pd

from cts.core.exceptions import EventError
from cts.sources.records import csv_header, date_range, read_text

__all__ = ["COLUMNS", "Identities", "read_identities"]

COLUMNS = ("person", "team", "from", "to", "logins", "emails", "vendor_ids")
_REQUIRED = ("person", "team", "from")


@dataclass
class Identities:
    """Handles -> person, and each person's dated team memberships."""

    handles: dict[str, str] = field(default_factory=dict)  # "email:..", "login:..", "vendor:id"
    memberships: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=["person", "team", "start", "end"])
    )

    def person(self, handle: str, kind: str) -> str | None:
        """The person of a handle (``kind``: ``email``, ``login`` or a vendor name), if known."""
        if not handle:
            return None
        return self.handles.get(f"{kind}:{str(handle).strip().lower()}")

    def teams_on(self, events: pd.DataFrame) -> pd.DataFrame:
        """``events`` (columns ``person``, ``when``, ...) joined to the team(s) each person is
        on that day: one row per (event, team), column ``team``; events of persons on no team
        that day are absent (callers count them)."""
        if events.empty:
            return events.assign(team=pd.Series([], dtype=object))
        joined = events.reset_index(names="_event").merge(self.memberships, on="person")
        day = joined["when"].dt.normalize()
        on = (day >= joined["start"]) & (joined["end"].isna() | (day <= joined["end"]))
        return joined.loc[on].drop(columns=["start", "end"]).set_index("_event")

    def roster(self, hasher) -> pd.DataFrame:
        """The ``roster`` event table (persons hashed with ``hasher``)."""
        m = self.memberships
        return pd.DataFrame(
            {
                "person_id": m["person"].map(lambda p: hasher(f"person:{p}")),
                "team_id": m["team"],
                "start_date": m["start"].astype("datetime64[s]"),
                "end_date": m["end"].astype("datetime64[s]"),
            }
        )


def read_identities(path: str | os.PathLike[str]) -> Identities:
    """Read and check an identity file (see the module docstring).

    Raises
    ------
    EventError
        Missing columns, empty required fields, dates that do not parse, ``to`` before
        ``from``, or a handle given to two persons; each problem names the file, the row (as
        numbered by a spreadsheet: the header is row 1) and the field.
    """
    text = read_text(path)
    header = [name.lower() for name in csv_header(path, text)]
    if not text.strip():
        raise EventError(f"identity file {path} is empty: expected the header {','.join(COLUMNS)}")
    missing = [c for c in _REQUIRED if c not in header]
    if missing:
        raise EventError(
            f"{path}: identity file lacks column(s) {', '.join(missing)} "
            f"(expected {', '.join(COLUMNS)}; it has {', '.join(header)})"
        )
    if len(set(header)) < len(header):  # `Team` and `team`: one column after lower-casing
        twice = sorted({name for name in header if header.count(name) > 1})
        raise EventError(f"{path}, line 1: column(s) {', '.join(twice)} appear more than once")
    table = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    table.columns = header
    if table.empty:
        raise EventError(f"identity file {path} holds only a header: no person is on any team")
    for column in COLUMNS:
        if column not in table.columns:
            table[column] = ""
    problems: list[str] = []
    handles: dict[str, str] = {}
    rows = []
    for row_number, (_, row) in enumerate(table.iterrows(), start=2):  # the header is row 1
        where = f"{path}, row {row_number}"
        person, team = row["person"].strip(), row["team"].strip()
        for name, value in (("person", person), ("team", team), ("from", row["from"].strip())):
            if not value:
                problems.append(f"{where}: field `{name}` is empty")
        start, end = (
            _day(row["from"], where, "from", problems),
            _day(row["to"], where, "to", problems),
        )
        if start is not None and end is not None and end < start:
            problems.append(f"{where}: field `to` {row['to']!r} is before `from` {row['from']!r}")
        for kind, value in _handles(row, where, problems):
            owner = handles.setdefault(f"{kind}:{value}", person)
            if owner != person:
                column = f"{kind}s" if kind in ("email", "login") else "vendor_ids"
                problems.append(
                    f"{where}: field `{column}` gives a handle of another row's person to this one"
                )
        rows.append({"person": person, "team": team, "start": start, "end": end})
    if problems:
        raise EventError(problems)
    memberships = pd.DataFrame(rows)
    memberships["start"] = pd.to_datetime(memberships["start"])
    memberships["end"] = pd.to_datetime(memberships["end"])
    for person in memberships["person"]:
        handles.setdefault(f"person:{person.lower()}", person)
    return Identities(handles=handles, memberships=memberships)


def _day(value: str, where: str, name: str, problems: list[str]) -> pd.Timestamp | None:
    value = value.strip()
    if not value:
        return None
    try:
        stamp = pd.Timestamp(value)
    except ValueError:
        problems.append(f"{where}: field `{name}` {value!r} does not parse as a date")
        return None
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    first, last = date_range()
    if not first <= stamp <= last:
        problems.append(
            f"{where}: field `{name}` {value!r} is before 2000 or more than a week from today"
            + (" (leave `to` empty for a person still on the team)" if name == "to" else "")
        )
        return None
    return stamp.normalize()


def _handles(row: pd.Series, where: str, problems: list[str]):
    for kind, column in (("login", "logins"), ("email", "emails")):
        for value in _split(row[column]):
            yield kind, value
    for pair in _split(row["vendor_ids"]):
        vendor, sep, ident = pair.partition(":")
        if not sep or not vendor or not ident:
            problems.append(f"{where}: field `vendor_ids` {pair!r} is not `vendor:id`")
            continue
        yield vendor.strip(), ident.strip()


def _split(cell: str) -> list[str]:
    return [part.strip().lower() for part in str(cell).split(";") if part.strip()]
