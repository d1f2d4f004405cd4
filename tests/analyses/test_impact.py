import numpy as np
import pandas as pd
import pytest

import cts
from tests.conftest import quiet_load

RECENT = 13


@pytest.fixture(scope="module")
def org():
    sim = cts.simulate_org(n_teams=400, n_weeks=104, seed=8)
    panel = quiet_load(sim.panel)
    return sim, panel, cts.estimate_adoption_effect(panel, outcome="deploy_velocity")


def test_impact_arithmetic_from_first_principles(org):
    """Recompute every quantity by hand from the panel's last 13 weeks and the effect."""
    _, panel, effect = org
    impact = cts.translate_impact(effect, panel, adoption=1.0, cost_per_builder_week=4000.0)
    recent = panel[panel["week"] > panel["week"].max() - pd.Timedelta(weeks=RECENT)]
    builder_weeks = recent["n_builders"].sum()
    velocity = recent["deployments"].sum() / builder_weeks
    today = recent["ai_active_builders"].sum() / builder_weeks
    g = effect.table.loc["long_run", "estimate"]
    v0, v1 = velocity - g * today, velocity - g * today + g
    yearly = builder_weeks / RECENT * 52
    saved = yearly * velocity * (1 / v0 - 1 / v1)
    table = impact.table["estimate"]
    assert impact.observed_adoption == pytest.approx(today)
    assert table["velocity_change"] == pytest.approx(g)
    assert table["cts_sw_change_pct"] == pytest.approx(100 * (v0 / v1 - 1))
    assert table["builder_weeks_saved_per_year"] == pytest.approx(saved)
    assert table["engineering_years_saved_per_year"] == pytest.approx(saved / 52)
    assert table["money_saved_per_year"] == pytest.approx(saved * 4000)
    assert table["extra_units_per_year"] == pytest.approx(yearly * g)
    assert (impact.table["ci_low"] < table).all() and (table < impact.table["ci_high"]).all()


def test_interval_covers_the_value_of_the_true_effect(org):
    """The true long-run effect, pushed through the same arithmetic, lies inside the interval."""
    sim, panel, effect = org
    impact = cts.translate_impact(effect, panel, adoption=1.0)
    truth = sim.truth["deploy_velocity"]["long_run"]
    low, high = impact.table.loc["velocity_change", ["ci_low", "ci_high"]]
    assert low < truth < high
    # The interval is the effect's own: its width matches 2 x 1.96 x SE of the long run.
    width = high - low
    assert width == pytest.approx(2 * 1.96 * effect.table.loc["long_run", "se"], rel=0.1)


def test_no_adoption_is_worth_nothing_and_today_is_the_default(org):
    _, panel, effect = org
    nothing = cts.translate_impact(effect, panel, adoption=0.0)
    assert np.allclose(nothing.table.to_numpy(), 0)
    today = cts.translate_impact(effect, panel)
    assert today.adoption == pytest.approx(today.observed_adoption)
    full = cts.translate_impact(effect, panel, adoption=1.0)
    assert (
        full.table.loc["builder_weeks_saved_per_year", "estimate"]
        > today.table.loc["builder_weeks_saved_per_year", "estimate"]
        > 0
    )


def test_money_needs_a_cost_and_summary_states_assumptions(org):
    _, panel, effect = org
    with_column = cts.translate_impact(effect, panel)
    assert np.isfinite(with_column.cost_per_builder_week)
    without = cts.translate_impact(effect, panel.drop(columns="cost_per_builder_week"))
    assert np.isnan(without.table.loc["money_saved_per_year"]).all()
    assert "pass cost_per_builder_week" in without.summary()
    text = with_column.summary()
    assert "units held fixed" in text and "redeployed" in text and "engineering-years" in text


def test_bad_arguments(org):
    _, panel, effect = org
    with pytest.raises(ValueError, match=r"share of builders in \[0, 1\]"):
        cts.translate_impact(effect, panel, adoption=1.5)
    with pytest.raises(ValueError, match="horizon must be"):
        cts.translate_impact(effect, panel, horizon="forever")
    other = cts.estimate_adoption_effect(panel, outcome="rollback_rate", controls=())
    with pytest.raises(ValueError, match="values effects on cr_velocity or deploy_velocity"):
        cts.translate_impact(other, panel)


@pytest.fixture(scope="module")
def two_initiatives():
    sim = cts.simulate_org(n_teams=500, n_weeks=104, seed=4, second_initiative=True)
    return sim, quiet_load(sim.panel)


@pytest.mark.parametrize("outcome", ["cr_velocity", "deploy_velocity"])
def test_joint_model_recovers_each_initiative_and_naive_sum_overstates(two_initiatives, outcome):
    sim, panel = two_initiatives
    combined = cts.combined_impact(panel, ["ai_usage_rate", "deploy_automation"], outcome=outcome)
    truth = sim.truth[outcome]
    table = combined.table
    for treatment, true in (
        ("ai_usage_rate", truth["long_run"]),
        ("deploy_automation", truth["deploy_automation"]["long_run"]),
    ):
        assert table.loc[treatment, "ci_low"] < true < table.loc[treatment, "ci_high"]
    true_total = truth["long_run"] + truth["deploy_automation"]["long_run"]
    assert table.loc["total", "ci_low"] < true_total < table.loc["total", "ci_high"]
    # Rollouts overlap, so each separate model absorbs part of the other's effect.
    assert combined.overstatement_pct > 20
    assert table.loc["total", "separate"] > table.loc["total", "ci_high"]
    assert "overstates the total" in combined.summary()


def test_combined_impact_bad_arguments(org):
    _, panel, _ = org
    with pytest.raises(ValueError, match="two or more different columns"):
        cts.combined_impact(panel, ["ai_usage_rate"])
    with pytest.raises(cts.PanelError, match="`deploy_automation`"):
        cts.combined_impact(panel, ["ai_usage_rate", "deploy_automation"])
