"""Inference that holds with few teams: wild cluster bootstrap and randomization inference.

Cluster-robust standard errors with normal critical values over-reject when there are few
clusters (Cameron, Gelbach & Miller 2008). Both tests here keep the point estimate and replace
the reference distribution of its t statistic:

``wild_bootstrap``
    Restricted wild cluster bootstrap (WCR; Cameron, Gelbach & Miller 2008; MacKinnon & Webb
    2018): impose ``g = 0`` on a fixed-effects fit, flip each team's residuals with one
    Rademacher (or Webb) weight per draw, re-run the *whole* estimator (the split-panel jackknife
    included) and recompute the t statistic. By default the lagged outcome is kept as a fixed
    regressor (fixed-design wild bootstrap, Goncalves & Kilian 2004): the bootstrap world then
    has no incidental-parameter bias and its t* is centred at zero by construction.
    ``design="recursive"`` regenerates the outcome week by week from the restricted fit,
    ``y*_t = a_i + l_t + sum_k b_k y*_t-k + c' controls_t + w_i u_t`` (a team's observed values
    before its first estimation week), and rebuilds the lags from it (recursive-design wild
    bootstrap, Goncalves & Kaffo 2015), so each draw carries the lagged outcome's bias and its
    dependence on the shocks; it costs one fit per draw instead of one per batch.
``randomization``
    Randomization inference on adoption timing (Fisher; Young 2019; MacKinnon & Webb 2020):
    under the sharp null that usage changes nothing, which team got which usage path is
    exchangeable, so each draw hands every team another team's calendar usage path (zero before
    that team's first observed week, its last value after its last) and re-estimates.

Both return p-values for the treatment's short- and long-run terms and the 95% critical value
of ``|t|`` under the null. The wild bootstrap's interval (``inverted_interval``, the default of
``dynamic_panel(inference="wild_bootstrap")``) inverts the restricted test: the values ``v``
whose test of ``effect = v``, with the residuals of the fit restricted to ``v`` and the *same*
weights for every ``v``, does not reject, so it excludes 0 exactly when the test of no effect
rejects and it need not be symmetric. The older bootstrap-t interval ``estimate +- c* se``
(``c*`` the 95th percentile of ``|t*|`` under ``g = 0``; ``bootstrap_interval="bootstrap_t"``)
borrows the distribution of ``|t*|`` under no effect for every value, which is only right
when that distribution does not move with the effect. Randomization intervals are of that
second kind (the sharp null of a non-zero effect would need the outcome's dynamic response
rebuilt for every value). What each interval covers is measured by ``bootstrap_coverage`` in
:mod:`cts.validation.monte_carlo`. Run of 20 teams x 39 weeks, 100 panels, 199 draws,
``bias_corrected`` on usage alone (coverage MC SE about 3 points; SD of the estimates / mean
SE 1.12 and 1.11: the jackknife SE is too small with 20 teams), coverage of the short / long
run: clustered 84% / 84%; fixed design 93% / 90% bootstrap-t and 93% / 90% inverted;
recursive 93% / 91% and 92% / 89%; randomization 90% / 89%. Inverting moves the interval by a
few percent of its width here, and costs about 2x the test and fit (fixed: 2.2 s against 1.1
s a panel) or 10x (recursive: 27 s against 2.8 s, on a loaded machine).

pyfixest's ``Feols.wildboottest`` (the ``wildboottest`` package) covers plain OLS with fixed
effects, not the two-step split-panel jackknife of ``bias_corrected``, so the draws are
hand-written here, vectorised over draws because every step after demeaning is linear in the
outcome; for ``method="fe"`` a test checks them against pyfixest.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cts.core.results import LEVEL, Result
from cts.core.results import critical_value as normal_critical
from cts.estimators.jackknife import SplitPanel, split_panel_fit
from cts.panel import lag_rows

__all__ = [
    "INFERENCE",
    "RecursiveDesign",
    "ResamplingTest",
    "INVERSION_TOLERANCE",
    "draw_batches",
    "inverted_interval",
    "randomization_test",
    "wild_cluster_bootstrap",
]

INFERENCE = ("cluster", "wild_bootstrap", "randomization")
_BATCH_VALUES = 20_000_000  # rows x draws per batch (~160 MB per float matrix)
_WEBB = np.sqrt([1.5, 1.0, 0.5]) * np.array([[-1], [1]])  # Webb (2014) six-point weights


@dataclass(repr=False)
class ResamplingTest(Result):
    """A resampling test of ``H0: effect = 0`` for the treatment's short- and long-run terms.

    Attributes
    ----------
    method
        ``"wild_bootstrap"`` or ``"randomization"``.
    reps
        Number of draws.
    t_stat
        Observed t statistics (cluster-robust SEs), indexed by term.
    p_value
        Share of draws with ``|t*|`` at least the observed ``|t|`` (randomization counts the
        observed assignment as one draw: ``(1 + count) / (1 + reps)``).
    critical_value
        ``level`` quantile of ``|t*|`` (95th percentile by default): the resampling analogue
        of 1.96.
    level
        Confidence level of ``critical_value``.
    draws
        The ``t*`` draws, one column per term.
    """

    _metadata_fields = ("method", "reps")

    method: str
    reps: int
    t_stat: pd.Series
    p_value: pd.Series
    critical_value: pd.Series
    draws: pd.DataFrame
    level: float = LEVEL

    @property
    def table(self) -> pd.DataFrame:
        """Observed ``t_stat``, resampling ``p_value`` and ``critical_value`` by term."""
        return pd.DataFrame(
            {"t_stat": self.t_stat, "p_value": self.p_value, "critical_value": self.critical_value}
        ).rename_axis("term")

    def summary(self) -> str:
        """The test in words."""
        rows = "; ".join(
            f"{term}: t = {row['t_stat']:+.2f}, p = {row['p_value']:.3f} "
            f"(|t*| {self.level:.0%} quantile {row['critical_value']:.2f})"
            for term, row in self.table.iterrows()
        )
        return f"{self.method.replace('_', ' ')} test of no effect, {self.reps:,} draws: {rows}"


def wild_cluster_bootstrap(
    frame: pd.DataFrame,
    lag_names: list[str],
    x: tuple[str, ...],
    *,
    y: str,
    time_effects: bool = True,
    jackknife: bool = True,
    reps: int = 999,
    seed: int = 0,
    weights: str = "rademacher",
    level: float = LEVEL,
    design: str = "fixed",
) -> ResamplingTest:
    """Restricted wild cluster bootstrap of ``H0: g = 0`` for the first regressor of ``x``.

    ``frame`` is the estimation frame of :func:`cts.dynamic_panel` (columns ``y``,
    ``lag_names``, ``x``, ``_entity``, ``_time``, ``_cluster``); ``jackknife`` selects
    ``bias_corrected`` (True) or ``fe`` (False); ``critical_value`` is the ``level`` quantile
    of ``|t*|``; ``design`` is ``"fixed"`` (the lags as observed) or ``"recursive"`` (the lags
    regenerated from each draw's outcome; module docstring).
    """
    if weights not in ("rademacher", "webb"):
        raise ValueError(f"weights must be 'rademacher' or 'webb', not {weights!r}")
    if design not in ("fixed", "recursive"):
        raise ValueError(f"design must be 'fixed' or 'recursive', not {design!r}")
    split = SplitPanel(frame, time_effects)
    parts = 3 if jackknife else 1
    matrices = split.within(frame[[*lag_names, *x]].to_numpy(float), parts)
    y_levels = frame[y].to_numpy(float)
    n_lags = len(lag_names)
    observed = _t_stats(split, matrices, split.within(y_levels, parts), n_lags, jackknife)

    # The restricted fit: two-way FE without the tested regressor. Its residuals are the same in
    # levels and within, so y - (1 - w) u is the bootstrap outcome in levels.
    full = matrices[0]
    restricted = np.delete(full, n_lags, axis=1)
    y_within = split.within(y_levels, 1)[0][:, 0]
    coef = np.linalg.lstsq(restricted, y_within, rcond=None)[0]
    residuals = y_within - restricted @ coef
    clusters = pd.factorize(frame["_cluster"])[0]
    rng = np.random.default_rng(seed)
    draws = []
    if design == "recursive":
        regenerate = RecursiveDesign(frame, lag_names, coef[:n_lags], y_levels - residuals)
        x_within = split.within(frame[list(x)].to_numpy(float), parts)
    for w in _weight_batches(rng, split.n_clusters, reps, len(frame), weights):
        if design == "recursive":
            outcomes, lags = regenerate(w[clusters] * residuals[:, None])
            draws.append(_recursive_t_stats(split, x_within, outcomes, lags, parts, jackknife))
            continue
        outcomes = y_levels[:, None] - (1 - w[clusters]) * residuals[:, None]
        draws.append(_t_stats(split, matrices, split.within(outcomes, parts), n_lags, jackknife))
    return _summarise(
        "wild_bootstrap", observed, np.concatenate(draws, axis=1), exact=False, level=level
    )


#: Bisection stops when an end of the inverted interval is known to this fraction of the SE.
INVERSION_TOLERANCE = 0.01


def inverted_interval(
    frame: pd.DataFrame,
    lag_names: list[str],
    x: tuple[str, ...],
    *,
    y: str,
    time_effects: bool = True,
    jackknife: bool = True,
    reps: int = 999,
    seed: int = 0,
    weights: str = "rademacher",
    level: float = LEVEL,
    design: str = "fixed",
    tolerance: float = INVERSION_TOLERANCE,
) -> pd.DataFrame:
    """The ``level`` interval of the short and long run that inverts the restricted wild
    cluster bootstrap test: the values ``v`` whose test of ``term = v`` does not reject.

    For each candidate ``v`` the restricted fit imposes ``g = v`` (short run) or ``g = v (1 -
    sum b)`` (long run, linear in the coefficients for a given ``v``), and the bootstrap
    outcome is that fit plus its residuals flipped by the *same* weights for every ``v`` (the
    draws of :func:`wild_cluster_bootstrap` with this ``seed``, so the interval excludes 0
    exactly when that test rejects at ``1 - level``, up to ``tolerance``). ``v`` is in the
    interval when ``p(v) = share(|t*(v)| >= |t(v)|) >= 1 - level``, with
    ``t(v) = (estimate - v) / se``. Each end is found by bisection from the estimate (where
    ``p = 1``) outwards, to ``tolerance`` times the SE.

    Fixed design: the restricted residuals of every ``v`` lie in the span of the outcome, the
    treatment and the lags after partialling out the fixed effects and the controls, and the
    estimator is linear in the outcome, so ``n_lags + 2`` passes of the bootstrap give the
    draws' coefficients and cluster influences at any ``v`` as weighted sums: about
    ``n_lags + 2`` times the cost of the test, whatever the number of bisection steps.
    Recursive design: the restricted lag coefficients change with ``v``, so each step
    regenerates the outcome and refits every draw (about 40 times the test's cost).

    Returns
    -------
    pandas.DataFrame
        ``ci_low, ci_high`` indexed by term (``short_run``, ``long_run``).
    """
    split = SplitPanel(frame, time_effects)
    parts = 3 if jackknife else 1
    matrices = split.within(frame[[*lag_names, *x]].to_numpy(float), parts)
    y_levels = frame[y].to_numpy(float)
    n_lags = len(lag_names)
    coef, influence = split_panel_fit(
        split, matrices, split.within(y_levels[:, None], parts), n_lags, jackknife
    )
    restrict = _Restriction(matrices[0], split.within(y_levels[:, None], 1)[0][:, 0], n_lags)
    clusters = pd.factorize(frame["_cluster"])[0]
    batches = _weight_batches(
        np.random.default_rng(seed), split.n_clusters, reps, len(frame), weights
    )
    draws_t: Callable[[int, float], np.ndarray]  # bootstrap t-statistics of a term at a null
    if design == "recursive":
        x_within = split.within(frame[list(x)].to_numpy(float), parts)

        def recursive_draws_t(term: int, value: float) -> np.ndarray:
            b, residuals = restrict(term, value)
            regenerate = RecursiveDesign(frame, lag_names, b, y_levels - residuals)
            null = (value, value)
            stats = []
            for w in batches:
                outcomes, lags = regenerate(w[clusters] * residuals[:, None])
                stats.append(
                    _recursive_t_stats(split, x_within, outcomes, lags, parts, jackknife, null)
                )
            return np.concatenate(stats, axis=1)[term]

        draws_t = recursive_draws_t
    else:
        draws_t = _linear_draws(
            split, matrices, (coef, influence), restrict, batches, clusters, parts, jackknife
        )
    estimates, ses = (values[:, 0] for values in _effects(coef, influence, n_lags))
    rank = int(np.ceil((1 - level) * reps))  # p(v) >= 1 - level: |t(v)| <= the rank-th largest
    rows = {}
    for term, name in enumerate(("short_run", "long_run")):

        def critical(value: float, term: int = term) -> float:
            return float(np.sort(np.abs(draws_t(term, value)))[-rank])

        rows[name] = [
            _interval_end(
                critical, estimates[term], direction * ses[term], tolerance, normal_critical(level)
            )
            for direction in (-1, 1)
        ]
    return pd.DataFrame.from_dict(rows, orient="index", columns=["ci_low", "ci_high"])


class _Restriction:
    """The restricted two-way FE fit (within) of ``short_run = v`` or ``long_run = v``."""

    def __init__(self, full: np.ndarray, y_within: np.ndarray, n_lags: int) -> None:
        self.y, self.n_lags = y_within, n_lags
        self.lags, self.x = full[:, :n_lags], full[:, n_lags]
        self.controls = full[:, n_lags + 1 :]

    def __call__(self, term: int, value: float) -> tuple[np.ndarray, np.ndarray]:
        """Lag coefficients and residuals of the fit with the term held at ``value``."""
        # long run: g = v (1 - sum b), so y - v x = sum_k b_k (L_k y - v x) + controls + e
        lags = self.lags - value * self.x[:, None] if term == 1 else self.lags
        others = np.column_stack([lags, self.controls])
        target = self.y - value * self.x
        coef = np.linalg.lstsq(others, target, rcond=None)[0]
        return coef[: self.n_lags], target - others @ coef

    def basis(self) -> np.ndarray:
        """Columns whose span holds every restricted residual: the outcome, the treatment and
        the lags, the controls partialled out."""
        columns = np.column_stack([self.y, self.x, self.lags])
        if self.controls.shape[1]:
            fit = np.linalg.lstsq(self.controls, columns, rcond=None)[0]
            columns = columns - self.controls @ fit
        return columns


def _linear_draws(
    split: SplitPanel,
    matrices: list[np.ndarray],
    observed: tuple[np.ndarray, np.ndarray],
    restrict: _Restriction,
    batches: list[np.ndarray],
    clusters: np.ndarray,
    parts: int,
    jackknife: bool,
) -> Callable[[int, float], np.ndarray]:
    """The fixed design's ``t*`` of ``term = value`` for any value, from one bootstrap pass
    per basis column (:func:`inverted_interval`)."""
    basis = restrict.basis()
    q, r = np.linalg.qr(basis)
    n_lags = restrict.n_lags
    coef_y, influence_y = observed[0][: n_lags + 1], observed[1][:, : n_lags + 1]
    passes = []
    for column in basis.T:
        coefs, influences = [], []
        for w in batches:
            shifts = (1 - w[clusters]) * column[:, None]
            c, psi = split_panel_fit(
                split, matrices, split.within(shifts, parts), n_lags, jackknife
            )
            coefs.append(c[: n_lags + 1])
            influences.append(psi[:, : n_lags + 1])
        passes.append((np.concatenate(coefs, axis=1), np.concatenate(influences, axis=2)))

    def draws_t(term: int, value: float) -> np.ndarray:
        residuals = restrict(term, value)[1]
        weights = np.linalg.solve(r, q.T @ residuals)  # residuals = basis @ weights
        # y* = y - (1 - w) residuals, and the estimator is linear in y*.
        coef = coef_y - sum(c * p[0] for c, p in zip(weights, passes, strict=True))
        influence = influence_y - sum(c * p[1] for c, p in zip(weights, passes, strict=True))
        return _t_from_fit(coef, influence, n_lags, (value, value))[term]

    return draws_t


def _interval_end(
    critical: Callable[[float], float],
    estimate: float,
    se: float,
    tolerance: float,
    first_guess: float = 1.96,
) -> float:
    """The end of the inverted interval from ``estimate`` in the direction of ``se``'s sign.

    ``v`` is inside when ``|estimate - v| / |se| <= critical(v)`` (the draws' quantile of
    ``|t*(v)|``), so an end solves ``v = estimate + se critical(v)``. ``critical`` changes
    slowly with ``v``, so iterating that equation from ``first_guess`` settles in two or three
    steps (each a bootstrap at one ``v``); when it has not within 6, bisection between the
    estimate and the last value finishes the job. Ends are found to ``tolerance`` times the SE.
    """
    if not np.isfinite(se) or se == 0:
        return float(estimate)

    def inside(value: float) -> bool:
        return abs(value - estimate) <= abs(se) * critical(value)

    value = estimate + se * first_guess
    for _ in range(6):
        step = estimate + se * critical(value) - value
        value += step
        if abs(step) <= tolerance * abs(se):
            return float(value)
    low, high = sorted([estimate, value])
    inner, outer = (low, high) if se > 0 else (high, low)
    if inside(outer):  # widen until outside
        for _ in range(40):
            inner, outer = outer, estimate + 2 * (outer - estimate)
            if not inside(outer):
                break
    while abs(outer - inner) > tolerance * abs(se):
        middle = (inner + outer) / 2
        inner, outer = (middle, outer) if inside(middle) else (inner, middle)
    return float((inner + outer) / 2)


def randomization_test(
    frame: pd.DataFrame,
    lag_names: list[str],
    x: tuple[str, ...],
    *,
    y: str,
    time_effects: bool = True,
    jackknife: bool = True,
    reps: int = 999,
    seed: int = 0,
    level: float = LEVEL,
) -> ResamplingTest:
    """Randomization inference for the first regressor of ``x``: permute usage paths across teams.

    Arguments as in :func:`wild_cluster_bootstrap`. Paths are permuted across ``_entity``.
    """
    treatment = x[0]
    split = SplitPanel(frame, time_effects)
    parts = 3 if jackknife else 1
    n_lags = len(lag_names)
    others = [*lag_names, *x[1:]]
    fixed = split.within(frame[others].to_numpy(float), parts)
    outcome = split.within(frame[y].to_numpy(float), parts)

    def design(treatment_within: list[np.ndarray], draw: int) -> list[np.ndarray]:
        # Column order as in the estimator: lags, the treatment, then the other regressors.
        return [
            np.column_stack([f[:, :n_lags], t[:, draw], f[:, n_lags:]])
            for f, t in zip(fixed, treatment_within, strict=True)
        ]

    observed_within = split.within(frame[treatment].to_numpy(float), parts)
    observed = _t_stats(split, design(observed_within, 0), outcome, n_lags, jackknife)

    # Calendar usage paths, teams x weeks: a team's last value after its end, zero before its start.
    wide = frame.pivot(index="_entity", columns="_time", values=treatment).sort_index(axis=1)
    time_codes = wide.columns.get_indexer(frame["_time"])
    entity_codes, entities = pd.factorize(frame["_entity"])
    paths = wide.ffill(axis=1).fillna(0.0).loc[entities].to_numpy()
    rng = np.random.default_rng(seed)
    draws = []
    for size in draw_batches(reps, len(frame)):
        donors = np.stack([rng.permutation(len(entities)) for _ in range(size)], axis=1)
        permuted = paths[donors[entity_codes], time_codes[:, None]]
        within = split.within(permuted, parts)
        for draw in range(size):
            draws.append(_t_stats(split, design(within, draw), outcome, n_lags, jackknife))
    return _summarise(
        "randomization", observed, np.concatenate(draws, axis=1), exact=True, level=level
    )


class RecursiveDesign:
    """Regenerate the outcome and its lags week by week from the restricted fit.

    In levels the restricted fit is ``y = fitted + u`` with ``fitted = f + sum_k b_k L_k y``
    (``f``: the team and week effects and the controls' part). A draw's outcome is
    ``f + sum_k b_k L_k y* + u*``: a row's lag k is the draw's own value at the frame row of
    the same team k weeks earlier when that row is in the frame, else the observed lag (the
    team's first weeks, or after a gap).
    """

    def __init__(
        self, frame: pd.DataFrame, lag_names: list[str], b: np.ndarray, fitted: np.ndarray
    ) -> None:
        self.b = b
        self.observed_lags = frame[lag_names].to_numpy(float)
        self.base = fitted - self.observed_lags @ b
        self.pointers = np.column_stack(
            lag_rows(frame, list(range(1, len(b) + 1)), entity="_entity", time="_time")
        )
        times = frame["_time"].to_numpy()
        order = np.argsort(times, kind="stable")
        cuts = np.flatnonzero(times[order][1:] != times[order][:-1]) + 1
        self.weeks = np.split(order, cuts)

    def __call__(self, shocks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Outcomes (rows x draws) and their lags (rows x draws x lags) for ``shocks``."""
        n_rows, n_draws = shocks.shape
        outcomes = np.empty((n_rows, n_draws))
        lags = np.repeat(self.observed_lags[:, None, :], n_draws, axis=1)
        for rows in self.weeks:  # each week's lags are earlier weeks, already drawn
            for k in range(len(self.b)):
                earlier = self.pointers[rows, k]
                inside = earlier >= 0
                lags[rows[inside], :, k] = outcomes[earlier[inside]]
            outcomes[rows] = self.base[rows, None] + lags[rows] @ self.b + shocks[rows]
        return outcomes, lags


def _recursive_t_stats(
    split: SplitPanel,
    x_within: list[np.ndarray],
    outcomes: np.ndarray,
    lags: np.ndarray,
    parts: int,
    jackknife: bool,
    null: tuple[float, float] = (0.0, 0.0),
) -> np.ndarray:
    """:func:`_t_stats` for draws whose lags differ: one fit per draw (2 x B)."""
    n_rows, n_draws, n_lags = lags.shape
    y_within = split.within(outcomes, parts)
    lag_within = split.within(lags.reshape(n_rows, n_draws * n_lags), parts)
    stats = np.empty((2, n_draws))
    for draw in range(n_draws):
        columns = slice(draw * n_lags, (draw + 1) * n_lags)
        design = [
            np.column_stack([lw[:, columns], xw])
            for lw, xw in zip(lag_within, x_within, strict=True)
        ]
        outcome = [yw[:, [draw]] for yw in y_within]
        stats[:, draw] = _t_stats(split, design, outcome, n_lags, jackknife, null)[:, 0]
    return stats


def _t_stats(
    split: SplitPanel,
    design: list[np.ndarray],
    outcomes: list[np.ndarray],
    n_lags: int,
    jackknife: bool,
    null: tuple[float, float] = (0.0, 0.0),
) -> np.ndarray:
    """t statistics of the treatment's short run and long run (2 x B), cluster-robust SEs, of
    ``short_run = null[0]`` and ``long_run = null[1]``."""
    coef, influence = split_panel_fit(split, design, outcomes, n_lags, jackknife)
    return _t_from_fit(coef, influence, n_lags, null)


def _t_from_fit(
    coef: np.ndarray, influence: np.ndarray, n_lags: int, null: tuple[float, float] = (0.0, 0.0)
) -> np.ndarray:
    """:func:`_t_stats` from coefficients (k x B) and cluster influence (clusters x k x B)."""
    effects, se = _effects(coef, influence, n_lags)
    return (effects - np.asarray(null)[:, None]) / se


def _effects(coef: np.ndarray, influence: np.ndarray, n_lags: int) -> tuple[np.ndarray, np.ndarray]:
    """The short and long run (2 x B) and their cluster-robust SEs (2 x B)."""
    n_clusters = influence.shape[0]
    persistence, g = coef[:n_lags].sum(axis=0), coef[n_lags]
    psi_g = influence[:, n_lags]
    # Delta method per cluster: d(g / (1 - sum b)) = dg / (1 - sum b) + g sum db / (1 - sum b)^2.
    psi_long = (
        psi_g / (1 - persistence) + g * influence[:, :n_lags].sum(axis=1) / (1 - persistence) ** 2
    )
    factor = n_clusters / (n_clusters - 1)
    se_g = np.sqrt(factor * (psi_g**2).sum(axis=0))
    se_long = np.sqrt(factor * (psi_long**2).sum(axis=0))
    return np.vstack([g, g / (1 - persistence)]), np.vstack([se_g, se_long])


def _weight_batches(
    rng: np.random.Generator, n_clusters: int, reps: int, n_rows: int, weights: str
) -> list[np.ndarray]:
    """The wild bootstrap's weights (clusters x draws), one matrix per batch of draws."""
    values = [-1.0, 1.0] if weights == "rademacher" else _WEBB.ravel()
    return [rng.choice(values, size=(n_clusters, size)) for size in draw_batches(reps, n_rows)]


def draw_batches(reps: int, n_rows: int) -> list[int]:
    """Split ``reps`` resampling draws into batches whose ``draws x rows`` fit in memory."""
    size = max(1, min(reps, _BATCH_VALUES // max(n_rows, 1)))
    return [min(size, reps - start) for start in range(0, reps, size)]


def _summarise(
    method: str, observed: np.ndarray, draws: np.ndarray, exact: bool, level: float = LEVEL
) -> ResamplingTest:
    terms = ["short_run", "long_run"]
    t_stat = pd.Series(observed[:, 0], index=terms)
    exceed = (np.abs(draws) >= np.abs(observed)).sum(axis=1)
    reps = draws.shape[1]
    p_value = (1 + exceed) / (1 + reps) if exact else exceed / reps
    return ResamplingTest(
        method=method,
        reps=reps,
        t_stat=t_stat,
        p_value=pd.Series(p_value, index=terms),
        critical_value=pd.Series(np.quantile(np.abs(draws), level, axis=1), index=terms),
        draws=pd.DataFrame(draws.T, columns=terms),
        level=level,
    )
