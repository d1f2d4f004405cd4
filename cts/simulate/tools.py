"""Several AI tools in one simulated organisation, each with its own known effect.

With ``simulate_org(tools={"copilot": 1.0, "cursor": 1.6})`` every adopting team standardises on
one tool (drawn with equal chances), and its effect on both velocities is the assistant's effect
(``cr_effect``, ``deploy_effect``) times the tool's multiplier. The panel then carries, per tool,
``ai_active_builders_<tool>`` (the team's active builders when it uses that tool, else 0; the
union ``ai_active_builders`` is unchanged) and ``ai_seats_<tool>`` (every builder of the team
holds a seat from its first week of use on: seats are bought for teams, not for users). A model
with one usage column per tool then recovers each tool's effect exactly as the pooled model
recovers the assistant's; the truth carries it under ``tools``.

The tools are drawn after everything else, so a panel without them is unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

__all__ = ["add_tool_columns", "draw_tools", "tool_truth"]


def draw_tools(
    tools: Mapping[str, float], adopter: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Each team's tool (an index into ``tools``, -1 for teams that never adopt) and its effect
    multiplier (1 for those)."""
    names = list(tools)
    choice = rng.integers(0, len(names), len(adopter))
    choice = np.where(adopter, choice, -1)
    multiplier = np.where(choice >= 0, np.array([tools[n] for n in names])[choice], 1.0)
    return choice, multiplier


def add_tool_columns(
    panel: pd.DataFrame, tool_of_team: Mapping[str, str], tools: Iterable[str]
) -> None:
    """Add ``ai_active_builders_<tool>`` and ``ai_seats_<tool>`` to a simulated panel in place.

    ``tool_of_team`` maps team id to its tool (teams absent never adopt)."""
    tool = panel["team_id"].map(tool_of_team)
    started = (panel["ai_active_builders"] > 0).groupby(panel["team_id"]).cummax()
    for name in tools:
        uses = (tool == name).to_numpy()
        panel[f"ai_active_builders_{name}"] = np.where(uses, panel["ai_active_builders"], 0)
        panel[f"ai_seats_{name}"] = np.where(uses & started.to_numpy(), panel["n_builders"], 0)
        panel[f"ai_active_builders_{name}"] = panel[f"ai_active_builders_{name}"].astype("int64")
        panel[f"ai_seats_{name}"] = panel[f"ai_seats_{name}"].astype("int64")


def tool_truth(
    tools: Mapping[str, float],
    choice: np.ndarray,
    multiplier: np.ndarray,
    effect: float,
    persistence: float,
) -> dict[str, dict[str, float]]:
    """Each tool's ``short_run`` and ``long_run`` effect per unit of its usage share: the
    assistant's effect times the mean multiplier of the teams that use it."""
    truth = {}
    for index, name in enumerate(tools):
        users = choice == index
        short = float(effect * multiplier[users].mean()) if users.any() else effect * tools[name]
        truth[name] = {"short_run": short, "long_run": short / (1 - persistence)}
    return truth
