"""What every export reader shares: loading vendor records, UTC times, hashing persons.

Vendor exports come as a JSON array, an API response wrapping one (``{"incidents": [...]}``),
or newline-delimited JSON (NDJSON, one record a line), or CSV. :func:`load_records` reads any of
these into plain dicts, each tagged with the file and record number it came from, so a problem
can name both. :func:`utc` parses times with any offset to naive UTC; :func:`person_hasher` draws
the per-call key with which person identifiers are hashed at read time (BLAKE2b), as the git
reader does.
"""

from __future__ import annotations

import csv
import glob
import hashlib
import json
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from cts.sources.contract import TABLES, EventError

__all__ = [
    "dig",
    "empty_table",
    "expand_paths",
    "frame",
    "load_records",
    "person_hasher",
    "utc",
]


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
        elif path.exists():
            found = [path]
        else:
            found = sorted(Path(p) for p in glob.glob(str(name)))
        if not found:
            raise EventError(f"{name}: no such file")
        files += found
    return files


def load_records(path: Path, wrapper: str | None = None) -> list[dict[str, Any]]:
    """Records of one export file: JSON array, ``{wrapper: [...]}``, NDJSON, or CSV.

    Each record gets ``_file`` and ``_record`` (1-based line of NDJSON/CSV, index in a JSON
    array) so errors can point at it.
    """
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix.lower() == ".csv":
        rows = list(csv.DictReader(text.splitlines()))
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
    elif found is not None:
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
    return stamp


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
