import warnings

import pytest

import cts


def quiet_load(source, **kwargs):
    """Load a panel without the small-team warning (tests that are not about it)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", cts.PanelWarning)
        return cts.load_panel(source, **kwargs)


@pytest.fixture(scope="session")
def medium_org():
    """300 teams x 80 weeks: enough for estimates within a few percent of the truth."""
    sim = cts.simulate_org(n_teams=300, n_weeks=80, seed=21)
    return sim, quiet_load(sim.panel)
