"""Throw-away PostgreSQL and MariaDB servers for the DevLake tests (and its benchmark).

Each server runs from Debian's binaries on a fresh data directory in a short temporary
directory (unix socket paths must stay under ~100 bytes), listens on that socket only, and is
stopped and deleted afterwards. PostgreSQL refuses to run as root: as root (CI), it runs as the
``postgres`` user (``setpriv``) on a directory handed to that user.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path


def postgres_bin() -> Path | None:
    """The newest PostgreSQL server binaries installed, if any."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"), key=_version)
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb and shutil.which("postgres") else None


def _version(path: str) -> int:
    part = Path(path).parts[-3]
    return int(part) if part.isdigit() else 0


def mariadb_bin() -> tuple[str, str] | None:
    """``(mariadb-install-db, mariadbd)`` if installed."""
    install = shutil.which("mariadb-install-db") or shutil.which("mysql_install_db")
    server = next(
        (
            p
            for p in ("mariadbd", "/usr/sbin/mariadbd", "mysqld", "/usr/sbin/mysqld")
            if shutil.which(p)
        ),
        None,
    )
    return (install, shutil.which(server)) if install and server else None


def _wait(ready, what: str, process: subprocess.Popen, log: Path, seconds: float = 180) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited ({process.returncode}): {log.read_text()[-2000:]}")
        if ready():
            return
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not start in {seconds:.0f} s: {log.read_text()[-2000:]}")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()  # both servers shut down cleanly on SIGTERM
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """Start PostgreSQL; yield the SQLAlchemy URL of its ``postgres`` database (user ``cts``)."""
    binaries = postgres_bin()
    if binaries is None:
        raise RuntimeError("PostgreSQL is not installed (Debian: apt-get install postgresql)")
    root = Path(tempfile.mkdtemp(prefix="cts-pg-", dir="/tmp"))
    prefix: list[str] = []
    if os.geteuid() == 0:  # postgres refuses root: run it as the postgres user
        user = pwd.getpwnam("postgres")
        os.chown(root, user.pw_uid, user.pw_gid)
        prefix = ["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--clear-groups"]
    data, log = root / "data", root / "log"
    process = None
    try:
        subprocess.run(
            [
                *prefix,
                str(binaries / "initdb"),
                "-D",
                str(data),
                "-U",
                "cts",
                "--auth=trust",
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C",
            ],
            check=True,
            capture_output=True,
            cwd=root,
        )
        with open(log, "w") as out:
            os.chmod(log, 0o666)
            process = subprocess.Popen(
                [
                    *prefix,
                    str(binaries / "postgres"),
                    "-D",
                    str(data),
                    "-k",
                    str(root),
                    "-c",
                    "listen_addresses=",
                    "-c",
                    "fsync=off",
                    "-c",
                    "full_page_writes=off",
                    "-c",
                    "synchronous_commit=off",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=root,
            )
        socket = root / ".s.PGSQL.5432"
        _wait(socket.exists, "postgres", process, log)
        ready = [str(binaries / "pg_isready"), "-q", "-h", str(root), "-U", "cts"]
        _wait(lambda: subprocess.run(ready).returncode == 0, "postgres", process, log)
        yield f"postgresql+psycopg://cts@/postgres?host={root}"
    finally:
        if process is not None:
            _stop(process)
        shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def mariadb_server() -> Iterator[str]:
    """Start MariaDB; yield the SQLAlchemy URL of its server as ``root`` (no database)."""
    binaries = mariadb_bin()
    if binaries is None:
        raise RuntimeError("MariaDB is not installed (Debian: apt-get install mariadb-server)")
    install, server = binaries
    root = Path(tempfile.mkdtemp(prefix="cts-my-", dir="/tmp"))
    data, log, socket = root / "data", root / "log", root / "sock"
    user = ["--user=root"] if os.geteuid() == 0 else []
    process = None
    try:
        subprocess.run(
            [
                install,
                "--no-defaults",
                f"--datadir={data}",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
                *user,
            ],
            check=True,
            capture_output=True,
            cwd=root,
        )
        with open(log, "w") as out:
            process = subprocess.Popen(
                [
                    server,
                    "--no-defaults",
                    f"--datadir={data}",
                    f"--socket={socket}",
                    "--skip-networking",
                    f"--pid-file={root / 'pid'}",
                    "--innodb-flush-log-at-trx-commit=0",
                    "--skip-log-bin",
                    *user,
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=root,
            )
        _wait(socket.exists, "mariadbd", process, log)
        yield f"mysql+pymysql://root@localhost/?unix_socket={socket}"
    finally:
        if process is not None:
            _stop(process)
        shutil.rmtree(root, ignore_errors=True)
