"""What a panel's adoption timing can identify: staggering, controls, pre-adoption weeks.

Both the dynamic panel and the event study learn week effects from teams that are not (yet)
treated in that week. When every adopter starts in (nearly) the same week and no untreated team
is observed after it, week effects and adoption are the same thing and no estimator can tell them
apart; these functions measure that, so the estimators and :func:`cts.identification` refuse in
one consistent way.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cts.panel import require_columns

__all__ = [
    "MIN_ADOPTING_TEAMS",
    "MIN_TEAMS",
    "ONE_WEEK_SHARE",
    "adoption_timing",
    "controls_after_adoption",
    "is_staggered",
]

#: Below this many teams (clusters), or this many teams using the assistant, clustered intervals
#: with normal critical values are not trusted. The size table of the docs' adoption page
#: (``make validate``, 30 teams x 52 weeks, no effect): with 24 of 30 teams adopting clustered
#: SEs reject a true null in 4.4-6.4% of panels at 5%, so 30 clusters suffice; with about 6
#: adopting teams they reject in 12.3-13.6%, while the wild cluster bootstrap stays at 3.6-5.7%.
MIN_TEAMS = 30
MIN_ADOPTING_TEAMS = 10
#: Adoption counts as happening "in one week" when at least this share of adopters adopts
#: within one week of the most common adoption week.
ONE_WEEK_SHARE = 0.9


def adoption_timing(
    panel: pd.DataFrame, treatment: str = "ai_usage_rate", threshold: float = 0.5
) -> pd.DataFrame:
    """Per team: first and last observed week, first use, adoption week and pre-adoption weeks.

    Parameters
    ----------
    panel
        A team-week panel.
    treatment, threshold
        A team adopts in the first week ``treatment >= threshold``; it first uses the assistant
        in the first week ``treatment > 0``.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``team_id``: ``first_week``, ``last_week``, ``first_use`` and
        ``adoption_week`` (NaT when never), ``pre_weeks`` (weeks observed before adoption; NaN
        for never-adopters).
    """
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must lie in (0, 1], not {threshold}")
    require_columns(panel, ("team_id", "week", treatment), "the panel")
    # One factorisation of the team ids, then groupbys on integer codes (grouping and mapping by
    # the string ids again for each column costs more than the estimator on large panels).
    codes, teams = pd.factorize(panel["team_id"], sort=True)
    known = codes >= 0  # groupby drops missing team ids
    codes = codes[known]
    weeks = panel["week"].to_numpy()[known]
    usage = panel[treatment].to_numpy()[known]
    positions = pd.RangeIndex(len(teams))

    def first_week(mask: np.ndarray) -> np.ndarray:
        return pd.Series(weeks[mask]).groupby(codes[mask]).min().reindex(positions).to_numpy()

    by_team = pd.Series(weeks).groupby(codes)
    timing = pd.DataFrame(
        {
            "first_week": by_team.min().to_numpy(),
            "last_week": by_team.max().to_numpy(),
            "first_use": first_week(usage > 0),
            "adoption_week": first_week(usage >= threshold),
        },
        index=pd.Index(teams, name="team_id"),
    ).astype(panel["week"].dtype)
    adoption = timing["adoption_week"].to_numpy()[codes]
    pre_weeks = np.bincount(codes[weeks < adoption], minlength=len(teams))
    timing["pre_weeks"] = pd.Series(pre_weeks, index=timing.index).where(
        timing["adoption_week"].notna()
    )
    return timing


def is_staggered(timing: pd.DataFrame) -> tuple[bool, float]:
    """Whether adoption is spread over time, and the share adopting within a week of the mode.

    Adoption is not staggered when at least :data:`ONE_WEEK_SHARE` of adopters adopt within one
    week of the most common adoption week (a single adopter is never staggered).
    """
    weeks = timing["adoption_week"].dropna()
    if weeks.empty:
        return False, float("nan")
    mode = weeks.value_counts().index[0]  # the most common (value_counts sorts by count)
    near = (weeks - mode).abs() <= pd.Timedelta(weeks=1)
    share = float(near.mean())
    return share < ONE_WEEK_SHARE, share


def controls_after_adoption(timing: pd.DataFrame) -> int:
    """Never-adopting teams observed in or after the first adoption week."""
    first_adoption = timing["adoption_week"].min()
    never = timing["adoption_week"].isna()
    if pd.isna(first_adoption):
        return int(never.sum())
    return int((never & (timing["last_week"] >= first_adoption)).sum())
