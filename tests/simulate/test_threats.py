"""The simulator's threats to the default estimator: feedback, AR(1) shocks, heterogeneous
persistence (SimulationParams.feedback, error_ar, persistence_spread)."""

import warnings

import numpy as np
import pyfixest as pf
import pytest

import cts
from cts.simulate.org import simulate_and_load


def _lead_response(truth_overrides: dict, seed: int) -> tuple[float, float]:
    """Two-way FE of next week's usage on this week's CR velocity (given this week's usage)."""
    _, panel = simulate_and_load(300, 52, seed, truth_overrides)
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
    # than 3 SEs against the same design without feedback (measured: t 3.8 -> -1.9).
    clean, clean_se = _lead_response({}, seed=1)
    fed, fed_se = _lead_response({"feedback": 1.0}, seed=1)
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
