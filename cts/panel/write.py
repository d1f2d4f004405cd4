"""Writing panels to disk, atomically."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from cts.core.io import atomic_write

__all__ = ["write_panel"]


def write_panel(panel: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write a panel to ``.parquet`` or ``.csv``; the file appears only once it is complete.

    Parameters
    ----------
    panel
        The panel to write.
    path
        Destination; its suffix picks the format.

    Returns
    -------
    pathlib.Path
        The written path.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".parquet", ".csv"):
        raise ValueError(f"unknown panel format {suffix!r} for {path}: use .parquet or .csv")
    if suffix == ".parquet":
        return atomic_write(path, lambda temporary: panel.to_parquet(temporary, index=False))
    return atomic_write(
        path, lambda temporary: panel.to_csv(temporary, index=False, date_format="%Y-%m-%d")
    )
