"""Database credentials never reach the terminal: not on success, not on failure, not from a URL
that does not parse (``cts build-panel --devlake URL OUT``, stdout and stderr captured)."""

import socket
import sys
from pathlib import Path

import pytest

from cts.cli import main

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sources"))
from devlake_schema import PROJECT, devlake_org, load  # noqa: E402
from devlake_servers import postgres_bin, postgres_server  # noqa: E402

import cts  # noqa: E402

pytest.importorskip("sqlalchemy")
from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

SECRET = "S3cret-Pw"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(capsys, url: str, out: Path) -> tuple[int, str]:
    code = main(["build-panel", "--devlake", url, str(out), "--project", PROJECT])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


@pytest.fixture(scope="module")
def lake():
    """A PostgreSQL server (trust authentication: any password is accepted) holding a small
    simulated DevLake database ``lake``; yields (socket folder, URL without password)."""
    if postgres_bin() is None:
        pytest.skip("PostgreSQL is not installed")
    sim = cts.simulate_org(8, 16, seed=3)
    org = devlake_org(sim.events, last_day=sim.panel["week"].max())
    with postgres_server() as server:
        admin = create_engine(server, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text("CREATE DATABASE lake"))
        admin.dispose()
        url = make_url(server).set(database="lake")
        engine = create_engine(url)
        load(engine, org.tables)
        engine.dispose()
        yield url.query["host"]


@pytest.mark.parametrize(
    "password_part, query_part, secrets",
    [
        (f":{SECRET}", "", [SECRET]),
        ("", f"&password={SECRET}", [SECRET]),
        (":p%40ss%3Aw%2Frd", "", ["p@ss:w/rd", "p%40ss", "ss%3A"]),  # `@`, `:`, `/` encoded
    ],
    ids=["in-userinfo", "query-parameter", "at-sign-encoded"],
)
def test_a_successful_build_prints_host_and_database_but_no_password(
    lake, tmp_path, capsys, password_part, query_part, secrets
):
    url = f"postgresql+psycopg://cts{password_part}@/lake?host={lake}{query_part}"
    code, printed = _run(capsys, url, tmp_path / "panel.parquet")
    assert code == 0, printed
    assert f"from DevLake {lake}/lake in" in printed
    for secret in secrets:
        assert secret not in printed
    assert "cts@" not in printed and "password" not in printed


@pytest.mark.parametrize("scheme", ["postgresql", "mysql"])
@pytest.mark.parametrize("where", ["userinfo", "query"])
def test_an_unreachable_server_names_host_and_database_but_no_password(
    tmp_path, capsys, scheme, where
):
    port = _free_port()
    if where == "userinfo":
        url = f"{scheme}://cts:{SECRET}@127.0.0.1:{port}/lake"
    else:
        url = f"{scheme}://cts@127.0.0.1:{port}/lake?password={SECRET}"
    code, printed = _run(capsys, url, tmp_path / "panel.parquet")
    assert code == 2
    assert f"127.0.0.1:{port}/lake" in printed and "cannot connect" in printed
    assert SECRET not in printed and "Traceback" not in printed


@pytest.mark.parametrize(
    "url, words, secrets",
    [
        # SQLAlchemy reads `ss:word@localhost` as host:port and fails on the port.
        ("postgresql://cts:p@ss:word@localhost/lake", "does not parse", ["ss:word", "p@ss"]),
        # ... or `ss@localhost` as the host, and would have printed `ss@localhost/lake`.
        ("mysql://cts:p@ss@localhost:3306/lake", "unencoded `@`", ["p@ss", "ss@"]),
        ("postgresql://cts:" + SECRET + "@localhost:fivefour/lake", "port is not a number",
         [SECRET, "fivefour"]),
        ("postgresql:/cts:" + SECRET + "@@", "not a database URL", [SECRET]),
    ],
    ids=["at-and-colon", "at-only", "port-not-a-number", "not-a-url"],
)  # fmt: skip
def test_a_url_that_does_not_parse_is_one_plain_error_without_the_secret(
    tmp_path, capsys, url, words, secrets
):
    code, printed = _run(capsys, url, tmp_path / "panel.parquet")
    assert code == 2
    assert words in printed and printed.count("cts build-panel:") == 1
    assert "Traceback" not in printed and "ValueError" not in printed
    for secret in secrets:
        assert secret not in printed
