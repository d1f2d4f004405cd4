"""The result cache cannot be planted: its folder is private whatever the umask, a folder others
can write is refused, and an entry is unpickled only once its HMAC proves this user's cts wrote
it for this very call; anything else is discarded and recomputed, never executed."""

import os
import pickle
import stat
import warnings

import pytest

from cts.core import cache
from cts.core.cache import CACHE_ENV, cached
from cts.core.exceptions import CtsWarning

CALLS: list[float] = []


def doubled(x: float) -> float:
    CALLS.append(x)
    return 2 * x


class Planted:
    """A pickle that, when loaded, creates ``marker``: what an attacker's entry would do."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.fixture
def fresh(monkeypatch):
    CALLS.clear()
    getattr(cache, "_refused", set()).clear()
    return monkeypatch


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def _entry_name(tmp_path, fresh) -> str:
    """The file name the cache uses for ``doubled(3.0)`` (found in a folder of its own)."""
    probe = tmp_path / "probe"
    fresh.setenv(CACHE_ENV, str(probe))
    cached(doubled, 3.0)
    (entry,) = probe.glob("doubled-*.pickle")
    return entry.name


def test_a_planted_pickle_in_a_private_folder_is_never_unpickled(tmp_path, fresh):
    name = _entry_name(tmp_path, fresh)
    folder = tmp_path / "probe"
    marker = tmp_path / "code-ran"
    (folder / name).write_bytes(pickle.dumps({"result": Planted(str(marker)), "warnings": []}))
    CALLS.clear()
    assert cached(doubled, 3.0) == 6.0
    assert not marker.exists() and CALLS == [3.0]  # discarded and recomputed
    assert cached(doubled, 3.0) == 6.0 and CALLS == [3.0]  # the recomputed entry is good


def test_a_shared_world_writable_folder_is_refused_with_a_warning(tmp_path, fresh):
    name = _entry_name(tmp_path, fresh)
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o1777)
    marker = tmp_path / "code-ran"
    (shared / name).write_bytes(pickle.dumps({"result": Planted(str(marker)), "warnings": []}))
    fresh.setenv(CACHE_ENV, str(shared))
    CALLS.clear()
    with pytest.warns(CtsWarning, match="can be written by others"):
        assert cached(doubled, 3.0) == 6.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # said once, not on every call
        assert cached(doubled, 3.0) == 6.0
    assert not marker.exists() and CALLS == [3.0, 3.0]  # the cache is off: computed each time
    assert sorted(p.name for p in shared.iterdir()) == [name]  # nothing written there


def test_a_folder_of_another_user_is_refused(tmp_path, fresh):
    if os.geteuid() != 0:
        pytest.skip("giving a folder to another user needs root")
    theirs = tmp_path / "theirs"
    theirs.mkdir(mode=0o700)
    os.chown(theirs, 65534, 65534)  # nobody
    fresh.setenv(CACHE_ENV, str(theirs))
    with pytest.warns(CtsWarning, match="belongs to another user"):
        assert cached(doubled, 4.0) == 8.0
    assert list(theirs.iterdir()) == []


def test_with_umask_000_the_folder_is_0700_and_key_and_entries_0600(tmp_path, fresh):
    folder = tmp_path / "cache"
    fresh.setenv(CACHE_ENV, str(folder))
    previous = os.umask(0)
    try:
        cached(doubled, 5.0)
    finally:
        os.umask(previous)
    (entry,) = folder.glob("doubled-*.pickle")
    assert _mode(folder) == 0o700
    assert _mode(folder / "key") == 0o600 and _mode(entry) == 0o600
    assert (folder / "key").stat().st_size == 32


def test_an_entry_swapped_in_from_another_call_is_recomputed(tmp_path, fresh):
    folder = tmp_path / "cache"
    fresh.setenv(CACHE_ENV, str(folder))
    cached(doubled, 1.0)
    (one,) = folder.glob("doubled-*.pickle")
    cached(doubled, 2.0)
    (two,) = set(folder.glob("doubled-*.pickle")) - {one}
    os.replace(one, two)  # a valid, sealed entry under the other call's name
    CALLS.clear()
    assert cached(doubled, 2.0) == 4.0 and CALLS == [2.0]


@pytest.mark.parametrize(
    "wrong",
    [[1, 2], {"result": 1.0}, {"result": 1.0, "warnings": [("not a class", "x")]}, "text"],
    ids=["a-list", "no-warnings-key", "warnings-of-the-wrong-type", "a-string"],
)
def test_a_sealed_entry_of_the_wrong_shape_is_recomputed_and_replaced(tmp_path, fresh, wrong):
    folder = tmp_path / "cache"
    fresh.setenv(CACHE_ENV, str(folder))
    cached(doubled, 7.0)
    (entry,) = folder.glob("doubled-*.pickle")
    store = getattr(cache, "_store", None)
    if store is None:  # a cache without seals takes any pickle
        entry.write_bytes(pickle.dumps(wrong))
    else:
        store(entry, (folder / "key").read_bytes(), wrong)  # valid pickle and seal, not an entry
    CALLS.clear()
    assert cached(doubled, 7.0) == 14.0 and CALLS == [7.0]
    assert cached(doubled, 7.0) == 14.0 and CALLS == [7.0]  # replaced by a good entry
