"""The counterfactual's truth on a simulated panel, and its Monte Carlo.

In the simulator's model ``y_it = a_i + l_t + b y_i,t-1 + g usage_it + ...`` the outcome without
the assistant differs from the observed one by ``g * D_it``, where ``D_it = usage_it + b
D_i,t-1`` is the usage filtered by the persistence from the team's first use
(:func:`usage_exposure`); the simulator records these gaps and their aggregates in its truth.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cts.analyses.counterfactual import counterfactual
from cts.core.workers import run_jobs
from cts.simulate.org import SimulatedOrg, simulate_and_load

__all__ = ["counterfactual_monte_carlo", "counterfactual_truth", "usage_exposure"]

_UNITS = {"cr_velocity": "crs", "deploy_velocity": "deployments"}
TERMS = ("short_run", "persistence", "long_run", "att", "total")


def usage_exposure(panel: pd.DataFrame, persistence: float) -> pd.Series:
    """``D_it = usage_it + b D_i,t-1`` from each team's first week of use (by calendar week; a
    missing week counts as no usage), indexed by ``team_id, week``, only weeks from first use."""
    wide = panel.pivot(index="team_id", columns="week", values="ai_usage_rate")
    wide = wide.reindex(columns=pd.date_range(wide.columns.min(), wide.columns.max(), freq="7D"))
    usage = np.nan_to_num(wide.to_numpy())
    started = np.cumsum(usage > 0, axis=1) > 0
    exposure = np.zeros_like(usage)
    for t in range(usage.shape[1]):
        previous = exposure[:, t - 1] if t else 0.0
        exposure[:, t] = np.where(started[:, t], usage[:, t] + persistence * previous, 0.0)
    frame = pd.DataFrame(
        np.where(started & wide.notna().to_numpy(), exposure, np.nan),
        index=wide.index,
        columns=wide.columns,
    )
    frame.columns.name = "week"
    return frame.stack().dropna().rename("exposure")


def counterfactual_truth(sim: SimulatedOrg, outcome: str) -> dict[str, float]:
    """The truth of :func:`cts.counterfactual`'s table on ``sim``: the simulator's own (its
    no-assistant paths, :mod:`cts.simulate.org`), ``total`` its ``extra_units``."""
    truth = sim.truth[outcome]
    terms = ("short_run", "persistence", "long_run", "att")
    return {**{term: float(truth[term]) for term in terms}, "total": float(truth["extra_units"])}


def _replicate(job: tuple) -> list[dict]:
    n_teams, n_weeks, seed, outcome, reps, overrides = job
    sim, panel = simulate_and_load(n_teams, n_weeks, seed, overrides)
    result = counterfactual(panel, outcome, reps=reps, seed=seed)
    truth = counterfactual_truth(sim, outcome)
    table = result.table.rename(index={f"total_extra_{_UNITS.get(outcome, 'units')}": "total"})
    return [
        {
            "n_teams": n_teams,
            "n_weeks": n_weeks,
            "outcome": outcome,
            "term": term,
            "seed": seed,
            "truth": truth[term],
            "estimate": table.loc[term, "estimate"],
            "se": table.loc[term, "se"],
            "covered": table.loc[term, "ci_low"] <= truth[term] <= table.loc[term, "ci_high"],
            "cohort_rejected": float(result.cohort_homogeneity.rejected)
            if result.cohort_homogeneity is not None
            else np.nan,
        }
        for term in TERMS
    ]


def counterfactual_monte_carlo(
    n_panels: int = 30,
    n_teams: int = 200,
    n_weeks: int = 39,
    *,
    outcome: str = "cr_velocity",
    reps: int = 199,
    seed: int = 0,
    overrides: dict | None = None,
    workers: int | None = 1,
    progress: bool = True,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Bias and coverage of :func:`cts.counterfactual` over ``n_panels`` simulated panels.

    Returns the draws and a summary per term: relative bias (%) with its Monte Carlo SE, the
    SD of the estimates' errors against the mean bootstrap SE, and 95% coverage with its Monte
    Carlo SE.
    """
    jobs = [
        (n_teams, n_weeks, seed + i, outcome, reps, dict(overrides or {})) for i in range(n_panels)
    ]
    draws = pd.DataFrame(run_jobs(_replicate, jobs, workers=workers, progress=progress))
    rows = []
    for term, g in draws.groupby("term", sort=False):
        scale = abs(g["truth"].mean())
        covered = g["covered"].mean()
        rows.append(
            {
                "term": term,
                "panels": len(g),
                "rel_bias_%": 100 * (g["estimate"] - g["truth"]).mean() / scale,
                "mc_se_bias_%": 100 * (g["estimate"] - g["truth"]).std() / np.sqrt(len(g)) / scale,
                "sd_error": (g["estimate"] - g["truth"]).std(),
                "mean_se": g["se"].mean(),
                "coverage_%": 100 * covered,
                "mc_se_cov_%": 100 * np.sqrt(covered * (1 - covered) / len(g)),
            }
        )
    return draws, pd.DataFrame(rows).set_index("term")
