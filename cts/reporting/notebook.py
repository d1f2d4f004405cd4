"""Helpers the analysis notebooks call: load a panel for a report, show notes, publish headlines.

A notebook's headline figures are published as a custom MIME bundle (:data:`HEADLINE_MIME`) that
the report builder collects for ``index.html``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import html
import importlib.metadata
import json
import os
import pickle
import platform
import re
import warnings
from collections.abc import Callable, Hashable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from cts.analyses.drivers import DRIVERS
from cts.core.cache import cache_dir, reused
from cts.core.exceptions import DesignWarning, FewTeamsWarning, PanelError
from cts.core.memory import freeze_heap, release_memory
from cts.panel import load_panel, set_window, suppress_small_teams

if TYPE_CHECKING:
    from cts.analyses.cost import CostToServe
    from cts.analyses.drivers import DriversResult
    from cts.analyses.identification import Identification
    from cts.analyses.reconcile import Reconciliation
    from cts.core.results import Result
    from cts.reporting.brief import Check
    from cts.reporting.plots import ReportFigure

__all__ = [
    "CARD_MIME",
    "CHECK_MIME",
    "FIGURE_MIME",
    "HEADLINE_MIME",
    "SECTION_MIME",
    "SECTION_NEEDS",
    "LAST_RUN",
    "LOADED_PANEL_ENV",
    "OVERVIEW_REPORT",
    "PANEL_ENV",
    "REPORTS_ENV",
    "card",
    "check_currency",
    "collect_warnings",
    "credibility",
    "design_html",
    "design_markdown",
    "drivers_by_architecture_table",
    "drivers_table",
    "escaped_text",
    "for_brief",
    "headline",
    "load",
    "money_headlines",
    "p_value_text",
    "paragraph",
    "report_panel",
    "sample_teams",
    "see_overview",
    "show_reconciliation",
    "show_result",
    "show_side_by_side",
    "show_table",
    "show_text",
    "write_last_run",
    "provenance",
    "same_estimates",
    "save_loaded_panel",
    "section",
    "sha256",
    "show_design",
    "show_notes",
    "HTMLTable",
    "styled",
    "truth_for",
]

HEADLINE_MIME = "application/vnd.cts.headline+json"
#: A credibility check (:class:`cts.reporting.brief.Check` as a dict), published for the brief.
CHECK_MIME = "application/vnd.cts.check+json"
#: A card of the brief's numbers: ``{"title", "big", "big_label", "rows": [[label, value]],
#: "checks": [Check dicts], "notes": [str]}``, published by :func:`card`.
CARD_MIME = "application/vnd.cts.card+json"
#: A chart for the brief: ``{"title", "alt", "png"}`` (base64), published by :func:`for_brief`.
FIGURE_MIME = "application/vnd.cts.figure+json"
#: A section's outcome (``{"title", "ok", "reason"}``), published for the index.
SECTION_MIME = "application/vnd.cts.section+json"
#: Errors that mean "this panel cannot support this estimate" (PanelError is a ValueError).
_NOT_ESTIMABLE = (ValueError, ZeroDivisionError, np.linalg.LinAlgError)
_failed_sections: dict[str, str] = {}
#: What each report section needs from the data, said when a panel cannot support it.
SECTION_NEEDS: dict[str, str] = {
    "Cost to serve": (
        "It needs a unit for every team: an `architecture` column (service, monolith or trunk),"
        " or one unit for all: `cts report --unit deployments` (or crs, commits)."
    ),
    "Drivers": (
        "It needs a CTS-SW for several teams and periods (a unit for every team, see the cost "
        "report) and drivers that vary within teams."
    ),
    "Adoption effect": (
        "It needs several teams whose AI usage changes at different times, and enough weeks per"
        " team for a lagged outcome (a panel of one team, or of teams that never use the "
        "assistant, cannot identify an effect)."
    ),
    "Estimators side by side": (
        "It needs several teams whose AI usage changes at different times, and enough weeks per"
        " team for a lagged outcome (a panel of one team, or of teams that never use the "
        "assistant, cannot identify an effect)."
    ),
    "Exogeneity checks": (
        "It needs several teams whose AI usage changes at different times, and enough weeks per"
        " team for a lagged outcome (a panel of one team, or of teams that never use the "
        "assistant, cannot identify an effect)."
    ),
    "Event study": (
        "It needs teams that adopt (usage reaching `threshold`) in different weeks and teams "
        "not yet adopting to compare them with."
    ),
    "Which teams gain more": (
        "It needs several teams in each group of a trait (architecture, team size, baseline "
        "velocity) and variation in AI usage within them."
    ),
    "Power": (
        "It needs a panel the simulator can be calibrated to: several teams with varying usage "
        "and outcome."
    ),
    "With few teams": (
        "It needs several teams whose AI usage changes at different times, and enough weeks per"
        " team for a lagged outcome (a panel of one team, or of teams that never use the "
        "assistant, cannot identify an effect)."
    ),
    "What adoption is worth": (
        "It needs several teams whose AI usage changes at different times, and enough weeks per"
        " team for a lagged outcome (a panel of one team, or of teams that never use the "
        "assistant, cannot identify an effect)."
    ),
    "Net return": (
        "It needs each adopting team's path without the assistant (weeks before its first use, "
        "and teams not using it in the same weeks to learn the week's level from) on CR and "
        "deployment velocity, and the cost of a builder-week: a `cost_per_builder_week` column "
        "or the `cost_per_builder_week` parameter."
    ),
    "Quality guardrails": (
        "It needs several teams whose AI usage changes at different times, and rollbacks, "
        "interventions or pages that vary within teams."
    ),
    "CTS-SW without the assistant": (
        "It needs a CTS-SW unit for every team (an `architecture` column or `cts report --unit`) "
        "and each adopting team's path without the assistant on CR and deployment velocity "
        "(see Net return)."
    ),
    "Several initiatives at once": (
        "It needs several teams whose AI usage changes at different times, and enough weeks per"
        " team for a lagged outcome (a panel of one team, or of teams that never use the "
        "assistant, cannot identify an effect)."
    ),
}
#: Environment variable naming a panel the report builder loaded and validated once for every
#: notebook of a run (see :func:`save_loaded_panel`).
LOADED_PANEL_ENV = "CTS_LOADED_PANEL"
_PACKAGES = ("pandas", "numpy", "pyfixest", "linearmodels", "statsmodels", "scipy", "matplotlib")


def load(
    panel_path: str | os.PathLike[str],
    start: str | None = None,
    end: str | None = None,
    *,
    suppress: bool = True,
) -> tuple[pd.DataFrame, list[str]]:
    """Load a panel for a report, with the window ``[start, end]`` and its data-quality notes.

    The panel keeps every row and carries the window (:func:`cts.panel.set_window`), which every
    analysis honours; lags at the window's start come from the week before it.

    This is the one place reports apply the privacy rule: team-weeks with fewer builders than
    the panel's ``min_team_size`` are dropped (:func:`cts.suppress_small_teams`) before any
    analysis or model sees them, because the velocity of two or three people describes
    individuals; the notes say how many. ``suppress=False`` returns the panel before that step
    (the panel report counts suppression apart from telemetry gaps with it).

    Returns the panel and the :class:`cts.PanelWarning` messages raised while loading, so the
    report can show them as text rather than as stderr.
    """
    panel, notes = _loaded(panel_path)
    # The loader's own small-team warning says what the note below says, with less precision.
    notes = [note for note in notes if "(cts.suppress_small_teams)" not in note]
    kept = suppress_small_teams(panel)
    dropped = len(panel) - len(kept)
    if dropped:
        small = panel.loc[panel["n_builders"] < kept.attrs["min_team_size"], "team_id"].unique()
        examples = ", ".join(map(str, small[:5])) + (", ..." if len(small) > 5 else "")
        notes.append(
            f"{dropped:,} of {len(panel):,} team-weeks have fewer than "
            f"{kept.attrs['min_team_size']} builders and are left out of every report and model "
            f"({len(small):,} teams, e.g. {examples}; "
            f"{panel['team_id'].nunique() - kept['team_id'].nunique():,} of them entirely), "
            "because their velocity would describe individuals."
        )
    panel = set_window(kept if suppress else panel, start, end)
    freeze_heap()  # the libraries and the panel stay: each section's collection skips them
    return panel, notes


#: Where a notebook run without an injected panel looks for one (see :func:`report_panel`).
PANEL_ENV = "CTS_PANEL"
#: Written by the report builder beside the reports: the panel and parameters of that run.
LAST_RUN = "last_run.json"
#: The folder :func:`report_panel` reads :data:`LAST_RUN` from (default: ``reports/``).
REPORTS_ENV = "CTS_REPORTS"
_ROOT = Path(__file__).resolve().parents[2]
_DEFAULT_PANEL = _ROOT / "data" / "synthetic" / "panel.parquet"
_SAMPLE = _ROOT / "data" / "sample" / "panel_sample.csv"


def report_panel(panel_path: str | os.PathLike[str] | None = None) -> str:
    """The panel a notebook analyses, so that one opened in JupyterLab reproduces the reports.

    In order: ``panel_path`` when given (the report builder injects it); the panel named by
    the ``CTS_PANEL`` environment variable (the notebook tests set it to the committed sample);
    the panel of the last report run (``reports/last_run.json``, written by ``cts report`` /
    ``make report``; ``CTS_REPORTS`` names another reports folder); the default panel of
    ``make data`` (``data/synthetic/panel.parquet``); the committed sample, with a note that
    its numbers are not the reports'.
    """
    if panel_path is not None:
        return str(panel_path)
    if os.environ.get(PANEL_ENV):
        return os.environ[PANEL_ENV]
    last_run = Path(os.environ.get(REPORTS_ENV) or _ROOT / "reports") / LAST_RUN
    if last_run.is_file():
        recorded = json.loads(last_run.read_text()).get("panel_path")
        if recorded and Path(recorded).is_file():
            return recorded
    if _DEFAULT_PANEL.is_file():
        return str(_DEFAULT_PANEL)
    from IPython.display import display

    display(
        {
            "text/html": (
                "<p><b>No report run and no default panel found</b>: this notebook analyses the "
                "committed sample, so its numbers are not the reports'. Run <code>make report"
                "</code> (or <code>make data</code>) first.</p>"
            ),
            "text/plain": "No report run and no default panel found: using the committed sample.",
        },
        raw=True,
    )
    return str(_SAMPLE)


def write_last_run(folder: str | os.PathLike[str], parameters: dict) -> Path:
    """Record a report run's panel and parameters in ``folder/last_run.json`` (see
    :func:`report_panel`)."""
    path = Path(folder) / LAST_RUN
    atomic = {key: value for key, value in parameters.items() if _is_json(value)}
    path.write_text(json.dumps(atomic, indent=1, sort_keys=True) + "\n")
    return path


def _is_json(value: object) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


def save_loaded_panel(
    panel_path: str | os.PathLike[str], folder: str | os.PathLike[str]
) -> tuple[str, int]:
    """Load and validate a panel once and save it, with its notes, for the notebooks of a run.

    Raises :class:`cts.PanelError` (whole) when the panel breaks the contract. Returns the
    panel's rows and the saved file's path, which the builder passes to the kernels in
    :data:`LOADED_PANEL_ENV`; :func:`load` then reads it instead of validating the panel again.
    """
    source = Path(panel_path).resolve()
    with collect_warnings() as notes:
        panel = load_panel(source)
    saved = Path(folder) / "loaded_panel.pickle"
    with saved.open("wb") as file:  # our own file of this run: pickle keeps dtypes and attrs
        pickle.dump({"source": str(source), "panel": panel, "notes": notes}, file)
    return str(saved), len(panel)


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
    """Display notes as a list (or say there are none), as escaped text: they name teams and
    columns from the data (see :func:`escaped_text`)."""
    from IPython.display import display

    items = "".join(f"<li>{escaped_text(note)}</li>" for note in notes) or "<li>none</li>"
    display(
        {
            "text/html": f"<p><b>{html.escape(heading)}</b></p><ul>{items}</ul>",
            "text/plain": "\n".join([heading, *(f"- {note}" for note in notes or ["none"])]),
        },
        raw=True,
    )


#: The light formatting notes and design checks use: `code` and **bold**.
_CODE = re.compile(r"`([^`\n]+)`")
_BOLD = re.compile(r"\*\*([^*\n]+)\*\*")


def escaped_text(text: object) -> str:
    """``text`` as HTML that shows it verbatim: every character escaped, then `code` and
    **bold** marked up, and lines after the first (a table of example rows) kept in a ``<pre>``.

    Reports render this instead of Markdown because nbconvert passes the HTML inside Markdown
    through unsanitised, and a team id such as ``<script>...</script>`` would run in the report.
    After escaping, the only tags in the result are the ones added here.
    """
    first, _, rest = str(text).partition("\n")
    marked = _BOLD.sub(r"<b>\1</b>", _CODE.sub(r"<code>\1</code>", html.escape(first)))
    return marked + (f"<pre>{html.escape(rest)}</pre>" if rest.strip() else "")


@contextlib.contextmanager
def section(title: str, needs: str | None = None) -> Iterator[None]:
    """Run one section of a report so that a panel which cannot support it costs only it.

    When the block raises a "cannot be estimated" error (:class:`cts.PanelError`, another
    ``ValueError``, a singular matrix), the report says so in plain words, with the whole
    message and what the data would need (``needs``, by default :data:`SECTION_NEEDS`), and
    the notebook goes on. Later blocks under the same ``title`` are skipped quietly (they use
    what the failed block did not make); other errors, and failed assertions in a section that
    ran, still stop the notebook.
    """
    needs = SECTION_NEEDS.get(title, "") if needs is None else needs
    failed_before = title in _failed_sections
    try:
        yield
    except Exception as error:
        if failed_before:
            return  # what this block needed was never made: the section's note says why
        if not isinstance(error, _NOT_ESTIMABLE):
            raise
        from IPython.display import display

        reason = f"{type(error).__name__}: {error}".strip()
        _failed_sections[title] = reason
        need = f"<p>{html.escape(needs)}</p>" if needs else ""
        display(
            {
                "text/html": (
                    f'<div class="cts-not-estimable"><p><b>{html.escape(title)}</b> cannot be '
                    "estimated on this panel, so this section is left out; the rest of the "
                    f"report stands.</p>{need}<p>Why:</p>"
                    f'<pre style="white-space: pre-wrap">{html.escape(reason)}</pre></div>'
                ),
                "text/plain": f"{title} cannot be estimated on this panel: {reason}",
                SECTION_MIME: {"title": title, "ok": False, "reason": reason, "needs": needs},
            },
            raw=True,
        )
    finally:
        release_memory()  # a section's dead fits would otherwise stay in the kernel


def show_design(design: Identification, beyond: Identification | None = None) -> None:
    """Display the design checks of :func:`cts.identification` (see :func:`design_html`).

    With ``beyond`` (the panel-level checks the panel report shows), only the checks, refusals
    and caveats that differ from it are shown, with a link to the rest: each caveat is said
    once, in the panel report, and a report adds only what its own options change.

    The report now states every caveat in words at its top and next to each number, so the
    analyses' :class:`cts.FewTeamsWarning` and :class:`cts.DesignWarning` repeats of them are
    silenced for the rest of the notebook rather than printed to stderr.
    """
    from IPython.display import display

    heading = "Design checks</b> (what this panel can identify)"
    if beyond is not None:
        design = _beyond(design, beyond)
        heading = (
            "Design checks this report's options change</b> (the others are in "
            f'<a href="{OVERVIEW_REPORT}#Design-checks">the panel report</a>)'
        )
    if beyond is None or len(design.table) or design.refusals or design.caveats:
        shown = design_html(design).replace(
            "Design checks</b> (what this panel can identify)", heading, 1
        )
        display({"text/html": shown, "text/plain": design_markdown(design)}, raw=True)
    warnings.filterwarnings("ignore", category=FewTeamsWarning)
    warnings.filterwarnings("ignore", category=DesignWarning)


def _beyond(design: Identification, baseline: Identification) -> Identification:
    """``design`` without what ``baseline`` already says."""
    import copy

    columns = ["check", "value", "verdict"]
    known = set(map(tuple, baseline.table[columns].astype(str).to_numpy()))
    rows = [tuple(row) not in known for row in design.table[columns].astype(str).to_numpy()]
    shown = copy.copy(design)
    object.__setattr__(shown, "table", design.table.loc[rows].reset_index(drop=True))
    refusals = {k: v for k, v in design.refusals.items() if baseline.refusals.get(k) != v}
    object.__setattr__(shown, "refusals", refusals)
    caveats = [c for c in design.caveats if c not in baseline.caveats]
    object.__setattr__(shown, "caveats", caveats)
    return shown


#: The panel report and its sections that every other report links to instead of repeating.
OVERVIEW_REPORT = "00_panel_overview.html"


def see_overview(
    panel_path: str | os.PathLike[str],
    panel: pd.DataFrame | None = None,
    design: Identification | None = None,
) -> None:
    """Say which data a report analysed (file and SHA-256) and link to the panel report, which
    holds the design checks, data-quality notes and full provenance once for every report.

    With ``panel`` and ``design`` (the report's own :func:`cts.identification`, e.g. for one
    outcome or adoption threshold), the design checks that differ from the panel report's are
    shown here (:func:`show_design` with ``beyond``). Either way the analyses' repeats of the
    caveats as warnings are silenced, as :func:`show_design` does.
    """
    from IPython.display import display

    from cts.analyses.identification import identification

    path = Path(panel_path)
    links = ", ".join(
        f'<a href="{OVERVIEW_REPORT}#{anchor}">{label}</a>'
        for anchor, label in (
            ("Design-checks", "design checks"),
            ("Data-quality-notes", "data-quality notes"),
            ("Provenance", "provenance"),
        )
    )
    display(
        {
            "text/html": (
                f"<p>Data: <code>{html.escape(path.name)}</code>, data SHA-256 "
                f"<code>{sha256(path)[:12]}</code>. The {links} (versions, seed, run date) of "
                f'this panel are in <a href="{OVERVIEW_REPORT}">the panel report</a>; this '
                "report shows only what its own analysis adds.</p>"
            ),
            "text/plain": (
                f"Data: {path.name}, data SHA-256 {sha256(path)[:12]}. Design checks, "
                f"data-quality notes and provenance: {OVERVIEW_REPORT}."
            ),
        },
        raw=True,
    )
    if design is not None and panel is not None:
        show_design(design, beyond=identification(panel))
    warnings.filterwarnings("ignore", category=FewTeamsWarning)
    warnings.filterwarnings("ignore", category=DesignWarning)


def show_text(text: str) -> None:
    """Display prose that carries numbers (paragraphs split on blank lines; `code` and
    **bold** marked up, everything else escaped: see :func:`escaped_text`)."""
    from IPython.display import display

    paragraphs = [p.strip() for p in str(text).split("\n\n") if p.strip()]
    display(
        {
            "text/html": "".join(
                f"<p>{escaped_text(p.replace(chr(10), ' '))}</p>" for p in paragraphs
            ),
            "text/plain": "\n\n".join(paragraphs),
        },
        raw=True,
    )


def show_table(
    frame: pd.DataFrame,
    labels: dict[str, str] | None = None,
    formats: dict | None = None,
    *,
    index: str | None = None,
    caption: str | None = None,
) -> None:
    """Display ``frame`` as a report table: labelled columns, p-values as ``< 0.001``, rounded
    numbers, money with its currency, strings escaped (:func:`cts.reporting.formatting.html_table`,
    whose arguments these are)."""
    from IPython.display import display

    from cts.reporting.formatting import html_table

    shown = html_table(frame, labels, formats, index=index, caption=caption)
    display({"text/html": shown, "text/plain": frame.to_string()}, raw=True)


def show_side_by_side(
    tables: dict[str, pd.DataFrame],
    labels: dict[str, str],
    formats: dict | None = None,
    *,
    index: str | None = None,
    caption: str | None = None,
) -> None:
    """Display tables with the same rows side by side (e.g. one per outcome): ``tables`` maps
    the header over each table's columns (an outcome's label) to the table; ``labels`` and
    ``formats`` are per column, as in :func:`show_table`. Rows are the first table's."""
    from IPython.display import display

    from cts.reporting.formatting import html_table, side_by_side

    frame, groups = side_by_side(tables, list(labels))
    shown = html_table(
        frame,
        {f"{key}|{column}": label for key in tables for column, label in labels.items()},
        {f"{key}|{column}": kind for key in tables for column, kind in (formats or {}).items()},
        index=index,
        caption=caption,
        groups=groups,
    )
    display({"text/html": shown, "text/plain": frame.to_string()}, raw=True)


def show_result(result: Result, table: bool = True, index: str = "term") -> None:
    """Display a cts result in a report: its summary as paragraphs in plain words and its
    estimate table as an HTML table (:func:`cts.reporting.formatting.result_html`), instead of
    ``print(result.summary())``, whose monospace text wraps mid-word in a report."""
    from IPython.display import display

    from cts.reporting.formatting import result_html

    shown = result_html(result, table=table, index=index)
    display({"text/html": shown, "text/plain": result.summary()}, raw=True)


#: Headers of :func:`cts.reconcile_estimates`'s table, as a reader calls them.
_RECONCILIATION_LABELS = {
    "estimate": "estimate",
    "ci_low": "95% CI from",
    "ci_high": "to",
    "report": "shown in",
    "dose": "per",
    "horizon": "horizon",
    "threshold": "adoption threshold",
    "averaged_over": "averaged over",
    "weights": "weights",
    "why_it_differs": "why it differs",
    "money": "used for the money",
}


def show_reconciliation(reconciliation: Reconciliation) -> None:
    """Display :func:`cts.reconcile_estimates` in a report: which estimate notebook 03
    headlines and which one the money uses, as text, then every estimate side by side as a
    labelled table (:func:`show_table`), names in words."""
    from cts.reporting.formatting import plain_words

    said = reconciliation.summary().split("\n\n")[0]  # the headline, the money's, the notes
    show_text(plain_words(said.replace("\n", "\n\n")))
    labels = {c: label for c, label in _RECONCILIATION_LABELS.items() if c in reconciliation.table}
    show_table(
        reconciliation.table.rename(index=plain_words),
        labels,
        {"estimate": "number", "ci_low": "number", "ci_high": "number"},
        index="which estimate",
    )


def sample_teams(panel: pd.DataFrame, n: int, seed: int = 0) -> pd.DataFrame:
    """The rows of ``n`` teams drawn at random (seeded) from ``panel``'s teams, or the whole
    panel when it has no more: a sample of the first teams by id would not be random (ids
    often follow creation date, organisation or size)."""
    teams = panel["team_id"].drop_duplicates().sort_values().to_numpy()
    if n >= len(teams):
        return panel
    chosen = np.random.default_rng(seed).choice(teams, size=n, replace=False)
    sampled = panel.loc[panel["team_id"].isin(chosen)]
    sampled.attrs = panel.attrs
    return sampled


def design_markdown(design: Identification) -> str:
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


def design_html(design: Identification) -> str:
    """The design checks as HTML (what :func:`show_design` displays): the table of
    :func:`design_markdown`, then refusals and caveats, every string escaped."""
    cells = "".join(
        "<tr>" + "".join(f"<td>{escaped_text(value)}</td>" for value in row) + "</tr>"
        for row in design.table[["check", "value", "verdict", "consequence"]].itertuples(
            index=False
        )
    )
    items = [
        f"<li><b>Refused: {escaped_text(analysis)}.</b> {escaped_text(why)}</li>"
        for analysis, why in design.refusals.items()
    ]
    items += [f"<li>{escaped_text(caveat)}.</li>" for caveat in design.caveats]
    return (
        "<p><b>Design checks</b> (what this panel can identify)</p><table><thead><tr>"
        "<th>check</th><th>value</th><th>verdict</th><th>consequence</th></tr></thead>"
        f"<tbody>{cells}</tbody></table><p><b>Caveats and refusals</b></p>"
        f"<ul>{''.join(items) or '<li>none</li>'}</ul>"
    )


def headline(values: dict[str, str]) -> None:
    """Display headline figures, and publish them for ``index.html``."""
    from IPython.display import display

    items = "".join(
        f"<li><b>{html.escape(str(key))}</b>: {html.escape(str(value))}</li>"
        for key, value in values.items()
    )
    display(
        {
            "text/html": f"<ul>{items}</ul>",
            "text/plain": "\n".join(f"- {key}: {value}" for key, value in values.items()),
            HEADLINE_MIME: dict(values),
        },
        raw=True,
    )


def card(
    title: str,
    big: str,
    big_label: str = "",
    rows: dict[str, str] | None = None,
    checks: list | None = None,
    notes: list[str] | None = None,
) -> None:
    """Display a card of numbers and publish it for the brief, where it stands beside the other
    cards: ``big`` shown large over ``big_label``, then ``rows`` (label -> value), ``checks``
    (:class:`cts.reporting.brief.Check`, shown green/amber/red) and ``notes`` (sentences).
    Labels are for a reader: no column names."""
    from IPython.display import display

    from cts.reporting.brief import STATUSES

    published: dict[str, Any] = {  # what the brief reads (JSON)
        "title": title,
        "big": big,
        "big_label": big_label,
        "rows": [[str(k), str(v)] for k, v in (rows or {}).items()],
        "checks": [c.to_dict() for c in (checks or [])],
        "notes": list(notes or []),
    }
    items = "".join(
        f"<li><b>{html.escape(k)}</b>: {html.escape(v)}</li>" for k, v in published["rows"]
    )
    items += "".join(
        f'<li><b style="color: {STATUSES[c["status"]][0]}">{STATUSES[c["status"]][1]}</b> '
        f"<b>{html.escape(c['name'])}</b>: {html.escape(c['sentence'])}</li>"
        for c in published["checks"]
    )
    text = "\n".join(
        [f"{title}: {big} {big_label}".strip()]
        + [f"- {k}: {v}" for k, v in published["rows"]]
        + [f"- {c['status']}: {c['name']}: {c['sentence']}" for c in published["checks"]]
        + published["notes"]
    )
    display(
        {
            "text/html": (
                f"<h3>{html.escape(title)}</h3><p><b>{html.escape(big)}</b> "
                f"{html.escape(big_label)}</p><ul>{items}</ul>"
                + "".join(f"<p>{html.escape(n)}</p>" for n in published["notes"])
            ),
            "text/plain": text,
            CARD_MIME: published,
        },
        raw=True,
    )


def for_brief(figure: ReportFigure, title: str | None = None) -> None:
    """Display a figure (a :class:`cts.reporting.plots.ReportFigure`) and publish it for the
    brief's charts, captioned ``title`` (default: the figure's first axis title)."""
    import base64

    from IPython.display import display

    encoded = base64.b64encode(figure.png()).decode("ascii")
    alt = figure.description
    title = title or (figure.axes[0].get_title() if figure.axes else "") or alt
    display(
        {
            "image/png": encoded,
            "text/plain": alt,
            FIGURE_MIME: {"title": title, "alt": alt, "png": encoded},
        },
        metadata={"image/png": {"alt": alt}},
        raw=True,
    )


def credibility(check: Check, for_brief: bool = True) -> None:
    """Display one credibility check (:class:`cts.reporting.brief.Check`) and publish it for the
    brief's green/amber/red panel (not with ``for_brief=False``: a check of something other
    than the brief's numbers, e.g. of a sample of the teams, stays in its report)."""
    from IPython.display import display

    from cts.reporting.brief import STATUSES

    colour, word = STATUSES[check.status]
    display(
        {
            "text/html": (
                f'<p><b>{html.escape(check.name)}</b>: <b style="color: {colour}">{word}</b>. '
                f"{html.escape(check.sentence)}</p>"
            ),
            "text/plain": f"{check.name}: {word}. {check.sentence}",
            **({CHECK_MIME: check.to_dict()} if for_brief else {}),
        },
        raw=True,
    )


def check_currency(code: str) -> str:
    """``code`` as an ISO 4217 currency code in capitals (``"eur"`` -> ``"EUR"``).

    The reports print the currency beside every amount, so only a real code is accepted (the
    list is Babel's, from the Unicode CLDR).

    Raises
    ------
    ValueError
        Naming the value (quoted, control characters escaped) when it is not such a code.
    """
    from babel.numbers import list_currencies

    text = code.strip().upper() if isinstance(code, str) else ""
    if text not in list_currencies():
        raise ValueError(
            f"currency must be an ISO 4217 code such as USD, EUR or GBP, not {code!r} "
            "(cts report --currency, or the notebooks' `currency` parameter)"
        )
    return text


def same_estimates(inference: pd.DataFrame) -> None:
    """Check that :func:`cts.compare_inference`'s methods share one estimate per term, as
    they must for their intervals to be compared; a :class:`cts.PanelError` in words (which
    :func:`section` reports) when they do not, e.g. a model one method cannot fit.
    """
    spread = inference.groupby(level="term")["estimate"].agg(["min", "max"])
    differ = spread.index[~np.isclose(spread["min"], spread["max"], rtol=1e-9, atol=0.0)]
    if len(differ):
        shown = "; ".join(
            f"{term}: {spread.loc[term, 'min']:+.4f} to {spread.loc[term, 'max']:+.4f}"
            for term in differ
        )
        raise PanelError(
            "the inference methods estimated different effects on this panel "
            f"({shown}), so their intervals are not of one estimate and are not compared"
        )


def money_headlines(
    cost: CostToServe, panel: pd.DataFrame, currency: str = "USD"
) -> dict[str, str]:
    """Headlines in money for a :class:`cts.analyses.cost.CostToServe` when the panel (or the
    caller) gave a cost per builder-week: CTS-SW in ``currency`` and the cost per builder-week."""
    totals = cost.totals().iloc[0]
    if not np.isfinite(totals.get("cts_sw_cost", np.nan)):
        return {"CTS-SW in money": "no cost per builder-week given"}
    per_builder_week = totals["cost"] / totals["builder_weeks"]
    return {
        "CTS-SW in money": f"{currency} {totals['cts_sw_cost']:,.0f} per unit",
        "cost per builder-week": f"{currency} {per_builder_week:,.0f}",
    }


class HTMLTable:
    """A table already formatted as HTML: what :func:`styled` returns. Jupyter and nbconvert
    show its HTML; ``to_html()`` returns it; a terminal shows the numbers as text."""

    def __init__(self, html_text: str, frame: pd.DataFrame) -> None:
        self.html = html_text
        self.frame = frame

    def _repr_html_(self) -> str:
        return self.html

    def to_html(self) -> str:
        return self.html

    def __repr__(self) -> str:
        return self.frame.to_string()


def styled(table: pd.DataFrame, digits: int = 3, percent: tuple[str, ...] = ()) -> HTMLTable:
    """A table formatted for people, for tables without a labelled layout of their own (prefer
    :func:`show_table`, which names each column): the index becomes a column unless it is a
    plain row number, code names become words, p-values (columns ``p_value``, ``p_adjusted``,
    ``p_*``) read ``< 0.001``, integers get thousands separators, other numbers ``digits``
    decimals (three significant digits when ``digits`` is above 3), ``percent`` columns are
    percentages.

    Text is escaped, in cells, labels and index names alike (group labels and file names come
    from the data).
    """
    from cts.reporting.formatting import format_number, format_p, format_percent, html_table

    plain = table.index.nlevels == 1 and isinstance(table.index, pd.RangeIndex)
    frame = table if plain else table.reset_index(allow_duplicates=True)
    names = list(frame.columns)
    # columns by position, named "0", "1", ...: names may repeat or be tuples
    positional = frame.set_axis([str(i) for i in range(len(names))], axis=1)
    labels: dict[str, str] = {}
    formats: dict[str, str | Callable[[Any], str]] = {}
    for position, name in enumerate(names):
        i = str(position)
        labels[i] = _column_label(name)
        column = positional[i]
        if name in percent:
            formats[i] = lambda v: format_percent(v, 1)
        elif isinstance(name, str) and (name.startswith("p_") or name == "p"):
            formats[i] = format_p
        elif pd.api.types.is_bool_dtype(column) or not pd.api.types.is_numeric_dtype(column):
            formats[i] = "text"
        elif pd.api.types.is_integer_dtype(column):
            formats[i] = "count"
        elif digits > 3:
            formats[i] = format_number
        else:
            formats[i] = functools.partial(_decimals, digits=digits)
    return HTMLTable(html_table(positional, labels, formats), table)


def _decimals(value: Any, digits: int) -> str:
    """``value`` with thousands separators and ``digits`` decimals, ``"—"`` when missing."""
    return "—" if pd.isna(value) else f"{value:,.{digits}f}"


def _column_label(name: Hashable) -> str:
    from cts.reporting.formatting import plain_words

    if isinstance(name, tuple):
        name = " ".join(str(part) for part in name if str(part))
    return plain_words(str(name)) if name is not None else ""


def p_value_text(p: float) -> str:
    """A p-value for people: ``"< 0.001"`` below a thousandth, else three decimals, ``"—"``
    when unknown."""
    if not np.isfinite(p):
        return "—"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def paragraph(text: str) -> None:
    """Display ``text`` as an HTML paragraph, escaped (:func:`escaped_text`: `code`, **bold**)."""
    from IPython.display import HTML, display

    display(HTML(f"<p>{escaped_text(text)}</p>"))


def drivers_table(result: DriversResult, ranks: pd.DataFrame | None = None) -> pd.DataFrame:
    """The drivers' sensitivity (:meth:`cts.DriversResult.sensitivity`) with labels for people,
    intervals and p-values as text, and with ``ranks`` (its ``rank_uncertainty``) the share of
    bootstrap draws in which each driver ranks first."""
    table = result.sensitivity()
    shown = pd.DataFrame(
        {
            "Rank": table["rank"],
            "Teams it applies to": table["applies_to"],
            "Typical change within a team (1 SD)": [
                f"{sd:.3g} {DRIVERS.get(str(d), str(d))}" for d, sd in table["one_sd"].items()
            ],
            "Change in CTS-SW": table["change_pct"].map("{:+.1f}%".format),
            "95% CI": [
                f"{lo:+.1f}% to {hi:+.1f}%" for lo, hi in table[["ci_low", "ci_high"]].values
            ],
            "p-value": table["p_value"].map(p_value_text),
            "Mixed model": table["mixed_change_pct"].map("{:+.1f}%".format),
            "Note": table["note"],
        }
    )
    if ranks is not None:
        shown["Ranked first (bootstrap)"] = ranks.loc[table.index, "share_first"].map(
            "{:.0%}".format
        )
    shown.index = [_sentence_case(DRIVERS.get(d, d)) for d in table.index]
    shown.index.name = "Driver"
    return shown


def _sentence_case(label: str) -> str:
    return label[:1].upper() + label[1:]


def drivers_by_architecture_table(result: DriversResult) -> pd.DataFrame:
    """:attr:`cts.DriversResult.by_architecture` with labels for people, one row per driver and
    one column per architecture: the change in CTS-SW with its 95% CI."""
    table = result.by_architecture
    cells = [
        f"{row['change_pct']:+.1f}% ({row['change_ci_low']:+.1f}% to {row['change_ci_high']:+.1f}%)"
        for _, row in table.iterrows()
    ]
    wide = pd.Series(cells, index=table.index).unstack("architecture")
    order = [d for d in result.sensitivity().index if d in wide.index]
    wide = wide.loc[order].fillna("not a driver (its own unit)")
    wide.index = [_sentence_case(DRIVERS.get(d, d)) for d in wide.index]
    wide.index.name = "Driver"
    wide.columns = [_sentence_case(str(c)) for c in wide.columns]
    return wide


def truth_for(panel_path: str | os.PathLike[str], outcome: str) -> dict | None:
    """The simulator's truth for ``outcome`` when the panel has a ``.truth.json`` beside it."""
    path = Path(panel_path)
    truth_path = path.with_name(f"{path.stem}.truth.json")
    if not truth_path.is_file():
        return None
    return json.loads(truth_path.read_text())["truth"].get(outcome)


def provenance(panel_path: str | os.PathLike[str], seed: int | None = None) -> pd.DataFrame:
    """Where the numbers come from: data file and its SHA-256, versions, seed, run date, and
    which results were reused from the cache (:func:`cts.cached`: same data, parameters and
    code as the run that computed them)."""
    path = Path(panel_path)
    rows = {
        "data source": str(path),
        "data SHA-256": sha256(path),
        "cts version": importlib.metadata.version("cts"),
        "python": platform.python_version(),
        **{name: importlib.metadata.version(name) for name in _PACKAGES},
        "seed": "none" if seed is None else str(seed),
        "run date (UTC)": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M"),
        "results reused from the cache": (
            ", ".join(dict.fromkeys(reused())) or "none" if cache_dir() else "none (cache off)"
        ),
    }
    return pd.DataFrame({"value": rows}).rename_axis("item")


def sha256(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
