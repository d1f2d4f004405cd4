"""Helpers the analysis notebooks call: load a panel for a report, show notes, publish headlines.

A notebook's headline figures are published as a custom MIME bundle (:data:`HEADLINE_MIME`) that
the report builder collects for ``index.html``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import importlib.metadata
import json
import os
import pickle
import platform
import warnings
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from cts.panel import in_window, load_panel

__all__ = [
    "HEADLINE_MIME",
    "LOADED_PANEL_ENV",
    "collect_warnings",
    "headline",
    "load",
    "provenance",
    "save_loaded_panel",
    "sha256",
    "show_notes",
    "styled",
    "truth_for",
]

HEADLINE_MIME = "application/vnd.cts.headline+json"
#: Environment variable naming a panel the report builder loaded and validated once for every
#: notebook of a run (see :func:`save_loaded_panel`).
LOADED_PANEL_ENV = "CTS_LOADED_PANEL"
_PACKAGES = ("pandas", "numpy", "pyfixest", "linearmodels", "statsmodels", "scipy", "matplotlib")


def load(
    panel_path: str | os.PathLike[str],
    start: str | None = None,
    end: str | None = None,
) -> tuple[pd.DataFrame, list[str]]:
    """Load a panel for a report, restricted to ``[start, end]``, with its data-quality notes.

    Returns the panel and the :class:`cts.PanelWarning` messages raised while loading, so the
    report can show them as text rather than as stderr.
    """
    panel, notes = _loaded(panel_path)
    windowed = panel.loc[in_window(panel["week"], start, end)].reset_index(drop=True)
    windowed.attrs = panel.attrs
    return windowed, notes


def save_loaded_panel(panel_path: str | os.PathLike[str], folder: str | os.PathLike[str]) -> str:
    """Load and validate a panel once and save it, with its notes, for the notebooks of a run.

    Raises :class:`cts.PanelError` (whole) when the panel breaks the contract. Returns the saved
    file's path, which the builder passes to the kernels in :data:`LOADED_PANEL_ENV`;
    :func:`load` then reads it instead of validating the panel again.
    """
    source = Path(panel_path).resolve()
    with collect_warnings() as notes:
        panel = load_panel(source)
    saved = Path(folder) / "loaded_panel.pickle"
    with saved.open("wb") as file:  # our own file of this run: pickle keeps dtypes and attrs
        pickle.dump({"source": str(source), "panel": panel, "notes": notes}, file)
    return str(saved)


def _loaded(panel_path: str | os.PathLike[str]) -> tuple[pd.DataFrame, list[str]]:
    saved = os.environ.get(LOADED_PANEL_ENV)
    if saved and Path(saved).is_file():
        with open(saved, "rb") as file:
            content = pickle.load(file)
        if content["source"] == str(Path(panel_path).resolve()):
            return content["panel"], content["notes"]
    with collect_warnings() as notes:
        panel = load_panel(panel_path)
    return panel, notes


@contextlib.contextmanager
def collect_warnings() -> Iterator[list[str]]:
    """Collect the messages of warnings raised inside the block (instead of printing them)."""
    notes: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield notes
    notes.extend(dict.fromkeys(str(w.message) for w in caught))


def show_notes(notes: list[str], heading: str = "Data-quality notes") -> None:
    """Display notes as a Markdown list (or say there are none)."""
    from IPython.display import Markdown, display

    body = "\n".join(f"- {note}" for note in notes) if notes else "- none"
    display(Markdown(f"**{heading}**\n\n{body}"))


def headline(values: dict[str, str]) -> None:
    """Display headline figures, and publish them for ``index.html``."""
    from IPython.display import display

    markdown = "\n".join(f"- **{key}**: {value}" for key, value in values.items())
    display({"text/markdown": markdown, HEADLINE_MIME: dict(values)}, raw=True)


def styled(table: pd.DataFrame, digits: int = 3, percent: tuple[str, ...] = ()):
    """A table formatted for people: rounded numbers, ``percent`` columns as percentages."""
    numeric = [
        c
        for c in table.columns
        if pd.api.types.is_numeric_dtype(table[c]) and not pd.api.types.is_bool_dtype(table[c])
    ]
    formats = {
        c: "{:,}" if pd.api.types.is_integer_dtype(table[c]) else f"{{:,.{digits}f}}"
        for c in numeric
    }
    formats.update({c: "{:.1%}" for c in percent})
    return table.style.format(formats, na_rep="—")


def truth_for(panel_path: str | os.PathLike[str], outcome: str) -> dict | None:
    """The simulator's truth for ``outcome`` when the panel has a ``.truth.json`` beside it."""
    path = Path(panel_path)
    truth_path = path.with_name(f"{path.stem}.truth.json")
    if not truth_path.is_file():
        return None
    return json.loads(truth_path.read_text())["truth"].get(outcome)


def provenance(panel_path: str | os.PathLike[str], seed: int | None = None) -> pd.DataFrame:
    """Where the numbers come from: data file and its SHA-256, versions, seed and run date."""
    path = Path(panel_path)
    rows = {
        "data source": str(path),
        "data SHA-256": sha256(path),
        "cts version": importlib.metadata.version("cts"),
        "python": platform.python_version(),
        **{name: importlib.metadata.version(name) for name in _PACKAGES},
        "seed": "none" if seed is None else str(seed),
        "run date (UTC)": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M"),
    }
    return pd.DataFrame({"value": rows}).rename_axis("item")


def sha256(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
