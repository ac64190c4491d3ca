"""A job's registration commits with it (issue 22), tried the way a failing machine would:

- a Celery worker SIGKILLed right after the compiled version's row appeared (``MLGATE_TEST_PAUSE_DIR``
  holds it at that step) leaves nothing that serves; ``mlgate jobs gc`` removes the version, its artifact
  folder and the worker's staging folder; a retry registers;
- a queued job whose message a restarted redis-server (no persistence) lost is dispatched again after its
  lease and runs; with the broker down it fails instead, and the repeated call gets a fresh job;
- a full (then read-only) artifact store is named as such to the caller, with no path and no file left.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from mlgate.compose import App, compose
from mlgate.config import Settings
from mlgate.server.app import build_server
from mlgate.serving.runtime import Runtime
from tests._support import await_until, mlgate_env, tool_payload, wait_until
from tests._support.jobs import versions
from tests.scaleout.services import SkipService, spawn, stop

pytestmark = pytest.mark.anyio
LEASE_S = 10.0  # generous: a loaded 2-core machine can starve a heartbeat for seconds
ROW = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}


def _home(tmp: Path) -> Path:
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    from mlgate.models.registrar import Registrar

    home = tmp / "home"
    settings = Settings(home=home)
    settings.ensure_home()
    x, y = load_iris(return_X_y=True)
    est = LogisticRegression(max_iter=500).fit(x, y)
    names = list(ROW)
    Registrar(settings).register_sklearn("jc-iris", est, x, names, {"accuracy": 0.9}, alias="production")
    return home


def _tree(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*")) if root.exists() else []


@pytest.fixture
def redis() -> Iterator[Any]:
    pytest.importorskip("celery", reason="pip install -e '.[jobs]' (celery[redis])")
    from tests.jobs.redis import Redis

    try:
        server = Redis()
    except SkipService as exc:
        pytest.skip(str(exc))
    try:
        yield server
    finally:
        server.stop()


def _worker(home: Path, broker: str, log: Path, **extra: str) -> subprocess.Popen[bytes]:
    env = mlgate_env(
        home, MLGATE_JOBS_BROKER=broker, MLGATE_JOB_LEASE_S=str(LEASE_S), TMPDIR=str(home), **extra
    )
    proc = spawn([sys.executable, "-m", "mlgate", "worker", "--concurrency", "1"], log, env=env)

    def text() -> str:
        return log.read_text(errors="replace") if log.exists() else ""

    def ready() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(f"worker exited: {text()[-2000:]}")
        return " ready." in text()

    try:
        wait_until(ready, 120, every=0.1, what=lambda: f"the worker is ready: {text()[-2000:]}")
    except BaseException:
        stop(proc)
        raise
    return proc


async def _call(c: Any, tool: str, args: dict[str, Any]) -> tuple[bool, Any]:
    return tool_payload(await c.call_tool(tool, args))


async def _until(c: Any, job_id: str, until: tuple[str, ...], timeout: float = 120) -> dict[str, Any]:
    seen: list[Any] = []

    async def ended() -> dict[str, Any] | None:
        err, out = await _call(c, "ml_job", {"job_id": job_id})
        assert not err, out
        seen[:] = [out]
        return dict(out["job"]) if out["job"]["status"] in until else None

    job: dict[str, Any] = await await_until(ended, timeout, every=0.1, what=lambda: f"job {until}: {seen}")
    return job


@contextlib.contextmanager
def _lease_ran_out(app: App) -> Iterator[None]:
    """This replica's job store reads its clock ``LEASE_S`` + 0.5 s on (a queued job's lease ran out), without
    waiting that long; its real clock again afterwards."""
    store = app.jobs.store
    later = time.time() + LEASE_S + 0.5
    store.clock = lambda: later
    try:
        yield
    finally:
        store.clock = time.time


async def _wait_file(path: Path, proc: subprocess.Popen[bytes], timeout: float = 180) -> str:
    def reached() -> bool:
        assert proc.poll() is None, "the worker died before the pause point"
        return path.exists()

    await await_until(reached, timeout, every=0.05, what=f"{path.name} reached")
    return path.read_text()


COMPILE = {"model": "jc-iris@1", "target": "onnx"}


async def test_a_worker_killed_after_the_version_row_appeared_leaves_nothing_that_serves(
    tmp_path: Path, redis: Any
) -> None:
    from mlflow import MlflowClient

    home = _home(tmp_path)
    settings = Settings(home=home)
    artifacts = _tree(home / "artifacts")
    pause = tmp_path / "pause"
    pause.mkdir()
    worker = _worker(home, redis.url, tmp_path / "w1.log", MLGATE_TEST_PAUSE_DIR=str(pause))
    rt = Runtime(
        Settings(home=home, jobs_broker=redis.url, job_wait_s=0, job_lease_s=LEASE_S, allow_latest=True)
    )
    try:
        async with Client(build_server(rt)) as c:
            err, out = await _call(c, "ml_compile", COMPILE)
            assert not err, out
            job_id = out["job"]["job_id"]
            pid = int(await _wait_file(pause / "version-created.reached", worker))
            assert pid == worker.pid
            row = MlflowClient(settings.tracking).get_model_version("jc-iris", "2")  # the row is there
            assert "mlgate.pending" in row.tags
            os.kill(pid, signal.SIGKILL)
            worker.wait(10)
            for ref in ("jc-iris@2", "jc-iris@latest"):  # nothing serves it, by number or by "latest"
                err, text = await _call(c, "ml_classify", {"model": ref, "features": [ROW]})
                assert err and "not fully registered" in text, text
            err, out = await _call(c, "ml_classify", {"model": "jc-iris@production", "features": [ROW]})
            assert not err and out["model"]["version"] == 1, out  # the version serving before still does
            done = await _until(c, job_id, ("interrupted", "succeeded", "failed"))
            assert done["status"] == "interrupted", done
        assert list((home / "staging").iterdir()), "the killed worker's staging folder is there"
        assert _tree(home / "artifacts") != artifacts

        gc = subprocess.run(
            [sys.executable, "-m", "mlgate", "jobs", "gc", "--json"],
            env=mlgate_env(home),
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert gc.returncode == 0, gc.stderr
        removed = json.loads(gc.stdout)["removed"]
        assert "version jc-iris@2" in removed and any(r.startswith("staging folder") for r in removed)
        assert versions(settings, "jc-iris") == [1]
        assert _tree(home / "artifacts") == artifacts  # the compiled files went with the version
        assert not list((home / "staging").iterdir())

        worker = _worker(home, redis.url, tmp_path / "w2.log")  # a retry on a fresh worker registers
        async with Client(build_server(rt)) as c:
            err, out = await _call(c, "ml_compile", COMPILE)
            assert not err, out
            done = await _until(c, out["job"]["job_id"], ("interrupted", "succeeded", "failed"))
            assert done["status"] == "succeeded", done
            ref = done["result"]["registered"]
            err, out = await _call(c, "ml_classify", {"model": ref, "features": [ROW]})
            assert not err, out
        assert versions(settings, "jc-iris") == [1, int(ref.split("@")[1])]
        assert not list((home / "staging").iterdir())
    finally:
        stop(worker)
        await rt.aclose()


async def test_a_queued_job_whose_message_a_redis_restart_lost_is_dispatched_again(
    tmp_path: Path, redis: Any
) -> None:
    import redis as redis_client

    home = _home(tmp_path)
    rt = Runtime(Settings(home=home, jobs_broker=redis.url, job_wait_s=0, job_lease_s=LEASE_S))
    app = compose(rt)
    queue = redis_client.Redis(port=redis.port)
    worker = None
    try:
        async with Client(build_server(app)) as c:
            err, out = await _call(c, "ml_compile", COMPILE)  # no worker yet: it stays queued
            assert not err and out["job"]["status"] == "queued", out
            job_id = out["job"]["job_id"]
            assert queue.llen("mlgate-jobs") == 1
            redis.restart()  # no persistence: the message is gone, the job row still says queued
            assert queue.llen("mlgate-jobs") == 0
            with _lease_ran_out(app):
                err, out = await _call(c, "ml_job", {"job_id": job_id})  # a read reaps: sent again
            assert not err and out["job"]["status"] == "queued", out
            assert "dispatched again" in (out["job"]["progress"]["message"] or ""), out
            assert queue.llen("mlgate-jobs") == 1
            err, out = await _call(c, "ml_compile", COMPILE)  # the same call: the live job, not a stuck one
            assert not err and out["job"]["job_id"] == job_id, out
            worker = _worker(home, redis.url, tmp_path / "w.log")
            done = await _until(c, job_id, ("interrupted", "succeeded", "failed"))
            assert done["status"] == "succeeded", done
    finally:
        if worker is not None:
            stop(worker)
        await rt.aclose()


async def test_a_queued_job_is_failed_when_its_broker_is_gone_and_the_repeated_call_gets_a_fresh_one(
    tmp_path: Path, redis: Any
) -> None:
    home = _home(tmp_path)
    rt = Runtime(Settings(home=home, jobs_broker=redis.url, job_wait_s=0, job_lease_s=LEASE_S))
    app = compose(rt)
    try:
        async with Client(build_server(app)) as c:
            err, out = await _call(c, "ml_compile", COMPILE)
            assert not err and out["job"]["status"] == "queued", out
            job_id = out["job"]["job_id"]
            stop(redis.proc)  # gone, with its queue
            with _lease_ran_out(app):
                err, out = await _call(c, "ml_job", {"job_id": job_id})
            assert not err and out["job"]["status"] == "failed", out
            assert "broker is unreachable" in out["job"]["error"], out
            redis.restart()
            err, out = await _call(c, "ml_compile", COMPILE)
            assert not err and out["job"]["job_id"] != job_id and out["job"]["status"] == "queued", out
    finally:
        await rt.aclose()


@contextlib.contextmanager
def _tmpfs(path: Path, size: str) -> Iterator[None]:
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs as the artifact store needs root")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode(errors='replace')[-300:]}")
    try:
        yield
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def _fill(folder: Path) -> Path:
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError as exc:
        assert exc.errno == errno.ENOSPC
    finally:
        os.close(fd)
    return filler


async def test_a_full_or_read_only_artifact_store_is_named_and_leaves_no_file(tmp_path: Path) -> None:
    store = tmp_path / "home" / "artifacts"
    with _tmpfs(store, "8m"):
        home = _home(tmp_path)
        _fill(store)
        before = _tree(store)
        rt = Runtime(Settings(home=home, job_wait_s=300))
        try:
            async with Client(build_server(rt)) as c:
                err, text = await _call(c, "ml_compile", COMPILE)
                assert err and "no space left on device in the artifact store" in text, text
                assert str(tmp_path) not in text and "OSError" not in text, text
                assert _tree(store) == before  # no 0-byte MLmodel, no half-written folder
                assert versions(Settings(home=home), "jc-iris") == [1]
                (store / "filler").unlink()
                subprocess.run(["mount", "-o", "remount,ro", str(store)], check=True)
                before = _tree(store)
                err, text = await _call(c, "ml_compile", COMPILE)
                assert err and "the artifact store is read-only" in text, text
                assert str(tmp_path) not in text, text
            assert _tree(store) == before
            assert versions(Settings(home=home), "jc-iris") == [1]
            assert not list((home / "staging").iterdir())
        finally:
            await rt.aclose()
