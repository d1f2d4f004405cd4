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
import platform
import warnings
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from cts.core.exceptions import DesignWarning, FewTeamsWarning
from cts.panel import in_window, load_panel, suppress_small_teams

__all__ = [
    "HEADLINE_MIME",
    "collect_warnings",
    "design_markdown",
    "headline",
    "load",
    "provenance",
    "sha256",
    "show_design",
    "show_notes",
    "styled",
    "truth_for",
]

HEADLINE_MIME = "application/vnd.cts.headline+json"
_PACKAGES = ("pandas", "numpy", "pyfixest", "linearmodels", "statsmodels", "scipy", "matplotlib")


def load(
    panel_path: str | os.PathLike[str],
    start: str | None = None,
    end: str | None = None,
) -> tuple[pd.DataFrame, list[str]]:
    """Load a panel for a report, restricted to ``[start, end]``, with its data-quality notes.

    This is the one place reports apply the privacy rule: team-weeks with fewer builders than
    the panel's ``min_team_size`` are dropped (:func:`cts.suppress_small_teams`), because the
    velocity of two or three people describes individuals; the notes say how many.

    Returns the panel and the :class:`cts.PanelWarning` messages raised while loading, so the
    report can show them as text rather than as stderr.
    """
    with collect_warnings() as notes:
        panel = load_panel(panel_path)
    windowed = panel.loc[in_window(panel["week"], start, end)].reset_index(drop=True)
    windowed.attrs = panel.attrs
    kept = suppress_small_teams(windowed)
    dropped = len(windowed) - len(kept)
    if dropped:
        notes.append(
            f"{dropped:,} of {len(windowed):,} team-weeks with fewer than "
            f"{kept.attrs['min_team_size']} builders are left out of this report "
            f"({windowed['team_id'].nunique() - kept['team_id'].nunique():,} teams entirely), "
            "because their velocity would describe individuals."
        )
    return kept, notes


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


def show_design(design) -> None:
    """Display the design checks of :func:`cts.identification` (see :func:`design_markdown`).

    The report now states every caveat in words at its top and next to each number, so the
    analyses' :class:`cts.FewTeamsWarning` and :class:`cts.DesignWarning` repeats of them are
    silenced for the rest of the notebook rather than printed to stderr.
    """
    from IPython.display import Markdown, display

    display(Markdown(design_markdown(design)))
    warnings.filterwarnings("ignore", category=FewTeamsWarning)
    warnings.filterwarnings("ignore", category=DesignWarning)


def design_markdown(design) -> str:
    """The design checks as Markdown: one table row per check, then refusals and caveats."""
    rows = "\n".join(
        f"| {row.check} | {row.value} | {row.verdict} | {row.consequence} |"
        for row in design.table.itertuples()
    )
    lines = [f"- **Refused: {analysis}.** {why}" for analysis, why in design.refusals.items()]
    lines += [f"- {caveat}." for caveat in design.caveats]
    return (
        "**Design checks** (what this panel can identify)\n\n"
        "| check | value | verdict | consequence |\n|---|---|---|---|\n"
        f"{rows}\n\n**Caveats and refusals**\n\n" + ("\n".join(lines) or "- none")
    )


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
