"""Helpers the analysis notebooks call: load a panel for a report, show notes, publish headlines.

A notebook's headline figures are published as a custom MIME bundle (:data:`HEADLINE_MIME`) that
the report builder collects for ``index.html``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import html
import importlib.metadata
import json
import os
import pickle
import platform
import re
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from cts.core.cache import cache_dir, reused
from cts.core.exceptions import DesignWarning, FewTeamsWarning, PanelError
from cts.core.memory import release_memory
from cts.panel import load_panel, set_window, suppress_small_teams

__all__ = [
    "CARD_MIME",
    "CHECK_MIME",
    "FIGURE_MIME",
    "HEADLINE_MIME",
    "SECTION_MIME",
    "SECTION_NEEDS",
    "LOADED_PANEL_ENV",
    "card",
    "check_currency",
    "collect_warnings",
    "credibility",
    "design_html",
    "design_markdown",
    "escaped_text",
    "for_brief",
    "headline",
    "load",
    "money_headlines",
    "provenance",
    "same_estimates",
    "save_loaded_panel",
    "section",
    "sha256",
    "show_design",
    "show_notes",
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
) -> tuple[pd.DataFrame, list[str]]:
    """Load a panel for a report, with the window ``[start, end]`` and its data-quality notes.

    The panel keeps every row and carries the window (:func:`cts.panel.set_window`), which every
    analysis honours; lags at the window's start come from the week before it.

    This is the one place reports apply the privacy rule: team-weeks with fewer builders than
    the panel's ``min_team_size`` are dropped (:func:`cts.suppress_small_teams`), because the
    velocity of two or three people describes individuals; the notes say how many.

    Returns the panel and the :class:`cts.PanelWarning` messages raised while loading, so the
    report can show them as text rather than as stderr.
    """
    panel, notes = _loaded(panel_path)
    notes = list(notes)
    kept = suppress_small_teams(panel)
    dropped = len(panel) - len(kept)
    if dropped:
        notes.append(
            f"{dropped:,} of {len(panel):,} team-weeks with fewer than "
            f"{kept.attrs['min_team_size']} builders are left out of this report "
            f"({panel['team_id'].nunique() - kept['team_id'].nunique():,} teams entirely), "
            "because their velocity would describe individuals."
        )
    return set_window(kept, start, end), notes


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


def show_design(design) -> None:
    """Display the design checks of :func:`cts.identification` (see :func:`design_html`).

    The report now states every caveat in words at its top and next to each number, so the
    analyses' :class:`cts.FewTeamsWarning` and :class:`cts.DesignWarning` repeats of them are
    silenced for the rest of the notebook rather than printed to stderr.
    """
    from IPython.display import display

    display({"text/html": design_html(design), "text/plain": design_markdown(design)}, raw=True)
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


def design_html(design) -> str:
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

    published = {
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


def for_brief(figure, title: str | None = None) -> None:
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


def credibility(check, for_brief: bool = True) -> None:
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


def money_headlines(cost, panel: pd.DataFrame, currency: str = "USD") -> dict[str, str]:
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


def styled(table: pd.DataFrame, digits: int = 3, percent: tuple[str, ...] = ()):
    """A table formatted for people: rounded numbers, ``percent`` columns as percentages.

    Text is escaped, in cells, labels and index names alike (a pandas ``Styler`` escapes none of
    them by default, and group labels and file names come from the data).
    """
    table = _escaped_labels(table)
    percent = tuple(_escaped_label(c) for c in percent)
    numeric = [
        c
        for c in table.columns
        if pd.api.types.is_numeric_dtype(table[c]) and not pd.api.types.is_bool_dtype(table[c])
    ]
    formats = {c: None for c in table.columns}  # every column, or escape skips the others
    formats.update(
        {
            c: "{:,}" if pd.api.types.is_integer_dtype(table[c]) else f"{{:,.{digits}f}}"
            for c in numeric
        }
    )
    formats.update({c: "{:.1%}" for c in percent})
    return table.style.format(formats, na_rep="—", escape="html")


def _escaped_label(label):
    return html.escape(label) if isinstance(label, str) else label


def _escaped_labels(table: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``table`` whose text labels and axis names are escaped (the Styler shows
    them as they are)."""
    table = table.rename(index=_escaped_label, columns=_escaped_label)
    table.index.names = [_escaped_label(name) for name in table.index.names]
    table.columns.names = [_escaped_label(name) for name in table.columns.names]
    return table


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
