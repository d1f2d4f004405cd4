"""The analyses of a team-week panel, in the vocabulary of software delivery.

Modules: ``adoption`` (the effect of AI-assistant adoption), ``exogeneity`` (are the controls
exogenous?), ``heterogeneity`` (effects by team trait), ``cost`` (CTS-SW), ``drivers`` (what drives
CTS-SW), ``impact`` (engineering-years and money), ``value`` (net return of the assistant per tool,
the outcome without it), ``quality`` (its quality guardrails), ``planning`` (power before a
rollout), ``overview`` (the panel at a glance), ``selection`` (intervals widened for ``auto``'s
search).
"""
