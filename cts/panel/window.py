"""The analysis window: the weeks an analysis reports on, set once and carried with the panel.

:func:`set_window` records ``(start, end)`` in ``panel.attrs["window"]`` and keeps every row, so
estimators can still take the lag of the window's first week from the week before it. Every
analysis then reads the window with :func:`window_mask` (explicit ``start``/``end`` arguments
override it) or :func:`windowed`, so one window holds for a whole report.
"""

from __future__ import annotations

import pandas as pd

from cts.core.exceptions import PanelError

__all__ = ["in_window", "set_window", "window_mask", "windowed"]

Bound = str | pd.Timestamp | None


def in_window(weeks: pd.Series, start: Bound, end: Bound) -> pd.Series:
    """Boolean mask of ``weeks`` between ``start`` and ``end`` (inclusive; ``None``: open).

    Raises :class:`~cts.PanelError` when no week falls inside, so an empty window stops with
    a clear message instead of failing later.
    """
    inside = pd.Series(True, index=weeks.index)
    if start is not None:
        inside &= weeks >= pd.Timestamp(start)
    if end is not None:
        inside &= weeks <= pd.Timestamp(end)
    if not inside.any():
        raise PanelError(f"no weeks between {start} and {end}")
    return inside


def set_window(panel: pd.DataFrame, start: Bound = None, end: Bound = None) -> pd.DataFrame:
    """The panel (all rows, not copied) with the analysis window ``[start, end]`` attached."""
    in_window(panel["week"], start, end)  # refuse an empty window now
    bounds = tuple(None if b is None else pd.Timestamp(b) for b in (start, end))
    framed = panel.copy(deep=False)
    framed.attrs = {**panel.attrs, "window": bounds}
    return framed


def window_mask(panel: pd.DataFrame, start: Bound = None, end: Bound = None) -> pd.Series:
    """Rows inside the window: ``start``/``end`` when given, else the panel's own window."""
    own_start, own_end = panel.attrs.get("window", (None, None))
    return in_window(
        panel["week"], own_start if start is None else start, own_end if end is None else end
    )


def windowed(panel: pd.DataFrame, start: Bound = None, end: Bound = None) -> pd.DataFrame:
    """The rows inside the window (see :func:`window_mask`), index reset, attrs kept."""
    inside = window_mask(panel, start, end)
    if inside.all():
        return panel
    rows = panel.loc[inside].reset_index(drop=True)
    rows.attrs = panel.attrs
    return rows
