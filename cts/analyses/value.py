"""What the AI assistant returns for what it costs: paths with and without it, net return per
tool (the quality guardrails beside it are :mod:`cts.analyses.quality`).

Everything here rests on one function, :func:`assistant_paths`: each team-week's observed outcome
and the outcome it would have had without the assistant, with draws of the organisation's weekly
totals for intervals. The paths are the counterfactual engine's (:func:`cts.counterfactual`:
each adopting team rolled forward without the assistant, split by tool when the panel says
which tool each builder used); the pooled dynamic model's recursion stays as
``method="pooled"`` for comparison. The net return (:func:`net_return`) and the CTS-SW chart
only read the paths.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar, cast

import numpy as np
import pandas as pd

from cts.analyses.adoption import AdoptionEffect, estimate_adoption_effect
from cts.analyses.cost import CostToServe
from cts.analyses.counterfactual import Counterfactual, counterfactual
from cts.core.results import LEVEL, Result, draws_p_value
from cts.estimators.dynamic import DynamicPanelResult, Method, dynamic_panel
from cts.panel import (
    DERIVED_COLUMNS,
    PanelError,
    default_controls,
    varying_columns,
    window_mask,
    windowed,
)

__all__ = [
    "AGAINST_COUNTERFACTUAL",
    "ASSUMED_SEAT_COST",
    "CAPACITY_NOT_CASH",
    "REPS",
    "SPLIT_BY_TOOL",
    "TOOLS",
    "AssistantPaths",
    "NetReturn",
    "agent_share",
    "assistant_paths",
    "choose_money_outcome",
    "cts_sw_without",
    "format_money",
    "net_return",
    "significant",
    "tools_in",
    "year_over_year",
]

#: Tools a panel may carry one usage column for (``ai_active_builders_<tool>``), and their names.
TOOLS: dict[str, str] = {
    "copilot": "GitHub Copilot",
    "cursor": "Cursor",
    "claude_code": "Claude Code",
    "q": "Amazon Q Developer",
    "other": "other assistants",
}
#: Seat price per builder-month used when none is given: an assumption the brief says it made
#: (the list price of a business seat of the most common assistant), never a measured figure.
ASSUMED_SEAT_COST = 19.0
#: What the value is: said on the brief beside the money.
CAPACITY_NOT_CASH = (
    "The value is capacity, not cash: builder time freed to ship the same work. It becomes "
    "money only if hiring slows or the freed time ships more; the licences are cash."
)
_SINGLE = "assistant"  # the one assistant of a panel without per-tool columns
_Units = TypeVar("_Units", float, np.ndarray)  # units a week: one estimate, or one per draw
#: Team bootstrap draws of the counterfactual behind the money. The value's interval is read
#: from the draws' percentiles, so its 2.5% tail rests on ~12 draws at 499 (5 at 199, too few
#: for a stable percentile); the CPU cost on 1,000 teams x 156 weeks is in docs/value.md.
REPS = 499
#: How the tools' parts of the value are measured: said beside them on the brief.
SPLIT_BY_TOOL = (
    "one baseline, each adopting team's path without any assistant; each team-week's gain is "
    "split among the tools the team used, so the parts add up to the total"
)
#: What the value is measured against (counterfactual paths), said on the brief.
AGAINST_COUNTERFACTUAL = (
    "each adopting team's own path without the assistant, rolled forward from its weeks "
    "before it adopted and learnt from the teams not using it"
)


def tools_in(panel: pd.DataFrame) -> list[str]:
    """Tools with a usage column (``ai_active_builders_<tool>``) in the panel, in :data:`TOOLS`
    order."""
    return [tool for tool in TOOLS if f"ai_active_builders_{tool}" in panel.columns]


def significant(value: float, digits: int = 3) -> float:
    """``value`` rounded to ``digits`` significant digits (money is never shown to the cent)."""
    if not np.isfinite(value) or value == 0:
        return float(value)
    return float(round(value, digits - 1 - math.floor(math.log10(abs(value)))))


def format_money(value: float, currency: str = "USD", digits: int = 3) -> str:
    """Money in words a reader takes in at once: ``USD 108 million``, ``EUR 4.52 million``,
    ``USD 912,000``, ``USD 12.3``; three significant digits. The one style of money in the
    reports, prose and tables alike (:func:`cts.reporting.formatting.format_money` calls it)."""
    if not np.isfinite(value):
        return "not available"
    rounded = significant(value, digits)
    sign = "-" if rounded < 0 else ""
    size = abs(rounded)
    if size == 0:
        return f"{currency} 0"
    scales = ((1e9, " billion"), (1e6, " million"))
    scale, word = next(((s, w) for s, w in scales if size >= s), (1.0, ""))
    decimals = max(0, digits - 1 - math.floor(math.log10(size / scale)))
    return f"{sign}{currency} {size / scale:,.{decimals}f}{word}"


@dataclass(repr=False)
class AssistantPaths(Result):
    """Each team-week's outcome with the assistant (observed) and without it.

    Attributes
    ----------
    table
        One row per team-week of the analysis window: ``team_id, week, n_builders, observed,
        without, assistant`` (``observed - without``), in the outcome's units per builder-week;
        with several tools also ``assistant_<tool>`` (adding up to ``assistant``). A team that
        never uses the assistant has ``without = observed``.
    weekly
        Indexed by week: ``builder_weeks``, ``observed_units`` and ``without_units`` (the
        outcome times builders, summed over teams: CRs or deployments when the outcome is a
        velocity), ``without_low``, ``without_high`` (``level`` interval from the draws).
    draws
        Tool (or ``"assistant"``) -> array (draws x weeks) of the units the assistant added each
        week (``observed_units - without_units``) under each draw, centred on ``point``.
    point
        Tool -> the units it added each week (the estimate; the tools add up to the total).
    long_run
        Tool -> (estimate, se) of its long-run effect per builder-week at full use.
    outcome, method, level
        What was modelled and how (``counterfactual`` or ``pooled``).
    counterfactual
        The :class:`cts.Counterfactual` behind the paths (``None`` for the pooled model).
    """

    _metadata_fields = ("outcome", "method")

    table: pd.DataFrame
    weekly: pd.DataFrame
    draws: dict[str, np.ndarray]
    long_run: dict[str, tuple[float, float]]
    outcome: str
    method: str
    level: float = LEVEL
    point: dict[str, np.ndarray] = field(default_factory=dict)
    counterfactual: Counterfactual | None = None

    @property
    def tools(self) -> list[str]:
        """The tools (``["assistant"]`` for a panel with one usage column)."""
        return list(self.draws)

    def summary(self) -> str:
        """The paths in words: how much of the outcome the assistant accounts for."""
        w = self.weekly
        share = 1 - w["without_units"].sum() / w["observed_units"].sum()
        effects = "; ".join(
            f"{TOOLS.get(t, t)}: {e:+.3f} (SE {s:.3f})" for t, (e, s) in self.long_run.items()
        )
        how = (
            "each adopting team's path without the assistant"
            if self.method == "counterfactual"
            else f"pooled model, {self.method}"
        )
        return (
            f"Without the assistant, {self.outcome} over the window would have been "
            f"{share:.1%} lower ({how}; long-run effect per builder-week at full use: "
            f"{effects})."
        )


def assistant_paths(
    panel: pd.DataFrame,
    outcome: str = "deploy_velocity",
    *,
    method: str = "counterfactual",
    tools: Sequence[str] | None = None,
    controls: Sequence[str] | None = None,
    reps: int = REPS,
    seed: int = 0,
    level: float = LEVEL,
    effect: AdoptionEffect | None = None,
    pooled_method: str = "auto",
    draws: int = 1000,
) -> AssistantPaths:
    """Each team-week's outcome as observed and as it would have been without the assistant.

    By default (``method="counterfactual"``) each adopting team's path without the assistant
    comes from :func:`cts.counterfactual`: the no-assistant model fitted on the team-weeks
    without usage, each adopter rolled forward without the assistant from its last week
    without it; the assistant's part of a team-week is observed minus that path, and a
    non-adopter's weeks are their own path (``without = observed``). The draws are the
    counterfactual's own team bootstrap draws of the weekly extra units, nothing refitted.

    With two or more tools, one baseline serves them all: the counterfactual of total usage
    (a team's first use of any tool starts its path), and each team-week's effect is split
    among the tools by :attr:`cts.Counterfactual.by_part` (``docs/counterfactual.md``, "Split
    by tool"), so the tools' parts add up to the total without double counting.

    ``method="pooled"`` runs the pooled dynamic model's recursion instead, for comparison:
    ``d_t = sum_j g_j u_t-j + sum_k b_k d_t-k`` team by team from no use, with normal draws of
    the pooled coefficients (``effect``, ``pooled_method``, ``draws`` apply to it only).

    Parameters
    ----------
    panel
        A panel from :func:`cts.load_panel`; its window is honoured.
    outcome
        ``cr_velocity``, ``deploy_velocity`` or another numeric column.
    method
        ``"counterfactual"`` (default) or ``"pooled"``.
    tools
        Tools to split by (default: every ``ai_active_builders_<tool>`` column when there are
        two or more).
    controls
        Controls of the no-assistant model (default: the outcome's,
        :func:`cts.panel.default_controls`).
    reps, seed
        Team bootstrap draws of the counterfactual (default :data:`REPS`) and their seed.
    level
        Confidence level of the intervals.
    effect, pooled_method, draws
        With ``method="pooled"``: the pooled effect to use (default
        :func:`cts.estimate_adoption_effect` with ``pooled_method``), and the normal draws of
        its coefficients.

    Returns
    -------
    AssistantPaths
        ``draws`` are centred on the point estimate (see :func:`_centred`), so every quantity
        read from them (value, multiple, payback) has its estimate at the centre of its own
        draws and a p-value that agrees with its percentile interval.
    """
    tools = list(tools_in(panel) if tools is None else tools)
    controls = default_controls(outcome) if controls is None else tuple(controls)
    if method == "pooled":
        return _pooled_paths(
            panel, outcome, effect, tools, controls, pooled_method, draws, seed, level
        )
    if method != "counterfactual":
        raise ValueError(f"method is 'counterfactual' or 'pooled', not {method!r}")
    if effect is not None:
        raise ValueError("effect= is the pooled model's: pass method='pooled' to use it")
    data = panel
    split: tuple[str, ...] = ()
    if len(tools) >= 2:
        data = _with_tool_rates(panel, tools)
        split = tuple(f"ai_usage_rate_{tool}" for tool in tools)
    result = counterfactual(
        data, outcome, controls=controls, reps=reps, seed=seed, level=level, split_by=split
    )
    return _counterfactual_paths(panel, result, tools)


def _counterfactual_paths(
    panel: pd.DataFrame, result: Counterfactual, tools: list[str]
) -> AssistantPaths:
    """:class:`AssistantPaths` from a counterfactual (split by ``tools`` when two or more)."""
    if result.effects is None or result.weekly is None:
        raise ValueError("the counterfactual has no effects or weekly totals to read paths from")
    rows = windowed(panel)
    names = (
        {tool: f"ai_usage_rate_{tool}" for tool in tools}
        if len(tools) >= 2
        else {tools[0] if tools else _SINGLE: "total"}
    )
    effects = result.effects.set_index(["team_id", "week"])
    key = pd.MultiIndex.from_arrays([rows["team_id"], rows["week"]])
    observed = rows[result.outcome].to_numpy(float)
    assistant = effects["effect"].reindex(key).fillna(0.0).to_numpy()
    table = _paths_table(rows, observed, assistant)
    if len(tools) >= 2:
        for tool, column in names.items():
            part = effects[f"effect.{column}"].reindex(key).fillna(0.0).to_numpy()
            table[f"assistant_{tool}"] = part
    grouped = (
        table.assign(
            builder_weeks=table["n_builders"],
            observed_units=table["observed"] * table["n_builders"],
        )
        .groupby("week")[["builder_weeks", "observed_units"]]
        .sum()
    )
    weekly = grouped.loc[grouped["builder_weeks"] > 0]
    position = result.weekly.index.get_indexer(weekly.index)
    weekly_column = {
        n: "extra_units" if c == "total" else f"extra_units.{c}" for n, c in names.items()
    }
    point = {n: result.weekly[c].to_numpy()[position] for n, c in weekly_column.items()}
    draws = {n: _centred(result.weekly_draws[c][:, position], point[n]) for n, c in names.items()}
    added = sum(draws.values())
    without_draws = weekly["observed_units"].to_numpy()[None, :] - added
    weekly = weekly.assign(
        without_units=weekly["observed_units"] - sum(point.values()),
        **_without_interval(without_draws, result.level),
    )
    long_run = {n: _counterfactual_long_run(result, c) for n, c in names.items()}
    return AssistantPaths(
        table=table,
        weekly=weekly,
        draws=draws,
        point=point,
        long_run=long_run,
        outcome=result.outcome,
        method="counterfactual",
        level=result.level,
        counterfactual=result,
    )


def _counterfactual_long_run(result: Counterfactual, part: str) -> tuple[float, float]:
    """The long-run estimate and SE of a counterfactual, in all (``part="total"``) or of one
    usage part (a ``split_by`` column)."""
    if part == "total":
        row = result.table.loc["long_run"]
    elif result.by_part is None:
        raise ValueError(f"the counterfactual was not split by usage part: no part {part!r}")
    else:
        row = result.by_part.loc[(part, "long_run")]
    estimate, se = row[["estimate", "se"]].astype(float)
    return estimate, se


def _centred(draws: np.ndarray, point: np.ndarray) -> np.ndarray:
    """Bootstrap draws (draws x weeks) shifted so that each week's mean is the point estimate.

    The team bootstrap's draws of the weekly extra units centre on the point estimate up to
    the bootstrap's own bias (the powers of the persistence along a path, the ratio that
    counts adopters without a counterfactual at the week's average): about 1% of their SD on
    the simulated panels. Shifting them by that gap keeps their spread and makes the point
    estimate the centre of its own draws for every sum over weeks, so the value, multiple and
    payback read from them have their estimate inside their interval and a p-value (the share
    of draws across zero) that agrees with it."""
    if not len(draws):
        return draws
    return draws - draws.mean(axis=0, keepdims=True) + point[None, :]


def _pooled_paths(
    panel: pd.DataFrame,
    outcome: str,
    effect: AdoptionEffect | None,
    tools: list[str],
    controls: Sequence[str],
    method: str,
    draws: int,
    seed: int,
    level: float,
) -> AssistantPaths:
    """The pooled dynamic model's recursion (``method="pooled"`` of :func:`assistant_paths`)."""
    if len(tools) >= 2:
        data = _with_tool_rates(panel, tools)
        treatments = [f"ai_usage_rate_{tool}" for tool in tools]
        controls = varying_columns(data.loc[window_mask(data)], controls, "control")
        model = dynamic_panel(
            data,
            outcome,
            [*treatments, *controls],
            "team_id",
            "week",
            # dynamic_panel rejects any other name
            method="bias_corrected" if method == "auto" else cast("Method", method),
            sample=window_mask(data),
            level=level,
        )
        names = dict(zip(tools, treatments, strict=True))
    else:
        if effect is None:
            effect = estimate_adoption_effect(
                panel, outcome=outcome, controls=controls, method=method
            )
        model, data = effect.model, panel
        names = {tools[0] if len(tools) == 1 else _SINGLE: effect.treatment}
    return _paths(data, model, names, draws, seed, level)


def _with_tool_rates(panel: pd.DataFrame, tools: Sequence[str]) -> pd.DataFrame:
    missing = [t for t in tools if f"ai_active_builders_{t}" not in panel.columns]
    if missing:
        raise PanelError(
            f"no usage column for {', '.join(missing)}: the panel needs "
            + ", ".join(f"`ai_active_builders_{t}`" for t in missing)
        )
    data = panel.copy()
    for tool in tools:
        data[f"ai_usage_rate_{tool}"] = data[f"ai_active_builders_{tool}"] / data["n_builders"]
    data.attrs = panel.attrs
    return data


def _coefficients(model: DynamicPanelResult, treatment: str) -> list[str]:
    lags = [f"L{k}.{treatment}" for k in range(1, model.treatment_lags + 1)]
    return [treatment, *(name for name in lags if name in model.table.index)]


def _paths(
    data: pd.DataFrame,
    model: DynamicPanelResult,
    names: dict[str, str],
    draws: int,
    seed: int,
    level: float,
) -> AssistantPaths:
    """Run the recursion for the point estimate and for each draw, tool by tool."""
    rows = windowed(data)
    calendar = _Calendar.of(rows)
    builders = calendar.builders

    lag_names = list(model.lag_terms)
    coefficient_names = [n for t in names.values() for n in _coefficients(model, t)] + lag_names
    mean = model.table.loc[coefficient_names, "estimate"].to_numpy(float)
    vcov = model.vcov.loc[coefficient_names, coefficient_names].to_numpy(float)
    sample = np.random.default_rng(seed).multivariate_normal(mean, vcov, size=draws)
    n_lags = len(lag_names)

    point_total = np.zeros(calendar.shape)
    weekly_draws: dict[str, np.ndarray] = {}
    point_weekly: dict[str, np.ndarray] = {}
    long_run: dict[str, tuple[float, float]] = {}
    column = 0
    for tool, treatment in names.items():
        usage = _usage_matrix(
            rows, treatment, calendar.team_index, calendar.week_index, calendar.shape
        )
        k = len(_coefficients(model, treatment))
        point = _recursion(usage, mean[column : column + k], mean[-n_lags:] if n_lags else None)
        point_total += point
        point_weekly[tool] = (point * builders).sum(axis=0)
        weekly_draws[tool] = _weekly_draws(
            usage, builders, sample[:, column : column + k], sample[:, -n_lags:] if n_lags else None
        )
        long_run[tool] = _model_long_run(model, treatment)
        column += k

    observed = rows[model.y].to_numpy(float)
    table = _paths_table(rows, observed, point_total[calendar.team_index, calendar.week_index])
    added = sum(weekly_draws.values())
    observed_units = np.bincount(
        calendar.week_index, observed * rows["n_builders"], len(calendar.weeks)
    )
    without_draws = observed_units[None, :] - added
    weekly = pd.DataFrame(
        {
            "builder_weeks": builders.sum(axis=0),
            "observed_units": observed_units,
            "without_units": observed_units - sum(point_weekly.values()),
            **_without_interval(without_draws, level),
        },
        index=pd.Index(calendar.weeks, name="week"),
    )
    weekly = weekly.loc[weekly["builder_weeks"] > 0]
    kept = np.flatnonzero(builders.sum(axis=0) > 0)
    return AssistantPaths(
        table=table,
        weekly=weekly,
        draws={tool: d[:, kept] for tool, d in weekly_draws.items()},
        point={tool: p[kept] for tool, p in point_weekly.items()},
        long_run=long_run,
        outcome=model.y,
        method=model.method,
        level=level,
    )


@dataclass(frozen=True)
class _Calendar:
    """The teams by calendar weeks of a panel's rows, and its builders in that layout."""

    team_index: np.ndarray  # each row's team
    weeks: pd.DatetimeIndex  # every week from the first to the last
    week_index: np.ndarray  # each row's week
    builders: np.ndarray  # teams x weeks, 0 where a team has no row

    @property
    def shape(self) -> tuple[int, int]:
        return self.builders.shape

    @classmethod
    def of(cls, rows: pd.DataFrame) -> _Calendar:
        teams, team_index = np.unique(rows["team_id"].astype(str), return_inverse=True)
        weeks = pd.date_range(rows["week"].min(), rows["week"].max(), freq="7D")
        week_index = ((rows["week"] - weeks[0]).dt.days // 7).to_numpy()
        builders = np.zeros((len(teams), len(weeks)))
        builders[team_index, week_index] = rows["n_builders"].to_numpy(float)
        return cls(team_index, weeks, week_index, builders)


def _model_long_run(model: DynamicPanelResult, treatment: str) -> tuple[float, float]:
    """The pooled model's long-run effect of ``treatment`` and its SE (NaN when it has none)."""
    terms = [f"long_run.{n}" for n in _coefficients(model, treatment)[:1]]
    row = model.table.loc[terms[0]] if terms[0] in model.table.index else None
    return (float(row["estimate"]), float(row["se"])) if row is not None else (np.nan, np.nan)


def _paths_table(rows: pd.DataFrame, observed: np.ndarray, assistant: np.ndarray) -> pd.DataFrame:
    """Each team-week's outcome as observed, without the assistant, and the difference."""
    return pd.DataFrame(
        {
            "team_id": rows["team_id"].to_numpy(),
            "week": rows["week"].to_numpy(),
            "n_builders": rows["n_builders"].to_numpy(),
            "observed": observed,
            "without": observed - assistant,
            "assistant": assistant,
        }
    )


def _without_interval(without_draws: np.ndarray, level: float) -> dict[str, np.ndarray]:
    """The percentile interval of the weekly units without the assistant (draws x weeks)."""
    return {
        "without_low": np.percentile(without_draws, 50 * (1 - level), axis=0),
        "without_high": np.percentile(without_draws, 50 * (1 + level), axis=0),
    }


def _usage_matrix(
    rows: pd.DataFrame,
    treatment: str,
    team_index: np.ndarray,
    week_index: np.ndarray,
    shape: tuple[int, int],
) -> np.ndarray:
    """Usage by team and calendar week: missing weeks inside a team's life carry the last
    observed week's usage; weeks before it are zero."""
    usage = np.full(shape, np.nan)
    usage[team_index, week_index] = rows[treatment].to_numpy(float)
    return pd.DataFrame(usage).ffill(axis=1).fillna(0.0).to_numpy()


def _recursion(usage: np.ndarray, gammas: np.ndarray, betas: np.ndarray | None) -> np.ndarray:
    """The point paths ``d_t = sum_j g_j u_t-j + sum_k b_k d_t-k``, teams x weeks (``gammas``
    and ``betas`` are one draw's coefficients)."""
    n_teams, n_weeks = usage.shape
    betas = np.zeros(0) if betas is None else betas
    lags = len(betas)
    paths = np.zeros((n_teams, n_weeks))
    for t in range(n_weeks):
        current = sum(g * usage[:, t - j] for j, g in enumerate(gammas) if t - j >= 0)
        for k in range(1, min(lags, t) + 1):
            current = current + betas[k - 1] * paths[:, t - k]
        paths[:, t] = current
    return paths


def _weekly_draws(
    usage: np.ndarray, weights: np.ndarray, gammas: np.ndarray, betas: np.ndarray | None
) -> np.ndarray:
    """The weighted sum over teams of ``d_t`` for every draw (draws x weeks).

    ``d`` is linear in usage, ``d_t = sum_m h_m u_t-m`` with ``h`` the model's impulse response,
    so the weekly total is ``sum_m h_m M[t, t-m]`` with ``M = weights' usage`` computed once:
    weeks x weeks work per draw instead of a recursion over every team.
    """
    n_weeks = usage.shape[1]
    cross = weights.T @ usage  # M[t, s] = sum_i w_it u_is
    t, m = np.meshgrid(np.arange(n_weeks), np.arange(n_weeks), indexing="ij")
    lagged = np.where(t - m >= 0, cross[t, np.clip(t - m, 0, None)], 0.0)  # N[t, m] = M[t, t-m]
    n_draws = gammas.shape[0]
    impulse = np.zeros((n_draws, n_weeks))
    betas = np.zeros((n_draws, 0)) if betas is None else betas
    lags = betas.shape[1]
    for step in range(n_weeks):
        value = gammas[:, step] if step < gammas.shape[1] else np.zeros(n_draws)
        for k in range(1, min(lags, step) + 1):
            value = value + betas[:, k - 1] * impulse[:, step - k]
        impulse[:, step] = value
    return impulse @ lagged.T


def agent_share(panel: pd.DataFrame, recent_weeks: int = 13) -> float | None:
    """Share of CRs merged that coding agents authored over the last ``recent_weeks`` weeks of
    the window (``agent_crs``; None when the panel does not say). Agents' CRs are part of the
    CR count, i.e. of the outcome, so they are reported, not estimated as a treatment."""
    if "agent_crs" not in panel.columns:
        return None
    rows = windowed(panel)
    recent = rows.loc[rows["week"] > rows["week"].max() - pd.Timedelta(weeks=recent_weeks)]
    merged = recent["crs_merged"].sum()
    return float(recent["agent_crs"].sum() / merged) if merged else None


def choose_money_outcome(panel: pd.DataFrame, unit: str = "auto") -> tuple[str, str]:
    """Which velocity to put a price on, and why in one sentence.

    The one that counts CTS-SW's unit for most builder-weeks: deployments where teams ship by
    deploying services (or ``unit="deployments"``), CRs where monoliths and trunk-based teams
    ship CRs and commits (``unit`` ``crs_shipped``, ``crs_merged``, ``commits_shipped``).
    """
    if unit not in ("auto", None):
        chosen = "deploy_velocity" if unit == "deployments" else "cr_velocity"
        what = "deployments" if chosen == "deploy_velocity" else "CRs"
        return chosen, f"{what}, because CTS-SW here is counted in {unit.replace('_', ' ')}"
    rows = windowed(panel)
    if "architecture" not in rows.columns:
        return "deploy_velocity", (
            "deployments, what reaches customers (the panel names no architecture)"
        )
    weights = rows.groupby("architecture")["n_builders"].sum()
    service = float(weights.get("service", 0.0) / weights.sum())
    if service >= 0.5:
        return "deploy_velocity", (
            f"deployments, because {service:.0%} of builder-weeks are in service teams, whose "
            "CTS-SW is counted in deployments"
        )
    return "cr_velocity", (
        f"CRs, because {1 - service:.0%} of builder-weeks are in monolith and trunk-based "
        "teams, whose CTS-SW is counted in shipped CRs and commits"
    )


@dataclass(repr=False)
class NetReturn(Result):
    """The assistant's value a year beside what its seats cost.

    Attributes
    ----------
    table
        Indexed by quantity: ``value_a_year`` (capacity freed, in money), ``licence_spend_a_year``,
        ``net_value_a_year``, ``return_multiple`` (value / spend), ``payback_months`` (months of
        value that pay a year of seats), ``builder_weeks_freed_a_year``,
        ``engineering_years_freed_a_year``, ``units_added_a_year`` (at unchanged headcount,
        instead); columns ``estimate, ci_low, ci_high`` (spend is known, so its interval is
        itself; the others carry the effect's draws).
    by_tool
        One row per tool: ``seats``, ``seat_cost`` (per builder-month), ``licence_spend_a_year``,
        ``value_a_year`` (and ``_low``, ``_high``), ``net_value_a_year``, ``return_multiple``,
        ``long_run`` (effect per builder-week at full use), ``break_even_effect``.
    break_even_effect
        The long-run effect per builder-week at full use at which the value would just pay for
        the seats; ``effect`` is the estimate to compare it with (NaN for several tools: each
        has its own in ``by_tool``).
    adoption, active_builders, builders
        Today's share of builders using an assistant, and builders using one and in all, per week.
    seats, seat_basis, price_assumed
        Seats priced a week, where that count came from, and whether the price was assumed.
    outcome, unit, reason, currency, cost_per_builder_week, recent_weeks
        What was valued and why.
    measured_against
        What "without the assistant" means for these numbers (:data:`AGAINST_COUNTERFACTUAL`
        for the counterfactual's paths, the pooled model's recursion otherwise).
    """

    _metadata_fields = ("outcome", "currency")

    table: pd.DataFrame
    by_tool: pd.DataFrame
    break_even_effect: float
    effect: float
    adoption: float
    active_builders: float
    builders: float
    seats: float
    seat_basis: str
    price_assumed: bool
    outcome: str
    unit: str
    reason: str
    currency: str
    cost_per_builder_week: float
    recent_weeks: int
    level: float = LEVEL
    measured_against: str = ""

    def money(self, quantity: str, interval: bool = True) -> str:
        """One money quantity of :attr:`table` in words, with its interval."""
        row = self.table.loc[quantity]
        text = format_money(row["estimate"], self.currency)
        if interval and row["ci_low"] != row["ci_high"]:
            text += (
                f" ({self.level:.0%} CI {format_money(row['ci_low'], self.currency)} to "
                f"{format_money(row['ci_high'], self.currency)})"
            )
        return text

    def multiple(self) -> str:
        """The return multiple with its interval, e.g. ``14.2x (95% CI 12.9x to 15.6x)``."""
        row = self.table.loc["return_multiple"]
        return (
            f"{significant(row['estimate']):g}x ({self.level:.0%} CI "
            f"{significant(row['ci_low']):g}x to {significant(row['ci_high']):g}x)"
        )

    def payback(self) -> str:
        """Months of the assistant's value that pay a year of its seats."""
        months = float(self.table["estimate"]["payback_months"])
        if not np.isfinite(months) or months <= 0:
            return "never at this effect"
        if months < 1:
            return f"{months * 365.25 / 12:.0f} days of its value pay a year of seats"
        return f"{significant(months, 2):g} months of its value pay a year of seats"

    def break_even(self) -> str:
        """The break-even effect in words, beside the estimate."""
        if len(self.by_tool) > 1:
            return "one per tool (below)"
        return (
            f"{self.break_even_effect:+.3f} {self.unit}s per builder-week at full use "
            f"(estimate {self.effect:+.3f}, {self.effect / self.break_even_effect:.0f} times it)"
            if self.break_even_effect > 0 and np.isfinite(self.effect)
            else "not reached"
        )

    def headlines(self) -> dict[str, str]:
        """The brief's lines for this return, labelled for a reader (no column names)."""
        seats = (
            f"{self.seats:,.0f} seats a week ({self.seat_basis}) at "
            + ", ".join(
                f"{TOOLS.get(str(t), 'the assistant')} {self.currency} {p:g}"
                for t, p in self.by_tool["seat_cost"].items()
            )
            + " per builder-month"
            + (" (assumed: pass the seat price)" if self.price_assumed else "")
        )
        return {
            "net value a year": self.money("net_value_a_year"),
            "value a year (capacity)": self.money("value_a_year"),
            "licence spend a year": f"{self.money('licence_spend_a_year', False)}; {seats}",
            "return multiple": self.multiple(),
            "payback": self.payback(),
            "break-even effect": self.break_even(),
            "today's adoption": (
                f"{self.adoption:.0%} of builders ({self.active_builders:,.0f} of "
                f"{self.builders:,.0f} a week, last {self.recent_weeks} weeks)"
            ),
            "valued on": self.reason,
            **({"measured against": self.measured_against} if self.measured_against else {}),
        }

    def summary(self) -> str:
        """The return in words."""
        lines = [f"{k}: {v}" for k, v in self.headlines().items()]
        if len(self.by_tool) > 1:
            lines += ["", f"Per tool ({SPLIT_BY_TOOL}):"]
            money = {
                c: self.by_tool[c].map(lambda v: format_money(v, self.currency))
                for c in ("value_a_year", "licence_spend_a_year", "net_value_a_year")
            }
            for label, row in self.by_tool.iterrows():
                tool = str(label)  # the index holds the tools' names
                lines.append(
                    f"- {TOOLS.get(tool, tool)}: value {money['value_a_year'][tool]}, spend "
                    f"{money['licence_spend_a_year'][tool]}, net {money['net_value_a_year'][tool]}"
                    f", {significant(row['return_multiple']):g}x"
                )
        return "\n".join([*lines, "", CAPACITY_NOT_CASH])


def net_return(
    panel: pd.DataFrame,
    paths: AssistantPaths,
    *,
    seat_cost: Mapping[str, float] | None = None,
    cost_per_builder_week: float | None = None,
    currency: str = "USD",
    reason: str = "",
    recent_weeks: int = 13,
    weeks_per_year: float = 52.0,
) -> NetReturn:
    """Licence spend, net value, return multiple, payback and break-even effect of the assistant.

    Over the last ``recent_weeks`` weeks of the window the assistant added ``D`` units a week
    (:func:`assistant_paths`) to ``U`` observed, with ``B`` builder-weeks a week. Shipping the
    same ``U`` without it would take ``B U / (U - D)`` builder-weeks, so it frees
    ``B D / (U - D)`` a week, valued at the cost of a builder-week. The seats cost the price per
    builder-month times seats, 12 months a year. Each draw of the effect gives a value, so the
    value, net value, multiple and payback carry its interval.

    Parameters
    ----------
    panel
        The panel the paths came from (builders, seats, cost).
    paths
        From :func:`assistant_paths` on a CR or deployment velocity.
    seat_cost
        Price of a seat per builder-month, by tool (``{"copilot": 19, "cursor": 40}``); for a
        panel with one usage column, one price (any name). Default: :data:`ASSUMED_SEAT_COST`,
        said to be assumed.
    cost_per_builder_week
        Loaded cost of a builder-week; default the panel's ``cost_per_builder_week`` (weighted by
        builders over the recent weeks).
    currency, reason
        The money's currency, and why this outcome was chosen (:func:`choose_money_outcome`).
    recent_weeks, weeks_per_year
        What "today" is, and builder-weeks in a year.

    Returns
    -------
    NetReturn

    Raises
    ------
    ValueError
        Without a cost per builder-week, or with prices for tools the panel does not carry.
    """
    if paths.outcome not in DERIVED_COLUMNS or paths.outcome not in (
        "cr_velocity",
        "deploy_velocity",
    ):
        raise ValueError(f"net_return values CR or deployment velocity, not `{paths.outcome}`")
    today = _today(panel, paths, seat_cost, cost_per_builder_week, recent_weeks, weeks_per_year)
    total_point, total_spend = today.total_point, today.total_spend
    value_draws, value_point = today.value(today.total_draws), today.value(total_point)
    table = _draw_table(_quantities(today, value_point, value_draws), paths.level)
    by_tool = _by_tool(paths, today, value_point, value_draws)
    # one break-even effect for one tool; with several, each tool has its own (by_tool)
    effect = paths.long_run[paths.tools[0]][0] if len(paths.tools) == 1 else np.nan
    builders, units = today.builders, today.units
    k = total_spend / (today.cost * weeks_per_year * builders)
    scale = k * units / ((1 + k) * total_point) if total_point > 0 else np.inf
    return NetReturn(
        table=table,
        by_tool=by_tool,
        break_even_effect=float(effect * scale),
        effect=float(effect),
        adoption=float(today.active / builders),
        active_builders=float(today.active),
        builders=builders,
        seats=float(sum(today.seats.values())),
        seat_basis=today.seat_basis,
        price_assumed=today.price_assumed,
        outcome=paths.outcome,
        unit="CR" if paths.outcome == "cr_velocity" else "deployment",
        reason=reason,
        currency=currency,
        cost_per_builder_week=today.cost,
        recent_weeks=recent_weeks,
        level=paths.level,
        measured_against=(
            AGAINST_COUNTERFACTUAL
            if paths.method == "counterfactual"
            else "the pooled dynamic model's path of each team without the assistant"
        ),
    )


@dataclass(frozen=True)
class _Today:
    """What today's value rests on: weekly means over the recent weeks, prices and seats."""

    cost: float  # of a builder-week
    weeks_per_year: float
    builders: float  # builder-weeks a week
    units: float  # units observed a week
    added: dict[str, np.ndarray]  # units a week each tool added, one a draw
    added_point: dict[str, float]  # units a week each tool added, the estimate
    prices: dict[str, float]  # of a seat per builder-month, by tool
    price_assumed: bool
    seats: dict[str, float]  # seats a week, by tool
    seat_basis: str
    active: float  # active builders a week

    @property
    def total_draws(self) -> np.ndarray:
        return sum(self.added.values(), start=np.zeros(()))

    @property
    def total_point(self) -> float:
        return sum(self.added_point.values())

    @property
    def spend(self) -> dict[str, float]:
        """Licence spend a year, by tool."""
        return {t: self.prices[t] * self.seats[t] * 12 for t in self.prices}

    @property
    def total_spend(self) -> float:
        return sum(self.spend.values())

    def value(self, d: _Units) -> _Units:
        """Value a year of ``d`` units added a week: the builder-weeks they free, at cost."""
        return self.cost * self.weeks_per_year * self.builders * d / (self.units - d)


def _today(
    panel: pd.DataFrame,
    paths: AssistantPaths,
    seat_cost: Mapping[str, float] | None,
    cost_per_builder_week: float | None,
    recent_weeks: int,
    weeks_per_year: float,
) -> _Today:
    """The recent weeks' means, prices and seats of :func:`net_return` (its parameters).

    Raises
    ------
    PanelError
        When an estimate or draw of the added units reaches the units observed.
    """
    rows = windowed(panel)
    last = rows["week"].max()
    recent = rows.loc[rows["week"] > last - pd.Timedelta(weeks=recent_weeks)]
    n_weeks = recent["week"].nunique()
    cost = _builder_week_cost(recent, cost_per_builder_week)
    prices, assumed = _prices(paths.tools, seat_cost)
    seats, basis = _seats(recent, paths.tools, n_weeks)

    in_recent = paths.weekly.index > last - pd.Timedelta(weeks=recent_weeks)
    builders = float(paths.weekly.loc[in_recent, "builder_weeks"].sum() / n_weeks)
    units = float(paths.weekly.loc[in_recent, "observed_units"].sum() / n_weeks)
    added = {t: d[:, in_recent].sum(axis=1) / n_weeks for t, d in paths.draws.items()}
    added_point = {t: float(p[in_recent].sum() / n_weeks) for t, p in paths.point.items()}
    total_draws, total_point = sum(added.values()), sum(added_point.values())
    if np.any(total_draws >= units) or total_point >= units:
        raise PanelError(
            "the effect implies the assistant made all of today's output; CTS-SW without it is "
            "undefined (was the effect estimated on this panel?)"
        )
    return _Today(
        cost=cost,
        weeks_per_year=weeks_per_year,
        builders=builders,
        units=units,
        added=added,
        added_point=added_point,
        prices={t: prices[t] for t in paths.tools},
        price_assumed=assumed,
        seats=seats,
        seat_basis=basis,
        active=_active(recent, paths.tools),
    )


def _quantities(today: _Today, value_point: float, value_draws: np.ndarray) -> dict:
    """Each quantity of the net return: its estimate and its draws."""
    cost, weeks_per_year = today.cost, today.weeks_per_year
    total_spend, total_point = today.total_spend, today.total_point
    return {
        "value_a_year": (value_point, value_draws),
        "licence_spend_a_year": (total_spend, np.full_like(value_draws, total_spend)),
        "net_value_a_year": (value_point - total_spend, value_draws - total_spend),
        "return_multiple": (value_point / total_spend, value_draws / total_spend),
        "payback_months": (12 * total_spend / value_point, 12 * total_spend / value_draws),
        "builder_weeks_freed_a_year": (value_point / cost, value_draws / cost),
        "engineering_years_freed_a_year": (
            value_point / cost / weeks_per_year,
            value_draws / cost / weeks_per_year,
        ),
        "units_added_a_year": (total_point * weeks_per_year, today.total_draws * weeks_per_year),
    }


def _draw_table(quantities: dict, level: float) -> pd.DataFrame:
    """``estimate, se, ci_low, ci_high, p_value`` of each quantity from its draws: the SD of
    the draws, their percentile interval, and the two-sided share of draws across zero (so
    the interval excludes zero about when p < 1 - level)."""
    rows = {}
    for name, (point, draws) in quantities.items():
        draws = np.asarray(draws, dtype=float)
        rows[name] = {
            "estimate": float(point),
            "se": float(np.std(draws, ddof=1)) if len(draws) > 1 else np.nan,
            "ci_low": float(np.percentile(draws, 50 * (1 - level))),
            "ci_high": float(np.percentile(draws, 50 * (1 + level))),
            "p_value": draws_p_value(draws),
        }
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "quantity"
    return table


def _by_tool(
    paths: AssistantPaths, today: _Today, value_point: float, value_draws: np.ndarray
) -> pd.DataFrame:
    """Each tool's share of the value, in proportion to the units it added (the total is valued
    once, so the parts add up to it), beside its own seats."""
    added, added_point, spend = today.added, today.added_point, today.spend
    total_point = today.total_point
    rows = {}
    for tool in paths.tools:
        share_point = added_point[tool] / total_point if total_point else np.nan
        total_draws = sum(added.values())
        share_draws = np.divide(
            added[tool], total_draws, out=np.zeros_like(total_draws), where=total_draws != 0
        )
        tool_value, tool_draws = value_point * share_point, value_draws * share_draws
        k = spend[tool] / (today.cost * today.weeks_per_year * today.builders)
        scale = k * today.units / ((1 + k) * added_point[tool]) if added_point[tool] > 0 else np.inf
        rows[tool] = {
            "seats": today.seats[tool],
            "seat_cost": today.prices[tool],
            "licence_spend_a_year": spend[tool],
            "value_a_year": tool_value,
            "value_a_year_low": float(np.percentile(tool_draws, 50 * (1 - paths.level))),
            "value_a_year_high": float(np.percentile(tool_draws, 50 * (1 + paths.level))),
            "net_value_a_year": tool_value - spend[tool],
            "return_multiple": tool_value / spend[tool] if spend[tool] else np.nan,
            "long_run": paths.long_run[tool][0],
            "break_even_effect": paths.long_run[tool][0] * scale,
        }
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("tool")


def _builder_week_cost(recent: pd.DataFrame, given: float | None) -> float:
    if given is not None:
        if not np.isfinite(given) or given <= 0:
            raise ValueError(f"cost_per_builder_week must be positive, not {given}")
        return float(given)
    if "cost_per_builder_week" in recent:
        return float(np.average(recent["cost_per_builder_week"], weights=recent["n_builders"]))
    raise ValueError(
        "the net return needs the cost of a builder-week: the panel has no "
        "`cost_per_builder_week`; pass cost_per_builder_week (e.g. 4000)"
    )


def _prices(tools: list[str], seat_cost: Mapping[str, float] | None) -> tuple[dict, bool]:
    if not seat_cost:
        return {t: ASSUMED_SEAT_COST for t in tools}, True
    bad = {t: p for t, p in seat_cost.items() if not (np.isfinite(p) and p >= 0)}
    if bad:
        raise ValueError(f"seat prices are amounts per builder-month >= 0, not {bad}")
    if tools == [_SINGLE] or (len(tools) == 1 and tools[0] not in seat_cost):
        if len(seat_cost) > 1:
            raise ValueError(
                f"the panel has one usage column (ai_active_builders), so one seat price is "
                f"needed, not {len(seat_cost)} ({', '.join(seat_cost)}): add per-tool columns "
                "(ai_active_builders_<tool>) or give one price"
            )
        return {tools[0]: float(next(iter(seat_cost.values())))}, False
    unknown = sorted(set(seat_cost) - set(tools) - {_SINGLE})
    if unknown:
        raise ValueError(
            f"seat prices for {', '.join(unknown)}, which the panel has no usage column for "
            f"(it has {', '.join(tools)})"
        )
    default = seat_cost.get(_SINGLE)
    prices = {
        t: float(seat_cost.get(t, ASSUMED_SEAT_COST if default is None else default)) for t in tools
    }
    return prices, any(t not in seat_cost for t in tools) and default is None


def _seats(recent: pd.DataFrame, tools: list[str], n_weeks: int) -> tuple[dict, str]:
    """Seats a week per tool: the panel's seat counts when it has them, else active builders."""
    columns = {t: f"ai_seats_{t}" for t in tools}
    if all(c in recent.columns for c in columns.values()):
        return {t: float(recent[c].sum() / n_weeks) for t, c in columns.items()}, "seat counts"
    active = {
        t: float(
            recent[f"ai_active_builders_{t}" if t != _SINGLE else "ai_active_builders"].sum()
            / n_weeks
        )
        for t in tools
    }
    return active, "active builders counted as seats: the panel has no seat counts"


def _active(recent: pd.DataFrame, tools: list[str]) -> float:
    return float(recent["ai_active_builders"].sum() / recent["week"].nunique())


#: The velocity that moves each unit of CTS-SW (CRs and commits ship with the CRs merged).
_VELOCITY_OF_UNIT = {
    "deployments": "deploy_velocity",
    "crs_shipped": "cr_velocity",
    "crs_merged": "cr_velocity",
    "commits_shipped": "cr_velocity",
}


def cts_sw_without(cost: CostToServe, paths: Mapping[str, AssistantPaths]) -> pd.DataFrame:
    """Organisation CTS-SW per period as observed and as it would have been without the
    assistant, with the interval of the latter.

    Each team-period's units shrink by the share the assistant added to the velocity that
    counts them (deployment velocity for deployments, CR velocity for shipped CRs and commits):
    the same builder-weeks over fewer units. The interval scales each period's added units by
    the draws of the organisation's weekly totals.

    Parameters
    ----------
    cost
        :func:`cts.cost_to_serve` of the panel.
    paths
        Outcome -> :func:`assistant_paths` for the velocities the units need.

    Returns
    -------
    DataFrame
        Indexed by period: ``builder_weeks``, ``units``, ``cts_sw``, ``units_without``,
        ``cts_sw_without``, ``cts_sw_without_low``, ``cts_sw_without_high``.
    """
    table = cost.table
    origin = table["period"].min()
    length = pd.Timedelta(weeks=int(str(cost.period).upper().rstrip("W")))
    table = table.assign(velocity=table["unit"].map(_VELOCITY_OF_UNIT))
    needed = set(table["velocity"].dropna())
    missing = needed - set(paths)
    if missing:
        raise ValueError(f"CTS-SW without the assistant needs the paths of {sorted(missing)}")
    frames, factors = [], {}
    for outcome in needed:
        part, factors[outcome] = _units_added(table, outcome, paths[outcome], origin, length)
        frames.append(part)
    joined = pd.concat([*frames, table.loc[table["velocity"].isna()].assign(added=0.0)])
    by_period = joined.groupby("period")[["builder_weeks", "units", "added"]].sum()
    added_draws = sum(
        f.reindex(by_period.index)
        .fillna(1.0)
        .mul(
            joined.loc[joined["velocity"] == o]
            .groupby("period")["added"]
            .sum()
            .reindex(by_period.index)
            .fillna(0.0),
            axis=0,
        )
        for o, f in factors.items()
    )
    units = by_period["units"].where(by_period["units"] > 0)
    without = units - by_period["added"]
    drawn = by_period["builder_weeks"].to_numpy()[:, None] / (
        units.to_numpy()[:, None] - added_draws.to_numpy()
    )
    level = next(iter(paths.values())).level
    return pd.DataFrame(
        {
            "builder_weeks": by_period["builder_weeks"],
            "units": by_period["units"],
            "cts_sw": by_period["builder_weeks"] / units,
            "units_without": without,
            "cts_sw_without": by_period["builder_weeks"] / without,
            "cts_sw_without_low": np.nanpercentile(drawn, 50 * (1 - level), axis=1),
            "cts_sw_without_high": np.nanpercentile(drawn, 50 * (1 + level), axis=1),
        },
        index=by_period.index,
    )


def _units_added(
    table: pd.DataFrame,
    outcome: str,
    paths: AssistantPaths,
    origin: pd.Timestamp,
    length: pd.Timedelta,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The cost table's rows whose units ``outcome`` counts, with the units the assistant
    added (``added``: each team-period's units times the share it added to ``outcome``), and
    the draws' factors on each period's added units (draws of the organisation's total over
    its estimate; 1 where the estimate is 0).

    Parameters
    ----------
    table
        The cost table with a ``velocity`` column (the outcome that counts each row's units).
    outcome, paths
        A velocity and its :func:`assistant_paths`.
    origin, length
        The first period and the length of a period.

    Returns
    -------
    tuple of DataFrame
        The rows with ``added``; the factors (periods x draws).
    """
    rows = paths.table
    period = origin + ((rows["week"] - origin) // length) * length
    sums = (
        rows.assign(
            period=period,
            observed_units=rows["observed"] * rows["n_builders"],
            without_units=rows["without"] * rows["n_builders"],
        )
        .groupby(["team_id", "period"])[["observed_units", "without_units"]]
        .sum()
    )
    ratio = (sums["without_units"] / sums["observed_units"]).where(sums["observed_units"] > 0, 1.0)
    part = table.loc[table["velocity"] == outcome].join(
        ratio.rename("ratio"), on=["team_id", "period"]
    )
    part = part.assign(added=part["units"] * (1 - part["ratio"].fillna(1.0)))
    weeks = pd.DatetimeIndex(paths.weekly.index)
    week_period = origin + ((weeks - origin) // length) * length
    point = pd.Series(sum(paths.point.values()), index=week_period).groupby(level=0).sum()
    total_draws = sum(paths.draws.values(), start=np.zeros(()))
    draws = pd.DataFrame(total_draws.T, index=week_period).groupby(level=0).sum()
    return part, draws.div(point.where(point != 0), axis=0).fillna(1.0)


def year_over_year(over_time: pd.DataFrame, period: str, weeks: int = 12) -> dict[str, object]:
    """CTS-SW of the last ``weeks`` weeks against the same weeks a year earlier.

    ``over_time`` is indexed by period start with ``builder_weeks`` and ``units``
    (:meth:`cts.analyses.cost.CostToServe.over_time` or :func:`cts_sw_without`). Seasons (a
    December freeze, summer) make a first-to-last comparison say more about the calendar than
    about the trend; the same weeks a year apart cancel them.

    Returns
    -------
    dict
        ``ok`` (bool), and either ``now``, ``year_before``, ``change`` (relative), ``weeks`` and
        ``text``, or ``text`` saying why it cannot be compared.
    """
    length = int(str(period).upper().rstrip("W"))
    if 52 % length:
        return {"ok": False, "text": f"periods of {length} weeks do not tile a year (use 4W)"}
    k, lag = max(1, round(weeks / length)), 52 // length
    frame = over_time[["builder_weeks", "units"]]
    if len(frame) < k + lag:
        return {
            "ok": False,
            "text": (
                f"the window ({len(frame) * length} weeks) is shorter than a year and "
                f"{k * length} weeks, so the same weeks a year apart are not both in it"
            ),
        }
    now, before = frame.iloc[-k:].sum(), frame.iloc[-k - lag : -lag].sum()
    now_value = now["builder_weeks"] / now["units"]
    before_value = before["builder_weeks"] / before["units"]
    start = frame.index[-k]
    return {
        "ok": True,
        "now": float(now_value),
        "year_before": float(before_value),
        "change": float(now_value / before_value - 1),
        "weeks": k * length,
        "text": (
            f"{before_value:.2f} -> {now_value:.2f} builder-weeks per unit "
            f"({now_value / before_value - 1:+.0%}), the {k * length} weeks from "
            f"{start:%d %b %Y} against the same weeks a year earlier"
        ),
    }
