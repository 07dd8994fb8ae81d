"""A real InfluxDB 1.x server for the tests: ``influxd`` on 127.0.0.1, data in a temp folder.

Import the ``influxdb`` fixture into a test module. Without ``influxd`` on the PATH the tests
that use it are skipped, or fail when ``TELECRUNCH_REQUIRE_INFLUXDB=1`` (as ``.ci/run`` sets).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

REQUIRE = "TELECRUNCH_REQUIRE_INFLUXDB"
START_TIMEOUT_S = 60
#: InfluxDB's default limit on a /write body.
MAX_BODY = 25_000_000


@dataclass
class InfluxServer:
    """A running influxd, talked to over HTTP with the standard library."""

    url: str
    log: Path

    def write(self, db: str, body: bytes) -> tuple[int, bytes]:
        """POST line protocol to /write with ns precision: (HTTP status, response body)."""
        query = urllib.parse.urlencode({"db": db, "precision": "ns"})
        request = urllib.request.Request(f"{self.url}/write?{query}", data=body, method="POST")
        return _send(request)

    def query(self, q: str, db: str = "") -> list[dict]:
        """Run InfluxQL; the results, each with its series. Raise if a statement failed."""
        params = {"q": q, "epoch": "ns"}
        if db:
            params["db"] = db
        request = urllib.request.Request(f"{self.url}/query",
                                         data=urllib.parse.urlencode(params).encode(),
                                         method="POST")
        status, body = _send(request)
        answer = json.loads(body)
        errors = [r["error"] for r in answer.get("results", []) if "error" in r]
        if status != 200 or "error" in answer or errors:
            raise AssertionError(f"query {q!r} failed: HTTP {status} {body[:500]!r}")
        return answer["results"]

    def create_database(self, db: str) -> None:
        self.query(f'CREATE DATABASE "{db}"')


def _send(request: urllib.request.Request) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _config(root: Path, http_port: int, rpc_port: int) -> str:
    # The top-level bind-address is the RPC service for backup/restore, 8088 by default:
    # pinned to a free local port so parallel runs and a system influxd do not collide.
    return f"""\
reporting-disabled = true
bind-address = "127.0.0.1:{rpc_port}"

[meta]
  dir = "{root / 'meta'}"

[data]
  dir = "{root / 'data'}"
  wal-dir = "{root / 'wal'}"
  query-log-enabled = false

[http]
  enabled = true
  bind-address = "127.0.0.1:{http_port}"
  auth-enabled = false
  log-enabled = false
  max-row-limit = 0
  max-body-size = {MAX_BODY}

[monitor]
  store-enabled = false

[continuous_queries]
  enabled = false
"""


def _missing(reason: str) -> None:
    if os.environ.get(REQUIRE) == "1":
        pytest.fail(f"{reason}, and {REQUIRE}=1 requires it")
    pytest.skip(f"{reason} (install it with `apt-get install influxdb`; "
                f"{REQUIRE}=1 turns this skip into a failure)")


def _wait_ready(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"influxd exited with status {process.returncode}:\n"
                               f"{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/ping", timeout=2) as response:
                if response.status == 204:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"influxd did not answer /ping in {START_TIMEOUT_S} s:\n"
                       f"{log.read_text()[-3000:]}")


@pytest.fixture(scope="session")
def influxdb(tmp_path_factory: pytest.TempPathFactory):
    """A fresh InfluxDB 1.x server for the session; stopped (and its data dropped) at the end."""
    binary = shutil.which("influxd")
    if binary is None:
        _missing("influxd (InfluxDB 1.x) is not installed")
    root = tmp_path_factory.mktemp("influxdb")
    http_port, rpc_port = _free_port(), _free_port()
    config = root / "influxdb.conf"
    config.write_text(_config(root, http_port, rpc_port))
    log = root / "influxd.log"
    url = f"http://127.0.0.1:{http_port}"
    with open(log, "wb") as out:
        process = subprocess.Popen([binary, "run", "-config", str(config)], stdout=out,
                                   stderr=subprocess.STDOUT, env={**os.environ, "HOME": str(root)})
    try:
        _wait_ready(url, process, log)
        yield InfluxServer(url, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
