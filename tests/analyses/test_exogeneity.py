import numpy as np
import pandas as pd
import pytest
from conftest import quiet_load

import cts


def _checks(seed, **truth):
    sim = cts.simulate_org(n_teams=200, n_weeks=52, seed=seed, **truth)
    return cts.exogeneity_checks(quiet_load(sim.panel))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_bad_control_is_flagged(seed):
    checks = _checks(seed, bad_control=True)
    assert checks.flagged == ["rollback_rate responds to usage"]
    assert "consequence of adoption" in checks.table.loc[checks.flagged[0], "verdict"]


def test_false_flags_stay_near_five_percent_of_seeds():
    """Holm keeps the family-wise rate at 5%: among 20 seeds, 4 or more flagged would happen
    with probability 1.6% if the checks were right, so it fails the test."""
    flagged = sum(bool(_checks(seed).flagged) for seed in range(100, 120))
    assert flagged <= 3


def test_lead_placebo_catches_adoption_recorded_late():
    """If the recorded usage lags the real one, 'future' recorded usage drives today's outcome."""
    sim = cts.simulate_org(n_teams=200, n_weeks=52, seed=5)
    panel = quiet_load(sim.panel)
    panel["recorded_usage"] = cts.lag(panel, "ai_usage_rate")
    checks = cts.exogeneity_checks(
        panel.dropna(subset=["recorded_usage"]), treatment="recorded_usage"
    )
    assert "lead placebo" in checks.flagged
    assert "may follow the outcome's trend" in checks.summary()


def test_unknown_columns_are_named():
    panel = quiet_load(cts.simulate_org(n_teams=20, n_weeks=20).panel)
    with pytest.raises(cts.PanelError, match="`uptime`"):
        cts.exogeneity_checks(panel, controls=("uptime",))


def test_a_check_that_cannot_be_computed_stays_in_the_holm_family_and_is_named():
    from cts.analyses.exogeneity import ExogeneityChecks, holm_with_missing

    # Two computed checks at p = 0.02 and 0.03 and one that could not be computed: Holm over
    # the family of 3 (the missing one as not rejected) gives 0.06 and 0.06, over the 2
    # computed only it would give 0.04 and 0.04 and flag both at 5%.
    adjusted = holm_with_missing(np.array([0.02, np.nan, 0.03]))
    np.testing.assert_allclose(adjusted[[0, 2]], [0.06, 0.06])
    assert np.isnan(adjusted[1])
    table = pd.DataFrame(
        {
            "statistic": [5.4, np.nan, 4.7],
            "df": [2, 2, 1],
            "p_value": [0.02, np.nan, 0.03],
            "p_adjusted": adjusted,
            "flagged": adjusted < 0.05,
            "verdict": ["a", "b not computed", "c"],
        },
        index=pd.Index(["x responds to usage", "y responds to usage", "lead placebo"]),
    )
    checks = ExogeneityChecks(table=table, alpha=0.05)
    assert checks.not_computed == ["y responds to usage"]
    assert checks.flagged == []
    assert "1 of 3 checks could not be computed (y responds to usage)" in checks.summary()


def test_the_checks_use_week_effects_by_org_when_the_panel_has_orgs():
    import pyfixest as pf

    from cts.simulate.org import simulate_and_load

    _, panel = simulate_and_load(200, 39, 1, {"orgs": 4})
    by_org = cts.exogeneity_checks(panel, controls=("rollback_rate",))
    common = cts.exogeneity_checks(panel, controls=("rollback_rate",), time_effects_by=None)
    name = "rollback_rate responds to usage"
    data = panel.assign(_usage_lag=cts.lag(panel, "ai_usage_rate")).dropna(subset=["_usage_lag"])
    fit = pf.feols(
        "rollback_rate ~ ai_usage_rate + _usage_lag | team_id + org^week",
        data,
        vcov={"CRV1": "team_id"},
    )
    # one coefficient's Wald statistic bounds the joint one from below
    assert by_org.table.loc[name, "statistic"] >= (fit.tstat().iloc[0] ** 2) - 1e-6
    assert by_org.table.loc[name, "statistic"] != common.table.loc[name, "statistic"]
    assert (
        by_org.table.loc["lead placebo", "statistic"]
        != common.table.loc["lead placebo", "statistic"]
    )
