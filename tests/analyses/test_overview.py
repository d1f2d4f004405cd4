import pandas as pd
import pytest

import cts
from cts.analyses import overview
from tests.conftest import quiet_load


def _panel():
    weeks = pd.date_range("2025-01-06", periods=6, freq="7D")
    rows = []
    for team, size, used in (("a", 10, 5), ("b", 4, 0)):
        for i, week in enumerate(weeks):
            if team == "a" and i in (2, 3):
                continue  # a two-week telemetry gap
            rows.append(
                dict(
                    team_id=team,
                    week=week,
                    n_builders=size,
                    crs_merged=2 * size,
                    deployments=size,
                    rollbacks=0,
                    manual_interventions=0,
                    pages=0,
                    oncall_builders=1,
                    ai_active_builders=used if i >= 4 else 0,
                )
            )
    return quiet_load(pd.DataFrame(rows))


def test_coverage_counts_lifetimes_gaps_and_suppression_apart():
    cover = overview.coverage(_panel())
    assert cover["teams"] == 2 and cover["weeks"] == 6 and cover["team_weeks"] == 10
    assert cover["lifetime_weeks"] == 12 and cover["gap_weeks"] == 2
    assert cover["gap_share"] == pytest.approx(2 / 12) and cover["teams_with_gaps"] == 1
    # Team b (4 builders) is below the minimum team size: suppressed, not missing.
    assert cover["suppressed_team_weeks"] == 6 and cover["suppressed_teams"] == 1
    assert cover["reported_team_weeks"] == 4 and cover["reported_teams"] == 1
    assert cover["teams_starting_late"] == 0 and cover["teams_ending_early"] == 0
    rows = overview.coverage_rows(cover).set_index("what")["count"]
    assert rows["telemetry gaps"] == "2" and rows["left out for privacy"] == "6"


def test_suppressed_team_weeks_are_not_counted_as_gaps():
    """A team whose middle weeks fall below the minimum team size has no telemetry gap: its
    weeks are suppressed for privacy (counting them as gaps inflated the panel report's gaps)."""
    panel = _panel()
    panel.loc[(panel["team_id"] == "a") & (panel["week"] == panel["week"].max()), "n_builders"] = 3
    cover = overview.coverage(panel)
    assert cover["gap_weeks"] == 2 and cover["suppressed_team_weeks"] == 7
    with pytest.raises(ValueError, match="pass the panel as loaded"):
        overview.gaps(cts.suppress_small_teams(panel))


def test_gaps_are_listed_with_their_first_missing_week():
    gaps = overview.gaps(_panel())
    assert gaps.to_dict("records") == [
        {"team_id": "a", "first_missing": pd.Timestamp("2025-01-20"), "missing_weeks": 2}
    ]


def test_adoption_curve_and_weekly_outcomes_are_ratios_of_sums():
    panel = _panel()
    curve = overview.adoption_curve(panel)
    last = curve.loc[pd.Timestamp("2025-02-10")]
    assert last["share_of_builders"] == pytest.approx(5 / 14)
    assert last["share_of_teams"] == pytest.approx(0.5)
    weekly = overview.weekly_outcomes(panel)
    assert weekly.loc[pd.Timestamp("2025-01-20"), "cr_velocity"] == pytest.approx(2.0)
    assert weekly.loc[pd.Timestamp("2025-01-06"), "deploy_velocity"] == pytest.approx(1.0)


def test_compare_methods_reports_a_method_that_cannot_run():
    """25 teams x 52 weeks: GMM's ~50 period dummies exceed the teams, so it is refused with
    a note while the other methods run."""
    panel = quiet_load(cts.simulate_org(25, 52, seed=7).panel)
    table, notes = cts.compare_methods(panel, outcome="cr_velocity")
    assert table.loc["gmm"].isna().all(axis=None)
    assert notes["gmm"].startswith("not estimated: difference GMM needs more entities")
    assert table.loc[["fe", "bias_corrected"]].notna().all(axis=None)
    assert set(table.index.get_level_values("term")) == {"short_run", "persistence", "long_run"}
