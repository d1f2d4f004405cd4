"""Calendar lags within team, and the names lagged terms carry in estimate tables."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cts.core.exceptions import PanelError

__all__ = ["lag", "lag_rows", "lag_term", "lag_terms", "values_at"]


def lag_term(column: str, k: int) -> str:
    """The name of the ``k``-th lag of ``column`` in estimate tables: ``L{k}.{column}``."""
    return f"L{k}.{column}"


def lag_terms(column: str, lags: int) -> list[str]:
    """``[L1.column, ..., L{lags}.column]``."""
    return [lag_term(column, k) for k in range(1, lags + 1)]


def lag(
    data: pd.DataFrame,
    column: str,
    k: int = 1,
    *,
    entity: str = "team_id",
    time: str = "week",
    step: pd.Timedelta | int | None = None,
) -> pd.Series:
    """The ``k``-period lag of ``column`` by calendar period within entity.

    The value for entity ``i`` at time ``t`` is the one observed at ``t - k*step``; if that
    period is missing (a gap) the result is NaN, never the value from an earlier row. A
    negative ``k`` gives a lead.

    Parameters
    ----------
    data
        Panel with unique ``(entity, time)`` pairs.
    column
        Column to lag.
    k
        Number of periods.
    entity, time
        Entity and time columns.
    step
        One period: one week for datetime ``time`` columns, ``1`` otherwise.

    Returns
    -------
    pandas.Series
        Aligned with ``data.index``, named ``f"{column}_lag{k}"`` (``_lead`` for ``k < 0``).
    """
    (rows,) = lag_rows(data, (k,), entity=entity, time=time, step=step)
    observed = pd.Series(data[column].to_numpy())
    name = f"{column}_lag{k}" if k >= 0 else f"{column}_lead{-k}"
    return pd.Series(observed.reindex(rows).to_numpy(), index=data.index, name=name)


#: :func:`lag_rows` looks rows up in a dense (entity x period) table when it has at most this
#: many cells per row of the panel (plus :data:`_DENSE_MIN_CELLS`), else in a hash index.
_DENSE_CELLS_PER_ROW = 4
_DENSE_MIN_CELLS = 1_000_000


def values_at(values: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``values[rows]`` as floats, NaN where a row of :func:`lag_rows` is -1 (not observed)."""
    taken = np.asarray(values, dtype=float)[rows]
    taken[rows < 0] = np.nan
    return taken


def lag_rows(
    data: pd.DataFrame,
    ks: tuple[int, ...] | list[int],
    *,
    entity: str = "team_id",
    time: str = "week",
    step: pd.Timedelta | int | None = None,
) -> list[np.ndarray]:
    """Row positions of the same entity ``k`` periods earlier, -1 where that period is not
    observed, for each ``k`` in ``ks`` (negative: later).

    What :func:`lag` takes values from; computing the positions once serves every column
    lagged by the same ``k`` (the estimators lag the outcome, usage and each control).
    """
    if step is None:
        step = pd.Timedelta(weeks=1) if pd.api.types.is_datetime64_any_dtype(data[time]) else 1
    # Integer codes for entity and period, then one lookup of (entity, period - k): the same
    # result as reindexing a (entity, time) MultiIndex, several times faster on large panels.
    entities = pd.factorize(data[entity])[0]
    period_codes, periods = pd.factorize(data[time])
    cells = (int(entities.max(initial=-1)) + 1) * len(periods)
    codes = entities * len(periods) + period_codes
    known = (entities >= 0) & (period_codes >= 0)
    # A dense (entity x period) table of row positions when it is not much larger than the
    # panel and every row has both keys (a lookup per row, no hashing); else a hash index.
    dense = known.all() and cells <= _DENSE_CELLS_PER_ROW * len(data) + _DENSE_MIN_CELLS
    if dense:
        if np.bincount(codes, minlength=cells).max(initial=0) > 1:
            raise PanelError(f"`{entity}`, `{time}` pairs are not unique, so a lag is ambiguous")
        table = np.full(cells, -1, dtype=np.int64)
        table[codes] = np.arange(len(data))
    else:
        key = pd.Index(codes)
        if key.has_duplicates:
            raise PanelError(f"`{entity}`, `{time}` pairs are not unique, so a lag is ambiguous")
    found = []
    for k in ks:
        earlier = pd.Index(periods).get_indexer(pd.Index(periods) - k * step)[period_codes]
        valid = (earlier >= 0) & (period_codes >= 0)
        if dense:
            rows = np.full(len(data), -1, dtype=np.int64)
            rows[valid] = table[entities[valid] * len(periods) + earlier[valid]]
            found.append(rows)
            continue
        wanted = np.where(valid, entities * len(periods) + earlier, np.iinfo(np.int64).min)
        found.append(key.get_indexer(wanted))  # -1 where that period is not observed
    return found
