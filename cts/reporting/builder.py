"""Run the analysis notebooks with papermill and publish them as HTML reports with an index.

``build_reports`` executes every notebook in :data:`ANALYSES` (in parallel, each in its own
kernel), converts each to HTML twice (input hidden for readers, code visible for analysts) and
writes ``index.html`` with the headline numbers each notebook published through
:func:`cts.reporting.notebook.headline`. Outputs are written to temporary files and moved into
place when complete; a notebook that fails is saved with its error under ``failed/`` and its
previous good HTML stays.
"""

from __future__ import annotations

import datetime as dt
import html
import importlib.metadata
import multiprocessing
import os
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm  # plain text bars: no ipywidgets in notebooks or reports

from cts.core.io import atomic_write_text
from cts.reporting.notebook import HEADLINE_MIME, sha256

__all__ = [
    "ANALYSES",
    "CHROMIUM_FLAGS",
    "Analysis",
    "AnalysisRun",
    "build_reports",
    "ipc_kernel_manager",
]

#: Headless Chromium on a machine without a screen or outside network (the render test and the
#: screenshot script): no sandbox as root, no GPU, and no background calls that would be refused.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)
NOTEBOOKS_DIR = Path(__file__).resolve().parents[2] / "notebooks"


@dataclass(frozen=True)
class Analysis:
    """One report: a notebook run with its own parameters."""

    name: str
    notebook: str
    title: str
    parameters: dict = field(default_factory=dict)


#: Every report ``cts report`` builds, in reading order.
ANALYSES: tuple[Analysis, ...] = (
    Analysis("00_panel_overview", "00_panel_overview.ipynb", "The panel"),
    Analysis("01_cost_to_serve", "01_cost_to_serve.ipynb", "Cost to serve software"),
    Analysis("02_drivers", "02_drivers.ipynb", "What drives cost to serve"),
    Analysis(
        "03_adoption_effect_cr_velocity",
        "03_adoption_effect.ipynb",
        "AI adoption and CR velocity",
        {"outcome": "cr_velocity"},
    ),
    Analysis(
        "03_adoption_effect_deploy_velocity",
        "03_adoption_effect.ipynb",
        "AI adoption and deployment velocity",
        {"outcome": "deploy_velocity"},
    ),
    Analysis(
        "04_robustness", "04_robustness.ipynb", "Robustness: event study, heterogeneity, power"
    ),
    Analysis("05_impact", "05_impact.ipynb", "What adoption is worth"),
)


@dataclass
class AnalysisRun:
    """The outcome of one notebook: ``ok``, its seconds, headlines, or the error."""

    analysis: Analysis
    ok: bool
    seconds: float
    headlines: dict[str, str] = field(default_factory=dict)
    error: str = ""


def build_reports(
    panel_path: str | os.PathLike[str],
    out_dir: str | os.PathLike[str] = "reports",
    *,
    analyses: tuple[Analysis, ...] = ANALYSES,
    parameters: dict | None = None,
    notebooks_dir: str | os.PathLike[str] = NOTEBOOKS_DIR,
    workers: int | None = None,
    progress: bool = True,
) -> list[AnalysisRun]:
    """Execute every analysis notebook on a panel and write the HTML reports and index.

    Parameters
    ----------
    panel_path
        The panel (``.parquet`` or ``.csv``) every notebook analyses.
    out_dir
        Where ``index.html``, ``<name>.html`` (input hidden) and ``<name>.code.html`` go;
        failed notebooks go to ``out_dir/failed/``.
    analyses
        Which reports (default :data:`ANALYSES`).
    parameters
        Extra notebook parameters for every analysis (e.g. ``start``, ``end``, ``seed``).
    notebooks_dir
        Where the notebooks live (they run with it as working directory).
    workers
        Notebooks run at once (default: the number of cores).
    progress
        Show a progress bar over notebooks.

    Returns
    -------
    list of AnalysisRun
        In the order of ``analyses``.
    """
    panel_path = Path(panel_path).resolve()
    if not panel_path.is_file():
        raise FileNotFoundError(f"no panel at {panel_path}: run `make data` or pass --panel")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    common = {"panel_path": str(panel_path), **(parameters or {})}
    jobs = [(a, common, str(Path(notebooks_dir).resolve()), str(out.resolve())) for a in analyses]
    workers = max(1, min(workers or os.cpu_count() or 1, len(jobs)))
    runs: dict[str, AnalysisRun] = {}
    bar = tqdm(total=len(jobs), disable=not progress, desc="reports", unit="notebook")
    # Separate processes: each notebook has its own kernel anyway, and papermill's event loop
    # is not meant to be shared between threads.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        futures = [pool.submit(_run_one, *job) for job in jobs]
        for future in as_completed(futures):
            run = future.result()
            runs[run.analysis.name] = run
            bar.set_postfix_str(f"{run.analysis.name} {'ok' if run.ok else 'FAILED'}")
            bar.update()
    bar.close()
    ordered = [runs[a.name] for a in analyses]
    atomic_write_text(out / "index.html", _index_html(ordered, panel_path))
    return ordered


def ipc_kernel_manager(socket_dir: str):
    """A kernel manager on local IPC sockets in ``socket_dir``: the panel's numbers never cross
    TCP, even on loopback (ipykernel warns about unencrypted TCP, rightly), and kernels running
    side by side each have their own sockets."""
    from jupyter_client.manager import AsyncKernelManager
    from traitlets import default

    class IPCKernelManager(AsyncKernelManager):
        @default("transport")
        def _default_transport(self) -> str:
            return "ipc"

        @default("ip")
        def _default_ip(self) -> str:
            return os.path.join(socket_dir, "kernel")

        async def _async_interrupt_kernel(self) -> None:
            # jupyter_client sends SIGINT before every shutdown request; a kernel that is just
            # answering a message then logs "ERROR | KeyboardInterrupt caught in kernel." to the
            # terminal. papermill shuts kernels down only when no cell runs, and the shutdown
            # still ends in SIGTERM/SIGKILL if the request goes unanswered.
            if not self.shutting_down:
                await super()._async_interrupt_kernel()

    return IPCKernelManager


def _run_one(analysis: Analysis, common: dict, notebooks_dir: str, out_dir: str) -> AnalysisRun:
    import logging

    import nbformat
    import papermill as pm

    logging.getLogger("papermill").setLevel(logging.WARNING)

    out = Path(out_dir)
    started = time.perf_counter()
    # Short paths in the system temp folder: Unix socket paths are limited to ~100 bytes.
    with (
        tempfile.TemporaryDirectory(prefix="cts-") as sockets,
        tempfile.TemporaryDirectory(dir=out) as scratch,
    ):
        executed = Path(scratch) / f"{analysis.name}.ipynb"
        try:
            pm.execute_notebook(
                str(Path(notebooks_dir) / analysis.notebook),
                str(executed),
                parameters={**common, **analysis.parameters},
                cwd=notebooks_dir,
                progress_bar=False,
                log_output=False,
                kernel_manager_class=ipc_kernel_manager(sockets),
            )
        except Exception as error:  # noqa: BLE001 - any failure: keep it for inspection, go on
            failed = out / "failed"
            failed.mkdir(exist_ok=True)
            if executed.exists():
                notebook = nbformat.read(executed, as_version=4)
                atomic_write_text(
                    failed / f"{analysis.name}.html", _to_html(notebook, hide_input=False)
                )
                os.replace(executed, failed / f"{analysis.name}.ipynb")
            message = str(error).strip().splitlines()
            return AnalysisRun(
                analysis,
                ok=False,
                seconds=time.perf_counter() - started,
                error=message[-1] if message else type(error).__name__,
            )
        notebook = nbformat.read(executed, as_version=4)
    atomic_write_text(out / f"{analysis.name}.html", _to_html(notebook, hide_input=True))
    atomic_write_text(out / f"{analysis.name}.code.html", _to_html(notebook, hide_input=False))
    stale = out / "failed" / f"{analysis.name}.ipynb"
    for path in (stale, stale.with_suffix(".html")):
        path.unlink(missing_ok=True)
    return AnalysisRun(
        analysis, ok=True, seconds=time.perf_counter() - started, headlines=_headlines(notebook)
    )


def _to_html(notebook, *, hide_input: bool) -> str:
    from nbconvert import HTMLExporter

    _images_with_alt_text(notebook)

    exporter = HTMLExporter(
        exclude_input=hide_input, exclude_input_prompt=hide_input, exclude_output_prompt=True
    )
    body, _ = exporter.from_notebook_node(notebook)
    return body


def _images_with_alt_text(notebook) -> None:
    """Render PNGs that carry alternative text (cts figures do) as ``<img alt=...>``: nbconvert's
    template drops the alt metadata and would label every chart "No description"."""
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            alt = output.get("metadata", {}).get("image/png", {}).get("alt")
            if alt and "image/png" in output.get("data", {}):
                png = output["data"].pop("image/png")
                output["data"]["text/html"] = (
                    f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{png.strip()}">'
                )


def _headlines(notebook) -> dict[str, str]:
    found: dict[str, str] = {}
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            found.update(output.get("data", {}).get(HEADLINE_MIME, {}))
    return found


def _index_html(runs: list[AnalysisRun], panel_path: Path) -> str:
    rows = []
    for run in runs:
        name, title = run.analysis.name, html.escape(run.analysis.title)
        if run.ok:
            links = f'<a href="{name}.html">{title}</a> (<a href="{name}.code.html">with code</a>)'
            status = f"ok, {run.seconds:.0f} s"
        else:
            links = f'{title} (<a href="failed/{name}.html">failed run</a>)'
            status = f'<span class="failed">FAILED</span>: {html.escape(run.error)}'
        figures = "".join(
            f"<li><b>{html.escape(k)}</b>: {html.escape(str(v))}</li>"
            for k, v in run.headlines.items()
        )
        rows.append(f"<tr><td>{links}</td><td><ul>{figures}</ul></td><td>{status}</td></tr>")
    generated = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>cts reports</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 70rem; margin: 2rem auto; color: #222; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ border-bottom: 1px solid #ddd; padding: .5rem; text-align: left; vertical-align: top; }}
.failed {{ color: #b00; font-weight: bold; }} ul {{ margin: 0; padding-left: 1.2rem; }}
</style></head><body>
<h1>cts reports</h1>
<p>Panel <code>{html.escape(str(panel_path))}</code> (SHA-256 <code>{sha256(panel_path)}</code>),
cts {importlib.metadata.version("cts")}, generated {generated}.</p>
<table><thead><tr><th>analysis</th><th>headline</th><th>run</th></tr></thead>
<tbody>
{chr(10).join(rows)}
</tbody></table>
<p>Metrics are team-level only; reports show no team with fewer builders than the panel's
minimum team size.</p>
</body></html>
"""
