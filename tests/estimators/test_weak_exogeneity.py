"""The analytical correction for predetermined regressors, against known biases."""

import numpy as np
import pandas as pd
import pytest

from cts import dynamic_panel
from cts.estimators.weak_exogeneity import default_trim, predetermined_bias
from cts.simulate.org import simulate_and_load


def _ar1_panel(n, t, b, seed):
    """y_it = a_i + b y_i,t-1 + e_it, started from its stationary distribution."""
    rng = np.random.default_rng(seed)
    alpha = rng.standard_normal(n)
    y = np.empty((n, t + 1))
    y[:, 0] = alpha / (1 - b) + rng.standard_normal(n) / np.sqrt(1 - b**2)
    for s in range(1, t + 1):
        y[:, s] = alpha + b * y[:, s - 1] + rng.standard_normal(n)
    entity = np.repeat(np.arange(n), t)
    return pd.DataFrame(
        {
            "_entity": entity,
            "_time": np.tile(np.arange(1, t + 1), n),
            "_cluster": entity,
            "y": y[:, 1:].ravel(),
            "y_lag": y[:, :-1].ravel(),
        }
    )


def test_the_correction_removes_the_nickell_bias_of_an_autoregression():
    # The lagged outcome is the textbook predetermined regressor: its within estimate is biased
    # by about -(1 + b) / (T - 1) (Nickell 1981), which the correction must remove.
    b, n = 0.5, 4000
    for t, trim, removed in ((40, 4, 0.8), (10, None, 0.5)):  # default trim at 10 weeks: 2
        frame = _ar1_panel(n, t, b, seed=1)
        within = frame[["y", "y_lag"]] - frame.groupby("_entity")[["y", "y_lag"]].transform("mean")
        x, y = within[["y_lag"]].to_numpy(), within["y"].to_numpy()
        fe = np.linalg.lstsq(x, y, rcond=None)[0]
        bias, influence = predetermined_bias(frame, x, y - x @ fe, np.array([True]), trim=trim)
        nickell = -(1 + b) / (t - 1)
        assert fe[0] - b == pytest.approx(nickell, rel=0.2)  # the bias is there
        assert abs(fe[0] - bias[0] - b) < (1 - removed) * abs(fe[0] - b)  # and mostly gone
        assert influence.shape == (n, 1)
        assert influence.sum() == pytest.approx(0, abs=1e-9)  # deviations from the mean share
    assert default_trim(10) == 2 and default_trim(13) == 2 and default_trim(39) == 4
    with pytest.raises(ValueError, match="trim"):
        predetermined_bias(frame, x, y, np.array([True]), trim=0)


def test_predetermined_usage_halves_the_feedback_bias_of_bias_corrected():
    # simulate_org(feedback=1): usage ramps up after bad weeks. Over 5 panels of 1,500 teams x
    # 20 weeks bias_corrected misses the short-run effect by about +2.4 SEs; the correction
    # brings that near +1 (the rest is the trimming at 4 lags, see the module docstring).
    errors = {"bias_corrected": [], "predetermined": []}
    for seed in range(5):
        sim, panel = simulate_and_load(1500, 20, seed, {"feedback": 1.0})
        truth = sim.truth["cr_velocity"]["short_run"]
        for name, options in (
            ("bias_corrected", {}),
            ("predetermined", {"predetermined": "ai_usage_rate"}),
        ):
            fit = dynamic_panel(
                panel,
                "cr_velocity",
                ["ai_usage_rate", "rollback_rate"],
                "team_id",
                "week",
                **options,
            )
            row = fit.table.loc["ai_usage_rate"]
            errors[name].append((row["estimate"] - truth) / row["se"])
    uncorrected, corrected = (np.mean(errors[k]) for k in ("bias_corrected", "predetermined"))
    assert uncorrected > 1.5
    assert abs(corrected) < uncorrected - 0.8
    assert "predetermined" in fit.notes[0]


def test_strictly_exogenous_usage_is_left_almost_alone():
    sim, panel = simulate_and_load(400, 39, 3)
    x = ["ai_usage_rate", "rollback_rate"]
    plain = dynamic_panel(panel, "cr_velocity", x, "team_id", "week")
    corrected = dynamic_panel(panel, "cr_velocity", x, "team_id", "week", predetermined=x[0])
    shift = corrected.table["estimate"] - plain.table["estimate"]
    assert shift["L1.cr_velocity"] == 0  # the persistence keeps its jackknife
    assert abs(shift["ai_usage_rate"]) < 0.5 * plain.table.loc["ai_usage_rate", "se"]
    truth = sim.truth["cr_velocity"]["short_run"]
    row = corrected.table.loc["ai_usage_rate"]
    assert abs(row["estimate"] - truth) < 3 * row["se"]
