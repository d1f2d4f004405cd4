"""What every export reader shares: loading vendor records, UTC times, hashing persons.

Vendor exports come as a JSON array, an API response wrapping one (``{"incidents": [...]}``),
or newline-delimited JSON (NDJSON, one record a line), or CSV. :func:`load_records` reads any of
these into plain dicts, each tagged with the file and record number it came from, so a problem
can name both. :func:`utc` parses times with any offset to naive UTC; :func:`person_hasher` draws
the per-call key with which person identifiers are hashed at read time (BLAKE2b), as the git
reader does.

Every file a source reads is opened here (:func:`read_text`), so what can go wrong with a file is
checked once for all of them, each as one :class:`EventError` naming the file: a folder or a
looping symbolic link where a file is expected, bytes that are not UTF-8 text (a latin-1 or
binary file), a CSV header that names a column twice, a file without records (empty, or a
header only). Dates outside :func:`date_range` (before 2000, or more than a week from now) are
an error naming file, record and field (:func:`in_range`): one record dated 2099 would stretch
a panel of a few weeks to thousands. A source whose every record had to be left out is an error,
not an empty table (:func:`none_unusable`).
"""

from __future__ import annotations

import csv
import errno
import glob
import hashlib
import io
import json
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from cts.sources.contract import TABLES, EventError

__all__ = [
    "EARLIEST",
    "csv_header",
    "date_range",
    "dig",
    "empty_table",
    "expand_paths",
    "frame",
    "in_range",
    "load_records",
    "none_unusable",
    "person_hasher",
    "read_text",
    "utc",
]

#: The earliest date a source may hold: anything before is a typo or a placeholder (1970-01-01).
EARLIEST = pd.Timestamp("2000-01-01")
#: How far past today a date may lie (clocks, time zones, a roster's next Monday).
_AHEAD = pd.Timedelta(weeks=1)


def person_hasher(key: bytes | None = None) -> Callable[[str], str]:
    """A function that hashes a person's canonical key with ``key`` (default: a fresh random
    key), so hashes match across the sources of one build and nowhere else."""
    key = os.urandom(16) if key is None else key

    def person(canonical: str) -> str:
        return hashlib.blake2b(canonical.encode(), key=key, digest_size=8).hexdigest()

    return person


def expand_paths(paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Files named by ``paths`` (files, directories or glob patterns), sorted; an
    :class:`EventError` if a name matches nothing."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    files: list[Path] = []
    for name in paths:
        path = Path(name)
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
            if not found:
                raise EventError(f"{name}: a folder without files")
        elif path.exists() or path.is_symlink():  # a broken or looping link: read_text says so
            found = [path]
        else:
            found = sorted(Path(p) for p in glob.glob(str(name)))
        if not found:
            raise EventError(f"{name}: no such file")
        files += found
    return files


def read_text(path: str | os.PathLike[str]) -> str:
    """The text of one input file (UTF-8, a byte-order mark allowed): the one place sources
    open files, so every problem with one is an :class:`EventError` naming it, never a
    traceback."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise EventError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise EventError(f"{path}: a folder, where a file is expected") from None
    except PermissionError:
        raise EventError(f"{path}: not readable (permission denied)") from None
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise EventError(
                f"{path}: a symbolic link that loops (it points back at itself): name the file"
            ) from None
        raise EventError(f"{path}: cannot be read ({error.strerror or error})") from None
    if b"\0" in data[:8192]:
        raise EventError(f"{path}: a binary file, not text (CSV, JSON or NDJSON expected)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise EventError(
            f"{path}, line {line}: not UTF-8 text (byte {data[error.start]:#04x}); save the "
            "file as UTF-8 (a latin-1 or Windows export must be converted)"
        ) from None


def csv_header(path: str | os.PathLike[str], text: str) -> list[str]:
    """The column names of a CSV file; an :class:`EventError` if one appears twice (pandas
    would silently rename the second ``team`` to ``team.1``, and a reader would use either)."""
    header = next(csv.reader(io.StringIO(text)), [])
    names = [name.strip() for name in header]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise EventError(
            f"{path}, line 1: column(s) {', '.join(f'`{n}`' for n in twice)} appear more than "
            "once in the header; keep one of each"
        )
    return names


def load_records(path: Path, wrapper: str | None = None) -> list[dict[str, Any]]:
    """Records of one export file: JSON array, ``{wrapper: [...]}``, NDJSON, or CSV.

    Each record gets ``_file`` and ``_record`` (1-based line of NDJSON/CSV, index in a JSON
    array) so errors can point at it. A file without records (empty, a header only, an empty
    array) is an :class:`EventError`: it is not a source of zeros.
    """
    records = _records(Path(path), wrapper)
    if not records:
        raise EventError(
            f"{path}: no records (the file is empty, or holds only a header or an empty list); "
            "export it again, or leave it out of the sources"
        )
    return records


def _records(path: Path, wrapper: str | None) -> list[dict[str, Any]]:
    text = read_text(path)
    if path.suffix.lower() == ".csv":
        csv_header(path, text)
        rows = list(csv.DictReader(io.StringIO(text)))
        return [{**row, "_file": str(path), "_record": i + 2} for i, row in enumerate(rows)]
    stripped = text.lstrip()
    records: list[Any]
    document = None
    if path.suffix.lower() not in (".ndjson", ".jsonl") and stripped[:1] in ("[", "{"):
        try:
            document = json.loads(text)
        except json.JSONDecodeError:
            document = None  # NDJSON: several JSON objects, one a line
    keys = [k for k in (wrapper, "data", "items") if k]
    found = (
        next((k for k in keys if isinstance(document.get(k), list)), None)
        if isinstance(document, dict)
        else None
    )
    if isinstance(document, list):
        records = document
    elif found is not None and isinstance(document, dict):
        records = document[found]
    else:
        records = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                records.append((number, json.loads(line)))
            except json.JSONDecodeError as error:
                raise EventError(f"{path}, line {number}: not JSON ({error.msg})") from None
        return [_tagged(record, path, number) for number, record in records]
    return [_tagged(record, path, i) for i, record in enumerate(records)]


def _tagged(record: Any, path: Path, number: int) -> dict[str, Any]:
    if not isinstance(record, dict):
        raise EventError(f"{path}, record {number}: expected an object, got {record!r:.60}")
    return {**record, "_file": str(path), "_record": number}


def dig(record: Mapping[str, Any], field: str, *, required: bool = True) -> Any:
    """``record``'s value at a dotted ``field`` (``"actor.email_address"``); an
    :class:`EventError` naming file, record and field when a required one is missing."""
    value: Any = record
    for part in field.split("."):
        if not isinstance(value, Mapping) or part not in value:
            if required:
                raise EventError(
                    f"{record.get('_file')}, record {record.get('_record')}: no field `{field}` "
                    f"(it has {', '.join(f'`{k}`' for k in record if not k.startswith('_'))}); "
                    "is this the vendor's export?"
                )
            return None
        value = value[part]
    return value


def utc(value: Any, record: Mapping[str, Any], field: str, *, unit: str | None = None):
    """``value`` as a naive UTC timestamp (offsets converted, naive read as UTC); an
    :class:`EventError` naming file, record and field if it does not parse."""
    try:
        if unit is not None:
            stamp = pd.Timestamp(int(value), unit=unit)
        else:
            stamp = pd.Timestamp(value)
        if pd.isna(stamp):
            raise ValueError("empty")
    except (ValueError, TypeError):
        raise EventError(
            f"{record.get('_file')}, record {record.get('_record')}: field `{field}` "
            f"{value!r} does not parse as a date/time"
        ) from None
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    return in_range(stamp, record, field)


def date_range() -> tuple[pd.Timestamp, pd.Timestamp]:
    """The dates a source may hold: from :data:`EARLIEST` to a week after today."""
    return EARLIEST, pd.Timestamp.now().normalize() + _AHEAD


def in_range(stamp: pd.Timestamp, record: Mapping[str, Any], field: str) -> pd.Timestamp:
    """``stamp`` if within :func:`date_range`; else an :class:`EventError` naming file, record
    and field."""
    first, last = date_range()
    if not first <= stamp <= last:
        when = "before 2000" if stamp < first else f"after {last:%Y-%m-%d} (today + 1 week)"
        raise EventError(
            f"{record.get('_file')}, record {record.get('_record')}: field `{field}` "
            f"{stamp:%Y-%m-%d} is {when}: a typo or a placeholder date; fix or remove the record"
        )
    return stamp


def none_unusable(what: str, files: Iterable[Path], used: int, left_out: Mapping[str, int]) -> None:
    """An :class:`EventError` when a source read records but could use none of them: every
    record was left out (``left_out``: reason -> count), so its table would be read as zero.
    Some left out is the reader's counted warning."""
    if used or not any(left_out.values()):
        return
    reasons = ", ".join(f"{n:,} {why}" for why, n in left_out.items() if n)
    raise EventError(
        f"{what} ({', '.join(map(str, files))}): no record could be used ({reasons}); check "
        "that these are the right exports and that the team mappings or identity file cover them"
    )


def empty_table(name: str) -> pd.DataFrame:
    """An empty event table with the contract's columns (times as datetimes)."""
    table = TABLES[name]
    columns = dict.fromkeys(table.columns, pd.Series([], dtype=object))
    for column in (*table.columns, *table.optional_times):
        if column.endswith(("_at", "_date")):
            columns[column] = pd.Series([], dtype="datetime64[s]")
    return pd.DataFrame(columns)


def frame(name: str, rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Event table ``name`` from row dicts (empty: the contract's columns)."""
    if not rows:
        return empty_table(name)
    table = pd.DataFrame(rows)
    for column in table.columns:
        if column.endswith(("_at", "_date")):
            table[column] = pd.to_datetime(table[column]).astype("datetime64[s]")
    return table
