"""Team names from git: same-named repositories, CODEOWNERS and path maps (real repositories)."""

import pandas as pd
import pytest
from git_repos import ALICE, BOB, NEEDS_GIT, Repo

from cts.core.exceptions import EventError
from cts.sources.git import GitSourceWarning, read_git

pytestmark = NEEDS_GIT


@pytest.fixture
def make_repo(tmp_path):
    """Make a real repository at ``tmp_path / name``."""
    return lambda name: Repo(tmp_path / name)


def test_same_named_repositories_stay_separate_teams(make_repo):
    one, two = make_repo("pyfixest/repo"), make_repo("EconML/repo")
    one.commit("a", "a", "2025-01-06T10:00:00+00:00", ALICE)
    two.commit("b", "b", "2025-01-06T10:00:00+00:00", BOB)
    two.commit("c", "c", "2025-01-07T10:00:00+00:00", BOB)
    with pytest.warns(GitSourceWarning, match="several repositories are named 'repo'"):
        tables = read_git([one.path, two.path]).tables
    counts = tables["code_reviews"]["team_id"].value_counts().to_dict()
    assert counts == {"EconML/repo": 2, "pyfixest/repo": 1}
    with pytest.raises(EventError, match="more than once"):
        read_git([one.path, one.path / ".." / "repo"])


def test_same_names_that_parents_cannot_tell_apart_are_refused(make_repo, tmp_path):
    one = make_repo("a/x/repo")
    two = make_repo("b/x/repo")
    one.commit("a", "a", "2025-01-06T10:00:00+00:00", ALICE)
    two.commit("a", "a", "2025-01-06T10:00:00+00:00", ALICE)
    with pytest.raises(EventError, match="team_map"):
        read_git([one.path, two.path])
    named = read_git([one.path, two.path], team_map={str(one.path): "x1", str(two.path): "x2"})
    assert set(named.tables["code_reviews"]["team_id"]) == {"x1", "x2"}


@pytest.fixture
def monorepo(make_repo):
    r = make_repo("mono")
    (r.path / ".github").mkdir()
    (r.path / ".github" / "CODEOWNERS").write_text(
        "# owners\n"
        "*            @acme/platform\n"
        "/crates/linter/   @acme/linter @someone\n"
        "docs/**/*.md      @a-person\n"
        "*.toml            @acme/release\n"
    )
    r.git("add", ".github/CODEOWNERS")
    r.git("commit", "--quiet", "-m", "owners", date="2025-01-06T09:00:00+00:00")
    r.commit("crates/linter/src/rule.rs", "rule", "2025-01-06T10:00:00+00:00", ALICE)
    r.commit("crates/linter/Cargo.toml", "bump", "2025-01-06T11:00:00+00:00", ALICE)
    r.commit("crates/server/main.rs", "server", "2025-01-07T10:00:00+00:00", BOB)
    r.commit("docs/guide/intro.md", "docs", "2025-01-07T11:00:00+00:00", BOB)
    return r


def test_codeowners_teams_split_a_repository(monorepo):
    tables = read_git(monorepo.path, codeowners=True).tables
    crs = tables["code_reviews"].sort_values("merged_at")["team_id"].tolist()
    # owners commit: CODEOWNERS is under *, platform; the rule's Cargo.toml matches *.toml last.
    # docs/**/*.md is owned by a person only: no team, so the commit stays with the repo's team.
    assert crs == ["platform", "linter", "release", "platform", "mono"]
    assert "someone" not in set(tables["roster"]["team_id"]) | set(tables["teams"]["team_id"])
    roster = tables["roster"].groupby("team_id")["person_id"].nunique().to_dict()
    assert roster == {"linter": 1, "mono": 1, "platform": 2, "release": 1}


def test_a_path_map_splits_a_repository(monorepo):
    read = read_git(monorepo.path, team_paths={"crates/linter/": "lint", "docs/": "docs"})
    crs = read.tables["code_reviews"].sort_values("merged_at")["team_id"].tolist()
    assert crs == ["mono", "lint", "lint", "mono", "docs"]
    assert read.summary["path_teams"].item() == 2


def test_no_codeowners_file_is_an_error(make_repo):
    r = make_repo("plain")
    r.commit("a", "a", "2025-01-06T10:00:00+00:00", ALICE)
    with pytest.raises(EventError, match="no CODEOWNERS"):
        read_git(r.path, codeowners=True)
    assert isinstance(read_git(r.path).tables["roster"], pd.DataFrame)
