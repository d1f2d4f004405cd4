"""What CTS-SW is associated with: within-team drivers, a mixed model beside them, and a ranking.

**No driver is its own denominator.** CTS-SW is builder-weeks per unit that reached customers,
so for a team whose unit is (a multiple of) a driver's own count per builder-week, CTS-SW is one
over that driver: a monolith's builder-weeks per shipped CR are about one over its CR velocity,
a trunk team's per shipped commit about one over 1.8 times it, a service's per deployment one
over its deployment velocity. A coefficient there is arithmetic, not a finding, so a velocity
driver enters only for the teams whose unit it does not count (:data:`OWN_UNITS`): CR velocity
is a driver of services' CTS-SW (CRs merged feed deployments without being them) and is left out
for monoliths and trunk teams. Rates per deployment (rollbacks, interventions) share the
service unit as denominator but count something else; their ratio to deployments does not move
with the number of deployments, so they stay for every team.

**Architecture terms.** Architectures count different units (deployments, CRs, commits), so log
CTS-SW differs between them by construction; the model has period effects per architecture
(which also hold each architecture's intercept) and, per driver, one slope for all the teams it
applies to. :attr:`DriversResult.by_architecture` gives the slopes per architecture.

**Within teams.** The sensitivity is defined on within-team variation: the two-way fixed-effects
coefficient (team, and architecture-by-period effects; pyfixest, standard errors clustered by
team) times the driver's within-team standard deviation. The linear mixed model beside it
(statsmodels ``MixedLM``, team random intercepts) adds the drivers' team means (Mundlak, 1978),
so its driver coefficients are within-team too, and it splits the remaining variance between and
within teams (the ICC).

These are associations: drivers are observed, not assigned, and they move together (a bad week
brings rollbacks, interventions and pages at once), so a coefficient is what CTS-SW is
associated with when the driver is higher within a team, other drivers held fixed, not what
changing it would cause.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pandas as pd
import pyfixest as pf
import statsmodels.formula.api as smf
from statsmodels.tools.sm_exceptions import ConvergenceWarning as SMConvergenceWarning
from tqdm import tqdm

from cts.analyses.cost import cost_to_serve
from cts.core.exceptions import ConvergenceWarning
from cts.core.results import LEVEL, Result, critical_value, estimate_table
from cts.panel import PanelError, PanelWarning, varying_columns

if TYPE_CHECKING:
    from pyfixest.estimation import Feols

__all__ = ["DRIVERS", "NOTES", "OWN_UNITS", "DriversResult", "fit_drivers", "fit_drivers_ranked"]

#: The default drivers and what a one-unit change means.
DRIVERS: dict[str, str] = {
    "cr_velocity": "CRs merged per builder-week",
    "interventions_per_deploy": "manual interventions per deployment",
    "rollback_rate": "rollbacks per deployment",
    "pages_per_oncall": "pages per on-call builder",
}
#: What a reader must know beside a driver's row (shown in the sensitivity table and summary).
NOTES: dict[str, str] = {
    "pages_per_oncall": (
        "reactive work: a page costs on-call time but often ends in a fix merged and deployed, "
        "which counts as a unit shipped; the association mixes the two and does not say what "
        "fewer incidents would save or cost"
    ),
}
#: Units a driver is arithmetic with: where a team's unit counts what the driver counts per
#: builder-week, CTS-SW is one over the driver, and the driver is left out for that team.
OWN_UNITS: dict[str, tuple[str, ...]] = {
    "cr_velocity": ("crs_shipped", "crs_merged", "commits_shipped"),
    "deploy_velocity": ("deployments",),
}


@dataclass(repr=False)
class DriversResult(Result):
    """Drivers of CTS-SW, from :func:`fit_drivers` (module docstring for the specification).

    Attributes
    ----------
    table
        Coefficients of the within-team fixed-effects fit (``estimate, se, ci_low, ci_high,
        p_value``; standard errors clustered by team), one row per driver.
    mixed_table
        Fixed effects of the linear mixed model: the drivers, then their team means (Mundlak
        terms) and the architecture-by-period effects or trend.
    by_architecture
        The within-team fit with one slope per driver and architecture, indexed by
        ``(architecture, driver)``, with each architecture's ``one_sd`` and ``change_pct``.
    applies_to
        For each driver, the architectures whose CTS-SW it enters (:data:`OWN_UNITS`).
    variance_components
        Variances of the team random effects and of the residual in the mixed model.
    icc
        Intraclass correlation of the mixed model: the share of the variance left after the
        drivers, their team means and the architecture-by-period effects that lies between teams.
    within_sd
        Within-team standard deviation of each driver over the teams it applies to.
    outcome, drivers, n_obs, n_teams, n_undefined, level
        What was fitted on how much; ``n_undefined`` team-periods without units were left out.
    model
        The statsmodels ``MixedLMResults``.
    """

    _metadata_fields = ("outcome", "n_obs", "n_teams", "n_undefined")

    table: pd.DataFrame
    mixed_table: pd.DataFrame
    by_architecture: pd.DataFrame
    applies_to: dict[str, tuple[str, ...]]
    variance_components: pd.Series
    icc: float
    within_sd: pd.Series
    outcome: str
    drivers: tuple[str, ...]
    n_obs: int
    n_teams: int
    n_undefined: int
    level: float
    model: object
    _data: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)

    def sensitivity(self) -> pd.DataFrame:
        """Percent change in CTS-SW associated with a one-SD within-team change in each driver.

        ``change_pct`` (with ``ci_low``, ``ci_high`` and ``p_value``, clustered by team) is
        ``100 * (exp(beta * sd) - 1)`` for the log outcome, with ``beta`` the within-team
        fixed-effects coefficient and ``sd`` the driver's within-team standard deviation;
        ``mixed_change_pct`` is the same from the mixed model's (Mundlak) coefficient. Ranked by
        the size of ``change_pct``; ``applies_to`` names the architectures the driver enters and
        ``note`` what to know beside the row (:data:`NOTES`).
        """
        rows = {}
        for driver in self.drivers:
            sd = self.within_sd[driver]
            fixed = self.table.loc[driver]
            rows[driver] = {
                "applies_to": ", ".join(self.applies_to[driver]),
                "one_sd": sd,
                "change_pct": self._percent(fixed["estimate"] * sd),
                "ci_low": self._percent(fixed["ci_low"] * sd),
                "ci_high": self._percent(fixed["ci_high"] * sd),
                "p_value": fixed["p_value"],
                "mixed_change_pct": self._percent(self.mixed_table.loc[driver, "estimate"] * sd),
                "note": NOTES.get(driver, ""),
            }
        return _ranked(pd.DataFrame.from_dict(rows, orient="index"))

    def rank_uncertainty(
        self, n_boot: int = 200, seed: int = 0, *, progress: bool = False
    ) -> pd.DataFrame:
        """How sure the ranking is: a bootstrap over teams of the within-team sensitivity.

        Each draw resamples teams with replacement (a team drawn twice counts as two), refits
        the within-team fixed-effects model, recomputes the within-team SDs and ranks the drivers
        by the size of their ``change_pct``.

        Parameters
        ----------
        n_boot
            Bootstrap draws.
        seed
            Seed of the resampling.
        progress
            Show a tqdm bar over the draws.

        Returns
        -------
        pandas.DataFrame
            Per driver, in the order of :meth:`sensitivity`: ``share_first`` (share of draws in
            which it ranks first), ``mean_rank``, and the bootstrap ``ci_low``/``ci_high`` of
            its ``change_pct`` at the result's level.
        """
        if n_boot < 2:
            raise ValueError(f"n_boot must be at least 2, not {n_boot}")
        data, drivers = self._data, list(self.drivers)
        rows = data.groupby("team_id", sort=False).indices
        teams = np.array(list(rows))
        rng = np.random.default_rng(seed)
        changes = np.empty((n_boot, len(drivers)))
        for b in tqdm(range(n_boot), disable=not progress, desc="team bootstrap", unit="draw"):
            drawn = rng.choice(len(teams), size=len(teams), replace=True)
            index = np.concatenate([rows[teams[k]] for k in drawn])
            sample = data.iloc[index].assign(
                team_id=np.repeat(np.arange(len(drawn)), [len(rows[teams[k]]) for k in drawn])
            )
            beta = _within_fit(sample, self.outcome, drivers).coef()[drivers].to_numpy()
            sd = _within_sd(sample, self.applies_to)
            changes[b] = [self._percent(x) for x in beta * sd]
        ranks = pd.DataFrame(-np.abs(changes), columns=drivers).rank(axis=1, method="min")
        tail = (1 - self.level) / 2
        table = pd.DataFrame(
            {
                "share_first": (ranks == 1).mean(),
                "mean_rank": ranks.mean(),
                "ci_low": np.quantile(changes, tail, axis=0),
                "ci_high": np.quantile(changes, 1 - tail, axis=0),
            },
            index=pd.Index(drivers, name="driver"),
        )
        return table.loc[self.sensitivity().index]

    def _percent(self, change: float) -> float:
        if self.outcome.startswith("log_"):
            return float(100 * np.expm1(change))
        return float(100 * change / self._data[self.outcome].mean())

    def summary(self) -> str:
        """The ranking in words, with the variance split."""
        lines = [
            f"What {self.outcome} is associated with, within teams: {self.n_obs:,} "
            f"team-periods, {self.n_teams:,} teams. ICC = {self.icc:.2f}: after the drivers, "
            f"their team means and architecture-by-period effects, {self.icc:.0%} of the "
            "remaining variance lies between teams (lasting differences the drivers miss).",
            "A one-SD within-team change in each driver is associated with CTS-SW changing by:",
        ]
        for driver, row in self.sensitivity().iterrows():
            unit = DRIVERS.get(str(driver), "")
            lines.append(
                f"  {int(row['rank'])}. {driver} (+{row['one_sd']:.3g} {unit}; "
                f"{row['applies_to']}): {row['change_pct']:+.1f}% "
                f"[{row['ci_low']:+.1f}%, {row['ci_high']:+.1f}%]; "
                f"mixed model: {row['mixed_change_pct']:+.1f}%"
                + (f" ({row['note']})" if row["note"] else "")
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
    """Fit what CTS-SW is associated with within teams, and a mixed model beside it.

    A driver is left out for the teams whose unit is its own count (:data:`OWN_UNITS`: CR
    velocity for monoliths and trunk teams, whose CTS-SW is about one over it); the module
    docstring gives the specification and why.

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
        Drivers whose coefficient varies by team in the mixed model (random slopes).
    time
        ``"period_effects"`` (one effect per architecture and period, the default) or
        ``"trend"`` (one linear trend per architecture) in the mixed model; the within-team fit
        always has architecture-by-period effects.
    unit, period
        Passed to :func:`cts.cost_to_serve`.
    level
        Confidence level of the intervals.

    Returns
    -------
    DriversResult

    References
    ----------
    Mundlak (1978), Econometrica 46(1), for the team means; Laird & Ware (1982), Biometrics
    38(4), for the mixed model (statsmodels ``MixedLM``, REML).
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
    _check_columns(cost.table, drivers, random_slopes)
    data, applies_to = _model_data(cost.table, outcome, drivers)
    drivers = varying_columns(data, applies_to, "driver")
    applies_to = {d: applies_to[d] for d in drivers}
    random_slopes = tuple(s for s in random_slopes if s in drivers)
    if not drivers:
        raise PanelError(
            "no driver varies in this panel where it applies, so there is nothing to fit"
        )
    if data["team_id"].nunique() < 2:
        raise PanelError(
            f"the drivers model separates teams from what varies within them, so it needs at "
            f"least two teams with defined CTS-SW; this panel has {data['team_id'].nunique()}"
        )
    fe = _within_fit(data, outcome, list(drivers))
    model = _mixed_fit(data, outcome, drivers, random_slopes, time)
    fe_table = _table(fe.coef(), fe.se(), drivers, level)
    mixed_table = _table(model.fe_params, model.bse_fe, model.fe_params.index, level)
    ordered = [*drivers, *(t for t in mixed_table.index if t not in drivers)]
    components = _variance_components(model)
    within_sd = _within_sd(data, applies_to)
    return DriversResult(
        table=fe_table,
        mixed_table=mixed_table.loc[ordered],
        by_architecture=_by_architecture(data, outcome, applies_to, level),
        applies_to=applies_to,
        variance_components=components,
        icc=float(components["team Intercept"] / (components["team Intercept"] + model.scale)),
        within_sd=pd.Series(within_sd, index=list(drivers)),
        outcome=outcome,
        drivers=drivers,
        n_obs=len(data),
        n_teams=int(data["team_id"].nunique()),
        n_undefined=cost.n_undefined,
        level=level,
        model=model,
        _data=data,
    )


def fit_drivers_ranked(
    panel: pd.DataFrame, *, n_boot: int = 200, seed: int = 0, **options: Any
) -> tuple[DriversResult, pd.DataFrame]:
    """:func:`fit_drivers` and its :meth:`DriversResult.rank_uncertainty` in one call, so that
    :func:`cts.cached` can keep both: the team bootstrap is the costly part (on 2,000 teams x
    260 weeks ~21 s of CPU for 200 draws, against ~4.4 s for the fits).

    Parameters
    ----------
    panel
        As in :func:`fit_drivers`.
    n_boot, seed
        As in :meth:`DriversResult.rank_uncertainty`.
    **options
        :func:`fit_drivers`'s keyword arguments.

    Returns
    -------
    result : DriversResult
    ranks : pandas.DataFrame
        ``result.rank_uncertainty(n_boot, seed)``.
    """
    result = fit_drivers(panel, **options)
    return result, result.rank_uncertainty(n_boot=n_boot, seed=seed)


def _variance_components(model: Any) -> pd.Series:
    """Variances of the team random effects and of the residual (``model`` is a statsmodels
    ``MixedLMResults``; statsmodels ships no type information)."""
    # statsmodels names the random intercept "Group" when it is the only random effect.
    cov_re = model.cov_re.rename(index={"Group": "Intercept"}, columns={"Group": "Intercept"})
    return pd.Series(
        {
            **{f"team {name}": cov_re.loc[name, name] for name in cov_re.index},
            "residual": model.scale,
        }
    )


def _check_columns(table: pd.DataFrame, drivers: tuple, random_slopes: tuple) -> None:
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


def _model_data(
    table: pd.DataFrame, outcome: str, drivers: tuple[str, ...]
) -> tuple[pd.DataFrame, dict[str, tuple[str, ...]]]:
    """Defined team-periods with each driver set to zero where it is its team's own unit, and
    the architectures each driver applies to (drivers that apply nowhere are left out)."""
    columns = ["team_id", "period", "architecture", "unit", outcome]
    data = table.loc[table["defined"], columns].copy()
    applies_to: dict[str, tuple[str, ...]] = {}
    for driver in drivers:
        own = table.loc[data.index, "unit"].isin(OWN_UNITS.get(driver, ()))
        data[driver] = table.loc[data.index, driver].where(~own, 0.0)
        applies_to[driver] = tuple(sorted(data.loc[~own, "architecture"].astype(str).unique()))
    data = data.dropna()
    nowhere = [d for d, where in applies_to.items() if not where]
    if nowhere:
        warnings.warn(
            f"driver(s) {', '.join(f'`{d}`' for d in nowhere)} count every team's own unit, so "
            "CTS-SW is one over them by arithmetic; they are left out",
            PanelWarning,
            stacklevel=3,
        )
    applies_to = {d: where for d, where in applies_to.items() if where}
    period = pd.factorize(data["period"], sort=True)[0]
    return data.assign(
        team_id=data["team_id"].astype(str),
        architecture=data["architecture"].astype(str),
        _period=period,
        _cell=data["architecture"].astype(str)
        + ":"
        + pd.Series(period, index=data.index).astype(str),
    ), applies_to


def _within_fit(data: pd.DataFrame, outcome: str, drivers: list[str]) -> Feols:
    """Two-way fixed effects (team, architecture-by-period), standard errors clustered by team.

    Singleton cells (a team with one period, a period with one team of its architecture) carry
    no within variation; pyfixest drops them, and says so, which is no news here.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*singleton fixed effect", category=UserWarning)
        fit = pf.feols(
            f"{outcome} ~ {' + '.join(drivers)} | team_id + _cell",
            data,
            vcov={"CRV1": "team_id"},
        )
    return cast("Feols", fit)  # one formula: one model, not a FixestMulti


def _within_sd(data: pd.DataFrame, applies_to: dict[str, tuple[str, ...]]) -> np.ndarray:
    """Each column's within-team SD over the rows of the architectures it applies to."""
    columns = list(applies_to)
    values = data[columns]
    within = values - values.groupby(data["team_id"]).transform("mean")
    applies = pd.DataFrame({c: data["architecture"].isin(applies_to[c]) for c in columns})
    return within.where(applies).std().to_numpy()


def _mixed_fit(
    data: pd.DataFrame,
    outcome: str,
    drivers: tuple[str, ...],
    random_slopes: tuple[str, ...],
    time: str,
) -> Any:  # statsmodels' MixedLMResults (statsmodels ships no type information)
    """The mixed model with Mundlak team means, reporting non-convergence.

    With period effects, outcome and drivers are taken net of their architecture-by-period
    means first (Frisch-Waugh), which stands in for the architecture-by-period dummies: statsmodels
    fits a hundred dummies thirty times slower.
    """
    columns = [outcome, *drivers]
    if time == "period_effects":
        cells = data.groupby("_cell")[columns].transform("mean")
        data = data.assign(**{c: data[c] - cells[c] for c in columns})
        time_terms = []
    else:
        time_terms = ["C(architecture)", "C(architecture):_period"]
    means = _estimable_means(data, drivers)
    data = pd.concat([data, means], axis=1)
    formula = f"{outcome} ~ {' + '.join([*drivers, *means.columns, *time_terms])}"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SMConvergenceWarning)
        try:
            model = smf.mixedlm(
                formula,
                data,
                groups=data["team_id"],
                re_formula="~" + " + ".join(["1", *random_slopes]),
            ).fit(reml=True)
        except np.linalg.LinAlgError as error:
            teams = data.groupby("architecture")["team_id"].nunique()
            raise PanelError(
                "the drivers' mixed model is singular on this panel: with "
                f"{', '.join(f'{n} {a} team(s)' for a, n in teams.items())}, too little varies "
                "within teams beyond each architecture's period effects; it needs several teams "
                "per architecture"
            ) from error
    trouble = [str(w.message) for w in caught if issubclass(w.category, SMConvergenceWarning)]
    if trouble or not model.converged:
        warnings.warn(
            "the mixed model did not converge cleanly (statsmodels: "
            f"{'; '.join(dict.fromkeys(trouble)) or 'not converged'}); trust it only where it "
            "agrees with the within-team fit in `table`, or drop random slopes",
            ConvergenceWarning,
            stacklevel=3,
        )
    return model


def _estimable_means(data: pd.DataFrame, drivers: tuple[str, ...]) -> pd.DataFrame:
    """The drivers' team means (Mundlak terms), keeping only those that the teams can tell
    apart from the intercept and each other (with a handful of teams, not all of them can)."""
    means = data.groupby("team_id")[list(drivers)].mean()
    kept: list[str] = []
    basis = np.ones((len(means), 1))
    for driver in drivers:
        candidate = np.column_stack([basis, means[driver].to_numpy()])
        if np.linalg.matrix_rank(candidate) > basis.shape[1]:
            basis, kept = candidate, [*kept, driver]
    rows = means.loc[data["team_id"], kept].set_axis(data.index)
    return rows.add_prefix("team_mean_")


def _by_architecture(
    data: pd.DataFrame, outcome: str, applies_to: dict[str, tuple[str, ...]], level: float
) -> pd.DataFrame:
    """One within-team slope per driver and architecture (one fit, shared fixed effects)."""
    columns, keys = {}, []
    applies: dict[str, tuple[str, ...]] = {}
    for driver, architectures in applies_to.items():
        for architecture in architectures:
            name = f"_{driver}__{architecture}"
            columns[name] = data[driver].where(data["architecture"] == architecture, 0.0)
            keys.append((architecture, driver, name))
            applies[name] = (architecture,)
    frame = data.assign(**columns)
    names = [name for _, _, name in keys]
    fit = _within_fit(frame, outcome, names)
    # A slope without within variation in its architecture is dropped by pyfixest: NaN here.
    table = _table(fit.coef().reindex(names), fit.se().reindex(names), names, level)
    sd = pd.Series(_within_sd(frame, applies), index=names)
    table.insert(0, "one_sd", sd)
    z = critical_value(level)
    log = outcome.startswith("log_")
    scale = 1.0 if log else float(data[outcome].mean())
    for column, values in (
        ("change_pct", table["estimate"]),
        ("change_ci_low", table["estimate"] - z * table["se"]),
        ("change_ci_high", table["estimate"] + z * table["se"]),
    ):
        change = values * sd
        table[column] = 100 * (np.expm1(change) if log else change / scale)
    table.index = pd.MultiIndex.from_tuples(
        [(a, d) for a, d, _ in keys], names=["architecture", "driver"]
    )
    return table.sort_index(level="architecture", sort_remaining=False)


def _ranked(table: pd.DataFrame) -> pd.DataFrame:
    table = table.iloc[np.argsort(-table["change_pct"].abs().to_numpy(), kind="stable")]
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    table.index.name = "driver"
    return table


def _table(estimates: pd.Series, se: pd.Series, terms: Sequence[str], level: float) -> pd.DataFrame:
    table = estimate_table(estimates[list(terms)], se[list(terms)], level)
    table.index.name = "term"
    return table
