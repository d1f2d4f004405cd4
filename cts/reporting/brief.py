"""The one-page brief (``reports/index.html``): the numbers, how far to trust them, the reports.

A reader with two minutes sees three things: what CTS-SW is doing, what drives it, and what the
AI assistant is worth, each with its interval in plain units and the currency; then a
credibility panel in which every check is green, amber or red with one sentence; then links to
the detailed reports, and the provenance in the footer. Charts the notebooks published for it
(:func:`cts.reporting.notebook.for_brief`) sit under the numbers. The numbers are the headlines the
notebooks published (:func:`cts.reporting.notebook.headline`) and the checks are the ones they
published with :func:`cts.reporting.notebook.credibility`: the brief computes nothing itself.
"""

from __future__ import annotations

import datetime as dt
import html
import importlib.metadata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

from cts.core.results import p_phrase

if TYPE_CHECKING:  # the builder imports this module
    from cts.reporting.builder import AnalysisRun

__all__ = [
    "LABELS",
    "SIMULATED_BANNER",
    "STATUSES",
    "Check",
    "brief_html",
    "exogeneity_check",
    "few_teams_check",
    "is_simulated",
    "label",
    "pretrend_check",
    "sections_check",
]

Status = Literal["green", "amber", "red"]
#: Each status, its colour and the word shown beside it (colour is never the only signal).
STATUSES: dict[str, tuple[str, str]] = {
    "green": ("#1a7f37", "holds"),
    "amber": ("#9a6700", "caution"),
    "red": ("#cf222e", "concern"),
}


@dataclass(frozen=True)
class Check:
    """One line of the credibility panel: what was checked, its status and one sentence."""

    name: str
    status: Status
    sentence: str

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status is one of {', '.join(STATUSES)}, not {self.status!r}")

    def to_dict(self) -> dict[str, str]:
        """The check as a JSON-ready dict (what a notebook publishes)."""
        return {"name": self.name, "status": self.status, "sentence": self.sentence}


def pretrend_check(
    pretrend_p: float,
    pretrend_df: int,
    alpha: float = 0.05,
    outcome: str = "",
    *,
    explained_by_ramp: bool = False,
    note: str = "",
) -> Check:
    """Do adopters' outcomes drift before adoption? Joint test of the pre-adoption coefficients.

    Red when the test rejects at ``alpha``, amber when it would at ``2 * alpha`` (a warning
    sign, not a rejection), green otherwise. Amber, not red, when it rejects but usage ramped up
    for weeks before the threshold week (``explained_by_ramp``, see
    :attr:`cts.EventStudy.ramp_explains_pretrend`): the ramp itself moves the pre-adoption
    coefficients. A test that could not be computed is amber, with ``note`` saying why.
    ``outcome`` is named in the check.
    """
    name = _named("Trends before adoption", outcome)
    if not pretrend_df or not np.isfinite(pretrend_p):
        why = note or "no pre-adoption weeks to test"
        return Check(
            name,
            "amber",
            f"Not checked ({why}): the effect assumes adopting teams would have moved like the "
            "others without the assistant.",
        )
    said = f"joint test over {pretrend_df} pre-adoption weeks, {p_phrase(pretrend_p)}"
    if pretrend_p < alpha and explained_by_ramp:
        return Check(
            name,
            "amber",
            f"Adopting teams' numbers moved in the weeks before adoption ({said}), as expected "
            "when teams ramp up usage for weeks before the week counted as adoption: the "
            "effect's timing is blurred, not its size.",
        )
    if pretrend_p < alpha:
        return Check(
            name,
            "red",
            f"Adopting teams were already changing before they adopted ({said}): part of the "
            "effect may be that earlier trend, so the number may be off.",
        )
    if pretrend_p < 2 * alpha:
        return Check(
            name,
            "amber",
            f"A weak sign that adopting teams were already changing before they adopted "
            f"({said}): read the effect with some caution.",
        )
    return Check(
        name,
        "green",
        f"Adopting teams were not already changing before they adopted ({said}), so the "
        "effect is not an earlier trend carried on.",
    )


def exogeneity_check(table: pd.DataFrame, alpha: float = 0.05, outcome: str = "") -> Check:
    """Do the controls respond to usage, or does future usage predict today's outcome?

    ``table`` is :attr:`cts.analyses.exogeneity.ExogeneityChecks.table` (``p_value``,
    ``flagged`` after the multiple-testing adjustment). Red when a check is flagged, amber when
    one is significant only before the adjustment, green otherwise.
    """
    name = _named("What the effect holds fixed", outcome)
    flagged = list(table.index[table["flagged"].astype(bool)])
    raw = list(table.index[table["p_value"] < alpha])
    if flagged:
        return Check(
            name,
            "red",
            f"{len(flagged)} of {len(table)} checks failed: {'; '.join(flagged)}. Either "
            "something the model holds fixed responds to the assistant, or adoption followed "
            "the outcome, so the effect may be biased.",
        )
    if raw:
        return Check(
            name,
            "amber",
            f"{len(raw)} of {len(table)} checks significant before the multiple-testing "
            f"adjustment, none after: {'; '.join(raw)}. Probably chance.",
        )
    return Check(
        name,
        "green",
        f"All {len(table)} checks pass: the rates the model holds fixed do not respond to the "
        "assistant, and next month's usage does not predict this week's numbers, so the effect "
        "hides in neither.",
    )


def few_teams_check(
    inference: pd.DataFrame, n_teams: int, term: str = "long_run", outcome: str = ""
) -> Check:
    """Does the conclusion survive inference built for few teams?

    ``inference`` is :func:`cts.compare_inference`'s table (index ``inference``, ``term``;
    columns ``ci_low``, ``ci_high``). Green when clustered, wild-bootstrap and randomization
    intervals agree on whether zero is excluded, amber when they disagree. It speaks of the
    panel's own number only when ``n_teams`` is the whole panel (04 publishes it to the brief
    only then).
    """
    name = _named("With few teams", outcome)
    rows = inference.xs(term, level="term")
    excludes = (rows["ci_low"] > 0) | (rows["ci_high"] < 0)
    methods = ", ".join(str(method).replace("_", " ") for method in rows.index)
    term = term.replace("_", "-")
    if excludes.all():
        return Check(
            name,
            "green",
            f"On {n_teams} teams, every method ({methods}) excludes zero for the {term} effect.",
        )
    if not excludes.any():
        return Check(
            name,
            "amber",
            f"On {n_teams} teams, no method ({methods}) excludes zero for the {term} effect: "
            "small panels cannot show it.",
        )
    disagree = ", ".join(str(m).replace("_", " ") for m in rows.index[~excludes])
    return Check(
        name,
        "amber",
        f"On {n_teams} teams the methods disagree: {disagree} cannot exclude zero for the "
        f"{term} effect; trust the wider interval.",
    )


#: What a reader calls the outcomes the checks are about.
LABELS: dict[str, str] = {
    "cr_velocity": "CRs merged per builder-week",
    "deploy_velocity": "deployments per builder-week",
    "rollback_rate": "rollbacks per deployment",
    "interventions_per_deploy": "manual interventions per deployment",
    "pages_per_oncall": "pages per on-call builder",
    "ai_usage_rate": "share of builders using the assistant",
}


def label(column: str) -> str:
    """A column's name for a reader (the column itself when it has no label)."""
    return LABELS.get(column, column)


def _named(name: str, outcome: str) -> str:
    return f"{name} ({label(outcome)})" if outcome else name


def sections_check(left_out: dict[str, list[str]], failed: Sequence[str]) -> Check:
    """Did every report and section run? ``left_out``: report -> sections the panel could not
    support; ``failed``: reports that failed. Red for a failed report, amber for a section left
    out, green otherwise."""
    name = "Reports"
    if failed:
        return Check(name, "red", f"{len(failed)} report(s) failed: {', '.join(failed)}.")
    if any(left_out.values()):
        listed = "; ".join(f"{', '.join(s)} ({r})" for r, s in left_out.items() if s)
        return Check(name, "amber", f"Left out because this panel cannot support them: {listed}.")
    return Check(name, "green", "Every report ran every section on this panel.")


#: The brief's numbers: heading, the report that publishes them, and its headline keys in
#: order (the first is shown large). Keys that start with ``~`` match any key with that prefix.
_NUMBERS: tuple[tuple[str, tuple[tuple[str, tuple[str, ...]], ...]], ...] = (
    (
        "What CTS-SW is doing",
        (
            (
                "01_cost_to_serve",
                (
                    "CTS-SW, whole window",
                    "same weeks a year apart",
                    "units",
                    "CTS-SW in money",
                    "cost per builder-week",
                ),
            ),
            ("05_impact", ("CTS-SW without the assistant",)),
        ),
    ),
    (
        "What drives it",
        (
            (
                "02_drivers",
                ("most strongly associated", "per", "share of variance between teams (ICC)"),
            ),
        ),
    ),
    (
        "What the AI assistant is worth",
        (
            ("05_impact", ("~engineering-years", "~money a year")),
            ("03_adoption_effect_cr_velocity", ("~long-run effect on",)),
            ("03_adoption_effect_deploy_velocity", ("~long-run effect on",)),
        ),
    ),
)


#: Said at the top of the brief whenever the panel is the simulator's (a truth file beside it).
SIMULATED_BANNER = (
    "Simulated data: this panel comes from cts's simulator, not from an organisation. The "
    "numbers show what the reports do and recover the simulator's truth; they say nothing about "
    "what an assistant is worth to you."
)


def is_simulated(panel_path: str | Path) -> bool:
    """Whether the panel is the simulator's: ``<stem>.truth.json`` lies beside it."""
    path = Path(panel_path)
    return path.with_name(f"{path.stem}.truth.json").is_file()


def brief_html(
    runs: Sequence[AnalysisRun],
    panel_path: str | Path,
    panel_sha256: str,
    parameters: dict | None = None,
) -> str:
    """The brief as one HTML page.

    Parameters
    ----------
    runs
        :class:`cts.reporting.builder.AnalysisRun` of every report, in reading order (each has
        ``analysis``, ``ok``, ``seconds``, ``headlines``, ``not_estimable``, ``checks``,
        ``error``).
    panel_path, panel_sha256
        The panel the reports analysed and its SHA-256 (for the footer).
    parameters
        The notebook parameters every report shared (seed, window, unit, currency).
    """
    checks = _checks(runs)
    reports_check = checks.pop()
    banner = (
        f'<p class="banner" role="note"><b>{html.escape(SIMULATED_BANNER)}</b></p>'
        if is_simulated(panel_path)
        else ""
    )
    reports = "\n".join(_report_row(run) for run in runs)
    charts = "\n".join(
        _chart(figure, run) for run in runs if run.ok for figure in getattr(run, "figures", [])
    )
    generated = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    shared = _shared_parameters(parameters)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>cts brief</title>
<style>
{_stylesheet()}</style></head><body>
{banner}
<h1>cts brief</h1>
<p class="lead">What software costs to serve, what drives it, and what the AI assistant is worth,
with how far to trust each number. Intervals are 95% confidence intervals.</p>
<section class="numbers" aria-label="The numbers">
{_cards(runs)}
</section>
{f'<section class="charts" aria-label="Charts">{charts}</section>' if charts else ""}
<h2>How far to trust them</h2>
<ul class="checks">
{_check_items(checks)}
</ul>
<h2>The detailed reports</h2>
<p class="check {reports_check.status}"><span class="status">
{STATUSES[reports_check.status][1]}</span>: {html.escape(reports_check.sentence)}</p>
<table><thead><tr><th>report</th><th>status</th><th>run</th></tr></thead>
<tbody>
{reports}
</tbody></table>
<footer>
<p>Panel <code>{html.escape(str(panel_path))}</code>, SHA-256 <code>{panel_sha256}</code>;
cts {importlib.metadata.version("cts")}; generated {generated}{"; " + shared if shared else ""}.
The full provenance (versions, seed, run date), the design checks and the data-quality notes
are in <a href="00_panel_overview.html#Provenance">the panel report</a>.</p>
<p>Metrics are team-level only; reports show no team with fewer builders than the panel's
minimum team size.</p>
</footer>
</body></html>
"""


#: The brief's CSS before and after the colours of the check statuses (:func:`_stylesheet`).
_LAYOUT_CSS = """* { box-sizing: border-box; }
body { font-family: system-ui, sans-serif; max-width: 72rem; margin: 1.5rem auto;
  padding: 0 1rem; color: #1f2328; line-height: 1.45; overflow-wrap: anywhere; }
h1 { margin-bottom: .2rem; } .lead { color: #57606a; margin-top: 0; }
.numbers { display: grid; grid-template-columns: repeat(auto-fit, minmax(20rem, 1fr));
  gap: 1rem; }
.card { border: 1px solid #d0d7de; border-radius: .5rem; padding: .8rem 1rem; min-width: 0; }
.card h2 { font-size: 1.05rem; margin: 0 0 .4rem; }
.big { font-size: 1.35rem; font-weight: 600; margin: .2rem 0 .5rem; }
.card dl { margin: 0; } .card dt { color: #57606a; font-size: .9rem; }
.card dd { margin: 0 0 .4rem; } .missing { color: #9a6700; }
ul.checks { list-style: none; padding: 0; }
li.check { margin: .4rem 0; padding-left: 1.4rem; position: relative; }
.dot { position: absolute; left: 0; top: .35rem; width: .8rem; height: .8rem;
  border-radius: 50%; }
.status { font-weight: 600; }
.banner { background: #fff8c5; border: 1px solid #d4a72c; border-radius: .5rem;
  padding: .6rem 1rem; }
.card ul.checks li { font-size: .95rem; } .note { color: #57606a; font-size: .9rem; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(24rem, 1fr));
  gap: 1rem; margin-top: 1rem; }
figure { margin: 0; min-width: 0; } figure img { max-width: 100%; height: auto; }
figcaption { color: #57606a; font-size: .9rem; }
"""
_TABLE_CSS = """table { border-collapse: collapse; width: 100%; table-layout: fixed; }
th, td { border-bottom: 1px solid #d0d7de; padding: .4rem; text-align: left;
  vertical-align: top; }
th:first-child { width: 40%; } th:last-child { width: 20%; }
.failed { color: #cf222e; font-weight: bold; }
pre.error { white-space: pre-wrap; overflow-wrap: anywhere; margin: .3rem 0; }
footer { margin-top: 2rem; color: #57606a; font-size: .85rem; }
code { overflow-wrap: anywhere; }
"""


def _stylesheet() -> str:
    """The page's CSS, with each check status's colour (:data:`STATUSES`)."""
    styles = "\n".join(
        f".{status} .dot {{ background: {colour}; }} .{status} .status {{ color: {colour}; }}"
        for status, (colour, _) in STATUSES.items()
    )
    return f"{_LAYOUT_CSS}{styles}\n{_TABLE_CSS}"


def _cards(runs: Sequence[AnalysisRun]) -> str:
    """The cards of numbers: the headlines of :data:`_NUMBERS`, then the cards the notebooks
    published, which replace the last plain card (what the assistant is worth)."""
    by_name = {run.analysis.name: run for run in runs}
    published = [c for run in runs if run.ok for c in getattr(run, "cards", [])]
    numbers = _NUMBERS if not published else _NUMBERS[:-1]  # cards replace the plain figures
    return "\n".join(
        [
            *(_card(title, sources, by_name) for title, sources in numbers),
            *(_published_card(card) for card in published),
        ]
    )


def _check_items(checks: Sequence[Check]) -> str:
    """The credibility panel's list items: a dot and the status in words, then the sentence."""
    return "\n".join(
        f'<li class="check {c.status}"><span class="dot" aria-hidden="true"></span>'
        f'<b>{html.escape(c.name)}</b> <span class="status">{STATUSES[c.status][1]}</span>: '
        f"{html.escape(c.sentence)}</li>"
        for c in checks
    )


def _shared_parameters(parameters: dict | None) -> str:
    """The run's shared parameters for the footer, named as :data:`_FOOTER_LABELS` says."""
    return ", ".join(
        f"{html.escape(_FOOTER_LABELS.get(str(k), str(k).replace('_', ' ')))} {html.escape(str(v))}"
        for k, v in (parameters or {}).items()
        if k != "panel_path"
    )


#: The run's shared parameters as the footer names them.
_FOOTER_LABELS = {"start": "from", "end": "to", "seat_cost": "seat cost per builder-month"}


def _matching(headlines: dict[str, str], key: str) -> list[tuple[str, str]]:
    if key.startswith("~"):
        return [(k, v) for k, v in headlines.items() if k.startswith(key[1:])]
    return [(key, headlines[key])] if key in headlines else []


def _card(
    title: str,
    sources: tuple[tuple[str, tuple[str, ...]], ...],
    by_name: dict[str, AnalysisRun],
) -> str:
    shown: list[tuple[str, str]] = []
    missing: list[str] = []
    for name, keys in sources:
        run = by_name.get(name)
        if run is None:
            continue
        found = [pair for key in keys for pair in _matching(run.headlines, key)]
        shown.extend(found)
        if not run.ok:
            missing.append(f"{run.analysis.title}: the report failed (see below).")
        elif not found:
            why = "; ".join(run.not_estimable) or "no figure published"
            missing.append(f"{run.analysis.title}: not estimable on this panel ({why}).")
    big = (
        f'<p class="big">{html.escape(shown[0][1])}</p><p>{html.escape(shown[0][0])}</p>'
        if shown
        else ""
    )
    rest = "".join(f"<dt>{html.escape(k)}</dt><dd>{html.escape(str(v))}</dd>" for k, v in shown[1:])
    gaps = "".join(f'<p class="missing">{html.escape(m)}</p>' for m in missing)
    return (
        f'<div class="card"><h2>{html.escape(title)}</h2>{big}'
        f"{f'<dl>{rest}</dl>' if rest else ''}{gaps}</div>"
    )


def _published_card(card: dict) -> str:
    """A card a notebook published (:func:`cts.reporting.notebook.card`), every string escaped."""
    rows = "".join(
        f"<dt>{html.escape(str(k))}</dt><dd>{html.escape(str(v))}</dd>"
        for k, v in card.get("rows", [])
    )
    checks = "".join(
        f'<li class="check {c["status"] if c["status"] in STATUSES else "amber"}">'
        f'<span class="dot" aria-hidden="true"></span><b>{html.escape(c["name"])}</b> '
        f'<span class="status">{STATUSES.get(c["status"], STATUSES["amber"])[1]}</span>: '
        f"{html.escape(c['sentence'])}</li>"
        for c in card.get("checks", [])
    )
    notes = "".join(f'<p class="note">{html.escape(str(n))}</p>' for n in card.get("notes", []))
    return (
        f'<div class="card"><h2>{html.escape(str(card["title"]))}</h2>'
        f'<p class="big">{html.escape(str(card.get("big", "")))}</p>'
        f"<p>{html.escape(str(card.get('big_label', '')))}</p>"
        + (f"<dl>{rows}</dl>" if rows else "")
        + (f'<ul class="checks">{checks}</ul>' if checks else "")
        + f"{notes}</div>"
    )


def _chart(figure: dict, run: AnalysisRun) -> str:
    name = run.analysis.name
    return (
        f'<figure><img alt="{html.escape(figure["alt"])}" '
        f'src="data:image/png;base64,{figure["png"]}">'
        f'<figcaption>{html.escape(figure["title"])} (<a href="{name}.html">'
        f"{html.escape(run.analysis.title)}</a>)</figcaption></figure>"
    )


def _checks(runs: Sequence[AnalysisRun]) -> list[Check]:
    published = [Check(**check) for run in runs if run.ok for check in getattr(run, "checks", [])]
    seen = set()
    unique = []
    for check in published:  # the same check from two reports (e.g. two outcomes): keep both
        if (check.name, check.sentence) not in seen:
            seen.add((check.name, check.sentence))
            unique.append(check)
    left_out = {run.analysis.title: list(run.not_estimable) for run in runs if run.ok}
    failed = [run.analysis.title for run in runs if not run.ok]
    return [*unique, sections_check(left_out, failed)]


def _report_row(run: AnalysisRun) -> str:
    name, title = run.analysis.name, html.escape(run.analysis.title)
    if run.ok:
        link = f'<a href="{name}.html">{title}</a> (<a href="{name}.code.html">with code</a>)'
        left = "; ".join(run.not_estimable)
        status = f"ran; left out: {html.escape(left)}" if left else "ran, every section"
        return f"<tr><td>{link}</td><td>{status}</td><td>{run.seconds:.0f} s</td></tr>"
    link = f'{title} (<a href="failed/{name}.html">failed run</a>)'
    status = f'<span class="failed">FAILED</span><pre class="error">{html.escape(run.error)}</pre>'
    return f"<tr><td>{link}</td><td>{status}</td><td>{run.seconds:.0f} s</td></tr>"
