"""The simulator's threats to the default estimator: feedback, AR(1) shocks, heterogeneous
persistence (SimulationParams.feedback, error_ar, persistence_spread)."""

import hashlib
import warnings

import numpy as np
import pandas as pd
import pyfixest as pf
import pytest

import cts
from cts.simulate.org import simulate_and_load


def _lead_response(truth_overrides: dict, seed: int, n_teams: int = 300) -> tuple[float, float]:
    """Two-way FE of next week's usage on this week's CR velocity (given this week's usage)."""
    _, panel = simulate_and_load(n_teams, 52, seed, truth_overrides)
    panel = panel.assign(lead=cts.lag(panel, "ai_usage_rate", -1)).dropna(subset=["lead"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = pf.feols(
            "lead ~ cr_velocity + ai_usage_rate | team_id + week",
            panel,
            vcov={"CRV1": "team_id"},
        )
    return fit.coef()["cr_velocity"], fit.se()["cr_velocity"]


def test_feedback_makes_usage_respond_to_last_weeks_outcome():
    # After a bad week (low velocity) feedback teams raise usage: the response falls by more
    # than 3 SEs against the same design without feedback (measured at 500 teams: t 5.4 -> -1.4,
    # a fall of 4.7 SEs; at 300 teams it was 3.9 SEs while pages lowered velocity, 2.9 since
    # they raise it, as velocity then carries more than the shocks feedback responds to).
    clean, clean_se = _lead_response({}, seed=1, n_teams=500)
    fed, fed_se = _lead_response({"feedback": 1.0}, seed=1, n_teams=500)
    assert fed - clean < -3 * np.hypot(clean_se, fed_se)


def test_ar1_shocks_inflate_the_one_lag_persistence_and_carry_their_truth():
    clean, _ = simulate_and_load(300, 80, 21)
    sim, panel = simulate_and_load(300, 80, 21, {"error_ar": 0.3})
    truth = sim.truth["cr_velocity"]
    assert truth["persistence"] == 0.5 and truth["long_run"] == pytest.approx(0.6)
    # One lag absorbs part of the serial correlation (measured 0.63; clean panel 0.51).
    one_lag = cts.dynamic_panel(panel, "cr_velocity", "ai_usage_rate", "team_id", "week")
    assert one_lag.persistence > 0.58


def test_persistence_spread_truth_is_the_mean_team_persistence():
    sim = cts.simulate_org(300, 30, seed=4, persistence_spread=0.3)
    truth = sim.truth["cr_velocity"]
    # Mean of 300 uniform(-0.3, 0.3) draws: SD 0.3 / sqrt(3 * 300) = 0.01.
    assert truth["persistence"] != 0.5
    assert truth["persistence"] == pytest.approx(0.5, abs=0.04)
    # The long run is the mean of the teams' own, 0.3 E[1 / (1 - b_i)] = 0.3 ln(4) / 0.6 for
    # b_i uniform on (0.2, 0.8) (SD of the mean of 300 about 2.4%), not 0.3 / (1 - mean b_i),
    # which is 13% smaller.
    assert truth["long_run"] == pytest.approx(0.3 * np.log(4) / 0.6, rel=0.06)
    assert truth["long_run"] > 1.1 * 0.3 / (1 - truth["persistence"])
    deploy_long_run = sim.truth["deploy_velocity"]["long_run"]
    assert deploy_long_run == pytest.approx(0.1 * np.log(3) / 0.6, rel=0.05)  # b_i on (0.1, 0.7)
    deploy = sim.truth["deploy_velocity"]["persistence"]
    assert deploy - 0.4 == pytest.approx(truth["persistence"] - 0.5)  # one draw per team


def test_threat_parameters_are_validated():
    with pytest.raises(ValueError, match="error_ar"):
        cts.simulate_org(5, 5, error_ar=1.0)
    with pytest.raises(ValueError, match="feedback"):
        cts.simulate_org(5, 5, feedback=-0.5)
    with pytest.raises(ValueError, match="persistence_spread"):
        cts.simulate_org(5, 5, persistence_spread=0.5)  # 0.5 + 0.5 is a unit root
    with pytest.raises(ValueError, match="early_adopters_gain needs effect_spread"):
        cts.simulate_org(5, 5, early_adopters_gain=0.5)
    with pytest.raises(ValueError, match="effect_spread"):
        cts.simulate_org(5, 5, effect_spread=1.0)
    with pytest.raises(ValueError, match="orgs"):
        cts.simulate_org(5, 5, orgs=2.5)
    with pytest.raises(ValueError, match="learning_weeks"):
        cts.simulate_org(5, 5, learning_weeks=-1)


# --- effects that differ by team, org waves with org shocks, effects learned over weeks of use


def _panel_hash(panel) -> str:
    return hashlib.sha256(pd.util.hash_pandas_object(panel, index=True).to_numpy()).hexdigest()


def test_the_default_panel_is_the_one_from_before_these_switches():
    # sha256 of the default panel (150 teams x 60 weeks, seed 3), computed before effect_spread,
    # orgs and learning_weeks existed: switches that are off draw nothing and change nothing.
    # Pages raised velocity from the defaults' change of sign on; with the earlier page effects
    # the panel is still the one hashed then.
    earlier = cts.simulate_org(150, 60, seed=3, cr_page_effect=-0.2, deploy_page_effect=-0.2)
    assert _panel_hash(earlier.panel)[:16] == "a036abc46f263f07"
    sim = cts.simulate_org(150, 60, seed=3)
    assert _panel_hash(sim.panel)[:16] == "731174b9112135fc"
    off = cts.simulate_org(150, 60, seed=3, effect_spread=0.0, orgs=0, learning_weeks=0)
    pd.testing.assert_frame_equal(off.panel, sim.panel)


def test_no_assistant_path_is_the_hand_computed_recursion():
    """The truth's gap to the no-assistant path, recomputed from the panel alone: with every
    week observed, ``d_t = b d_t-1 + g min(1, k / L) usage_t`` (k weeks since first use)."""
    sim = cts.simulate_org(60, 40, seed=7, learning_weeks=8, gap_rate=0.0, turnover=0.0)
    panel = sim.panel.assign(usage=sim.panel["ai_active_builders"] / sim.panel["n_builders"])
    for outcome, effect, b, count in (
        ("cr_velocity", 0.30, 0.5, "crs_merged"),
        ("deploy_velocity", 0.10, 0.4, "deployments"),
    ):
        gaps, weeks_of_use, projections = [], [], []
        for _, team in panel.groupby("team_id", sort=True):
            usage = team["usage"].to_numpy()
            used = np.flatnonzero(usage > 0)
            k = np.arange(len(usage)) - (used[0] if len(used) else len(usage)) + 1
            learned = np.clip(k / 8, 0, 1)
            gap, exposure = np.zeros(len(usage)), np.zeros(len(usage))
            for t in range(len(usage)):
                gap[t] = (b * gap[t - 1] if t else 0.0) + effect * learned[t] * usage[t]
                exposure[t] = (b * exposure[t - 1] if t else 0.0) + usage[t]
            gaps.append(gap)
            if len(used):  # the team's gaps projected on its filtered usage
                projections.append(gap @ exposure / (exposure @ exposure))
            weeks_of_use.append(np.maximum(k, 0))
        gap, weeks = np.concatenate(gaps), np.concatenate(weeks_of_use)
        truth = sim.truth[outcome]
        treated = weeks > 0
        assert truth["unit"] == count
        assert truth["treated_team_weeks"] == treated.sum()
        assert truth["att"] == pytest.approx(gap[treated].mean(), rel=1e-12)
        extra = (gap * panel["n_builders"].to_numpy())[treated].sum()
        assert truth["extra_units"] == pytest.approx(extra, rel=1e-12)
        profile = pd.Series(gap[treated]).groupby(weeks[treated] - 1).mean()  # 0: first week
        assert truth["att_by_weeks_of_use"] == pytest.approx(profile.to_dict(), rel=1e-12)
        # Learning: the first week of use gets an eighth of the effect. The short-run truth is
        # what the teams' weeks of use averaged (each team's gaps projected on its usage
        # filtered by the persistence, equal weights), below the learned effect.
        assert truth["short_run_learned"] == pytest.approx(effect)
        assert truth["short_run"] == pytest.approx(np.mean(projections), rel=1e-12)
        assert 0.5 * effect < truth["short_run"] < 0.95 * effect
        assert truth["long_run"] == pytest.approx(truth["short_run"] / (1 - b))
    first = panel.loc[panel["usage"] > 0].groupby("team_id")["usage"].first()
    assert sim.truth["cr_velocity"]["att_by_weeks_of_use"][0] == pytest.approx(
        0.30 / 8 * first.mean(), rel=1e-12
    )


def test_org_waves_write_an_org_column_and_org_shocks():
    sim, panel = simulate_and_load(300, 52, 2, {"orgs": 4})
    assert list(sim.panel.columns) == [*cts.REQUIRED_COLUMNS, *cts.OPTIONAL_COLUMNS]
    assert (panel.groupby("team_id")["org"].nunique() == 1).all()
    assert sorted(panel["org"].unique()) == ["org-1", "org-2", "org-3", "org-4"]
    # Org j opens 5 weeks (0.1 x 52) after org j-1: median first use moves later org by org.
    first_use = panel[panel["ai_active_builders"] > 0].groupby("team_id")["week"].min()
    by_org = first_use.groupby(panel.groupby("team_id")["org"].first()).median()
    assert (by_org.diff().dropna() > pd.Timedelta(0)).all(), by_org
    # Org shocks: org-week means of the two-way residual spread 4.7x a random grouping's
    # (measured 0.23 against 0.050 on the same design without orgs).
    _, clean = simulate_and_load(300, 52, 2)
    placebo = pd.Series(np.random.default_rng(0).integers(0, 4, 300))
    placebo = clean["team_id"].map(dict(zip(clean["team_id"].unique(), placebo, strict=False)))
    assert _org_week_spread(panel, panel["org"]) > 3 * _org_week_spread(clean, placebo)
    assert sim.truth["cr_velocity"]["short_run"] == 0.3  # orgs move outcomes, not effects


def _org_week_spread(panel, org) -> float:
    from cts.estimators.demean import demean

    codes = np.column_stack([pd.factorize(panel[c])[0] for c in ("team_id", "week")])
    residual = demean(panel["cr_velocity"].to_numpy(), codes)[:, 0]
    keys = [org.to_numpy(), panel["week"].to_numpy()]
    return float(pd.Series(residual).groupby(keys).mean().std())


def test_early_adopters_gain_more_and_the_truth_averages_the_treated():
    sim, panel = simulate_and_load(400, 104, 3, {"effect_spread": 0.5, "early_adopters_gain": 1.0})
    first_use = panel[panel["ai_active_builders"] > 0].groupby("team_id")["week"].min()
    early = first_use <= first_use.median()
    panel = panel.assign(
        early=panel["team_id"].map(early).fillna(False).astype(float),
        lagged=cts.lag(panel, "cr_velocity"),
    ).dropna(subset=["lagged"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = pf.feols(
            "cr_velocity ~ lagged + ai_usage_rate + ai_usage_rate:early | team_id + week",
            panel,
            vcov={"CRV1": "team_id"},
        )
    # Measured: late 0.246, early +0.112 (SE 0.017).
    assert fit.coef()["ai_usage_rate:early"] > 4 * fit.se()["ai_usage_rate:early"]
    # The truth: the mean over the teams observed using the assistant of their own effect.
    adopters = panel.groupby("team_id")["ai_active_builders"].max() > 0
    sim_again = cts.simulate_org(400, 104, seed=3, effect_spread=0.5, early_adopters_gain=1.0)
    assert sim_again.truth == sim.truth
    truth = sim.truth["cr_velocity"]
    # Adopters planned early gain up to 1.5x, late ones down to 0.5x; teams planned too late
    # to be seen using it drop out, so the users' mean is above 0.30 (measured 0.307).
    assert adopters.sum() > 250 and 0.30 < truth["short_run"] < 0.32
    assert truth["long_run"] == pytest.approx(truth["short_run"] / 0.5)
