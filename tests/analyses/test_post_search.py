"""auto's SEs widened for its search: the between-models variance of the pre-tests' verdicts."""

import numpy as np
import pandas as pd
import pytest
from conftest import quiet_load
from scipy import stats

import cts
from cts.analyses.post_search import (
    TERMS,
    effect_terms,
    other_verdict,
    squared_gap,
    widen_for_search,
)
from cts.analyses.specification import Specification
from cts.core.results import TestStatistic


def _test(p_value: float, alpha: float = 0.05) -> TestStatistic:
    return TestStatistic("t", 0.0, 1, p_value, "null", alpha=alpha)


def test_other_verdict_is_a_half_at_the_level_and_small_when_the_test_is_clear():
    assert other_verdict(_test(0.05)) == pytest.approx(0.5)
    # accepted at p = 0.5: a replicate rejects with Phi(0 - 1.645) = 0.05
    assert other_verdict(_test(0.5)) == pytest.approx(0.05, abs=1e-4)
    # rejected at p = 0.001: a replicate accepts with 1 - Phi(3.090 - 1.645) = 0.0742
    assert other_verdict(_test(0.001)) == pytest.approx(0.0742, abs=1e-4)
    # the homogeneity test's 1% level: p = 0.01 is the coin flip
    assert other_verdict(_test(0.01, alpha=0.01)) == pytest.approx(0.5)
    assert np.isnan(other_verdict(_test(float("nan"))))


@pytest.fixture(scope="module")
def spread_panel():
    sim = cts.simulate_org(80, 39, seed=5, persistence_spread=0.1)
    return quiet_load(sim.panel)


@pytest.fixture(scope="module")
def effect(spread_panel):
    return cts.estimate_adoption_effect(spread_panel, controls=("rollback_rate",))


def test_the_squared_gap_less_its_sampling_variance_floored_at_zero():
    terms = list(TERMS)
    chosen = pd.DataFrame({"estimate": [0.30, 0.50, 0.60], "se": [0.02, 0.01, 0.03]}, terms)
    theirs = pd.DataFrame({"estimate": [0.25, 0.505, np.nan], "se": [0.03, 0.02, 0.04]}, terms)
    out = squared_gap(theirs, chosen)
    # 0.05^2 - |0.03^2 - 0.02^2| = 0.0025 - 0.0005
    assert out["short_run"] == pytest.approx(0.0020, abs=1e-12)
    # a gap within its noise: 0.005^2 - (0.02^2 - 0.01^2) < 0, floored
    assert out["persistence"] == 0.0
    # a missing estimate adds nothing; a missing SE leaves the gap whole
    assert out["long_run"] == 0.0
    theirs.loc["short_run", "se"] = np.nan
    assert squared_gap(theirs, chosen)["short_run"] == pytest.approx(0.0025, abs=1e-12)


def test_auto_widens_by_each_verdict_q_1_minus_q_times_the_squared_gap_less_its_noise(effect):
    search = effect.search
    assert search is not None and not search.alternatives.empty
    table = effect.table.loc[list(TERMS)]
    np.testing.assert_allclose(table["se"], search.table["se"], rtol=1e-12)
    # the widening from the alternatives' rows, by hand
    alternatives = search.alternatives
    weights = (alternatives["q"] * (1 - alternatives["q"])).to_numpy()
    for term in TERMS:
        fixed = search.table.loc[term, "se_fixed"]
        gaps = alternatives[term].to_numpy() - table.loc[term, "estimate"]
        noise = np.abs(alternatives[f"se_{term}"].to_numpy() ** 2 - fixed**2)
        expected = np.sqrt(fixed**2 + weights @ np.maximum(gaps**2 - noise, 0.0))
        assert table.loc[term, "se"] == pytest.approx(expected, rel=1e-10)
        # never narrower than the chosen model's, never wider than with the raw squared gap
        assert fixed <= table.loc[term, "se"] <= np.sqrt(fixed**2 + weights @ gaps**2)
    z = 1.959964
    np.testing.assert_allclose(table["ci_high"] - table["estimate"], z * table["se"], rtol=1e-5)
    np.testing.assert_allclose(table["estimate"] - table["ci_low"], z * table["se"], rtol=1e-5)
    assert "intervals widened for the search" in effect.specification.summary()


def test_a_gap_within_its_noise_adds_nothing_on_the_spread_panel(effect):
    # one lag chosen, two lags at q = 0.43: that model's short run is 0.313 against auto's
    # 0.318, a gap of 0.0045 (0.00002 squared) against |0.0574^2 - 0.0320^2| = 0.0023 of
    # noise: no widening (the raw squared gap gave 0.0320 -> 0.0321); persistence keeps part of
    # its gaps (+0.015 with two lags, -0.027 with each team's own): 0.02235 -> 0.02261 (the raw
    # squared gap gave 0.0239)
    search = effect.search
    q = search.alternatives.set_index("decision")["q"]
    assert q["2 lag(s)"] == pytest.approx(0.4263, abs=1e-3)
    se = search.table["se"]
    assert se["short_run"] == search.table.loc["short_run", "se_fixed"]
    assert se["short_run"] == pytest.approx(0.03200, rel=1e-3)
    assert se["persistence"] == pytest.approx(0.02261, rel=1e-3)
    assert search.table.loc["persistence", "se_fixed"] == pytest.approx(0.02235, rel=1e-3)


def test_the_alternatives_are_the_other_verdicts_of_the_chosen_specification(effect, spread_panel):
    spec = effect.specification
    decisions = set(effect.search.alternatives["decision"])
    if spec.lags == 1 and not spec.predetermined:
        assert {"2 lag(s)", "usage predetermined"} <= decisions
    assert all(0 < q < 1 for q in effect.search.alternatives["q"])
    # the one-more-lag row is that model's own estimate
    if "2 lag(s)" in decisions:
        longer = cts.dynamic_panel(
            spread_panel,
            "cr_velocity",
            ["ai_usage_rate", "rollback_rate"],
            "team_id",
            "week",
            lags=2,
            treatment_lags=1,
            predetermined=spec.predetermined,
            team_persistence=spec.team_persistence,
            serial_test=False,
        ).table.loc["ai_usage_rate", "estimate"]
        row = effect.search.alternatives.set_index("decision").loc["2 lag(s)"]
        assert row["short_run"] == pytest.approx(longer, rel=1e-10)


def test_a_named_method_is_not_widened(spread_panel):
    effect = cts.estimate_adoption_effect(
        spread_panel, controls=("rollback_rate",), method="bias_corrected"
    )
    assert effect.search is None


def test_each_decision_s_other_verdict_and_its_q(spread_panel):
    # two lags reached by the residuals' rejection at one lag, stopped by two passes at two
    tests = [
        ("residuals, 1 lag(s)", _test(0.01)),
        ("residuals, 2 lag(s)", _test(0.5)),
        ("lag 3", _test(0.3)),
        ("strict exogeneity", _test(0.2)),
    ]
    spec = Specification("bias_corrected", 2, 1, (), tests)
    chosen = cts.dynamic_panel(
        spread_panel, "cr_velocity", ["ai_usage_rate", "rollback_rate"], "team_id", "week",
        lags=2, treatment_lags=1, serial_test=False,
    )  # fmt: skip
    table = effect_terms(chosen, "cr_velocity", "ai_usage_rate")
    widening = widen_for_search(
        table, spec, spread_panel, "cr_velocity", ["ai_usage_rate", "rollback_rate"]
    )
    q = widening.alternatives.set_index("decision")["q"]
    assert list(q.index) == ["1 lag(s)", "3 lag(s)", "usage predetermined"]
    z = stats.norm.isf(0.05)
    rejects = {p: stats.norm.cdf(stats.norm.isf(p) - z) for p in (0.01, 0.5, 0.3, 0.2)}
    assert q["1 lag(s)"] == pytest.approx(1 - rejects[0.01], rel=1e-10)
    assert q["1 lag(s)"] == pytest.approx(0.2478, abs=1e-4)
    assert q["3 lag(s)"] == pytest.approx(1 - (1 - rejects[0.5]) * (1 - rejects[0.3]), rel=1e-10)
    assert q["usage predetermined"] == pytest.approx(rejects[0.2], rel=1e-10)
    np.testing.assert_allclose(widening.table["se_fixed"], table["se"])
