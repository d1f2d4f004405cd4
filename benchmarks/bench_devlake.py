"""Speed of cts.sources.devlake on a ~1M-row DevLake database (PostgreSQL), against pandas.

Starts a throw-away PostgreSQL server (Debian's, as the tests do), loads a simulated organization
in DevLake's shape (``tests/sources/devlake_schema.py``) with COPY until the DevLake tables hold
about ``--rows`` rows, then times in the same run, each contender in its own process:

* **cts**: ``build_panel(read_events(url))``: filtering, joins and weekly counts in PostgreSQL;
* the peer, **pandas**: ``pandas.read_sql`` of the columns the mapping needs from each raw table,
  the same joins and filters in pandas, then ``build_panel``; the benchmark checks both panels
  are identical.

Prints medians of ``--repeats`` runs and each process's peak RSS.
"""

import argparse
import json
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pandas as pd
from _measure import peak_rss_mib

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "sources"))
from devlake_schema import LISTED_BOT, devlake_org, load  # noqa: E402
from devlake_servers import postgres_server  # noqa: E402

import cts  # noqa: E402
from cts.sources.devlake import read_events  # noqa: E402

BOTS = [LISTED_BOT]


def with_pandas(url: str) -> pd.DataFrame:
    """The peer: raw tables into pandas, the mapping in pandas, then build_panel."""
    from sqlalchemy import create_engine

    engine = create_engine(url)

    def read(sql: str) -> pd.DataFrame:
        return pd.read_sql(sql, engine)

    def utc(values: pd.Series) -> pd.Series:
        return pd.to_datetime(values, utc=True).dt.tz_localize(None).astype("datetime64[s]")

    prs = read(
        "SELECT id, status, title, author_id, merged_date, head_ref, base_ref FROM pull_requests"
    )
    cdc = read(
        "SELECT cicd_deployment_id, commit_sha, result, environment, finished_date "
        "FROM cicd_deployment_commits"
    )
    commits = read("SELECT sha, author_id, authored_date FROM commits")
    incidents = read("SELECT id, created_date, assignee_id FROM incidents")
    accounts = read("SELECT id, user_name FROM accounts")
    user_accounts = read("SELECT user_id, account_id FROM user_accounts")
    team_users = read("SELECT team_id, user_id FROM team_users")
    teams = read("SELECT id, name FROM teams")
    github = read("SELECT login, type FROM _tool_github_accounts")
    copilot = read(
        "SELECT user_login, day, user_initiated_interaction_count, code_generation_activity_count,"
        " code_acceptance_activity_count, used_chat, used_agent "
        "FROM _tool_copilot_user_daily_metrics"
    )
    q_dev = read("SELECT display_name, date FROM _tool_q_dev_user_data")
    engine.dispose()

    logins = accounts["user_name"].fillna("")
    bot = logins.str.endswith("[bot]") | logins.isin(BOTS)
    bot |= logins.isin(github.loc[github["type"] == "Bot", "login"])
    members = user_accounts.merge(team_users, on="user_id").merge(
        teams.rename(columns={"id": "team_id", "name": "team"}), on="team_id"
    )
    members = members.loc[~members["account_id"].isin(accounts.loc[bot, "id"])]
    members = members[["account_id", "user_id", "team"]]

    merged = prs.loc[(prs["status"] == "MERGED") & prs["merged_date"].notna()]
    revert = merged["title"].str.startswith('Revert "') | merged["head_ref"].str.startswith(
        "revert-"
    )
    by_author = {"left_on": "author_id", "right_on": "account_id"}
    crs = merged.loc[~revert].merge(members, **by_author)
    reverts = merged.loc[revert & merged["base_ref"].isin(["main", "master"])].merge(
        members, **by_author
    )
    done = cdc.loc[
        (cdc["result"] == "SUCCESS")
        & (cdc["environment"] == "PRODUCTION")
        & cdc["finished_date"].notna()
    ]
    deployed = done.merge(commits, left_on="commit_sha", right_on="sha").merge(members, **by_author)
    deployments = deployed.groupby(["cicd_deployment_id", "team"], as_index=False)[
        "finished_date"
    ].max()
    pages = incidents.merge(members, left_on="assignee_id", right_on="account_id")
    active = (
        copilot[
            [
                "user_initiated_interaction_count",
                "code_generation_activity_count",
                "code_acceptance_activity_count",
            ]
        ]
        .gt(0)
        .any(axis=1)
        | copilot["used_chat"]
        | copilot["used_agent"]
    )
    days = pd.concat(
        [
            copilot.loc[active, ["user_login", "day"]].set_axis(["login", "at"], axis=1),
            q_dev.set_axis(["login", "at"], axis=1),
        ]
    ).merge(accounts, left_on="login", right_on="user_name")
    days = days.rename(columns={"id": "account_id"})[["account_id", "at"]]
    days["at"] = utc(days["at"])
    ai = days.merge(members, on="account_id")
    activity = pd.concat(
        [
            commits.set_axis(["sha", "account_id", "at"], axis=1)[["account_id", "at"]],
            merged[["author_id", "merged_date"]].set_axis(["account_id", "at"], axis=1),
            days,
        ]
    )
    activity["at"] = utc(activity["at"])
    spans = activity.groupby("account_id")["at"].agg(["min", "max"]).reset_index()
    roster = (
        spans.merge(members, on="account_id")
        .groupby(["user_id", "team"], as_index=False)
        .agg(start_date=("min", "min"), end_date=("max", "max"))
    )
    empty = {"team_id": pd.Series([], dtype=str)}
    events = {
        "roster": roster.rename(columns={"user_id": "person_id", "team": "team_id"}),
        "code_reviews": pd.DataFrame(
            {"team_id": crs["team"], "merged_at": utc(crs["merged_date"])}
        ),
        "rollbacks": pd.DataFrame(
            {"team_id": reverts["team"], "rolled_back_at": utc(reverts["merged_date"])}
        ),
        "deployments": pd.DataFrame(
            {"team_id": deployments["team"], "deployed_at": utc(deployments["finished_date"])}
        ),
        "pages": pd.DataFrame({"team_id": pages["team"], "paged_at": utc(pages["created_date"])}),
        "ai_usage": pd.DataFrame(
            {"person_id": ai["user_id"], "team_id": ai["team"], "used_at": ai["at"]}
        ),
        "interventions": pd.DataFrame(
            empty | {"occurred_at": pd.Series([], dtype="datetime64[s]")}
        ),
        "oncall": pd.DataFrame(
            empty
            | {
                "person_id": pd.Series([], dtype=str),
                "start_date": pd.Series([], dtype="datetime64[s]"),
                "end_date": pd.Series([], dtype="datetime64[s]"),
            }
        ),
    }
    return cts.build_panel(events)


def with_cts(url: str) -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return cts.build_panel(read_events(url, bots=BOTS))


def contender(name: str, url: str, repeats: int, out: str) -> None:
    run = {"cts": with_cts, "pandas": with_pandas}[name]
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        panel = run(url)
        seconds.append(time.perf_counter() - started)
    panel.to_parquet(out)
    print(json.dumps({"seconds": seconds, "peak_mib": peak_rss_mib()}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--contender", nargs=3, metavar=("NAME", "URL", "OUT"))
    args = parser.parse_args()
    if args.contender:
        contender(*args.contender[:2], args.repeats, args.contender[2])
        return
    teams = max(10, round(30 * args.rows / 57_000))  # 30 teams x 30 weeks: ~57k DevLake rows
    started = time.perf_counter()
    sim = cts.simulate_org(teams, 30, seed=1)
    org = devlake_org(sim.events, last_day=sim.panel["week"].max())
    rows = sum(len(t) for t in org.tables.values())
    print(f"simulated {teams} teams x 30 weeks -> {rows:,} DevLake rows", flush=True)
    del sim
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    with postgres_server() as server:
        admin = create_engine(server, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text("CREATE DATABASE lake"))
        admin.dispose()
        address = make_url(server).set(database="lake")
        engine = create_engine(address)
        load(engine, org.tables)
        engine.dispose()
        url = address.render_as_string(hide_password=False)
        print(f"loaded with COPY in {time.perf_counter() - started:.0f} s", flush=True)
        del org
        results, panels = {}, {}
        for name in ("cts", "pandas"):
            out = f"/tmp/bench-devlake-{name}.parquet"
            done = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--repeats",
                    str(args.repeats),
                    "--contender",
                    name,
                    url,
                    out,
                ],
                capture_output=True,
                text=True,
            )
            if done.returncode:
                raise SystemExit(f"{name} failed:\n{done.stderr[-3000:]}")
            results[name] = json.loads(done.stdout.strip().splitlines()[-1])
            panels[name] = pd.read_parquet(out)
    pd.testing.assert_frame_equal(panels["cts"], panels["pandas"])
    print(f"identical panels: {len(panels['cts']):,} team-weeks")
    median = {n: statistics.median(r["seconds"]) for n, r in results.items()}
    for name, result in results.items():
        print(
            f"{name:>7}: median {median[name]:6.2f} s of {len(result['seconds'])} "
            f"({', '.join(f'{s:.2f}' for s in result['seconds'])}), "
            f"peak RSS {result['peak_mib']:,.0f} MiB"
        )
    print(
        f"cts (in PostgreSQL) is {median['pandas'] / median['cts']:.1f}x pandas read_sql + "
        f"pandas joins on {rows:,} DevLake rows; peak RSS "
        f"{results['cts']['peak_mib']:,.0f} vs {results['pandas']['peak_mib']:,.0f} MiB"
    )


if __name__ == "__main__":
    main()
