"""GitHub exports: pull requests (-> ``code_reviews``) and deployments (-> ``deployments``).

Pull requests, as written by the GitHub CLI
(https://cli.github.com/manual/gh_pr_list, JSON fields as in ``gh pr list --json``)::

    gh pr list --state merged --limit 100000 \\
        --json number,author,mergedAt,baseRefName,headRefName,title,labels > prs.json

(add ``additions,deletions,mergedBy`` to ``--json`` for CR size and agents' humans). Fields
used: ``mergedAt`` (ISO 8601; ``null`` for unmerged PRs, which are skipped and counted),
``author.login`` and ``author.is_bot`` (bots' PRs are not CRs, as in the git reader:
:data:`cts.sources.git.BOTS`), ``baseRefName`` (only PRs into ``base`` when given),
``additions`` and ``deletions`` (-> ``lines_changed``; a PR without them has an unknown size),
``mergedBy.login``. REST pull objects (``GET /repos/{owner}/{repo}/pulls/{number}``) are read
too: ``merged_at``, ``user.login``, ``user.type``, ``base.ref``, ``additions``, ``deletions``,
``merged_by.login``.

A PR authored by a coding agent is a CR and an agent's CR (``is_agent`` -> ``agent_crs``):
its author, without gh's ``app/`` prefix, matches :data:`cts.sources.git.AGENT_AUTHORS`
(``app/copilot-swe-agent`` in gh, ``Copilot`` in REST; ``app/devin-ai-integration``,
``app/claude``, ``app/chatgpt-codex-connector``, ``app/google-labs-jules``, or their
``...[bot]`` REST logins) or ``agents`` (further regular expressions). It is never a bot's PR.
With an identity file, the human who merged it (``mergedBy``) is AI-active that week with the
agent's tool; the roster (``n_builders``) is never taken from this export.

Deployments, from the REST API (https://docs.github.com/en/rest/deployments/deployments and
.../deployments/statuses)::

    gh api --paginate repos/OWNER/REPO/deployments > deployments.json
    for id in $(jq '.[].id' deployments.json); do
        gh api repos/OWNER/REPO/deployments/$id/statuses; done | jq -s add > statuses.json

Fields used: deployments' ``id`` and ``environment``; statuses' ``deployment_url`` (ends in the
deployment's id), ``state`` and ``created_at``. A deployment counts once, at its first
``success`` status; deployments that never succeeded are counted in a warning.

Neither export names persons beyond the PR author, so the roster comes from git or an identity
file; every event lands on the ``team`` the caller names for the export.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Callable, Iterable

import pandas as pd

from cts.core.exceptions import EventError, SourceWarning
from cts.sources.git import AGENT_AUTHORS, AGENT_TOOLS, BOTS
from cts.sources.identity import Identities
from cts.sources.records import dig, expand_paths, frame, load_records, none_unusable, utc

__all__ = ["read_deployments", "read_pull_requests"]

_BOT = re.compile("|".join(f"(?:{p})" for p in BOTS), re.IGNORECASE)
#: gh CLI fields and their REST pull-object names.
_REST = {
    "mergedAt": "merged_at",
    "author.login": "user.login",
    "baseRefName": "base.ref",
    "mergedBy.login": "merged_by.login",
}


def read_pull_requests(
    paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    *,
    team: str,
    base: str | None = None,
    exclude_bots: bool = True,
    agents: Iterable[str] = (),
    identities: Identities | None = None,
    hasher: Callable[[str], str] | None = None,
) -> dict[str, pd.DataFrame]:
    """``code_reviews`` of team ``team`` from ``gh pr list --json ...`` exports (or REST pull
    objects), and ``ai_usage`` of the humans who merged agents' PRs (with ``identities``).

    Raises
    ------
    EventError
        A record without ``mergedAt``/``author`` (not a ``gh pr list`` export), or a time that
        does not parse; the message names file, record and field.
    """
    extra = [(p, "other") for p in agents]
    patterns = [(p, AGENT_TOOLS.get(a, "other")) for a, p in AGENT_AUTHORS.items()] + extra
    rows, uses = [], []
    skipped = {"not merged": 0, "bot author": 0, "other base branch": 0}
    skipped |= {"agents' PRs merged by someone unknown": 0}
    files = expand_paths(paths)
    for path in files:
        for record in load_records(path):
            fields = _fields(record)
            merged = dig(record, fields["mergedAt"])
            if not merged:
                skipped["not merged"] += 1
                continue
            if base is not None and dig(record, fields["baseRefName"]) != base:
                skipped["other base branch"] += 1
                continue
            login = str(dig(record, fields["author.login"], required=False) or "")
            tool = _agent_tool(login, patterns)
            if tool is None and exclude_bots and (_is_bot(record) or _BOT.search(login)):
                skipped["bot author"] += 1
                continue
            when = utc(merged, record, fields["mergedAt"])
            rows.append({"team_id": team, "merged_at": when, "is_agent": tool is not None})
            rows[-1] |= {k: _lines(record, k) for k in ("additions", "deletions")}
            if tool is not None and identities is not None and hasher is not None:
                merger = dig(record, fields["mergedBy.login"], required=False)
                person = identities.person(str(merger or ""), "login")
                if person is None:
                    skipped["agents' PRs merged by someone unknown"] += 1
                    continue
                key = hasher(f"person:{person}")
                uses.append({"person_id": key, "team_id": team, "used_at": when, "tool": tool})
    none_unusable(f"github pull requests of team {team!r}", files, len(rows), skipped)
    _report("github pull requests", team, skipped)
    crs = frame("code_reviews", rows)
    if rows:  # a PR of unknown size stays unknown (NULL), never 0 lines
        crs[["additions", "deletions"]] = crs[["additions", "deletions"]].astype("Int64")
    tables = {"code_reviews": crs}
    if uses:
        tables["ai_usage"] = frame("ai_usage", uses)
    return tables


def _fields(record: dict) -> dict[str, str]:
    """The record's field names: gh's, or the REST pull object's."""
    rest = "mergedAt" not in record and "merged_at" in record
    return {k: (v if rest else k) for k, v in _REST.items()}


def _is_bot(record: dict) -> bool:
    author = record.get("author") or record.get("user") or {}
    return bool(author.get("is_bot")) or author.get("type") == "Bot"


def _agent_tool(login: str, patterns: list[tuple[str, str]]) -> str | None:
    """The tool of a coding agent's login (gh's ``app/`` prefix dropped), else ``None``."""
    name = login.removeprefix("app/")
    for pattern, tool in patterns:
        if re.search(pattern, name, re.IGNORECASE) or re.search(pattern, login, re.IGNORECASE):
            return tool
    return None


def _lines(record: dict, field: str) -> float:
    value = record.get(field)
    if value is None or value == "":
        return float("nan")
    try:
        return float(int(value))
    except (TypeError, ValueError):
        raise EventError(
            f"{record.get('_file')}, record {record.get('_record')}: field `{field}` {value!r} "
            "is not a whole number of lines"
        ) from None


def read_deployments(
    deployments: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    statuses: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    *,
    team: str,
    environment: str | None = "production",
) -> dict[str, pd.DataFrame]:
    """``deployments`` of team ``team``: each deployment (to ``environment``; ``None``: any)
    at its first ``success`` status."""
    wanted: set[int] = set()
    skipped = {"other environment": 0, "never succeeded": 0}
    for path in expand_paths(deployments):
        for record in load_records(path):
            if environment is not None and dig(record, "environment") != environment:
                skipped["other environment"] += 1
                continue
            wanted.add(int(dig(record, "id")))
    succeeded: dict[int, pd.Timestamp] = {}
    for path in expand_paths(statuses):
        for record in load_records(path):
            url = str(dig(record, "deployment_url"))
            match = re.search(r"/deployments/(\d+)$", url)
            if match is None:
                raise EventError(
                    f"{path}, record {record['_record']}: field `deployment_url` {url!r} does "
                    "not end in /deployments/<id>"
                )
            ident = int(match.group(1))
            if ident in wanted and dig(record, "state") == "success":
                when = utc(dig(record, "created_at"), record, "created_at")
                succeeded[ident] = min(when, succeeded.get(ident, when))
    skipped["never succeeded"] = len(wanted - set(succeeded))
    files = [*expand_paths(deployments), *expand_paths(statuses)]
    none_unusable(f"github deployments of team {team!r}", files, len(succeeded), skipped)
    _report("github deployments", team, skipped)
    rows = [{"team_id": team, "deployed_at": when} for when in succeeded.values()]
    return {"deployments": frame("deployments", rows)}


def _report(what: str, team: str, skipped: dict[str, int]) -> None:
    counts = ", ".join(f"{n:,} {why}" for why, n in skipped.items() if n)
    if counts:
        warnings.warn(f"{what} of team {team!r}: not counted: {counts}", SourceWarning, 3)
