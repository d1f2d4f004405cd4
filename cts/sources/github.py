"""GitHub exports: pull requests (-> ``code_reviews``) and deployments (-> ``deployments``).

Pull requests, as written by the GitHub CLI
(https://cli.github.com/manual/gh_pr_list, JSON fields as in ``gh pr list --json``)::

    gh pr list --state merged --limit 100000 \\
        --json number,author,mergedAt,baseRefName,headRefName,title,labels > prs.json

Fields used: ``mergedAt`` (ISO 8601; ``null`` for unmerged PRs, which are skipped and counted),
``author.login`` and ``author.is_bot`` (bots' PRs are not CRs, as in the git reader:
:data:`cts.sources.git.BOTS`), ``baseRefName`` (only PRs into ``base`` when given). A PR
authored by a coding agent (``Copilot``) is a CR; the export does not say which human is
behind it, so it adds no AI-active builder.

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
from collections.abc import Iterable

import pandas as pd

from cts.core.exceptions import EventError, SourceWarning
from cts.sources.git import BOTS
from cts.sources.records import dig, expand_paths, frame, load_records, none_unusable, utc

__all__ = ["read_deployments", "read_pull_requests"]

_BOT = re.compile("|".join(f"(?:{p})" for p in BOTS), re.IGNORECASE)


def read_pull_requests(
    paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    *,
    team: str,
    base: str | None = None,
    exclude_bots: bool = True,
) -> dict[str, pd.DataFrame]:
    """``code_reviews`` of team ``team`` from ``gh pr list --json ...`` exports.

    Raises
    ------
    EventError
        A record without ``mergedAt``/``author`` (not a ``gh pr list`` export), or a time that
        does not parse; the message names file, record and field.
    """
    rows, skipped = [], {"not merged": 0, "bot author": 0, "other base branch": 0}
    files = expand_paths(paths)
    for path in files:
        for record in load_records(path):
            merged = dig(record, "mergedAt")
            author = dig(record, "author") or {}
            if not merged:
                skipped["not merged"] += 1
                continue
            if base is not None and dig(record, "baseRefName") != base:
                skipped["other base branch"] += 1
                continue
            login = str(author.get("login") or "")
            if exclude_bots and (author.get("is_bot") or _BOT.search(login)):
                skipped["bot author"] += 1
                continue
            rows.append({"team_id": team, "merged_at": utc(merged, record, "mergedAt")})
    none_unusable(f"github pull requests of team {team!r}", files, len(rows), skipped)
    _report("github pull requests", team, skipped)
    return {"code_reviews": frame("code_reviews", rows)}


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
