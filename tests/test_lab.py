"""`make lab` starts JupyterLab on the notebooks, as root too, and serves them."""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _contents(port: int, token: str) -> dict | None:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/contents", headers={"Authorization": f"token {token}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=2) as response:
            return json.load(response)
    except OSError:
        return None


def test_make_lab_serves_the_notebooks(tmp_path):
    port, token = _free_port(), secrets.token_hex(16)
    options = (
        f"--port={port} --ip=127.0.0.1 --no-browser --IdentityProvider.token={token} "
        f"--ServerApp.root_dir={ROOT / 'notebooks'}"
    )
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path), "HOME": str(tmp_path)}
    server = subprocess.Popen(
        ["make", "-s", "-C", str(ROOT), "lab", f"LAB_ARGS={options}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,  # make, jupyter and its kernels die together below
    )
    try:
        listing, deadline = None, time.monotonic() + 90
        while listing is None and time.monotonic() < deadline and server.poll() is None:
            time.sleep(0.5)
            listing = _contents(port, token)
        log = "" if listing else server.communicate(timeout=5)[0].decode(errors="replace")
        assert listing is not None, f"JupyterLab did not answer on 127.0.0.1:{port}:\n{log}"
        names = {item["name"] for item in listing["content"]}
        assert {p.name for p in (ROOT / "notebooks").glob("*.ipynb")} <= names
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
