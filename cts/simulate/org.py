"""A synthetic engineering organization whose causal truth is known.

Each team's CR velocity and deployment velocity follow the dynamic two-way fixed-effects model
that cts estimates,

    y_it = a_i + l_t + b * y_i,t-1 + g_i * usage_it + c * health_it + d * pages_it + e_it,

written in *observed* quantities: ``y`` is the integer count divided by ``n_builders`` and the
recursion feeds the observed value forward, so the model holds exactly in the data an estimator
sees; unbiased stochastic rounding only adds a bounded, mean-zero term to ``e``. Around it sits
what makes a real organization hard: team effects, holiday and December-freeze weeks, team-size
changes, teams that start and end (reorgs) and data gaps, staggered adoption that ramps up over
weeks and starts earlier in faster teams (selection on the team effect), and never-adopters.

Pages per on-call builder have two sides: each takes an on-call builder away from planned work,
and many end in a production fix (a CR merged and deployed to resolve the incident). By default
the fixes outweigh the lost capacity (``d > 0``, ``cr_page_effect`` and ``deploy_page_effect``),
so a team ships more units in weeks with more pages and its cost to serve falls with pages:
reactive work that ships, not a sign that pages are cheap. Cost to serve rises with rollbacks and
interventions (through ``c < 0``) and falls with velocity, by the amounts in
:class:`SimulationParams`. Optionally a second initiative,
a deployment-automation rollout timed close to each team's AI adoption, raises both velocities;
it exists to show that estimating initiatives one at a time and adding them up overstates the
total.

Three switches break the assumptions of the default estimator, each with its truth (off by
default, and then the panel is bit-identical to what it was before they existed):

``feedback``
    Usage responds to the team's own recent shocks (teams reach for the assistant after a bad
    week): an adopter that has not started yet starts early with weekly probability
    ``min(1, 0.2 * feedback * bad)``, and a started team's ramp advances
    ``1 + 4 * feedback * bad`` weeks instead of one, where ``bad = max(0, -z)`` and ``z`` is
    last week's outcome shock of the team (the sum of its standardized CR and deployment
    shocks over sqrt 2). Usage is then
    *predetermined*, not strictly exogenous. The effects are unchanged, so the truth is too.
``error_ar``
    The weekly shocks are AR(1) with this coefficient, ``e_t = rho e_t-1 + sqrt(1 - rho^2) u_t``
    (same marginal SD). The structural ``short_run``, ``persistence`` and ``long_run`` are
    unchanged; a model with one lag is misspecified. Short and long run stay estimable (an
    AR(1) shock turns the model into distributed lags with the same long-run effect), but the
    outcome's lag sum has no truth to score: the common-factor form of the latent recursion has
    two lags summing to ``b + rho - b rho``, yet observed velocities are counts, whose rounding
    adds white noise, so the observed shocks are ARMA and the lag sum of a finite distributed
    lag model lies below that and depends on the lag order (CR velocity, 2,000 teams x 104
    weeks: 0.60 with two lags, 0.59 with three or four, against 0.65; deployments 0.43 against
    0.58).
``persistence_spread``
    Team-specific persistence ``b_i = b + spread * u_i``, ``u_i`` uniform on (-1, 1), the same
    ``u_i`` for both outcomes. The truth's ``persistence`` is the mean of the teams' ``b_i`` and
    ``long_run`` the mean of the teams' own long runs, ``mean g_i / (1 - b_i)`` (the average
    effect a team reaches; ``g / (1 - mean b_i)`` is 10-15% smaller).

Three more switches break the assumptions of a pooled two-way fixed-effects fit with one week
effect for all teams (off by default, and then the panel is bit-identical too):

``effect_spread`` (with ``early_adopters_gain``)
    Each team's effects are ``(1 + effect_spread * u_i)`` times the mean, ``u_i`` in (-1, 1):
    ``u_i = w * timing_i + (1 - w) * uniform(-1, 1)`` with ``w = early_adopters_gain`` and
    ``timing_i`` running from +1 for the first adopter to -1 for the last (by planned adoption
    week, among adopters), so with ``w > 0`` early adopters gain more.
``orgs`` (with ``org_wave`` and ``org_shock_sd``)
    Teams belong to ``orgs`` organizations (an ``org`` column, ``org-1`` ...). The assistant
    opens org by org: org ``j`` (from 0) ``j * round(org_wave * n_weeks)`` weeks after the first,
    and each team's adoption plan shifts with its org's opening. Each org has its own
    persistent weekly shocks: an AR(1) (coefficient 0.9, SD ``org_shock_sd`` of the level) and
    three events at random weeks, a hiring wave (onboarding: -10% CRs, -5% deployments for 6
    weeks), a freeze (-5% CRs, -20% deployments for 3 weeks) and a launch (+10% CRs, +10%
    deployments for 4 weeks). The effects are unchanged.
``learning_weeks``
    Teams learn the assistant over their first ``learning_weeks`` weeks of use: in its ``k``-th
    week since first use a team gets ``min(1, k / learning_weeks)`` of its effect. ``short_run``
    is the effect the teams' weeks of use have averaged (each team's gains projected on its
    usage filtered by the persistence, :func:`_learning_short_run`), what an estimator of one
    effect per team targets; the learned (full) effect is ``short_run_learned``.

The truth also carries what a counterfactual (imputation) estimator targets, for every panel:
the simulator runs each team's no-assistant path beside the observed one, with the same shocks
and the same delivery health, pages and automation (the direct effect, as ``short_run``), in
expectation over the counts' rounding: ``d_it = b_i d_i,t-1 + g_it usage_it``. Over the observed
team-weeks from each team's first week of use on ("treated"), ``att`` is the mean of ``d_it``
(per builder-week at observed usage, carry-over included), ``att_by_weeks_of_use`` its profile by
weeks since first use (0 = the first week), and ``extra_units`` the total
``sum d_it * n_builders`` (extra CRs merged, or extra deployments, over the window). With
``effect_spread`` or ``learning_weeks``, ``short_run`` is the mean over the teams observed using
the assistant, equal weights, of each team's effect per builder-week at full usage ``g_i``
(with ``learning_weeks``, averaged over its weeks of use as above), and ``long_run`` is
``short_run / (1 - persistence)`` (as with ``persistence_spread``).

``tools={"copilot": 1.0, "cursor": 1.6}`` (not a threat) gives each adopting team one of several
AI tools, each with its own effect multiplier, and per-tool usage and seat columns
(:mod:`cts.simulate.tools`).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit, logit
from scipy.stats import norm, rankdata

from cts.panel import ARCHITECTURES, COUNT_COLUMNS, PanelWarning, load_panel
from cts.simulate.tools import add_tool_columns, draw_tools, tool_truth

__all__ = [
    "DEPLOY_LEVEL_BY_ARCHITECTURE",
    "SimulatedOrg",
    "SimulationParams",
    "simulate_and_load",
    "simulate_org",
]

_ARCHITECTURE_SHARES = (0.5, 0.3, 0.2)  # service, monolith, trunk
DEPLOY_LEVEL_BY_ARCHITECTURE = (1.2, 0.8, 1.0)  # multiples of deploy_level
# Effect multipliers with the heterogeneity switch on; each averages to one over its groups'
# expected shares (architecture shares above; about half of teams start with < 8 builders).
_EFFECT_BY_ARCHITECTURE = {"service": 1.4, "monolith": 0.5, "trunk": 0.75}
_EFFECT_BY_TEAM_SIZE = {"small": 1.5, "large": 0.5}
_SMALL_TEAM = 8  # builders at the start: below is "small" for the team-size heterogeneity
_ORG_SHOCK_AR = 0.9  # persistence of each org's weekly shock
# Org events: (name, relative CR shock, relative deployment shock, weeks).
_ORG_EVENTS = (("hiring", -0.10, -0.05, 6), ("freeze", -0.05, -0.20, 3), ("launch", 0.10, 0.10, 4))
# Per-week paths the truth is computed from (kept out of the panel).
_EFFECT_PATHS = (
    "cr_gain",
    "deploy_gain",
    "cr_full",
    "deploy_full",
    "cr_exposure",
    "deploy_exposure",
    "weeks_of_use",
)
_UNITS = {"cr_velocity": ("cr", "crs_merged"), "deploy_velocity": ("deploy", "deployments")}


@dataclass(frozen=True)
class SimulationParams:
    """The true parameters of :func:`simulate_org` (each can be passed as a keyword).

    Velocities are per builder-week; effects are per unit of AI usage rate, i.e. the change from
    no builder to every builder using the assistant.
    """

    start: str = "2023-01-02"
    cr_effect: float = 0.30
    deploy_effect: float = 0.10
    cr_persistence: float = 0.5
    deploy_persistence: float = 0.4
    cr_level: float = 3.0
    deploy_level: float = 1.5
    team_spread: float = 0.2
    #: The spread of deployment velocity's team means, when it differs from CR velocity's
    #: (``None``: ``team_spread``); power simulates both outcomes on one panel with it.
    deploy_team_spread: float | None = None
    cr_noise_sd: float = 0.30
    deploy_noise_sd: float = 0.10
    cr_rollback_effect: float = -2.0
    deploy_rollback_effect: float = -3.0
    cr_intervention_effect: float = -1.5
    deploy_intervention_effect: float = -2.5
    cr_page_effect: float = 0.10  # net of the capacity a page costs: fixes merged
    deploy_page_effect: float = 0.10  # and deployed to resolve incidents
    never_adopter_share: float = 0.2
    ramp_weeks: tuple[int, int] = (4, 16)
    adoption_selection: float = 1.0
    heterogeneity: str | None = None
    second_initiative: bool = False
    automation_cr_effect: float = 0.20
    automation_deploy_effect: float = 0.15
    bad_control: bool = False
    bad_control_strength: float = 0.04
    gap_rate: float = 0.01
    turnover: float = 0.25
    feedback: float = 0.0
    error_ar: float = 0.0
    persistence_spread: float = 0.0
    effect_spread: float = 0.0
    early_adopters_gain: float = 0.0
    orgs: int = 0
    org_wave: float = 0.1
    org_shock_sd: float = 0.05
    learning_weeks: int = 0
    tools: dict[str, float] | None = None

    def __post_init__(self) -> None:
        if self.tools is not None and (
            len(self.tools) < 1 or any(not 0 <= m < 10 for m in self.tools.values())
        ):
            raise ValueError("tools maps tool names to effect multipliers in [0, 10)")
        for name in ("cr_persistence", "deploy_persistence"):
            if not -1 < getattr(self, name) < 1:
                raise ValueError(f"{name} must lie in (-1, 1) for a stable process")
        if self.heterogeneity not in (None, "architecture", "team_size"):
            raise ValueError("heterogeneity must be None, 'architecture' or 'team_size'")
        if pd.Timestamp(self.start).day_of_week != 0:
            raise ValueError(f"start must be a Monday, not {self.start}")
        low, high = self.ramp_weeks
        if not 1 <= low <= high:
            raise ValueError(
                f"ramp_weeks must be (low, high) with 1 <= low <= high, not {self.ramp_weeks}"
            )
        for name in ("never_adopter_share", "gap_rate", "turnover"):
            if not 0 <= getattr(self, name) < 1:
                raise ValueError(f"{name} must lie in [0, 1)")
        if self.feedback < 0:
            raise ValueError("feedback must be >= 0")
        if not -1 < self.error_ar < 1:
            raise ValueError("error_ar must lie in (-1, 1) for stationary shocks")
        widest = max(abs(self.cr_persistence), abs(self.deploy_persistence))
        if self.persistence_spread < 0 or widest + self.persistence_spread >= 1:
            raise ValueError(
                "persistence_spread must be >= 0 and keep every team's persistence in (-1, 1)"
            )
        if not 0 <= self.effect_spread < 1:
            raise ValueError("effect_spread must lie in [0, 1): every team's effect keeps its sign")
        if not 0 <= self.early_adopters_gain <= 1:
            raise ValueError("early_adopters_gain must lie in [0, 1]")
        if self.early_adopters_gain and not self.effect_spread:
            raise ValueError("early_adopters_gain needs effect_spread > 0 (the size of the spread)")
        if int(self.orgs) != self.orgs or self.orgs < 0:
            raise ValueError("orgs must be a whole number >= 0 (0: no org column)")
        if self.org_wave < 0 or self.org_shock_sd < 0:
            raise ValueError("org_wave and org_shock_sd must be >= 0")
        if int(self.learning_weeks) != self.learning_weeks or self.learning_weeks < 0:
            raise ValueError("learning_weeks must be a whole number >= 0 (0: no learning)")


@dataclass(frozen=True)
class SimulatedOrg:
    """A simulated panel and the truth that generated it.

    Attributes
    ----------
    panel
        The team-week panel in the :func:`cts.load_panel` schema (integer counts).
    truth
        ``{"cr_velocity": {...}, "deploy_velocity": {...}}``, each with ``short_run`` (g, the
        effect of usage holding delivery health fixed), ``persistence`` (b), ``long_run``
        (g / (1 - b)), ``total_short_run`` (g plus the path through rollbacks when the bad
        control is on), with heterogeneity on ``short_run_by_group`` and with the second
        initiative on ``deploy_automation`` (its ``short_run`` and ``long_run``); and always
        the counterfactual truth over the treated team-weeks (module docstring): ``att``,
        ``att_by_weeks_of_use``, ``extra_units`` with its ``unit``, ``treated_team_weeks``.
    params
        The :class:`SimulationParams` used, with ``n_teams``, ``n_weeks`` and ``seed``.
    events
        The raw event logs the panel came from (:func:`cts.build_panel` rebuilds it exactly);
        computed on access.
    """

    panel: pd.DataFrame
    truth: dict[str, dict[str, Any]]
    params: dict[str, Any]
    source: dict[str, Any] | None = field(default=None, repr=False, compare=False)

    @property
    def events(self) -> dict[str, pd.DataFrame]:
        """The event logs of the event-log contract (docs/sources/event-logs.md), one DataFrame
        per table."""
        from cts.simulate.event_logs import event_logs

        if self.source is None:
            raise ValueError("this SimulatedOrg was built without the source of its event logs")
        return event_logs(self.source, seed=self.params["seed"])

    def __repr__(self) -> str:
        """Its size, seed and the parameters set away from their defaults, then each outcome's
        true effects, not the panel's rows (a dataclass's repr would print them)."""
        defaults = asdict(SimulationParams())
        sizes = ("n_teams", "n_weeks", "seed")
        changed = [
            f"{name}={value!r}"
            for name, value in self.params.items()
            if name in sizes or (name in defaults and value != defaults[name])
        ]
        lines = [f"{type(self).__name__}({', '.join(changed)})"]
        lines.append(
            f"panel: {len(self.panel):,} team-weeks, {self.panel['team_id'].nunique():,} teams"
        )
        for outcome, truth in self.truth.items():
            effects = ", ".join(
                f"{term} {truth[term]:+.3f}"
                for term in ("short_run", "persistence", "long_run", "att")
                if isinstance(truth.get(term), float | int)
            )
            lines.append(f"truth of {outcome}: {effects}")
        return "\n".join(lines)


def simulate_org(
    n_teams: int = 1000, n_weeks: int = 156, seed: int = 0, **truth: Any
) -> SimulatedOrg:
    """Simulate a weekly panel of teams with known AI-adoption effects.

    Parameters
    ----------
    n_teams, n_weeks
        Teams ever observed and calendar weeks covered.
    seed
        Seed for :func:`numpy.random.default_rng`; the same seed gives the same panel.
    **truth
        Overrides of :class:`SimulationParams`, e.g. ``cr_effect=0.5``, ``bad_control=True``,
        ``heterogeneity="architecture"``.

    Returns
    -------
    SimulatedOrg
    """
    if n_teams < 1 or n_weeks < 2:
        raise ValueError("n_teams must be >= 1 and n_weeks >= 2")
    unknown = set(truth) - {f.name for f in fields(SimulationParams)}
    if unknown:
        valid = ", ".join(f.name for f in fields(SimulationParams))
        raise TypeError(f"unknown simulation parameter(s) {sorted(unknown)}; valid: {valid}")
    params = replace(SimulationParams(), **truth)
    rng = np.random.default_rng(seed)
    teams = _draw_teams(n_teams, n_weeks, params, rng)
    _draw_org_threats(teams, n_weeks, params, rng)
    weeks = pd.date_range(params.start, periods=n_weeks, freq="7D")
    panel, source = _simulate_weeks(teams, weeks, params, rng)
    truth = _truth(teams, params)
    _add_treated_truth(truth, source["effect_paths"], panel, params)
    return SimulatedOrg(
        panel=panel,
        source=source,
        truth=truth,
        params={**asdict(params), "n_teams": n_teams, "n_weeks": n_weeks, "seed": seed},
    )


def simulate_and_load(
    n_teams: int, n_weeks: int, seed: int, truth_overrides: dict | None = None
) -> tuple[SimulatedOrg, pd.DataFrame]:
    """Simulate an organization and load its panel with the loader's warnings silenced.

    For Monte Carlo loops and power simulations, which load thousands of panels whose small
    teams are known and wanted.
    """
    sim = simulate_org(n_teams=n_teams, n_weeks=n_weeks, seed=seed, **(truth_overrides or {}))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PanelWarning)
        # The simulator writes the contract (tests/simulate check it): typed, not re-checked.
        return sim, load_panel(sim.panel, validate=False)


def _draw_teams(n: int, n_weeks: int, p: SimulationParams, rng: np.random.Generator) -> dict:
    """Time-invariant team traits: speed, architecture, size, adoption plan, lifetime."""
    speed = rng.standard_normal(n)  # the team effect, in SDs
    architecture = rng.choice(len(ARCHITECTURES), size=n, p=_ARCHITECTURE_SHARES)
    size = np.clip(np.rint(rng.lognormal(np.log(10), 0.4, n)), 2, 40).astype(int)

    # The draws below come in a fixed order (each helper's, then the dict's): the same seed
    # gives the same panel.
    adopter, available, adoption_week = _adoption_plan(n, n_weeks, p, speed, rng)
    first, last = _lifetimes(n, n_weeks, p, rng)
    automation_week = _automation_weeks(n_weeks, p, adopter, adoption_week, available, rng)
    cr_persistence, deploy_persistence = _team_persistence(n, p, rng)
    tool, multiplier = _effect_multipliers(p, architecture, size, adopter, rng)
    return {
        "id": np.array([f"team-{i:04d}" for i in range(1, n + 1)]),
        "tool": tool,
        "speed": speed,
        "architecture": architecture,
        "size": size,
        "adopter": adopter,
        "adoption_week": adoption_week,
        "available": available,
        "cr_persistence": cr_persistence,
        "deploy_persistence": deploy_persistence,
        "automation_week": automation_week,
        "ramp_weeks": rng.integers(p.ramp_weeks[0], p.ramp_weeks[1] + 1, n),
        "peak_usage": rng.beta(8, 2, n),
        "first": first,
        "last": np.minimum(last, n_weeks - 1),
        "multiplier": multiplier,
        "rollback_base": rng.beta(2, 38, n),
        "intervention_base": rng.gamma(4.0, 0.025, n),
        "page_rate": rng.gamma(3.0, 0.5, n),
        "oncall": np.where(
            rng.random(n) < 0.1, 0, np.where((architecture == 0) & (size >= 8), 2, 1)
        ),
        "cost": np.round(rng.uniform(3000, 5000, n) / 50) * 50,
        "release_phase": rng.integers(0, 2, n),
    }


def _adoption_plan(
    n: int, n_weeks: int, p: SimulationParams, speed: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, int, np.ndarray]:
    """Which teams adopt, the first week the assistant is available, and each team's planned
    adoption week: faster teams adopt more often and earlier (selection on the team effect)."""
    adopt_prob = expit(logit(1 - p.never_adopter_share) + p.adoption_selection * speed)
    adopter = rng.random(n) < adopt_prob if p.never_adopter_share > 0 else np.ones(n, bool)
    available = max(2, round(0.15 * n_weeks))
    position = norm.cdf(-0.7 * p.adoption_selection * speed + 0.7 * rng.standard_normal(n))
    adoption_week = available + np.floor(position * 0.6 * n_weeks).astype(int)
    return adopter, available, adoption_week


def _lifetimes(
    n: int, n_weeks: int, p: SimulationParams, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Each team's first and last week: reorgs start some teams late and end some early (at
    least 13 weeks of life)."""
    late = rng.random(n) < p.turnover
    early = rng.random(n) < p.turnover
    first = np.where(late, rng.integers(1, max(2, int(0.6 * n_weeks)), n), 0)
    room = np.maximum(n_weeks - 1 - first - 13, 0)
    last = np.where(early, first + 13 + np.floor(rng.random(n) * room).astype(int), n_weeks - 1)
    return first, last


def _automation_weeks(
    n_weeks: int,
    p: SimulationParams,
    adopter: np.ndarray,
    adoption_week: np.ndarray,
    available: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """The second initiative: most AI adopters automate deployments within weeks of adopting,
    a few other teams at random times; drawn only when on, so panels without it are unchanged
    (never: the largest int64)."""
    n = len(adopter)
    automation_week = np.full(n, np.iinfo(np.int64).max)
    if p.second_initiative:
        near_ai = adopter & (rng.random(n) < 0.8)
        other = ~adopter & (rng.random(n) < 0.3)
        automation_week = np.where(
            near_ai, adoption_week + np.rint(rng.normal(2, 4, n)).astype(int), automation_week
        )
        automation_week = np.where(other, rng.integers(available, n_weeks, n), automation_week)
    return automation_week


def _team_persistence(
    n: int, p: SimulationParams, rng: np.random.Generator
) -> tuple[float | np.ndarray, float | np.ndarray]:
    """The outcomes' persistence, one per team when ``persistence_spread`` is on (drawn only
    then, so panels without it are unchanged)."""
    cr_persistence: float | np.ndarray = p.cr_persistence
    deploy_persistence: float | np.ndarray = p.deploy_persistence
    if p.persistence_spread:
        spread = p.persistence_spread * rng.uniform(-1, 1, n)
        cr_persistence, deploy_persistence = cr_persistence + spread, deploy_persistence + spread
    return cr_persistence, deploy_persistence


def _effect_multipliers(
    p: SimulationParams,
    architecture: np.ndarray,
    size: np.ndarray,
    adopter: np.ndarray,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Each team's tool (-1: none drawn) and the multiplier of its effect: by architecture or
    team size under ``heterogeneity``, times its tool's (tools drawn only when on, so panels
    without them are unchanged)."""
    n = len(adopter)
    multiplier = np.ones(n)
    if p.heterogeneity == "architecture":
        multiplier = np.array([_EFFECT_BY_ARCHITECTURE[a] for a in ARCHITECTURES])[architecture]
    elif p.heterogeneity == "team_size":
        multiplier = np.where(
            size < _SMALL_TEAM, _EFFECT_BY_TEAM_SIZE["small"], _EFFECT_BY_TEAM_SIZE["large"]
        )
    tool = np.full(n, -1)
    if p.tools:
        tool, tool_multiplier = draw_tools(p.tools, adopter, rng)
        multiplier = multiplier * tool_multiplier
    return tool, multiplier


def _draw_org_threats(
    teams: dict, n_weeks: int, p: SimulationParams, rng: np.random.Generator
) -> None:
    """Add the org waves and the spread of effects to ``teams`` (in place).

    Draws only for the switches that are on, after every default draw, so panels without them
    are unchanged.
    """
    n = len(teams["id"])
    teams["org"] = np.zeros(n, dtype=np.int64)
    if p.orgs:
        teams["org"] = rng.integers(0, p.orgs, n)
        gap = round(p.org_wave * n_weeks)
        teams["adoption_week"] = teams["adoption_week"] + gap * teams["org"]
        planned = teams["automation_week"] < np.iinfo(np.int64).max
        teams["automation_week"] = np.where(
            planned & teams["adopter"],
            teams["automation_week"] + gap * teams["org"],
            teams["automation_week"],
        )
    if p.effect_spread:
        adopters = teams["adopter"]
        timing = np.zeros(n)
        if adopters.sum() > 1:  # +1 for the first planned adopter, -1 for the last
            rank = rankdata(teams["adoption_week"][adopters])
            timing[adopters] = 1 - 2 * (rank - 1) / (adopters.sum() - 1)
        weight = p.early_adopters_gain
        spread = weight * timing + (1 - weight) * rng.uniform(-1, 1, n)
        teams["multiplier"] = teams["multiplier"] * (1 + p.effect_spread * spread)


def _org_shocks(
    teams: dict, n_weeks: int, p: SimulationParams, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray] | None:
    """Each org's relative CR and deployment shocks by week (orgs x weeks), or None when off."""
    if not p.orgs:
        return None
    shock = np.zeros((p.orgs, n_weeks))
    innovation = p.org_shock_sd * math.sqrt(1 - _ORG_SHOCK_AR**2)
    shock[:, 0] = p.org_shock_sd * rng.standard_normal(p.orgs)
    for t in range(1, n_weeks):
        shock[:, t] = _ORG_SHOCK_AR * shock[:, t - 1] + innovation * rng.standard_normal(p.orgs)
    cr, deploy = shock.copy(), shock.copy()
    for _, cr_size, deploy_size, length in _ORG_EVENTS:
        starts = rng.integers(0, n_weeks, p.orgs)
        for org, start in enumerate(starts):
            cr[org, start : start + length] += cr_size
            deploy[org, start : start + length] += deploy_size
    return cr, deploy


class _NoAssistantPath:
    """Each team's first week of use, the share of its effect learned, and the gap ``d`` between
    its observed path and its no-assistant path with the same shocks (module docstring)."""

    def __init__(self, n: int, effects: tuple, persistence: tuple, learning_weeks: int) -> None:
        self.full, self.persistence, self.learning_weeks = effects, persistence, learning_weeks
        self.gain = [np.zeros(n), np.zeros(n)]
        self.exposure = [np.zeros(n), np.zeros(n)]  # usage filtered by persistence, unlearned
        self.first_use = np.full(n, np.iinfo(np.int64).max)

    def effects(self, t: int, ai_active: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """This week's CR and deployment effects per unit of usage (learned, if learning)."""
        self.first_use = np.where((ai_active > 0) & (self.first_use > t), t, self.first_use)
        self.weeks_of_use = np.where(self.first_use <= t, t - self.first_use + 1, 0)
        if not self.learning_weeks:
            return self.full
        learned = np.minimum(1.0, self.weeks_of_use / self.learning_weeks)
        return self.full[0] * learned, self.full[1] * learned

    def step(self, usage: np.ndarray, effects: tuple) -> dict[str, np.ndarray]:
        """Advance ``d = b d_prev + g usage`` by one week; this week's :data:`_EFFECT_PATHS`."""
        n = len(usage)
        record = {"weeks_of_use": self.weeks_of_use}
        for k, prefix in enumerate(("cr", "deploy")):
            self.gain[k] = self.persistence[k] * self.gain[k] + effects[k] * usage
            self.exposure[k] = self.persistence[k] * self.exposure[k] + usage
            record[f"{prefix}_gain"] = self.gain[k]
            record[f"{prefix}_exposure"] = self.exposure[k]
            record[f"{prefix}_full"] = np.broadcast_to(self.full[k], n)
        return record


def _week_shocks(
    t: int, base: tuple, org_shocks: tuple | None, org: np.ndarray, p: SimulationParams
) -> tuple[np.ndarray | float, np.ndarray | float]:
    """Week ``t``'s CR and deployment shocks (company-wide, plus the team's org's if any)."""
    cr_shock, deploy_shock, common = base
    cr_time = p.cr_level * (cr_shock[t] + common[t])
    deploy_time = p.deploy_level * (deploy_shock[t] + common[t])
    if org_shocks is not None:
        cr_time = cr_time + p.cr_level * org_shocks[0][org, t]
        deploy_time = deploy_time + p.deploy_level * org_shocks[1][org, t]
    return cr_time, deploy_time


def _calendar_shocks(weeks: pd.DatetimeIndex) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Relative company-wide shocks for CRs and deployments, and the freeze weeks."""
    week_end = weeks + pd.Timedelta(days=6)

    def contains(month: int, day: int) -> np.ndarray:
        inside = np.zeros(len(weeks), bool)
        for year in set(weeks.year) | set(week_end.year):
            date = pd.Timestamp(year, month, day)
            inside |= (weeks <= date) & (date <= week_end)
        return inside

    thanksgiving = np.zeros(len(weeks), bool)
    for year in set(weeks.year):
        november = pd.date_range(f"{year}-11-01", f"{year}-11-30")
        thursday = november[november.day_of_week == 3][3]
        thanksgiving |= (weeks <= thursday) & (thursday <= week_end)
    christmas, new_year = contains(12, 25), contains(1, 1)
    freeze = contains(12, 18) | christmas
    cr = -0.35 * christmas - 0.25 * new_year - 0.10 * thanksgiving
    # Deployments dip less than CRs: an additive shock large enough to push slow teams below
    # zero would be clipped, and clipping bends the linear model the estimators assume.
    deploy = 0.5 * cr - 0.20 * freeze
    return cr, deploy, freeze


@dataclass
class _WeekState:
    """What the weekly recursion carries from one week to the next, one entry per team."""

    size: np.ndarray
    cr_prev: np.ndarray
    deploy_prev: np.ndarray
    cr_error: np.ndarray  # this week's shocks (AR(1) state)
    deploy_error: np.ndarray
    start_week: np.ndarray  # moves earlier only with feedback
    ramp_progress: np.ndarray
    pending_release: np.ndarray  # CRs merged, waiting for a monolith's release

    @classmethod
    def start(cls, teams: dict, model: dict) -> _WeekState:
        """The state before the burn-in: velocities at the teams' means, no shocks yet."""
        n = len(teams["id"])
        return cls(
            size=teams["size"].copy(),
            cr_prev=model["cr_mean"].copy(),
            deploy_prev=model["deploy_mean"].copy(),
            cr_error=np.zeros(n),
            deploy_error=np.zeros(n),
            start_week=teams["adoption_week"].copy(),
            ramp_progress=np.zeros(n),
            pending_release=np.zeros(n, dtype=np.int64),
        )


def _simulate_weeks(
    teams: dict, weeks: pd.DatetimeIndex, p: SimulationParams, rng: np.random.Generator
) -> tuple[pd.DataFrame, dict]:
    """Run the weekly recursion for every team at once, after a burn-in to stationarity."""
    n, n_weeks = len(teams["id"]), len(weeks)
    burn_in = _burn_in(teams)
    shocks, freeze, org_shocks = _company_shocks(teams, weeks, p, rng)
    model = _velocity_model(teams, p, rng)

    state = _WeekState.start(teams, model)
    records: dict[str, list[np.ndarray]] = {
        k: [] for k in (*COUNT_COLUMNS, "deploy_automation", "ships", *_EFFECT_PATHS)
    }
    no_assistant = _NoAssistantPath(
        n,
        (model["cr_effect"], model["deploy_effect"]),
        (model["cr_b"], model["deploy_b"]),
        p.learning_weeks,
    )
    pending_at_start = state.pending_release
    for t in range(-burn_in, n_weeks):
        observed = t >= 0
        # Team size drifts: about one change per 25 weeks, never below two builders.
        change = rng.random(n) < 0.04
        state.size = np.clip(state.size + change * rng.choice((-1, 1), n), 2, 60)
        ai_active = rng.binomial(state.size, _usage_share(t, teams, state, p, rng))
        usage = ai_active / state.size
        effects = no_assistant.effects(t, ai_active)
        health = _delivery_health(teams, model, state.size, usage, p, rng)
        automation = (t >= teams["automation_week"]).astype(np.int64)
        time_shocks = (
            _week_shocks(t, shocks, org_shocks, teams["org"], p) if observed else (0.0, 0.0)
        )
        crs, deployments = _velocity_counts(
            model, state, time_shocks, effects, usage, health, automation, p, rng
        )
        paths = no_assistant.step(usage, effects)
        rollbacks = rng.binomial(deployments, health["rollback_p"])
        interventions = rng.poisson(deployments * health["intervention_q"])
        ships, crs_shipped, commits_shipped = _ship(
            t, teams, state, crs, observed and freeze[t], rng
        )
        if t == -1:
            pending_at_start = state.pending_release.copy()  # merged in burn-in, not yet shipped
        if observed:
            week = (
                state.size,
                crs,
                deployments,
                rollbacks,
                interventions,
                health["pages"],
                health["oncall"],
                ai_active,
                crs_shipped,
                commits_shipped,
                automation,
                ships,
            )
            _record(records, week, paths)

    # the panel and the events' source
    return _assemble(teams, weeks, {**records, "pending_at_start": pending_at_start}, p, rng)


def _burn_in(teams: dict) -> int:
    """Weeks simulated before the first observed one: enough for the slowest team's outcome to
    forget its start (its persistence to the power of the burn-in below 1e-4), at least 50."""
    slowest = max(
        float(np.max(np.abs(teams["cr_persistence"]))),
        float(np.max(np.abs(teams["deploy_persistence"]))),
        0.1,
    )
    return max(50, math.ceil(math.log(1e-4) / math.log(slowest)))


def _record(
    records: dict[str, list[np.ndarray]], week: tuple, paths: dict[str, np.ndarray]
) -> None:
    """Append an observed week to ``records``: ``week`` holds the count columns, then
    ``deploy_automation`` and ``ships``; ``paths`` the no-assistant paths (in place)."""
    for key, value in zip((*COUNT_COLUMNS, "deploy_automation", "ships"), week, strict=True):
        records[key].append(value)
    for key, value in paths.items():
        records[key].append(value)


def _company_shocks(
    teams: dict, weeks: pd.DatetimeIndex, p: SimulationParams, rng: np.random.Generator
) -> tuple[tuple, np.ndarray, tuple | None]:
    """Calendar and company-wide shocks by week, the freeze weeks, and the orgs' shocks."""
    n_weeks = len(weeks)
    cr_shock, deploy_shock, freeze = _calendar_shocks(weeks)
    common = np.zeros(n_weeks)  # a small AR(1) company-wide shock (market, priorities)
    for t in range(1, n_weeks):
        common[t] = 0.6 * common[t - 1] + 0.03 * rng.standard_normal()
    org_shocks = _org_shocks(teams, n_weeks, p, rng)  # None unless the org switch is on
    return (cr_shock, deploy_shock, common), freeze, org_shocks


def _velocity_model(teams: dict, p: SimulationParams, rng: np.random.Generator) -> dict:
    """Each team's mean velocities, delivery-health propensities, intercepts and effects."""
    n = len(teams["id"])
    cr_b, deploy_b = teams["cr_persistence"], teams["deploy_persistence"]  # scalars unless spread
    cr_mean = p.cr_level * (1 + p.team_spread * teams["speed"])
    speed_deploy = 0.6 * teams["speed"] + 0.8 * rng.standard_normal(n)
    deploy_mean = (
        p.deploy_level
        * np.array(DEPLOY_LEVEL_BY_ARCHITECTURE)[teams["architecture"]]
        * (
            1
            + (p.team_spread if p.deploy_team_spread is None else p.deploy_team_spread)
            * speed_deploy
        )
    )
    rollback_mean = teams["rollback_base"]
    intervention_mean = teams["intervention_base"]
    page_mean = np.where(teams["oncall"] > 0, teams["page_rate"] * (1 + 4 * rollback_mean), 0.0)
    # Intercepts chosen so that, without AI or shocks, velocity averages the team's mean.
    cr_intercept = cr_mean * (1 - cr_b) - (
        p.cr_rollback_effect * rollback_mean
        + p.cr_intervention_effect * intervention_mean
        + p.cr_page_effect * page_mean
    )
    deploy_intercept = deploy_mean * (1 - deploy_b) - (
        p.deploy_rollback_effect * rollback_mean
        + p.deploy_intervention_effect * intervention_mean
        + p.deploy_page_effect * page_mean
    )
    return {
        "cr_b": cr_b,
        "deploy_b": deploy_b,
        "cr_mean": cr_mean,
        "deploy_mean": deploy_mean,
        "rollback_mean": rollback_mean,
        "intervention_mean": intervention_mean,
        "cr_intercept": cr_intercept,
        "deploy_intercept": deploy_intercept,
        "cr_effect": p.cr_effect * teams["multiplier"],
        "deploy_effect": p.deploy_effect * teams["multiplier"],
    }


def _usage_share(
    t: int, teams: dict, state: _WeekState, p: SimulationParams, rng: np.random.Generator
) -> np.ndarray:
    """This week's expected share of each team's builders using the assistant."""
    if not p.feedback:
        weeks_in = t - teams["adoption_week"] + 1
        return np.where(
            teams["adopter"] & (weeks_in > 0),
            teams["peak_usage"] * np.clip(weeks_in / teams["ramp_weeks"], 0, 1),
            0.0,
        )
    # Last week's shock, standardized: bad weeks make teams start and ramp up sooner.
    shock = (state.cr_error / p.cr_noise_sd + state.deploy_error / p.deploy_noise_sd) / math.sqrt(2)
    bad = np.maximum(-shock, 0.0)
    early = (
        teams["adopter"]
        & (t >= teams["available"])
        & (t < state.start_week)
        & (rng.random(len(bad)) < np.minimum(1.0, 0.2 * p.feedback * bad))
    )
    state.start_week = np.where(early, t, state.start_week)
    started = teams["adopter"] & (t >= state.start_week)
    state.ramp_progress = np.where(started, state.ramp_progress + 1 + 4 * p.feedback * bad, 0.0)
    return teams["peak_usage"] * np.clip(state.ramp_progress / teams["ramp_weeks"], 0, 1)


def _delivery_health(
    teams: dict,
    model: dict,
    size: np.ndarray,
    usage: np.ndarray,
    p: SimulationParams,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """This week's rollback propensity, intervention rate, on-call builders and pages."""
    n = len(size)
    # Delivery health: a team propensity plus weekly deviations. The deviations are serially
    # independent on purpose: velocity responds to the propensity while analysts see only the
    # noisy observed rate, and a persistent gap between the two would correlate the error
    # with the lagged outcome and break the model the estimators assume.
    rollback_p = model["rollback_mean"] + 0.03 * rng.standard_normal(n)
    intervention_dev = 0.08 * rng.standard_normal(n)
    if p.bad_control:
        rollback_p = rollback_p + p.bad_control_strength * usage
    rollback_p = np.clip(rollback_p, 0.001, 0.6)
    intervention_q = np.clip(model["intervention_mean"] + intervention_dev, 0.001, None)
    # Pages arrive before the week's work: they take on-call builders away from it and many end
    # in a fix that is merged and deployed (the net of the two is ``*_page_effect``).
    oncall = np.minimum(teams["oncall"], size)
    pages = rng.poisson(oncall * teams["page_rate"] * (1 + 4 * rollback_p))
    return {
        "rollback_p": rollback_p,
        "intervention_q": intervention_q,
        "oncall": oncall,
        "pages": pages,
        "pages_per_oncall": pages / np.maximum(oncall, 1),
    }


def _velocity_counts(
    model: dict,
    state: _WeekState,
    time_shocks: tuple,
    effects: tuple,
    usage: np.ndarray,
    health: dict[str, np.ndarray],
    automation: np.ndarray,
    p: SimulationParams,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """This week's CRs merged and deployments; advances the shocks and the lagged velocities."""
    scale = math.sqrt(1 - p.error_ar**2)
    (cr_time, deploy_time), (cr_now, deploy_now) = time_shocks, effects
    state.cr_error = _shock(state.cr_error, p.error_ar, scale, p.cr_noise_sd, rng)
    cr_latent = (
        model["cr_intercept"]
        + cr_time
        + model["cr_b"] * state.cr_prev
        + cr_now * usage
        + p.cr_rollback_effect * health["rollback_p"]
        + p.cr_intervention_effect * health["intervention_q"]
        + p.cr_page_effect * health["pages_per_oncall"]
        + p.automation_cr_effect * automation
        + state.cr_error
    )
    state.deploy_error = _shock(state.deploy_error, p.error_ar, scale, p.deploy_noise_sd, rng)
    deploy_latent = (
        model["deploy_intercept"]
        + deploy_time
        + model["deploy_b"] * state.deploy_prev
        + deploy_now * usage
        + p.deploy_rollback_effect * health["rollback_p"]
        + p.deploy_intervention_effect * health["intervention_q"]
        + p.deploy_page_effect * health["pages_per_oncall"]
        + p.automation_deploy_effect * automation
        + state.deploy_error
    )
    # Counts are what is observed; the recursion carries the observed velocity forward.
    # Rounding is stochastic (floor of value + uniform): E[count] = latent * size exactly,
    # so the rounding error is mean-zero given everything. Nearest-integer rounding is not:
    # when 1/size is as coarse as the noise its error depends on the team's level and lag,
    # and it biased estimates of the deployment model by ~1-2%.
    crs = _count(cr_latent * state.size, rng)
    deployments = _count(deploy_latent * state.size, rng)
    state.cr_prev, state.deploy_prev = crs / state.size, deployments / state.size
    return crs, deployments


def _ship(
    t: int,
    teams: dict,
    state: _WeekState,
    crs: np.ndarray,
    frozen: bool,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Whether each team released this week, its CRs shipped and its commits shipped.

    Monoliths ship CRs in fortnightly releases (none in freeze weeks); others continuously.
    """
    state.pending_release = state.pending_release + crs
    release = (t % 2 == teams["release_phase"]) & ~frozen
    ships = (teams["architecture"] != 1) | release
    crs_shipped = np.where(ships, state.pending_release, 0)
    state.pending_release = np.where(ships, 0, state.pending_release)
    commits_shipped = crs_shipped + rng.poisson(0.8 * crs_shipped)
    return ships, crs_shipped, commits_shipped


def _shock(
    previous: np.ndarray, rho: float, scale: float, sd: float, rng: np.random.Generator
) -> np.ndarray:
    """This week's outcome shock: white noise, or AR(1) with the same marginal SD."""
    if not rho:
        return sd * rng.standard_normal(len(previous))
    return rho * previous + scale * sd * rng.standard_normal(len(previous))


def _count(expected: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Unbiased stochastic rounding to non-negative integers."""
    return np.maximum(np.floor(expected + rng.random(expected.shape)), 0).astype(np.int64)


def _assemble(
    teams: dict,
    weeks: pd.DatetimeIndex,
    records: dict,
    p: SimulationParams,
    rng: np.random.Generator,
) -> tuple[pd.DataFrame, dict]:
    """Stack weeks into long format, keep each team's lifetime, and punch data gaps.

    Returns the panel and what :mod:`cts.simulate.event_logs` needs to write its event logs.
    """
    n, n_weeks = len(teams["id"]), len(weeks)
    week_index = np.tile(np.arange(n_weeks), n)
    team_index = np.repeat(np.arange(n), n_weeks)
    alive = (week_index >= teams["first"][team_index]) & (week_index <= teams["last"][team_index])
    # Gaps: single missing weeks plus occasional multi-week outages of a team's telemetry.
    missing = rng.random(n * n_weeks) < p.gap_rate
    outage_start = np.flatnonzero(rng.random(n * n_weeks) < p.gap_rate / 5)
    for offset in range(4):
        missing[np.minimum(outage_start + offset, n * n_weeks - 1)] = True
    keep = alive & ~missing
    teams_kept, weeks_kept = team_index[keep], week_index[keep]

    architecture = np.asarray(ARCHITECTURES)[teams["architecture"]]
    panel = pd.DataFrame(
        {
            "team_id": pd.Series(teams["id"][teams_kept], dtype=str),
            "week": weeks[weeks_kept].astype("datetime64[ns]"),
            **{
                key: np.stack(values, axis=1).ravel()[keep]
                for key, values in records.items()
                if key not in ("crs_shipped", "commits_shipped", "deploy_automation", "ships")
                and key != "pending_at_start"
                and key not in _EFFECT_PATHS
            },
            "architecture": pd.Series(architecture[teams_kept], dtype=str),
            "cost_per_builder_week": teams["cost"][teams_kept].astype(float),
            "crs_shipped": np.stack(records["crs_shipped"], axis=1).ravel()[keep],
            "commits_shipped": np.stack(records["commits_shipped"], axis=1).ravel()[keep],
        }
    )
    if p.orgs:
        org_names = np.array([f"org-{j + 1}" for j in range(p.orgs)])
        panel["org"] = pd.Series(org_names[teams["org"][teams_kept]], dtype=str)
    if p.second_initiative:
        panel["deploy_automation"] = np.stack(records["deploy_automation"], axis=1).ravel()[keep]
    for column in COUNT_COLUMNS:
        panel[column] = panel[column].astype("int64")
    if p.tools:
        names = list(p.tools)
        used = {i: names[t] for i, t in zip(teams["id"], teams["tool"], strict=True) if t >= 0}
        add_tool_columns(panel, used, names)
    source = {
        "teams": {k: teams[k] for k in ("id", "first", "last", "oncall", "cost")},
        "architecture": architecture,
        "weeks": weeks,
        "counts": {
            key: np.stack(records[key], axis=1)
            for key in (*COUNT_COLUMNS, "ships")
            if key != "oncall_builders"
        },
        "pending_at_start": records["pending_at_start"],
        "missing": (alive & missing).reshape(n, n_weeks),
        "effect_paths": {
            key: np.stack(records[key], axis=1).ravel()[keep] for key in _EFFECT_PATHS
        },
    }
    if p.orgs:
        source["org"] = np.array([f"org-{j + 1}" for j in range(p.orgs)])[teams["org"]]
    return panel, source


def _truth(teams: dict, p: SimulationParams) -> dict[str, dict[str, Any]]:
    truth = {}
    for outcome, effect, persistence, rollback_effect, automation_effect in (
        (
            "cr_velocity",
            p.cr_effect,
            p.cr_persistence,
            p.cr_rollback_effect,
            p.automation_cr_effect,
        ),
        (
            "deploy_velocity",
            p.deploy_effect,
            p.deploy_persistence,
            p.deploy_rollback_effect,
            p.automation_deploy_effect,
        ),
    ):
        short_run = float(effect * teams["multiplier"].mean())
        settle = 1 / (1 - persistence)
        if p.persistence_spread:  # the truth is the mean of the teams' persistence
            key = "cr_persistence" if outcome == "cr_velocity" else "deploy_persistence"
            persistence = float(np.mean(teams[key]))
            settle = 1 / (1 - teams[key])  # each team's own: its long run is g_i settle_i
        entry: dict[str, Any] = {
            "short_run": short_run,
            "persistence": persistence,
            "long_run": float(np.mean(effect * teams["multiplier"] * settle))
            if p.persistence_spread
            else short_run / (1 - persistence),
            "total_short_run": short_run
            + (rollback_effect * p.bad_control_strength if p.bad_control else 0.0),
        }
        if p.second_initiative:
            entry["deploy_automation"] = {
                "short_run": automation_effect,
                "long_run": float(automation_effect * np.mean(settle)),  # settle: scalar or teams
            }
        if p.tools:
            entry["tools"] = tool_truth(
                p.tools, teams["tool"], teams["multiplier"], effect, persistence
            )
        if p.heterogeneity == "architecture":
            entry["short_run_by_group"] = {
                a: effect * m for a, m in _EFFECT_BY_ARCHITECTURE.items()
            }
        elif p.heterogeneity == "team_size":
            entry["short_run_by_group"] = {g: effect * m for g, m in _EFFECT_BY_TEAM_SIZE.items()}
        truth[outcome] = entry
    return truth


def _add_treated_truth(
    truth: dict, paths: dict[str, np.ndarray], panel: pd.DataFrame, p: SimulationParams
) -> None:
    """Add the counterfactual truth over the treated team-weeks (module docstring) in place.

    ``paths`` are the per-row records of :data:`_EFFECT_PATHS` on the rows of ``panel``.
    """
    weeks_of_use = paths["weeks_of_use"]
    treated = weeks_of_use > 0
    n_builders = panel["n_builders"].to_numpy()
    # each treated team once (its full effect is the same in every week)
    team = pd.factorize(panel["team_id"])[0]
    _, first_row = np.unique(team[treated], return_index=True)
    for outcome, (prefix, unit) in _UNITS.items():
        gain = paths[f"{prefix}_gain"][treated]
        by_week = pd.Series(gain).groupby(weeks_of_use[treated] - 1).mean()
        entry = truth[outcome]
        entry["att"] = float(gain.mean()) if len(gain) else float("nan")
        entry["att_by_weeks_of_use"] = {int(k): float(v) for k, v in by_week.items()}
        entry["extra_units"] = float(np.sum(gain * n_builders[treated]))
        entry["unit"] = unit
        entry["treated_team_weeks"] = int(treated.sum())
        if (p.effect_spread or p.learning_weeks) and treated.any():
            short_run = float(paths[f"{prefix}_full"][treated][first_row].mean())
            if p.learning_weeks:
                entry["short_run_learned"] = short_run
                short_run = _learning_short_run(
                    gain, paths[f"{prefix}_exposure"][treated], team[treated]
                )
            entry["total_short_run"] += short_run - entry["short_run"]  # the rollback path stays
            entry["short_run"] = short_run
            entry["long_run"] = short_run / (1 - entry["persistence"])


def _learning_short_run(gain: np.ndarray, exposure: np.ndarray, team: np.ndarray) -> float:
    """The short-run truth while teams learn: each team's gains over its observed weeks of use
    projected (through the origin) on its usage filtered by the persistence,
    ``sum d_t E_t / sum E_t^2`` with ``E_t = u_t + b E_t-1``, averaged over the teams with equal
    weights.

    That is the effect at full usage the team's weeks of use have averaged, what a model with
    one effect per team (the counterfactual's ``short_run``, the pooled model's) estimates from
    them. The learned effect (``short_run_learned``) is reached only after the learning weeks,
    so a team observed for few weeks of use has not had it: measured against it, both
    estimators read 10-11% low at 200 teams x 39 weeks with 8 learning weeks. Without learning
    the projection is each team's effect exactly.
    """
    cross = np.bincount(team, gain * exposure)
    square = np.bincount(team, exposure**2)
    used = square > 0
    return float(np.mean(cross[used] / square[used]))
