"""Writing panels to disk: atomically, with their truth beside them when they are simulated."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pandas as pd

from cts.simulate import SimulatedOrg

__all__ = ["write_panel", "write_simulation"]


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
    path.parent.mkdir(parents=True, exist_ok=True)
    # Write beside the target, then rename: a crash never leaves a half-written panel in place.
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    os.close(handle)
    try:
        if suffix == ".parquet":
            panel.to_parquet(temporary, index=False)
        else:
            panel.to_csv(temporary, index=False, date_format="%Y-%m-%d")
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)  # mkstemp makes 0600; a panel is for colleagues too
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)
    return path


def write_simulation(sim: SimulatedOrg, path: str | os.PathLike[str]) -> tuple[Path, Path]:
    """Write a simulated panel and its truth (``<stem>.truth.json``, with the parameters).

    Returns
    -------
    tuple of pathlib.Path
        The panel path and the truth path.
    """
    panel_path = write_panel(sim.panel, path)
    truth_path = panel_path.with_name(f"{panel_path.stem}.truth.json")
    truth_path.write_text(json.dumps({"truth": sim.truth, "params": sim.params}, indent=2) + "\n")
    return panel_path, truth_path
