"""``method="auto"``: the specification of the adoption model chosen by its diagnostics.

Two threats bias the default ``bias_corrected`` fit of ``y_it = a_i + l_t + b y_i,t-1 + g x_it``
(measured on 400 teams x 39 weeks): shocks that persist (AR(1) errors, rho 0.3:
short-run bias -13%, coverage 17%) and usage that responds to past shocks (feedback). The first
shows in the residuals, the second in the lead placebo; the choice follows them:

1. **Lags.** Fit ``bias_corrected`` with ``p`` lags of the outcome and ``q = p - 1`` of usage and
   each control, ``p = 1, 2, ...`` up to ``max_lags``, and stop at the first whose residuals
   show no AR(2) at ``SEARCH_ALPHA`` = 5%
   (:func:`cts.estimators.serial.residual_serial_correlation`). The test's power is moderate
   (AR(1) shocks of 0.3, 200 teams x 39 weeks: it rejects in 73% of panels at 10%), so when the
   residuals pass, the next lag is fitted too and kept when its coefficients (the outcome's
   and each regressor's longest lag) are jointly significant at ``LAG_ALPHA`` = 5% (Wald,
   cluster-robust): with AR(1) shocks of 0.3 the second outcome lag's coefficient is
   ``-rho b = -0.15``, a t of about 10, and the search ends with ``p >= 2`` in 59 of 60 such
   panels. On clean panels (60 per length) it adds a lag in 15% of panels at 39 weeks and 10%
   at 104 (15% at 104 with a 10% level); those panels' short-run estimate
   is 2-4x as dispersed, which is the whole cost of ``auto`` on clean data.
   An AR(k) shock in a model with one lag is the distributed-lag model ADL(1 + k, k), so
   raising ``p`` and ``q`` together absorbs it; short- and long-run effects keep their meaning.
2. **Strict exogeneity.** The lead placebo (:func:`cts.analyses.exogeneity.lead_placebo`) in the
   chosen model. If it rejects, usage responds to the outcome's shocks and the fit keeps
   ``bias_corrected`` with usage ``predetermined``: the analytical correction of the O(1/T) bias
   of weakly exogenous regressors (:mod:`cts.estimators.weak_exogeneity`), when inference is
   clustered. Not difference GMM: it is unbiased under feedback but 3.5x as dispersed, and the
   lead placebo rejects in about 5% of clean panels by design, which spread ``auto``'s clean
   estimates 1.7x (200 teams x 39 weeks, 100 panels).

3. **Persistence that differs between teams.** With usage strictly exogenous, clustered
   inference and a median of :data:`~cts.estimators.heterogeneous.MIN_TEST_WEEKS` (30) weeks a
   team, the chosen model is refitted with each team's own lag coefficients
   (``dynamic_panel(team_persistence=True)``, :mod:`cts.estimators.heterogeneous`) and the
   pooled persistence is tested against the mean of the teams' own, at
   :data:`HOMOGENEITY_ALPHA` = 1%, on :data:`HOMOGENEITY_TEAMS` (500) teams drawn at random
   from larger panels. If it rejects, that model is the answer: pooling weights teams by the
   variance of their lagged outcome, and with ``persistence_spread=0.3`` (200 teams) the
   pooled persistence is +14% to +15% and the long run +12% to +14% at 39 and 104 weeks. The
   heterogeneity also leaves serially correlated residuals in the pooled model, so by then the
   lag search has usually added lags; the team-specific model keeps them.

4. **Effects that differ between teams.** With usage strictly exogenous, one persistence for
   all teams and clustered inference, the counterfactual (:func:`cts.counterfactual`,
   :data:`COUNTERFACTUAL_REPS` team bootstrap draws, the chosen outcome lags) runs beside the
   pooled model and three tests ask whether one effect fits every team: the counterfactual's
   cohort homogeneity (the effect at full usage the same in every adoption cohort), and the
   pooled model's short and long run against the counterfactual's
   (:func:`cts.analyses.counterfactual.compare_pooled`), each at
   :data:`EFFECT_HOMOGENEITY_ALPHA` over the number of tests run (Bonferroni, 5% for the
   family). If none rejects, the pooled model is the headline (its short-run SE is about
   half the counterfactual's on the simulator); if one does, the effects differ by team,
   cohort or week of use (early adopters gaining more, rollouts org by org, effects learned
   over the first weeks), which bias the pooled model, and the counterfactual is the
   headline. Either way the other estimate stays
   beside it (``AdoptionEffect.alternative``) and the headline table gains the
   counterfactual's ``att`` and total extra units. Skipped, in words, when usage responds to
   past shocks (which biases a counterfactual fitted on the weeks before adoption), when the
   lag search needed more than one outcome lag (persistent shocks: the counterfactual's short
   run filters usage by the outcome's lag sum and would read the shocks' persistence as the
   effect's; 10-15% of clean panels), with
   resampling inference (few teams: the tests have no reliable size), or when the
   counterfactual cannot run on the panel. Still skipped when the lead placebo rejects under
   learning (effects learned over the first weeks of use make it reject with usage
   exogenous): headlining the counterfactual there when its own pre-trend test
   (:attr:`~cts.analyses.counterfactual.Counterfactual.pre_trend`) passes was tried and
   measured (200 teams x 39 weeks, 200 panels a cell): the placebo rejected in 8.5% of
   ``learning_8wk`` panels and 5.5% of clean ones, the switch changed 10 and 8 panels, left
   ``auto``'s coverage where it was (learning: short run 85.0% against 84.5%, long run 83%
   both; clean unchanged), doubled those panels' spread (SD of the relative error 0.13-0.17
   against 0.08) and let through 1 feedback panel in 200, which missed by +25%. Learning's
   under-coverage is in the panels where the placebo passes and no homogeneity test rejects.
   With each team's own persistence (step
   3) only the cohort test decides: the team-specific fit targets the mean of the teams' long
   runs, which a counterfactual with one persistence does not, so comparing them would test
   the persistence again. Effects that differ by team also make step 3 reject (each team's lag
   coefficient absorbs part of its own effect), which is why the step still runs there. How
   often it switches, and the bias and coverage that follow, on the threat cells:
   ``docs/validation.md``, "The counterfactual engine in the threat cells".

Each step's test is recorded on :class:`Specification`; an explicit ``method=`` skips all this.

Cost: the fit that tests lag ``p + 1`` also carries the lead placebo (valid there under the
null that the lag adds nothing), so a clean panel costs two jackknife fits, one of them with
about twice the columns. Step 4 adds one counterfactual with 199 draws, measured in CPU time
on a shared 2-core machine: 0.07 s of ``auto``'s 0.3 s on 200 teams x 39 weeks, 0.7-0.8 s of
its 2.4-2.8 s on the default simulated panel (1,000 x 156, CR and deployment velocity).

The default of :func:`cts.analyses.adoption.estimate_adoption_effect`. Measured by ``make
validate`` (``threats``: 200 teams, 150 panels per row, outcome CR velocity; coverage MC SE 1.8
points), ``auto`` against ``bias_corrected``, short run / long run:

- clean, 39 and 104 weeks: bias +1.5% / +0.0% and -0.1% / -0.3%, coverage 90-95%; the price is
  the short-run SD, 1.20x (39 weeks) and 1.23x (104) that of ``bias_corrected`` (long run
  1.02x, 1.03x), from the 10-15% of panels where the search adds a lag.
- AR(1) shocks of 0.3, 39 weeks: +0.6% / +0.6% (coverage 95% / 95%) vs -17.7% / +9.0% (39% /
  85%); 104 weeks: -1.6% / +0.9% vs -19.7% / +5.9%.
- feedback, 39 weeks: +0.8% / +3.7% (93% / 94%) vs +4.5% / +5.1% (89% / 89%).
- persistence spread 0.3 (persistence and long run), 39 weeks: +2.6% / +3.9% vs +14.9% /
  +13.3%; 104 weeks: +1.3% / +1.9% vs +15.2% / +14.4%. The persistence's coverage at 39 weeks
  is 87%: the panels where the homogeneity test misses keep the pooled fit.
- 13 and 26 weeks (not in the target): feedback at 13 weeks +8.4% / +12.6%; the spread is
  not tested below 30 weeks a team, so there ``auto`` keeps the pooled fit's +13-17%.

A fixed model is only right when the data happen to satisfy it; the price of checking is the
wider short-run interval, which is honest about what the data pin down.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from cts.analyses.counterfactual import Counterfactual, counterfactual
from cts.analyses.exogeneity import lead_placebo_fit
from cts.core.results import LEVEL, Result, TestStatistic
from cts.estimators.dynamic import DynamicPanelResult, dynamic_panel
from cts.estimators.heterogeneous import MIN_TEST_WEEKS
from cts.estimators.wald import wald_test
from cts.panel import PanelError, lag_term

__all__ = [
    "COUNTERFACTUAL_REPS",
    "EFFECT_HOMOGENEITY_ALPHA",
    "HOMOGENEITY_ALPHA",
    "HOMOGENEITY_TEAMS",
    "LAG_ALPHA",
    "MAX_LAGS",
    "SEARCH_ALPHA",
    "Specification",
    "choose_specification",
]

MAX_LAGS = 4
SEARCH_ALPHA = 0.05
#: Level of the Wald test of the next lag's coefficients.
LAG_ALPHA = 0.05
#: Teams the persistence homogeneity test runs on (drawn at random from larger panels).
HOMOGENEITY_TEAMS = 500
#: Level of the homogeneity test: strict, because its size runs above nominal at 39 weeks
#: (clean panels of 200 teams: 14% at 5% for CR velocity, from the O(1/T^2) biases the two
#: jackknives leave), a false switch costs precision (the team-specific long run has ~1.6x the
#: SD) and a spread of 0.3 is still found in every panel at this level.
HOMOGENEITY_ALPHA = 0.01
#: Family level of the effect-homogeneity step (step 4), split over the tests it runs.
EFFECT_HOMOGENEITY_ALPHA = 0.05
#: Team bootstrap draws of the counterfactual step 4 runs: enough for the SEs its tests use
#: (MC SE of an SE about 5%) and the cohort test's covariance; about 1 s of CPU on 1,000 teams
#: x 156 weeks.
COUNTERFACTUAL_REPS = 199


@dataclass(repr=False)
class Specification(Result):
    """The specification ``method="auto"`` chose, and the tests behind the choice.

    Attributes
    ----------
    method, lags, treatment_lags, predetermined, team_persistence
        What was fitted (arguments of :func:`cts.dynamic_panel`).
    tests
        ``(step, test)`` in the order run: the residual AR(2) test of each lag order tried,
        the Wald test of the next lag, the lead placebo, then the test of homogeneous
        persistence when it could run.
    reasons
        The choice in words, one line per step.
    headline
        The estimate the effect-homogeneity step headlines: ``"pooled"`` (also when the step
        did not run) or ``"counterfactual"``.
    """

    _metadata_fields = ("method", "lags", "treatment_lags")

    method: str
    lags: int
    treatment_lags: int
    predetermined: tuple[str, ...] = ()
    tests: list[tuple[str, TestStatistic]] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    team_persistence: bool = False
    headline: str = "pooled"

    @property
    def table(self) -> pd.DataFrame:
        """One row per test run: ``step, test, statistic, df, p_value, rejected``."""
        return pd.DataFrame(
            [
                {
                    "step": step,
                    "test": test.name,
                    "statistic": test.statistic,
                    "df": test.df,
                    "p_value": test.p_value,
                    "rejected": test.rejected,
                }
                for step, test in self.tests
            ]
        ).set_index("step")

    def summary(self) -> str:
        """The chosen specification and why."""
        chosen = f"{self.method}, {self.lags} lag(s) of the outcome, {self.treatment_lags} of usage"
        if self.predetermined:
            chosen += f", {', '.join(self.predetermined)} predetermined"
        if self.team_persistence:
            chosen += ", each team's own persistence"
        if self.headline == "counterfactual":
            chosen += "; headline: the counterfactual (imputation with dynamics)"
        return "\n".join(
            [f"Specification chosen by method='auto': {chosen}.", *(f"- {r}" for r in self.reasons)]
        )


def choose_specification(
    panel: pd.DataFrame,
    outcome: str,
    treatment: str,
    controls: Sequence[str],
    *,
    sample: pd.Series | None = None,
    inference: str = "cluster",
    level: float = LEVEL,
    max_lags: int = MAX_LAGS,
    time_effects_by: str | None = None,
) -> tuple[Specification, DynamicPanelResult | None]:
    """Choose lags and estimator from the residual AR(2) test, the next lag's Wald test, the
    lead placebo and the test of homogeneous persistence (see the module docstring).

    Parameters
    ----------
    panel, outcome, treatment, controls, sample
        As in :func:`cts.analyses.adoption.estimate_adoption_effect` (``sample``: the window).
    inference
        With resampling inference usage keeps no lags (``treatment_lags=0``) and the
        correction for predetermined usage is not an option (neither supports it).
    level
        Confidence level of the returned fit.
    max_lags
        Cap on the outcome lags.
    time_effects_by
        Column whose groups get their own week effects in every fit and test (``None``: one
        week effect for all teams).

    Returns
    -------
    specification : Specification
    model : DynamicPanelResult or None
        The chosen ``bias_corrected`` fit when it can be reused as is (clustered inference),
        else None.
    """
    fitter = _Fitter(
        panel, outcome, treatment, tuple(controls), sample, level, time_effects_by,
        distributed=inference == "cluster",
    )  # fmt: skip
    tests: list[tuple[str, TestStatistic]] = []
    reasons: list[str] = []
    model, placebo, placebo_lags = _search_lags(fitter, max_lags, tests, reasons)
    lags = model.lags
    if placebo is None:
        (placebo, _), placebo_lags = fitter.probe(lags), lags
    tests.append(("strict exogeneity", placebo))
    specification = Specification("bias_corrected", lags, model.treatment_lags, (), tests, reasons)
    if not placebo.rejected:
        reasons.append(
            f"lead placebo ({placebo_lags} outcome lags): no evidence that {treatment} responds "
            f"to past shocks (p = {placebo.p_value:.3f}); usage strictly exogenous"
        )
        if not fitter.distributed:
            reasons.append(
                f"persistence not tested for differences between teams: the team-specific "
                f"model has no {inference} inference"
            )
            return specification, None
        return specification, _persistence_step(specification, model, fitter.fit, panel, sample)
    if not fitter.distributed:
        reasons.append(
            f"lead placebo rejects strict exogeneity (p = {placebo.p_value:.3f}), but the "
            f"correction for predetermined usage has no {inference} inference: kept "
            "bias_corrected, which may be biased here"
        )
        return specification, None
    model = fitter.fit(lags, predetermined=(treatment,))
    reasons.append(
        f"lead placebo ({placebo_lags} outcome lags) rejects strict exogeneity (p = "
        f"{placebo.p_value:.3f}): {treatment} "
        "responds to past shocks, so bias_corrected with the analytical correction for "
        "predetermined usage (cts.estimators.weak_exogeneity); persistence not tested for "
        "differences between teams (the team-specific model has no such correction)"
    )
    specification.predetermined = (treatment,)
    return specification, model


@dataclass(frozen=True)
class _Fitter:
    """The fits :func:`choose_specification` compares: one panel, window and set of regressors,
    a varying number of outcome lags (usage and each control get one fewer when ``distributed``,
    i.e. with clustered inference, else none)."""

    panel: pd.DataFrame
    outcome: str
    treatment: str
    controls: tuple[str, ...]
    sample: pd.Series | None
    level: float
    time_effects_by: str | None
    distributed: bool

    @property
    def regressors(self) -> list[str]:
        """Usage, then the controls."""
        return [self.treatment, *self.controls]

    def treatment_lags(self, lags: int) -> int:
        """Lags of each regressor in a model with ``lags`` outcome lags."""
        return lags - 1 if self.distributed else 0

    def fit(
        self,
        lags: int,
        data: pd.DataFrame | None = None,
        rows: np.ndarray | None = None,
        **options: Any,
    ) -> DynamicPanelResult:
        """The model with ``lags`` outcome lags on the window (or on ``data`` and its ``rows``)."""
        return dynamic_panel(
            self.panel if data is None else data,
            self.outcome,
            self.regressors,
            "team_id",
            "week",
            lags=lags,
            treatment_lags=self.treatment_lags(lags),
            sample=self.sample if rows is None else rows,
            level=self.level,
            time_effects_by=self.time_effects_by,
            **options,
        )

    def probe(self, lags: int) -> tuple[TestStatistic, DynamicPanelResult]:
        """The lead placebo in a model with ``lags`` outcome lags: one fit serves both it and
        the test of its longest lags (cheaper than fitting the two models apart)."""
        return lead_placebo_fit(
            self.panel,
            self.outcome,
            self.treatment,
            self.controls,
            sample=self.sample,
            lags=lags,
            treatment_lags=self.treatment_lags(lags),
            time_effects_by=self.time_effects_by,
        )


def _search_lags(
    fitter: _Fitter,
    max_lags: int,
    tests: list[tuple[str, TestStatistic]],
    reasons: list[str],
) -> tuple[DynamicPanelResult, TestStatistic | None, int]:
    """Step 1: add outcome lags until the residuals pass and the next lag adds nothing.

    Appends each test and reason to ``tests`` and ``reasons``. Returns the chosen fit, and the
    lead placebo with its number of outcome lags when the fit that tested the next lag
    carried it (``None, 1`` otherwise).
    """
    lags, model = 1, fitter.fit(1)
    while True:
        test = model.serial_correlation
        if test is None:
            reasons.append(f"{lags} lag(s): too few weeks per team to test the residuals")
            return model, None, 1
        test = replace(test, alpha=SEARCH_ALPHA)
        tests.append((f"residuals, {lags} lag(s)", test))
        if test.rejected:
            reasons.append(
                f"{lags} outcome lag(s): residuals serially correlated (AR(2) z = "
                f"{test.statistic:+.2f}, p = {test.p_value:.3f})"
                + ("; adding a lag" if lags < max_lags else f"; kept at the cap of {max_lags} lags")
            )
            if lags == max_lags:
                return model, None, 1
            lags, model = lags + 1, fitter.fit(lags + 1)
            continue
        clean = (
            f"{lags} outcome lag(s), {model.treatment_lags} usage lag(s): residuals show no "
            f"serial correlation (AR(2) z = {test.statistic:+.2f}, p = {test.p_value:.3f})"
        )
        if lags == max_lags:
            reasons.append(clean)
            return model, None, 1
        # Under the null that lag lags+1 adds nothing, the lead placebo is as valid in the
        # longer model, so the fit that tests the next lag also tests strict exogeneity.
        longer_placebo, longer = fitter.probe(lags + 1)
        next_treatment_lags = model.treatment_lags + 1 if fitter.distributed else 0
        added = _added_lag_test(
            longer, fitter.outcome, fitter.regressors, lags + 1, next_treatment_lags
        )
        if added is None:
            reasons.append(clean)
            return model, None, 1
        tests.append((f"lag {lags + 1}", added))
        if not added.rejected:
            reasons.append(
                f"{clean}, and lag {lags + 1} adds nothing (Wald p = {added.p_value:.3f})"
            )
            return model, longer_placebo, lags + 1
        reasons.append(
            f"{lags} outcome lag(s): residuals pass, but lag {lags + 1} is significant (Wald "
            f"chi2 = {added.statistic:.1f}, p = {added.p_value:.3f}); adding it"
        )
        lags, model = lags + 1, fitter.fit(lags + 1)


def _persistence_step(
    specification: Specification,
    model: DynamicPanelResult,
    fit: Callable[..., DynamicPanelResult],
    panel: pd.DataFrame,
    sample: pd.Series | None,
) -> DynamicPanelResult:
    """Step 3: keep the pooled ``model`` unless the persistence differs between teams.

    The homogeneity test needs the team-specific fit, about 2.5 times a pooled one; on panels
    of more than :data:`HOMOGENEITY_TEAMS` teams it runs on that many teams drawn at random
    (seed 0), which keeps its power against a real spread and its cost bounded.
    """
    fitted = np.ones(len(panel), bool) if sample is None else np.asarray(sample, bool)
    teams = pd.factorize(panel["team_id"])[0]
    if np.median(np.bincount(teams[fitted])) - specification.lags < MIN_TEST_WEEKS:
        specification.reasons.append(
            f"persistence not tested for differences between teams: fewer than "
            f"{MIN_TEST_WEEKS} weeks a team"
        )
        return model
    data, rows = None, None
    if teams.max() + 1 > HOMOGENEITY_TEAMS:
        drawn = np.random.default_rng(0).choice(teams.max() + 1, HOMOGENEITY_TEAMS, replace=False)
        kept = np.isin(teams, drawn)
        data, rows = panel.loc[kept], fitted[kept]  # the drawn teams only: a fraction of the cost
    try:
        team_model = fit(specification.lags, data, rows, team_persistence=True)
    except PanelError as error:
        specification.reasons.append(
            f"persistence not tested for differences between teams: {error}"
        )
        return model
    test = team_model.homogeneity
    if test is not None:
        test = replace(test, alpha=HOMOGENEITY_ALPHA)
    if test is None:
        specification.reasons.append(
            f"persistence not tested for differences between teams: fewer than "
            f"{MIN_TEST_WEEKS} weeks a team"
        )
        return model
    drawn_note = f" ({HOMOGENEITY_TEAMS} teams drawn at random)" if data is not None else ""
    specification.tests.append(("homogeneous persistence", test))
    if not test.rejected:
        specification.reasons.append(
            f"persistence: the pooled estimate matches the mean of the teams' own{drawn_note} "
            f"(p = {test.p_value:.3f}); kept the pooled model"
        )
        return model
    specification.team_persistence = True
    specification.reasons.append(
        f"persistence differs between teams: the pooled estimate is not the mean of the teams' "
        f"own{drawn_note} (chi2 = {test.statistic:.1f}, p = {test.p_value:.3f}), so each team "
        "gets its own lag coefficients and persistence is their mean "
        "(cts.estimators.heterogeneous)"
    )
    return team_model if data is None else fit(specification.lags, team_persistence=True)


def _added_lag_test(
    model: DynamicPanelResult,
    outcome: str,
    regressors: Sequence[str],
    lags: int,
    treatment_lags: int,
) -> TestStatistic | None:
    """Wald test that the longest lags in ``model`` (lag ``lags`` of the outcome, and lag
    ``treatment_lags`` of each regressor when it has distributed lags) are zero, at
    :data:`LAG_ALPHA`."""
    terms = [lag_term(outcome, lags)]
    if treatment_lags:
        terms += [lag_term(c, treatment_lags) for c in regressors]
    test, _ = wald_test(
        model.table.loc[terms, "estimate"],
        model.vcov.loc[terms, terms],
        name=f"Wald test of lag {lags}",
        null=f"lag {lags} of {outcome} (and lag {treatment_lags} of each regressor) adds nothing",
        n_clusters=model.n_entities,
    )
    return None if test is None else replace(test, alpha=LAG_ALPHA)


def effect_homogeneity_step(
    specification: Specification,
    pooled: Result,
    panel: pd.DataFrame,
    outcome: str,
    treatment: str,
    controls: Sequence[str],
    *,
    start: str | pd.Timestamp | None = None,
    end: str | pd.Timestamp | None = None,
    inference: str = "cluster",
    time_effects_by: str | None = None,
    level: float = LEVEL,
    seed: int = 0,
    reps: int = COUNTERFACTUAL_REPS,
) -> Counterfactual | None:
    """Step 4 (module docstring): run the counterfactual beside the ``pooled`` fit (anything
    with a ``table`` of ``short_run`` and ``long_run``), test that one effect fits every team,
    and set ``specification.headline``. Records the tests and the reasons on
    ``specification``; returns the counterfactual, or None when the step did not run."""
    skip = None
    if specification.predetermined:
        skip = (
            "usage responds to past shocks, which biases a counterfactual fitted on the weeks "
            "before adoption"
        )
    elif specification.lags > 1:
        # The extra lags absorb persistent shocks (step 1); the counterfactual's short run
        # filters usage by the outcome's lag sum, which then carries the shocks' persistence
        # into the effect's (AR(1) shocks of 0.3, 400 x 39: its short run 0.20 on a truth of
        # 0.30), so neither its short run nor the comparison would mean what they say.
        skip = (
            f"the residuals needed {specification.lags} outcome lags (persistent shocks), "
            "which the counterfactual would read as the effect's persistence"
        )
    elif inference != "cluster":
        skip = f"with {inference} inference (few teams) the comparison has no reliable size"
    result = None
    if skip is None:
        try:
            result = counterfactual(
                panel, outcome, treatment=treatment, controls=controls,
                time_effects_by=time_effects_by, start=start, end=end,
                reps=reps, seed=seed, level=level,
            )  # fmt: skip
        except (ValueError, np.linalg.LinAlgError) as error:  # PanelError included
            skip = f"the counterfactual cannot run on this panel ({error})"
    if result is None:
        specification.reasons.append(f"effects not tested for differences between teams: {skip}")
        return None
    tests = [("cohort homogeneity", result.cohort_homogeneity)] if result.cohort_homogeneity else []
    if not specification.team_persistence:
        # With each team's own persistence the pooled fit targets the mean of the teams' long
        # runs, which a counterfactual with one persistence does not: only the cohort test asks.
        tests += [
            (f"pooled vs counterfactual {term}", test)
            for term, test in result.compare_pooled(pooled).items()
        ]
    if not tests:
        specification.reasons.append(
            "effects not tested for differences between teams: fewer than two adoption cohorts "
            "of 5+ teams, and the team-specific persistence has no pooled comparison"
        )
        return result
    alpha = EFFECT_HOMOGENEITY_ALPHA / len(tests)
    tests = [(step, replace(test, alpha=alpha)) for step, test in tests]
    result.pooled_comparison = {
        term: replace(test, alpha=alpha) for term, test in result.pooled_comparison.items()
    }
    specification.tests += tests
    rejected = [step for step, test in tests if test.rejected]
    p_values = ", ".join(f"{step} p = {test.p_value:.3f}" for step, test in tests)
    if not rejected:
        specification.reasons.append(
            f"effects: one effect fits every team ({p_values}; each at {alpha:.3g}), so the "
            "pooled model is the headline (more precise); the counterfactual is beside it"
        )
        return result
    specification.headline = "counterfactual"
    specification.reasons.append(
        f"effects differ between teams, cohorts or weeks of use ({', '.join(rejected)} "
        f"rejected; {p_values}; each at {alpha:.3g}), which biases the pooled model: the "
        "counterfactual (imputation with dynamics, each team's own effect) is the headline, "
        "the pooled model beside it"
    )
    return result
