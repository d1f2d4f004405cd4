"""Event logs from an Apache DevLake database (its *domain layer*), read-only.

`Apache DevLake <https://devlake.apache.org>`_ collects GitHub, GitLab, Bitbucket, Azure
DevOps, Jenkins, Jira, PagerDuty and more into one relational schema (MySQL 8 by default,
PostgreSQL supported), maps accounts to people and people to teams, and its ``gh-copilot``
and ``q_dev`` plugins store AI-assistant use per person per day. :func:`read_events` turns it
into the event tables of :func:`cts.build_panel`. Mapping (DevLake's column names):

==================  ======================================================================
panel column        DevLake source
==================  ======================================================================
``crs_merged``      ``pull_requests`` with ``status = 'MERGED'``, week of ``merged_date``,
                    else ``closed_date``, else ``created_date`` (Bitbucket never sets
                    ``merged_date``; counted in a warning), team of ``author_id``; revert
                    pull requests are rollbacks, not CRs
``rollbacks``       merged revert pull requests (``title`` starts ``Revert "`` or ``head_ref``
                    starts ``revert-``) into a main branch (``base_ref``, default ``main`` or
                    ``master``): DevLake has no rollback concept, and a revert merged into
                    the main branch is how a bad change is taken back out
``deployments``     distinct ``cicd_deployment_commits.cicd_deployment_id`` with ``result =
                    'SUCCESS'`` whose ``environment`` or ``name`` matches the production
                    pattern (``production``; DevLake writes ``PRODUCTION`` only where a scope
                    config matched, else the raw name), week of the deployment's last
                    ``finished_date``, team of each deployed commit's author (``commit_sha``
                    -> ``commits.author_id``), as DevLake's DORA-by-team
``pages``           ``incidents`` and the ``issues`` of type ``INCIDENT`` not among them (same
                    ``id`` or ``url``), week of ``created_date``, once for each team of any
                    assignee (``assignee_id``, ``issue_assignees``, ``incident_assignees``);
                    an assignee id is a ``user_accounts.account_id``, a ``users.id``, or a
                    vendor's raw id (PagerDuty, Teambition, Opsgenie) that ends such an id of
                    the incident's own plugin
``n_builders``      people on the team (``team_users``) from their first to their last
                    activity (authored commit, merged pull request, AI-assistant day)
``ai_active_``      people with a day of activity in the week in
``builders``        ``_tool_copilot_user_daily_metrics`` (``user_login``) or
                    ``_tool_q_dev_user_data`` (``display_name``), matched to
                    ``accounts.user_name``; per tool: ``ai_active_builders_copilot``,
                    ``ai_active_builders_q``
``lines_changed``   ``pull_requests.additions + deletions`` of the CRs above (unknown in a
                    week with a PR without them)
==================  ======================================================================

A team is ``teams.name``; an account reaches it through ``user_accounts`` -> ``team_users``
(the path of DevLake's own team dashboards). A person on several teams counts for each, as in
DevLake. With ``project``, pull requests, deployments and incidents are those of the project's
scopes in ``project_mapping``, and only teams with work in the project are kept. Bots (accounts
whose ``_tool_github_accounts.type`` is ``Bot``, logins ending ``[bot]``, and the logins in
``bots``) are never builders, and their work counts for no team.

Filtering, the joins to teams, de-duplication and the weekly aggregation run in the database:
only team-week counts and one row per person and team come back, never a table. Person ids are
hashed in the database (md5 with a salt drawn for each call) before they leave it and are only
counted; with a shared ``hasher`` (``sources.toml``), the handles of the people on teams leave
it too, to be hashed at once as the other sources hash theirs. Every row left out is counted,
by kind and reason, in a :class:`DevLakeWarning`. DevLake has no manual pipeline
interventions and no on-call rota: those tables are empty (their columns 0) and a
:class:`DevLakeWarning` names the gap.
"""

from __future__ import annotations

import os
import re
import secrets
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from tqdm import tqdm

from cts.core.exceptions import SourceWarning
from cts.sources.contract import TABLES, EventError
from cts.sources.identity import Identities
from cts.sources.records import person_hasher

__all__ = [
    "AI_TABLES",
    "AI_TABLE_TOOLS",
    "MAIN_BRANCHES",
    "PRODUCTION",
    "DevLakeWarning",
    "database_url",
    "read_events",
    "shown_url",
]

#: Branches a revert must be merged into to count as a rollback.
MAIN_BRANCHES: tuple[str, ...] = ("main", "master")
#: The panel's tool (``cts.AI_TOOLS``) of each AI-assistant table.
AI_TABLE_TOOLS: dict[str, str] = {
    "_tool_copilot_user_daily_metrics": "copilot",
    "_tool_q_dev_user_data": "q",
}
#: Default production pattern (Python regex, searched in ``cicd_deployment_commits.environment``
#: and ``name``): DevLake's own ``PRODUCTION``, in any case.
PRODUCTION = r"(?i)^production$"
#: AI-assistant tables: table -> (its login column, its day column, SQL condition of activity).
AI_TABLES: dict[str, tuple[str, str, str]] = {
    "_tool_copilot_user_daily_metrics": (
        "user_login",
        "day",
        "(x.user_initiated_interaction_count > 0 OR x.code_generation_activity_count > 0 "
        "OR x.code_acceptance_activity_count > 0 OR x.used_chat OR x.used_agent)",
    ),
    # The Q Developer user activity report has a row for a user on a day they used it.
    "_tool_q_dev_user_data": ("display_name", "date", "1 = 1"),
}
#: The DevLake columns read, per table (a missing one is an error naming table and column).
COLUMNS: dict[str, tuple[str, ...]] = {
    "pull_requests": (
        "id",
        "base_repo_id",
        "status",
        "title",
        "author_id",
        "merged_date",
        "closed_date",
        "created_date",
        "head_ref",
        "base_ref",
    ),
    "commits": ("sha", "author_id", "authored_date"),
    "cicd_deployment_commits": (
        "cicd_deployment_id",
        "cicd_scope_id",
        "commit_sha",
        "result",
        "environment",
        "name",
        "finished_date",
    ),
    "accounts": ("id", "user_name", "email"),
    "users": ("id", "email"),
    "user_accounts": ("user_id", "account_id"),
    "team_users": ("team_id", "user_id"),
    "teams": ("id", "name"),
    "project_mapping": ("project_name", "table", "row_id"),
    "incidents": ("id", "url", "created_date", "assignee_id", "table", "scope_id"),
    "issues": ("id", "url", "type", "created_date", "assignee_id"),
    "issue_assignees": ("issue_id", "assignee_id"),
    "incident_assignees": ("incident_id", "assignee_id"),
    "board_issues": ("board_id", "issue_id"),
    "_tool_github_accounts": ("login", "type"),
    "_tool_copilot_user_daily_metrics": (
        "user_login",
        "day",
        "user_initiated_interaction_count",
        "code_generation_activity_count",
        "code_acceptance_activity_count",
        "used_chat",
        "used_agent",
    ),
    "_tool_q_dev_user_data": ("display_name", "date"),
}
_REQUIRED = (
    "pull_requests",
    "commits",
    "cicd_deployment_commits",
    "accounts",
    "user_accounts",
    "team_users",
    "teams",
)
_DIALECTS = {  # DevLake's own DB_URL schemes -> SQLAlchemy's with the drivers cts installs
    "mysql": "mysql+pymysql",
    "mariadb": "mysql+pymysql",
    "postgres": "postgresql+psycopg",
    "postgresql": "postgresql+psycopg",
}
_GO_ONLY = ("parseTime", "loc")  # DevLake's DB_URL options for Go's driver


class DevLakeWarning(SourceWarning):
    """DevLake lacks data the panel needs; the affected columns and counts are named."""


@dataclass(frozen=True)
class _Source:
    """What one database offers: its tables and dialect."""

    name: str  # database name, for messages
    shown: str  # host[:port]/database, never user or password
    dialect: str
    tables: dict[str, set[str]]  # table -> columns


def database_url(url: str):
    """A SQLAlchemy URL from ``url``: SQLAlchemy's form or DevLake's own ``DB_URL``
    (``mysql://user:pass@host:3306/lake?charset=utf8mb4&parseTime=True``).

    ``mysql``/``mariadb`` use PyMySQL, ``postgres``/``postgresql`` psycopg 3; a MySQL URL without
    a password takes ``MYSQL_PWD`` from the environment (PostgreSQL's libpq reads ``PGPASSWORD``
    and ``~/.pgpass`` itself).
    """
    try:
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError
    except ImportError:  # pragma: no cover - depends on the install
        raise ImportError("reading DevLake needs SQLAlchemy: pip install 'cts[devlake]'") from None

    try:
        parsed = make_url(url)
    except ArgumentError:
        raise EventError(
            "the DevLake URL is not a database URL; expected e.g. "
            "postgresql://user@host:5432/lake or mysql://user@host:3306/lake"
        ) from None
    except ValueError:  # SQLAlchemy reads what follows the first `@` as host:port
        raise EventError(
            "the DevLake URL does not parse: its port is not a number, or its password holds "
            "`@`, `:` or `/` unencoded (write them %40, %3A, %2F; or leave the password out and "
            "set PGPASSWORD or MYSQL_PWD)"
        ) from None
    if parsed.host and "@" in parsed.host:  # `user:p@ss@host`: the password ends at its `@`
        raise EventError(
            "the DevLake URL's password holds an unencoded `@`: write it %40 (or leave the "
            "password out and set PGPASSWORD or MYSQL_PWD)"
        )
    driver = _DIALECTS.get(parsed.drivername)
    if driver:
        parsed = parsed.set(drivername=driver)
    if parsed.get_backend_name() not in ("mysql", "postgresql"):
        raise EventError(
            f"DevLake runs on MySQL or PostgreSQL, not {parsed.get_backend_name()!r} "
            f"({shown_url(parsed)})"
        )
    if parsed.get_backend_name() == "mysql":
        parsed = parsed.difference_update_query(_GO_ONLY)
        if parsed.password is None and os.environ.get("MYSQL_PWD"):
            parsed = parsed.set(password=os.environ["MYSQL_PWD"])
    if not parsed.database:
        raise EventError(
            f"the DevLake URL {shown_url(parsed)} names no database (DevLake's is usually `lake`)"
        )
    return parsed


def shown_url(address) -> str:
    """The part of a database URL that may be printed: ``host[:port]/database``.

    Never the user, the password (in the URL or a ``password=`` query parameter) or any other
    query parameter: only what tells the reader which server and database were meant.
    """
    query = dict(address.query)
    host = address.host or query.get("host") or query.get("unix_socket") or "localhost"
    host = host[0] if isinstance(host, tuple) else host
    port = f":{address.port}" if address.port else ""
    return f"{host}{port}/{address.database or ''}"


def read_events(
    url: str,
    *,
    project: str | None = None,
    bots: Iterable[str] = (),
    main_branches: Iterable[str] = MAIN_BRANCHES,
    production: str | None = None,
    allow_missing_ai: bool = False,
    team_map: Mapping[str, str] | None = None,
    hasher: Callable[[str], str] | None = None,
    identities: Identities | None = None,
    progress: bool = False,
) -> dict[str, pd.DataFrame]:
    """Event tables (the :func:`cts.build_panel` contract) from a DevLake database.

    Parameters
    ----------
    url
        The database: a SQLAlchemy URL (``postgresql+psycopg://user@host/lake``,
        ``mysql+pymysql://user@host/lake``) or DevLake's ``DB_URL`` (see :func:`database_url`).
        Only read: every query runs in a read-only transaction. The password is never shown.
    project
        A DevLake project name: only its repositories' pull requests, its CI/CD scopes'
        deployments and its incidents, and only the teams that have work in it. Default: all.
    bots
        Further logins (``accounts.user_name``) that are bots; GitHub's ``Bot`` accounts and
        logins ending ``[bot]`` always are.
    main_branches
        Branches (``pull_requests.base_ref``) into which a merged revert is a rollback.
    production
        Which successful deployments are production ones: a Python regex searched in
        ``cicd_deployment_commits.environment`` and ``name`` (DevLake's scope-config
        ``productionPattern`` idea, applied when reading). Default :data:`PRODUCTION`:
        ``PRODUCTION`` in any case, byte for byte the same on PostgreSQL and MySQL. When
        successful deployments exist but none matches, the default pattern raises an
        :class:`EventError` listing the environments found (a panel with 0 deployments would
        read as "never deployed"); a pattern you pass that matches none only warns.
    team_map
        DevLake team name -> the panel's team id (teams not named keep their name), e.g. to
        match the team names of an identity file.
    hasher
        Person hasher shared with other sources (:func:`cts.sources.records.person_hasher`):
        each DevLake user is hashed from ``person:<id>`` of ``identities`` when one of their
        handles (``users.email``, their accounts' ``email`` and ``user_name``, account ids as
        ``vendor:id``) is in it, else from ``email:<users.email or an account e-mail>``, else
        ``login:<user_name>``: the keys git, Copilot and PagerDuty use, so people join
        across sources. Without it (and without ``identities``), person ids are salted hashes
        drawn in the database for this read alone.
    identities
        An identity file (:func:`cts.sources.identity.read_identities`), see ``hasher``.
    allow_missing_ai
        Without AI-assistant data (neither table of :data:`AI_TABLES` exists, or both are
        empty) the reader refuses: ``ai_active_builders`` is a required panel column and a
        column of zeros would say "nobody used an assistant", which the data does not say, and
        would silently bias every adoption estimate. With ``True`` it is 0 everywhere and a
        :class:`DevLakeWarning` says so: good enough for CTS-SW and its drivers, never for the
        adoption effect.
    progress
        Show a progress bar, one step per table read.

    Returns
    -------
    dict of pandas.DataFrame
        ``roster``, ``code_reviews``, ``deployments``, ``rollbacks``, ``pages``, ``ai_usage``
        and empty ``interventions`` and ``oncall``. Events are dated the Monday of their week
        (the panel's resolution: the database aggregates by week); ``person_id`` is a salted
        hash.

    Raises
    ------
    EventError
        A bad URL, an unreachable server or database, missing tables or columns (all named at
        once, with the database), an unknown project, no AI data (see ``allow_missing_ai``),
        an invalid ``production`` pattern, or successful deployments none of which the
        default pattern calls production (see ``production``).

    Warns
    -----
    DevLakeWarning
        Every row left out, counted by kind and reason (accounts on no team, unassigned
        incidents, assignees that are no DevLake person, deployed commits not collected,
        rows without a date), merged pull requests dated by a fallback, bots' work left out,
        a missing AI table, and the columns DevLake cannot fill.
    """
    from sqlalchemy import create_engine

    pattern = _production_pattern(production)
    address = database_url(url)
    shown = shown_url(address)
    try:
        engine = create_engine(address)
    except Exception as error:  # a missing driver, bad options
        raise EventError(
            f"cannot open DevLake database {shown}: {_reason(error, address)}"
        ) from None
    steps = tqdm(total=8, desc="read DevLake", disable=not progress, unit="table")
    try:
        with steps, _connect(engine, address, shown) as connection:
            steps.set_postfix_str("schema")
            source = _inspect(connection, address, shown)
            query = _Queries(connection, source, project, tuple(bots), tuple(main_branches))
            query.check_project()
            ai_tables = _ai_tables(query, source, allow_missing_ai)
            query.set_production(pattern, explicit=production is not None)
            _warn_undated(query.undated_prs(), source)
            steps.update()
            tables: dict[str, pd.DataFrame] = {}
            for name, read in (
                ("code_reviews", lambda: query.weekly(query.merged_prs(revert=False), True)),
                ("rollbacks", lambda: query.weekly(query.merged_prs(revert=True))),
                ("deployments", lambda: query.weekly(query.deployments())),
                ("pages", lambda: query.weekly(query.incidents())),
                ("ai_usage", lambda: query.ai_usage(ai_tables)),
                ("roster", lambda: query.roster(ai_tables)),
            ):
                steps.set_postfix_str(name)
                tables[name] = read()
                steps.update()
            steps.set_postfix_str("unmapped work")
            _warn_unmapped(query.unmapped(ai_tables), source)
            if hasher is not None or identities is not None:
                keys = _person_keys(query.handles(), identities)
                hasher = hasher or person_hasher()
                for name in ("roster", "ai_usage"):
                    persons = tables[name]["person_id"]
                    tables[name]["person_id"] = [
                        hasher(keys.get(p, f"devlake:{p}")) for p in persons
                    ]
            steps.update()
    finally:
        engine.dispose()
    return _event_tables(tables, project is not None, team_map or {})


# --- connecting and checking ------------------------------------------------------------------


def _mask_text(text: str) -> str:
    """``text`` with the passwords of URL-like ``user:password@`` and ``password=`` replaced."""
    import re

    text = re.sub(r"(//[^:/\s]*:)\S*@", r"\1***@", text)
    return re.sub(r"(password\s*=\s*)('[^']*'|\"[^\"]*\"|[^\s&;]+)", r"\1***", text, flags=re.I)


def _reason(error: BaseException, address) -> str:
    """The driver's reason in one line, never with the password."""
    cause = getattr(error, "orig", None) or error
    text = " ".join(str(cause).split()) or type(cause).__name__
    if address is not None:
        secrets = [address.password, dict(address.query).get("password")]
        for secret in secrets:
            for value in secret if isinstance(secret, tuple) else [secret]:
                if value:
                    text = text.replace(str(value), "***")
    return _mask_text(text)


class _connect:
    """A read-only connection in UTC, or an :class:`EventError` naming the database."""

    def __init__(self, engine, address, shown: str) -> None:
        self.engine, self.address, self.shown = engine, address, shown

    def __enter__(self):
        from sqlalchemy import text

        try:
            self.connection = self.engine.connect()
        except Exception as error:
            raise EventError(
                f"cannot connect to DevLake database {self.shown}: {_reason(error, self.address)}"
            ) from None
        if self.engine.dialect.name == "postgresql":
            setup = ["SET TIME ZONE 'UTC'", "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY"]
        else:  # DevLake writes DATETIME in UTC (its DB_URL has loc=UTC)
            setup = ["SET time_zone = '+00:00'", "SET SESSION TRANSACTION READ ONLY"]
        for statement in setup:
            self.connection.execute(text(statement))
        self.connection.commit()
        return self.connection

    def __exit__(self, *exc) -> None:
        self.connection.rollback()  # nothing to keep: the session is read-only
        self.connection.close()


def _inspect(connection, address, shown: str) -> _Source:
    """The DevLake tables and columns present; an error naming every one missing."""
    from sqlalchemy import inspect

    inspector = inspect(connection)
    present = set(inspector.get_table_names())
    tables = {
        name: {c["name"] for c in inspector.get_columns(name)}
        for name in COLUMNS
        if name in present
    }
    source = _Source(address.database, shown, connection.dialect.name, tables)
    problems = [f"table `{name}` is missing" for name in _REQUIRED if name not in tables]
    if "incidents" not in tables and "issues" not in tables:
        problems.append("tables `incidents` and `issues` are missing (pages)")
    for name, columns in tables.items():
        lacking = [c for c in COLUMNS[name] if c not in columns]
        if lacking:
            problems.append(
                f"table `{name}` lacks column(s) {', '.join(f'`{c}`' for c in lacking)}"
            )
    if problems:
        if not tables:
            problems = ["it holds none of DevLake's tables (is it DevLake's database?)"]
        raise EventError([f"DevLake database `{source.name}` ({shown}): {p}" for p in problems])
    return source


def _ai_tables(query: _Queries, source: _Source, allow_missing_ai: bool) -> list[str]:
    present = [t for t in AI_TABLES if t in source.tables]
    with_rows = [t for t in present if query.has_rows(t)]
    if not with_rows:
        what = (
            f"its table(s) {', '.join(f'`{t}`' for t in present)} are empty"
            if present
            else f"neither `{'` nor `'.join(AI_TABLES)}` exists"
        )
        if not allow_missing_ai:
            raise EventError(
                f"DevLake database `{source.name}` has no AI-assistant data ({what}): "
                "`ai_active_builders` cannot be counted, and zeros would claim nobody used an "
                "assistant. Collect it with DevLake's gh-copilot or q_dev plugin, or pass "
                "allow_missing_ai=True (cts build-panel --allow-missing-ai) to build a panel "
                "for cost and drivers only, with ai_active_builders = 0"
            )
        warnings.warn(
            f"DevLake database `{source.name}` has no AI-assistant data ({what}): "
            "`ai_active_builders` is 0 everywhere, which means unknown, not unused; do not "
            "estimate the adoption effect from this panel",
            DevLakeWarning,
            stacklevel=3,
        )
        return []
    for table in AI_TABLES:
        if table not in present:
            warnings.warn(
                f"DevLake database `{source.name}` has no table `{table}` (DevLake before "
                f"v1.0.2, or its plugin not installed): AI use recorded there is not counted; "
                f"`ai_active_builders` comes from {', '.join(f'`{t}`' for t in with_rows)}",
                DevLakeWarning,
                stacklevel=3,
            )
    return with_rows


# --- the queries ------------------------------------------------------------------------------


class _Queries:
    """The SQL, one method per event kind, for one connection (PostgreSQL or MySQL)."""

    def __init__(self, connection, source: _Source, project, bots, main_branches) -> None:
        self.connection, self.source, self.project = connection, source, project
        self.bots, self.main_branches = bots, main_branches
        self.salt = secrets.token_hex(16)  # per call: the hashes match no list of known ids
        self.quote = connection.dialect.identifier_preparer.quote
        self.postgres = source.dialect == "postgresql"

    # building blocks

    def week(self, expression: str) -> str:
        """The Monday (a DATE) of a timestamp or date, in UTC."""
        if self.postgres:
            return f"CAST(date_trunc('week', {expression}) AS DATE)"
        return f"DATE_SUB(DATE({expression}), INTERVAL WEEKDAY({expression}) DAY)"

    def params(self) -> dict:
        return {
            "project": self.project,
            "bots": list(self.bots),
            "main_branches": list(self.main_branches),
            "production_envs": list(getattr(self, "production_envs", [])),
            "production_names": list(getattr(self, "production_names", [])),
        }

    def run(self, sql: str) -> pd.DataFrame:
        from sqlalchemy import bindparam, text

        statement = text(sql)
        for name in ("bots", "main_branches", "production_envs", "production_names"):
            if f":{name}" in sql:
                statement = statement.bindparams(bindparam(name, expanding=True))
        wanted = {k: v for k, v in self.params().items() if f":{k}" in sql}
        try:
            result = self.connection.execute(statement, wanted)
            return pd.DataFrame(result.fetchall(), columns=list(result.keys()))
        except Exception as error:
            raise EventError(
                f"DevLake database `{self.source.name}` ({self.source.shown}): a query failed: "
                f"{_reason(error, None)}"
            ) from None

    def has_rows(self, table: str) -> bool:
        return len(self.run(f"SELECT 1 AS x FROM {table} LIMIT 1")) > 0

    def bot_accounts(self) -> str:
        """Account ids of bots."""
        rules = ["a.user_name LIKE '%[bot]'"] + (["a.user_name IN :bots"] if self.bots else [])
        if "_tool_github_accounts" in self.source.tables:
            rules.append(
                "a.user_name IN (SELECT g.login FROM _tool_github_accounts g WHERE g.type = 'Bot')"
            )
        return f"SELECT a.id FROM accounts a WHERE {' OR '.join(rules)}"

    def members(self) -> str:
        """Account -> (user, team) for the accounts of people on teams, bots left out."""
        return f"""SELECT ua.account_id, ua.user_id, COALESCE(NULLIF(t.name, ''), t.id) AS team_id
            FROM user_accounts ua
            JOIN team_users tu ON tu.user_id = ua.user_id
            JOIN teams t ON t.id = tu.team_id
            WHERE ua.account_id NOT IN ({self.bot_accounts()})"""

    def in_project(self, table: str, column: str) -> str:
        if self.project is None:
            return "1 = 1"
        return (
            f"{column} IN (SELECT pm.row_id FROM project_mapping pm WHERE "
            f"pm.project_name = :project AND pm.{self.quote('table')} = '{table}')"
        )

    def check_project(self) -> None:
        if self.project is None:
            return
        if "project_mapping" not in self.source.tables:
            raise EventError(
                f"DevLake database `{self.source.name}` has no table `project_mapping`: "
                f"cannot select project {self.project!r}"
            )
        found = self.run("SELECT COUNT(*) AS n FROM project_mapping WHERE project_name = :project")[
            "n"
        ].iloc[0]
        if found == 0:
            known = self.run(
                "SELECT DISTINCT project_name FROM project_mapping ORDER BY project_name LIMIT 20"
            )["project_name"].tolist()
            raise EventError(
                f"DevLake database `{self.source.name}` has no project {self.project!r} in table "
                f"`project_mapping` (column `project_name`); projects: "
                + (", ".join(map(repr, known)) or "none")
            )

    # the events: each a query of (team_id, time) rows, aggregated by :meth:`weekly`

    #: When a merged pull request was merged: ``merged_date``, else (Bitbucket never sets it)
    #: ``closed_date``, else ``created_date``.
    MERGED_AT = "COALESCE(pr.merged_date, pr.closed_date, pr.created_date)"

    def merged(self) -> str:
        """Condition on ``pr``: merged, in the project."""
        return f"pr.status = 'MERGED' AND {self.in_project('repos', 'pr.base_repo_id')}"

    def merged_prs(self, *, revert: bool) -> str:
        is_revert = "(pr.title LIKE 'Revert \"%' OR pr.head_ref LIKE 'revert-%')"
        into_main = "pr.base_ref IN :main_branches" if self.main_branches else "1 = 0"
        kind = f"{is_revert} AND {into_main}" if revert else f"NOT {is_revert}"
        return f"""SELECT m.team_id, {self.MERGED_AT} AS at{self.pr_size()}
            FROM pull_requests pr JOIN ({self.members()}) m ON m.account_id = pr.author_id
            WHERE {self.merged()} AND {self.MERGED_AT} IS NOT NULL AND {kind}"""

    def undated_prs(self) -> dict[str, int]:
        """Merged pull requests without ``merged_date``, by the date that stands in."""
        row = self.run(
            f"""SELECT
                SUM(CASE WHEN pr.closed_date IS NOT NULL THEN 1 ELSE 0 END) AS closed_date,
                SUM(CASE WHEN pr.closed_date IS NULL AND pr.created_date IS NOT NULL
                    THEN 1 ELSE 0 END) AS created_date
            FROM pull_requests pr WHERE pr.merged_date IS NULL AND {self.merged()}"""
        ).iloc[0]
        return {str(k): int(v or 0) for k, v in row.items()}

    def exact(self, column: str) -> str:
        """``column`` for byte-for-byte comparison (MySQL's default collations ignore case)."""
        return column if self.postgres else f"BINARY {column}"

    def successful(self) -> str:
        """Condition on ``cdc``: a successful deployment of the project."""
        return f"cdc.result = 'SUCCESS' AND {self.in_project('cicd_scopes', 'cdc.cicd_scope_id')}"

    def set_production(self, pattern: re.Pattern, *, explicit: bool) -> None:
        """Find the environments and names ``pattern`` calls production (in Python, so every
        server agrees); refuse or warn when successful deployments exist but none match."""
        found = {}
        for column in ("environment", "name"):
            rows = self.run(
                f"""SELECT {self.exact(f"cdc.{column}")} AS v,
                    COUNT(DISTINCT cdc.cicd_deployment_id) AS n
                FROM cicd_deployment_commits cdc WHERE {self.successful()}
                GROUP BY {self.exact(f"cdc.{column}")}"""
            )
            values = [
                v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in rows["v"]
            ]
            found[column] = dict(zip(values, rows["n"].astype(int), strict=True))
        self.production_envs = [v for v in found["environment"] if v and pattern.search(v)]
        self.production_names = [v for v in found["name"] if v and pattern.search(v)]
        if self.production_envs or self.production_names or not found["environment"]:
            return
        total = int(
            self.run(
                "SELECT COUNT(DISTINCT cdc.cicd_deployment_id) AS n FROM cicd_deployment_commits "
                f"cdc WHERE {self.successful()}"
            )["n"].iloc[0]
        )
        counts = sorted(found["environment"].items(), key=lambda e: (-e[1], str(e[0])))
        listed = ", ".join(f"{env!r} ({n:,})" for env, n in counts[:20])
        example = next((e for e, _ in counts if e), "production")
        suggestion = "^" + re.escape(example).replace("\\-", "-") + "$"  # `-` is literal here
        where = f" project {self.project!r}" if self.project else ""
        message = (
            f"DevLake database `{self.source.name}`{where}: none of its {total:,} successful "
            f"deployment(s) is a production one: no `cicd_deployment_commits.environment` or "
            f"`name` matches the production pattern {pattern.pattern!r}. Environments found "
            f"(deployments): {listed}. Name production with a Python regex over `environment` "
            f"and `name` (as DevLake's scope-config production pattern): "
            f"read_events(..., production={suggestion!r}), cts build-panel --devlake URL OUT "
            f"--production {suggestion!r}, or `production = {suggestion!r}` under [devlake] "
            f"in sources.toml"
        )
        if not explicit:
            raise EventError(message)
        warnings.warn(message + "; `deployments` is 0", DevLakeWarning, stacklevel=4)

    def production(self) -> str:
        """Condition on ``cdc``: a production deployment (see :meth:`set_production`)."""
        parts = []
        if self.production_envs:
            parts.append(f"{self.exact('cdc.environment')} IN :production_envs")
        if self.production_names:
            parts.append(f"{self.exact('cdc.name')} IN :production_names")
        return f"({' OR '.join(parts)})" if parts else "1 = 0"

    def deployments(self) -> str:
        # One per deployment and team of its commits' authors, at its last finish (DORA by team).
        return f"""SELECT d.team_id, d.at FROM (
                SELECT cdc.cicd_deployment_id, m.team_id, MAX(cdc.finished_date) AS at
                FROM cicd_deployment_commits cdc
                JOIN commits c ON c.sha = cdc.commit_sha
                JOIN ({self.members()}) m ON m.account_id = c.author_id
                WHERE {self.successful()} AND {self.production()}
                  AND cdc.finished_date IS NOT NULL
                GROUP BY cdc.cicd_deployment_id, m.team_id
            ) d"""

    # incidents: the `incidents` table and INCIDENT issues, each person assigned in any table

    def prefix(self, column: str) -> str:
        """A domain id's plugin (``pagerduty`` of ``pagerduty:Incident:1:7``)."""
        if self.postgres:
            return f"split_part({column}, ':', 1)"
        return f"SUBSTRING_INDEX({column}, ':', 1)"

    def raw_id(self, column: str) -> str:
        """The vendor's own id in a DevLake domain id (its last ``:`` part)."""
        if self.postgres:
            return f"regexp_replace({column}, '^.*:', '')"
        return f"SUBSTRING_INDEX({column}, ':', -1)"

    def incident_list(self) -> str:
        """(id, at, assignee_id) of the incidents in scope: rows of ``incidents`` and the
        ``issues`` of type INCIDENT that are not among them (same id, or same url)."""
        tables, parts = self.source.tables, []
        if "incidents" in tables:
            scope = "1 = 1"
            if self.project is not None:
                scope = (
                    f"EXISTS (SELECT 1 FROM project_mapping pm WHERE pm.project_name = :project "
                    f"AND pm.{self.quote('table')} = i.{self.quote('table')} "
                    f"AND pm.row_id = i.scope_id)"
                )
            parts.append(
                f"SELECT i.id, i.created_date AS at, i.assignee_id FROM incidents i WHERE {scope}"
            )
        if "issues" in tables:
            scope = "1 = 1"
            if self.project is not None:
                scope = (
                    "i.id IN (SELECT bi.issue_id FROM board_issues bi WHERE "
                    f"{self.in_project('boards', 'bi.board_id')})"
                )
            if "incidents" in tables:
                scope += (
                    " AND NOT EXISTS (SELECT 1 FROM incidents x WHERE x.id = i.id "
                    "OR (x.url = i.url AND i.url <> ''))"
                )
            parts.append(
                "SELECT i.id, i.created_date AS at, i.assignee_id FROM issues i "
                f"WHERE i.type = 'INCIDENT' AND {scope}"
            )
        return " UNION ALL ".join(parts)

    def assignments(self) -> str:
        """(id, at, assignee_id): each incident with each of its assignees, from its own
        ``assignee_id``, ``issue_assignees`` and ``incident_assignees``."""
        listed = self.incident_list()
        parts = [f"SELECT i.id, i.at, i.assignee_id FROM ({listed}) i"]
        for table, key in (("issue_assignees", "issue_id"), ("incident_assignees", "incident_id")):
            if table in self.source.tables:
                parts.append(
                    f"SELECT i.id, i.at, a.assignee_id FROM ({listed}) i "
                    f"JOIN {table} a ON a.{key} = i.id"
                )
        return f"""SELECT u.id, u.at, u.assignee_id FROM ({" UNION ".join(parts)}) u
            WHERE u.assignee_id IS NOT NULL AND u.assignee_id <> ''"""

    def assignee_people(self) -> str:
        """(assignee_id, plugin, user_id): the ways an assignee id names a DevLake user. A
        domain account id mapped in ``user_accounts`` (any plugin, ``plugin`` empty); a
        vendor's raw id (PagerDuty, Teambition, Opsgenie write those) as the last part of a
        mapped account id or of a ``users.id`` of the incident's own plugin; a ``users.id``."""
        bots = self.bot_accounts()
        parts = [
            f"SELECT ua.account_id AS assignee_id, '' AS plugin, ua.user_id FROM user_accounts ua "
            f"WHERE ua.account_id NOT IN ({bots})",
            f"SELECT {self.raw_id('ua.account_id')}, {self.prefix('ua.account_id')}, ua.user_id "
            f"FROM user_accounts ua WHERE ua.account_id LIKE '%:%' "
            f"AND ua.account_id NOT IN ({bots})",
        ]
        if "users" in self.source.tables:
            parts += [
                "SELECT u.id, '', u.id FROM users u",
                f"SELECT {self.raw_id('u.id')}, {self.prefix('u.id')}, u.id FROM users u "
                "WHERE u.id LIKE '%:%'",
            ]
        return " UNION ".join(parts)

    def assigned_people(self) -> str:
        """(id, at, user_id) of each incident and each DevLake user assigned to it."""
        return f"""SELECT DISTINCT a.id, a.at, p.user_id FROM ({self.assignments()}) a
            JOIN ({self.assignee_people()}) p ON p.assignee_id = a.assignee_id
             AND (p.plugin = '' OR p.plugin = {self.prefix("a.id")})"""

    def incident_teams(self) -> str:
        """(id, at, team_id): each incident once for each team one of its assignees is on."""
        return f"""SELECT DISTINCT a.id, a.at, COALESCE(NULLIF(t.name, ''), t.id) AS team_id
            FROM ({self.assigned_people()}) a
            JOIN team_users tu ON tu.user_id = a.user_id JOIN teams t ON t.id = tu.team_id"""

    def incidents(self) -> str:
        return f"""SELECT x.team_id, x.at FROM ({self.incident_teams()}) x
            WHERE x.at IS NOT NULL"""

    def pr_size(self) -> str:
        """``, <lines> AS size`` of a pull request (``pr``), where DevLake records sizes."""
        if not {"additions", "deletions"} <= self.source.tables["pull_requests"]:
            return ""
        return ", pr.additions + pr.deletions AS size"

    def weekly(self, events: str, sized: bool = False) -> pd.DataFrame:
        """Events per team and week (their Monday); with ``sized`` (and sizes recorded), their
        summed ``size`` and the events without one (``unsized``)."""
        sizes = ""
        if sized and self.pr_size():
            sizes = ", SUM(e.size) AS size, COUNT(*) - COUNT(e.size) AS unsized"
        return self.run(
            f"SELECT e.team_id, {self.week('e.at')} AS week, COUNT(*) AS n{sizes} "
            f"FROM ({events}) e GROUP BY e.team_id, {self.week('e.at')}"
        )

    def ai_days(self, ai_tables: list[str], *, mapped: bool = True) -> str:
        """(account, day) of AI-assistant activity, from every AI table present."""
        parts = []
        for table in ai_tables:
            login, day, active = AI_TABLES[table]
            parts.append(
                f"SELECT a.id AS account_id, x.{day} AS at, '{AI_TABLE_TOOLS[table]}' AS tool "
                f"FROM {table} x JOIN accounts a ON a.user_name = x.{login} WHERE {active}"
            )
        return " UNION ALL ".join(parts)

    def ai_usage(self, ai_tables: list[str]) -> pd.DataFrame:
        """Distinct (person, team, week, tool) of AI use, hashed after de-duplication."""
        if not ai_tables:
            return pd.DataFrame({"person_id": [], "team_id": [], "week": [], "tool": []})
        return self.run(
            f"""SELECT {self.person("u.user_id")} AS person_id, u.team_id, u.week,
                       u.tool FROM (
                SELECT DISTINCT m.user_id, m.team_id, {self.week("d.at")} AS week, d.tool
                FROM ({self.ai_days(ai_tables)}) d
                JOIN ({self.members()}) m ON m.account_id = d.account_id
            ) u"""
        )

    def person(self, user_id: str) -> str:
        """A DevLake user id salted and hashed in the database (md5)."""
        return f"md5(CONCAT('{self.salt}', {user_id}))"

    def roster(self, ai_tables: list[str]) -> pd.DataFrame:
        """Each person's first and last activity, per team."""
        activity = [
            "SELECT c.author_id AS account_id, c.authored_date AS at FROM commits c",
            f"SELECT pr.author_id, {self.MERGED_AT} FROM pull_requests pr "
            "WHERE pr.status = 'MERGED'",
        ]
        if ai_tables:
            activity.append(f"SELECT d.account_id, d.at FROM ({self.ai_days(ai_tables)}) d")
        spans = f"""SELECT a.account_id, MIN(a.at) AS first_at, MAX(a.at) AS last_at
            FROM ({" UNION ALL ".join(activity)}) a GROUP BY a.account_id"""
        return self.run(
            f"""SELECT {self.person("p.user_id")} AS person_id, p.team_id,
                       p.start_date, p.end_date FROM (
                SELECT m.user_id, m.team_id, MIN(s.first_at) AS start_date,
                       MAX(s.last_at) AS end_date
                FROM ({spans}) s JOIN ({self.members()}) m ON m.account_id = s.account_id
                GROUP BY m.user_id, m.team_id
            ) p"""
        )

    def handles(self) -> pd.DataFrame:
        """(person_id, kind, handle) of the people on teams: ``users.email`` (kind
        ``user_email``) and their accounts' ``email``, ``user_name`` (``login``) and id
        (``account``). They leave the database only to be hashed (:func:`_person_keys`)."""
        parts = [
            "SELECT ua.user_id, 'email' AS kind, a.email AS handle FROM user_accounts ua "
            "JOIN accounts a ON a.id = ua.account_id",
            "SELECT ua.user_id, 'login', a.user_name FROM user_accounts ua "
            "JOIN accounts a ON a.id = ua.account_id",
            "SELECT ua.user_id, 'account', ua.account_id FROM user_accounts ua",
        ]
        if "users" in self.source.tables:
            parts.append("SELECT u.id, 'user_email', u.email FROM users u")
        return self.run(
            f"""SELECT DISTINCT {self.person("h.user_id")} AS person_id, h.kind, h.handle
            FROM ({" UNION ALL ".join(parts)}) h
            WHERE h.handle IS NOT NULL AND h.handle <> ''
              AND h.user_id IN (SELECT tu.user_id FROM team_users tu)"""
        )

    def count(self, sql: str) -> int:
        return int(self.run(f"SELECT COUNT(*) AS n FROM ({sql}) c")["n"].iloc[0])

    def unmapped(self, ai_tables: list[str]) -> dict[str, dict[str, int]]:
        """Every row left out, by kind and reason (each reason with its count); ``accounts``:
        the accounts on no team whose work is left out; ``bots``: bots' merged PRs."""
        on_team = (
            "SELECT ua.account_id FROM user_accounts ua "
            "JOIN team_users tu ON tu.user_id = ua.user_id"
        )
        bots = self.bot_accounts()
        nobody = (
            f"(e.account_id IS NULL OR e.account_id NOT IN ({on_team})) "
            f"AND (e.account_id IS NULL OR e.account_id NOT IN ({bots}))"
        )
        prs = f"""SELECT pr.author_id AS account_id, {self.MERGED_AT} AS at
            FROM pull_requests pr WHERE {self.merged()}"""
        lost: dict[str, dict[str, int]] = {}
        accounts: set[int] = set()

        def tally(kind: str, events: str) -> None:
            row = self.run(
                f"SELECT COUNT(*) AS n, COUNT(DISTINCT e.account_id) AS accounts "
                f"FROM ({events}) e WHERE {nobody}"
            ).iloc[0]
            lost.setdefault(kind, {})["of accounts on no team"] = int(row["n"])
            accounts.add(int(row["accounts"]))

        tally("merged pull request(s)", prs)
        lost["merged pull request(s)"]["without any date"] = self.count(
            f"SELECT 1 AS x FROM ({prs}) e WHERE e.at IS NULL"
        )
        if ai_tables:
            tally("AI-assistant day(s)", self.ai_days(ai_tables))
            for table in ai_tables:
                login, _, active = AI_TABLES[table]
                lost["AI-assistant day(s)"].setdefault("of logins that are no DevLake account", 0)
                lost["AI-assistant day(s)"]["of logins that are no DevLake account"] += self.count(
                    f"SELECT 1 AS y FROM {table} x WHERE {active} AND "
                    f"x.{login} NOT IN (SELECT a.user_name FROM accounts a "
                    "WHERE a.user_name IS NOT NULL)"
                )
        lost["production deployment(s)"] = self.lost_deployments()
        if self.incident_list():
            listed, assigned = self.incident_list(), self.assignments()
            n_all = self.count(f"SELECT DISTINCT i.id FROM ({listed}) i")
            n_assigned = self.count(f"SELECT DISTINCT a.id FROM ({assigned}) a")
            n_people = self.count(f"SELECT DISTINCT a.id FROM ({self.assigned_people()}) a")
            n_teams = self.count(f"SELECT DISTINCT a.id FROM ({self.incident_teams()}) a")
            n_dated = self.count(
                f"SELECT DISTINCT a.id FROM ({self.incident_teams()}) a WHERE a.at IS NOT NULL"
            )
            lost["incident(s)"] = {
                "unassigned": n_all - n_assigned,
                "whose assignees are no DevLake person (map their ids in user_accounts)": (
                    n_assigned - n_people
                ),
                "whose assignees are on no team": n_people - n_teams,
                "without `created_date`": n_teams - n_dated,
            }
        row = self.run(
            f"""SELECT COUNT(*) AS n, COUNT(DISTINCT e.account_id) AS accounts FROM ({prs}) e
            WHERE e.account_id IN ({bots})"""
        ).iloc[0]
        lost["bots"] = {"prs": int(row["n"]), "accounts": int(row["accounts"]), "ai": 0}
        if ai_tables:
            lost["bots"]["ai"] = self.count(
                f"SELECT 1 AS x FROM ({self.ai_days(ai_tables)}) e WHERE e.account_id IN ({bots})"
            )
        lost["accounts"] = {"n": max(accounts)}
        return lost

    def lost_deployments(self) -> dict[str, int]:
        """Successful production deployments that reach no team, by reason."""
        members = f"SELECT x.account_id FROM ({self.members()}) x"
        deployed = f"""SELECT cdc.cicd_deployment_id AS event, cdc.finished_date AS at,
                c.author_id AS account_id
            FROM cicd_deployment_commits cdc LEFT JOIN commits c ON c.sha = cdc.commit_sha
            WHERE {self.successful()} AND {self.production()}"""
        row = self.run(
            f"""SELECT
                SUM(CASE WHEN u.at IS NULL THEN 1 ELSE 0 END) AS undated,
                SUM(CASE WHEN u.at IS NOT NULL AND u.known = 0 THEN 1 ELSE 0 END) AS uncollected,
                SUM(CASE WHEN u.at IS NOT NULL AND u.known > 0 AND u.on_team = 0
                    THEN 1 ELSE 0 END) AS nobody
            FROM (
                SELECT d.event, MAX(d.at) AS at, COUNT(d.account_id) AS known,
                       SUM(CASE WHEN d.account_id IN ({members}) THEN 1 ELSE 0 END) AS on_team
                FROM ({deployed}) d GROUP BY d.event
            ) u"""
        ).iloc[0]
        return {
            "without `finished_date`": int(row["undated"] or 0),
            "whose commits are not in `commits` (repository not collected)": int(
                row["uncollected"] or 0
            ),
            "whose commits' authors are on no team": int(row["nobody"] or 0),
        }


def _warn_undated(counts: dict[str, int], source: _Source) -> None:
    if sum(counts.values()):
        warnings.warn(
            f"DevLake database `{source.name}`: {sum(counts.values()):,} merged pull request(s) "
            f"have no `merged_date` (Bitbucket never sets it) and are dated by `closed_date` "
            f"({counts['closed_date']:,}) or, without one, by `created_date` "
            f"({counts['created_date']:,})",
            DevLakeWarning,
            stacklevel=3,
        )


def _warn_unmapped(lost: dict[str, dict[str, int]], source: _Source) -> None:
    bots, accounts = lost.pop("bots"), lost.pop("accounts")["n"]
    parts = [
        f"{n:,} {kind} {reason}"
        for kind, reasons in lost.items()
        for reason, n in reasons.items()
        if n
    ]
    if parts:
        warnings.warn(
            f"DevLake database `{source.name}`: rows left out of the panel: "
            + "; ".join(parts)
            + (
                f" (accounts on no team: at least {accounts:,}; map those people to teams in "
                "DevLake: teams.csv, users.csv, user_account_mapping.csv)"
                if accounts
                else ""
            ),
            DevLakeWarning,
            stacklevel=3,
        )
    if bots["prs"]:
        warnings.warn(
            f"DevLake database `{source.name}`: {bots['prs']:,} merged pull request(s) of "
            f"{bots['accounts']:,} bot account(s) are left out (bots are never builders)"
            + (f", and {bots['ai']:,} AI-assistant day(s) of bots" if bots["ai"] else ""),
            DevLakeWarning,
            stacklevel=3,
        )


def _production_pattern(production: str | None) -> re.Pattern:
    pattern = PRODUCTION if production is None else production
    try:
        return re.compile(pattern)
    except (re.error, TypeError) as error:
        raise EventError(
            f"production pattern {pattern!r} is not a Python regular expression ({error}); "
            f"e.g. {PRODUCTION!r} or '(?i)prod'"
        ) from None


def _person_keys(handles: pd.DataFrame, identities: Identities | None) -> dict[str, str]:
    """Each DevLake person's canonical key, as the other readers hash theirs: ``person:<id>``
    of the identity file when any handle is in it, else ``email:`` (``users.email`` first),
    else ``login:``."""
    keys: dict[str, str] = {}
    order = {"user_email": 0, "email": 1, "login": 2, "account": 3}
    handles = handles.assign(rank=handles["kind"].map(order)).sort_values(["rank", "handle"])
    for person_id, rows in handles.groupby("person_id", sort=False):
        person = str(person_id)
        pairs = list(zip(rows["kind"], rows["handle"].astype(str).str.strip(), strict=True))
        known = None
        if identities is not None:
            for kind, handle in pairs:
                if kind == "account":  # a domain id: plugin:Type:connection:vendor id
                    plugin, _, vendor = handle.partition(":")
                    known = identities.person(vendor.rsplit(":", 1)[-1], plugin)
                else:
                    known = identities.person(handle, "email" if "email" in kind else "login")
                if known is not None:
                    break
        if known is not None:
            keys[person] = f"person:{known}"
            continue
        email = next((h for k, h in pairs if "email" in k), None)
        login = next((h for k, h in pairs if k == "login"), None)
        if email:
            keys[person] = f"email:{email.lower()}"
        elif login:
            keys[person] = f"login:{login.lower()}"
    return keys


# --- to the event-log contract ----------------------------------------------------------------


def _events(weekly: pd.DataFrame, time: str) -> pd.DataFrame:
    """One row per event, dated its week's Monday, from counts per team and week."""
    counts = weekly["n"].astype("int64").to_numpy()
    return pd.DataFrame(
        {
            "team_id": np.repeat(weekly["team_id"].astype(str).to_numpy(), counts),
            time: np.repeat(_dates(weekly["week"]).to_numpy(), counts),
        }
    )


def _dates(values: pd.Series) -> pd.Series:
    stamps = pd.to_datetime(values, utc=True)
    return stamps.dt.tz_localize(None).astype("datetime64[s]")


def _empty(name: str) -> pd.DataFrame:
    table = TABLES[name]
    columns = {c: pd.Series([], dtype=object) for c in table.columns}
    for column in (*table.columns, *table.optional_times):
        if column.endswith(("_at", "_date")):
            columns[column] = pd.Series([], dtype="datetime64[s]")
    return pd.DataFrame(columns)


def _sized_events(weekly: pd.DataFrame) -> pd.DataFrame:
    """CRs from counts per team and week, with each week's summed size on its first CR (the
    panel sums them) and unknown (NULL) where one of the week's PRs has none."""
    events = _events(weekly, "merged_at")
    if "size" not in weekly:
        return events
    known = weekly["unsized"].astype("int64") == 0
    size = pd.to_numeric(weekly["size"], errors="coerce").astype("float64")  # MySQL: Decimal
    lines = pd.array(size.where(known), dtype="Int64")
    first = np.repeat(np.arange(len(weekly)), weekly["n"].astype("int64").to_numpy())
    leads = np.r_[True, first[1:] != first[:-1]] if len(first) else np.array([], dtype=bool)
    additions = pd.array(np.zeros(len(first), dtype="int64"), dtype="Int64")
    additions[leads] = lines[first[leads]]
    return events.assign(additions=additions, deletions=pd.array([0] * len(first), "Int64"))


def _event_tables(
    tables: dict[str, pd.DataFrame], scoped: bool, team_map: Mapping[str, str]
) -> dict[str, pd.DataFrame]:
    for table in tables.values():
        table["team_id"] = [team_map.get(t, t) for t in table["team_id"].astype(str)]
    events = {
        "code_reviews": _sized_events(tables["code_reviews"]),
        "rollbacks": _events(tables["rollbacks"], "rolled_back_at"),
        "deployments": _events(tables["deployments"], "deployed_at"),
        "pages": _events(tables["pages"], "paged_at"),
    }
    usage = tables["ai_usage"]
    events["ai_usage"] = pd.DataFrame(
        {
            "person_id": usage["person_id"].astype(str),
            "team_id": usage["team_id"].astype(str),
            "used_at": _dates(usage["week"]),
            "tool": usage["tool"].astype(str),
        }
    )
    roster = tables["roster"]
    roster = pd.DataFrame(
        {
            "person_id": roster["person_id"].astype(str),
            "team_id": roster["team_id"].astype(str),
            "start_date": _dates(roster["start_date"]),
            "end_date": _dates(roster["end_date"]),
        }
    )
    if scoped:  # a project: only the teams with work in it
        working = set().union(*(set(e["team_id"]) for e in events.values()))
        roster = roster.loc[roster["team_id"].isin(working)]
    # Work of a team none of whose people has any activity (e.g. only incidents assigned):
    # no builders, so no panel row to count it in.
    on_roster = set(roster["team_id"])
    dropped = {n: int((~e["team_id"].isin(on_roster)).sum()) for n, e in events.items()}
    if any(dropped.values()):
        warnings.warn(
            "DevLake: work of teams with no active builder (no commit, merged pull request or "
            "AI-assistant day of any member) is not in the panel: "
            + ", ".join(f"{n:,} {name}" for name, n in dropped.items() if n),
            DevLakeWarning,
            stacklevel=3,
        )
        events = {n: e.loc[e["team_id"].isin(on_roster)] for n, e in events.items()}
    events["roster"] = roster.reset_index(drop=True)
    events = {n: e.reset_index(drop=True) for n, e in events.items()}
    events["interventions"] = _empty("interventions")
    events["oncall"] = _empty("oncall")
    warnings.warn(
        "DevLake records no manual pipeline interventions and no on-call rota: "
        "`manual_interventions` and `oncall_builders` are 0 (unknown, not none); add an "
        "`interventions` or `oncall` table (e.g. a PagerDuty export) to the events to fill them",
        DevLakeWarning,
        stacklevel=3,
    )
    return events
