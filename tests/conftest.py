"""Shared fixtures: a real Dask LocalCluster with worker processes, and CLI helpers."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import settings

# CI runs the property tests on a fixed set of examples (the same every run, so a landing is
# not decided by luck); elsewhere they explore new examples each time.
settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("TELECRUNCH_CI"):
    settings.load_profile("ci")

ROOT = Path(__file__).resolve().parent.parent
DEMO_SCHEMA = ROOT / "jobs" / "demo_schema.yaml"
TELECRUNCH = [sys.executable, "-m", "telecrunch.cli"]


@pytest.fixture(scope="session")
def cluster_address():
    """Scheduler address of a LocalCluster with 2 worker processes, shared by the session."""
    from distributed import LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                           silence_logs=logging.CRITICAL, dashboard_address=None)
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close()


def run_cli(*args: object, timeout: float = 300,
            cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run the telecrunch CLI in a fresh process; returns the completed process."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run([*TELECRUNCH, *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, cwd=cwd or ROOT, env=env)
