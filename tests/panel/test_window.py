"""One analysis window, set once on the panel and honoured by every analysis."""

import warnings

import pandas as pd
import pytest

import cts
from cts.panel import set_window, window_mask, windowed


@pytest.fixture(scope="module")
def panel():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", cts.PanelWarning)
        return cts.load_panel(cts.simulate_org(n_teams=40, n_weeks=60, seed=4).panel)


START, END = "2023-04-03", "2023-10-30"


def test_the_window_keeps_every_row_and_travels_with_the_panel(panel):
    framed = set_window(panel, START, END)
    assert len(framed) == len(panel) and framed.attrs["window"] == (
        pd.Timestamp(START),
        pd.Timestamp(END),
    )
    inside = window_mask(framed)
    assert framed.loc[inside, "week"].between(START, END).all()
    assert inside.sum() == panel["week"].between(START, END).sum() < len(panel)
    assert windowed(framed.loc[framed["team_id"] != "x"])["week"].max() <= pd.Timestamp(END)
    with pytest.raises(cts.PanelError, match="no weeks between"):
        set_window(panel, "2030-01-07", None)


def test_exogeneity_checks_honour_the_window(panel):
    framed = set_window(panel, START, END)
    explicit = cts.exogeneity_checks(panel, start=START, end=END).table
    carried = cts.exogeneity_checks(framed).table
    everything = cts.exogeneity_checks(panel).table
    pd.testing.assert_frame_equal(explicit, carried)
    assert not explicit["statistic"].equals(everything["statistic"])


def test_today_in_translate_impact_is_the_end_of_the_window(panel):
    framed = set_window(panel, None, END)
    effect = cts.estimate_adoption_effect(framed)
    impact = cts.translate_impact(effect, framed, draws=200)
    cut = panel.loc[panel["week"] <= END].reset_index(drop=True)
    expected = cts.translate_impact(effect, cut, draws=200)
    assert impact.observed_adoption == pytest.approx(expected.observed_adoption, rel=1e-12)
    later = cts.translate_impact(effect, panel, draws=200)
    assert later.observed_adoption != pytest.approx(impact.observed_adoption, rel=1e-3)


def test_cost_and_overview_read_only_the_window(panel):
    framed = set_window(panel, START, END)
    cut = panel.loc[panel["week"].between(START, END)].reset_index(drop=True)
    assert cts.overview.coverage(framed)["weeks"] == cut["week"].nunique()
    pd.testing.assert_frame_equal(
        cts.cost_to_serve(framed).table, cts.cost_to_serve(cut).table, check_like=True
    )
