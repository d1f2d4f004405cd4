"""One shape for every result: estimate tables, intervals, test statistics and the protocol.

Every public result object has

- ``table``: a tidy DataFrame; where estimates are reported its columns are
  ``estimate, se, ci_low, ci_high, p_value``;
- ``summary()``: plain-language text for people;
- ``tidy()``: ``table`` with its index as a column and the result's metadata as columns, for
  stacking results from several runs;
- ``_repr_html_()``: so a JupyterLab cell shows it without ``print``.

Test statistics are one small object, :class:`TestStatistic` (statistic, df, p-value, verdict),
as linearmodels' ``WaldTestStatistic``.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, SupportsFloat, cast

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats

__all__ = [
    "ESTIMATE_COLUMNS",
    "LEVEL",
    "Result",
    "TestStatistic",
    "critical_value",
    "draws_p_value",
    "estimate_table",
    "format_p",
    "p_phrase",
]

#: The columns of every estimate table.
ESTIMATE_COLUMNS = ["estimate", "se", "ci_low", "ci_high", "p_value"]
#: The default confidence level of every interval.
LEVEL = 0.95


def critical_value(level: float = LEVEL) -> float:
    """Two-sided normal critical value for a ``level`` interval (1.96 at 0.95)."""
    if not 0 < level < 1:
        raise ValueError(f"level must be between 0 and 1, got {level}")
    return float(stats.norm.ppf(0.5 + level / 2))


def draws_p_value(draws: np.ndarray) -> float:
    """Two-sided p-value of "no effect" from draws of an estimate: twice the smaller share of
    draws on either side of zero, at most one (so it is below ``1 - level`` about when the
    draws' central ``level`` interval excludes zero). NaN without draws."""
    draws = np.asarray(draws, dtype=float)
    if not draws.size:
        return float("nan")
    return float(min(1.0, 2 * min(np.mean(draws <= 0), np.mean(draws >= 0))))


def format_p(p: object) -> str:
    """A p-value for a reader: ``< 0.001``; three decimals below 0.1 (where 0.049 and 0.051
    differ in what a reader concludes), two above; ``> 0.99`` at the top (a Holm-adjusted
    p-value capped at one is not "exactly 1"); ``—`` when there is none (any ``p`` that
    ``float()`` rejects, or NaN)."""
    try:
        # float() raises TypeError for anything else, which reads as "no p-value"
        value = float(cast("SupportsFloat | str", p))
    except (TypeError, ValueError):
        return "—"
    if not np.isfinite(value):
        return "—"
    if value < 0.001:
        return "< 0.001"
    if value < 0.1:
        return f"{value:.3f}"
    if value > 0.99:
        return "> 0.99"
    return f"{value:.2f}"


def p_phrase(p: float, name: str = "p") -> str:
    """``p = 0.22``, ``p < 0.001`` or ``p > 0.99`` (see :func:`format_p`)."""
    shown = format_p(p)
    return f"{name} {shown}" if shown[0] in "<>" else f"{name} = {shown}"


def estimate_table(estimates: pd.Series, se: npt.ArrayLike, level: float = LEVEL) -> pd.DataFrame:
    """``estimate, se, ci_low, ci_high, p_value`` (normal), indexed like ``estimates``."""
    values = estimates.to_numpy(float)
    se = np.asarray(se, dtype=float)
    z = critical_value(level)
    return pd.DataFrame(
        {
            "estimate": values,
            "se": se,
            "ci_low": values - z * se,
            "ci_high": values + z * se,
            "p_value": 2 * stats.norm.sf(np.abs(values / se)),
        },
        index=estimates.index,
    )


class Result:
    """Mixin giving a result object the shared protocol.

    A subclass has a ``table`` attribute and a ``summary()`` method; it lists in
    ``_metadata_fields`` the scalar attributes that describe the run (outcome, method, n_obs,
    ...), which :meth:`tidy` adds as columns.
    """

    _metadata_fields: tuple[str, ...] = ()

    if TYPE_CHECKING:  # a subclass stores it (a dataclass field) or derives it (a property)

        @property
        def table(self) -> pd.DataFrame: ...

    def summary(self) -> str:  # pragma: no cover - every subclass overrides
        raise NotImplementedError

    def metadata(self) -> dict[str, Any]:
        """The scalar attributes that describe this result."""
        return {name: getattr(self, name) for name in self._metadata_fields}

    def tidy(self) -> pd.DataFrame:
        """``table`` with its index as a column and :meth:`metadata` as constant columns (a
        metadata name that is already a column of the table is not repeated)."""
        tidy = self.table.reset_index()
        for name, value in self.metadata().items():
            if name not in tidy.columns:
                tidy[name] = value
        return tidy

    def _repr_html_(self) -> str:
        lines = "".join(f"<p>{html.escape(line)}</p>" for line in self.summary().splitlines())
        p_columns = [c for c in self.table.columns if str(c) in ("p_value", "p_adjusted")]
        table = self.table.to_html(
            float_format="{:.4g}".format, formatters={c: format_p for c in p_columns}
        )
        return f"<div class='cts-result'>{lines}{table}</div>"

    def __str__(self) -> str:
        return self.summary()

    def __repr__(self) -> str:
        """The summary under a header naming the class and its metadata (as linearmodels does),
        so a terminal shows the result, not ``<... object at 0x...>``."""
        fields = ", ".join(f"{name}={value!r}" for name, value in self.metadata().items())
        return f"{type(self).__name__}({fields})\n{self.summary()}"


@dataclass(frozen=True)
class TestStatistic:
    """A test statistic with its reference distribution, p-value and verdict.

    Attributes
    ----------
    name
        What is tested, in words ("joint pre-trend test").
    statistic, df, p_value
        The statistic, its degrees of freedom (``None`` where it has none) and p-value.
    null
        The null hypothesis, in words.
    distribution
        ``"chi2"``, ``"F"``, ``"normal"`` or the resampling scheme.
    alpha
        The level at which the verdict rejects.
    """

    __test__ = False  # not a pytest test class

    name: str
    statistic: float
    df: float | None
    p_value: float
    null: str
    distribution: str = "chi2"
    alpha: float = 0.05

    @property
    def rejected(self) -> bool:
        """Whether the null is rejected at ``alpha``."""
        return bool(self.p_value < self.alpha)

    @property
    def verdict(self) -> str:
        word = "rejected" if self.rejected else "not rejected"
        return f"{self.null}: {word} at {self.alpha:.0%} ({p_phrase(self.p_value)})"

    @property
    def table(self) -> pd.DataFrame:
        return pd.DataFrame(
            {"statistic": [self.statistic], "df": [self.df], "p_value": [self.p_value]},
            index=pd.Index([self.name], name="test"),
        )

    def summary(self) -> str:
        df = f", df {self.df:g}" if self.df is not None else ""
        return f"{self.name}: {self.distribution} = {self.statistic:.3f}{df}; {self.verdict}"

    def _repr_html_(self) -> str:
        return f"<p>{html.escape(self.summary())}</p>"
