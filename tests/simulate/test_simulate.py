import warnings

import numpy as np
import pandas as pd
import pyfixest as pf
import pytest

import cts


def _load(panel):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", cts.PanelWarning)
        return cts.load_panel(panel)


@pytest.fixture(scope="module")
def org():
    sim = cts.simulate_org(n_teams=400, n_weeks=156, seed=11)
    return sim, _load(sim.panel)


def test_deterministic_for_a_seed():
    first = cts.simulate_org(n_teams=30, n_weeks=40, seed=5)
    again = cts.simulate_org(n_teams=30, n_weeks=40, seed=5)
    other = cts.simulate_org(n_teams=30, n_weeks=40, seed=6)
    pd.testing.assert_frame_equal(first.panel, again.panel)
    assert first.truth == again.truth
    assert not first.panel["crs_merged"].equals(other.panel["crs_merged"].iloc[: len(first.panel)])


def test_panel_has_exactly_the_schema_with_integer_counts(org):
    sim, _ = org
    # `org` is written only with the org switch on (test_threats checks that panel's columns).
    without_org = [c for c in cts.OPTIONAL_COLUMNS if c != "org"]
    assert list(sim.panel.columns) == [*cts.REQUIRED_COLUMNS, *without_org]
    for column in cts.COUNT_COLUMNS:
        assert sim.panel[column].dtype == "int64", column
    assert set(sim.panel["architecture"]) == set(cts.ARCHITECTURES)


def test_looks_like_an_organization(org):
    sim, panel = org
    weeks_per_team = panel.groupby("team_id").size()
    assert weeks_per_team.nunique() > 20  # unbalanced: teams start and end
    assert 0.01 < cts.lag(panel, "crs_merged").isna().mean() < 0.05  # gaps beyond team starts
    assert panel.groupby("team_id")["n_builders"].nunique().gt(1).mean() > 0.5  # sizes change
    adopter = panel.groupby("team_id")["ai_active_builders"].max() > 0
    assert 0.6 < adopter.mean() < 0.85  # a share of never-adopters
    first_use = panel[panel["ai_active_builders"] > 0].groupby("team_id")["week"].min()
    assert first_use.nunique() > 30  # staggered adoption
    # Selection: adopters were already faster before the assistant existed.
    before = panel[panel["week"] < panel["week"].min() + pd.Timedelta(weeks=20)]
    speed = before.groupby("team_id")["cr_velocity"].mean()
    adopted_early = adopter.reindex(speed.index)
    assert speed[adopted_early].mean() > speed[~adopted_early].mean() + 0.2
    # Christmas weeks are slow, December freezes stop most deployments.
    by_week = panel.groupby("week")[["cr_velocity", "deploy_velocity"]].mean()
    christmas = by_week.index.isin(pd.to_datetime(["2023-12-25", "2024-12-23"]))
    assert (by_week.loc[christmas, "cr_velocity"] < 0.8 * by_week["cr_velocity"].median()).all()
    assert (
        by_week.loc[christmas, "deploy_velocity"] < 0.7 * by_week["deploy_velocity"].median()
    ).all()
    assert panel["rollbacks"].sum() > 0 and panel["pages"].sum() > 0
    assert 0.02 < (panel["n_builders"] < 5).mean() < 0.15


def test_truth_is_what_a_long_panel_recovers(org):
    """With T = 156 the Nickell bias (1 + b) / (T - 1) is ~0.01, so plain FE is a fair check.

    Tolerances: b within 0.015 of its Nickell-adjusted value; g within 4 clustered SEs.
    """
    sim, panel = org
    for outcome in ("cr_velocity", "deploy_velocity"):
        truth = sim.truth[outcome]
        data = panel.assign(lagged=cts.lag(panel, outcome)).dropna(subset=["lagged"])
        fit = pf.feols(
            f"{outcome} ~ lagged + ai_usage_rate | team_id + week", data, vcov={"CRV1": "team_id"}
        )
        b = truth["persistence"]
        assert fit.coef()["lagged"] == pytest.approx(b - (1 + b) / 155, abs=0.015), outcome
        assert abs(fit.coef()["ai_usage_rate"] - truth["short_run"]) < 4 * fit.se()["ai_usage_rate"]
        assert truth["long_run"] == pytest.approx(truth["short_run"] / (1 - b))


@pytest.mark.parametrize("bad_control", [False, True])
def test_bad_control_switch_makes_rollbacks_respond_to_usage(bad_control):
    sim = cts.simulate_org(n_teams=300, n_weeks=60, seed=2, bad_control=bad_control)
    fit = pf.feols(
        "rollback_rate ~ ai_usage_rate | team_id + week", _load(sim.panel), vcov={"CRV1": "team_id"}
    )
    slope, se = fit.coef()["ai_usage_rate"], fit.se()["ai_usage_rate"]
    expected = sim.params["bad_control_strength"] if bad_control else 0.0
    assert abs(slope - expected) < 4 * se
    if bad_control:
        assert slope / se > 4
        truth = sim.truth["cr_velocity"]
        through_rollbacks = sim.params["cr_rollback_effect"] * 0.04
        assert truth["total_short_run"] == pytest.approx(0.30 + through_rollbacks)


def test_heterogeneity_by_architecture_is_in_the_data():
    sim = cts.simulate_org(n_teams=600, n_weeks=104, seed=4, heterogeneity="architecture")
    panel = _load(sim.panel)
    panel = panel.assign(lagged=cts.lag(panel, "cr_velocity")).dropna(subset=["lagged"])
    fit = pf.feols(
        "cr_velocity ~ lagged + ai_usage_rate:C(architecture) | team_id + week",
        panel,
        vcov={"CRV1": "team_id"},
    )
    groups = sim.truth["cr_velocity"]["short_run_by_group"]
    for architecture, effect in groups.items():
        name = next(n for n in fit.coef().index if architecture in n)
        assert abs(fit.coef()[name] - effect) < 4 * fit.se()[name], architecture
    assert groups["service"] > 2 * groups["monolith"]


def test_team_size_heterogeneity_truth():
    sim = cts.simulate_org(n_teams=50, n_weeks=30, seed=1, heterogeneity="team_size")
    groups = sim.truth["deploy_velocity"]["short_run_by_group"]
    assert groups == {"small": pytest.approx(0.15), "large": pytest.approx(0.05)}


def test_bad_parameters_are_refused():
    with pytest.raises(TypeError, match="unknown simulation parameter"):
        cts.simulate_org(n_teams=5, n_weeks=5, cr_efect=0.3)
    with pytest.raises(ValueError, match="cr_persistence"):
        cts.simulate_org(n_teams=5, n_weeks=5, cr_persistence=1.0)
    with pytest.raises(ValueError, match="Monday"):
        cts.simulate_org(n_teams=5, n_weeks=5, start="2025-01-07")
    with pytest.raises(ValueError, match="heterogeneity"):
        cts.simulate_org(n_teams=5, n_weeks=5, heterogeneity="region")


def test_every_seed_passes_the_loader_without_error():
    for seed in range(5):
        sim = cts.simulate_org(
            n_teams=60, n_weeks=52, seed=seed, heterogeneity="team_size", bad_control=True
        )
        panel = _load(sim.panel)
        assert np.isfinite(panel[list(cts.DERIVED_COLUMNS)].to_numpy()).all()


def test_second_initiative_overlaps_ai_adoption_and_is_off_by_default():
    assert "deploy_automation" not in cts.simulate_org(20, 30, seed=1).panel
    sim = cts.simulate_org(400, 104, seed=1, second_initiative=True)
    panel = sim.panel
    assert set(panel["deploy_automation"].unique()) == {0, 1}
    first = {
        column: panel[panel[column] > 0].groupby("team_id")["week"].min()
        for column in ("ai_active_builders", "deploy_automation")
    }
    both = pd.concat(first, axis=1).dropna()
    weeks_apart = (both["deploy_automation"] - both["ai_active_builders"]).dt.days / 7
    assert weeks_apart.abs().median() < 6  # rollouts overlap: the reason for combined_impact
    assert sim.truth["deploy_velocity"]["deploy_automation"]["long_run"] == pytest.approx(
        sim.params["automation_deploy_effect"] / (1 - sim.params["deploy_persistence"])
    )


@pytest.mark.parametrize(
    ("n_teams", "n_weeks", "seed", "overrides"),
    [(60, 40, 3, {}), (25, 26, 8, {"feedback": 1.0}), (120, 104, 5, {"error_ar": 0.3})],
)
def test_simulated_panels_load_the_same_checked_or_not(n_teams, n_weeks, seed, overrides):
    """simulate_and_load skips the loader's checks (a third of a power simulation's time):
    the simulator's panel must load identically with them, warnings aside."""
    from cts.simulate.org import simulate_and_load

    sim, fast = simulate_and_load(n_teams, n_weeks, seed, overrides)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", cts.PanelWarning)
        checked = cts.load_panel(sim.panel)
    pd.testing.assert_frame_equal(fast, checked)
    assert fast.attrs == checked.attrs
