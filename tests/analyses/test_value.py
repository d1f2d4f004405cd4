"""Net return, paths without the assistant and per-tool returns, against
the simulator's truth and against an independent formula (translate_impact)."""

import dataclasses
import warnings

import numpy as np
import pandas as pd
import pytest

import cts
from cts.analyses import value
from tests.conftest import quiet_load

RECENT = 13


@pytest.fixture(scope="module")
def org():
    sim = cts.simulate_org(n_teams=300, n_weeks=104, seed=8)
    panel = quiet_load(sim.panel)
    effect = cts.estimate_adoption_effect(panel, outcome="deploy_velocity", method="bias_corrected")
    return sim, panel, effect, value.assistant_paths(panel, "deploy_velocity", effect=effect)


@pytest.fixture(scope="module")
def two_tools():
    tools = {"copilot": 1.0, "cursor": 2.0}
    sim = cts.simulate_org(n_teams=300, n_weeks=104, seed=3, tools=tools)
    return sim, quiet_load(sim.panel)


def test_money_has_three_significant_digits():
    assert value.format_money(108_213_225) == "USD 108 million"
    assert value.format_money(4_516_000, "EUR") == "EUR 4.52 million"
    assert value.format_money(912_345) == "USD 912,000"
    assert value.format_money(1_234_567_890) == "USD 1.23 billion"
    assert value.format_money(-2_049_000) == "-USD 2.05 million"
    assert value.format_money(np.nan) == "not available"
    assert value.significant(0.012345) == 0.0123


def _true_added_units(sim, panel, outcome):
    """Units the assistant added over the window, by the simulator's own recursion (true g and
    b), team by team over calendar weeks, usage carried over missing weeks."""
    g, b = (sim.truth[outcome][k] for k in ("short_run", "persistence"))
    weeks = pd.date_range(panel["week"].min(), panel["week"].max(), freq="7D")
    total = 0.0
    for _, team in panel.groupby("team_id"):
        usage = team.set_index("week")["ai_usage_rate"].reindex(weeks).ffill().fillna(0)
        builders = team.set_index("week")["n_builders"].reindex(weeks).fillna(0)
        added = 0.0
        for week in weeks:
            added = g * usage[week] + b * added
            total += added * builders[week]
    return total


def test_paths_match_the_true_recursion(org):
    sim, panel, _, paths = org
    weekly = paths.weekly
    added = (weekly["observed_units"] - weekly["without_units"]).sum()
    truth = _true_added_units(sim, panel, "deploy_velocity")
    # the estimate's SE is ~4% of the effect here: within 10% of the truth
    assert added == pytest.approx(truth, rel=0.10)
    draws = paths.draws["assistant"].sum(axis=1)
    assert np.percentile(draws, 2.5) < truth < np.percentile(draws, 97.5)
    # per team-week: observed = without + assistant, and no assistant before any use
    table = paths.table
    assert np.allclose(table["observed"], table["without"] + table["assistant"])
    never = table.groupby("team_id")["assistant"].transform("max") == 0
    users = panel.groupby("team_id")["ai_active_builders"].max()
    assert set(table.loc[never, "team_id"]) == set(users.index[users == 0])
    assert (weekly["without_low"] <= weekly["without_units"] + 1e-9).all()
    assert (weekly["without_units"] <= weekly["without_high"] + 1e-9).all()


def test_net_return_agrees_with_translate_impact(org):
    """Two formulas for the capacity freed at today's adoption: the steady state of
    translate_impact and the paths' recursion agree once adopters have settled."""
    _, panel, effect, paths = org
    impact = cts.translate_impact(effect, panel, cost_per_builder_week=4000.0)
    result = value.net_return(panel, paths, cost_per_builder_week=4000.0)
    years = impact.table.loc["engineering_years_saved_per_year", "estimate"]
    assert result.table.loc["engineering_years_freed_a_year", "estimate"] == pytest.approx(
        years, rel=0.03
    )
    assert result.table.loc["value_a_year", "estimate"] == pytest.approx(
        impact.table.loc["money_saved_per_year", "estimate"], rel=0.03
    )


def test_spend_multiple_payback_and_break_even(org):
    _, panel, _, paths = org
    result = value.net_return(panel, paths, seat_cost={"copilot": 39.0}, cost_per_builder_week=4000)
    recent = panel[panel["week"] > panel["week"].max() - pd.Timedelta(weeks=RECENT)]
    seats = recent["ai_active_builders"].sum() / recent["week"].nunique()
    t = result.table["estimate"]
    assert t["licence_spend_a_year"] == pytest.approx(seats * 39 * 12)
    assert t["net_value_a_year"] == pytest.approx(t["value_a_year"] - t["licence_spend_a_year"])
    assert t["return_multiple"] == pytest.approx(t["value_a_year"] / t["licence_spend_a_year"])
    assert t["payback_months"] == pytest.approx(12 / t["return_multiple"])
    assert not result.price_assumed and "active builders" in result.seat_basis
    assert result.adoption == pytest.approx(seats / (recent["n_builders"].sum() / RECENT))
    # an effect scaled down to the break-even one is worth exactly its seats
    scale = result.break_even_effect / result.effect
    shrunk = dataclasses.replace(
        paths,
        point={t: p * scale for t, p in paths.point.items()},
        draws={t: d * scale for t, d in paths.draws.items()},
    )
    even = value.net_return(panel, shrunk, seat_cost={"copilot": 39.0}, cost_per_builder_week=4000)
    assert even.table.loc["net_value_a_year", "estimate"] == pytest.approx(0, abs=1e-3)
    # intervals: the value's interval is the draws', and contains the estimate
    low, high = result.table.loc["value_a_year", ["ci_low", "ci_high"]]
    assert low < t["value_a_year"] < high
    headlines = result.headlines()
    assert (
        "USD" in headlines["net value a year"]
        and "per builder-month" in headlines["licence spend a year"]
    )


def test_price_is_assumed_only_when_none_is_given(org):
    _, panel, _, paths = org
    assumed = value.net_return(panel, paths)
    assert assumed.price_assumed and "assumed" in assumed.headlines()["licence spend a year"]
    with pytest.raises(ValueError, match="one seat price"):
        value.net_return(panel, paths, seat_cost={"copilot": 19, "cursor": 40})
    without_cost = panel.drop(columns="cost_per_builder_week")
    with pytest.raises(ValueError, match="cost of a builder-week"):
        value.net_return(without_cost, paths)


def test_two_tools_recover_each_tools_truth_and_add_up(two_tools):
    sim, panel = two_tools
    assert (
        panel[["ai_active_builders_copilot", "ai_active_builders_cursor"]].sum(axis=1)
        == panel["ai_active_builders"]
    ).all()
    assert (panel["ai_seats_cursor"] >= panel["ai_active_builders_cursor"]).all()
    paths = value.assistant_paths(panel, "cr_velocity")
    assert paths.tools == ["copilot", "cursor"]
    for tool in paths.tools:
        estimate, se = paths.long_run[tool]
        truth = sim.truth["cr_velocity"]["tools"][tool]["long_run"]
        assert abs(estimate - truth) < 4 * se, (tool, estimate, truth, se)
    result = value.net_return(panel, paths, seat_cost={"copilot": 19, "cursor": 40})
    assert result.seat_basis == "seat counts"
    by_tool = result.by_tool
    assert by_tool["value_a_year"].sum() == pytest.approx(
        result.table.loc["value_a_year", "estimate"]
    )
    assert by_tool["licence_spend_a_year"].sum() == pytest.approx(
        result.table.loc["licence_spend_a_year", "estimate"]
    )
    assert by_tool.loc["cursor", "seat_cost"] == 40
    # cursor's effect is twice copilot's, so it adds about twice the value per user
    per_user = by_tool["value_a_year"] / by_tool["seats"]
    assert 1.5 < per_user["cursor"] / per_user["copilot"] < 2.7
    with pytest.raises(ValueError, match="seat prices for q"):
        value.net_return(panel, paths, seat_cost={"q": 19})


def test_tools_off_leave_the_panel_unchanged():
    plain = cts.simulate_org(n_teams=30, n_weeks=30, seed=5).panel
    with_tools = cts.simulate_org(n_teams=30, n_weeks=30, seed=5, tools={"copilot": 1.0}).panel
    assert not any(c.startswith("ai_seats") for c in plain.columns)
    # the tool draws come after every other draw of the teams' traits
    pd.testing.assert_series_equal(plain["team_id"], with_tools["team_id"])


def test_money_outcome_follows_the_unit_of_cts_sw(org):
    _, panel, _, _ = org
    outcome, reason = value.choose_money_outcome(panel)
    assert outcome == "deploy_velocity" and "service teams" in reason
    monoliths = panel.assign(architecture="monolith")
    assert value.choose_money_outcome(monoliths)[0] == "cr_velocity"
    assert value.choose_money_outcome(panel, unit="crs_shipped")[0] == "cr_velocity"


def test_cts_sw_without_the_assistant_and_the_same_weeks_a_year_apart(org):
    _, panel, effect, paths = org
    cr = value.assistant_paths(
        panel, "cr_velocity", effect=cts.estimate_adoption_effect(panel, method="bias_corrected")
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", cts.PanelWarning)  # a few team-periods ship nothing
        cost = cts.cost_to_serve(panel)
    frame = value.cts_sw_without(cost, {"deploy_velocity": paths, "cr_velocity": cr})
    over_time = cost.over_time()
    assert np.allclose(frame["cts_sw"], over_time["cts_sw"])
    # the assistant only adds units: CTS-SW without it is never lower, and higher once teams use it
    assert (frame["cts_sw_without"] >= frame["cts_sw"] - 1e-12).all()
    assert frame["cts_sw_without"].iloc[-1] > frame["cts_sw"].iloc[-1]
    assert (frame["cts_sw_without_low"] <= frame["cts_sw_without_high"]).all()
    # units removed: each velocity's added units, summed over the window (ratio per team-period)
    removed = (frame["units"] - frame["units_without"]).sum()
    added = sum((p.weekly["observed_units"] - p.weekly["without_units"]).sum() for p in (paths, cr))
    assert 0 < removed < added
    trend = value.year_over_year(over_time, cost.period)
    sums = over_time[["builder_weeks", "units"]]
    now, before = sums.iloc[-3:].sum(), sums.iloc[-16:-13].sum()
    expected = (now["builder_weeks"] / now["units"]) / (before["builder_weeks"] / before["units"])
    assert trend["ok"] and trend["change"] == pytest.approx(expected - 1)
    short = value.year_over_year(over_time.iloc[:14], cost.period)
    assert not short["ok"] and "shorter than a year" in short["text"]
    assert not value.year_over_year(over_time, "5W")["ok"]


def test_agent_share_counts_agents_within_the_crs(org):
    _, panel, _, _ = org
    assert value.agent_share(panel) is None
    with_agents = panel.assign(agent_crs=panel["crs_merged"] // 4)
    recent = with_agents[with_agents["week"] > with_agents["week"].max() - pd.Timedelta(weeks=13)]
    expected = recent["agent_crs"].sum() / recent["crs_merged"].sum()
    assert value.agent_share(with_agents) == pytest.approx(expected)
