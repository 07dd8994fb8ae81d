"""Where tasks run: an embedded local Dask cluster by default, or any existing one.

``--cluster`` takes ``local`` (worker processes sized to the machine), ``threads`` (one process,
for small runs), ``sync`` (no Dask scheduler: tasks run one by one in this process, for
debugging), a scheduler address (``tcp://host:8786``), or a YAML spec file from ``cluster/``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import dask

from telecrunch.docio import read_document
from telecrunch.errors import JobError

# distributed starts workers with MALLOC_TRIM_THRESHOLD_=64 KiB, so every freed block buffer
# goes back to the OS and the next one faults in fresh pages, which costs more than making
# the block. Shard tasks allocate the same few MiB over and over: keep them in the process.
WORKER_MALLOC = {
    "MALLOC_TRIM_THRESHOLD_": 256 << 20,
    "MALLOC_MMAP_THRESHOLD_": 64 << 20,
    "OMP_NUM_THREADS": 1,
    "MKL_NUM_THREADS": 1,
    "OPENBLAS_NUM_THREADS": 1,
}

# What distributed spends by default on watching a cluster (a stack sample of every worker
# every 10 ms, an event-loop tick every 20 ms in every server, memory checks ten times a
# second, system figures twice): a sixth of one core of a 2-core machine, idle or busy, taken
# from the shard tasks. The clusters TeleCrunch starts run long CPU-bound tasks with nothing
# to spill: these are enough. A value the user has configured is left as it is.
QUIET_CLUSTER = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "1s",
    "distributed.admin.system-monitor.interval": "5s",
    "distributed.worker.memory.monitor-interval": "1s",
}


def embedded_config() -> dict[str, Any]:
    """Dask settings for a cluster TeleCrunch starts itself (see WORKER_MALLOC, QUIET_CLUSTER)."""
    defaults = dask.config.merge(*dask.config.defaults)
    settings: dict[str, Any] = {"distributed.nanny.pre-spawn-environ": WORKER_MALLOC}
    for key, value in QUIET_CLUSTER.items():
        if dask.config.get(key, None) == dask.config.get(key, None, config=defaults):
            settings[key] = value
    return settings


def start_local_cluster(workers: int, processes: bool = True, dashboard: str | None = ":0"):
    """A LocalCluster of ``workers`` single-thread processes (or one process of ``workers``
    threads) with TeleCrunch's settings; the caller closes it."""
    from distributed import LocalCluster

    # nannies put the workers' variables into this process's environment to spawn them, and
    # leave them there (OMP_NUM_THREADS=1, a fixed PYTHONHASHSEED, ... for whatever the caller
    # starts later); a nanny that restarts a worker sets them again
    saved = dict(os.environ)
    try:
        with dask.config.set(embedded_config()):
            if processes:
                return LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                    silence_logs=logging.CRITICAL, dashboard_address=dashboard)
            return LocalCluster(n_workers=1, threads_per_worker=workers, processes=False,
                                silence_logs=logging.CRITICAL, dashboard_address=dashboard)
    finally:
        for name in os.environ.keys() - saved.keys():
            del os.environ[name]
        os.environ.update(saved)


SPEC_KINDS = ("local", "threads", "address", "slurm", "pbs", "kubernetes")
# Cluster managers from other packages: kind -> (module, class, what to install).
EXTERNAL = {
    "slurm": ("dask_jobqueue", "SLURMCluster", "dask-jobqueue"),
    "pbs": ("dask_jobqueue", "PBSCluster", "dask-jobqueue"),
    "kubernetes": ("dask_kubernetes.operator", "KubeCluster", "dask-kubernetes"),
}


class SyncRunner:
    """Runs tasks one after the other in this process."""

    dashboard_link = None
    description = "in-process (sync)"
    threads = 1

    def run(self, fn: Callable, calls: Sequence[tuple[str, tuple]]) -> Iterator[Any]:
        for _key, args in calls:
            yield fn(*args)


class DaskRunner:
    """Submits one task per call to a distributed Client, yields results as they finish."""

    def __init__(self, client, description: str):
        self.client = client
        self.description = description

    @property
    def dashboard_link(self) -> str | None:
        try:
            import bokeh  # noqa: F401 - the dashboard needs it
        except ImportError:
            return None
        return self.client.dashboard_link

    @property
    def threads(self) -> int:
        """Worker threads the cluster has now (0 while a cluster being scaled has none)."""
        return sum(self.client.nthreads().values())

    def run(self, fn: Callable, calls: Sequence[tuple[str, tuple]]) -> Iterator[Any]:
        from distributed import as_completed

        if not calls:
            return
        # one graph for all the tasks: a submit per task cost the caller 0.3 ms each
        keys = [key for key, _ in calls]
        futures = self.client.map(fn, *zip(*(args for _, args in calls), strict=True), key=keys,
                                  pure=False)
        try:
            # results fetched in the background as tasks finish, not one round trip each
            for _future, result in as_completed(futures, with_results=True):
                yield result
        finally:
            pending = [f for f in futures if not f.done()]
            if pending:  # stopped early (an error, an interrupt): leave no work behind
                self._stop(pending)

    def _stop(self, pending: list) -> None:
        """Cancel what is left of the run and wait until no worker still runs, or may yet
        start, a task of it (a running task cannot be stopped), so that the caller's clean-up
        comes after its last write. With the scheduler gone there is nothing to wait for: the
        error that ended the run stands."""
        keys = [f.key for f in pending]
        try:
            self.client.cancel(pending)
            # twice in a row: a task sent to a worker just before the cancellation shows there
            # only once the worker has it
            quiet = 0
            while quiet < 2:
                held = self.client.run(unfinished_tasks, keys)
                quiet = 0 if any(held.values()) else quiet + 1
                time.sleep(0.02)
        except Exception:  # noqa: BLE001 - the run's own error matters more
            pass


# task states on a worker after which the task writes nothing more
FINISHED = frozenset({"memory", "error", "released", "forgotten"})


def unfinished_tasks(keys: Sequence[str], dask_worker=None) -> list[str]:
    """Which of ``keys`` a worker runs or may still run (``client.run`` passes the worker)."""
    tasks = dask_worker.state.tasks
    return [key for key in keys if key in tasks and tasks[key].state not in FINISHED]


def _read_spec(path: str) -> dict[str, Any]:
    doc = read_document(path, JobError)
    if not isinstance(doc, dict) or doc.get("kind") not in SPEC_KINDS:
        got = doc.get("kind") if isinstance(doc, dict) else doc
        raise JobError(f"{path}: kind", f"must be one of: {', '.join(SPEC_KINDS)}", got)
    return doc


def _looks_like_address(spec: str) -> bool:
    return "://" in spec or (":" in spec and spec.rsplit(":", 1)[1].isdigit())


@contextlib.contextmanager
def open_runner(spec: str = "local", workers: int | None = None) -> Iterator[Any]:
    """A runner for a ``--cluster`` value; closes what it started."""
    if spec == "sync":
        yield SyncRunner()
        return
    if spec.endswith((".yaml", ".yml")):
        if not Path(spec).is_file():
            raise JobError("cluster", "cluster spec file not found", spec)
        doc = _read_spec(spec)
        kind = doc["kind"]
        workers = doc.get("workers", workers)
        if kind == "address":
            with _connect(str(doc.get("address", ""))) as runner:
                yield runner
            return
        if kind in EXTERNAL:
            with _external(kind, doc, spec) as runner:
                yield runner
            return
        spec = kind
    if spec in ("local", "threads"):
        with _local(spec == "local", workers) as runner:
            yield runner
        return
    if _looks_like_address(spec):
        with _connect(spec) as runner:
            yield runner
        return
    raise JobError("cluster", "must be local, threads, sync, a scheduler address "
                   "(tcp://host:port) or a cluster spec file (.yaml)", spec)


@contextlib.contextmanager
def _local(processes: bool, workers: int | None) -> Iterator[DaskRunner]:
    from distributed import Client

    n = workers or os.cpu_count() or 1
    cluster = start_local_cluster(n, processes)
    text = f"local cluster, {n} worker processes" if processes else f"local threads, {n} threads"
    try:
        with Client(cluster) as client:
            yield DaskRunner(client, text)
    finally:
        cluster.close()


@contextlib.contextmanager
def _connect(address: str) -> Iterator[DaskRunner]:
    from distributed import Client

    if not address:
        raise JobError("cluster.address", "is required", has_got=False)
    current = _current_client(address)
    if current is not None:  # the caller's own client (a notebook's): used, and left open
        yield DaskRunner(current, f"scheduler {address}")
        return
    try:
        client = Client(address, timeout="10s")
    except (OSError, TimeoutError) as exc:
        raise JobError("cluster", f"no Dask scheduler answers ({exc.__class__.__name__})",
                       address) from None
    try:
        yield DaskRunner(client, f"scheduler {address}")
    finally:
        client.close()


def _current_client(address: str):
    """This process's default Dask client when it is connected to ``address``, else None:
    reusing it saves a connection and its closing (about 25 ms of each run here)."""
    from distributed import default_client

    try:
        client = default_client()
    except ValueError:  # none
        return None
    want = address if "://" in address else f"tcp://{address}"
    return client if client.status == "running" and client.scheduler.address == want else None


@contextlib.contextmanager
def _external(kind: str, doc: dict[str, Any], path: str) -> Iterator[DaskRunner]:
    """A cluster manager from dask-jobqueue or dask-kubernetes, configured by the spec."""
    import importlib

    from distributed import Client

    module_name, class_name, package = EXTERNAL[kind]
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        raise JobError(f"{path}: kind", f"needs the {package} package (pip install {package})",
                       kind) from None
    options = doc.get("options", {})
    if not isinstance(options, dict):
        raise JobError(f"{path}: options", "must be a mapping of keyword arguments", options)
    cluster = getattr(module, class_name)(**options)
    try:
        if doc.get("scale"):
            cluster.scale(**doc["scale"])
        with Client(cluster) as client:
            yield DaskRunner(client, f"{kind} cluster ({path})")
    finally:
        cluster.close()
