"""Smoke test of the threat cells of the Monte Carlo (issue 15)."""

import pytest

from cts.validation.monte_carlo import THREATS, threats


def test_threat_cells_run_and_summarise():
    summary = threats(
        cells=("clean", "ar1_0.3"), n_teams=60, n_weeks=(20,), reps=2, workers=1, progress=False
    )
    assert set(summary.index.get_level_values("cell")) == {"clean", "ar1_0.3"}
    assert set(summary.index.get_level_values("method")) == {"bias_corrected", "auto"}
    assert (summary["reps"] == 2).all()
    # AR(1) cells compare persistence with the lag sum of the ADL model, 0.5 + 0.3 - 0.15.
    ar = summary.xs(("ar1_0.3", "persistence"), level=("cell", "term"))
    assert ar["truth"].to_numpy() == pytest.approx(0.65)
    clean = summary.xs(("clean", "persistence"), level=("cell", "term"))
    assert clean["truth"].to_numpy() == pytest.approx(0.5)
    assert set(THREATS) >= {"feedback", "persistence_spread_0.3"}
    with pytest.raises(ValueError, match="unknown cells"):
        threats(cells=("typo",), reps=1, workers=1, progress=False)
