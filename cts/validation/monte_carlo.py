"""Monte Carlo validation of the adoption-effect estimators on :func:`cts.simulate_org`."""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from cts.analyses.adoption import estimate_adoption_effect
from cts.analyses.counterfactual import counterfactual
from cts.analyses.exogeneity import exogeneity_checks
from cts.core.workers import run_jobs
from cts.estimators.dynamic import dynamic_panel
from cts.panel import DEFAULT_CONTROLS, PanelError, PanelWarning, load_panel
from cts.simulate.org import simulate_and_load, simulate_org

__all__ = [
    "CELL_METHODS",
    "COVERAGE_DESIGNS",
    "ESTIMATORS",
    "LOCAL_ALTERNATIVES",
    "VALIDATE_CPU_MINUTES",
    "bootstrap_coverage",
    "bootstrap_coverage_section",
    "control_bias",
    "control_bias_section",
    "exogeneity_size",
    "few_cluster_section",
    "few_cluster_size",
    "monte_carlo",
    "summarize_monte_carlo",
    "threat_section",
    "threats",
    "validation_report",
]

TERMS = ("short_run", "persistence", "long_run")
#: Terms scored when a method's table has them and the simulator has their truth: the headline
#: rows, then a counterfactual estimator's (the average effect on the treated at observed usage,
#: the total extra units; see the truth of :mod:`cts.simulate.org`).
SCORED_TERMS = (*TERMS, "att", "extra_units")
OUTCOMES = ("cr_velocity", "deploy_velocity")
# Coverage band of the bias_corrected target. With R replications the Monte Carlo SE of a true
# 95% coverage is sqrt(.95 * .05 / R): 1.5 points at R = 200, so a +-2 point band would be missed
# by chance in ~1 of 5 cells. At R = 1,000 it is 0.7 points and a chance miss is ~1 in 250.
TARGET_COVERAGE = (0.93, 0.97)
#: Panel lengths, teams and replications of the threat cells of ``make validate``. The reps
#: are set by the time budget, the whole run under 40 minutes on 2 cores, and the Monte Carlo
#: SE they buy: sqrt(.95 * .05 / 150) = 1.8 points on a 95% coverage, and about 0.7% on the
#: relative bias of the short-run effect (SD 0.026 on a truth of 0.3 at 200 x 39, over
#: sqrt(150)). A coverage of 92% or 98% is then within 2 MC SEs of 95%. The budget in CPU time
#: (one process, BLAS on one thread, 2-3 panels a cell; wall clock on the shared machine it was
#: measured on meant nothing): the threat cells 8.5 CPU seconds a replication over their 34
#: cell-lengths before ``auto`` widened its SEs for its search, 13.5 with it (``auto`` fits one
#: model per pre-test's other verdict: 1.8 times its CPU); at 150 replications 34 CPU minutes
#: of the run's ~63 (:data:`VALIDATE_CPU_MINUTES`).
THREAT_WEEKS = (13, 26, 39, 104)
THREAT_TEAMS = 200
THREAT_REPS = 150
#: The threats to the dynamic model as ``simulate_org`` overrides (``clean`` is the default design).
THREATS: dict[str, dict] = {
    "clean": {},
    "feedback": {"feedback": 1.0},
    "ar1_0.3": {"error_ar": 0.3},
    "persistence_spread_0.3": {"persistence_spread": 0.3},
    # Local alternatives, where auto's pre-tests have middling power and the coverage after
    # pre-testing is at its worst (Leeb & Poetscher 2005); run at 39 and 104 weeks only.
    "ar1_0.15": {"error_ar": 0.15},
    "feedback_0.3": {"feedback": 0.3},
    "persistence_spread_0.1": {"persistence_spread": 0.1},
    # Effects that differ by team (+-50% around the mean), the early adopters gaining more; the
    # truths are the averages over the treated team-weeks.
    "team_effects_early": {"effect_spread": 0.5, "early_adopters_gain": 1.0},
    # 4 orgs opening 10% of the window apart, each with its own persistent weekly shocks.
    "org_waves": {"orgs": 4},
    # Each team learns the assistant over its first 8 weeks of use.
    "learning_8wk": {"learning_weeks": 8},
}


def _adoption_table(panel: pd.DataFrame, outcome: str, **options: Any) -> pd.DataFrame:
    return estimate_adoption_effect(panel, outcome=outcome, **options).table


#: Each method a cell can score: ``(panel, outcome, **options) -> table`` indexed by term with
#: ``estimate, se, ci_low, ci_high``. A method not listed here is ``estimate_adoption_effect(
#: method=...)``. A new estimator joins with one entry (and its name in :data:`CELL_METHODS`).
ESTIMATORS: dict[str, Callable[..., pd.DataFrame]] = {
    # the default with one week effect for all teams, to show what week effects by org change
    "auto_common_weeks": lambda panel, outcome, **options: _adoption_table(
        panel, outcome, method="auto", time_effects_by=None, **options
    ),
    # imputation with dynamics (cts.counterfactual): short run, persistence, long run, att and
    # the total extra units, team bootstrap intervals
    "counterfactual": lambda panel, outcome, **options: (
        counterfactual(panel, outcome, **options).table
    ),
}
#: Methods scored in a cell (default: the ``methods`` of :func:`threats`). The clean cell and
#: the cells of effects that differ by team, org rollouts and learning also score the
#: counterfactual estimator (:func:`cts.counterfactual`, 199 team bootstrap draws), the
#: estimate ``auto`` headlines when its diagnostics find the effect heterogeneous.
CELL_METHODS: dict[str, tuple[str, ...]] = {
    "clean": ("bias_corrected", "auto", "counterfactual"),
    "team_effects_early": ("auto", "counterfactual"),
    "org_waves": ("auto", "counterfactual"),
    "learning_8wk": ("auto", "counterfactual"),
    "ar1_0.15": ("auto",),
    "feedback_0.3": ("auto",),
    "persistence_spread_0.1": ("auto",),
}
#: The local-alternative cells of :data:`THREATS`, run at these lengths only (the judged ones).
LOCAL_ALTERNATIVES = ("ar1_0.15", "feedback_0.3", "persistence_spread_0.1")
LOCAL_WEEKS = (39, 104)
#: CPU minutes of each block of ``make validate`` at its default size, measured per panel (one
#: process, BLAS on one thread) and multiplied out; ``startup`` is the worker processes' imports
#: (the gap between a small end-to-end run's CPU time, ``/usr/bin/time``, and its panels' sum).
#: On 2 idle cores the run takes about half the total: ~32 minutes.
VALIDATE_CPU_MINUTES: dict[str, float] = {
    "main (500 teams, 400 panels a length; gmm on 200)": 10.8,
    "exogeneity (200 panels a setting)": 2.0,
    "few clusters (30 teams, 300 panels a design)": 13.3,
    "threat cells (200 teams, 150 panels a row)": 33.7,
    "controls (60 panels a row)": 0.3,
    "bootstrap coverage (20 teams, 100 panels, six designs)": 2.5,
    "startup": 0.7,
}


#: One replication of :func:`monte_carlo` or :func:`threats`: teams, weeks, seed, outcomes,
#: methods, the truth's overrides, and the controls (None: each outcome's default).
_Replication = tuple[
    int, int, int, tuple[str, ...], tuple[str, ...], dict[str, Any], tuple[str, ...] | None
]


def _replicate(job: _Replication) -> list[dict]:
    n_teams, n_weeks, seed, outcomes, methods, truth_overrides, controls = job
    options = {} if controls is None else {"controls": controls}
    sim, panel = simulate_and_load(n_teams, n_weeks, seed, truth_overrides)
    rows = []
    for outcome in outcomes:
        truth = sim.truth[outcome]
        for method in methods:
            try:
                if method in ESTIMATORS:
                    table = ESTIMATORS[method](panel, outcome, **options)
                else:
                    table = _adoption_table(panel, outcome, method=method, **options)
            except PanelError:
                # A method that refuses this panel in words (the counterfactual, when a week an
                # adopter's path needs has no untreated team of its org: 200 teams x 39 weeks
                # with org waves, in about 1 panel of 50) is not scored on it; the row's
                # ``reps`` then counts the panels it ran on.
                continue
            # a counterfactual's total is named by its units (total_extra_crs_merged, ...)
            table = table.rename(
                index=lambda t: "extra_units" if t.startswith("total_extra_") else t
            )
            # With AR(1) shocks the outcome's lag sum has no truth (cts.simulate.org, error_ar).
            terms = [
                t
                for t in SCORED_TERMS
                if t in table.index
                and t in truth
                and not (t == "persistence" and sim.params.get("error_ar"))
            ]
            for term in terms:
                estimate = table.loc[term]
                rows.append(
                    {
                        "outcome": outcome,
                        "n_weeks": n_weeks,
                        "method": method,
                        "term": term,
                        "seed": seed,
                        "truth": truth[term],
                        "estimate": estimate["estimate"],
                        "se": estimate["se"],
                        "covered": estimate["ci_low"] <= truth[term] <= estimate["ci_high"],
                    }
                )
    return rows


def monte_carlo(
    *,
    n_weeks: Sequence[int] = (26, 39, 104),
    n_teams: int = 500,
    reps: int = 200,
    outcomes: Sequence[str] = OUTCOMES,
    methods: Sequence[str] = ("fe", "bias_corrected", "gmm"),
    method_reps: Mapping[str, int] | None = None,
    seed: int = 1000,
    workers: int | None = None,
    progress: bool = True,
    **truth_overrides: Any,
) -> pd.DataFrame:
    """Estimate every method and outcome on ``reps`` simulated panels per panel length.

    Parameters
    ----------
    n_weeks, n_teams
        Panel sizes; one set of ``reps`` panels per entry of ``n_weeks``.
    reps
        Replications per panel length.
    outcomes, methods
        What to estimate on each panel (every outcome uses the same simulated panel).
    method_reps
        Fewer replications for slow methods, e.g. ``{"gmm": 200}``: that method runs on the
        first ``method_reps[m]`` panels only.
    seed
        Replication ``r`` uses ``simulate_org(seed=seed + r)``.
    workers
        Processes (default: all cores).
    progress
        Show a tqdm bar.
    **truth_overrides
        Passed to :func:`cts.simulate_org`.

    Returns
    -------
    pandas.DataFrame
        One row per replication, outcome, method and term (``estimate, se, covered, truth``);
        summarise with :func:`summarize_monte_carlo`.
    """
    limits = {method: (method_reps or {}).get(method, reps) for method in methods}
    jobs = [
        (
            n_teams,
            weeks,
            seed + rep,
            tuple(outcomes),
            tuple(m for m in methods if rep < limits[m]),
            truth_overrides,
            None,
        )
        for weeks in n_weeks
        for rep in range(reps)
    ]
    return pd.DataFrame(
        run_jobs(_replicate, jobs, workers=workers, progress=progress, desc="replications")
    )


def summarize_monte_carlo(draws: pd.DataFrame) -> pd.DataFrame:
    """Bias, relative bias (%), RMSE, SD of estimates, mean SE and 95% CI coverage.

    Indexed by ``outcome`` (when the draws have one), ``n_weeks``, ``method`` and ``term``;
    ``rel_bias_mcse_pct`` and ``coverage_mcse`` are the Monte Carlo standard errors of the
    relative bias and of the coverage, and ``meets_target``
    says whether coverage lies in :data:`TARGET_COVERAGE` and |relative bias| < 5%.
    """
    keys = [k for k in ("outcome", "n_weeks", "method", "term") if k in draws]
    grouped = draws.assign(error=draws["estimate"] - draws["truth"]).groupby(keys, sort=True)
    summary = grouped.agg(
        reps=("error", "size"),
        truth=("truth", "mean"),
        bias=("error", "mean"),
        rmse=("error", lambda e: float(np.sqrt(np.mean(e**2)))),
        sd=("estimate", "std"),
        mean_se=("se", "mean"),
        coverage=("covered", "mean"),
    )
    summary.insert(3, "rel_bias_pct", 100 * summary["bias"] / summary["truth"])
    # Monte Carlo SE of the bias: the SD of the errors over sqrt(reps).
    summary.insert(4, "rel_bias_mcse_pct", 100 * summary["sd"] / np.sqrt(summary["reps"]))
    summary["rel_bias_mcse_pct"] /= summary["truth"].abs()
    summary["coverage_mcse"] = np.sqrt(
        summary["coverage"] * (1 - summary["coverage"]) / summary["reps"]
    )
    low, high = TARGET_COVERAGE
    summary["meets_target"] = summary["coverage"].between(low, high) & (
        summary["rel_bias_pct"].abs() < 5
    )
    return summary


#: The two ways a panel's rollbacks and manual interventions can arise in ``control_bias``.
COUNT_MODELS = ("per_deployment", "per_week")


def _incident_counts(raw: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Rollbacks and manual interventions that arrive per team-week, not per deployment:
    Poisson with each team's own mean count, whatever the week's deployments."""
    rng = np.random.default_rng(seed)
    teams = raw.groupby("team_id")
    out = raw.copy()
    for column in ("rollbacks", "manual_interventions"):
        out[column] = rng.poisson(teams[column].transform("mean").to_numpy())
    return out


def _control_bias_replicate(job: tuple[int, int, int, str, tuple[str, ...]]) -> list[dict]:
    n_teams, n_weeks, seed, counts, methods = job
    sim = simulate_org(n_teams=n_teams, n_weeks=n_weeks, seed=seed)
    raw = sim.panel if counts == "per_deployment" else _incident_counts(sim.panel, seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PanelWarning)
        panel = load_panel(raw, validate=False)
    truth = sim.truth["deploy_velocity"]
    rows = []
    for label, controls in (("old default", DEFAULT_CONTROLS), ("new default", None)):
        for method in methods:
            table = estimate_adoption_effect(
                panel, outcome="deploy_velocity", method=method, controls=controls
            ).table
            rows += [
                {
                    "counts": counts,
                    "controls": label,
                    "method": method,
                    "term": term,
                    "seed": seed,
                    "truth": truth[term],
                    "estimate": table.loc[term, "estimate"],
                    "se": table.loc[term, "se"],
                    "covered": table.loc[term, "ci_low"]
                    <= truth[term]
                    <= table.loc[term, "ci_high"],
                }
                for term in ("short_run", "long_run")
            ]
    return rows


def control_bias(
    *,
    n_teams: int = 200,
    n_weeks: int = 39,
    reps: int = 100,
    counts: Sequence[str] = COUNT_MODELS,
    methods: Sequence[str] = ("bias_corrected",),
    seed: int = 11000,
    workers: int | None = None,
    progress: bool = True,
) -> pd.DataFrame:
    """Bias of the deployment-velocity effect with the old default controls and without them.

    The old default held rollback rate and interventions per deployment fixed: ratios over
    deployments, the outcome's own numerator. Whether that biases the effect depends on how
    the counts arise. ``per_deployment``: the simulator's own, each deployment rolled back with
    the team-week's probability (the rate is an unbiased, noisy reading of it, whatever the
    week's deployments). ``per_week``: incidents that arrive per team-week whatever the
    deployments (Poisson with the team's mean count), so the rate falls when deployments rise
    and holding it fixed holds part of the outcome fixed. The truth is the same in both
    (the simulator's velocity responds to the latent health, not to these counts).

    Measured (200 teams x 39 weeks, 30 panels per row, ``bias_corrected``; MC SE about 4
    points per row): ``per_week``, old default -9.2% / -14.9% on the short / long run
    (coverage 90% / 80%), none -2.3% / -3.1%; ``per_deployment``, -3.0% / -3.4% against the
    same -2.3% / -3.1%.

    Returns
    -------
    pandas.DataFrame
        :func:`summarize_monte_carlo` indexed by ``counts``, ``controls`` (``old default`` or
        ``new default``: :func:`cts.panel.default_controls`, none for deployment velocity),
        ``method`` and ``term``.
    """
    unknown = sorted(set(counts) - set(COUNT_MODELS))
    if unknown:
        raise ValueError(f"unknown counts {unknown}; choose from {', '.join(COUNT_MODELS)}")
    jobs = [
        (n_teams, n_weeks, seed + rep, model, tuple(methods))
        for model in counts
        for rep in range(reps)
    ]
    draws = pd.DataFrame(
        run_jobs(_control_bias_replicate, jobs, workers=workers, progress=progress, desc="controls")
    )
    blocks = {
        key: summarize_monte_carlo(block.drop(columns=["counts", "controls"]))
        for key, block in draws.groupby(["counts", "controls"], sort=False)
    }
    return pd.concat(blocks, names=["counts", "controls"])


def control_bias_section(summary: pd.DataFrame) -> list[str]:
    """The Markdown section of the validation report on the controls of deployment velocity."""
    table = summary.reset_index()
    table["rel_bias"] = [
        f"{b:+.1f}% ({m:.1f})"
        for b, m in zip(table["rel_bias_pct"], table["rel_bias_mcse_pct"], strict=True)
    ]
    table["coverage"] = _percent(table["coverage"], 0)
    columns = ["counts", "controls", "method", "term", "truth", "rel_bias", "coverage", "sd"]
    return [
        "## Controls of deployment velocity",
        "",
        f"`simulate_org`, {summary['reps'].min():,} panels per row, outcome `deploy_velocity`. "
        "`old default`: rollback rate and interventions per deployment as controls, ratios over "
        "the outcome's own numerator; `new default`: none (`cts.panel.default_controls`). "
        "`per_deployment` counts are the simulator's (each deployment rolled back with the "
        "week's probability); `per_week` counts arrive per team-week whatever the deployments, "
        "so the rate falls when deployments rise. Monte Carlo SEs of the bias in parentheses.",
        "",
        table[columns].to_markdown(index=False, floatfmt=".4f"),
    ]


#: The intervals :func:`bootstrap_coverage` scores, as ``dynamic_panel`` options: clustered SEs;
#: the wild cluster bootstrap with the lagged outcome fixed or regenerated, its interval the
#: bootstrap-t ``estimate +- c* se`` or the inversion of the restricted test; randomization
#: inference (``estimate +- c* se``, ``c*`` from the permutations).
COVERAGE_DESIGNS: dict[str, dict] = {
    "cluster": {"inference": "cluster"},
    "fixed": {"inference": "wild_bootstrap", "bootstrap_interval": "bootstrap_t"},
    "fixed_inverted": {"inference": "wild_bootstrap"},
    "recursive": {
        "inference": "wild_bootstrap",
        "bootstrap_design": "recursive",
        "bootstrap_interval": "bootstrap_t",
    },
    "recursive_inverted": {"inference": "wild_bootstrap", "bootstrap_design": "recursive"},
    "randomization": {"inference": "randomization"},
}


def _coverage_replicate(job: tuple[int, int, int, int, tuple[str, ...]]) -> list[dict]:
    n_teams, n_weeks, seed, draws, designs = job
    sim, panel = simulate_and_load(n_teams, n_weeks, seed)
    truth = sim.truth["cr_velocity"]
    rows = []
    for design in designs:
        options = COVERAGE_DESIGNS[design]
        if options["inference"] != "cluster":
            options = {**options, "reps": draws}
        started = time.perf_counter()
        table = dynamic_panel(
            panel, "cr_velocity", ["ai_usage_rate"], "team_id", "week", seed=seed, **options
        ).table
        seconds = time.perf_counter() - started
        for term, row in (("short_run", "ai_usage_rate"), ("long_run", "long_run.ai_usage_rate")):
            low, high = table.loc[row, ["ci_low", "ci_high"]]
            rows.append(
                {
                    "design": design,
                    "term": term,
                    "seed": seed,
                    "truth": truth[term],
                    "estimate": table.loc[row, "estimate"],
                    "se": table.loc[row, "se"],
                    "covered": bool(low <= truth[term] <= high),
                    "width": high - low,
                    "seconds": seconds,
                }
            )
    return rows


def bootstrap_coverage(
    *,
    n_teams: int = 20,
    n_weeks: int = 39,
    reps: int = 100,
    draws: int = 199,
    designs: Sequence[str] = tuple(COVERAGE_DESIGNS),
    seed: int = 12000,
    workers: int | None = None,
    progress: bool = True,
) -> pd.DataFrame:
    """Coverage of the 95% intervals of the CR-velocity effect with few teams, by inference.

    ``bias_corrected`` with usage only (no controls) on ``reps`` panels of ``n_teams`` teams
    with the simulator's true effect, one row per entry of :data:`COVERAGE_DESIGNS` in
    ``designs`` (``draws`` resampling draws each): clustered SEs and normal intervals; the wild
    cluster bootstrap with the lagged outcome held fixed or regenerated in each draw
    (:mod:`cts.estimators.inference`), bootstrap-t (``fixed``, ``recursive``) or inverted
    (``*_inverted``) intervals; randomization inference. The size tables test only at zero;
    this is the coverage at the true effect.

    Returns
    -------
    pandas.DataFrame
        :func:`summarize_monte_carlo` indexed by ``design`` (in the ``method`` level) and
        ``term``, with the intervals' median ``width`` and the mean ``seconds`` per panel.
    """
    unknown = sorted(set(designs) - set(COVERAGE_DESIGNS))
    if unknown:
        raise ValueError(f"unknown designs {unknown}; choose from {', '.join(COVERAGE_DESIGNS)}")
    jobs = [(n_teams, n_weeks, seed + rep, draws, tuple(designs)) for rep in range(reps)]
    draws_table = pd.DataFrame(
        run_jobs(_coverage_replicate, jobs, workers=workers, progress=progress, desc="coverage")
    ).rename(columns={"design": "method"})
    summary = summarize_monte_carlo(draws_table)
    by = draws_table.groupby(list(summary.index.names), sort=True)
    return summary.assign(width=by["width"].median(), seconds=by["seconds"].mean())


def bootstrap_coverage_section(summary: pd.DataFrame) -> list[str]:
    """The Markdown section of the validation report on the coverage of few-team intervals."""
    table = summary.reset_index().rename(columns={"method": "inference"})
    table["coverage"] = [
        f"{100 * c:.0f}% ({100 * m:.1f})"
        for c, m in zip(table["coverage"], table["coverage_mcse"], strict=True)
    ]
    table["rel_bias"] = table["rel_bias_pct"].map("{:+.1f}%".format)
    columns = ["inference", "term", "truth", "rel_bias", "coverage", "sd", "mean_se"]
    columns += [c for c in ("width", "seconds") if c in table]
    return [
        "## Coverage of the effect's 95% intervals with few teams",
        "",
        f"`bias_corrected`, CR velocity on usage alone, {summary['reps'].min():,} panels of "
        "`simulate_org` with its true effect. `cluster`: clustered SEs, normal intervals; "
        "`fixed` / `recursive`: the wild cluster bootstrap holding the lagged outcome fixed or "
        "regenerating it in each draw (`dynamic_panel(bootstrap_design=...)`), intervals the "
        "estimate +- the 95th percentile of |t*| under no effect times the SE "
        "(`bootstrap_interval='bootstrap_t'`); `*_inverted`: the values whose restricted test "
        "does not reject (the default); `randomization`: permuted usage paths, estimate +- the "
        "95th percentile of |t*| times the SE. `width`: the intervals' median width; "
        "`seconds`: per panel. The size tables test at zero only; this is the coverage at the "
        "true effect. Monte Carlo SEs in parentheses.",
        "",
        table[columns].to_markdown(index=False, floatfmt=".4f"),
    ]


def _exogeneity_replicate(job: tuple[int, int, int, bool]) -> list[dict]:
    n_teams, n_weeks, seed, bad_control = job
    _, panel = simulate_and_load(n_teams, n_weeks, seed, {"bad_control": bad_control})
    checks = exogeneity_checks(panel)
    return [
        {"bad_control": bad_control, "seed": seed, "check": name, "flagged": bool(flagged)}
        for name, flagged in checks.table["flagged"].items()
    ]


def exogeneity_size(
    *,
    n_teams: int = 500,
    n_weeks: int = 39,
    reps: int = 200,
    seed: int = 5000,
    workers: int | None = None,
    progress: bool = True,
) -> pd.DataFrame:
    """How often :func:`cts.exogeneity_checks` flags anything, with and without a bad control.

    Returns one row per ``bad_control`` setting: the share of panels with any flag (the
    family-wise false-flag rate when off, the power when on), its Monte Carlo SE, and the share
    of panels in which each check fired.
    """
    jobs = [(n_teams, n_weeks, seed + rep, bad) for bad in (False, True) for rep in range(reps)]
    draws = pd.DataFrame(
        run_jobs(
            _exogeneity_replicate,
            jobs,
            workers=workers,
            progress=progress,
            desc="exogeneity checks",
        )
    )
    by_check = draws.pivot_table(
        index="bad_control", columns="check", values="flagged", aggfunc="mean"
    )
    any_flag = draws.groupby(["bad_control", "seed"])["flagged"].any().groupby("bad_control")
    summary = pd.DataFrame({"reps": any_flag.size(), "any_flagged": any_flag.mean()})
    summary["mcse"] = np.sqrt(summary["any_flagged"] * (1 - summary["any_flagged"]) / reps)
    return summary.join(by_check)


INFERENCE_METHODS = ("cluster", "wild_bootstrap", "randomization")


def _few_cluster_replicate(job: tuple) -> list[dict]:
    n_teams, n_weeks, seed, draws, outcomes, never_share, *rest = job
    method = rest[0] if rest else "auto"
    null = {"cr_effect": 0.0, "deploy_effect": 0.0, "never_adopter_share": never_share}
    _, panel = simulate_and_load(n_teams, n_weeks, seed, null)
    rows = []
    for outcome in outcomes:
        for inference in INFERENCE_METHODS:
            try:
                table = estimate_adoption_effect(
                    panel,
                    outcome=outcome,
                    method=method,
                    inference=inference,
                    reps=draws,
                    seed=seed,
                ).table
            except PanelError:  # no team's usage changed in this draw: nothing to test
                return []
            rows += [
                {
                    "never_adopter_share": never_share,
                    "outcome": outcome,
                    "method": method,
                    "inference": inference,
                    "term": term,
                    "seed": seed,
                    "rejected": table["p_value"].loc[term] < 0.05,
                }
                for term in ("short_run", "long_run")
            ]
    return rows


def few_cluster_size(
    *,
    n_teams: int = 30,
    n_weeks: int = 52,
    reps: int = 500,
    draws: int = 399,
    never_adopter_share: Sequence[float] = (0.2, 0.8),
    outcomes: Sequence[str] = OUTCOMES,
    method: str = "auto",
    seed: int = 7000,
    workers: int | None = None,
    progress: bool = True,
) -> pd.DataFrame:
    """Size of the 5% test of no effect with few teams, by inference method.

    Simulates ``reps`` panels of ``n_teams`` teams with no AI effect on either outcome and tests
    ``short_run = 0`` and ``long_run = 0`` (``method``, default ``auto`` as the headline) with
    team-clustered SEs, the wild
    cluster bootstrap and randomization inference (``draws`` each). An honest test rejects in
    about 5% of panels. One design per ``never_adopter_share``: the default (most teams adopt)
    and a pilot in which few do, where clustered SEs are known to fail (MacKinnon & Webb 2017).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``never_adopter_share``, ``outcome``, ``inference`` and ``term``: ``reps``,
        ``rejection_rate`` and its Monte Carlo SE ``mcse``, and the ``method`` that ran.
    """
    jobs = [
        (n_teams, n_weeks, seed + rep, draws, tuple(outcomes), share, method)
        for share in never_adopter_share
        for rep in range(reps)
    ]
    results = pd.DataFrame(
        run_jobs(
            _few_cluster_replicate,
            jobs,
            workers=workers,
            progress=progress,
            desc="few-cluster size",
        )
    )
    keys = ["never_adopter_share", "outcome", "inference", "term"]
    grouped = results.groupby(keys, sort=False)["rejected"]
    summary = pd.DataFrame({"reps": grouped.size(), "rejection_rate": grouped.mean()})
    summary["mcse"] = np.sqrt(
        summary["rejection_rate"] * (1 - summary["rejection_rate"]) / summary["reps"]
    )
    summary["method"] = method
    return summary


def _percent(values: pd.Series, digits: int = 1) -> pd.Series:
    return (100 * values).map(f"{{:.{digits}f}}%".format)


def validation_report(
    summary: pd.DataFrame | None,
    exogeneity: pd.DataFrame | None,
    few_clusters: pd.DataFrame | None = None,
    threat_cells: pd.DataFrame | None = None,
    *,
    n_teams: int,
    seconds: float,
    control_cells: pd.DataFrame | None = None,
    coverage_cells: pd.DataFrame | None = None,
) -> str:
    """Markdown report: one table per outcome, the targets and whether each is met.

    ``summary`` (the main block) and ``exogeneity`` may be None when those blocks were skipped
    (``validate --reps 0 --exogeneity-reps 0``, e.g. to run threat cells alone).
    """
    lines = _main_block(summary, n_teams, seconds)
    if exogeneity is not None:
        lines += _exogeneity_block(exogeneity)
    if few_clusters is not None:
        lines += ["", *few_cluster_section(few_clusters)]
    if threat_cells is not None:
        lines += ["", *threat_section(threat_cells)]
    if control_cells is not None:
        lines += ["", *control_bias_section(control_cells)]
    if coverage_cells is not None:
        lines += ["", *bootstrap_coverage_section(coverage_cells)]
    return "\n".join(lines) + "\n"


def _main_block(summary: pd.DataFrame | None, n_teams: int, seconds: float) -> list[str]:
    """The report's title and the main block's tables (one per outcome)."""
    title = "# Monte Carlo validation of the adoption-effect estimators"
    if summary is None:
        return [
            title,
            "",
            f"The main block was skipped (`validate --reps 0`); {seconds / 60:.1f} min on this "
            "machine.",
        ]
    low, high = TARGET_COVERAGE
    target = summary.xs("bias_corrected", level="method").query("n_weeks in (39, 104)")
    reps = summary["reps"]
    lines = [
        title,
        "",
        f"`simulate_org` with {n_teams} teams and default truth; each row is one outcome, panel "
        f"length, method and term ({reps.min():,}-{reps.max():,} replications per row). Target for "
        f"`bias_corrected`: |relative bias| < 5% and 95% CI coverage in [{low:.0%}, {high:.0%}] "
        "for every term at 39 and 104 weeks. `coverage_mcse` is the Monte Carlo standard error "
        "of the coverage. Regenerate with `make validate` "
        f"({seconds / 60:.1f} min on this machine).",
        "",
        f"**bias_corrected meets the target in {int(target['meets_target'].sum())} of "
        f"{len(target)} cells.**",
    ]
    for outcome, block in summary.groupby(level="outcome"):
        table = block.droplevel("outcome").reset_index()
        table["rel_bias_pct"] = table["rel_bias_pct"].map("{:+.2f}%".format)
        table["coverage"] = _percent(table["coverage"])
        table["coverage_mcse"] = _percent(table["coverage_mcse"])
        for column in ("truth", "bias", "rmse", "sd", "mean_se"):
            table[column] = table[column].map("{:.4f}".format)
        table["meets_target"] = table["meets_target"].map({True: "yes", False: "no"})
        lines += ["", f"## {outcome}", "", table.to_markdown(index=False)]
    return lines


def _exogeneity_block(exogeneity: pd.DataFrame) -> list[str]:
    """The section on the size and power of ``exogeneity_checks``."""
    table = exogeneity.reset_index()
    table.insert(
        0,
        "simulated",
        table.pop("bad_control").map(
            {False: "clean controls (size)", True: "bad control on (power)"}
        ),
    )
    for column in table.columns[2:]:
        table[column] = _percent(table[column])
    return [
        "",
        "## exogeneity_checks: share of panels flagged at 5% (Holm)",
        "",
        "With clean controls the share flagged is the family-wise false-flag rate (target: "
        "about 5%); with the bad-control switch on it is the power to catch it.",
        "",
        table.to_markdown(index=False),
    ]


def few_cluster_section(size: pd.DataFrame) -> list[str]:
    """The Markdown section of the validation report on few-cluster inference."""
    table = size.reset_index()
    reps = table["reps"]
    # the label is what ran (older runs without the column ran the default, auto)
    method = ", ".join(table["method"].unique()) if "method" in table else "auto"
    table["rejection_rate"] = _percent(table["rejection_rate"])
    table["mcse"] = _percent(table["mcse"])
    table = table.pivot_table(
        index=["never_adopter_share", "outcome", "term"],
        columns="inference",
        values="rejection_rate",
        aggfunc="first",
        sort=False,
    ).reset_index()
    return [
        "## Inference with 30 teams: share of no-effect panels rejected at 5%",
        "",
        f"`{method}` on 30 teams x 52 weeks with no AI effect, "
        f"{reps.min():,}-{reps.max():,} panels per design (Monte Carlo SE of a 5% rate: "
        f"{100 * np.sqrt(0.05 * 0.95 / reps.min()):.1f} points). "
        "An honest test rejects about 5%. `never_adopter_share` 0.2 is the default organisation; "
        "0.8 is a pilot in which about 6 of 30 teams adopt, where team-clustered SEs with normal "
        "critical values over-reject (MacKinnon & Webb 2017). Wild bootstrap and randomization "
        "use 399 draws each (`cts.estimate_adoption_effect(..., inference=...)`).",
        "",
        table.to_markdown(index=False),
    ]


def threats(
    *,
    cells: Sequence[str] = tuple(THREATS),
    n_weeks: Sequence[int] = THREAT_WEEKS,
    n_teams: int = THREAT_TEAMS,
    reps: int = THREAT_REPS,
    outcomes: Sequence[str] = ("cr_velocity",),
    methods: Sequence[str] = ("bias_corrected", "auto"),
    controls: Sequence[str] = ("rollback_rate",),
    seed: int = 9000,
    workers: int | None = None,
    progress: bool = True,
) -> pd.DataFrame:
    """The Monte Carlo of the threats to the dynamic model: one cell per entry of :data:`THREATS`.

    Each cell is ``reps`` panels of ``simulate_org`` with that threat switched on (``clean``:
    none), every method estimated on the same panels: ``methods``, or the cell's own in
    :data:`CELL_METHODS`. AR(1) cells score the short and long run only: their outcome lag sum
    has no truth (see ``error_ar`` in :mod:`cts.simulate.org`).

    Returns
    -------
    pandas.DataFrame
        :func:`summarize_monte_carlo` of the draws, with ``cell`` as the outer index level.
    """
    controls = tuple(controls)
    unknown = sorted(set(cells) - set(THREATS))
    if unknown:
        raise ValueError(f"unknown cells {unknown}; choose from {', '.join(THREATS)}")
    jobs = [
        (
            cell,
            (
                n_teams,
                weeks,
                seed + rep,
                tuple(outcomes),
                tuple(CELL_METHODS.get(cell, methods)),
                THREATS[cell],
                controls,
            ),
        )
        for cell in cells
        for weeks in n_weeks
        if cell not in LOCAL_ALTERNATIVES or weeks in LOCAL_WEEKS
        for rep in range(reps)
    ]
    if not jobs:
        raise ValueError(
            f"nothing to run: the local-alternative cells run at {LOCAL_WEEKS} weeks only"
        )
    draws = pd.DataFrame(
        run_jobs(_threat_replicate, jobs, workers=workers, progress=progress, desc="threat cells")
    )
    return pd.concat(
        {
            cell: summarize_monte_carlo(block.drop(columns="cell"))
            for cell, block in draws.groupby("cell", sort=False)
        },
        names=["cell"],
    )


def _threat_replicate(job: tuple[str, tuple]) -> list[dict]:
    cell, replicate = job
    return [{**row, "cell": cell} for row in _replicate(replicate)]


def threat_section(summary: pd.DataFrame) -> list[str]:
    """The Markdown section of the validation report on the threat cells.

    ``summary`` is the output of :func:`threats`: one row per cell, panel length, method and
    term, with bias, coverage and their Monte Carlo SEs.
    """
    low, high = TARGET_COVERAGE
    reps = summary["reps"]
    table = summary.reset_index()
    table["rel_bias"] = [
        f"{b:+.1f}% ({s:.1f})"
        for b, s in zip(table["rel_bias_pct"], table["rel_bias_mcse_pct"], strict=True)
    ]
    table["coverage"] = [
        f"{100 * c:.0f}% ({100 * s:.1f})"
        for c, s in zip(table["coverage"], table["coverage_mcse"], strict=True)
    ]
    table["sd / mean se"] = [
        f"{sd:.4f} / {se:.4f}" for sd, se in zip(table["sd"], table["mean_se"], strict=True)
    ]
    table["meets_target"] = table["meets_target"].map({True: "yes", False: "**no**"})
    columns = ["cell", "n_weeks", "method", "term", "truth", "rel_bias", "coverage"]
    columns += ["sd / mean se", "meets_target"]
    table["truth"] = table["truth"].map("{:.3f}".format)
    auto = (
        summary.xs("auto", level="method")
        if "auto" in set(summary.index.get_level_values("method"))
        else summary.iloc[:0]
    )
    judged = auto.query("n_weeks in (39, 104)")
    missed = _clear_misses(judged)
    inconclusive = (~judged["meets_target"]).sum() - len(missed)
    return [
        "## Threats to the dynamic model: feedback, AR(1) shocks, heterogeneous persistence, "
        "effects that differ by team, org rollouts, learning",
        "",
        f"`simulate_org` with the threat switched on, {reps.min():,}-{reps.max():,} panels per "
        "row, outcome `cr_velocity`, control `rollback_rate`; `auto` is "
        "`estimate_adoption_effect(method='auto')`. Monte Carlo SEs in parentheses (points): "
        f"the reps are chosen so that the run stays under 40 minutes on 2 cores, which buys "
        f"about {100 * np.sqrt(0.95 * 0.05 / reps.min()):.1f} points of MC SE on a 95% "
        "coverage; a coverage within 2 MC SEs of the band is not evidence of a miss. Target for "
        f"`auto`: |relative bias| < 5% and coverage in [{low:.0%}, {high:.0%}] at 39 and 104 "
        "weeks. AR(1) cells score the short and long run only: with counts' rounding noise on "
        "top of AR(1) shocks the outcome's lag sum depends on the lag order and has no truth "
        "(`error_ar` in `cts.simulate.org`). The persistence truth of the spread cells is the "
        "mean of the teams' persistence. In `team_effects_early` (team effects +-50% around the "
        "mean, early adopters gaining more) the short-run truth is the mean over the teams using "
        "the assistant of each team's effect, in `learning_8wk` (effects learned over 8 weeks of "
        "use) of the effect each team's weeks of use averaged (`short_run_learned` is the "
        "learned one), the long run its ratio to 1 - persistence; `counterfactual` is "
        "`cts.counterfactual` (199 team bootstrap draws); `org_waves` is 4 orgs "
        "opening one after another, each with its own persistent weekly shocks (`org` column, "
        "so `auto` uses week effects by org).",
        "",
        f"**auto meets the target in {int(judged['meets_target'].sum())} of {len(judged)} "
        f"cells at 39 and 104 weeks; {inconclusive} more miss it within 2 Monte Carlo SEs; "
        f"clear misses (beyond 2 MC SEs): {', '.join(missed) or 'none'}.**",
        "",
        table[columns].to_markdown(index=False),
    ]


def _clear_misses(summary: pd.DataFrame) -> list[str]:
    """Rows whose miss of the target is more than 2 Monte Carlo SEs away (``cell n_weeks term``).

    The coverage's MC SE is taken at 95% (``sqrt(.95 .05 / R)``): the observed rate's own SE is
    zero at 100%, which would call every small-sample 100% a clear miss.
    """
    low, high = TARGET_COVERAGE
    at_target = np.sqrt(0.95 * 0.05 / summary["reps"])
    coverage_miss = (summary["coverage"] < low - 2 * at_target) | (
        summary["coverage"] > high + 2 * at_target
    )
    bias_miss = summary["rel_bias_pct"].abs() - 2 * summary["rel_bias_mcse_pct"] > 5
    rows = summary.loc[coverage_miss | bias_miss].reset_index()
    return [f"{r.cell} {r.n_weeks} wk {r.term}" for r in rows.itertuples()]
