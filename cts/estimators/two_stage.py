"""Gardner's (2022) two-stage difference-in-differences and its GMM standard errors, sparse.

Stage 1 learns team and week effects from untreated team-weeks only; stage 2 regresses the
outcome net of them on the treatment terms; the covariance accounts for stage 1's estimation
error (the GMM sandwich of Gardner 2022 and Butts & Gardner's R ``did2s``), clustered.

Hand-written because pyfixest's ``did2s`` (which gives the same numbers; the tests check this
to 1e-8) builds its covariance from a dense copy of the stage-1 dummy matrix — rows x (teams +
weeks), 7.6 GB on 2,000 teams x 260 weeks — and loops over clusters in Python. Here every
product is sparse or (terms x clusters), so memory stays within a few copies of the data.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import sparse
from scipy.sparse import csgraph
from scipy.sparse.linalg import splu

from cts.core.exceptions import PanelError

__all__ = ["two_stage_did"]


def two_stage_did(
    outcome: npt.ArrayLike,
    team: npt.ArrayLike,
    period: npt.ArrayLike,
    treated: npt.ArrayLike,
    terms: pd.DataFrame,
    cluster: npt.ArrayLike | None = None,
) -> tuple[pd.Series, pd.DataFrame]:
    """Two-stage DiD: team + week effects from untreated rows, then ``outcome`` on ``terms``.

    Parameters
    ----------
    outcome, team, period, treated
        One value per row; ``treated`` is 0/1 (or bool).
    terms
        The second stage's regressors, one column per coefficient (no intercept), e.g. the
        relative-week dummies of an event study or a single ``treated`` column.
    cluster
        Cluster of each row (default: ``team``).

    Returns
    -------
    coef : pandas.Series
        Indexed by ``terms``' columns.
    vcov : pandas.DataFrame
        Clustered, with stage 1's estimation error, without small-sample factors (as pyfixest).

    Raises
    ------
    PanelError
        When untreated rows cannot identify every team and week effect (a team or a week with
        no untreated row, or teams and weeks that are not connected).
    """
    y = np.asarray(outcome, dtype=float)
    n = len(y)
    untreated = ~np.asarray(treated).astype(bool)
    team_codes, teams = pd.factorize(np.asarray(team))
    period_codes, periods = pd.factorize(np.asarray(period))
    # Stage-1 design: a dummy per team and per week but one week per connected component of
    # untreated team-weeks (one normalisation each: one component, unless the weeks are
    # group x week, whose groups share no week).
    anchor = _anchor_periods(team_codes, period_codes, untreated, len(teams), len(periods))
    kept = np.cumsum(~anchor) - 1  # column of each kept week among the week dummies
    columns = np.where(anchor[period_codes], -1, len(teams) + kept[period_codes])
    rows = np.concatenate([np.arange(n), np.flatnonzero(columns >= 0)])
    cols = np.concatenate([team_codes, columns[columns >= 0]])
    width = len(teams) + int((~anchor).sum())
    x1 = sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, width))
    x10 = sparse.diags(untreated.astype(float)) @ x1
    gram = (x10.T @ x10).tocsc()
    seen = np.asarray(gram.diagonal()) > 0
    if not seen.all():
        raise PanelError(
            "the two-stage event study needs untreated weeks for every team and week: "
            f"{(~seen).sum()} team or week effect(s) have none"
        )
    try:
        stage_one = splu(gram)
    except RuntimeError as error:  # exactly singular: teams and weeks not connected
        raise PanelError(
            "the two-stage event study's team and week effects are not identified from the "
            "untreated weeks (teams and weeks not connected)"
        ) from error
    y_net = y - x1 @ stage_one.solve(x10.T @ y)

    x2 = sparse.csr_matrix(terms.to_numpy(dtype=float))
    x2x2 = (x2.T @ x2).toarray()
    coef = np.linalg.solve(x2x2, x2.T @ y_net)
    second_u = y_net - x2 @ coef
    first_u = np.where(untreated, y_net, 0.0)  # stage-1 residuals (only untreated rows count)

    cluster_codes, cluster_names = pd.factorize(np.asarray(team if cluster is None else cluster))
    by_cluster = sparse.csr_matrix(
        (np.ones(n), (cluster_codes, np.arange(n))), shape=(len(cluster_names), n)
    )
    # V = X2'X1 (X10'X10)^-1: how stage 1's error moves stage 2's moments (terms x effects).
    v = stage_one.solve(np.asarray((x1.T @ x2).todense())).T
    second = np.asarray((by_cluster @ x2.multiply(second_u[:, None])).todense())  # clusters x k
    first = by_cluster @ x10.multiply(first_u[:, None]).tocsr()  # clusters x effects, sparse
    moments = second.T - np.asarray(first @ v.T).T
    scores = np.linalg.solve(x2x2, moments)
    names = list(terms.columns)
    return (
        pd.Series(coef, index=names),
        pd.DataFrame(scores @ scores.T, index=names, columns=names),
    )


def _anchor_periods(
    team: np.ndarray, period: np.ndarray, untreated: np.ndarray, n_teams: int, n_periods: int
) -> np.ndarray:
    """The first period of each connected component of the untreated team-period graph.

    A period without untreated rows is not an anchor: its dummy stays, and the check of
    unseen effects refuses it.
    """
    edges = sparse.csr_matrix(
        (np.ones(int(untreated.sum())), (team[untreated], period[untreated])),
        shape=(n_teams, n_periods),
    )
    graph = sparse.bmat([[None, edges], [edges.T, None]], format="csr")
    _, component = csgraph.connected_components(graph, directed=False)
    seen = np.asarray(edges.sum(axis=0)).ravel() > 0
    periods = np.flatnonzero(seen)
    _, first = np.unique(component[n_teams + periods], return_index=True)
    anchor = np.zeros(n_periods, dtype=bool)
    anchor[periods[first]] = True
    return anchor
