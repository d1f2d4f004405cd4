"""cts.sources.devlake against real PostgreSQL and MariaDB servers holding DevLake's tables."""

import os
import socket

import pandas as pd
import pytest
from devlake_schema import (
    BOTS,
    LISTED_BOT,
    OTHER_PROJECT,
    PROJECT,
    copy_database,
    devlake_org,
    load,
)
from devlake_servers import mariadb_bin, mariadb_server, postgres_bin, postgres_server

import cts
from cts.cli import main
from cts.core.exceptions import EventError
from cts.sources.build import build_panel
from cts.sources.devlake import DevLakeWarning, read_events

pytest.importorskip("sqlalchemy")
from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::cts.sources.devlake.DevLakeWarning")
REQUIRE = bool(os.environ.get("CTS_REQUIRE_DB"))
SERVERS = {"postgresql": (postgres_bin, postgres_server), "mariadb": (mariadb_bin, mariadb_server)}
KEYS = ["team_id", "week"]
FILLED = ["n_builders", "crs_merged", "deployments", "rollbacks", "pages", "ai_active_builders"]


@pytest.fixture(scope="module", params=list(SERVERS))
def server(request):
    installed, start = SERVERS[request.param]
    if installed() is None:
        if REQUIRE:
            pytest.fail(f"{request.param} is not installed and CTS_REQUIRE_DB is set")
        pytest.skip(f"{request.param} is not installed (Debian package; .ci/run installs it)")
    with start() as url:
        yield url


@pytest.fixture(scope="module")
def sim():
    return cts.simulate_org(30, 30, seed=5)


@pytest.fixture(scope="module")
def org(sim):
    return devlake_org(sim.events, last_day=sim.panel["week"].max())


@pytest.fixture(scope="module")
def databases(server, org):
    """Databases on the server by variant, created on first use: ``lake`` loaded from the
    simulated org, the others copies of it without some tables or columns."""
    made = {}

    def database(name, skip=(), drop_columns=None):
        if name not in made:
            base = None if name == "lake" else make_url(database("lake"))
            admin = create_engine(server, isolation_level="AUTOCOMMIT")
            with admin.connect() as connection:
                postgres = connection.dialect.name == "postgresql"
                template = f" TEMPLATE {base.database}" if base and postgres else ""
                connection.execute(text(f"CREATE DATABASE {name}{template}"))
            admin.dispose()
            url = make_url(server).set(database=name)
            engine = create_engine(url)
            if base is None:
                load(engine, org.tables)
            else:
                copy_database(engine, base.database, skip, drop_columns or {})
            engine.dispose()
            made[name] = url.render_as_string(hide_password=False)
        return made[name]

    return database


def _read(url, **options):
    with pytest.warns(DevLakeWarning) as caught:
        events = read_events(url, **options)
    return events, [str(w.message) for w in caught]


def _aligned(got, expected):
    return got.set_index(KEYS).reindex(expected.set_index(KEYS).index).reset_index()


def test_the_panel_from_devlake_is_the_simulated_panel(databases, sim, org):
    events, messages = _read(databases("lake"), project=PROJECT, bots=[LISTED_BOT])
    got = build_panel(events)
    expected = sim.panel.sort_values(KEYS, ignore_index=True)
    # DevLake has no telemetry outages: the extra team-weeks are exactly the simulated outages.
    extra = set(map(tuple, got[KEYS].to_numpy())) - set(map(tuple, expected[KEYS].to_numpy()))
    outages = sim.events["outages"].assign(week=lambda o: o["week"].astype("datetime64[ns]"))
    assert extra and extra <= set(map(tuple, outages[KEYS].to_numpy()))
    assert len(got) == len(expected) + len(extra)
    pd.testing.assert_frame_equal(_aligned(got, expected)[KEYS + FILLED], expected[KEYS + FILLED])
    # Not in DevLake: zero, and said so.
    assert (got[["manual_interventions", "oncall_builders"]] == 0).all().all()
    gap = next(m for m in messages if "on-call" in m)
    assert "`manual_interventions`" in gap and "`oncall_builders`" in gap
    unmapped = next(m for m in messages if "rows left out" in m)
    assert f"{org.unmapped_prs:,} merged pull request(s) of accounts on no team" in unmapped
    bots = next(m for m in messages if "bot account(s)" in m)
    assert f"{org.bot_prs:,} merged pull request(s) of {len(BOTS)} bot account(s)" in bots
    # Person ids are salted hashes: no DevLake id or login, and different on every read.
    persons = events["roster"]["person_id"]
    assert not persons.str.contains("user:|dev", regex=True).any()
    assert set(persons).isdisjoint(
        read_events(databases("lake"), bots=[LISTED_BOT])["roster"]["person_id"]
    )


def test_a_project_keeps_its_own_work_and_an_unknown_one_is_refused(databases, org):
    url = databases("lake")
    scoped = build_panel(read_events(url, project=PROJECT, bots=[LISTED_BOT]))
    everything = build_panel(read_events(url, bots=[LISTED_BOT]))
    assert everything["crs_merged"].sum() - scoped["crs_merged"].sum() == org.other_project_prs
    with pytest.raises(EventError) as error:
        read_events(url, project="no-such-project")
    message = str(error.value)
    assert "'no-such-project'" in message and "`project_mapping`" in message
    assert "`project_name`" in message and f"'{OTHER_PROJECT}'" in message


def test_a_bot_is_a_builder_only_when_nobody_says_it_is_one(databases, org):
    url = databases("lake")
    named = build_panel(read_events(url, project=PROJECT, bots=[LISTED_BOT]))
    unnamed = build_panel(read_events(url, project=PROJECT))
    account = next(a for a, login in BOTS.items() if login == LISTED_BOT)
    prs = org.tables["pull_requests"]
    listed = (prs["author_id"] == account).sum()
    assert listed > 0
    assert unnamed["crs_merged"].sum() - named["crs_merged"].sum() == listed
    # Unnamed, it is a builder on its team from its first to its last activity.
    commits, copilot = org.tables["commits"], org.tables["_tool_copilot_user_daily_metrics"]
    active = pd.concat(
        [
            commits.loc[commits["author_id"] == account, "authored_date"],
            copilot.loc[copilot["user_login"] == LISTED_BOT, "day"],
        ]
    )
    weeks = (active.max().normalize() - active.min().normalize()).days // 7 + 1
    assert unnamed["n_builders"].sum() - named["n_builders"].sum() == weeks


def test_without_the_copilot_table_ai_use_comes_from_q_developer_alone(databases, sim, org):
    url = databases("nocopilot", skip=("_tool_copilot_user_daily_metrics",))
    events, messages = _read(url, project=PROJECT, bots=[LISTED_BOT])
    assert any("`_tool_copilot_user_daily_metrics`" in m for m in messages)
    got = build_panel(events)
    q_dev = org.tables["_tool_q_dev_user_data"]
    roster = org.tables["accounts"].merge(
        org.tables["user_accounts"], left_on="id", right_on="account_id"
    )
    roster = roster.merge(org.tables["team_users"], on="user_id").merge(
        org.tables["teams"], left_on="team_id", right_on="id", suffixes=("", "_team")
    )
    used = q_dev.merge(roster, left_on="display_name", right_on="user_name")
    used["week"] = (used["date"] - pd.to_timedelta(used["date"].dt.day_of_week, unit="D")).astype(
        "datetime64[ns]"
    )
    counts = used.groupby(["name", "week"])["user_id_x"].nunique().rename("ai")
    expected = sim.panel[KEYS].join(counts, on=["team_id", "week"]).fillna({"ai": 0})
    assert expected["ai"].sum() > 0
    aligned = _aligned(got, sim.panel.sort_values(KEYS, ignore_index=True))
    expected = expected.sort_values(KEYS, ignore_index=True)
    assert (aligned["ai_active_builders"].to_numpy() == expected["ai"].to_numpy()).all()


def test_without_any_ai_table_the_reader_refuses_unless_told(databases):
    url = databases("noai", skip=("_tool_copilot_user_daily_metrics", "_tool_q_dev_user_data"))
    with pytest.raises(EventError, match="allow_missing_ai=True"):
        read_events(url, project=PROJECT)
    events, messages = _read(url, project=PROJECT, allow_missing_ai=True)
    assert any("unknown, not unused" in m for m in messages)
    assert build_panel(events)["ai_active_builders"].eq(0).all()


def test_missing_tables_and_columns_are_named_with_the_database(databases):
    url = databases(
        "broken",
        skip=("teams",),
        drop_columns={"pull_requests": ("merged_date",), "commits": ("author_id",)},
    )
    with pytest.raises(EventError) as error:
        read_events(url)
    message = str(error.value)
    assert "DevLake database `broken`" in message
    assert "table `teams` is missing" in message
    assert "table `pull_requests` lacks column(s) `merged_date`" in message
    assert "table `commits` lacks column(s) `author_id`" in message
    assert error.value.__cause__ is None and error.value.__context__ is None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("scheme", ["postgresql", "mysql"])
def test_an_unreachable_server_is_an_error_without_the_password(scheme):
    port = _free_port()
    with pytest.raises(EventError) as error:
        read_events(f"{scheme}://cts:s3cret-pw@127.0.0.1:{port}/lake")
    message = str(error.value)
    assert "cannot connect to DevLake database" in message and f":{port}/lake" in message
    assert "s3cret-pw" not in message and "***" in message


@pytest.mark.parametrize(
    "url, words",
    [
        ("not a url", "not a database URL"),
        ("sqlite:///lake.db", "MySQL or PostgreSQL"),
        ("postgresql://cts:pw@localhost", "names no database"),
    ],
)
def test_bad_urls_are_refused(url, words):
    with pytest.raises(EventError, match=words) as error:
        read_events(url)
    assert "pw@" not in str(error.value)


def test_a_database_that_does_not_exist_is_named(server):
    url = make_url(server).set(database="nolake").render_as_string(hide_password=False)
    with pytest.raises(EventError, match="nolake"):
        read_events(url)


def test_the_command_line_writes_the_panel(databases, tmp_path, capsys):
    out = tmp_path / "panel.parquet"
    code = main(["build-panel", "--devlake", databases("lake"), str(out), "--project", PROJECT])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "rows left out" in captured.err and "wrote" in captured.out
    assert pd.read_parquet(out)["crs_merged"].sum() > 0
    code = main(["build-panel", "--devlake", "mysql://u:topsecret@127.0.0.1:1/x", str(out)])
    assert code == 2 and "topsecret" not in capsys.readouterr().err
