"""build_panel: event logs -> the team-week panel, on DuckDB and Spark."""

import importlib.util
import os
import shutil
import subprocess
import sys

import pandas as pd
import pytest
from conftest import quiet_load

import cts
from cts.sources.build import TABLES, EventError, build_panel


@pytest.fixture(scope="module")
def sim():
    """60 teams x 40 weeks: late starters, early enders, gaps, size changes, monolith releases."""
    return cts.simulate_org(60, 40, seed=11)


@pytest.fixture(scope="module")
def events(sim):
    return sim.events


def _expected(sim):
    return sim.panel.sort_values(["team_id", "week"], ignore_index=True)


def write_events(events, folder, fmt="parquet"):
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in events.items():
        if fmt == "parquet":
            frame.to_parquet(folder / f"{name}.parquet", index=False)
        else:
            frame.to_csv(folder / f"{name}.csv", index=False)
    return folder


def test_duckdb_reproduces_the_simulated_panel_exactly(sim, events):
    expected = _expected(sim)
    assert expected["team_id"].nunique() == 60 and len(events["outages"]) > 0
    pd.testing.assert_frame_equal(build_panel(events), expected)


def test_the_org_column_comes_back_from_the_teams_table():
    sim = cts.simulate_org(30, 30, seed=2, orgs=3)
    assert "org" in sim.events["teams"]
    pd.testing.assert_frame_equal(build_panel(sim.events), _expected(sim))


def _spark_available() -> bool:
    return importlib.util.find_spec("pyspark") is not None and shutil.which("java") is not None


@pytest.mark.skipif(
    not _spark_available() and not os.environ.get("CTS_REQUIRE_SPARK"),
    reason="needs pyspark and Java (CI sets CTS_REQUIRE_SPARK=1 and has both)",
)
@pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning")
def test_spark_reproduces_the_simulated_panel_exactly(sim, events, tmp_path):
    """On a session of the caller's (as on a cluster), kept for both builds. Its JVM compiles
    with C1 only and runs two shuffle partitions: settings for a short run on a small panel
    that change how fast Spark runs, not what it computes. The tiny panel's test below runs
    on a session cts starts itself (in the JVM started here, when it runs after this test)."""
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]")
        .appName("cts tests")
        .config("spark.driver.extraJavaOptions", "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    try:
        expected = _expected(sim)
        pd.testing.assert_frame_equal(build_panel(events, engine="spark", spark=session), expected)
        # From files too, as a cluster would read them.
        folder = write_events(events, tmp_path / "events")
        pd.testing.assert_frame_equal(build_panel(folder, engine="spark", spark=session), expected)
    finally:
        session.stop()


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_event_directories_give_the_same_panel(sim, events, tmp_path, fmt):
    folder = write_events(events, tmp_path / fmt, fmt)
    pd.testing.assert_frame_equal(build_panel(folder), _expected(sim))


def test_quiet_weeks_are_zero_rows_and_weeks_off_the_roster_are_absent():
    roster = pd.DataFrame(
        {
            "person_id": ["p1", "p2", "p3"],
            "team_id": ["a", "a", "b"],
            "start_date": pd.to_datetime(["2025-01-06", "2025-01-15", "2025-01-20"]),
            "end_date": pd.to_datetime(["2025-01-26", None, "2025-01-26"]),
        }
    )

    def at(team, *days):
        return pd.DataFrame({"team_id": [team] * len(days), "when": pd.to_datetime(list(days))})

    crs = at("a", "2025-01-07", "2025-01-08", "2025-02-03").rename(columns={"when": "merged_at"})
    deployments = at("b", "2025-01-21").rename(columns={"when": "deployed_at"})
    usage = at("a", "2025-01-16", "2025-01-17").rename(columns={"when": "used_at"})
    usage["person_id"] = ["p2", "p2"]
    events = {
        "roster": roster,
        "code_reviews": crs,
        "deployments": deployments,
        "rollbacks": deployments.rename(columns={"deployed_at": "rolled_back_at"}).iloc[:0],
        "interventions": deployments.rename(columns={"deployed_at": "occurred_at"}).iloc[:0],
        "pages": deployments.rename(columns={"deployed_at": "paged_at"}).iloc[:0],
        "oncall": roster.iloc[:1],
        "ai_usage": usage,
    }
    panel = build_panel(events).set_index(["team_id", "week"])
    quiet_load(panel.reset_index(), min_team_size=1)
    a = panel.loc["a"]
    # Team a: p1 from Jan 6 to 26, p2 from Jan 15 on (open-ended, up to the last event).
    assert a.index.strftime("%m-%d").tolist() == ["01-06", "01-13", "01-20", "02-03"] or (
        a.index.strftime("%m-%d").tolist() == ["01-06", "01-13", "01-20", "01-27", "02-03"]
    )
    assert a["n_builders"].tolist()[:3] == [1, 2, 2]
    assert a.loc["2025-01-13", "crs_merged"] == 0  # a live week without CRs is a zero row
    assert a["crs_merged"].sum() == 3 and a["ai_active_builders"].max() == 1
    assert a.loc["2025-01-06", "oncall_builders"] == 1
    b = panel.loc["b"]
    assert b.index.strftime("%m-%d").tolist() == ["01-20"]  # only its roster week
    assert b["deployments"].tolist() == [1]
    assert "person_id" not in panel.reset_index().columns


def _broken(events, table, **changes):
    broken = dict(events)
    broken[table] = events[table].head(50).assign(**changes)
    return broken


@pytest.mark.parametrize(
    ("table", "change", "message"),
    [
        (
            "deployments",
            {"deployed_at": ["yesterday", *["2024-01-02 10:00"] * 49]},
            "table `deployments`, column `deployed_at` does not parse as a date/time in 1 row",
        ),
        (
            "pages",
            {"team_id": ["team-9999", *["team-0001"] * 49]},
            "table `pages`, column `team_id` names teams that are not on the roster in 1 row",
        ),
        (
            "code_reviews",
            {"merged_at": [None, *pd.to_datetime(["2023-02-01"] * 49)]},
            "table `code_reviews`, column `merged_at` is empty in 1 row",
        ),
        (
            "roster",
            {"end_date": pd.to_datetime(["2022-01-01"] * 50)},
            "table `roster`, column `end_date` is before `start_date`",
        ),
    ],
)
def test_bad_events_name_their_table_and_column(events, table, change, message):
    with pytest.raises(EventError, match=message.replace("(", r"\(").replace(")", r"\)")):
        build_panel(_broken(events, table, **change))


def test_missing_tables_and_columns_are_named(events):
    with pytest.raises(EventError, match="missing event table"):
        build_panel({k: v for k, v in events.items() if k != "pages"})
    no_column = dict(events, rollbacks=events["rollbacks"].rename(columns={"rolled_back_at": "t"}))
    with pytest.raises(EventError, match="table `rollbacks` lacks column"):
        build_panel(no_column)
    with pytest.raises(ValueError, match="engine must be one of"):
        build_panel(events, engine="polars")


def test_every_problem_is_reported_at_once(events):
    broken = _broken(events, "deployments", deployed_at="not a date")
    broken = _broken(broken, "pages", team_id="nobody")
    with pytest.raises(EventError) as caught:
        build_panel(broken)
    assert len(caught.value.problems) == 2


def test_build_panel_command(events, tmp_path):
    folder = write_events(events, tmp_path / "events")
    out = tmp_path / "panel.parquet"
    result = subprocess.run(
        [sys.executable, "-m", "cts", "build-panel", str(folder), str(out)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert "wrote" in result.stdout and "build panel" in result.stderr  # the progress bar
    assert len(quiet_load(out)) == len(quiet_load(build_panel(events)))
    (folder / "pages.parquet").unlink()
    result = subprocess.run(
        [sys.executable, "-m", "cts", "build-panel", str(folder), str(tmp_path / "x.parquet")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2 and "missing event table(s) pages" in result.stderr
    assert not (tmp_path / "x.parquet").exists()


def test_the_docs_document_the_event_contract():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    page = (root / "docs" / "sources" / "event-logs.md").read_text()
    for name, table in TABLES.items():
        assert f"`{name}`" in page, name
        for column in (*table.columns, *table.optional_times, *table.optional):
            assert f"`{column}`" in page, (name, column)


def _tiny_events():
    """Team a: p1 and p2 from 6 January; team b: p3."""
    roster = pd.DataFrame(
        {
            "person_id": ["p1", "p2", "p3"],
            "team_id": ["a", "a", "b"],
            "start_date": pd.to_datetime(["2025-01-06"] * 3),
            "end_date": pd.NaT,
        }
    )
    one = pd.DataFrame({"team_id": ["a"]})  # Spark cannot read an empty pandas table
    day = pd.to_datetime(["2025-01-08"])
    return {
        "roster": roster,
        "code_reviews": pd.DataFrame(
            {
                "team_id": ["a", "a", "a", "b"],
                "merged_at": pd.to_datetime(
                    ["2025-01-07", "2025-01-08", "2025-01-14", "2025-01-14"]
                ),
                "is_agent": [True, False, True, False],
                "additions": [10, 3, 100, None],
                "deletions": [2, 0, 50, 4],
            }
        ),
        "deployments": one.assign(deployed_at=day),
        "rollbacks": one.assign(rolled_back_at=day),
        "interventions": one.assign(occurred_at=day),
        "pages": one.assign(paged_at=day),
        "oncall": roster.iloc[:1],
        "ai_usage": pd.DataFrame(
            {
                "person_id": ["p1", "p1", "p2", "p2", "p3"],
                "team_id": ["a", "a", "a", "a", "b"],
                "used_at": pd.to_datetime(
                    ["2025-01-06", "2025-01-07", "2025-01-07", "2025-01-15", "2025-01-15"]
                ),
                "tool": ["copilot", "claude_code", "copilot", "claude_code", None],
            }
        ),
        "seats": pd.DataFrame(
            {
                "person_id": ["p1", "p2", "p2", "p3"],
                "team_id": ["a", "a", "a", "b"],
                "tool": ["copilot", "copilot", "claude_code", "copilot"],
                "start_date": pd.to_datetime(
                    ["2025-01-01", "2025-01-01", "2025-01-13", "2025-01-01"]
                ),
                "end_date": pd.to_datetime([None, "2025-01-10", None, None]),
            }
        ),
    }


@pytest.mark.parametrize("engine", ["duckdb", "spark"])
def test_tools_seats_agent_crs_and_lines_per_team_week(engine):
    if engine == "spark" and not _spark_available():
        pytest.skip("needs pyspark and Java")
    with pytest.warns(cts.SourceWarning, match="`lines_changed` is unknown .* in 1 team-week"):
        panel = build_panel(_tiny_events(), engine=engine)
    quiet_load(panel, min_team_size=1)
    a = panel.loc[panel["team_id"] == "a"].set_index(panel.loc[panel["team_id"] == "a", "week"])
    weeks = ["2025-01-06", "2025-01-13"]
    # Week 1: p1 used both tools, p2 Copilot: union 2, Copilot 2, Claude Code 1.
    assert a.loc[weeks, "ai_active_builders"].tolist() == [2, 1]
    assert a.loc[weeks, "ai_active_builders_copilot"].tolist() == [2, 0]
    assert a.loc[weeks, "ai_active_builders_claude_code"].tolist() == [1, 1]
    # p2's Copilot seat ends on the 10th; their Claude Code seat starts on the 13th.
    assert a.loc[weeks, "ai_seats_copilot"].tolist() == [2, 1]
    assert a.loc[weeks, "ai_seats_claude_code"].tolist() == [0, 1]
    assert a.loc[weeks, "agent_crs"].tolist() == [1, 1]
    assert a.loc[weeks, "lines_changed"].tolist() == [15, 150]
    b = panel.loc[panel["team_id"] == "b"].iloc[1]
    assert b["ai_active_builders"] == 1 and b["ai_active_builders_copilot"] == 0
    assert pd.isna(b["lines_changed"])  # its one CR has no `additions`: unknown, not 0
    assert not any(c.endswith(("_cursor", "_q", "_other")) for c in panel.columns)


def test_events_without_the_new_columns_give_no_new_columns(sim, events):
    assert not set(cts.source_columns()) & set(build_panel(events).columns)


def test_unknown_tools_and_untyped_values_are_named():
    events = _tiny_events()
    events["ai_usage"].loc[0, "tool"] = "windsurf"
    events["code_reviews"]["is_agent"] = ["yes please", "true", "false", "false"]
    with pytest.raises(EventError) as caught:
        build_panel(events)
    text = "\n".join(caught.value.problems)
    assert "table `ai_usage`, column `tool` names unknown tool(s) 'windsurf'" in text
    assert "table `code_reviews`, column `is_agent` is not true/false in 1 row(s)" in text
