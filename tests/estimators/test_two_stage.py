"""Gardner's two-stage DiD, sparse, against pyfixest's did2s (same numbers, far less memory)."""

import numpy as np
import pandas as pd
import pyfixest as pf
import pytest

import cts
from cts.estimators.two_stage import two_stage_did
from tests.conftest import quiet_load


@pytest.fixture(scope="module")
def frame():
    """An event-study frame from a simulated organization: staggered adopters, never-adopters,
    relative weeks clipped to [-6, 10] with other adopter weeks dropped (as event_study does)."""
    panel = quiet_load(cts.simulate_org(n_teams=120, n_weeks=60, seed=5).panel)
    adoption = panel.loc[panel["ai_usage_rate"] >= 0.5].groupby("team_id")["week"].min()
    cohort = panel["team_id"].map(adoption)
    rel = ((panel["week"] - cohort) / pd.Timedelta(weeks=1)).fillna(-1).astype(int)
    data = pd.DataFrame(
        {
            "team_id": panel["team_id"].to_numpy(),
            "period": panel["week"].dt.strftime("%Y-%m-%d").to_numpy(),
            "rel": rel.to_numpy(),
            "treated": (cohort.notna() & (rel >= 0)).astype(int).to_numpy(),
            "y": panel["cr_velocity"].to_numpy(),
        }
    )
    keep = cohort.isna().to_numpy() | data["rel"].between(-6, 10).to_numpy()
    data = data.loc[keep]
    while True:  # teams and weeks with at least two untreated rows (a counterfactual)
        untreated = data.loc[data["treated"].eq(0)]
        teams, periods = untreated["team_id"].value_counts(), untreated["period"].value_counts()
        kept = data["team_id"].isin(teams.index[teams >= 2]) & data["period"].isin(
            periods.index[periods >= 2]
        )
        if kept.all():
            return data.reset_index(drop=True)
        data = data.loc[kept]


def _dense_two_stage(data: pd.DataFrame, terms: pd.DataFrame) -> np.ndarray:
    """Both stages by dense least squares, exactly (an independent check of stage 1)."""
    dummies = pd.get_dummies(data[["team_id", "period"]], dtype=float).to_numpy()
    untreated = data["treated"].eq(0).to_numpy()
    effects, *_ = np.linalg.lstsq(dummies[untreated], data["y"].to_numpy()[untreated], rcond=None)
    net = data["y"].to_numpy() - dummies @ effects
    return np.linalg.lstsq(terms.to_numpy(float), net, rcond=None)[0]


def _pyfixest(data: pd.DataFrame, second_stage: str):
    fit = pf.did2s(
        data,
        yname="y",
        first_stage="~ 0 | team_id + period",
        second_stage=second_stage,
        treatment="treated",
        cluster="team_id",
    )
    return fit.coef(), np.asarray(fit._vcov)  # pyfixest has no public getter for the vcov


def test_static_effect_equals_pyfixest_did2s(frame):
    coef, vcov = two_stage_did(
        frame["y"], frame["team_id"], frame["period"], frame["treated"], frame[["treated"]]
    )
    # pyfixest's stage 1 demeans iteratively (MAP, stopping at its fixef_tol of 1e-6; did2s
    # takes no tolerance), ours solves exactly: equal to 1e-5 relative.
    expected, expected_vcov = _pyfixest(frame, "~ 0 + treated")
    assert coef["treated"] == pytest.approx(expected["treated"], rel=1e-5)
    np.testing.assert_allclose(vcov.to_numpy(), expected_vcov, rtol=1e-5)
    assert coef["treated"] == pytest.approx(
        _dense_two_stage(frame, frame[["treated"]])[0], abs=1e-10
    )
    assert 0.02 < coef["treated"] < 0.6 and vcov.iloc[0, 0] > 0  # a real, positive effect


def test_relative_week_effects_equal_pyfixest_did2s(frame):
    weeks = sorted(set(frame["rel"]) - {-1})
    terms = pd.DataFrame(
        {week: (frame["rel"] == week).astype(float) for week in weeks}, index=frame.index
    )
    coef, vcov = two_stage_did(
        frame["y"], frame["team_id"], frame["period"], frame["treated"], terms
    )
    expected, expected_vcov = _pyfixest(frame, "~ i(rel, ref=-1)")
    assert len(coef) == len(expected) == 16
    np.testing.assert_allclose(coef.to_numpy(), _dense_two_stage(frame, terms), atol=1e-10)
    # pyfixest's stage 1 stops at a change of 1e-6 per iteration, so its coefficients are off
    # by about that much: 2.6e-7 to 1.4e-6 (this panel) over 8 panels of this size (seeds 1, 2,
    # 3, 5 with page effects -0.2 and +0.1). Ours equals the exact dense solution to 1e-10.
    np.testing.assert_allclose(coef.to_numpy(), expected.to_numpy(), atol=5e-6)
    np.testing.assert_allclose(np.diag(vcov), np.diag(expected_vcov), rtol=1e-5)
    scale = np.abs(expected_vcov).max()
    np.testing.assert_allclose(vcov.to_numpy(), expected_vcov, rtol=0, atol=1e-5 * scale)


def test_a_team_without_untreated_weeks_is_refused(frame):
    always = frame.assign(treated=np.where(frame["team_id"] == frame["team_id"].iloc[0], 1, 0))
    with pytest.raises(cts.PanelError, match="untreated weeks for every team"):
        two_stage_did(
            always["y"], always["team_id"], always["period"], always["treated"], always[["treated"]]
        )


def test_org_by_week_effects_are_normalised_once_per_org(frame):
    """Week effects by org: orgs share no week, so the untreated team-weeks form one connected
    component per org and each needs its own normalisation (else stage 1 is singular)."""
    org = frame["team_id"].str[-4:].astype(int) % 3
    data = frame.assign(period=org.astype(str) + "|" + frame["period"])
    coef, vcov = two_stage_did(
        data["y"], data["team_id"], data["period"], data["treated"], data[["treated"]]
    )
    assert coef["treated"] == pytest.approx(_dense_two_stage(data, data[["treated"]])[0], abs=1e-8)
    expected, expected_vcov = _pyfixest(data, "~ 0 + treated")
    assert coef["treated"] == pytest.approx(expected["treated"], rel=1e-5)
    np.testing.assert_allclose(vcov.to_numpy(), expected_vcov, rtol=1e-5)
