import numpy as np
import pandas as pd
import pytest
from conftest import quiet_load
from pyfixest.estimation import demean as pyfixest_demean

import cts
from cts.estimators import demean as demean_module
from cts.estimators.demean import demean

COLUMNS = ["cr_velocity", "ai_usage_rate", "rollback_rate", "interventions_per_deploy"]


def reference(values: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """pyfixest's alternating projections, run to a tolerance far below the test's."""
    values = np.ascontiguousarray(np.asarray(values, float).reshape(len(values), -1))
    codes = np.ascontiguousarray(np.asarray(codes).reshape(len(values), -1), dtype=np.uint64)
    demeaned, converged = pyfixest_demean(
        values, codes, np.ones(len(values)), tol=1e-14, maxiter=1_000_000
    )
    assert converged
    return demeaned


def least_squares_residuals(values: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Residuals on explicit dummies of every set (minimum-norm least squares)."""
    dummies = np.hstack([np.eye(c.max() + 1)[c] for c in np.asarray(codes).T])
    fitted = dummies @ np.linalg.lstsq(dummies, values, rcond=None)[0]
    return values - fitted


@pytest.fixture(scope="module")
def unbalanced():
    """A simulated panel with a random fifth of its team-weeks dropped: (values, codes)."""
    panel = quiet_load(cts.simulate_org(120, 40, seed=3).panel)
    keep = np.random.default_rng(3).random(len(panel)) > 0.2
    panel = panel.loc[keep]
    codes = np.column_stack([pd.factorize(panel["team_id"])[0], pd.factorize(panel["week"])[0]])
    return panel[COLUMNS].to_numpy(float), codes


def test_two_way_equals_pyfixest_on_an_unbalanced_simulated_panel(unbalanced):
    values, codes = unbalanced
    assert len(values) < 120 * 40  # unbalanced
    ours = demean(values, codes)
    assert ours.shape == values.shape
    np.testing.assert_allclose(ours, reference(values, codes), rtol=0, atol=1e-8)
    # the order of the sets does not matter (the larger one is swept out either way)
    np.testing.assert_allclose(demean(values, codes[:, ::-1]), ours, rtol=0, atol=1e-10)
    # and the result is a projection residual: orthogonal to every team and week dummy
    for column in codes.T:
        sums = np.stack([np.bincount(column, weights=v) for v in ours.T])
        np.testing.assert_allclose(sums, 0, atol=1e-9)


def test_one_way_equals_pyfixest(unbalanced):
    values, codes = unbalanced
    ours = demean(values, codes[:, :1])
    np.testing.assert_allclose(ours, reference(values, codes[:, :1]), rtol=0, atol=1e-8)
    np.testing.assert_allclose(ours[:, 0], demean(values[:, 0], codes[:, 0])[:, 0], atol=1e-12)


def test_a_hand_made_panel_matches_dummies_and_pyfixest():
    # 4 teams x 3 weeks, two team-weeks missing, more teams than weeks
    teams = np.array([0, 0, 0, 1, 1, 2, 2, 2, 3, 3])
    weeks = np.array([0, 1, 2, 0, 2, 0, 1, 2, 1, 2])
    values = np.column_stack(
        [
            [1.0, 2.0, 4.0, 3.0, 7.0, 0.5, 1.5, 2.0, 9.0, 6.0],
            [0.0, 1.0, 1.0, 0.0, 1.0, 0.0, 0.0, 1.0, 1.0, 1.0],
        ]
    )
    codes = np.column_stack([teams, weeks])
    expected = least_squares_residuals(values, codes)
    np.testing.assert_allclose(demean(values, codes), expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(reference(values, codes), expected, rtol=0, atol=1e-8)
    # one way: team means
    team_means = np.stack([np.bincount(teams, v) / np.bincount(teams) for v in values.T], 1)
    np.testing.assert_allclose(demean(values, teams), values - team_means[teams], atol=1e-12)


def test_disconnected_teams_and_weeks_get_the_same_projection():
    # two groups of teams that never share a week: the fixed effects are not identified, the
    # projection (and so every slope) is; one normalisation per group keeps the solve exact
    rng = np.random.default_rng(0)
    teams = np.repeat(np.arange(6), 4)
    weeks = np.tile(np.arange(4), 6) + np.where(teams >= 3, 4, 0)
    codes = np.column_stack([teams, weeks])
    values = rng.normal(size=(len(teams), 3))
    expected = least_squares_residuals(values, codes)
    np.testing.assert_allclose(demean(values, codes), expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(reference(values, codes), expected, rtol=0, atol=1e-8)


def test_blocked_and_iterative_paths_agree_with_the_dense_one(unbalanced, monkeypatch):
    values, codes = unbalanced
    dense = demean(values, codes)
    monkeypatch.setattr(demean_module, "DENSE_INCIDENCE_CELLS", 7 * 40)  # 7 teams a block
    np.testing.assert_allclose(demean(values, codes), dense, rtol=0, atol=1e-10)
    monkeypatch.setattr(demean_module, "DIRECT_MAX_LEVELS", 10)  # weeks too many: iterate
    np.testing.assert_allclose(demean(values, codes), dense, rtol=0, atol=1e-8)


def test_three_sets_use_the_iterative_demeaner(unbalanced):
    values, codes = unbalanced
    three = np.column_stack([codes, codes[:, 0] % 7])
    np.testing.assert_allclose(demean(values, three), reference(values, three), atol=1e-8)


def test_short_lived_teams_take_the_sparse_product():
    # 400 teams, each observed for 3 to 8 consecutive weeks of 80 (staggered entry): the dense
    # (weeks x weeks) product would cost far more than the sparse one, and gives the same answer
    rng = np.random.default_rng(5)
    starts, lengths = rng.integers(0, 72, 400), rng.integers(3, 9, 400)
    teams = np.repeat(np.arange(400), lengths)
    weeks = np.concatenate([np.arange(s, s + n) for s, n in zip(starts, lengths, strict=True)])
    codes = np.column_stack([teams, weeks])
    assert 80**2 * 400 > 30 * np.square(np.bincount(teams)).sum()
    values = rng.normal(size=(len(weeks), 2)) + weeks[:, None] * 0.1
    np.testing.assert_allclose(demean(values, codes), reference(values, codes), atol=1e-8)


def test_team_and_org_week_effects_are_two_sets_solved_exactly():
    """Week effects by org are still two sets of fixed effects (team, org x week): the direct
    solve applies and equals explicit dummies, on an unbalanced panel with gaps."""
    panel = quiet_load(cts.simulate_org(60, 20, seed=5, orgs=3).panel)
    panel = panel.loc[np.random.default_rng(5).random(len(panel)) > 0.2]
    org_week = pd.factorize(panel["org"] + "|" + panel["week"].astype(str))[0]
    codes = np.column_stack([pd.factorize(panel["team_id"])[0], org_week])
    values = panel[COLUMNS].to_numpy(float)
    expected = least_squares_residuals(values, codes)
    np.testing.assert_allclose(demean(values, codes), expected, rtol=0, atol=1e-8)
    np.testing.assert_allclose(reference(values, codes), expected, rtol=0, atol=1e-8)
