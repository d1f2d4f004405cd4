import pandas as pd
import pytest

import cts
from cts.panel import default_controls

COLUMNS = ["estimate", "se", "ci_low", "ci_high", "p_value"]


def test_table_has_the_analyst_terms(medium_org):
    sim, panel = medium_org
    effect = cts.estimate_adoption_effect(panel, outcome="deploy_velocity")
    # deployment velocity's default has no controls (its rates are ratios over deployments);
    # auto adds the counterfactual's average effect on the treated and total extra units
    assert list(effect.table.index) == [
        "short_run",
        "persistence",
        "long_run",
        "att",
        "total_extra_deployments",
    ]
    assert list(effect.table.columns) == COLUMNS
    truth = sim.truth["deploy_velocity"]
    # One draw: within 3 SEs (99.7%); 95% coverage itself is checked by the Monte Carlo.
    for term in ("short_run", "persistence", "long_run"):
        row = effect.table.loc[term]
        assert abs(row["estimate"] - truth[term]) < 3 * row["se"], term
    assert (effect.method, effect.outcome, effect.n_teams) == (
        "auto",
        "deploy_velocity",
        panel["team_id"].nunique(),
    )
    assert effect.n_weeks == panel["week"].nunique() - effect.specification.lags


def test_relative_effect_is_percent_of_adopters_pre_adoption_mean(medium_org):
    _, panel = medium_org
    effect = cts.estimate_adoption_effect(panel)
    first_use = panel[panel["ai_usage_rate"] > 0].groupby("team_id")["week"].min()
    rows = panel[panel["team_id"].isin(first_use.index)]
    baseline = rows.loc[rows["week"] < rows["team_id"].map(first_use), "cr_velocity"].mean()
    assert effect.baseline == pytest.approx(baseline)
    relative = effect.relative()
    assert relative.loc["long_run", "estimate_pct"] == pytest.approx(
        100 * effect.table.loc["long_run", "estimate"] / baseline
    )
    assert 15 < relative.loc["long_run", "estimate_pct"] < 30  # 0.6 on a base of about 3


def test_summary_and_tidy(medium_org):
    _, panel = medium_org
    effect = cts.estimate_adoption_effect(panel, method="fe")
    text = effect.summary()
    assert "cr_velocity" in text and f"{effect.table.loc['short_run', 'estimate']:+.3f}" in text
    tidy = effect.tidy()
    assert len(tidy) == 5 and set(tidy["method"]) == {"fe"}
    assert {"term", "outcome", "n_obs", *COLUMNS} <= set(tidy.columns)


def test_fe_method_is_the_dynamic_panel_fe(medium_org):
    _, panel = medium_org
    effect = cts.estimate_adoption_effect(panel, method="fe", controls=())
    direct = cts.dynamic_panel(
        panel, "cr_velocity", "ai_usage_rate", "team_id", "week", method="fe"
    )
    assert (
        effect.table.loc["short_run", "estimate"] == direct.table.loc["ai_usage_rate", "estimate"]
    )


def test_window_and_bad_input(medium_org):
    _, panel = medium_org
    start = panel["week"].min() + pd.Timedelta(weeks=20)
    end = start + pd.Timedelta(weeks=38)
    effect = cts.estimate_adoption_effect(panel, start=start, end=end)
    assert effect.n_weeks == 39
    with pytest.raises(cts.PanelError, match="no weeks between"):
        cts.estimate_adoption_effect(panel, start="2040-01-01")
    with pytest.raises(cts.PanelError, match="`lead_time` not in the panel"):
        cts.estimate_adoption_effect(panel, outcome="lead_time")
    with pytest.raises(ValueError, match="one of auto, cluster, wild_bootstrap, randomization"):
        cts.estimate_adoption_effect(panel, inference="bootstrap")


def test_no_pre_adoption_weeks_leaves_relative_effects_undefined(medium_org):
    _, panel = medium_org
    late = panel.loc[panel["week"] >= panel["week"].max() - pd.Timedelta(weeks=10)]
    # Keep never-users and teams already using the assistant in the window's first week.
    first_use = late.loc[late["ai_usage_rate"] > 0].groupby("team_id")["week"].min()
    started_later = first_use.index[first_use > late["week"].min()]
    window = late.loc[~late["team_id"].isin(started_later)].reset_index(drop=True)
    with pytest.warns(UserWarning, match="pre-adoption mean are undefined"):
        effect = cts.estimate_adoption_effect(window, method="fe")
    assert effect.relative().isna().all().all()
    assert effect.table["estimate"].notna().all()


def test_default_controls_follow_the_outcome(medium_org):
    """Deployment velocity's default has no controls: rollback rate and interventions per
    deployment are ratios over its own numerator (docs/estimands.md)."""
    _, panel = medium_org
    deploy = cts.estimate_adoption_effect(panel, outcome="deploy_velocity", method="fe")
    assert deploy.controls == ()
    assert default_controls("deploy_velocity") == ()
    cr = cts.estimate_adoption_effect(panel, outcome="cr_velocity", method="fe")
    assert cr.controls == ("rollback_rate", "interventions_per_deploy")
    explicit = cts.estimate_adoption_effect(
        panel, outcome="deploy_velocity", method="fe", controls=["rollback_rate"]
    )
    assert explicit.controls == ("rollback_rate",)


def test_week_effects_by_org_are_the_default_when_the_panel_has_orgs():
    from cts.simulate.org import simulate_and_load

    sim, panel = simulate_and_load(200, 39, 1, {"orgs": 4})
    by_org = cts.estimate_adoption_effect(
        panel, controls=("rollback_rate",), method="bias_corrected"
    )
    assert by_org.time_effects_by == "org" and by_org.model.time_effects_by == "org"
    assert "week effects by `org` (4 orgs" in by_org.summary()
    common = cts.estimate_adoption_effect(
        panel, controls=("rollback_rate",), method="bias_corrected", time_effects_by=None
    )
    assert common.time_effects_by is None and "Fixed effects" not in common.summary()
    # Each org's persistent shocks inflate the common-week fit's persistence (measured 0.577
    # against the truth 0.5 here; by org 0.495, within 1 SE).
    truth = sim.truth["cr_velocity"]
    for term in ("short_run", "persistence", "long_run"):
        row = by_org.table.loc[term]
        assert abs(row["estimate"] - truth[term]) < 2 * row["se"], term
    assert common.table.loc["persistence", "estimate"] - truth["persistence"] > 0.05
    # An org of one team: "auto" keeps one week effect for all, and says why.
    lonely = panel.assign(org=panel["org"].where(panel["team_id"] != "team-0001", "solo"))
    fallback = cts.estimate_adoption_effect(lonely, controls=(), method="bias_corrected")
    assert fallback.time_effects_by is None
    assert any("single team ('solo')" in caveat for caveat in fallback.caveats)
    with pytest.raises(cts.PanelError, match="have one"):
        cts.estimate_adoption_effect(lonely, method="bias_corrected", time_effects_by="org")
