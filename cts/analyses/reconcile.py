"""One table of every effect estimate the reports show, what each means and why they differ.

The reports quote several numbers for "the effect of the assistant": the pooled model's short
and long run (notebook 03), the event study's average effect after adoption (04), effects by
adoption cohort and by team trait (04), and the counterfactual's average effect on the treated,
short and long run and total extra units (05, and the money). They answer different questions:
per unit of usage or per adoption, the same week or once settled, averaged over teams or over
team-weeks. :func:`reconcile_estimates` lists them side by side with those differences in words
and says which one the money uses.
"""

from __future__ import annotations

import html
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import cast

import numpy as np
import pandas as pd

from cts.analyses.adoption import AdoptionEffect, estimate_adoption_effect
from cts.analyses.counterfactual import Counterfactual, counterfactual
from cts.analyses.heterogeneity import HeterogeneousEffects
from cts.core.results import ESTIMATE_COLUMNS, Result, critical_value
from cts.estimators.event_study import EventStudy, event_study
from cts.panel import window_mask

__all__ = ["RECONCILIATION_COLUMNS", "Reconciliation", "reconcile_estimates"]

#: The columns of :attr:`Reconciliation.table`, after ``estimate, se, ci_low, ci_high, p_value``.
RECONCILIATION_COLUMNS = (
    "report",
    "dose",
    "horizon",
    "threshold",
    "averaged_over",
    "weights",
    "why_it_differs",
    "money",
)
_FULL = "per builder-week, from no builder to every builder using the assistant"
_SAME_WEEK = "the same week"
_SETTLED = "once usage has been sustained and the outcome has settled"
_NO_THRESHOLD = "none: usage is a share of builders; any usage starts a team's use"
#: Weeks the net return reads (the default ``recent_weeks`` of :func:`cts.net_return`).
RECENT_WEEKS = 13


@dataclass(repr=False)
class Reconciliation(Result):
    """Every effect estimate the reports show, from :func:`reconcile_estimates`.

    Attributes
    ----------
    table
        One row per estimate (index ``estimate_name``): ``estimate, se, ci_low, ci_high, p_value``
        (95%; ``se`` and ``p_value`` NaN where the source reports none),
        then :data:`RECONCILIATION_COLUMNS`: where the report shows it, the dose and horizon it
        is per, the adoption threshold, whom it averages over and with what weights, why it
        differs from the others, and whether the money uses it.
    outcome
        The outcome, in its units per builder-week.
    headline
        The estimate ``method="auto"`` headlines in notebook 03 (``pooled`` or
        ``counterfactual``) and why (its last reason).
    notes
        Estimates that could not be computed on this panel, and why.
    """

    _metadata_fields = ("outcome",)

    table: pd.DataFrame
    outcome: str
    headline: str
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """The headline choice, the estimates and the notes."""
        money = self.table.index[self.table["money"].str.startswith("yes")]
        lines = [
            f"Effect estimates of the assistant on {self.outcome}, side by side. Notebook 03 "
            f"headlines: {self.headline}.",
            f"The money uses: {', '.join(money) or 'none of these'}.",
            *(f"Note: {note}" for note in self.notes),
            "",
            self.table[["estimate", "ci_low", "ci_high", "report"]].round(4).to_string(),
        ]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        return self.to_html()

    def to_html(self) -> str:
        """The table as HTML, every string escaped (names and texts come from the data)."""
        head = "".join(f"<th>{html.escape(str(c))}</th>" for c in ("", *self.table.columns))
        rows = []
        for name, row in self.table.iterrows():
            cells = [f"<th>{html.escape(str(name))}</th>"]
            for column, value in row.items():
                text = f"{value:+.4g}" if isinstance(value, float) else str(value)
                text = "" if isinstance(value, float) and not np.isfinite(value) else text
                cells.append(f"<td class='{html.escape(str(column))}'>{html.escape(text)}</td>")
            rows.append(f"<tr>{''.join(cells)}</tr>")
        notes = "".join(f"<p>{html.escape(note)}</p>" for note in self.notes)
        intro = html.escape(self.summary().splitlines()[0])
        money = html.escape(self.summary().splitlines()[1])
        return (
            f"<div class='cts-result'><p>{intro}</p><p>{money}</p>{notes}<table>"
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
        )


def reconcile_estimates(
    panel: pd.DataFrame,
    outcome: str = "cr_velocity",
    *,
    effect: AdoptionEffect | None = None,
    counterfactual_result: Counterfactual | None = None,
    study: EventStudy | None = None,
    heterogeneity: HeterogeneousEffects | None = None,
    threshold: float = 0.5,
    window: tuple[int, int] = (-12, 26),
    start: str | pd.Timestamp | None = None,
    end: str | pd.Timestamp | None = None,
    seed: int = 0,
) -> Reconciliation:
    """Every effect estimate the reports show on ``outcome``, with what each means.

    Parameters
    ----------
    panel, outcome, start, end, seed
        As in :func:`cts.estimate_adoption_effect`.
    effect
        The adoption effect of notebook 03 (default: :func:`cts.estimate_adoption_effect`,
        ``method="auto"``). Its pooled short and long run are listed whether ``auto``
        headlines them or the counterfactual (``effect.alternative``).
    counterfactual_result
        The counterfactual (default: the one ``auto`` ran, else :func:`cts.counterfactual`
        with the effect's controls and week effects).
    study
        The event study of notebook 04 (default: :func:`cts.event_study` at ``threshold`` and
        ``window``).
    heterogeneity
        Effects by team trait (:func:`cts.heterogeneous_effects`, notebook 04); listed when
        given, not computed here (a causal forest is slow).
    threshold, window
        The event study's adoption threshold and window, when it is computed here.

    Returns
    -------
    Reconciliation
    """
    rows = window_mask(panel, start, end)
    data = panel.loc[rows]
    if effect is None:
        effect = estimate_adoption_effect(data, outcome, seed=seed)
    result = counterfactual_result or effect.counterfactual
    if result is None:
        result = counterfactual(
            data, outcome, controls=effect.controls, lags=_lags(effect),
            time_effects_by=effect.time_effects_by, seed=seed,
        )  # fmt: skip
    notes: list[str] = []
    if study is None:
        try:
            study = event_study(
                data, outcome, threshold=threshold, window=cast("tuple[int, int]", tuple(window))
            )
        except ValueError as error:  # PanelError included: no never-adopters, ...
            notes.append(f"event study not estimated: {error}")
    table = pd.DataFrame(
        [
            *_pooled_rows(effect),
            *_study_rows(study),
            *_counterfactual_rows(result, effect.headline, effect.counterfactual is not None),
            *_group_rows(heterogeneity),
        ]
    ).set_index("estimate_name")
    spec = effect.specification
    headline = effect.headline + (f" ({spec.reasons[-1]})" if spec and spec.reasons else "")
    return Reconciliation(table=table, outcome=outcome, headline=headline, notes=notes)


def _lags(effect: AdoptionEffect) -> int:
    return 1 if effect.specification is None else effect.specification.lags


def _row(name: str, values: pd.Series, **texts: str) -> dict:
    out = {
        "estimate_name": name,
        **{k: float(values.get(k, np.nan)) for k in ESTIMATE_COLUMNS},
    }
    out.update({column: texts.get(column, "") for column in RECONCILIATION_COLUMNS})
    out["money"] = texts.get("money", "no")
    return out


def _pooled_rows(effect: AdoptionEffect) -> list[dict]:
    pooled = effect.alternative if effect.headline == "counterfactual" else effect.table
    if pooled is None:
        raise ValueError("the effect headlines the counterfactual but kept no pooled estimate")
    role = "03, beside the headline" if effect.headline == "counterfactual" else "03, headline"
    common = {
        "dose": _FULL,
        "threshold": _NO_THRESHOLD,
        "averaged_over": "every team-week in the model: one effect assumed for every team and "
        "every week of use",
        "weights": "least squares: teams and weeks by the variation of their usage within "
        "team and week (teams whose usage moves more weigh more)",
    }
    why = (
        "assumes one effect for all teams and weeks of use; when effects differ (early "
        "adopters gain more, effects learned over the first weeks, rollouts org by org) its "
        "weights move it away from the teams' equal-weight average"
    )
    return [
        _row("pooled short_run", pooled.loc["short_run"], report=role, horizon=_SAME_WEEK,
             why_it_differs=why, **common),
        _row("pooled long_run", pooled.loc["long_run"], report=role,
             horizon=f"{_SETTLED}: short run / (1 - persistence)",
             why_it_differs=f"{why}; the persistence multiplies it", **common),
    ]  # fmt: skip


def _study_rows(study: EventStudy | None) -> list[dict]:
    if study is None:
        return []
    low, high = study.window
    return [
        _row(
            f"event study att (threshold {study.threshold:.0%})",
            study.att,
            report=f"04, headline ({study.estimator})",
            dose="adoption, not usage: the team's observed usage after crossing the threshold, "
            "whatever it is",
            horizon=f"weeks 0 to {high} after crossing, averaged; carry-over included",
            threshold=f"adopted from the first week usage reaches {study.threshold:.0%} "
            "(absorbing); teams that never reach it are the controls",
            averaged_over=f"{study.n_adopters} adopting teams' team-weeks after crossing, "
            "within the window",
            weights="team-weeks: teams observed longer after crossing weigh more",
            why_it_differs="a binary adoption at partial usage, not per unit of usage; usage "
            "before the crossing sits in the pre-adoption weeks, and teams below the "
            "threshold count as never adopting",
        )
    ]


def _counterfactual_rows(result: Counterfactual, headline: str, in_03: bool) -> list[dict]:
    table = result.table
    cf_role = "03, headline" if headline == "counterfactual" else "03, beside the headline"
    if not in_03:  # auto's effect-homogeneity step did not run (effect.specification says why)
        cf_role = "the counterfactual (not in 03 on this panel)"
    att_role = "03 (auto's table) and 05" if in_03 else "05"
    total = f"total_extra_{result.units}"
    equal = {
        "dose": _FULL,
        "threshold": _NO_THRESHOLD,
        "averaged_over": f"the {result.n_treated_teams} adopting teams with weeks before use",
        "weights": "equal per team",
    }
    observed = {
        "dose": "at observed usage (each team-week's own share of builders using it)",
        "threshold": _NO_THRESHOLD,
        "horizon": "every week of use in the window, carry-over of earlier weeks included",
        "averaged_over": "adopters' team-weeks of use",
    }
    why_team = (
        "each team's own effect (observed minus its no-assistant path), averaged with equal "
        "weights: no assumption that teams gain alike"
    )
    rows = [
        _row("counterfactual short_run", table.loc["short_run"], report=cf_role,
             horizon=_SAME_WEEK, why_it_differs=why_team, **equal),
        _row("counterfactual long_run", table.loc["long_run"], report=cf_role,
             horizon=f"{_SETTLED}: short run / (1 - persistence)", why_it_differs=why_team,
             **equal),
        _row("counterfactual att", table.loc["att"], report=att_role, weights="team-weeks",
             why_it_differs="at the usage teams actually had, not at full usage, and with the "
             "carry-over of past weeks: below the long run while usage is partial or young",
             **observed),
        _row(total, table.loc[total], report="05 (the counterfactual's paths)",
             weights="team-weeks times the team's builders (a sum, not a mean)",
             why_it_differs="a total over the window in units, not a rate",
             money="no: the money uses the same paths over the last weeks only (next row)",
             **observed),
        *_money_row(result),
    ]  # fmt: skip
    cohorts = result.by_cohort_short_run
    for cohort, row in cohorts.iterrows() if cohorts is not None else ():
        rows.append(
            _row(f"counterfactual short_run, cohort {cohort}", row,
                 report="counterfactual profile by cohort",
                 horizon=_SAME_WEEK, **{**equal, "averaged_over": f"{int(row['n_teams'])} teams "
                 f"first using it in {cohort}"},
                 why_it_differs="one adoption cohort only: early cohorts have used it longer "
                 "and may gain more (cohort homogeneity test in the counterfactual)")
        )  # fmt: skip
    return rows


def _money_row(result: Counterfactual, recent_weeks: int = RECENT_WEEKS) -> list[dict]:
    """The extra units a week over the last ``recent_weeks`` weeks: what the net return values."""
    weekly, draws = result.weekly, result.weekly_draws.get("total")
    if weekly is None or draws is None or not len(weekly):
        return []
    estimate = float(weekly["extra_units"].iloc[-recent_weeks:].mean())
    spread = draws[:, -recent_weeks:].mean(axis=1)
    se = float(np.std(spread, ddof=1)) if len(spread) > 1 else np.nan
    z = critical_value(result.level)
    values = pd.Series(
        {"estimate": estimate, "se": se, "ci_low": estimate - z * se, "ci_high": estimate + z * se}
    )
    return [
        _row(
            f"extra {result.units} a week, last {recent_weeks} weeks",
            values,
            report="05 and the brief: the money",
            dose="at observed usage",
            horizon=f"the window's last {recent_weeks} weeks, carry-over included",
            threshold=_NO_THRESHOLD,
            averaged_over="calendar weeks; within a week, summed over adopters",
            weights="each adopter-week's effect times its builders",
            why_it_differs="today's rate in units a week: what usage as it is now adds, not "
            "full usage and not the whole window",
            money="yes: cts.net_return turns these extra units into builder-weeks freed and "
            "values them (cts.assistant_paths, the counterfactual's paths: observed minus "
            "no-assistant outcome per team-week)",
        )
    ]


def _group_rows(heterogeneity: HeterogeneousEffects | None) -> list[dict]:
    if heterogeneity is None:
        return []
    return [
        _row(
            f"group short_run, {_group_label(label)}",
            row,
            report="04 (which teams gain more)",
            dose=_FULL,
            horizon=_SAME_WEEK,
            threshold=_NO_THRESHOLD,
            averaged_over=f"{int(row['teams'])} teams of this group",
            weights="linear DML (partialled-out usage variation within the group)",
            why_it_differs="one group of teams by a trait, last week's outcome held fixed "
            "(a short run); its within transformation carries a Nickell bias that shifts all "
            "groups alike, so read the differences between groups, not the level",
        )
        for label, row in heterogeneity.by_group.iterrows()
    ]


def _group_label(label: Hashable) -> str:
    """``modifier = group`` of a row of :attr:`HeterogeneousEffects.by_group`."""
    modifier, group = cast("tuple[Hashable, Hashable]", label)  # its index: (modifier, group)
    return f"{modifier} = {group}"
