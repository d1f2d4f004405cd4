"""One table of the reports' effect estimates (cts.reconcile_estimates)."""

import pandas as pd
import pytest

import cts
from cts.analyses.reconcile import RECONCILIATION_COLUMNS
from cts.core.results import ESTIMATE_COLUMNS


@pytest.fixture(scope="module")
def reconciled(medium_org):
    sim, panel = medium_org
    effect = cts.estimate_adoption_effect(panel, "cr_velocity")
    return sim, effect, cts.reconcile_estimates(panel, "cr_velocity", effect=effect)


def test_every_estimate_the_reports_show_with_its_meaning(reconciled):
    sim, effect, result = reconciled
    table = result.table
    assert list(table.columns) == [*ESTIMATE_COLUMNS, *RECONCILIATION_COLUMNS]
    names = list(table.index)
    money = "extra crs a week, last 13 weeks"
    assert names[:8] == [
        "pooled short_run",
        "pooled long_run",
        "event study att (threshold 50%)",
        "counterfactual short_run",
        "counterfactual long_run",
        "counterfactual att",
        "total_extra_crs",
        money,
    ]
    assert all(name.startswith("counterfactual short_run, cohort ") for name in names[8:])
    assert len(names) > 8  # 80 weeks: several adoption quarters
    # each row is the estimate the report shows, not a recomputation
    pooled = effect.table if effect.headline == "pooled" else effect.alternative
    assert table.loc["pooled long_run", "estimate"] == pooled.loc["long_run", "estimate"]
    cf = effect.counterfactual.table
    assert table.loc["counterfactual att", "ci_low"] == cf.loc["att", "ci_low"]
    # against the simulator's truth (one panel: within 3 SEs)
    truth = sim.truth["cr_velocity"]
    for name, term, se in (
        ("pooled short_run", "short_run", pooled.loc["short_run", "se"]),
        ("counterfactual att", "att", cf.loc["att", "se"]),
        ("total_extra_crs", "extra_units", cf.loc["total_extra_crs", "se"]),
    ):
        assert abs(table.loc[name, "estimate"] - truth[term]) < 3 * se, name
    # the event study's effect per adoption at partial usage, carry-over included, lies above
    # the same-week effect of full usage and below the settled one
    study = table.loc["event study att (threshold 50%)", "estimate"]
    assert truth["short_run"] < study < truth["long_run"]
    # one estimate carries the money, and the texts say what each is
    assert list(table.index[table["money"].str.startswith("yes")]) == [money]
    weekly = effect.counterfactual.weekly["extra_units"]
    assert table.loc[money, "estimate"] == pytest.approx(weekly.iloc[-13:].mean())
    assert table.loc[money, "ci_low"] < table.loc[money, "estimate"] < table.loc[money, "ci_high"]
    assert (table[list(RECONCILIATION_COLUMNS)] != "").all(axis=None)
    assert "headline" in table.loc["pooled short_run", "report"]
    assert result.headline.startswith(effect.headline)


def test_html_escapes_every_string():
    hostile = "<script>alert(1)</script>"
    row = {"estimate": 0.3, "ci_low": 0.2, "ci_high": 0.4}
    row.update({c: hostile for c in RECONCILIATION_COLUMNS})
    table = pd.DataFrame([row], index=pd.Index([hostile], name="estimate_name"))
    result = cts.Reconciliation(table=table, outcome=hostile, headline=hostile, notes=[hostile])
    page = result.to_html()
    assert "<script>" not in page and page.count("&lt;script&gt;") == 2 + 1 + 1 + 8
    assert "+0.3" in page and result._repr_html_() == page
