"""Quality guardrails: what the AI assistant did to change failure, interventions, pages and CR
size, from the counterfactual engine.

Each guardrail is a ratio of two counts of the panel (rollbacks per deployment, manual
interventions per deployment, pages per on-call builder, lines changed per CR). Its effect is
:func:`cts.counterfactual`'s ``att``: adopters' observed ratio minus the ratio they would have had
without the assistant, averaged over their team-weeks of use at the usage they had, with a
team-clustered bootstrap interval. The method and its reading are in ``docs/value.md``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from cts.analyses.counterfactual import Counterfactual, counterfactual
from cts.core.exceptions import PanelError
from cts.core.results import LEVEL, Result, critical_value
from cts.panel import window_mask

__all__ = ["GUARDRAILS", "RATIOS", "Guardrails", "not_measured", "quality_guardrails"]

#: The quality guardrails: column -> (label, unit, direction of harm: +1 when a rise hurts).
GUARDRAILS: dict[str, tuple[str, str, int]] = {
    "rollback_rate": ("Change failure (rollbacks per deployment)", "points", +1),
    "interventions_per_deploy": ("Manual interventions per deployment", "per deployment", +1),
    "pages_per_oncall": ("Pages per on-call builder a week", "pages", +1),
    "lines_per_cr": ("CR size (lines changed per CR)", "lines", -1),
}
#: Each guardrail's numerator and denominator, counts of the panel.
RATIOS: dict[str, tuple[str, str]] = {
    "rollback_rate": ("rollbacks", "deployments"),
    "interventions_per_deploy": ("manual_interventions", "deployments"),
    "pages_per_oncall": ("pages", "oncall_builders"),
    "lines_per_cr": ("lines_changed", "crs_merged"),
}
#: What a week without the denominator is, in words.
_NONE_OF = {
    "deployments": "deployment",
    "oncall_builders": "builder on call",
    "crs_merged": "CR merged",
}
_POWER = 0.80
#: The columns of :attr:`Guardrails.table` (also when no guardrail could be measured).
_COLUMNS = [
    "label", "unit", "baseline", "estimate", "se", "ci_low", "ci_high", "p_value", "change_pct",
    "detected", "mde", "threshold", "status", "n_team_weeks", "sentence",
]  # fmt: skip
#: Share of team-weeks without the denominator, in use against not, that makes a note.
_SELECTION_GAP = 0.02


@dataclass(repr=False)
class Guardrails(Result):
    """The assistant's effect on quality, one row per guardrail the panel can measure.

    Attributes
    ----------
    table
        Indexed by guardrail: ``label``, ``unit``, ``baseline`` (adopters' mean over their
        weeks of use without the assistant, the counterfactual), ``estimate, se, ci_low,
        ci_high, p_value`` (the average effect at observed usage per team-week of use,
        :func:`cts.counterfactual`'s ``att``; rollbacks per deployment in percentage points),
        ``change_pct`` (of the baseline), ``detected`` (the interval excludes zero), ``mde``
        (the smallest change the data would detect with 80% power at the level's test,
        ``(z_level + z_0.8) SE``), ``threshold`` (the material harm, ``materiality`` of the
        baseline), ``status`` (green, amber, red), ``n_team_weeks`` (of use) and ``sentence``.
    left_out
        Guardrail -> why the panel cannot measure it (a missing column, a count that is zero
        in every team-week, or the engine's refusal).
    materiality
        The harm counted as material, as a share of the baseline.
    notes
        Sentences the table must be read with (weeks without a denominator, the engine's notes).
    results
        The :class:`cts.Counterfactual` behind each row.
    """

    _metadata_fields = ("materiality", "reps")

    table: pd.DataFrame
    left_out: dict[str, str]
    materiality: float
    reps: int
    level: float = LEVEL
    notes: list[str] = field(default_factory=list)
    results: dict[str, Counterfactual] = field(default_factory=dict)

    def summary(self) -> str:
        """One sentence per guardrail, then the notes."""
        lines = [f"{row.status}: {row.label}: {row.sentence}" for row in self.table.itertuples()]
        lines += [f"not measured: {GUARDRAILS[g][0]}: {why}" for g, why in self.left_out.items()]
        return "\n".join(lines + [f"Note: {note}" for note in self.notes])


def quality_guardrails(
    panel: pd.DataFrame,
    *,
    materiality: float = 0.10,
    lags: int = 1,
    reps: int = 199,
    seed: int = 0,
    level: float = LEVEL,
    start: str | pd.Timestamp | None = None,
    end: str | pd.Timestamp | None = None,
    estimate: Callable[..., Counterfactual] | None = None,
) -> Guardrails:
    """The assistant's effect on change failure, interventions, pages and CR size.

    Each guardrail's ratio is rebuilt from its two counts (:data:`RATIOS`) and run through
    :func:`cts.counterfactual` without controls (the usual controls are these ratios); its
    ``att`` is the change. **Weeks without the denominator** (no deployment, no builder on call,
    no CR merged) have no ratio and are left out, not read as a ratio of zero as the panel's
    derived columns read them (which would count a week without deployments as a week without
    failures); the share left out is given, and a note says when it differs between weeks of
    use and weeks without use (the assistant may then change which weeks are measured).

    Green when the interval rules out a harm as large as ``materiality`` of the baseline; red
    when it shows a harm at least that large; amber otherwise (a harm that is real but smaller,
    or one the data cannot rule out). When nothing is detected, ``mde`` says how large a change
    would have been.

    Parameters
    ----------
    panel
        A panel from :func:`cts.load_panel`; CR size needs ``lines_changed``.
    materiality
        The smallest harm that matters, as a share of the baseline (default 10%).
    lags, reps, seed, level, start, end
        As in :func:`cts.counterfactual`.
    estimate
        The engine, called as ``estimate(data, outcome=..., controls=(), lags=..., reps=...,
        seed=..., level=...)`` (default :func:`cts.counterfactual`; a caching wrapper fits here).

    Returns
    -------
    Guardrails
        A guardrail whose counts are missing, or zero in every team-week (a source that
        records none, as git records no pipeline interventions), is in ``left_out`` with the
        reason: a source that yields nothing is not measured, never read as no harm.

    Examples
    --------
    >>> cts.quality_guardrails(panel).summary()  # doctest: +SKIP
    """
    if not 0 < materiality:
        raise ValueError(f"materiality must be a positive share of the baseline, not {materiality}")
    estimate = estimate or counterfactual
    rows = panel.loc[window_mask(panel, start, end)]
    found, left_out, notes, results = {}, {}, [], {}
    for column, (numerator, denominator) in RATIOS.items():
        data, why = _ratio(rows, column, numerator, denominator)
        if data is None:
            left_out[column] = why
            continue
        try:
            result = estimate(
                data, outcome=column, controls=(), lags=lags, reps=reps, seed=seed, level=level
            )
        except (PanelError, ValueError, np.linalg.LinAlgError) as error:
            left_out[column] = str(error)
            continue
        results[column] = result
        found[column] = _guardrail_row(column, result, materiality, level)
        notes += _coverage(rows, column, denominator, result)
    table = pd.DataFrame.from_dict(found, orient="index", columns=_COLUMNS)
    table = table.rename_axis("guardrail")
    return Guardrails(
        table=table,
        left_out=left_out,
        materiality=materiality,
        reps=reps,
        level=level,
        notes=notes,
        results=results,
    )


def _ratio(
    rows: pd.DataFrame, column: str, numerator: str, denominator: str
) -> tuple[pd.DataFrame | None, str]:
    """The team-weeks with the ratio (those with a denominator), or None and why not."""
    missing = [c for c in (numerator, denominator) if c not in rows.columns]
    if missing:
        return None, f"the panel has no `{'`, `'.join(missing)}` column"
    for count in (numerator, denominator):
        values = pd.to_numeric(rows[count], errors="coerce")
        if not (values.fillna(0) != 0).any():
            return None, (
                f"`{count}` is zero or missing in every team-week: its source records none, "
                "which is not measured rather than read as zero"
            )
    keep = rows[denominator] > 0
    data = rows.loc[keep, ["team_id", "week", *_carried(rows)]].copy()
    data[column] = rows.loc[keep, numerator] / rows.loc[keep, denominator]
    data.attrs = dict(rows.attrs)
    return data, ""


def _carried(rows: pd.DataFrame) -> list[str]:
    """The columns the engine needs besides the ratio: usage, builders, the org."""
    wanted = ("ai_usage_rate", "n_builders", "org")
    return [c for c in wanted if c in rows.columns]


def _coverage(
    rows: pd.DataFrame, column: str, denominator: str, result: Counterfactual
) -> list[str]:
    """Say how many team-weeks had no denominator, and whether use changed that."""
    label = GUARDRAILS[column][0]
    # the engine's own notes, but not the one on totals in units, which a ratio does not have
    engine = [f"{label}: {n}" for n in result.notes if not n.startswith("total_extra_units")]
    none = rows[denominator] <= 0
    if not none.any():
        return engine
    started = rows.loc[rows["ai_usage_rate"] > 0].groupby("team_id")["week"].min()
    in_use = rows["week"] >= rows["team_id"].map(started)  # NaT for never-users: False
    share_use, share_not = none[in_use].mean(), none[~in_use].mean()
    word = _NONE_OF[denominator]
    said = (
        f"{label}: {none.mean():.1%} of team-weeks had no {word} and no ratio, so they are "
        f"left out ({share_use:.1%} of weeks of use, {share_not:.1%} of the others)"
    )
    if np.isfinite(share_use) and abs(share_use - share_not) > _SELECTION_GAP:
        said += (
            f"; the gap suggests the assistant changes whether a team has a {word} at all, "
            "so the ratio is read on weeks the assistant helped select"
        )
    return [said, *engine]


def _guardrail_row(column: str, result: Counterfactual, materiality: float, level: float) -> dict:
    """One guardrail: the change, its interval, its status against the threshold and the
    sentence the brief shows."""
    label, unit, harm = GUARDRAILS[column]
    scale = 100 if unit == "points" else 1  # a rate's change in percentage points
    att = result.table.loc["att"]
    estimate, se = att["estimate"] * scale, att["se"] * scale
    low, high = att["ci_low"] * scale, att["ci_high"] * scale
    used = result.paths.loc[result.paths["effect"].notna()]
    base = float(used["counterfactual"].mean()) * scale
    material = materiality * abs(base)
    worst = high if harm > 0 else -low  # the harmful end of the interval, as a harm
    detected = bool(low > 0 or high < 0)
    harmful = detected and harm * estimate > 0
    if harmful and harm * estimate >= material:
        status, reading = "red", f"worse by {materiality:.0%} of the baseline or more"
    elif worst < material:
        status, reading = "green", f"rules out a harm of {materiality:.0%} of the baseline"
    elif harmful:
        status, reading = "amber", f"worse, by less than {materiality:.0%} of the baseline"
    else:
        status, reading = "amber", f"cannot rule out a harm of {materiality:.0%} of the baseline"
    mde = (critical_value(level) + float(stats.norm.ppf(_POWER))) * se
    shown = "" if unit == "per deployment" else f" {unit}"
    said = (
        f"{estimate:+.2g}{shown} per team-week of use at observed usage ({level:.0%} CI "
        f"{low:+.2g} to {high:+.2g})"
    )
    if base:
        said += f", {100 * estimate / base:+.1f}% of the {base:.3g}{shown} without the assistant"
    if not detected:
        said += f"; no change detected, and the data would have detected {mde:.2g}{shown}"
        said += f" ({100 * mde / abs(base):.0f}% of the level without it)" if base else ""
    return {
        "label": label,
        "unit": unit,
        "baseline": base,
        "estimate": estimate,
        "se": se,
        "ci_low": low,
        "ci_high": high,
        "p_value": att["p_value"],
        "change_pct": 100 * estimate / base if base else np.nan,
        "detected": detected,
        "mde": mde,
        "threshold": material,
        "status": status,
        "n_team_weeks": int(result.n_team_weeks_treated),
        "sentence": f"{said}; {reading}.",
    }


def not_measured(left_out: Mapping[str, str]) -> list[str]:
    """``Not measured: <label> (<why>).`` for each guardrail left out (the brief's notes)."""
    return [f"Not measured: {GUARDRAILS[g][0]} ({why})." for g, why in left_out.items()]
