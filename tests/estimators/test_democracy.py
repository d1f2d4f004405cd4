"""The democracy panel of Acemoglu, Naidu, Restrepo & Robinson (2019) as used by Chen,
Chernozhukov & Fernandez-Val (2019): ``lgdp`` on ``dem`` with four lags of ``lgdp``, country
and year effects, clustered by country (147 countries, 2,793 observations)."""

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from linearmodels import PanelOLS

from cts import dynamic_panel
from cts.panel import lag, lag_terms

DEMOCRACY = Path(__file__).resolve().parents[2] / "data" / "reference" / "democracy-balanced-l4.dta"
LAGS = lag_terms("lgdp", 4)


@pytest.fixture(scope="module")
def democracy() -> pd.DataFrame:
    data = pd.read_stata(DEMOCRACY)
    return data.astype({"id": int, "year": int, "lgdp": float})


def test_reference_file_is_the_published_one():
    digest = hashlib.sha256(DEMOCRACY.read_bytes()).hexdigest()
    assert digest == "e40dfd9855ce6e561c2dca05dac2c0609b825570ca53cf3e7514dbe30624c0f7"


def test_fe_with_four_lags_equals_linearmodels_panelols_to_1e8(democracy):
    ours = dynamic_panel(democracy, "lgdp", "dem", "id", "year", lags=4, method="fe")
    lagged = democracy.assign(
        **{
            name: lag(democracy, "lgdp", k, entity="id", time="year")
            for k, name in enumerate(LAGS, start=1)
        }
    )
    data = lagged.dropna(subset=LAGS).set_index(["id", "year"])
    reference = PanelOLS(
        data["lgdp"], data[[*LAGS, "dem"]], entity_effects=True, time_effects=True
    ).fit(
        cov_type="clustered",
        cluster_entity=True,
        group_debias=True,
        debiased=False,
        auto_df=False,
        count_effects=False,
    )
    assert ours.n_obs == reference.nobs == 2793
    assert ours.n_entities == 147
    table = ours.table.loc[[*LAGS, "dem"]]
    np.testing.assert_allclose(table["estimate"], reference.params, rtol=0, atol=1e-8)
    # pyfixest's CRV1 with ssc(k_adj=False, G_adj=True) scales by G/(G-1); linearmodels'
    # group_debias by (G/(G-1)) (N-1)/N, so the two differ by exactly sqrt(N/(N-1)).
    n = reference.nobs
    np.testing.assert_allclose(
        table["se"], reference.std_errors * np.sqrt(n / (n - 1)), rtol=1e-8, atol=0
    )
    # The paper's FE long-run effect of democracy is about 16% of GDP per capita.
    assert ours.table.loc["long_run.dem", "estimate"] == pytest.approx(0.1605, abs=5e-4)
    assert ours.persistence == pytest.approx(0.8822, abs=5e-4)


def test_treatment_lags_sum_into_the_long_run(democracy):
    result = dynamic_panel(
        democracy, "lgdp", "dem", "id", "year", lags=4, treatment_lags=2, method="fe"
    )
    names = [*LAGS, "dem", "L1.dem", "L2.dem"]
    assert list(result.table.index) == [*names, "long_run.dem"]
    b = result.table.loc[LAGS, "estimate"].sum()
    g = result.table.loc[["dem", "L1.dem", "L2.dem"], "estimate"].sum()
    assert result.table.loc["long_run.dem", "estimate"] == pytest.approx(g / (1 - b))
    gradient = np.r_[np.full(4, g / (1 - b) ** 2), np.full(3, 1 / (1 - b))]
    variance = gradient @ result.vcov.loc[names, names].to_numpy() @ gradient
    assert result.table.loc["long_run.dem", "se"] == pytest.approx(np.sqrt(variance))
    # The lags of dem reach back two years, inside the four the lags of lgdp already use.
    assert result.n_obs == 2793
    assert result.treatment_lags == 2 and result.x == ("dem",)


def test_democracy_predetermined_is_reported_beside_the_jackknife(democracy):
    # Democracy responds to GDP shocks (the textbook predetermined regressor). The analytical
    # correction for it (cts.estimators.weak_exogeneity) keeps the jackknifed persistence and
    # moves the democracy coefficient by a fraction of its SE here (README: 2.15 -> 2.11).
    plain = dynamic_panel(democracy, "lgdp", "dem", "id", "year", lags=4)
    robust = dynamic_panel(democracy, "lgdp", "dem", "id", "year", lags=4, predetermined="dem")
    assert robust.persistence == pytest.approx(plain.persistence, abs=1e-12)
    shift = robust.table.loc["dem", "estimate"] - plain.table.loc["dem", "estimate"]
    assert 0 < abs(shift) < 0.2 * plain.table.loc["dem", "se"]
    assert "dem predetermined" in robust.notes[0]
