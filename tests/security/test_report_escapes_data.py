"""Strings from the data never reach a report as markup: team ids, the panel's file name, column
names and attributes are shown as text in every HTML file a run writes, and the currency is an
ISO 4217 code or refused.

Reports are shared by e-mail and on intranets, so any string from the data is untrusted.
"""

from __future__ import annotations

import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pandas as pd
import pytest

import cts
from cts.reporting.builder import ANALYSES, NOTEBOOKS_DIR, build_reports

ROOT = Path(__file__).resolve().parents[2]
#: Team ids that run script when a report renders them as markup (the Markdown link runs too
#: when Markdown is rendered).
TEAM_PAYLOADS = (
    "<script>alert(1)</script>",
    "<svg onload=alert(2)>",
    '<a href="javascript:alert(3)">x</a>',
    "[x](javascript:alert(4))",
)
COLUMN_PAYLOAD = "<img src=x onerror=alert(5)>"
FILE_PAYLOAD = "<img src=x onerror=alert(6)>"
ATTRS_PAYLOAD = "<svg onload=alert(7)>"
#: Light settings: this test is about what reaches the HTML, not about the statistics.
QUICK = {"power_reps": 10, "power_teams": [25], "power_weeks": [26], "inference_reps": 99}


class _ActiveContent(HTMLParser):
    """Markup that would run a payload: an event-handler attribute or a ``javascript:`` URL
    that calls ``alert(``, or a script whose code does. Escaped text is data, not markup."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            value = (value or "").strip().lower()
            if (name.startswith("on") and "alert(" in value) or value.startswith("javascript:"):
                self.found.append(f"<{tag} {name}={value!r}>")
        self._in_script = tag == "script"

    def handle_endtag(self, tag):
        self._in_script = False

    def handle_data(self, data):
        if self._in_script and "alert(" in data:
            self.found.append(f"<script>{data.strip()[:80]}</script>")


def active_content(page: str) -> list[str]:
    parser = _ActiveContent()
    parser.feed(page)
    parser.close()
    return parser.found


def test_the_detector_finds_every_payload_as_markup_and_none_as_text():
    from cts.reporting.notebook import escaped_text

    for payload in (*TEAM_PAYLOADS[:3], COLUMN_PAYLOAD, FILE_PAYLOAD, ATTRS_PAYLOAD):
        assert active_content(f"<p>{payload}</p>"), payload
        assert not active_content(f"<p>{escaped_text(payload)}</p>"), payload


def hostile_panel(folder: Path) -> Path:
    """A small simulated panel whose team ids, an extra column's name, its attributes and its
    file name carry script; the hostile teams each have a small team-week, so the
    data-quality note names them in every report."""
    raw = cts.simulate_org(20, 26, seed=3).panel
    teams = raw["team_id"].drop_duplicates().tolist()
    raw["team_id"] = raw["team_id"].replace(dict(zip(teams, TEAM_PAYLOADS, strict=False)))
    first_weeks = raw.groupby("team_id")["week"].transform("min") == raw["week"]
    small = raw["team_id"].isin(TEAM_PAYLOADS) & first_weeks
    raw.loc[small, "n_builders"] = 3
    for column in ("ai_active_builders", "oncall_builders"):
        raw.loc[small, column] = raw.loc[small, column].clip(upper=3)
    raw[COLUMN_PAYLOAD] = raw.index % 7  # an extra covariate the contract does not know
    raw.attrs = {"description": ATTRS_PAYLOAD}  # pandas keeps attrs in the parquet file
    path = folder / f"{FILE_PAYLOAD}.parquet"
    raw.to_parquet(path, index=False)
    return path


def test_report_escapes_team_ids_file_name_column_names_and_attrs(tmp_path):
    """The whole report set, built as `cts report` builds it: no payload is markup in any HTML
    file, and the payloads do reach the reports, as text."""
    panel = hostile_panel(tmp_path)
    out = tmp_path / "reports"
    runs = build_reports(panel, out, parameters={**QUICK, "currency": "eur"}, progress=False)
    assert all(run.ok for run in runs), [(r.analysis.name, r.error) for r in runs if not r.ok]
    pages = sorted(out.rglob("*.html"))
    expected = {"index.html"} | {f"{a.name}{kind}.html" for a in ANALYSES for kind in ("", ".code")}
    assert {p.name for p in pages} == expected
    found = {p.name: active_content(p.read_text()) for p in pages}
    assert not any(found.values()), {name: hits for name, hits in found.items() if hits}
    # Not vacuous: the hostile team ids are named (as text) in the notes of every report that
    # shows them, and the file name in every report's provenance and in the brief's footer.
    named = pd.Series({p.name: p.read_text() for p in pages})
    with_notes = [page for page, text in named.items() if "Data-quality notes" in text]
    # The panel report holds them for every report (the others link to it).
    assert {"00_panel_overview.html", "00_panel_overview.code.html"} <= set(with_notes)
    for page in with_notes:
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in named[page], page
    for page in named.index.drop("index.html"):
        assert "&lt;img src=x onerror=alert(6)&gt;.parquet" in named[page], page
    assert "&lt;img src=x onerror=alert(6)&gt;.parquet" in named["index.html"]
    assert "EUR" in named["01_cost_to_serve.html"]


@pytest.mark.parametrize(
    "currency", ["<b>EUR</b>", "<script>alert(1)</script>", "EURO", "", "US D"]
)
def test_report_refuses_a_currency_that_is_not_an_iso_4217_code(tmp_path, currency):
    """Before any notebook runs, with the value named (quoted) and the earlier set untouched."""
    out = tmp_path / "reports"
    out.mkdir()
    (out / "index.html").write_text("previous run")
    sample = ROOT / "data" / "sample" / "panel_sample.csv"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "cts",
            "report",
            "--panel",
            str(sample),
            "--out",
            str(out),
            "--currency",
            currency,
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
        timeout=120,
    )
    assert result.returncode == 2, result.stderr
    assert f"ISO 4217 code such as USD, EUR or GBP, not {currency!r}" in result.stderr
    assert "Traceback" not in result.stderr
    assert (out / "index.html").read_text() == "previous run"


def test_currency_codes_are_iso_4217_in_capitals():
    from cts.reporting.notebook import check_currency

    assert check_currency("eur") == "EUR" and check_currency(" JPY ") == "JPY"
    with pytest.raises(ValueError, match=r"not '<svg onload=alert\(1\)>'"):
        check_currency("<svg onload=alert(1)>")
    with pytest.raises(ValueError, match="not None"):
        check_currency(None)


@pytest.mark.parametrize("analysis", sorted({a.notebook for a in ANALYSES}))
def test_notebooks_check_their_currency_parameter(analysis):
    """A notebook run on its own (papermill, JupyterLab) refuses a bad currency too."""
    notebook = nbformat.read(NOTEBOOKS_DIR / analysis, as_version=4)
    code = [cell.source for cell in notebook.cells if cell.cell_type == "code"]
    if "currency =" in code[0]:
        assert any("currency = notebook.check_currency(currency)" in c for c in code[1:])
    assert not any(".style" in c and "styled(" not in c for c in code[1:]), (
        "show tables with notebook.styled (it escapes) or as DataFrames, not a bare Styler"
    )


def test_styled_tables_escape_cells_labels_and_index_names():
    from cts.reporting.notebook import styled

    payload = "<svg onload=alert(1)>"
    table = pd.DataFrame({payload: [payload, "b"], "n": [1, 2]}, index=[payload, "x"])
    table.index.name = payload
    table.columns.name = payload
    page = styled(table.rename_axis(payload)).to_html()
    assert not active_content(page), active_content(page)
    assert page.count("&lt;svg onload=alert(1)&gt;") >= 4
