"""A synthetic organization with known truth, as a panel and as the event logs behind it."""

from cts.simulate.org import (
    DEPLOY_LEVEL_BY_ARCHITECTURE,
    SimulatedOrg,
    SimulationParams,
    simulate_and_load,
    simulate_org,
)
from cts.simulate.write import write_simulation

__all__ = [
    "DEPLOY_LEVEL_BY_ARCHITECTURE",
    "SimulatedOrg",
    "SimulationParams",
    "simulate_and_load",
    "simulate_org",
    "write_simulation",
]
