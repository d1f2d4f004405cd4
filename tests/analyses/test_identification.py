"""Design checks before estimates (cts.identification) and what the analyses do with them."""

import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import quiet_load

import cts


@pytest.fixture(scope="module")
def eight_teams():
    return quiet_load(cts.simulate_org(8, 52, seed=0).panel)


def _same_week(keep_controls: bool) -> pd.DataFrame:
    """40 teams; every user jumps to full usage in week 20; never-users leave before it unless
    ``keep_controls`` (the issue's case)."""
    raw = cts.simulate_org(40, 52, seed=4).panel
    rollout = raw["week"].min() + pd.Timedelta(weeks=20)
    users = raw.groupby("team_id")["ai_active_builders"].transform("max") > 0
    after = raw["week"] >= rollout
    raw["ai_active_builders"] = np.where(users & after, raw["n_builders"], 0)
    if not keep_controls:
        raw = raw.loc[users | ~after]
    return quiet_load(raw.reset_index(drop=True))


def test_table_has_one_row_per_check_with_verdict_and_consequence(eight_teams):
    design = cts.identification(eight_teams)
    assert list(design.table.columns) == ["check", "value", "verdict", "consequence"]
    assert list(design.table["check"]) == [
        "teams",
        "adopting teams",
        "never-adopters observed after the first adoption",
        "spread of adoption dates",
        "pre-adoption weeks per adopter",
        "clusters vs. pre-trend restrictions",
        "small teams",
    ]
    assert (design.n_teams, design.n_users, design.few_clusters) == (8, 6, True)
    assert design.staggered and design.refusals == {}
    assert any("only 8 teams" in c for c in design.caveats)
    assert any("8 teams support at most 7" in c for c in design.caveats)
    assert design.caveats_for("event study") != design.caveats_for("adoption effect")
    assert "Design checks (8 teams" in design.summary()
    with pytest.warns(cts.FewTeamsWarning, match="only 8 teams"):
        design.warn("adoption effect")


def test_one_team_and_no_usage_are_refused_with_what_the_data_would_need():
    one = quiet_load(cts.simulate_org(1, 30, seed=1).panel)
    design = cts.identification(one)
    assert set(design.refusals) == {"adoption effect", "event study"}
    with pytest.raises(cts.PanelError, match="at least two teams"):
        cts.estimate_adoption_effect(one)
    flat = quiet_load(cts.simulate_org(30, 30, seed=2).panel.assign(ai_active_builders=0))
    with pytest.raises(cts.PanelError, match="teams whose usage changes"):
        cts.exogeneity_checks(flat)
    with pytest.raises(ValueError, match="analysis must be one of"):
        design.require("drivers")


def test_adoption_in_one_week_without_controls_after_it_is_refused():
    panel = _same_week(keep_controls=False)
    design = cts.identification(panel)
    assert not design.staggered and design.n_controls_after == 0
    assert set(design.refusals) == {"adoption effect", "event study"}
    with pytest.raises(cts.PanelError, match="week effects and adoption are the same thing"):
        cts.estimate_adoption_effect(panel)
    with pytest.raises(cts.PanelError, match="not observed in or after the first adoption"):
        cts.event_study(panel)


def test_adoption_in_one_week_with_controls_is_a_caveated_difference_in_differences():
    panel = _same_week(keep_controls=True)
    with pytest.warns(cts.DesignWarning, match="adoption is not staggered"):
        effect = cts.estimate_adoption_effect(panel, method="fe")
    assert any("not staggered" in c for c in effect.caveats)
    assert "Caveat: adoption is not staggered" in effect.summary()
    with pytest.warns(cts.DesignWarning, match="nothing is staggered"):
        study = cts.event_study(panel)
    assert study.n_controls > 0 and "nothing is staggered" in study.summary()


def test_few_teams_switch_the_headline_to_the_wild_bootstrap(eight_teams):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", cts.PanelWarning)
        auto = cts.estimate_adoption_effect(eight_teams, reps=199)
        cluster = cts.estimate_adoption_effect(eight_teams, inference="cluster")
    assert auto.model.inference == "wild_bootstrap" and cluster.model.inference == "cluster"
    assert "chosen automatically: 8 teams" in auto.summary()
    assert cluster.inference_reason == "" and "chosen automatically" not in cluster.summary()
    wide, narrow = auto.table.loc["long_run"], cluster.table.loc["long_run"]
    assert wide["estimate"] == narrow["estimate"]
    assert wide["ci_high"] - wide["ci_low"] > 1.2 * (narrow["ci_high"] - narrow["ci_low"])


def test_many_teams_stay_clustered(medium_org):
    _, panel = medium_org
    effect = cts.estimate_adoption_effect(panel, method="fe")
    assert effect.model.inference == "cluster"
    assert effect.inference_reason.startswith("enough for clustered intervals: 300 teams")
