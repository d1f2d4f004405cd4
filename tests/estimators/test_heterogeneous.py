import numpy as np
import pandas as pd
import pytest

import cts
from cts import dynamic_panel
from cts.estimators.heterogeneous import (
    persistence_homogeneity_test,
    team_persistence_fit,
)
from cts.panel import lag_terms
from cts.validation.monte_carlo import simulate_and_load

X = ("ai_usage_rate", "rollback_rate")
SPREAD = {"persistence_spread": 0.3}


def estimation_frame(panel: pd.DataFrame, y: str, lags: int) -> tuple[pd.DataFrame, list[str]]:
    """The frame dynamic_panel estimates on: outcome, its lags, X and the key columns."""
    names = lag_terms(y, lags)
    frame = pd.DataFrame(
        {
            y: panel[y].to_numpy(float),
            **{n: cts.lag(panel, y, k).to_numpy() for k, n in enumerate(names, start=1)},
            **{c: panel[c].to_numpy(float) for c in X},
            "_entity": panel["team_id"].to_numpy(),
            "_time": panel["week"].to_numpy(),
            "_cluster": panel["team_id"].to_numpy(),
        }
    )
    return frame.dropna().reset_index(drop=True), names


def dummy_ols(frame: pd.DataFrame, y: str, names: list[str]) -> dict:
    """OLS with explicit team dummies, team x lag dummies, week dummies and X (lstsq)."""
    codes, labels = pd.factorize(frame["_entity"])  # teams in order of appearance, as the fit
    teams = np.eye(len(labels))[codes]
    weeks = pd.get_dummies(frame["_time"]).to_numpy(float)[:, 1:]
    lags = frame[names].to_numpy()
    design = np.column_stack(
        [teams, *(teams * lags[:, [k]] for k in range(len(names))), weeks, frame[list(X)]]
    )
    coef = np.linalg.lstsq(design, frame[y].to_numpy(), rcond=None)[0]
    n = teams.shape[1]
    slopes = np.stack([coef[n * (1 + k) : n * (2 + k)] for k in range(len(names))], axis=1)
    residuals = frame[y].to_numpy() - design @ coef
    # Cluster (team) influence of every coefficient: (D'D)^-1 D_c' e_c.
    scores = teams.T @ (design * residuals[:, None])
    influence = scores @ np.linalg.pinv(design.T @ design)
    slope_influence = sum(influence[:, n * (1 + k) : n * (2 + k)] for k in range(len(names)))
    return {
        "slopes": slopes,
        "g": coef[-len(X) :],
        "mean_persistence_influence": slope_influence.mean(axis=1),
        "g_influence": influence[:, -len(X) :],
        "team_slope_influence": slope_influence,  # clusters x teams, summed over the lags
    }


@pytest.fixture(scope="module")
def small_spread():
    return simulate_and_load(40, 36, 7, {**SPREAD, "turnover": 0.0})


def test_fit_equals_explicit_team_dummy_ols_to_1e8(small_spread):
    _, panel = small_spread
    frame, names = estimation_frame(panel, "cr_velocity", 2)
    fit = team_persistence_fit(frame, "cr_velocity", names, X, jackknife=False)
    reference = dummy_ols(fit.frame, "cr_velocity", names)
    np.testing.assert_allclose(fit.estimates[names], reference["slopes"].mean(axis=0), atol=1e-8)
    np.testing.assert_allclose(fit.estimates[list(X)], reference["g"], atol=1e-8)
    np.testing.assert_allclose(fit.team_persistence, reference["slopes"].sum(axis=1), atol=1e-8)
    # The influence on the mean persistence is each team's own deviation from the mean over
    # teams plus the dummy regression's cluster influence (which is zero on a team's own slopes
    # but not through the common coefficients).
    own = (fit.team_persistence - fit.team_persistence.mean()).to_numpy() / len(fit.clusters)
    np.testing.assert_allclose(
        fit.influence[:, : len(names)].sum(axis=1) - own,
        reference["mean_persistence_influence"],
        atol=1e-8,
    )
    np.testing.assert_allclose(fit.influence[:, len(names) :], reference["g_influence"], atol=1e-8)


def test_long_run_is_the_mean_of_the_teams_own_long_runs(small_spread):
    """mean_i g / (1 - b_i) to second order in the spread of b_i, not g / (1 - mean b_i); its
    influence against the exact delta method on the explicit dummy regression (which also
    carries the spread's dependence on the common coefficients, left out by the fit)."""
    _, panel = small_spread
    frame, names = estimation_frame(panel, "cr_velocity", 2)
    fit = team_persistence_fit(frame, "cr_velocity", names, X, jackknife=False)
    reference = dummy_ols(fit.frame, "cr_velocity", names)
    b, g = reference["slopes"].sum(axis=1), reference["g"][0]
    m, s2, n = b.mean(), b.var(), len(b)  # no jackknife: no noise to take off the spread
    value, influence = fit.mean_long_run(["ai_usage_rate"])
    assert value == pytest.approx(g * (1 / (1 - m) + s2 / (1 - m) ** 3), rel=1e-8)
    assert value > 1.03 * g / (1 - m)  # Jensen: the teams' spread raises the mean
    slopes = reference["team_slope_influence"]  # clusters x teams
    psi_m = (b - m) / n + slopes.mean(axis=1)
    psi_s2 = ((b - m) ** 2 - s2) / n + 2 * slopes @ (b - m) / n
    settle = 1 / (1 - m) + s2 / (1 - m) ** 3
    exact = settle * reference["g_influence"][:, 0] + g * (
        (1 / (1 - m) ** 2 + 3 * s2 / (1 - m) ** 4) * psi_m + psi_s2 / (1 - m) ** 3
    )
    assert np.sqrt((influence**2).sum()) == pytest.approx(np.sqrt((exact**2).sum()), rel=0.05)
    result = dynamic_panel(
        panel,
        "cr_velocity",
        list(X),
        "team_id",
        "week",
        lags=2,
        method="fe",
        team_persistence=True,
    )
    row = result.table.loc["long_run.ai_usage_rate"]
    assert row["estimate"] == pytest.approx(value, rel=1e-6)
    assert row["se"] == pytest.approx(np.sqrt(40 / 39 * (influence**2).sum()), rel=1e-6)
    assert result.vcov.loc["long_run.ai_usage_rate", "long_run.ai_usage_rate"] == pytest.approx(
        row["se"] ** 2
    )


def test_jackknife_combines_the_calendar_halves_of_explicit_ols(small_spread):
    _, panel = small_spread
    frame, names = estimation_frame(panel, "deploy_velocity", 1)
    fit = team_persistence_fit(frame, "deploy_velocity", names, X)
    # Halves: the weeks before the median week, and the rest (35 weeks: 17 and 18 a team).
    weeks = np.sort(frame["_time"].unique())
    first = (fit.frame["_time"] < weeks[len(weeks) // 2]).to_numpy()
    np.testing.assert_array_equal(fit.first_half, first)
    masks = [np.ones(len(first), dtype=bool), first, ~first]
    full, *halves = [dummy_ols(fit.frame.loc[m], "deploy_velocity", names) for m in masks]
    # Each team's weight removes a bias B / T of its own slope: c T (1/T1 + 1/T2) = 1 + 2c
    # (without gaps 17 and 18 weeks, c close to 1/2).
    team = pd.factorize(fit.frame["_entity"])[0]
    rows, rows_first = np.bincount(team), np.bincount(team, first)
    c = (1 / (rows * (1 / rows_first + 1 / (rows - rows_first)) - 2))[:, None]
    assert np.median(c) == pytest.approx(1 / (35 * (1 / 17 + 1 / 18) - 2))
    expected_b = (1 + 2 * c) * full["slopes"] - c * (halves[0]["slopes"] + halves[1]["slopes"])
    expected_g = 2 * full["g"] - (halves[0]["g"] + halves[1]["g"]) / 2
    np.testing.assert_allclose(fit.team_persistence, expected_b[:, 0], atol=1e-8)
    np.testing.assert_allclose(fit.estimates[names], expected_b.mean(axis=0), atol=1e-8)
    np.testing.assert_allclose(fit.estimates[list(X)], expected_g, atol=1e-8)


def test_mean_persistence_recovers_the_truth_where_pooling_does_not():
    errors = {"team": [], "pooled": []}
    for seed in (11, 12, 13):
        sim, panel = simulate_and_load(200, 104, seed, SPREAD)
        for y in ("cr_velocity", "deploy_velocity"):
            truth = sim.truth[y]
            team = dynamic_panel(panel, y, list(X), "team_id", "week", team_persistence=True)
            pooled = dynamic_panel(panel, y, list(X), "team_id", "week")
            for name, result in (("team", team), ("pooled", pooled)):
                errors[name].append(
                    [
                        result.persistence / truth["persistence"] - 1,
                        result.table.loc["long_run.ai_usage_rate", "estimate"] / truth["long_run"]
                        - 1,
                    ]
                )
    team, pooled = np.mean(errors["team"], axis=0), np.mean(errors["pooled"], axis=0)
    assert abs(team[0]) < 0.03  # persistence: mean over 6 fits, SD of the mean about 1.5%
    assert abs(team[1]) < 0.08  # long run: SD of the mean about 4%
    assert pooled[0] > 0.10  # the pooled persistence is off by +20% here
    assert team.shape == (2,)


def test_result_says_what_it_estimated(small_spread):
    _, panel = small_spread
    # Three teams observed for their first 7 weeks only: none after the median week.
    short = panel["team_id"].isin(panel["team_id"].unique()[:3])
    panel = panel.loc[~short | (panel["week"] < panel["week"].min() + pd.Timedelta(weeks=7))]
    result = dynamic_panel(panel, "cr_velocity", list(X), "team_id", "week", team_persistence=True)
    assert result.team_persistence
    assert result.n_entities == panel["team_id"].nunique() - 3
    assert any(note.startswith("3 of 40 teams") for note in result.notes)
    assert any("mean over" in note for note in result.notes)
    assert result.persistence == pytest.approx(
        result.table.loc["L1.cr_velocity", "estimate"], abs=1e-12
    )
    assert "homogeneous persistence" in result.summary()
    fe = dynamic_panel(
        panel, "cr_velocity", list(X), "team_id", "week", method="fe", team_persistence=True
    )
    assert fe.homogeneity is None
    assert fe.persistence != pytest.approx(result.persistence)


@pytest.mark.parametrize(
    "options",
    [{"method": "gmm"}, {"predetermined": "ai_usage_rate"}, {"inference": "wild_bootstrap"}],
)
def test_team_persistence_refuses_what_it_does_not_do(small_spread, options):
    _, panel = small_spread
    with pytest.raises(ValueError, match="team_persistence"):
        dynamic_panel(
            panel, "cr_velocity", list(X), "team_id", "week", team_persistence=True, **options
        )


def test_homogeneity_test_is_none_on_short_panels():
    _, panel = simulate_and_load(100, 20, 2, SPREAD)  # 19 weeks a team: too short to tell
    result = dynamic_panel(panel, "cr_velocity", list(X), "team_id", "week", team_persistence=True)
    assert result.homogeneity is None
    assert np.isfinite(result.persistence)


def test_too_few_teams_raise_in_words_and_the_test_is_none():
    _, panel = simulate_and_load(6, 30, 1, SPREAD)
    with pytest.raises(cts.PanelError, match="at least 10 teams"):
        dynamic_panel(panel, "cr_velocity", list(X), "team_id", "week", team_persistence=True)
    frame, names = estimation_frame(panel, "cr_velocity", 1)
    assert persistence_homogeneity_test(frame, "cr_velocity", names, X) is None


def test_homogeneity_test_holds_its_size_and_rejects_a_spread():
    rejected = {"clean": [], "spread": []}
    for seed in range(8):
        for cell, overrides in (("clean", {}), ("spread", SPREAD)):
            _, panel = simulate_and_load(200, 52, 100 + seed, overrides)
            frame, names = estimation_frame(panel, "cr_velocity", 1)
            test = persistence_homogeneity_test(frame, "cr_velocity", names, X)
            assert test is not None and 0 < test.p_value < 1
            rejected[cell].append(test.rejected)
    # Measured on CR velocity (150 panels a cell): 14% at 39 weeks, 7% at 104 without a
    # spread; 100% with it. At a 10% rate 8 clean panels reject 3 or more times with
    # probability 0.04; with the spread all 8 reject with probability near 1.
    assert sum(rejected["clean"]) <= 2
    assert sum(rejected["spread"]) >= 6
