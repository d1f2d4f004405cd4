"""Figures for the reports: each function takes a cts result and returns a matplotlib Figure (a
:class:`ReportFigure`, which shows itself as a PNG and can be published for the brief)."""

from __future__ import annotations

import io
from collections.abc import Hashable
from typing import cast

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import NullLocator, PercentFormatter

from cts.analyses.cost import CostToServe
from cts.analyses.drivers import DRIVERS, DriversResult
from cts.analyses.heterogeneity import HeterogeneousEffects
from cts.core.results import critical_value
from cts.estimators.event_study import EventStudy
from cts.panel import ARCHITECTURES, windowed
from cts.reporting.formatting import p_phrase

__all__ = [
    "ARCHITECTURE_COLOURS",
    "TRAITS",
    "ReportFigure",
    "architecture_colour",
    "plot_adoption",
    "plot_cost_over_time",
    "plot_cts_sw_with_and_without",
    "plot_event_study",
    "plot_heterogeneity",
    "plot_impact_curve",
    "plot_methods",
    "plot_outcomes",
    "plot_power",
    "plot_sensitivity",
    "plot_sensitivity_by_architecture",
    "plot_team_sizes",
    "plot_velocity_vs_cost",
]


class ReportFigure(Figure):
    """A Figure that shows itself as a PNG in Jupyter without pyplot's inline backend."""

    #: Set by :func:`plot_velocity_vs_cost`: the points drawn and the points in the data.
    points_shown: int
    points_total: int

    def png(self, dpi: int = 110) -> bytes:
        """The figure as PNG bytes."""
        buffer = io.BytesIO()
        self.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
        return buffer.getvalue()

    def _repr_png_(self) -> tuple[bytes, dict[str, str]]:
        return self.png(), {"alt": self.description}

    @property
    def description(self) -> str:
        """Alternative text: the figure's panel titles and axis labels."""
        parts = []
        for ax in self.axes:
            labels = " against ".join(t for t in (ax.get_ylabel(), ax.get_xlabel()) if t)
            legend = ax.get_legend()
            entries = [t.get_text() for t in legend.get_texts()] if legend is not None else []
            parts.append(
                f"{ax.get_title() or 'chart'}"
                + (f" ({labels})" if labels else "")
                + (f", showing {', '.join(entries)}" if entries else "")
            )
        heading = self.get_suptitle()  # "" when the figure has none
        return "Chart: " + (f"{heading}: " if heading else "") + "; ".join(parts)


#: One colour per architecture in every chart (colour-blind-safe Okabe-Ito hues); the
#: organisation as a whole is black.
ARCHITECTURE_COLOURS: dict[str, str] = {
    "service": "#0072B2",
    "monolith": "#D55E00",
    "trunk": "#009E73",
    "all": "#000000",
}
_OTHER_COLOURS = ("#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#999999")


#: Team traits by which effects are compared, as a reader calls them.
TRAITS = {
    "n_builders": "team size",
    "baseline_velocity": "velocity before adopting",
    "architecture": "architecture",
}
_OUTCOMES = {
    "cr_velocity": "CRs merged per builder-week",
    "deploy_velocity": "deployments per builder-week",
}


def architecture_colour(name: Hashable) -> str:
    """The colour of an architecture in every chart (:data:`ARCHITECTURE_COLOURS`); names it
    does not list get the same spare colour wherever they appear."""
    name = str(name)
    if name in ARCHITECTURE_COLOURS:
        return ARCHITECTURE_COLOURS[name]
    return _OTHER_COLOURS[sum(map(ord, name)) % len(_OTHER_COLOURS)]


def _figure(*, figsize: tuple[float, float]) -> tuple[ReportFigure, Axes]:
    """A figure outside pyplot, with one panel: no global state, and exactly one image per
    call in notebooks."""
    with sns.axes_style("whitegrid"):
        fig = ReportFigure(figsize=figsize)
        ax = fig.subplots()
    return fig, ax


def _panels(
    nrows: int,
    ncols: int,
    *,
    figsize: tuple[float, float],
    sharex: bool = False,
    sharey: bool = False,
) -> tuple[ReportFigure, np.ndarray]:
    """A figure outside pyplot (as :func:`_figure`) with a row or a column of panels: their
    ``Axes`` in a flat array, in reading order."""
    with sns.axes_style("whitegrid"):
        fig = ReportFigure(figsize=figsize)
        axes = fig.subplots(nrows, ncols, sharex=sharex, sharey=sharey, squeeze=False)
    return fig, axes.ravel()


def plot_adoption(curve: pd.DataFrame) -> ReportFigure:
    """Share of builders and of teams using the assistant, per week (:func:`adoption_curve`)."""
    fig, ax = _figure(figsize=(9, 3.5))
    ax.plot(curve.index, curve["share_of_builders"], label="builders using it")
    ax.plot(curve.index, curve["share_of_teams"], label="teams with any user", linestyle="--")
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set(title="AI-assistant adoption", xlabel="week", ylabel="share", ylim=(0, 1))
    ax.legend(loc="upper left")
    fig.tight_layout()
    return fig


def plot_outcomes(weekly: pd.DataFrame) -> ReportFigure:
    """Organization-level velocities per week (:func:`weekly_outcomes`)."""
    labels = {
        "cr_velocity": "CRs merged per builder-week",
        "deploy_velocity": "deployments per builder-week",
    }
    fig, axes = _panels(len(weekly.columns), 1, figsize=(9, 2.6 * len(weekly.columns)))
    for ax, column in zip(axes, weekly.columns, strict=True):
        ax.plot(weekly.index, weekly[column])
        ax.set(title=labels.get(column, column), xlabel="", ylabel=labels.get(column, column))
        ax.set_ylabel("per builder-week")
    fig.tight_layout()
    return fig


def plot_team_sizes(panel: pd.DataFrame) -> ReportFigure:
    """Distribution of builders per team-week, with the privacy threshold: pass the panel as
    loaded (before :func:`cts.suppress_small_teams`) to show the team-weeks left out."""
    panel = windowed(panel)
    fig, ax = _figure(figsize=(6, 3.2))
    sns.histplot(panel["n_builders"], discrete=True, ax=ax)
    threshold = panel.attrs.get("min_team_size", 5)
    ax.axvline(
        threshold - 0.5,
        color="firebrick",
        linestyle=":",
        label=f"left of the line: fewer than {threshold} builders, left out",
    )
    ax.set(title="Team size", xlabel="builders in the team that week", ylabel="team-weeks")
    ax.legend()
    fig.tight_layout()
    return fig


def plot_cost_over_time(cost: CostToServe, by: str | None = "architecture") -> ReportFigure:
    """Organization-level CTS-SW per period, overall and by ``by`` (ratio of sums)."""
    fig, ax = _figure(figsize=(9, 3.8))
    overall = cost.over_time()
    ax.plot(overall.index, overall["cts_sw"], color="black", linewidth=2.5, label="all teams")
    if by is not None:
        for name, block in cost.over_time(by).groupby(level=by):
            series = block.droplevel(by)["cts_sw"]
            colour = architecture_colour(name) if by == "architecture" else None
            ax.plot(series.index, series, label=str(name), color=colour)
    ax.set(
        title="Cost to serve software (CTS-SW)",
        xlabel="period start",
        ylabel="builder-weeks per unit shipped",
    )
    ax.legend(ncols=2)
    fig.tight_layout()
    return fig


def plot_velocity_vs_cost(
    cost: CostToServe, min_team_size: int = 5, sample: int = 5000, seed: int = 0
) -> ReportFigure:
    """Team-period CR velocity against CTS-SW (log scale), one colour per architecture.

    Each point is a team-period, so periods averaging fewer than ``min_team_size`` builders
    are left out (their velocity comes close to describing individuals). At most ``sample``
    of them are drawn at random (seeded by ``seed``), so the chart stays legible; the figure's
    ``points_shown`` and ``points_total`` say how many, for its caption.
    """
    table = cost.table
    data = table.loc[table["defined"] & (table["builder_weeks"] >= min_team_size * table["weeks"])]
    shown = data.sample(min(len(data), sample), random_state=seed)
    fig, ax = _figure(figsize=(7, 4.5))
    architectures = sorted(shown["architecture"].astype(str).unique())
    sns.scatterplot(
        data=shown.assign(architecture=shown["architecture"].astype(str)),
        x="cr_velocity",
        y="cts_sw",
        hue="architecture",
        hue_order=architectures,
        palette={name: architecture_colour(name) for name in architectures},
        s=10,
        alpha=0.4,
        linewidth=0,
        ax=ax,
    )
    ax.set_yscale("log")
    ax.set(
        title="Faster teams cost less to serve",
        xlabel="CRs merged per builder-week",
        ylabel="builder-weeks per unit shipped (log)",
    )
    fig.tight_layout()
    fig.points_shown, fig.points_total = len(shown), len(data)
    return fig


def plot_sensitivity(drivers: DriversResult) -> ReportFigure:
    """Ranked change in CTS-SW associated with a one-SD within-team change of each driver.

    Bars and 95% CIs (clustered by team) from the within-team fit; diamonds from the mixed model.
    """
    table = drivers.sensitivity().iloc[::-1]
    labels = [f"{DRIVERS.get(d, d)}\n({row['applies_to']})" for d, row in table.iterrows()]
    y = np.arange(len(table))
    fig, ax = _figure(figsize=(8, 0.9 * len(table) + 1.2))
    colors = np.where(table["change_pct"] > 0, "firebrick", "seagreen")
    ax.barh(y, table["change_pct"], color=colors, alpha=0.8, label="within-team fit")
    ax.errorbar(
        table["change_pct"],
        y,
        xerr=[table["change_pct"] - table["ci_low"], table["ci_high"] - table["change_pct"]],
        fmt="none",
        ecolor="black",
        capsize=4,
    )
    ax.scatter(
        table["mixed_change_pct"], y, marker="D", color="black", zorder=3, label="mixed model"
    )
    ax.axvline(0, color="grey", linewidth=1)
    ax.set_yticks(y, labels)
    ax.xaxis.set_major_formatter(PercentFormatter(100))
    ax.set(
        title="What CTS-SW moves with: one typical (1 SD) within-team change",
        xlabel="change in CTS-SW",
    )
    ax.legend(loc="lower left")
    fig.tight_layout()
    return fig


def plot_sensitivity_by_architecture(drivers: DriversResult) -> ReportFigure:
    """The same change per architecture (one slope per driver and architecture), one colour per
    architecture (:func:`architecture_colour`), as in every chart."""
    table = drivers.by_architecture
    names = list(DRIVERS.get(d, d) for d in drivers.sensitivity().index)[::-1]
    order = list(drivers.sensitivity().index)[::-1]
    present = [a for a in ARCHITECTURES if a in table.index.get_level_values(0)]
    present += [a for a in table.index.get_level_values(0).unique() if a not in present]
    colors = {name: architecture_colour(name) for name in present}
    fig, ax = _figure(figsize=(8, 1.1 * len(order) + 1.4))
    height = 0.8 / max(len(present), 1)
    for k, architecture in enumerate(present):
        block = table.xs(architecture, level="architecture").reindex(order)
        y = np.arange(len(order)) + ((len(present) - 1) / 2 - k) * height
        ax.barh(
            y, block["change_pct"], height=height, color=colors[architecture], label=architecture
        )
        ax.errorbar(
            block["change_pct"],
            y,
            xerr=[
                block["change_pct"] - block["change_ci_low"],
                block["change_ci_high"] - block["change_pct"],
            ],
            fmt="none",
            ecolor="black",
            capsize=2,
        )
    ax.axvline(0, color="grey", linewidth=1)
    ax.set_yticks(np.arange(len(order)), names)
    ax.xaxis.set_major_formatter(PercentFormatter(100))
    ax.set(title="The same, architecture by architecture", xlabel="change in CTS-SW")
    ax.legend(title="architecture", loc="lower left")
    fig.tight_layout()
    return fig


def _point_ranges(ax: Axes, block: pd.DataFrame) -> None:
    """One estimate with its 95% CI per row of ``block``, labelled by its index."""
    y = np.arange(len(block))
    ax.errorbar(
        block["estimate"],
        y,
        xerr=[block["estimate"] - block["ci_low"], block["ci_high"] - block["estimate"]],
        fmt="o",
        capsize=4,
    )
    ax.set_yticks(y, [str(label) for label in block.index])


def plot_methods(
    table: pd.DataFrame,
    truth: dict[str, float] | None = None,
    level: str = "method",
    outcome: str | None = None,
) -> ReportFigure:
    """Estimates and 95% CIs by method for each term (:func:`cts.compare_methods`; with
    ``level="inference"``, by inference method from :func:`cts.compare_inference`); with
    ``outcome``, a title naming it."""
    terms = list(dict.fromkeys(table.index.get_level_values("term")))
    methods = list(dict.fromkeys(table.index.get_level_values(level)))
    fig, axes = _panels(1, len(terms), figsize=(4 * len(terms), 3.2), sharey=True)
    for ax, term in zip(axes, terms, strict=True):
        # a key on one level of a MultiIndex selects a frame (the stubs allow a row too)
        block = cast("pd.DataFrame", table.xs(term, level="term"))
        _point_ranges(ax, block.reindex(methods))
        if truth is not None and term in truth:
            ax.axvline(truth[term], color="firebrick", linestyle="--", label="truth")
            ax.legend(loc="best")
        ax.set(title=term.replace("_", " "), xlabel="estimate (95% CI)")
    if outcome is not None:
        fig.suptitle(f"Effect on {_OUTCOMES.get(outcome, outcome)}")
    fig.tight_layout()
    return fig


def plot_impact_curve(
    curve: pd.DataFrame, quantity: str = "engineering_years_saved_per_year"
) -> ReportFigure:
    """A translated quantity against adoption level, with its 95% band (:func:`impact_curve`)."""
    block = curve.xs(quantity, level="quantity")
    fig, ax = _figure(figsize=(7, 3.8))
    ax.plot(block.index, block["estimate"], marker="o")
    ax.fill_between(block.index, block["ci_low"], block["ci_high"], alpha=0.25, label="95% CI")
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set(
        title=quantity.replace("_", " ").capitalize(),
        xlabel="share of builders using the assistant",
        ylabel=quantity.replace("_", " "),
    )
    ax.legend(loc="upper left")
    fig.tight_layout()
    return fig


def plot_event_study(study: EventStudy) -> ReportFigure:
    """Effects by week relative to adoption: the cohort-robust estimator and the naive TWFE."""
    fig, ax = _figure(figsize=(9, 4))
    for table, label, shift, color in (
        (study.table, study.estimator, -0.15, "tab:blue"),
        (study.naive, "naive TWFE", 0.15, "tab:grey"),
    ):
        weeks = table.index.to_numpy() + shift
        ax.plot(weeks, table["estimate"], marker="o", markersize=3, color=color, label=label)
        ax.fill_between(weeks, table["ci_low"], table["ci_high"], color=color, alpha=0.15)
    ax.axhline(0, color="black", linewidth=1)
    ax.axvline(-0.5, color="firebrick", linestyle=":", label="adoption")
    ax.set(
        title=(
            f"{_OUTCOMES.get(study.outcome, study.outcome)} around adoption "
            f"(usage >= {study.threshold:.0%})"
        ),
        xlabel="weeks relative to adoption (week -1 is the reference)",
        ylabel="effect",
    )
    ax.legend(loc="upper left")
    fig.tight_layout()
    return fig


def plot_power(grid: pd.DataFrame, target: float = 0.8) -> ReportFigure:
    """Power by number of teams, one line per panel length (:func:`cts.power_grid`)."""
    fig, ax = _figure(figsize=(7, 4))
    for weeks, block in grid.groupby("n_weeks"):
        ax.errorbar(
            block["n_teams"],
            block["power"],
            yerr=critical_value() * block["mcse"],
            marker="o",
            capsize=3,
            label=f"{weeks} weeks",
        )
    ax.axhline(target, color="firebrick", linestyle=":", label=f"{target:.0%} power")
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    effect = (
        f"a {grid['effect'].iloc[0]:+.0%} long-run effect" if "effect" in grid else "the effect"
    )
    if "outcome" in grid and grid["outcome"].nunique() == 1:  # a PowerStudy's grid_for
        outcome = grid["outcome"].iloc[0]
        effect += f" on {_OUTCOMES.get(outcome, outcome)}"
    ax.set(title=f"Power to detect {effect}", xlabel="teams", ylabel="power", ylim=(0, 1.02))
    ax.set_xscale("log")
    teams = sorted(grid["n_teams"].unique())
    ax.set_xticks(teams, [str(t) for t in teams])
    ax.xaxis.set_minor_locator(NullLocator())
    ax.legend(loc="lower right")
    fig.tight_layout()
    return fig


def plot_heterogeneity(result: HeterogeneousEffects) -> ReportFigure:
    """Group effects with 95% CIs, one panel per team trait, strongest first."""
    modifiers = list(result.ranking.index)
    fig, axes = _panels(1, len(modifiers), figsize=(4 * len(modifiers), 3.2), sharex=True)
    for ax, modifier in zip(axes, modifiers, strict=True):
        _point_ranges(ax, result.by_group.loc[modifier])
        p = p_phrase(result.ranking.loc[modifier, "p_adjusted"], "Holm-adjusted p")
        ax.set(
            title=f"{TRAITS.get(modifier, modifier)} ({p})",
            xlabel=f"effect on {_OUTCOMES.get(result.outcome, result.outcome)}",
        )
    fig.suptitle(f"Effect on {_OUTCOMES.get(result.outcome, result.outcome)} by team trait")
    fig.tight_layout()
    return fig


def plot_cts_sw_with_and_without(frame: pd.DataFrame, units: str = "unit shipped") -> ReportFigure:
    """Organisation CTS-SW per period as observed and without the assistant, with the 95% band
    of the latter (:func:`cts.analyses.value.cts_sw_without`)."""
    fig, ax = _figure(figsize=(9, 3.8))
    ax.plot(frame.index, frame["cts_sw"], color="black", linewidth=2.5, label="observed")
    ax.plot(
        frame.index,
        frame["cts_sw_without"],
        color="tab:red",
        linestyle="--",
        linewidth=2,
        label="without the AI assistant",
    )
    ax.fill_between(
        frame.index,
        frame["cts_sw_without_low"],
        frame["cts_sw_without_high"],
        color="tab:red",
        alpha=0.2,
        label="95% CI",
    )
    ax.set(
        title="CTS-SW with and without the AI assistant",
        xlabel="period start",
        ylabel=f"builder-weeks per {units}",
    )
    ax.legend(loc="upper left")
    fig.tight_layout()
    return fig
