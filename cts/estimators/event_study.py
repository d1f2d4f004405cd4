"""Event studies that stay valid under staggered adoption, beside the naive TWFE one.

Adoption is binarised: a team adopts in the first week its usage rate reaches a threshold, and
stays adopted; teams that never reach it are the controls. ``event_study`` estimates the effect
per week relative to adoption with Gardner's (2022) two-stage DiD
(:mod:`cts.estimators.two_stage`: team and week effects from untreated team-weeks only, so
already-treated teams never serve as controls) or
a cohort-saturated regression (Sun & Abraham 2021, which equals Callaway & Sant'Anna's (2021)
ATT(g,t) with never-treated controls), with the plain TWFE event study beside it.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyfixest as pf

from cts.core.exceptions import DesignWarning, FewTeamsWarning
from cts.core.results import Result, TestStatistic, estimate_table, p_phrase
from cts.estimators.design import MIN_TEAMS, adoption_timing, is_staggered
from cts.estimators.two_stage import two_stage_did
from cts.estimators.wald import wald_test
from cts.panel import PanelError, require_columns, windowed

__all__ = ["EventStudy", "adoption_weeks", "event_study", "group_time_effects", "simple_att"]

ESTIMATORS = ("did2s", "saturated")


def adoption_weeks(
    panel: pd.DataFrame, treatment: str = "ai_usage_rate", threshold: float = 0.5
) -> pd.Series:
    """Each team's adoption week: the first week ``treatment >= threshold`` (NaT if never), in
    the order teams first appear (:func:`cts.estimators.design.adoption_timing` has the rest)."""
    adoption = adoption_timing(panel, treatment, threshold)["adoption_week"]
    return adoption.reindex(panel["team_id"].unique())


@dataclass(repr=False)
class EventStudy(Result):
    """Per-week effects relative to adoption, from :func:`event_study`.

    Attributes
    ----------
    table
        Indexed by ``relative_week`` (``-1``, the reference, is omitted): ``estimate, se,
        ci_low, ci_high, p_value`` (95%, clustered by team) of the chosen estimator.
    naive
        The same from the plain two-way FE event study (biased when effects vary by cohort or
        grow over time; shown so users see the difference).
    att
        The overall average effect on adopters in the window's post-adoption weeks (one row,
        same columns), and ``naive_att`` its TWFE counterpart.
    pretrend_chi2, pretrend_df, pretrend_p
        Joint Wald test that all pre-adoption effects are zero: the Wald statistic, its
        restrictions and the p-value of Hotelling's T-squared over teams
        (:func:`cts.estimators.wald.wald_test`); NaN when the covariance cannot
        support it; ``pretrend_note`` then says why, and also when the test was reduced to the
        pre-weeks nearest adoption).
    estimator, outcome, threshold, window, n_adopters, n_controls
    pretrend_note
        Empty when the pre-trend test covers every pre-adoption week; else what it covers.
    ramp_weeks
        Median number of weeks adopters used the assistant before crossing the threshold: a
        gradual ramp-up puts part of the effect into the pre-adoption weeks.
    caveats
        Plain sentences on what the design does not support.
    """

    _metadata_fields = ("estimator", "outcome", "threshold", "n_adopters", "n_controls")

    table: pd.DataFrame
    naive: pd.DataFrame
    att: pd.Series
    naive_att: pd.Series
    pretrend_chi2: float
    pretrend_df: int
    pretrend_p: float
    estimator: str
    outcome: str
    threshold: float
    window: tuple[int, int]
    n_adopters: int
    n_controls: int
    pretrend_note: str = ""
    ramp_weeks: float = float("nan")
    caveats: list[str] = field(default_factory=list)

    @property
    def pretrend(self) -> TestStatistic | None:
        """The pre-trend test as a :class:`TestStatistic` (None when it was not computed)."""
        if not np.isfinite(self.pretrend_p):
            return None
        return TestStatistic(
            name="joint pre-trend test",
            statistic=self.pretrend_chi2,
            df=self.pretrend_df,
            p_value=self.pretrend_p,
            null="no effect before adoption",
        )

    @property
    def ramp_explains_pretrend(self) -> bool:
        """The pre-trend test rejects and usage ramped up for weeks before the threshold week."""
        return bool(
            np.isfinite(self.pretrend_p) and self.pretrend_p < 0.05 and self.ramp_weeks >= 2
        )

    @property
    def pretrend_headline(self) -> str:
        """The pre-trend test in one line, with its explanation or why it was not computed."""
        if not np.isfinite(self.pretrend_p):
            return self.pretrend_note or "not computed"
        text = f"{p_phrase(self.pretrend_p)} ({self.pretrend_df} pre-adoption weeks)"
        if self.ramp_explains_pretrend:
            text += (
                f"; expected with a gradual ramp-up (median {self.ramp_weeks:g} weeks of use "
                f"before reaching {self.threshold:.0%}), not by itself a sign of diverging trends"
            )
        if self.pretrend_note:
            text += f"; {self.pretrend_note}"
        return text

    def _pretrend_text(self) -> str:
        if not np.isfinite(self.pretrend_p):
            return f"Pre-trend test: {self.pretrend_note or 'not computed'}."
        if self.pretrend_p >= 0.05:
            verdict = "no evidence of pre-trends"
        elif self.ramp_explains_pretrend:
            verdict = (
                f"pre-adoption effects are jointly non-zero, as expected with a gradual "
                f"ramp-up: adopters used the assistant for a median of {self.ramp_weeks:g} "
                f"weeks before reaching {self.threshold:.0%}, so the weeks before the threshold "
                "week already carry part of the effect (not, by itself, evidence that adopters "
                "were diverging)"
            )
        else:
            verdict = (
                "pre-adoption effects are jointly non-zero: adopters were already diverging, "
                "or usage began before the threshold week"
            )
        note = f" ({self.pretrend_note})" if self.pretrend_note else ""
        return (
            f"Pre-trend test: Wald = {self.pretrend_chi2:.1f} (df {self.pretrend_df}, p from "
            f"Hotelling's T-squared over teams), {p_phrase(self.pretrend_p)}: {verdict}{note}."
        )

    def summary(self) -> str:
        """The overall effect and the pre-trend test in words."""
        att, naive = self.att, self.naive_att
        caveats = "".join(f"\nCaveat: {caveat}" for caveat in self.caveats)
        return (
            f"Event study of {self.outcome} ({self.estimator}; adoption = first week usage >= "
            f"{self.threshold:.0%}; {self.n_adopters:,} adopting teams, {self.n_controls:,} "
            f"never-adopting controls; weeks {self.window[0]} to {self.window[1]}).\n"
            f"Average effect after adoption: {att['estimate']:+.4f} (95% CI {att['ci_low']:+.4f} "
            f"to {att['ci_high']:+.4f}); naive TWFE: {naive['estimate']:+.4f}.\n"
            f"{self._pretrend_text()}{caveats}"
        )


def event_study(
    panel: pd.DataFrame,
    outcome: str = "cr_velocity",
    *,
    treatment: str = "ai_usage_rate",
    threshold: float = 0.5,
    window: tuple[int, int] = (-12, 26),
    estimator: str = "did2s",
    time_effects_by: str | None = None,
) -> EventStudy:
    """Event study of ``outcome`` around each team's adoption week.

    Parameters
    ----------
    panel
        A panel from :func:`cts.load_panel`.
    outcome
        Any numeric column, e.g. ``cr_velocity`` or ``deploy_velocity``.
    treatment, threshold
        Adoption is the first week ``treatment >= threshold``; it is absorbing.
    window
        First and last week relative to adoption to estimate (week -1 is the reference);
        adopters' weeks outside it are left out.
    estimator
        ``"did2s"`` (Gardner 2022, default) or ``"saturated"`` (cohort-by-week interactions,
        Sun & Abraham 2021, aggregated with cohort-size weights).
    time_effects_by
        A column constant within each team (e.g. its org) whose groups get their own week
        effects, learned from each group's untreated team-weeks (``"did2s"`` only; the naive
        fits use them too). ``None`` (default): one week effect for all teams.

    Returns
    -------
    EventStudy
    """
    _check_options(panel, outcome, window, estimator, time_effects_by)
    low, high = window
    timing, data, adopters, n_controls = _event_sample(
        panel, outcome, treatment, threshold, window, time_effects_by
    )
    n_adopters = int(adopters["team_id"].nunique())
    caveats = []
    staggered, share = is_staggered(timing.loc[timing.index.isin(adopters["team_id"])])
    if not staggered:
        caveats.append(
            f"{share:.0%} of the {n_adopters} adopting teams adopt within one week of each "
            f"other, so nothing is staggered: the effect rests entirely on the {n_controls} "
            "never-adopting teams as the comparison (a single before/after difference-in-"
            "differences)"
        )
        warnings.warn(caveats[-1], DesignWarning, stacklevel=2)

    naive, naive_att, table, vcov, att = _fit(data, outcome, estimator)
    # Pre-weeks nearest adoption first: if the covariance cannot support every restriction,
    # the test keeps the ones closest to adoption.
    pre = table.loc[table.index < -1].sort_index(ascending=False)
    test, note = wald_test(
        pre["estimate"],
        vcov,
        name="pre-trend test",
        null="no effect before adoption",
        n_clusters=int(data["team_id"].nunique()),
    )
    if note:
        warnings.warn(note, DesignWarning, stacklevel=2)
    n_teams = int(data["team_id"].nunique())
    if n_teams < MIN_TEAMS:
        caveats.append(
            f"only {n_teams} teams: intervals clustered by team with normal critical values are "
            f"too narrow below about {MIN_TEAMS} teams, so read them as too precise"
        )
        warnings.warn(caveats[-1], FewTeamsWarning, stacklevel=2)
    ramp = (timing["adoption_week"] - timing["first_use"]) / pd.Timedelta(weeks=1)
    return EventStudy(
        table=table,
        naive=naive,
        att=att,
        naive_att=naive_att,
        pretrend_chi2=float("nan") if test is None else test.statistic,
        pretrend_df=0 if test is None or test.df is None else int(test.df),
        pretrend_p=float("nan") if test is None else test.p_value,
        estimator=estimator,
        outcome=outcome,
        threshold=threshold,
        window=(low, high),
        n_adopters=n_adopters,
        n_controls=n_controls,
        pretrend_note=note,
        ramp_weeks=float(ramp.median()) if ramp.notna().any() else float("nan"),
        caveats=caveats,
    )


def _check_options(
    panel: pd.DataFrame,
    outcome: str,
    window: tuple[int, int],
    estimator: str,
    time_effects_by: str | None,
) -> None:
    """Refuse, in words, options :func:`event_study` does not offer or columns it lacks."""
    if estimator not in ESTIMATORS:
        raise ValueError(f"estimator must be one of {', '.join(ESTIMATORS)}, not {estimator!r}")
    low, high = window
    if not low <= -2 < 0 <= high:
        raise ValueError(f"window must include week -2 and week 0, not {window}")
    require_columns(panel, (outcome, *([time_effects_by] if time_effects_by else [])), "the panel")
    if time_effects_by is not None and estimator != "did2s":
        raise ValueError("time_effects_by= is an option of estimator='did2s'")


def _event_sample(
    panel: pd.DataFrame,
    outcome: str,
    treatment: str,
    threshold: float,
    window: tuple[int, int],
    time_effects_by: str | None,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, int]:
    """Each team's adoption timing, the event-study rows (adopters' weeks in the window, every
    never-adopter week), the adopters' rows and the number of never-adopters observed in the
    adopters' weeks (the controls); a :class:`PanelError` saying what is missing when there
    are no adopters or no controls."""
    panel = windowed(panel)
    timing = adoption_timing(panel, treatment, threshold)
    data = _event_frame(panel, outcome, timing["adoption_week"], time_effects_by)
    data = data.loc[data["cohort"].eq(0) | data["rel"].between(*window)]
    data = _with_counterfactual(data)
    adopters = data.loc[data["cohort"] > 0]
    n_adopters = int(adopters["team_id"].nunique())
    # Never-adopters are controls only where they are observed: in the adopters' weeks.
    first_adoption = adopters["cohort"].min() if n_adopters else np.inf
    controls = data.loc[data["cohort"].eq(0) & (data["period"] >= first_adoption)]
    n_controls = int(controls["team_id"].nunique())
    if n_adopters == 0 or n_controls == 0:
        raise PanelError(_missing_groups(timing, threshold, n_adopters, n_controls))
    return timing, data, adopters, n_controls


def _fit(
    data: pd.DataFrame, outcome: str, estimator: str
) -> tuple[pd.DataFrame, pd.Series, pd.DataFrame, pd.DataFrame, pd.Series]:
    """The naive TWFE event study and ATT, then the ``estimator``'s table by relative week, its
    covariance and its ATT, library failures explained (:func:`_explained`)."""
    with _explained("the event study"):
        naive, naive_att = _two_way_fe(data, outcome)
        if estimator == "did2s":
            table, vcov, att = _did2s(data, outcome)
        else:
            cells, cells_vcov = group_time_effects(
                data, outcome, "team_id", "period", "cohort", base="universal"
            )
            table, vcov, att = _aggregate_by_relative_time(cells, cells_vcov)
    return naive, naive_att, table, vcov, att


def _two_way_fe(data: pd.DataFrame, outcome: str) -> tuple[pd.DataFrame, pd.Series]:
    """The plain two-way FE event study by relative week and its static ATT (the naive ones)."""
    naive_fit = pf.feols(
        f"{outcome} ~ i(rel, ref=-1) | team_id + fe_period", data, vcov={"CRV1": "team_id"}
    )
    naive, _ = _by_relative_week(naive_fit.coef(), naive_fit._vcov)
    naive_static = pf.feols(
        f"{outcome} ~ treated | team_id + fe_period", data, vcov={"CRV1": "team_id"}
    )
    return naive, _row(naive_static.coef()["treated"], naive_static.se()["treated"])


def _did2s(data: pd.DataFrame, outcome: str) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series]:
    """Gardner's two-stage estimator by relative week, its covariance and its static ATT;
    sparse: pyfixest's did2s densifies its stage-1 dummies."""
    weeks = sorted(set(data["rel"].unique()) - {-1})
    dummies = pd.DataFrame(
        {week: data["rel"].eq(week).to_numpy(float) for week in weeks}, index=data.index
    )
    stages = (data[outcome], data["team_id"], data["fe_period"], data["treated"])
    coef, vcov = two_stage_did(*stages, dummies)
    table = estimate_table(coef, np.sqrt(np.diag(vcov)))
    table.index.name = "relative_week"
    static, static_vcov = two_stage_did(*stages, data[["treated"]])
    return table, vcov, _row(static["treated"], np.sqrt(static_vcov.to_numpy(float)[0, 0]))


def _missing_groups(timing: pd.DataFrame, threshold: float, adopters: int, controls: int) -> str:
    """Why an event study has no adopters or no controls, and what the data would need."""
    reasons = []
    ever = timing["adoption_week"].notna()
    if adopters == 0:
        if not ever.any():
            reasons.append(f"no team's usage ever reaches the threshold {threshold}")
        else:
            reasons.append(
                "no adopting team is observed for at least two weeks before adopting (adoption "
                "from the first week leaves nothing to compare with)"
            )
    if controls == 0 and ever.any():
        if ever.all():
            reasons.append("every team adopts")
        else:
            reasons.append(
                f"the {int((~ever).sum())} never-adopting team(s) are not observed in or after "
                "the first adoption week, so nothing shows what adopters would have done "
                "without the assistant"
            )
    return (
        f"an event study needs adopting and never-adopting teams; with threshold {threshold} "
        f"there are {adopters} and {controls} usable: {'; '.join(reasons)}. The data would need "
        "adopters observed before they adopt and never-adopters observed in the same weeks."
    )


@contextlib.contextmanager
def _explained(what: str) -> Iterator[None]:
    """Turn a library's rank or collinearity failure into a :class:`PanelError` in our words."""
    try:
        yield
    except PanelError:
        raise
    except BaseException as error:
        # pyfixest's Rust demeaner panics (pyo3 PanicException, a BaseException) on degenerate
        # fixed-effect structures; rank failures arrive as ValueError or LinAlgError.
        panicked = type(error).__name__ == "PanicException"
        rank = isinstance(error, (ValueError, np.linalg.LinAlgError)) and any(
            word in str(error).lower() for word in ("collinear", "singular", "rank")
        )
        if not (panicked or rank):
            raise
        raise PanelError(
            f"{what} cannot be estimated on this panel: adoption cannot be separated from the "
            "team and week effects (for example every adopter adopts in the same weeks and no "
            "untreated team is observed then, or too few team-weeks remain). The data would "
            "need adoption spread over time or never-adopting teams observed through it."
        ) from error


def group_time_effects(
    data: pd.DataFrame,
    y: str,
    entity: str,
    time: str,
    group: str,
    *,
    base: str = "varying",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Callaway & Sant'Anna (2021) ATT(g, t) with never-treated controls (no covariates).

    Estimated by pyfixest's cohort-saturated event study (``pf.event_study(estimator=
    "saturated")``), which gives each cohort's effect in each period against period ``g - 1``
    and never-treated units; for periods before ``g`` the ``"varying"`` base (CS's default)
    turns these long differences into period-on-period ones.

    Parameters
    ----------
    data
        Balanced panel; ``time`` integer periods; ``group`` the first treated period, 0 for
        never treated.
    y, entity, time, group
        Column names.
    base
        ``"varying"`` (default, as the ``did`` R package) or ``"universal"`` (all against
        ``g - 1``).

    Returns
    -------
    table, vcov : pandas.DataFrame
        ``table`` indexed by ``group`` and ``time``: ``estimate, se, ci_low, ci_high, p_value`` and
        ``n_group`` (units in the cohort); and ``vcov``, the covariance of the
        estimates (clustered by ``entity``).

    References
    ----------
    Callaway & Sant'Anna (2021), Journal of Econometrics 225(2). Sun & Abraham (2021), same
    issue.
    """
    if base not in ("varying", "universal"):
        raise ValueError(f"base must be 'varying' or 'universal', not {base!r}")
    require_columns(data, (y, entity, time, group))
    # A unit treated from its first observed period has no period before treatment to compare
    # with (the did R package drops cohorts treated in the first period too).
    first = data.groupby(entity)[time].transform("min")
    data = data.loc[data[group].eq(0) | (first < data[group])]
    units = data.groupby(group)[entity].nunique()
    if units.get(0, 0) == 0 or units.drop(0, errors="ignore").sum() == 0:
        raise PanelError(
            f"group-time effects need treated and never-treated units; `{group}` has "
            f"{int(units.drop(0, errors='ignore').sum())} treated and {int(units.get(0, 0))} "
            "never-treated (group 0)"
        )
    treated = data[group] > 0
    if not (data.loc[~treated, time] >= data.loc[treated, group].min()).any():
        raise PanelError(
            "group-time effects need never-treated units observed in or after the first "
            "treated period; none is, so nothing shows what the treated would have done"
        )
    with warnings.catch_warnings(), _explained("the group-time effects"):
        # pyfixest flags the estimator as beta (it reproduces the did package above, tested) and
        # drops cohort-period cells outside the data (e.g. a cohort's periods after the panel).
        warnings.filterwarnings("ignore", message=".*SaturatedEventStudyClass is currently in beta")
        warnings.filterwarnings(
            "ignore", message=r"(?s).*variables dropped due to multicollinearity"
        )
        fit = pf.event_study(
            data, yname=y, idname=entity, tname=time, gname=group, estimator="saturated"
        )
    names = fit.coef().index
    parsed = names.str.extract(r"rel_time::(-?[\d.]+):first_treated_period::(-?[\d.]+)")
    cohort = parsed[1].astype(float).astype(int).to_numpy()
    period = cohort + parsed[0].astype(float).astype(int).to_numpy()
    index = pd.MultiIndex.from_arrays([cohort, period], names=["group", "time"])
    estimates = pd.Series(fit.coef().to_numpy(), index=index)
    # pyfixest 0.60 has no public getter of the covariance matrix (`vcov()` sets the type)
    vcov = pd.DataFrame(np.asarray(fit._vcov), index=index, columns=index)
    if base == "varying":
        estimates, vcov = _varying_base(estimates, vcov, int(data[time].min()))
    sizes = data.groupby(group)[entity].nunique()
    table = estimate_table(estimates, np.sqrt(np.diag(vcov)))
    table["n_group"] = sizes.reindex(table.index.get_level_values("group")).to_numpy()
    table = table.sort_index()
    return table, vcov.loc[table.index, table.index]


def _varying_base(
    long: pd.Series, vcov: pd.DataFrame, first_period: int
) -> tuple[pd.Series, pd.DataFrame]:
    """Pre-period effects against the period before, as the ``did`` R package reports them.

    With ``L(g, t)`` the effect in ``t`` against ``g - 1`` (``L(g, g-1) = 0``), the varying-base
    pre-period effect is ``L(g, t) - L(g, t-1)`` for ``first_period < t < g``; post-period effects
    are unchanged.
    """
    rows, weights = [], []
    for g in sorted(set(long.index.get_level_values("group"))):
        for t in range(first_period + 1, g):
            if (g, t - 1) not in long.index or (t < g - 1 and (g, t) not in long.index):
                continue  # a cell pyfixest dropped (no data): its difference is not estimable
            row = pd.Series(0.0, index=long.index)
            if t < g - 1:
                row[(g, t)] += 1.0
            row[(g, t - 1)] -= 1.0
            rows.append((g, t))
            weights.append(row)
        for t in sorted(t for gg, t in long.index if gg == g and t >= g):
            row = pd.Series(0.0, index=long.index)
            row[(g, t)] = 1.0
            rows.append((g, t))
            weights.append(row)
    index = pd.MultiIndex.from_tuples(rows, names=["group", "time"])
    transform = pd.DataFrame(np.vstack(weights), index=index, columns=long.index)
    return transform @ long, transform @ vcov @ transform.T


def simple_att(cells: pd.DataFrame, vcov: pd.DataFrame) -> pd.Series:
    """CS's "simple" aggregation: post-treatment ATT(g, t) weighted by cohort size."""
    post = cells.index.get_level_values("time") >= cells.index.get_level_values("group")
    chosen = cells.loc[post]
    weights = chosen["n_group"].to_numpy(float) / chosen["n_group"].sum()
    vcov = vcov.loc[chosen.index, chosen.index].to_numpy()
    return _row(float(weights @ chosen["estimate"]), float(np.sqrt(weights @ vcov @ weights)))


def _event_frame(
    panel: pd.DataFrame, outcome: str, adopted: pd.Series, group: str | None = None
) -> pd.DataFrame:
    """Periods, cohorts and relative weeks; ``fe_period`` codes the week effects (the period,
    or the group x period when week effects are by ``group``)."""
    origin = panel["week"].min()
    period = ((panel["week"] - origin) / pd.Timedelta(weeks=1)).astype(int) + 1
    fe_period = period.to_numpy()
    if group is not None:
        if (panel.groupby("team_id")[group].nunique() > 1).any():
            raise PanelError(f"`{group}` varies within a team; week effects by it need one value")
        fe_period = pd.factorize(panel[group].astype(str) + "|" + period.astype(str))[0]
    adoption = panel["team_id"].map(adopted)
    cohort = ((adoption - origin) / pd.Timedelta(weeks=1)).fillna(-1).astype(int) + 1
    rel = np.where(cohort > 0, period - cohort, -1)  # never-adopters sit at the reference
    return pd.DataFrame(
        {
            "team_id": panel["team_id"].to_numpy(),
            "period": period.to_numpy(),
            "fe_period": fe_period,
            "cohort": cohort.to_numpy(),
            "rel": rel,
            "treated": ((cohort > 0) & (period >= cohort)).astype(int).to_numpy(),
            outcome: panel[outcome].to_numpy(float),
        }
    )


def _with_counterfactual(data: pd.DataFrame) -> pd.DataFrame:
    """Keep teams and weeks with at least two untreated team-weeks.

    Team and week effects are learned from untreated weeks: a team (or week) without any has no
    counterfactual, and one with a single untreated week is a singleton that pyfixest's first
    stage drops, so neither can contribute. Dropping one can orphan the other: repeat until
    stable.
    """
    while True:
        untreated = data.loc[data["treated"].eq(0)]
        teams = untreated["team_id"].value_counts()
        periods = untreated["fe_period"].value_counts()
        keep = data["team_id"].isin(teams.index[teams >= 2]) & data["fe_period"].isin(
            periods.index[periods >= 2]
        )
        if keep.all():
            return data.reset_index(drop=True)
        data = data.loc[keep]


def _by_relative_week(coef: pd.Series, vcov: np.ndarray) -> tuple[pd.DataFrame, pd.DataFrame]:
    # pyfixest keeps the clustered covariance of a fit in ``_vcov``; it has no public getter.
    weeks = pd.Index(coef.index).str.extract(r"rel::(-?[\d.]+)")[0].astype(float).astype(int)
    by_week = pd.DataFrame(np.asarray(vcov), index=weeks.to_numpy(), columns=weeks.to_numpy())
    table = estimate_table(
        pd.Series(coef.to_numpy(), index=weeks.to_numpy()), np.sqrt(np.diag(by_week))
    )
    table.index.name = "relative_week"
    return table.sort_index(), by_week


def _aggregate_by_relative_time(
    cells: pd.DataFrame, cells_vcov: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series]:
    """Cohort-size-weighted averages of ATT(g, t) per relative week, and the simple ATT."""
    rel = cells.index.get_level_values("time") - cells.index.get_level_values("group")
    weeks = np.unique(rel)
    weights = np.zeros((len(weeks), len(cells)))
    for row, week in enumerate(weeks):
        members = rel == week
        weights[row, members] = cells["n_group"].to_numpy(float)[members]
        weights[row] /= weights[row].sum()
    vcov = weights @ cells_vcov.to_numpy() @ weights.T
    table = estimate_table(
        pd.Series(weights @ cells["estimate"].to_numpy(), index=weeks), np.sqrt(np.diag(vcov))
    )
    table.index.name = "relative_week"
    vcov = pd.DataFrame(vcov, index=weeks, columns=weeks)
    return table, vcov, simple_att(cells, cells_vcov)


def _row(estimate: float, se: float) -> pd.Series:
    return estimate_table(pd.Series([estimate]), [se]).iloc[0]
