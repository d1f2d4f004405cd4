"""Loading a team-week panel: validation, derived rates and small-team suppression.

One row per team and week. The panel is team-level by contract: a column that identifies an
individual is refused, and team-weeks below a minimum team size are flagged so reports can
suppress them.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable
from os import PathLike
from pathlib import Path

import numpy as np
import pandas as pd

from cts.core.exceptions import PanelError, PanelWarning
from cts.panel.schema import (
    AI_TOOLS,
    ARCHITECTURES,
    COUNT_COLUMNS,
    DERIVED_COLUMNS,
    OPTIONAL_COLUMNS,
    REQUIRED_COLUMNS,
    ai_tool_columns,
    source_columns,
)

__all__ = [
    "WEEK_STARTS",
    "load_panel",
    "require_columns",
    "suppress_small_teams",
    "tidy_panel",
    "varying_columns",
]

# Names (or name parts) that identify a person. Velocity is never a measure of an individual.
_PERSON_NAME = re.compile(
    r"(^|_)(developer_id|user_id|userid|user_name|username|login|email|e_mail|author|committer"
    r"|employee_id|person_id|github_handle)(_|$)",
    re.IGNORECASE,
)
_EMAIL_VALUE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_MAX_SHOWN = 5
#: The days a week may start on in the input (``load_panel(week_start=...)``).
WEEK_STARTS = ("monday", "sunday")
_ISO_WEEK = re.compile(r"^\s*(\d{4})-?W(\d{2})(?:-?([1-7]))?\s*$")
_SLASHED_DATE = re.compile(r"^\s*(\d{1,2})[/.](\d{1,2})[/.](\d{4})\s*$")
_TIME_ZONE = re.compile(r"(?:Z|UTC|GMT|[+-]\d{2}:?\d{2})\s*$", re.IGNORECASE)


def load_panel(
    source: str | PathLike[str] | pd.DataFrame,
    *,
    min_team_size: int = 5,
    week_start: str = "monday",
    validate: bool = True,
) -> pd.DataFrame:
    """Load and validate a team-week panel, and add derived rates.

    Parameters
    ----------
    source
        Path to a ``.csv`` or ``.parquet`` file, or a DataFrame (which is copied, never modified).
    min_team_size
        Team-weeks with fewer builders trigger a :class:`PanelWarning`; reports drop them with
        :func:`suppress_small_teams`. Stored in ``panel.attrs["min_team_size"]``.
    week_start
        ``"monday"`` (the contract) or ``"sunday"`` for a warehouse whose weeks start on Sunday:
        each Sunday becomes the Monday after it (the week the two calendars share six days of).
    validate
        False only for panels cts itself built to the contract (the simulator's, in Monte Carlo
        loops, where the checks cost a third of each simulated panel's time): they are typed
        (:func:`tidy_panel`) but not checked.

    Returns
    -------
    pandas.DataFrame
        Sorted by ``team_id, week`` with a fresh ``RangeIndex``, typed columns and the derived
        rates of :data:`DERIVED_COLUMNS`.

    Raises
    ------
    PanelError
        On any contract violation, listing every problem found with up to five rows each.

    Notes
    -----
    Week values may be dates, timestamps with a time zone (converted to UTC, then the date), or
    ISO weeks such as ``2025-W03``. Day-first dates such as ``02/01/2025`` are refused whole
    (is it 2 January or 1 February?), with the reading that makes every week a Monday.
    """
    if week_start not in WEEK_STARTS:
        raise ValueError(f"week_start must be one of {', '.join(WEEK_STARTS)}, not {week_start!r}")
    raw = _read(source)
    panel = _validate(raw, week_start) if validate else tidy_panel(raw)
    for name, (numerator, denominator) in DERIVED_COLUMNS.items():
        panel[name] = panel[numerator] / panel[denominator].clip(lower=1)
    panel = panel.sort_values(["team_id", "week"], kind="stable", ignore_index=True)
    panel.attrs["min_team_size"] = int(min_team_size)
    _warn_small_teams(panel, min_team_size)
    return panel


def suppress_small_teams(panel: pd.DataFrame, min_team_size: int | None = None) -> pd.DataFrame:
    """Drop team-weeks with fewer than ``min_team_size`` builders (default: the loader's).

    With few builders a team's velocity comes close to describing individuals, so reports show
    only team-weeks at or above the threshold.
    """
    size = panel.attrs.get("min_team_size", 5) if min_team_size is None else min_team_size
    kept = panel.loc[panel["n_builders"] >= size].reset_index(drop=True)
    # Marked, so that counts of gaps refuse it: its dropped rows are not missing telemetry.
    kept.attrs = {
        **panel.attrs,
        "min_team_size": int(size),
        "suppressed": True,
        "suppressed_team_weeks": int(panel.attrs.get("suppressed_team_weeks", 0))
        + len(panel)
        - len(kept),
    }
    return kept


def tidy_panel(panel: pd.DataFrame) -> pd.DataFrame:
    """The panel's dtypes (string team ids, datetime weeks, int64 counts) and column order."""
    panel = panel.copy()
    panel["team_id"] = panel["team_id"].astype(str)
    panel["week"] = pd.to_datetime(panel["week"]).astype("datetime64[ns]")
    counts = [c for c in (*COUNT_COLUMNS, *source_columns()) if c in panel]
    # A count a source could not tell for some team-weeks (e.g. `lines_changed` of CRs whose
    # size is unknown) stays missing, as a float column, rather than becoming 0.
    whole = [c for c in counts if panel[c].notna().all()]
    panel[whole] = panel[whole].astype("int64")
    partial = [c for c in counts if c not in whole]
    panel[partial] = panel[partial].astype("float64")
    known = [c for c in (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS, *source_columns()) if c in panel]
    panel = panel[known + [c for c in panel.columns if c not in known]]
    if pd.MultiIndex.from_frame(panel[["team_id", "week"]]).is_monotonic_increasing:
        return panel.reset_index(drop=True)  # the engines sort; checking is cheaper than sorting
    return panel.sort_values(["team_id", "week"], ignore_index=True)


def require_columns(data: pd.DataFrame, columns: Iterable[str], where: str = "the data") -> None:
    """Raise :class:`PanelError` naming every one of ``columns`` missing from ``data``."""
    missing = [c for c in dict.fromkeys(columns) if c not in data.columns]
    if missing:
        raise PanelError(f"column(s) {', '.join(f'`{c}`' for c in missing)} not in {where}")


def varying_columns(data: pd.DataFrame, columns: Iterable[str], role: str) -> tuple[str, ...]:
    """The ``columns`` that vary in ``data``; each constant one is dropped with a
    :class:`PanelWarning` (e.g. pipeline interventions that a source such as git never records)."""
    columns = tuple(columns)
    constant = [c for c in columns if data[c].nunique(dropna=True) <= 1]
    if constant:
        warnings.warn(
            f"{role}(s) {', '.join(f'`{c}`' for c in constant)} never vary in this panel (e.g. "
            "a source that does not record them), so they are left out",
            PanelWarning,
            stacklevel=3,
        )
    return tuple(c for c in columns if c not in constant)


# --- reading -------------------------------------------------------------------------------------


def _read(source: str | PathLike[str] | pd.DataFrame) -> pd.DataFrame:
    if isinstance(source, pd.DataFrame):
        frame = source.copy()
    elif isinstance(source, (str, PathLike)):
        frame = _read_file(Path(source))
    else:
        raise PanelError(
            f"source must be a path to a .csv or .parquet file or a DataFrame, "
            f"not {type(source).__name__}"
        )
    if frame.empty:
        raise PanelError(f"the panel {_describe(source)} has no rows")
    return frame.reset_index(drop=True)


def _read_file(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise PanelError(f"no panel file at {path}")
    suffix = path.suffix.lower()
    if path.stat().st_size == 0:
        raise PanelError(f"the panel file {path} is empty")
    try:
        if suffix == ".csv":
            # Identifiers stay text: "0042" must not become 42.
            return pd.read_csv(path, dtype={"team_id": str})
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(path)
    except pd.errors.EmptyDataError as error:
        raise PanelError(f"the panel file {path} is empty") from error
    except (pd.errors.ParserError, OSError, ValueError) as error:
        raise PanelError(f"cannot read the panel file {path}: {error}") from error
    raise PanelError(f"unknown file type {suffix or '(none)'!r} for {path}: use .csv or .parquet")


def _describe(source: object) -> str:
    return "DataFrame" if isinstance(source, pd.DataFrame) else f"file {source}"


# --- validation ----------------------------------------------------------------------------------


def _validate(frame: pd.DataFrame, week_start: str = "monday") -> pd.DataFrame:
    """Check the contract and return a typed copy; raise one PanelError listing all problems."""
    personal = [c for c in frame.columns if _PERSON_NAME.search(str(c))]
    if personal:
        raise PanelError(
            f"column(s) {', '.join(f'`{c}`' for c in personal)} identify individuals; the panel "
            "is team-level by contract. Aggregate to team-weeks and drop them."
        )
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise PanelError(
            f"required column(s) missing: {', '.join(f'`{c}`' for c in missing)} "
            f"(found: {', '.join(map(str, frame.columns))})" + _rename_hint(missing, frame.columns)
        )

    problems: list[str] = []
    panel = frame.copy()
    for column in REQUIRED_COLUMNS:
        nan = panel[column].isna()
        if nan.any():
            problems.append(_problem(panel, nan, column, "missing values"))

    panel["team_id"] = _team_ids(panel["team_id"])
    week, week_problem = _parse_weeks(panel["week"])
    if week_problem:
        problems.append(week_problem)
        week = pd.Series(pd.NaT, index=panel.index, dtype="datetime64[ns]")
    unparsed = week.isna() & panel["week"].notna()
    if unparsed.any() and not week_problem:
        problems.append(_problem(panel, unparsed, "week", "values that are not dates"))
    if week_start == "sunday":
        not_sunday = week.notna() & ((week.dt.day_of_week != 6) | (week != week.dt.normalize()))
        if not_sunday.any():
            problems.append(
                _problem(
                    panel, not_sunday, "week", "values that are not a Sunday (week_start='sunday')"
                )
            )
        week = week + pd.Timedelta(days=1)
    not_monday = week.notna() & ((week.dt.day_of_week != 0) | (week != week.dt.normalize()))
    if not_monday.any() and week_start == "monday":
        problems.append(
            _problem(panel, not_monday, "week", "values that are not a Monday week start")
            + _week_hint(panel, week, not_monday)
        )
    panel["week"] = week

    counts = [c for c in (*COUNT_COLUMNS, *source_columns()) if c in panel.columns]
    for column in counts:
        problems += _check_counts(panel, column)
    problems += _check_bounds(panel)
    problems += _check_optional(panel)
    problems += _check_tool_names(panel)

    duplicated = panel.duplicated(["team_id", "week"], keep=False) & panel["week"].notna()
    if duplicated.any():
        problems.append(
            _problem(panel, duplicated, "team_id", "duplicate (team_id, week) rows", extra=["week"])
        )
    if problems:
        raise PanelError(problems)

    for column in counts:
        # Optional counts may be missing (commits_shipped outside trunk teams): keep them float.
        if panel[column].notna().all():
            panel[column] = panel[column].astype("int64")
    return panel


def _team_ids(values: pd.Series) -> pd.Series:
    """Team ids as the text the user wrote: a float column of whole numbers (what a reader makes
    of ``1, 2, 3`` with a gap) gives ``"1"``, not ``"1.0"``."""
    if pd.api.types.is_float_dtype(values):
        whole = values.dropna()
        if (whole % 1 == 0).all():
            return values.map(lambda v: v if pd.isna(v) else str(int(v)))
    return values.map(lambda v: v if pd.isna(v) else str(v))


def _parse_weeks(values: pd.Series) -> tuple[pd.Series, str]:
    """Week starts as naive datetimes; or a message refusing the whole column.

    Time-zoned values are converted to UTC and cut to their date; ISO weeks (``2025-W03``) are
    their Monday. Day-first dates are refused: ``02/01/2025`` parses either way.
    """
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        utc = values.dt.tz_convert("UTC").dt.tz_localize(None)
        return utc.dt.normalize().astype("datetime64[ns]"), ""
    if pd.api.types.is_datetime64_any_dtype(values):
        return values.astype("datetime64[ns]"), ""
    text = values.where(values.isna(), values.astype(str))
    present = text.dropna()
    slashed = present.str.extract(_SLASHED_DATE).dropna().astype(int)
    if len(slashed):
        return values, _day_first_message(present, slashed)
    parsed = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]")
    iso = present.str.extract(_ISO_WEEK).dropna(subset=[0, 1])
    if len(iso):
        iso_text = iso[0] + "-W" + iso[1] + "-" + iso[2].fillna("1")
        parsed.loc[iso.index] = pd.to_datetime(iso_text, format="%G-W%V-%u", errors="coerce")
    rest = present.drop(index=iso.index)
    if len(rest):
        zoned = rest.str.contains(_TIME_ZONE)
        stamps = pd.to_datetime(rest, errors="coerce", format="mixed", utc=True)
        stamps = stamps.dt.tz_localize(None)
        stamps = stamps.where(~zoned, stamps.dt.normalize())  # zoned: UTC, then the date
        parsed.loc[rest.index] = stamps.astype("datetime64[ns]")
    return parsed, ""


def _day_first_message(present: pd.Series, slashed: pd.DataFrame) -> str:
    def mondays(day: pd.Series, month: pd.Series) -> int:
        dates = pd.to_datetime(
            pd.DataFrame({"year": slashed[2], "month": month, "day": day}), errors="coerce"
        )
        return int((dates.dt.day_of_week == 0).sum())

    day_first, month_first = mondays(slashed[0], slashed[1]), mondays(slashed[1], slashed[0])
    example = present.loc[slashed.index[0]]
    message = (
        f"column `week` has {len(slashed):,} dates written like {example!r}, which reads both "
        "day-first and month-first; nothing was guessed. Write ISO dates (YYYY-MM-DD)"
    )
    if day_first == len(slashed) and month_first < len(slashed):
        message += (
            ": read day-first, every one is a Monday, e.g. "
            "`df['week'] = pd.to_datetime(df['week'], dayfirst=True)`"
        )
    elif month_first == len(slashed) and day_first < len(slashed):
        message += (
            ": read month-first, every one is a Monday, e.g. "
            "`df['week'] = pd.to_datetime(df['week'], format='%m/%d/%Y')`"
        )
    return message + "."


def _week_hint(panel: pd.DataFrame, week: pd.Series, not_monday: pd.Series) -> str:
    """What to do about weeks that are not Mondays, when the pattern says."""
    dated = week.dropna()
    if (dated.dt.day_of_week == 6).all() and (dated == dated.dt.normalize()).all():
        return (
            f"\nAll {len(dated):,} rows are Sundays: weeks starting Sunday? Pass "
            "load_panel(..., week_start='sunday') to count each as the Monday after it."
        )
    monday = week.dt.to_period("W-SUN").dt.start_time
    per_week = pd.DataFrame({"team_id": panel["team_id"], "monday": monday}).value_counts()
    if len(per_week) and per_week.max() > 1 and not_monday.mean() > 0.5:
        (team, start), rows = per_week.idxmax(), per_week.max()
        return (
            f"\nThe rows look daily ({team} has {rows} rows in the week of {start:%Y-%m-%d}): "
            "aggregate them to weeks with cts.panel.to_weekly(daily), then load the result."
        )
    return ""


def _rename_hint(missing: list[str], found: Iterable[object]) -> str:
    """`TeamId` -> `team_id`: close matches of the missing names among the columns found."""
    import difflib

    names = [str(c) for c in found]
    normal = {_snake(c): c for c in names}
    renames = {}
    for column in missing:
        close = difflib.get_close_matches(column, list(normal), n=1, cutoff=0.8)
        if close and normal[close[0]] not in renames:
            renames[normal[close[0]]] = column
    if not renames:
        return ""
    return f". Close matches: rename them with df.rename(columns={renames!r})"


def _snake(name: str) -> str:
    """``TeamId`` / ``team-id`` / ``Team ID`` -> ``team_id``."""
    name = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name.strip())
    return re.sub(r"[^0-9a-z]+", "_", name.lower()).strip("_")


def _check_counts(panel: pd.DataFrame, column: str) -> list[str]:
    values = pd.to_numeric(panel[column], errors="coerce")
    present = panel[column].notna()
    problems = []
    if (not_number := present & values.isna()).any():
        problems.append(_problem(panel, not_number, column, "values that are not numbers"))
    if (fractional := values.notna() & (values % 1 != 0)).any():
        problems.append(_problem(panel, fractional, column, "non-integer counts"))
    floor = 1 if column == "n_builders" else 0
    if (too_small := values < floor).any():
        what = "values below 1 (a team has at least one builder)" if floor else "negative values"
        problems.append(_problem(panel, too_small, column, what))
    if not problems:
        panel[column] = values
    return problems


def _check_bounds(panel: pd.DataFrame) -> list[str]:
    """Headcounts within `n_builders`, each tool's within their union, agents' CRs within CRs."""
    tools = [ai_tool_columns(t)[0] for t in AI_TOOLS if ai_tool_columns(t)[0] in panel]
    bounds = [(c, "n_builders") for c in ("oncall_builders", "ai_active_builders", *tools)]
    bounds += [(c, "ai_active_builders") for c in tools]
    if "agent_crs" in panel:
        bounds.append(("agent_crs", "crs_merged"))
    problems = []
    for column, ceiling in bounds:
        limit = pd.to_numeric(panel[ceiling], errors="coerce")
        over = pd.to_numeric(panel[column], errors="coerce") > limit
        if over.any():
            what = f"values above `{ceiling}`"
            if ceiling == "ai_active_builders":
                what += " (the union of all tools is at least each tool's count)"
            problems.append(_problem(panel, over, column, what, extra=[ceiling]))
    return problems


def _check_tool_names(panel: pd.DataFrame) -> list[str]:
    """A per-tool column of a tool not in AI_TOOLS would be taken for a covariate: refuse it."""
    unknown = [
        str(c)
        for c in panel.columns
        if str(c).startswith(("ai_active_builders_", "ai_seats_")) and c not in source_columns()
    ]
    if not unknown:
        return []
    return [
        f"column(s) {', '.join(f'`{c}`' for c in unknown)} name no known AI tool; per-tool "
        f"columns end in one of {', '.join(AI_TOOLS)} (`other` for any further assistant)"
    ]


def _check_optional(panel: pd.DataFrame) -> list[str]:
    problems = []
    if "architecture" in panel.columns:
        # `Trunk` and ` service ` are what they say: case and spaces are not meaning.
        spelled = panel["architecture"].astype("string").str.strip().str.lower()
        panel["architecture"] = spelled.where(spelled.isin(ARCHITECTURES), panel["architecture"])
        unknown = ~panel["architecture"].isin(ARCHITECTURES)
        if unknown.any():
            problems.append(
                _problem(
                    panel, unknown, "architecture", f"values not in {', '.join(ARCHITECTURES)}"
                )
            )
        else:
            panel["architecture"] = panel["architecture"].astype(str)
    if "org" in panel.columns:
        problems += _check_org(panel)
    if "cost_per_builder_week" in panel.columns:
        cost = pd.to_numeric(panel["cost_per_builder_week"], errors="coerce")
        bad = ~(cost > 0) | ~np.isfinite(cost)
        if bad.any():
            problems.append(
                _problem(
                    panel, bad, "cost_per_builder_week", "values that are not positive numbers"
                )
            )
        else:
            panel["cost_per_builder_week"] = cost.astype("float64")
    known = set(REQUIRED_COLUMNS) | set(OPTIONAL_COLUMNS) | set(source_columns())
    for column in (c for c in panel.columns if c not in known):
        values = panel[column]
        if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
            continue
        emails = values.astype(str).str.fullmatch(_EMAIL_VALUE.pattern) & values.notna()
        if emails.any():
            problems.append(
                _problem(panel, emails, column, "e-mail addresses (the panel is team-level)")
            )
    return problems


def _check_org(panel: pd.DataFrame) -> list[str]:
    """``org`` is a non-missing label, the same in every week of a team."""
    missing = panel["org"].isna()
    if missing.any():
        return [_problem(panel, missing, "org", "missing values (every team belongs to an org)")]
    panel["org"] = panel["org"].astype(str)
    orgs = panel.groupby("team_id", sort=False)["org"].nunique()
    moving = orgs.index[orgs > 1]
    if len(moving) == 0:
        return []
    changes = panel.loc[panel["team_id"].isin(moving[:3]), ["team_id", "org"]].drop_duplicates()
    examples = "; ".join(
        f"{team}: {', '.join(map(repr, group['org']))}"
        for team, group in changes.groupby("team_id")
    )
    return [
        f"`org` changes within {len(moving):,} team(s) ({examples}); it must be constant within "
        "a team: give a team that moved the org it spent most weeks in, or split it into two "
        "team_ids"
    ]


def _problem(
    panel: pd.DataFrame,
    mask: pd.Series,
    column: str,
    what: str,
    extra: list[str] | None = None,
) -> str:
    """A message naming the column, counting the rows, and showing up to five of them."""
    mask = mask.fillna(False).astype(bool)
    shown = [c for c in dict.fromkeys(["team_id", "week", column, *(extra or [])]) if c in panel]
    rows = panel.loc[mask, shown].head(_MAX_SHOWN)
    rows.insert(0, "row", rows.index + 1)  # 1-based position in the input (file: line - 1)
    count = int(mask.sum())
    noun = "row" if count == 1 else "rows"
    return f"column `{column}` has {what} in {count} {noun}, e.g.:\n{rows.to_string(index=False)}"


def _warn_small_teams(panel: pd.DataFrame, min_team_size: int) -> None:
    small = panel["n_builders"] < min_team_size
    if not small.any():
        return
    teams = panel.loc[small, "team_id"].unique()
    examples = ", ".join(map(str, teams[:_MAX_SHOWN]))
    warnings.warn(
        f"{len(teams)} team(s) have {int(small.sum())} team-week(s) with fewer than "
        f"{min_team_size} builders (e.g. {examples}); reports suppress them "
        "(cts.suppress_small_teams) because velocity of so few people describes individuals.",
        PanelWarning,
        stacklevel=3,
    )
