"""Results cached by content: the same call on the same data with the same code is not redone.

A report re-run on an unchanged panel spends most of its time re-simulating power and re-fitting
forests whose answers cannot have changed. :func:`cached` keys a call on everything its answer
depends on — the function, every argument by content (a panel's rows, dtypes and ``attrs``,
including its window), the source of the whole ``cts`` package, and the versions of the numerical
libraries — so a changed panel, parameter, seed, cts line or library upgrade is a miss, never a
stale answer.

The cache lives in ``$CTS_CACHE_DIR`` (default ``$XDG_CACHE_HOME/cts``, else ``~/.cache/cts``);
``CTS_CACHE_DIR=off`` turns it off (``cts report --no-cache`` does this). Entries are pickles this
package wrote for itself; the newest are kept, at most :data:`MAX_ENTRIES` of them and
:data:`MAX_BYTES` in all.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.metadata
import os
import pickle
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import joblib  # joblib.hash: content hashes of arrays and nested containers
import pandas as pd

from cts.core.exceptions import CtsWarning
from cts.core.io import atomic_write

__all__ = ["CACHE_ENV", "MAX_BYTES", "MAX_ENTRIES", "cache_dir", "cached", "reused"]

CACHE_ENV = "CTS_CACHE_DIR"
#: Entries and bytes kept; the oldest are removed when a new entry is written.
MAX_ENTRIES = 256
MAX_BYTES = 2**30
_OFF = {"", "0", "off", "no", "false", "none"}
#: Libraries whose version can change a numerical answer.
_LIBRARIES = (
    "numpy", "pandas", "scipy", "pyfixest", "linearmodels", "statsmodels", "econml",
    "scikit-learn",
)  # fmt: skip
#: Names of the calls answered from the cache in this process, for a report's provenance.
_reused: list[str] = []

T = TypeVar("T")


def cache_dir() -> Path | None:
    """The cache folder, or None when ``CTS_CACHE_DIR`` turns the cache off."""
    value = os.environ.get(CACHE_ENV)
    if value is not None:
        return None if value.strip().lower() in _OFF else Path(value).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "cts"


def cached(function: Callable[..., T], /, *args, **kwargs) -> T:
    """``function(*args, **kwargs)``, answered from the cache when the same call was made before.

    Use it only for deterministic functions (seeded simulations are). Warnings the call raised
    are stored with its result and raised again on every answer. A cache that cannot be
    written (a read-only home) costs nothing but the saving, with one warning; an unreadable
    entry is recomputed.

    Examples
    --------
    >>> power = cts.cached(cts.power, panel, 0.05, reps=50, seed=0)  # doctest: +SKIP
    """
    folder = cache_dir()
    if folder is None:
        return function(*args, **kwargs)
    name = getattr(function, "__qualname__", repr(function))
    key = joblib.hash(
        (
            getattr(function, "__module__", ""),
            name,
            _code_fingerprint(),
            _versions(),
            _by_content(args),
            _by_content(kwargs),
        )
    )
    path = folder / f"{getattr(function, '__name__', 'call')}-{key}.pickle"
    try:
        with path.open("rb") as file:
            entry = pickle.load(file)  # noqa: S301 - our own entries, keyed by content
    except (FileNotFoundError, NotADirectoryError):
        pass
    except Exception:  # noqa: BLE001 - a truncated or outdated entry: recompute it
        with contextlib.suppress(OSError):
            path.unlink()
    else:
        with contextlib.suppress(OSError):  # recently used entries survive the pruning
            os.utime(path)
        _reused.append(name)
        return _replayed(entry)
    # Recorded under the caller's filters: what they silence (e.g. a library's deprecations)
    # is neither shown now nor stored to be shown later.
    with warnings.catch_warnings(record=True) as caught:
        result = function(*args, **kwargs)
    entry = {"result": result, "warnings": [(w.category, str(w.message)) for w in caught]}
    try:
        atomic_write(path, lambda temporary: Path(temporary).write_bytes(pickle.dumps(entry)))
        _prune(folder)
    except (OSError, pickle.PicklingError, TypeError, AttributeError) as error:
        warnings.warn(
            f"results are not cached ({error}); set {CACHE_ENV} to a writable folder, or to "
            "'off' to silence this",
            CtsWarning,
            stacklevel=2,
        )
    return _replayed(entry)


def _replayed(entry: dict):
    """The entry's result, after re-issuing the warnings the call raised: a caveat the
    computation gave (few teams, a section left out) is given again on every answer."""
    for category, message in entry["warnings"]:
        warnings.warn(message, category, stacklevel=3)
    return entry["result"]


def reused() -> list[str]:
    """The calls this process answered from the cache, in order (a report lists them)."""
    return list(_reused)


def _by_content(value):
    """``value`` with every DataFrame or Series replaced by what it holds: column names, dtypes,
    a hash of each row (index included) and ``attrs``. joblib.hash of a DataFrame itself pickles
    pandas' internal block layout, which operations that change no value (a copy, a
    consolidation inside some pandas call) change, so equal panels would miss."""
    if isinstance(value, pd.DataFrame | pd.Series):
        frame = value.to_frame() if isinstance(value, pd.Series) else value
        return (
            type(value).__name__,
            tuple(map(str, frame.columns)),
            tuple(map(str, frame.dtypes)),
            pd.util.hash_pandas_object(frame, index=True).to_numpy(),
            _by_content(dict(value.attrs)),
        )
    if isinstance(value, dict):
        return {key: _by_content(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_by_content(item) for item in value)
    return value


def _prune(folder: Path) -> None:
    entries = sorted(
        ((path.stat(), path) for path in folder.glob("*.pickle")),
        key=lambda entry: entry[0].st_mtime,
        reverse=True,
    )
    total = 0
    for kept, (stat, path) in enumerate(entries):
        total += stat.st_size
        if kept >= MAX_ENTRIES or (kept > 0 and total > MAX_BYTES):
            path.unlink(missing_ok=True)


@functools.cache
def _code_fingerprint() -> str:
    """SHA-256 of every module of the installed ``cts`` package: any code change is a miss."""
    package = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for source in sorted(package.rglob("*.py")):
        digest.update(str(source.relative_to(package)).encode())
        digest.update(source.read_bytes())
    return digest.hexdigest()


@functools.cache
def _versions() -> tuple[tuple[str, str], ...]:
    found = []
    for library in _LIBRARIES:
        try:
            found.append((library, importlib.metadata.version(library)))
        except importlib.metadata.PackageNotFoundError:
            found.append((library, "absent"))
    return tuple(found)
