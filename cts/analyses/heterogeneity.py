"""Which teams gain more from the assistant: heterogeneous effects with econml's causal forest."""

from __future__ import annotations

import warnings
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.multitest import multipletests

from cts.analyses.identification import ADOPTION_EFFECT, identification
from cts.core.results import Result, critical_value, p_phrase
from cts.estimators.demean import demean
from cts.panel import (
    PanelError,
    default_controls,
    lag,
    require_columns,
    varying_columns,
    windowed,
)

__all__ = [
    "HeterogeneousEffects",
    "clustered_final_stage",
    "equal_effects_p",
    "heterogeneous_effects",
]

MODIFIERS = ("architecture", "n_builders", "baseline_velocity")


@dataclass(repr=False)
class HeterogeneousEffects(Result):
    """Effects of AI usage by team characteristic, from :func:`heterogeneous_effects`.

    Attributes
    ----------
    by_group
        Indexed by ``modifier`` and ``group`` (architecture, or below/above the median of a
        numeric trait): ``estimate, se, ci_low, ci_high`` of the short-run effect (linear DML
        with the group's indicators, team-clustered cross-fitting and SEs), ``teams``.
    ranking
        Per modifier: ``importance`` (the forest's split importance, summed over a categorical
        modifier's levels), ``spread`` (largest minus smallest group effect), ``p_value`` of a
        Wald test that its groups' effects are equal (joint, team-clustered covariance) and
        ``p_adjusted`` (Holm, across the modifiers); sorted by importance.
    outcome, treatment, n_obs, n_teams
    model
        The fitted ``econml.dml.CausalForestDML``.
    """

    _metadata_fields = ("outcome", "treatment", "n_obs", "n_teams")

    by_group: pd.DataFrame
    ranking: pd.DataFrame
    outcome: str
    treatment: str
    n_obs: int
    n_teams: int
    model: object

    @property
    def table(self) -> pd.DataFrame:
        """``by_group`` with each group effect's normal ``p_value``."""
        z = self.by_group["estimate"] / self.by_group["se"]
        return self.by_group.assign(p_value=2 * stats.norm.sf(np.abs(z)))

    def summary(self) -> str:
        """The strongest modifier in words."""
        top = self.ranking.iloc[0]
        name = self.ranking.index[0]
        groups = self.by_group.loc[name]
        parts = ", ".join(
            f"{g}: {r['estimate']:+.3f} [{r['ci_low']:+.3f}, {r['ci_high']:+.3f}]"
            for g, r in groups.iterrows()
        )
        verdict = "differ" if top["p_adjusted"] < 0.05 else "do not differ detectably"
        return (
            f"Effect of {self.treatment} on {self.outcome} by team characteristic (causal forest, "
            f"{self.n_obs:,} team-weeks, {self.n_teams:,} teams). Strongest modifier: {name} "
            f"(groups {verdict}, {p_phrase(top['p_adjusted'], 'Holm p')}): {parts}."
        )


#: Rows each tree of the ranking forest grows on, at most. The forest only ranks the traits (the
#: group effects come from linear DML on every row): on 1,000 teams x 156 weeks trees of 30,000
#: rows gave the same ranking and importances within 0.02 of trees of 55,000, in half the time.
FOREST_ROWS = 30_000


def heterogeneous_effects(
    panel: pd.DataFrame,
    outcome: str = "cr_velocity",
    by: Sequence[str] = MODIFIERS,
    *,
    treatment: str = "ai_usage_rate",
    controls: Sequence[str] | None = None,
    n_estimators: int = 200,
    seed: int = 0,
) -> HeterogeneousEffects:
    """Short-run effects of AI usage by team characteristic.

    The outcome, usage, last week's outcome and the controls are first demeaned by team and week
    (two-way fixed effects, as in the main model); ``econml``'s ``CausalForestDML`` then lets the
    effect of usage vary with the team's traits, with cross-fitting folds that keep each team's
    weeks together (``groups=team``), and ranks the traits by split importance; each trait's
    group effects and their intervals come from a ``LinearDML`` whose effect is linear in the
    group indicators, their standard errors clustered by team (computed here from the cached
    first-stage residuals: econml's are heteroskedasticity-robust only), and the groups agree
    when a Wald test of the differences from the first group, with their joint covariance,
    does not reject (the groups share the intercept, so their estimates are correlated). With
    team
    fixed effects and a lagged outcome the within transformation carries a Nickell bias of
    order 1/T through the lag, which shifts all groups alike (about +0.02 at 80 weeks); for the
    level of the effect use :func:`cts.estimate_adoption_effect`.

    Parameters
    ----------
    panel
        A panel from :func:`cts.load_panel`.
    outcome, treatment, controls
        As in :func:`cts.estimate_adoption_effect`.
    by
        Team traits: ``architecture``, ``n_builders`` (the team's median size),
        ``baseline_velocity`` (mean outcome in weeks before first use, or in all weeks for
        never-users), or any column constant within team.
    n_estimators, seed
        Forest size and seed.

    Returns
    -------
    HeterogeneousEffects

    References
    ----------
    Athey, Tibshirani & Wager (2019), Annals of Statistics 47(2); Chernozhukov et al. (2018),
    Econometrics Journal 21(1).
    """
    by = tuple(by)
    controls = default_controls(outcome) if controls is None else tuple(controls)
    if n_estimators < 4 or n_estimators % 4:
        raise ValueError(
            f"n_estimators must be a positive multiple of 4 (econml grows trees in subforests "
            f"of 4), not {n_estimators}"
        )
    if not by:
        raise ValueError("by must name at least one team characteristic")
    require_columns(panel, (outcome, treatment, *controls), "the panel")
    # lags from the full panel (the week before the window counts), everything else windowed
    panel = windowed(panel.assign(_lag=lag(panel, outcome)))
    # Effects by trait are adoption effects: refused where the adoption effect is.
    identification(panel, treatment=treatment, outcome=outcome).require(ADOPTION_EFFECT)
    traits = _team_traits(panel, outcome, treatment, by)
    by = varying_columns(traits, by, "team trait")
    if not by:
        raise PanelError("no team trait in `by` differs between teams")
    traits = traits[list(by)]
    controls = varying_columns(panel, controls, "control")
    data = panel.dropna(subset=["_lag", *controls])
    within = _Within.of(data, [outcome, treatment, "_lag", *controls])
    x_frame = pd.get_dummies(traits.loc[data["team_id"]].reset_index(drop=True), dtype=float)
    forest = _ranking_forest(within, x_frame, n_estimators, seed)
    importance = pd.Series(forest.feature_importances_, index=x_frame.columns)
    rows: dict[tuple[str, Hashable], dict[str, float]] = {}
    ranking: dict[str, dict[str, float]] = {}
    for modifier in by:
        labels = _groups(traits[modifier])
        groups, estimates, coef, covariance = _group_effects(labels, data["team_id"], within, seed)
        rows.update({(modifier, level): row for level, row in groups.items()})
        members = [c for c in x_frame.columns if c == modifier or c.startswith(f"{modifier}_")]
        ranking[modifier] = {
            "importance": float(importance[members].sum()),
            "spread": float(estimates.max() - estimates.min()),
            "p_value": equal_effects_p(coef[1:], covariance[1:, 1:]),
        }
    return HeterogeneousEffects(
        by_group=_by_group_table(rows),
        ranking=_ranking_table(ranking),
        outcome=outcome,
        treatment=treatment,
        n_obs=len(data),
        n_teams=int(data["team_id"].nunique()),
        model=forest,
    )


@dataclass(frozen=True)
class _Within:
    """The rows :func:`heterogeneous_effects` fits, demeaned by team and week: the outcome
    ``y``, usage ``t``, the lagged outcome and the controls ``w``, and each row's team code."""

    y: np.ndarray
    t: np.ndarray
    w: np.ndarray
    teams: np.ndarray

    @classmethod
    def of(cls, data: pd.DataFrame, columns: list[str]) -> _Within:
        """``columns`` of ``data`` (outcome, usage, then the rest) within team and week."""
        teams = pd.factorize(data["team_id"])[0]
        weeks = pd.factorize(data["week"])[0]
        within = demean(data[columns].to_numpy(float), np.column_stack([teams, weeks]))
        return cls(y=within[:, 0], t=within[:, 1], w=within[:, 2:], teams=teams)


def _ranking_forest(within: _Within, x_frame: pd.DataFrame, n_estimators: int, seed: int) -> Any:
    """The fitted ``CausalForestDML`` whose split importances rank the traits ``x_frame`` (one
    column per indicator); econml ships no type information."""
    from econml.dml import CausalForestDML
    from sklearn.linear_model import LinearRegression

    forest = CausalForestDML(
        model_y=LinearRegression(),
        model_t=LinearRegression(),
        n_estimators=n_estimators,
        # Each tree grows on a subsample (econml's default share 0.45), capped at
        # FOREST_ROWS rows: the forest only ranks a few team traits, and on 2,000 teams x 260
        # weeks full-share trees took most of the report's time. Panels up to ~67k rows are
        # unaffected.
        max_samples=min(0.45, FOREST_ROWS / len(within.y)),
        min_samples_leaf=20,
        cv=3,
        random_state=seed,
        n_jobs=-1,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        forest.fit(within.y, within.t, X=x_frame.to_numpy(), W=within.w, groups=within.teams)
    return forest


def _group_effects(
    labels: pd.Series, team_ids: pd.Series, within: _Within, seed: int
) -> tuple[dict[Hashable, dict[str, float]], np.ndarray, np.ndarray, np.ndarray]:
    """Each group's short-run effect (``labels``: each team's group; ``team_ids``: each row's
    team), from a linear DML whose effect is linear in the group's indicators (the forest only
    ranks the modifiers): the rows of ``by_group`` per group, the group effects, and the
    coefficients ``[intercept, one per indicator]`` with their team-clustered covariance."""
    from econml.dml import LinearDML
    from sklearn.linear_model import LinearRegression

    row_labels = labels.loc[team_ids].to_numpy()
    levels = list(pd.unique(labels))
    dummies = np.column_stack([row_labels == level for level in levels[1:]]).astype(float)
    linear = LinearDML(
        model_y=LinearRegression(), model_t=LinearRegression(), cv=3, random_state=seed
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        linear.fit(
            within.y, within.t, X=dummies, W=within.w, groups=within.teams, cache_values=True
        )
    # Group k's effect is the intercept plus its indicator's coefficient (level 0: the
    # intercept); their covariance is clustered by team.
    coef, covariance = clustered_final_stage(linear, dummies, within.teams)
    contrasts = np.column_stack([np.ones(len(levels)), np.eye(len(levels))[:, 1:]])
    estimates = contrasts @ coef
    group_covariance = contrasts @ covariance @ contrasts.T
    groups = {}
    for k, level in enumerate(levels):
        se = float(np.sqrt(group_covariance[k, k]))
        groups[level] = {
            "estimate": float(estimates[k]),
            "se": se,
            "ci_low": estimates[k] - critical_value() * se,
            "ci_high": estimates[k] + critical_value() * se,
            "teams": int((labels == level).sum()),
        }
    return groups, estimates, coef, covariance


def _by_group_table(rows: dict[tuple[str, Hashable], dict[str, float]]) -> pd.DataFrame:
    """``by_group``: one row per ``(modifier, group)``."""
    by_group = pd.DataFrame.from_dict(rows, orient="index")
    by_group.index = pd.MultiIndex.from_tuples(by_group.index, names=["modifier", "group"])
    return by_group


def _ranking_table(ranking: dict[str, dict[str, float]]) -> pd.DataFrame:
    """``ranking``: one row per modifier, Holm-adjusted p-values, by importance."""
    table = pd.DataFrame.from_dict(ranking, orient="index")
    table["p_adjusted"] = multipletests(table["p_value"], method="holm")[1]
    table = table.sort_values("importance", ascending=False)
    table.index.name = "modifier"
    return table


def _team_traits(
    panel: pd.DataFrame, outcome: str, treatment: str, by: tuple[str, ...]
) -> pd.DataFrame:
    traits = {}
    for name in by:
        if name == "n_builders":
            traits[name] = panel.groupby("team_id")["n_builders"].median()
        elif name == "baseline_velocity":
            before = panel.loc[panel[treatment] == 0]
            baseline = before.groupby("team_id")[outcome].mean()
            traits[name] = baseline.reindex(panel["team_id"].unique()).fillna(
                panel.groupby("team_id")[outcome].mean()
            )
        elif name in panel:
            constant = panel.groupby("team_id")[name].nunique(dropna=False) <= 1
            if not constant.all():
                raise PanelError(f"`{name}` changes within teams; heterogeneity needs team traits")
            traits[name] = panel.groupby("team_id")[name].first()
        else:
            raise PanelError(f"unknown team characteristic `{name}`")
    return pd.DataFrame(traits)


def _groups(values: pd.Series) -> pd.Series:
    """Categories as they are; numeric traits split at the median into two halves."""
    if pd.api.types.is_numeric_dtype(values):
        median = values.median()
        shown = _three_digits(median)
        return values.le(median).map({True: f"<= {shown}", False: f"> {shown}"})
    return values.astype(str)


def _three_digits(value: float) -> str:
    """A group boundary as a reader takes it in: three significant digits (2.89, 10, 1,240)."""
    if not np.isfinite(value) or value == round(value):
        return f"{value:,.0f}" if np.isfinite(value) else f"{value:g}"
    decimals = max(0, 2 - int(np.floor(np.log10(abs(value)))))
    return f"{value:,.{decimals}f}"


def clustered_final_stage(
    linear: Any,  # a fitted econml LinearDML; econml ships no type information
    dummies: np.ndarray,
    teams: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """The final stage of a fitted ``LinearDML`` (``cache_values=True``) with team-clustered
    covariance: coefficients ``[intercept, one per indicator]`` and their covariance.

    econml's own standard errors (``StatsModelsLinearRegression``, HC0) treat team-weeks as
    independent; its ``groups=`` only keeps a team's weeks in one cross-fitting fold. The final
    stage is OLS of the outcome's residual on the treatment's residual times ``[1, X]``, so the
    cluster-robust sandwich (with the G / (G - 1) factor) is computed here from the cached
    first-stage residuals.
    """
    y_res, t_res, x_cached, _ = linear.residuals_
    if not np.array_equal(np.asarray(x_cached), dummies):
        raise RuntimeError("econml returned the residuals in another order than the rows")
    y_res, t_res = np.ravel(y_res), np.ravel(t_res)
    features = t_res[:, None] * np.column_stack([np.ones(len(dummies)), dummies])
    coef = np.concatenate([np.ravel(linear.intercept_), np.ravel(linear.coef_)])
    residuals = y_res - features @ coef
    bread = np.linalg.inv(features.T @ features)
    n_teams = int(teams.max()) + 1
    scores = np.zeros((n_teams, features.shape[1]))
    np.add.at(scores, teams, features * residuals[:, None])
    covariance = bread @ (scores.T @ scores) @ bread * n_teams / (n_teams - 1)
    return coef, covariance


def equal_effects_p(differences: np.ndarray, covariance: np.ndarray) -> float:
    """Wald test that every group's effect equals the first's: ``differences`` (each other
    group's effect minus the first's) are jointly zero, with their joint covariance."""
    if len(differences) < 1:
        return float("nan")
    if not (np.isfinite(differences).all() and np.isfinite(covariance).all()):
        return float("nan")
    try:
        chi2 = float(differences @ np.linalg.solve(covariance, differences))
    except np.linalg.LinAlgError:
        return float("nan")  # a group without variation cannot be tested
    return float(stats.chi2.sf(chi2, len(differences)))
