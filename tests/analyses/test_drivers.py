"""Drivers of CTS-SW on the default simulated panel, whose mechanics are known.

In ``simulate_org`` CTS-SW (builder-weeks per unit) is one over the unit's velocity: deployments
for services, CRs (shipped, or as commits) for monoliths and trunk teams. Pages per on-call
builder, manual interventions and rollbacks lower velocity by ``*_page_effect``,
``*_intervention_effect`` and ``*_rollback_effect``, so each raises CTS-SW; CR velocity lowers
it for the half of teams whose unit is a CR. Scaled by the drivers' within-team spread the
expected sizes are ordered velocity >> pages > interventions > rollbacks (rollbacks last
because the observed rate is a noisy proxy of the propensity velocity responds to).
"""

import numpy as np
import pytest

import cts
from tests.conftest import quiet_load

pytestmark = pytest.mark.filterwarnings("ignore:.*shipped no unit:cts.PanelWarning")


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
    assert sensitivity.loc["cr_velocity", "ci_high"] < 0
    others = sensitivity.drop(index="cr_velocity")
    assert (others["ci_low"] > 0).all(), others
    # The within-team FE fit beside it agrees in sign and within 25% in size.
    ratio = sensitivity["fe_change_pct"] / sensitivity["change_pct"]
    assert ratio.between(0.75, 1.25).all(), ratio


def test_pages_effect_matches_the_simulator_to_first_order(drivers, default_panel):
    """For service teams CTS-SW = 1 / deploy velocity, so d log CTS-SW / d pages is
    -deploy_page_effect / deploy velocity; for CR-unit teams the path runs through CR velocity,
    which the model holds fixed. A first-order approximation (within 1% on this seed), hence a
    10% tolerance."""
    params = cts.simulate_org(2, 2).params
    services = default_panel["architecture"] == "service"
    share = services.mean()
    velocity = (
        default_panel.loc[services, "deployments"].sum()
        / default_panel.loc[services, "n_builders"].sum()
    )
    expected = -params["deploy_page_effect"] / velocity * share
    assert drivers.table.loc["pages_per_oncall", "estimate"] == pytest.approx(expected, rel=0.10)


def test_variance_components_and_summary(drivers):
    assert 0.5 < drivers.icc < 1  # teams differ far more than their weeks do
    assert set(drivers.variance_components.index) == {"team Intercept", "residual"}
    assert drivers.n_teams == 1000 and drivers.n_obs > 30_000
    assert list(drivers.table.index[:4]) == list(drivers.drivers)
    text = drivers.summary()
    assert "1. cr_velocity" in text and "ICC" in text


def test_random_slopes_and_trend(default_panel):
    """The simulator gives every team the same pages effect, so the slope's variance sits at
    zero, on the boundary: the fit says so instead of passing silently."""
    small = default_panel[default_panel["team_id"] <= "team-0200"]
    with pytest.warns(cts.PanelWarning, match="on the boundary"):
        result = cts.fit_drivers(
            small,
            drivers=("cr_velocity", "pages_per_oncall"),
            random_slopes=("pages_per_oncall",),
            time="trend",
        )
    assert "team pages_per_oncall" in result.variance_components
    assert np.isfinite(result.table["se"]).all()
    assert result.table.index[-1] == "_period"


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
