"""CTS-SW, cost to serve software: builder-weeks (and money) per unit that reached customers."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cts.core.results import Result
from cts.panel import DERIVED_COLUMNS, PanelError, PanelWarning, require_columns, windowed

__all__ = ["UNITS", "UNIT_BY_ARCHITECTURE", "CostToServe", "cost_to_serve"]

#: Units of software that reached customers, and what each counts.
UNITS: dict[str, str] = {
    "deployments": "production deployments",
    "crs_shipped": "code reviews that reached customers",
    "crs_merged": "code reviews merged",
    "commits_shipped": "commits that reached customers",
}
#: ``unit="auto"``: the unit follows the architecture; earlier entries are preferred.
UNIT_BY_ARCHITECTURE: dict[str, tuple[str, ...]] = {
    "service": ("deployments",),
    "monolith": ("crs_shipped", "crs_merged"),
    "trunk": ("commits_shipped",),
}
# Team-period rates re-derived from period sums (a ratio of sums, not a mean of weekly ratios).
_PERIOD_RATES = {
    name: DERIVED_COLUMNS[name]
    for name in (
        "cr_velocity",
        "deploy_velocity",
        "ai_usage_rate",
        "rollback_rate",
        "interventions_per_deploy",
        "pages_per_oncall",
    )
}


@dataclass(repr=False)
class CostToServe(Result):
    """CTS-SW per team and period, from :func:`cost_to_serve`.

    Attributes
    ----------
    table
        One row per team and period: ``period`` (first Monday), ``architecture``, ``unit``,
        ``weeks`` observed, ``builder_weeks``, ``units``, ``cost`` (NaN when unknown),
        ``cts_sw`` (builder-weeks per unit), ``cts_sw_cost`` (money per unit), ``log_cts_sw``,
        ``defined`` (False where no unit shipped, and CTS-SW is NaN), and the period's rates
        (``cr_velocity``, ``rollback_rate``, ... as ratios of the period's sums).
    period
        Period length, e.g. ``"4W"``.
    n_undefined
        Team-periods without any unit shipped.
    """

    _metadata_fields = ("period", "n_undefined")

    table: pd.DataFrame
    period: str
    n_undefined: int

    @property
    def has_cost(self) -> bool:
        """Whether money figures are available."""
        return bool(self.table["cost"].notna().all())

    def over_time(self, by: str | None = None) -> pd.DataFrame:
        """Organization-level CTS-SW per period (optionally per ``by``, e.g. ``"architecture"``).

        A ratio of sums: all builder-weeks (or money) spent over all units shipped, which weights
        each team by what it spends. Team-periods that shipped nothing add cost and no units.
        """
        return self.totals(["period"] if by is None else ["period", by])

    def totals(self, by: str | list[str] | None = None) -> pd.DataFrame:
        """CTS-SW as a ratio of sums over all periods, overall or per ``by`` column(s)."""
        columns = ["builder_weeks", "units", "cost"]
        if by is None:
            sums = self.table[columns].sum(min_count=1).to_frame("all teams").T
        else:
            sums = self.table.groupby(by, observed=True)[columns].sum(min_count=1)
        units = sums["units"].where(sums["units"] > 0)
        return sums.assign(cts_sw=sums["builder_weeks"] / units, cts_sw_cost=sums["cost"] / units)

    def summary(self) -> str:
        """Headline figures in words."""
        overall = self.totals().iloc[0]
        line = (
            f"CTS-SW over {self.table['team_id'].nunique():,} teams and "
            f"{self.table['period'].nunique()} periods of {self.period}: "
            f"{overall['cts_sw']:.2f} builder-weeks per unit"
        )
        if self.has_cost:
            line += f" ({overall['cts_sw_cost']:,.0f} per unit in money)"
        units = ", ".join(f"{u} ({n})" for u, n in self.table["unit"].value_counts().items())
        return (
            f"{line}.\nUnits by team-period: {units}.\n"
            f"Undefined (no unit shipped): {self.n_undefined:,} of {len(self.table):,} "
            "team-periods; their cost counts in organization totals."
        )


def cost_to_serve(
    panel: pd.DataFrame,
    *,
    unit: str = "auto",
    cost_per_builder_week: float | None = None,
    period: str = "4W",
) -> CostToServe:
    """CTS-SW, builder-weeks (and money) per unit of software that reached customers.

    Weeks are summed into periods of fixed length aligned across teams (from the panel's first
    week), so a week without a release does not make CTS-SW infinite; a team-period without any
    unit stays undefined (NaN), is counted in ``n_undefined`` and is reported with a warning.

    Parameters
    ----------
    panel
        A panel from :func:`cts.load_panel`.
    unit
        ``"auto"`` picks by ``architecture``: service -> deployments, monolith -> crs_shipped
        (else crs_merged), trunk -> commits_shipped. Or one of :data:`UNITS` for every team.
    cost_per_builder_week
        Loaded cost of a builder-week; overrides the ``cost_per_builder_week`` column. Money
        figures are NaN when neither is available.
    period
        Period length in weeks, ``"<n>W"``.

    Returns
    -------
    CostToServe
    """
    weeks_per_period = _weeks(period)
    require_columns(panel, ("team_id", "week", "n_builders"), "the panel")
    panel = windowed(panel)
    unit_of = _unit_per_row(panel, unit)
    if cost_per_builder_week is not None:
        if not np.isfinite(cost_per_builder_week) or cost_per_builder_week <= 0:
            raise ValueError(f"cost_per_builder_week must be positive, not {cost_per_builder_week}")
        cost_rate = pd.Series(float(cost_per_builder_week), index=panel.index)
    elif "cost_per_builder_week" in panel:
        cost_rate = panel["cost_per_builder_week"].astype(float)
    else:
        cost_rate = pd.Series(np.nan, index=panel.index)

    origin = panel["week"].min()
    index = (panel["week"] - origin) // pd.Timedelta(weeks=weeks_per_period)
    counts = {c for pair in _PERIOD_RATES.values() for c in pair if c in panel}
    frame = pd.DataFrame(
        {
            "team_id": panel["team_id"],
            "period": origin + index * pd.Timedelta(weeks=weeks_per_period),
            "architecture": panel["architecture"] if "architecture" in panel else "all",
            "unit": unit_of,
            "weeks": 1,
            "builder_weeks": panel["n_builders"],
            "units": _unit_counts(panel, unit_of),
            "cost": panel["n_builders"] * cost_rate,
            **{c: panel[c] for c in sorted(counts - {"n_builders"})},
        }
    )
    keys = ["team_id", "period", "architecture", "unit"]
    table = (
        frame.groupby(keys, sort=True, observed=True, dropna=False).sum(min_count=1).reset_index()
    )
    table["defined"] = table["units"] > 0
    units = table["units"].where(table["defined"])
    table["cts_sw"] = table["builder_weeks"] / units
    table["cts_sw_cost"] = table["cost"] / units
    table["log_cts_sw"] = np.log(table["cts_sw"])
    period_sums = table.assign(n_builders=table["builder_weeks"])
    for rate, (numerator, denominator) in _PERIOD_RATES.items():
        if numerator in period_sums and denominator in period_sums:
            table[rate] = period_sums[numerator] / period_sums[denominator].clip(lower=1)
    table = table.drop(columns=sorted(counts - {"n_builders"}))

    n_undefined = int((~table["defined"]).sum())
    if n_undefined:
        warnings.warn(
            f"{n_undefined:,} of {len(table):,} team-periods shipped no unit; their CTS-SW is "
            "undefined (NaN) and left out of team-level analyses, but their cost counts in "
            "organization totals. A longer period makes fewer undefined.",
            PanelWarning,
            stacklevel=2,
        )
    return CostToServe(table=table, period=period, n_undefined=n_undefined)


def _weeks(period: str) -> int:
    text = str(period).strip().upper()
    if not (text.endswith("W") and text[:-1].isdigit() and int(text[:-1]) >= 1):
        raise ValueError(f"period must be a whole number of weeks such as '4W', not {period!r}")
    return int(text[:-1])


def _unit_per_row(panel: pd.DataFrame, unit: str) -> pd.Series:
    """The unit column each row uses, as a categorical Series aligned with the panel."""
    if unit != "auto":
        if unit not in UNITS:
            raise ValueError(f"unit must be 'auto' or one of {list(UNITS)}, not {unit!r}")
        require_columns(panel, (unit,), f"unit={unit!r}")
        return pd.Series(unit, index=panel.index)
    if "architecture" not in panel:
        raise PanelError(
            "unit='auto' picks the unit by the `architecture` column, which the panel lacks: add "
            f"it ({', '.join(UNIT_BY_ARCHITECTURE)}) or pass a unit such as unit='deployments'"
        )
    chosen, problems = {}, []
    unknown = panel["architecture"].isna()
    if unknown.any():
        teams = panel.loc[unknown, "team_id"].unique()
        problems.append(
            f"unit='auto' needs an `architecture` for every row; {int(unknown.sum()):,} rows of "
            f"{len(teams):,} team(s) have none (e.g. {', '.join(map(str, teams[:3]))}): fill it "
            "or pass a unit for every team"
        )
    for architecture in panel["architecture"].dropna().unique():
        candidates = UNIT_BY_ARCHITECTURE[architecture]
        available = [c for c in candidates if c in panel]
        if available:
            chosen[architecture] = available[0]
        else:
            problems.append(
                f"unit='auto' counts {architecture} teams in `{'` or `'.join(candidates)}`, which "
                "the panel lacks: add the column or pass a unit for every team"
            )
    if problems:
        raise PanelError(problems)
    return panel["architecture"].map(chosen)


def _unit_counts(panel: pd.DataFrame, unit_of: pd.Series) -> pd.Series:
    counts = pd.Series(0, index=panel.index, dtype="int64")
    for column in unit_of.unique():
        rows = unit_of == column
        counts[rows] = panel.loc[rows, column]
    return counts
