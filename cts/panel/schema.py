"""The team-week panel's contract: its columns, their meaning, and the derived rates.

One row per team and week. docs/panel.md's schema tables mirror these dictionaries (a test checks).
"""

from __future__ import annotations

__all__ = [
    "AI_TOOLS",
    "ARCHITECTURES",
    "DEFAULT_CONTROLS",
    "OUTCOME_CONTROLS",
    "COUNT_COLUMNS",
    "default_controls",
    "DERIVED_COLUMNS",
    "OPTIONAL_COLUMNS",
    "REQUIRED_COLUMNS",
    "SOURCE_COLUMNS",
    "ai_tool_columns",
    "source_columns",
]

#: Required columns and their meaning (docs/panel.md mirrors this; a test checks it).
REQUIRED_COLUMNS: dict[str, str] = {
    "team_id": "stable team identifier",
    "week": "week start (Monday)",
    "n_builders": "builders (developers) on the team that week, >= 1",
    "crs_merged": "code reviews merged",
    "deployments": "production deployments",
    "rollbacks": "deployments rolled back",
    "manual_interventions": "manual interventions in deployment pipelines",
    "pages": "pages received",
    "oncall_builders": "builders on call that week, 0..n_builders",
    "ai_active_builders": "builders who used the AI assistant that week, 0..n_builders",
}
#: Optional columns with a fixed meaning; any further numeric column is kept as a team covariate.
OPTIONAL_COLUMNS: dict[str, str] = {
    "architecture": "one of service, monolith, trunk",
    "cost_per_builder_week": "loaded cost of one builder-week (currency units), > 0",
    "crs_shipped": "code reviews that reached customers",
    "commits_shipped": "commits that reached customers",
    "org": "organization the team belongs to, constant within a team (any team-level grouping "
    "whose teams share weekly shocks); the adoption models then use week effects by org",
}
#: Columns that must hold non-negative integers.
COUNT_COLUMNS: tuple[str, ...] = (
    "n_builders",
    "crs_merged",
    "deployments",
    "rollbacks",
    "manual_interventions",
    "pages",
    "oncall_builders",
    "ai_active_builders",
    "crs_shipped",
    "commits_shipped",
)
ARCHITECTURES: tuple[str, ...] = ("service", "monolith", "trunk")

#: AI assistants with a column of their own (``other``: any further assistant or agent).
AI_TOOLS: tuple[str, ...] = ("copilot", "cursor", "claude_code", "q", "other")
#: Optional columns that appear only when a source provides them (``<tool>``: one of
#: :data:`AI_TOOLS`). The simulated panel has none of them. docs/panel.md's table mirrors this.
SOURCE_COLUMNS: dict[str, str] = {
    "ai_active_builders_<tool>": "builders who used that AI tool in the week, "
    "0..n_builders and at most `ai_active_builders` (their union)",
    "ai_seats_<tool>": "seats (licences) of that tool held by the team's builders in the week",
    "agent_crs": "merged CRs authored by a coding agent, counted within `crs_merged`",
    "lines_changed": "additions + deletions of the CRs merged in the week",
}


def ai_tool_columns(tool: str) -> tuple[str, str]:
    """The panel columns of one AI tool: its active builders and its seats.

    Examples
    --------
    >>> ai_tool_columns("claude_code")
    ('ai_active_builders_claude_code', 'ai_seats_claude_code')
    """
    if tool not in AI_TOOLS:
        raise ValueError(f"unknown AI tool {tool!r}: one of {', '.join(AI_TOOLS)}")
    return f"ai_active_builders_{tool}", f"ai_seats_{tool}"


def source_columns() -> tuple[str, ...]:
    """Every column name :data:`SOURCE_COLUMNS` stands for (all counts, int >= 0)."""
    tools = [ai_tool_columns(t) for t in AI_TOOLS]
    return (*(a for a, _ in tools), *(s for _, s in tools), "agent_crs", "lines_changed")


#: Derived rates: name -> (numerator, denominator). A zero denominator is floored at one, so a
#: week without deployments has a rollback rate of 0 (or its rollback count, if it still had
#: rollbacks). Rates stay finite and no week is dropped, which matters because dropping
#: zero-deployment weeks would select the sample on the outcome.
DERIVED_COLUMNS: dict[str, tuple[str, str]] = {
    "ai_usage_rate": ("ai_active_builders", "n_builders"),
    "cr_velocity": ("crs_merged", "n_builders"),
    "deploy_velocity": ("deployments", "n_builders"),
    "rollback_rate": ("rollbacks", "deployments"),
    "interventions_per_deploy": ("manual_interventions", "deployments"),
    "pages_per_oncall": ("pages", "oncall_builders"),
}

#: Time-varying controls of the adoption models: delivery health, which slows velocity and is not
#: itself moved by the assistant (``cts.exogeneity_checks`` tests that on each panel).
DEFAULT_CONTROLS: tuple[str, ...] = ("rollback_rate", "interventions_per_deploy")
#: Outcomes whose default controls are not :data:`DEFAULT_CONTROLS`: deployment velocity's are
#: none, because rollback rate and interventions per deployment are ratios over deployments, the
#: outcome's own numerator; when rollbacks and interventions do not arrive in proportion to
#: deployments, the rates fall as deployments rise, and holding them fixed holds part of the
#: outcome fixed (``docs/estimands.md``; ``control_bias`` in ``cts.validation.monte_carlo``).
OUTCOME_CONTROLS: dict[str, tuple[str, ...]] = {"deploy_velocity": ()}


def default_controls(outcome: str) -> tuple[str, ...]:
    """The default controls of the adoption model of ``outcome`` (:data:`OUTCOME_CONTROLS`, else
    :data:`DEFAULT_CONTROLS`)."""
    return OUTCOME_CONTROLS.get(outcome, DEFAULT_CONTROLS)
