"""Row positions of calendar lags: the dense table and the hash index agree, gaps give -1."""

import numpy as np
import pandas as pd
import pytest

from cts.core.exceptions import PanelError
from cts.panel import lags
from cts.panel.lags import lag_rows

# Team b skips week 3; rows are not in time order within team a.
PANEL = pd.DataFrame(
    {
        "team_id": ["a", "a", "a", "b", "b", "b"],
        "week": pd.to_datetime(
            ["2024-01-08", "2024-01-01", "2024-01-15", "2024-01-01", "2024-01-08", "2024-01-22"]
        ),
    }
)
# Rows 0-2: team a in weeks 2, 1, 3; rows 3-5: team b in weeks 1, 2, 4.
EXPECTED = {
    1: [1, -1, 0, -1, 3, -1],  # b's week 4 follows a gap
    -1: [2, 0, -1, 4, -1, -1],
    2: [-1, -1, 1, -1, -1, 4],
}


@pytest.fixture(params=["dense", "hash"])
def lookup(request, monkeypatch):
    if request.param == "hash":  # no table is small enough: the hash index answers
        monkeypatch.setattr(lags, "_DENSE_CELLS_PER_ROW", 0)
        monkeypatch.setattr(lags, "_DENSE_MIN_CELLS", 0)
    return request.param


def test_lag_rows_by_calendar_week_with_gaps(lookup):
    found = lag_rows(PANEL, list(EXPECTED))
    for rows, expected in zip(found, EXPECTED.values(), strict=True):
        np.testing.assert_array_equal(rows, expected)


def test_duplicate_team_weeks_are_refused(lookup):
    doubled = pd.concat([PANEL, PANEL.iloc[[4]]], ignore_index=True)
    with pytest.raises(PanelError, match="not unique"):
        lag_rows(doubled, [1])


def test_both_lookups_agree_on_a_shuffled_panel(monkeypatch):
    rng = np.random.default_rng(0)
    teams, weeks = np.meshgrid(np.arange(30), np.arange(40), indexing="ij")
    keep = rng.random(teams.size) < 0.8  # gaps
    panel = pd.DataFrame(
        {"team_id": teams.ravel()[keep].astype(str), "week": weeks.ravel()[keep]}
    ).sample(frac=1.0, random_state=1)
    dense = lag_rows(panel, [1, 3, -2])
    monkeypatch.setattr(lags, "_DENSE_CELLS_PER_ROW", 0)
    monkeypatch.setattr(lags, "_DENSE_MIN_CELLS", 0)
    for fast, hashed in zip(dense, lag_rows(panel, [1, 3, -2]), strict=True):
        np.testing.assert_array_equal(fast, hashed)
        assert (fast >= 0).mean() > 0.6  # most lags are observed
