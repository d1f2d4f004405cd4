"""Every error and warning cts raises, in one hierarchy users can catch or filter.

Errors are ``ValueError`` subclasses, so code that catches bad input keeps working:

- :class:`PanelError` -- a panel breaks its contract (or cannot support an analysis).
- :class:`EventError` -- event logs or a source break the event-log contract.

Warnings derive from :class:`CtsWarning` (a ``UserWarning``), so
``warnings.simplefilter("ignore", cts.CtsWarning)`` silences cts alone:

- :class:`PanelWarning` -- the panel supports the analysis, with a caveat the analyst must see;
  its subclasses say which kind:

  - :class:`ConvergenceWarning` -- a model did not converge cleanly;
  - :class:`FewTeamsWarning` -- too few teams (clusters) for the default inference;
  - :class:`DesignWarning` -- the design identifies an estimate only under a stated caveat;
  - :class:`SourceWarning` -- a source lacks data the panel needs, or records were left out.
"""

from __future__ import annotations

__all__ = [
    "ConvergenceWarning",
    "CtsWarning",
    "DesignWarning",
    "EventError",
    "FewTeamsWarning",
    "PanelError",
    "PanelWarning",
    "SourceWarning",
]


class PanelError(ValueError):
    """The panel breaks its contract; the message names each column and shows offending rows."""

    def __init__(self, problems: str | list[str]):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n\n".join(self.problems))


class EventError(PanelError):
    """Event logs that break the contract; each problem names its table and column."""


class CtsWarning(UserWarning):
    """Base class of every warning cts emits."""


class PanelWarning(CtsWarning):
    """The panel is usable but something needs the analyst's attention."""


class ConvergenceWarning(PanelWarning):
    """A model fitted to the panel did not converge cleanly; its numbers need a cross-check."""


class FewTeamsWarning(PanelWarning):
    """Too few teams (clusters) for normal critical values; resampling inference is safer."""


class DesignWarning(PanelWarning):
    """The design identifies the estimate only under a caveat printed next to it."""


class SourceWarning(PanelWarning):
    """A data source lacks something the panel needs, or some of its records were left out."""
