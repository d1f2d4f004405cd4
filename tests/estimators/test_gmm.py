"""Difference GMM reproduces Stata's xtabond on Arellano & Bond (1991).

Published: Stata [XT] xtabond manual, `xtabond n l(0/1).w l(0/2).(k ys) yr1980-yr1984 year,
lags(2) noconstant` (611 obs, 140 groups, 41 instruments). Reproductions agree to about 1e-6, so
the tolerance is 2e-6 (the manual prints seven significant digits).
"""

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import cts
from cts.estimators.gmm import difference_gmm

ABDATA = Path(__file__).resolve().parents[2] / "data" / "reference" / "abdata.csv"
X = [
    "w",
    "L1.w",
    "k",
    "L1.k",
    "L2.k",
    "ys",
    "L1.ys",
    "L2.ys",
    "yr1980",
    "yr1981",
    "yr1982",
    "yr1983",
    "yr1984",
    "year",
]
TWO_STEP = {  # coefficient, Windmeijer-corrected SE (Example 4)
    "L1.n": (0.6287089, 0.1934138),
    "L2.n": (-0.0651882, 0.0450501),
    "w": (-0.5257597, 0.1546107),
    "L1.w": (0.3112899, 0.2030006),
    "k": (0.2783619, 0.0728019),
    "L1.k": (0.0140994, 0.0924575),
    "L2.k": (-0.0402484, 0.0432745),
    "ys": (0.5919243, 0.1730916),
    "L1.ys": (-0.5659863, 0.2611008),
    "L2.ys": (0.1005433, 0.1610987),
    "yr1980": (0.0006378, 0.0168042),
    "yr1981": (-0.0550044, 0.0313389),
    "yr1982": (-0.075978, 0.0419276),
    "yr1983": (-0.0740708, 0.0528381),
    "yr1984": (-0.0906606, 0.0642615),
    "year": (0.0112155, 0.0116783),
}


@pytest.fixture(scope="module")
def abdata():
    data = pd.read_csv(ABDATA)
    data["id"], data["year"] = data["id"].astype(int), data["year"].astype(int)
    for variable, ks in (("w", (1,)), ("k", (1, 2)), ("ys", (1, 2))):
        for k in ks:
            data[f"L{k}.{variable}"] = cts.lag(data, variable, k, entity="id", time="year")
    return data


def test_reference_file_is_the_published_one():
    digest = hashlib.sha256(ABDATA.read_bytes()).hexdigest()
    assert digest == "b759f00b695b2b94f07e8e9dbcbf9aa119c0beda4d3810e9c17e5ee7572c6a9c"


def test_two_step_windmeijer_reproduces_xtabond(abdata):
    result = difference_gmm(abdata, "n", X, "id", "year", lags=2, steps=2)
    assert (result.n_obs, result.n_entities, result.n_instruments) == (611, 140, 41)
    published = pd.DataFrame(TWO_STEP, index=["estimate", "se"]).T
    np.testing.assert_allclose(result.estimates[published.index], published["estimate"], atol=2e-6)
    np.testing.assert_allclose(result.se[published.index], published["se"], atol=2e-6)
    assert result.hansen == pytest.approx(31.381, abs=5e-4)
    assert result.hansen_df == 25
    # AR(1) in differences is expected, AR(2) must not be there (AB 1991's conclusion).
    assert result.ar1_p < 0.05 < result.ar2_p


def test_one_step_robust_reproduces_arellano_bond_table_4(abdata):
    result = difference_gmm(abdata, "n", X, "id", "year", lags=2, steps=1)
    assert result.estimates["L1.n"] == pytest.approx(0.6862261, abs=2e-6)
    assert result.se["L1.n"] == pytest.approx(0.1445943, abs=2e-6)


def test_collapsed_instruments_just_identified_equal_linearmodels_iv(abdata):
    """Collapsed lags 2-3 give as many instruments as parameters, so GMM is plain IV: it must
    equal linearmodels' IV2SLS on the differenced data with zero-filled level instruments."""
    from linearmodels.iv import IV2SLS

    result = difference_gmm(abdata, "n", X, "id", "year", lags=2, collapse=True, max_lag=3)
    assert result.n_instruments == 2 + len(X) == len(result.estimates)

    def diff(column):
        return abdata[column] - cts.lag(
            abdata.assign(v=abdata[column]), "v", entity="id", time="year"
        )

    frame = pd.DataFrame({"dn": diff("n"), **{f"d{c}": diff(c) for c in X}})
    for k in (1, 2):
        lagged = abdata.assign(n_lag=cts.lag(abdata, "n", k, entity="id", time="year"))
        frame[f"dL{k}.n"] = lagged["n_lag"] - cts.lag(lagged, "n_lag", entity="id", time="year")
    frame = frame.dropna()
    for k in (2, 3):
        frame[f"n_lag{k}"] = cts.lag(abdata, "n", k, entity="id", time="year")[frame.index]
    frame = frame.fillna(0.0)
    iv = IV2SLS(
        frame["dn"],
        frame[[f"d{c}" for c in X]],
        frame[["dL1.n", "dL2.n"]],
        frame[["n_lag2", "n_lag3"]],
    ).fit(cov_type="unadjusted")
    assert len(frame) == result.n_obs
    assert result.estimates["L1.n"] == pytest.approx(iv.params["dL1.n"], abs=1e-8)
    assert result.estimates["w"] == pytest.approx(iv.params["dw"], abs=1e-8)
    # Weakly identified on this short panel: the lag-depth choice matters, as Roodman warns.
    assert result.se["L1.n"] > 3 * TWO_STEP["L1.n"][1]


def test_bad_arguments(abdata):
    with pytest.raises(ValueError, match="steps must be 1 or 2"):
        difference_gmm(abdata, "n", X, "id", "year", steps=3)
    with pytest.raises(cts.PanelError, match="`wage_bill`"):
        difference_gmm(abdata, "n", ["wage_bill"], "id", "year")


def test_more_instruments_than_entities_is_refused():
    """100 teams x 104 weeks: ~100 period dummies plus lag instruments exceed the teams, where
    the two-step weight matrix is singular; the error says so instead of returning nonsense."""
    sim = cts.simulate_org(100, 104, seed=1)
    with pytest.warns(cts.PanelWarning):
        panel = cts.load_panel(sim.panel)
    with pytest.raises(ValueError, match=r"more entities \(100\) than instruments"):
        cts.estimate_adoption_effect(panel, method="gmm")
    short = cts.estimate_adoption_effect(
        panel, method="gmm", end=panel["week"].min() + pd.Timedelta(weeks=52)
    )
    assert np.isfinite(short.table["se"]).all()
