"""Wald tests that are computed only where the covariance can support them.

A cluster-robust covariance from ``G`` clusters has rank at most ``G - 1``: a joint test of more
restrictions than that inverts a singular matrix and returns numerical noise (negative or
astronomically large chi2, p = 1.000). :func:`wald_test` never does: it keeps the restrictions
the covariance can estimate, in the order given (most important first), and says what it left
out, or refuses with the reason.

With a cluster-robust covariance the chi-squared reference over-rejects badly when the number of
restrictions ``q`` is not small next to the number of clusters ``G`` (8 teams, 7 pre-weeks:
chi2 of 50 to 500, p below 1e-8 in simulated panels). The p-value then comes from Hotelling's
T-squared: ``W (G - q) / (q (G - 1)) ~ F(q, G - q)`` (Cameron & Miller 2015, sec. VI;
Pustejovsky & Tipton 2018), which tends to the chi-squared one as ``G`` grows. statsmodels and
pyfixest offer the chi2 and F(q, G - 1) forms only, so the few lines are written here.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from cts.core.results import TestStatistic

__all__ = ["RANK_TOLERANCE", "wald_test"]

#: An eigenvalue below this share of the largest counts as zero (a singular direction).
RANK_TOLERANCE = 1e-9


def wald_test(
    estimates: pd.Series,
    vcov: pd.DataFrame,
    *,
    name: str,
    null: str,
    n_clusters: int | None = None,
) -> tuple[TestStatistic | None, str]:
    """Joint chi-squared test that ``estimates`` are zero, on the estimable restrictions.

    Parameters
    ----------
    estimates
        The restricted parameters, most important first: when the covariance cannot support all
        of them, the last ones are dropped until it can.
    vcov
        Their covariance (labels as ``estimates``).
    name, null
        What is tested and the null hypothesis, in words (for the :class:`TestStatistic`).
    n_clusters
        Clusters behind a cluster-robust ``vcov``; at most ``n_clusters - 1`` restrictions are
        tested.

    Returns
    -------
    test : TestStatistic or None
        None when no restriction can be tested.
    note : str
        Empty when every restriction was tested; otherwise which ones were and why.
    """
    labels = list(estimates.index)
    wanted = len(labels)
    if wanted == 0:
        return None, f"{name} not computed: there is nothing to test"
    values = estimates.to_numpy(float)
    matrix = vcov.loc[labels, labels].to_numpy(float)
    if not (np.isfinite(values).all() and np.isfinite(matrix).all()):
        return None, f"{name} not computed: some estimates or their covariance are not finite"
    limit = wanted if n_clusters is None else max(0, min(wanted, n_clusters - 1))
    for k in range(limit, 0, -1):
        sub = matrix[:k, :k]
        eigen = np.linalg.eigvalsh((sub + sub.T) / 2)
        if eigen.min() > RANK_TOLERANCE * max(eigen.max(), 0) and eigen.max() > 0:
            chi2 = float(values[:k] @ np.linalg.solve(sub, values[:k]))
            if n_clusters is None:
                p_value, distribution = float(stats.chi2.sf(chi2, k)), "chi2"
            else:
                scaled = chi2 * (n_clusters - k) / (k * (n_clusters - 1))
                p_value = float(stats.f.sf(scaled, k, n_clusters - k))
                distribution = f"Hotelling T2 (F({k}, {n_clusters - k}) p-value)"
            test = TestStatistic(
                name=name if k == wanted else f"{name} ({k} of {wanted} restrictions)",
                statistic=chi2,
                df=k,
                p_value=p_value,
                null=null,
                distribution=distribution,
            )
            if k == wanted:
                return test, ""
            why = (
                f"{n_clusters} clusters support at most {n_clusters - 1} restrictions"
                if n_clusters is not None and k == n_clusters - 1
                else "the covariance of the others is singular"
            )
            return test, (
                f"{name} uses the first {k} of {wanted} restrictions "
                f"({', '.join(map(str, labels[:k]))}): "
                f"{why}"
            )
    clusters = "" if n_clusters is None else f" with {n_clusters} clusters"
    return None, (
        f"{name} not computed: the covariance of the estimates is singular{clusters}, so no "
        "joint test is possible; the data would need more teams than restrictions"
    )
