"""Run the analysis notebooks with papermill and publish them as HTML reports with an index.

``build_reports`` executes every notebook in :data:`ANALYSES` (in parallel, each in its own
kernel), converts each to HTML twice (input hidden for readers, code visible for analysts) and
writes ``index.html``, the one-page brief (:mod:`cts.reporting.brief`), from the headline numbers
and credibility checks each notebook published (:func:`cts.reporting.notebook.headline`,
:func:`cts.reporting.notebook.credibility`). A run is one consistent set: it is built in a fresh
folder that replaces the reports folder when complete; a notebook that fails is saved with its
error under ``failed/`` and no older report stands in for it. A disk that fills up stops the run
with :class:`NoSpaceError` and leaves the earlier set as it was. Each run's folders carry its
process id, so the next run removes what a killed run left (its half-built set, its temporary
panel and kernel files); workers and kernels die with the process that started them.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import html
import multiprocessing
import os
import re
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.connection import wait as connection_wait
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tqdm import tqdm  # plain text bars: no ipywidgets in notebooks or reports

from cts.core.io import atomic_write_text
from cts.core.memory import release_memory
from cts.core.workers import WORKERS_ENV, die_with_parent
from cts.reporting.brief import brief_html
from cts.reporting.notebook import (
    CARD_MIME,
    CHECK_MIME,
    FIGURE_MIME,
    HEADLINE_MIME,
    LAST_RUN,
    LOADED_PANEL_ENV,
    SECTION_MIME,
    check_currency,
    save_loaded_panel,
    sha256,
    write_last_run,
)

if TYPE_CHECKING:
    from multiprocessing.context import SpawnProcess

    from jupyter_client.manager import AsyncKernelManager
    from nbformat import NotebookNode

__all__ = [
    "ANALYSES",
    "CHROMIUM_FLAGS",
    "POOL_ROWS",
    "Analysis",
    "AnalysisRun",
    "NoSpaceError",
    "build_reports",
    "error_message",
    "ipc_kernel_manager",
    "pool_sizes",
    "remove_leftovers",
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
    #: Rough run time relative to the others: the longest start first, so that the last
    #: notebook to finish is not a long one started late (longest-processing-time order).
    weight: float = 1.0


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
        "04_robustness",
        "04_robustness.ipynb",
        "Robustness of the effects on CR and deployment velocity: event study, heterogeneity, "
        "power",
        weight=5.0,
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
    #: Sections the panel could not support: title -> the reason the report gives.
    not_estimable: dict[str, str] = field(default_factory=dict)
    error: str = ""
    #: Credibility checks the notebook published (:class:`cts.reporting.brief.Check` dicts).
    checks: list[dict] = field(default_factory=list)
    #: Charts the notebook published for the brief (``{"title", "alt", "png"}``).
    figures: list[dict] = field(default_factory=list)
    #: The notebook stopped because a disk was full (the whole run stops).
    no_space: bool = False
    #: Cards of numbers the notebook published for the brief (:func:`cts.reporting.notebook.card`).
    cards: list[dict] = field(default_factory=list)


class NoSpaceError(OSError):
    """A disk filled up during a report run; the earlier reports were left as they were."""

    def __init__(self, out: Path, detail: str = "") -> None:
        where = f" ({detail})" if detail else ""
        super().__init__(
            errno.ENOSPC,
            f"no space left on the disk{where}; {out} is left as it was: free some space (or "
            "pass --out on another disk) and run again",
        )


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
    """Execute every analysis notebook on a panel and publish the HTML reports and index.

    The panel is validated once, before any notebook starts. The reports are built in a fresh
    folder beside ``out_dir`` that replaces it only when every notebook has finished, so the
    folder never mixes this run's reports with an earlier run's: an analysis that fails shows its
    failure (``failed/<name>.html``), not an older success. Files in ``out_dir`` that are not
    reports (e.g. ``validation.md``) are carried over. On Ctrl-C the running notebooks and their
    kernels are stopped within seconds, ``out_dir`` is left as it was and ``KeyboardInterrupt``
    is raised.

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

    Raises
    ------
    FileNotFoundError
        When there is no panel at ``panel_path``.
    PanelError
        When the panel breaks the contract (nothing is run and ``out_dir`` is not touched).
    ValueError
        When ``out_dir`` holds the panel, the notebooks or the working directory, or the
        ``currency`` parameter is not an ISO 4217 code.
    """
    if parameters and "currency" in parameters:  # printed beside every amount: a real code only
        parameters = {**parameters, "currency": check_currency(parameters["currency"])}
    panel_path = Path(panel_path).resolve()
    if not panel_path.is_file():
        raise FileNotFoundError(f"no panel at {panel_path}: run `make data` or pass --panel")
    out = Path(out_dir).resolve()
    notebooks_dir = Path(notebooks_dir).resolve()
    for inside in (panel_path, notebooks_dir, Path.cwd().resolve()):
        if inside == out or out in inside.parents:
            raise ValueError(
                f"the reports folder {out} would replace {inside}: pass a folder of its own "
                "(e.g. --out reports)"
            )
    out.parent.mkdir(parents=True, exist_ok=True)
    remove_leftovers(out)
    try:
        return _build(panel_path, out, analyses, parameters, notebooks_dir, workers, progress)
    except OSError as error:
        if isinstance(error, NoSpaceError) or error.errno != errno.ENOSPC:
            raise
        detail = f"writing {error.filename}" if error.filename else error.strerror or ""
        raise NoSpaceError(out, detail.splitlines()[0] if detail else "") from None


def _build(
    panel_path: Path,
    out: Path,
    analyses: tuple[Analysis, ...],
    parameters: dict | None,
    notebooks_dir: Path,
    workers: int | None,
    progress: bool,
) -> list[AnalysisRun]:
    pid = os.getpid()
    with tempfile.TemporaryDirectory(prefix=f"{_SCRATCH}{pid}-") as scratch:
        # Validate once (a PanelError stops the run here, whole) and hand every notebook the
        # loaded panel, so none re-reads and re-validates it.
        common = {"panel_path": str(panel_path), **(parameters or {})}
        saved, rows = save_loaded_panel(panel_path, Path(scratch))
        environment = {LOADED_PANEL_ENV: saved}
        release_memory()  # the validated panel is on disk now; this process only schedules
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}{_BUILDING}{pid}-", dir=out.parent))
        try:
            runs = _run_all(
                analyses,
                common,
                notebooks_dir,
                staging,
                Path(scratch),
                environment,
                workers,
                progress,
                rows,
            )
            full = next((run for run in runs if run.no_space), None)
            if full is not None:
                raise NoSpaceError(out, full.error.splitlines()[0])
            atomic_write_text(staging / "index.html", _index_html(runs, panel_path, common))
            # What a notebook opened in JupyterLab analyses by default (report_panel).
            write_last_run(staging, {**common, "sha256": sha256(panel_path)})
            with _signals_deferred():
                _swap_into_place(staging, out)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return runs


def _run_all(
    analyses: tuple[Analysis, ...],
    common: dict,
    notebooks_dir: Path,
    staging: Path,
    scratch: Path,
    environment: dict[str, str],
    workers: int | None,
    progress: bool,
    rows: int,
) -> list[AnalysisRun]:
    """Run the notebooks, ``workers`` at a time, each in a process of its own, the heaviest
    (:attr:`Analysis.weight`) first.

    Not :func:`cts.core.workers.run_jobs`: the builder reports each notebook as it finishes and,
    on Ctrl-C, must cancel the queue and stop the running notebooks (and their kernels) within
    seconds, which a pool's ``map`` cannot do.
    """
    context = multiprocessing.get_context("spawn")
    workers = max(1, min(workers or os.cpu_count() or 1, len(analyses)))
    pools = pool_sizes(analyses, workers, rows)
    queue = sorted(enumerate(analyses), key=lambda item: -item[1].weight)  # stable: ties in order
    # result connection -> (index, process, when it started)
    running: dict[Connection, tuple[int, SpawnProcess, float]] = {}
    runs: dict[int, AnalysisRun] = {}
    bar = tqdm(total=len(queue), disable=not progress, desc="reports", unit="notebook")
    try:
        while queue or running:
            while queue and len(running) < workers:
                index, analysis = queue.pop(0)
                receive, send = context.Pipe(duplex=False)
                job = _Job(analysis, common, str(notebooks_dir), str(staging))
                own = {} if WORKERS_ENV in os.environ else {WORKERS_ENV: pools[analysis.name]}
                process = context.Process(
                    target=_worker,
                    args=(
                        job,
                        str(scratch / f"job{index}"),
                        {**environment, **own},
                        send,
                        os.getpid(),
                    ),
                    name=f"cts-report-{analysis.name}",
                )
                process.start()
                send.close()
                running[receive] = (index, process, time.perf_counter())
            for ready in _ready(running, timeout=1.0):
                index, process, started = running.pop(ready)
                try:
                    run = ready.recv()
                except EOFError:  # the worker died without an answer (killed, out of memory)
                    process.join()
                    log = scratch / f"job{index}" / "worker.log"
                    tail = log.read_text(errors="replace")[-2000:] if log.is_file() else ""
                    run = AnalysisRun(
                        analyses[index],
                        ok=False,
                        seconds=time.perf_counter() - started,
                        error=f"the notebook's process ended with exit code {process.exitcode}"
                        + (f"; its last output:\n{tail}" if tail else ""),
                    )
                ready.close()
                process.join()
                runs[index] = run
                if run.no_space:  # stop the others now: nothing more can be written
                    raise OSError(errno.ENOSPC, run.error)
                bar.set_postfix_str(f"{run.analysis.name} {'ok' if run.ok else 'FAILED'}")
                bar.update()
    except BaseException:
        _stop([process for _, process, _ in running.values()])
        raise
    finally:
        bar.close()
    return [runs[i] for i in range(len(analyses))]


def _ready(running: Mapping[Connection, object], timeout: float) -> list[Connection]:
    """The connections of ``running`` with an answer to read (or whose worker ended), in the
    order :func:`multiprocessing.connection.wait` gives them: the same objects it was given,
    which its stubs type only as any waitable."""
    ready = connection_wait(list(running), timeout=timeout)
    return [connection for answered in ready for connection in running if connection is answered]


#: Panels up to this many team-weeks give the heaviest notebook a pool with every core; larger
#: ones keep each notebook to its share. Each pool worker holds a simulated panel as large as
#: the user's (~1.5 kB a team-week): on 2,000 teams x 260 weeks, pools of two per kernel took the
#: report past 3 GB, while on the default panel a one-process pool made it 10% slower.
POOL_ROWS = 250_000


def pool_sizes(analyses: tuple[Analysis, ...], workers: int, rows: int) -> dict[str, str]:
    """``CTS_WORKERS`` for each notebook's own pool (power simulations): the cores shared among
    the notebooks running at once, except that the heaviest gets them all on a panel of at most
    :data:`POOL_ROWS` rows (it runs longest, and alone at the end)."""
    cores = os.cpu_count() or 1
    share = max(1, cores // workers)
    heaviest = max(analysis.weight for analysis in analyses)
    return {
        analysis.name: str(cores if analysis.weight == heaviest and rows <= POOL_ROWS else share)
        for analysis in analyses
    }


def _stop(processes: list) -> None:
    """Stop running notebooks within seconds. A terminal's Ctrl-C reaches the workers too, and
    nbclient then shuts their kernels down; a worker still running after a grace period gets
    SIGTERM (nbclient shuts its kernel down on that as well), then SIGKILL, and ipykernel exits
    on its own once its parent process has gone."""
    for grace, action in ((2.0, "terminate"), (2.0, "kill")):
        deadline = time.monotonic() + grace
        for process in processes:
            process.join(max(0.0, deadline - time.monotonic()))
        alive = [process for process in processes if process.is_alive()]
        if not alive:
            return
        for process in alive:
            getattr(process, action)()
    for process in processes:
        process.join()


@dataclass(frozen=True)
class _Job:
    analysis: Analysis
    common: dict
    notebooks_dir: str
    out_dir: str


def _worker(
    job: _Job, scratch: str, environment: dict[str, str], send: Connection, parent: int
) -> None:
    """One notebook in a spawned process; the AnalysisRun goes back through ``send``."""
    die_with_parent(parent)  # a killed builder leaves no notebook computing
    # The terminal's Ctrl-C reaches every process of the group: the parent decides what stops.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.makedirs(scratch, exist_ok=True)
    # The worker's and its kernel's own output (papermill's log, ipykernel's notices) goes to a
    # log in the scratch folder, not over the progress bar: failures come back as AnalysisRuns.
    log = os.open(os.path.join(scratch, "worker.log"), os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.environ.update(environment)
    # Connection files in the run's scratch folder, which the parent removes even if this
    # process is killed.
    os.environ["JUPYTER_RUNTIME_DIR"] = scratch
    os.environ["TMPDIR"] = scratch  # the kernel's temporary files too (inherited)
    tempfile.tempdir = None  # re-read TMPDIR
    # nbformat validates notebooks with jsonschema, which checks the `iri` format with
    # rfc3987-syntax when that is installed; importing it builds a grammar, 1.6 s of CPU in
    # every notebook's process, for a format the notebook schema never uses.
    # None in sys.modules blocks the import, which the stubs (modules only) do not allow.
    sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]
    try:
        run = _run_one(job.analysis, job.common, job.notebooks_dir, job.out_dir)
    except OSError as error:
        if error.errno != errno.ENOSPC:
            raise
        run = AnalysisRun(job.analysis, ok=False, seconds=0.0, error=str(error), no_space=True)
    send.send(run)
    send.close()


@contextlib.contextmanager
def _signals_deferred() -> Iterator[None]:
    """Ignore Ctrl-C for the milliseconds the finished set takes to move into place."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _swap_into_place(staging: Path, out: Path) -> None:
    """Replace ``out`` by ``staging``, carrying over whatever in ``out`` is not a report.

    The one step that needs space (a folder for the retired set) comes before anything moves;
    if a move fails, what was carried over goes back, so ``out`` stays whole."""
    umask = os.umask(0)
    os.umask(umask)
    staging.chmod(0o777 & ~umask)  # mkdtemp makes it private
    if not out.exists():
        os.replace(staging, out)
        return
    retired = Path(tempfile.mkdtemp(prefix=f".{out.name}{_OLD}{os.getpid()}-", dir=out.parent))
    carried: list[str] = []
    try:
        for entry in out.iterdir():
            if not _is_report_output(entry) and not (staging / entry.name).exists():
                os.replace(entry, staging / entry.name)
                carried.append(entry.name)
        os.replace(out, retired / out.name)
    except OSError:
        for name in carried:
            os.replace(staging / name, out / name)
        retired.rmdir()
        raise
    os.replace(staging, out)
    shutil.rmtree(retired, ignore_errors=True)


#: Name parts of a run's folders: ``.<out>.building-<pid>-*`` and ``.<out>.old-<pid>-*`` beside
#: the reports folder, ``cts-report-<pid>-*`` in the temporary folder (the validated panel,
#: the kernels' connection files and sockets, the workers' logs).
_BUILDING, _OLD, _SCRATCH = ".building-", ".old-", "cts-report-"


def remove_leftovers(out: str | os.PathLike[str]) -> list[Path]:
    """Remove what killed runs left: their folders beside ``out`` and their temporary folders,
    those whose process is gone (never a live run's). Returns the folders removed."""
    out = Path(out)
    candidates = [
        *out.parent.glob(f".{glob.escape(out.name)}{_BUILDING}*"),
        *out.parent.glob(f".{glob.escape(out.name)}{_OLD}*"),
        *Path(tempfile.gettempdir()).glob(f"{_SCRATCH}*"),
    ]
    removed = []
    for folder in candidates:
        found = re.search(r"-(\d+)-[^-]*$", folder.name)
        try:
            mine = not folder.is_symlink() and folder.stat().st_uid == os.getuid()
        except OSError:
            continue
        if found and mine and folder.is_dir() and not _alive(int(found.group(1))):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _is_report_output(entry: Path) -> bool:
    """Files a report run writes (or that depict its reports): they belong to one run only."""
    if entry.is_dir():
        return entry.name in ("failed", "screenshots")
    return entry.suffix == ".html" or entry.name == LAST_RUN


def ipc_kernel_manager(socket_dir: str) -> type[AsyncKernelManager]:
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

        @default("connection_file")
        def _default_connection_file(self) -> str:
            # Beside the sockets, not a mkstemp file in /tmp that a killed run would leave.
            return os.path.join(socket_dir, f"kernel-{os.getpid()}-{id(self)}.json")

        async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:
            # The kernel dies with the worker that started it (see die_with_parent): a small
            # trampoline sets that up and then becomes the kernel (exec keeps the setting).
            trampoline = [sys.executable, "-c", _DIE_WITH_PARENT, str(os.getpid())]
            await super()._async_launch_kernel([*trampoline, *kernel_cmd], **kw)

        async def _async_interrupt_kernel(self) -> None:
            # jupyter_client sends SIGINT before every shutdown request; a kernel that is just
            # answering a message then logs "ERROR | KeyboardInterrupt caught in kernel." to the
            # terminal. papermill shuts kernels down only when no cell runs, and the shutdown
            # still ends in SIGTERM/SIGKILL if the request goes unanswered.
            if not self.shutting_down:
                await super()._async_interrupt_kernel()

    return IPCKernelManager


_DIE_WITH_PARENT = (
    "import os, sys; from cts.core.workers import die_with_parent; "
    "die_with_parent(int(sys.argv[1])); os.execvp(sys.argv[2], sys.argv[2:])"
)


def _no_space(error: BaseException) -> bool:
    """Whether ``error`` (or a notebook cell's error papermill reports) is a full disk."""
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, OSError) and cause.errno == errno.ENOSPC:
            return True
        if "[Errno 28]" in str(getattr(cause, "evalue", "")):
            return True
        cause = cause.__cause__ or cause.__context__
    return False


def _run_one(analysis: Analysis, common: dict, notebooks_dir: str, out_dir: str) -> AnalysisRun:
    import logging

    import nbformat
    import papermill as pm

    logging.getLogger("papermill").setLevel(logging.WARNING)

    out = Path(out_dir)
    started = time.perf_counter()
    # Short paths in the system temp folder: Unix socket paths are limited to ~100 bytes.
    # Inside the run's scratch folder when there is one (a killed run's is removed by the next).
    runtime = os.environ.get("JUPYTER_RUNTIME_DIR")
    with (
        tempfile.TemporaryDirectory(prefix="k", dir=runtime) as sockets,
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
            if _no_space(error):
                return AnalysisRun(
                    analysis,
                    ok=False,
                    seconds=time.perf_counter() - started,
                    error=error_message(error).splitlines()[0],
                    no_space=True,
                )
            failed = out / "failed"
            failed.mkdir(exist_ok=True)
            if executed.exists():
                notebook = nbformat.read(executed, as_version=4)
                atomic_write_text(
                    failed / f"{analysis.name}.html", _to_html(notebook, hide_input=False)
                )
                os.replace(executed, failed / f"{analysis.name}.ipynb")
            return AnalysisRun(
                analysis,
                ok=False,
                seconds=time.perf_counter() - started,
                error=error_message(error),
            )
        notebook = nbformat.read(executed, as_version=4)
    figures = _published(notebook, FIGURE_MIME)  # before _to_html moves the PNGs into HTML
    _titled(notebook, analysis.title)
    atomic_write_text(out / f"{analysis.name}.html", _to_html(notebook, hide_input=True))
    atomic_write_text(out / f"{analysis.name}.code.html", _to_html(notebook, hide_input=False))
    return AnalysisRun(
        analysis,
        ok=True,
        seconds=time.perf_counter() - started,
        headlines=_headlines(notebook),
        not_estimable=_not_estimable(notebook),
        checks=_published(notebook, CHECK_MIME),
        figures=figures,
        cards=_published(notebook, CARD_MIME),
    )


def _titled(notebook: NotebookNode, title: str) -> None:
    """Give the report its analysis' title, which names its outcome: the page title, and the
    notebook's first heading (one notebook makes a report per outcome, e.g. 03)."""
    notebook.metadata["title"] = title
    for cell in notebook.cells:
        if cell.cell_type == "markdown" and cell.source.startswith("# "):
            rest = cell.source.split("\n", 1)[1] if "\n" in cell.source else ""
            cell.source = f"# {title}\n{rest}"
            return


def error_message(error: BaseException) -> str:
    """The whole message of a notebook's failure: ``Name: message`` with every line, and the
    cell it came from (not papermill's traceback, whose last line is all a terminal showed)."""
    ename, evalue = getattr(error, "ename", None), getattr(error, "evalue", None)
    if ename is None:
        ename, evalue = type(error).__name__, str(error)
    where = getattr(error, "exec_count", None)
    text = f"{ename}: {evalue}".strip() if evalue else ename
    return f"{text}\n(in cell [{where}])" if where is not None else text


def _to_html(notebook: NotebookNode, *, hide_input: bool) -> str:
    from nbconvert import HTMLExporter

    _images_with_alt_text(notebook)

    exporter = HTMLExporter(
        exclude_input=hide_input, exclude_input_prompt=hide_input, exclude_output_prompt=True
    )
    body, _ = exporter.from_notebook_node(notebook)
    return body


def _images_with_alt_text(notebook: NotebookNode) -> None:
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


def _not_estimable(notebook: NotebookNode) -> dict[str, str]:
    found: dict[str, str] = {}
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            outcome = output.get("data", {}).get(SECTION_MIME)
            if outcome and not outcome.get("ok", True):
                found[outcome["title"]] = outcome.get("reason", "")
    return found


def _headlines(notebook: NotebookNode) -> dict[str, str]:
    found: dict[str, str] = {}
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            found.update(output.get("data", {}).get(HEADLINE_MIME, {}))
    return found


def _published(notebook: NotebookNode, mime: str) -> list[dict]:
    return [
        output["data"][mime]
        for cell in notebook.cells
        for output in cell.get("outputs", [])
        if mime in output.get("data", {})
    ]


def _index_html(runs: list[AnalysisRun], panel_path: Path, parameters: dict) -> str:
    """The one-page brief (:func:`cts.reporting.brief.brief_html`)."""
    return brief_html(runs, panel_path, sha256(panel_path), parameters)
