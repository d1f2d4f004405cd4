"""Results cached by content: the same call on the same data with the same code is not redone.

A report re-run on an unchanged panel spends most of its time re-simulating power and re-fitting
forests whose answers cannot have changed. :func:`cached` keys a call on everything its answer
depends on — the function, every argument by content (a panel's rows, dtypes and ``attrs``,
including its window), the source of the whole ``cts`` package, and the versions of the numerical
libraries — so a changed panel, parameter, seed, cts line or library upgrade is a miss, never a
stale answer.

The cache lives in ``$CTS_CACHE_DIR`` (default ``$XDG_CACHE_HOME/cts``, else ``~/.cache/cts``);
``CTS_CACHE_DIR=off`` turns it off (``cts report --no-cache`` does this). Entries are pickles this
package wrote for itself; the newest :data:`MAX_ENTRIES` are kept.
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

import joblib  # joblib.hash: content hashes of DataFrames, arrays and nested containers

from cts.core.exceptions import CtsWarning
from cts.core.io import atomic_write

__all__ = ["CACHE_ENV", "MAX_ENTRIES", "cache_dir", "cached", "reused"]

CACHE_ENV = "CTS_CACHE_DIR"
#: Entries kept; older ones are removed when a new one is written.
MAX_ENTRIES = 256
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
        (getattr(function, "__module__", ""), name, _code_fingerprint(), _versions(), args, kwargs)
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
        os.utime(path)  # recently used entries survive the pruning
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


def _prune(folder: Path) -> None:
    entries = sorted(folder.glob("*.pickle"), key=lambda p: p.stat().st_mtime, reverse=True)
    for stale in entries[MAX_ENTRIES:]:
        stale.unlink(missing_ok=True)


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
