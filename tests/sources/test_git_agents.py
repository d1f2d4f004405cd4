"""Agents' CRs, CR size and per-tool AI use from git, on real repositories."""

import warnings

import pytest
from git_repos import ALICE, BOB, NEEDS_GIT, Repo

import cts
from cts.sources.git import read_git

pytestmark = NEEDS_GIT

COPILOT = ("Copilot", "198982749+Copilot@users.noreply.github.com")
GITHUB = ("GitHub", "noreply@github.com")
DEVIN = (
    "devin-ai-integration[bot]",
    "158243242+devin-ai-integration[bot]@users.noreply.github.com",
)


def write(repo, name, lines, message, date, author, committer=None):
    """Replace file ``name`` with ``lines`` lines and commit it."""
    path = repo.path / name
    path.write_text("".join(f"{name} line {i}\n" for i in range(lines)))
    repo.git("add", name, date=date, author=author, committer=committer)
    repo.git("commit", "--quiet", "-m", message, date=date, author=author, committer=committer)


@pytest.fixture
def history(tmp_path):
    """Week of 2025-01-06: alice adds 10 lines; Copilot's agent squash-merges 4 new lines (bob
    assigned it); a binary file. Week of 01-13: a merged branch (a Claude Code commit, then
    bob's fix on top); Devin's PR merged by alice; alice shortens a file."""
    r = Repo(tmp_path / "app")
    write(r, "a.txt", 10, "Add a", "2025-01-06T10:00:00+00:00", ALICE)
    write(
        r,
        "b.txt",
        4,
        "Fix bug\n\nCo-authored-by: Bob <bob@corp.example>",
        "2025-01-07T10:00:00+00:00",
        COPILOT,
        GITHUB,
    )
    (r.path / "logo.png").write_bytes(bytes(range(256)))
    r.git("add", "logo.png", date="2025-01-08T10:00:00+00:00", author=ALICE)
    r.git("commit", "--quiet", "-m", "Logo", date="2025-01-08T10:00:00+00:00", author=ALICE)
    r.git("checkout", "--quiet", "-b", "feature", date="2025-01-13T09:00:00+00:00")
    write(
        r,
        "c.txt",
        6,
        "Add c\n\nCo-Authored-By: Claude <noreply@anthropic.com>",
        "2025-01-13T10:00:00+00:00",
        BOB,
    )
    write(r, "c.txt", 7, "Fix c", "2025-01-13T11:00:00+00:00", BOB)  # +1 line
    r.merge("feature", "2025-01-14T10:00:00+00:00")
    write(r, "d.txt", 3, "Add d", "2025-01-15T10:00:00+00:00", DEVIN, ALICE)
    write(r, "a.txt", 8, "Shorten a", "2025-01-16T10:00:00+00:00", ALICE)  # -2 lines
    return r


def test_agent_crs_sizes_and_tools_per_week(history):
    read = read_git(history.path)
    crs = read.tables["code_reviews"].sort_values("merged_at")
    assert crs["is_agent"].tolist() == [False, True, False, True, True, False]
    assert crs["additions"].tolist() == [10, 4, 0, 7, 3, 0]  # binary logo: no lines
    assert crs["deletions"].tolist() == [0, 0, 0, 0, 0, 2]
    assert read.summary["agent_crs"].item() == 3
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", cts.PanelWarning)
        panel = cts.build_panel(read.tables).set_index("week")
        cts.load_panel(panel.reset_index(), min_team_size=1)
    assert panel["crs_merged"].tolist() == [3, 3]
    assert panel["agent_crs"].tolist() == [1, 2]
    assert panel["lines_changed"].tolist() == [14, 12]
    # Copilot's commit is bob's (its co-author), Claude Code's bob's, Devin's alice's (committer).
    assert panel["ai_active_builders_copilot"].tolist() == [1, 0]
    assert panel["ai_active_builders_claude_code"].tolist() == [0, 1]
    assert panel["ai_active_builders_other"].tolist() == [0, 1]
    assert panel["ai_active_builders"].tolist() == [1, 2]
    assert panel["n_builders"].tolist() == [2, 2]  # agents are never builders
