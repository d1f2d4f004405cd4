"""``cts build-panel --sources`` never builds a silently wrong panel from a broken input: empty,
header-only and unusable vendor files, dates decades away, duplicate columns, undecodable
files, folders and looping links each stop the build with one plain message naming the file
(and record and field), never a traceback and never a panel of zeros."""

import json
import os
from pathlib import Path

import pandas as pd
import pytest

from cts.cli import main

PEOPLE = (
    "person,team,from,to,logins,emails,vendor_ids\n"
    "P1,payments,2025-01-06,,alice-gh,alice@corp.example,copilot:101;amazon_q:q-alice\n"
    "P2,payments,2025-01-06,,bob-gh,bob@corp.example,pagerduty:PBOB\n"
    "P3,ledger,2025-01-06,,carol-gh,carol@corp.example,\n"
)


def _copilot(day: str, user_id: int = 101, login: str = "alice-gh") -> dict:
    return {
        "day": day,
        "user_id": user_id,
        "user_login": login,
        "user_initiated_interaction_count": 3,
        "used_chat": True,
    }


def _pr(number: int, merged: str | None, login: str = "bob-gh") -> dict:
    return {"number": number, "author": {"login": login, "is_bot": False}, "mergedAt": merged}


@pytest.fixture
def org(tmp_path):
    """A small, valid organisation: people file, GitHub PRs, Copilot, Amazon Q, Cursor, Claude
    Code and PagerDuty exports over four weeks of January 2025."""
    folder = tmp_path / "org"
    folder.mkdir()
    (folder / "people.csv").write_text(PEOPLE)
    days = ["2025-01-06", "2025-01-14", "2025-01-22", "2025-01-28"]
    prs = [_pr(i, f"{d}T12:00:00Z", login) for i, d in enumerate(days) for login in ("bob-gh",)]
    (folder / "payments-prs.json").write_text(json.dumps(prs))
    (folder / "ledger-prs.json").write_text(json.dumps([_pr(9, "2025-01-15T09:00:00Z")]))
    (folder / "copilot.ndjson").write_text("".join(json.dumps(_copilot(d)) + "\n" for d in days))
    (folder / "q.csv").write_text(
        "UserId,Date,Chat_MessagesSent,Inline_SuggestionsCount\nq-alice,2025-01-07,4,10\n"
    )
    (folder / "cursor.json").write_text(
        json.dumps({"data": [{"date": 1736899200000, "email": "carol@corp.example",
                              "isActive": True}]})
    )  # fmt: skip
    (folder / "claude.json").write_text(
        json.dumps({"data": [{"date": "2025-01-21T00:00:00Z",
                              "actor": {"type": "user_actor", "email_address": "bob@corp.example"},
                              "core_metrics": {"num_sessions": 2}}]})
    )  # fmt: skip
    (folder / "incidents.json").write_text(
        json.dumps({"incidents": [{"created_at": "2025-01-08T03:00:00Z",
                                   "teams": [{"id": "T1", "summary": "payments"}]}]})
    )  # fmt: skip
    (folder / "sources.toml").write_text(
        'identity = "people.csv"\n'
        "[[github.pull_requests]]\n"
        'files = ["payments-prs.json"]\nteam = "payments"\n'
        "[[github.pull_requests]]\n"
        'files = ["ledger-prs.json"]\nteam = "ledger"\n'
        "[copilot]\n"
        'users = ["copilot.ndjson"]\n'
        "[amazon_q]\n"
        'files = ["q.csv"]\n'
        "[cursor]\n"
        'files = ["cursor.json"]\n'
        "[claude_code]\n"
        'files = ["claude.json"]\n'
        "[pagerduty]\n"
        'incidents = ["incidents.json"]\n'
    )
    return folder


def _build(org: Path, capsys) -> tuple[int, str, Path]:
    out = org.parent / "panel.parquet"
    code = main(["build-panel", "--sources", str(org / "sources.toml"), str(out)])
    captured = capsys.readouterr()
    return code, captured.out + captured.err, out


def _refused(org: Path, capsys, *words: str) -> str:
    """Build, expect one plain error (exit 2, nothing written) holding every one of ``words``."""
    code, printed, out = _build(org, capsys)
    assert code == 2, printed
    assert printed.count("cts build-panel:") == 1 and "Traceback" not in printed
    assert not out.exists()
    for word in words:
        assert word in printed, (word, printed)
    return printed


def test_the_valid_org_builds(org, capsys):
    code, printed, out = _build(org, capsys)
    assert code == 0, printed
    panel = pd.read_parquet(out)
    assert len(panel) == 8 and panel["week"].max() == pd.Timestamp("2025-01-27")
    # alice (Copilot, Amazon Q) in 4 weeks, bob (Claude Code) with her in one, carol (Cursor)
    assert panel["ai_active_builders"].sum() == 6


@pytest.mark.parametrize(
    "name, content",
    [
        ("copilot.ndjson", ""),
        ("copilot.ndjson", "\n\n"),
        ("q.csv", "UserId,Date,Chat_MessagesSent,Inline_SuggestionsCount\n"),
        ("cursor.json", '{"data": []}'),
        ("claude.json", '{"data": []}'),
        ("incidents.json", '{"incidents": []}'),
        ("payments-prs.json", "[]"),
    ],
    ids=["copilot-empty", "copilot-blank-lines", "amazon-q-header-only", "cursor-empty-list",
         "claude-code-empty-list", "pagerduty-empty-list", "github-empty-list"],
)  # fmt: skip
def test_an_empty_or_header_only_vendor_file_is_an_error_naming_it(org, capsys, name, content):
    (org / name).write_text(content)
    _refused(org, capsys, str(org / name), "no records")


@pytest.mark.parametrize(
    "people, words",
    [
        ("", ["people.csv", "is empty"]),
        ("person,team,from,to,logins,emails,vendor_ids\n", ["people.csv", "only a header"]),
        (PEOPLE.replace("vendor_ids\n", "team\n", 1).replace(",copilot:101;amazon_q:q-alice", ",x")
         .replace(",pagerduty:PBOB", ",y"), ["people.csv", "`team`", "more than once"]),
    ],
    ids=["empty", "header-only", "team-twice"],
)  # fmt: skip
def test_a_broken_people_file_is_one_error(org, capsys, people, words):
    (org / "people.csv").write_text(people)
    _refused(org, capsys, *words)


@pytest.mark.parametrize(
    "day, words",
    [("2099-01-05", ["after", "today + 1 week"]), ("1999-12-27", ["before 2000"])],
    ids=["2099", "1999"],
)
def test_a_vendor_record_dated_decades_away_is_an_error_naming_file_record_and_field(
    org, capsys, day, words
):
    """One Copilot day in 2099 would otherwise stretch a 4-week panel to thousands of weeks."""
    lines = (org / "copilot.ndjson").read_text().splitlines()
    lines[2] = json.dumps(_copilot(day))
    (org / "copilot.ndjson").write_text("\n".join(lines) + "\n")
    _refused(org, capsys, f"{org / 'copilot.ndjson'}, record 3", "field `day`", day, *words)


@pytest.mark.parametrize(
    "name, row",
    [
        ("people.csv", "P4,payments,2099-06-01,,dave-gh,,\n"),
        ("people.csv", "P4,payments,2025-01-06,2087-01-01,dave-gh,,\n"),
        ("q.csv", "q-alice,1970-01-01,1,1\n"),
    ],
    ids=["people-from-2099", "people-to-2087", "amazon-q-1970"],
)
def test_dates_decades_away_in_people_and_csv_files_are_errors(org, capsys, name, row):
    with open(org / name, "a") as file:
        file.write(row)
    _refused(org, capsys, str(org / name), "2000")


def test_a_latin1_file_is_one_error_naming_it(org, capsys):
    (org / "people.csv").write_bytes(PEOPLE.replace("P3,", "Zoë,").encode("latin-1"))
    _refused(org, capsys, f"{org / 'people.csv'}, line 4", "not UTF-8", "0xeb")


def test_a_binary_file_is_one_error_naming_it(org, capsys):
    (org / "copilot.ndjson").write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR" + bytes(range(256)))
    _refused(org, capsys, str(org / "copilot.ndjson"), "binary")


def test_a_folder_where_the_people_file_is_expected_is_one_error(org, capsys):
    (org / "people.csv").unlink()
    (org / "people.csv").mkdir()
    _refused(org, capsys, str(org / "people.csv"), "a folder")


@pytest.mark.parametrize("name", ["people.csv", "copilot.ndjson", "sources.toml"])
def test_a_symlink_loop_where_a_file_is_expected_is_one_error(org, capsys, name):
    (org / name).unlink()
    os.symlink(org / f"{name}.loop", org / name)
    os.symlink(org / name, org / f"{name}.loop")
    _refused(org, capsys, str(org / name), "loops")


@pytest.mark.parametrize(
    "name, content, words",
    [
        ("copilot.ndjson", json.dumps(_copilot("2025-01-14", 555, "stranger-gh")) + "\n",
         ["copilot users-1-day", "1 user-days on no team"]),
        ("payments-prs.json", json.dumps([_pr(1, None), _pr(2, None)]),
         ["github pull requests of team 'payments'", "2 not merged"]),
        ("incidents.json", json.dumps({"incidents": [{"created_at": "2025-01-08T03:00:00Z"}]}),
         ["pagerduty incidents", "1 on no team"]),
        ("q.csv", "UserId,Date,Chat_MessagesSent\nq-nobody,2025-01-07,4\n",
         ["amazon q", "1 unknown users"]),
    ],
    ids=["copilot-users-on-no-team", "github-prs-none-merged", "pagerduty-no-team",
         "amazon-q-unknown-users"],
)  # fmt: skip
def test_a_file_whose_every_record_is_unusable_is_an_error(org, capsys, name, content, words):
    (org / name).write_text(content)
    _refused(org, capsys, str(org / name), "no record could be used", *words)


def test_a_file_with_some_unusable_records_builds_with_a_counted_warning(org, capsys):
    with open(org / "copilot.ndjson", "a") as file:
        file.write(json.dumps(_copilot("2025-01-14", 555, "stranger-gh")) + "\n")
    code, printed, _ = _build(org, capsys)
    assert code == 0, printed
    assert "warning: copilot users-1-day: not counted: 1 user-days on no team" in printed


@pytest.mark.parametrize("kind", ["latin-1", "folder"])
def test_a_broken_team_map_is_one_error_naming_it(tmp_path, capsys, kind):
    team_map = tmp_path / "teams.csv"
    if kind == "latin-1":
        team_map.write_bytes("repository,team_id\nrepo,équipe\n".encode("latin-1"))
    else:
        team_map.mkdir()
    code = main(["build-panel", "--git", str(tmp_path), str(tmp_path / "panel.parquet"),
                 "--team-map", str(team_map)])  # fmt: skip
    printed = capsys.readouterr().err
    assert code == 2 and printed.count("cts build-panel:") == 1, printed
    assert str(team_map) in printed and "Traceback" not in printed
