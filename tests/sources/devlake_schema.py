"""DevLake's tables for the tests: DDL written from its Go models, and a simulated org in them.

Columns and types follow apache/incubator-devlake's ``backend/core/models/domainlayer``
(``code/pull_request.go``, ``code/commit.go``, ``devops/cicd_deployment_commit.go``,
``ticket/incident.go``, ``ticket/issue.go``, ``ticket/issue_assignee.go``,
``ticket/incident_assginee.go``, ``crossdomain/{account,user,user_account,team,team_user,
project_mapping}.go``) and the plugins' ``_tool_github_accounts``
(``plugins/github/models/account.go``), ``_tool_copilot_user_daily_metrics``
(``plugins/gh-copilot/models/user_metrics.go``) and ``_tool_q_dev_user_data``
(``plugins/q_dev/models/user_data.go``), as GORM creates them: a Go ``string`` without a type
is ``longtext`` on MySQL and ``text`` on PostgreSQL, ``time.Time`` is ``datetime(3)`` /
``timestamptz``, ``int`` is ``bigint``, ``bool`` is ``tinyint(1)`` / ``boolean``. Only the
tables and columns the reader uses and some neighbours.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

# GORM's column types per dialect.
TYPES = {
    "mysql": {
        "text": "longtext",
        "ts": "datetime(3)",
        "int": "bigint",
        "uint": "bigint unsigned",
        "bool": "tinyint(1)",
        "date": "date",
    },
    "postgresql": {
        "text": "text",
        "ts": "timestamp with time zone",
        "int": "bigint",
        "uint": "bigint",
        "bool": "boolean",
        "date": "date",
    },
}
NO_PK_MODEL = [
    ("created_at", "ts"),
    ("updated_at", "ts"),
    ("_raw_data_params", "varchar(255)"),
    ("_raw_data_table", "varchar(255)"),
    ("_raw_data_id", "uint"),
    ("_raw_data_remark", "text"),
]
ENTITY = [("id", "varchar(255)"), *NO_PK_MODEL]  # domainlayer.DomainEntity
COPILOT_ACTIVITY = [
    (c, "int")
    for c in (
        "user_initiated_interaction_count",
        "code_generation_activity_count",
        "code_acceptance_activity_count",
        "loc_suggested_to_add_sum",
        "loc_suggested_to_delete_sum",
        "loc_added_sum",
        "loc_deleted_sum",
    )
]
#: table -> (columns with GORM type, primary key)
SCHEMA: dict[str, tuple[list[tuple[str, str]], tuple[str, ...]]] = {
    "pull_requests": (
        [
            *ENTITY,
            ("base_repo_id", "varchar(255)"),
            ("head_repo_id", "varchar(255)"),
            ("status", "varchar(100)"),
            ("original_status", "varchar(100)"),
            ("title", "text"),
            ("description", "text"),
            ("url", "varchar(255)"),
            ("author_name", "varchar(100)"),
            ("author_id", "varchar(100)"),
            ("merged_by_name", "varchar(100)"),
            ("merged_by_id", "varchar(100)"),
            ("parent_pr_id", "varchar(100)"),
            ("pull_request_key", "int"),
            ("created_date", "ts"),
            ("merged_date", "ts"),
            ("closed_date", "ts"),
            ("type", "varchar(100)"),
            ("component", "varchar(100)"),
            ("merge_commit_sha", "varchar(40)"),
            ("head_ref", "varchar(255)"),
            ("base_ref", "varchar(255)"),
            ("base_commit_sha", "varchar(40)"),
            ("head_commit_sha", "varchar(40)"),
            ("additions", "int"),
            ("deletions", "int"),
            ("is_draft", "bool"),
        ],
        ("id",),
    ),
    "commits": (
        [
            *NO_PK_MODEL,
            ("sha", "varchar(40)"),
            ("additions", "int"),
            ("deletions", "int"),
            ("dev_eq", "int"),
            ("message", "text"),
            ("author_name", "varchar(255)"),
            ("author_email", "varchar(255)"),
            ("authored_date", "ts"),
            ("author_id", "varchar(255)"),
            ("committer_name", "varchar(255)"),
            ("committer_email", "varchar(255)"),
            ("committed_date", "ts"),
            ("committer_id", "varchar(255)"),
        ],
        ("sha",),
    ),
    "cicd_deployment_commits": (
        [
            *ENTITY,
            ("cicd_scope_id", "varchar(255)"),
            ("cicd_deployment_id", "varchar(255)"),
            ("name", "varchar(255)"),
            ("display_title", "text"),
            ("url", "text"),
            ("result", "varchar(100)"),
            ("status", "varchar(100)"),
            ("original_status", "varchar(100)"),
            ("original_result", "varchar(100)"),
            ("environment", "varchar(255)"),
            ("original_environment", "varchar(255)"),
            ("created_date", "ts"),
            ("queued_date", "ts"),
            ("started_date", "ts"),
            ("finished_date", "ts"),
            ("duration_sec", "double precision"),
            ("queued_duration_sec", "double precision"),
            ("commit_sha", "varchar(255)"),
            ("commit_msg", "text"),
            ("ref_name", "varchar(255)"),
            ("repo_id", "varchar(255)"),
            ("repo_url", "varchar(255)"),
            ("prev_success_deployment_commit_id", "varchar(255)"),
            ("subtask_name", "varchar(255)"),
        ],
        ("id", "commit_sha"),
    ),
    "incidents": (
        [
            *ENTITY,
            ("url", "varchar(255)"),
            ("incident_key", "varchar(255)"),
            ("title", "text"),
            ("description", "text"),
            ("status", "varchar(100)"),
            ("original_status", "varchar(100)"),
            ("resolution_date", "ts"),
            ("created_date", "ts"),
            ("updated_date", "ts"),
            ("lead_time_minutes", "uint"),
            ("creator_id", "varchar(255)"),
            ("creator_name", "varchar(255)"),
            ("priority", "varchar(255)"),
            ("severity", "varchar(255)"),
            ("urgency", "varchar(255)"),
            ("component", "varchar(255)"),
            ("original_project", "varchar(255)"),
            ("table", "varchar(255)"),
            ("scope_id", "varchar(255)"),
            ("assignee_id", "varchar(255)"),
            ("assignee_name", "varchar(255)"),
        ],
        ("id",),
    ),
    "issues": (
        [
            *ENTITY,
            ("url", "varchar(255)"),
            ("issue_key", "varchar(255)"),
            ("title", "text"),
            ("type", "varchar(100)"),
            ("original_type", "varchar(500)"),
            ("status", "varchar(100)"),
            ("resolution_date", "ts"),
            ("created_date", "ts"),
            ("updated_date", "ts"),
            ("creator_id", "varchar(255)"),
            ("assignee_id", "varchar(255)"),
            ("assignee_name", "varchar(255)"),
        ],
        ("id",),
    ),
    "issue_assignees": (  # ticket/issue_assignee.go
        [
            ("issue_id", "varchar(255)"),
            ("assignee_id", "varchar(255)"),
            ("assignee_name", "varchar(255)"),
            *NO_PK_MODEL,
        ],
        ("issue_id", "assignee_id"),
    ),
    "incident_assignees": (  # ticket/incident_assginee.go (sic), written by the dora plugin
        [
            ("incident_id", "varchar(255)"),
            ("assignee_id", "varchar(255)"),
            ("assignee_name", "varchar(255)"),
            *NO_PK_MODEL,
        ],
        ("incident_id", "assignee_id"),
    ),
    "board_issues": (
        [("board_id", "varchar(255)"), ("issue_id", "varchar(255)"), *NO_PK_MODEL],
        ("board_id", "issue_id"),
    ),
    "accounts": (
        [
            *ENTITY,
            ("email", "varchar(255)"),
            ("full_name", "varchar(255)"),
            ("user_name", "varchar(255)"),
            ("avatar_url", "varchar(255)"),
            ("organization", "varchar(255)"),
            ("created_date", "ts"),
            ("status", "int"),
        ],
        ("id",),
    ),
    "users": ([*ENTITY, ("email", "varchar(255)"), ("name", "varchar(255)")], ("id",)),
    "user_accounts": (
        [("user_id", "varchar(255)"), ("account_id", "varchar(255)"), *NO_PK_MODEL],
        ("account_id",),
    ),
    "teams": (
        [
            *ENTITY,
            ("name", "varchar(255)"),
            ("alias", "varchar(255)"),
            ("parent_id", "varchar(255)"),
            ("sorting_index", "int"),
        ],
        ("id",),
    ),
    "team_users": (
        [("team_id", "varchar(255)"), ("user_id", "varchar(255)"), *NO_PK_MODEL],
        ("team_id", "user_id"),
    ),
    "project_mapping": (
        [
            ("project_name", "varchar(255)"),
            ("table", "varchar(255)"),
            ("row_id", "varchar(255)"),
            *NO_PK_MODEL,
        ],
        ("project_name", "table", "row_id"),
    ),
    "_tool_github_accounts": (
        [
            ("connection_id", "uint"),
            ("id", "int"),
            ("login", "varchar(255)"),
            ("name", "varchar(255)"),
            ("company", "varchar(255)"),
            ("email", "varchar(255)"),
            ("avatar_url", "varchar(255)"),
            ("url", "varchar(255)"),
            ("html_url", "varchar(255)"),
            ("type", "varchar(255)"),
            *NO_PK_MODEL,
        ],
        ("connection_id", "id"),
    ),
    "_tool_copilot_user_daily_metrics": (
        [
            ("connection_id", "uint"),
            ("scope_id", "varchar(255)"),
            ("day", "date"),
            ("user_id", "int"),
            ("organization_id", "varchar(100)"),
            ("enterprise_id", "varchar(100)"),
            ("user_login", "varchar(255)"),
            ("used_agent", "bool"),
            ("used_chat", "bool"),
            *COPILOT_ACTIVITY,
            *NO_PK_MODEL,
        ],
        ("connection_id", "scope_id", "day", "user_id"),
    ),
    "_tool_q_dev_user_data": (
        [
            *NO_PK_MODEL,
            ("connection_id", "uint"),
            ("scope_id", "varchar(255)"),
            ("user_id", "varchar(255)"),
            ("date", "date"),
            ("display_name", "varchar(255)"),
            ("inline_acceptance_count", "int"),
            ("inline_suggestions_count", "int"),
            ("chat_messages_sent", "int"),
        ],
        ("connection_id", "scope_id", "user_id", "date"),
    ),
}


def ddl(dialect: str, table: str, *, drop: tuple[str, ...] = ()) -> str:
    """``CREATE TABLE`` for one DevLake table (without the columns in ``drop``)."""
    quote = (lambda n: f"`{n}`") if dialect == "mysql" else (lambda n: f'"{n}"')
    columns, key = SCHEMA[table]
    lines = [
        f"{quote(name)} {TYPES[dialect].get(kind, kind)}" + (" NOT NULL" if name in key else "")
        for name, kind in columns
        if name not in drop
    ]
    lines.append(f"PRIMARY KEY ({', '.join(quote(k) for k in key)})")
    return f"CREATE TABLE {quote(table)} (\n  " + ",\n  ".join(lines) + "\n)"


# --- a simulated organisation in DevLake's shape --------------------------------------------

PROJECT, OTHER_PROJECT = "cts", "other"
REPO, OTHER_REPO = "github:GithubRepo:1:1", "github:GithubRepo:1:2"
CICD_SCOPE, BOARD = "github:GithubRepo:1:1", "pagerduty:PagerDutyService:1:web"
OUTSIDER = "github:GithubAccount:1:999001"  # an account no person owns
CONTRACTOR = "github:GithubAccount:1:999002"  # a person on no team
#: Bots put on the first team (so counting them would show): by GitHub type, by [bot] suffix,
#: and one only the ``bots`` argument names.
BOTS = {
    "github:GithubAccount:1:999101": "release-drafter",
    "github:GithubAccount:1:999102": "dependabot[bot]",
    "github:GithubAccount:1:999103": "ci-robot",
}
LISTED_BOT = "ci-robot"


@dataclass
class DevLakeOrg:
    """DevLake rows (table -> DataFrame) and what a correct reader must report."""

    tables: dict[str, pd.DataFrame]
    unmapped_prs: int  # merged pull requests of accounts on no team, in the project
    other_project_prs: int  # merged CRs of team members in the other project
    bot_prs: int


def devlake_org(events: dict[str, pd.DataFrame], last_day: pd.Timestamp, seed: int = 0):
    """``simulate_org(...).events`` as DevLake rows.

    Each simulated person is a DevLake user with one GitHub account on their team; a
    person's first and last activity (commits) fall in the first and last week of their roster
    entry (``last_day`` for entries still open). Each event is the work of a person on its team
    in its week; an event in a week no one is on the team (which the panel does not count) is
    the work of an account on no team. Decoys that must not count: closed pull requests,
    failed and staging deployments, a revert into a release branch, an idle Copilot day, bots
    on a team, a person on no team, and pull requests of another project.
    """
    rng = np.random.default_rng(seed)
    roster = events["roster"].reset_index(drop=True)
    number = {p: i + 1 for i, p in enumerate(sorted(roster["person_id"].unique()))}
    roster["account"] = roster["person_id"].map(lambda p: f"github:GithubAccount:1:{number[p]}")
    roster["login"] = roster["person_id"].map(lambda p: f"dev{number[p]}")
    roster["user"] = "user:" + roster["person_id"]
    roster["first_week"] = _monday(roster["start_date"])
    roster["end"] = roster["end_date"].fillna(last_day)
    roster["last_week"] = _monday(roster["end"])
    team_ids = sorted(roster["team_id"].unique())
    team_key = {t: f"team:{i + 1}" for i, t in enumerate(team_ids)}

    def authors(frame: pd.DataFrame, time: str) -> pd.Series:
        """An account on the event's team in its week (OUTSIDER if none), picked at random."""
        work = frame[["team_id", time]].reset_index(names="event")
        work["week"] = _monday(work[time])
        pairs = work.merge(roster[["team_id", "account", "first_week", "last_week"]], on="team_id")
        pairs = pairs.loc[
            (pairs["first_week"] <= pairs["week"]) & (pairs["week"] <= pairs["last_week"])
        ]
        pairs = pairs.assign(draw=rng.random(len(pairs))).sort_values(["event", "draw"])
        chosen = pairs.drop_duplicates("event").set_index("event")["account"]
        return chosen.reindex(work["event"]).fillna(OUTSIDER).set_axis(frame.index)

    people = pd.concat(
        [
            pd.DataFrame(
                {"account": roster["account"], "login": roster["login"], "user": roster["user"]}
            ),
            pd.DataFrame(
                {
                    "account": [OUTSIDER, CONTRACTOR],
                    "login": ["outsider", "contractor"],
                    "user": [None, "user:contractor"],
                }
            ),
            pd.DataFrame(
                {
                    "account": list(BOTS),
                    "login": list(BOTS.values()),
                    "user": [f"user:bot{i}" for i in range(len(BOTS))],
                }
            ),
        ],
        ignore_index=True,
    )
    bot_team = team_key[team_ids[0]]
    tables: dict[str, pd.DataFrame] = {
        "teams": pd.DataFrame(
            {
                "id": list(team_key.values()),
                "name": list(team_key),
                "sorting_index": range(len(team_key)),
            }
        ),
        "users": pd.DataFrame({"id": people["user"].dropna(), "name": people["login"]}).dropna(),
        "accounts": pd.DataFrame(
            {
                "id": people["account"],
                "user_name": people["login"],
                "email": people["login"] + "@example.com",
            }
        ),
        "user_accounts": people.loc[people["user"].notna(), ["user", "account"]].rename(
            columns={"user": "user_id", "account": "account_id"}
        ),
        "team_users": pd.concat(
            [
                pd.DataFrame(
                    {"team_id": roster["team_id"].map(team_key), "user_id": roster["user"]}
                ),
                pd.DataFrame(
                    {"team_id": bot_team, "user_id": [f"user:bot{i}" for i in range(len(BOTS))]}
                ),
            ],
            ignore_index=True,
        ),
        "_tool_github_accounts": pd.DataFrame(
            {
                "connection_id": 1,
                "id": [999101, 999102, 1],
                "login": ["release-drafter", "dependabot[bot]", "dev1"],
                "type": ["Bot", "Bot", "User"],
            }
        ),
        "project_mapping": pd.DataFrame(
            {
                "project_name": [PROJECT, PROJECT, PROJECT, OTHER_PROJECT],
                "table": ["repos", "cicd_scopes", "boards", "repos"],
                "row_id": [REPO, CICD_SCOPE, BOARD, OTHER_REPO],
            }
        ),
    }

    # Activity spans: a commit in the first and the last week of each roster entry.
    commits = [
        pd.DataFrame(
            {
                "author_id": roster["account"],
                "authored_date": roster["start_date"] + pd.Timedelta(hours=9),
            }
        ),
        pd.DataFrame(
            {
                "author_id": roster["account"],
                "authored_date": roster["end"].dt.normalize() + pd.Timedelta(hours=9),
            }
        ),
    ]

    # Pull requests: CRs, reverts (rollbacks), and decoys.
    crs = events["code_reviews"]
    reverts = events["rollbacks"]
    cr_authors, revert_authors = authors(crs, "merged_at"), authors(reverts, "rolled_back_at")
    n_cr, n_rev = len(crs), len(reverts)
    by_title = np.arange(n_rev) % 2 == 0  # half are reverts by title, half by head branch
    prs = [
        pd.DataFrame(
            {
                "author_id": cr_authors.to_numpy(),
                "merged_date": crs["merged_at"].to_numpy(),
                "title": [f"Change {k}" for k in range(n_cr)],
                "head_ref": [f"feature-{k}" for k in range(n_cr)],
                "base_ref": "main",
                "status": "MERGED",
                "base_repo_id": REPO,
            }
        ),
        pd.DataFrame(
            {
                "author_id": revert_authors.to_numpy(),
                "merged_date": reverts["rolled_back_at"].to_numpy(),
                "title": np.where(by_title, 'Revert "Change 1"', "Undo change"),
                "head_ref": np.where(by_title, "fix-1", "revert-17-feature-1"),
                "base_ref": "master",
                "status": "MERGED",
                "base_repo_id": REPO,
            }
        ),
    ]
    sample = crs.sample(min(40, n_cr), random_state=seed)
    members = authors(sample, "merged_at")
    prs.append(
        pd.DataFrame(
            {  # not merged
                "author_id": members.to_numpy(),
                "merged_date": pd.NaT,
                "title": "Abandoned",
                "head_ref": "wip",
                "base_ref": "main",
                "status": "CLOSED",
                "base_repo_id": REPO,
            }
        )
    )
    prs.append(
        pd.DataFrame(
            {  # a revert into a release branch: neither CR nor rollback
                "author_id": members.to_numpy()[:5],
                "merged_date": sample["merged_at"].to_numpy()[:5],
                "title": 'Revert "Backport"',
                "head_ref": "revert-9",
                "base_ref": "release-1.0",
                "status": "MERGED",
                "base_repo_id": REPO,
            }
        )
    )
    on_team = members != OUTSIDER
    other = pd.DataFrame(
        {  # the other project's CRs, by people on teams
            "author_id": members[on_team].to_numpy(),
            "merged_date": sample["merged_at"][on_team].to_numpy(),
            "title": "Elsewhere",
            "head_ref": "feature-x",
            "base_ref": "main",
            "status": "MERGED",
            "base_repo_id": OTHER_REPO,
        }
    )
    prs.append(other)
    weeks = pd.date_range(roster["start_date"].min(), last_day, freq="7D") + pd.Timedelta(hours=12)
    contractor = pd.DataFrame(
        {
            "author_id": CONTRACTOR,
            "merged_date": weeks[:7],
            "title": "Consulting",
            "head_ref": "feature-c",
            "base_ref": "main",
            "status": "MERGED",
            "base_repo_id": REPO,
        }
    )
    prs.append(contractor)
    bot_prs = pd.DataFrame(
        {
            "author_id": np.resize(list(BOTS), len(weeks)),
            "merged_date": weeks,
            "title": "Bump dependency",
            "head_ref": "dependabot/x",
            "base_ref": "main",
            "status": "MERGED",
            "base_repo_id": REPO,
        }
    )
    prs.append(bot_prs)
    pull_requests = pd.concat(prs, ignore_index=True)
    pull_requests["id"] = [f"github:GithubPullRequest:1:{k}" for k in range(len(pull_requests))]
    pull_requests["created_date"] = pull_requests["merged_date"].fillna(last_day) - pd.Timedelta(
        days=1
    )
    tables["pull_requests"] = pull_requests
    # Bots commit too (all weeks), so their activity would make them builders if counted.
    commits.append(pd.DataFrame({"author_id": bot_prs["author_id"], "authored_date": weeks}))

    # Deployments: one deployment per simulated one, some with a second commit; decoys.
    deploys = events["deployments"].reset_index(drop=True)
    first, second = authors(deploys, "deployed_at"), authors(deploys, "deployed_at")
    rows = [
        pd.DataFrame(
            {
                "deployment": np.arange(len(deploys)),
                "author_id": first.to_numpy(),
                "at": deploys["deployed_at"].to_numpy(),
                "result": "SUCCESS",
                "environment": "PRODUCTION",
            }
        )
    ]
    twice = np.arange(len(deploys)) % 3 == 0
    rows.append(rows[0].loc[twice].assign(author_id=second.to_numpy()[twice]))
    decoys = rows[0].sample(min(60, len(deploys)), random_state=seed + 1)
    half = len(decoys) // 2
    rows.append(
        decoys.iloc[:half].assign(
            deployment=decoys["deployment"].iloc[:half] + 10**6, result="FAILURE"
        )
    )
    rows.append(
        decoys.iloc[half:].assign(
            deployment=decoys["deployment"].iloc[half:] + 2 * 10**6, environment="STAGING"
        )
    )
    deployment_commits = pd.concat(rows, ignore_index=True)
    deployment_commits["commit_sha"] = [f"{k:040x}" for k in range(len(deployment_commits))]
    deployment_commits["cicd_deployment_id"] = "github:GithubRun:1:" + deployment_commits[
        "deployment"
    ].astype(str)
    tables["cicd_deployment_commits"] = pd.DataFrame(
        {
            "id": deployment_commits["cicd_deployment_id"],
            "cicd_scope_id": CICD_SCOPE,
            "cicd_deployment_id": deployment_commits["cicd_deployment_id"],
            "commit_sha": deployment_commits["commit_sha"],
            "result": deployment_commits["result"],
            "status": "DONE",
            "environment": deployment_commits["environment"],
            "finished_date": deployment_commits["at"],
            "created_date": deployment_commits["at"],
            "repo_url": "https://github.com/example/app",
        }
    )
    commits.append(
        pd.DataFrame(
            {
                "sha": deployment_commits["commit_sha"],
                "author_id": deployment_commits["author_id"],
                "authored_date": deployment_commits["at"],
            }
        )
    )

    # Incidents (pages), assigned to a person on the team that week.
    pages = events["pages"]
    tables["incidents"] = pd.DataFrame(
        {
            "id": [f"pagerduty:PagerDutyIncident:1:{k}" for k in range(len(pages))],
            "created_date": pages["paged_at"].to_numpy(),
            "assignee_id": authors(pages, "paged_at").to_numpy(),
            "table": "boards",
            "scope_id": BOARD,
            "status": "DONE",
        }
    )

    # AI use: each simulated use day goes to Copilot or Q Developer.
    usage = events["ai_usage"].merge(
        roster[["person_id", "team_id", "login"]], on=["person_id", "team_id"]
    )
    usage["day"] = usage["used_at"].dt.normalize()
    usage = usage.drop_duplicates(["login", "day"])
    copilot = usage.loc[usage["login"].str[-1].isin(list("02468"))]
    q_dev = usage.drop(copilot.index)
    idle = roster.iloc[:3]  # a Copilot day without any activity: not AI use
    tables["_tool_copilot_user_daily_metrics"] = (
        pd.concat(
            [
                pd.DataFrame(
                    {
                        "user_login": copilot["login"],
                        "day": copilot["day"],
                        "user_initiated_interaction_count": 2,
                        "used_chat": False,
                    }
                ),
                pd.DataFrame(
                    {
                        "user_login": idle["login"],
                        "day": idle["start_date"] + pd.Timedelta(days=1),
                        "user_initiated_interaction_count": 0,
                        "used_chat": False,
                    }
                ),
                pd.DataFrame(
                    {
                        "user_login": list(BOTS.values()),
                        "day": weeks[0].normalize(),
                        "user_initiated_interaction_count": 5,
                        "used_chat": True,
                    }
                ),
            ],
            ignore_index=True,
        )
        .drop_duplicates(["user_login", "day"])
        .assign(
            connection_id=1,
            scope_id="example-org",
            used_agent=False,
            code_generation_activity_count=0,
            code_acceptance_activity_count=0,
        )
    )
    tables["_tool_copilot_user_daily_metrics"]["user_id"] = range(
        len(tables["_tool_copilot_user_daily_metrics"])
    )
    tables["_tool_q_dev_user_data"] = pd.DataFrame(
        {
            "connection_id": 1,
            "scope_id": "q",
            "user_id": "q-" + q_dev["login"],
            "date": q_dev["day"],
            "display_name": q_dev["login"],
            "inline_suggestions_count": 4,
        }
    )

    commits = pd.concat(commits, ignore_index=True)
    missing_sha = (
        commits["sha"].isna() if "sha" in commits else pd.Series(True, index=commits.index)
    )
    commits.loc[missing_sha, "sha"] = [f"a{k:039x}" for k in range(int(missing_sha.sum()))]
    tables["commits"] = commits

    unmapped = int((cr_authors == OUTSIDER).sum() + (revert_authors == OUTSIDER).sum())
    unmapped += int((members[:5] == OUTSIDER).sum()) + len(contractor)
    return DevLakeOrg(
        tables, unmapped_prs=unmapped, other_project_prs=len(other), bot_prs=len(bot_prs)
    )


def _monday(values: pd.Series) -> pd.Series:
    days = values.dt.normalize()
    return days - pd.to_timedelta(days.dt.day_of_week, unit="D")


def load(
    engine,
    tables: dict[str, pd.DataFrame],
    *,
    skip: tuple[str, ...] = (),
    drop_columns: dict[str, tuple[str, ...]] | None = None,
) -> None:
    """Create the DevLake tables (all of :data:`SCHEMA` but ``skip``), load ``tables`` (COPY on
    PostgreSQL, batched INSERT on MySQL) and ANALYZE them, as a running DevLake's are."""
    drop_columns = drop_columns or {}
    dialect = engine.dialect.name
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        if dialect == "postgresql":
            cursor.execute("SET TIME ZONE 'UTC'")
        for table in SCHEMA:
            if table in skip:
                continue
            cursor.execute(ddl(dialect, table, drop=drop_columns.get(table, ())))
            frame = tables.get(table)
            if frame is not None and not frame.empty:
                frame = frame.drop(columns=[c for c in drop_columns.get(table, ()) if c in frame])
                frame = frame.assign(
                    created_at=pd.Timestamp("2024-01-01"), updated_at=pd.Timestamp("2024-01-01")
                )
                insert(cursor, dialect, table, frame)
        connection.commit()
        for table in SCHEMA:
            if table not in skip:
                cursor.execute(
                    f'ANALYZE "{table}"' if dialect == "postgresql" else f"ANALYZE TABLE `{table}`"
                )
                if dialect != "postgresql":
                    cursor.fetchall()
        connection.commit()
    finally:
        connection.close()


def rows(frame: pd.DataFrame) -> list[tuple]:
    """Plain Python rows: datetimes as ``datetime``, missing values as ``None``."""
    columns = []
    for name in frame.columns:
        values = frame[name]
        if pd.api.types.is_datetime64_any_dtype(values):
            column = [None if pd.isna(v) else v.to_pydatetime() for v in values]
        else:
            column = [
                None
                if (v is None or (isinstance(v, float) and np.isnan(v)))
                else (v.item() if hasattr(v, "item") else v)
                for v in values.astype(object)
            ]
        columns.append(column)
    return list(zip(*columns, strict=True))


def insert(cursor, dialect: str, table: str, frame: pd.DataFrame) -> None:
    """Append ``frame`` to ``table`` through a DB-API cursor."""
    if dialect == "postgresql":
        names = ", ".join(f'"{c}"' for c in frame.columns)
        with cursor.copy(f'COPY "{table}" ({names}) FROM STDIN') as copy:
            for row in rows(frame):
                copy.write_row(row)
        return
    names = ", ".join(f"`{c}`" for c in frame.columns)
    marks = ", ".join(["%s"] * len(frame.columns))
    data = rows(frame)
    for start in range(0, len(data), 5000):  # PyMySQL folds these into multi-row INSERTs
        cursor.executemany(
            f"INSERT INTO `{table}` ({names}) VALUES ({marks})", data[start : start + 5000]
        )


def copy_database(engine, source: str, skip=(), drop_columns=None) -> None:
    """Make ``engine``'s database a copy of database ``source`` (on PostgreSQL it was created
    from it as a template) without the tables in ``skip`` and the columns in ``drop_columns``."""
    from sqlalchemy import text

    mysql = engine.dialect.name == "mysql"
    quote = (lambda n: f"`{n}`") if mysql else (lambda n: f'"{n}"')
    with engine.begin() as connection:
        for table in SCHEMA:
            if mysql and table not in skip:
                connection.execute(
                    text(f"CREATE TABLE {quote(table)} LIKE {source}.{quote(table)}")
                )
                connection.execute(
                    text(f"INSERT INTO {quote(table)} SELECT * FROM {source}.{quote(table)}")
                )
            elif not mysql and table in skip:
                connection.execute(text(f"DROP TABLE {quote(table)}"))
        for table, columns in (drop_columns or {}).items():
            for column in columns:
                connection.execute(text(f"ALTER TABLE {quote(table)} DROP COLUMN {quote(column)}"))


# --- DevLake as its plugins really fill it ------------------------------------------------------

#: The weeks (Mondays) of :func:`real_shapes`.
W1, W2, W3 = pd.Timestamp("2024-03-04"), pd.Timestamp("2024-03-11"), pd.Timestamp("2024-03-18")
SHAPES, PAGES_ONLY = "shapes", "pages-only"


def real_shapes() -> dict[str, pd.DataFrame]:
    """A small DevLake database with the raw values its plugins write (from the Go code of
    apache/incubator-devlake's plugins), two teams over three weeks.

    * Deployments (``cicd_deployment_commits``): ``environment`` is ``PRODUCTION`` only where a
      scope config's pattern matched (a GitHub Actions run), otherwise the raw name the
      github_graphql deployment convertor copies: lower-case ``production``, ``github-pages``,
      ``staging``, ``dev``. Project ``pages-only`` has successful deployments, none to
      production.
    * Bitbucket merged pull requests: ``status = 'MERGED'``, ``merged_date`` NULL (its
      extractor only sets it from the merge commit), ``closed_date`` mostly NULL.
    * Incidents: PagerDuty issues (``assignee_id`` is PagerDuty's raw user id, e.g.
      ``PBOB001``; a second assignee only in ``issue_assignees``; one unassigned, one assigned
      to a user nobody mapped), copied by the dora plugin into ``incidents`` and
      ``incident_assignees``; an Opsgenie incident whose responder is only in
      ``issue_assignees`` and is a DevLake ``users`` row of its own; a Teambition INCIDENT
      task whose ``assignee_id`` is Teambition's raw executor id; a GitHub incident issue; and
      the first PagerDuty incident again from a second connection (other id, same url).

    Expected panel (project ``shapes``), per team and week W1, W2, W3: ``crs_merged``
    payments 1 1 1, ledger 1 1 0; ``deployments`` (default pattern) payments 1 1 0, ledger
    1 1 1; with ``production='^github-pages$'`` payments 2 1 1, ledger 0 0 0; ``pages``
    payments 1 0 1, ledger 1 2 1; ``n_builders`` 2 everywhere; ``ai_active_builders``
    payments 1 0 0, ledger 0 1 0.
    """
    day = pd.Timedelta(days=1)
    people = {  # user -> (team, e-mail, GitHub login)
        "alice": ("team:a", "alice@corp.example", "alice-gh"),
        "bob": ("team:a", "bob@corp.example", "bob-gh"),
        "carol": ("team:b", "carol@corp.example", "carol-gh"),
        "dan": ("team:b", "dan@corp.example", "dan-gh"),
    }
    github = {u: f"github:GithubAccount:1:{100 + i}" for i, u in enumerate(people)}
    bitbucket = {u: f"bitbucket:BitbucketAccount:1:{{{u}-uuid}}" for u in ("alice", "dan")}
    accounts = [
        {"id": github[u], "user_name": login, "email": email, "full_name": u.title()}
        for u, (_, email, login) in people.items()
    ]
    accounts += [
        {"id": bitbucket[u], "user_name": u.title(), "email": None, "full_name": u.title()}
        for u in bitbucket
    ]
    accounts.append(  # Teambition's account converter: id from the raw user id
        {
            "id": "teambition:TeambitionAccount:1:tb-dan",
            "user_name": "Dan",
            "email": "dan@corp.example",
            "full_name": "Dan",
        }
    )
    user_accounts = [{"user_id": f"user:{u}", "account_id": a} for u, a in github.items()]
    user_accounts += [{"user_id": f"user:{u}", "account_id": a} for u, a in bitbucket.items()]
    user_accounts += [
        {"user_id": "user:dan", "account_id": "teambition:TeambitionAccount:1:tb-dan"},
        # PagerDuty writes no accounts: people map its users in user_account_mapping.csv, by
        # DevLake's id form or by PagerDuty's raw id.
        {"user_id": "user:bob", "account_id": "pagerduty:PagerDutyUser:1:PBOB001"},
        {"user_id": "user:carol", "account_id": "PCAR002"},
    ]
    users = [{"id": f"user:{u}", "name": u.title(), "email": e} for u, (_, e, _) in people.items()]
    # Opsgenie's users convertor writes a DevLake user (email = its username), no account.
    users.append({"id": "opsgenie:User:1:og-erin", "name": "Erin", "email": "erin@corp.example"})
    team_users = [{"team_id": t, "user_id": f"user:{u}"} for u, (t, _, _) in people.items()]
    team_users.append({"team_id": "team:b", "user_id": "opsgenie:User:1:og-erin"})

    # Activity: every person commits in W1 and W3 (builders all three weeks).
    commits = [
        {"sha": f"c{k:039x}", "author_id": github[u], "authored_date": week + day + 9 * HOUR}
        for k, (u, week) in enumerate((u, w) for u in people for w in (W1, W3))
    ]

    def pr(number, author, status, merged=None, closed=None, created=None, repo="github"):
        base = REPO if repo == "github" else "bitbucket:BitbucketRepo:1:corp/app"
        kind = "GithubPullRequest" if repo == "github" else "BitbucketPullRequest"
        return {
            "id": f"{repo}:{kind}:1:{number}",
            "base_repo_id": base,
            "status": status,
            "original_status": "MERGED" if status == "MERGED" else "DECLINED",
            "title": f"Change {number}",
            "author_id": author,
            "merged_date": merged,
            "closed_date": closed,
            "created_date": created if created is not None else (merged or closed) - day,
            "head_ref": f"feature-{number}",
            "base_ref": "main",
        }

    pull_requests = [
        pr(1, github["alice"], "MERGED", merged=W1 + 2 * day),
        pr(2, bitbucket["alice"], "MERGED", created=W2 + 10 * HOUR, repo="bitbucket"),
        pr(3, bitbucket["alice"], "MERGED", closed=W3 + day, created=W2, repo="bitbucket"),
        pr(4, bitbucket["dan"], "MERGED", created=W1 + 3 * day, repo="bitbucket"),
        pr(5, github["carol"], "MERGED", merged=W2 + 2 * day),
        pr(6, bitbucket["dan"], "DECLINED", created=W2, repo="bitbucket"),  # not merged
    ]

    deployments = []

    def deploy(number, author, week, environment, result="SUCCESS", scope=CICD_SCOPE):
        sha = f"d{number:039x}"
        commits.append({"sha": sha, "author_id": github[author], "authored_date": week})
        deployments.append(
            {
                "id": f"github:GithubDeployment:1:{number}",
                "cicd_deployment_id": f"github:GithubDeployment:1:{number}",
                "cicd_scope_id": scope,
                "name": "deploy",
                "commit_sha": sha,
                "result": result,
                "status": "DONE",
                "environment": environment,
                "original_environment": environment.lower(),
                "created_date": week + 2 * day,
                "finished_date": week + 2 * day + HOUR,
                "repo_url": "https://github.com/corp/app",
            }
        )

    deploy(1, "alice", W1, "PRODUCTION")  # a run matched by DevLake's production pattern
    deploy(2, "alice", W2, "PRODUCTION")
    for k, week in enumerate((W1, W2, W3)):
        deploy(10 + k, "carol", week, "production")  # GitHub deployments: the raw name
    for k, week in enumerate((W1, W1, W2, W3)):
        deploy(20 + k, "bob", week, "github-pages")
    deploy(30, "bob", W1, "staging")
    deploy(31, "dan", W2, "staging")
    deploy(32, "dan", W3, "dev")
    deploy(33, "carol", W3, "production", result="FAILURE")
    other_scope = "github:GithubRepo:1:3"
    for k, week in enumerate((W1, W2, W2, W3, W3)):
        deploy(40 + k, "bob", week, "github-pages", scope=other_scope)
    deploy(50, "bob", W1, "staging", scope=other_scope)
    deploy(51, "bob", W2, "staging", scope=other_scope)

    pd_board = "pagerduty:PagerDutyService:1:PSVC1"
    pd2_board = "pagerduty:PagerDutyService:2:PSVC1"
    og_board, tb_board = "opsgenie:Service:1:og-svc", "teambition:TeambitionProject:1:tb-proj"
    url = "https://corp.pagerduty.com/incidents/{}"
    issues = [  # (id, board, created, assignee_id, url)
        ("pagerduty:Incident:1:101", pd_board, W1 + day, "PBOB001", url.format("Q101")),
        ("pagerduty:Incident:1:102", pd_board, W2 + day, "PCAR002", url.format("Q102")),
        ("pagerduty:Incident:1:103", pd_board, W2 + 2 * day, "", url.format("Q103")),
        ("pagerduty:Incident:1:104", pd_board, W3 + day, "PZZZ999", url.format("Q104")),
        ("pagerduty:Incident:2:101", pd2_board, W1 + day, "PBOB001", url.format("Q101")),
        ("opsgenie:Incident:1:og-1", og_board, W3 + 2 * day, "", "https://corp.app.opsgenie.com/1"),
        ("teambition:TeambitionTask:1:tb-9", tb_board, W2 + 3 * day, "tb-dan", "https://tb/9"),
        ("github:GithubIssue:1:55", REPO, W3 + 3 * day, github["bob"], "https://github.com/i/55"),
    ]
    issue_rows = pd.DataFrame(
        {
            "id": [i[0] for i in issues],
            "created_date": [i[2] for i in issues],
            "assignee_id": [i[3] for i in issues],
            "url": [i[4] for i in issues],
            "type": "INCIDENT",
            "original_type": "incident",
            "status": "DONE",
        }
    )
    board_issues = pd.DataFrame({"board_id": [i[1] for i in issues], "issue_id": issue_rows["id"]})
    assignees = pd.DataFrame(
        [
            ("pagerduty:Incident:1:101", "PBOB001"),
            ("pagerduty:Incident:1:101", "PCAR002"),  # two assignees, on two teams
            ("pagerduty:Incident:1:102", "PCAR002"),
            ("pagerduty:Incident:1:104", "PZZZ999"),
            ("pagerduty:Incident:2:101", "PBOB001"),
            ("opsgenie:Incident:1:og-1", "og-erin"),  # Opsgenie: only here
            ("teambition:TeambitionTask:1:tb-9", "tb-dan"),
            ("github:GithubIssue:1:55", github["bob"]),
        ],
        columns=["issue_id", "assignee_id"],
    )
    # The dora plugin copied the PagerDuty and GitHub incidents of the project's first boards
    # into `incidents` (same ids) before the others were collected.
    copied = issue_rows["id"].str.startswith(("pagerduty:Incident:1:", "github:"))
    incidents = issue_rows.loc[copied].drop(columns=["type", "original_type"])
    incidents["table"] = "boards"
    incidents["scope_id"] = board_issues.loc[copied, "board_id"].to_numpy()
    incident_assignees = assignees.loc[assignees["issue_id"].isin(incidents["id"])].rename(
        columns={"issue_id": "incident_id"}
    )
    boards = [pd_board, pd2_board, og_board, tb_board, REPO]
    project_mapping = pd.DataFrame(
        {
            "project_name": [SHAPES] * (len(boards) + 3) + [PAGES_ONLY],
            "table": ["boards"] * len(boards) + ["repos", "repos", "cicd_scopes", "cicd_scopes"],
            "row_id": [*boards, REPO, "bitbucket:BitbucketRepo:1:corp/app", CICD_SCOPE]
            + [other_scope],
        }
    )
    copilot = pd.DataFrame(
        {
            "connection_id": 1,
            "scope_id": "corp",
            "user_id": [1, 3],
            "user_login": ["alice-gh", "carol-gh"],
            "day": [W1 + day, W2 + day],
            "user_initiated_interaction_count": 3,
            "code_generation_activity_count": 0,
            "code_acceptance_activity_count": 0,
            "used_chat": True,
            "used_agent": False,
        }
    )
    return {
        "teams": pd.DataFrame({"id": ["team:a", "team:b"], "name": ["payments", "ledger"]}),
        "users": pd.DataFrame(users),
        "accounts": pd.DataFrame(accounts),
        "user_accounts": pd.DataFrame(user_accounts),
        "team_users": pd.DataFrame(team_users),
        "commits": pd.DataFrame(commits),
        "pull_requests": pd.DataFrame(pull_requests),
        "cicd_deployment_commits": pd.DataFrame(deployments),
        "issues": issue_rows,
        "board_issues": board_issues,
        "issue_assignees": assignees,
        "incidents": incidents,
        "incident_assignees": incident_assignees,
        "project_mapping": project_mapping,
        "_tool_copilot_user_daily_metrics": copilot,
    }


HOUR = pd.Timedelta(hours=1)
