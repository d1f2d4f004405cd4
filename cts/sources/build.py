"""From raw event logs to the team-week panel, on DuckDB (default) or Apache Spark.

The aggregation is one SQL definition (:func:`scan_sql`: one pass over each event table;
:func:`weekly_sql` and :func:`panel_sql`: the panel from those passes, the roster and the on-call
rota), written in the subset of SQL that DuckDB and Spark SQL share and run unchanged on either
engine; only how tables are registered and materialized differs. The event-log contract (one
table per event kind; docs/sources/event-logs.md documents it) is :data:`TABLES`. Person
identifiers are hashed (md5, salted per build) in the first step of every query that touches
them and only counted, so they never reach the panel, and no shuffle or spill file of the
aggregation holds an identifier that could be matched to a person.
"""

from __future__ import annotations

import logging
import os
import secrets
import warnings
from collections.abc import Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm import tqdm

from cts.core.exceptions import EventError, SourceWarning
from cts.panel import AI_TOOLS, ai_tool_columns, tidy_panel
from cts.sources.contract import PERSON_TABLES, TABLES, WEEKLY_COLUMNS

__all__ = [
    "ENGINES",
    "MEASURES",
    "build_panel",
    "panel_sql",
    "read_event_tables",
    "scan_sql",
    "scan_times",
    "weekly_sql",
]

ENGINES = ("duckdb", "spark")


_SMALL_TABLES = ("roster", "oncall", "teams", "outages", "seats")  # checked row by row
_MAX_SHOWN = 5
#: Optional columns read as a type; a value that does not cast is an error naming it.
_TYPED = {"is_agent": "BOOLEAN", "additions": "BIGINT", "deletions": "BIGINT"}
#: Panel columns summed over a table's rows per week of its time, when the table has the
#: source columns: column -> (table, time, source columns, SQL of one row's value).
MEASURES: dict[str, tuple[str, str, tuple[str, ...], str]] = {
    "agent_crs": (
        "code_reviews",
        "merged_at",
        ("is_agent",),
        "CASE WHEN TRY_CAST(is_agent AS BOOLEAN) THEN 1 ELSE 0 END",
    ),
    "lines_changed": (
        "code_reviews",
        "merged_at",
        ("additions", "deletions"),
        "TRY_CAST(additions AS BIGINT) + TRY_CAST(deletions AS BIGINT)",
    ),
}


def _week(expression: str) -> str:
    """The Monday (a DATE) of the week of a timestamp or date, in SQL both engines accept."""
    return f"CAST(date_trunc('week', CAST({expression} AS TIMESTAMP)) AS DATE)"


def _person(salt: str) -> str:
    """A person identifier, hashed with a salt before anything else touches it."""
    if not salt.isalnum():
        raise ValueError("the salt must be alphanumeric")
    return f"md5(CONCAT('{salt}', CAST(person_id AS STRING)))"


def scan_sql(table: str, times: tuple[str, ...], salt: str, measures: tuple[str, ...] = ()) -> str:
    """The one scan of an event table: events per team and week of each of its ``times`` (its
    timestamp columns present), with the counts the checks need (rows, empty and unparseable
    timestamps, empty person ids). Person tables count distinct persons. An unparseable time
    falls in a ``NULL`` week, which the panel never joins. Each of ``measures`` (of
    :data:`MEASURES`) adds its sum ``m_<column>`` and the rows it could not value
    (``u_<column>``: a missing or unreadable source value), and each source column its
    unreadable values (``n_untyped_<column>``)."""
    persons = table in PERSON_TABLES
    weeks = [f"{_week(f'TRY_CAST({t} AS TIMESTAMP)')} AS week_{t}" for t in times]
    counts = [f"COUNT(DISTINCT {_person(salt)}) AS n" if persons else "COUNT(*) AS n"]
    counts += ["COUNT(*) AS n_rows"]
    for t in times:
        counts += [
            f"COUNT(*) - COUNT({t}) AS n_empty_{t}",
            f"COUNT({t}) - COUNT(TRY_CAST({t} AS TIMESTAMP)) AS n_unparseable_{t}",
        ]
    if persons:
        counts.append("COUNT(*) - COUNT(person_id) AS n_empty_person_id")
    for column in measures:
        sources, value = MEASURES[column][2], MEASURES[column][3]
        counts += [f"SUM({value}) AS m_{column}", f"COUNT(*) - COUNT({value}) AS u_{column}"]
        counts += [
            f"COUNT({c}) - COUNT(TRY_CAST({c} AS {_TYPED[c]})) AS n_untyped_{c}" for c in sources
        ]
    groups = ", ".join(str(k) for k in range(1, len(times) + 2))
    return f"SELECT team_id, {', '.join(weeks + counts)} FROM {table} GROUP BY {groups}"


def scan_times(weekly: tuple[str, ...]) -> dict[str, list[str]]:
    """The time columns each table's scan (:func:`scan_sql`) needs for the ``weekly`` columns."""
    times: dict[str, list[str]] = {}
    for column in weekly:
        table, time = WEEKLY_COLUMNS[column]
        times.setdefault(table, []).append(time)
    return times


def weekly_sql(column: str, times: list[str]) -> str:
    """A panel column per team and week, from its table's scan over ``times`` (:func:`scan_sql`).

    A scan over one time column has team-weeks as rows already; over several it is summed.
    """
    table, time = WEEKLY_COLUMNS[column]
    summed = len(times) > 1
    select = f"SELECT team_id, week_{time} AS week, {'SUM(n)' if summed else 'n'} AS {column}"
    where = f"FROM scan_{table} WHERE week_{time} IS NOT NULL"
    return f"{select} {where}" + (f" GROUP BY team_id, week_{time}" if summed else "")


def measure_sql(column: str) -> str:
    """A :data:`MEASURES` column per team and week from its table's scan; ``NULL`` in a week
    with a row it could not value (e.g. a CR of unknown size: its week's lines are unknown)."""
    table, time = MEASURES[column][:2]
    value = f"CASE WHEN SUM(u_{column}) > 0 THEN NULL ELSE SUM(m_{column}) END"
    return (
        f"SELECT team_id, week_{time} AS week, {value} AS {column} FROM scan_{table} "
        f"WHERE week_{time} IS NOT NULL GROUP BY team_id, week_{time}"
    )


def tool_scan_sql(salt: str) -> str:
    """Distinct persons per team, week and ``tool`` of ``ai_usage`` (rows without a tool count
    only in the union, ``ai_active_builders``)."""
    return (
        f"SELECT team_id, {_week('TRY_CAST(used_at AS TIMESTAMP)')} AS week, tool, "
        f"COUNT(DISTINCT {_person(salt)}) AS n FROM ai_usage WHERE tool IS NOT NULL "
        "GROUP BY 1, 2, 3"
    )


def panel_sql(
    last_day: str,
    *,
    weekly: tuple[str, ...],
    team_columns: tuple[str, ...],
    outages: bool,
    salt: str,
    tools: tuple[str, ...] = (),
    seat_tools: tuple[str, ...] = (),
    measures: tuple[str, ...] = (),
) -> str:
    """The panel from the roster, the on-call rota and the weekly counts (:func:`weekly_sql`
    for each column in ``weekly``, on the scans of :func:`scan_sql` registered as
    ``scan_<table>``).

    ``cts_calendar`` (one DATE column ``week``: every Monday covered) must be registered too;
    ``last_day`` (``YYYY-MM-DD``) closes roster and on-call entries without an end date;
    ``salt`` (alphanumeric) salts the hash of person ids. ``tools`` adds
    ``ai_active_builders_<tool>`` for each (from :func:`tool_scan_sql` registered as
    ``scan_ai_tools``), ``seat_tools`` ``ai_seats_<tool>`` (from table ``seats``), and
    ``measures`` each :data:`MEASURES` column (:func:`measure_sql`).
    """

    def present(table: str, column: str) -> str:
        # Distinct persons per team-week. Most persons have one entry per team and are simply
        # counted; only those with several entries need COUNT(DISTINCT), which is 3x slower.
        members = f"""
            SELECT team_id, person, first_week, last_week,
                   COUNT(*) OVER (PARTITION BY team_id, person) AS entries
            FROM (
                SELECT team_id, {_person(salt)} AS person, {_week("start_date")} AS first_week,
                       {_week(f"COALESCE(CAST(end_date AS DATE), DATE '{last_day}')")} AS last_week
                FROM {table}
            ) e"""
        weeks = "JOIN cts_calendar c ON c.week >= m.first_week AND c.week <= m.last_week"
        return f"""
        SELECT team_id, week, SUM(n) AS {column} FROM (
            SELECT m.team_id, c.week, COUNT(*) AS n FROM ({members}) m {weeks}
            WHERE m.entries = 1 GROUP BY m.team_id, c.week
            UNION ALL
            SELECT m.team_id, c.week, COUNT(DISTINCT m.person) AS n FROM ({members}) m {weeks}
            WHERE m.entries > 1 GROUP BY m.team_id, c.week
        ) s GROUP BY team_id, week"""

    parts = {"builders": present("roster", "n_builders"), "oncall": present("oncall", "v")}
    scans = scan_times(weekly)
    parts |= {f"weekly_{c}": weekly_sql(c, scans[WEEKLY_COLUMNS[c][0]]) for c in weekly}
    columns = {"oncall": "oncall_builders"} | {f"weekly_{c}": c for c in weekly}
    for tool in tools:
        parts[f"tool_{tool}"] = (
            f"SELECT team_id, week, n AS v FROM scan_ai_tools WHERE tool = '{tool}'"
        )
    for tool in seat_tools:
        parts[f"seats_{tool}"] = present(f"(SELECT * FROM seats WHERE tool = '{tool}') st", "v")
    parts |= {f"measure_{c}": measure_sql(c) for c in measures}

    def count(expression: str, name: str) -> str:  # BIGINT: DuckDB's SUM is a 128-bit integer
        return f"CAST(COALESCE({expression}, 0) AS BIGINT) AS {name}"

    select = ["b.team_id", "b.week", count("b.n_builders", "n_builders")]
    select += [count("oncall.v", "oncall_builders")]
    select += [count(f"weekly_{c}.{c}", c) for c in weekly]
    select += [count(f"tool_{t}.v", ai_tool_columns(t)[0]) for t in tools]
    select += [count(f"seats_{t}.v", ai_tool_columns(t)[1]) for t in seat_tools]
    # A week without CRs has none of their measure; a week with a CR it could not value, NULL.
    select += [
        f"CASE WHEN measure_{c}.team_id IS NULL THEN CAST(0 AS BIGINT) "
        f"ELSE CAST(measure_{c}.{c} AS BIGINT) END AS {c}"
        for c in measures
    ]
    select += [f"tm.{column}" for column in team_columns]
    joined = [*columns, *(f"tool_{t}" for t in tools), *(f"seats_{t}" for t in seat_tools)]
    joined += [f"measure_{c}" for c in measures]
    joins = [
        f"LEFT JOIN {name} ON {name}.team_id = b.team_id AND {name}.week = b.week"
        for name in joined
    ]
    if team_columns:
        joins.append("LEFT JOIN teams tm ON tm.team_id = b.team_id")
    where = ""
    if outages:
        joins.append(
            f"LEFT JOIN (SELECT DISTINCT team_id, {_week('week')} AS week FROM outages) o "
            "ON o.team_id = b.team_id AND o.week = b.week"
        )
        where = "WHERE o.team_id IS NULL"
    with_clause = ",\n".join(f"{name} AS ({body}\n)" for name, body in parts.items())
    return (
        f"WITH {with_clause}\nSELECT {', '.join(select)}\nFROM builders b\n"
        + "\n".join(joins)
        + f"\n{where}\nORDER BY b.team_id, b.week"
    )


def build_panel(
    events: str | os.PathLike[str] | Mapping[str, Any],
    *,
    engine: str = "duckdb",
    spark: Any = None,
    progress: bool = False,
) -> pd.DataFrame:
    """Build the team-week panel from event logs.

    Parameters
    ----------
    events
        A directory holding one ``<table>.parquet``, ``<table>.csv`` or ``<table>/`` folder of
        Parquet or CSV files per table of :data:`TABLES`, or a mapping of table name to a
        pandas DataFrame or path (with Spark, also a Spark DataFrame), e.g.
        ``simulate_org(...).events``.
    engine
        ``"duckdb"`` (in-process, the default) or ``"spark"`` (PySpark; local mode unless
        ``spark`` is given).
    spark
        An existing ``SparkSession`` to run on (a cluster's); default: a local one.
    progress
        Show a progress bar over the scans and the assembly.

    Returns
    -------
    pandas.DataFrame
        One row per team and week in which the team has someone on its roster (except weeks in
        ``outages``), in the :func:`cts.load_panel` schema; weeks without events are zeros.

    Raises
    ------
    EventError
        Missing tables or columns, missing or unparseable timestamps, end dates before start
        dates, or events of teams that are not on the roster; every problem names its table and
        column, and all are reported at once.
    """
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}, not {engine!r}")
    sources = read_event_tables(events)
    salt = secrets.token_hex(16)  # per build: hashes in spill files match no list of known ids
    runner = _DuckDB() if engine == "duckdb" else _Spark(spark)
    try:
        present = {name: runner.register(name, source) for name, source in sources.items()}
        problems = [p for name, columns in present.items() for p in _lacking(name, columns)]
        if problems:
            raise EventError(problems)
        weekly = tuple(
            column
            for column, (table, time) in WEEKLY_COLUMNS.items()
            if table in present and time in present[table]
        )
        measures = tuple(
            column
            for column, (table, _, needs, _) in MEASURES.items()
            if table in present and all(c in present[table] for c in needs)
        )
        small = [name for name in _SMALL_TABLES if name in present]
        scans = scan_times(weekly)
        steps = tqdm(total=len(small) + len(scans) + 1, disable=not progress, desc="build panel")
        with steps:
            for name in small:
                steps.set_postfix_str(f"checking {name}")
                problems += _problems(runner, name, _counts(runner, name, present[name]))
                steps.update()
            for table, times in scans.items():
                steps.set_postfix_str(f"scanning {table}")
                mine = tuple(c for c in measures if MEASURES[c][0] == table)
                runner.materialize(f"scan_{table}", scan_sql(table, tuple(times), salt, mine))
                counts = _scan_counts(runner, table, times, mine)
                problems += _problems(runner, table, counts)
                steps.update()
            tools, seat_tools = _tools(runner, present, salt, problems)
            if problems:
                raise EventError(problems)
            _warn_unvalued(runner, measures)
            steps.set_postfix_str("assembling")
            last_day = _register_calendar(runner, present, weekly)
            sql = panel_sql(
                last_day,
                weekly=weekly,
                team_columns=tuple(c for c in present.get("teams", ()) if c != "team_id"),
                outages="outages" in present,
                salt=salt,
                tools=tools,
                seat_tools=seat_tools,
                measures=measures,
            )
            panel = runner.query(sql)
            steps.update()
    finally:
        runner.close()
    return tidy_panel(panel)


def read_event_tables(events: str | os.PathLike[str] | Mapping[str, Any]) -> dict[str, Any]:
    """The tables of ``events`` (a directory or a mapping), checked for presence."""
    if isinstance(events, Mapping):
        sources = {name: events[name] for name in TABLES if name in events}
        unknown = sorted(set(events) - set(TABLES))
    else:
        folder = Path(events)
        if not folder.is_dir():
            raise EventError(f"event directory {folder} does not exist")
        sources, unknown = {}, []
        for path in sorted(folder.iterdir()):
            name = path.name.split(".")[0]
            if name in TABLES and (path.is_dir() or path.suffix in (".parquet", ".csv")):
                sources[name] = path
            elif not path.name.startswith("."):
                unknown.append(path.name)
    missing = [name for name, table in TABLES.items() if table.required and name not in sources]
    if missing:
        raise EventError(
            f"missing event table(s) {', '.join(missing)}; expected one per kind: "
            f"{', '.join(TABLES)}" + (f" (not used: {', '.join(unknown)})" if unknown else "")
        )
    return sources


def _tools(runner, present: dict, salt: str, problems: list[str]) -> tuple[tuple[str, ...], ...]:
    """The AI tools named in ``ai_usage`` and ``seats`` (their per-tool columns); unknown tool
    names are added to ``problems``."""
    found: dict[str, tuple[str, ...]] = {}
    if "tool" in present.get("ai_usage", ()):
        runner.materialize("scan_ai_tools", tool_scan_sql(salt))
        found["ai_usage"] = tuple(runner.query("SELECT DISTINCT tool FROM scan_ai_tools")["tool"])
    if "seats" in present:
        found["seats"] = tuple(
            runner.query("SELECT DISTINCT tool FROM seats WHERE tool IS NOT NULL")["tool"]
        )
    for name, tools in found.items():
        unknown = sorted(str(t) for t in tools if t not in AI_TOOLS)
        if unknown:
            problems.append(
                f"table `{name}`, column `tool` names unknown tool(s) "
                f"{', '.join(map(repr, unknown[:_MAX_SHOWN]))}: use one of "
                f"{', '.join(AI_TOOLS)} (`other` for any further assistant)"
            )
    return tuple(
        tuple(t for t in AI_TOOLS if t in found.get(name, ())) for name in ("ai_usage", "seats")
    )


def _warn_unvalued(runner, measures: tuple[str, ...]) -> None:
    """Name the weeks a measure is unknown in (``NULL``, never 0)."""
    for column in measures:
        table, time = MEASURES[column][:2]
        row = runner.query(
            f"SELECT SUM(u_{column}) AS rows, COUNT(DISTINCT CONCAT(CAST(team_id AS STRING), "
            f"CAST(week_{time} AS STRING))) AS weeks FROM scan_{table} WHERE u_{column} > 0"
        ).iloc[0]
        if pd.notna(row["rows"]) and row["rows"] > 0:
            sources = " and ".join(f"`{c}`" for c in MEASURES[column][2])
            warnings.warn(
                f"`{column}` is unknown (missing, not 0) in {int(row['weeks']):,} team-week(s): "
                f"{int(row['rows']):,} row(s) of `{table}` have no {sources}",
                SourceWarning,
                stacklevel=3,
            )


def _lacking(name: str, columns: list[str]) -> list[str]:
    lacking = [c for c in TABLES[name].columns if c not in columns]
    if not lacking:
        return []
    return [
        f"table `{name}` lacks column(s) {', '.join(f'`{c}`' for c in lacking)} "
        f"(it has {', '.join(f'`{c}`' for c in columns)})"
    ]


def _conditions(name: str, columns: list[str]) -> tuple[str, dict[str, str]]:
    """The row-level checks of a table (key ``kind:column`` -> SQL condition) and the source
    they run on (the table as ``t``, with the roster's teams as ``r``)."""
    table = TABLES[name]
    times = [
        c
        for c in dict.fromkeys((*table.columns, *table.optional_times))
        if c in columns and (c.endswith(("_at", "_date")) or c == "week")
    ]
    checks = {f"missing:{c}": f"t.{c} IS NULL" for c in table.columns}
    checks |= {
        f"unparseable:{c}": f"t.{c} IS NOT NULL AND TRY_CAST(t.{c} AS TIMESTAMP) IS NULL"
        for c in times
    }
    checks |= {
        f"untyped:{c}": f"t.{c} IS NOT NULL AND TRY_CAST(t.{c} AS {kind}) IS NULL"
        for c, kind in _TYPED.items()
        if c in columns and c in table.optional
    }
    if "end_date" in columns:
        checks["before_start:end_date"] = (
            "TRY_CAST(t.end_date AS TIMESTAMP) < TRY_CAST(t.start_date AS TIMESTAMP)"
        )
    source = f"{name} t"
    if name != "roster":
        checks["unknown:team_id"] = "t.team_id IS NOT NULL AND r.known IS NULL"
        source += (
            " LEFT JOIN (SELECT DISTINCT team_id AS known FROM roster) r ON t.team_id = r.known"
        )
    return source, checks


def _counts(runner, name: str, columns: list[str]) -> dict[str, int]:
    """Rows failing each check of a (small) table, in one scan."""
    source, checks = _conditions(name, columns)
    sums = ", ".join(
        f"SUM(CASE WHEN {condition} THEN 1 ELSE 0 END) AS c{i}"
        for i, condition in enumerate(checks.values())
    )
    counts = runner.query(f"SELECT {sums} FROM {source}").iloc[0].fillna(0).astype(int)
    return dict(zip(checks, counts, strict=True))


def _scan_counts(
    runner, table: str, times: list[str], measures: tuple[str, ...] = ()
) -> dict[str, int]:
    """Rows failing each check of an event table, from its scan (no second pass)."""
    sums = {}
    for column in dict.fromkeys(c for m in measures for c in MEASURES[m][2]):
        sums[f"untyped:{column}"] = f"w.n_untyped_{column}"
    for time in times:
        sums[f"unparseable:{time}"] = f"w.n_unparseable_{time}"
        if time in TABLES[table].columns:  # required
            sums[f"missing:{time}"] = f"w.n_empty_{time}"
    sums["missing:team_id"] = "CASE WHEN w.team_id IS NULL THEN w.n_rows ELSE 0 END"
    sums["unknown:team_id"] = (
        "CASE WHEN w.team_id IS NOT NULL AND r.known IS NULL THEN w.n_rows ELSE 0 END"
    )
    if table in PERSON_TABLES:
        sums["missing:person_id"] = "w.n_empty_person_id"
    select = ", ".join(f"SUM({expression}) AS c{i}" for i, expression in enumerate(sums.values()))
    counts = runner.query(
        f"SELECT {select} FROM scan_{table} w "
        "LEFT JOIN (SELECT DISTINCT team_id AS known FROM roster) r ON w.team_id = r.known"
    )
    return dict(zip(sums, counts.iloc[0].fillna(0).astype(int), strict=True))


def _problems(runner, name: str, counts: dict[str, int]) -> list[str]:
    """Messages for the failed checks, with examples from the table itself."""
    source, checks = _conditions(name, runner.columns(name))
    problems = []
    for key, n in counts.items():
        if n == 0:
            continue
        kind, column = key.split(":")
        examples = runner.query(
            f"SELECT DISTINCT CAST(t.{column} AS STRING) AS v FROM {source} "
            f"WHERE {checks[key]} LIMIT {_MAX_SHOWN}"
        )["v"].tolist()
        what = {
            "missing": "is empty",
            "unparseable": "does not parse as a date/time",
            "before_start": "is before `start_date`",
            "unknown": "names teams that are not on the roster",
            "untyped": f"is not {'true/false' if column == 'is_agent' else 'a whole number'}",
        }[kind]
        problems.append(
            f"table `{name}`, column `{column}` {what} in {n:,} row(s)"
            + ("" if kind == "missing" else f", e.g. {', '.join(map(repr, examples))}")
        )
    return problems


def _register_calendar(runner, present: dict, weekly: tuple[str, ...]) -> str:
    """Register every Monday from the first roster start to the last date seen; return it."""
    last_end = ", MAX(CAST(end_date AS DATE))" if "end_date" in present["roster"] else ""
    roster = runner.query(
        f"SELECT MIN(CAST(start_date AS DATE)), MAX(CAST(start_date AS DATE)){last_end} FROM roster"
    ).iloc[0]
    weeks = runner.query(
        " UNION ALL ".join(
            f"SELECT MAX(week_{WEEKLY_COLUMNS[c][1]}) AS week FROM scan_{WEEKLY_COLUMNS[c][0]}"
            for c in weekly
        )
    )["week"]
    first = pd.Timestamp(roster.iloc[0])
    if pd.isna(first):
        raise EventError("table `roster` is empty")
    # An event's week ends 6 days after its Monday: the last day seen is at most that.
    last = max(
        pd.Timestamp(d)
        for d in [*roster.iloc[1:], *(pd.Timestamp(w) + pd.Timedelta(days=6) for w in weeks)]
        if not pd.isna(d)
    )
    mondays = pd.date_range(first - pd.Timedelta(days=first.day_of_week), last, freq="7D")
    runner.register_frame("cts_calendar", pd.DataFrame({"week": mondays.date}))
    return last.strftime("%Y-%m-%d")


# --- engines: only registration and execution differ ----------------------------------------


class _DuckDB:
    def __init__(self) -> None:
        import duckdb

        self.con = duckdb.connect()
        self.con.execute("SET TimeZone = 'UTC'")
        self.con.execute("SET preserve_insertion_order = false")  # the panel is sorted after

    def register(self, name: str, source: Any) -> list[str]:
        if isinstance(source, pd.DataFrame):
            self.con.register(name, source)
        else:
            path = Path(source)
            reader = _duckdb_reader(path)
            self.con.execute(f"CREATE VIEW {name} AS SELECT * FROM {reader}")
        return self.columns(name)

    def register_frame(self, name: str, frame: pd.DataFrame) -> None:
        self.con.register(name, frame)

    def materialize(self, name: str, sql: str) -> None:
        self.con.execute(f"CREATE TEMP TABLE {name} AS {sql}")

    def columns(self, name: str) -> list[str]:
        return [row[0] for row in self.con.execute(f"DESCRIBE {name}").fetchall()]

    def query(self, sql: str) -> pd.DataFrame:
        return self.con.execute(sql).df()

    def close(self) -> None:
        self.con.close()


def _duckdb_reader(path: Path) -> str:
    def quoted(p: Path | str) -> str:
        return "'" + str(p).replace("'", "''") + "'"

    if path.is_dir():
        if any(path.rglob("*.parquet")):
            return f"read_parquet({quoted(path / '**' / '*.parquet')})"
        return f"read_csv({quoted(path / '**' / '*.csv')}, header = true)"
    if path.suffix == ".parquet":
        return f"read_parquet({quoted(path)})"
    return f"read_csv({quoted(path)}, header = true)"


@contextmanager
def _quiet_pyspark():
    """PySpark 4 warns about pandas 3 on every conversion; cts's equality test covers it."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", module="pyspark")
        warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas")
        yield


class _Spark:
    def __init__(self, session: Any = None) -> None:
        with _quiet_pyspark():
            self._start(session)

    def _start(self, session: Any) -> None:
        # py4j logs its shutdown at exit, when a test runner may have closed the stream.
        logging.getLogger("py4j").setLevel(logging.WARNING)
        try:
            from pyspark.sql import SparkSession
        except ImportError as error:  # pragma: no cover - depends on the install
            raise ImportError("engine='spark' needs pyspark: pip install 'cts[spark]'") from error
        self.own = session is None
        self.spark = session or (
            SparkSession.builder.master("local[2]")
            .appName("cts build-panel")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.shuffle.partitions", "8")
            .config("spark.sql.execution.arrow.pyspark.enabled", "true")
            .getOrCreate()
        )
        if self.own:
            self.spark.sparkContext.setLogLevel("ERROR")
        self.spark.conf.set("spark.sql.session.timeZone", "UTC")
        self.views: list[str] = []

    def register(self, name: str, source: Any) -> list[str]:
        if isinstance(source, pd.DataFrame):
            frame = self._from_pandas(source)
        elif hasattr(source, "createOrReplaceTempView"):
            frame = source
        else:
            path = Path(source)
            files = str(path)
            if (path.is_dir() and any(path.rglob("*.parquet"))) or path.suffix == ".parquet":
                frame = self.spark.read.option("recursiveFileLookup", "true").parquet(files)
            else:
                frame = (
                    self.spark.read.option("header", "true")
                    .option("recursiveFileLookup", "true")
                    .csv(files)
                )
        self.register_frame(name, frame)
        return list(frame.columns)

    def _from_pandas(self, frame: pd.DataFrame) -> Any:
        with _quiet_pyspark():
            return self.spark.createDataFrame(_spark_safe(frame))

    def register_frame(self, name: str, frame: Any) -> None:
        if isinstance(frame, pd.DataFrame):
            frame = self._from_pandas(frame)
        frame.createOrReplaceTempView(name)
        self.views.append(name)

    def materialize(self, name: str, sql: str) -> None:
        self.register_frame(name, self.spark.sql(sql).cache())

    def columns(self, name: str) -> list[str]:
        return list(self.spark.table(name).columns)

    def query(self, sql: str) -> pd.DataFrame:
        with _quiet_pyspark():
            return self.spark.sql(sql).toPandas()

    def close(self) -> None:
        if self.own:  # a session cts started: stop its JVM rather than leave it running
            self.spark.stop()
            return
        for view in self.views:
            self.spark.catalog.dropTempView(view)


def _spark_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """Plain object strings and microsecond timestamps, which every PySpark version reads."""
    frame = frame.copy()
    for column in frame.columns:
        if pd.api.types.is_string_dtype(frame[column]) and not pd.api.types.is_object_dtype(
            frame[column]
        ):
            frame[column] = frame[column].astype(object)
        elif pd.api.types.is_datetime64_any_dtype(frame[column]):
            frame[column] = frame[column].astype("datetime64[us]")
    return frame
