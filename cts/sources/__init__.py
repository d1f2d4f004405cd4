"""Where panels come from: the event-log contract, the engines that build the panel, and readers.

Modules: ``contract`` (the event-log tables), ``build`` (:func:`cts.build_panel` on DuckDB or
Spark), ``config`` (a mixed organisation from a TOML file), and readers: ``git`` (git history),
``github`` (pull requests, deployments), ``copilot`` (usage-metrics reports, seats),
``pagerduty`` (incidents, on-call), ``ai_usage`` (Amazon Q, Claude Code, Cursor), ``seats``
(Claude and Cursor member lists; the seats table), ``identity``
(who is who, on which team); ``records`` holds what the export readers share. Submodules import
on first use: ``cts.sources.git.read_events``.
"""

import importlib

__all__ = [
    "ai_usage",
    "build",
    "config",
    "contract",
    "copilot",
    "git",
    "github",
    "identity",
    "pagerduty",
    "records",
    "seats",
]


def __getattr__(name: str):
    if name in __all__:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
