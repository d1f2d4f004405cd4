"""Numbers and tables as a reader sees them: p-values, rounded estimates, money, HTML tables.

The reports and the notebooks call these instead of printing ``summary()`` text or a raw
DataFrame, so that every report reads the same way: p-values as ``< 0.001`` or ``0.22``,
estimates to three significant digits, money with its currency, tables with labelled columns
and no pandas index, and every string from the data escaped.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd

__all__ = [
    "format_count",
    "format_money",
    "format_number",
    "format_p",
    "format_percent",
    "format_signed",
    "html_table",
]

#: What a missing value shows as in a table.
MISSING = "—"


def _missing(value: Any) -> bool:
    try:
        return value is None or bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def format_p(p: float) -> str:
    """A p-value for a reader: ``< 0.001``, three decimals below 0.01, two above, ``> 0.99``
    at the top (a Holm-adjusted p-value capped at one is not "exactly 1")."""
    if _missing(p):
        return MISSING
    p = float(p)
    if p < 0.001:
        return "< 0.001"
    if p < 0.01:
        return f"{p:.3f}"
    if p > 0.99:
        return "> 0.99"
    return f"{p:.2f}"


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


def format_signed(value: float, digits: int = 3) -> str:
    """As :func:`format_number`, with a sign: ``+0.0123``, ``-1.25``."""
    text = format_number(value, digits)
    if text in (MISSING, "0") or text.startswith("-"):
        return text
    return f"+{text}"


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
    """An amount with its currency, to the unit: ``USD 1,234``; ``USD 12.3`` below 100."""
    if _missing(value) or not math.isfinite(float(value)):
        return MISSING
    value = float(value)
    shown = f"{value:,.0f}" if abs(value) >= 100 else format_number(value)
    return f"{currency} {shown}"


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
    head = "".join(f"<th>{html.escape(str(labels[c]))}</th>" for c in columns)
    cells = {
        c: body[c].map(_formatter(formats.get(c) or _default_kind(body[c]))).astype(str)
        for c in columns
    }
    rows = "".join(
        "<tr>" + "".join(f"<td>{html.escape(cells[c].iloc[i])}</td>" for c in columns) + "</tr>"
        for i in range(len(body))
    )
    above = f"<p>{html.escape(caption)}</p>" if caption else ""
    return (
        f'{above}<table class="cts-table"><thead><tr>{head}</tr></thead>'
        f"<tbody>{rows}</tbody></table>"
    )
