"""Design checks before estimates: can this panel identify the effect of adoption at all?

:func:`identification` looks at who adopts when, and who is there to compare with, before any
model is fitted. Each check has a plain-language verdict and a consequence: an analysis the
design cannot support is refused with a :class:`cts.PanelError` that says what the data would
need; one it supports only with a caveat runs, warns (:class:`cts.FewTeamsWarning`,
:class:`cts.DesignWarning`) and prints the caveat next to its number.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import pandas as pd

from cts.core.exceptions import DesignWarning, FewTeamsWarning, PanelError, PanelWarning
from cts.core.results import Result
from cts.estimators.design import (
    MIN_ADOPTING_TEAMS,
    MIN_TEAMS,
    adoption_timing,
    controls_after_adoption,
    is_staggered,
)
from cts.panel import require_columns, windowed

__all__ = [
    "ADOPTION_EFFECT",
    "ANALYSES",
    "EVENT_STUDY",
    "MIN_ADOPTING_TEAMS",
    "MIN_TEAMS",
    "Identification",
    "identification",
    "week_effects_by",
]

ADOPTION_EFFECT = "adoption effect"
EVENT_STUDY = "event study"
#: The analyses whose identification is checked.
ANALYSES = (ADOPTION_EFFECT, EVENT_STUDY)
#: The event study needs two pre-adoption weeks per adopter (week -1 is the reference).
_MIN_PRE_WEEKS = 2


@dataclass(frozen=True)
class _Check:
    name: str
    value: str
    verdict: str
    refuses: tuple[str, ...] = ()
    caveat: str | None = None
    caveat_for: tuple[str, ...] = ANALYSES
    warning: type[PanelWarning] | None = None

    @property
    def consequence(self) -> str:
        if self.refuses:
            return "refuses the " + " and the ".join(self.refuses)
        if self.caveat and self.caveat_for:
            return "caveat for the " + " and the ".join(self.caveat_for)
        if self.caveat:
            return "caveat"
        return "none"


@dataclass(repr=False)
class Identification(Result):
    """The design checks of :func:`identification`.

    Attributes
    ----------
    table
        One row per check: ``check``, ``value``, ``verdict`` (a plain sentence) and
        ``consequence`` (``none``, a caveat, or which analyses it refuses).
    caveats
        Plain sentences to print next to the estimates.
    refusals
        Analysis (``"adoption effect"``, ``"event study"``) -> why it is refused and what the
        data would need.
    n_teams, n_users, n_adopters, n_controls_after, staggered
        Teams; teams that use the assistant at all; teams reaching the adoption threshold;
        never-adopters observed in or after the first adoption week; whether adoption is
        spread over time.
    few_clusters
        Fewer than :data:`MIN_TEAMS` teams or :data:`MIN_ADOPTING_TEAMS` teams using the
        assistant: the headline interval should come from the wild cluster bootstrap.
    """

    table: pd.DataFrame
    caveats: list[str]
    refusals: dict[str, str]
    n_teams: int
    n_users: int
    n_adopters: int
    n_controls_after: int
    staggered: bool
    few_clusters: bool
    threshold: float
    _checks: list[_Check] = field(default_factory=list, repr=False)

    _metadata_fields = ("n_teams", "n_users", "n_adopters", "n_controls_after", "threshold")

    def caveats_for(self, analysis: str) -> list[str]:
        """The caveats that apply to ``analysis``."""
        _known(analysis)
        return [c.caveat for c in self._checks if c.caveat and analysis in c.caveat_for]

    def require(self, analysis: str) -> None:
        """Raise :class:`cts.PanelError` if the design cannot support ``analysis``."""
        _known(analysis)
        if analysis in self.refusals:
            raise PanelError(self.refusals[analysis])

    def warn(self, analysis: str, stacklevel: int = 2) -> list[str]:
        """Refuse (as :meth:`require`), else warn each caveat for ``analysis`` and return them."""
        self.require(analysis)
        for check in self._checks:
            if check.caveat and check.warning and analysis in check.caveat_for:
                warnings.warn(check.caveat, check.warning, stacklevel=stacklevel + 1)
        return self.caveats_for(analysis)

    def summary(self) -> str:
        """Each check's verdict, then what it means for the analyses."""
        lines = [
            f"Design checks ({self.n_teams} teams, {self.n_users} using the assistant, "
            f"{self.n_adopters} reaching {self.threshold:.0%} usage):"
        ]
        lines += [f"- {row.check}: {row.verdict}" for row in self.table.itertuples()]
        lines += [f"Refused: {analysis}: {why}" for analysis, why in self.refusals.items()]
        lines += [f"Caveat: {caveat}" for caveat in self.caveats]
        return "\n".join(lines)


def identification(
    panel: pd.DataFrame,
    *,
    treatment: str = "ai_usage_rate",
    outcome: str | None = None,
    threshold: float = 0.5,
    window: tuple[int, int] = (-12, 26),
) -> Identification:
    """Check that the panel's design identifies the effect of adoption, before estimating it.

    Checks: teams; teams using the assistant and reaching ``threshold``; never-adopters
    observed in or after the first adoption week; the spread of adoption dates (is anything
    staggered?); pre-adoption weeks per adopter; teams (clusters) against the restrictions of
    the event study's pre-trend test; small team-weeks.

    Parameters
    ----------
    panel
        A panel from :func:`cts.load_panel` (already restricted to the analysis window).
    treatment
        Usage rate column; a team adopts in the first week it reaches ``threshold`` (as in
        :func:`cts.event_study`).
    outcome
        When given, only team-weeks where it is observed count.
    threshold
        Usage that counts as adoption.
    window
        The event study's relative weeks (for the number of pre-trend restrictions).

    Returns
    -------
    Identification

    Examples
    --------
    >>> design = cts.identification(panel)             # doctest: +SKIP
    >>> print(design.summary())                        # doctest: +SKIP
    >>> design.require("event study")                  # doctest: +SKIP
    """
    require_columns(panel, (treatment, *(() if outcome is None else (outcome,))), "the panel")
    panel = windowed(panel)  # the panel's analysis window, if it carries one
    if outcome is not None:
        panel = panel.loc[panel[outcome].notna()]
    if panel.empty:
        raise PanelError("the panel has no team-weeks" + (f" with `{outcome}`" if outcome else ""))
    timing = adoption_timing(panel, treatment, threshold)
    checks = [
        _teams(timing),
        _adopting(panel, timing, treatment, threshold),
        *_timing_checks(timing, threshold, window),
        _small_teams(panel),
    ]
    refusals: dict[str, str] = {}
    for check in checks:
        for analysis in check.refuses:
            refusals.setdefault(analysis, check.verdict)
    table = pd.DataFrame(
        {
            "check": [c.name for c in checks],
            "value": [c.value for c in checks],
            "verdict": [c.verdict for c in checks],
            "consequence": [c.consequence for c in checks],
        }
    )
    n_teams = len(timing)
    n_users = int(timing["first_use"].notna().sum())
    return Identification(
        table=table,
        caveats=[c.caveat for c in checks if c.caveat],
        refusals=refusals,
        n_teams=n_teams,
        n_users=n_users,
        n_adopters=int(timing["adoption_week"].notna().sum()),
        n_controls_after=controls_after_adoption(timing),
        staggered=is_staggered(timing)[0],
        few_clusters=n_teams < MIN_TEAMS or n_users < MIN_ADOPTING_TEAMS,
        threshold=threshold,
        _checks=checks,
    )


def _known(analysis: str) -> None:
    if analysis not in ANALYSES:
        raise ValueError(f"analysis must be one of {', '.join(ANALYSES)}, not {analysis!r}")


def _teams(timing: pd.DataFrame) -> _Check:
    n = len(timing)
    if n < 2:
        return _Check(
            "teams",
            f"{n}",
            "one team: its adoption cannot be told apart from the week effects, and there is no "
            "other team to compare with. The data would need at least two teams (and about "
            f"{MIN_TEAMS} for clustered intervals).",
            refuses=ANALYSES,
        )
    if n < MIN_TEAMS:
        caveat = (
            f"only {n} teams: clustered standard errors with normal critical values give "
            f"intervals that are too narrow below about {MIN_TEAMS} teams (the size table of "
            "the docs' adoption page), so the adoption effect's headline interval comes from "
            "the wild cluster bootstrap by default; the event study's intervals stay "
            "clustered and read as too precise"
        )
        return _Check(
            "teams", f"{n}", f"{n} teams: few clusters.", caveat=caveat, warning=FewTeamsWarning
        )
    return _Check("teams", f"{n}", f"{n} teams: enough clusters for clustered intervals.")


def _adopting(
    panel: pd.DataFrame, timing: pd.DataFrame, treatment: str, threshold: float
) -> _Check:
    users = int(timing["first_use"].notna().sum())
    adopters = int(timing["adoption_week"].notna().sum())
    value = f"{users} use it, {adopters} reach {threshold:.0%}"
    varies = panel.groupby("team_id")[treatment].nunique().gt(1).any()
    if users == 0 or not varies:
        return _Check(
            "adopting teams",
            value,
            f"no team's `{treatment}` ever changes, so the treatment has no variation left "
            "after the team and week fixed effects. The data would need teams whose usage "
            "changes during the panel.",
            refuses=ANALYSES,
        )
    if adopters == 0:
        return _Check(
            "adopting teams",
            value,
            f"no team reaches {threshold:.0%} usage, so there is no adoption week for an event "
            f"study. The data would need teams reaching the threshold (or a lower `threshold`).",
            refuses=(EVENT_STUDY,),
        )
    if min(users, adopters) < MIN_ADOPTING_TEAMS:
        few = min(users, adopters)
        caveat = (
            f"only {few} adopting teams: with under {MIN_ADOPTING_TEAMS} adopting teams clustered "
            "intervals reject a true null about twice as often as they should (12-14% at 5% "
            "with 6 of 30 teams adopting, the size table in the docs' adoption page); the "
            "adoption effect's headline interval comes from the wild cluster bootstrap by default"
        )
        return _Check(
            "adopting teams",
            value,
            f"{value}: few adopting teams.",
            caveat=caveat,
            warning=FewTeamsWarning,
        )
    return _Check("adopting teams", value, f"{value}: enough adopting teams.")


def _timing_checks(timing: pd.DataFrame, threshold: float, window: tuple[int, int]) -> list[_Check]:
    """The four checks of adoption timing: controls after adoption, spread of adoption dates,
    pre-adoption weeks, and clusters against the pre-trend test's restrictions."""
    adopters = timing.loc[timing["adoption_week"].notna()]
    never = timing.loc[timing["adoption_week"].isna()]
    controls = controls_after_adoption(timing)
    if adopters.empty:
        return [
            _Check(
                name,
                "no adopters",
                f"not applicable: no team reaches {threshold:.0%} usage.",
            )
            for name in (
                "never-adopters observed after the first adoption",
                "spread of adoption dates",
                "pre-adoption weeks per adopter",
                "clusters vs. pre-trend restrictions",
            )
        ]
    return [
        _never_adopters_check(adopters, never, controls),
        _spread_check(adopters, controls),
        _pre_weeks_check(adopters),
        _clusters_check(timing, adopters, window),
    ]


def _never_adopters_check(adopters: pd.DataFrame, never: pd.DataFrame, controls: int) -> _Check:
    first = adopters["adoption_week"].min()
    value = f"{controls} of {len(never)}"
    if controls == 0:
        why = (
            "every team adopts"
            if never.empty
            else (
                f"the {len(never)} never-adopting team(s) leave the panel before "
                f"{first:%Y-%m-%d}, the first adoption week"
            )
        )
        return _Check(
            "never-adopters observed after the first adoption",
            value,
            f"no never-adopting team is observed in or after the first adoption week "
            f"({why}), so nothing shows what adopters would have done without the "
            "assistant. The data would need never-adopting teams observed through the "
            "rollout.",
            refuses=(EVENT_STUDY,),
        )
    else:
        return _Check(
            "never-adopters observed after the first adoption",
            value,
            f"{controls} never-adopting team(s) observed in or after {first:%Y-%m-%d}: "
            "they are the event study's controls.",
        )


def _spread_check(adopters: pd.DataFrame, controls: int) -> _Check:
    staggered, share = is_staggered(adopters)
    dates = adopters["adoption_week"].nunique()
    spread = f"{dates} week(s); {share:.0%} within one week of the most common"
    if staggered:
        return _Check("spread of adoption dates", spread, "adoption is staggered over time.")
    elif controls == 0:
        return _Check(
            "spread of adoption dates",
            spread,
            f"adoption happens in (nearly) one week ({share:.0%} of the {len(adopters)} "
            "adopting teams within one week of each other) and no never-adopting team is "
            "observed after it: the week effects and adoption are the same thing, so no "
            "estimate of the effect would be causal. The data would need adoption spread "
            "over time, or never-adopting teams observed through the rollout.",
            refuses=ANALYSES,
        )
    else:
        caveat = (
            f"adoption is not staggered ({share:.0%} of the {len(adopters)} adopting teams "
            f"adopt within one week of each other): the effect rests entirely on the {controls} "
            "never-adopting teams as the comparison (one before/after difference-in-"
            "differences), with no later adopters to cross-check it"
        )
        return _Check(
            "spread of adoption dates",
            spread,
            "adoption is not staggered; never-adopters are the only comparison.",
            caveat=caveat,
            warning=DesignWarning,
        )


def _pre_weeks_check(adopters: pd.DataFrame) -> _Check:
    pre = adopters["pre_weeks"]
    short = int((pre < _MIN_PRE_WEEKS).sum())
    value = (
        f"median {pre.median():g}, min {pre.min():g}; {short} adopter(s) with fewer than "
        f"{_MIN_PRE_WEEKS}"
    )
    if short == len(adopters):
        return _Check(
            "pre-adoption weeks per adopter",
            value,
            f"no adopter is observed for {_MIN_PRE_WEEKS} weeks before adopting (adoption "
            "from the first week), so there is no pre-adoption baseline and no pre-trend "
            "to test. The data would need weeks before adoption.",
            refuses=(EVENT_STUDY,),
            caveat=(
                "every adopter reaches the threshold within its first weeks, so the "
                "effect comes only from changes in usage after that, with no pre-adoption "
                "baseline"
            ),
            caveat_for=(ADOPTION_EFFECT,),
            warning=DesignWarning,
        )
    else:
        verdict = "adopters are observed before adopting."
        if short:
            verdict = (
                f"{short} adopter(s) have fewer than {_MIN_PRE_WEEKS} pre-adoption weeks and "
                "inform no pre-trend."
            )
        return _Check("pre-adoption weeks per adopter", value, verdict)


def _clusters_check(
    timing: pd.DataFrame, adopters: pd.DataFrame, window: tuple[int, int]
) -> _Check:
    pre = adopters["pre_weeks"]
    n_teams = len(timing)
    restrictions = int(max(0, min(-window[0] - 1, pre.max() - 1)))
    value = f"{n_teams} teams, {restrictions} restrictions"
    if restrictions > n_teams - 1:
        usable = max(0, n_teams - 1)
        caveat = (
            f"the pre-trend test needs {restrictions} restrictions but {n_teams} teams support "
            f"at most {usable}: it is reduced to the {usable} pre-weeks nearest adoption (or "
            "not computed), and with so few teams it has little power"
        )
        return _Check(
            "clusters vs. pre-trend restrictions",
            value,
            "more pre-trend restrictions than teams can support.",
            caveat=caveat,
            caveat_for=(EVENT_STUDY,),
            warning=DesignWarning,
        )
    else:
        return _Check(
            "clusters vs. pre-trend restrictions",
            value,
            "enough teams for the joint pre-trend test.",
        )


def _small_teams(panel: pd.DataFrame) -> _Check:
    size = int(panel.attrs.get("min_team_size", 5))
    if "n_builders" not in panel:
        return _Check("small teams", "n/a", "no `n_builders` column.")
    small = int((panel["n_builders"] < size).sum())
    dropped = int(panel.attrs.get("suppressed_team_weeks", 0))
    if small == 0 and dropped:
        return _Check(
            "small teams",
            f"{dropped:,} team-weeks under {size} builders left out",
            f"left out of every analysis for privacy; the other "
            f"{len(panel):,} team-weeks are analysed.",
        )
    value = f"{small:,} team-weeks under {size} builders"
    if small == 0:
        return _Check("small teams", value, f"every team-week has at least {size} builders.")
    caveat = (
        f"{small:,} of {len(panel):,} team-weeks have fewer than {size} builders; reports drop "
        "them (cts.suppress_small_teams) because their velocity describes individuals"
    )
    return _Check(
        "small teams", value, f"{small:,} small team-weeks.", caveat=caveat, caveat_for=()
    )


def week_effects_by(
    panel: pd.DataFrame, time_effects_by: str | None = "auto"
) -> tuple[str | None, str]:
    """The column whose groups get their own week effects, and the sentence that says so.

    ``"auto"``: ``org`` when the panel has that column (teams in one org share its hiring
    waves, freezes and launches, and the assistant often opens org by org), unless an org has a
    single team (its week effects would absorb it): then one week effect for all, and the
    sentence says why. A column name: that column (the estimator refuses groups of one team).
    ``None``: one week effect for all teams.
    """
    if time_effects_by != "auto":
        if time_effects_by is not None:
            require_columns(panel, (time_effects_by,), "the panel")
            return time_effects_by, f"week effects by `{time_effects_by}`"
        return None, ""
    if "org" not in panel.columns:
        return None, ""
    teams = panel.groupby("org", sort=True)["team_id"].nunique()
    lonely = teams.index[teams < 2]
    if len(lonely):
        return None, (
            f"week effects common to all teams, not by `org`: {len(lonely)} org(s) have a "
            f"single team ({', '.join(map(repr, map(str, lonely[:5])))}), whose week effects "
            "would absorb it; merge small orgs to separate the orgs' weekly shocks"
        )
    return "org", (
        f"week effects by `org` ({len(teams)} orgs; the panel's `org` column, "
        "time_effects_by=None for one week effect for all teams)"
    )
