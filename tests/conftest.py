"""Shared fixtures: one real MLflow registry (SQLite) seeded with the demo models per test session."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mlgate.config import Settings
from tests._support import free_port, mlflow_db, mlgate_env, spawn_server, wait_http

# Tiers. A test is in the in-process tier (`make check`) unless one of these marks applies; each is
# applied here by folder, by fixture or by what the test module starts, never by hand per test.
FOLDER_MARKS = {
    "clients": ("node", "subprocess"),
    "conformance": ("node", "subprocess"),
    "console": ("browser", "subprocess"),
    "scaleout": ("postgres", "subprocess"),
}
SPAWNS = (
    "spawn_server(",
    "subprocess.",
    "Popen(",
    "uvicorn",
    "redis_server(",
    "sync_playwright",
    "serve_http(",
    # what tests/_support starts when a test module calls it: `mlgate token`, uvicorn in a thread, a scale-out
    # replica, npm and Node
    "mint(",
    "LiveServer(",
    "Replica(",
    "ensure_suite(",
)
# a module that runs Node from the npm cache (tests/_support/node.py) is in the node tier, wherever it is
NODE_USES = ("ensure_clients(",)
# in process but slow: what trains a model to the end for seconds (`make test` runs them, `make check` does not),
# by test id under tests/
SLOW = {
    # the refit of tests/jobs' deliberately slow MLP: to completion (a minute on a busy 2-core machine), or
    # until it is cancelled mid-fit (5-10 s each)
    "jobs/test_inprocess.py::test_past_the_budget_the_call_returns_a_handle_and_ml_job_returns_the_result",
    "jobs/test_inprocess.py::test_cancelling_a_running_retrain_registers_nothing",
    "jobs/test_inprocess.py::test_a_cancelled_call_cancels_its_job",
}
_spawns: dict[Any, bool] = {}
# the native thread pools of NumPy's BLAS, OpenMP (LightGBM, XGBoost, scikit-learn) and torch, per xdist worker
THREAD_POOLS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist, one native thread per worker: each library otherwise starts a thread per core in
    every worker, and the oversubscribed cores made the in-process tier 1.6x dearer in CPU (186 s of user time
    against 118 s, `-n 2` on two cores). Set in the controller, before the workers start, so they inherit it.
    """
    workers = getattr(config.option, "numprocesses", None)
    if workers and not hasattr(config, "workerinput"):
        for name in THREAD_POOLS:
            os.environ.setdefault(name, "1")


def _spawns_in(key: Any, text: Callable[[], str]) -> bool:
    """Whether a test module or a fixture function starts a process (its source names a way to)."""
    if key not in _spawns:
        try:
            _spawns[key] = any(s in text() for s in SPAWNS)
        except (OSError, TypeError):
            _spawns[key] = False
    return _spawns[key]


@functools.cache
def _uses_node(path: Path) -> bool:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return False
    return any(s in text for s in NODE_USES)


def _fixture_spawns(item: pytest.Item) -> bool:
    import inspect

    info = getattr(item, "_fixtureinfo", None)
    defs = info.name2fixturedefs.values() if info is not None else ()
    return any(_spawns_in(d.func, functools.partial(inspect.getsource, d.func)) for ds in defs for d in ds)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    root = Path(__file__).resolve().parent
    for item in items:
        path = Path(str(item.fspath)).resolve()
        folder = path.relative_to(root).parts[0] if path.is_relative_to(root) else ""
        marks = set(FOLDER_MARKS.get(folder, ()))
        fixtures = set(getattr(item, "fixturenames", ()))
        if _spawns_in(path, functools.partial(Path.read_text, path, encoding="utf-8")) or _fixture_spawns(
            item
        ):
            marks.add("subprocess")
        if _uses_node(path):
            marks.add("node")
        if folder == "jobs" and "celery" in path.name:
            marks.add("redis")
        if "postgres" in path.name or "postgres" in fixtures or "pg_url" in fixtures:
            marks.add("postgres")
        if path.is_relative_to(root) and f"{path.relative_to(root).as_posix()}::{item.name}" in SLOW:
            marks.add("slow")
        for mark in sorted(marks):
            item.add_marker(mark)
        if group := _build_group(item, root):
            item.add_marker(pytest.mark.xdist_group(group))
            _suffix_for_loadgroup(config, item, group)


def _suffix_for_loadgroup(config: pytest.Config, item: pytest.Item, group: str) -> None:
    """pytest-xdist's ``--dist loadgroup`` reads a test's group from an ``@group`` suffix of its node id, which it
    writes to ``item._nodeid``. pytest 9.2 keeps the id in ``item._id``, so the suffix was lost and grouped tests
    were spread as if unmarked, each worker building the fixtures again (pytest-dev/pytest-xdist#1386). Write the
    suffix where this pytest reads it; older pytests have no ``_id`` and xdist's own suffix applies."""
    if not getattr(config.option, "loadgroup", False) or not hasattr(item, "_id"):
        return
    if "@" not in item.nodeid.rpartition("]")[2]:
        from _pytest.nodeid import NodeId

        item._id = NodeId.parse(f"{item.nodeid}@{group}")


# built once per session by every test session (each xdist worker): no group of their own
EVERYWHERE = {"demo_home", "anyio_backend"}


def _build_group(item: pytest.Item, root: Path) -> str | None:
    """The xdist group of a test that uses a module- or session-scoped fixture of this suite (a registry it
    seeds, models it trains): its tests run on one worker (`-n auto --dist loadgroup`), so the fixture is built
    once rather than once per worker. Named by the first such fixture; other tests are spread one by one."""
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return None
    for name in info.names_closure:
        defs = info.name2fixturedefs.get(name, ())
        if not defs or name in EVERYWHERE:
            continue
        fixture = defs[-1]
        source = Path(fixture.func.__code__.co_filename).resolve()
        if fixture.scope in ("module", "session") and source.is_relative_to(root):
            return f"{source.relative_to(root).parent.as_posix()}:{name}"
    return None


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def _migrated_mlflow_db(request: pytest.FixtureRequest) -> None:
    """A test's ``tmp_path`` starts with the ``mlflow.db`` MLflow would create there on first use, already
    migrated (``tests._support.mlflow_db``): most tests that use a registry use a fresh one there."""
    if "tmp_path" in request.fixturenames:
        mlflow_db(request.getfixturevalue("tmp_path"))


@pytest.fixture(scope="session")
def demo_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An MLGATE_HOME with the demo models registered (the real `mlgate demo` code path)."""
    from mlgate.demo import seed_demo

    home = tmp_path_factory.mktemp("mlgate-home")
    mlflow_db(home)
    settings = Settings(home=home)
    settings.ensure_home()
    seed_demo(settings, echo=lambda _m: None)
    return home


@pytest.fixture
def settings(demo_home: Path) -> Settings:
    return Settings(home=demo_home)


@pytest.fixture(scope="session")
def http_server(demo_home: Path) -> Iterator[str]:
    """A real `mlgate serve --http` process on 127.0.0.1; yields the MCP URL."""
    port = free_port()
    proc = spawn_server(["--http", "--host", "127.0.0.1", "--port", str(port)], mlgate_env(demo_home))
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(url + "/healthz", proc)
        yield url + "/mcp/ml"
    finally:
        proc.terminate()
        proc.wait(10)
