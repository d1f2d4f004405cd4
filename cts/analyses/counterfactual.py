"""What adopters' outcomes would have been without the assistant: the counterfactual engine.

:func:`counterfactual` fits the no-assistant model on the team-weeks without usage, rolls each
adopter's outcome forward without the assistant from its last week without it, and reports
observed minus counterfactual per team-week with its aggregates (the average effect on the
treated, the effect per builder-week at full usage, profiles by weeks of use, adoption cohort
and usage dose, and the total extra units), each with a team-clustered bootstrap interval. The
estimator core is :mod:`cts.estimators.imputation`; the method, its assumptions and references
are in ``docs/counterfactual.md``. With ``split_by`` (one usage column per tool) each
adopter-week's effect is also split among the tools so that the parts add up to it; the weekly
extra units and their bootstrap draws are what :func:`cts.assistant_paths` values.
"""

from __future__ import annotations

import html
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy import sparse, stats
from threadpoolctl import threadpool_limits
from tqdm import tqdm

from cts.core.exceptions import FewTeamsWarning, PanelError
from cts.core.results import ESTIMATE_COLUMNS, LEVEL, Result, TestStatistic, estimate_table
from cts.estimators.imputation import (
    Grid,
    ImputationFit,
    Paths,
    adopter_paths,
    build_grid,
    draw_effects,
    fit_untreated,
    impulse_response,
    indicator,
    roll_forward,
)
from cts.panel import DEFAULT_CONTROLS, require_columns, varying_columns, window_mask

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    "MIN_TEAMS_PER_WEEK",
    "PRE_TREND_WEEKS",
    "Counterfactual",
    "compare_pooled",
    "counterfactual",
]

#: Fewer untreated teams than this in a (group x) week that a counterfactual path needs: caveat.
MIN_TEAMS_PER_WEEK = 5
#: Usage-dose bins of the profile by dose (share of builders using the assistant that week).
DOSE_BINS = (0.0, 0.25, 0.5, 0.75, 1.0)
#: Outcomes measured per builder-week, whose totals are counted in units (CRs, deployments).
_UNITS = {"cr_velocity": "crs", "deploy_velocity": "deployments"}
#: Bootstrap draws rolled forward at once: as many as keep one (weeks x adopters x draws) array
#: under this many cells (32 MB), a handful of such arrays being alive at a time.
_CELLS_PER_CHUNK = 4_000_000
#: Weeks before each adopter's first use that the pre-trend test looks at, and the adopters each
#: needs in the fit (a week with fewer is left out of the test).
PRE_TREND_WEEKS = 4
_PRE_TREND_TEAMS = 5
#: What the intervals cover (:func:`counterfactual`'s ``inference``).
INFERENCE = ("panel", "teams")
#: Draws behind the estimation part of each path's prediction variance, which is small next to
#: the shocks' part (a tenth of it on the simulated panels): 50 draws give it to +-20%, the
#: interval's width to a few percent.
_PATH_DRAWS = 50


@dataclass(repr=False)
class Counterfactual(Result):
    """Adopters' outcomes without the assistant, and the effects they imply.

    Attributes
    ----------
    table
        Indexed by term, columns ``estimate, se, ci_low, ci_high, p_value``:

        - ``short_run``: per builder-week, going from no builder to every builder using the
          assistant, the same week; each team's own effect at full usage (its effects per
          team-week regressed on its usage history, see ``docs/counterfactual.md``), averaged
          over the teams that use it with equal weights;
        - ``persistence``: the sum of the no-assistant model's lag coefficients;
        - ``long_run``: ``short_run / (1 - persistence)``, once usage has been sustained;
        - ``att``: the average effect on the treated at observed usage, per team-week of use;
        - ``total_extra_<units>``: the extra units (CRs, deployments) over the window, summed
          over adopters' weeks of use (per-builder outcomes times builders).
    paths
        One row per adopter-week on a counterfactual path: ``team_id, week, observed,
        counterfactual, ci_low, ci_high, effect, usage, weeks_of_use`` (``ci_*``: a ``level``
        prediction interval of the week's outcome without the assistant).
    by_weeks_of_use, by_cohort, by_dose
        The average effect at observed usage by weeks since first use (0 = the first week),
        by quarter of first use, and by the week's usage rate; each with ``n_team_weeks``.
    by_cohort_short_run
        ``short_run`` by adoption cohort, with ``n_teams``.
    cohort_homogeneity
        Wald test that ``short_run`` is the same in every adoption cohort of 5+ teams
        (bootstrap covariance of the cohorts' estimates); ``None`` with fewer than two such
        cohorts or 10 draws.
    pre_trend
        Wald test that adopters' outcomes in the :data:`PRE_TREND_WEEKS` weeks before their
        first use follow the no-assistant model (Borusyak, Jaravel & Spiess 2024, Test 1): the
        model refitted with one indicator per week before adoption, the indicators' cluster
        covariance from their influence functions. A rejection says adopters' outcomes moved
        before they adopted (anticipation, or adoption that responds to the outcome's shocks),
        which biases the counterfactual; ``None`` when no such week has 5 adopters.
    coef
        The no-assistant model's lag and control coefficients.
    outcome, treatment, controls, lags, time_effects_by, n_obs, n_treated_teams,
    n_untreated_teams, n_team_weeks_treated, reps, level
        What was estimated and on how much data (``n_obs``: untreated team-weeks fitted on).
    notes
        Plain sentences the estimate must be read with (printed by :meth:`summary`).
    pooled_comparison
        Tests against the pooled dynamic model, by term, once :meth:`compare_pooled` has run.
    weekly
        Indexed by calendar week: ``effect`` (the average effect per adopter-week of use that
        week; ``att`` in a week without one), ``extra_units`` (effects times builders, summed
        over adopters; the weeks sum to ``total_extra_<units>``), ``team_weeks`` (adopter-weeks
        of use), and with ``split_by`` ``extra_units.<part>`` (the parts add up to
        ``extra_units``).
    weekly_draws
        ``"total"`` and each part -> the bootstrap draws of the weekly extra units (reps x
        weeks, columns as :attr:`weekly`'s rows): the same draws as every interval here.
    effects
        Every adopter-week of use: ``team_id, week, n_builders, effect, imputed`` (an adopter
        without a counterfactual, counted at the other adopters' effect per unit of usage that
        week times its own usage), and with ``split_by``
        ``effect.<part>`` (adding up to ``effect``).
    table_draws
        The bootstrap draws of :attr:`table`'s rows (reps x terms): the same draws as
        :attr:`weekly_draws`, so the two can be used jointly.
    by_part
        With ``split_by``: indexed by (part, term) for ``short_run``, ``long_run`` (per
        builder-week at full use of that part) and ``total_extra`` (units), columns
        ``estimate, se, ci_low, ci_high, p_value``.
    """

    _metadata_fields = (
        "outcome",
        "treatment",
        "lags",
        "time_effects_by",
        "n_obs",
        "n_treated_teams",
        "n_untreated_teams",
        "reps",
    )

    table: pd.DataFrame
    paths: pd.DataFrame
    by_weeks_of_use: pd.DataFrame
    by_cohort: pd.DataFrame
    by_dose: pd.DataFrame
    outcome: str
    treatment: str
    controls: tuple[str, ...]
    lags: int
    time_effects_by: str | None
    n_obs: int
    n_treated_teams: int
    n_untreated_teams: int
    n_team_weeks_treated: int
    reps: int
    level: float = LEVEL
    cohort_homogeneity: TestStatistic | None = None
    by_cohort_short_run: pd.DataFrame | None = None
    coef: pd.Series | None = None
    notes: list[str] = field(default_factory=list)
    pooled_comparison: dict[str, TestStatistic] = field(default_factory=dict)
    weekly: pd.DataFrame | None = None
    weekly_draws: dict[str, np.ndarray] = field(default_factory=dict)
    effects: pd.DataFrame | None = None
    by_part: pd.DataFrame | None = None
    table_draws: pd.DataFrame | None = None
    pre_trend: TestStatistic | None = None

    def compare_pooled(
        self, pooled: Result, terms: Sequence[str] = ("short_run", "long_run")
    ) -> dict[str, TestStatistic]:
        """Test the pooled dynamic model's ``terms`` against this counterfactual's
        (:func:`compare_pooled`), record the tests in ``pooled_comparison`` and return them."""
        for term in terms:
            self.pooled_comparison[term] = compare_pooled(self, pooled, term)
        return self.pooled_comparison

    @property
    def units(self) -> str:
        return _UNITS.get(self.outcome, "units")

    def summary(self) -> str:
        """Plain-language summary with the table."""
        by = f"{self.time_effects_by} x week" if self.time_effects_by else "week"
        lines = [
            f"Counterfactual of {self.outcome} without the assistant (imputation, {self.lags} "
            f"lag(s), team and {by} effects; fitted on {self.n_obs:,} team-weeks without "
            f"usage; {self.n_treated_teams:,} adopting teams, {self.n_team_weeks_treated:,} "
            f"team-weeks of use; {self.reps:,} team bootstrap draws, {self.level:.0%} intervals)",
        ]
        if "att" in self.table.index:
            att = self.table.loc["att"]
            lines.append(
                f"At their observed usage, adopters' {self.outcome} was {att['estimate']:+.3f} "
                f"per team-week of use above what it would have been without the assistant "
                f"({att['ci_low']:+.3f} to {att['ci_high']:+.3f})."
            )
        lines += [*(f"Note: {note}" for note in self.notes), "", self.table.round(4).to_string()]
        if self.by_part is not None:
            lines += ["", "Split by part:", self.by_part.round(4).to_string()]
        tests = [self.cohort_homogeneity, self.pre_trend, *self.pooled_comparison.values()]
        lines += [test.summary() for test in tests if test is not None]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        text = "".join(f"<p>{html.escape(line)}</p>" for line in self.summary().splitlines()[:3])
        table = self.table.to_html(float_format="{:.4g}".format)
        return f"<div class='cts-result'>{text}{table}</div>"

    def plot(self, by: str = "weeks_of_use", ax: Axes | None = None) -> Axes:
        """Adopters' mean observed outcome against their mean counterfactual, with the
        counterfactual's mean interval, by weeks of use (default) or calendar ``"week"``."""
        import matplotlib.pyplot as plt

        if by not in ("weeks_of_use", "week"):
            raise ValueError("by must be 'weeks_of_use' or 'week'")
        ax = ax or plt.subplots(figsize=(8, 4))[1]
        rows = self.paths.dropna(subset=["observed"])
        if by == "weeks_of_use":
            rows = rows.loc[rows["weeks_of_use"] >= 0]
        means = rows.groupby(by)[["observed", "counterfactual", "ci_low", "ci_high"]].mean()
        ax.plot(means.index, means["observed"], label="observed", color="C0")
        ax.plot(means.index, means["counterfactual"], label="without the assistant", color="C1")
        ax.fill_between(means.index, means["ci_low"], means["ci_high"], color="C1", alpha=0.2)
        ax.set_xlabel("weeks since first use" if by == "weeks_of_use" else "week")
        ax.set_ylabel(self.outcome)
        ax.legend()
        return ax


def counterfactual(
    panel: pd.DataFrame,
    outcome: str = "cr_velocity",
    *,
    treatment: str = "ai_usage_rate",
    controls: Sequence[str] = DEFAULT_CONTROLS,
    lags: int = 1,
    time_effects_by: str | None = "auto",
    bias_correction: bool = True,
    start: str | pd.Timestamp | None = None,
    end: str | pd.Timestamp | None = None,
    reps: int = 199,
    seed: int = 0,
    level: float = LEVEL,
    dose_bins: Sequence[float] = DOSE_BINS,
    progress: bool = False,
    levels_by: str | None = None,
    cluster: str | None = None,
    split_by: Sequence[str] = (),
    inference: str = "panel",
) -> Counterfactual:
    """Adopters' outcome without the assistant, week by week, and the effects it implies.

    Imputation with dynamics (Borusyak, Jaravel & Spiess 2024, extended to a lagged outcome):
    fit ``y_it = a_i + l_t + sum_k b_k y_i,t-k + c' x_it + e_it`` on the team-weeks without
    usage (never-users, and adopters before their first week of use), roll each adopter's
    outcome forward without the assistant from its last week without it (the counterfactual's
    own lags feed the next week), and take observed minus counterfactual per team-week. The
    persistence is corrected for the short-panel (Nickell) bias by the split-panel jackknife,
    as ``dynamic_panel(method="bias_corrected")``.

    Unlike the pooled model of :func:`cts.estimate_adoption_effect`, nothing assumes that
    every team gains the same, that early and late adopters gain the same, or that the effect
    is the same in every week of use: adopters' weeks never enter the fit.

    Parameters
    ----------
    panel
        A panel from :func:`cts.load_panel` (``team_id``, ``week``, the outcome, usage).
    outcome
        ``cr_velocity``, ``deploy_velocity`` or any numeric column.
    treatment
        Share of builders using the assistant; a team's first week with usage above zero starts
        its use (weeks after it stay "in use" even when usage drops back to zero).
    controls
        Time-varying controls of the no-assistant model (a constant one is left out with a
        warning). They must not be moved by usage (:func:`cts.exogeneity_checks`).
    lags
        Lags of the outcome in the no-assistant model (0: the static imputation estimator).
    time_effects_by
        A team-constant column (``org``) for group x week effects, ``None`` for common week
        effects, or ``"auto"`` (default): ``org`` when the panel has that column.
    bias_correction
        Jackknife the persistence (default); ``False`` keeps the plain within estimate.
    start, end
        Optional window of weeks (inclusive).
    reps, seed
        Team bootstrap draws (0: point estimates only) and their seed.
    level
        Confidence level of every interval.
    dose_bins
        Edges of the usage-rate bins of :attr:`Counterfactual.by_dose`.
    progress
        Show a tqdm bar over the bootstrap.
    levels_by
        A team-constant column whose groups share one level instead of each team its own
        (``None``, default); for published examples with, e.g., state rather than unit effects.
        Needs ``lags=0``.
    cluster
        A team-constant column whose groups the bootstrap resamples (default: teams).
    split_by
        Usage columns that split each adopter-week's effect into parts that add up to it (one
        per tool, e.g. ``ai_usage_rate_copilot``): :attr:`Counterfactual.by_part`, and the
        parts in :attr:`Counterfactual.effects`, :attr:`Counterfactual.weekly` and
        :attr:`Counterfactual.weekly_draws` (``docs/counterfactual.md``, "Split by tool").
    inference
        What the sums' intervals (the total and the extra units by week) are about.
        ``"panel"`` (default): the extra units this panel's adopters got; each resampled
        adopter adds its extra units less what its cohort's effect implies for its exposure
        (Notes). ``"teams"``: the extra units of teams like these, as if the teams were drawn
        again, sizes and weeks of use included (wider: about 1.3-2x on the simulator). The
        averages' intervals are the same either way.

    Returns
    -------
    Counterfactual

    Raises
    ------
    PanelError
        No team uses the assistant, no team-week without usage to fit on, or a week that an
        adopter's counterfactual needs has no team without the assistant to learn it from.

    Notes
    -----
    Inference: a team-clustered score bootstrap (:mod:`cts.estimators.imputation`): teams are
    resampled (multinomial counts), the fitted model moves by the resampled teams' influence,
    and every path and aggregate is recomputed. Teams are the clusters because shocks persist
    within a team and the counterfactual of a team depends on its own level; influence
    functions alone would need the derivative of every aggregate through the path recursion,
    which the draws get exactly. Intervals are normal with the draws' SD.

    Every aggregate's truth here is this panel's own: the total is the extra units these teams
    got, ``att`` their average (Borusyak, Jaravel & Spiess 2024 take the same view: their
    estimands are conditional on the realised effects, the variance is over the shocks). An
    estimate ``sum v_it (y_it - yhat_it(0))`` misses its target by ``sum v_it (y_it(0) -
    yhat_it(0))``: the no-assistant fit's error and each adopter's own (its level's, the
    shocks on its path). Re-weighting each resampled adopter's extra units ``T_i`` as they
    are (``inference="teams"``) also draws how many units each adopter has to gain: its
    builders, weeks of use and dose, which this panel's total does not vary by. The total's
    interval covered 97-100% then (SD of the error over the mean SE 0.6-0.9, simulator,
    200 teams at 39 and 104 weeks). With ``"panel"`` a draw takes ``sum_i (w_i - 1) M_i``
    back off the sums (``w_i`` the adopter's count), ``M_i`` the extra units its adoption
    cohort's ``short_run`` implies, ``sum_t g_c(i) D_it n_it`` (``D`` the usage filtered by
    the persistence, ``n`` builders): what is resampled is ``T_i - M_i``, the adopter's own
    error and the part of its effect its cohort's effect per unit of exposure does not
    explain (:class:`_Centring`). This is Borusyak et al.'s conservative variance (their
    Theorem 3: the treated cells' residuals are the effects less an average of them by cells
    of an auxiliary model) in bootstrap form, with the cohort and the exposure as the
    auxiliary model, and it keeps what parametric draws of the adopters' shocks from the
    untreated residuals would lose: the covariance of an adopter's error with the fit's
    (its weeks before adoption move both its level and the persistence), and its shocks'
    serial correlation and own variance. It stays conservative where effects differ within
    a cohort beyond its exposure. For an average (``att``, the profiles, the short run) the
    adopters' spread is a small part of the variance (keeping them at weight one and drawing
    their shocks instead, a version tried first, moved those SEs by -5% to +10%, 800 teams x
    78 weeks) and their intervals cover 94-97%, so the averages keep the plain team bootstrap.
    Coverage on the simulator: ``docs/counterfactual.md``.

    References
    ----------
    Borusyak, Jaravel & Spiess (2024), Review of Economic Studies 91(6). Dhaene & Jochmans
    (2015), Review of Economic Studies 82(3). Kline & Santos (2012), Journal of Econometric
    Methods 1(1).

    Examples
    --------
    >>> sim = cts.simulate_org(n_teams=200, n_weeks=52)          # doctest: +SKIP
    >>> result = cts.counterfactual(sim.panel, "cr_velocity")    # doctest: +SKIP
    >>> result.table.loc[["att", "long_run"]]                    # doctest: +SKIP
    """
    if lags < 0:
        raise ValueError("lags must be >= 0")
    if inference not in INFERENCE:
        raise ValueError(f"inference must be one of {', '.join(INFERENCE)}")
    if levels_by is not None and lags:
        raise ValueError("levels_by= needs lags=0: a lagged outcome needs each team's own level")
    controls, split_by = tuple(controls), tuple(split_by)
    require_columns(
        panel, ("team_id", "week", outcome, treatment, *controls, *split_by), "the panel"
    )
    notes: list[str] = []
    by = time_effects_by
    if by == "auto":
        by = "org" if "org" in panel.columns else None
        if by:
            notes.append("week effects by org (the panel has an `org` column)")
    elif by is not None:
        require_columns(panel, (by,), "the panel")
    data = panel.loc[window_mask(panel, start, end)]
    controls = varying_columns(data, controls, "control")
    grid = build_grid(data, outcome, treatment, controls, by, parts=split_by)
    if not (grid.first_use < grid.y.shape[1]).any():
        raise PanelError(
            f"no team ever uses the assistant (`{treatment}` is never above zero): there is no "
            "effect to estimate"
        )
    with threadpool_limits(1):  # small dense solves: see _bootstrap
        fit = fit_untreated(
            grid,
            lags,
            bias_correction=bias_correction,
            level=_team_codes(data, grid, levels_by),
            cluster=_team_codes(data, grid, cluster),
        )
    paths, dropped = adopter_paths(grid, fit)
    if not len(paths.rows):
        raise PanelError(
            f"none of the {dropped['adopters']} teams that use the assistant has weeks without "
            f"it{' with the outcome and its lags' if lags else ''} before its first use, so none "
            "has a level to roll forward from; the panel needs weeks before adoption"
        )
    notes += _coverage_notes(grid, fit, paths, dropped, by)
    point = roll_forward(
        paths,
        fit.team_effects[paths.rows][None],
        fit.time_effects[None],
        fit.coef.to_numpy()[None],
        lags,
    )
    aggregates = _Aggregates(grid, paths, fit.coef.to_numpy()[:lags], dose_bins, split_by)
    estimate = aggregates.compute(point, fit.coef.to_numpy()[None, :lags], None)[0]
    with threadpool_limits(1):  # see _bootstrap
        draws, path_var = _bootstrap(
            grid, fit, paths, aggregates, point[:, :, 0], reps, seed, progress,
            estimate if inference == "panel" else None,
        )  # fmt: skip
    point = np.where(paths.active, point[:, :, 0].T, np.nan)  # adopters x weeks
    fitted = _Fitted(grid, fit, paths, aggregates, point, estimate, draws, path_var)
    options = _Options(outcome, treatment, tuple(controls), lags, by, reps, level)
    result = _result(fitted, options, notes)
    with threadpool_limits(1):
        result.pre_trend = _pre_trend(grid, fit, bias_correction, level)
    return result


def _pre_trend(
    grid: Grid, fit: ImputationFit, bias_correction: bool, level: float
) -> TestStatistic | None:
    """The no-assistant model refitted with an indicator for each of the
    :data:`PRE_TREND_WEEKS` weeks before adopters' first use, and the Wald test that they are
    zero with their cluster covariance (``sum_c psi_c psi_c'``, times ``C / (C - 1)``)."""
    n_weeks = grid.y.shape[1]
    first = grid.first_use
    adopters = first < n_weeks
    weeks = np.arange(n_weeks)[None, :]
    leads, names = [], []
    for k in range(1, PRE_TREND_WEEKS + 1):
        lead = adopters[:, None] & (weeks == (first - k)[:, None])
        if (lead & np.isfinite(grid.y) & (np.arange(n_weeks) >= fit.n_lags)).any(axis=1).sum() >= (
            _PRE_TREND_TEAMS
        ):
            leads.append(lead.astype(float))
            names.append(f"week -{k}")
    if not leads:
        return None
    x = np.concatenate([grid.x, np.stack(leads, axis=2)], axis=2)
    test_grid = replace(grid, x=x, controls=(*grid.controls, *names))
    try:
        refit = fit_untreated(
            test_grid, fit.n_lags, bias_correction=bias_correction, level=fit.level,
            cluster=fit.cluster,
        )  # fmt: skip
    except (PanelError, np.linalg.LinAlgError):
        return None
    columns = slice(len(refit.coef) - len(names), None)
    coef, psi = refit.coef.to_numpy()[columns], refit.psi[:, columns]
    n_clusters = int((np.abs(psi).sum(axis=1) > 0).sum())
    covariance = psi.T @ psi * n_clusters / max(n_clusters - 1, 1)
    statistic = float(coef @ np.linalg.pinv(covariance) @ coef)
    return TestStatistic(
        name="counterfactual pre-trend",
        statistic=statistic,
        df=len(names),
        p_value=float(stats.chi2.sf(statistic, len(names))),
        null=(
            f"adopters' outcomes in the {len(names)} weeks before their first use follow the "
            "model without the assistant"
        ),
        distribution="chi2 (team-clustered)",
        alpha=1 - level,
    )


def _team_codes(data: pd.DataFrame, grid: Grid, column: str | None) -> np.ndarray | None:
    """Codes of a team-constant ``column`` for each grid row (None: each team its own)."""
    if column is None:
        return None
    require_columns(data, (column,), "the panel")
    per_team = data.groupby(data["team_id"].astype(str))[column].agg(["first", "nunique"])
    if (per_team["nunique"] > 1).any():
        raise PanelError(f"`{column}` must be constant within a team")
    values = per_team["first"].reindex(grid.teams.astype(str))
    return pd.factorize(values)[0]


def _coverage_notes(
    grid: Grid, fit: ImputationFit, paths: Paths, dropped: dict[str, int], by: str | None
) -> list[str]:
    """Refuse when a week an adopter's path needs has no untreated team; say what was left out
    and where the week effects rest on few teams."""
    notes = []
    needed = paths.active
    missing = needed & ~np.isfinite(fit.time_effects[paths.group])
    if missing.any():
        groups, weeks = np.nonzero(
            np.bincount(
                paths.group[np.nonzero(missing)[0]] * grid.y.shape[1] + np.nonzero(missing)[1],
                minlength=len(grid.groups) * grid.y.shape[1],
            ).reshape(len(grid.groups), -1)
        )
        where = ", ".join(
            (f"{grid.groups[int(g)]} " if by else "") + f"{grid.weeks[int(t)].date()}"
            for g, t in list(zip(groups, weeks, strict=True))[:3]
        )
        raise PanelError(
            f"{len(weeks)} week(s) that adopters' counterfactuals need have no team without the "
            f"assistant{' in the same ' + by if by else ''} to learn the week's effect from "
            f"(e.g. {where}); "
            + (
                "pass time_effects_by=None for common week effects, or "
                if by
                else "the panel needs never-users, or "
            )
            + "end the window before every team has adopted"
        )
    counts = fit.untreated_teams[paths.group][needed]
    thin = counts < MIN_TEAMS_PER_WEEK
    if thin.any():
        message = (
            f"{thin.mean():.0%} of adopters' counterfactual weeks rest on fewer than "
            f"{MIN_TEAMS_PER_WEEK} teams without the assistant"
            + (f" in the same {by}" if by else "")
            + " for the week's effect, so those weeks are noisy"
            + ("; time_effects_by=None pools the groups" if by else "")
        )
        warnings.warn(message, FewTeamsWarning, stacklevel=3)
        notes.append(message)
    left = dropped["adopters"] - len(paths.rows)
    if left:
        notes.append(
            f"{left} of {dropped['adopters']} adopting teams have no counterfactual: no week "
            "without the assistant (with the outcome and its lags observed) to learn their "
            "level from (e.g. teams first observed while already using it); `att` and the "
            "total count their weeks of use at the other adopters' effect per unit of usage "
            "that calendar week times their own usage, the profiles and short_run leave them "
            "out"
        )
    return notes


class _Aggregates:
    """Every aggregate of the effects per team-week, for many draws at once.

    Works on arrays weeks x adopters x draws, the layout of
    :func:`~cts.estimators.imputation.roll_forward`. ``compute`` returns one row per draw with,
    in order: ``att``, ``short_run``, ``long_run``, ``persistence``, ``total``, then the means
    by weeks of use, by cohort and by dose, ``short_run`` by cohort, the average effect and the
    extra units by calendar week, and with a split (:class:`_Split`) each part's extra units by
    week, ``short_run`` and ``long_run``.
    """

    def __init__(
        self,
        grid: Grid,
        paths: Paths,
        persistence: np.ndarray,
        dose_bins: Sequence[float],
        part_names: Sequence[str] = (),
    ) -> None:
        n_adopters, n_weeks = paths.y.shape
        self._without_counterfactual(grid, paths)
        self.persistence = np.asarray(persistence, dtype=float)
        treated = paths.treated
        weeks = np.arange(n_weeks)[None, :]
        weeks_of_use = np.where(treated, weeks - paths.first_use[:, None], -1)
        cohorts = pd.PeriodIndex(grid.weeks[paths.first_use], freq="Q").astype(str)
        cohort_code, self.cohorts = pd.factorize(cohorts, sort=True)
        usage = _in_use(grid.usage[paths.rows], paths.first_use)
        dose = pd.cut(
            usage[treated], [float(b) for b in dose_bins], include_lowest=True, right=False
        )
        codes = np.array(dose.codes)
        # the top edge belongs to the last bin (full usage)
        codes[(codes < 0) & (usage[treated] >= dose_bins[-1])] = len(dose_bins) - 2
        dose_codes = np.full((n_adopters, n_weeks), -1)
        dose_codes[treated] = codes
        self.dose_labels = [str(c) for c in dose.categories]
        self.n_weeks_of_use = int(weeks_of_use.max()) + 1
        # one (cells x means) selector, cells in time-major order (week, adopter)
        blocks = [
            (np.where(treated, 0, -1), 1),
            (weeks_of_use, self.n_weeks_of_use),
            (np.where(treated, cohort_code[:, None], -1), len(self.cohorts)),
            (dose_codes, len(self.dose_labels)),
            (np.where(treated, weeks, -1), n_weeks),  # by calendar week (not reported)
        ]
        offset, columns = 0, []
        for codes_grid, size in blocks:
            columns.append(np.where(codes_grid >= 0, codes_grid + offset, -1).T.ravel())
            offset += size
        # each cell counts in one mean of each block, and (last column) in the total with
        # its builders: one sparse product gives every sum
        builders = np.nan_to_num(np.where(treated, grid.builders[paths.rows], 0.0)).T.ravel()
        total = sparse.csr_matrix(
            (builders, (np.arange(len(builders)), np.full(len(builders), offset))),
            shape=(len(builders), offset + 1),
        )
        self.selector = sparse.csr_matrix(
            sum(indicator(c, offset + 1) for c in columns) + total
        ).T.tocsc()  # (means + 1) x cells; by cell, its product reads the cells in order
        adopter_of_cell = np.tile(np.arange(n_adopters), n_weeks)
        counts = self.selector[:offset] @ indicator(adopter_of_cell, n_adopters)
        self.team_counts = counts.T.toarray()  # adopters x means
        self.treated = treated.T  # weeks x adopters
        self.usage_treated = np.where(treated, usage, 0.0)  # adopters x weeks
        self.y = np.where(treated, paths.y, 0.0).T
        self.cohort_of_team = indicator(cohort_code, len(self.cohorts)).toarray()
        self.n_weeks = n_weeks
        self.builders = builders.reshape(n_weeks, n_adopters)  # weeks x adopters, 0 off use
        self._exposure(usage.T)
        self.split = self._split(grid, paths, part_names) if part_names else None

    def _split(self, grid: Grid, paths: Paths, names: Sequence[str]) -> _Split:
        """The split of each adopter-week's effect among the usage columns ``names``."""
        return _Split(
            names,
            _parts_in_use(grid, paths.rows, paths.first_use),
            self.treated,
            self.persistence,
            self.builders,
            _parts_in_use(grid, self.excluded_rows, grid.first_use[self.excluded_rows]),
            self.excluded_weeks.T > 0,
            self.excluded_builder_usage.T,
        )

    def _without_counterfactual(self, grid: Grid, paths: Paths) -> None:
        """Adopters without a counterfactual (observed only while using the assistant, or with
        no level): their weeks of use and builders by calendar week (teams x weeks)."""
        n_teams, n_weeks = grid.y.shape
        first = grid.first_use
        rows = np.setdiff1d(np.flatnonzero(first < n_weeks), paths.rows)
        in_use = grid.observed[rows] & (np.arange(n_weeks)[None, :] >= first[rows, None])
        usage = pd.DataFrame(grid.usage[rows]).ffill(axis=1).fillna(0.0).to_numpy()
        self.excluded_rows = rows
        self.excluded_weeks = in_use.astype(float)
        self.excluded_usage = np.where(in_use, usage, 0.0)
        self.excluded_builder_usage = self.excluded_usage * np.nan_to_num(grid.builders[rows])

    def _exposure(self, usage: np.ndarray) -> None:
        """Usage filtered by the persistence, ``D_t = u_t + sum_k b_k D_t-k`` (weeks x
        adopters), and its derivatives in each ``b_k``, at the point estimate: a draw's ``D`` is
        ``D + sum_k (b*_k - b_k) dD/db_k``, to second order in the draw's deviation (tenths of
        a percent of ``D`` at a persistence SE of 0.01), instead of a recursion per draw."""
        level, slopes = _filtered(usage, self.persistence, self.treated)
        self.exposure, self.exposure_slopes = level, slopes
        stacked = np.concatenate([level[None], slopes])  # (1 + lags) x weeks x adopters
        self.exposure_gram = np.einsum("jta,kta->ajk", stacked, stacked)  # adopters x (1+L)^2

    def labels(self) -> list[str]:
        return [
            "att",
            "short_run",
            "long_run",
            "persistence",
            "total",
            *(f"weeks_of_use.{k}" for k in range(self.n_weeks_of_use)),
            *(f"cohort.{c}" for c in self.cohorts),
            *(f"dose.{d}" for d in self.dose_labels),
            *(f"short_run.cohort.{c}" for c in self.cohorts),
            *(f"week_effect.{t}" for t in range(self.n_weeks)),
            *(f"week_units.{t}" for t in range(self.n_weeks)),
            *(self.split.labels() if self.split else []),
        ]

    def counts(self) -> np.ndarray:
        """Team-weeks behind each mean (teams for the cohorts' short run)."""
        cells = self.team_counts.sum(axis=0)[: -self.treated.shape[0]]
        every = cells[0] + self.excluded_weeks.sum()
        by_week = self.treated.sum(axis=1) + self.excluded_weeks.sum(axis=0)
        parts: np.ndarray | list[float] = self.split.counts(by_week, every) if self.split else []
        return np.concatenate(
            [[every] * 5, cells[1:], self.cohort_of_team.sum(axis=0), by_week, by_week, parts]
        )

    def compute(
        self,
        cf: np.ndarray,
        b: np.ndarray,
        weights: np.ndarray | None = None,
        excluded_weights: np.ndarray | None = None,
    ) -> np.ndarray:
        """The aggregates of counterfactual draws ``cf`` (weeks x adopters x R) with their
        persistence ``b`` (R x lags) and team counts ``weights`` (R x adopters; None: 1) and
        ``excluded_weights`` (R x adopters without a counterfactual; None: 1).

        ``att`` and the total also cover the adopters without a counterfactual: each of their
        weeks of use counts at the other adopters' effect per unit of usage that calendar week
        times its own usage. Per unit of usage, not the week's average effect: these teams are
        mostly first observed while already using the assistant (a team formed in a reorg), so
        they have used it longer than the average adopter that week, use it more and carry
        more of its effect forward; at the week's average effect the simulated ones were
        counted 20% low, which put ``att`` 2-4% low (rollouts org by org, 200 x 39); per unit
        of usage the gap is a quarter of that."""
        n_weeks, n_adopters, n_draws = cf.shape
        w = np.ones((n_draws, n_adopters)) if weights is None else weights
        if excluded_weights is None:
            excluded_weights = np.ones((n_draws, len(self.excluded_rows)))
        effect = np.where(self.treated[:, :, None], self.y[:, :, None] - cf, 0.0)
        weighted = effect * w.T[None]
        # (means x cells) @ (cells x draws), cells in (week, adopter) order: no copy
        sums = (self.selector @ weighted.reshape(n_weeks * n_adopters, n_draws)).T
        bottom = w @ self.team_counts  # each team's cells per mean, weighted
        with np.errstate(invalid="ignore", divide="ignore"):
            means = sums[:, :-1] / bottom
        # adopters without a counterfactual, at the other adopters' effect per unit of usage
        # that calendar week times their own usage (else over all weeks)
        usage_sums = w @ self.usage_treated  # R x weeks
        with np.errstate(invalid="ignore", divide="ignore"):
            per_usage = sums[:, -1 - n_weeks : -1] / usage_sums
            overall = sums[:, :1] / usage_sums.sum(axis=1, keepdims=True)
        per_usage = np.where(np.isfinite(per_usage), per_usage, overall)
        extra_weeks = excluded_weights @ self.excluded_weeks  # R x weeks
        extra_units = excluded_weights @ self.excluded_usage
        extra_builder_units = excluded_weights @ self.excluded_builder_usage
        att = (sums[:, 0] + (per_usage * extra_units).sum(axis=1)) / (
            bottom[:, 0] + extra_weeks.sum(axis=1)
        )
        # extra units by calendar week: adopters' effects times builders, plus the adopters
        # without a counterfactual at the week's effect per unit of usage times their usage
        week_units = np.matmul(self.builders[:, None, :], weighted)[:, 0, :].T
        week_units += per_usage * extra_builder_units
        total = sums[:, -1] + (per_usage * extra_builder_units).sum(axis=1)
        by_week = means[:, -n_weeks:]
        by_week = np.where(np.isfinite(by_week), by_week, means[:, :1])
        means = means[:, :-n_weeks]
        team_effect, valid = self._team_full_usage(effect, b)
        share = w * valid
        with np.errstate(invalid="ignore", divide="ignore"):
            short_run = (share * team_effect).sum(axis=1) / share.sum(axis=1)
            by_cohort = ((share * team_effect) @ self.cohort_of_team) / (
                share @ self.cohort_of_team
            )
        persistence = b.sum(axis=1) if len(self.persistence) else np.zeros(n_draws)
        long_run = short_run / (1 - persistence)
        scalars = np.column_stack([att, short_run, long_run, persistence, total])
        parts = (
            [self.split.compute(weighted, w, b, per_usage, excluded_weights, persistence)]
            if self.split
            else []
        )
        return np.column_stack([scalars, means[:, 1:], by_cohort, by_week, week_units, *parts])

    def _team_full_usage(self, effect: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each team's effect at full usage the same week: its effects per team-week regressed
        (through the origin) on its usage history filtered by the persistence,
        ``D_t = u_t + sum_k b_k D_t-k``, the effect the model implies of usage sustained so far.

        Returns the effects and whether the team has any usage (draws x adopters each)."""
        delta = np.column_stack([np.ones(len(b)), b - self.persistence[None]])  # R x (1 + L)
        cross = np.einsum("tar,ta->ra", effect, self.exposure)
        for k in range(len(self.persistence)):
            cross += delta[:, 1 + k, None] * np.einsum(
                "tar,ta->ra", effect, self.exposure_slopes[k]
            )
        weight = np.einsum("rj,ajk,rk->ra", delta, self.exposure_gram, delta)
        valid = weight > 1e-12
        with np.errstate(invalid="ignore", divide="ignore"):
            team_effect = np.where(valid, cross / weight, 0.0)
        return team_effect, valid


def _in_use(usage: np.ndarray, first_use: np.ndarray) -> np.ndarray:
    """Usage from each team's first use on (teams x weeks): a missing week carries the last
    observed week's usage forward; weeks before first use are zero."""
    usage = pd.DataFrame(usage).ffill(axis=1).fillna(0.0).to_numpy()
    return np.where(np.arange(usage.shape[1])[None, :] >= first_use[:, None], usage, 0.0)


def _parts_in_use(grid: Grid, rows: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Each usage part's usage of the teams ``rows`` from their first use (``starts``) on
    (parts x weeks x teams)."""
    if grid.parts is None:
        raise ValueError("the grid was built without usage parts")
    return np.stack([_in_use(grid.parts[rows, :, k], starts).T for k in range(grid.parts.shape[2])])


def _filtered(
    usage: np.ndarray, b: np.ndarray, treated: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``D_t = u_t + sum_k b_k D_t-k`` (weeks x teams) and its derivative in each ``b_k``
    (lags x weeks x teams), both zero off ``treated``."""
    n_weeks = usage.shape[0]
    level = usage.copy()
    slopes = np.zeros((len(b), *usage.shape))
    for t in range(1, n_weeks):
        for k in range(1, min(len(b), t) + 1):
            level[t] += b[k - 1] * level[t - k]
            slopes[:, t] += b[k - 1] * slopes[:, t - k]
            slopes[k - 1, t] += level[t - k]
    return level * treated, slopes * treated[None]


def _shares(level: np.ndarray, in_use: np.ndarray) -> np.ndarray:
    """Each part's share of the filtered usage (parts x weeks x teams), zero off ``in_use``.
    A week of use without any part's usage (usage no part claims) takes the team's shares over
    its weeks of use, and a team without any, the organisation's."""
    n_parts = level.shape[0]
    organisation = level.sum(axis=(1, 2))
    organisation = (
        organisation / organisation.sum()
        if organisation.sum() > 0
        else np.full(n_parts, 1.0 / n_parts)
    )
    team = level.sum(axis=1)  # parts x teams
    team_total = team.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        team = np.where(team_total > 0, team / team_total, organisation[:, None])
        week_total = level.sum(axis=0)
        share = np.where(week_total > 0, level / week_total, team[:, None, :])
    return np.where(in_use[None], share, 0.0)


class _Split:
    """Each adopter-week's effect split among usage parts (one per tool), for many draws.

    The effects per team-week are regressed, pooled over adopters' weeks of use and through
    the origin, on each part's usage filtered by the persistence, ``D_k,t = u_k,t + sum_l b_l
    D_k,t-l`` (the model's own accumulation of use): ``tau = sum_k g_k D_k + r``. Part ``k``
    of a team-week's effect is its fitted part plus the residual in proportion to the parts'
    filtered usage, ``g_k D_k + r D_k / sum_j D_j``; the parts add up to ``tau`` whatever
    ``g`` is, so nothing is counted twice or left out, and a team that uses one tool has its
    whole effect on that tool (the regression only apportions the weeks of teams that mix
    tools). Why not shares of usage alone: a tool worth twice as much per user would get the
    same share as the other in a team that uses both. Why not the fitted parts alone: their
    sum is not the effect. ``g_k`` is each tool's effect per builder-week at full use the
    same week (``short_run``); ``g_k / (1 - persistence)`` its long run.

    Adopters without a counterfactual count at the other adopters' effect per unit of usage
    that week times their own usage (as in the total), split by their own filtered usage. Per
    draw, ``D`` moves with the draw's persistence to first order (as
    :meth:`_Aggregates._exposure`); the shares stay at the point estimate's.
    """

    def __init__(
        self,
        names: Sequence[str],
        usage: np.ndarray,
        treated: np.ndarray,
        persistence: np.ndarray,
        builders: np.ndarray,
        excluded_usage: np.ndarray,
        excluded_in_use: np.ndarray,
        excluded_builder_usage: np.ndarray,
    ) -> None:
        self.names = list(names)
        filtered = [_filtered(u, persistence, treated) for u in usage]
        stacks = [np.concatenate([level[None], slopes]) for level, slopes in filtered]
        self.stack = np.stack(stacks)  # parts x (1 + lags) x weeks x adopters
        n_parts, n_terms, n_weeks, n_adopters = self.stack.shape
        self.shares = _shares(self.stack[:, 0], treated)
        flat = self.stack.reshape(n_parts * n_terms, n_weeks, n_adopters)
        self.gram = np.einsum("ita,jta->aij", flat, flat).reshape(n_adopters, -1)
        self.builders_stack = builders[None, None] * self.stack
        self.builders_share = builders[None] * self.shares
        # share_k x D_j, weighted by builders: parts x parts x (1 + lags) x weeks x adopters
        self.cross_parts = self.builders_share[:, None, None] * self.stack[None]
        excluded_level = np.stack(
            [_filtered(u, persistence, excluded_in_use)[0] for u in excluded_usage]
        )
        self.excluded_fraction = _shares(excluded_level, excluded_in_use)  # parts x weeks x teams
        # the adopters without a counterfactual count per unit of usage (builders x usage)
        self.excluded_share = excluded_builder_usage[None] * self.excluded_fraction
        self.persistence = persistence

    def labels(self) -> list[str]:
        weeks = range(self.stack.shape[2])
        return [
            *(f"part.{n}.units.{t}" for n in self.names for t in weeks),
            *(f"part.{n}.{term}" for n in self.names for term in ("short_run", "long_run")),
        ]

    def counts(self, by_week: np.ndarray, every: float) -> np.ndarray:
        return np.concatenate([*(by_week for _ in self.names), np.full(2 * len(self.names), every)])

    def coefficients(self, weighted: np.ndarray, w: np.ndarray, delta: np.ndarray) -> np.ndarray:
        """``g`` (draws x parts) of the effects ``weighted`` (weeks x adopters x draws, times
        the team counts ``w``) with the draws' ``delta = (1, b* - b)`` (draws x (1 + lags))."""
        n_parts, n_terms = self.stack.shape[:2]
        n_draws = w.shape[0]
        flat = weighted.reshape(-1, n_draws).T  # draws x cells
        terms = flat @ self.stack.reshape(n_parts * n_terms, -1).T  # draws x (parts x terms)
        cross = np.einsum("rkm,rm->rk", terms.reshape(n_draws, n_parts, n_terms), delta)
        gram = (w @ self.gram).reshape(n_draws, n_parts, n_terms, n_parts, n_terms)
        gram = np.einsum("rjmkn,rm,rn->rjk", gram, delta, delta)
        return (np.linalg.pinv(gram) @ cross[:, :, None])[:, :, 0]

    def compute(
        self,
        weighted: np.ndarray,
        w: np.ndarray,
        b: np.ndarray,
        per_usage: np.ndarray,
        excluded_weights: np.ndarray,
        persistence: np.ndarray,
    ) -> np.ndarray:
        """Per draw: each part's extra units by calendar week (parts x weeks), then each
        part's ``short_run`` and ``long_run`` (see the class docstring)."""
        n_parts, n_terms = self.stack.shape[:2]
        delta = np.column_stack([np.ones(len(b)), b - self.persistence[None]])
        g = self.coefficients(weighted, w, delta)

        units = []
        for k in range(n_parts):
            own = np.matmul(self.builders_share[k][:, None, :], weighted)[:, 0, :].T
            fitted = g[:, k, None] * _summed(delta, w, self.builders_stack[k])
            shared = sum(
                g[:, j, None] * _summed(delta, w, self.cross_parts[k, j]) for j in range(n_parts)
            )
            excluded = per_usage * (excluded_weights @ self.excluded_share[k].T)
            units.append(own + fitted - shared + excluded)
        runs = np.column_stack([g, g / (1 - persistence)[:, None]])
        runs = runs.reshape(-1, 2, n_parts).transpose(0, 2, 1).reshape(-1, 2 * n_parts)
        return np.column_stack([*units, runs])

    def point_parts(self, effect: np.ndarray, g: np.ndarray) -> np.ndarray:
        """Each part of every adopter-week's effect at the point estimate (parts x weeks x
        adopters): ``g_k D_k + r D_k / sum_j D_j``."""
        level = self.stack[:, 0]
        residual = effect - np.einsum("k,kta->ta", g, level)
        return g[:, None, None] * level + residual[None] * self.shares


def _summed(delta: np.ndarray, w: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Per draw and week, ``sum_m delta_m (w @ values_m')``: ``values`` (1 + lags) x weeks x
    adopters, ``w`` draws x adopters, ``delta`` draws x (1 + lags)."""
    return np.einsum("rm,rmt->rt", delta, np.stack([w @ v.T for v in values], axis=1))


def _bootstrap(
    grid: Grid,
    fit: ImputationFit,
    paths: Paths,
    aggregates: _Aggregates,
    point: np.ndarray,
    reps: int,
    seed: int,
    progress: bool,
    estimate: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Draws of every aggregate (reps x m) and the variance of each path cell over draws
    (adopters x weeks), about the point estimate ``point`` (weeks x adopters, as
    :func:`~cts.estimators.imputation.roll_forward` lays it out).

    Run with one BLAS thread: every product here is small, so BLAS threads cost more than they
    save, and on a shared machine they oversubscribe the cores (measured: an (8 x 1,000) @
    (1,000 x 156) product took 0.1 s with busy threads). Chunks of draws in two Python threads
    were slower still on a loaded 2-core machine (5.6 s against 2.9 s on 1,000 x 156), so one.
    """
    n_clusters = len(fit.psi)
    rng = np.random.default_rng(seed)
    chunk = int(np.clip(_CELLS_PER_CHUNK // max(paths.active.size, 1), 1, 64))
    firsts = list(range(0, reps, chunk))
    weights = [
        rng.multinomial(n_clusters, np.full(n_clusters, 1 / n_clusters), size=min(chunk, reps - f))
        for f in firsts
    ]

    if not reps:
        return np.empty((0, len(aggregates.labels()))), np.full(paths.y.shape, np.nan)
    centring = None
    if estimate is not None:
        centring = _Centring(aggregates, estimate, point)
    out, total_sq = [], np.zeros(point.shape)
    with tqdm(total=reps, disable=not progress, desc="team bootstrap", unit="draw") as bar:
        for first, draws in zip(firsts, weights, strict=True):
            drawn, squares = _bootstrap_chunk(grid, fit, paths, aggregates, point, first, draws)
            if centring is not None:
                centring.apply(drawn, draws.astype(float), fit.cluster, paths.rows)
            out.append(drawn)
            if squares is not None:
                total_sq += squares
            bar.update(len(draws))
    return np.vstack(out), (total_sq / min(reps, _PATH_DRAWS)).T


def _bootstrap_chunk(
    grid: Grid,
    fit: ImputationFit,
    paths: Paths,
    aggregates: _Aggregates,
    point: np.ndarray,
    first: int,
    draws: np.ndarray,
) -> tuple[np.ndarray, np.ndarray | None]:
    """One chunk of :func:`_bootstrap`'s draws (``draws``: each draw's count of every
    cluster; ``first``: the number of the chunk's first draw): the aggregates of each draw,
    and the sum of squared deviations of each path cell from ``point`` over the chunk's draws
    among the first ``_PATH_DRAWS`` (None when it has none)."""
    draws = draws.astype(float)
    coef, team_effects, time_effects = draw_effects(fit, grid, draws)
    cf = roll_forward(paths, team_effects[:, paths.rows], time_effects, coef, fit.n_lags)
    aggregates_drawn = aggregates.compute(
        cf,
        coef[:, : fit.n_lags],
        draws[:, fit.cluster[paths.rows]],
        draws[:, fit.cluster[aggregates.excluded_rows]],
    )
    squares = None
    if first < _PATH_DRAWS:
        deviation = cf[:, :, : _PATH_DRAWS - first] - point[:, :, None]  # off paths: unread
        squares = np.einsum("tar,tar->ta", deviation, deviation)
    return aggregates_drawn, squares


class _Centring:
    """``inference="panel"`` for the sums (the total and the extra units by week, in all and
    by part): what each resampled adopter adds to a draw is its effect less a model of it.

    A draw of the team bootstrap re-weights adopter ``i``'s extra units ``T_i`` by its count
    ``w_i``; this takes ``sum_i (w_i - 1) M_i`` back off, with ``M_i`` the extra units its
    cohort's ``short_run`` implies, ``sum_t g_c(i) D_it n_it`` (``D`` the usage filtered by
    the persistence, ``n`` builders; an adopter without a counterfactual: the other adopters'
    effect per unit of usage that week times its usage, as counted). What is resampled is
    then ``T_i - M_i``: the adopter's own estimation error (its level's, its path's shocks),
    and the part of its effect the cohort's effect per unit of exposure does not explain,
    not its size, weeks of use or dose. Resampling keeps, for the error, what parametric
    draws of the adopters' shocks would lose: its covariance with the fit's (an adopter's
    weeks before adoption move both the persistence and its own level).
    """

    def __init__(self, aggregates: _Aggregates, estimate: np.ndarray, cf: np.ndarray) -> None:
        """``estimate``: the aggregates' point estimates; ``cf``: the point counterfactual
        (weeks x adopters)."""
        position = {label: i for i, label in enumerate(aggregates.labels())}
        n_weeks = aggregates.n_weeks
        short_run = estimate[position["short_run"]]
        by_cohort = estimate[[position[f"short_run.cohort.{c}"] for c in aggregates.cohorts]]
        g = aggregates.cohort_of_team @ np.where(np.isfinite(by_cohort), by_cohort, short_run)
        units = g[None, :] * aggregates.exposure * aggregates.builders  # weeks x adopters
        effect = np.where(aggregates.treated, aggregates.y - cf, 0.0).sum(axis=1)
        usage = aggregates.usage_treated.sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            per_usage = effect / usage
        per_usage = np.where(np.isfinite(per_usage), per_usage, effect.sum() / usage.sum())
        excluded = per_usage[:, None] * aggregates.excluded_builder_usage.T  # weeks x teams
        self.sums = [([position[f"week_units.{t}"] for t in range(n_weeks)], units.T, excluded.T)]
        split = aggregates.split
        for k, name in enumerate(split.names if split is not None else []):
            assert split is not None
            self.sums.append(
                (
                    [position[f"part.{name}.units.{t}"] for t in range(n_weeks)],
                    (units * split.shares[k]).T,
                    (per_usage[:, None] * split.excluded_share[k]).T,
                )
            )
        self.total = position["total"]
        self.excluded_rows = aggregates.excluded_rows

    def apply(
        self, drawn: np.ndarray, draws: np.ndarray, cluster: np.ndarray, rows: np.ndarray
    ) -> None:
        """Take ``sum_i (w_i - 1) M_i`` off the sums of ``drawn`` (draws x labels, in place)."""
        w = draws[:, cluster[rows]] - 1.0
        w_excluded = draws[:, cluster[self.excluded_rows]] - 1.0
        for k, (columns, units, excluded) in enumerate(self.sums):
            shift = w @ units + w_excluded @ excluded  # draws x weeks
            drawn[:, columns] -= shift
            if k == 0:
                drawn[:, self.total] -= shift.sum(axis=1)


@dataclass(frozen=True)
class _Fitted:
    """The fitted pieces of :func:`counterfactual` that its result is read from."""

    grid: Grid
    fit: ImputationFit  # the no-assistant model
    paths: Paths  # the adopters' paths without the assistant
    aggregates: _Aggregates
    point: np.ndarray  # adopters x weeks: each path's effect, NaN outside its active weeks
    estimate: np.ndarray  # the aggregates' point estimates
    draws: np.ndarray  # bootstrap draws x aggregates
    path_var: np.ndarray  # the paths' bootstrap variance


@dataclass(frozen=True)
class _Options:
    """What :func:`counterfactual` was asked for, as its result reports it."""

    outcome: str
    treatment: str
    controls: tuple[str, ...]
    lags: int
    by: str | None  # the week effects' grouping column
    reps: int
    level: float


def _result(fitted: _Fitted, options: _Options, notes: list[str]) -> Counterfactual:
    """The :class:`Counterfactual` of the fitted pieces: the table with its draws' SEs, its
    parts by weeks of use, cohort and dose, the weekly totals, the paths and the effects."""
    grid, fit, paths, aggregates = fitted.grid, fitted.fit, fitted.paths, fitted.aggregates
    draws, level, lags = fitted.draws, options.level, options.lags
    labels = aggregates.labels()
    se = np.full(len(labels), np.nan)
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        # a profile cell no draw has (a cohort of one team left out) has no SE
        warnings.simplefilter("ignore", RuntimeWarning)
        if len(draws) > 1:
            se = np.nanstd(draws, axis=0, ddof=1)
        table = estimate_table(
            pd.Series(fitted.estimate, index=pd.Index(labels, name="term")), se, level
        )
    table["n_team_weeks"] = aggregates.counts()
    units = _UNITS.get(options.outcome, "units")
    table = table.rename(index={"total": f"total_extra_{units}"})
    if options.outcome not in _UNITS:
        notes.append("total_extra_units sums the effect per team-week times the team's builders")
    main = ["short_run", "persistence", "long_run", "att", f"total_extra_{units}"]
    terms = [*main[:4], "total"]  # the draws' labels of the main rows
    if not lags:
        table.loc["persistence"] = [0.0, 0.0, 0.0, 0.0, np.nan, table.loc["att", "n_team_weeks"]]
    by_weeks = _part(table, "weeks_of_use.", "weeks_of_use")
    by_weeks.index = by_weeks.index.astype(int)
    by_cohort_short = _part(table, "short_run.cohort.", "cohort").rename(
        columns={"n_team_weeks": "n_teams"}
    )
    homogeneity = _cohort_test(by_cohort_short, draws, labels, level)
    weekly, weekly_draws, by_part = _weekly(grid, aggregates, table, draws, labels, level)
    return Counterfactual(
        table=table.loc[main, ESTIMATE_COLUMNS],
        paths=_paths_frame(grid, fit, paths, fitted.point, fitted.path_var, lags, level),
        by_weeks_of_use=by_weeks.loc[by_weeks["n_team_weeks"] > 0],
        by_cohort=_part(table, "cohort.", "cohort"),
        by_dose=_part(table, "dose.", "dose"),
        outcome=options.outcome,
        treatment=options.treatment,
        controls=options.controls,
        lags=lags,
        time_effects_by=options.by,
        n_obs=fit.n_obs,
        n_treated_teams=len(paths.rows),
        n_untreated_teams=int(((grid.first_use >= grid.y.shape[1]) & grid.observed.any(1)).sum()),
        n_team_weeks_treated=int(paths.treated.sum()),
        reps=options.reps,
        level=level,
        cohort_homogeneity=homogeneity,
        by_cohort_short_run=by_cohort_short,
        coef=fit.coef,
        notes=notes,
        weekly=weekly,
        weekly_draws=weekly_draws,
        effects=_effects_frame(grid, paths, aggregates, fitted.point, weekly, by_part),
        by_part=by_part,
        table_draws=pd.DataFrame(draws[:, [labels.index(t) for t in terms]], columns=main),
    )


def _part(table: pd.DataFrame, prefix: str, name: str) -> pd.DataFrame:
    """The table's rows whose term starts with ``prefix``, indexed by the rest (``name``)."""
    rows = table.loc[table.index.str.startswith(prefix)]
    return rows.set_axis(pd.Index(rows.index.str.removeprefix(prefix), name=name))


def _weekly(
    grid: Grid,
    aggregates: _Aggregates,
    table: pd.DataFrame,
    draws: np.ndarray,
    labels: list[str],
    level: float,
) -> tuple[pd.DataFrame, dict[str, np.ndarray], pd.DataFrame | None]:
    """The extra units by calendar week (point and draws), in all and by part, and the
    parts' ``short_run``, ``long_run`` and ``total_extra``."""
    index = pd.Index(grid.weeks, name="week")
    columns = {"effect": "week_effect.", "extra_units": "week_units."}
    names = aggregates.split.names if aggregates.split else []
    columns |= {f"extra_units.{n}": f"part.{n}.units." for n in names}
    position = {label: i for i, label in enumerate(labels)}
    n_weeks = len(index)
    units = _positions(position, "week_units.", n_weeks)
    weekly = pd.DataFrame(
        {
            c: table["estimate"].to_numpy()[_positions(position, p, n_weeks)]
            for c, p in columns.items()
        },
        index=index,
    )
    weekly["team_weeks"] = table["n_team_weeks"].to_numpy()[units]
    weekly_draws = {"total": draws[:, units]}
    weekly_draws |= {n: draws[:, _positions(position, f"part.{n}.units.", n_weeks)] for n in names}
    if not names:
        return weekly, weekly_draws, None
    rows = {}
    for n in names:
        for term in ("short_run", "long_run"):
            rows[(n, term)] = (
                table.loc[f"part.{n}.{term}", "estimate"],
                draws[:, position[f"part.{n}.{term}"]],
            )
        rows[(n, "total_extra")] = (weekly[f"extra_units.{n}"].sum(), weekly_draws[n].sum(axis=1))
    se = [np.std(d, ddof=1) if len(d) > 1 else np.nan for _, d in rows.values()]
    estimates = pd.Series(
        [e for e, _ in rows.values()], index=pd.MultiIndex.from_tuples(rows, names=["part", "term"])
    )
    return weekly, weekly_draws, estimate_table(estimates, np.asarray(se, float), level)


def _positions(position: dict[str, int], prefix: str, n_weeks: int) -> list[int]:
    """Where the terms ``prefix`` + week number (0 to ``n_weeks - 1``) stand among the labels."""
    return [position[f"{prefix}{t}"] for t in range(n_weeks)]


def _effects_frame(
    grid: Grid,
    paths: Paths,
    aggregates: _Aggregates,
    point: np.ndarray,
    weekly: pd.DataFrame,
    by_part: pd.DataFrame | None,
) -> pd.DataFrame:
    """Every adopter-week of use with its effect per builder-week (``imputed``: an adopter
    without a counterfactual, at the other adopters' effect per unit of usage that week times
    its own usage, as ``att`` and the total count it) and, split by part, its parts."""
    team, week = np.nonzero(paths.treated)
    effect = np.where(paths.treated, paths.y - np.nan_to_num(point), 0.0)
    rows = aggregates.excluded_rows
    ex_team, ex_week = np.nonzero(aggregates.excluded_weeks > 0)
    usage_sums = aggregates.usage_treated.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_usage = effect.sum(axis=0) / usage_sums
    per_usage = np.where(np.isfinite(per_usage), per_usage, effect.sum() / usage_sums.sum())
    week_effect = per_usage[:, None] * aggregates.excluded_usage.T  # weeks x teams without one
    week_effect = week_effect[ex_week, ex_team]
    frame = pd.DataFrame(
        {
            "team_id": np.concatenate([grid.teams[paths.rows][team], grid.teams[rows][ex_team]]),
            "week": np.concatenate([grid.weeks[week], grid.weeks[ex_week]]),
            "n_builders": np.concatenate(
                [grid.builders[paths.rows][team, week], grid.builders[rows][ex_team, ex_week]]
            ),
            "effect": np.concatenate([effect[team, week], week_effect]),
            "imputed": np.repeat([False, True], [len(team), len(ex_team)]),
        }
    )
    split = aggregates.split
    if split is not None and by_part is not None:  # _weekly's parts table when split
        g = np.array([by_part.loc[(n, "short_run"), "estimate"] for n in split.names])
        parts = split.point_parts(effect.T, g)  # parts x weeks x adopters
        for k, n in enumerate(split.names):
            frame[f"effect.{n}"] = np.concatenate(
                [
                    parts[k][week, team],
                    week_effect * split.excluded_fraction[k][ex_week, ex_team],
                ]
            )
    return frame


def _cohort_test(
    by_cohort: pd.DataFrame, draws: np.ndarray, labels: list[str], level: float
) -> TestStatistic | None:
    """Wald test that the cohorts' ``short_run`` are equal, with the draws' covariance."""
    columns = [labels.index(f"short_run.cohort.{c}") for c in by_cohort.index]
    keep = [c for c, n in zip(columns, by_cohort["n_teams"], strict=True) if n >= 5]
    if len(keep) < 2 or len(draws) < 10:
        return None
    values = draws[:, keep]
    finite = np.isfinite(values).all(axis=1)
    estimates = np.array([by_cohort["estimate"].iloc[columns.index(c)] for c in keep])
    contrast = np.eye(len(keep))[1:] - np.eye(len(keep))[:-1]
    difference = contrast @ estimates
    covariance = contrast @ np.cov(values[finite], rowvar=False) @ contrast.T
    statistic = float(difference @ np.linalg.pinv(covariance) @ difference)
    df = len(keep) - 1
    return TestStatistic(
        name="cohort homogeneity",
        statistic=statistic,
        df=df,
        p_value=float(stats.chi2.sf(statistic, df)),
        null="the effect at full usage is the same in every adoption cohort (of 5+ teams)",
        distribution="chi2 (team bootstrap covariance)",
        alpha=1 - level,
    )


def _paths_frame(
    grid: Grid,
    fit: ImputationFit,
    paths: Paths,
    point: np.ndarray,
    path_var: np.ndarray,
    lags: int,
    level: float,
) -> pd.DataFrame:
    """One row per adopter-week on a path, with the counterfactual's prediction interval:
    the estimate's variance (bootstrap draws) plus the team level's (sigma^2 / untreated weeks,
    summed along the path) plus the shocks the path has not seen (sigma^2 sum_h psi_h^2)."""
    n_weeks = grid.y.shape[1]
    team, week = np.nonzero(paths.active)
    horizon = week - paths.start[team] - 1
    psi = impulse_response(fit.coef.to_numpy()[:lags], n_weeks)
    level_gain = np.cumsum(psi)[horizon]
    unseen = fit.sigma2 * np.cumsum(psi**2)[horizon]
    n_i = fit.level_weeks[paths.rows][team]
    variance = np.nan_to_num(path_var[team, week]) + fit.sigma2 * level_gain**2 / n_i + unseen
    spread = stats.norm.ppf(0.5 + level / 2) * np.sqrt(variance)
    value = point[team, week]
    observed = paths.y[team, week]
    return pd.DataFrame(
        {
            "team_id": grid.teams[paths.rows][team],
            "week": grid.weeks[week],
            "observed": observed,
            "counterfactual": value,
            "ci_low": value - spread,
            "ci_high": value + spread,
            "effect": np.where(paths.treated[team, week], observed - value, np.nan),
            "usage": grid.usage[paths.rows][team, week],
            "weeks_of_use": week - paths.first_use[team],
        }
    )


def compare_pooled(result: Counterfactual, pooled: Result, term: str = "long_run") -> TestStatistic:
    """Test that the pooled dynamic model (:func:`cts.estimate_adoption_effect`) and the
    counterfactual agree on ``term`` (``short_run`` or ``long_run``).

    The two estimates share data, so their difference's SE lies between ``|se1 - se2|`` and
    ``sqrt(se1^2 + se2^2)``; the test uses the latter (conservative: it rejects less often
    than its level when they agree). A rejection says the pooled model's assumptions (one
    effect for every team and week of use, one week effect for every team) do not hold here,
    and the counterfactual's estimate is the one to report.
    """
    mine, theirs = result.table.loc[term], pooled.table.loc[term]
    difference = float(mine["estimate"] - theirs["estimate"])
    se = float(np.hypot(mine["se"], theirs["se"]))
    z = difference / se
    return TestStatistic(
        name=f"pooled vs counterfactual {term}",
        statistic=z,
        df=None,
        p_value=float(2 * stats.norm.sf(abs(z))),
        null=f"the pooled model's {term} equals the counterfactual's",
        distribution="normal",
        alpha=1 - result.level,
    )
