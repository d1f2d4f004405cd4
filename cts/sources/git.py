"""Event logs from local git repositories, for teams without delivery telemetry.

Read with the ``git`` command line (no Python git library: the plumbing output below is stable
and ``git`` is already on every machine that has the repositories):

* **merged changes** (CRs): every commit on the main branch's first-parent history, i.e. merge
  commits of merged pull requests and squash-merged or directly pushed commits; merged at its
  committer date.
* **deployments**: release tags (default: tags that look like versions, ``v1.2``, ``2024.05``);
  deployed at the tag's date (the tagger's for annotated tags, else the commit's).
  A change **ships** with the first release tag on the first-parent history at or after it.
* **rollbacks**: first-parent commits that revert (``git revert``'s "This reverts commit").
* **AI-assistant use**: commits (any on the main history) with a ``Co-authored-by:`` trailer
  naming a coding agent from :data:`AI_AGENTS`; the author counts as an active builder that
  week.
* **roster**: each author is on the repository's team from their first to their last commit.

Authors are hashed at read time with a key drawn for each call (BLAKE2b), so the tables hold
no e-mail address or name, and the hashes cannot be matched to a list of known addresses or
across calls. Pages, pipeline interventions and on-call rotas are not in git: those tables are
empty and their panel columns 0.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
from collections.abc import Iterable, Mapping
from pathlib import Path

import pandas as pd

from cts.sources.build import TABLES, EventError

__all__ = ["AI_AGENTS", "RELEASE_TAG", "read_events"]

#: Coding agents recognised in ``Co-authored-by:`` trailers (name or e-mail, any case). Extend
#: here: one entry per agent, a regular expression.
AI_AGENTS: dict[str, str] = {
    "GitHub Copilot": r"copilot",
    "Claude": r"claude|anthropic",
    "Cursor": r"cursor",
    "Aider": r"aider",
    "OpenAI Codex": r"codex|openai",
    "Gemini": r"gemini",
    "Devin": r"devin",
}
#: Default pattern of release tags: versions such as v1.2.3, 1.4, release-2024.05.
RELEASE_TAG = r"^(v|release[-_/]?)?\d+(\.\d+)+([-+.].*)?$"

AI_AGENT_PATTERN = re.compile("|".join(f"(?:{p})" for p in AI_AGENTS.values()), re.IGNORECASE)
_TRAILER = re.compile(r"^co-authored-by:\s*(.+)$", re.IGNORECASE | re.MULTILINE)
_REVERT = re.compile(r"This reverts commit [0-9a-f]{7,40}", re.IGNORECASE)
_FIELD, _RECORD = "\x1f", "\x1e"


def read_events(
    repos: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    *,
    team_map: Mapping[str, str] | None = None,
    branch: str | None = None,
    release_tag: str = RELEASE_TAG,
    architecture: str | Mapping[str, str] = "monolith",
) -> dict[str, pd.DataFrame]:
    """Event tables (the :func:`cts.build_panel` contract) from local git repositories.

    Parameters
    ----------
    repos
        One repository or several (working copies or bare).
    team_map
        Repository directory name (or path) -> team id. Default: each repository is a team
        named after its directory. Several repositories may map to one team.
    branch
        The main branch (default: ``main`` if it exists, else ``master``, else ``HEAD``).
    release_tag
        Regular expression for the tags that count as deployments.
    architecture
        Each team's architecture (one for all, or team id -> architecture), which picks the unit
        of CTS-SW. Default ``"monolith"``: software ships in tagged releases, so the unit is
        the shipped change (a repository without release tags ships nothing).

    Returns
    -------
    dict of pandas.DataFrame
        ``roster``, ``code_reviews``, ``deployments``, ``rollbacks``, ``ai_usage``, ``teams``
        (with ``architecture``) and empty ``interventions``, ``pages`` and ``oncall``.
    """
    repos = [repos] if isinstance(repos, (str, os.PathLike)) else list(repos)
    if not repos:
        raise EventError("no git repositories given")
    key = os.urandom(16)  # per call: hashes cannot be matched to known addresses or other runs
    tag_pattern = re.compile(release_tag)
    parts: dict[str, list[pd.DataFrame]] = {}
    for repo in repos:
        path = Path(repo)
        team = _team_of(path, team_map)
        for name, frame in _read_repo(path, team, key, branch, tag_pattern).items():
            parts.setdefault(name, []).append(frame)
    tables = {name: pd.concat(frames, ignore_index=True) for name, frames in parts.items()}
    roster = tables.pop("authors")
    tables["roster"] = (
        roster.groupby(["person_id", "team_id"], as_index=False)
        .agg(start_date=("date", "min"), end_date=("date", "max"))
        .astype({"start_date": "datetime64[s]", "end_date": "datetime64[s]"})
    )
    teams = sorted(tables["roster"]["team_id"].unique())
    kinds = [architecture if isinstance(architecture, str) else architecture[t] for t in teams]
    tables["teams"] = pd.DataFrame({"team_id": teams, "architecture": kinds})
    for name in ("interventions", "pages", "oncall"):
        tables[name] = _empty(name)
    return tables


def _team_of(path: Path, team_map: Mapping[str, str] | None) -> str:
    if team_map is None:
        return path.resolve().name.removesuffix(".git")
    for key in (str(path), str(path.resolve()), path.resolve().name):
        if key in team_map:
            return team_map[key]
    raise EventError(f"team_map has no team for repository {path} (keys: {', '.join(team_map)})")


def _git(path: Path, *args: str) -> str:
    try:
        result = subprocess.run(
            ["git", "-C", str(path), *args], capture_output=True, text=True, check=True
        )
    except FileNotFoundError as error:
        raise EventError("the `git` command is not installed") from error
    except subprocess.CalledProcessError as error:
        message = error.stderr.strip()
        raise EventError(f"{path} is not a readable git repository: {message}") from None
    return result.stdout


def _main_branch(path: Path, branch: str | None) -> str:
    if branch:
        return branch
    for candidate in ("main", "master"):
        if (
            subprocess.run(
                ["git", "-C", str(path), "rev-parse", "--verify", "--quiet", candidate],
                capture_output=True,
            ).returncode
            == 0
        ):
            return candidate
    return "HEAD"


def _log(path: Path, *args: str) -> pd.DataFrame:
    """Commits as rows: hash, author e-mail, author date, committer date, message."""
    form = _FIELD.join(["%H", "%ae", "%aI", "%cI", "%B"]) + _RECORD
    text = _git(path, "log", f"--format={form}", *args)
    rows = [r.strip("\n").split(_FIELD) for r in text.split(_RECORD) if r.strip("\n")]
    frame = pd.DataFrame(rows, columns=["commit", "email", "authored", "committed", "message"])
    for column in ("authored", "committed"):
        frame[column] = _utc(frame[column])
    return frame


def _utc(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values, utc=True).dt.tz_localize(None).astype("datetime64[s]")


def _read_repo(
    path: Path, team: str, key: bytes, branch: str | None, tag_pattern: re.Pattern
) -> dict[str, pd.DataFrame]:
    main = _main_branch(path, branch)
    merged = _log(path, "--first-parent", main)  # newest first
    every = _log(path, "--no-merges", main)

    def person(email: str) -> str:
        return hashlib.blake2b(email.strip().lower().encode(), key=key, digest_size=8).hexdigest()

    persons = every["email"].map(person)
    assisted = every["message"].map(
        lambda m: any(AI_AGENT_PATTERN.search(t) for t in _TRAILER.findall(m))
    )
    tags = _release_tags(path, tag_pattern)
    shipped = _shipped_at(merged, tags)
    reverts = merged["message"].str.contains(_REVERT)
    return {
        "authors": pd.DataFrame({"person_id": persons, "team_id": team, "date": every["authored"]}),
        "code_reviews": pd.DataFrame(
            {"team_id": team, "merged_at": merged["committed"], "shipped_at": shipped}
        ),
        "deployments": pd.DataFrame({"team_id": team, "deployed_at": tags["date"]}),
        "rollbacks": pd.DataFrame(
            {"team_id": team, "rolled_back_at": merged.loc[reverts, "committed"]}
        ),
        "ai_usage": pd.DataFrame(
            {
                "person_id": persons[assisted],
                "team_id": team,
                "used_at": every.loc[assisted, "authored"],
            }
        ),
    }


def _release_tags(path: Path, pattern: re.Pattern) -> pd.DataFrame:
    """Release tags with the commit they point to and their date."""
    form = _FIELD.join(
        ["%(refname:short)", "%(creatordate:iso-strict)", "%(*objectname)", "%(objectname)"]
    )
    text = _git(path, "for-each-ref", "refs/tags", f"--format={form}")
    rows = [line.split(_FIELD) for line in text.splitlines() if line]
    tags = pd.DataFrame(rows, columns=["tag", "date", "peeled", "object"])
    tags = tags.loc[tags["tag"].str.match(pattern)]
    # Annotated tags point to a tag object; %(*objectname) is the commit behind it.
    commit = tags["peeled"].where(tags["peeled"] != "", tags["object"])
    return pd.DataFrame({"commit": commit, "date": _utc(tags["date"])}).reset_index(drop=True)


def _shipped_at(merged: pd.DataFrame, tags: pd.DataFrame) -> pd.Series:
    """Date of the first release tag at or after each first-parent commit (NaT: unreleased)."""
    if tags.empty:
        return pd.Series(pd.NaT, index=merged.index, dtype="datetime64[s]")
    released = tags.groupby("commit")["date"].min()
    # Oldest first, a change ships with the next tagged commit: a backward fill over tag dates.
    on_chain = merged["commit"].map(released)[::-1]
    return pd.to_datetime(on_chain.bfill()[::-1]).astype("datetime64[s]")


def _empty(name: str) -> pd.DataFrame:
    table = TABLES[name]
    columns = dict.fromkeys(table.columns, pd.Series([], dtype=object))
    for column in (*table.columns, *table.optional_times):
        if column.endswith(("_at", "_date")):
            columns[column] = pd.Series([], dtype="datetime64[s]")
    return pd.DataFrame(columns)
