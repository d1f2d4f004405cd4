"""Real git repositories in a temporary directory, for the source tests (a helper module,
not a conftest, so it cannot shadow tests/conftest.py)."""

import os
import shutil
import subprocess

import pytest

#: Marks a module whose tests drive real git.
NEEDS_GIT = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
ALICE = ("Alice", "alice@corp.example")
BOB = ("Bob", "bob@corp.example")


class Repo:
    """A git repository driven by real git commands, with the authors and dates we choose."""

    def __init__(self, path):
        self.path = path
        path.mkdir(parents=True)
        self.git("init", "--quiet", "--initial-branch=main")

    def git(
        self,
        *args,
        date="2025-01-06T10:00:00+00:00",
        author=("Alice", "alice@corp.example"),
        committer=None,
    ):
        committer = committer or author
        env = {
            **os.environ,
            "GIT_AUTHOR_NAME": author[0],
            "GIT_AUTHOR_EMAIL": author[1],
            "GIT_COMMITTER_NAME": committer[0],
            "GIT_COMMITTER_EMAIL": committer[1],
            "GIT_AUTHOR_DATE": date,
            "GIT_COMMITTER_DATE": date,
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_CONFIG_NOSYSTEM": "1",
        }
        return subprocess.run(
            ["git", "-C", str(self.path), *args],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()

    def commit(self, name, message, date, author=("Alice", "alice@corp.example"), committer=None):
        file = self.path / name
        file.parent.mkdir(parents=True, exist_ok=True)
        with file.open("a") as handle:
            handle.write(f"{message}\n{date}\n")
        self.git("add", name, date=date, author=author, committer=committer)
        self.git("commit", "--quiet", "-m", message, date=date, author=author, committer=committer)

    def merge(self, branch, date, **options):
        """Back on main, merge ``branch`` with a merge commit ("Merge <branch>") at ``date``;
        ``options`` (``author``, ``committer``) go to :meth:`git`."""
        self.git("checkout", "--quiet", "main", **options)
        self.git(
            "merge", "--quiet", "--no-ff", branch, "-m", f"Merge {branch}", date=date, **options
        )
