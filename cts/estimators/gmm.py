"""Arellano–Bond difference GMM for dynamic panels.

Hand-written because no well-kept library fits: pydynpd 0.2.2 (which reproduces Stata) crashes
under numpy 2, and panelbox 1.0.2 pulls in plotly and numba and is not verified against the
published numbers. This implementation reproduces Stata's ``xtabond`` on Arellano & Bond (1991)
to about 1e-6 (tests/test_gmm.py).

The model ``y_it = a_i + sum_k b_k y_i,t-k + g'x_it (+ l_t) + e_it`` is first-differenced to
remove ``a_i``; ``x`` is strictly exogenous (its differences instrument themselves) and the lagged
outcome is instrumented by levels ``y_i,t-2, y_i,t-3, ...`` (GMM-style, zeros where missing).
With long panels, ``max_lag`` limits the lag depth and ``collapse`` uses one instrument column
per lag instead of one per lag and period (Roodman 2009), so the count stays far below the
number of entities.

A regressor listed in ``predetermined`` (E[e_it | x_is, s <= t] = 0, future x free to respond to
today's shock, as usage that teams raise after a bad week) does not instrument itself: its
levels lagged one period and more do, GMM-style (xtabond2's ``gmm(x, lag(1 .))``; collapsed and
limited to ``max_lag`` like the outcome's).

References
----------
Arellano & Bond (1991), Review of Economic Studies 58(2). Windmeijer (2005), Journal of
Econometrics 126(1). Roodman (2009), Oxford Bulletin of Economics and Statistics 71(1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeAlias

import numpy as np
import pandas as pd
from scipy import sparse, stats

from cts.core.results import Result, TestStatistic, estimate_table
from cts.panel import PanelError, lag, lag_terms, require_columns

__all__ = ["GMMResult", "difference_gmm"]

# A dense ndarray or a SciPy sparse matrix (SciPy ships no type information).
_Matrix: TypeAlias = Any


@dataclass(repr=False)
class GMMResult(Result):
    """Difference-GMM estimates and specification tests.

    Attributes
    ----------
    estimates, se
        Coefficients and standard errors (robust one-step, or Windmeijer-corrected two-step).
    vcov
        Their covariance.
    hansen, hansen_df, hansen_p
        Hansen J test of over-identifying restrictions (two-step weights).
    ar1, ar2
        Arellano–Bond z statistics for first- and second-order serial correlation of the
        differenced residuals, with p-values ``ar1_p``, ``ar2_p``. AR(1) is expected; AR(2)
        would invalidate the instruments.
    n_obs, n_entities, n_instruments, steps
    """

    _metadata_fields = ("n_obs", "n_entities", "n_instruments", "steps")

    estimates: pd.Series
    se: pd.Series
    vcov: pd.DataFrame
    hansen: float
    hansen_df: int
    hansen_p: float
    ar1: float
    ar1_p: float
    ar2: float
    ar2_p: float
    n_obs: int
    n_entities: int
    n_instruments: int
    steps: int

    def serial_correlation_test(self, order: int = 2) -> TestStatistic:
        """Arellano–Bond test of no order-``order`` serial correlation in the differenced
        residuals (1 or 2). AR(2) is the test that matters: with serially independent level
        errors the differenced ones are MA(1), so AR(1) is expected and AR(2) is not."""
        if order not in (1, 2):
            raise ValueError("order must be 1 or 2")
        z, p = (self.ar1, self.ar1_p) if order == 1 else (self.ar2, self.ar2_p)
        return TestStatistic(
            name=f"Arellano-Bond AR({order})",
            statistic=z,
            df=None,
            p_value=p,
            null=f"no AR({order}) in the differenced residuals",
            distribution="normal",
        )

    @property
    def table(self) -> pd.DataFrame:
        """``estimate, se, ci_low, ci_high, p_value`` (normal) by term."""
        return estimate_table(self.estimates, self.se)

    @property
    def hansen_test(self) -> TestStatistic:
        """Hansen's J test of the over-identifying restrictions."""
        return TestStatistic(
            "Hansen J", self.hansen, self.hansen_df, self.hansen_p, "the instruments are valid"
        )

    def summary(self) -> str:
        """The estimates and the specification tests."""
        ar1, ar2 = self.serial_correlation_test(1), self.serial_correlation_test(2)
        return "\n".join(
            [
                f"Difference GMM ({self.steps}-step): {self.n_obs:,} obs, {self.n_entities:,} "
                f"entities, {self.n_instruments} instruments",
                self.table.round(4).to_string(),
                self.hansen_test.summary(),
                f"{ar1.summary()} (expected)",
                f"{ar2.summary()} (rejection would invalidate the instruments)",
            ]
        )


def difference_gmm(
    data: pd.DataFrame,
    y: str,
    x: str | list[str] | tuple[str, ...],
    entity: str,
    time: str,
    *,
    lags: int = 1,
    steps: int = 2,
    min_lag: int = 2,
    max_lag: int | None = None,
    collapse: bool = False,
    time_effects: bool = False,
    sample: pd.Series | np.ndarray | None = None,
    predetermined: str | list[str] | tuple[str, ...] = (),
) -> GMMResult:
    """Arellano–Bond difference GMM.

    Parameters
    ----------
    data
        Long panel with unique ``(entity, time)``; ``time`` a date (weekly) or integer period.
    y
        Outcome; ``lags`` of it are regressors, instrumented by its levels lagged ``min_lag``
        to ``max_lag`` periods (all available when None).
    x
        Strictly exogenous regressors (include their lags as columns if wanted).
    entity, time
        Column names.
    lags, steps
        Lags of ``y``; 1 (robust one-step) or 2 (two-step, Windmeijer-corrected SEs).
    min_lag, max_lag, collapse
        GMM-style instrument lags and Roodman's collapsing.
    time_effects
        Add a dummy per differenced-equation period (exogenous; no constant otherwise).
    sample
        Boolean mask of rows whose differenced equation is used (instruments may reach before).
    predetermined
        Regressors among ``x`` that are predetermined rather than strictly exogenous: they are
        instrumented by their levels lagged 1 to ``max_lag`` (GMM-style, collapsed if
        ``collapse``) instead of by their own differences.

    Returns
    -------
    GMMResult
    """
    if steps not in (1, 2):
        raise ValueError("steps must be 1 or 2")
    x = (x,) if isinstance(x, str) else tuple(x)
    predetermined = (predetermined,) if isinstance(predetermined, str) else tuple(predetermined)
    require_columns(data, (y, *x, entity, time))
    if not set(predetermined) <= set(x):
        raise ValueError(f"predetermined regressors {sorted(set(predetermined) - set(x))} not in x")
    spec = _Spec(y, x, entity, time, lags, min_lag, max_lag, collapse, time_effects, predetermined)
    system = _differenced_system(data, spec, sample)
    rows, regressors, instruments = system.rows, system.regressors, system.instruments
    entities = pd.factorize(rows["_entity"])[0]
    n_entities = entities.max() + 1
    _check_instrument_count(instruments.shape[1], n_entities, time_effects)
    fit = _two_steps(system, entities, n_entities, steps)
    hansen, hansen_df = _hansen(instruments, fit.residual, fit.omega1, regressors.shape[1])
    ar = [
        _ar_test(
            order,
            rows,
            fit.residual,
            regressors,
            instruments,
            entities,
            n_entities,
            fit.weight,
            fit.zx,
            fit.vcov,
        )
        for order in (1, 2)
    ]
    names = system.names
    estimates = pd.Series(fit.beta, index=names)
    se = pd.Series(np.sqrt(np.diag(fit.vcov)), index=names)
    return GMMResult(
        estimates=estimates,
        se=se,
        vcov=pd.DataFrame(fit.vcov, index=names, columns=names),
        hansen=hansen,
        hansen_df=hansen_df,
        hansen_p=float(stats.chi2.sf(hansen, hansen_df)) if hansen_df > 0 else np.nan,
        ar1=ar[0],
        ar1_p=float(2 * stats.norm.sf(abs(ar[0]))),
        ar2=ar[1],
        ar2_p=float(2 * stats.norm.sf(abs(ar[1]))),
        n_obs=len(rows),
        n_entities=int(n_entities),
        n_instruments=instruments.shape[1],
        steps=steps,
    )


@dataclass(frozen=True)
class _Spec:
    """The model of :func:`difference_gmm`: its columns and instrument options."""

    y: str
    x: tuple[str, ...]
    entity: str
    time: str
    lags: int
    min_lag: int
    max_lag: int | None
    collapse: bool
    time_effects: bool
    predetermined: tuple[str, ...] = ()


@dataclass(frozen=True)
class _System:
    """The differenced equation, sorted by entity and period."""

    rows: pd.DataFrame  # _entity, _time, _period of each differenced row
    regressors: sparse.csr_matrix  # differenced lags, x, then any period dummies
    outcome: np.ndarray  # the differenced outcome
    instruments: sparse.csr_matrix
    names: list[str]  # of the regressors' columns


@dataclass(frozen=True)
class _Steps:
    """The GMM estimate and what the tests need from its steps."""

    beta: np.ndarray
    vcov: np.ndarray
    weight: np.ndarray  # of the final step
    residual: np.ndarray  # of the final step
    omega1: np.ndarray  # robust moment covariance from the one-step residuals
    zx: np.ndarray  # Z'X


def _check_instrument_count(n_instruments: int, n_entities: int, time_effects: bool) -> None:
    """Refuse as many instruments as entities.

    The two-step weight matrix is the inverse of a sum over entities of rank-one terms: with as
    many instruments as entities it is singular and the estimates meaningless.
    """
    if n_instruments >= n_entities:
        raise ValueError(
            f"difference GMM needs more entities ({n_entities:,}) than instruments "
            f"({n_instruments:,}"
            + (", most of them period dummies" if time_effects else "")
            + "): use fewer periods (start/end), fewer instrument lags (max_lag, collapse)"
            + (", time_effects=False" if time_effects else "")
            + " or another method"
        )


def _two_steps(system: _System, entities: np.ndarray, n_entities: int, steps: int) -> _Steps:
    """One-step robust GMM, then (``steps=2``) two-step GMM with Windmeijer's variance."""
    regressors, outcome, instruments = system.regressors, system.outcome, system.instruments
    pairs = _consecutive(system.rows)
    zx, zy = _dense(instruments.T @ regressors), instruments.T @ outcome
    # One step: weights from the covariance of differenced iid errors (2 on, -1 off diagonal).
    zhz = 2 * _dense(instruments.T @ instruments)
    cross = _dense(instruments[pairs[0]].T @ instruments[pairs[1]])
    weight1 = np.linalg.pinv(zhz - cross - cross.T)
    beta1, bread1 = _gmm_step(zx, zy, weight1)
    moments1 = _entity_sums(
        _scaled(instruments, outcome - regressors @ beta1), entities, n_entities
    )
    omega1 = moments1.T @ moments1
    vcov1 = bread1 @ zx.T @ weight1 @ omega1 @ weight1 @ zx @ bread1
    if steps == 1:
        beta, vcov, weight, residual = beta1, vcov1, weight1, outcome - regressors @ beta1
    else:
        weight = np.linalg.pinv(omega1)
        beta, bread2 = _gmm_step(zx, zy, weight)
        residual = outcome - regressors @ beta
        vcov = _windmeijer(
            regressors,
            instruments,
            entities,
            n_entities,
            moments1,
            weight,
            bread2,
            residual,
            vcov1,
        )
    return _Steps(beta=beta, vcov=vcov, weight=weight, residual=residual, omega1=omega1, zx=zx)


def _hansen(
    instruments: sparse.csr_matrix, residual: np.ndarray, omega1: np.ndarray, n_regressors: int
) -> tuple[float, int]:
    """Hansen's J and its degrees of freedom (NaN when it has none or is numerically negative)."""
    moments = instruments.T @ residual
    # Hansen J with the robust weights from one-step residuals (Stata's two-step Sargan).
    hansen = float(moments @ np.linalg.pinv(omega1) @ moments)
    # The J statistic is a quadratic form in a positive semi-definite matrix; its degrees of
    # freedom are the over-identifying restrictions the weight matrix actually has (its rank,
    # which is below the instrument count when instruments are collinear).
    hansen_df = int(np.linalg.matrix_rank(omega1)) - n_regressors
    if hansen < -1e-8 * max(1.0, abs(hansen)) or hansen_df < 1:
        hansen, hansen_df = float("nan"), max(hansen_df, 0)
    hansen = max(hansen, 0.0) if np.isfinite(hansen) else hansen
    return hansen, hansen_df


def _differenced_system(
    data: pd.DataFrame, spec: _Spec, sample: pd.Series | np.ndarray | None
) -> _System:
    """Rows of the differenced equation, their regressors, outcome and instrument matrix."""
    y, x = spec.y, spec.x
    step = pd.Timedelta(weeks=1) if pd.api.types.is_datetime64_any_dtype(data[spec.time]) else 1
    # Built column by column: the time column may also be a regressor (a trend).
    frame = pd.DataFrame(
        {
            "_entity": data[spec.entity].to_numpy(),
            "_time": data[spec.time].to_numpy(),
            **{c: data[c].to_numpy(float) for c in dict.fromkeys([y, *x])},
        }
    )
    lag_names = lag_terms(y, spec.lags)
    levels = {y: frame[y], **{n: _shifted(frame, y, k, step) for k, n in enumerate(lag_names, 1)}}
    levels.update({c: frame[c] for c in x})
    diffs = pd.DataFrame(
        {
            n: v - lag(frame.assign(_v=v), "_v", 1, entity="_entity", time="_time", step=step)
            for n, v in levels.items()
        }
    )
    keep = diffs.notna().all(axis=1)
    if sample is not None:
        keep &= np.asarray(sample, dtype=bool)
    if not keep.any():
        raise PanelError(f"no rows with the first difference of `{y}` and its lags observed")

    periods = frame["_time"]
    origin = periods.min()
    period_index = ((periods - origin) / step).astype(int)
    rows = frame.loc[keep, ["_entity", "_time"]].assign(_period=period_index[keep])
    rows = rows.reset_index(drop=True)
    regressors = diffs.loc[keep, [*lag_names, *x]].to_numpy(float)
    outcome = diffs.loc[keep, y].to_numpy(float)
    names = [*lag_names, *x]
    deepest = int(period_index.max()) if spec.max_lag is None else spec.max_lag
    columns = _gmm_instruments(frame, spec, keep, rows["_period"].to_numpy(), deepest, step)
    exogenous = diffs.loc[keep, [c for c in x if c not in spec.predetermined]].to_numpy(float)
    blocks = [np.column_stack(columns), exogenous] if columns else [exogenous]
    regressors = sparse.csr_matrix(regressors)
    if spec.time_effects:
        # Period dummies as a sparse block: dense, they would be rows x periods in both the
        # regressors and the instruments (0.9 GB each on 2,000 teams x 260 weeks).
        codes, periods = pd.factorize(rows["_period"], sort=True)
        dummies = sparse.csr_matrix(
            (np.ones(len(codes)), (np.arange(len(codes)), codes)), shape=(len(codes), len(periods))
        )
        regressors = sparse.hstack([regressors, dummies], format="csr")
        names += [f"period_{p}" for p in periods]
        blocks.append(dummies)
    instruments = sparse.hstack([sparse.csr_matrix(b) for b in blocks], format="csr")
    instruments.eliminate_zeros()
    instruments = instruments[:, np.unique(instruments.indices)]  # columns that are not all 0
    rows = rows.sort_values(["_entity", "_period"])
    order = rows.index.to_numpy()
    return _System(
        rows=rows.reset_index(drop=True),
        regressors=regressors[order],
        outcome=outcome[order],
        instruments=instruments[order],
        names=names,
    )


def _shifted(frame: pd.DataFrame, column: str, k: int, step: pd.Timedelta | int) -> pd.Series:
    """``column`` ``k`` periods earlier, within each entity."""
    return lag(frame, column, k, entity="_entity", time="_time", step=step)


def _gmm_instruments(
    frame: pd.DataFrame,
    spec: _Spec,
    keep: pd.Series,
    row_period: np.ndarray,
    deepest: int,
    step: pd.Timedelta | int,
) -> list[np.ndarray]:
    """GMM-style instrument columns: levels of ``y`` lagged ``min_lag..deepest`` (and of each
    predetermined regressor lagged ``1..deepest``), zero where unavailable; one column per lag
    and period, or per lag with ``collapse``."""
    columns = []
    for column, first_lag in ((spec.y, spec.min_lag), *((c, 1) for c in spec.predetermined)):
        for k in range(first_lag, deepest + 1):
            values = _shifted(frame, column, k, step)[keep].fillna(0.0).to_numpy()
            available = row_period - k >= 0
            if not available.any():
                continue
            if spec.collapse:
                columns.append(np.where(available, values, 0.0))
            else:
                for period in np.unique(row_period[available]):
                    columns.append(np.where(row_period == period, values, 0.0))
    return columns


def _consecutive(rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs of rows of one entity in consecutive periods (sorted by entity, period)."""
    same = rows["_entity"].to_numpy()[1:] == rows["_entity"].to_numpy()[:-1]
    next_period = np.diff(rows["_period"].to_numpy()) == 1
    first = np.flatnonzero(same & next_period)
    return first, first + 1


def _entity_sums(values: _Matrix, entities: np.ndarray, n_entities: int) -> np.ndarray:
    """Column sums per entity (rows sorted by entity), dense, of a dense or sparse matrix."""
    if sparse.issparse(values):
        members = sparse.csr_matrix(
            (np.ones(len(entities)), (entities, np.arange(len(entities)))),
            shape=(n_entities, len(entities)),
        )
        return _dense(members @ values)
    starts = np.flatnonzero(np.r_[True, entities[1:] != entities[:-1]])
    return np.add.reduceat(values, starts, axis=0)


def _scaled(matrix: _Matrix, weights: np.ndarray) -> _Matrix:
    """Each row of ``matrix`` (dense or sparse) times its weight."""
    if sparse.issparse(matrix):
        return matrix.multiply(weights[:, None]).tocsr()
    return matrix * weights[:, None]


def _dense(matrix: _Matrix) -> np.ndarray:
    return matrix.toarray() if sparse.issparse(matrix) else np.asarray(matrix)


def _gmm_step(zx: np.ndarray, zy: np.ndarray, weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    bread = np.linalg.inv(zx.T @ weight @ zx)
    return bread @ zx.T @ weight @ zy, bread


def _windmeijer(
    regressors: _Matrix,
    instruments: _Matrix,
    entities: np.ndarray,
    n_entities: int,
    moments1: np.ndarray,
    weight: np.ndarray,
    bread2: np.ndarray,
    residual2: np.ndarray,
    vcov1: np.ndarray,
) -> np.ndarray:
    """Finite-sample corrected two-step variance (Windmeijer 2005).

    Column j of the correction is ``-V2 X'Z W (dOmega/db_j) W Z'u2`` with
    ``dOmega/db_j = -sum_i (q_ij g_i' + g_i q_ij')``, ``q_ij = Z_i' x_ij``. Multiplying by
    ``v = W Z'u2`` first turns the loop over j into two matrix products.
    """
    zx = _dense(instruments.T @ regressors)
    projected = bread2 @ zx.T @ weight
    v = weight @ (instruments.T @ residual2)
    per_entity = moments1 @ v  # g_i'v
    first = _dense(instruments.T @ _scaled(regressors, per_entity[entities]))
    second = moments1.T @ _entity_sums(
        _scaled(regressors, np.asarray(instruments @ v)), entities, n_entities
    )
    correction = projected @ (first + second)
    return bread2 + correction @ bread2 + bread2 @ correction.T + correction @ vcov1 @ correction.T


def _ar_test(
    order: int,
    rows: pd.DataFrame,
    residual: np.ndarray,
    regressors: _Matrix,
    instruments: _Matrix,
    entities: np.ndarray,
    n_entities: int,
    weight: np.ndarray,
    zx: np.ndarray,
    vcov: np.ndarray,
) -> float:
    """Arellano–Bond test for serial correlation of the given order in differenced residuals."""
    key = pd.MultiIndex.from_frame(rows[["_entity", "_period"]])
    lagged_key = pd.MultiIndex.from_arrays([rows["_entity"], rows["_period"] - order])
    lagged = pd.Series(residual, index=key).reindex(lagged_key).fillna(0.0).to_numpy()
    per_entity = _entity_sums((lagged * residual)[:, None], entities, n_entities)[:, 0]
    moments = _entity_sums(_scaled(instruments, residual), entities, n_entities)
    wx = np.asarray(regressors.T @ lagged)
    bread = np.linalg.inv(zx.T @ weight @ zx)
    variance = (
        per_entity @ per_entity
        - 2 * wx @ bread @ zx.T @ weight @ (moments.T @ per_entity)
        + wx @ vcov @ wx
    )
    return float(per_entity.sum() / np.sqrt(variance))
