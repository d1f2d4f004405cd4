"""Every public result class speaks one protocol: table, summary(), tidy(), an HTML view."""

import inspect
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import cts
from cts.core.results import (
    ESTIMATE_COLUMNS,
    Result,
    TestStatistic,
    critical_value,
    estimate_table,
)
from cts.estimators.gmm import GMMResult, difference_gmm
from cts.estimators.inference import ResamplingTest


@pytest.fixture(scope="module")
def results() -> dict[type, Result]:
    """One instance of every public result class, from small simulated panels."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", cts.CtsWarning)
        panel = cts.load_panel(cts.simulate_org(n_teams=60, n_weeks=52, seed=3).panel)
        both = cts.load_panel(
            cts.simulate_org(n_teams=60, n_weeks=52, seed=3, second_initiative=True).panel
        )
        effect = cts.estimate_adoption_effect(panel)
        found = [
            effect,
            effect.model,
            cts.estimate_adoption_effect(panel, method="auto").specification,
            cts.estimate_adoption_effect(
                panel, inference="wild_bootstrap", reps=99
            ).model.resampling,
            cts.cost_to_serve(panel),
            cts.fit_drivers(panel),
            cts.exogeneity_checks(panel),
            cts.heterogeneous_effects(panel, n_estimators=8),
            cts.translate_impact(effect, panel, draws=200),
            cts.combined_impact(both, ["ai_usage_rate", "deploy_automation"]),
            cts.power(panel, 0.1, reps=2, n_teams=20, n_weeks=20, workers=1, progress=False),
            cts.event_study(panel),
            cts.identification(panel),
            cts.counterfactual(panel, "cr_velocity", reps=19, progress=False),
            (paths := cts.assistant_paths(panel, "cr_velocity", reps=19)),
            cts.net_return(panel, paths, seat_cost={"all": 19.0}),
            cts.quality_guardrails(panel, reps=19),
            cts.reconcile_estimates(panel, effect=effect),
            difference_gmm(
                panel, "cr_velocity", "ai_usage_rate", "team_id", "week", max_lag=3, collapse=True
            ),
        ]
    return {type(result): result for result in found}


def _public_result_classes() -> set[type]:
    values = [getattr(cts, name) for name in cts.__all__ if name[0].isupper()]
    public = {v for v in values if inspect.isclass(v) and issubclass(v, Result)}
    return public | {GMMResult, ResamplingTest}


def test_every_public_result_class_is_covered(results):
    assert _public_result_classes() <= set(results), "add the new result class to `results`"


@pytest.mark.parametrize(
    "cls", sorted(_public_result_classes(), key=lambda c: c.__name__), ids=lambda c: c.__name__
)
def test_result_protocol(results, cls):
    result = results[cls]
    assert isinstance(result, Result)
    table = result.table
    assert isinstance(table, pd.DataFrame) and len(table) > 0
    if "estimate" in table.columns:
        assert set(ESTIMATE_COLUMNS) <= set(table.columns), f"{cls.__name__}: {list(table)}"
        finite = table.dropna(subset=["estimate", "se"])
        assert (finite["ci_low"] <= finite["estimate"]).all()
        assert (finite["estimate"] <= finite["ci_high"]).all()
    text = result.summary()
    assert isinstance(text, str) and len(text) > 20 and str(result) == text
    tidy = result.tidy()
    assert len(tidy) == len(table)
    for name, value in result.metadata().items():
        if name not in table.reset_index().columns:  # a table column keeps its name
            assert tidy[name].isna().all() if value is None else (tidy[name] == value).all()
    html = result._repr_html_()
    assert "<table" in html and "<p>" in html
    shown = repr(result)
    assert shown.startswith(f"{cls.__name__}(") and text in shown and "object at 0x" not in shown


def test_every_exported_class_shows_what_it_holds_in_a_terminal(results):
    """Every class cts exports (exceptions aside) has a repr naming the class and what it holds,
    not ``<... object at 0x...>``; a simulated organisation shows its truth, not its rows."""
    sim = cts.simulate_org(12, 10, seed=1, cr_effect=0.5)
    instances = {
        **results,
        cts.SimulatedOrg: sim,
        cts.SimulationParams: cts.SimulationParams(),
        TestStatistic: TestStatistic("joint test", 8.5, 3, 0.037, "all zero"),
    }
    exported = {
        value
        for value in (getattr(cts, name) for name in cts.__all__)
        if inspect.isclass(value) and not issubclass(value, BaseException)
    }
    assert exported <= set(instances), "add an instance of the new class to `instances`"
    for cls in exported:
        shown = repr(instances[cls])
        assert shown.startswith(f"{cls.__name__}(") and "object at 0x" not in shown, cls
    shown = repr(sim)
    assert shown.splitlines()[0] == "SimulatedOrg(cr_effect=0.5, n_teams=12, n_weeks=10, seed=1)"
    assert "truth of cr_velocity: short_run +0.500, persistence +0.500, long_run +1.000" in shown
    assert f"panel: {len(sim.panel)} team-weeks, 12 teams" in shown
    assert "team-0001" not in shown and len(shown) < 500


def test_intervals_at_any_level():
    assert critical_value() == pytest.approx(stats.norm.ppf(0.975), abs=1e-12)
    assert critical_value(0.90) == pytest.approx(1.6448536, abs=1e-6)
    table = estimate_table(pd.Series([1.0, -2.0], index=["a", "b"]), [0.5, 1.0], level=0.9)
    assert table.loc["a", "ci_low"] == pytest.approx(1 - 1.6448536 * 0.5, abs=1e-6)
    assert table.loc["b", "p_value"] == pytest.approx(2 * stats.norm.sf(2.0), abs=1e-12)
    with pytest.raises(ValueError, match="level"):
        critical_value(95)


def test_test_statistic_verdict_and_views(results):
    wald = TestStatistic("joint test", 8.5, 3, stats.chi2.sf(8.5, 3), "all zero")
    assert wald.rejected and wald.verdict == "all zero: rejected at 5% (p = 0.037)"
    assert not TestStatistic("t", 1.0, 1, stats.chi2.sf(1.0, 1), "zero").rejected
    assert wald.table.loc["joint test", "df"] == 3 and "chi2 = 8.500, df 3" in wald.summary()
    study = results[cts.EventStudy]
    assert (
        study.pretrend.statistic == study.pretrend_chi2 and study.pretrend.df == study.pretrend_df
    )
    gmm = results[GMMResult]
    assert gmm.hansen_test.p_value == gmm.hansen_p
    assert [gmm.serial_correlation_test(k).p_value for k in (1, 2)] == [gmm.ar1_p, gmm.ar2_p]
    checks = results[cts.ExogeneityChecks]
    assert [t.p_value for t in checks.tests] == list(checks.table["p_adjusted"])
    assert np.isfinite([t.statistic for t in checks.tests]).all()


def test_level_sets_the_intervals_where_they_are_built():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", cts.CtsWarning)
        panel = cts.load_panel(cts.simulate_org(n_teams=40, n_weeks=40, seed=5).panel)
        effect = cts.estimate_adoption_effect(panel)
        wide = cts.translate_impact(effect, panel, draws=2000, level=0.95)
        narrow = cts.translate_impact(effect, panel, draws=2000, level=0.5)
        drivers = cts.fit_drivers(panel, level=0.9)
    width = (wide.table["ci_high"] - wide.table["ci_low"]).abs()
    assert ((narrow.table["ci_high"] - narrow.table["ci_low"]).abs() < width).all()
    assert "50% CI" in narrow.summary() and "95% CI" in wide.summary()
    row = drivers.table.iloc[0]
    assert row["ci_high"] - row["estimate"] == pytest.approx(1.6448536 * row["se"], rel=1e-6)


def test_p_value_from_draws_is_twice_the_smaller_tail():
    from cts.core.results import draws_p_value

    assert draws_p_value(np.array([-1.0, 1.0, 2.0, 3.0])) == pytest.approx(0.5)
    assert draws_p_value(np.array([1.0, 2.0])) == 0.0
    assert draws_p_value(np.array([0.0, 0.0])) == 1.0
    assert np.isnan(draws_p_value(np.array([])))
