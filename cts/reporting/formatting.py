"""Numbers and tables as a reader sees them: p-values, rounded estimates, money, HTML tables.

The reports and the notebooks call these instead of printing ``summary()`` text or a raw
DataFrame, so that every report reads the same way: p-values as ``< 0.001`` or ``0.22``,
estimates to three significant digits, money with its currency, tables with labelled columns
and no pandas index, and every string from the data escaped.
"""

from __future__ import annotations

import html
import math
import re
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pandas as pd

from cts.analyses.value import format_money as money_words
from cts.core.results import Result, format_p, p_phrase

__all__ = [
    "ESTIMATE_LABELS",
    "format_count",
    "format_money",
    "format_number",
    "format_p",
    "format_percent",
    "format_power",
    "format_power_grid",
    "format_signed",
    "html_table",
    "p_phrase",
    "plain_words",
    "result_html",
    "side_by_side",
]

#: What a missing value shows as in a table.
MISSING = "—"


def _missing(value: Any) -> bool:
    try:
        return value is None or bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def format_number(value: float, digits: int = 3) -> str:
    """``value`` to ``digits`` significant digits, with thousands separators and no
    scientific notation: 2.89096 -> ``2.89``, 0.012345 -> ``0.0123``, 12345.6 -> ``12,346``."""
    if _missing(value):
        return MISSING
    value = float(value)
    if not math.isfinite(value):
        return MISSING
    if value == 0:
        return "0"
    magnitude = math.floor(math.log10(abs(value)))
    decimals = max(0, digits - 1 - magnitude)
    return f"{value:,.{decimals}f}"


def format_signed(value: float, decimals: int = 3) -> str:
    """An estimate with its sign to fixed ``decimals``, so a column of them lines up:
    ``+0.051``, ``-1.250``, ``+12.345``."""
    if _missing(value) or not math.isfinite(float(value)):
        return MISSING
    return f"{float(value):+,.{decimals}f}"


def format_count(value: float) -> str:
    """A whole number with thousands separators: ``29,427``."""
    return MISSING if _missing(value) else f"{int(round(float(value))):,}"


def format_percent(share: float, decimals: int = 0) -> str:
    """A share as a percentage (``0.253`` -> ``25%``); a share that rounds to 0% or 100% but
    is not exactly it reads ``< 1%`` / ``> 99%``."""
    if _missing(share):
        return MISSING
    share = float(share)
    text = f"{share:.{decimals}%}"
    step = 10 ** (-decimals) / 100
    if 0 < share < step / 2:
        return f"< {step:.{decimals}%}"
    if 1 - step / 2 < share < 1:
        return f"> {1 - step:.{decimals}%}"
    return text


def format_money(value: float, currency: str = "USD") -> str:
    """An amount with its currency to three significant digits, as the reports' prose says
    money (:func:`cts.analyses.value.format_money`): ``USD 1,230``, ``USD 3.66 million``,
    ``USD 12.3``; a missing amount is a dash."""
    if _missing(value) or not math.isfinite(float(value)):
        return MISSING
    return money_words(float(value), currency)


def format_power(power: float, mcse: float, reps: int) -> str:
    """Simulated power with its Monte Carlo precision: ``63% (Monte Carlo standard error 7
    percentage points, 50 simulated panels)``; when every (or no) simulated panel detected the
    effect the standard error is zero, and the sentence says what happened instead, with the
    one-sided 95% Clopper-Pearson bound on power (``0.05 ** (1 / reps)``: at least 74% when all
    of 10 panels detected it)."""
    if _missing(power):
        return MISSING
    detected = round(float(power) * reps)
    bound = 0.05 ** (1 / reps) if reps > 0 else 0.0
    if detected == reps:
        return (
            f"{format_percent(power)} (all {reps:,} simulated panels detected it: at least "
            f"{math.floor(100 * bound):.0f}% with 95% confidence)"
        )
    if detected == 0:
        return (
            f"{format_percent(power)} (none of {reps:,} simulated panels detected it: at most "
            f"{math.ceil(100 * (1 - bound)):.0f}% with 95% confidence)"
        )
    return (
        f"{format_percent(power)} (Monte Carlo standard error {100 * float(mcse):.0f} percentage "
        f"points, {reps:,} simulated panels)"
    )


def format_power_grid(reps: Sequence[int], mcse: Sequence[float]) -> str:
    """The Monte Carlo precision of a power grid (:func:`cts.power_study`) in words: the
    simulated panels per point (fewer where a design stopped early) and the largest standard
    error of a point, here and whatever the power (``0.5 / sqrt(most panels)``)."""
    fewest, most = int(min(reps)), int(max(reps))
    panels = (
        f"{most} simulated panels"
        if fewest == most
        else f"{fewest} to {most} simulated panels (fewer where power was pinned down early)"
    )
    return (
        f"Each point: {panels}, so a Monte Carlo standard error of at most "
        f"{100 * float(max(mcse)):.0f} percentage points here and "
        f"{50 / math.sqrt(most):.0f} whatever the power (bars: 95%)."
    )


_KINDS: dict[str, Callable[[Any], str]] = {
    "number": format_number,
    "signed": format_signed,
    "count": format_count,
    "p": format_p,
    "percent": format_percent,
    "text": lambda value: MISSING if _missing(value) else str(value),
}


def _formatter(kind: str | Callable[[Any], str]) -> Callable[[Any], str]:
    if callable(kind):
        return kind
    if kind.startswith("money:"):
        currency = kind.split(":", 1)[1]
        return lambda value: format_money(value, currency)
    if kind not in _KINDS:
        raise ValueError(f"unknown column format {kind!r}: one of {', '.join(_KINDS)}, money:CUR")
    return _KINDS[kind]


def _default_kind(series: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(series):
        return "text"
    if pd.api.types.is_integer_dtype(series):
        return "count"
    if pd.api.types.is_numeric_dtype(series):
        return "p" if str(series.name).startswith("p_") or series.name == "p" else "number"
    return "text"


def html_table(
    frame: pd.DataFrame,
    labels: Mapping[str, str] | None = None,
    formats: Mapping[str, str | Callable[[Any], str]] | None = None,
    *,
    index: str | None = None,
    caption: str | None = None,
    groups: Mapping[str, Sequence[str]] | None = None,
) -> str:
    """``frame`` as an HTML table for a report: labelled columns, formatted cells, every string
    escaped.

    Parameters
    ----------
    frame
        The table. Only the columns named in ``labels`` are shown, in that order (all columns
        when ``labels`` is None, under their own names).
    labels
        Column -> header a reader understands (``{"cts_sw_cost": "CTS-SW (USD per unit)"}``).
    formats
        Column -> ``"number"`` (3 significant digits), ``"signed"``, ``"count"``, ``"p"``
        (:func:`format_p`), ``"percent"``, ``"money:USD"``, ``"text"`` or a function of the
        value. By default: integers as counts, columns named ``p_*`` as p-values, other
        numbers to 3 significant digits, the rest as text.
    index
        Header of the index column, or None to leave the index out (a pandas RangeIndex or a
        code name says nothing to a reader: put what it holds in a column or label it here).
    caption
        A sentence above the table (escaped).
    groups
        Header -> the (adjacent, shown) columns it spans, in a header row above the labels
        (e.g. one outcome's columns of a side-by-side table); other columns get an empty cell.
    """
    labels = dict(labels) if labels is not None else {str(c): str(c) for c in frame.columns}
    formats = dict(formats or {})
    if index is not None and frame.index.nlevels > 1:
        raise ValueError("html_table shows one index level: reset_index() the others")
    body = frame.reset_index(drop=True)
    columns = list(labels)
    if index is not None:
        body.insert(0, "__index__", frame.index.to_numpy())
        columns = ["__index__", *columns]
        labels = {"__index__": index, **labels}
    head = "<tr>" + "".join(f"<th>{html.escape(str(labels[c]))}</th>" for c in columns) + "</tr>"
    if groups:  # marked, so that a check for pandas' index-name row can tell them apart
        head = f'<tr class="cts-groups">{_group_row(columns, groups)}</tr>{head}'
    cells = {
        c: body[c].map(_formatter(formats.get(c) or _default_kind(body[c]))).astype(str)
        for c in columns
    }
    rows = "".join(
        "<tr>" + "".join(f"<td>{html.escape(cells[c].iloc[i])}</td>" for c in columns) + "</tr>"
        for i in range(len(body))
    )
    above = f"<p>{html.escape(caption)}</p>" if caption else ""
    return f'{above}<table class="cts-table"><thead>{head}</thead><tbody>{rows}</tbody></table>'


def _group_row(columns: list[str], groups: Mapping[str, Sequence[str]]) -> str:
    """The header row of :func:`html_table`'s ``groups``: one cell spanning each group."""
    owner = {column: name for name, members in groups.items() for column in members}
    cells, k = [], 0
    while k < len(columns):
        name = owner.get(columns[k])
        span = 1
        while k + span < len(columns) and name is not None and owner.get(columns[k + span]) == name:
            span += 1
        text = html.escape(str(name)) if name is not None else ""
        cells.append(f'<th colspan="{span}">{text}</th>' if span > 1 else f"<th>{text}</th>")
        k += span
    return "".join(cells)


def side_by_side(
    tables: Mapping[str, pd.DataFrame], columns: Sequence[str]
) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    """Tables with the same rows (one per outcome, say) joined column-wise for
    :func:`html_table`: ``columns`` of each table as ``"<key>|<column>"``, rows in the first
    table's order (rows only another has come after, empty where a table lacks them).

    Returns
    -------
    frame : pandas.DataFrame
        The joined table.
    groups : dict
        Key -> its columns in ``frame`` (``html_table``'s ``groups``).
    """
    if not tables:
        raise ValueError("side_by_side needs at least one table")
    parts = [
        table[list(columns)].rename(columns=lambda column, key=key: f"{key}|{column}")
        for key, table in tables.items()
    ]
    frame = pd.concat(parts, axis=1, join="outer", sort=False)
    groups = {key: [f"{key}|{column}" for column in columns] for key in tables}
    return frame, groups


#: Column and option names a reader should not have to decode.
_WORDS = {
    "cr_velocity": "CRs merged per builder-week",
    "deploy_velocity": "deployments per builder-week",
    "rollback_rate": "rollbacks per deployment",
    "interventions_per_deploy": "manual interventions per deployment",
    "pages_per_oncall": "pages per on-call builder",
    "ai_usage_rate": "AI-assistant usage",
    "log_cts_sw": "log CTS-SW",
    "cts_sw": "CTS-SW",
}
_SNAKE = re.compile(r"\b([a-z]+(?:_[a-z0-9]+)+)\b")
_P_VALUE = re.compile(r"\b(p|Holm p|Wald p|adjusted p) = (\d+\.\d+)")
#: Estimate tables' columns, as a reader calls them.
ESTIMATE_LABELS = {
    "estimate": "estimate",
    "se": "standard error",
    "ci_low": "95% CI from",
    "ci_high": "to",
    "p_value": "p",
}


def plain_words(text: str) -> str:
    """``text`` without code names: known columns as a reader calls them, other
    ``snake_case`` words with spaces, and p-values as :func:`p_phrase` says them."""
    text = text.replace("method='auto'", "the automatic search")
    for name, words in _WORDS.items():
        text = re.sub(rf"\b{name}\b", words, text)
    text = _P_VALUE.sub(lambda m: p_phrase(float(m.group(2)), m.group(1)), text)
    return _SNAKE.sub(lambda m: m.group(1).replace("_", " "), text)


def result_html(result: Result, table: bool = True, index: str = "term") -> str:
    """A cts result for a report: its ``summary()`` as paragraphs in plain words (the text
    table it carries for terminals left out) and, with ``table``, its estimate table as an
    HTML table (:func:`html_table`), rows named in words under ``index``."""
    text = result.summary()
    frame = getattr(result, "table", None)
    if isinstance(frame, pd.DataFrame) and len(frame) <= 100:  # a summary prints small ones
        with warnings.catch_warnings():  # rounding a table with text columns warns
            warnings.simplefilter("ignore")
            for shown in (frame.round(4).to_string(), frame.to_string()):
                text = text.replace(shown, "")
    items, parts = [], []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("- "):
            items.append(f"<li>{html.escape(plain_words(line[2:]))}</li>")
            continue
        if items:
            parts.append(f"<ul>{''.join(items)}</ul>")
            items = []
        if line:
            parts.append(f"<p>{html.escape(plain_words(line))}</p>")
    if items:
        parts.append(f"<ul>{''.join(items)}</ul>")
    if table and isinstance(frame, pd.DataFrame) and frame.index.nlevels == 1 and len(frame) <= 100:
        columns = {c: label for c, label in ESTIMATE_LABELS.items() if c in frame.columns}
        named = frame.rename(index=lambda name: plain_words(str(name)))
        formats = {c: "signed" for c in ("estimate", "ci_low", "ci_high")}
        parts.append(html_table(named, columns, formats, index=index))
    return f"<div class='cts-result'>{''.join(parts)}</div>"
