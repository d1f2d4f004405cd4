"""``method="auto"``: the specification of the adoption model chosen by its diagnostics.

Two threats bias the default ``bias_corrected`` fit of ``y_it = a_i + l_t + b y_i,t-1 + g x_it``
(measured in issue 15 on 400 teams x 39 weeks): shocks that persist (AR(1) errors, rho 0.3:
short-run bias -13%, coverage 17%) and usage that responds to past shocks (feedback). The first
shows in the residuals, the second in the lead placebo; the choice follows them:

1. **Lags.** Fit ``bias_corrected`` with ``p`` lags of the outcome and ``q = p - 1`` of usage and
   each control, ``p = 1, 2, ...`` up to ``max_lags``, and stop at the first whose residuals
   show no AR(2) at ``SEARCH_ALPHA`` = 10%
   (:func:`cts.estimators.serial.residual_serial_correlation`).
   Liberal on purpose: a lag too many costs a little precision, a lag too few costs bias, and
   the test's power is moderate (AR(1) shocks of 0.3, 400 teams x 39 weeks: mean z about -3.5).
   An AR(k) shock in a model with one lag is the distributed-lag model ADL(1 + k, k), so
   raising ``p`` and ``q`` together absorbs it; short- and long-run effects keep their meaning.
2. **Strict exogeneity.** The lead placebo (:func:`cts.analyses.exogeneity.lead_placebo`) in the
   chosen model. If it rejects, usage responds to the outcome's shocks and the fit switches to
   difference GMM with usage predetermined (instrumented by its lagged levels), when it can run
   (more teams than instruments) and inference is clustered.

Each step's test is recorded on :class:`Specification`; an explicit ``method=`` skips all this.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import pandas as pd

from cts.analyses.exogeneity import lead_placebo
from cts.core.results import LEVEL, Result, TestStatistic
from cts.estimators.dynamic import DynamicPanelResult, dynamic_panel

__all__ = ["MAX_LAGS", "SEARCH_ALPHA", "Specification", "choose_specification"]

MAX_LAGS = 4
SEARCH_ALPHA = 0.10


@dataclass(repr=False)
class Specification(Result):
    """The specification ``method="auto"`` chose, and the tests behind the choice.

    Attributes
    ----------
    method, lags, treatment_lags, predetermined
        What was fitted (arguments of :func:`cts.estimators.dynamic.dynamic_panel`).
    tests
        ``(step, test)`` in the order run: the residual AR(2) test of each lag order tried,
        then the lead placebo.
    reasons
        The choice in words, one line per step.
    """

    _metadata_fields = ("method", "lags", "treatment_lags")

    method: str
    lags: int
    treatment_lags: int
    predetermined: tuple[str, ...] = ()
    tests: list[tuple[str, TestStatistic]] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)

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
) -> tuple[Specification, DynamicPanelResult | None]:
    """Choose lags and estimator from the residual AR(2) test and the lead placebo.

    Parameters
    ----------
    panel, outcome, treatment, controls, sample
        As in :func:`cts.analyses.adoption.estimate_adoption_effect` (``sample``: the window).
    inference
        With resampling inference usage keeps no lags (``treatment_lags=0``) and GMM is not
        an option (neither supports it).
    level
        Confidence level of the returned fit.
    max_lags
        Cap on the outcome lags.

    Returns
    -------
    specification : Specification
    model : DynamicPanelResult or None
        The chosen ``bias_corrected`` fit when it can be reused as is (clustered inference),
        else None.
    """
    regressors = [treatment, *controls]
    distributed = inference == "cluster"
    tests: list[tuple[str, TestStatistic]] = []
    reasons: list[str] = []
    for lags in range(1, max_lags + 1):
        treatment_lags = lags - 1 if distributed else 0
        model = dynamic_panel(
            panel,
            outcome,
            regressors,
            "team_id",
            "week",
            lags=lags,
            treatment_lags=treatment_lags,
            sample=sample,
            level=level,
        )
        test = model.serial_correlation
        test = None if test is None else replace(test, alpha=SEARCH_ALPHA)
        if test is None:
            reasons.append(f"{lags} lag(s): too few weeks per team to test the residuals")
            break
        tests.append((f"residuals, {lags} lag(s)", test))
        if not test.rejected:
            reasons.append(
                f"{lags} outcome lag(s), {treatment_lags} usage lag(s): residuals show no "
                f"serial correlation (AR(2) z = {test.statistic:+.2f}, p = {test.p_value:.3f})"
            )
            break
        reasons.append(
            f"{lags} outcome lag(s): residuals serially correlated (AR(2) z = "
            f"{test.statistic:+.2f}, p = {test.p_value:.3f})"
            + ("; adding a lag" if lags < max_lags else f"; kept at the cap of {max_lags} lags")
        )
    placebo = lead_placebo(
        panel, outcome, treatment, controls, sample=sample, lags=lags, treatment_lags=treatment_lags
    )
    tests.append(("strict exogeneity", placebo))
    specification = Specification("bias_corrected", lags, treatment_lags, (), tests, reasons)
    if not placebo.rejected:
        reasons.append(
            f"lead placebo: no evidence that {treatment} responds to past shocks "
            f"(p = {placebo.p_value:.3f}); bias_corrected (usage strictly exogenous)"
        )
        return specification, model if distributed else None
    if not distributed:
        reasons.append(
            f"lead placebo rejects strict exogeneity (p = {placebo.p_value:.3f}), but the "
            f"predetermined-robust GMM has no {inference} inference: kept bias_corrected, "
            "which may be biased here"
        )
        return specification, None
    try:  # GMM needs more teams than instruments
        model = dynamic_panel(
            panel,
            outcome,
            regressors,
            "team_id",
            "week",
            method="gmm",
            lags=lags,
            treatment_lags=treatment_lags,
            sample=sample,
            predetermined=(treatment,),
            level=level,
        )
    except ValueError as error:
        reasons.append(
            f"lead placebo rejects strict exogeneity (p = {placebo.p_value:.3f}); the "
            f"predetermined-robust GMM could not run ({error}): kept bias_corrected, which may "
            "be biased here"
        )
        return specification, None
    reasons.append(
        f"lead placebo rejects strict exogeneity (p = {placebo.p_value:.3f}): {treatment} "
        "responds to past shocks, so difference GMM with it predetermined (instrumented by "
        "its lagged levels)"
    )
    specification.method, specification.predetermined = "gmm", (treatment,)
    return specification, model
