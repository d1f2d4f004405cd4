"""Speed of cts.build_panel (DuckDB) on ~50 million events, against pandas groupby.

Writes the event logs of ``simulate_org`` organizations (chunks of 500 teams x 156 weeks, team
ids made unique per chunk) as Parquet folders, one per table, until there are ``--events``
events, then times in the same run, each contender in its own process:

* ``cts.build_panel(folder)`` on DuckDB (checks of every table included), and
* the peer, **pandas**: each table read with ``pandas.read_parquet``, dated to its week and
  counted with ``groupby`` (``nunique`` for persons; roster entries expanded to their weeks),
  then joined: the same panel, which the benchmark checks is identical.

Prints medians of ``--repeats`` runs, events per second and each process's peak RSS.
Targets: DuckDB >= 5x faster than pandas, under 60 s, peak RSS under 4 GB.
"""

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from _measure import peak_rss_mib

import cts
from cts.panel import tidy_panel
from cts.sources.contract import TABLES, WEEKLY_COLUMNS

CHUNK_TEAMS, N_WEEKS = 500, 156
# The panel's counted columns, as cts defines them (persons are counted separately below).
COUNTS = {c: spec for c, spec in WEEKLY_COLUMNS.items() if c != "ai_active_builders"}


def write_events(folder: Path, target: int) -> tuple[int, int]:
    """Write chunks of simulated event logs until ``target`` events; return (events, teams)."""
    total, chunk = 0, 0
    while total < target:
        events = cts.simulate_org(CHUNK_TEAMS, N_WEEKS, seed=chunk).events
        for name, frame in events.items():
            frame = frame.assign(team_id=f"c{chunk}-" + frame["team_id"])
            if "person_id" in frame:
                frame["person_id"] = f"c{chunk}-" + frame["person_id"]
            (folder / name).mkdir(parents=True, exist_ok=True)
            frame.to_parquet(folder / name / f"part-{chunk:03d}.parquet", index=False)
            if TABLES[name].time or name == "code_reviews":
                total += len(frame)
        chunk += 1
    return total, chunk * CHUNK_TEAMS


def _monday(times: pd.Series) -> pd.Series:
    days = times.dt.floor("D")
    return days - pd.to_timedelta(days.dt.day_of_week, unit="D")


def pandas_panel(folder: Path) -> pd.DataFrame:
    """The peer: the same aggregation with pandas."""

    def read(name, columns):
        return pd.read_parquet(folder / name, columns=columns)

    def present(name):
        table = read(name, ["person_id", "team_id", "start_date", "end_date"])
        last = _monday(pd.Series(pd.Timestamp(last_day)))[0]
        first = _monday(table["start_date"])
        end = _monday(table["end_date"].fillna(last))
        n = ((end - first).dt.days // 7 + 1).to_numpy()
        rows = np.repeat(np.arange(len(table)), n)
        offsets = np.arange(len(rows)) - np.repeat(np.cumsum(n) - n, n)
        weeks = first.to_numpy()[rows] + offsets * np.timedelta64(7, "D")
        expanded = pd.DataFrame(
            {
                "team_id": table["team_id"].to_numpy()[rows],
                "week": weeks,
                "person": table["person_id"].to_numpy()[rows],
            }
        )
        return expanded.groupby(["team_id", "week"])["person"].nunique()

    last_day = max(
        read(name, [TABLES[name].time])[TABLES[name].time].max()
        for name in TABLES
        if TABLES[name].time
    ).normalize()
    panel = present("roster").rename("n_builders").to_frame()
    for column, (name, time_column) in COUNTS.items():
        table = read(name, ["team_id", time_column]).dropna()
        counts = table.groupby(["team_id", _monday(table[time_column]).rename("week")]).size()
        panel = panel.join(counts.rename(column), how="left")
    usage = read("ai_usage", ["person_id", "team_id", "used_at"])
    active = usage.groupby(["team_id", _monday(usage["used_at"]).rename("week")])["person_id"]
    panel = panel.join(present("oncall").rename("oncall_builders"), how="left")
    panel = panel.join(active.nunique().rename("ai_active_builders"), how="left")
    outages = read("outages", ["team_id", "week"]).assign(out=True).set_index(["team_id", "week"])
    panel = panel.join(outages, how="left")
    panel = panel.loc[panel["out"].isna()].drop(columns="out").fillna(0).reset_index()
    panel = panel.merge(read("teams", None), on="team_id", how="left")
    return tidy_panel(panel)


def _run(contender: str, folder: str, repeats: int) -> dict:
    warnings.simplefilter("ignore")
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        panel = cts.build_panel(folder) if contender == "duckdb" else pandas_panel(Path(folder))
        seconds.append(time.perf_counter() - started)
    panel.to_parquet(Path(folder).parent / f"{contender}.parquet")
    return {
        "median_s": statistics.median(seconds),
        "rows": len(panel),
        "peak_rss_mib": peak_rss_mib(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=float, default=50e6)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--contender", help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.contender:
        print(json.dumps(_run(args.contender, args.folder, args.repeats)))
        return

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "events"
        started = time.perf_counter()
        n_events, n_teams = write_events(folder, int(args.events))
        print(
            f"events: {n_events:,} in {n_teams:,} teams x {N_WEEKS} weeks "
            f"(written in {time.perf_counter() - started:.0f} s)"
        )
        results = {}
        for contender in ("pandas", "duckdb"):
            command = [sys.executable, __file__, "--contender", contender, "--folder", str(folder)]
            out = subprocess.run(
                [*command, "--repeats", str(args.repeats)],
                capture_output=True,
                text=True,
                check=True,
            )
            results[contender] = json.loads(out.stdout.strip().splitlines()[-1])
        same = pd.read_parquet(Path(tmp) / "duckdb.parquet").equals(
            pd.read_parquet(Path(tmp) / "pandas.parquet")
        )
    duck, peer = results["duckdb"], results["pandas"]
    for name, run in (("pandas groupby (peer)", peer), ("cts.build_panel, DuckDB", duck)):
        print(
            f"  {name:<26} median {run['median_s']:6.1f} s  "
            f"{n_events / run['median_s'] / 1e6:5.1f}M events/s  "
            f"peak RSS {run['peak_rss_mib']:,.0f} MiB  -> {run['rows']:,} team-weeks"
        )
    ratio = peer["median_s"] / duck["median_s"]
    print(
        f"  DuckDB is {ratio:.1f}x faster than pandas (target >= 5x); under 60 s: "
        f"{'yes' if duck['median_s'] < 60 else 'NO'}; RSS under 4 GB: "
        f"{'yes' if duck['peak_rss_mib'] < 4096 else 'NO'}; identical panels: {same}"
    )


if __name__ == "__main__":
    main()
