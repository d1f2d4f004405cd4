import hashlib
import warnings

import numpy as np
import pandas as pd
import pytest

import cts
from cts import PanelError, PanelWarning, lag, load_panel


@pytest.fixture(scope="module")
def sim():
    return cts.simulate_org(n_teams=40, n_weeks=30, seed=3)


def _quiet_load(source, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PanelWarning)
        return load_panel(source, **kwargs)


def _tiny(**overrides) -> pd.DataFrame:
    """Two teams, three weeks each, every count valid."""
    rows = []
    for team in ("team-a", "team-b"):
        for week in pd.date_range("2025-01-06", periods=3, freq="7D"):
            rows.append(
                {
                    "team_id": team,
                    "week": week,
                    "n_builders": 6,
                    "crs_merged": 12,
                    "deployments": 4,
                    "rollbacks": 1,
                    "manual_interventions": 2,
                    "pages": 3,
                    "oncall_builders": 1,
                    "ai_active_builders": 3,
                }
            )
    frame = pd.DataFrame(rows)
    for column, value in overrides.items():
        frame[column] = value
    return frame


# --- round trips ---------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_round_trip_through_files_is_unchanged(sim, tmp_path, suffix):
    path = cts.write_panel(sim.panel, tmp_path / f"panel{suffix}")
    from_file = _quiet_load(path)
    from_frame = _quiet_load(sim.panel)
    pd.testing.assert_frame_equal(from_file, from_frame)
    # The schema columns come back exactly as simulated (dtypes included).
    expected = sim.panel.sort_values(["team_id", "week"], ignore_index=True)
    pd.testing.assert_frame_equal(from_file[list(sim.panel.columns)], expected)


def test_input_file_and_frame_are_never_modified(sim, tmp_path):
    path = cts.write_panel(sim.panel.sample(frac=1, random_state=0), tmp_path / "p.csv")
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    shuffled = sim.panel.sample(frac=1, random_state=1)
    copy = shuffled.copy()
    _quiet_load(path)
    _quiet_load(shuffled)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before
    pd.testing.assert_frame_equal(shuffled, copy)


def test_output_is_sorted_typed_and_has_derived_rates():
    frame = _tiny().iloc[::-1]
    frame.loc[frame.index[0], ["deployments", "rollbacks", "manual_interventions"]] = 0
    panel = load_panel(frame)
    assert list(panel.index) == list(range(len(panel)))
    assert panel[["team_id", "week"]].equals(
        panel[["team_id", "week"]].sort_values(["team_id", "week"], ignore_index=True)
    )
    assert panel["deployments"].dtype == "int64"
    assert panel["week"].dtype == "datetime64[ns]"
    row = panel.iloc[1]
    assert row["ai_usage_rate"] == pytest.approx(0.5)
    assert row["cr_velocity"] == pytest.approx(2.0)
    assert row["deploy_velocity"] == pytest.approx(4 / 6)
    assert row["rollback_rate"] == pytest.approx(0.25)
    assert row["interventions_per_deploy"] == pytest.approx(0.5)
    assert row["pages_per_oncall"] == pytest.approx(3.0)
    # A week without deployments: rates per deployment are 0, not NaN or infinite.
    zero = panel.loc[panel["deployments"] == 0].iloc[0]
    assert zero["rollback_rate"] == 0 and zero["interventions_per_deploy"] == 0


def test_zero_denominator_floors_at_one():
    panel = load_panel(_tiny(deployments=0, rollbacks=2, oncall_builders=0, pages=5))
    assert (panel["rollback_rate"] == 2).all()
    assert (panel["pages_per_oncall"] == 5).all()
    assert np.isfinite(panel[list(cts.DERIVED_COLUMNS)].to_numpy()).all()


def test_team_ids_keep_leading_zeros_from_csv(tmp_path):
    path = tmp_path / "p.csv"
    _tiny(team_id="0042").iloc[:3].to_csv(path, index=False)
    assert load_panel(path)["team_id"].unique().tolist() == ["0042"]


# --- bad input -----------------------------------------------------------------------------------


def _with(column, value, row=0):
    def mutate(frame):
        frame[column] = frame[column].astype(object)
        frame.loc[row, column] = value
        return frame

    return mutate


BAD_INPUTS = {
    "duplicate team-week": (lambda f: pd.concat([f, f.iloc[[1]]]), "duplicate (team_id, week)"),
    "week not a Monday": (_with("week", pd.Timestamp("2025-01-07")), "`week`"),
    "week with a time of day": (_with("week", pd.Timestamp("2025-01-06 09:00")), "Monday"),
    "unparseable week": (_with("week", "next tuesday"), "not dates"),
    "negative count": (_with("deployments", -3), "`deployments` has negative values"),
    "non-integer count": (_with("crs_merged", 2.5), "`crs_merged` has non-integer"),
    "text in a count": (_with("pages", "many"), "`pages` has values that are not numbers"),
    "no builders": (_with("n_builders", 0), "`n_builders` has values below 1"),
    "usage above team size": (
        _with("ai_active_builders", 7),
        "`ai_active_builders` has values above",
    ),
    "on call above team size": (_with("oncall_builders", 9), "`oncall_builders` has values above"),
    "missing column": (lambda f: f.drop(columns="rollbacks"), "missing: `rollbacks`"),
    "NaN in a required column": (
        _with("manual_interventions", np.nan),
        "`manual_interventions` has missing",
    ),
    "NaN team id": (_with("team_id", None), "`team_id` has missing"),
    "unknown architecture": (lambda f: f.assign(architecture="microkernel"), "`architecture`"),
    "non-positive cost": (lambda f: f.assign(cost_per_builder_week=0.0), "`cost_per_builder_week`"),
    "e-mail values": (lambda f: f.assign(owner="ada@example.com"), "`owner` has e-mail"),
    "a tool above the union": (
        lambda f: f.assign(ai_active_builders_copilot=4),
        "`ai_active_builders_copilot` has values above `ai_active_builders` (the union",
    ),
    "a tool above team size": (
        lambda f: f.assign(ai_active_builders=6, ai_active_builders_cursor=7),
        "`ai_active_builders_cursor` has values above `n_builders`",
    ),
    "agent CRs above CRs": (
        lambda f: f.assign(agent_crs=13),
        "`agent_crs` has values above `crs_merged` in 6 rows",
    ),
    "negative seats": (lambda f: f.assign(ai_seats_q=-1), "`ai_seats_q` has negative values"),
    "fractional lines": (lambda f: f.assign(lines_changed=2.5), "`lines_changed` has non-integer"),
    "unknown tool": (
        lambda f: f.assign(ai_active_builders_windsurf=1),
        "`ai_active_builders_windsurf` name no known AI tool",
    ),
}


@pytest.mark.parametrize("case", BAD_INPUTS, ids=list(BAD_INPUTS))
def test_bad_input_raises_panel_error_naming_the_column(case):
    mutate, expected = BAD_INPUTS[case]
    frame = mutate(_tiny())
    with pytest.raises(PanelError, match=None) as error:
        load_panel(frame)
    assert expected in str(error.value)
    assert isinstance(error.value, ValueError)


@pytest.mark.parametrize(
    "column", ["developer_id", "user_id", "login", "email", "author", "Author_Email", "committer"]
)
def test_columns_identifying_individuals_are_refused(column):
    with pytest.raises(PanelError, match=f"`{column}` identify individuals"):
        load_panel(_tiny(**{column: "x"}))


def test_messages_show_at_most_five_rows_and_all_problems_at_once():
    frame = _tiny(deployments=-1)
    frame.loc[0, "week"] = "2025-01-08"
    with pytest.raises(PanelError) as error:
        load_panel(frame)
    problems = error.value.problems
    assert len(problems) == 2
    negative = next(p for p in problems if "deployments" in p)
    assert "in 6 rows" in negative
    assert len(negative.splitlines()) == 1 + 1 + 5  # message, header, five rows


def test_file_errors(tmp_path):
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "header.csv").write_text(",".join(cts.REQUIRED_COLUMNS) + "\n")
    (tmp_path / "panel.xlsx").write_bytes(b"PK")
    (tmp_path / "broken.parquet").write_bytes(b"not parquet")
    with pytest.raises(PanelError, match="is empty"):
        load_panel(tmp_path / "empty.csv")
    with pytest.raises(PanelError, match="has no rows"):
        load_panel(tmp_path / "header.csv")
    with pytest.raises(PanelError, match="unknown file type '.xlsx'"):
        load_panel(tmp_path / "panel.xlsx")
    with pytest.raises(PanelError, match="cannot read"):
        load_panel(tmp_path / "broken.parquet")
    with pytest.raises(PanelError, match="no panel file"):
        load_panel(tmp_path / "missing.csv")
    with pytest.raises(PanelError, match="not list"):
        load_panel([1, 2])


def test_optional_counts_may_be_missing():
    frame = _tiny(commits_shipped=5.0)
    frame.loc[0, "commits_shipped"] = np.nan
    panel = load_panel(frame)
    assert panel["commits_shipped"].isna().sum() == 1


def test_source_columns_load_typed_and_tidy_puts_them_in_contract_order():
    frame = _tiny(lines_changed=120.0, agent_crs=2, ai_seats_copilot=6)
    frame["ai_active_builders_claude_code"] = 1
    frame["ai_active_builders_copilot"] = 3  # equal to the union: allowed
    frame.loc[1, "lines_changed"] = np.nan  # a week with a CR of unknown size
    panel = load_panel(frame)
    assert panel["agent_crs"].dtype == "int64" and panel["ai_seats_copilot"].tolist() == [6] * 6
    assert panel["lines_changed"].isna().sum() == 1 and panel["lines_changed"].sum() == 600
    assert panel["ai_active_builders_claude_code"].dtype == "int64"
    ordered = cts.panel.tidy_panel(frame).columns
    tools = [c for c in ordered if c.startswith("ai_active_builders_")]
    assert tools == ["ai_active_builders_copilot", "ai_active_builders_claude_code"]
    assert "ai_active_builders_copilot" not in cts.simulate_org(2, 3).panel


def test_per_tool_headcounts_take_the_largest_day_and_sizes_sum():
    days = pd.date_range("2025-01-06", periods=7, freq="D")
    daily = _tiny().iloc[:1].loc[[0] * 7].reset_index(drop=True).drop(columns="week")
    daily = daily.assign(day=days, ai_active_builders_q=[0, 1, 2, 1, 0, 0, 0], lines_changed=10)
    weekly = cts.to_weekly(daily)
    assert weekly["ai_active_builders_q"].tolist() == [2]
    assert weekly["lines_changed"].tolist() == [70]


# --- small teams ---------------------------------------------------------------------------------


def test_small_teams_warn_and_are_suppressed():
    frame = _tiny()
    frame.loc[frame["team_id"] == "team-a", ["n_builders", "ai_active_builders"]] = [3, 1]
    with pytest.warns(
        PanelWarning, match="1 team\\(s\\) have 3 team-week\\(s\\) with fewer than 5"
    ):
        panel = load_panel(frame)
    kept = cts.suppress_small_teams(panel)
    assert kept["team_id"].unique().tolist() == ["team-b"]
    assert len(cts.suppress_small_teams(panel, min_team_size=2)) == 6


def test_no_warning_when_every_team_is_large_enough():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_panel(_tiny(), min_team_size=6)


# --- lags ----------------------------------------------------------------------------------------


def test_lag_is_by_calendar_week_and_gaps_give_nan():
    frame = _tiny().drop(index=1)  # team-a loses its second week: weeks 1, 3 remain
    frame["crs_merged"] = [10, 30, 40, 50, 60]
    panel = load_panel(frame)
    lagged = lag(panel, "crs_merged")
    assert lagged.name == "crs_merged_lag1"
    # team-a week 3 follows a gap: NaN, not week 1's value. team-b has no gap.
    assert lagged.isna().tolist() == [True, True, True, False, False]
    assert lagged.iloc[3:].tolist() == [40, 50]
    # Two-week lag reaches across the gap to a real calendar week.
    assert lag(panel, "crs_merged", 2).tolist()[:2] == [pytest.approx(np.nan, nan_ok=True), 10]
    # A lead looks forward; nothing crosses from one team to another.
    assert lag(panel, "crs_merged", -1).tolist()[2:] == [50, 60, pytest.approx(np.nan, nan_ok=True)]


def test_lag_on_integer_time_and_unsorted_rows():
    data = pd.DataFrame(
        {"firm": [2, 1, 1, 1], "year": [1980, 1982, 1980, 1981], "n": [9.0, 3.0, 1.0, 2.0]}
    )
    out = lag(data, "n", entity="firm", time="year")
    assert out.index.equals(data.index)
    assert out.tolist()[1:3] == [2.0, pytest.approx(np.nan, nan_ok=True)]
    assert np.isnan(out.iloc[0])


def test_lag_refuses_duplicate_keys():
    with pytest.raises(PanelError, match="not unique"):
        lag(pd.concat([_tiny(), _tiny()]), "pages")


# --- messages that say what to do (and fixes where the intent is unambiguous) --------------------


def _csv(frame: pd.DataFrame, tmp_path, name="p.csv"):
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


@pytest.mark.parametrize(
    "text",
    ["2025-01-06 00:00:00 UTC", "2025-01-06T00:00:00.000Z", "2025-01-06T03:00:00+02:00"],
)
def test_time_zoned_weeks_are_utc_then_the_date(tmp_path, text):
    frame = _tiny()
    frame["week"] = frame["week"].dt.strftime("%Y-%m-%d") + text[10:]
    expected = load_panel(_tiny())["week"]
    pd.testing.assert_series_equal(load_panel(_csv(frame, tmp_path))["week"], expected)
    zoned = _tiny()
    zoned["week"] = zoned["week"].dt.tz_localize("America/New_York")  # 05:00 UTC, same date
    pd.testing.assert_series_equal(load_panel(zoned)["week"], expected)


def test_iso_week_strings_are_their_monday(tmp_path):
    frame = _tiny()
    frame["week"] = frame["week"].dt.strftime("%G-W%V")
    assert frame["week"].iloc[0] == "2025-W02"
    loaded = load_panel(_csv(frame, tmp_path))
    pd.testing.assert_series_equal(loaded["week"], load_panel(_tiny())["week"])


def test_sunday_weeks_are_named_and_read_with_week_start(tmp_path):
    frame = _tiny()
    frame["week"] = frame["week"] - pd.Timedelta(days=1)
    with pytest.raises(PanelError, match="All 6 rows are Sundays") as error:
        load_panel(frame)
    assert "week_start='sunday'" in str(error.value)
    loaded = load_panel(frame, week_start="sunday")
    pd.testing.assert_series_equal(loaded["week"], load_panel(_tiny())["week"])
    with pytest.raises(PanelError, match="not a Sunday"):
        load_panel(_tiny(), week_start="sunday")
    with pytest.raises(ValueError, match="week_start"):
        load_panel(_tiny(), week_start="friday")


def test_daily_rows_point_to_to_weekly_which_aggregates_them():
    days = []
    for team in ("team-a", "team-b"):
        for date in pd.date_range("2025-01-06", periods=21, freq="D"):
            days.append(
                {
                    "team_id": team,
                    "day": date,
                    "n_builders": 6 + date.day_of_week % 2,
                    "crs_merged": 2,
                    "deployments": 1,
                    "rollbacks": 0,
                    "manual_interventions": 1,
                    "pages": 0,
                    "oncall_builders": 1,
                    "ai_active_builders": 3,
                }
            )
    daily = pd.DataFrame(days)
    with pytest.raises(PanelError, match="look daily") as error:
        load_panel(daily.rename(columns={"day": "week"}))
    assert "cts.panel.to_weekly(daily)" in str(error.value)
    weekly = cts.to_weekly(daily)
    panel = load_panel(weekly)
    assert len(panel) == 6 and (panel["crs_merged"] == 14).all()
    assert (panel["n_builders"] == 7).all() and (panel["deployments"] == 7).all()
    assert list(panel["week"].drop_duplicates()) == list(
        pd.date_range("2025-01-06", periods=3, freq="7D")
    )


def test_close_column_names_are_suggested():
    frame = _tiny().rename(columns={"team_id": "TeamId", "n_builders": "N Builders"})
    with pytest.raises(PanelError, match="missing: `team_id`, `n_builders`") as error:
        load_panel(frame)
    assert "df.rename(columns={'TeamId': 'team_id', 'N Builders': 'n_builders'})" in str(
        error.value
    )


def test_architecture_ignores_case_and_spaces():
    frame = _tiny(architecture=["Trunk", " SERVICE"] * 3)
    assert set(load_panel(frame)["architecture"]) == {"trunk", "service"}


def test_org_is_a_team_constant_label():
    panel = load_panel(_tiny(org=["north"] * 3 + [7] * 3))
    assert panel.groupby("team_id")["org"].first().to_dict() == {"team-a": "north", "team-b": "7"}
    moved = r"`org` changes within 1 team\(s\) \(team-b: 'b', 'c'\)"
    with pytest.raises(PanelError, match=moved):
        load_panel(_tiny(org=["a", "a", "a", "b", "b", "c"]))
    missing = r"column `org` has missing values \(every team belongs to an org\) in 1 row"
    with pytest.raises(PanelError, match=missing):
        load_panel(_tiny(org=["a", "a", None, "b", "b", "b"]))


@pytest.mark.parametrize(
    ("fmt", "reading"), [("%d/%m/%Y", "day-first"), ("%m/%d/%Y", "month-first")]
)
def test_slashed_dates_are_refused_whole_with_the_reading_that_gives_mondays(
    tmp_path, fmt, reading
):
    frame = _tiny()
    frame["week"] = frame["week"].dt.strftime(fmt)  # 06/01/2025 or 01/06/2025 ...
    with pytest.raises(PanelError, match="reads both day-first and month-first") as error:
        load_panel(_csv(frame, tmp_path))
    message = str(error.value)
    assert f"read {reading}, every one is a Monday" in message
    assert "not dates" not in message  # one message for the column, not a partial parse


def test_team_ids_are_the_text_written_never_floats(tmp_path):
    frame = _tiny()
    frame["team_id"] = [1.0, 1.0, 1.0, 2.0, 2.0, 2.0]
    assert load_panel(frame)["team_id"].unique().tolist() == ["1", "2"]
    path = tmp_path / "ids.csv"
    _tiny(team_id=["1", "1", "1", "007", "007", "007"]).to_csv(path, index=False)
    assert load_panel(path)["team_id"].unique().tolist() == ["007", "1"]
