"""Event logs from local git repositories, for teams without delivery telemetry.

Read with the ``git`` command line (no Python git library: the plumbing output below is stable
and ``git`` is already on every machine that has the repositories):

* **merged changes** (CRs): every commit on the main branch's first-parent history, i.e. merge
  commits of merged pull requests and squash-merged or directly pushed commits; merged at its
  committer date. A CR whose author is a bot (or, for a merge commit, whose merged branch tip
  is a bot's) is not counted.
* **deployments**: release tags (default: tags that look like versions, ``v1.2``, ``2024.05``);
  deployed at the tag's date (the tagger's for annotated tags, else the commit's).
  A change **ships** with the first release tag on the first-parent history at or after it.
* **rollbacks**: first-parent commits that revert (``git revert``'s "This reverts commit").
* **builders** (roster): a person is a builder of a team in a week if they authored a commit for
  it in that week or the ``active_weeks - 1`` weeks before (default 12 weeks, a quarter: long
  enough that holidays, release freezes and people who commit every few weeks do not flicker in
  and out of the team; short enough that someone who left stops counting within a quarter, not
  years later as a first-to-last-commit roster would).
* **bots** are not builders and their commits are not CRs: authors whose name, e-mail or GitHub
  login matches :data:`BOTS` (anything ending in ``[bot]``, Dependabot, Renovate,
  pre-commit.ci, all-contributors, ...; ``bots=`` replaces the list, ``exclude_bots=False``
  keeps them). What was excluded is counted in :attr:`GitEvents.summary` and a warning.
* **AI-assisted work**: a commit with a ``Co-authored-by:`` trailer naming a coding agent
  (:data:`AI_AGENTS`), a Claude Code marker (``Generated with [Claude Code]`` or a
  ``Claude-Session:`` trailer), or *authored by* a coding agent (:data:`AGENT_AUTHORS`, e.g.
  ``copilot-swe-agent[bot]``, ``Copilot``). An agent is never a builder: its commit is the work
  of the human behind it, the first human ``Co-authored-by:`` (the person who assigned the
  agent, as GitHub's Copilot agent records it), else the human committer (who pushed or merged
  it; not GitHub's web-flow). That person is an active builder and AI-active that week; an
  agent commit with no human behind it still counts as a CR and is counted in the summary.
* **agents' CRs** (``is_agent`` -> ``agent_crs``): a CR whose code a coding agent wrote: the
  commit (for a merge commit: any commit of the branch it merges, walked along first parents
  back to the main history) is authored by an agent or carries an agent's ``Co-authored-by:``
  trailer or Claude Code's marker. It stays a CR of its team (``crs_merged``) and the human
  behind it stays the credited builder, as above. AI use is tagged with the agent's ``tool``
  (Copilot ``copilot``, Claude ``claude_code``, Cursor ``cursor``, any other ``other``).
* **CR size** (``additions``, ``deletions`` -> ``lines_changed``): ``git log --numstat`` of each
  first-parent commit against its first parent (a merge commit: the whole merged change; a
  squash: the squashed change); binary files count no lines.
* **identities**: one person under several names or e-mails is merged by the repository's
  ``.mailmap`` (git's own mechanism: the ``%aN``/``%aE`` placeholders) and, when given, by an
  identity file (:mod:`cts.sources.identity`; e-mails and GitHub logins from no-reply addresses).
* **teams**: a team per repository, named after its directory; two repositories with the same
  directory name (``.../pyfixest/repo`` and ``.../EconML/repo``) become ``pyfixest/repo`` and
  ``EconML/repo``, with a warning (``team_map=`` names them). Inside one repository, teams can
  come from a path map (``team_paths={"crates/ruff_linter/": "linter"}``) or the repository's
  ``CODEOWNERS`` (``codeowners=True``; only ``@org/team`` owners, never individuals, name
  teams; today's file is applied to all history). A commit belongs to the team owning most of
  the files it changes; a commit that touches no owned file stays with the repository's team.

Authors are hashed at read time with a key drawn for each call (BLAKE2b), so the tables hold
no e-mail address or name, and the hashes cannot be matched to a list of known addresses or
across calls. Pages, pipeline interventions and on-call rotas are not in git: those tables are
empty and their panel columns 0.
"""

from __future__ import annotations

import os
import re
import subprocess
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from cts.core.exceptions import SourceWarning
from cts.sources.contract import EventError
from cts.sources.identity import Identities
from cts.sources.records import empty_table, person_hasher

__all__ = [
    "ACTIVE_WEEKS",
    "AGENT_AUTHORS",
    "AGENT_TOOLS",
    "AI_AGENTS",
    "BOTS",
    "RELEASE_TAG",
    "GitEvents",
    "GitSourceWarning",
    "read_events",
    "read_git",
]

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
#: Coding agents that *author* commits (matched against the author's name, e-mail or GitHub
#: login, any case): their commits are AI-assisted work of the human behind them.
AGENT_AUTHORS: dict[str, str] = {
    "GitHub Copilot": r"^copilot-swe-agent|^copilot$",
    "Claude": r"^claude(\[bot\])?$|^claude code$|^noreply@anthropic\.com$",
    "Cursor": r"^cursor ?agent$|^cursoragent@cursor\.com$",
    "OpenAI Codex": r"^chatgpt-codex-connector|^codex$",
    "Devin": r"^devin-ai-integration",
    "Jules": r"^google-labs-jules",
}
#: Authors that are bots, not builders (name, e-mail or GitHub login, any case). GitHub Apps
#: all end in ``[bot]``; the rest are bots that commit under a plain account.
BOTS: tuple[str, ...] = (
    r"\[bot\]",
    r"^dependabot",
    r"^renovate",
    r"^pre-commit-ci",
    r"^all-?contributors",
    r"^github-actions",
    r"^actions-user$",
    r"^codecov",
    r"^mergify",
    r"^greenkeeper",
    r"^snyk-bot",
    r"^imgbot",
    r"^pyup-bot",
    r"^deepsource",
    r"^semantic-release-bot",
    r"^web-flow$",
    r"^noreply@github\.com$",
)
#: Default trailing window (weeks) in which a commit makes its author a builder; see above.
ACTIVE_WEEKS = 12
#: Default pattern of release tags: versions such as v1.2.3, 1.4, release-2024.05.
RELEASE_TAG = r"^(v|release[-_/]?)?\d+(\.\d+)+([-+.].*)?$"

#: The panel's tool (``cts.AI_TOOLS``) of each agent above; any other agent is ``other``.
AGENT_TOOLS: dict[str, str] = {
    "GitHub Copilot": "copilot",
    "Claude": "claude_code",
    "Cursor": "cursor",
}
AI_AGENT_PATTERN = re.compile("|".join(f"(?:{p})" for p in AI_AGENTS.values()), re.IGNORECASE)
_TRAILER = re.compile(r"^co-authored-by:\s*(.+)$", re.IGNORECASE | re.MULTILINE)
_CLAUDE_CODE = re.compile(
    r"Generated with \[Claude Code\]|^Claude-Session:", re.IGNORECASE | re.MULTILINE
)
_REVERT = re.compile(r"This reverts commit [0-9a-f]{7,40}", re.IGNORECASE)
_NAME_EMAIL = re.compile(r"^(.*?)\s*<([^>]*)>\s*$")
_NOREPLY = re.compile(r"^(?:\d+\+)?([^@]+)@users\.noreply\.github\.com$", re.IGNORECASE)
_FIELD, _RECORD = "\x1f", "\x1e"
_CODEOWNERS = ("CODEOWNERS", ".github/CODEOWNERS", "docs/CODEOWNERS")


class GitSourceWarning(SourceWarning):
    """Something the git reader decided for you: bots excluded, team names disambiguated."""


@dataclass
class GitEvents:
    """The event tables read from git, and what was excluded or re-attributed.

    Attributes
    ----------
    tables
        The :func:`cts.build_panel` event tables.
    summary
        One row per repository: ``team`` (its default team), ``commits`` (non-merge, on the
        main history), ``crs`` (first-parent commits), ``bot_commits`` and ``bot_crs``
        (excluded), ``agent_commits`` (authored by a coding agent), ``agent_commits_credited``
        (of which credited to a human), ``ai_assisted_commits``, ``path_teams`` (teams found
        inside it by path or CODEOWNERS).
    """

    tables: dict[str, pd.DataFrame]
    summary: pd.DataFrame


def read_events(repos, **options) -> dict[str, pd.DataFrame]:
    """Event tables (the :func:`cts.build_panel` contract) from local git repositories.

    The tables of :func:`read_git` (same parameters); its summary reaches you as a
    :class:`GitSourceWarning` when bots were excluded.
    """
    return read_git(repos, **options).tables


def read_git(
    repos: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    *,
    team_map: Mapping[str, str] | None = None,
    branch: str | None = None,
    release_tag: str = RELEASE_TAG,
    architecture: str | Mapping[str, str] = "monolith",
    exclude_bots: bool = True,
    bots: Iterable[str] = BOTS,
    active_weeks: int = ACTIVE_WEEKS,
    identities: Identities | None = None,
    team_paths: Mapping[str, str] | None = None,
    codeowners: bool = False,
    hasher: Callable[[str], str] | None = None,
    agents: Iterable[str] = (),
) -> GitEvents:
    """Event tables and a summary of what was excluded, from local git repositories.

    Parameters
    ----------
    repos
        One repository or several (working copies or bare).
    team_map
        Repository directory name (or path) -> team id. Default: each repository is a team
        named after its directory (made unique, with a warning, when two share a name).
        Several repositories may map to one team.
    branch
        The main branch (default: ``main`` if it exists, else ``master``, else ``HEAD``).
    release_tag
        Regular expression for the tags that count as deployments.
    architecture
        Each team's architecture (one for all, or team id -> architecture), which picks the unit
        of CTS-SW. Default ``"monolith"``: software ships in tagged releases, so the unit is
        the shipped change (a repository without release tags ships nothing).
    exclude_bots, bots
        Leave out commits (and CRs) authored by bots: authors matching any of ``bots``
        (regular expressions, default :data:`BOTS`).
    active_weeks
        A person is a builder in the week of each of their commits and the
        ``active_weeks - 1`` weeks after (default :data:`ACTIVE_WEEKS`).
    identities
        An identity file (:func:`cts.sources.identity.read_identities`) merging e-mails and
        logins into persons.
    team_paths, codeowners
        Teams inside a repository: path patterns (CODEOWNERS syntax, the last match wins) ->
        team, or the repository's ``CODEOWNERS`` ``@org/team`` owners.
    hasher
        Person hasher shared with other sources (:func:`cts.sources.records.person_hasher`);
        default: a fresh key for this call.
    agents
        Further coding agents that author commits (regular expressions over the author's name,
        e-mail or GitHub login, any case), beside :data:`AGENT_AUTHORS`; their tool is
        ``other``.

    Returns
    -------
    GitEvents
        ``tables``: ``roster``, ``code_reviews``, ``deployments``, ``rollbacks``,
        ``ai_usage``, ``teams`` (with ``architecture``) and empty ``interventions``, ``pages``
        and ``oncall``; ``summary``: counts per repository.
    """
    repos = [repos] if isinstance(repos, (str, os.PathLike)) else list(repos)
    if not repos:
        raise EventError("no git repositories given")
    if active_weeks < 1:
        raise ValueError(f"active_weeks must be at least 1, not {active_weeks}")
    hasher = hasher or person_hasher()
    bot = re.compile("|".join(f"(?:{p})" for p in bots), re.IGNORECASE) if exclude_bots else None
    tag_pattern = re.compile(release_tag)
    paths = [Path(r) for r in repos]
    teams_of = _team_names(paths, team_map)
    reader = _Reader(hasher, bot, identities, tuple(agents))
    parts: dict[str, list[pd.DataFrame]] = {}
    rows = []
    for path in paths:
        rules = _path_rules(path, branch, team_paths, codeowners)
        tables, counts = reader.read(path, teams_of[path], branch, tag_pattern, rules)
        rows.append({"repository": str(path), "team": teams_of[path], **counts})
        for name, frame in tables.items():
            parts.setdefault(name, []).append(frame)
    tables = {name: pd.concat(frames, ignore_index=True) for name, frames in parts.items()}
    authors = tables.pop("authors")
    last = max(
        (
            t.max()
            for t in (
                authors["date"],
                tables["code_reviews"]["merged_at"],
                tables["deployments"]["deployed_at"],
            )
            if len(t)
        ),
        default=None,
    )
    tables["roster"] = _active_spells(authors, active_weeks, last)
    teams = sorted(tables["roster"]["team_id"].unique())
    kinds = [architecture if isinstance(architecture, str) else architecture[t] for t in teams]
    tables["teams"] = pd.DataFrame({"team_id": teams, "architecture": kinds})
    for name in ("interventions", "pages", "oncall"):
        tables[name] = empty_table(name)
    summary = pd.DataFrame(rows)
    excluded = summary[["bot_commits", "bot_crs"]].sum()
    if excluded.any():
        warnings.warn(
            f"git: left out {excluded['bot_commits']:,} bot commit(s) and "
            f"{excluded['bot_crs']:,} bot CR(s) (authors matching cts.sources.git.BOTS; "
            "exclude_bots=False keeps them)",
            GitSourceWarning,
            stacklevel=2,
        )
    return GitEvents(tables=tables, summary=summary)


def _team_names(paths: list[Path], team_map: Mapping[str, str] | None) -> dict[Path, str]:
    """Each repository's team: from ``team_map``, else its directory name, made unique."""
    resolved = [p.resolve() for p in paths]
    seen = Counter(resolved)
    twice = [str(p) for p, n in seen.items() if n > 1]
    if twice:
        raise EventError(f"repository given more than once: {', '.join(twice)}")
    if team_map is not None:
        return {path: _mapped_team(path, team_map) for path in paths}
    names = {p: r.name.removesuffix(".git") for p, r in zip(paths, resolved, strict=True)}
    clashes = {n for n, k in Counter(names.values()).items() if k > 1}
    if not clashes:
        return names
    renamed = dict(names)
    for path, full in zip(paths, resolved, strict=True):
        if names[path] in clashes:
            renamed[path] = f"{full.parent.name}/{names[path]}"
    if len(set(renamed.values())) < len(renamed):
        raise EventError(
            "repositories with the same name cannot be told apart by their parent folder: "
            f"{', '.join(sorted(map(str, paths)))}; pass team_map (--team-map) to name them"
        )
    pairs = "; ".join(f"{p} -> {renamed[p]!r}" for p in paths if names[p] in clashes)
    warnings.warn(
        f"git: several repositories are named {', '.join(map(repr, sorted(clashes)))}: they are "
        f"separate teams named after their parent folder ({pairs}); pass team_map to name them",
        GitSourceWarning,
        stacklevel=3,
    )
    return renamed


def _mapped_team(path: Path, team_map: Mapping[str, str]) -> str:
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


_LOG_FIELDS = ["commit", "parents", "name", "email", "authored", "cname", "cemail", "committed"]


def _log(path: Path, *args: str) -> pd.DataFrame:
    """Commits as rows: hash, parents, author and committer (after ``.mailmap``), dates,
    message."""
    form = _FIELD.join(["%H", "%P", "%aN", "%aE", "%aI", "%cN", "%cE", "%cI", "%B"]) + _RECORD
    text = _git(path, "log", f"--format={form}", *args)
    rows = [r.strip("\n").split(_FIELD) for r in text.split(_RECORD) if r.strip("\n")]
    frame = pd.DataFrame(rows, columns=[*_LOG_FIELDS, "message"])
    for column in ("authored", "committed"):
        frame[column] = _utc(frame[column])
    return frame


def _utc(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values, utc=True).dt.tz_localize(None).astype("datetime64[s]")


class _Reader:
    """Reads one repository at a time with shared hashing, bot and identity rules."""

    def __init__(
        self, hasher, bot: re.Pattern | None, identities: Identities | None, agents=()
    ) -> None:
        self.hasher, self.bot, self.identities = hasher, bot, identities
        self.authors = {**AGENT_AUTHORS, **{f"agent {p}": p for p in agents}}
        self.agent = re.compile("|".join(f"(?:{p})" for p in self.authors.values()), re.I)

    def _handles(self, name: str, email: str) -> list[str]:
        email = email.strip().lower()
        login = _NOREPLY.match(email)
        return [name.strip().lower(), email] + ([login.group(1)] if login else [])

    def is_bot(self, name: str, email: str) -> bool:
        return self.bot is not None and any(self.bot.search(h) for h in self._handles(name, email))

    def is_agent(self, name: str, email: str) -> bool:
        return any(self.agent.search(h) for h in self._handles(name, email))

    def person(self, name: str, email: str) -> str:
        email = email.strip().lower()
        if self.identities is not None:
            login = _NOREPLY.match(email)
            known = self.identities.person(email, "email") or (
                self.identities.person(login.group(1), "login") if login else None
            )
            if known is not None:
                return self.hasher(f"person:{known}")
        return self.hasher(f"email:{email}")

    def tool(self, row) -> str | None:
        """The tool of an agent-written commit (``None``: no agent wrote it)."""
        handles = self._handles(row.name, row.email)
        for agent, pattern in self.authors.items():
            if any(re.search(pattern, h, re.IGNORECASE) for h in handles):
                return AGENT_TOOLS.get(agent, "other")
        if _CLAUDE_CODE.search(row.message):
            return "claude_code"
        for trailer in _TRAILER.findall(row.message):
            for agent, pattern in AI_AGENTS.items():
                if re.search(pattern, trailer, re.IGNORECASE):
                    return AGENT_TOOLS.get(agent, "other")
        return None

    def human_behind(self, row) -> str | None:
        """The person an agent-authored commit is credited to (see the module docstring)."""
        for trailer in _TRAILER.findall(row.message):
            match = _NAME_EMAIL.match(trailer.strip())
            if match is None:
                continue
            name, email = match.groups()
            machine = self.is_agent(name, email) or self.is_bot(name, email)
            if not (machine or AI_AGENT_PATTERN.search(trailer)):
                return self.person(name, email)
        if not (self.is_agent(row.cname, row.cemail) or self.is_bot(row.cname, row.cemail)):
            if row.cemail.strip().lower() != "noreply@github.com":
                return self.person(row.cname, row.cemail)
        return None

    def read(self, path, team, branch, tag_pattern, rules):
        """One repository's event tables (``authors`` for the roster) and its counts."""
        main = _main_branch(path, branch)
        every = self._commits(path, main, team, rules)  # newest first
        first_parent = set(_git(path, "rev-list", "--first-parent", main).split())
        merge = every["parents"].str.contains(" ")
        merged = _merged(every, first_parent)
        crs = merged.loc[~merged["bot_cr"]]
        work = every.loc[~merge & every["person"].notna()]
        assisted = work.loc[work["assisted"]]
        counts = {
            "commits": int((~merge).sum()),
            "crs": len(merged),
            "bot_commits": int((every["bot"] & ~merge).sum()),
            "bot_crs": int(merged["bot_cr"].sum()),
            "agent_commits": int((every["agent"] & ~merge).sum()),
            "agent_commits_credited": int(
                (every["agent"] & ~merge & every["person"].notna()).sum()
            ),
            "ai_assisted_commits": len(assisted),
            "agent_crs": int(crs["is_agent"].sum()),
            "path_teams": int(every.loc[every["team"] != team, "team"].nunique()),
        }
        tags = _release_tags(path, tag_pattern)
        tables = {
            "authors": pd.DataFrame(
                {"person_id": work["person"], "team_id": work["team"], "date": work["authored"]}
            ),
            "code_reviews": _code_reviews(crs, _sizes(path, main), _shipped_at(merged, tags)),
            "deployments": pd.DataFrame({"team_id": team, "deployed_at": tags["date"]}),
            "rollbacks": _rollbacks(crs),
            "ai_usage": pd.DataFrame(
                {
                    "person_id": assisted["person"],
                    "team_id": assisted["team"],
                    "used_at": assisted["authored"],
                    "tool": assisted["tool"],
                }
            ),
        }
        return tables, counts

    def _commits(self, path, main, team, rules) -> pd.DataFrame:
        """Every commit of the main history (:func:`_log`) with who wrote it: ``agent``,
        ``bot``, the ``person`` credited (None for a bot, or an agent's commit that credits no
        human), the assistant ``tool`` (``assisted`` when there is one) and the ``team``."""
        every = _log(path, main)
        agent = [self.is_agent(n, e) for n, e in zip(every["name"], every["email"], strict=True)]
        bot = [
            not a and self.is_bot(n, e)
            for a, n, e in zip(agent, every["name"], every["email"], strict=True)
        ]
        every["agent"], every["bot"] = agent, bot
        credited = []
        for row in every.itertuples():
            if row.agent:
                credited.append(self.human_behind(row))
            elif row.bot:
                credited.append(None)
            else:
                credited.append(self.person(str(row.name), str(row.email)))
        every["person"] = credited
        every["tool"] = [self.tool(row) for row in every.itertuples()]
        every["assisted"] = every["tool"].notna()
        every["team"] = self._teams(path, main, every, team, rules)
        return every

    def _teams(self, path, main, every, team, rules) -> pd.Series:
        if not rules:
            return pd.Series(team, index=every.index)
        files = _changed_files(path, main)
        owners = {}
        for commit, changed in files.items():
            owned = Counter(t for f in changed if (t := _owner(f, rules)) is not None)
            owners[commit] = min(owned, key=lambda t: (-owned[t], t)) if owned else team
        return every["commit"].map(owners).fillna(team)


def _merged(every: pd.DataFrame, first_parent: set[str]) -> pd.DataFrame:
    """The first-parent commits (a CR each) with ``bot_cr`` (a merge commit is a bot's CR when
    the branch it merges ends in a bot's commit) and ``is_agent`` (:func:`_agent_crs`)."""
    merged = every.loc[every["commit"].isin(first_parent)].copy()
    tips = merged["parents"].str.split(" ").str[1]
    tip_bot = tips.map(dict(zip(every["commit"], every["bot"], strict=True))).fillna(False)
    merged["bot_cr"] = merged["bot"] | tip_bot.astype(bool)
    merged["is_agent"] = _agent_crs(every, merged, first_parent)
    return merged


def _code_reviews(crs: pd.DataFrame, sizes: pd.DataFrame, shipped: pd.Series) -> pd.DataFrame:
    """The ``code_reviews`` table of the CRs: ``sizes`` per commit (:func:`_sizes`) and when
    each first-parent commit shipped (:func:`_shipped_at`)."""
    sizes = sizes.reindex(crs["commit"])
    return pd.DataFrame(
        {
            "team_id": crs["team"],
            "merged_at": crs["committed"],
            "shipped_at": shipped.loc[crs.index],
            "is_agent": crs["is_agent"].astype(bool),
            "additions": sizes["additions"].to_numpy(),
            "deletions": sizes["deletions"].to_numpy(),
        }
    )


def _rollbacks(crs: pd.DataFrame) -> pd.DataFrame:
    """The ``rollbacks`` table: the CRs whose message says they revert another."""
    reverts = crs["message"].str.contains(_REVERT)
    return pd.DataFrame(
        {"team_id": crs.loc[reverts, "team"], "rolled_back_at": crs.loc[reverts, "committed"]}
    )


def _agent_crs(every: pd.DataFrame, merged: pd.DataFrame, main_line: set[str]) -> pd.Series:
    """Whether each first-parent commit is an agent's CR: it, or a commit of the branch it
    merges (first parents back to the main history), was written by a coding agent."""
    parents = dict(zip(every["commit"], every["parents"].str.split(), strict=True))
    written = dict(zip(every["commit"], every["assisted"], strict=True))

    def branch_written(commit: str) -> bool:
        heads = parents.get(commit, [])[1:]
        seen: set[str] = set()
        while heads:
            head = heads.pop()
            if head in main_line or head in seen or head not in parents:
                continue
            if written.get(head):
                return True
            seen.add(head)
            heads += parents[head][:1]
        return False

    return pd.Series(
        [written.get(c, False) or branch_written(c) for c in merged["commit"]],
        index=merged.index,
        dtype=bool,
    )


def _sizes(path: Path, main: str) -> pd.DataFrame:
    """Lines added and deleted by each first-parent commit against its first parent (binary
    files: none), indexed by commit."""
    text = _git(
        path,
        "log",
        "--first-parent",
        "--diff-merges=first-parent",
        "--numstat",
        f"--format={_RECORD}%H",
        main,
    )
    rows = []
    for block in text.split(_RECORD):
        lines = block.splitlines()
        if not lines or not lines[0]:
            continue
        added = deleted = 0
        for line in lines[1:]:
            parts = line.split("\t", 2)
            if len(parts) == 3:  # binary files show "-\t-\tname"
                added += int(parts[0]) if parts[0].isdigit() else 0
                deleted += int(parts[1]) if parts[1].isdigit() else 0
        rows.append((lines[0], added, deleted))
    sizes = pd.DataFrame(rows, columns=["commit", "additions", "deletions"])
    return sizes.set_index("commit").astype("int64")


def _changed_files(path: Path, main: str) -> dict[str, list[str]]:
    """Files each commit changes (merges: against their first parent)."""
    text = _git(
        path, "log", f"--format={_RECORD}%H", "--name-only", "--diff-merges=first-parent", main
    )
    files = {}
    for block in text.split(_RECORD):
        lines = [line for line in block.splitlines() if line]
        if lines:
            files[lines[0]] = lines[1:]
    return files


def _path_rules(
    path: Path, branch: str | None, team_paths: Mapping[str, str] | None, codeowners: bool
) -> list[tuple[re.Pattern, str | None]]:
    """Ordered (pattern, team) rules; the last matching rule wins (as in CODEOWNERS)."""
    if team_paths:
        return [(_pattern(p), t) for p, t in team_paths.items()]
    if not codeowners:
        return []
    main = _main_branch(path, branch)
    for name in _CODEOWNERS:
        shown = subprocess.run(
            ["git", "-C", str(path), "show", f"{main}:{name}"], capture_output=True, text=True
        )
        if shown.returncode == 0:
            break
    else:
        raise EventError(f"{path}: no CODEOWNERS file ({', '.join(_CODEOWNERS)}) on {main}")
    rules = []
    for line in shown.stdout.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        pattern, *owners = line.split()
        # Only teams name teams: an individual owner must never become a team name.
        teams = [o.lstrip("@").split("/", 1)[1] for o in owners if o.startswith("@") and "/" in o]
        rules.append((_pattern(pattern), teams[0] if teams else None))
    return rules


def _pattern(pattern: str) -> re.Pattern:
    """A CODEOWNERS/gitignore path pattern as a regular expression (hand-written: the subset
    CODEOWNERS uses needs no extra dependency)."""
    anchored = pattern.startswith("/") or "/" in pattern.rstrip("/")
    body = pattern.strip("/")
    regex = ""
    i = 0
    while i < len(body):
        if body.startswith("**", i):
            regex += ".*"
            i += 2
            if body.startswith("/", i):
                regex, i = regex[:-2] + "(?:.*/)?", i + 1
        elif body[i] == "*":
            regex, i = regex + "[^/]*", i + 1
        elif body[i] == "?":
            regex, i = regex + "[^/]", i + 1
        else:
            regex, i = regex + re.escape(body[i]), i + 1
    prefix = "^" if anchored else "^(?:.*/)?"
    return re.compile(f"{prefix}{regex}(?:/.*)?$")


def _owner(file: str, rules: list[tuple[re.Pattern, str | None]]) -> str | None:
    for pattern, team in reversed(rules):
        if pattern.match(file):
            return team
    return None


def _active_spells(authors: pd.DataFrame, weeks: int, last) -> pd.DataFrame:
    """Roster spells: each commit keeps its author on the team from its day to the Sunday
    ``weeks - 1`` weeks after its week (capped at the last date in the history); overlapping
    spells merge."""
    columns = ["person_id", "team_id", "start_date", "end_date"]
    if authors.empty:
        return pd.DataFrame(columns=columns).astype(
            {"start_date": "datetime64[s]", "end_date": "datetime64[s]"}
        )
    day = authors["date"].dt.normalize()
    monday = day - pd.to_timedelta(day.dt.day_of_week, unit="D")
    spells = pd.DataFrame(
        {
            "person_id": authors["person_id"].to_numpy(),
            "team_id": authors["team_id"].to_numpy(),
            "start": day.to_numpy(),
            "end": (monday + pd.Timedelta(days=7 * weeks - 1)).to_numpy(),
        }
    )
    if last is not None:
        spells["end"] = spells["end"].clip(upper=pd.Timestamp(last).normalize())
        spells["end"] = spells[["start", "end"]].max(axis=1)
    spells = spells.sort_values(["person_id", "team_id", "start"], ignore_index=True)
    group = spells.groupby(["person_id", "team_id"], sort=False)
    reach = group["end"].cummax().groupby([spells["person_id"], spells["team_id"]]).shift()
    new = reach.isna() | (spells["start"] > reach + pd.Timedelta(days=1))
    spells["spell"] = new.cumsum()
    roster = spells.groupby(["person_id", "team_id", "spell"], as_index=False).agg(
        start_date=("start", "min"), end_date=("end", "max")
    )
    return roster[columns].astype({"start_date": "datetime64[s]", "end_date": "datetime64[s]"})


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
