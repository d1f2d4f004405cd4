"""The split-panel jackknife core of ``bias_corrected`` (Dhaene & Jochmans 2015), on many outcomes.

After the two-way within transformation every step is linear in the outcome, so the same row
sets and regressors serve the estimate (one outcome column) and the draws of a wild bootstrap
(:mod:`cts.estimators.inference`, one column per draw).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import sparse

from cts.estimators.demean import demean
from cts.panel import PanelError

__all__ = ["SplitPanel", "cluster_vcov", "fixed_effect_periods", "split_panel_fit"]

_NO_VARIATION = 1e-8  # a demeaned column below this everywhere is constant within the FEs


def fixed_effect_periods(frame: pd.DataFrame) -> np.ndarray:
    """The codes of an estimation frame's period fixed effects: ``_period`` when the week
    effects are by group (a group x week code, :func:`cts.estimators.dynamic.dynamic_panel`'s
    ``time_effects_by``), else the period ``_time`` itself."""
    return frame["_period" if "_period" in frame else "_time"].to_numpy()


class SplitPanel:
    """Row sets of the split-panel jackknife: the full panel, then each entity's first and
    second half of its own series (by time order), with their fixed-effect codes and cluster sums.

    Everything the estimator does after demeaning is linear in the outcome, so one instance
    serves any number of outcome columns (the bootstraps of :mod:`cts.estimators.inference`).
    """

    def __init__(self, frame: pd.DataFrame, time_effects: bool) -> None:
        # Integer codes once, then numpy (pandas groupbys on the string keys cost more than
        # the estimator itself on large panels).
        entity = pd.factorize(frame["_entity"])[0]
        times = frame["_time"].to_numpy()
        size = np.bincount(entity)
        starts = np.cumsum(size) - size
        step = (np.diff(entity) == 0) & (np.diff(times) > 0)
        if np.all(step | (np.diff(entity) == 1)):  # rows sorted by entity, then time
            order = np.arange(len(frame)) - starts[entity]  # 0-based position in its series
        else:
            by_entity_then_time = np.lexsort((times, entity))
            order = np.empty(len(frame), dtype=np.int64)
            order[by_entity_then_time] = np.arange(len(frame)) - np.repeat(starts, size)
        first_half = order < size[entity] // 2
        periods = fixed_effect_periods(frame)
        clusters, names = pd.factorize(frame["_cluster"])
        self.n_clusters = len(names)
        self.masks = [np.ones(len(frame), dtype=bool), first_half, ~first_half]
        self.codes, self.cluster_sums = [], []
        for mask in self.masks:
            keys = [entity[mask], periods[mask]] if time_effects else [entity[mask]]
            self.codes.append(np.column_stack([pd.factorize(k)[0] for k in keys]).astype(np.uint64))
            self.cluster_sums.append(
                sparse.csr_matrix(
                    (np.ones(mask.sum()), (clusters[mask], np.arange(mask.sum()))),
                    shape=(self.n_clusters, mask.sum()),
                )
            )

    def within(self, values: np.ndarray, parts: int = 3) -> list[np.ndarray]:
        """Demean ``values`` (rows x columns) on the first ``parts`` row sets."""
        # Rows contiguous once (a frame's values come column-major, where selecting rows is
        # several times slower, and the demeaner would copy each part again); the full panel
        # as is; np.compress selects rows faster than boolean indexing.
        values = np.ascontiguousarray(values, dtype=float)
        return [
            demean(values if index == 0 else np.compress(mask, values, axis=0), codes)
            for index, (mask, codes) in enumerate(
                zip(self.masks[:parts], self.codes[:parts], strict=True)
            )
        ]


def _ols_influence(
    regressors: np.ndarray,
    outcomes: np.ndarray,
    cluster_sum: sparse.csr_matrix,
    drop_constant: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """OLS of each outcome column, and each cluster's influence ``(R'R)^-1 R_c' u_c``.

    Returns coefficients (k x B) and influence (clusters x k x B) for ``B`` outcome columns.
    A regressor with no variation left after the fixed effects raises, or with
    ``drop_constant`` gets coefficient and influence 0 (the fixed effects absorb it).
    """
    gram = regressors.T @ regressors
    # A column that is ~0 everywhere has a ~0 sum of squares (cheaper than its max on big panels).
    varies = np.diag(gram) > len(regressors) * _NO_VARIATION**2
    if not varies.all():
        if not drop_constant:
            raise PanelError(
                "a regressor has no variation left after the team and week fixed effects "
                "(e.g. no team's usage ever changes)"
            )
        coef = np.zeros((regressors.shape[1], outcomes.shape[1]))
        influence = np.zeros((cluster_sum.shape[0], *coef.shape))
        coef[varies], influence[:, varies] = _ols_influence(
            regressors[:, varies], outcomes, cluster_sum
        )
        return coef, influence
    gram_inverse = np.linalg.inv(gram)
    coef = gram_inverse @ (regressors.T @ outcomes)
    residuals = outcomes - regressors @ coef
    if outcomes.shape[1] == 1:  # one product for all regressors (the estimate itself)
        per_cluster = (cluster_sum @ (regressors * residuals))[:, :, None]
    else:  # one regressor at a time bounds the memory of many bootstrap draws
        per_cluster = np.stack(
            [cluster_sum @ (regressors[:, [j]] * residuals) for j in range(regressors.shape[1])],
            axis=1,
        )
    return coef, np.einsum("kl,glb->gkb", gram_inverse, per_cluster)


def split_panel_fit(
    split: SplitPanel,
    regressors: list[np.ndarray],
    outcomes: list[np.ndarray],
    n_lags: int,
    jackknife: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Coefficients (k x B) and cluster influence (clusters x k x B), lags first.

    ``regressors`` and ``outcomes`` are within-transformed on the row sets of ``split`` (full
    panel first). Without ``jackknife`` this is two-way FE on the full panel.
    """
    full, y_full = regressors[0], outcomes[0]
    theta, psi = _ols_influence(full, y_full, split.cluster_sums[0])
    if not jackknife:
        return theta, psi
    theta_jack, psi_jack = 2 * theta, 2 * psi
    for half in (1, 2):
        # A half in which no team's usage changes still identifies its persistence.
        coef, influence = _ols_influence(
            regressors[half], outcomes[half], split.cluster_sums[half], drop_constant=True
        )
        theta_jack -= coef / 2
        psi_jack -= influence / 2
    b, psi_b = theta_jack[:n_lags], psi_jack[:, :n_lags]

    # Given b, g is two-way FE of y - b'y_lag on x (the within transform is linear).
    lags_within, x_within = full[:, :n_lags], full[:, n_lags:]
    g, psi_g_given_b = _ols_influence(x_within, y_full - lags_within @ b, split.cluster_sums[0])
    sensitivity = np.linalg.solve(x_within.T @ x_within, x_within.T @ lags_within)
    psi_g = psi_g_given_b - np.einsum("glb,xl->gxb", psi_b, sensitivity)
    return np.concatenate([b, g]), np.concatenate([psi_b, psi_g], axis=1)


def cluster_vcov(influence: np.ndarray) -> np.ndarray:
    """Cluster-robust covariance from influence (clusters x k), with the G/(G-1) factor."""
    n_clusters = len(influence)
    return influence.T @ influence * n_clusters / (n_clusters - 1)
