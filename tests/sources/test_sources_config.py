"""One panel from a mixed organisation (git + GitHub + Copilot + PagerDuty + Claude Code) through
`cts build-panel --sources`, and no identifier of the fixtures in anything it writes."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from git_repos import Repo

from cts.core.exceptions import EventError
from cts.sources.config import read_sources

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")


@pytest.fixture
def make_repo(tmp_path):
    """Make a real repository at ``tmp_path / name``."""
    return lambda name: Repo(tmp_path / name)


ALICE = ("Alice Liddell", "alice.liddell@corp.example")
BOB = ("Bob Builder", "bob.builder@corp.example")
COPILOT = ("Copilot", "198982749+Copilot@users.noreply.github.com")
IDENTIFIERS = [
    "Alice Liddell",
    "alice.liddell@corp.example",
    "Bob Builder",
    "bob.builder@corp.example",
    "alice-liddell-gh",
    "bob-builder-gh",
    "EMP-ALICE-0001",
    "EMP-BOB-0002",
    "PALICE1X",
    "PBOBXX2",
    "Earline Greenholt",
    "carol.unknown@corp.example",
    "98765432",
]


@pytest.fixture
def org(make_repo, tmp_path):
    repo = make_repo("org/payments")
    repo.commit("a", "a", "2025-01-06T10:00:00+00:00", ALICE)
    repo.commit(
        "b",
        "b\n\nCo-authored-by: Bob Builder <bob.builder@corp.example>",
        "2025-01-07T10:00:00+00:00",
        COPILOT,
        committer=("GitHub", "noreply@github.com"),
    )
    repo.commit("c", "c", "2025-01-14T10:00:00+00:00", BOB)
    repo.git("tag", "v1.0", date="2025-01-15T10:00:00+00:00")
    folder = tmp_path / "org"
    (folder / "people.csv").write_text(
        "person,team,from,to,logins,emails,vendor_ids\n"
        "EMP-ALICE-0001,payments,2025-01-06,,alice-liddell-gh,alice.liddell@corp.example,"
        "pagerduty:PALICE1X;copilot:98765432\n"
        "EMP-BOB-0002,payments,2025-01-06,,bob-builder-gh,bob.builder@corp.example,"
        "pagerduty:PBOBXX2\n"
        "EMP-BOB-0002,ledger,2025-01-06,,,,\n"
    )
    prs = [
        {
            "number": n,
            "author": {"login": "bob-builder-gh", "is_bot": False, "name": "Bob Builder"},
            "mergedAt": when,
            "baseRefName": "main",
            "headRefName": f"b{n}",
            "title": "t",
            "labels": [],
        }
        for n, when in enumerate(
            [
                "2025-01-06T12:00:00Z",
                "2025-01-13T12:00:00Z",
                "2025-01-14T12:00:00Z",
                "2025-01-15T12:00:00Z",
            ]
        )
    ]
    (folder / "payments-prs.json").write_text(json.dumps(prs))  # disagrees with git: 3 vs 4
    (folder / "ledger-prs.json").write_text(json.dumps(prs[:2]))
    (folder / "users-1-day.ndjson").write_text(
        json.dumps(
            {
                "day": "2025-01-13",
                "user_id": 98765432,
                "user_login": "alice-liddell-gh",
                "user_initiated_interaction_count": 2,
                "used_agent": False,
                "used_chat": True,
            }
        )
        + "\n"
    )
    (folder / "incidents.json").write_text(
        json.dumps(
            {
                "incidents": [
                    {
                        "id": "Q1",
                        "created_at": "2025-01-08T02:00:00+02:00",
                        "teams": [],
                        "service": {"id": "PSVC", "summary": "Payments API"},
                        "assignments": [
                            {"assignee": {"id": "PALICE1X", "summary": "Earline Greenholt"}}
                        ],
                    }
                ]
            }
        )
    )
    (folder / "oncalls.json").write_text(
        json.dumps(
            {
                "oncalls": [
                    {
                        "user": {"id": "PBOBXX2", "summary": "Earline Greenholt"},
                        "escalation_level": 1,
                        "schedule": {"id": "PSCH", "summary": "Payments primary"},
                        "start": "2025-01-13T09:00:00Z",
                        "end": "2025-01-20T09:00:00Z",
                    }
                ]
            }
        )
    )
    (folder / "claude.json").write_text(
        json.dumps(
            {
                "data": [
                    {
                        "date": "2025-01-06T00:00:00Z",
                        "actor": {
                            "type": "user_actor",
                            "email_address": "carol.unknown@corp.example",
                        },
                        "core_metrics": {"num_sessions": 1},
                    },
                    {  # alice, already AI-active that week through Copilot
                        "date": "2025-01-14T00:00:00Z",
                        "actor": {
                            "type": "user_actor",
                            "email_address": "alice.liddell@corp.example",
                        },
                        "core_metrics": {"num_sessions": 2},
                    },
                ]
            }
        )
    )
    (folder / "sources.toml").write_text(
        'identity = "people.csv"\n'
        "[git]\n"
        f'repos = ["{repo.path}"]\n'
        'team_map = { payments = "payments" }\n'
        "[[github.pull_requests]]\n"
        'files = ["payments-prs.json"]\nteam = "payments"\n'
        "[[github.pull_requests]]\n"
        'files = ["ledger-prs.json"]\nteam = "ledger"\n'
        "[copilot]\n"
        'users = ["users-*.ndjson"]\n'
        "[pagerduty]\n"
        'incidents = ["incidents.json"]\noncalls = ["oncalls.json"]\n'
        'schedule_map = { PSCH = "payments" }\n'
        "[claude_code]\n"
        'files = ["claude.json"]\n'
    )
    return folder


def _build_panel_command(sources: Path, out: Path) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "cts", "build-panel", "--sources", str(sources), str(out)]
    return subprocess.run(command, capture_output=True, text=True)


def test_build_panel_from_sources_and_nothing_identifying_is_written(org, tmp_path):
    out = tmp_path / "out" / "panel.parquet"
    result = _build_panel_command(org / "sources.toml", out)
    assert result.returncode == 0, result.stderr
    panel = pd.read_parquet(out).set_index(["team_id", "week"])
    payments = panel.loc["payments"]
    # git wins for payments' CRs (a, the agent's b, c), GitHub fills ledger's.
    assert payments["crs_merged"].tolist() == [2, 1]
    assert panel.loc["ledger", "crs_merged"].tolist() == [1, 1]
    assert "code_reviews of team 'payments': git has 3 and github 4 in the weeks" in result.stderr
    # Roster from the identity file: alice and bob on payments, bob also on ledger.
    assert payments["n_builders"].tolist() == [2, 2]
    # Bob (the agent's commit) in week 1; alice (Copilot) in week 2.
    assert payments["ai_active_builders"].tolist() == [1, 1]
    assert payments["pages"].tolist() == [1, 0]  # 2025-01-08 00:00 UTC, alice's team
    assert payments["oncall_builders"].tolist() == [0, 1]
    assert payments["deployments"].tolist() == [0, 1]
    assert "claude code: not counted: 1 unknown users" in result.stderr
    written = out.read_bytes().decode("latin-1") + result.stdout + result.stderr
    for identifier in IDENTIFIERS:
        assert identifier.lower() not in written.lower(), identifier


def test_config_errors_are_clear(tmp_path, org):
    bad = tmp_path / "bad.toml"
    bad.write_text('[gitlab]\nrepos = ["x"]\n')
    with pytest.raises(EventError, match="unknown section"):
        read_sources(bad)
    bad.write_text('[cursor]\nfiles = ["x.json"]\n')
    with pytest.raises(EventError, match="needs an identity file"):
        read_sources(bad)
    bad.write_text(f'identity = "{org / "people.csv"}"\n[copilot]\nusers = ["nope/*.ndjson"]\n')
    with pytest.raises(EventError, match="no such file"):
        read_sources(bad)
    bad.write_text('[[github.pull_requests]]\nfiles = []\nteam = "x"\n')
    with pytest.raises(EventError, match="no roster"):
        read_sources(bad)


def test_no_identifier_reaches_a_report(org, tmp_path):
    """Reports read only the panel: build one from the fixtures' panel and scan every file."""
    from cts.reporting.builder import ANALYSES, build_reports

    panel = tmp_path / "panel.parquet"
    built = _build_panel_command(org / "sources.toml", panel)
    assert built.returncode == 0, built.stderr
    out = tmp_path / "reports"
    overview = tuple(a for a in ANALYSES if a.name == "00_panel_overview")
    build_reports(panel, out, analyses=overview, progress=False, workers=1)
    files = [f for f in out.rglob("*") if f.is_file()]
    assert any(f.suffix == ".html" for f in files)
    written = "".join(f.read_bytes().decode("latin-1") for f in files)
    for identifier in IDENTIFIERS:
        assert identifier.lower() not in written.lower(), identifier
