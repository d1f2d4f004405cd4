"""Export readers on fixtures written to each vendor's documented schema: counts per team-week,
time zones, and clear errors on the wrong file."""

import json
import warnings

import pandas as pd
import pytest

from cts.core.exceptions import EventError, SourceWarning
from cts.sources import ai_usage, copilot, github, pagerduty, seats
from cts.sources.identity import read_identities
from cts.sources.records import person_hasher

PEOPLE = (
    "person,team,from,to,logins,emails,vendor_ids\n"
    "E1,payments,2025-01-01,,alice-gh,alice@corp.example,pagerduty:PALICE1;amazon_q:q-alice;copilot:101\n"
    "E2,payments,2025-01-01,2025-01-12,bob-gh,bob@corp.example,pagerduty:PBOB001;amazon_q:q-bob\n"
    "E2,ledger,2025-01-13,,bob-gh,bob@corp.example,\n"
    "E3,ledger,2025-01-01,,carol-gh,carol@corp.example,pagerduty:PCAROL1\n"
)


@pytest.fixture
def identities(tmp_path):
    path = tmp_path / "people.csv"
    path.write_text(PEOPLE)
    return read_identities(path)


def write(path, records, *, ndjson=False, wrapper=None):
    if ndjson:
        path.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    else:
        path.write_text(json.dumps({wrapper: records} if wrapper else records))
    return path


def weekly(table, time, team="team_id"):
    week = table[time].dt.to_period("W-SUN").dt.start_time.dt.strftime("%Y-%m-%d")
    return table.groupby([table[team], week]).size().to_dict()


# --- GitHub ---------------------------------------------------------------------------------


def pr(number, merged, login="alice-gh", is_bot=False, base="main"):
    return {
        "number": number,
        "author": {"id": f"U_{number}", "is_bot": is_bot, "login": login, "name": "Someone"},
        "mergedAt": merged,
        "baseRefName": base,
        "headRefName": f"feature-{number}",
        "title": f"PR {number}",
        "labels": [{"id": "L1", "name": "bug", "description": "", "color": "d73a4a"}],
    }


def test_pull_requests_become_crs_in_utc_weeks(tmp_path):
    path = write(
        tmp_path / "prs.json",
        [
            pr(1, "2025-01-06T10:00:00Z"),
            pr(2, "2025-01-13T01:00:00+05:00"),  # 2025-01-12 20:00 UTC: the first week
            pr(3, None),  # open or closed unmerged
            pr(4, "2025-01-14T10:00:00Z", login="app/dependabot", is_bot=True),
            pr(5, "2025-01-14T11:00:00Z", login="renovate[bot]"),
            pr(6, "2025-01-15T10:00:00Z"),
            pr(7, "2025-01-15T11:00:00Z", base="release"),
        ],
    )
    with pytest.warns(SourceWarning, match="1 not merged, 2 bot author"):
        crs = github.read_pull_requests(path, team="payments")["code_reviews"]
    assert weekly(crs, "merged_at") == {
        ("payments", "2025-01-06"): 2,
        ("payments", "2025-01-13"): 2,
    }
    with pytest.warns(SourceWarning, match="1 other base branch"):
        only_main = github.read_pull_requests(path, team="payments", base="main")
    assert len(only_main["code_reviews"]) == 3  # 1, 2 and 6


def test_deployments_count_at_their_first_success(tmp_path):
    deployments = write(
        tmp_path / "deployments.json",
        [
            {
                "id": 11,
                "sha": "a1",
                "ref": "main",
                "environment": "production",
                "created_at": "2025-01-06T09:00:00Z",
            },
            {
                "id": 12,
                "sha": "b2",
                "ref": "main",
                "environment": "production",
                "created_at": "2025-01-13T09:00:00Z",
            },
            {
                "id": 13,
                "sha": "c3",
                "ref": "main",
                "environment": "staging",
                "created_at": "2025-01-13T09:00:00Z",
            },
        ],
    )
    base = "https://api.github.com/repos/acme/payments/deployments"
    statuses = write(
        tmp_path / "statuses.json",
        [
            {
                "id": 1,
                "state": "in_progress",
                "created_at": "2025-01-06T09:01:00Z",
                "deployment_url": f"{base}/11",
                "environment": "production",
            },
            {
                "id": 2,
                "state": "success",
                "created_at": "2025-01-06T09:05:00Z",
                "deployment_url": f"{base}/11",
                "environment": "production",
            },
            {
                "id": 3,
                "state": "failure",
                "created_at": "2025-01-13T09:05:00Z",
                "deployment_url": f"{base}/12",
                "environment": "production",
            },
            {
                "id": 4,
                "state": "success",
                "created_at": "2025-01-13T09:05:00Z",
                "deployment_url": f"{base}/13",
                "environment": "staging",
            },
        ],
    )
    with pytest.warns(SourceWarning, match="1 other environment, 1 never succeeded"):
        out = github.read_deployments(deployments, statuses, team="payments")
    assert weekly(out["deployments"], "deployed_at") == {("payments", "2025-01-06"): 1}


def test_agents_prs_are_agent_crs_with_their_size_and_their_merger_ai_active(tmp_path, identities):
    def sized(number, merged, login, is_bot, additions, deletions, merged_by="alice-gh"):
        record = pr(number, merged, login=login, is_bot=is_bot)
        record |= {"additions": additions, "deletions": deletions}
        return record | {"mergedBy": {"id": "U_1", "is_bot": False, "login": merged_by}}

    path = write(
        tmp_path / "prs.json",
        [
            sized(1, "2025-01-06T10:00:00Z", "alice-gh", False, 120, 30),
            # gh prints a GitHub App author as app/<slug>, with is_bot true.
            sized(2, "2025-01-07T10:00:00Z", "app/copilot-swe-agent", True, 40, 2),
            sized(3, "2025-01-14T10:00:00Z", "app/devin-ai-integration", True, 7, 0, "bob-gh"),
            sized(4, "2025-01-14T11:00:00Z", "app/claude", True, 3, 1, "nobody-gh"),
            sized(5, "2025-01-14T12:00:00Z", "app/dependabot", True, 1, 1),  # a bot
            pr(6, "2025-01-15T10:00:00Z", login="bob-gh"),  # exported without sizes
            sized(7, "2025-01-15T11:00:00Z", "app/acme-coder", True, 5, 5),  # a listed agent
        ],
    )
    hasher = person_hasher()
    with pytest.warns(SourceWarning, match="1 bot author, 1 agents' PRs merged by someone unknown"):
        out = github.read_pull_requests(
            path, team="payments", agents=["^acme-coder"], identities=identities, hasher=hasher
        )
    crs = out["code_reviews"]
    assert crs["is_agent"].tolist() == [False, True, True, True, False, True]
    assert crs["additions"].tolist()[:4] == [120, 40, 7, 3] and pd.isna(crs["additions"].iloc[4])
    assert crs["deletions"].sum() == 38
    usage = out["ai_usage"]  # alice merged Copilot's and acme's, bob Devin's
    assert usage["tool"].tolist() == ["copilot", "other", "other"]
    assert usage["person_id"].tolist() == [
        hasher("person:E1"),
        hasher("person:E2"),
        hasher("person:E1"),
    ]


def test_rest_pull_objects_are_read_too(tmp_path):
    rest = [
        {
            "number": 9,
            "state": "closed",
            "merged_at": "2025-01-07T10:00:00Z",
            "user": {"login": "Copilot", "id": 198982749, "type": "Bot"},
            "merged_by": {"login": "alice-gh", "id": 1, "type": "User"},
            "base": {"ref": "main"},
            "additions": 12,
            "deletions": 4,
            "changed_files": 2,
        },
        {
            "number": 10,
            "merged_at": "2025-01-08T10:00:00Z",
            "user": {"login": "renovate[bot]", "type": "Bot"},
            "base": {"ref": "main"},
            "additions": 1,
            "deletions": 1,
        },
    ]
    with pytest.warns(SourceWarning, match="1 bot author"):
        crs = github.read_pull_requests(write(tmp_path / "pulls.json", rest), team="t")
    crs = crs["code_reviews"]
    assert crs[["is_agent", "additions", "deletions"]].values.tolist() == [[True, 12, 4]]


def test_a_file_of_another_vendor_is_named_in_the_error(tmp_path):
    path = write(tmp_path / "oops.json", [{"number": 1, "title": "x"}])
    with pytest.raises(EventError, match=r"oops.json, record 0: no field `mergedAt`"):
        github.read_pull_requests(path, team="payments")


# --- Copilot --------------------------------------------------------------------------------


def user_day(day, user_id, login, **activity):
    counts = {
        "user_initiated_interaction_count": 0,
        "code_generation_activity_count": 0,
        "code_acceptance_activity_count": 0,
        "used_agent": False,
        "used_chat": False,
    }
    return {
        "day": day,
        "enterprise_id": "1",
        "user_id": user_id,
        "user_login": login,
        **counts,
        **activity,
        "totals_by_ide": [],
        "totals_by_feature": [],
    }


def test_copilot_reports_join_dated_team_memberships(tmp_path, identities):
    users = write(
        tmp_path / "users-1-day.ndjson",
        [
            user_day("2025-01-06", 101, "alice-gh", code_generation_activity_count=3),
            user_day("2025-01-07", 102, "bob-gh", used_chat=True),
            user_day("2025-01-08", 102, "bob-gh"),  # a day without activity
            user_day("2025-01-14", 103, "dave-gh", used_agent=True),  # on no team anywhere
            user_day("2025-01-14", 101, "alice-gh", user_initiated_interaction_count=1),
        ],
        ndjson=True,
    )
    teams = write(
        tmp_path / "user-teams-1-day.ndjson",
        [
            {
                "user_id": 101,
                "user_login": "alice-gh",
                "day": "2025-01-06",
                "team_id": 9,
                "slug": "payments-devs",
            },
            {
                "user_id": 101,
                "user_login": "alice-gh",
                "day": "2025-01-06",
                "team_id": 8,
                "slug": "ledger",
            },
        ],
        ndjson=True,
    )
    hasher = person_hasher()
    with pytest.warns(SourceWarning, match=r"1 inactive user-days, 1 user-days on no team"):
        usage = copilot.read_usage(
            users,
            user_teams=teams,
            identities=identities,
            team_map={"payments-devs": "payments"},
            hasher=hasher,
        )["ai_usage"]
    # alice: both teams on 01-06 (user-teams), payments on 01-14 (identity file); bob on
    # 01-07 through the identity file.
    assert weekly(usage, "used_at") == {
        ("ledger", "2025-01-06"): 1,
        ("payments", "2025-01-06"): 2,
        ("payments", "2025-01-13"): 1,
    }
    assert usage["person_id"].nunique() == 2
    assert hasher("person:E1") in set(usage["person_id"])  # joins the same person elsewhere


def test_copilot_seat_snapshot(tmp_path, identities):
    seats = write(
        tmp_path / "seats.json",
        [
            {
                "created_at": "2024-10-01T00:00:00Z",
                "last_activity_at": "2025-01-07T23:30:00-05:00",
                "last_activity_editor": "vscode/1.96",
                "assignee": {"login": "alice-gh", "id": 101},
                "assigning_team": None,
            },
            {
                "created_at": "2024-10-01T00:00:00Z",
                "last_activity_at": None,
                "assignee": {"login": "carol-gh", "id": 103},
            },
        ],
        wrapper="seats",
    )
    with pytest.warns(SourceWarning, match="1 seats never used"):
        usage = copilot.read_seats(seats, identities=identities, hasher=person_hasher())
    assert usage["ai_usage"]["used_at"].tolist() == [pd.Timestamp("2025-01-08 04:30")]


def seat_weeks(seats, weeks):
    """Seat-holders per (team, tool, week) over ``weeks`` (Mondays), as the panel counts them."""
    out = {}
    for monday in pd.to_datetime(weeks):
        sunday = monday + pd.Timedelta(days=6)
        held = (seats["start_date"] <= sunday) & (
            seats["end_date"].isna() | (seats["end_date"] >= monday)
        )
        for (team, tool), n in (
            seats.loc[held].groupby(["team_id", "tool"])["person_id"].nunique().items()
        ):
            out[(team, tool, f"{monday:%Y-%m-%d}")] = n
    return out


def test_seats_from_copilot_claude_and_cursor_lists(tmp_path, identities):
    copilot_seats = write(
        tmp_path / "seats.json",
        [
            {  # alice: on payments through the identity file; cancelled from 2025-01-13
                "created_at": "2024-10-01T00:00:00Z",
                "updated_at": "2024-10-01T00:00:00Z",
                "pending_cancellation_date": "2025-01-13",
                "last_activity_at": "2025-01-07T10:00:00Z",
                "last_activity_editor": "vscode/1.96",
                "plan_type": "business",
                "assignee": {"login": "alice-gh", "id": 101, "type": "User"},
                "assigning_team": None,
            },
            {  # bob, granted through the ledger team's slug on 2025-01-08
                "created_at": "2025-01-08T12:00:00Z",
                "pending_cancellation_date": None,
                "last_activity_at": None,
                "plan_type": "business",
                "assignee": {"login": "bob-gh", "id": 102, "type": "User"},
                "assigning_team": {"slug": "ledger-devs", "name": "Ledger devs"},
            },
        ],
        wrapper="seats",
    )
    hasher = person_hasher()
    with pytest.warns(SourceWarning, match="1 seats never used"):
        out = copilot.read_seats(
            copilot_seats, identities=identities, team_map={"ledger-devs": "ledger"}, hasher=hasher
        )
    weeks = ["2025-01-06", "2025-01-13"]
    assert seat_weeks(out["seats"], weeks) == {
        ("payments", "copilot", "2025-01-06"): 1,  # alice, until the 12th
        ("ledger", "copilot", "2025-01-06"): 1,  # bob from the 8th
        ("ledger", "copilot", "2025-01-13"): 1,
    }
    assert out["ai_usage"]["tool"].tolist() == ["copilot"]

    claude = write(
        tmp_path / "claude-users.json",
        [
            {
                "type": "user",
                "id": "user_01",
                "email": "Bob@corp.example",
                "name": "Bob",
                "role": "claude_code_user",
                "added_at": "2024-12-01T09:00:00Z",
            },
            {
                "type": "user",
                "id": "user_02",
                "email": "carol@corp.example",
                "name": "Carol",
                "role": "billing",
                "added_at": "2025-01-09T09:00:00Z",
            },
            {
                "type": "user",
                "id": "user_03",
                "email": "zed@elsewhere.example",
                "name": "Zed",
                "role": "developer",
                "added_at": "2025-01-09T09:00:00Z",
            },
        ],
        wrapper="data",
    )
    with pytest.warns(SourceWarning, match="1 seats of unknown users"):
        members = seats.read_claude_members(claude, identities=identities, hasher=hasher)
    # bob: payments to the 12th, then ledger; carol: ledger from the 9th.
    assert seat_weeks(members["seats"], weeks) == {
        ("payments", "claude_code", "2025-01-06"): 1,
        ("ledger", "claude_code", "2025-01-06"): 1,
        ("ledger", "claude_code", "2025-01-13"): 2,
    }
    only = seats.read_claude_members(
        claude, identities=identities, hasher=hasher, roles=["claude_code_user"]
    )
    assert len(only["seats"]) == 2  # bob's two team spells

    cursor = tmp_path / "cursor-members-2025-01-15.json"
    write(
        cursor,
        {
            "teamMembers": [
                {
                    "id": 1,
                    "name": "Alice",
                    "email": "alice@corp.example",
                    "role": "member",
                    "isRemoved": False,
                },
                {
                    "id": 2,
                    "name": "Carol",
                    "email": "carol@corp.example",
                    "role": "owner",
                    "isRemoved": False,
                },
                {
                    "id": 3,
                    "name": "Bob",
                    "email": "bob@corp.example",
                    "role": "member",
                    "isRemoved": True,
                },
            ]
        },
    )
    listed = seats.read_cursor_members(cursor, identities=identities, hasher=hasher)["seats"]
    assert seat_weeks(listed, weeks) == {
        ("payments", "cursor", "2025-01-13"): 1,
        ("ledger", "cursor", "2025-01-13"): 1,
    }
    undated = write(tmp_path / "members.json", {"teamMembers": []})
    with pytest.raises(EventError, match="records no dates"):
        seats.read_cursor_members(undated, identities=identities, hasher=hasher)


def test_copilot_wrong_layout(tmp_path, identities):
    path = write(
        tmp_path / "u.ndjson", [{"day": "2025-01-06", "user_id": 1, "user_login": "x"}], ndjson=True
    )
    with pytest.raises(EventError, match="u.ndjson, record 1: no field `user_initiated"):
        copilot.read_usage(path, identities=identities, hasher=person_hasher())


# --- PagerDuty ------------------------------------------------------------------------------


def incident(number, created, teams=(), service="PSVC001", assignee=None):
    return {
        "id": f"Q{number}",
        "type": "incident",
        "incident_number": number,
        "title": "The server is on fire.",
        "created_at": created,
        "status": "resolved",
        "service": {"id": service, "type": "service_reference", "summary": "Mail"},
        "teams": [{"id": t, "type": "team_reference", "summary": t.title()} for t in teams],
        "assignments": [
            {
                "at": created,
                "assignee": {
                    "id": assignee,
                    "type": "user_reference",
                    "summary": "Earline Greenholt",
                },
            }
        ]
        if assignee
        else [],
    }


def test_incidents_become_pages_of_their_teams(tmp_path, identities):
    path = write(
        tmp_path / "incidents.json",
        [
            incident(1, "2025-01-06T10:00:00Z", teams=["payments"]),
            incident(2, "2025-01-13T03:00:00+09:00", teams=["payments", "ledger"]),  # 01-12 UTC
            incident(3, "2025-01-14T10:00:00Z", service="PMAPPED"),
            incident(4, "2025-01-15T10:00:00Z", assignee="PCAROL1"),
            incident(5, "2025-01-15T11:00:00Z", service="PLOST"),
        ],
        wrapper="incidents",
    )
    with pytest.warns(SourceWarning, match="1 incident"):
        pages = pagerduty.read_incidents(
            path,
            team_map={"payments": "payments", "ledger": "ledger"},
            service_map={"PMAPPED": "payments"},
            identities=identities,
        )["pages"]
    assert weekly(pages, "paged_at") == {
        ("ledger", "2025-01-06"): 1,
        ("ledger", "2025-01-13"): 1,
        ("payments", "2025-01-06"): 2,
        ("payments", "2025-01-13"): 1,
    }


def test_oncalls_become_shifts(tmp_path, identities):
    def oncall(user, level, start, end, schedule="PSCHED1"):
        return {
            "user": {"id": user, "type": "user_reference", "summary": "Some One"},
            "schedule": {"id": schedule, "type": "schedule_reference", "summary": "Primary"},
            "escalation_policy": {"id": "PPOL", "type": "escalation_policy_reference"},
            "escalation_level": level,
            "start": start,
            "end": end,
        }

    path = write(
        tmp_path / "oncalls.json",
        [
            oncall("PALICE1", 1, "2025-01-06T18:00:00Z", "2025-01-13T18:00:00Z"),
            oncall("PBOB001", 2, "2025-01-06T18:00:00Z", "2025-01-13T18:00:00Z"),
            oncall(
                "PCAROL1",
                1,
                "2025-01-13T18:00:00+01:00",
                "2025-01-20T18:00:00+01:00",
                schedule="PSCHED2",
            ),
        ],
        wrapper="oncalls",
    )
    out = pagerduty.read_oncalls(
        path,
        hasher=person_hasher(),
        schedule_map={"PSCHED1": "payments"},
        identities=identities,
    )["oncall"]
    assert out["team_id"].tolist() == ["payments", "ledger"]  # carol: identity file's team
    assert out["start_date"].iloc[1] == pd.Timestamp("2025-01-13 17:00")


# --- Amazon Q, Claude Code, Cursor ----------------------------------------------------------


def test_amazon_q_claude_code_and_cursor(tmp_path, identities):
    q = tmp_path / "123456789012_by_user_analytic_2025-01-07.csv"
    q.write_text(
        "UserId,Date,Chat_AICodeLines,Chat_MessagesSent,Inline_AcceptanceCount,"
        "Inline_SuggestionsCount\n"
        "q-alice,01-07-2025,0,4,0,0\n"
        "q-bob,2025-01-14,0,0,0,0\n"
        "q-unknown,2025-01-14,0,2,0,0\n"
    )
    hasher = person_hasher()
    with pytest.warns(SourceWarning, match="1 inactive user-days, 1 unknown users"):
        amazon = ai_usage.read_amazon_q(q, identities=identities, hasher=hasher)["ai_usage"]
    assert weekly(amazon, "used_at") == {("payments", "2025-01-06"): 1}

    claude = write(
        tmp_path / "claude_code.json",
        [
            {
                "date": "2025-01-14T00:00:00Z",
                "actor": {"type": "user_actor", "email_address": "Bob@corp.example"},
                "organization_id": "org",
                "customer_type": "api",
                "terminal_type": "vscode",
                "core_metrics": {
                    "num_sessions": 2,
                    "lines_of_code": {"added": 5, "removed": 1},
                    "commits_by_claude_code": 1,
                    "pull_requests_by_claude_code": 0,
                },
            },
            {
                "date": "2025-01-14T00:00:00Z",
                "actor": {"type": "api_actor", "api_key_name": "ci-key"},
                "core_metrics": {"num_sessions": 9},
            },
        ],
        wrapper="data",
    )
    with pytest.warns(SourceWarning, match="1 record"):
        used = ai_usage.read_claude_code(claude, identities=identities, hasher=hasher)
    assert weekly(used["ai_usage"], "used_at") == {("ledger", "2025-01-13"): 1}  # bob moved

    jan6 = int(pd.Timestamp("2025-01-06").timestamp() * 1000)
    cursor = write(
        tmp_path / "cursor.json",
        [
            {
                "date": jan6,
                "email": "carol@corp.example",
                "isActive": True,
                "agentRequests": 3,
                "acceptedLinesAdded": 10,
                "totalLinesAdded": 40,
            },
            {
                "date": jan6,
                "email": "alice@corp.example",
                "isActive": False,
                "agentRequests": 0,
                "acceptedLinesAdded": 0,
            },
        ],
        wrapper="data",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SourceWarning)
        out = ai_usage.read_cursor(cursor, identities=identities, hasher=hasher)["ai_usage"]
    assert weekly(out, "used_at") == {("ledger", "2025-01-06"): 1}


def test_usage_dates_that_do_not_parse_name_file_record_and_field(tmp_path, identities):
    path = write(
        tmp_path / "claude.json",
        [
            {
                "date": "yesterday",
                "actor": {"type": "user_actor", "email_address": "a@b"},
                "core_metrics": {"num_sessions": 1},
            }
        ],
        wrapper="data",
    )
    with pytest.raises(EventError, match=r"claude.json, record 0: field `date` 'yesterday'"):
        ai_usage.read_claude_code(path, identities=identities, hasher=person_hasher())


def test_identity_file_errors_name_row_and_field(tmp_path):
    path = tmp_path / "people.csv"
    path.write_text(
        "person,team,from,to,logins,emails,vendor_ids\n"
        "E1,payments,2025-01-01,2024-01-01,a,a@x,\n"
        "E2,,someday,,a,,pagerduty\n"
    )
    with pytest.raises(EventError) as error:
        read_identities(path)
    text = str(error.value)
    assert "row 2: field `to`" in text and "row 3: field `team` is empty" in text
    assert "row 3: field `from` 'someday'" in text and "row 3: field `logins`" in text
    assert "row 3: field `vendor_ids` 'pagerduty' is not `vendor:id`" in text
