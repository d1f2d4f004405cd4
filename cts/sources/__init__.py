"""Where panels come from: the event-log contract, the engines that build the panel, and readers.

Modules: ``contract`` (the event-log tables), ``build`` (:func:`cts.build_panel` on DuckDB or
Spark), ``git`` (git history). Submodules import on first use: ``cts.sources.git.read_events``.
"""

import importlib

__all__ = ["build", "contract", "git"]


def __getattr__(name: str):
    if name in __all__:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
