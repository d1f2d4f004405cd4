"""Writing a simulated panel with its truth beside it."""

from __future__ import annotations

import json
import os
from pathlib import Path

from cts.core.io import atomic_write_text
from cts.panel import write_panel
from cts.simulate.org import SimulatedOrg

__all__ = ["write_simulation"]


def write_simulation(sim: SimulatedOrg, path: str | os.PathLike[str]) -> tuple[Path, Path]:
    """Write a simulated panel and its truth (``<stem>.truth.json``, with the parameters).

    Returns
    -------
    tuple of pathlib.Path
        The panel path and the truth path.
    """
    panel_path = write_panel(sim.panel, path)
    truth_path = panel_path.with_name(f"{panel_path.stem}.truth.json")
    atomic_write_text(
        truth_path, json.dumps({"truth": sim.truth, "params": sim.params}, indent=2) + "\n"
    )
    return panel_path, truth_path
