import warnings

import pytest
from matplotlib.figure import Figure

import cts
from cts.analyses import overview
from cts.reporting import plots
from tests.conftest import quiet_load


@pytest.fixture(scope="module")
def panel():
    return quiet_load(cts.simulate_org(120, 60, seed=3).panel)


def _titles(fig: Figure) -> list[str]:
    return [ax.get_title() for ax in fig.axes if ax.get_title()]


def test_overview_figures(panel):
    fig = plots.plot_adoption(overview.adoption_curve(panel))
    assert _titles(fig) == ["AI-assistant adoption"] and len(fig.axes[0].lines) == 2
    fig = plots.plot_outcomes(overview.weekly_outcomes(panel))
    assert len(fig.axes) == 2
    assert _titles(plots.plot_team_sizes(panel)) == ["Team size"]


def test_cost_and_driver_figures(panel):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", cts.PanelWarning)
        cost = cts.cost_to_serve(panel)
        drivers = cts.fit_drivers(panel)
    fig = plots.plot_cost_over_time(cost)
    assert len(fig.axes[0].lines) == 4  # all teams + three architectures
    scatter = plots.plot_velocity_vs_cost(cost, min_team_size=5)
    shown = scatter.axes[0].collections[0].get_offsets()
    small = cost.table["builder_weeks"] < 5 * cost.table["weeks"]
    assert len(shown) == min(5000, int((cost.table["defined"] & ~small).sum()))
    fig = plots.plot_sensitivity(drivers)
    assert len(fig.axes[0].patches) == len(drivers.drivers)


def test_method_and_impact_figures(panel):
    table, _ = cts.compare_methods(panel, methods=("fe", "bias_corrected"))
    fig = plots.plot_methods(table, truth={"short_run": 0.3, "persistence": 0.5, "long_run": 0.6})
    assert _titles(fig) == ["short run", "persistence", "long run"]
    effect = cts.estimate_adoption_effect(panel, outcome="deploy_velocity")
    curve = cts.impact_curve(effect, panel, levels=(0.0, 0.5, 1.0))
    fig = plots.plot_impact_curve(curve)
    assert list(fig.axes[0].lines[0].get_xdata()) == [0.0, 0.5, 1.0]
