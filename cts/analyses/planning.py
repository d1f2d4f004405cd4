"""Power before a rollout: simulate_org calibrated to a team's own panel, then Monte Carlo."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyfixest as pf
from scipy import stats

from cts.analyses.adoption import estimate_adoption_effect
from cts.core.exceptions import FewTeamsWarning
from cts.core.memory import release_job_memory, release_memory, thaw
from cts.core.results import Result, critical_value
from cts.core.workers import default_workers, job_pool, run_jobs
from cts.estimators.design import MIN_ADOPTING_TEAMS, MIN_TEAMS
from cts.panel import DEFAULT_CONTROLS, lag, require_columns, windowed
from cts.simulate.org import DEPLOY_LEVEL_BY_ARCHITECTURE, simulate_and_load

__all__ = [
    "PowerResult",
    "PowerStudy",
    "calibrate",
    "minimum_detectable_effect",
    "power",
    "power_bound",
    "power_grid",
    "power_study",
]

_PREFIX = {"cr_velocity": "cr", "deploy_velocity": "deploy"}
#: When :func:`power` may stop early: the panels of its first round (the fewest it stops at) and
#: of each later round.
MIN_REPS = 20
ROUND = 10
#: Simulated team-weeks below which :func:`power` runs in this process: a pool's workers each
#: import the libraries first (~4 s of CPU), more than 50 panels of 40 teams x 40 weeks take.
POOL_TEAM_WEEKS = 200_000
#: Team-weeks of the panel below which :func:`power_study` runs in this process whatever its
#: grid: a simulated panel of up to 100 teams x 52 weeks costs ~0.07 s of CPU, mostly fixed
#: (fits of two outcomes included), so on a 40 x 40 panel a pool's start (2.7 s of CPU per
#: worker) cost more than a third of the section, and a report runs other notebooks beside it.
POOL_PANEL_TEAM_WEEKS = 20_000
#: Team-weeks of the panel from which :func:`power_study` first tries :func:`power_bound` at the
#: panel's own size instead of simulating it: on 2,000 teams x 260 weeks one simulated panel with
#: its two fits takes ~3 s of CPU and ~0.6 GB in each worker (the 10 panels of a pinned-down
#: design ~30 s of CPU; two workers took the robustness report to 2.75 GB), while the bound
#: needs one fit per outcome (~1.5 s). The default panel (1,000 x 156) stays simulated.
BOUND_TEAM_WEEKS = 250_000
#: Lower bound on power from which :func:`power_study` reports the bound instead of simulating:
#: no number of simulated panels short of thousands could tell such a power from 1.
BOUND_POWER = 0.999
#: Factor on the panel's own standard error in :func:`power_bound`: room for a simulated
#: panel's standard error to exceed the panel's own.
SE_INFLATION = 2.0
_ARCHITECTURE_MULTIPLIER = dict(
    zip(("service", "monolith", "trunk"), DEPLOY_LEVEL_BY_ARCHITECTURE, strict=True)
)


def calibrate(panel: pd.DataFrame, outcome: str = "cr_velocity") -> dict:
    """:func:`cts.simulate_org` parameters that mimic ``panel`` for ``outcome``.

    Matched: persistence (bias-corrected estimate); level and team-effect spread of the outcome
    net of the estimated AI effect (between-team variance net of within-team noise; the level
    is the observed one, holiday dips included, so it sits a few percent below the simulator's
    parameter); noise (residual SD of the dynamic FE fit, net of what the simulator's
    delivery-health and paging terms add); and the observed share of teams that never use the
    assistant. Also ``n_teams`` and ``n_weeks``.

    Returns
    -------
    dict
        Keyword arguments for :func:`cts.simulate_org`.
    """
    if outcome not in _PREFIX:
        raise ValueError(f"calibrate supports {', '.join(_PREFIX)}, not {outcome!r}")
    require_columns(panel, (outcome, "ai_usage_rate", "ai_active_builders"), "the panel")
    panel = windowed(panel)
    prefix = _PREFIX[outcome]
    table = estimate_adoption_effect(panel, outcome=outcome, inference="cluster").table
    persistence = float(np.clip(table["estimate"]["persistence"], 0.0, 0.95))
    # Velocity net of the estimated AI effect: adopters are faster teams, so weeks without use
    # alone would understate the level and overstate the spread.
    net = _net_of_ai(panel, outcome, float(table["estimate"]["long_run"]))
    level = float(net.mean())
    by_team = net.groupby(panel["team_id"])
    # The sampling variance of a team's mean, inflated for serial correlation (AR(1) with the
    # estimated persistence), is subtracted from the variance of team means.
    ar_inflation = (1 + persistence) / (1 - persistence)
    within = float((by_team.var() / by_team.size()).mean()) * ar_inflation
    between = max(float(by_team.mean().var()) - within, 0.0)
    never_used = _never_used(panel)
    n_teams, n_weeks = int(panel["team_id"].nunique()), int(panel["week"].nunique())
    params = {
        "n_teams": n_teams,
        "n_weeks": n_weeks,
        f"{prefix}_persistence": persistence,
        f"{prefix}_level": level,
        # CR velocity's spread is the simulator's team_spread; deployment velocity has its own
        # (deploy_team_spread), so one simulated panel can carry both outcomes' calibrations.
        ("team_spread" if prefix == "cr" else f"{prefix}_team_spread"): float(
            np.sqrt(between) / level
        ),
        "never_adopter_share": never_used,
    }
    total = _residual_sd(panel, outcome)
    _, quiet_panel = simulate_and_load(
        n_teams, n_weeks, 1, {**_truth(params), f"{prefix}_noise_sd": 0.0}
    )
    other = _residual_sd(quiet_panel, outcome)
    params[f"{prefix}_noise_sd"] = float(np.sqrt(max(total**2 - other**2, (0.05 * total) ** 2)))
    # Teams that end before their adoption week also never use it: match the observed share.
    simulated = _never_used(quiet_panel)
    if simulated > 0:
        params["never_adopter_share"] = float(np.clip(never_used**2 / simulated, 0.0, 0.95))
    del quiet_panel
    release_memory()  # the simulated panel and three fits: ~0.5 GB on 2,000 x 260
    return params


@dataclass(repr=False)
class PowerResult(Result):
    """Simulated power, from :func:`power`.

    Attributes
    ----------
    power
        Share of simulated panels where the long-run effect is significant (two-sided, level
        ``alpha``) with the right sign; ``mcse`` its Monte Carlo standard error.
    effect
        Relative long-run effect at full adoption (share of the outcome's level).
    absolute_effect
        The same in the outcome's units.
    reps, n_teams, n_weeks, outcome, alpha, calibration
    """

    _metadata_fields = ("outcome", "effect", "n_teams", "n_weeks", "reps", "alpha")

    power: float
    mcse: float
    effect: float
    absolute_effect: float
    reps: int
    n_teams: int
    n_weeks: int
    outcome: str
    alpha: float
    calibration: dict
    inference: str = "cluster"
    #: ``"simulation"``, or ``"normal bound"`` (:func:`power_bound`: nothing simulated).
    method: str = "simulation"
    #: With ``"normal bound"``: the panel's own standard error of the long-run effect.
    se: float = float("nan")

    @property
    def few_clusters(self) -> bool:
        """Whether the design has fewer than 30 teams or fewer than 10 expected adopting teams,
        where the headline estimate uses the wild bootstrap (:func:`cts.estimate_adoption_effect`
        with ``inference="auto"``)."""
        adopting = self.n_teams * (1 - self.calibration.get("never_adopter_share", 0.0))
        return self.n_teams < MIN_TEAMS or adopting < MIN_ADOPTING_TEAMS

    @property
    def table(self) -> pd.DataFrame:
        """``power`` as ``estimate`` with its Monte Carlo ``se`` and normal interval."""
        z = critical_value()
        return pd.DataFrame(
            {
                "estimate": [self.power],
                "se": [self.mcse],
                "ci_low": [max(0.0, self.power - z * self.mcse)],
                "ci_high": [min(1.0, self.power + z * self.mcse)],
                "p_value": [np.nan],  # power is a share, not a test of zero
            },
            index=pd.Index(["power"], name="quantity"),
        )

    def summary(self) -> str:
        """Power in words."""
        if self.method == "normal bound":
            return (
                f"Power to detect a {self.effect:+.0%} long-run effect on {self.outcome} "
                f"({self.absolute_effect:+.3f} in its units) with {self.n_teams} teams x "
                f"{self.n_weeks} weeks at the {self.alpha:.0%} level: {self.bound_words()}."
            )
        return (
            f"Power to detect a {self.effect:+.0%} long-run effect on {self.outcome} "
            f"({self.absolute_effect:+.3f} in its units) with {self.n_teams} teams x "
            f"{self.n_weeks} weeks at the {self.alpha:.0%} level: {self.power:.0%} (Monte Carlo "
            f"SE {self.mcse:.1%}, {self.reps} simulated panels; {self._test_note()})."
        )

    def bound_words(self) -> str:
        """How a ``"normal bound"`` power was obtained, in words (empty for a simulated one)."""
        if self.method != "normal bound":
            return ""
        shown = math.floor(1000 * min(self.power, BOUND_POWER)) / 10
        return (
            f"at least {shown:g}%, not simulated: a normal "
            f"approximation with {SE_INFLATION:g} times the standard error of the panel's own "
            f"estimate ({self.se:.3g}, clustered by team, bias-corrected fit: the test each "
            f"simulated panel gets) puts the effect {abs(self.absolute_effect) / self.se:.0f} "
            "standard errors from zero"
        )

    def _test_note(self) -> str:
        if self.inference != "cluster":
            return f"the test is the one the headline uses ({self.inference})"
        if self.few_clusters:
            return (
                f"the test is the clustered one, which over-rejects below {MIN_TEAMS} teams or "
                f"{MIN_ADOPTING_TEAMS} adopting teams, where the headline uses the wild "
                "bootstrap: this power is optimistic; pass inference='auto' for the headline's test"
            )
        return "the test is the clustered one, as the headline's with this many teams"


def power(
    panel: pd.DataFrame,
    effect: float,
    *,
    outcome: str = "cr_velocity",
    n_teams: int | None = None,
    n_weeks: int | None = None,
    reps: int = 200,
    alpha: float = 0.05,
    seed: int = 0,
    workers: int | None = None,
    progress: bool = True,
    calibration: dict | None = None,
    inference: str = "cluster",
    bootstrap_reps: int = 199,
    precision: float | None = None,
) -> PowerResult:
    """Probability of detecting a relative long-run effect, by simulation.

    Parameters
    ----------
    panel
        The panel to mimic (:func:`calibrate`).
    effect
        Long-run effect of full adoption as a share of the outcome's level (0.05 = +5%).
    outcome
        ``cr_velocity`` or ``deploy_velocity``.
    n_teams, n_weeks
        Design to evaluate (default: the panel's).
    reps, alpha, seed
        Simulated panels, test level, first seed.
    workers, progress
        Processes (default: all cores) and a progress bar.
    calibration
        Reuse a :func:`calibrate` result.
    inference, bootstrap_reps
        The test of each simulated panel: ``"cluster"`` (default; fast) or ``"auto"``, the
        headline's own choice (:func:`cts.estimate_adoption_effect`: the wild bootstrap, with
        ``bootstrap_reps`` draws, below 30 teams or 10 adopting teams), about 20x slower there.
        With ``"cluster"`` on such a design the summary says the power is optimistic.
    precision
        Stop early once the Monte Carlo SE is at most this (``None``, default: run every rep).
        Panels are simulated in rounds, :data:`MIN_REPS` then :data:`ROUND` at a time (in one
        pool of processes; seeds in order, so the first ``n`` panels are the same as without
        stopping); after each round the SE is judged from the share of hits
        with one hit and one miss added, ``p~ = (hits + 1) / (n + 2)``, so that 20 hits in 20
        panels (SE 0 as reported) count as an SE of 4.6%, not 0. Only a power near 0 or 1
        stops early; the result's ``reps`` says how many panels it rests on.

    Returns
    -------
    PowerResult
    """
    if inference not in ("cluster", "auto"):
        raise ValueError(f"inference must be 'cluster' or 'auto', not {inference!r}")
    if precision is not None and not 0 < precision < 0.5:
        raise ValueError(f"precision is a Monte Carlo SE between 0 and 0.5, not {precision}")
    params = _design(panel, effect, outcome, n_teams, n_weeks, calibration)
    jobs = [
        (*job, inference, bootstrap_reps)
        for job in _jobs(params, effect, outcome, reps, alpha, seed)
    ]
    workers = workers or default_workers()
    if params["n_teams"] * params["n_weeks"] * len(jobs) < POOL_TEAM_WEEKS:
        workers = 1  # less work than starting a pool of processes costs
    hits: list[bool] = []
    try:
        with job_pool(workers) as run:  # one pool for every round
            while len(hits) < len(jobs):
                if precision is None:
                    size = len(jobs)
                else:
                    size = ROUND if hits else MIN_REPS
                batch = jobs[len(hits) : len(hits) + size]
                rows = run(_detect, batch, progress=progress, desc="power")
                hits += [row["hit"] for row in rows]
                if precision is not None and _precise(hits, precision):
                    break
    finally:
        thaw()  # the jobs may have run in this process
    result = _power_result(hits, params, effect, outcome, alpha)
    result.inference = inference
    return result


def power_bound(
    panel: pd.DataFrame,
    effect: float,
    calibration: dict,
    *,
    outcome: str = "cr_velocity",
    alpha: float = 0.05,
    inflation: float = SE_INFLATION,
) -> PowerResult:
    """A lower bound on power at the panel's own size from its own standard error, simulating
    nothing: ``Phi(|effect * level| / (inflation * SE) - z)``, with ``SE`` the clustered SE of
    the panel's long-run estimate by the test each simulated panel of :func:`power` gets
    (bias-corrected fit) and ``z`` the two-sided critical value at ``alpha`` (the rejections
    with the wrong sign left out, so a bound). ``inflation`` (default 2) leaves room for a
    simulated panel's SE to exceed the panel's own. For a large panel, where power is 1 to any
    precision a simulation could reach and one simulated panel costs seconds and gigabytes.

    Parameters
    ----------
    panel
        The panel.
    effect
        Relative long-run effect (share of the outcome's level, as in :func:`power`).
    calibration
        :func:`calibrate`'s result for ``outcome`` (its level and design).
    outcome, alpha
        As in :func:`power`.
    inflation
        Factor on the panel's own standard error.

    Returns
    -------
    PowerResult
        With ``method="normal bound"``, ``reps=0``, ``mcse=0`` and the panel's ``se``.
    """
    params = _design(panel, effect, outcome, None, None, calibration)
    if inflation < 1:
        raise ValueError(f"inflation must be at least 1, not {inflation}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FewTeamsWarning)
        fit = estimate_adoption_effect(
            windowed(panel), outcome=outcome, inference="cluster", method="bias_corrected",
            serial_test=False,
        )  # fmt: skip
    se = float(fit.table["se"]["long_run"])
    absolute = effect * params[f"{_PREFIX[outcome]}_level"]
    z = critical_value(1 - alpha)
    bound = float(stats.norm.cdf(abs(absolute) / (inflation * se) - z))
    result = _power_result([], params, effect, outcome, alpha, share=bound)
    result.method, result.se = "normal bound", se
    return result


def _precise(hits: list[bool], precision: float, minimum: int = MIN_REPS) -> bool:
    """Whether ``hits`` pin power down to a Monte Carlo SE of ``precision`` (see :func:`power`),
    after at least ``minimum`` panels."""
    n = len(hits)
    share = (sum(hits) + 1) / (n + 2)
    return n >= minimum and np.sqrt(share * (1 - share) / n) <= precision


def _design(
    panel: pd.DataFrame,
    effect: float,
    outcome: str,
    n_teams: int | None,
    n_weeks: int | None,
    calibration: dict | None,
) -> dict:
    """The calibrated simulation parameters for one design (checks ``outcome`` and ``effect``)."""
    if outcome not in _PREFIX:
        raise ValueError(f"power supports {', '.join(_PREFIX)}, not {outcome!r}")
    if not -1 < effect < 10:
        raise ValueError(f"effect is a share of the outcome's level (0.05 = +5%), not {effect}")
    params = dict(calibration or calibrate(panel, outcome))
    params["n_teams"] = n_teams or params["n_teams"]
    params["n_weeks"] = n_weeks or params["n_weeks"]
    return params


def _jobs(
    params: dict, effect: float, outcome: str, reps: int, alpha: float, seed: int
) -> list[tuple]:
    """One :func:`_detect` job per simulated panel of the design ``params``."""
    prefix = _PREFIX[outcome]
    absolute = effect * params[f"{prefix}_level"]
    short_run = absolute * (1 - params[f"{prefix}_persistence"])
    truth = {**_truth(params), f"{prefix}_effect": short_run}
    return [
        (params["n_teams"], params["n_weeks"], seed + r, outcome, truth, alpha, np.sign(effect))
        for r in range(reps)
    ]


def _power_result(
    hits: list[bool],
    params: dict,
    effect: float,
    outcome: str,
    alpha: float,
    share: float | None = None,
) -> PowerResult:
    """The result of ``hits``, or of a power ``share`` computed without simulating (no hits)."""
    if share is None:
        share = float(np.mean(hits))
    return PowerResult(
        power=share,
        mcse=float(np.sqrt(share * (1 - share) / len(hits))) if hits else 0.0,
        effect=effect,
        absolute_effect=effect * params[f"{_PREFIX[outcome]}_level"],
        reps=len(hits),
        n_teams=params["n_teams"],
        n_weeks=params["n_weeks"],
        outcome=outcome,
        alpha=alpha,
        calibration=params,
    )


def minimum_detectable_effect(
    panel: pd.DataFrame,
    *,
    outcome: str = "cr_velocity",
    target: float = 0.8,
    effects: tuple[float, ...] | None = None,
    reps: int = 100,
    max_evaluations: int = 4,
    **options: Any,
) -> tuple[float, pd.DataFrame]:
    """Smallest relative long-run effect detected with probability ``target``.

    Power is simulated with the same seeds at every effect (so the curve is smooth) and the
    crossing of ``target`` interpolated linearly. Given ``effects``, each is evaluated. By
    default the search starts at the normal-approximation guess ``2.8 * SE / level`` from the
    panel's own estimate and steps by 1.4x up or down until two evaluated effects bracket
    ``target``: usually two evaluations, at most ``max_evaluations``.

    Returns
    -------
    mde : float
        NaN when no evaluated effect reaches ``target``.
    curve : pandas.DataFrame
        ``power`` and ``mcse`` per evaluated effect, sorted by effect.
    """
    calibration = options.pop("calibration", None) or calibrate(panel, outcome)

    def evaluate(effect: float) -> PowerResult:
        return power(panel, effect, outcome=outcome, calibration=calibration, reps=reps, **options)

    if effects is not None:
        results = {e: evaluate(e) for e in effects}
    else:
        prefix = _PREFIX[outcome]
        fit = estimate_adoption_effect(panel, outcome=outcome, inference="cluster")
        se = fit.table["se"]["long_run"]
        effect = round(float(2.8 * se / calibration[f"{prefix}_level"]), 4)
        results = {}
        for _ in range(max_evaluations):
            results[effect] = evaluate(effect)
            powers = {e: r.power for e, r in results.items()}
            reached = [e for e, p in powers.items() if p >= target]
            if reached and any(p < target and e < min(reached) for e, p in powers.items()):
                break
            step = 1 / 1.4 if reached else 1.4
            effect = round((min(reached) if reached else max(powers)) * step, 4)
    effects_sorted = sorted(results)
    curve = pd.DataFrame(
        {
            "power": [results[e].power for e in effects_sorted],
            "mcse": [results[e].mcse for e in effects_sorted],
        },
        index=pd.Index(effects_sorted, name="effect"),
    )
    return _crossing(curve, target), curve


def power_grid(
    panel: pd.DataFrame,
    effect: float,
    *,
    outcome: str = "cr_velocity",
    n_teams: tuple[int, ...] = (50, 100, 200, 400),
    n_weeks: tuple[int, ...] = (26, 52, 104),
    reps: int = 100,
    alpha: float = 0.05,
    seed: int = 0,
    workers: int | None = None,
    progress: bool = True,
    calibration: dict | None = None,
) -> pd.DataFrame:
    """Power of ``effect`` for each number of teams and weeks (for :func:`cts.plots.plot_power`).

    Every design's panels run in one pool of workers (starting a pool per design would cost
    more than the smaller designs' simulations). Arguments as in :func:`power`.
    """
    calibration = calibration or calibrate(panel, outcome)
    designs = [
        _design(panel, effect, outcome, teams, weeks, calibration)
        for weeks in n_weeks
        for teams in n_teams
    ]
    jobs = [job for params in designs for job in _jobs(params, effect, outcome, reps, alpha, seed)]
    try:
        hits = [
            row["hit"]
            for row in run_jobs(
                _detect, jobs, workers=workers, progress=progress, desc="power grid"
            )
        ]
    finally:
        thaw()  # the jobs may have run in this process
    rows = []
    for k, params in enumerate(designs):
        result = _power_result(hits[k * reps : (k + 1) * reps], params, effect, outcome, alpha)
        rows.append(
            {
                "effect": effect,
                "n_teams": result.n_teams,
                "n_weeks": result.n_weeks,
                "power": result.power,
                "mcse": result.mcse,
            }
        )
    return pd.DataFrame(rows)


#: Panels per design :func:`power_study` simulates before a design of its grid may stop: with
#: every (or no) panel a hit, ``p~ = 11/12`` gives a Monte Carlo SE of 8.7 points at 10.
GRID_MIN_REPS = 10


@dataclass(repr=False)
class PowerStudy(Result):
    """Power of one effect on each outcome, at the panel's size and over a grid of designs,
    from :func:`power_study`.

    Attributes
    ----------
    at_size
        Outcome -> :class:`PowerResult` at the panel's own number of teams and weeks.
    grid
        One row per outcome and design: ``outcome, effect, n_teams, n_weeks, power, mcse,
        reps`` (the panels each point rests on: fewer where power was pinned down early).
    effect, alpha
    precision, grid_precision
        The Monte Carlo SE at which a design stopped early (see :func:`power_study`).
    """

    _metadata_fields = ("effect", "alpha")

    at_size: dict[str, PowerResult]
    grid: pd.DataFrame
    effect: float
    alpha: float
    precision: float
    grid_precision: float

    @property
    def table(self) -> pd.DataFrame:
        """Power at the panel's size per outcome, with its Monte Carlo SE and panels."""
        return pd.DataFrame(
            {
                "n_teams": [r.n_teams for r in self.at_size.values()],
                "n_weeks": [r.n_weeks for r in self.at_size.values()],
                "power": [r.power for r in self.at_size.values()],
                "mcse": [r.mcse for r in self.at_size.values()],
                "reps": [r.reps for r in self.at_size.values()],
            },
            index=pd.Index(list(self.at_size), name="outcome"),
        )

    def grid_for(self, outcome: str) -> pd.DataFrame:
        """The grid's rows of one outcome (for :func:`cts.plots.plot_power`)."""
        return self.grid.loc[self.grid["outcome"] == outcome].reset_index(drop=True)

    def summary(self) -> str:
        """Power at the panel's size for each outcome."""
        return " ".join(result.summary() for result in self.at_size.values())


def power_study(
    panel: pd.DataFrame,
    effect: float,
    *,
    outcomes: tuple[str, ...] = ("cr_velocity", "deploy_velocity"),
    n_teams: tuple[int, ...] = (25, 50, 100),
    n_weeks: tuple[int, ...] = (26, 52),
    reps: int = 50,
    grid_reps: int = 20,
    alpha: float = 0.05,
    seed: int = 0,
    workers: int | None = None,
    progress: bool = True,
    calibrations: dict[str, dict] | None = None,
    precision: float = 0.1,
    grid_precision: float = 0.1,
    bound_team_weeks: int | None = BOUND_TEAM_WEEKS,
) -> PowerStudy:
    """Power of ``effect`` on each outcome at the panel's size (:func:`power`) and by number of
    teams and weeks (:func:`power_grid`): each simulated panel carries every outcome's
    calibration and is tested for each, and every design runs in one pool of processes.

    Designs run in rounds (seeds in order, as in :func:`power`): :data:`GRID_MIN_REPS` panels
    first, then :data:`ROUND` more each until, for every outcome, its Monte Carlo SE (judged
    with a hit and a miss added, see ``precision`` in :func:`power`) is at most ``precision``
    (the panel's own design) or ``grid_precision`` (grid), or it has ``reps`` (``grid_reps``)
    panels. A point's SE is then at most ``max(precision, 0.5 / sqrt(reps))`` (10 and 11
    points by default); a design where every or no panel detects the effect stops after 10
    (:func:`cts.reporting.formatting.format_power` then gives the one-sided 95% bound: at
    least 74%). On a panel of fewer than :data:`POOL_PANEL_TEAM_WEEKS` team-weeks the panels
    are simulated in this process.

    From ``bound_team_weeks`` team-weeks (:data:`BOUND_TEAM_WEEKS`; ``None``: never) the
    panel's own size is first bounded without simulating (:func:`power_bound`): when the bound
    is at least :data:`BOUND_POWER` for every outcome, ``at_size`` holds the bounds (``method``
    ``"normal bound"``, ``reps`` 0; their summary says what was done) and only the grid is
    simulated; otherwise the panel's size is simulated as below it.

    Parameters
    ----------
    panel, effect, alpha, seed, workers, progress
        As in :func:`power`.
    outcomes
        ``cr_velocity`` and/or ``deploy_velocity``, each calibrated to the panel
        (:func:`calibrate`; pass ``calibrations``, outcome -> its result, to reuse them). The
        share of teams that never use the assistant is the panel's, the same for each.
    n_teams, n_weeks
        The grid's designs.
    reps, grid_reps
        Most panels per design at the panel's size and on the grid.
    precision, grid_precision
        Monte Carlo SE at which a design stops early.
    bound_team_weeks
        Panel size (teams x weeks) from which power at that size may be bounded instead.

    Returns
    -------
    PowerStudy
    """
    calibrations = calibrations or {}
    if not outcomes or len(set(outcomes)) < len(outcomes):
        raise ValueError(f"outcomes must name each outcome once, not {outcomes!r}")
    merged: dict = {}
    for outcome in outcomes:
        merged.update(calibrations.get(outcome) or calibrate(panel, outcome))
    own = _design(panel, effect, outcomes[0], None, None, merged)
    bounds = _bounds(panel, effect, outcomes, merged, alpha, bound_team_weeks)
    designs = ([] if bounds else [(own, reps, precision, min(GRID_MIN_REPS, reps))]) + [
        (_design(panel, effect, outcomes[0], teams, weeks, merged), grid_reps, grid_precision,
         min(GRID_MIN_REPS, grid_reps))
        for weeks in n_weeks
        for teams in n_teams
    ]  # fmt: skip
    size = own["n_teams"] * own["n_weeks"]
    hits = _rounds(designs, effect, outcomes, alpha, seed, (workers, size), progress)
    results = ([bounds] if bounds else []) + [
        [
            _power_result([h[k] for h in found], params, effect, outcome, alpha)
            for k, outcome in enumerate(outcomes)
        ]
        for found, (params, *_) in zip(hits, designs, strict=True)
    ]
    grid = pd.DataFrame(
        [
            {"outcome": r.outcome, "effect": effect, "n_teams": r.n_teams,
             "n_weeks": r.n_weeks, "power": r.power, "mcse": r.mcse, "reps": r.reps}
            for k in range(len(outcomes))
            for design in results[1:]
            for r in [design[k]]
        ]
    )  # fmt: skip
    at_size = {r.outcome: r for r in results[0]}
    return PowerStudy(at_size, grid, effect, alpha, precision, grid_precision)


def _bounds(
    panel: pd.DataFrame,
    effect: float,
    outcomes: tuple[str, ...],
    calibration: dict,
    alpha: float,
    team_weeks: int | None,
) -> list[PowerResult]:
    """:func:`power_bound` per outcome when the panel has ``team_weeks`` or more and every bound
    is at least :data:`BOUND_POWER`; else nothing (simulate)."""
    if team_weeks is None or calibration["n_teams"] * calibration["n_weeks"] < team_weeks:
        return []
    bounds = []
    for outcome in outcomes:
        bounds.append(power_bound(panel, effect, calibration, outcome=outcome, alpha=alpha))
        if bounds[-1].power < BOUND_POWER:
            return []
    return bounds


def _rounds(
    designs: list[tuple[dict, int, float, int]],
    effect: float,
    outcomes: tuple[str, ...],
    alpha: float,
    seed: int,
    pool: tuple[int | None, int],
    progress: bool,
) -> list[list[tuple[bool, ...]]]:
    """Each design's hits (one per outcome, per panel), in rounds until every outcome is
    precise or the design has all its panels. ``pool``: the workers asked for and the panel's
    own team-weeks (whether a pool pays, see :data:`POOL_PANEL_TEAM_WEEKS`)."""
    jobs = [_joint_jobs(params, effect, outcomes, cap, alpha, seed) for params, cap, *_ in designs]
    workers, own = pool
    work = sum(p["n_teams"] * p["n_weeks"] * cap for p, cap, *_ in designs)
    small = work < POOL_TEAM_WEEKS or own < POOL_PANEL_TEAM_WEEKS
    workers = 1 if small else (workers or default_workers())
    hits: list[list[tuple[bool, ...]]] = [[] for _ in designs]

    def settled(k: int) -> bool:
        _, cap, precise, first = designs[k]
        done = hits[k]
        return len(done) >= cap or (
            len(done) > 0
            and all(_precise([h[i] for h in done], precise, first) for i in range(len(outcomes)))
        )

    try:
        with job_pool(workers) as run:
            while True:
                batch = [  # (design, job): each unsettled design's next round
                    (k, job)
                    for k in range(len(designs))
                    if not settled(k)
                    for job in jobs[k][len(hits[k]) :][: ROUND if hits[k] else designs[k][3]]
                ]
                if not batch:
                    break
                # The largest panels first, so that no worker is left with one at the end.
                order = sorted(range(len(batch)), key=lambda i: -batch[i][1][0] * batch[i][1][1])
                rows = run(_detect, [batch[i][1] for i in order], progress=progress, desc="power")
                found = dict(zip(order, rows, strict=True))
                for i, (k, _) in enumerate(batch):  # in seed order within each design
                    hits[k].append(tuple(found[i]["hits"]))
    finally:
        thaw()  # the jobs may have run in this process
    return hits


def _joint_jobs(
    params: dict, effect: float, outcomes: tuple[str, ...], reps: int, alpha: float, seed: int
) -> list[tuple]:
    """:func:`_jobs` for several outcomes at once: each panel carries every outcome's effect."""
    truth = {}
    for outcome in outcomes:
        truth.update(_jobs(params, effect, outcome, 1, alpha, seed)[0][4])
    return [
        (params["n_teams"], params["n_weeks"], seed + r, tuple(outcomes), truth, alpha,
         np.sign(effect))
        for r in range(reps)
    ]  # fmt: skip


def _crossing(curve: pd.DataFrame, target: float) -> float:
    effects, powers = curve.index.to_numpy(float), curve["power"].to_numpy(float)
    above = np.flatnonzero(powers >= target)
    if len(above) == 0:
        return float("nan")
    k = above[0]
    if k == 0:
        return float(effects[0])
    e0, e1, p0, p1 = effects[k - 1], effects[k], powers[k - 1], powers[k]
    return float(e0 + (target - p0) * (e1 - e0) / (p1 - p0))


def _detect(job: tuple) -> list[dict]:
    """Simulate one panel and test its effect: ``hit`` for one outcome, or ``hits`` (one per
    outcome, in order) when the job names several."""
    n_teams, n_weeks, seed, outcome, truth, alpha, sign, *test = job
    inference, bootstrap_reps = test or ("cluster", 199)
    _, panel = simulate_and_load(n_teams, n_weeks, seed, truth)
    outcomes = (outcome,) if isinstance(outcome, str) else tuple(outcome)
    hits = [_hit(panel, name, alpha, sign, inference, bootstrap_reps, seed) for name in outcomes]
    del panel
    release_job_memory()  # a worker runs many jobs: free each panel's fits before the next
    return [{"hit": hits[0], "hits": hits}]


def _hit(
    panel: pd.DataFrame,
    outcome: str,
    alpha: float,
    sign: float,
    inference: str,
    bootstrap_reps: int,
    seed: int,
) -> bool:
    """Whether the long-run effect on ``outcome`` is significant with the right sign."""
    # By default the clustered test, not the resampling one a few-teams report uses: a
    # bootstrap per simulated panel makes power ~20x slower (inference="auto" asks for it). The
    # summary says when that flatters, so the few-teams warning is not repeated for every panel.
    # bias_corrected, not the default auto: the simulated panels have none of the threats auto
    # tests for, and on such panels its long-run SD is within 3% of auto's (threat cells of
    # make validate, 39 and 104 weeks), at a third of the cost per panel.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FewTeamsWarning)
        effect = estimate_adoption_effect(
            panel,
            outcome=outcome,
            inference=inference,
            method="bias_corrected",
            reps=bootstrap_reps,
            seed=seed,
            serial_test=False,  # power reads only the long-run estimate's p-value
        )
    row = effect.table.loc["long_run"]
    # With no true effect any rejection counts (the test's size); otherwise the sign must match.
    right_sign = sign == 0 or np.sign(row["estimate"]) == sign
    return bool(row["p_value"] < alpha and right_sign)


def _net_of_ai(panel: pd.DataFrame, outcome: str, long_run: float) -> pd.Series:
    """The outcome without the AI effect, per unit of the architecture's deployment level."""
    scale: float | pd.Series = 1.0
    if outcome == "deploy_velocity" and "architecture" in panel:
        scale = panel["architecture"].map(_ARCHITECTURE_MULTIPLIER).fillna(1.0)
    return (panel[outcome] - long_run * panel["ai_usage_rate"]) / scale


def _never_used(panel: pd.DataFrame) -> float:
    return float((panel.groupby("team_id")["ai_active_builders"].sum() == 0).mean())


def _truth(params: dict) -> dict:
    return {k: v for k, v in params.items() if k not in ("n_teams", "n_weeks")}


def _residual_sd(panel: pd.DataFrame, outcome: str) -> float:
    data = panel.assign(_lag=lag(panel, outcome)).dropna(subset=["_lag"])
    fit = pf.feols(
        f"{outcome} ~ _lag + ai_usage_rate + {' + '.join(DEFAULT_CONTROLS)} | team_id + week",
        data,
    )
    residuals = fit.resid()
    # residual degrees of freedom: observations less slopes and (connected) team and week effects
    dof = len(residuals) - len(fit.coef()) - data["team_id"].nunique() - data["week"].nunique() + 1
    return float(np.sqrt(np.sum(residuals**2) / dof))
