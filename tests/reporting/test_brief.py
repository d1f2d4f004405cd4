"""The brief's credibility checks: each status at its boundary, in one sentence."""

import pandas as pd
import pytest

from cts.reporting.brief import (
    Check,
    exogeneity_check,
    few_teams_check,
    pretrend_check,
    sections_check,
)


@pytest.mark.parametrize(
    ("p", "status"), [(0.049, "red"), (0.05, "amber"), (0.099, "amber"), (0.10, "green")]
)
def test_pretrend_status_follows_the_p_value(p, status):
    check = pretrend_check(p, 11)
    assert check.status == status
    assert f"p = {p:.3f}" in check.sentence and "11 pre-adoption weeks" in check.sentence


def test_pretrend_without_pre_adoption_weeks_is_unchecked_not_green():
    assert pretrend_check(float("nan"), 0).status == "amber"


def _exogeneity(p_values, flagged):
    index = ["rollback_rate responds to usage", "lead placebo"]
    return pd.DataFrame({"p_value": p_values, "flagged": flagged}, index=index)


def test_exogeneity_red_when_flagged_amber_when_only_unadjusted():
    red = exogeneity_check(_exogeneity([0.001, 0.6], [True, False]))
    assert red.status == "red" and "1 of 2 checks failed: rollback_rate" in red.sentence
    amber = exogeneity_check(_exogeneity([0.03, 0.6], [False, False]))
    assert amber.status == "amber" and "before the multiple-testing" in amber.sentence
    assert exogeneity_check(_exogeneity([0.3, 0.6], [False, False])).status == "green"


def _inference(bounds):
    index = pd.MultiIndex.from_product(
        [["cluster", "wild_bootstrap", "randomization"], ["short_run", "long_run"]],
        names=["inference", "term"],
    )
    rows = [bound for bound in bounds for _ in range(2)]
    return pd.DataFrame(rows, index=index, columns=["ci_low", "ci_high"])


def test_few_teams_green_only_when_every_method_excludes_zero():
    agree = few_teams_check(_inference([(0.2, 0.4), (0.1, 0.5), (0.05, 0.6)]), 30)
    assert agree.status == "green" and "On 30 teams" in agree.sentence
    split = few_teams_check(_inference([(0.2, 0.4), (-0.1, 0.5), (0.05, 0.6)]), 12)
    assert split.status == "amber" and "wild bootstrap cannot exclude zero" in split.sentence
    none = few_teams_check(_inference([(-0.2, 0.4), (-0.1, 0.5), (-0.05, 0.6)]), 8)
    assert none.status == "amber" and "no method" in none.sentence


def test_sections_red_for_a_failed_report_amber_for_a_left_out_section():
    assert sections_check({}, ["Drivers"]).status == "red"
    amber = sections_check({"Robustness": ["Power"], "Impact": []}, [])
    assert amber.status == "amber" and "Power (Robustness)" in amber.sentence
    assert sections_check({"Impact": []}, []).status == "green"


def test_a_check_has_one_of_three_statuses():
    with pytest.raises(ValueError, match="green, amber, red"):
        Check("x", "blue", "y")


def test_checks_name_their_outcome():
    assert (
        pretrend_check(0.3, 4, outcome="cr_velocity").name == "Trends before adoption (cr_velocity)"
    )
    table = _exogeneity([0.3, 0.6], [False, False])
    assert exogeneity_check(table, outcome="x").name.endswith("(x)")


def test_a_pretrend_rejection_explained_by_the_ramp_is_amber_and_says_so():
    check = pretrend_check(0.001, 11, outcome="cr_velocity", explained_by_ramp=True)
    assert check.status == "amber" and "ramp up usage" in check.sentence
    assert pretrend_check(0.001, 11).status == "red"
    refused = pretrend_check(float("nan"), 11, note="8 teams support at most 7 restrictions")
    assert refused.status == "amber" and "8 teams support at most 7" in refused.sentence
