"""What an adoption effect is worth: CTS-SW, builder-weeks, engineering-years and money."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cts.analyses.adoption import AdoptionEffect, estimate_adoption_effect
from cts.core.results import LEVEL, Result, estimate_table
from cts.estimators.dynamic import dynamic_panel
from cts.panel import (
    DEFAULT_CONTROLS,
    DERIVED_COLUMNS,
    PanelError,
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
    "Builder-weeks, velocity and cost per builder-week are those of the last `recent_weeks` "
    "weeks of the panel; the comparison is against no builder using the assistant.",
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
        ci_high`` (at ``level``, propagated from the effect's uncertainty by simulation: ``se``
        is the standard deviation of the draws, the interval their central ``level`` share;
        ``p_value`` is the effect's, since each quantity is zero exactly when the effect is).
    adoption, observed_adoption
        The adoption level valued and today's (builder-weighted, last ``recent_weeks``).
    velocity, builders_per_week, cost_per_builder_week
        Today's inputs (cost is NaN when unknown).
    outcome, horizon, unit
        What was translated; ``unit`` is what one unit of output is (CRs or deployments).
    assumptions
        The assumptions the numbers rest on, in words.
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
            lines[-1] += f", worth {fmt('money_saved_per_year', ',.0f')} a year."
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
) -> Impact:
    """Turn an effect on CR or deployment velocity into CTS-SW, engineering-years and money.

    Velocity without the assistant is today's velocity minus ``effect * today's adoption``;
    at adoption ``a`` it is that plus ``effect * a``. CTS-SW in builder-weeks per unit is one
    over velocity, so the change is ``v0 / va - 1``; holding today's output fixed, the
    builder-weeks saved per year are ``output * (1 / v0 - 1 / va)``.

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
        Simulation draws of the effect from its estimated sampling distribution (jointly with
        persistence for the long run) for the intervals, and their seed.
    level
        Confidence level of the intervals.

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

    weeks = windowed(panel)["week"]  # "today" is the end of the analysis window
    recent = panel.loc[
        panel["week"].between(weeks.max() - pd.Timedelta(weeks=recent_weeks - 1), weeks.max())
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

    def quantities(gamma: np.ndarray) -> dict[str, np.ndarray]:
        v0 = velocity - gamma * observed
        va = v0 + gamma * adoption_level
        if np.any(v0 <= 0) or np.any(va <= 0):
            raise PanelError(
                "the effect implies zero or negative velocity; CTS-SW is undefined there "
                "(was the effect estimated on this panel?)"
            )
        saved = yearly_builder_weeks * velocity * (1 / v0 - 1 / va)
        return {
            "velocity_change": gamma * adoption_level,
            "cts_sw_change_pct": 100 * (v0 / va - 1),
            "builder_weeks_saved_per_year": saved,
            "engineering_years_saved_per_year": saved / weeks_per_year,
            "money_saved_per_year": saved * cost,
            "extra_units_per_year": yearly_builder_weeks * gamma * adoption_level,
        }

    point = quantities(np.array([effect.table.loc[horizon, "estimate"]]))
    drawn = quantities(_draw_effect(effect, horizon, draws, seed))
    table = pd.DataFrame(
        {
            "estimate": {k: float(v[0]) for k, v in point.items()},
            "se": {k: float(np.std(v, ddof=1)) for k, v in drawn.items()},
            "ci_low": {k: np.percentile(v, 50 * (1 - level)) for k, v in drawn.items()},
            "ci_high": {k: np.percentile(v, 50 * (1 + level)) for k, v in drawn.items()},
        }
    )
    # every quantity is zero exactly when the effect is: the effect's test is theirs
    table["p_value"] = effect.table.loc[horizon, "p_value"]
    table.loc[table["estimate"].isna(), "p_value"] = np.nan  # e.g. money without a cost
    table.index.name = "quantity"
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
    )


def impact_curve(
    effect: AdoptionEffect,
    panel: pd.DataFrame,
    levels: Sequence[float] = (0.0, 0.25, 0.5, 0.75, 1.0),
    **options,
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


def _draw_effect(effect: AdoptionEffect, horizon: str, draws: int, seed: int) -> np.ndarray:
    """Draws of the effect; the long run as g / (1 - b) from joint normal draws of (g, b)."""
    rng = np.random.default_rng(seed)
    model = effect.model
    names = [effect.treatment, *model.lag_terms]
    mean = model.table.loc[names, "estimate"].to_numpy()
    sample = rng.multivariate_normal(mean, model.vcov.loc[names, names].to_numpy(), size=draws)
    if horizon == "short_run":
        return sample[:, 0]
    return sample[:, 0] / (1 - sample[:, 1:].sum(axis=1))


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
    controls: Sequence[str] = DEFAULT_CONTROLS,
    method: str = "bias_corrected",
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
        As in :func:`cts.estimate_adoption_effect`.
    level
        Confidence level of the intervals.

    Returns
    -------
    CombinedImpact
    """
    treatments, controls = tuple(treatments), tuple(controls)
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
    separate_total = sum(separate[t].table.loc["long_run", "estimate"] for t in treatments)
    table["separate"] = [
        *(separate[t].table.loc["long_run", "estimate"] for t in treatments),
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
