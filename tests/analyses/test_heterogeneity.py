import numpy as np
import pytest

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
