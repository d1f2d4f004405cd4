"""What drives CTS-SW: a linear mixed model with team random effects, and a sensitivity ranking."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyfixest as pf
import statsmodels.formula.api as smf
from statsmodels.tools.sm_exceptions import ConvergenceWarning as SMConvergenceWarning

from cts.analyses.cost import cost_to_serve
from cts.core.exceptions import ConvergenceWarning
from cts.core.results import LEVEL, Result, estimate_table
from cts.panel import PanelError, PanelWarning, varying_columns

__all__ = ["DRIVERS", "DriversResult", "fit_drivers"]

#: The default drivers and what a one-unit change means.
DRIVERS: dict[str, str] = {
    "cr_velocity": "CRs merged per builder-week",
    "interventions_per_deploy": "manual interventions per deployment",
    "rollback_rate": "rollbacks per deployment",
    "pages_per_oncall": "pages per on-call builder",
}


@dataclass(repr=False)
class DriversResult(Result):
    """A fitted drivers model, from :func:`fit_drivers`.

    Attributes
    ----------
    table
        Fixed effects of the mixed model (``estimate, se, ci_low, ci_high, p_value``), drivers
        first; period effects or the trend after them.
    fe_table
        The same drivers from a two-way fixed-effects regression (team and period effects,
        clustered by team; pyfixest), for comparison.
    variance_components
        Variances of the team random effects and of the residual.
    icc
        Intraclass correlation: the share of the outcome's variance (beyond the fixed effects)
        that lies between teams.
    within_sd
        Within-team standard deviation of each driver (the "typical change" of the sensitivity).
    outcome, drivers, n_obs, n_teams, n_undefined
        What was fitted on how much; ``n_undefined`` team-periods without units were left out.
    model
        The statsmodels ``MixedLMResults``.
    """

    _metadata_fields = ("outcome", "n_obs", "n_teams", "n_undefined")

    table: pd.DataFrame
    fe_table: pd.DataFrame
    variance_components: pd.Series
    icc: float
    within_sd: pd.Series
    outcome: str
    drivers: tuple[str, ...]
    n_obs: int
    n_teams: int
    n_undefined: int
    model: object

    def sensitivity(self) -> pd.DataFrame:
        """Percent change in CTS-SW from a one-SD within-team change in each driver, ranked.

        ``change_pct`` (with ``ci_low``, ``ci_high``) comes from the mixed model and
        ``fe_change_pct`` from the fixed-effects fit: ``100 * (exp(beta * sd) - 1)`` for the log
        outcome. Ranked by the size of the mixed-model change.
        """
        rows = {}
        for driver in self.drivers:
            sd = self.within_sd[driver]
            mixed, fixed = self.table.loc[driver], self.fe_table.loc[driver]
            rows[driver] = {
                "one_sd": sd,
                "change_pct": self._percent(mixed["estimate"] * sd),
                "ci_low": self._percent(min(mixed["ci_low"] * sd, mixed["ci_high"] * sd)),
                "ci_high": self._percent(max(mixed["ci_low"] * sd, mixed["ci_high"] * sd)),
                "p_value": mixed["p_value"],
                "fe_change_pct": self._percent(fixed["estimate"] * sd),
            }
        table = pd.DataFrame.from_dict(rows, orient="index")
        table = table.iloc[np.argsort(-table["change_pct"].abs().to_numpy(), kind="stable")]
        table.insert(0, "rank", np.arange(1, len(table) + 1))
        table.index.name = "driver"
        return table

    def _percent(self, log_change: float) -> float:
        if self.outcome.startswith("log_"):
            return float(100 * np.expm1(log_change))
        return float(100 * log_change / self.model.model.endog.mean())

    def summary(self) -> str:
        """The ranking in words, with the variance split."""
        lines = [
            f"Drivers of {self.outcome}: linear mixed model with team random effects, "
            f"{self.n_obs:,} team-periods, {self.n_teams:,} teams; ICC = {self.icc:.2f} "
            f"({self.icc:.0%} of the remaining variance lies between teams).",
            "A one-SD within-team change in each driver moves CTS-SW by:",
        ]
        for driver, row in self.sensitivity().iterrows():
            lines.append(
                f"  {int(row['rank'])}. {driver} (+{row['one_sd']:.3g} {DRIVERS.get(driver, '')}): "
                f"{row['change_pct']:+.1f}% [{row['ci_low']:+.1f}%, {row['ci_high']:+.1f}%]; "
                f"within-team FE fit: {row['fe_change_pct']:+.1f}%"
            )
        return "\n".join(lines)


def fit_drivers(
    panel: pd.DataFrame,
    outcome: str = "log_cts_sw",
    drivers: Sequence[str] = tuple(DRIVERS),
    random_slopes: Sequence[str] = (),
    *,
    time: str = "period_effects",
    unit: str = "auto",
    period: str = "4W",
    level: float = LEVEL,
) -> DriversResult:
    """Fit a linear mixed model of CTS-SW on its drivers, with team random intercepts.

    Parameters
    ----------
    panel
        A panel from :func:`cts.load_panel`; CTS-SW per team-period comes from
        :func:`cts.cost_to_serve` with ``unit`` and ``period``.
    outcome
        ``"log_cts_sw"`` (default; effects read as percent changes) or ``"cts_sw"``.
    drivers
        Columns of the team-period table (rates are ratios of the period's sums).
    random_slopes
        Drivers whose effect varies by team (random slopes beside the intercept).
    time
        ``"period_effects"`` (one fixed effect per period, the default) or ``"trend"``.
    unit, period
        Passed to :func:`cts.cost_to_serve`.
    level
        Confidence level of the intervals.

    Returns
    -------
    DriversResult

    References
    ----------
    Laird & Ware (1982), Biometrics 38(4), for the model; statsmodels ``MixedLM`` (REML) fits it.
    """
    drivers, random_slopes = tuple(drivers), tuple(random_slopes)
    if outcome not in ("log_cts_sw", "cts_sw"):
        raise ValueError(f"outcome must be 'log_cts_sw' or 'cts_sw', not {outcome!r}")
    if time not in ("period_effects", "trend"):
        raise ValueError(f"time must be 'period_effects' or 'trend', not {time!r}")
    if not drivers:
        raise ValueError("drivers must name at least one column")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PanelWarning)  # undefined periods are counted below
        cost = cost_to_serve(panel, unit=unit, period=period)
    table = cost.table
    known = [
        c
        for c in table.columns
        if pd.api.types.is_numeric_dtype(table[c]) and not pd.api.types.is_bool_dtype(table[c])
    ]
    unknown = [d for d in (*drivers, *random_slopes) if d not in known]
    if unknown:
        raise PanelError(
            f"unknown driver(s) {unknown}; drivers are numeric columns of the team-period "
            f"table: {known}"
        )
    extra = [s for s in random_slopes if s not in drivers]
    if extra:
        raise ValueError(f"random slopes {extra} must also be drivers")

    data = table.loc[table["defined"], ["team_id", "period", outcome, *drivers]].dropna()
    drivers = varying_columns(data, drivers, "driver")
    random_slopes = tuple(s for s in random_slopes if s in drivers)
    if data["team_id"].nunique() < 2:
        raise PanelError(
            f"the drivers model separates teams from what varies within them, so it needs at "
            f"least two teams with defined CTS-SW; this panel has {data['team_id'].nunique()}"
        )
    data = data.assign(_period=pd.factorize(data["period"], sort=True)[0])
    time_terms = "C(_period)" if time == "period_effects" else "_period"
    formula = f"{outcome} ~ {' + '.join(drivers)} + {time_terms}"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SMConvergenceWarning)
        model = smf.mixedlm(
            formula,
            data,
            groups=data["team_id"],
            re_formula="~" + " + ".join(["1", *random_slopes]),
        ).fit(reml=True)
    trouble = [str(w.message) for w in caught if issubclass(w.category, SMConvergenceWarning)]
    if trouble or not model.converged:
        warnings.warn(
            "the mixed model did not converge cleanly (statsmodels: "
            f"{'; '.join(dict.fromkeys(trouble)) or 'not converged'}); trust it only where it "
            "agrees with the fixed-effects fit in `fe_table`, or drop random slopes",
            ConvergenceWarning,
            stacklevel=2,
        )
    fixed = model.fe_params.index
    fixed_table = _table(model.fe_params, model.bse_fe, fixed, level)
    ordered = [*drivers, *(t for t in fixed if t not in drivers)]

    fe = pf.feols(
        f"{outcome} ~ {' + '.join(drivers)} | team_id + _period",
        data,
        vcov={"CRV1": "team_id"},
    )
    fe_table = _table(fe.coef(), fe.se(), list(drivers), level)

    # statsmodels names the random intercept "Group" when it is the only random effect.
    cov_re = model.cov_re.rename(index={"Group": "Intercept"}, columns={"Group": "Intercept"})
    components = pd.Series(
        {
            **{f"team {name}": cov_re.loc[name, name] for name in cov_re.index},
            "residual": model.scale,
        }
    )
    between = cov_re.loc["Intercept", "Intercept"]
    within = data[list(drivers)] - data.groupby("team_id")[list(drivers)].transform("mean")
    return DriversResult(
        table=fixed_table.loc[ordered],
        fe_table=fe_table,
        variance_components=components,
        icc=float(between / (between + model.scale)),
        within_sd=within.std(),
        outcome=outcome,
        drivers=drivers,
        n_obs=len(data),
        n_teams=int(data["team_id"].nunique()),
        n_undefined=cost.n_undefined,
        model=model,
    )


def _table(estimates: pd.Series, se: pd.Series, terms: Sequence[str], level: float) -> pd.DataFrame:
    table = estimate_table(estimates[list(terms)], se[list(terms)], level)
    table.index.name = "term"
    return table
