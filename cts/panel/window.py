"""The analysis window: the weeks an analysis reports on."""

from __future__ import annotations

import pandas as pd

from cts.core.exceptions import PanelError

__all__ = ["in_window"]


def in_window(
    weeks: pd.Series, start: str | pd.Timestamp | None, end: str | pd.Timestamp | None
) -> pd.Series:
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
