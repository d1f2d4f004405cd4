import numpy as np
import pytest

import cts
from cts.analyses.planning import calibrate, minimum_detectable_effect, power, power_grid
from cts.reporting import plots
from tests.conftest import quiet_load

TRUTH = dict(
    cr_level=2.5, team_spread=0.3, cr_noise_sd=0.45, cr_persistence=0.6, never_adopter_share=0.3
)


def test_calibration_recovers_the_simulators_own_parameters():
    """Persistence and noise come back within 5%; the level is the observed one (holiday dips
    included), 4-9% below the parameter; spread and the never-user share within their
    sampling noise on 400 teams."""
    panel = quiet_load(cts.simulate_org(400, 104, seed=2, **TRUTH).panel)
    calibrated = calibrate(panel)
    assert calibrated["n_teams"] == 400 and calibrated["n_weeks"] == 104
    assert calibrated["cr_persistence"] == pytest.approx(0.6, abs=0.03)
    assert calibrated["cr_noise_sd"] == pytest.approx(0.45, rel=0.05)
    assert 0.90 * 2.5 < calibrated["cr_level"] < 0.97 * 2.5
    assert calibrated["team_spread"] == pytest.approx(0.3, rel=0.15)
    assert calibrated["never_adopter_share"] == pytest.approx(0.3, abs=0.06)


@pytest.fixture(scope="module")
def small():
    panel = quiet_load(cts.simulate_org(100, 52, seed=4).panel)
    return panel, calibrate(panel)


def test_power_has_nominal_size_and_grows_with_the_effect(small):
    """40 panels per point: at no effect the rejection rate is the test's size (0.05, MC SE
    0.034, so <= 0.15); at +15% of the level the effect is found nearly always."""
    panel, calibration = small
    common = dict(reps=40, calibration=calibration, workers=1, progress=False)
    none = power(panel, 0.0, **common)
    medium = power(panel, 0.05, **common)
    large = power(panel, 0.15, **common)
    assert none.power <= 0.15
    assert none.power <= medium.power <= large.power and large.power >= 0.9
    assert large.absolute_effect == pytest.approx(0.15 * calibration["cr_level"])
    assert large.mcse == pytest.approx(np.sqrt(large.power * (1 - large.power) / 40))


def test_power_stops_early_only_where_it_is_pinned_down(small):
    """With ``precision``, a power near 1 stops after the first 20 panels (the same 20 as
    without stopping), while a power near the test's size runs on: 1 hit in 20 is an SE of
    6.4% once a hit and a miss are added, above 5%."""
    panel, calibration = small
    common = dict(calibration=calibration, workers=1, progress=False)
    large = power(panel, 0.3, reps=50, precision=0.05, **common)
    assert large.reps == 20 and large.power == 1.0
    assert power(panel, 0.3, reps=20, **common).power == 1.0
    none = power(panel, 0.0, reps=40, precision=0.05, **common)
    assert none.power in (0.0, 1.0) if none.reps == 20 else none.reps in (30, 40)
    with pytest.raises(ValueError, match="precision"):
        power(panel, 0.1, precision=0.6, **common)


def test_minimum_detectable_effect_lies_where_power_crosses_80(small):
    """The crossing is interpolated between the evaluated effects: where power crosses 80%
    whatever the number of panels per point (20 here: powers 0.10, 0.55, 1 and 1). The grid's
    10 panels per design: 0.6 on 25 teams x 26 weeks, 1.0 on 100 x 52."""
    panel, calibration = small
    mde, curve = minimum_detectable_effect(
        panel,
        calibration=calibration,
        effects=(0.02, 0.05, 0.1, 0.15),
        reps=20,
        workers=1,
        progress=False,
    )
    below, above = curve.index[curve["power"] < 0.8], curve.index[curve["power"] >= 0.8]
    assert below.max() < mde <= above.min()
    grid = power_grid(
        panel,
        0.1,
        n_teams=(25, 100),
        n_weeks=(26, 52),
        reps=10,
        calibration=calibration,
        workers=1,
        progress=False,
    )
    assert len(grid) == 4 and grid["power"].between(0, 1).all()
    more = grid.set_index(["n_weeks", "n_teams"])["power"]
    assert more.loc[(52, 100)] >= more.loc[(26, 25)]
    ax = plots.plot_power(grid).axes[0]
    assert ax.get_title() == "Power to detect a +10% long-run effect"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["25", "100"]
    assert len(ax.lines) >= 2  # a line per panel length, plus the target


def test_power_grid_runs_every_design_in_one_pool_with_the_same_answers(small):
    """The grid submits all designs to one pool; each cell is exactly what power() gives for
    that design with the same seeds, and the pool (2 workers) changes nothing."""
    panel, calibration = small
    common = dict(reps=6, calibration=calibration, progress=False, seed=3)
    grid = power_grid(panel, 0.1, n_teams=(20, 60), n_weeks=(26,), workers=2, **common)
    for teams in (20, 60):
        alone = power(panel, 0.1, n_teams=teams, n_weeks=26, workers=1, **common)
        cell = grid.set_index("n_teams").loc[teams]
        assert cell["power"] == alone.power and cell["mcse"] == alone.mcse
        assert cell["n_weeks"] == 26


def test_bad_arguments(small):
    panel, _ = small
    with pytest.raises(ValueError, match="supports cr_velocity, deploy_velocity"):
        calibrate(panel, "rollback_rate")
    with pytest.raises(ValueError, match="share of the outcome's level"):
        power(panel, 25.0)


def test_minimum_detectable_effect_search_brackets_the_target(small):
    """The default search steps from the normal-approximation guess until two effects bracket
    80% power, in at most 4 evaluations (here two: 0.55 at +5%, 0.95 at +7%, 20 panels each)."""
    panel, calibration = small
    mde, curve = minimum_detectable_effect(
        panel, calibration=calibration, reps=20, workers=1, progress=False
    )
    assert 2 <= len(curve) <= 4 and curve.index.is_monotonic_increasing
    below, above = curve.index[curve["power"] < 0.8], curve.index[curve["power"] >= 0.8]
    assert below.max() < mde <= above.min()
    ratios = curve.index[1:] / curve.index[:-1]
    np.testing.assert_allclose(ratios, 1.4, rtol=0.01)


def test_pilot_power_says_its_test_is_not_the_headlines_or_uses_it(small):
    """40 teams of which about 6 adopt: the headline would use the wild bootstrap (fewer than
    10 adopting teams), so clustered power is flagged as optimistic; inference='auto' runs the
    headline's own test on each simulated panel."""
    panel, calibration = small
    pilot = {**calibration, "never_adopter_share": 0.85}
    common = dict(reps=3, calibration=pilot, workers=1, progress=False)
    clustered = power(panel, 0.1, n_teams=40, **common)
    assert clustered.few_clusters and clustered.inference == "cluster"
    assert "optimistic" in clustered.summary() and "inference='auto'" in clustered.summary()
    many = power(panel, 0.1, n_teams=100, **{**common, "calibration": calibration})
    assert not many.few_clusters and "optimistic" not in many.summary()
    headline = power(panel, 0.1, n_teams=40, inference="auto", bootstrap_reps=49, **common)
    assert headline.inference == "auto" and "the one the headline uses" in headline.summary()
    with pytest.raises(ValueError, match="inference must be"):
        power(panel, 0.1, inference="wild", **common)


def test_deployment_velocity_calibrates_its_own_spread():
    """The deployment calibration's spread goes to ``deploy_team_spread``, so one simulated
    panel carries both outcomes' calibrations; left at None the simulator is unchanged."""
    base = quiet_load(cts.simulate_org(60, 40, seed=3).panel)
    same = quiet_load(cts.simulate_org(60, 40, seed=3, deploy_team_spread=None).panel)
    assert same.equals(base)
    wide = quiet_load(cts.simulate_org(60, 40, seed=3, deploy_team_spread=0.6).panel)

    def spread(panel, outcome):
        return panel.groupby("team_id")[outcome].mean().std()

    # Deployment velocity's team means spread out; CR velocity's stay (the random draws after
    # the first deployment count differ, so not the very same values).
    assert spread(wide, "deploy_velocity") > 1.5 * spread(base, "deploy_velocity")
    assert spread(wide, "cr_velocity") == pytest.approx(spread(base, "cr_velocity"), rel=0.15)
    panel = quiet_load(cts.simulate_org(300, 80, seed=2, deploy_team_spread=0.35).panel)
    calibrated = calibrate(panel, "deploy_velocity")
    assert "team_spread" not in calibrated
    assert calibrated["deploy_team_spread"] == pytest.approx(0.35, rel=0.2)


def test_power_study_tests_both_outcomes_on_one_panel_and_stops_designs_once_pinned(small):
    """A large effect is found in every panel: each design stops after its first 10 panels,
    for both outcomes; at no effect the rejection rate stays near the test's size."""
    from cts.analyses.planning import GRID_MIN_REPS, PowerStudy, power_study

    panel, _ = small
    common = dict(n_teams=(30, 60), n_weeks=(26,), reps=30, grid_reps=20, workers=1)
    found = power_study(panel, 0.5, progress=False, **common)
    assert isinstance(found, PowerStudy)
    assert list(found.at_size) == ["cr_velocity", "deploy_velocity"]
    assert all(r.power == 1.0 and r.reps == GRID_MIN_REPS for r in found.at_size.values())
    assert found.table["n_teams"].tolist() == [100, 100]
    grid = found.grid
    assert len(grid) == 4 and set(grid["outcome"]) == {"cr_velocity", "deploy_velocity"}
    assert (grid["power"] == 1.0).all() and (grid["reps"] == GRID_MIN_REPS).all()
    assert found.grid_for("deploy_velocity")["n_teams"].tolist() == [30, 60]
    none = power_study(panel, 0.0, progress=False, **common)
    rates = [r.power for r in none.at_size.values()]
    assert all(rate <= 0.2 for rate in rates)  # size 0.05: 6 of 30 would be 4 MC SEs above
    assert all(r.reps in (20, 30) for r in none.at_size.values())  # 0 of 10 is not precise
    with pytest.raises(ValueError, match="each outcome once"):
        power_study(panel, 0.1, outcomes=("cr_velocity", "cr_velocity"), **common)


def test_power_bound_is_below_simulated_power_and_replaces_it_only_when_near_one(small):
    """The bound (2 x the panel's own SE of 0.053) is 0.29 at +5% and 0.50 at +7%, below the
    simulated power of 40 panels (0.65 and 0.975); at +50% it is 1. power_study uses it at the
    panel's size only from ``bound_team_weeks`` and when at least 99.9% for every outcome."""
    from cts.analyses.planning import BOUND_POWER, power_bound, power_study

    panel, calibration = small
    common = dict(calibration=calibration, workers=1, progress=False, reps=40)
    for effect, low in ((0.05, 0.29), (0.07, 0.50)):
        bound = power_bound(panel, effect, calibration)
        assert bound.power == pytest.approx(low, abs=0.02)
        assert bound.power < power(panel, effect, **common).power
        assert bound.method == "normal bound" and bound.reps == 0 and bound.mcse == 0
    big = power_bound(panel, 0.5, calibration)
    assert big.se == pytest.approx(0.0527, rel=0.02) and big.power >= BOUND_POWER
    text = big.summary()
    assert "at least 99.9%, not simulated" in text and "28 standard errors" in text
    with pytest.raises(ValueError, match="inflation"):
        power_bound(panel, 0.5, calibration, inflation=0.5)
    grid = dict(n_teams=(30,), n_weeks=(26,), reps=30, grid_reps=10, workers=1, progress=False)
    bounded = power_study(panel, 0.5, bound_team_weeks=5_000, **grid)
    assert all(r.method == "normal bound" for r in bounded.at_size.values())
    assert bounded.table["reps"].tolist() == [0, 0]
    assert (bounded.grid["reps"] == 10).all() and (bounded.grid["power"] == 1.0).all()
    simulated = power_study(panel, 0.5, bound_team_weeks=6_000, **grid)  # 5,200 team-weeks
    assert all(r.method == "simulation" and r.reps == 10 for r in simulated.at_size.values())
    assert simulated.grid.equals(bounded.grid)
    unbounded = power_study(panel, 0.0, bound_team_weeks=5_000, **grid)  # bound ~0.025
    assert all(r.method == "simulation" for r in unbounded.at_size.values())
