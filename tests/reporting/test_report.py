"""The notebooks as committed, and the HTML reports they become (rendered in headless Chromium)."""

import ast
import asyncio
import base64
import html
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from cts.reporting.builder import (
    ANALYSES,
    CHROMIUM_FLAGS,
    Analysis,
    build_reports,
    ipc_kernel_manager,
)

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
SAMPLE = ROOT / "data" / "sample" / "panel_sample.csv"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_notebooks_have_no_outputs_and_a_literal_parameters_cell(path):
    notebook = nbformat.read(path, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code), (
        f"{path.name} has outputs: run `make strip`"
    )
    first = code[0]
    assert "parameters" in first.metadata.get("tags", []), f"{path.name}: tag the first code cell"
    names = set()
    for statement in ast.parse(first.source).body:
        assert isinstance(statement, ast.Assign), f"{path.name}: parameters must be assignments"
        ast.literal_eval(statement.value)  # literals only: papermill injects over them
        names |= {target.id for target in statement.targets}
    assert {"panel_path", "start", "end", "seed"} <= names


def test_every_notebook_is_a_report_and_every_report_a_notebook():
    assert {a.notebook for a in ANALYSES} == {p.name for p in NOTEBOOKS}
    assert len({a.name for a in ANALYSES}) == len(ANALYSES)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("reports")
    runs = build_reports(SAMPLE, out, progress=False)
    return out, runs


def test_report_builds_every_analysis_with_headlines(built):
    out, runs = built
    assert [r.analysis.name for r in runs] == [a.name for a in ANALYSES]
    assert all(r.ok for r in runs), [r.error for r in runs if not r.ok]
    index = (out / "index.html").read_text()
    for analysis in ANALYSES:
        assert f'href="{analysis.name}.html"' in index
        assert f'href="{analysis.name}.code.html"' in index
        report = (out / f"{analysis.name}.html").read_text()
        assert "data SHA-256" in report and "<img" in report
        assert "Traceback" not in report
        assert "No description has been provided" not in report  # every chart has alt text
    assert all(r.headlines for r in runs)
    assert "Net return of the AI assistant" in index and "Quality guardrails" in index
    assert not (out / "failed").exists()
    assert not list(out.glob(".*.tmp"))
    # The reader's version hides code; the analyst's shows it.
    assert "fit_drivers" not in (out / "02_drivers.html").read_text()
    assert "fit_drivers" in (out / "02_drivers.code.html").read_text()


#: Smaller simulations for the extra panels: the sample's report covers the full settings.
QUICK = {
    "power_reps": 10,
    "grid_reps": 10,
    "power_teams": [25],
    "power_weeks": [26],
    "inference_reps": 99,
}


@pytest.mark.parametrize("shape", ["without_architecture", "one_repository"])
def test_every_report_runs_on_every_panel_the_loader_accepts(tmp_path, shape):
    """Sections that a panel cannot support say why; the rest of each report still runs."""
    panel = pd.read_csv(SAMPLE, dtype={"team_id": str})
    if shape == "without_architecture":
        panel = panel.drop(columns="architecture")
        missing = {"01_cost_to_serve": "--unit deployments", "02_drivers": "Drivers"}
    else:  # what `cts build-panel --git` makes of one repository: one team, no pipeline data
        panel = panel.loc[panel["team_id"] == panel["team_id"].iloc[0]]
        panel[["pages", "manual_interventions", "oncall_builders"]] = 0
        missing = {"03_adoption_effect_cr_velocity": "Adoption effect", "05_impact": "worth"}
    path = tmp_path / "panel.csv"
    panel.to_csv(path, index=False)
    out = tmp_path / "reports"
    runs = build_reports(path, out, parameters=QUICK, progress=False)
    assert all(r.ok for r in runs), [(r.analysis.name, r.error) for r in runs if not r.ok]
    for name, title in missing.items():
        report = (out / f"{name}.html").read_text()
        assert "cannot be estimated on this panel" in report and title in report, name
        assert "Traceback" not in report
    # The brief says which sections were left out, in amber.
    assert "Left out because this panel cannot support them" in (out / "index.html").read_text()


def test_a_section_that_cannot_be_estimated_says_why_and_the_next_runs(capsys):
    from numpy.linalg import LinAlgError

    from cts.reporting.notebook import section

    with section("Singular"):
        raise LinAlgError("Singular matrix")
    with section("Singular"):
        undefined_name  # noqa: B018, F821 - a later block of the failed section: skipped
    with section("Fine"):
        shown = 1
    assert shown == 1
    printed = capsys.readouterr().out
    assert "Singular cannot be estimated on this panel: LinAlgError: Singular matrix" in printed
    with pytest.raises(AssertionError), section("Fine"):
        raise AssertionError("a failed check still stops the notebook")
    with pytest.raises(KeyError), section("Other"):
        raise KeyError("a bug is not a property of the data")


def _tiny_notebook(path: Path, source: str) -> None:
    notebook = nbformat.v4.new_notebook()
    parameters = nbformat.v4.new_code_cell('panel_path = ""\nstart = None\nend = None\nseed = 0')
    parameters.metadata["tags"] = ["parameters"]
    notebook.cells = [parameters, nbformat.v4.new_code_cell(source)]
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    notebook.metadata["language_info"] = {"name": "python"}
    nbformat.write(notebook, path)


def test_a_run_is_one_set_a_failure_shows_its_error_not_an_older_success(tmp_path):
    notebooks, out = tmp_path / "notebooks", tmp_path / "reports"
    notebooks.mkdir()
    _tiny_notebook(notebooks / "good.ipynb", "print('fine')")
    _tiny_notebook(notebooks / "flaky.ipynb", "print('first run')")
    analyses = (Analysis("good", "good.ipynb", "Good"), Analysis("flaky", "flaky.ipynb", "Flaky"))
    first = build_reports(SAMPLE, out, analyses=analyses, notebooks_dir=notebooks, progress=False)
    assert all(r.ok for r in first)
    (out / "validation.md").write_text("kept")  # not a report: carried over
    (out / "screenshots").mkdir()  # pictures of the old reports: not carried over
    _tiny_notebook(
        notebooks / "flaky.ipynb", "from cts import PanelError\nraise PanelError(['one', 'two'])"
    )
    second = build_reports(SAMPLE, out, analyses=analyses, notebooks_dir=notebooks, progress=False)
    assert [r.ok for r in second] == [True, False]
    # The whole message, every line, not only its last.
    assert second[1].error.startswith("PanelError: one\n\ntwo"), second[1].error
    assert not (out / "flaky.html").exists()  # the earlier run's success is gone
    failed = nbformat.read(out / "failed" / "flaky.ipynb", as_version=4)
    assert failed.cells[-1].outputs[-1]["output_type"] == "error"
    index = (out / "index.html").read_text()
    assert "FAILED" in index and "one\n\ntwo" in index and 'href="failed/flaky.html"' in index
    assert (out / "validation.md").read_text() == "kept"
    assert not (out / "screenshots").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notebooks", "reports"]  # no leftovers
    # The command line names the failure and exits non-zero.
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "cts",
            "report",
            "--panel",
            str(tmp_path / "missing.parquet"),
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    assert result.returncode == 2 and "no panel at" in result.stderr


def test_a_bad_panel_is_refused_whole_before_any_notebook_runs(tmp_path):
    bad = tmp_path / "bad.csv"
    panel = pd.read_csv(SAMPLE, dtype=str, keep_default_na=False)
    # Two problems: the terminal must show both, with their rows, not the last line alone.
    panel.loc[0, "n_builders"] = "-3"
    panel.loc[1, "week"] = "2023-06-06"  # a Tuesday
    panel.to_csv(bad, index=False)
    out = tmp_path / "reports"
    out.mkdir()
    (out / "index.html").write_text("previous run")
    result = subprocess.run(
        [sys.executable, "-m", "cts", "report", "--panel", str(bad), "--out", str(out)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=300,
    )
    assert result.returncode == 2, result.stderr
    assert "`n_builders` has values below 1" in result.stderr
    assert "not a Monday week start" in result.stderr and "2023-06-06" in result.stderr
    assert "Traceback" not in result.stderr
    assert (out / "index.html").read_text() == "previous run"


def test_ctrl_c_stops_kernels_and_leaves_the_previous_set(tmp_path):
    """Ctrl-C (SIGINT to the terminal's process group) stops the run within seconds, shuts the
    kernels down, prints one line, exits 130 and leaves the last complete set as it was."""
    notebooks, out = tmp_path / "notebooks", tmp_path / "reports"
    notebooks.mkdir()
    marker = tmp_path / "kernel.pid"
    _tiny_notebook(notebooks / "quick.ipynb", "print('previous set')")
    analyses = (Analysis("slow", "quick.ipynb", "Slow"),)
    build_reports(SAMPLE, out, analyses=analyses, notebooks_dir=notebooks, progress=False)
    before = {p.name: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    _tiny_notebook(
        notebooks / "quick.ipynb",
        f"import os, time\nopen({str(marker)!r}, 'w').write(str(os.getpid()))\ntime.sleep(300)",
    )
    script = (
        "import sys\n"
        "from cts.reporting.builder import Analysis, build_reports\n"
        "from cts.cli import main\n"
        "try:\n"
        f"    build_reports({str(SAMPLE)!r}, {str(out)!r}, analyses=(Analysis('slow', "
        f"'quick.ipynb', 'Slow'),), notebooks_dir={str(notebooks)!r}, progress=False)\n"
        "except KeyboardInterrupt:\n"
        "    print('interrupted', file=sys.stderr)\n"
        "    sys.exit(130)\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", script],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        start_new_session=True,  # its own process group, as a terminal would give it
    )
    deadline = time.monotonic() + 240
    while not (marker.exists() and marker.read_text()) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert marker.exists(), process.communicate(timeout=5)
    kernel = int(marker.read_text())
    os.killpg(process.pid, signal.SIGINT)
    interrupted = time.monotonic()
    _, stderr = process.communicate(timeout=60)
    assert time.monotonic() - interrupted < 10
    assert process.returncode == 130 and stderr.strip() == "interrupted", stderr
    time.sleep(3)
    with pytest.raises(ProcessLookupError):
        os.kill(kernel, 0)  # the kernel is gone
    after = {p.name: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kernel.pid", "notebooks", "reports"]


def test_report_kernels_are_shut_down_without_an_interrupt():
    """jupyter_client interrupts each kernel before shutting it down, and a kernel busy with a
    message then prints "ERROR | KeyboardInterrupt caught in kernel." under `make report`."""
    signals = []

    async def start_and_stop(manager) -> None:
        async def record(signum: int) -> None:
            signals.append(signum)

        await manager.start_kernel()
        manager._async_signal_kernel = record
        await manager.shutdown_kernel()

    with tempfile.TemporaryDirectory(prefix="cts-") as sockets:
        manager = ipc_kernel_manager(sockets)(kernel_name="python3")
        asyncio.run(start_and_stop(manager))
        assert manager.transport == "ipc"
    assert signal.SIGINT not in signals
    assert not manager.has_kernel


def _chromium() -> str | None:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None and os.environ.get("CTS_REQUIRE_BROWSER"):
        pytest.fail("CTS_REQUIRE_BROWSER is set but chromium is not installed")
    if found is None:
        pytest.skip("chromium not installed (apt-get install chromium; CI installs it)")
    return found


def _dump_dom(chromium: str, page: Path, profile: Path, *flags: str) -> str:
    """The DOM headless Chromium renders for ``page`` once its scripts ran."""
    command = [
        chromium,
        *CHROMIUM_FLAGS,
        f"--user-data-dir={profile}",
        *flags,
        "--virtual-time-budget=5000",
        "--dump-dom",
        page.as_uri(),
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120).stdout


@pytest.mark.parametrize("page", ["index.html", "03_adoption_effect_cr_velocity.html"])
def test_reports_render_in_a_browser_with_images_and_tables(built, tmp_path, page):
    """What a person sees: the rendered DOM has tables, images that decoded, and no errors."""
    chromium = _chromium()
    out, _ = built
    check = (
        "<script>window.onload = () => { const imgs = [...document.images];"
        "document.title = JSON.stringify({tables: document.querySelectorAll('table').length,"
        "images: imgs.length, broken: imgs.filter(i => !i.complete || i.naturalWidth === 0).length,"
        "errors: document.querySelectorAll('[data-mime-type=\"application/vnd.jupyter.stderr\"]')"
        ".length}); };</script>"
    )
    probe = out / f"probe-{page}"
    probe.write_text((out / page).read_text().replace("</body>", check + "</body>"))
    dom = _dump_dom(chromium, probe, tmp_path / "profile")
    title = dom.split("<title>", 1)[1].split("</title>", 1)[0]
    seen = json.loads(title)
    assert seen["tables"] >= 1 and seen["broken"] == 0 and seen["errors"] == 0, seen
    if page != "index.html":
        assert seen["images"] >= 1, seen


def test_the_brief_has_the_numbers_the_checks_and_the_reports(built):
    out, runs = built
    brief = (out / "index.html").read_text()
    for heading in (
        "What CTS-SW is doing",
        "What drives it",
        "Net return of the AI assistant",
        "Quality guardrails",
    ):
        assert heading in brief
    assert "builder-weeks per unit" in brief and "95% CI" in brief
    assert "most strongly associated" in brief and "same weeks a year apart" in brief
    assert "licence spend a year" in brief and "return multiple" in brief
    assert "capacity, not cash" in brief
    # The sample is the simulator's: the brief says so at the top.
    assert brief.index('class="banner"') < brief.index("<h1>") and "Simulated data" in brief
    # Every check the notebooks published is on the panel, with a status and a sentence, in
    # the reader's words (labels, not column names).
    for name in (
        "Trends before adoption (CRs merged per builder-week)",
        "What the effect holds fixed (CRs merged per builder-week)",
        "What the effect holds fixed (deployments per builder-week)",
        "With few teams (CRs merged per builder-week)",  # the sample has fewer than 30 teams
        "Trends before adoption (deployments per builder-week)",
        "With few teams (deployments per builder-week)",
    ):
        assert f'<b>{name}</b> <span class="status">' in brief, name
    assert "(cr_velocity)" not in brief and "cr_velocity:" not in brief
    published = [c for run in runs for c in run.checks]
    # 03 once per outcome (exogeneity), 04 twice per outcome (pre-trends, few teams)
    assert len(published) == 6
    assert all(c["status"] in ("green", "amber", "red") for c in published)
    assert "SHA-256" in brief.split("<footer>", 1)[1]  # provenance in the footer
    # One chart, published by 05: CTS-SW with and without the assistant, linked to its report.
    figures = {run.analysis.name: run.figures for run in runs if run.figures}
    assert list(figures) == ["05_impact"]
    assert figures["05_impact"][0]["title"] == "CTS-SW with and without the AI assistant"
    assert brief.count('<figure><img alt="Chart: ') == 1
    assert '(<a href="05_impact.html">What adoption is worth</a>)</figcaption>' in brief
    png = base64.b64decode(figures["05_impact"][0]["png"])
    assert png.startswith(b"\x89PNG") and len(png) > 5_000


#: Measures what a reader at 1280 px would see: horizontal overflow, error cells with a
#: traceback, raw warnings (a file path or `warnings.warn(` in the output) and images without
#: alternative text. The result becomes the page title, which --dump-dom prints.
_PROBE = """<script>window.addEventListener('load', () => {
const root = document.documentElement;
const errors = [...document.querySelectorAll(
  '.jp-RenderedText[data-mime-type="application/vnd.jupyter.stderr"]')]
  .filter(e => e.textContent.includes('Traceback')).length;
const text = document.body.innerText;
const raw = ['/site-packages/', 'warnings.warn('].filter(s => text.includes(s))
  .concat(text.match(/\\S+\\.py:\\d+: \\w*Warning/g) || []);
const noAlt = [...document.images].filter(i => !(i.getAttribute('alt') || '').trim()).length;
document.title = JSON.stringify({scroll: root.scrollWidth, client: root.clientWidth,
  errors: errors, raw: raw, noAlt: noAlt, images: document.images.length});
});</script>"""


@pytest.mark.parametrize("page", ["index", *[a.name for a in ANALYSES]])
def test_brief_and_reports_fit_1280px_without_errors_raw_warnings_or_unlabelled_images(
    built, tmp_path, page
):
    chromium = _chromium()
    out, _ = built
    probe = out / f"probe-{page}.html"
    probe.write_text((out / f"{page}.html").read_text().replace("</body>", _PROBE + "</body>"))
    try:
        dom = _dump_dom(chromium, probe, tmp_path / "profile", "--window-size=1280,900")
    finally:
        probe.unlink()
    seen = json.loads(html.unescape(dom.split("<title>", 1)[1].split("</title>", 1)[0]))
    assert seen["client"] >= 1200, seen  # the page was laid out at 1280 px
    assert seen["scroll"] <= seen["client"], f"horizontal scroll at 1280 px: {seen}"
    assert seen["errors"] == 0 and seen["raw"] == [] and seen["noAlt"] == 0, seen


def test_pools_share_the_cores_except_the_heaviest_on_a_panel_that_fits(monkeypatch):
    from cts.reporting.builder import POOL_ROWS, pool_sizes

    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    small = pool_sizes(ANALYSES, workers=2, rows=POOL_ROWS)
    assert small["04_robustness"] == "4"
    assert {v for k, v in small.items() if k != "04_robustness"} == {"2"}
    large = pool_sizes(ANALYSES, workers=2, rows=POOL_ROWS + 1)
    assert set(large.values()) == {"2"}
    assert set(pool_sizes(ANALYSES, workers=7, rows=POOL_ROWS + 1).values()) == {"1"}


#: The brief's AI cards on the default panel: 01 and 05 publish everything they show.
BRIEF_ANALYSES = tuple(a for a in ANALYSES if a.name in ("01_cost_to_serve", "05_impact"))

_BRIEF_PROBE = """<script>window.addEventListener('load', () => {
const root = document.documentElement;
const cards = [...document.querySelectorAll('.card')].map(c => c.innerText);
const charts = [...document.images].map(i => ({alt: i.alt, width: i.naturalWidth}));
document.title = JSON.stringify({scroll: root.scrollWidth, client: root.clientWidth,
  cards: cards, charts: charts, banner: !!document.querySelector('.banner'),
  text: document.body.innerText});
});</script>"""


@pytest.fixture(scope="module")
def default_brief(tmp_path_factory):
    """The brief on the default panel (1,000 teams x 156 weeks, as `make data` writes it),
    from the two reports that publish what it shows about the assistant."""
    import cts

    folder = tmp_path_factory.mktemp("default")
    panel_path, _ = cts.write_simulation(cts.simulate_org(), folder / "panel.parquet")
    out = folder / "reports"
    runs = build_reports(panel_path, out, analyses=BRIEF_ANALYSES, progress=False)
    assert all(r.ok for r in runs), [(r.analysis.name, r.error) for r in runs if not r.ok]
    return out, runs


def test_the_brief_shows_net_return_guardrails_and_both_cts_sw_lines_at_1280px(
    default_brief, tmp_path
):
    chromium = _chromium()
    out, runs = default_brief
    probe = out / "probe-brief.html"
    probe.write_text((out / "index.html").read_text().replace("</body>", _BRIEF_PROBE + "</body>"))
    try:
        dom = _dump_dom(chromium, probe, tmp_path / "profile", "--window-size=1280,900")
    finally:
        probe.unlink()
    seen = json.loads(html.unescape(dom.split("<title>", 1)[1].split("</title>", 1)[0]))
    assert seen["client"] >= 1200 and seen["scroll"] <= seen["client"], (
        seen["scroll"],
        seen["client"],
    )
    assert seen["banner"] and "Simulated data" in seen["text"]
    cards = {card.split("\n", 1)[0]: card for card in seen["cards"]}
    money = cards["Net return of the AI assistant"]
    for line in (
        "net of licences",
        "licence spend a year",
        "return multiple",
        "payback",
        "break-even effect",
        "today's adoption",
        "valued on",
        "capacity, not cash",
    ):
        assert line in money, line
    assert "USD" in money and " million a year" in money  # three significant digits, in words
    guardrails = cards["Quality guardrails"]
    for label in (
        "Change failure (rollbacks per deployment)",
        "Manual interventions per deployment",
        "Pages per on-call builder a week",
    ):
        assert label in guardrails, label
    assert guardrails.count("95% CI") == 3 and "would have detected" in guardrails
    assert "CTS-SW without the assistant" in cards["What CTS-SW is doing"]
    assert "same weeks a year apart" in cards["What CTS-SW is doing"]
    (chart,) = seen["charts"]
    assert chart["width"] > 0  # decoded
    assert "CTS-SW with and without the AI assistant" in chart["alt"]
    assert "observed" in chart["alt"] and "without the AI assistant" in chart["alt"]


def test_a_notebook_opened_with_its_defaults_reproduces_the_last_report(tmp_path, monkeypatch):
    """As JupyterLab runs it (no parameters injected): the panel of the last report run, not the
    committed sample, so its headline is the report's."""
    import papermill as pm

    from cts.reporting.notebook import HEADLINE_MIME, LAST_RUN, PANEL_ENV, REPORTS_ENV

    panel = pd.read_csv(SAMPLE, dtype={"team_id": str})
    panel = panel.loc[panel["team_id"] != panel["team_id"].iloc[0]]  # not the sample's numbers
    path = tmp_path / "panel.csv"
    panel.to_csv(path, index=False)
    out = tmp_path / "reports"
    overview = tuple(a for a in ANALYSES if a.name == "00_panel_overview")
    runs = build_reports(path, out, analyses=overview, progress=False)
    assert runs[0].ok, runs[0].error
    assert json.loads((out / LAST_RUN).read_text())["panel_path"] == str(path.resolve())
    monkeypatch.delenv(PANEL_ENV, raising=False)
    monkeypatch.setenv(REPORTS_ENV, str(out))
    executed = tmp_path / "opened.ipynb"
    pm.execute_notebook(
        str(ROOT / "notebooks" / "00_panel_overview.ipynb"),
        str(executed),
        cwd=str(ROOT / "notebooks"),
        progress_bar=False,
    )
    found = {}
    for cell in nbformat.read(executed, as_version=4).cells:
        for output in cell.get("outputs", []):
            found.update(output.get("data", {}).get(HEADLINE_MIME, {}))
    assert found == runs[0].headlines
    assert found["teams"] == f"{panel['team_id'].nunique():,}"  # the recorded panel's


#: What a referee must not find in a report: monospace result blocks (printed text or a
#: text/plain output), unformatted p-values (``p = 0.0``, ``0.223792``) and raw pandas indexes
#: (row numbers, code names as headers, an index-name header row). The findings become the
#: page title, which --dump-dom prints.
_FORMAT_PROBE = """<script>window.addEventListener('load', () => {
const mono = [...document.querySelectorAll(
  '[data-mime-type="application/vnd.jupyter.stdout"], [data-mime-type="text/plain"]')]
  .filter(e => e.closest('.jp-OutputArea-output, .jp-OutputArea-child'))
  .map(e => e.innerText.slice(0, 60));
const text = document.body.innerText;
const pText = (text.match(/\\bp\\s*=\\s*(?:0\\.0+(?![0-9])|[0-9]\\.[0-9]{4,})/g) || []);
const pCells = [];
const rawIndex = [];
for (const table of document.querySelectorAll('.jp-OutputArea-output table')) {
  // Column labels: the first header row but html_table's outcome headers.
  const labelRow = table.querySelector('thead tr:not(.cts-groups)');
  const heads = [...(labelRow ? labelRow.querySelectorAll('th') : [])]
    .map(th => th.innerText.trim());
  heads.filter(h => /^[a-z]+(_[a-z0-9]+)+$/.test(h)).forEach(h => rawIndex.push('header ' + h));
  // A second header row is pandas' index names, unless it is html_table's outcome headers.
  if (table.querySelectorAll('thead tr:not(.cts-groups)').length > 1) {
    rawIndex.push('index-name row');
  }
  const rowHeads = [...table.querySelectorAll('tbody th')].map(th => th.innerText.trim());
  if (rowHeads.length > 1 && rowHeads.every((h, i) => h === String(i))) {
    rawIndex.push('row numbers');
  }
  const pColumns = heads.map((h, i) => /(^|\\s)p$|p-value/i.test(h) ? i : -1).filter(i => i >= 0);
  for (const row of table.querySelectorAll('tbody tr')) {
    const cells = [...row.children];
    for (const i of pColumns) {
      const shown = (cells[i] || {}).innerText || '';
      if (!/^(< 0\\.001|> 0\\.99|0\\.[0-9]{2,3}|—)$/.test(shown.trim())) pCells.push(shown);
    }
  }
}
document.title = JSON.stringify({mono: mono, pText: pText, pCells: pCells.slice(0, 5),
  rawIndex: rawIndex});
});</script>"""


@pytest.mark.parametrize("page", [a.name for a in ANALYSES])
def test_reports_have_no_monospace_results_raw_p_values_or_raw_indexes(built, tmp_path, page):
    chromium = _chromium()
    out, _ = built
    probe = out / f"format-probe-{page}.html"
    probe.write_text(
        (out / f"{page}.html").read_text().replace("</body>", _FORMAT_PROBE + "</body>")
    )
    try:
        dom = _dump_dom(chromium, probe, tmp_path / "profile", "--window-size=1280,900")
    finally:
        probe.unlink()
    seen = json.loads(html.unescape(dom.split("<title>", 1)[1].split("</title>", 1)[0]))
    assert seen == {"mono": [], "pText": [], "pCells": [], "rawIndex": []}, seen


def test_the_format_probe_finds_monospace_raw_p_values_and_raw_indexes(tmp_path):
    """Not vacuous: a page with a printed result, ``p = 0.0``, a p-value to six decimals and a
    DataFrame shown as pandas renders it is caught on every count."""
    chromium = _chromium()
    frame = pd.DataFrame({"naive_estimate": [0.1, 0.2], "p": [0.223792, 0.0]})
    page = tmp_path / "page.html"
    page.write_text(
        "<html><body><div class='jp-OutputArea-output' "
        "data-mime-type='application/vnd.jupyter.stdout'><pre>Effect of usage</pre></div>"
        "<p>pre-trend test: p = 0.0</p>"
        f"<div class='jp-OutputArea-output'>{frame.to_html()}</div>"
        f"{_FORMAT_PROBE}</body></html>"
    )
    dom = _dump_dom(chromium, page, tmp_path / "profile")
    seen = json.loads(html.unescape(dom.split("<title>", 1)[1].split("</title>", 1)[0]))
    assert seen["mono"] == ["Effect of usage"] and seen["pText"] == ["p = 0.0"]
    assert seen["pCells"] == ["0.223792", "0.000000"]
    assert seen["rawIndex"] == ["header naive_estimate", "row numbers"]
