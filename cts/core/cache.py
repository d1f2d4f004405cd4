"""Results cached by content: the same call on the same data with the same code is not redone.

A report re-run on an unchanged panel spends most of its time re-simulating power and re-fitting
forests whose answers cannot have changed. :func:`cached` keys a call on everything its answer
depends on — the function, every argument by content (a panel's rows, dtypes and ``attrs``,
including its window), the source of the whole ``cts`` package, and the versions of the numerical
libraries — so a changed panel, parameter, seed, cts line or library upgrade is a miss, never a
stale answer.

The cache lives in ``$CTS_CACHE_DIR`` (default ``$XDG_CACHE_HOME/cts``, else ``~/.cache/cts``);
``CTS_CACHE_DIR=off`` turns it off (``cts report --no-cache`` does this). The newest entries are
kept, at most :data:`MAX_ENTRIES` of them and :data:`MAX_BYTES` in all.

Nobody else can plant an answer, or code, in it. The folder is private (``0700``, whatever the
umask): one that belongs to another user, or that others may write (a shared ``1777`` folder),
is refused with a warning and the cache is off. Entries are pickles, and unpickling runs code,
so each is sealed with an HMAC-SHA256 under a random per-user key (``key``, ``0600``, in the
folder) over its name and content, and the seal is checked before anything is unpickled: a
planted, altered or swapped entry, or one of the wrong shape, is discarded and recomputed.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import hmac
import importlib.metadata
import os
import pickle
import stat
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

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


def cached(function: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
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
        secret = _private(folder)
    except OSError as error:
        secret = None
        problem = f"results are not cached ({error}); set {CACHE_ENV} to a writable folder"
    except _NotPrivate as error:
        secret = None
        problem = f"results are not cached: {error}; set {CACHE_ENV} to a folder of your own"
    if secret is None:
        if str(folder) not in _refused:  # once per folder and process, not once per call
            _refused.add(str(folder))
            warnings.warn(f"{problem}, or to 'off' to silence this", CtsWarning, stacklevel=2)
        return function(*args, **kwargs)
    entry = _load(path, secret)
    if entry is not None:
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
        _store(path, secret, entry)
        _prune(folder)
    except (OSError, pickle.PicklingError, TypeError, AttributeError) as error:
        warnings.warn(
            f"results are not cached ({error}); set {CACHE_ENV} to a writable folder, or to "
            "'off' to silence this",
            CtsWarning,
            stacklevel=2,
        )
    return _replayed(entry)


class _NotPrivate(Exception):
    """The cache folder (or its key) could be written by someone else."""


#: Folders refused (or unwritable) in this process, warned about once.
_refused: set[str] = set()
_KEY_BYTES = 32


def _private(folder: Path) -> bytes:
    """Make sure ``folder`` is ours alone and return the key that seals its entries.

    Created ``0700`` (explicitly: the umask can only take bits away, and a missing parent is
    made as usual). An existing folder must belong to this user and be writable by nobody
    else; one only others could read (``0755``, from older versions) is tightened, since no one
    could have planted anything in it. Raises :class:`_NotPrivate` otherwise.
    """
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    info = folder.stat()
    if info.st_uid != os.geteuid():
        raise _NotPrivate(f"{folder} belongs to another user (uid {info.st_uid})")
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise _NotPrivate(
            f"{folder} can be written by others (mode {stat.S_IMODE(info.st_mode):04o}): "
            "anyone could plant an entry there"
        )
    if stat.S_IMODE(info.st_mode) != 0o700:
        os.chmod(folder, 0o700)
    return _key(folder / "key")


def _key(path: Path) -> bytes:
    """The per-user key beside the entries: read it, or create it ``0600`` on first use."""
    try:
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        pass
    else:
        try:
            os.fchmod(handle, 0o600)
            os.write(handle, os.urandom(_KEY_BYTES))
        finally:
            os.close(handle)
    handle = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    try:
        info = os.fstat(handle)
        secret = os.read(handle, _KEY_BYTES + 1)
    finally:
        os.close(handle)
    if info.st_uid != os.geteuid() or stat.S_IMODE(info.st_mode) & 0o077:
        raise _NotPrivate(f"its key {path} is not private to this user (mode 0600 expected)")
    if len(secret) != _KEY_BYTES:  # a key cut short by a crash: a new one voids every entry
        os.unlink(path)
        return _key(path)
    return secret


def _seal(secret: bytes, path: Path, payload: bytes) -> bytes:
    """HMAC-SHA256 of the entry's file name and content: an entry moved under another call's
    name fails as surely as an altered one."""
    return hmac.new(secret, path.name.encode() + b"\0" + payload, hashlib.sha256).digest()


def _store(path: Path, secret: bytes, entry: dict) -> None:
    payload = pickle.dumps(entry)
    sealed = _seal(secret, path, payload) + payload
    atomic_write(path, lambda temporary: Path(temporary).write_bytes(sealed), mode=0o600)


def _load(path: Path, secret: bytes) -> dict | None:
    """The entry at ``path`` if its seal holds and its shape is an entry's; otherwise None, and
    a bad entry is removed (it is recomputed and replaced)."""
    try:
        data = path.read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError:
        data = b""
    digest = hashlib.sha256().digest_size
    seal, payload = data[:digest], data[digest:]
    entry = None
    if len(data) > digest and hmac.compare_digest(seal, _seal(secret, path, payload)):
        try:  # sealed with our key: written by this package for this very call
            entry = pickle.loads(payload)  # noqa: S301 - authenticated above
        except Exception:  # noqa: BLE001 - written by another version of a library
            entry = None
    if _is_entry(entry):
        return entry
    with contextlib.suppress(OSError):
        path.unlink()
    return None


def _is_entry(entry: object) -> bool:
    return (
        isinstance(entry, dict)
        and set(entry) == {"result", "warnings"}
        and isinstance(entry["warnings"], list)
        and all(
            isinstance(item, tuple)
            and len(item) == 2
            and isinstance(item[0], type)
            and issubclass(item[0], Warning)
            and isinstance(item[1], str)
            for item in entry["warnings"]
        )
    )


def _replayed(entry: dict) -> Any:
    """The entry's result, after re-issuing the warnings the call raised: a caveat the
    computation gave (few teams, a section left out) is given again on every answer."""
    for category, message in entry["warnings"]:
        warnings.warn(message, category, stacklevel=3)
    return entry["result"]


def reused() -> list[str]:
    """The calls this process answered from the cache, in order (a report lists them)."""
    return list(_reused)


def _by_content(value: Any) -> Any:
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
    for kept, (info, path) in enumerate(entries):
        total += info.st_size
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
