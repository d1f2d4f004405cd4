"""The analyst's entry point: the effect of AI-assistant adoption on a team-week panel."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

import numpy as np
import pandas as pd
from scipy.stats import norm

from cts.analyses.counterfactual import Counterfactual
from cts.analyses.identification import (
    ADOPTION_EFFECT,
    MIN_ADOPTING_TEAMS,
    MIN_TEAMS,
    Identification,
    identification,
    week_effects_by,
)
from cts.analyses.post_search import SearchWidening, widen_for_search
from cts.analyses.specification import (
    Specification,
    choose_specification,
    effect_homogeneity_step,
)
from cts.core.results import ESTIMATE_COLUMNS, LEVEL, Result
from cts.estimators.design import adoption_timing
from cts.estimators.dynamic import METHODS, DynamicPanelResult, Inference, dynamic_panel
from cts.estimators.inference import INFERENCE
from cts.panel import (
    PanelError,
    PanelWarning,
    default_controls,
    require_columns,
    varying_columns,
    window_mask,
)

__all__ = ["AdoptionEffect", "compare_inference", "compare_methods", "estimate_adoption_effect"]

_INFERENCES: tuple[Inference, ...] = get_args(Inference)  # INFERENCE's names, as their type


@dataclass(repr=False)
class AdoptionEffect(Result):
    """The effect of AI usage on a team outcome, from a dynamic two-way FE model.

    Attributes
    ----------
    table
        Indexed by term: ``short_run`` (g, the effect of going from no builder to every builder
        using the assistant, in the outcome's units, the same week), ``persistence`` (b),
        ``long_run`` (g / (1 - b), once the outcome has settled), then each control. Columns
        ``estimate, se, ci_low, ci_high, p_value`` (``model.level`` intervals, 95% by default).
        With more than one lag, ``persistence`` is the sum of the outcome's lags. With
        ``method="auto"`` and the effect-homogeneity step run (``specification.headline``),
        two more rows, the counterfactual's whatever the headline: ``att`` (the average effect
        on the treated at observed usage, per team-week of use) and ``total_extra_<units>``;
        when the headline is the counterfactual, ``short_run``, ``persistence`` and
        ``long_run`` are its own (each team's effect at full usage, averaged over the teams
        that use the assistant) and the control rows stay the pooled model's.
    alternative
        The estimate not headlined, rows ``short_run, persistence, long_run``: the
        counterfactual's when the pooled model is the headline, the pooled model's when the
        counterfactual is (None when the step did not run).
    counterfactual
        The :class:`cts.analyses.counterfactual.Counterfactual` the step ran, with its paths
        and profiles (None when it did not run).
    search
        With ``method="auto"``, clustered inference and the pooled headline: the SEs of
        ``short_run``, ``persistence`` and ``long_run`` as if the chosen model had been fixed
        (``se_fixed``) and widened for the search (``se``, the table's), and the models the
        pre-tests' other verdicts would have chosen (:mod:`cts.analyses.post_search`).
    method, outcome, treatment, controls, n_obs, n_teams, n_weeks
        What was estimated, on how much data.
    baseline
        Adopters' mean outcome before their first week of use (for :meth:`relative`).
    model
        The underlying :class:`cts.DynamicPanelResult`.
    design
        The design checks (:func:`cts.identification`) the estimate passed.
    caveats
        Plain sentences the estimate must be read with (printed by :meth:`summary`).
    inference_reason
        Why ``inference="auto"`` chose what it chose (empty when ``inference`` was given).
    specification
        With ``method="auto"``: the chosen specification and every diagnostic behind it.
    time_effects_by, week_effects
        The column whose groups had their own week effects (``None``: one for all teams), and
        the sentence :meth:`summary` prints about it.
    """

    _metadata_fields = (
        "outcome",
        "treatment",
        "method",
        "inference",
        "n_obs",
        "n_teams",
        "n_weeks",
    )

    table: pd.DataFrame
    method: str
    outcome: str
    treatment: str
    controls: tuple[str, ...]
    n_obs: int
    n_teams: int
    n_weeks: int
    baseline: float
    model: DynamicPanelResult
    design: Identification | None = None
    caveats: list[str] = field(default_factory=list)
    inference_reason: str = ""
    specification: Specification | None = None
    time_effects_by: str | None = None
    week_effects: str = ""
    alternative: pd.DataFrame | None = None
    counterfactual: Counterfactual | None = None
    search: SearchWidening | None = None

    @property
    def headline(self) -> str:
        """``"pooled"`` or ``"counterfactual"``: which estimate the table's effect rows are."""
        return "pooled" if self.specification is None else self.specification.headline

    def relative(self) -> pd.DataFrame:
        """``short_run`` and ``long_run`` as percent of the adopters' pre-adoption mean outcome."""
        effects = self.table.loc[["short_run", "long_run"], ["estimate", "ci_low", "ci_high"]]
        return (100 * effects / self.baseline).add_suffix("_pct")

    def _inference_note(self) -> str:
        test = self.model.resampling
        reason = f" ({self.inference_reason})" if self.inference_reason else ""
        if test is None:
            return reason
        return (
            f"; p-values and intervals of the effect from a {test.method} test, {test.reps:,} "
            f"draws{reason}"
        )

    @property
    def inference(self) -> str:
        """How the effect's p-values and intervals were obtained.

        See :mod:`cts.estimators.inference`.
        """
        return self.model.inference

    def summary(self) -> str:
        """Plain-language summary with the table."""
        short, long = self.table.loc["short_run"], self.table.loc["long_run"]
        relative = self.relative()
        level = f"{self.model.level:.0%} CI"
        chosen = [] if self.specification is None else ["", self.specification.summary()]
        if self.alternative is not None:
            other = "pooled model" if self.headline == "counterfactual" else "counterfactual"
            # its own names: the headline sentence below reads the table's short and long run
            their_short, their_long = (self.alternative.loc[t] for t in ("short_run", "long_run"))
            chosen.append(
                f"Beside it, the {other}: short run {their_short['estimate']:+.3f} (SE "
                f"{their_short['se']:.3f}), long run {their_long['estimate']:+.3f} (SE "
                f"{their_long['se']:.3f})."
            )
        source = "counterfactual" if self.headline == "counterfactual" else self.method
        return "\n".join(
            [
                f"Effect of {self.treatment} on {self.outcome} ({source}; {self.n_obs:,} "
                f"team-weeks, {self.n_teams:,} teams, {self.n_weeks} weeks; SEs clustered by "
                f"team{self._inference_note()})",
                *([f"Fixed effects: team, and {self.week_effects}."] if self.week_effects else []),
                f"Going from no builder to every builder using the assistant changes "
                f"{self.outcome} by {short['estimate']:+.3f} the same week "
                f"({level} {short['ci_low']:+.3f} to {short['ci_high']:+.3f}) and by "
                f"{long['estimate']:+.3f} once it settles ({level} {long['ci_low']:+.3f} to "
                f"{long['ci_high']:+.3f}), i.e. {relative['estimate_pct'].loc['long_run']:+.1f}% "
                f"of adopters' pre-adoption mean ({self.baseline:.3f}).",
                "",
                *(f"Caveat: {caveat}." for caveat in self.caveats),
                "",
                self.table.round(4).to_string(),
                *chosen,
            ]
        )


def estimate_adoption_effect(
    panel: pd.DataFrame,
    outcome: str = "cr_velocity",
    treatment: str = "ai_usage_rate",
    controls: Sequence[str] | None = None,
    method: str = "auto",
    start: str | pd.Timestamp | None = None,
    end: str | pd.Timestamp | None = None,
    inference: str = "auto",
    reps: int = 999,
    seed: int = 0,
    level: float = LEVEL,
    time_effects_by: str | None = "auto",
    serial_test: bool = True,
) -> AdoptionEffect:
    """Estimate the effect of AI-assistant usage on a team outcome.

    Fits ``y_it = a_i + l_t + b y_i,t-1 + g usage_it + c' controls_it + e_it`` with team and week
    fixed effects and team-clustered errors (:func:`cts.dynamic_panel`).

    Parameters
    ----------
    panel
        A panel from :func:`cts.load_panel`.
    outcome
        ``cr_velocity``, ``deploy_velocity`` or any numeric column.
    treatment
        Share of builders using the assistant (default ``ai_usage_rate``).
    controls
        Time-varying controls; check they are not themselves moved by usage
        (:func:`cts.exogeneity_checks`). Default (None): the outcome's own
        (:func:`cts.panel.default_controls`): rollback rate and interventions per deployment,
        except for ``deploy_velocity``, which gets none, since those are ratios over its own
        numerator (``docs/estimands.md``). A control that never varies (e.g. interventions a
        git source cannot see) is left out with a warning.
    method
        ``"auto"`` (default) chooses the lags and the estimator from the residual
        serial-correlation test, the test of the next lag and the lead placebo
        (:mod:`cts.analyses.specification`) and records every test in ``.specification``: it
        stays unbiased when shocks persist or usage responds to them, where a fixed model does
        not (figures in :mod:`cts.analyses.specification`). An explicit method does exactly
        what it says: ``"bias_corrected"`` (one lag, usage strictly exogenous), ``"fe"`` (naive,
        for comparison) or ``"gmm"`` (Arellano–Bond, a cross-check); see
        :func:`cts.dynamic_panel`.
    start, end
        Optional window of weeks (inclusive). The lag of the first week comes from the week
        before it when observed.
    inference
        How to test the effect. ``"auto"`` (default): ``"wild_bootstrap"`` with fewer than
        :data:`~cts.analyses.identification.MIN_TEAMS` (30) teams or fewer than
        :data:`~cts.analyses.identification.MIN_ADOPTING_TEAMS` (10) teams using the
        assistant, where clustered SEs over-reject (size table in the docs' adoption page),
        else ``"cluster"``.
        ``"cluster"``: team-clustered SEs, normal intervals; fine with many teams.
        ``"wild_bootstrap"`` (restricted wild cluster bootstrap) or ``"randomization"``
        (permutes usage paths across teams), see :mod:`cts.estimators.inference`. They set the
        p-values and intervals of ``short_run`` and ``long_run``; not available for ``method="gmm"``
        (``"auto"`` then stays clustered, with a caveat).
    reps, seed
        Draws and seed of the bootstrap or randomization test.
    level
        Confidence level of the intervals (0.95 by default).
    time_effects_by
        ``"auto"`` (default): week effects by org when the panel has an ``org`` column (each
        org's hiring waves, freezes and launches are then not read as effects of a rollout that
        goes org by org), else one week effect for all teams; the result says which
        (``.time_effects_by``, the summary). A column name (constant within team): week effects
        by its groups. ``None``: one week effect for all teams. See
        :func:`cts.analyses.identification.week_effects_by`.
    serial_test
        Run the residual AR(2) test of a named ``method`` (:func:`cts.dynamic_panel`); ``False``
        skips it, for loops that read only the estimates (power simulations). ``"auto"``
        always runs it: its choice of lags rests on it.

    Returns
    -------
    AdoptionEffect

    Raises
    ------
    PanelError
        When the design cannot identify the effect (:func:`cts.identification`: e.g. every
        team adopts in the same week and no untreated team is observed after it), saying what
        the data would need.
    """
    controls = default_controls(outcome) if controls is None else tuple(controls)
    require_columns(panel, (outcome, treatment, *controls), "the panel")
    requested = _requested_inference(inference)
    sample = window_mask(panel, start, end)
    design = identification(panel.loc[sample], treatment=treatment, outcome=outcome)
    caveats = design.warn(ADOPTION_EFFECT, stacklevel=2)
    controls = varying_columns(panel.loc[sample], controls, "control")
    chosen, reason = _choose_inference(requested, method, design)
    time_effects_by, week_effects = week_effects_by(panel, time_effects_by)
    if week_effects.startswith("week effects common"):  # "auto" could not use the orgs
        caveats.append(week_effects)
    if reason and method == "gmm" and design.few_clusters:
        caveats.append(reason)
    specification, model = _fit(
        panel, outcome, treatment, controls, method, sample, chosen,
        reps=reps, seed=seed, level=level, time_effects_by=time_effects_by,
        serial_test=serial_test,
    )  # fmt: skip
    table = _effect_table(model, outcome, treatment, controls)
    effect = AdoptionEffect(
        table=table,
        method=method,
        outcome=outcome,
        treatment=treatment,
        controls=controls,
        n_obs=model.n_obs,
        n_teams=model.n_entities,
        n_weeks=model.n_periods,
        baseline=_pre_adoption_mean(panel.loc[sample], outcome, treatment),
        model=model,
        specification=specification,
        design=design,
        caveats=[*caveats, *(n for n in model.notes if "rest on few entities" in n)],
        inference_reason=reason,
        time_effects_by=time_effects_by,
        week_effects=week_effects,
    )
    if specification is not None:
        result = effect_homogeneity_step(
            specification, effect, panel, outcome, treatment, controls, start=start, end=end,
            inference=chosen, time_effects_by=time_effects_by, level=level, seed=seed,
        )  # fmt: skip
        if result is not None:
            _add_counterfactual(effect, result)
        if effect.headline == "pooled" and model.inference == "cluster":
            _widen_for_search(effect, panel, sample)
    return effect


def _widen_for_search(effect: AdoptionEffect, panel: pd.DataFrame, sample: pd.Series) -> None:
    """Widen the pooled headline's intervals for ``auto``'s search (in place; see
    :mod:`cts.analyses.post_search`) and say so in the specification's reasons."""
    specification, model = effect.specification, effect.model
    assert specification is not None  # only auto widens
    widening = widen_for_search(
        effect.table, specification, panel, effect.outcome,
        [effect.treatment, *effect.controls],
        sample=sample, level=model.level, time_effects_by=effect.time_effects_by,
    )  # fmt: skip
    terms = widening.table.index
    se = widening.table["se"].to_numpy(dtype=float)
    estimate = effect.table.loc[terms, "estimate"].to_numpy(dtype=float)
    z = norm.isf((1 - model.level) / 2)
    effect.table.loc[terms, "se"] = se
    effect.table.loc[terms, "ci_low"] = estimate - z * se
    effect.table.loc[terms, "ci_high"] = estimate + z * se
    effect.table.loc[terms, "p_value"] = 2 * norm.sf(np.abs(estimate / se))
    effect.search = widening
    if widening.alternatives.empty:
        return
    short = widening.table.loc["short_run"]
    ratio = float(short["se"]) / float(short["se_fixed"])
    verdicts = ", ".join(
        f"{row.decision} (q = {row.q:.2f})" for row in widening.alternatives.itertuples()
    )
    specification.reasons.append(
        f"intervals widened for the search: each pre-test's other verdict and the chance q a "
        f"replicate reaches it ({verdicts}); the short-run SE is {ratio:.2f} times the chosen "
        "model's"
    )


def _fit(
    panel: pd.DataFrame,
    outcome: str,
    treatment: str,
    controls: tuple[str, ...],
    method: str,
    sample: pd.Series,
    inference: Inference,
    *,
    reps: int,
    seed: int,
    level: float,
    time_effects_by: str | None,
    serial_test: bool,
) -> tuple[Specification | None, DynamicPanelResult]:
    """The specification ``method="auto"`` chose (None for a named method) and the fitted
    model, a rank failure explained as a :class:`PanelError` in words."""
    specification: Specification | None = None
    model: DynamicPanelResult | None = None
    options: dict[str, Any] = {"method": method}  # dynamic_panel's keywords, checked there
    try:
        if method == "auto":
            specification, model = choose_specification(
                panel,
                outcome,
                treatment,
                controls,
                sample=sample,
                inference=inference,
                level=level,
                time_effects_by=time_effects_by,
            )
            options = {
                "method": specification.method,
                "lags": specification.lags,
                "treatment_lags": specification.treatment_lags,
                "predetermined": specification.predetermined,
                "team_persistence": specification.team_persistence,
            }
        if model is None:
            model = dynamic_panel(
                panel,
                outcome,
                [treatment, *controls],
                "team_id",
                "week",
                sample=sample,
                inference=inference,
                reps=reps,
                seed=seed,
                level=level,
                time_effects_by=time_effects_by,
                serial_test=serial_test,
                **options,
            )
    except (ValueError, np.linalg.LinAlgError) as error:
        if isinstance(error, PanelError) or not _is_rank_failure(error):
            raise
        raise PanelError(
            f"the effect of `{treatment}` on `{outcome}` cannot be estimated on this panel: "
            "usage, the controls and the team and week effects are collinear (for example "
            "every adopter's usage moves in the same weeks, or a control is a function of "
            "usage). The data would need usage that changes at different times in different "
            "teams."
        ) from error
    return specification, model


def _effect_table(
    model: DynamicPanelResult, outcome: str, treatment: str, controls: tuple[str, ...]
) -> pd.DataFrame:
    """The model's table with the effect rows named ``short_run``, ``persistence`` (the sum of
    the outcome's lags) and ``long_run``, then the controls."""
    rename = {
        f"L1.{outcome}": "persistence",
        treatment: "short_run",
        f"long_run.{treatment}": "long_run",
    }
    table = model.table.rename(index=rename)
    if model.lags > 1:  # persistence is the sum of the lags
        table.loc["persistence"] = model.sum_of(model.lag_terms, "persistence")
    return table.loc[["short_run", "persistence", "long_run", *controls], ESTIMATE_COLUMNS]


def _add_counterfactual(effect: AdoptionEffect, result: Counterfactual) -> None:
    """Headline the estimate ``effect.specification`` chose, the other in ``alternative``, and
    add the counterfactual's ``att`` and total to the table (in place)."""
    main = ["short_run", "persistence", "long_run"]
    pooled, theirs = effect.table, result.table[ESTIMATE_COLUMNS]
    extra = theirs.drop(index=main)
    if effect.headline == "counterfactual":
        effect.table = pd.concat([theirs.loc[main], pooled.drop(index=main), extra])
        effect.alternative = pooled.loc[main]
    else:
        effect.table = pd.concat([pooled, extra])
        effect.alternative = theirs.loc[main]
    effect.table.index.name = pooled.index.name
    effect.counterfactual = result


def _requested_inference(inference: str) -> Inference | Literal["auto"]:
    """``inference`` checked against the names :func:`estimate_adoption_effect` accepts."""
    if inference == "auto":
        return "auto"
    for name in _INFERENCES:
        if name == inference:
            return name
    raise ValueError(f"inference must be one of auto, {', '.join(INFERENCE)}, not {inference!r}")


def _choose_inference(
    inference: Inference | Literal["auto"], method: str, design: Identification
) -> tuple[Inference, str]:
    """The inference ``"auto"`` stands for on this design, and why (empty when given)."""
    if inference != "auto":
        return inference, ""
    counts = f"{design.n_teams} teams, {design.n_users} using the assistant"
    if not design.few_clusters:
        return "cluster", f"enough for clustered intervals: {counts}"
    if method == "gmm":
        return "cluster", (
            f"{counts}: too few for clustered intervals, but the wild cluster bootstrap is not "
            "available for gmm, so its intervals are too narrow"
        )
    return "wild_bootstrap", (
        f"chosen automatically: {counts}, fewer than {MIN_TEAMS} teams or {MIN_ADOPTING_TEAMS} "
        "adopting teams, where clustered intervals are too narrow"
    )


def _is_rank_failure(error: Exception) -> bool:
    text = str(error).lower()
    return isinstance(error, np.linalg.LinAlgError) or any(
        word in text for word in ("collinear", "singular", "rank")
    )


def _pre_adoption_mean(panel: pd.DataFrame, outcome: str, treatment: str) -> float:
    """Mean outcome of ever-adopting teams in their weeks before first use."""
    first_use = adoption_timing(panel, treatment)["first_use"]
    # NaT for teams that never use it (and missing ids): no week is before it
    before = panel["week"].to_numpy() < first_use.reindex(panel["team_id"]).to_numpy()
    if not before.any():
        warnings.warn(
            f"no adopter has weeks before first use of `{treatment}` in the window, so effects "
            "relative to the pre-adoption mean are undefined (NaN)",
            PanelWarning,
            stacklevel=3,
        )
        return float("nan")
    return float(panel.loc[before, outcome].mean())


def compare_methods(
    panel: pd.DataFrame,
    outcome: str = "cr_velocity",
    methods: Sequence[str] = METHODS,
    **options: Any,
) -> tuple[pd.DataFrame, dict[str, str]]:
    """Estimate the adoption effect with each method, side by side.

    A method that cannot run on this panel (e.g. ``gmm`` with more instruments than teams) does
    not stop the others: its rows are NaN and its note says why.

    Parameters
    ----------
    panel, outcome
        As in :func:`estimate_adoption_effect`.
    methods
        Methods to run (default: all).
    **options
        Further arguments of :func:`estimate_adoption_effect` (``treatment``, ``controls``,
        ``start``, ``end``).

    Returns
    -------
    table : pandas.DataFrame
        Indexed by ``method`` and ``term`` (``short_run``, ``persistence``, ``long_run``) with
        ``estimate, se, ci_low, ci_high, p_value``.
    notes : dict
        Per method: its specification tests (``gmm``) or why it failed.
    """
    blocks, notes = {}, {}
    for method in methods:
        try:
            effect = estimate_adoption_effect(panel, outcome=outcome, method=method, **options)
        except ValueError as error:  # PanelError included: report it, run the other methods
            blocks[method] = pd.DataFrame(
                float("nan"),
                index=["short_run", "persistence", "long_run"],
                columns=ESTIMATE_COLUMNS,
            )
            notes[method] = f"not estimated: {error}"
            continue
        blocks[method] = effect.table.loc[["short_run", "persistence", "long_run"]]
        notes[method] = "; ".join(effect.model.notes) or f"{effect.n_obs:,} team-weeks"
    table = pd.concat(blocks, names=["method", "term"])
    return table, notes


def compare_inference(
    panel: pd.DataFrame,
    outcome: str = "cr_velocity",
    inferences: Sequence[str] = INFERENCE,
    *,
    reps: int = 999,
    seed: int = 0,
    **options: Any,
) -> pd.DataFrame:
    """The effect's p-values and 95% intervals under each inference method, side by side.

    The estimates are the same; with few teams (or few adopting teams) clustered SEs give
    intervals that are too narrow, and the resampling tests widen them
    (:mod:`cts.estimators.inference`).

    Parameters
    ----------
    panel, outcome
        As in :func:`estimate_adoption_effect`.
    inferences
        Inference methods to run (default: all).
    reps, seed
        Draws and seed of the resampling tests.
    **options
        Further arguments of :func:`estimate_adoption_effect` (``method``, ``controls``, ...).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``inference`` and ``term`` (``short_run``, ``long_run``) with
        ``estimate, se, ci_low, ci_high, p_value``.
    """
    blocks = {
        inference: estimate_adoption_effect(
            panel, outcome, inference=inference, reps=reps, seed=seed, **options
        ).table.loc[["short_run", "long_run"], ESTIMATE_COLUMNS]
        for inference in inferences
    }
    return pd.concat(blocks, names=["inference", "term"])
