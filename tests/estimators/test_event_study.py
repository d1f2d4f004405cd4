import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import cts
from cts.estimators.event_study import adoption_weeks, event_study, group_time_effects, simple_att
from cts.reporting import plots
from tests.conftest import quiet_load

MPDTA = Path(__file__).resolve().parents[2] / "data" / "reference" / "mpdta.csv"
# The did R package's vignette (unconditional parallel trends, never-treated controls, varying
# base period), printed to 4 decimals: group, year -> ATT(g, t).
PUBLISHED_ATT_GT = {
    (2004, 2004): -0.0105, (2004, 2005): -0.0704, (2004, 2006): -0.1373, (2004, 2007): -0.1008,
    (2006, 2004): 0.0065, (2006, 2005): -0.0028, (2006, 2006): -0.0046, (2006, 2007): -0.0412,
    (2007, 2004): 0.0305, (2007, 2005): -0.0027, (2007, 2006): -0.0311, (2007, 2007): -0.0261,
}  # fmt: skip


@pytest.fixture(scope="module")
def mpdta():
    return pd.read_csv(MPDTA)


def test_reference_file_is_the_published_one():
    digest = hashlib.sha256(MPDTA.read_bytes()).hexdigest()
    assert digest == "9ecbc8c2dbf6b0609c62db6aef6ec2fedaa623e67f3156d0491dfaa44f3751d2"


def test_group_time_effects_reproduce_callaway_santanna(mpdta):
    cells, vcov = group_time_effects(mpdta, "lemp", "countyreal", "year", "first_treat")
    assert set(cells.index) == set(PUBLISHED_ATT_GT)
    for cell, published in PUBLISHED_ATT_GT.items():
        assert cells.loc[cell, "estimate"] == pytest.approx(published, abs=5e-5), cell
    # Overall ATT, aggte(type = "simple"): -0.0400; cohorts of 20, 40 and 131 counties.
    overall = simple_att(cells, vcov)
    assert overall["estimate"] == pytest.approx(-0.0400, abs=5e-5)
    assert 0.005 < overall["se"] < 0.02 and overall["ci_high"] < 0
    assert cells.xs(2007, level="group")["n_group"].iloc[0] == 131


@pytest.fixture(scope="module")
def instant_adoption():
    """Adoption jumps to each team's peak usage in one week, so the binary event study has a
    clean truth: effect e weeks after adoption = g * u * (1 - b^(e+1)) / (1 - b), u the
    adopters' mean usage, and zero before."""
    sim = cts.simulate_org(400, 104, seed=3, ramp_weeks=(1, 1))
    return sim, quiet_load(sim.panel)


def _truth(sim, panel, weeks):
    truth = sim.truth["cr_velocity"]
    b, g = truth["persistence"], truth["short_run"]
    usage = panel.loc[panel["ai_usage_rate"] > 0, "ai_usage_rate"].mean()
    return g * usage * (1 - b ** (np.asarray(weeks) + 1)) / (1 - b)


def test_did2s_event_study_recovers_the_dynamic_effect(instant_adoption):
    sim, panel = instant_adoption
    study = event_study(panel, threshold=0.05)
    post = study.table.loc[0:26]
    z = (post["estimate"] - _truth(sim, panel, post.index)) / post["se"]
    assert (z.abs() < 3.5).all(), z.round(2).to_dict()  # 27 correlated weeks: 3.5 SE each
    pre = study.table.loc[study.table.index < -1]
    assert (pre["estimate"].abs() < 3.5 * pre["se"]).all()
    assert study.pretrend_df == 11 and study.pretrend_p > 0.001
    # The average post effect lies within 3 SE of the average truth over the same weeks.
    average_truth = _truth(sim, panel, post.index).mean()
    assert abs(study.att["estimate"] - average_truth) < 3 * study.att["se"] + 0.03
    assert study.n_adopters > 200 and study.n_controls > 100
    assert "Pre-trend test" in study.summary()


def test_gradual_adoption_shows_up_as_pre_trends():
    """Usage ramps up over 4-16 weeks, so weeks before crossing 50% already carry part of the
    effect: the pre-trend test must notice rather than certify the design."""
    panel = quiet_load(cts.simulate_org(400, 104, seed=3).panel)
    study = event_study(panel)
    assert study.pretrend_p < 0.01
    assert study.table.loc[-12, "estimate"] < 0  # 12 weeks before, less usage than at week -1


def test_adoption_weeks_and_bad_arguments(instant_adoption):
    _, panel = instant_adoption
    weeks = adoption_weeks(panel, threshold=0.05)
    first_use = panel.loc[panel["ai_active_builders"] > 0].groupby("team_id")["week"].min()
    assert (weeks.dropna() >= first_use.reindex(weeks.dropna().index)).all()
    assert weeks.isna().sum() > 0  # never-adopters
    with pytest.raises(ValueError, match="estimator must be one of"):
        event_study(panel, estimator="bacon")
    with pytest.raises(ValueError, match="window must include"):
        event_study(panel, window=(0, 10))
    with pytest.raises(ValueError, match="threshold must lie in"):
        event_study(panel, threshold=0)
    everyone = panel.assign(ai_usage_rate=1.0)
    with pytest.raises(cts.PanelError, match="adopting and never-adopting teams"):
        event_study(everyone)


def test_saturated_and_did2s_agree_and_plot():
    """Two valid estimators of the same event-time path: they agree within their noise."""
    panel = quiet_load(cts.simulate_org(150, 52, seed=5, ramp_weeks=(1, 1)).panel)
    did2s = event_study(panel, threshold=0.05, window=(-6, 12))
    saturated = event_study(panel, threshold=0.05, window=(-6, 12), estimator="saturated")
    gap = (did2s.table["estimate"] - saturated.table["estimate"]).loc[0:12]
    assert (gap.abs() < 2 * did2s.table.loc[0:12, "se"]).all(), gap.round(3).to_dict()
    assert abs(did2s.att["estimate"] - saturated.att["estimate"]) < did2s.att["se"]
    fig = plots.plot_event_study(did2s)
    assert len(fig.axes[0].lines) >= 2  # the robust and the naive paths


def test_week_effects_by_org_in_the_event_study():
    sim = cts.simulate_org(200, 52, seed=2, orgs=4)
    panel = quiet_load(sim.panel)
    by_org = cts.event_study(panel, "cr_velocity", time_effects_by="org")
    common = cts.event_study(panel, "cr_velocity")
    # Same teams and design, other week effects: the estimates differ, both are effects.
    assert by_org.att["estimate"] != pytest.approx(common.att["estimate"], rel=1e-3)
    assert by_org.att["estimate"] > 0 and by_org.att["se"] > 0
    with pytest.raises(ValueError, match="estimator='did2s'"):
        cts.event_study(panel, "cr_velocity", estimator="saturated", time_effects_by="org")
