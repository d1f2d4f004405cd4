"""Per-tool AI use, seats, agents' CRs and CR size through `cts build-panel --sources`, from
real git history and fixtures in each vendor's documented export schema."""

import json
import shutil
import subprocess
import sys

import pandas as pd
import pytest
from git_repos import Repo

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")

ALICE = ("Alice Liddell", "alice.liddell@corp.example")
BOB = ("Bob Builder", "bob.builder@corp.example")
COPILOT = ("Copilot", "198982749+Copilot@users.noreply.github.com")
GITHUB = ("GitHub", "noreply@github.com")
IDENTIFIERS = [
    *ALICE,
    *BOB,
    "Carol Danvers",
    "carol.danvers@corp.example",
    "alice-liddell-gh",
    "bob-builder-gh",
    "carol-danvers-gh",
    "EMP-A-01",
    "EMP-B-02",
    "EMP-C-03",
    "9911001",
]
W1, W2 = "2025-01-06", "2025-01-13"


def lines(repo, name, count, message, date, author, committer=None):
    (repo.path / name).write_text("".join(f"{name} {i}\n" for i in range(count)))
    repo.git("add", name, date=date, author=author, committer=committer)
    repo.git("commit", "--quiet", "-m", message, date=date, author=author, committer=committer)


def dump(path, document):
    path.write_text(json.dumps(document))


def pull(number, merged, login, is_bot, additions, deletions, merged_by):
    """A `gh pr list --json number,author,mergedAt,baseRefName,headRefName,title,labels,
    additions,deletions,mergedBy` record."""
    return {
        "number": number,
        "author": {"is_bot": is_bot, "login": login} | ({} if is_bot else {"name": "x"}),
        "mergedAt": merged,
        "baseRefName": "main",
        "headRefName": f"b{number}",
        "title": f"PR {number}",
        "labels": [],
        "additions": additions,
        "deletions": deletions,
        "mergedBy": {"is_bot": False, "login": merged_by, "name": "x"},
    }


@pytest.fixture
def org(tmp_path):
    """payments (git): week 1 alice's 10 lines and a Copilot agent's 4 (bob assigned it),
    week 2 alice's 6 with Claude Code and bob's 3. ledger (GitHub): week 1 carol's PR (20+5),
    week 2 a Copilot agent's PR (8+2) that carol merged."""
    repo = Repo(tmp_path / "repos" / "payments")
    lines(repo, "a", 10, "Add a", "2025-01-06T10:00:00+00:00", ALICE)
    fix = "Fix b\n\nCo-authored-by: Bob Builder <bob.builder@corp.example>"
    lines(repo, "b", 4, fix, "2025-01-07T10:00:00+00:00", COPILOT, GITHUB)
    claude = "Add c\n\n🤖 Generated with [Claude Code](https://claude.com/claude-code)\n\n"
    claude += "Co-Authored-By: Claude <noreply@anthropic.com>"
    lines(repo, "c", 6, claude, "2025-01-14T10:00:00+00:00", ALICE)
    lines(repo, "d", 3, "Add d", "2025-01-15T10:00:00+00:00", BOB)
    folder = tmp_path / "org"
    folder.mkdir()
    (folder / "people.csv").write_text(
        "person,team,from,to,logins,emails,vendor_ids\n"
        "EMP-A-01,payments,2025-01-06,,alice-liddell-gh,alice.liddell@corp.example,"
        "copilot:9911001\n"
        "EMP-B-02,payments,2025-01-06,,bob-builder-gh,bob.builder@corp.example,\n"
        "EMP-C-03,ledger,2025-01-06,,carol-danvers-gh,carol.danvers@corp.example,\n"
    )
    dump(
        folder / "ledger-prs.json",
        [
            pull(1, "2025-01-07T12:00:00Z", "carol-danvers-gh", False, 20, 5, "carol-danvers-gh"),
            pull(
                2, "2025-01-14T12:00:00Z", "app/copilot-swe-agent", True, 8, 2, "carol-danvers-gh"
            ),
        ],
    )
    # Copilot usage metrics (users-1-day NDJSON) and the seats API.
    activity = {
        "user_initiated_interaction_count": 3,
        "code_generation_activity_count": 5,
        "code_acceptance_activity_count": 2,
        "used_agent": False,
        "used_chat": True,
    }
    day = {"day": "2025-01-08", "user_id": 9911001, "user_login": "alice-liddell-gh"}
    (folder / "users-1-day-2025-01-08.ndjson").write_text(json.dumps(day | activity) + "\n")
    seat = {"pending_cancellation_date": None, "plan_type": "business", "last_activity_at": None}
    dump(
        folder / "copilot-seats.json",
        {
            "total_seats": 3,
            "seats": [
                seat
                | {
                    "created_at": "2024-12-01T09:00:00Z",
                    "assignee": {"login": "alice-liddell-gh", "id": 9911001},
                },
                seat
                | {
                    "created_at": "2025-01-14T09:00:00Z",
                    "assignee": {"login": "bob-builder-gh", "id": 9911002},
                },
                seat
                | {
                    "created_at": "2024-11-01T09:00:00Z",
                    "assignee": {"login": "carol-danvers-gh", "id": 9911003},
                    "assigning_team": {"slug": "ledger-devs", "name": "Ledger devs"},
                },
            ],
        },
    )
    # Claude Code usage report and the organization's members.
    dump(
        folder / "claude-code-usage.json",
        {
            "data": [
                {
                    "date": "2025-01-14T00:00:00Z",
                    "actor": {"type": "user_actor", "email_address": BOB[1]},
                    "organization_id": "org-1",
                    "customer_type": "subscription",
                    "terminal_type": "vscode",
                    "core_metrics": {
                        "num_sessions": 3,
                        "lines_of_code": {"added": 40, "removed": 5},
                        "commits_by_claude_code": 1,
                        "pull_requests_by_claude_code": 0,
                    },
                    "tool_actions": {},
                    "model_breakdown": [],
                }
            ],
            "has_more": False,
            "next_page": None,
        },
    )
    member = {"type": "user", "name": "x", "role": "user"}
    dump(
        folder / "claude-users.json",
        {
            "data": [
                member | {"id": "user_a", "email": ALICE[1], "added_at": "2024-12-01T00:00:00Z"},
                member | {"id": "user_b", "email": BOB[1], "added_at": "2025-01-13T08:00:00Z"},
            ],
            "has_more": False,
            "first_id": "user_a",
            "last_id": "user_b",
        },
    )
    # Cursor: daily usage data and a member list taken on 2025-01-13.
    jan7 = int(pd.Timestamp("2025-01-07").timestamp() * 1000)
    usage = {"date": jan7, "email": "carol.danvers@corp.example", "isActive": True}
    dump(
        folder / "cursor-usage.json",
        {"data": [usage | {"agentRequests": 4, "acceptedLinesAdded": 12}]},
    )
    carol = {"id": 7, "name": "x", "email": "carol.danvers@corp.example", "role": "member"}
    dump(folder / "cursor-members-2025-01-13.json", {"teamMembers": [carol | {"isRemoved": False}]})
    (folder / "sources.toml").write_text(
        'identity = "people.csv"\n'
        "[git]\n"
        f'repos = ["{repo.path}"]\n'
        "[[github.pull_requests]]\n"
        'files = ["ledger-prs.json"]\nteam = "ledger"\n'
        "[copilot]\n"
        'users = ["users-1-day-*.ndjson"]\nseats = ["copilot-seats.json"]\n'
        'team_map = { "ledger-devs" = "ledger" }\n'
        "[claude_code]\n"
        'files = ["claude-code-usage.json"]\nmembers = ["claude-users.json"]\n'
        "[cursor]\n"
        'files = ["cursor-usage.json"]\nmembers = ["cursor-members-*.json"]\n'
    )
    return folder


def test_tools_seats_agent_crs_and_sizes_from_sources(org, tmp_path):
    out = tmp_path / "panel.csv"
    command = [sys.executable, "-m", "cts", "build-panel", "--sources", str(org / "sources.toml")]
    result = subprocess.run([*command, str(out)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    panel = pd.read_csv(out).set_index(["team_id", "week"])
    pay, led = panel.loc["payments"], panel.loc["ledger"]
    assert pay.index.tolist() == [W1, W2] and led.index.tolist() == [W1, W2]
    assert pay["crs_merged"].tolist() == [2, 2] and led["crs_merged"].tolist() == [1, 1]
    # Agents' CRs: Copilot's squash, the Claude Code commit; ledger's Copilot PR.
    assert pay["agent_crs"].tolist() == [1, 1] and led["agent_crs"].tolist() == [0, 1]
    assert pay["lines_changed"].tolist() == [14, 9] and led["lines_changed"].tolist() == [25, 10]
    # Copilot: bob (its agent's co-author) and alice (metrics) in week 1; carol merged its PR.
    assert pay["ai_active_builders_copilot"].tolist() == [2, 0]
    assert led["ai_active_builders_copilot"].tolist() == [0, 1]
    # Claude Code: alice's commit and bob's usage report in week 2; Cursor: carol in week 1.
    assert pay["ai_active_builders_claude_code"].tolist() == [0, 2]
    assert led["ai_active_builders_cursor"].tolist() == [1, 0]
    assert pay["ai_active_builders"].tolist() == [2, 2] and led["ai_active_builders"].tolist() == [
        1,
        1,
    ]
    # Seats: Copilot alice, then bob from the 14th; carol through the ledger-devs slug;
    # Claude alice, then bob from the 13th; Cursor carol on the list's day.
    assert pay["ai_seats_copilot"].tolist() == [1, 2] and led["ai_seats_copilot"].tolist() == [1, 1]
    assert pay["ai_seats_claude_code"].tolist() == [1, 2]
    assert led["ai_seats_cursor"].tolist() == [0, 1]
    assert pay["n_builders"].tolist() == [2, 2]  # agents are never builders
    written = out.read_text() + result.stdout + result.stderr
    for identifier in IDENTIFIERS:
        assert identifier.lower() not in written.lower(), identifier
