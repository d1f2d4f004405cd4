"""Are the controls exogenous, and does future adoption 'predict' today's outcome?"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyfixest as pf
from scipy import stats
from statsmodels.stats.multitest import multipletests

from cts.analyses.identification import ADOPTION_EFFECT, identification, week_effects_by
from cts.core.results import Result, TestStatistic
from cts.estimators.dynamic import DynamicPanelResult, dynamic_panel
from cts.estimators.wald import wald_test
from cts.panel import (
    DEFAULT_CONTROLS,
    lag,
    lag_rows,
    lag_term,
    require_columns,
    values_at,
    varying_columns,
    window_mask,
)

__all__ = ["ExogeneityChecks", "exogeneity_checks", "lead_placebo", "lead_placebo_fit"]


@dataclass(repr=False)
class ExogeneityChecks(Result):
    """Results of :func:`exogeneity_checks`.

    Attributes
    ----------
    table
        One row per check: ``statistic`` (Wald chi-squared), ``df``, ``p_value`` (Hotelling's
        T-squared over teams for the controls, :func:`cts.estimators.wald.wald_test`),
        ``p_adjusted`` (Holm over every check, one that could not be computed counted as not
        rejected), ``flagged`` (``p_adjusted < alpha``) and ``verdict``. A check the data
        cannot support (a singular covariance) has NaN numbers, is never flagged, and its
        verdict says why; :attr:`not_computed` names them and :meth:`summary` says so.
    alpha
        Family-wise significance level.
    """

    _metadata_fields = ("alpha",)

    table: pd.DataFrame
    alpha: float

    @property
    def tests(self) -> list[TestStatistic]:
        """Each check as a test statistic (p-values Holm-adjusted, as the verdicts are)."""
        return [
            TestStatistic(
                str(name),
                row["statistic"],
                row["df"],
                row["p_adjusted"],
                str(name),
                alpha=self.alpha,
            )
            for name, row in self.table.iterrows()
        ]

    @property
    def flagged(self) -> list[str]:
        """Names of the checks that failed."""
        return list(self.table.index[self.table["flagged"]])

    @property
    def not_computed(self) -> list[str]:
        """Names of the checks the data could not support (no p-value)."""
        return list(self.table.index[self.table["p_value"].isna()])

    def summary(self) -> str:
        """One verdict per line, then the checks that could not be computed, by name."""
        lines = [f"- {verdict}" for verdict in self.table["verdict"]]
        missing = self.not_computed
        if missing:
            lines.append(
                f"{len(missing)} of {len(self.table)} checks could not be computed "
                f"({', '.join(missing)}): they count as not rejected in the Holm family of "
                f"{len(self.table)}, and say nothing either way."
            )
        return "\n".join(lines)


def exogeneity_checks(
    panel: pd.DataFrame,
    outcome: str = "cr_velocity",
    treatment: str = "ai_usage_rate",
    controls: Sequence[str] = DEFAULT_CONTROLS,
    *,
    start: str | pd.Timestamp | None = None,
    end: str | pd.Timestamp | None = None,
    alpha: float = 0.05,
    time_effects_by: str | None = "auto",
) -> ExogeneityChecks:
    """Test that controls do not respond to AI usage and that future usage has no effect today.

    Two kinds of check, Holm-adjusted together so that the chance of any false flag is
    ``alpha``:

    - **control responds to usage**: two-way FE regression of each control on current and
      last week's usage, clustered by team; joint Wald test. A control that moves with usage is
      a consequence of adoption (a "bad control", Angrist & Pischke 2009, sec. 3.2.3):
      controlling for it removes part of the effect.
    - **lead placebo**: next week's usage added to the adoption model (bias-corrected, so the
      Nickell bias does not leak into the lead); it must not matter. If it does, adoption
      follows the outcome's trend (reverse causality or anticipation).

    Parameters
    ----------
    panel
        A panel from :func:`cts.load_panel`.
    outcome, treatment, controls
        As in :func:`cts.estimate_adoption_effect`.
    start, end
        Window of weeks (default: the panel's window, see :func:`cts.panel.set_window`); lags
        and leads come from outside it when observed.
    alpha
        Family-wise level.
    time_effects_by
        Week effects of every check's regression: ``"auto"`` (default) by org when the panel
        has an ``org`` column, a column name, or ``None`` for one week effect for all teams
        (as in :func:`cts.estimate_adoption_effect`).

    Returns
    -------
    ExogeneityChecks
    """
    controls = tuple(controls)
    require_columns(panel, (outcome, treatment, *controls), "the panel")
    sample = window_mask(panel, start, end)
    # The checks are regressions of the adoption model's kind: refused where it is.
    identification(panel.loc[sample], treatment=treatment, outcome=outcome).require(ADOPTION_EFFECT)
    controls = varying_columns(panel.loc[sample], controls, "control")
    group, _ = week_effects_by(panel, time_effects_by)
    weeks = "week" if group is None else f"{group}^week"
    data = panel.assign(
        _usage=panel[treatment],
        _usage_lag=lag(panel, treatment),
    )
    rows: dict[str, tuple[float, float | None, float, str]] = {}
    reasons: dict[str, str] = {}
    for control in controls:
        name = f"{control} responds to usage"
        fit = pf.feols(
            f"_control ~ _usage + _usage_lag | team_id + {weeks}",
            data.assign(_control=data[control]).loc[sample].dropna(subset=["_usage_lag"]),
            vcov={"CRV1": "team_id"},
        )
        # pyfixest keeps the clustered covariance of a fit in ``_vcov``; it has no public getter.
        coef = fit.coef()
        test, note = wald_test(
            coef,
            pd.DataFrame(np.asarray(fit._vcov), index=coef.index, columns=coef.index),
            name=name,
            null=f"`{control}` does not respond to usage",
            n_clusters=int(data["team_id"].nunique()),
        )
        if test is None or test.df is None or test.df < len(coef):
            rows[name] = (float("nan"), len(coef), float("nan"), control)
            reasons[name] = note or f"{name} not computed"
        else:
            rows[name] = (test.statistic, test.df, test.p_value, control)
    placebo = lead_placebo(
        panel, outcome, treatment, controls, sample=sample, time_effects_by=group
    )
    if np.isfinite(placebo.statistic):
        rows["lead placebo"] = (placebo.statistic, 1, placebo.p_value, "")
    else:
        rows["lead placebo"] = (float("nan"), 1, float("nan"), "")
        reasons["lead placebo"] = "lead placebo not computed: its standard error is not finite"

    table = pd.DataFrame.from_dict(
        rows, orient="index", columns=["statistic", "df", "p_value", "_control"]
    )
    table["p_adjusted"] = holm_with_missing(table["p_value"].to_numpy(float))
    table["flagged"] = table["p_adjusted"] < alpha
    table["verdict"] = [
        reasons[name] + "; the data would need more teams"
        if name in reasons
        else _verdict(str(name), row, outcome, treatment)
        for name, row in table.iterrows()
    ]
    table.index.name = "check"
    return ExogeneityChecks(table=table.drop(columns="_control"), alpha=alpha)


def holm_with_missing(p_values: np.ndarray) -> np.ndarray:
    """Holm-adjusted p-values over the whole family, a check that could not be computed
    counted as not rejected (p = 1): leaving it out would shrink the family and loosen every
    other check's adjustment. NaN stays NaN."""
    p_values = np.asarray(p_values, dtype=float)
    adjusted = np.full(len(p_values), np.nan)
    if len(p_values) and np.isfinite(p_values).any():
        filled = np.where(np.isfinite(p_values), p_values, 1.0)
        adjusted = multipletests(filled, method="holm")[1]
        adjusted[~np.isfinite(p_values)] = np.nan
    return adjusted


def _verdict(name: str, row: pd.Series, outcome: str, treatment: str) -> str:
    evidence = f"(chi2 = {row['statistic']:.1f}, Holm p = {row['p_adjusted']:.3f})"
    if row["_control"]:
        control = row["_control"]
        if row["flagged"]:
            return (
                f"`{control}` moves with {treatment} {evidence}: it is likely a consequence of "
                "adoption, so controlling for it hides part of the effect. Report the estimate "
                "without it as well."
            )
        return f"No evidence that `{control}` responds to {treatment} {evidence}."
    if row["flagged"]:
        return (
            f"Next week's {treatment} 'predicts' this week's {outcome} {evidence}: adoption "
            "may follow the outcome's trend, so the effect may not be causal."
        )
    return f"Future {treatment} does not predict today's {outcome} {evidence}, as it should not."


def lead_placebo(
    panel: pd.DataFrame,
    outcome: str = "cr_velocity",
    treatment: str = "ai_usage_rate",
    controls: Sequence[str] = (),
    *,
    sample: pd.Series | None = None,
    lags: int = 1,
    treatment_lags: int = 0,
    time_effects_by: str | None = None,
) -> TestStatistic:
    """The lead placebo of :func:`exogeneity_checks` in a model with ``lags`` lags of the
    outcome and ``treatment_lags`` of usage and each control: next week's usage must not
    'predict' this week's outcome (bias-corrected fit, team-clustered SE). A rejection says usage
    is not strictly exogenous: it responds to the outcome's shocks (feedback) or anticipates
    them. Unadjusted p-value (:func:`exogeneity_checks` Holm-adjusts it with its other checks).
    ``time_effects_by``: column whose groups get their own week effects (as in
    :func:`cts.estimators.dynamic.dynamic_panel`).
    """
    test, _ = lead_placebo_fit(
        panel,
        outcome,
        treatment,
        controls,
        sample=sample,
        lags=lags,
        treatment_lags=treatment_lags,
        time_effects_by=time_effects_by,
    )
    return test


def lead_placebo_fit(
    panel: pd.DataFrame,
    outcome: str,
    treatment: str,
    controls: Sequence[str],
    *,
    sample: pd.Series | None = None,
    lags: int = 1,
    treatment_lags: int = 0,
    time_effects_by: str | None = None,
) -> tuple[TestStatistic, DynamicPanelResult]:
    """:func:`lead_placebo` and the fit it comes from (whose other coefficients, e.g. of the
    longest lags, ``method="auto"`` tests too instead of fitting that model again). The fit's
    distributed lags are named by :func:`cts.panel.lag_term` as in ``dynamic_panel``."""
    regressors = [treatment, *controls]
    later, *earlier = lag_rows(panel, [-1, *range(1, treatment_lags + 1)])

    added = {"_usage_lead": values_at(panel[treatment].to_numpy(), later)}
    for k, rows in enumerate(earlier, start=1):
        added.update({lag_term(c, k): values_at(panel[c].to_numpy(), rows) for c in regressors})
    placebo = dynamic_panel(
        # only the columns the fit uses: copying every column of a large panel costs more
        panel[
            [
                "team_id",
                "week",
                outcome,
                *regressors,
                *([time_effects_by] if time_effects_by else []),
            ]
        ].assign(**added),
        outcome,
        ["_usage_lead", *regressors, *list(added)[1:]],
        "team_id",
        "week",
        lags=lags,
        sample=sample,
        serial_test=False,
        time_effects_by=time_effects_by,
    )
    estimate, se = placebo.table.loc["_usage_lead", ["estimate", "se"]].to_numpy(float)
    z = float(estimate / se)
    test = TestStatistic(
        name="lead placebo",
        statistic=z**2,
        df=1,
        p_value=float(stats.chi2.sf(z**2, 1)),
        null=f"next week's {treatment} does not predict this week's {outcome} (strict exogeneity)",
    )
    return test, placebo
