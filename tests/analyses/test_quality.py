"""Quality guardrails on the counterfactual engine, against the simulator's truth: a real harm
to change failure and pages found, no harm cleared, and a source that yields nothing refused."""

import numpy as np
import pandas as pd
import pytest

import cts
from cts.analyses import quality
from tests.conftest import quiet_load

STRENGTH = 0.04  # the simulator's rise in rollback probability at full usage (bad_control)


def _usage_in_use(panel: pd.DataFrame, denominator: str) -> np.ndarray:
    """Usage over adopters' weeks from first use on that have the guardrail's denominator."""
    usage = panel["ai_active_builders"] / panel["n_builders"]
    first = panel.loc[usage > 0].groupby("team_id")["week"].min()
    in_use = (panel["week"] >= panel["team_id"].map(first)) & (panel[denominator] > 0)
    return usage[in_use].to_numpy()


def _rollback_truth(usage: np.ndarray) -> float:
    """The simulator's change-failure effect in points: its rollback probability, a team's
    Beta(2, 38) base plus N(0, 0.03^2) each week, rises by STRENGTH x usage and is clipped to
    [0.001, 0.6]; averaged over the base by Monte Carlo and over the weeks of use."""
    rng = np.random.default_rng(0)
    base = rng.beta(2, 38, 400_000) + 0.03 * rng.standard_normal(400_000)
    grid = np.linspace(0, 1, 101)
    rise = [
        np.mean(np.clip(base + STRENGTH * u, 0.001, 0.6) - np.clip(base, 0.001, 0.6)) for u in grid
    ]
    return float(100 * np.interp(usage, grid, rise).mean())


@pytest.fixture(scope="module")
def harmful():
    sim = cts.simulate_org(n_teams=300, n_weeks=80, seed=4, bad_control=True)
    assert sim.params["bad_control_strength"] == STRENGTH
    panel = quiet_load(sim.panel)
    return panel, cts.quality_guardrails(panel)


def test_guardrails_find_the_simulated_harm_to_change_failure_and_pages(harmful):
    panel, guard = harmful
    rollback = guard.table.loc["rollback_rate"]
    truth = _rollback_truth(_usage_in_use(panel, "deployments"))
    assert truth == pytest.approx(2.75, abs=0.05)
    assert abs(rollback["estimate"] - truth) < 3 * rollback["se"]
    assert 0.15 < rollback["se"] < 0.4
    assert rollback["status"] == "red" and rollback["detected"]
    assert rollback["baseline"] == pytest.approx(5.5, abs=0.5)  # points, Beta(2, 38) ~ 5%
    # pages: Poisson(on call x page rate x (1 + 4 p)), page rate Gamma(3, 0.5) of mean 1.5 drawn
    # apart from adoption: 4 x 1.5 x 0.04 = 0.24 pages per on-call builder at full usage
    pages = guard.table.loc["pages_per_oncall"]
    truth = 0.24 * _usage_in_use(panel, "oncall_builders").mean()
    assert abs(pages["estimate"] - truth) < 3 * pages["se"] + 0.1 * truth
    assert pages["detected"] and pages["estimate"] > 0
    # interventions do not move in the simulator
    interventions = guard.table.loc["interventions_per_deploy"]
    assert abs(interventions["estimate"]) < 3 * interventions["se"]
    assert interventions["status"] in ("green", "amber") and not interventions["detected"]
    assert "would have detected" in interventions["sentence"]
    assert "lines_changed" in guard.left_out["lines_per_cr"]
    assert "red: Change failure" in guard.summary()


def test_guardrails_clear_no_harm_and_say_what_they_would_have_detected():
    panel = quiet_load(cts.simulate_org(n_teams=300, n_weeks=80, seed=4).panel)
    guard = cts.quality_guardrails(panel, reps=99)
    assert set(guard.table.index) == {
        "rollback_rate",
        "interventions_per_deploy",
        "pages_per_oncall",
    }
    for row in guard.table.itertuples():
        assert abs(row.estimate) < 3 * row.se, row.Index  # truth: no effect on quality
        assert row.status in ("green", "amber")
        if not row.detected:
            assert row.mde == pytest.approx(2.80 * row.se, rel=0.01)
            assert "would have detected" in row.sentence
        assert row.threshold == pytest.approx(0.10 * row.baseline)


def test_cr_size_reads_a_fall_in_lines_per_cr_as_the_harm():
    sim = cts.simulate_org(n_teams=200, n_weeks=60, seed=2)
    rng = np.random.default_rng(1)
    usage = sim.panel["ai_active_builders"] / sim.panel["n_builders"]
    # each CR 50 lines without the assistant, 10 fewer at full usage
    per_cr = 50 - 10 * usage + rng.normal(0, 5, len(usage))
    lines = (sim.panel["crs_merged"] * per_cr).round().clip(lower=0).astype("int64")
    panel = quiet_load(sim.panel.assign(lines_changed=lines))
    guard = cts.quality_guardrails(panel, reps=99)
    size = guard.table.loc["lines_per_cr"]
    truth = -10 * _usage_in_use(panel, "crs_merged").mean()
    assert abs(size["estimate"] - truth) < 3 * size["se"] + 0.02 * abs(truth)
    assert size["baseline"] == pytest.approx(50, abs=1)
    assert size["status"] == "red"  # a fall of more than 10% of 50 lines


@pytest.mark.filterwarnings("ignore::cts.FewTeamsWarning")
def test_a_count_that_is_zero_everywhere_is_not_measured_rather_than_no_harm():
    sim = cts.simulate_org(n_teams=60, n_weeks=40, seed=1)
    panel = quiet_load(sim.panel.assign(manual_interventions=0))
    guard = cts.quality_guardrails(panel, reps=0)
    assert "interventions_per_deploy" not in guard.table.index
    why = guard.left_out["interventions_per_deploy"]
    assert "`manual_interventions` is zero or missing in every team-week" in why
    assert "not measured" in why
    gone = panel.drop(columns=["pages"])
    assert "no `pages` column" in cts.quality_guardrails(gone, reps=0).left_out["pages_per_oncall"]
    nothing = panel.drop(columns=["rollbacks", "pages", "deployments"])
    empty = cts.quality_guardrails(nothing, reps=0)
    assert empty.table.empty and "status" in empty.table.columns
    assert len(empty.left_out) == 4 and "not measured" in empty.summary()


@pytest.mark.filterwarnings("ignore::cts.FewTeamsWarning")
def test_weeks_without_a_deployment_are_left_out_not_read_as_no_failure():
    sim = cts.simulate_org(n_teams=60, n_weeks=40, seed=1)
    rows = sim.panel.copy()
    quiet = np.random.default_rng(3).random(len(rows)) < 0.2
    rows.loc[quiet, ["deployments", "rollbacks", "manual_interventions"]] = 0
    panel = quiet_load(rows)
    guard = cts.quality_guardrails(panel, reps=0)
    fitted = guard.results["rollback_rate"]
    observed = fitted.n_obs + fitted.n_team_weeks_treated
    assert observed <= (panel["deployments"] > 0).sum()
    said = next(n for n in guard.notes if n.startswith("Change failure") and "no deployment" in n)
    assert f"{(panel['deployments'] == 0).mean():.1%} of team-weeks had no deployment" in said


def test_materiality_must_be_positive():
    with pytest.raises(ValueError, match="materiality"):
        quality.quality_guardrails(pd.DataFrame(), materiality=0)
