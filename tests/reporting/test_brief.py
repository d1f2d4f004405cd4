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
    ("p", "status", "said"),
    [
        (0.0004, "red", "p < 0.001"),
        (0.049, "red", "p = 0.049"),
        (0.05, "amber", "p = 0.050"),
        (0.099, "amber", "p = 0.099"),
        (0.10, "green", "p = 0.10"),
        (0.995, "green", "p > 0.99"),
    ],
)
def test_pretrend_status_follows_the_p_value(p, status, said):
    check = pretrend_check(p, 11)
    assert check.status == status
    assert f"pre-adoption weeks, {said})" in check.sentence
    assert "11 pre-adoption weeks" in check.sentence


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
    named = pretrend_check(0.3, 4, outcome="cr_velocity").name
    assert named == "Trends before adoption (CRs merged per builder-week)"
    table = _exogeneity([0.3, 0.6], [False, False])
    assert exogeneity_check(table, outcome="x").name.endswith("(x)")


def test_a_pretrend_rejection_explained_by_the_ramp_is_amber_and_says_so():
    check = pretrend_check(0.001, 11, outcome="cr_velocity", explained_by_ramp=True)
    assert check.status == "amber" and "ramp up usage" in check.sentence
    assert pretrend_check(0.001, 11).status == "red"
    refused = pretrend_check(float("nan"), 11, note="8 teams support at most 7 restrictions")
    assert refused.status == "amber" and "8 teams support at most 7" in refused.sentence


def _run(cards, name="05_impact"):
    from cts.reporting.builder import Analysis, AnalysisRun

    return AnalysisRun(
        Analysis(name, f"{name}.ipynb", "What adoption is worth"), True, 1.0, cards=cards
    )


def test_published_cards_replace_the_plain_figures_and_every_string_is_escaped(tmp_path):
    from cts.reporting.brief import brief_html

    card = {
        "title": "Net return <script>",
        "big": "USD 1 <b>million</b> a year",
        "big_label": "net & more",
        "rows": [["licence <i>spend</i>", "USD 5 <x>"]],
        "checks": [{"name": "Change <failure>", "status": "red", "sentence": "worse & <b>"}],
        "notes": ["capacity, not <cash>"],
    }
    panel = tmp_path / "panel.csv"
    panel.write_text("x")
    page = brief_html([_run([card])], panel, "0" * 64)
    for text in ("<script>", "<b>million</b>", "<i>spend</i>", "<x>", "<failure>", "<cash>"):
        assert text not in page, text
    assert "Net return &lt;script&gt;" in page and "capacity, not &lt;cash&gt;" in page
    assert '<li class="check red">' in page
    assert "What the AI assistant is worth" not in page  # the card stands in its place
    assert "Simulated data" not in page
    (tmp_path / "panel.truth.json").write_text("{}")
    assert "Simulated data" in brief_html([_run([card])], panel, "0" * 64)
    assert "What the AI assistant is worth" in brief_html([_run([])], panel, "0" * 64)


def test_seat_prices_from_the_command_line(capsys):
    from cts.cli import main, tool_prices

    assert tool_prices("copilot=19, cursor=40") == {"copilot": 19.0, "cursor": 40.0}
    with pytest.raises(SystemExit) as stopped:
        main(["report", "--seat-cost", "copilot"])
    assert stopped.value.code == 2
    assert "write e.g. copilot=19,cursor=40" in capsys.readouterr().err
