"""The SE of ``method="auto"`` widened for its search: the variance its pre-tests' choices add.

``auto`` (:mod:`cts.analyses.specification`) decides three things by pre-tests: the number of
outcome lags (residual AR(2) test, Wald test of the next lag), whether usage is predetermined
(lead placebo) and whether each team gets its own persistence (homogeneity test). The chosen
model's SE treats that choice as fixed. Where a pre-test has middling power its decision could
have gone the other way in a replicate of the data, and the estimate is then a mixture of two
models' estimates (Leeb & Poetscher 2005): its variance has a between-models part the chosen
model's SE leaves out.

For each decision this module fits the model the other verdict would have chosen (the
chosen one with one lag more or fewer, usage predetermined or not, one persistence or each
team's own) and adds ``q (1 - q) max(0, (theta_alt - theta)^2 - |se_alt^2 - se^2|)`` to the
chosen model's variance, ``q`` the probability that a replicate of the test reaches the other
verdict, read off its p-value: ``pi = Phi(Phi^-1(1 - p) - Phi^-1(1 - alpha))``, the rejection
probability of a test whose statistic's noncentrality is the observed one (normal
approximation; ``pi = 0.5`` at ``p = alpha``), and ``q = pi`` after an acceptance, ``1 - pi``
after a rejection. ``q (1 - q)`` is the variance of the choice as a coin with that probability:
largest for a middling p-value, small when the test is clear either way, so a clear decision
costs almost no width. It is the between-models term of a model-averaged variance (Buckland,
Burnham & Augustin 1997) with weights from the pre-tests instead of information criteria,
around the chosen estimate.

The squared gap. In Leeb & Poetscher's framing the post-search estimate is
``theta_b 1{b chosen} + theta_a 1{a chosen}``; with the choice a coin of probability ``q`` its
variance is about ``V_b + q (1 - q) Delta^2``, ``Delta`` the difference between the two
models' limits (under local alternatives of order ``n^-1/2``, the same order as their SEs: the
regime where a pre-test has middling power). The observed squared gap estimates
``Delta^2 + Var(theta_a - theta_b)``: it carries both models' sampling noise, which a long
panel's middling ``q`` turned into width where the chosen model was calibrated (raw gap, 104
weeks: the spread cell's short run covered 99.1% at SD / SE 0.89). The pairs the search
compares are nested, one model efficient where both are consistent (fewer lags, usage strictly
exogenous, one persistence), so ``Var(theta_a - theta_b) = |V_a - V_b|`` (Hausman 1978);
subtracting it makes the squared gap unbiased for ``Delta^2``, and the floor at 0 keeps each
decision's term a variance (:func:`squared_gap`). On the Monte Carlo cells below, for the lag
and persistence decisions whose ``Delta`` is about 0 (one more lag, say), the mean of
``|V_a - V_b|`` is 0.8-1.4 times the gap's variance across panels for the short and long run
(0.17-1.69 at the extremes; 0.5-2.3 for persistence). For the usage decision it overstates it
(the two estimates differ by under 0.2 of an SE, the SEs by more), so that decision adds about
nothing, as it did with the raw gap (at most 3% of the chosen variance on average). The floor
still keeps about half of the noise of a decision with ``Delta = 0``
(``E max(0, chi2_1 - 1) = 0.48``), and no estimate of ``Delta`` or of ``q`` is uniformly
consistent (Leeb & Poetscher 2005, 2006): the widening is
calibrated on these cells, not guaranteed.

Why not the alternatives (measured on the local-alternative cells of
:data:`cts.validation.monte_carlo.THREATS`, 200 teams x 39 weeks, 220 panels each, in
``docs/analyses/adoption.md``): the chosen and the nesting model's SEs are each calibrated
there (SD / SE 0.92-1.04 for each cell's true model, fitted on every panel), so the chosen
model's SE is not too small, the search spreads the estimate; the larger of the chosen and the
other model's SE, for middling p-values only, over-covers where the other model is much less
precise (the short run in the persistence-spread cell: 98% at 1.36 times ``auto``'s width);
the union with each nesting model (:func:`cts.search_intervals`) over-covers more (1.2-2 times
the width); a team bootstrap of the whole search costs ``B`` searches per estimate (0.2-0.3
CPU seconds each at 200 x 39: 15 CPU-hours a Monte Carlo cell at ``B = 999``) and, resampling
around the estimate, draws the verdicts with probabilities centred on the observed statistics,
as ``q`` is; this computes the between-models part in closed form from one fit per decision
(it leaves out the correlation between a verdict and the gap, which the cells bound: see the
docs).

Measured (``docs/analyses/adoption.md``: 220 panels per cell at 39 and 104 weeks, clean,
spread 0.1, feedback 0.3, AR(1) 0.15; Monte Carlo SE 1.5 points of coverage, about 0.05 of SD /
SE): every row within 0.7 points of 93-97% coverage (92.3-97.7%) and SD / SE 0.93-1.13, at
1.01-1.12 times the chosen model's width; the raw squared gap reached 99.1% and SD / SE 0.89.
Left over (each within half a Monte Carlo SE of the band): at 104 weeks the short run covers
97.7% in the spread and AR(1) cells; the spread cell's persistence 92.3% (SD / SE 1.12), where
the pooled model, accepted by the homogeneity test at 1%, is biased by 0.8 of its SE; and on
clean panels the short run's SD / SE is 1.13 (coverage 94.5%). Other variants, on the same
panels: the full mixture variance (adding ``q (V_a - V_b)``) over-covers the spread cell (99.1%
at 39 weeks); subtracting ``V_a + V_b`` (independent models) under-covers (clean short run
91.8%); the unfloored difference, floored only in total, is within 0.5 points of this one
everywhere.

References
----------
Leeb & Poetscher (2005), "Model selection and inference: facts and fiction", Econometric Theory
21(1); Leeb & Poetscher (2006), "Can one estimate the conditional distribution of post-model-
selection estimators?", Annals of Statistics 34(5); Hausman (1978), "Specification tests in
econometrics", Econometrica 46(6); Buckland, Burnham & Augustin (1997), "Model selection: an
integral part of inference", Biometrics 53(2); Efron (2014), "Estimation and accuracy after
model selection", JASA 109(507).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import norm

from cts.analyses.specification import MAX_LAGS, Specification
from cts.core.results import TestStatistic
from cts.estimators.dynamic import DynamicPanelResult, dynamic_panel

__all__ = [
    "TERMS",
    "SearchWidening",
    "effect_terms",
    "other_verdict",
    "squared_gap",
    "widen_for_search",
]

#: The rows the search can move.
TERMS = ("short_run", "persistence", "long_run")


def other_verdict(test: TestStatistic) -> float:
    """Probability ``q`` that a replicate of ``test`` reaches the other verdict (module docstring).

    ``pi = Phi(Phi^-1(1 - p) - Phi^-1(1 - alpha))`` is the chance a replicate rejects; ``q`` is
    ``pi`` when ``test`` accepted, ``1 - pi`` when it rejected. NaN for a missing p-value.
    """
    p = float(np.clip(test.p_value, 1e-300, 1.0))
    if not np.isfinite(test.p_value):
        return float("nan")
    rejects = float(norm.cdf(norm.isf(p) - norm.isf(test.alpha)))
    return 1.0 - rejects if test.rejected else rejects


@dataclass(frozen=True)
class SearchWidening:
    """What :func:`widen_for_search` added.

    Attributes
    ----------
    table
        Indexed by term: ``se_fixed`` (the chosen model's, as if fixed) and ``se`` (widened).
    alternatives
        One row per decision whose other verdict was fitted: ``decision``, ``q``, then the
        alternative model's estimate of each term and its SE (``se_short_run``, ...).
    """

    table: pd.DataFrame
    alternatives: pd.DataFrame


def widen_for_search(
    table: pd.DataFrame,
    specification: Specification,
    panel: pd.DataFrame,
    outcome: str,
    regressors: Sequence[str],
    **options: Any,
) -> SearchWidening:
    """The chosen model's SEs of :data:`TERMS` widened for ``auto``'s search.

    Parameters
    ----------
    table
        The chosen model's rows (``estimate``, ``se``) indexed by term.
    specification
        What ``auto`` chose and the tests behind it.
    panel, outcome, regressors
        As fitted (usage first, then the controls).
    **options
        Further :func:`cts.dynamic_panel` options of the chosen fit (``sample``, ``level``,
        ``time_effects_by``); clustered inference only.

    Returns
    -------
    SearchWidening
    """
    chosen = table.loc[list(TERMS), ["estimate", "se"]].astype(float)
    extra = pd.Series(0.0, index=list(TERMS))
    rows = []
    for decision, q, alternative in _alternatives(specification, regressors[0]):
        if not 0.0 < q < 1.0:
            continue
        try:
            model = dynamic_panel(
                panel, outcome, list(regressors), "team_id", "week",
                serial_test=False, **alternative, **options,
            )  # fmt: skip
        except (ValueError, np.linalg.LinAlgError):  # PanelError included: nothing to add
            continue
        theirs = effect_terms(model, outcome, regressors[0])[["estimate", "se"]].astype(float)
        extra += q * (1 - q) * squared_gap(theirs, chosen)
        rows.append(
            {
                "decision": decision,
                "q": q,
                **theirs["estimate"].to_dict(),
                **theirs["se"].add_prefix("se_").to_dict(),
            }
        )
    se = np.sqrt(chosen["se"] ** 2 + extra)
    columns = ["decision", "q", *TERMS, *(f"se_{term}" for term in TERMS)]
    return SearchWidening(
        pd.DataFrame({"se_fixed": chosen["se"], "se": se}), pd.DataFrame(rows, columns=columns)
    )


def squared_gap(theirs: pd.DataFrame, chosen: pd.DataFrame) -> pd.Series:
    """``max(0, (theta_alt - theta)^2 - |se_alt^2 - se^2|)`` per term: the squared gap between
    two models' estimates less its sampling variance (module docstring).

    ``|se_alt^2 - se^2|`` is the variance of the gap when one of the two models is efficient
    where both are consistent (Hausman 1978): the nested pairs the search compares. Floored at
    0, an estimate of the squared difference of the models' limits. A missing gap adds
    nothing; a missing SE leaves the gap whole.

    Parameters
    ----------
    theirs, chosen
        ``estimate`` and ``se`` by term, the other verdict's model's and the chosen one's.

    Returns
    -------
    pandas.Series
    """
    gap = (theirs["estimate"] - chosen["estimate"]).fillna(0.0)
    noise = (theirs["se"] ** 2 - chosen["se"] ** 2).abs().fillna(0.0)
    return (gap**2 - noise).clip(lower=0.0)


def _alternatives(spec: Specification, treatment: str) -> list[tuple[str, float, dict]]:
    """``(decision, q, dynamic_panel options)`` of the other verdict of each of ``spec``'s
    decisions: the lag order (one fewer, one more), usage predetermined, team persistence."""
    tests = dict(spec.tests)
    chosen = {
        "lags": spec.lags,
        "treatment_lags": spec.treatment_lags,
        "predetermined": spec.predetermined,
        "team_persistence": spec.team_persistence,
    }
    distributed = spec.treatment_lags == spec.lags - 1
    out = []
    lags = spec.lags
    # The lag reached by a rejection at lags - 1 (the next lag's Wald test, else the residuals').
    down = tests.get(f"lag {lags}") or tests.get(f"residuals, {lags - 1} lag(s)")
    if lags > 1 and down is not None and down.rejected:
        fewer = {**chosen, "lags": lags - 1, "treatment_lags": lags - 2 if distributed else 0}
        out.append((f"{lags - 1} lag(s)", other_verdict(down), fewer))
    # The search stopped at lags when its residuals and the next lag's test both passed.
    stop = [tests[k] for k in (f"residuals, {lags} lag(s)", f"lag {lags + 1}") if k in tests]
    if lags < MAX_LAGS and stop and not any(t.rejected for t in stop):
        kept = float(np.prod([1 - other_verdict(t) for t in stop]))
        more = {**chosen, "lags": lags + 1, "treatment_lags": lags if distributed else 0}
        out.append((f"{lags + 1} lag(s)", 1 - kept, more))
    placebo = tests.get("strict exogeneity")
    if placebo is not None and not spec.team_persistence:
        flipped = () if spec.predetermined else (treatment,)
        name = "usage predetermined" if flipped else "usage strictly exogenous"
        out.append((name, other_verdict(placebo), {**chosen, "predetermined": flipped}))
    homogeneity = tests.get("homogeneous persistence")
    if homogeneity is not None and not spec.predetermined:
        flip = not spec.team_persistence
        name = "each team's own persistence" if flip else "one persistence"
        out.append((name, other_verdict(homogeneity), {**chosen, "team_persistence": flip}))
    return out


def effect_terms(model: DynamicPanelResult, outcome: str, treatment: str) -> pd.DataFrame:
    """``short_run``, ``persistence`` (the sum of the outcome's lags) and ``long_run`` rows of a
    fit's table."""
    table = model.table
    persistence = (
        table.loc["persistence"]
        if "persistence" in table.index
        else model.sum_of(model.lag_terms, "persistence")
        if model.lags > 1
        else table.loc[f"L1.{outcome}"]
    )
    rows = [table.loc[treatment], persistence, table.loc[f"long_run.{treatment}"]]
    return pd.DataFrame(rows, index=list(TERMS))
