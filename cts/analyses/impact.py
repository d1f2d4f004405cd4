"""What an adoption effect is worth: CTS-SW, builder-weeks, engineering-years and money."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from cts.analyses.adoption import AdoptionEffect, estimate_adoption_effect
from cts.analyses.counterfactual import Counterfactual
from cts.analyses.value import format_money
from cts.core.results import LEVEL, Result, critical_value, draws_p_value, estimate_table
from cts.estimators.dynamic import Method, dynamic_panel
from cts.panel import (
    DERIVED_COLUMNS,
    PanelError,
    default_controls,
    lag_terms,
    require_columns,
    window_mask,
    windowed,
)

__all__ = ["CombinedImpact", "Impact", "combined_impact", "impact_curve", "translate_impact"]

_VELOCITIES = ("cr_velocity", "deploy_velocity")
_ASSUMPTIONS = (
    "The effect is causal and the same at the adoption level asked about as where it was "
    "estimated (linear in the share of builders using the assistant).",
    "Savings assume the organization ships the same units with fewer builder-weeks (units "
    "held fixed); if the capacity is redeployed instead, the same effect shows up as "
    "`extra_units_per_year` at unchanged headcount. The two are alternatives, not a sum.",
    "Builder-weeks, velocity, adoption and cost per builder-week are those of the last "
    "`recent_weeks` weeks of the panel; the comparison is against no builder using the assistant.",
    "Velocity without the assistant is today's velocity minus what each team's usage so far has "
    "added by now, along the model's dynamic path since its usage began (usage taken as none "
    "before a team's first week in the panel): teams that adopted recently have not reached the "
    "long-run effect, and are not credited with it.",
    "The intervals carry the uncertainty of the effect (every coefficient of the fitted model, "
    "drawn jointly), not of today's velocity, adoption and builders: these are the "
    "organization's own measured values (all its teams, not a sample of them).",
)


@dataclass(repr=False)
class Impact(Result):
    """An adoption effect in CTS-SW, builder-weeks, engineering-years and money.

    Attributes
    ----------
    table
        Indexed by quantity (``velocity_change``, ``cts_sw_change_pct``,
        ``builder_weeks_saved_per_year``, ``engineering_years_saved_per_year``,
        ``money_saved_per_year``, ``extra_units_per_year``) with ``estimate, se, ci_low,
        ci_high, p_value`` (at ``level``, propagated from the effect's uncertainty by
        simulation: every coefficient of the fitted model is drawn jointly and each draw goes
        through the same arithmetic as the estimate; ``se`` is the standard deviation of the
        draws, the interval their central ``level`` share, and ``p_value`` twice the smaller
        share of draws on either side of zero, the same for every quantity since each has the
        sign of the effect; so the interval excludes zero exactly when ``p_value < 1 - level``.
        NaN at zero adoption, which is worth exactly nothing).
    adoption, observed_adoption
        The adoption level valued and today's (builder-weighted, last ``recent_weeks``).
    velocity, builders_per_week, cost_per_builder_week
        Today's inputs (cost is NaN when unknown).
    outcome, horizon, unit
        What was translated; ``unit`` is what one unit of output is (CRs or deployments).
    assumptions
        The assumptions the numbers rest on, in words.
    velocity_without_assistant
        Today's velocity less what usage so far has added (the dynamic path of each team since
        its usage began), the baseline every quantity is measured from.
    inference, draws
        The effect's inference (``"cluster"``, or a resampling test whose critical value widens
        the draws) and the number of draws behind the intervals.
    currency
        The currency of the money (ISO 4217 code), as the summary prints it.
    """

    _metadata_fields = ("outcome", "horizon", "unit", "adoption", "observed_adoption")

    table: pd.DataFrame
    adoption: float
    observed_adoption: float
    velocity: float
    builders_per_week: float
    cost_per_builder_week: float
    outcome: str
    horizon: str
    unit: str
    assumptions: tuple[str, ...]
    level: float = LEVEL
    velocity_without_assistant: float = float("nan")
    inference: str = "cluster"
    draws: int = 0
    currency: str = "USD"

    def summary(self) -> str:
        """The headline in words, with the assumptions."""
        t = self.table

        def fmt(name: str, spec: str, suffix: str = "") -> str:
            row = t.loc[name]
            return (
                f"{row['estimate']:{spec}}{suffix} ({self.level:.0%} CI "
                f"{row['ci_low']:{spec}}{suffix} to {row['ci_high']:{spec}}{suffix})"
            )

        lines = [
            f"At {self.adoption:.0%} adoption (today {self.observed_adoption:.0%}), the "
            f"{self.horizon} effect on {self.outcome} changes cost to serve by "
            f"{fmt('cts_sw_change_pct', '+.1f', '%')} (builder-weeks per {self.unit}) versus "
            "no adoption.",
            f"With {self.builders_per_week:,.0f} builders that is "
            f"{fmt('engineering_years_saved_per_year', ',.1f')} engineering-years a year "
            f"({fmt('builder_weeks_saved_per_year', ',.0f')} builder-weeks)",
        ]
        if np.isfinite(self.cost_per_builder_week):
            money = t.loc["money_saved_per_year"]
            lines[-1] += (
                f", worth {format_money(money['estimate'], self.currency)} a year "
                f"({self.level:.0%} CI {format_money(money['ci_low'], self.currency)} to "
                f"{format_money(money['ci_high'], self.currency)})."
            )
        else:
            lines[-1] += "; pass cost_per_builder_week for money."
        lines.append(
            f"Or, at unchanged headcount, {fmt('extra_units_per_year', ',.0f')} more "
            f"{self.unit}s a year."
        )
        lines += ["", "Assumptions:", *(f"- {a}" for a in self.assumptions)]
        return "\n".join(lines)


def translate_impact(
    effect: AdoptionEffect,
    panel: pd.DataFrame,
    *,
    cost_per_builder_week: float | None = None,
    adoption: float | None = None,
    horizon: str = "long_run",
    recent_weeks: int = 13,
    weeks_per_year: float = 52.0,
    draws: int = 10_000,
    seed: int = 0,
    level: float = LEVEL,
    currency: str = "USD",
) -> Impact:
    """Turn an effect on CR or deployment velocity into CTS-SW, engineering-years and money.

    Velocity without the assistant ``v0`` is today's velocity minus what usage has added so far:
    for each recent team-week, ``sum_s m_s x_i,t-s`` over the team's usage history, with
    ``m_s`` the model's dynamic multipliers (the effect s weeks after a week of usage; they sum
    to the long run), builder-weighted. At adoption ``a`` velocity is ``va = v0 + effect * a``
    (``effect`` the long or short run). CTS-SW in builder-weeks per unit is one over velocity,
    so the change is ``v0 / va - 1``; holding today's output fixed, the builder-weeks saved per
    year are ``output * (1 / v0 - 1 / va)``. The estimands in words and symbols:
    ``docs/estimands.md``. When ``effect.headline`` is the counterfactual (``method="auto"``
    found effects that differ between teams), the valuation follows it: what usage has added
    is the counterfactual's own extra units over the recent weeks (observed minus
    counterfactual, times builders), ``effect`` its long or short run, both drawn jointly
    (normal, with their bootstrap covariance).

    Parameters
    ----------
    effect
        From :func:`cts.estimate_adoption_effect` with outcome ``cr_velocity`` or
        ``deploy_velocity``.
    panel
        The panel it was estimated on (for today's builders, velocity, adoption and cost).
    cost_per_builder_week
        Loaded cost of a builder-week; default the builder-weighted mean of the panel's
        ``cost_per_builder_week`` column over the recent weeks, else money is NaN.
    adoption
        Share of builders using the assistant to value (e.g. 1.0); default today's.
    horizon
        ``"long_run"`` (default, once velocity has settled) or ``"short_run"`` (the same week).
    recent_weeks
        Weeks at the end of the panel that define "today".
    weeks_per_year
        Builder-weeks in an engineering-year.
    draws, seed
        Simulation draws of the fitted model (every lag of the outcome and of usage, jointly)
        for the intervals and the p-value, and their seed.
    level
        Confidence level of the intervals.
    currency
        The currency of ``cost_per_builder_week``, printed beside the money in the summary.

    Returns
    -------
    Impact
    """
    if effect.outcome not in _VELOCITIES:
        raise ValueError(
            f"translate_impact values effects on {' or '.join(_VELOCITIES)}, not `{effect.outcome}`"
        )
    if horizon not in ("long_run", "short_run"):
        raise ValueError(f"horizon must be 'long_run' or 'short_run', not {horizon!r}")
    if adoption is not None and not 0 <= adoption <= 1:
        raise ValueError(f"adoption is a share of builders in [0, 1], not {adoption}")
    units_column, builders_column = DERIVED_COLUMNS[effect.outcome]
    usage_column = (
        DERIVED_COLUMNS[effect.treatment][0] if effect.treatment in DERIVED_COLUMNS else None
    )
    require_columns(panel, ("week", units_column, builders_column), "the panel")

    end_week = windowed(panel)["week"].max()  # "today" is the end of the analysis window
    recent = panel.loc[
        panel["week"].between(end_week - pd.Timedelta(weeks=recent_weeks - 1), end_week)
    ]
    builder_weeks = recent[builders_column].sum()
    n_weeks = recent["week"].nunique()
    velocity = recent[units_column].sum() / builder_weeks
    if usage_column is not None:
        observed = recent[usage_column].sum() / builder_weeks
    else:
        observed = float(np.average(recent[effect.treatment], weights=recent[builders_column]))
    cost = _cost(recent, cost_per_builder_week, builders_column)
    adoption_level = observed if adoption is None else float(adoption)
    yearly_builder_weeks = builder_weeks / n_weeks * weeks_per_year
    # Builder-weighted usage s weeks before each recent team-week, summed: what each team's
    # usage so far has added to today's velocity is sum_s m_s x_t-s (m: the dynamic path).
    exposure = _usage_history(panel, effect.treatment, builders_column, end_week, recent_weeks)

    def quantities(path: _ModelPath) -> dict[str, np.ndarray]:
        effect_at = path.long_run if horizon == "long_run" else path.multipliers[:, 0]
        added = (
            path.multipliers[:, : len(exposure)] @ exposure if path.added is None else path.added
        )
        v0 = velocity - added / builder_weeks
        va = v0 + effect_at * adoption_level
        valid = (v0 > 0) & (va > 0) & np.isfinite(effect_at)
        v0, va = np.where(valid, v0, np.nan), np.where(valid, va, np.nan)
        saved = yearly_builder_weeks * velocity * (1 / v0 - 1 / va)
        return {
            "velocity_change": np.where(valid, effect_at * adoption_level, np.nan),
            "cts_sw_change_pct": 100 * (v0 / va - 1),
            "builder_weeks_saved_per_year": saved,
            "engineering_years_saved_per_year": saved / weeks_per_year,
            "money_saved_per_year": saved * cost,
            "extra_units_per_year": np.where(
                valid, yearly_builder_weeks * effect_at * adoption_level, np.nan
            ),
            "_effect": effect_at,
            "_without": v0,
        }

    if effect.headline == "counterfactual" and effect.counterfactual is not None:
        weeks = recent["week"].unique()
        estimate, sample = _counterfactual_path(effect.counterfactual, weeks, draws, seed, horizon)
    else:
        estimate, sample = _model_path(effect, len(exposure), draws, seed, horizon)
    point = quantities(estimate)
    if not np.isfinite(point["_without"][0]) or not np.isfinite(point["velocity_change"][0]):
        raise PanelError(
            "the effect implies zero or negative velocity; CTS-SW is undefined there "
            "(was the effect estimated on this panel?)"
        )
    drawn = quantities(sample)
    table = _draw_table(point, drawn, level, zero=adoption_level == 0)
    return Impact(
        table=table,
        adoption=adoption_level,
        observed_adoption=float(observed),
        velocity=float(velocity),
        builders_per_week=float(builder_weeks / n_weeks),
        cost_per_builder_week=float(cost),
        outcome=effect.outcome,
        horizon=horizon,
        unit="CR" if effect.outcome == "cr_velocity" else "deployment",
        assumptions=tuple(a.replace("`recent_weeks`", str(recent_weeks)) for a in _ASSUMPTIONS),
        level=level,
        velocity_without_assistant=float(point["_without"][0]),
        inference=effect.model.inference,
        draws=int(np.isfinite(drawn["_effect"]).sum()),
        currency=currency,
    )


def impact_curve(
    effect: AdoptionEffect,
    panel: pd.DataFrame,
    levels: Sequence[float] = (0.0, 0.25, 0.5, 0.75, 1.0),
    **options: Any,
) -> pd.DataFrame:
    """:func:`translate_impact` at several adoption levels, stacked.

    Returns a DataFrame indexed by ``adoption`` and ``quantity`` with ``estimate, ci_low,
    ci_high``; ``options`` go to :func:`translate_impact`.
    """
    tables = {
        float(level): translate_impact(effect, panel, adoption=level, **options).table
        for level in levels
    }
    return pd.concat(tables, names=["adoption", "quantity"])


def _cost(recent: pd.DataFrame, given: float | None, builders_column: str) -> float:
    if given is not None:
        if not np.isfinite(given) or given <= 0:
            raise ValueError(f"cost_per_builder_week must be positive, not {given}")
        return float(given)
    if "cost_per_builder_week" in recent:
        return float(np.average(recent["cost_per_builder_week"], weights=recent[builders_column]))
    return float("nan")


def _usage_history(
    panel: pd.DataFrame, treatment: str, builders_column: str, end_week: Any, recent_weeks: int
) -> np.ndarray:
    """``X_s = sum over recent team-weeks (i, t) of n_it x_i,t-s``, for s = 0, 1, ...

    Usage by calendar week per team up to ``end_week``: a gap keeps the last observed value and
    weeks before a team's first row count as no usage (the panel does not say otherwise).
    """
    rows = panel.loc[panel["week"] <= end_week, ["team_id", "week", treatment, builders_column]]
    weeks = np.sort(rows["week"].unique())
    grid: pd.DatetimeIndex | np.ndarray
    if isinstance(weeks[0], np.datetime64 | pd.Timestamp):
        grid = pd.date_range(weeks[0], weeks[-1], freq="7D")
    else:
        grid = np.arange(weeks[0], weeks[-1] + 1)
    usage = (
        rows.pivot(index="team_id", columns="week", values=treatment)
        .reindex(columns=grid)
        .ffill(axis=1)
        .fillna(0.0)
        .to_numpy(float)
    )
    builders = (
        rows.pivot(index="team_id", columns="week", values=builders_column)
        .reindex(columns=grid)
        .fillna(0.0)
        .to_numpy(float)
    )
    n_weeks = len(grid)
    history = np.zeros(n_weeks)
    for t in range(max(0, n_weeks - recent_weeks), n_weeks):
        # usage at t, t-1, ..., 0 weighted by the builders of week t
        history[: t + 1] += builders[:, t] @ usage[:, t::-1]
    return history


@dataclass
class _ModelPath:
    """The dynamic response to usage, one row per draw: ``multipliers[:, s]`` is the effect on
    the outcome s weeks after one week of full usage (so s weeks into sustained usage the
    effect is their partial sum, and a team's realised effect today is ``sum_s m_s x_t-s``);
    ``long_run`` is the sum of them all."""

    multipliers: np.ndarray
    long_run: np.ndarray
    added: np.ndarray | None = None  # the units usage has added in the recent weeks, if known


def _model_path(
    effect: AdoptionEffect, n_weeks: int, draws: int, seed: int, horizon: str
) -> tuple[_ModelPath, _ModelPath]:
    """The estimated path of the fitted model and ``draws`` draws of it.

    Every coefficient the effect rests on is drawn jointly: the outcome's lags ``b_k`` and the
    treatment and its distributed lags ``g_k``, from the normal with the model's covariance
    (cluster-robust, delta-consistent with the effect's table). Under resampling inference the
    covariance is widened by ``(c / z)^2``, with ``c`` the half width of the horizon term's
    resampling interval in SEs (the inverted wild-bootstrap interval need not be symmetric: its
    mean half width) and ``z`` the normal critical value, so the drawn long (or short) run is
    as wide as the effect's own interval: the resampling draws are of the t statistic, not of
    the estimates, so they cannot stand in for the estimates' distribution themselves.
    """
    model = effect.model
    lags = model.lag_terms
    effects = [effect.treatment, *lag_terms(effect.treatment, model.treatment_lags)]
    names = [*lags, *effects]
    mean = model.table.loc[names, "estimate"].to_numpy(float)
    covariance = model.vcov.loc[names, names].to_numpy(float)
    if model.resampling is not None:
        row = effect.table.loc[horizon]
        half_width = (row["ci_high"] - row["ci_low"]) / 2 / row["se"]
        covariance = covariance * (half_width / critical_value(model.level)) ** 2
    sample = np.random.default_rng(seed).multivariate_normal(mean, covariance, size=draws)
    # team_persistence: the long run is the mean of the teams' own (the table's), drawn in
    # proportion to the mean lags' one; the path so far is the mean lags' (an approximation:
    # the teams' own lags are not kept)
    scale = 1.0
    if model.team_persistence:
        scale = effect.table.loc["long_run", "estimate"] / _long_run(mean[None], len(lags))[0]
    point, drawn = [
        _ModelPath(
            _multipliers(theta, len(lags), len(effects), n_weeks),
            _long_run(theta, len(lags)) * scale,
        )
        for theta in (mean[None], sample)
    ]
    return point, drawn


def _counterfactual_path(
    result: Counterfactual, weeks: np.ndarray, draws: int, seed: int, horizon: str
) -> tuple[_ModelPath, _ModelPath]:
    """The headline counterfactual's effect at ``horizon`` and the extra units usage added
    in ``weeks`` (observed minus counterfactual, its :attr:`~Counterfactual.weekly`), with
    ``draws`` normal draws of the two from their bootstrap covariance (the same draws)."""
    if result.weekly is None or result.table_draws is None:
        raise ValueError("the counterfactual has no weekly extra units to value")
    recent = result.weekly.index.isin(pd.to_datetime(weeks))
    mean = np.array([result.weekly["extra_units"].to_numpy()[recent].sum(), 0.0])
    mean[1] = result.table.loc[horizon, "estimate"]
    pairs = np.column_stack(
        [result.weekly_draws["total"][:, recent].sum(axis=1), result.table_draws[horizon]]
    )
    covariance = np.cov(pairs, rowvar=False) if len(pairs) > 1 else np.zeros((2, 2))
    sample = np.random.default_rng(seed).multivariate_normal(mean, covariance, size=draws)
    short = horizon == "short_run"
    point, drawn = [
        _ModelPath(
            values[:, 1:] if short else np.zeros((len(values), 1)), values[:, 1], values[:, 0]
        )
        for values in (mean[None], sample)
    ]
    return point, drawn


def _long_run(theta: np.ndarray, n_lags: int) -> np.ndarray:
    """``sum g / (1 - sum b)`` per row of ``theta`` (lags first); NaN at or past a unit root."""
    persistence = theta[:, :n_lags].sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(persistence < 1, theta[:, n_lags:].sum(axis=1) / (1 - persistence), np.nan)


def _multipliers(theta: np.ndarray, n_lags: int, n_effects: int, n_weeks: int) -> np.ndarray:
    """Dynamic multipliers ``m_s = g_s + sum_k b_k m_s-k`` of an ADL(p, q), rows of ``theta``."""
    b, g = theta[:, :n_lags], theta[:, n_lags:]
    path = np.zeros((len(theta), max(n_weeks, 1)))
    for s in range(path.shape[1]):
        path[:, s] = g[:, s] if s < n_effects else 0.0
        for k in range(1, min(s, n_lags) + 1):
            path[:, s] += b[:, k - 1] * path[:, s - k]
    path[~(b.sum(axis=1) < 1)] = np.nan  # no path that settles
    return path


def _draw_table(
    point: dict[str, np.ndarray], drawn: dict[str, np.ndarray], level: float, zero: bool
) -> pd.DataFrame:
    """Estimate, SD of the draws, their central ``level`` interval and the p-value of the draws.

    Every quantity has the sign of the effect at the horizon (velocity stays positive), so one
    p-value serves all of them: twice the smaller share of drawn effects on either side of zero
    (at least one over the draws). It rejects at ``1 - level`` exactly when the interval
    excludes zero.
    """
    effect = drawn["_effect"][np.isfinite(drawn["_effect"])]
    p_value = max(draws_p_value(effect), 1 / len(effect)) if effect.size else 1.0
    rows = {}
    for name, values in point.items():
        if name.startswith("_"):
            continue
        finite = drawn[name][np.isfinite(drawn[name])]
        empty = finite.size < 2 or not np.isfinite(values[0])
        low, high = (
            (np.nan, np.nan)
            if empty
            else np.percentile(finite, [50 * (1 - level), 50 * (1 + level)])
        )
        rows[name] = {
            "estimate": float(values[0]),
            "se": np.nan if empty else float(np.std(finite, ddof=1)),
            "ci_low": low,
            "ci_high": high,
            # no adoption is worth exactly nothing: nothing to test
            "p_value": np.nan if empty or zero else p_value,
        }
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "quantity"
    return table


@dataclass(repr=False)
class CombinedImpact(Result):
    """Several initiatives estimated jointly against one baseline, beside the naive sum.

    Attributes
    ----------
    table
        Indexed by treatment, then ``total``: ``estimate, se, ci_low, ci_high, p_value`` of each
        long-run effect estimated jointly (all initiatives in one model; the ``total`` row is
        their sum, its SE from the joint covariance), and ``separate``, each estimated alone
        (the ``total`` row: the naive sum).
    overstatement_pct
        How much the naive sum exceeds the joint total, in percent of the joint total.
    outcome, method, n_obs
    joint
        The joint :class:`cts.DynamicPanelResult`.
    separate
        The separate :class:`cts.AdoptionEffect` per treatment.
    """

    _metadata_fields = ("outcome", "method", "n_obs", "overstatement_pct")

    table: pd.DataFrame
    overstatement_pct: float
    outcome: str
    method: str
    n_obs: int
    joint: object
    separate: dict[str, AdoptionEffect]
    level: float = LEVEL

    def summary(self) -> str:
        """The comparison in words."""
        total = self.table.loc["total"]
        return (
            f"Long-run effects on {self.outcome} ({self.method}): estimated one at a time and "
            f"added, the initiatives sum to {total['separate']:+.3f}; estimated jointly against "
            f"one baseline, {total['estimate']:+.3f} ({self.level:.0%} CI "
            f"{total['ci_low']:+.3f} to {total['ci_high']:+.3f}). The naive sum overstates the "
            f"total by {self.overstatement_pct:.0f}%.\n\n{self.table.round(4).to_string()}"
        )


def combined_impact(
    panel: pd.DataFrame,
    treatments: Sequence[str],
    *,
    outcome: str = "deploy_velocity",
    controls: Sequence[str] | None = None,
    method: Method = "bias_corrected",
    level: float = LEVEL,
) -> CombinedImpact:
    """Estimate several initiatives jointly, with the naive sum of separate estimates beside it.

    When initiatives roll out at overlapping times, a model of one initiative credits it with
    part of the others' effect, so adding separate estimates overstates the total. The joint
    dynamic model (all treatments, the same controls, team and week effects) shares one
    baseline and splits the effect between them.

    Parameters
    ----------
    panel
        A panel from :func:`cts.load_panel`.
    treatments
        Two or more treatment columns, e.g. ``["ai_usage_rate", "deploy_automation"]``.
    outcome, controls, method
        As in :func:`cts.estimate_adoption_effect` (controls: the outcome's default, none for
        ``deploy_velocity``).
    level
        Confidence level of the intervals.

    Returns
    -------
    CombinedImpact
    """
    treatments = tuple(treatments)
    controls = default_controls(outcome) if controls is None else tuple(controls)
    if len(treatments) < 2 or len(set(treatments)) != len(treatments):
        raise ValueError("treatments must name two or more different columns")
    require_columns(panel, (outcome, *treatments, *controls), "the panel")
    joint = dynamic_panel(
        panel,
        outcome,
        [*treatments, *controls],
        "team_id",
        "week",
        method=method,
        sample=window_mask(panel),
    )
    separate = {
        t: estimate_adoption_effect(
            panel, outcome=outcome, treatment=t, controls=controls, method=method
        )
        for t in treatments
    }
    long_run = [f"long_run.{t}" for t in treatments]
    joint_table = joint.table.loc[long_run]
    joint_total = float(joint_table["estimate"].sum())
    total_se = float(np.sqrt(joint.vcov.loc[long_run, long_run].to_numpy().sum()))
    estimates = pd.Series(
        [*joint_table["estimate"], joint_total],
        index=pd.Index([*treatments, "total"], name="treatment"),
    )
    table = estimate_table(estimates, [*joint_table["se"], total_se], level)
    separate_long_run = [float(separate[t].table["estimate"]["long_run"]) for t in treatments]
    separate_total = sum(separate_long_run)
    table["separate"] = [
        *separate_long_run,
        separate_total,
    ]
    return CombinedImpact(
        table=table,
        overstatement_pct=float(100 * (separate_total / joint_total - 1)),
        outcome=outcome,
        method=method,
        n_obs=joint.n_obs,
        joint=joint,
        separate=separate,
        level=level,
    )
