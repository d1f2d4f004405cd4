"""The validation figures the docs quote are the figures of ``reports/validation.md``.

``make validate`` writes ``reports/validation.md`` (not committed: about 32 minutes on 2 idle
cores). When it is there, the docs' summaries of it must match it: the headline of
``bias_corrected`` on clean panels and the size table with 30 teams
(``docs/analyses/adoption.md``). Without the report the test skips and says so; after
``make validate``, running this file names every figure to update.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
REPORT = ROOT / "reports" / "validation.md"
ADOPTION_DOC = ROOT / "docs" / "analyses" / "adoption.md"


def markdown_tables(text: str) -> dict[str, list[pd.DataFrame]]:
    """Every Markdown table of ``text``, by the ``##`` heading above it."""
    tables: dict[str, list[pd.DataFrame]] = {}
    heading, rows = "", []

    def close() -> None:
        if len(rows) > 2:
            cells = [[c.strip() for c in row.strip().strip("|").split("|")] for row in rows]
            tables.setdefault(heading, []).append(pd.DataFrame(cells[2:], columns=cells[0]))
        rows.clear()

    for line in text.splitlines():
        if line.startswith("|"):
            rows.append(line)
            continue
        close()
        if line.startswith("## "):
            heading = line[3:].strip()
    close()
    return tables


def _percent(values: pd.Series) -> pd.Series:
    return values.str.rstrip("%").astype(float)


def _report() -> str:
    if not REPORT.exists():
        pytest.skip("reports/validation.md is absent: run `make validate` to check the docs")
    return REPORT.read_text()


def test_markdown_tables_are_read_by_heading():
    text = "## a\n\n| x | y |\n|---|---|\n| 1 | 2% |\n| 3 | 4% |\n\n## b\n\n| z |\n|---|\n| 5 |\n"
    tables = markdown_tables(text)
    assert list(tables) == ["a", "b"]
    assert _percent(tables["a"][0]["y"]).tolist() == [2.0, 4.0]


def test_the_headline_of_bias_corrected_is_the_reports():
    report, doc = _report(), ADOPTION_DOC.read_text()
    claim = re.search(
        r"\*\*Proof by simulation\*\*.*?\|relative bias\| <= ([\d.]+)%.*?coverage between "
        r"([\d.]+)% and ([\d.]+)% at 39 and 104\s+weeks.*?(\d+) of (\d+) target cells",
        doc,
        re.DOTALL,
    )
    assert claim, "the docs' headline of bias_corrected has changed shape; update this test"
    tables = markdown_tables(report)
    main = pd.concat([tables[o][0] for o in ("cr_velocity", "deploy_velocity") if o in tables])
    ours = main.loc[main["method"] == "bias_corrected"]
    judged = ours.loc[ours["n_weeks"].isin(["39", "104"])]
    coverage = _percent(judged["coverage"])
    expected = {
        "max |relative bias| (%)": round(_percent(ours["rel_bias_pct"]).abs().max(), 1),
        "lowest coverage (%)": round(coverage.min(), 1),
        "highest coverage (%)": round(coverage.max(), 1),
    }
    quoted = dict(zip(expected, map(float, claim.groups()[:3]), strict=True))
    assert quoted == expected
    met = re.search(r"bias_corrected meets the target in (\d+) of (\d+) cells", report)
    assert claim.groups()[3:] == met.groups()


def test_the_size_table_with_30_teams_is_the_reports():
    report, doc = _report(), ADOPTION_DOC.read_text()
    tables = markdown_tables(report)
    heading = next(h for h in tables if h.startswith("Inference with 30 teams"))
    size = tables[heading][0]
    quoted = markdown_tables(doc.split("**Size with 30 teams**", 1)[1])[""][0]
    for (share, row), (_, quote) in zip(
        size.groupby("never_adopter_share", sort=False), quoted.iterrows(), strict=True
    ):
        for inference, column in (
            ("cluster", "clustered SEs"),
            ("wild_bootstrap", "wild bootstrap"),
            ("randomization", "randomization"),
        ):
            rates = _percent(row[inference])
            assert quote[column] == f"{rates.min():.1f}-{rates.max():.1f}%", (share, inference)
