import numpy as np
import pandas as pd
import pytest

import cts
from cts.analyses import value
from tests.conftest import quiet_load

RECENT = 13


@pytest.fixture(scope="module")
def org():
    sim = cts.simulate_org(n_teams=400, n_weeks=104, seed=8)
    panel = quiet_load(sim.panel)
    return sim, panel, cts.estimate_adoption_effect(panel, outcome="deploy_velocity")


def _realised_effect(panel, model, treatment):
    """Each team-week's effect of its usage so far, by running the fitted ADL recursion
    ``c_t = sum_k b_k c_t-k + sum_j g_j x_t-j`` on the team's calendar usage path (zero before
    its first week, last value over gaps): an independent route to the dynamic path."""
    b = model.table.loc[model.lag_terms, "estimate"].to_numpy()
    terms = [treatment, *(f"L{k}.{treatment}" for k in range(1, model.treatment_lags + 1))]
    g = model.table.loc[terms, "estimate"].to_numpy()
    weeks = pd.date_range(panel["week"].min(), panel["week"].max(), freq="7D")
    out = {}
    for team, rows in panel.groupby("team_id"):
        x = rows.set_index("week")[treatment].reindex(weeks).ffill().fillna(0.0).to_numpy()
        c = np.zeros(len(x))
        for t in range(len(x)):
            c[t] = sum(g[j] * x[t - j] for j in range(len(g)) if t - j >= 0)
            c[t] += sum(b[k - 1] * c[t - k] for k in range(1, len(b) + 1) if t - k >= 0)
        out[team] = pd.Series(c, index=weeks)
    return pd.concat(out, names=["team_id", "week"])


def test_impact_arithmetic_from_first_principles(org):
    """Recompute every quantity by hand from the panel's last 13 weeks and the effect: the
    velocity without the assistant takes off what each team's usage has added by now (its
    dynamic path since adoption), not the whole long-run effect."""
    _, panel, effect = org
    impact = cts.translate_impact(effect, panel, adoption=1.0, cost_per_builder_week=4000.0)
    recent = panel[panel["week"] > panel["week"].max() - pd.Timedelta(weeks=RECENT)]
    builder_weeks = recent["n_builders"].sum()
    velocity = recent["deployments"].sum() / builder_weeks
    today = recent["ai_active_builders"].sum() / builder_weeks
    g = effect.table.loc["long_run", "estimate"]
    realised = _realised_effect(panel, effect.model, "ai_usage_rate")
    added = (
        realised.reindex(pd.MultiIndex.from_frame(recent[["team_id", "week"]])).to_numpy()
        * recent["n_builders"].to_numpy()
    ).sum() / builder_weeks
    assert 0 < added <= g * today * 1.001  # adoption is long past here: nearly all of it
    v0, v1 = velocity - added, velocity - added + g
    yearly = builder_weeks / RECENT * 52
    saved = yearly * velocity * (1 / v0 - 1 / v1)
    table = impact.table["estimate"]
    assert impact.observed_adoption == pytest.approx(today)
    assert impact.velocity_without_assistant == pytest.approx(v0)
    assert table["velocity_change"] == pytest.approx(g)
    assert table["cts_sw_change_pct"] == pytest.approx(100 * (v0 / v1 - 1))
    assert table["builder_weeks_saved_per_year"] == pytest.approx(saved)
    assert table["engineering_years_saved_per_year"] == pytest.approx(saved / 52)
    assert table["money_saved_per_year"] == pytest.approx(saved * 4000)
    assert table["extra_units_per_year"] == pytest.approx(yearly * g)
    assert (impact.table["ci_low"] < table).all() and (table < impact.table["ci_high"]).all()


def test_recent_adopters_are_not_credited_with_the_long_run():
    """An organization in the middle of its rollout: today's velocity holds only part of the
    long-run effect, so the baseline without the assistant is above velocity - g x adoption."""
    sim = cts.simulate_org(n_teams=300, n_weeks=104, seed=8)
    panel = quiet_load(
        sim.panel[sim.panel["week"] < sim.panel["week"].min() + pd.Timedelta(weeks=30)]
    )
    effect = cts.estimate_adoption_effect(panel, outcome="cr_velocity", method="bias_corrected")
    impact = cts.translate_impact(effect, panel)
    naive = impact.velocity - effect.table.loc["long_run", "estimate"] * impact.observed_adoption
    taken_off = impact.velocity - impact.velocity_without_assistant
    realised = _realised_effect(panel, effect.model, "ai_usage_rate")
    recent = panel[panel["week"] > panel["week"].max() - pd.Timedelta(weeks=RECENT)]
    by_hand = (
        realised.reindex(pd.MultiIndex.from_frame(recent[["team_id", "week"]])).to_numpy()
        * recent["n_builders"].to_numpy()
    ).sum() / recent["n_builders"].sum()
    assert taken_off == pytest.approx(by_hand, rel=1e-9)
    assert taken_off < 0.9 * (impact.velocity - naive)  # the whole long run would be too much
    # so the savings at today's adoption, once settled, exceed what today's velocity shows
    assert impact.table.loc["velocity_change", "estimate"] > taken_off


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
    assert np.allclose(nothing.table.drop(columns="p_value").to_numpy(), 0)
    assert nothing.table["p_value"].isna().all()  # exactly nothing: no test
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
    money = with_column.table.loc["money_saved_per_year", "estimate"]
    assert f"worth {value.format_money(money)} a year (95% CI USD " in text
    in_euros = cts.translate_impact(effect, panel, currency="EUR").summary()
    assert f"worth {value.format_money(money, 'EUR')} a year" in in_euros


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


# Panels where the old draws (the same-week coefficient only, the clustered covariance always)
# gave intervals without their own estimate: AR shocks (auto adds usage lags), feedback, and
# few teams (wild bootstrap). 150 teams x 52 weeks; 16 teams x 52 weeks.
_PANELS = {
    "ar_shocks": {"n_teams": 150, "n_weeks": 52, "error_ar": 0.5, "seed": 5},
    "ar_shocks_3": {"n_teams": 150, "n_weeks": 52, "error_ar": 0.5, "seed": 3},
    "feedback": {"n_teams": 150, "n_weeks": 52, "feedback": 1.0, "seed": 2},
    "few_teams": {"n_teams": 16, "n_weeks": 52, "seed": 1},
}


@pytest.fixture(scope="module", params=list(_PANELS))
def threatened(request):
    sim = cts.simulate_org(**_PANELS[request.param])
    panel = quiet_load(sim.panel)
    effects = {
        outcome: cts.estimate_adoption_effect(panel, outcome=outcome, reps=399)
        for outcome in ("cr_velocity", "deploy_velocity")
    }
    return request.param, panel, effects


def _consistent(table, level=0.95):
    """Rows whose interval holds the estimate and excludes zero exactly when p < 1 - level."""
    holds = (table["ci_low"] <= table["estimate"]) & (table["estimate"] <= table["ci_high"])
    excludes_zero = (table["ci_low"] > 0) | (table["ci_high"] < 0)
    agrees = excludes_zero == (table["p_value"] < 1 - level)
    return holds & agrees


def test_every_impact_interval_holds_its_estimate_and_agrees_with_its_p_value(threatened):
    name, panel, effects = threatened
    for outcome, effect in effects.items():
        if name == "few_teams":
            assert effect.inference == "wild_bootstrap"
        for horizon in ("long_run", "short_run"):
            for adoption in (None, 1.0):
                impact = cts.translate_impact(
                    effect, panel, horizon=horizon, adoption=adoption, draws=4000
                )
                ok = _consistent(impact.table)
                assert ok.all(), (outcome, horizon, adoption, impact.table[~ok])
                # the drawn effect is centred on the estimate: its median within 3% of it
                # (of the interval's width)
                row = impact.table.loc["velocity_change"]
                assert row["ci_low"] < row["estimate"] < row["ci_high"]


def test_impact_interval_of_the_long_run_is_the_effects_own(threatened):
    """Under resampling inference the draws are widened to the effect's resampling interval."""
    name, panel, effects = threatened
    effect = effects["cr_velocity"]
    impact = cts.translate_impact(effect, panel, adoption=1.0, draws=20_000)
    low, high = impact.table.loc["velocity_change", ["ci_low", "ci_high"]]
    width = effect.table.loc["long_run", "ci_high"] - effect.table.loc["long_run", "ci_low"]
    # the ratio g / (1 - b) is skewed, so the percentile interval is not symmetric; its width
    # matches the delta-method's to 15%
    assert high - low == pytest.approx(width, rel=0.15)


def test_combined_impact_intervals_hold_their_estimates(two_initiatives):
    _, panel = two_initiatives
    combined = cts.combined_impact(panel, ["ai_usage_rate", "deploy_automation"])
    assert _consistent(combined.table).all()


def test_impact_follows_a_counterfactual_headline():
    """When ``auto`` headlines the counterfactual, the valuation is the counterfactual's: its
    long run at the adoption asked about, and its own extra units in the recent weeks as what
    usage has added by now (summed here from its effects per team-week)."""
    sim = cts.simulate_org(n_teams=200, n_weeks=52, seed=8)
    panel = quiet_load(sim.panel)
    effect = cts.estimate_adoption_effect(panel, outcome="cr_velocity")
    assert effect.counterfactual is not None
    pooled = cts.translate_impact(effect, panel, adoption=1.0)
    effect.specification.headline = "counterfactual"  # as when its tests find effects differ
    impact = cts.translate_impact(effect, panel, adoption=1.0)
    result = effect.counterfactual
    recent = panel[panel["week"] > panel["week"].max() - pd.Timedelta(weeks=RECENT)]
    builder_weeks = recent["n_builders"].sum()
    velocity = recent["crs_merged"].sum() / builder_weeks
    rows = result.effects[result.effects["week"].isin(recent["week"].unique())]
    added = (rows["effect"] * rows["n_builders"]).sum() / builder_weeks
    long_run = result.table.loc["long_run", "estimate"]
    assert impact.velocity_without_assistant == pytest.approx(velocity - added, rel=1e-9)
    assert impact.table.loc["velocity_change", "estimate"] == pytest.approx(long_run, rel=1e-9)
    assert pooled.table.loc["velocity_change", "estimate"] != pytest.approx(long_run, rel=1e-3)
    # the interval is the counterfactual's: its long run's SE, to the draws' precision
    se = impact.table.loc["velocity_change", "se"]
    assert se == pytest.approx(result.table.loc["long_run", "se"], rel=0.05)
