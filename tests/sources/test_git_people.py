"""Who is a builder in git: .mailmap and identity-file merging, agents as authors, Claude Code
markers, and the trailing window (real repositories)."""

import pandas as pd
import pytest
from git_repos import ALICE, BOB, NEEDS_GIT, Repo

import cts
from cts.sources.git import read_git
from cts.sources.identity import read_identities

pytestmark = NEEDS_GIT


@pytest.fixture
def make_repo(tmp_path):
    """Make a real repository at ``tmp_path / name``."""
    return lambda name: Repo(tmp_path / name)


ALICE_HOME = ("alice", "alice@home.example")
COPILOT = ("Copilot", "198982749+Copilot@users.noreply.github.com")
GITHUB = ("GitHub", "noreply@github.com")


def builders(read):
    panel = cts.build_panel(read.tables)
    return panel.set_index("week")


def test_mailmap_merges_one_persons_addresses(make_repo):
    r = make_repo("app")
    r.commit("a", "a", "2025-01-06T10:00:00+00:00", ALICE)
    r.commit("b", "b", "2025-01-07T10:00:00+00:00", ALICE_HOME)
    assert read_git(r.path).tables["roster"]["person_id"].nunique() == 2
    (r.path / ".mailmap").write_text("Alice <alice@corp.example> <alice@home.example>\n")
    r.git("add", ".mailmap")
    r.git("commit", "--quiet", "-m", "mailmap", date="2025-01-08T10:00:00+00:00")
    assert read_git(r.path).tables["roster"]["person_id"].nunique() == 1


def test_identity_file_merges_addresses_and_logins(make_repo, tmp_path):
    r = make_repo("app")
    r.commit("a", "a", "2025-01-06T10:00:00+00:00", ALICE)
    r.commit(
        "b", "b", "2025-01-07T10:00:00+00:00", ("alice", "4242+alice-gh@users.noreply.github.com")
    )
    r.commit("c", "c", "2025-01-07T11:00:00+00:00", ALICE_HOME)
    people = tmp_path / "people.csv"
    people.write_text(
        "person,team,from,to,logins,emails,vendor_ids\n"
        "E1,app,2025-01-01,,alice-gh,alice@corp.example;ALICE@home.example,\n"
    )
    read = read_git(r.path, identities=read_identities(people))
    assert read.tables["roster"]["person_id"].nunique() == 1


def test_agent_authored_commits_are_the_humans_ai_assisted_work(make_repo):
    r = make_repo("app")
    r.commit("a", "a", "2025-01-06T10:00:00+00:00", ALICE)
    # Copilot's coding agent: authored by Copilot, the assigning human as co-author, squash-
    # merged through GitHub's web UI (committer GitHub).
    r.commit(
        "b",
        "Fix bug\n\nCo-authored-by: Bob <bob@corp.example>",
        "2025-01-07T10:00:00+00:00",
        COPILOT,
        committer=GITHUB,
    )
    # An agent commit pushed by alice (no co-author): alice's work.
    r.commit("c", "Refactor", "2025-01-14T10:00:00+00:00", COPILOT, committer=ALICE)
    # An agent commit with no human anywhere: a CR, nobody's AI use.
    r.commit("d", "Chore", "2025-01-14T11:00:00+00:00", COPILOT, committer=GITHUB)
    read = read_git(r.path)
    s = read.summary.iloc[0]
    assert (s["agent_commits"], s["agent_commits_credited"], s["bot_commits"]) == (3, 2, 0)
    assert len(read.tables["code_reviews"]) == 4
    weeks = builders(read)
    assert weeks["n_builders"].tolist() == [2, 2]  # alice, bob; Copilot never
    assert weeks["ai_active_builders"].tolist() == [1, 1]  # bob, then alice


def test_claude_code_markers_count_as_ai_use(make_repo):
    r = make_repo("app")
    r.commit(
        "a",
        "Add a\n\n🤖 Generated with [Claude Code](https://claude.com/claude-code)",
        "2025-01-06T10:00:00+00:00",
        ALICE,
    )
    r.commit("b", "Add b\n\nClaude-Session: 0123abcd", "2025-01-14T10:00:00+00:00", BOB)
    r.commit("c", "Add c (mentions claude in prose)", "2025-01-14T11:00:00+00:00", ALICE)
    read = read_git(r.path)
    assert read.summary["ai_assisted_commits"].item() == 2
    assert builders(read)["ai_active_builders"].tolist() == [1, 1]


def test_builders_are_active_in_a_trailing_window(make_repo):
    r = make_repo("app")
    r.commit("a", "a", "2024-01-03T10:00:00+00:00", ALICE)  # Wednesday of week 2024-01-01
    r.commit("b", "b", "2024-01-03T11:00:00+00:00", BOB)
    r.commit("c", "c", "2024-12-30T10:00:00+00:00", BOB)  # 52 weeks later
    weeks = builders(read_git(r.path, active_weeks=12))["n_builders"]
    # Alice counts for the 12 weeks from her commit's week, then never again (a first-to-last
    # roster kept her for ever); bob counts 12 weeks, is gone, and is back for the last week.
    assert weeks.loc["2024-01-01"] == 2 and weeks.loc["2024-03-18"] == 2
    assert "2024-03-25" not in weeks.index.strftime("%Y-%m-%d")  # nobody active: no row
    assert weeks.loc["2024-12-30"] == 1
    assert len(weeks) == 13
    one = builders(read_git(r.path, active_weeks=1))["n_builders"]
    assert one.tolist() == [2, 1]
    with pytest.raises(ValueError, match="active_weeks"):
        read_git(r.path, active_weeks=0)


def test_hashed_persons_never_hold_names(make_repo):
    r = make_repo("app")
    r.commit(
        "a",
        "a\n\nCo-authored-by: Bob <bob@corp.example>",
        "2025-01-06T10:00:00+00:00",
        COPILOT,
        committer=GITHUB,
    )
    tables = read_git(r.path).tables
    # `tool` names the assistant (cts.AI_TOOLS), never a person or an account.
    assert tables["ai_usage"]["tool"].tolist() == ["copilot"]
    persons = [t.drop(columns="tool", errors="ignore").astype(str) for t in tables.values()]
    text = pd.concat(persons).to_string().lower()
    assert "bob" not in text and "copilot" not in text
