"""Intervals that survive ``method="auto"``'s search: the union over the models it tested against.

``auto`` (:mod:`cts.analyses.specification`) picks lags, the correction for predetermined usage
and team-specific persistence by pre-tests. Where a pre-test has middling power (a threat of
the size it can just detect: the local-alternative cells ``ar1_0.15``, ``feedback_0.3`` and
``persistence_spread_0.1`` of :data:`cts.validation.monte_carlo.THREATS`) the estimate is a
mixture of the models' estimates and the chosen model's interval, taken as if the model had
been fixed, under-covers (Leeb & Poetscher 2005). ``auto`` itself widens its SEs by the
variance the pre-tests' verdicts add (:mod:`cts.analyses.post_search`, calibrated on those
cells at 39 weeks, over-covering the short run at 104); this module gives the conservative
alternative, which holds whatever the local parameters, at a price in width.

Two ways out, and why this module takes the second:

- *Bootstrap the whole search* (re-run ``auto`` on team-resampled panels). The distribution of
  a post-selection estimator depends on the local parameters (how far the truth is from each
  pre-test's null, in SEs), which no estimator recovers uniformly: they are ``O(1)`` apart from
  their estimates, so a bootstrap that resamples around the estimate simulates the wrong
  selection probabilities exactly where it matters (Leeb & Poetscher 2005, 2006: the
  conditional distribution of a post-model-selection estimator cannot be estimated uniformly
  consistently, the bootstrap included). It would also cost ``B`` full searches per estimate
  (about 0.2-0.3 CPU seconds each on 200 teams x 39 weeks: 4 minutes at ``B = 999``, 15
  CPU-hours for one Monte Carlo cell of 220 panels), which no Monte Carlo of it could afford.
- *Widen for the search*: each of ``auto``'s pre-tests compares the chosen model with a model
  that nests it and stays right when the pre-test's null is wrong (one more lag of the outcome
  and of each regressor; usage predetermined, with the analytical correction; each team's own
  persistence). The union of the chosen interval with those models' intervals covers whenever
  the nesting models' own intervals do, whatever the pre-tests decided, so it holds uniformly
  over the local alternatives (the union-of-candidates argument behind conservative
  post-selection intervals; Berk et al. 2013 make it simultaneous over every model, which is
  wider still). The price is width where the tests were clear: the nesting models are less
  precise.

:func:`search_intervals` returns both intervals side by side; what each covers is measured on
the local-alternative cells (``docs/analyses/adoption.md``).

References
----------
Leeb & Poetscher (2005), "Model selection and inference: facts and fiction", Econometric Theory
21(1); Leeb & Poetscher (2006), Annals of Statistics 34(5); Berk, Brown, Buja, Zhang & Zhao
(2013), "Valid post-selection inference", Annals of Statistics 41(2).
"""

from __future__ import annotations

import pandas as pd

from cts.analyses.adoption import AdoptionEffect
from cts.analyses.post_search import TERMS, effect_terms
from cts.analyses.specification import MAX_LAGS, Specification
from cts.estimators.dynamic import dynamic_panel
from cts.estimators.heterogeneous import MIN_TEST_WEEKS
from cts.panel import PanelError, window_mask

__all__ = ["search_intervals"]


def search_intervals(
    effect: AdoptionEffect,
    panel: pd.DataFrame,
    *,
    start: str | pd.Timestamp | None = None,
    end: str | pd.Timestamp | None = None,
) -> pd.DataFrame:
    """The effect's intervals widened for ``auto``'s search (module docstring).

    Parameters
    ----------
    effect
        ``estimate_adoption_effect(panel, method="auto")`` with clustered inference.
    panel, start, end
        The panel and window ``effect`` was estimated on.

    Returns
    -------
    pandas.DataFrame
        Indexed by term (``short_run``, ``persistence``, ``long_run``): ``auto``'s ``estimate,
        se, ci_low, ci_high``, then ``search_low, search_high`` (the union of its interval
        with those of the nesting models) and ``models`` (the nesting models fitted).
    """
    specification = effect.specification
    if specification is None:
        raise ValueError("search_intervals widens the intervals of method='auto' only")
    if effect.model.inference != "cluster":
        raise ValueError(
            "search_intervals needs clustered inference: the nesting models have no "
            f"{effect.model.inference} intervals"
        )
    table = effect.table.loc[list(TERMS), ["estimate", "se", "ci_low", "ci_high"]].copy()
    low, high = table["ci_low"].copy(), table["ci_high"].copy()
    fitted = []
    for name, options in _nesting_models(effect, specification).items():
        try:
            model = dynamic_panel(
                panel,
                effect.outcome,
                [effect.treatment, *effect.controls],
                "team_id",
                "week",
                method="bias_corrected",
                sample=window_mask(panel, start, end),
                level=effect.model.level,
                time_effects_by=effect.time_effects_by,
                **options,
            )
        except (PanelError, ValueError):  # a model the data cannot fit widens nothing
            continue
        terms = effect_terms(model, effect.outcome, effect.treatment)
        low = low.combine(terms["ci_low"], min)
        high = high.combine(terms["ci_high"], max)
        fitted.append(name)
    return table.assign(search_low=low, search_high=high, models=", ".join(fitted) or "none")


def _nesting_models(effect: AdoptionEffect, spec: Specification) -> dict[str, dict]:
    """The models that nest ``auto``'s choice ``spec``, one per pre-test, as ``dynamic_panel``
    options."""
    chosen = {
        "lags": spec.lags,
        "treatment_lags": spec.treatment_lags,
        "predetermined": spec.predetermined,
        "team_persistence": spec.team_persistence,
    }
    models = {}
    if spec.lags < MAX_LAGS:
        # with clustered inference auto gives usage and controls one lag fewer than the outcome
        models["one more lag"] = {**chosen, "lags": spec.lags + 1, "treatment_lags": spec.lags}
    if not spec.predetermined and not spec.team_persistence:
        models["usage predetermined"] = {**chosen, "predetermined": (effect.treatment,)}
    if not spec.team_persistence and not spec.predetermined:
        if effect.n_weeks - spec.lags >= MIN_TEST_WEEKS:
            models["team persistence"] = {**chosen, "team_persistence": True}
    return models
