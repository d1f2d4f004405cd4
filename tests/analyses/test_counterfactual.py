"""The counterfactual (imputation with dynamics) against simulator truth and a published example."""

import hashlib
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pyfixest as pf
import pytest

import cts
from cts.analyses.counterfactual import compare_pooled
from cts.simulate.org import simulate_and_load
from cts.validation.counterfactual import counterfactual_truth, usage_exposure
from tests.conftest import quiet_load

DF_HET = Path(__file__).resolve().parents[2] / "data" / "reference" / "df_het.csv"
# R did2s (Butts & Gardner), first stage ~ 0 | state + year, clustered by state, on df_het: the
# static ATT as did2s's README prints it (2.152215, SE 0.047607), and the event-time ATTs
# rel_year 0..20 as R printed them into pyfixest's tests/data/all_did2s_dfs.csv (model2),
# rounded here to 6 decimals.
PUBLISHED_ATT = 2.152215
PUBLISHED_SE = 0.047607
PUBLISHED_EVENT_TIME = [
    1.304462, 1.533486, 1.597104, 1.718847, 1.846297, 1.990587, 2.078883, 2.165400, 2.258950,
    2.277763, 2.414767, 2.456335, 2.507296, 2.481402, 2.626326, 2.812632, 2.762682, 2.811300,
    2.777035, 2.786164, 2.814858,
]  # fmt: skip


@pytest.fixture(scope="module")
def df_het():
    data = pd.read_csv(DF_HET)
    # years as a weekly calendar: the counterfactual's periods are weeks
    week = pd.Timestamp("1990-01-01") + pd.to_timedelta(7 * (data["year"] - 1990), unit="D")
    return pd.DataFrame(
        {
            "team_id": data["unit"].astype(str),
            "week": week,
            "dep_var": data["dep_var"],
            "treat": data["treat"].astype(float),
            "state": data["state"],
            "year": data["year"],
            "unit": data["unit"],
        }
    )


def _static(panel, **options):
    return cts.counterfactual(
        panel, "dep_var", treatment="treat", controls=(), lags=0, time_effects_by=None, **options
    )


def test_reference_file_is_the_published_one():
    digest = hashlib.sha256(DF_HET.read_bytes()).hexdigest()
    assert digest == "2b67a1f99673d705010fe0d655fd22a2ef39c56bdd4034bf51412d049f4da40c"


def test_static_imputation_reproduces_did2s_on_df_het(df_het):
    result = _static(df_het, levels_by="state", cluster="state", reps=199, seed=1)
    # to the printed digits
    assert result.table.loc["att", "estimate"] == pytest.approx(PUBLISHED_ATT, abs=5e-7)
    event_time = result.by_weeks_of_use["estimate"].loc[0:20].to_numpy()
    np.testing.assert_allclose(event_time, PUBLISHED_EVENT_TIME, atol=5e-7)
    # the team (state) bootstrap against did2s's analytical GMM SE: 199 draws give the SE to
    # about 5% (1/sqrt(2 x 199)), so 15%
    assert result.table.loc["att", "se"] == pytest.approx(PUBLISHED_SE, rel=0.15)


def test_static_imputation_with_unit_effects_equals_pyfixest_did2s(df_het):
    result = _static(df_het, reps=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = pf.did2s(
            df_het,
            yname="dep_var",
            first_stage="~ 0 | unit + year",
            second_stage="~ treat",
            treatment="treat",
            cluster="state",
        )
    # pyfixest's iterative demeaner stops at its tolerance; ours is an exact solve
    assert result.table.loc["att", "estimate"] == pytest.approx(fit.coef().iloc[0], abs=1e-7)


# --- simulator truth -------------------------------------------------------------------------


def _truth(sim, outcome="cr_velocity"):
    """The simulator's truth (its no-assistant paths), the total named as in the table."""
    truth = counterfactual_truth(sim, outcome)
    return {**truth, "total_extra_crs": truth["total"]}


@pytest.fixture(scope="module")
def clean():
    """800 teams x 78 weeks without data gaps (so the truth's usage paths are complete)."""
    sim = cts.simulate_org(n_teams=800, n_weeks=78, seed=5, gap_rate=0.0)
    panel = quiet_load(sim.panel)
    return sim, panel, cts.counterfactual(panel, "cr_velocity", reps=99, seed=2)


def test_counterfactual_recovers_the_simulated_effects(clean):
    sim, panel, result = clean
    truth = _truth(sim)
    table = result.table
    # One panel: the tolerances are about 2.5 SEs of each estimate on this design (SEs 0.010
    # persistence, ~0.02 short run and att, ~0.04 long run), so a failure is a bias.
    assert table.loc["persistence", "estimate"] == pytest.approx(truth["persistence"], abs=0.025)
    for term in ("short_run", "att", "total_extra_crs"):
        assert table.loc[term, "estimate"] == pytest.approx(truth[term], rel=0.12), term
    assert table.loc["long_run", "estimate"] == pytest.approx(truth["long_run"], rel=0.15)
    for term in ("persistence", "short_run", "long_run", "att", "total_extra_crs"):
        # within 3 bootstrap SEs (a miss by chance: 0.3% per term)
        estimate, se = table.loc[term, ["estimate", "se"]]
        assert abs(estimate - truth[term]) < 3 * se, term
    assert result.time_effects_by is None and result.lags == 1
    assert result.n_treated_teams > 400


def test_profile_by_weeks_of_use_rises_with_the_ramp_and_persistence(clean):
    sim, panel, result = clean
    profile = result.by_weeks_of_use["estimate"]
    truth = _truth(sim)
    # usage ramps up over 4-16 weeks and the effect builds with persistence 0.5: week 0 is a
    # small share of week 20's effect
    assert profile.loc[0] < 0.4 * profile.loc[20]
    assert profile.loc[20] == pytest.approx(truth["short_run"] * 0.8 * 2, rel=0.25)
    assert set(result.by_dose.index) == {"[0.0, 0.25)", "[0.25, 0.5)", "[0.5, 0.75)", "[0.75, 1.0)"}
    assert result.by_dose["estimate"].is_monotonic_increasing


def test_paths_hold_observed_minus_counterfactual_with_intervals(clean):
    _, panel, result = clean
    paths = result.paths
    assert list(paths.columns[:6]) == [
        "team_id", "week", "observed", "counterfactual", "ci_low", "ci_high"
    ]  # fmt: skip
    used = paths.dropna(subset=["effect"])
    np.testing.assert_allclose(used["effect"], used["observed"] - used["counterfactual"])
    assert (paths["ci_low"] < paths["counterfactual"]).all()
    assert (paths["counterfactual"] < paths["ci_high"]).all()
    assert len(used) == result.n_team_weeks_treated
    # the mean effect over the paths' weeks of use is the profile's weighted mean
    profile = result.by_weeks_of_use
    weighted = (profile["estimate"] * profile["n_team_weeks"]).sum() / profile["n_team_weeks"].sum()
    assert used["effect"].mean() == pytest.approx(weighted)


def test_path_intervals_cover_the_outcome_without_an_effect():
    """With no effect the observed outcome is the outcome without the assistant: the paths'
    prediction intervals should cover it at their level (tolerance: 3 points either way, the
    team-weeks are many but correlated within team).

    Over 100 seeds of this size (page effect +0.1) the paths cover 0.950 (0.935-0.965, none
    outside the band) and the ATT is centred (mean -0.0008, MC SE 0.0027; z mean -0.04, SD
    1.17, 1.07 with 199 reps): seed 8's ATT at -3.1 SE was one of 6 panels beyond 2.5 SE.
    Seed 5 is near the centre under both page effects (z -0.2 and 0.6)."""
    sim = cts.simulate_org(n_teams=300, n_weeks=60, seed=5, cr_effect=0.0)
    result = cts.counterfactual(quiet_load(sim.panel), "cr_velocity", reps=49, seed=1)
    used = result.paths.dropna(subset=["effect"])
    covered = (used["ci_low"] <= used["observed"]) & (used["observed"] <= used["ci_high"])
    assert 0.92 <= covered.mean() <= 0.98
    assert abs(result.table.loc["att", "estimate"]) < 2.5 * result.table.loc["att", "se"]


# --- heterogeneity and orgs ------------------------------------------------------------------


def _with_cohort_gain(sim, panel, extra: float):
    """The panel with an extra effect ``extra`` per unit of usage for teams that start before
    the median first use: added as ``extra * D`` (D the usage filtered by the persistence), which
    is exactly an effect ``extra * usage`` in the simulator's dynamic model."""
    exposure = usage_exposure(panel, sim.truth["cr_velocity"]["persistence"])
    first = exposure.reset_index().groupby("team_id")["week"].min()
    early = first[first <= first.median()].index
    rows = panel.set_index(["team_id", "week"])
    gain = exposure.reindex(rows.index).fillna(0.0)
    gain = gain.where(rows.index.get_level_values("team_id").isin(early), 0.0)
    changed = panel.copy()
    changed["cr_velocity"] = panel["cr_velocity"].to_numpy() + extra * gain.to_numpy()
    users = first.index
    truth = sim.truth["cr_velocity"]["short_run"] + extra * np.isin(users, early).mean()
    return changed, truth


def test_effects_that_differ_by_cohort_are_averaged_over_teams_and_detected(clean):
    sim, panel, _ = clean
    changed, truth = _with_cohort_gain(sim, panel, extra=0.3)
    result = cts.counterfactual(changed, "cr_velocity", reps=99, seed=3)
    assert result.table.loc["short_run", "estimate"] == pytest.approx(truth, rel=0.12)
    assert result.cohort_homogeneity.rejected
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pooled = cts.estimate_adoption_effect(changed, "cr_velocity", method="bias_corrected")
    test = compare_pooled(result, pooled, "short_run")
    assert test.name == "pooled vs counterfactual short_run"
    assert test.statistic == pytest.approx(
        (result.table.loc["short_run", "estimate"] - pooled.table.loc["short_run", "estimate"])
        / np.hypot(result.table.loc["short_run", "se"], pooled.table.loc["short_run", "se"])
    )
    recorded = result.compare_pooled(pooled)
    assert set(recorded) == {"short_run", "long_run"}
    assert "pooled vs counterfactual long_run" in result.summary()


def test_cohort_homogeneity_is_not_rejected_when_effects_are_equal(clean):
    _, _, result = clean
    assert result.cohort_homogeneity is not None
    assert not result.cohort_homogeneity.rejected


def _with_org_waves(sim, panel):
    """Four orgs by adoption timing (early adopters in the first), each with its own shock that
    rises from its rollout on: ``s_g,t`` added to the observed outcome, which is exactly an
    org x week effect ``s_g,t - b s_g,t-1`` in the dynamic model."""
    first = panel.loc[panel["ai_usage_rate"] > 0].groupby("team_id")["week"].min()
    # adopters by the quarter of their start; never-users spread over the orgs
    org = pd.Series(pd.qcut(first.rank(method="first"), 4, labels=False), index=first.index)
    never = np.setdiff1d(panel["team_id"].unique(), first.index)
    org = pd.concat([org, pd.Series(np.arange(len(never)) % 4, index=never)])
    frame = panel.copy()
    frame["org"] = "org-" + frame["team_id"].map(org).astype(str)
    weeks = (frame["week"] - frame["week"].min()).dt.days // 7
    code = frame["team_id"].map(org).to_numpy()
    # the earliest orgs ramp up their own output from week 15 (a hiring wave), the others not
    shock = np.where(code <= 1, 0.02 * np.clip(weeks - 15, 0, None), 0.0)
    frame["cr_velocity"] = frame["cr_velocity"] + shock
    return frame


def test_org_week_effects_are_the_default_and_absorb_org_shocks(clean):
    sim, panel, _ = clean
    frame = _with_org_waves(sim, panel)
    result = cts.counterfactual(frame, "cr_velocity", reps=49, seed=4)
    truth = _truth(sim)
    assert result.time_effects_by == "org"
    assert any("org" in note for note in result.notes)
    assert "org x week" in result.summary()
    assert result.table.loc["att", "estimate"] == pytest.approx(truth["att"], rel=0.15)
    common = cts.counterfactual(frame, "cr_velocity", time_effects_by=None, reps=0)
    # common week effects read the early orgs' hiring wave as the assistant's effect
    assert common.table.loc["att", "estimate"] > 1.3 * truth["att"]


# --- refusals ----------------------------------------------------------------------------------


def test_refuses_without_adopters(medium_org):
    _, panel = medium_org
    none = panel.assign(ai_usage_rate=0.0)
    with pytest.raises(cts.PanelError, match="no team ever uses the assistant"):
        cts.counterfactual(none, "cr_velocity", reps=0)


def test_refuses_without_untreated_team_weeks(medium_org):
    _, panel = medium_org
    always = panel.assign(ai_usage_rate=0.5)
    with pytest.raises(cts.PanelError, match="nothing to be fitted on"):
        cts.counterfactual(always, "cr_velocity", reps=0)


def test_refuses_an_org_week_without_untreated_teams(medium_org):
    _, panel = medium_org
    # one org of adopters only: once they have all started, its weeks have no untreated team
    adopters = panel.loc[panel["ai_usage_rate"] > 0, "team_id"].unique()
    frame = panel.assign(org=np.where(panel["team_id"].isin(adopters), "a", "b"))
    with pytest.raises(cts.PanelError, match="time_effects_by=None"):
        cts.counterfactual(frame, "cr_velocity", reps=0)


def test_result_protocol(clean):
    _, _, result = clean
    assert list(result.table.columns) == ["estimate", "se", "ci_low", "ci_high", "p_value"]
    assert list(result.table.index) == [
        "short_run", "persistence", "long_run", "att", "total_extra_crs"
    ]  # fmt: skip
    tidy = result.tidy()
    assert {"term", "outcome", "time_effects_by", "n_treated_teams"} <= set(tidy.columns)
    assert "<div class='cts-result'>" in result._repr_html_()
    assert "Counterfactual of cr_velocity" in result.summary()
    import matplotlib

    matplotlib.use("Agg")
    ax = result.plot()
    assert len(ax.lines) == 2
    assert isinstance(cts.Counterfactual, type)


def test_the_monte_carlo_scores_the_counterfactual_against_the_simulators_truth():
    from cts.validation.monte_carlo import monte_carlo

    draws = monte_carlo(
        n_weeks=(39,),
        n_teams=150,
        reps=1,
        outcomes=("cr_velocity",),
        methods=("counterfactual",),
        workers=1,
        progress=False,
    )
    assert set(draws["term"]) == {"short_run", "persistence", "long_run", "att", "extra_units"}
    extra = draws.set_index("term").loc["extra_units"]
    # one panel of 150 teams: the total within 25% of the simulator's (SE about 10%)
    assert extra["estimate"] == pytest.approx(extra["truth"], rel=0.25)


# --- inference: this panel's adopters -----------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "rejects"),
    [({}, False), ({"learning_weeks": 8}, False), ({"feedback": 1.0}, True)],
)
def test_pre_trend_test_finds_adoption_that_follows_bad_weeks(overrides, rejects):
    """Adoption brought forward by bad weeks (feedback) shows as a dip in the weeks before first
    use; effects learned after adoption, or none, do not (p 0.31 and 0.75 on these panels,
    below 0.01 with feedback)."""
    _, panel = simulate_and_load(200, 39, 9000, overrides)
    result = cts.counterfactual(panel, "cr_velocity", controls=("rollback_rate",), reps=0)
    test = result.pre_trend
    assert test.df == 4 and test.rejected == rejects
    assert test.p_value < 0.01 if rejects else test.p_value > 0.2
    assert "pre-trend" in result.summary()


def test_panel_inference_leaves_out_the_spread_of_adopters_sizes_from_the_sums(clean):
    """Resampling the adopters' extra units as they are (``inference="teams"``) puts the spread
    of their sizes, weeks of use and doses into the total's interval, which the total of this
    panel's adopters does not vary by; ``"panel"`` resamples each adopter's extra units less
    what its cohort's effect implies for its exposure. The averages' draws are the same."""
    _, panel, result = clean
    teams = cts.counterfactual(panel, "cr_velocity", reps=99, seed=2, inference="teams")
    for term in ("short_run", "persistence", "long_run", "att"):
        assert result.table.loc[term, "se"] == pytest.approx(teams.table.loc[term, "se"], rel=1e-9)
    ratio = result.table.loc["total_extra_crs", "se"] / teams.table.loc["total_extra_crs", "se"]
    assert 0.5 < ratio < 0.85, ratio  # measured 0.68 (3,507 against 5,126)
    total = result.table_draws["total_extra_crs"]
    assert result.table_draws.shape == (99, 5)
    assert total.std() == pytest.approx(result.table.loc["total_extra_crs", "se"])
    # the weekly draws add up to the total's, draw by draw
    np.testing.assert_allclose(result.weekly_draws["total"].sum(axis=1), total, rtol=1e-9)
    with pytest.raises(ValueError, match="inference"):
        cts.counterfactual(panel, "cr_velocity", reps=0, inference="bootstrap")
