"""Event sources that need no telemetry infrastructure (see :func:`cts.build_panel`)."""

from cts.sources import git

__all__ = ["git"]
