import numpy as np
import pandas as pd
import pytest

import cts
from tests.conftest import quiet_load

# The simulated panels have a team-period or two without units; the rule is tested below.
pytestmark = pytest.mark.filterwarnings("ignore:.*shipped no unit:cts.PanelWarning")


@pytest.fixture(scope="module")
def small_panel():
    return quiet_load(cts.simulate_org(n_teams=40, n_weeks=30, seed=5).panel)


def test_auto_unit_follows_architecture_and_sums_over_periods(small_panel):
    cost = cts.cost_to_serve(small_panel)
    table = cost.table
    expected = {"service": "deployments", "monolith": "crs_shipped", "trunk": "commits_shipped"}
    for architecture, unit in expected.items():
        assert set(table.loc[table["architecture"] == architecture, "unit"]) == {unit}
    # One team-period recomputed by hand from the weekly rows.
    row = table.iloc[7]
    weeks = small_panel.loc[
        (small_panel["team_id"] == row["team_id"])
        & (small_panel["week"] >= row["period"])
        & (small_panel["week"] < row["period"] + pd.Timedelta(weeks=4))
    ]
    assert row["builder_weeks"] == weeks["n_builders"].sum()
    assert row["units"] == weeks[row["unit"]].sum()
    assert row["cts_sw"] == pytest.approx(weeks["n_builders"].sum() / weeks[row["unit"]].sum())
    assert row["cost"] == pytest.approx(
        (weeks["n_builders"] * weeks["cost_per_builder_week"]).sum()
    )
    assert row["cr_velocity"] == pytest.approx(
        weeks["crs_merged"].sum() / weeks["n_builders"].sum()
    )
    # Periods are aligned across teams: 4-week steps from the panel's first week.
    offsets = (table["period"] - small_panel["week"].min()) / pd.Timedelta(weeks=4)
    assert (offsets == offsets.round()).all()


def test_a_period_without_units_is_undefined_never_infinite(small_panel):
    before = cts.cost_to_serve(small_panel).n_undefined
    panel = small_panel.copy()
    team = panel.loc[panel["architecture"] == "service", "team_id"].iloc[0]
    first_period = panel["week"] < panel["week"].min() + pd.Timedelta(weeks=4)
    panel.loc[(panel["team_id"] == team) & first_period, "deployments"] = 0
    with pytest.warns(cts.PanelWarning, match=r"of [\d,]+ team-periods shipped no unit"):
        cost = cts.cost_to_serve(panel)
    table = cost.table
    empty = table.loc[~table["defined"]]
    assert cost.n_undefined == before + 1 and team in set(empty["team_id"])
    assert empty[["cts_sw", "cts_sw_cost", "log_cts_sw"]].isna().all(axis=None)
    assert np.isfinite(table.loc[table["defined"], ["cts_sw", "log_cts_sw"]]).all(axis=None)
    # Its builder-weeks still count in the organization's total for that period.
    first = cost.over_time().iloc[0]
    assert (
        first["builder_weeks"]
        == table.loc[table["period"] == table["period"].min(), "builder_weeks"].sum()
    )
    assert f"{before + 1} of" in cost.summary()


def test_org_level_is_a_ratio_of_sums_not_a_mean_of_ratios(small_panel):
    cost = cts.cost_to_serve(small_panel)
    table, over_time = cost.table, cost.over_time()
    period = table["period"].min()
    rows = table.loc[table["period"] == period]
    assert over_time.loc[period, "cts_sw"] == pytest.approx(
        rows["builder_weeks"].sum() / rows["units"].sum()
    )
    assert over_time.loc[period, "cts_sw_cost"] == pytest.approx(
        rows["cost"].sum() / rows["units"].sum()
    )
    # Teams differ a lot, so the unweighted mean of team ratios is a different (wrong) number.
    assert abs(rows["cts_sw"].mean() / over_time.loc[period, "cts_sw"] - 1) > 0.05
    by_architecture = cost.over_time("architecture").loc[period]
    assert set(by_architecture.index) == {"service", "monolith", "trunk"}


def test_cost_argument_overrides_and_missing_cost_gives_nan(small_panel):
    cost = cts.cost_to_serve(small_panel, cost_per_builder_week=1000.0)
    assert (cost.table["cost"] == 1000.0 * cost.table["builder_weeks"]).all()
    no_cost = cts.cost_to_serve(small_panel.drop(columns="cost_per_builder_week"))
    assert not no_cost.has_cost and no_cost.table["cts_sw_cost"].isna().all()
    assert "in money" not in no_cost.summary()


def test_forced_unit_and_monolith_fallback(small_panel):
    forced = cts.cost_to_serve(small_panel, unit="crs_merged")
    assert set(forced.table["unit"]) == {"crs_merged"}
    fallback = cts.cost_to_serve(small_panel.drop(columns="crs_shipped"))
    monolith = fallback.table["architecture"] == "monolith"
    assert set(fallback.table.loc[monolith, "unit"]) == {"crs_merged"}


def test_bad_arguments_are_explained(small_panel):
    with pytest.raises(ValueError, match="unit must be 'auto' or one of"):
        cts.cost_to_serve(small_panel, unit="releases")
    with pytest.raises(cts.PanelError, match="trunk teams in `commits_shipped`"):
        cts.cost_to_serve(small_panel.drop(columns="commits_shipped"))
    with pytest.raises(cts.PanelError, match="lacks: add it"):
        cts.cost_to_serve(small_panel.drop(columns="architecture"))
    unlabelled = small_panel.copy()
    unlabelled.loc[unlabelled["team_id"] == "team-0003", "architecture"] = None
    with pytest.raises(cts.PanelError, match=r"rows of 1 team\(s\) have none \(e.g. team-0003\)"):
        cts.cost_to_serve(unlabelled)
    forced = cts.cost_to_serve(unlabelled, unit="crs_merged")
    assert forced.table["builder_weeks"].sum() == small_panel["n_builders"].sum()  # nothing lost
    with pytest.raises(ValueError, match="whole number of weeks"):
        cts.cost_to_serve(small_panel, period="1M")
    with pytest.raises(ValueError, match="must be positive"):
        cts.cost_to_serve(small_panel, cost_per_builder_week=-5)
