"""Team-specific persistence: the mean-group persistence with common week and usage effects.

The model is ``y_it = a_i + l_t + sum_k b_ik y_i,t-k + g' x_it + e_it``: each team has its own
intercept and its own coefficients on the outcome's lags, while the week effects ``l_t`` and the
effects ``g`` of usage and controls (and their distributed lags) are common. The reported
persistence is the mean over teams of ``sum_k b_ik`` with equal weights (the truth of
``simulate_org(persistence_spread=...)``), and the long run is the mean over teams of each
team's own, ``mean_i sum g / (1 - B_i)`` with ``B_i = sum_k b_ik`` (to second order in the
spread of the ``B_i``, net of their estimation noise: :meth:`TeamPersistenceFit.mean_long_run`):
the average effect a team reaches, which is what adds up to an organization's;
``sum g / (1 - mean B_i)`` is 10-15% smaller for ``B_i`` uniform on (0.2, 0.8).

Why not the pooled estimator: with ``b_i`` that differ, pooling weights each team by the variance
of its lagged outcome, about ``1 / (1 - b_i^2)``, so the teams with the most persistence count the
most and the pooled persistence is above the mean (Pesaran & Smith 1995). Measured with 200 teams
and ``persistence_spread=0.3``: +22-25% on the persistence and +16% on the long run at 39 and
104 weeks.

Estimation (:func:`team_persistence_fit`) is a direct solve, not a regression with team dummies
interacted with the lags: pyfixest 0.60 has no varying slopes (fixest's ``team[y_lag]``; open in
pyfixest issues #1365 and #1449), and the explicit dummies would be a (rows x 2 teams) design.
By Frisch-Waugh, each team's rows are projected off its own ``[1, lags]`` (a few numbers per team),
and the normal equations of the week effects and ``g`` on the projected data are accumulated team
by team (the week block is ``diag(n_t) - H'H`` with ``H`` one small row block per team); then each
team's ``b_i`` is its own regression given the common coefficients. Exact to rounding: a test
checks it against ordinary least squares with explicit team x lag dummies.

The O(1/T) bias of every coefficient (each team's ``b_i`` has the bias of a short
autoregression, about ``-(1 + 3 b_i) / T_i``, and ``g`` inherits it) is removed by the
split-panel jackknife of *all* coefficients (Dhaene & Jochmans 2015): each half of the panel
re-estimates every ``b_i``, the week effects and ``g``; ``g`` is ``2 full - mean(halves)`` and
each ``b_i`` gets weights that fit its own split (:func:`team_persistence_fit`).

Inference is clustered by team: each team's influence on the mean persistence is its own
``(b_i - mean b) / N`` plus the effect, through the common coefficients, of its scores. The
variance of a mean over teams therefore includes the true spread of ``b_i``, which is right for
the population mean (the teams could have been others).

:func:`persistence_homogeneity_test` asks whether the pooled persistence (``bias_corrected``)
differs from this mean: a Hausman-type test of the difference with the cluster influence of both.

Measured (``benchmarks/mc_heterogeneous.py``: 200 teams, 60 panels a cell, CR and deployment
velocity, ``persistence_spread=0.3``): at 39 and 104 weeks the relative bias of short run,
persistence and long run is within 2.5% (pooled ``bias_corrected``: persistence +8% to +15%,
long run +6% to +13%), 95% coverage 90-100% (the persistence's intervals are wide on purpose:
they hold the teams' spread). At 13 and 26 weeks the jackknife of halves of 6-13 weeks leaves
the persistence 2-9% low and the short run 9-17% high. Without a spread the estimator is
unbiased at 39+ weeks too but its long run has about 1.6x the SD of ``bias_corrected``'s.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from cts.core.results import TestStatistic
from cts.estimators.jackknife import (
    SplitPanel,
    cluster_vcov,
    fixed_effect_periods,
    split_panel_fit,
)
from cts.panel import PanelError

__all__ = [
    "MIN_HALF_ROWS",
    "MIN_TEST_WEEKS",
    "TeamPersistenceFit",
    "persistence_homogeneity_test",
    "team_persistence_fit",
]

#: Rows a team needs in each half of its own series, per coefficient of its own regression on
#: ``[1, y_lag_1..p]``, to keep its own persistence in the jackknife (and so in the estimate).
MIN_HALF_ROWS = 2
#: The homogeneity test needs teams with this many weeks (median): with fewer the two
#: jackknifed estimates keep O(1/T^2) biases of their own, and on clean panels of 200 teams the
#: test rejected 23% and 13% at 26 weeks, 38% and 20% at 13 (CR and deployment velocity).
MIN_TEST_WEEKS = 30
_MIN_TEAMS = 10  # below this a mean over teams and its clustered variance mean little
_NO_VARIATION = 1e-8
_CONDITION = 1e10  # a team whose own [1, lags] Gram matrix is worse than this has no own slope


@dataclass
class TeamPersistenceFit:
    """The jackknifed fit of :func:`team_persistence_fit`.

    Attributes
    ----------
    estimates
        Mean over teams of each lag coefficient (``L1.y .. Lp.y``), then ``g`` for each regressor.
    vcov
        Their cluster-robust covariance (clusters are teams or groups of teams).
    influence
        Each cluster's influence on ``estimates`` (clusters x terms), the covariance's ingredient.
    clusters
        The cluster label of each row of ``influence``.
    team_persistence
        Each kept team's jackknifed ``sum_k b_ik``, indexed by team.
    frame
        The estimation frame restricted to the kept teams.
    first_half
        The rows of ``frame`` in the first half of the jackknife (weeks before the median week).
    notes
        What was done, in words (teams dropped and why, coefficients not jackknifed).
    n_lags
        Number of the outcome's lags (the first ``n_lags`` entries of ``estimates``).
    team_persistence_noise
        Each team's estimation variance of its persistence, ``(B_half1 - B_half2)^2 / 4`` from
        the jackknife's halves (NaN without the jackknife).
    """

    estimates: pd.Series
    vcov: pd.DataFrame
    influence: np.ndarray
    clusters: np.ndarray
    team_persistence: pd.Series
    frame: pd.DataFrame
    first_half: np.ndarray
    notes: list[str]
    n_lags: int = 1
    team_persistence_noise: pd.Series | None = None

    def mean_long_run(self, terms: list[str]) -> tuple[float, np.ndarray]:
        """The mean over teams of each team's long run, ``mean_i sum g / (1 - b_i)``, and its
        influence per cluster (rows as :attr:`influence`).

        ``terms`` are the common coefficients summed into ``g`` (a regressor and its lags).
        This, not ``sum g / (1 - mean b_i)``, is the average long-run effect over teams (what
        adds up to an organization's); by Jensen's inequality it is the larger, by 15% for
        ``b_i`` uniform on (0.2, 0.8). Averaging ``1 / (1 - B_i)`` over the teams' own
        estimates would add their noise to it (``E 1 / (1 - B) = 1 / (1 - b) + var / (1 -
        b)^3``: +8% at 104 weeks, 200 teams, spread 0.3), so the mean is taken to second order
        in the spread of the true persistence: ``sum g (1 / (1 - m) + s2 / (1 - m)^3)``, with
        ``m`` the mean persistence and ``s2`` the variance of the teams' own estimates less
        their mean noise (from the halves of the jackknife: ``(B_half1 - B_half2)^2 / 4``;
        without the jackknife the noise is not removed). For ``b_i`` uniform on (0.2, 0.8) the
        second order is 3% below the exact mean (2.24 against 2.31 for ``1 / (1 - b)``).

        The influence is ``H psi_g + g psi_H`` with ``H`` the bracket: ``psi_H`` carries the
        mean persistence's full influence and each team's own contribution to ``s2``,
        ``((B_i - m)^2 - s2 - (noise_i - mean noise)) / N`` (its part through the common
        coefficients is left out: second order). NaN at a mean persistence of 1 or more.
        """
        persistence = self.team_persistence.to_numpy(float)
        n_teams = len(persistence)
        g = float(self.estimates[terms].sum())
        mean = float(persistence.mean())
        if mean >= 1:
            return float("nan"), np.full(len(self.influence), np.nan)
        noise = np.zeros(n_teams)
        if self.team_persistence_noise is not None:
            noise = np.nan_to_num(self.team_persistence_noise.to_numpy(float))
        spread = max(0.0, float(np.mean((persistence - mean) ** 2) - noise.mean()))
        settle = 1 / (1 - mean) + spread / (1 - mean) ** 3
        # each team's cluster, as a row of `influence`
        cluster_of = self.frame.groupby("_entity")["_cluster"].first()
        rows = pd.Index(self.clusters).get_indexer(
            cluster_of.reindex(self.team_persistence.index).to_numpy()
        )
        own_spread = ((persistence - mean) ** 2 - spread - (noise - noise.mean())) / n_teams
        psi_spread = np.bincount(rows, own_spread, len(self.influence)) if spread > 0 else 0.0
        psi_mean = self.influence[:, : self.n_lags].sum(axis=1)
        psi_settle = (1 / (1 - mean) ** 2 + 3 * spread / (1 - mean) ** 4) * psi_mean + (
            psi_spread / (1 - mean) ** 3
        )
        positions = self.estimates.index.get_indexer(pd.Index(terms))  # all there: see g
        psi_g = self.influence[:, positions].sum(axis=1)
        return g * settle, settle * psi_g + g * psi_settle


def team_persistence_fit(
    frame: pd.DataFrame,
    y: str,
    lag_names: list[str],
    x: tuple[str, ...],
    *,
    time_effects: bool = True,
    jackknife: bool = True,
) -> TeamPersistenceFit:
    """Team-specific lag coefficients, common week effects and ``g``; jackknifed; clustered.

    Parameters
    ----------
    frame
        The estimation frame of :func:`cts.estimators.dynamic.dynamic_panel` (columns ``y``,
        ``lag_names``, ``x``, ``_entity``, ``_time``, ``_cluster``; no missing values).
    y, lag_names, x
        Outcome, its lag columns, the regressors with common coefficients.
    time_effects
        Common week effects.
    jackknife
        Split-panel jackknife of all coefficients (``bias_corrected``); without it the plain
        fit (``fe``).

    Returns
    -------
    TeamPersistenceFit

    Notes
    -----
    The halves of the jackknife are calendar halves: the weeks before the panel's median week
    and the rest (each team's own halves, as in the pooled jackknife, would leave the early
    weeks of the second half to the few teams that end early; week effects fitted on two or
    three teams absorb most of their rows and their own slopes explode). A team whose series
    is not cut in the middle gets its own jackknife weights: with ``T1`` and ``T2`` rows in the
    halves, ``b_jack = (1 + 2c) b - c (b_half1 + b_half2)`` with
    ``c = 1 / (T (1/T1 + 1/T2) - 2)``, which removes a bias ``B / T`` of its ``b_i`` whatever
    the split (``c = 1/2`` for equal halves). The common coefficients use ``c = 1/2``.

    A team needs ``MIN_HALF_ROWS * (1 + lags)`` rows in each half (with ``jackknife``; twice
    that in all without it) for its own persistence; teams with fewer rows, or whose lagged
    outcome does not vary in a half, are left out of the fit altogether (their own slope would
    rest on a handful of weeks), which the notes say with their number. A regressor with no
    variation in a half keeps its full-panel coefficient there (no jackknife for it), also
    said in the notes.
    """
    n_lags = len(lag_names)
    notes: list[str] = []
    if frame.empty:
        raise PanelError("no rows to estimate team-specific persistence on")
    weeks = np.unique(frame["_time"].to_numpy())
    middle = weeks[len(weeks) // 2]
    kept = _fit_kept_teams(frame, y, lag_names, x, middle, time_effects, jackknife, notes)
    frame, team, teams = kept.frame, kept.team, kept.teams
    estimate, influence, team_b, noise = _combine_halves(kept, x, n_lags, jackknife, notes)
    notes.append(
        f"persistence is the mean over {len(teams):,} teams of each team's own sum of lag "
        "coefficients (equal weights); week effects and the effects of the regressors are common"
        + (
            f"; split-panel jackknife of all coefficients (halves: weeks before {_label(middle)} "
            "and the rest)"
            if jackknife
            else ""
        )
    )
    cluster_of_team = _team_clusters(frame, team, len(teams))
    cluster_codes, cluster_labels = pd.factorize(cluster_of_team)
    per_cluster = np.zeros((len(cluster_labels), influence.shape[1]))
    np.add.at(per_cluster, cluster_codes, influence)
    names = [*lag_names, *x]
    return TeamPersistenceFit(
        estimates=pd.Series(estimate, index=names),
        vcov=pd.DataFrame(cluster_vcov(per_cluster), index=names, columns=names),
        influence=per_cluster,
        clusters=np.asarray(cluster_labels),
        team_persistence=pd.Series(team_b.sum(axis=1), index=pd.Index(teams, name="team")),
        frame=frame,
        first_half=(frame["_time"] < middle).to_numpy(),
        notes=notes,
        n_lags=n_lags,
        team_persistence_noise=pd.Series(noise, index=pd.Index(teams, name="team")),
    )


@dataclass(frozen=True)
class _KeptTeams:
    """The teams kept for their own persistence and the fits of their row sets."""

    frame: pd.DataFrame  # the rows of the kept teams
    team: np.ndarray  # each row's team code
    teams: pd.Index  # the kept teams
    fits: list[_Fit]  # the full panel, then (with the jackknife) the two calendar halves
    weights: list[np.ndarray]  # each fit's weights on the teams' own coefficients


def _fit_kept_teams(
    frame: pd.DataFrame,
    y: str,
    lag_names: list[str],
    x: tuple[str, ...],
    middle: object,
    time_effects: bool,
    jackknife: bool,
    notes: list[str],
) -> _KeptTeams:
    """Leave out the teams too short, or whose lag does not vary, and fit the row sets.

    Parameters
    ----------
    frame, y, lag_names, x, time_effects, jackknife
        As in :func:`team_persistence_fit`.
    middle
        The first week of the second calendar half.
    notes
        Appended to: the teams left out and why.

    Returns
    -------
    _KeptTeams
    """
    n_lags = len(lag_names)
    needed = MIN_HALF_ROWS * (1 + n_lags)
    dropped = np.zeros(0, dtype=bool)
    for _ in range(2):  # the second pass only if a team's lag does not vary in a row set
        frame = _without_short_teams(frame, middle, needed, jackknife, notes)
        team, teams = pd.factorize(frame["_entity"])
        first = (frame["_time"] < middle).to_numpy()
        sets, weights = _row_sets(team, first, len(teams), jackknife)
        columns = frame[[y, *lag_names, *x]].to_numpy(float)
        fits, flat = _fit_row_sets(
            frame, columns, team, len(teams), sets, weights, n_lags, time_effects
        )
        if not flat.any():
            break
        # Their own [1, lags] are collinear in a row set (a lagged outcome that never moves in
        # a half): no own persistence, so they are left out like the short teams.
        frame = frame.loc[~flat[team]].reset_index(drop=True)
        notes.append(
            f"{int(flat.sum())} teams left out: their lagged outcome does not vary"
            + (" in a half of the panel" if jackknife else "")
        )
        dropped = flat
    if dropped.size and not np.all([f.identified.all() for f in fits]):
        raise PanelError("a team's lagged outcome does not vary: its own persistence is unknown")
    return _KeptTeams(frame=frame, team=team, teams=teams, fits=fits, weights=weights)


def _without_short_teams(
    frame: pd.DataFrame, middle: object, needed: int, jackknife: bool, notes: list[str]
) -> pd.DataFrame:
    """The rows of the teams with ``needed`` rows in each half (twice that in all without the
    jackknife); a note says how many were left out. Refuses fewer than ``_MIN_TEAMS`` teams."""
    entity, labels = pd.factorize(frame["_entity"])
    first = (frame["_time"] < middle).to_numpy()
    rows = np.bincount(entity, minlength=len(labels))
    rows_first = np.bincount(entity, first, minlength=len(labels)).astype(int)
    if jackknife:
        short = (rows_first < needed) | (rows - rows_first < needed)
    else:
        short = rows < 2 * needed
    if short.any():
        frame = frame.loc[~short[entity]].reset_index(drop=True)
        notes.append(
            f"{int(short.sum())} of {len(short)} teams left out: fewer than "
            + (
                f"{needed} weeks before {_label(middle)} or after it (the halves of the jackknife)"
                if jackknife
                else f"{2 * needed} weeks"
            )
            + ", too few to estimate their own persistence"
        )
    if frame["_entity"].nunique() < _MIN_TEAMS:
        raise PanelError(
            f"team-specific persistence needs at least {_MIN_TEAMS} teams with "
            + (f"{needed} weeks in each half of the panel" if jackknife else "enough weeks")
        )
    return frame


def _row_sets(
    team: np.ndarray, first: np.ndarray, n_teams: int, jackknife: bool
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The row sets to fit (all rows; with the jackknife also the two halves) and each one's
    weights on the teams' own coefficients (module docstring; 1/2 for equal halves)."""
    rows = np.bincount(team).astype(float)
    rows_first = np.bincount(team, first)
    sets = [np.ones(len(team), dtype=bool)]
    weights = [np.ones(n_teams)]
    if jackknife:
        c = 1 / (rows * (1 / rows_first + 1 / (rows - rows_first)) - 2)
        sets += [first, ~first]
        weights = [1 + 2 * c, -c, -c]
    return sets, weights


def _combine_halves(
    kept: _KeptTeams, x: tuple[str, ...], n_lags: int, jackknife: bool, notes: list[str]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The jackknifed coefficients, their team influence, each team's own lag coefficients
    and the noise of its persistence (NaN without the jackknife).

    The lag coefficients add the halves' team-weighted means to the full fit's; the common
    coefficients are ``2 full - mean of the halves``. A regressor with no variation in a half
    keeps its full-panel coefficient there (a note says so).
    """
    fits, weights = kept.fits, kept.weights
    full = fits[0]
    estimate, influence = full.estimate.copy(), full.influence.copy()
    team_b = full.team_b * weights[0][:, None]
    # the noise of each team's own persistence: its halves differ by about twice its SD
    noise = np.full(len(kept.teams), np.nan)
    if not jackknife:
        return estimate, influence, team_b, noise
    for half, w in zip(fits[1:], weights[1:], strict=True):
        missing = ~half.varies
        if missing.any():
            names = [x[j] for j in np.flatnonzero(missing)]
            notes.append(
                f"{', '.join(names)}: no variation in a half panel; full-panel coefficient "
                "kept there (not jackknifed)"
            )
            half.estimate[n_lags:][missing] = full.estimate[n_lags:][missing]
            half.influence[:, n_lags:][:, missing] = full.influence[:, n_lags:][:, missing]
        # Lag coefficients: the team weights are inside each fit's weighted mean.
        estimate[:n_lags] += half.estimate[:n_lags]
        influence[:, :n_lags] += half.influence[:, :n_lags]
        team_b += half.team_b * w[:, None]
    noise = (fits[1].team_b.sum(axis=1) - fits[2].team_b.sum(axis=1)) ** 2 / 4
    # Common coefficients: 2 full - mean of the halves.
    common = slice(n_lags, None)
    estimate[common] = (
        2 * full.estimate[common] - (fits[1].estimate[common] + fits[2].estimate[common]) / 2
    )
    influence[:, common] = (
        2 * full.influence[:, common]
        - (fits[1].influence[:, common] + fits[2].influence[:, common]) / 2
    )
    return estimate, influence, team_b, noise


def persistence_homogeneity_test(
    frame: pd.DataFrame,
    y: str,
    lag_names: list[str],
    x: tuple[str, ...],
    *,
    time_effects: bool = True,
    team_fit: TeamPersistenceFit | None = None,
    alpha: float = 0.05,
) -> TestStatistic | None:
    """Test that the pooled persistence equals the mean of the teams' own persistence.

    A Hausman-type test (pooled against mean group, Pesaran, Smith & Im 1996): the difference
    between the pooled persistence (``bias_corrected``: one ``b`` for every team) and the mean
    of the teams' own ``sum_k b_ik`` (:func:`team_persistence_fit`), on the same teams, both
    split-panel jackknifed on the same halves (each team's own series cut in the middle, as
    ``bias_corrected``), over its cluster-robust standard error from both estimators' cluster
    influence (so their correlation counts): ``d^2 / var(d)``, chi-squared with 1 df.

    Under homogeneous persistence both estimate the same ``b``. Under heterogeneity the pooled
    estimate weights teams by the variance of their lagged outcome, which rises with ``b_i``,
    so it moves above the mean, and that move is what this test detects. It is blind to a spread
    of ``b_i`` that leaves the pooled estimate at the mean, but such a spread does not bias the
    pooled estimate either, so the test answers the question that matters for the choice of
    estimator. (A test of ``b_i = b`` for every team, e.g. the delta test of Pesaran &
    Yamagata 2008, would also reject spreads that do not matter here; not implemented.)

    Measured (``benchmarks/mc_heterogeneous.py``, 200 teams, 150 panels a cell, CR /
    deployment velocity, 5% level): without a spread it rejects 14% / 6% at 39 weeks and
    7% / 4% at 104 (MC SE about 2%); with ``persistence_spread=0.3`` 100% / 81% at 39 weeks
    and 100% / 100% at 104. The CR size at 39 weeks is too high: there the pooled jackknife
    keeps about +0.2% and the team jackknife about -1.5% of O(1/T^2) bias, a third of the
    difference's SE. Below a median of :data:`MIN_TEST_WEEKS` weeks a team those remainders
    grow (rejection 13-38% at 13 and 26 weeks), so it returns ``None`` there.

    Parameters
    ----------
    frame, y, lag_names, x, time_effects
        As in :func:`team_persistence_fit`.
    team_fit
        A :func:`team_persistence_fit` already computed on ``frame`` (spares a second fit).
    alpha
        Level of the verdict.

    Returns
    -------
    TestStatistic or None
        ``None`` when it cannot tell: a median under :data:`MIN_TEST_WEEKS` weeks a team,
        fewer than 10 teams with their own persistence, a zero or non-finite variance; never a
        p-value of 1.
    """
    try:
        fit = team_fit or team_persistence_fit(frame, y, lag_names, x, time_effects=time_effects)
    except PanelError:
        return None
    n_lags = len(lag_names)
    kept = fit.frame
    if np.median(kept.groupby("_entity", sort=False).size()) < MIN_TEST_WEEKS:
        return None
    # Both sides jackknifed on the same halves (each team's own series, as bias_corrected), so
    # that their O(1/T^2) remainders are alike under the null: with the calendar halves of the
    # estimate on one side only, the clean-panel size was 8-13% at 104 weeks.
    for _ in range(2):
        split = SplitPanel(kept, time_effects)
        team, teams = pd.factorize(kept["_entity"])
        columns = kept[[y, *lag_names, *x]].to_numpy(float)
        weights = [np.full(len(teams), weight) for weight in (2.0, -0.5, -0.5)]
        fits, flat = _fit_row_sets(
            kept, columns, team, len(teams), split.masks, weights, n_lags, time_effects
        )
        if not flat.any():
            break
        kept = kept.loc[~flat[team]].reset_index(drop=True)
    if flat.any() or kept["_entity"].nunique() < _MIN_TEAMS:
        return None
    mean = float(sum(f.estimate[:n_lags].sum() for f in fits))
    team_psi = sum(f.influence[:, :n_lags].sum(axis=1) for f in fits)
    cluster_codes, clusters = pd.factorize(_team_clusters(kept, team, len(teams)))
    mean_psi = np.bincount(cluster_codes, team_psi, len(clusters))
    parts = split.within(columns)
    coef, pooled_influence = split_panel_fit(
        split, [p[:, 1:] for p in parts], [p[:, :1] for p in parts], n_lags
    )
    # The pooled fit's clusters are in order of first appearance in `kept`, as are ours.
    order = pd.Index(pd.factorize(kept["_cluster"])[1]).get_indexer(clusters)
    pooled_psi = pooled_influence[order, :n_lags, 0].sum(axis=1)
    difference = mean - float(coef[:n_lags, 0].sum())
    psi = mean_psi - pooled_psi
    variance = float(cluster_vcov(psi[:, None])[0, 0])
    if not np.isfinite(variance) or variance <= 0:
        return None
    statistic = difference**2 / variance
    return TestStatistic(
        name="homogeneous persistence (pooled vs mean over teams)",
        statistic=statistic,
        df=1,
        p_value=float(stats.chi2.sf(statistic, 1)),
        null="the pooled persistence equals the mean of the teams' own persistence",
        distribution="chi2",
        alpha=alpha,
    )


# --- the direct solve ----------------------------------------------------------------------------


@dataclass
class _Fit:
    estimate: np.ndarray  # mean lag coefficients, then g
    influence: np.ndarray  # teams x (lags + k)
    team_b: np.ndarray  # teams x lags
    identified: np.ndarray  # teams: own [1, lags] Gram matrix invertible
    varies: np.ndarray  # regressors with variation after the projections


def _fit_row_sets(
    frame: pd.DataFrame,
    columns: np.ndarray,
    team: np.ndarray,
    n_teams: int,
    masks: list[np.ndarray],
    weights: list[np.ndarray],
    n_lags: int,
    time_effects: bool,
) -> tuple[list, np.ndarray]:
    """:func:`_fit` on each row set, and the teams whose own persistence one of them lacks."""
    times = fixed_effect_periods(frame)  # weeks, or group x weeks
    fits = [
        _fit(
            team[mask],
            times[mask] if time_effects else None,
            columns[mask],
            n_lags,
            n_teams,
            w,
        )
        for mask, w in zip(masks, weights, strict=True)
    ]
    flat = np.zeros(n_teams, dtype=bool)
    for fit in fits:
        flat |= ~fit.identified
    return fits, flat


def _fit(
    team: np.ndarray,
    times: np.ndarray | None,
    columns: np.ndarray,
    n_lags: int,
    n_teams: int,
    team_weights: np.ndarray,
) -> _Fit:
    """One row set: OLS of ``y`` on team x ``[1, lags]``, week dummies and ``x``, by team blocks.

    ``columns`` holds ``y``, the lags, then ``x``. Returns ``sum_i w_i b_i / N`` (``w`` the
    ``team_weights``: 1 for the mean, the jackknife weights otherwise) and ``g`` with each
    team's influence on them.
    """
    y, lags, x = columns[:, 0], columns[:, 1 : 1 + n_lags], columns[:, 1 + n_lags :]
    own = _OwnRegressions.of(team, lags, n_teams)
    x_tilde = own.residuals(x)
    varies = np.abs(x_tilde).max(axis=0, initial=0) > _NO_VARIATION
    x_kept = x_tilde[:, varies]
    if not varies.any():
        # e.g. a calendar half in which every team's usage is constant (all adopted at once)
        raise PanelError(
            "no regressor varies within teams once each team's own level and lags are taken "
            "out (in this set of weeks), so the common effect is not identified with "
            "team-specific persistence"
        )
    y_tilde = own.residuals(y[:, None])[:, 0]
    k = x_kept.shape[1]
    n_times = 0
    if times is not None:
        times = pd.factorize(times, sort=True)[0]  # the weeks of this row set only
        n_times = int(times.max()) + 1
    normal, rhs = _common_normal_equations(own, times, n_times, x_kept, y_tilde)
    normal_inverse = np.linalg.inv(normal)
    theta = normal_inverse @ rhs
    weeks = np.zeros(max(n_times, 1))
    weeks[1:n_times] = theta[: max(n_times - 1, 0)]
    g = theta[len(theta) - k :]
    common = x[:, varies] @ g + (weeks[times] if times is not None else 0.0)
    own_b = own.coefficients((y - common)[:, None])[:, :, 0]  # teams x width
    residuals = y_tilde - (own.residuals(common[:, None])[:, 0])
    theta_influence = _common_influence(own, times, n_times, x_kept, residuals, normal_inverse)
    # The mean of b_i given the common coefficients: d mean(b) / d theta = -(1/N) sum q_r [d_r, x_r]
    lag_weights = own.q[:, 1:] * team_weights[team][:, None]
    gradient = [-(lag_weights.T @ x[:, varies]) / n_teams]
    if times is not None:
        per_week = np.stack([np.bincount(times, c, n_times) for c in lag_weights.T])
        gradient.insert(0, -per_week[:, 1:] / n_teams)
    gradient_matrix = np.concatenate(gradient, axis=1)  # lags x theta
    team_b = own_b[:, 1:]
    weighted_b = team_b * team_weights[:, None]
    mean_b = weighted_b.mean(axis=0)
    b_influence = (weighted_b - mean_b) / n_teams + theta_influence @ gradient_matrix.T
    g_full = np.zeros(x.shape[1])
    g_full[varies] = g
    g_influence = np.zeros((n_teams, x.shape[1]))
    g_influence[:, varies] = theta_influence[:, theta_influence.shape[1] - k :]
    return _Fit(
        estimate=np.concatenate([mean_b, g_full]),
        influence=np.concatenate([b_influence, g_influence], axis=1),
        team_b=team_b,
        identified=own.identified,
        varies=varies,
    )


@dataclass(frozen=True)
class _OwnRegressions:
    """Each team's own regression on ``z = [1, lags]``, row by row: ``q_r = A_i z_r`` with
    ``A_i`` the inverse of team ``i``'s Gram matrix."""

    team: np.ndarray  # each row's team code
    z: np.ndarray  # rows x width: [1, lags]
    inverse: np.ndarray  # teams x width x width: A_i
    q: np.ndarray  # rows x width: A_i z_r
    identified: np.ndarray  # teams: own Gram matrix invertible
    n_teams: int

    @classmethod
    def of(cls, team: np.ndarray, lags: np.ndarray, n_teams: int) -> _OwnRegressions:
        """The teams' Gram matrices of ``[1, lags]`` and their inverses (the identity, a
        placeholder, for a team whose matrix is singular: the caller refuses such teams)."""
        z = np.column_stack([np.ones(len(lags)), lags])
        width = z.shape[1]
        gram = np.zeros((n_teams, width, width))
        for a in range(width):
            for b in range(a, width):
                gram[:, a, b] = gram[:, b, a] = np.bincount(team, z[:, a] * z[:, b], n_teams)
        identified = np.linalg.cond(gram) < _CONDITION
        gram[~identified] = np.eye(width)  # placeholders; the caller refuses unidentified teams
        inverse = np.linalg.inv(gram)
        q = np.einsum("rab,rb->ra", inverse[team], z)
        return cls(team, z, inverse, q, identified, n_teams)

    def coefficients(self, values: np.ndarray) -> np.ndarray:
        """Each team's OLS coefficients of the columns of ``values`` on its own [1, lags]."""
        team, n_teams = self.team, self.n_teams
        return np.stack(
            [
                np.stack([np.bincount(team, self.q[:, a] * v, n_teams) for v in values.T], -1)
                for a in range(self.z.shape[1])
            ],
            axis=1,
        )  # teams x width x columns

    def residuals(self, values: np.ndarray) -> np.ndarray:
        """Residuals of each team's own regression of ``values`` on its [1, lags]."""
        return values - np.einsum("ra,ram->rm", self.z, self.coefficients(values)[self.team])


def _common_normal_equations(
    own: _OwnRegressions,
    times: np.ndarray | None,
    n_times: int,
    x_kept: np.ndarray,
    y_tilde: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Normal equations of the week effects (the first week dropped) and ``g`` on the data
    projected off each team's own ``[1, lags]``: the matrix and the right-hand side.

    Week block: ``D'M D = diag(n_t) - sum_i (Z_i A_i Z_i')`` placed at the team's weeks
    ``= diag(n_t) - H'H`` with ``H``'s rows ``(team, a) = (L_i' z_r)_a`` at week ``t``.
    """
    if times is None:
        return x_kept.T @ x_kept, x_kept.T @ y_tilde
    team, n_teams, k = own.team, own.n_teams, x_kept.shape[1]
    width = own.z.shape[1]
    cholesky = np.linalg.cholesky(own.inverse)  # A_i = L_i L_i'
    w = np.einsum("rab,ra->rb", cholesky[team], own.z)
    h = np.zeros((n_teams * width, n_times))
    for a in range(width):
        h[team * width + a, times] = w[:, a]
    week_block = np.diag(np.bincount(times, minlength=n_times).astype(float)) - h.T @ h
    cross = np.stack([np.bincount(times, c, n_times) for c in x_kept.T], -1).reshape(n_times, k)
    normal = np.block([[week_block[1:, 1:], cross[1:]], [cross[1:].T, x_kept.T @ x_kept]])
    rhs = np.concatenate([np.bincount(times, y_tilde, n_times)[1:], x_kept.T @ y_tilde])
    return normal, rhs


def _common_influence(
    own: _OwnRegressions,
    times: np.ndarray | None,
    n_times: int,
    x_kept: np.ndarray,
    residuals: np.ndarray,
    normal_inverse: np.ndarray,
) -> np.ndarray:
    """Influence of the common coefficients, team by team: ``(R~'R~)^-1 R_i' e_i``."""
    team, n_teams, k = own.team, own.n_teams, x_kept.shape[1]
    scores: list[np.ndarray] = [
        np.stack([np.bincount(team, c * residuals, n_teams) for c in x_kept.T], -1)
    ]
    scores[0] = scores[0].reshape(n_teams, k)
    if times is not None:
        by_week = np.zeros((n_teams, n_times))
        by_week[team, times] = residuals
        scores.insert(0, by_week[:, 1:])
    return np.concatenate(scores, axis=1) @ normal_inverse


def _label(week: object) -> str:
    return str(pd.Timestamp(week).date()) if isinstance(week, np.datetime64) else str(week)


def _team_clusters(frame: pd.DataFrame, team: np.ndarray, n_teams: int) -> np.ndarray:
    """The cluster of each team; teams must be nested in clusters (the mean is over teams)."""
    clusters = pd.factorize(frame["_cluster"])[0]
    first = np.zeros(n_teams, dtype=np.int64)
    first[team[::-1]] = clusters[::-1]  # any row's cluster; then check all rows agree
    if np.any(first[team] != clusters):
        raise ValueError("team_persistence needs every team inside one cluster")
    labels = pd.factorize(frame["_cluster"])[1]
    return np.asarray(labels)[first]
