"""cts.sources.devlake against real PostgreSQL and MariaDB servers holding DevLake's tables."""

import json
import os
import socket
import warnings

import pandas as pd
import pytest
from devlake_schema import (
    BOTS,
    LISTED_BOT,
    OTHER_PROJECT,
    PAGES_ONLY,
    PROJECT,
    SHAPES,
    W1,
    W2,
    W3,
    copy_database,
    devlake_org,
    load,
    real_shapes,
)
from devlake_servers import mariadb_bin, mariadb_server, postgres_bin, postgres_server

import cts
from cts.cli import main
from cts.core.exceptions import EventError
from cts.sources.build import build_panel
from cts.sources.config import read_sources
from cts.sources.devlake import DevLakeWarning, read_events
from cts.sources.records import person_hasher

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
    assert "s3cret-pw" not in message and "cts@" not in message


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


def test_ai_use_per_tool_and_cr_size(databases, org):
    url = databases("sized")
    engine = create_engine(url)
    members = org.tables["user_accounts"].merge(org.tables["team_users"], on="user_id")
    prs = org.tables["pull_requests"]
    counted = prs.loc[
        prs["author_id"].isin(members["account_id"])
        & prs["merged_date"].notna()
        & ~prs["title"].str.startswith('Revert "')
    ]
    unknown = counted["id"].iloc[0]  # one PR DevLake has no size for
    with engine.begin() as connection:
        connection.execute(text("UPDATE pull_requests SET additions = 10, deletions = 2"))
        connection.execute(
            text("UPDATE pull_requests SET additions = NULL WHERE id = :id"), {"id": unknown}
        )
    engine.dispose()
    events = read_events(url, bots=[LISTED_BOT])
    with pytest.warns(cts.SourceWarning, match=r"`lines_changed` is unknown .* 1 row"):
        panel = build_panel(events)
    sized = panel.dropna(subset=["lines_changed"])
    assert panel["lines_changed"].isna().sum() >= 1 and sized["crs_merged"].sum() > 0
    assert (sized["lines_changed"] == 12 * sized["crs_merged"]).all()
    # The simulated people each use one assistant: Copilot's and Q's add up to the union.
    tools = panel["ai_active_builders_copilot"] + panel["ai_active_builders_q"]
    assert (tools == panel["ai_active_builders"]).all()
    assert panel["ai_active_builders_copilot"].sum() > 0 and panel["ai_active_builders_q"].sum() > 0


# --- DevLake as its plugins really fill it (devlake_schema.real_shapes) ------------------------


@pytest.fixture(scope="module")
def shapes(server):
    """A database holding :func:`real_shapes` on the server."""
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text("CREATE DATABASE shapes"))
    admin.dispose()
    url = make_url(server).set(database="shapes")
    engine = create_engine(url)
    load(engine, real_shapes())
    engine.dispose()
    return url.render_as_string(hide_password=False)


def _weekly(panel, column):
    """``column`` per team as a list over the weeks W1, W2, W3."""
    table = panel.pivot(index="team_id", columns="week", values=column)
    return {team: table.loc[team, [W1, W2, W3]].astype(int).tolist() for team in table.index}


def test_production_is_devlakes_production_on_every_server(shapes):
    events, messages = _read(shapes, project=SHAPES)
    panel = build_panel(events)
    # PRODUCTION (a run DevLake's pattern matched) and the raw `production` of GitHub
    # deployments count; github-pages, staging, dev and a failed production deploy do not.
    assert _weekly(panel, "deployments") == {"payments": [1, 1, 0], "ledger": [1, 1, 1]}
    pages = build_panel(read_events(shapes, project=SHAPES, production="^github-pages$"))
    assert _weekly(pages, "deployments") == {"payments": [2, 1, 1], "ledger": [0, 0, 0]}
    # Case matters only when the pattern says so, identically on PostgreSQL and MariaDB.
    upper = build_panel(read_events(shapes, project=SHAPES, production="^PRODUCTION$"))
    assert _weekly(upper, "deployments") == {"payments": [1, 1, 0], "ledger": [0, 0, 0]}


def test_no_production_deployment_is_refused_with_the_environments_found(shapes):
    with pytest.raises(EventError) as error:
        read_events(shapes, project=PAGES_ONLY, allow_missing_ai=True)
    message = str(error.value)
    assert "none of its 7 successful deployment(s) is a production one" in message
    assert "'github-pages' (5), 'staging' (2)" in message
    for fix in ("production='^github-pages$'", "--production", "[devlake]", "sources.toml"):
        assert fix in message
    # A pattern you chose that matches nothing only warns (you said what production is).
    events, messages = _read(shapes, project=PAGES_ONLY, production="^prod$", allow_missing_ai=True)
    assert len(events["deployments"]) == 0
    assert any("'github-pages' (5)" in m and "`deployments` is 0" in m for m in messages)
    with pytest.raises(EventError, match="not a Python regular expression"):
        read_events(shapes, production="(unclosed")


def test_merged_pull_requests_without_merged_date_count_at_their_close_or_creation(shapes):
    events, messages = _read(shapes, project=SHAPES)
    panel = build_panel(events)
    assert _weekly(panel, "crs_merged") == {"payments": [1, 1, 1], "ledger": [1, 1, 0]}
    undated = next(m for m in messages if "no `merged_date`" in m)
    assert "3 merged pull request(s)" in undated
    assert "`closed_date` (1)" in undated and "`created_date` (2)" in undated


def test_incidents_are_read_wherever_devlake_keeps_them_with_every_assignee(shapes):
    events, messages = _read(shapes, project=SHAPES)
    panel = build_panel(events)
    # PagerDuty raw ids (mapped by DevLake id or raw id), a second assignee on another team,
    # Opsgenie's responder only in issue_assignees, Teambition's raw executor id, INCIDENT
    # issues the dora plugin has not copied into `incidents`, and a duplicate (same url).
    assert _weekly(panel, "pages") == {"payments": [1, 0, 1], "ledger": [1, 2, 1]}
    left_out = next(m for m in messages if "rows left out" in m)
    assert "1 incident(s) unassigned" in left_out
    assert "1 incident(s) whose assignees are no DevLake person" in left_out
    assert _weekly(panel, "n_builders") == {"payments": [2, 2, 2], "ledger": [2, 2, 2]}
    assert _weekly(panel, "ai_active_builders") == {"payments": [1, 0, 0], "ledger": [0, 1, 0]}


PEOPLE = {"alice": "payments", "bob": "payments", "carol": "ledger", "dan": "ledger"}


def test_devlake_people_hash_as_git_and_the_identity_file_do(shapes):
    hasher = person_hasher()
    roster = read_events(shapes, project=SHAPES, hasher=hasher)["roster"]
    # Without an identity file: by e-mail, the key git hashes its authors with.
    assert set(roster["person_id"]) == {hasher(f"email:{p}@corp.example") for p in PEOPLE}


def test_sources_toml_reads_devlake_with_the_shared_hasher_and_overlap_rules(shapes, tmp_path):
    people = ["person,team,from,to,logins,emails,vendor_ids"] + [
        f"P-{p},{team},2024-03-01,,,{p}@corp.example," for p, team in PEOPLE.items()
    ]
    (tmp_path / "people.csv").write_text("\n".join(people) + "\n")
    incident = {  # PagerDuty's own export names payments' page in W2
        "created_at": "2024-03-12T10:00:00+01:00",
        "teams": [{"id": "PT1", "summary": "payments"}],
        "service": {"id": "PSVC1", "summary": "app"},
        "assignments": [],
    }
    (tmp_path / "incidents.json").write_text(json.dumps({"incidents": [incident]}))
    (tmp_path / "sources.toml").write_text(
        f'identity = "people.csv"\n[devlake]\nurl = "{shapes}"\nproject = "{SHAPES}"\n'
        '[pagerduty]\nincidents = ["incidents.json"]\n'
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        events = read_sources(tmp_path / "sources.toml")
    assert not [w for w in caught if "roster" in str(w.message)]  # every AI user joined
    panel = build_panel(events)
    assert _weekly(panel, "n_builders") == {"payments": [2, 2, 2], "ledger": [2, 2, 2]}
    assert _weekly(panel, "ai_active_builders") == {"payments": [1, 0, 0], "ledger": [0, 1, 0]}
    assert _weekly(panel, "crs_merged") == {"payments": [1, 1, 1], "ledger": [1, 1, 0]}
    # Pages: PagerDuty's export for the team it covers, DevLake's incidents for the other.
    assert _weekly(panel, "pages") == {"payments": [0, 1, 0], "ledger": [1, 2, 1]}
    (tmp_path / "sources.toml").write_text('[devlake]\nproject = "x"\n')
    with pytest.raises(EventError, match=r"\[devlake\] needs `url`"):
        read_sources(tmp_path / "sources.toml")


def test_the_command_line_names_production_with_a_flag(shapes, tmp_path, capsys):
    out = tmp_path / "panel.parquet"
    command = ["build-panel", "--devlake", shapes, str(out), "--project", PAGES_ONLY]
    assert main([*command, "--allow-missing-ai"]) == 2
    error = capsys.readouterr().err
    assert "'github-pages' (5), 'staging' (2)" in error and "--production" in error
    assert main([*command, "--allow-missing-ai", "--production", "^github-pages$"]) == 0
    assert pd.read_parquet(out)["deployments"].sum() == 5
