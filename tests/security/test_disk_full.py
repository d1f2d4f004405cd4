"""A report run that cannot finish leaves nothing behind but the earlier set: a disk that fills
up stops ``cts report`` with one line and the earlier reports byte-identical (on a real 3 MB
tmpfs), and a run killed with SIGKILL takes its workers and kernels with it, and the next run
removes what it left (its half-built set, its temporary panel and kernel files)."""

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import pytest

from cts.reporting.builder import Analysis, build_reports

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "sample" / "panel_sample.csv"
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def _tiny_notebook(path: Path, source: str) -> None:
    notebook = nbformat.v4.new_notebook()
    parameters = nbformat.v4.new_code_cell('panel_path = ""\nstart = None\nend = None\nseed = 0')
    parameters.metadata["tags"] = ["parameters"]
    notebook.cells = [parameters, nbformat.v4.new_code_cell(source)]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}  # fmt: skip
    notebook.metadata["language_info"] = {"name": "python"}
    nbformat.write(notebook, path)


def _earlier_set(tmp_path: Path, out: Path) -> dict[str, bytes]:
    """A complete earlier set in ``out`` (a tiny notebook's report, its index and a file that
    is not a report); returns every file's bytes."""
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir(exist_ok=True)
    _tiny_notebook(notebooks / "earlier.ipynb", "print('the earlier set')")
    analyses = (Analysis("00_panel_overview", "earlier.ipynb", "Earlier"),)
    runs = build_reports(SAMPLE, out, analyses=analyses, notebooks_dir=notebooks, progress=False)
    assert all(run.ok for run in runs)
    (out / "validation.md").write_text("kept")
    return _files(out)


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.fixture
def small_disk(tmp_path):
    """A 3 MB tmpfs (as root), unmounted afterwards."""
    mount = tmp_path / "disk"
    mount.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount)],
                          capture_output=True, text=True)  # fmt: skip
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({made.stderr.strip()}): needs root")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_stops_the_run_with_one_line_and_leaves_the_earlier_set(tmp_path, small_disk):
    out = small_disk / "reports"
    before = _earlier_set(tmp_path, out)
    free = os.statvfs(small_disk).f_bavail * os.statvfs(small_disk).f_frsize
    with open(small_disk / "filler", "wb") as filler:  # leave 64 kB: the run starts, then fails
        filler.write(b"\0" * (free - 64_000))
    result = subprocess.run(
        [sys.executable, "-m", "cts", "report", "--panel", str(SAMPLE), "--out", str(out),
         "--workers", "2", "--no-cache"],
        capture_output=True, text=True, env=ENV, timeout=600,
    )  # fmt: skip
    lines = [line for line in result.stderr.splitlines() if line.startswith("cts report:")]
    assert result.returncode == 1, result.stderr[-3000:]
    assert len(lines) == 1 and "no space left on the disk" in lines[0], result.stderr[-3000:]
    assert f"{out} is left as it was" in lines[0]
    assert "Traceback" not in result.stderr and "Errno 28] No space" not in result.stdout
    assert _files(out) == before  # byte-identical
    assert sorted(p.name for p in small_disk.iterdir()) == ["filler", "reports"]  # no leftovers


def _descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, stack = set(), [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            found.add(child)
            stack.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has stopped; it waits only to be reaped


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parent-death signal: Linux")
def test_a_killed_run_takes_its_kernels_along_and_the_next_run_cleans_up(tmp_path):
    out = tmp_path / "reports"
    before = _earlier_set(tmp_path, out)
    run = subprocess.Popen(
        [sys.executable, "-m", "cts", "report", "--panel", str(SAMPLE), "--out", str(out),
         "--workers", "2", "--no-cache"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV,
        start_new_session=True,  # nothing else in the test's group gets the signal
    )  # fmt: skip
    deadline = time.monotonic() + 180
    kernels: set[int] = set()
    while len(kernels) < 2 and time.monotonic() < deadline:  # both notebooks computing
        time.sleep(0.5)
        kernels = {p for p in _descendants(run.pid) if "ipykernel" in _cmdline(p)}
    below = _descendants(run.pid)
    commands = [_cmdline(p) for p in kernels]
    assert len(kernels) == 2, [_cmdline(p) for p in below]
    time.sleep(2)
    os.kill(run.pid, signal.SIGKILL)  # the builder alone: its children must follow by themselves
    run.wait()
    deadline = time.monotonic() + 5
    while any(_alive(p) for p in below) and time.monotonic() < deadline:
        time.sleep(0.2)
    survivors = [_cmdline(p)[:120] for p in below if _alive(p)]
    assert survivors == [], survivors
    # What the killed run left: its half-built set beside OUT and its temporary folder, which
    # holds the kernels' connection files as well.
    building = list(tmp_path.glob(f".reports.building-{run.pid}-*"))
    scratch = list(Path(tempfile.gettempdir()).glob(f"cts-report-{run.pid}-*"))
    assert building and scratch
    connection_files = [re.search(r" -f (\S+)", command).group(1) for command in commands]
    assert all(Path(f).is_relative_to(scratch[0]) for f in connection_files), connection_files
    assert any(p.name == "loaded_panel.pickle" for p in scratch[0].rglob("*"))
    # The next run removes them (and only them), and publishes its own set.
    notebooks = tmp_path / "notebooks"
    _tiny_notebook(notebooks / "next.ipynb", "print('the next set')")
    runs = build_reports(SAMPLE, out, analyses=(Analysis("00_next", "next.ipynb", "Next"),),
                         notebooks_dir=notebooks, progress=False)  # fmt: skip
    assert all(r.ok for r in runs)
    assert not any(p.exists() for p in [*building, *scratch])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notebooks", "reports"]
    assert (out / "validation.md").read_bytes() == before["validation.md"]
    assert re.search("the next set", (out / "00_next.code.html").read_text())
