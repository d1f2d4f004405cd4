"""The counterfactual's roll-forward: each path starts from the observed lags and recurses."""

import numpy as np
import pytest

from cts.estimators.imputation import Paths, roll_forward

N_WEEKS = 9


def _paths(lags: int) -> Paths:
    rng = np.random.default_rng(1)
    start = np.array([1, 3, 4]) + lags - 1  # last week without the assistant
    last = np.array([8, 6, 8])  # last observed week
    weeks = np.arange(N_WEEKS)[None, :]
    active = (weeks > start[:, None]) & (weeks <= last[:, None])
    y = rng.normal(size=(3, N_WEEKS))
    y[1, 0] = np.nan  # an unobserved week long before the path: never read
    return Paths(
        rows=np.arange(3),
        start=start,
        last=last,
        first_use=start + 1,
        y=y,
        x=rng.normal(size=(3, N_WEEKS, 2)),
        group=np.array([0, 1, 0]),
        active=active,
        treated=active,
    )


def _by_hand(paths: Paths, team: np.ndarray, week: np.ndarray, coef: np.ndarray, lags: int):
    """One adopter and one draw at a time, the recursion written out."""
    out = np.full((N_WEEKS, 3, len(coef)), np.nan)
    for r, c in enumerate(coef):
        for a in range(3):
            path = paths.y[a].copy()
            for t in range(paths.start[a] + 1, paths.last[a] + 1):
                base = team[r, a] + week[r, paths.group[a], t] + paths.x[a, t] @ c[lags:]
                path[t] = base + sum(c[k - 1] * path[t - k] for k in range(1, lags + 1))
                out[t, a, r] = path[t]
    return out


@pytest.mark.parametrize("lags", [1, 2, 3])
def test_paths_match_the_recursion_written_out(lags):
    paths = _paths(lags)
    rng = np.random.default_rng(2)
    team = rng.normal(size=(2, 3))  # draws x adopters
    week = rng.normal(size=(2, 2, N_WEEKS))  # draws x groups x weeks
    coef = np.column_stack([rng.uniform(0.1, 0.3, size=(2, lags)), rng.normal(size=(2, 2))])
    rolled = roll_forward(paths, team, week, coef, lags)
    expected = _by_hand(paths, team, week, coef, lags)
    on_path = paths.active.T
    assert rolled.shape == (N_WEEKS, 3, 2)
    np.testing.assert_allclose(rolled[on_path], expected[on_path], rtol=1e-12)
    assert np.isfinite(rolled[on_path]).all()
