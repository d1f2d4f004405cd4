"""A corpus of awkward but valid panels through every public analysis.

Each analysis must return a result, or raise a :class:`cts.PanelError` / warn with a
:class:`cts.PanelWarning` whose message names the reason; never an exception from inside a
library, never a negative test statistic, never a p-value outside [0, 1].
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import cts
from cts.estimators.event_study import adoption_weeks

ANALYSES = (
    "identification",
    "estimate_adoption_effect",
    "exogeneity_checks",
    "event_study",
    "group_time_effects",
    "cost_to_serve",
    "fit_drivers",
    "translate_impact",
    "heterogeneous_effects",
)


def _load(frame: pd.DataFrame) -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", cts.PanelWarning)
        return cts.load_panel(frame)


def _simulated(n_teams: int, n_weeks: int, seed: int, **truth) -> pd.DataFrame:
    return cts.simulate_org(n_teams, n_weeks, seed=seed, **truth).panel


def _same_week(keep_controls: bool) -> pd.DataFrame:
    """40 teams; every user jumps to full usage in week 20; never-users leave before it unless
    ``keep_controls``."""
    raw = _simulated(40, 52, seed=4)
    rollout = raw["week"].min() + pd.Timedelta(weeks=20)
    users = raw.groupby("team_id")["ai_active_builders"].transform("max") > 0
    after = raw["week"] >= rollout
    raw["ai_active_builders"] = np.where(users & after, raw["n_builders"], 0)
    if not keep_controls:
        raw = raw.loc[users | ~after]
    return raw.reset_index(drop=True)


def _from_week_one() -> pd.DataFrame:
    raw = _simulated(30, 52, seed=6)
    users = raw.groupby("team_id")["ai_active_builders"].transform("max") > 0
    raw["ai_active_builders"] = np.where(users, (0.8 * raw["n_builders"]).round(), 0).astype(int)
    return raw


def _required_only() -> pd.DataFrame:
    raw = _simulated(30, 30, seed=7)
    return raw[[c for c in cts.REQUIRED_COLUMNS if c in raw]]


CORPUS = {
    "1 team": lambda: _simulated(1, 52, seed=1),
    "3 teams": lambda: _simulated(3, 52, seed=2),
    "8 teams": lambda: _simulated(8, 52, seed=0),
    "no adopters": lambda: _simulated(30, 40, seed=3).assign(ai_active_builders=0),
    "all adopt the same week": lambda: _same_week(keep_controls=False),
    "same week, controls stay": lambda: _same_week(keep_controls=True),
    "adoption from week one": _from_week_one,
    "6 weeks": lambda: _simulated(30, 6, seed=8),
    "only required columns": _required_only,
    # what `cts build-panel --git` gives for one repository: one team, no pages, pipeline
    # interventions or on-call rota, shipped in releases (tests/sources build such panels from
    # real repositories)
    "single-repository git panel": lambda: _simulated(1, 52, seed=9).assign(
        pages=0, manual_interventions=0, oncall_builders=0, architecture="monolith"
    ),
}


@pytest.fixture(scope="module", params=list(CORPUS), ids=list(CORPUS))
def corpus_panel(request):
    return request.param, _load(CORPUS[request.param]())


def run(name: str, panel: pd.DataFrame):
    """One public analysis on ``panel``, with light options so the corpus stays fast."""
    if name == "identification":
        return cts.identification(panel)
    if name == "estimate_adoption_effect":
        return cts.estimate_adoption_effect(panel, reps=99)
    if name == "exogeneity_checks":
        return cts.exogeneity_checks(panel)
    if name == "event_study":
        return cts.event_study(panel)
    if name == "group_time_effects":
        origin = panel["week"].min()
        period = ((panel["week"] - origin) / pd.Timedelta(weeks=1)).astype(int) + 1
        adopted = panel["team_id"].map(adoption_weeks(panel))
        cohort = ((adopted - origin) / pd.Timedelta(weeks=1)).fillna(-1).astype(int) + 1
        frame = panel.assign(period=period, cohort=cohort)
        return cts.group_time_effects(frame, "cr_velocity", "team_id", "period", "cohort")
    if name == "cost_to_serve":
        return cts.cost_to_serve(panel)
    if name == "fit_drivers":
        return cts.fit_drivers(panel)
    if name == "translate_impact":
        effect = cts.estimate_adoption_effect(panel, outcome="deploy_velocity", reps=99)
        return cts.translate_impact(effect, panel, draws=500)
    if name == "heterogeneous_effects":
        return cts.heterogeneous_effects(panel, n_estimators=20)
    raise AssertionError(name)


def outcome(name: str, panel: pd.DataFrame) -> tuple[str, str]:
    """("estimate" | "caveat" | "refusal", message) for one analysis on one panel."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = run(name, panel)
        except cts.PanelError as error:
            return "refusal", str(error)
    ours = [w for w in caught if issubclass(w.category, cts.CtsWarning)]
    _check_statistics(result)
    if isinstance(result, cts.Identification):  # the checks themselves: what they conclude
        if result.refusals:
            return "refusal", " | ".join(f"{k}: {v}" for k, v in result.refusals.items())
        return ("caveat", " | ".join(result.caveats)) if result.caveats else ("estimate", "")
    if ours:
        return "caveat", " | ".join(dict.fromkeys(str(w.message) for w in ours))
    return "estimate", ""


def _check_statistics(result) -> None:
    tables = result if isinstance(result, tuple) else (getattr(result, "table", None),)
    for table in tables:
        if not isinstance(table, pd.DataFrame):
            continue
        for column in ("statistic", "chi2"):
            if column in table:
                assert not (table[column] < 0).any(), table[column]
        for column in ("p_value", "p_adjusted"):
            if column in table:
                values = table[column].dropna()
                assert values.between(0, 1).all(), values
    chi2 = getattr(result, "pretrend_chi2", None)
    if chi2 is not None and np.isfinite(chi2):
        assert chi2 >= 0 and 0 <= result.pretrend_p < 1


#: What the design allows, where it is not a matter of taste: (panel, analysis) -> outcome.
EXPECTED = {
    ("1 team", "estimate_adoption_effect"): "refusal",
    ("1 team", "event_study"): "refusal",
    ("1 team", "fit_drivers"): "refusal",
    ("3 teams", "estimate_adoption_effect"): "caveat",
    ("3 teams", "event_study"): "refusal",
    ("8 teams", "estimate_adoption_effect"): "caveat",
    ("8 teams", "event_study"): "caveat",
    ("no adopters", "estimate_adoption_effect"): "refusal",
    ("no adopters", "heterogeneous_effects"): "refusal",
    ("all adopt the same week", "identification"): "refusal",
    ("all adopt the same week", "estimate_adoption_effect"): "refusal",
    ("all adopt the same week", "event_study"): "refusal",
    ("all adopt the same week", "group_time_effects"): "refusal",
    ("same week, controls stay", "estimate_adoption_effect"): "caveat",
    ("same week, controls stay", "event_study"): "caveat",
    ("adoption from week one", "event_study"): "refusal",
    ("adoption from week one", "estimate_adoption_effect"): "caveat",
}


@pytest.mark.parametrize("name", ANALYSES)
def test_every_analysis_estimates_caveats_or_refuses_in_words(corpus_panel, name):
    label, panel = corpus_panel
    kind, message = outcome(name, panel)
    if kind != "estimate":
        assert len(message) > 30, message  # a sentence, not a bare library error
    expected = EXPECTED.get((label, name))
    assert expected in (None, kind), f"{label} / {name}: {kind}: {message}"


#: Light settings for the report runs below: they prove every report runs, not its statistics.
QUICK_REPORT = {"power_reps": 10, "power_teams": [25], "power_weeks": [26], "inference_reps": 99}


@pytest.mark.parametrize(
    ("teams", "weeks", "seed"), [(40, 40, 0), (20, 26, 1)], ids=["40x40", "20x26"]
)
def test_every_report_runs_on_small_simulated_panels(tmp_path, teams, weeks, seed):
    """Every notebook finishes on a small valid panel: a section the panel cannot support
    declines in words (on 40 x 40, seed 0, the few-teams section once stopped 04 with a bare
    AssertionError: clustered `auto` chose another model than the resampling tests)."""
    from cts.reporting.builder import build_reports

    path = tmp_path / "panel.parquet"
    cts.simulate_org(teams, weeks, seed=seed).panel.to_parquet(path, index=False)
    out = tmp_path / "reports"
    runs = build_reports(path, out, parameters=QUICK_REPORT, progress=False)
    assert all(run.ok for run in runs), [(r.analysis.name, r.error) for r in runs if not r.ok]
    for run in runs:
        report = (out / f"{run.analysis.name}.html").read_text()
        assert "Traceback" not in report, run.analysis.name
        for title, reason in run.not_estimable.items():
            assert "cannot be estimated on this panel" in report and len(reason) > 30, title
