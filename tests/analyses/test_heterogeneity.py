import numpy as np
import pytest
from scipy import stats

import cts
from tests.conftest import quiet_load


@pytest.fixture(scope="module")
def by_architecture():
    sim = cts.simulate_org(300, 80, seed=6, heterogeneity="architecture")
    return sim, cts.heterogeneous_effects(quiet_load(sim.panel), n_estimators=100)


def test_the_modifier_is_found_and_group_effects_cover_the_truth(by_architecture):
    sim, result = by_architecture
    assert result.ranking.index[0] == "architecture"
    assert result.ranking.loc["architecture", "p_adjusted"] < 0.001
    truth = sim.truth["cr_velocity"]["short_run_by_group"]
    groups = result.by_group.loc["architecture"]
    for architecture, true in truth.items():
        row = groups.loc[architecture]
        assert row["ci_low"] < true < row["ci_high"], (architecture, row.to_dict(), true)
    # Traits that do not modify the effect show groups that agree.
    others = result.ranking.drop(index="architecture")
    assert (others["p_value"] > 0.01).all() and (others["spread"] < 0.05).all()
    assert "Strongest modifier: architecture" in result.summary()


def test_no_strong_modifier_without_heterogeneity():
    panel = quiet_load(cts.simulate_org(300, 80, seed=6).panel)
    result = cts.heterogeneous_effects(panel, n_estimators=100)
    assert (result.ranking["p_adjusted"] > 0.05).all(), result.ranking
    assert (result.ranking["spread"] < 0.08).all()
    assert np.isfinite(result.by_group[["ci_low", "ci_high"]]).all(axis=None)


def test_bad_arguments(by_architecture):
    panel = quiet_load(cts.simulate_org(40, 30, seed=1).panel)
    with pytest.raises(cts.PanelError, match="unknown team characteristic `seniority`"):
        cts.heterogeneous_effects(panel, by=("seniority",))
    with pytest.raises(cts.PanelError, match="`ai_usage_rate` changes within teams"):
        cts.heterogeneous_effects(panel, by=("ai_usage_rate",))
    with pytest.raises(ValueError, match="multiple of 4"):
        cts.heterogeneous_effects(panel, n_estimators=50)
    with pytest.raises(ValueError, match="at least one"):
        cts.heterogeneous_effects(panel, by=())


def test_group_effects_are_clustered_by_team_and_tested_jointly():
    """The final stage reproduces econml's estimates; with one cluster per row its SEs are
    econml's HC0 ones (up to n / (n - 1)), and with teams whose effect differs they are wider.
    The test that the groups agree uses the joint covariance of the differences."""
    from econml.dml import LinearDML
    from sklearn.linear_model import LinearRegression

    from cts.analyses.heterogeneity import clustered_final_stage, equal_effects_p

    rng = np.random.default_rng(0)
    teams = np.repeat(np.arange(60), 30)
    group = rng.integers(0, 3, 60)[teams]
    dummies = np.column_stack([group == 1, group == 2]).astype(float)
    team_effect = rng.normal(size=60)[teams]  # each team's own effect around its group's
    t = rng.normal(size=len(teams)) + rng.normal(size=60)[teams]
    w = rng.normal(size=(len(teams), 2))
    y = (0.3 + 0.2 * (group == 2) + team_effect) * t + w @ [0.5, -0.2] + rng.normal(size=len(t))
    linear = LinearDML(model_y=LinearRegression(), model_t=LinearRegression(), random_state=0)
    linear.fit(y, t, X=dummies, W=w, groups=teams, cache_values=True)
    contrasts = np.array([[1.0, 0, 0], [1, 1, 0], [1, 0, 1]])
    theirs = linear.effect_inference(contrasts[:, 1:])
    coef, covariance = clustered_final_stage(linear, dummies, teams)
    np.testing.assert_allclose(contrasts @ coef, theirs.point_estimate, rtol=1e-8)
    _, by_row = clustered_final_stage(linear, dummies, np.arange(len(teams)))
    rows_se = np.sqrt(np.diag(contrasts @ by_row @ contrasts.T))
    np.testing.assert_allclose(rows_se, theirs.stderr * np.sqrt(len(t) / (len(t) - 1)), rtol=1e-3)
    clustered_se = np.sqrt(np.diag(contrasts @ covariance @ contrasts.T))
    assert (clustered_se > 2.5 * theirs.stderr).all()
    differences, joint = coef[1:], covariance[1:, 1:]
    chi2 = differences @ np.linalg.solve(joint, differences)
    assert equal_effects_p(differences, joint) == pytest.approx(stats.chi2.sf(chi2, 2))
    assert np.isnan(equal_effects_p(np.array([]), np.zeros((0, 0))))
