import os
import warnings

import numpy as np
import pandas as pd
import pytest

from cts.core import cache
from cts.core.cache import CACHE_ENV, cache_dir, cached, reused
from cts.core.exceptions import FewTeamsWarning

CALLS: list[tuple] = []


def slow_mean(panel: pd.DataFrame, column: str, *, scale: float = 1.0) -> float:
    """Counts its own calls, so a test can tell a cache hit from a recomputation."""
    CALLS.append((column, scale))
    return float(panel[column].mean() * scale)


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    CALLS.clear()
    return tmp_path / "cache"


@pytest.fixture
def panel():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"team_id": np.repeat(["a", "b"], 5), "y": rng.normal(size=10)})
    frame.attrs["window"] = (None, None)
    return frame


def test_a_repeated_call_is_answered_from_the_cache(folder, panel):
    first = cached(slow_mean, panel, "y", scale=2.0)
    again = cached(slow_mean, panel.copy(), "y", scale=2.0)  # equal content, another object
    assert again == first == pytest.approx(2 * panel["y"].mean())
    assert len(CALLS) == 1 and len(list(folder.glob("slow_mean-*.pickle"))) == 1
    assert reused()[-1] == "slow_mean"


def warns_twice(x: float) -> float:
    CALLS.append(("warns", x))
    warnings.warn("few teams: read with care", FewTeamsWarning, stacklevel=2)
    warnings.warn("a second caveat", UserWarning, stacklevel=2)
    return x


def test_warnings_are_given_again_on_a_hit(folder):
    for _ in range(2):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert cached(warns_twice, 1.5) == 1.5
        assert [(w.category, str(w.message)) for w in caught] == [
            (FewTeamsWarning, "few teams: read with care"),
            (UserWarning, "a second caveat"),
        ]
    assert len(CALLS) == 1


def test_what_the_caller_silences_is_not_stored_to_be_shown_later(folder):
    with warnings.catch_warnings(), pytest.warns(UserWarning, match="second"):
        warnings.simplefilter("ignore", FewTeamsWarning)
        cached(warns_twice, 2.5)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert cached(warns_twice, 2.5) == 2.5
    assert [w.category for w in caught] == [UserWarning] and len(CALLS) == 1


def test_equal_panels_hit_whatever_pandas_did_to_their_memory_layout(folder, panel):
    """A copy or a consolidation changes pandas' block layout, not the panel."""
    together = panel.assign(z=panel["y"] * 2)  # y and z share one float block after a copy
    one_by_one = panel[["team_id"]].copy()
    one_by_one["y"] = panel["y"].to_numpy()
    one_by_one["z"] = panel["y"].to_numpy() * 2  # a block per column
    one_by_one.attrs = dict(panel.attrs)
    assert together.copy()._mgr.nblocks != one_by_one._mgr.nblocks
    cached(slow_mean, together, "z")
    cached(slow_mean, one_by_one, "z")
    cached(slow_mean, together.copy(deep=True), "z")
    assert len(CALLS) == 1


def test_any_change_in_data_window_or_arguments_is_a_miss(folder, panel):
    cached(slow_mean, panel, "y")
    changed = panel.copy()
    changed.loc[3, "y"] += 1e-9
    windowed = panel.copy()
    windowed.attrs["window"] = ("2024-01-01", None)
    cached(slow_mean, changed, "y")
    cached(slow_mean, windowed, "y")
    cached(slow_mean, panel, "y", scale=3.0)
    assert len(CALLS) == 4
    assert cached(slow_mean, changed, "y") == pytest.approx(changed["y"].mean())
    assert len(CALLS) == 4


def test_a_code_change_is_a_miss(folder, panel, monkeypatch):
    cached(slow_mean, panel, "y")
    monkeypatch.setattr(cache, "_code_fingerprint", lambda: "another version of cts")
    cached(slow_mean, panel, "y")
    assert len(CALLS) == 2


def test_off_means_every_call_computes(monkeypatch, panel, tmp_path):
    monkeypatch.setenv(CACHE_ENV, "off")
    CALLS.clear()
    assert cache_dir() is None
    cached(slow_mean, panel, "y")
    cached(slow_mean, panel, "y")
    assert len(CALLS) == 2


def test_default_folder_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.delenv(CACHE_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache_dir() == tmp_path / "cts"


def test_a_corrupt_entry_is_recomputed_and_replaced(folder, panel):
    cached(slow_mean, panel, "y")
    (entry,) = folder.glob("slow_mean-*.pickle")
    entry.write_bytes(b"not a pickle")
    assert cached(slow_mean, panel, "y") == pytest.approx(panel["y"].mean())
    assert len(CALLS) == 2
    assert entry.read_bytes() != b"not a pickle"  # replaced by a good entry, which now answers
    assert cached(slow_mean, panel, "y") == pytest.approx(panel["y"].mean())
    assert len(CALLS) == 2


def test_an_unwritable_cache_path_warns_and_still_answers(monkeypatch, panel, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv(CACHE_ENV, str(blocker / "cache"))  # a folder under a file: never writable
    with pytest.warns(cache.CtsWarning, match="not cached"):
        assert cached(slow_mean, panel, "y") == pytest.approx(panel["y"].mean())


def test_only_the_newest_entries_are_kept(folder, panel, monkeypatch):
    monkeypatch.setattr(cache, "MAX_ENTRIES", 3)
    for age, scale in enumerate(range(5)):
        before = set(folder.glob("*.pickle"))
        cached(slow_mean, panel, "y", scale=float(scale))
        (written,) = set(folder.glob("*.pickle")) - before
        os.utime(written, (1e9 + age, 1e9 + age))  # written one second apart
    assert len(list(folder.glob("*.pickle"))) == 3
    CALLS.clear()
    cached(slow_mean, panel, "y", scale=4.0)  # the newest survived
    cached(slow_mean, panel, "y", scale=0.0)  # the oldest did not
    assert CALLS == [("y", 0.0)]


def test_the_cache_keeps_within_its_byte_budget(folder, panel, monkeypatch):
    cached(slow_mean, panel, "y", scale=1.0)
    (first,) = folder.glob("*.pickle")
    os.utime(first, (1e9, 1e9))
    monkeypatch.setattr(cache, "MAX_BYTES", first.stat().st_size + 1)  # room for one entry
    cached(slow_mean, panel, "y", scale=2.0)
    assert [p.name for p in folder.glob("*.pickle")] != [first.name]
    assert len(list(folder.glob("*.pickle"))) == 1
