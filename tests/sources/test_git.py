"""cts.sources.git on small real git repositories built in a temporary directory."""

import shutil
import subprocess
import sys

import pandas as pd
import pytest
from git_repos import Repo as GitRepo

import cts
from cts.sources.build import EventError
from cts.sources.git import AI_AGENTS, read_events

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs the git command")

PEOPLE = {
    "alice": "alice@example.com",
    "bob": "bob@example.com",
    "carol": "carol@example.com",
}


class Repo(GitRepo):
    """The shared test repository, with authors named by their key in ``PEOPLE``."""

    def git(self, *args, who="alice", **options):
        options.setdefault("author", (who, PEOPLE[who]))
        return super().git(*args, **options)

    def commit(self, name, message, date, who="alice"):
        super().commit(name, message, date, author=(who, PEOPLE[who]))


@pytest.fixture
def repo(tmp_path):
    """Week of 2025-01-06: two direct commits and a tag; week of 01-13: a merged feature
    branch whose commit Claude co-authored (bob), a revert and a release."""
    r = Repo(tmp_path / "payments")
    r.commit("a.txt", "Add a", "2025-01-06T10:00:00+00:00")
    r.commit("b.txt", "Add b", "2025-01-07T10:00:00+00:00", who="bob")
    r.git("tag", "-a", "v1.0", "-m", "release 1.0", date="2025-01-08T09:00:00+00:00")
    r.git("tag", "experiment", date="2025-01-08T09:00:00+00:00")  # not a release tag
    r.git("checkout", "--quiet", "-b", "feature")
    r.commit(
        "c.txt",
        "Add c\n\nCo-authored-by: Claude <noreply@anthropic.com>",
        "2025-01-13T10:00:00+00:00",
        who="bob",
    )
    r.commit("d.txt", "Add d", "2025-01-13T11:00:00+00:00", who="bob")
    r.merge("feature", "2025-01-14T10:00:00+00:00")
    r.commit("e.txt", "Add e", "2025-01-15T10:00:00+00:00")
    r.git("revert", "--no-edit", "HEAD", date="2025-01-15T12:00:00+00:00")
    r.git("tag", "v1.1", date="2025-01-16T10:00:00+00:00")  # lightweight
    r.commit("f.txt", "Add f", "2025-01-22T10:00:00+00:00", who="carol")  # not released
    return r


def test_read_events_counts_what_the_history_holds(repo):
    events = read_events(repo.path)
    crs = events["code_reviews"].sort_values("merged_at", ignore_index=True)
    # First-parent history: a, b, the merge, e, the revert, f.
    assert len(crs) == 6
    shipped = crs["shipped_at"].dt.strftime("%m-%d").tolist()
    assert shipped[:2] == ["01-08", "01-08"]  # v1.0 is annotated: dated by its tagger
    assert shipped[2:5] == ["01-15"] * 3  # v1.1 (lightweight) dates from the revert commit
    assert pd.isna(crs["shipped_at"].iloc[5])
    assert len(events["deployments"]) == 2  # v1.0 and v1.1, not "experiment"
    assert len(events["rollbacks"]) == 1
    usage = events["ai_usage"]
    assert len(usage) == 1 and usage["used_at"].iloc[0] == pd.Timestamp("2025-01-13 10:00")
    roster = events["roster"]
    assert len(roster) == 3 and (roster["team_id"] == "payments").all()
    assert usage["person_id"].iloc[0] in set(roster["person_id"])


def test_authors_are_hashed_and_never_written(repo):
    events = read_events(repo.path)
    text = pd.concat([frame.astype(str) for frame in events.values()]).to_string()
    for who, email in PEOPLE.items():
        assert email not in text and who not in text
    # A key per call: the same author gets unrelated hashes in two reads.
    again = read_events(repo.path)
    assert set(events["roster"]["person_id"]).isdisjoint(again["roster"]["person_id"])


def test_panel_from_git_history(repo):
    panel = cts.build_panel(read_events(repo.path))
    cts.load_panel(panel, min_team_size=1)  # passes the panel contract
    weeks = panel.set_index("week")
    first, second, third = (pd.Timestamp(d) for d in ("2025-01-06", "2025-01-13", "2025-01-20"))
    assert list(weeks.index) == [first, second, third]
    # Builders are people who committed in the trailing 12 weeks (the roster used to
    # run from first to last commit, which gave [2, 2, 1]): alice and bob stay in week 3.
    assert weeks["n_builders"].tolist() == [2, 2, 3]
    assert weeks["crs_merged"].tolist() == [2, 3, 1]
    assert weeks["deployments"].tolist() == [1, 1, 0]
    assert weeks["rollbacks"].tolist() == [0, 1, 0]
    assert weeks["ai_active_builders"].tolist() == [0, 1, 0]
    assert weeks["crs_shipped"].tolist() == [2, 3, 0]
    assert (weeks[["pages", "manual_interventions", "oncall_builders"]] == 0).all().all()


def test_several_repositories_map_to_teams(repo, tmp_path):
    other = Repo(tmp_path / "ledger")
    other.commit("x.txt", "Add x", "2025-01-06T12:00:00+00:00", who="alice")
    events = read_events([repo.path, other.path], team_map={"payments": "money", "ledger": "money"})
    assert set(events["code_reviews"]["team_id"]) == {"money"}
    panel = cts.build_panel(events)
    # alice committed in both repositories: counted once.
    assert panel.loc[panel["week"] == "2025-01-06", "n_builders"].item() == 2
    with pytest.raises(EventError, match="team_map has no team for repository"):
        read_events(other.path, team_map={"payments": "money"})


def test_not_a_repository_is_a_clear_error(tmp_path):
    with pytest.raises(EventError, match="not a readable git repository"):
        read_events(tmp_path)


def test_every_listed_agent_is_recognised():
    from cts.sources.git import AI_AGENT_PATTERN

    trailers = [
        "Copilot <175728472+Copilot@users.noreply.github.com>",
        "Claude <noreply@anthropic.com>",
        "Cursor Agent <cursoragent@cursor.com>",
        "aider (gpt-4o) <noreply@aider.chat>",
        "Codex <codex@openai.com>",
        "gemini-code-assist[bot] <bot@google.com>",
        "devin-ai-integration[bot] <bot@devin.ai>",
    ]
    assert len(trailers) == len(AI_AGENTS)
    assert all(AI_AGENT_PATTERN.search(t) for t in trailers)
    assert not AI_AGENT_PATTERN.search("Bob Smith <bob@example.com>")


def test_build_panel_command_reads_git(repo, tmp_path):
    out = tmp_path / "panel.parquet"
    result = subprocess.run(
        [sys.executable, "-m", "cts", "build-panel", "--git", str(repo.path), str(out)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    panel = pd.read_parquet(out)
    assert panel["crs_merged"].sum() == 6 and (panel["architecture"] == "monolith").all()
    assert "fewer than 5 builders" in result.stderr  # the small-team warning reaches the user
