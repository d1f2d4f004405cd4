"""cts: cost to serve software and the causal value of delivery tooling, from team-week panels.

This module is the public API. Names import on first use (PEP 562 ``__getattr__``, as pyfixest
does), so ``import cts`` and ``cts --help`` stay instant; the layers behind them are

======================  ==================================================================
``cts.core``            exceptions and warnings, the result protocol, atomic writes, workers
``cts.panel``           the panel's contract, loading and validation, lags, the window
``cts.sources``         the event-log contract, building the panel (DuckDB/Spark), git
``cts.simulate``        a synthetic organization with known truth, and its event logs
``cts.estimators``      dynamic panel (fe, jackknife, GMM), resampling inference, event study
``cts.analyses``        adoption, exogeneity, heterogeneity, cost, drivers, impact, planning
``cts.validation``      Monte Carlo proof of the estimators
``cts.reporting``       figures, notebook helpers, the report builder
``cts.cli``             the command line
======================  ==================================================================

each importing only from the rows above it.
"""

from __future__ import annotations

import importlib
import warnings as _warnings
from typing import TYPE_CHECKING

__version__ = "0.1.0"

# pyfixest 0.60 calls pandas 3.1 APIs that warn on every fit; silence exactly that, once, here,
# so it never reaches notebooks, HTML reports or nbval.
_warnings.filterwarnings("ignore", message=r"The inplace keyword", module=r"pyfixest(\.|$)")

#: public name -> the module that defines it
_EXPORTS: dict[str, str] = {
    # core
    "cached": "cts.core.cache",
    "CtsWarning": "cts.core.exceptions",
    "ConvergenceWarning": "cts.core.exceptions",
    "DesignWarning": "cts.core.exceptions",
    "EventError": "cts.core.exceptions",
    "FewTeamsWarning": "cts.core.exceptions",
    "PanelError": "cts.core.exceptions",
    "PanelWarning": "cts.core.exceptions",
    "SourceWarning": "cts.core.exceptions",
    "TestStatistic": "cts.core.results",
    # panel
    "AI_TOOLS": "cts.panel.schema",
    "ARCHITECTURES": "cts.panel.schema",
    "COUNT_COLUMNS": "cts.panel.schema",
    "DERIVED_COLUMNS": "cts.panel.schema",
    "OPTIONAL_COLUMNS": "cts.panel.schema",
    "REQUIRED_COLUMNS": "cts.panel.schema",
    "SOURCE_COLUMNS": "cts.panel.schema",
    "ai_tool_columns": "cts.panel.schema",
    "lag": "cts.panel.lags",
    "load_panel": "cts.panel.load",
    "to_weekly": "cts.panel.weekly",
    "source_columns": "cts.panel.schema",
    "suppress_small_teams": "cts.panel.load",
    "write_panel": "cts.panel.write",
    # sources
    "build_panel": "cts.sources.build",
    # simulate
    "SimulatedOrg": "cts.simulate.org",
    "SimulationParams": "cts.simulate.org",
    "simulate_org": "cts.simulate.org",
    "write_simulation": "cts.simulate.write",
    # estimators
    "DynamicPanelResult": "cts.estimators.dynamic",
    "dynamic_panel": "cts.estimators.dynamic",
    "EventStudy": "cts.estimators.event_study",
    "adoption_weeks": "cts.estimators.event_study",
    "event_study": "cts.estimators.event_study",
    "group_time_effects": "cts.estimators.event_study",
    # analyses
    "AdoptionEffect": "cts.analyses.adoption",
    "Counterfactual": "cts.analyses.counterfactual",
    "compare_pooled": "cts.analyses.counterfactual",
    "counterfactual": "cts.analyses.counterfactual",
    "compare_inference": "cts.analyses.adoption",
    "compare_methods": "cts.analyses.adoption",
    "estimate_adoption_effect": "cts.analyses.adoption",
    "ExogeneityChecks": "cts.analyses.exogeneity",
    "Specification": "cts.analyses.specification",
    "search_intervals": "cts.analyses.selection",
    "exogeneity_checks": "cts.analyses.exogeneity",
    "HeterogeneousEffects": "cts.analyses.heterogeneity",
    "heterogeneous_effects": "cts.analyses.heterogeneity",
    "Reconciliation": "cts.analyses.reconcile",
    "reconcile_estimates": "cts.analyses.reconcile",
    "Identification": "cts.analyses.identification",
    "identification": "cts.analyses.identification",
    "UNITS": "cts.analyses.cost",
    "UNIT_BY_ARCHITECTURE": "cts.analyses.cost",
    "CostToServe": "cts.analyses.cost",
    "cost_to_serve": "cts.analyses.cost",
    "DRIVERS": "cts.analyses.drivers",
    "OWN_UNITS": "cts.analyses.drivers",
    "NOTES": "cts.analyses.drivers",
    "DriversResult": "cts.analyses.drivers",
    "fit_drivers": "cts.analyses.drivers",
    "fit_drivers_ranked": "cts.analyses.drivers",
    "CombinedImpact": "cts.analyses.impact",
    "Impact": "cts.analyses.impact",
    "combined_impact": "cts.analyses.impact",
    "impact_curve": "cts.analyses.impact",
    "translate_impact": "cts.analyses.impact",
    "PowerResult": "cts.analyses.planning",
    "PowerStudy": "cts.analyses.planning",
    "calibrate": "cts.analyses.planning",
    "minimum_detectable_effect": "cts.analyses.planning",
    "power": "cts.analyses.planning",
    "power_bound": "cts.analyses.planning",
    "power_grid": "cts.analyses.planning",
    "power_study": "cts.analyses.planning",
    "AssistantPaths": "cts.analyses.value",
    "NetReturn": "cts.analyses.value",
    "assistant_paths": "cts.analyses.value",
    "net_return": "cts.analyses.value",
    "Guardrails": "cts.analyses.quality",
    "quality_guardrails": "cts.analyses.quality",
}
#: modules reachable as attributes: the layers, and today's short names for the modules that
#: notebooks and users' code call (``cts.plots``, ``cts.report``, ``cts.overview``)
_MODULES: dict[str, str] = {
    "core": "cts.core",
    "panel": "cts.panel",
    "sources": "cts.sources",
    "simulate": "cts.simulate",
    "estimators": "cts.estimators",
    "analyses": "cts.analyses",
    "validation": "cts.validation",
    "reporting": "cts.reporting",
    "plots": "cts.reporting.plots",
    "report": "cts.reporting.notebook",
    "overview": "cts.analyses.overview",
}

__all__ = sorted([*_EXPORTS, *_MODULES])


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
    elif name in _MODULES:
        value = importlib.import_module(_MODULES[name])
    else:
        raise AttributeError(f"module 'cts' has no attribute {name!r}")
    globals()[name] = value  # import once
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


if TYPE_CHECKING:  # static analysers and IDEs see every public name (a test checks)
    from cts import (  # noqa: F401
        analyses,
        core,
        estimators,
        panel,
        reporting,
        simulate,
        sources,
        validation,
    )
    from cts.analyses import overview  # noqa: F401
    from cts.analyses.adoption import (  # noqa: F401
        AdoptionEffect,
        compare_inference,
        compare_methods,
        estimate_adoption_effect,
    )
    from cts.analyses.cost import (  # noqa: F401
        UNIT_BY_ARCHITECTURE,
        UNITS,
        CostToServe,
        cost_to_serve,
    )
    from cts.analyses.counterfactual import (  # noqa: F401
        Counterfactual,
        compare_pooled,
        counterfactual,
    )
    from cts.analyses.drivers import (  # noqa: F401
        DRIVERS,
        NOTES,
        OWN_UNITS,
        DriversResult,
        fit_drivers,
        fit_drivers_ranked,
    )
    from cts.analyses.exogeneity import (  # noqa: F401
        ExogeneityChecks,
        exogeneity_checks,
    )
    from cts.analyses.heterogeneity import (  # noqa: F401
        HeterogeneousEffects,
        heterogeneous_effects,
    )
    from cts.analyses.identification import (  # noqa: F401
        Identification,
        identification,
    )
    from cts.analyses.impact import (  # noqa: F401
        CombinedImpact,
        Impact,
        combined_impact,
        impact_curve,
        translate_impact,
    )
    from cts.analyses.planning import (  # noqa: F401
        PowerResult,
        PowerStudy,
        calibrate,
        minimum_detectable_effect,
        power,
        power_bound,
        power_grid,
        power_study,
    )
    from cts.analyses.quality import (  # noqa: F401
        Guardrails,
        quality_guardrails,
    )
    from cts.analyses.reconcile import (  # noqa: F401
        Reconciliation,
        reconcile_estimates,
    )
    from cts.analyses.selection import search_intervals  # noqa: F401
    from cts.analyses.specification import Specification  # noqa: F401
    from cts.analyses.value import (  # noqa: F401
        AssistantPaths,
        NetReturn,
        assistant_paths,
        net_return,
    )
    from cts.core.cache import cached  # noqa: F401
    from cts.core.exceptions import (  # noqa: F401
        ConvergenceWarning,
        CtsWarning,
        DesignWarning,
        EventError,
        FewTeamsWarning,
        PanelError,
        PanelWarning,
        SourceWarning,
    )
    from cts.core.results import TestStatistic  # noqa: F401
    from cts.estimators.dynamic import (  # noqa: F401
        DynamicPanelResult,
        dynamic_panel,
    )
    from cts.estimators.event_study import (  # noqa: F401
        EventStudy,
        adoption_weeks,
        event_study,
        group_time_effects,
    )
    from cts.panel.lags import lag  # noqa: F401
    from cts.panel.load import (  # noqa: F401
        load_panel,
        suppress_small_teams,
    )
    from cts.panel.schema import (  # noqa: F401
        AI_TOOLS,
        ARCHITECTURES,
        COUNT_COLUMNS,
        DERIVED_COLUMNS,
        OPTIONAL_COLUMNS,
        REQUIRED_COLUMNS,
        SOURCE_COLUMNS,
        ai_tool_columns,
        source_columns,
    )
    from cts.panel.weekly import to_weekly  # noqa: F401
    from cts.panel.write import write_panel  # noqa: F401
    from cts.reporting import notebook as report  # noqa: F401
    from cts.reporting import plots  # noqa: F401
    from cts.simulate.org import (  # noqa: F401
        SimulatedOrg,
        SimulationParams,
        simulate_org,
    )
    from cts.simulate.write import write_simulation  # noqa: F401
    from cts.sources.build import build_panel  # noqa: F401
