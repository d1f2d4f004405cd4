"""Residual serial-correlation test for fixed-effects dynamic panels (``fe``, ``bias_corrected``).

The Arellano–Bond (1991) idea, applied to a fixed-effects fit: first differences remove the
team effects, so under the null of serially uncorrelated level errors ``e_it`` the differenced
residuals are MA(1) and ``E[de_it de_i,t-2] = 0``. With AR(1) shocks of coefficient ``rho`` the
covariance is ``-rho (1 - rho)^2 var(e)``, negative; an omitted lag of the outcome or of usage
leaves a similar pattern. A within (demeaned) residual would not do: demeaning makes even white
noise serially correlated, by about ``-1 / (T - 1)``.

The residuals come from the split-panel jackknife fit (Dhaene & Jochmans 2015), also when the
reported method is ``fe``: the Nickell bias of the plain FE coefficients, ``O(1/T)``, would bias
the statistic by ``O(sqrt(N / T))`` standard deviations. Estimation error in the coefficients is
carried into the variance by the delta method with the fit's cluster influence functions (as
Arellano & Bond do for GMM), so the statistic is ``N(0, 1)`` under the null with many clusters.
Period effects are removed from the differenced residuals by their period means.

Hand-written: no panel library tests FE residuals this way (linearmodels and pyfixest have no
serial-correlation test for dynamic panels; the Wooldridge test assumes strict exogeneity).

References
----------
Arellano & Bond (1991), Review of Economic Studies 58(2). Dhaene & Jochmans (2015), Review of
Economic Studies 82(3). Born & Breitung (2016), Econometric Reviews 35(7), for an alternative.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from cts.core.results import TestStatistic
from cts.estimators.jackknife import SplitPanel, fixed_effect_periods, split_panel_fit

__all__ = ["previous_rows", "residual_serial_correlation"]


def residual_serial_correlation(
    frame: pd.DataFrame,
    y: str,
    lag_names: list[str],
    x: tuple[str, ...] | list[str],
    *,
    time_effects: bool = True,
    order: int = 2,
    coef: np.ndarray | None = None,
    influence: np.ndarray | None = None,
) -> TestStatistic | None:
    """Test of no order-``order`` serial correlation in the differenced residuals.

    Parameters
    ----------
    frame
        The estimation frame of :func:`cts.estimators.dynamic.dynamic_panel` (columns ``y``,
        ``lag_names``, ``x``, ``_entity``, ``_time``, ``_cluster``).
    y, lag_names, x
        Outcome, the names of its lags and the other regressors, in the fit's order.
    time_effects
        Whether the model has period effects.
    order
        2 (default) tests the model; 1 is expected to reject (differenced errors are MA(1)).
    coef, influence
        A split-panel jackknife fit of this frame (``k`` coefficients, ``clusters x k``
        influence), to avoid refitting; fitted here when omitted.

    Returns
    -------
    TestStatistic or None
        ``z`` with a two-sided normal p-value; ``None`` when no team has ``order + 2``
        consecutive periods.
    """
    if order < 1:
        raise ValueError("order must be >= 1")
    columns = [*lag_names, *x]
    if coef is None or influence is None:
        split = SplitPanel(frame, time_effects)
        parts = split.within(frame[[y, *columns]].to_numpy(float))
        fit, psi = split_panel_fit(
            split, [p[:, 1:] for p in parts], [p[:, :1] for p in parts], len(lag_names)
        )
        coef, influence = fit[:, 0], psi[:, :, 0]
    coef, influence = np.asarray(coef, float).ravel(), np.asarray(influence, float)

    regressors = frame[columns].to_numpy(float)
    residual = frame[y].to_numpy(float) - regressors @ coef
    regressors = np.ascontiguousarray(regressors)  # rows gathered below: row-major is faster
    previous, earlier = previous_rows(frame, (1, order))
    has_diff = previous >= 0
    rows = np.flatnonzero(has_diff)
    d_residual = residual[rows] - residual[previous[rows]]
    # np.take: row gathers of 2-D arrays are several times faster than fancy indexing
    d_regressors = np.take(regressors, rows, axis=0) - np.take(regressors, previous[rows], axis=0)
    if time_effects:  # the period effects' differences, estimated by period means
        periods = pd.factorize(fixed_effect_periods(frame)[rows])[0]
        counts = np.bincount(periods)
        d_residual = d_residual - (np.bincount(periods, d_residual) / counts)[periods]
        means = np.stack(
            [np.bincount(periods, d_regressors[:, j]) for j in range(d_regressors.shape[1])], 1
        )
        d_regressors -= np.take(means / counts[:, None], periods, axis=0)

    # Pair each differenced row with the one `order` periods earlier in the same team.
    position = np.full(len(frame), -1)
    position[rows] = np.arange(len(rows))
    earlier_row = earlier[rows]
    partner = np.where(earlier_row >= 0, position[np.maximum(earlier_row, 0)], -1)
    now = np.flatnonzero(partner >= 0)
    if len(now) == 0:
        return None
    then = partner[now]
    products = d_residual[now] * d_residual[then]
    # Influence rows follow the fit's cluster order (factorized on the whole frame).
    clusters, fit_clusters = pd.factorize(frame["_cluster"])
    per_cluster = np.bincount(clusters[rows][now], products, minlength=len(fit_clusters))
    # d S / d coef: how the statistic moves with the coefficients' estimation error.
    gradient = -(
        np.take(d_regressors, now, axis=0).T @ d_residual[then]
        + np.take(d_regressors, then, axis=0).T @ d_residual[now]
    )
    contribution = influence @ gradient + per_cluster
    n_clusters = len(contribution)
    variance = contribution @ contribution * n_clusters / (n_clusters - 1)
    z = float(products.sum() / np.sqrt(variance))
    return TestStatistic(
        name=f"Arellano-Bond AR({order}) on the FE residuals",
        statistic=z,
        df=None,
        p_value=float(2 * stats.norm.sf(abs(z))),
        null=f"no AR({order}) in the differenced residuals"
        + (" (serially uncorrelated shocks)" if order >= 2 else ""),
        distribution="normal",
    )


def previous_rows(frame: pd.DataFrame, ks: tuple[int, ...]) -> list[np.ndarray]:
    """Row position of the same entity ``k`` calendar periods earlier, -1 where unobserved,
    for each ``k`` in ``ks``."""
    times = frame["_time"]
    if pd.api.types.is_datetime64_any_dtype(times):
        period = ((times - times.min()) / pd.Timedelta(weeks=1)).round().astype(np.int64)
    else:
        period = (times - times.min()).astype(np.int64)
    period = period.to_numpy()
    entity = pd.factorize(frame["_entity"])[0]
    width = int(period.max()) + 1
    lookup = np.full((entity.max() + 1) * width, -1)
    lookup[entity * width + period] = np.arange(len(frame))
    found = []
    for k in ks:
        earlier = period - k
        rows = np.full(len(frame), -1)
        ok = earlier >= 0
        rows[ok] = lookup[entity[ok] * width + earlier[ok]]
        found.append(rows)
    return found
