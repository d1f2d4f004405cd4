"""Imputation of the outcome without the assistant, with dynamics: the counterfactual's core.

The no-assistant model is fitted on the team-weeks without usage (never-users, and adopters
before their first week of use),

    y_it = a_i + l_g(i),t + sum_k b_k y_i,t-k + c' x_it + e_it,

with team effects ``a``, week effects ``l`` (one set per group ``g``, e.g. org x week), the
outcome's lags (persistence ``b``) and controls ``x``. Each adopter's outcome is then rolled
forward without the assistant from its last week without it: the counterfactual's own lags feed
the next week. Observed minus counterfactual is the effect per team-week (Borusyak, Jaravel &
Spiess 2024, imputation, extended to a lagged outcome).

Everything runs on dense (teams x weeks) grids with NumPy, never a Python loop over teams:

- ``b`` and ``c``: two-way within regression on the untreated rows, ``b`` with the split-panel
  jackknife of :mod:`cts.estimators.jackknife` against the short-T (Nickell 1981) bias, exactly
  as ``dynamic_panel(method="bias_corrected")`` (Dhaene & Jochmans 2015), with each team's
  cluster influence function;
- ``a`` and ``l`` given ``b, c``: the fixed-effect normal equations solved exactly, weeks by
  group through the (weeks x weeks) Schur complement ``C_g = diag(n_t) - B' diag(1/n_i) B``
  (``B`` the team x week counts of untreated rows), whose pseudo-inverse is computed once and
  serves every bootstrap draw (hand-written: pyfixest returns neither the solve nor the fixed
  effects of a weighted draw without a refit, and :mod:`cts.estimators.demean` returns
  residuals, not effects);
- the roll-forward: one vectorised step per calendar week over all adopters (and draws).

Inference is a team-clustered score (multiplier) bootstrap (Kline & Santos 2012): each draw
gives every team a multinomial count ``w_i`` (a resample of teams), moves ``b, c`` by
``sum_i (w_i - 1) psi_i`` (their cluster influence functions, jackknife included), solves the
week effects with the draw's team-weighted scores through the same ``C_g``, recomputes the team
effects, rolls every adopter forward again with the draw's ``b``, and re-weights every aggregate
by ``w``. The only linearisation is of the least-squares solves (the Hessian's weights), which is
first-order equivalent to refitting on the resampled teams (a pairs cluster bootstrap); the
nonlinear parts (powers of ``b`` along a path, ratios of aggregates) are recomputed exactly. A
full refit per draw would cost hundreds of fixed-effect fits; this costs one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import sparse

from cts.core.exceptions import PanelError
from cts.estimators.jackknife import SplitPanel, split_panel_fit

__all__ = [
    "Grid",
    "ImputationFit",
    "Paths",
    "build_grid",
    "fit_untreated",
    "impulse_response",
    "roll_forward",
    "start_weeks",
]


@dataclass
class Grid:
    """A panel as dense (teams x weeks) arrays, weeks a regular weekly calendar.

    ``observed`` marks the team-weeks that are rows of the panel; values elsewhere are NaN.
    ``group`` is each team's time-effect group (one group when week effects are common).
    """

    teams: pd.Index
    weeks: pd.DatetimeIndex
    group: np.ndarray
    groups: pd.Index
    y: np.ndarray
    usage: np.ndarray
    x: np.ndarray  # teams x weeks x controls
    builders: np.ndarray
    observed: np.ndarray
    controls: tuple[str, ...] = ()
    parts: np.ndarray | None = None  # teams x weeks x split columns (usage by tool)

    @property
    def first_use(self) -> np.ndarray:
        """Each team's first week (column) with usage > 0; the number of weeks if never."""
        used = np.nan_to_num(self.usage) > 0
        return np.where(used.any(axis=1), used.argmax(axis=1), self.y.shape[1])


def build_grid(
    panel: pd.DataFrame,
    outcome: str,
    treatment: str,
    controls: tuple[str, ...],
    by: str | None,
    *,
    builders: str = "n_builders",
    parts: tuple[str, ...] = (),
) -> Grid:
    """Lay ``panel`` (``team_id``, ``week``) out as a :class:`Grid` (``parts``: usage columns
    that split the effect, e.g. one per tool, laid out in :attr:`Grid.parts`)."""
    teams_code, teams = pd.factorize(panel["team_id"], sort=True)
    week = pd.to_datetime(panel["week"])
    first = week.min()
    offset = ((week - first) / pd.Timedelta(weeks=1)).to_numpy()
    if not np.allclose(offset, np.round(offset)):
        raise PanelError("weeks must be a regular weekly calendar (all the same weekday)")
    t = np.round(offset).astype(np.int64)
    n, n_weeks = len(teams), int(t.max()) + 1
    if np.bincount(teams_code * n_weeks + t, minlength=n * n_weeks).max() > 1:
        raise PanelError("`team_id`, `week` pairs are not unique")

    def grid(values: pd.Series | np.ndarray) -> np.ndarray:
        out = np.full((n, n_weeks), np.nan)
        out[teams_code, t] = np.asarray(values, dtype=float)
        return out

    observed = np.zeros((n, n_weeks), dtype=bool)
    observed[teams_code, t] = True
    if by is None:
        group, groups = np.zeros(n, dtype=np.int64), pd.Index(["all"])
    else:
        per_team = pd.Series(panel[by].to_numpy()).groupby(teams_code).agg(["first", "nunique"])
        if (per_team["nunique"] > 1).any():
            moved = teams[per_team.index[per_team["nunique"] > 1][:3]]
            raise PanelError(
                f"`{by}` must be constant within a team, but {', '.join(map(str, moved))} "
                f"change `{by}`; use the team's main `{by}` for all its weeks"
            )
        group, groups = pd.factorize(per_team["first"].astype(str), sort=True)
    x = (
        np.stack([grid(panel[c]) for c in controls], axis=2)
        if controls
        else np.zeros((n, n_weeks, 0))
    )
    size = grid(panel[builders]) if builders in panel else np.where(observed, 1.0, np.nan)
    return Grid(
        teams=teams,
        weeks=pd.date_range(first, periods=n_weeks, freq="7D"),
        group=np.asarray(group),
        groups=pd.Index(groups),
        y=grid(panel[outcome]),
        usage=grid(panel[treatment]),
        x=x,
        builders=size,
        observed=observed,
        controls=tuple(controls),
        parts=np.stack([grid(panel[c]) for c in parts], axis=2) if parts else None,
    )


def _shift(values: np.ndarray, k: int) -> np.ndarray:
    """``values`` k weeks earlier along axis 1 (NaN before the calendar starts)."""
    out = np.full_like(values, np.nan)
    out[:, k:] = values[:, : values.shape[1] - k]
    return out


@dataclass
class ImputationFit:
    """The no-assistant model fitted on untreated team-weeks.

    ``coef`` holds the lags (``L1.y`` ...) then the controls; ``psi`` each cluster's influence
    on them (clusters x coefficients). ``team_effects`` (one per grid row) is NaN for teams
    whose level has no untreated rows; ``time_effects`` (groups x weeks) NaN where no untreated
    team of the group is observed. ``level`` maps grid rows to the units that carry a level
    (each team by default), ``cluster`` grid rows to the bootstrap's clusters (teams by default).
    """

    coef: pd.Series
    psi: np.ndarray
    team_effects: np.ndarray
    time_effects: np.ndarray
    sigma2: float
    n_obs: int
    n_lags: int
    sample: np.ndarray  # teams x weeks: the rows fitted on
    untreated_teams: np.ndarray  # groups x weeks: untreated team-weeks fitted on, by cell
    residuals: np.ndarray  # teams x weeks (0 outside the sample)
    level: np.ndarray
    cluster: np.ndarray
    # for the bootstrap: the Schur complements' pseudo-inverses and the sums that do not move
    rhs_y: np.ndarray = field(repr=False)
    rhs_z: np.ndarray = field(repr=False)
    mean_y: np.ndarray = field(repr=False)
    mean_z: np.ndarray = field(repr=False)
    counts: np.ndarray = field(repr=False)  # levels x weeks
    level_group: np.ndarray = field(repr=False)
    pinv: list[np.ndarray] = field(repr=False, default_factory=list)

    @property
    def persistence(self) -> float:
        return float(self.coef.iloc[: self.n_lags].sum())

    @property
    def level_weeks(self) -> np.ndarray:
        """Untreated weeks fitted on behind each grid row's level."""
        return self.counts.sum(axis=1)[self.level]

    def effects_given(
        self,
        coef: np.ndarray,
        week_score: np.ndarray | None = None,
        level_score: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Team and week effects given coefficients ``coef`` (k x R), with the draws' scores
        added to the normal equations: ``week_score`` (R x groups x weeks) to the weeks',
        ``level_score`` (R x levels) to the levels'.

        Returns ``team_effects`` (R x grid rows) and ``time_effects`` (R x groups x weeks).
        """
        n_draws = coef.shape[1]
        n_l = self.counts.sum(axis=1)
        safe = np.maximum(n_l, 1)
        rhs = self.rhs_y[None] - np.einsum("gtk,kr->rgt", self.rhs_z, coef)
        if week_score is not None:
            rhs = rhs + week_score
        level_sums = None
        if level_score is not None:  # eliminating the levels carries their score to the weeks
            level_sums = level_score / safe[None]
        time_effects = np.empty((n_draws, *self.rhs_y.shape))
        weeks_part = np.empty((n_draws, len(n_l)))
        for g, pinv in enumerate(self.pinv):
            members = self.level_group == g
            rhs_g = rhs[:, g]
            if level_sums is not None:
                rhs_g = rhs_g - level_sums[:, members] @ self.counts[members]
            time_effects[:, g] = rhs_g @ pinv.T
            weeks_part[:, members] = time_effects[:, g] @ self.counts[members].T
        levels = self.mean_y[None] - (self.mean_z @ coef).T - weeks_part / safe[None]
        if level_sums is not None:
            levels = levels + level_sums
        levels[:, n_l == 0] = np.nan
        return levels[:, self.level], time_effects


def fit_untreated(
    grid: Grid,
    lags: int,
    *,
    bias_correction: bool = True,
    level: np.ndarray | None = None,
    cluster: np.ndarray | None = None,
) -> ImputationFit:
    """Fit the no-assistant model on the untreated team-weeks of ``grid`` (module docstring).

    ``level`` (codes per grid row, default each team its own) groups teams that share one
    level (e.g. states, for a published example with state and year effects); ``cluster``
    (codes per grid row, default the team) sets the bootstrap's clusters.
    """
    n, n_weeks = grid.y.shape
    level = np.arange(n) if level is None else np.asarray(level)
    cluster = np.arange(n) if cluster is None else np.asarray(cluster)
    untreated = np.arange(n_weeks)[None, :] < grid.first_use[:, None]
    lagged = [_shift(grid.y, k) for k in range(1, lags + 1)]
    regressors = np.concatenate([np.stack(lagged, axis=2), grid.x], axis=2) if lags else grid.x
    sample = untreated & np.isfinite(grid.y) & np.isfinite(regressors).all(axis=2)
    team, week = np.nonzero(sample)
    if len(team) == 0:
        raise PanelError(
            "no team-week without the assistant has the outcome"
            + (f", its {lags} lag(s)" if lags else "")
            + " and every control observed: the model without the assistant has nothing to "
            "be fitted on; the panel needs never-users or weeks before adoption"
        )
    y, z = grid.y[team, week], regressors[team, week]
    names = [f"L{k}.y" for k in range(1, lags + 1)] + list(grid.controls)
    n_clusters = int(cluster.max()) + 1
    coef, psi = _slopes(
        y, z, level[team], grid.group[team] * n_weeks + week, cluster[team], n_clusters, lags,
        bias_correction,
    )  # fmt: skip

    n_levels = int(level.max()) + 1
    level_group = np.zeros(n_levels, dtype=np.int64)
    level_group[level] = grid.group
    if (level_group[level] != grid.group).any():
        raise PanelError("teams that share a level must share the group of their week effects")
    counts = np.zeros((n_levels, n_weeks))
    np.add.at(counts, (level[team], week), 1.0)
    safe = np.maximum(counts.sum(axis=1), 1)
    values = np.column_stack([y, z])
    sums = np.zeros((n_levels, values.shape[1]))
    np.add.at(sums, level[team], values)
    means = sums / safe[:, None]  # levels x (1 + k)
    centred = values - means[level[team]]
    n_groups = len(grid.groups)
    rhs = np.zeros((n_groups, n_weeks, values.shape[1]))
    np.add.at(rhs, (grid.group[team], week), centred)
    pinv, untreated_teams = [], np.zeros((n_groups, n_weeks))
    for g in range(n_groups):
        b = counts[level_group == g]
        scaled = b / np.maximum(b.sum(axis=1), 1)[:, None]
        schur = np.diag(b.sum(axis=0)) - scaled.T @ b
        pinv.append(_pseudo_inverse(schur))
        untreated_teams[g] = b.sum(axis=0)
    fit = ImputationFit(
        coef=pd.Series(coef, index=names, dtype=float),
        psi=psi,
        team_effects=np.empty(n),
        time_effects=np.empty((n_groups, n_weeks)),
        sigma2=np.nan,
        n_obs=len(team),
        n_lags=lags,
        sample=sample,
        untreated_teams=untreated_teams,
        residuals=np.zeros((n, n_weeks)),
        level=level,
        cluster=cluster,
        pinv=pinv,
        rhs_y=rhs[..., 0],
        rhs_z=rhs[..., 1:],
        mean_y=means[:, 0],
        mean_z=means[:, 1:],
        counts=counts,
        level_group=level_group,
    )
    team_effects, time_effects = fit.effects_given(coef[:, None])
    fit.team_effects, fit.time_effects = team_effects[0], time_effects[0]
    fit.time_effects[untreated_teams == 0] = np.nan
    residual = y - z @ coef - fit.team_effects[team] - fit.time_effects[grid.group[team], week]
    fit.residuals[team, week] = residual
    ranks = sum(int(np.count_nonzero(np.abs(np.linalg.eigvalsh(p)) > 1e-12)) for p in pinv)
    n_effects = int((counts.sum(axis=1) > 0).sum()) + ranks
    fit.sigma2 = float(residual @ residual / max(len(team) - n_effects - len(coef), 1))
    return fit


def _pseudo_inverse(schur: np.ndarray) -> np.ndarray:
    """Moore-Penrose inverse of the symmetric PSD Schur complement (singular by one dimension
    per connected set of teams and weeks: a constant moves between their effects)."""
    values, vectors = np.linalg.eigh(schur)
    keep = values > values.max(initial=0.0) * len(values) * np.finfo(float).eps * 10
    return (vectors[:, keep] / values[keep]) @ vectors[:, keep].T


def _slopes(
    y: np.ndarray,
    z: np.ndarray,
    level: np.ndarray,
    key: np.ndarray,
    cluster: np.ndarray,
    n_clusters: int,
    lags: int,
    bias_correction: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """Lag and control coefficients by two-way within regression (lags jackknifed), and each
    cluster's influence on them (clusters x k)."""
    k = z.shape[1]
    if k == 0:
        return np.zeros(0), np.zeros((n_clusters, 0))
    frame = pd.DataFrame({"_entity": level, "_time": key, "_cluster": cluster})
    split = SplitPanel(frame, time_effects=True)
    jackknife = bias_correction and lags > 0
    parts = split.within(np.column_stack([y, z]), parts=3 if jackknife else 1)
    coef, influence = split_panel_fit(
        split, [p[:, 1:] for p in parts], [p[:, :1] for p in parts], lags, jackknife=jackknife
    )
    psi = np.zeros((n_clusters, k))
    psi[pd.unique(cluster)] = influence[:, :, 0]  # clusters in order of first appearance
    return coef[:, 0], psi


def start_weeks(grid: Grid, lags: int) -> np.ndarray:
    """Each team's last week before its first use with the outcome and the ``lags - 1`` weeks
    before it observed (the counterfactual starts from there); -1 where there is none.

    With no lags the counterfactual needs no starting value: the week before first use.
    """
    n, n_weeks = grid.y.shape
    first = grid.first_use
    if lags == 0:
        return np.where(first > 0, first - 1, -1)
    known = np.isfinite(grid.y)
    for k in range(1, lags):
        known &= np.isfinite(_shift(grid.y, k))
    before = known & (np.arange(n_weeks)[None, :] < first[:, None])
    last = n_weeks - 1 - np.argmax(before[:, ::-1], axis=1)
    return np.where(before.any(axis=1), last, -1)


def impulse_response(b: np.ndarray, n_weeks: int) -> np.ndarray:
    """Response of the outcome ``h`` weeks after a one-off unit shock, ``h = 0 .. n_weeks-1``."""
    psi = np.zeros(n_weeks)
    psi[0] = 1.0
    for h in range(1, n_weeks):
        psi[h] = sum(b[k - 1] * psi[h - k] for k in range(1, min(len(b), h) + 1))
    return psi


@dataclass
class Paths:
    """Adopters' rows of the grid and what their counterfactual paths need."""

    rows: np.ndarray  # grid rows of the adopters with a counterfactual
    start: np.ndarray  # last week without the assistant (column), per adopter
    last: np.ndarray  # last observed week, per adopter
    first_use: np.ndarray
    y: np.ndarray  # adopters x weeks
    x: np.ndarray  # adopters x weeks x controls, gaps filled with the team's mean
    group: np.ndarray
    active: np.ndarray  # adopters x weeks: weeks on the counterfactual path (after start)
    treated: np.ndarray  # adopters x weeks: observed weeks of use (the effects' cells)

    @property
    def before(self) -> np.ndarray:
        """Adopters x weeks: the weeks up to each path's start (observed lags)."""
        return np.arange(self.y.shape[1])[None, :] <= self.start[:, None]

    @property
    def x_by_week(self) -> np.ndarray:
        """The controls, weeks x adopters x controls (contiguous; computed once)."""
        if getattr(self, "_x_by_week", None) is None:
            self._x_by_week = np.ascontiguousarray(np.transpose(self.x, (1, 0, 2)))
        return self._x_by_week


def adopter_paths(grid: Grid, fit: ImputationFit) -> tuple[Paths, dict[str, int]]:
    """The adopters whose counterfactual can be rolled forward, and how many could not."""
    n_weeks = grid.y.shape[1]
    first = grid.first_use
    start = start_weeks(grid, fit.n_lags)
    adopters = first < n_weeks
    has_level = np.isfinite(fit.team_effects)
    rows = np.flatnonzero(adopters & has_level & (start >= 0))
    dropped = {
        "always_used": int((adopters & (first == np.argmax(grid.observed, axis=1))).sum()),
        "no_level": int((adopters & ~has_level).sum()),
        "adopters": int(adopters.sum()),
    }
    last = n_weeks - 1 - np.argmax(grid.observed[rows, ::-1], axis=1)
    weeks = np.arange(n_weeks)[None, :]
    active = (weeks > start[rows, None]) & (weeks <= last[:, None])
    x = grid.x[rows].copy()
    if x.shape[2]:
        team_mean = np.nanmean(np.where(np.isfinite(x), x, np.nan), axis=1)
        overall = np.nanmean(grid.x.reshape(-1, x.shape[2]), axis=0)
        team_mean = np.where(np.isfinite(team_mean), team_mean, overall[None, :])
        x = np.where(np.isfinite(x), x, team_mean[:, None, :])
    treated = (weeks >= first[rows, None]) & np.isfinite(grid.y[rows])
    paths = Paths(
        rows=rows,
        start=start[rows],
        last=last,
        first_use=first[rows],
        y=grid.y[rows],
        x=x,
        group=grid.group[rows],
        active=active,
        treated=treated,
    )
    return paths, dropped


def roll_forward(
    paths: Paths, team_effects: np.ndarray, time_effects: np.ndarray, coef: np.ndarray, lags: int
) -> np.ndarray:
    """The counterfactual outcome, weeks x adopters x draws, on each path.

    ``team_effects`` (draws x adopters), ``time_effects`` (draws x groups x weeks), ``coef``
    (draws x k, lags first). Only the cells of ``paths.active`` (transposed) hold a
    counterfactual; the ``lags`` weeks up to its start hold the observed outcome (the lags its
    first counterfactual week needs), and the cells off the path are not meaningful. Weeks
    first and draws last, so that each week's step is one contiguous block and a week-adopter
    cell's draws are one row for the aggregates' products.
    """
    weekly = np.ascontiguousarray(np.transpose(time_effects, (2, 1, 0)))  # weeks x groups x R
    base = np.take(weekly, paths.group, axis=1)
    base += team_effects.T[None]
    if paths.x.shape[2]:
        # (weeks x adopters x controls) @ (controls x draws): one BLAS product
        base += paths.x_by_week @ coef[:, lags:].T
    if lags == 0:
        return base
    # The recursion runs in place from the observed outcome of the weeks its first step reads
    # (set by index: a masked copy over every week before the start cost more than the rest).
    state = base
    adopters = np.arange(len(paths.start))
    for k in range(lags):
        weeks = paths.start - k
        state[weeks, adopters] = paths.y[adopters, weeks][:, None]
    b = coef[:, :lags]
    active = paths.active.T[:, :, None]
    for t in np.flatnonzero(paths.active.any(axis=0)):
        for k in range(1, min(lags, int(t)) + 1):
            np.add(state[t], b[:, k - 1] * state[t - k], out=state[t], where=active[t])
    return state


def draw_effects(
    fit: ImputationFit, grid: Grid, cluster_weights: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Coefficients (R x k), team effects (R x teams) and week effects (R x G x T) of the score
    bootstrap draws with cluster counts ``cluster_weights`` (R x clusters)."""
    xi = cluster_weights - 1.0
    coef = fit.coef.to_numpy()[None, :] + xi @ fit.psi
    team_xi = xi[:, fit.cluster]  # R x teams
    week_score = np.empty((len(xi), *fit.rhs_y.shape))
    for g in range(len(grid.groups)):
        members = np.flatnonzero(grid.group == g)
        week_score[:, g] = team_xi[:, members] @ fit.residuals[members]
    level_score = None
    if len(np.unique(fit.level)) < len(fit.level):  # a team's own residuals sum to zero
        per_team = fit.residuals.sum(axis=1)
        level_score = np.zeros((len(xi), len(fit.counts)))
        np.add.at(level_score.T, fit.level, (team_xi * per_team[None]).T)
    team_effects, time_effects = fit.effects_given(coef.T, week_score, level_score)
    time_effects[:, fit.untreated_teams == 0] = np.nan
    return coef, team_effects, time_effects


def indicator(codes: np.ndarray, n_levels: int) -> sparse.csr_matrix:
    """The (cells x levels) 0/1 matrix of ``codes`` (-1: no level)."""
    keep = codes >= 0
    return sparse.csr_matrix(
        (np.ones(keep.sum()), (np.flatnonzero(keep), codes[keep])), shape=(len(codes), n_levels)
    )
