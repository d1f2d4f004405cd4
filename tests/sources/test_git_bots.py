"""The git reader leaves bots out of builders and CRs, and says how many (real repositories)."""

import warnings

import pandas as pd
import pytest
from git_repos import ALICE, BOB, NEEDS_GIT, Repo

import cts
from cts.sources.git import GitSourceWarning, read_git

pytestmark = NEEDS_GIT


@pytest.fixture
def make_repo(tmp_path):
    """Make a real repository at ``tmp_path / name``."""
    return lambda name: Repo(tmp_path / name)


DEPENDABOT = ("dependabot[bot]", "49699333+dependabot[bot]@users.noreply.github.com")
RENOVATE = ("renovate[bot]", "29139614+renovate[bot]@users.noreply.github.com")
PRECOMMIT = ("pre-commit-ci", "66853113+pre-commit-ci@users.noreply.github.com")


@pytest.fixture
def repo(make_repo):
    """Week of 2025-01-06: alice, bob, a squash-merged Dependabot bump and a pre-commit.ci
    autofix on main; week of 01-13: a merge of renovate's branch (merged by bob) and alice."""
    r = make_repo("service")
    r.commit("a.txt", "Add a", "2025-01-06T10:00:00+00:00", ALICE)
    r.commit("b.txt", "Add b", "2025-01-07T10:00:00+00:00", BOB)
    r.commit("req.txt", "Bump x from 1 to 2", "2025-01-08T10:00:00+00:00", DEPENDABOT)
    r.commit("a.txt", "[pre-commit.ci] auto fixes", "2025-01-09T10:00:00+00:00", PRECOMMIT)
    r.git("checkout", "--quiet", "-b", "renovate/deps")
    r.commit("lock.txt", "Update deps", "2025-01-13T09:00:00+00:00", RENOVATE)
    r.merge("renovate/deps", "2025-01-14T10:00:00+00:00", author=BOB)
    r.commit("c.txt", "Add c", "2025-01-15T10:00:00+00:00", ALICE)
    return r


def test_bots_are_neither_builders_nor_crs(repo):
    with pytest.warns(GitSourceWarning, match="left out 3 bot commit"):
        read = read_git(repo.path)
    # First parent: a, b, dependabot, pre-commit, the merge of renovate's branch, c.
    assert len(read.tables["code_reviews"]) == 3  # a, b, c
    summary = read.summary.iloc[0]
    assert (summary["crs"], summary["bot_crs"], summary["bot_commits"]) == (6, 3, 3)
    panel = cts.build_panel(read.tables)
    weeks = panel.set_index("week")
    assert weeks["n_builders"].tolist() == [2, 2]  # alice and bob only
    assert weeks["crs_merged"].tolist() == [2, 1]


def test_bots_can_be_kept_or_listed(repo):
    with warnings.catch_warnings():
        warnings.simplefilter("error", GitSourceWarning)  # nothing excluded: no warning
        kept = read_git(repo.path, exclude_bots=False)
    assert len(kept.tables["code_reviews"]) == 6
    assert kept.tables["roster"]["person_id"].nunique() == 5
    # A custom list: only Dependabot is a bot.
    with pytest.warns(GitSourceWarning):
        custom = read_git(repo.path, bots=[r"^dependabot"])
    assert len(custom.tables["code_reviews"]) == 5
    assert custom.summary["bot_commits"].item() == 1


def test_bot_names_never_reach_the_tables(repo):
    with pytest.warns(GitSourceWarning):
        tables = read_git(repo.path).tables
    text = pd.concat([t.astype(str) for t in tables.values()]).to_string()
    for who in (ALICE, BOB, DEPENDABOT, RENOVATE):
        assert who[0] not in text and who[1] not in text
