"""Team-specific persistence: the mean-group persistence with common week and usage effects.

The model is ``y_it = a_i + l_t + sum_k b_ik y_i,t-k + g' x_it + e_it``: each team has its own
intercept and its own coefficients on the outcome's lags, while the week effects ``l_t`` and the
effects ``g`` of usage and controls (and their distributed lags) are common. The reported
persistence is the mean over teams of ``sum_k b_ik`` with equal weights (the truth of
``simulate_org(persistence_spread=...)``), and the long run is ``sum g / (1 - persistence)``.

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

The O(1/T) bias of every coefficient (each team's ``b_i`` has the Nickell-type bias of a short
autoregression, and ``g`` inherits it) is removed by the split-panel jackknife of *all*
coefficients (Dhaene & Jochmans 2015): each half of every team's own series re-estimates every
``b_i``, the week effects and ``g``, and the estimate is ``2 full - mean(halves)``.

Inference is clustered by team: each team's influence on the mean persistence is its own
``(b_i - mean b) / N`` plus the effect, through the common coefficients, of its scores. The
variance of a mean over teams therefore includes the true spread of ``b_i``, which is right for
the population mean (the teams could have been others).

:func:`persistence_homogeneity_test` asks whether the pooled persistence (``bias_corrected``)
differs from this mean: a Hausman-type test of the difference with the cluster influence of both.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from cts.core.results import TestStatistic
from cts.estimators.jackknife import SplitPanel, cluster_vcov, split_panel_fit
from cts.panel import PanelError

__all__ = [
    "MIN_HALF_ROWS",
    "TeamPersistenceFit",
    "persistence_homogeneity_test",
    "team_persistence_fit",
]

#: Rows a team needs in each half of its own series, per coefficient of its own regression on
#: ``[1, y_lag_1..p]``, to keep its own persistence in the jackknife (and so in the estimate).
MIN_HALF_ROWS = 2
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
    notes
        What was done, in words (teams dropped and why, coefficients not jackknifed).
    """

    estimates: pd.Series
    vcov: pd.DataFrame
    influence: np.ndarray
    clusters: np.ndarray
    team_persistence: pd.Series
    frame: pd.DataFrame
    notes: list[str]


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
    A team needs ``MIN_HALF_ROWS * (1 + lags)`` rows in each half of its own series (with
    ``jackknife``; in the whole series without it) for its own persistence; teams with fewer
    rows are left out of the fit altogether (their own slope would rest on a handful of weeks
    and its O(1/T) bias would be beyond any correction), which the notes say with their number.
    A regressor with no variation in a half keeps its full-panel coefficient there (no jackknife
    for it), also said in the notes.
    """
    n_lags = len(lag_names)
    width = 1 + n_lags
    notes: list[str] = []
    entity = pd.factorize(frame["_entity"])[0]
    size = np.bincount(entity)
    needed = MIN_HALF_ROWS * width * (2 if jackknife else 1)
    short = size < needed
    if short.any():
        frame = frame.loc[~short[entity]].reset_index(drop=True)
        notes.append(
            f"{int(short.sum())} of {len(size)} teams with fewer than {needed} weeks left out: "
            f"too few to estimate their own persistence{' in each half' if jackknife else ''}"
        )
    if frame.empty or frame["_entity"].nunique() < _MIN_TEAMS:
        raise PanelError(
            f"team-specific persistence needs at least {_MIN_TEAMS} teams with {needed} weeks "
            "or more"
        )
    team, teams, fits = _fit_row_sets(frame, y, lag_names, x, time_effects, jackknife)
    flat = np.zeros(len(teams), dtype=bool)
    for fit in fits:
        flat |= ~fit.identified
    if flat.any():
        # Their own [1, lags] are collinear in a row set (a lagged outcome that never moves in a
        # half): no own persistence, so they are left out like the short teams.
        frame = frame.loc[~flat[team]].reset_index(drop=True)
        notes.append(
            f"{int(flat.sum())} teams left out: their lagged outcome does not vary"
            f"{' in a half of their series' if jackknife else ''}"
        )
        if frame["_entity"].nunique() < _MIN_TEAMS:
            raise PanelError(f"team-specific persistence needs at least {_MIN_TEAMS} teams")
        team, teams, fits = _fit_row_sets(frame, y, lag_names, x, time_effects, jackknife)
    full = fits[0]
    estimate, influence, team_b = full.estimate, full.influence, full.team_b
    if jackknife:
        for half in fits[1:]:
            missing = ~half.varies
            if missing.any():
                names = [x[j] for j in np.flatnonzero(missing)]
                notes.append(
                    f"{', '.join(names)}: no variation in a half panel; full-panel coefficient "
                    "kept there (not jackknifed)"
                )
                half.estimate[n_lags:][missing] = full.estimate[n_lags:][missing]
                half.influence[:, n_lags:][:, missing] = full.influence[:, n_lags:][:, missing]
        estimate = 2 * full.estimate - (fits[1].estimate + fits[2].estimate) / 2
        influence = 2 * full.influence - (fits[1].influence + fits[2].influence) / 2
        team_b = 2 * full.team_b - (fits[1].team_b + fits[2].team_b) / 2
    notes.append(
        f"persistence is the mean over {len(teams):,} teams of each team's own sum of lag "
        "coefficients (equal weights); week effects and the effects of the regressors are common"
        + ("; split-panel jackknife of all coefficients" if jackknife else "")
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
        notes=notes,
    )


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

    A Hausman-type test (Pesaran, Smith & Im 1996, pooled against mean group): the
    difference between the pooled jackknifed persistence (``bias_corrected``, one ``b`` for
    every team) and the jackknifed mean of the team-specific ``sum_k b_ik``
    (:func:`team_persistence_fit`), on the same teams, over its cluster-robust standard error
    from both estimators' cluster influence (so their correlation is accounted for):
    ``d^2 / var(d)``, chi-squared with 1 df.

    Under homogeneous persistence both estimate the same ``b``. Under heterogeneity the pooled
    estimate weights teams by the variance of their lagged outcome, which rises with ``b_i``,
    so it moves above the mean, and that move is what this test detects. It is blind to a spread
    of ``b_i`` that leaves the pooled estimate at the mean, but that spread does not bias the
    pooled estimate either, so the test answers the question that matters for the choice of
    estimator. (The Pesaran & Yamagata 2008 delta test of ``b_i = b`` for all ``i`` needs
    normal errors for its small-T adjustment and is oversized with a lagged outcome at small T.)

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
        ``None`` when the difference has no usable variance (fewer than 10 teams, a zero or
        non-finite variance), never a p-value of 1.
    """
    try:
        fit = team_fit or team_persistence_fit(frame, y, lag_names, x, time_effects=time_effects)
    except PanelError:
        return None
    kept = fit.frame
    split = SplitPanel(kept, time_effects)
    parts = split.within(kept[[y, *lag_names, *x]].to_numpy(float))
    coef, pooled_influence = split_panel_fit(
        split, [p[:, 1:] for p in parts], [p[:, :1] for p in parts], len(lag_names)
    )
    pooled = float(coef[: len(lag_names), 0].sum())
    # The pooled fit's clusters are in the order of first appearance in `kept`, as are ours.
    pooled_clusters = pd.factorize(kept["_cluster"])[1]
    order = pd.Index(pooled_clusters).get_indexer(fit.clusters)
    if (order < 0).any():
        return None
    pooled_psi = pooled_influence[order, : len(lag_names), 0].sum(axis=1)
    mean_psi = fit.influence[:, : len(lag_names)].sum(axis=1)
    difference = float(fit.estimates[lag_names].sum()) - pooled
    psi = mean_psi - pooled_psi
    variance = float(cluster_vcov(psi[:, None])[0, 0])
    if not np.isfinite(variance) or variance <= 0 or len(psi) < _MIN_TEAMS:
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


def _fit_row_sets(
    frame: pd.DataFrame,
    y: str,
    lag_names: list[str],
    x: tuple[str, ...],
    time_effects: bool,
    jackknife: bool,
) -> tuple[np.ndarray, pd.Index, list[_Fit]]:
    """The fit on the full panel and (with ``jackknife``) on each half of every team's series."""
    split = SplitPanel(frame, time_effects)
    team, teams = pd.factorize(frame["_entity"])
    times = frame["_time"].to_numpy() if time_effects else None
    columns = frame[[y, *lag_names, *x]].to_numpy(float)
    sets = split.masks if jackknife else split.masks[:1]
    fits = [
        _fit(
            team[mask],
            None if times is None else times[mask],
            columns[mask],
            len(lag_names),
            len(teams),
        )
        for mask in sets
    ]
    return team, teams, fits


@dataclass
class _Fit:
    estimate: np.ndarray  # mean lag coefficients, then g
    influence: np.ndarray  # teams x (lags + k)
    team_b: np.ndarray  # teams x lags
    identified: np.ndarray  # teams: own [1, lags] Gram matrix invertible
    varies: np.ndarray  # regressors with variation after the projections


def _fit(
    team: np.ndarray,
    times: np.ndarray | None,
    columns: np.ndarray,
    n_lags: int,
    n_teams: int,
) -> _Fit:
    """One row set: OLS of ``y`` on team x ``[1, lags]``, week dummies and ``x``, by team blocks.

    ``columns`` holds ``y``, the lags, then ``x``. Returns the mean over teams of the lag
    coefficients and ``g`` with each team's influence on them.
    """
    y, lags, x = columns[:, 0], columns[:, 1 : 1 + n_lags], columns[:, 1 + n_lags :]
    z = np.column_stack([np.ones(len(y)), lags])
    width = z.shape[1]
    gram = np.zeros((n_teams, width, width))
    for a in range(width):
        for b in range(a, width):
            gram[:, a, b] = gram[:, b, a] = np.bincount(team, z[:, a] * z[:, b], n_teams)
    identified = np.linalg.cond(gram) < _CONDITION
    gram[~identified] = np.eye(width)  # placeholders; the caller refuses unidentified teams
    inverse = np.linalg.inv(gram)
    weights = np.einsum("rab,rb->ra", inverse[team], z)  # q_r = A_i z_r

    def own_coefficients(values: np.ndarray) -> np.ndarray:
        """Each team's OLS coefficients of the columns of ``values`` on its own [1, lags]."""
        return np.stack(
            [
                np.stack([np.bincount(team, weights[:, a] * v, n_teams) for v in values.T], -1)
                for a in range(width)
            ],
            axis=1,
        )  # teams x width x columns

    def project(values: np.ndarray) -> np.ndarray:
        """Residuals of each team's own regression of ``values`` on its [1, lags]."""
        return values - np.einsum("ra,ram->rm", z, own_coefficients(values)[team])

    x_tilde = project(x)
    varies = np.abs(x_tilde).max(axis=0, initial=0) > _NO_VARIATION
    x_kept = x_tilde[:, varies]
    y_tilde = project(y[:, None])[:, 0]
    k = x_kept.shape[1]
    if times is not None:
        times = pd.factorize(times, sort=True)[0]  # the weeks of this row set only
        n_times = int(times.max()) + 1
        # Week block of the normal equations: D'M D = diag(n_t) - sum_i (Z_i A_i Z_i') placed
        # at the team's weeks = diag(n_t) - H'H with H's rows (team, a) = (L_i' z_r)_a at week t.
        cholesky = np.linalg.cholesky(inverse)  # A_i = L_i L_i'
        w = np.einsum("rab,ra->rb", cholesky[team], z)
        h = np.zeros((n_teams * width, n_times))
        for a in range(width):
            h[team * width + a, times] = w[:, a]
        week_block = np.diag(np.bincount(times, minlength=n_times).astype(float)) - h.T @ h
        cross = np.stack([np.bincount(times, c, n_times) for c in x_kept.T], -1).reshape(n_times, k)
        normal = np.block([[week_block[1:, 1:], cross[1:]], [cross[1:].T, x_kept.T @ x_kept]])
        rhs = np.concatenate([np.bincount(times, y_tilde, n_times)[1:], x_kept.T @ y_tilde])
    else:
        n_times = 0
        normal, rhs = x_kept.T @ x_kept, x_kept.T @ y_tilde
    normal_inverse = np.linalg.inv(normal)
    theta = normal_inverse @ rhs
    weeks = np.zeros(max(n_times, 1))
    weeks[1:n_times] = theta[: max(n_times - 1, 0)]
    g = theta[len(theta) - k :]
    common = x[:, varies] @ g + (weeks[times] if times is not None else 0.0)
    own = own_coefficients((y - common)[:, None])[:, :, 0]  # teams x width
    residuals = y_tilde - (project(common[:, None])[:, 0])

    # Influence of the common coefficients, team by team: (R~'R~)^-1 R_i' e_i.
    scores = [np.stack([np.bincount(team, c * residuals, n_teams) for c in x_kept.T], -1)]
    scores[0] = scores[0].reshape(n_teams, k)
    if times is not None:
        by_week = np.zeros((n_teams, n_times))
        by_week[team, times] = residuals
        scores.insert(0, by_week[:, 1:])
    theta_influence = np.concatenate(scores, axis=1) @ normal_inverse
    # The mean of b_i given the common coefficients: d mean(b) / d theta = -(1/N) sum q_r [d_r, x_r]
    lag_weights = weights[:, 1:]
    gradient = [-(lag_weights.T @ x[:, varies]) / n_teams]
    if times is not None:
        per_week = np.stack([np.bincount(times, c, n_times) for c in lag_weights.T])
        gradient.insert(0, -per_week[:, 1:] / n_teams)
    gradient_matrix = np.concatenate(gradient, axis=1)  # lags x theta
    team_b = own[:, 1:]
    mean_b = team_b.mean(axis=0)
    b_influence = (team_b - mean_b) / n_teams + theta_influence @ gradient_matrix.T
    g_full = np.zeros(x.shape[1])
    g_full[varies] = g
    g_influence = np.zeros((n_teams, x.shape[1]))
    g_influence[:, varies] = theta_influence[:, theta_influence.shape[1] - k :]
    return _Fit(
        estimate=np.concatenate([mean_b, g_full]),
        influence=np.concatenate([b_influence, g_influence], axis=1),
        team_b=team_b,
        identified=identified,
        varies=varies,
    )


def _team_clusters(frame: pd.DataFrame, team: np.ndarray, n_teams: int) -> np.ndarray:
    """The cluster of each team; teams must be nested in clusters (the mean is over teams)."""
    clusters = pd.factorize(frame["_cluster"])[0]
    first = np.zeros(n_teams, dtype=np.int64)
    first[team[::-1]] = clusters[::-1]  # any row's cluster; then check all rows agree
    if np.any(first[team] != clusters):
        raise ValueError("team_persistence needs every team inside one cluster")
    labels = pd.factorize(frame["_cluster"])[1]
    return np.asarray(labels)[first]
