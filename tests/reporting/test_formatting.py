"""Numbers and tables as a reader sees them."""

import math

import pandas as pd
import pytest

from cts.reporting import formatting as fmt


@pytest.mark.parametrize(
    ("p", "shown"),
    [
        (0.0, "< 0.001"),
        (0.000_4, "< 0.001"),
        (0.004_2, "0.004"),
        (0.049_4, "0.049"),
        (0.223_792, "0.22"),
        (0.05, "0.050"),
        (1.0, "> 0.99"),
        (math.nan, "—"),
    ],
)
def test_p_values_read_as_a_reader_expects(p, shown):
    assert fmt.format_p(p) == shown


def test_p_phrase_says_equal_or_bound():
    assert fmt.p_phrase(0.0) == "p < 0.001" and fmt.p_phrase(0.3, "Holm p") == "Holm p = 0.30"


def test_numbers_money_and_shares_are_rounded_with_units():
    assert fmt.format_number(2.890_96) == "2.89"
    assert fmt.format_number(0.012_345) == "0.0123"
    assert fmt.format_number(12_345.6) == "12,346"
    assert fmt.format_signed(0.0123) == "+0.012" and fmt.format_signed(-1.25) == "-1.250"
    assert fmt.format_money(1234.4, "EUR") == "EUR 1,230"
    assert fmt.format_money(3_662_960, "USD") == "USD 3.66 million"
    assert fmt.format_percent(1.0) == "100%" and fmt.format_percent(0.998) == "> 99%"
    assert fmt.format_percent(0.003) == "< 1%" and fmt.format_percent(0.25) == "25%"


def test_html_table_labels_formats_and_escapes():
    frame = pd.DataFrame(
        {"group": ["<script>x</script>", "b"], "p_value": [0.0, 0.3], "cost": [1500.0, 20.0]},
        index=pd.RangeIndex(2),
    )
    shown = fmt.html_table(
        frame, {"group": "group", "p_value": "p", "cost": "cost"}, {"cost": "money:USD"}
    )
    assert "<script>" not in shown and "&lt;script&gt;" in shown
    assert "< 0.001" not in shown and "&lt; 0.001" in shown and ">0.30<" in shown
    assert "USD 1,500" in shown and "USD 20.0" in shown
    assert "<th>0</th>" not in shown and ">0<" not in shown  # no RangeIndex
    indexed = fmt.html_table(frame.set_index("group"), {"cost": "cost"}, index="team group")
    assert "<th>team group</th><th>cost</th>" in indexed


def test_results_read_in_plain_words_with_their_table():
    import cts

    panel = cts.load_panel(cts.simulate_org(30, 40, seed=3).panel, min_team_size=1)
    effect = cts.estimate_adoption_effect(panel, method="bias_corrected")
    shown = fmt.result_html(effect)
    assert "cr_velocity" not in shown and "ai_usage_rate" not in shown and "<pre" not in shown
    assert "CRs merged per builder-week" in shown and "<th>term</th>" in shown
    assert "AI-assistant usage" in shown
    assert "long run" in shown and "p = 0.000" not in shown
    assert fmt.plain_words("Holm p = 1.000, p = 0.0001") == "Holm p > 0.99, p < 0.001"


def test_power_says_its_bound_when_every_or_no_panel_detected_it():
    from cts.reporting.formatting import format_power, format_power_grid

    assert format_power(1.0, 0.0, 10) == (
        "100% (all 10 simulated panels detected it: at least 74% with 95% confidence)"
    )
    assert format_power(0.0, 0.0, 20).endswith("at most 14% with 95% confidence)")
    assert format_power(0.3, 0.084, 30) == (
        "30% (Monte Carlo standard error 8 percentage points, 30 simulated panels)"
    )
    note = format_power_grid([10, 20, 20], [0.0, 0.11, 0.08])
    assert note.startswith("Each point: 10 to 20 simulated panels")
    assert "at most 11 percentage points here and 11 whatever the power" in note


def test_side_by_side_tables_share_rows_under_one_header_each():
    import pandas as pd

    from cts.reporting.formatting import html_table, side_by_side

    left = pd.DataFrame({"estimate": [0.1, 0.2], "p": [0.5, 0.01]}, index=[0, 1])
    right = pd.DataFrame({"estimate": [0.3], "p": [0.2]}, index=[1])
    frame, groups = side_by_side({"CRs <b>": left, "deploys": right}, ["estimate"])
    assert list(frame.columns) == ["CRs <b>|estimate", "deploys|estimate"]
    assert frame["deploys|estimate"].isna().tolist() == [True, False]
    shown = html_table(
        frame,
        {"CRs <b>|estimate": "effect", "deploys|estimate": "effect"},
        index="week",
        groups=groups,
    )
    assert (
        '<thead><tr class="cts-groups"><th></th><th>CRs &lt;b&gt;</th><th>deploys</th></tr>'
        "<tr><th>week</th>"
    ) in shown
    wide = html_table(
        pd.DataFrame({"a": [1], "b": [2], "c": [3]}),
        {"a": "a", "b": "b", "c": "c"},
        groups={"first two": ["a", "b"]},
    )
    assert '<th colspan="2">first two</th><th></th></tr>' in wide
