"""Dynamic panel estimators: ``y_it = a_i + l_t + sum_k b_k y_i,t-k + g' x_it + e_it``.

Methods
-------
``fe``
    The plain two-way fixed-effects regression with the lagged outcome (pyfixest), clustered by
    entity. Its persistence is biased downward by about ``(1 + b) / (T - 1)`` (Nickell 1981) and
    the effects of ``x`` inherit the bias.
``bias_corrected`` (default)
    Split-panel jackknife for the persistence (Dhaene & Jochmans 2015, each entity's own series
    split in half, so unbalanced panels are corrected too), then ``g`` re-estimated by two-way FE
    on ``y - b y_lag`` given the corrected ``b``. With strictly exogenous ``x`` the bias of ``g``
    comes only through ``b``, and unlike a jackknife of ``g`` itself this works when a half panel
    has no treatment variation (staggered adoption). Inference stacks the two steps' cluster
    influence functions, so the SE of ``g`` carries the uncertainty of ``b``; the long-run effect
    ``g / (1 - sum b)`` uses the delta method. With ``predetermined=`` regressors (usage that
    responds to past shocks) their coefficients also get the analytical correction of the
    O(1/T) bias of weakly exogenous regressors (:mod:`cts.estimators.weak_exogeneity`).
``gmm``
    Arellano–Bond difference GMM (:mod:`cts.estimators.gmm`), two-step with Windmeijer
    SEs, ``x`` strictly exogenous, lagged-outcome instruments collapsed and limited to lags
    2-5 (Roodman 2009) so their number stays far below the number of entities. Hansen and
    AR(2) tests are in ``notes``. Consistent for fixed T, but noisier than ``bias_corrected``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, get_args

import numpy as np
import pandas as pd
import pyfixest as pf

from cts.core.results import LEVEL, Result, TestStatistic, estimate_table
from cts.estimators.demean import DEMEAN_TOLERANCE
from cts.estimators.gmm import difference_gmm
from cts.estimators.heterogeneous import (
    TeamPersistenceFit,
    persistence_homogeneity_test,
    team_persistence_fit,
)
from cts.estimators.inference import (
    INFERENCE,
    ResamplingTest,
    inverted_interval,
    randomization_test,
    wild_cluster_bootstrap,
)
from cts.estimators.jackknife import SplitPanel, cluster_vcov, split_panel_fit
from cts.estimators.serial import residual_serial_correlation
from cts.estimators.weak_exogeneity import TRIM, predetermined_bias
from cts.panel import PanelError, lag_rows, lag_term, lag_terms, require_columns, values_at

__all__ = ["METHODS", "MIN_TEAMS_PER_PERIOD", "DynamicPanelResult", "dynamic_panel"]

Method = Literal["fe", "bias_corrected", "gmm"]
Inference = Literal["cluster", "wild_bootstrap", "randomization"]  # cts.estimators.inference
METHODS: tuple[Method, ...] = get_args(Method)
#: With period effects by group, a group-period with fewer entities learns its effect from very
#: few of them (one entity's shock moves it): below this median the fit carries a note.
MIN_TEAMS_PER_PERIOD = 10


@dataclass(repr=False)
class DynamicPanelResult(Result):
    """Estimates of a dynamic panel model.

    Attributes
    ----------
    table
        Indexed by term (``L1.y``, ..., each ``x``, then ``long_run.x`` for each ``x``) with
        columns ``estimate, se, ci_low, ci_high, p_value`` (``level`` intervals, normal).
    vcov
        Covariance of the estimates, same order as ``table``.
    method, y, x, lags, treatment_lags, n_obs, n_entities, n_periods
        What was estimated, on how much data (``treatment_lags`` lags of each ``x``, named
        ``L{k}.x``, follow the ``x`` rows; ``long_run.x`` sums them).
    notes, diagnostics
        Specification tests in words and numbers (for ``gmm``: instruments, Hansen, AR tests).
    serial_correlation
        Test of no AR(2) in the differenced residuals (:mod:`cts.estimators.serial` for ``fe``
        and ``bias_corrected``, the Arellano–Bond AR(2) test for ``gmm``); a rejection says
        the shocks persist or a lag is missing: raise ``lags`` (and ``treatment_lags``).
    level
        Confidence level of the intervals.
    team_persistence, homogeneity
        Whether each team had its own lag coefficients (``team_persistence=True``; the lag rows
        are then means over teams), and the test that the pooled persistence equals that mean
        (:func:`cts.estimators.heterogeneous.persistence_homogeneity_test`; ``bias_corrected``).
    inference, resampling
        How the first regressor's p-values and intervals were obtained, and the resampling test
        behind them (:mod:`cts.estimators.inference`) when not ``"cluster"``.
    time_effects_by
        The column whose groups had their own period effects (``None``: one period effect for
        all entities).
    """

    _metadata_fields = (
        "y",
        "method",
        "inference",
        "lags",
        "treatment_lags",
        "n_obs",
        "n_entities",
        "n_periods",
    )

    table: pd.DataFrame
    vcov: pd.DataFrame
    method: str
    y: str
    x: tuple[str, ...]
    lags: int
    n_obs: int
    n_entities: int
    n_periods: int
    notes: list[str] = field(default_factory=list)
    diagnostics: dict[str, float] = field(default_factory=dict)
    inference: str = "cluster"
    resampling: ResamplingTest | None = None
    treatment_lags: int = 0
    serial_correlation: TestStatistic | None = None
    level: float = LEVEL
    team_persistence: bool = False
    homogeneity: TestStatistic | None = None
    time_effects_by: str | None = None

    def sum_of(self, terms: list[str], name: str) -> pd.Series:
        """The sum of ``terms`` as one table row (estimate, SE from ``vcov``, interval, p)."""
        weights = np.ones(len(terms))
        covariance = self.vcov.loc[terms, terms].to_numpy()
        estimate = pd.Series([self.table.loc[terms, "estimate"].sum()], index=[name])
        se = np.sqrt([weights @ covariance @ weights])
        return estimate_table(estimate, se, self.level).iloc[0]

    @property
    def persistence(self) -> float:
        """Sum of the lag coefficients (with ``team_persistence``, the mean over teams of each
        team's own sum)."""
        return float(self.table.loc[self.lag_terms, "estimate"].sum())

    @property
    def lag_terms(self) -> list[str]:
        return lag_terms(self.y, self.lags)

    def summary(self) -> str:
        """A plain-text table for people."""
        header = (
            f"Dynamic panel ({self.method}"
            + (", team-specific persistence" if self.team_persistence else "")
            + f") of {self.y}: {self.n_obs:,} obs, "
            f"{self.n_entities:,} entities, {self.n_periods:,} periods"
            + (
                ""
                if self.time_effects_by is None
                else f", period effects by {self.time_effects_by}"
            )
            + "; SEs clustered"
            + ("" if self.resampling is None else f"; {self.x[0]}: {self.inference} p-values")
            + f"; {self.level:.0%} intervals"
        )
        tests = [t.summary() for t in (self.serial_correlation, self.homogeneity) if t is not None]
        return "\n".join([header, self.table.round(4).to_string(), *self.notes, *tests])


def dynamic_panel(
    data: pd.DataFrame,
    y: str,
    x: str | list[str] | tuple[str, ...],
    entity: str,
    time: str,
    *,
    lags: int = 1,
    treatment_lags: int = 0,
    method: Method = "bias_corrected",
    cluster: str | None = None,
    time_effects: bool = True,
    sample: pd.Series | np.ndarray | None = None,
    inference: Inference = "cluster",
    reps: int = 999,
    seed: int = 0,
    predetermined: str | list[str] | tuple[str, ...] = (),
    level: float = LEVEL,
    serial_test: bool = True,
    team_persistence: bool = False,
    time_effects_by: str | None = None,
    bootstrap_design: str = "fixed",
    bootstrap_interval: str = "inverted",
) -> DynamicPanelResult:
    """Estimate a dynamic panel model with entity (and time) fixed effects.

    Parameters
    ----------
    data
        Long panel with unique ``(entity, time)`` pairs; ``time`` is a date (weekly) or integer.
    y
        Outcome. Its lags are taken by calendar period within entity: a gap gives a missing lag
        and drops that row, never a neighbour's value.
    x
        Regressors (treatment and controls).
    entity, time
        Column names.
    lags
        Number of lags of ``y``; ``persistence`` is the sum of their coefficients.
    treatment_lags
        Number of lags of each ``x`` (distributed lags, named ``L{k}.x`` by
        :func:`cts.panel.lag_term`, taken by calendar period like the outcome's). The ``x`` row
        is the same-period (short-run) effect; ``long_run.x`` is the sum of the coefficients of
        ``x`` and its lags over ``1 - persistence``, with delta-method SEs. Resampling
        inference needs ``treatment_lags=0``.
    method
        ``"bias_corrected"`` (default) or ``"fe"``; see the module docstring.
    cluster
        Column to cluster by (default: ``entity``).
    time_effects
        Include period fixed effects.
    sample
        Boolean mask of the rows to estimate on, applied after lags are taken (so the first
        period of a window keeps the lag observed just before it).
    inference
        ``"cluster"`` (default): cluster-robust SEs with normal intervals. With few clusters
        (say under 50) use ``"wild_bootstrap"`` or ``"randomization"`` (see
        :mod:`cts.estimators.inference`): the first regressor's short- and long-run p-values and
        intervals then come from the resampling distribution of its t statistic; other rows
        stay cluster-robust.
    reps, seed
        Draws and random seed of the resampling test.
    predetermined
        Regressors among ``x`` that may respond to past shocks (usage that teams raise after a
        bad week). ``bias_corrected``: their coefficients (and their distributed lags') get the
        analytical correction of :mod:`cts.estimators.weak_exogeneity`, the choice of
        ``method="auto"`` when the lead placebo rejects. ``gmm``: they are instrumented by their
        lagged levels (:func:`cts.estimators.gmm.difference_gmm`); their distributed lags, if
        any, stay instrumented by themselves. Clustered inference only.
    level
        Confidence level of every interval (normal, or the ``level`` quantile of the
        resampling ``|t*|`` under ``inference``); 0.95 by default.
    serial_test
        Run the residual AR(2) test (:mod:`cts.estimators.serial`) for ``fe`` and
        ``bias_corrected`` (default). A fit that is itself a test (the lead placebo) skips it.
    team_persistence
        Each team gets its own coefficients on the outcome's lags (week effects and the
        effects of ``x`` stay common); the lag rows and ``persistence`` are then the means over
        teams, equal weights, and ``long_run`` is the mean over teams of each team's own long
        run, ``mean_i sum g / (1 - B_i)`` (:mod:`cts.estimators.heterogeneous`). With
        ``bias_corrected`` every coefficient is jackknifed and ``homogeneity`` tests the pooled
        persistence against the mean (``None`` with fewer than 30 weeks a team, where it
        cannot tell). For
        ``"fe"`` and ``"bias_corrected"`` with clustered inference, without ``predetermined``.
    time_effects_by
        A column constant within each entity (e.g. the organization a team belongs to): each of
        its groups gets its own period effects (group x period fixed effects), so shocks that
        hit one group's entities together (a hiring wave, a freeze) are not read as effects of
        ``x`` when ``x`` rolls out group by group. Still two sets of fixed effects (entity, and
        group x period), demeaned exactly as entity and period are. Refused when a group has a
        single entity (its period effects would absorb it); with a median of fewer than
        :data:`MIN_TEAMS_PER_PERIOD` entities per group-period the result notes it. For ``"fe"``
        and ``"bias_corrected"``. ``None`` (default): one period effect for all.

    bootstrap_design
        With ``inference="wild_bootstrap"``: ``"fixed"`` (default) keeps the observed lagged
        outcome in every draw; ``"recursive"`` regenerates it from each draw's outcome
        (Goncalves & Kaffo 2015; :mod:`cts.estimators.inference`), slower.
    bootstrap_interval
        With ``inference="wild_bootstrap"``, the effect's interval: ``"inverted"`` (default)
        is the set of values the restricted test of ``effect = value`` does not reject
        (:func:`cts.estimators.inference.inverted_interval`, common draws across values);
        ``"bootstrap_t"`` is ``estimate +- c* se`` with ``c*`` the ``level`` quantile of
        ``|t*|`` under ``effect = 0``. Randomization intervals are always of the second kind.

    Returns
    -------
    DynamicPanelResult

    References
    ----------
    Nickell (1981), Econometrica 49(6). Dhaene & Jochmans (2015), Review of Economic Studies 82(3).
    """
    x = (x,) if isinstance(x, str) else tuple(x)
    predetermined = (predetermined,) if isinstance(predetermined, str) else tuple(predetermined)
    _check_options(
        method, inference, lags, treatment_lags, x, predetermined, team_persistence,
        time_effects, time_effects_by,
    )  # fmt: skip
    require_columns(data, (y, *x, entity, time))
    data, regressors, frame, lag_names, notes = _prepare(
        data, y, x, entity, time, lags, treatment_lags, cluster, sample, time_effects_by
    )
    fitted = _fit_by_method(
        frame, data, y, lag_names, regressors, entity, time, lags, method=method,
        cluster=cluster, time_effects=time_effects, sample=sample, predetermined=predetermined,
        treatment_lags=treatment_lags, serial_test=serial_test,
        team_persistence=team_persistence, notes=notes,
    )  # fmt: skip
    frame = fitted.frame
    table, covariance = _estimates(fitted, lag_names, x, treatment_lags, level)
    resampling = None
    if inference != "cluster":
        resampling = _resample(
            table, frame, lag_names, x, y=y, time_effects=time_effects,
            jackknife=method == "bias_corrected", reps=reps, seed=seed, level=level,
            inference=inference, design=bootstrap_design, interval=bootstrap_interval,
        )  # fmt: skip
    return DynamicPanelResult(
        table=table,
        vcov=covariance,
        method=method,
        y=y,
        x=x,
        lags=lags,
        n_obs=len(frame),
        n_entities=frame["_entity"].nunique(),
        n_periods=frame["_time"].nunique(),
        notes=fitted.notes,
        diagnostics=fitted.diagnostics,
        inference=inference,
        resampling=resampling,
        treatment_lags=treatment_lags,
        serial_correlation=fitted.serial,
        level=level,
        team_persistence=team_persistence,
        homogeneity=fitted.homogeneity,
        time_effects_by=time_effects_by,
    )


def _prepare(
    data: pd.DataFrame,
    y: str,
    x: tuple[str, ...],
    entity: str,
    time: str,
    lags: int,
    treatment_lags: int,
    cluster: str | None,
    sample: pd.Series | np.ndarray | None,
    time_effects_by: str | None,
) -> tuple[pd.DataFrame, tuple[str, ...], pd.DataFrame, list[str], list[str]]:
    """The data with the regressors' lags, the regressors, the estimation frame, the names of
    the outcome's lags in it, and the notes on the group-period effects."""
    # Row positions of each lag once, for the outcome and every regressor.
    ks = range(1, max(lags, treatment_lags) + 1)
    earlier = dict(zip(ks, lag_rows(data, list(ks), entity=entity, time=time), strict=True))
    data, regressors = _with_treatment_lags(data, x, treatment_lags, earlier)
    frame, lag_names = _estimation_frame(
        data, y, regressors, entity, time, lags, cluster or entity, sample, earlier, time_effects_by
    )
    notes: list[str] = []
    if time_effects_by is not None:
        frame, notes = _with_group_periods(frame, data, entity, time_effects_by)
    return data, regressors, frame, lag_names, notes


def _estimates(
    fitted: _Fitted,
    lag_names: list[str],
    x: tuple[str, ...],
    treatment_lags: int,
    level: float,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The fit's table and covariance with the long-run rows; records the residual AR(2) test
    in ``fitted.diagnostics`` (in place)."""
    serial = fitted.serial
    if serial is not None:
        fitted.diagnostics.setdefault("ar2", serial.statistic)
        fitted.diagnostics.setdefault("ar2_p", serial.p_value)
    table, covariance = _with_long_run(
        fitted.estimates, fitted.vcov, lag_names, x, treatment_lags, level
    )
    if fitted.team_fit is not None:
        table, covariance = _with_team_long_run(fitted.team_fit, table, x, treatment_lags, level)
    return table, covariance


def _check_options(
    method: Method,
    inference: Inference,
    lags: int,
    treatment_lags: int,
    x: tuple[str, ...],
    predetermined: tuple[str, ...],
    team_persistence: bool,
    time_effects: bool,
    time_effects_by: str | None,
) -> None:
    """Refuse, in words, a combination of :func:`dynamic_panel`'s options it does not offer."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, not {method!r}")
    if inference not in INFERENCE:
        raise ValueError(f"inference must be one of {', '.join(INFERENCE)}, not {inference!r}")
    if inference != "cluster" and method == "gmm":
        raise ValueError(f"inference={inference!r} is available for 'fe' and 'bias_corrected'")
    if treatment_lags < 0:
        raise ValueError("treatment_lags must be >= 0")
    if inference != "cluster" and treatment_lags:
        raise ValueError(f"inference={inference!r} needs treatment_lags=0")
    if predetermined and method == "fe":
        raise ValueError("predetermined= is an option of 'bias_corrected' and 'gmm'")
    if predetermined and inference != "cluster":
        raise ValueError(f"predetermined= has no inference={inference!r}; use 'cluster'")
    if team_persistence and (method == "gmm" or predetermined or inference != "cluster"):
        raise ValueError(
            "team_persistence=True is an option of method='fe' and 'bias_corrected' with "
            "inference='cluster' and no predetermined regressors"
        )
    if not set(predetermined) <= set(x):
        raise ValueError(f"predetermined regressors {sorted(set(predetermined) - set(x))} not in x")
    if lags < 1:
        raise ValueError("lags must be >= 1 for a dynamic model")
    if time_effects_by is not None and (method == "gmm" or not time_effects):
        raise ValueError(
            "time_effects_by= is an option of method='fe' and 'bias_corrected' with "
            "time_effects=True"
        )


@dataclass
class _Fitted:
    """What one method's fit hands back to :func:`dynamic_panel`."""

    frame: pd.DataFrame  # the rows fitted on (team_persistence keeps only some teams)
    estimates: pd.Series
    vcov: pd.DataFrame
    notes: list[str]
    diagnostics: dict[str, float]
    serial: TestStatistic | None
    homogeneity: TestStatistic | None
    team_fit: TeamPersistenceFit | None


def _fit_by_method(
    frame: pd.DataFrame,
    data: pd.DataFrame,
    y: str,
    lag_names: list[str],
    regressors: tuple[str, ...],
    entity: str,
    time: str,
    lags: int,
    *,
    method: Method,
    cluster: str | None,
    time_effects: bool,
    sample: pd.Series | np.ndarray | None,
    predetermined: tuple[str, ...],
    treatment_lags: int,
    serial_test: bool,
    team_persistence: bool,
    notes: list[str],
) -> _Fitted:
    """The coefficients of ``method`` (or of the team-persistence fit), with its notes and
    diagnostics and the residual AR(2) test where one was run."""
    diagnostics: dict[str, float] = {}
    serial = homogeneity = fit = None
    if team_persistence:
        fit = team_persistence_fit(
            frame,
            y,
            lag_names,
            regressors,
            time_effects=time_effects,
            jackknife=method == "bias_corrected",
        )
        estimates, vcov, notes = fit.estimates, fit.vcov, list(fit.notes)
        if method == "bias_corrected":
            homogeneity = persistence_homogeneity_test(
                frame, y, lag_names, regressors, time_effects=time_effects, team_fit=fit
            )
        frame = fit.frame  # the teams kept
    elif method == "fe":
        estimates, vcov = _fe_pyfixest(frame, y, lag_names, regressors, time_effects)
        if serial_test:
            serial = residual_serial_correlation(
                frame, y, lag_names, regressors, time_effects=time_effects
            )
    elif method == "bias_corrected":
        estimates, vcov, influence = _bias_corrected(
            frame, y, lag_names, regressors, time_effects, predetermined, treatment_lags
        )
        if predetermined:
            notes.append(
                f"{', '.join(predetermined)} predetermined: analytical correction of the "
                f"O(1/T) bias of their coefficients (at most {TRIM} lags of E[x_t e_t-j], "
                "Fernandez-Val & Weidner 2018)"
            )
        if serial_test:
            serial = residual_serial_correlation(
                frame,
                y,
                lag_names,
                regressors,
                time_effects=time_effects,
                coef=estimates.to_numpy(),
                influence=influence,
            )
    else:
        if cluster not in (None, entity):
            raise ValueError("method='gmm' is robust by entity; cluster must be the entity")
        estimates, vcov, notes, diagnostics, serial = _gmm(
            data, y, regressors, entity, time, lags, time_effects, sample, predetermined
        )
    return _Fitted(frame, estimates, vcov, notes, diagnostics, serial, homogeneity, fit)


def _resample(
    table: pd.DataFrame,
    frame: pd.DataFrame,
    lag_names: list[str],
    x: tuple[str, ...],
    *,
    inference: str,
    design: str,
    interval: str,
    **options: Any,
) -> ResamplingTest:
    """Run the resampling test and put its p-values and intervals in ``table`` (in place)."""
    if interval not in ("inverted", "bootstrap_t"):
        raise ValueError(
            f"bootstrap_interval must be 'inverted' or 'bootstrap_t', not {interval!r}"
        )
    if inference == "wild_bootstrap":
        resampling = wild_cluster_bootstrap(frame, lag_names, x, design=design, **options)
    else:
        resampling = randomization_test(frame, lag_names, x, **options)
    inverted = None
    if inference == "wild_bootstrap" and interval == "inverted":
        inverted = inverted_interval(frame, lag_names, x, design=design, **options)
    for term, row in (("short_run", x[0]), ("long_run", f"long_run.{x[0]}")):
        spread = resampling.critical_value[term] * table.loc[row, "se"]
        low, high = table.loc[row, "estimate"] - spread, table.loc[row, "estimate"] + spread
        if inverted is not None:
            low, high = inverted.loc[term, ["ci_low", "ci_high"]]
        table.loc[row, ["ci_low", "ci_high", "p_value"]] = [low, high, resampling.p_value[term]]
    return resampling


def _with_team_long_run(
    fit: TeamPersistenceFit,
    table: pd.DataFrame,
    x: tuple[str, ...],
    treatment_lags: int,
    level: float,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Replace ``long_run.x`` by the mean over teams of each team's long run, with covariances
    from the stacked cluster influence (:meth:`TeamPersistenceFit.mean_long_run`)."""
    names = [f"long_run.{name}" for name in x]
    values, influence = zip(
        *(fit.mean_long_run([name, *lag_terms(name, treatment_lags)]) for name in x), strict=True
    )
    stacked = np.column_stack([fit.influence, *influence])
    index = [*fit.estimates.index, *names]
    covariance = pd.DataFrame(cluster_vcov(stacked), index=index, columns=index)
    long_run = estimate_table(
        pd.Series(values, index=names), np.sqrt(np.diag(covariance.loc[names, names])), level
    )
    table = table.copy()
    table.loc[names] = long_run
    return table, covariance


# --- data ----------------------------------------------------------------------------------------


def _with_treatment_lags(
    data: pd.DataFrame,
    x: tuple[str, ...],
    treatment_lags: int,
    earlier: dict[int, np.ndarray],
) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """``data`` with ``L1.x .. Lq.x`` added for each ``x`` (from the row positions ``earlier``
    of each lag), and the regressors in table order."""
    if not treatment_lags:
        return data, x
    names = {lag_term(c, k): (c, k) for c in x for k in range(1, treatment_lags + 1)}
    clash = sorted(set(names) & set(data.columns))
    if clash:
        raise ValueError(f"columns {clash} would be overwritten by treatment lags; rename them")
    added = {
        name: values_at(data[column].to_numpy(float), earlier[k])
        for name, (column, k) in names.items()
    }
    return data.assign(**added), (*x, *names)


def _estimation_frame(
    data: pd.DataFrame,
    y: str,
    x: tuple[str, ...],
    entity: str,
    time: str,
    lags: int,
    cluster: str,
    sample: pd.Series | np.ndarray | None,
    earlier: dict[int, np.ndarray],
    group: str | None = None,
) -> tuple[pd.DataFrame, list[str]]:
    require_columns(data, (y, *x, entity, time, cluster, *([group] if group else [])))
    lag_names = lag_terms(y, lags)
    outcome = data[y].to_numpy(float)
    # Integer keys: every later step groups by them, and factorizing (Arrow) strings once
    # instead of in each step is a large share of a fit's time on big panels.
    entities = pd.factorize(data[entity])[0]
    frame = pd.DataFrame(
        {
            y: outcome,
            **{name: values_at(outcome, earlier[k]) for k, name in enumerate(lag_names, start=1)},
            **{column: data[column].to_numpy(float) for column in x},
            "_entity": entities,
            "_time": data[time].to_numpy(),
            "_cluster": entities if cluster == entity else pd.factorize(data[cluster])[0],
            **({"_group": pd.factorize(data[group])[0]} if group else {}),
        }
    )
    if sample is not None:
        frame = frame.loc[np.asarray(sample, dtype=bool)]
    frame = frame.dropna(subset=[y, *lag_names, *x]).reset_index(drop=True)
    if frame.empty:
        raise PanelError(f"no rows with `{y}`, its {lags} lag(s) and every regressor observed")
    return frame, lag_names


def _with_group_periods(
    frame: pd.DataFrame, data: pd.DataFrame, entity: str, group: str
) -> tuple[pd.DataFrame, list[str]]:
    """``frame`` with ``_period``, the group x period code of its period effects, and notes.

    Raises :class:`PanelError` when ``group`` is missing, varies within an entity, or leaves a
    group with a single entity (its period effects would absorb that entity's every period).
    """
    if data[group].isna().any():
        raise PanelError(f"`{group}` has missing values: every entity needs its group")
    if (data[group].groupby(data[entity], sort=False).nunique() > 1).any():
        raise PanelError(
            f"`{group}` varies within an entity; period effects by `{group}` need a grouping "
            "that is constant within each entity"
        )
    periods = pd.factorize(frame["_time"])[0]
    frame = frame.assign(_period=frame["_group"].to_numpy() * (periods.max() + 1) + periods)
    entities = frame.groupby("_group")["_entity"].nunique()
    lonely = entities[entities < 2]
    if len(lonely):
        labels = pd.unique(data[group])[lonely.index[:5]]
        raise PanelError(
            f"period effects by `{group}` need at least 2 entities in each group; "
            f"{len(lonely)} group(s) have one ({', '.join(repr(str(n)) for n in labels)}): "
            f"their period effects would absorb those entities entirely. Merge them into a "
            f"larger `{group}`, or pass time_effects_by=None for one period effect for all."
        )
    median = float(frame.groupby("_period")["_entity"].transform("size").median())
    if median >= MIN_TEAMS_PER_PERIOD:
        return frame, []
    return frame, [
        f"period effects by `{group}` rest on few entities: the median {group}-period has "
        f"{median:.0f} (under {MIN_TEAMS_PER_PERIOD}), so each one's shocks move its period "
        "effects and the intervals may be too narrow"
    ]


# --- fe ------------------------------------------------------------------------------------------


def _fe_pyfixest(
    frame: pd.DataFrame, y: str, lag_names: list[str], x: tuple[str, ...], time_effects: bool
) -> tuple[pd.Series, pd.DataFrame]:
    # pyfixest wants formula-safe names; map them and back.
    safe = {name: f"v{i}" for i, name in enumerate([y, *lag_names, *x])}
    data = frame.rename(columns=safe)
    periods = "_period" if "_period" in frame else "_time"
    fixed = f"_entity + {periods}" if time_effects else "_entity"
    rhs = " + ".join(safe[c] for c in [*lag_names, *x])
    fit = pf.feols(
        f"{safe[y]} ~ {rhs} | {fixed}",
        data,
        vcov={"CRV1": "_cluster"},
        demeaner=pf.MapDemeaner(fixef_tol=DEMEAN_TOLERANCE),
        fixef_rm="none",
        # One small-sample convention for every method: G/(G-1) only (as linearmodels).
        ssc=pf.ssc(k_adj=False, G_adj=True),
    )
    back = {v: k for k, v in safe.items()}
    estimates = fit.coef().rename(index=back)
    # pyfixest 0.60 has no public getter of the covariance matrix (`vcov()` sets the type)
    vcov = pd.DataFrame(fit._vcov, index=estimates.index, columns=estimates.index)
    return estimates, vcov


# --- bias_corrected ------------------------------------------------------------------------------


def _bias_corrected(
    frame: pd.DataFrame,
    y: str,
    lag_names: list[str],
    x: tuple[str, ...],
    time_effects: bool,
    predetermined: tuple[str, ...] = (),
    treatment_lags: int = 0,
) -> tuple[pd.Series, pd.DataFrame, np.ndarray]:
    split = SplitPanel(frame, time_effects)
    parts = split.within(frame[[y, *lag_names, *x]].to_numpy(float))
    coef, influence = split_panel_fit(
        split, [p[:, 1:] for p in parts], [p[:, :1] for p in parts], len(lag_names)
    )
    names = [*lag_names, *x]
    if predetermined:
        # The persistence keeps its jackknife (which corrects the joint regression whatever the
        # bias's source); the effects given it get the correction for predetermined usage
        # (cts.estimators.weak_exogeneity). Its lags are predetermined too.
        within = parts[0]
        given_b = within[:, 0] - within[:, 1 : 1 + len(lag_names)] @ coef[: len(lag_names), 0]
        x_within = within[:, 1 + len(lag_names) :]
        residuals = given_b - x_within @ coef[len(lag_names) :, 0]
        responding = {
            *predetermined,
            *(lag_term(c, k) for c in predetermined for k in range(1, treatment_lags + 1)),
        }
        mask = np.array([c in responding for c in x])
        bias, bias_influence = predetermined_bias(frame, x_within, residuals, mask)
        coef[len(lag_names) :, 0] -= bias
        influence[:, len(lag_names) :, 0] -= bias_influence
    estimates = pd.Series(coef[:, 0], index=names)
    vcov = cluster_vcov(influence[:, :, 0])
    return estimates, pd.DataFrame(vcov, index=names, columns=names), influence[:, :, 0]


# --- gmm ---------------------------------------------------------------------------------------


def _gmm(
    data: pd.DataFrame,
    y: str,
    x: tuple[str, ...],
    entity: str,
    time: str,
    lags: int,
    time_effects: bool,
    sample: pd.Series | np.ndarray | None,
    predetermined: tuple[str, ...] = (),
) -> tuple[pd.Series, pd.DataFrame, list[str], dict[str, float], TestStatistic]:
    result = difference_gmm(
        data,
        y,
        x,
        entity,
        time,
        lags=lags,
        steps=2,
        max_lag=5,
        collapse=True,
        time_effects=time_effects,
        sample=sample,
        predetermined=predetermined,
    )
    names = [*lag_terms(y, lags), *x]
    notes = [
        f"Difference GMM: {result.n_obs:,} differenced obs, {result.n_instruments} instruments"
        + (f" ({', '.join(predetermined)} predetermined)" if predetermined else "")
        + "; "
        f"Hansen J = {result.hansen:.2f} (df {result.hansen_df}, p = {result.hansen_p:.3f}); "
        f"AR(1) z = {result.ar1:.2f}, AR(2) z = {result.ar2:.2f} (p = {result.ar2_p:.3f})"
    ]
    diagnostics = {
        name: float(getattr(result, name))
        for name in (
            "n_instruments",
            "hansen",
            "hansen_df",
            "hansen_p",
            "ar1",
            "ar1_p",
            "ar2",
            "ar2_p",
        )
    }
    return (
        result.estimates[names],
        result.vcov.loc[names, names],
        notes,
        diagnostics,
        result.serial_correlation_test(2),
    )


# --- tables --------------------------------------------------------------------------------------


def _with_long_run(
    estimates: pd.Series,
    vcov: pd.DataFrame,
    lag_names: list[str],
    x: tuple[str, ...],
    treatment_lags: int = 0,
    level: float = LEVEL,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Append ``long_run.x = sum_k g_x,k / (1 - sum b)`` with delta-method covariances."""
    persistence = estimates[lag_names].sum()
    jacobian = np.zeros((len(x), len(estimates)))
    sums = np.zeros(len(x))
    for row, name in enumerate(x):
        terms = [name, *lag_terms(name, treatment_lags)]
        sums[row] = estimates[terms].sum()
        for term in terms:
            jacobian[row, estimates.index.get_loc(term)] = 1 / (1 - persistence)
        for lag_name in lag_names:
            jacobian[row, estimates.index.get_loc(lag_name)] = sums[row] / (1 - persistence) ** 2
    full_jacobian = np.vstack([np.eye(len(estimates)), jacobian])
    names = [*estimates.index, *(f"long_run.{name}" for name in x)]
    values = np.concatenate([estimates.to_numpy(), sums / (1 - persistence)])
    if persistence >= 1:
        values[len(estimates) :] = np.nan  # a unit root has no long-run effect
    covariance = full_jacobian @ vcov.to_numpy() @ full_jacobian.T
    table = estimate_table(
        pd.Series(values, index=pd.Index(names, name="term")),
        np.sqrt(np.diag(covariance)),
        level,
    )
    if persistence >= 1:  # nor an SE of one
        table.iloc[len(estimates) :] = np.nan
    return table, pd.DataFrame(covariance, index=names, columns=names)
