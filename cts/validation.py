"""Monte Carlo validation of the adoption-effect estimators on :func:`cts.simulate_org`."""

from __future__ import annotations

import multiprocessing
import os
import warnings
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from cts.adoption import estimate_adoption_effect
from cts.panel import PanelWarning, load_panel
from cts.simulate import simulate_org

__all__ = ["monte_carlo", "summarize_monte_carlo"]

TERMS = ("short_run", "persistence", "long_run")


def _replicate(job: tuple[int, int, int, str, tuple[str, ...], dict]) -> list[dict]:
    n_teams, n_weeks, seed, outcome, methods, truth_overrides = job
    sim = simulate_org(n_teams=n_teams, n_weeks=n_weeks, seed=seed, **truth_overrides)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PanelWarning)
        panel = load_panel(sim.panel)
    truth = sim.truth[outcome]
    rows = []
    for method in methods:
        table = estimate_adoption_effect(panel, outcome=outcome, method=method).table
        for term in TERMS:
            estimate = table.loc[term]
            rows.append(
                {
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
    outcome: str = "cr_velocity",
    methods: Sequence[str] = ("fe", "bias_corrected", "gmm"),
    seed: int = 1000,
    workers: int | None = None,
    progress: bool = True,
    **truth_overrides,
) -> pd.DataFrame:
    """Estimate every method on ``reps`` simulated panels per panel length.

    Returns one row per replication, method and term (``estimate, se, covered, truth``); summarise
    with :func:`summarize_monte_carlo`. Runs on ``workers`` processes (default: all cores).
    """
    jobs = [
        (n_teams, weeks, seed + rep, outcome, tuple(methods), truth_overrides)
        for weeks in n_weeks
        for rep in range(reps)
    ]
    workers = workers or os.cpu_count() or 1
    if workers == 1:
        results = map(_replicate, jobs)
        return pd.DataFrame(_collect(results, len(jobs), progress))
    # spawn, not fork: forking a process whose native libraries (pyfixest's Rust demeaner,
    # BLAS) already run threads can deadlock the children.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        results = pool.map(_replicate, jobs, chunksize=max(1, len(jobs) // (8 * workers)))
        return pd.DataFrame(_collect(results, len(jobs), progress))


def _collect(results: Iterable[list[dict]], total: int, progress: bool) -> list[dict]:
    bar = tqdm(results, total=total, disable=not progress, desc="replications")
    return [row for result in bar for row in result]


def summarize_monte_carlo(draws: pd.DataFrame) -> pd.DataFrame:
    """Bias, relative bias (%), RMSE, SD of estimates, mean SE and 95% CI coverage."""
    grouped = draws.assign(error=draws["estimate"] - draws["truth"]).groupby(
        ["n_weeks", "method", "term"], sort=True
    )
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
    return summary


def validation_report(
    blocks: Sequence[tuple[str, pd.DataFrame]], *, n_teams: int, seconds: float
) -> str:
    """Markdown report of Monte Carlo summaries, one table per outcome, with the targets."""
    lines = [
        "# Monte Carlo validation of the adoption-effect estimators",
        "",
        f"`simulate_org` with {n_teams} teams and default truth; each row is one panel length, "
        "method and term. Target for `bias_corrected`: |relative bias| < 5% and 95% CI coverage "
        "in [93%, 97%] for every term at 39 and 104 weeks. Regenerate with `make validate` "
        f"({seconds / 60:.1f} min on this machine).",
    ]
    for outcome, summary in blocks:
        table = summary.reset_index()
        table["coverage"] = (100 * table["coverage"]).map("{:.1f}%".format)
        table["rel_bias_pct"] = table["rel_bias_pct"].map("{:+.2f}%".format)
        for column in ("truth", "bias", "rmse", "sd", "mean_se"):
            table[column] = table[column].map("{:.4f}".format)
        lines += ["", f"## {outcome}", "", table.to_markdown(index=False)]
    return "\n".join(lines) + "\n"
