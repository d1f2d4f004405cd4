"""Drivers of CTS-SW on the default simulated panel, whose mechanics are known.

In ``simulate_org`` CTS-SW (builder-weeks per unit) is one over the unit's velocity: deployments
for services, CRs (shipped, or as commits) for monoliths and trunk teams. Manual interventions
and rollbacks lower velocity (``*_intervention_effect``, ``*_rollback_effect`` < 0), so CTS-SW
rises with them; pages raise it (``*_page_effect`` > 0, the fixes a page ends in outweigh the
capacity it costs), so CTS-SW falls with pages. CR velocity is a driver only of services' CTS-SW
(for CR-unit teams it is the unit); it is associated with lower CTS-SW there because CRs and
deployments respond to the same delivery health and adoption.
"""

import numpy as np
import pandas as pd
import pytest

import cts
from tests.conftest import quiet_load

pytestmark = pytest.mark.filterwarnings("ignore:.*shipped no unit:cts.PanelWarning")

SIGNS = {
    "cr_velocity": -1,
    "pages_per_oncall": -1,
    "interventions_per_deploy": +1,
    "rollback_rate": +1,
}


@pytest.fixture(scope="module")
def default_panel():
    return quiet_load(cts.simulate_org(seed=0).panel)


@pytest.fixture(scope="module")
def drivers(default_panel):
    return cts.fit_drivers(default_panel)


def test_signs_and_ranking_match_the_simulator(drivers):
    sensitivity = drivers.sensitivity()
    assert list(sensitivity.index) == [
        "cr_velocity",
        "pages_per_oncall",
        "interventions_per_deploy",
        "rollback_rate",
    ]
    assert list(sensitivity["rank"]) == [1, 2, 3, 4]
    signs = pd.Series(SIGNS)[sensitivity.index]
    assert (np.sign(sensitivity["ci_low"]) == signs).all(), sensitivity
    assert (np.sign(sensitivity["ci_high"]) == signs).all(), sensitivity
    # The mixed model's (Mundlak) within-team coefficients agree within 5%.
    ratio = sensitivity["mixed_change_pct"] / sensitivity["change_pct"]
    assert ratio.between(0.95, 1.05).all(), ratio


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_default_org_reproduces_the_signs_on_other_seeds(seed):
    """The signs the seed reports: velocity and pages with lower CTS-SW, poor delivery health
    with higher, each interval excluding zero at 300 teams."""
    panel = quiet_load(cts.simulate_org(n_teams=300, seed=seed).panel)
    sensitivity = cts.fit_drivers(panel).sensitivity()
    signs = pd.Series(SIGNS)[sensitivity.index]
    assert (np.sign(sensitivity[["ci_low", "ci_high"]]).eq(signs, axis=0)).all(axis=None), (
        sensitivity
    )


def test_velocity_is_left_out_where_it_is_the_unit(drivers, default_panel):
    assert drivers.applies_to["cr_velocity"] == ("service",)
    assert drivers.applies_to["pages_per_oncall"] == ("monolith", "service", "trunk")
    assert ("monolith", "cr_velocity") not in drivers.by_architecture.index
    assert ("service", "cr_velocity") in drivers.by_architecture.index
    # Counted in deployments, CR velocity is nobody's unit and enters for every team.
    small = default_panel[default_panel["team_id"] <= "team-0200"]
    forced = cts.fit_drivers(small, drivers=("cr_velocity", "rollback_rate"), unit="deployments")
    assert forced.applies_to["cr_velocity"] == ("monolith", "service", "trunk")
    with pytest.warns(cts.PanelWarning, match="`deploy_velocity` count every team's own unit"):
        result = cts.fit_drivers(
            small, drivers=("deploy_velocity", "rollback_rate"), unit="deployments"
        )
    assert result.drivers == ("rollback_rate",)


def test_pages_slope_of_services_matches_the_simulator_to_first_order(drivers, default_panel):
    """For service teams CTS-SW = 1 / deploy velocity, so d log CTS-SW / d pages is about
    -deploy_page_effect / deploy velocity; pages also track the rollback propensity, which
    lowers velocity and the observed rate measures with noise, so the slope is a little flatter
    (within 25%)."""
    params = cts.simulate_org(2, 2).params
    services = default_panel["architecture"] == "service"
    velocity = (
        default_panel.loc[services, "deployments"].sum()
        / default_panel.loc[services, "n_builders"].sum()
    )
    expected = -params["deploy_page_effect"] / velocity
    slope = drivers.by_architecture.loc[("service", "pages_per_oncall"), "estimate"]
    assert slope == pytest.approx(expected, rel=0.25)


def test_variance_components_and_summary(drivers):
    # Architecture terms take out the unit mix; teams still differ more than their periods do.
    assert 0.5 < drivers.icc < 0.9
    assert set(drivers.variance_components.index) == {"team Intercept", "residual"}
    assert drivers.n_teams == 1000 and drivers.n_obs > 30_000
    assert list(drivers.mixed_table.index[:4]) == list(drivers.drivers)
    assert "team_mean_pages_per_oncall" in drivers.mixed_table.index
    text = drivers.summary()
    assert "1. cr_velocity" in text and "ICC" in text and "associated with" in text


def test_rank_uncertainty(default_panel, capsys):
    small = default_panel[default_panel["team_id"] <= "team-0300"]
    result = cts.fit_drivers(small)
    ranks = result.rank_uncertainty(n_boot=30, seed=1, progress=True)
    assert "team bootstrap" in capsys.readouterr().err
    assert list(ranks.index) == list(result.sensitivity().index)
    assert ranks["share_first"].between(0, 1).all() and ranks["share_first"].sum() >= 1
    assert ranks.loc[["interventions_per_deploy", "rollback_rate"], "share_first"].sum() == 0
    assert ranks["mean_rank"].between(1, 4).all()
    change = result.sensitivity()["change_pct"]
    assert (ranks["ci_low"] <= change).all() and (change <= ranks["ci_high"]).all()
    assert ranks.equals(result.rank_uncertainty(n_boot=30, seed=1))
    with pytest.raises(ValueError, match="n_boot"):
        result.rank_uncertainty(n_boot=1)
    fitted, same = cts.fit_drivers_ranked(small, n_boot=30, seed=1)
    assert same.equals(ranks) and fitted.table.equals(result.table)
    assert cts.fit_drivers_ranked(small, n_boot=30, seed=1, period="2W")[0].n_obs > result.n_obs


def test_random_slopes_and_trend(default_panel):
    """The simulator gives every team the same pages effect, so the slope's variance sits at
    zero, on the boundary, where the mixed model does not converge: the fit says so instead of
    passing silently, and the within-team fit is unaffected."""
    small = default_panel[default_panel["team_id"] <= "team-0200"]
    with pytest.warns(cts.PanelWarning, match="did not converge cleanly"):
        result = cts.fit_drivers(
            small,
            drivers=("cr_velocity", "pages_per_oncall"),
            random_slopes=("pages_per_oncall",),
            time="trend",
        )
    assert "team pages_per_oncall" in result.variance_components
    assert np.isfinite(result.table["se"]).all()
    assert result.mixed_table.index[-1].endswith(":_period")


def test_bad_arguments(default_panel):
    with pytest.raises(cts.PanelError, match=r"unknown driver\(s\) \['velocity'\]"):
        cts.fit_drivers(default_panel, drivers=("velocity",))
    with pytest.raises(cts.PanelError, match=r"unknown driver\(s\) \['architecture'\]"):
        cts.fit_drivers(default_panel, drivers=("architecture",))
    with pytest.raises(ValueError, match="must also be drivers"):
        cts.fit_drivers(default_panel, drivers=("cr_velocity",), random_slopes=("rollback_rate",))
    with pytest.raises(ValueError, match="outcome must be"):
        cts.fit_drivers(default_panel, outcome="cost")
    with pytest.raises(ValueError, match="time must be"):
        cts.fit_drivers(default_panel, time="weekly")
