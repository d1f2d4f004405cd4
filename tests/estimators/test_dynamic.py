import numpy as np
import pandas as pd
import pytest
from conftest import quiet_load
from linearmodels import PanelOLS

import cts
from cts import dynamic_panel

X = ["ai_usage_rate", "rollback_rate", "interventions_per_deploy"]


def test_fe_equals_linearmodels_panelols_to_1e8(medium_org):
    _, panel = medium_org
    result = dynamic_panel(panel, "deploy_velocity", X, "team_id", "week", method="fe")
    data = panel.assign(lagged=cts.lag(panel, "deploy_velocity")).dropna(subset=["lagged"])
    data = data.set_index(["team_id", "week"])
    reference = PanelOLS(
        data["deploy_velocity"], data[["lagged", *X]], entity_effects=True, time_effects=True
    ).fit(
        cov_type="clustered",
        cluster_entity=True,
        debiased=False,
        auto_df=False,
        count_effects=False,
    )
    ours = result.table.iloc[: 1 + len(X)]
    np.testing.assert_allclose(ours["estimate"], reference.params, rtol=0, atol=1e-8)
    # cts applies the cluster correction G/(G-1) and nothing else; linearmodels with these
    # options applies none, so the two differ by exactly sqrt(G/(G-1)).
    groups = panel["team_id"].nunique()
    np.testing.assert_allclose(
        ours["se"], reference.std_errors * np.sqrt(groups / (groups - 1)), rtol=1e-8
    )
    assert result.n_obs == reference.nobs


def test_gaps_drop_rows_instead_of_borrowing_a_neighbour(medium_org):
    _, panel = medium_org
    result = dynamic_panel(panel, "cr_velocity", "ai_usage_rate", "team_id", "week", method="fe")
    assert result.n_obs == cts.lag(panel, "cr_velocity").notna().sum()
    assert result.n_obs < len(panel) - panel["team_id"].nunique()  # gaps cost rows too


def test_long_run_is_delta_method_of_short_run_and_persistence(medium_org):
    _, panel = medium_org
    result = dynamic_panel(panel, "cr_velocity", X, "team_id", "week", lags=2)
    b = result.table.loc[["L1.cr_velocity", "L2.cr_velocity"], "estimate"].sum()
    g = result.table.loc["ai_usage_rate", "estimate"]
    assert result.table.loc["long_run.ai_usage_rate", "estimate"] == pytest.approx(g / (1 - b))
    names = ["L1.cr_velocity", "L2.cr_velocity", "ai_usage_rate"]
    gradient = np.array([g / (1 - b) ** 2, g / (1 - b) ** 2, 1 / (1 - b)])
    variance = gradient @ result.vcov.loc[names, names].to_numpy() @ gradient
    assert result.table.loc["long_run.ai_usage_rate", "se"] == pytest.approx(np.sqrt(variance))
    assert result.persistence == pytest.approx(b)


def test_sample_mask_keeps_the_lag_from_before_the_window(medium_org):
    _, panel = medium_org
    window = panel["week"] >= panel["week"].min() + pd.Timedelta(weeks=40)
    result = dynamic_panel(
        panel, "cr_velocity", "ai_usage_rate", "team_id", "week", sample=window, method="fe"
    )
    lagged = cts.lag(panel, "cr_velocity")
    assert result.n_obs == (window & lagged.notna()).sum()
    assert result.n_periods == panel.loc[window, "week"].nunique()


def test_integer_time_and_one_way_effects():
    rng = np.random.default_rng(0)
    firms, years = 300, 12
    data = pd.DataFrame(
        {
            "firm": np.repeat(np.arange(firms), years),
            "year": np.tile(np.arange(1990, 1990 + years), firms),
        }
    )
    data["x"] = rng.standard_normal(len(data))
    effect = np.repeat(rng.standard_normal(firms), years)
    y = np.zeros(len(data))
    for t in range(years):
        rows = slice(t, None, years)
        previous = y[t - 1 :: years] if t else 0.0
        y[rows] = (
            effect[rows]
            + 0.5 * previous
            + 1.0 * data["x"].to_numpy()[rows]
            + rng.standard_normal(firms)
        )
    data["y"] = y
    fe = dynamic_panel(data, "y", "x", "firm", "year", method="fe", time_effects=False)
    corrected = dynamic_panel(data, "y", "x", "firm", "year", time_effects=False)
    # Nickell: with T = 11 usable years FE understates b = 0.5 (by ~0.08 across seeds 0-3, less
    # than (1 + b)/(T - 1) because x explains part of y); the jackknife lands within ~1 SE (0.02).
    assert fe.table.loc["L1.y", "estimate"] < 0.45
    assert corrected.table.loc["L1.y", "estimate"] == pytest.approx(0.5, abs=0.04)
    assert fe.n_periods == years - 1


def test_bad_arguments():
    panel = quiet_load(cts.simulate_org(20, 20, seed=1).panel)
    with pytest.raises(ValueError, match="method must be one of"):
        dynamic_panel(panel, "cr_velocity", "ai_usage_rate", "team_id", "week", method="ols")
    with pytest.raises(cts.PanelError, match="`velocity`"):
        dynamic_panel(panel, "velocity", "ai_usage_rate", "team_id", "week")
    with pytest.raises(ValueError, match="lags must be >= 1"):
        dynamic_panel(panel, "cr_velocity", "ai_usage_rate", "team_id", "week", lags=0)


def test_monte_carlo_smoke_bias_corrected_fixes_nickell_bias():
    """20 panels of 200 teams x 39 weeks. b's MC standard error of the mean is ~0.003 and FE's
    Nickell bias ~0.045, so 0.012 (4 MC SEs) separates them; g's tolerance is 4 MC SEs too."""
    from cts.validation.monte_carlo import monte_carlo, summarize_monte_carlo

    draws = monte_carlo(
        n_weeks=(39,),
        n_teams=200,
        reps=20,
        outcomes=("cr_velocity",),
        methods=("fe", "bias_corrected"),
        workers=1,
        progress=False,
    )
    summary = summarize_monte_carlo(draws).loc[("cr_velocity", 39)]
    assert abs(summary.loc[("bias_corrected", "persistence"), "bias"]) < 0.012
    assert abs(summary.loc[("bias_corrected", "short_run"), "bias"]) < 0.018
    assert abs(summary.loc[("bias_corrected", "long_run"), "bias"]) < 0.036
    assert summary.loc[("fe", "persistence"), "bias"] < -0.03
    assert summary.loc[("bias_corrected", "persistence"), "coverage"] >= 0.75
    # The SE formula tracks the spread of the estimates (within 35% at 20 draws).
    ratio = summary["mean_se"] / summary["sd"]
    assert ratio.between(0.65, 1.35).all(), ratio


def test_gmm_recovers_the_truth_with_few_instruments(medium_org):
    sim, panel = medium_org
    result = dynamic_panel(panel, "cr_velocity", X, "team_id", "week", method="gmm")
    truth = sim.truth["cr_velocity"]
    for term, true in (
        ("L1.cr_velocity", truth["persistence"]),
        ("ai_usage_rate", truth["short_run"]),
    ):
        row = result.table.loc[term]
        assert abs(row["estimate"] - true) < 3 * row["se"], term
    assert result.diagnostics["n_instruments"] < panel["team_id"].nunique() / 2
    assert result.diagnostics["ar2_p"] > 0.01  # the simulator's errors are serially independent
    assert "Hansen J" in result.notes[0] and "AR(2)" in result.notes[0]
    with pytest.raises(ValueError, match="cluster must be the entity"):
        dynamic_panel(
            panel, "cr_velocity", X, "team_id", "week", method="gmm", cluster="architecture"
        )


@pytest.fixture(scope="module")
def org_panel():
    """200 teams x 39 weeks in 4 orgs, each with its own weekly shocks."""
    return quiet_load(cts.simulate_org(200, 39, seed=1, orgs=4).panel)


def test_week_effects_by_org_equal_pyfixest_with_org_by_week_dummies(org_panel):
    import pyfixest as pf

    x = ["ai_usage_rate", "rollback_rate"]
    fe = dynamic_panel(
        org_panel, "cr_velocity", x, "team_id", "week", method="fe", time_effects_by="org"
    )
    data = org_panel.assign(lagged=cts.lag(org_panel, "cr_velocity")).dropna(subset=["lagged"])
    fit = pf.feols(
        "cr_velocity ~ lagged + ai_usage_rate + rollback_rate | team_id + org^week",
        data,
        vcov={"CRV1": "team_id"},
        ssc=pf.ssc(k_adj=False, G_adj=True),
    )
    np.testing.assert_allclose(fe.table["estimate"].iloc[:3], fit.coef(), rtol=0, atol=1e-8)
    np.testing.assert_allclose(fe.table["se"].iloc[:3], fit.se(), rtol=1e-6)
    assert fe.time_effects_by == "org" and "period effects by org" in fe.summary()
    # bias_corrected: given its persistence, the effects are the same org x week regression
    corrected = dynamic_panel(org_panel, "cr_velocity", x, "team_id", "week", time_effects_by="org")
    b = corrected.persistence
    given_b = pf.feols(
        "y ~ ai_usage_rate + rollback_rate | team_id + org^week",
        data.assign(y=data["cr_velocity"] - b * data["lagged"]),
    )
    np.testing.assert_allclose(corrected.table["estimate"].iloc[1:3], given_b.coef(), atol=1e-8)
    plain = dynamic_panel(org_panel, "cr_velocity", x, "team_id", "week")
    assert plain.time_effects_by is None and abs(plain.persistence - b) > 0.02


def test_week_effects_by_org_refuse_what_they_cannot_fit(org_panel):
    lonely = org_panel.assign(org=np.where(org_panel["team_id"] == "team-0001", "solo", "rest"))
    with pytest.raises(cts.PanelError, match=r"1 group\(s\) have one \('solo'\)"):
        dynamic_panel(
            lonely, "cr_velocity", "ai_usage_rate", "team_id", "week", time_effects_by="org"
        )
    moving = org_panel.assign(org=np.where(org_panel.index % 2 == 0, "a", "b"))
    with pytest.raises(cts.PanelError, match="constant within each entity"):
        dynamic_panel(
            moving, "cr_velocity", "ai_usage_rate", "team_id", "week", time_effects_by="org"
        )
    with pytest.raises(ValueError, match="time_effects_by= is an option"):
        dynamic_panel(
            org_panel,
            "cr_velocity",
            "ai_usage_rate",
            "team_id",
            "week",
            method="gmm",
            time_effects_by="org",
        )
    # 40 orgs of ~5 teams: fitted, with the caveat in words
    teams = org_panel["team_id"].str[-4:].astype(int)
    small = org_panel.assign(org=(teams % 40).astype(str))
    fit = dynamic_panel(
        small, "cr_velocity", "ai_usage_rate", "team_id", "week", time_effects_by="org"
    )
    assert any("rest on few entities" in note for note in fit.notes)
