"""cts: cost to serve software and the causal value of delivery tooling, from team-week panels."""

import warnings as _warnings

from cts import sources  # cts.sources.git.read_events
from cts.adoption import (
    AdoptionEffect,
    compare_inference,
    compare_methods,
    estimate_adoption_effect,
)
from cts.cost import UNIT_BY_ARCHITECTURE, UNITS, CostToServe, cost_to_serve
from cts.data import write_panel, write_simulation
from cts.drivers import DRIVERS, DriversResult, fit_drivers
from cts.effects import DynamicPanelResult, dynamic_panel
from cts.events import EventError, build_panel
from cts.exogeneity import ExogeneityChecks, exogeneity_checks
from cts.heterogeneity import HeterogeneousEffects, heterogeneous_effects
from cts.impact import CombinedImpact, Impact, combined_impact, impact_curve, translate_impact
from cts.panel import (
    ARCHITECTURES,
    COUNT_COLUMNS,
    DERIVED_COLUMNS,
    OPTIONAL_COLUMNS,
    REQUIRED_COLUMNS,
    PanelError,
    PanelWarning,
    lag,
    load_panel,
    suppress_small_teams,
)
from cts.planning import PowerResult, calibrate, minimum_detectable_effect, power, power_grid
from cts.robustness import EventStudy, adoption_weeks, event_study, group_time_effects
from cts.simulate import SimulatedOrg, SimulationParams, simulate_org

__version__ = "0.1.0"

# pyfixest 0.60 calls pandas 3.1 APIs that warn on every fit; silence exactly that, once, here,
# so it never reaches notebooks, HTML reports or nbval.
_warnings.filterwarnings("ignore", message=r"The inplace keyword", module=r"pyfixest(\.|$)")

__all__ = [
    "EventError",
    "build_panel",
    "AdoptionEffect",
    "CombinedImpact",
    "CostToServe",
    "DRIVERS",
    "DriversResult",
    "Impact",
    "UNITS",
    "UNIT_BY_ARCHITECTURE",
    "combined_impact",
    "compare_inference",
    "compare_methods",
    "impact_curve",
    "cost_to_serve",
    "fit_drivers",
    "translate_impact",
    "DynamicPanelResult",
    "EventStudy",
    "HeterogeneousEffects",
    "heterogeneous_effects",
    "PowerResult",
    "calibrate",
    "minimum_detectable_effect",
    "power",
    "power_grid",
    "adoption_weeks",
    "event_study",
    "group_time_effects",
    "ExogeneityChecks",
    "dynamic_panel",
    "estimate_adoption_effect",
    "exogeneity_checks",
    "ARCHITECTURES",
    "COUNT_COLUMNS",
    "DERIVED_COLUMNS",
    "OPTIONAL_COLUMNS",
    "REQUIRED_COLUMNS",
    "PanelError",
    "PanelWarning",
    "SimulatedOrg",
    "SimulationParams",
    "lag",
    "load_panel",
    "simulate_org",
    "suppress_small_teams",
    "write_panel",
    "write_simulation",
    "sources",
]
