"""The team-week panel: its contract, loading and validation, lags, the window, writing."""

from cts.core.exceptions import PanelError, PanelWarning
from cts.panel.lags import lag, lag_rows, lag_term, lag_terms, values_at
from cts.panel.load import (
    WEEK_STARTS,
    load_panel,
    require_columns,
    suppress_small_teams,
    tidy_panel,
    varying_columns,
)
from cts.panel.schema import (
    AI_TOOLS,
    ARCHITECTURES,
    COUNT_COLUMNS,
    DEFAULT_CONTROLS,
    DERIVED_COLUMNS,
    OPTIONAL_COLUMNS,
    OUTCOME_CONTROLS,
    REQUIRED_COLUMNS,
    SOURCE_COLUMNS,
    ai_tool_columns,
    default_controls,
    source_columns,
)
from cts.panel.weekly import to_weekly
from cts.panel.window import in_window, set_window, window_mask, windowed
from cts.panel.write import write_panel

__all__ = [
    "AI_TOOLS",
    "ARCHITECTURES",
    "COUNT_COLUMNS",
    "DEFAULT_CONTROLS",
    "DERIVED_COLUMNS",
    "OPTIONAL_COLUMNS",
    "OUTCOME_CONTROLS",
    "REQUIRED_COLUMNS",
    "SOURCE_COLUMNS",
    "WEEK_STARTS",
    "PanelError",
    "PanelWarning",
    "ai_tool_columns",
    "default_controls",
    "in_window",
    "lag",
    "lag_rows",
    "lag_term",
    "lag_terms",
    "values_at",
    "load_panel",
    "require_columns",
    "set_window",
    "source_columns",
    "suppress_small_teams",
    "tidy_panel",
    "to_weekly",
    "varying_columns",
    "window_mask",
    "windowed",
    "write_panel",
]
