"""Difference GMM with usage predetermined (instrumented by its lagged levels) and the
Arellano-Bond serial-correlation test as a TestStatistic."""

import pytest

from cts import dynamic_panel
from cts.core.results import TestStatistic
from cts.estimators.gmm import difference_gmm
from cts.simulate.org import simulate_and_load


@pytest.fixture(scope="module")
def feedback_org():
    return simulate_and_load(300, 80, 21, {"feedback": 1.0})


def test_predetermined_usage_is_instrumented_by_its_lagged_levels(feedback_org):
    _, panel = feedback_org
    options = dict(lags=1, max_lag=5, collapse=True, time_effects=True)
    exogenous = difference_gmm(panel, "cr_velocity", "ai_usage_rate", "team_id", "week", **options)
    predetermined = difference_gmm(
        panel,
        "cr_velocity",
        "ai_usage_rate",
        "team_id",
        "week",
        predetermined="ai_usage_rate",
        **options,
    )
    # Its own difference (1 column) gives way to its levels lagged 1..5 (5 collapsed columns).
    assert predetermined.n_instruments == exogenous.n_instruments + 4
    test = predetermined.serial_correlation_test(2)
    assert isinstance(test, TestStatistic)
    assert test.statistic == predetermined.ar2 and test.p_value == predetermined.ar2_p
    assert not test.rejected  # the simulator's shocks are serially independent here
    assert predetermined.serial_correlation_test(1).rejected  # differenced errors are MA(1)


def test_predetermined_gmm_recovers_the_truth_under_feedback(feedback_org):
    sim, panel = feedback_org
    truth = sim.truth["cr_velocity"]
    result = dynamic_panel(
        panel,
        "cr_velocity",
        "ai_usage_rate",
        "team_id",
        "week",
        method="gmm",
        predetermined="ai_usage_rate",
    )
    for term, true in (
        ("L1.cr_velocity", truth["persistence"]),
        ("ai_usage_rate", truth["short_run"]),
        ("long_run.ai_usage_rate", truth["long_run"]),
    ):
        row = result.table.loc[term]
        assert abs(row["estimate"] - true) < 3 * row["se"], term
    assert "ai_usage_rate predetermined" in result.notes[0]


def test_predetermined_is_refused_where_it_does_not_apply(feedback_org):
    _, panel = feedback_org
    with pytest.raises(ValueError, match="option of 'bias_corrected' and 'gmm'"):
        dynamic_panel(
            panel,
            "cr_velocity",
            "ai_usage_rate",
            "team_id",
            "week",
            method="fe",
            predetermined="ai_usage_rate",
        )
    with pytest.raises(ValueError, match="not in x"):
        dynamic_panel(panel, "cr_velocity", "ai_usage_rate", "team_id", "week", predetermined="x")
    with pytest.raises(ValueError, match="inference='wild_bootstrap'"):
        dynamic_panel(
            panel,
            "cr_velocity",
            "ai_usage_rate",
            "team_id",
            "week",
            predetermined="ai_usage_rate",
            inference="wild_bootstrap",
        )
    with pytest.raises(ValueError, match="not in x"):
        difference_gmm(panel, "cr_velocity", "ai_usage_rate", "team_id", "week", predetermined="y")
    with pytest.raises(ValueError, match="order must be 1 or 2"):
        difference_gmm(
            panel, "cr_velocity", "ai_usage_rate", "team_id", "week", max_lag=3, collapse=True
        ).serial_correlation_test(3)
