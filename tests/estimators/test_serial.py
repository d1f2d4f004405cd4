"""The residual serial-correlation test of fe / bias_corrected fits (cts.estimators.serial).

Monte Carlo behind the tolerances (40 panels of 150 teams x 39 weeks, cr_velocity on usage and
rollback_rate): clean panels, one lag: mean z +0.17, SD 0.93, 5% rejected at 5%; ADL(2, 1):
+0.24, SD 1.01, 10% (MC SE 5). AR(1) shocks rho = 0.3, one lag: mean z -2.12, SD 0.85, 52%
rejected; ADL(2, 1), which absorbs the AR(1) shock: +0.32, SD 0.99, 7.5%. z grows with the
square root of the team-weeks, so at 400 x 39 (2.7x the pairs) a one-lag fit of AR(1) shocks
has expected z about -3.5 (seeds 31-33: -3.9, -4.7, -3.0), and a correct model |z| > 2.58 in
about 1% of panels.
"""

import numpy as np
import pytest

import cts
from cts.core.results import TestStatistic
from cts.estimators.serial import residual_serial_correlation
from cts.simulate.org import simulate_and_load

X = ["ai_usage_rate", "rollback_rate"]


@pytest.fixture(scope="module")
def panels():
    return {
        "clean": simulate_and_load(400, 39, 31)[1],
        "ar": simulate_and_load(400, 39, 31, {"error_ar": 0.3})[1],
    }


def _fit(panel, method="bias_corrected", lags=1, treatment_lags=0):
    return cts.dynamic_panel(
        panel,
        "cr_velocity",
        X,
        "team_id",
        "week",
        method=method,
        lags=lags,
        treatment_lags=treatment_lags,
    )


def test_rejects_ar1_shocks_with_one_lag_and_not_once_the_lags_absorb_them(panels):
    one_lag = _fit(panels["ar"]).serial_correlation
    assert isinstance(one_lag, TestStatistic)
    assert one_lag.statistic < -2.58 and one_lag.rejected  # AR(1) makes d e_t, d e_t-2 negative
    adl = _fit(panels["ar"], lags=2, treatment_lags=1).serial_correlation
    assert abs(adl.statistic) < 2.58


@pytest.mark.parametrize("method", ["bias_corrected", "fe"])
def test_does_not_reject_on_clean_panels(panels, method):
    result = _fit(panels["clean"], method=method)
    test = result.serial_correlation
    assert abs(test.statistic) < 2.58
    assert result.diagnostics["ar2"] == test.statistic
    assert "AR(2)" in result.summary()


def test_fe_and_bias_corrected_share_the_jackknife_residuals(panels):
    # The test always uses the jackknife fit (Nickell-biased FE residuals would bias it).
    fe, corrected = (_fit(panels["clean"], m).serial_correlation for m in ("fe", "bias_corrected"))
    assert fe.statistic == pytest.approx(corrected.statistic, rel=1e-8)


def test_first_order_is_expected_and_gaps_are_respected(panels):
    panel = panels["clean"]
    frame = (
        panel.assign(
            **{"L1.cr_velocity": cts.lag(panel, "cr_velocity")},
            _entity=panel["team_id"],
            _time=panel["week"],
            _cluster=panel["team_id"],
        )
        .dropna(subset=["L1.cr_velocity"])
        .reset_index(drop=True)
    )
    lags = ["L1.cr_velocity"]
    first = residual_serial_correlation(frame, "cr_velocity", lags, X, order=1)
    assert first.statistic < -10  # differenced white noise is MA(1): corr -0.5
    # Dropping every 7th week leaves gaps: pairs across a gap are not formed, still no AR(2).
    holes = frame.loc[frame.index % 7 != 3].reset_index(drop=True)
    second = residual_serial_correlation(holes, "cr_velocity", lags, X)
    assert np.isfinite(second.statistic) and abs(second.statistic) < 2.58
    with pytest.raises(ValueError, match="order"):
        residual_serial_correlation(frame, "cr_velocity", lags, X, order=0)
