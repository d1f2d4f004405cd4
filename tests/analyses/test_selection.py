"""Intervals widened for auto's search: the union with the models its pre-tests compared."""

import numpy as np
import pytest
from conftest import quiet_load

import cts


@pytest.fixture(scope="module")
def spread_panel():
    sim = cts.simulate_org(80, 39, seed=5, persistence_spread=0.1)
    return quiet_load(sim.panel)


def test_search_intervals_hold_auto_and_each_nesting_models_interval(spread_panel):
    effect = cts.estimate_adoption_effect(spread_panel, controls=("rollback_rate",))
    widened = cts.search_intervals(effect, spread_panel)
    table = effect.table.loc[["short_run", "persistence", "long_run"]]
    np.testing.assert_allclose(widened["estimate"], table["estimate"])
    assert (widened["search_low"] <= widened["ci_low"]).all()
    assert (widened["search_high"] >= widened["ci_high"]).all()
    assert "one more lag" in widened["models"].iloc[0]
    # the one-more-lag model's own interval is inside the union
    spec = effect.specification
    longer = cts.dynamic_panel(
        spread_panel,
        "cr_velocity",
        ["ai_usage_rate", "rollback_rate"],
        "team_id",
        "week",
        lags=spec.lags + 1,
        treatment_lags=spec.lags,
        predetermined=spec.predetermined,
        team_persistence=spec.team_persistence,
    ).table.loc["ai_usage_rate"]
    assert widened.loc["short_run", "search_low"] <= longer["ci_low"] + 1e-12
    assert widened.loc["short_run", "search_high"] >= longer["ci_high"] - 1e-12


def test_search_intervals_refuse_what_they_cannot_widen(spread_panel):
    fixed = cts.estimate_adoption_effect(spread_panel, method="bias_corrected")
    with pytest.raises(ValueError, match="method='auto' only"):
        cts.search_intervals(fixed, spread_panel)
    resampled = cts.estimate_adoption_effect(
        spread_panel, controls=("rollback_rate",), inference="wild_bootstrap", reps=19
    )
    with pytest.raises(ValueError, match="clustered inference"):
        cts.search_intervals(resampled, spread_panel)
